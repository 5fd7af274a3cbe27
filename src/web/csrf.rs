//! Cross-site request forgery: a state-changing request (anything but GET, HEAD, OPTIONS) must
//! come from our own pages. Browsers say where a request comes from with `Sec-Fetch-Site` and
//! `Origin`; a cross-site one is refused with 403. Clients that send neither (no browser) pass,
//! which is why the accounts issue adds a per-session token on top.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{Method, header},
    middleware::Next,
    response::Response,
};

use super::{WebSettings, error::AppError};

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// The origin of the page that sent the request is ours: the configured public URL, or the
/// host the request was addressed to (a local run reached as `localhost` rather than
/// `127.0.0.1`).
fn same_origin(origin: &str, host: Option<&str>, settings: &WebSettings) -> bool {
    if origin == settings.origin() {
        return true;
    }
    let authority = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    matches!((authority, host), (Some(a), Some(h)) if a.eq_ignore_ascii_case(h))
}

pub async fn check(
    State(settings): State<Arc<WebSettings>>,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    if !is_safe(req.method()) {
        let headers = req.headers();
        let site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
        if site.is_some_and(|s| !matches!(s, "same-origin" | "none")) {
            return Err(AppError::Forbidden);
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let ok = origin
                .to_str()
                .is_ok_and(|o| same_origin(o, host, &settings));
            if !ok {
                return Err(AppError::Forbidden);
            }
        }
    }
    Ok(next.run(req).await)
}
