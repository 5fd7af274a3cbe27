//! HTTP: the route table, the middleware stack, and one folder per area of the UI.
//!
//! - `public/`: the online application (istanza on-line), open to everyone;
//! - `secretariat/`, `rapporteur/`, `lawyer/`: the reserved areas of the segreteria, the
//!   consiglieri and the avvocati;
//! - `home`, `health`, `assets`: the platform's own pages.

pub mod assets;
pub mod auth;
pub mod case;
pub mod components;
mod compression;
pub mod csrf;
pub mod error;
pub mod export;
pub mod headers;
pub mod layout;
pub mod ratelimit;
pub mod tenant;
pub mod uploads;

pub mod admin;
mod health;
mod home;
pub mod lawyer;
pub mod metrics;
mod notices;
pub mod public;
pub mod rapporteur;
pub mod secretariat;
pub mod statistics;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    http::{HeaderName, Method, Request},
    middleware,
    routing::MethodRouter,
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::{db::Db, documents::pdf::PdfEngine, storage::Storage};
use ratelimit::{Bucket, Limiters};

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<WebSettings>,
    pub storage: Storage,
    pub pdf: Arc<PdfEngine>,
    pub limiters: Arc<Limiters>,
    pub sessions: auth::SessionSettings,
    pub hub: crate::live::Hub,
    /// The request latencies `/metrics` shows.
    pub metrics: Arc<metrics::Recorder>,
    /// One `/metrics` scrape at a time.
    pub metrics_scrape: Arc<tokio::sync::Mutex<()>>,
    /// Exports of lists running at once (`case::list::EXPORTS_AT_ONCE`).
    pub exports: Arc<tokio::sync::Semaphore>,
}

#[derive(Clone, Copy, Debug)]
pub struct FileLimits {
    pub max_file_bytes: u64,
    pub max_application_bytes: u64,
}

#[derive(Debug)]
pub struct WebSettings {
    /// The URL users reach us at (scheme, host and port, no trailing slash).
    pub public_url: String,
    pub limits: FileLimits,
    /// The Ordini's electronic seals (`PATROCINIO_SEAL_DIR`).
    pub seal_dir: Option<std::path::PathBuf>,
    /// An SMTP server is configured: e-mails leave (otherwise they wait in the outbox).
    pub mail_configured: bool,
    /// `PATROCINIO_METRICS_TOKEN`: without it `/metrics` answers 404.
    pub metrics_token: Option<String>,
    /// `PATROCINIO_METRICS_LOCAL_ONLY`: `/metrics` only from a loopback address.
    pub metrics_local_only: bool,
    /// Where `patrocinio backup` keeps its backups (`/metrics` shows the latest one's age).
    pub backup_dir: std::path::PathBuf,
}

impl WebSettings {
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// `scheme://host[:port]` of the public URL.
    pub fn origin(&self) -> String {
        url::Url::parse(&self.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_else(|_| self.public_url.clone())
    }

    /// `Secure` cookies with the `__Host-` prefix, except on plain-HTTP local runs.
    pub fn secure_cookies(&self) -> bool {
        self.is_https()
    }
}

/// Who a route belongs to: the platform, or one Ordine under `/{slug}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Platform,
    /// A tenant page that must never be framed.
    Tenant,
    /// A tenant page of the public form: the Ordine may let its own site embed it.
    TenantEmbeddable,
}

/// One route: the router is built from this table, and tests sweep it.
pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub scope: Scope,
    pub rate_limit: Option<Bucket>,
    /// Accepts uploads up to the configured size instead of the default 2 MB body limit.
    pub upload: bool,
    handler: MethodRouter<AppState>,
}

impl RouteDef {
    fn get<H, T>(path: &'static str, scope: Scope, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        Self {
            method: Method::GET,
            path,
            scope,
            rate_limit: None,
            upload: false,
            handler: axum::routing::get(handler),
        }
    }

    fn post<H, T>(path: &'static str, scope: Scope, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        Self {
            method: Method::POST,
            path,
            scope,
            rate_limit: None,
            upload: false,
            handler: axum::routing::post(handler),
        }
    }

    fn limited(mut self, bucket: Bucket) -> Self {
        self.rate_limit = Some(bucket);
        self
    }

    fn uploads(mut self) -> Self {
        self.upload = true;
        self
    }
}

/// Every route of the service.
pub fn route_table() -> Vec<RouteDef> {
    use Scope::*;
    vec![
        RouteDef::get("/health", Platform, health::health),
        RouteDef::get("/ready", Platform, health::ready),
        RouteDef::get("/metrics", Platform, metrics::serve),
        RouteDef::get("/", Platform, home::platform_home),
        RouteDef::get(assets::ROUTE, Platform, assets::serve),
        RouteDef::get("/favicon.ico", Platform, assets::favicon),
        RouteDef::get("/{slug}", Tenant, home::tenant_home),
        RouteDef::get("/{slug}/accesso", Tenant, auth::login::login_form),
        RouteDef::post("/{slug}/accesso", Tenant, auth::login::login).limited(Bucket::Login),
        RouteDef::get("/{slug}/accesso/codice", Tenant, auth::login::code_form),
        RouteDef::post("/{slug}/accesso/codice", Tenant, auth::login::code).limited(Bucket::Login),
        RouteDef::get(
            "/{slug}/accesso/configura-codice",
            Tenant,
            auth::login::setup_form,
        ),
        RouteDef::post(
            "/{slug}/accesso/configura-codice",
            Tenant,
            auth::login::setup,
        )
        .limited(Bucket::Login),
        RouteDef::post("/{slug}/esci", Tenant, auth::login::logout),
        RouteDef::get("/{slug}/accesso/oidc", Tenant, auth::oidc::start).limited(Bucket::Login),
        RouteDef::get("/{slug}/accesso/oidc/ritorno", Tenant, auth::oidc::callback)
            .limited(Bucket::Login),
        RouteDef::get("/{slug}/accesso/oidc/jwks.json", Tenant, auth::oidc::jwks),
        RouteDef::get(
            "/{slug}/imposta-password/{token}",
            Tenant,
            auth::login::password_form,
        ),
        RouteDef::post(
            "/{slug}/imposta-password/{token}",
            Tenant,
            auth::login::set_password,
        )
        .limited(Bucket::Login),
        RouteDef::get("/{slug}/amministrazione", Tenant, admin::home),
        RouteDef::get("/{slug}/amministrazione/utenti", Tenant, admin::users::list),
        RouteDef::post(
            "/{slug}/amministrazione/utenti",
            Tenant,
            admin::users::invite,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/utenti/{user}/ruoli",
            Tenant,
            admin::users::set_roles,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/utenti/{user}/stato",
            Tenant,
            admin::users::set_status,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/utenti/{user}/link",
            Tenant,
            admin::users::new_link,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/registro",
            Tenant,
            admin::audit::browse,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/registro.csv",
            Tenant,
            admin::audit::export,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/statistiche",
            Tenant,
            statistics::page::<auth::Amministratore>,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/statistiche.csv",
            Tenant,
            statistics::chart_csv::<auth::Amministratore>,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/statistiche/ministero.csv",
            Tenant,
            statistics::ministry_csv::<auth::Amministratore>,
        ),
        RouteDef::get(
            "/{slug}/presidenza",
            Tenant,
            statistics::page::<auth::Presidenza>,
        ),
        RouteDef::get(
            "/{slug}/presidenza/statistiche.csv",
            Tenant,
            statistics::chart_csv::<auth::Presidenza>,
        ),
        RouteDef::get(
            "/{slug}/presidenza/ministero.csv",
            Tenant,
            statistics::ministry_csv::<auth::Presidenza>,
        ),
        RouteDef::get("/{slug}/amministrazione/posta", Tenant, admin::mail::list),
        RouteDef::post(
            "/{slug}/amministrazione/posta/{id}/riprova",
            Tenant,
            admin::mail::retry,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/impostazioni",
            Tenant,
            admin::settings::settings,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/impostazioni",
            Tenant,
            admin::settings::save_settings,
        )
        .uploads(),
        RouteDef::get("/{slug}/logo", TenantEmbeddable, admin::settings::logo),
        RouteDef::get(
            "/{slug}/amministrazione/uffici",
            Tenant,
            admin::settings::offices_list,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/uffici",
            Tenant,
            admin::settings::add_office,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/uffici/{office}",
            Tenant,
            admin::settings::toggle_office,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/uffici/{office}/pec",
            Tenant,
            admin::settings::office_pec,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/agenzia-entrate",
            Tenant,
            admin::tax_agency::show,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/agenzia-entrate",
            Tenant,
            admin::tax_agency::save,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/elenchi",
            Tenant,
            admin::settings::lists,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/elenchi/{lawyer}",
            Tenant,
            admin::settings::save_lists,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/albo",
            Tenant,
            admin::register::home,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/albo",
            Tenant,
            admin::register::upload,
        )
        .uploads(),
        RouteDef::post(
            "/{slug}/amministrazione/albo/link-attivazione",
            Tenant,
            admin::register::activation_links,
        ),
        RouteDef::get(
            "/{slug}/amministrazione/albo/{import}",
            Tenant,
            admin::register::show,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/albo/{import}/applica",
            Tenant,
            admin::register::apply,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/albo/{import}/ripristina",
            Tenant,
            admin::register::restore_all,
        ),
        RouteDef::post(
            "/{slug}/amministrazione/albo/{import}/ripristina/{lawyer}",
            Tenant,
            admin::register::restore_one,
        ),
        RouteDef::get("/{slug}/istanza", TenantEmbeddable, public::entry),
        RouteDef::post("/{slug}/istanza/nuova", TenantEmbeddable, public::create)
            .limited(Bucket::Create),
        RouteDef::post("/{slug}/istanza/riprendi", TenantEmbeddable, public::resume)
            .limited(Bucket::Status),
        RouteDef::get(
            "/{slug}/istanza/stato",
            TenantEmbeddable,
            public::status_form,
        ),
        RouteDef::post("/{slug}/istanza/stato", TenantEmbeddable, public::status)
            .limited(Bucket::Status),
        RouteDef::get(
            "/{slug}/istanza/{id}/pdf",
            TenantEmbeddable,
            public::application_pdf,
        )
        .limited(Bucket::Pdf),
        RouteDef::get(
            "/{slug}/istanza/{id}/ricevuta",
            TenantEmbeddable,
            public::receipt,
        ),
        RouteDef::get(
            "/{slug}/istanza/{id}/delibera",
            TenantEmbeddable,
            public::signed_delibera,
        )
        .limited(Bucket::Pdf),
        RouteDef::get(
            "/{slug}/istanza/{id}/ricevuta.pdf",
            TenantEmbeddable,
            public::receipt_pdf,
        )
        .limited(Bucket::Pdf),
        RouteDef::post(
            "/{slug}/istanza/{id}/invia",
            TenantEmbeddable,
            public::submit,
        )
        .limited(Bucket::Submit),
        // Signing by identification with SPID or CIE (before `…/{id}/{step}`: a static
        // segment wins). The start fetches the federation's statements: limited like a login.
        // A link, like the staff login's: the pages' `form-action 'self'` would stop a form
        // whose answer redirects to the provider.
        RouteDef::get(
            "/{slug}/istanza/{id}/firma-spid",
            TenantEmbeddable,
            public::spid::start,
        )
        .limited(Bucket::Login),
        RouteDef::get(
            "/{slug}/istanza/firma-spid/ritorno",
            TenantEmbeddable,
            public::spid::callback,
        )
        .limited(Bucket::Login),
        RouteDef::get(
            "/{slug}/istanza/firma-spid/jwks.json",
            TenantEmbeddable,
            public::spid::jwks,
        ),
        RouteDef::get(
            "/{slug}/.well-known/openid-federation",
            Tenant,
            public::spid::entity_configuration,
        ),
        RouteDef::post(
            "/{slug}/istanza/{id}/allegati/carica",
            TenantEmbeddable,
            public::upload,
        )
        .limited(Bucket::Upload)
        .uploads(),
        RouteDef::get(
            "/{slug}/istanza/{id}/allegati/{attachment}",
            TenantEmbeddable,
            public::download_attachment,
        ),
        // Before `…/allegati/{attachment}` in the router's eyes: a static segment wins.
        RouteDef::post(
            "/{slug}/istanza/{id}/allegati/verifica",
            TenantEmbeddable,
            public::verify_attachments_step,
        ),
        RouteDef::post(
            "/{slug}/istanza/{id}/allegati/{attachment}/elimina",
            TenantEmbeddable,
            public::delete_attachment,
        ),
        RouteDef::get(
            "/{slug}/istanza/{id}/{step}",
            TenantEmbeddable,
            public::show_step,
        ),
        RouteDef::post(
            "/{slug}/istanza/{id}/{step}",
            TenantEmbeddable,
            public::save_step,
        ),
        RouteDef::post(
            "/{slug}/istanza/{id}/{step}/verifica",
            TenantEmbeddable,
            public::verify_step,
        ),
        RouteDef::get(
            "/{slug}/istanza/{id}/integrazione",
            TenantEmbeddable,
            public::integration_form,
        ),
        RouteDef::post(
            "/{slug}/istanza/{id}/integrazione",
            TenantEmbeddable,
            public::integration_submit,
        )
        .limited(Bucket::Upload)
        .uploads(),
        RouteDef::get("/ws", Platform, crate::live::socket::staff),
        RouteDef::get(
            "/{slug}/istanza/{id}/ws",
            TenantEmbeddable,
            crate::live::socket::public_status,
        ),
        RouteDef::get("/{slug}/segreteria", Tenant, secretariat::entry),
        RouteDef::get(
            "/{slug}/segreteria/cerca",
            Tenant,
            case::search::page::<auth::Segreteria>,
        ),
        RouteDef::get(
            "/{slug}/segreteria/elenco.csv",
            Tenant,
            case::list::export_csv::<auth::Segreteria>,
        ),
        RouteDef::get(
            "/{slug}/segreteria/elenco.xlsx",
            Tenant,
            case::list::export_xlsx::<auth::Segreteria>,
        ),
        RouteDef::get(
            "/{slug}/consiglieri/cerca",
            Tenant,
            case::search::page::<auth::Consigliere>,
        ),
        RouteDef::get(
            "/{slug}/consiglieri/elenco.csv",
            Tenant,
            case::list::export_csv::<auth::Consigliere>,
        ),
        RouteDef::get(
            "/{slug}/consiglieri/elenco.xlsx",
            Tenant,
            case::list::export_xlsx::<auth::Consigliere>,
        ),
        RouteDef::get(
            "/{slug}/avvocati/cerca",
            Tenant,
            case::search::page::<auth::Avvocato>,
        ),
        RouteDef::get(
            "/{slug}/avvocati/elenco.csv",
            Tenant,
            case::list::export_csv::<auth::Avvocato>,
        ),
        RouteDef::get(
            "/{slug}/avvocati/elenco.xlsx",
            Tenant,
            case::list::export_xlsx::<auth::Avvocato>,
        ),
        RouteDef::post(
            "/{slug}/segreteria/acquisisci",
            Tenant,
            secretariat::acquire,
        ),
        RouteDef::post("/{slug}/segreteria/sportello", Tenant, secretariat::counter),
        RouteDef::get(
            "/{slug}/segreteria/protocollo",
            Tenant,
            secretariat::protocol_register,
        ),
        RouteDef::get(
            "/{slug}/segreteria/agenzia-entrate",
            Tenant,
            secretariat::tax_batches::page,
        ),
        RouteDef::post(
            "/{slug}/segreteria/agenzia-entrate/invia",
            Tenant,
            secretariat::tax_batches::send_now,
        ),
        RouteDef::get(
            "/{slug}/segreteria/agenzia-entrate/{batch}",
            Tenant,
            secretariat::tax_batches::batch_page,
        ),
        RouteDef::get(
            "/{slug}/segreteria/agenzia-entrate/{batch}/distinta.pdf",
            Tenant,
            secretariat::tax_batches::cover_pdf,
        ),
        RouteDef::get(
            "/{slug}/segreteria/agenzia-entrate/{batch}/distinta.csv",
            Tenant,
            secretariat::tax_batches::cover_csv,
        ),
        RouteDef::get(
            "/{slug}/segreteria/protocollo.csv",
            Tenant,
            secretariat::protocol_export_csv,
        ),
        RouteDef::get(
            "/{slug}/segreteria/protocollo.xlsx",
            Tenant,
            secretariat::protocol_export_xlsx,
        ),
        RouteDef::get(
            "/{slug}/segreteria/protocollo/registri",
            Tenant,
            secretariat::daily_register::page,
        ),
        RouteDef::get(
            "/{slug}/segreteria/protocollo/registri/{register}",
            Tenant,
            secretariat::daily_register::download,
        ),
        RouteDef::get(
            "/{slug}/segreteria/protocollo/registri/{register}/sigillato",
            Tenant,
            secretariat::daily_register::download_sealed,
        ),
        RouteDef::get(
            "/{slug}/segreteria/ricevute-pec",
            Tenant,
            secretariat::pec_receipts::page,
        ),
        RouteDef::get(
            "/{slug}/segreteria/ricevute-pec/{receipt}",
            Tenant,
            secretariat::pec_receipts::download,
        ),
        RouteDef::get(
            "/{slug}/segreteria/protocollo/stampa.pdf",
            Tenant,
            secretariat::daily_register::print,
        ),
        RouteDef::get(
            "/{slug}/segreteria/pratiche/{id}",
            Tenant,
            secretariat::case_page,
        ),
        RouteDef::get(
            "/{slug}/segreteria/pratiche/{id}/fascicolo.zip",
            Tenant,
            secretariat::dossier::download,
        ),
        RouteDef::get(
            "/{slug}/segreteria/fascicoli",
            Tenant,
            secretariat::dossier::page,
        ),
        RouteDef::get(
            "/{slug}/segreteria/fascicoli.zip",
            Tenant,
            secretariat::dossier::bulk,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/protocolla",
            Tenant,
            secretariat::register,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/assegna",
            Tenant,
            secretariat::assign,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/urgenza",
            Tenant,
            secretariat::urgency,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/annulla-protocollo",
            Tenant,
            secretariat::cancel_registration,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/iscrivi",
            Tenant,
            secretariat::schedule,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/rimetti",
            Tenant,
            secretariat::send_back,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/rinuncia",
            Tenant,
            secretariat::withdraw,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/revoca",
            Tenant,
            secretariat::revocation,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/trasmissione-ufficio",
            Tenant,
            secretariat::to_judge,
        ),
        RouteDef::post(
            "/{slug}/segreteria/pratiche/{id}/riproposizione",
            Tenant,
            secretariat::reproposal,
        ),
        RouteDef::get(
            "/{slug}/segreteria/pratiche/{id}/delibera.pdf",
            Tenant,
            secretariat::delibera,
        ),
        RouteDef::get(
            "/{slug}/segreteria/pratiche/{id}/delibera-firmata",
            Tenant,
            secretariat::delibera_firmata,
        ),
        RouteDef::get(
            "/{slug}/segreteria/adunanze",
            Tenant,
            secretariat::council_list,
        ),
        RouteDef::post(
            "/{slug}/segreteria/adunanze",
            Tenant,
            secretariat::council_create,
        ),
        RouteDef::get(
            "/{slug}/segreteria/adunanze/{session}",
            Tenant,
            secretariat::council_agenda,
        ),
        RouteDef::post(
            "/{slug}/segreteria/adunanze/{session}/delibera",
            Tenant,
            secretariat::council_adopt,
        ),
        RouteDef::get(
            "/{slug}/segreteria/adunanze/{session}/verbale.pdf",
            Tenant,
            secretariat::council_minutes,
        ),
        RouteDef::get(
            "/{slug}/segreteria/pratiche/{id}/allegati/{attachment}",
            Tenant,
            secretariat::attachment,
        ),
        RouteDef::get(
            "/{slug}/segreteria/pratiche/{id}/allegati/{attachment}/contenuto",
            Tenant,
            secretariat::attachment_content,
        ),
        RouteDef::get(
            "/{slug}/segreteria/pratiche/{id}/allegati/{attachment}/rapporto",
            Tenant,
            secretariat::attachment_report,
        ),
        RouteDef::get("/{slug}/avvisi", Tenant, notices::show),
        RouteDef::post("/{slug}/avvisi", Tenant, notices::save),
        RouteDef::get("/{slug}/consiglieri", Tenant, rapporteur::entry),
        RouteDef::get(
            "/{slug}/consiglieri/firma",
            Tenant,
            rapporteur::signing_list,
        ),
        RouteDef::post(
            "/{slug}/consiglieri/firma",
            Tenant,
            rapporteur::signing_upload,
        )
        .uploads(),
        RouteDef::get(
            "/{slug}/consiglieri/firma/delibere.zip",
            Tenant,
            rapporteur::signing_zip,
        ),
        RouteDef::get(
            "/{slug}/consiglieri/pratiche/{id}",
            Tenant,
            rapporteur::case_page,
        ),
        RouteDef::post(
            "/{slug}/consiglieri/pratiche/{id}/integrazione",
            Tenant,
            rapporteur::request_integration,
        ),
        RouteDef::post(
            "/{slug}/consiglieri/pratiche/{id}/proposta",
            Tenant,
            rapporteur::propose,
        ),
        RouteDef::post(
            "/{slug}/consiglieri/pratiche/{id}/rimetti",
            Tenant,
            rapporteur::send_back,
        ),
        RouteDef::get(
            "/{slug}/consiglieri/pratiche/{id}/delibera.pdf",
            Tenant,
            rapporteur::delibera,
        ),
        RouteDef::get(
            "/{slug}/consiglieri/pratiche/{id}/delibera-firmata",
            Tenant,
            rapporteur::delibera_firmata,
        ),
        RouteDef::get(
            "/{slug}/consiglieri/pratiche/{id}/allegati/{attachment}",
            Tenant,
            rapporteur::attachment,
        ),
        RouteDef::get(
            "/{slug}/consiglieri/pratiche/{id}/allegati/{attachment}/contenuto",
            Tenant,
            rapporteur::attachment_content,
        ),
        RouteDef::get(
            "/{slug}/consiglieri/pratiche/{id}/allegati/{attachment}/rapporto",
            Tenant,
            rapporteur::attachment_report,
        ),
        RouteDef::get("/{slug}/avvocati", Tenant, lawyer::entry),
        RouteDef::get("/{slug}/avvocati/pratiche/{id}", Tenant, lawyer::case_page),
        RouteDef::post(
            "/{slug}/avvocati/pratiche/{id}/integrazione",
            Tenant,
            lawyer::answer,
        )
        .uploads(),
        RouteDef::get(
            "/{slug}/avvocati/pratiche/{id}/delibera.pdf",
            Tenant,
            lawyer::delibera,
        ),
        RouteDef::post(
            "/{slug}/avvocati/pratiche/{id}/rinuncia",
            Tenant,
            lawyer::withdraw,
        ),
        RouteDef::get(
            "/{slug}/avvocati/pratiche/{id}/delibera-firmata",
            Tenant,
            lawyer::delibera_firmata,
        ),
        RouteDef::get(
            "/{slug}/avvocati/pratiche/{id}/allegati/{attachment}",
            Tenant,
            lawyer::attachment,
        ),
        RouteDef::get(
            "/{slug}/avvocati/pratiche/{id}/allegati/{attachment}/contenuto",
            Tenant,
            lawyer::attachment_content,
        ),
        RouteDef::get(
            "/{slug}/avvocati/pratiche/{id}/allegati/{attachment}/rapporto",
            Tenant,
            lawyer::attachment_report,
        ),
    ]
}

pub fn router(state: AppState) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for def in route_table() {
        let mut handler = match def.scope {
            Scope::Platform => def.handler,
            Scope::Tenant | Scope::TenantEmbeddable => def.handler.route_layer(
                middleware::from_fn_with_state((state.clone(), def.scope), tenant::resolve),
            ),
        };
        // The session's token guards what a login may do; the public form needs no login (a
        // lawyer logged in uses it too) and is guarded by the Origin check of every change.
        if def.scope != Scope::TenantEmbeddable {
            handler = handler.route_layer(middleware::from_fn(auth::csrf_token));
        }
        // Outside the tenant lookup: a flood is refused before it reaches the database.
        if let Some(bucket) = def.rate_limit {
            handler = handler.route_layer(middleware::from_fn_with_state(
                (state.limiters.clone(), bucket),
                ratelimit::limit,
            ));
        }
        if def.upload {
            // Room for the file plus the multipart envelope; the handler enforces the file
            // size itself, with V37's message.
            let max = state.settings.limits.max_file_bytes as usize + 64 * 1024;
            handler = handler.layer(DefaultBodyLimit::max(max));
        }
        match by_path.iter_mut().find(|(p, _)| *p == def.path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(handler);
                *existing = merged;
            }
            None => by_path.push((def.path, handler)),
        }
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }

    let request_id = HeaderName::from_static("x-request-id");
    let sessions = auth::layer(&state.db, state.sessions).expect("session store configuration");
    router
        .fallback(error::not_found)
        .layer(middleware::from_fn_with_state(
            state.sessions.max_age,
            auth::enforce_lifetime,
        ))
        .layer(sessions)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    let id = req
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings are never logged.
                    tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
                }))
                .layer(PropagateRequestIdLayer::new(request_id))
                // Outside everything that writes a body (error pages included).
                .layer(compression::layer())
                .layer(middleware::from_fn_with_state(
                    state.settings.clone(),
                    headers::security_headers,
                ))
                .layer(middleware::from_fn_with_state(
                    state.db.clone(),
                    error::render_errors,
                ))
                .layer(middleware::from_fn_with_state(
                    state.settings.clone(),
                    csrf::check,
                ))
                .layer(CatchPanicLayer::new())
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(30),
                )),
        )
        // Outermost: the time measured is the whole answer's.
        .layer(middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::record,
        ))
        .with_state(state)
}
