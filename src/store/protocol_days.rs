//! The daily protocol registers (registro giornaliero di protocollo): one per Ordine and day,
//! never changed nor removed (a trigger refuses it), and the entries of a span of time.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::{db::TenantTx, store::protocol};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct DailyRegister {
    pub id: Uuid,
    pub day: NaiveDate,
    pub entries: i32,
    pub first_number: Option<String>,
    pub last_number: Option<String>,
    pub pdf_key: String,
    pub pdf_sha256: String,
    pub sealed_key: Option<String>,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, day, entries, first_number, last_number, pdf_key, pdf_sha256, \
                       sealed_key, created_at";

/// The entries registered in `[from, until)`, in the order of their numbers.
pub async fn entries(
    tx: &mut TenantTx,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> anyhow::Result<Vec<protocol::Entry>> {
    Ok(sqlx::query_as(&protocol::select(
        "e.registered_at >= $1 AND e.registered_at < $2 ORDER BY e.year, e.number LIMIT $3",
    ))
    .bind(from)
    .bind(until)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// How many entries were registered in `[from, until)`.
pub async fn count(
    tx: &mut TenantTx,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM protocol_entries WHERE registered_at >= $1 AND registered_at < $2",
    )
    .bind(from)
    .bind(until)
    .fetch_one(tx.conn())
    .await?)
}

/// The first day still without its register: the day after the latest one, or the day (in
/// Rome) of the Ordine's first registration; `None` before any registration.
pub async fn next_day(tx: &mut TenantTx) -> anyhow::Result<Option<NaiveDate>> {
    Ok(sqlx::query_scalar(
        "SELECT coalesce((SELECT max(day) + 1 FROM protocol_daily_registers),
                         (SELECT min((registered_at AT TIME ZONE 'Europe/Rome')::date)
                            FROM protocol_entries))",
    )
    .fetch_one(tx.conn())
    .await?)
}

/// Holds the day of this Ordine until the transaction ends (two instances never produce the
/// same register at once), and says whether its register exists already.
pub async fn claim(tx: &mut TenantTx, day: NaiveDate) -> anyhow::Result<bool> {
    let tenant = tx.tenant().0;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("registro-giornaliero:{tenant}:{day}"))
        .execute(tx.conn())
        .await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM protocol_daily_registers WHERE day = $1)")
            .bind(day)
            .fetch_one(tx.conn())
            .await?;
    Ok(!exists)
}

pub struct NewRegister<'a> {
    pub day: NaiveDate,
    pub entries: i32,
    pub first_number: Option<String>,
    pub last_number: Option<String>,
    pub pdf_key: &'a str,
    pub pdf_sha256: &'a str,
    pub sealed_key: Option<&'a str>,
}

pub async fn insert(tx: &mut TenantTx, r: &NewRegister<'_>) -> anyhow::Result<Uuid> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO protocol_daily_registers (tenant_id, day, entries, first_number,
             last_number, pdf_key, pdf_sha256, sealed_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(tenant)
    .bind(r.day)
    .bind(r.entries)
    .bind(&r.first_number)
    .bind(&r.last_number)
    .bind(r.pdf_key)
    .bind(r.pdf_sha256)
    .bind(r.sealed_key)
    .fetch_one(tx.conn())
    .await?)
}

/// The registers, the latest day first.
pub async fn list(tx: &mut TenantTx, limit: i64) -> anyhow::Result<Vec<DailyRegister>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM protocol_daily_registers ORDER BY day DESC LIMIT $1"
    ))
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<DailyRegister>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM protocol_daily_registers WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}
