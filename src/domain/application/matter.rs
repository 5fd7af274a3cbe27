//! The matter of the proceeding, which decides whether this Ordine is competent (V1–V3) and
//! which legal-aid list the lawyer must be on (art. 81).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Matter {
    Civile,
    Famiglia,
    Lavoro,
    VolontariaGiurisdizione,
    Esecuzione,
    Cassazione,
    Contabile,
    Mediazione,
    Negoziazione,
    Penale,
    Amministrativo,
    Tributario,
}

impl Matter {
    pub const ALL: [Matter; 12] = [
        Matter::Civile,
        Matter::Famiglia,
        Matter::Lavoro,
        Matter::VolontariaGiurisdizione,
        Matter::Esecuzione,
        Matter::Cassazione,
        Matter::Contabile,
        Matter::Mediazione,
        Matter::Negoziazione,
        Matter::Penale,
        Matter::Amministrativo,
        Matter::Tributario,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Matter::Civile => "civile",
            Matter::Famiglia => "famiglia",
            Matter::Lavoro => "lavoro",
            Matter::VolontariaGiurisdizione => "volontaria_giurisdizione",
            Matter::Esecuzione => "esecuzione",
            Matter::Cassazione => "cassazione",
            Matter::Contabile => "contabile",
            Matter::Mediazione => "mediazione",
            Matter::Negoziazione => "negoziazione",
            Matter::Penale => "penale",
            Matter::Amministrativo => "amministrativo",
            Matter::Tributario => "tributario",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Matter::Civile => "Causa civile (contenzioso ordinario)",
            Matter::Famiglia => "Famiglia, separazione, divorzio, minori",
            Matter::Lavoro => "Lavoro e previdenza",
            Matter::VolontariaGiurisdizione => "Volontaria giurisdizione",
            Matter::Esecuzione => "Esecuzione forzata",
            Matter::Cassazione => "Ricorso per cassazione in materia civile",
            Matter::Contabile => "Giudizio davanti alla Corte dei conti",
            Matter::Mediazione => "Mediazione civile e commerciale",
            Matter::Negoziazione => "Negoziazione assistita",
            Matter::Penale => "Procedimento penale",
            Matter::Amministrativo => "Giudizio amministrativo (TAR, Consiglio di Stato)",
            Matter::Tributario => "Giudizio tributario",
        }
    }

    /// V1–V3: matters this Ordine does not decide, with where to go instead.
    pub fn redirect(self) -> Option<&'static str> {
        match self {
            Matter::Penale => Some(
                "Nei procedimenti penali l'istanza di ammissione al patrocinio a spese dello Stato va presentata all'ufficio del magistrato davanti al quale pende il processo (art. 93 D.P.R. 115/2002), non al Consiglio dell'Ordine.",
            ),
            Matter::Amministrativo => Some(
                "Per i giudizi davanti al TAR o al Consiglio di Stato l'istanza va presentata alla Commissione per il patrocinio a spese dello Stato istituita presso il giudice amministrativo.",
            ),
            Matter::Tributario => Some(
                "Per i giudizi tributari l'istanza va presentata alla Commissione del patrocinio a spese dello Stato presso la Corte di giustizia tributaria (artt. 138-139 D.P.R. 115/2002).",
            ),
            _ => None,
        }
    }

    pub fn rule(self) -> &'static str {
        match self {
            Matter::Penale => "V1",
            Matter::Amministrativo => "V2",
            Matter::Tributario => "V3",
            _ => "",
        }
    }

    /// The list of art. 81 the chosen lawyer must be on.
    pub fn list(self) -> ListMatter {
        match self {
            Matter::VolontariaGiurisdizione => ListMatter::VolontariaGiurisdizione,
            Matter::Contabile => ListMatter::Contabile,
            Matter::Penale => ListMatter::Penale,
            Matter::Amministrativo => ListMatter::Amministrativo,
            Matter::Tributario => ListMatter::Tributario,
            _ => ListMatter::Civile,
        }
    }

    /// V22: the counterparty is optional in non-contentious proceedings.
    pub fn has_counterparty(self) -> bool {
        self != Matter::VolontariaGiurisdizione
    }

    /// For Cassazione the competent Ordine is the one of the judge who issued the decision under
    /// appeal (art. 124 c.2), so the form asks for that judge.
    pub fn office_question(self) -> &'static str {
        match self {
            Matter::Cassazione => "Giudice che ha emesso il provvedimento impugnato",
            Matter::Mediazione | Matter::Negoziazione => {
                "Ufficio giudiziario che sarebbe competente per la causa"
            }
            _ => "Ufficio giudiziario davanti al quale pende o sarà proposto il giudizio",
        }
    }
}

/// The matters of the legal-aid lists (art. 81 c.2 lett. a).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListMatter {
    Civile,
    Penale,
    Amministrativo,
    Contabile,
    Tributario,
    VolontariaGiurisdizione,
}

impl ListMatter {
    pub const ALL: [ListMatter; 6] = [
        ListMatter::Civile,
        ListMatter::Penale,
        ListMatter::Amministrativo,
        ListMatter::Contabile,
        ListMatter::Tributario,
        ListMatter::VolontariaGiurisdizione,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ListMatter::Civile => "civile",
            ListMatter::Penale => "penale",
            ListMatter::Amministrativo => "amministrativo",
            ListMatter::Contabile => "contabile",
            ListMatter::Tributario => "tributario",
            ListMatter::VolontariaGiurisdizione => "volontaria_giurisdizione",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            ListMatter::Civile => "civile",
            ListMatter::Penale => "penale",
            ListMatter::Amministrativo => "amministrativo",
            ListMatter::Contabile => "contabile",
            ListMatter::Tributario => "tributario",
            ListMatter::VolontariaGiurisdizione => "volontaria giurisdizione",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_only_three_matters_are_redirected() {
        for m in Matter::ALL {
            assert_eq!(Matter::from_code(m.code()), Some(m));
        }
        let redirected: Vec<_> = Matter::ALL
            .iter()
            .filter(|m| m.redirect().is_some())
            .collect();
        assert_eq!(
            redirected,
            vec![
                &Matter::Penale,
                &Matter::Amministrativo,
                &Matter::Tributario
            ]
        );
        for l in ListMatter::ALL {
            assert_eq!(ListMatter::from_code(l.code()), Some(l));
        }
    }
}
