//! The outgoing mail of the Ordine: what waits to leave (and why, when a sending failed), what
//! left and when, and what could not be delivered, with the reason and a button to send it
//! again once the cause is solved. It says so plainly when no mail server is configured.

use crate::domain::plural;
use axum::{
    extract::{Query, State},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    domain::{
        access::{Grant, ManageSettings, authorize},
        time,
    },
    mail::messages,
    store::{
        audit::{self, Actor, Entry},
        outbox::{self, Queued},
    },
    web::{
        AppState,
        auth::{Amministratore, InArea},
        error::AppError,
        layout::{self, PageMeta, csrf_field},
        tenant::{CurrentTenant, PathParams},
    },
};

fn grant(
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
) -> Result<Grant<ManageSettings>, AppError> {
    authorize::<ManageSettings>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)
}

pub const TITLE: &str = "Posta in uscita";

/// The three lists of the page, by the outbox's status.
const LISTS: [(&str, &str); 3] = [
    ("non_recapitabile", "Non recapitati"),
    ("in_attesa", "In attesa di invio"),
    ("inviato", "Inviati"),
];

/// The most messages a list shows.
const SHOWN: i64 = 200;

#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    stato: String,
}

pub async fn list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    Query(q): Query<ListQuery>,
) -> Result<Markup, AppError> {
    let grant = grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let counts = outbox::counts(&mut tx, &grant).await?;
    // By default the list that needs attention: the undelivered, else the waiting.
    let status = match q.stato.as_str() {
        s if LISTS.iter().any(|(code, _)| *code == s) => s,
        _ if counts.undelivered > 0 => "non_recapitabile",
        _ if counts.waiting > 0 => "in_attesa",
        _ => "inviato",
    };
    let rows = outbox::with_status(&mut tx, &grant, status, SHOWN).await?;
    tx.commit().await?;
    let base = format!("/{}/amministrazione/posta", tenant.slug);
    let count_of = |code: &str| match code {
        "in_attesa" => counts.waiting,
        "inviato" => counts.sent,
        _ => counts.undelivered,
    };
    Ok(layout::page(
        &PageMeta::area(TITLE, &tenant, &who),
        html! {
            (layout::breadcrumb(&[("Amministrazione", Some(&format!("/{}/amministrazione", tenant.slug))), (TITLE, None)]))
            h1 { (TITLE) }
            @if !state.settings.mail_configured {
                div class="alert alert-warning" role="status" id="posta-non-configurata" {
                    "Il servizio non ha un server di posta configurato: nessun messaggio viene inviato. I messaggi restano in attesa e partiranno quando il gestore della piattaforma configurerà il server (PATROCINIO_SMTP_URL)."
                }
            }
            p {
                "Le e-mail e le PEC che il servizio invia per conto dell'Ordine. Un invio non riuscito è ritentato più volte a intervalli crescenti; "
                "se il server di destinazione rifiuta l'indirizzo, o dopo 8 tentativi, il messaggio è messo tra i non recapitati: risolta la causa (per esempio corretto l'indirizzo nell'albo) si può inviare di nuovo."
            }
            ul class="nav nav-tabs mb-3" {
                @for (code, label) in LISTS {
                    li class="nav-item" {
                        a class=(if code == status { "nav-link active" } else { "nav-link" })
                            aria-current=[(code == status).then_some("page")]
                            href=(format!("{base}?stato={code}")) {
                            (label) " (" (count_of(code)) ")"
                        }
                    }
                }
            }
            @if rows.is_empty() {
                p id="posta-vuota" { (match status {
                    "in_attesa" => "Nessun messaggio in attesa di invio.",
                    "inviato" => "Nessun messaggio inviato finora.",
                    _ => "Nessun messaggio non recapitato.",
                }) }
            } @else {
                (table(&rows, status, &base, &who.csrf, count_of(status)))
            }
        },
    ))
}

fn table(rows: &[Queued], status: &str, base: &str, csrf: &str, total: i64) -> Markup {
    let shown = rows.len();
    html! {
        div class="table-responsive" tabindex="0" role="region" aria-label="Messaggi" {
            table class="table" {
                caption {
                    (plural::count(total, "messaggio", "messaggi"))
                    @if (shown as i64) < total { ", i " (shown) " " @if status == "in_attesa" { "meno recenti" } @else { "più recenti" } }
                }
                thead { tr {
                    th scope="col" { "Destinatario" }
                    th scope="col" { "Messaggio" }
                    th scope="col" { "Istanza" }
                    @match status {
                        "inviato" => th scope="col" { "Inviato il" },
                        "in_attesa" => { th scope="col" { "Tentativi" } th scope="col" { "Prossimo tentativo" } th scope="col" { "Ultimo errore" } },
                        _ => { th scope="col" { "Tentativi" } th scope="col" { "Motivo" } th scope="col" { span class="visually-hidden" { "Azioni" } } },
                    }
                } }
                tbody {
                    @for r in rows {
                        tr id=(format!("messaggio-{}", r.id)) {
                            td { (r.recipient) }
                            td {
                                (messages::template_label(&r.template))
                                br; small { "creato il " (time::format_date_time(r.created_at)) }
                            }
                            td { (r.code.as_deref().unwrap_or("—")) }
                            @match status {
                                "inviato" => td { (r.sent_at.map(time::format_date_time).unwrap_or_default()) },
                                "in_attesa" => {
                                    td { (r.attempts) }
                                    td { (time::format_date_time(r.next_attempt_at)) }
                                    td { (r.last_error.as_deref().unwrap_or("—")) }
                                },
                                _ => {
                                    td { (r.attempts) }
                                    td { (r.last_error.as_deref().unwrap_or("—")) }
                                    td {
                                        form method="post" action=(format!("{base}/{}/riprova", r.id)) {
                                            (csrf_field(csrf))
                                            button type="submit" class="btn btn-outline-primary btn-sm" {
                                                "Invia di nuovo" span class="visually-hidden" { " a " (r.recipient) }
                                            }
                                        }
                                    }
                                },
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn retry(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let id: i64 = params.get("id").parse().map_err(|_| AppError::NotFound)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    if !outbox::retry(&mut tx, &grant, id).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::user(who.user.id, &who.user.name),
            action: "posta.riprova",
            target_kind: Some("messaggio"),
            target_id: Some(id.to_string()),
            outcome: "ok",
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/{}/amministrazione/posta", tenant.slug)).into_response())
}
