//! PEC receipts read from the Ordine's mailbox: kept as evidence, matched to the message sent,
//! and how far the mailbox was read.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::{pec_receipt::Kind, protocol::ProtocolNumber},
};

/// How far the mailbox was read: (UIDVALIDITY, last UID read).
pub async fn mailbox(tx: &mut TenantTx) -> anyhow::Result<Option<(i64, i64)>> {
    Ok(
        sqlx::query_as("SELECT uid_validity, last_uid FROM pec_mailboxes")
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Records that the message `uid` was read (never going back within one UIDVALIDITY: two
/// instances reading at once agree on the furthest).
pub async fn mark_read(tx: &mut TenantTx, uid_validity: i64, uid: i64) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "INSERT INTO pec_mailboxes (tenant_id, uid_validity, last_uid) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id) DO UPDATE SET
             last_uid = CASE WHEN pec_mailboxes.uid_validity = EXCLUDED.uid_validity
                             THEN greatest(pec_mailboxes.last_uid, EXCLUDED.last_uid)
                             ELSE EXCLUDED.last_uid END,
             uid_validity = EXCLUDED.uid_validity, read_at = now()",
    )
    .bind(tenant)
    .bind(uid_validity)
    .bind(uid)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Whether a receipt with this Message-ID was kept already.
pub async fn exists(tx: &mut TenantTx, message_id: &str) -> anyhow::Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pec_receipts WHERE message_id = $1)")
            .bind(message_id)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// The message sent with this Message-ID: (outbox row, its application).
pub async fn sent_message(
    tx: &mut TenantTx,
    message_id: &str,
) -> anyhow::Result<Option<(i64, Option<Uuid>)>> {
    Ok(sqlx::query_as(
        "SELECT id, application_id FROM outbox WHERE message_id = $1 ORDER BY id LIMIT 1",
    )
    .bind(message_id)
    .fetch_optional(tx.conn())
    .await?)
}

/// A receipt as it is kept.
pub struct New<'a> {
    pub message_id: &'a str,
    pub kind: Kind,
    pub refers_to: Option<&'a str>,
    pub recipient: Option<&'a str>,
    pub error: Option<&'a str>,
    pub provider_id: Option<&'a str>,
    pub subject: Option<&'a str>,
    pub outbox_id: Option<i64>,
    pub application_id: Option<Uuid>,
    pub eml_key: &'a str,
    pub eml_sha256: &'a str,
    pub eml_size: i32,
    /// The provider's signature: integra, non_integra, assente.
    pub signature: &'a str,
    pub uid_validity: i64,
    pub uid: i64,
}

/// Keeps a receipt; `None` when one with the same Message-ID is there already.
pub async fn insert(tx: &mut TenantTx, r: &New<'_>) -> anyhow::Result<Option<Uuid>> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO pec_receipts (tenant_id, message_id, kind, refers_to, recipient, error,
             provider_id, subject, outbox_id, application_id, eml_key, eml_sha256, eml_size,
             uid_validity, uid, signature)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (tenant_id, message_id) DO NOTHING RETURNING id",
    )
    .bind(tenant)
    .bind(r.message_id)
    .bind(r.kind.code())
    .bind(r.refers_to)
    .bind(r.recipient)
    .bind(r.error)
    .bind(r.provider_id)
    .bind(r.subject)
    .bind(r.outbox_id)
    .bind(r.application_id)
    .bind(r.eml_key)
    .bind(r.eml_sha256)
    .bind(r.eml_size)
    .bind(r.uid_validity)
    .bind(r.uid)
    .bind(r.signature)
    .fetch_optional(tx.conn())
    .await?)
}

/// A transmission that left with a message, locked while a receipt moves it.
#[derive(Debug, sqlx::FromRow)]
pub struct Sent {
    pub id: Uuid,
    pub application_id: Uuid,
    pub recipient_kind: String,
    pub recipient_name: String,
    pub address: Option<String>,
    pub state: String,
    pub version: i32,
}

/// The transmissions that left with the outbox row `outbox_id`, locked.
pub async fn transmissions_of(tx: &mut TenantTx, outbox_id: i64) -> anyhow::Result<Vec<Sent>> {
    Ok(sqlx::query_as(
        "SELECT id, application_id, recipient_kind, recipient_name, address, state, version
           FROM transmissions WHERE outbox_id = $1 ORDER BY id FOR UPDATE",
    )
    .bind(outbox_id)
    .fetch_all(tx.conn())
    .await?)
}

/// Moves a transmission to `state` (with the reason when it failed), if still at `version`.
pub async fn move_transmission(
    tx: &mut TenantTx,
    id: Uuid,
    version: i32,
    state: &str,
    reason: Option<&str>,
) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE transmissions SET state = $3, failure_reason = $4, receipt_at = now(),
                updated_at = now(), version = version + 1
          WHERE id = $1 AND version = $2",
    )
    .bind(id)
    .bind(version)
    .bind(state)
    .bind(reason)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// A receipt as the secretariat's page lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct Listed {
    pub id: Uuid,
    pub kind: String,
    pub message_id: String,
    pub refers_to: Option<String>,
    pub recipient: Option<String>,
    pub error: Option<String>,
    pub subject: Option<String>,
    pub eml_size: i32,
    pub signature: String,
    pub received_at: DateTime<Utc>,
}

impl Listed {
    /// The provider's signature, in words.
    pub fn signature_label(&self) -> &'static str {
        match self.signature.as_str() {
            "integra" => "Firma del gestore integra",
            "non_integra" => "Firma del gestore NON integra: il messaggio è stato alterato",
            _ => "Messaggio non firmato",
        }
    }

    pub fn label(&self) -> &str {
        match Kind::from_code(&self.kind) {
            Some(k) => k.label(),
            None => &self.kind,
        }
    }
}

/// A receipt with where its .eml is kept (the dossier's copy).
#[derive(Debug, sqlx::FromRow)]
pub struct Kept {
    #[sqlx(flatten)]
    pub receipt: Listed,
    pub eml_key: String,
    pub eml_sha256: String,
}

/// An application's receipts, oldest first (at most `limit`).
pub async fn for_application(
    tx: &mut TenantTx,
    application: Uuid,
    limit: i64,
) -> anyhow::Result<Vec<Kept>> {
    Ok(sqlx::query_as(
        "SELECT id, kind, message_id, refers_to, recipient, error, subject, eml_size, signature,
                received_at, eml_key, eml_sha256
           FROM pec_receipts WHERE application_id = $1
          ORDER BY received_at, id LIMIT $2",
    )
    .bind(application)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// The receipts whose Message-ID is none of ours, newest first (at most `limit`).
pub async fn unknown(tx: &mut TenantTx, limit: i64) -> anyhow::Result<Vec<Listed>> {
    Ok(sqlx::query_as(
        "SELECT id, kind, message_id, refers_to, recipient, error, subject, eml_size, signature,
                received_at
           FROM pec_receipts WHERE outbox_id IS NULL
          ORDER BY received_at DESC, id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// A kept receipt's file: (storage key, Message-ID).
pub async fn file(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT eml_key, message_id FROM pec_receipts WHERE id = $1")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// A transmission by PEC as the transmissions page lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct Transmission {
    pub application_id: Uuid,
    pub code: String,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i32>,
    pub recipient_kind: String,
    pub recipient_name: String,
    pub address: Option<String>,
    pub state: String,
    pub failure_reason: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// The receipts kept for it.
    pub receipts: i64,
}

/// The transmissions that left by PEC, the failed first, then the latest (at most `limit`).
pub async fn transmissions(tx: &mut TenantTx, limit: i64) -> anyhow::Result<Vec<Transmission>> {
    Ok(sqlx::query_as(
        "SELECT t.application_id, a.code, a.protocol_year, a.protocol_number, t.recipient_kind,
                t.recipient_name, t.address, t.state, t.failure_reason, t.updated_at,
                (SELECT count(*) FROM pec_receipts r WHERE r.outbox_id = t.outbox_id) AS receipts
           FROM transmissions t
           JOIN applications a ON a.id = t.application_id
          WHERE t.via_pec AND t.outbox_id IS NOT NULL
          ORDER BY t.state = 'mancata_consegna' DESC, t.updated_at DESC, t.id LIMIT $1",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// An application's code and protocol number, as the secretariat's alert names it.
pub async fn reference(
    tx: &mut TenantTx,
    application: Uuid,
) -> anyhow::Result<(String, Option<String>)> {
    let row: Option<(String, Option<i32>, Option<i32>)> = sqlx::query_as(
        "SELECT code, protocol_year, protocol_number FROM applications WHERE id = $1",
    )
    .bind(application)
    .fetch_optional(tx.conn())
    .await?;
    let (code, year, number) = row.unwrap_or_default();
    let protocol = year
        .zip(number)
        .map(|(year, number)| ProtocolNumber { year, number }.to_string());
    Ok((code, protocol))
}
