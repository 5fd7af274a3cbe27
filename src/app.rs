//! `Application::build(config)`: the pool, the listener and the router; then run until stopped.

use std::{
    future::{Future, IntoFuture},
    net::SocketAddr,
    sync::Arc,
};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::{
    config::Config,
    db::Db,
    documents::pdf::PdfEngine,
    jobs,
    storage::Storage,
    web::{self, AppState, FileLimits, WebSettings, ratelimit::Limiters},
};

/// How long requests in flight may take to finish once the service is told to stop.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    port: u16,
    url: String,
    db: Db,
    storage: Storage,
    pdf: Arc<PdfEngine>,
    limiters: Arc<Limiters>,
    hub: crate::live::Hub,
    /// `None` without an SMTP server: e-mails wait in the outbox.
    mailer: Option<Arc<crate::mail::Mailer>>,
    seal_dir: Option<std::path::PathBuf>,
    /// Where the Ordini's PEC mailboxes are named (`<slug>.imap`), and how often they are read.
    pec_mailboxes: Option<(std::path::PathBuf, std::time::Duration)>,
    /// The sweeper of orphan files: their grace period and how often it runs.
    orphan_sweep: (std::time::Duration, std::time::Duration),
}

impl Application {
    /// Connects to `config.database_url` (as the service role) and binds `config.bind`; port 0
    /// picks a free port.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let database_url = config
            .database_url
            .as_deref()
            .context("manca l'indirizzo del database")?;
        let db = Db::connect(database_url, config.db_max_connections).await?;
        let listener = TcpListener::bind(config.bind)
            .await
            .with_context(|| format!("impossibile mettersi in ascolto su {}", config.bind))?;
        let port = listener.local_addr()?.port();
        let url = config.public_url_for(port);
        let storage = Storage::open(&config.files_location()?)?;
        tracing::info!(store = %storage.describe(), "file store");
        let limiters = Arc::new(Limiters::new(
            config.rate_limits,
            config.trust_forwarded_for,
        ));
        // Fonts are parsed once here; every PDF reuses them.
        let pdf = Arc::new(tokio::task::spawn_blocking(PdfEngine::new).await?);
        let hub = crate::live::Hub::new();
        let mailer = crate::mail::Mailer::from_config(config, &url)?.map(Arc::new);
        if mailer.is_none() {
            tracing::warn!(
                "PATROCINIO_SMTP_URL is not set: e-mails are kept in the outbox and sent once it is"
            );
        }
        let state = AppState {
            db: db.clone(),
            settings: Arc::new(WebSettings {
                public_url: url.clone(),
                seal_dir: config.seal_dir.clone(),
                mail_configured: mailer.is_some(),
                metrics_token: config.metrics_token.clone(),
                metrics_local_only: config.metrics_local_only,
                backup_dir: config.backup_dir(),
                limits: FileLimits {
                    max_file_bytes: config.max_file_bytes,
                    max_application_bytes: config.max_application_bytes,
                },
            }),
            storage: storage.clone(),
            pdf: pdf.clone(),
            limiters: limiters.clone(),
            hub: hub.clone(),
            metrics: Arc::new(web::metrics::Recorder::new(
                web::route_table().iter().map(|r| r.path),
            )),
            metrics_scrape: Arc::new(tokio::sync::Mutex::new(())),
            exports: Arc::new(tokio::sync::Semaphore::new(
                web::case::list::EXPORTS_AT_ONCE,
            )),
            sessions: web::auth::SessionSettings {
                idle: config.session_idle,
                max_age: config.session_max_age,
                secure: url.starts_with("https://"),
            },
        };
        Ok(Self {
            listener,
            router: web::router(state),
            port,
            url,
            db,
            storage,
            pdf,
            limiters,
            hub,
            mailer,
            seal_dir: config.seal_dir.clone(),
            pec_mailboxes: config.pec_dir.clone().map(|d| (d, config.pec_poll)),
            orphan_sweep: (config.files_orphan_grace, config.files_sweep_every),
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL users reach the service at.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn pdf(&self) -> &Arc<PdfEngine> {
        &self.pdf
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let purge = jobs::spawn_draft_purge(self.db.clone(), self.storage.clone());
        let (grace, every) = self.orphan_sweep;
        let orphans =
            crate::storage::sweep::spawn(self.db.clone(), self.storage.clone(), grace, every);
        let registers = jobs::spawn_daily_registers(
            self.db.clone(),
            self.pdf.clone(),
            self.storage.clone(),
            self.seal_dir.clone(),
        );
        let tax_batches =
            jobs::spawn_tax_batches(self.db.clone(), self.pdf.clone(), self.storage.clone());
        let sessions = web::auth::spawn_expired_deletion(&self.db);
        let limiters = self.limiters.clone();
        let prune = tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
            loop {
                tick.tick().await;
                limiters.prune();
            }
        });
        let listener = crate::live::listener::spawn(self.db.clone(), self.hub.clone());
        let logins = crate::live::logins::spawn(self.db.clone(), self.hub.logins.clone());
        let mail = self
            .mailer
            .clone()
            .map(|m| crate::mail::worker::spawn(self.db.clone(), m, self.storage.clone()));
        let reminders = crate::mail::reminders::spawn(self.db.clone());
        let receipts = self.pec_mailboxes.clone().map(|(dir, every)| {
            crate::pec::spawn(self.db.clone(), self.storage.clone(), dir, every)
        });
        let hub = self.hub.clone();
        // Live sockets would hold the graceful shutdown open: they are closed first, with
        // 1012, so that clients reconnect to the next instance.
        let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
        let shutdown = async move {
            shutdown.await;
            hub.shut_down();
            let _ = stopping_tx.send(());
        };
        let serve = axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .into_future();
        // Requests in flight get a bounded time to finish; then the server stops anyway.
        let served = tokio::select! {
            served = serve => served.context("server error"),
            () = async {
                if stopping.await.is_ok() {
                    tokio::time::sleep(SHUTDOWN_GRACE).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::warn!(grace = ?SHUTDOWN_GRACE, "requests still running at shutdown: stopped");
                Ok(())
            }
        };
        listener.abort();
        logins.abort();
        if let Some(mail) = mail {
            mail.abort();
        }
        reminders.abort();
        if let Some(receipts) = receipts {
            receipts.abort();
        }
        purge.abort();
        orphans.abort();
        registers.abort();
        tax_batches.abort();
        prune.abort();
        sessions.abort();
        self.db.close().await;
        served
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

/// Completes on Ctrl-C (SIGINT) or SIGTERM. The handlers are installed when this is called,
/// not when the future is first polled, so a signal that arrives early is not lost (nor does it
/// kill the process before the database is stopped).
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let int = signal(SignalKind::interrupt());
    let term = signal(SignalKind::terminate());
    async move {
        match (int, term) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {},
                    _ = term.recv() => {},
                }
            }
            _ => std::future::pending().await,
        }
        tracing::info!("shutting down");
    }
}
