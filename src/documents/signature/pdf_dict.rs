//! A minimal reader of PDF signature dictionaries. It does not parse the whole PDF (no
//! xref, no object streams): PDF signers write the signature dictionary uncompressed,
//! because the ByteRange must point into the file.

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
    /// Span of the `/M` value (the signing time the signer's software wrote), if any.
    pub(super) m: Option<(usize, usize)>,
}

impl SignatureField {
    /// The `/M` date, when it is a literal string `(D:YYYYMMDDHHmmSSOHH'mm')` within the
    /// signed bytes (before `/Contents` or after it: both are covered by the signature).
    pub(super) fn signing_date(&self, pdf: &[u8]) -> Option<chrono::DateTime<chrono::Utc>> {
        let (start, end) = self.m?;
        let [_, b, c, _] = self.byte_range;
        if !(end <= b || start >= c) {
            return None;
        }
        let raw = pdf.get(start..end)?;
        let inner = raw.strip_prefix(b"(")?.strip_suffix(b")")?;
        parse_pdf_date(std::str::from_utf8(inner).ok()?)
    }

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
            let m = entries
                .iter()
                .find(|e| &pdf[e.key.0..e.key.1] == b"/M")
                .map(|e| e.value);
            return Some(SignatureField {
                byte_range,
                sub_filter,
                m,
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

pub(super) struct Entry {
    pub(super) key_pos: usize,
    /// Key span, slash included.
    pub(super) key: (usize, usize),
    /// Value span.
    pub(super) value: (usize, usize),
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

pub(super) fn skip_ws(pdf: &[u8], mut i: usize) -> usize {
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

pub(super) fn token_end(pdf: &[u8], mut i: usize) -> usize {
    while i < pdf.len() && !is_pdf_whitespace(pdf[i]) && !is_delimiter(pdf[i]) {
        i += 1;
    }
    i
}

/// Parses `<< ... >>` at `start`; returns its top-level entries and the end offset.
pub(super) fn parse_dict(pdf: &[u8], start: usize, depth: usize) -> Option<(Vec<Entry>, usize)> {
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
pub(super) fn parse_object(pdf: &[u8], i: usize, depth: usize) -> Option<usize> {
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

/// A PDF date (ISO 32000-1 §7.9.4): `D:YYYYMMDDHHmmSS` followed by `Z`, or by `+HH'mm'` /
/// `-HH'mm'`; missing trailing fields take their lowest value, a missing zone is UTC.
pub(super) fn parse_pdf_date(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{FixedOffset, NaiveDate, TimeZone};
    let text = text.strip_prefix("D:").unwrap_or(text);
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    if digits.len() < 4 || digits.len() > 14 || !digits.len().is_multiple_of(2) {
        return None;
    }
    let field = |from: usize, default: u32| -> Option<u32> {
        match digits.get(from..from + 2) {
            Some(v) => v.parse().ok(),
            None => Some(default),
        }
    };
    let year: i32 = digits[..4].parse().ok()?;
    let date = NaiveDate::from_ymd_opt(year, field(4, 1)?, field(6, 1)?)?;
    let local = date.and_hms_opt(field(8, 0)?, field(10, 0)?, field(12, 0)?)?;
    let zone = &text[digits.len()..];
    let offset_seconds = match zone.chars().next() {
        None | Some('Z') => 0,
        Some(sign @ ('+' | '-')) => {
            let rest: String = zone[1..].chars().filter(char::is_ascii_digit).collect();
            let hours: i32 = rest.get(..2)?.parse().ok()?;
            let minutes: i32 = rest.get(2..4).map_or(Some(0), |m| m.parse().ok())?;
            let seconds = hours * 3600 + minutes * 60;
            if sign == '-' { -seconds } else { seconds }
        }
        Some(_) => return None,
    };
    FixedOffset::east_opt(offset_seconds)?
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&chrono::Utc))
}
