//! `loadtest idle`: what the service costs when nothing happens.
//!
//! 1. The database and N Ordini seeded with the demo's data (see `setup`), a real SMTP server
//!    that accepts and discards, and the service sending to it (so the mail worker runs).
//! 2. The start-up work is let finish: the demo's e-mails sent, the jobs that run at start
//!    (reminders, registers, batches, draft purge) done, autovacuum gone from the database.
//! 3. For `--seconds`, nothing is asked of the service: the database's committed transactions
//!    (`pg_stat_database.xact_commit`, every client: the service, and this program's two reads)
//!    and the service's CPU time are measured.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use anyhow::bail;
use serde::Serialize;
use sqlx::{Connection, PgConnection};

use crate::{mail, setup};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: setup::Common,
    /// How long to watch the idle service.
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// How long to wait after start-up before watching (the catch-up jobs of a service that
    /// starts with many Ordini: yesterday's protocol registers, reminders).
    #[arg(long, default_value_t = 0)]
    settle: u64,
    /// Where to write the JSON report.
    #[arg(long, default_value = "loadtest-idle.json")]
    pub json: PathBuf,
}

#[derive(Serialize)]
pub struct Report {
    tenants: usize,
    seconds: f64,
    /// Transactions committed in the service's database over the window.
    transactions: i64,
    transactions_per_second: f64,
    /// The service's CPU time over the window, in % of one core.
    cpu_percent: f64,
}

/// Autovacuum workers busy in this database (after the seeding they analyse the new tables,
/// and their transactions count too).
async fn autovacuum(admin: &mut PgConnection) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND backend_type = 'autovacuum worker'",
    )
    .fetch_one(admin)
    .await?)
}

pub async fn run(a: Args) -> anyhow::Result<Report> {
    if a.common.tenants == 0 || a.seconds == 0 {
        bail!("at least one Ordine and one second");
    }
    let work = a.common.work_dir()?;
    let database = setup::database(&work, &a.common).await?;
    let files = work.join("files");
    let started = Instant::now();
    let (_, db) = setup::ordini(&database, &files, a.common.tenants).await?;
    db.close().await;
    println!(
        "{} Ordini seeded in {:.1} s",
        a.common.tenants,
        started.elapsed().as_secs_f64()
    );
    let mut admin = PgConnection::connect(&database.admin_url).await?;
    let (_smtp, port) = mail::smtp_sink(&work).await?;
    let env = [("PATROCINIO_SMTP_URL", format!("smtp://127.0.0.1:{port}"))];
    let server = setup::server(&a.common.server, &database, &work, &files, &env).await?;
    let result = measure(&a, &mut admin, server.pid).await;
    server.stop().await;
    result
}

async fn measure(a: &Args, admin: &mut PgConnection, pid: u32) -> anyhow::Result<Report> {
    // Start-up: the demo's e-mails, and what the periodic jobs do when the service starts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let left = mail::until_sent(admin, 0, Duration::from_secs(300)).await?;
    if left > 0 {
        bail!("{left} of the demo's e-mails not sent after 5 minutes");
    }
    tokio::time::sleep(Duration::from_secs(5 + a.settle)).await;
    let deadline = Instant::now() + Duration::from_secs(120);
    while autovacuum(admin).await? > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The statistics reach pg_stat_database with a delay of up to a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (ticks, xacts, t) = (
        mail::cpu_ticks(pid)?,
        mail::commits(admin).await?,
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    let seconds = t.elapsed().as_secs_f64();
    // Linux reports CPU time in 1/100 s (USER_HZ).
    let cpu_percent = (mail::cpu_ticks(pid)? - ticks) as f64 / seconds;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let transactions = mail::commits(admin).await? - xacts;
    Ok(Report {
        tenants: a.common.tenants,
        seconds,
        transactions,
        transactions_per_second: transactions as f64 / seconds,
        cpu_percent,
    })
}

pub fn print(r: &Report, json: &Path) {
    println!(
        "\n{} Ordini idle for {:.0} s: {} database transactions ({:.2}/s), service CPU {:.2} % of a core",
        r.tenants, r.seconds, r.transactions, r.transactions_per_second, r.cpu_percent
    );
    println!("JSON: {}", json.display());
}
