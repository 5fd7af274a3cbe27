//! Protocol numbering (D.P.R. 445/2000 art. 57): one gapless series per Ordine and calendar year
//! in Europe/Rome time, at least seven digits, and the fingerprint of what was filed.

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::time::rome_date;

/// `2026/0000123`
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolNumber {
    pub year: i32,
    pub number: i32,
}

impl fmt::Display for ProtocolNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{:07}", self.year, self.number)
    }
}

/// The year whose series a registration at `at` belongs to: the series restarts at midnight
/// of 1 January in Rome, not in UTC.
pub fn year_of(at: DateTime<Utc>) -> i32 {
    rome_date(at).year()
}

/// One filed document, as the protocol records it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiledDocument {
    pub name: String,
    pub kind: String,
    pub sha256: String,
}

/// One recipient of an outgoing entry: who (`richiedente`, `avvocato`, `ufficio_giudiziario`,
/// `agenzia_entrate`), their name, and the address it was sent to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Addressee {
    pub kind: String,
    pub name: String,
    pub address: Option<String>,
}

/// One SHA-256 over the documents of a registration: each document's name and digest, one per
/// line, in the order given. Changing, adding or removing any file changes it.
pub fn documents_digest(docs: &[FiledDocument]) -> String {
    let mut h = Sha256::new();
    for d in docs {
        h.update(d.kind.as_bytes());
        h.update(b"\t");
        h.update(d.name.as_bytes());
        h.update(b"\t");
        h.update(d.sha256.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn numbers_have_seven_digits_at_least() {
        let n = ProtocolNumber {
            year: 2026,
            number: 123,
        };
        assert_eq!(n.to_string(), "2026/0000123");
        let n = ProtocolNumber {
            year: 2026,
            number: 12_345_678,
        };
        assert_eq!(n.to_string(), "2026/12345678");
    }

    #[test]
    fn the_series_turns_at_midnight_in_rome() {
        // 31 Dec 23:59:59 and 1 Jan 00:00:01 in Rome (UTC+1 in winter).
        let last = Utc.with_ymd_and_hms(2026, 12, 31, 22, 59, 59).unwrap();
        let first = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 1).unwrap();
        assert_eq!(year_of(last), 2026);
        assert_eq!(year_of(first), 2027);
    }

    #[test]
    fn the_digest_follows_every_document() {
        let a = FiledDocument {
            name: "a.pdf".into(),
            kind: "documento_identita".into(),
            sha256: "00".repeat(32),
        };
        let b = FiledDocument {
            name: "b.pdf".into(),
            kind: "altro".into(),
            sha256: "11".repeat(32),
        };
        let both = documents_digest(&[a.clone(), b.clone()]);
        assert_eq!(both.len(), 64);
        assert_ne!(both, documents_digest(std::slice::from_ref(&a)));
        let mut changed = b.clone();
        changed.sha256 = "12".repeat(32);
        assert_ne!(both, documents_digest(&[a, changed]));
    }
}
