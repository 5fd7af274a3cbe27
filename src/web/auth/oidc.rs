//! Login through an Ordine's own identity provider (OpenID Connect): authorization code flow
//! with PKCE, state and nonce, the ID token's signature and claims verified against the
//! provider's published keys. The account is matched by its e-mail address; a provider that
//! guarantees a second factor (SPID, CIE, an institutional IdP with MFA) replaces the TOTP code,
//! otherwise staff still type it.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata},
};
use serde::{Deserialize, Serialize};

use super::{
    Auth,
    login::{Pending, complete, refused_page},
};
use crate::{
    domain::access::normalize_email,
    store::{
        audit::{self, Actor, Entry},
        tenants::OidcSettings,
        users::{self, User},
    },
    web::{AppState, error::AppError, tenant::CurrentTenant},
};

const FLOW_KEY: &str = "oidc_in_corso";

/// What the session keeps between the redirect to the provider and its answer.
#[derive(Serialize, Deserialize)]
struct Flow {
    tenant: uuid::Uuid,
    state: String,
    nonce: String,
    verifier: String,
    back: String,
    at: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The HTTP client of the OIDC exchanges: no redirects followed, short timeouts.
async fn http(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .expect("HTTP client")
    });
    let (parts, body) = request.into_parts();
    let mut req = CLIENT
        .request(parts.method, parts.uri.to_string())
        .body(body);
    for (name, value) in &parts.headers {
        req = req.header(name, value);
    }
    let res = req.send().await.map_err(|e| HttpError(e.to_string()))?;
    let mut builder = axum::http::Response::builder().status(res.status());
    for (name, value) in res.headers() {
        builder = builder.header(name, value);
    }
    let bytes = res.bytes().await.map_err(|e| HttpError(e.to_string()))?;
    builder
        .body(bytes.to_vec())
        .map_err(|e| HttpError(e.to_string()))
}

fn redirect_uri(state: &AppState, tenant: &CurrentTenant) -> String {
    format!(
        "{}/{}/accesso/oidc/ritorno",
        state.settings.public_url, tenant.slug
    )
}

fn settings(tenant: &CurrentTenant) -> Result<OidcSettings, AppError> {
    tenant.settings.oidc.clone().ok_or(AppError::NotFound)
}

const UNAVAILABLE: &str = "Il servizio di identità dell'Ordine non risponde: riprovare più tardi oppure accedere con e-mail e password.";

async fn client(
    state: &AppState,
    tenant: &CurrentTenant,
    cfg: &OidcSettings,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    String,
> {
    let issuer = IssuerUrl::new(cfg.issuer.clone()).map_err(|e| e.to_string())?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| format!("discovery: {e}"))?;
    let redirect = RedirectUrl::new(redirect_uri(state, tenant)).map_err(|e| e.to_string())?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(cfg.client_id.clone()),
        Some(ClientSecret::new(cfg.client_secret.clone())),
    )
    .set_redirect_uri(redirect))
}

#[derive(Deserialize, Default)]
pub struct StartQuery {
    #[serde(default)]
    torna: String,
}

/// Sends the browser to the provider.
pub async fn start(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    auth: Auth,
    Query(q): Query<StartQuery>,
) -> Result<Response, AppError> {
    let cfg = settings(&tenant)?;
    let client = match client(&state, &tenant, &cfg).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "OIDC provider unavailable");
            return Ok(refused_page(&tenant, StatusCode::BAD_GATEWAY, UNAVAILABLE));
        }
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let flow = Flow {
        tenant: tenant.id.0,
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        back: q.torna,
        at: Utc::now().timestamp(),
    };
    auth.session
        .insert(FLOW_KEY, &flow)
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
}

const REFUSED: &str =
    "L'accesso tramite il servizio di identità non è riuscito: riprovare dalla pagina di accesso.";
const NO_ACCOUNT: &str = "Nessun account attivo dell'Ordine corrisponde all'identità verificata: rivolgersi alla segreteria.";

/// The provider's answer: the code is exchanged, the ID token verified, the account found.
pub async fn callback(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    mut auth: Auth,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let cfg = settings(&tenant)?;
    let flow: Option<Flow> = auth
        .session
        .remove(FLOW_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    let Some(flow) = flow.filter(|f| {
        f.tenant == tenant.id.0
            && Utc::now().timestamp() - f.at <= 600
            && !q.state.is_empty()
            && crate::crypto::same(f.state.as_bytes(), q.state.as_bytes())
    }) else {
        return Ok(refused_page(
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            REFUSED,
        ));
    };
    if !q.error.is_empty() || q.code.is_empty() {
        return Ok(refused_page(
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            REFUSED,
        ));
    }
    let client = match client(&state, &tenant, &cfg).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "OIDC provider unavailable");
            return Ok(refused_page(&tenant, StatusCode::BAD_GATEWAY, UNAVAILABLE));
        }
    };
    let email = async {
        let response = client
            .exchange_code(AuthorizationCode::new(q.code.clone()))
            .map_err(|e| e.to_string())?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
            .request_async(&http)
            .await
            .map_err(|e| format!("token: {e}"))?;
        let id_token = response.id_token().ok_or("no ID token")?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(flow.nonce.clone()))
            .map_err(|e| format!("ID token: {e}"))?;
        if claims.email_verified() == Some(false) {
            return Err("e-mail not verified by the provider".to_owned());
        }
        claims
            .email()
            .map(|e| normalize_email(e.as_str()))
            .ok_or_else(|| "no e-mail claim".to_owned())
    }
    .await;
    let email = match email {
        Ok(e) => e,
        Err(reason) => {
            tracing::warn!(reason, "OIDC login refused");
            audit::record_alone(
                &state.db,
                tenant.id,
                Entry {
                    actor: &Actor::anonymous("servizio di identità"),
                    action: "accesso",
                    target_kind: Some("utente"),
                    target_id: None,
                    outcome: "negato",
                    details: serde_json::json!({ "metodo": "oidc", "motivo": "token" }),
                },
            )
            .await?;
            return Ok(refused_page(
                &tenant,
                StatusCode::UNPROCESSABLE_ENTITY,
                REFUSED,
            ));
        }
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let user = users::find_by_email(&mut tx, &email).await?;
    tx.commit().await?;
    let Some(user) = user.filter(User::is_active) else {
        return Ok(refused_page(
            &tenant,
            StatusCode::UNPROCESSABLE_ENTITY,
            NO_ACCOUNT,
        ));
    };
    if user.needs_second_factor() && !cfg.second_factor {
        // The provider proved who they are, not a second factor: the TOTP code is still due.
        return Pending::start(&auth, &tenant, &user, flow.back).await;
    }
    complete(&state, &tenant, &mut auth, &user, &flow.back, "oidc").await
}
