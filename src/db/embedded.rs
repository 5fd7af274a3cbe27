//! The embedded PostgreSQL: when `DATABASE_URL` is unset, the binary runs its own server from the
//! PostgreSQL server binaries installed on the machine.
//!
//! - The binaries are looked up in `PATROCINIO_POSTGRES_BIN` if set, else on `PATH` and under
//!   `/usr/lib/postgresql/<version>/bin`, newest version first; an existing cluster needs the
//!   binaries of its own major version.
//! - The cluster lives in `<data dir>/postgres`; the generated passwords in
//!   `<data dir>/postgres-credentials.json` (mode 0600). A second start reuses both.
//! - The server listens on 127.0.0.1 only, on a free port chosen at each start, with
//!   scram-sha-256 passwords and no Unix socket.
//! - PostgreSQL refuses to run as root: when we are root it runs as the `postgres` system user,
//!   which is given the cluster folder.
//! - WAL archiving (`EmbeddedOptions::wal_archive`): `archive_mode=on` with PostgreSQL's own
//!   `basic_archive` module, which copies each completed WAL segment to a temporary file,
//!   fsyncs it and renames it into place, succeeds when an identical copy is already there and
//!   fails (PostgreSQL then keeps the segment and retries) rather than overwrite a different
//!   one. Segments go into `<archive>/<system identifier>/`: two clusters sharing a backup
//!   folder never mix their segments, a restored cluster (same identifier, new timeline)
//!   continues its own lineage.
//! - The server is our child in its own process group (a terminal's Ctrl-C reaches only us, so we
//!   stop the web server first and PostgreSQL last); if our process dies, the kernel sends the
//!   server SIGINT (fast shutdown) through `PR_SET_PDEATHSIG`.

use std::{
    ffi::OsStr,
    fs,
    io::{self, Read, Seek, SeekFrom},
    os::unix::{
        fs::{MetadataExt, PermissionsExt},
        process::CommandExt,
    },
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::{Gid, Pid, Uid, User},
};
use serde::{Deserialize, Serialize};

/// Where Debian and Ubuntu install the server binaries, one folder per major version.
pub const DEBIAN_LIB_ROOT: &str = "/usr/lib/postgresql";
pub const SUPERUSER: &str = "postgres";

#[derive(Debug, thiserror::Error)]
pub enum EmbeddedError {
    #[error(
        "server PostgreSQL non trovato (initdb e postgres non sono in {searched}): installarlo con `apt-get install postgresql` oppure impostare DATABASE_URL verso un PostgreSQL esistente"
    )]
    BinariesNotFound { searched: String },
    #[error(
        "il cluster in {dir} è stato creato con PostgreSQL {major}, ma sono installati solo i binari di PostgreSQL {found}: installare `postgresql-{major}` oppure usare un'altra PATROCINIO_DATA_DIR"
    )]
    VersionMismatch {
        dir: PathBuf,
        major: u32,
        found: String,
    },
    #[error(
        "PostgreSQL non può essere eseguito come root e l'utente di sistema `postgres` non esiste: crearlo (`useradd --system postgres`) oppure avviare Patrocinio con un utente non privilegiato"
    )]
    NoPostgresUser,
    #[error(
        "l'utente di sistema `postgres` non può raggiungere la cartella {0}: impostare PATROCINIO_DATA_DIR su una cartella accessibile (ad esempio /var/lib/patrocinio)"
    )]
    NotTraversable(PathBuf),
    #[error(
        "il cluster in {0} esiste ma manca il file delle credenziali postgres-credentials.json: ripristinarlo, oppure spostare la cartella e ricrearla"
    )]
    CredentialsMissing(PathBuf),
    #[error("un altro server PostgreSQL (pid {pid}) usa già la cartella {dir}")]
    AlreadyRunning { dir: PathBuf, pid: i32 },
    #[error("{what} non riuscito: {log}")]
    Failed { what: &'static str, log: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: io::Error,
    },
}

fn io_err(context: impl Into<String>) -> impl FnOnce(io::Error) -> EmbeddedError {
    let context = context.into();
    move |source| EmbeddedError::Io { context, source }
}

/// A folder holding `initdb` and `postgres`, with the version `postgres --version` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerBinaries {
    pub dir: PathBuf,
    pub major: u32,
    pub version: String,
}

/// Finds every usable folder of server binaries, newest version first.
///
/// With `override_dir`, only that folder is considered. Otherwise the folders of `path_env`
/// (the `PATH` variable) and `<lib_root>/<version>/bin`.
pub fn find_server_binaries(
    override_dir: Option<&Path>,
    path_env: Option<&OsStr>,
    lib_root: &Path,
) -> Result<Vec<ServerBinaries>, EmbeddedError> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let searched;
    if let Some(dir) = override_dir {
        dirs.push(dir.to_path_buf());
        searched = format!("PATROCINIO_POSTGRES_BIN={}", dir.display());
    } else {
        if let Some(path) = path_env {
            dirs.extend(std::env::split_paths(path));
        }
        if let Ok(entries) = fs::read_dir(lib_root) {
            dirs.extend(entries.flatten().map(|e| e.path().join("bin")));
        }
        searched = format!("PATH né in {}/<versione>/bin", lib_root.display());
    }
    let mut found: Vec<ServerBinaries> = Vec::new();
    let mut seen = Vec::new();
    for dir in dirs {
        if !(is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))) {
            continue;
        }
        let canonical = fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        if seen.contains(&canonical) {
            continue;
        }
        seen.push(canonical);
        if let Some(version) = server_version(&dir.join("postgres")) {
            found.push(ServerBinaries {
                major: major_of(&version),
                dir,
                version,
            });
        }
    }
    if found.is_empty() {
        return Err(EmbeddedError::BinariesNotFound { searched });
    }
    // Stable: among equal versions, PATH order wins.
    found.sort_by_key(|b| std::cmp::Reverse(version_key(&b.version)));
    Ok(found)
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `postgres (PostgreSQL) 15.20 (Debian 15.20-0+deb12u1)` → `15.20`.
fn server_version(postgres: &Path) -> Option<String> {
    let out = Command::new(postgres).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))?;
    Some(version.to_owned())
}

fn version_key(version: &str) -> Vec<u32> {
    version
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn major_of(version: &str) -> u32 {
    version_key(version).first().copied().unwrap_or(0)
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Credentials {
    pub superuser_password: String,
    pub app_password: String,
}

impl Credentials {
    fn generate() -> Self {
        Self {
            superuser_password: random_secret(),
            app_password: random_secret(),
        }
    }
}

/// 122 random bits as 32 hex digits: safe in a URL without escaping.
fn random_secret() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[derive(Clone, Debug)]
pub struct EmbeddedOptions {
    /// The data folder: the cluster goes in `postgres/` below it.
    pub data_root: PathBuf,
    pub bin_dir: Option<PathBuf>,
    /// `false` turns fsync off: for throw-away test clusters only.
    pub durable: bool,
    pub max_connections: u32,
    /// Archive every completed WAL segment into `<this>/<system identifier>/` (PostgreSQL 15
    /// or newer: `basic_archive`).
    pub wal_archive: Option<PathBuf>,
    /// A completed segment is archived at the latest this long after a change (`archive_timeout`):
    /// the most a lost data disk can cost when the archive survives.
    pub archive_timeout_seconds: u32,
    /// More `-c name=value` settings for this start only (a recovery's targets).
    pub settings: Vec<(String, String)>,
    /// How long the start may take before it is abandoned.
    pub ready_timeout: Duration,
}

impl EmbeddedOptions {
    pub fn new(data_root: impl Into<PathBuf>) -> Self {
        Self {
            data_root: data_root.into(),
            bin_dir: None,
            durable: true,
            max_connections: 100,
            wal_archive: None,
            archive_timeout_seconds: 300,
            settings: Vec::new(),
            ready_timeout: Duration::from_secs(60),
        }
    }
}

struct RunAs {
    uid: Uid,
    gid: Gid,
}

fn run_as() -> Result<Option<RunAs>, EmbeddedError> {
    if !nix::unistd::geteuid().is_root() {
        return Ok(None);
    }
    let user = User::from_name(SUPERUSER)
        .ok()
        .flatten()
        .ok_or(EmbeddedError::NoPostgresUser)?;
    Ok(Some(RunAs {
        uid: user.uid,
        gid: user.gid,
    }))
}

/// Whether `uid`/`gid` may traverse every ancestor of `path` (a root-owned 0700 home would stop
/// the server from reaching its data; better to say so than to let it fail obscurely).
fn traversable_by(path: &Path, uid: Uid, gid: Gid) -> bool {
    path.ancestors().skip(1).all(|dir| match fs::metadata(dir) {
        Ok(m) => {
            let mode = m.permissions().mode();
            if m.uid() == uid.as_raw() {
                mode & 0o100 != 0
            } else if m.gid() == gid.as_raw() {
                mode & 0o010 != 0
            } else {
                mode & 0o001 != 0
            }
        }
        Err(_) => true,
    })
}

fn chown_tree(path: &Path, uid: Uid, gid: Gid) -> io::Result<()> {
    std::os::unix::fs::lchown(path, Some(uid.as_raw()), Some(gid.as_raw()))?;
    if fs::symlink_metadata(path)?.is_dir() {
        for entry in fs::read_dir(path)? {
            chown_tree(&entry?.path(), uid, gid)?;
        }
    }
    Ok(())
}

struct ChildState {
    status: Mutex<Option<ExitStatus>>,
    changed: Condvar,
}

impl ChildState {
    fn wait_timeout(&self, timeout: Duration) -> Option<ExitStatus> {
        let guard = self.status.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = self
            .changed
            .wait_timeout_while(guard, timeout, |s| s.is_none())
            .unwrap_or_else(|e| e.into_inner());
        *guard
    }

    fn exited(&self) -> Option<ExitStatus> {
        *self.status.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running embedded PostgreSQL server. Dropping it stops the server.
pub struct EmbeddedPostgres {
    cluster_dir: PathBuf,
    log_path: PathBuf,
    port: u16,
    credentials: Credentials,
    pid: Pid,
    child: Arc<ChildState>,
    pub binaries: ServerBinaries,
    /// Where this cluster's WAL segments are archived, if they are.
    wal_archive: Option<PathBuf>,
}

impl std::fmt::Debug for EmbeddedPostgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedPostgres")
            .field("cluster_dir", &self.cluster_dir)
            .field("port", &self.port)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl EmbeddedPostgres {
    /// Creates the cluster if needed, starts the server and waits until it accepts connections.
    /// Blocking: call it from `spawn_blocking` in async code.
    pub fn start(options: &EmbeddedOptions) -> Result<Self, EmbeddedError> {
        let candidates = find_server_binaries(
            options.bin_dir.as_deref(),
            std::env::var_os("PATH").as_deref(),
            Path::new(DEBIAN_LIB_ROOT),
        )?;
        let run_as = run_as()?;
        fs::create_dir_all(&options.data_root).map_err(io_err(format!(
            "creazione di {}",
            options.data_root.display()
        )))?;
        let data_root = fs::canonicalize(&options.data_root)
            .map_err(io_err(format!("accesso a {}", options.data_root.display())))?;
        let cluster_dir = data_root.join("postgres");
        let credentials_path = data_root.join("postgres-credentials.json");
        let log_path = data_root.join("postgres.log");

        if let Some(user) = &run_as
            && !traversable_by(&cluster_dir, user.uid, user.gid)
        {
            return Err(EmbeddedError::NotTraversable(data_root));
        }

        let existing_major = fs::read_to_string(cluster_dir.join("PG_VERSION"))
            .ok()
            .map(|v| major_of(v.trim()));
        let binaries = match existing_major {
            None => candidates[0].clone(),
            Some(major) => candidates
                .iter()
                .find(|b| b.major == major)
                .cloned()
                .ok_or_else(|| EmbeddedError::VersionMismatch {
                    dir: cluster_dir.clone(),
                    major,
                    found: candidates
                        .iter()
                        .map(|b| b.version.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })?,
        };

        let credentials = if existing_major.is_some() {
            let text = fs::read_to_string(&credentials_path)
                .map_err(|_| EmbeddedError::CredentialsMissing(cluster_dir.clone()))?;
            serde_json::from_str(&text)
                .map_err(|_| EmbeddedError::CredentialsMissing(cluster_dir.clone()))?
        } else {
            let credentials = Credentials::generate();
            init_cluster(
                &binaries,
                &data_root,
                &cluster_dir,
                &log_path,
                run_as.as_ref(),
                &credentials,
            )?;
            write_private(
                &credentials_path,
                &serde_json::to_vec_pretty(&credentials).expect("credentials serialize"),
            )
            .map_err(io_err("scrittura delle credenziali"))?;
            credentials
        };

        if let Some(user) = &run_as {
            // The folder may have been created by an unprivileged run, or copied.
            chown_tree(&cluster_dir, user.uid, user.gid).map_err(io_err(format!(
                "assegnazione di {} a postgres",
                cluster_dir.display()
            )))?;
        }
        wait_for_previous_server(&cluster_dir)?;

        let port = free_port().map_err(io_err("scelta di una porta libera"))?;
        let log = open_log(&log_path)?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new(binaries.dir.join("postgres"));
        cmd.arg("-D")
            .arg(&cluster_dir)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", &format!("port={port}")])
            .args(["-c", "unix_socket_directories="])
            .args(["-c", "logging_collector=off"])
            .args([
                "-c",
                &format!("max_connections={}", options.max_connections),
            ]);
        if !options.durable {
            cmd.args(["-c", "fsync=off", "-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off"]);
        }
        let wal_archive = match &options.wal_archive {
            Some(root) if binaries.major >= 15 => {
                let dir = prepare_archive(root, &cluster_dir, run_as.as_ref())?;
                cmd.args([
                    "-c",
                    "archive_mode=on",
                    "-c",
                    "archive_library=basic_archive",
                ])
                .arg("-c")
                .arg(format!("basic_archive.archive_directory={}", dir.display()))
                .args([
                    "-c",
                    &format!("archive_timeout={}", options.archive_timeout_seconds),
                ]);
                Some(dir)
            }
            Some(_) => {
                tracing::warn!(
                    version = %binaries.version,
                    "WAL archiving needs PostgreSQL 15 or newer: point-in-time restore is not available"
                );
                None
            }
            None => None,
        };
        for (name, value) in &options.settings {
            cmd.arg("-c").arg(format!("{name}={value}"));
        }
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err("log"))?)
            .stderr(log)
            .process_group(0);
        apply_identity(&mut cmd, run_as.as_ref());
        die_with_parent(&mut cmd);
        let (pid, child) = spawn_supervised(cmd).map_err(io_err("avvio di postgres"))?;

        let server = Self {
            cluster_dir,
            log_path,
            port,
            credentials,
            pid,
            child,
            binaries,
            wal_archive,
        };
        server.wait_until_ready(log_start, options.ready_timeout)?;
        tracing::info!(port, version = %server.binaries.version, "embedded PostgreSQL ready");
        Ok(server)
    }

    fn wait_until_ready(&self, log_start: u64, timeout: Duration) -> Result<(), EmbeddedError> {
        let deadline = Instant::now() + timeout;
        let pid_file = self.cluster_dir.join("postmaster.pid");
        loop {
            if self.child.exited().is_some() {
                return Err(EmbeddedError::Failed {
                    what: "avvio di PostgreSQL",
                    log: log_tail(&self.log_path, log_start),
                });
            }
            // pg_ctl's own readiness test: line 1 is the pid, line 8 the postmaster's status
            // (`standby`: a hot standby that accepts read-only connections, see
            // docs/operations.md, "Standby e failover").
            if let Ok(text) = fs::read_to_string(&pid_file) {
                let lines: Vec<&str> = text.lines().collect();
                if lines.first().map(|l| l.trim()) == Some(&self.pid.as_raw().to_string())
                    && matches!(lines.get(7).map(|l| l.trim()), Some("ready" | "standby"))
                {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                let _ = kill(self.pid, Signal::SIGQUIT);
                return Err(EmbeddedError::Failed {
                    what: "avvio di PostgreSQL nel tempo previsto",
                    log: log_tail(&self.log_path, log_start),
                });
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's folder (`<data dir>/postgres`).
    pub fn cluster_dir(&self) -> &Path {
        &self.cluster_dir
    }

    /// The postmaster's process id; its process group holds every server process.
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// URL of `database` as the superuser.
    pub fn superuser_url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.credentials.superuser_password, self.port
        )
    }

    /// URL of `database` as the service role.
    pub fn app_url(&self, database: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{database}",
            super::provision::APP_ROLE,
            self.credentials.app_password,
            self.port
        )
    }

    pub fn is_running(&self) -> bool {
        self.child.exited().is_none()
    }

    /// The folder this cluster's WAL segments are archived into (`None`: not archived).
    pub fn wal_archive(&self) -> Option<&Path> {
        self.wal_archive.as_deref()
    }

    /// The last lines of the server's log since it started (for an error message).
    pub fn log_tail(&self) -> String {
        log_tail(&self.log_path, 0)
    }

    /// What another task needs to reach the running server as the superuser.
    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            port: self.port,
            superuser_password: self.credentials.superuser_password.clone(),
            binaries: self.binaries.clone(),
            wal_archive: self.wal_archive.clone(),
            cluster_dir: self.cluster_dir.clone(),
        }
    }

    /// Fast shutdown (SIGINT: open transactions are rolled back, data is flushed); immediate
    /// shutdown only if that takes more than 30 seconds.
    pub fn stop(mut self) -> Result<(), EmbeddedError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), EmbeddedError> {
        if self.child.exited().is_some() {
            return Ok(());
        }
        let _ = kill(self.pid, Signal::SIGINT);
        if self.child.wait_timeout(Duration::from_secs(30)).is_some() {
            tracing::info!("embedded PostgreSQL stopped");
            return Ok(());
        }
        let _ = kill(self.pid, Signal::SIGQUIT);
        if self.child.wait_timeout(Duration::from_secs(10)).is_some() {
            return Ok(());
        }
        Err(EmbeddedError::Failed {
            what: "arresto di PostgreSQL",
            log: log_tail(&self.log_path, 0),
        })
    }
}

/// A running embedded server as seen by a task that does not own it (the daily backup).
#[derive(Clone)]
pub struct ServerHandle {
    pub port: u16,
    pub superuser_password: String,
    pub binaries: ServerBinaries,
    pub wal_archive: Option<PathBuf>,
    pub cluster_dir: PathBuf,
}

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle")
            .field("port", &self.port)
            .field("wal_archive", &self.wal_archive)
            .finish_non_exhaustive()
    }
}

impl ServerHandle {
    pub fn superuser_url(&self, database: &str) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/{database}",
            self.superuser_password, self.port
        )
    }
}

/// The cluster's system identifier (chosen by initdb, kept by every copy and restore): the
/// first field of `global/pg_control`, a native-endian 64-bit integer.
pub fn system_identifier(cluster_dir: &Path) -> io::Result<u64> {
    let mut bytes = [0u8; 8];
    fs::File::open(cluster_dir.join("global/pg_control"))?.read_exact(&mut bytes)?;
    Ok(u64::from_ne_bytes(bytes))
}

/// `<root>/<system identifier>`, made and given to the server's user; temporary files that a
/// crash left behind (`basic_archive` names them `archtemp…`) and older than an hour removed.
fn prepare_archive(
    root: &Path,
    cluster_dir: &Path,
    run_as: Option<&RunAs>,
) -> Result<PathBuf, EmbeddedError> {
    let id = system_identifier(cluster_dir).map_err(io_err("lettura di pg_control"))?;
    let root = std::path::absolute(root).map_err(io_err("cartella dell'archivio WAL"))?;
    let dir = root.join(id.to_string());
    fs::create_dir_all(&dir).map_err(io_err(format!("creazione di {}", dir.display())))?;
    if let Some(user) = run_as {
        std::os::unix::fs::chown(&dir, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
            .map_err(io_err("assegnazione dell'archivio WAL a postgres"))?;
        if !traversable_by(&dir.join("x"), user.uid, user.gid) {
            return Err(EmbeddedError::NotTraversable(root));
        }
    }
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            let old = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600));
            if old && e.file_name().to_string_lossy().starts_with("archtemp") {
                let _ = fs::remove_file(e.path());
            }
        }
    }
    Ok(dir)
}

impl Drop for EmbeddedPostgres {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "embedded PostgreSQL did not stop");
        }
    }
}

fn init_cluster(
    binaries: &ServerBinaries,
    data_root: &Path,
    cluster_dir: &Path,
    log_path: &Path,
    run_as: Option<&RunAs>,
    credentials: &Credentials,
) -> Result<(), EmbeddedError> {
    // A half-made cluster from an interrupted initdb would make initdb refuse the folder.
    if cluster_dir.exists() {
        fs::remove_dir_all(cluster_dir).map_err(io_err("pulizia del cluster incompleto"))?;
    }
    fs::create_dir(cluster_dir)
        .map_err(io_err(format!("creazione di {}", cluster_dir.display())))?;
    fs::set_permissions(cluster_dir, fs::Permissions::from_mode(0o700))
        .map_err(io_err("permessi del cluster"))?;
    // initdb reads the superuser's password from a file that the server's user can read.
    let pwfile = data_root.join(format!(".initdb-{}", random_secret()));
    write_private(
        &pwfile,
        format!("{}\n", credentials.superuser_password).as_bytes(),
    )
    .map_err(io_err("file della password"))?;
    let result = (|| {
        if let Some(user) = run_as {
            for path in [cluster_dir, pwfile.as_path()] {
                std::os::unix::fs::chown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                    .map_err(io_err("assegnazione dei file a postgres"))?;
            }
        }
        let log = open_log(log_path)?;
        let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
        let mut cmd = Command::new(binaries.dir.join("initdb"));
        cmd.arg("-D")
            .arg(cluster_dir)
            .args(["-U", SUPERUSER, "--auth=scram-sha-256", "--encoding=UTF8"])
            .args(["--locale=C.UTF-8", "--no-instructions"])
            .arg(format!("--pwfile={}", pwfile.display()))
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(io_err("log"))?)
            .stderr(log);
        apply_identity(&mut cmd, run_as);
        let status = cmd.status().map_err(io_err("esecuzione di initdb"))?;
        if !status.success() {
            return Err(EmbeddedError::Failed {
                what: "initdb",
                log: log_tail(log_path, log_start),
            });
        }
        Ok(())
    })();
    let _ = fs::remove_file(&pwfile);
    if result.is_err() {
        let _ = fs::remove_dir_all(cluster_dir);
    }
    result
}

fn apply_identity(cmd: &mut Command, run_as: Option<&RunAs>) {
    if let Some(user) = run_as {
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
        // The server's user has no business in our working directory.
        cmd.current_dir("/");
    }
}

#[allow(unsafe_code)]
fn die_with_parent(cmd: &mut Command) {
    // SAFETY: prctl is async-signal-safe and the closure allocates nothing. It runs after the
    // uid switch (std applies uid/gid before pre_exec closures), which would otherwise clear it.
    unsafe {
        cmd.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Signal::SIGINT).map_err(io::Error::from)?;
            Ok(())
        });
    }
}

/// Spawns `cmd` from a thread that lives exactly as long as the child: `PR_SET_PDEATHSIG` fires
/// when the *thread* that forked exits, so it must not be a worker thread that may end early.
fn spawn_supervised(mut cmd: Command) -> io::Result<(Pid, Arc<ChildState>)> {
    let state = Arc::new(ChildState {
        status: Mutex::new(None),
        changed: Condvar::new(),
    });
    let (tx, rx) = std::sync::mpsc::channel();
    let shared = state.clone();
    std::thread::Builder::new()
        .name("postgres-supervisor".into())
        .spawn(move || match cmd.spawn() {
            Ok(mut child) => {
                let _ = tx.send(Ok(child.id()));
                let status = child.wait();
                let mut guard = shared.status.lock().unwrap_or_else(|e| e.into_inner());
                *guard = Some(
                    status.unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(1)),
                );
                shared.changed.notify_all();
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        })?;
    let pid = rx
        .recv()
        .map_err(|_| io::Error::other("postgres supervisor thread ended"))??;
    Ok((Pid::from_raw(pid as i32), state))
}

/// A server from an earlier run may still be finishing its shutdown (e.g. after our previous
/// process died and the kernel sent it SIGINT): give it a moment before starting a new one.
fn wait_for_previous_server(cluster_dir: &Path) -> Result<(), EmbeddedError> {
    let pid_file = cluster_dir.join("postmaster.pid");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let Some(pid) = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse::<i32>().ok())
        else {
            return Ok(());
        };
        if kill(Pid::from_raw(pid), None).is_err() {
            return Ok(()); // stale file: postgres itself will remove it
        }
        if Instant::now() > deadline {
            return Err(EmbeddedError::AlreadyRunning {
                dir: cluster_dir.to_path_buf(),
                pid,
            });
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn free_port() -> io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn open_log(path: &Path) -> Result<fs::File, EmbeddedError> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(io_err(format!("apertura di {}", path.display())))
}

fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

/// The last lines PostgreSQL wrote since `from`, joined on one line for an error message.
fn log_tail(path: &Path, from: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = fs::File::open(path) {
        let _ = file.seek(SeekFrom::Start(from));
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
    if tail.is_empty() {
        format!("nessun messaggio (vedere {})", path.display())
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_bin(dir: &Path, version: &str) {
        fs::create_dir_all(dir).unwrap();
        for name in ["initdb", "postgres"] {
            let path = dir.join(name);
            fs::write(
                &path,
                format!("#!/bin/sh\necho 'postgres (PostgreSQL) {version}'\n"),
            )
            .unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        }
    }

    #[test]
    fn newest_version_first_path_and_lib_root_together() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        fake_bin(&lib.join("13/bin"), "13.9");
        fake_bin(&lib.join("17/bin"), "17.2");
        fake_bin(&tmp.path().join("onpath"), "16.4 (Debian 16.4-1)");
        fs::create_dir_all(tmp.path().join("empty")).unwrap();
        let path =
            std::env::join_paths([tmp.path().join("empty"), tmp.path().join("onpath")]).unwrap();
        let found = find_server_binaries(None, Some(&path), &lib).unwrap();
        let majors: Vec<u32> = found.iter().map(|b| b.major).collect();
        assert_eq!(majors, vec![17, 16, 13]);
        assert_eq!(found[1].version, "16.4");
    }

    #[test]
    fn override_is_the_only_place_searched() {
        let tmp = tempfile::tempdir().unwrap();
        let lib = tmp.path().join("lib");
        fake_bin(&lib.join("17/bin"), "17.2");
        let empty = tmp.path().join("empty");
        fs::create_dir_all(&empty).unwrap();
        let err = find_server_binaries(Some(&empty), None, &lib).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("apt-get install postgresql"), "{message}");
        assert!(message.contains("DATABASE_URL"), "{message}");
        assert!(!message.contains('\n'));
    }

    #[test]
    fn versions_compare_numerically() {
        assert!(version_key("10.1") > version_key("9.6"));
        assert_eq!(major_of("15.20"), 15);
        assert_eq!(major_of("9.6"), 9);
    }
}
