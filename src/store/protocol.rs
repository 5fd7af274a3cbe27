//! The protocol register and the yearly counters (protocol and delibera numbers).
//!
//! A number is taken by updating the counter row of (Ordine, kind, year) inside the
//! registering transaction: the row stays locked until commit, so concurrent registrations
//! queue, and a rollback gives the number back. No sequence is involved, so no gaps.

use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::protocol::{Addressee, FiledDocument, ProtocolNumber, documents_digest, year_of},
    store::audit,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Series {
    Protocol,
    Decision,
}

impl Series {
    fn code(self) -> &'static str {
        match self {
            Series::Protocol => "protocollo",
            Series::Decision => "delibera",
        }
    }
}

/// The next number of `series` for the year of `now()`, and the time to record with it. The
/// time is read after the counter is locked, so numbers and times rise together; if the year
/// turned while waiting, the number is given back and taken from the new year.
pub async fn take_number(
    tx: &mut TenantTx,
    series: Series,
    now: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
) -> anyhow::Result<(ProtocolNumber, DateTime<Utc>)> {
    let tenant = tx.tenant().0;
    loop {
        let year = year_of(now());
        let number: i32 = sqlx::query_scalar(
            "INSERT INTO counters (tenant_id, kind, year, last_number) VALUES ($1, $2, $3, 1)
             ON CONFLICT (tenant_id, kind, year)
             DO UPDATE SET last_number = counters.last_number + 1
             RETURNING last_number",
        )
        .bind(tenant)
        .bind(series.code())
        .bind(year)
        .fetch_one(tx.conn())
        .await?;
        let at = now();
        if year_of(at) == year {
            return Ok((ProtocolNumber { year, number }, at));
        }
        sqlx::query(
            "UPDATE counters SET last_number = last_number - 1
             WHERE tenant_id = $1 AND kind = $2 AND year = $3",
        )
        .bind(tenant)
        .bind(series.code())
        .bind(year)
        .execute(tx.conn())
        .await?;
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Incoming,
    Outgoing,
    Internal,
}

impl Direction {
    pub fn code(self) -> &'static str {
        match self {
            Direction::Incoming => "entrata",
            Direction::Outgoing => "uscita",
            Direction::Internal => "interno",
        }
    }
}

pub struct NewEntry<'a> {
    pub direction: Direction,
    /// `istanza`, `integrazione`, `delibera`, `rinuncia`.
    pub kind: &'a str,
    /// `portale`, `sportello`, `posta`, `pec`, `email`, `interno`.
    pub channel: &'a str,
    pub application: Option<Uuid>,
    pub subject: String,
    pub documents: Vec<FiledDocument>,
    pub by: &'a audit::Actor,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Entry {
    pub id: Uuid,
    pub year: i32,
    pub number: i32,
    pub registered_at: DateTime<Utc>,
    pub direction: String,
    pub kind: String,
    pub channel: String,
    pub application_id: Option<Uuid>,
    pub subject: String,
    pub documents: Json<Vec<FiledDocument>>,
    pub documents_sha256: String,
    pub cancels: Option<Uuid>,
    pub reason: Option<String>,
    pub registered_by_label: String,
    /// Who an outgoing entry went to.
    pub recipients: Json<Vec<Addressee>>,
    /// The number of the entry that cancelled this one (lists only).
    #[sqlx(default)]
    pub cancelled_by: Option<String>,
}

impl Entry {
    pub fn number(&self) -> ProtocolNumber {
        ProtocolNumber {
            year: self.year,
            number: self.number,
        }
    }
}

const COLUMNS: &str = "e.id, e.year, e.number, e.registered_at, e.direction, e.kind, e.channel, \
                       e.application_id, e.subject, e.documents, e.documents_sha256, e.cancels, \
                       e.reason, e.registered_by_label, e.recipients";

/// Entries with the number of the entry that cancelled each, if any.
pub(crate) fn select(filter: &str) -> String {
    format!(
        "SELECT {COLUMNS}, (SELECT c.year || '/' || lpad(c.number::text, 7, '0')
                            FROM protocol_entries c WHERE c.cancels = e.id) AS cancelled_by
         FROM protocol_entries e WHERE {filter}"
    )
}

async fn insert(
    tx: &mut TenantTx,
    e: &NewEntry<'_>,
    cancels: Option<(Uuid, &str)>,
    recipients: &[Addressee],
    now: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
) -> anyhow::Result<Entry> {
    let (n, at) = take_number(tx, Series::Protocol, now).await?;
    let tenant = tx.tenant().0;
    Ok(sqlx::query_as(&format!(
        "INSERT INTO protocol_entries AS e (tenant_id, year, number, registered_at, direction,
             kind, channel, application_id, subject, documents, documents_sha256, cancels, reason,
             registered_by, registered_by_label, recipients)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         RETURNING {COLUMNS}"
    ))
    .bind(tenant)
    .bind(n.year)
    .bind(n.number)
    .bind(at)
    .bind(e.direction.code())
    .bind(e.kind)
    .bind(e.channel)
    .bind(e.application)
    .bind(&e.subject)
    .bind(Json(&e.documents))
    .bind(documents_digest(&e.documents))
    .bind(cancels.map(|c| c.0))
    .bind(cancels.map(|c| c.1))
    .bind(e.by.id)
    .bind(&e.by.label)
    .bind(Json(recipients))
    .fetch_one(tx.conn())
    .await?)
}

/// Registers an entry with the next number of the year of `now()`.
pub async fn register(
    tx: &mut TenantTx,
    e: &NewEntry<'_>,
    now: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
) -> anyhow::Result<Entry> {
    insert(tx, e, None, &[], now).await
}

/// Registers an outgoing entry (direction `uscita`) with its recipients, in the transaction
/// that queues what it registers: the number, the queued messages and the entry commit or
/// roll back together.
pub async fn register_outgoing(
    tx: &mut TenantTx,
    e: &NewEntry<'_>,
    recipients: &[Addressee],
    now: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
) -> anyhow::Result<Entry> {
    anyhow::ensure!(
        e.direction == Direction::Outgoing && !recipients.is_empty(),
        "an outgoing entry needs its recipients"
    );
    insert(tx, e, None, recipients, now).await
}

/// Cancels an entry with a new one that points at it. `Ok(None)` if it was already cancelled.
pub async fn cancel(
    tx: &mut TenantTx,
    original: &Entry,
    reason: &str,
    by: &audit::Actor,
    now: &(dyn Fn() -> DateTime<Utc> + Send + Sync),
) -> anyhow::Result<Option<Entry>> {
    let already: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM protocol_entries WHERE cancels = $1)")
            .bind(original.id)
            .fetch_one(tx.conn())
            .await?;
    if already {
        return Ok(None);
    }
    let entry = NewEntry {
        direction: Direction::Internal,
        kind: "annullamento",
        channel: "interno",
        application: original.application_id,
        subject: format!("Annullamento della registrazione n. {}", original.number()),
        documents: Vec::new(),
        by,
    };
    Ok(Some(
        insert(tx, &entry, Some((original.id, reason)), &[], now).await?,
    ))
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<Entry>> {
    Ok(sqlx::query_as(&select("e.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}

/// The register of one year, newest first.
/// The entries of `year`, newest first; with `search`, only those whose number, subject or
/// application (code, names) match it (accents and case ignored).
pub async fn list(
    tx: &mut TenantTx,
    year: i32,
    search: Option<&str>,
    limit: i64,
) -> anyhow::Result<Vec<Entry>> {
    Ok(sqlx::query_as(&select(
        "e.year = $1 AND ($3::text IS NULL
            OR e.number::text = ltrim($3, '0')
            OR app.fold(e.subject) LIKE '%' || app.fold($3) || '%'
            OR EXISTS (SELECT 1 FROM applications a WHERE a.id = e.application_id
                         AND (a.code = upper($3) OR app.fold($3) = ANY (a.search_words))))
         ORDER BY e.number DESC LIMIT $2",
    ))
    .bind(year)
    .bind(limit)
    .bind(search)
    .fetch_all(tx.conn())
    .await?)
}

/// The entries about one application, oldest first.
pub async fn for_application(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Vec<Entry>> {
    Ok(
        sqlx::query_as(&select("e.application_id = $1 ORDER BY e.year, e.number"))
            .bind(id)
            .fetch_all(tx.conn())
            .await?,
    )
}
