//! PAdES: the signatures embedded in a PDF.

use chrono::{DateTime, Utc};
use openssl::x509::store::X509Store;

use super::SignatureError::{self, Expired, Invalid, Malformed, NotSigned};
use super::cades::verify_signed_data;
use super::{
    FileKind, SignatureFormat, SignatureReport, SigningTimeSource, check_size, pdf_dict, sniff,
};

pub(super) fn verify_pades_impl(
    bytes: &[u8],
    now: DateTime<Utc>,
    store: Option<&X509Store>,
) -> Result<SignatureReport, SignatureError> {
    check_size(bytes)?;
    if sniff(bytes) != FileKind::Pdf {
        return Err(NotSigned);
    }
    let fields = pdf_dict::signature_fields(bytes)?;
    if fields.is_empty() {
        return Err(NotSigned);
    }
    let mut supported: Vec<&pdf_dict::SignatureField> = fields
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
    let mut certificates = Vec::new();
    let mut expired = false;
    for field in supported {
        let cms_der = field.cms_der(bytes)?;
        let signed = field.signed_bytes(bytes);
        let level = verify_signed_data(&cms_der, Some(&signed), now, store)?;
        // PAdES baseline signatures carry no signingTime attribute: the dictionary's /M.
        let pdf_date = field
            .signing_date(bytes)
            .map(|t| (t, SigningTimeSource::PdfSignatureDate));
        signers.extend(level.signers.into_iter().map(|mut signer| {
            if signer.claimed_signing_time.is_none() {
                signer.claimed_signing_time = pdf_date;
            }
            signer
        }));
        certificates.extend(level.certificates);
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
        certificates,
    })
}

pub(super) fn is_pdf_whitespace(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}
