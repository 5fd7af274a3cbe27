//! The public area: the online application (istanza on-line), open to everyone, no account.

use maud::{Markup, html};

use super::{
    layout::{self, PageMeta},
    tenant::CurrentTenant,
};

/// What the applicant needs to know before starting: who may apply here, and what to prepare.
pub async fn entry(tenant: CurrentTenant) -> Markup {
    let base = format!("/{}", tenant.slug);
    layout::page(
        &PageMeta::tenant("Istanza di ammissione", &tenant),
        html! {
            (layout::breadcrumb(&[("Home", Some(&base)), ("Istanza di ammissione", None)]))
            h1 { "Istanza di ammissione al patrocinio a spese dello Stato" }
            p class="lead" {
                "L'istanza può essere presentata dal richiedente oppure dall'avvocato che lo assiste, "
                "senza registrarsi. Il Consiglio dell'Ordine decide entro dieci giorni dal deposito (art. 126 D.P.R. 115/2002)."
            }
            h2 class="h4 mt-4" { "Per quali giudizi" }
            p {
                "Il Consiglio dell'Ordine decide sulle istanze per i giudizi civili (compresi famiglia, lavoro, "
                "volontaria giurisdizione ed esecuzione), per i giudizi davanti alla Corte dei conti e per la mediazione "
                "e la negoziazione assistita, quando il giudice competente ha sede nel suo circondario (art. 124)."
            }
            div class="alert alert-warning" role="note" {
                p class="mb-1" { strong { "Non si presentano a questo Consiglio:" } }
                ul class="mb-0" {
                    li { "le istanze per i procedimenti penali, che vanno all'ufficio del magistrato davanti al quale pende il processo (art. 93);" }
                    li { "le istanze per i giudizi davanti al TAR o al Consiglio di Stato, che vanno alla Commissione istituita presso il giudice amministrativo;" }
                    li { "le istanze per i giudizi tributari, che vanno alla Commissione presso la Corte di giustizia tributaria (artt. 138-139)." }
                }
            }
            h2 class="h4 mt-4" { "Cosa preparare" }
            ul {
                li { "il documento d'identità del richiedente e, per i cittadini stranieri, il titolo di soggiorno;" }
                li { "il codice fiscale del richiedente e di ciascun familiare convivente;" }
                li { "i redditi dell'anno precedente di tutti i familiari conviventi, compresi quelli esenti o soggetti a ritenuta o imposta sostitutiva (non il modello ISEE);" }
                li { "i fatti e le ragioni di diritto della causa, con l'elenco delle prove (art. 122), e i documenti che li sostengono;" }
                li { "il nome dell'avvocato scelto tra gli iscritti nell'elenco per il patrocinio a spese dello Stato." }
            }
        },
    )
}
