//! Backups of the embedded PostgreSQL and of the file store, their restore, and the restore
//! drill that proves a backup can be used.
//!
//! - One folder per backup under the backup folder, named by its UTC start
//!   (`20261201T040000Z`): `pgdata/` (a plain `pg_basebackup` with the WAL it needs streamed in,
//!   `--wal-method=stream`, and a SHA-256 manifest), `files/` (a copy of the file store),
//!   `postgres-credentials.json` (the cluster's passwords, mode 0600) and `backup.json` (the
//!   descriptor: times, sizes, duration, verification, PostgreSQL version, row counts per Ordine).
//! - A backup is written under `<name>.incompleto` and renamed only once verified with
//!   `pg_verifybackup`: a failed or interrupted backup never looks complete (and a leftover
//!   `.incompleto` folder is removed by the next backup).
//! - One backup at a time: `.lock` in the backup folder holds the pid of the running one.
//! - Retention: after each backup, folders older than the retention are deleted, never the
//!   latest verified one.
//! - The file store is copied (not hard-linked): a later change to a stored file can never
//!   alter a backup.

use std::{
    collections::BTreeMap,
    fs, io,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Connection;

use crate::{
    config::Config,
    db::embedded::{EmbeddedOptions, EmbeddedPostgres, ServerBinaries},
};

const DESCRIPTOR: &str = "backup.json";
const INCOMPLETE: &str = ".incompleto";
const LOCK: &str = ".lock";
const CREDENTIALS: &str = "postgres-credentials.json";
/// The last drill's report, in the backup folder (read by `patrocinio stato`).
pub const LAST_DRILL: &str = "ultima-prova-di-ripristino.json";

/// Row counts: Ordine (slug) → table → rows.
pub type Counts = BTreeMap<String, BTreeMap<String, i64>>;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Descriptor {
    pub name: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub database_bytes: u64,
    pub files_bytes: u64,
    pub files_count: u64,
    pub postgres_version: String,
    pub verified: bool,
    /// What `pg_verifybackup` said.
    pub verification: String,
    pub counts: Counts,
}

impl Descriptor {
    pub fn total_bytes(&self) -> u64 {
        self.database_bytes + self.files_bytes
    }
}

fn io_context(what: &str, path: &Path) -> String {
    format!("{what} {}", path.display())
}

/// Holds the backup folder's lock; released on drop.
struct Lock(PathBuf);

impl Lock {
    fn take(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(LOCK);
        for _ in 0..2 {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    use io::Write;
                    write!(file, "{}", std::process::id())?;
                    return Ok(Self(path));
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let pid = fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<i32>().ok());
                    let alive = pid.is_some_and(|p| {
                        nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok()
                    });
                    if alive {
                        bail!(
                            "un altro backup o ripristino è in corso (pid {}): riprovare quando è terminato",
                            pid.unwrap_or_default()
                        );
                    }
                    // Left by a process that died: take it over.
                    fs::remove_file(&path).ok();
                }
                Err(e) => return Err(e).context(io_context("creazione del lucchetto", &path)),
            }
        }
        bail!("lucchetto {} non ottenuto", path.display())
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Copies a folder tree (files, folders, symbolic links), keeping permissions.
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    fs::set_permissions(to, fs::metadata(from)?.permissions())?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(entry.path())?, &target)?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Bytes and number of files below `dir` (0 if it does not exist).
fn tree_size(dir: &Path) -> (u64, u64) {
    let mut bytes = 0;
    let mut count = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(e.path()),
                Ok(t) if t.is_file() => {
                    bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                    count += 1;
                }
                _ => {}
            }
        }
    }
    (bytes, count)
}

fn is_empty_or_absent(dir: &Path) -> bool {
    match fs::read_dir(dir) {
        Ok(mut entries) => entries.next().is_none(),
        Err(_) => true,
    }
}

/// Runs a PostgreSQL client program; its output (both streams) on failure.
fn run(mut cmd: Command, what: &str) -> anyhow::Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("esecuzione di {what}"))?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if !out.status.success() {
        bail!("{what} non riuscito: {}", text.trim());
    }
    Ok(text)
}

/// `pg_verifybackup` on a backup's `pgdata`: `Ok(message)` or `Err(what is wrong)`.
pub fn verify(binaries: &ServerBinaries, backup: &Path) -> Result<String, String> {
    let mut cmd = Command::new(tool(binaries, "pg_verifybackup"));
    cmd.arg(backup.join("pgdata"));
    match run(cmd, "pg_verifybackup") {
        Ok(text) => Ok(text.trim().to_owned()),
        Err(e) => {
            // Bounded: a badly damaged backup can list thousands of files.
            let mut text = format!("{e:#}");
            if text.len() > 2000 {
                let mut cut = 2000;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push('…');
            }
            Err(text)
        }
    }
}

/// Row counts per Ordine of every tenant table (a table of schema `app` with a `tenant_id`),
/// read as the superuser (row-level security does not apply to it).
pub async fn count_rows(conn: &mut sqlx::PgConnection) -> anyhow::Result<Counts> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'app' AND c.column_name = 'tenant_id'
           AND t.table_type = 'BASE TABLE'
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut counts = Counts::new();
    for table in tables {
        let sql = format!(
            "SELECT t.slug, count(x.tenant_id) FROM app.tenants t
             LEFT JOIN app.\"{}\" x ON x.tenant_id = t.id GROUP BY t.slug",
            table.replace('"', "\"\"")
        );
        let rows: Vec<(String, i64)> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
        for (slug, n) in rows {
            counts.entry(slug).or_default().insert(table.clone(), n);
        }
    }
    Ok(counts)
}

/// The backups in `dir`, oldest first (incomplete folders are not backups).
pub fn list(dir: &Path) -> anyhow::Result<Vec<Descriptor>> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(out);
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(INCOMPLETE) || !e.path().is_dir() {
            continue;
        }
        if let Ok(text) = fs::read_to_string(e.path().join(DESCRIPTOR))
            && let Ok(d) = serde_json::from_str::<Descriptor>(&text)
        {
            out.push(d);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The backup named `which` (a folder name in `dir`, or a path).
pub fn locate(dir: &Path, which: &str) -> anyhow::Result<(PathBuf, Descriptor)> {
    let path = if which.contains('/') {
        PathBuf::from(which)
    } else {
        dir.join(which)
    };
    let text = fs::read_to_string(path.join(DESCRIPTOR))
        .with_context(|| format!("{} non è un backup completo", path.display()))?;
    let d: Descriptor = serde_json::from_str(&text)
        .with_context(|| format!("descrittore illeggibile in {}", path.display()))?;
    Ok((path, d))
}

/// A PostgreSQL program of the same installation as the server binaries in `dir`: `dir` itself,
/// else the folder the `postgres` there links to (`/usr/local/bin/postgres` is often a link
/// into `/usr/lib/postgresql/<version>/bin`, where the client programs are), else Debian's
/// folder of that major version.
pub fn tool(binaries: &ServerBinaries, name: &str) -> PathBuf {
    let mut candidates = vec![binaries.dir.join(name)];
    if let Ok(real) = fs::canonicalize(binaries.dir.join("postgres"))
        && let Some(parent) = real.parent()
    {
        candidates.push(parent.join(name));
    }
    candidates.push(
        Path::new(crate::db::embedded::DEBIAN_LIB_ROOT)
            .join(binaries.major.to_string())
            .join("bin")
            .join(name),
    );
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| candidates.swap_remove(0))
}

fn server_binaries(config: &Config) -> anyhow::Result<ServerBinaries> {
    let found = crate::db::embedded::find_server_binaries(
        config.postgres_bin.as_deref(),
        std::env::var_os("PATH").as_deref(),
        Path::new(crate::db::embedded::DEBIAN_LIB_ROOT),
    )?;
    Ok(found[0].clone())
}

/// Takes a backup of the embedded cluster (which must not be in use by a running `serve`: the
/// command starts it for itself) and of the file store, verifies it and prunes the old ones.
#[tracing::instrument(name = "esegui il backup", skip_all)]
pub async fn take(config: &Config, database: &str) -> anyhow::Result<Descriptor> {
    if config.database_url.is_some() {
        bail!(
            "`patrocinio backup` salva il PostgreSQL incorporato: con DATABASE_URL impostato usare pgBackRest (vedere il README)"
        );
    }
    let dir = config.backup_dir();
    fs::create_dir_all(&dir).with_context(|| io_context("creazione di", &dir))?;
    let _lock = Lock::take(&dir)?;
    // Leftovers of interrupted backups.
    for e in fs::read_dir(&dir)?.flatten() {
        if e.file_name().to_string_lossy().ends_with(INCOMPLETE) {
            fs::remove_dir_all(e.path()).ok();
        }
    }
    let started_at = Utc::now();
    let clock = Instant::now();
    let name = started_at.format("%Y%m%dT%H%M%SZ").to_string();
    let work = dir.join(format!("{name}{INCOMPLETE}"));
    let result = take_into(config, database, &work, &name, started_at, clock).await;
    match result {
        Ok(descriptor) => {
            let target = dir.join(&name);
            fs::rename(&work, &target).with_context(|| io_context("rinomina di", &work))?;
            prune(&dir, config.backup_retention_days, Utc::now())?;
            tracing::info!(
                backup = %name,
                duration_ms = descriptor.duration_ms,
                "backup taken and verified"
            );
            Ok(descriptor)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&work);
            Err(e)
        }
    }
}

async fn take_into(
    config: &Config,
    database: &str,
    work: &Path,
    name: &str,
    started_at: DateTime<Utc>,
    clock: Instant,
) -> anyhow::Result<Descriptor> {
    fs::create_dir(work).with_context(|| io_context("creazione di", work))?;
    let server = crate::cli::start_embedded(config).await?;
    let taken = async {
        crate::cli::provision_embedded(&server).await?;
        let mut conn = sqlx::PgConnection::connect(&server.superuser_url(database)).await?;
        // Nothing else writes while the command holds the cluster: these are the counts at the
        // backup's point.
        let counts = count_rows(&mut conn).await?;
        conn.close().await?;
        let mut cmd = Command::new(tool(&server.binaries, "pg_basebackup"));
        cmd.args(["-h", "127.0.0.1", "-p", &server.port().to_string()])
            .args(["-U", crate::db::embedded::SUPERUSER, "--no-password"])
            .arg("-D")
            .arg(work.join("pgdata"))
            .args(["--format=plain", "--wal-method=stream", "--checkpoint=fast"])
            .arg("--manifest-checksums=SHA256")
            .env("PGPASSWORD", &server.credentials().superuser_password);
        let run_it = tokio::task::spawn_blocking(move || run(cmd, "pg_basebackup"));
        run_it.await??;
        anyhow::Ok(counts)
    }
    .await;
    let binaries = server.binaries.clone();
    let version = server.binaries.version.clone();
    tokio::task::spawn_blocking(move || server.stop()).await??;
    let counts = taken?;

    // A bucket is downloaded into the backup's `files/`, object by object, through the store.
    let files_location = config.files_location()?;
    let bucket = matches!(files_location, crate::storage::Location::S3 { .. });
    if bucket {
        let from = crate::storage::Storage::open(&files_location)?;
        let to = crate::storage::Storage::local(&work.join("files"))?;
        from.copy_all(&to)
            .await
            .with_context(|| format!("copia dei file da {}", from.describe()))?;
    }
    let files_dir = config.files_dir();
    let credentials = config.data_dir.join(CREDENTIALS);
    let work_owned = work.to_path_buf();
    let verification = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        if bucket {
            // Downloaded above.
        } else if files_dir.is_dir() {
            copy_tree(&files_dir, &work_owned.join("files"))
                .context("copia della cartella dei file")?;
        } else {
            fs::create_dir(work_owned.join("files"))?;
        }
        fs::copy(&credentials, work_owned.join(CREDENTIALS)).context("copia delle credenziali")?;
        fs::set_permissions(
            work_owned.join(CREDENTIALS),
            fs::Permissions::from_mode(0o600),
        )?;
        Ok(verify(&binaries, &work_owned))
    })
    .await??;
    let (verified, verification) = match verification {
        Ok(m) => (true, m),
        Err(m) => bail!("backup non verificato, scartato: {m}"),
    };
    let (database_bytes, _) = tree_size(&work.join("pgdata"));
    let (files_bytes, files_count) = tree_size(&work.join("files"));
    let descriptor = Descriptor {
        name: name.to_owned(),
        started_at,
        finished_at: Utc::now(),
        duration_ms: clock.elapsed().as_millis() as u64,
        database_bytes,
        files_bytes,
        files_count,
        postgres_version: version,
        verified,
        verification,
        counts,
    };
    let path = work.join(DESCRIPTOR);
    fs::write(&path, serde_json::to_vec_pretty(&descriptor)?)
        .with_context(|| io_context("scrittura di", &path))?;
    Ok(descriptor)
}

/// Deletes backups whose start is older than `days` before `now`, never the latest verified.
pub fn prune(dir: &Path, days: u32, now: DateTime<Utc>) -> anyhow::Result<Vec<String>> {
    let backups = list(dir)?;
    let keep = backups
        .iter()
        .rev()
        .find(|d| d.verified)
        .map(|d| d.name.clone());
    let limit = now - chrono::Duration::days(i64::from(days));
    let mut pruned = Vec::new();
    for d in backups {
        if d.started_at < limit && Some(&d.name) != keep.as_ref() {
            fs::remove_dir_all(dir.join(&d.name))
                .with_context(|| format!("eliminazione del backup {}", d.name))?;
            pruned.push(d.name);
        }
    }
    Ok(pruned)
}

/// Verifies a backup again (its files may have been damaged since): `Err` if it fails.
pub fn reverify(config: &Config, which: &str) -> anyhow::Result<String> {
    let (path, _) = locate(&config.backup_dir(), which)?;
    verify(&server_binaries(config)?, &path).map_err(|m| anyhow::anyhow!("backup alterato: {m}"))
}

/// Whether a postmaster runs in `cluster` (its `postmaster.pid` names a live process).
fn live_postmaster(cluster: &Path) -> Option<i32> {
    let pid = fs::read_to_string(cluster.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse::<i32>()
        .ok()?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
        .is_ok()
        .then_some(pid)
}

/// Rebuilds the data folder (`<data dir>/postgres`, its credentials and the file store) from a
/// backup. Refuses a folder where a server runs or that is not empty.
#[tracing::instrument(name = "ripristina il backup", skip_all)]
pub fn restore(config: &Config, which: &str) -> anyhow::Result<PathBuf> {
    if config.database_url.is_some() {
        bail!(
            "`patrocinio restore` ripristina il PostgreSQL incorporato: con DATABASE_URL impostato usare pgBackRest (vedere il README)"
        );
    }
    let dir = config.backup_dir();
    let (backup, _) = locate(&dir, which)?;
    let cluster = config.data_dir.join("postgres");
    if let Some(pid) = live_postmaster(&cluster) {
        bail!(
            "la cartella {} è in uso da un server PostgreSQL in esecuzione (pid {pid}): fermare Patrocinio prima di ripristinare",
            cluster.display()
        );
    }
    if !is_empty_or_absent(&cluster) {
        bail!(
            "la cartella {} non è vuota: spostarla altrove prima di ripristinare (il ripristino non sovrascrive dati esistenti)",
            cluster.display()
        );
    }
    let files = config.files_dir();
    // With a bucket, the database is restored and the bucket left as it is (it is not this
    // machine's to overwrite); the backup's `files/` can be uploaded with any S3 client.
    let bucket = matches!(
        config.files_location()?,
        crate::storage::Location::S3 { .. }
    );
    if !bucket && !is_empty_or_absent(&files) {
        bail!(
            "la cartella dei file {} non è vuota: spostarla altrove prima di ripristinare",
            files.display()
        );
    }
    fs::create_dir_all(&dir)?;
    let _lock = Lock::take(&dir)?;
    verify(&server_binaries(config)?, &backup)
        .map_err(|m| anyhow::anyhow!("backup alterato, nulla è stato ripristinato: {m}"))?;
    fs::create_dir_all(&config.data_dir)?;
    let partial = config.data_dir.join(format!("postgres{INCOMPLETE}"));
    let _ = fs::remove_dir_all(&partial);
    copy_tree(&backup.join("pgdata"), &partial).context("copia del cluster")?;
    fs::set_permissions(&partial, fs::Permissions::from_mode(0o700))?;
    // A base backup's manifest is not part of a data folder.
    let _ = fs::remove_file(partial.join("backup_manifest"));
    if cluster.exists() {
        fs::remove_dir(&cluster).ok();
    }
    fs::rename(&partial, &cluster).context("cluster ripristinato")?;
    let credentials = config.data_dir.join(CREDENTIALS);
    fs::copy(backup.join(CREDENTIALS), &credentials).context("credenziali")?;
    fs::set_permissions(&credentials, fs::Permissions::from_mode(0o600))?;
    if bucket {
        tracing::warn!(
            "file store on a bucket: left untouched; the backup's files/ folder holds its copy"
        );
    } else {
        copy_tree(&backup.join("files"), &files).context("copia dei file")?;
    }
    Ok(cluster)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DrillReport {
    pub backup: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub ok: bool,
    pub checks: Vec<Check>,
}

impl DrillReport {
    pub fn render(&self) -> String {
        let mut out = format!(
            "Prova di ripristino del backup {} ({}), {} ms: {}\n",
            self.backup,
            self.finished_at.format("%Y-%m-%d %H:%M UTC"),
            self.duration_ms,
            if self.ok { "SUPERATA" } else { "FALLITA" }
        );
        for c in &self.checks {
            out.push_str(&format!(
                "  [{}] {}: {}\n",
                if c.ok { "ok" } else { "NO" },
                c.name,
                c.detail
            ));
        }
        out
    }
}

/// Tables whose rows name a stored file and its SHA-256 (key column, hash column).
const FILE_COLUMNS: &[(&str, &str, &str)] = &[
    ("attachments", "storage_key", "sha256"),
    ("protocol_daily_registers", "pdf_key", "pdf_sha256"),
];

/// Restores the latest verified backup into a scratch cluster under the temporary folder,
/// starts it on a free port, checks it, stores and returns the report.
#[tracing::instrument(name = "prova di ripristino", skip_all)]
pub async fn drill(config: &Config, database: &str) -> anyhow::Result<DrillReport> {
    let dir = config.backup_dir();
    let Some(latest) = list(&dir)?.into_iter().rev().find(|d| d.verified) else {
        bail!("nessun backup verificato in {}", dir.display());
    };
    let started_at = Utc::now();
    let clock = Instant::now();
    let backup = dir.join(&latest.name);
    let scratch = std::env::temp_dir().join(format!(
        "patrocinio-prova-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let mut checks = Vec::new();
    let outcome = drill_in(config, database, &backup, &latest, &scratch, &mut checks).await;
    let _ = fs::remove_dir_all(&scratch);
    if let Err(e) = outcome {
        checks.push(Check {
            name: "ripristino e avvio".into(),
            ok: false,
            detail: format!("{e:#}"),
        });
    }
    let report = DrillReport {
        backup: latest.name.clone(),
        started_at,
        finished_at: Utc::now(),
        duration_ms: clock.elapsed().as_millis() as u64,
        ok: !checks.is_empty() && checks.iter().all(|c| c.ok),
        checks,
    };
    let text = serde_json::to_vec_pretty(&report)?;
    fs::write(
        backup.join(format!(
            "prova-di-ripristino-{}.json",
            report.finished_at.format("%Y%m%dT%H%M%SZ")
        )),
        &text,
    )?;
    fs::write(dir.join(LAST_DRILL), &text)?;
    Ok(report)
}

async fn drill_in(
    config: &Config,
    database: &str,
    backup: &Path,
    latest: &Descriptor,
    scratch: &Path,
    checks: &mut Vec<Check>,
) -> anyhow::Result<()> {
    let binaries = server_binaries(config)?;
    let verification = verify(&binaries, backup);
    checks.push(Check {
        name: "verifica del backup (pg_verifybackup)".into(),
        ok: verification.is_ok(),
        detail: match &verification {
            Ok(m) | Err(m) => m.clone(),
        },
    });
    verification.map_err(|m| anyhow::anyhow!("backup alterato: {m}"))?;
    fs::create_dir_all(scratch)?;
    // The server's user (`postgres` when we are root) must reach the scratch cluster.
    fs::set_permissions(scratch, fs::Permissions::from_mode(0o755))?;
    let cluster = scratch.join("postgres");
    copy_tree(&backup.join("pgdata"), &cluster).context("copia del cluster")?;
    fs::set_permissions(&cluster, fs::Permissions::from_mode(0o700))?;
    let _ = fs::remove_file(cluster.join("backup_manifest"));
    fs::copy(backup.join(CREDENTIALS), scratch.join(CREDENTIALS))?;
    let mut options = EmbeddedOptions::new(scratch);
    options.bin_dir = config.postgres_bin.clone();
    options.durable = false;
    options.max_connections = 20;
    let server = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&options))
        .await
        .context("PostgreSQL di prova")??;
    let result = drill_checks(&server, database, backup, latest, checks).await;
    tokio::task::spawn_blocking(move || server.stop()).await??;
    result
}

async fn drill_checks(
    server: &EmbeddedPostgres,
    database: &str,
    backup: &Path,
    latest: &Descriptor,
    checks: &mut Vec<Check>,
) -> anyhow::Result<()> {
    let mut conn = sqlx::PgConnection::connect(&server.superuser_url(database)).await?;

    // Row counts per Ordine, against those recorded at backup time.
    let counts = count_rows(&mut conn).await?;
    let mut differences = Vec::new();
    for (slug, tables) in latest.counts.iter() {
        for (table, expected) in tables {
            let found = counts.get(slug).and_then(|t| t.get(table)).copied();
            if found != Some(*expected) {
                differences.push(format!(
                    "{slug}.{table}: {expected} attese, {}",
                    found.map_or("tabella assente".into(), |n| format!("{n} trovate"))
                ));
            }
        }
    }
    for slug in counts.keys().filter(|s| !latest.counts.contains_key(*s)) {
        differences.push(format!("Ordine {slug} non presente al momento del backup"));
    }
    let rows: i64 = counts.values().flat_map(|t| t.values()).sum();
    checks.push(Check {
        name: "righe per Ordine".into(),
        ok: differences.is_empty() && !latest.counts.is_empty(),
        detail: if differences.is_empty() {
            format!(
                "{} Ordini, {rows} righe, uguali a quelle del backup",
                counts.len()
            )
        } else {
            differences.join("; ")
        },
    });

    // Row-level security on every tenant table.
    let unprotected: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'app' AND c.relkind = 'r'
           AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid
                       AND a.attname = 'tenant_id' AND NOT a.attisdropped)
           AND NOT (c.relrowsecurity AND c.relforcerowsecurity)
         ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await?;
    let tenant_tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.columns
         WHERE table_schema = 'app' AND column_name = 'tenant_id'",
    )
    .fetch_one(&mut conn)
    .await?;
    checks.push(Check {
        name: "sicurezza per riga (ENABLE + FORCE)".into(),
        ok: unprotected.is_empty() && tenant_tables > 0,
        detail: if unprotected.is_empty() {
            format!("attiva e forzata su tutte le {tenant_tables} tabelle degli Ordini")
        } else {
            format!("non forzata su: {}", unprotected.join(", "))
        },
    });

    // Every stored file against its row's SHA-256, read through the store's interface (the
    // same key-to-file mapping as when the service wrote it).
    let files = crate::storage::Storage::local(&backup.join("files"))?;
    let mut checked = 0u64;
    let mut bad = Vec::new();
    for (table, key, hash) in FILE_COLUMNS {
        let sql = format!("SELECT {key}, {hash} FROM app.{table} WHERE {key} IS NOT NULL");
        let rows: Vec<(String, String)> = sqlx::query_as(&sql).fetch_all(&mut conn).await?;
        for (key, sha) in rows {
            checked += 1;
            // Keys are generated by the server, but a row is data: no escaping the folder.
            if key.split('/').any(|p| p == ".." || p.is_empty()) {
                bad.push(format!("{key}: chiave non valida"));
                continue;
            }
            match files.get(&key).await {
                Ok(bytes) => {
                    if hex::encode(Sha256::digest(&bytes)) != sha {
                        bad.push(format!("{key}: impronta diversa"));
                    }
                }
                Err(_) => bad.push(format!("{key}: file mancante")),
            }
        }
    }
    bad.truncate(20);
    checks.push(Check {
        name: "impronte SHA-256 dei file".into(),
        ok: bad.is_empty(),
        detail: if bad.is_empty() {
            format!("{checked} file, tutti con l'impronta registrata")
        } else {
            bad.join("; ")
        },
    });
    conn.close().await?;

    // Every Ordine's audit chain, read as the service role through row-level security.
    let db = crate::db::Db::connect(&server.app_url(database), 2).await?;
    let mut broken = Vec::new();
    let mut entries = 0;
    let tenants = crate::store::tenants::list(&db).await?;
    for tenant in &tenants {
        let mut tx = db.tenant_tx(tenant.id).await?;
        match crate::store::audit::verify_chain(&mut tx).await? {
            Ok(n) => entries += n,
            Err(b) => broken.push(format!("{}: voce {}: {}", tenant.slug, b.seq, b.reason)),
        }
        tx.commit().await?;
    }
    db.close().await;
    checks.push(Check {
        name: "catena del registro di audit".into(),
        ok: broken.is_empty(),
        detail: if broken.is_empty() {
            format!("{} Ordini, {entries} voci, catene integre", tenants.len())
        } else {
            broken.join("; ")
        },
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_backup(dir: &Path, name: &str, at: DateTime<Utc>, verified: bool) {
        let d = Descriptor {
            name: name.into(),
            started_at: at,
            finished_at: at,
            duration_ms: 1,
            database_bytes: 1,
            files_bytes: 0,
            files_count: 0,
            postgres_version: "17".into(),
            verified,
            verification: String::new(),
            counts: Counts::new(),
        };
        fs::create_dir_all(dir.join(name)).unwrap();
        fs::write(
            dir.join(name).join(DESCRIPTOR),
            serde_json::to_vec(&d).unwrap(),
        )
        .unwrap();
    }

    #[test]
    fn retention_prunes_old_backups_but_never_the_latest_verified() {
        let tmp = tempfile::tempdir().unwrap();
        let now = Utc::now();
        let day = chrono::Duration::days(1);
        fake_backup(tmp.path(), "a", now - day * 200, true);
        fake_backup(tmp.path(), "b", now - day * 100, true);
        fake_backup(tmp.path(), "c", now - day * 95, false);
        fake_backup(tmp.path(), "d", now - day * 10, true);
        let pruned = prune(tmp.path(), 90, now).unwrap();
        assert_eq!(pruned, vec!["a", "b", "c"]);
        let left: Vec<String> = list(tmp.path())
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(left, vec!["d"]);

        // All old: the latest verified one stays, the unverified newer one goes.
        let tmp = tempfile::tempdir().unwrap();
        fake_backup(tmp.path(), "a", now - day * 200, true);
        fake_backup(tmp.path(), "b", now - day * 150, false);
        assert_eq!(prune(tmp.path(), 90, now).unwrap(), vec!["b"]);
        assert_eq!(list(tmp.path()).unwrap()[0].name, "a");
    }

    #[test]
    fn an_incomplete_folder_is_not_a_backup() {
        let tmp = tempfile::tempdir().unwrap();
        fake_backup(tmp.path(), "x.incompleto", Utc::now(), true);
        assert!(list(tmp.path()).unwrap().is_empty());
    }
}
