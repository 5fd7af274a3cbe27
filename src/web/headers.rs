//! Security headers on every response, error pages and assets included.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};

use super::WebSettings;

/// The sites that may frame a response (CSP `frame-ancestors`), set by the tenant resolver on the
/// public form's pages. Absent: no framing at all.
#[derive(Clone, Debug)]
pub struct FrameAncestors(String);

impl FrameAncestors {
    /// Keeps only well-formed `https://host[:port]` origins, so that a setting can never inject
    /// anything else into the header.
    pub fn new(origins: &[String]) -> Self {
        let valid: Vec<&str> = origins
            .iter()
            .map(String::as_str)
            .filter(|o| is_https_origin(o))
            .collect();
        if valid.is_empty() {
            Self("'none'".into())
        } else {
            Self(format!("'self' {}", valid.join(" ")))
        }
    }
}

pub fn is_https_origin(origin: &str) -> bool {
    let Some(rest) = origin.strip_prefix("https://") else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    let host_ok = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    let port_ok = port.is_none_or(|p| p.parse::<u16>().is_ok_and(|n| n > 0));
    host_ok && port_ok
}

/// A response shown in the browser that must run nothing (an uploaded image): its CSP gets
/// `sandbox`.
#[derive(Clone, Copy, Debug)]
pub struct Sandboxed;

pub async fn security_headers(
    State(settings): State<Arc<WebSettings>>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    let ancestors = res
        .extensions()
        .get::<FrameAncestors>()
        .map_or("'none'", |f| f.0.as_str());
    let sandbox = if res.extensions().get::<Sandboxed>().is_some() {
        "; sandbox"
    } else {
        ""
    };
    let csp = format!(
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; \
         form-action 'self'; frame-ancestors {ancestors}{sandbox}"
    );
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=()"),
    );
    headers.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    if settings.is_https() {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    // Pages hold personal data: never cached unless a handler (assets) says otherwise.
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_origins_reach_the_header() {
        let f = FrameAncestors::new(&[
            "https://www.ordineavvocati.example.it".into(),
            "https://ordine.example:8443".into(),
            "http://insecure.example".into(),
            "https://evil.example; script-src *".into(),
            "https://".into(),
        ]);
        assert_eq!(
            f.0,
            "'self' https://www.ordineavvocati.example.it https://ordine.example:8443"
        );
        assert_eq!(FrameAncestors::new(&[]).0, "'none'");
    }
}
