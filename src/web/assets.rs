//! Static files from `assets/`, embedded in the binary and served under a versioned path
//! (`/assets/<hash of every file>/<path>`), so they can be cached for a year: a new build has a
//! new hash. Relative URLs inside CSS (fonts) keep working because the whole tree moves together.
//!
//! build.rs prepares the table: text files come with their brotli and gzip forms, made once at
//! build time (quality 11 and level 9: too slow to make while a person waits, and nothing to
//! redo on each instance or restart). A request gets the smallest form its `Accept-Encoding`
//! allows, with `Vary: Accept-Encoding` and an ETag for that form; `If-None-Match` gets 304.

use axum::{
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use super::error::AppError;

/// One file of `assets/` and its precompressed forms.
pub struct Asset {
    pub path: &'static str,
    pub mime: &'static str,
    /// Hex of the first 16 bytes of the SHA-256 of the file as served.
    pub etag: &'static str,
    pub identity: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub br: Option<&'static [u8]>,
}

// `FILES` (sorted by path) and `VERSION`, written by build.rs.
include!(concat!(env!("OUT_DIR"), "/assets.rs"));

pub const ROUTE: &str = "/assets/{version}/{*path}";

/// The asset at `path` (relative to `assets/`).
pub fn get(path: &str) -> Option<&'static Asset> {
    FILES
        .binary_search_by(|a| a.path.cmp(path))
        .ok()
        .map(|i| &FILES[i])
}

pub fn url(path: &str) -> String {
    format!("/assets/{VERSION}/{path}")
}

/// A response whose encoding the handler chose itself: the compression layer leaves it alone
/// (see `web::compression`).
#[derive(Clone, Copy, Debug)]
pub struct Negotiated;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

impl Encoding {
    /// The best coding `Accept-Encoding` allows among those at hand: brotli, then gzip, then
    /// the file as it is (always acceptable here: `identity;q=0` is not honoured with a 406).
    pub fn choose(headers: &HeaderMap, has_br: bool, has_gzip: bool) -> Self {
        let accept = headers
            .get_all(header::ACCEPT_ENCODING)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        let q = |coding: &str| -> Option<f32> {
            let mut wildcard = None;
            for item in accept.split(',') {
                let mut parts = item.split(';');
                let name = parts.next().unwrap_or("").trim();
                let q = parts
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|v| v.trim().parse::<f32>().ok())
                    .unwrap_or(1.0);
                if name.eq_ignore_ascii_case(coding)
                    || (coding == "gzip" && name.eq_ignore_ascii_case("x-gzip"))
                {
                    return Some(q);
                }
                if name == "*" {
                    wildcard = Some(q);
                }
            }
            wildcard
        };
        let accepts = |coding: &str| q(coding).is_some_and(|q| q > 0.0);
        if has_br && accepts("br") {
            Self::Brotli
        } else if has_gzip && accepts("gzip") {
            Self::Gzip
        } else {
            Self::Identity
        }
    }
}

/// The representation of `asset` for this request: its bytes, `Content-Encoding` and ETag.
fn representation(
    asset: &Asset,
    headers: &HeaderMap,
) -> (&'static [u8], Option<&'static str>, String) {
    match Encoding::choose(headers, asset.br.is_some(), asset.gzip.is_some()) {
        Encoding::Brotli => (
            asset.br.unwrap_or(asset.identity),
            Some("br"),
            format!("\"{}-br\"", asset.etag),
        ),
        Encoding::Gzip => (
            asset.gzip.unwrap_or(asset.identity),
            Some("gzip"),
            format!("\"{}-gz\"", asset.etag),
        ),
        Encoding::Identity => (asset.identity, None, format!("\"{}\"", asset.etag)),
    }
}

/// `If-None-Match` names this ETag (weak comparison, as RFC 9110 asks for this header).
fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim())
        .any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

/// Serves an asset with the given `Cache-Control`, negotiating its encoding.
pub fn respond(asset: &Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let (bytes, encoding, etag) = representation(asset, headers);
    let mut res = if not_modified(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        bytes.into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.mime));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    if let Some(encoding) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    if asset.br.is_some() || asset.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    res.extensions_mut().insert(Negotiated);
    res
}

pub async fn serve(
    Path((version, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let asset = get(&path).ok_or(AppError::NotFound)?;
    // A page rendered by an instance of another version asks for its own hash: serve what we
    // have, but do not let it be cached under that name.
    let cache = if version == VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    Ok(respond(asset, &headers, cache))
}

/// `/favicon.ico`, asked for by browsers and other clients that do not read the page's
/// `<link rel="icon">`. Its URL has no version: cached for a day.
pub async fn favicon(headers: HeaderMap) -> Result<Response, AppError> {
    let asset = get("favicon.ico").ok_or(AppError::NotFound)?;
    Ok(respond(asset, &headers, "public, max-age=86400"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn the_best_coding_the_client_accepts() {
        use Encoding::*;
        assert_eq!(
            Encoding::choose(&accept("gzip, deflate, br, zstd"), true, true),
            Brotli
        );
        assert_eq!(Encoding::choose(&accept("gzip"), true, true), Gzip);
        assert_eq!(Encoding::choose(&accept("br;q=0, gzip"), true, true), Gzip);
        assert_eq!(Encoding::choose(&accept("*"), true, true), Brotli);
        assert_eq!(
            Encoding::choose(&accept("*;q=0, identity"), true, true),
            Identity
        );
        assert_eq!(Encoding::choose(&accept("br"), false, true), Identity);
        assert_eq!(Encoding::choose(&HeaderMap::new(), true, true), Identity);
        assert_eq!(Encoding::choose(&accept("x-gzip"), false, true), Gzip);
    }

    #[test]
    fn the_table_is_sorted_and_the_css_is_served_without_its_inline_font() {
        assert!(FILES.windows(2).all(|w| w[0].path < w[1].path));
        let css = get("vendor/bootstrap-italia-2.18.3/css/bootstrap-italia.min.css").unwrap();
        let text = std::str::from_utf8(css.identity).unwrap();
        assert!(!text.contains("url(data:application/font"));
        assert!(text.contains("url(../../../fonts/VideoJS.woff)"));
        assert!(get("fonts/VideoJS.woff").is_some());
        assert!(css.br.is_some() && css.gzip.is_some());
        assert!(
            get("fonts/VideoJS.woff").unwrap().br.is_none(),
            "fonts are compressed already"
        );
    }

    #[test]
    fn if_none_match_compares_weakly() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc-br\""),
        );
        assert!(not_modified(&h, "\"abc-br\""));
        assert!(!not_modified(&h, "\"abc\""));
    }
}
