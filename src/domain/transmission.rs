//! Who a delibera goes to (artt. 126 c.2 and 127 c.1 D.P.R. 115/2002), what the delibera says
//! about it, and the states of one transmission to one recipient.

use super::application::Outcome;

/// One recipient of a delibera.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// The applicant (interessato), every outcome.
    Applicant,
    /// The lawyer, every outcome (practice: communications go through the lawyer's PEC).
    Lawyer,
    /// The competent judicial office, admissions only.
    Judge,
    /// The Agenzia delle Entrate (ufficio finanziario), admissions only (art. 127 c.1).
    TaxAgency,
}

impl Recipient {
    pub const ALL: [Recipient; 4] = [
        Recipient::Applicant,
        Recipient::Lawyer,
        Recipient::Judge,
        Recipient::TaxAgency,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Recipient::Applicant => "richiedente",
            Recipient::Lawyer => "avvocato",
            Recipient::Judge => "ufficio_giudiziario",
            Recipient::TaxAgency => "agenzia_entrate",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Recipient::Applicant => "Interessato",
            Recipient::Lawyer => "Difensore",
            Recipient::Judge => "Ufficio giudiziario",
            Recipient::TaxAgency => "Agenzia delle Entrate",
        }
    }
}

/// Who receives a copy of a delibera with this outcome: an admission goes to the applicant,
/// the lawyer, the judge and the Agenzia delle Entrate; a rejection or an inadmissibility to
/// the applicant and the lawyer only (the applicant may take it to the judge, art. 126 c.3).
pub fn recipients(outcome: Outcome) -> &'static [Recipient] {
    match outcome {
        Outcome::Ammissione => &Recipient::ALL,
        Outcome::Rigetto | Outcome::Inammissibilita => &[Recipient::Applicant, Recipient::Lawyer],
    }
}

/// Where one transmission stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Waiting for something before it can leave: the judicial office (or its PEC), or the
    /// Agenzia delle Entrate's periodic batch.
    Waiting,
    /// Registered in the protocol and queued in the outbox.
    Queued,
    /// The PEC provider's acceptance receipt.
    Accepted,
    /// The recipient's delivery receipt.
    Delivered,
    /// The PEC could not be delivered.
    NotDelivered,
    /// The copy for the judge was handed to the applicant, who files it with the court.
    HandedToApplicant,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Waiting,
        State::Queued,
        State::Accepted,
        State::Delivered,
        State::NotDelivered,
        State::HandedToApplicant,
    ];

    pub fn code(self) -> &'static str {
        match self {
            State::Waiting => "da_trasmettere",
            State::Queued => "in_coda",
            State::Accepted => "accettata",
            State::Delivered => "consegnata",
            State::NotDelivered => "mancata_consegna",
            State::HandedToApplicant => "consegnata_al_richiedente",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            State::Waiting => "Da trasmettere",
            State::Queued => "In coda",
            State::Accepted => "Accettata",
            State::Delivered => "Consegnata",
            State::NotDelivered => "Mancata consegna",
            State::HandedToApplicant => "Consegnata al richiedente per il deposito",
        }
    }
}

/// What the secretariat may do with the copy for the judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JudgeAction {
    /// Send it by PEC to the office chosen now.
    Send,
    /// Record that the copy was handed to the applicant, who files it.
    HandOver,
}

/// The copy for the judge can be sent, or recorded as handed over, only while it waits: once
/// it left (or was handed over) nothing is sent twice.
pub fn judge_action(state: State, _action: JudgeAction) -> Result<(), &'static str> {
    match state {
        State::Waiting => Ok(()),
        State::HandedToApplicant => {
            Err("La copia per l'ufficio giudiziario risulta già consegnata al richiedente.")
        }
        _ => Err("La delibera è già stata trasmessa all'ufficio giudiziario."),
    }
}

/// The sentence of the delibera that names where its copies go; `office` is the judicial
/// office when known, `lawyer` the lawyer's name.
pub fn delibera_sentence(outcome: Outcome, lawyer: Option<&str>, office: Option<&str>) -> String {
    let mut to = vec!["all'interessato".to_owned()];
    if let Some(l) = lawyer.filter(|l| !l.trim().is_empty()) {
        to.push(format!("al difensore, Avv. {}", l.trim()));
    }
    if outcome == Outcome::Ammissione {
        to.push(match office.filter(|o| !o.trim().is_empty()) {
            Some(o) => format!("al magistrato competente presso: {}", o.trim()),
            None => "al magistrato competente, appena individuato l'ufficio giudiziario".into(),
        });
        to.push("all'Agenzia delle Entrate per le verifiche di competenza".into());
    }
    let list = match to.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} e {last}", rest.join(", ")),
        _ => to.join(""),
    };
    let law = if outcome == Outcome::Ammissione {
        "artt. 126, comma 2, e 127 D.P.R. 115/2002"
    } else {
        "art. 126, comma 2, D.P.R. 115/2002"
    };
    format!("Copia della presente delibera è trasmessa {list} ({law}).")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_admission_goes_to_the_judge_and_the_tax_agency() {
        assert_eq!(recipients(Outcome::Ammissione).len(), 4);
        for o in [Outcome::Rigetto, Outcome::Inammissibilita] {
            assert_eq!(recipients(o), &[Recipient::Applicant, Recipient::Lawyer]);
        }
    }

    #[test]
    fn the_delibera_names_its_recipients() {
        let s = delibera_sentence(
            Outcome::Ammissione,
            Some("Bianchi Luca"),
            Some("Tribunale di Vallenera"),
        );
        assert_eq!(
            s,
            "Copia della presente delibera è trasmessa all'interessato, al difensore, Avv. Bianchi Luca, al magistrato competente presso: Tribunale di Vallenera e all'Agenzia delle Entrate per le verifiche di competenza (artt. 126, comma 2, e 127 D.P.R. 115/2002)."
        );
        let s = delibera_sentence(Outcome::Ammissione, None, None);
        assert!(
            s.contains("appena individuato l'ufficio giudiziario"),
            "{s}"
        );
        let s = delibera_sentence(Outcome::Rigetto, None, Some("Tribunale di Vallenera"));
        assert_eq!(
            s,
            "Copia della presente delibera è trasmessa all'interessato (art. 126, comma 2, D.P.R. 115/2002)."
        );
        assert!(!s.contains("Agenzia"));
    }

    #[test]
    fn the_copy_for_the_judge_leaves_once() {
        assert!(judge_action(State::Waiting, JudgeAction::Send).is_ok());
        assert!(judge_action(State::Waiting, JudgeAction::HandOver).is_ok());
        for s in [State::Queued, State::Delivered, State::HandedToApplicant] {
            assert!(judge_action(s, JudgeAction::Send).is_err());
            assert!(judge_action(s, JudgeAction::HandOver).is_err());
        }
        for s in State::ALL {
            assert_eq!(State::from_code(s.code()), Some(s));
        }
    }
}
