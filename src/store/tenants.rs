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
    /// The e-mail of a signed delibera carries the signed file (otherwise only the link).
    #[serde(default)]
    pub delibera_by_email: bool,
    /// Login through the Ordine's identity provider (OpenID Connect).
    #[serde(default)]
    pub oidc: Option<OidcSettings>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OidcSettings {
    /// The issuer URL (its `/.well-known/openid-configuration` is read).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// What the login button says ("Accedi con …").
    pub label: String,
    /// The provider guarantees a second factor (SPID level 2, CIE, an IdP with MFA): no TOTP
    /// code after it.
    pub second_factor: bool,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("label", &self.label)
            .field("second_factor", &self.second_factor)
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
