//! Applications signed by identification with SPID or CIE (issue 12, point 7; see
//! `domain::identification`).

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::db::TenantTx;

/// The identity assertion that signed an application, as the service verified it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Identification {
    pub application_id: Uuid,
    pub issuer: String,
    pub subject: String,
    pub acr: String,
    pub level: i16,
    pub authenticated_at: DateTime<Utc>,
    pub id_token_sha256: String,
    pub codice_fiscale: String,
    pub form_sha256: String,
    pub signed_at: DateTime<Utc>,
}

impl Identification {
    /// What the receipt and the case page print.
    pub fn statement(&self) -> String {
        crate::domain::identification::statement(
            u8::try_from(self.level).unwrap_or(0),
            &self.issuer,
            &format!(
                "autenticazione del {}",
                crate::domain::time::format_date_time(self.authenticated_at)
            ),
        )
    }
}

/// Records the assertion for the application, replacing an earlier one.
pub async fn record(tx: &mut TenantTx, i: &Identification) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "INSERT INTO application_identifications (tenant_id, application_id, issuer, subject, acr,
             level, authenticated_at, id_token_sha256, codice_fiscale, form_sha256, signed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (application_id) DO UPDATE SET issuer = EXCLUDED.issuer,
             subject = EXCLUDED.subject, acr = EXCLUDED.acr, level = EXCLUDED.level,
             authenticated_at = EXCLUDED.authenticated_at,
             id_token_sha256 = EXCLUDED.id_token_sha256,
             codice_fiscale = EXCLUDED.codice_fiscale, form_sha256 = EXCLUDED.form_sha256,
             signed_at = EXCLUDED.signed_at",
    )
    .bind(tenant)
    .bind(i.application_id)
    .bind(&i.issuer)
    .bind(&i.subject)
    .bind(&i.acr)
    .bind(i.level)
    .bind(i.authenticated_at)
    .bind(&i.id_token_sha256)
    .bind(&i.codice_fiscale)
    .bind(&i.form_sha256)
    .bind(i.signed_at)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The assertion that signed the application, if any.
pub async fn get(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<Option<Identification>> {
    Ok(sqlx::query_as::<_, Identification>(
        "SELECT application_id, issuer, subject, acr, level, authenticated_at, id_token_sha256,
                codice_fiscale, form_sha256, signed_at
           FROM application_identifications WHERE application_id = $1",
    )
    .bind(application)
    .fetch_optional(tx.conn())
    .await?)
}
