//! Signing an application by SPID/CIE identification (issue 12, point 7), end to end against a
//! small SPID/CIE OpenID federation started by the test: a trust anchor (its entity
//! configuration and fetch endpoint) and an identity provider (its entity configuration,
//! authorization and token endpoints) on one local port, every statement and token signed for
//! real with RSA keys made here.
//!
//! The provider enforces the AgID rules on the relying party: the authorization request must be
//! a request object signed with the key the service publishes, with PKCE S256, `state`,
//! `nonce`, `acr_values` and the claims request for the fiscal number; the token request must
//! authenticate with `private_key_jwt` and prove the PKCE verifier. Anything else is answered
//! with 400 and the reason, which fails the test. It can misbehave as a provider never should
//! (a forged ID token, a wrong nonce) to show that the service refuses.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use axum::{
    Form, Json, Router,
    extract::{Query, State},
    http::{StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::{get, post},
};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openssl::{
    bn::BigNum,
    hash::MessageDigest,
    pkey::{PKey, Private, Public},
    rsa::Rsa,
    sign::{Signer, Verifier},
};
use patrocinio::{
    domain::access::{ManageSettings, Role, authorize},
    store::tenants::{self, SpidSettings},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::{
    helpers::TestApp,
    public_form::{
        Draft, applicant_cf, errors_in, fill_until_attachments, lawyer_draft, new_draft,
        review_token,
    },
    workflow::{Office, SLUG, case_path, office, pdf_text},
};

const L1: &str = "https://www.spid.gov.it/SpidL1";
const L2: &str = "https://www.spid.gov.it/SpidL2";
const FISCAL: &str = "https://attributes.eid.gov.it/fiscal_number";

/// How the provider answers at its token endpoint.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Token {
    Honest,
    /// Signed with a key the provider does not publish.
    ForgedSignature,
    /// With another nonce than the one asked for.
    WrongNonce,
}

/// How the provider answers at its userinfo endpoint.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Userinfo {
    /// A JWT signed with its key.
    Signed,
    /// That JWT encrypted to the relying party's published encryption key (AgID: JWE,
    /// RSA-OAEP-256 + A256CBC-HS512, nested JWT).
    Encrypted,
    /// Encrypted, then a bit of the ciphertext flipped.
    TamperedCiphertext,
    /// Encrypted, then a bit of the authentication tag flipped.
    TamperedTag,
}

pub struct Grant {
    nonce: String,
    challenge: String,
    redirect_uri: String,
}

pub struct Idp {
    base: String,
    anchor_key: PKey<Private>,
    federation_key: PKey<Private>,
    oidc_key: PKey<Private>,
    forged_key: PKey<Private>,
    /// The Ordine's entity identifier, its client id: `{app}/vallenera`.
    client_id: String,
    /// Who logs in: `acr` and fiscal number.
    acr: String,
    fiscal_number: String,
    token: Token,
    /// The fiscal number is given by the userinfo endpoint (signed), not in the ID token.
    fiscal_in_userinfo: bool,
    userinfo: Userinfo,
    codes: HashMap<String, Grant>,
}

pub type Shared = Arc<Mutex<Idp>>;

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn jwk(key: &PKey<Private>, kid: &str) -> Value {
    let rsa = key.rsa().unwrap();
    json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid,
            "n": b64(&rsa.n().to_vec()), "e": b64(&rsa.e().to_vec()) })
}

fn jws(key: &PKey<Private>, kid: &str, typ: &str, claims: &Value) -> String {
    let header = json!({ "alg": "RS256", "typ": typ, "kid": kid });
    let input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut signer = Signer::new(MessageDigest::sha256(), key).unwrap();
    signer.update(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&signer.sign_to_vec().unwrap()))
}

/// The claims of a JWT signed by one of `jwks`' keys (by `kid`), or why not.
fn verified(jwt: &str, jwks: &Value) -> Result<Value, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    if parts.len() != 3 {
        return Err("not a JWS".into());
    }
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts[0])
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    if header["alg"] != "RS256" {
        return Err("not RS256".into());
    }
    let key = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == header["kid"]))
        .ok_or("unknown kid")?;
    let n = URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap();
    let e = URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap();
    let public: PKey<Public> = PKey::from_rsa(
        Rsa::from_public_components(
            BigNum::from_slice(&n).unwrap(),
            BigNum::from_slice(&e).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let mut verifier = Verifier::new(MessageDigest::sha256(), &public).unwrap();
    verifier
        .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
        .unwrap();
    if !verifier
        .verify(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .unwrap_or(false)
    {
        return Err("bad signature".into());
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).map_err(|e| e.to_string())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn entity_statement(body: String) -> Response {
    (
        [(header::CONTENT_TYPE, "application/entity-statement+jwt")],
        body,
    )
        .into_response()
}

fn bad(reason: impl Into<String>) -> Response {
    (StatusCode::BAD_REQUEST, reason.into()).into_response()
}

impl Idp {
    fn anchor(&self) -> String {
        format!("{}/ta", self.base)
    }
    fn provider(&self) -> String {
        format!("{}/op", self.base)
    }
}

async fn anchor_configuration(State(p): State<Shared>) -> Response {
    let p = p.lock().unwrap();
    let ta = p.anchor();
    entity_statement(jws(
        &p.anchor_key,
        "ancora",
        "entity-statement+jwt",
        &json!({
            "iss": ta, "sub": ta, "iat": now(), "exp": now() + 3600,
            "jwks": { "keys": [jwk(&p.anchor_key, "ancora")] },
            "metadata": { "federation_entity": {
                "federation_fetch_endpoint": format!("{ta}/fetch"),
            }},
        }),
    ))
}

async fn anchor_fetch(
    State(p): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let p = p.lock().unwrap();
    if q.get("sub") != Some(&p.provider()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    entity_statement(jws(
        &p.anchor_key,
        "ancora",
        "entity-statement+jwt",
        &json!({
            "iss": p.anchor(), "sub": p.provider(), "iat": now(), "exp": now() + 3600,
            "jwks": { "keys": [jwk(&p.federation_key, "federazione-op")] },
            "metadata_policy": { "openid_provider": {
                "token_endpoint_auth_methods_supported": { "subset_of": ["private_key_jwt"] },
                "acr_values_supported": { "superset_of": [L2] },
            }},
        }),
    ))
}

async fn provider_configuration(State(p): State<Shared>) -> Response {
    let p = p.lock().unwrap();
    let op = p.provider();
    entity_statement(jws(
        &p.federation_key,
        "federazione-op",
        "entity-statement+jwt",
        &json!({
            "iss": op, "sub": op, "iat": now(), "exp": now() + 3600,
            "authority_hints": [p.anchor()],
            "jwks": { "keys": [jwk(&p.federation_key, "federazione-op")] },
            "metadata": { "openid_provider": {
                "issuer": op,
                "authorization_endpoint": format!("{op}/authorize"),
                "token_endpoint": format!("{op}/token"),
                "userinfo_endpoint": format!("{op}/userinfo"),
                "jwks": { "keys": [jwk(&p.oidc_key, "op-1")] },
                "response_types_supported": ["code"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "request_object_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
                "acr_values_supported": [L1, L2, "https://www.spid.gov.it/SpidL3"],
                "claims_supported": [FISCAL],
                "code_challenge_methods_supported": ["S256"],
                "request_parameter_supported": true,
            }},
        }),
    ))
}

/// The relying party's keys, as a federation member resolves them: from its entity
/// configuration (`{client_id}/.well-known/openid-federation`), self-signed, about itself,
/// naming the trust anchor; the keys of its `openid_relying_party` metadata.
async fn client_jwks(client_id: &str, anchor: &str) -> Result<Value, String> {
    let res = reqwest::get(format!("{client_id}/.well-known/openid-federation"))
        .await
        .map_err(|e| e.to_string())?;
    let jwt = res.text().await.map_err(|e| e.to_string())?;
    let parts: Vec<&str> = jwt.split('.').collect();
    let unverified: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(parts.get(1).ok_or("not a JWT")?)
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let statement = verified(&jwt, &unverified["jwks"])?;
    if statement["iss"] != client_id
        || statement["sub"] != client_id
        || !statement["authority_hints"]
            .as_array()
            .is_some_and(|a| a.contains(&json!(anchor)))
    {
        return Err("the relying party's entity configuration".into());
    }
    Ok(statement["metadata"]["openid_relying_party"]["jwks"].clone())
}

/// The authorization endpoint: the request object is checked, then the person "logs in" at
/// once and is sent back with a code.
async fn authorization_endpoint(
    State(p): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let (client_id, anchor) = {
        let p = p.lock().unwrap();
        (p.client_id.clone(), p.anchor())
    };
    let keys = match client_jwks(&client_id, &anchor).await {
        Ok(k) => k,
        Err(e) => return bad(e),
    };
    let Some(request) = q.get("request") else {
        return bad("no request object");
    };
    let r = match verified(request, &keys) {
        Ok(r) => r,
        Err(e) => return bad(format!("request object: {e}")),
    };
    let mut p = p.lock().unwrap();
    let checks = [
        (q.get("client_id") == Some(&client_id), "client_id"),
        (
            r["client_id"] == client_id.as_str() && r["iss"] == client_id.as_str(),
            "request iss/client_id",
        ),
        (
            r["aud"]
                .as_array()
                .is_some_and(|a| a.contains(&json!(p.provider()))),
            "aud",
        ),
        (r["response_type"] == "code", "response_type"),
        (
            r["scope"]
                .as_str()
                .is_some_and(|s| s.split(' ').any(|x| x == "openid")),
            "scope",
        ),
        (r["code_challenge_method"] == "S256", "PKCE"),
        (r["nonce"].as_str().is_some_and(|n| n.len() >= 32), "nonce"),
        (r["state"].as_str().is_some_and(|s| s.len() >= 32), "state"),
        (
            r["acr_values"]
                .as_str()
                .is_some_and(|a| a.split(' ').any(|x| x == L2)),
            "acr_values",
        ),
        (!r["claims"]["id_token"][FISCAL].is_null(), "claims"),
        (r["exp"].as_i64().is_some_and(|e| e > now()), "exp"),
    ];
    if let Some((_, what)) = checks.iter().find(|(ok, _)| !ok) {
        return bad(format!("request object: {what}"));
    }
    let code = patrocinio::crypto::random_hex::<16>();
    let redirect = r["redirect_uri"].as_str().unwrap().to_owned();
    p.codes.insert(
        code.clone(),
        Grant {
            nonce: r["nonce"].as_str().unwrap().to_owned(),
            challenge: r["code_challenge"].as_str().unwrap().to_owned(),
            redirect_uri: redirect.clone(),
        },
    );
    Redirect::to(&format!(
        "{redirect}?code={code}&state={}&iss={}",
        r["state"].as_str().unwrap(),
        url::form_urlencoded::byte_serialize(p.provider().as_bytes()).collect::<String>()
    ))
    .into_response()
}

async fn token(State(p): State<Shared>, Form(f): Form<HashMap<String, String>>) -> Response {
    let (client_id, anchor) = {
        let p = p.lock().unwrap();
        (p.client_id.clone(), p.anchor())
    };
    let keys = match client_jwks(&client_id, &anchor).await {
        Ok(k) => k,
        Err(e) => return bad(e),
    };
    if f.get("client_assertion_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
    {
        return bad("not private_key_jwt");
    }
    let assertion = match verified(f.get("client_assertion").map_or("", String::as_str), &keys) {
        Ok(a) => a,
        Err(e) => return bad(format!("client assertion: {e}")),
    };
    let mut p = p.lock().unwrap();
    let token_endpoint = format!("{}/token", p.provider());
    if assertion["iss"] != client_id.as_str()
        || assertion["sub"] != client_id.as_str()
        || assertion["aud"] != token_endpoint
        || assertion["exp"].as_i64().is_none_or(|e| e <= now())
    {
        return bad("client assertion claims");
    }
    let Some(grant) = p.codes.remove(f.get("code").map_or("", String::as_str)) else {
        return bad("unknown code");
    };
    let verifier = f.get("code_verifier").map_or("", String::as_str);
    if b64(&Sha256::digest(verifier.as_bytes())) != grant.challenge {
        return bad("PKCE");
    }
    if f.get("redirect_uri") != Some(&grant.redirect_uri) {
        return bad("redirect_uri");
    }
    let nonce = match p.token {
        Token::WrongNonce => "un-altro-nonce-che-non-e-quello-chiesto".to_owned(),
        _ => grant.nonce,
    };
    let mut claims = json!({
        "iss": p.provider(), "sub": "soggetto-pairwise-1", "aud": client_id,
        "iat": now(), "exp": now() + 300, "auth_time": now() - 5, "nonce": nonce,
        "acr": p.acr, FISCAL: p.fiscal_number,
    });
    if p.fiscal_in_userinfo {
        claims.as_object_mut().unwrap().remove(FISCAL);
    }
    let key = if p.token == Token::ForgedSignature {
        &p.forged_key
    } else {
        &p.oidc_key
    };
    let id_token = jws(key, "op-1", "JWT", &claims);
    Json(json!({
        "access_token": "accesso", "token_type": "Bearer", "expires_in": 300, "id_token": id_token,
    }))
    .into_response()
}

/// Userinfo as a JWT signed with the provider's key, encrypted to the relying party's
/// encryption key (from its entity configuration, as a federation member resolves it) when
/// the provider is told so.
async fn userinfo(State(p): State<Shared>, headers: axum::http::HeaderMap) -> Response {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer accesso") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let (jwt, how, client_id, anchor) = {
        let p = p.lock().unwrap();
        let jwt = jws(
            &p.oidc_key,
            "op-1",
            "JWT",
            &json!({ "iss": p.provider(), "aud": p.client_id, "sub": "soggetto-pairwise-1",
                     "iat": now(), FISCAL: p.fiscal_number }),
        );
        (jwt, p.userinfo, p.client_id.clone(), p.anchor())
    };
    if how == Userinfo::Signed {
        return ([(header::CONTENT_TYPE, "application/jwt")], jwt).into_response();
    }
    let keys = match client_jwks(&client_id, &anchor).await {
        Ok(k) => k,
        Err(e) => return bad(e),
    };
    let Some(enc) = keys["keys"]
        .as_array()
        .and_then(|k| k.iter().find(|k| k["use"] == "enc"))
    else {
        return bad("the relying party publishes no encryption key");
    };
    if enc["alg"] != "RSA-OAEP-256" || enc["kid"].as_str().is_none_or(str::is_empty) {
        return bad("the relying party's encryption key");
    }
    let mut parts = encrypt_to(enc, jwt.as_bytes());
    let flip = |part: &mut String| {
        let mut bytes = URL_SAFE_NO_PAD.decode(&*part).unwrap();
        bytes[0] ^= 1;
        *part = b64(&bytes);
    };
    match how {
        Userinfo::TamperedCiphertext => flip(&mut parts[3]),
        Userinfo::TamperedTag => flip(&mut parts[4]),
        _ => {}
    }
    ([(header::CONTENT_TYPE, "application/jwt")], parts.join(".")).into_response()
}

/// A compact JWE (RFC 7516) of `plaintext` to the RSA `jwk`: RSA-OAEP-256 wraps a fresh
/// content key, A256CBC-HS512 (RFC 7518 §5.2) encrypts; the five parts.
fn encrypt_to(jwk: &Value, plaintext: &[u8]) -> Vec<String> {
    use openssl::{md::Md, pkey_ctx::PkeyCtx, rand::rand_bytes, rsa::Padding, symm};
    let number = |name: &str| {
        BigNum::from_slice(&URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap()).unwrap()
    };
    let public: PKey<Public> =
        PKey::from_rsa(Rsa::from_public_components(number("n"), number("e")).unwrap()).unwrap();
    let header = b64(
        json!({ "alg": "RSA-OAEP-256", "enc": "A256CBC-HS512", "cty": "JWT",
                              "kid": jwk["kid"] })
        .to_string()
        .as_bytes(),
    );
    let mut cek = [0u8; 64];
    rand_bytes(&mut cek).unwrap();
    let mut iv = [0u8; 16];
    rand_bytes(&mut iv).unwrap();
    let mut ctx = PkeyCtx::new(&public).unwrap();
    ctx.encrypt_init().unwrap();
    ctx.set_rsa_padding(Padding::PKCS1_OAEP).unwrap();
    ctx.set_rsa_oaep_md(Md::sha256()).unwrap();
    ctx.set_rsa_mgf1_md(Md::sha256()).unwrap();
    let mut ek = Vec::new();
    ctx.encrypt_to_vec(&cek, &mut ek).unwrap();
    let (mac_key, enc_key) = cek.split_at(32);
    let ciphertext =
        symm::encrypt(symm::Cipher::aes_256_cbc(), enc_key, Some(&iv), plaintext).unwrap();
    let mut mac = Signer::new(MessageDigest::sha512(), &PKey::hmac(mac_key).unwrap()).unwrap();
    mac.update(header.as_bytes()).unwrap();
    mac.update(&iv).unwrap();
    mac.update(&ciphertext).unwrap();
    mac.update(&((header.len() as u64) * 8).to_be_bytes())
        .unwrap();
    let tag = mac.sign_to_vec().unwrap();
    vec![
        header,
        b64(&ek),
        b64(&iv),
        b64(&ciphertext),
        b64(&tag[..32]),
    ]
}

fn rsa() -> PKey<Private> {
    PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap()
}

pub async fn start_federation(app: &TestApp) -> Shared {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let shared = Arc::new(Mutex::new(Idp {
        base,
        anchor_key: rsa(),
        federation_key: rsa(),
        oidc_key: rsa(),
        forged_key: rsa(),
        client_id: app.url(&format!("/{SLUG}")),
        acr: L2.into(),
        fiscal_number: format!("TINIT-{}", applicant_cf()),
        token: Token::Honest,
        fiscal_in_userinfo: false,
        userinfo: Userinfo::Signed,
        codes: HashMap::new(),
    }));
    let router = Router::new()
        .route(
            "/ta/.well-known/openid-federation",
            get(anchor_configuration),
        )
        .route("/ta/fetch", get(anchor_fetch))
        .route(
            "/op/.well-known/openid-federation",
            get(provider_configuration),
        )
        .route("/op/authorize", get(authorization_endpoint))
        .route("/op/token", post(token))
        .route("/op/userinfo", get(userinfo))
        .with_state(shared.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    shared
}

/// The Ordine of the tests, in the federation: its key, the provider, the pinned anchor key
/// (`pinned`: the anchor's own, or another one to break the chain).
pub async fn join(app: &TestApp, idp: &Shared, pinned: Option<PKey<Private>>) -> Office {
    let of = office(app).await;
    let tenant = tenants::find_by_slug(&app.db, SLUG).await.unwrap().unwrap();
    let key = String::from_utf8(rsa().private_key_to_pem_pkcs8().unwrap()).unwrap();
    let encryption_key = String::from_utf8(rsa().private_key_to_pem_pkcs8().unwrap()).unwrap();
    let (provider, trust_anchor, anchor_jwk) = {
        let p = idp.lock().unwrap();
        let anchor = pinned.as_ref().unwrap_or(&p.anchor_key);
        (p.provider(), p.anchor(), jwk(anchor, "ancora"))
    };
    let settings = tenants::TenantSettings {
        spid: Some(SpidSettings {
            provider,
            trust_anchor,
            trust_anchor_jwks: json!({ "keys": [anchor_jwk] }),
            client_id: app.url(&format!("/{SLUG}")),
            private_key: key,
            encryption_key,
        }),
        ..tenant.settings.clone()
    };
    let grant = authorize::<ManageSettings>(
        tenant.id,
        uuid::Uuid::nil(),
        &[Role::Amministratore],
        Role::Amministratore,
    )
    .unwrap();
    let mut tx = app.db.tenant_tx(tenant.id).await.unwrap();
    tenants::update(&mut tx, &grant, &tenant.name, None, &settings)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    of
}

/// "Firma con SPID o CIE" as a browser does it, without JavaScript: our button, the provider,
/// back to our callback. Returns the callback's status, Location and page.
async fn sign_with_spid(d: &Draft<'_>) -> (u16, Option<String>, String) {
    let app = d.app;
    let res = app.client.get(d.url("firma-spid")).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    if status != 303 {
        return (status, location, res.text().await.unwrap());
    }
    let to_provider = location.unwrap();
    let res = app.client.get(&to_provider).send().await.unwrap();
    assert_eq!(
        res.status(),
        303,
        "the provider: {}",
        res.text().await.unwrap()
    );
    let back = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(back.starts_with(&app.url(&format!("/{SLUG}/istanza/firma-spid/ritorno"))));
    let res = app.client.get(&back).send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    (status, location, res.text().await.unwrap())
}

/// The reason of the last refused SPID/CIE signing of `id`, from the audit log.
async fn refusal_reason(app: &TestApp, id: &str) -> (String, Option<String>) {
    use sqlx::Connection;
    let mut conn = app.admin_connection().await;
    let row = sqlx::query(
        "SELECT details FROM app.audit_log WHERE action = 'istanza.firma_spid'
            AND target_id = $1 AND outcome = 'negato' ORDER BY seq DESC LIMIT 1",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let details: Value = row.get("details");
    conn.close().await.unwrap();
    (
        details["motivo"].as_str().unwrap().to_owned(),
        details["problema"].as_str().map(str::to_owned),
    )
}

pub const SIGNED: &str =
    "Sottoscritta mediante identificazione SPID/CIE (art. 65, c. 1, lett. b, CAD): livello 2";

#[tokio::test]
async fn an_applicant_signs_with_spid_level_2_and_the_receipt_and_the_case_say_so() {
    let app = crate::helpers::spawn_app().await;
    let idp = start_federation(&app).await;
    let of = join(&app, &idp, None).await;
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;
    let (_, page) = d.get_text("allegati").await;
    assert!(
        page.contains("Firma con SPID o CIE"),
        "offered on the signature step"
    );

    let (status, location, body) = sign_with_spid(&d).await;
    assert_eq!(status, 303, "{}", errors_in(&body));
    assert_eq!(
        location.unwrap(),
        format!("/{SLUG}/istanza/{}/allegati#firma-spid", d.id)
    );
    let (_, page) = d.get_text("allegati").await;
    assert!(
        page.contains(SIGNED),
        "the signature step shows the signature"
    );
    assert!(
        page.contains("value=\"spid\" checked"),
        "the signature mode is SPID/CIE"
    );

    // No signed scan, no identity document: the application is complete.
    d.step_ok("allegati", &[("signature_mode", "spid")], "riepilogo")
        .await;
    let token = review_token(&d).await;
    let res = app
        .client
        .post(d.url("invia"))
        .form(&[("token", token.as_str()), ("warnings_confirmed", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (_, receipt) = d.get_text("ricevuta").await;
    assert!(receipt.contains(SIGNED), "the receipt page");
    let pdf = app.client.get(d.url("ricevuta.pdf")).send().await.unwrap();
    assert_eq!(pdf.status(), 200);
    let text = pdf_text(&pdf.bytes().await.unwrap());
    assert!(text.contains(SIGNED), "the receipt PDF: {text}");

    // The recorded assertion: issuer, subject, level, the ID token's hash, the CF.
    let mut conn = app.admin_connection().await;
    let row = sqlx::query(
        "SELECT issuer, subject, acr, level, id_token_sha256, codice_fiscale
           FROM app.application_identifications WHERE application_id = $1",
    )
    .bind(uuid::Uuid::parse_str(&d.id).unwrap())
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        row.get::<String, _>("issuer"),
        idp.lock().unwrap().provider()
    );
    assert_eq!(row.get::<String, _>("subject"), "soggetto-pairwise-1");
    assert_eq!(row.get::<String, _>("acr"), L2);
    assert_eq!(row.get::<i16, _>("level"), 2);
    assert_eq!(row.get::<String, _>("codice_fiscale"), applicant_cf());
    let hash: String = row.get("id_token_sha256");
    assert_eq!(hash.len(), 64);

    // The secretariat sees it as the signature.
    let seg = app.login(&of.secretariat).await;
    let id = uuid::Uuid::parse_str(&d.id).unwrap();
    let (status, case) = seg.page(&app, &case_path("segreteria", id)).await;
    assert_eq!(status, 200);
    assert!(case.contains("Firma dell'istanza: identificazione con SPID o CIE"));
    assert!(case.contains(SIGNED));
    assert!(case.contains(&hash));

    // Changing the answers after signing asks for a new signature (V26).
}

/// One refused signing: 422 on the signature step with `message`, audited with `reason`, no
/// signature recorded, and what was entered is still there.
async fn refused(app: &TestApp, d: &Draft<'_>, message: &str, reason: &str, problem: Option<&str>) {
    let (status, _, body) = sign_with_spid(d).await;
    assert_eq!(status, 422, "{}", errors_in(&body));
    assert!(body.contains(message), "{}", errors_in(&body));
    assert!(!body.contains(SIGNED));
    let (motivo, problema) = refusal_reason(app, &d.id).await;
    assert_eq!(motivo, reason);
    assert_eq!(problema.as_deref(), problem);
    let (_, page) = d.get_text("richiedente").await;
    assert!(
        page.contains(&applicant_cf()),
        "the draft keeps what was entered"
    );
    let res = d.post("allegati", &[("signature_mode", "spid")]).await;
    assert_eq!(res.status(), 422, "not signed: the step is incomplete");
    let body = res.text().await.unwrap();
    assert!(
        body.contains("premere «Firma con SPID o CIE»"),
        "{}",
        errors_in(&body)
    );
}

#[tokio::test]
async fn level_1_another_person_a_forged_token_or_a_wrong_nonce_are_refused() {
    let app = crate::helpers::spawn_app().await;
    let idp = start_federation(&app).await;
    let of = join(&app, &idp, None).await;
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;

    idp.lock().unwrap().acr = L1.into();
    refused(&app, &d, "SPID di livello 1", "livello", None).await;

    {
        let mut p = idp.lock().unwrap();
        p.acr = L2.into();
        p.fiscal_number = "TINIT-RSSMRA79B11C566R".into();
    }
    refused(
        &app,
        &d,
        "non è quello del richiedente",
        "altra_persona",
        None,
    )
    .await;

    {
        let mut p = idp.lock().unwrap();
        p.fiscal_number = format!("TINIT-{}", applicant_cf());
        p.token = Token::ForgedSignature;
    }
    refused(
        &app,
        &d,
        "non ha potuto essere verificata",
        "id_token",
        Some("signature"),
    )
    .await;

    idp.lock().unwrap().token = Token::WrongNonce;
    refused(
        &app,
        &d,
        "non ha potuto essere verificata",
        "id_token",
        Some("nonce"),
    )
    .await;

    // The same provider, honest again, signs.
    idp.lock().unwrap().token = Token::Honest;
    let (status, _, body) = sign_with_spid(&d).await;
    assert_eq!(status, 303, "{}", errors_in(&body));
    // Changed answers after signing ask for a new signature.
    d.step_ok(
        "giudizio",
        &[
            ("counterparty_name", "Verdi Carla Maria"),
            ("counterparty_address", "Via Milano 2, Vallenera"),
            ("pending", "no"),
            ("facts", crate::public_form::FACTS),
            (
                "law",
                "Artt. 337-bis e seguenti c.c.: diritto del figlio alla bigenitorialità.",
            ),
            (
                "evidence",
                "Lettere del 3 aprile e del 12 giugno 2025; testimone Gialli Paolo.",
            ),
        ],
        "avvocato",
    )
    .await;
    let res = d.post("allegati", &[("signature_mode", "spid")]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Dopo la firma con SPID o CIE i dati dell")
    );
}

#[tokio::test]
async fn a_provider_that_does_not_chain_to_the_pinned_anchor_is_not_used() {
    let app = crate::helpers::spawn_app().await;
    let idp = start_federation(&app).await;
    let of = join(&app, &idp, Some(rsa())).await;
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;
    let res = app.client.get(d.url("firma-spid")).send().await.unwrap();
    assert_eq!(res.status(), 422, "never sent to an untrusted provider");
    let body = res.text().await.unwrap();
    assert!(body.contains("non risulta riconosciuto dalla federazione SPID/CIE"));
    assert_eq!(refusal_reason(&app, &d.id).await.0, "federazione");
}

#[tokio::test]
async fn a_lawyers_filing_is_not_signed_by_identification() {
    let app = crate::helpers::spawn_app().await;
    let idp = start_federation(&app).await;
    let of = join(&app, &idp, None).await;
    let d = lawyer_draft(&app, &of.o).await;
    let (_, page) = d.get_text("allegati").await;
    assert!(
        !page.contains("Firma con SPID o CIE"),
        "not offered to a lawyer's filing"
    );
    let res = app.client.get(d.url("firma-spid")).send().await.unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("solo quando il richiedente, persona fisica, presenta da sé"));
    let res = d.post("allegati", &[("signature_mode", "spid")]).await;
    assert_eq!(res.status(), 422);
    assert!(errors_in(&res.text().await.unwrap()).contains("solo quando il richiedente"));
}

/// Posts the settings page with the SPID/CIE fields.
async fn save_settings(
    app: &TestApp,
    me: &crate::helpers::LoggedIn,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new()
        .text("_csrf", me.csrf.clone())
        .text("nome", "Consiglio dell'Ordine degli Avvocati di Vallenera")
        .text("giorni_integrazione", "15");
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    let res = me
        .client
        .post(app.url(&format!("/{SLUG}/amministrazione/impostazioni")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn the_administrator_joins_the_federation_only_with_a_chain_that_verifies() {
    let app = crate::helpers::spawn_app().await;
    let idp = start_federation(&app).await;
    let of = office(&app).await;
    let admin = app
        .user(
            SLUG,
            "amministrazione@ordine.example.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let me = app.login(&admin).await;
    let (provider, anchor, right, wrong) = {
        let p = idp.lock().unwrap();
        (
            p.provider(),
            p.anchor(),
            json!({ "keys": [jwk(&p.anchor_key, "ancora")] }).to_string(),
            json!({ "keys": [jwk(&rsa(), "ancora")] }).to_string(),
        )
    };
    let post = |keys: String| {
        let fields = [
            ("spid_gestore", provider.clone()),
            ("spid_ancora", anchor.clone()),
            ("spid_ancora_chiavi", keys),
            ("spid_client_id", app.url(&format!("/{SLUG}"))),
        ];
        let (app, me) = (&app, &me);
        async move {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            save_settings(app, me, &refs).await
        }
    };

    // Not a JWK Set; then keys that are not the anchor's: nothing saved, everything kept.
    let (status, body) = post("non è JSON".to_owned()).await;
    assert_eq!(status, 422);
    assert!(body.contains("Incollare le chiavi pubbliche del trust anchor come JWK Set"));
    let (status, body) = post(wrong).await;
    assert_eq!(status, 422);
    assert!(
        body.contains("La federazione non conferma il gestore"),
        "{}",
        errors_in(&body)
    );
    assert!(body.contains(&provider), "what was typed is kept");
    let res = app
        .client
        .get(app.url(&format!("/{SLUG}/istanza/firma-spid/jwks.json")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "not in the federation yet");

    // The anchor's own keys: saved, the Ordine's key generated and published.
    let (status, body) = post(right).await;
    assert_eq!(status, 200, "{}", errors_in(&body));
    assert!(body.contains("Impostazioni salvate."));
    let keys: Value = app
        .client
        .get(app.url(&format!("/{SLUG}/istanza/firma-spid/jwks.json")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(keys["keys"][0]["kty"], "RSA");
    assert_eq!(keys["keys"][0]["use"], "sig");
    // Its encryption key too, generated with it: RSA-OAEP-256, its own kid.
    assert_eq!(keys["keys"][1]["kty"], "RSA");
    assert_eq!(keys["keys"][1]["use"], "enc");
    assert_eq!(keys["keys"][1]["alg"], "RSA-OAEP-256");
    assert_ne!(keys["keys"][0]["kid"], keys["keys"][1]["kid"]);
    assert_ne!(keys["keys"][0]["n"], keys["keys"][1]["n"]);
    assert!(
        URL_SAFE_NO_PAD
            .decode(keys["keys"][1]["n"].as_str().unwrap())
            .unwrap()
            .len()
            >= 256,
        "at least 2048 bits"
    );

    // And an applicant signs with it, the fiscal number only in userinfo encrypted to that key.
    {
        let mut p = idp.lock().unwrap();
        p.fiscal_in_userinfo = true;
        p.userinfo = Userinfo::Encrypted;
    }
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;
    let (status, _, body) = sign_with_spid(&d).await;
    assert_eq!(status, 303, "{}", errors_in(&body));
}

#[tokio::test]
async fn the_fiscal_number_may_come_from_the_providers_signed_userinfo() {
    let app = crate::helpers::spawn_app().await;
    let idp = start_federation(&app).await;
    let of = join(&app, &idp, None).await;
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;
    {
        let mut p = idp.lock().unwrap();
        p.fiscal_in_userinfo = true;
        p.fiscal_number = "TINIT-RSSMRA79B11C566R".into();
    }
    refused(
        &app,
        &d,
        "non è quello del richiedente",
        "altra_persona",
        None,
    )
    .await;
    idp.lock().unwrap().fiscal_number = format!("TINIT-{}", applicant_cf());
    let (status, _, body) = sign_with_spid(&d).await;
    assert_eq!(status, 303, "{}", errors_in(&body));
    let (_, page) = d.get_text("allegati").await;
    assert!(page.contains(SIGNED));
}

/// AgID: the provider encrypts userinfo to the Ordine's published encryption key (JWE). The
/// fiscal number only there is read; a flipped bit of the ciphertext or of the tag is refused
/// on the signature step, audited, the draft unchanged.
#[tokio::test]
async fn the_fiscal_number_may_come_from_userinfo_encrypted_to_the_ordine() {
    let app = crate::helpers::spawn_app().await;
    let idp = start_federation(&app).await;
    let of = join(&app, &idp, None).await;
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;
    let md: Value = {
        let jwt = app
            .client
            .get(app.url(&format!("/{SLUG}/.well-known/openid-federation")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let claims = jwt.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap()
    };
    let rp = &md["metadata"]["openid_relying_party"];
    assert_eq!(rp["userinfo_encrypted_response_alg"], "RSA-OAEP-256");
    assert_eq!(rp["userinfo_encrypted_response_enc"], "A256CBC-HS512");
    assert_eq!(rp["userinfo_signed_response_alg"], "RS256");
    assert_eq!(rp["jwks"]["keys"].as_array().unwrap().len(), 2);
    assert_eq!(
        md["jwks"]["keys"].as_array().unwrap().len(),
        1,
        "the federation key is the signing key only"
    );

    for (how, tampered) in [
        (Userinfo::TamperedCiphertext, "ciphertext"),
        (Userinfo::TamperedTag, "tag"),
    ] {
        {
            let mut p = idp.lock().unwrap();
            p.fiscal_in_userinfo = true;
            p.userinfo = how;
        }
        println!("tampered {tampered}");
        refused(
            &app,
            &d,
            "non ha potuto essere verificata",
            "id_token",
            Some("userinfo_decryption"),
        )
        .await;
    }

    idp.lock().unwrap().userinfo = Userinfo::Encrypted;
    let (status, _, body) = sign_with_spid(&d).await;
    assert_eq!(status, 303, "{}", errors_in(&body));
    let (_, page) = d.get_text("allegati").await;
    assert!(page.contains(SIGNED));
}
