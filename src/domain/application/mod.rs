//! The application for legal aid (istanza): its code and PIN, its states, the steps of the
//! public form, what the user typed, and the rules that check it.

pub mod attachment;
pub mod check;
pub mod decision;
pub mod form;
pub mod integration;
pub mod matter;
pub mod workflow;

pub use workflow::{Action, Actor, Facts, Outcome, Refused, Stage, transition};

use std::fmt;

use serde::{Deserialize, Serialize};

/// Crockford's base32: no I, L, O, U, so that a code read aloud or copied by hand survives.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// The public code of an application (`7K3M-Q9TD`): 40 random bits, unique per Ordine. With the
/// PIN it lets anyone holding both follow or resume the application without an account.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ApplicationCode(String);

impl ApplicationCode {
    pub fn from_random(bytes: [u8; 5]) -> Self {
        let mut n = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let mut chars = [0u8; 8];
        for c in chars.iter_mut().rev() {
            *c = ALPHABET[(n & 31) as usize];
            n >>= 5;
        }
        let s = std::str::from_utf8(&chars).expect("ascii");
        Self(format!("{}-{}", &s[..4], &s[4..]))
    }

    /// Accepts what people type or paste: any case, spaces or hyphens anywhere, and the letters
    /// Crockford maps to digits (O → 0, I and L → 1).
    pub fn parse(input: &str) -> Option<Self> {
        let mut clean = String::with_capacity(8);
        for c in input.chars() {
            let c = match c.to_ascii_uppercase() {
                ' ' | '-' | '\u{2013}' | '\t' => continue,
                'O' => '0',
                'I' | 'L' => '1',
                c if ALPHABET.contains(&(c as u8)) && c.is_ascii() => c,
                _ => return None,
            };
            clean.push(c);
        }
        (clean.len() == 8).then(|| Self(format!("{}-{}", &clean[..4], &clean[4..])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApplicationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The PIN given once when a draft is created: eight digits, shown as `1234 5678`.
#[derive(Clone, PartialEq, Eq)]
pub struct Pin(String);

impl Pin {
    pub fn from_random(n: u32) -> Self {
        Self(format!("{:08}", n % 100_000_000))
    }

    pub fn parse(input: &str) -> Option<Self> {
        let digits: String = input
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .collect();
        (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn display(&self) -> String {
        format!("{} {}", &self.0[..4], &self.0[4..])
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(****)")
    }
}

/// The steps of the public form, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Step {
    Filing,
    Applicant,
    Household,
    Income,
    Case,
    Lawyer,
    Declarations,
    Attachments,
    Review,
}

impl Step {
    pub const ALL: [Step; 9] = [
        Step::Filing,
        Step::Applicant,
        Step::Household,
        Step::Income,
        Step::Case,
        Step::Lawyer,
        Step::Declarations,
        Step::Attachments,
        Step::Review,
    ];

    pub fn slug(self) -> &'static str {
        match self {
            Step::Filing => "chi-presenta",
            Step::Applicant => "richiedente",
            Step::Household => "famiglia",
            Step::Income => "redditi",
            Step::Case => "giudizio",
            Step::Lawyer => "avvocato",
            Step::Declarations => "dichiarazioni",
            Step::Attachments => "allegati",
            Step::Review => "riepilogo",
        }
    }

    pub fn from_slug(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.slug() == slug)
    }

    pub fn title(self) -> &'static str {
        match self {
            Step::Filing => "Chi presenta l'istanza e per quale giudizio",
            Step::Applicant => "Il richiedente",
            Step::Household => "Il nucleo familiare",
            Step::Income => "I redditi",
            Step::Case => "Il giudizio",
            Step::Lawyer => "L'avvocato",
            Step::Declarations => "Le dichiarazioni",
            Step::Attachments => "Allegati e firma",
            Step::Review => "Riepilogo e invio",
        }
    }

    pub fn short_title(self) -> &'static str {
        match self {
            Step::Filing => "Giudizio",
            Step::Applicant => "Richiedente",
            Step::Household => "Famiglia",
            Step::Income => "Redditi",
            Step::Case => "Causa",
            Step::Lawyer => "Avvocato",
            Step::Declarations => "Dichiarazioni",
            Step::Attachments => "Allegati",
            Step::Review => "Invio",
        }
    }

    pub fn number(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).expect("listed") + 1
    }

    pub fn next(self) -> Option<Step> {
        Self::ALL.get(self.number()).copied()
    }

    pub fn previous(self) -> Option<Step> {
        self.number().checked_sub(2).map(|i| Self::ALL[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_readable_and_parse_back_from_sloppy_input() {
        let code = ApplicationCode::from_random([0x12, 0x34, 0x56, 0x78, 0x9a]);
        assert_eq!(code.as_str().len(), 9);
        assert_eq!(ApplicationCode::parse(code.as_str()), Some(code.clone()));
        let sloppy = code.as_str().to_lowercase().replace('-', " ");
        assert_eq!(ApplicationCode::parse(&sloppy), Some(code));
        assert_eq!(
            ApplicationCode::parse("oiL0-0000").unwrap().as_str(),
            "0110-0000"
        );
        assert_eq!(ApplicationCode::parse("ABCD-EFG"), None);
        assert_eq!(ApplicationCode::parse("ABCD-EFGU"), None);
        assert_eq!(ApplicationCode::from_random([0; 5]).as_str(), "0000-0000");
        assert_eq!(
            ApplicationCode::from_random([0xff; 5]).as_str(),
            "ZZZZ-ZZZZ"
        );
    }

    #[test]
    fn pins_have_eight_digits() {
        assert_eq!(Pin::from_random(42).as_str(), "00000042");
        assert_eq!(Pin::from_random(123_456_789).as_str(), "23456789");
        assert_eq!(Pin::parse(" 1234 5678 ").unwrap().as_str(), "12345678");
        assert!(Pin::parse("1234567").is_none());
        assert!(Pin::parse("1234567a").is_none());
        assert_eq!(format!("{:?}", Pin::from_random(1)), "Pin(****)");
    }

    #[test]
    fn steps_are_in_order() {
        assert_eq!(Step::Filing.number(), 1);
        assert_eq!(Step::Review.number(), 9);
        assert_eq!(Step::Filing.next(), Some(Step::Applicant));
        assert_eq!(Step::Review.next(), None);
        assert_eq!(Step::Applicant.previous(), Some(Step::Filing));
        assert_eq!(Step::Filing.previous(), None);
        for s in Step::ALL {
            assert_eq!(Step::from_slug(s.slug()), Some(s));
        }
    }
}
