//! Who has an application's page open right now: one row per live socket, refreshed while it
//! lives; rows not refreshed for a minute are ignored (an instance that died leaves them).

use uuid::Uuid;

use crate::db::TenantTx;

/// Seconds after which a presence not refreshed no longer counts.
pub const FRESH_SECONDS: i64 = 60;

pub async fn join(
    tx: &mut TenantTx,
    socket: Uuid,
    application: Uuid,
    user: Uuid,
    label: &str,
) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "INSERT INTO presence (socket_id, tenant_id, application_id, user_id, label)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (socket_id) DO UPDATE SET seen_at = now()",
    )
    .bind(socket)
    .bind(tenant)
    .bind(application)
    .bind(user)
    .bind(label)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn refresh(tx: &mut TenantTx, socket: Uuid) -> anyhow::Result<()> {
    sqlx::query("UPDATE presence SET seen_at = now() WHERE socket_id = $1")
        .bind(socket)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn leave(tx: &mut TenantTx, socket: Uuid) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM presence WHERE socket_id = $1")
        .bind(socket)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// The people (other than `me`) looking at the application: (user, label), one row each.
pub async fn others(
    tx: &mut TenantTx,
    application: Uuid,
    me: Uuid,
) -> anyhow::Result<Vec<(Uuid, String)>> {
    Ok(sqlx::query_as(
        "SELECT DISTINCT ON (user_id) user_id, label FROM presence
         WHERE application_id = $1 AND user_id <> $2
           AND seen_at > now() - make_interval(secs => $3)
         ORDER BY user_id, seen_at DESC",
    )
    .bind(application)
    .bind(me)
    .bind(FRESH_SECONDS as f64)
    .fetch_all(tx.conn())
    .await?)
}
