//! The platform's home (the list of Ordini) and each Ordine's home (its four areas).

use axum::extract::State;
use maud::{Markup, html};

use super::{
    AppState,
    error::AppError,
    layout::{self, PageMeta},
    tenant::CurrentTenant,
};
use crate::store::tenants;

pub async fn platform_home(State(state): State<AppState>) -> Result<Markup, AppError> {
    let tenants = tenants::list(&state.db).await?;
    Ok(layout::page(
        &PageMeta::platform("Ordini degli Avvocati"),
        html! {
            h1 { "Patrocinio a spese dello Stato" }
            p class="lead" {
                "Istanze di ammissione al patrocinio a spese dello Stato presso i Consigli dell'Ordine degli Avvocati. "
                "Scegliere l'Ordine competente per il giudizio."
            }
            @if tenants.is_empty() {
                div class="alert alert-info" role="status" { "Nessun Ordine è ancora attivo su questo servizio." }
            } @else {
                ul class="list-group" {
                    @for t in &tenants {
                        li class="list-group-item" { a href=(format!("/{}", t.slug)) { (t.name) } }
                    }
                }
            }
        },
    ))
}

pub async fn tenant_home(tenant: CurrentTenant) -> Markup {
    let base = format!("/{}", tenant.slug);
    layout::page(
        &PageMeta::tenant("Home", &tenant),
        html! {
            h1 { "Patrocinio a spese dello Stato" }
            p class="lead" {
                "Chi non può sostenere le spese di un giudizio civile può chiedere al Consiglio dell'Ordine "
                "di essere ammesso al patrocinio a spese dello Stato (D.P.R. 115/2002, artt. 74 e seguenti)."
            }
            div class="row mt-4" {
                (layout::link_card(&format!("{base}/istanza"), "it-file",
                    "Presenta un'istanza",
                    "Per cittadini e avvocati, senza registrazione: compilazione guidata, allegati e firma."))
                (layout::link_card(&format!("{base}/segreteria"), "it-inbox",
                    "Segreteria",
                    "Ricezione delle istanze, protocollo, assegnazione ai relatori, comunicazioni."))
                (layout::link_card(&format!("{base}/consiglieri"), "it-pencil",
                    "Consiglieri relatori",
                    "Esame delle pratiche assegnate, richieste di integrazione e delibere."))
                (layout::link_card(&format!("{base}/avvocati"), "it-user",
                    "Avvocati",
                    "Le proprie istanze, il loro stato, le integrazioni da inviare e le delibere."))
            }
        },
    )
}
