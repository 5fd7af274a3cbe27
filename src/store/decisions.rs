//! Proposals and decisions (delibere): number, PDF, signer and signature.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{db::TenantTx, documents::SignatureSummary, domain::application::Outcome};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Decision {
    pub id: Uuid,
    pub application_id: Uuid,
    pub proposed_outcome: String,
    pub proposed_by: Uuid,
    pub proposer: String,
    pub proposed_at: DateTime<Utc>,
    pub reasons: String,
    pub council_session_id: Option<Uuid>,
    pub outcome: Option<String>,
    pub adopted_at: Option<DateTime<Utc>>,
    pub year: Option<i32>,
    pub number: Option<i32>,
    pub pdf_key: Option<String>,
    pub pdf_sha256: Option<String>,
    pub signer_id: Option<Uuid>,
    pub signer: Option<String>,
    pub signer_cf: Option<String>,
    pub signed_key: Option<String>,
    pub signed_kind: Option<String>,
    pub signed_at: Option<DateTime<Utc>>,
    pub signature: Option<Json<SignatureSummary>>,
    pub superseded_at: Option<DateTime<Utc>>,
    /// The application's code (lists of delibere to sign).
    pub code: String,
}

impl Decision {
    pub fn proposed(&self) -> Outcome {
        Outcome::from_code(&self.proposed_outcome).unwrap_or(Outcome::Inammissibilita)
    }

    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome.as_deref().and_then(Outcome::from_code)
    }

    /// `12/2026`
    pub fn number_label(&self) -> Option<String> {
        Some(format!("{}/{}", self.number?, self.year?))
    }

    /// The file name of the delibera's PDF.
    /// The signed delibera: (storage key, content type, file name), once signed.
    pub fn signed_file(&self) -> Option<(String, &'static str, String)> {
        let key = self.signed_key.clone()?;
        // The seal, like a councillor's CAdES signature, is an envelope around the PDF.
        Some(
            if matches!(self.signed_kind.as_deref(), Some("cades" | "sigillo")) {
                (
                    key,
                    "application/pkcs7-mime",
                    format!("{}.p7m", self.file_name()),
                )
            } else {
                (
                    key,
                    "application/pdf",
                    self.file_name().replace(".pdf", "-firmata.pdf"),
                )
            },
        )
    }

    pub fn file_name(&self) -> String {
        format!(
            "delibera-{}-{}.pdf",
            self.number.unwrap_or(0),
            self.year.unwrap_or(0)
        )
    }
}

const SELECT: &str = "SELECT d.id, d.application_id, d.proposed_outcome, d.proposed_by,
        p.full_name AS proposer, d.proposed_at, d.reasons, d.council_session_id, d.outcome,
        d.adopted_at, d.year, d.number, d.pdf_key, d.pdf_sha256, d.signer_id,
        s.full_name AS signer, s.codice_fiscale AS signer_cf, d.signed_key, d.signed_kind,
        d.signed_at, d.signature, d.superseded_at, a.code
    FROM decisions d
    JOIN users p ON p.id = d.proposed_by
    JOIN applications a ON a.id = d.application_id
    LEFT JOIN users s ON s.id = d.signer_id";

pub async fn propose(
    tx: &mut TenantTx,
    application: Uuid,
    outcome: Outcome,
    by: Uuid,
    reasons: &str,
) -> anyhow::Result<Uuid> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO decisions (tenant_id, application_id, proposed_outcome, proposed_by, reasons)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(tenant)
    .bind(application)
    .bind(outcome.code())
    .bind(by)
    .bind(reasons)
    .fetch_one(tx.conn())
    .await?)
}

/// The proposal or decision in force for an application.
pub async fn current(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<Option<Decision>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE d.application_id = $1 AND d.superseded_at IS NULL"
    ))
    .bind(application)
    .fetch_optional(tx.conn())
    .await?)
}

/// The applications admitted (decision in force) with an adoption in `[from, until)`, in the
/// order of their delibere, at most `limit` (the caller asks for one more to tell "too many").
pub async fn admitted_between(
    tx: &mut TenantTx,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> anyhow::Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "SELECT application_id FROM decisions
          WHERE outcome = 'ammissione' AND superseded_at IS NULL
            AND adopted_at >= $1 AND adopted_at < $2
          ORDER BY year, number LIMIT $3",
    )
    .bind(from)
    .bind(until)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<Decision>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}

/// A proposal sent back or postponed stays in the history, no longer in force.
pub async fn supersede(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE decisions SET superseded_at = now(), version = version + 1
         WHERE application_id = $1 AND superseded_at IS NULL AND number IS NULL",
    )
    .bind(application)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn schedule(tx: &mut TenantTx, id: Uuid, session: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE decisions SET council_session_id = $2, version = version + 1 WHERE id = $1",
    )
    .bind(id)
    .bind(session)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The adopted decision: outcome, number, date, signer, and the generated PDF.
pub struct Adoption<'a> {
    pub outcome: Outcome,
    pub year: i32,
    pub number: i32,
    pub adopted_at: DateTime<Utc>,
    pub signer: Uuid,
    pub pdf_key: &'a str,
    pub pdf_sha256: &'a str,
}

pub async fn adopt(tx: &mut TenantTx, id: Uuid, a: &Adoption<'_>) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE decisions SET outcome = $2, year = $3, number = $4, adopted_at = $5,
             signer_id = $6, pdf_key = $7, pdf_sha256 = $8, version = version + 1
         WHERE id = $1 AND number IS NULL",
    )
    .bind(id)
    .bind(a.outcome.code())
    .bind(a.year)
    .bind(a.number)
    .bind(a.adopted_at)
    .bind(a.signer)
    .bind(a.pdf_key)
    .bind(a.pdf_sha256)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Adopted delibere waiting for `signer`'s signature, by number.
pub async fn to_sign(tx: &mut TenantTx, signer: Uuid) -> anyhow::Result<Vec<Decision>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE d.signer_id = $1 AND d.number IS NOT NULL AND d.signed_at IS NULL
         AND d.superseded_at IS NULL ORDER BY d.year, d.number"
    ))
    .bind(signer)
    .fetch_all(tx.conn())
    .await?)
}

pub async fn mark_signed(
    tx: &mut TenantTx,
    id: Uuid,
    kind: &str,
    key: &str,
    signature: &SignatureSummary,
) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE decisions SET signed_kind = $2, signed_key = $3, signature = $4,
             signed_at = now(), version = version + 1
         WHERE id = $1 AND signed_at IS NULL",
    )
    .bind(id)
    .bind(kind)
    .bind(key)
    .bind(Json(signature))
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// A signed delibera to verify again: (decision, application, signed file's key, signed at,
/// kept result). Sealed ones are the Ordine's own seal, not a trusted-list matter.
pub type SignedDelibera = (Uuid, Uuid, String, DateTime<Utc>, Json<SignatureSummary>);

/// Every signed delibera (CAdES or PAdES) of the transaction's Ordine with its kept result.
pub async fn signed_for_reverification(tx: &mut TenantTx) -> anyhow::Result<Vec<SignedDelibera>> {
    Ok(sqlx::query_as(
        "SELECT id, application_id, signed_key, signed_at, signature FROM decisions
          WHERE signed_kind IN ('cades', 'pades') AND signed_key IS NOT NULL
            AND signed_at IS NOT NULL AND signature IS NOT NULL
          ORDER BY signed_at, id",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Replaces a signed delibera's verification result (re-verification only: the signature's
/// acceptance, `signed_at`, stays).
pub async fn set_signature(
    tx: &mut TenantTx,
    id: Uuid,
    signature: &SignatureSummary,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE decisions SET signature = $2 WHERE id = $1")
        .bind(id)
        .bind(Json(signature))
        .execute(tx.conn())
        .await?;
    Ok(())
}
