//! The sweeper of orphan files: objects that no row names, left by a crash (or a lost
//! connection) between writing a file and committing the row that names it, or by a deletion
//! whose object could not be removed at once.
//!
//! Cheap and safe by construction:
//! - it lists only each Ordine's own prefix (`<tenant>/`), so nothing outside the service's key
//!   layout is ever touched, and checks the candidates against the database a batch at a time
//!   (indexed lookups, `store::files::referenced`), with the Ordine's row-level security;
//! - only objects older than the grace period are candidates: a file written for a row that
//!   has not committed yet is young, and a transaction never lives for hours;
//! - the database is read after the listing, so a row that committed before the check is seen;
//!   keys are never reused, so an object that no row names cannot become named later;
//! - one instance at a time (an advisory lock), every `files_sweep_every`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::Storage;
use crate::{
    db::Db,
    domain::tenant::TenantId,
    store::{files, tenants},
};

/// Keys checked against the database in one query.
const BATCH: usize = 500;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Swept {
    /// Objects older than the cutoff, checked against the rows.
    pub checked: usize,
    /// Of those, the ones no row named: removed.
    pub removed: usize,
    /// Objects written after the cutoff, left alone.
    pub young: usize,
}

/// Removes, in every Ordine's part of the store, the objects written before `cutoff` that no row
/// names.
#[tracing::instrument(name = "pulizia_file_orfani", skip_all, fields(cutoff = %cutoff))]
pub async fn sweep(db: &Db, storage: &Storage, cutoff: DateTime<Utc>) -> anyhow::Result<Swept> {
    let mut total = Swept::default();
    for tenant in tenants::list(db).await? {
        let swept = sweep_tenant(db, storage, tenant.id, cutoff).await?;
        total.checked += swept.checked;
        total.removed += swept.removed;
        total.young += swept.young;
    }
    Ok(total)
}

#[tracing::instrument(name = "pulizia_file_orfani_ordine", skip_all, fields(tenant.id = %tenant))]
async fn sweep_tenant(
    db: &Db,
    storage: &Storage,
    tenant: TenantId,
    cutoff: DateTime<Utc>,
) -> anyhow::Result<Swept> {
    let mut swept = Swept::default();
    let mut listed = storage.list(Some(&tenant.to_string()));
    let mut batch = Vec::with_capacity(BATCH);
    while let Some(meta) = listed.next().await {
        let meta = meta?;
        if meta.last_modified < cutoff {
            batch.push(meta.location.to_string());
        } else {
            swept.young += 1;
        }
        if batch.len() == BATCH {
            remove_unreferenced(db, storage, tenant, &mut batch, &mut swept).await?;
        }
    }
    if !batch.is_empty() {
        remove_unreferenced(db, storage, tenant, &mut batch, &mut swept).await?;
    }
    if swept.removed > 0 {
        tracing::info!(
            removed = swept.removed,
            checked = swept.checked,
            "orphan files removed"
        );
    }
    Ok(swept)
}

async fn remove_unreferenced(
    db: &Db,
    storage: &Storage,
    tenant: TenantId,
    batch: &mut Vec<String>,
    swept: &mut Swept,
) -> anyhow::Result<()> {
    let mut tx = db.tenant_tx(tenant).await?;
    let named = files::referenced(&mut tx, batch).await?;
    tx.commit().await?;
    swept.checked += batch.len();
    for key in batch.drain(..) {
        if !named.contains(&key) {
            storage.delete(&key).await?;
            swept.removed += 1;
        }
    }
    Ok(())
}

/// One sweep with the cross-instance lock held; `None` when another instance holds it.
pub async fn sweep_once(
    db: &Db,
    storage: &Storage,
    grace: Duration,
) -> anyhow::Result<Option<Swept>> {
    // A connection of its own, closed at the end: the session lock goes with it, whatever
    // happens (a pooled connection would keep the lock alive after an abort).
    let mut conn = db.pool().acquire().await?.detach();
    if !files::try_sweeper_lock(&mut conn).await? {
        return Ok(None);
    }
    let cutoff = Utc::now() - chrono::Duration::from_std(grace)?;
    let result = sweep(db, storage, cutoff).await;
    use sqlx::Connection;
    let _ = conn.close().await;
    result.map(Some)
}

/// Runs the sweeper every `every` for as long as the process lives.
pub fn spawn(
    db: Db,
    storage: Storage,
    grace: Duration,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match sweep_once(&db, &storage, grace).await {
                Ok(_) => {}
                Err(e) => tracing::warn!(error = format!("{e:#}"), "orphan file sweep failed"),
            }
        }
    })
}
