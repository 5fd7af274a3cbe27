//! The Ordini (tenants).
//!
//! The table is readable without a tenant context (its policy for SELECT is `true`: names and
//! slugs are public); a row can be written only inside a transaction bound to that same tenant.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    db::{Db, TenantTx},
    domain::{
        access::{Grant, ManageSettings},
        tenant::{Slug, TenantId},
    },
};

/// Per-tenant settings, stored as JSON so that features can add theirs without a migration each.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantSettings {
    /// Origins (`https://host[:port]`) allowed to embed the public form in a frame.
    #[serde(default)]
    pub embed_origins: Vec<String>,
    /// Days given to answer an integration request (15 when unset).
    #[serde(default)]
    pub integration_days: Option<u32>,
    /// Councillors who must be present for a session to decide (a majority when unset).
    #[serde(default)]
    pub council_quorum: Option<u32>,
    /// The ten days of art. 126 keep running while an integration request waits (by default
    /// they stand still until the answer).
    #[serde(default)]
    pub clock_runs_during_integration: bool,
    /// The Ordine's logo in object storage, and its content type.
    #[serde(default)]
    pub logo: Option<(String, String)>,
    /// The Council adopts decisions in sessions (adunanze); when off, the rapporteur's
    /// decision is final.
    #[serde(default)]
    pub council_sessions: bool,
    /// Delibere are sealed on the server with the Ordine's own certificate
    /// (`PATROCINIO_SEAL_DIR/<slug>.pem`) instead of being signed by a councillor.
    #[serde(default)]
    pub seal: bool,
    /// Login through the Ordine's identity provider (OpenID Connect).
    #[serde(default)]
    pub oidc: Option<OidcSettings>,
    /// Signing applications by identification with SPID or CIE (art. 65, c. 1, lett. b, CAD),
    /// through the SPID/CIE OpenID Connect federation.
    #[serde(default)]
    pub spid: Option<SpidSettings>,
}

/// The Ordine as a relying party of the SPID/CIE OpenID Connect federation (AgID guidelines):
/// the identity provider and the trust anchor its metadata must chain to. Kept like the
/// staff login's provider: in the Ordine's settings, the key never logged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpidSettings {
    /// The identity provider's entity identifier, which is also its OpenID Connect issuer
    /// (its entity configuration is at `/.well-known/openid-federation`).
    pub provider: String,
    /// The trust anchor's entity identifier (AgID for SPID, the Ministry of the Interior for
    /// CIE, or a test federation).
    pub trust_anchor: String,
    /// The trust anchor's federation keys (a JWK Set), pinned: a chain is trusted only when its
    /// last statement verifies with one of them.
    pub trust_anchor_jwks: serde_json::Value,
    /// The Ordine's client identifier (its entity identifier in the federation).
    pub client_id: String,
    /// The Ordine's RSA private key (PKCS#8 PEM): it signs the request objects and the
    /// `private_key_jwt` client assertions; its public half is published at
    /// `/{slug}/istanza/firma-spid/jwks.json`.
    pub private_key: String,
    /// The Ordine's RSA encryption key (PKCS#8 PEM): the provider encrypts userinfo to its
    /// public half (JWE, `use` "enc"), published beside the signing key. Empty for an Ordine
    /// that joined before it existed, until its settings are next saved.
    #[serde(default)]
    pub encryption_key: String,
}

impl std::fmt::Debug for SpidSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpidSettings")
            .field("provider", &self.provider)
            .field("trust_anchor", &self.trust_anchor)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSettings {
    /// The issuer exactly as the provider publishes it in its discovery document (checked when
    /// saved; its `/.well-known/openid-configuration` is read at each login).
    pub issuer: String,
    pub client_id: String,
    /// Empty when the client authenticates with the Ordine's key.
    #[serde(default)]
    pub client_secret: String,
    /// What the login button says ("Accedi con …").
    pub label: String,
    /// The provider guarantees a second factor (SPID level 2, CIE, an IdP with MFA): no TOTP
    /// code after it, when its ID token proves it (`acr` among [`Self::acr_values`], or an
    /// `amr` naming a second factor).
    pub second_factor: bool,
    /// The authentication context classes asked for (`acr_values`, space-separated) when the
    /// provider guarantees a second factor; empty means [`DEFAULT_ACR_VALUES`].
    #[serde(default)]
    pub acr_values: String,
    /// How the client authenticates at the token endpoint.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// The Ordine's RSA private key (PKCS#8 PEM), generated by the service for
    /// `private_key_jwt`; its public half is published at `/{slug}/accesso/oidc/jwks.json`.
    #[serde(default)]
    pub private_key: Option<String>,
}

/// SPID (and CIE) level 2 or 3: both prove a second factor.
pub const DEFAULT_ACR_VALUES: &str =
    "https://www.spid.gov.it/SpidL2 https://www.spid.gov.it/SpidL3";

/// How the client proves itself to the provider's token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientAuth {
    /// A client secret; `client_secret_basic` or `client_secret_post`, as the provider's
    /// discovery document allows.
    #[default]
    #[serde(rename = "segreto")]
    Secret,
    /// `private_key_jwt` with the Ordine's key (required by the SPID/CIE OpenID federation).
    #[serde(rename = "chiave")]
    PrivateKey,
}

impl OidcSettings {
    /// The `acr_values` asked for, in order of preference.
    pub fn acr_values(&self) -> Vec<&str> {
        let values: Vec<&str> = self.acr_values.split_whitespace().collect();
        if values.is_empty() {
            DEFAULT_ACR_VALUES.split_whitespace().collect()
        } else {
            values
        }
    }
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("label", &self.label)
            .field("second_factor", &self.second_factor)
            .field("acr_values", &self.acr_values)
            .field("client_auth", &self.client_auth)
            .finish_non_exhaustive()
    }
}

impl TenantSettings {
    pub const DEFAULT_INTEGRATION_DAYS: u32 = 15;

    pub fn integration_days(&self) -> u32 {
        self.integration_days
            .unwrap_or(Self::DEFAULT_INTEGRATION_DAYS)
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Tenant {
    #[sqlx(try_from = "Uuid")]
    pub id: TenantId,
    pub slug: String,
    pub name: String,
    pub pec: Option<String>,
    #[sqlx(json)]
    pub settings: TenantSettings,
    pub created_at: DateTime<Utc>,
}

impl From<Uuid> for TenantId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

const COLUMNS: &str = "id, slug, name, pec, settings, created_at";

pub async fn find_by_slug(db: &Db, slug: &str) -> anyhow::Result<Option<Tenant>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE slug = $1"))
            .bind(slug)
            .fetch_optional(db.pool())
            .await?,
    )
}

pub async fn get(db: &Db, id: TenantId) -> anyhow::Result<Option<Tenant>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
            .bind(id.0)
            .fetch_optional(db.pool())
            .await?,
    )
}

pub async fn list(db: &Db) -> anyhow::Result<Vec<Tenant>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM tenants ORDER BY name"))
            .fetch_all(db.pool())
            .await?,
    )
}

pub struct NewTenant<'a> {
    pub slug: &'a Slug,
    pub name: &'a str,
    pub pec: Option<&'a str>,
    pub settings: TenantSettings,
}

/// Creates the tenant the transaction is bound to.
pub async fn create(tx: &mut TenantTx, new: NewTenant<'_>) -> anyhow::Result<Tenant> {
    let id = tx.tenant();
    Ok(sqlx::query_as(&format!(
        "INSERT INTO tenants (id, slug, name, pec, settings) VALUES ($1, $2, $3, $4, $5)
         RETURNING {COLUMNS}"
    ))
    .bind(id.0)
    .bind(new.slug.as_str())
    .bind(new.name)
    .bind(new.pec)
    .bind(sqlx::types::Json(&new.settings))
    .fetch_one(tx.conn())
    .await?)
}

/// Name, PEC and settings of the Ordine the transaction is bound to.
pub async fn update(
    tx: &mut TenantTx,
    _grant: &Grant<ManageSettings>,
    name: &str,
    pec: Option<&str>,
    settings: &TenantSettings,
) -> anyhow::Result<()> {
    let id = tx.tenant();
    sqlx::query(
        "UPDATE tenants SET name = $2, pec = $3, settings = $4, updated_at = now() WHERE id = $1",
    )
    .bind(id.0)
    .bind(name)
    .bind(pec)
    .bind(sqlx::types::Json(settings))
    .execute(tx.conn())
    .await?;
    Ok(())
}
