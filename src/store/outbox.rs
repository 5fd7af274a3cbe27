//! E-mails to send, written in the transaction of the event that causes them, and the mail
//! worker's side: taking the due ones, marking them sent, or scheduling a retry.

use serde_json::Value;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::{
        access::{Grant, ManageSettings, Role},
        notifications::{Topic, next_digest},
    },
};

/// Queues one message per address of the application's parties: the chosen lawyer (e-mail,
/// else PEC) and the applicant's e-mail when they gave one. A lawyer with an account gets a
/// choosable notice as they chose (at once, in the morning digest, or not at all). Returns
/// how many were queued.
pub async fn to_parties(
    tx: &mut TenantTx,
    event_id: Option<i64>,
    application: Uuid,
    template: &str,
    payload: &Value,
) -> anyhow::Result<u64> {
    let tenant = tx.tenant().0;
    let topic = Topic::of(Role::Avvocato, template).map(Topic::code);
    Ok(sqlx::query(
        "INSERT INTO outbox (tenant_id, event_id, application_id, recipient, recipient_kind,
                             template, payload, via_pec, digest, next_attempt_at)
         SELECT DISTINCT $1::uuid, $2::bigint, $3::uuid, r, kind, $4, $5, via_pec,
                delivery = 'riepilogo', CASE WHEN delivery = 'riepilogo' THEN $7 ELSE now() END
           FROM (
             SELECT COALESCE(l.email, l.pec) AS r, 'avvocato' AS kind,
                    l.email IS NULL AS via_pec,
                    COALESCE((SELECT c.delivery FROM users u
                                JOIN mail_choices c ON c.user_id = u.id AND c.topic = $6
                               WHERE u.lawyer_id = l.id AND u.status = 'attivo'), 'subito')
                        AS delivery
               FROM applications a JOIN lawyers l ON l.id = a.lawyer_id WHERE a.id = $3
             UNION
             SELECT applicant_email, 'richiedente', false, 'subito'
               FROM applications WHERE id = $3
         ) recipients WHERE r IS NOT NULL AND r <> '' AND delivery <> 'mai'",
    )
    .bind(tenant)
    .bind(event_id)
    .bind(application)
    .bind(template)
    .bind(payload)
    .bind(topic)
    .bind(next_digest(chrono::Utc::now()))
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// Queues one message to an account of the Ordine (a councillor given a case, say), as they
/// chose for a choosable notice (a new assignment): at once, in the morning digest, or not at all.
pub async fn to_user(
    tx: &mut TenantTx,
    event_id: Option<i64>,
    application: Uuid,
    user: Uuid,
    template: &str,
    payload: &Value,
) -> anyhow::Result<u64> {
    to_accounts(tx, event_id, application, Some(user), template, payload).await
}

/// Queues one message to each active account of the Ordine's secretariat, as each chose.
pub async fn to_secretariat(
    tx: &mut TenantTx,
    event_id: Option<i64>,
    application: Uuid,
    template: &str,
    payload: &Value,
) -> anyhow::Result<u64> {
    to_accounts(tx, event_id, application, None, template, payload).await
}

/// One account (`Some`; what it may choose is a councillor's) or every secretariat account
/// (`None`; what the secretariat may choose).
async fn to_accounts(
    tx: &mut TenantTx,
    event_id: Option<i64>,
    application: Uuid,
    user: Option<Uuid>,
    template: &str,
    payload: &Value,
) -> anyhow::Result<u64> {
    let tenant = tx.tenant().0;
    let role = if user.is_some() {
        Role::Consigliere
    } else {
        Role::Segreteria
    };
    let topic = Topic::of(role, template).map(Topic::code);
    Ok(sqlx::query(
        "INSERT INTO outbox (tenant_id, event_id, application_id, recipient, template, payload,
                             digest, next_attempt_at)
         SELECT $1, $2, $3, email, $4, $5, delivery = 'riepilogo',
                CASE WHEN delivery = 'riepilogo' THEN $8 ELSE now() END
           FROM (SELECT u.email, COALESCE(c.delivery, 'subito') AS delivery
                   FROM users u
                   LEFT JOIN mail_choices c ON c.user_id = u.id AND c.topic = $7
                  WHERE u.status = 'attivo'
                    AND CASE WHEN $6::uuid IS NULL
                             THEN EXISTS (SELECT 1 FROM user_roles r
                                           WHERE r.user_id = u.id AND r.role = 'segreteria')
                             ELSE u.id = $6 END) u
          WHERE delivery <> 'mai'",
    )
    .bind(tenant)
    .bind(event_id)
    .bind(application)
    .bind(template)
    .bind(payload)
    .bind(user)
    .bind(topic)
    .bind(next_digest(chrono::Utc::now()))
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// A message due to be sent.
#[derive(Debug, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub recipient: String,
    pub recipient_kind: String,
    pub template: String,
    pub payload: Value,
    pub attempts: i32,
    /// `None` for account e-mails.
    pub application_id: Option<Uuid>,
    /// Goes in the recipient's morning digest.
    pub digest: bool,
    /// To a PEC address, through the Ordine's PEC provider when it has one.
    pub via_pec: bool,
}

/// The Ordine's messages due now, locked until the transaction ends (another worker skips
/// them): for each application and recipient only the oldest one waiting, so that they
/// arrive in the order they were written even when a sending fails and is retried.
pub async fn take_due(tx: &mut TenantTx, limit: i64) -> anyhow::Result<Vec<Due>> {
    Ok(sqlx::query_as(
        "SELECT o.id, o.recipient, o.recipient_kind, o.template, o.payload, o.attempts,
                o.application_id, o.digest, o.via_pec
           FROM outbox o
          WHERE o.status = 'in_attesa' AND o.next_attempt_at <= now()
            AND NOT EXISTS (
                SELECT 1 FROM outbox p
                 WHERE p.status = 'in_attesa' AND p.id < o.id AND p.recipient = o.recipient
                   AND p.application_id IS NOT DISTINCT FROM o.application_id
                   -- a digest waits for the morning; what is urgent does not wait for it
                   AND NOT p.digest)
          ORDER BY o.id
          LIMIT $1
          FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// The Ordine's messages waiting to be sent (retries included), counted, with the age of the
/// oldest.
pub async fn backlog(tx: &mut TenantTx) -> anyhow::Result<crate::store::events::Waiting> {
    Ok(sqlx::query_as(
        "SELECT count(*) AS count,
                extract(epoch FROM now() - min(created_at))::float8 AS oldest_age_seconds
           FROM outbox WHERE status = 'in_attesa'",
    )
    .fetch_one(tx.conn())
    .await?)
}

/// Marks a message sent; the secret it carried (an account link, a draft's PIN) is forgotten:
/// the e-mail has it now.
pub async fn mark_sent(tx: &mut TenantTx, id: i64, message_id: &str) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET status = 'inviato', sent_at = now(), message_id = $2,
                attempts = attempts + 1, last_error = NULL,
                payload = payload - 'percorso' - 'pin'
          WHERE id = $1",
    )
    .bind(id)
    .bind(message_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A failed sending: retried after `retry_in`, or with `None` set aside as undeliverable.
pub async fn mark_failed(
    tx: &mut TenantTx,
    id: i64,
    error: &str,
    retry_in: Option<std::time::Duration>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, last_error = $2,
                status = CASE WHEN $3::float8 IS NULL THEN 'non_recapitabile' ELSE 'in_attesa' END,
                next_attempt_at = now() + make_interval(secs => COALESCE($3::float8, 0))
          WHERE id = $1",
    )
    .bind(id)
    .bind(error)
    .bind(retry_in.map(|d| d.as_secs_f64()))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A message of the outgoing queue, as the Ordine's administrator sees it.
#[derive(Debug, sqlx::FromRow)]
pub struct Queued {
    pub id: i64,
    pub recipient: String,
    pub template: String,
    pub code: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// How many messages are waiting, sent and undeliverable.
#[derive(Debug, Default, sqlx::FromRow)]
pub struct QueueCounts {
    pub waiting: i64,
    pub sent: i64,
    pub undelivered: i64,
}

pub async fn counts(
    tx: &mut TenantTx,
    _grant: &Grant<ManageSettings>,
) -> anyhow::Result<QueueCounts> {
    Ok(sqlx::query_as(
        "SELECT count(*) FILTER (WHERE status = 'in_attesa') AS waiting,
                count(*) FILTER (WHERE status = 'inviato') AS sent,
                count(*) FILTER (WHERE status = 'non_recapitabile') AS undelivered
           FROM outbox",
    )
    .fetch_one(tx.conn())
    .await?)
}

/// The messages with `status` (`in_attesa`, `inviato`, `non_recapitabile`): the waiting ones
/// oldest first (next to go), the others most recent first; at most `limit`.
pub async fn with_status(
    tx: &mut TenantTx,
    _grant: &Grant<ManageSettings>,
    status: &str,
    limit: i64,
) -> anyhow::Result<Vec<Queued>> {
    let order = if status == "in_attesa" {
        "id ASC"
    } else {
        "id DESC"
    };
    Ok(sqlx::query_as(&format!(
        "SELECT id, recipient, template, payload->>'codice' AS code, attempts, last_error,
                created_at, next_attempt_at, sent_at
           FROM outbox WHERE status = $1 ORDER BY {order} LIMIT $2"
    ))
    .bind(status)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// The messages about one application, oldest first, with where each stands (the case page
/// says what left, when, and what waits or failed).
pub async fn for_application(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<Vec<Sent>> {
    Ok(sqlx::query_as(
        "SELECT recipient, template, status, created_at, sent_at FROM outbox
          WHERE application_id = $1 ORDER BY id LIMIT 200",
    )
    .bind(application)
    .fetch_all(tx.conn())
    .await?)
}

#[derive(Debug, sqlx::FromRow)]
pub struct Sent {
    pub recipient: String,
    pub template: String,
    /// `in_attesa`, `inviato` or `non_recapitabile`.
    pub status: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Puts an undeliverable message back in the queue, due now; `false` when it is not one.
pub async fn retry(
    tx: &mut TenantTx,
    _grant: &Grant<ManageSettings>,
    id: i64,
) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE outbox SET status = 'in_attesa', attempts = 0, next_attempt_at = now()
          WHERE id = $1 AND status = 'non_recapitabile'",
    )
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// Queues the e-mail with an account link (`attivazione` or `reimpostazione`) to the account's
/// own address; the path carries the token until the message is sent.
pub async fn account_link(
    tx: &mut TenantTx,
    user: Uuid,
    purpose: &str,
    path: &str,
    valid_until: &str,
) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "INSERT INTO outbox (tenant_id, recipient, recipient_kind, template, payload)
         SELECT $1, email, 'utente', $3,
                jsonb_build_object('percorso', $4::text, 'scadenza', $5::text, 'nome', full_name)
           FROM users WHERE id = $2",
    )
    .bind(tenant)
    .bind(user)
    .bind(purpose)
    .bind(path)
    .bind(valid_until)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Queues the e-mail with a new draft's code and PIN to the address given when starting it;
/// the PIN stays in the row only until the message is sent.
pub async fn draft_pin(
    tx: &mut TenantTx,
    application: Uuid,
    email: &str,
    code: &str,
    pin: &str,
) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "INSERT INTO outbox (tenant_id, application_id, recipient, recipient_kind, template,
                             payload)
         VALUES ($1, $2, $3, 'richiedente', 'bozza_creata',
                 jsonb_build_object('codice', $4::text, 'pin', $5::text))",
    )
    .bind(tenant)
    .bind(application)
    .bind(email)
    .bind(code)
    .bind(pin)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Queues one transmission of a document with legal weight (a delibera) to one recipient:
/// always sent at once, never in a digest, whatever the recipient chose for notices. The
/// payload names the stored file to attach and its SHA-256, which the worker checks.
pub async fn transmission(
    tx: &mut TenantTx,
    event_id: i64,
    application: Uuid,
    recipient: (&str, &str),
    via_pec: bool,
    template: &str,
    payload: &Value,
) -> anyhow::Result<i64> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO outbox (tenant_id, event_id, application_id, recipient, recipient_kind,
                             template, payload, via_pec)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(tenant)
    .bind(event_id)
    .bind(application)
    .bind(recipient.1)
    .bind(recipient.0)
    .bind(template)
    .bind(payload)
    .bind(via_pec)
    .fetch_one(tx.conn())
    .await?)
}

/// Who the messages of one event go to: (recipient kind, address, through PEC).
pub async fn recipients_of_event(
    tx: &mut TenantTx,
    event_id: i64,
) -> anyhow::Result<Vec<(String, String, bool)>> {
    Ok(sqlx::query_as(
        "SELECT recipient_kind, recipient, via_pec FROM outbox
          WHERE event_id = $1 AND recipient_kind IN ('richiedente', 'avvocato') ORDER BY id",
    )
    .bind(event_id)
    .fetch_all(tx.conn())
    .await?)
}

/// Queues a periodic batch (the Agenzia delle Entrate's distinta) to one PEC address: about no
/// single application, sent at once. The payload lists the stored files to attach
/// (`allegati`: key, name, type, SHA-256), which the worker checks one by one.
pub async fn batch(
    tx: &mut TenantTx,
    recipient: (&str, &str),
    template: &str,
    payload: &Value,
) -> anyhow::Result<i64> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO outbox (tenant_id, recipient, recipient_kind, template, payload, via_pec)
         VALUES ($1, $2, $3, $4, $5, true) RETURNING id",
    )
    .bind(tenant)
    .bind(recipient.1)
    .bind(recipient.0)
    .bind(template)
    .bind(payload)
    .fetch_one(tx.conn())
    .await?)
}
