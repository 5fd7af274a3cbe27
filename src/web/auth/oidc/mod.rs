//! Login through an Ordine's own identity provider (OpenID Connect): authorization code flow
//! with PKCE, state and nonce, the ID token's signature and claims verified against the
//! provider's published keys, the userinfo endpoint read when the ID token lacks the e-mail
//! (a provider's default with the code flow).
//!
//! - The account is found by the provider's subject (`sub`) once bound; the first time, by an
//!   e-mail address the provider says is verified (`email_verified` present and true), and the
//!   subject is then bound to it. A different subject with the e-mail of a bound account is
//!   refused.
//! - The token endpoint is called with the method the provider's discovery document allows for
//!   how the Ordine authenticates (client secret, basic or post; or `private_key_jwt` with the
//!   Ordine's key, published at `/{slug}/accesso/oidc/jwks.json`).
//! - A provider that guarantees a second factor (SPID, CIE, an institutional IdP with MFA) is
//!   asked for it (`acr_values`) and replaces the TOTP code only when its ID token proves it
//!   (`acr` or `amr`); otherwise staff still type their code.
//! - Every refusal is audited with its own reason; logs carry no personal data.

pub mod provider;

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use openidconnect::{
    AuthenticationContextClass, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, Scope, SubjectIdentifier, TokenResponse,
    core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims},
};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use self::provider::{TokenAuth, http, proves_second_factor, token_auth};
use super::{
    Auth,
    login::{LoginMethod, Pending, complete, oidc_refused_page},
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
/// Time allowed at the provider, from our redirect to its answer.
const FLOW_SECONDS: i64 = 600;

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

fn redirect_uri(state: &AppState, tenant: &CurrentTenant) -> String {
    format!(
        "{}/{}/accesso/oidc/ritorno",
        state.settings.public_url, tenant.slug
    )
}

fn settings(tenant: &CurrentTenant) -> Result<OidcSettings, AppError> {
    tenant.settings.oidc.clone().ok_or(AppError::NotFound)
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The client for one login: discovery (document and keys) with the issuer exactly as saved,
/// and the token endpoint's authentication method.
async fn client(
    state: &AppState,
    tenant: &CurrentTenant,
    cfg: &OidcSettings,
) -> Result<(Client, TokenAuth), String> {
    let issuer = IssuerUrl::new(cfg.issuer.clone()).map_err(|e| e.to_string())?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| format!("discovery: {e}"))?;
    let auth = token_auth(&metadata, cfg)?;
    let redirect = RedirectUrl::new(redirect_uri(state, tenant)).map_err(|e| e.to_string())?;
    let secret = match auth {
        TokenAuth::PrivateKeyJwt => None,
        _ => Some(ClientSecret::new(cfg.client_secret.clone())),
    };
    let auth_type = match auth {
        TokenAuth::ClientSecretBasic => openidconnect::AuthType::BasicAuth,
        _ => openidconnect::AuthType::RequestBody,
    };
    let client =
        CoreClient::from_provider_metadata(metadata, ClientId::new(cfg.client_id.clone()), secret)
            .set_redirect_uri(redirect)
            .set_auth_type(auth_type);
    Ok((client, auth))
}

/// Why a login through the provider did not succeed: the audit log's `motivo`, and the page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// No flow in this session, expired, or another state.
    State,
    /// The person pressed "Annulla" at the provider (`access_denied`).
    Cancelled,
    /// Any other error the provider answered with, or no code.
    ProviderError,
    /// The answer names another issuer (RFC 9207 `iss`).
    Issuer,
    /// Discovery failed: the provider does not answer (or answers wrongly).
    Discovery,
    /// The code exchange failed.
    Token,
    /// No ID token, or one that does not verify.
    IdToken,
    /// The userinfo endpoint failed, or answered for another subject.
    Userinfo,
    /// Neither the ID token nor userinfo gave an e-mail.
    NoEmail,
    /// The e-mail is not said verified (`email_verified` missing or false).
    EmailNotVerified,
    /// No active account of the Ordine has that e-mail (or that subject).
    NoAccount,
    /// The account is bound to another subject at this provider.
    SubjectMismatch,
}

impl Refusal {
    fn code(self) -> &'static str {
        match self {
            Refusal::State => "state",
            Refusal::Cancelled => "cancelled",
            Refusal::ProviderError => "provider_error",
            Refusal::Issuer => "issuer",
            Refusal::Discovery => "discovery",
            Refusal::Token => "token",
            Refusal::IdToken => "id_token",
            Refusal::Userinfo => "userinfo",
            Refusal::NoEmail => "no_email",
            Refusal::EmailNotVerified => "email_not_verified",
            Refusal::NoAccount => "no_account",
            Refusal::SubjectMismatch => "subject_mismatch",
        }
    }

    fn status(self) -> StatusCode {
        match self {
            Refusal::Discovery => StatusCode::BAD_GATEWAY,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::State => {
                "La procedura di accesso è scaduta o non è più valida: riprovare dalla pagina di accesso."
            }
            Refusal::Cancelled => {
                "L'accesso è stato annullato sul servizio di identità. È possibile riprovare oppure accedere con e-mail e password."
            }
            Refusal::ProviderError => {
                "Il servizio di identità non ha concluso l'accesso e ha risposto con un errore: riprovare più tardi oppure accedere con e-mail e password."
            }
            Refusal::Discovery => {
                "Il servizio di identità dell'Ordine non risponde: riprovare più tardi oppure accedere con e-mail e password."
            }
            Refusal::Issuer | Refusal::Token | Refusal::IdToken | Refusal::Userinfo => {
                "L'accesso tramite il servizio di identità non è riuscito: riprovare dalla pagina di accesso."
            }
            Refusal::NoEmail => {
                "Il servizio di identità non ha comunicato l'indirizzo e-mail: senza di esso l'account dell'Ordine non si può riconoscere. Accedere con e-mail e password oppure rivolgersi alla segreteria."
            }
            Refusal::EmailNotVerified => {
                "Il servizio di identità non conferma che l'indirizzo e-mail sia verificato: l'account non si può riconoscere. Verificare l'indirizzo presso il servizio di identità oppure accedere con e-mail e password."
            }
            Refusal::NoAccount => {
                "Nessun account attivo dell'Ordine corrisponde all'identità verificata: rivolgersi alla segreteria."
            }
            Refusal::SubjectMismatch => {
                "L'account con questo indirizzo e-mail è già collegato a un'altra identità del servizio di identità: rivolgersi alla segreteria."
            }
        }
    }
}

/// Audits and logs a refusal, and shows its page.
async fn refuse(
    state: &AppState,
    tenant: &CurrentTenant,
    cfg: &OidcSettings,
    refusal: Refusal,
    user: Option<&User>,
    extra: serde_json::Value,
) -> Result<Response, AppError> {
    tracing::warn!(
        reason = refusal.code(),
        user.id = user.map(|u| u.id.to_string()),
        "OIDC login refused"
    );
    let mut details = serde_json::json!({
        "metodo": "oidc",
        "emittente": cfg.issuer,
        "motivo": refusal.code(),
    });
    if let (Some(d), serde_json::Value::Object(more)) = (details.as_object_mut(), extra) {
        d.extend(more);
    }
    audit::record_alone(
        &state.db,
        tenant.id,
        Entry {
            actor: &Actor::anonymous("servizio di identità"),
            action: "accesso",
            target_kind: Some("utente"),
            target_id: user.map(|u| u.id.to_string()),
            outcome: "negato",
            details,
        },
    )
    .await?;
    Ok(oidc_refused_page(
        tenant,
        refusal.status(),
        refusal.message(),
    ))
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
    let span = tracing::info_span!("oidc.start", tenant.id = %tenant.id);
    async move {
        let client = match client(&state, &tenant, &cfg).await {
            Ok((c, _)) => c,
            Err(e) => {
                tracing::warn!(error = %e, "OIDC provider unavailable");
                let d = Refusal::Discovery;
                return Ok(oidc_refused_page(&tenant, d.status(), d.message()));
            }
        };
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge);
        if cfg.second_factor {
            for acr in cfg.acr_values() {
                request =
                    request.add_auth_context_value(AuthenticationContextClass::new(acr.into()));
            }
        }
        let (url, csrf, nonce) = request.url();
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
    .instrument(span)
    .await
}

#[derive(Deserialize, Default)]
pub struct CallbackQuery {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    #[serde(default)]
    error: String,
    /// RFC 9207: the issuer of the answer, when the provider says it.
    #[serde(default)]
    iss: String,
}

/// The provider's error code, if it is one (letters and `_`), for the audit log.
fn error_code(error: &str) -> String {
    if error.len() <= 64
        && error
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        error.to_owned()
    } else {
        "non_standard".to_owned()
    }
}

/// A short name of why an ID token did not verify (the messages can carry claim values).
pub fn id_token_problem(e: &ClaimsVerificationError) -> &'static str {
    match e {
        ClaimsVerificationError::Expired(_) => "expired",
        ClaimsVerificationError::InvalidAudience(_) => "audience",
        ClaimsVerificationError::InvalidAuthContext(_) => "acr",
        ClaimsVerificationError::InvalidAuthTime(_) => "auth_time",
        ClaimsVerificationError::InvalidIssuer(_) => "issuer",
        ClaimsVerificationError::InvalidNonce(_) => "nonce",
        ClaimsVerificationError::InvalidSubject(_) => "subject",
        ClaimsVerificationError::SignatureVerification(_) => "signature",
        ClaimsVerificationError::Unsupported(_) => "unsupported",
        _ => "other",
    }
}

/// Who the provider says logged in, from the ID token and, when needed, userinfo.
struct Identity {
    subject: String,
    email: Option<String>,
    email_verified: Option<bool>,
    acr: Option<String>,
    amr: Vec<String>,
}

/// The code exchanged, the ID token verified, userinfo read when the ID token lacks the e-mail
/// or whether it is verified.
async fn identity(
    client: &Client,
    auth: TokenAuth,
    cfg: &OidcSettings,
    flow: &Flow,
    code: &str,
) -> Result<Identity, Refusal> {
    let mut exchange = client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| {
            tracing::warn!(error = %e, "OIDC token request not possible");
            Refusal::Token
        })?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()));
    if auth == TokenAuth::PrivateKeyJwt {
        let key = cfg.private_key.as_deref().ok_or_else(|| {
            tracing::warn!("OIDC private_key_jwt without a key");
            Refusal::Token
        })?;
        let assertion =
            provider::client_assertion(key, &cfg.client_id, &cfg.issuer).map_err(|e| {
                tracing::warn!(error = %e, "OIDC client assertion not signed");
                Refusal::Token
            })?;
        exchange = exchange
            .add_extra_param(
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            )
            .add_extra_param("client_assertion", assertion);
    }
    let response = exchange.request_async(&http).await.map_err(|e| {
        tracing::warn!(error = %e, method = auth.code(), "OIDC token request failed");
        Refusal::Token
    })?;
    let id_token = response.id_token().ok_or_else(|| {
        tracing::warn!("OIDC token response without an ID token");
        Refusal::IdToken
    })?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(flow.nonce.clone()))
        .map_err(|e| {
            tracing::warn!(problem = id_token_problem(&e), "OIDC ID token refused");
            Refusal::IdToken
        })?;
    let mut found = Identity {
        subject: claims.subject().as_str().to_owned(),
        email: claims.email().map(|e| e.as_str().to_owned()),
        email_verified: claims.email_verified(),
        acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
        amr: claims
            .auth_method_refs()
            .map(|v| v.iter().map(|m| m.as_str().to_owned()).collect())
            .unwrap_or_default(),
    };
    if (found.email.is_none() || found.email_verified.is_none()) && client.user_info_url().is_some()
    {
        let request = client
            .user_info(
                response.access_token().clone(),
                Some(SubjectIdentifier::new(found.subject.clone())),
            )
            .map_err(|_| Refusal::Userinfo)?;
        let info: CoreUserInfoClaims = request.request_async(&http).await.map_err(|e| {
            // A subject mismatch names both subjects: only the kind of failure is logged.
            let kind = match e {
                openidconnect::UserInfoError::ClaimsVerification(_) => "claims",
                openidconnect::UserInfoError::Parse(_) => "parse",
                openidconnect::UserInfoError::Request(_) => "request",
                openidconnect::UserInfoError::Response(..) => "response",
                _ => "other",
            };
            tracing::warn!(problem = kind, "OIDC userinfo refused");
            Refusal::Userinfo
        })?;
        if found.email.is_none() {
            found.email = info.email().map(|e| e.as_str().to_owned());
            found.email_verified = info.email_verified();
        } else if found.email_verified.is_none()
            && info.email().map(|e| e.as_str()) == found.email.as_deref()
        {
            found.email_verified = info.email_verified();
        }
    }
    Ok(found)
}

/// The provider's answer: the code is exchanged, the ID token verified, the account found.
pub async fn callback(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    mut auth: Auth,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let cfg = settings(&tenant)?;
    let span = tracing::info_span!("oidc.callback", tenant.id = %tenant.id);
    async move {
        let flow: Option<Flow> = auth
            .session
            .remove(FLOW_KEY)
            .await
            .map_err(|e| anyhow::anyhow!("session: {e}"))?;
        let none = serde_json::Value::Null;
        let Some(flow) = flow.filter(|f| {
            f.tenant == tenant.id.0
                && Utc::now().timestamp() - f.at <= FLOW_SECONDS
                && !q.state.is_empty()
                && crate::crypto::same(f.state.as_bytes(), q.state.as_bytes())
        }) else {
            return refuse(&state, &tenant, &cfg, Refusal::State, None, none).await;
        };
        if !q.error.is_empty() {
            let refusal = if q.error == "access_denied" {
                Refusal::Cancelled
            } else {
                Refusal::ProviderError
            };
            let extra = serde_json::json!({ "errore": error_code(&q.error) });
            return refuse(&state, &tenant, &cfg, refusal, None, extra).await;
        }
        if q.code.is_empty() {
            return refuse(&state, &tenant, &cfg, Refusal::ProviderError, None, none).await;
        }
        if !q.iss.is_empty() && q.iss != cfg.issuer {
            return refuse(&state, &tenant, &cfg, Refusal::Issuer, None, none).await;
        }
        let (client, token_auth) = match client(&state, &tenant, &cfg).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "OIDC provider unavailable");
                return refuse(&state, &tenant, &cfg, Refusal::Discovery, None, none).await;
            }
        };
        let who = match identity(&client, token_auth, &cfg, &flow, &q.code).await {
            Ok(who) => who,
            Err(refusal) => {
                let extra = serde_json::json!({ "autenticazione_client": token_auth.code() });
                return refuse(&state, &tenant, &cfg, refusal, None, extra).await;
            }
        };
        let (user, bind_subject) = match account(&state, &tenant, &cfg, &who).await? {
            Ok(found) => found,
            Err((refusal, user)) => {
                return refuse(&state, &tenant, &cfg, refusal, user.as_ref(), none).await;
            }
        };
        let provider_second_factor = cfg.second_factor
            && proves_second_factor(
                &cfg,
                who.acr.as_deref(),
                &who.amr.iter().map(String::as_str).collect::<Vec<_>>(),
            );
        let method = LoginMethod::Oidc {
            issuer: cfg.issuer.clone(),
            bind_subject,
            provider_second_factor,
        };
        if user.needs_second_factor() && !provider_second_factor {
            if cfg.second_factor {
                // The provider was asked for a second factor and did not prove one: not a
                // refusal, the person types their TOTP code instead.
                tracing::info!(user.id = %user.id, "OIDC login without a proved second factor: TOTP asked");
                audit::record_alone(
                    &state.db,
                    tenant.id,
                    Entry {
                        actor: &Actor::user(user.id, &user.full_name),
                        action: "secondo_fattore_provider",
                        target_kind: Some("utente"),
                        target_id: Some(user.id.to_string()),
                        outcome: "negato",
                        details: serde_json::json!({
                            "metodo": "oidc",
                            "emittente": cfg.issuer,
                            "motivo": "acr",
                            "seguito": "codice di verifica richiesto",
                        }),
                    },
                )
                .await?;
            }
            return Pending::start(&auth, &tenant, &user, flow.back, method).await;
        }
        tracing::info!(user.id = %user.id, "OIDC login");
        complete(&state, &tenant, &mut auth, &user, &flow.back, &method, false).await
    }
    .instrument(span)
    .await
}

/// The account the identity belongs to: the one bound to its subject, else the one with its
/// verified e-mail (then the subject is to be bound, unless the account is bound to another).
async fn account(
    state: &AppState,
    tenant: &CurrentTenant,
    cfg: &OidcSettings,
    who: &Identity,
) -> Result<Result<(User, Option<String>), (Refusal, Option<User>)>, AppError> {
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    if let Some(user) = users::find_by_subject(&mut tx, &cfg.issuer, &who.subject).await? {
        tx.commit().await?;
        return Ok(if user.is_active() {
            Ok((user, None))
        } else {
            Err((Refusal::NoAccount, Some(user)))
        });
    }
    let Some(email) = who.email.as_deref().map(normalize_email) else {
        tx.commit().await?;
        return Ok(Err((Refusal::NoEmail, None)));
    };
    if who.email_verified != Some(true) {
        tx.commit().await?;
        return Ok(Err((Refusal::EmailNotVerified, None)));
    }
    let user = users::find_by_email(&mut tx, &email).await?;
    let Some(user) = user.filter(User::is_active) else {
        tx.commit().await?;
        return Ok(Err((Refusal::NoAccount, None)));
    };
    let bound = users::subject_at(&mut tx, user.id, &cfg.issuer).await?;
    tx.commit().await?;
    Ok(match bound {
        Some(other) if other != who.subject => Err((Refusal::SubjectMismatch, Some(user))),
        Some(_) => Ok((user, None)),
        None => Ok((user, Some(who.subject.clone()))),
    })
}

/// The Ordine's public key for `private_key_jwt`, for the provider to fetch (`jwks_uri`).
pub async fn jwks(tenant: CurrentTenant) -> Result<Response, AppError> {
    let key = tenant
        .settings
        .oidc
        .as_ref()
        .and_then(|o| o.private_key.as_deref())
        .ok_or(AppError::NotFound)?;
    let jwk = provider::public_jwk(key).map_err(|e| e.context("the Ordine's OIDC key"))?;
    let mut res = Json(serde_json::json!({ "keys": [jwk] })).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(res)
}
