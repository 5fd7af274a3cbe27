//! The command line: `patrocinio serve [--demo]` (the default), `patrocinio migrate`, and the
//! administration commands (`audit`, `albo`, `ordine`, `fiducia`).

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use sqlx::Connection;

use crate::{
    Application,
    app::shutdown_signal,
    config::Config,
    db::{
        embedded::{EmbeddedOptions, EmbeddedPostgres},
        provision,
    },
    demo, telemetry,
};

/// The database of the embedded server.
const EMBEDDED_DATABASE: &str = "patrocinio";

#[derive(Parser)]
#[command(
    name = "patrocinio",
    version,
    about = "Patrocinio a spese dello Stato: il servizio per i Consigli dell'Ordine degli Avvocati"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Avvia il servizio web (predefinito).
    Serve {
        /// Crea, su un database vuoto, l'Ordine dimostrativo `demo`.
        #[arg(long)]
        demo: bool,
    },
    /// Crea i ruoli del database ed esegue le migrazioni.
    ///
    /// Con DATABASE_URL impostato serve l'indirizzo di un amministratore (--admin-url o
    /// PATROCINIO_ADMIN_DATABASE_URL) sullo stesso database; la password del ruolo
    /// patrocinio_app è quella di DATABASE_URL. Senza DATABASE_URL agisce sul PostgreSQL
    /// incorporato.
    Migrate {
        #[arg(long)]
        admin_url: Option<String>,
    },
    /// Registro delle operazioni (audit).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Albo degli avvocati.
    Albo {
        #[command(subcommand)]
        command: AlboCommand,
    },
    /// Gli Ordini serviti da questa installazione (amministrazione della piattaforma).
    Ordine {
        #[command(subcommand)]
        command: OrdineCommand,
    },
    /// Elenchi di fiducia (ETSI TS 119 612) con cui si riconoscono le firme qualificate.
    Fiducia {
        #[command(subcommand)]
        command: FiduciaCommand,
    },
    /// Backup del PostgreSQL incorporato e dei file in PATROCINIO_BACKUP_DIR, verificato con
    /// pg_verifybackup; poi elimina i backup più vecchi di PATROCINIO_BACKUP_RETENTION_DAYS
    /// (mai l'ultimo verificato). Da eseguire a servizio fermo.
    Backup {
        #[command(subcommand)]
        command: Option<BackupCommand>,
    },
    /// Ricostruisce la cartella dei dati (cluster, credenziali, file) da un backup, al suo
    /// momento o, con --to, a un momento successivo ripercorrendo il WAL archiviato; rifiuta una
    /// cartella in uso o non vuota. Poi `patrocinio serve` parte sui dati ripristinati.
    Restore {
        /// Il nome del backup (come in `patrocinio backup list`) o il percorso della sua cartella.
        backup: String,
        /// Il momento a cui riportare i dati: `2026-12-01T10:15:00Z`, `2026-12-01T11:15:00+01:00`
        /// oppure `2026-12-01 11:15[:00]` (ora di Roma). Fra la fine del backup e l'ultima
        /// transazione archiviata.
        #[arg(long = "to", alias = "al")]
        to: Option<String>,
    },
    /// Prova di ripristino: ripristina l'ultimo backup verificato in un cluster temporaneo e
    /// controlla righe per Ordine, sicurezza per riga, catene di audit e impronte dei file;
    /// stampa il rapporto e lo conserva nella cartella dei backup.
    #[command(name = "prova-ripristino", alias = "restore-drill")]
    ProvaRipristino,
    /// Stato per l'operatore della piattaforma: ultimo backup e ultima prova di ripristino.
    Stato,
}

#[derive(Subcommand)]
enum BackupCommand {
    /// Elenca i backup con dimensione, durata e verifica.
    #[command(name = "list", alias = "elenco")]
    List,
    /// Verifica di nuovo un backup con pg_verifybackup; esce con errore se è alterato.
    #[command(name = "verifica", alias = "verify")]
    Verifica { backup: String },
}

/// The EU List of Trusted Lists.
const EU_LOTL_URL: &str = "https://ec.europa.eu/tools/lotl/eu-lotl.xml";

#[derive(Subcommand)]
enum FiduciaCommand {
    /// Importa un elenco di fiducia da un file XML, senza rete.
    ///
    /// La LOTL europea è accettata se firmata con uno dei certificati di PATROCINIO_LOTL_CERTS;
    /// un elenco nazionale se firmato con uno dei certificati che la LOTL in vigore indica per
    /// il suo territorio (importare prima la LOTL). Un elenco non firmato, alterato, scaduto o
    /// più vecchio di quello in vigore è rifiutato, e resta in vigore il precedente. Scrive con
    /// il ruolo proprietario: con DATABASE_URL impostato serve l'indirizzo di un amministratore
    /// (--admin-url o PATROCINIO_ADMIN_DATABASE_URL).
    Importa {
        /// Il file XML dell'elenco.
        file: std::path::PathBuf,
        #[arg(long)]
        admin_url: Option<String>,
    },
    /// Scarica e importa la LOTL e gli elenchi nazionali che indica (serve la rete; ogni
    /// elenco è verificato come con `importa`).
    Aggiorna {
        /// Indirizzo della LOTL.
        #[arg(long, default_value = EU_LOTL_URL)]
        url: String,
        /// Solo gli elenchi di questi territori (es. --territorio IT); predefinito: tutti.
        #[arg(long = "territorio")]
        territories: Vec<String>,
        #[arg(long)]
        admin_url: Option<String>,
    },
    /// Mostra gli elenchi in vigore.
    Elenco,
    /// Verifica di nuovo le firme di tutti i documenti conservati con gli elenchi in vigore
    /// (da eseguire dopo un'importazione o un aggiornamento). Aggiorna il rapporto di verifica
    /// di ciascun file e registra nella cronologia della pratica ogni esito cambiato; ciò che
    /// è stato deciso (stato, protocollo, delibere) resta com'è.
    Riverifica,
}

#[derive(Subcommand)]
enum OrdineCommand {
    /// Crea un Ordine e l'account del suo primo amministratore; stampa il link di attivazione.
    Crea {
        /// Nome breve negli indirizzi (es. roma).
        #[arg(long)]
        slug: String,
        /// Denominazione (es. "Consiglio dell'Ordine degli Avvocati di Roma").
        #[arg(long)]
        nome: String,
        #[arg(long)]
        pec: Option<String>,
        /// E-mail del primo amministratore dell'Ordine.
        #[arg(long)]
        amministratore: String,
    },
    /// Elenca gli Ordini.
    Elenco,
}

#[derive(Subcommand)]
enum AlboCommand {
    /// Mostra che cosa cambierebbe importando il file CSV dell'albo; con --applica lo importa.
    ///
    /// Se alcune righe hanno errori o qualche avvocato verrebbe disattivato, --applica chiede
    /// una scelta esplicita (--ignora-errori; --disattiva oppure --senza-disattivazioni) e
    /// altrimenti non modifica nulla.
    Importa {
        /// Il nome breve dell'Ordine (es. roma).
        #[arg(long)]
        ordine: String,
        /// Il file CSV dell'albo.
        file: std::path::PathBuf,
        #[arg(long)]
        applica: bool,
        /// Applica anche se alcune righe hanno errori: quelle righe non modificano nulla.
        #[arg(long, requires = "applica")]
        ignora_errori: bool,
        /// Disattiva gli avvocati che non compaiono nel file (si possono ripristinare dalla
        /// pagina dell'importazione).
        #[arg(long, requires = "applica", conflicts_with = "senza_disattivazioni")]
        disattiva: bool,
        /// Applica senza disattivare nessuno.
        #[arg(long, requires = "applica")]
        senza_disattivazioni: bool,
        /// Con --disattiva: conferma anche una disattivazione di più del 10% degli iscritti.
        #[arg(long, requires = "disattiva")]
        conferma_disattivazione_massiva: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verifica la catena di impronte del registro di ogni Ordine; esce con errore se una riga
    /// è stata modificata, tolta o scollegata.
    Verify,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let (config, unknown) = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("errore di configurazione: {e:#}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config);
    for name in unknown {
        tracing::warn!(variable = %name, "unknown PATROCINIO_* variable: ignored");
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("errore: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve { demo: false }) {
            Command::Serve { demo } => serve(config, demo).await,
            Command::Backup { command: None } => backup_take(config).await,
            Command::Backup {
                command: Some(BackupCommand::List),
            } => backup_list(&config),
            Command::Backup {
                command: Some(BackupCommand::Verifica { backup }),
            } => crate::backup::reverify(&config, &backup).map(|m| println!("Backup integro: {m}")),
            Command::Restore { backup, to } => restore(&config, &backup, to.as_deref()).await,
            Command::ProvaRipristino => restore_drill(config).await,
            Command::Stato => status(&config),
            Command::Migrate { admin_url } => migrate(config, admin_url).await,
            Command::Audit {
                command: AuditCommand::Verify,
            } => audit_verify(config).await,
            Command::Albo {
                command:
                    AlboCommand::Importa {
                        ordine,
                        file,
                        applica,
                        ignora_errori,
                        disattiva,
                        senza_disattivazioni,
                        conferma_disattivazione_massiva,
                    },
            } => {
                let choices = AlboChoices {
                    ignore_errors: ignora_errori,
                    disable: disattiva,
                    keep: senza_disattivazioni,
                    confirm_many: conferma_disattivazione_massiva,
                };
                albo_import(config, ordine, file, applica.then_some(choices)).await
            }
            Command::Ordine {
                command:
                    OrdineCommand::Crea {
                        slug,
                        nome,
                        pec,
                        amministratore,
                    },
            } => create_tenant(config, slug, nome, pec, amministratore).await,
            Command::Ordine {
                command: OrdineCommand::Elenco,
            } => list_tenants(config).await,
            Command::Fiducia {
                command: FiduciaCommand::Importa { file, admin_url },
            } => trust_import(config, admin_url, file).await,
            Command::Fiducia {
                command:
                    FiduciaCommand::Aggiorna {
                        url,
                        territories,
                        admin_url,
                    },
            } => trust_refresh(config, admin_url, url, territories).await,
            Command::Fiducia {
                command: FiduciaCommand::Elenco,
            } => trust_list(config).await,
            Command::Fiducia {
                command: FiduciaCommand::Riverifica,
            } => trust_reverify(config).await,
        }
    });
    // A render still running on a blocking thread (its request already answered) does not hold
    // the process: it is abandoned.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("errore: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) async fn start_embedded(config: &Config) -> anyhow::Result<EmbeddedPostgres> {
    let mut options = EmbeddedOptions::new(config.data_dir.clone());
    options.bin_dir = config.postgres_bin.clone();
    // Every start archives its WAL: a gap in the archive would cut point-in-time restore.
    options.wal_archive = Some(config.wal_archive_dir());
    let server = tokio::task::spawn_blocking(move || EmbeddedPostgres::start(&options))
        .await
        .context("embedded PostgreSQL")??;
    Ok(server)
}

/// Roles, database and migrations on the embedded server; returns the service role's URL.
pub(crate) async fn provision_embedded(server: &EmbeddedPostgres) -> anyhow::Result<String> {
    let mut admin = sqlx::PgConnection::connect(&server.superuser_url("postgres")).await?;
    provision::ensure_roles(&mut admin, &server.credentials().app_password).await?;
    provision::ensure_database(&mut admin, EMBEDDED_DATABASE).await?;
    admin.close().await?;
    let mut admin = sqlx::PgConnection::connect(&server.superuser_url(EMBEDDED_DATABASE)).await?;
    provision::migrate(&mut admin).await?;
    admin.close().await?;
    Ok(server.app_url(EMBEDDED_DATABASE))
}

async fn serve(mut config: Config, demo: bool) -> anyhow::Result<()> {
    let stop = shutdown_signal();
    let mut embedded = None;
    // The administrator's URL, for what only the owner role writes (the demo's trusted lists).
    let mut admin_url = config.admin_database_url.clone();
    let mut daily_backup = None;
    match &config.database_url {
        Some(url) => {
            let mut conn = sqlx::PgConnection::connect(url)
                .await
                .context("connessione a DATABASE_URL non riuscita")?;
            provision::check_schema(&mut conn).await?;
            conn.close().await?;
        }
        None => {
            let server = start_embedded(&config).await?;
            config.database_url = Some(provision_embedded(&server).await?);
            admin_url = Some(server.superuser_url(EMBEDDED_DATABASE));
            daily_backup = config.backup_hour.map(|hour| (hour, server.handle()));
            println!(
                "PostgreSQL incorporato {} in {} (porta {})",
                server.binaries.version,
                config.data_dir.join("postgres").display(),
                server.port()
            );
            embedded = Some(server);
        }
    }

    let result = async {
        let app = Application::build(&config).await?;
        println!("Patrocinio è in ascolto su {}", app.url());
        if demo {
            let seeded = demo::seed(app.db(), app.storage(), app.pdf()).await?;
            println!("{}", demo::banner(app.url(), &seeded));
            match &admin_url {
                Some(url) => {
                    let mut admin = sqlx::PgConnection::connect(url)
                        .await
                        .context("connessione come amministratore non riuscita")?;
                    let line = demo::install_trust(&mut admin, &config.data_dir).await?;
                    admin.close().await?;
                    println!("{line}");
                }
                None => println!(
                    "  firme qualificate:    senza PATROCINIO_ADMIN_DATABASE_URL l'elenco di fiducia dimostrativo non è installato: nessuna firma risulterà qualificata"
                ),
            }
        }
        let backups = daily_backup.map(|(hour, server)| {
            crate::jobs::spawn_daily_backup(config.clone(), server, EMBEDDED_DATABASE, hour)
        });
        println!("Ctrl-C per fermare.");
        let served = app.run_until(stop).await;
        if let Some(backups) = backups {
            // A backup under way is abandoned: its `.incompleto` folder is removed next time.
            backups.abort();
        }
        served
    }
    .await;

    if let Some(server) = embedded {
        tokio::task::spawn_blocking(move || server.stop()).await??;
    }
    result
}

async fn backup_take(config: Config) -> anyhow::Result<()> {
    let d = crate::backup::take(&config, EMBEDDED_DATABASE).await?;
    println!(
        "Backup {} in {}: {}, {} ms, verificato ({}).",
        d.name,
        config.backup_dir().display(),
        human_bytes(d.total_bytes()),
        d.duration_ms,
        d.verification
    );
    Ok(())
}

fn human_bytes(n: u64) -> String {
    const MB: f64 = 1024.0 * 1024.0;
    format!("{:.1} MB", n as f64 / MB)
}

fn backup_list(config: &Config) -> anyhow::Result<()> {
    let backups = crate::backup::list(&config.backup_dir())?;
    if backups.is_empty() {
        println!("Nessun backup in {}.", config.backup_dir().display());
    }
    for d in backups {
        println!(
            "{}\t{}\t{} ms\t{}\t{} file\tPostgreSQL {}",
            d.name,
            human_bytes(d.total_bytes()),
            d.duration_ms,
            if d.verified {
                "verificato"
            } else {
                "NON verificato"
            },
            d.files_count,
            d.postgres_version
        );
    }
    Ok(())
}

/// `--to`: an instant with its offset, or a wall-clock time in Rome.
fn parse_moment(text: &str) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    let text = text.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&chrono::Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S%.f",
    ] {
        if let Ok(local) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return crate::domain::time::ZONE
                .from_local_datetime(&local)
                .earliest()
                .map(|t| t.with_timezone(&chrono::Utc))
                .with_context(|| {
                    format!("{text}: quest'ora non esiste a Roma (cambio dell'ora legale)")
                });
        }
    }
    bail!(
        "momento non valido: {text:?} (ad esempio 2026-12-01 11:15 per l'ora di Roma, oppure 2026-12-01T10:15:00Z)"
    )
}

async fn restore(config: &Config, backup: &str, to: Option<&str>) -> anyhow::Result<()> {
    let to = to.map(parse_moment).transpose()?;
    let r = crate::backup::restore(config, backup, to, EMBEDDED_DATABASE).await?;
    println!(
        "Backup {backup} ripristinato in {} in {} ms{}: avviare `patrocinio serve`.",
        r.cluster.display(),
        r.duration_ms,
        match r.reached {
            Some(t) => format!(
                ", ultima transazione ripristinata del {}",
                crate::domain::time::format_date_time(t)
            ),
            None => String::new(),
        }
    );
    if !r.files_missing.is_empty() {
        println!(
            "Attenzione: {} file indicati dai dati ripristinati non sono nel backup (caricati dopo il backup: recuperarli dalla cartella dei file originale, se disponibile). Primi: {}",
            r.files_missing.len(),
            r.files_missing
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(())
}

async fn restore_drill(config: Config) -> anyhow::Result<()> {
    let report = crate::backup::drill(&config, EMBEDDED_DATABASE).await?;
    print!("{}", report.render());
    if !report.ok {
        bail!("prova di ripristino fallita");
    }
    Ok(())
}

fn status(config: &Config) -> anyhow::Result<()> {
    let dir = config.backup_dir();
    match crate::backup::list(&dir)?.last() {
        Some(d) => println!(
            "Ultimo backup: {} ({}, {}, {})",
            d.name,
            d.finished_at.format("%Y-%m-%d %H:%M UTC"),
            human_bytes(d.total_bytes()),
            if d.verified {
                "verificato"
            } else {
                "NON verificato"
            }
        ),
        None => println!("Ultimo backup: nessuno in {}", dir.display()),
    }
    let scheduled = std::fs::read_to_string(dir.join(crate::jobs::LAST_SCHEDULED_BACKUP))
        .ok()
        .and_then(|t| serde_json::from_str::<crate::jobs::ScheduledRun>(&t).ok());
    match (scheduled, config.backup_hour) {
        (Some(r), _) => println!(
            "Ultimo backup giornaliero: {}: {}",
            r.at.format("%Y-%m-%d %H:%M UTC"),
            if r.ok {
                format!("riuscito ({})", r.detail)
            } else {
                format!("FALLITO: {}", r.detail)
            }
        ),
        (None, Some(hour)) => println!(
            "Ultimo backup giornaliero: mai eseguito (programmato alle {hour:02}:00, ora di Roma)"
        ),
        (None, None) => println!("Backup giornaliero: disattivato (PATROCINIO_BACKUP_HOUR=no)"),
    }
    let drill = std::fs::read_to_string(dir.join(crate::backup::LAST_DRILL))
        .ok()
        .and_then(|t| serde_json::from_str::<crate::backup::DrillReport>(&t).ok());
    match drill {
        Some(r) => println!(
            "Ultima prova di ripristino: {} (backup {}): {}",
            r.finished_at.format("%Y-%m-%d %H:%M UTC"),
            r.backup,
            if r.ok { "superata" } else { "FALLITA" }
        ),
        None => println!("Ultima prova di ripristino: mai eseguita"),
    }
    Ok(())
}

async fn migrate(config: Config, admin_url: Option<String>) -> anyhow::Result<()> {
    match &config.database_url {
        Some(app_url) => {
            let Some(admin_url) = admin_url.or(config.admin_database_url.clone()) else {
                bail!(
                    "con DATABASE_URL impostato serve l'indirizzo di un amministratore: --admin-url oppure PATROCINIO_ADMIN_DATABASE_URL"
                );
            };
            provision::provision_external(&admin_url, app_url).await?;
        }
        None => {
            let server = start_embedded(&config).await?;
            let result = provision_embedded(&server).await;
            tokio::task::spawn_blocking(move || server.stop()).await??;
            result?;
        }
    }
    println!("Migrazioni applicate.");
    Ok(())
}

/// The service's database for a one-off command: `DATABASE_URL`, or the embedded server
/// (started for the command and stopped after it).
async fn with_database<F, Fut, T>(config: Config, work: F) -> anyhow::Result<T>
where
    F: FnOnce(crate::db::Db) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let (url, embedded) = match &config.database_url {
        Some(url) => (url.clone(), None),
        None => {
            let server = start_embedded(&config).await?;
            (provision_embedded(&server).await?, Some(server))
        }
    };
    let result = async {
        let db = crate::db::Db::connect(&url, 2).await?;
        let out = work(db.clone()).await;
        db.close().await;
        out
    }
    .await;
    if let Some(server) = embedded {
        tokio::task::spawn_blocking(move || server.stop()).await??;
    }
    result
}

async fn audit_verify(config: Config) -> anyhow::Result<()> {
    let broken = with_database(config, |db| async move {
        let mut broken = 0;
        for tenant in crate::store::tenants::list(&db).await? {
            let mut tx = db.tenant_tx(tenant.id).await?;
            match crate::store::audit::verify_chain(&mut tx).await? {
                Ok(n) => println!("{}: {n} voci, catena integra", tenant.slug),
                Err(b) => {
                    broken += 1;
                    println!(
                        "{}: catena interrotta alla voce {}: {}",
                        tenant.slug, b.seq, b.reason
                    );
                }
            }
            tx.commit().await?;
        }
        Ok(broken)
    })
    .await?;
    if broken > 0 {
        bail!("registro di audit alterato in {broken} Ordini");
    }
    Ok(())
}

/// The explicit choices of `albo importa --applica`.
struct AlboChoices {
    ignore_errors: bool,
    disable: bool,
    keep: bool,
    confirm_many: bool,
}

/// The option that answers a refusal, for the message.
fn albo_option(r: &crate::domain::register::Refusal) -> &'static str {
    use crate::domain::register::Refusal;
    match r {
        Refusal::BadLines(_) => "--ignora-errori",
        Refusal::AbsentUnsaid(_) | Refusal::Changed { .. } => {
            "--disattiva oppure --senza-disattivazioni"
        }
        Refusal::Many { .. } => "--conferma-disattivazione-massiva",
    }
}

async fn albo_import(
    config: Config,
    slug: String,
    file: std::path::PathBuf,
    apply: Option<AlboChoices>,
) -> anyhow::Result<()> {
    use crate::{
        domain::access::{ManageRegister, Role, authorize},
        domain::register::{self, AbsentChoice, Choices},
        store::{audit::Actor, register as store},
    };
    let bytes = std::fs::read(&file).with_context(|| format!("lettura di {}", file.display()))?;
    let (records, bad) = register::parse(&bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
    with_database(config, |db| async move {
        let tenant = crate::store::tenants::find_by_slug(&db, &slug)
            .await?
            .with_context(|| format!("nessun Ordine con il nome breve {slug}"))?;
        // The command line acts as the Ordine's administrator.
        let grant = authorize::<ManageRegister>(
            tenant.id,
            uuid::Uuid::nil(),
            &[Role::Amministratore],
            Role::Amministratore,
        )
        .context("grant")?;
        let mut tx = db.tenant_tx(tenant.id).await?;
        let current = store::current(&mut tx, &grant).await?;
        tx.commit().await?;
        let plan = register::plan(&records, &bad, &current);
        println!(
            "da aggiungere: {}\nda aggiornare: {}\nda disattivare: {} (non presenti nel file)\nlasciati come sono (una riga con errori potrebbe riferirsi a loro): {}\ninvariati: {}\nrighe con errori: {}",
            plan.create.len(),
            plan.update.len(),
            plan.disable.len(),
            plan.kept.len(),
            plan.unchanged,
            bad.len()
        );
        for b in &bad {
            match plan.about.get(&b.line) {
                Some(names) => println!(
                    "  riga {}: {} (potrebbe riferirsi a: {})",
                    b.line,
                    b.reason,
                    names.join(", ")
                ),
                None => println!("  riga {}: {}", b.line, b.reason),
            }
        }
        if !plan.disable.is_empty() {
            println!("Da disattivare:");
            for l in &plan.disable {
                println!(
                    "  {} (n. {})",
                    l.name,
                    l.register_number.as_deref().unwrap_or("—")
                );
            }
            match plan.unmatched.len() {
                0 => {}
                1 => println!(
                    "Attenzione: 1 riga con errori non è riconducibile a nessun avvocato dell'albo: fra quelli da disattivare potrebbe esserci chi vi è descritto."
                ),
                n => println!(
                    "Attenzione: {n} righe con errori non sono riconducibili a nessun avvocato dell'albo: fra quelli da disattivare potrebbe esserci chi vi è descritto."
                ),
            }
            if plan.disables_many() {
                println!(
                    "Attenzione: si disattiverebbe il {}% degli iscritti ({} su {}).",
                    plan.disable_percent(),
                    plan.disable.len(),
                    plan.enrolled
                );
            }
        }
        let Some(chosen) = apply else {
            println!("Anteprima: nulla è stato modificato (aggiungere --applica per importare).");
            return Ok(());
        };
        let choices = Choices {
            ignore_errors: chosen.ignore_errors,
            absent: if chosen.disable {
                AbsentChoice::Disable {
                    shown: plan.disable.len(),
                }
            } else if chosen.keep {
                AbsentChoice::Keep
            } else {
                AbsentChoice::Unsaid
            },
            confirm_many: chosen.confirm_many,
        };
        let approved = match register::approve(plan, bad, &choices) {
            Ok(approved) => approved,
            Err(rejected) => {
                let reasons: Vec<String> = rejected
                    .refusals
                    .iter()
                    .map(|r| format!("  - {r} (opzione {})", albo_option(r)))
                    .collect();
                bail!(
                    "importazione non applicata, nulla è stato modificato:\n{}",
                    reasons.join("\n")
                );
            }
        };
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "albo.csv".into());
        let mut tx = db.tenant_tx(tenant.id).await?;
        let id = store::create_import(&mut tx, &grant, &name, &bytes, None).await?;
        store::start(&mut tx, id, approved.total()).await?;
        tx.commit().await?;
        crate::web::admin::register::run_import(
            db.clone(),
            tenant.id,
            grant,
            id,
            approved,
            Actor::anonymous("riga di comando"),
        )
        .await;
        let grant = authorize::<ManageRegister>(
            tenant.id,
            uuid::Uuid::nil(),
            &[Role::Amministratore],
            Role::Amministratore,
        )
        .context("grant")?;
        let mut tx = db.tenant_tx(tenant.id).await?;
        let import = store::get_import(&mut tx, &grant, id).await?.context("import")?;
        tx.commit().await?;
        match import.report {
            Some(r) if import.status == "applicata" => {
                println!(
                    "Importazione applicata: {} aggiunti, {} aggiornati, {} disattivati, {} account da attivare.",
                    r.created, r.updated, r.disabled, r.accounts
                );
                if r.disabled > 0 {
                    println!(
                        "Le disattivazioni si annullano con «Ripristina» nella pagina dell'importazione: /{}/amministrazione/albo/{id}",
                        tenant.slug
                    );
                }
            }
            _ => bail!("importazione non riuscita: nulla è stato modificato"),
        }
        Ok(())
    })
    .await
}

async fn create_tenant(
    config: Config,
    slug: String,
    name: String,
    pec: Option<String>,
    admin_email: String,
) -> anyhow::Result<()> {
    use crate::{
        domain::{
            access::{ManageUsers, Role, authorize, normalize_email},
            application::check::is_email,
            tenant::{Slug, TenantId},
        },
        store::{tenants, users},
    };
    let slug = Slug::parse(&slug).map_err(|e| anyhow::anyhow!("{e}"))?;
    let admin_email = normalize_email(&admin_email);
    if !is_email(&admin_email) {
        bail!("l'e-mail dell'amministratore non è valida");
    }
    if name.trim().chars().count() < 3 {
        bail!("indicare la denominazione dell'Ordine");
    }
    let public = config.public_url_for(config.bind.port());
    let link = with_database(config, |db| async move {
        if tenants::find_by_slug(&db, slug.as_str()).await?.is_some() {
            bail!("esiste già un Ordine con il nome breve {slug}");
        }
        let id = TenantId::new();
        let mut tx = db.tenant_tx(id).await?;
        tenants::create(
            &mut tx,
            tenants::NewTenant {
                slug: &slug,
                name: name.trim(),
                pec: pec.as_deref(),
                settings: tenants::TenantSettings::default(),
            },
        )
        .await?;
        // The platform's operator acts as the new Ordine's administrator, once.
        let grant = authorize::<ManageUsers>(
            id,
            uuid::Uuid::nil(),
            &[Role::Amministratore],
            Role::Amministratore,
        )
        .context("grant")?;
        let user = users::invite(
            &mut tx,
            &grant,
            users::NewUser {
                email: &admin_email,
                full_name: "Amministratore dell'Ordine",
                codice_fiscale: None,
                roles: &[Role::Amministratore],
                lawyer_id: None,
            },
        )
        .await?
        .context("account")?;
        let token = crate::crypto::random_hex::<32>();
        users::issue_link(&mut tx, user, "attivazione", &token).await?;
        crate::store::audit::record(
            &mut tx,
            crate::store::audit::Entry {
                actor: &crate::store::audit::Actor::anonymous("amministrazione della piattaforma"),
                action: "ordine_creato",
                target_kind: Some("ordine"),
                target_id: Some(id.to_string()),
                outcome: "ok",
                details: serde_json::json!({ "slug": slug.as_str() }),
            },
        )
        .await?;
        tx.commit().await?;
        Ok(format!("{public}/{slug}/imposta-password/{token}"))
    })
    .await?;
    println!(
        "Ordine creato. Link di attivazione dell'amministratore (valido 48 ore, uso singolo):\n{link}"
    );
    Ok(())
}

async fn list_tenants(config: Config) -> anyhow::Result<()> {
    with_database(config, |db| async move {
        for t in crate::store::tenants::list(&db).await? {
            println!("{}\t{}\t{}", t.slug, t.name, t.pec.unwrap_or_default());
        }
        Ok(())
    })
    .await
}

/// An administrator's connection for a one-off command that writes as the owner role:
/// `--admin-url`/`PATROCINIO_ADMIN_DATABASE_URL` with DATABASE_URL, else the embedded server's
/// superuser (the server started for the command and stopped after it).
async fn with_admin_connection<F, Fut, T>(
    config: Config,
    admin_url: Option<String>,
    work: F,
) -> anyhow::Result<T>
where
    F: FnOnce(sqlx::PgConnection) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let (url, embedded) = match &config.database_url {
        Some(_) => {
            let Some(admin) = admin_url.or(config.admin_database_url.clone()) else {
                bail!(
                    "con DATABASE_URL impostato serve l'indirizzo di un amministratore: --admin-url oppure PATROCINIO_ADMIN_DATABASE_URL"
                );
            };
            (admin, None)
        }
        None => {
            let server = start_embedded(&config).await?;
            provision_embedded(&server).await?;
            (server.superuser_url(EMBEDDED_DATABASE), Some(server))
        }
    };
    let result = async {
        let conn = sqlx::PgConnection::connect(&url)
            .await
            .context("connessione come amministratore non riuscita")?;
        work(conn).await
    }
    .await;
    if let Some(server) = embedded {
        tokio::task::spawn_blocking(move || server.stop()).await??;
    }
    result
}

fn describe_import(imported: &crate::store::trust::Imported) -> String {
    let what = if imported.is_lotl {
        format!(
            "LOTL ({}) n. {}: {} elenchi indicati",
            imported.territory, imported.sequence_number, imported.pointers
        )
    } else {
        format!(
            "elenco {} n. {}: {} servizi",
            imported.territory, imported.sequence_number, imported.services
        )
    };
    match imported.replaced {
        Some(old) => format!("{what} (sostituisce il n. {old})"),
        None => what,
    }
}

async fn trust_import(
    config: Config,
    admin_url: Option<String>,
    file: std::path::PathBuf,
) -> anyhow::Result<()> {
    let xml = std::fs::read(&file).with_context(|| format!("lettura di {}", file.display()))?;
    let lotl = config.lotl_certificates()?;
    let source = file.display().to_string();
    with_admin_connection(config, admin_url, |mut conn| async move {
        let result = crate::store::trust::import(
            &mut conn,
            &xml,
            crate::store::trust::ImportOptions {
                lotl_certificates: &lotl,
                source: &source,
                now: chrono::Utc::now(),
            },
        )
        .await?;
        conn.close().await?;
        match result {
            Ok(imported) => {
                tracing::info!(
                    territory = %imported.territory,
                    sequence = imported.sequence_number,
                    services = imported.services,
                    "trusted list imported"
                );
                println!("Importato: {}.", describe_import(&imported));
                Ok(())
            }
            Err(why) => bail!("elenco rifiutato, resta in vigore quello precedente: {why}"),
        }
    })
    .await
}

/// Downloads one list, within bounded time and size.
async fn download(client: &reqwest::Client, url: &str) -> anyhow::Result<Vec<u8>> {
    let res = client.get(url).send().await?.error_for_status()?;
    if res
        .content_length()
        .is_some_and(|n| n > crate::documents::signature::trusted_list::MAX_LIST_BYTES as u64)
    {
        bail!("file troppo grande");
    }
    let bytes = res.bytes().await?;
    if bytes.len() > crate::documents::signature::trusted_list::MAX_LIST_BYTES {
        bail!("file troppo grande");
    }
    Ok(bytes.to_vec())
}

async fn trust_refresh(
    config: Config,
    admin_url: Option<String>,
    url: String,
    territories: Vec<String>,
) -> anyhow::Result<()> {
    let lotl = config.lotl_certificates()?;
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .timeout(std::time::Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()?;
    let wanted: Vec<String> = territories.iter().map(|t| t.to_uppercase()).collect();
    with_admin_connection(config, admin_url, |mut conn| async move {
        use crate::store::trust::{self, ImportOptions};
        let mut failures = 0usize;
        let xml = download(&client, &url)
            .await
            .with_context(|| format!("scaricamento della LOTL da {url}"))?;
        fn options<'a>(lotl: &'a [Vec<u8>], source: &'a str) -> ImportOptions<'a> {
            ImportOptions {
                lotl_certificates: lotl,
                source,
                now: chrono::Utc::now(),
            }
        }
        match trust::import(&mut conn, &xml, options(&lotl, &url)).await? {
            Ok(imported) => println!("Importato: {}.", describe_import(&imported)),
            Err(why) => {
                // The LOTL in force (if any) stays: its pointers are still used below.
                failures += 1;
                println!("LOTL rifiutata, resta in vigore quella precedente: {why}");
            }
        }
        for (territory, location) in trust::pointers(&mut conn).await? {
            if !wanted.is_empty() && !wanted.contains(&territory) {
                continue;
            }
            let outcome = match download(&client, &location).await {
                Ok(xml) => trust::import(&mut conn, &xml, options(&lotl, &location))
                    .await?
                    .map_err(|why| why.to_string()),
                Err(e) => Err(format!("scaricamento non riuscito: {e:#}")),
            };
            match outcome {
                Ok(imported) => println!("Importato: {}.", describe_import(&imported)),
                Err(why) => {
                    failures += 1;
                    println!(
                        "Elenco {territory} non aggiornato, resta in vigore il precedente: {why}"
                    );
                }
            }
        }
        conn.close().await?;
        if failures > 0 {
            bail!("{failures} elenchi non aggiornati");
        }
        Ok(())
    })
    .await
}

async fn trust_reverify(config: Config) -> anyhow::Result<()> {
    let storage = crate::storage::Storage::open(&config.files_location()?)?;
    with_database(config, |db| async move {
        for tenant in crate::store::tenants::list(&db).await? {
            let o = crate::reverify::tenant(&db, &storage, tenant.id).await?;
            println!(
                "{}: {} file firmati verificati, {} con esito cambiato, {} non verificabili",
                tenant.slug, o.checked, o.changed, o.failed
            );
        }
        Ok(())
    })
    .await
}

async fn trust_list(config: Config) -> anyhow::Result<()> {
    with_database(config, |db| async move {
        let mut conn = db.pool().acquire().await?;
        let lists = crate::store::trust::lists(&mut conn).await?;
        if lists.is_empty() {
            println!(
                "Nessun elenco di fiducia importato: nessuna firma risulterà qualificata (patrocinio fiducia importa)."
            );
        }
        for l in lists {
            let next = l
                .next_update
                .map(crate::domain::time::format_date_time)
                .unwrap_or_else(|| "nessuno (elenco chiuso)".into());
            let expired = l.next_update.is_some_and(|n| n < chrono::Utc::now());
            println!(
                "{}{}\tn. {}\temesso {}\tprossimo aggiornamento {}{}\t{} servizi ({} CA/QC qualificati oggi)\tda {}",
                l.territory,
                if l.is_lotl { " (LOTL)" } else { "" },
                l.sequence_number,
                crate::domain::time::format_date_time(l.issued_at),
                next,
                if expired { " — SCADUTO, aggiornare" } else { "" },
                l.services,
                l.granted_ca_qc,
                l.source,
            );
        }
        Ok(())
    })
    .await
}
