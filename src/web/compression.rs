//! Compression of dynamic responses (pages, htmx fragments, JSON, CSV exports) with gzip or
//! brotli, as the client's `Accept-Encoding` allows (tower-http's `CompressionLayer`, brotli at
//! quality 4: fast enough to make while a person waits).
//!
//! Only text is compressed, and only above 1 KiB: PDFs, ZIPs, images, fonts and signed files
//! are compressed already; a WebSocket upgrade (101) has no body nor content type; assets come
//! precompressed from build.rs and say so ([`assets::Negotiated`]). Every response here is a
//! whole body, not a stream that must reach the client piece by piece (no server-sent events).

use axum::http::{Response, header};
use tower_http::compression::{
    CompressionLayer,
    predicate::{Predicate, SizeAbove},
};

use super::assets;

/// The content types worth compressing (the start of `Content-Type`, lower case).
const TEXT: &[&str] = &[
    "text/html",
    "text/plain",
    "text/css",
    "text/csv",
    "text/javascript",
    "application/javascript",
    "application/json",
    "image/svg+xml",
];

/// Smaller bodies gain nothing worth the extra work and headers.
const MIN_SIZE: u16 = 1024;

#[derive(Clone, Copy, Debug)]
pub struct Text;

impl Predicate for Text {
    fn should_compress<B>(&self, response: &Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        if response.extensions().get::<assets::Negotiated>().is_some() {
            return false;
        }
        response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| {
                let ct = ct.trim_start().to_ascii_lowercase();
                TEXT.iter().any(|t| ct.starts_with(t))
            })
    }
}

pub fn layer() -> CompressionLayer<impl Predicate> {
    CompressionLayer::new()
        .gzip(true)
        .br(true)
        .compress_when(Text.and(SizeAbove::new(MIN_SIZE)))
}
