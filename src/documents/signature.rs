//! Digital signatures on uploaded documents: CAdES (`.p7m`) and PAdES (signed PDF).
//!
//! Used for rules V28/V29 of the domain specification (the application file must be
//! digitally signed by the lawyer, and the signature must be valid) and for the file-kind
//! part of V37 ([`sniff`] looks at the content, never at the file name).
//!
//! # What is verified
//!
//! For every signature (every CMS `SignerInfo`, at every nesting level):
//! - the CMS `SignedData` structure parses (BER or DER; a `.p7m` may also be base64 or PEM);
//! - the `messageDigest` signed attribute matches the signed content (the encapsulated
//!   content for CAdES, the bytes covered by `/ByteRange` for PAdES);
//! - the signature over the signed attributes verifies with the public key of the signer
//!   certificate embedded in the CMS;
//! - if the ESS `signingCertificateV2` (or the older `signingCertificate`) attribute is
//!   present, its first certificate hash matches the signer certificate; the attribute is
//!   not required, because plain PKCS#7 and `adbe.pkcs7.detached` signatures lack it;
//! - the signer certificate is within its validity period at the `now` given by the caller.
//!
//! For PAdES, in addition: `/ByteRange` starts at 0, its gap is exactly the `/Contents`
//! hex string of the same signature dictionary, and the last signature covers the file up
//! to its end (only trailing whitespace is tolerated), so that nothing was appended after
//! signing.
//!
//! # What is NOT verified (read this before relying on the result)
//!
//! - **No trust.** [`verify`], [`verify_cades`] and [`verify_pades`] do not build or check the
//!   certificate chain (OpenSSL `CMS_NO_SIGNER_CERT_VERIFY`): they prove that the file is
//!   intact and was signed with the key of the certificate it carries, not that a qualified
//!   CA issued that certificate. Anybody can make a self-signed certificate with any name
//!   and any `TINIT-` code. The EU/AgID trusted lists are out of scope for now (no network).
//!   [`verify_cades_with_ca`] and [`verify_pades_with_ca`] do check the chain against a
//!   CA bundle configured by the tenant, with purpose "any" (Italian signing certificates
//!   usually have no S/MIME extended key usage) and at the time `now`.
//! - **No revocation** (OCSP or CRL) is checked.
//! - **No timestamps**: signature timestamps (CAdES-T) and PDF document timestamps are not
//!   validated, and `signingTime` is self-asserted, so certificate validity is checked at
//!   `now`, not at the signing time. A PDF with an incremental update after its last
//!   signature (for example a PAdES-LT/LTA document with a DSS dictionary and a document
//!   timestamp) is rejected as [`SignatureError::Invalid`].
//! - **No qualified-signature profile**: QCStatements (QcCompliance, QcSSCD, QcType) are
//!   not checked; keyUsage nonRepudiation is reported in [`Signer::non_repudiation`] but not
//!   enforced; no algorithm policy (SHA-1, RSA under 2048 bits) is enforced.
//! - **Codice fiscale**: only the ETSI EN 319 412-1 form `TINIT-<CF>` of the subject
//!   `serialNumber` is recognised; the check character is not validated here (that is the
//!   domain layer's job, rule V6/V7). Legacy forms (CNIPA delib. 45/2009) give
//!   `codice_fiscale: None` with the raw value in [`Signer::serial_number_raw`].
//!
//! # Limits
//!
//! Inputs over [`MAX_INPUT_BYTES`] are refused ([`SignatureError::Malformed`]; callers should
//! apply their own per-COA size limit first, rule V37). At most [`MAX_NESTING`] nested CAdES
//! envelopes are unwrapped ([`SignatureError::TooDeep`]). Base64/PEM that does not decode is
//! [`SignatureError::Malformed`].

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::nid::Nid;
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{X509, X509KeyUsage, X509NameRef, X509PurposeId, X509Ref};

/// Largest input accepted, in bytes (60 MiB).
pub const MAX_INPUT_BYTES: usize = 60 * 1024 * 1024;

/// Largest number of nested CAdES envelopes unwrapped (`.p7m.p7m.p7m`).
pub const MAX_NESTING: u8 = 3;

/// What a file is, by its content (never by its name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    Pdf,
    Jpeg,
    Png,
    /// CMS `SignedData` (a `.p7m`), as DER/BER, base64 or PEM.
    P7m,
    Other,
}

/// The kind of digital signature found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureFormat {
    /// CAdES: a `.p7m` envelope with the content attached.
    Cades,
    /// PAdES: a signature embedded in a PDF.
    Pades,
}

/// A signer, as read from the signer certificate embedded in the signature.
///
/// Without chain verification (see the module documentation) these data are only as
/// trustworthy as the certificate itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// Subject commonName.
    pub common_name: Option<String>,
    /// The codice fiscale from a subject serialNumber `TINIT-XXXXXXXXXXXXXXXX`: uppercased,
    /// with the `TINIT-` prefix removed. `None` for any other form.
    pub codice_fiscale: Option<String>,
    /// Subject serialNumber (2.5.4.5) as written in the certificate.
    pub serial_number_raw: Option<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// The certificate's keyUsage includes nonRepudiation (contentCommitment).
    pub non_repudiation: bool,
    /// Issuer distinguished name, RFC 4514 style (`CN=...,O=...,C=IT`).
    pub issuer: String,
}

/// The result of a successful verification.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureReport {
    pub format: SignatureFormat,
    /// Every signer: for CAdES outermost envelope first, then in SignerInfo order; for PAdES
    /// in revision order (the signature covering the least of the file first).
    pub signers: Vec<Signer>,
    /// CAdES: the signed content, with nested envelopes unwrapped. PAdES: `None` (the PDF
    /// itself is the content).
    pub content: Option<Vec<u8>>,
    /// Number of CAdES envelopes unwrapped (1 for `.p7m`, 2 for `.p7m.p7m`); 0 for PAdES.
    pub nesting: u8,
}

impl fmt::Debug for SignatureReport {
    // The content can be tens of megabytes: show its length only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureReport")
            .field("format", &self.format)
            .field("signers", &self.signers)
            .field(
                "content_len",
                &self.content.as_ref().map(|content| content.len()),
            )
            .field("nesting", &self.nesting)
            .finish()
    }
}

/// Why a file was not accepted as validly signed. The Display text is shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SignatureError {
    /// The file carries no digital signature.
    #[error("Il file non risulta firmato digitalmente.")]
    NotSigned,
    /// A signature does not verify, the content was altered, or (with a CA bundle) the
    /// signer certificate does not chain to it.
    #[error(
        "La firma digitale del file non risulta valida: il file potrebbe essere stato modificato dopo la firma."
    )]
    Invalid,
    /// A signer certificate is not valid at the verification time.
    #[error("Il certificato di firma del file è scaduto o non ancora valido.")]
    Expired,
    /// The signature structure cannot be read (truncated, bad base64, unsupported form,
    /// or an input over [`MAX_INPUT_BYTES`]).
    #[error("Il file firmato non è leggibile: ricaricare il documento firmato correttamente.")]
    Malformed,
    /// More than [`MAX_NESTING`] nested envelopes.
    #[error("Il file contiene troppe buste di firma annidate.")]
    TooDeep,
}

use SignatureError::{Expired, Invalid, Malformed, NotSigned, TooDeep};

// ---------------------------------------------------------------------------------------
// Sniffing
// ---------------------------------------------------------------------------------------

/// DER of the OID 1.2.840.113549.1.7.2 (signedData), tag and length included.
const OID_SIGNED_DATA: &[u8] = &[
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
];
const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
const UTF8_BOM: &[u8] = &[0xEF, 0xBB, 0xBF];
/// Labels accepted in a PEM `.p7m`.
const PEM_LABELS: &[&str] = &["CMS", "PKCS7", "PKCS #7 SIGNED DATA"];

/// What a file is, by its content (never by its name).
pub fn sniff(bytes: &[u8]) -> FileKind {
    if is_pdf(bytes) {
        FileKind::Pdf
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        FileKind::Jpeg
    } else if bytes.starts_with(PNG_SIGNATURE) {
        FileKind::Png
    } else if is_signed_data_prefix(bytes) || text_p7m_prefix(bytes) {
        FileKind::P7m
    } else {
        FileKind::Other
    }
}

/// `%PDF-`, after at most 1024 bytes of whitespace or a UTF-8 byte order mark.
fn is_pdf(bytes: &[u8]) -> bool {
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let skipped = body
        .iter()
        .take(1024)
        .take_while(|b| is_pdf_whitespace(**b))
        .count();
    body[skipped..].starts_with(b"%PDF-")
}

/// A BER SEQUENCE header followed by the signedData OID. Only the first bytes are
/// looked at, so a truncated `.p7m` is still recognised (and then reported as Malformed).
fn is_signed_data_prefix(bytes: &[u8]) -> bool {
    if bytes.len() < 2 || bytes[0] != 0x30 {
        return false;
    }
    let header_len = match bytes[1] {
        0x80 => 2,
        len if len < 0x80 => 2,
        len @ 0x81..=0x84 => 2 + usize::from(len & 0x7F),
        _ => return false,
    };
    bytes
        .get(header_len..)
        .is_some_and(|rest| rest.starts_with(OID_SIGNED_DATA))
}

/// Base64 or PEM text whose first bytes decode to a signedData prefix.
fn text_p7m_prefix(bytes: &[u8]) -> bool {
    let text = trim_text_start(bytes);
    // The footer is not looked for: a PEM .p7m cut short is still a .p7m (Malformed).
    let body = match pem_header(text) {
        Some((label, body)) if is_p7m_pem_label(label) => body,
        Some(_) => return false,
        None => text,
    };
    // 64 base64 symbols give 48 bytes: enough for a SEQUENCE header and the OID.
    let mut head = Vec::with_capacity(64);
    for &b in body {
        if head.len() == 64 {
            break;
        }
        if is_base64_symbol(b) {
            head.push(b);
        } else if !b.is_ascii_whitespace() {
            return false;
        }
    }
    head.truncate(head.len() / 4 * 4);
    base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(&head)
        .is_ok_and(|decoded| is_signed_data_prefix(&decoded))
}

fn trim_text_start(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

fn is_base64_symbol(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// If `text` starts with a PEM header (`-----BEGIN <label>-----`): its label and the text
/// after the header.
fn pem_header(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = text.strip_prefix(b"-----BEGIN ")?;
    let label_end = find(rest, b"-----")?;
    Some((&rest[..label_end], &rest[label_end + 5..]))
}

fn is_p7m_pem_label(label: &[u8]) -> bool {
    PEM_LABELS.iter().any(|l| l.as_bytes() == label)
}

/// If `text` starts with a PEM header, the body between it and the matching footer:
/// `None` if there is no PEM header, `Some(Err)` for an unknown label or a missing footer.
fn pem_body(text: &[u8]) -> Option<Result<&[u8], SignatureError>> {
    let (label, body) = pem_header(text)?;
    if !is_p7m_pem_label(label) {
        return Some(Err(Malformed));
    }
    let mut footer = b"-----END ".to_vec();
    footer.extend_from_slice(label);
    footer.extend_from_slice(b"-----");
    Some(find(body, &footer).map(|end| &body[..end]).ok_or(Malformed))
}

/// The DER/BER bytes of a `.p7m` given as DER, base64 or PEM.
fn decode_p7m(bytes: &[u8]) -> Result<Cow<'_, [u8]>, SignatureError> {
    if is_signed_data_prefix(bytes) {
        return Ok(Cow::Borrowed(bytes));
    }
    let text = trim_text_start(bytes);
    let body = pem_body(text).unwrap_or(Ok(text))?;
    let mut symbols = Vec::with_capacity(body.len());
    for &b in body {
        if is_base64_symbol(b) {
            symbols.push(b);
        } else if !b.is_ascii_whitespace() {
            return Err(Malformed);
        }
    }
    let decoded = base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT
        .decode(&symbols)
        .map_err(|_| Malformed)?;
    if is_signed_data_prefix(&decoded) {
        Ok(Cow::Owned(decoded))
    } else {
        Err(Malformed)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn check_size(bytes: &[u8]) -> Result<(), SignatureError> {
    if bytes.len() > MAX_INPUT_BYTES {
        Err(Malformed)
    } else {
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Public entry points
// ---------------------------------------------------------------------------------------

/// Verifies a CAdES `.p7m` (DER, base64 or PEM): structure, messageDigest over the content,
/// the signature over signedAttrs; reads the signer certificate(s); unwraps nested
/// SignedData (up to [`MAX_NESTING`] envelopes); checks each signer certificate's validity
/// period at `now`. No chain verification: see the module documentation.
pub fn verify_cades(bytes: &[u8], now: DateTime<Utc>) -> Result<SignatureReport, SignatureError> {
    verify_cades_impl(bytes, now, None)
}

/// As [`verify_cades`], and additionally verifies that every signer certificate chains to
/// a certificate of `ca_pem` (one or more PEM certificates), at time `now`, with any key
/// purpose. Intermediate certificates may come from the bundle or from the CMS, but the
/// chain must end at a root (self-signed) certificate of the bundle: an intermediate alone
/// is not enough (no `X509_V_FLAG_PARTIAL_CHAIN`). A chain failure, and a bundle that holds
/// no certificate, give [`SignatureError::Invalid`].
pub fn verify_cades_with_ca(
    bytes: &[u8],
    now: DateTime<Utc>,
    ca_pem: &[u8],
) -> Result<SignatureReport, SignatureError> {
    check_size(bytes)?;
    if sniff(bytes) != FileKind::P7m {
        return Err(NotSigned);
    }
    let store = trust_store(ca_pem, now)?;
    verify_cades_impl(bytes, now, Some(&store))
}

/// Finds the signature dictionaries of a PAdES PDF (`/ByteRange` + `/Contents <hex>`,
/// SubFilter `ETSI.CAdES.detached` or `adbe.pkcs7.detached`), verifies each detached CMS
/// over the bytes its ByteRange covers, and reports the signers. `Err(NotSigned)` for a
/// PDF without signature. No chain verification: see the module documentation.
pub fn verify_pades(bytes: &[u8], now: DateTime<Utc>) -> Result<SignatureReport, SignatureError> {
    verify_pades_impl(bytes, now, None)
}

/// As [`verify_pades`], with the chain check of [`verify_cades_with_ca`].
pub fn verify_pades_with_ca(
    bytes: &[u8],
    now: DateTime<Utc>,
    ca_pem: &[u8],
) -> Result<SignatureReport, SignatureError> {
    check_size(bytes)?;
    if sniff(bytes) != FileKind::Pdf {
        return Err(NotSigned);
    }
    let store = trust_store(ca_pem, now)?;
    verify_pades_impl(bytes, now, Some(&store))
}

/// Dispatch by content: P7m → [`verify_cades`], Pdf → [`verify_pades`] (which gives
/// `Err(NotSigned)` for an unsigned PDF), anything else → `Err(NotSigned)`.
pub fn verify(bytes: &[u8], now: DateTime<Utc>) -> Result<SignatureReport, SignatureError> {
    match sniff(bytes) {
        FileKind::P7m => verify_cades(bytes, now),
        FileKind::Pdf => verify_pades(bytes, now),
        FileKind::Jpeg | FileKind::Png | FileKind::Other => Err(NotSigned),
    }
}

// ---------------------------------------------------------------------------------------
// CAdES
// ---------------------------------------------------------------------------------------

fn verify_cades_impl(
    bytes: &[u8],
    now: DateTime<Utc>,
    store: Option<&X509Store>,
) -> Result<SignatureReport, SignatureError> {
    check_size(bytes)?;
    if sniff(bytes) != FileKind::P7m {
        return Err(NotSigned);
    }
    // Borrowed for a DER input: inputs can be tens of megabytes, so avoid copies.
    let mut envelope = decode_p7m(bytes)?;
    let mut signers = Vec::new();
    let mut expired = false;
    let mut nesting: u8 = 0;
    loop {
        nesting += 1;
        let level = verify_signed_data(&envelope, None, now, store)?;
        signers.extend(level.signers);
        expired |= level.expired;
        let content = level.content.ok_or(Malformed)?;
        if sniff(&content) != FileKind::P7m {
            if expired {
                return Err(Expired);
            }
            return Ok(SignatureReport {
                format: SignatureFormat::Cades,
                signers,
                content: Some(content),
                nesting,
            });
        }
        if nesting >= MAX_NESTING {
            return Err(TooDeep);
        }
        envelope = if is_signed_data_prefix(&content) {
            Cow::Owned(content)
        } else {
            Cow::Owned(decode_p7m(&content)?.into_owned())
        };
    }
}

struct VerifiedLevel {
    /// The encapsulated content (None for a detached signature).
    content: Option<Vec<u8>>,
    signers: Vec<Signer>,
    /// Some signer certificate is outside its validity period at `now`. Callers report
    /// this only after every signature of the file has been checked, so that an altered
    /// file is reported as Invalid even if a certificate is also expired.
    expired: bool,
}

/// Verifies one CMS SignedData: attached content if `detached` is None, otherwise a
/// detached signature over `detached`. Expiry is returned in the result, not as an error;
/// the chain (if `store` is given) is checked only for certificates valid at `now`.
fn verify_signed_data(
    der: &[u8],
    detached: Option<&[u8]>,
    now: DateTime<Utc>,
    store: Option<&X509Store>,
) -> Result<VerifiedLevel, SignatureError> {
    let view = cms_view::parse(der)?;
    if view.signer_infos.is_empty() {
        // A "certificates only" SignedData carries no signature.
        return Err(NotSigned);
    }
    if view.has_content == detached.is_some() {
        // Enveloping without content, or detached with content: not what was asked for.
        return Err(Malformed);
    }
    let mut certs = Vec::with_capacity(view.signer_infos.len());
    for info in &view.signer_infos {
        let raw = view.signer_certificate(info)?;
        let cert = X509::from_der(raw).map_err(|_| Malformed)?;
        certs.push((info, raw, cert));
    }

    // Integrity: messageDigest and signature of every SignerInfo, no chain.
    let mut cms = CmsContentInfo::from_der(der).map_err(|_| Malformed)?;
    let mut content = Vec::new();
    cms.verify(
        None,
        None,
        detached,
        detached.is_none().then_some(&mut content),
        CMSOptions::BINARY | CMSOptions::NO_SIGNER_CERT_VERIFY,
    )
    .map_err(|_| Invalid)?;

    for (info, raw, _) in &certs {
        if let Some(attrs) = info.signed_attrs {
            cms_view::check_signing_certificate(attrs, raw)?;
        }
    }

    let signers = certs
        .iter()
        .map(|(_, _, cert)| signer_from_certificate(cert))
        .collect::<Result<Vec<_>, _>>()?;
    let expired = signers
        .iter()
        .any(|signer| now < signer.not_before || now > signer.not_after);

    if let (Some(store), false) = (store, expired) {
        // Chain verification against the configured CA bundle, at `now`.
        let mut cms = CmsContentInfo::from_der(der).map_err(|_| Malformed)?;
        cms.verify(None, Some(store), detached, None, CMSOptions::BINARY)
            .map_err(|_| Invalid)?;
    }

    Ok(VerifiedLevel {
        content: detached.is_none().then_some(content),
        signers,
        expired,
    })
}

fn trust_store(ca_pem: &[u8], now: DateTime<Utc>) -> Result<X509Store, SignatureError> {
    let cas = X509::stack_from_pem(ca_pem).map_err(|_| Invalid)?;
    if cas.is_empty() {
        return Err(Invalid);
    }
    let mut builder = X509StoreBuilder::new().map_err(|_| Invalid)?;
    for ca in cas {
        builder.add_cert(ca).map_err(|_| Invalid)?;
    }
    let mut param = X509VerifyParam::new().map_err(|_| Invalid)?;
    param.set_time(now.timestamp());
    // Italian signing certificates usually have no S/MIME extended key usage.
    param.set_purpose(X509PurposeId::ANY).map_err(|_| Invalid)?;
    builder.set_param(&param).map_err(|_| Invalid)?;
    Ok(builder.build())
}

fn signer_from_certificate(cert: &X509Ref) -> Result<Signer, SignatureError> {
    let subject = cert.subject_name();
    let serial_number_raw = first_entry(subject, Nid::SERIALNUMBER);
    Ok(Signer {
        common_name: first_entry(subject, Nid::COMMONNAME),
        codice_fiscale: serial_number_raw
            .as_deref()
            .and_then(codice_fiscale_from_serial_number),
        serial_number_raw,
        not_before: asn1_time_to_utc(cert.not_before())?,
        not_after: asn1_time_to_utc(cert.not_after())?,
        non_repudiation: cert
            .key_usage()
            .is_some_and(|usage| usage.contains(X509KeyUsage::NON_REPUDIATION)),
        issuer: name_to_string(cert.issuer_name()),
    })
}

fn first_entry(name: &X509NameRef, nid: Nid) -> Option<String> {
    name.entries_by_nid(nid)
        .next()
        .and_then(|entry| entry.data().to_string().ok())
}

/// `TINIT-RSSMRA80A01H501U` → `RSSMRA80A01H501U` (ETSI EN 319 412-1 §5.1.3: TIN + IT).
fn codice_fiscale_from_serial_number(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let prefix = raw.get(..6)?;
    if !prefix.eq_ignore_ascii_case("TINIT-") {
        return None;
    }
    let code = raw[6..].trim().to_ascii_uppercase();
    let plausible =
        matches!(code.len(), 11 | 16) && code.bytes().all(|b| b.is_ascii_alphanumeric());
    plausible.then_some(code)
}

fn asn1_time_to_utc(time: &Asn1TimeRef) -> Result<DateTime<Utc>, SignatureError> {
    let epoch = Asn1Time::from_unix(0).map_err(|_| Malformed)?;
    let diff = epoch.diff(time).map_err(|_| Malformed)?;
    let seconds = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::from_timestamp(seconds, 0).ok_or(Malformed)
}

/// RFC 4514 style: last RDN first, `,` between attributes.
fn name_to_string(name: &X509NameRef) -> String {
    let mut parts: Vec<String> = name
        .entries()
        .map(|entry| {
            let key = entry
                .object()
                .nid()
                .short_name()
                .map(str::to_owned)
                .unwrap_or_else(|_| entry.object().to_string());
            let value = entry.data().to_string().unwrap_or_default();
            format!("{key}={}", escape_rfc4514(&value))
        })
        .collect();
    parts.reverse();
    parts.join(",")
}

fn escape_rfc4514(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------
// PAdES
// ---------------------------------------------------------------------------------------

fn verify_pades_impl(
    bytes: &[u8],
    now: DateTime<Utc>,
    store: Option<&X509Store>,
) -> Result<SignatureReport, SignatureError> {
    check_size(bytes)?;
    if sniff(bytes) != FileKind::Pdf {
        return Err(NotSigned);
    }
    let fields = pdf::signature_fields(bytes)?;
    if fields.is_empty() {
        return Err(NotSigned);
    }
    let mut supported: Vec<&pdf::SignatureField> = fields
        .iter()
        .filter(|field| {
            matches!(
                field.sub_filter.as_deref(),
                Some(b"/ETSI.CAdES.detached" | b"/adbe.pkcs7.detached")
            )
        })
        .collect();
    if supported.is_empty() {
        // Only signature kinds we cannot verify (adbe.pkcs7.sha1, adbe.x509.rsa_sha1,
        // document timestamps).
        return Err(Malformed);
    }
    supported.sort_by_key(|field| field.covered_end());
    supported.dedup_by_key(|field| field.byte_range);

    // The last signature must cover the whole file: anything appended after it (an
    // incremental update) was not signed and could change what the PDF shows.
    let covered_end = supported.last().map_or(0, |field| field.covered_end());
    if !bytes[covered_end..].iter().all(|b| is_pdf_whitespace(*b)) {
        return Err(Invalid);
    }

    let mut signers = Vec::new();
    let mut expired = false;
    for field in supported {
        let cms_der = field.cms_der(bytes)?;
        let signed = field.signed_bytes(bytes);
        let level = verify_signed_data(&cms_der, Some(&signed), now, store)?;
        signers.extend(level.signers);
        expired |= level.expired;
    }
    if expired {
        return Err(Expired);
    }
    Ok(SignatureReport {
        format: SignatureFormat::Pades,
        signers,
        content: None,
        nesting: 0,
    })
}

fn is_pdf_whitespace(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}

/// A minimal reader of PDF signature dictionaries. It does not parse the whole PDF (no
/// xref, no object streams): PDF signers write the signature dictionary uncompressed,
/// because the ByteRange must point into the file.
mod pdf {
    use super::{SignatureError, find, is_pdf_whitespace};

    /// Most signature dictionaries considered in one file.
    const MAX_SIGNATURES: usize = 50;
    /// How far before `/ByteRange` the start of its dictionary is looked for.
    const MAX_DICT_BYTES: usize = 4 * 1024 * 1024;
    /// Most `<<` candidates tried for one dictionary.
    const MAX_DICT_CANDIDATES: usize = 64;
    /// Deepest nesting of PDF arrays and dictionaries parsed.
    const MAX_DEPTH: usize = 32;

    #[derive(Debug)]
    pub(super) struct SignatureField {
        /// `[a, b, c, d]`: bytes `a..a+b` and `c..c+d` are signed; `a` is 0 and `b..c` is
        /// the `/Contents` hex string.
        pub(super) byte_range: [usize; 4],
        /// The `/SubFilter` name with its slash, e.g. `/ETSI.CAdES.detached`.
        pub(super) sub_filter: Option<Vec<u8>>,
    }

    impl SignatureField {
        pub(super) fn covered_end(&self) -> usize {
            self.byte_range[2] + self.byte_range[3]
        }

        pub(super) fn signed_bytes(&self, pdf: &[u8]) -> Vec<u8> {
            let [a, b, c, d] = self.byte_range;
            let mut signed = Vec::with_capacity(b + d);
            signed.extend_from_slice(&pdf[a..a + b]);
            signed.extend_from_slice(&pdf[c..c + d]);
            signed
        }

        /// The CMS in `/Contents`, without the zero padding that follows it.
        pub(super) fn cms_der(&self, pdf: &[u8]) -> Result<Vec<u8>, SignatureError> {
            let [_, b, c, _] = self.byte_range;
            let decoded = decode_hex(&pdf[b + 1..c - 1]).ok_or(SignatureError::Malformed)?;
            let (tlv, rest) = super::ber::read(&decoded)?;
            if rest.iter().any(|byte| *byte != 0) {
                return Err(SignatureError::Malformed);
            }
            Ok(tlv.raw.to_vec())
        }
    }

    /// Every well-formed signature dictionary. `Err(Malformed)` if the file mentions
    /// `/ByteRange` but no signature dictionary can be read.
    pub(super) fn signature_fields(pdf: &[u8]) -> Result<Vec<SignatureField>, SignatureError> {
        let mut fields = Vec::new();
        let mut mentions = 0usize;
        let mut from = 0;
        while let Some(offset) = find(&pdf[from..], b"/ByteRange") {
            let key_pos = from + offset;
            from = key_pos + 1;
            mentions += 1;
            if mentions > MAX_SIGNATURES {
                return Err(SignatureError::Malformed);
            }
            if let Some(field) = read_field(pdf, key_pos) {
                fields.push(field);
            }
        }
        if mentions > 0 && fields.is_empty() {
            return Err(SignatureError::Malformed);
        }
        Ok(fields)
    }

    fn read_field(pdf: &[u8], key_pos: usize) -> Option<SignatureField> {
        let value_start = skip_ws(pdf, key_pos + b"/ByteRange".len());
        let byte_range = parse_byte_range(pdf, value_start)?;
        let [a, b, c, d] = byte_range;
        let end = c.checked_add(d)?;
        if a != 0 || b == 0 || c <= b + 1 || end > pdf.len() || key_pos >= pdf.len() {
            return None;
        }
        // The gap is exactly one hex string, the value of a /Contents key.
        if pdf[b] != b'<' || pdf[c - 1] != b'>' {
            return None;
        }
        if !pdf[b + 1..c - 1]
            .iter()
            .all(|x| x.is_ascii_hexdigit() || is_pdf_whitespace(*x))
        {
            return None;
        }
        let mut before = b;
        while before > 0 && is_pdf_whitespace(pdf[before - 1]) {
            before -= 1;
        }
        if !pdf[..before].ends_with(b"/Contents") {
            return None;
        }

        // Find the dictionary that holds both this /ByteRange and that /Contents.
        let lowest = key_pos.min(b).saturating_sub(MAX_DICT_BYTES);
        let mut candidates = 0;
        let mut start = key_pos.min(b);
        while start >= lowest + 2 && candidates < MAX_DICT_CANDIDATES {
            start -= 1;
            if &pdf[start - 1..=start] != b"<<" {
                continue;
            }
            let dict_start = start - 1;
            candidates += 1;
            let Some((entries, _)) = parse_dict(pdf, dict_start, 0) else {
                continue;
            };
            let has_range = entries
                .iter()
                .any(|e| e.key_pos == key_pos && &pdf[e.key.0..e.key.1] == b"/ByteRange");
            let has_contents = entries
                .iter()
                .any(|e| &pdf[e.key.0..e.key.1] == b"/Contents" && e.value == (b, c));
            if has_range && has_contents {
                let sub_filter = entries
                    .iter()
                    .find(|e| &pdf[e.key.0..e.key.1] == b"/SubFilter")
                    .map(|e| pdf[e.value.0..e.value.1].to_vec());
                return Some(SignatureField {
                    byte_range,
                    sub_filter,
                });
            }
        }
        None
    }

    /// `[n n n n]` with four non-negative integers.
    fn parse_byte_range(pdf: &[u8], at: usize) -> Option<[usize; 4]> {
        if pdf.get(at) != Some(&b'[') {
            return None;
        }
        let mut i = at + 1;
        let mut values = [0usize; 4];
        for value in &mut values {
            i = skip_ws(pdf, i);
            let digits = pdf[i..].iter().take_while(|x| x.is_ascii_digit()).count();
            if digits == 0 || digits > 15 {
                return None;
            }
            *value = std::str::from_utf8(&pdf[i..i + digits])
                .ok()?
                .parse()
                .ok()?;
            i += digits;
        }
        i = skip_ws(pdf, i);
        (pdf.get(i) == Some(&b']')).then_some(values)
    }

    struct Entry {
        key_pos: usize,
        /// Key span, slash included.
        key: (usize, usize),
        /// Value span.
        value: (usize, usize),
    }

    fn is_delimiter(b: u8) -> bool {
        matches!(
            b,
            b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
        )
    }

    fn skip_ws(pdf: &[u8], mut i: usize) -> usize {
        loop {
            while i < pdf.len() && is_pdf_whitespace(pdf[i]) {
                i += 1;
            }
            if pdf.get(i) != Some(&b'%') {
                return i;
            }
            while i < pdf.len() && pdf[i] != b'\n' && pdf[i] != b'\r' {
                i += 1;
            }
        }
    }

    fn token_end(pdf: &[u8], mut i: usize) -> usize {
        while i < pdf.len() && !is_pdf_whitespace(pdf[i]) && !is_delimiter(pdf[i]) {
            i += 1;
        }
        i
    }

    /// Parses `<< ... >>` at `start`; returns its top-level entries and the end offset.
    fn parse_dict(pdf: &[u8], start: usize, depth: usize) -> Option<(Vec<Entry>, usize)> {
        if depth > MAX_DEPTH || pdf.get(start..start + 2) != Some(b"<<") {
            return None;
        }
        let mut entries = Vec::new();
        let mut i = start + 2;
        loop {
            i = skip_ws(pdf, i);
            if pdf.get(i..i + 2) == Some(b">>") {
                return Some((entries, i + 2));
            }
            if pdf.get(i) != Some(&b'/') {
                return None;
            }
            let key_end = token_end(pdf, i + 1);
            let value_start = skip_ws(pdf, key_end);
            let value_end = parse_object(pdf, value_start, depth + 1)?;
            entries.push(Entry {
                key_pos: i,
                key: (i, key_end),
                value: (value_start, value_end),
            });
            i = value_end;
        }
    }

    /// Parses one object at `i` and returns its end offset.
    fn parse_object(pdf: &[u8], i: usize, depth: usize) -> Option<usize> {
        if depth > MAX_DEPTH {
            return None;
        }
        match *pdf.get(i)? {
            b'<' if pdf.get(i + 1) == Some(&b'<') => parse_dict(pdf, i, depth).map(|(_, end)| end),
            b'<' => {
                let len = pdf[i + 1..].iter().position(|x| *x == b'>')?;
                let body = &pdf[i + 1..i + 1 + len];
                body.iter()
                    .all(|x| x.is_ascii_hexdigit() || is_pdf_whitespace(*x))
                    .then_some(i + len + 2)
            }
            b'(' => {
                let mut nesting = 0usize;
                let mut j = i;
                while j < pdf.len() {
                    match pdf[j] {
                        b'\\' => j += 1,
                        b'(' => nesting += 1,
                        b')' => {
                            nesting -= 1;
                            if nesting == 0 {
                                return Some(j + 1);
                            }
                        }
                        _ => {}
                    }
                    j += 1;
                }
                None
            }
            b'[' => {
                let mut j = i + 1;
                loop {
                    j = skip_ws(pdf, j);
                    if pdf.get(j) == Some(&b']') {
                        return Some(j + 1);
                    }
                    j = parse_object(pdf, j, depth + 1)?;
                }
            }
            b'/' => Some(token_end(pdf, i + 1)),
            b'0'..=b'9' | b'+' | b'-' | b'.' => {
                let end = token_end(pdf, i);
                // An indirect reference: `12 0 R`.
                let generation = skip_ws(pdf, end);
                let generation_end = token_end(pdf, generation);
                if generation_end > generation
                    && pdf[generation..generation_end]
                        .iter()
                        .all(u8::is_ascii_digit)
                {
                    let r = skip_ws(pdf, generation_end);
                    if pdf.get(r) == Some(&b'R') && token_end(pdf, r) == r + 1 {
                        return Some(r + 1);
                    }
                }
                Some(end)
            }
            b'a'..=b'z' | b'A'..=b'Z' => Some(token_end(pdf, i)),
            _ => None,
        }
    }

    /// Hex digits with optional whitespace; an odd final digit is followed by 0 (PDF rule).
    fn decode_hex(hex: &[u8]) -> Option<Vec<u8>> {
        let digits: Vec<u8> = hex
            .iter()
            .filter(|x| !is_pdf_whitespace(**x))
            .map(|x| char::from(*x).to_digit(16).map(|v| v as u8))
            .collect::<Option<_>>()?;
        Some(
            digits
                .chunks(2)
                .map(|pair| (pair[0] << 4) | pair.get(1).copied().unwrap_or(0))
                .collect(),
        )
    }
}

// ---------------------------------------------------------------------------------------
// BER reader (no unsafe, bounded depth) and a view of CMS SignedData
// ---------------------------------------------------------------------------------------

/// Just enough BER (definite and indefinite lengths) to walk a CMS SignedData.
mod ber {
    use super::SignatureError::{self, Malformed};

    /// Deepest nesting of indefinite-length encodings followed.
    const MAX_DEPTH: usize = 32;

    pub(super) struct Tlv<'a> {
        /// The first identifier octet (class, constructed bit, low tag number).
        pub(super) tag: u8,
        /// The contents octets (without the end-of-contents octets).
        pub(super) content: &'a [u8],
        /// The whole encoding, header included.
        pub(super) raw: &'a [u8],
    }

    /// Reads one TLV; returns it and the bytes after it.
    pub(super) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), SignatureError> {
        read_at(input, 0)
    }

    fn read_at(input: &[u8], depth: usize) -> Result<(Tlv<'_>, &[u8]), SignatureError> {
        if depth > MAX_DEPTH {
            return Err(Malformed);
        }
        let tag = *input.first().ok_or(Malformed)?;
        let mut pos = 1;
        if tag & 0x1F == 0x1F {
            // High tag number form: skip the tag number octets.
            loop {
                let b = *input.get(pos).ok_or(Malformed)?;
                pos += 1;
                if b & 0x80 == 0 {
                    break;
                }
                if pos > 6 {
                    return Err(Malformed);
                }
            }
        }
        let first_len = *input.get(pos).ok_or(Malformed)?;
        pos += 1;
        let len = match first_len {
            0x80 => {
                if tag & 0x20 == 0 {
                    return Err(Malformed);
                }
                let mut end = pos;
                loop {
                    let rest = input.get(end..).ok_or(Malformed)?;
                    if rest.starts_with(&[0, 0]) {
                        let tlv = Tlv {
                            tag,
                            content: &input[pos..end],
                            raw: &input[..end + 2],
                        };
                        return Ok((tlv, &input[end + 2..]));
                    }
                    let (child, _) = read_at(rest, depth + 1)?;
                    end += child.raw.len();
                }
            }
            short if short < 0x80 => usize::from(short),
            0x81..=0x84 => {
                let count = usize::from(first_len & 0x7F);
                let octets = input.get(pos..pos + count).ok_or(Malformed)?;
                pos += count;
                octets
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
            }
            _ => return Err(Malformed),
        };
        let end = pos.checked_add(len).ok_or(Malformed)?;
        if end > input.len() {
            return Err(Malformed);
        }
        let tlv = Tlv {
            tag,
            content: &input[pos..end],
            raw: &input[..end],
        };
        Ok((tlv, &input[end..]))
    }

    /// Sequential reader of the elements inside a constructed value.
    pub(super) struct Reader<'a> {
        rest: &'a [u8],
    }

    impl<'a> Reader<'a> {
        pub(super) fn new(content: &'a [u8]) -> Self {
            Reader { rest: content }
        }

        pub(super) fn is_empty(&self) -> bool {
            self.rest.is_empty()
        }

        pub(super) fn next(&mut self) -> Result<Tlv<'a>, SignatureError> {
            let (tlv, rest) = read(self.rest)?;
            self.rest = rest;
            Ok(tlv)
        }

        /// The next element, which must have tag `tag`.
        pub(super) fn expect(&mut self, tag: u8) -> Result<Tlv<'a>, SignatureError> {
            let tlv = self.next()?;
            if tlv.tag == tag {
                Ok(tlv)
            } else {
                Err(Malformed)
            }
        }

        /// The next element if it has tag `tag`.
        pub(super) fn optional(&mut self, tag: u8) -> Result<Option<Tlv<'a>>, SignatureError> {
            if self.rest.first() == Some(&tag) {
                self.next().map(Some)
            } else {
                Ok(None)
            }
        }
    }
}

/// The parts of a CMS SignedData (RFC 5652) that OpenSSL's Rust API does not expose: the
/// certificate set, the signer identifiers and the signed attributes.
mod cms_view {
    use openssl::hash::{MessageDigest, hash};

    use super::SignatureError::{self, Invalid, Malformed};
    use super::ber::{self, Reader};
    use super::{OID_SIGNED_DATA, X509};

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
    /// 2.16.840.1.101.3.4.2 (NIST hash algorithms), followed by one octet.
    const OID_NIST_HASH_PREFIX: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02];

    pub(super) struct SignedDataView<'a> {
        pub(super) has_content: bool,
        /// DER of each X.509 certificate in the certificate set.
        pub(super) certificates: Vec<&'a [u8]>,
        pub(super) signer_infos: Vec<SignerInfoView<'a>>,
    }

    pub(super) struct SignerInfoView<'a> {
        sid: SignerId<'a>,
        /// The contents of `signedAttrs` (a sequence of Attribute), if present.
        pub(super) signed_attrs: Option<&'a [u8]>,
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
        encap.expect(OID)?; // eContentType
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
        sd.optional(CONTEXT_1)?; // crls
        let infos = sd.expect(SET)?;
        let mut infos = Reader::new(infos.content);
        let mut signer_infos = Vec::new();
        while !infos.is_empty() {
            signer_infos.push(parse_signer_info(infos.next()?)?);
        }
        Ok(SignedDataView {
            has_content,
            certificates,
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
        Ok(SignerInfoView { sid, signed_attrs })
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
    fn digest_for(algorithm: &[u8]) -> Result<MessageDigest, SignatureError> {
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
}

#[cfg(test)]
mod tests {
    //! Fixtures are built at test time with the `openssl` command line tool, as in
    //! security-reliability.md §1.3. Without it the tests fail; they are never skipped.

    use super::*;
    use chrono::Duration;
    use std::path::Path;
    use std::process::Command;
    use std::sync::OnceLock;

    const CF: &str = "RSSMRA80A01H501U";

    /// Runs `openssl` in `dir` with the whitespace-separated arguments of `line` followed by
    /// `tail` (for arguments that contain spaces, such as subjects). Fails the test, with a
    /// clear message, if the tool is missing or the command fails.
    fn openssl(dir: &Path, line: &str, tail: &[&str]) {
        let args: Vec<&str> = line
            .split_whitespace()
            .chain(tail.iter().copied())
            .collect();
        let output = Command::new("openssl")
            .args(&args)
            .current_dir(dir)
            .output()
            .unwrap_or_else(|error| {
                panic!(
                    "these tests build their fixtures with the `openssl` command line tool, \
                     which could not be run ({error}); install it (Debian: apt-get install openssl)"
                )
            });
        assert!(
            output.status.success(),
            "`openssl {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().expect("temporary directory")
    }

    struct Identity {
        key: Vec<u8>,
        cert: Vec<u8>,
    }

    struct Pki {
        ca_key: Vec<u8>,
        ca_pem: Vec<u8>,
        other_ca_pem: Vec<u8>,
        /// serialNumber=TINIT-RSSMRA80A01H501U, keyUsage nonRepudiation, 30 days.
        signer: Identity,
        /// The same key, with a subjectKeyIdentifier (for `-keyid` signatures).
        signer_with_ski: Identity,
        /// serialNumber=tinit-bncgli85m41f205w (lower case on purpose).
        other_tin: Identity,
        /// Valid for one day from now.
        short_lived: Identity,
    }

    /// The test PKI, built once per test run.
    fn pki() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(make_pki)
    }

    fn make_pki() -> Pki {
        let dir = tempdir();
        let dir = dir.path();
        let read = |name: &str| std::fs::read(dir.join(name)).expect("fixture file");
        let make_ca = |name: &str, subject: &str| {
            let line = format!(
                "req -x509 -newkey rsa:2048 -nodes -days 30 -keyout {name}.key -out {name}.pem \
                 -addext basicConstraints=critical,CA:TRUE \
                 -addext keyUsage=critical,keyCertSign,cRLSign -subj"
            );
            openssl(dir, &line, &[subject]);
        };
        make_ca("ca", "/C=IT/O=Test CA/CN=Test QCA");
        make_ca("other-ca", "/C=IT/O=Other CA/CN=Other QCA");

        // `new_key: false` reuses the key of the main signer (s.key).
        let issue = |name: &str, subject: &str, days: &str, extensions: &str, new_key: bool| {
            let key = if new_key {
                let key = format!("{name}.key");
                let line =
                    format!("req -newkey rsa:2048 -nodes -keyout {key} -out {name}.csr -subj");
                openssl(dir, &line, &[subject]);
                key
            } else {
                openssl(
                    dir,
                    &format!("req -new -key s.key -out {name}.csr -subj"),
                    &[subject],
                );
                "s.key".to_owned()
            };
            std::fs::write(dir.join(format!("{name}.cnf")), extensions).expect("extension file");
            let line = format!(
                "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days {days} \
                 -extfile {name}.cnf -out {name}.pem"
            );
            openssl(dir, &line, &[]);
            Identity {
                key: read(&key),
                cert: read(&format!("{name}.pem")),
            }
        };
        let ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n";
        let mario = "/C=IT/GN=Mario/SN=Rossi/CN=Mario Rossi/serialNumber=TINIT-RSSMRA80A01H501U";
        let signer = issue("s", mario, "30", ext, true);
        let signer_with_ski = issue(
            "ski",
            mario,
            "30",
            "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\nsubjectKeyIdentifier=hash\n",
            false,
        );
        let other_tin = issue(
            "other",
            "/C=IT/GN=Giulia/SN=Bianchi/CN=Giulia Bianchi/serialNumber=tinit-bncgli85m41f205w",
            "30",
            ext,
            true,
        );
        let short_lived = issue(
            "short",
            "/C=IT/CN=Luca Verdi/serialNumber=TINIT-VRDLCU80A01H501X",
            "1",
            ext,
            true,
        );
        Pki {
            ca_key: read("ca.key"),
            ca_pem: read("ca.pem"),
            other_ca_pem: read("other-ca.pem"),
            signer,
            signer_with_ski,
            other_tin,
            short_lived,
        }
    }

    /// `openssl cms -sign -binary -md sha256` of `content` with `id`, plus the options in
    /// `extra` (whitespace-separated).
    fn cms_sign(id: &Identity, content: &[u8], extra: &str) -> Vec<u8> {
        cms_sign_by(&[id], content, extra)
    }

    /// As [`cms_sign`], with one SignerInfo per identity.
    fn cms_sign_by(ids: &[&Identity], content: &[u8], extra: &str) -> Vec<u8> {
        let dir = tempdir();
        let path = dir.path();
        std::fs::write(path.join("content.bin"), content).expect("write content");
        let mut line = "cms -sign -binary -md sha256 -in content.bin -out signed.bin".to_owned();
        for (i, id) in ids.iter().enumerate() {
            std::fs::write(path.join(format!("signer{i}.pem")), &id.cert).expect("write cert");
            std::fs::write(path.join(format!("signer{i}.key")), &id.key).expect("write key");
            line.push_str(&format!(" -signer signer{i}.pem -inkey signer{i}.key"));
        }
        line.push(' ');
        line.push_str(extra);
        openssl(path, &line, &[]);
        std::fs::read(path.join("signed.bin")).expect("read signature")
    }

    /// A CAdES `.p7m` (DER), as in security-reliability.md §1.3.
    fn p7m(id: &Identity, content: &[u8]) -> Vec<u8> {
        cms_sign(id, content, "-nodetach -cades -outform DER")
    }

    /// A small PDF with binary bytes, CR LF and NUL in it.
    fn sample_pdf() -> Vec<u8> {
        let mut pdf =
            b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
        pdf.extend(b"2 0 obj\n<< /Length 256 >>\nstream\n");
        pdf.extend(0..=255u8);
        pdf.extend(b"\r\nendstream\r\nendobj\r\ntrailer\n<< /Root 1 0 R >>\n%%EOF\r\n");
        pdf
    }

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn assert_mario(signer: &Signer) {
        assert_eq!(signer.codice_fiscale.as_deref(), Some(CF));
        assert_eq!(
            signer.serial_number_raw.as_deref(),
            Some("TINIT-RSSMRA80A01H501U")
        );
        assert_eq!(signer.common_name.as_deref(), Some("Mario Rossi"));
        assert!(signer.non_repudiation);
        assert_eq!(signer.issuer, "CN=Test QCA,O=Test CA,C=IT");
        assert!(signer.not_before <= now() && now() <= signer.not_after);
        assert!(signer.not_after - signer.not_before >= Duration::days(29));
    }

    fn base64_lines(der: &[u8], line_end: &str) -> Vec<u8> {
        let text = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = text
            .as_bytes()
            .chunks(64)
            .map(|chunk| std::str::from_utf8(chunk).expect("ascii"))
            .collect();
        let mut out = lines.join(line_end);
        out.push_str(line_end);
        out.into_bytes()
    }

    /// Deterministic pseudo-random bytes.
    fn noise(len: usize) -> Vec<u8> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                (state >> 33) as u8
            })
            .collect()
    }

    // ----- sniff -------------------------------------------------------------------------

    #[test]
    fn sniff_recognises_file_kinds_by_content() {
        let pki = pki();
        let der = p7m(&pki.signer, b"ciao");
        assert_eq!(sniff(&sample_pdf()), FileKind::Pdf);
        assert_eq!(sniff(b"\xEF\xBB\xBF \r\n\t%PDF-1.4\n"), FileKind::Pdf);
        let mut padded = vec![b' '; 1000];
        padded.extend(b"%PDF-1.4");
        assert_eq!(sniff(&padded), FileKind::Pdf);
        let mut too_far = vec![b' '; 1100];
        too_far.extend(b"%PDF-1.4");
        assert_eq!(sniff(&too_far), FileKind::Other);
        assert_eq!(sniff(b"garbage %PDF-1.4"), FileKind::Other);
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\x00\x10JFIF"), FileKind::Jpeg);
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), FileKind::Png);
        assert_eq!(sniff(&der), FileKind::P7m);
        assert_eq!(sniff(&base64_lines(&der, "\r\n")), FileKind::P7m);
        let pem = cms_sign(&pki.signer, b"ciao", "-nodetach -cades -outform PEM");
        assert_eq!(sniff(&pem), FileKind::P7m);
        assert_eq!(
            sniff(&der[..40]),
            FileKind::P7m,
            "a truncated p7m is still a p7m"
        );
        assert_eq!(sniff(b""), FileKind::Other);
        assert_eq!(
            sniff(b"Gentile avvocato, allego l'istanza."),
            FileKind::Other
        );
        assert_eq!(
            sniff(b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="),
            FileKind::Other
        );
        // A DER SEQUENCE that is not signedData (a certificate).
        let cert = X509::from_pem(&pki.signer.cert).unwrap().to_der().unwrap();
        assert_eq!(sniff(&cert), FileKind::Other);
        assert_eq!(sniff(&noise(4096)), FileKind::Other);
    }

    // ----- CAdES -------------------------------------------------------------------------

    #[test]
    fn der_p7m_verifies_and_yields_the_original_content() {
        let pki = pki();
        let pdf = sample_pdf();
        let der = p7m(&pki.signer, &pdf);
        let report = verify_cades(&der, now()).expect("valid p7m");
        assert_eq!(report.format, SignatureFormat::Cades);
        assert_eq!(report.nesting, 1);
        assert_eq!(report.content.as_deref(), Some(&pdf[..]));
        assert_eq!(report.signers.len(), 1);
        assert_mario(&report.signers[0]);
        assert_eq!(verify(&der, now()), Ok(report));
    }

    #[test]
    fn base64_p7m_verifies() {
        let pki = pki();
        let pdf = sample_pdf();
        let der = p7m(&pki.signer, &pdf);
        for text in [
            base64_lines(&der, "\r\n"),
            base64_lines(&der, "\n"),
            base64::engine::general_purpose::STANDARD
                .encode(&der)
                .into_bytes(),
        ] {
            let report = verify(&text, now()).expect("valid base64 p7m");
            assert_eq!(report.content.as_deref(), Some(&pdf[..]));
            assert_eq!(report.signers[0].codice_fiscale.as_deref(), Some(CF));
        }
    }

    #[test]
    fn pem_p7m_verifies() {
        let pki = pki();
        let pdf = sample_pdf();
        let pem = cms_sign(&pki.signer, &pdf, "-nodetach -cades -outform PEM");
        assert!(pem.starts_with(b"-----BEGIN CMS-----"));
        let report = verify(&pem, now()).expect("valid PEM p7m");
        assert_eq!(report.content.as_deref(), Some(&pdf[..]));
        assert_mario(&report.signers[0]);
    }

    #[test]
    fn double_nested_p7m_is_unwrapped() {
        let pki = pki();
        let pdf = sample_pdf();
        let inner = p7m(&pki.signer, &pdf);
        let outer = p7m(&pki.other_tin, &inner);
        let report = verify(&outer, now()).expect("valid .p7m.p7m");
        assert_eq!(report.nesting, 2);
        assert_eq!(report.content.as_deref(), Some(&pdf[..]));
        let codes: Vec<_> = report
            .signers
            .iter()
            .map(|s| s.codice_fiscale.as_deref())
            .collect();
        assert_eq!(
            codes,
            [Some("BNCGLI85M41F205W"), Some(CF)],
            "outermost first"
        );

        // An inner envelope in base64 is unwrapped too.
        let outer = p7m(&pki.signer, &base64_lines(&inner, "\r\n"));
        let report = verify(&outer, now()).expect("valid p7m of a base64 p7m");
        assert_eq!(report.nesting, 2);
        assert_eq!(report.content.as_deref(), Some(&pdf[..]));
    }

    #[test]
    fn nesting_is_bounded() {
        let pki = pki();
        let pdf = sample_pdf();
        let mut envelope = pdf.clone();
        for _ in 0..3 {
            envelope = p7m(&pki.signer, &envelope);
        }
        let report = verify(&envelope, now()).expect("three envelopes are accepted");
        assert_eq!(report.nesting, 3);
        assert_eq!(report.signers.len(), 3);
        assert_eq!(report.content.as_deref(), Some(&pdf[..]));

        let four = p7m(&pki.signer, &envelope);
        assert_eq!(verify(&four, now()), Err(SignatureError::TooDeep));
    }

    #[test]
    fn tampered_content_is_invalid() {
        let pki = pki();
        let content = b"Istanza di ammissione al patrocinio a spese dello Stato".to_vec();
        let mut der = p7m(&pki.signer, &content);
        let at = find(&der, &content).expect("content is encapsulated") + 10;
        der[at] ^= 0x01;
        assert_eq!(verify_cades(&der, now()), Err(SignatureError::Invalid));
        assert_eq!(verify(&der, now()), Err(SignatureError::Invalid));
    }

    #[test]
    fn tampered_signature_is_invalid() {
        let pki = pki();
        let mut der = p7m(&pki.signer, b"ciao");
        // The signature value is the last element: flip a byte near the end.
        let at = der.len() - 20;
        der[at] ^= 0x01;
        assert_eq!(verify_cades(&der, now()), Err(SignatureError::Invalid));
    }

    #[test]
    fn ber_indefinite_length_p7m_verifies() {
        let pki = pki();
        let pdf = sample_pdf();
        let ber = cms_sign(&pki.signer, &pdf, "-nodetach -cades -stream -outform DER");
        assert_eq!(
            &ber[..2],
            &[0x30, 0x80],
            "openssl -stream writes indefinite lengths"
        );
        let report = verify(&ber, now()).expect("valid BER p7m");
        assert_eq!(report.content.as_deref(), Some(&pdf[..]));
        assert_mario(&report.signers[0]);
    }

    #[test]
    fn parallel_signers_are_all_reported() {
        let pki = pki();
        let der = cms_sign_by(
            &[&pki.signer, &pki.other_tin],
            b"ciao",
            "-nodetach -cades -outform DER",
        );
        let report = verify(&der, now()).expect("valid p7m with two signers");
        assert_eq!(report.nesting, 1);
        let codes: Vec<_> = report
            .signers
            .iter()
            .map(|s| s.codice_fiscale.as_deref())
            .collect();
        assert_eq!(codes, [Some(CF), Some("BNCGLI85M41F205W")]);
        // One expired signer is enough to refuse the file.
        let der = cms_sign_by(
            &[&pki.signer, &pki.short_lived],
            b"ciao",
            "-nodetach -cades -outform DER",
        );
        assert!(verify(&der, now()).is_ok());
        assert_eq!(
            verify(&der, now() + Duration::days(100)),
            Err(SignatureError::Expired)
        );
    }

    /// Two certificates for the same key with the same issuer and serial number, differing
    /// only in the codice fiscale. Swapping one for the other in the CMS leaves every
    /// signature valid; only the ESS signingCertificateV2 attribute reveals the swap.
    #[test]
    fn substituted_signer_certificate_is_invalid() {
        let pki = pki();
        let dir = tempdir();
        let path = dir.path();
        std::fs::write(path.join("ca.pem"), &pki.ca_pem).unwrap();
        std::fs::write(path.join("ca.key"), &pki.ca_key).unwrap();
        std::fs::write(path.join("s.key"), &pki.signer.key).unwrap();
        std::fs::write(
            path.join("ext.cnf"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n",
        )
        .unwrap();
        let mut certs = Vec::new();
        for code in ["RSSMRA80A01H501U", "RSSMRA80A01H501X"] {
            let subject = format!("/C=IT/CN=Mario Rossi/serialNumber=TINIT-{code}");
            openssl(path, "req -new -key s.key -out x.csr -subj", &[&subject]);
            let line = "x509 -req -in x.csr -CA ca.pem -CAkey ca.key -set_serial 4242 -days 30 \
                        -extfile ext.cnf -out x.pem";
            openssl(path, line, &[]);
            certs.push(std::fs::read(path.join("x.pem")).unwrap());
        }
        let genuine = Identity {
            key: pki.signer.key.clone(),
            cert: certs[0].clone(),
        };
        let der = p7m(&genuine, b"ciao");
        assert_eq!(
            verify(&der, now()).unwrap().signers[0]
                .codice_fiscale
                .as_deref(),
            Some(CF)
        );
        let genuine_der = X509::from_pem(&certs[0]).unwrap().to_der().unwrap();
        let forged_der = X509::from_pem(&certs[1]).unwrap().to_der().unwrap();
        assert_eq!(genuine_der.len(), forged_der.len());
        let at = find(&der, &genuine_der).expect("certificate in the CMS");
        let mut swapped = der.clone();
        swapped[at..at + forged_der.len()].copy_from_slice(&forged_der);
        assert_eq!(verify(&swapped, now()), Err(SignatureError::Invalid));
    }

    #[test]
    fn another_tinit_is_reported_uppercased() {
        let pki = pki();
        let der = p7m(&pki.other_tin, b"ciao");
        let report = verify(&der, now()).expect("valid p7m");
        let signer = &report.signers[0];
        assert_eq!(signer.codice_fiscale.as_deref(), Some("BNCGLI85M41F205W"));
        assert_eq!(
            signer.serial_number_raw.as_deref(),
            Some("tinit-bncgli85m41f205w")
        );
        assert_eq!(signer.common_name.as_deref(), Some("Giulia Bianchi"));
    }

    #[test]
    fn expired_or_not_yet_valid_certificate_is_refused() {
        let pki = pki();
        let der = p7m(&pki.short_lived, b"ciao");
        let report = verify(&der, now()).expect("valid today");
        assert_eq!(
            report.signers[0].codice_fiscale.as_deref(),
            Some("VRDLCU80A01H501X")
        );
        let later = now() + Duration::days(400);
        assert_eq!(verify(&der, later), Err(SignatureError::Expired));
        let earlier = now() - Duration::days(10);
        assert_eq!(verify(&der, earlier), Err(SignatureError::Expired));
        // Integrity is checked first: a tampered file with an expired certificate is Invalid.
        let mut tampered = p7m(&pki.short_lived, b"Istanza di ammissione");
        let at = find(&tampered, b"Istanza").expect("content");
        tampered[at] ^= 0x01;
        assert_eq!(verify(&tampered, later), Err(SignatureError::Invalid));
    }

    #[test]
    fn signer_identified_by_subject_key_identifier_is_found() {
        let pki = pki();
        let der = cms_sign(
            &pki.signer_with_ski,
            b"ciao",
            "-nodetach -cades -keyid -outform DER",
        );
        let report = verify(&der, now()).expect("valid p7m with a key identifier");
        assert_mario(&report.signers[0]);
    }

    #[test]
    fn not_cms_is_not_signed() {
        let pdf = sample_pdf();
        assert_eq!(verify(&pdf, now()), Err(SignatureError::NotSigned));
        assert_eq!(verify_cades(&pdf, now()), Err(SignatureError::NotSigned));
        assert_eq!(verify_pades(&pdf, now()), Err(SignatureError::NotSigned));
        let random = noise(4096);
        assert_eq!(verify(&random, now()), Err(SignatureError::NotSigned));
        assert_eq!(verify_cades(&random, now()), Err(SignatureError::NotSigned));
        assert_eq!(verify(b"", now()), Err(SignatureError::NotSigned));
        assert_eq!(
            verify(b"\xFF\xD8\xFF\xE0\x00\x10JFIF", now()),
            Err(SignatureError::NotSigned)
        );
        // Looks like a p7m (SEQUENCE + signedData OID) but is garbage after that.
        let mut fake = vec![0x30, 0x82, 0x10, 0x00];
        fake.extend_from_slice(OID_SIGNED_DATA);
        fake.extend(noise(4096));
        assert_eq!(verify(&fake, now()), Err(SignatureError::Malformed));
        // A certificates-only SignedData (no SignerInfo) is not a signature.
        let dir = tempdir();
        std::fs::write(dir.path().join("s.pem"), &pki().signer.cert).unwrap();
        let line = "crl2pkcs7 -nocrl -certfile s.pem -outform DER -out c.p7c";
        openssl(dir.path(), line, &[]);
        let certs_only = std::fs::read(dir.path().join("c.p7c")).unwrap();
        assert_eq!(sniff(&certs_only), FileKind::P7m);
        assert_eq!(verify(&certs_only, now()), Err(SignatureError::NotSigned));
    }

    #[test]
    fn truncated_or_undecodable_p7m_is_malformed() {
        let pki = pki();
        let der = p7m(&pki.signer, &sample_pdf());
        for len in [20, der.len() / 2, der.len() - 1] {
            assert_eq!(
                verify(&der[..len], now()),
                Err(SignatureError::Malformed),
                "truncated at {len}"
            );
        }
        let mut text = base64_lines(&der, "\n");
        let middle = text.len() / 2;
        text[middle] = b'*';
        assert_eq!(verify(&text, now()), Err(SignatureError::Malformed));
        let mut text = base64_lines(&der, "\n");
        text.truncate(text.len() / 2 + 1);
        assert_eq!(verify(&text, now()), Err(SignatureError::Malformed));
        // A detached signature given as a .p7m has no content to return.
        let detached = cms_sign(&pki.signer, b"ciao", "-cades -outform DER");
        assert_eq!(verify(&detached, now()), Err(SignatureError::Malformed));
        // PEM without its footer.
        let pem = cms_sign(&pki.signer, b"ciao", "-nodetach -cades -outform PEM");
        let cut = find(&pem, b"-----END").expect("footer");
        assert_eq!(verify(&pem[..cut], now()), Err(SignatureError::Malformed));
    }

    #[test]
    fn oversized_input_is_refused() {
        let mut big = b"%PDF-1.7\n".to_vec();
        big.resize(MAX_INPUT_BYTES + 1, b' ');
        assert_eq!(verify(&big, now()), Err(SignatureError::Malformed));
        big[..9].copy_from_slice(&[0x30, 0x80, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7]);
        assert_eq!(verify_cades(&big, now()), Err(SignatureError::Malformed));
    }

    // ----- PAdES -------------------------------------------------------------------------

    /// Bytes reserved for the CMS in /Contents.
    const PLACEHOLDER_BYTES: usize = 8192;
    const BYTE_RANGE_PLACEHOLDER: &str = "[0 0000000000 0000000000 0000000000]";

    /// A minimal valid PDF with a signature field whose /Contents is zero-filled.
    fn unsigned_pdf(sub_filter: &str) -> Vec<u8> {
        let zeros = "0".repeat(2 * PLACEHOLDER_BYTES);
        let page = "BT /F1 12 Tf 72 720 Td (Istanza di ammissione) Tj ET";
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>"
                .to_owned(),
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 6 0 R \
             /Annots [4 0 R] >>"
                .to_owned(),
            "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Firma difensore) /Rect [0 0 0 0] \
             /F 132 /P 3 0 R /V 5 0 R >>"
                .to_owned(),
            // /Contents before /ByteRange, and a nested dictionary between them, so that
            // the search for the enclosing dictionary has work to do.
            format!(
                "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /{sub_filter} \
                 /Contents <{zeros}> /Prop_Build << /App << /Name /Patrocinio >> >> \
                 /ByteRange {BYTE_RANGE_PLACEHOLDER} /M (D:20250101120000+01'00') \
                 /Name (Avv. Mario Rossi \\(test\\) >>) >>"
            ),
            format!("<< /Length {} >>\nstream\n{page}\nendstream", page.len()),
        ];
        let mut pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
        let mut offsets = Vec::new();
        for (number, body) in objects.iter().enumerate() {
            offsets.push(pdf.len());
            pdf.extend(format!("{} 0 obj\n{body}\nendobj\n", number + 1).bytes());
        }
        let xref = pdf.len();
        pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
        for offset in offsets {
            pdf.extend(format!("{offset:010} 00000 n \n").bytes());
        }
        pdf.extend(
            format!(
                "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
                objects.len() + 1
            )
            .bytes(),
        );
        pdf
    }

    fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
        haystack.windows(needle.len()).rposition(|w| w == needle)
    }

    /// A minimal PDF signed once.
    fn signed_pdf(id: &Identity, sub_filter: &str, cades: bool) -> Vec<u8> {
        sign_last_placeholder(unsigned_pdf(sub_filter), id, cades)
    }

    /// Fills in the last /ByteRange placeholder and signs the bytes it covers with a
    /// detached CMS, written into the last /Contents placeholder.
    fn sign_last_placeholder(mut pdf: Vec<u8>, id: &Identity, cades: bool) -> Vec<u8> {
        let b = rfind(&pdf, b"/Contents <").expect("contents") + "/Contents ".len();
        let c = b + 2 * PLACEHOLDER_BYTES + 2;
        assert_eq!(pdf[c - 1], b'>');
        let d = pdf.len() - c;
        let range = format!("[0 {b:<10} {c:<10} {d:<10}]");
        assert_eq!(range.len(), BYTE_RANGE_PLACEHOLDER.len());
        let at = rfind(&pdf, BYTE_RANGE_PLACEHOLDER.as_bytes()).expect("byte range");
        pdf[at..at + range.len()].copy_from_slice(range.as_bytes());

        let covered = [&pdf[..b], &pdf[c..]].concat();
        let options = if cades {
            "-cades -outform DER"
        } else {
            "-outform DER"
        };
        let signature = cms_sign(id, &covered, options);
        let hex: String = signature.iter().map(|x| format!("{x:02X}")).collect();
        assert!(hex.len() <= 2 * PLACEHOLDER_BYTES, "placeholder too small");
        pdf[b + 1..b + 1 + hex.len()].copy_from_slice(hex.as_bytes());
        pdf
    }

    #[test]
    fn pades_pdf_verifies_and_reports_the_signer() {
        let pki = pki();
        let pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
        assert_eq!(sniff(&pdf), FileKind::Pdf);
        let report = verify_pades(&pdf, now()).expect("valid PAdES");
        assert_eq!(report.format, SignatureFormat::Pades);
        assert_eq!(report.nesting, 0);
        assert_eq!(report.content, None);
        assert_eq!(report.signers.len(), 1);
        assert_mario(&report.signers[0]);
        assert_eq!(verify(&pdf, now()), Ok(report));

        // Trailing line ends after %%EOF do not matter.
        let mut with_newline = pdf.clone();
        with_newline.extend(b"\r\n");
        assert!(verify(&with_newline, now()).is_ok());
    }

    /// A second signature added by an incremental update covers the whole file; the first
    /// covers the first revision. Both are verified.
    #[test]
    fn pades_with_two_signatures_reports_both() {
        let pki = pki();
        let mut pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
        let prev_xref = {
            let at = rfind(&pdf, b"startxref\n").expect("startxref") + "startxref\n".len();
            let digits = pdf[at..].iter().take_while(|x| x.is_ascii_digit()).count();
            String::from_utf8(pdf[at..at + digits].to_vec()).unwrap()
        };
        let offset = pdf.len();
        pdf.extend(
            format!(
                "7 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached \
                 /ByteRange {BYTE_RANGE_PLACEHOLDER} /Contents <{}> >>\nendobj\n",
                "0".repeat(2 * PLACEHOLDER_BYTES)
            )
            .bytes(),
        );
        let xref = pdf.len();
        pdf.extend(
            format!(
                "xref\n0 1\n0000000000 65535 f \n7 1\n{offset:010} 00000 n \n\
                 trailer\n<< /Size 8 /Root 1 0 R /Prev {prev_xref} >>\nstartxref\n{xref}\n%%EOF\n"
            )
            .bytes(),
        );
        let pdf = sign_last_placeholder(pdf, &pki.other_tin, true);
        let report = verify(&pdf, now()).expect("two valid signatures");
        let codes: Vec<_> = report
            .signers
            .iter()
            .map(|s| s.codice_fiscale.as_deref())
            .collect();
        assert_eq!(codes, [Some(CF), Some("BNCGLI85M41F205W")]);
        // A change in the first revision breaks both signatures.
        let mut tampered = pdf.clone();
        let at = find(&tampered, b"595 842").expect("media box") + 6;
        tampered[at] = b'3';
        assert_eq!(verify(&tampered, now()), Err(SignatureError::Invalid));
    }

    #[test]
    fn pades_with_adbe_pkcs7_detached_verifies() {
        let pki = pki();
        let pdf = signed_pdf(&pki.other_tin, "adbe.pkcs7.detached", false);
        let report = verify(&pdf, now()).expect("valid adbe.pkcs7.detached");
        assert_eq!(
            report.signers[0].codice_fiscale.as_deref(),
            Some("BNCGLI85M41F205W")
        );
    }

    #[test]
    fn pades_modified_in_the_signed_range_is_invalid() {
        let pki = pki();
        let pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
        // A byte in the first range (before /Contents)...
        let mut first = pdf.clone();
        let at = find(&first, b"595 842").expect("media box") + 6;
        first[at] = b'3';
        assert_eq!(verify_pades(&first, now()), Err(SignatureError::Invalid));
        // ...and one in the second range (after /Contents).
        let mut second = pdf.clone();
        let at = find(&second, b"/Patrocinio").expect("app name") + 1;
        second[at] = b'Q';
        assert_eq!(verify(&second, now()), Err(SignatureError::Invalid));
    }

    #[test]
    fn pades_with_content_appended_after_signing_is_invalid() {
        let pki = pki();
        let mut pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
        pdf.extend(b"7 0 obj\n<< /Type /Annot /Subtype /Text /Contents (aggiunto) >>\nendobj\n");
        assert_eq!(verify(&pdf, now()), Err(SignatureError::Invalid));
    }

    #[test]
    fn pades_with_expired_certificate_is_refused() {
        let pki = pki();
        let pdf = signed_pdf(&pki.short_lived, "ETSI.CAdES.detached", true);
        assert!(verify(&pdf, now()).is_ok());
        assert_eq!(
            verify(&pdf, now() + Duration::days(400)),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn pades_with_unsupported_or_broken_signature_dictionary_is_malformed() {
        let pki = pki();
        let pdf = signed_pdf(&pki.signer, "adbe.pkcs7.sha1", true);
        assert_eq!(verify(&pdf, now()), Err(SignatureError::Malformed));
        // A ByteRange whose gap is not the /Contents string.
        let mut pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
        let at = find(&pdf, b"/ByteRange [0 ").expect("byte range") + "/ByteRange [0 ".len();
        pdf[at] = b'9';
        assert_eq!(verify(&pdf, now()), Err(SignatureError::Malformed));
        // The placeholder left unsigned (all zeros).
        let unsigned = unsigned_pdf("ETSI.CAdES.detached");
        assert_eq!(verify(&unsigned, now()), Err(SignatureError::Malformed));
    }

    // ----- chain verification ------------------------------------------------------------

    #[test]
    fn chain_is_checked_against_the_given_ca() {
        let pki = pki();
        let der = p7m(&pki.signer, &sample_pdf());
        let report = verify_cades_with_ca(&der, now(), &pki.ca_pem).expect("chains to CA");
        assert_mario(&report.signers[0]);
        assert_eq!(
            verify_cades_with_ca(&der, now(), &pki.other_ca_pem),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            verify_cades_with_ca(&der, now(), b"not a certificate"),
            Err(SignatureError::Invalid)
        );
        // Both CAs in the bundle: accepted.
        let bundle = [&pki.other_ca_pem[..], &pki.ca_pem[..]].concat();
        assert!(verify_cades_with_ca(&der, now(), &bundle).is_ok());
        // Nested envelopes: every level is checked.
        let nested = p7m(&pki.signer, &der);
        assert!(verify_cades_with_ca(&nested, now(), &pki.ca_pem).is_ok());
        assert_eq!(
            verify_cades_with_ca(&nested, now(), &pki.other_ca_pem),
            Err(SignatureError::Invalid)
        );
        // Validity is still checked at `now` (and reported as Expired).
        let short = p7m(&pki.short_lived, b"ciao");
        assert_eq!(
            verify_cades_with_ca(&short, now() + Duration::days(400), &pki.ca_pem),
            Err(SignatureError::Expired)
        );
        // PAdES too.
        let pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
        assert!(verify_pades_with_ca(&pdf, now(), &pki.ca_pem).is_ok());
        assert_eq!(
            verify_pades_with_ca(&pdf, now(), &pki.other_ca_pem),
            Err(SignatureError::Invalid)
        );
    }

    /// Italian signing certificates usually have no S/MIME extended key usage: the chain
    /// check must accept any purpose (the `-purpose any` gotcha of the CLI).
    #[test]
    fn chain_check_accepts_a_certificate_without_smime_key_purpose() {
        let pki = pki();
        let dir = tempdir();
        let path = dir.path();
        std::fs::write(path.join("ca.pem"), &pki.ca_pem).unwrap();
        std::fs::write(path.join("ca.key"), &pki.ca_key).unwrap();
        std::fs::write(path.join("s.key"), &pki.signer.key).unwrap();
        std::fs::write(
            path.join("ext.cnf"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n\
             extendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        let subject = "/C=IT/CN=Mario Rossi/serialNumber=TINIT-RSSMRA80A01H501U";
        openssl(path, "req -new -key s.key -out x.csr -subj", &[subject]);
        let line = "x509 -req -in x.csr -CA ca.pem -CAkey ca.key -set_serial 77 -days 30 \
                    -extfile ext.cnf -out x.pem";
        openssl(path, line, &[]);
        // The default S/MIME purpose refuses this certificate...
        let line = "cms -sign -binary -nodetach -cades -md sha256 -in ca.pem -signer x.pem \
                    -inkey s.key -outform DER -out x.p7m";
        openssl(path, line, &[]);
        let refused = Command::new("openssl")
            .args([
                "cms", "-verify", "-binary", "-inform", "DER", "-in", "x.p7m",
            ])
            .args(["-CAfile", "ca.pem", "-out", "/dev/null"])
            .current_dir(path)
            .output()
            .expect("openssl");
        assert!(
            !refused.status.success(),
            "S/MIME purpose should refuse clientAuth"
        );
        // ...and this module accepts it.
        let der = std::fs::read(path.join("x.p7m")).unwrap();
        let report = verify_cades_with_ca(&der, now(), &pki.ca_pem).expect("any purpose");
        assert_eq!(report.signers[0].codice_fiscale.as_deref(), Some(CF));
    }

    /// An altered file is reported as altered even when a certificate is also expired.
    #[test]
    fn invalid_takes_precedence_over_expired_across_signatures() {
        let pki = pki();
        let later = now() + Duration::days(100);
        // Outer envelope by an expired certificate, inner envelope altered before it.
        let mut inner = p7m(&pki.signer, b"Istanza di ammissione");
        let at = find(&inner, b"Istanza").expect("content");
        inner[at] ^= 0x01;
        let outer = p7m(&pki.short_lived, &inner);
        assert_eq!(verify(&outer, later), Err(SignatureError::Invalid));
        // Untouched, the same pair is refused as expired.
        let outer = p7m(&pki.short_lived, &p7m(&pki.signer, b"ciao"));
        assert_eq!(verify(&outer, later), Err(SignatureError::Expired));
    }

    // ----- small pieces ------------------------------------------------------------------

    #[test]
    fn codice_fiscale_is_read_from_the_tin_semantics_identifier() {
        let cf = codice_fiscale_from_serial_number;
        assert_eq!(cf("TINIT-RSSMRA80A01H501U").as_deref(), Some(CF));
        assert_eq!(cf("tinit-rssmra80a01h501u").as_deref(), Some(CF));
        assert_eq!(cf(" TINIT-RSSMRA80A01H501U ").as_deref(), Some(CF));
        assert_eq!(cf("TINIT-01234567890").as_deref(), Some("01234567890"));
        assert_eq!(cf("VATIT-01234567890"), None);
        assert_eq!(cf("IT:RSSMRA80A01H501U"), None);
        assert_eq!(cf("RSSMRA80A01H501U"), None);
        assert_eq!(cf("TINIT-RSSMRA80A01H501"), None);
        assert_eq!(cf("TINIT-RSSMRA80A01H501U\0X"), None);
        assert_eq!(cf("TINIT-"), None);
        assert_eq!(cf("TIN"), None);
    }

    #[test]
    fn messages_are_in_italian() {
        assert_eq!(
            SignatureError::NotSigned.to_string(),
            "Il file non risulta firmato digitalmente."
        );
        assert_eq!(
            SignatureError::Invalid.to_string(),
            "La firma digitale del file non risulta valida: il file potrebbe essere stato \
             modificato dopo la firma."
        );
        assert_eq!(
            SignatureError::Expired.to_string(),
            "Il certificato di firma del file è scaduto o non ancora valido."
        );
        assert_eq!(
            SignatureError::Malformed.to_string(),
            "Il file firmato non è leggibile: ricaricare il documento firmato correttamente."
        );
        assert_eq!(
            SignatureError::TooDeep.to_string(),
            "Il file contiene troppe buste di firma annidate."
        );
    }

    #[test]
    fn report_debug_does_not_dump_the_content() {
        let report = SignatureReport {
            format: SignatureFormat::Cades,
            signers: Vec::new(),
            content: Some(vec![b'x'; 10_000]),
            nesting: 1,
        };
        let text = format!("{report:?}");
        assert!(text.contains("content_len: Some(10000)"), "{text}");
        assert!(text.len() < 200);
    }
}
