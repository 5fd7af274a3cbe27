//! The President's statistics, the pure part: the period shown, the bands counts are grouped
//! in, percentiles over a histogram, the minimum cell size of the applicants' profile, and the
//! geometry of the server-rendered charts. No I/O here: the store counts, this module shapes.

use chrono::{Datelike, NaiveDate};

/// Counts below this are never shown for the applicants' profile (nationality, age, income,
/// household): 1 to 4 people are a group small enough to recognise someone.
pub const MIN_CELL: i64 = 5;

/// Months shown in the intake-and-decisions chart (and the period of every other figure).
pub const MONTHS: u32 = 24;

/// The oldest month the period selector accepts: nothing was filed before the service existed,
/// and a bound keeps the query's range sane.
pub const FIRST_YEAR: i32 = 2000;

/// A calendar month (Rome time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1–12.
    pub month: u32,
}

impl Month {
    pub fn of(d: NaiveDate) -> Self {
        Self {
            year: d.year(),
            month: d.month(),
        }
    }

    /// `YYYY-MM`, as the URL carries it; years before [`FIRST_YEAR`] or after 9999 are refused.
    pub fn parse(s: &str) -> Option<Self> {
        let (y, m) = s.trim().split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        let year: i32 = y.parse().ok()?;
        let month: u32 = m.parse().ok()?;
        ((FIRST_YEAR..=9999).contains(&year) && (1..=12).contains(&month))
            .then_some(Self { year, month })
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).expect("a valid month")
    }

    pub fn plus(self, months: i32) -> Self {
        let n = self.year * 12 + self.month as i32 - 1 + months;
        Self {
            year: n.div_euclid(12),
            month: n.rem_euclid(12) as u32 + 1,
        }
    }

    /// `2026-11`.
    pub fn code(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    /// `nov 2026`.
    pub fn short_label(self) -> String {
        const NAMES: [&str; 12] = [
            "gen", "feb", "mar", "apr", "mag", "giu", "lug", "ago", "set", "ott", "nov", "dic",
        ];
        format!("{} {}", NAMES[self.month as usize - 1], self.year)
    }

    pub fn quarter(self) -> Quarter {
        Quarter {
            year: self.year,
            quarter: (self.month - 1) / 3 + 1,
        }
    }
}

/// A calendar quarter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quarter {
    pub year: i32,
    /// 1–4.
    pub quarter: u32,
}

impl Quarter {
    /// `T3 2026`.
    pub fn label(self) -> String {
        format!("T{} {}", self.quarter, self.year)
    }
}

/// The period the page shows: [`MONTHS`] months ending with `last` (included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub last: Month,
}

impl Period {
    pub fn first(self) -> Month {
        self.last.plus(-(MONTHS as i32 - 1))
    }

    /// Every month of the period, oldest first.
    pub fn months(self) -> Vec<Month> {
        (0..MONTHS as i32).map(|i| self.first().plus(i)).collect()
    }

    /// Every quarter the period touches, oldest first.
    pub fn quarters(self) -> Vec<Quarter> {
        let mut out: Vec<Quarter> = self.months().into_iter().map(Month::quarter).collect();
        out.dedup();
        out
    }

    /// The first day of the period and the first day after it (Rome dates).
    pub fn dates(self) -> (NaiveDate, NaiveDate) {
        (self.first().first_day(), self.last.plus(1).first_day())
    }
}

/// A band of values: its label and its bounds (lower included, upper excluded; `None`: open).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Band {
    pub label: &'static str,
    pub from: i64,
    pub to: Option<i64>,
}

impl Band {
    pub fn contains(&self, v: i64) -> bool {
        v >= self.from && self.to.is_none_or(|t| v < t)
    }
}

/// How long open applications have been waiting, in days since they were filed.
pub const OPEN_AGE_BANDS: [Band; 5] = [
    Band {
        label: "fino a 10 giorni",
        from: 0,
        to: Some(11),
    },
    Band {
        label: "da 11 a 30 giorni",
        from: 11,
        to: Some(31),
    },
    Band {
        label: "da 31 a 60 giorni",
        from: 31,
        to: Some(61),
    },
    Band {
        label: "da 61 a 90 giorni",
        from: 61,
        to: Some(91),
    },
    Band {
        label: "oltre 90 giorni",
        from: 91,
        to: None,
    },
];

/// The applicant's age in years on the day the application was filed.
pub const APPLICANT_AGE_BANDS: [Band; 5] = [
    Band {
        label: "meno di 18 anni",
        from: 0,
        to: Some(18),
    },
    Band {
        label: "da 18 a 29 anni",
        from: 18,
        to: Some(30),
    },
    Band {
        label: "da 30 a 44 anni",
        from: 30,
        to: Some(45),
    },
    Band {
        label: "da 45 a 64 anni",
        from: 45,
        to: Some(65),
    },
    Band {
        label: "65 anni e oltre",
        from: 65,
        to: None,
    },
];

/// The household's income as declared, in euro cents.
pub const INCOME_BANDS: [Band; 4] = [
    Band {
        label: "fino a 2.500 €",
        from: 0,
        to: Some(250_000),
    },
    Band {
        label: "da 2.500 a 5.000 €",
        from: 250_000,
        to: Some(500_000),
    },
    Band {
        label: "da 5.000 a 10.000 €",
        from: 500_000,
        to: Some(1_000_000),
    },
    Band {
        label: "oltre 10.000 €",
        from: 1_000_000,
        to: None,
    },
];

/// People in the household, the applicant included.
pub const HOUSEHOLD_BANDS: [Band; 5] = [
    Band {
        label: "1 persona",
        from: 1,
        to: Some(2),
    },
    Band {
        label: "2 persone",
        from: 2,
        to: Some(3),
    },
    Band {
        label: "3 persone",
        from: 3,
        to: Some(4),
    },
    Band {
        label: "4 persone",
        from: 4,
        to: Some(5),
    },
    Band {
        label: "5 persone o più",
        from: 5,
        to: None,
    },
];

/// The index of the band `v` falls in.
pub fn band_of(bands: &[Band], v: i64) -> Option<usize> {
    bands.iter().position(|b| b.contains(v))
}

/// Counts per band from (value, count) pairs; values outside every band are left out.
pub fn count_in_bands(bands: &[Band], values: &[(i64, i64)]) -> Vec<i64> {
    let mut out = vec![0; bands.len()];
    for (v, n) in values {
        if let Some(i) = band_of(bands, *v) {
            out[i] += n;
        }
    }
    out
}

/// The nationality groups of the form (`applicant.citizenship`).
pub const NATIONALITY_GROUPS: [(&str, &str); 4] = [
    ("italiana", "Italiana"),
    ("ue", "Di un altro Stato dell'Unione europea"),
    ("extra_ue", "Di uno Stato non UE"),
    ("apolide", "Apolide"),
];

/// The `p`-th percentile (0 < p ≤ 100) of the values a histogram of (value, count) describes,
/// by the nearest-rank method: the smallest value with at least p % of the values at or below
/// it (PostgreSQL's `percentile_disc`). `None` when there are no values.
pub fn percentile(histogram: &[(i64, i64)], p: u32) -> Option<i64> {
    let mut h: Vec<(i64, i64)> = histogram.iter().copied().filter(|(_, n)| *n > 0).collect();
    h.sort_unstable();
    let total: i64 = h.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    // rank = ceil(p/100 × total), at least 1.
    let rank = ((i64::from(p) * total + 99) / 100).max(1);
    let mut seen = 0;
    for (v, n) in h {
        seen += n;
        if seen >= rank {
            return Some(v);
        }
    }
    None
}

/// How a withheld cell is written.
pub const WITHHELD: &str = "riservato";

/// A count as the profile tables show it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    Shown(i64),
    /// Fewer than [`MIN_CELL`] people.
    Hidden,
    /// Not small, but withheld so that a small cell cannot be worked out from the total.
    Withheld,
    /// Nothing to measure (a median of no values).
    Empty,
}

impl Cell {
    pub fn text(self) -> String {
        match self {
            Cell::Shown(n) => n.to_string(),
            Cell::Hidden => format!("< {MIN_CELL}"),
            Cell::Withheld => WITHHELD.into(),
            Cell::Empty => "–".into(),
        }
    }

    pub fn value(self) -> Option<i64> {
        match self {
            Cell::Shown(n) => Some(n),
            Cell::Hidden | Cell::Withheld | Cell::Empty => None,
        }
    }
}

/// The cells of one distribution and its total, with the minimum cell size applied: counts from
/// 1 to 4 are hidden (zero says nothing about anyone and is shown); when exactly one cell is
/// hidden, the smallest other non-zero cell is withheld (otherwise the total minus the shown
/// cells would give it back); a total under 5 is hidden as well.
pub fn suppress(counts: &[i64]) -> (Vec<Cell>, Cell) {
    let small = |n: i64| n > 0 && n < MIN_CELL;
    let mut cells: Vec<Cell> = counts
        .iter()
        .map(|&n| {
            if small(n) {
                Cell::Hidden
            } else {
                Cell::Shown(n)
            }
        })
        .collect();
    let hidden = cells.iter().filter(|c| **c == Cell::Hidden).count();
    if hidden == 1
        && let Some((i, _)) = counts
            .iter()
            .enumerate()
            .filter(|(i, n)| **n > 0 && cells[*i] != Cell::Hidden)
            .min_by_key(|(_, n)| **n)
    {
        cells[i] = Cell::Withheld;
    }
    let total: i64 = counts.iter().sum();
    let total = if small(total) {
        Cell::Hidden
    } else {
        Cell::Shown(total)
    };
    (cells, total)
}

/// A share as a percentage with one decimal, Italian style (`66,7 %`); `–` without a base.
pub fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        return "–".into();
    }
    let tenths = (part * 1000 + whole / 2) / whole;
    format!("{},{} %", tenths / 10, tenths % 10)
}

/// The top of a chart's scale: a round number at least `max` (1, 2, 5 × 10ⁿ), never 0.
pub fn scale_top(max: i64) -> i64 {
    let max = max.max(1);
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= max {
                return step * m;
            }
        }
        step *= 10;
    }
}

/// The length of a bar of `value` on a scale from 0 to `top` drawn `span` units long.
pub fn bar_length(value: i64, top: i64, span: f64) -> f64 {
    if top <= 0 || value <= 0 {
        return 0.0;
    }
    (value.min(top) as f64) * span / top as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_period_is_twenty_four_months_ending_with_the_chosen_one() {
        let p = Period {
            last: Month::parse("2026-11").unwrap(),
        };
        assert_eq!(p.first(), Month::parse("2024-12").unwrap());
        assert_eq!(p.months().len(), 24);
        let (from, to) = p.dates();
        assert_eq!(from, NaiveDate::from_ymd_opt(2024, 12, 1).unwrap());
        assert_eq!(to, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        // Dec 2024 … Nov 2026 touches nine quarters.
        let q = p.quarters();
        assert_eq!(q.len(), 9);
        assert_eq!(q[0].label(), "T4 2024");
        assert_eq!(q[8].label(), "T4 2026");
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("1999-01"), None);
        assert_eq!(Month::parse("2026-1"), None);
        assert_eq!(Month::parse("2026-12").unwrap().plus(1).code(), "2027-01");
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        // 2, 4, 4, 10: median is the 2nd value, p90 the 4th.
        let h = [(4, 2), (10, 1), (2, 1)];
        assert_eq!(percentile(&h, 50), Some(4));
        assert_eq!(percentile(&h, 90), Some(10));
        assert_eq!(percentile(&[(7, 1)], 50), Some(7));
        assert_eq!(percentile(&[], 50), None);
        // 1..=10: median 5, p90 9.
        let h: Vec<(i64, i64)> = (1..=10).map(|v| (v, 1)).collect();
        assert_eq!(percentile(&h, 50), Some(5));
        assert_eq!(percentile(&h, 90), Some(9));
    }

    #[test]
    fn bands_take_their_lower_bound_and_leave_the_upper() {
        assert_eq!(band_of(&OPEN_AGE_BANDS, 10), Some(0));
        assert_eq!(band_of(&OPEN_AGE_BANDS, 11), Some(1));
        assert_eq!(band_of(&OPEN_AGE_BANDS, 400), Some(4));
        assert_eq!(band_of(&APPLICANT_AGE_BANDS, 17), Some(0));
        assert_eq!(band_of(&APPLICANT_AGE_BANDS, 65), Some(4));
        assert_eq!(band_of(&HOUSEHOLD_BANDS, 0), None);
        assert_eq!(
            count_in_bands(&HOUSEHOLD_BANDS, &[(1, 3), (2, 1), (7, 2), (9, 1)]),
            vec![3, 1, 0, 0, 3]
        );
    }

    #[test]
    fn small_cells_are_hidden_and_cannot_be_worked_out() {
        // Two small cells: each hidden, the rest shown.
        let (c, t) = suppress(&[3, 12, 0, 2]);
        assert_eq!(
            c,
            vec![Cell::Hidden, Cell::Shown(12), Cell::Shown(0), Cell::Hidden]
        );
        assert_eq!(t, Cell::Shown(17));
        // One small cell: the smallest other non-zero one is withheld.
        let (c, _) = suppress(&[3, 12, 7, 0]);
        assert_eq!(
            c,
            vec![
                Cell::Hidden,
                Cell::Shown(12),
                Cell::Withheld,
                Cell::Shown(0)
            ]
        );
        assert_eq!(Cell::Withheld.text(), "riservato");
        // Nothing small: all shown.
        let (c, _) = suppress(&[5, 6]);
        assert_eq!(c, vec![Cell::Shown(5), Cell::Shown(6)]);
        // A small total.
        let (c, t) = suppress(&[3, 0]);
        assert_eq!(c, vec![Cell::Hidden, Cell::Shown(0)]);
        assert_eq!(t, Cell::Hidden);
        assert_eq!(Cell::Hidden.text(), "< 5");
    }

    #[test]
    fn shares_and_scales() {
        assert_eq!(percent(2, 3), "66,7 %");
        assert_eq!(percent(1, 1), "100,0 %");
        assert_eq!(percent(0, 0), "–");
        assert_eq!(scale_top(0), 1);
        assert_eq!(scale_top(3), 5);
        assert_eq!(scale_top(7), 10);
        assert_eq!(scale_top(11), 20);
        assert_eq!(scale_top(200), 200);
        assert_eq!(bar_length(5, 10, 100.0), 50.0);
        assert_eq!(bar_length(0, 10, 100.0), 0.0);
    }
}
