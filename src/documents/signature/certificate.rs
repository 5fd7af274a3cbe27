//! What is read from a signer certificate: names, codice fiscale, validity, keyUsage.

use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::nid::Nid;
use openssl::x509::{X509KeyUsage, X509NameRef, X509Ref};

use super::SignatureError::{self, Malformed};
use super::{CertificateDer, Signer};

pub(super) fn signer_from_certificate(cert: &X509Ref) -> Result<Signer, SignatureError> {
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
        // Filled in by the caller, which has the DER as it appears in the signature.
        certificate: CertificateDer(Vec::new()),
        claimed_signing_time: None,
        timestamp: None,
    })
}

fn first_entry(name: &X509NameRef, nid: Nid) -> Option<String> {
    name.entries_by_nid(nid)
        .next()
        .and_then(|entry| entry.data().to_string().ok())
}

/// `TINIT-RSSMRA80A01H501U` → `RSSMRA80A01H501U` (ETSI EN 319 412-1 §5.1.3: TIN + IT); the
/// legacy form of certificates issued under CNIPA deliberation 45/2009, `IT:RSSMRA80A01H501U`,
/// is read too (natural persons' 16-character codes only). Case-insensitive; the check
/// character is the domain layer's job.
pub(super) fn codice_fiscale_from_serial_number(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let (code, lengths): (&str, &[usize]) = if raw.get(..6)?.eq_ignore_ascii_case("TINIT-") {
        (&raw[6..], &[11, 16])
    } else if raw.get(..3)?.eq_ignore_ascii_case("IT:") {
        (&raw[3..], &[16])
    } else {
        return None;
    };
    let code = code.trim().to_ascii_uppercase();
    let plausible =
        lengths.contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric());
    plausible.then_some(code)
}

pub(super) fn asn1_time_to_utc(time: &Asn1TimeRef) -> Result<DateTime<Utc>, SignatureError> {
    let epoch = Asn1Time::from_unix(0).map_err(|_| Malformed)?;
    let diff = epoch.diff(time).map_err(|_| Malformed)?;
    let seconds = i64::from(diff.days) * 86_400 + i64::from(diff.secs);
    DateTime::from_timestamp(seconds, 0).ok_or(Malformed)
}

/// RFC 4514 style: last RDN first, `,` between attributes.
pub(super) fn name_to_string(name: &X509NameRef) -> String {
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
