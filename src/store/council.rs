//! Council sessions (adunanze) and their agenda.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::db::TenantTx;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Session {
    pub id: Uuid,
    pub held_on: NaiveDate,
    pub state: String,
    pub signer_id: Option<Uuid>,
    pub signer: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i32,
    pub items: i64,
}

impl Session {
    pub fn is_open(&self) -> bool {
        self.state == "convocata"
    }
}

const SELECT: &str = "SELECT s.id, s.held_on, s.state, s.signer_id, u.full_name AS signer,
        s.closed_at, s.version,
        (SELECT count(*) FROM applications a WHERE a.council_session_id = s.id) AS items
    FROM council_sessions s LEFT JOIN users u ON u.id = s.signer_id";

/// `Ok(None)` when the Ordine already has a session that day.
pub async fn create(
    tx: &mut TenantTx,
    held_on: NaiveDate,
    signer: Uuid,
) -> anyhow::Result<Option<Uuid>> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO council_sessions (tenant_id, held_on, signer_id) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, held_on) DO NOTHING RETURNING id",
    )
    .bind(tenant)
    .bind(held_on)
    .bind(signer)
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
