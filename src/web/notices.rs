//! Each person's e-mail choices, whatever their roles: what always arrives (legal notices and
//! what the role needs to work) and, for the rest, how: at once, in a morning digest, or not
//! at all.

use std::collections::HashMap;

use axum::{
    Form as HtmlForm,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    domain::{
        access::Role,
        notifications::{self, Delivery, Topic},
    },
    store::{
        audit::{self, Actor, Entry},
        users,
    },
    web::{
        AppState,
        auth::SignedIn,
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
    Problem(String),
}

fn page(
    tenant: &CurrentTenant,
    who: &SignedIn,
    choices: &[(Topic, Option<Delivery>)],
    said: Said,
) -> Markup {
    let always: Vec<&str> = Role::ALL
        .into_iter()
        .filter(|r| who.user.has(*r))
        .flat_map(|r| notifications::always(r).iter().copied())
        .chain(["i messaggi del suo account (attivazione, reimpostazione della password)"])
        .collect();
    let action = format!("/{}/avvisi", tenant.slug);
    layout::page(
        &PageMeta::signed_in(TITLE, tenant, &who.user, &who.csrf),
        html! {
            h1 { (TITLE) }
            @match &said {
                Said::Saved => div class="alert alert-success" role="status" { "Scelte salvate." },
                Said::Problem(p) => div class="alert alert-danger" role="alert" { (p) },
                Said::Nothing => {},
            }
            h2 class="h4 mt-4" { "Sempre, per legge o per il lavoro dell'Ordine" }
            p { "Questi avvisi non si possono disattivare:" }
            ul {
                @for (i, a) in always.iter().enumerate() {
                    li { (a) (if i + 1 == always.len() { "." } else { ";" }) }
                }
            }
            @if choices.is_empty() {
                p { "Per il suo ruolo non ci sono altri avvisi da scegliere." }
            } @else {
                form method="post" action=(action) class="mt-4" {
                    (csrf_field(&who.csrf))
                    @for (topic, current) in choices {
                        fieldset class="mb-3" {
                            legend class="h4 px-0 mb-3" { (topic.title()) }
                            @for d in Delivery::ALL {
                                @let id = format!("{}-{}", topic.code(), d.code());
                                div class="form-check" {
                                    input class="form-check-input" type="radio" name=(topic.code())
                                        id=(id) value=(d.code()) checked[Some(d) == *current];
                                    label class="form-check-label" for=(id) { (topic.label(d)) }
                                }
                            }
                        }
                    }
                    button type="submit" class="btn btn-primary" { "Salva" }
                }
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
    who: SignedIn,
    Query(q): Query<ShowQuery>,
) -> Result<Markup, AppError> {
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let choices: Vec<(Topic, Option<Delivery>)> = users::mail_choices(&mut tx, who.user.id)
        .await?
        .into_iter()
        .filter(|(t, _)| who.user.has(t.role()))
        .map(|(t, d)| (t, Some(d)))
        .collect();
    tx.commit().await?;
    let said = if q.salvato.is_some() {
        Said::Saved
    } else {
        Said::Nothing
    };
    Ok(page(&tenant, &who, &choices, said))
}

pub async fn save(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: SignedIn,
    HtmlForm(f): HtmlForm<HashMap<String, String>>,
) -> Result<Response, AppError> {
    let typed: Vec<(Topic, Option<Delivery>)> = Topic::ALL
        .into_iter()
        .filter(|t| who.user.has(t.role()))
        .map(|t| (t, f.get(t.code()).and_then(|c| Delivery::from_code(c))))
        .collect();
    if let Some((missing, _)) = typed.iter().find(|(_, d)| d.is_none()) {
        // The others stay as they were chosen on the form.
        let problem = Said::Problem(format!(
            "Scegliere come ricevere gli avvisi: «{}».",
            missing.title()
        ));
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            page(&tenant, &who, &typed, problem),
        )
            .into_response());
    }
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let mut details = serde_json::Map::new();
    for (topic, delivery) in typed.iter().filter_map(|(t, d)| Some((*t, (*d)?))) {
        users::set_mail_choice(&mut tx, who.user.id, topic, delivery).await?;
        details.insert(topic.code().into(), delivery.code().into());
    }
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::user(who.user.id, &who.user.name),
            action: "avvisi.scelte",
            target_kind: Some("utente"),
            target_id: Some(who.user.id.to_string()),
            outcome: "ok",
            details: details.into(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/{}/avvisi?salvato=1", tenant.slug)).into_response())
}
