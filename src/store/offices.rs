//! The judicial offices of an Ordine's competence map (art. 124).

use uuid::Uuid;

use crate::db::TenantTx;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Office {
    pub id: Uuid,
    pub name: String,
}

pub async fn list_active(tx: &mut TenantTx) -> anyhow::Result<Vec<Office>> {
    Ok(
        sqlx::query_as(
            "SELECT id, name FROM judicial_offices WHERE active ORDER BY position, name",
        )
        .fetch_all(tx.conn())
        .await?,
    )
}

pub async fn create(tx: &mut TenantTx, name: &str, position: i32) -> anyhow::Result<Uuid> {
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
