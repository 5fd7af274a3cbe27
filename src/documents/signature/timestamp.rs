//! RFC 3161 timestamps: the signature timestamp of CAdES-T / PAdES-B-T (unsigned attribute
//! `id-aa-signatureTimeStampToken`, whose message imprint is the hash of the signature value)
//! and the PDF document timestamp (`/SubFilter /ETSI.RFC3161`, whose imprint is the hash of
//! the bytes its `/ByteRange` covers).
//!
//! Here the token's integrity is verified: its CMS signature with the TSA certificate it
//! carries, the ESS signing-certificate attribute, the content type (TSTInfo) and the
//! imprint. Whether the TSA is trusted (a `TSA/QTST` service of a trusted list, granted at
//! the time the token states) is decided by [`super::qualified`]. A token that is present but
//! does not verify makes the signature invalid: it is part of what was sent to us.

use chrono::{DateTime, Utc};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::hash::hash;
use openssl::nid::Nid;
use openssl::x509::X509;

use super::SignatureError::{self, Invalid, Malformed};
use super::ber::Reader;
use super::{CertificateDer, cms_view};

/// 1.2.840.113549.1.9.16.2.14 id-aa-signatureTimeStampToken.
pub(super) const OID_SIGNATURE_TIMESTAMP: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0E,
];
/// 1.2.840.113549.1.9.16.1.4 id-ct-TSTInfo.
const OID_TST_INFO: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x04,
];
/// Most signature timestamps read on one signature.
pub(super) const MAX_TIMESTAMPS: usize = 4;

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OID: u8 = 0x06;
const OCTET_STRING: u8 = 0x04;
const GENERALIZED_TIME: u8 = 0x18;

/// A verified timestamp token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    /// `genTime`.
    pub time: DateTime<Utc>,
    /// The certificate that signed the token (the TSA unit).
    pub tsa: CertificateDer,
    /// The TSA's commonName (else its whole name), for pages.
    pub tsa_name: String,
    /// The certificates the token carries.
    pub certificates: Vec<CertificateDer>,
}

/// Verifies `token` (a ContentInfo with a SignedData over a TSTInfo) as a timestamp of
/// `data`.
pub(super) fn verify_token(token: &[u8], data: &[u8]) -> Result<Timestamp, SignatureError> {
    let view = cms_view::parse(token)?;
    if view.content_type != OID_TST_INFO || !view.has_content || view.signer_infos.len() != 1 {
        return Err(Malformed);
    }
    let info = &view.signer_infos[0];
    let raw = view.signer_certificate(info)?;
    let mut cms = CmsContentInfo::from_der(token).map_err(|_| Malformed)?;
    let mut content = Vec::new();
    cms.verify(
        None,
        None,
        None,
        Some(&mut content),
        CMSOptions::BINARY | CMSOptions::NO_SIGNER_CERT_VERIFY,
    )
    .map_err(|_| Invalid)?;
    if let Some(attrs) = info.signed_attrs {
        cms_view::check_signing_certificate(attrs, raw)?;
    }
    let time = check_tst_info(&content, data)?;
    let cert = X509::from_der(raw).map_err(|_| Malformed)?;
    let tsa_name = cert
        .subject_name()
        .entries_by_nid(Nid::COMMONNAME)
        .next()
        .and_then(|e| e.data().to_string().ok())
        .unwrap_or_else(|| super::certificate::name_to_string(cert.subject_name()));
    Ok(Timestamp {
        time,
        tsa: CertificateDer(raw.to_vec()),
        tsa_name,
        certificates: view
            .certificates
            .iter()
            .map(|c| CertificateDer(c.to_vec()))
            .collect(),
    })
}

/// TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, ... }:
/// the imprint must be the hash of `data`; returns genTime.
fn check_tst_info(tst_info: &[u8], data: &[u8]) -> Result<DateTime<Utc>, SignatureError> {
    let tst = Reader::new(tst_info).expect(SEQUENCE)?;
    let mut tst = Reader::new(tst.content);
    tst.expect(INTEGER)?; // version
    tst.expect(OID)?; // policy
    let imprint = tst.expect(SEQUENCE)?;
    let mut imprint = Reader::new(imprint.content);
    let algorithm = imprint.expect(SEQUENCE)?;
    let digest = cms_view::digest_for(algorithm.content)?;
    let hashed = imprint.expect(OCTET_STRING)?.content;
    let actual = hash(digest, data).map_err(|_| Malformed)?;
    if *actual != *hashed {
        return Err(Invalid);
    }
    tst.expect(INTEGER)?; // serialNumber
    let gen_time = tst.expect(GENERALIZED_TIME)?;
    // Fractions of a second (`...SS.fffZ`) are dropped.
    let text = std::str::from_utf8(gen_time.content).map_err(|_| Malformed)?;
    let whole = match text.split_once('.') {
        Some((seconds, _)) => format!("{seconds}Z"),
        None => text.to_owned(),
    };
    cms_view::parse_time(GENERALIZED_TIME, whole.as_bytes()).ok_or(Malformed)
}

/// The earliest of the signature timestamps in `unsigned_attrs` over `signature_value`.
pub(super) fn signature_timestamp(
    unsigned_attrs: &[u8],
    signature_value: &[u8],
) -> Result<Option<Timestamp>, SignatureError> {
    let tokens =
        cms_view::attribute_values(unsigned_attrs, OID_SIGNATURE_TIMESTAMP, MAX_TIMESTAMPS)?;
    let mut best: Option<Timestamp> = None;
    for token in tokens {
        let ts = verify_token(token, signature_value)?;
        if best.as_ref().is_none_or(|b| ts.time < b.time) {
            best = Some(ts);
        }
    }
    Ok(best)
}
