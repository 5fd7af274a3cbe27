//! The Agenzia delle Entrate's batches (distinte) as the secretariat sees them: the admissions
//! waiting for the next one, the batches that left with their state, period, protocol number
//! and contents, the cover lists to download, and "Invia ora" to send the next one early.

use axum::{
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::Utc;
use maud::{Markup, html};

use crate::{
    documents::tax_batch::{Closed, Closer},
    domain::{
        plural,
        tax_batch::{Frequency, period_of},
        time,
    },
    store::tax_batches::{self, Batch, Item, Settings},
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case,
        error::AppError,
        layout::{self, PageMeta, csrf_field},
        public::attachments::file_response,
        tenant::{CurrentTenant, PathParams},
    },
};

const TITLE: &str = "Distinte per l'Agenzia delle Entrate";
/// Batches listed on the page (the latest first).
const LISTED: i64 = 200;
/// Waiting admissions listed on the page (all are counted; a batch takes them all, in parts).
const WAITING_LISTED: i64 = 300;

fn base(tenant: &CurrentTenant) -> String {
    format!("/{}/segreteria/agenzia-entrate", tenant.slug)
}

fn frequency_words(f: Frequency) -> &'static str {
    match f {
        Frequency::Daily => "ogni giorno",
        Frequency::Weekly => "ogni settimana",
        Frequency::Monthly => "ogni mese",
    }
}

pub async fn page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
) -> Result<Response, AppError> {
    show(&state, &tenant, &who, None, StatusCode::OK).await
}

async fn show(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    notice: Option<Result<String, String>>,
    status: StatusCode,
) -> Result<Response, AppError> {
    case::view_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let settings = tax_batches::settings(&mut tx).await?;
    let count = tax_batches::waiting_count(&mut tx).await?;
    let waiting = tax_batches::waiting(&mut tx, Utc::now(), WAITING_LISTED, false).await?;
    let batches = tax_batches::list(&mut tx, LISTED).await?;
    tx.commit().await?;
    let base = base(tenant);
    let page = layout::page(
        &PageMeta::area(TITLE, tenant, who),
        html! {
            (layout::breadcrumb(&[(super::TITLE, Some(&format!("/{}/segreteria", tenant.slug))), (TITLE, None)]))
            h1 { (TITLE) }
            @match &notice {
                Some(Ok(m)) => div class="alert alert-success" role="status" { (m) },
                Some(Err(m)) => div class="alert alert-danger" role="alert" { (m) },
                None => {}
            }
            p { "Copia delle delibere di ammissione va all'ufficio finanziario (art. 127, comma 1, D.P.R. 115/2002): le ammissioni firmate si raccolgono in distinte, inviate per PEC con l'elenco riepilogativo (PDF/A e CSV) e le delibere firmate. Ogni distinta è registrata nel protocollo in uscita. Le delibere di rigetto o di inammissibilità non vi entrano." }
            (schedule(tenant, &settings))
            (open_batch(&base, who, &settings, count, &waiting))
            (sent(&base, &batches))
        },
    );
    Ok((status, page).into_response())
}

fn schedule(tenant: &CurrentTenant, s: &Settings) -> Markup {
    let today = time::rome_date(Utc::now());
    let current = period_of(s.frequency, today);
    html! {
        div class="card card-bg mb-4" {
            div class="card-body" {
                h2 class="h5 card-title" { "Impostazioni dell'invio" }
                ul class="mb-2" {
                    li { "Frequenza: la distinta parte " (frequency_words(s.frequency)) "; la prossima il " (time::format_date(current.end)) " dopo la mezzanotte." }
                    li { "Indirizzo PEC dell'Agenzia delle Entrate: "
                        @match &s.pec { Some(p) => strong class="text-break" { (p) }, None => strong class="text-danger" { "non indicato: nessuna distinta parte finché manca" } } }
                    li { "Colonne dell'elenco: " (s.columns.iter().map(|c| c.label()).collect::<Vec<_>>().join(", ")) "." }
                }
                p class="small mb-0" { "Le impostazioni si cambiano in " a href=(format!("/{}/amministrazione/agenzia-entrate", tenant.slug)) { "Amministrazione, Agenzia delle Entrate" } " (amministratore dell'Ordine)." }
            }
        }
    }
}

fn open_batch(
    base: &str,
    who: &InArea<Segreteria>,
    s: &Settings,
    count: i64,
    waiting: &[Item],
) -> Markup {
    let current = period_of(s.frequency, time::rome_date(Utc::now()));
    html! {
        section class="mb-5" id="prossima-distinta" aria-labelledby="titolo-prossima-distinta" {
            h2 class="h4" id="titolo-prossima-distinta" { "Prossima distinta " span class="badge bg-primary" { (plural::count(count, "delibera", "delibere")) } }
            p class="small" { "Periodo in corso: " (current.label) "." }
            @if waiting.is_empty() {
                p class="text-muted" { "Nessuna delibera di ammissione in attesa di invio all'Agenzia delle Entrate." }
            } @else {
                div class="table-responsive" {
                    table class="table table-sm" {
                        caption { "Delibere di ammissione in attesa della prossima distinta" }
                        thead { tr {
                            th scope="col" { "Delibera" }
                            th scope="col" { "Protocollo" }
                            th scope="col" { "Richiedente" }
                            th scope="col" { "In attesa dal" }
                        } }
                        tbody {
                            @for i in waiting { (item_row(base, i)) }
                        }
                    }
                }
                @if (waiting.len() as i64) < count {
                    p class="small" { "Sono elencate le prime " (waiting.len()) "." }
                }
                @if s.pec.is_some() {
                    form method="post" action=(format!("{base}/invia")) class="mt-2" {
                        (csrf_field(&who.csrf))
                        p class="small mb-1" { "La distinta parte da sola alla fine del periodo; per inviarla subito, con le delibere elencate:" }
                        button type="submit" class="btn btn-primary" { "Invia ora" }
                    }
                }
            }
        }
    }
}

fn item_row(base: &str, i: &Item) -> Markup {
    let case = base.replace(
        "/agenzia-entrate",
        &format!("/pratiche/{}", i.application_id),
    );
    html! {
        tr {
            td { (i.decision_label().unwrap_or_default()) }
            td { a href=(case) { span class="text-monospace" { @match i.protocol() { Some(p) => (p), None => (i.code) } } } }
            td { (i.applicant_name.as_deref().unwrap_or("—")) }
            td { (time::format_date_time(i.waiting_since)) }
        }
    }
}

fn sent(base: &str, batches: &[Batch]) -> Markup {
    html! {
        section class="mb-5" id="distinte-inviate" aria-labelledby="titolo-distinte-inviate" {
            h2 class="h4" id="titolo-distinte-inviate" { "Distinte trasmesse" }
            @if batches.is_empty() {
                p class="text-muted" { "Nessuna distinta ancora." }
            } @else {
                div class="table-responsive" {
                    table class="table table-sm" {
                        caption { "Distinte trasmesse all'Agenzia delle Entrate, dalla più recente" }
                        thead { tr {
                            th scope="col" { "Distinta" }
                            th scope="col" { "Periodo" }
                            th scope="col" { "Delibere" }
                            th scope="col" { "Protocollo in uscita" }
                            th scope="col" { "Stato" }
                            th scope="col" { "Elenco" }
                        } }
                        tbody {
                            @for b in batches {
                                tr id=(format!("distinta-{}", b.id)) {
                                    th scope="row" { a href=(format!("{base}/{}", b.id)) { "n. " (b.label()) } }
                                    td { (b.period_label) @if b.part > 1 { br; small { "parte " (b.part) } } }
                                    td { (b.items) }
                                    td { span class="text-monospace" { (b.protocol()) } }
                                    td { (b.state_label()) }
                                    td {
                                        a href=(format!("{base}/{}/distinta.pdf", b.id)) { "PDF" span class="visually-hidden" { " della distinta " (b.label()) } }
                                        " · "
                                        a href=(format!("{base}/{}/distinta.csv", b.id)) { "CSV" span class="visually-hidden" { " della distinta " (b.label()) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// "Invia ora": the next batch leaves now with every admission waiting.
#[tracing::instrument(name = "invia in anticipo la distinta per l'Agenzia delle Entrate", skip_all, fields(tenant = %tenant.id.0))]
pub async fn send_now(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
) -> Result<Response, AppError> {
    case::view_grant(&tenant, &who)?;
    let closer = Closer {
        db: &state.db,
        pdf: &state.pdf,
        storage: &state.storage,
    };
    let actor = case::actor(&who);
    let (notice, status) = match closer.close(&tenant, Utc::now(), Some(&actor)).await? {
        Closed::Sent(ids) => (
            Ok(if ids.len() == 1 {
                "Distinta registrata nel protocollo in uscita e messa in coda per l'invio via PEC.".to_owned()
            } else {
                format!(
                    "La distinta è troppo grande per una sola PEC: parte in {} messaggi, ciascuno registrato nel protocollo in uscita.",
                    ids.len()
                )
            }),
            StatusCode::OK,
        ),
        Closed::Nothing => (
            Err("Nessuna delibera di ammissione in attesa: non c'è nulla da inviare.".to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Closed::NoAddress => (
            Err("Manca l'indirizzo PEC dell'Agenzia delle Entrate: l'amministratore lo indica in Amministrazione, Agenzia delle Entrate.".to_owned()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    };
    show(&state, &tenant, &who, Some(notice), status).await
}

/// One batch: what it held, with the columns it was sent with.
pub async fn batch_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::view_grant(&tenant, &who)?;
    let id = params.id("batch")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let b = tax_batches::get(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let items = tax_batches::items_of(&mut tx, id).await?;
    tx.commit().await?;
    let base = base(&tenant);
    let title = format!("Distinta n. {}", b.label());
    let page = layout::page(
        &PageMeta::area(&title, &tenant, &who),
        html! {
            (layout::breadcrumb(&[(super::TITLE, Some(&format!("/{}/segreteria", tenant.slug))), (TITLE, Some(&base)), (&title, None)]))
            h1 { (title) }
            dl class="row" {
                dt class="col-sm-4" { "Periodo" } dd class="col-sm-8" { (b.period_label) @if b.part > 1 { ", parte " (b.part) } }
                dt class="col-sm-4" { "Destinatario" } dd class="col-sm-8 text-break" { "Agenzia delle Entrate — PEC " (b.pec) }
                dt class="col-sm-4" { "Protocollo in uscita" } dd class="col-sm-8" { span class="text-monospace" { (b.protocol()) } }
                dt class="col-sm-4" { "Stato" } dd class="col-sm-8" { (b.state_label()) }
                dt class="col-sm-4" { "Registrata" } dd class="col-sm-8" { (time::format_date_time(b.created_at)) " da " (b.created_by) }
                dt class="col-sm-4" { "Allegati" } dd class="col-sm-8" { (plural::count(b.items as i64, "delibera firmata", "delibere firmate")) " e l'elenco, " (format!("{:.1}", b.attachments_bytes as f64 / 1_048_576.0).replace('.', ",")) " MB" }
                dt class="col-sm-4" { "Elenco" } dd class="col-sm-8" {
                    a href=(format!("{base}/{}/distinta.pdf", b.id)) { "PDF/A" } " · " a href=(format!("{base}/{}/distinta.csv", b.id)) { "CSV" }
                    br; small class="text-monospace text-break" { "SHA-256 del PDF: " (b.cover_pdf_sha256) }
                }
            }
            h2 class="h4" { "Delibere della distinta" }
            div class="table-responsive" {
                table class="table table-sm" {
                    caption { "Delibere di ammissione trasmesse con la distinta n. " (b.label()) }
                    thead { tr {
                        th scope="col" { "Delibera" }
                        th scope="col" { "Protocollo" }
                        th scope="col" { "Richiedente" }
                        th scope="col" { "In attesa dal" }
                    } }
                    tbody { @for i in &items { (item_row(&base, i)) } }
                }
            }
        },
    );
    Ok(page.into_response())
}

async fn cover(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    params: &PathParams,
    csv: bool,
) -> Result<Response, AppError> {
    case::view_grant(tenant, who)?;
    let id = params.id("batch")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let b = tax_batches::get(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let name = format!("distinta-ade-{}-{}", b.number, b.year);
    Ok(if csv {
        crate::web::export::download(
            state.storage.get(&b.cover_csv_key).await?,
            crate::web::export::FileKind::Csv,
            &format!("{name}.csv"),
        )
    } else {
        file_response(
            state.storage.get(&b.cover_pdf_key).await?,
            "application/pdf",
            &format!("{name}.pdf"),
        )
    })
}

pub async fn cover_pdf(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    cover(&state, &tenant, &who, &params, false).await
}

pub async fn cover_csv(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    cover(&state, &tenant, &who, &params, true).await
}
