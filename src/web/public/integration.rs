//! The applicant who filed alone answers an integration request, from the device the status
//! page (code and PIN) opened.

use axum::{
    extract::{Multipart, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};

use super::{Access, open, views};
use crate::{
    domain::application::{Actor, Facts, Stage, integration::FieldError},
    store::{audit, cases, integrations, tenants::Tenant},
    web::{
        AppState,
        case::integration::{self as answer, Answered},
        error::AppError,
        layout::{self, PageMeta},
        tenant::{CurrentTenant, PathParams},
        uploads,
    },
};

fn page(tenant: &Tenant, body: Markup) -> Markup {
    layout::page(
        &PageMeta::tenant("Integrazione dell'istanza", tenant),
        html! {
            h1 { "Integrazione dell'istanza" }
            (body)
        },
    )
}

async fn render(
    state: &AppState,
    tenant: &CurrentTenant,
    headers: &HeaderMap,
    id: uuid::Uuid,
    status: StatusCode,
    (errors, answers): (Vec<FieldError>, Vec<String>),
) -> Result<Response, AppError> {
    let (row, mut tx) = match open(state, tenant, headers, id, false).await? {
        Access::Granted(row, tx) => (row, tx),
        Access::Denied(res) => return Ok(res),
    };
    let request = integrations::open_for(&mut tx, id).await?;
    let provided = match &request {
        Some(r) => integrations::provided_kinds(&mut tx, r.id).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    let body = match request {
        Some(r) if row.state() == Stage::IntegrazioneRichiesta => html! {
            p class="text-muted" { "Istanza " span class="text-monospace" { (row.code) } }
            (answer::request_card(&r, crate::web::case::today()))
            (answer::answer_form(&format!("{}/{id}/integrazione", views::base(tenant)), None, row.version, &r, &provided, &answers, &errors))
        },
        _ => html! {
            div class="alert alert-info" role="status" { "Non ci sono richieste di integrazione in attesa di risposta per questa istanza." }
            a href=(format!("{}/stato", views::base(tenant))) { "Verifica lo stato dell'istanza" }
        },
    };
    Ok((status, page(tenant, body)).into_response())
}

pub async fn form(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    params: PathParams,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    render(
        &state,
        &tenant,
        &headers,
        id,
        StatusCode::OK,
        (Vec::new(), Vec::new()),
    )
    .await
}

pub async fn submit(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    params: PathParams,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let fields = uploads::read(multipart, state.settings.limits.max_file_bytes).await;
    let mut tx = match open(&state, &tenant, &headers, id, true).await? {
        Access::Granted(_, tx) => tx,
        Access::Denied(res) => return Ok(res),
    };
    let (Some(c), Some(request)) = (
        cases::lock_for_applicant(&mut tx, id).await?,
        integrations::open_for(&mut tx, id).await?,
    ) else {
        tx.commit().await?;
        return render(
            &state,
            &tenant,
            &headers,
            id,
            StatusCode::CONFLICT,
            (Vec::new(), Vec::new()),
        )
        .await;
    };
    let facts = Facts {
        filed_by_applicant: c.filed_by_applicant(),
        ..Facts::default()
    };
    let actor = audit::Actor::anonymous("Richiedente (codice e PIN)");
    let done_url = format!("{}/{id}/integrazione", views::base(&tenant));
    match answer::receive(
        &state,
        &mut tx,
        &c,
        &request,
        fields,
        (Actor::Applicant, &actor),
        facts,
    )
    .await?
    {
        Answered::Done => {
            tx.commit().await?;
            let body = html! {
                div class="alert alert-success" role="status" id="esito-operazione" {
                    p class="mb-0" { "Integrazione inviata e registrata nel protocollo. Il consigliere relatore riprende l'esame dell'istanza." }
                }
                a href=(format!("{}/stato", views::base(&tenant))) { "Verifica lo stato dell'istanza" }
            };
            Ok(page(&tenant, body).into_response())
        }
        Answered::Incomplete(errors, answers) => {
            tx.commit().await?;
            render(
                &state,
                &tenant,
                &headers,
                id,
                StatusCode::UNPROCESSABLE_ENTITY,
                (errors, answers),
            )
            .await
        }
        Answered::Stale(_) => Ok(Redirect::to(&done_url).into_response()),
        Answered::Refused(message) => {
            let body = html! { div class="alert alert-danger" role="alert" { (message) } };
            Ok((StatusCode::CONFLICT, page(&tenant, body)).into_response())
        }
    }
}
