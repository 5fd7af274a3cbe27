//! Council sessions (adunanze), when the Ordine decides in them: the secretariat convenes a
//! session, puts proposals on its agenda, and records what the Council adopts, all together;
//! each adopted decision gets its delibera number and PDF.

use axum::{
    Form as HtmlForm,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{TITLE, Typed, refuse};
use crate::{
    domain::{
        application::{Action, Actor, Outcome, check::parse_date, workflow::EventKind},
        time,
    },
    store::{
        cases::{self, Case, Change, Notify, Queue, Sort},
        council, decisions,
    },
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case::{
            self,
            decision::{Signer, adopt},
        },
        error::AppError,
        layout::{self, PageMeta, csrf_field},
        tenant::{CurrentTenant, PathParams},
    },
};

fn base(tenant: &CurrentTenant) -> String {
    format!("/{}/segreteria/adunanze", tenant.slug)
}

fn frame(tenant: &CurrentTenant, who: &InArea<Segreteria>, title: &str, body: Markup) -> Markup {
    let area = format!("/{}/segreteria", tenant.slug);
    let list = base(tenant);
    layout::page(
        &PageMeta::area(title, tenant, who),
        html! {
            (layout::breadcrumb(&[(TITLE, Some(&area)), ("Adunanze", Some(&list)), (title, None)]))
            h1 { (title) }
            (body)
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
) -> Result<Response, AppError> {
    list_page(&state, &tenant, &who, StatusCode::OK, None, ("", "")).await
}

async fn list_page(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    status: StatusCode,
    error: Option<&str>,
    typed: (&str, &str),
) -> Result<Response, AppError> {
    case::view_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let sessions = council::list(&mut tx).await?;
    let councillors = cases::councillors(&mut tx).await?;
    tx.commit().await?;
    let body = html! {
        @if !tenant.settings.council_sessions {
            div class="alert alert-info" role="status" { "L'Ordine non decide in adunanza: le decisioni dei relatori sono definitive (impostazione dell'amministratore)." }
        }
        form method="post" action=(base(tenant)) class="card card-bg mb-4" novalidate {
            div class="card-body" {
                h2 class="h5 card-title" { "Convoca un'adunanza" }
                (csrf_field(&who.csrf))
                @if let Some(e) = error { div class="alert alert-danger" role="alert" id="errore-adunanza" { (e) } }
                div class="row" {
                    div class="form-group col-md-4" {
                        label class="active" for="data" { "Data dell'adunanza" }
                        input type="date" class="form-control" id="data" name="data" value=(typed.0);
                    }
                    div class="select-wrapper col-md-8 mb-3" {
                        label for="firmatario" { "Chi firma le delibere" }
                        select id="firmatario" name="firmatario" {
                            option value="" { "Scegliere…" }
                            @for c in &councillors { option value=(c.id) selected[typed.1 == c.id.to_string()] { (c.name) } }
                        }
                    }
                }
                button type="submit" class="btn btn-primary" { "Convoca" }
            }
        }
        @if sessions.is_empty() {
            p class="text-muted" { "Nessuna adunanza." }
        } @else {
            div class="table-responsive" {
                table class="table" {
                    caption { "Adunanze" }
                    thead { tr { th scope="col" { "Data" } th scope="col" { "Stato" } th scope="col" { "Pratiche" } th scope="col" { "Firma" } } }
                    tbody {
                        @for s in &sessions {
                            tr {
                                td { a href=(format!("{}/{}", base(tenant), s.id)) { (time::format_date(s.held_on)) } }
                                td { @if s.is_open() { "convocata" } @else { "chiusa" } }
                                td { (s.items) }
                                td { (s.signer.as_deref().unwrap_or("—")) }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok((status, frame(tenant, who, "Adunanze del Consiglio", body)).into_response())
}

#[derive(Deserialize)]
pub struct NewSession {
    #[serde(default)]
    data: String,
    #[serde(default)]
    firmatario: String,
}

pub async fn create(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    HtmlForm(f): HtmlForm<NewSession>,
) -> Result<Response, AppError> {
    case::view_grant(&tenant, &who)?;
    let typed = (f.data.as_str(), f.firmatario.as_str());
    let Some(day) = parse_date(&f.data).filter(|d| *d >= case::today()) else {
        let msg = "Indicare la data dell'adunanza (oggi o una data futura).";
        return list_page(
            &state,
            &tenant,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(msg),
            typed,
        )
        .await;
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let councillors = cases::councillors(&mut tx).await?;
    let Some(signer) = Uuid::parse_str(f.firmatario.trim())
        .ok()
        .filter(|s| councillors.iter().any(|c| c.id == *s))
    else {
        drop(tx);
        let msg = "Scegliere il consigliere che firmerà le delibere dell'adunanza.";
        return list_page(
            &state,
            &tenant,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(msg),
            typed,
        )
        .await;
    };
    let Some(id) = council::create(&mut tx, day, signer).await? else {
        drop(tx);
        let msg = "Esiste già un'adunanza in questa data.";
        return list_page(
            &state,
            &tenant,
            &who,
            StatusCode::UNPROCESSABLE_ENTITY,
            Some(msg),
            typed,
        )
        .await;
    };
    tx.commit().await?;
    Ok(Redirect::to(&format!("{}/{id}", base(&tenant))).into_response())
}

/// The agenda: each proposal with the outcome to record (the proposal's, unless the Council
/// decides otherwise) or a postponement.
pub async fn agenda(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    let grant = case::view_grant(&tenant, &who)?;
    let id = params.id("session")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let session = council::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let items = items(&mut tx, &grant, &who, id).await?;
    let mut rows = Vec::new();
    for c in items {
        let d = decisions::current(&mut tx, c.id).await?;
        rows.push((c, d));
    }
    tx.commit().await?;
    let title = format!("Adunanza del {}", time::format_date(session.held_on));
    let body = html! {
        p { "Firma le delibere: " strong { (session.signer.as_deref().unwrap_or("—")) } }
        @if rows.is_empty() {
            p class="text-muted" { "Nessuna pratica all'ordine del giorno. Le proposte dei relatori si iscrivono dalla pagina di ciascuna pratica." }
        } @else if session.is_open() {
            form method="post" action=(format!("{}/{id}/delibera", base(&tenant))) {
                (csrf_field(&who.csrf))
                input type="hidden" name="versione_adunanza" value=(session.version);
                div class="table-responsive" {
                    table class="table" {
                        caption { "Ordine del giorno" }
                        thead { tr { th scope="col" { "Pratica" } th scope="col" { "Proposta del relatore" } th scope="col" { "Esito deliberato" } } }
                        tbody {
                            @for (c, d) in &rows {
                                tr {
                                    td {
                                        a href=(case::case_url(&tenant, &who, c.id)) { (c.protocol().map(|p| p.to_string()).unwrap_or_else(|| c.code.clone())) }
                                        br; (c.applicant_name.as_deref().unwrap_or(""))
                                        input type="hidden" name=(format!("versione_{}", c.id)) value=(c.version);
                                    }
                                    td { @if let Some(d) = d { strong { (d.proposed().label()) } br; small { (d.proposer) } } }
                                    td {
                                        label class="visually-hidden" for=(format!("esito_{}", c.id)) { "Esito per " (c.code) }
                                        select id=(format!("esito_{}", c.id)) name=(format!("esito_{}", c.id)) class="form-select" {
                                            @for o in Outcome::ALL {
                                                option value=(o.code()) selected[d.as_ref().is_some_and(|d| d.proposed() == o)] { (o.label()) }
                                            }
                                            option value="rinvio" { "Rinvio (torna in istruttoria)" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                button type="submit" class="btn btn-primary" { "Registra le delibere dell'adunanza" }
            }
        } @else {
            p { "Adunanza chiusa il " (session.closed_at.map(time::format_date_time).unwrap_or_default()) "." }
            ul { @for (c, _) in &rows { li { a href=(case::case_url(&tenant, &who, c.id)) { (c.code) } " — " (c.stage().label()) } } }
        }
    };
    Ok(frame(&tenant, &who, &title, body).into_response())
}

async fn items(
    tx: &mut crate::db::TenantTx,
    grant: &crate::domain::access::Grant<crate::domain::access::ViewApplications>,
    who: &InArea<Segreteria>,
    session: Uuid,
) -> anyhow::Result<Vec<Case>> {
    let all = cases::list(
        tx,
        &case::viewer(grant, who),
        Queue::All,
        Sort::Deadline,
        1000,
    )
    .await?;
    Ok(all
        .into_iter()
        .filter(|c| c.council_session_id == Some(session))
        .collect())
}

/// Records the session's decisions together, in one transaction: a stale item stops all.
pub async fn adopt_all(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(pairs): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let id = params.id("session")?;
    let get = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let session = council::lock(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !session.is_open() {
        return Ok(Redirect::to(&format!("{}/{id}", base(&tenant))).into_response());
    }
    let signer_id = session
        .signer_id
        .ok_or_else(|| anyhow::anyhow!("session without signer"))?;
    let signer_name = session.signer.clone().unwrap_or_default();
    let signer = Signer {
        id: signer_id,
        name: &signer_name,
        role: "Per il Consiglio dell'Ordine",
    };
    let actor = case::actor(&who);
    let agenda = items(&mut tx, &grant, &who, id).await?;
    for item in agenda {
        let seen: i32 = get(&format!("versione_{}", item.id))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let c = match case::lock_for_change(&mut tx, &tenant, &who, &viewer, item.id, seen, &[])
            .await?
        {
            Ok(c) => c,
            Err(page) => return Ok(page),
        };
        let choice = get(&format!("esito_{}", c.id)).unwrap_or("");
        let facts = case::facts(&tenant, &who, &c, false);
        if choice == "rinvio" {
            let to = match case::check(
                &tenant,
                &who,
                &c,
                Action::Postpone,
                Actor::Secretariat,
                facts,
            ) {
                Ok(to) => to,
                Err(page) => return Ok(page),
            };
            decisions::supersede(&mut tx, c.id).await?;
            council::set_agenda(&mut tx, c.id, None).await?;
            let change = Change {
                case: &c,
                seen_version: seen,
                to,
                kind: EventKind::Postponed,
                actor: &actor,
                details: json!({ "nota": format!("Adunanza del {}", time::format_date(session.held_on)) }),
                notify: c.rapporteur_id.map_or(Notify::Nobody, Notify::User),
            };
            if let Err(stale) = cases::advance(&mut tx, change).await? {
                return Ok(case::stale_page(&tenant, &who, c.id, &stale, &[]));
            }
            continue;
        }
        let Some(outcome) = Outcome::from_code(choice) else {
            return Ok(case::refused_page(
                &tenant,
                &who,
                c.id,
                "Indicare l'esito deliberato per ogni pratica all'ordine del giorno.",
            ));
        };
        let to = match case::check(
            &tenant,
            &who,
            &c,
            Action::Adopt(outcome),
            Actor::Secretariat,
            facts,
        ) {
            Ok(to) => to,
            Err(page) => return Ok(page),
        };
        let d = decisions::current(&mut tx, c.id)
            .await?
            .ok_or(AppError::NotFound)?;
        let number = adopt(
            &state.docs(),
            &mut tx,
            &tenant,
            &c,
            &d,
            outcome,
            Some(session.held_on),
            &signer,
        )
        .await?;
        let change = Change {
            case: &c,
            seen_version: seen,
            to,
            kind: EventKind::Decided,
            actor: &actor,
            details: json!({
                "delibera": number,
                "nota": format!("Adunanza del {}: {}", time::format_date(session.held_on), outcome.label()),
            }),
            notify: Notify::Parties,
        };
        if let Err(stale) = cases::advance(&mut tx, change).await? {
            return Ok(case::stale_page(&tenant, &who, c.id, &stale, &[]));
        }
    }
    council::close(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{}/{id}", base(&tenant))).into_response())
}

#[derive(Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    versione: i32,
    #[serde(default)]
    adunanza: String,
}

/// A proposal goes on the agenda of a convened session.
pub async fn schedule(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<ScheduleForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let c =
        match case::lock_for_change(&mut tx, &tenant, &who, &viewer, id, f.versione, &[]).await? {
            Ok(c) => c,
            Err(page) => return Ok(page),
        };
    let session = match Uuid::parse_str(f.adunanza.trim()).ok() {
        Some(s) => council::get(&mut tx, s).await?.filter(|s| s.is_open()),
        None => None,
    };
    let Some(session) = session else {
        drop(tx);
        let typed = Typed {
            error: Some(("adunanza", "Scegliere un'adunanza convocata.".into())),
            ..Typed::default()
        };
        return refuse(&state, &tenant, &who, id, typed).await;
    };
    let facts = case::facts(&tenant, &who, &c, false);
    let to = match case::check(
        &tenant,
        &who,
        &c,
        Action::Schedule,
        Actor::Secretariat,
        facts,
    ) {
        Ok(to) => to,
        Err(page) => return Ok(page),
    };
    let d = decisions::current(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    decisions::schedule(&mut tx, d.id, session.id).await?;
    council::set_agenda(&mut tx, id, Some(session.id)).await?;
    let actor = case::actor(&who);
    let change = Change {
        case: &c,
        seen_version: f.versione,
        to,
        kind: EventKind::Scheduled,
        actor: &actor,
        details: json!({ "nota": format!("Adunanza del {}", time::format_date(session.held_on)) }),
        notify: Notify::Nobody,
    };
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(&tenant, &who, id, &stale, &[]));
    }
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "iscritta").await)
}

#[derive(Deserialize)]
pub struct SendBackForm {
    #[serde(default)]
    versione: i32,
    #[serde(default)]
    motivo: String,
}

/// The secretariat (for the Council's coordinator) sends a proposal back to examination.
pub async fn send_back(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<SendBackForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    if f.motivo.trim().chars().count() < 5 {
        let typed = Typed {
            error: Some((
                "motivo_rimessa",
                "Indicare il motivo (almeno 5 caratteri).".into(),
            )),
            reason: f.motivo,
            ..Typed::default()
        };
        return refuse(&state, &tenant, &who, id, typed).await;
    }
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed = [("Motivo", f.motivo.as_str())];
    let c = match case::lock_for_change(&mut tx, &tenant, &who, &viewer, id, f.versione, &typed)
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
        Action::SendBack,
        Actor::Secretariat,
        facts,
    ) {
        Ok(to) => to,
        Err(page) => return Ok(page),
    };
    decisions::supersede(&mut tx, id).await?;
    let actor = case::actor(&who);
    let change = Change {
        case: &c,
        seen_version: f.versione,
        to,
        kind: EventKind::SentBack,
        actor: &actor,
        details: json!({ "motivo": f.motivo.trim() }),
        notify: c.rapporteur_id.map_or(Notify::Nobody, Notify::User),
    };
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(&tenant, &who, id, &stale, &typed));
    }
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "rimessa").await)
}
