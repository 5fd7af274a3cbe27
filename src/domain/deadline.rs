//! The clocks of a case: the ten days the Council has to decide (art. 126 D.P.R. 115/2002),
//! counted from the day the application was filed (presentazione), and the deadline of an
//! integration request. While an integration request waits for its answer the ten days stand
//! still, unless the Ordine chose otherwise (the term is *ordinatorio*; art. 79 c.3 lets the
//! Council ask for documents, and deciding before they arrive would defeat the request). They
//! inform; they never decide anything by themselves.

use chrono::{Days, NaiveDate};

/// Days the Council has to decide, from the filing date.
pub const DECISION_DAYS: u64 = 10;
/// The integration deadline when the Ordine has not set its own.
pub const DEFAULT_INTEGRATION_DAYS: u32 = 15;
/// From this many days left the clock turns amber.
pub const AMBER_FROM: i64 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Time enough.
    Ok,
    /// Three days or fewer left.
    Amber,
    /// Due today or past.
    Red,
}

impl Level {
    /// The CSS class of the badge (Bootstrap Italia colours with AA contrast).
    pub fn class(self) -> &'static str {
        match self {
            Level::Ok => "orologio orologio-ok",
            Level::Amber => "orologio orologio-giallo",
            Level::Red => "orologio orologio-rosso",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub due: NaiveDate,
    /// Negative when past.
    pub days_left: i64,
    /// Standing still: an integration request waits for its answer.
    pub suspended: bool,
}

/// The time an application's ten days stood still for integration requests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Suspension {
    /// Days between each request and its answer (or today, for one still open).
    pub days: u32,
    /// A request is waiting for its answer now.
    pub now: bool,
}

impl Clock {
    pub fn new(due: NaiveDate, today: NaiveDate) -> Self {
        Self {
            due,
            days_left: (due - today).num_days(),
            suspended: false,
        }
    }

    /// The decision clock of an application filed on `filed_on`, moved on by the days it
    /// stood still.
    pub fn decision(filed_on: NaiveDate, suspension: Suspension, today: NaiveDate) -> Self {
        let due = filed_on + Days::new(DECISION_DAYS + u64::from(suspension.days));
        Self {
            suspended: suspension.now,
            ..Self::new(due, today)
        }
    }

    pub fn level(&self) -> Level {
        match self.days_left {
            _ if self.suspended => Level::Ok,
            d if d <= 0 => Level::Red,
            d if d <= AMBER_FROM => Level::Amber,
            _ => Level::Ok,
        }
    }

    pub fn is_past(&self) -> bool {
        !self.suspended && self.days_left < 0
    }

    /// `mancano 5 giorni`, `scade oggi`, `scaduto da 2 giorni`, `sospeso (integrazione)`
    pub fn label(&self) -> String {
        if self.suspended {
            return "sospeso in attesa dell'integrazione".to_owned();
        }
        match self.days_left {
            0 => "scade oggi".to_owned(),
            1 => "manca 1 giorno".to_owned(),
            d if d > 1 => format!("mancano {d} giorni"),
            -1 => "scaduto da 1 giorno".to_owned(),
            d => format!("scaduto da {} giorni", -d),
        }
    }
}

/// The deadline of an integration request made on `requested`, with the Ordine's setting.
pub fn integration_due(requested: NaiveDate, tenant_days: Option<u32>) -> NaiveDate {
    requested + Days::new(u64::from(tenant_days.unwrap_or(DEFAULT_INTEGRATION_DAYS)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    const NONE: Suspension = Suspension {
        days: 0,
        now: false,
    };

    #[test]
    fn ten_days_from_the_filing_date_turning_amber_then_red() {
        let p = d(2026, 11, 20);
        let c = Clock::decision(p, NONE, d(2026, 11, 21));
        assert_eq!(c.due, d(2026, 11, 30));
        assert_eq!((c.days_left, c.level()), (9, Level::Ok));
        assert_eq!(c.label(), "mancano 9 giorni");
        let c = Clock::decision(p, NONE, d(2026, 11, 27));
        assert_eq!(
            (c.level(), c.label().as_str()),
            (Level::Amber, "mancano 3 giorni")
        );
        let c = Clock::decision(p, NONE, d(2026, 11, 29));
        assert_eq!(c.label(), "manca 1 giorno");
        let c = Clock::decision(p, NONE, d(2026, 11, 30));
        assert_eq!((c.level(), c.label().as_str()), (Level::Red, "scade oggi"));
        assert!(!c.is_past());
        let c = Clock::decision(p, NONE, d(2026, 12, 2));
        assert_eq!(
            (c.level(), c.label().as_str()),
            (Level::Red, "scaduto da 2 giorni")
        );
        assert!(c.is_past());
    }

    #[test]
    fn an_integration_request_stops_the_clock_until_its_answer() {
        let filed = d(2026, 11, 20);
        // Asked on the 23rd, still open on the 28th: standing still, never red.
        let open = Suspension { days: 5, now: true };
        let c = Clock::decision(filed, open, d(2026, 11, 28));
        assert!(c.suspended && !c.is_past());
        assert_eq!(c.level(), Level::Ok);
        assert_eq!(c.label(), "sospeso in attesa dell'integrazione");
        // Answered on the 30th after 7 days: the ten days end on 7 December, not on the 30th.
        let answered = Suspension {
            days: 7,
            now: false,
        };
        let c = Clock::decision(filed, answered, d(2026, 11, 30));
        assert_eq!(c.due, d(2026, 12, 7));
        assert_eq!(c.label(), "mancano 7 giorni");
    }

    #[test]
    fn integration_deadline_defaults_to_fifteen_days() {
        assert_eq!(integration_due(d(2026, 12, 20), None), d(2027, 1, 4));
        assert_eq!(integration_due(d(2026, 12, 20), Some(30)), d(2027, 1, 19));
    }
}
