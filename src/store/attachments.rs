//! Attachments' facts (the bytes are in object storage).

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{db::TenantTx, documents::SignatureSummary};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Attachment {
    pub id: Uuid,
    pub application_id: Uuid,
    pub kind: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub storage_key: String,
    pub signature: Option<Json<SignatureSummary>>,
    /// Sent in answer to this integration request.
    pub integration_request_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// For the signed application: the fingerprint of the answers it was bound to.
    pub form_sha256: Option<String>,
}

impl Attachment {
    /// Every object this attachment keeps in storage: the file and, for a `.p7m`, its content.
    pub fn storage_keys(&self) -> Vec<String> {
        let mut keys = vec![self.storage_key.clone()];
        if let Some(c) = self.signature.as_ref().and_then(|s| s.content.as_ref()) {
            keys.push(c.storage_key.clone());
        }
        keys
    }
}

/// Names stored before the upload dropped invisible controls (`uploads::clean_name`) lose them
/// here, as they are read.
const COLUMNS: &str = "id, application_id, kind, \
     regexp_replace(filename, '[\\u061C\\u200B-\\u200F\\u202A-\\u202E\\u2066-\\u2069\\uFEFF]', '', 'g') AS filename, \
     content_type, size_bytes, sha256, storage_key, signature, integration_request_id, created_at, form_sha256";

pub async fn list(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<Vec<Attachment>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM attachments WHERE application_id = $1 ORDER BY created_at, id"
    ))
    .bind(application)
    .fetch_all(tx.conn())
    .await?)
}

pub async fn get(
    tx: &mut TenantTx,
    application: Uuid,
    id: Uuid,
) -> anyhow::Result<Option<Attachment>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM attachments WHERE application_id = $1 AND id = $2"
    ))
    .bind(application)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

pub struct NewAttachment<'a> {
    pub id: Uuid,
    pub application_id: Uuid,
    pub kind: &'a str,
    pub filename: &'a str,
    pub content_type: &'a str,
    pub size_bytes: i64,
    pub sha256: &'a str,
    pub storage_key: &'a str,
    pub signature: Option<&'a SignatureSummary>,
    pub integration_request_id: Option<Uuid>,
    /// For the signed application: the fingerprint of the answers it is bound to.
    pub form_sha256: Option<&'a str>,
}

pub async fn insert(tx: &mut TenantTx, a: NewAttachment<'_>) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "INSERT INTO attachments (id, tenant_id, application_id, kind, filename, content_type,
                                  size_bytes, sha256, storage_key, signature,
                                  integration_request_id, form_sha256)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(a.id)
    .bind(tenant)
    .bind(a.application_id)
    .bind(a.kind)
    .bind(a.filename)
    .bind(a.content_type)
    .bind(a.size_bytes)
    .bind(a.sha256)
    .bind(a.storage_key)
    .bind(a.signature.map(Json))
    .bind(a.integration_request_id)
    .bind(a.form_sha256)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Removes the row and returns it, so that the caller deletes the bytes after commit.
pub async fn delete(
    tx: &mut TenantTx,
    application: Uuid,
    id: Uuid,
) -> anyhow::Result<Option<Attachment>> {
    Ok(sqlx::query_as(&format!(
        "DELETE FROM attachments WHERE application_id = $1 AND id = $2 RETURNING {COLUMNS}"
    ))
    .bind(application)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// How many documents an application has, and their bytes in all.
pub async fn usage(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*), coalesce(sum(size_bytes), 0)::bigint FROM attachments
         WHERE application_id = $1",
    )
    .bind(application)
    .fetch_one(tx.conn())
    .await?)
}

/// Every attachment of the transaction's Ordine that has a verification result.
pub async fn signed(tx: &mut TenantTx) -> anyhow::Result<Vec<Attachment>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM attachments WHERE signature IS NOT NULL ORDER BY created_at, id"
    ))
    .fetch_all(tx.conn())
    .await?)
}

/// Replaces an attachment's verification result (re-verification only).
pub async fn set_signature(
    tx: &mut TenantTx,
    application: Uuid,
    id: Uuid,
    summary: &SignatureSummary,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE attachments SET signature = $3 WHERE application_id = $1 AND id = $2")
        .bind(application)
        .bind(id)
        .bind(Json(summary))
        .execute(tx.conn())
        .await?;
    Ok(())
}
