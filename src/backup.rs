//! Backups of the embedded PostgreSQL and of the file store, their restore (to the backup's
//! point or to a moment through the archived WAL), and the restore drill that proves a backup
//! can be used.
//!
//! - One folder per backup under the backup folder, named by its UTC start
//!   (`20261201T040000Z`): `pgdata/` (a plain `pg_basebackup` of the running cluster with the
//!   WAL it needs streamed in, `--wal-method=stream`, and a SHA-256 manifest), `wal/` (the WAL
//!   from the base backup's end to the backup's restore point), `files/` (a copy of the file
//!   store), `postgres-credentials.json` (the cluster's passwords, mode 0600) and `backup.json`
//!   (the descriptor: times, sizes, duration, verification, WAL positions, row counts per
//!   Ordine).
//! - The backup's point: after the base backup, writers wait for an instant (SHARE locks on the
//!   tenant tables) while the rows are counted and a named restore point is written; restored
//!   to it, a copy has exactly those counts, even though the service kept writing meanwhile.
//! - A backup is written under `<name>.incompleto` and renamed only once verified
//!   (`pg_verifybackup`, then `pg_waldump` up to the restore point): a failed or interrupted
//!   backup never looks complete (and a leftover `.incompleto` folder is removed by the next).
//! - One backup at a time: `.lock` in the backup folder holds the pid of the running one.
//! - Retention: after each backup, folders older than the retention are deleted, never the
//!   latest verified one, and the archived WAL that no kept backup needs.
//! - Restores and drills run PostgreSQL's archive recovery with the targets on the command
//!   line, wait for the promotion (a new timeline, so that later WAL never collides with the
//!   abandoned history) and leave an ordinary cluster.
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
    db::embedded::{EmbeddedOptions, EmbeddedPostgres, ServerBinaries, ServerHandle},
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
    /// Where the backup stands in the cluster's WAL (absent in backups made before WAL
    /// archiving: those restore to the end of their base backup).
    #[serde(default)]
    pub point: Option<BackupPoint>,
}

/// A backup's place in its cluster's history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BackupPoint {
    /// The cluster's system identifier: its archived WAL is in `<backup dir>/wal/<this>/`.
    pub system_identifier: String,
    pub timeline: u32,
    pub start_lsn: String,
    /// The end of the base backup: the earliest point a restore can stop at.
    pub end_lsn: String,
    /// A moment after `end_lsn`: `--to` may not be earlier.
    pub consistent_at: DateTime<Utc>,
    /// The named restore point at which `counts` hold; `restore NAME` stops there.
    pub restore_point: String,
    pub restore_point_lsn: String,
    pub restore_point_at: DateTime<Utc>,
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

fn bounded(mut text: String) -> String {
    // A badly damaged backup can list thousands of files.
    if text.len() > 2000 {
        let mut cut = 2000;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// `pg_verifybackup` on a backup's `pgdata` (files against the manifest, and the WAL of the
/// base backup), then, with `point`, `pg_waldump` reads every record of `wal/` from the
/// backup's end to its restore point (each record's CRC is checked): `Ok(message)` or
/// `Err(what is wrong)`.
pub fn verify(
    binaries: &ServerBinaries,
    backup: &Path,
    point: Option<&BackupPoint>,
) -> Result<String, String> {
    let mut cmd = Command::new(tool(binaries, "pg_verifybackup"));
    cmd.arg(backup.join("pgdata"));
    let text = match run(cmd, "pg_verifybackup") {
        Ok(text) => text.trim().to_owned(),
        Err(e) => return Err(bounded(format!("{e:#}"))),
    };
    let Some(point) = point else {
        return Ok(text);
    };
    let mut cmd = Command::new(tool(binaries, "pg_waldump"));
    cmd.arg("--path")
        .arg(backup.join("wal"))
        .args(["--timeline", &point.timeline.to_string()])
        .args(["--start", &point.end_lsn, "--end", &point.restore_point_lsn])
        .arg("--quiet");
    match run(cmd, "pg_waldump") {
        Ok(_) => Ok(format!(
            "{text}; WAL fino al punto di ripristino {} letto e integro",
            point.restore_point
        )),
        Err(e) => Err(bounded(format!("WAL del backup: {e:#}"))),
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

/// Takes a backup of the embedded cluster (started for the command: `serve` must not be
/// running) and of the file store, verifies it and prunes the old ones.
#[tracing::instrument(name = "esegui il backup", skip_all)]
pub async fn take(config: &Config, database: &str) -> anyhow::Result<Descriptor> {
    if config.database_url.is_some() {
        bail!(
            "`patrocinio backup` salva il PostgreSQL incorporato: con DATABASE_URL impostato usare pgBackRest (vedere il README)"
        );
    }
    let server = crate::cli::start_embedded(config).await?;
    let result = async {
        crate::cli::provision_embedded(&server).await?;
        take_live(config, database, &server.handle()).await
    }
    .await;
    tokio::task::spawn_blocking(move || server.stop()).await??;
    result
}

/// Takes a backup of a running embedded cluster (the command's own, or `serve`'s while it
/// serves) and of the file store, verifies it and prunes the old backups and WAL.
#[tracing::instrument(name = "backup del cluster in esecuzione", skip_all)]
pub async fn take_live(
    config: &Config,
    database: &str,
    server: &ServerHandle,
) -> anyhow::Result<Descriptor> {
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
    let result = take_into(config, database, server, &work, &name, started_at, clock).await;
    match result {
        Ok(descriptor) => {
            let target = dir.join(&name);
            fs::rename(&work, &target).with_context(|| io_context("rinomina di", &work))?;
            prune(&dir, config.backup_retention_days, Utc::now())?;
            prune_wal(
                &dir,
                &config.wal_archive_dir(),
                config.backup_retention_days,
            )?;
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

/// The WAL range of a base backup, from its manifest: (timeline, start LSN, end LSN).
fn manifest_wal_range(manifest: &Path) -> anyhow::Result<(u32, String, String)> {
    let text = fs::read_to_string(manifest).context("lettura del manifest del backup")?;
    let json: serde_json::Value = serde_json::from_str(&text).context("manifest illeggibile")?;
    let range = json["WAL-Ranges"]
        .as_array()
        .and_then(|r| r.last())
        .context("manifest senza intervallo WAL")?;
    let timeline = range["Timeline"]
        .as_u64()
        .and_then(|t| u32::try_from(t).ok())
        .context("manifest senza timeline")?;
    let start = range["Start-LSN"]
        .as_str()
        .context("manifest senza Start-LSN")?;
    let end = range["End-LSN"]
        .as_str()
        .context("manifest senza End-LSN")?;
    Ok((timeline, start.to_owned(), end.to_owned()))
}

/// Segments of 16 MiB (initdb's default, which the embedded cluster keeps).
const SEGMENTS_PER_ID: u64 = 0x1_0000_0000 / (16 * 1024 * 1024);

/// `000000010000000A000000FF` → (timeline 1, segment number).
fn segment_of(name: &str) -> Option<(u32, u64)> {
    if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tl = u32::from_str_radix(&name[0..8], 16).ok()?;
    let log = u64::from_str_radix(&name[8..16], 16).ok()?;
    let seg = u64::from_str_radix(&name[16..24], 16).ok()?;
    Some((tl, log * SEGMENTS_PER_ID + seg))
}

fn segment_name(tl: u32, n: u64) -> String {
    format!(
        "{tl:08X}{:08X}{:08X}",
        n / SEGMENTS_PER_ID,
        n % SEGMENTS_PER_ID
    )
}

/// `0/3000028` → the segment number holding it.
fn segment_of_lsn(lsn: &str) -> Option<u64> {
    let (hi, lo) = lsn.split_once('/')?;
    let value = (u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?;
    Some(value / (16 * 1024 * 1024))
}

/// Row counts of every tenant table taken while writers are held off (SHARE locks: reads go
/// on), and a named restore point written in the same moment: restored to that point, a
/// copy has exactly these counts. Brief: the locks last the time of the counts.
async fn counts_at_restore_point(
    conn: &mut sqlx::PgConnection,
    restore_point: &str,
) -> anyhow::Result<(Counts, String, DateTime<Utc>)> {
    use sqlx::Executor;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'app' AND c.column_name = 'tenant_id'
           AND t.table_type = 'BASE TABLE'
         ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await?;
    if tables.is_empty() {
        bail!("nessuna tabella degli Ordini: eseguire `patrocinio migrate`");
    }
    let lock = format!(
        "LOCK TABLE {} IN SHARE MODE",
        tables
            .iter()
            .map(|t| format!("app.\"{}\"", t.replace('"', "\"\"")))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for attempt in 1..=5 {
        let mut tx = conn.begin().await?;
        // We, not a user's request, give way: a short deadlock timeout makes this session the
        // one PostgreSQL cancels if a writer and the locks ever wait on each other.
        (&mut *tx)
            .execute("SET LOCAL lock_timeout = '5s'; SET LOCAL deadlock_timeout = '100ms'")
            .await?;
        match (&mut *tx).execute(lock.as_str()).await {
            Ok(_) => {}
            Err(sqlx::Error::Database(e))
                if matches!(e.code().as_deref(), Some("55P03") | Some("40P01")) =>
            {
                tx.rollback().await.ok();
                tracing::warn!(attempt, "tables busy: the backup's counts wait");
                tokio::time::sleep(std::time::Duration::from_secs(2)).await;
                continue;
            }
            Err(e) => return Err(e).context("blocco delle tabelle per il conteggio"),
        }
        let counts = count_rows(&mut tx).await?;
        let (lsn, at): (String, DateTime<Utc>) =
            sqlx::query_as("SELECT pg_create_restore_point($1)::text, clock_timestamp()")
                .bind(restore_point)
                .fetch_one(&mut *tx)
                .await?;
        tx.commit().await?;
        return Ok((counts, lsn, at));
    }
    bail!(
        "le tabelle sono rimaste occupate da scritture per tutti i tentativi: backup non eseguito"
    )
}

async fn take_into(
    config: &Config,
    database: &str,
    server: &ServerHandle,
    work: &Path,
    name: &str,
    started_at: DateTime<Utc>,
    clock: Instant,
) -> anyhow::Result<Descriptor> {
    fs::create_dir(work).with_context(|| io_context("creazione di", work))?;
    let Some(archive) = server.wal_archive.clone() else {
        bail!("l'archiviazione del WAL non è attiva (serve PostgreSQL 15 o successivo)");
    };
    let system_identifier = crate::db::embedded::system_identifier(&server.cluster_dir)
        .context("identificativo del cluster")?
        .to_string();

    // 1. The base backup, taken while the service runs.
    let mut cmd = Command::new(tool(&server.binaries, "pg_basebackup"));
    cmd.args(["-h", "127.0.0.1", "-p", &server.port.to_string()])
        .args(["-U", crate::db::embedded::SUPERUSER, "--no-password"])
        .arg("-D")
        .arg(work.join("pgdata"))
        .args(["--format=plain", "--wal-method=stream", "--checkpoint=fast"])
        .arg("--manifest-checksums=SHA256")
        .env("PGPASSWORD", &server.superuser_password);
    tokio::task::spawn_blocking(move || run(cmd, "pg_basebackup")).await??;
    let consistent_at = Utc::now();
    let (timeline, start_lsn, end_lsn) = manifest_wal_range(&work.join("pgdata/backup_manifest"))?;

    // 2. The counts and the restore point they hold at; then the segment holding it is
    //    completed and archived, and the WAL from the backup's end to it joins the backup.
    let restore_point = format!("patrocinio-backup-{name}");
    let mut conn = sqlx::PgConnection::connect(&server.superuser_url(database)).await?;
    let (counts, restore_point_lsn, restore_point_at) =
        counts_at_restore_point(&mut conn, &restore_point).await?;
    sqlx::query("SELECT pg_switch_wal()")
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    let first = segment_of_lsn(&end_lsn).context("End-LSN")?;
    let last = segment_of_lsn(&restore_point_lsn).context("LSN del punto di ripristino")?;
    fs::create_dir(work.join("wal"))?;
    let deadline = Instant::now() + std::time::Duration::from_secs(300);
    for n in first..=last {
        let segment = segment_name(timeline, n);
        let archived = archive.join(&segment);
        while !archived.is_file() {
            if Instant::now() > deadline {
                bail!(
                    "il segmento WAL {segment} non è stato archiviato entro 5 minuti (vedere postgres.log)"
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        fs::copy(&archived, work.join("wal").join(&segment))
            .with_context(|| format!("copia del segmento WAL {segment}"))?;
    }
    let point = BackupPoint {
        system_identifier,
        timeline,
        start_lsn,
        end_lsn,
        consistent_at,
        restore_point,
        restore_point_lsn,
        restore_point_at,
    };

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

    // 3. The file store, the credentials, and the verification of it all.
    let files_dir = config.files_dir();
    let credentials = config.data_dir.join(CREDENTIALS);
    let work_owned = work.to_path_buf();
    let binaries = server.binaries.clone();
    let checked = point.clone();
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
        Ok(verify(&binaries, &work_owned, Some(&checked)))
    })
    .await??;
    let (verified, verification) = match verification {
        Ok(m) => (true, m),
        Err(m) => bail!("backup non verificato, scartato: {m}"),
    };
    let (database_bytes, _) = tree_size(&work.join("pgdata"));
    let (wal_bytes, _) = tree_size(&work.join("wal"));
    let (files_bytes, files_count) = tree_size(&work.join("files"));
    let descriptor = Descriptor {
        name: name.to_owned(),
        started_at,
        finished_at: Utc::now(),
        duration_ms: clock.elapsed().as_millis() as u64,
        database_bytes: database_bytes + wal_bytes,
        files_bytes,
        files_count,
        postgres_version: server.binaries.version.clone(),
        verified,
        verification,
        counts,
        point: Some(point),
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
    let (path, d) = locate(&config.backup_dir(), which)?;
    verify(&server_binaries(config)?, &path, d.point.as_ref())
        .map_err(|m| anyhow::anyhow!("backup alterato: {m}"))
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

/// Deletes archived WAL that no kept backup needs: in the archive of a cluster with backups,
/// the segments (of any timeline) before the oldest kept backup's start; in the archive of a
/// cluster with none left, the files older than the retention. Timeline history files stay.
pub fn prune_wal(backup_dir: &Path, archive_root: &Path, days: u32) -> anyhow::Result<usize> {
    let mut oldest: BTreeMap<String, u64> = BTreeMap::new();
    for d in list(backup_dir)? {
        if let Some(p) = &d.point
            && let Some(n) = segment_of_lsn(&p.start_lsn)
        {
            let e = oldest.entry(p.system_identifier.clone()).or_insert(n);
            *e = (*e).min(n);
        }
    }
    let limit = std::time::Duration::from_secs(u64::from(days) * 86_400);
    let mut removed = 0;
    let Ok(clusters) = fs::read_dir(archive_root) else {
        return Ok(0);
    };
    for cluster in clusters.flatten() {
        let id = cluster.file_name().to_string_lossy().into_owned();
        let keep_from = oldest.get(&id).copied();
        let Ok(entries) = fs::read_dir(cluster.path()) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.ends_with(".history") {
                continue;
            }
            let old = match keep_from {
                // `…partial` and `….backup` files carry their segment's name first.
                Some(first) => name
                    .get(..24)
                    .and_then(segment_of)
                    .is_some_and(|(_, n)| n < first),
                None => e
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > limit),
            };
            if old && fs::remove_file(e.path()).is_ok() {
                removed += 1;
            }
        }
    }
    if removed > 0 {
        tracing::info!(segments = removed, "archived WAL pruned");
    }
    Ok(removed)
}

/// Quotes `text` for `/bin/sh`, and doubles `%` (PostgreSQL's `restore_command` substitutes it).
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''").replace('%', "%%"))
}

/// Where a recovery stops.
#[derive(Clone, Debug)]
enum Goal {
    /// The backup's restore point (or, for a backup without one, the end of its base backup).
    Backup(Option<String>),
    Time(DateTime<Utc>),
}

/// Copies a backup's cluster into `cluster`, ready for recovery: without the manifest, with
/// the backup's own WAL up to its restore point in `pg_wal`, and `recovery.signal`.
fn stage_cluster(backup: &Path, cluster: &Path) -> anyhow::Result<()> {
    copy_tree(&backup.join("pgdata"), cluster).context("copia del cluster")?;
    fs::set_permissions(cluster, fs::Permissions::from_mode(0o700))?;
    // A base backup's manifest is not part of a data folder.
    let _ = fs::remove_file(cluster.join("backup_manifest"));
    if let Ok(entries) = fs::read_dir(backup.join("wal")) {
        for e in entries.flatten() {
            // Complete segments: they replace the base backup's last, partly written one.
            fs::copy(e.path(), cluster.join("pg_wal").join(e.file_name()))
                .context("copia del WAL del backup")?;
        }
    }
    fs::write(cluster.join("recovery.signal"), b"").context("recovery.signal")?;
    Ok(())
}

/// Starts the staged cluster under `data_root` in archive recovery until `goal` and waits until
/// it is promoted (a new timeline): the folder is then an ordinary cluster. Returns the running
/// server (stopped if anything fails) and the time of the last transaction replayed.
async fn recover(
    data_root: &Path,
    bin_dir: Option<PathBuf>,
    goal: &Goal,
    restore_from: Option<&Path>,
    archive_to: Option<PathBuf>,
    durable: bool,
) -> anyhow::Result<(EmbeddedPostgres, Option<DateTime<Utc>>)> {
    let mut options = EmbeddedOptions::new(data_root);
    options.bin_dir = bin_dir;
    options.durable = durable;
    // Hot standby (connections while recovering) needs at least the source's settings: the
    // default, as `serve` runs the cluster.
    options.wal_archive = archive_to;
    options.ready_timeout = std::time::Duration::from_secs(3600);
    let restore_command = match restore_from {
        Some(dir) => format!(
            "cp {} \"%p\"",
            shell_quote(&format!("{}/", dir.display())) + "%f"
        ),
        // Everything needed is in pg_wal: the archive has nothing more to give.
        None => "false".to_owned(),
    };
    let mut settings = vec![
        ("restore_command".to_owned(), restore_command),
        ("recovery_target_action".to_owned(), "promote".to_owned()),
        ("recovery_target_timeline".to_owned(), "current".to_owned()),
    ];
    match goal {
        Goal::Backup(Some(name)) => settings.push(("recovery_target_name".into(), name.clone())),
        Goal::Backup(None) => settings.push(("recovery_target".into(), "immediate".into())),
        Goal::Time(t) => settings.push((
            "recovery_target_time".into(),
            t.format("%Y-%m-%d %H:%M:%S%.6f+00").to_string(),
        )),
    }
    options.settings = settings;
    let server = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&options))
        .await
        .context("PostgreSQL in ripristino")?
        .map_err(|e| anyhow::anyhow!("il ripristino non è partito: {e}"))?;
    let outcome = async {
        let deadline = Instant::now() + std::time::Duration::from_secs(6 * 3600);
        loop {
            if !server.is_running() {
                bail!(
                    "PostgreSQL si è fermato durante il ripristino: {}",
                    server.log_tail()
                );
            }
            let answer = async {
                let mut conn =
                    sqlx::PgConnection::connect(&server.superuser_url("postgres")).await?;
                let (recovering, last): (bool, Option<DateTime<Utc>>) =
                    sqlx::query_as("SELECT pg_is_in_recovery(), pg_last_xact_replay_timestamp()")
                        .fetch_one(&mut conn)
                        .await?;
                conn.close().await?;
                anyhow::Ok((recovering, last))
            }
            .await;
            if let Ok((false, last)) = answer {
                return Ok(last);
            }
            if Instant::now() > deadline {
                bail!("il ripristino non è terminato entro 6 ore");
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    .await;
    match outcome {
        Ok(reached) => Ok((server, reached)),
        Err(e) => {
            tokio::task::spawn_blocking(move || server.stop()).await??;
            Err(e)
        }
    }
}

/// The latest commit (or abort) in the archived WAL of `timeline` that follows, without a
/// gap, from segment `from`: a recovery to a later time would run out of WAL before
/// reaching it. `None`: no transaction there.
fn last_archived_transaction(
    binaries: &ServerBinaries,
    archive: &Path,
    timeline: u32,
    from: u64,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut numbers: Vec<u64> = fs::read_dir(archive)
        .with_context(|| io_context("lettura dell'archivio WAL", archive))?
        .flatten()
        .filter_map(|e| segment_of(&e.file_name().to_string_lossy()))
        .filter(|(tl, n)| *tl == timeline && *n >= from)
        .map(|(_, n)| n)
        .collect();
    numbers.sort_unstable();
    let mut run_end = None;
    for (i, n) in numbers.iter().enumerate() {
        if *n != from + i as u64 {
            break;
        }
        run_end = Some(*n);
    }
    let Some(run_end) = run_end else {
        return Ok(None);
    };
    // Newest first; a day of writes fits in far fewer segments than this bound.
    for n in (from..=run_end).rev().take(256) {
        let mut cmd = Command::new(tool(binaries, "pg_waldump"));
        cmd.arg("--rmgr=Transaction")
            .arg(archive.join(segment_name(timeline, n)))
            .env("TZ", "UTC");
        // The end of a segment's valid records is reported as an error: what came before counts.
        let out = cmd.output().context("esecuzione di pg_waldump")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let latest = text
            .lines()
            .filter_map(|l| {
                let desc = l.split("desc: ").nth(1)?;
                let rest = desc
                    .strip_prefix("COMMIT ")
                    .or_else(|| desc.strip_prefix("ABORT "))?;
                chrono::NaiveDateTime::parse_from_str(rest.get(..26)?, "%Y-%m-%d %H:%M:%S%.f").ok()
            })
            .max();
        if let Some(t) = latest {
            return Ok(Some(t.and_utc()));
        }
    }
    Ok(None)
}

/// What `restore` did.
#[derive(Debug)]
pub struct Restored {
    pub cluster: PathBuf,
    /// The last transaction replayed.
    pub reached: Option<DateTime<Utc>>,
    pub duration_ms: u64,
    /// Rows naming a stored file that the restored file store lacks (or holds different).
    pub files_missing: Vec<String>,
}

/// Rebuilds the data folder (`<data dir>/postgres`, its credentials and the file store) from a
/// backup: at the backup's point, or with `to` at that moment (replaying the archived WAL).
/// Refuses a folder where a server runs or that is not empty, and a moment the backup and
/// the archive cannot reach.
#[tracing::instrument(name = "ripristina il backup", skip_all, fields(punto = ?to))]
pub async fn restore(
    config: &Config,
    which: &str,
    to: Option<DateTime<Utc>>,
    database: &str,
) -> anyhow::Result<Restored> {
    if config.database_url.is_some() {
        bail!(
            "`patrocinio restore` ripristina il PostgreSQL incorporato: con DATABASE_URL impostato usare pgBackRest (vedere il README)"
        );
    }
    let clock = Instant::now();
    let dir = config.backup_dir();
    let (backup, descriptor) = locate(&dir, which)?;
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
    let binaries = server_binaries(config)?;
    verify(&binaries, &backup, descriptor.point.as_ref())
        .map_err(|m| anyhow::anyhow!("backup alterato, nulla è stato ripristinato: {m}"))?;
    let archive = descriptor
        .point
        .as_ref()
        .map(|p| config.wal_archive_dir().join(&p.system_identifier));
    let goal = match (to, &descriptor.point) {
        (None, point) => Goal::Backup(point.as_ref().map(|p| p.restore_point.clone())),
        (Some(_), None) => bail!(
            "il backup {} è stato fatto senza archivio del WAL: si può ripristinare solo al suo momento (senza --to)",
            descriptor.name
        ),
        (Some(t), Some(point)) => {
            let rome = crate::domain::time::format_date_time;
            if t < point.consistent_at {
                bail!(
                    "il momento richiesto ({}) precede la fine del backup {} ({}): scegliere un backup più vecchio o un momento successivo",
                    rome(t),
                    descriptor.name,
                    rome(point.consistent_at)
                );
            }
            let archive = archive.as_deref().context("archivio")?;
            let from = segment_of_lsn(&point.start_lsn).context("Start-LSN")?;
            let last = last_archived_transaction(&binaries, archive, point.timeline, from)?;
            match last {
                Some(last) if t < last => Goal::Time(t),
                Some(last) => bail!(
                    "il momento richiesto ({}) è successivo all'ultima transazione del WAL archiviato ({}): scegliere un momento precedente (il WAL del segmento in corso viene archiviato al più tardi dopo 5 minuti)",
                    rome(t),
                    rome(last)
                ),
                None => bail!(
                    "il WAL archiviato dopo il backup {} non contiene transazioni: ripristinare senza --to",
                    descriptor.name
                ),
            }
        }
    };

    fs::create_dir_all(&config.data_dir)?;
    let credentials = config.data_dir.join(CREDENTIALS);
    let result = async {
        let partial = config.data_dir.join(format!("postgres{INCOMPLETE}"));
        let _ = fs::remove_dir_all(&partial);
        stage_cluster(&backup, &partial)?;
        if cluster.exists() {
            fs::remove_dir(&cluster).ok();
        }
        fs::rename(&partial, &cluster).context("cluster ripristinato")?;
        fs::copy(backup.join(CREDENTIALS), &credentials).context("credenziali")?;
        fs::set_permissions(&credentials, fs::Permissions::from_mode(0o600))?;
        let restore_from = archive.as_deref().filter(|a| a.is_dir());
        let (server, reached) = recover(
            &config.data_dir,
            config.postgres_bin.clone(),
            &goal,
            restore_from,
            Some(config.wal_archive_dir()),
            true,
        )
        .await?;
        // With a bucket, the database is restored and the bucket left as it is; the backup's
        // `files/` holds its copy. Files are not point-in-time: rows restored past the backup
        // may name files it lacks.
        let checked = async {
            if bucket {
                tracing::warn!(
                    "file store on a bucket: left untouched; the backup's files/ folder holds its copy"
                );
                return anyhow::Ok(Vec::new());
            }
            copy_tree(&backup.join("files"), &files).context("copia dei file")?;
            let mut conn = sqlx::PgConnection::connect(&server.superuser_url(database)).await?;
            let (_, bad) = check_files(&mut conn, &files).await?;
            conn.close().await?;
            anyhow::Ok(bad)
        }
        .await;
        tokio::task::spawn_blocking(move || server.stop()).await??;
        anyhow::Ok((reached, checked?))
    }
    .await;
    let (reached, files_missing) = match result {
        Ok(done) => done,
        Err(e) => {
            // Nothing half-restored stays behind: the folders were empty before.
            let _ = fs::remove_dir_all(&cluster);
            let _ = fs::remove_dir_all(config.data_dir.join(format!("postgres{INCOMPLETE}")));
            let _ = fs::remove_file(&credentials);
            if !bucket {
                let _ = fs::remove_dir_all(&files);
            }
            return Err(
                e.context("ripristino non riuscito, la cartella dei dati è stata lasciata vuota")
            );
        }
    };
    Ok(Restored {
        cluster,
        reached,
        duration_ms: clock.elapsed().as_millis() as u64,
        files_missing,
    })
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
    let verification = verify(&binaries, backup, latest.point.as_ref());
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
    // The backup alone, recovered to its restore point (where its counts hold): the archive
    // is not used, so the drill proves that the backup is self-contained.
    stage_cluster(backup, &scratch.join("postgres"))?;
    fs::copy(backup.join(CREDENTIALS), scratch.join(CREDENTIALS))?;
    let goal = Goal::Backup(latest.point.as_ref().map(|p| p.restore_point.clone()));
    let (server, _) = recover(
        scratch,
        config.postgres_bin.clone(),
        &goal,
        None,
        None,
        false,
    )
    .await
    .context("PostgreSQL di prova")?;
    let result = drill_checks(&server, database, backup, latest, checks).await;
    tokio::task::spawn_blocking(move || server.stop()).await??;
    result
}

/// Every stored file named by a row, against the row's SHA-256, in the file store `files`:
/// how many were checked, and what is wrong (missing, different).
async fn check_files(
    conn: &mut sqlx::PgConnection,
    files: &Path,
) -> anyhow::Result<(u64, Vec<String>)> {
    let mut checked = 0u64;
    let mut bad = Vec::new();
    for (table, key, hash) in FILE_COLUMNS {
        let sql = format!("SELECT {key}, {hash} FROM app.{table} WHERE {key} IS NOT NULL");
        let rows: Vec<(String, String)> = sqlx::query_as(&sql).fetch_all(&mut *conn).await?;
        for (key, sha) in rows {
            checked += 1;
            // Keys are generated by the server, but a row is data: no escaping the folder.
            if key.split('/').any(|p| p == ".." || p.is_empty()) {
                bad.push(format!("{key}: chiave non valida"));
                continue;
            }
            match fs::read(files.join(&key)) {
                Ok(bytes) => {
                    if hex::encode(Sha256::digest(&bytes)) != sha {
                        bad.push(format!("{key}: impronta diversa"));
                    }
                }
                Err(_) => bad.push(format!("{key}: file mancante")),
            }
        }
    }
    Ok((checked, bad))
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

    // Every stored file against its row's SHA-256.
    let (checked, mut bad) = check_files(&mut conn, &backup.join("files")).await?;
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
            point: None,
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
    fn archived_wal_before_the_oldest_kept_backup_is_pruned() {
        let tmp = tempfile::tempdir().unwrap();
        let backups = tmp.path().join("backup");
        let at = Utc::now();
        fake_backup(&backups, "b1", at, true);
        let mut d: Descriptor =
            serde_json::from_slice(&fs::read(backups.join("b1").join(DESCRIPTOR)).unwrap())
                .unwrap();
        d.point = Some(BackupPoint {
            system_identifier: "42".into(),
            timeline: 2,
            // Segment 0x105 (log 1, segment 5).
            start_lsn: "1/5000028".into(),
            end_lsn: "1/5000100".into(),
            consistent_at: at,
            restore_point: "rp".into(),
            restore_point_lsn: "1/5000200".into(),
            restore_point_at: at,
        });
        fs::write(
            backups.join("b1").join(DESCRIPTOR),
            serde_json::to_vec(&d).unwrap(),
        )
        .unwrap();
        let archive = backups.join("wal");
        let ours = archive.join("42");
        fs::create_dir_all(&ours).unwrap();
        for name in [
            "0000000100000000000000FF",
            "000000010000000100000004",
            "000000010000000100000004.partial",
            "000000020000000100000005",
            "000000020000000100000006",
            "00000002.history",
        ] {
            fs::write(ours.join(name), b"x").unwrap();
        }
        // Another cluster's archive, with no backup left and recent files: kept.
        let other = archive.join("7");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join("000000010000000000000001"), b"x").unwrap();
        assert_eq!(prune_wal(&backups, &archive, 90).unwrap(), 3);
        let mut left: Vec<String> = fs::read_dir(&ours)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![
                "00000002.history",
                "000000020000000100000005",
                "000000020000000100000006"
            ]
        );
        assert!(other.join("000000010000000000000001").exists());
        assert_eq!(segment_name(2, 0x105), "000000020000000100000005");
        assert_eq!(segment_of_lsn("1/5000028"), Some(0x105));
        assert_eq!(shell_quote("/a b/it's 100%"), "'/a b/it'\\''s 100%%'");
    }

    #[test]
    fn an_incomplete_folder_is_not_a_backup() {
        let tmp = tempfile::tempdir().unwrap();
        fake_backup(tmp.path(), "x.incompleto", Utc::now(), true);
        assert!(list(tmp.path()).unwrap().is_empty());
    }
}
