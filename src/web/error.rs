//! One error type for every handler, and one place that turns an error status into an Italian
//! page (or, for htmx requests, a fragment placed in the page's alert area).
//!
//! Internals never reach the user: an internal error is logged with the request id and the user
//! sees a generic message.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use super::layout;
use crate::{db::Db, documents::pdf::Bounded};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("service unavailable")]
    Unavailable,
    #[error("too many requests")]
    TooManyRequests(std::time::Duration),
    /// Busy right now (e.g. every PDF renderer at work): try again after the wait.
    #[error("busy")]
    Busy(std::time::Duration),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<Bounded> for AppError {
    fn from(e: Bounded) -> Self {
        match e {
            Bounded::Busy => AppError::Busy(BUSY_RETRY),
            Bounded::Failed(e) => AppError::Internal(e),
        }
    }
}

/// When to try again after every PDF renderer was busy.
const BUSY_RETRY: std::time::Duration = std::time::Duration::from_secs(10);
/// When to try again while the database is away (a failover takes about this long once the
/// operator has promoted the standby).
const UNAVAILABLE_RETRY: std::time::Duration = std::time::Duration::from_secs(30);

/// Carried in the response's extensions from [`AppError`] to [`render_errors`], with the
/// title and text to show when the status's own would not say what happened.
#[derive(Clone, Debug)]
struct ErrorMarker(Option<(&'static str, &'static str)>);

/// The file store (folder or bucket) cannot be reached: what the user reads.
const STORE_DOWN: (&str, &str) = (
    "Archivio dei documenti non raggiungibile",
    "L'archivio dei documenti non risponde in questo momento: l'operazione non è stata eseguita e nessun dato è stato modificato. Quanto già salvato resta conservato. Riprovare tra qualche minuto.",
);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut retry_after = None;
        let mut text = None;
        let status = match &self {
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::Forbidden => StatusCode::FORBIDDEN,
            AppError::Unavailable => {
                retry_after = Some(UNAVAILABLE_RETRY.as_secs());
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::TooManyRequests(wait) => {
                retry_after = Some(wait.as_secs().max(1));
                StatusCode::TOO_MANY_REQUESTS
            }
            AppError::Busy(wait) => {
                retry_after = Some(wait.as_secs().max(1));
                StatusCode::SERVICE_UNAVAILABLE
            }
            // A busy renderer reached through `anyhow` (inside a larger operation).
            AppError::Internal(e) if matches!(e.downcast_ref(), Some(Bounded::Busy)) => {
                retry_after = Some(BUSY_RETRY.as_secs());
                StatusCode::SERVICE_UNAVAILABLE
            }
            // The file store is down: the change was rolled back (its files are written before
            // its row commits), and the user is told to retry.
            AppError::Internal(e) if crate::storage::is_unavailable(e) => {
                tracing::warn!(error = format!("{e:#}"), "file store unreachable");
                retry_after = Some(60);
                text = Some(STORE_DOWN);
                StatusCode::SERVICE_UNAVAILABLE
            }
            // The database away (dead primary, failover under way, standby reached): the
            // transaction was not committed, or its outcome is unknown to us; either way the
            // user is asked to try again, and nothing internal is shown.
            AppError::Internal(e) if crate::db::is_unavailable(e) => {
                tracing::warn!(error = format!("{e:#}"), "database unavailable");
                retry_after = Some(UNAVAILABLE_RETRY.as_secs());
                StatusCode::SERVICE_UNAVAILABLE
            }
            AppError::Internal(e) => {
                // `{:#}` shows the context chain; sqlx errors carry no row values.
                tracing::error!(error = format!("{e:#}"), "internal error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let mut res = status.into_response();
        if let Some(secs) = retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res.extensions_mut().insert(ErrorMarker(text));
        res
    }
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}

/// Title and explanation shown for an error status.
pub fn describe(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "Richiesta non valida",
            "La richiesta non è stata compresa. Controllare i dati inseriti e riprovare.",
        ),
        401 => (
            "Accesso richiesto",
            "Per questa pagina è necessario accedere con le proprie credenziali.",
        ),
        403 => (
            "Operazione non consentita",
            "Non si dispone dei permessi necessari per questa operazione.",
        ),
        404 => (
            "Pagina non trovata",
            "La pagina richiesta non esiste o non è più disponibile. Verificare l'indirizzo oppure tornare alla pagina iniziale.",
        ),
        405 => (
            "Operazione non consentita",
            "Questa pagina non accetta il tipo di richiesta inviato.",
        ),
        408 => (
            "Tempo scaduto",
            "La richiesta ha impiegato troppo tempo. Riprovare tra qualche istante.",
        ),
        409 => (
            "Dati modificati nel frattempo",
            "Un'altra persona ha modificato questi dati. Ricaricare la pagina per vedere la versione aggiornata.",
        ),
        413 => (
            "File troppo grande",
            "Il file o i dati inviati superano la dimensione massima consentita.",
        ),
        415 => (
            "Formato non ammesso",
            "Il formato dei dati inviati non è tra quelli ammessi.",
        ),
        422 => (
            "Dati non validi",
            "Alcuni dati non sono validi. Correggerli e riprovare.",
        ),
        429 => (
            "Troppe richieste",
            "Sono state inviate troppe richieste in poco tempo. Attendere qualche minuto e riprovare.",
        ),
        503 => (
            "Servizio temporaneamente non disponibile",
            "Il servizio non è al momento disponibile. Riprovare tra qualche minuto.",
        ),
        s if s >= 500 => (
            "Errore del servizio",
            "Si è verificato un errore imprevisto. Riprovare più tardi; se il problema persiste, contattare la segreteria dell'Ordine.",
        ),
        _ => (
            "Richiesta non riuscita",
            "La richiesta non è andata a buon fine. Riprovare.",
        ),
    }
}

fn error_body(status: StatusCode, fragment: bool, text: Option<(&str, &str)>) -> Markup {
    let (title, text) = text.unwrap_or_else(|| describe(status));
    let alert = html! {
        div class="alert alert-danger" role="alert" {
            h2 class="h5 alert-heading" { (title) }
            p class="mb-0" { (text) }
        }
    };
    if fragment {
        return alert;
    }
    layout::page(
        &layout::PageMeta::platform(title),
        html! {
            h1 { (title) }
            p class="lead" { (text) }
            p class="small text-muted" { "Codice dell'errore: " (status.as_u16()) }
            a class="btn btn-primary" href="/" { "Torna alla pagina iniziale" }
        },
    )
}

/// Replaces the body of every error response that is not already a rendered page: errors raised
/// by handlers ([`AppError`]), the router's own 404/405, timeouts and panics.
///
/// A 500 whose cause was not recognised as the database being away (a layer that does not
/// speak [`AppError`], such as the login session's store, turns a lost database into its own
/// bare 500) is checked against the database: when it does not answer as a primary, the answer
/// is the 503 "temporarily unavailable" page with Retry-After.
pub async fn render_errors(State(db): State<Db>, req: Request, next: Next) -> Response {
    let htmx = req.headers().contains_key("hx-request");
    let mut res = next.run(req).await;
    if res.status() == StatusCode::INTERNAL_SERVER_ERROR
        && let Err(e) = db.ping().await
    {
        tracing::warn!(error = format!("{e:#}"), "database unavailable");
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        res.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(UNAVAILABLE_RETRY.as_secs()),
        );
    }
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_html = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    let marker = res.extensions().get::<ErrorMarker>().cloned();
    if is_html && marker.is_none() {
        return res;
    }
    let (mut parts, _) = res.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if htmx {
        // htmx swaps error responses only into the page's alert area (see the htmx-config meta).
        parts
            .headers
            .insert("hx-retarget", HeaderValue::from_static("#avvisi"));
        parts
            .headers
            .insert("hx-reswap", HeaderValue::from_static("innerHTML"));
    }
    let body = error_body(status, htmx, marker.and_then(|m| m.0)).into_string();
    Response::from_parts(parts, Body::from(body))
}
