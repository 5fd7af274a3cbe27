//! The lawyers' area (avvocati): their applications (filed by them or naming them), the state
//! and history of each, requests to answer, resolutions to download.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use super::{
    AppState,
    auth::{Avvocato, InArea},
    case::{self, CaseFile},
    error::AppError,
    layout::{self, PageMeta},
    tenant::{CurrentTenant, PathParams},
};
use crate::store::cases::{self, Queue, Sort};

pub const TITLE: &str = "Area degli avvocati";

pub async fn entry(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
) -> Result<Markup, AppError> {
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let rows = cases::list(&mut tx, &viewer, Queue::All, Sort::Newest, 500).await?;
    tx.commit().await?;
    Ok(layout::page(
        &PageMeta::area(TITLE, &tenant, &who),
        html! {
            h1 { (TITLE) }
            p class="lead" { "Le istanze presentate dall'avv. " (who.user.name) " o che lo indicano come difensore." }
            p { a class="btn btn-outline-primary" href=(format!("/{}/istanza", tenant.slug)) { "Presenta una nuova istanza" } }
            (case::case_table(&tenant, &who, &rows, "Le mie istanze", "Nessuna istanza."))
        },
    ))
}

pub async fn case_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
    params: PathParams,
) -> Result<Response, AppError> {
    let grant = case::view_grant(&tenant, &who)?;
    let id = params.id("id")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let found = cases::get(&mut tx, &case::viewer(&grant, &who), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let file = CaseFile::load(&mut tx, &who, found).await?;
    tx.commit().await?;
    let actions = html! {
        p { a href=(format!("/{}/avvocati", tenant.slug)) { "Torna alle mie istanze" } }
    };
    Ok(case::page(&tenant, &who, TITLE, &file, None, actions).into_response())
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
