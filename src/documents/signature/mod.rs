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
//! - the signer certificate is within its validity period at the `now` given by the caller,
//!   or, when the signature carries a signature timestamp (CAdES-T / PAdES-B-T, see
//!   [`timestamp`]) or is covered by a PDF document timestamp, at that timestamp's time;
//! - every such timestamp verifies (its CMS signature, its messageImprint over the signature
//!   value or the covered bytes): a broken one makes the file [`SignatureError::Invalid`].
//!
//! For PAdES, in addition: `/ByteRange` starts at 0, its gap is exactly the `/Contents`
//! hex string of the same signature dictionary, and what follows the last signature is
//! nothing, or only incremental updates that add validation material (DSS, VRI) and document
//! timestamps — the rule is documented in `pdf_update.rs`; any other change is refused.
//!
//! The CRLs and OCSP responses the file carries are collected in
//! [`SignatureReport::revocation`] ([`revocation`]); they are judged by [`qualified`].
//!
//! # Two layers: integrity here, qualification in [`qualified`]
//!
//! [`verify`], [`verify_cades`] and [`verify_pades`] do not build or check the certificate
//! chain (OpenSSL `CMS_NO_SIGNER_CERT_VERIFY`): they prove that the file is intact and was
//! signed with the key of the certificate it carries — anybody can make a self-signed
//! certificate with any name and any `TINIT-` code. Whether the signature is *qualified*
//! (chain to a `CA/QC` service of the EU trusted lists granted at the signing time,
//! QcCompliance, nonRepudiation) is decided by [`qualified`] against the trust store
//! ([`trusted_list`], [`xmldsig`], `crate::store::trust`); the report carries what it needs
//! (the signer certificate, the certificates in the file, the declared signing time).
//! [`verify_cades_with_ca`] and [`verify_pades_with_ca`] check the chain against a given CA
//! bundle instead.
//!
//! # What is NOT verified yet (read this before relying on the result)
//!
//! - No algorithm policy (SHA-1, RSA under 2048 bits) is enforced.
//! - Archive timestamps of CAdES-A, and timestamps over the validation data (CAdES-X), are not
//!   read; a PDF whose later revisions live in object streams cannot be compared and is
//!   refused if anything follows its last signature.
//! - **Codice fiscale**: the ETSI EN 319 412-1 form `TINIT-<CF>` of the subject
//!   `serialNumber`, and the legacy `IT:<CF>` (CNIPA delib. 45/2009), are recognised; the
//!   check character is not validated here (that is the domain layer's job, rule V6/V7).
//!   Other forms give `codice_fiscale: None` with the raw value in
//!   [`Signer::serial_number_raw`].
//!
//! # Limits
//!
//! Inputs over [`MAX_INPUT_BYTES`] are refused ([`SignatureError::Malformed`]; callers should
//! apply their own per-COA size limit first, rule V37). At most [`MAX_NESTING`] nested CAdES
//! envelopes are unwrapped ([`SignatureError::TooDeep`]). Base64/PEM that does not decode is
//! [`SignatureError::Malformed`].

//! # Layout
//!
//! - [`sniff`](sniff()) and the `.p7m` decoding: `sniff.rs`;
//! - CMS `SignedData` verification (CAdES, and the CMS inside a PAdES signature): `cades.rs`,
//!   over a BER reader (`ber.rs`) and a view of the parts OpenSSL does not expose
//!   (`cms_view.rs`);
//! - what is read from a signer certificate: `certificate.rs`;
//! - PAdES: `pades.rs`, over a reader of PDF signature dictionaries (`pdf_dict.rs`);
//! - trusted lists: [`trusted_list`] (ETSI TS 119 612 reader) and [`xmldsig`] (their XML
//!   signature, with xmlsec1);
//! - timestamps: [`timestamp`]; revocation data: [`revocation`]; what may follow a PAdES
//!   signature: `pdf_update.rs`;
//! - the validation policy and its result: [`qualified`].

mod ber;
mod cades;
mod certificate;
mod cms_view;
mod pades;
mod pdf_dict;
mod pdf_update;
pub mod qualified;
pub mod revocation;
mod sniff;
#[cfg(test)]
mod tests;
pub mod timestamp;
pub mod trusted_list;
pub mod xmldsig;

use std::fmt;

use chrono::{DateTime, Utc};

use cades::{trust_store, verify_cades_impl};
use pades::{is_pdf_whitespace, verify_pades_impl};
pub use revocation::RevocationData;
pub use sniff::sniff;
use sniff::{OID_SIGNED_DATA, check_size, find};
pub use timestamp::Timestamp;

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
/// Until [`qualified`] has assessed the certificate (see the module documentation) these
/// data are only as trustworthy as the certificate itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// Subject commonName.
    pub common_name: Option<String>,
    /// The codice fiscale from a subject serialNumber `TINIT-XXXXXXXXXXXXXXXX` (or the legacy
    /// `IT:XXXXXXXXXXXXXXXX`): uppercased, without the prefix. `None` for any other form.
    pub codice_fiscale: Option<String>,
    /// Subject serialNumber (2.5.4.5) as written in the certificate.
    pub serial_number_raw: Option<String>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// The certificate's keyUsage includes nonRepudiation (contentCommitment).
    pub non_repudiation: bool,
    /// Issuer distinguished name, RFC 4514 style (`CN=...,O=...,C=IT`).
    pub issuer: String,
    /// The signer certificate itself (for the qualification check, [`qualified`]).
    pub certificate: CertificateDer,
    /// The signing time the signature claims, with where it was read. Self-asserted.
    pub claimed_signing_time: Option<(DateTime<Utc>, SigningTimeSource)>,
    /// The signature timestamp (CAdES-T, PAdES-B-T), verified over the signature value; the
    /// earliest when there are several. Whether its TSA is trusted is for [`qualified`].
    pub timestamp: Option<Timestamp>,
}

/// The DER of a certificate. `Debug` shows its size only.
#[derive(Clone, PartialEq, Eq)]
pub struct CertificateDer(pub Vec<u8>);

impl fmt::Debug for CertificateDer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertificateDer({} bytes)", self.0.len())
    }
}

/// Where the signing time of a signature was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigningTimeSource {
    /// The CMS `signingTime` signed attribute (declared by the signer's software).
    SigningTimeAttribute,
    /// The `/M` entry of the PDF signature dictionary (declared by the signer's software).
    PdfSignatureDate,
    /// None in the file: the time the file reached us.
    Upload,
    /// A signature timestamp of a qualified TSA (RFC 3161): proven, not declared.
    Timestamp,
}

impl SigningTimeSource {
    /// Italian, for pages.
    pub fn label(self) -> &'static str {
        match self {
            Self::SigningTimeAttribute => "dichiarata nella firma (attributo signingTime)",
            Self::PdfSignatureDate => "dichiarata nella firma PDF (/M)",
            Self::Upload => "ora del caricamento (la firma non ne indica una)",
            Self::Timestamp => "marca temporale qualificata",
        }
    }
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
    /// Every certificate the signatures carry (intermediate CAs for chain building).
    pub certificates: Vec<CertificateDer>,
    /// The CRLs and OCSP responses the file carries (see [`revocation`]).
    pub revocation: RevocationData,
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
            .field("certificates", &self.certificates.len())
            .field("crls", &self.revocation.crls.len())
            .field("ocsp_responses", &self.revocation.ocsp_responses.len())
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

use SignatureError::NotSigned;

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
