//! Facts the secretariat records on a case: a withdrawal received on paper or by PEC, the
//! judge's revocation of an admission (art. 136), the re-proposal of a refused application to
//! the judge (art. 126 c.3) and the judge's decree on it.

use axum::{Form as HtmlForm, extract::State, response::Response};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;

use super::Typed;
use crate::{
    domain::{
        application::{Action, Actor, Stage, check::parse_date, workflow::EventKind},
        time,
    },
    store::cases::{self, Case, Change, Notify},
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case::{self, withdrawal},
        error::AppError,
        layout::csrf_field,
        tenant::{CurrentTenant, PathParams},
    },
};

#[derive(Deserialize, Default)]
pub struct RecordForm {
    #[serde(default)]
    pub versione: i32,
    #[serde(default)]
    pub data: String,
    #[serde(default)]
    pub autorita: String,
    #[serde(default)]
    pub decorrenza: String,
    #[serde(default)]
    pub esito: String,
    #[serde(default)]
    pub canale: String,
    #[serde(default)]
    pub nota: String,
}

async fn refuse(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    id: uuid::Uuid,
    field: &'static str,
    message: &str,
    form: RecordForm,
) -> Result<Response, AppError> {
    let typed = Typed {
        error: Some((field, message.to_owned())),
        record: Some(form),
        ..Typed::default()
    };
    super::refuse(state, tenant, who, id, typed).await
}

pub async fn withdraw(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<RecordForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    if f.nota.trim().chars().count() < 5 {
        let msg = "Indicare come e quando è pervenuta la rinuncia (almeno 5 caratteri).";
        return refuse(&state, &tenant, &who, id, "nota_rinuncia", msg, f).await;
    }
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed = [("Nota", f.nota.as_str())];
    let c = match case::lock_for_change(&mut tx, &tenant, &who, &viewer, id, f.versione, &typed)
        .await?
    {
        Ok(c) => c,
        Err(page) => return Ok(page),
    };
    let actor = case::actor(&who);
    let channel = match f.canale.as_str() {
        c @ ("sportello" | "posta" | "pec") => c,
        _ => "pec",
    };
    let w = withdrawal::Withdrawal {
        seen_version: f.versione,
        as_actor: Actor::Secretariat,
        actor: &actor,
        facts: case::facts(&tenant, &who, &c, false),
        channel,
        note: f.nota.trim(),
    };
    if let Err(page) = withdrawal::record(&mut tx, &tenant, &who, &c, w).await? {
        return Ok(page);
    }
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "rinunciata").await)
}

/// The judge's decree revoking the admission (art. 136): date, judge, effective date.
pub async fn revocation(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<RecordForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let Some(decree) = parse_date(&f.data).filter(|d| *d <= case::today()) else {
        let msg = "Indicare la data del decreto di revoca (non successiva a oggi).";
        return refuse(&state, &tenant, &who, id, "data_revoca", msg, f).await;
    };
    if f.autorita.trim().chars().count() < 3 {
        return refuse(
            &state,
            &tenant,
            &who,
            id,
            "autorita_revoca",
            "Indicare il magistrato o l'ufficio che ha revocato l'ammissione.",
            f,
        )
        .await;
    }
    let effective = if f.decorrenza.trim().is_empty() {
        None
    } else {
        match parse_date(&f.decorrenza) {
            Some(d) => Some(d),
            None => {
                return refuse(
                    &state,
                    &tenant,
                    &who,
                    id,
                    "decorrenza",
                    "La decorrenza della revoca va indicata come data (gg/mm/aaaa).",
                    f,
                )
                .await;
            }
        }
    };
    let details = json!({
        "nota": format!(
            "Decreto del {} ({}){}{}",
            time::format_date(decree),
            f.autorita.trim(),
            effective.map(|d| format!(", con effetto dal {}", time::format_date(d))).unwrap_or_default(),
            if f.nota.trim().is_empty() { String::new() } else { format!(". {}", f.nota.trim()) },
        ),
        "data_decreto": decree,
        "decorrenza": effective,
    });
    record(
        &state,
        &tenant,
        &who,
        id,
        &f,
        Action::RecordRevocation,
        EventKind::Revoked,
        details,
        "revocata",
    )
    .await
}

/// The applicant re-proposed the application to the judge (art. 126 c.3), and how the judge
/// decided, once known.
pub async fn reproposal(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<RecordForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let Some(filed) = parse_date(&f.data).filter(|d| *d <= case::today()) else {
        let msg = "Indicare la data in cui l'istanza è stata proposta al magistrato (non successiva a oggi).";
        return refuse(&state, &tenant, &who, id, "data_riproposizione", msg, f).await;
    };
    let decree = match f.esito.as_str() {
        "accolta" => "il magistrato ha ammesso il richiedente",
        "respinta" => "il magistrato ha respinto l'istanza",
        _ => "decreto non ancora noto",
    };
    let details = json!({
        "nota": format!(
            "Proposta il {}{}: {decree}{}",
            time::format_date(filed),
            if f.autorita.trim().is_empty() { String::new() } else { format!(" a {}", f.autorita.trim()) },
            if f.nota.trim().is_empty() { String::new() } else { format!(". {}", f.nota.trim()) },
        ),
        "data": filed,
        "esito_decreto": f.esito,
    });
    record(
        &state,
        &tenant,
        &who,
        id,
        &f,
        Action::RecordReproposal,
        EventKind::Reproposed,
        details,
        "riproposta",
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn record(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    id: uuid::Uuid,
    f: &RecordForm,
    action: Action,
    kind: EventKind,
    details: serde_json::Value,
    outcome: &str,
) -> Result<Response, AppError> {
    let grant = case::view_grant(tenant, who)?;
    let viewer = case::viewer(&grant, who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed = [("Nota", f.nota.as_str())];
    let c: Case =
        match case::lock_for_change(&mut tx, tenant, who, &viewer, id, f.versione, &typed).await? {
            Ok(c) => c,
            Err(page) => return Ok(page),
        };
    let facts = case::facts(tenant, who, &c, false);
    let to = match case::check(tenant, who, &c, action, Actor::Secretariat, facts) {
        Ok(to) => to,
        Err(page) => return Ok(page),
    };
    let actor = case::actor(who);
    let change = Change {
        case: &c,
        seen_version: f.versione,
        to,
        kind,
        actor: &actor,
        details,
        notify: Notify::Parties,
    };
    if let Err(stale) = cases::advance(&mut tx, change).await? {
        return Ok(case::stale_page(tenant, who, id, &stale, &typed));
    }
    tx.commit().await?;
    Ok(case::done(tenant, who, id, outcome).await)
}

fn text_field(
    id: &str,
    name: &str,
    label: &str,
    kind: &str,
    value: &str,
    error: Option<String>,
) -> Markup {
    html! {
        div class="form-group" {
            label class="active" for=(id) { (label) }
            input type=(kind) class="form-control" id=(id) name=(name) value=(value) aria-invalid=[error.as_ref().map(|_| "true")];
            @if let Some(m) = error { p class="campo-errore mt-1" role="alert" { (m) } }
        }
    }
}

/// The panels for these records, by state.
pub fn actions(who: &InArea<Segreteria>, url: &str, c: &Case, typed: &Typed) -> Markup {
    let stage = c.stage();
    let t = typed.record.as_ref();
    let v = |f: fn(&RecordForm) -> &str| t.map_or("", f).to_owned();
    let err = |field: &str| {
        typed
            .error
            .as_ref()
            .filter(|(f, _)| *f == field)
            .map(|(_, m)| m.clone())
    };
    let withdrawable = matches!(
        stage,
        Stage::Presentata
            | Stage::Protocollata
            | Stage::InIstruttoria
            | Stage::IntegrazioneRichiesta
            | Stage::PropostaAmmissione
            | Stage::PropostaRigetto
            | Stage::PropostaInammissibile
            | Stage::IscrittaAdunanza
    );
    html! {
        @if withdrawable {
            details class="card card-bg mb-4" open[err("nota_rinuncia").is_some()] {
                summary class="card-body h6 mb-0" { "Registra una rinuncia pervenuta" }
                form method="post" action=(format!("{url}/rinuncia")) class="card-body pt-0" {
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    div class="select-wrapper mb-3" {
                        label for="canale_rinuncia" { "Pervenuta" }
                        select id="canale_rinuncia" name="canale" {
                            option value="pec" { "per PEC" } option value="sportello" { "allo sportello" } option value="posta" { "per posta" }
                        }
                    }
                    div class="form-group" {
                        label class="active" for="nota_rinuncia" { "Estremi della rinuncia" }
                        textarea class="form-control" id="nota_rinuncia" name="nota" rows="2" { (v(|f| &f.nota)) }
                        @if let Some(m) = err("nota_rinuncia") { p class="campo-errore mt-1" role="alert" { (m) } }
                    }
                    button type="submit" class="btn btn-outline-danger" { "Registra la rinuncia" }
                }
            }
        }
        @if stage == Stage::Ammessa {
            form method="post" action=(format!("{url}/revoca")) class="card card-bg mb-4" {
                div class="card-body" {
                    h2 class="h5 card-title" { "Revoca del giudice (art. 136)" }
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    (text_field("data_revoca", "data", "Data del decreto", "date", &v(|f| &f.data), err("data_revoca")))
                    (text_field("autorita_revoca", "autorita", "Magistrato o ufficio", "text", &v(|f| &f.autorita), err("autorita_revoca")))
                    (text_field("decorrenza", "decorrenza", "Con effetto dal (facoltativo)", "date", &v(|f| &f.decorrenza), err("decorrenza")))
                    (text_field("nota_revoca", "nota", "Nota (facoltativa)", "text", &v(|f| &f.nota), None))
                    button type="submit" class="btn btn-outline-danger" { "Registra la revoca" }
                }
            }
        }
        @if matches!(stage, Stage::Respinta | Stage::Inammissibile) {
            form method="post" action=(format!("{url}/riproposizione")) class="card card-bg mb-4" {
                div class="card-body" {
                    h2 class="h5 card-title" { "Istanza riproposta al giudice (art. 126, comma 3)" }
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    (text_field("data_riproposizione", "data", "Data di proposizione al magistrato", "date", &v(|f| &f.data), err("data_riproposizione")))
                    (text_field("autorita_riproposizione", "autorita", "Magistrato o ufficio (facoltativo)", "text", &v(|f| &f.autorita), None))
                    div class="select-wrapper mb-3" {
                        label for="esito_decreto" { "Decreto del magistrato" }
                        select id="esito_decreto" name="esito" {
                            option value="" { "non ancora noto" }
                            option value="accolta" selected[t.is_some_and(|f| f.esito == "accolta")] { "ammissione concessa" }
                            option value="respinta" selected[t.is_some_and(|f| f.esito == "respinta")] { "istanza respinta" }
                        }
                    }
                    button type="submit" class="btn btn-outline-primary" { "Registra" }
                }
            }
        }
    }
}
