//! PAdES: the signatures embedded in a PDF.

use chrono::{DateTime, Utc};
use openssl::x509::store::X509Store;

use super::SignatureError::{self, Expired, Malformed, NotSigned};
use super::cades::verify_signed_data;
use super::{
    FileKind, SignatureFormat, SignatureReport, SigningTimeSource, check_size, pdf_dict,
    pdf_update, sniff, timestamp,
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

    // What follows the last signature may only be validation material and document
    // timestamps (PAdES-B-LT/B-LTA): the rule is in `pdf_update`.
    let covered_end = supported.last().map_or(0, |field| field.covered_end());
    let appended = if bytes[covered_end..].iter().all(|b| is_pdf_whitespace(*b)) {
        pdf_update::Appended::default()
    } else {
        pdf_update::check_appended(bytes, covered_end)?
    };
    // Document timestamps, each verified over the bytes it covers.
    let mut document_timestamps = Vec::new();
    for field in fields
        .iter()
        .filter(|f| f.sub_filter.as_deref() == Some(b"/ETSI.RFC3161"))
    {
        let token = field.cms_der(bytes)?;
        let ts = timestamp::verify_token(&token, &field.signed_bytes(bytes))?;
        document_timestamps.push((field.byte_range[1], ts));
    }

    let mut signers = Vec::new();
    let mut certificates = appended.certificates;
    let mut revocation = appended.revocation;
    let mut expired = false;
    for field in supported {
        let cms_der = field.cms_der(bytes)?;
        let signed = field.signed_bytes(bytes);
        // A document timestamp whose range covers this signature proves it existed then.
        let covering = document_timestamps
            .iter()
            .filter(|(gap_start, _)| *gap_start > field.byte_range[2])
            .map(|(_, ts)| ts)
            .min_by_key(|ts| ts.time)
            .cloned();
        let at = covering.as_ref().map_or(now, |ts| ts.time.min(now));
        let mut level = verify_signed_data(&cms_der, Some(&signed), at, store)?;
        for signer in &mut level.signers {
            if signer.timestamp.is_none() {
                signer.timestamp = covering.clone();
            }
        }
        revocation.extend(level.revocation)?;
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
        revocation,
    })
}

pub(super) fn is_pdf_whitespace(b: u8) -> bool {
    matches!(b, 0 | b'\t' | b'\n' | 0x0C | b'\r' | b' ')
}
