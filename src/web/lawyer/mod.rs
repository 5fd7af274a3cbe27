//! The lawyers' area (avvocati): their applications (filed by them or naming them), the state
//! and history of each, requests to answer, resolutions to download.

use axum::{
    Form as HtmlForm,
    extract::{Multipart, Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    AppState,
    auth::{Avvocato, InArea},
    case::{
        self, CaseFile,
        integration::{self, Answered},
        list::{self, ListQuery},
        withdrawal,
    },
    error::AppError,
    layout::csrf_field,
    layout::{self, PageMeta},
    tenant::{CurrentTenant, PathParams},
    uploads,
};
use crate::{
    db::TenantTx,
    domain::{
        access::Role,
        application::{Actor, Stage, integration::FieldError},
    },
    live,
    store::{
        cases::{self},
        integrations,
        tenants::Tenant,
    },
};

pub const TITLE: &str = crate::domain::access::Role::Avvocato.area_title();

pub async fn entry(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    Query(q): Query<ListQuery>,
) -> Result<Markup, AppError> {
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let sections = dashboard(&mut tx, &tenant, &viewer, &q, None).await?;
    tx.commit().await?;
    let base = format!("/{}/avvocati", tenant.slug);
    let errors = q.parse(Role::Avvocato).errors;
    Ok(layout::page(
        &PageMeta::area(TITLE, &tenant, &who),
        html! {
            h1 { (TITLE) }
            (case::search::search_box(&tenant, &who, ""))
            p class="lead" { "Le istanze presentate dall'avv. " (who.user.name) " o in cui è indicato il suo nome come difensore." }
            p { a class="btn btn-outline-primary" href=(format!("/{}/istanza", tenant.slug)) { "Presenta una nuova istanza" } }
            h2 class="h4" { "Filtri" }
            (list::filter_form(&base, Role::Avvocato, &q, &errors, None))
            (live::container(&format!("/ws?vista=avvocati&{}", q.query_string(true)), sections))
        },
    ))
}

/// The lawyer's applications as the filters in the URL select them (the live part of the
/// area); `changed` is the one an update is about, announced in a notice when it is listed.
pub async fn dashboard(
    tx: &mut TenantTx,
    tenant: &Tenant,
    viewer: &cases::Viewer<'_>,
    q: &ListQuery,
    changed: Option<Uuid>,
) -> anyhow::Result<Markup> {
    let listed = list::load(tx, viewer, &q.parse(Role::Avvocato)).await?;
    let base = format!("/{}/avvocati", tenant.slug);
    let changed = changed.and_then(|id| listed.page.rows.iter().find(|c| c.id == id));
    Ok(html! {
        div id="istanze-avvocato" {
            @if let Some(c) = changed {
                div class="alert alert-info" role="status" id="avviso-live" {
                    "Aggiornata l'istanza " a href=(format!("{base}/pratiche/{}", c.id)) { (c.code) } ": " (c.stage().label()) "."
                    @if let Some(n) = &c.delibera { " La delibera n. " (n) " è disponibile." }
                }
            }
            (list::section("mie-istanze", &base, "Le mie istanze", "Le mie istanze secondo i filtri scelti", "Nessuna istanza corrisponde ai filtri.", &listed, q, None))
        }
    })
}

pub async fn case_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    params: PathParams,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let notice = match case::take_outcome(&who, id).await.as_deref() {
        Some("integrazione") => {
            Some("Integrazione inviata: il consigliere relatore ne riceverà avviso per e-mail.")
        }
        Some("rinunciata") => Some("Rinuncia registrata nel protocollo: l'istanza è chiusa."),
        _ => None,
    }
    .map(case::success);
    show(
        &state,
        &tenant,
        &who,
        id,
        notice,
        StatusCode::OK,
        (Vec::new(), Vec::new()),
    )
    .await
}

async fn show(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Avvocato>,
    id: Uuid,
    notice: Option<Markup>,
    status: StatusCode,
    (errors, answers): (Vec<FieldError>, Vec<String>),
) -> Result<Response, AppError> {
    let grant = case::view_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let found = cases::get(&mut tx, &case::viewer(&grant, who), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let file = CaseFile::load(&mut tx, who, found).await?;
    let open = file
        .integrations
        .iter()
        .find(|r| r.answered_at.is_none())
        .cloned();
    let provided = match &open {
        Some(r) => integrations::provided_kinds(&mut tx, r.id).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let c = &file.case;
    let may_answer = c.stage() == Stage::IntegrazioneRichiesta
        && who.user.lawyer_id.is_some()
        && who.user.lawyer_id == c.lawyer_id;
    let url = case::case_url(tenant, who, id);
    let withdrawable =
        may_withdraw(c) && who.user.lawyer_id.is_some() && who.user.lawyer_id == c.lawyer_id;
    let actions = html! {
        @if withdrawable {
            details class="card card-bg mb-4" {
                summary class="card-body h6 mb-0" { "Rinuncia all'istanza" }
                form method="post" action=(format!("{url}/rinuncia")) class="card-body pt-0" {
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    div class="form-check mb-3" {
                        input class="form-check-input" type="checkbox" id="conferma" name="conferma" value="si";
                        label class="form-check-label" for="conferma" { "Il richiedente rinuncia all'istanza; la rinuncia non si può annullare" }
                    }
                    div class="form-group" {
                        label class="active" for="nota" { "Nota (facoltativa)" }
                        input type="text" class="form-control" id="nota" name="nota";
                    }
                    button type="submit" class="btn btn-outline-danger" { "Invia la rinuncia" }
                }
            }
        }
        @if let Some(r) = &open {
            (integration::request_card(r, case::today()))
            @if may_answer {
                (integration::answer_form(&format!("{url}/integrazione"), Some(&who.csrf), c.version, r, &provided, &answers, &errors))
            }
        }
        p { a href=(format!("/{}/avvocati", tenant.slug)) { "Torna alle mie istanze" } }
    };
    Ok((
        status,
        case::page(tenant, who, TITLE, &file, notice, actions),
    )
        .into_response())
}

fn may_withdraw(c: &cases::Case) -> bool {
    !c.stage().is_decided() && !matches!(c.stage(), Stage::Rinunciata | Stage::Revocata)
}

#[derive(Deserialize)]
pub struct WithdrawForm {
    #[serde(default)]
    versione: i32,
    #[serde(default)]
    conferma: String,
    #[serde(default)]
    nota: String,
}

/// The chosen lawyer withdraws the application on the applicant's behalf.
pub async fn withdraw(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    params: PathParams,
    HtmlForm(f): HtmlForm<WithdrawForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let grant = case::view_grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let typed = [("Nota", f.nota.as_str())];
    let c = match case::lock_for_change(
        &mut tx,
        &tenant,
        &who,
        &case::viewer(&grant, &who),
        id,
        f.versione,
        &typed,
    )
    .await?
    {
        Ok(c) => c,
        Err(page) => return Ok(page),
    };
    if f.conferma.is_empty() {
        drop(tx);
        let notice = case::invalid(
            "Per rinunciare confermare la casella «Il richiedente rinuncia all'istanza».",
        );
        return show(
            &state,
            &tenant,
            &who,
            id,
            Some(notice),
            StatusCode::UNPROCESSABLE_ENTITY,
            (Vec::new(), Vec::new()),
        )
        .await;
    }
    let actor = case::actor(&who);
    let note = if f.nota.trim().is_empty() {
        "Rinuncia inviata dall'avvocato"
    } else {
        f.nota.trim()
    };
    let w = withdrawal::Withdrawal {
        seen_version: f.versione,
        as_actor: Actor::Lawyer,
        actor: &actor,
        facts: case::facts(&tenant, &who, &c, false),
        channel: "portale",
        note,
    };
    if let Err(page) = withdrawal::record(&mut tx, &tenant, &who, &c, w).await? {
        return Ok(page);
    }
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "rinunciata").await)
}

/// The lawyer's answer to an integration request: the files asked for and the replies.
pub async fn answer(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    params: PathParams,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let fields = uploads::read(multipart, state.settings.limits.max_file_bytes).await;
    let grant = case::view_grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let c = cases::lock(&mut tx, &case::viewer(&grant, &who), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(request) = integrations::open_for(&mut tx, id).await? else {
        return Ok(case::refused_page(
            &tenant,
            &who,
            id,
            "Non c'è una richiesta di integrazione in attesa di risposta.",
        ));
    };
    let facts = case::facts(&tenant, &who, &c, false);
    let actor = case::actor(&who);
    match integration::receive(
        &state,
        &mut tx,
        &c,
        &request,
        fields,
        (Actor::Lawyer, &actor),
        facts,
    )
    .await?
    {
        Answered::Done => {
            tx.commit().await?;
            Ok(case::done(&tenant, &who, id, "integrazione").await)
        }
        Answered::Incomplete(errors, answers) => {
            tx.commit().await?;
            show(
                &state,
                &tenant,
                &who,
                id,
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
                (errors, answers),
            )
            .await
        }
        Answered::Stale(stale) => Ok(case::stale_page(&tenant, &who, id, &stale, &[])),
        Answered::Refused(message) => Ok(case::refused_page(&tenant, &who, id, &message)),
    }
}

pub async fn attachment(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::files::serve(&state, &tenant, &who, &params, false).await
}

pub async fn attachment_content(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::files::serve(&state, &tenant, &who, &params, true).await
}

pub async fn attachment_report(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::files::report(&state, &tenant, &who, &params).await
}

pub async fn delibera(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::decision::download(&state, &tenant, &who, &params, false).await
}

pub async fn delibera_firmata(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::decision::download(&state, &tenant, &who, &params, true).await
}
