//! The Ordine's administration (amministrazione): accounts and roles, the audit log.

pub mod audit;
pub mod mail;
pub mod register;
pub mod settings;
pub mod tax_agency;
pub mod users;

use maud::{Markup, html};

use super::{
    auth::{Amministratore, InArea},
    layout::{self, PageMeta},
    tenant::CurrentTenant,
};

pub async fn home(tenant: CurrentTenant, who: InArea<Amministratore>) -> Markup {
    let base = format!("/{}/amministrazione", tenant.slug);
    layout::page(
        &PageMeta::area("Amministrazione", &tenant, &who),
        html! {
            h1 { "Amministrazione dell'Ordine" }
            div class="row mt-4" {
                (layout::link_card(&format!("{base}/utenti"), "it-user", "Utenti e ruoli",
                    "Inviti, ruoli, disattivazione degli account, link di attivazione e di reimpostazione della password."))
                (layout::link_card(&format!("{base}/impostazioni"), "it-settings", "Impostazioni",
                    "Denominazione, PEC, logo, termine per le integrazioni, siti che incorporano il modulo pubblico."))
                (layout::link_card(&format!("{base}/uffici"), "it-pa", "Uffici giudiziari",
                    "Gli uffici del circondario per cui l'Ordine è competente (art. 124)."))
                (layout::link_card(&format!("{base}/agenzia-entrate"), "it-mail", "Agenzia delle Entrate",
                    "Frequenza, indirizzo PEC e colonne delle distinte delle ammissioni (art. 127)."))
                (layout::link_card(&format!("{base}/elenchi"), "it-list", "Elenchi per il patrocinio",
                    "Le materie per cui ciascun avvocato è iscritto nell'elenco (art. 81)."))
                (layout::link_card(&format!("{base}/albo"), "it-files", "Albo degli avvocati",
                    "Importazione dell'albo e degli elenchi per il patrocinio, link di attivazione degli account."))
                (layout::link_card(&format!("{base}/registro"), "it-list", "Registro delle operazioni",
                    "Chi ha fatto che cosa e quando, compresi gli accessi e le consultazioni delle pratiche."))
                (layout::link_card(&format!("{base}/statistiche"), "it-chart-line", "Statistiche",
                    "Istanze e decisioni per mese, esiti, tempi, pratiche in attesa, dati annuali per il Ministero."))
                (layout::link_card(&format!("{base}/posta"), "it-mail", mail::TITLE,
                    "I messaggi in attesa, inviati e non recapitati, con il motivo; quelli non recapitati si possono inviare di nuovo."))
            }
        },
    )
}
