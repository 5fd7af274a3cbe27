//! The history of an application: one row per transition or recorded fact, written in the
//! transaction that made it (a trigger sends the NOTIFY at commit).

use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::application::{Stage, workflow::EventKind},
    store::audit,
};

pub struct NewEvent<'a> {
    pub application: Uuid,
    pub kind: EventKind,
    pub from: Option<Stage>,
    pub to: Option<Stage>,
    pub actor: &'a audit::Actor,
    /// Codes, numbers and text typed by staff, shown in the history.
    pub details: Value,
    /// Someone else to tell, beyond those the application names now.
    pub also: Option<Uuid>,
}

/// Records an event. Its ids must become visible in id order within an Ordine, or the live
/// listener (which reads "after the last id seen") could skip one that commits late: so the
/// Ordine's event lock is taken before the id is drawn and held until commit. Writers of
/// different Ordini never wait for each other; within one Ordine the lock is held only from
/// here to the commit (the audit and outbox rows).
///
/// The audience is read from the application as this transaction leaves it (the new
/// rapporteur, the chosen lawyer, the filer), plus `also` (say, the rapporteur taken off it).
pub async fn insert(tx: &mut TenantTx, e: NewEvent<'_>) -> anyhow::Result<i64> {
    let tenant = tx.tenant().0;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text, 4815162342))")
        .bind(tenant)
        .execute(tx.conn())
        .await?;
    Ok(sqlx::query_scalar(
        "INSERT INTO events (tenant_id, application_id, kind, from_state, to_state, actor_id,
                             actor_label, details, audience)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, array_remove(ARRAY[
                    'segreteria',
                    'istanza:' || a.id,
                    'utente:' || a.rapporteur_id,
                    'avvocato:' || a.lawyer_id,
                    'utente:' || a.filed_by_user,
                    'utente:' || (SELECT d.signer_id FROM decisions d
                                  WHERE d.application_id = a.id AND d.superseded_at IS NULL),
                    'utente:' || $9::uuid
                ], NULL)
         FROM applications a WHERE a.id = $2
         RETURNING id",
    )
    .bind(tenant)
    .bind(e.application)
    .bind(e.kind.code())
    .bind(e.from.map(Stage::code))
    .bind(e.to.map(Stage::code))
    .bind(e.actor.id)
    .bind(&e.actor.label)
    .bind(e.details)
    .bind(e.also)
    .fetch_one(tx.conn())
    .await?)
}

/// What the live pipeline needs of an event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Signal {
    pub id: i64,
    pub application_id: Uuid,
    pub kind: String,
    pub actor_label: String,
    pub at: DateTime<Utc>,
    pub audience: Vec<String>,
}

/// The events of the transaction's Ordine after `cursor`, in id order.
pub async fn after(tx: &mut TenantTx, cursor: i64, limit: i64) -> anyhow::Result<Vec<Signal>> {
    Ok(sqlx::query_as(
        "SELECT id, application_id, kind, actor_label, at, audience FROM events
         WHERE id > $1 ORDER BY id LIMIT $2",
    )
    .bind(cursor)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// How many things wait, and the age of the oldest in seconds (`None`: nothing waits).
#[derive(Debug, sqlx::FromRow)]
pub struct Waiting {
    pub count: i64,
    pub oldest_age_seconds: Option<f64>,
}

/// The transaction's Ordine's events after `cursor` (what the live listener has not yet
/// broadcast), counted.
pub async fn behind(tx: &mut TenantTx, cursor: i64) -> anyhow::Result<Waiting> {
    Ok(sqlx::query_as(
        "SELECT count(*) AS count,
                extract(epoch FROM now() - min(at))::float8 AS oldest_age_seconds
           FROM events WHERE id > $1",
    )
    .bind(cursor)
    .fetch_one(tx.conn())
    .await?)
}

/// The newest event id of the transaction's Ordine (0 when none).
pub async fn last_id(tx: &mut TenantTx) -> anyhow::Result<i64> {
    Ok(
        sqlx::query_scalar("SELECT coalesce(max(id), 0) FROM events")
            .fetch_one(tx.conn())
            .await?,
    )
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Event {
    pub id: i64,
    pub application_id: Uuid,
    pub kind: String,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub actor_id: Option<Uuid>,
    pub actor_label: String,
    pub at: DateTime<Utc>,
    pub details: Value,
}

impl Event {
    pub fn kind(&self) -> Option<EventKind> {
        EventKind::from_code(&self.kind)
    }

    pub fn label(&self) -> &str {
        match self.kind() {
            Some(k) => k.label(),
            None => &self.kind,
        }
    }
}

const COLUMNS: &str =
    "id, application_id, kind, from_state, to_state, actor_id, actor_label, at, details";

/// The history, oldest first.
pub async fn for_application(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Vec<Event>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events WHERE application_id = $1 ORDER BY id"
    ))
    .bind(id)
    .fetch_all(tx.conn())
    .await?)
}

/// The last change of an application: who changed it before a stale save.
pub async fn latest_change(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<Event>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events WHERE application_id = $1 ORDER BY id DESC LIMIT 1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}
