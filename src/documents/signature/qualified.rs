//! The validation policy: is a signature *qualified*?
//!
//! Anchored on ETSI TS 119 615 and EN 319 102-1 as the EU DSS library applies them, reduced to
//! what this service needs. A signer is qualified when all of these hold:
//! 1. its certificate chains (OpenSSL path validation at the signing time, any key purpose) to
//!    the certificate of a trust service of a trusted list — the trust anchor is the service's
//!    certificate itself, root or not;
//! 2. that service is of type `CA/QC` with status `granted` at the signing time (before
//!    1 July 2016 also the Directive 1999/93/EC statuses DSS counts as valid: `undersupervision`,
//!    `supervisionincessation`, `accredited`), and no `NotQualified` qualifier of the list
//!    applies to the certificate;
//! 3. the certificate declares itself qualified (QCStatement `QcCompliance`, 0.4.0.1862.1.1),
//!    and if it states a `QcType` that type includes `qc-type-esign`;
//! 4. its keyUsage has nonRepudiation (contentCommitment): AgID guideline §4.1, EN 319 412-2.
//!
//! # The signing time
//!
//! A **signature timestamp** (CAdES-T / PAdES-B-T, RFC 3161, verified over the signature value
//! in [`super::timestamp`]) fixes the signing time when its TSA is trusted: the token's signer
//! certificate chains (at the token's time, key purpose timeStamping) to a service of type
//! `TSA/QTST` whose status is `granted` at that time. The TSA is *not* required to be listed by
//! the same country, nor do we accept a `CA/QC` anchor as a TSA: a timestamp from a TSA that is
//! not qualified is reported and ignored. With a trusted timestamp the certificate and the
//! service are judged at its time only: a certificate expired, or a service withdrawn, after it
//! does not matter.
//!
//! Without one the signing time is the one the signature declares (CMS `signingTime`, PDF
//! `/M`), or the upload time when it declares none. A declared time is only the signer's word:
//! as DSS does without a timestamp, the certificate must also be valid, and the service
//! qualifying, at the upload time, which the signature provably precedes (an expired certificate
//! without a qualified timestamp is refused, [`NotQualified::ExpiredWithoutTimestamp`]). A declared time after the upload is not believed.
//!
//! # Revocation
//!
//! See [`super::revocation`]: the CRLs and OCSP responses the file carries (and CRLs fetched
//! from the certificate's distribution points, when the caller could fetch them). A
//! certificate revoked at or before the latest time the signature is proven to precede (the
//! timestamp; else the upload) is refused ([`NotQualified::Revoked`]); one revoked later is
//! not. With no usable data the result says "revoca non verificata"
//! ([`REVOCATION_NOT_CHECKED`]); it does not by itself make the signature not qualified, but it
//! is always shown to staff.
//!
//! Also reported, not required: whether the key is on a qualified device (QSCD: `QcSSCD` in the
//! certificate, or the list's `QCWithSSCD`/`QCWithQSCD`/`QCQSCDManagedOnBehalf` qualifiers).
//!
//! List qualifiers are applied when their criteria are certificate policies; qualifiers with
//! other criteria (key usage, ...) are not evaluated.

use chrono::{DateTime, Duration, TimeZone, Utc};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509PurposeId, X509StoreContext};
use serde::{Deserialize, Serialize};

use super::ber::{self, Reader};
use super::revocation::{self, RevocationData, RevocationSource, RevocationStatus};
use super::trusted_list::{CA_QC, QUALIFIER_PREFIX, Qualifier, STATUS_PREFIX, StatusPeriod};
use super::{CertificateDer, SignatureReport, Signer, SigningTimeSource};

/// What the result says when no revocation data could be used.
pub const REVOCATION_NOT_CHECKED: &str = "revoca non verificata";

/// The service type of a qualified timestamping service.
pub const TSA_QTST: &str = "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST";

/// The day eIDAS statuses replaced the Directive's (ETSI TS 119 612 v2.1.1).
fn eidas_date() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2016, 7, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A declared signing time later than the upload by more than this is not believed.
const CLOCK_SKEW_MINUTES: i64 = 5;

/// A trust service as the trust store gives it: a candidate anchor for a chain.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// "Provider — service (IT)", for pages.
    pub label: String,
    /// DER of one certificate of the service's digital identity.
    pub certificate: Vec<u8>,
    /// Oldest first.
    pub history: Vec<StatusPeriod>,
}

/// What to look up in the trust store for a report: the SHA-256 of each issuer name (DER) and
/// each authority key identifier (hex) of the certificates it carries.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LookupKeys {
    pub subject_sha256: Vec<String>,
    pub ski: Vec<String>,
}

pub fn lookup_keys(report: &SignatureReport) -> LookupKeys {
    let mut keys = LookupKeys::default();
    let all = report
        .signers
        .iter()
        .map(|s| &s.certificate)
        .chain(report.certificates.iter());
    for der in all {
        let Ok(cert) = X509::from_der(&der.0) else {
            continue;
        };
        if let Ok(issuer) = cert.issuer_name().to_der() {
            keys.subject_sha256
                .push(hex::encode(openssl::sha::sha256(&issuer)));
        }
        if let Some(aki) = cert.authority_key_id() {
            keys.ski.push(hex::encode(aki.as_slice()));
        }
    }
    for ts in report.signers.iter().filter_map(|s| s.timestamp.as_ref()) {
        for der in std::iter::once(&ts.tsa).chain(ts.certificates.iter()) {
            let Ok(cert) = X509::from_der(&der.0) else {
                continue;
            };
            // A QTST service usually lists the TSA unit's own certificate.
            for name in [cert.issuer_name(), cert.subject_name()] {
                if let Ok(name) = name.to_der() {
                    keys.subject_sha256
                        .push(hex::encode(openssl::sha::sha256(&name)));
                }
            }
            if let Some(aki) = cert.authority_key_id() {
                keys.ski.push(hex::encode(aki.as_slice()));
            }
            if let Some(ski) = cert.subject_key_id() {
                keys.ski.push(hex::encode(ski.as_slice()));
            }
        }
    }
    keys.subject_sha256.sort();
    keys.subject_sha256.dedup();
    keys.ski.sort();
    keys.ski.dedup();
    keys
}

/// Where the key is kept, as far as the certificate and the list say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Qscd {
    /// `QcSSCD` in the certificate.
    Certificate,
    /// A qualifier of the trusted list (`QCWithQSCD`, `QCQSCDManagedOnBehalf`, ...).
    TrustedList,
    /// The list says the key is not on a qualified device.
    No,
    /// Nobody says.
    #[default]
    Unknown,
}

impl Qscd {
    pub fn label(self) -> &'static str {
        match self {
            Self::Certificate => "sì (dichiarato nel certificato)",
            Self::TrustedList => "sì (secondo l'elenco di fiducia)",
            Self::No => "no",
            Self::Unknown => "non dichiarato",
        }
    }
}

/// Why a signer is not qualified. The Display text is shown to users.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum NotQualified {
    #[error(
        "Il certificato di firma non è stato rilasciato da un prestatore qualificato presente nell'elenco di fiducia."
    )]
    NoTrustedIssuer,
    #[error(
        "Il certificato di firma non era valido alla data della firma ({at}): era scaduto o non ancora emesso."
    )]
    NotValidAtSigningTime { at: String },
    #[error(
        "Il prestatore che ha rilasciato il certificato di firma non risultava qualificato alla data {at} secondo l'elenco di fiducia (stato: {status})."
    )]
    ServiceNotGranted { at: String, status: String },
    #[error(
        "L'elenco di fiducia indica che i certificati di questo prestatore non sono qualificati."
    )]
    NotQualifiedByList,
    #[error(
        "Il certificato di firma non è un certificato qualificato (manca la dichiarazione QcCompliance)."
    )]
    NoQcCompliance,
    #[error(
        "Il certificato è qualificato per sigilli elettronici o siti web, non per la firma di una persona."
    )]
    NotForSignatures,
    #[error(
        "Il certificato di firma non consente la firma con valore legale (manca l'uso non ripudio)."
    )]
    NoNonRepudiation,
    #[error(
        "Il certificato di firma era scaduto quando il file è stato ricevuto ({at}) e nessuna marca temporale qualificata prova che la firma sia anteriore."
    )]
    ExpiredWithoutTimestamp { at: String },
    #[error(
        "Il certificato di firma risulta revocato dal {at}, prima della firma o del suo deposito."
    )]
    Revoked { at: String },
}

/// The signature timestamp, as judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimestampCheck {
    pub time: DateTime<Utc>,
    /// The TSA's name, from its certificate.
    pub tsa: String,
    /// The QTST service of a trusted list it chains to, granted at `time`; `None` when the
    /// TSA is not qualified (the timestamp is then not used).
    pub service: Option<String>,
}

/// The qualification of one signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assessment {
    pub qualified: bool,
    /// Empty when qualified.
    pub reasons: Vec<NotQualified>,
    pub signing_time: DateTime<Utc>,
    pub signing_time_source: SigningTimeSource,
    /// The trust service the certificate chains to, if any.
    pub service: Option<String>,
    pub qc_compliance: bool,
    pub qscd: Qscd,
    pub non_repudiation: bool,
    pub timestamp: Option<TimestampCheck>,
    pub revocation: RevocationStatus,
}

/// Assesses every signer of `report` against `anchors` (the services whose certificates may
/// have issued its certificates), for a file received at `received_at`.
///
/// `fetched_crls` are CRLs downloaded from the certificates' distribution points (none when
/// offline); they are used only for a signer the file's own revocation data leave unchecked.
pub fn assess_report(
    report: &SignatureReport,
    anchors: &[Anchor],
    received_at: DateTime<Utc>,
    fetched_crls: &[Vec<u8>],
) -> Vec<Assessment> {
    let evidence = Evidence {
        carried: &report.certificates,
        revocation: &report.revocation,
        fetched_crls,
    };
    report
        .signers
        .iter()
        .map(|s| assess(s, &evidence, anchors, received_at))
        .collect()
}

/// What the file (and the network) give besides the signer certificate.
pub struct Evidence<'a> {
    pub carried: &'a [CertificateDer],
    pub revocation: &'a RevocationData,
    pub fetched_crls: &'a [Vec<u8>],
}

pub fn assess(
    signer: &Signer,
    evidence: &Evidence<'_>,
    anchors: &[Anchor],
    received_at: DateTime<Utc>,
) -> Assessment {
    let carried = evidence.carried;
    let timestamp = signer.timestamp.as_ref().map(|ts| TimestampCheck {
        time: ts.time,
        tsa: ts.tsa_name.clone(),
        service: tsa_service(ts, anchors),
    });
    let (signing_time, source) = match (&timestamp, signer.claimed_signing_time) {
        (
            Some(TimestampCheck {
                time,
                service: Some(_),
                ..
            }),
            _,
        ) => (*time, SigningTimeSource::Timestamp),
        (_, Some((t, source))) if t <= received_at + Duration::minutes(CLOCK_SKEW_MINUTES) => {
            (t, source)
        }
        _ => (received_at, SigningTimeSource::Upload),
    };
    // The declared time, and the upload time which the signature provably precedes.
    let mut times = vec![signing_time];
    if !matches!(
        source,
        SigningTimeSource::Upload | SigningTimeSource::Timestamp
    ) {
        times.push(received_at);
    }
    let facts = CertificateFacts::read(&signer.certificate.0);
    let mut reasons = Vec::new();
    let mut service = None;
    let mut qscd = if facts.qc_sscd {
        Qscd::Certificate
    } else {
        Qscd::Unknown
    };

    // The chain must hold at every time: at the declared signing time and, without a trusted
    // timestamp, at the upload too (DSS: no proof of existence, so the certificate must still
    // be valid when we received the file).
    let chained: Vec<&Anchor> = anchors
        .iter()
        .filter(|a| {
            times
                .iter()
                .all(|t| chains_to(&signer.certificate.0, carried, &a.certificate, *t))
        })
        .collect();
    if chained.is_empty() {
        let chains_at = |at: DateTime<Utc>| {
            anchors
                .iter()
                .any(|a| chains_to(&signer.certificate.0, carried, &a.certificate, at))
        };
        let declared = times.len() > 1;
        reasons.push(if declared && chains_at(signing_time) {
            // Valid when it says it signed, no longer when the file reached us.
            NotQualified::ExpiredWithoutTimestamp {
                at: crate::domain::time::format_date_time(received_at),
            }
        } else if declared && chains_at(received_at) {
            // Chains at the upload time but not at the signing time: the certificate was not
            // valid when the signature says it was made.
            NotQualified::NotValidAtSigningTime {
                at: crate::domain::time::format_date_time(signing_time),
            }
        } else {
            NotQualified::NoTrustedIssuer
        });
    } else {
        // The first anchor qualifying at every time; else the first refusal met.
        let mut refusal = None;
        for anchor in &chained {
            match times
                .iter()
                .map(|t| status_refusal(anchor, *t))
                .find_map(|r| r)
            {
                None => {
                    service = Some(anchor.label.clone());
                    if let Some(period) = period_at(&anchor.history, signing_time) {
                        if applies(period, "NotQualified", &facts.policies) {
                            reasons.push(NotQualified::NotQualifiedByList);
                        }
                        if qscd == Qscd::Unknown {
                            qscd = list_qscd(period, &facts.policies);
                        }
                    }
                    refusal = None;
                    break;
                }
                Some(r) => {
                    refusal.get_or_insert(r);
                }
            }
        }
        if let Some(r) = refusal {
            service = Some(chained[0].label.clone());
            reasons.push(r);
        }
    }
    if !facts.qc_compliance {
        reasons.push(NotQualified::NoQcCompliance);
    } else if facts
        .qc_types
        .as_ref()
        .is_some_and(|types| !types.iter().any(|t| t == ESIGN))
    {
        reasons.push(NotQualified::NotForSignatures);
    }
    if !signer.non_repudiation {
        reasons.push(NotQualified::NoNonRepudiation);
    }
    let revocation = revocation_status(signer, evidence, anchors, signing_time);
    if let RevocationStatus::Revoked { at, .. } = &revocation {
        let proven_before = times.iter().max().copied().unwrap_or(signing_time);
        if *at <= proven_before {
            reasons.push(NotQualified::Revoked {
                at: crate::domain::time::format_date_time(*at),
            });
        }
    }
    Assessment {
        qualified: reasons.is_empty(),
        reasons,
        signing_time,
        signing_time_source: source,
        service,
        qc_compliance: facts.qc_compliance,
        qscd,
        non_repudiation: signer.non_repudiation,
        timestamp,
        revocation,
    }
}

/// The QTST service, granted at the token's time, that the token's TSA chains to.
fn tsa_service(ts: &super::Timestamp, anchors: &[Anchor]) -> Option<String> {
    anchors
        .iter()
        .find(|a| {
            period_at(&a.history, ts.time).is_some_and(|p| {
                p.service_type == TSA_QTST && qualifying_status(&p.status, ts.time)
            }) && chains_to_for(
                &ts.tsa.0,
                &ts.certificates,
                &a.certificate,
                ts.time,
                X509PurposeId::TIMESTAMP_SIGN,
            )
        })
        .map(|a| a.label.clone())
}

/// The revocation status of the signer certificate: the file's data first, then the CRLs
/// fetched; the issuer is looked for among the carried certificates and the anchors.
fn revocation_status(
    signer: &Signer,
    evidence: &Evidence<'_>,
    anchors: &[Anchor],
    signing_time: DateTime<Utc>,
) -> RevocationStatus {
    let Ok(cert) = X509::from_der(&signer.certificate.0) else {
        return RevocationStatus::NotChecked;
    };
    let issuers: Vec<X509> = evidence
        .carried
        .iter()
        .map(|c| c.0.as_slice())
        .chain(anchors.iter().map(|a| a.certificate.as_slice()))
        .filter_map(|der| X509::from_der(der).ok())
        .collect();
    let Some(issuer) = revocation::issuer_of(&cert, &issuers) else {
        return RevocationStatus::NotChecked;
    };
    let embedded = revocation::check(
        &cert,
        &issuer,
        evidence.revocation,
        RevocationSource::EmbeddedCrl,
        signing_time,
    );
    if embedded != RevocationStatus::NotChecked || evidence.fetched_crls.is_empty() {
        return embedded;
    }
    let fetched = RevocationData {
        crls: evidence.fetched_crls.to_vec(),
        ocsp_responses: Vec::new(),
    };
    revocation::check(
        &cert,
        &issuer,
        &fetched,
        RevocationSource::FetchedCrl,
        signing_time,
    )
}

/// Path validation from `leaf` to `anchor` at `at`, with the carried certificates as
/// intermediates; the anchor need not be self-signed.
fn chains_to(leaf: &[u8], carried: &[CertificateDer], anchor: &[u8], at: DateTime<Utc>) -> bool {
    // Italian signing certificates usually have no S/MIME extended key usage.
    chains_to_for(leaf, carried, anchor, at, X509PurposeId::ANY)
}

fn chains_to_for(
    leaf: &[u8],
    carried: &[CertificateDer],
    anchor: &[u8],
    at: DateTime<Utc>,
    purpose: X509PurposeId,
) -> bool {
    let run = || -> Result<bool, openssl::error::ErrorStack> {
        let leaf = X509::from_der(leaf)?;
        let anchor = X509::from_der(anchor)?;
        let mut builder = X509StoreBuilder::new()?;
        builder.add_cert(anchor)?;
        let mut param = X509VerifyParam::new()?;
        param.set_time(at.timestamp());
        param.set_flags(X509VerifyFlags::PARTIAL_CHAIN)?;
        param.set_purpose(purpose)?;
        builder.set_param(&param)?;
        let store = builder.build();
        let mut chain = Stack::new()?;
        for c in carried {
            if let Ok(c) = X509::from_der(&c.0) {
                chain.push(c)?;
            }
        }
        let mut ctx = X509StoreContext::new()?;
        ctx.init(&store, &leaf, &chain, |c| c.verify_cert())
    };
    run().unwrap_or(false)
}

/// The period in force at `at`: the latest that started at or before it (of two starting at
/// the same time, the later in `history`, which lists the current status last).
pub fn period_at(history: &[StatusPeriod], at: DateTime<Utc>) -> Option<&StatusPeriod> {
    history
        .iter()
        .filter(|p| p.starts_at <= at)
        .max_by_key(|p| p.starts_at)
}

/// Whether a status confers qualified status at `at` (DSS's TrustServiceStatus: `granted`;
/// before eIDAS, the Directive's valid statuses).
pub fn qualifying_status(status: &str, at: DateTime<Utc>) -> bool {
    let short = status.strip_prefix(STATUS_PREFIX).unwrap_or(status);
    match short {
        "granted" => true,
        "undersupervision" | "supervisionincessation" | "accredited" => at < eidas_date(),
        _ => false,
    }
}

fn status_refusal(anchor: &Anchor, at: DateTime<Utc>) -> Option<NotQualified> {
    let when = crate::domain::time::format_date_time(at);
    match period_at(&anchor.history, at) {
        None => Some(NotQualified::ServiceNotGranted {
            at: when,
            status: "non ancora presente nell'elenco".into(),
        }),
        Some(p) if p.service_type != CA_QC => Some(NotQualified::ServiceNotGranted {
            at: when,
            status: format!(
                "servizio di tipo {}",
                p.service_type.rsplit("Svctype/").next().unwrap_or("")
            ),
        }),
        Some(p) if !qualifying_status(&p.status, at) => Some(NotQualified::ServiceNotGranted {
            at: when,
            status: status_label(&p.status),
        }),
        Some(_) => None,
    }
}

/// Italian label of a status URI.
pub fn status_label(status: &str) -> String {
    let short = status.strip_prefix(STATUS_PREFIX).unwrap_or(status);
    match short {
        "granted" => "qualificato (granted)".into(),
        "withdrawn" => "qualifica revocata (withdrawn)".into(),
        "undersupervision" => "sotto vigilanza (undersupervision)".into(),
        "accredited" => "accreditato (accredited)".into(),
        "supervisionceased" => "vigilanza cessata (supervisionceased)".into(),
        "accreditationceased" => "accreditamento cessato (accreditationceased)".into(),
        "recognisedatnationallevel" => {
            "riconosciuto solo a livello nazionale (recognisedatnationallevel)".into()
        }
        other => other.to_owned(),
    }
}

/// Whether the qualifier `name` (the last part of its URI) of `period` applies to a
/// certificate with `policies`.
fn applies(period: &StatusPeriod, name: &str, policies: &[String]) -> bool {
    period
        .qualifiers
        .iter()
        .filter(|q| q.uri.strip_prefix(QUALIFIER_PREFIX) == Some(name))
        .any(|q| criteria_match(q, policies))
}

fn criteria_match(q: &Qualifier, policies: &[String]) -> bool {
    if q.policies.is_empty() {
        // No criteria at all applies to every certificate; criteria of other kinds are not
        // evaluated, so the qualifier is not applied.
        return !q.other_criteria;
    }
    if q.all {
        q.policies.iter().all(|p| policies.contains(p))
    } else {
        q.policies.iter().any(|p| policies.contains(p))
    }
}

fn list_qscd(period: &StatusPeriod, policies: &[String]) -> Qscd {
    if ["QCWithSSCD", "QCWithQSCD", "QCQSCDManagedOnBehalf"]
        .iter()
        .any(|q| applies(period, q, policies))
    {
        Qscd::TrustedList
    } else if ["QCNoSSCD", "QCNoQSCD"]
        .iter()
        .any(|q| applies(period, q, policies))
    {
        Qscd::No
    } else {
        Qscd::Unknown
    }
}

// ---------------------------------------------------------------------------------------
// What the certificate says (QCStatements, EN 319 412-5; certificatePolicies)
// ---------------------------------------------------------------------------------------

/// 1.3.6.1.5.5.7.1.3 id-pe-qcStatements (contents octets).
const OID_QC_STATEMENTS: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x03];
/// 2.5.29.32 certificatePolicies.
const OID_CERTIFICATE_POLICIES: &[u8] = &[0x55, 0x1D, 0x20];
/// 0.4.0.1862.1.1 QcCompliance.
const QC_COMPLIANCE: &[u8] = &[0x04, 0x00, 0x8E, 0x46, 0x01, 0x01];
/// 0.4.0.1862.1.4 QcSSCD.
const QC_SSCD: &[u8] = &[0x04, 0x00, 0x8E, 0x46, 0x01, 0x04];
/// 0.4.0.1862.1.6 QcType.
const QC_TYPE: &[u8] = &[0x04, 0x00, 0x8E, 0x46, 0x01, 0x06];
/// 0.4.0.1862.1.6.1 qc-type-esign.
const ESIGN: &[u8] = &[0x04, 0x00, 0x8E, 0x46, 0x01, 0x06, 0x01];

const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    pub qc_compliance: bool,
    pub qc_sscd: bool,
    /// The `QcType` OIDs (contents octets), when the statement is present.
    pub qc_types: Option<Vec<Vec<u8>>>,
    /// certificatePolicies, dotted.
    pub policies: Vec<String>,
}

impl CertificateFacts {
    /// Reads the extensions of a DER certificate; what cannot be read counts as absent.
    pub fn read(der: &[u8]) -> Self {
        let mut facts = Self::default();
        let _ = facts.read_extensions(der);
        facts
    }

    fn read_extensions(&mut self, der: &[u8]) -> Option<()> {
        let (cert, _) = ber::read(der).ok()?;
        let tbs = Reader::new(cert.content).expect(SEQUENCE).ok()?;
        let mut tbs = Reader::new(tbs.content);
        tbs.optional(0xA0).ok()?; // version
        tbs.next().ok()?; // serialNumber
        for _ in 0..5 {
            // signature, issuer, validity, subject, subjectPublicKeyInfo
            tbs.expect(SEQUENCE).ok()?;
        }
        tbs.optional(0x81).ok()?; // issuerUniqueID
        tbs.optional(0x82).ok()?; // subjectUniqueID
        let extensions = tbs.optional(0xA3).ok()??;
        let list = Reader::new(extensions.content).expect(SEQUENCE).ok()?;
        let mut list = Reader::new(list.content);
        while !list.is_empty() {
            let ext = list.expect(SEQUENCE).ok()?;
            let mut ext = Reader::new(ext.content);
            let oid = ext.expect(OID).ok()?.content;
            ext.optional(BOOLEAN).ok()?;
            let value = ext.expect(OCTET_STRING).ok()?.content;
            if oid == OID_QC_STATEMENTS {
                self.read_qc_statements(value);
            } else if oid == OID_CERTIFICATE_POLICIES {
                self.read_policies(value);
            }
        }
        Some(())
    }

    fn read_qc_statements(&mut self, value: &[u8]) -> Option<()> {
        let statements = Reader::new(value).expect(SEQUENCE).ok()?;
        let mut statements = Reader::new(statements.content);
        while !statements.is_empty() {
            let statement = statements.expect(SEQUENCE).ok()?;
            let mut statement = Reader::new(statement.content);
            let id = statement.expect(OID).ok()?.content;
            if id == QC_COMPLIANCE {
                self.qc_compliance = true;
            } else if id == QC_SSCD {
                self.qc_sscd = true;
            } else if id == QC_TYPE {
                let mut types = Vec::new();
                if let Ok(list) = statement.expect(SEQUENCE) {
                    let mut list = Reader::new(list.content);
                    while let Ok(t) = list.expect(OID) {
                        types.push(t.content.to_vec());
                    }
                }
                self.qc_types = Some(types);
            }
        }
        Some(())
    }

    fn read_policies(&mut self, value: &[u8]) -> Option<()> {
        let policies = Reader::new(value).expect(SEQUENCE).ok()?;
        let mut policies = Reader::new(policies.content);
        while !policies.is_empty() {
            let info = policies.expect(SEQUENCE).ok()?;
            let id = Reader::new(info.content).expect(OID).ok()?.content;
            self.policies.push(dotted(id)?);
        }
        Some(())
    }
}

/// An OID's contents octets as `1.2.3`.
fn dotted(content: &[u8]) -> Option<String> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, b) in content.iter().enumerate() {
        value = value.checked_mul(128)? | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let first = (value / 40).min(2);
                arcs.push(first);
                arcs.push(value - first * 40);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i + 1 == content.len() {
            return None;
        }
    }
    Some(
        arcs.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(at: &str, status: &str) -> StatusPeriod {
        StatusPeriod {
            starts_at: DateTime::parse_from_rfc3339(at)
                .unwrap()
                .with_timezone(&Utc),
            service_type: CA_QC.into(),
            status: format!("{STATUS_PREFIX}{status}"),
            qualifiers: Vec::new(),
            additional: Vec::new(),
        }
    }

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn the_status_in_force_is_the_latest_started() {
        let history = vec![
            period("2010-01-01T00:00:00Z", "accredited"),
            period("2016-06-30T22:00:00Z", "granted"),
            period("2024-05-01T00:00:00Z", "withdrawn"),
        ];
        assert_eq!(period_at(&history, at("2009-12-31T00:00:00Z")), None);
        assert!(
            period_at(&history, at("2015-01-01T00:00:00Z"))
                .unwrap()
                .status
                .ends_with("accredited")
        );
        assert!(
            period_at(&history, at("2020-01-01T00:00:00Z"))
                .unwrap()
                .status
                .ends_with("granted")
        );
        assert!(
            period_at(&history, at("2024-05-01T00:00:00Z"))
                .unwrap()
                .status
                .ends_with("withdrawn")
        );
        // Two periods starting together: the later in the list (the current status) holds.
        let tie = vec![
            period("2020-01-01T00:00:00Z", "accredited"),
            period("2020-01-01T00:00:00Z", "granted"),
        ];
        assert!(
            period_at(&tie, at("2021-01-01T00:00:00Z"))
                .unwrap()
                .status
                .ends_with("granted")
        );
    }

    #[test]
    fn only_granted_qualifies_after_eidas_and_the_directive_statuses_before() {
        let before = at("2015-03-01T00:00:00Z");
        let after = at("2020-03-01T00:00:00Z");
        let s = |x: &str| format!("{STATUS_PREFIX}{x}");
        assert!(qualifying_status(&s("granted"), after));
        assert!(qualifying_status(&s("accredited"), before));
        assert!(qualifying_status(&s("undersupervision"), before));
        assert!(qualifying_status(&s("supervisionincessation"), before));
        assert!(!qualifying_status(&s("accredited"), after));
        assert!(!qualifying_status(&s("undersupervision"), after));
        for other in [
            "withdrawn",
            "recognisedatnationallevel",
            "supervisionceased",
            "accreditationceased",
        ] {
            assert!(!qualifying_status(&s(other), before), "{other}");
            assert!(!qualifying_status(&s(other), after), "{other}");
        }
    }

    #[test]
    fn qualifiers_apply_by_certificate_policy() {
        let q = |policies: &[&str], all: bool, other: bool| Qualifier {
            uri: format!("{QUALIFIER_PREFIX}QCQSCDManagedOnBehalf"),
            policies: policies.iter().map(|p| (*p).to_owned()).collect(),
            all,
            other_criteria: other,
        };
        let mine = vec!["1.3.76.38.1.1.1".to_owned(), "0.4.0.194112.1.2".to_owned()];
        assert!(criteria_match(&q(&["1.3.76.38.1.1.1"], true, false), &mine));
        assert!(!criteria_match(
            &q(&["1.3.76.38.1.1.2"], false, false),
            &mine
        ));
        assert!(!criteria_match(
            &q(&["1.3.76.38.1.1.1", "9.9"], true, false),
            &mine
        ));
        assert!(criteria_match(
            &q(&["1.3.76.38.1.1.1", "9.9"], false, false),
            &mine
        ));
        assert!(criteria_match(&q(&[], true, false), &mine));
        assert!(!criteria_match(&q(&[], true, true), &mine));
    }

    #[test]
    fn oids_are_written_dotted() {
        assert_eq!(dotted(QC_COMPLIANCE).as_deref(), Some("0.4.0.1862.1.1"));
        assert_eq!(
            dotted(&[0x2B, 0x4C, 0x10, 0x06]).as_deref(),
            Some("1.3.76.16.6")
        );
        assert_eq!(dotted(&[0x55, 0x1D, 0x20]).as_deref(), Some("2.5.29.32"));
        assert_eq!(dotted(&[0x2B, 0x86]), None);
    }
}
