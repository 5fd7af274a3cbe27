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
use sha2::{Digest, Sha256};

use crate::{
    documents::pdf::Template,
    domain::{
        application::{Action, Actor, Outcome, check::parse_date, workflow::EventKind},
        council::{self as council_rules, Recording, default_quorum},
        plural, time,
    },
    store::{
        cases::{self, Case, Change, Notify, Queue, Sort},
        council, decisions,
        tenants::Tenant,
    },
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case::{
            self,
            decision::{Docs, Signer, adopt, council_name},
        },
        error::AppError,
        layout::{self, PageMeta, csrf_field},
        public::attachments::file_response,
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
    list_page(&state, &tenant, &who, StatusCode::OK, None, ("", "", "")).await
}

async fn list_page(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    status: StatusCode,
    error: Option<&str>,
    typed: (&str, &str, &str),
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
                    div class="form-group col-md-3" {
                        label class="active" for="data" { "Data dell'adunanza" }
                        input type="date" class="form-control" id="data" name="data" value=(typed.0);
                    }
                    div class="form-group col-md-3" {
                        label class="active" for="ora" { "Ora di inizio" }
                        input type="time" class="form-control" id="ora" name="ora" value=(typed.1);
                    }
                    div class="select-wrapper col-md-6 mb-3" {
                        label for="firmatario" { "Chi firma le delibere" }
                        select id="firmatario" name="firmatario" {
                            option value="" { "Scegliere…" }
                            @for c in &councillors { option value=(c.id) selected[typed.2 == c.id.to_string()] { (c.name) } }
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
                                td { a href=(format!("{}/{}", base(tenant), s.id)) { (s.when()) } }
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
    ora: String,
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
    let typed = (f.data.as_str(), f.ora.as_str(), f.firmatario.as_str());
    let day = parse_date(&f.data).filter(|d| *d >= case::today());
    let at = chrono::NaiveTime::parse_from_str(f.ora.trim(), "%H:%M").ok();
    let (Some(day), Some(at)) = (day, at) else {
        let msg = "Indicare la data (oggi o una data futura) e l'ora di inizio dell'adunanza.";
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
    let Some(id) = council::create(&mut tx, day, at, signer).await? else {
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
/// decides otherwise) or a postponement to the next session; from the session's start, with
/// who was present, who presided and who acted as secretary.
pub async fn agenda(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    let id = params.id("session")?;
    agenda_page(&state, &tenant, &who, id, StatusCode::OK, &[], &[]).await
}

/// The agenda page; `typed` (the form as sent) and `errors` refill a refused recording.
async fn agenda_page(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    id: Uuid,
    status: StatusCode,
    typed: &[(String, String)],
    errors: &[(&str, String)],
) -> Result<Response, AppError> {
    let grant = case::view_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let session = council::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let items = items(&mut tx, &grant, who, id).await?;
    let mut rows = Vec::new();
    for c in items {
        let d = decisions::current(&mut tx, c.id).await?;
        rows.push((c, d));
    }
    let councillors = cases::councillors(&mut tx).await?;
    let present = council::attendance(&mut tx, id).await?;
    tx.commit().await?;
    let get = |k: &str| typed.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let ticked = |k: &str, v: &str| typed.iter().any(|(n, x)| n == k && x == v);
    let error = |field: &str| {
        errors
            .iter()
            .find(|(f, _)| *f == field)
            .map(|(_, m)| m.as_str())
    };
    let started = time::rome_now() >= session.start();
    let quorum = quorum(tenant, councillors.len());
    let title = format!("Adunanza del {}", session.when());
    let body = html! {
        p { "Firma le delibere: " strong { (session.signer.as_deref().unwrap_or("—")) } }
        @if !errors.is_empty() {
            div class="alert alert-danger" role="alert" id="riepilogo-errori" tabindex="-1" {
                p class="mb-1" { "Le decisioni non sono state registrate:" }
                ul class="mb-0" { @for (field, m) in errors { li { a href=(format!("#{field}")) { (m) } } } }
            }
        }
        @if rows.is_empty() && session.is_open() {
            p class="text-muted" { "Nessuna pratica all'ordine del giorno. Le proposte dei relatori si iscrivono dalla pagina di ciascuna pratica." }
        } @else if session.is_open() && !started {
            div class="alert alert-info" role="status" id="adunanza" {
                "Le decisioni si potranno registrare dall'inizio dell'adunanza: " (session.when()) "."
            }
            (agenda_list(tenant, who, &rows))
        } @else if session.is_open() {
            form method="post" action=(format!("{}/{id}/delibera", base(tenant))) novalidate {
                (csrf_field(&who.csrf))
                input type="hidden" name="versione_adunanza" value=(session.version);
                fieldset id="presenti" class="mb-3" {
                    legend class="h5" { "Consiglieri presenti" }
                    p class="small mb-2" { "Numero legale: " (plural::count(quorum, "consigliere", "consiglieri")) "." }
                    @for c in &councillors {
                        div class="form-check" {
                            input class="form-check-input" type="checkbox" name="presenti" value=(c.id) id=(format!("presente-{}", c.id))
                                checked[ticked("presenti", &c.id.to_string())];
                            label class="form-check-label" for=(format!("presente-{}", c.id)) { (c.name) }
                        }
                    }
                    @if let Some(m) = error("presenti") { p class="campo-errore" { (m) } }
                }
                div class="row" {
                    @for (field, label) in [("presidente", "Presiede"), ("segretario", "Funge da segretario")] {
                        div class="select-wrapper col-md-6 mb-3" {
                            label for=(field) { (label) }
                            select id=(field) name=(field) aria-invalid=[error(field).map(|_| "true")] {
                                option value="" { "Scegliere…" }
                                @for c in &councillors { option value=(c.id) selected[get(field) == Some(c.id.to_string().as_str())] { (c.name) } }
                            }
                            @if let Some(m) = error(field) { p class="campo-errore" { (m) } }
                        }
                    }
                }
                div class="table-responsive" tabindex="0" role="region" aria-label="Ordine del giorno" {
                    table class="table" {
                        caption { "Ordine del giorno" }
                        thead { tr { th scope="col" { "Pratica" } th scope="col" { "Proposta del relatore" } th scope="col" { "Esito deliberato" } } }
                        tbody {
                            @for (c, d) in &rows {
                                @let field = format!("esito_{}", c.id);
                                @let chosen = get(&field).map(str::to_owned).or_else(|| d.as_ref().map(|d| d.proposed().code().to_owned()));
                                tr {
                                    td {
                                        a href=(case::case_url(tenant, who, c.id)) { (c.protocol().map(|p| p.to_string()).unwrap_or_else(|| c.code.clone())) }
                                        br; (c.applicant_name.as_deref().unwrap_or(""))
                                        input type="hidden" name=(format!("versione_{}", c.id)) value=(c.version);
                                    }
                                    td { @if let Some(d) = d { strong { (d.proposed().label()) } br; small { (d.proposer) } } }
                                    td {
                                        label class="visually-hidden" for=(field) { "Esito per " (c.code) }
                                        select id=(field) name=(field) class="form-select" {
                                            @for o in Outcome::ALL {
                                                option value=(o.code()) selected[chosen.as_deref() == Some(o.code())] { (o.label()) }
                                            }
                                            option value="rinvio" selected[chosen.as_deref() == Some("rinvio")] { "Rinvio all'adunanza successiva" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                @if let Some(m) = error("rinvio") { p class="campo-errore" id="rinvio" { (m) } }
                div class="form-check my-3" {
                    input class="form-check-input" type="checkbox" name="conferma" value="si" id="conferma" checked[get("conferma").is_some()];
                    label class="form-check-label" for="conferma" {
                        "Confermo che le decisioni indicate sono quelle adottate dal Consiglio nell'adunanza del " (session.when()) "."
                    }
                    @if let Some(m) = error("conferma") { p class="campo-errore" { (m) } }
                }
                button type="submit" class="btn btn-primary" { "Registra le delibere dell'adunanza" }
            }
        } @else {
            p { "Adunanza chiusa il " (session.closed_at.map(time::format_date_time).unwrap_or_default()) "." }
            @if session.recorded_at.is_some() {
                dl class="row" {
                    dt class="col-sm-3" { "Presenti" } dd class="col-sm-9" { (present.join(", ")) }
                    dt class="col-sm-3" { "Presidente" } dd class="col-sm-9" { (session.president.as_deref().unwrap_or("—")) }
                    dt class="col-sm-3" { "Segretario" } dd class="col-sm-9" { (session.secretary.as_deref().unwrap_or("—")) }
                    dt class="col-sm-3" { "Numero legale" } dd class="col-sm-9" { (session.quorum.unwrap_or_default()) }
                }
            }
            @if session.minutes_key.is_some() {
                p { a class="btn btn-outline-primary" href=(format!("{}/{id}/verbale.pdf", base(tenant))) { "Scarica il verbale (PDF)" } }
            }
            (agenda_list(tenant, who, &rows))
        }
    };
    Ok((status, frame(tenant, who, &title, body)).into_response())
}

fn agenda_list(
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    rows: &[(Case, Option<decisions::Decision>)],
) -> Markup {
    html! {
        ul { @for (c, _) in rows { li { a href=(case::case_url(tenant, who, c.id)) { (c.protocol().map(|p| p.to_string()).unwrap_or_else(|| c.code.clone())) } " — " (c.stage().label()) } } }
    }
}

/// The Ordine's quorum: its setting, or a majority of its councillors.
fn quorum(tenant: &CurrentTenant, councillors: usize) -> usize {
    tenant
        .settings
        .council_quorum
        .map_or_else(|| default_quorum(councillors), |q| q as usize)
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

/// Records the session's decisions together, in one transaction (a stale item stops all),
/// with who was present: only from the session's start, after confirmation, with the quorum.
/// Postponed cases move to the next convened session. The minutes are generated and kept.
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
    let uuid = |k: &str| get(k).and_then(|v| Uuid::parse_str(v.trim()).ok());
    let recording = Recording {
        present: pairs
            .iter()
            .filter(|(n, _)| n == "presenti")
            .filter_map(|(_, v)| Uuid::parse_str(v).ok())
            .collect(),
        president: uuid("presidente"),
        secretary: uuid("segretario"),
        confirmed: get("conferma").is_some(),
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let session = council::lock(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if !session.is_open() {
        return Ok(Redirect::to(&format!("{}/{id}", base(&tenant))).into_response());
    }
    let councillors = cases::councillors(&mut tx).await?;
    let ids: Vec<Uuid> = councillors.iter().map(|c| c.id).collect();
    let quorum = quorum(&tenant, ids.len());
    let mut errors =
        council_rules::check(&recording, session.start(), time::rome_now(), &ids, quorum);
    let agenda = items(&mut tx, &grant, &who, id).await?;
    let next = council::next_open_after(&mut tx, &session).await?;
    let postpones = agenda
        .iter()
        .any(|c| get(&format!("esito_{}", c.id)) == Some("rinvio"));
    if postpones && next.is_none() {
        errors.push((
            "rinvio",
            "Per rinviare una pratica occorre prima convocare l'adunanza successiva.".into(),
        ));
    }
    if !errors.is_empty() {
        drop(tx);
        return agenda_page(
            &state,
            &tenant,
            &who,
            id,
            StatusCode::UNPROCESSABLE_ENTITY,
            &pairs,
            &errors,
        )
        .await;
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
    let mut minutes = Minutes::default();
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
        let label = c
            .protocol()
            .map_or_else(|| c.code.clone(), |p| p.to_string());
        let applicant = c.applicant_name.clone().unwrap_or_default();
        if let ("rinvio", Some(next)) = (choice, next.as_ref()) {
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
            if let Some(d) = decisions::current(&mut tx, c.id).await? {
                decisions::schedule(&mut tx, d.id, next.id).await?;
            }
            council::set_agenda(&mut tx, c.id, Some(next.id)).await?;
            let change = Change {
                case: &c,
                seen_version: seen,
                to,
                kind: EventKind::Postponed,
                actor: &actor,
                details: json!({ "nota": format!("Adunanza del {}: rinviata all'adunanza del {}", session.when(), next.when()) }),
                notify: c.rapporteur_id.map_or(Notify::Nobody, Notify::User),
            };
            if let Err(stale) = cases::advance(&mut tx, change).await? {
                return Ok(case::stale_page(&tenant, &who, c.id, &stale, &[]));
            }
            minutes.postponed.push((label, applicant, next.when()));
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
                "nota": format!("Adunanza del {}: {}", session.when(), outcome.label()),
            }),
            notify: Notify::Parties,
        };
        if let Err(stale) = cases::advance(&mut tx, change).await? {
            return Ok(case::stale_page(&tenant, &who, c.id, &stale, &[]));
        }
        // Sealed on adoption: it leaves for its recipients at once.
        case::transmission::after_signature(&mut tx, &state.storage, &viewer, &actor, c.id).await?;
        minutes
            .decided
            .push((label, applicant, outcome.label().to_owned(), number));
    }
    council::record(&mut tx, id, &recording, quorum, who.user.id).await?;
    council::close(&mut tx, id).await?;
    let session = council::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    minutes.present = council::attendance(&mut tx, id).await?;
    write_minutes(&state.docs(), &mut tx, &tenant, &session, &minutes).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{}/{id}", base(&tenant))).into_response())
}

/// What the minutes list besides the session itself.
#[derive(Default)]
pub struct Minutes {
    pub present: Vec<String>,
    /// (protocol or code, applicant, outcome, delibera number)
    pub decided: Vec<(String, String, String, String)>,
    /// (protocol or code, applicant, the session it moves to)
    pub postponed: Vec<(String, String, String)>,
}

/// Renders the session's minutes (verbale, PDF/A), keeps them and records their key and hash.
pub async fn write_minutes(
    docs: &Docs<'_>,
    tx: &mut crate::db::TenantTx,
    tenant: &Tenant,
    session: &council::Session,
    m: &Minutes,
) -> anyhow::Result<()> {
    let data = json!({
        "ordine": { "nome": tenant.name, "pec": tenant.pec },
        "consiglio": council_name(&tenant.name),
        "data": time::format_date(session.held_on),
        "ora": session.starts_at.format("%H:%M").to_string(),
        "presenti": m.present,
        "presidente": session.president,
        "segretario": session.secretary,
        "numero_legale": session.quorum,
        "decisioni": m.decided.iter().map(|(p, a, o, n)| json!({ "pratica": p, "richiedente": a, "esito": o, "delibera": n })).collect::<Vec<_>>(),
        "rinvii": m.postponed.iter().map(|(p, a, to)| json!({ "pratica": p, "richiedente": a, "adunanza": to })).collect::<Vec<_>>(),
        "generata_il_iso": session.recorded_at.unwrap_or_else(chrono::Utc::now).to_rfc3339(),
    });
    let pdf = docs.pdf.render_bounded(Template::Verbale, data).await?;
    let sha = hex::encode(Sha256::digest(&pdf));
    // A fresh key each time (never an object a row already names): see `storage`.
    let key = format!(
        "{}/adunanze/{}/verbale-{}.pdf",
        tenant.id,
        session.id,
        crate::crypto::random_hex::<8>()
    );
    docs.storage.put(&key, pdf).await?;
    council::set_minutes(tx, session.id, &key, &sha).await
}

/// The minutes of a recorded session.
pub async fn minutes_pdf(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::view_grant(&tenant, &who)?;
    let id = params.id("session")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let session = council::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let key = session.minutes_key.ok_or(AppError::NotFound)?;
    let bytes = state.storage.get(&key).await?;
    let name = format!(
        "verbale-adunanza-{}.pdf",
        session.held_on.format("%Y-%m-%d")
    );
    Ok(file_response(bytes, "application/pdf", &name))
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
