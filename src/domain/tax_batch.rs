//! The batches (distinte) of admissions for the Agenzia delle Entrate (art. 127 c.1 D.P.R.
//! 115/2002): how often they leave (the Ordine's setting), which period a day belongs to, which
//! columns the cover list has, and how a batch too large for one PEC is split.

use chrono::{Datelike, Days, Months, NaiveDate};

/// Delibere one PEC carries at most. Above, the batch leaves in several parts, each a PEC with
/// its own cover list and outgoing protocol entry.
pub const MAX_ITEMS: usize = 100;
/// Bytes of attachments (signed delibere and the cover list) one PEC carries at most: 20 MiB
/// become about 27 MB once encoded in base64, under the 30 MB that PEC providers commonly
/// accept per message. Above, the batch leaves in several parts.
pub const MAX_BYTES: u64 = 20 * 1024 * 1024;
/// Room kept in each part for the cover list (PDF and CSV) beside the delibere.
pub const COVER_ALLOWANCE: u64 = 2 * 1024 * 1024;
/// Parts one closing makes at most: what is left waits for the next run of the schedule (every
/// few minutes), so that one run holds its lock and its memory within bounds.
pub const MAX_PARTS_PER_RUN: usize = 5;

/// How often the Ordine's batch leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

impl Frequency {
    pub const ALL: [Frequency; 3] = [Frequency::Daily, Frequency::Weekly, Frequency::Monthly];

    pub fn code(self) -> &'static str {
        match self {
            Frequency::Daily => "giornaliera",
            Frequency::Weekly => "settimanale",
            Frequency::Monthly => "mensile",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Frequency::Daily => "Ogni giorno (la distinta del giorno parte dopo la mezzanotte)",
            Frequency::Weekly => "Ogni settimana (la distinta parte il lunedì)",
            Frequency::Monthly => "Ogni mese (la distinta parte il primo giorno del mese)",
        }
    }
}

/// One period of the schedule, in Rome dates: from `start` up to `end` excluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
    /// `2026-12-01`, `2026-W49`, `2026-12`: one scheduled batch per key.
    pub key: String,
    /// `1/12/2026`, `dal 30/11/2026 al 6/12/2026`, `dicembre 2026`.
    pub label: String,
}

const MONTHS: [&str; 12] = [
    "gennaio",
    "febbraio",
    "marzo",
    "aprile",
    "maggio",
    "giugno",
    "luglio",
    "agosto",
    "settembre",
    "ottobre",
    "novembre",
    "dicembre",
];

fn date(d: NaiveDate) -> String {
    d.format("%d/%m/%Y").to_string()
}

/// The period of `frequency` that contains `day`.
pub fn period_of(frequency: Frequency, day: NaiveDate) -> Period {
    match frequency {
        Frequency::Daily => Period {
            start: day,
            end: day + Days::new(1),
            key: day.format("%Y-%m-%d").to_string(),
            label: date(day),
        },
        Frequency::Weekly => {
            let start = day - Days::new(u64::from(day.weekday().num_days_from_monday()));
            let end = start + Days::new(7);
            let week = day.iso_week();
            Period {
                start,
                end,
                key: format!("{}-W{:02}", week.year(), week.week()),
                label: format!("dal {} al {}", date(start), date(end - Days::new(1))),
            }
        }
        Frequency::Monthly => {
            let start = day.with_day(1).expect("the first of the month exists");
            Period {
                start,
                end: start + Months::new(1),
                key: start.format("%Y-%m").to_string(),
                label: format!("{} {}", MONTHS[start.month0() as usize], start.year()),
            }
        }
    }
}

/// The last period that has ended by `today`: its batch is due.
pub fn last_ended(frequency: Frequency, today: NaiveDate) -> Period {
    let current = period_of(frequency, today);
    period_of(frequency, current.start - Days::new(1))
}

/// A column of the cover list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Decision,
    Protocol,
    Applicant,
    TaxCode,
    Birth,
    Residence,
    Household,
    Income,
    Proceeding,
    Lawyer,
}

impl Column {
    pub const ALL: [Column; 10] = [
        Column::Decision,
        Column::Protocol,
        Column::Applicant,
        Column::TaxCode,
        Column::Birth,
        Column::Residence,
        Column::Household,
        Column::Income,
        Column::Proceeding,
        Column::Lawyer,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Column::Decision => "delibera",
            Column::Protocol => "protocollo",
            Column::Applicant => "richiedente",
            Column::TaxCode => "codice_fiscale",
            Column::Birth => "nascita",
            Column::Residence => "residenza",
            Column::Household => "familiari",
            Column::Income => "reddito",
            Column::Proceeding => "procedimento",
            Column::Lawyer => "avvocato",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The heading in the cover list (PDF and CSV).
    pub fn label(self) -> &'static str {
        match self {
            Column::Decision => "Delibera (numero e data)",
            Column::Protocol => "Protocollo dell'istanza",
            Column::Applicant => "Richiedente",
            Column::TaxCode => "Codice fiscale",
            Column::Birth => "Data e luogo di nascita",
            Column::Residence => "Residenza",
            Column::Household => "Familiari conviventi (nome e codice fiscale)",
            Column::Income => "Reddito dichiarato e anno",
            Column::Proceeding => "Procedimento",
            Column::Lawyer => "Difensore",
        }
    }

    /// The chosen columns from their codes, in the list's own order; every column when none
    /// is known.
    pub fn chosen(codes: &[String]) -> Vec<Column> {
        let chosen: Vec<Column> = Self::ALL
            .into_iter()
            .filter(|c| codes.iter().any(|k| k == c.code()))
            .collect();
        if chosen.is_empty() {
            Self::ALL.to_vec()
        } else {
            chosen
        }
    }
}

/// Splits the delibere (their sizes in bytes, in the order they will be listed) into parts of
/// at most [`MAX_ITEMS`] delibere and [`MAX_BYTES`] of attachments each (with
/// [`COVER_ALLOWANCE`] kept for the cover list). A delibera larger than a part on its own goes
/// alone. Returns the index ranges of the parts, at most [`MAX_PARTS_PER_RUN`]: what is beyond
/// waits for the next run.
pub fn split(sizes: &[u64]) -> Vec<std::ops::Range<usize>> {
    let budget = MAX_BYTES - COVER_ALLOWANCE;
    let mut parts = Vec::new();
    let mut start = 0;
    let mut bytes = 0u64;
    for (i, size) in sizes.iter().enumerate() {
        let full = i - start >= MAX_ITEMS || (i > start && bytes.saturating_add(*size) > budget);
        if full {
            parts.push(start..i);
            if parts.len() == MAX_PARTS_PER_RUN {
                return parts;
            }
            start = i;
            bytes = 0;
        }
        bytes = bytes.saturating_add(*size);
    }
    if start < sizes.len() {
        parts.push(start..sizes.len());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods_of_each_frequency() {
        let p = period_of(Frequency::Daily, d(2026, 12, 1));
        assert_eq!((p.start, p.end), (d(2026, 12, 1), d(2026, 12, 2)));
        assert_eq!(p.key, "2026-12-01");
        let p = period_of(Frequency::Weekly, d(2026, 12, 3));
        assert_eq!((p.start, p.end), (d(2026, 11, 30), d(2026, 12, 7)));
        assert_eq!(p.key, "2026-W49");
        assert_eq!(p.label, "dal 30/11/2026 al 06/12/2026");
        let p = period_of(Frequency::Monthly, d(2026, 12, 31));
        assert_eq!((p.start, p.end), (d(2026, 12, 1), d(2027, 1, 1)));
        assert_eq!(
            (p.key.as_str(), p.label.as_str()),
            ("2026-12", "dicembre 2026")
        );
        // A week across the year takes its ISO year.
        assert_eq!(period_of(Frequency::Weekly, d(2027, 1, 1)).key, "2026-W53");
    }

    #[test]
    fn the_batch_due_is_the_last_period_ended() {
        assert_eq!(last_ended(Frequency::Monthly, d(2027, 1, 1)).key, "2026-12");
        assert_eq!(
            last_ended(Frequency::Daily, d(2026, 12, 1)).key,
            "2026-11-30"
        );
        assert_eq!(
            last_ended(Frequency::Weekly, d(2026, 12, 7)).key,
            "2026-W49"
        );
    }

    #[test]
    fn columns_keep_the_lists_order_and_default_to_all() {
        let chosen = Column::chosen(&["reddito".into(), "delibera".into(), "x".into()]);
        assert_eq!(chosen, [Column::Decision, Column::Income]);
        assert_eq!(Column::chosen(&[]).len(), 10);
    }

    #[test]
    fn a_batch_is_split_by_count_and_by_size() {
        assert_eq!(split(&[]), Vec::<std::ops::Range<usize>>::new());
        assert_eq!(split(&[10; 250]), [0..100, 100..200, 200..250]);
        let mb = 1024 * 1024;
        // 18 MiB of room per part: four files of 5 MiB make two parts of three and one.
        assert_eq!(split(&[5 * mb; 4]), [0..3, 3..4]);
        // A file larger than a part goes alone.
        assert_eq!(split(&[mb, 40 * mb, mb]), [0..1, 1..2, 2..3]);
        // At most a few parts per run.
        assert_eq!(split(&[10; 1000]).len(), MAX_PARTS_PER_RUN);
    }
}
