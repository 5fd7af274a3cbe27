//! `loadtest mail`: the e-mail outbox under load.
//!
//! 1. The database and N Ordini seeded with the demo's data (see `setup`).
//! 2. A real SMTP server that accepts and discards (Python's aiosmtpd, `Sink` handler) and the
//!    service sending to it; the demo's own e-mails go first.
//! 3. Idle: the service's CPU time and the database's committed transactions over
//!    `--idle-seconds`, with nothing to send (`loadtest idle` measures this alone, longer).
//! 4. Burst: M messages queued at once in one transaction, spread over every application of
//!    every Ordine, each to its own address; the time until all are sent, and for each the
//!    time from its commit to the server's 250 (`sent_at - created_at`, both from the
//!    database clock).

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use serde::Serialize;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::{Percentiles, setup};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    common: setup::Common,
    /// Messages queued at once.
    #[arg(long, short = 'm', default_value_t = 2_000)]
    messages: usize,
    /// How long to watch the idle service.
    #[arg(long, default_value_t = 10)]
    idle_seconds: u64,
    /// Where to write the JSON report.
    #[arg(long, default_value = "loadtest-mail.json")]
    pub json: PathBuf,
}

#[derive(Serialize)]
pub struct Report {
    tenants: usize,
    /// The demo's own e-mails, sent before the measures.
    seeded_messages: i64,
    idle_seconds: u64,
    /// The service's CPU time while idle, in % of one core.
    idle_cpu_percent: f64,
    /// Transactions committed in the database per second while idle (every client).
    idle_transactions_per_second: f64,
    messages: usize,
    /// First commit → last message sent.
    seconds: f64,
    messages_per_second: f64,
    /// Messages not sent at the end (must be 0).
    not_sent: i64,
    /// Commit → the SMTP server's 250, per message.
    commit_to_sent_us: Percentiles,
}

/// CPU time of a process (user + system), in clock ticks.
pub(crate) fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // After the command's name in parentheses: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').context("stat")?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    Ok(f.get(11).context("utime")?.parse::<u64>()? + f.get(12).context("stime")?.parse::<u64>()?)
}

pub(crate) async fn commits(admin: &mut PgConnection) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()",
    )
    .fetch_one(admin)
    .await?)
}

/// Messages due and not sent (digests excepted: they wait for the morning).
async fn waiting(admin: &mut PgConnection, after: i64) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM app.outbox WHERE id > $1 AND status = 'in_attesa' AND NOT digest",
    )
    .bind(after)
    .fetch_one(admin)
    .await?)
}

/// An SMTP server on a free port that accepts every message and keeps none.
pub(crate) async fn smtp_sink(work: &Path) -> anyhow::Result<(tokio::process::Child, u16)> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let log = std::fs::File::create(work.join("smtp.log"))?;
    let child = tokio::process::Command::new("python3")
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Sink"])
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .context("starting python3 -m aiosmtpd (pip install aiosmtpd==1.4.6)")?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > deadline {
            bail!(
                "aiosmtpd did not start: see {}",
                work.join("smtp.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok((child, port))
}

pub(crate) async fn until_sent(
    admin: &mut PgConnection,
    after: i64,
    limit: Duration,
) -> anyhow::Result<i64> {
    let deadline = Instant::now() + limit;
    loop {
        let left = waiting(admin, after).await?;
        if left == 0 || Instant::now() > deadline {
            return Ok(left);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(a: Args) -> anyhow::Result<Report> {
    if a.common.tenants == 0 || a.messages == 0 {
        bail!("at least one Ordine and one message");
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

    let (_smtp, port) = smtp_sink(&work).await?;
    let env = [
        ("PATROCINIO_SMTP_URL", format!("smtp://127.0.0.1:{port}")),
        ("PATROCINIO_MAIL_RETRY_SECONDS", "1".to_owned()),
    ];
    let server = setup::server(&a.common.server, &database, &work, &files, &env).await?;
    let result = measure(&a, &mut admin, server.pid).await;
    server.stop().await;
    result
}

async fn measure(a: &Args, admin: &mut PgConnection, pid: u32) -> anyhow::Result<Report> {
    // The demo's own e-mails first, and the reminders the service queues when it starts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let left = until_sent(admin, 0, Duration::from_secs(300)).await?;
    if left > 0 {
        bail!("{left} of the demo's e-mails not sent after 5 minutes");
    }
    let seeded_messages: i64 =
        sqlx::query_scalar("SELECT count(*) FROM app.outbox WHERE status = 'inviato'")
            .fetch_one(&mut *admin)
            .await?;

    // Idle.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (ticks, xacts, t) = (cpu_ticks(pid)?, commits(admin).await?, Instant::now());
    tokio::time::sleep(Duration::from_secs(a.idle_seconds)).await;
    let secs = t.elapsed().as_secs_f64();
    // Linux reports CPU time in 1/100 s (USER_HZ).
    let idle_cpu_percent = (cpu_ticks(pid)? - ticks) as f64 / secs;
    // The statistics reach pg_stat_database with a delay of up to a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let idle_transactions_per_second = (commits(admin).await? - xacts) as f64 / secs;

    // Burst: one transaction queues every message.
    let apps: Vec<(Uuid, Uuid, String)> =
        sqlx::query_as("SELECT tenant_id, id, code FROM app.applications ORDER BY tenant_id, id")
            .fetch_all(&mut *admin)
            .await?;
    if apps.is_empty() {
        bail!("no applications seeded");
    }
    let before: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM app.outbox")
        .fetch_one(&mut *admin)
        .await?;
    let (mut tenants, mut ids, mut codes, mut recipients) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for n in 0..a.messages {
        let (tenant, id, code) = &apps[n % apps.len()];
        tenants.push(*tenant);
        ids.push(*id);
        codes.push(code.clone());
        recipients.push(format!("avvocato-{n}@carico.example.it"));
    }
    let t0 = Instant::now();
    sqlx::query(
        "INSERT INTO app.outbox (tenant_id, application_id, recipient, recipient_kind, template,
                                 payload)
         SELECT t, a, r, 'avvocato', 'protocollata',
                jsonb_build_object('codice', c, 'protocollo', '2026/0000001')
           FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[]) AS x(t, a, c, r)",
    )
    .bind(&tenants)
    .bind(&ids)
    .bind(&codes)
    .bind(&recipients)
    .execute(&mut *admin)
    .await?;
    let not_sent = until_sent(admin, before, Duration::from_secs(600)).await?;
    let seconds = t0.elapsed().as_secs_f64();
    let waits: Vec<i64> = sqlx::query_scalar(
        "SELECT (extract(epoch FROM sent_at - created_at) * 1e6)::bigint FROM app.outbox
          WHERE id > $1 AND status = 'inviato'",
    )
    .bind(before)
    .fetch_all(&mut *admin)
    .await?;
    let mut h = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3)?;
    for w in waits {
        h.record(w.max(1) as u64)?;
    }
    Ok(Report {
        tenants: a.common.tenants,
        seeded_messages,
        idle_seconds: a.idle_seconds,
        idle_cpu_percent,
        idle_transactions_per_second,
        messages: a.messages,
        seconds,
        messages_per_second: a.messages as f64 / seconds,
        not_sent,
        commit_to_sent_us: Percentiles::of(&h),
    })
}

pub fn print(r: &Report, json: &Path) {
    println!(
        "\n{} Ordini; the demo's {} e-mails sent first",
        r.tenants, r.seeded_messages
    );
    println!(
        "idle over {} s: service CPU {:.2} % of a core, {:.1} database transactions/s",
        r.idle_seconds, r.idle_cpu_percent, r.idle_transactions_per_second
    );
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{} messages queued at once: all sent in {:.2} s ({:.0}/s), {} not sent",
        r.messages, r.seconds, r.messages_per_second, r.not_sent
    );
    let p = &r.commit_to_sent_us;
    println!(
        "commit → 250 per message: p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        ms(p.p50),
        ms(p.p90),
        ms(p.p99),
        ms(p.max)
    );
    println!("JSON: {}", json.display());
}
