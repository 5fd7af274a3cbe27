//! What a file is, by its content: PDF, JPEG, PNG or a CMS `SignedData` (`.p7m`) in DER,
//! base64 or PEM; and the decoding of a `.p7m` to DER/BER.

use std::borrow::Cow;

use base64::Engine as _;

use super::SignatureError::{self, Malformed};
use super::{FileKind, MAX_INPUT_BYTES, is_pdf_whitespace};

/// DER of the OID 1.2.840.113549.1.7.2 (signedData), tag and length included.
pub(super) const OID_SIGNED_DATA: &[u8] = &[
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
pub(super) fn is_signed_data_prefix(bytes: &[u8]) -> bool {
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
pub(super) fn decode_p7m(bytes: &[u8]) -> Result<Cow<'_, [u8]>, SignatureError> {
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

pub(super) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

pub(super) fn check_size(bytes: &[u8]) -> Result<(), SignatureError> {
    if bytes.len() > MAX_INPUT_BYTES {
        Err(Malformed)
    } else {
        Ok(())
    }
}
