//! The rapporteur councillors' area (consiglieri relatori): examination and decision.

use maud::Markup;

use super::{layout, tenant::CurrentTenant};

pub async fn entry(tenant: CurrentTenant) -> Markup {
    layout::reserved_area(
        &tenant,
        "Area dei consiglieri relatori",
        "Qui ciascun consigliere relatore trova le pratiche che gli sono assegnate, le esamina, chiede le integrazioni necessarie e propone o adotta la delibera.",
    )
}
