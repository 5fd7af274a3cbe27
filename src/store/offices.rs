//! The judicial offices of an Ordine's competence map (art. 124).

use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::access::{Grant, ManageSettings},
};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Office {
    pub id: Uuid,
    pub name: String,
    /// Where the copies of admissions go (art. 126 c.2).
    pub pec: Option<String>,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct OfficeEntry {
    pub id: Uuid,
    pub name: String,
    pub active: bool,
    pub pec: Option<String>,
}

pub async fn list_all(
    tx: &mut TenantTx,
    _grant: &Grant<ManageSettings>,
) -> anyhow::Result<Vec<OfficeEntry>> {
    Ok(sqlx::query_as(
        "SELECT id, name, active, pec FROM judicial_offices
         ORDER BY active DESC, position, name",
    )
    .fetch_all(tx.conn())
    .await?)
}

pub async fn set_active(
    tx: &mut TenantTx,
    _grant: &Grant<ManageSettings>,
    id: Uuid,
    active: bool,
) -> anyhow::Result<bool> {
    Ok(
        sqlx::query("UPDATE judicial_offices SET active = $2 WHERE id = $1")
            .bind(id)
            .bind(active)
            .execute(tx.conn())
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn list_active(tx: &mut TenantTx) -> anyhow::Result<Vec<Office>> {
    Ok(sqlx::query_as(
        "SELECT id, name, pec FROM judicial_offices WHERE active ORDER BY position, name",
    )
    .fetch_all(tx.conn())
    .await?)
}

/// Adds an office to the competence map (or reactivates it).
pub async fn create(
    tx: &mut TenantTx,
    _grant: &Grant<ManageSettings>,
    name: &str,
    position: i32,
) -> anyhow::Result<Uuid> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO judicial_offices (tenant_id, name, position) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, name) DO UPDATE SET active = true RETURNING id",
    )
    .bind(tenant)
    .bind(name)
    .bind(position)
    .fetch_one(tx.conn())
    .await?)
}

/// Sets (or, with `None`, clears) an office's PEC address; `false` if there is no such office.
pub async fn set_pec(
    tx: &mut TenantTx,
    _grant: &Grant<ManageSettings>,
    id: Uuid,
    pec: Option<&str>,
) -> anyhow::Result<bool> {
    Ok(
        sqlx::query("UPDATE judicial_offices SET pec = $2 WHERE id = $1")
            .bind(id)
            .bind(pec)
            .execute(tx.conn())
            .await?
            .rows_affected()
            == 1,
    )
}

/// An office of the map in the list, with its PEC.
pub async fn get_active(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<Office>> {
    Ok(
        sqlx::query_as("SELECT id, name, pec FROM judicial_offices WHERE id = $1 AND active")
            .bind(id)
            .fetch_optional(tx.conn())
            .await?,
    )
}
