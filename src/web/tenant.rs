//! Resolving `/{slug}` to the Ordine, once per request, for every tenant route.

use std::{collections::HashMap, sync::Arc};

use axum::{
    extract::{FromRequestParts, MatchedPath, Path, Request, State},
    http::{StatusCode, request::Parts},
    middleware::Next,
    response::Response,
};

use super::{AppState, Scope, auth::Auth, error::AppError, headers::FrameAncestors};
use crate::store::{
    audit::{self, Actor, Entry},
    tenants::{self, Tenant},
};

/// The Ordine of the current request, put in place by [`resolve`].
#[derive(Clone, Debug)]
pub struct CurrentTenant(pub Arc<Tenant>);

impl std::ops::Deref for CurrentTenant {
    type Target = Tenant;
    fn deref(&self) -> &Tenant {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CurrentTenant {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<CurrentTenant>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("tenant route without resolver")))
    }
}

/// Whether a route names a record (an id in its path besides the Ordine's slug).
pub fn names_a_record(template: &str) -> bool {
    template.matches('{').count() > 1
}

/// Middleware of every tenant route: an unknown slug is a 404; the public form's pages carry the
/// Ordine's own list of sites allowed to embed them; a record that cannot be found (another
/// Ordine's, one the person may not see, or none at all) is answered 404 and audited.
pub async fn resolve(
    State((state, scope)): State<(AppState, Scope)>,
    Path(params): Path<HashMap<String, String>>,
    mut req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let slug = params.get("slug").ok_or(AppError::NotFound)?;
    let tenant = tenants::find_by_slug(&state.db, slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let embed = (scope == Scope::TenantEmbeddable).then(|| tenant.settings.embed_origins.clone());
    let tenant_id = tenant.id;
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    let actor = req
        .extensions()
        .get::<Auth>()
        .and_then(|a| a.user.clone())
        .filter(|u| u.tenant == tenant_id)
        .map_or_else(
            || Actor::anonymous("visitatore"),
            |u| Actor::user(u.id, u.name),
        );
    let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
    req.extensions_mut().insert(CurrentTenant(Arc::new(tenant)));
    let mut res = next.run(req).await;
    if res.status() == StatusCode::NOT_FOUND && names_a_record(&template) {
        audit::record_alone(
            &state.db,
            tenant_id,
            Entry {
                actor: &actor,
                action: "accesso_negato",
                target_kind: Some("percorso"),
                target_id: Some(template),
                outcome: "negato",
                details: serde_json::json!({ "metodo": method, "percorso": path }),
            },
        )
        .await?;
    }
    if let Some(origins) = embed {
        res.extensions_mut().insert(FrameAncestors::new(&origins));
    }
    Ok(res)
}

/// The parameters of a route's path. Ids are parsed by the handler with [`PathParams::id`]: a
/// malformed id is a page that does not exist (404), exactly like an id of another Ordine.
pub struct PathParams(HashMap<String, String>);

impl PathParams {
    pub fn id(&self, name: &str) -> Result<uuid::Uuid, AppError> {
        self.0
            .get(name)
            .and_then(|v| uuid::Uuid::parse_str(v).ok())
            .ok_or(AppError::NotFound)
    }

    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map_or("", String::as_str)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PathParams {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound)?;
        Ok(Self(params))
    }
}
