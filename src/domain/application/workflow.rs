//! The life of an application after submission (domain.md §9): states, actions, who may
//! perform each, and the guards. Every handler that changes an application's state asks
//! [`transition`] first; the database write repeats the state in its WHERE clause.

use serde::{Deserialize, Serialize};

/// The states of an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Bozza,
    Presentata,
    Protocollata,
    InIstruttoria,
    IntegrazioneRichiesta,
    PropostaAmmissione,
    PropostaRigetto,
    PropostaInammissibile,
    IscrittaAdunanza,
    Ammessa,
    Respinta,
    Inammissibile,
    Rinunciata,
    Revocata,
}

impl Stage {
    pub const ALL: [Stage; 14] = [
        Stage::Bozza,
        Stage::Presentata,
        Stage::Protocollata,
        Stage::InIstruttoria,
        Stage::IntegrazioneRichiesta,
        Stage::PropostaAmmissione,
        Stage::PropostaRigetto,
        Stage::PropostaInammissibile,
        Stage::IscrittaAdunanza,
        Stage::Ammessa,
        Stage::Respinta,
        Stage::Inammissibile,
        Stage::Rinunciata,
        Stage::Revocata,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Stage::Bozza => "bozza",
            Stage::Presentata => "presentata",
            Stage::Protocollata => "protocollata",
            Stage::InIstruttoria => "in_istruttoria",
            Stage::IntegrazioneRichiesta => "integrazione_richiesta",
            Stage::PropostaAmmissione => "proposta_ammissione",
            Stage::PropostaRigetto => "proposta_rigetto",
            Stage::PropostaInammissibile => "proposta_inammissibile",
            Stage::IscrittaAdunanza => "iscritta_adunanza",
            Stage::Ammessa => "ammessa",
            Stage::Respinta => "respinta",
            Stage::Inammissibile => "inammissibile",
            Stage::Rinunciata => "rinunciata",
            Stage::Revocata => "revocata",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The state as the public status page and the lists say it.
    pub fn label(self) -> &'static str {
        match self {
            Stage::Bozza => "Bozza (non ancora presentata)",
            Stage::Presentata => "Presentata, in attesa di registrazione",
            Stage::Protocollata => "Registrata nel protocollo, in attesa di assegnazione",
            Stage::InIstruttoria => "In esame presso il consigliere relatore",
            Stage::IntegrazioneRichiesta => "Integrazione richiesta",
            Stage::PropostaAmmissione => "Proposta di ammissione",
            Stage::PropostaRigetto => "Proposta di rigetto",
            Stage::PropostaInammissibile => "Proposta di inammissibilità",
            Stage::IscrittaAdunanza => "All'ordine del giorno dell'adunanza",
            Stage::Ammessa => "Ammessa in via anticipata e provvisoria",
            Stage::Respinta => "Respinta",
            Stage::Inammissibile => "Dichiarata inammissibile",
            Stage::Rinunciata => "Rinunciata",
            Stage::Revocata => "Ammissione revocata dal giudice",
        }
    }

    /// What happens next, in plain Italian (public status page).
    pub fn next_step(self) -> &'static str {
        match self {
            Stage::Bozza => {
                "L'istanza non è ancora stata presentata: completare i passaggi mancanti e inviarla dal riepilogo. Le bozze non modificate per 90 giorni vengono cancellate."
            }
            Stage::Presentata => {
                "La segreteria dell'Ordine registrerà l'istanza nel protocollo e la assegnerà a un consigliere relatore."
            }
            Stage::Protocollata => {
                "L'istanza sarà assegnata a un consigliere relatore. Il Consiglio decide di norma entro dieci giorni dalla presentazione (art. 126 D.P.R. 115/2002)."
            }
            Stage::InIstruttoria => {
                "Il consigliere relatore sta esaminando l'istanza; può chiedere documenti mancanti."
            }
            Stage::IntegrazioneRichiesta => {
                "Occorre inviare i documenti richiesti entro il termine indicato: in mancanza l'istanza può essere dichiarata inammissibile (art. 79, comma 3)."
            }
            Stage::PropostaAmmissione | Stage::PropostaRigetto | Stage::PropostaInammissibile => {
                "Il relatore ha formulato la proposta: la decisione spetta al Consiglio dell'Ordine."
            }
            Stage::IscrittaAdunanza => "Il Consiglio deciderà nella prossima adunanza.",
            Stage::Ammessa => {
                "Il richiedente è ammesso in via anticipata e provvisoria: la delibera è comunicata all'avvocato, al giudice e all'Agenzia delle Entrate (artt. 126-127)."
            }
            Stage::Respinta | Stage::Inammissibile => {
                "L'istanza può essere riproposta al magistrato competente per il giudizio, che decide con decreto (art. 126, comma 3)."
            }
            Stage::Rinunciata => "Il richiedente ha rinunciato all'istanza.",
            Stage::Revocata => "Il giudice ha revocato l'ammissione (art. 136).",
        }
    }

    pub fn is_decided(self) -> bool {
        matches!(
            self,
            Stage::Ammessa | Stage::Respinta | Stage::Inammissibile
        )
    }

    pub fn is_proposal(self) -> bool {
        matches!(
            self,
            Stage::PropostaAmmissione | Stage::PropostaRigetto | Stage::PropostaInammissibile
        )
    }

    /// Still waiting for a decision (the 10-day clock runs).
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Stage::Protocollata
                | Stage::InIstruttoria
                | Stage::IntegrazioneRichiesta
                | Stage::PropostaAmmissione
                | Stage::PropostaRigetto
                | Stage::PropostaInammissibile
                | Stage::IscrittaAdunanza
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ammissione,
    Rigetto,
    Inammissibilita,
}

impl Outcome {
    pub const ALL: [Outcome; 3] = [
        Outcome::Ammissione,
        Outcome::Rigetto,
        Outcome::Inammissibilita,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Outcome::Ammissione => "ammissione",
            Outcome::Rigetto => "rigetto",
            Outcome::Inammissibilita => "inammissibilita",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Ammissione => "Ammissione",
            Outcome::Rigetto => "Rigetto",
            Outcome::Inammissibilita => "Inammissibilità",
        }
    }

    pub fn proposal(self) -> Stage {
        match self {
            Outcome::Ammissione => Stage::PropostaAmmissione,
            Outcome::Rigetto => Stage::PropostaRigetto,
            Outcome::Inammissibilita => Stage::PropostaInammissibile,
        }
    }

    pub fn decision(self) -> Stage {
        match self {
            Outcome::Ammissione => Stage::Ammessa,
            Outcome::Rigetto => Stage::Respinta,
            Outcome::Inammissibilita => Stage::Inammissibile,
        }
    }

    pub fn of_proposal(stage: Stage) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.proposal() == stage)
    }
}

/// Who acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The applicant, with code and PIN (no account).
    Applicant,
    /// A lawyer's account.
    Lawyer,
    Secretariat,
    Rapporteur,
}

impl Actor {
    pub const ALL: [Actor; 4] = [
        Actor::Applicant,
        Actor::Lawyer,
        Actor::Secretariat,
        Actor::Rapporteur,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Actor::Applicant => "il richiedente",
            Actor::Lawyer => "l'avvocato",
            Actor::Secretariat => "la segreteria",
            Actor::Rapporteur => "il consigliere relatore",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Registration in the protocol (acquisizione).
    Register,
    /// The registration was a mistake: its protocol entry is cancelled (a new entry) and the
    /// application waits to be registered again.
    CancelRegistration,
    /// Assignment (or reassignment) to a rapporteur.
    Assign,
    RequestIntegration,
    AnswerIntegration,
    /// The rapporteur's proposal; with council sessions off it is the decision itself.
    Propose(Outcome),
    /// A proposal goes back to examination.
    SendBack,
    /// A proposal goes on the agenda of a council session.
    Schedule,
    /// The council adopts the decision (recorded by the secretariat).
    Adopt(Outcome),
    /// The council postpones: back to examination.
    Postpone,
    /// Withdrawal (rinuncia) before the decision.
    Withdraw,
    /// The judge's revocation decree (art. 136), recorded by the secretariat.
    RecordRevocation,
    /// The re-proposal to the judge (art. 126 c.3), recorded by the secretariat.
    RecordReproposal,
}

impl Action {
    pub fn all() -> Vec<Action> {
        let mut v = vec![
            Action::Register,
            Action::CancelRegistration,
            Action::Assign,
            Action::RequestIntegration,
            Action::AnswerIntegration,
            Action::SendBack,
            Action::Schedule,
            Action::Postpone,
            Action::Withdraw,
            Action::RecordRevocation,
            Action::RecordReproposal,
        ];
        v.extend(Outcome::ALL.into_iter().map(Action::Propose));
        v.extend(Outcome::ALL.into_iter().map(Action::Adopt));
        v
    }

    pub fn label(self) -> String {
        match self {
            Action::Register => "registrare nel protocollo".into(),
            Action::CancelRegistration => "annullare la registrazione di protocollo".into(),
            Action::Assign => "assegnare a un relatore".into(),
            Action::RequestIntegration => "chiedere un'integrazione".into(),
            Action::AnswerIntegration => "rispondere alla richiesta di integrazione".into(),
            Action::Propose(o) => format!("proporre: {}", o.label().to_lowercase()),
            Action::SendBack => "rimandare in istruttoria".into(),
            Action::Schedule => "iscrivere all'adunanza".into(),
            Action::Adopt(o) => format!("deliberare: {}", o.label().to_lowercase()),
            Action::Postpone => "rinviare l'esame".into(),
            Action::Withdraw => "registrare la rinuncia".into(),
            Action::RecordRevocation => "registrare la revoca del giudice".into(),
            Action::RecordReproposal => "registrare la riproposizione al giudice".into(),
        }
    }
}

/// What the rules need to know about the application and the actor.
#[derive(Clone, Copy, Debug, Default)]
pub struct Facts {
    /// The acting rapporteur is the one assigned to this application.
    pub is_assigned_rapporteur: bool,
    /// The acting lawyer is the one named in the application.
    pub is_chosen_lawyer: bool,
    /// The application was filed by the applicant alone (they may answer integrations).
    pub filed_by_applicant: bool,
    /// The Ordine decides in council sessions (else the rapporteur's decision is final).
    pub council_sessions: bool,
    /// The integration deadline has passed.
    pub integration_expired: bool,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

fn refuse(msg: impl Into<String>) -> Result<Stage, Refused> {
    Err(Refused(msg.into()))
}

/// The state after `action` by `actor`, or why it is refused.
pub fn transition(stage: Stage, action: Action, actor: Actor, f: Facts) -> Result<Stage, Refused> {
    use Action::*;
    use Actor::*;
    use Stage::*;
    let not_now = || {
        Refused(format!(
            "Non è possibile {} quando l'istanza è nello stato «{}».",
            action.label(),
            stage.label()
        ))
    };
    let not_you = || {
        Refused(format!(
            "Questa operazione spetta a chi ne ha la competenza: {} non può {}.",
            actor.label(),
            action.label()
        ))
    };
    match action {
        Register => match (stage, actor) {
            (Presentata, Secretariat) => Ok(Protocollata),
            (Presentata, _) => Err(not_you()),
            _ => Err(not_now()),
        },
        CancelRegistration => match (stage, actor) {
            (Protocollata, Secretariat) => Ok(Presentata),
            (Protocollata, _) => Err(not_you()),
            _ => Err(not_now()),
        },
        Assign => match (stage, actor) {
            (Protocollata | InIstruttoria | IntegrazioneRichiesta, Secretariat) => {
                Ok(match stage {
                    Protocollata => InIstruttoria,
                    other => other,
                })
            }
            (Protocollata | InIstruttoria | IntegrazioneRichiesta, _) => Err(not_you()),
            _ => Err(not_now()),
        },
        RequestIntegration => match (stage, actor) {
            (InIstruttoria, Rapporteur) if f.is_assigned_rapporteur => Ok(IntegrazioneRichiesta),
            (InIstruttoria, _) => Err(not_you()),
            _ => Err(not_now()),
        },
        AnswerIntegration => match (stage, actor) {
            (IntegrazioneRichiesta, Lawyer) if f.is_chosen_lawyer => Ok(InIstruttoria),
            (IntegrazioneRichiesta, Applicant) if f.filed_by_applicant => Ok(InIstruttoria),
            (IntegrazioneRichiesta, _) => Err(not_you()),
            _ => Err(not_now()),
        },
        Propose(outcome) => {
            let allowed = match stage {
                InIstruttoria => true,
                // An unanswered request past its deadline: only inadmissibility (art. 79 c.3).
                IntegrazioneRichiesta => {
                    f.integration_expired && outcome == Outcome::Inammissibilita
                }
                _ => false,
            };
            match (allowed, actor) {
                (true, Rapporteur) if f.is_assigned_rapporteur => Ok(if f.council_sessions {
                    outcome.proposal()
                } else {
                    outcome.decision()
                }),
                (true, _) => Err(not_you()),
                (false, _) if stage == IntegrazioneRichiesta => refuse(
                    "Durante una richiesta di integrazione si può solo dichiarare l'inammissibilità, e solo dopo la scadenza del termine (art. 79, comma 3).",
                ),
                (false, _) => Err(not_now()),
            }
        }
        SendBack => match (stage, actor) {
            (s, Rapporteur | Secretariat)
                if s.is_proposal() && (actor == Secretariat || f.is_assigned_rapporteur) =>
            {
                Ok(InIstruttoria)
            }
            (s, _) if s.is_proposal() => Err(not_you()),
            _ => Err(not_now()),
        },
        Schedule => match (stage, actor) {
            (s, Secretariat) if s.is_proposal() => Ok(IscrittaAdunanza),
            (s, _) if s.is_proposal() => Err(not_you()),
            _ => Err(not_now()),
        },
        Adopt(outcome) => match (stage, actor) {
            (IscrittaAdunanza, Secretariat) => Ok(outcome.decision()),
            (IscrittaAdunanza, _) => Err(not_you()),
            _ => Err(not_now()),
        },
        // The case moves to the next session's agenda, its proposal kept.
        Postpone => match (stage, actor) {
            (IscrittaAdunanza, Secretariat) => Ok(IscrittaAdunanza),
            (IscrittaAdunanza, _) => Err(not_you()),
            _ => Err(not_now()),
        },
        Withdraw => match (stage, actor) {
            (
                Presentata
                | Protocollata
                | InIstruttoria
                | IntegrazioneRichiesta
                | PropostaAmmissione
                | PropostaRigetto
                | PropostaInammissibile
                | IscrittaAdunanza,
                Secretariat,
            ) => Ok(Rinunciata),
            (
                Presentata
                | Protocollata
                | InIstruttoria
                | IntegrazioneRichiesta
                | PropostaAmmissione
                | PropostaRigetto
                | PropostaInammissibile
                | IscrittaAdunanza,
                Lawyer,
            ) if f.is_chosen_lawyer => Ok(Rinunciata),
            (
                Presentata
                | Protocollata
                | InIstruttoria
                | IntegrazioneRichiesta
                | PropostaAmmissione
                | PropostaRigetto
                | PropostaInammissibile
                | IscrittaAdunanza,
                _,
            ) => Err(not_you()),
            _ => Err(not_now()),
        },
        RecordRevocation => match (stage, actor) {
            (Ammessa, Secretariat) => Ok(Revocata),
            (Ammessa, _) => Err(not_you()),
            _ => Err(not_now()),
        },
        RecordReproposal => match (stage, actor) {
            (Respinta | Inammissibile, Secretariat) => Ok(stage),
            (Respinta | Inammissibile, _) => Err(not_you()),
            _ => Err(not_now()),
        },
    }
}

/// What the history of an application records: transitions and facts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    Submitted,
    Registered,
    RegistrationCancelled,
    Assigned,
    Reassigned,
    UrgencyChanged,
    IntegrationRequested,
    IntegrationAnswered,
    Proposed,
    SentBack,
    Scheduled,
    Decided,
    Postponed,
    DecisionSigned,
    Withdrawn,
    Revoked,
    Reproposed,
    /// A signed file's verification redone (the trusted lists changed) with another result.
    SignatureReverified,
    /// A delibera left for its recipients (outgoing protocol entry, messages).
    Transmitted,
    /// The copy for the judge was handed to the applicant, who files it.
    HandedOver,
    /// A PEC receipt moved a transmission on (accepted, delivered).
    PecReceipt,
    /// A PEC receipt says a transmission was not delivered.
    DeliveryFailed,
}

impl EventKind {
    pub const ALL: [EventKind; 22] = [
        EventKind::Submitted,
        EventKind::Registered,
        EventKind::RegistrationCancelled,
        EventKind::Assigned,
        EventKind::Reassigned,
        EventKind::UrgencyChanged,
        EventKind::IntegrationRequested,
        EventKind::IntegrationAnswered,
        EventKind::Proposed,
        EventKind::SentBack,
        EventKind::Scheduled,
        EventKind::Decided,
        EventKind::Postponed,
        EventKind::DecisionSigned,
        EventKind::Withdrawn,
        EventKind::Revoked,
        EventKind::Reproposed,
        EventKind::SignatureReverified,
        EventKind::Transmitted,
        EventKind::HandedOver,
        EventKind::PecReceipt,
        EventKind::DeliveryFailed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EventKind::Submitted => "presentata",
            EventKind::Registered => "protocollata",
            EventKind::RegistrationCancelled => "protocollo_annullato",
            EventKind::Assigned => "assegnata",
            EventKind::Reassigned => "riassegnata",
            EventKind::UrgencyChanged => "urgenza",
            EventKind::IntegrationRequested => "integrazione_richiesta",
            EventKind::IntegrationAnswered => "integrazione_ricevuta",
            EventKind::Proposed => "proposta",
            EventKind::SentBack => "rimessa_in_istruttoria",
            EventKind::Scheduled => "iscritta_adunanza",
            EventKind::Decided => "deliberata",
            EventKind::Postponed => "rinviata",
            EventKind::DecisionSigned => "delibera_firmata",
            EventKind::Withdrawn => "rinunciata",
            EventKind::Revoked => "revocata",
            EventKind::Reproposed => "riproposta_al_giudice",
            EventKind::SignatureReverified => "firma_riverificata",
            EventKind::Transmitted => "delibera_trasmessa",
            EventKind::HandedOver => "copia_consegnata_al_richiedente",
            EventKind::PecReceipt => "ricevuta_pec",
            EventKind::DeliveryFailed => "consegna_pec_non_riuscita",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// As the history says it.
    pub fn label(self) -> &'static str {
        match self {
            EventKind::Submitted => "Istanza presentata",
            EventKind::Registered => "Registrata nel protocollo",
            EventKind::RegistrationCancelled => "Registrazione di protocollo annullata",
            EventKind::Assigned => "Assegnata al consigliere relatore",
            EventKind::Reassigned => "Riassegnata ad altro consigliere relatore",
            EventKind::UrgencyChanged => "Urgenza modificata",
            EventKind::IntegrationRequested => "Richiesta di integrazione",
            EventKind::IntegrationAnswered => "Integrazione ricevuta",
            EventKind::Proposed => "Proposta del relatore",
            EventKind::SentBack => "Rimessa in istruttoria",
            EventKind::Scheduled => "Iscritta all'ordine del giorno dell'adunanza",
            EventKind::Decided => "Delibera adottata",
            EventKind::Postponed => "Rinviata all'adunanza successiva",
            EventKind::DecisionSigned => "Delibera firmata digitalmente",
            EventKind::Withdrawn => "Rinuncia all'istanza",
            EventKind::Revoked => "Ammissione revocata dal giudice",
            EventKind::Reproposed => "Istanza riproposta al giudice",
            EventKind::SignatureReverified => "Rapporto di verifica della firma aggiornato",
            EventKind::Transmitted => "Delibera trasmessa",
            EventKind::HandedOver => "Copia per il giudice consegnata al richiedente",
            EventKind::PecReceipt => "Ricevuta PEC",
            EventKind::DeliveryFailed => "Consegna PEC non riuscita",
        }
    }

    /// The event an action records.
    pub fn of(action: Action) -> Self {
        match action {
            Action::Register => EventKind::Registered,
            Action::CancelRegistration => EventKind::RegistrationCancelled,
            Action::Assign => EventKind::Assigned,
            Action::RequestIntegration => EventKind::IntegrationRequested,
            Action::AnswerIntegration => EventKind::IntegrationAnswered,
            Action::Propose(_) => EventKind::Proposed,
            Action::SendBack => EventKind::SentBack,
            Action::Schedule => EventKind::Scheduled,
            Action::Adopt(_) => EventKind::Decided,
            Action::Postpone => EventKind::Postponed,
            Action::Withdraw => EventKind::Withdrawn,
            Action::RecordRevocation => EventKind::Revoked,
            Action::RecordReproposal => EventKind::Reproposed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Actor::*;
    use Stage::*;

    /// Facts in which every guard passes for the actor (assigned rapporteur, chosen lawyer,
    /// applicant who filed alone), with or without council sessions.
    fn facts(council: bool) -> Facts {
        Facts {
            is_assigned_rapporteur: true,
            is_chosen_lawyer: true,
            filed_by_applicant: true,
            council_sessions: council,
            integration_expired: false,
        }
    }

    /// The whole permission table with council sessions on: (state, action, actor) → state.
    /// Anything not listed must be refused.
    fn allowed(council: bool) -> Vec<(Stage, Action, Actor, Stage)> {
        let mut t = vec![
            (Presentata, Register, Secretariat, Protocollata),
            (Protocollata, CancelRegistration, Secretariat, Presentata),
            (Protocollata, Assign, Secretariat, InIstruttoria),
            (InIstruttoria, Assign, Secretariat, InIstruttoria),
            (
                IntegrazioneRichiesta,
                Assign,
                Secretariat,
                IntegrazioneRichiesta,
            ),
            (
                InIstruttoria,
                RequestIntegration,
                Rapporteur,
                IntegrazioneRichiesta,
            ),
            (
                IntegrazioneRichiesta,
                AnswerIntegration,
                Lawyer,
                InIstruttoria,
            ),
            (
                IntegrazioneRichiesta,
                AnswerIntegration,
                Applicant,
                InIstruttoria,
            ),
            (Ammessa, RecordRevocation, Secretariat, Revocata),
            (Respinta, RecordReproposal, Secretariat, Respinta),
            (Inammissibile, RecordReproposal, Secretariat, Inammissibile),
        ];
        for o in Outcome::ALL {
            t.push((
                InIstruttoria,
                Propose(o),
                Rapporteur,
                if council { o.proposal() } else { o.decision() },
            ));
            t.push((IscrittaAdunanza, Adopt(o), Secretariat, o.decision()));
        }
        for p in [PropostaAmmissione, PropostaRigetto, PropostaInammissibile] {
            t.push((p, SendBack, Rapporteur, InIstruttoria));
            t.push((p, SendBack, Secretariat, InIstruttoria));
            t.push((p, Schedule, Secretariat, IscrittaAdunanza));
        }
        t.push((IscrittaAdunanza, Postpone, Secretariat, IscrittaAdunanza));
        for s in [
            Presentata,
            Protocollata,
            InIstruttoria,
            IntegrazioneRichiesta,
            PropostaAmmissione,
            PropostaRigetto,
            PropostaInammissibile,
            IscrittaAdunanza,
        ] {
            t.push((s, Withdraw, Secretariat, Rinunciata));
            t.push((s, Withdraw, Lawyer, Rinunciata));
        }
        t
    }

    #[test]
    fn every_state_action_and_actor_is_allowed_or_refused_with_a_message() {
        for council in [true, false] {
            let table = allowed(council);
            let mut checked = 0;
            for stage in Stage::ALL {
                for action in Action::all() {
                    for actor in Actor::ALL {
                        let got = transition(stage, action, actor, facts(council));
                        let expected = table
                            .iter()
                            .find(|(s, a, r, _)| *s == stage && *a == action && *r == actor)
                            .map(|(_, _, _, to)| *to);
                        match (expected, got) {
                            (Some(to), Ok(got)) => {
                                assert_eq!(got, to, "{stage:?} {action:?} {actor:?}")
                            }
                            (None, Err(Refused(msg))) => {
                                assert!(msg.len() > 20, "{stage:?} {action:?} {actor:?}: {msg}")
                            }
                            (e, g) => panic!(
                                "{stage:?} {action:?} {actor:?} (sessions {council}): expected {e:?}, got {g:?}"
                            ),
                        }
                        checked += 1;
                    }
                }
            }
            assert_eq!(checked, 14 * 17 * 4);
        }
    }

    #[test]
    fn guards_refuse_the_wrong_person() {
        let mut f = facts(true);
        f.is_assigned_rapporteur = false;
        let e = transition(InIstruttoria, Propose(Outcome::Ammissione), Rapporteur, f).unwrap_err();
        assert!(e.0.contains("il consigliere relatore non può"), "{e}");
        assert!(transition(InIstruttoria, RequestIntegration, Rapporteur, f).is_err());
        let mut f = facts(true);
        f.is_chosen_lawyer = false;
        assert!(transition(IntegrazioneRichiesta, AnswerIntegration, Lawyer, f).is_err());
        assert!(transition(InIstruttoria, Withdraw, Lawyer, f).is_err());
        let mut f = facts(true);
        f.filed_by_applicant = false;
        assert!(transition(IntegrazioneRichiesta, AnswerIntegration, Applicant, f).is_err());
    }

    #[test]
    fn an_expired_integration_allows_only_inadmissibility() {
        let mut f = facts(false);
        let e = transition(
            IntegrazioneRichiesta,
            Propose(Outcome::Inammissibilita),
            Rapporteur,
            f,
        )
        .unwrap_err();
        assert!(e.0.contains("art. 79, comma 3"));
        f.integration_expired = true;
        assert_eq!(
            transition(
                IntegrazioneRichiesta,
                Propose(Outcome::Inammissibilita),
                Rapporteur,
                f
            ),
            Ok(Inammissibile)
        );
        assert!(
            transition(
                IntegrazioneRichiesta,
                Propose(Outcome::Ammissione),
                Rapporteur,
                f
            )
            .is_err()
        );
    }

    #[test]
    fn refusals_say_why_in_italian() {
        let e = transition(Ammessa, Register, Secretariat, facts(true)).unwrap_err();
        assert_eq!(
            e.0,
            "Non è possibile registrare nel protocollo quando l'istanza è nello stato «Ammessa in via anticipata e provvisoria»."
        );
        let e = transition(Presentata, Register, Lawyer, facts(true)).unwrap_err();
        assert_eq!(
            e.0,
            "Questa operazione spetta a chi ne ha la competenza: l'avvocato non può registrare nel protocollo."
        );
        for s in Stage::ALL {
            assert_eq!(Stage::from_code(s.code()), Some(s));
        }
    }
}
