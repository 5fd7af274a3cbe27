//! The daily protocol registers as the secretariat finds them (listed, downloadable, with
//! their SHA-256 and sealed copy), and the print of the register for any range of dates.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{Days, NaiveDate, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    documents::{
        pdf::Template,
        protocol_register::{self, MAX_ENTRIES, day_start},
    },
    domain::{application::check::parse_date, plural, time},
    store::{audit, protocol_days},
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case,
        error::AppError,
        layout::{self, PageMeta},
        public::attachments::file_response,
        tenant::{CurrentTenant, PathParams},
    },
};

/// The longest range one print covers.
const MAX_DAYS: u64 = 366;
/// Registers listed on the page (the latest first).
const LISTED: i64 = 400;
const TITLE: &str = "Registri giornalieri di protocollo";

#[derive(Deserialize, Default)]
pub struct RangeQuery {
    #[serde(default)]
    pub dal: String,
    #[serde(default)]
    pub al: String,
}

fn base(tenant: &CurrentTenant) -> String {
    format!("/{}/segreteria/protocollo", tenant.slug)
}

pub async fn page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
) -> Result<Response, AppError> {
    show(
        &state,
        &tenant,
        &who,
        &RangeQuery::default(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn show(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    typed: &RangeQuery,
    error: Option<(&'static str, String)>,
    status: StatusCode,
) -> Result<Response, AppError> {
    case::view_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let registers = protocol_days::list(&mut tx, LISTED).await?;
    tx.commit().await?;
    let base = base(tenant);
    let page = layout::page(
        &PageMeta::area(TITLE, tenant, who),
        html! {
            (layout::breadcrumb(&[(super::TITLE, Some(&format!("/{}/segreteria", tenant.slug))), ("Registro di protocollo", Some(&base)), (TITLE, None)]))
            h1 { (TITLE) }
            p { "Ogni giorno, dopo la mezzanotte, il registro delle registrazioni del giorno precedente è prodotto in PDF/A, con la sua impronta SHA-256"
                @if tenant.settings.seal { " e il sigillo elettronico dell'Ordine" }
                ": non si modifica né si cancella (art. 53 D.P.R. 445/2000)." }
            (range_form(
                &format!("{base}/stampa.pdf"),
                "stampa",
                "Stampa il registro per un periodo",
                &format!("Al massimo {MAX_DAYS} giorni."),
                "Stampa in PDF",
                typed,
                error.as_ref(),
            ))
            h2 class="h4" { "Registri prodotti" }
            @if registers.is_empty() {
                p class="text-muted" { "Nessun registro giornaliero ancora: il primo è prodotto il giorno dopo la prima registrazione." }
            } @else {
                div class="table-responsive" {
                    table class="table table-sm" id="registri-giornalieri" {
                        caption { "Registri giornalieri, dal più recente" }
                        thead { tr {
                            th scope="col" { "Giorno" } th scope="col" { "Registrazioni" }
                            th scope="col" { "Impronta SHA-256" } th scope="col" { "Documenti" }
                        } }
                        tbody {
                            @for r in &registers {
                                tr {
                                    th scope="row" { (time::format_date(r.day)) }
                                    td {
                                        (plural::count(r.entries as i64, "registrazione", "registrazioni"))
                                        @if let (Some(a), Some(b)) = (&r.first_number, &r.last_number) { br; small { "dalla n. " (a) " alla n. " (b) } }
                                    }
                                    td class="text-monospace small text-break" { (r.pdf_sha256) }
                                    td {
                                        a href=(format!("{base}/registri/{}", r.id)) { "PDF" span class="visually-hidden" { " del " (time::format_date(r.day)) } }
                                        @if r.sealed_key.is_some() {
                                            " · " a href=(format!("{base}/registri/{}/sigillato", r.id)) { "sigillato (.p7m)" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    );
    Ok((status, page).into_response())
}

async fn stored(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    params: &PathParams,
    sealed: bool,
) -> Result<Response, AppError> {
    case::view_grant(tenant, who)?;
    let id = params.id("register")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let r = protocol_days::get(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let name = format!("registro-protocollo-{}.pdf", r.day.format("%Y-%m-%d"));
    Ok(match (sealed, r.sealed_key) {
        (false, _) => file_response(
            state.storage.get(&r.pdf_key).await?,
            "application/pdf",
            &name,
        ),
        (true, Some(key)) => file_response(
            state.storage.get(&key).await?,
            "application/pkcs7-mime",
            &format!("{name}.p7m"),
        ),
        (true, None) => return Err(AppError::NotFound),
    })
}

pub async fn download(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    stored(&state, &tenant, &who, &params, false).await
}

pub async fn download_sealed(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    stored(&state, &tenant, &who, &params, true).await
}

/// The register for the range asked, as a PDF/A (not kept); recorded in the audit log.
#[tracing::instrument(name = "stampa il registro di protocollo", skip_all, fields(tenant = %tenant.slug))]
pub async fn print(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, AppError> {
    case::view_grant(&tenant, &who)?;
    let (from, to) = match range(&q) {
        Ok(r) => r,
        Err(error) => {
            return show(
                &state,
                &tenant,
                &who,
                &q,
                Some(error),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await;
        }
    };
    let (start, end) = (day_start(from), day_start(to + Days::new(1)));
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let n = protocol_days::count(&mut tx, start, end).await?;
    if n > MAX_ENTRIES {
        drop(tx);
        let message = format!(
            "Il periodo comprende {} registrazioni: una stampa ne contiene al massimo {}. Scegliere un periodo più breve.",
            plural::thousands(n),
            plural::thousands(MAX_ENTRIES)
        );
        return show(
            &state,
            &tenant,
            &who,
            &q,
            Some(("al", message)),
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let entries = protocol_days::entries(&mut tx, start, end, MAX_ENTRIES).await?;
    audit::record(
        &mut tx,
        audit::Entry {
            actor: &case::actor(&who),
            action: "registro_protocollo_stampato",
            target_kind: None,
            target_id: None,
            outcome: "ok",
            details: serde_json::json!({ "dal": from.to_string(), "al": to.to_string(), "righe": entries.len() }),
        },
    )
    .await?;
    tx.commit().await?;
    let period = format!(
        "dal {} al {}",
        time::format_date(from),
        time::format_date(to)
    );
    let data = protocol_register::data(
        &tenant,
        &format!("Registro di protocollo {period}"),
        &period,
        &entries,
        Utc::now(),
    );
    let pdf = state.pdf.render_bounded(Template::Registro, data).await?;
    let name = format!(
        "registro-protocollo-{}-{}.pdf",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d")
    );
    Ok(file_response(pdf, "application/pdf", &name))
}

/// A form asking for a period (`dal`, `al`), with the dates as typed and the error next to
/// its field; `id` tells its fields apart from others on the page.
pub(super) fn range_form(
    action: &str,
    id: &str,
    title: &str,
    hint: &str,
    button: &str,
    typed: &RangeQuery,
    error: Option<&(&'static str, String)>,
) -> Markup {
    let error_of = |f: &str| error.filter(|(n, _)| *n == f).map(|(_, m)| m.as_str());
    html! {
        form method="get" action=(action) class="card card-bg mb-4" novalidate {
            div class="card-body" {
                h2 class="h5 card-title" { (title) }
                p class="small" { (hint) }
                div class="row" {
                    @for (name, label, value) in [("dal", "Dal", &typed.dal), ("al", "Al", &typed.al)] {
                        div class="col-12 col-md-6 form-group" {
                            label class="active" for=(format!("{id}-{name}")) { (label) }
                            input type="date" class="form-control" id=(format!("{id}-{name}")) name=(name) value=(value) required
                                aria-invalid=[error_of(name).map(|_| "true")] aria-describedby=[error_of(name).map(|_| format!("{id}-{name}-errore"))];
                            @if let Some(e) = error_of(name) { p class="campo-errore mt-1" id=(format!("{id}-{name}-errore")) role="alert" { (e) } }
                        }
                    }
                }
                button type="submit" class="btn btn-primary" { (button) }
            }
        }
    }
}

/// The dates asked, in order and within the bound, or the field to correct and why.
pub(super) fn range(q: &RangeQuery) -> Result<(NaiveDate, NaiveDate), (&'static str, String)> {
    let date = |name: &'static str, v: &str| match v.trim() {
        "" => Err((name, "Indicare la data.".to_owned())),
        s => parse_date(s).ok_or((
            name,
            "La data non è valida: scriverla come gg/mm/aaaa, per esempio 01/12/2026.".to_owned(),
        )),
    };
    let from = date("dal", &q.dal)?;
    let to = date("al", &q.al)?;
    if to < from {
        return Err((
            "al",
            "La data finale precede quella iniziale: correggere il periodo.".into(),
        ));
    }
    if (to - from).num_days() >= MAX_DAYS as i64 {
        return Err((
            "al",
            format!("Il periodo supera {MAX_DAYS} giorni: stamparlo in più parti."),
        ));
    }
    Ok((from, to))
}
