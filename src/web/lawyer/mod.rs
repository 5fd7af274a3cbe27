//! The lawyers' area (avvocati): their applications, requests to answer, resolutions.

use axum::extract::State;
use maud::{Markup, html};

use super::{
    AppState,
    areas::application_table,
    auth::{Avvocato, InArea},
    error::AppError,
    layout::{self, PageMeta},
    tenant::CurrentTenant,
};
use crate::{
    domain::access::{ViewApplications, authorize},
    store::applications,
};

pub async fn entry(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Avvocato>,
) -> Result<Markup, AppError> {
    let grant = authorize::<ViewApplications>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let rows = applications::visible(&mut tx, &grant, who.user.lawyer_id).await?;
    tx.commit().await?;
    Ok(layout::page(
        &PageMeta::area("Area degli avvocati", &tenant, &who),
        html! {
            h1 { "Area degli avvocati" }
            p class="lead" { "Le istanze che indicano l'avv. " (who.user.name) " come difensore." }
            (application_table(&rows, "Nessuna istanza."))
        },
    ))
}
