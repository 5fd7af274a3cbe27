//! Acquisition and registration in the protocol, assignment to a rapporteur, urgency, the
//! cancellation of a registration, and paper applications keyed in at the counter.

use crate::domain::plural;
use axum::{
    Form as HtmlForm,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use chrono::{Days, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{board, refuse};
use crate::{
    domain::{
        application::{Action, Actor, ApplicationCode, Stage, workflow::EventKind},
        assignment::{self, Councillor},
        protocol::FiledDocument,
        time,
    },
    store::{
        applications, attachments,
        cases::{self, Change, Notify},
        council,
        protocol::{self, Direction, NewEntry},
    },
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case::{self, CaseFile},
        error::AppError,
        layout::csrf_field,
        public,
        tenant::{CurrentTenant, PathParams},
    },
};

/// A hearing this close makes the application urgent by default.
const NEAR_HEARING_DAYS: u64 = 30;

/// What the secretariat typed in a refused form, shown again.
#[derive(Default)]
pub struct Typed {
    pub error: Option<(&'static str, String)>,
    pub urgent_reason: String,
    pub rapporteur: String,
    pub reason: String,
    pub record: Option<super::records::RecordForm>,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    codice: String,
}

/// "Acquisisci": finds a submitted application by its code (typed or pasted) and opens it.
pub async fn acquire(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    HtmlForm(input): HtmlForm<CodeForm>,
) -> Result<Response, AppError> {
    let message = match ApplicationCode::parse(&input.codice) {
        // Not a code: a name, a protocol number or a codice fiscale is searched for (a
        // mistyped code, letters and digits, is said to be one).
        None if looks_searchable(&input.codice) => {
            let q: String =
                url::form_urlencoded::byte_serialize(input.codice.trim().as_bytes()).collect();
            let url = format!("/{}/segreteria/cerca?q={q}", tenant.slug);
            return Ok(Redirect::to(&url).into_response());
        }
        None => {
            "Il codice non è valido: sono 8 caratteri tra lettere e cifre, per esempio 7K3M-Q9TD."
        }
        Some(code) => {
            let mut tx = state.db.tenant_tx(tenant.id).await?;
            let row = applications::find_by_code(&mut tx, &code).await?;
            tx.commit().await?;
            match row {
                None => {
                    "Nessuna istanza di questo Ordine ha questo codice. Verificarlo e riprovare."
                }
                Some(r) if r.state() == Stage::Bozza => {
                    "L'istanza con questo codice non è stata ancora inviata: il richiedente deve completarla e inviarla dal riepilogo."
                }
                Some(r) => {
                    let url = format!("/{}/segreteria/pratiche/{}", tenant.slug, r.id);
                    return Ok(Redirect::to(&url).into_response());
                }
            }
        }
    };
    let page = board(
        &state,
        &tenant,
        &who,
        &super::BoardQuery::default(),
        Some(message),
        &input.codice,
    )
    .await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

fn looks_searchable(typed: &str) -> bool {
    use crate::domain::search::Query;
    match Query::parse(typed) {
        Some(Query::Protocol { .. } | Query::CodiceFiscale(_)) => true,
        Some(Query::Words(w)) => !w.chars().any(|c| c.is_ascii_digit()),
        _ => false,
    }
}

#[derive(Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    versione: i32,
    #[serde(default)]
    urgente: Option<String>,
    #[serde(default)]
    motivo_urgenza: String,
}

/// Registration in the protocol: the next number of the year, the SHA-256 of what was filed.
pub async fn register(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<RegisterForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let urgent = f
        .urgente
        .is_some()
        .then(|| f.motivo_urgenza.trim().to_owned());
    if urgent.as_deref() == Some("") {
        let typed = Typed {
            error: Some((
                "motivo_urgenza",
                "Indicare il motivo dell'urgenza (per esempio la data dell'udienza).".into(),
            )),
            ..Typed::default()
        };
        return refuse(&state, &tenant, &who, id, typed).await;
    }
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed = [("Motivo dell'urgenza", f.motivo_urgenza.as_str())];
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
        Action::Register,
        Actor::Secretariat,
        facts,
    ) {
        Ok(to) => to,
        Err(page) => return Ok(page),
    };
    let mut documents = vec![FiledDocument {
        name: format!("istanza-{}.json", c.code),
        kind: "dati_istanza".into(),
        sha256: hex::encode(Sha256::digest(
            serde_json::to_vec(&c.form.0).map_err(anyhow::Error::from)?,
        )),
    }];
    documents.extend(
        attachments::list(&mut tx, id)
            .await?
            .into_iter()
            .map(|a| FiledDocument {
                name: a.filename,
                kind: a.kind,
                sha256: a.sha256,
            }),
    );
    let actor = case::actor(&who);
    let entry = protocol::register(
        &mut tx,
        &NewEntry {
            direction: Direction::Incoming,
            kind: "istanza",
            channel: &c.channel,
            application: Some(id),
            subject: format!(
                "Istanza di ammissione al patrocinio a spese dello Stato, cod. {} – {}",
                c.code,
                c.applicant_name.as_deref().unwrap_or("")
            ),
            documents,
            by: &actor,
        },
        &Utc::now,
    )
    .await?;
    let change = Change {
        case: &c,
        seen_version: f.versione,
        to,
        kind: EventKind::Registered,
        actor: &actor,
        details: json!({ "protocollo": entry.number().to_string() }),
        notify: Notify::Parties,
    };
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(&tenant, &who, id, &stale, &typed));
    }
    cases::set_protocol(
        &mut tx,
        id,
        entry.id,
        entry.number(),
        entry.registered_at,
        urgent.as_deref(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(application.id = %id, protocol = %entry.number(), "registered");
    Ok(case::done(&tenant, &who, id, "protocollata").await)
}

#[derive(Deserialize)]
pub struct AssignForm {
    #[serde(default)]
    versione: i32,
    #[serde(default)]
    relatore: String,
    #[serde(default)]
    motivo: String,
}

/// Assignment, or reassignment with a reason, to a councillor without conflicts.
pub async fn assign(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<AssignForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed_pairs = [("Motivo della riassegnazione", f.motivo.as_str())];
    let c = match case::lock_for_change(
        &mut tx,
        &tenant,
        &who,
        &viewer,
        id,
        f.versione,
        &typed_pairs,
    )
    .await?
    {
        Ok(c) => c,
        Err(page) => return Ok(page),
    };
    let councillors = cases::councillors(&mut tx).await?;
    let chosen = Uuid::parse_str(f.relatore.trim())
        .ok()
        .and_then(|r| councillors.iter().find(|c| c.id == r));
    let reassign = c.rapporteur_id.is_some();
    let problem = match chosen {
        None => Some((
            "relatore",
            "Scegliere il consigliere relatore dall'elenco.".to_owned(),
        )),
        Some(r) if Some(r.id) == c.rapporteur_id => Some((
            "relatore",
            format!("{} è già il relatore di questa pratica.", r.name),
        )),
        Some(r) => match assignment::conflict(r, &c.parties()) {
            Some(why) => Some((
                "relatore",
                format!(
                    "{} non può essere relatore di questa pratica: {why}.",
                    r.name
                ),
            )),
            None if reassign && f.motivo.trim().chars().count() < 5 => Some((
                "motivo",
                "Indicare il motivo della riassegnazione (almeno 5 caratteri).".to_owned(),
            )),
            None => None,
        },
    };
    if let Some(error) = problem {
        drop(tx);
        let typed = Typed {
            error: Some(error),
            rapporteur: f.relatore,
            reason: f.motivo,
            ..Typed::default()
        };
        return refuse(&state, &tenant, &who, id, typed).await;
    }
    let r = chosen.expect("checked above");
    let facts = case::facts(&tenant, &who, &c, false);
    let to = match case::check(&tenant, &who, &c, Action::Assign, Actor::Secretariat, facts) {
        Ok(to) => to,
        Err(page) => return Ok(page),
    };
    let actor = case::actor(&who);
    let (kind, outcome) = if reassign {
        (EventKind::Reassigned, "riassegnata")
    } else {
        (EventKind::Assigned, "assegnata")
    };
    let mut details = json!({ "relatore": r.name });
    if reassign {
        details["motivo"] = json!(f.motivo.trim());
    }
    let change = Change {
        case: &c,
        seen_version: f.versione,
        to,
        kind,
        actor: &actor,
        details,
        notify: Notify::User(r.id),
    };
    // Before the event, so that the new rapporteur is among its audience (a stale save rolls
    // the whole transaction back).
    cases::set_rapporteur(&mut tx, id, r.id).await?;
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(&tenant, &who, id, &stale, &typed_pairs));
    }
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, outcome).await)
}

#[derive(Deserialize)]
pub struct UrgencyForm {
    #[serde(default)]
    versione: i32,
    #[serde(default)]
    urgente: Option<String>,
    #[serde(default)]
    motivo_urgenza: String,
}

/// Marks or unmarks a case as urgent (it sorts first on every list).
pub async fn urgency(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<UrgencyForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let reason = f
        .urgente
        .is_some()
        .then(|| f.motivo_urgenza.trim().to_owned());
    if reason.as_deref() == Some("") {
        let typed = Typed {
            error: Some((
                "motivo_urgenza",
                "Indicare il motivo dell'urgenza (per esempio la data dell'udienza).".into(),
            )),
            ..Typed::default()
        };
        return refuse(&state, &tenant, &who, id, typed).await;
    }
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed = [("Motivo dell'urgenza", f.motivo_urgenza.as_str())];
    let c = match case::lock_for_change(&mut tx, &tenant, &who, &viewer, id, f.versione, &typed)
        .await?
    {
        Ok(c) => c,
        Err(page) => return Ok(page),
    };
    if !(c.stage().is_open() || c.stage() == Stage::Presentata) {
        return Ok(case::refused_page(
            &tenant,
            &who,
            id,
            "L'urgenza si indica solo sulle pratiche non ancora decise.",
        ));
    }
    let actor = case::actor(&who);
    let change = Change {
        case: &c,
        seen_version: f.versione,
        to: c.stage(),
        kind: EventKind::UrgencyChanged,
        actor: &actor,
        details: match &reason {
            Some(r) => json!({ "nota": "Segnata come urgente", "motivo": r }),
            None => json!({ "nota": "Non più urgente" }),
        },
        notify: Notify::Nobody,
    };
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(&tenant, &who, id, &stale, &typed));
    }
    cases::set_urgent(&mut tx, id, reason.as_deref()).await?;
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "urgenza").await)
}

#[derive(Deserialize)]
pub struct CancelForm {
    #[serde(default)]
    versione: i32,
    #[serde(default)]
    motivo: String,
}

/// A registration made by mistake is cancelled by a new protocol entry that points at it; the
/// application waits to be registered again.
pub async fn cancel_registration(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<CancelForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    if f.motivo.trim().chars().count() < 5 {
        let typed = Typed {
            error: Some((
                "motivo_annullamento",
                "Indicare il motivo dell'annullamento (almeno 5 caratteri).".into(),
            )),
            reason: f.motivo,
            ..Typed::default()
        };
        return refuse(&state, &tenant, &who, id, typed).await;
    }
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed = [("Motivo dell'annullamento", f.motivo.as_str())];
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
        Action::CancelRegistration,
        Actor::Secretariat,
        facts,
    ) {
        Ok(to) => to,
        Err(page) => return Ok(page),
    };
    let original = match c.protocol_entry_id {
        Some(e) => protocol::get(&mut tx, e).await?.ok_or(AppError::NotFound)?,
        None => {
            return Ok(case::refused_page(
                &tenant,
                &who,
                id,
                "La pratica non ha una registrazione di protocollo da annullare.",
            ));
        }
    };
    let actor = case::actor(&who);
    let Some(cancel) =
        protocol::cancel(&mut tx, &original, f.motivo.trim(), &actor, &Utc::now).await?
    else {
        return Ok(case::refused_page(
            &tenant,
            &who,
            id,
            "Questa registrazione è già stata annullata.",
        ));
    };
    let change = Change {
        case: &c,
        seen_version: f.versione,
        to,
        kind: EventKind::RegistrationCancelled,
        actor: &actor,
        details: json!({
            "protocollo": original.number().to_string(),
            "motivo": f.motivo.trim(),
            "nota": format!("Annullamento registrato con il n. {}", cancel.number()),
        }),
        notify: Notify::Nobody,
    };
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(&tenant, &who, id, &stale, &typed));
    }
    cases::clear_protocol(&mut tx, id).await?;
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "annullata").await)
}

#[derive(Deserialize)]
pub struct CounterForm {
    #[serde(default)]
    canale: String,
}

/// An application received at the counter, by post or by PEC, keyed in through the public
/// form; the channel and who keyed it in are recorded.
pub async fn counter(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    headers: HeaderMap,
    HtmlForm(f): HtmlForm<CounterForm>,
) -> Result<Response, AppError> {
    let channel = match f.canale.as_str() {
        c @ ("sportello" | "posta" | "pec") => c,
        _ => "sportello",
    };
    let form = crate::domain::application::form::Form::default();
    public::start_draft(
        &state,
        &tenant,
        &headers,
        channel,
        Some(who.user.id),
        None,
        &form,
    )
    .await
}

fn field_error(typed: &Typed, field: &str) -> Option<String> {
    typed
        .error
        .as_ref()
        .filter(|(f, _)| *f == field)
        .map(|(_, m)| m.clone())
}

fn error_text(id: &str, message: Option<String>) -> Markup {
    html! {
        @if let Some(m) = message {
            p class="campo-errore mt-1" id=(format!("{id}-errore")) role="alert" { (m) }
        }
    }
}

/// The secretariat's panel on the case page, from the state machine's point of view.
pub fn actions(
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    file: &CaseFile,
    councillors: &[Councillor],
    sessions: &[council::Session],
    typed: &Typed,
) -> Markup {
    let c = &file.case;
    let url = case::case_url(tenant, who, c.id);
    let stage = c.stage();
    let near_hearing = c
        .next_hearing
        .filter(|h| *h <= case::today() + Days::new(NEAR_HEARING_DAYS) && *h >= case::today());
    let suggested = assignment::suggest(councillors, &c.parties()).map(|s| s.id);
    let selected = Uuid::parse_str(&typed.rapporteur).ok().or(suggested);
    let urgent_error = field_error(typed, "motivo_urgenza");
    html! {
        @if stage == Stage::Presentata {
            form method="post" action=(format!("{url}/protocolla")) class="card card-bg mb-4" {
                div class="card-body" {
                    h2 class="h5 card-title" { "Registra nel protocollo" }
                    p class="small" { "Assegna il prossimo numero di protocollo dell'anno e registra l'impronta SHA-256 dei documenti depositati. Il termine di dieci giorni decorre dalla presentazione dell'istanza, non dalla registrazione." }
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    (urgency_fields(c.urgent || near_hearing.is_some(), &urgency_text(typed, c.urgent_reason.as_deref(), near_hearing), urgent_error.clone()))
                    button type="submit" class="btn btn-primary" { "Registra nel protocollo" }
                }
            }
        }
        @if matches!(stage, Stage::Protocollata | Stage::InIstruttoria | Stage::IntegrazioneRichiesta) {
            form method="post" action=(format!("{url}/assegna")) class="card card-bg mb-4" {
                div class="card-body" {
                    h2 class="h5 card-title" { @if c.rapporteur_id.is_some() { "Riassegna" } @else { "Assegna al relatore" } }
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    div class="select-wrapper mb-3" {
                        label for="relatore" { "Consigliere relatore" }
                        select id="relatore" name="relatore" aria-describedby="relatore-aiuto" {
                            option value="" { "Scegliere…" }
                            @for r in councillors {
                                @let conflict = assignment::conflict(r, &c.parties());
                                option value=(r.id) selected[selected == Some(r.id)] disabled[conflict.is_some() || Some(r.id) == c.rapporteur_id] {
                                    (r.name) " — " (plural::count(r.open_cases, "pratica aperta", "pratiche aperte"))
                                    @if let Some(why) = conflict { " (in conflitto: " (why) ")" }
                                    @if Some(r.id) == suggested { " (suggerito)" }
                                    @if Some(r.id) == c.rapporteur_id { " (attuale)" }
                                }
                            }
                        }
                        small id="relatore-aiuto" class="form-text" { "Suggerito il consigliere con meno pratiche aperte e senza conflitti." }
                        (error_text("relatore", field_error(typed, "relatore")))
                    }
                    @if c.rapporteur_id.is_some() {
                        div class="form-group" {
                            label class="active" for="motivo" { "Motivo della riassegnazione" }
                            textarea class="form-control" id="motivo" name="motivo" rows="2" { (typed.reason) }
                            (error_text("motivo", field_error(typed, "motivo")))
                        }
                    }
                    button type="submit" class="btn btn-primary" { @if c.rapporteur_id.is_some() { "Riassegna" } @else { "Assegna" } }
                }
            }
        }
        @if stage.is_open() {
            form method="post" action=(format!("{url}/urgenza")) class="card card-bg mb-4" {
                div class="card-body" {
                    h2 class="h5 card-title" { "Urgenza" }
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    (urgency_fields(c.urgent, &urgency_text(typed, c.urgent_reason.as_deref(), None), urgent_error))
                    button type="submit" class="btn btn-outline-primary" { "Aggiorna l'urgenza" }
                }
            }
        }
        @if stage == Stage::Protocollata {
            form method="post" action=(format!("{url}/annulla-protocollo")) class="card card-bg mb-4" {
                div class="card-body" {
                    h2 class="h5 card-title" { "Annulla la registrazione" }
                    p class="small" { "Per una registrazione fatta per errore: resta nel registro, annullata da una nuova registrazione che la richiama." }
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    div class="form-group" {
                        label class="active" for="motivo_annullamento" { "Motivo dell'annullamento" }
                        textarea class="form-control" id="motivo_annullamento" name="motivo" rows="2" { (if field_error(typed, "motivo_annullamento").is_some() { typed.reason.as_str() } else { "" }) }
                        (error_text("motivo_annullamento", field_error(typed, "motivo_annullamento")))
                    }
                    button type="submit" class="btn btn-outline-danger" { "Annulla la registrazione" }
                }
            }
        }
        @if stage.is_proposal() && tenant.settings.council_sessions {
            form method="post" action=(format!("{url}/iscrivi")) class="card card-bg mb-4" {
                div class="card-body" {
                    h2 class="h5 card-title" { "Iscrivi all'adunanza" }
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    @if sessions.is_empty() {
                        p { "Nessuna adunanza convocata: " a href=(format!("/{}/segreteria/adunanze", tenant.slug)) { "convocarne una" } "." }
                    } @else {
                        div class="select-wrapper mb-3" {
                            label for="adunanza" { "Adunanza" }
                            select id="adunanza" name="adunanza" {
                                @for s in sessions { option value=(s.id) { (time::format_date(s.held_on)) " (" (plural::count(s.items, "pratica", "pratiche")) ")" } }
                            }
                            (error_text("adunanza", field_error(typed, "adunanza")))
                        }
                        button type="submit" class="btn btn-primary" { "Iscrivi" }
                    }
                }
            }
        }
        @if stage.is_proposal() {
            form method="post" action=(format!("{url}/rimetti")) class="card card-bg mb-4" {
                div class="card-body" {
                    h2 class="h5 card-title" { "Rimetti in istruttoria" }
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    div class="form-group" {
                        label class="active" for="motivo_rimessa" { "Motivo" }
                        textarea class="form-control" id="motivo_rimessa" name="motivo" rows="2" { (if field_error(typed, "motivo_rimessa").is_some() { typed.reason.as_str() } else { "" }) }
                        (error_text("motivo_rimessa", field_error(typed, "motivo_rimessa")))
                    }
                    button type="submit" class="btn btn-outline-primary" { "Rimetti in istruttoria" }
                }
            }
        }
        (super::records::actions(who, &url, c, typed))
        @if matches!(stage, Stage::Rinunciata | Stage::Revocata) {
            p class="text-muted" { "Nessuna operazione della segreteria in questo stato." }
        }
        p { a href=(format!("/{}/segreteria", tenant.slug)) { "Torna all'elenco delle pratiche" } }
    }
}

fn urgency_text(
    typed: &Typed,
    current: Option<&str>,
    hearing: Option<chrono::NaiveDate>,
) -> String {
    if !typed.urgent_reason.is_empty() {
        return typed.urgent_reason.clone();
    }
    current.map(str::to_owned).unwrap_or_else(|| {
        hearing
            .map(|h| format!("Udienza fissata il {}", time::format_date(h)))
            .unwrap_or_default()
    })
}

fn urgency_fields(checked: bool, reason: &str, error: Option<String>) -> Markup {
    html! {
        div class="form-check mb-3" {
            input class="form-check-input" type="checkbox" id="urgente" name="urgente" value="si" checked[checked];
            label class="form-check-label" for="urgente" { "Urgente (compare per prima in ogni elenco)" }
        }
        div class="form-group" {
            label class="active" for="motivo_urgenza" { "Motivo dell'urgenza" }
            input type="text" class="form-control" id="motivo_urgenza" name="motivo_urgenza" value=(reason);
            (error_text("motivo_urgenza", error))
        }
    }
}
