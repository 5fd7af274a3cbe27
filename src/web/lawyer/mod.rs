//! The lawyers' area (avvocati): their applications, requests to answer, resolutions.

use maud::Markup;

use super::{layout, tenant::CurrentTenant};

pub async fn entry(tenant: CurrentTenant) -> Markup {
    layout::reserved_area(
        &tenant,
        "Area degli avvocati",
        "Qui ciascun avvocato segue le istanze che ha depositato o che lo indicano come difensore, risponde alle richieste di integrazione e scarica le delibere.",
    )
}
