//! Talking to an Ordine's OpenID Connect provider: the HTTP client (no redirects, timeouts),
//! discovery as checked when the settings are saved, the token endpoint's authentication method
//! chosen from the discovery document, and the Ordine's own key pair for `private_key_jwt`.

use std::time::Duration;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use openidconnect::{
    IssuerUrl,
    core::{CoreClientAuthMethod, CoreJwsSigningAlgorithm, CoreProviderMetadata},
};
use openssl::{hash::MessageDigest, pkey::PKey, rsa::Rsa, sign::Signer};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::store::tenants::{ClientAuth, OidcSettings};

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The HTTP client of every exchange with a provider: redirects are never followed (a
/// redirect is an error), and nothing waits long.
pub async fn http(
    request: openidconnect::HttpRequest,
) -> Result<openidconnect::HttpResponse, HttpError> {
    static CLIENT: std::sync::LazyLock<reqwest::Client> = std::sync::LazyLock::new(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
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

/// How the client authenticates at the token endpoint for one login.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAuth {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

impl TokenAuth {
    pub fn code(self) -> &'static str {
        match self {
            TokenAuth::ClientSecretBasic => "client_secret_basic",
            TokenAuth::ClientSecretPost => "client_secret_post",
            TokenAuth::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// The method the provider accepts for how this Ordine authenticates: with a secret,
/// `client_secret_basic` if the provider lists it, else `client_secret_post`; with the key,
/// `private_key_jwt` signed RS256. A provider whose document lists no methods accepts
/// `client_secret_basic` only (OpenID Connect Discovery §3). `Err` is an Italian message.
pub fn token_auth(
    metadata: &CoreProviderMetadata,
    cfg: &OidcSettings,
) -> Result<TokenAuth, String> {
    let basic_only = vec![CoreClientAuthMethod::ClientSecretBasic];
    let supported = metadata
        .token_endpoint_auth_methods_supported()
        .unwrap_or(&basic_only);
    let listed = || {
        supported
            .iter()
            .map(|m| m.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match cfg.client_auth {
        ClientAuth::Secret => {
            if supported.contains(&CoreClientAuthMethod::ClientSecretBasic) {
                Ok(TokenAuth::ClientSecretBasic)
            } else if supported.contains(&CoreClientAuthMethod::ClientSecretPost) {
                Ok(TokenAuth::ClientSecretPost)
            } else {
                Err(format!(
                    "Il provider non accetta l'autenticazione con client secret (metodi ammessi: {}): scegliere la chiave dell'Ordine.",
                    listed()
                ))
            }
        }
        ClientAuth::PrivateKey => {
            let rs256 = metadata
                .token_endpoint_auth_signing_alg_values_supported()
                .is_none_or(|algs| algs.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256));
            if supported.contains(&CoreClientAuthMethod::PrivateKeyJwt) && rs256 {
                Ok(TokenAuth::PrivateKeyJwt)
            } else {
                Err(format!(
                    "Il provider non accetta l'autenticazione con chiave privata firmata RS256 (private_key_jwt; metodi ammessi: {}).",
                    listed()
                ))
            }
        }
    }
}

/// The URL of an issuer's discovery document.
pub fn well_known(issuer: &str) -> String {
    format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    )
}

/// Discovery as checked when the settings are saved: the provider's document is read at
/// `typed`'s `/.well-known/openid-configuration`; the issuer it publishes must be `typed`, give
/// or take a final `/`, and is what gets saved (the login compares it exactly). Then the full
/// discovery (document and keys) must succeed with it, and the token endpoint accept how this
/// Ordine authenticates. `Ok` is the issuer to save, `Err` the field at fault and an Italian
/// message.
pub async fn check_at_save(
    typed: &str,
    cfg: &OidcSettings,
) -> Result<String, (&'static str, String)> {
    check_issuer(typed)
        .await
        .map_err(|m| ("oidc_emittente", m))
        .and_then(|(issuer, metadata)| match token_auth(&metadata, cfg) {
            Ok(_) => Ok(issuer),
            Err(m) => Err(("oidc_autenticazione", m)),
        })
}

async fn check_issuer(typed: &str) -> Result<(String, CoreProviderMetadata), String> {
    let url = well_known(typed);
    let unreachable = || {
        format!(
            "Il documento di configurazione del provider ({url}) non è raggiungibile o non è valido: controllare l'emittente."
        )
    };
    let request = axum::http::Request::builder()
        .uri(&url)
        .header(axum::http::header::ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| unreachable())?;
    let response = http(request).await.map_err(|e| {
        tracing::warn!(error = %e, "OIDC discovery failed at save");
        unreachable()
    })?;
    if response.status() != axum::http::StatusCode::OK {
        tracing::warn!(status = %response.status(), "OIDC discovery failed at save");
        return Err(unreachable());
    }
    let published = serde_json::from_slice::<Value>(response.body())
        .ok()
        .and_then(|v| v.get("issuer").and_then(Value::as_str).map(str::to_owned))
        .ok_or_else(unreachable)?;
    if published.trim_end_matches('/') != typed.trim_end_matches('/') {
        return Err(format!(
            "Il provider dichiara come emittente «{published}», diverso da quello indicato: indicare l'emittente esattamente come lo pubblica il provider."
        ));
    }
    let issuer = IssuerUrl::new(published.clone()).map_err(|_| unreachable())?;
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "OIDC discovery failed at save");
            unreachable()
        })?;
    if metadata.token_endpoint().is_none() {
        return Err("Il provider non pubblica un token endpoint: il flusso con codice di autorizzazione non è possibile.".into());
    }
    Ok((published, metadata))
}

/// A new RSA key pair for `private_key_jwt`, as PKCS#8 PEM.
pub async fn generate_key() -> anyhow::Result<String> {
    tokio::task::spawn_blocking(|| {
        let key = PKey::from_rsa(Rsa::generate(2048)?)?;
        Ok(String::from_utf8(key.private_key_to_pem_pkcs8()?)?)
    })
    .await?
}

/// The public half of the key as a JWK (`kid`: its RFC 7638 thumbprint).
pub fn public_jwk(private_pem: &str) -> anyhow::Result<Value> {
    let rsa = Rsa::private_key_from_pem(private_pem.as_bytes())?;
    let n = URL_SAFE_NO_PAD.encode(rsa.n().to_vec());
    let e = URL_SAFE_NO_PAD.encode(rsa.e().to_vec());
    // RFC 7638: the required members, in lexicographic order, without whitespace.
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    Ok(json!({ "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e }))
}

/// The JWT that authenticates the client (`private_key_jwt`, RFC 7523): issued by and about
/// the client, for the provider (`aud` is the issuer identifier, as OpenID Connect Core's 2025
/// errata and RFC 7523bis ask), valid one minute, used once.
pub fn client_assertion(
    private_pem: &str,
    client_id: &str,
    issuer: &str,
) -> anyhow::Result<String> {
    let jwk = public_jwk(private_pem)?;
    let header = json!({ "alg": "RS256", "typ": "JWT", "kid": jwk["kid"] });
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": issuer,
        "jti": crate::crypto::random_hex::<16>(),
        "iat": now,
        "exp": now + 60,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let key = PKey::private_key_from_pem(private_pem.as_bytes())?;
    let mut signer = Signer::new(MessageDigest::sha256(), &key)?;
    signer.update(input.as_bytes())?;
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signer.sign_to_vec()?)
    ))
}

/// `amr` values (RFC 8176) that name a second factor by themselves.
const SECOND_FACTOR_AMR: [&str; 4] = ["mfa", "otp", "hwk", "sc"];

/// The ID token proves a second factor: its `acr` is one of those asked for, or its `amr`
/// names one.
pub fn proves_second_factor(cfg: &OidcSettings, acr: Option<&str>, amr: &[&str]) -> bool {
    acr.is_some_and(|acr| cfg.acr_values().contains(&acr))
        || amr.iter().any(|m| SECOND_FACTOR_AMR.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(acr_values: &str) -> OidcSettings {
        OidcSettings {
            issuer: "https://id.example.it".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            label: "SPID".into(),
            second_factor: true,
            acr_values: acr_values.into(),
            client_auth: ClientAuth::Secret,
            private_key: None,
        }
    }

    #[test]
    fn a_second_factor_is_proved_by_acr_or_amr() {
        let spid = cfg("");
        assert!(proves_second_factor(
            &spid,
            Some("https://www.spid.gov.it/SpidL2"),
            &[]
        ));
        assert!(proves_second_factor(
            &spid,
            Some("https://www.spid.gov.it/SpidL3"),
            &[]
        ));
        assert!(!proves_second_factor(
            &spid,
            Some("https://www.spid.gov.it/SpidL1"),
            &["pwd"]
        ));
        assert!(proves_second_factor(&spid, None, &["pwd", "otp"]));
        assert!(proves_second_factor(&spid, None, &["hwk"]));
        assert!(!proves_second_factor(&spid, None, &[]));
        let own = cfg("urn:ordine:mfa");
        assert!(proves_second_factor(&own, Some("urn:ordine:mfa"), &[]));
        assert!(!proves_second_factor(
            &own,
            Some("https://www.spid.gov.it/SpidL2"),
            &[]
        ));
    }

    #[test]
    fn the_client_assertion_is_signed_with_the_published_key() {
        let pem = String::from_utf8(
            PKey::from_rsa(Rsa::generate(2048).unwrap())
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap(),
        )
        .unwrap();
        let jwk = public_jwk(&pem).unwrap();
        let jwt = client_assertion(&pem, "cliente", "https://id.example.it").unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["kid"], jwk["kid"]);
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["iss"], "cliente");
        assert_eq!(claims["sub"], "cliente");
        assert_eq!(claims["aud"], "https://id.example.it");
        let n = openssl::bn::BigNum::from_slice(
            &URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let e = openssl::bn::BigNum::from_slice(
            &URL_SAFE_NO_PAD.decode(jwk["e"].as_str().unwrap()).unwrap(),
        )
        .unwrap();
        let public = PKey::from_rsa(Rsa::from_public_components(n, e).unwrap()).unwrap();
        let mut verifier = openssl::sign::Verifier::new(MessageDigest::sha256(), &public).unwrap();
        verifier
            .update(format!("{}.{}", parts[0], parts[1]).as_bytes())
            .unwrap();
        assert!(
            verifier
                .verify(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
                .unwrap()
        );
    }
}
