//! The connection pool, tenant-scoped transactions, the embedded server and provisioning.
//!
//! Failover: the service knows one endpoint (a TCP proxy or a DNS name the operator moves from
//! the dead primary to the promoted standby). The pool tests each idle connection before
//! handing it out (`test_before_acquire`), so connections to a dead server are dropped and new
//! ones open through the endpoint; waiting for a connection is bounded (`acquire_timeout`), so
//! a request fails within seconds with [`is_unavailable`] errors, which become the Italian 503
//! page. Nothing is retried inside a request: a transaction cut by the failure rolls back.

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
            // While no primary answers, a request waits at most this long for a connection
            // (then 503), and after the failover the first request gets a fresh one.
            .acquire_timeout(ACQUIRE_TIMEOUT)
            // An idle connection to a server that died is found dead here, not by a request.
            .test_before_acquire(true)
            // Connections are renewed now and then even when nothing fails (a server moved
            // behind the same endpoint is reached without waiting for an error).
            .max_lifetime(Duration::from_secs(30 * 60))
            .idle_timeout(Duration::from_secs(5 * 60))
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

    /// Liveness of the database, for `/ready`: reachable within [`READY_WAIT`] and able to
    /// take changes. A server in recovery (a standby not yet promoted, which the endpoint may
    /// reach during a failover) or read-only is an error: the service cannot work on it.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let read_only: bool = tokio::time::timeout(
            READY_WAIT,
            sqlx::query_scalar(
                "SELECT pg_is_in_recovery() OR current_setting('transaction_read_only')::boolean",
            )
            .fetch_one(&self.pool),
        )
        .await
        .map_err(|_| anyhow::anyhow!("il database non ha risposto entro {READY_WAIT:?}"))?
        .context("database non raggiungibile")?;
        anyhow::ensure!(
            !read_only,
            "il database raggiunto è in sola lettura (standby non promosso)"
        );
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

/// How long a request waits for a database connection before it is told the service is
/// unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `/ready` (and the check behind an unexplained 500) waits for the database.
pub const READY_WAIT: Duration = Duration::from_secs(3);

/// Whether `e` means the database cannot be used right now (no server reachable, the
/// connection cut, a server shutting down or starting, a standby or read-only server, no
/// connection free) rather than a fault of the request or of the code: the user is told the
/// service is temporarily unavailable (503), not that something broke.
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<sqlx::Error>()
            .is_some_and(sqlx_unavailable)
    })
}

fn sqlx_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(d) => d.code().is_some_and(|c| unavailable_sqlstate(&c)),
        _ => false,
    }
}

/// SQLSTATEs of a database that is away, not of a wrong request: class 08 (connection
/// exception), 57P01-57P03 (shutdown, crash, cannot connect now), 25006 (a write on a
/// read-only server: the standby), 53300 (too many connections).
fn unavailable_sqlstate(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "25006" | "53300")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_away_is_unavailable_a_wrong_query_is_not() {
        let away = anyhow::Error::from(sqlx::Error::PoolTimedOut).context("begin");
        assert!(is_unavailable(&away));
        let cut = anyhow::Error::from(sqlx::Error::Io(std::io::Error::from(
            std::io::ErrorKind::UnexpectedEof,
        )))
        .context("commit");
        assert!(is_unavailable(&cut));
        assert!(!is_unavailable(&anyhow::Error::from(
            sqlx::Error::RowNotFound
        )));
        assert!(!is_unavailable(&anyhow::anyhow!("anything else")));
        for code in ["08006", "08001", "57P01", "57P03", "25006", "53300"] {
            assert!(unavailable_sqlstate(code), "{code}");
        }
        for code in ["23505", "40001", "42P01", "3D000"] {
            assert!(!unavailable_sqlstate(code), "{code}");
        }
    }
}
