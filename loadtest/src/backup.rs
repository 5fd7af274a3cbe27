//! `loadtest backup`: backup, restore drill and restore of a large embedded installation. A data
//! folder laid out as `patrocinio serve` keeps it (cluster in `postgres/`, database
//! `patrocinio`, files in `files/`) gets N Ordini with the demo's data and A applications each,
//! written by the board scenario's set-based seeding; then the release binary's own commands
//! run on it, one after the other, each timed from outside: `patrocinio backup`, `patrocinio
//! prova-ripristino` and `patrocinio restore` into an empty folder. Sizes come from the
//! backup's descriptor.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::Instant,
};

use anyhow::{Context, bail};
use patrocinio::db::{
    Db,
    embedded::{EmbeddedOptions, EmbeddedPostgres},
    provision,
};
use serde::Serialize;
use sqlx::{Connection, Executor, PgConnection};

use crate::{board, setup};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: setup::Common,
    /// Applications written in each Ordine besides the demo's (0: the demo's data only).
    #[arg(long, short = 'a', default_value_t = 2_000)]
    pub applications: i32,
    /// Where to write the JSON report.
    #[arg(long, default_value = "loadtest-backup.json")]
    pub json: PathBuf,
}

#[derive(Serialize)]
pub struct Report {
    tenants: usize,
    applications_per_ordine: i32,
    applications_in_all: i64,
    seed_seconds: f64,
    backup_name: String,
    backup_seconds: f64,
    /// As the backup's descriptor says (cluster and the WAL to its restore point).
    database_bytes: u64,
    files_bytes: u64,
    files_count: u64,
    drill_seconds: f64,
    drill_passed: bool,
    restore_seconds: f64,
    restored_cluster_bytes: u64,
}

const DATABASE: &str = "patrocinio";

fn tree_bytes(dir: &Path) -> u64 {
    let mut bytes = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => bytes += e.metadata().map(|m| m.len()).unwrap_or(0),
                _ => {}
            }
        }
    }
    bytes
}

/// Runs one `patrocinio` command on `data` with `backups`; its seconds and output.
async fn timed(
    bin: &Path,
    data: &Path,
    backups: &Path,
    args: &[&str],
) -> anyhow::Result<(f64, String)> {
    let mut cmd = tokio::process::Command::new(bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("PATROCINIO_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.args(args)
        .env("PATROCINIO_DATA_DIR", data)
        .env("PATROCINIO_BACKUP_DIR", backups)
        .env("PATROCINIO_LOG", "warn")
        .stdin(Stdio::null());
    let started = Instant::now();
    let out = cmd
        .output()
        .await
        .with_context(|| format!("starting {}", bin.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("patrocinio {}: {}", args.join(" "), text.trim());
    }
    Ok((seconds, text))
}

pub async fn run(a: Args) -> anyhow::Result<Report> {
    if a.common.tenants == 0 || a.applications < 0 || a.applications > 60_000 {
        bail!("at least one Ordine and between 0 and 60,000 applications each");
    }
    let bin = std::path::absolute(&a.common.server)?;
    if !bin.exists() {
        bail!(
            "{} not found: build it first (cargo build --release)",
            bin.display()
        );
    }
    let work = a.common.work_dir()?.join("backup");
    // A fresh installation each run.
    let _ = std::fs::remove_dir_all(&work);
    let data = work.join("dati");
    let backups = work.join("backup");
    let restored = work.join("ripristino");
    for dir in [&work, &data, &restored] {
        std::fs::create_dir_all(dir)?;
        // When we are root, the server runs as `postgres`, which must reach the folders.
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
    }

    // 1. The installation: roles, database and migrations as `serve` makes them, the Ordini,
    //    the applications.
    let started = Instant::now();
    let mut options = EmbeddedOptions::new(&data);
    options.durable = false;
    let pg = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&options)).await??;
    let mut admin = PgConnection::connect(&pg.superuser_url("postgres")).await?;
    provision::ensure_roles(&mut admin, &pg.credentials().app_password).await?;
    provision::ensure_database(&mut admin, DATABASE).await?;
    admin.close().await?;
    let mut admin = PgConnection::connect(&pg.superuser_url(DATABASE)).await?;
    provision::migrate(&mut admin).await?;
    let db = Db::connect(&pg.app_url(DATABASE), 8).await?;
    let storage = patrocinio::storage::Storage::local(&data.join("files"))?;
    let pdf =
        Arc::new(tokio::task::spawn_blocking(patrocinio::documents::pdf::PdfEngine::new).await?);
    admin.execute(board::CF_FUNCTION).await?;
    for t in 0..a.common.tenants {
        let slug = format!("carico-{t:03}");
        patrocinio::demo::seed_ordine(&db, &storage, &pdf, &slug, &format!("Ordine n. {t}"))
            .await?;
        if a.applications > 0 {
            let id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM app.tenants WHERE slug = $1")
                .bind(&slug)
                .fetch_one(&mut admin)
                .await?;
            board::seed_ordine(
                &mut admin,
                id,
                a.applications,
                t as i64 * i64::from(a.applications),
            )
            .await?;
        }
        if t % 10 == 9 {
            println!("{} Ordini seeded", t + 1);
        }
    }
    db.close().await;
    admin.execute("ANALYZE").await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM app.applications")
        .fetch_one(&mut admin)
        .await?;
    admin.close().await?;
    tokio::task::spawn_blocking(move || pg.stop()).await??;
    let seed_seconds = started.elapsed().as_secs_f64();
    println!("{total} applications in {seed_seconds:.0} s");

    // 2. The binary's own commands, timed.
    let (backup_seconds, text) = timed(&bin, &data, &backups, &["backup"]).await?;
    println!("backup: {backup_seconds:.1} s: {}", text.trim());
    let (_, list) = timed(&bin, &data, &backups, &["backup", "list"]).await?;
    let name = list
        .lines()
        .last()
        .and_then(|l| l.split('\t').next())
        .context("no backup listed")?
        .to_owned();
    let descriptor: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backups.join(&name).join("backup.json"))?)?;
    let (drill_seconds, drill) = timed(&bin, &data, &backups, &["prova-ripristino"]).await?;
    println!("restore drill: {drill_seconds:.1} s");
    print!("{drill}");
    let (restore_seconds, text) = timed(&bin, &restored, &backups, &["restore", &name]).await?;
    println!("restore: {restore_seconds:.1} s: {}", text.trim());
    Ok(Report {
        tenants: a.common.tenants,
        applications_per_ordine: a.applications,
        applications_in_all: total,
        seed_seconds,
        backup_name: name,
        backup_seconds,
        database_bytes: descriptor["database_bytes"].as_u64().unwrap_or(0),
        files_bytes: descriptor["files_bytes"].as_u64().unwrap_or(0),
        files_count: descriptor["files_count"].as_u64().unwrap_or(0),
        drill_seconds,
        drill_passed: drill.contains("SUPERATA"),
        restore_seconds,
        restored_cluster_bytes: tree_bytes(&restored.join("postgres")),
    })
}

pub fn print(r: &Report, json: &Path) {
    let mb = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "{} Ordini, {} applications ({} per Ordine), seeded in {:.0} s",
        r.tenants, r.applications_in_all, r.applications_per_ordine, r.seed_seconds
    );
    println!(
        "backup {}: {:.1} s, database {:.1} MB, files {:.1} MB ({} files)",
        r.backup_name,
        r.backup_seconds,
        mb(r.database_bytes),
        mb(r.files_bytes),
        r.files_count
    );
    println!(
        "restore drill: {:.1} s ({}); restore: {:.1} s (cluster {:.1} MB)",
        r.drill_seconds,
        if r.drill_passed { "passed" } else { "FAILED" },
        r.restore_seconds,
        mb(r.restored_cluster_bytes)
    );
    println!("JSON: {}", json.display());
}
