//! The rapporteur councillors' area (consiglieri relatori): the cases assigned to them, their
//! examination and decision.

mod examination;
mod signing;

pub use examination::{propose, request_integration, send_back};
pub use signing::{list as signing_list, upload as signing_upload, zip as signing_zip};

use crate::domain::plural;
use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use super::{
    AppState,
    auth::{Consigliere, InArea},
    case::{
        self, CaseFile,
        list::{self, ListQuery},
    },
    error::AppError,
    layout::{self, PageMeta},
    tenant::{CurrentTenant, PathParams},
};
use crate::{
    db::TenantTx,
    domain::{access::Role, application::integration::FieldError},
    live,
    store::{
        cases::{self, Viewer},
        decisions,
        tenants::Tenant,
    },
};

pub const TITLE: &str = crate::domain::access::Role::Consigliere.area_title();

pub async fn entry(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    Query(q): Query<ListQuery>,
) -> Result<Markup, AppError> {
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let sections = queue_sections(&mut tx, &tenant, &viewer, &q, None).await?;
    tx.commit().await?;
    let base = format!("/{}/consiglieri", tenant.slug);
    let errors = q.parse(Role::Consigliere).errors;
    Ok(layout::page(
        &PageMeta::area(TITLE, &tenant, &who),
        html! {
            h1 { (TITLE) }
            (case::search::search_box(&tenant, &who, ""))
            p { a href=(format!("/{}/avvisi", tenant.slug)) { "Avvisi per e-mail: come ricevere le nuove assegnazioni" } }
            h2 class="h4" { "Filtri" }
            (list::filter_form(&base, Role::Consigliere, &q, &errors, None))
            (live::container(&format!("/ws?vista=consiglieri&{}", q.query_string(true)), sections))
        },
    ))
}

/// The rapporteur's queue (the live part of the area): delibere to sign, then the cases as the
/// filters in the URL select them (by default those still to decide, with their clocks).
/// `fresh` marks a new assignment.
pub async fn queue_sections(
    tx: &mut TenantTx,
    tenant: &Tenant,
    viewer: &Viewer<'_>,
    q: &ListQuery,
    fresh: Option<uuid::Uuid>,
) -> anyhow::Result<Markup> {
    let listed = list::load(tx, viewer, &q.parse(Role::Consigliere)).await?;
    let open = &listed.page.rows;
    let to_sign = decisions::to_sign(tx, viewer.grant.user).await?.len();
    let base = format!("/{}/consiglieri", tenant.slug);
    Ok(html! {
        div id="coda-relatore" {
            @if let Some(id) = fresh.filter(|id| open.iter().any(|c| c.id == *id)) {
                div class="alert alert-info" role="status" id="avviso-live" {
                    "Nuova pratica assegnata: "
                    a href=(format!("{base}/pratiche/{id}")) { (open.iter().find(|c| c.id == id).and_then(|c| c.protocol()).map(|p| p.to_string()).unwrap_or_default()) }
                }
            }
            @if to_sign > 0 {
                div class="callout important" id="da-firmare" {
                    div class="callout-title" { "Firma" }
                    p class="mb-0" {
                        a href=(format!("{base}/firma")) {
                            (plural::count(to_sign, "delibera attende", "delibere attendono")) " la sua firma"
                        }
                    }
                }
            }
            (list::section("da-esaminare", &base, "Pratiche assegnate", "Pratiche assegnate secondo i filtri scelti (le urgenti per prime)", "Nessuna pratica assegnata corrisponde ai filtri.", &listed, q, fresh))
        }
    })
}

pub async fn case_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    params: PathParams,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let notice = case::take_outcome(&who, id)
        .await
        .as_deref()
        .and_then(outcome_message)
        .map(case::success);
    show(
        &state,
        &tenant,
        &who,
        id,
        notice,
        StatusCode::OK,
        Typed::default(),
    )
    .await
}

/// What the rapporteur typed in a refused form, with the errors.
#[derive(Default)]
pub struct Typed {
    pub errors: Vec<FieldError>,
    pub request: Option<examination::RequestForm>,
    pub proposal: Option<examination::ProposalForm>,
}

pub(crate) async fn show(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Consigliere>,
    id: uuid::Uuid,
    notice: Option<Markup>,
    status: StatusCode,
    typed: Typed,
) -> Result<Response, AppError> {
    let grant = case::view_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let found = cases::get(&mut tx, &case::viewer(&grant, who), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let file = CaseFile::load(&mut tx, who, found).await?;
    tx.commit().await?;
    let actions = examination::actions(tenant, who, &file, &typed);
    Ok((
        status,
        case::page(tenant, who, TITLE, &file, notice, actions),
    )
        .into_response())
}

fn outcome_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "integrazione" => {
            "Richiesta di integrazione registrata: l'avvocato e il richiedente ne riceveranno avviso per e-mail."
        }
        _ => return None,
    })
}

pub async fn attachment(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::files::serve(&state, &tenant, &who, &params, false).await
}

pub async fn attachment_content(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::files::serve(&state, &tenant, &who, &params, true).await
}

pub async fn attachment_report(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::files::report(&state, &tenant, &who, &params).await
}

pub async fn delibera(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::decision::download(&state, &tenant, &who, &params, false).await
}

pub async fn delibera_firmata(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::decision::download(&state, &tenant, &who, &params, true).await
}
