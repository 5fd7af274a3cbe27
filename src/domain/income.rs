//! Income limits for legal aid (artt. 76, 77, 92 D.P.R. 115/2002).
//!
//! The art. 76 threshold is updated by decree every two years (art. 77), so it
//! is kept as a dated table ([`THRESHOLDS`]) and picked by date with
//! [`threshold_on`]. The caller decides which date to use (the domain spec
//! proposes the application's filing date; see domain.md §11 point 9).

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::money::Euro;

/// One row of the threshold history: `amount` applies from `valid_from`
/// (inclusive, the date of publication in the Gazzetta Ufficiale) until the
/// day before the next row's `valid_from`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Threshold {
    /// First day on which this amount applies (GU publication date).
    pub valid_from: NaiveDate,
    /// Maximum relevant annual income (art. 76, comma 1).
    pub amount: Euro,
    /// The decree that set the amount, with its GU reference, in Italian.
    pub decree: &'static str,
}

/// Builds a date in a constant context; panics at compile time if invalid.
const fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(d) => d,
        None => panic!("invalid date in threshold table"),
    }
}

/// History of the art. 76 threshold, ordered by `valid_from` (domain.md §3.1).
pub static THRESHOLDS: &[Threshold] = &[
    // The start date of this oldest row is general knowledge (D.M. 20 gennaio
    // 2009, GU n. 84 del 10 aprile 2009), NOT taken from the stored sources,
    // which only call it "the limit before the 2012 update".
    Threshold {
        valid_from: ymd(2009, 4, 10),
        amount: Euro::from_cents(1_062_816),
        decree: "D.M. 20 gennaio 2009 (GU n. 84 del 10 aprile 2009)",
    },
    Threshold {
        valid_from: ymd(2012, 10, 25),
        amount: Euro::from_cents(1_076_633),
        decree: "D.M. 2 luglio 2012 (GU n. 250 del 25 ottobre 2012)",
    },
    // The sources link this amount to this decree only by inference ("in force
    // in 2015"; the decree is in the list of updates).
    Threshold {
        valid_from: ymd(2014, 7, 23),
        amount: Euro::from_cents(1_136_924),
        decree: "D.M. 1 aprile 2014 (GU n. 169 del 23 luglio 2014)",
    },
    // Same caveat: "in force 2016–2017", decree link inferred.
    Threshold {
        valid_from: ymd(2015, 8, 12),
        amount: Euro::from_cents(1_152_841),
        decree: "D.M. 7 maggio 2015 (GU n. 186 del 12 agosto 2015)",
    },
    Threshold {
        valid_from: ymd(2018, 2, 28),
        amount: Euro::from_cents(1_149_382),
        decree: "D.M. 16 gennaio 2018 (GU n. 49 del 28 febbraio 2018)",
    },
    Threshold {
        valid_from: ymd(2021, 1, 30),
        amount: Euro::from_cents(1_174_668),
        decree: "D.M. 23 luglio 2020 (GU n. 24 del 30 gennaio 2021)",
    },
    Threshold {
        valid_from: ymd(2023, 4, 21),
        amount: Euro::from_cents(1_173_493),
        decree: "D.M. 3 febbraio 2023 (GU del 21 aprile 2023)",
    },
    Threshold {
        valid_from: ymd(2023, 6, 6),
        amount: Euro::from_cents(1_283_801),
        decree: "D.I. 10 maggio 2023 (GU n. 130 del 6 giugno 2023)",
    },
    Threshold {
        valid_from: ymd(2025, 7, 11),
        amount: Euro::from_cents(1_365_964),
        decree: "D.I. 22 aprile 2025 (GU dell'11 luglio 2025)",
    },
];

/// The threshold row in force on `date`: the last row whose `valid_from` is
/// on or before `date`. `None` before the first row of the table.
pub fn threshold_on(date: NaiveDate) -> Option<&'static Threshold> {
    let in_force = THRESHOLDS.partition_point(|t| t.valid_from <= date);
    in_force.checked_sub(1).map(|i| &THRESHOLDS[i])
}

/// Art. 92: increase of the income limit, in criminal proceedings, for each
/// cohabiting family member (1.032,91 €).
pub const ART92_PER_FAMILY_MEMBER: Euro = Euro::from_cents(103_291);

/// Kind of proceeding, as far as the income limit is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Proceeding {
    /// Civil (and the other matters handled by the COA): the art. 76 threshold.
    Civile,
    /// Criminal: the threshold raised by art. 92 for each cohabiting family
    /// member (the applicant excluded). Not handled by the COA; informational.
    Penale {
        /// Number of cohabiting family members, not counting the applicant.
        familiari_conviventi: u32,
    },
}

/// Income limit applicable on `date` for the given proceeding; `None` before
/// the first row of [`THRESHOLDS`].
///
/// Civil: the art. 76 threshold. Criminal: threshold + 1.032,91 € × cohabiting
/// family members (art. 92); the multiplication saturates, which cannot happen
/// for any realistic count.
pub fn income_limit(date: NaiveDate, proceeding: Proceeding) -> Option<Euro> {
    let threshold = threshold_on(date)?.amount;
    Some(match proceeding {
        Proceeding::Civile => threshold,
        Proceeding::Penale {
            familiari_conviventi,
        } => threshold + ART92_PER_FAMILY_MEMBER * familiari_conviventi,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn table_is_strictly_sorted_and_positive() {
        assert_eq!(THRESHOLDS.len(), 9);
        for pair in THRESHOLDS.windows(2) {
            assert!(pair[0].valid_from < pair[1].valid_from, "{pair:?}");
        }
        for t in THRESHOLDS {
            assert!(t.amount > Euro::ZERO);
            assert!(!t.decree.is_empty());
        }
    }

    #[test]
    fn table_amounts() {
        let amounts: Vec<String> = THRESHOLDS.iter().map(|t| t.amount.to_string()).collect();
        assert_eq!(
            amounts,
            [
                "10.628,16",
                "10.766,33",
                "11.369,24",
                "11.528,41",
                "11.493,82",
                "11.746,68",
                "11.734,93",
                "12.838,01",
                "13.659,64"
            ]
        );
    }

    #[test]
    fn every_boundary_day() {
        let expected = [
            (d(2009, 4, 10), None, 1_062_816),
            (d(2012, 10, 25), Some(1_062_816), 1_076_633),
            (d(2014, 7, 23), Some(1_076_633), 1_136_924),
            (d(2015, 8, 12), Some(1_136_924), 1_152_841),
            (d(2018, 2, 28), Some(1_152_841), 1_149_382),
            (d(2021, 1, 30), Some(1_149_382), 1_174_668),
            (d(2023, 4, 21), Some(1_174_668), 1_173_493),
            (d(2023, 6, 6), Some(1_173_493), 1_283_801),
            (d(2025, 7, 11), Some(1_283_801), 1_365_964),
        ];
        for (row, (from, before, on)) in THRESHOLDS.iter().zip(expected) {
            assert_eq!(row.valid_from, from);
            let day_before = from.pred_opt().unwrap();
            assert_eq!(
                threshold_on(day_before).map(|t| t.amount.cents()),
                before,
                "day before {from}"
            );
            assert_eq!(threshold_on(from).map(|t| t.amount.cents()), Some(on));
            assert_eq!(
                threshold_on(from.succ_opt().unwrap()).map(|t| t.amount.cents()),
                Some(on)
            );
        }
    }

    #[test]
    fn current_threshold_and_far_future() {
        let t = threshold_on(d(2025, 7, 11)).unwrap();
        assert_eq!(t.amount.to_string(), "13.659,64");
        assert_eq!(t.decree, "D.I. 22 aprile 2025 (GU dell'11 luglio 2025)");
        assert_eq!(threshold_on(d(2100, 1, 1)), Some(t));
        assert_eq!(threshold_on(NaiveDate::MIN), None);
        assert_eq!(
            threshold_on(NaiveDate::MAX).map(|t| t.valid_from),
            Some(d(2025, 7, 11))
        );
    }

    #[test]
    fn art92_worked_example() {
        // domain.md §3.4: 13.659,64 + 2 × 1.032,91 = 15.725,46.
        let penal = Proceeding::Penale {
            familiari_conviventi: 2,
        };
        for date in [d(2025, 7, 11), d(2026, 3, 1)] {
            assert_eq!(
                income_limit(date, penal).map(|e| e.to_string()),
                Some("15.725,46".to_string())
            );
            assert_eq!(
                income_limit(date, Proceeding::Civile),
                Some(Euro::from_cents(1_365_964))
            );
        }
        // The day before, the 2023 threshold applies.
        assert_eq!(
            income_limit(d(2025, 7, 10), penal),
            Some(Euro::from_cents(1_283_801 + 2 * 103_291))
        );
        assert_eq!(ART92_PER_FAMILY_MEMBER.to_string(), "1.032,91");
        assert_eq!(
            income_limit(
                d(2025, 7, 11),
                Proceeding::Penale {
                    familiari_conviventi: 0
                }
            ),
            income_limit(d(2025, 7, 11), Proceeding::Civile)
        );
        assert_eq!(income_limit(d(2000, 1, 1), Proceeding::Civile), None);
        assert_eq!(income_limit(d(2000, 1, 1), penal), None);
    }

    proptest! {
        #[test]
        fn threshold_on_matches_linear_scan(days in 0i64..8000) {
            let date = d(2008, 1, 1) + chrono::Duration::days(days);
            let expected = THRESHOLDS.iter().rev().find(|t| t.valid_from <= date);
            prop_assert_eq!(threshold_on(date), expected);
        }
    }
}
