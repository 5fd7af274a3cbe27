//! What the periodic jobs ask before they visit the Ordini: one query across every Ordine,
//! through a `SECURITY DEFINER` function owned by the owner role (its search_path pinned), which
//! reads each Ordine under that Ordine's own row-level security and returns only ids, numbers
//! and times, never a row of tenant data. At rest each answers "nothing", and the job opens no
//! transaction per Ordine.

use chrono::NaiveDate;
use uuid::Uuid;

use crate::{db::Db, domain::tenant::TenantId};

/// For each Ordine with an e-mail that may go (the oldest waiting of its application and
/// recipient, as `outbox::take_due` takes them), in how many seconds the first is due (0: now),
/// by the database's clock.
pub async fn outbox_due(db: &Db) -> anyhow::Result<Vec<(TenantId, f64)>> {
    let rows: Vec<(Uuid, f64)> = sqlx::query_as("SELECT ordine, seconds FROM app.outbox_due()")
        .fetch_all(db.pool())
        .await?;
    Ok(rows.into_iter().map(|(t, s)| (TenantId(t), s)).collect())
}

/// The newest event id of every Ordine that has events.
pub async fn events_latest(db: &Db) -> anyhow::Result<Vec<(TenantId, i64)>> {
    let rows: Vec<(Uuid, i64)> =
        sqlx::query_as("SELECT ordine, last_event FROM app.events_latest()")
            .fetch_all(db.pool())
            .await?;
    Ok(rows.into_iter().map(|(t, id)| (TenantId(t), id)).collect())
}

/// The Ordini missing the daily protocol register of a day up to `up_to`.
pub async fn protocol_registers_due(db: &Db, up_to: NaiveDate) -> anyhow::Result<Vec<TenantId>> {
    let rows: Vec<Uuid> = sqlx::query_scalar("SELECT app.protocol_registers_due($1)")
        .bind(up_to)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.into_iter().map(TenantId).collect())
}

/// The Ordini with an admission waiting for the Agenzia delle Entrate's batch.
pub async fn tax_batches_waiting(db: &Db) -> anyhow::Result<Vec<TenantId>> {
    let rows: Vec<Uuid> = sqlx::query_scalar("SELECT app.tax_batches_waiting()")
        .fetch_all(db.pool())
        .await?;
    Ok(rows.into_iter().map(TenantId).collect())
}
