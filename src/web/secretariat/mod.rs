//! The secretariat's area (segreteria): intake, protocol, assignment, communications.

use axum::extract::State;
use maud::{Markup, html};

use super::{
    AppState,
    areas::application_table,
    auth::{InArea, Segreteria},
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
    who: InArea<Segreteria>,
) -> Result<Markup, AppError> {
    let grant = authorize::<ViewApplications>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let rows = applications::visible(&mut tx, &grant, None).await?;
    tx.commit().await?;
    Ok(layout::page(
        &PageMeta::area("Area della segreteria", &tenant, &who),
        html! {
            h1 { "Area della segreteria" }
            p class="lead" { "Le istanze depositate, in attesa di registrazione nel protocollo e di assegnazione." }
            (application_table(&rows, "Nessuna istanza presentata."))
        },
    ))
}
