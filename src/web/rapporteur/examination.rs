//! The rapporteur's operations on a case: asking for missing documents or clarifications
//! (art. 79 c.3) and, in `decision`, proposing or taking the decision.

use axum::{Form as HtmlForm, extract::State, http::StatusCode, response::Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::{Typed, show};
use crate::{
    domain::application::{
        Action, Actor, Stage, attachment::AttachmentKind, integration, workflow::EventKind,
    },
    store::{
        cases::{self, Change, Notify},
        integrations,
    },
    web::{
        AppState,
        auth::{Consigliere, InArea},
        case::{self, CaseFile},
        error::AppError,
        layout::csrf_field,
        tenant::{CurrentTenant, PathParams},
    },
};

/// The integration request form, as `serde_urlencoded` cannot gather repeated fields.
pub struct RequestForm {
    pub version: i32,
    pub kinds: Vec<String>,
    pub questions: String,
    pub due: String,
    pub note: String,
}

impl<'de> Deserialize<'de> for RequestForm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs: Vec<(String, String)> = Vec::deserialize(d)?;
        let get = |k: &str| {
            pairs
                .iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        Ok(Self {
            version: get("versione").trim().parse().unwrap_or(0),
            kinds: pairs
                .iter()
                .filter(|(n, _)| n == "documenti")
                .map(|(_, v)| v.clone())
                .collect(),
            questions: get("domande"),
            due: get("scadenza"),
            note: get("nota"),
        })
    }
}

pub async fn request_integration(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    params: PathParams,
    HtmlForm(f): HtmlForm<RequestForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed = [("Domande", f.questions.as_str()), ("Nota", f.note.as_str())];
    let c = match case::lock_for_change(&mut tx, &tenant, &who, &viewer, id, f.version, &typed)
        .await?
    {
        Ok(c) => c,
        Err(page) => return Ok(page),
    };
    let facts = case::facts(&tenant, &who, &c, false);
    let to = match case::check(
        &tenant,
        &who,
        &c,
        Action::RequestIntegration,
        Actor::Rapporteur,
        facts,
    ) {
        Ok(to) => to,
        Err(page) => return Ok(page),
    };
    let request = match integration::check_request(
        &f.kinds,
        &f.questions,
        &f.due,
        case::today(),
        tenant.settings.integration_days,
    ) {
        Ok(r) => r,
        Err(errors) => {
            drop(tx);
            let typed = Typed {
                errors,
                request: Some(f),
            };
            return show(
                &state,
                &tenant,
                &who,
                id,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                typed,
            )
            .await;
        }
    };
    let note: String = f.note.trim().chars().take(integration::MAX_TEXT).collect();
    integrations::create(&mut tx, id, who.user.id, &request, &note).await?;
    let items: Vec<String> = request
        .kinds
        .iter()
        .map(|k| k.label().to_owned())
        .chain(request.questions.iter().cloned())
        .collect();
    let actor = case::actor(&who);
    let change = Change {
        case: &c,
        seen_version: f.version,
        to,
        kind: EventKind::IntegrationRequested,
        actor: &actor,
        details: json!({
            "nota": format!("Entro il {}: {}", crate::domain::time::format_date(request.due), items.join("; ")),
            "scadenza": request.due,
        }),
        notify: Notify::Parties,
    };
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(&tenant, &who, id, &stale, &typed));
    }
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "integrazione"))
}

fn error_of(typed: &Typed, field: &str) -> Option<String> {
    typed
        .errors
        .iter()
        .find(|(f, _)| f == field)
        .map(|(_, m)| m.clone())
}

/// The integration request form.
pub fn request_form(
    url: &str,
    who: &InArea<Consigliere>,
    c: &cases::Case,
    typed: &Typed,
    default_days: Option<u32>,
) -> Markup {
    let t = typed.request.as_ref();
    let default_due = crate::domain::deadline::integration_due(case::today(), default_days);
    html! {
        form method="post" action=(format!("{url}/integrazione")) class="card card-bg mb-4" novalidate {
            div class="card-body" {
                h2 class="h5 card-title" { "Richiedi un'integrazione" }
                (csrf_field(&who.csrf))
                input type="hidden" name="versione" value=(c.version);
                fieldset id="voci" {
                    legend class="h6" { "Documenti mancanti" }
                    @for k in AttachmentKind::ALL {
                        div class="form-check" {
                            input class="form-check-input" type="checkbox" name="documenti" value=(k.code()) id=(format!("doc-{}", k.code()))
                                checked[t.is_some_and(|t| t.kinds.iter().any(|c| c == k.code()))];
                            label class="form-check-label" for=(format!("doc-{}", k.code())) { (k.label()) }
                        }
                    }
                    @if let Some(m) = error_of(typed, "voci") { p class="campo-errore" role="alert" { (m) } }
                }
                div class="form-group mt-3" {
                    label class="active" for="domande" { "Domande o chiarimenti, uno per riga " span class="text-muted" { "(facoltativo)" } }
                    textarea class="form-control" id="domande" name="domande" rows="3" { (t.map_or("", |t| t.questions.as_str())) }
                    @if let Some(m) = error_of(typed, "domande") { p class="campo-errore" { (m) } }
                }
                div class="form-group" {
                    label class="active" for="scadenza" { "Scadenza" }
                    input type="date" class="form-control" id="scadenza" name="scadenza"
                        value=(t.map_or_else(|| default_due.format("%Y-%m-%d").to_string(), |t| t.due.clone()))
                        aria-describedby="scadenza-aiuto";
                    small id="scadenza-aiuto" class="form-text" { "Proposta la scadenza predefinita dell'Ordine." }
                    @if let Some(m) = error_of(typed, "scadenza") { p class="campo-errore" { (m) } }
                }
                div class="form-group" {
                    label class="active" for="nota" { "Nota per il richiedente " span class="text-muted" { "(facoltativo)" } }
                    textarea class="form-control" id="nota" name="nota" rows="2" { (t.map_or("", |t| t.note.as_str())) }
                }
                button type="submit" class="btn btn-primary" { "Invia la richiesta" }
            }
        }
    }
}

/// The rapporteur's panel on the case page.
pub fn actions(
    tenant: &CurrentTenant,
    who: &InArea<Consigliere>,
    file: &CaseFile,
    typed: &Typed,
) -> Markup {
    let c = &file.case;
    let url = case::case_url(tenant, who, c.id);
    let mine = c.rapporteur_id == Some(who.user.id);
    let open_request = file.integrations.iter().find(|r| r.answered_at.is_none());
    html! {
        @if mine && c.stage() == Stage::InIstruttoria {
            (request_form(&url, who, c, typed, tenant.settings.integration_days))
        }
        @if let Some(r) = open_request {
            (case::integration::request_card(r, case::today()))
        }
        p { a href=(format!("/{}/consiglieri", tenant.slug)) { "Torna alle pratiche assegnate" } }
    }
}
