//! The WebSocket endpoints and the life of one socket.
//!
//! `GET /ws?vista=…` serves the reserved areas: it needs a login session (401 without) and an
//! `Origin` equal to ours (403 otherwise); tenant, user and roles come from the session, never
//! from the request. `GET /{slug}/istanza/{id}/ws` serves the public status page to a device
//! that opened the application with code and PIN.
//!
//! A socket sends a snapshot of what its page shows on every connect (so a reconnect misses
//! nothing, and replacing by id never shows anything twice), then the fragments each event
//! changes; a lagging receiver gets a snapshot again. It pings every 20 s and closes when no
//! pong came for a minute, re-checks the login every few seconds (logout, a disabled account or
//! a removed role close it with 1008, which clients do not retry), and closes with 1012 when the
//! server shuts down, so that the htmx `ws` extension reconnects to the next instance.
//!
//! A render that fails (the database away during a failover) is not dropped: the event waits,
//! with those after it, and is rendered again every [`RETRY_EVERY`] until the database
//! answers, in order, each once; a failed snapshot is likewise taken again. Past
//! [`MAX_BACKLOG`] waiting events, one snapshot replaces them.

use std::time::{Duration, Instant};

use axum::{
    extract::{
        Query, State, WebSocketUpgrade,
        ws::{CloseFrame, Message, Utf8Bytes, WebSocket, rejection::WebSocketUpgradeRejection},
    },
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tower_sessions::Session;
use uuid::Uuid;

use super::{
    Signal, Slot,
    views::{View, Who},
};
use crate::{
    domain::{access::Role, application::Stage},
    store::{audit, presence, tenants},
    web::{
        AppState,
        auth::Auth,
        case::list::ListQuery,
        error::AppError,
        public,
        tenant::{CurrentTenant, PathParams},
    },
};

const PING_EVERY: Duration = Duration::from_secs(20);
const PONG_WITHIN: Duration = Duration::from_secs(60);
const PRESENCE_EVERY: Duration = Duration::from_secs(20);
/// How often the clocks on a board are looked at (they change colour with the date).
const CLOCK_EVERY: Duration = Duration::from_secs(60);
/// The statistics are recomputed at most this often per socket: a burst of changes (a council
/// session deciding fifty applications) costs one recomputation, shared by the sockets that
/// watch the same period, not one per change.
const STATISTICS_SETTLE: Duration = Duration::from_secs(2);

/// How often a render that failed is tried again.
const RETRY_EVERY: Duration = Duration::from_secs(1);
/// Events kept for a retry at most per socket; past it one snapshot replaces them all.
const MAX_BACKLOG: usize = 64;

/// The largest message or frame a client may send (pongs and close frames are tiny).
const MAX_INBOUND: usize = 4096;
/// What a socket reads at once (a pong or a close frame is at most 131 bytes; a larger frame,
/// up to MAX_INBOUND, grows the buffer for its time).
const READ_BUFFER: usize = 1024;

/// Close codes: 1012 (restart: clients reconnect), 1008 (policy: they do not).
const SERVICE_RESTART: u16 = 1012;
const POLICY: u16 = 1008;

#[derive(Deserialize, Default)]
pub struct ViewQuery {
    #[serde(default)]
    vista: String,
    #[serde(default)]
    id: Option<Uuid>,
    #[serde(default)]
    area: Option<String>,
    #[serde(default)]
    versione: Option<i32>,
    /// The statistics' period (`YYYY-MM`, its last month).
    #[serde(default)]
    fino_a: Option<String>,
}

impl ViewQuery {
    /// The view; a list's filters, order and page come with the same names as in the page's
    /// URL, so that what the socket pushes is what that page shows.
    fn view(&self, list: ListQuery) -> Option<View> {
        Some(match self.vista.as_str() {
            "segreteria" => View::Board(list),
            "consiglieri" => View::Queue(list),
            "avvocati" => View::Lawyer(list),
            "pratica" => View::Case {
                id: self.id?,
                role: match self.area.as_deref()? {
                    "segreteria" => Role::Segreteria,
                    "consiglieri" => Role::Consigliere,
                    "avvocati" => Role::Avvocato,
                    _ => return None,
                },
                version: self.versione.unwrap_or(0),
            },
            "statistiche" => View::Statistics {
                role: match self.area.as_deref()? {
                    "presidenza" => Role::Presidenza,
                    "amministratore" => Role::Amministratore,
                    _ => return None,
                },
                period: crate::domain::statistics::Period {
                    last: crate::domain::statistics::Month::parse(self.fino_a.as_deref()?)?,
                },
            },
            _ => return None,
        })
    }
}

fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    headers
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| o == state.settings.origin())
}

fn upgrade(
    ws: WebSocketUpgrade,
    state: AppState,
    view: View,
    who: Who,
    session: Option<String>,
    slot: Slot,
) -> Response {
    // Clients only send pongs and close frames: anything larger than MAX_INBOUND ends the
    // socket. The read buffer is allocated (and zeroed) for every socket, idle or not: small.
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(MAX_INBOUND)
        .max_frame_size(MAX_INBOUND)
        .on_upgrade(move |socket| async move {
            let _slot = slot;
            run(socket, state, view, who, session).await;
        })
}

/// `GET /ws`: the live socket of the reserved areas.
pub async fn staff(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
    auth: Auth,
    session: Session,
    headers: HeaderMap,
    Query(q): Query<ViewQuery>,
    Query(list): Query<ListQuery>,
) -> Result<Response, AppError> {
    // The session names its Ordine: the socket serves that one.
    let Some(user) = auth.user else {
        return Ok(StatusCode::UNAUTHORIZED.into_response());
    };
    if !same_origin(&state, &headers) {
        return Err(AppError::Forbidden);
    }
    let Some(view) = q.view(list) else {
        return Ok(StatusCode::BAD_REQUEST.into_response());
    };
    if !view.role().is_some_and(|r| user.has(r)) {
        return Err(AppError::Forbidden);
    }
    let ws = ws.map_err(|_| anyhow::anyhow!("not a WebSocket request"))?;
    let tenant = tenants::get(&state.db, user.tenant)
        .await?
        .ok_or(AppError::NotFound)?;
    let who = Who {
        tenant,
        user: Some(user),
    };
    // A case the person may not open is not joined (presence) nor rendered: 404, audited,
    // exactly like its page.
    let mut tx = state.db.tenant_tx(who.tenant.id).await?;
    let visible = view.may_see(&mut tx, &who).await?;
    tx.commit().await?;
    if !visible {
        let user = who.user.as_ref().expect("set above");
        audit::record_alone(
            &state.db,
            who.tenant.id,
            audit::Entry {
                actor: &audit::Actor::user(user.id, user.name.clone()),
                action: "accesso_negato",
                target_kind: Some("percorso"),
                target_id: Some("/ws".into()),
                outcome: "negato",
                details: serde_json::json!({ "vista": q.vista, "pratica": q.id }),
            },
        )
        .await?;
        return Err(AppError::NotFound);
    }
    let Some(slot) = state.hub.slot(who.user.as_ref().expect("set above").id) else {
        return Err(AppError::TooManyRequests(Duration::from_secs(30)));
    };
    let session_id = session.id().map(|id| id.to_string());
    Ok(upgrade(ws, state, view, who, session_id, slot))
}

/// `GET /{slug}/istanza/{id}/ws`: the public status page of one application, for the device
/// that opened it with code and PIN.
pub async fn public_status(
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    params: PathParams,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let Some(device) = public::device_token(&state, &headers) else {
        return Err(AppError::NotFound);
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let row = crate::store::applications::get(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let allowed = crate::store::applications::device_has_access(&mut tx, &device, id).await?;
    tx.commit().await?;
    if !allowed || row.state() == Stage::Bozza {
        return Err(AppError::NotFound);
    }
    if !same_origin(&state, &headers) {
        return Err(AppError::Forbidden);
    }
    let ws = ws.map_err(|_| anyhow::anyhow!("not a WebSocket request"))?;
    // One slot per application for anonymous sockets.
    let Some(slot) = state.hub.slot(id) else {
        return Err(AppError::TooManyRequests(Duration::from_secs(30)));
    };
    let tenant = (*tenant).clone();
    Ok(upgrade(
        ws,
        state,
        View::Status { id },
        Who { tenant, user: None },
        None,
        slot,
    ))
}

/// The life of one socket. Idle sockets are most of them, so what an idle socket holds is
/// kept small: one task (reading and writing in the same loop, no reader task and channel),
/// and the rendering futures (database reads, maud), which are large, boxed for the moment
/// they run instead of sized into every socket's task.
async fn run(
    mut socket: WebSocket,
    state: AppState,
    view: View,
    who: Who,
    session: Option<String>,
) {
    let mut signals = state.hub.subscribe(who.tenant.id);
    // Sockets of the reserved areas end with their login (checked together for all sockets).
    let mut login = match (&who.user, session) {
        (Some(user), Some(session)) => {
            Some(state.hub.logins.watch(user.clone(), view.role(), session))
        }
        _ => None,
    };
    let mut shutdown = state.hub.shutdown_signal();
    let socket_id = Uuid::new_v4();
    if let (View::Case { id, .. }, Some(user)) = (&view, &who.user) {
        let label = format!(
            "{} ({})",
            user.name,
            view.role().map_or("", |r| r.label()).to_lowercase()
        );
        if let Err(e) = Box::pin(join_presence(&state, &who, socket_id, *id, user.id, &label)).await
        {
            tracing::warn!(error = format!("{e:#}"), "presence");
        }
    }
    let close = |code: u16, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from_static(reason),
        }))
    };
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut refresh = tokio::time::interval(PRESENCE_EVERY);
    let mut clock = tokio::time::interval(CLOCK_EVERY);
    let mut last_seen = Instant::now();
    let mut rendered_on = crate::web::case::today();
    // What could not be rendered yet (the database away): a snapshot, or events in order.
    let mut resnapshot = false;
    let mut backlog: std::collections::VecDeque<std::sync::Arc<super::Event>> =
        std::collections::VecDeque::new();
    let mut retry_at = tokio::time::Instant::now();
    let mut pending: Option<Message> = match Box::pin(snapshot(&state, &view, &who)).await {
        Ok(m) => m,
        Err(()) => {
            resnapshot = true;
            retry_at = tokio::time::Instant::now() + RETRY_EVERY;
            None
        }
    };
    // An event to render now, or to queue behind those waiting for a retry.
    macro_rules! deliver {
        ($ev:expr) => {{
            let ev = $ev;
            if resnapshot {
                // The snapshot to come is read after this event: it shows it.
            } else if backlog.is_empty() {
                match Box::pin(update(&state, &view, &who, &ev)).await {
                    Ok(m) => pending = m,
                    Err(()) => {
                        backlog.push_back(ev);
                        retry_at = tokio::time::Instant::now() + RETRY_EVERY;
                    }
                }
            } else if backlog.len() >= MAX_BACKLOG {
                backlog.clear();
                resnapshot = true;
            } else {
                backlog.push_back(ev);
            }
        }};
    }
    // The statistics' pending recomputation: when, and for which latest event.
    let mut settle: Option<tokio::time::Instant> = None;
    let mut latest: Option<std::sync::Arc<super::Event>> = None;
    loop {
        if let Some(msg) = pending.take()
            && socket.send(msg).await.is_err()
        {
            break;
        }
        tokio::select! {
            signal = signals.recv() => match signal {
                Ok(Signal::Event(ev)) if view.concerns(&who, &ev) => {
                    if matches!(view, View::Statistics { .. }) {
                        // Wait for the burst to settle; the latest event names the render.
                        settle.get_or_insert_with(|| tokio::time::Instant::now() + STATISTICS_SETTLE);
                        latest = Some(ev);
                    } else {
                        deliver!(ev);
                    }
                }
                Ok(Signal::Presence { tenant, application })
                    if tenant == who.tenant.id && matches!(view, View::Case { id, .. } if id == application) =>
                {
                    pending = Box::pin(view.render_presence(&state.db, &who)).await.ok().flatten().map(|s| Message::Text(s.into()));
                }
                Ok(_) => {}
                // Fell behind: whatever was missed, the snapshot has it.
                Err(RecvError::Lagged(_)) => {
                    backlog.clear();
                    match Box::pin(snapshot(&state, &view, &who)).await {
                        Ok(m) => pending = m,
                        Err(()) => {
                            resnapshot = true;
                            retry_at = tokio::time::Instant::now() + RETRY_EVERY;
                        }
                    }
                }
                Err(RecvError::Closed) => break,
            },
            // Pongs (and anything else within the size limit) prove the client is there; a
            // close, an error or an oversized frame ends the socket. (Reading a WebSocket is
            // cancel-safe: a frame half read stays in its buffer for the next turn.)
            received = socket.recv() => match received {
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => break,
                Some(Ok(_)) => last_seen = Instant::now(),
            },
            _ = shutdown.changed() => {
                let _ = socket.send(close(SERVICE_RESTART, "riavvio del servizio")).await;
                break;
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > PONG_WITHIN {
                    break;
                }
                pending = Some(Message::Ping(Default::default()));
            }
            Ok(()) = async { login.as_mut().expect("guarded").ended.wait_for(|ended| *ended).await.map(|_| ()) }, if login.is_some() => {
                let _ = socket.send(close(POLICY, "sessione terminata")).await;
                break;
            }
            _ = refresh.tick(), if matches!(view, View::Case { .. }) => {
                let _ = Box::pin(refresh_presence(&state, &who, socket_id)).await;
            }
            _ = tokio::time::sleep_until(settle.unwrap_or_else(tokio::time::Instant::now)), if settle.is_some() => {
                settle = None;
                if let Some(ev) = latest.take() {
                    deliver!(ev);
                }
            }
            _ = tokio::time::sleep_until(retry_at), if resnapshot || !backlog.is_empty() => {
                if resnapshot {
                    match Box::pin(snapshot(&state, &view, &who)).await {
                        Ok(m) => {
                            resnapshot = false;
                            backlog.clear();
                            pending = m;
                        }
                        Err(()) => retry_at = tokio::time::Instant::now() + RETRY_EVERY,
                    }
                } else if let Some(ev) = backlog.front().cloned() {
                    match Box::pin(update(&state, &view, &who, &ev)).await {
                        Ok(m) => {
                            backlog.pop_front();
                            pending = m;
                            // The next one at once.
                            retry_at = tokio::time::Instant::now();
                        }
                        Err(()) => retry_at = tokio::time::Instant::now() + RETRY_EVERY,
                    }
                }
            }
            _ = clock.tick(), if matches!(view, View::Board(_) | View::Queue(_) | View::Lawyer(_) | View::Statistics { .. }) => {
                let today = crate::web::case::today();
                if today != rendered_on {
                    rendered_on = today;
                    match Box::pin(snapshot(&state, &view, &who)).await {
                        Ok(m) => pending = m,
                        Err(()) => {
                            resnapshot = true;
                            retry_at = tokio::time::Instant::now() + RETRY_EVERY;
                        }
                    }
                }
            }
        }
    }
    if matches!(view, View::Case { .. }) {
        let _ = Box::pin(leave_presence(&state, &who, socket_id)).await;
    }
}

/// What the page shows now; `Err` when it could not be read (to be tried again).
async fn snapshot(state: &AppState, view: &View, who: &Who) -> Result<Option<Message>, ()> {
    match view.render(&state.db, &state.hub, who, None).await {
        Ok(html) => Ok(html.map(|s| Message::Text(s.into()))),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "live snapshot");
            Err(())
        }
    }
}

/// The fragments an event changes, rendered once for all the sockets with the same audience
/// and shared by them as they are (a reference-counted buffer: no copy per socket); `Err` when
/// they could not be read (to be tried again).
async fn update(
    state: &AppState,
    view: &View,
    who: &Who,
    ev: &super::Event,
) -> Result<Option<Message>, ()> {
    let rendered = match view.audience_key(who) {
        Some(key) => {
            let slot = state.hub.renders.slot(key, ev.signal.id);
            slot.get_or_try_init(|| async {
                state.hub.counted_render();
                let html = view.render(&state.db, &state.hub, who, Some(ev)).await?;
                anyhow::Ok(html.map(Utf8Bytes::from))
            })
            .await
            .cloned()
        }
        None => {
            state.hub.counted_render();
            view.render(&state.db, &state.hub, who, Some(ev))
                .await
                .map(|html| html.map(Utf8Bytes::from))
        }
    };
    match rendered {
        Ok(html) => Ok(html.map(Message::Text)),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "live update");
            Err(())
        }
    }
}

async fn join_presence(
    state: &AppState,
    who: &Who,
    socket: Uuid,
    application: Uuid,
    user: Uuid,
    label: &str,
) -> anyhow::Result<()> {
    let mut tx = state.db.tenant_tx(who.tenant.id).await?;
    presence::join(&mut tx, socket, application, user, label).await?;
    tx.commit().await
}

async fn refresh_presence(state: &AppState, who: &Who, socket: Uuid) -> anyhow::Result<()> {
    let mut tx = state.db.tenant_tx(who.tenant.id).await?;
    presence::refresh(&mut tx, socket).await?;
    tx.commit().await
}

async fn leave_presence(state: &AppState, who: &Who, socket: Uuid) -> anyhow::Result<()> {
    let mut tx = state.db.tenant_tx(who.tenant.id).await?;
    presence::leave(&mut tx, socket).await?;
    tx.commit().await
}
