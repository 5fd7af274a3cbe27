//! The rapporteur councillors' area (consiglieri relatori): examination and decision.

use axum::extract::State;
use maud::{Markup, html};

use super::{
    AppState,
    areas::application_table,
    auth::{Consigliere, InArea},
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
    who: InArea<Consigliere>,
) -> Result<Markup, AppError> {
    let grant = authorize::<ViewApplications>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let rows = applications::visible(&mut tx, &grant, None).await?;
    tx.commit().await?;
    Ok(layout::page(
        &PageMeta::area("Area dei consiglieri relatori", &tenant, &who),
        html! {
            h1 { "Area dei consiglieri relatori" }
            p class="lead" { "Le pratiche assegnate per l'istruttoria e la delibera." }
            (application_table(&rows, "Nessuna pratica assegnata."))
        },
    ))
}
