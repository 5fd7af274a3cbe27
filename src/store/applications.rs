//! Applications: drafts, their device access, the one-time submission tokens, submission.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::{
        application::{
            ApplicationCode, Stage,
            check::{income_summary, parse_date},
            form::Form,
        },
        codice_fiscale::CodiceFiscale,
    },
};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApplicationRow {
    pub id: Uuid,
    pub code: String,
    pub state: String,
    pub channel: String,
    pub form: Json<Form>,
    pub pin_hash: String,
    pub pin_failures: i32,
    pub pin_locked_until: Option<DateTime<Utc>>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl ApplicationRow {
    pub fn state(&self) -> Stage {
        Stage::from_code(&self.state).unwrap_or(Stage::Bozza)
    }
}

const COLUMNS: &str = "id, code, state, channel, form, pin_hash, pin_failures, pin_locked_until, \
                       submitted_at, version, created_at, updated_at";

/// Creates a draft. `Ok(false)` when the code is already taken in this Ordine (draw again).
pub async fn create_draft(
    tx: &mut TenantTx,
    id: Uuid,
    code: &ApplicationCode,
    pin_hash: &str,
    channel: &str,
    filed_by_user: Option<Uuid>,
    form: &Form,
) -> anyhow::Result<bool> {
    let tenant = tx.tenant().0;
    let inserted = sqlx::query(
        "INSERT INTO applications (id, tenant_id, code, pin_hash, channel, filed_by_user, form)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, code) DO NOTHING",
    )
    .bind(id)
    .bind(tenant)
    .bind(code.as_str())
    .bind(pin_hash)
    .bind(channel)
    .bind(filed_by_user)
    .bind(Json(form))
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(inserted == 1)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<ApplicationRow>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM applications WHERE id = $1"))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Locks the row until the transaction ends (submission, concurrent saves).
pub async fn get_for_update(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<ApplicationRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM applications WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

pub async fn find_by_code(
    tx: &mut TenantTx,
    code: &ApplicationCode,
) -> anyhow::Result<Option<ApplicationRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM applications WHERE code = $1"
    ))
    .bind(code.as_str())
    .fetch_optional(tx.conn())
    .await?)
}

/// The same, with the row locked until the transaction ends: PIN attempts on one code are
/// checked one after the other, so each sees the failures before it (no burst gets past the
/// lock).
pub async fn find_by_code_locked(
    tx: &mut TenantTx,
    code: &ApplicationCode,
) -> anyhow::Result<Option<ApplicationRow>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM applications WHERE code = $1 FOR UPDATE"
    ))
    .bind(code.as_str())
    .fetch_optional(tx.conn())
    .await?)
}

/// A wrong PIN: after 10 in a row the code is locked for 15 minutes.
pub async fn record_pin_failure(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE applications SET pin_failures = pin_failures + 1,
             pin_locked_until = CASE WHEN pin_failures + 1 >= 10
                                     THEN now() + interval '15 minutes' END
         WHERE id = $1",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn reset_pin_failures(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE applications SET pin_failures = 0, pin_locked_until = NULL
         WHERE id = $1 AND pin_failures > 0",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Saves the form of a draft with the columns derived from it. `Ok(false)` if the application
/// is no longer a draft.
pub async fn save_form(
    tx: &mut TenantTx,
    id: Uuid,
    form: &Form,
    today: chrono::NaiveDate,
) -> anyhow::Result<bool> {
    // The pages never offer more; this is the last guard (the table checks the size too).
    anyhow::ensure!(form.within_limits(), "form over its limits");
    let applicant_cf = CodiceFiscale::parse(form.applicant.cf())
        .ok()
        .map(|cf| cf.as_str().to_owned());
    let office = Uuid::parse_str(&form.filing.judicial_office).ok();
    let lawyer = Uuid::parse_str(&form.lawyer.lawyer_id).ok();
    let income = income_summary(form, today);
    let nonempty = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
    let rg = (form.case.pending == "si")
        .then(|| nonempty(&form.case.rg_number))
        .flatten();
    let updated = sqlx::query(
        "UPDATE applications SET form = $2, matter = $3, filed_by = $4, applicant_name = $5,
             applicant_cf = $6, counterparty_name = $7, rg_number = $8,
             judicial_office_id = (SELECT id FROM judicial_offices WHERE id = $9),
             lawyer_id = (SELECT id FROM lawyers WHERE id = $10),
             applicant_email = $11, income_total_cents = $12, threshold_cents = $13,
             next_hearing = $14, updated_at = now(), version = version + 1
         WHERE id = $1 AND state = 'bozza'",
    )
    .bind(id)
    .bind(Json(form))
    .bind(form.matter().map(|m| m.code()))
    .bind(nonempty(&form.filing.filed_by))
    .bind(nonempty(&form.applicant.display_name()))
    .bind(applicant_cf)
    .bind(nonempty(&form.case.counterparty_name))
    .bind(rg)
    .bind(office)
    .bind(lawyer)
    .bind(nonempty(&form.applicant.email))
    .bind(income.total.map(|e| e.cents()))
    .bind(income.threshold.map(|t| t.amount.cents()))
    .bind(parse_date(&form.case.next_hearing))
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(updated == 1)
}

/// Other applications of the same applicant for the same proceeding (same counterparty or
/// same R.G. number) that are not mere drafts (V36).
pub async fn duplicates(tx: &mut TenantTx, id: Uuid, form: &Form) -> anyhow::Result<Vec<String>> {
    let Ok(cf) = CodiceFiscale::parse(form.applicant.cf()) else {
        return Ok(Vec::new());
    };
    let counterparty = form.case.counterparty_name.trim().to_lowercase();
    let rg = form.case.rg_number.trim().to_owned();
    Ok(sqlx::query_scalar(
        "SELECT code FROM applications
         WHERE id <> $1 AND applicant_cf = $2 AND state <> 'bozza'
           AND (($3 <> '' AND lower(counterparty_name) = $3) OR ($4 <> '' AND rg_number = $4))
         ORDER BY submitted_at",
    )
    .bind(id)
    .bind(cf.as_str())
    .bind(counterparty)
    .bind(rg)
    .fetch_all(tx.conn())
    .await?)
}

pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub async fn grant_device(tx: &mut TenantTx, device_token: &str, id: Uuid) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "INSERT INTO draft_access (token_hash, tenant_id, application_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(token_hash(&format!("{device_token}:{id}")))
    .bind(tenant)
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn device_has_access(
    tx: &mut TenantTx,
    device_token: &str,
    id: Uuid,
) -> anyhow::Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM draft_access WHERE token_hash = $1 AND application_id = $2)",
    )
    .bind(token_hash(&format!("{device_token}:{id}")))
    .bind(id)
    .fetch_one(tx.conn())
    .await?)
}

/// A one-time token for the submission form.
pub async fn issue_form_token(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Uuid> {
    let token = Uuid::new_v4();
    let tenant = tx.tenant().0;
    sqlx::query("INSERT INTO form_tokens (token, tenant_id, application_id) VALUES ($1, $2, $3)")
        .bind(token)
        .bind(tenant)
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(token)
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenUse {
    Fresh,
    AlreadyUsed,
    Unknown,
}

/// Marks the token used, inside the submitting transaction.
pub async fn use_form_token(tx: &mut TenantTx, id: Uuid, token: Uuid) -> anyhow::Result<TokenUse> {
    let used: Option<Option<DateTime<Utc>>> = sqlx::query_scalar(
        "SELECT used_at FROM form_tokens WHERE token = $1 AND application_id = $2 FOR UPDATE",
    )
    .bind(token)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?;
    match used {
        None => Ok(TokenUse::Unknown),
        Some(Some(_)) => Ok(TokenUse::AlreadyUsed),
        Some(None) => {
            sqlx::query("UPDATE form_tokens SET used_at = now() WHERE token = $1")
                .bind(token)
                .execute(tx.conn())
                .await?;
            Ok(TokenUse::Fresh)
        }
    }
}

/// Draft → submitted. The caller holds the row lock and has checked the rules.
pub async fn mark_submitted(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<DateTime<Utc>> {
    Ok(sqlx::query_scalar(
        "UPDATE applications SET state = 'presentata', submitted_at = now(), updated_at = now(),
             version = version + 1
         WHERE id = $1 AND state = 'bozza' RETURNING submitted_at",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await?)
}

/// Ids of drafts untouched since `before`, for the purge.
pub async fn stale_drafts(tx: &mut TenantTx, before: DateTime<Utc>) -> anyhow::Result<Vec<Uuid>> {
    Ok(
        sqlx::query_scalar("SELECT id FROM applications WHERE state = 'bozza' AND updated_at < $1")
            .bind(before)
            .fetch_all(tx.conn())
            .await?,
    )
}

pub async fn delete_draft(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM applications WHERE id = $1 AND state = 'bozza'")
            .bind(id)
            .execute(tx.conn())
            .await?
            .rows_affected()
            == 1,
    )
}
