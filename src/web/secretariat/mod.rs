//! The secretariat's area (segreteria): intake, protocol, assignment, communications.

use maud::Markup;

use super::{layout, tenant::CurrentTenant};

pub async fn entry(tenant: CurrentTenant) -> Markup {
    layout::reserved_area(
        &tenant,
        "Area della segreteria",
        "Qui la segreteria dell'Ordine riceve le istanze depositate, le registra nel protocollo, le assegna ai consiglieri relatori e invia le comunicazioni.",
    )
}
