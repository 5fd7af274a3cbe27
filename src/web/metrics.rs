//! `/metrics`: the service's figures in the Prometheus text format (version 0.0.4), written by
//! hand (a handful of gauges and one histogram do not need a crate).
//!
//! Reachable only with the Bearer token of `PATROCINIO_METRICS_TOKEN` (without one configured
//! the route answers 404), and with `PATROCINIO_METRICS_LOCAL_ONLY=true` only from a loopback
//! address. No label carries personal data: routes are the route table's templates
//! (`/{slug}/istanza`), never the path asked for.

use std::{
    collections::{BTreeMap, HashSet},
    fmt::Write as _,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{
    extract::{ConnectInfo, MatchedPath, Request, State},
    http::{HeaderMap, HeaderValue, Method, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{AppState, error::AppError};
use crate::store::{events, outbox, tenants};

/// Upper bounds of the request-latency histogram, in seconds (fixed: the series per route
/// stay a known number). The request timeout is 30 s.
const BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The label of requests that matched no route (404s): one series for all of them.
const UNMATCHED: &str = "(nessuna)";

#[derive(Default, Clone)]
struct Histogram {
    /// Per bucket, not cumulative (made cumulative when written out).
    buckets: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// The request latencies, by route template, method and status class.
///
/// Bounded: routes come from the route table (anything else is [`UNMATCHED`]), methods from a
/// fixed list (anything else is `OTHER`), statuses are five classes: at most
/// routes × 8 × 5 series, whatever clients send.
pub struct Recorder {
    routes: HashSet<&'static str>,
    series: Mutex<BTreeMap<(&'static str, &'static str, &'static str), Histogram>>,
}

impl Recorder {
    pub fn new(routes: impl IntoIterator<Item = &'static str>) -> Self {
        Self {
            routes: routes.into_iter().collect(),
            series: Mutex::new(BTreeMap::new()),
        }
    }

    fn observe(&self, route: Option<&str>, method: &Method, status: StatusCode, seconds: f64) {
        let route = route
            .and_then(|r| self.routes.get(r).copied())
            .unwrap_or(UNMATCHED);
        let key = (route, method_label(method), status_class(status));
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let h = series.entry(key).or_default();
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            h.buckets[i] += 1;
        }
        h.sum += seconds;
        h.count += 1;
    }

    fn write(&self, out: &mut String) {
        let series = self
            .series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let name = "patrocinio_http_request_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "Time to answer a request, by route template, method and status class.",
        );
        for ((route, method, status), h) in &series {
            let labels = format!(
                "route=\"{}\",method=\"{method}\",status=\"{status}\"",
                escape(route)
            );
            let mut cumulative = 0;
            for (le, n) in BUCKETS.iter().zip(h.buckets) {
                cumulative += n;
                let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{le}\"}} {cumulative}");
            }
            let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(out, "{name}_sum{{{labels}}} {}", h.sum);
            let _ = writeln!(out, "{name}_count{{{labels}}} {}", h.count);
        }
    }
}

fn method_label(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

fn status_class(s: StatusCode) -> &'static str {
    match s.as_u16() / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// A label value as the text format wants it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    header(out, name, "gauge", help);
    let _ = writeln!(out, "{name} {value}");
}

/// Middleware (around every route, outermost): times the request and records it under the
/// route's template.
pub async fn record(State(recorder): State<Arc<Recorder>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let method = req.method().clone();
    let res = next.run(req).await;
    recorder.observe(
        route.as_deref(),
        &method,
        res.status(),
        started.elapsed().as_secs_f64(),
    );
    res
}

/// `GET /metrics`.
#[tracing::instrument(name = "esponi le metriche", skip_all)]
pub async fn serve(State(state): State<AppState>, req: Request) -> Result<Response, AppError> {
    let settings = &state.settings;
    let Some(token) = settings.metrics_token.as_deref() else {
        return Err(AppError::NotFound);
    };
    if settings.metrics_local_only {
        let local = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .is_some_and(|ConnectInfo(peer)| peer.ip().is_loopback());
        if !local {
            return Err(AppError::NotFound);
        }
    }
    if !authorized(req.headers(), token) {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
            "Autenticazione richiesta.",
        )
            .into_response());
    }
    // One scrape at a time: each reads every Ordine (one short transaction per Ordine).
    let _one = state.metrics_scrape.lock().await;
    let body = render(&state).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        body,
    )
        .into_response())
}

/// The token compared in constant time (both sides hashed first, so that their lengths do
/// not show either).
fn authorized(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let given = Sha256::digest(given.trim().as_bytes());
    let expected = Sha256::digest(token.as_bytes());
    given.as_slice().ct_eq(expected.as_slice()).into()
}

async fn render(state: &AppState) -> Result<String, AppError> {
    let mut out = String::with_capacity(64 * 1024);
    state.metrics.write(&mut out);

    gauge(
        &mut out,
        "patrocinio_live_sockets",
        "Live WebSockets open on this instance.",
        state.hub.open_sockets() as f64,
    );
    let name = "patrocinio_live_event_renders_total";
    header(
        &mut out,
        name,
        "counter",
        "Fragments rendered for events on this instance: one per audience per event, shared by its sockets.",
    );
    let _ = writeln!(out, "{name} {}", state.hub.event_renders());

    // The live listener's distance from the newest events, and the outbox waiting, summed
    // over the Ordini (row-level security: one transaction per Ordine).
    let mut lag_events = 0i64;
    let mut lag_oldest: Option<f64> = None;
    let mut backlog = 0i64;
    let mut backlog_oldest: Option<f64> = None;
    for t in tenants::list(&state.db).await? {
        let mut tx = state.db.tenant_tx(t.id).await?;
        let behind = events::behind(&mut tx, state.hub.latest_event(t.id)).await?;
        let waiting = outbox::backlog(&mut tx).await?;
        tx.commit().await?;
        lag_events += behind.count;
        backlog += waiting.count;
        lag_oldest = max(lag_oldest, behind.oldest_age_seconds);
        backlog_oldest = max(backlog_oldest, waiting.oldest_age_seconds);
    }
    gauge(
        &mut out,
        "patrocinio_listener_lag_events",
        "Events written but not yet broadcast by this instance's live listener.",
        lag_events as f64,
    );
    gauge(
        &mut out,
        "patrocinio_listener_lag_seconds",
        "Age of the oldest event not yet broadcast by the live listener (0: none).",
        lag_oldest.unwrap_or(0.0),
    );
    gauge(
        &mut out,
        "patrocinio_outbox_backlog",
        "E-mails waiting in the outbox to be sent (retries included).",
        backlog as f64,
    );
    gauge(
        &mut out,
        "patrocinio_outbox_oldest_age_seconds",
        "Age of the oldest e-mail waiting in the outbox (0: none).",
        backlog_oldest.unwrap_or(0.0),
    );

    // The latest verified backup (`patrocinio backup`), read from its descriptor.
    let dir = state.settings.backup_dir.clone();
    let latest = tokio::task::spawn_blocking(move || crate::backup::list(&dir))
        .await
        .map_err(anyhow::Error::from)??
        .into_iter()
        .filter(|d| d.verified)
        .map(|d| d.finished_at)
        .max();
    if let Some(at) = latest {
        gauge(
            &mut out,
            "patrocinio_backup_age_seconds",
            "Age of the latest verified backup in PATROCINIO_BACKUP_DIR (absent: none yet).",
            (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0,
        );
    }

    let pool = state.db.pool();
    let size = pool.size();
    let idle = pool.num_idle() as u32;
    let name = "patrocinio_db_pool_connections";
    header(
        &mut out,
        name,
        "gauge",
        "Database connections of this instance's pool, by state.",
    );
    let _ = writeln!(out, "{name}{{state=\"idle\"}} {idle}");
    let _ = writeln!(
        out,
        "{name}{{state=\"in_use\"}} {}",
        size.saturating_sub(idle)
    );
    gauge(
        &mut out,
        "patrocinio_db_pool_max_connections",
        "The pool's largest number of connections (PATROCINIO_DB_MAX_CONNECTIONS).",
        pool.options().get_max_connections() as f64,
    );
    Ok(out)
}

fn max(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_outside_the_route_table_and_an_odd_method_share_one_series() {
        let r = Recorder::new(["/{slug}/istanza"]);
        let m = Method::from_bytes(b"BREW").unwrap();
        r.observe(Some("/rossi-mario/istanza"), &m, StatusCode::OK, 0.02);
        r.observe(None, &Method::GET, StatusCode::NOT_FOUND, 40.0);
        r.observe(Some("/{slug}/istanza"), &Method::GET, StatusCode::OK, 0.02);
        let mut out = String::new();
        r.write(&mut out);
        assert!(!out.contains("rossi"), "{out}");
        assert!(out.contains(
            "patrocinio_http_request_duration_seconds_count{route=\"(nessuna)\",method=\"OTHER\",status=\"2xx\"} 1"
        ));
        // Slower than the last bucket: only in +Inf.
        assert!(
            out.contains("_bucket{route=\"(nessuna)\",method=\"GET\",status=\"4xx\",le=\"30\"} 0")
        );
        assert!(
            out.contains(
                "_bucket{route=\"(nessuna)\",method=\"GET\",status=\"4xx\",le=\"+Inf\"} 1"
            )
        );
        assert!(out.contains(
            "_bucket{route=\"/{slug}/istanza\",method=\"GET\",status=\"2xx\",le=\"0.025\"} 1"
        ));
    }

    #[test]
    fn only_the_configured_bearer_token_is_accepted() {
        let token = "a".repeat(40);
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, &token));
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {}", "a".repeat(39)).parse().unwrap(),
        );
        assert!(!authorized(&h, &token));
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        assert!(authorized(&h, &token));
    }
}
