//! What a person may choose about their e-mails. Legal notices (the receipt, integration
//! requests and their deadlines, the outcome, the terms about to expire) always go; for the
//! rest each role has one choice: at once, in a morning digest, or not at all.

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Rome;

use super::{access::Role, application::workflow::EventKind};

/// How a choosable notice is delivered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// At once, one message each.
    Subito,
    /// One message in the morning with those of the day before.
    Riepilogo,
    /// None: the area is enough.
    Mai,
}

/// The hour of the morning digest, Italian time.
pub const DIGEST_HOUR: u32 = 7;

impl Delivery {
    pub const ALL: [Delivery; 3] = [Self::Subito, Self::Riepilogo, Self::Mai];

    pub fn code(self) -> &'static str {
        match self {
            Self::Subito => "subito",
            Self::Riepilogo => "riepilogo",
            Self::Mai => "mai",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }
}

/// A notice that is not a legal one, so its recipient may choose how to get it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Topic {
    /// A councillor given a case (or a case moved to them).
    Assegnazioni,
    /// The secretariat: an applicant answered an integration request (the rapporteur, who
    /// must act on it, always gets it).
    Integrazioni,
    /// A lawyer: their application was registered in the protocol.
    Protocollo,
}

impl Topic {
    pub const ALL: [Topic; 3] = [Self::Assegnazioni, Self::Integrazioni, Self::Protocollo];

    pub fn code(self) -> &'static str {
        match self {
            Self::Assegnazioni => "assegnazioni",
            Self::Integrazioni => "integrazioni",
            Self::Protocollo => "protocollo",
        }
    }

    /// Who chooses it.
    pub fn role(self) -> Role {
        match self {
            Self::Assegnazioni => Role::Consigliere,
            Self::Integrazioni => Role::Segreteria,
            Self::Protocollo => Role::Avvocato,
        }
    }

    /// The choosable notice that an event's e-mail is, for a recipient holding `role`;
    /// `None` for a legal notice (or what the role needs to work), which always goes.
    pub fn of(role: Role, template: &str) -> Option<Self> {
        let kind = EventKind::from_code(template)?;
        Self::ALL.into_iter().find(|t| {
            t.role() == role
                && match t {
                    Self::Assegnazioni => {
                        matches!(kind, EventKind::Assigned | EventKind::Reassigned)
                    }
                    Self::Integrazioni => kind == EventKind::IntegrationAnswered,
                    Self::Protocollo => kind == EventKind::Registered,
                }
        })
    }

    /// The heading of its choice.
    pub fn title(self) -> &'static str {
        match self {
            Self::Assegnazioni => "Nuove pratiche assegnate",
            Self::Integrazioni => "Integrazioni depositate dai richiedenti",
            Self::Protocollo => "Registrazione nel protocollo delle mie istanze",
        }
    }

    /// The words of one option.
    pub fn label(self, d: Delivery) -> &'static str {
        match (self, d) {
            (Self::Assegnazioni, Delivery::Subito) => {
                "Subito, un messaggio per ogni pratica assegnata"
            }
            (Self::Integrazioni, Delivery::Subito) => {
                "Subito, un messaggio per ogni integrazione depositata"
            }
            (Self::Protocollo, Delivery::Subito) => {
                "Subito, un messaggio con il numero di protocollo di ogni istanza"
            }
            (_, Delivery::Riepilogo) => {
                "Un riepilogo al mattino (alle 7) con quelli arrivati nel frattempo"
            }
            (Self::Assegnazioni, Delivery::Mai) => {
                "Nessun messaggio: consulto la coda nella mia area"
            }
            (Self::Integrazioni, Delivery::Mai) => {
                "Nessun messaggio: le vedo nella bacheca della segreteria"
            }
            (Self::Protocollo, Delivery::Mai) => {
                "Nessun messaggio: vedo il numero di protocollo nella mia area"
            }
        }
    }
}

/// What always arrives to someone holding `role`, whatever they choose.
pub fn always(role: Role) -> &'static [&'static str] {
    match role {
        Role::Consigliere => &[
            "la risposta a una richiesta di integrazione su una pratica che le è assegnata",
            "il rinvio di una sua pratica da parte del Consiglio o la sua rimessa in istruttoria",
        ],
        Role::Segreteria => {
            &["il termine di dieci giorni per decidere su un'istanza, due giorni prima che scada"]
        }
        Role::Avvocato => &[
            "la ricevuta di presentazione delle istanze",
            "le richieste di integrazione e il promemoria due giorni prima della scadenza",
            "la decisione del Consiglio e la delibera firmata",
        ],
        Role::Amministratore | Role::Presidenza => &[],
    }
}

/// When the next morning digest goes: 7:00 in Rome, today if it is not past yet.
pub fn next_digest(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&Rome);
    let at = NaiveTime::from_hms_opt(DIGEST_HOUR, 0, 0).expect("valid hour");
    let mut day = local.date_naive();
    if local.time() >= at {
        day = day + Days::new(1);
    }
    Rome.from_local_datetime(&day.and_time(at))
        .earliest()
        .map_or(now, |t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_digest_goes_at_seven_italian_time_summer_and_winter() {
        // 06:30 in Rome (CET, UTC+1): this morning at 7.
        assert_eq!(
            next_digest(utc("2026-11-26T05:30:00Z")),
            utc("2026-11-26T06:00:00Z")
        );
        // 08:00 in Rome: tomorrow at 7.
        assert_eq!(
            next_digest(utc("2026-11-26T07:00:00Z")),
            utc("2026-11-27T06:00:00Z")
        );
        // Summer (CEST, UTC+2).
        assert_eq!(
            next_digest(utc("2026-07-01T10:00:00Z")),
            utc("2026-07-02T05:00:00Z")
        );
    }

    #[test]
    fn codes_round_trip() {
        for c in Delivery::ALL {
            assert_eq!(Delivery::from_code(c.code()), Some(c));
        }
        assert_eq!(Delivery::from_code("sempre"), None);
    }

    #[test]
    fn legal_notices_have_no_topic_and_a_topic_belongs_to_one_role() {
        assert_eq!(
            Topic::of(Role::Consigliere, "assegnata"),
            Some(Topic::Assegnazioni)
        );
        assert_eq!(
            Topic::of(Role::Consigliere, "riassegnata"),
            Some(Topic::Assegnazioni)
        );
        assert_eq!(
            Topic::of(Role::Segreteria, "integrazione_ricevuta"),
            Some(Topic::Integrazioni)
        );
        // The rapporteur must act on an answer: always sent.
        assert_eq!(Topic::of(Role::Consigliere, "integrazione_ricevuta"), None);
        assert_eq!(
            Topic::of(Role::Avvocato, "protocollata"),
            Some(Topic::Protocollo)
        );
        for legal in [
            "integrazione_richiesta",
            "delibera_firmata",
            "delibera_trasmessa",
            "presentata",
        ] {
            for role in Role::ALL {
                assert_eq!(Topic::of(role, legal), None, "{legal}");
            }
        }
        assert_eq!(Topic::of(Role::Avvocato, "promemoria_integrazione"), None);
    }
}
