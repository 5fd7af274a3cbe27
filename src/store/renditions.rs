//! The application PDFs generated for drafts, by hash (issue 12, point 5; see
//! `documents::binding`).

use uuid::Uuid;

use crate::db::TenantTx;

/// How many generated PDFs are remembered per application (the newest).
const KEEP: i64 = 20;

/// Remembers a generated PDF of the application and forgets all but the newest [`KEEP`].
pub async fn record(
    tx: &mut TenantTx,
    tenant: Uuid,
    application: Uuid,
    pdf_sha256: &str,
    form_sha256: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO application_renditions (tenant_id, application_id, pdf_sha256, form_sha256)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (application_id, pdf_sha256) DO NOTHING",
    )
    .bind(tenant)
    .bind(application)
    .bind(pdf_sha256)
    .bind(form_sha256)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "DELETE FROM application_renditions WHERE application_id = $1 AND pdf_sha256 NOT IN (
             SELECT pdf_sha256 FROM application_renditions WHERE application_id = $1
             ORDER BY created_at DESC LIMIT $2)",
    )
    .bind(application)
    .bind(KEEP)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// A generated PDF found by hash, within the tenant.
#[derive(Debug, sqlx::FromRow)]
pub struct Found {
    pub application_id: Uuid,
    pub code: String,
    pub form_sha256: String,
}

/// The generated PDFs (of any application of the Ordine) among these hashes: this
/// application's first, then the newest.
pub async fn find(
    tx: &mut TenantTx,
    application: Uuid,
    hashes: &[String],
) -> anyhow::Result<Vec<Found>> {
    Ok(sqlx::query_as(
        "SELECT r.application_id, a.code, r.form_sha256
         FROM application_renditions r JOIN applications a ON a.id = r.application_id
         WHERE r.pdf_sha256 = ANY($2)
         ORDER BY r.application_id = $1 DESC, r.created_at DESC LIMIT 10",
    )
    .bind(application)
    .bind(hashes)
    .fetch_all(tx.conn())
    .await?)
}
