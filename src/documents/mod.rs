//! Documents: the PDFs we generate (typst) and the digital signatures we verify (openssl).

pub mod active;
pub mod delibera;
pub mod pdf;
pub mod seal;
pub mod signature;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use signature::{SignatureFormat, SignatureReport};

/// What is kept of a verified signature, with the attachment (JSON in the database).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureSummary {
    /// `CAdES` or `PAdES`.
    pub format: String,
    pub signers: Vec<SignerSummary>,
    /// Envelopes around the content (`.p7m.p7m` is 2).
    pub nesting: u8,
    pub verified_at: DateTime<Utc>,
    /// For CAdES: the signed content, extracted and stored beside the envelope, so that it can
    /// be read in a browser.
    #[serde(default)]
    pub content: Option<ExtractedContent>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtractedContent {
    pub storage_key: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerSummary {
    pub name: Option<String>,
    pub codice_fiscale: Option<String>,
    pub issuer: String,
    pub valid_until: DateTime<Utc>,
}

impl SignatureSummary {
    pub fn from_report(report: &SignatureReport) -> Self {
        Self {
            format: match report.format {
                SignatureFormat::Cades => "CAdES".into(),
                SignatureFormat::Pades => "PAdES".into(),
            },
            signers: report
                .signers
                .iter()
                .map(|s| SignerSummary {
                    name: s.common_name.clone(),
                    codice_fiscale: s.codice_fiscale.clone(),
                    issuer: s.issuer.clone(),
                    valid_until: s.not_after,
                })
                .collect(),
            nesting: report.nesting,
            verified_at: Utc::now(),
            content: None,
        }
    }

    pub fn signer_codes(&self) -> Vec<String> {
        self.signers
            .iter()
            .filter_map(|s| s.codice_fiscale.clone())
            .collect()
    }

    pub fn signer_names(&self) -> String {
        let names: Vec<String> = self
            .signers
            .iter()
            .map(|s| match (&s.name, &s.codice_fiscale) {
                (Some(n), Some(cf)) => format!("{n} ({cf})"),
                (Some(n), None) => n.clone(),
                (None, Some(cf)) => cf.clone(),
                (None, None) => "firmatario sconosciuto".into(),
            })
            .collect();
        names.join(", ")
    }

    /// `Firma CAdES valida: Mario Rossi (RSSMRA80A01H501U)`
    pub fn describe(&self) -> String {
        format!("Firma {} valida: {}", self.format, self.signer_names())
    }
}
