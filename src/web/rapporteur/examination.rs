//! The rapporteur's operations on a case: asking for missing documents or clarifications
//! (art. 79 c.3) and, in `decision`, proposing or taking the decision.

use axum::{Form as HtmlForm, extract::State, http::StatusCode, response::Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::{Typed, show};
use crate::{
    domain::application::{
        Action, Actor, Outcome, Stage,
        attachment::AttachmentKind,
        decision::{self, IncomeBasis},
        integration,
        workflow::EventKind,
    },
    store::{
        cases::{self, Change, Notify},
        decisions, integrations,
    },
    web::{
        AppState,
        auth::{Consigliere, InArea},
        case::{
            self, CaseFile,
            decision::{Signer, adopt, euro},
        },
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
                proposal: None,
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
    let text = format!(
        "Entro il {}: {}",
        crate::domain::time::format_date(request.due),
        items.join("; ")
    );
    let change = Change {
        case: &c,
        seen_version: f.version,
        to,
        kind: EventKind::IntegrationRequested,
        actor: &actor,
        details: json!({
            "nota": text,
            "scadenza": request.due,
        }),
        notify: Notify::Parties,
    };
    let event_id = match cases::advance(&mut tx, change).await? {
        Ok(a) => a.event_id,
        Err(stale) => return Ok(case::stale_page(&tenant, &who, id, &stale, &typed)),
    };
    // The request leaves the Ordine with legal weight (art. 79 c.3): outgoing protocol.
    case::transmission::register_notice(
        &mut tx,
        &c,
        event_id,
        "integrazione",
        format!("Richiesta di integrazione dell'istanza {}", c.code),
        &format!("{text}\n{note}"),
        &actor,
    )
    .await?;
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "integrazione").await)
}

#[derive(Deserialize, Default)]
pub struct ProposalForm {
    #[serde(default)]
    pub versione: i32,
    #[serde(default)]
    pub esito: String,
    #[serde(default)]
    pub modello: String,
    #[serde(default)]
    pub motivazione: String,
    /// The income weighed ([`decision::IncomeBasis`] code).
    #[serde(default)]
    pub reddito: String,
}

/// The rapporteur's proposal with reasons. When the Ordine does not decide in council
/// sessions, it is the decision: numbered, rendered as a delibera and awaiting signature.
pub async fn propose(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    params: PathParams,
    HtmlForm(f): HtmlForm<ProposalForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed = [("Motivazione", f.motivazione.as_str())];
    let c = match case::lock_for_change(&mut tx, &tenant, &who, &viewer, id, f.versione, &typed)
        .await?
    {
        Ok(c) => c,
        Err(page) => return Ok(page),
    };
    let expired = integrations::open_for(&mut tx, id)
        .await?
        .is_some_and(|r| r.is_expired(case::today()));
    let basis =
        IncomeBasis::from_code(&f.reddito).unwrap_or_else(|| decision::suggested_basis(&c.form));
    let reasons = decision::reasons(
        Outcome::from_code(&f.esito),
        &f.modello,
        &f.motivazione,
        (basis, income_on(&c, basis).as_deref()),
        euro(c.threshold_cents).as_deref(),
    );
    let (outcome, reasons) = match reasons {
        Ok(r) => r,
        Err(errors) => {
            drop(tx);
            let typed = Typed {
                errors,
                proposal: Some(f),
                ..Typed::default()
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
    let facts = case::facts(&tenant, &who, &c, expired);
    let to = match case::check(
        &tenant,
        &who,
        &c,
        Action::Propose(outcome),
        Actor::Rapporteur,
        facts,
    ) {
        Ok(to) => to,
        Err(page) => return Ok(page),
    };
    decisions::supersede(&mut tx, id).await?;
    let decision_id = decisions::propose(&mut tx, id, outcome, who.user.id, &reasons).await?;
    let actor = case::actor(&who);
    let (kind, details, notify, outcome_code) = if to.is_decided() {
        let d = decisions::get(&mut tx, decision_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let signer = Signer {
            id: who.user.id,
            name: &who.user.name,
            role: "Il Consigliere relatore",
        };
        let number = adopt(
            &state.docs(),
            &mut tx,
            &tenant,
            &c,
            &d,
            outcome,
            None,
            &signer,
        )
        .await?;
        (
            EventKind::Decided,
            json!({ "delibera": number, "nota": format!("Esito: {}", outcome.label()) }),
            Notify::Parties,
            "deliberata",
        )
    } else {
        (
            EventKind::Proposed,
            json!({ "nota": format!("Proposta: {}", outcome.label()) }),
            Notify::Nobody,
            "proposta",
        )
    };
    let change = Change {
        case: &c,
        seen_version: f.versione,
        to,
        kind,
        actor: &actor,
        details,
        notify,
    };
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(&tenant, &who, id, &stale, &typed));
    }
    // Sealed on adoption: it leaves for its recipients at once.
    case::transmission::after_signature(&mut tx, &state.storage, &viewer, &actor, id).await?;
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, outcome_code).await)
}

#[derive(Deserialize, Default)]
pub struct VersionForm {
    #[serde(default)]
    pub versione: i32,
}

/// The rapporteur takes a proposal back to examination (before the Council decides).
pub async fn send_back(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    params: PathParams,
    HtmlForm(f): HtmlForm<VersionForm>,
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
    let facts = case::facts(&tenant, &who, &c, false);
    let to = match case::check(
        &tenant,
        &who,
        &c,
        Action::SendBack,
        Actor::Rapporteur,
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
        details: json!({ "nota": "Proposta ritirata dal relatore" }),
        notify: Notify::Nobody,
    };
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(&tenant, &who, id, &stale, &[]));
    }
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "rimessa").await)
}

/// The income weighed on `basis`: the household's total as stored, or the applicant's own.
pub fn income_on(c: &cases::Case, basis: IncomeBasis) -> Option<String> {
    if basis.is_personal() {
        decision::applicant_income(&c.form).map(|e| format!("€ {e}"))
    } else {
        euro(c.income_total_cents)
    }
}

/// The proposal form: outcome, a model of reasons per outcome, the rapporteur's own text.
pub fn proposal_form(
    url: &str,
    who: &InArea<Consigliere>,
    c: &cases::Case,
    typed: &Typed,
    only_inadmissible: bool,
    final_decision: bool,
) -> Markup {
    let t = typed.proposal.as_ref();
    let outcomes: Vec<Outcome> = if only_inadmissible {
        vec![Outcome::Inammissibilita]
    } else {
        Outcome::ALL.to_vec()
    };
    html! {
        form method="post" action=(format!("{url}/proposta")) class="card card-bg mb-4" novalidate {
            div class="card-body" {
                h2 class="h5 card-title" { @if final_decision { "Decidi" } @else { "Proponi la decisione" } }
                @if final_decision {
                    p class="small" { "Il Consiglio non decide in adunanza: la decisione del relatore è definitiva e genera la delibera numerata, da firmare." }
                } @else {
                    p class="small" { "La proposta sarà iscritta all'ordine del giorno di un'adunanza del Consiglio." }
                }
                @if only_inadmissible {
                    p class="small campo-avviso" { "Il termine dell'integrazione è scaduto senza risposta: si può solo dichiarare l'inammissibilità (art. 79, comma 3)." }
                }
                (csrf_field(&who.csrf))
                input type="hidden" name="versione" value=(c.version);
                fieldset id="esito" {
                    legend class="h6" { "Esito" }
                    @for o in &outcomes {
                        div class="form-check" {
                            input class="form-check-input" type="radio" name="esito" id=(format!("esito-{}", o.code())) value=(o.code())
                                checked[t.is_some_and(|t| t.esito == o.code()) || outcomes.len() == 1];
                            label class="form-check-label" for=(format!("esito-{}", o.code())) { (o.label()) }
                        }
                    }
                    @if let Some(m) = error_of(typed, "esito") { p class="campo-errore" role="alert" { (m) } }
                }
                fieldset id="modello" class="mt-3" {
                    legend class="h6" { "Modello di motivazione" }
                    @for o in &outcomes {
                        @for m in decision::templates_for(*o) {
                            div class="form-check" {
                                input class="form-check-input" type="radio" name="modello" id=(format!("modello-{}", m.code)) value=(m.code)
                                    checked[t.is_some_and(|t| t.modello == m.code)];
                                label class="form-check-label" for=(format!("modello-{}", m.code)) { (o.label()) ": " (m.title) }
                            }
                        }
                    }
                    @if let Some(m) = error_of(typed, "modello") { p class="campo-errore" role="alert" { (m) } }
                }
                @let basis = t.and_then(|t| IncomeBasis::from_code(&t.reddito)).unwrap_or_else(|| decision::suggested_basis(&c.form));
                fieldset id="reddito" class="mt-3" {
                    legend class="h6" { "Reddito considerato nella motivazione" }
                    @for b in IncomeBasis::ALL {
                        div class="form-check" {
                            input class="form-check-input" type="radio" name="reddito" id=(format!("reddito-{}", b.code())) value=(b.code())
                                checked[b == basis];
                            label class="form-check-label" for=(format!("reddito-{}", b.code())) {
                                (b.label()) ": " (income_on(c, b).unwrap_or_else(|| "non calcolabile".into()))
                            }
                        }
                    }
                }
                div class="form-group mt-3" {
                    label class="active" for="motivazione" { "Motivazione (testo libero, aggiunto al modello)" }
                    textarea class="form-control" id="motivazione" name="motivazione" rows="6" { (t.map_or("", |t| t.motivazione.as_str())) }
                    @if let Some(m) = error_of(typed, "motivazione") { p class="campo-errore" role="alert" { (m) } }
                }
                button type="submit" class="btn btn-primary" { @if final_decision { "Adotta la decisione" } @else { "Invia la proposta" } }
            }
        }
    }
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
    settings: &crate::store::tenants::TenantSettings,
) -> Markup {
    let t = typed.request.as_ref();
    let default_due =
        crate::domain::deadline::integration_due(case::today(), settings.integration_days);
    // Where the ten days keep running during the request, say when the answer would come
    // after them (by default they stand still, and the two deadlines never collide).
    let after_decision = c
        .clock(case::today())
        .filter(|clock| settings.clock_runs_during_integration && default_due > clock.due);
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
                    small id="scadenza-aiuto" class="form-text" {
                        "Proposta la scadenza predefinita dell'Ordine."
                        @if let Some(clock) = after_decision {
                            " Attenzione: cade dopo il termine di dieci giorni per decidere (" (crate::domain::time::format_date(clock.due)) "), che per scelta dell'Ordine decorre anche durante l'integrazione."
                        }
                    }
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
    let final_decision = !tenant.settings.council_sessions;
    let expired = open_request.is_some_and(|r| r.is_expired(case::today()));
    html! {
        @if mine && c.stage() == Stage::InIstruttoria {
            (proposal_form(&url, who, c, typed, false, final_decision))
            (request_form(&url, who, c, typed, &tenant.settings))
        }
        @if let Some(r) = open_request {
            (case::integration::request_card(r, case::today()))
            @if mine && expired {
                (proposal_form(&url, who, c, typed, true, final_decision))
            }
        }
        @if mine && c.stage().is_proposal() {
            form method="post" action=(format!("{url}/rimetti")) class="card card-bg mb-4" {
                div class="card-body" {
                    h2 class="h5 card-title" { "Ritira la proposta" }
                    p class="small" { "La pratica torna in istruttoria; la proposta resta nella cronologia." }
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    button type="submit" class="btn btn-outline-primary" { "Riporta in istruttoria" }
                }
            }
        }
        p { a href=(format!("/{}/consiglieri", tenant.slug)) { "Torna alle pratiche assegnate" } }
    }
}
