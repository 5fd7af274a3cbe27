//! The search box of every staff area and its results: applications found by names
//! (applicant, household, opposing party, lawyer), codice fiscale, code or protocol number,
//! limited to what the person may see in that area (row-level security and the area's rules
//! apply as to every list).

use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use super::{area_base, case_table, view_grant, viewer};
use crate::{
    domain::search,
    store::cases,
    web::{
        AppState,
        auth::{AreaRole, InArea},
        error::AppError,
        layout::{self, PageMeta},
        tenant::CurrentTenant,
    },
};

/// The most results shown.
const SHOWN: i64 = 50;

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
}

/// The search box, on each area's first page and on the results.
pub fn search_box<R: AreaRole>(tenant: &CurrentTenant, who: &InArea<R>, typed: &str) -> Markup {
    html! {
        form method="get" action=(format!("{}/cerca", area_base(tenant, who))) class="mb-4" role="search" {
            div class="input-group" {
                label class="visually-hidden" for="cerca-q" { "Cerca un'istanza" }
                input type="search" class="form-control" id="cerca-q" name="q" value=(typed)
                    maxlength=(search::MAX_QUERY) autocomplete="off"
                    placeholder="Cognome e nome, codice fiscale, protocollo (13/2026) o codice"
                    aria-describedby="cerca-aiuto";
                button type="submit" class="btn btn-primary" { "Cerca" }
            }
            small id="cerca-aiuto" class="form-text" {
                "Anche solo l'inizio del nome, senza accenti; il richiedente, i familiari, la controparte o l'avvocato."
            }
        }
    }
}

pub async fn page<R: AreaRole>(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<R>,
    Query(q): Query<SearchQuery>,
) -> Result<Markup, AppError> {
    let grant = view_grant(&tenant, &who)?;
    let query = search::Query::parse(&q.q);
    let found = match &query {
        Some(query) => {
            let mut tx = state.db.tenant_tx(tenant.id).await?;
            let rows = cases::search(&mut tx, &viewer(&grant, &who), query, SHOWN).await?;
            tx.commit().await?;
            rows
        }
        None => Vec::new(),
    };
    let base = area_base(&tenant, &who);
    let title = "Cerca un'istanza";
    let typed: String = q.q.chars().take(search::MAX_QUERY).collect();
    Ok(layout::page(
        &PageMeta::area(title, &tenant, &who),
        html! {
            (layout::breadcrumb(&[(who.role().area_title(), Some(&base)), (title, None)]))
            h1 { (title) }
            (search_box(&tenant, &who, &typed))
            @if query.is_some() {
                p role="status" id="esito-ricerca" {
                    (crate::domain::plural::count(found.len(), "istanza trovata", "istanze trovate"))
                    @if found.len() as i64 == SHOWN { " (le prime " (SHOWN) ": precisare la ricerca)" }
                    " per «" (typed) "»."
                }
                (case_table(&base, &found, "Istanze trovate", "Nessuna istanza corrisponde alla ricerca.", None))
            }
        },
    ))
}
