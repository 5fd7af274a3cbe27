//! Time in the Ordine's terms: dates and times are stored in UTC and shown, counted and rolled
//! over in Europe/Rome.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::{Europe::Rome, Tz};

pub const ZONE: Tz = Rome;

pub fn rome_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&ZONE).date_naive()
}

/// Now, as a wall-clock time in Rome.
pub fn rome_now() -> chrono::NaiveDateTime {
    Utc::now().with_timezone(&ZONE).naive_local()
}

/// `26/11/2026 alle ore 10:42`
pub fn format_date_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&ZONE)
        .format("%d/%m/%Y alle ore %H:%M")
        .to_string()
}

/// `26/11/2026`
pub fn format_date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn new_year_comes_at_rome_midnight() {
        let before = Utc.with_ymd_and_hms(2026, 12, 31, 22, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 1).unwrap();
        assert_eq!(
            rome_date(before),
            NaiveDate::from_ymd_opt(2026, 12, 31).unwrap()
        );
        assert_eq!(
            rome_date(after),
            NaiveDate::from_ymd_opt(2027, 1, 1).unwrap()
        );
        let summer = Utc.with_ymd_and_hms(2026, 7, 1, 8, 5, 0).unwrap();
        assert_eq!(format_date_time(summer), "01/07/2026 alle ore 10:05");
    }
}
