//! The live pipeline: PostgreSQL NOTIFY → one listener per process → an in-process broadcast →
//! each WebSocket renders, for its user, the same maud components as the full page and sends
//! them as htmx out-of-band fragments.
//!
//! - `listener`: LISTEN on the events and presence channels; reads the `events` table after
//!   its per-Ordine cursor on every notification, after a reconnect and on a slow poll.
//! - `socket`: the `/ws` endpoints, the per-socket loop (snapshot on connect, updates,
//!   ping, session checks, close 1012 on shutdown).
//! - `logins`: the logins behind the sockets, checked together every two seconds.
//! - `views`: what each kind of page shows live, who an event concerns, and one render per
//!   audience per event.

pub mod listener;
pub mod logins;
pub mod socket;
pub mod views;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use maud::{Markup, html};
use tokio::sync::{broadcast, watch};
use uuid::Uuid;

use crate::{domain::tenant::TenantId, store::events};

/// Sockets one person may hold at once (tabs, devices).
pub const MAX_SOCKETS_PER_USER: usize = 20;

/// What the listener publishes.
#[derive(Clone, Debug)]
pub enum Signal {
    Event(Arc<Event>),
    /// Someone opened or closed an application's page.
    Presence {
        tenant: TenantId,
        application: Uuid,
    },
}

#[derive(Debug)]
pub struct Event {
    pub tenant: TenantId,
    pub signal: events::Signal,
}

impl Event {
    pub fn concerns(&self, tag: &str) -> bool {
        self.signal.audience.iter().any(|a| a == tag)
    }
}

/// The process's hub: the broadcasts the listener feeds (one per Ordine, so that an event
/// wakes only the sockets of its Ordine), the shutdown switch, the count of sockets per
/// person, and the renders shared by sockets that would see the same HTML.
#[derive(Clone)]
pub struct Hub {
    channels: Arc<Mutex<HashMap<TenantId, broadcast::Sender<Signal>>>>,
    shutdown: watch::Sender<bool>,
    sockets: Arc<Mutex<HashMap<Uuid, usize>>>,
    pub renders: views::RenderCache,
    pub logins: logins::Logins,
    /// The last event seen per Ordine: what cached figures are checked against.
    latest: Arc<Mutex<HashMap<TenantId, i64>>>,
    /// The statistics computed since the Ordine's last event, shared by pages and sockets.
    pub statistics: views::StatisticsCache,
    /// Fragments rendered for events since the start (one per audience per event, however
    /// many sockets share it): `patrocinio_live_event_renders_total`.
    event_renders: Arc<AtomicU64>,
}

impl Default for Hub {
    fn default() -> Self {
        Self::new()
    }
}

impl Hub {
    pub fn new() -> Self {
        let (shutdown, _) = watch::channel(false);
        Self {
            channels: Arc::new(Mutex::new(HashMap::new())),
            shutdown,
            sockets: Arc::new(Mutex::new(HashMap::new())),
            renders: views::RenderCache::default(),
            logins: logins::Logins::default(),
            latest: Arc::new(Mutex::new(HashMap::new())),
            statistics: views::StatisticsCache::default(),
            event_renders: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Counts one render of an event's fragments.
    pub fn counted_render(&self) {
        self.event_renders.fetch_add(1, Ordering::Relaxed);
    }

    /// Renders of events' fragments since the start.
    pub fn event_renders(&self) -> u64 {
        self.event_renders.load(Ordering::Relaxed)
    }

    /// The signals of one Ordine.
    pub fn subscribe(&self, tenant: TenantId) -> broadcast::Receiver<Signal> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        channels
            .entry(tenant)
            .or_insert_with(|| broadcast::channel(1024).0)
            .subscribe()
    }

    pub fn publish(&self, signal: Signal) {
        let tenant = match &signal {
            Signal::Event(ev) => {
                let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
                let seen = latest.entry(ev.tenant).or_insert(0);
                *seen = (*seen).max(ev.signal.id);
                ev.tenant
            }
            Signal::Presence { tenant, .. } => *tenant,
        };
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = channels.get(&tenant) {
            // Nobody watching this Ordine any more: forget its channel.
            if tx.send(signal).is_err() {
                channels.remove(&tenant);
            }
        }
    }

    /// The listener starts from `id` for `tenant` (the events before it are not broadcast).
    pub fn start_after(&self, tenant: TenantId, id: i64) {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        let seen = latest.entry(tenant).or_insert(0);
        *seen = (*seen).max(id);
    }

    /// The id of the last event of `tenant` this process has seen (0: none yet).
    pub fn latest_event(&self, tenant: TenantId) -> i64 {
        self.latest
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&tenant)
            .copied()
            .unwrap_or(0)
    }

    /// Tells every socket to close with 1012 (service restart), so that clients reconnect.
    pub fn shut_down(&self) {
        self.shutdown.send_replace(true);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// A socket slot for `user`, released when dropped; `None` past the cap.
    pub fn slot(&self, user: Uuid) -> Option<Slot> {
        let mut map = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(user).or_insert(0);
        if *n >= MAX_SOCKETS_PER_USER {
            return None;
        }
        *n += 1;
        Some(Slot {
            user,
            sockets: self.sockets.clone(),
        })
    }

    /// Open sockets (all users).
    pub fn open_sockets(&self) -> usize {
        self.sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .sum()
    }
}

pub struct Slot {
    user: Uuid,
    sockets: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut map = self.sockets.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.user);
            }
        }
    }
}

/// The element that connects a page to its live socket; `content` holds the elements the
/// socket replaces (by id).
pub fn container(url: &str, content: Markup) -> Markup {
    html! {
        div data-hx-ext="ws" data-ws-connect=(url) { (content) }
    }
}
