//! What a person may choose about their e-mails. Legal notices (the outcome, integration
//! requests, deadlines) always go; a councillor chooses how to hear of new assignments.

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Europe::Rome;

/// The e-mail of a new assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssignmentMail {
    /// At once, one message per assignment.
    Subito,
    /// One message in the morning with the assignments of the day before.
    Riepilogo,
    /// None: the queue in the area is enough.
    Mai,
}

/// The hour of the morning digest, Italian time.
pub const DIGEST_HOUR: u32 = 7;

impl AssignmentMail {
    pub const ALL: [AssignmentMail; 3] = [Self::Subito, Self::Riepilogo, Self::Mai];

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

    pub fn label(self) -> &'static str {
        match self {
            Self::Subito => "Subito, un messaggio per ogni pratica assegnata",
            Self::Riepilogo => {
                "Un riepilogo al mattino (alle 7) con le pratiche assegnate nel frattempo"
            }
            Self::Mai => "Nessun messaggio: consulto la coda nella mia area",
        }
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
        for c in AssignmentMail::ALL {
            assert_eq!(AssignmentMail::from_code(c.code()), Some(c));
        }
        assert_eq!(AssignmentMail::from_code("sempre"), None);
    }
}
