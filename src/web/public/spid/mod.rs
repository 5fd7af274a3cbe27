//! Signing an application by identification with SPID or CIE, from any device (issue 12,
//! point 7; art. 65, c. 1, lett. b, CAD): an OpenID Connect login at the identity provider of
//! the SPID/CIE federation the Ordine belongs to, following the AgID rules.
//!
//! - The provider's metadata comes from the federation's trust chain ([`federation`]).
//! - The authorization request is a signed request object (`request`, RFC 9101) with PKCE
//!   S256, `state` and `nonce`, `acr_values` level 2 (level 3 accepted), and the claims request
//!   for the fiscal number; the client authenticates at the token endpoint with
//!   `private_key_jwt`.
//! - The ID token's signature is verified against the provider's keys from that metadata, with
//!   its issuer, audience, expiry and nonce; then `acr` must be level 2 or higher and the fiscal
//!   number the applicant's (`domain::identification`). The fiscal number is read from the ID
//!   token or, when it is not there, from the provider's userinfo for the same subject: a JWT
//!   signed by the provider, plain or (as AgID asks) encrypted to the Ordine's encryption key
//!   ([`jwe`]: RSA-OAEP-256 or RSA-OAEP, A256CBC-HS512 or A128CBC-HS256, nested JWT).
//! - The Ordine has two RSA keys, kept in its settings: one signs (request objects, client
//!   assertions, its entity configuration), the other (`use` "enc") receives the encrypted
//!   userinfo; both are in its JWKS and its entity configuration's relying-party metadata.
//! - The assertion (issuer, subject, level, time, the ID token's SHA-256, the codice fiscale
//!   and the answers signed) is recorded with the draft; the signature mode becomes "spid".
//! - A plain redirect flow: it works without JavaScript. Every refusal is shown on the
//!   signature step with its Italian message, nothing entered is lost, and it is audited with
//!   its reason; logs carry ids only.
//!
//! Bounds: one flow per browser session (a new one replaces it), ten minutes to come back;
//! each federation document and token response at most 256 KiB, userinfo at most 64 KiB,
//! 10 s per request; the start is
//! rate limited per address like the login.

pub mod federation;
pub mod jwe;

use axum::{
    Json,
    extract::{Query, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use chrono::{DateTime, Utc};
use maud::html;
use openidconnect::{
    AdditionalClaims, ClientId, IdToken, IdTokenVerifier, IssuerUrl, Nonce, PkceCodeChallenge,
    core::{
        CoreGenderClaim, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    },
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower_sessions::Session;
use uuid::Uuid;

use super::{Access, RenderStep, Viewed, open, refuse, views};
use crate::{
    db::TenantTx,
    domain::{
        application::{
            Stage, Step,
            check::{Issue, Severity},
            form::written_cf,
        },
        codice_fiscale::CodiceFiscale,
        identification::{self, ACR_L2, ACR_L3, FISCAL_NUMBER_CLAIM},
        time,
    },
    store::{
        applications::{self, ApplicationRow},
        audit::{self, Actor, Entry},
        identifications::{self, Identification},
        tenants::{SpidSettings, Tenant},
    },
    web::{
        AppState,
        error::AppError,
        layout::{self, PageMeta},
        tenant::CurrentTenant,
    },
};

const FLOW_KEY: &str = "firma_spid_in_corso";
/// Time allowed at the provider, from our redirect to its answer.
const FLOW_SECONDS: i64 = 600;
/// The largest token response read.
const MAX_TOKEN_RESPONSE: usize = 256 * 1024;

/// What the session keeps between the redirect to the provider and its answer.
#[derive(Serialize, Deserialize)]
struct Flow {
    tenant: Uuid,
    application: Uuid,
    state: String,
    nonce: String,
    verifier: String,
    at: i64,
}

/// The fiscal number claim, besides the standard ones.
#[derive(Debug, Serialize, Deserialize)]
struct SpidClaims {
    #[serde(
        rename = "https://attributes.eid.gov.it/fiscal_number",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    fiscal_number: Option<String>,
}

impl AdditionalClaims for SpidClaims {}

type SpidIdToken = IdToken<
    SpidClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

pub fn redirect_uri(state: &AppState, tenant: &Tenant) -> String {
    format!(
        "{}{}/firma-spid/ritorno",
        state.settings.public_url,
        views::base(tenant)
    )
}

/// Why the identification did not sign the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// The applicant files through a lawyer, is an entity, or has no valid codice fiscale yet.
    NotOffered,
    NoApplicantCf,
    /// The provider's metadata could not be had through the federation.
    Unavailable,
    /// The person pressed "Annulla" at the provider.
    Cancelled,
    /// Another error from the provider, no code, or another issuer.
    ProviderError,
    /// The code exchange failed.
    Token,
    /// The ID token did not verify: the short reason.
    IdToken(&'static str),
    /// Level, fiscal number, other person.
    Identity(identification::Refusal),
}

impl Refusal {
    fn code(self) -> &'static str {
        match self {
            Refusal::NotOffered => "non_prevista",
            Refusal::NoApplicantCf => "codice_fiscale_richiedente",
            Refusal::Unavailable => "federazione",
            Refusal::Cancelled => "annullata",
            Refusal::ProviderError => "errore_provider",
            Refusal::Token => "token",
            Refusal::IdToken(_) => "id_token",
            Refusal::Identity(r) => r.code(),
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refusal::NotOffered => {
                "La firma con SPID o CIE è possibile solo quando il richiedente, persona fisica, presenta da sé l'istanza: scegliere un'altra modalità di sottoscrizione."
            }
            Refusal::NoApplicantCf => {
                "Indicare prima il codice fiscale del richiedente (passo «Richiedente»): la firma con SPID o CIE vale solo se coincide con quello della persona identificata."
            }
            Refusal::Unavailable => {
                "Il servizio di identità non risponde o non risulta riconosciuto dalla federazione SPID/CIE: l'istanza non è stata firmata. Riprovare più tardi oppure firmare in un altro modo."
            }
            Refusal::Cancelled => {
                "L'identificazione con SPID o CIE è stata annullata: l'istanza non è stata firmata. È possibile riprovare oppure scegliere un'altra modalità di sottoscrizione."
            }
            Refusal::ProviderError => {
                "Il servizio di identità non ha concluso l'identificazione e ha risposto con un errore: l'istanza non è stata firmata. Riprovare più tardi."
            }
            Refusal::Token | Refusal::IdToken(_) => {
                "L'identificazione con SPID o CIE non ha potuto essere verificata: l'istanza non è stata firmata. Riprovare."
            }
            Refusal::Identity(r) => r.message(),
        }
    }
}

/// Audits a refusal and shows the signature step again with its message (422); what was
/// entered stays as it was.
async fn refuse_signing(
    state: &AppState,
    mut tx: TenantTx,
    tenant: &Tenant,
    row: &ApplicationRow,
    refusal: Refusal,
) -> Result<Response, AppError> {
    tracing::warn!(reason = refusal.code(), "SPID/CIE signing refused");
    let mut details = json!({ "metodo": "spid", "motivo": refusal.code() });
    if let Refusal::IdToken(problem) = refusal {
        details["problema"] = json!(problem);
    }
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::anonymous("Richiedente (istanza on-line)"),
            action: "istanza.firma_spid",
            target_kind: Some("istanza"),
            target_id: Some(row.id.to_string()),
            outcome: "negato",
            details,
        },
    )
    .await?;
    let issue = Issue {
        rule: "V26",
        step: Step::Attachments,
        field: "firma_spid".into(),
        severity: Severity::Blocking,
        message: refusal.message().into(),
    };
    let form = row.form.0.clone();
    refuse(
        state,
        tx,
        (tenant, row, &form),
        RenderStep {
            step: Step::Attachments,
            extra_issues: vec![issue],
            ..RenderStep::default()
        },
    )
    .await
}

/// "Firma con SPID o CIE": sends the browser to the identity provider.
pub async fn start(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Viewed {
        tenant, row, tx, ..
    }: Viewed,
) -> Result<Response, AppError> {
    begin(&state, &session, &headers, &tenant, (&row, tx)).await
}

#[tracing::instrument(
    name = "avvio della firma con SPID o CIE",
    skip_all,
    fields(tenant.id = %tenant.id, application.id = %row.id)
)]
async fn begin(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
    tenant: &Tenant,
    (row, tx): (&ApplicationRow, TenantTx),
) -> Result<Response, AppError> {
    let id = row.id;
    if row.state() != Stage::Bozza {
        tx.commit().await?;
        return Ok(Redirect::to(&format!("{}/{id}/ricevuta", views::base(tenant))).into_response());
    }
    let cfg = tenant.settings.spid.clone().ok_or(AppError::NotFound)?;
    let form = &row.form.0;
    if !views::spid_offered(tenant, form) {
        return refuse_signing(state, tx, tenant, row, Refusal::NotOffered).await;
    }
    if CodiceFiscale::parse(form.applicant.cf()).is_err() {
        return refuse_signing(state, tx, tenant, row, Refusal::NoApplicantCf).await;
    }
    // No transaction is held while the federation is asked (three requests of up to 10 s).
    tx.commit().await?;
    let unavailable = || async {
        match open(state, tenant, headers, id, false).await? {
            Access::Granted(row, tx) => {
                refuse_signing(state, tx, tenant, &row, Refusal::Unavailable).await
            }
            Access::Denied(res) => Ok(res),
        }
    };
    let metadata = match federation::provider_metadata(&cfg).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "SPID/CIE provider not trusted or unreachable");
            return unavailable().await;
        }
    };
    let Some(authorization) = metadata
        .get("authorization_endpoint")
        .and_then(Value::as_str)
        .and_then(|u| url::Url::parse(u).ok())
    else {
        tracing::warn!("SPID/CIE provider without an authorization endpoint");
        return unavailable().await;
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let flow = Flow {
        tenant: tenant.id.0,
        application: id,
        state: crate::crypto::random_hex::<16>(),
        nonce: crate::crypto::random_hex::<16>(),
        verifier: verifier.secret().clone(),
        at: Utc::now().timestamp(),
    };
    let request = match request_object(state, tenant, &cfg, &flow, challenge.as_str()) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "SPID/CIE request object not signed");
            return unavailable().await;
        }
    };
    session
        .insert(FLOW_KEY, &flow)
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    let mut url = authorization;
    url.query_pairs_mut()
        .append_pair("client_id", &cfg.client_id)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid")
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .append_pair("request", &request);
    tracing::info!("SPID/CIE signing started");
    Ok(Redirect::to(url.as_str()).into_response())
}

/// The signed request object (AgID: every parameter inside, signed with the Ordine's key).
fn request_object(
    state: &AppState,
    tenant: &Tenant,
    cfg: &SpidSettings,
    flow: &Flow,
    challenge: &str,
) -> anyhow::Result<String> {
    let now = Utc::now().timestamp();
    let essential = json!({ FISCAL_NUMBER_CLAIM: { "essential": true } });
    federation::sign(
        &cfg.private_key,
        "oauth-authz-req+jwt",
        &json!({
            "iss": cfg.client_id,
            "aud": [cfg.provider],
            "client_id": cfg.client_id,
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": redirect_uri(state, tenant),
            "state": flow.state,
            "nonce": flow.nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "acr_values": format!("{ACR_L2} {ACR_L3}"),
            "prompt": "consent login",
            "claims": { "id_token": essential, "userinfo": essential },
            "iat": now,
            "exp": now + 300,
            "jti": crate::crypto::random_hex::<16>(),
        }),
    )
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

/// The provider's answer: the flow of this browser, the draft of this device, then
/// [`finish`].
pub async fn callback(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<CallbackQuery>,
) -> Result<Response, AppError> {
    let flow: Option<Flow> = session
        .remove(FLOW_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    let Some(flow) = flow.filter(|f| {
        f.tenant == tenant.id.0
            && Utc::now().timestamp() - f.at <= FLOW_SECONDS
            && !q.state.is_empty()
            && crate::crypto::same(f.state.as_bytes(), q.state.as_bytes())
    }) else {
        tracing::warn!(tenant.id = %tenant.id, "SPID/CIE answer without a flow of this browser");
        return Ok(expired_page(&tenant));
    };
    match open(&state, &tenant, &headers, flow.application, false).await? {
        Access::Granted(row, tx) => finish(&state, &tenant, &headers, (*row, tx), &flow, &q).await,
        Access::Denied(res) => Ok(res),
    }
}

fn expired_page(tenant: &Tenant) -> Response {
    let page = layout::page(
        &PageMeta::tenant("Firma con SPID o CIE", tenant),
        html! {
            h1 { "Firma con SPID o CIE" }
            div class="alert alert-danger" role="alert" {
                "La procedura di firma con SPID o CIE è scaduta o non è più valida: riaprire l'istanza e premere di nuovo «Firma con SPID o CIE»."
            }
            p { a href=(views::base(tenant)) { "Torna all'istanza on-line" } }
        },
    );
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}

#[tracing::instrument(
    name = "firma con SPID o CIE",
    skip_all,
    fields(tenant.id = %tenant.id, application.id = %row.id)
)]
async fn finish(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    (row, tx): (ApplicationRow, TenantTx),
    flow: &Flow,
    q: &CallbackQuery,
) -> Result<Response, AppError> {
    let id = row.id;
    if row.state() != Stage::Bozza {
        tx.commit().await?;
        return Ok(Redirect::to(&format!("{}/{id}/ricevuta", views::base(tenant))).into_response());
    }
    let cfg = tenant.settings.spid.clone().ok_or(AppError::NotFound)?;
    let form = row.form.0.clone();
    if !q.error.is_empty() {
        let refusal = if q.error == "access_denied" {
            Refusal::Cancelled
        } else {
            Refusal::ProviderError
        };
        return refuse_signing(state, tx, tenant, &row, refusal).await;
    }
    if q.code.is_empty() || (!q.iss.is_empty() && q.iss != cfg.provider) {
        return refuse_signing(state, tx, tenant, &row, Refusal::ProviderError).await;
    }
    if !views::spid_offered(tenant, &form) {
        return refuse_signing(state, tx, tenant, &row, Refusal::NotOffered).await;
    }
    // No transaction (nor row lock) is held while the provider is asked: a few requests of
    // up to 10 s each. The draft is opened again, locked, for the outcome.
    tx.commit().await?;
    let verified = verify(state, tenant, &cfg, flow, &q.code).await;
    let (row, tx) = match open(state, tenant, headers, id, true).await? {
        Access::Granted(row, tx) => (*row, tx),
        Access::Denied(res) => return Ok(res),
    };
    let mut tx = tx;
    if row.state() != Stage::Bozza {
        tx.commit().await?;
        return Ok(Redirect::to(&format!("{}/{id}/ricevuta", views::base(tenant))).into_response());
    }
    let mut form = row.form.0.clone();
    let verified = match verified {
        Ok(v) => v,
        Err(refusal) => return refuse_signing(state, tx, tenant, &row, refusal).await,
    };
    let applicant = written_cf(form.applicant.cf());
    let level = match identification::signs(
        verified.acr.as_deref(),
        verified.fiscal_number.as_deref(),
        &applicant,
    ) {
        Ok(level) => level,
        Err(r) => return refuse_signing(state, tx, tenant, &row, Refusal::Identity(r)).await,
    };
    form.signature_mode = "spid".into();
    let record = Identification {
        application_id: id,
        issuer: cfg.provider.clone(),
        subject: verified.subject,
        acr: verified.acr.unwrap_or_default(),
        level: i16::from(level),
        authenticated_at: verified.authenticated_at,
        id_token_sha256: verified.id_token_sha256,
        codice_fiscale: applicant,
        form_sha256: form.fingerprint(),
        signed_at: Utc::now(),
    };
    identifications::record(&mut tx, &record).await?;
    applications::save_form(&mut tx, id, &form, time::rome_date(Utc::now())).await?;
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::anonymous("Richiedente (istanza on-line)"),
            action: "istanza.firma_spid",
            target_kind: Some("istanza"),
            target_id: Some(id.to_string()),
            outcome: "ok",
            details: json!({
                "metodo": "spid",
                "emittente": record.issuer,
                "livello": level,
                "id_token_sha256": record.id_token_sha256,
            }),
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(level, "application signed by SPID/CIE identification");
    Ok(Redirect::to(&format!(
        "{}#firma-spid",
        views::step_url(tenant, id, Step::Attachments)
    ))
    .into_response())
}

/// What a verified ID token says.
struct Verified {
    subject: String,
    acr: Option<String>,
    fiscal_number: Option<String>,
    authenticated_at: DateTime<Utc>,
    id_token_sha256: String,
}

/// The code exchanged with `private_key_jwt`, the ID token verified against the provider's keys
/// (from the metadata the federation vouches for): signature, issuer, audience, expiry, nonce.
async fn verify(
    state: &AppState,
    tenant: &Tenant,
    cfg: &SpidSettings,
    flow: &Flow,
    code: &str,
) -> Result<Verified, Refusal> {
    let metadata = federation::provider_metadata(cfg).await.map_err(|e| {
        tracing::warn!(error = %e, "SPID/CIE provider not trusted or unreachable");
        Refusal::Unavailable
    })?;
    let token_endpoint = metadata
        .get("token_endpoint")
        .and_then(Value::as_str)
        .ok_or(Refusal::Unavailable)?
        .to_owned();
    let keys = match metadata.get("jwks") {
        Some(jwks) => jwks.clone(),
        None => {
            let uri = metadata
                .get("jwks_uri")
                .and_then(Value::as_str)
                .ok_or(Refusal::Unavailable)?;
            let body = federation::get(uri, "application/json")
                .await
                .map_err(|e| {
                    tracing::warn!(error = %e, "SPID/CIE provider keys unavailable");
                    Refusal::Unavailable
                })?;
            serde_json::from_slice(&body).map_err(|_| Refusal::Unavailable)?
        }
    };
    let provider_keys = keys.clone();
    let keys: CoreJsonWebKeySet = serde_json::from_value(keys).map_err(|_| Refusal::Unavailable)?;

    let now = Utc::now().timestamp();
    let assertion = federation::sign(
        &cfg.private_key,
        "JWT",
        &json!({
            "iss": cfg.client_id,
            "sub": cfg.client_id,
            "aud": token_endpoint,
            "jti": crate::crypto::random_hex::<16>(),
            "iat": now,
            "exp": now + 60,
        }),
    )
    .map_err(|e| {
        tracing::warn!(error = %e, "SPID/CIE client assertion not signed");
        Refusal::Token
    })?;
    let body = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .append_pair("redirect_uri", &redirect_uri(state, tenant))
        .append_pair("client_id", &cfg.client_id)
        .append_pair("code_verifier", &flow.verifier)
        .append_pair(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .append_pair("client_assertion", &assertion)
        .finish();
    let request = axum::http::Request::builder()
        .method("POST")
        .uri(&token_endpoint)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json")
        .body(body.into_bytes())
        .map_err(|_| Refusal::Token)?;
    let response = crate::web::auth::oidc::provider::http(request)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "SPID/CIE token request failed");
            Refusal::Token
        })?;
    if response.status() != StatusCode::OK || response.body().len() > MAX_TOKEN_RESPONSE {
        tracing::warn!(status = %response.status(), "SPID/CIE token request refused");
        return Err(Refusal::Token);
    }
    let answer = serde_json::from_slice::<Value>(response.body()).unwrap_or(Value::Null);
    let raw = answer
        .get("id_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| {
            tracing::warn!("SPID/CIE token response without an ID token");
            Refusal::IdToken("missing")
        })?;
    let token: SpidIdToken = raw.parse().map_err(|_| Refusal::IdToken("malformed"))?;
    let issuer = IssuerUrl::new(cfg.provider.clone()).map_err(|_| Refusal::Unavailable)?;
    let verifier =
        IdTokenVerifier::new_public_client(ClientId::new(cfg.client_id.clone()), issuer, keys);
    let claims = token
        .claims(&verifier, &Nonce::new(flow.nonce.clone()))
        .map_err(|e| {
            let problem = crate::web::auth::oidc::id_token_problem(&e);
            tracing::warn!(problem, "SPID/CIE ID token refused");
            Refusal::IdToken(problem)
        })?;
    let subject = claims.subject().as_str().to_owned();
    let mut fiscal_number = claims.additional_claims().fiscal_number.clone();
    // Not in the ID token: the provider's userinfo, for the same subject.
    if fiscal_number.is_none()
        && let Some(endpoint) = metadata.get("userinfo_endpoint").and_then(Value::as_str)
        && let Some(access) = answer.get("access_token").and_then(Value::as_str)
    {
        fiscal_number = userinfo(endpoint, access, cfg, &provider_keys, &subject).await?;
    }
    Ok(Verified {
        subject,
        acr: claims.auth_context_ref().map(|a| a.as_str().to_owned()),
        fiscal_number,
        authenticated_at: claims.auth_time().unwrap_or_else(|| claims.issue_time()),
        id_token_sha256: hex::encode(Sha256::digest(raw.as_bytes())),
    })
}

/// The fiscal number from the provider's userinfo endpoint: a JWT signed with the provider's
/// keys, issued by it for this client about `subject`, either as is or encrypted to the
/// Ordine's encryption key (JWE, nested JWT, as AgID asks: see [`jwe`]); plain JSON is read
/// too, for the same subject. An answer that does not decrypt, or whose tag or signature does
/// not verify, is refused. At most [`jwe::MAX_JWE`] bytes are read.
async fn userinfo(
    endpoint: &str,
    access_token: &str,
    cfg: &SpidSettings,
    provider_keys: &Value,
    subject: &str,
) -> Result<Option<String>, Refusal> {
    let request = axum::http::Request::builder()
        .uri(endpoint)
        .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
        .header(header::ACCEPT, "application/jwt, application/json")
        .body(Vec::new())
        .map_err(|_| Refusal::IdToken("userinfo"))?;
    let response = crate::web::auth::oidc::provider::http(request)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "SPID/CIE userinfo request failed");
            Refusal::IdToken("userinfo")
        })?;
    if response.status() != StatusCode::OK || response.body().len() > jwe::MAX_JWE {
        tracing::warn!(status = %response.status(), "SPID/CIE userinfo refused");
        return Err(Refusal::IdToken("userinfo"));
    }
    let body = response.body();
    let claims = match serde_json::from_slice::<Value>(body) {
        Ok(json) => json,
        Err(_) => {
            let text = std::str::from_utf8(body)
                .map_err(|_| Refusal::IdToken("userinfo"))?
                .trim();
            // Five parts: a JWE whose content is the provider's signed JWT.
            let decrypted;
            let signed = if text.split('.').count() == 5 {
                if cfg.encryption_key.is_empty() {
                    tracing::warn!(
                        "SPID/CIE userinfo encrypted but the Ordine has no encryption key yet"
                    );
                    return Err(Refusal::IdToken("userinfo_decryption"));
                }
                let plain = jwe::decrypt(text, &cfg.encryption_key).map_err(|e| {
                    tracing::warn!(error = ?e, "SPID/CIE userinfo does not decrypt");
                    Refusal::IdToken("userinfo_decryption")
                })?;
                decrypted = String::from_utf8(plain)
                    .map_err(|_| Refusal::IdToken("userinfo_decryption"))?;
                decrypted.as_str()
            } else {
                text
            };
            let jws = federation::decode(signed).map_err(|_| Refusal::IdToken("userinfo"))?;
            jws.verify(provider_keys).map_err(|e| {
                tracing::warn!(error = %e, "SPID/CIE userinfo signature refused");
                Refusal::IdToken("userinfo_signature")
            })?;
            let aud_ok = match jws.claims.get("aud") {
                Some(Value::String(a)) => a == &cfg.client_id,
                Some(Value::Array(a)) => a.iter().any(|x| x.as_str() == Some(&cfg.client_id)),
                _ => false,
            };
            if jws.claims.get("iss").and_then(Value::as_str) != Some(&cfg.provider) || !aud_ok {
                return Err(Refusal::IdToken("userinfo"));
            }
            jws.claims
        }
    };
    if claims.get("sub").and_then(Value::as_str) != Some(subject) {
        tracing::warn!("SPID/CIE userinfo for another subject");
        return Err(Refusal::IdToken("userinfo_subject"));
    }
    Ok(claims
        .get(FISCAL_NUMBER_CLAIM)
        .and_then(Value::as_str)
        .map(str::to_owned))
}

/// How long the Ordine's entity configuration is valid.
const ENTITY_CONFIGURATION_SECONDS: i64 = 24 * 3600;

/// The Ordine's entity configuration as a relying party of the federation (OpenID Federation
/// 1.0; AgID): a statement about itself, signed with its key, naming the trust anchor as its
/// authority and carrying its `openid_relying_party` metadata (return address, keys,
/// `private_key_jwt`, RS256). Served at `{client id}/.well-known/openid-federation` when the
/// client id is `{public URL}/{slug}`, as the settings suggest. Trust marks issued at
/// onboarding are not carried yet.
pub async fn entity_configuration(
    State(state): State<AppState>,
    tenant: CurrentTenant,
) -> Result<Response, AppError> {
    let cfg = tenant.settings.spid.as_ref().ok_or(AppError::NotFound)?;
    let jwk = crate::web::auth::oidc::provider::public_jwk(&cfg.private_key)
        .map_err(|e| e.context("the Ordine's SPID key"))?;
    let keys = relying_party_keys(cfg)?;
    let mut relying_party = json!({
        "client_id": cfg.client_id,
        "client_name": tenant.name,
        "client_registration_types": ["automatic"],
        "redirect_uris": [redirect_uri(&state, &tenant)],
        "response_types": ["code"],
        "grant_types": ["authorization_code"],
        "jwks": keys,
        "token_endpoint_auth_method": "private_key_jwt",
        "id_token_signed_response_alg": "RS256",
        "userinfo_signed_response_alg": "RS256",
        "request_object_signing_alg": "RS256",
    });
    if !cfg.encryption_key.is_empty() {
        relying_party["userinfo_encrypted_response_alg"] = json!(USERINFO_ALG);
        relying_party["userinfo_encrypted_response_enc"] = json!(USERINFO_ENC);
    }
    let now = Utc::now().timestamp();
    let statement = federation::sign(
        &cfg.private_key,
        "entity-statement+jwt",
        &json!({
            "iss": cfg.client_id,
            "sub": cfg.client_id,
            "iat": now,
            "exp": now + ENTITY_CONFIGURATION_SECONDS,
            "jwks": { "keys": [jwk] },
            "authority_hints": [cfg.trust_anchor],
            "metadata": { "openid_relying_party": relying_party },
        }),
    )
    .map_err(|e| e.context("the Ordine's entity configuration"))?;
    let mut res = statement.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/entity-statement+jwt"),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(res)
}

/// What the Ordine asks the provider to encrypt userinfo with (AgID: RSA-OAEP-256 with
/// A256CBC-HS512; the provider may still use the other supported ones, see [`jwe`]).
const USERINFO_ALG: &str = "RSA-OAEP-256";
const USERINFO_ENC: &str = "A256CBC-HS512";

/// The Ordine's public keys as a relying party: the signing key (`use` "sig") and, once it
/// has one, the encryption key (`use` "enc", RSA-OAEP-256), each with its RFC 7638 `kid`.
fn relying_party_keys(cfg: &SpidSettings) -> Result<Value, AppError> {
    let mut keys = vec![
        crate::web::auth::oidc::provider::public_jwk(&cfg.private_key)
            .map_err(|e| e.context("the Ordine's SPID key"))?,
    ];
    if !cfg.encryption_key.is_empty() {
        let mut enc = crate::web::auth::oidc::provider::public_jwk(&cfg.encryption_key)
            .map_err(|e| e.context("the Ordine's SPID encryption key"))?;
        enc["use"] = json!("enc");
        enc["alg"] = json!(USERINFO_ALG);
        keys.push(enc);
    }
    Ok(json!({ "keys": keys }))
}

/// The Ordine's public keys for the SPID/CIE provider: the signing key (request objects,
/// client assertions) and the encryption key (userinfo).
pub async fn jwks(tenant: CurrentTenant) -> Result<Response, AppError> {
    let cfg = tenant.settings.spid.as_ref().ok_or(AppError::NotFound)?;
    let mut res = Json(relying_party_keys(cfg)?).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(res)
}
