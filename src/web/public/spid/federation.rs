//! The SPID/CIE OpenID Connect federation (AgID guidelines, OpenID Federation 1.0): the identity
//! provider's metadata is taken from its entity configuration only when that chains to the
//! trust anchor the Ordine pinned, and the JWTs the relying party signs (request objects,
//! client assertions).
//!
//! The chain read at each signing (three small GETs, no redirects, 10 s each):
//!
//! 1. the trust anchor's entity configuration (`{anchor}/.well-known/openid-federation`),
//!    self-signed, verified with the pinned keys: it names the anchor's fetch endpoint;
//! 2. the provider's entity configuration (`{provider}/.well-known/openid-federation`),
//!    self-signed with the provider's federation keys, naming the anchor among its
//!    `authority_hints`;
//! 3. the anchor's subordinate statement about the provider (fetch endpoint, `?sub=`), signed
//!    with the pinned keys: its `jwks` are the provider's federation keys the anchor vouches
//!    for, and the entity configuration must verify with one of them. Its `metadata_policy`
//!    for `openid_provider` is applied (operators `value`, `add`, `default`, `one_of`,
//!    `subset_of`, `superset_of`, `essential`) and its `metadata` overrides.
//!
//! Every statement must be current (`iat` not in the future beyond a minute, `exp` not past).
//! Only a provider directly below the anchor is supported (no intermediates), and only RS256.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use openssl::{
    bn::BigNum,
    hash::MessageDigest,
    pkey::{PKey, Public},
    rsa::Rsa,
    sign::{Signer, Verifier},
};
use serde_json::{Map, Value, json};

use crate::{store::tenants::SpidSettings, web::auth::oidc::provider::http};

/// The largest statement or document read from the federation.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
/// Clock skew tolerated on `iat`.
const SKEW_SECONDS: i64 = 60;

/// A JWT's parts, decoded but not yet verified.
pub struct Jws {
    pub header: Value,
    pub claims: Value,
    signing_input: String,
    signature: Vec<u8>,
}

pub fn decode(jwt: &str) -> Result<Jws, String> {
    let mut parts = jwt.trim().split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS".into());
    };
    let json = |part: &str| -> Result<Value, String> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| "bad base64url".to_owned())?;
        serde_json::from_slice(&bytes).map_err(|_| "bad JSON".to_owned())
    };
    Ok(Jws {
        header: json(h)?,
        claims: json(c)?,
        signing_input: format!("{h}.{c}"),
        signature: URL_SAFE_NO_PAD
            .decode(s)
            .map_err(|_| "bad signature encoding".to_owned())?,
    })
}

fn rsa_key(jwk: &Value) -> Option<PKey<Public>> {
    if jwk.get("kty")?.as_str()? != "RSA" {
        return None;
    }
    let n = URL_SAFE_NO_PAD.decode(jwk.get("n")?.as_str()?).ok()?;
    let e = URL_SAFE_NO_PAD.decode(jwk.get("e")?.as_str()?).ok()?;
    let rsa =
        Rsa::from_public_components(BigNum::from_slice(&n).ok()?, BigNum::from_slice(&e).ok()?)
            .ok()?;
    PKey::from_rsa(rsa).ok()
}

impl Jws {
    /// The signature verifies (RS256) with the key of `jwks` named by the header's `kid`.
    pub fn verify(&self, jwks: &Value) -> Result<(), String> {
        if self.header.get("alg").and_then(Value::as_str) != Some("RS256") {
            return Err("algorithm other than RS256".into());
        }
        let kid = self.header.get("kid").and_then(Value::as_str);
        let keys = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("no keys")?;
        let key = keys
            .iter()
            .find(|k| kid.is_some() && k.get("kid").and_then(Value::as_str) == kid)
            .and_then(rsa_key)
            .ok_or("signing key not among the trusted ones")?;
        let mut verifier =
            Verifier::new(MessageDigest::sha256(), &key).map_err(|e| e.to_string())?;
        verifier
            .update(self.signing_input.as_bytes())
            .map_err(|e| e.to_string())?;
        if verifier.verify(&self.signature).unwrap_or(false) {
            Ok(())
        } else {
            Err("signature does not verify".into())
        }
    }

    fn str_claim(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// An entity statement issued by `iss` about `sub`, current.
    fn check_statement(&self, iss: &str, sub: &str) -> Result<(), String> {
        if self.str_claim("iss") != Some(iss) || self.str_claim("sub") != Some(sub) {
            return Err(format!("statement not issued by {iss} about {sub}"));
        }
        let now = Utc::now().timestamp();
        let exp = self.claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
        let iat = self
            .claims
            .get("iat")
            .and_then(Value::as_i64)
            .unwrap_or(i64::MAX);
        if exp <= now {
            return Err(format!("statement about {sub} expired"));
        }
        if iat > now + SKEW_SECONDS {
            return Err(format!("statement about {sub} issued in the future"));
        }
        Ok(())
    }
}

/// Signs `claims` as a JWT (RS256) with the Ordine's key; `typ` goes in the header with the
/// key's `kid` (its RFC 7638 thumbprint, as published).
pub fn sign(private_pem: &str, typ: &str, claims: &Value) -> anyhow::Result<String> {
    let jwk = crate::web::auth::oidc::provider::public_jwk(private_pem)?;
    let header = json!({ "alg": "RS256", "typ": typ, "kid": jwk["kid"] });
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

/// GETs a document of the federation (or the provider's JWKS), bounded in size.
pub async fn get(url: &str, accept: &str) -> Result<Vec<u8>, String> {
    let request = axum::http::Request::builder()
        .uri(url)
        .header(axum::http::header::ACCEPT, accept)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let response = http(request).await.map_err(|e| e.to_string())?;
    if response.status() != axum::http::StatusCode::OK {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let body = response.into_body();
    if body.len() > MAX_DOCUMENT_BYTES {
        return Err(format!("{url}: document too large"));
    }
    Ok(body)
}

async fn statement(url: &str) -> Result<Jws, String> {
    let body = get(url, "application/entity-statement+jwt").await?;
    decode(std::str::from_utf8(&body).map_err(|_| "statement not UTF-8".to_owned())?)
}

fn well_known(entity: &str) -> String {
    format!(
        "{}/.well-known/openid-federation",
        entity.trim_end_matches('/')
    )
}

/// The provider's `openid_provider` metadata, trusted through the chain to the pinned anchor.
/// `Err` says which link failed (for the log; never shown).
pub async fn provider_metadata(cfg: &SpidSettings) -> Result<Value, String> {
    let anchor = statement(&well_known(&cfg.trust_anchor)).await?;
    anchor.verify(&cfg.trust_anchor_jwks)?;
    anchor.check_statement(&cfg.trust_anchor, &cfg.trust_anchor)?;
    let fetch = anchor
        .claims
        .pointer("/metadata/federation_entity/federation_fetch_endpoint")
        .and_then(Value::as_str)
        .ok_or("the trust anchor publishes no fetch endpoint")?;

    let config = statement(&well_known(&cfg.provider)).await?;
    config.check_statement(&cfg.provider, &cfg.provider)?;
    config.verify(config.claims.get("jwks").unwrap_or(&Value::Null))?;
    let hinted = config
        .claims
        .get("authority_hints")
        .and_then(Value::as_array)
        .is_some_and(|h| h.iter().any(|a| a.as_str() == Some(&cfg.trust_anchor)));
    if !hinted {
        return Err("the provider does not name the trust anchor as its authority".into());
    }

    let mut url = url::Url::parse(fetch).map_err(|_| "bad fetch endpoint".to_owned())?;
    url.query_pairs_mut().append_pair("sub", &cfg.provider);
    let subordinate = statement(url.as_str()).await?;
    subordinate.verify(&cfg.trust_anchor_jwks)?;
    subordinate.check_statement(&cfg.trust_anchor, &cfg.provider)?;
    // The anchor vouches for the provider's federation keys: the entity configuration must be
    // signed with one of them.
    config.verify(subordinate.claims.get("jwks").unwrap_or(&Value::Null))?;

    let mut metadata = config
        .claims
        .pointer("/metadata/openid_provider")
        .and_then(Value::as_object)
        .cloned()
        .ok_or("no openid_provider metadata")?;
    if let Some(policy) = subordinate
        .claims
        .pointer("/metadata_policy/openid_provider")
        .and_then(Value::as_object)
    {
        apply_policy(&mut metadata, policy)?;
    }
    if let Some(over) = subordinate
        .claims
        .pointer("/metadata/openid_provider")
        .and_then(Value::as_object)
    {
        metadata.extend(over.clone());
    }
    if metadata.get("issuer").and_then(Value::as_str) != Some(&cfg.provider) {
        return Err("the provider's metadata names another issuer".into());
    }
    Ok(Value::Object(metadata))
}

fn as_set(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// OpenID Federation 1.0 §6.1: the operators of a metadata policy, for one entity type.
pub fn apply_policy(
    metadata: &mut Map<String, Value>,
    policy: &Map<String, Value>,
) -> Result<(), String> {
    for (name, ops) in policy {
        let Some(ops) = ops.as_object() else {
            return Err(format!("bad policy for {name}"));
        };
        if let Some(value) = ops.get("value") {
            if value.is_null() {
                metadata.remove(name);
            } else {
                metadata.insert(name.clone(), value.clone());
            }
        }
        if let Some(add) = ops.get("add") {
            let mut now = as_set(metadata.get(name).unwrap_or(&Value::Null));
            for v in as_set(add) {
                if !now.contains(&v) {
                    now.push(v);
                }
            }
            metadata.insert(name.clone(), Value::Array(now));
        }
        if let Some(default) = ops.get("default")
            && !metadata.contains_key(name)
        {
            metadata.insert(name.clone(), default.clone());
        }
        if let Some(one_of) = ops.get("one_of")
            && let Some(v) = metadata.get(name)
            && !as_set(one_of).contains(v)
        {
            return Err(format!("{name} outside the policy's one_of"));
        }
        if let Some(subset) = ops.get("subset_of")
            && let Some(v) = metadata.get(name)
        {
            let allowed = as_set(subset);
            let kept: Vec<Value> = as_set(v)
                .into_iter()
                .filter(|x| allowed.contains(x))
                .collect();
            if kept.is_empty() {
                metadata.remove(name);
            } else {
                metadata.insert(name.clone(), Value::Array(kept));
            }
        }
        if let Some(superset) = ops.get("superset_of")
            && let Some(v) = metadata.get(name)
        {
            let have = as_set(v);
            if !as_set(superset).iter().all(|x| have.contains(x)) {
                return Err(format!("{name} lacks values the policy requires"));
            }
        }
        if ops.get("essential") == Some(&Value::Bool(true)) && !metadata.contains_key(name) {
            return Err(format!("{name} is essential and missing"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metadata_policy_restricts_adds_and_refuses() {
        let mut m = json!({
            "token_endpoint_auth_methods_supported": ["private_key_jwt", "client_secret_basic"],
            "acr_values_supported": ["https://www.spid.gov.it/SpidL1"],
        })
        .as_object()
        .unwrap()
        .clone();
        let policy = json!({
            "token_endpoint_auth_methods_supported": { "subset_of": ["private_key_jwt"] },
            "acr_values_supported": { "add": ["https://www.spid.gov.it/SpidL2"] },
            "request_parameter_supported": { "default": true },
        });
        apply_policy(&mut m, policy.as_object().unwrap()).unwrap();
        assert_eq!(
            m["token_endpoint_auth_methods_supported"],
            json!(["private_key_jwt"])
        );
        assert_eq!(m["acr_values_supported"].as_array().unwrap().len(), 2);
        assert_eq!(m["request_parameter_supported"], json!(true));
        let strict = json!({ "acr_values_supported": { "superset_of": ["https://www.spid.gov.it/SpidL3"] } });
        assert!(apply_policy(&mut m, strict.as_object().unwrap()).is_err());
        let essential = json!({ "userinfo_endpoint": { "essential": true } });
        assert!(apply_policy(&mut m, essential.as_object().unwrap()).is_err());
    }

    #[test]
    fn a_signed_statement_verifies_only_with_its_key() {
        let pem = String::from_utf8(
            PKey::from_rsa(Rsa::generate(2048).unwrap())
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap(),
        )
        .unwrap();
        let other = String::from_utf8(
            PKey::from_rsa(Rsa::generate(2048).unwrap())
                .unwrap()
                .private_key_to_pem_pkcs8()
                .unwrap(),
        )
        .unwrap();
        let jwt = sign(&pem, "entity-statement+jwt", &json!({ "iss": "a" })).unwrap();
        let jws = decode(&jwt).unwrap();
        let mine = json!({ "keys": [crate::web::auth::oidc::provider::public_jwk(&pem).unwrap()] });
        let theirs =
            json!({ "keys": [crate::web::auth::oidc::provider::public_jwk(&other).unwrap()] });
        assert!(jws.verify(&mine).is_ok());
        assert!(jws.verify(&theirs).is_err());
    }
}
