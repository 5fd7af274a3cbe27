//! The protocol register of a year, as the secretariat consults it.

use axum::extract::{Query, State};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    domain::{protocol::year_of, time},
    store::protocol,
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case,
        error::AppError,
        layout::{self, PageMeta},
        tenant::CurrentTenant,
    },
};

#[derive(Deserialize, Default)]
pub struct YearQuery {
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
    let current = year_of(Utc::now());
    let year = q
        .anno
        .filter(|y| (2000..=current).contains(y))
        .unwrap_or(current);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let search: String =
        q.q.trim()
            .chars()
            .take(crate::domain::search::MAX_QUERY)
            .collect();
    let entries = protocol::list(
        &mut tx,
        year,
        (!search.is_empty()).then_some(search.as_str()),
        1000,
    )
    .await?;
    tx.commit().await?;
    let base = format!("/{}/segreteria", tenant.slug);
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
            nav aria-label="Anni" class="mb-3" {
                @if year > 2000 { a href=(format!("{base}/protocollo?anno={}", year - 1)) { "« " (year - 1) } }
                @if year < current { " · " a href=(format!("{base}/protocollo?anno={}", year + 1)) { (year + 1) " »" } }
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
