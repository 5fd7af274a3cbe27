//! Undelivered e-mail: the messages the worker set aside (an address refused by its server, an
//! invalid one, too many failed attempts), with the reason, and a button to send one again
//! once the cause is solved.

use crate::domain::plural;
use axum::{
    extract::State,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use crate::{
    domain::{
        access::{Grant, ManageSettings, authorize},
        time,
    },
    mail::messages,
    store::{
        audit::{self, Actor, Entry},
        outbox,
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

pub async fn list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
) -> Result<Markup, AppError> {
    let grant = grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let rows = outbox::undelivered(&mut tx, &grant).await?;
    tx.commit().await?;
    let base = format!("/{}/amministrazione/posta", tenant.slug);
    Ok(layout::page(
        &PageMeta::area("Posta non recapitata", &tenant, &who),
        html! {
            (layout::breadcrumb(&[("Amministrazione", Some(&format!("/{}/amministrazione", tenant.slug))), ("Posta non recapitata", None)]))
            h1 { "Posta non recapitata" }
            p {
                "I messaggi che il servizio non è riuscito a consegnare: l'indirizzo è stato rifiutato dal server di destinazione, non è valido, o gli invii sono falliti per 8 volte di seguito. "
                "Risolta la causa (per esempio corretto l'indirizzo nell'albo), il messaggio si può inviare di nuovo."
            }
            @if rows.is_empty() {
                div class="alert alert-success" role="status" { "Nessun messaggio da recapitare: tutta la posta è stata consegnata." }
            } @else {
                div class="table-responsive" {
                    table class="table" {
                        caption { (plural::count(rows.len(), "messaggio non recapitato", "messaggi non recapitati")) ", dal più recente" }
                        thead { tr {
                            th scope="col" { "Destinatario" }
                            th scope="col" { "Messaggio" }
                            th scope="col" { "Istanza" }
                            th scope="col" { "Tentativi" }
                            th scope="col" { "Motivo" }
                            th scope="col" { span class="visually-hidden" { "Azioni" } }
                        } }
                        tbody {
                            @for r in &rows {
                                tr id=(format!("messaggio-{}", r.id)) {
                                    td { (r.recipient) }
                                    td {
                                        (messages::template_label(&r.template))
                                        br; small { "del " (time::format_date_time(r.created_at)) }
                                    }
                                    td { (r.code.as_deref().unwrap_or("—")) }
                                    td { (r.attempts) }
                                    td { (r.last_error.as_deref().unwrap_or("—")) }
                                    td {
                                        form method="post" action=(format!("{base}/{}/riprova", r.id)) {
                                            (csrf_field(&who.csrf))
                                            button type="submit" class="btn btn-outline-primary btn-sm" {
                                                "Invia di nuovo" span class="visually-hidden" { " a " (r.recipient) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
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
