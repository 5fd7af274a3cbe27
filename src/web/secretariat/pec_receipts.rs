//! The transmissions by PEC and their receipts, as the secretariat finds them: each
//! transmission's state (in coda, accettata, consegnata, mancata consegna with the reason),
//! the receipts kept aside because their Message-ID is none of ours, and each receipt's .eml.

use axum::{extract::State, response::Response};
use maud::{Markup, html};

use crate::{
    domain::{
        protocol::ProtocolNumber,
        time,
        transmission::{Recipient, State as Sent},
    },
    store::{pec_receipts, transmissions},
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

const TITLE: &str = "Trasmissioni PEC e ricevute";
/// Transmissions listed (the failed first, then the latest).
const TRANSMISSIONS: i64 = 300;
/// Receipts kept aside listed (the latest first).
const UNKNOWN: i64 = 300;
/// Failed deliveries on the board: those of the last days.
const BOARD_DAYS: i64 = 30;

pub fn base(slug: &str) -> String {
    format!("/{slug}/segreteria/ricevute-pec")
}

pub async fn page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
) -> Result<Response, AppError> {
    case::view_grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let sent = pec_receipts::transmissions(&mut tx, TRANSMISSIONS).await?;
    let unknown = pec_receipts::unknown(&mut tx, UNKNOWN).await?;
    tx.commit().await?;
    let base = base(&tenant.slug);
    let cases = format!("/{}/segreteria/pratiche", tenant.slug);
    Ok(axum::response::IntoResponse::into_response(layout::page(
        &PageMeta::area(TITLE, &tenant, &who),
        html! {
            (layout::breadcrumb(&[(super::TITLE, Some(&format!("/{}/segreteria", tenant.slug))), (TITLE, None)]))
            h1 { (TITLE) }
            p { "Le ricevute del gestore PEC (accettazione, avvenuta consegna, mancata consegna) sono lette dalla casella PEC dell'Ordine e conservate come prova; ogni trasmissione ha lo stato del suo destinatario." }
            h2 class="h4" id="trasmissioni-pec" { "Trasmissioni per PEC" }
            @if sent.is_empty() {
                p class="text-muted" { "Nessuna trasmissione per PEC." }
            } @else {
                div class="table-responsive" {
                    table class="table table-sm" {
                        caption { "Trasmissioni per PEC: prima le consegne non riuscite, poi le più recenti" }
                        thead { tr {
                            th scope="col" { "Pratica" }
                            th scope="col" { "Destinatario" }
                            th scope="col" { "Stato" }
                            th scope="col" { "Ricevute" }
                            th scope="col" { "Aggiornata" }
                        } }
                        tbody {
                            @for t in &sent {
                                tr class=[(t.state == Sent::NotDelivered.code()).then_some("table-danger")] {
                                    td { a href=(format!("{cases}/{}#trasmissioni", t.application_id)) {
                                        span class="text-monospace" { @match t.protocol_year.zip(t.protocol_number) {
                                            Some((year, number)) => (ProtocolNumber { year, number }),
                                            None => (t.code),
                                        } }
                                    } }
                                    td {
                                        (Recipient::from_code(&t.recipient_kind).map_or("", Recipient::label))
                                        br; small class="text-break" { (t.recipient_name) @if let Some(a) = &t.address { " — " (a) } }
                                    }
                                    td { (state_text(&t.state, t.failure_reason.as_deref())) }
                                    td { (t.receipts) }
                                    td { (time::format_date_time(t.updated_at)) }
                                }
                            }
                        }
                    }
                }
            }
            h2 class="h4" id="ricevute-non-abbinate" { "Ricevute non abbinate" }
            p class="small" { "Ricevute il cui messaggio di riferimento (Message-ID) non è tra quelli inviati dal servizio: sono conservate e non cambiano lo stato di alcuna trasmissione." }
            @if unknown.is_empty() {
                p class="text-muted" { "Nessuna ricevuta non abbinata." }
            } @else {
                div class="table-responsive" {
                    table class="table table-sm" {
                        caption { "Ricevute non abbinate, dalla più recente" }
                        thead { tr {
                            th scope="col" { "Ricevuta" }
                            th scope="col" { "Riferimento" }
                            th scope="col" { "Destinatario" }
                            th scope="col" { "Ricevuta il" }
                            th scope="col" { "File" }
                        } }
                        tbody {
                            @for r in &unknown {
                                tr {
                                    td {
                                        (r.label()) @if let Some(s) = &r.subject { br; small class="text-break" { (s) } }
                                        br; small class=[(r.signature != "integra").then_some("text-danger")] { (r.signature_label()) }
                                    }
                                    td class="small text-break" { (r.refers_to.as_deref().unwrap_or("—")) }
                                    td class="small text-break" { (r.recipient.as_deref().unwrap_or("—")) @if let Some(e) = &r.error { br; (e) } }
                                    td { (time::format_date_time(r.received_at)) }
                                    td { a href=(format!("{base}/{}", r.id)) { ".eml" span class="visually-hidden" { " della ricevuta " (r.message_id) } } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )))
}

fn state_text(state: &str, reason: Option<&str>) -> String {
    let s = Sent::from_code(state);
    match (s, reason) {
        (Some(Sent::NotDelivered), Some(why)) => format!("{}: {why}", Sent::NotDelivered.label()),
        (Some(s), _) => s.label().to_owned(),
        (None, _) => state.to_owned(),
    }
}

/// A kept receipt as it was read (message/rfc822).
pub async fn download(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::view_grant(&tenant, &who)?;
    let id = params.id("receipt")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let (key, _) = pec_receipts::file(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    Ok(file_response(
        state.storage.get(&key).await?,
        "message/rfc822",
        &format!("ricevuta-{id}.eml"),
    ))
}

/// The board's alert: deliveries by PEC that failed in the last days (live: the receipt's
/// event reaches the board's sockets).
pub async fn board_alert(tx: &mut crate::db::TenantTx, slug: &str) -> anyhow::Result<Markup> {
    let failed = transmissions::failed_since(tx, BOARD_DAYS, 100).await?;
    let cases = format!("/{slug}/segreteria/pratiche");
    Ok(html! {
        @if !failed.is_empty() {
            section id="consegne-non-riuscite" class="mb-5" role="alert" {
                h2 class="h3" { "Consegne PEC non riuscite " span class="badge bg-danger" { (failed.len()) } }
                p class="small" { "Il gestore PEC ha comunicato la mancata consegna: verificare l'indirizzo del destinatario e ritrasmettere. Tutte le trasmissioni in " a href=(base(slug)) { (TITLE) } "." }
                div class="table-responsive" {
                    table class="table table-sm" {
                        caption { "Trasmissioni PEC non consegnate negli ultimi " (BOARD_DAYS) " giorni" }
                        thead { tr {
                            th scope="col" { "Pratica" }
                            th scope="col" { "Destinatario" }
                            th scope="col" { "Motivo" }
                        } }
                        tbody {
                            @for f in &failed {
                                tr {
                                    td { a href=(format!("{cases}/{}#trasmissioni", f.application_id)) { span class="text-monospace" { (f.reference()) } } }
                                    td class="text-break" { (Recipient::from_code(&f.recipient_kind).map_or("", Recipient::label)) ", " (f.recipient_name) }
                                    td class="text-break" { (f.failure_reason.as_deref().unwrap_or("—")) }
                                }
                            }
                        }
                    }
                }
            }
        } @else {
            div id="consegne-non-riuscite" {}
        }
    })
}
