//! Background work of every instance: purging abandoned drafts, producing the daily protocol
//! registers, closing the Agenzia delle Entrate's batches.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{
    db::Db,
    storage::Storage,
    store::{applications, attachments, probes, tenants},
};

/// Drafts untouched for this long are deleted with their files.
pub const DRAFT_RETENTION_DAYS: i64 = 90;

/// Deletes, in every Ordine, the drafts not modified since `before`, and their files.
/// Returns how many drafts were deleted.
pub async fn purge_stale_drafts(
    db: &Db,
    storage: &Storage,
    before: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut purged = 0;
    for tenant in tenants::list(db).await? {
        let mut tx = db.tenant_tx(tenant.id).await?;
        let mut keys = Vec::new();
        for id in applications::stale_drafts(&mut tx, before).await? {
            let files = attachments::list(&mut tx, id).await?;
            if applications::delete_draft(&mut tx, id).await? {
                keys.extend(files.iter().flat_map(|a| a.storage_keys()));
                purged += 1;
            }
        }
        tx.commit().await?;
        for key in keys {
            storage.delete(&key).await?;
        }
    }
    Ok(purged)
}

/// Runs the purge every hour for as long as the process lives.
pub fn spawn_draft_purge(db: Db, storage: Storage) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let before = Utc::now() - chrono::Duration::days(DRAFT_RETENTION_DAYS);
            match purge_stale_drafts(&db, &storage, before).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(drafts = n, "stale drafts purged"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "draft purge failed"),
            }
        }
    })
}

/// Produces the daily protocol registers every ten minutes: the day before's is there soon
/// after midnight (Rome), and a day missed while the service was stopped is made up. One query
/// across the Ordini asks first whether any misses one: at rest that is all it costs.
pub fn spawn_daily_registers(
    db: Db,
    pdf: std::sync::Arc<crate::documents::pdf::PdfEngine>,
    storage: Storage,
    seal_dir: Option<std::path::PathBuf>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let yesterday = crate::domain::time::rome_date(Utc::now()) - chrono::Days::new(1);
            match probes::protocol_registers_due(&db, yesterday).await {
                Ok(due) if due.is_empty() => continue,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "daily protocol registers");
                    continue;
                }
            }
            let producer = crate::documents::protocol_register::Producer {
                db: &db,
                pdf: &pdf,
                storage: &storage,
                seal_dir: seal_dir.as_deref(),
            };
            match producer.run(Utc::now()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(registri = n, "daily protocol registers produced"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "daily protocol registers"),
            }
        }
    })
}

/// Closes the Agenzia delle Entrate's batches every ten minutes: a period's batch leaves soon
/// after the period ends (Rome), once, whichever instance gets there first. Only the Ordini
/// with an admission waiting are visited (one query across the Ordini finds them).
pub fn spawn_tax_batches(
    db: Db,
    pdf: std::sync::Arc<crate::documents::pdf::PdfEngine>,
    storage: Storage,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(600));
        loop {
            tick.tick().await;
            let closer = crate::documents::tax_batch::Closer {
                db: &db,
                pdf: &pdf,
                storage: &storage,
            };
            match close_waiting(&db, &closer).await {
                Ok(0) => {}
                Ok(n) => {
                    tracing::info!(distinte = n, "distinte per l'Agenzia delle Entrate inviate")
                }
                Err(e) => tracing::warn!(
                    error = format!("{e:#}"),
                    "distinte per l'Agenzia delle Entrate"
                ),
            }
        }
    })
}

/// The scheduled closing (`Closer::run`) of the Ordini that have an admission waiting; returns
/// how many batches left.
async fn close_waiting(
    db: &Db,
    closer: &crate::documents::tax_batch::Closer<'_>,
) -> anyhow::Result<usize> {
    let waiting = probes::tax_batches_waiting(db).await?;
    if waiting.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let mut sent = 0;
    for tenant in tenants::list(db).await? {
        if !waiting.contains(&tenant.id) {
            continue;
        }
        match closer.close(&tenant, now, None).await {
            Ok(crate::documents::tax_batch::Closed::Sent(b)) => sent += b.len(),
            Ok(_) => {}
            // This Ordine tries again at the next run; the others go on.
            Err(e) => tracing::warn!(
                tenant = %tenant.slug,
                error = format!("{e:#}"),
                "distinta per l'Agenzia delle Entrate"
            ),
        }
    }
    Ok(sent)
}
