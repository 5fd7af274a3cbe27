//! What the reserved areas share: the list of applications a person may see.

use maud::{Markup, html};

use crate::{
    domain::{application::matter::Matter, time},
    store::applications::Summary,
};

pub fn application_table(rows: &[Summary], empty: &str) -> Markup {
    html! {
        @if rows.is_empty() {
            p { (empty) }
        } @else {
            table class="table" {
                caption { "Istanze presentate" }
                thead { tr {
                    th scope="col" { "Codice" }
                    th scope="col" { "Richiedente" }
                    th scope="col" { "Materia" }
                    th scope="col" { "Presentata il" }
                    th scope="col" { "Stato" }
                } }
                tbody {
                    @for r in rows {
                        tr {
                            td class="text-monospace" { (r.code) }
                            td { (r.applicant_name.as_deref().unwrap_or("—")) }
                            td { (r.matter.as_deref().and_then(Matter::from_code).map_or("—", Matter::label)) }
                            td { (r.submitted_at.map(time::format_date_time).unwrap_or_default()) }
                            td { (crate::domain::application::State::from_code(&r.state).map_or(r.state.as_str(), |s| s.label())) }
                        }
                    }
                }
            }
        }
    }
}
