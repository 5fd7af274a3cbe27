//! The rapporteur councillors' area (consiglieri relatori): the cases assigned to them, their
//! examination and decision.

use axum::{
    extract::State,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use super::{
    AppState,
    auth::{Consigliere, InArea},
    case::{self, CaseFile},
    error::AppError,
    layout::{self, PageMeta},
    tenant::{CurrentTenant, PathParams},
};
use crate::store::cases::{self, Queue, Sort};

pub const TITLE: &str = "Area dei consiglieri relatori";

pub async fn entry(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
) -> Result<Markup, AppError> {
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let open = cases::list(&mut tx, &viewer, Queue::Open, Sort::Deadline, 500).await?;
    let closed = cases::list(&mut tx, &viewer, Queue::Closed, Sort::Newest, 50).await?;
    tx.commit().await?;
    Ok(layout::page(
        &PageMeta::area(TITLE, &tenant, &who),
        html! {
            h1 { (TITLE) }
            section id="da-esaminare" class="mb-5" {
                h2 class="h3" { "Pratiche da esaminare " span class="badge bg-primary" { (open.len()) } }
                (case::case_table(&tenant, &who, &open, "Pratiche assegnate e non ancora decise (le urgenti per prime, poi per scadenza)", "Nessuna pratica assegnata in attesa di esame."))
            }
            section id="decise" {
                h2 class="h3" { "Ultime pratiche concluse" }
                (case::case_table(&tenant, &who, &closed, "Pratiche assegnate già concluse", "Nessuna pratica conclusa."))
            }
        },
    ))
}

pub async fn case_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
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
        p { a href=(format!("/{}/consiglieri", tenant.slug)) { "Torna alle pratiche assegnate" } }
    };
    Ok(case::page(&tenant, &who, TITLE, &file, None, actions).into_response())
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
