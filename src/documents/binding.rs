//! The file is the application (issue 12, point 5): what ties an uploaded "istanza firmata"
//! to the application it claims to be.
//!
//! - **Digitally signed.** The service remembers the SHA-256 of every application PDF it
//!   generates for a draft, with the fingerprint of the answers it was made from
//!   (`store::renditions`). A signed file is the application when what was signed is
//!   byte-identical to one of those PDFs: the content of a CAdES envelope, or, for PAdES, the
//!   original PDF that the signing software extended with an incremental update (a prefix of
//!   the file ending at one of its `%%EOF` markers, see [`signed_candidates`]). Byte identity,
//!   rather than a code printed in the file, because a code can be copied into any PDF.
//! - **Signed by hand.** The generated PDF carries, on every page, a QR code with the
//!   application's code ([`qr_svg`]); the scan (JPEG, PNG, or a PDF of page images) must show
//!   that code, read here with `rqrr` ([`read_codes`]).
//!
//! Everything here is pure (bytes in, answers out) and bounded: images over [`MAX_PIXELS`]
//! are refused, a PDF is checked for what its renderer would decode before it is rasterised
//! ([`within_bounds`]), at most [`MAX_PAGES`] pages and at most [`MAX_SIDE`] pixels a side. The
//! callers run it under the PDF engine's CPU bound.

use std::io::Cursor;

use sha2::{Digest, Sha256};

/// What the QR code says: our prefix ("patrocinio a spese dello Stato") and the application
/// code, 13 characters in QR alphanumeric mode: the smallest code (version 1, 21 modules) at
/// level Q, readable in a 200 dpi scan.
const QR_PREFIX: &str = "PSS:";
/// The most pages of a scanned PDF looked at.
pub const MAX_PAGES: usize = 12;
/// The longest side of a rasterised page, in pixels (about 200 dpi on A4).
const MAX_SIDE: f32 = 2400.0;
/// The largest image decoded (a 600 dpi A4 scan is about 35 million pixels).
const MAX_PIXELS: u64 = 40_000_000;
/// The most `%%EOF` markers considered in a signed PDF.
const MAX_REVISIONS: usize = 16;

/// The text of the QR code printed on the application with this code.
pub fn qr_payload(code: &str) -> String {
    format!("{QR_PREFIX}{code}")
}

/// The QR code (SVG, black modules on white with the standard quiet zone) printed on every
/// page of the application PDF.
pub fn qr_svg(code: &str) -> String {
    use qrcodegen::{QrCode, QrCodeEcc};
    // Alphanumeric text of 13 characters: always fits (version 1 at level Q).
    let qr = QrCode::encode_text(&qr_payload(code), QrCodeEcc::Quartile)
        .expect("an application code fits in a QR code");
    let border = 4;
    let side = qr.size() + 2 * border;
    let mut path = String::new();
    for y in 0..qr.size() {
        for x in 0..qr.size() {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {side} {side}" shape-rendering="crispEdges"><rect width="{side}" height="{side}" fill="#fff"/><path d="{path}" fill="#000"/></svg>"##
    )
}

/// SHA-256 (hex) of the bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The hashes (hex) of what may be the generated PDF inside a signed file: the CAdES content
/// when there is one, else every prefix of the PDF that ends at a `%%EOF` marker (with or
/// without the end-of-line after it) before the last one: the revisions the signature
/// extended. The whole file is never a candidate: it carries the signature itself.
pub fn signed_candidates(file: &[u8], cades_content: Option<&[u8]>) -> Vec<String> {
    if let Some(content) = cades_content {
        return vec![sha256_hex(content)];
    }
    let mut out = Vec::new();
    let ends: Vec<usize> = memchr_all(file, b"%%EOF")
        .take(MAX_REVISIONS)
        .map(|at| at + 5)
        .collect();
    for end in ends {
        for eol in [&b""[..], b"\n", b"\r\n", b"\r"] {
            let stop = end + eol.len();
            if stop < file.len() && file[end..stop] == *eol {
                out.push(sha256_hex(&file[..stop]));
            }
        }
    }
    out
}

fn memchr_all<'a>(haystack: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    haystack
        .windows(needle.len())
        .enumerate()
        .filter(move |(_, w)| *w == needle)
        .map(|(i, _)| i)
}

/// Why the codes of a scan could not be read. The Display text is shown to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScanError {
    #[error("l'immagine non è leggibile")]
    Unreadable,
    #[error(
        "la scansione è troppo grande da leggere (al massimo 40 milioni di pixel per immagine): ridurre la risoluzione"
    )]
    TooLarge,
    #[error(
        "il PDF usa una compressione che non leggiamo: caricare la scansione come JPEG o PNG, oppure un PDF a colori o in scala di grigi"
    )]
    Unsupported,
}

/// The application codes found in the QR codes of a scan (JPEG, PNG or a PDF of page images),
/// in the order found, without repetitions. QR codes that are not ours are ignored.
pub fn read_codes(bytes: &[u8]) -> Result<Vec<String>, ScanError> {
    let mut codes = Vec::new();
    if bytes.starts_with(b"%PDF") {
        for image in pdf_pages(bytes)? {
            push_codes(&image, &mut codes);
        }
    } else {
        push_codes(&decode_image(bytes)?, &mut codes);
    }
    Ok(codes)
}

fn push_codes(image: &image::GrayImage, codes: &mut Vec<String>) {
    let mut prepared = rqrr::PreparedImage::prepare(image.clone());
    for grid in prepared.detect_grids() {
        if let Ok((_, text)) = grid.decode()
            && let Some(code) = text.strip_prefix(QR_PREFIX)
            && !codes.iter().any(|c| c == code)
        {
            codes.push(code.to_owned());
        }
    }
}

fn decode_image(bytes: &[u8]) -> Result<image::GrayImage, ScanError> {
    let mut reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| ScanError::Unreadable)?;
    let (w, h) = reader
        .into_dimensions()
        .map_err(|_| ScanError::Unreadable)?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(ScanError::TooLarge);
    }
    reader = image::ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| ScanError::Unreadable)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(MAX_PIXELS * 4);
    reader.limits(limits);
    let image = reader.decode().map_err(|_| ScanError::Unreadable)?;
    Ok(image.to_luma8())
}

/// The pages of a scanned PDF, rasterised (greyscale). Whatever draws the code counts: a
/// scanner's PDF with an OCR text layer is still a scan. The generated PDF itself, unsigned,
/// is told apart by its hash (`store::renditions`), not here.
fn pdf_pages(bytes: &[u8]) -> Result<Vec<image::GrayImage>, ScanError> {
    use hayro::hayro_interpret::InterpreterSettings;
    use hayro::hayro_syntax::Pdf;
    use hayro::{RenderCache, RenderSettings};

    within_bounds(bytes)?;
    let pdf = Pdf::new(bytes.to_vec()).map_err(|_| ScanError::Unreadable)?;
    let cache = RenderCache::new();
    let settings = InterpreterSettings::default();
    let mut out = Vec::new();
    for page in pdf.pages().iter().take(MAX_PAGES) {
        let (w, h) = page.render_dimensions();
        if !(w > 1.0 && h > 1.0) {
            continue;
        }
        let scale = (MAX_SIDE / w.max(h)).min(200.0 / 72.0);
        let pixmap = hayro::render(
            page,
            &cache,
            &settings,
            &RenderSettings {
                x_scale: scale,
                y_scale: scale,
                bg_color: hayro::vello_cpu::color::palette::css::WHITE,
                ..RenderSettings::default()
            },
        );
        let (pw, ph) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
        let luma: Vec<u8> = pixmap
            .take_unpremultiplied()
            .into_iter()
            .map(|p| ((u16::from(p.r) * 3 + u16::from(p.g) * 6 + u16::from(p.b)) / 10) as u8)
            .collect();
        out.push(image::GrayImage::from_raw(pw, ph, luma).ok_or(ScanError::Unreadable)?);
    }
    if out.is_empty() {
        return Err(ScanError::Unreadable);
    }
    Ok(out)
}

/// The most one stream, and all streams together, may inflate to before rasterising.
const MAX_STREAM: u64 = 64 * 1024 * 1024;
const MAX_TOTAL: u64 = 256 * 1024 * 1024;

/// What the renderer would decode stays bounded: anyone may upload a scan, and the renderer
/// decompresses without limits. Every compressed stream inflates within [`MAX_STREAM`] (all
/// together within [`MAX_TOTAL`]), no image is over [`MAX_PIXELS`], inline images are not
/// compressed, and the filters whose output size cannot be bounded cheaply (LZW, run-length,
/// JBIG2, JPEG 2000) are refused. Scanners write JPEG, Flate or CCITT images.
fn within_bounds(bytes: &[u8]) -> Result<(), ScanError> {
    use super::active::{find, streams};
    use std::io::Read;

    let mut budget = MAX_TOTAL;
    for (start, body) in streams(bytes) {
        let dict = &bytes[bytes[..start]
            .windows(3)
            .rposition(|w| w == b"obj")
            .unwrap_or(0)..start];
        for filter in [&b"LZW"[..], b"RunLength", b"JBIG2", b"JPX"] {
            if find(dict, filter).is_some() {
                return Err(ScanError::Unsupported);
            }
        }
        if find(dict, b"/Image").is_some() {
            let number = |key: &[u8]| {
                let at = find(dict, key)? + key.len();
                let digits: String = dict[at..]
                    .iter()
                    .map(|b| *b as char)
                    .skip_while(|c| c.is_ascii_whitespace())
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse::<u64>().ok()
            };
            let (w, h) = (
                number(b"/Width").unwrap_or(0),
                number(b"/Height").unwrap_or(0),
            );
            if w.saturating_mul(h) > MAX_PIXELS {
                return Err(ScanError::TooLarge);
            }
        }
        if find(dict, b"Fl").is_none() {
            continue;
        }
        let cap = MAX_STREAM.min(budget);
        let mut out = Vec::new();
        let _ = flate2::read::ZlibDecoder::new(&bytes[body])
            .take(cap + 1)
            .read_to_end(&mut out);
        if out.len() as u64 > cap {
            return Err(ScanError::TooLarge);
        }
        budget -= out.len() as u64;
        if has_compressed_inline_image(&out) {
            return Err(ScanError::Unsupported);
        }
    }
    Ok(())
}

/// An inline image (`BI … ID`) in a content stream whose dictionary names a filter.
fn has_compressed_inline_image(content: &[u8]) -> bool {
    let token = |at: usize, word: &[u8]| {
        content[at..].starts_with(word)
            && (at == 0 || content[at - 1].is_ascii_whitespace())
            && content
                .get(at + word.len())
                .is_none_or(|b| b.is_ascii_whitespace() || *b == b'/')
    };
    let mut at = 0;
    while let Some(found) = content[at..].windows(2).position(|w| w == b"BI") {
        let begin = at + found;
        at = begin + 2;
        if !token(begin, b"BI") {
            continue;
        }
        let end = (at..content.len().saturating_sub(1))
            .find(|i| token(*i, b"ID"))
            .unwrap_or(content.len());
        let dict = &content[at..end];
        if dict.windows(3).any(|w| w == b"/F " || w == b"/F/")
            || dict.windows(7).any(|w| w == b"/Filter")
        {
            return true;
        }
        at = end;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The QR code as our SVG draws it (same modules, same quiet zone), as a PNG.
    fn qr_png(code: &str, module: u32) -> Vec<u8> {
        let qr = qrcodegen::QrCode::encode_text(&qr_payload(code), qrcodegen::QrCodeEcc::Quartile)
            .unwrap();
        let side = (qr.size() as u32 + 8) * module;
        let gray = image::GrayImage::from_fn(side, side, |x, y| {
            let (mx, my) = ((x / module) as i32 - 4, (y / module) as i32 - 4);
            image::Luma([if qr.get_module(mx, my) { 0 } else { 255 }])
        });
        let mut png = Vec::new();
        image::DynamicImage::ImageLuma8(gray)
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        png
    }

    #[test]
    fn the_code_is_read_back_from_a_picture_of_it() {
        assert_eq!(
            read_codes(&qr_png("7K3M-Q9TD", 6)).unwrap(),
            vec!["7K3M-Q9TD".to_string()]
        );
        let svg = qr_svg("7K3M-Q9TD");
        assert!(
            svg.starts_with("<svg") && svg.contains("viewBox=\"0 0 29 29\""),
            "{svg}"
        );
    }

    #[test]
    fn a_picture_without_our_code_has_no_codes_and_garbage_is_unreadable() {
        let blank = image::GrayImage::from_pixel(300, 300, image::Luma([255]));
        let mut png = Vec::new();
        image::DynamicImage::ImageLuma8(blank)
            .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        assert!(read_codes(&png).unwrap().is_empty());
        assert_eq!(read_codes(b"\x89PNG garbage"), Err(ScanError::Unreadable));
    }

    #[test]
    fn what_the_renderer_would_decode_is_bounded_first() {
        use std::io::Write;
        let deflate = |data: &[u8]| {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        };
        let pdf = |dict: &str, body: &[u8]| {
            [
                format!(
                    "%PDF-1.4\n4 0 obj\n<< {dict} /Length {} >>\nstream\n",
                    body.len()
                )
                .into_bytes(),
                body.to_vec(),
                b"\nendstream\nendobj\n%%EOF\n".to_vec(),
            ]
            .concat()
        };
        // A compressed bomb (100 MiB of zeros in about 100 KiB).
        let bomb = pdf("/Filter /FlateDecode", &deflate(&vec![0; 100 << 20]));
        assert_eq!(read_codes(&bomb), Err(ScanError::TooLarge));
        // An image that claims 3.6 billion pixels.
        let huge = pdf(
            "/Subtype /Image /Width 60000 /Height 60000 /Filter /DCTDecode",
            b"x",
        );
        assert_eq!(read_codes(&huge), Err(ScanError::TooLarge));
        // Filters we do not bound, and a compressed inline image.
        let lzw = pdf(
            "/Subtype /Image /Width 10 /Height 10 /Filter /LZWDecode",
            b"x",
        );
        assert_eq!(read_codes(&lzw), Err(ScanError::Unsupported));
        let inline = pdf(
            "/Filter /FlateDecode",
            &deflate(b"q 100 0 0 100 0 0 cm BI /W 10 /H 10 /CS /G /BPC 8 /F /Fl ID xxx EI Q"),
        );
        assert_eq!(read_codes(&inline), Err(ScanError::Unsupported));
        // A plain inline image is fine.
        assert!(!has_compressed_inline_image(
            b"BI /W 1 /H 1 /CS /G /BPC 8 ID x EI"
        ));
    }

    #[test]
    fn signed_pdf_candidates_are_the_revisions_before_the_signature() {
        let original = b"%PDF-1.7\n1 0 obj<<>>endobj\n%%EOF\n".to_vec();
        let mut signed = original.clone();
        signed.extend_from_slice(b"2 0 obj<</ByteRange[0 1 2 3]>>endobj\n%%EOF\n");
        let candidates = signed_candidates(&signed, None);
        assert!(candidates.contains(&sha256_hex(&original)));
        assert!(!candidates.contains(&sha256_hex(&signed)));
        assert_eq!(
            signed_candidates(b"x", Some(&original)),
            vec![sha256_hex(&original)]
        );
    }
}
