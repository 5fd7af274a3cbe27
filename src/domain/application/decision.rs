//! The decision (delibera): reason templates per outcome, the operative part, the legal
//! references, and the checks on what the rapporteur writes.

use super::{
    Outcome, check,
    form::{APPLICANT_KEY, Form},
};
use crate::domain::money::Euro;

/// A model of reasons the rapporteur starts from. `{reddito}` (the income weighed, with what it
/// is made of) and `{limite}` are filled from the application and the rapporteur's choice of
/// [`IncomeBasis`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    pub code: &'static str,
    pub outcome: Outcome,
    pub title: &'static str,
    pub text: &'static str,
    /// The template ends by announcing reasons that the rapporteur must then write.
    pub needs_text: bool,
}

pub const TEMPLATES: &[Template] = &[
    Template {
        code: "requisiti",
        outcome: Outcome::Ammissione,
        title: "Requisiti di reddito e non manifesta infondatezza",
        text: "Esaminata l'istanza e la documentazione allegata; rilevato che {reddito} non supera il limite di {limite} previsto dall'art. 76 del D.P.R. 30 maggio 2002, n. 115; ritenuto che le ragioni del richiedente non appaiono manifestamente infondate (art. 122 D.P.R. 115/2002).",
        needs_text: false,
    },
    Template {
        code: "reddito",
        outcome: Outcome::Rigetto,
        title: "Reddito superiore al limite",
        text: "Esaminata l'istanza e la documentazione allegata; rilevato che {reddito} supera il limite di {limite} previsto dall'art. 76 del D.P.R. 30 maggio 2002, n. 115.",
        needs_text: false,
    },
    Template {
        code: "infondatezza",
        outcome: Outcome::Rigetto,
        title: "Manifesta infondatezza",
        text: "Esaminata l'istanza e la documentazione allegata; ritenuto che le ragioni del richiedente appaiono manifestamente infondate (artt. 122 e 126, comma 1, D.P.R. 115/2002) per i motivi che seguono.",
        needs_text: true,
    },
    Template {
        code: "integrazione",
        outcome: Outcome::Inammissibilita,
        title: "Integrazione non prodotta nel termine",
        text: "Rilevato che il richiedente non ha prodotto, entro il termine assegnato, la documentazione e i chiarimenti richiesti ai sensi dell'art. 79, comma 3, D.P.R. 115/2002.",
        needs_text: false,
    },
    Template {
        code: "competenza",
        outcome: Outcome::Inammissibilita,
        title: "Difetto di competenza",
        text: "Rilevato che l'istanza non rientra nella competenza di questo Consiglio dell'Ordine (artt. 124 e 126 D.P.R. 115/2002) per i motivi che seguono.",
        needs_text: true,
    },
    Template {
        code: "sottoscrizione",
        outcome: Outcome::Inammissibilita,
        title: "Mancanza della sottoscrizione",
        text: "Rilevato che l'istanza è priva della sottoscrizione del richiedente autenticata nelle forme previste dall'art. 78 del D.P.R. 115/2002.",
        needs_text: false,
    },
];

/// Which income the decision weighs (art. 76 D.P.R. 115/2002).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IncomeBasis {
    /// The sum of the household's incomes (c. 2).
    Household,
    /// Only the applicant's: the case concerns personality rights (c. 4).
    PersonalRights,
    /// Only the applicant's: their interests conflict with the household's (c. 4).
    Conflict,
}

impl IncomeBasis {
    pub const ALL: [IncomeBasis; 3] = [
        IncomeBasis::Household,
        IncomeBasis::Conflict,
        IncomeBasis::PersonalRights,
    ];

    pub fn code(self) -> &'static str {
        match self {
            IncomeBasis::Household => "nucleo",
            IncomeBasis::PersonalRights => "personalita",
            IncomeBasis::Conflict => "conflitto",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            IncomeBasis::Household => {
                "Il reddito complessivo del nucleo familiare (art. 76, comma 2)"
            }
            IncomeBasis::Conflict => {
                "Il solo reddito del richiedente: conflitto di interessi con i familiari conviventi (art. 76, comma 4)"
            }
            IncomeBasis::PersonalRights => {
                "Il solo reddito del richiedente: causa sui diritti della personalità (art. 76, comma 4)"
            }
        }
    }

    pub fn is_personal(self) -> bool {
        self != IncomeBasis::Household
    }

    /// What the reasons say of the income weighed, `amount` included.
    fn phrase(self, amount: &str) -> String {
        match self {
            IncomeBasis::Household => {
                format!("il reddito complessivo dichiarato, pari a {amount},")
            }
            IncomeBasis::Conflict => format!(
                "il reddito rilevante, costituito dal solo reddito personale del richiedente in ragione del conflitto di interessi con i familiari conviventi (art. 76, comma 4, D.P.R. 115/2002), pari a {amount},"
            ),
            IncomeBasis::PersonalRights => format!(
                "il reddito rilevante, costituito dal solo reddito personale del richiedente trattandosi di causa relativa a diritti della personalità (art. 76, comma 4, D.P.R. 115/2002), pari a {amount},"
            ),
        }
    }
}

/// The basis the rapporteur's form starts from: what the applicant declared (only their own
/// income, and why), or only their own when the opposing party lives with them.
pub fn suggested_basis(form: &Form) -> IncomeBasis {
    match (
        form.income.personal_only,
        form.income.personal_only_reason.as_str(),
    ) {
        (true, "personalita") => IncomeBasis::PersonalRights,
        (true, _) => IncomeBasis::Conflict,
        _ if check::counterparty_in_household(form).is_some() => IncomeBasis::Conflict,
        _ => IncomeBasis::Household,
    }
}

/// The applicant's own income (art. 76 c.4), when every amount of it is readable.
pub fn applicant_income(form: &Form) -> Option<Euro> {
    check::person_total(form.income_of(APPLICANT_KEY)?)
}

pub fn template(code: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.code == code)
}

pub fn templates_for(outcome: Outcome) -> impl Iterator<Item = &'static Template> {
    TEMPLATES.iter().filter(move |t| t.outcome == outcome)
}

/// The operative part (dispositivo) of the delibera.
pub fn operative(outcome: Outcome, applicant: &str) -> String {
    match outcome {
        Outcome::Ammissione => format!(
            "AMMETTE {applicant} in via anticipata e provvisoria al patrocinio a spese dello Stato per il giudizio indicato (art. 126, comma 1, D.P.R. 115/2002)."
        ),
        Outcome::Rigetto => "RESPINGE l'istanza. L'istanza può essere proposta al magistrato competente per il giudizio, che decide con decreto (art. 126, comma 3, D.P.R. 115/2002).".to_owned(),
        Outcome::Inammissibilita => "DICHIARA INAMMISSIBILE l'istanza. L'istanza può essere proposta al magistrato competente per il giudizio, che decide con decreto (art. 126, comma 3, D.P.R. 115/2002).".to_owned(),
    }
}

/// The legal references printed on the delibera.
pub fn references(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Ammissione => {
            "Artt. 74, 76, 79, 122, 124, 126 e 127 del D.P.R. 30 maggio 2002, n. 115"
        }
        Outcome::Rigetto => "Artt. 76, 122, 124 e 126 del D.P.R. 30 maggio 2002, n. 115",
        Outcome::Inammissibilita => "Artt. 78, 79, 124 e 126 del D.P.R. 30 maggio 2002, n. 115",
    }
}

pub const MAX_REASONS: usize = 8000;

/// The reasons from a template and the rapporteur's own text, or what is wrong, in Italian
/// (field, message).
pub fn reasons(
    outcome: Option<Outcome>,
    template_code: &str,
    own_text: &str,
    income: (IncomeBasis, Option<&str>),
    threshold: Option<&str>,
) -> Result<(Outcome, String), Vec<(String, String)>> {
    let mut errors = Vec::new();
    let Some(outcome) = outcome else {
        return Err(vec![(
            "esito".into(),
            "Scegliere l'esito proposto: ammissione, rigetto o inammissibilità.".into(),
        )]);
    };
    let own = own_text.trim();
    let template = match template(template_code) {
        Some(t) if t.outcome == outcome => Some(t),
        Some(_) => {
            errors.push((
                "modello".into(),
                "Il modello di motivazione scelto non corrisponde all'esito.".into(),
            ));
            None
        }
        None if template_code.is_empty() => None,
        None => {
            errors.push((
                "modello".into(),
                "Modello di motivazione sconosciuto.".into(),
            ));
            None
        }
    };
    if template.is_none() && own.chars().count() < 20 && errors.is_empty() {
        errors.push((
            "motivazione".into(),
            "Scegliere un modello di motivazione o scrivere la motivazione (almeno 20 caratteri)."
                .into(),
        ));
    }
    if template.is_some_and(|t| t.needs_text) && own.chars().count() < 20 {
        errors.push((
            "motivazione".into(),
            "Il modello scelto richiede di esporre i motivi: scriverli (almeno 20 caratteri)."
                .into(),
        ));
    }
    if own.chars().count() > MAX_REASONS {
        errors.push((
            "motivazione".into(),
            format!("La motivazione non può superare {MAX_REASONS} caratteri."),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut text = template
        .map(|t| {
            t.text
                .replace(
                    "{reddito}",
                    &income.0.phrase(income.1.unwrap_or("non indicato")),
                )
                .replace("{limite}", threshold.unwrap_or("non indicato"))
        })
        .unwrap_or_default();
    if !own.is_empty() {
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str(own);
    }
    Ok((outcome, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_INCOME: (IncomeBasis, Option<&str>) = (IncomeBasis::Household, None);

    #[test]
    fn the_income_weighed_is_said_as_the_rapporteur_chose_it() {
        let (_, text) = reasons(
            Some(Outcome::Ammissione),
            "requisiti",
            "",
            (IncomeBasis::Conflict, Some("€ 9.200,00")),
            Some("€ 13.659,64"),
        )
        .unwrap();
        assert!(text.contains(
            "solo reddito personale del richiedente in ragione del conflitto di interessi"
        ));
        assert!(text.contains("pari a € 9.200,00, non supera il limite di € 13.659,64"));
        assert!(!text.contains("complessivo"));
    }

    #[test]
    fn every_outcome_has_templates_an_operative_part_and_references() {
        for o in Outcome::ALL {
            assert!(templates_for(o).count() >= 1, "{o:?}");
            assert!(operative(o, "Mario Rossi").contains("art. 126"));
            assert!(references(o).contains("126"));
        }
        assert!(operative(Outcome::Ammissione, "Mario Rossi").starts_with("AMMETTE Mario Rossi"));
        // Where the copies go is said by `transmission::delibera_sentence`, from the case.
        assert!(!operative(Outcome::Ammissione, "x").contains("trasmessa"));
    }

    #[test]
    fn reasons_come_from_a_template_filled_in_plus_the_rapporteurs_text() {
        let (o, text) = reasons(
            Some(Outcome::Ammissione),
            "requisiti",
            "",
            (IncomeBasis::Household, Some("€ 11.000,00")),
            Some("€ 13.659,64"),
        )
        .unwrap();
        assert_eq!(o, Outcome::Ammissione);
        assert!(text.contains("pari a € 11.000,00, non supera il limite di € 13.659,64"));
        let (_, text) = reasons(
            Some(Outcome::Rigetto),
            "infondatezza",
            "La pretesa è prescritta dal 2019.",
            (IncomeBasis::Household, None),
            None,
        )
        .unwrap();
        assert!(text.ends_with("per i motivi che seguono.\n\nLa pretesa è prescritta dal 2019."));
    }

    #[test]
    fn what_is_missing_is_said_in_italian() {
        assert_eq!(
            reasons(None, "", "", NO_INCOME, None).unwrap_err()[0].0,
            "esito"
        );
        let e = reasons(Some(Outcome::Rigetto), "requisiti", "", NO_INCOME, None).unwrap_err();
        assert_eq!(
            e[0].1,
            "Il modello di motivazione scelto non corrisponde all'esito."
        );
        let e = reasons(
            Some(Outcome::Rigetto),
            "infondatezza",
            "breve",
            NO_INCOME,
            None,
        )
        .unwrap_err();
        assert!(
            e[0].1
                .starts_with("Il modello scelto richiede di esporre i motivi")
        );
        let e = reasons(Some(Outcome::Inammissibilita), "", "", NO_INCOME, None).unwrap_err();
        assert_eq!(e[0].0, "motivazione");
        assert!(
            reasons(
                Some(Outcome::Inammissibilita),
                "",
                "Materia penale: competente il giudice.",
                NO_INCOME,
                None
            )
            .is_ok()
        );
    }
}
