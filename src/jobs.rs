//! Background work of every instance: purging abandoned drafts, producing the daily protocol
//! registers, closing the Agenzia delle Entrate's batches.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{
    db::Db,
    storage::Storage,
    store::{applications, attachments, tenants},
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
        // After the commit; what the store does not delete now, the sweeper removes later.
        storage.delete_unreferenced(keys).await;
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
/// after midnight (Rome), and a day missed while the service was stopped is made up.
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
/// after the period ends (Rome), once, whichever instance gets there first.
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
            match closer.run(Utc::now()).await {
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
