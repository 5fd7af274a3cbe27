//! The parts of a CMS SignedData (RFC 5652) that OpenSSL's Rust API does not expose: the
//! certificate set, the signer identifiers and the signed attributes.

use openssl::hash::{MessageDigest, hash};

use super::SignatureError::{self, Invalid, Malformed};
use super::ber::{self, Reader};
use openssl::x509::X509;

use super::OID_SIGNED_DATA;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const CONTEXT_0: u8 = 0xA0;
const CONTEXT_0_PRIMITIVE: u8 = 0x80;
const CONTEXT_1: u8 = 0xA1;

/// 1.2.840.113549.1.9.16.2.47 id-aa-signingCertificateV2 (contents octets).
const OID_SIGNING_CERTIFICATE_V2: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x2F,
];
/// 1.2.840.113549.1.9.16.2.12 id-aa-signingCertificate (ESSCertID, SHA-1).
const OID_SIGNING_CERTIFICATE: &[u8] = &[
    0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0C,
];
/// 1.2.840.113549.1.9.5 signingTime.
const OID_SIGNING_TIME: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05];
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
/// 2.16.840.1.101.3.4.2 (NIST hash algorithms), followed by one octet.
const OID_NIST_HASH_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];

pub(super) struct SignedDataView<'a> {
    /// eContentType (contents octets of the OID).
    pub(super) content_type: &'a [u8],
    pub(super) has_content: bool,
    /// DER of each X.509 certificate in the certificate set.
    pub(super) certificates: Vec<&'a [u8]>,
    /// DER of each CRL of the `crls` field (RevocationInfoChoices of kind CertificateList).
    pub(super) crls: Vec<&'a [u8]>,
    pub(super) signer_infos: Vec<SignerInfoView<'a>>,
}

pub(super) struct SignerInfoView<'a> {
    sid: SignerId<'a>,
    /// The contents of `signedAttrs` (a sequence of Attribute), if present.
    pub(super) signed_attrs: Option<&'a [u8]>,
    /// The signature value (contents of the OCTET STRING).
    pub(super) signature: &'a [u8],
    /// The contents of `unsignedAttrs` (a sequence of Attribute), if present.
    pub(super) unsigned_attrs: Option<&'a [u8]>,
}

enum SignerId<'a> {
    IssuerAndSerial { issuer: &'a [u8], serial: &'a [u8] },
    KeyId(&'a [u8]),
}

/// Parses a ContentInfo holding a SignedData.
pub(super) fn parse(der: &[u8]) -> Result<SignedDataView<'_>, SignatureError> {
    let (content_info, trailing) = ber::read(der)?;
    // Tolerate padding after the structure (PDF /Contents, line ends after a file).
    if trailing.iter().any(|b| *b != 0 && !b.is_ascii_whitespace()) {
        return Err(Malformed);
    }
    if content_info.tag != SEQUENCE {
        return Err(Malformed);
    }
    let mut ci = Reader::new(content_info.content);
    if ci.expect(OID)?.raw != OID_SIGNED_DATA {
        return Err(Malformed);
    }
    let explicit = ci.expect(CONTEXT_0)?;
    let mut inner = Reader::new(explicit.content);
    let signed_data = inner.expect(SEQUENCE)?;

    let mut sd = Reader::new(signed_data.content);
    sd.expect(INTEGER)?; // version
    sd.expect(SET)?; // digestAlgorithms
    let encap = sd.expect(SEQUENCE)?;
    let mut encap = Reader::new(encap.content);
    let content_type = encap.expect(OID)?.content;
    let has_content = encap.optional(CONTEXT_0)?.is_some();

    let mut certificates = Vec::new();
    if let Some(set) = sd.optional(CONTEXT_0)? {
        let mut certs = Reader::new(set.content);
        while !certs.is_empty() {
            let choice = certs.next()?;
            // Other CertificateChoices (attribute certificates...) are skipped.
            if choice.tag == SEQUENCE {
                certificates.push(choice.raw);
            }
        }
    }
    let mut crls = Vec::new();
    if let Some(set) = sd.optional(CONTEXT_1)? {
        let mut choices = Reader::new(set.content);
        while !choices.is_empty() {
            let choice = choices.next()?;
            // OtherRevocationInfoFormat ([1]) is skipped.
            if choice.tag == SEQUENCE {
                crls.push(choice.raw);
            }
        }
    }
    let infos = sd.expect(SET)?;
    let mut infos = Reader::new(infos.content);
    let mut signer_infos = Vec::new();
    while !infos.is_empty() {
        signer_infos.push(parse_signer_info(infos.next()?)?);
    }
    Ok(SignedDataView {
        content_type,
        has_content,
        certificates,
        crls,
        signer_infos,
    })
}

fn parse_signer_info(info: ber::Tlv<'_>) -> Result<SignerInfoView<'_>, SignatureError> {
    if info.tag != SEQUENCE {
        return Err(Malformed);
    }
    let mut si = Reader::new(info.content);
    si.expect(INTEGER)?; // version
    let sid = si.next()?;
    let sid = match sid.tag {
        SEQUENCE => {
            let mut ias = Reader::new(sid.content);
            let issuer = ias.expect(SEQUENCE)?.raw;
            let serial = ias.expect(INTEGER)?.content;
            SignerId::IssuerAndSerial { issuer, serial }
        }
        CONTEXT_0_PRIMITIVE => SignerId::KeyId(sid.content),
        _ => return Err(Malformed),
    };
    si.expect(SEQUENCE)?; // digestAlgorithm
    let signed_attrs = si.optional(CONTEXT_0)?.map(|attrs| attrs.content);
    si.expect(SEQUENCE)?; // signatureAlgorithm
    let signature = si.expect(OCTET_STRING)?.content;
    let unsigned_attrs = si.optional(CONTEXT_1)?.map(|attrs| attrs.content);
    Ok(SignerInfoView {
        sid,
        signed_attrs,
        signature,
        unsigned_attrs,
    })
}

impl<'a> SignedDataView<'a> {
    /// The DER of the certificate that `info` identifies, from the certificate set.
    pub(super) fn signer_certificate(
        &self,
        info: &SignerInfoView<'_>,
    ) -> Result<&'a [u8], SignatureError> {
        for &raw in &self.certificates {
            let matches = match info.sid {
                SignerId::IssuerAndSerial { issuer, serial } => {
                    let (cert_issuer, cert_serial) = issuer_and_serial(raw)?;
                    cert_serial == serial
                        && (cert_issuer == issuer || same_name(cert_issuer, issuer))
                }
                SignerId::KeyId(key_id) => X509::from_der(raw)
                    .ok()
                    .and_then(|cert| cert.subject_key_id().map(|id| id.as_slice() == key_id))
                    .unwrap_or(false),
            };
            if matches {
                return Ok(raw);
            }
        }
        // The signer certificate is not in the file: nothing to verify with.
        Err(Malformed)
    }
}

/// Issuer Name (DER) and serialNumber (INTEGER contents) of a certificate.
fn issuer_and_serial(cert: &[u8]) -> Result<(&[u8], &[u8]), SignatureError> {
    let (cert, _) = ber::read(cert)?;
    let mut cert = Reader::new(cert.content);
    let tbs = cert.expect(SEQUENCE)?;
    let mut tbs = Reader::new(tbs.content);
    tbs.optional(CONTEXT_0)?; // version
    let serial = tbs.expect(INTEGER)?.content;
    tbs.expect(SEQUENCE)?; // signature algorithm
    let issuer = tbs.expect(SEQUENCE)?.raw;
    Ok((issuer, serial))
}

/// Names equal by OpenSSL's comparison (canonical form), for encodings that differ.
fn same_name(a: &[u8], b: &[u8]) -> bool {
    match (
        openssl::x509::X509Name::from_der(a),
        openssl::x509::X509Name::from_der(b),
    ) {
        (Ok(a), Ok(b)) => a.try_cmp(&b).is_ok_and(|o| o.is_eq()),
        _ => false,
    }
}

/// The values (contents of the SET) of every attribute `oid` in `attrs`, at most `limit`.
pub(super) fn attribute_values<'a>(
    attrs: &'a [u8],
    oid: &[u8],
    limit: usize,
) -> Result<Vec<&'a [u8]>, SignatureError> {
    let mut found = Vec::new();
    let mut attrs = Reader::new(attrs);
    while !attrs.is_empty() {
        let attr = attrs.expect(SEQUENCE)?;
        let mut attr = Reader::new(attr.content);
        if attr.expect(OID)?.content != oid {
            continue;
        }
        let values = attr.expect(SET)?;
        let mut values = Reader::new(values.content);
        while !values.is_empty() {
            if found.len() >= limit {
                return Err(Malformed);
            }
            found.push(values.next()?.raw);
        }
    }
    Ok(found)
}

/// The `signingTime` signed attribute, if present and readable.
pub(super) fn signing_time(signed_attrs: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    let mut attrs = Reader::new(signed_attrs);
    while !attrs.is_empty() {
        let attr = attrs.expect(SEQUENCE).ok()?;
        let mut attr = Reader::new(attr.content);
        if attr.expect(OID).ok()?.content != OID_SIGNING_TIME {
            continue;
        }
        let values = attr.expect(SET).ok()?;
        let time = Reader::new(values.content).next().ok()?;
        return parse_time(time.tag, time.content);
    }
    None
}

/// UTCTime (`YYMMDDHHMMSSZ`, years 1950–2049) or GeneralizedTime (`YYYYMMDDHHMMSSZ`), in UTC.
pub(super) fn parse_time(tag: u8, content: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = std::str::from_utf8(content).ok()?.strip_suffix('Z')?;
    let full = match tag {
        UTC_TIME if text.len() == 12 => {
            let yy: u32 = text[..2].parse().ok()?;
            format!("{}{text}", if yy >= 50 { "19" } else { "20" })
        }
        GENERALIZED_TIME if text.len() >= 14 => text[..14].to_owned(),
        _ => return None,
    };
    chrono::NaiveDateTime::parse_from_str(&full, "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

/// If the signed attributes carry ESS signingCertificateV2 (or signingCertificate),
/// its first ESSCertID must be the hash of the signer certificate (RFC 5035).
pub(super) fn check_signing_certificate(
    signed_attrs: &[u8],
    signer_cert: &[u8],
) -> Result<(), SignatureError> {
    let mut attrs = Reader::new(signed_attrs);
    while !attrs.is_empty() {
        let attr = attrs.expect(SEQUENCE)?;
        let mut attr = Reader::new(attr.content);
        let oid = attr.expect(OID)?.content;
        let v2 = oid == OID_SIGNING_CERTIFICATE_V2;
        if !v2 && oid != OID_SIGNING_CERTIFICATE {
            continue;
        }
        let values = attr.expect(SET)?;
        let signing_certificate = Reader::new(values.content).expect(SEQUENCE)?;
        let cert_ids = Reader::new(signing_certificate.content).expect(SEQUENCE)?;
        let first_id = Reader::new(cert_ids.content).expect(SEQUENCE)?;
        let mut id = Reader::new(first_id.content);
        let digest = if v2 {
            match id.optional(SEQUENCE)? {
                Some(algorithm) => digest_for(algorithm.content)?,
                None => MessageDigest::sha256(),
            }
        } else {
            MessageDigest::sha1()
        };
        let expected = id.expect(OCTET_STRING)?.content;
        let actual = hash(digest, signer_cert).map_err(|_| Malformed)?;
        if *actual != *expected {
            return Err(Invalid);
        }
    }
    Ok(())
}

/// The digest of an AlgorithmIdentifier (contents octets) among the NIST hashes.
pub(super) fn digest_for(algorithm: &[u8]) -> Result<MessageDigest, SignatureError> {
    let oid = Reader::new(algorithm).expect(OID)?.content;
    let Some(&[last]) = oid.strip_prefix(OID_NIST_HASH_PREFIX) else {
        return Err(Malformed);
    };
    match last {
        1 => Ok(MessageDigest::sha256()),
        2 => Ok(MessageDigest::sha384()),
        3 => Ok(MessageDigest::sha512()),
        4 => Ok(MessageDigest::sha224()),
        8 => Ok(MessageDigest::sha3_256()),
        9 => Ok(MessageDigest::sha3_384()),
        10 => Ok(MessageDigest::sha3_512()),
        _ => Err(Malformed),
    }
}
