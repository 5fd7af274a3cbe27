//! The clocks of a case: the ten days the Council has to decide (art. 126 D.P.R. 115/2002),
//! counted from the protocol date, and the deadline of an integration request. They inform;
//! they never decide anything by themselves.

use chrono::{Days, NaiveDate};

/// Days the Council has to decide, from the protocol date.
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
}

impl Clock {
    pub fn new(due: NaiveDate, today: NaiveDate) -> Self {
        Self {
            due,
            days_left: (due - today).num_days(),
        }
    }

    /// The decision clock of an application registered on `protocol_date`.
    pub fn decision(protocol_date: NaiveDate, today: NaiveDate) -> Self {
        Self::new(protocol_date + Days::new(DECISION_DAYS), today)
    }

    pub fn level(&self) -> Level {
        match self.days_left {
            d if d <= 0 => Level::Red,
            d if d <= AMBER_FROM => Level::Amber,
            _ => Level::Ok,
        }
    }

    pub fn is_past(&self) -> bool {
        self.days_left < 0
    }

    /// `mancano 5 giorni`, `scade oggi`, `scaduto da 2 giorni`
    pub fn label(&self) -> String {
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

    #[test]
    fn ten_days_from_the_protocol_date_turning_amber_then_red() {
        let p = d(2026, 11, 20);
        let c = Clock::decision(p, d(2026, 11, 21));
        assert_eq!(c.due, d(2026, 11, 30));
        assert_eq!((c.days_left, c.level()), (9, Level::Ok));
        assert_eq!(c.label(), "mancano 9 giorni");
        let c = Clock::decision(p, d(2026, 11, 27));
        assert_eq!(
            (c.level(), c.label().as_str()),
            (Level::Amber, "mancano 3 giorni")
        );
        let c = Clock::decision(p, d(2026, 11, 29));
        assert_eq!(c.label(), "manca 1 giorno");
        let c = Clock::decision(p, d(2026, 11, 30));
        assert_eq!((c.level(), c.label().as_str()), (Level::Red, "scade oggi"));
        assert!(!c.is_past());
        let c = Clock::decision(p, d(2026, 12, 2));
        assert_eq!(
            (c.level(), c.label().as_str()),
            (Level::Red, "scaduto da 2 giorni")
        );
        assert!(c.is_past());
    }

    #[test]
    fn integration_deadline_defaults_to_fifteen_days() {
        assert_eq!(integration_due(d(2026, 12, 20), None), d(2027, 1, 4));
        assert_eq!(integration_due(d(2026, 12, 20), Some(30)), d(2027, 1, 19));
    }
}
