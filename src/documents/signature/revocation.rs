//! Revocation: the CRLs and OCSP responses a signature carries, and what they say.
//!
//! Read from (CAdES) the SignedData `crls` field, the unsigned attribute
//! `id-aa-ets-revocationValues` (CAdES-X-L / -LT) and Adobe's signed attribute
//! `adbe-revocationInfoArchival`; (PAdES) also the document security store (`/DSS`, its
//! `/CRLs` and `/OCSPs` streams), see [`super::pades`].
//!
//! A CRL counts when its issuer is the certificate's issuer and its signature verifies with
//! that issuer's key; an OCSP response when it is successful, verifies with the issuer (or a
//! responder the issuer delegated, id-kp-OCSPSigning) and names the certificate. A "good"
//! answer counts only if it speaks of the signing time: issued at or after it, or current at
//! it (thisUpdate ≤ signing time ≤ nextUpdate, as the CRLs Adobe embeds when signing); a
//! "revoked" answer always counts, with its revocation time. With nothing that counts the result is [`RevocationStatus::NotChecked`], shown as
//! "revoca non verificata", never as valid.

use chrono::{DateTime, Utc};
use openssl::hash::MessageDigest;
use openssl::ocsp::{OcspCertId, OcspCertStatus, OcspFlag, OcspResponse, OcspResponseStatus};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{CrlStatus, X509, X509Crl, X509Ref};
use serde::{Deserialize, Serialize};

use super::SignatureError::{self, Malformed};
use super::ber::Reader;
use super::certificate::asn1_time_to_utc;
use super::cms_view;

/// 1.2.840.113549.1.9.16.2.24 id-aa-ets-revocationValues.
pub(super) const OID_REVOCATION_VALUES: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x18,
];
/// 1.2.840.113583.1.1.8 adbe-revocationInfoArchival.
pub(super) const OID_ADBE_REVOCATION: &[u8] =
    &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x63, 0x01, 0x01, 0x08];
/// 1.3.6.1.5.5.7.48.1.1 id-pkix-ocsp-basic.
const OID_OCSP_BASIC: &[u8] = &[0x2B, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01];
/// Most CRLs plus OCSP responses read from one file.
pub const MAX_ITEMS: usize = 64;

const SEQUENCE: u8 = 0x30;
const CONTEXT_0: u8 = 0xA0;
const CONTEXT_1: u8 = 0xA1;

/// The revocation material found in a file (DER).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RevocationData {
    pub crls: Vec<Vec<u8>>,
    /// Full OCSPResponse structures (a BasicOCSPResponse is wrapped into one).
    pub ocsp_responses: Vec<Vec<u8>>,
}

impl RevocationData {
    fn len(&self) -> usize {
        self.crls.len() + self.ocsp_responses.len()
    }

    pub(super) fn add_crl(&mut self, der: &[u8]) -> Result<(), SignatureError> {
        if self.crls.iter().any(|c| c == der) {
            return Ok(());
        }
        if self.len() >= MAX_ITEMS {
            return Err(Malformed);
        }
        self.crls.push(der.to_vec());
        Ok(())
    }

    pub(super) fn add_ocsp(&mut self, der: &[u8]) -> Result<(), SignatureError> {
        if self.ocsp_responses.iter().any(|c| c == der) {
            return Ok(());
        }
        if self.len() >= MAX_ITEMS {
            return Err(Malformed);
        }
        self.ocsp_responses.push(der.to_vec());
        Ok(())
    }

    pub(super) fn extend(&mut self, other: RevocationData) -> Result<(), SignatureError> {
        for c in &other.crls {
            self.add_crl(c)?;
        }
        for o in &other.ocsp_responses {
            self.add_ocsp(o)?;
        }
        Ok(())
    }

    /// Reads the revocation attributes of one SignerInfo.
    pub(super) fn read_attributes(
        &mut self,
        signed_attrs: Option<&[u8]>,
        unsigned_attrs: Option<&[u8]>,
    ) -> Result<(), SignatureError> {
        if let Some(attrs) = unsigned_attrs {
            for value in cms_view::attribute_values(attrs, OID_REVOCATION_VALUES, MAX_ITEMS)? {
                // RevocationValues ::= SEQUENCE { crlVals [0] SEQUENCE OF CertificateList,
                //   ocspVals [1] SEQUENCE OF BasicOCSPResponse, ... }
                self.read_pair(value, true)?;
            }
        }
        if let Some(attrs) = signed_attrs {
            for value in cms_view::attribute_values(attrs, OID_ADBE_REVOCATION, MAX_ITEMS)? {
                // RevocationInfoArchival ::= SEQUENCE { crl [0] SEQUENCE OF CRL,
                //   ocsp [1] SEQUENCE OF OCSPResponse, ... }
                self.read_pair(value, false)?;
            }
        }
        Ok(())
    }

    fn read_pair(&mut self, value: &[u8], basic_ocsp: bool) -> Result<(), SignatureError> {
        let outer = Reader::new(value).expect(SEQUENCE)?;
        let mut outer = Reader::new(outer.content);
        if let Some(crls) = outer.optional(CONTEXT_0)? {
            let list = Reader::new(crls.content).expect(SEQUENCE)?;
            let mut list = Reader::new(list.content);
            while !list.is_empty() {
                self.add_crl(list.next()?.raw)?;
            }
        }
        if let Some(ocsps) = outer.optional(CONTEXT_1)? {
            let list = Reader::new(ocsps.content).expect(SEQUENCE)?;
            let mut list = Reader::new(list.content);
            while !list.is_empty() {
                let item = list.next()?.raw;
                if basic_ocsp {
                    self.add_ocsp(&wrap_basic(item))?;
                } else {
                    self.add_ocsp(item)?;
                }
            }
        }
        Ok(())
    }
}

/// OCSPResponse { responseStatus successful, responseBytes { id-pkix-ocsp-basic, basic } }.
fn wrap_basic(basic: &[u8]) -> Vec<u8> {
    let oid = der(0x06, OID_OCSP_BASIC);
    let bytes = der(0x04, basic);
    let response_bytes = der(SEQUENCE, &[oid, bytes].concat());
    let explicit = der(CONTEXT_0, &response_bytes);
    der(SEQUENCE, &[vec![0x0A, 0x01, 0x00], explicit].concat())
}

/// One DER TLV.
pub(super) fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// Where a revocation answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationSource {
    /// A CRL carried by the file.
    EmbeddedCrl,
    /// An OCSP response carried by the file.
    EmbeddedOcsp,
    /// A CRL downloaded from the certificate's distribution point.
    FetchedCrl,
}

impl RevocationSource {
    pub fn label(self) -> &'static str {
        match self {
            Self::EmbeddedCrl => "CRL incorporata nella firma",
            Self::EmbeddedOcsp => "risposta OCSP incorporata nella firma",
            Self::FetchedCrl => "CRL scaricata dal certificatore",
        }
    }
}

/// What the revocation data say about a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum RevocationStatus {
    /// Not revoked as of `as_of` (the CRL's thisUpdate, the OCSP thisUpdate).
    Good {
        source: RevocationSource,
        as_of: DateTime<Utc>,
    },
    /// Revoked (or suspended) at `at`.
    Revoked {
        source: RevocationSource,
        at: DateTime<Utc>,
    },
    /// Nothing usable: "revoca non verificata".
    NotChecked,
}

impl RevocationStatus {
    /// Italian, for pages and the report.
    pub fn label(&self) -> String {
        let date = crate::domain::time::format_date_time;
        match self {
            Self::Good { source, as_of } => {
                format!("non revocato al {} ({})", date(*as_of), source.label())
            }
            Self::Revoked { source, at } => {
                format!("revocato il {} ({})", date(*at), source.label())
            }
            Self::NotChecked => super::qualified::REVOCATION_NOT_CHECKED.into(),
        }
    }
}

/// The certificate of `issuers` that issued `cert` (name and signature).
pub(super) fn issuer_of(cert: &X509Ref, issuers: &[X509]) -> Option<X509> {
    issuers
        .iter()
        .find(|i| {
            i.subject_name()
                .try_cmp(cert.issuer_name())
                .is_ok_and(|o| o.is_eq())
                && i.public_key()
                    .and_then(|k| cert.verify(&k))
                    .unwrap_or(false)
        })
        .cloned()
}

/// What `crls` (labelled `source`) and the OCSP responses of `data` say about `cert`, issued
/// by `issuer`, for a signature made at `signing_time`.
pub(super) fn check(
    cert: &X509Ref,
    issuer: &X509Ref,
    data: &RevocationData,
    crl_source: RevocationSource,
    signing_time: DateTime<Utc>,
) -> RevocationStatus {
    let mut answers: Vec<Answer> = Vec::new();
    for der in &data.crls {
        if let Some(a) = crl_answer(cert, issuer, der, crl_source) {
            answers.push(a);
        }
    }
    for der in &data.ocsp_responses {
        if let Some(a) = ocsp_answer(cert, issuer, der) {
            answers.push(a);
        }
    }
    combine(answers, signing_time)
}

/// One answer, with the end of its validity (nextUpdate) when it states one.
type Answer = (RevocationStatus, Option<DateTime<Utc>>);

/// A revocation wins (the earliest); else a good answer that speaks of the signing time (the
/// latest); else not checked.
fn combine(answers: Vec<Answer>, signing_time: DateTime<Utc>) -> RevocationStatus {
    let revoked = answers
        .iter()
        .filter_map(|(a, _)| match a {
            RevocationStatus::Revoked { at, .. } => Some((*at, a)),
            _ => None,
        })
        .min_by_key(|(at, _)| *at);
    if let Some((_, a)) = revoked {
        return a.clone();
    }
    answers
        .iter()
        .filter_map(|(a, next_update)| match a {
            RevocationStatus::Good { as_of, .. }
                if *as_of >= signing_time
                    || next_update
                        .is_some_and(|next| *as_of <= signing_time && signing_time <= next) =>
            {
                Some((*as_of, a))
            }
            _ => None,
        })
        .max_by_key(|(as_of, _)| *as_of)
        .map_or(RevocationStatus::NotChecked, |(_, a)| a.clone())
}

fn crl_answer(
    cert: &X509Ref,
    issuer: &X509Ref,
    der: &[u8],
    source: RevocationSource,
) -> Option<Answer> {
    let crl = X509Crl::from_der(der).ok()?;
    if !crl
        .issuer_name()
        .try_cmp(cert.issuer_name())
        .is_ok_and(|o| o.is_eq())
    {
        return None;
    }
    let key = issuer.public_key().ok()?;
    if !crl.verify(&key).ok()? {
        return None;
    }
    let owned = cert.to_owned();
    let status = match crl.get_by_cert(&owned) {
        CrlStatus::Revoked(entry) => RevocationStatus::Revoked {
            source,
            at: asn1_time_to_utc(entry.revocation_date()).ok()?,
        },
        CrlStatus::NotRevoked | CrlStatus::RemoveFromCrl(_) => RevocationStatus::Good {
            source,
            as_of: asn1_time_to_utc(crl.last_update()).ok()?,
        },
    };
    let next_update = crl.next_update().and_then(|t| asn1_time_to_utc(t).ok());
    Some((status, next_update))
}

fn ocsp_answer(cert: &X509Ref, issuer: &X509Ref, der: &[u8]) -> Option<Answer> {
    let response = OcspResponse::from_der(der).ok()?;
    if response.status() != OcspResponseStatus::SUCCESSFUL {
        return None;
    }
    let basic = response.basic().ok()?;
    let id = OcspCertId::from_cert(MessageDigest::sha1(), cert, issuer).ok()?;
    let status = basic.find_status(&id)?;
    let this_update = asn1_gen_to_utc(status.this_update)?;
    // The responder is the issuer, or a responder it certified, checked at thisUpdate.
    let mut builder = X509StoreBuilder::new().ok()?;
    builder.add_cert(issuer.to_owned()).ok()?;
    let mut param = X509VerifyParam::new().ok()?;
    param.set_time(this_update.timestamp());
    param.set_flags(X509VerifyFlags::PARTIAL_CHAIN).ok()?;
    builder.set_param(&param).ok()?;
    let store = builder.build();
    let mut certs = Stack::new().ok()?;
    certs.push(issuer.to_owned()).ok()?;
    basic.verify(&certs, &store, OcspFlag::empty()).ok()?;
    let source = RevocationSource::EmbeddedOcsp;
    let next_update = status.next_update().and_then(asn1_gen_to_utc);
    if status.status == OcspCertStatus::REVOKED {
        let at = status
            .revocation_time
            .and_then(asn1_gen_to_utc)
            .unwrap_or(this_update);
        Some((RevocationStatus::Revoked { source, at }, next_update))
    } else if status.status == OcspCertStatus::GOOD {
        Some((
            RevocationStatus::Good {
                source,
                as_of: this_update,
            },
            next_update,
        ))
    } else {
        None
    }
}

fn asn1_gen_to_utc(t: &openssl::asn1::Asn1GeneralizedTimeRef) -> Option<DateTime<Utc>> {
    // Asn1GeneralizedTimeRef prints as `Mon DD HH:MM:SS YYYY GMT`.
    chrono::NaiveDateTime::parse_from_str(&t.to_string(), "%b %e %H:%M:%S %Y GMT")
        .ok()
        .map(|n| n.and_utc())
}
