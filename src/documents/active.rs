//! PDFs that do more than show pages: scripts, actions that launch programs or send data, files
//! hidden inside, or a file that is a PDF and something else at once (a ZIP, an HTML page).
//! Such files are refused at upload, whoever sends them: staff open what citizens upload.
//!
//! The check reads the names of the PDF's dictionaries (`/JavaScript`, `/Launch`, …), also
//! written with `#xx` escapes, both in the file as it is and inside its compressed streams
//! (where object streams hide dictionaries), with a bound on how much is decompressed.

use std::io::Read;

/// What makes a PDF unacceptable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Active {
    /// JavaScript or an XFA form (which carries scripts).
    Script,
    /// An action that starts a program, submits or imports data, or opens embedded media.
    Action,
    /// A file embedded in the PDF.
    EmbeddedFile,
    /// The file is also a ZIP archive or starts like an HTML page.
    Polyglot,
}

/// The names that mark active content, with what they are.
const NAMES: &[(&[u8], Active)] = &[
    (b"JS", Active::Script),
    (b"JavaScript", Active::Script),
    (b"XFA", Active::Script),
    (b"Launch", Active::Action),
    (b"SubmitForm", Active::Action),
    (b"ImportData", Active::Action),
    (b"GoToE", Active::Action),
    (b"RichMedia", Active::Action),
    (b"EmbeddedFile", Active::EmbeddedFile),
    (b"EmbeddedFiles", Active::EmbeddedFile),
];

/// The most one stream, and all streams together, may inflate to (a compressed bomb stops here).
const MAX_STREAM: u64 = 16 * 1024 * 1024;
const MAX_TOTAL: u64 = 64 * 1024 * 1024;

/// The first reason `bytes` (a PDF) is not a plain document, if any.
pub fn scan(bytes: &[u8]) -> Option<Active> {
    if is_zip(bytes) || starts_like_html(bytes) {
        return Some(Active::Polyglot);
    }
    // Dictionaries live outside streams, or inside object streams (compressed). Other streams
    // (pages, images, fonts) are not read: their bytes could spell a name by chance.
    let mut budget = MAX_TOTAL;
    let mut outside = 0;
    for (start, body) in streams(bytes) {
        if let Some(found) = scan_names(&bytes[outside..start]) {
            return Some(found);
        }
        outside = body.end;
        let dict = &bytes[bytes[..start]
            .windows(3)
            .rposition(|w| w == b"obj")
            .unwrap_or(0)..start];
        if budget == 0 || find(dict, b"ObjStm").is_none() {
            continue;
        }
        let mut out = Vec::new();
        // Not zlib, or damaged: whatever inflated before the error is still looked at.
        let _ = flate2::read::ZlibDecoder::new(&bytes[body])
            .take(MAX_STREAM.min(budget))
            .read_to_end(&mut out);
        budget = budget.saturating_sub(out.len() as u64);
        if let Some(found) = scan_names(&out) {
            return Some(found);
        }
    }
    scan_names(&bytes[outside..])
}

/// A ZIP's end-of-central-directory record whose comment runs exactly to the end of the file:
/// what ZIP readers look for, so the file opens as an archive.
fn is_zip(bytes: &[u8]) -> bool {
    const EOCD: &[u8] = b"PK\x05\x06";
    let from = bytes.len().saturating_sub(22 + 65_535);
    let tail = &bytes[from..];
    tail.windows(4).enumerate().any(|(i, w)| {
        let at = from + i;
        w == EOCD
            && at + 22 <= bytes.len()
            && at + 22 + u16::from_le_bytes([bytes[at + 20], bytes[at + 21]]) as usize
                == bytes.len()
    }) || bytes.starts_with(b"PK\x03\x04")
}

/// HTML where a browser sniffing the file would see it (its first kilobyte).
fn starts_like_html(bytes: &[u8]) -> bool {
    let head: Vec<u8> = bytes
        .iter()
        .take(1024)
        .map(u8::to_ascii_lowercase)
        .collect();
    [
        &b"<html"[..],
        b"<script",
        b"<body",
        b"<!doctype",
        b"<svg",
        b"<iframe",
        b"<head",
    ]
    .iter()
    .any(|tag| head.windows(tag.len()).any(|w| w == *tag))
}

/// The PDF name tokens in `bytes`, decoded, checked against [`NAMES`].
fn scan_names(bytes: &[u8]) -> Option<Active> {
    let mut i = 0;
    let mut name = Vec::with_capacity(32);
    while let Some(off) = bytes[i..].iter().position(|&b| b == b'/') {
        i += off + 1;
        name.clear();
        while i < bytes.len() && !is_delimiter(bytes[i]) && name.len() < 64 {
            if bytes[i] == b'#'
                && i + 2 < bytes.len()
                && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
            {
                name.push(h << 4 | l);
                i += 3;
                continue;
            }
            name.push(bytes[i]);
            i += 1;
        }
        if let Some((_, what)) = NAMES.iter().find(|(n, _)| *n == name.as_slice()) {
            return Some(*what);
        }
    }
    None
}

fn is_delimiter(b: u8) -> bool {
    matches!(
        b,
        b'\0'
            | b'\t'
            | b'\n'
            | b'\x0c'
            | b'\r'
            | b' '
            | b'('
            | b')'
            | b'<'
            | b'>'
            | b'['
            | b']'
            | b'{'
            | b'}'
            | b'/'
            | b'%'
    )
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Each `stream … endstream` of the file: where its keyword starts and the range of its data.
pub(crate) fn streams(bytes: &[u8]) -> impl Iterator<Item = (usize, std::ops::Range<usize>)> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let start = find(&bytes[at..], b"stream")? + at;
            let mut body = start + b"stream".len();
            at = body;
            // `endstream` also contains `stream`: skip it.
            if start >= 3 && &bytes[start - 3..start] == b"end" {
                continue;
            }
            match bytes.get(body..body + 2) {
                Some(b"\r\n") => body += 2,
                Some([b'\n', _]) | Some([b'\r', _]) => body += 1,
                _ => continue,
            }
            let end = find(&bytes[body..], b"endstream").map_or(bytes.len(), |e| body + e);
            at = end;
            return Some((start, body..end));
        }
    })
}

pub(crate) fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const PLAIN: &[u8] = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n";

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn a_plain_pdf_passes() {
        assert_eq!(scan(PLAIN), None);
    }

    #[test]
    fn scripts_and_actions_are_found_however_written() {
        let js = b"%PDF-1.4\n1 0 obj<</Type/Catalog/OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj\n%%EOF";
        assert_eq!(scan(js), Some(Active::Script));
        let escaped = b"%PDF-1.4\n1 0 obj<</OpenAction<</S/J#61vaScript>>>>endobj\n%%EOF";
        assert_eq!(scan(escaped), Some(Active::Script));
        let launch = b"%PDF-1.4\n1 0 obj<</OpenAction<</S /Launch /F (calc.exe)>>>>endobj\n%%EOF";
        assert_eq!(scan(launch), Some(Active::Action));
        let embedded = b"%PDF-1.7\n1 0 obj<</Names<</EmbeddedFiles 2 0 R>>>>endobj\n%%EOF";
        assert_eq!(scan(embedded), Some(Active::EmbeddedFile));
        // Names that merely start like one are not it.
        let fine = b"%PDF-1.4\n1 0 obj<</JSON 1/Launcher 2/Type/Catalog>>endobj\n%%EOF";
        assert_eq!(scan(fine), None);
    }

    #[test]
    fn a_script_hidden_in_a_compressed_object_stream_is_found() {
        let hidden = deflate(b"5 0 obj <</S/JavaScript/JS 6 0 R>> endobj");
        let mut pdf = b"%PDF-1.5\n4 0 obj<</Type/ObjStm/Filter/FlateDecode/Length ".to_vec();
        pdf.extend_from_slice(hidden.len().to_string().as_bytes());
        pdf.extend_from_slice(b">>stream\r\n");
        pdf.extend_from_slice(&hidden);
        pdf.extend_from_slice(b"\r\nendstream endobj\n%%EOF\n");
        assert_eq!(scan(&pdf), Some(Active::Script));
        // A compressed stream of plain page content is fine.
        let page = deflate(b"BT /F1 12 Tf 72 712 Td (Buongiorno) Tj ET");
        let mut pdf = b"%PDF-1.5\n4 0 obj<</Filter/FlateDecode>>stream\n".to_vec();
        pdf.extend_from_slice(&page);
        pdf.extend_from_slice(b"\nendstream endobj\n%%EOF\n");
        assert_eq!(scan(&pdf), None);
    }

    #[test]
    fn names_spelled_by_chance_inside_page_or_image_data_do_not_count() {
        let mut pdf = b"%PDF-1.5\n4 0 obj<</Subtype/Image/Filter/DCTDecode>>stream\n".to_vec();
        pdf.extend_from_slice(b"\xff\xd8 random /JS bytes /Launch \x00\xff");
        pdf.extend_from_slice(b"\nendstream endobj\n%%EOF\n");
        assert_eq!(scan(&pdf), None);
    }

    #[test]
    fn pdf_zip_and_pdf_html_polyglots_are_refused() {
        let mut zip = PLAIN.to_vec();
        // An empty ZIP's end record, its comment covering nothing more.
        zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
        assert_eq!(scan(&zip), Some(Active::Polyglot));
        let html = b"%PDF-1.4\n<html><body><script>alert(1)</script></body></html>\n%%EOF";
        assert_eq!(scan(html), Some(Active::Polyglot));
    }

    #[test]
    fn a_compressed_bomb_is_bounded() {
        let zeros = vec![0u8; 40 * 1024 * 1024];
        let bomb = deflate(&zeros);
        let mut pdf = b"%PDF-1.5\n4 0 obj<</Type/ObjStm/Filter/FlateDecode>>stream\n".to_vec();
        pdf.extend_from_slice(&bomb);
        pdf.extend_from_slice(b"\nendstream endobj\n%%EOF\n");
        assert_eq!(scan(&pdf), None);
    }
}
