//! One listener per process. It LISTENs on the events and presence channels; on each event
//! notification it reads that Ordine's `events` after its cursor (so nothing is lost even when
//! notifications coalesce), and it catches every Ordine up after a reconnect and on a slow
//! poll (one query across the Ordini, `probes::events_latest`, then a read only for an
//! Ordine that has something new: at rest the poll costs one short transaction). Event ids become visible in id order within an Ordine (see `store::events::insert`),
//! so a per-Ordine cursor never skips one.
//!
//! Failover: the cursors live in the process, not in the connection. When the connection is
//! lost (the primary died) the listener reconnects through the same endpoint every second
//! until a primary answers (a standby in recovery refuses LISTEN, so it is not taken for
//! one), LISTENs again and then reads every Ordine's events after its cursor: what was
//! committed meanwhile is published once, nothing twice. On each slow poll the connection is
//! also asked a `SELECT 1` within [`PING_WAIT`], so a connection left half-open by a machine
//! that vanished is replaced rather than waited on.

use std::{collections::HashMap, sync::Arc, time::Duration};

use serde::Deserialize;
use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::{Event, Hub, Signal};
use crate::{
    db::Db,
    domain::tenant::TenantId,
    store::{events, probes, tenants},
};

pub const EVENTS_CHANNEL: &str = "patrocinio_eventi";
pub const PRESENCE_CHANNEL: &str = "patrocinio_presenza";
/// The fallback poll, should a notification be lost.
const POLL: Duration = Duration::from_secs(10);
/// How long the listening connection may take to answer the poll's ping.
const PING_WAIT: Duration = Duration::from_secs(5);
/// The wait before connecting again after the connection was lost.
const RECONNECT_EVERY: Duration = Duration::from_secs(1);
const BATCH: i64 = 500;

#[derive(Deserialize)]
struct Doorbell {
    tenant: Uuid,
    #[serde(default)]
    application: Option<Uuid>,
}

pub fn spawn(db: Db, hub: Hub) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut l = Listener {
            db,
            hub,
            cursors: HashMap::new(),
            started: false,
        };
        // Consecutive failed attempts: the first is a warning, the rest (a failover under
        // way) are counted, not repeated every second.
        let mut failures = 0u32;
        loop {
            if let Err(e) = l.run(&mut failures).await {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "live listener stopped; reconnecting"
                    );
                } else {
                    tracing::debug!(
                        error = format!("{e:#}"),
                        failures,
                        "live listener still away"
                    );
                }
            }
            tokio::time::sleep(RECONNECT_EVERY).await;
        }
    })
}

struct Listener {
    db: Db,
    hub: Hub,
    cursors: HashMap<TenantId, i64>,
    /// The cursors were set from the table once (at the first connection).
    started: bool,
}

impl Listener {
    async fn run(&mut self, failures: &mut u32) -> anyhow::Result<()> {
        // Its own connection, outside the service's pool: a LISTEN holds it for good.
        let own = sqlx::postgres::PgPoolOptions::new()
            .max_connections(1)
            .connect_lazy_with((*self.db.pool().connect_options()).clone());
        let mut listener = PgListener::connect_with(&own).await?;
        listener
            .listen_all([EVENTS_CHANNEL, PRESENCE_CHANNEL])
            .await?;
        if !self.started {
            // A fresh process starts from now: pages get a snapshot when they connect. An
            // Ordine without events yet starts from 0.
            let latest: HashMap<TenantId, i64> =
                probes::events_latest(&self.db).await?.into_iter().collect();
            for t in tenants::list(&self.db).await? {
                let last = latest.get(&t.id).copied().unwrap_or(0);
                self.cursors.insert(t.id, last);
                self.hub.start_after(t.id, last);
            }
            self.started = true;
        } else {
            self.catch_up_all().await?;
        }
        if *failures > 0 {
            tracing::info!(
                attempts = *failures,
                "live listener reconnected and caught up"
            );
            *failures = 0;
        }
        let mut poll = tokio::time::interval(POLL);
        poll.tick().await;
        loop {
            tokio::select! {
                received = listener.try_recv() => match received? {
                    Some(n) => self.ring(n.channel(), n.payload()).await?,
                    // The connection was lost and is re-established on the next call: what
                    // happened meanwhile is read from the table.
                    None => {
                        tracing::info!("live listener reconnected; catching up");
                        self.catch_up_all().await?;
                    }
                },
                _ = poll.tick() => {
                    tokio::time::timeout(PING_WAIT, sqlx::query("SELECT 1").execute(&mut listener))
                        .await
                        .map_err(|_| anyhow::anyhow!("the listening connection did not answer"))??;
                    self.catch_up_all().await?;
                }
            }
        }
    }

    async fn ring(&mut self, channel: &str, payload: &str) -> anyhow::Result<()> {
        let Ok(bell) = serde_json::from_str::<Doorbell>(payload) else {
            return Ok(());
        };
        let tenant = TenantId(bell.tenant);
        match (channel, bell.application) {
            (PRESENCE_CHANNEL, Some(application)) => {
                self.hub.publish(Signal::Presence {
                    tenant,
                    application,
                });
                Ok(())
            }
            (EVENTS_CHANNEL, _) => self.catch_up(tenant).await,
            _ => Ok(()),
        }
    }

    /// Catches up the Ordini whose last event is past their cursor: one query across the
    /// Ordini, then one read per Ordine that has something new (none at rest).
    async fn catch_up_all(&mut self) -> anyhow::Result<()> {
        for (tenant, last) in probes::events_latest(&self.db).await? {
            if self.cursors.get(&tenant).is_none_or(|c| *c < last) {
                self.catch_up(tenant).await?;
            }
        }
        Ok(())
    }

    /// Publishes the Ordine's events after its cursor.
    async fn catch_up(&mut self, tenant: TenantId) -> anyhow::Result<()> {
        let cursor = self.cursors.entry(tenant).or_insert(0);
        loop {
            let mut tx = self.db.tenant_tx(tenant).await?;
            let batch = events::after(&mut tx, *cursor, BATCH).await?;
            tx.commit().await?;
            for signal in &batch {
                *cursor = signal.id;
                self.hub.publish(Signal::Event(Arc::new(Event {
                    tenant,
                    signal: signal.clone(),
                })));
            }
            if (batch.len() as i64) < BATCH {
                return Ok(());
            }
        }
    }
}
