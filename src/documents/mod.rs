//! Documents: the PDFs we generate (typst) and the digital signatures we verify (openssl).

pub mod active;
pub mod binding;
pub mod crl_fetch;
pub mod delibera;
pub mod dossier;
pub mod pdf;
pub mod protocol_register;
pub mod seal;
pub mod signature;
pub mod tax_batch;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use signature::{
    SignatureFormat, SignatureReport, SigningTimeSource,
    qualified::{Assessment, NotQualified, Qscd, REVOCATION_NOT_CHECKED, TimestampCheck},
    revocation::RevocationStatus,
};

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
    /// The qualification check; `None` for signatures kept before it existed.
    #[serde(default)]
    pub qualification: Option<Qualification>,
}

/// The verification result of one signer beyond integrity (see
/// [`signature::qualified`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qualification {
    pub qualified: bool,
    /// Why not, when not.
    #[serde(default)]
    pub reasons: Vec<NotQualified>,
    pub signing_time: DateTime<Utc>,
    pub signing_time_source: SigningTimeSource,
    /// The trust service the certificate chains to.
    #[serde(default)]
    pub service: Option<String>,
    pub qc_compliance: bool,
    #[serde(default)]
    pub qscd: Qscd,
    pub non_repudiation: bool,
    /// OCSP/CRL, in Italian ("revoca non verificata" when nothing could be used).
    #[serde(default = "revocation_not_checked")]
    pub revocation: String,
    /// The revocation status itself (absent in results kept before it was checked).
    #[serde(default)]
    pub revocation_status: Option<RevocationStatus>,
    /// The signature timestamp, if the signature has one.
    #[serde(default)]
    pub timestamp: Option<TimestampCheck>,
}

fn revocation_not_checked() -> String {
    REVOCATION_NOT_CHECKED.into()
}

impl Qualification {
    fn from_assessment(a: &Assessment) -> Self {
        Self {
            qualified: a.qualified,
            reasons: a.reasons.clone(),
            signing_time: a.signing_time,
            signing_time_source: a.signing_time_source,
            service: a.service.clone(),
            qc_compliance: a.qc_compliance,
            qscd: a.qscd,
            non_repudiation: a.non_repudiation,
            revocation: a.revocation.label(),
            revocation_status: Some(a.revocation.clone()),
            timestamp: a.timestamp.clone(),
        }
    }

    /// The reasons, in one Italian sentence list.
    pub fn why_not(&self) -> String {
        self.reasons
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Whether a signature bears the qualified signature of an expected person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerCheck {
    /// The person signed, with a qualified signature.
    Qualified,
    /// The person signed, but not with a qualified signature: why (Italian).
    NotQualified(String),
    /// The person is not among the signers.
    Absent,
}

impl SignatureSummary {
    /// The summary of `report`, with the qualification of each signer (same order).
    pub fn new(report: &SignatureReport, assessments: &[Assessment]) -> Self {
        Self {
            format: match report.format {
                SignatureFormat::Cades => "CAdES".into(),
                SignatureFormat::Pades => "PAdES".into(),
            },
            signers: report
                .signers
                .iter()
                .enumerate()
                .map(|(i, s)| SignerSummary {
                    name: s.common_name.clone(),
                    codice_fiscale: s.codice_fiscale.clone(),
                    issuer: s.issuer.clone(),
                    valid_until: s.not_after,
                    qualification: assessments.get(i).map(Qualification::from_assessment),
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

    /// Whether the signer whose codice fiscale satisfies `is_expected` signed, and how.
    pub fn check_signer(&self, is_expected: impl Fn(&str) -> bool) -> SignerCheck {
        let mut found = None;
        for s in &self.signers {
            if !s.codice_fiscale.as_deref().is_some_and(&is_expected) {
                continue;
            }
            match &s.qualification {
                Some(q) if q.qualified => return SignerCheck::Qualified,
                Some(q) => found = Some(q.why_not()),
                None => {
                    found = Some(
                        "La qualificazione della firma non è stata verificata: ricaricare il file."
                            .into(),
                    )
                }
            }
        }
        found.map_or(SignerCheck::Absent, SignerCheck::NotQualified)
    }

    /// The signers (codice fiscale) whose signature is not qualified, with why (Italian).
    pub fn not_qualified(&self) -> Vec<(String, String)> {
        self.signers
            .iter()
            .filter_map(|s| {
                let cf = s.codice_fiscale.clone()?;
                match &s.qualification {
                    Some(q) if q.qualified => None,
                    Some(q) => Some((cf, q.why_not())),
                    None => Some((
                        cf,
                        "La qualificazione della firma non è stata verificata: ricaricare il file."
                            .into(),
                    )),
                }
            })
            .collect()
    }

    /// Every signer qualified.
    pub fn all_qualified(&self) -> bool {
        !self.signers.is_empty()
            && self
                .signers
                .iter()
                .all(|s| s.qualification.as_ref().is_some_and(|q| q.qualified))
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

    /// `Firma CAdES qualificata: Mario Rossi (RSSMRA80A01H501U)`, or `integra, non qualificata`
    /// when some signer is not qualified, or `qualificazione non verificata` for a summary kept
    /// before the check existed.
    pub fn describe(&self) -> String {
        let state = if self.all_qualified() {
            "qualificata"
        } else if self.signers.iter().all(|s| s.qualification.is_none()) {
            "integra (qualificazione non verificata)"
        } else {
            "integra ma non qualificata"
        };
        format!("Firma {} {state}: {}", self.format, self.signer_names())
    }
}

impl SignatureSummary {
    /// What a re-verification compares: per signer, the verdict and what it rests on (not the
    /// time of the check).
    pub fn verdict(&self) -> Vec<Option<Verdict>> {
        self.signers
            .iter()
            .map(|s| {
                s.qualification.as_ref().map(|q| {
                    (
                        q.qualified,
                        q.reasons.clone(),
                        // Revoked or not, not the date of the CRL that said so (a newer CRL
                        // saying the same is no change).
                        match &q.revocation_status {
                            Some(RevocationStatus::Good { .. }) => "non revocato".to_owned(),
                            Some(RevocationStatus::Revoked { at, .. }) => format!("revocato {at}"),
                            // Results kept before revocation was checked never checked it.
                            Some(RevocationStatus::NotChecked) | None => {
                                REVOCATION_NOT_CHECKED.into()
                            }
                        },
                        q.timestamp.as_ref().and_then(|t| t.service.clone()),
                    )
                })
            })
            .collect()
    }

    /// The data of the "Rapporto di verifica" PDF (`templates/rapporto.typ`).
    pub fn report_data(&self, file: ReportFile<'_>) -> serde_json::Value {
        use crate::domain::time::format_date_time;
        let signers: Vec<serde_json::Value> = self
            .signers
            .iter()
            .map(|s| {
                let q = s.qualification.as_ref();
                serde_json::json!({
                    "nome": s.name,
                    "codice_fiscale": s.codice_fiscale,
                    "emittente": s.issuer,
                    "valido_fino": format_date_time(s.valid_until),
                    "qualificata": match q {
                        Some(q) if q.qualified => "sì",
                        Some(_) => "no",
                        None => "non verificata (firma registrata prima del controllo)",
                    },
                    "motivi": q.map(Qualification::why_not).filter(|w| !w.is_empty()),
                    "servizio": q.and_then(|q| q.service.clone()),
                    "data_firma": q.map(|q| format_date_time(q.signing_time)),
                    "fonte_data": q.map(|q| q.signing_time_source.label()),
                    "marca": q.and_then(|q| q.timestamp.as_ref()).map(TimestampCheck::describe),
                    "revoca": q.map(|q| q.revocation.clone()),
                    "qscd": q.map(|q| q.qscd.label()),
                })
            })
            .collect();
        serde_json::json!({
            "ordine": file.ordine,
            "codice": file.case_code,
            "pratica": file.case_label,
            "tipo": file.kind_label,
            "file": file.filename,
            "sha256": file.sha256,
            "ricevuto_il": format_date_time(file.received_at),
            "verificato_il": format_date_time(self.verified_at),
            "generata_il_iso": self.verified_at.to_rfc3339(),
            "formato": self.format,
            "esito": self.describe(),
            "firmatari": signers,
        })
    }
}

/// Qualified or not, why not, the revocation status, the timestamp's qualifying service.
pub type Verdict = (bool, Vec<NotQualified>, String, Option<String>);

/// The file a report is about.
pub struct ReportFile<'a> {
    /// `{"nome", "pec"}` of the Ordine, as the other documents take it.
    pub ordine: serde_json::Value,
    pub case_code: &'a str,
    /// "Pratica 2026/000123" or "Istanza ABC-123".
    pub case_label: &'a str,
    pub kind_label: &'a str,
    pub filename: &'a str,
    pub sha256: &'a str,
    pub received_at: DateTime<Utc>,
}

impl TimestampCheck {
    /// Italian, for pages and the report.
    pub fn describe(&self) -> String {
        let when = crate::domain::time::format_date_time(self.time);
        match &self.service {
            Some(service) => format!("{when}, {} (qualificata: {service})", self.tsa),
            None => format!(
                "{when}, {} (non qualificata secondo l'elenco di fiducia: non usata)",
                self.tsa
            ),
        }
    }
}
