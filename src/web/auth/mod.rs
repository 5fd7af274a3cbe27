//! Login sessions: tower-sessions with its PostgreSQL store, axum-login on top.
//!
//! - The cookie is `__Host-patrocinio` (HttpOnly, SameSite=Lax, Secure); on plain-HTTP local
//!   runs it is `patrocinio` without `Secure`, the only case where that is allowed.
//! - A new session id at login (axum-login cycles it); 30 minutes idle, 12 hours at most
//!   (configurable); logout deletes the server session.
//! - Every request re-reads the account: a disabled account, a changed password or a removed
//!   role bumps its `session_epoch`, and every session of the account ends at once.
//! - Each session has a CSRF token, checked on every state-changing request ([`csrf_token`]).

pub mod login;
pub mod oidc;

use std::time::Duration as StdDuration;

use axum::{
    body::{Body, to_bytes},
    extract::{FromRequestParts, Request},
    http::{Method, header, request::Parts},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};
use axum_login::{AuthManagerLayer, AuthManagerLayerBuilder, AuthSession, AuthUser, AuthnBackend};
use chrono::Utc;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tower_sessions::{
    Expiry, Session, SessionManagerLayer,
    cookie::{SameSite, time::Duration},
};
use tower_sessions_sqlx_store::PostgresStore;
use uuid::Uuid;

use super::{error::AppError, tenant::CurrentTenant};
use crate::{
    db::Db,
    domain::{access::Role, tenant::TenantId},
    store::users::{self, User},
};

/// The person logged in, as the session knows them (re-read from the database on every
/// request).
#[derive(Clone, Debug)]
pub struct SessionUser {
    pub tenant: TenantId,
    pub id: Uuid,
    pub name: String,
    pub email: String,
    pub roles: Vec<Role>,
    pub lawyer_id: Option<Uuid>,
    auth_hash: Vec<u8>,
}

impl SessionUser {
    pub fn from_user(tenant: TenantId, u: &User) -> Self {
        let mut h = Sha256::new();
        h.update(u.id.as_bytes());
        h.update(u.session_epoch.to_le_bytes());
        h.update(u.password_hash.as_deref().unwrap_or("").as_bytes());
        h.update(u.status.as_bytes());
        Self {
            tenant,
            id: u.id,
            name: u.full_name.clone(),
            email: u.email.clone(),
            roles: u.roles.clone(),
            lawyer_id: u.lawyer_id,
            auth_hash: h.finalize().to_vec(),
        }
    }

    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The same account in the same state of its credentials (a password change, a disabled
    /// account or ended sessions make it differ).
    pub fn same_login(&self, other: &SessionUser) -> bool {
        self.id == other.id && self.auth_hash == other.auth_hash
    }
}

/// Sessions name their account by Ordine and id: the account is read inside that Ordine's
/// row-level-security context.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserKey {
    pub tenant: Uuid,
    pub user: Uuid,
}

impl std::fmt::Display for UserKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.tenant, self.user)
    }
}

impl AuthUser for SessionUser {
    type Id = UserKey;

    fn id(&self) -> UserKey {
        UserKey {
            tenant: self.tenant.0,
            user: self.id,
        }
    }

    fn session_auth_hash(&self) -> &[u8] {
        &self.auth_hash
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0:#}")]
pub struct BackendError(anyhow::Error);

#[derive(Clone, Debug)]
pub struct Backend {
    db: Db,
}

impl Backend {
    async fn load(&self, key: &UserKey) -> Result<Option<SessionUser>, BackendError> {
        let tenant = TenantId(key.tenant);
        let mut tx = self.db.tenant_tx(tenant).await.map_err(BackendError)?;
        let user = users::get(&mut tx, key.user).await.map_err(BackendError)?;
        tx.commit().await.map_err(BackendError)?;
        Ok(user
            .filter(User::is_active)
            .map(|u| SessionUser::from_user(tenant, &u)))
    }
}

impl AuthnBackend for Backend {
    type User = SessionUser;
    /// Handlers verify password and second factor themselves; the backend then loads the
    /// account they proved.
    type Credentials = UserKey;
    type Error = BackendError;

    async fn authenticate(&self, key: UserKey) -> Result<Option<SessionUser>, BackendError> {
        self.load(&key).await
    }

    async fn get_user(&self, key: &UserKey) -> Result<Option<SessionUser>, BackendError> {
        self.load(key).await
    }
}

pub type Auth = AuthSession<Backend>;

#[derive(Clone, Copy, Debug)]
pub struct SessionSettings {
    pub idle: StdDuration,
    pub max_age: StdDuration,
    pub secure: bool,
}

pub const COOKIE: &str = "patrocinio";
pub const SECURE_COOKIE: &str = "__Host-patrocinio";

pub fn layer(
    db: &Db,
    settings: SessionSettings,
) -> anyhow::Result<AuthManagerLayer<Backend, PostgresStore>> {
    let store = PostgresStore::new(db.pool().clone())
        .with_schema_name("sessions")
        .map_err(anyhow::Error::msg)?
        .with_table_name("session")
        .map_err(anyhow::Error::msg)?;
    let idle = Duration::seconds(settings.idle.as_secs() as i64);
    let sessions = SessionManagerLayer::new(store)
        .with_name(if settings.secure {
            SECURE_COOKIE
        } else {
            COOKIE
        })
        .with_secure(settings.secure)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(idle));
    Ok(AuthManagerLayerBuilder::new(Backend { db: db.clone() }, sessions).build())
}

/// Deletes expired sessions every hour.
pub fn spawn_expired_deletion(db: &Db) -> tokio::task::JoinHandle<()> {
    let pool = db.pool().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(StdDuration::from_secs(3600));
        loop {
            tick.tick().await;
            let deleted = sqlx::query("DELETE FROM sessions.session WHERE expiry_date < now()")
                .execute(&pool)
                .await;
            if let Err(e) = deleted {
                tracing::warn!(error = %e, "expired sessions not deleted");
            }
        }
    })
}

/// Session keys.
pub const CSRF_KEY: &str = "csrf";
pub const LOGIN_AT_KEY: &str = "login_at";

/// Ends a session past its absolute lifetime, whatever its activity.
pub async fn enforce_lifetime(
    axum::extract::State(max_age): axum::extract::State<StdDuration>,
    mut auth: Auth,
    req: Request,
    next: Next,
) -> Response {
    if auth.user.is_some() {
        let login_at: Option<i64> = auth.session.get(LOGIN_AT_KEY).await.ok().flatten();
        let expired =
            login_at.is_none_or(|t| Utc::now().timestamp() - t > max_age.as_secs() as i64);
        if expired {
            let _ = auth.logout().await;
            let _ = auth.session.flush().await;
        }
    }
    next.run(req).await
}

/// The CSRF token of a session: sent by htmx in `X-CSRF-Token` (the `data-hx-headers` of the page),
/// by plain forms in the `_csrf` field, by multipart forms (uploads) in a `_csrf` field that
/// comes first in the body. Never in a URL, where it would reach logs and `Referer`. A session
/// that holds a token accepts no state-changing request without it.
pub async fn csrf_token(session: Session, req: Request, next: Next) -> Result<Response, AppError> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(next.run(req).await);
    }
    let Some(expected) = session.get::<String>(CSRF_KEY).await.ok().flatten() else {
        return Ok(next.run(req).await);
    };
    let matches = |v: &str| csrf_matches(v, &expected);
    if let Some(v) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        return if matches(v) {
            Ok(next.run(req).await)
        } else {
            Err(AppError::Forbidden)
        };
    }
    if let Some(boundary) = multipart_boundary(&req) {
        // Only the first part is read here (a few bytes); the upload streams on untouched.
        let (parts, body) = req.into_parts();
        let mut stream = body.into_data_stream();
        let mut head = Vec::new();
        let token = loop {
            if let Some(found) = first_field(&head, &boundary, "_csrf") {
                break found;
            }
            match stream.next().await {
                Some(Ok(chunk)) if head.len() < MULTIPART_HEAD => head.extend_from_slice(&chunk),
                _ => break None,
            }
        };
        if !token.is_some_and(|t| matches(&t)) {
            return Err(AppError::Forbidden);
        }
        let rest = futures_util::stream::once(async move { Ok(axum::body::Bytes::from(head)) })
            .chain(stream);
        return Ok(next
            .run(Request::from_parts(parts, Body::from_stream(rest)))
            .await);
    }
    let form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form {
        return Err(AppError::Forbidden);
    }
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, 2 * 1024 * 1024)
        .await
        .map_err(|_| AppError::Forbidden)?;
    let ok = url::form_urlencoded::parse(&bytes).any(|(k, v)| k == "_csrf" && matches(&v));
    if !ok {
        return Err(AppError::Forbidden);
    }
    Ok(next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await)
}

/// The session's CSRF token as a page carries it: masked with fresh random bytes at every
/// render, `hex(mask) ‖ hex(mask ⊕ token)`. Pages are compressed; a token that never repeats
/// from one response to the next cannot be guessed byte by byte from their sizes, whatever text
/// an attacker gets reflected next to it (BREACH).
pub fn masked_csrf(token: &str) -> String {
    let Ok(secret) = hex::decode(token) else {
        return String::new();
    };
    let mut mask = vec![0u8; secret.len()];
    getrandom::fill(&mut mask).expect("the system's random source");
    let xored: Vec<u8> = mask.iter().zip(&secret).map(|(m, s)| m ^ s).collect();
    format!("{}{}", hex::encode(&mask), hex::encode(xored))
}

/// A token sent back matches the session's: masked as [`masked_csrf`] makes it, or as it is
/// (a page rendered before masking, during a rolling deploy). Compared in constant time.
fn csrf_matches(sent: &str, token: &str) -> bool {
    let Ok(secret) = hex::decode(token) else {
        return false;
    };
    if secret.is_empty() {
        return false;
    }
    let Ok(sent) = hex::decode(sent) else {
        return false;
    };
    if sent.len() == 2 * secret.len() {
        let (mask, xored) = sent.split_at(secret.len());
        let unmasked: Vec<u8> = mask.iter().zip(xored).map(|(m, x)| m ^ x).collect();
        crate::crypto::same(&unmasked, &secret)
    } else {
        crate::crypto::same(&sent, &secret)
    }
}

/// How much of a multipart body is read to find its first field.
const MULTIPART_HEAD: usize = 8 * 1024;

/// The boundary of a `multipart/form-data` request.
fn multipart_boundary(req: &Request) -> Option<String> {
    let ct = req.headers().get(header::CONTENT_TYPE)?.to_str().ok()?;
    let (kind, params) = ct.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// The value of the first part of a multipart body, if that part is the text field `name` and
/// is complete in `head`: `Some(None)` when the first part is complete and is something else.
fn first_field(head: &[u8], boundary: &str, name: &str) -> Option<Option<String>> {
    let text = String::from_utf8_lossy(head);
    let start = format!("--{boundary}\r\n");
    let Some(rest) = text.strip_prefix(start.as_str()) else {
        // Not even the opening boundary: give up once it should have arrived.
        return (head.len() >= start.len()).then_some(None);
    };
    let (headers, rest) = rest.split_once("\r\n\r\n")?;
    let (value, _) = rest.split_once(&format!("\r\n--{boundary}"))?;
    let named = headers.lines().any(|h| {
        let h = h.to_ascii_lowercase();
        h.starts_with("content-disposition:")
            && h.contains(&format!("name=\"{name}\""))
            && !h.contains("filename=")
    });
    Some(named.then(|| value.to_owned()))
}

/// The logged-in person, if any, and only if logged in to the Ordine of this page.
#[derive(Clone, Debug)]
pub struct MaybeUser(pub Option<SessionUser>);

impl FromRequestParts<super::AppState> for MaybeUser {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, AppError> {
        let auth = Auth::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("auth layer missing")))?;
        let tenant = parts.extensions.get::<CurrentTenant>().map(|t| t.id);
        Ok(Self(auth.user.filter(|u| Some(u.tenant) == tenant)))
    }
}

/// A role's area: only people holding the role, logged in to this Ordine. Others are sent to
/// the login page (not logged in) or told the area is not theirs (403).
pub trait AreaRole {
    const ROLE: Role;
}

macro_rules! area_roles {
    ($($name:ident),*) => {
        $(
            pub struct $name;
            impl AreaRole for $name {
                const ROLE: Role = Role::$name;
            }
        )*
    };
}

area_roles!(
    Segreteria,
    Consigliere,
    Avvocato,
    Amministratore,
    Presidenza
);

pub struct InArea<R: AreaRole> {
    pub user: SessionUser,
    pub csrf: String,
    /// The login session (one-off notices after a change are kept there).
    pub session: Session,
    _role: std::marker::PhantomData<R>,
}

impl<R: AreaRole> InArea<R> {
    pub fn role(&self) -> Role {
        R::ROLE
    }
}

impl<R: AreaRole> FromRequestParts<super::AppState> for InArea<R> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, Response> {
        let SignedIn {
            user,
            csrf,
            session,
        } = signed_in(parts, state, Some(R::ROLE)).await?;
        Ok(Self {
            user,
            csrf,
            session,
            _role: std::marker::PhantomData,
        })
    }
}

/// Anyone logged in to this Ordine, whatever their roles: their own pages (e-mail choices).
pub struct SignedIn {
    pub user: SessionUser,
    pub csrf: String,
    pub session: Session,
}

impl FromRequestParts<super::AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &super::AppState,
    ) -> Result<Self, Response> {
        signed_in(parts, state, None).await
    }
}

/// The person logged in to this Ordine, holding `role` when one is asked; otherwise the login
/// page (not logged in) or a refusal (403, or 404 on a page that names a record).
async fn signed_in(
    parts: &mut Parts,
    state: &super::AppState,
    role: Option<Role>,
) -> Result<SignedIn, Response> {
    let tenant = CurrentTenant::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let MaybeUser(user) = MaybeUser::from_request_parts(parts, state)
        .await
        .map_err(IntoResponse::into_response)?;
    let Some(user) = user else {
        let back = parts.uri.path();
        let target = format!(
            "/{}/accesso?torna={}",
            tenant.slug,
            url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
        );
        return Err(Redirect::to(&target).into_response());
    };
    if role.is_some_and(|r| !user.has(r)) {
        // On a page that names a record the answer does not even say it exists.
        let names_record = parts
            .extensions
            .get::<axum::extract::MatchedPath>()
            .is_some_and(|m| super::tenant::names_a_record(m.as_str()));
        let refusal = if names_record {
            AppError::NotFound
        } else {
            AppError::Forbidden
        };
        return Err(refusal.into_response());
    }
    let session = Session::from_request_parts(parts, state)
        .await
        .map_err(|(s, m)| (s, m).into_response())?;
    let csrf = session
        .get::<String>(CSRF_KEY)
        .await
        .ok()
        .flatten()
        .map(|token| masked_csrf(&token))
        .unwrap_or_default();
    Ok(SignedIn {
        user,
        csrf,
        session,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_token_never_repeats_and_still_matches() {
        let token = crate::crypto::random_hex::<32>();
        let (a, b) = (masked_csrf(&token), masked_csrf(&token));
        assert_ne!(a, b);
        assert_eq!(a.len(), 128);
        assert!(!a.contains(&token));
        assert!(csrf_matches(&a, &token) && csrf_matches(&b, &token));
        assert!(
            csrf_matches(&token, &token),
            "an unmasked token from an older page"
        );
        let other = crate::crypto::random_hex::<32>();
        assert!(!csrf_matches(&masked_csrf(&other), &token));
        assert!(!csrf_matches("", &token));
        assert!(!csrf_matches(&"0".repeat(64), &token));
        assert!(!csrf_matches(&a[..127], &token));
        assert!(!csrf_matches(&a, ""));
    }
}
