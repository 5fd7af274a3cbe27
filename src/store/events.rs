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
}

pub async fn insert(tx: &mut TenantTx, e: NewEvent<'_>) -> anyhow::Result<i64> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO events (tenant_id, application_id, kind, from_state, to_state, actor_id,
                             actor_label, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
    )
    .bind(tenant)
    .bind(e.application)
    .bind(e.kind.code())
    .bind(e.from.map(Stage::code))
    .bind(e.to.map(Stage::code))
    .bind(e.actor.id)
    .bind(&e.actor.label)
    .bind(e.details)
    .fetch_one(tx.conn())
    .await?)
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
