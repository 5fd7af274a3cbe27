//! Static files from `assets/`, embedded in the binary and served under a versioned path
//! (`/assets/<hash of every file>/<path>`), so they can be cached for a year: a new build has a
//! new hash. Relative URLs inside CSS (fonts) keep working because the whole tree moves together.

use std::sync::LazyLock;

use axum::{
    extract::Path,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use rust_embed::RustEmbed;
use sha2::{Digest, Sha256};

use super::error::AppError;

#[derive(RustEmbed)]
#[folder = "assets/"]
#[exclude = "*.map"]
struct Assets;

pub const ROUTE: &str = "/assets/{version}/{*path}";

/// The first 12 hex digits of a hash over every asset's path and content hash.
pub static VERSION: LazyLock<String> = LazyLock::new(|| {
    let mut paths: Vec<_> = Assets::iter().collect();
    paths.sort();
    let mut hasher = Sha256::new();
    for path in paths {
        if let Some(file) = Assets::get(&path) {
            hasher.update(path.as_bytes());
            hasher.update(file.metadata.sha256_hash());
        }
    }
    hex::encode(hasher.finalize())[..12].to_owned()
});

pub fn url(path: &str) -> String {
    format!("/assets/{}/{path}", *VERSION)
}

pub async fn serve(Path((version, path)): Path<(String, String)>) -> Result<Response, AppError> {
    let file = Assets::get(&path).ok_or(AppError::NotFound)?;
    let mime = file.metadata.mimetype().to_owned();
    // A page rendered by an instance of another version asks for its own hash: serve what we
    // have, but do not let it be cached under that name.
    let cache = if version == *VERSION {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mut res = file.data.into_owned().into_response();
    let headers = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    Ok(res)
}
