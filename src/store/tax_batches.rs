//! The Agenzia delle Entrate's batches (distinte): the Ordine's settings, the admissions
//! waiting for the next batch, the batches that left and what each held.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::{
        application::form::Form,
        protocol::ProtocolNumber,
        tax_batch::{Column, Frequency},
    },
};

/// The Ordine's choices (monthly, every column, no address when it made none).
#[derive(Clone, Debug)]
pub struct Settings {
    pub frequency: Frequency,
    pub pec: Option<String>,
    pub columns: Vec<Column>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            frequency: Frequency::Monthly,
            pec: None,
            columns: Column::ALL.to_vec(),
        }
    }
}

pub async fn settings(tx: &mut TenantTx) -> anyhow::Result<Settings> {
    let row: Option<(String, Option<String>, Vec<String>)> =
        sqlx::query_as("SELECT frequency, pec, columns FROM tax_agency_settings")
            .fetch_optional(tx.conn())
            .await?;
    Ok(match row {
        None => Settings::default(),
        Some((frequency, pec, columns)) => Settings {
            frequency: Frequency::from_code(&frequency).unwrap_or(Frequency::Monthly),
            pec: pec.filter(|p| !p.is_empty()),
            columns: Column::chosen(&columns),
        },
    })
}

pub async fn save_settings(tx: &mut TenantTx, s: &Settings) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    let columns: Vec<&str> = s.columns.iter().map(|c| c.code()).collect();
    sqlx::query(
        "INSERT INTO tax_agency_settings (tenant_id, frequency, pec, columns)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id) DO UPDATE
            SET frequency = $2, pec = $3, columns = $4, updated_at = now()",
    )
    .bind(tenant)
    .bind(s.frequency.code())
    .bind(s.pec.as_deref())
    .bind(&columns)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Only one closing of the Ordine's batches at a time, across every instance: held until the
/// transaction ends.
pub async fn lock_closing(tx: &mut TenantTx) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('distinta-ade:' || $1::text, 0))")
        .bind(tenant)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// One admission as its batch lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct Item {
    pub transmission_id: Uuid,
    pub application_id: Uuid,
    pub code: String,
    pub decision_id: Uuid,
    pub decision_year: Option<i32>,
    pub decision_number: Option<i32>,
    pub adopted_at: Option<DateTime<Utc>>,
    pub signed_key: Option<String>,
    pub signed_kind: Option<String>,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i32>,
    pub applicant_name: Option<String>,
    pub applicant_cf: Option<String>,
    pub form: Json<Form>,
    pub income_total_cents: Option<i64>,
    pub matter: Option<String>,
    pub rg_number: Option<String>,
    pub office_name: Option<String>,
    pub lawyer_name: Option<String>,
    pub waiting_since: DateTime<Utc>,
}

impl Item {
    pub fn protocol(&self) -> Option<ProtocolNumber> {
        Some(ProtocolNumber {
            year: self.protocol_year?,
            number: self.protocol_number?,
        })
    }

    pub fn decision_label(&self) -> Option<String> {
        Some(format!("{}/{}", self.decision_number?, self.decision_year?))
    }
}

const ITEM: &str = "SELECT t.id AS transmission_id, a.id AS application_id, a.code,
        d.id AS decision_id, d.year AS decision_year, d.number AS decision_number, d.adopted_at,
        d.signed_key, d.signed_kind, a.protocol_year, a.protocol_number, a.applicant_name,
        a.applicant_cf, a.form, a.income_total_cents, a.matter, a.rg_number,
        o.name AS office_name, l.surname || ' ' || l.given_name AS lawyer_name,
        t.created_at AS waiting_since
   FROM transmissions t
   JOIN decisions d ON d.id = t.decision_id
   JOIN applications a ON a.id = t.application_id
   LEFT JOIN judicial_offices o ON o.id = a.judicial_office_id
   LEFT JOIN lawyers l ON l.id = a.lawyer_id";

/// The admissions waiting for the batch (signed, their copy not sent yet) since before
/// `before`, in the order of their delibere, at most `limit`; locked when `lock` (a closing).
pub async fn waiting(
    tx: &mut TenantTx,
    before: DateTime<Utc>,
    limit: i64,
    lock: bool,
) -> anyhow::Result<Vec<Item>> {
    let lock = if lock { "FOR UPDATE OF t" } else { "" };
    Ok(sqlx::query_as(&format!(
        "{ITEM}
          WHERE t.recipient_kind = 'agenzia_entrate' AND t.state = 'da_trasmettere'
            AND t.batch_id IS NULL AND d.outcome = 'ammissione' AND t.created_at < $1
          ORDER BY d.year, d.number, t.id LIMIT $2 {lock}"
    ))
    .bind(before)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// How many admissions wait for the next batch.
pub async fn waiting_count(tx: &mut TenantTx) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM transmissions
          WHERE recipient_kind = 'agenzia_entrate' AND state = 'da_trasmettere'
            AND batch_id IS NULL",
    )
    .fetch_one(tx.conn())
    .await?)
}

/// What a batch held, in the order of its cover list.
pub async fn items_of(tx: &mut TenantTx, batch: Uuid) -> anyhow::Result<Vec<Item>> {
    Ok(sqlx::query_as(&format!(
        "{ITEM} WHERE t.batch_id = $1 ORDER BY d.year, d.number, t.id"
    ))
    .bind(batch)
    .fetch_all(tx.conn())
    .await?)
}

/// The next number of the year among the Ordine's batches (called under [`lock_closing`]).
pub async fn next_number(tx: &mut TenantTx, year: i32) -> anyhow::Result<i32> {
    Ok(
        sqlx::query_scalar("SELECT COALESCE(max(number), 0) + 1 FROM tax_batches WHERE year = $1")
            .bind(year)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// The next part of a period's scheduled batch (1 for a period not closed yet).
pub async fn next_part(tx: &mut TenantTx, period_key: &str) -> anyhow::Result<i32> {
    Ok(sqlx::query_scalar(
        "SELECT COALESCE(max(part), 0) + 1 FROM tax_batches WHERE period_key = $1 AND NOT early",
    )
    .bind(period_key)
    .fetch_one(tx.conn())
    .await?)
}

/// A batch as it is written.
pub struct NewBatch<'a> {
    pub id: Uuid,
    pub year: i32,
    pub number: i32,
    pub period_key: &'a str,
    pub period_label: &'a str,
    pub part: i32,
    pub early: bool,
    pub pec: &'a str,
    pub items: i32,
    pub attachments_bytes: i64,
    pub columns: &'a [Column],
    pub cover_pdf: (&'a str, &'a str),
    pub cover_csv: (&'a str, &'a str),
    pub protocol_entry: Uuid,
    pub outbox: i64,
    pub created_by: &'a str,
}

pub async fn insert(tx: &mut TenantTx, b: &NewBatch<'_>) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    let columns: Vec<&str> = b.columns.iter().map(|c| c.code()).collect();
    sqlx::query(
        "INSERT INTO tax_batches (id, tenant_id, year, number, period_key, period_label, part,
             early, pec, items, attachments_bytes, columns, cover_pdf_key, cover_pdf_sha256,
             cover_csv_key, cover_csv_sha256, protocol_entry_id, outbox_id, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                 $18, $19)",
    )
    .bind(b.id)
    .bind(tenant)
    .bind(b.year)
    .bind(b.number)
    .bind(b.period_key)
    .bind(b.period_label)
    .bind(b.part)
    .bind(b.early)
    .bind(b.pec)
    .bind(b.items)
    .bind(b.attachments_bytes)
    .bind(&columns)
    .bind(b.cover_pdf.0)
    .bind(b.cover_pdf.1)
    .bind(b.cover_csv.0)
    .bind(b.cover_csv.1)
    .bind(b.protocol_entry)
    .bind(b.outbox)
    .bind(b.created_by)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The waiting copy of an admission leaves in `batch`: its entry, its message, the SHA-256 of
/// the signed delibera attached. False when it no longer waited.
pub async fn mark_in_batch(
    tx: &mut TenantTx,
    transmission: Uuid,
    batch: Uuid,
    pec: &str,
    sent: (Uuid, i64, &str),
) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE transmissions SET batch_id = $2, batch_outcome = 'ammissione', address = $3,
                protocol_entry_id = $4, outbox_id = $5, document_sha256 = $6,
                state = 'in_coda', updated_at = now(), version = version + 1
          WHERE id = $1 AND state = 'da_trasmettere' AND batch_id IS NULL",
    )
    .bind(transmission)
    .bind(batch)
    .bind(pec)
    .bind(sent.0)
    .bind(sent.1)
    .bind(sent.2)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// A batch as the secretariat's page lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct Batch {
    pub id: Uuid,
    pub year: i32,
    pub number: i32,
    pub period_label: String,
    pub part: i32,
    pub early: bool,
    pub pec: String,
    pub items: i32,
    pub attachments_bytes: i64,
    pub cover_pdf_key: String,
    pub cover_pdf_sha256: String,
    pub cover_csv_key: String,
    pub cover_csv_sha256: String,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub protocol_year: i32,
    pub protocol_number: i32,
    /// The message's state in the outbox (`in_attesa`, `inviato`, `non_recapitabile`).
    pub mail_status: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

impl Batch {
    pub fn label(&self) -> String {
        format!("{}/{}", self.number, self.year)
    }

    pub fn protocol(&self) -> ProtocolNumber {
        ProtocolNumber {
            year: self.protocol_year,
            number: self.protocol_number,
        }
    }

    /// Where it stands, from what the outbox knows (the PEC receipts add theirs later).
    pub fn state_label(&self) -> String {
        match (self.mail_status.as_deref(), self.sent_at) {
            (Some("inviato"), Some(at)) => {
                format!("Inviata il {}", crate::domain::time::format_date_time(at))
            }
            (Some("inviato"), None) => "Inviata".into(),
            (Some("non_recapitabile"), _) => "Non recapitata".into(),
            _ => "In coda per l'invio".into(),
        }
    }
}

const BATCH: &str = "SELECT b.id, b.year, b.number, b.period_label, b.part, b.early, b.pec,
        b.items, b.attachments_bytes, b.cover_pdf_key, b.cover_pdf_sha256, b.cover_csv_key,
        b.cover_csv_sha256, b.created_by, b.created_at, p.year AS protocol_year,
        p.number AS protocol_number, o.status AS mail_status, o.sent_at
   FROM tax_batches b
   JOIN protocol_entries p ON p.id = b.protocol_entry_id
   LEFT JOIN outbox o ON o.id = b.outbox_id";

/// The batches that left, the latest first, at most `limit`.
pub async fn list(tx: &mut TenantTx, limit: i64) -> anyhow::Result<Vec<Batch>> {
    Ok(sqlx::query_as(&format!(
        "{BATCH} ORDER BY b.created_at DESC, b.number DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<Batch>> {
    Ok(sqlx::query_as(&format!("{BATCH} WHERE b.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}
