//! Amounts of money in euro, held as an integer number of cents.
//!
//! Pure domain code: no I/O. [`Euro::parse_it`] reads amounts the way Italians
//! type them ("13.659,64", "€ 13659,64", "13659.64"), and `Display` renders the
//! Italian format ("13.659,64": thousands dot, decimal comma, always two
//! decimals, no currency sign).

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Mul};

use serde::{Deserialize, Serialize};

/// Message shown to the user for any amount that cannot be read.
const EURO_ERROR_MESSAGE: &str = "Indicare un importo in euro, ad esempio 12.345,67.";

/// Largest amount accepted by [`Euro::parse_it`]: one billion euro, in cents.
const MAX_PARSE_CENTS: i64 = 1_000_000_000 * 100;

/// An amount of money in euro, stored as a whole number of cents.
///
/// Serialised (serde) as the plain integer number of cents, e.g. `1365964`
/// for 13.659,64 € (`#[serde(transparent)]`, so every format sees a bare
/// integer, not a newtype).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Euro(i64);

impl Euro {
    /// Zero euro.
    pub const ZERO: Euro = Euro(0);

    /// Builds an amount from a number of cents (`from_cents(1_365_964)` is 13.659,64 €).
    pub const fn from_cents(cents: i64) -> Euro {
        Euro(cents)
    }

    /// The amount as a number of cents.
    pub const fn cents(self) -> i64 {
        self.0
    }

    /// Addition that returns `None` on `i64` overflow.
    pub const fn checked_add(self, other: Euro) -> Option<Euro> {
        match self.0.checked_add(other.0) {
            Some(c) => Some(Euro(c)),
            None => None,
        }
    }

    /// Reads an amount typed by an Italian user.
    ///
    /// Accepted (examples): `"13.659,64"`, `"13659,64"`, `"13659"`, `"13.659"`,
    /// `"1.234.567,8"`, `"13659.64"`, `"€ 13.659,64"`, `"13.659,64 €"`,
    /// `" 13 659,64 "`.
    ///
    /// Rules:
    /// - surrounding whitespace and a single `€` sign at the start or at the end
    ///   are ignored;
    /// - a comma is the decimal separator and must be followed by 1 or 2 digits;
    /// - without a comma, a *single* dot followed by exactly 1 or 2 digits is a
    ///   decimal point (`"13659.64"`);
    /// - otherwise dots (or spaces, but not both kinds mixed) are thousands
    ///   separators: the first group has 1 to 3 digits, every later group
    ///   exactly 3 (`"13.659"` is 13659 €, `"1.234.567"` is 1234567 €);
    /// - negative amounts, more than two decimals, letters or other symbols,
    ///   empty input and amounts over one billion euro are rejected.
    pub fn parse_it(input: &str) -> Result<Euro, EuroError> {
        let mut s = input.trim();
        if let Some(rest) = s.strip_prefix('€') {
            s = rest.trim_start();
        } else if let Some(rest) = s.strip_suffix('€') {
            s = rest.trim_end();
        }
        if s.is_empty() {
            return Err(EuroError::Vuoto);
        }
        if s.starts_with('-') || s.starts_with('−') {
            return Err(EuroError::Negativo);
        }

        let (int_part, frac_part) = split_decimal(s)?;
        let euros = parse_grouped_integer(int_part)?;
        let cents = match frac_part {
            None => 0,
            Some(f) => parse_fraction(f)?,
        };
        let total = euros
            .checked_mul(100)
            .and_then(|e| e.checked_add(cents))
            .ok_or(EuroError::FuoriScala)?;
        if total > MAX_PARSE_CENTS {
            return Err(EuroError::FuoriScala);
        }
        Ok(Euro(total))
    }
}

/// Splits `s` into integer part and optional fractional part, according to the
/// decimal-separator rules of [`Euro::parse_it`].
fn split_decimal(s: &str) -> Result<(&str, Option<&str>), EuroError> {
    let commas = s.matches(',').count();
    if commas > 1 {
        return Err(EuroError::Formato);
    }
    if let Some((int_part, frac)) = s.split_once(',') {
        return Ok((int_part, Some(frac)));
    }
    // No comma: a single dot followed by 1 or 2 digits is a decimal point.
    if s.matches('.').count() == 1
        && let Some((int_part, frac)) = s.split_once('.')
        && (1..=2).contains(&frac.len())
        && frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Ok((int_part, Some(frac)));
    }
    Ok((s, None))
}

/// Whitespace accepted as a thousands separator (plain, no-break and narrow
/// no-break space, as produced by some keyboards and spreadsheets).
fn is_space_separator(c: char) -> bool {
    matches!(c, ' ' | '\u{00A0}' | '\u{202F}')
}

/// Parses the integer part, with optional thousands separators.
fn parse_grouped_integer(s: &str) -> Result<i64, EuroError> {
    if s.is_empty() {
        return Err(EuroError::Formato);
    }
    let has_dot = s.contains('.');
    let has_space = s.chars().any(is_space_separator);
    if has_dot && has_space {
        return Err(EuroError::Formato);
    }
    let groups: Vec<&str> = if has_dot {
        s.split('.').collect()
    } else if has_space {
        s.split(is_space_separator).collect()
    } else {
        vec![s]
    };
    for (i, group) in groups.iter().enumerate() {
        if group.is_empty() || !group.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EuroError::Formato);
        }
        if groups.len() > 1 {
            let ok = if i == 0 {
                group.len() <= 3
            } else {
                group.len() == 3
            };
            if !ok {
                return Err(EuroError::Formato);
            }
        }
    }
    let mut value: i64 = 0;
    for b in groups.iter().flat_map(|g| g.bytes()) {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(i64::from(b - b'0')))
            .ok_or(EuroError::FuoriScala)?;
    }
    Ok(value)
}

/// Parses 1 or 2 decimal digits into cents ("5" → 50, "05" → 5).
fn parse_fraction(f: &str) -> Result<i64, EuroError> {
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EuroError::Formato);
    }
    if f.len() > 2 {
        return Err(EuroError::TroppiDecimali);
    }
    let mut cents: i64 = 0;
    for b in f.bytes() {
        cents = cents * 10 + i64::from(b - b'0');
    }
    if f.len() == 1 {
        cents *= 10;
    }
    Ok(cents)
}

/// A whole number written the Italian way: `20.000`.
pub fn group_thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push('.');
        }
        grouped.push(c);
    }
    grouped
}

impl fmt::Display for Euro {
    /// Italian format: `13.659,64` (negative amounts get a leading `-`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let abs = self.0.unsigned_abs();
        let grouped = group_thousands(abs / 100);
        let cents = abs % 100;
        let sign = if self.0 < 0 { "-" } else { "" };
        let text = format!("{sign}{grouped},{cents:02}");
        f.pad(&text)
    }
}

impl Add for Euro {
    type Output = Euro;

    /// Saturating addition: the result is clamped to the `i64` range of cents
    /// instead of overflowing (use [`Euro::checked_add`] to detect overflow).
    fn add(self, rhs: Euro) -> Euro {
        Euro(self.0.saturating_add(rhs.0))
    }
}

impl Sum for Euro {
    /// Saturating sum (see [`Add`]).
    fn sum<I: Iterator<Item = Euro>>(iter: I) -> Euro {
        iter.fold(Euro::ZERO, |acc, x| acc + x)
    }
}

impl<'a> Sum<&'a Euro> for Euro {
    /// Saturating sum (see [`Add`]).
    fn sum<I: Iterator<Item = &'a Euro>>(iter: I) -> Euro {
        iter.copied().sum()
    }
}

impl Mul<u32> for Euro {
    type Output = Euro;

    /// Saturating multiplication by a count: the result is clamped to the
    /// `i64` range of cents instead of overflowing.
    fn mul(self, rhs: u32) -> Euro {
        Euro(self.0.saturating_mul(i64::from(rhs)))
    }
}

/// Why an amount typed by the user could not be read. Every variant shows the
/// same Italian message; the variant is for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EuroError {
    /// Nothing was typed.
    #[error("{}", EURO_ERROR_MESSAGE)]
    Vuoto,
    /// Letters, symbols or misplaced separators.
    #[error("{}", EURO_ERROR_MESSAGE)]
    Formato,
    /// A negative amount.
    #[error("{}", EURO_ERROR_MESSAGE)]
    Negativo,
    /// More than two decimal digits.
    #[error("{}", EURO_ERROR_MESSAGE)]
    TroppiDecimali,
    /// Over one billion euro.
    #[error("{}", EURO_ERROR_MESSAGE)]
    FuoriScala,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(s: &str) -> Result<i64, EuroError> {
        Euro::parse_it(s).map(Euro::cents)
    }

    #[test]
    fn parses_accepted_forms() {
        assert_eq!(p("13.659,64"), Ok(1_365_964));
        assert_eq!(p("13659,64"), Ok(1_365_964));
        assert_eq!(p("13659"), Ok(1_365_900));
        assert_eq!(p("13.659"), Ok(1_365_900));
        assert_eq!(p("1.234.567,8"), Ok(123_456_780));
        assert_eq!(p("13659.64"), Ok(1_365_964));
        assert_eq!(p("13659.6"), Ok(1_365_960));
        assert_eq!(p("1.5"), Ok(150));
        assert_eq!(p("1.23"), Ok(123));
        assert_eq!(p("€ 13.659,64"), Ok(1_365_964));
        assert_eq!(p("€13.659,64"), Ok(1_365_964));
        assert_eq!(p("13.659,64 €"), Ok(1_365_964));
        assert_eq!(p("  13659,64  "), Ok(1_365_964));
        assert_eq!(p("13 659,64"), Ok(1_365_964));
        assert_eq!(p("13\u{00A0}659,64"), Ok(1_365_964));
        assert_eq!(p("0,05"), Ok(5));
        assert_eq!(p("0"), Ok(0));
        assert_eq!(p("0,5"), Ok(50));
        assert_eq!(p("1.000.000.000"), Ok(MAX_PARSE_CENTS));
        assert_eq!(p("1.000.000.000,00"), Ok(MAX_PARSE_CENTS));
    }

    #[test]
    fn rejects_bad_forms() {
        assert_eq!(p(""), Err(EuroError::Vuoto));
        assert_eq!(p("   "), Err(EuroError::Vuoto));
        assert_eq!(p("€"), Err(EuroError::Vuoto));
        assert_eq!(p("-5"), Err(EuroError::Negativo));
        assert_eq!(p("-13.659,64"), Err(EuroError::Negativo));
        assert_eq!(p("€ -5"), Err(EuroError::Negativo));
        assert_eq!(p("13659,645"), Err(EuroError::TroppiDecimali));
        assert_eq!(p("1.000.000.000,01"), Err(EuroError::FuoriScala));
        assert_eq!(p("99999999999999999999999"), Err(EuroError::FuoriScala));
        assert_eq!(p("2000000000"), Err(EuroError::FuoriScala));
        for bad in [
            "abc",
            "12a",
            "12,3,4",
            "13.659.64",
            "1.2345",
            "13659.",
            "13659,",
            ",50",
            ".50",
            "1..234",
            "1.234 567",
            "12345.678",
            "1.234.56",
            "+5",
            "5 EUR",
            "€ 5 €",
            "1e3",
            "１２",
            "13 659 ,64",
        ] {
            assert!(Euro::parse_it(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn error_message_is_italian() {
        assert_eq!(
            EuroError::Formato.to_string(),
            "Indicare un importo in euro, ad esempio 12.345,67."
        );
        assert_eq!(EuroError::Vuoto.to_string(), EURO_ERROR_MESSAGE);
    }

    #[test]
    fn displays_italian_format() {
        assert_eq!(Euro::from_cents(1_365_964).to_string(), "13.659,64");
        assert_eq!(Euro::ZERO.to_string(), "0,00");
        assert_eq!(Euro::from_cents(5).to_string(), "0,05");
        assert_eq!(Euro::from_cents(100_000).to_string(), "1.000,00");
        assert_eq!(Euro::from_cents(99_999).to_string(), "999,99");
        assert_eq!(Euro::from_cents(123_456_780).to_string(), "1.234.567,80");
        assert_eq!(Euro::from_cents(-1_365_964).to_string(), "-13.659,64");
        assert_eq!(
            Euro::from_cents(i64::MIN).to_string(),
            "-92.233.720.368.547.758,08"
        );
        assert_eq!(format!("{:>10}", Euro::from_cents(150)), "      1,50");
    }

    #[test]
    fn arithmetic() {
        let a = Euro::from_cents(1_365_964);
        let b = Euro::from_cents(103_291);
        assert_eq!(a + b * 2, Euro::from_cents(1_572_546));
        let zero_members = 0;
        assert_eq!(b * zero_members, Euro::ZERO);
        assert_eq!(a.checked_add(b), Some(Euro::from_cents(1_469_255)));
        assert_eq!(Euro::from_cents(i64::MAX).checked_add(b), None);
        assert_eq!(Euro::from_cents(i64::MAX) + b, Euro::from_cents(i64::MAX));
        assert_eq!(Euro::from_cents(i64::MAX) * 2, Euro::from_cents(i64::MAX));
        let v = [a, b, b];
        assert_eq!(v.iter().sum::<Euro>(), Euro::from_cents(1_572_546));
        assert_eq!(v.into_iter().sum::<Euro>(), Euro::from_cents(1_572_546));
        assert_eq!(Vec::<Euro>::new().into_iter().sum::<Euro>(), Euro::ZERO);
        assert!(b < a);
        assert_eq!(Euro::default(), Euro::ZERO);
    }

    #[test]
    fn serde_is_integer_cents() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as DeError, I64Deserializer};
        let d: I64Deserializer<DeError> = 1_365_964_i64.into_deserializer();
        assert_eq!(Euro::deserialize(d), Ok(Euro::from_cents(1_365_964)));
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(cents in 0i64..=MAX_PARSE_CENTS) {
            let e = Euro::from_cents(cents);
            prop_assert_eq!(Euro::parse_it(&e.to_string()), Ok(e));
            prop_assert_eq!(Euro::parse_it(&format!("€ {e}")), Ok(e));
        }

        #[test]
        fn plain_forms_round_trip(euros in 0i64..1_000_000_000, c in 0i64..100) {
            let expected = Ok(Euro::from_cents(euros * 100 + c));
            prop_assert_eq!(Euro::parse_it(&format!("{euros},{c:02}")), expected);
            prop_assert_eq!(Euro::parse_it(&format!("{euros}.{c:02}")), expected);
        }

        #[test]
        fn never_panics(s in "\\PC{0,20}") {
            let _ = Euro::parse_it(&s);
        }
    }
}
