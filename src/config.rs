//! Typed settings read from the environment (`PATROCINIO_*` plus `DATABASE_URL`).
//!
//! Every variable is listed in [`VARIABLES`]; README's configuration table is checked against it
//! by a test. Secrets (database URLs) are never printed: [`Config`]'s `Debug` redacts them.

use std::{fmt, net::SocketAddr, path::PathBuf};

use anyhow::{Context, bail};

pub const PREFIX: &str = "PATROCINIO_";
const MB: u64 = 1024 * 1024;

/// Every variable the service reads, with its default and meaning (README shows the same table).
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "DATABASE_URL",
        "(unset)",
        "PostgreSQL URL for the service role `patrocinio_app`; unset = embedded PostgreSQL",
    ),
    (
        "PATROCINIO_ADMIN_DATABASE_URL",
        "(unset)",
        "admin URL used by `patrocinio migrate` to create the roles and run migrations",
    ),
    (
        "PATROCINIO_BIND",
        "127.0.0.1:8080",
        "address and port to listen on",
    ),
    (
        "PATROCINIO_PUBLIC_URL",
        "http://<bind>",
        "external URL; `https://` turns on HSTS",
    ),
    (
        "PATROCINIO_DATA_DIR",
        "./data",
        "local data folder (embedded PostgreSQL cluster in `postgres/`)",
    ),
    (
        "PATROCINIO_POSTGRES_BIN",
        "(search)",
        "folder with `initdb` and `postgres`; default: PATH, then /usr/lib/postgresql/<version>/bin",
    ),
    (
        "PATROCINIO_DB_MAX_CONNECTIONS",
        "10",
        "size of the service's connection pool",
    ),
    (
        "PATROCINIO_BACKUP_HOUR",
        "2",
        "hour (0 to 23, Europe/Rome) of the daily backup that `serve` takes of its embedded PostgreSQL and file store; a run missed while stopped is made up at start; `no` = no daily backup (ignored with DATABASE_URL: use pgBackRest)",
    ),
    (
        "PATROCINIO_LOG",
        "info",
        "log filter (tracing EnvFilter syntax)",
    ),
    ("PATROCINIO_LOG_FORMAT", "text", "`text` or `json`"),
    (
        "PATROCINIO_SMTP_URL",
        "(unset)",
        "SMTP server for e-mail: `smtp://host:25` (plain), `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465` (TLS); unset = e-mails wait in the outbox",
    ),
    (
        "PATROCINIO_MAIL_FROM",
        "Patrocinio <noreply@localhost>",
        "sender of the e-mails (replies go to the Ordine's PEC)",
    ),
    (
        "PATROCINIO_PEC_DIR",
        "(unset)",
        "folder with one `<slug>.url` per Ordine that sends PEC: the SMTP URL of its certified-mail provider; messages to a lawyer's PEC go that way, from the Ordine's PEC address; and one `<slug>.imap` per Ordine whose PEC mailbox is read for the providers' receipts: `imaps://user:pass@host:993/INBOX` (TLS) or `imap://…` (plain, loopback only)",
    ),
    (
        "PATROCINIO_PEC_POLL_SECONDS",
        "60",
        "how often the PEC mailboxes (`<slug>.imap`) are read for receipts, 1 to 3600 seconds",
    ),
    (
        "PATROCINIO_LOTL_CERTS",
        "(unset)",
        "PEM file of the certificates that may sign the EU List of Trusted Lists (as published in the Official Journal of the EU); `patrocinio fiducia importa` refuses a LOTL signed by any other",
    ),
    (
        "PATROCINIO_FILES_URL",
        "(unset)",
        "where attachments and generated documents are kept: unset or `file:///<folder>` = a local folder (`PATROCINIO_FILES_DIR`); `s3://<bucket>` = an S3-compatible bucket shared by every instance, reached with `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ENDPOINT` (default Amazon), `AWS_REGION` (default `us-east-1`); plain `http://` endpoints only on loopback or with `AWS_ALLOW_HTTP=true`",
    ),
    (
        "PATROCINIO_FILES_ORPHAN_HOURS",
        "24",
        "a stored object that no row names is removed once it is this old (1 to 720 hours): what a crash between writing a file and committing its row leaves",
    ),
    (
        "PATROCINIO_MAIL_RETRY_SECONDS",
        "60",
        "first wait after a failed sending; it doubles at each attempt (at most 1 hour); after 8 attempts the message is marked undeliverable",
    ),
    (
        "PATROCINIO_MAIL_POLL_SECONDS",
        "60",
        "the mail worker's safety poll, 1 to 3600 seconds: it wakes when a message is queued (a notification at commit) or a retry falls due, and at least this often should a notification be lost",
    ),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Requests per hour per client address on the public form's costly actions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// New drafts.
    pub create: u32,
    /// Uploads.
    pub upload: u32,
    /// Submissions.
    pub submit: u32,
    /// Code-and-PIN checks (status page and resuming).
    pub status: u32,
    /// Login attempts (password and second factor).
    pub login: u32,
    /// PDFs made on request (a draft's application, a receipt).
    pub pdf: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            create: 20,
            upload: 120,
            submit: 60,
            status: 60,
            login: 60,
            pdf: 120,
        }
    }
}

impl RateLimits {
    fn parse(spec: &str) -> anyhow::Result<Self> {
        let mut limits = Self::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .context("PATROCINIO_RATE_LIMITS: use name=number pairs, e.g. nuova=20,invio=20")?;
            let value: u32 = value
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .context("PATROCINIO_RATE_LIMITS: each limit must be a positive number")?;
            match name.trim() {
                "nuova" => limits.create = value,
                "allegati" => limits.upload = value,
                "invio" => limits.submit = value,
                "stato" => limits.status = value,
                "accesso" => limits.login = value,
                "pdf" => limits.pdf = value,
                other => bail!(
                    "PATROCINIO_RATE_LIMITS: unknown limit {other:?} (nuova, allegati, invio, stato, accesso, pdf)"
                ),
            }
        }
        Ok(limits)
    }
}

#[derive(Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub public_url: Option<String>,
    pub data_dir: PathBuf,
    pub database_url: Option<String>,
    pub admin_database_url: Option<String>,
    pub postgres_bin: Option<PathBuf>,
    pub db_max_connections: u32,
    pub files_dir: Option<PathBuf>,
    /// `PATROCINIO_FILES_URL`: `file:///<folder>` or `s3://<bucket>`; unset = `files_dir()`.
    pub files_url: Option<String>,
    /// The S3 client's settings (`AWS_*`), used with an `s3://` files URL.
    pub s3: crate::storage::S3Settings,
    /// Objects that no row names are removed once they are this old.
    pub files_orphan_grace: std::time::Duration,
    /// How often the sweeper of orphan objects runs (one instance at a time).
    pub files_sweep_every: std::time::Duration,
    /// Where `patrocinio backup` writes (`PATROCINIO_BACKUP_DIR`, else `<data dir>/../backup`
    /// beside the data folder).
    pub backup_dir: Option<PathBuf>,
    /// Backups older than this are pruned (never the latest verified one).
    pub backup_retention_days: u32,
    /// Hour (Europe/Rome) of the daily backup `serve` takes of the embedded cluster; `None`:
    /// no daily backup.
    pub backup_hour: Option<u32>,
    /// The Ordini's electronic seals (`<slug>.pem`, certificate and key), if any.
    pub seal_dir: Option<PathBuf>,
    /// PEM file of the certificates pinned for the EU LOTL's signature.
    pub lotl_certs: Option<PathBuf>,
    pub max_file_bytes: u64,
    pub max_application_bytes: u64,
    pub rate_limits: RateLimits,
    pub trust_forwarded_for: bool,
    /// A login session ends after this much inactivity.
    pub session_idle: std::time::Duration,
    /// And this long after login, whatever its activity.
    pub session_max_age: std::time::Duration,
    pub log_filter: String,
    pub log_format: LogFormat,
    pub smtp_url: Option<String>,
    pub pec_dir: Option<PathBuf>,
    /// How often the Ordini's PEC mailboxes (`<pec_dir>/<slug>.imap`) are read for receipts.
    pub pec_poll: std::time::Duration,
    pub mail_from: String,
    pub mail_retry: std::time::Duration,
    /// The mail worker's safety poll (it wakes on a notification when a message is queued).
    pub mail_poll: std::time::Duration,
    /// The Bearer token `/metrics` asks for; without one `/metrics` answers 404.
    pub metrics_token: Option<String>,
    /// `/metrics` answers only requests from a loopback address.
    pub metrics_local_only: bool,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("public_url", &self.public_url)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact(&self.database_url))
            .field("smtp_url", &redact(&self.smtp_url))
            .field("admin_database_url", &redact(&self.admin_database_url))
            .field("postgres_bin", &self.postgres_bin)
            .field("db_max_connections", &self.db_max_connections)
            .field("files_dir", &self.files_dir)
            .field("files_url", &self.files_url)
            .field("s3", &self.s3)
            .field("files_orphan_grace", &self.files_orphan_grace)
            .field("backup_dir", &self.backup_dir)
            .field("backup_retention_days", &self.backup_retention_days)
            .field("backup_hour", &self.backup_hour)
            .field("seal_dir", &self.seal_dir)
            .field("lotl_certs", &self.lotl_certs)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("max_application_bytes", &self.max_application_bytes)
            .field("rate_limits", &self.rate_limits)
            .field("trust_forwarded_for", &self.trust_forwarded_for)
            .field("session_idle", &self.session_idle)
            .field("session_max_age", &self.session_max_age)
            .field("log_filter", &self.log_filter)
            .field("log_format", &self.log_format)
            .field("metrics_token", &redact(&self.metrics_token))
            .field("metrics_local_only", &self.metrics_local_only)
            .finish()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            data_dir: PathBuf::from("data"),
            database_url: None,
            admin_database_url: None,
            postgres_bin: None,
            db_max_connections: 10,
            files_dir: None,
            files_url: None,
            s3: crate::storage::S3Settings::default(),
            files_orphan_grace: std::time::Duration::from_secs(24 * 3600),
            files_sweep_every: std::time::Duration::from_secs(3600),
            backup_dir: None,
            backup_retention_days: 90,
            backup_hour: Some(2),
            seal_dir: None,
            lotl_certs: None,
            max_file_bytes: 10 * MB,
            max_application_bytes: 50 * MB,
            rate_limits: RateLimits::default(),
            trust_forwarded_for: false,
            session_idle: std::time::Duration::from_secs(30 * 60),
            session_max_age: std::time::Duration::from_secs(12 * 3600),
            log_filter: "info".into(),
            log_format: LogFormat::Text,
            smtp_url: None,
            pec_dir: None,
            pec_poll: std::time::Duration::from_secs(60),
            mail_from: "Patrocinio <noreply@localhost>".into(),
            mail_retry: std::time::Duration::from_secs(60),
            mail_poll: std::time::Duration::from_secs(60),
            metrics_token: None,
            metrics_local_only: false,
        }
    }
}

impl Config {
    /// The DER of each certificate of `PATROCINIO_LOTL_CERTS` (none when unset).
    pub fn lotl_certificates(&self) -> anyhow::Result<Vec<Vec<u8>>> {
        let Some(path) = &self.lotl_certs else {
            return Ok(Vec::new());
        };
        let pem = std::fs::read(path)
            .with_context(|| format!("PATROCINIO_LOTL_CERTS: reading {}", path.display()))?;
        let certs = openssl::x509::X509::stack_from_pem(&pem)
            .context("PATROCINIO_LOTL_CERTS: not a PEM file of certificates")?;
        if certs.is_empty() {
            bail!("PATROCINIO_LOTL_CERTS: the file holds no certificate");
        }
        certs
            .iter()
            .map(|c| c.to_der().context("PATROCINIO_LOTL_CERTS"))
            .collect()
    }

    /// Reads the process environment. Returns the unknown `PATROCINIO_*` names beside the config,
    /// so that the caller can warn once logging is set up.
    pub fn from_env() -> anyhow::Result<(Self, Vec<String>)> {
        Self::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> anyhow::Result<(Self, Vec<String>)> {
        let mut config = Self::default();
        let mut unknown = Vec::new();
        for (key, value) in vars {
            if key != "DATABASE_URL" && !key.starts_with(PREFIX) && !key.starts_with("AWS_") {
                continue;
            }
            let value = value.trim().to_owned();
            let empty = value.is_empty();
            match key.as_str() {
                _ if empty => {}
                // The S3 client's standard variables (used only with an `s3://` files URL).
                "AWS_ACCESS_KEY_ID" => config.s3.access_key_id = Some(value),
                "AWS_SECRET_ACCESS_KEY" => config.s3.secret_access_key = Some(value),
                "AWS_SESSION_TOKEN" => config.s3.session_token = Some(value),
                "AWS_ENDPOINT" | "AWS_ENDPOINT_URL" => config.s3.endpoint = Some(value),
                "AWS_REGION" => config.s3.region = Some(value),
                "AWS_DEFAULT_REGION" => {
                    config.s3.region.get_or_insert(value);
                }
                "AWS_ALLOW_HTTP" => {
                    config.s3.allow_http = match value.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => bail!("AWS_ALLOW_HTTP deve essere true o false"),
                    }
                }
                _ if key.starts_with("AWS_") => {}
                "DATABASE_URL" => config.database_url = Some(value),
                "PATROCINIO_ADMIN_DATABASE_URL" => config.admin_database_url = Some(value),
                "PATROCINIO_BIND" => config.bind = value.parse().with_context(|| {
                    format!(
                        "PATROCINIO_BIND must be an address such as 127.0.0.1:8080, not {value:?}"
                    )
                })?,
                "PATROCINIO_PUBLIC_URL" => {
                    if !(value.starts_with("http://") || value.starts_with("https://")) {
                        bail!("PATROCINIO_PUBLIC_URL must start with http:// or https://");
                    }
                    config.public_url = Some(value.trim_end_matches('/').to_owned());
                }
                "PATROCINIO_DATA_DIR" => config.data_dir = PathBuf::from(value),
                "PATROCINIO_POSTGRES_BIN" => config.postgres_bin = Some(PathBuf::from(value)),
                "PATROCINIO_DB_MAX_CONNECTIONS" => {
                    config.db_max_connections = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .context("PATROCINIO_DB_MAX_CONNECTIONS must be a number from 1 to 1000")?
                }
                "PATROCINIO_FILES_DIR" => config.files_dir = Some(PathBuf::from(value)),
                "PATROCINIO_FILES_URL" => {
                    crate::storage::Location::parse(&value, None)?;
                    config.files_url = Some(value);
                }
                "PATROCINIO_FILES_ORPHAN_HOURS" => {
                    let hours: u64 = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=720).contains(n))
                        .context(
                            "PATROCINIO_FILES_ORPHAN_HOURS deve essere un numero di ore da 1 a 720",
                        )?;
                    config.files_orphan_grace = std::time::Duration::from_secs(hours * 3600);
                }
                "PATROCINIO_BACKUP_DIR" => config.backup_dir = Some(PathBuf::from(value)),
                "PATROCINIO_BACKUP_RETENTION_DAYS" => {
                    // Bounded: a typo such as 9000000 would keep everything forever.
                    config.backup_retention_days = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=3650).contains(n))
                        .context(
                            "PATROCINIO_BACKUP_RETENTION_DAYS must be a number from 1 to 3650",
                        )?
                }
                "PATROCINIO_BACKUP_HOUR" => {
                    config.backup_hour = match value.as_str() {
                        "no" | "off" | "false" => None,
                        _ => Some(value.parse().ok().filter(|h| *h < 24).context(
                            "PATROCINIO_BACKUP_HOUR must be an hour from 0 to 23, or `no`",
                        )?),
                    }
                }
                "PATROCINIO_SEAL_DIR" => config.seal_dir = Some(PathBuf::from(value)),
                "PATROCINIO_LOTL_CERTS" => config.lotl_certs = Some(PathBuf::from(value)),
                "PATROCINIO_MAX_FILE_MB" => config.max_file_bytes = megabytes(&key, &value)?,
                "PATROCINIO_MAX_APPLICATION_MB" => {
                    config.max_application_bytes = megabytes(&key, &value)?
                }
                "PATROCINIO_RATE_LIMITS" => config.rate_limits = RateLimits::parse(&value)?,
                "PATROCINIO_TRUST_FORWARDED_FOR" => {
                    config.trust_forwarded_for = match value.as_str() {
                        "true" | "1" | "si" => true,
                        "false" | "0" | "no" => false,
                        _ => bail!("PATROCINIO_TRUST_FORWARDED_FOR must be true or false"),
                    }
                }
                "PATROCINIO_SESSION_IDLE_MINUTES" => {
                    let minutes: u64 = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=24 * 60).contains(n))
                        .context("PATROCINIO_SESSION_IDLE_MINUTES must be a number of minutes from 1 to 1440")?;
                    config.session_idle = std::time::Duration::from_secs(minutes * 60);
                }
                "PATROCINIO_SESSION_MAX_HOURS" => {
                    let hours: u64 = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=72).contains(n))
                        .context(
                            "PATROCINIO_SESSION_MAX_HOURS must be a number of hours from 1 to 72",
                        )?;
                    config.session_max_age = std::time::Duration::from_secs(hours * 3600);
                }
                "PATROCINIO_LOG" => config.log_filter = value,
                // 32 to 512 characters: long enough not to be guessed, short enough to compare
                // in constant time without cost.
                "PATROCINIO_METRICS_TOKEN" => {
                    if !(32..=512).contains(&value.len()) || !value.is_ascii() {
                        bail!("PATROCINIO_METRICS_TOKEN must be 32 to 512 ASCII characters");
                    }
                    config.metrics_token = Some(value);
                }
                "PATROCINIO_METRICS_LOCAL_ONLY" => {
                    config.metrics_local_only = match value.as_str() {
                        "true" | "1" | "si" => true,
                        "false" | "0" | "no" => false,
                        _ => bail!("PATROCINIO_METRICS_LOCAL_ONLY must be true or false"),
                    }
                }
                "PATROCINIO_SMTP_URL" => config.smtp_url = Some(value),
                "PATROCINIO_PEC_DIR" => config.pec_dir = Some(PathBuf::from(value)),
                "PATROCINIO_PEC_POLL_SECONDS" => {
                    let seconds: u64 = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=3600).contains(n))
                        .context("PATROCINIO_PEC_POLL_SECONDS must be a number of seconds from 1 to 3600")?;
                    config.pec_poll = std::time::Duration::from_secs(seconds);
                }
                "PATROCINIO_MAIL_FROM" => config.mail_from = value,
                "PATROCINIO_MAIL_RETRY_SECONDS" => {
                    let seconds: u64 = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=3600).contains(n))
                        .context("PATROCINIO_MAIL_RETRY_SECONDS must be a number of seconds from 1 to 3600")?;
                    config.mail_retry = std::time::Duration::from_secs(seconds);
                }
                "PATROCINIO_MAIL_POLL_SECONDS" => {
                    let seconds: u64 = value
                        .parse()
                        .ok()
                        .filter(|n| (1..=3600).contains(n))
                        .context("PATROCINIO_MAIL_POLL_SECONDS must be a number of seconds from 1 to 3600")?;
                    config.mail_poll = std::time::Duration::from_secs(seconds);
                }
                "PATROCINIO_LOG_FORMAT" => {
                    config.log_format = match value.as_str() {
                        "text" => LogFormat::Text,
                        "json" => LogFormat::Json,
                        _ => bail!("PATROCINIO_LOG_FORMAT must be `text` or `json`"),
                    }
                }
                _ => unknown.push(key),
            }
        }
        unknown.sort();
        if config.files_url.is_some() && config.files_dir.is_some() {
            bail!(
                "PATROCINIO_FILES_URL e PATROCINIO_FILES_DIR sono entrambe impostate: indicare la cartella dei file in una sola (file:///<cartella>)"
            );
        }
        Ok((config, unknown))
    }

    /// Where attachments go: `PATROCINIO_FILES_DIR`, else `files/` in the data folder.
    pub fn files_dir(&self) -> PathBuf {
        self.files_dir
            .clone()
            .unwrap_or_else(|| self.data_dir.join("files"))
    }

    /// Where attachments and generated documents are kept: `PATROCINIO_FILES_URL`, else the
    /// folder [`Config::files_dir`].
    pub fn files_location(&self) -> anyhow::Result<crate::storage::Location> {
        match &self.files_url {
            Some(url) => crate::storage::Location::parse(url, Some(&self.s3)),
            None => Ok(crate::storage::Location::Local(self.files_dir())),
        }
    }

    /// Where backups go: `PATROCINIO_BACKUP_DIR`, else `backup/` beside the data folder (not
    /// inside it: a backup inside the folder it protects would be lost with it).
    pub fn backup_dir(&self) -> PathBuf {
        self.backup_dir.clone().unwrap_or_else(|| {
            let data =
                std::path::absolute(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
            match data.parent() {
                Some(parent) => parent.join("backup"),
                None => data.join("backup"),
            }
        })
    }

    /// Where the embedded cluster archives its WAL: `wal/` in the backup folder.
    pub fn wal_archive_dir(&self) -> PathBuf {
        self.backup_dir().join("wal")
    }

    /// The URL users reach us at, given the port we actually bound.
    pub fn public_url_for(&self, port: u16) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => format!("http://{}:{port}", self.bind.ip()),
        }
    }
}

fn megabytes(key: &str, value: &str) -> anyhow::Result<u64> {
    value
        .parse::<u64>()
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .map(|n| n * MB)
        .with_context(|| format!("{key} must be a number of megabytes from 1 to 1024"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_and_overrides() {
        let (c, unknown) = Config::from_vars(vars(&[
            ("PATROCINIO_BIND", "0.0.0.0:9000"),
            ("PATROCINIO_LOG_FORMAT", "json"),
            ("PATROCINIO_PUBLIC_URL", "https://patrocinio.example.it/"),
            ("PATH", "/usr/bin"),
        ]))
        .unwrap();
        assert_eq!(c.bind.port(), 9000);
        assert_eq!(c.log_format, LogFormat::Json);
        assert_eq!(
            c.public_url.as_deref(),
            Some("https://patrocinio.example.it")
        );
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert!(unknown.is_empty());
    }

    #[test]
    fn the_metrics_token_is_long_and_hidden_from_debug() {
        assert!(Config::from_vars(vars(&[("PATROCINIO_METRICS_TOKEN", "corto")])).is_err());
        assert!(Config::from_vars(vars(&[("PATROCINIO_METRICS_LOCAL_ONLY", "forse")])).is_err());
        let token = "t".repeat(32);
        let (c, _) = Config::from_vars(vars(&[
            ("PATROCINIO_METRICS_TOKEN", &token),
            ("PATROCINIO_METRICS_LOCAL_ONLY", "true"),
        ]))
        .unwrap();
        assert_eq!(c.metrics_token.as_deref(), Some(token.as_str()));
        assert!(c.metrics_local_only);
        assert!(!format!("{c:?}").contains(&token));
    }

    #[test]
    fn unknown_prefixed_variables_are_reported() {
        let (_, unknown) = Config::from_vars(vars(&[
            ("PATROCINIO_BNID", "x"),
            ("PATROCINIO_LOG", "debug"),
        ]))
        .unwrap();
        assert_eq!(unknown, vec!["PATROCINIO_BNID".to_string()]);
    }

    #[test]
    fn bad_values_are_refused_with_the_variable_name() {
        let err = Config::from_vars(vars(&[("PATROCINIO_BIND", "localhost")])).unwrap_err();
        assert!(err.to_string().contains("PATROCINIO_BIND"));
        let err = Config::from_vars(vars(&[("PATROCINIO_DB_MAX_CONNECTIONS", "0")])).unwrap_err();
        assert!(err.to_string().contains("PATROCINIO_DB_MAX_CONNECTIONS"));
    }

    #[test]
    fn every_known_variable_is_parsed_and_documented_in_readme() {
        let readme = include_str!("../README.md");
        for (name, _, _) in VARIABLES {
            assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
            let value = match *name {
                "PATROCINIO_BIND" => "127.0.0.1:1",
                "PATROCINIO_PUBLIC_URL" => "http://x",
                "PATROCINIO_DB_MAX_CONNECTIONS" => "5",
                "PATROCINIO_LOG_FORMAT" => "text",
                "PATROCINIO_MAX_FILE_MB" | "PATROCINIO_MAX_APPLICATION_MB" => "5",
                "PATROCINIO_RATE_LIMITS" => "nuova=1",
                "PATROCINIO_TRUST_FORWARDED_FOR" => "true",
                "PATROCINIO_SESSION_IDLE_MINUTES" | "PATROCINIO_SESSION_MAX_HOURS" => "3",
                "PATROCINIO_MAIL_RETRY_SECONDS"
                | "PATROCINIO_PEC_POLL_SECONDS"
                | "PATROCINIO_MAIL_POLL_SECONDS" => "5",
                "PATROCINIO_BACKUP_HOUR" => "3",
                "PATROCINIO_FILES_URL" => "s3://archivio",
                "PATROCINIO_FILES_ORPHAN_HOURS" => "24",
                _ => "x",
            };
            let (_, unknown) = Config::from_vars(vars(&[(name, value)])).unwrap();
            assert!(unknown.is_empty(), "{name} is listed but not parsed");
        }
    }

    #[test]
    fn rate_limits_are_named() {
        let (c, _) =
            Config::from_vars(vars(&[("PATROCINIO_RATE_LIMITS", "invio=3, stato=7")])).unwrap();
        assert_eq!(c.rate_limits.submit, 3);
        assert_eq!(c.rate_limits.status, 7);
        assert_eq!(c.rate_limits.create, RateLimits::default().create);
        let (c, _) = Config::from_vars(vars(&[("PATROCINIO_RATE_LIMITS", "accesso=500")])).unwrap();
        assert_eq!(c.rate_limits.login, 500);
        assert!(Config::from_vars(vars(&[("PATROCINIO_RATE_LIMITS", "tutto=3")])).is_err());
        assert!(Config::from_vars(vars(&[("PATROCINIO_RATE_LIMITS", "invio=0")])).is_err());
    }

    #[test]
    fn the_files_url_names_a_folder_or_a_bucket_and_hides_the_secret() {
        let (c, _) = Config::from_vars(vars(&[
            ("PATROCINIO_FILES_URL", "s3://patrocinio-file"),
            ("AWS_ACCESS_KEY_ID", "GK0123"),
            ("AWS_SECRET_ACCESS_KEY", "segretissimo"),
            ("AWS_ENDPOINT", "http://127.0.0.1:3900"),
            ("AWS_REGION", "garage"),
            ("PATROCINIO_FILES_ORPHAN_HOURS", "48"),
        ]))
        .unwrap();
        assert_eq!(c.files_orphan_grace.as_secs(), 48 * 3600);
        match c.files_location().unwrap() {
            crate::storage::Location::S3 { bucket, settings } => {
                assert_eq!(bucket, "patrocinio-file");
                assert_eq!(settings.region.as_deref(), Some("garage"));
            }
            other => panic!("{other:?}"),
        }
        assert!(!format!("{c:?}").contains("segretissimo"));
        let (c, _) = Config::from_vars(vars(&[(
            "PATROCINIO_FILES_URL",
            "file:///srv/patrocinio/file",
        )]))
        .unwrap();
        assert!(matches!(
            c.files_location().unwrap(),
            crate::storage::Location::Local(p) if p == std::path::Path::new("/srv/patrocinio/file")
        ));
        let (c, _) = Config::from_vars(vars(&[("PATROCINIO_FILES_DIR", "/tmp/f")])).unwrap();
        assert!(matches!(
            c.files_location().unwrap(),
            crate::storage::Location::Local(_)
        ));
        for bad in [
            "ftp://x",
            "s3://",
            "s3://A_B",
            "s3://bucket/cartella",
            "file://relativo",
        ] {
            let err = Config::from_vars(vars(&[("PATROCINIO_FILES_URL", bad)])).unwrap_err();
            assert!(
                err.to_string().contains("PATROCINIO_FILES_URL"),
                "{bad}: {err}"
            );
        }
        assert!(
            Config::from_vars(vars(&[
                ("PATROCINIO_FILES_URL", "s3://archivio"),
                ("PATROCINIO_FILES_DIR", "/tmp/f"),
            ]))
            .is_err()
        );
        assert!(Config::from_vars(vars(&[("PATROCINIO_FILES_ORPHAN_HOURS", "0")])).is_err());
        // Without credentials the bucket is refused when the store is opened.
        let (c, _) = Config::from_vars(vars(&[("PATROCINIO_FILES_URL", "s3://archivio")])).unwrap();
        assert!(c.files_location().is_err());
        // Plain http only on loopback, or when asked for.
        let remote = [
            ("PATROCINIO_FILES_URL", "s3://archivio"),
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "s"),
            ("AWS_ENDPOINT", "http://garage:3900"),
        ];
        let (c, _) = Config::from_vars(vars(&remote)).unwrap();
        let err = c.files_location().unwrap_err();
        assert!(err.to_string().contains("AWS_ALLOW_HTTP"), "{err}");
        let mut allowed = remote.to_vec();
        allowed.push(("AWS_ALLOW_HTTP", "true"));
        let (c, _) = Config::from_vars(vars(&allowed)).unwrap();
        assert!(c.files_location().is_ok());
    }

    #[test]
    fn debug_output_hides_database_urls() {
        let (c, _) = Config::from_vars(vars(&[(
            "DATABASE_URL",
            "postgres://patrocinio_app:segreto@db/patrocinio",
        )]))
        .unwrap();
        assert!(!format!("{c:?}").contains("segreto"));
    }
}
