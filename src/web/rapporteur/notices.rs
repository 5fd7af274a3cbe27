//! The councillor's e-mail choices: what always arrives (legal notices) and how to hear of a
//! new assignment (at once, in a morning digest, or not at all).

use axum::{
    Form as HtmlForm,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    domain::notifications::AssignmentMail,
    store::{
        audit::{self, Actor, Entry},
        users,
    },
    web::{
        AppState,
        auth::{Consigliere, InArea},
        error::AppError,
        layout::{self, PageMeta, csrf_field},
        tenant::CurrentTenant,
    },
};

const TITLE: &str = "Avvisi per e-mail";

/// What to say above the form: saved, or what was wrong.
enum Said {
    Nothing,
    Saved,
    Problem(&'static str),
}

fn page(
    tenant: &CurrentTenant,
    who: &InArea<Consigliere>,
    current: Option<AssignmentMail>,
    said: Said,
) -> Markup {
    let base = format!("/{}/consiglieri", tenant.slug);
    layout::page(
        &PageMeta::area(TITLE, tenant, who),
        html! {
            (layout::breadcrumb(&[(super::TITLE, Some(&base)), (TITLE, None)]))
            h1 { (TITLE) }
            @match said {
                Said::Saved => div class="alert alert-success" role="status" { "Scelta salvata." },
                Said::Problem(p) => div class="alert alert-danger" role="alert" { (p) },
                Said::Nothing => {},
            }
            h2 class="h4 mt-4" { "Sempre, per legge o per il lavoro del Consiglio" }
            p { "Questi avvisi non si possono disattivare:" }
            ul {
                li { "la risposta a una richiesta di integrazione su una pratica che le è assegnata;" }
                li { "il rinvio di una sua pratica da parte del Consiglio o la sua rimessa in istruttoria;" }
                li { "i messaggi del suo account (attivazione, reimpostazione della password)." }
            }
            form method="post" action=(format!("{base}/avvisi")) class="mt-4" {
                (csrf_field(&who.csrf))
                fieldset {
                    legend class="h4" { "Nuove pratiche assegnate" }
                    @for c in AssignmentMail::ALL {
                        div class="form-check" {
                            input class="form-check-input" type="radio" name="assegnazioni"
                                id=(format!("assegnazioni-{}", c.code())) value=(c.code())
                                checked[Some(c) == current];
                            label class="form-check-label" for=(format!("assegnazioni-{}", c.code())) { (c.label()) }
                        }
                    }
                }
                button type="submit" class="btn btn-primary mt-3" { "Salva" }
            }
        },
    )
}

#[derive(Deserialize)]
pub struct ShowQuery {
    #[serde(default)]
    salvato: Option<String>,
}

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    Query(q): Query<ShowQuery>,
) -> Result<Markup, AppError> {
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let current = users::assignment_mail(&mut tx, who.user.id).await?;
    tx.commit().await?;
    let said = if q.salvato.is_some() {
        Said::Saved
    } else {
        Said::Nothing
    };
    Ok(page(&tenant, &who, Some(current), said))
}

#[derive(Deserialize)]
pub struct NoticesForm {
    #[serde(default)]
    assegnazioni: String,
}

pub async fn save(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    HtmlForm(f): HtmlForm<NoticesForm>,
) -> Result<Response, AppError> {
    let Some(choice) = AssignmentMail::from_code(&f.assegnazioni) else {
        let problem = Said::Problem("Scegliere come ricevere gli avvisi delle nuove pratiche.");
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&tenant, &who, None, problem),
        )
            .into_response());
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    users::set_assignment_mail(&mut tx, who.user.id, choice).await?;
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::user(who.user.id, &who.user.name),
            action: "avvisi.assegnazioni",
            target_kind: Some("utente"),
            target_id: Some(who.user.id.to_string()),
            outcome: "ok",
            details: serde_json::json!({ "scelta": choice.code() }),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/{}/consiglieri/avvisi?salvato=1", tenant.slug)).into_response())
}
