//! What a search box was given: an application code, a codice fiscale, a protocol number, or
//! words of names. Pure: the store runs the matching query.

use super::{
    application::ApplicationCode, codice_fiscale::CodiceFiscale, protocol::ProtocolNumber,
};

/// The longest query taken (longer ones are cut): names and numbers are short.
pub const MAX_QUERY: usize = 100;
/// At most this many words are matched.
pub const MAX_WORDS: usize = 6;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Query {
    Code(ApplicationCode),
    CodiceFiscale(String),
    /// `13/2026`, `2026/0000013`, or `13` (any year).
    Protocol {
        year: Option<i32>,
        number: i32,
    },
    /// Words of names, as typed (folded by the database: accents and case ignored).
    Words(String),
}

impl Query {
    /// `None` for an empty query.
    pub fn parse(input: &str) -> Option<Self> {
        let q: String = input.trim().chars().take(MAX_QUERY).collect();
        if q.is_empty() {
            return None;
        }
        if let Some(p) = protocol(&q) {
            return Some(p);
        }
        if let Ok(cf) = CodiceFiscale::parse(&q) {
            return Some(Query::CodiceFiscale(cf.as_str().to_owned()));
        }
        // A code has digits; a name of eight letters ("Bianchini") is a name.
        if q.chars().any(|c| c.is_ascii_digit())
            && let Some(code) = ApplicationCode::parse(&q)
        {
            return Some(Query::Code(code));
        }
        let words: Vec<&str> = q.split_whitespace().take(MAX_WORDS).collect();
        Some(Query::Words(words.join(" ")))
    }
}

/// `13/2026` (number/year), `2026/0000013` (year/number, as printed), `13` (number).
fn protocol(q: &str) -> Option<Query> {
    let digits = |s: &str| !s.is_empty() && s.len() <= 7 && s.bytes().all(|b| b.is_ascii_digit());
    match q.split_once('/') {
        Some((a, b)) if digits(a) && digits(b) => {
            let (a, b): (i32, i32) = (a.parse().ok()?, b.parse().ok()?);
            let (year, number) = if a >= 1900 && (b < 1900 || a > b) {
                (a, b)
            } else {
                (b, a)
            };
            (number > 0 && (1900..=9999).contains(&year)).then_some(Query::Protocol {
                year: Some(year),
                number,
            })
        }
        None if digits(q) => {
            let number: i32 = q.parse().ok()?;
            (number > 0).then_some(Query::Protocol { year: None, number })
        }
        _ => None,
    }
}

impl From<ProtocolNumber> for Query {
    fn from(p: ProtocolNumber) -> Self {
        Query::Protocol {
            year: Some(p.year),
            number: p.number,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_key_is_recognised() {
        let p = |year, number| Some(Query::Protocol { year, number });
        assert_eq!(Query::parse("13/2026"), p(Some(2026), 13));
        assert_eq!(Query::parse("2026/0000013"), p(Some(2026), 13));
        assert_eq!(Query::parse(" 13 "), p(None, 13));
        assert_eq!(Query::parse(""), None);
        assert!(matches!(Query::parse("7k3m q9td"), Some(Query::Code(_))));
        assert!(matches!(
            Query::parse("rssmra85t10a562s"),
            Some(Query::CodiceFiscale(cf)) if cf == "RSSMRA85T10A562S"
        ));
        assert_eq!(
            Query::parse("Bianchini"),
            Some(Query::Words("Bianchini".into())),
            "eight letters are a name, not a code"
        );
        assert_eq!(
            Query::parse("  anna   Bianchi "),
            Some(Query::Words("anna Bianchi".into()))
        );
        assert_eq!(
            Query::parse("0/2026"),
            None.or(Some(Query::Words("0/2026".into())))
        );
    }
}
