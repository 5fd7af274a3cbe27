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

/// The outcome of the last daily backup, in the backup folder (read by `patrocinio stato`).
pub const LAST_SCHEDULED_BACKUP: &str = "ultimo-backup-giornaliero.json";

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ScheduledRun {
    pub at: DateTime<Utc>,
    pub ok: bool,
    /// The backup's name and duration, or why it failed.
    pub detail: String,
}

/// The latest moment at or before `now` when the daily backup was due: `hour`:00 in Rome,
/// today or yesterday. On the spring-forward night an hour that does not exist is the next
/// one; on the autumn night an hour that happens twice is the first.
pub fn last_due(now: DateTime<Utc>, hour: u32) -> DateTime<Utc> {
    use chrono::TimeZone;
    let zone = crate::domain::time::ZONE;
    let at = |day: chrono::NaiveDate| -> DateTime<Utc> {
        let mut h = hour;
        loop {
            let local = day.and_hms_opt(h, 0, 0).expect("hour below 24");
            if let Some(t) = zone.from_local_datetime(&local).earliest() {
                return t.with_timezone(&Utc);
            }
            h += 1;
        }
    };
    let today = now.with_timezone(&zone).date_naive();
    let due = at(today);
    if due <= now {
        due
    } else {
        at(today.pred_opt().expect("a day before"))
    }
}

/// Holds the daily backup to one instance at a time (a second process on the same cluster
/// waits for the next day).
const BACKUP_LOCK: i64 = 0x7061_7472_6f63_6b01; // "patrock" + 1

/// `serve`'s daily backup of its embedded cluster: at `hour`:00 (Rome) every day, and at start
/// when the last one due was missed (the service was stopped, or there is no backup yet). A
/// failed run is retried after an hour, at most three times a day; every outcome is logged
/// and written to [`LAST_SCHEDULED_BACKUP`].
pub fn spawn_daily_backup(
    config: crate::config::Config,
    server: crate::db::embedded::ServerHandle,
    database: &'static str,
    hour: u32,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let dir = config.backup_dir();
        let mut failures_since_due = 0u32;
        let mut last_failure: Option<DateTime<Utc>> = None;
        let mut last_due_seen = None;
        // Set when another process held the lock: it took the run due.
        let mut elsewhere = false;
        loop {
            let now = Utc::now();
            let due = last_due(now, hour);
            if last_due_seen != Some(due) {
                last_due_seen = Some(due);
                failures_since_due = 0;
                elsewhere = false;
            }
            let done = crate::backup::list(&dir)
                .ok()
                .and_then(|l| l.into_iter().rev().find(|d| d.verified))
                .is_some_and(|d| d.started_at >= due);
            let retry_ok = last_failure.is_none_or(|f| now - f >= chrono::Duration::hours(1));
            if !done && !elsewhere && failures_since_due < 3 && retry_ok {
                match run_daily_backup(&config, &server, database).await {
                    Ok(Some(run)) if run.ok => last_failure = None,
                    Ok(Some(_)) => {
                        failures_since_due += 1;
                        last_failure = Some(Utc::now());
                    }
                    Ok(None) => elsewhere = true,
                    Err(e) => {
                        tracing::error!(error = format!("{e:#}"), "daily backup not run");
                        failures_since_due += 1;
                        last_failure = Some(Utc::now());
                    }
                }
                continue;
            }
            // Woken at least every ten minutes: a clock change or a new day is noticed.
            tokio::time::sleep(
                Duration::from_secs(600).min(
                    (due + chrono::Duration::days(1) - now)
                        .to_std()
                        .unwrap_or_default()
                        .max(Duration::from_secs(1)),
                ),
            )
            .await;
        }
    })
}

/// One daily backup under the cluster-wide advisory lock: `None` when another instance holds it.
#[tracing::instrument(name = "backup giornaliero", skip_all)]
async fn run_daily_backup(
    config: &crate::config::Config,
    server: &crate::db::embedded::ServerHandle,
    database: &str,
) -> anyhow::Result<Option<ScheduledRun>> {
    use sqlx::Connection;
    let mut holder = sqlx::PgConnection::connect(&server.superuser_url(database)).await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(BACKUP_LOCK)
        .fetch_one(&mut holder)
        .await?;
    if !locked {
        holder.close().await?;
        tracing::info!("daily backup already running elsewhere");
        return Ok(None);
    }
    let at = Utc::now();
    let outcome = crate::backup::take_live(config, database, server).await;
    let run = match outcome {
        Ok(d) => {
            tracing::info!(backup = %d.name, duration_ms = d.duration_ms, "daily backup taken");
            ScheduledRun {
                at,
                ok: true,
                detail: format!("backup {}, {} ms, verificato", d.name, d.duration_ms),
            }
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "daily backup failed");
            ScheduledRun {
                at,
                ok: false,
                detail: format!("{e:#}"),
            }
        }
    };
    // Closing the session releases the lock.
    holder.close().await?;
    let dir = config.backup_dir();
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join(LAST_SCHEDULED_BACKUP),
        serde_json::to_vec_pretty(&run)?,
    )?;
    Ok(Some(run))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn the_backup_is_due_at_the_hour_in_rome() {
        // 1 December: Rome is UTC+1. 02:00 Rome = 01:00 UTC.
        assert_eq!(last_due(utc(2026, 12, 1, 1, 30), 2), utc(2026, 12, 1, 1, 0));
        assert_eq!(
            last_due(utc(2026, 12, 1, 0, 30), 2),
            utc(2026, 11, 30, 1, 0)
        );
        // July: UTC+2.
        assert_eq!(last_due(utc(2026, 7, 1, 12, 0), 2), utc(2026, 7, 1, 0, 0));
        // 29 March 2026: 02:00 does not exist in Rome; the run is at 03:00 (CEST, 01:00 UTC).
        assert_eq!(last_due(utc(2026, 3, 29, 5, 0), 2), utc(2026, 3, 29, 1, 0));
        // 25 October 2026: 02:00 happens twice; the first (CEST, 00:00 UTC).
        assert_eq!(
            last_due(utc(2026, 10, 25, 5, 0), 2),
            utc(2026, 10, 25, 0, 0)
        );
        // Midnight.
        assert_eq!(
            last_due(utc(2026, 12, 1, 10, 0), 0),
            utc(2026, 11, 30, 23, 0)
        );
    }
}
