//! `loadtest ws --fanout`: fan-out against its floor.
//!
//! 1. A fresh database, one Ordine with the demo's data and enough secretariat accounts for S
//!    sockets (default 1,000) at `--per-user` sockets each; the service started as for `ws`,
//!    with a metrics token.
//! 2. S sockets on `/ws?vista=segreteria` (the board, unfiltered: one audience), each waiting
//!    for its snapshot.
//! 3. The floor: a bare server in this process, on its own runtime (two worker threads, as
//!    the service has on this machine) and a free port: axum, a tokio broadcast, the same
//!    socket buffer sizes as the service; `GET /invia?byte=N` broadcasts one text message of N
//!    bytes (one shared buffer) to every socket. S sockets on it, opened the same way.
//! 4. E rounds (after one warm-up round each): the secretariat marks an application urgent
//!    (or not) over HTTP and every socket must get the board's fragment; then the bare server
//!    is asked for a message of the fragment's size and every socket must get it. For each
//!    server and round: the time from the request sent to each socket and to the last one.
//!    A bare LISTEN client (tokio-postgres) gives the NOTIFY, so commit → last socket too.
//! 5. `patrocinio_live_event_renders_total` from `/metrics` before and after the rounds: the
//!    renders per change (one audience: one).

use std::{
    collections::HashSet,
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use axum::{
    Router,
    extract::{
        Query, State, WebSocketUpgrade,
        ws::{Message, Utf8Bytes},
    },
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use patrocinio::domain::access::Role;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection};
use tokio::sync::{Semaphore, broadcast, mpsc};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest, protocol::WebSocketConfig};

use crate::{
    Percentiles, setup,
    ws::{self, Args},
};

/// How long a message may take to reach every socket before the missing ones count as missed.
const WAIT: Duration = Duration::from_secs(10);
/// A pause between rounds, so that one server's last writes do not overlap the other's round.
const SETTLE: Duration = Duration::from_millis(100);
/// The bare server sends at most this much in one message.
const MAX_BARE_MESSAGE: usize = 1 << 20;
/// The socket buffers of the service's `/ws` (src/live/socket.rs), used by the bare server too.
const READ_BUFFER: usize = 1024;
const MAX_INBOUND: usize = 4096;

#[derive(Serialize)]
pub struct Report {
    sockets: usize,
    per_user: usize,
    accounts: usize,
    changes: usize,
    /// Bytes of the board's fragment a change sends (the bare server sends as many).
    fragment_bytes: usize,
    /// Messages that should have arrived within 10 s and did not (must be 0), per server.
    missed: u64,
    bare_missed: u64,
    /// Change sent → the fragment at a socket (every socket, every change).
    socket_us: Percentiles,
    /// Change sent → the last socket, per change.
    last_socket_us: Percentiles,
    /// Change sent → NOTIFY at a bare LISTEN client (≈ commit).
    notify_us: Percentiles,
    /// NOTIFY → the last socket, per change (≈ commit → every socket).
    notify_to_last_socket_us: Percentiles,
    /// The bare server: request sent → the message at a socket, and → the last socket.
    bare_socket_us: Percentiles,
    bare_last_socket_us: Percentiles,
    /// p99 to the last socket, the service's over the bare server's (target ≤ 2).
    last_socket_p99_ratio: f64,
    /// Fragments rendered for events while the changes ran, and per change (target 1).
    renders: u64,
    renders_per_change: f64,
}

/// A message at a client socket: which socket, when, how long.
type Arrival = (usize, Instant, usize);

pub async fn run(a: Args) -> anyhow::Result<Report> {
    let (sockets, changes) = (a.sockets(), a.events());
    if sockets == 0 || a.per_user == 0 || a.per_user > 20 || changes == 0 {
        bail!("at least one socket and one change; 1 to 20 sockets per account");
    }
    let work = a.common.work_dir()?;
    let database = setup::database(&work, &a.common).await?;
    let mut admin = PgConnection::connect(&database.admin_url).await?;

    let started = Instant::now();
    let hash = patrocinio::crypto::hash_secret(patrocinio::demo::DEMO_PASSWORD).await?;
    let files = work.join("files");
    let (seeded, db) = setup::ordini(&database, &files, 1).await?;
    let ordine = seeded.into_iter().next().context("one Ordine")?;
    let accounts = ws::accounts(
        &db,
        &mut admin,
        ordine.id,
        &ordine.seeded.accounts,
        &[(Role::Segreteria, sockets)],
        a.per_user,
        &hash,
    )
    .await?;
    let mut cases = ws::cases(&mut admin, ordine.id).await?;
    db.close().await;
    println!(
        "1 Ordine, {} secretariat accounts seeded in {:.1} s",
        accounts.len(),
        started.elapsed().as_secs_f64()
    );

    let token = patrocinio::crypto::random_hex::<24>();
    let env = [
        ("PATROCINIO_RATE_LIMITS", "accesso=1000000".to_owned()),
        ("PATROCINIO_METRICS_TOKEN", token.clone()),
    ];
    let server = setup::server(&a.common.server, &database, &work, &files, &env).await?;
    let result = drive(
        &server.base,
        &token,
        &ordine.slug,
        &accounts,
        &mut cases,
        &database.admin_url,
        changes,
        a.per_user,
    )
    .await;
    server.stop().await;
    result
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    base: &str,
    token: &str,
    slug: &str,
    accounts: &[ws::Account],
    cases: &mut [ws::Case],
    admin_url: &str,
    changes: usize,
    per_user: usize,
) -> anyhow::Result<Report> {
    // Logins, 16 at a time.
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(16));
    let mut logins = Vec::new();
    for acc in accounts {
        let (gate, base, slug, acc) = (gate.clone(), base.to_owned(), slug.to_owned(), acc.clone());
        logins.push(tokio::spawn(async move {
            let _permit = gate.acquire().await?;
            ws::log_in(&base, &slug, &acc).await
        }));
    }
    let mut sessions = Vec::new();
    for l in logins {
        sessions.push(l.await??);
    }
    println!(
        "{} logins in {:.1} s",
        sessions.len(),
        started.elapsed().as_secs_f64()
    );

    // The service's sockets.
    let ws_base = base.replacen("http://", "ws://", 1);
    let mut requests = Vec::new();
    for (acc, session) in accounts.iter().zip(&sessions) {
        for _ in 0..acc.sockets {
            let mut req = format!("{ws_base}/ws?vista=segreteria").into_client_request()?;
            req.headers_mut().insert("cookie", session.cookie.parse()?);
            req.headers_mut().insert("origin", base.parse()?);
            requests.push(req);
        }
    }
    let started = Instant::now();
    let (ours_tx, mut ours) = mpsc::unbounded_channel::<Arrival>();
    let total = open_all(requests, ours_tx).await?;
    println!(
        "{total} sockets open on the service in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The floor, and as many sockets on it.
    let bare = start_bare()?;
    let bare_ws = bare.replacen("http://", "ws://", 1);
    let requests = (0..total)
        .map(|_| format!("{bare_ws}/ws").into_client_request())
        .collect::<Result<Vec<_>, _>>()?;
    let (bare_tx, mut bare_rx) = mpsc::unbounded_channel::<Arrival>();
    open_all(requests, bare_tx).await?;
    println!("{total} sockets open on the bare server at {bare}");

    // The bare LISTEN client.
    let (notify_tx, mut notified) = mpsc::unbounded_channel::<Instant>();
    let (client, mut connection) =
        tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(_) = m {
                let _ = notify_tx.send(Instant::now());
            }
        }
    });
    client.batch_execute("LISTEN patrocinio_eventi").await?;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let segreteria = &sessions[0];
    let mut h = Hists::default();
    let mut fragment_bytes = 0;
    let mut renders_before = 0;
    let (mut missed, mut bare_missed) = (0u64, 0u64);
    // Round 0 warms both up and is not counted.
    for round in 0..=changes {
        if round == 1 {
            renders_before = renders(&http, base, token).await?;
        }
        // The service: one change, every socket.
        drain(&mut ours);
        while notified.try_recv().is_ok() {}
        let i = round % cases.len();
        let (sent, _) = ws::toggle_urgent(segreteria, base, slug, &mut cases[i]).await?;
        let deadline = tokio::time::Instant::now() + WAIT;
        let notify = tokio::time::timeout_at(deadline, notified.recv())
            .await
            .ok()
            .flatten();
        let (last, sizes, got) = collect(&mut ours, total, sent, deadline, &mut h.socket).await;
        fragment_bytes = fragment_bytes.max(sizes);
        if round > 0 {
            missed += (total - got) as u64;
            if got == total {
                let _ = h.last.record(ws::us(last - sent));
                if let Some(n) = notify {
                    let _ = h.notify.record(ws::us(n.saturating_duration_since(sent)));
                    let _ = h
                        .notify_to_last
                        .record(ws::us(last.saturating_duration_since(n)));
                }
            }
        }
        tokio::time::sleep(SETTLE).await;

        // The bare server: a message of the same size, every socket.
        drain(&mut bare_rx);
        let sent = Instant::now();
        let res = http
            .get(format!("{bare}/invia?byte={fragment_bytes}"))
            .send()
            .await?;
        if res.status() != StatusCode::NO_CONTENT {
            bail!("the bare server refused to send: {}", res.status());
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        let (last, _, got) = collect(&mut bare_rx, total, sent, deadline, &mut h.bare_socket).await;
        if round > 0 {
            bare_missed += (total - got) as u64;
            if got == total {
                let _ = h.bare_last.record(ws::us(last - sent));
            }
        }
        tokio::time::sleep(SETTLE).await;
        if round == 0 {
            // The warm-up's arrivals are not counted.
            h = Hists::default();
        }
    }
    let renders = renders(&http, base, token).await? - renders_before;
    let (p99, bare_p99) = (
        h.last.value_at_quantile(0.99),
        h.bare_last.value_at_quantile(0.99),
    );
    Ok(Report {
        sockets: total,
        per_user,
        accounts: accounts.len(),
        changes,
        fragment_bytes,
        missed,
        bare_missed,
        socket_us: Percentiles::of(&h.socket),
        last_socket_us: Percentiles::of(&h.last),
        notify_us: Percentiles::of(&h.notify),
        notify_to_last_socket_us: Percentiles::of(&h.notify_to_last),
        bare_socket_us: Percentiles::of(&h.bare_socket),
        bare_last_socket_us: Percentiles::of(&h.bare_last),
        last_socket_p99_ratio: p99 as f64 / bare_p99.max(1) as f64,
        renders,
        renders_per_change: renders as f64 / changes as f64,
    })
}

struct Hists {
    socket: Histogram<u64>,
    last: Histogram<u64>,
    notify: Histogram<u64>,
    notify_to_last: Histogram<u64>,
    bare_socket: Histogram<u64>,
    bare_last: Histogram<u64>,
}

impl Default for Hists {
    fn default() -> Self {
        Self {
            socket: ws::hist(),
            last: ws::hist(),
            notify: ws::hist(),
            notify_to_last: ws::hist(),
            bare_socket: ws::hist(),
            bare_last: ws::hist(),
        }
    }
}

/// Forgets what arrived between rounds (nothing should).
fn drain(rx: &mut mpsc::UnboundedReceiver<Arrival>) {
    while rx.try_recv().is_ok() {}
}

/// Waits until each of `total` sockets got a message (or the deadline): the last arrival, the
/// largest message and how many sockets got one; each socket's time goes into `per_socket`.
async fn collect(
    rx: &mut mpsc::UnboundedReceiver<Arrival>,
    total: usize,
    sent: Instant,
    deadline: tokio::time::Instant,
    per_socket: &mut Histogram<u64>,
) -> (Instant, usize, usize) {
    let mut seen = HashSet::new();
    let (mut last, mut largest) = (sent, 0);
    while seen.len() < total {
        let Ok(Some((idx, at, len))) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            break;
        };
        if seen.insert(idx) {
            let _ = per_socket.record(ws::us(at.saturating_duration_since(sent)));
            last = last.max(at);
            largest = largest.max(len);
        }
    }
    (last, largest, seen.len())
}

/// The service's count of renders for events.
async fn renders(http: &reqwest::Client, base: &str, token: &str) -> anyhow::Result<u64> {
    let text = http
        .get(format!("{base}/metrics"))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .text()
        .await?;
    text.lines()
        .find_map(|l| l.strip_prefix("patrocinio_live_event_renders_total "))
        .and_then(|v| v.trim().parse().ok())
        .context("patrocinio_live_event_renders_total not in /metrics")
}

/// Opens the sockets, 64 handshakes at a time, each waiting for its first text message; then
/// each reports every text message it gets on `arrivals`.
async fn open_all(
    requests: Vec<tungstenite::handshake::client::Request>,
    arrivals: mpsc::UnboundedSender<Arrival>,
) -> anyhow::Result<usize> {
    let gate = Arc::new(Semaphore::new(64));
    let total = requests.len();
    let mut opening = Vec::new();
    for (idx, req) in requests.into_iter().enumerate() {
        let (gate, arrivals) = (gate.clone(), arrivals.clone());
        opening.push(tokio::spawn(async move {
            let permit = gate.acquire_owned().await?;
            // The same client buffers for both servers.
            let config = WebSocketConfig::default().read_buffer_size(32 * 1024);
            let (mut socket, _) =
                tokio_tungstenite::connect_async_with_config(req, Some(config), false).await?;
            loop {
                match tokio::time::timeout(Duration::from_secs(60), socket.next()).await {
                    Ok(Some(Ok(tungstenite::Message::Text(_)))) => break,
                    Ok(Some(Ok(_))) => continue,
                    other => bail!("no first message: {other:?}"),
                }
            }
            drop(permit);
            tokio::spawn(async move {
                while let Some(Ok(msg)) = socket.next().await {
                    if let tungstenite::Message::Text(text) = msg
                        && arrivals.send((idx, Instant::now(), text.len())).is_err()
                    {
                        break;
                    }
                }
            });
            anyhow::Ok(())
        }));
    }
    for o in opening {
        o.await??;
    }
    Ok(total)
}

/// The bare server: its own runtime on two threads, on a free port; its base URL.
fn start_bare() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let base = format!("http://{}", listener.local_addr()?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bare")
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("bare-server".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let (tx, _) = broadcast::channel::<Utf8Bytes>(16);
                let app = Router::new()
                    .route("/ws", get(bare_socket))
                    .route("/invia", get(bare_send))
                    .with_state(tx);
                axum::serve(listener, app).await?;
                anyhow::Ok(())
            })
        })?;
    Ok(base)
}

#[derive(Deserialize)]
struct SendQuery {
    byte: usize,
}

/// `GET /invia?byte=N`: one message of N bytes to every socket.
async fn bare_send(
    State(tx): State<broadcast::Sender<Utf8Bytes>>,
    Query(q): Query<SendQuery>,
) -> Response {
    if q.byte > MAX_BARE_MESSAGE {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let _ = tx.send(Utf8Bytes::from("x".repeat(q.byte)));
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /ws`: a greeting, then every broadcast message; what the client sends is read (pongs,
/// close) and dropped.
async fn bare_socket(
    ws: WebSocketUpgrade,
    State(tx): State<broadcast::Sender<Utf8Bytes>>,
) -> Response {
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_message_size(MAX_INBOUND)
        .max_frame_size(MAX_INBOUND)
        .on_upgrade(move |mut socket| async move {
            let mut rx = tx.subscribe();
            if socket.send(Message::Text("pronto".into())).await.is_err() {
                return;
            }
            loop {
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Ok(text) => {
                            if socket.send(Message::Text(text)).await.is_err() {
                                break;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                    got = socket.recv() => match got {
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break,
                        Some(Ok(_)) => {}
                    },
                }
            }
        })
}

pub fn print(r: &Report, json: &Path) {
    println!(
        "\nFan-out: {} sockets of one Ordine's secretariat ({} accounts, {} per account), {} changes, fragment {} bytes",
        r.sockets, r.accounts, r.per_user, r.changes, r.fragment_bytes
    );
    println!(
        "{:<46} {:>9} {:>9} {:>9} {:>9}",
        "", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    let ms = |us: u64| us as f64 / 1000.0;
    for (name, p) in [
        ("change sent → fragment at a socket", &r.socket_us),
        ("change sent → the last socket", &r.last_socket_us),
        ("change sent → NOTIFY, bare LISTEN", &r.notify_us),
        ("NOTIFY → the last socket", &r.notify_to_last_socket_us),
        (
            "bare server: request → message at a socket",
            &r.bare_socket_us,
        ),
        (
            "bare server: request → the last socket",
            &r.bare_last_socket_us,
        ),
    ] {
        println!(
            "{:<46} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            name,
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.max)
        );
    }
    println!(
        "p99 to the last socket: {:.2}× the bare server's (target ≤ 2)",
        r.last_socket_p99_ratio
    );
    println!(
        "renders for events: {} for {} changes ({:.2} per change; one audience)",
        r.renders, r.changes, r.renders_per_change
    );
    println!(
        "missed: {}  bare server missed: {}",
        r.missed, r.bare_missed
    );
    println!("JSON: {}", json.display());
}
