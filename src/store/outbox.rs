//! E-mails to send, written in the transaction of the event that causes them. The mail worker
//! (notifications) sends them; here they are only recorded.

use serde_json::Value;
use uuid::Uuid;

use crate::db::TenantTx;

/// Queues one message per address of the application's parties: the chosen lawyer (e-mail,
/// else PEC) and the applicant's e-mail when they gave one. Returns how many were queued.
pub async fn to_parties(
    tx: &mut TenantTx,
    event_id: i64,
    application: Uuid,
    template: &str,
    payload: &Value,
) -> anyhow::Result<u64> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query(
        "INSERT INTO outbox (tenant_id, event_id, recipient, template, payload)
         SELECT DISTINCT $1::uuid, $2::bigint, r, $4, $5 FROM (
             SELECT COALESCE(l.email, l.pec) AS r FROM applications a
               JOIN lawyers l ON l.id = a.lawyer_id WHERE a.id = $3
             UNION
             SELECT applicant_email FROM applications WHERE id = $3
         ) recipients WHERE r IS NOT NULL AND r <> ''",
    )
    .bind(tenant)
    .bind(event_id)
    .bind(application)
    .bind(template)
    .bind(payload)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// Queues one message to an account of the Ordine (a councillor given a case, say).
pub async fn to_user(
    tx: &mut TenantTx,
    event_id: i64,
    user: Uuid,
    template: &str,
    payload: &Value,
) -> anyhow::Result<u64> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query(
        "INSERT INTO outbox (tenant_id, event_id, recipient, template, payload)
         SELECT $1, $2, email, $4, $5 FROM users WHERE id = $3 AND status = 'attivo'",
    )
    .bind(tenant)
    .bind(event_id)
    .bind(user)
    .bind(template)
    .bind(payload)
    .execute(tx.conn())
    .await?
    .rows_affected())
}
