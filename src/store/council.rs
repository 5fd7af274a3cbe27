//! Council sessions (adunanze) and their agenda.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::council::{self, Recording},
};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub held_on: NaiveDate,
    /// When it begins, in Rome time.
    pub starts_at: NaiveTime,
    pub state: String,
    pub signer_id: Option<Uuid>,
    pub signer: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub items: i64,
    pub president: Option<String>,
    pub secretary: Option<String>,
    pub quorum: Option<i32>,
    pub recorded_at: Option<DateTime<Utc>>,
    /// The minutes (verbale) in object storage, once recorded.
    pub minutes_key: Option<String>,
}

impl Session {
    pub fn is_open(&self) -> bool {
        self.state == "convocata"
    }

    /// Its start, in Rome time.
    pub fn start(&self) -> NaiveDateTime {
        council::starts(self.held_on, self.starts_at)
    }

    /// `05/12/2026 alle ore 18:00`
    pub fn when(&self) -> String {
        self.start().format("%d/%m/%Y alle ore %H:%M").to_string()
    }
}

const SELECT: &str = "SELECT s.id, s.held_on, s.starts_at, s.state, s.signer_id,
        u.full_name AS signer, s.closed_at, s.version,
        (SELECT count(*) FROM applications a WHERE a.council_session_id = s.id) AS items,
        p.full_name AS president, sec.full_name AS secretary, s.quorum, s.recorded_at,
        s.minutes_key
    FROM council_sessions s LEFT JOIN users u ON u.id = s.signer_id
    LEFT JOIN users p ON p.id = s.president_id
    LEFT JOIN users sec ON sec.id = s.secretary_id";

/// `Ok(None)` when the Ordine already has a session that day.
pub async fn create(
    tx: &mut TenantTx,
    held_on: NaiveDate,
    starts_at: NaiveTime,
    signer: Uuid,
) -> anyhow::Result<Option<Uuid>> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO council_sessions (tenant_id, held_on, starts_at, signer_id)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, held_on) DO NOTHING RETURNING id",
    )
    .bind(tenant)
    .bind(held_on)
    .bind(starts_at)
    .bind(signer)
    .fetch_optional(tx.conn())
    .await?)
}

/// Writes who was present, who presided and who was secretary, and the quorum applied.
pub async fn record(
    tx: &mut TenantTx,
    session: Uuid,
    r: &Recording,
    quorum: usize,
    by: Uuid,
) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "UPDATE council_sessions SET president_id = $2, secretary_id = $3, quorum = $4,
             recorded_at = now(), recorded_by = $5, version = version + 1
         WHERE id = $1",
    )
    .bind(session)
    .bind(r.president)
    .bind(r.secretary)
    .bind(quorum as i32)
    .bind(by)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO council_attendance (session_id, tenant_id, user_id)
         SELECT $1, $2, unnest($3::uuid[]) ON CONFLICT DO NOTHING",
    )
    .bind(session)
    .bind(tenant)
    .bind(&r.present)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The names of those present, by name.
pub async fn attendance(tx: &mut TenantTx, session: Uuid) -> anyhow::Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT u.full_name FROM council_attendance a JOIN users u ON u.id = a.user_id
          WHERE a.session_id = $1 ORDER BY u.full_name",
    )
    .bind(session)
    .fetch_all(tx.conn())
    .await?)
}

/// The stored minutes of a recorded session.
pub async fn set_minutes(
    tx: &mut TenantTx,
    session: Uuid,
    key: &str,
    sha256: &str,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE council_sessions SET minutes_key = $2, minutes_sha256 = $3 WHERE id = $1")
        .bind(session)
        .bind(key)
        .bind(sha256)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The first convened session after `session`, where a postponed case goes.
pub async fn next_open_after(
    tx: &mut TenantTx,
    session: &Session,
) -> anyhow::Result<Option<Session>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE s.state = 'convocata' AND s.held_on > $1 ORDER BY s.held_on LIMIT 1"
    ))
    .bind(session.held_on)
    .fetch_optional(tx.conn())
    .await?)
}

pub async fn list(tx: &mut TenantTx) -> anyhow::Result<Vec<Session>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} ORDER BY s.state = 'convocata' DESC, s.held_on DESC LIMIT 100"
    ))
    .fetch_all(tx.conn())
    .await?)
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<Session>> {
    Ok(sqlx::query_as(&format!("{SELECT} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?)
}

pub async fn lock(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<Session>> {
    Ok(
        sqlx::query_as(&format!("{SELECT} WHERE s.id = $1 FOR UPDATE OF s"))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?,
    )
}

pub async fn close(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE council_sessions SET state = 'chiusa', closed_at = now(), version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Puts the application on (or, with `None`, takes it off) a session's agenda.
pub async fn set_agenda(
    tx: &mut TenantTx,
    application: Uuid,
    session: Option<Uuid>,
) -> anyhow::Result<()> {
    sqlx::query("UPDATE applications SET council_session_id = $2 WHERE id = $1")
        .bind(application)
        .bind(session)
        .execute(tx.conn())
        .await?;
    Ok(())
}
