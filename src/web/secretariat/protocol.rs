//! The protocol register of a year, as the secretariat consults it.

use axum::{
    extract::{Query, State},
    response::Response,
};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    domain::{plural, protocol::year_of, time},
    store::{audit, protocol},
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case::{self, list::EXPORT_MAX},
        error::AppError,
        export::{self, FileKind},
        layout::{self, PageMeta},
        tenant::CurrentTenant,
    },
};

/// The entries the page shows (the most recent of the year).
const PAGE_MAX: i64 = 1000;

#[derive(Deserialize, Default)]
pub struct YearQuery {
    // Bounds: the year is kept only between 2000 and the current one; the search is cut at
    // `search::MAX_QUERY` characters (the query string itself is bounded by the server).
    #[serde(default)]
    anno: Option<i32>,
    /// A number, words of the subject, an application's code or a name.
    #[serde(default)]
    q: String,
}

pub async fn register_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    Query(q): Query<YearQuery>,
) -> Result<Markup, AppError> {
    case::view_grant(&tenant, &who)?;
    let (year, search) = q.read();
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let entries = protocol::list(
        &mut tx,
        year,
        (!search.is_empty()).then_some(search.as_str()),
        PAGE_MAX,
    )
    .await?;
    tx.commit().await?;
    let base = format!("/{}/segreteria", tenant.slug);
    let export = q.query_string(year, &search);
    let title = format!("Registro di protocollo {year}");
    Ok(layout::page(
        &PageMeta::area(&title, &tenant, &who),
        html! {
            (layout::breadcrumb(&[(super::TITLE, Some(&base)), (&title, None)]))
            h1 { (title) }
            p { "Le registrazioni non si modificano né si cancellano: un errore si corregge con una registrazione di annullamento che richiama l'originale." }
            p { a href=(format!("{base}/protocollo/registri")) { "Registri giornalieri di protocollo e stampa del registro per un periodo" } }
            p { a href=(format!("{base}/fascicoli")) { "Fascicoli delle ammissioni di un periodo (per le verifiche, art. 127)" } }
            form method="get" action=(format!("{base}/protocollo")) class="mb-3" role="search" {
                input type="hidden" name="anno" value=(year);
                div class="input-group" {
                    label class="visually-hidden" for="protocollo-q" { "Cerca nel registro" }
                    input type="search" class="form-control" id="protocollo-q" name="q" value=(search)
                        placeholder="Numero, oggetto, codice o nome";
                    button type="submit" class="btn btn-primary" { "Cerca nel registro" }
                }
            }
            p class="d-flex flex-wrap gap-2 align-items-center" {
                span class="small" { "Esporta il registro del " (year) (if search.is_empty() { "" } else { " con la ricerca in corso" }) " (al massimo " (plural::thousands(EXPORT_MAX)) " righe): " }
                a class="btn btn-outline-primary btn-sm" href=(format!("{base}/protocollo.csv?{export}")) download { "CSV" }
                a class="btn btn-outline-primary btn-sm" href=(format!("{base}/protocollo.xlsx?{export}")) download { "Excel (.xlsx)" }
            }
            nav aria-label="Anni" class="mb-3" {
                @if year > 2000 { a href=(format!("{base}/protocollo?anno={}", year - 1)) { "« " (year - 1) } }
                @if year < year_of(Utc::now()) { " · " a href=(format!("{base}/protocollo?anno={}", year + 1)) { (year + 1) " »" } }
            }
            @if entries.is_empty() {
                p class="text-muted" { @if search.is_empty() { "Nessuna registrazione nel " (year) "." } @else { "Nessuna registrazione del " (year) " corrisponde a «" (search) "»." } }
            } @else {
                div class="table-responsive" {
                    table class="table table-sm" {
                        caption { "Registrazioni dalla più recente (ultime 1000)" }
                        thead { tr {
                            th scope="col" { "Numero" } th scope="col" { "Data e ora" } th scope="col" { "Tipo" }
                            th scope="col" { "Oggetto" } th scope="col" { "Registrata da" } th scope="col" { "Impronta SHA-256" }
                        } }
                        tbody {
                            @for e in &entries {
                                tr {
                                    td class="text-monospace" {
                                        (e.number())
                                        @if let Some(by) = &e.cancelled_by { br; span class="badge bg-danger" { "annullata (n. " (by) ")" } }
                                    }
                                    td { (time::format_date_time(e.registered_at)) }
                                    td {
                                        (e.direction) ", " (e.kind) br;
                                        small { @if e.direction == "uscita" { (if e.channel == "pec" { "Inviata per PEC" } else { "Inviata per e-mail" }) } @else { (case::channel_label(&e.channel)) } }
                                    }
                                    td {
                                        @match e.application_id {
                                            Some(a) => a href=(format!("{base}/pratiche/{a}")) { (e.subject) },
                                            None => (e.subject),
                                        }
                                        @if let Some(r) = &e.reason { br; small { "Motivo: " (r) } }
                                        @if !e.recipients.is_empty() {
                                            br; small { "Destinatari: " (e.recipients.iter().map(|r| match &r.address { Some(a) => format!("{} <{a}>", r.name), None => r.name.clone() }).collect::<Vec<_>>().join("; ")) }
                                        }
                                        @for d in e.documents.iter().filter(|_| e.direction == "uscita") {
                                            br; small class="text-break" { "Allegato " (d.name) ", SHA-256 " span class="text-monospace" { (d.sha256) } }
                                        }
                                    }
                                    td { (e.registered_by_label) }
                                    td class="text-monospace small text-break" { (e.documents_sha256) }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

impl YearQuery {
    /// The year asked for (the current one when absent or out of range) and the search, trimmed
    /// and bounded.
    fn read(&self) -> (i32, String) {
        let current = year_of(Utc::now());
        let year = self
            .anno
            .filter(|y| (2000..=current).contains(y))
            .unwrap_or(current);
        let search = self
            .q
            .trim()
            .chars()
            .take(crate::domain::search::MAX_QUERY)
            .collect();
        (year, search)
    }

    /// The year and search in force, as they go in a URL.
    fn query_string(&self, year: i32, search: &str) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("anno", &year.to_string());
        if !search.is_empty() {
            q.append_pair("q", search);
        }
        q.finish()
    }
}

/// The columns of an export: those of the page.
const HEADER: [&str; 6] = [
    "Numero",
    "Data e ora",
    "Tipo",
    "Oggetto",
    "Registrata da",
    "Impronta SHA-256",
];

/// One entry as the cells of the page, as text (the lines of a cell joined by " — ").
fn line(e: &protocol::Entry) -> Vec<String> {
    let mut number = e.number().to_string();
    if let Some(by) = &e.cancelled_by {
        number.push_str(&format!(" — annullata (n. {by})"));
    }
    let channel = if e.direction == "uscita" {
        if e.channel == "pec" {
            "Inviata per PEC"
        } else {
            "Inviata per e-mail"
        }
    } else {
        case::channel_label(&e.channel)
    };
    let mut subject = e.subject.clone();
    if let Some(r) = &e.reason {
        subject.push_str(&format!(" — Motivo: {r}"));
    }
    if !e.recipients.is_empty() {
        let to: Vec<String> = e
            .recipients
            .iter()
            .map(|r| match &r.address {
                Some(a) => format!("{} <{a}>", r.name),
                None => r.name.clone(),
            })
            .collect();
        subject.push_str(&format!(" — Destinatari: {}", to.join("; ")));
    }
    for d in e.documents.iter().filter(|_| e.direction == "uscita") {
        subject.push_str(&format!(" — Allegato {}, SHA-256 {}", d.name, d.sha256));
    }
    vec![
        number,
        time::format_date_time(e.registered_at),
        format!("{}, {} — {channel}", e.direction, e.kind),
        subject,
        e.registered_by_label.clone(),
        e.documents_sha256.clone(),
    ]
}

pub async fn export_csv(
    state: State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    q: Query<YearQuery>,
) -> Result<Response, AppError> {
    export_register(state, tenant, who, q, FileKind::Csv).await
}

pub async fn export_xlsx(
    state: State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    q: Query<YearQuery>,
) -> Result<Response, AppError> {
    export_register(state, tenant, who, q, FileKind::Xlsx).await
}

/// The entries of the year that match the search in force, newest first as on the page, as a
/// file; at most `EXPORT_MAX` rows (past it the export is refused with a message). Recorded in
/// the audit log with the year, the search and the number of rows.
#[tracing::instrument(name = "esporta il registro di protocollo", skip_all, fields(tenant = %tenant.slug, formato = kind.extension()))]
async fn export_register(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    Query(q): Query<YearQuery>,
    kind: FileKind,
) -> Result<Response, AppError> {
    case::view_grant(&tenant, &who)?;
    let (year, search) = q.read();
    let base = format!("/{}/segreteria", tenant.slug);
    let filters = q.query_string(year, &search);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    // One more than the bound: whether the year has more than an export carries.
    let entries = protocol::list(
        &mut tx,
        year,
        (!search.is_empty()).then_some(search.as_str()),
        EXPORT_MAX + 1,
    )
    .await?;
    if entries.len() as i64 > EXPORT_MAX {
        drop(tx);
        let text = format!(
            "Il registro del {year} ha più di {} registrazioni corrispondenti: un'esportazione ne contiene al massimo {}. Restringere la ricerca ed esportare in più parti, oppure stampare il registro per un periodo.",
            plural::thousands(EXPORT_MAX),
            plural::thousands(EXPORT_MAX)
        );
        let back = format!("{base}/protocollo?{filters}");
        return Ok(case::list::refused(&tenant, &who, &base, &back, &text));
    }
    audit::record(
        &mut tx,
        audit::Entry {
            actor: &case::actor(&who),
            action: "protocollo_esportato",
            target_kind: None,
            target_id: None,
            outcome: "ok",
            details: serde_json::json!({
                "formato": kind.extension(),
                "anno": year,
                "righe": entries.len(),
                "filtri": filters,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    let lines: Vec<Vec<String>> = entries.iter().map(line).collect();
    let bytes = match kind {
        FileKind::Csv => export::csv(&HEADER, &lines)?,
        FileKind::Xlsx => export::xlsx("Protocollo", &HEADER, &lines)?,
    };
    tracing::info!(righe = lines.len(), "registro di protocollo esportato");
    let name = format!("protocollo-{year}.{}", kind.extension());
    Ok(export::download(bytes, kind, &name))
}
