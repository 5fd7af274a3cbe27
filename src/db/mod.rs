//! The connection pool, tenant-scoped transactions, the embedded server and provisioning.

pub mod embedded;
pub mod provision;

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    PgConnection, PgPool, Postgres, Transaction,
    postgres::{PgConnectOptions, PgPoolOptions},
};

use crate::domain::tenant::TenantId;

/// The service's handle on PostgreSQL, connected as `patrocinio_app`.
#[derive(Clone, Debug)]
pub struct Db {
    pool: PgPool,
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .context("DATABASE_URL non valido")?
            .application_name("patrocinio")
            .options([
                // `ext` holds PostgreSQL's search extensions (trigrams, unaccent, distances).
                ("search_path", "app,ext"),
                ("statement_timeout", "30s"),
                ("idle_in_transaction_session_timeout", "60s"),
            ]);
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .context("connessione a PostgreSQL non riuscita")?;
        Ok(Self { pool })
    }

    /// Opens a transaction bound to one tenant: `app.tenant_id` is set with `is_local = true`,
    /// so it ends with the transaction and can never leak to the next user of the connection.
    /// Row-level security policies read it; store functions for tenant data take a
    /// [`TenantTx`], so they cannot run without it.
    pub async fn tenant_tx(&self, tenant: TenantId) -> anyhow::Result<TenantTx> {
        let mut tx = self.pool.begin().await.context("begin")?;
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .context("setting the tenant")?;
        Ok(TenantTx { tx, tenant })
    }

    /// A read-only [`TenantTx`] on one snapshot (REPEATABLE READ): every query in it sees the
    /// same rows, so that a count taken first and the rows read after it agree (exports).
    pub async fn tenant_snapshot(&self, tenant: TenantId) -> anyhow::Result<TenantTx> {
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .context("begin")?;
        sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
            .bind(tenant.to_string())
            .execute(&mut *tx)
            .await
            .context("setting the tenant")?;
        Ok(TenantTx { tx, tenant })
    }

    /// Liveness of the database, for `/ready`.
    pub async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// For the few reads that are not tenant data (the public list of Ordini, login sessions).
    /// Row-level security still applies: with no tenant set, tenant tables show no rows.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    tenant: TenantId,
}

impl TenantTx {
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }

    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    pub async fn commit(self) -> anyhow::Result<()> {
        self.tx.commit().await.context("commit")
    }
}
