//! Browsing the audit log, newest first, with filters.

use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    domain::{
        access::{ViewAudit, authorize},
        time,
    },
    store::audit::{self, Filter},
    web::{
        AppState,
        auth::{Amministratore, InArea},
        error::AppError,
        layout::{self, PageMeta},
        tenant::CurrentTenant,
    },
};

const PAGE: i64 = 100;

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    azione: String,
    #[serde(default)]
    attore: String,
    #[serde(default)]
    oggetto: String,
    #[serde(default)]
    prima: Option<i64>,
}

fn some(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

pub async fn browse(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    Query(q): Query<AuditQuery>,
) -> Result<Markup, AppError> {
    let grant = authorize::<ViewAudit>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let rows = audit::browse(
        &mut tx,
        &grant,
        &Filter {
            action: some(&q.azione),
            actor: some(&q.attore),
            target: some(&q.oggetto),
            before_seq: q.prima,
            limit: PAGE,
        },
    )
    .await?;
    tx.commit().await?;
    let base = format!("/{}/amministrazione/registro", tenant.slug);
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    Ok(layout::page(
        &PageMeta::area("Registro delle operazioni", &tenant, &who),
        html! {
            (layout::breadcrumb(&[("Amministrazione", Some(&format!("/{}/amministrazione", tenant.slug))), ("Registro delle operazioni", None)]))
            h1 { "Registro delle operazioni" }
            p { "Le voci non si possono modificare né cancellare; ciascuna è concatenata alla precedente con un'impronta crittografica." }
            form method="get" action=(base) class="mb-4" role="search" {
                div class="row" {
                    div class="col-md-4 form-group" {
                        label class="active" for="azione" { "Operazione" }
                        input type="text" class="form-control" id="azione" name="azione" value=(q.azione);
                    }
                    div class="col-md-4 form-group" {
                        label class="active" for="attore" { "Chi" }
                        input type="text" class="form-control" id="attore" name="attore" value=(q.attore);
                    }
                    div class="col-md-4 form-group" {
                        label class="active" for="oggetto" { "Identificativo dell'oggetto" }
                        input type="text" class="form-control" id="oggetto" name="oggetto" value=(q.oggetto);
                    }
                }
                button type="submit" class="btn btn-outline-primary" { "Filtra" }
            }
            div class="table-responsive" tabindex="0" role="region" aria-label="Operazioni, dalla più recente" {
                table class="table table-sm" id="registro" {
                    caption { "Operazioni, dalla più recente" }
                    thead { tr {
                        th scope="col" { "N." } th scope="col" { "Quando" } th scope="col" { "Chi" }
                        th scope="col" { "Operazione" } th scope="col" { "Oggetto" } th scope="col" { "Esito" }
                    } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (r.seq) }
                                td { (time::format_date_time(r.at)) }
                                td { (r.actor) }
                                td { (r.action) }
                                td class="text-break small" { (r.target_kind.as_deref().unwrap_or("")) " " (r.target_id.as_deref().unwrap_or("")) }
                                td { (r.outcome) }
                            }
                        }
                    }
                }
            }
            @if let Some(seq) = next {
                @let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("azione", &q.azione)
                    .append_pair("attore", &q.attore)
                    .append_pair("oggetto", &q.oggetto)
                    .append_pair("prima", &seq.to_string())
                    .finish();
                a href=(format!("{base}?{query}")) { "Operazioni precedenti" }
            }
        },
    ))
}
