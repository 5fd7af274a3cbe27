//! What every scenario starts from: a fresh database (`patrocinio_carico`) on the PostgreSQL
//! of `--database-url` (an admin URL) or on an embedded one, with roles and migrations as
//! `patrocinio migrate` makes them; N Ordini seeded with the demo's data; the service binary
//! started on a free port.

use std::{
    path::{Path, PathBuf},
    process::Stdio,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use patrocinio::{
    db::{
        Db,
        embedded::{EmbeddedOptions, EmbeddedPostgres},
        provision,
    },
    demo::Seeded,
    domain::tenant::TenantId,
};
use sqlx::{Connection, Executor, PgConnection};

/// The options of every scenario.
#[derive(clap::Args)]
pub struct Common {
    /// The service binary (build it with `cargo build --release`).
    #[arg(long, default_value = "target/release/patrocinio")]
    pub server: PathBuf,
    /// An admin (superuser) URL of a PostgreSQL server; unset = an embedded PostgreSQL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Where the embedded PostgreSQL, the files and the server's log go.
    #[arg(long, default_value = "target/loadtest")]
    work_dir: PathBuf,
    /// Ordini.
    #[arg(long, short = 't', default_value_t = 50)]
    pub tenants: usize,
    /// A setting of the embedded PostgreSQL, `name=value` (repeat for more): for example
    /// `session_preload_libraries=auto_explain` and `auto_explain.log_min_duration=10ms` put
    /// the plans of the slow queries in its log.
    #[arg(long = "pg-setting", value_parser = setting)]
    pub pg_settings: Vec<(String, String)>,
}

fn setting(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, value)) if !name.trim().is_empty() => {
            Ok((name.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(format!("«{s}»: atteso nome=valore")),
    }
}

impl Common {
    /// The work folder, made if missing, as an absolute path.
    pub fn work_dir(&self) -> anyhow::Result<PathBuf> {
        std::fs::create_dir_all(&self.work_dir)?;
        Ok(std::path::absolute(&self.work_dir)?)
    }
}

const DATABASE: &str = "patrocinio_carico";
const APP_PASSWORD: &str = "carico-solo-locale";

pub struct Database {
    /// Stops the embedded PostgreSQL when dropped.
    _embedded: Option<EmbeddedPostgres>,
    /// Superuser, on the load test's database.
    pub admin_url: String,
    /// The service's role, on the load test's database.
    pub app_url: String,
}

/// A fresh database, migrated.
pub async fn database(work: &Path, common: &Common) -> anyhow::Result<Database> {
    let (embedded, admin_base) = match common.database_url.as_deref() {
        Some(url) => (None, without_database(url)?),
        None => {
            let mut options = EmbeddedOptions::new(work.join("pg"));
            options.durable = false;
            options.max_connections = 300;
            options.settings = common.pg_settings.clone();
            let pg =
                tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&options)).await??;
            let base = without_database(&pg.superuser_url("postgres"))?;
            (Some(pg), base)
        }
    };
    let mut admin = PgConnection::connect(&format!("{admin_base}/postgres")).await?;
    admin
        .execute(format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)").as_str())
        .await?;
    admin
        .execute(format!("CREATE DATABASE {DATABASE}").as_str())
        .await?;
    provision::ensure_roles(&mut admin, APP_PASSWORD).await?;
    admin.close().await?;
    let admin_url = format!("{admin_base}/{DATABASE}");
    let mut admin = PgConnection::connect(&admin_url).await?;
    provision::migrate(&mut admin).await?;
    admin.close().await?;
    let app_url = {
        let mut u = url::Url::parse(&admin_url)?;
        u.set_username(provision::APP_ROLE)
            .map_err(|_| anyhow::anyhow!("bad URL"))?;
        u.set_password(Some(APP_PASSWORD))
            .map_err(|_| anyhow::anyhow!("bad URL"))?;
        u.to_string()
    };
    Ok(Database {
        _embedded: embedded,
        admin_url,
        app_url,
    })
}

fn without_database(url: &str) -> anyhow::Result<String> {
    let mut u = url::Url::parse(url).context("DATABASE_URL is not a URL")?;
    u.set_path("");
    Ok(u.to_string().trim_end_matches('/').to_owned())
}

/// One seeded Ordine: its slug, id and the demo's accounts.
pub struct SeededOrdine {
    pub slug: String,
    pub id: TenantId,
    pub seeded: Seeded,
}

/// N Ordini (`carico-000`, …) with the demo's data; files under `files`.
pub async fn ordini(
    database: &Database,
    files: &Path,
    n: usize,
) -> anyhow::Result<(Vec<SeededOrdine>, Db)> {
    let db = Db::connect(&database.app_url, 8).await?;
    let storage = patrocinio::storage::Storage::local(files)?;
    let pdf =
        Arc::new(tokio::task::spawn_blocking(patrocinio::documents::pdf::PdfEngine::new).await?);
    let mut admin = PgConnection::connect(&database.admin_url).await?;
    let mut out = Vec::new();
    for t in 0..n {
        let slug = format!("carico-{t:03}");
        let seeded = patrocinio::demo::seed_ordine(
            &db,
            &storage,
            &pdf,
            &slug,
            &format!("Ordine di prova n. {t}"),
        )
        .await?;
        let id = TenantId(
            sqlx::query_scalar("SELECT id FROM app.tenants WHERE slug = $1")
                .bind(&slug)
                .fetch_one(&mut admin)
                .await?,
        );
        out.push(SeededOrdine { slug, id, seeded });
    }
    admin.close().await?;
    Ok((out, db))
}

/// The service, killed when dropped.
pub struct Server {
    pub child: tokio::process::Child,
    pub base: String,
    pub pid: u32,
}

/// Starts the service binary on a free port with `env` (and no other `PATROCINIO_` variable
/// of ours) and waits until it is ready.
pub async fn server(
    bin: &Path,
    database: &Database,
    work: &Path,
    files: &Path,
    env: &[(&str, String)],
) -> anyhow::Result<Server> {
    let bin: PathBuf = std::path::absolute(bin)?;
    if !bin.exists() {
        bail!(
            "{} not found: build it first (cargo build --release)",
            bin.display()
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(work.join("server.log"))?;
    let mut cmd = tokio::process::Command::new(&bin);
    for (k, _) in std::env::vars() {
        if k.starts_with("PATROCINIO_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("serve")
        .env("DATABASE_URL", &database.app_url)
        .env("PATROCINIO_BIND", format!("127.0.0.1:{port}"))
        .env("PATROCINIO_FILES_DIR", files)
        .env("PATROCINIO_DATA_DIR", work)
        .env("PATROCINIO_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::from(log.try_clone()?))
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", bin.display()))?;
    let pid = child.id().context("server pid")?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = http.get(format!("{base}/ready")).send().await
            && r.status().is_success()
        {
            break;
        }
        if Instant::now() > deadline || child.try_wait()?.is_some() {
            bail!(
                "the server did not start: see {}",
                work.join("server.log").display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Server { child, base, pid })
}

impl Server {
    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}
