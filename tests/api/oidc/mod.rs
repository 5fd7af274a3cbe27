//! OpenID Connect login end to end, against a small provider started by the test: discovery,
//! JWKS, an authorization endpoint that consents at once, a token endpoint that checks the
//! PKCE verifier and signs real RS256 ID tokens, and a userinfo endpoint. It can misbehave in
//! ways a certified provider never does (forged tokens, userinfo for another subject);
//! `certified` runs the same login against `oidc-provider`.

mod certified;
mod node;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openssl::{hash::MessageDigest, pkey::PKey, rsa::Rsa, sign::Signer};
use patrocinio::{
    domain::access::{ManageSettings, Role, authorize},
    store::tenants::{self, ClientAuth, OidcSettings, TenantSettings},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, new_client, spawn_app};

const CLIENT_ID: &str = "patrocinio-vallenera";
const CLIENT_SECRET: &str = "segreto-del-client";

struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

struct Provider {
    issuer: String,
    /// The key whose public half is published.
    published: PKey<openssl::pkey::Private>,
    /// The key tokens are signed with (another one to forge a token).
    signing: PKey<openssl::pkey::Private>,
    /// Who the provider says logged in.
    email: String,
    codes: HashMap<String, Grant>,
    /// Answer discovery with a redirect instead of the document.
    redirect_discovery: bool,
    /// The e-mail is in the ID token (otherwise only from userinfo).
    id_token_email: bool,
    /// The subject userinfo answers for (the ID token's when `None`).
    userinfo_sub: Option<String>,
    /// The `acr` of the ID token.
    acr: Option<String>,
}

type Shared = Arc<Mutex<Provider>>;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

async fn discovery(State(p): State<Shared>) -> Response {
    let p = p.lock().unwrap();
    if p.redirect_discovery {
        return Redirect::temporary("https://elsewhere.example/.well-known/openid-configuration")
            .into_response();
    }
    Json(json!({
        "issuer": p.issuer,
        "authorization_endpoint": format!("{}/authorize", p.issuer),
        "token_endpoint": format!("{}/token", p.issuer),
        "jwks_uri": format!("{}/jwks", p.issuer),
        "userinfo_endpoint": format!("{}/userinfo", p.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }))
    .into_response()
}

async fn jwks(State(p): State<Shared>) -> Json<Value> {
    let p = p.lock().unwrap();
    let rsa = p.published.rsa().unwrap();
    Json(json!({ "keys": [{
        "kty": "RSA", "use": "sig", "alg": "RS256", "kid": "chiave-1",
        "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec()),
    }]}))
}

async fn authorize_endpoint(
    State(p): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256", "PKCE");
    assert!(q["scope"].contains("openid"));
    let code = patrocinio::crypto::random_hex::<16>();
    let redirect = q["redirect_uri"].clone();
    p.lock().unwrap().codes.insert(
        code.clone(),
        Grant {
            nonce: q["nonce"].clone(),
            challenge: q["code_challenge"].clone(),
            redirect_uri: redirect.clone(),
        },
    );
    Redirect::to(&format!("{redirect}?code={code}&state={}", q["state"])).into_response()
}

async fn token(
    State(p): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client" })),
        )
            .into_response();
    }
    let mut p = p.lock().unwrap();
    let Some(grant) = p.codes.remove(&form["code"]) else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    };
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    if b64(&Sha256::digest(verifier.as_bytes())) != grant.challenge
        || form["redirect_uri"] != grant.redirect_uri
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_grant" })),
        )
            .into_response();
    }
    let now = chrono::Utc::now().timestamp();
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": "chiave-1" });
    let mut claims = json!({
        "iss": p.issuer, "sub": format!("soggetto-{}", p.email), "aud": CLIENT_ID,
        "iat": now, "exp": now + 300, "nonce": grant.nonce,
    });
    if p.id_token_email {
        claims["email"] = json!(p.email);
        claims["email_verified"] = json!(true);
    }
    if let Some(acr) = &p.acr {
        claims["acr"] = json!(acr);
    }
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), &p.signing).unwrap();
    signer.update(signing_input.as_bytes()).unwrap();
    let id_token = format!("{signing_input}.{}", b64(&signer.sign_to_vec().unwrap()));
    Json(json!({
        "access_token": "accesso", "token_type": "Bearer", "expires_in": 300, "id_token": id_token,
    }))
    .into_response()
}

async fn userinfo(State(p): State<Shared>, headers: HeaderMap) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer accesso") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let p = p.lock().unwrap();
    let sub = p
        .userinfo_sub
        .clone()
        .unwrap_or_else(|| format!("soggetto-{}", p.email));
    Json(json!({ "sub": sub, "email": p.email, "email_verified": true })).into_response()
}

async fn start_provider(email: &str) -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let issuer = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let shared = Arc::new(Mutex::new(Provider {
        issuer,
        published: key.clone(),
        signing: key,
        email: email.into(),
        codes: HashMap::new(),
        redirect_discovery: false,
        id_token_email: true,
        userinfo_sub: None,
        acr: None,
    }));
    let app = Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .route("/authorize", get(authorize_endpoint))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    shared
}

async fn configure(app: &TestApp, provider: &Shared, second_factor: bool) {
    let t = app
        .create_tenant("vallenera", TenantSettings::default())
        .await;
    let grant = authorize::<ManageSettings>(
        t.id,
        uuid::Uuid::nil(),
        &[Role::Amministratore],
        Role::Amministratore,
    )
    .unwrap();
    let settings = TenantSettings {
        oidc: Some(OidcSettings {
            issuer: provider.lock().unwrap().issuer.clone(),
            client_id: CLIENT_ID.into(),
            client_secret: CLIENT_SECRET.into(),
            label: "SPID di prova".into(),
            second_factor,
            acr_values: String::new(),
            client_auth: ClientAuth::Secret,
            private_key: None,
        }),
        ..TenantSettings::default()
    };
    let mut tx = app.db.tenant_tx(t.id).await.unwrap();
    tenants::update(&mut tx, &grant, &t.name, None, &settings)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Walks the redirects of an OIDC login; returns the final status and Location of our callback.
async fn oidc_login(app: &TestApp, client: &reqwest::Client) -> (u16, Option<String>, String) {
    let res = client
        .get(app.url("/vallenera/accesso/oidc"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "to the provider");
    let to_provider = res.headers()["location"].to_str().unwrap().to_owned();
    let res = client.get(&to_provider).send().await.unwrap();
    assert_eq!(res.status(), 303, "back from the provider");
    let callback = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&app.url("/vallenera/accesso/oidc/ritorno?code=")));
    let res = client.get(&callback).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location, res.text().await.unwrap())
}

#[tokio::test]
async fn a_lawyer_logs_in_through_the_ordines_identity_provider() {
    let provider = start_provider("avv@ordine.it").await;
    let app = spawn_app().await;
    configure(&app, &provider, false).await;
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let client = new_client();
    let page = client
        .get(app.url("/vallenera/accesso"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Accedi con SPID di prova"));
    let (status, location, _) = oidc_login(&app, &client).await;
    assert_eq!(status, 303);
    assert_eq!(location.as_deref(), Some("/vallenera/avvocati"));
    let res = client
        .get(app.url("/vallenera/avvocati"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn staff_still_need_their_code_unless_the_provider_guarantees_a_second_factor() {
    let provider = start_provider("seg@ordine.it").await;
    let app = spawn_app().await;
    configure(&app, &provider, false).await;
    app.user(
        "vallenera",
        "seg@ordine.it",
        &[Role::Segreteria],
        true,
        None,
    )
    .await;
    let client = new_client();
    let (status, location, _) = oidc_login(&app, &client).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/vallenera/accesso/codice"))
    );
    assert_eq!(
        client
            .get(app.url("/vallenera/segreteria"))
            .send()
            .await
            .unwrap()
            .status(),
        303,
        "not logged in before the code"
    );

    let provider = start_provider("seg@ordine.it").await;
    provider.lock().unwrap().acr = Some("https://www.spid.gov.it/SpidL2".into());
    let app = spawn_app().await;
    configure(&app, &provider, true).await;
    app.user(
        "vallenera",
        "seg@ordine.it",
        &[Role::Segreteria],
        true,
        None,
    )
    .await;
    let client = new_client();
    let (status, location, _) = oidc_login(&app, &client).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/vallenera/segreteria"))
    );
}

#[tokio::test]
async fn forged_tokens_unknown_people_and_wrong_state_are_refused() {
    let provider = start_provider("avv@ordine.it").await;
    let app = spawn_app().await;
    configure(&app, &provider, false).await;
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;

    // A token signed with a key the provider does not publish.
    provider.lock().unwrap().signing = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
    let client = new_client();
    let (status, _, body) = oidc_login(&app, &client).await;
    assert_eq!(status, 422);
    assert!(body.contains("L'accesso tramite il servizio di identità non è riuscito"));
    assert_eq!(
        client
            .get(app.url("/vallenera/avvocati"))
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    let key = provider.lock().unwrap().published.clone();
    provider.lock().unwrap().signing = key;

    // Someone the Ordine does not know.
    provider.lock().unwrap().email = "sconosciuto@example.it".into();
    let (status, _, body) = oidc_login(&app, &new_client()).await;
    assert_eq!(status, 422);
    assert!(body.contains("Nessun account attivo dell'Ordine corrisponde"));
    provider.lock().unwrap().email = "avv@ordine.it".into();

    // A callback whose state is not the one this browser was given.
    let client = new_client();
    let res = client
        .get(app.url("/vallenera/accesso/oidc"))
        .send()
        .await
        .unwrap();
    let to_provider = res.headers()["location"].to_str().unwrap().to_owned();
    let res = client.get(&to_provider).send().await.unwrap();
    let callback = res.headers()["location"].to_str().unwrap().to_owned();
    let (before, _) = callback.split_once("&state=").unwrap();
    let res = client
        .get(format!("{before}&state=manomesso"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    // Each refusal is audited with its own reason.
    let t = tenants::find_by_slug(&app.db, "vallenera")
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.db.tenant_tx(t.id).await.unwrap();
    let reasons: Vec<String> = sqlx::query_scalar(
        "SELECT details->>'motivo' FROM audit_log WHERE action = 'accesso' ORDER BY seq",
    )
    .fetch_all(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(reasons, ["id_token", "no_account", "state"]);
}

#[tokio::test]
async fn the_client_does_not_follow_redirects() {
    let provider = start_provider("avv@ordine.it").await;
    let app = spawn_app().await;
    configure(&app, &provider, false).await;
    provider.lock().unwrap().redirect_discovery = true;
    let res = new_client()
        .get(app.url("/vallenera/accesso/oidc"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 502);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Il servizio di identità dell'Ordine non risponde")
    );
}

#[tokio::test]
async fn userinfo_for_another_subject_is_refused() {
    let provider = start_provider("avv@ordine.it").await;
    let app = spawn_app().await;
    configure(&app, &provider, false).await;
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    {
        let mut p = provider.lock().unwrap();
        p.id_token_email = false;
        p.userinfo_sub = Some("qualcun-altro".into());
    }
    let client = new_client();
    let (status, _, body) = oidc_login(&app, &client).await;
    assert_eq!(status, 422);
    assert!(body.contains("L'accesso tramite il servizio di identità non è riuscito"));

    // The same answer for the right subject: in.
    provider.lock().unwrap().userinfo_sub = None;
    let (status, location, _) = oidc_login(&app, &client).await;
    assert_eq!(
        (status, location.as_deref()),
        (303, Some("/vallenera/avvocati"))
    );

    let t = tenants::find_by_slug(&app.db, "vallenera")
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.db.tenant_tx(t.id).await.unwrap();
    let reasons: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT details->>'motivo' FROM audit_log WHERE action = 'accesso' ORDER BY seq",
    )
    .fetch_all(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(reasons, [Some("userinfo".to_owned()), None]);
}
