//! HTTP: the route table, the middleware stack, and one folder per area of the UI.
//!
//! - `public/`: the online application (istanza on-line), open to everyone;
//! - `secretariat/`, `rapporteur/`, `lawyer/`: the reserved areas of the segreteria, the
//!   consiglieri and the avvocati;
//! - `home`, `health`, `assets`: the platform's own pages.

pub mod assets;
pub mod error;
pub mod headers;
pub mod layout;
pub mod tenant;

mod health;
mod home;
mod lawyer;
mod public;
mod rapporteur;
mod secretariat;

use std::{sync::Arc, time::Duration};

use axum::{
    Router,
    http::{HeaderName, Method, Request},
    middleware,
    routing::MethodRouter,
};
use tower::ServiceBuilder;
use tower_http::{
    catch_panic::CatchPanicLayer,
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

use crate::db::Db;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Arc<WebSettings>,
}

#[derive(Debug)]
pub struct WebSettings {
    /// The URL users reach us at (scheme, host and port, no trailing slash).
    pub public_url: String,
}

impl WebSettings {
    pub fn is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Who a route belongs to: the platform, or one Ordine under `/{slug}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Platform,
    /// A tenant page that must never be framed.
    Tenant,
    /// A tenant page of the public form: the Ordine may let its own site embed it.
    TenantEmbeddable,
}

/// One route: the router is built from this table, and tests sweep it.
pub struct RouteDef {
    pub method: Method,
    pub path: &'static str,
    pub scope: Scope,
    handler: MethodRouter<AppState>,
}

impl RouteDef {
    fn get<H, T>(path: &'static str, scope: Scope, handler: H) -> Self
    where
        H: axum::handler::Handler<T, AppState>,
        T: 'static,
    {
        Self {
            method: Method::GET,
            path,
            scope,
            handler: axum::routing::get(handler),
        }
    }
}

/// Every route of the service.
pub fn route_table() -> Vec<RouteDef> {
    use Scope::*;
    vec![
        RouteDef::get("/health", Platform, health::health),
        RouteDef::get("/ready", Platform, health::ready),
        RouteDef::get("/", Platform, home::platform_home),
        RouteDef::get(assets::ROUTE, Platform, assets::serve),
        RouteDef::get("/{slug}", Tenant, home::tenant_home),
        RouteDef::get("/{slug}/istanza", TenantEmbeddable, public::entry),
        RouteDef::get("/{slug}/segreteria", Tenant, secretariat::entry),
        RouteDef::get("/{slug}/consiglieri", Tenant, rapporteur::entry),
        RouteDef::get("/{slug}/avvocati", Tenant, lawyer::entry),
    ]
}

pub fn router(state: AppState) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for def in route_table() {
        let handler = match def.scope {
            Scope::Platform => def.handler,
            Scope::Tenant | Scope::TenantEmbeddable => def.handler.route_layer(
                middleware::from_fn_with_state((state.clone(), def.scope), tenant::resolve),
            ),
        };
        match by_path.iter_mut().find(|(p, _)| *p == def.path) {
            Some((_, existing)) => {
                let merged = std::mem::take(existing).merge(handler);
                *existing = merged;
            }
            None => by_path.push((def.path, handler)),
        }
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }

    let request_id = HeaderName::from_static("x-request-id");
    router
        .fallback(error::not_found)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(request_id.clone(), MakeRequestUuid))
                .layer(TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                    let id = req
                        .extensions()
                        .get::<RequestId>()
                        .and_then(|id| id.header_value().to_str().ok())
                        .unwrap_or("-");
                    // The path only: query strings are never logged.
                    tracing::info_span!("request", id, method = %req.method(), path = %req.uri().path())
                }))
                .layer(PropagateRequestIdLayer::new(request_id))
                .layer(middleware::from_fn_with_state(
                    state.settings.clone(),
                    headers::security_headers,
                ))
                .layer(middleware::from_fn(error::render_errors))
                .layer(CatchPanicLayer::new())
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(30),
                )),
        )
        .with_state(state)
}
