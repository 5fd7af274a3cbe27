//! Load generator and benchmark for Patrocinio.
//!
//! `loadtest http`: C concurrent clients send N GET requests to one URL of a running service
//! and report the latency distribution (hdrhistogram) and the throughput, as a table on the
//! terminal and as JSON.
//!
//! `loadtest ws`: the live workspace under load (see `ws.rs`): N Ordini, S sockets, E changes
//! over HTTP; change → fragment latency beside a bare LISTEN client, and memory per socket.
//! `loadtest ws --fanout`: one audience of 1,000 sockets, beside a bare axum + broadcast server
//! (see `fanout.rs`).
//!
//! `loadtest idle`: the database transactions and the CPU of a service with N Ordini and
//! nothing happening (see `idle.rs`).
//!
//! `loadtest board`: the lists, the search and the export on N Ordini of A applications each
//! (see `board.rs`).
//!
//! `loadtest backup`: backup, restore drill and restore of N Ordini of A applications each with
//! the release binary's own commands (see `backup.rs`).

mod backup;
mod board;
mod fanout;
mod idle;
mod mail;
mod setup;
mod ws;

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Parser)]
#[command(name = "loadtest", about = "Benchmark di Patrocinio")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// GET one URL with C concurrent clients, N requests in all.
    Http {
        /// For example http://127.0.0.1:8080/ready
        #[arg(long, default_value = "http://127.0.0.1:8080/ready")]
        url: String,
        #[arg(long, short = 'c', default_value_t = 32)]
        concurrency: u64,
        #[arg(long, short = 'n', default_value_t = 20_000)]
        requests: u64,
        /// Where to write the JSON report.
        #[arg(long, default_value = "loadtest-http.json")]
        json: PathBuf,
    },
    /// Sockets of many Ordini, changes over HTTP, latency to every socket (`--fanout`: one
    /// audience against a bare server).
    Ws(ws::Args),
    /// The e-mail outbox: idle cost over many Ordini, and a burst of messages to a real SMTP
    /// server.
    Mail(mail::Args),
    /// Many Ordini and nothing happening: the database transactions and the CPU at rest.
    Idle(idle::Args),
    /// The board, the search and the export on many Ordini with many applications each.
    Board(board::Args),
    /// Backup, restore drill and restore of many Ordini with many applications each.
    Backup(backup::Args),
}

#[derive(Serialize)]
struct HttpReport {
    url: String,
    concurrency: u64,
    requests: u64,
    errors: u64,
    seconds: f64,
    requests_per_second: f64,
    latency_us: Percentiles,
}

#[derive(Serialize)]
pub struct Percentiles {
    p50: u64,
    p90: u64,
    p99: u64,
    max: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        Self {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Http {
            url,
            concurrency,
            requests,
            json,
        } => {
            let report = http(&url, concurrency, requests).await?;
            print_http(&report);
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("writing {}", json.display()))?;
            println!("JSON: {}", json.display());
        }
        Command::Ws(args) if args.fanout => {
            let json = args.json();
            let report = fanout::run(args).await?;
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("writing {}", json.display()))?;
            fanout::print(&report, &json);
        }
        Command::Ws(args) => {
            let json = args.json();
            let report = ws::run(args).await?;
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("writing {}", json.display()))?;
            ws::print(&report, &json);
        }
        Command::Board(args) => {
            let json = args.json.clone();
            let report = board::run(args).await?;
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("writing {}", json.display()))?;
            board::print(&report, &json);
        }
        Command::Idle(args) => {
            let json = args.json.clone();
            let report = idle::run(args).await?;
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("writing {}", json.display()))?;
            idle::print(&report, &json);
        }
        Command::Backup(args) => {
            let json = args.json.clone();
            let report = backup::run(args).await?;
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("writing {}", json.display()))?;
            backup::print(&report, &json);
        }
        Command::Mail(args) => {
            let json = args.json.clone();
            let report = mail::run(args).await?;
            std::fs::write(&json, serde_json::to_vec_pretty(&report)?)
                .with_context(|| format!("writing {}", json.display()))?;
            mail::print(&report, &json);
        }
    }
    Ok(())
}

async fn http(url: &str, concurrency: u64, requests: u64) -> anyhow::Result<HttpReport> {
    if concurrency == 0 || requests == 0 {
        bail!("concurrency and requests must be positive");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency as usize)
        .timeout(Duration::from_secs(30))
        .build()?;
    client
        .get(url)
        .send()
        .await
        .with_context(|| format!("{url} is not reachable"))?;
    let (all, errors, seconds) = hammer(&client, url, concurrency, requests).await?;
    Ok(HttpReport {
        url: url.to_owned(),
        concurrency,
        requests,
        errors,
        seconds,
        requests_per_second: requests as f64 / seconds,
        latency_us: Percentiles::of(&all),
    })
}

/// `requests` GETs of `url` by `concurrency` tasks sharing `client`: the latencies (µs), the
/// failed requests and the seconds it all took.
async fn hammer(
    client: &reqwest::Client,
    url: &str,
    concurrency: u64,
    requests: u64,
) -> anyhow::Result<(Histogram<u64>, u64, f64)> {
    let next = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, url, next, errors) =
            (client.clone(), url.to_owned(), next.clone(), errors.clone());
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let t = Instant::now();
                let ok = match client.get(&url).send().await {
                    Ok(res) => res.status().is_success() && res.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                let _ = hist.record(t.elapsed().as_micros() as u64);
            }
            hist
        }));
    }
    let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    for task in tasks {
        all.add(task.await?)?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok((all, errors.load(Ordering::Relaxed), seconds))
}

fn print_http(r: &HttpReport) {
    println!(
        "GET {}  ({} clients, {} requests)",
        r.url, r.concurrency, r.requests
    );
    println!(
        "{:>12} {:>10} {:>10} {:>10} {:>10} {:>8}",
        "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    let ms = |us: u64| us as f64 / 1000.0;
    println!(
        "{:>12.0} {:>10.2} {:>10.2} {:>10.2} {:>10.2} {:>8}",
        r.requests_per_second,
        ms(r.latency_us.p50),
        ms(r.latency_us.p90),
        ms(r.latency_us.p99),
        ms(r.latency_us.max),
        r.errors
    );
}
