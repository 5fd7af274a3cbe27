//! The logins behind the open sockets, checked all together every two seconds: one query for
//! the sessions and one per Ordine for the accounts, however many sockets are open (a check per
//! socket would cost thousands of queries a second with a few thousand sockets). A logout, an
//! expired session, a disabled account, a changed password or a removed role ends the sockets
//! of that login, which then close with 1008.

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use tokio::{sync::watch, task::JoinHandle};
use uuid::Uuid;

use crate::{
    db::Db,
    domain::{access::Role, tenant::TenantId},
    store::users,
    web::auth::SessionUser,
};

pub const CHECK_EVERY: Duration = Duration::from_secs(2);

struct Entry {
    user: SessionUser,
    role: Option<Role>,
    session: String,
    ended: watch::Sender<bool>,
}

/// The registry of watched logins, one entry per socket.
#[derive(Clone, Default)]
pub struct Logins {
    entries: Arc<Mutex<HashMap<Uuid, Entry>>>,
}

/// A socket's hold on the registry: `ended` turns true when its login no longer holds; the
/// entry goes away when this is dropped.
pub struct Watch {
    id: Uuid,
    logins: Logins,
    pub ended: watch::Receiver<bool>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.logins.lock().remove(&self.id);
    }
}

impl Logins {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watches the login of one socket: `user` in `session`, needing `role` (if any).
    pub fn watch(&self, user: SessionUser, role: Option<Role>, session: String) -> Watch {
        let (ended, rx) = watch::channel(false);
        let id = Uuid::new_v4();
        self.lock().insert(
            id,
            Entry {
                user,
                role,
                session,
                ended,
            },
        );
        Watch {
            id,
            logins: self.clone(),
            ended: rx,
        }
    }

    /// One check of every watched login.
    pub async fn check(&self, db: &Db) -> anyhow::Result<()> {
        // What is checked is what was watched when the check began: a socket that opens while
        // the queries run waits for the next round.
        let (watched, sessions, by_tenant) = {
            let entries = self.lock();
            let watched: HashSet<Uuid> = entries.keys().copied().collect();
            let sessions: Vec<String> = entries
                .values()
                .map(|e| e.session.clone())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect();
            let mut by_tenant: HashMap<TenantId, HashSet<Uuid>> = HashMap::new();
            for e in entries.values() {
                by_tenant
                    .entry(e.user.tenant)
                    .or_default()
                    .insert(e.user.id);
            }
            (watched, sessions, by_tenant)
        };
        if sessions.is_empty() {
            return Ok(());
        }
        let alive: HashSet<String> = sqlx::query_scalar(
            "SELECT id FROM sessions.session WHERE id = ANY($1) AND expiry_date > now()",
        )
        .bind(&sessions)
        .fetch_all(db.pool())
        .await?
        .into_iter()
        .collect();
        let mut current: HashMap<Uuid, SessionUser> = HashMap::new();
        for (tenant, ids) in by_tenant {
            let ids: Vec<Uuid> = ids.into_iter().collect();
            let mut tx = db.tenant_tx(tenant).await?;
            for u in users::get_many(&mut tx, &ids).await? {
                if u.is_active() {
                    current.insert(u.id, SessionUser::from_user(tenant, &u));
                }
            }
            tx.commit().await?;
        }
        for (_, e) in self.lock().iter().filter(|(id, _)| watched.contains(id)) {
            let holds = alive.contains(&e.session)
                && current.get(&e.user.id).is_some_and(|now| {
                    now.same_login(&e.user) && e.role.is_none_or(|r| now.roles.contains(&r))
                });
            if !holds {
                e.ended.send_replace(true);
            }
        }
        Ok(())
    }
}

/// The checking task of the process.
pub fn spawn(db: Db, logins: Logins) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(CHECK_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = logins.check(&db).await {
                tracing::warn!(error = format!("{e:#}"), "live login check");
            }
        }
    })
}
