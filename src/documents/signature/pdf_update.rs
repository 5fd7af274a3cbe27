//! PAdES after signing: what the incremental updates after the last signature may hold.
//!
//! # The rule
//!
//! A PAdES-B-LT / B-LTA file (ETSI EN 319 142-1 §5.4, §5.5) grows after its last signature by
//! incremental updates that add validation material (a document security store, `/DSS`, with
//! its `/VRI` entries and the certificates, CRLs and OCSP responses they point to) and document
//! timestamps (`/Type /DocTimeStamp`, `/SubFilter /ETSI.RFC3161`). None of that changes what the
//! document shows. So the bytes after the last signature are accepted only when they are such
//! updates, and every object they define is one of:
//!
//! - **new** (its number is at least the `/Size` of the signed revision's trailer):
//!   a `/Type /DSS` dictionary; a `/Type /VRI` dictionary, or one with only the keys a DSS or
//!   VRI entry has (`/Certs /CRLs /OCSPs /VRI /Cert /CRL /OCSP /TU /TS`), or only SHA-1/SHA-256
//!   hex names (the `/VRI` map); a document timestamp dictionary; a signature field or its
//!   invisible widget (`/FT /Sig`, no appearance `/AP`, no area); a data stream with no
//!   `/Type` and no `/Subtype` (certificates, CRLs, OCSP responses), or the update's own
//!   cross-reference stream (`/Type /XRef`);
//! - **redefined** (an object of the signed revision): only
//!   - the document catalog, identical but for `/DSS`, `/Extensions` and the `/Fields` of a
//!     direct `/AcroForm`,
//!   - an indirect `/AcroForm`, identical but for `/Fields` and `/SigFlags`,
//!   - a page, identical but for `/Annots`,
//!
//!   where `/Fields` and `/Annots` may only *gain* references, to new objects (so, by the
//!   first rule, to signature fields).
//!
//! The trailers must keep the signed revision's `/Root` and `/Info`, and no cross-reference
//! entry (table, or stream with no predictor or PNG "Up") may free an object of the signed
//! revision (that would delete it). Anything else — a changed
//! page, content stream, resource, form field value, a new annotation, an object stream
//! (`/Type /ObjStm`, whose contents we do not read), a catalog pointing elsewhere — makes the
//! signature [`SignatureError::Invalid`]. The comparison is on the objects' text with
//! whitespace collapsed, so a byte-for-byte rewrite of the catalog passes and any edit of a
//! value does not. Objects of the signed revision that sit in object streams cannot be
//! compared: redefining one is refused.
//!
//! Document timestamps are verified by the caller ([`super::pades`]) like signatures.
//!
//! Bounds: at most 2,000 objects after the last signature, of which at most 32 redefine
//! objects of the signed revision; DSS streams are inflated up to 8 MiB each.

use std::collections::HashMap;
use std::io::Read as _;

use super::SignatureError::{self, Invalid};
use super::pdf_dict::{Entry, parse_dict, parse_object, skip_ws, token_end};
use super::revocation::RevocationData;
use super::{CertificateDer, find};

/// Most objects read after the last signature.
const MAX_OBJECTS: usize = 2_000;
/// Largest decoded DSS stream (a CRL can be large, but not this large).
const MAX_STREAM_BYTES: u64 = 8 * 1024 * 1024;
/// Most certificates taken from a DSS.
const MAX_CERTIFICATES: usize = 64;
/// Most objects of the signed revision redefined (each is looked for in the signed bytes).
const MAX_REDEFINED: usize = 32;
/// Most entries of one cross-reference subsection.
const MAX_XREF_ENTRIES: u64 = 100_000;

/// What the updates after the last signature add.
#[derive(Debug, Default)]
pub(super) struct Appended {
    pub(super) revocation: RevocationData,
    pub(super) certificates: Vec<CertificateDer>,
}

struct Object {
    number: u64,
    /// The value (a dictionary, for all the objects we accept).
    value: (usize, usize),
    /// The stream data, if a stream.
    stream: Option<(usize, usize)>,
}

/// Checks `pdf[signed_end..]` against the rule of the module documentation.
pub(super) fn check_appended(pdf: &[u8], signed_end: usize) -> Result<Appended, SignatureError> {
    let tail_start = skip_ws(pdf, signed_end);
    if tail_start >= pdf.len() {
        return Ok(Appended::default());
    }
    let signed = &pdf[..signed_end];
    let previous = last_trailer(signed).ok_or(Invalid)?;
    let size = number_value(signed, &previous, b"/Size").ok_or(Invalid)?;
    let root = value_of(signed, &previous, b"/Root")
        .map(|v| normalized(&signed[v.0..v.1]))
        .ok_or(Invalid)?;
    let root_number = reference_number(&root).ok_or(Invalid)?;
    let info = value_of(signed, &previous, b"/Info").map(|v| normalized(&signed[v.0..v.1]));

    let objects = read_tail(pdf, tail_start, &root, info.as_deref(), size)?;
    let by_number: HashMap<u64, &Object> = objects.iter().map(|o| (o.number, o)).collect();

    // The old catalog's /AcroForm, if indirect, and the pages are found through the catalog.
    let old_catalog = old_object(signed, root_number).ok_or(Invalid)?;
    let old_acroform = entry(signed, &old_catalog, b"/AcroForm")
        .and_then(|v| reference_number(&normalized(&signed[v.0..v.1])));

    let mut appended = Appended::default();
    let mut redefined = 0usize;
    for object in &objects {
        let entries = dict_entries(pdf, object.value).ok_or(Invalid)?;
        if object.number >= size {
            check_new(pdf, object, &entries)?;
            if name_is(pdf, &entries, b"/Type", b"/DSS") {
                read_dss(pdf, &entries, &by_number, &mut appended)?;
            }
            continue;
        }
        redefined += 1;
        if redefined > MAX_REDEFINED {
            return Err(Invalid);
        }
        let old = old_object(signed, object.number).ok_or(Invalid)?;
        let old_entries = dict_entries(signed, old).ok_or(Invalid)?;
        if object.number == root_number {
            same_except(
                (signed, &old_entries),
                (pdf, &entries),
                &[b"/DSS", b"/Extensions", b"/AcroForm"],
            )?;
            let old_form = entry_value(signed, &old_entries, b"/AcroForm");
            let new_form = entry_value(pdf, &entries, b"/AcroForm");
            match (old_form, new_form) {
                (None, None) => {}
                (Some(old), Some(new)) if normalized(old) == normalized(new) => {}
                (Some(old), Some(new)) if old.starts_with(b"<<") && new.starts_with(b"<<") => {
                    let old_dict = dict_entries_of(old).ok_or(Invalid)?;
                    let new_dict = dict_entries_of(new).ok_or(Invalid)?;
                    same_except((old, &old_dict), (new, &new_dict), &[b"/Fields"])?;
                    only_gains(
                        entry_value(old, &old_dict, b"/Fields"),
                        entry_value(new, &new_dict, b"/Fields"),
                        size,
                    )?;
                }
                _ => return Err(Invalid),
            }
        } else if Some(object.number) == old_acroform {
            same_except(
                (signed, &old_entries),
                (pdf, &entries),
                &[b"/Fields", b"/SigFlags"],
            )?;
            only_gains(
                entry_value(signed, &old_entries, b"/Fields"),
                entry_value(pdf, &entries, b"/Fields"),
                size,
            )?;
        } else if name_is(signed, &old_entries, b"/Type", b"/Page") && object.stream.is_none() {
            same_except((signed, &old_entries), (pdf, &entries), &[b"/Annots"])?;
            only_gains(
                entry_value(signed, &old_entries, b"/Annots"),
                entry_value(pdf, &entries, b"/Annots"),
                size,
            )?;
        } else {
            return Err(Invalid);
        }
    }
    Ok(appended)
}

/// The kinds of new object the rule admits.
fn check_new(pdf: &[u8], object: &Object, entries: &[Entry]) -> Result<(), SignatureError> {
    const DSS_KEYS: &[&[u8]] = &[
        b"/Type", b"/Certs", b"/CRLs", b"/OCSPs", b"/VRI", b"/Cert", b"/CRL", b"/OCSP", b"/TU",
        b"/TS",
    ];
    let keys: Vec<&[u8]> = entries.iter().map(|e| &pdf[e.key.0..e.key.1]).collect();
    let ty = entry_value(pdf, entries, b"/Type");
    if object.stream.is_some() {
        let data_stream = ty.is_none() && entry_value(pdf, entries, b"/Subtype").is_none();
        return if data_stream || ty == Some(b"/XRef") {
            Ok(())
        } else {
            Err(Invalid)
        };
    }
    let allowed = match ty {
        Some(b"/DSS" | b"/VRI") => keys.iter().all(|k| DSS_KEYS.contains(k)),
        Some(b"/DocTimeStamp") => true,
        Some(b"/Sig") => entry_value(pdf, entries, b"/SubFilter") == Some(b"/ETSI.RFC3161"),
        Some(b"/Annot") | None if entry_value(pdf, entries, b"/FT") == Some(b"/Sig") => {
            let widget = matches!(
                entry_value(pdf, entries, b"/Subtype"),
                None | Some(b"/Widget")
            );
            widget && !keys.contains(&&b"/AP"[..]) && no_area(entry_value(pdf, entries, b"/Rect"))
        }
        None => {
            keys.iter().all(|k| DSS_KEYS.contains(k))
                || keys.iter().all(|k| {
                    let name = &k[1..];
                    matches!(name.len(), 40 | 64) && name.iter().all(u8::is_ascii_hexdigit)
                })
        }
        Some(_) => false,
    };
    if allowed { Ok(()) } else { Err(Invalid) }
}

/// A `/Rect` absent or of zero width or height.
fn no_area(rect: Option<&[u8]>) -> bool {
    let Some(rect) = rect else {
        return true;
    };
    let text = String::from_utf8_lossy(rect);
    let numbers: Vec<f64> = text
        .trim_matches(|c| c == '[' || c == ']')
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    matches!(numbers[..], [x1, y1, x2, y2] if x1 == x2 || y1 == y2)
}

/// The DSS's /Certs, /CRLs and /OCSPs streams, from the objects of the updates.
fn read_dss(
    pdf: &[u8],
    entries: &[Entry],
    objects: &HashMap<u64, &Object>,
    appended: &mut Appended,
) -> Result<(), SignatureError> {
    for (key, kind) in [(&b"/Certs"[..], 0), (b"/CRLs", 1), (b"/OCSPs", 2)] {
        let Some(array) = entry_value(pdf, entries, key) else {
            continue;
        };
        for number in references(array) {
            let Some(data) = objects.get(&number).and_then(|o| stream_data(pdf, o)) else {
                continue;
            };
            match kind {
                0 if appended.certificates.len() < MAX_CERTIFICATES => {
                    appended.certificates.push(CertificateDer(data));
                }
                0 => {}
                1 => appended.revocation.add_crl(&data)?,
                _ => appended.revocation.add_ocsp(&data)?,
            }
        }
    }
    Ok(())
}

/// A stream's data, inflated if `/FlateDecode`; `None` for other filters or when too large.
fn stream_data(pdf: &[u8], object: &Object) -> Option<Vec<u8>> {
    let (start, end) = object.stream?;
    let raw = &pdf[start..end];
    let entries = dict_entries(pdf, object.value)?;
    match entry_value(pdf, &entries, b"/Filter") {
        None => Some(raw.to_vec()),
        Some(b"/FlateDecode") => {
            let mut out = Vec::new();
            flate2::read::ZlibDecoder::new(raw)
                .take(MAX_STREAM_BYTES + 1)
                .read_to_end(&mut out)
                .ok()?;
            (out.len() as u64 <= MAX_STREAM_BYTES).then_some(out)
        }
        Some(_) => None,
    }
}

/// `/Fields` or `/Annots`: the new array is the old one followed by references to new objects.
fn only_gains(old: Option<&[u8]>, new: Option<&[u8]>, size: u64) -> Result<(), SignatureError> {
    let (old_refs, new_refs) = match (old, new) {
        (None, None) => return Ok(()),
        (Some(old), Some(new)) if normalized(old) == normalized(new) => return Ok(()),
        (old, Some(new)) if new.starts_with(b"[") && old.is_none_or(|o| o.starts_with(b"[")) => {
            (old.map(array_items).unwrap_or_default(), array_items(new))
        }
        _ => return Err(Invalid),
    };
    if new_refs.len() < old_refs.len() || new_refs[..old_refs.len()] != old_refs[..] {
        return Err(Invalid);
    }
    for added in &new_refs[old_refs.len()..] {
        match reference_number(added) {
            Some(n) if n >= size => {}
            _ => return Err(Invalid),
        }
    }
    Ok(())
}

/// The items of an array, each normalized (`[4 0 R 5 0 R]` → `4 0 R`, `5 0 R`).
fn array_items(array: &[u8]) -> Vec<Vec<u8>> {
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        i = skip_ws(array, i);
        if i >= array.len() || array[i] == b']' {
            return items;
        }
        let Some(end) = parse_object(array, i, 1) else {
            return items;
        };
        items.push(normalized(&array[i..end]));
        i = end;
    }
}

fn references(array: &[u8]) -> Vec<u64> {
    if !array.starts_with(b"[") {
        return Vec::new();
    }
    array_items(array)
        .iter()
        .filter_map(|r| reference_number(r))
        .collect()
}

/// `12 0 R` → 12.
fn reference_number(value: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(value).ok()?;
    let mut parts = text.split_whitespace();
    let number = parts.next()?.parse().ok()?;
    parts.next()?.parse::<u32>().ok()?;
    (parts.next()? == "R" && parts.next().is_none()).then_some(number)
}

/// The two dictionaries have the same entries, apart from the keys in `except`.
fn same_except(
    (old_pdf, old): (&[u8], &[Entry]),
    (new_pdf, new): (&[u8], &[Entry]),
    except: &[&[u8]],
) -> Result<(), SignatureError> {
    let collect = |pdf: &[u8], entries: &[Entry]| {
        let mut v: Vec<(Vec<u8>, Vec<u8>)> = entries
            .iter()
            .filter(|e| !except.contains(&&pdf[e.key.0..e.key.1]))
            .map(|e| {
                (
                    pdf[e.key.0..e.key.1].to_vec(),
                    normalized(&pdf[e.value.0..e.value.1]),
                )
            })
            .collect();
        v.sort();
        v
    };
    if collect(old_pdf, old) == collect(new_pdf, new) {
        Ok(())
    } else {
        Err(Invalid)
    }
}

/// Whitespace runs collapsed to one space, and none next to delimiters.
fn normalized(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut pending_space = false;
    for &b in value {
        if super::is_pdf_whitespace(b) {
            pending_space = true;
            continue;
        }
        let delimiter = matches!(b, b'[' | b']' | b'<' | b'>' | b'/' | b'(' | b')');
        if pending_space
            && !out.is_empty()
            && !delimiter
            && !matches!(out.last(), Some(b'[' | b'<' | b'('))
        {
            out.push(b' ');
        }
        pending_space = false;
        out.push(b);
    }
    out
}

fn dict_entries(pdf: &[u8], value: (usize, usize)) -> Option<Vec<Entry>> {
    parse_dict(pdf, value.0, 0).map(|(entries, _)| entries)
}

fn dict_entries_of(dict: &[u8]) -> Option<Vec<Entry>> {
    parse_dict(dict, 0, 0).map(|(entries, _)| entries)
}

fn entry_value<'a>(pdf: &'a [u8], entries: &[Entry], key: &[u8]) -> Option<&'a [u8]> {
    entries
        .iter()
        .find(|e| &pdf[e.key.0..e.key.1] == key)
        .map(|e| &pdf[e.value.0..e.value.1])
}

fn entry(pdf: &[u8], dict: &(usize, usize), key: &[u8]) -> Option<(usize, usize)> {
    dict_entries(pdf, *dict)?
        .into_iter()
        .find(|e| &pdf[e.key.0..e.key.1] == key)
        .map(|e| e.value)
}

fn name_is(pdf: &[u8], entries: &[Entry], key: &[u8], name: &[u8]) -> bool {
    entry_value(pdf, entries, key) == Some(name)
}

/// The span of the trailer dictionary (or cross-reference stream dictionary) that the last
/// `startxref` of `signed` points to.
fn last_trailer(signed: &[u8]) -> Option<(usize, usize)> {
    let at = signed
        .windows(b"startxref".len())
        .rposition(|w| w == b"startxref")?;
    let i = skip_ws(signed, at + b"startxref".len());
    let end = token_end(signed, i);
    let offset: usize = std::str::from_utf8(&signed[i..end]).ok()?.parse().ok()?;
    let section = signed.get(offset..)?;
    if section.starts_with(b"xref") {
        let t = offset + find(section, b"trailer")? + b"trailer".len();
        let start = skip_ws(signed, t);
        let (_, end) = parse_dict(signed, start, 0)?;
        Some((start, end))
    } else {
        // `N G obj << /Type /XRef ... >> stream`.
        let start = offset + find(section.get(..64.min(section.len()))?, b"<<")?;
        let (_, end) = parse_dict(signed, start, 0)?;
        Some((start, end))
    }
}

fn value_of(pdf: &[u8], dict: &(usize, usize), key: &[u8]) -> Option<(usize, usize)> {
    entry(pdf, dict, key)
}

fn number_value(pdf: &[u8], dict: &(usize, usize), key: &[u8]) -> Option<u64> {
    let (s, e) = value_of(pdf, dict, key)?;
    std::str::from_utf8(&pdf[s..e]).ok()?.parse().ok()
}

/// The last definition of object `number` in `signed` (its value's span), when it is written
/// as `number G obj` (not inside an object stream).
fn old_object(signed: &[u8], number: u64) -> Option<(usize, usize)> {
    let needle = format!("{number} ");
    let mut end = signed.len();
    while let Some(at) = signed[..end]
        .windows(needle.len())
        .rposition(|w| w == needle.as_bytes())
    {
        end = at;
        if at > 0 && !super::is_pdf_whitespace(signed[at - 1]) {
            continue;
        }
        let g = skip_ws(signed, at + needle.len());
        let g_end = token_end(signed, g);
        if g_end == g || !signed[g..g_end].iter().all(u8::is_ascii_digit) {
            continue;
        }
        let o = skip_ws(signed, g_end);
        if signed.get(o..o + 3) != Some(b"obj") || token_end(signed, o) != o + 3 {
            continue;
        }
        let start = skip_ws(signed, o + 3);
        let value_end = parse_object(signed, start, 0)?;
        return Some((start, value_end));
    }
    None
}

/// Reads the updates: objects, xref tables, trailers, `startxref`.
fn read_tail(
    pdf: &[u8],
    mut i: usize,
    root: &[u8],
    info: Option<&[u8]>,
    size: u64,
) -> Result<Vec<Object>, SignatureError> {
    let mut objects = Vec::new();
    loop {
        i = skip_ws(pdf, i);
        if i >= pdf.len() {
            return Ok(objects);
        }
        let word_end = token_end(pdf, i);
        match &pdf[i..word_end] {
            b"xref" => {
                // Subsections: `start count`, then `count` entries `offset generation n|f`.
                // An entry that frees an object of the signed revision would delete it.
                i = word_end;
                while let Some((start, after_start)) = number_at(pdf, i) {
                    let (count, mut j) = number_at(pdf, after_start).ok_or(Invalid)?;
                    if count > MAX_XREF_ENTRIES {
                        return Err(Invalid);
                    }
                    for k in 0..count {
                        let (_, a) = number_at(pdf, j).ok_or(Invalid)?;
                        let (_, b) = number_at(pdf, a).ok_or(Invalid)?;
                        let kind = skip_ws(pdf, b);
                        let kind_end = token_end(pdf, kind);
                        match &pdf[kind..kind_end] {
                            b"n" => {}
                            b"f" if frees_signed(start + k, size) => return Err(Invalid),
                            b"f" => {}
                            _ => return Err(Invalid),
                        }
                        j = kind_end;
                    }
                    i = j;
                }
            }
            b"trailer" => {
                let start = skip_ws(pdf, word_end);
                let (entries, end) = parse_dict(pdf, start, 0).ok_or(Invalid)?;
                check_trailer(pdf, &entries, root, info)?;
                i = end;
            }
            b"startxref" => {
                let j = skip_ws(pdf, word_end);
                let end = token_end(pdf, j);
                if end == j || !pdf[j..end].iter().all(u8::is_ascii_digit) {
                    return Err(Invalid);
                }
                i = end;
            }
            number if !number.is_empty() && number.iter().all(u8::is_ascii_digit) => {
                if objects.len() >= MAX_OBJECTS {
                    return Err(Invalid);
                }
                let (object, end) = read_object(pdf, i)?;
                let entries = dict_entries(pdf, object.value).ok_or(Invalid)?;
                if name_is(pdf, &entries, b"/Type", b"/XRef") {
                    check_trailer(pdf, &entries, root, info)?;
                    check_xref_stream(pdf, &object, &entries, size)?;
                }
                objects.push(object);
                i = end;
            }
            _ => return Err(Invalid),
        }
    }
}

/// Object 0 heads the free list; any other object of the signed revision must stay.
fn frees_signed(number: u64, size: u64) -> bool {
    number != 0 && number < size
}

/// A non-negative integer token at `i` (after whitespace) and the offset after it.
fn number_at(pdf: &[u8], i: usize) -> Option<(u64, usize)> {
    let j = skip_ws(pdf, i);
    let end = token_end(pdf, j);
    if end == j || end - j > 18 || !pdf[j..end].iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((std::str::from_utf8(&pdf[j..end]).ok()?.parse().ok()?, end))
}

/// The entries of a cross-reference stream (`/W`, `/Index`, Flate with no predictor or the PNG
/// "Up" one): none may free an object of the signed revision.
fn check_xref_stream(
    pdf: &[u8],
    object: &Object,
    entries: &[Entry],
    size: u64,
) -> Result<(), SignatureError> {
    let numbers = |key: &[u8]| -> Option<Vec<u64>> {
        let v = entry_value(pdf, entries, key)?;
        let text = std::str::from_utf8(v.strip_prefix(b"[")?.strip_suffix(b"]")?).ok()?;
        text.split_whitespace().map(|n| n.parse().ok()).collect()
    };
    let widths = numbers(b"/W").ok_or(Invalid)?;
    let [w0, w1, w2] = widths[..] else {
        return Err(Invalid);
    };
    let row = usize::try_from(w0 + w1 + w2).map_err(|_| Invalid)?;
    if row == 0 || row > 32 {
        return Err(Invalid);
    }
    let xref_size: u64 = entry_value(pdf, entries, b"/Size")
        .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
        .ok_or(Invalid)?;
    let index = numbers(b"/Index").unwrap_or_else(|| vec![0, xref_size]);
    if index.len() % 2 != 0 {
        return Err(Invalid);
    }
    let mut data = stream_data(pdf, object).ok_or(Invalid)?;
    if let Some(parms) = entry_value(pdf, entries, b"/DecodeParms") {
        let parms_entries = dict_entries_of(parms).ok_or(Invalid)?;
        let integer = |key: &[u8]| -> Option<u64> {
            std::str::from_utf8(entry_value(parms, &parms_entries, key)?)
                .ok()?
                .parse()
                .ok()
        };
        let predictor = integer(b"/Predictor").unwrap_or(1);
        if predictor >= 10 {
            if integer(b"/Columns").unwrap_or(1) != row as u64 {
                return Err(Invalid);
            }
            data = unpredict_up(&data, row)?;
        } else if predictor != 1 {
            return Err(Invalid);
        }
    }
    let mut rows = data.chunks_exact(row);
    for pair in index.chunks(2) {
        for k in 0..pair[1] {
            let r = rows.next().ok_or(Invalid)?;
            // Type 0 is a free entry (a missing type field means type 1).
            let kind = if w0 == 0 { 1 } else { field(&r[..w0 as usize]) };
            if kind == 0 && frees_signed(pair[0] + k, size) {
                return Err(Invalid);
            }
        }
    }
    Ok(())
}

fn field(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0, |acc, b| (acc << 8) | u64::from(*b))
}

/// Undoes the PNG predictors "None" (0) and "Up" (2), one filter byte per row of `columns`.
fn unpredict_up(data: &[u8], columns: usize) -> Result<Vec<u8>, SignatureError> {
    let mut out = Vec::with_capacity(data.len());
    let mut previous = vec![0u8; columns];
    for row in data.chunks(columns + 1) {
        let (&filter, bytes) = row.split_first().ok_or(Invalid)?;
        if bytes.len() != columns {
            return Err(Invalid);
        }
        let current: Vec<u8> = match filter {
            0 => bytes.to_vec(),
            2 => bytes
                .iter()
                .zip(&previous)
                .map(|(b, p)| b.wrapping_add(*p))
                .collect(),
            _ => return Err(Invalid),
        };
        out.extend_from_slice(&current);
        previous = current;
    }
    Ok(out)
}

fn check_trailer(
    pdf: &[u8],
    entries: &[Entry],
    root: &[u8],
    info: Option<&[u8]>,
) -> Result<(), SignatureError> {
    let same_root = entry_value(pdf, entries, b"/Root")
        .map(normalized)
        .as_deref()
        == Some(root);
    let new_info = entry_value(pdf, entries, b"/Info").map(normalized);
    let same_info = new_info.is_none() || new_info.as_deref() == info;
    if same_root && same_info {
        Ok(())
    } else {
        Err(Invalid)
    }
}

/// `N G obj <value> [stream ... endstream] endobj` at `i`; the value must be a dictionary.
fn read_object(pdf: &[u8], i: usize) -> Result<(Object, usize), SignatureError> {
    let number_end = token_end(pdf, i);
    let number: u64 = std::str::from_utf8(&pdf[i..number_end])
        .ok()
        .and_then(|n| n.parse().ok())
        .ok_or(Invalid)?;
    let g = skip_ws(pdf, number_end);
    let g_end = token_end(pdf, g);
    if g_end == g || !pdf[g..g_end].iter().all(u8::is_ascii_digit) {
        return Err(Invalid);
    }
    let o = skip_ws(pdf, g_end);
    if pdf.get(o..o + 3) != Some(b"obj") {
        return Err(Invalid);
    }
    let start = skip_ws(pdf, o + 3);
    let (entries, value_end) = parse_dict(pdf, start, 0).ok_or(Invalid)?;
    let mut j = skip_ws(pdf, value_end);
    let mut stream = None;
    if pdf.get(j..j + 6) == Some(b"stream") {
        let mut data = j + 6;
        if pdf.get(data) == Some(&b'\r') {
            data += 1;
        }
        if pdf.get(data) == Some(&b'\n') {
            data += 1;
        }
        let length: usize = entry_value(pdf, &entries, b"/Length")
            .and_then(|v| std::str::from_utf8(v).ok()?.parse().ok())
            .ok_or(Invalid)?;
        let data_end = data.checked_add(length).ok_or(Invalid)?;
        if data_end > pdf.len() {
            return Err(Invalid);
        }
        let after = skip_ws(pdf, data_end);
        if pdf.get(after..after + 9) != Some(b"endstream") {
            return Err(Invalid);
        }
        stream = Some((data, data_end));
        j = skip_ws(pdf, after + 9);
    }
    if pdf.get(j..j + 6) != Some(b"endobj") {
        return Err(Invalid);
    }
    Ok((
        Object {
            number,
            value: (start, value_end),
            stream,
        },
        j + 6,
    ))
}
