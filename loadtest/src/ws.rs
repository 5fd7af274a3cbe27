//! `loadtest ws`: the live workspace under load.
//!
//! 1. A fresh database (`patrocinio_carico`) on the PostgreSQL of `--database-url` (an admin
//!    URL), or on an embedded PostgreSQL when none is given; roles and migrations as
//!    `patrocinio migrate` makes them.
//! 2. N Ordini seeded with the demo's data (an application in every state), plus enough
//!    secretariat, councillor and lawyer accounts for S sockets at `--per-user` sockets each
//!    (a fifth secretariat, a fifth councillors, the rest lawyers).
//! 3. The service binary started on a free port; every account logs in over HTTP (password
//!    and TOTP code); S sockets open on `/ws` with the session cookie and our `Origin`, each
//!    waiting for its first snapshot. The server's resident memory is read before and after.
//! 4. A bare LISTEN client (tokio-postgres) on the same channel: the floor.
//! 5. E changes over HTTP (the secretariat marks an application urgent or not), spread over
//!    the Ordini at `--rate` per second, one at a time per Ordine. For each change: the time
//!    to the NOTIFY at the bare client, to the fragment at each socket that should get it, to
//!    the last of them; sockets that should not get it must not (counted).

use std::{
    collections::{HashMap, HashSet},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use patrocinio::{
    db::Db,
    domain::{
        access::{ManageUsers, Role, authorize},
        application::{Stage, matter::ListMatter},
        codice_fiscale::{CfPersona, Sex},
        tenant::TenantId,
    },
    store::{lawyers, users},
};
use reqwest::cookie::CookieStore;
use serde::Serialize;
use sqlx::{Connection, PgConnection};
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
use uuid::Uuid;

use crate::{Percentiles, setup};

/// How long a change may take to reach a socket before it counts as missed.
const WAIT: Duration = Duration::from_secs(5);

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: setup::Common,
    /// Sockets in all (default 5,000; 1,000 with `--fanout`).
    #[arg(long, short = 's')]
    sockets: Option<usize>,
    /// Sockets per account (tabs; the service allows 20).
    #[arg(long, default_value_t = 5)]
    pub per_user: usize,
    /// Changes in all (default 500; 50 with `--fanout`).
    #[arg(long, short = 'e')]
    events: Option<usize>,
    /// Changes per second over all Ordini.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Fan-out against its floor (see `fanout.rs`): every socket on one Ordine's secretariat
    /// board (one audience), one change at a time, beside a bare axum server in this process
    /// sending a fragment of the same size to as many sockets. One Ordine (`-t` is ignored).
    #[arg(long)]
    pub fanout: bool,
    /// Where to write the JSON report (default `loadtest-ws.json`, `loadtest-fanout.json`
    /// with `--fanout`).
    #[arg(long)]
    json: Option<PathBuf>,
}

impl Args {
    pub fn sockets(&self) -> usize {
        self.sockets
            .unwrap_or(if self.fanout { 1_000 } else { 5_000 })
    }

    pub fn events(&self) -> usize {
        self.events.unwrap_or(if self.fanout { 50 } else { 500 })
    }

    pub fn json(&self) -> PathBuf {
        self.json.clone().unwrap_or_else(|| {
            PathBuf::from(if self.fanout {
                "loadtest-fanout.json"
            } else {
                "loadtest-ws.json"
            })
        })
    }
}

#[derive(Serialize)]
pub struct Report {
    tenants: usize,
    sockets: usize,
    per_user: usize,
    accounts: usize,
    changes: usize,
    rate_per_second: f64,
    /// Fragments that arrived, and those that should have and did not within 5 s.
    fragments: u64,
    missed: u64,
    /// Fragments a socket got for a change it should not see (must be 0).
    unexpected: u64,
    /// Sockets the server closed during the run (must be 0).
    closed: u64,
    /// Change sent → HTTP response (the change committed before it).
    change_http_us: Percentiles,
    /// Change sent → NOTIFY at the bare LISTEN client (tokio-postgres): the floor.
    bare_listen_us: Percentiles,
    /// Change sent → fragment at a socket.
    fragment_us: Percentiles,
    /// NOTIFY at the bare client → fragment at a socket (≈ commit → fragment).
    notify_to_fragment_us: Percentiles,
    /// Change sent → the last socket of the Ordine that should get it.
    every_socket_us: Percentiles,
    server_rss_before_sockets_kib: u64,
    server_rss_with_sockets_kib: u64,
    rss_per_idle_socket_bytes: u64,
    open_seconds: f64,
}

#[derive(Clone)]
pub struct Account {
    pub role: Role,
    email: String,
    secret: Option<String>,
    user_id: Uuid,
    /// Sockets this account opens.
    pub sockets: usize,
}

struct Ordine {
    slug: String,
    id: TenantId,
    accounts: Vec<Account>,
    /// Applications the secretariat may mark urgent: (id, version, urgent, rapporteur, lawyer).
    cases: Vec<Case>,
}

#[derive(Clone)]
pub struct Case {
    pub id: Uuid,
    pub version: i32,
    pub urgent: bool,
    rapporteur: Option<Uuid>,
    lawyer: Option<Uuid>,
}

/// One socket's account, to tell whether a change concerns it.
struct SocketInfo {
    role: Role,
    user: Uuid,
}

pub fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("bounds")
}

pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .context("VmRSS not found")
}

fn totp_now(secret: &str) -> anyhow::Result<String> {
    Ok(totp_rs::Builder::new()
        .with_secret(
            totp_rs::Secret::try_from_base32(secret).map_err(|e| anyhow::anyhow!("{e:?}"))?,
        )
        .build()?
        .generate_current()
        .to_string())
}

pub async fn run(a: Args) -> anyhow::Result<Report> {
    let (sockets, events) = (a.sockets(), a.events());
    if a.common.tenants == 0 || sockets < a.common.tenants * 3 || a.per_user == 0 || events == 0 {
        bail!("at least 3 sockets per Ordine, one socket per account and one change");
    }
    let work = a.common.work_dir()?;

    // 1. The database.
    let database = setup::database(&work, &a.common).await?;
    let mut admin = PgConnection::connect(&database.admin_url).await?;

    // 2. The Ordini and their accounts.
    let started = Instant::now();
    let hash = patrocinio::crypto::hash_secret(patrocinio::demo::DEMO_PASSWORD).await?;
    let files = work.join("files");
    let (seeded, db) = setup::ordini(&database, &files, a.common.tenants).await?;
    let mut ordini = Vec::new();
    for (t, o) in seeded.into_iter().enumerate() {
        let share = sockets / a.common.tenants + usize::from(t < sockets % a.common.tenants);
        // A fifth secretariat, a fifth councillors, the rest lawyers.
        let secretariat = (share / 5).max(1);
        let councillors = (share / 5).max(1);
        let mix = [
            (Role::Segreteria, secretariat),
            (Role::Consigliere, councillors),
            (Role::Avvocato, share - secretariat - councillors),
        ];
        let accounts = accounts(
            &db,
            &mut admin,
            o.id,
            &o.seeded.accounts,
            &mix,
            a.per_user,
            &hash,
        )
        .await?;
        let cases = cases(&mut admin, o.id).await?;
        ordini.push(Ordine {
            slug: o.slug,
            id: o.id,
            accounts,
            cases,
        });
    }
    db.close().await;
    let n_accounts: usize = ordini.iter().map(|o| o.accounts.len()).sum();
    println!(
        "{} Ordini, {} accounts seeded in {:.1} s",
        ordini.len(),
        n_accounts,
        started.elapsed().as_secs_f64()
    );

    // 3. The service.
    let limits = [("PATROCINIO_RATE_LIMITS", "accesso=1000000".to_owned())];
    let server = setup::server(&a.common.server, &database, &work, &files, &limits).await?;
    let result = drive(&a, &server.base, server.pid, &ordini, &database.admin_url).await;
    server.stop().await;
    result
}

/// The demo's accounts of one Ordine plus as many more as its sockets need: `mix` gives the
/// sockets per role, `per_user` sockets per account.
pub async fn accounts(
    db: &Db,
    admin: &mut PgConnection,
    tenant: TenantId,
    demo: &[(Role, String, Option<String>)],
    mix: &[(Role, usize)],
    per_user: usize,
    hash: &str,
) -> anyhow::Result<Vec<Account>> {
    let mut out = Vec::new();
    let mut tx = db.tenant_tx(tenant).await?;
    // The seed acts as the Ordine's administrator.
    let admin_grant = authorize::<ManageUsers>(
        tenant,
        Uuid::nil(),
        &[Role::Amministratore],
        Role::Amministratore,
    )
    .context("grant")?;
    for &(role, n) in mix {
        let mut left = n;
        let mut i = 0;
        while left > 0 {
            let take = left.min(per_user);
            left -= take;
            // The demo's own account first (it holds the demo's applications).
            let demo_account = (i == 0)
                .then(|| demo.iter().find(|(r, _, _)| *r == role))
                .flatten();
            let account = match demo_account {
                Some((_, email, secret)) => {
                    let user_id: Uuid = sqlx::query_scalar(
                        "SELECT id FROM app.users WHERE tenant_id = $1 AND email = $2",
                    )
                    .bind(tenant.0)
                    .bind(email)
                    .fetch_one(&mut *admin)
                    .await?;
                    Account {
                        role,
                        email: email.clone(),
                        secret: secret.clone(),
                        user_id,
                        sockets: take,
                    }
                }
                None => {
                    let email = format!("{}-{i}@carico.example.it", role.code());
                    let lawyer_id = if role == Role::Avvocato {
                        let born = chrono::NaiveDate::from_ymd_opt(1960, 1, 1).context("date")?
                            + chrono::Duration::days(i as i64);
                        let cf = CfPersona::compute("Carico", "Avvocato", born, Sex::F, "H501")?;
                        Some(
                            lawyers::upsert(
                                &mut tx,
                                lawyers::NewLawyer {
                                    surname: "Carico",
                                    given_name: &format!("Avvocato {i}"),
                                    codice_fiscale: cf.as_str(),
                                    register_number: None,
                                    pec: None,
                                    email: None,
                                    matters: &[ListMatter::Civile],
                                    status: "attivo",
                                },
                            )
                            .await?,
                        )
                    } else {
                        None
                    };
                    let user_id = users::invite(
                        &mut tx,
                        &admin_grant,
                        users::NewUser {
                            email: &email,
                            full_name: &format!("Utente di prova {i}"),
                            codice_fiscale: None,
                            roles: &[role],
                            lawyer_id,
                        },
                    )
                    .await?
                    .context("account exists")?;
                    users::set_password(&mut tx, user_id, hash).await?;
                    let secret = (role != Role::Avvocato).then(|| {
                        totp_rs::Secret::from(patrocinio::crypto::random_bytes::<20>().to_vec())
                            .to_base32()
                    });
                    if let Some(s) = &secret {
                        users::set_totp(&mut tx, user_id, s, 0).await?;
                    }
                    Account {
                        role,
                        email,
                        secret,
                        user_id,
                        sockets: take,
                    }
                }
            };
            out.push(account);
            i += 1;
        }
    }
    tx.commit().await?;
    Ok(out)
}

pub async fn cases(admin: &mut PgConnection, tenant: TenantId) -> anyhow::Result<Vec<Case>> {
    /// id, version, urgent, rapporteur, the lawyer's account, state.
    type Row = (Uuid, i32, bool, Option<Uuid>, Option<Uuid>, String);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.version, a.urgent, a.rapporteur_id, u.id, a.state
           FROM app.applications a LEFT JOIN app.users u ON u.lawyer_id = a.lawyer_id AND u.tenant_id = a.tenant_id
          WHERE a.tenant_id = $1",
    )
    .bind(tenant.0)
    .fetch_all(admin)
    .await?;
    let cases: Vec<Case> = rows
        .into_iter()
        .filter(|r| Stage::from_code(&r.5).is_some_and(|s| s.is_open() || s == Stage::Presentata))
        .map(|(id, version, urgent, rapporteur, lawyer, _)| Case {
            id,
            version,
            urgent,
            rapporteur,
            lawyer,
        })
        .collect();
    if cases.is_empty() {
        bail!("no open application in the seeded Ordine");
    }
    Ok(cases)
}

/// A logged-in account: its HTTP client, cookie and CSRF token.
pub struct Session {
    pub client: reqwest::Client,
    pub cookie: String,
    pub csrf: String,
}

pub async fn log_in(base: &str, slug: &str, acc: &Account) -> anyhow::Result<Session> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .timeout(Duration::from_secs(60))
        .build()?;
    let res = client
        .post(format!("{base}/{slug}/accesso"))
        .form(&[
            ("email", acc.email.as_str()),
            ("password", patrocinio::demo::DEMO_PASSWORD),
        ])
        .send()
        .await?;
    if res.status() != 303 {
        bail!("login of {}: {}", acc.email, res.status());
    }
    let mut location = res.headers()["location"].to_str()?.to_owned();
    if location.ends_with("/accesso/codice") {
        let code = totp_now(acc.secret.as_deref().context("TOTP secret")?)?;
        let res = client
            .post(format!("{base}{location}"))
            .form(&[("codice", code.as_str())])
            .send()
            .await?;
        if res.status() != 303 {
            bail!("second factor of {}: {}", acc.email, res.status());
        }
        location = res.headers()["location"].to_str()?.to_owned();
    }
    let page = client
        .get(format!("{base}{location}"))
        .send()
        .await?
        .text()
        .await?;
    let marker = "X-CSRF-Token&quot;:&quot;";
    // The token as the page carries it (masked afresh on every page: any length of hex).
    let csrf = page
        .find(marker)
        .map(|i| {
            page[i + marker.len()..]
                .chars()
                .take_while(char::is_ascii_hexdigit)
                .collect::<String>()
        })
        .filter(|t| !t.is_empty())
        .context("no CSRF token on the landing page")?;
    let cookie = jar
        .cookies(&base.parse()?)
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .unwrap_or_default();
    Ok(Session {
        client,
        cookie,
        csrf,
    })
}

type Arrival = (usize, Instant);

async fn drive(
    a: &Args,
    base: &str,
    pid: u32,
    ordini: &[Ordine],
    admin_url: &str,
) -> anyhow::Result<Report> {
    // Logins, 16 at a time.
    let started = Instant::now();
    let gate = Arc::new(Semaphore::new(16));
    let mut logins = Vec::new();
    for (t, o) in ordini.iter().enumerate() {
        for (k, acc) in o.accounts.iter().enumerate() {
            let (gate, base, slug) = (gate.clone(), base.to_owned(), o.slug.clone());
            let acc = acc.clone();
            logins.push(tokio::spawn(async move {
                let _permit = gate.acquire().await?;
                anyhow::Ok((t, k, log_in(&base, &slug, &acc).await?))
            }));
        }
    }
    let mut sessions: HashMap<(usize, usize), Session> = HashMap::new();
    for l in logins {
        let (t, k, s) = l.await??;
        sessions.insert((t, k), s);
    }
    println!(
        "{} logins in {:.1} s",
        sessions.len(),
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_before = rss_kib(pid)?;

    // Sockets, 64 handshakes at a time; each waits for its snapshot.
    let started = Instant::now();
    let origin = base.to_owned();
    let ws_base = base.replacen("http://", "ws://", 1);
    let mut per_tenant_rx = Vec::new();
    let mut infos: Vec<Vec<SocketInfo>> = Vec::new();
    let gate = Arc::new(Semaphore::new(64));
    let closed = Arc::new(AtomicU64::new(0));
    let mut opening = Vec::new();
    for (t, o) in ordini.iter().enumerate() {
        let (tx, rx) = mpsc::unbounded_channel::<Arrival>();
        per_tenant_rx.push(rx);
        let mut list = Vec::new();
        for (k, acc) in o.accounts.iter().enumerate() {
            let vista = match acc.role {
                Role::Segreteria => "segreteria",
                Role::Consigliere => "consiglieri",
                _ => "avvocati",
            };
            for _ in 0..acc.sockets {
                let idx = list.len();
                list.push(SocketInfo {
                    role: acc.role,
                    user: acc.user_id,
                });
                let mut req = format!("{ws_base}/ws?vista={vista}").into_client_request()?;
                req.headers_mut()
                    .insert("cookie", sessions[&(t, k)].cookie.parse()?);
                req.headers_mut().insert("origin", origin.parse()?);
                let (gate, tx, closed) = (gate.clone(), tx.clone(), closed.clone());
                opening.push(tokio::spawn(async move {
                    let permit = gate.acquire_owned().await?;
                    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
                    // The snapshot.
                    loop {
                        match tokio::time::timeout(Duration::from_secs(60), ws.next()).await {
                            Ok(Some(Ok(tungstenite::Message::Text(_)))) => break,
                            Ok(Some(Ok(_))) => continue,
                            other => bail!("no snapshot: {other:?}"),
                        }
                    }
                    drop(permit);
                    tokio::spawn(async move {
                        while let Some(msg) = ws.next().await {
                            match msg {
                                Ok(tungstenite::Message::Text(_)) => {
                                    if tx.send((idx, Instant::now())).is_err() {
                                        break;
                                    }
                                }
                                Ok(tungstenite::Message::Close(_)) | Err(_) => {
                                    closed.fetch_add(1, Ordering::Relaxed);
                                    break;
                                }
                                Ok(_) => {}
                            }
                        }
                        let _ = ws.close(None).await;
                    });
                    anyhow::Ok(())
                }));
            }
        }
        infos.push(list);
    }
    let total: usize = infos.iter().map(Vec::len).sum();
    for o in opening {
        o.await??;
    }
    let open_seconds = started.elapsed().as_secs_f64();
    println!("{total} sockets open in {open_seconds:.1} s");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let rss_with = rss_kib(pid)?;

    // The bare LISTEN client.
    let index: HashMap<Uuid, usize> = ordini
        .iter()
        .enumerate()
        .map(|(t, o)| (o.id.0, t))
        .collect();
    let mut bare_rx = Vec::new();
    let mut bare_tx = Vec::new();
    for _ in ordini {
        let (tx, rx) = mpsc::unbounded_channel::<Instant>();
        bare_tx.push(tx);
        bare_rx.push(rx);
    }
    let (client, mut connection) =
        tokio_postgres::connect(admin_url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(m)) = messages.next().await {
            if let tokio_postgres::AsyncMessage::Notification(n) = m {
                let at = Instant::now();
                let tenant = serde_json::from_str::<serde_json::Value>(n.payload())
                    .ok()
                    .and_then(|v| v["tenant"].as_str().and_then(|s| Uuid::parse_str(s).ok()));
                if let Some(t) = tenant.and_then(|t| index.get(&t)) {
                    let _ = bare_tx[*t].send(at);
                }
            }
        }
    });
    client.batch_execute("LISTEN patrocinio_eventi").await?;

    // The changes: one driver per Ordine, one change at a time, spread evenly.
    let every = Duration::from_secs_f64(ordini.len() as f64 / a.rate);
    let mut drivers = Vec::new();
    let infos = Arc::new(infos);
    for (t, ((o, rx), brx)) in ordini.iter().zip(per_tenant_rx).zip(bare_rx).enumerate() {
        let seg = o
            .accounts
            .iter()
            .position(|acc| acc.role == Role::Segreteria)
            .context("a secretariat account")?;
        let session = sessions.remove(&(t, seg)).context("session")?;
        let (infos, base, slug, cases) = (
            infos.clone(),
            base.to_owned(),
            o.slug.clone(),
            o.cases.clone(),
        );
        let n = a.events() / ordini.len() + usize::from(t < a.events() % ordini.len());
        let offset = every.mul_f64(t as f64 / ordini.len() as f64);
        drivers.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            change_loop(ChangeLoop {
                n,
                every,
                base,
                slug,
                session,
                cases,
                infos: &infos[t],
                rx,
                bare: brx,
            })
            .await
        }));
    }
    let mut totals = Totals::default();
    for d in drivers {
        totals.add(d.await??)?;
    }
    let closed = closed.load(Ordering::Relaxed);
    Ok(Report {
        tenants: ordini.len(),
        sockets: total,
        per_user: a.per_user,
        accounts: ordini.iter().map(|o| o.accounts.len()).sum(),
        changes: totals.changes,
        rate_per_second: a.rate,
        fragments: totals.fragment.len(),
        missed: totals.missed,
        unexpected: totals.unexpected,
        closed,
        change_http_us: Percentiles::of(&totals.http),
        bare_listen_us: Percentiles::of(&totals.bare),
        fragment_us: Percentiles::of(&totals.fragment),
        notify_to_fragment_us: Percentiles::of(&totals.pipeline),
        every_socket_us: Percentiles::of(&totals.every),
        server_rss_before_sockets_kib: rss_before,
        server_rss_with_sockets_kib: rss_with,
        rss_per_idle_socket_bytes: rss_with.saturating_sub(rss_before) * 1024 / total as u64,
        open_seconds,
    })
}

struct ChangeLoop<'a> {
    n: usize,
    every: Duration,
    base: String,
    slug: String,
    session: Session,
    cases: Vec<Case>,
    infos: &'a [SocketInfo],
    rx: mpsc::UnboundedReceiver<Arrival>,
    bare: mpsc::UnboundedReceiver<Instant>,
}

struct Totals {
    changes: usize,
    missed: u64,
    unexpected: u64,
    http: Histogram<u64>,
    bare: Histogram<u64>,
    fragment: Histogram<u64>,
    pipeline: Histogram<u64>,
    every: Histogram<u64>,
}

impl Default for Totals {
    fn default() -> Self {
        Self {
            changes: 0,
            missed: 0,
            unexpected: 0,
            http: hist(),
            bare: hist(),
            fragment: hist(),
            pipeline: hist(),
            every: hist(),
        }
    }
}

impl Totals {
    fn add(&mut self, o: Totals) -> anyhow::Result<()> {
        self.changes += o.changes;
        self.missed += o.missed;
        self.unexpected += o.unexpected;
        self.http.add(o.http)?;
        self.bare.add(o.bare)?;
        self.fragment.add(o.fragment)?;
        self.pipeline.add(o.pipeline)?;
        self.every.add(o.every)?;
        Ok(())
    }
}

/// The secretariat marks `case` urgent, or not urgent if it was: when the request was sent
/// and when its answer came (the change committed before it).
pub async fn toggle_urgent(
    session: &Session,
    base: &str,
    slug: &str,
    case: &mut Case,
) -> anyhow::Result<(Instant, Instant)> {
    let version = case.version.to_string();
    let urgent = !case.urgent;
    let mut form = vec![
        ("_csrf", session.csrf.as_str()),
        ("versione", version.as_str()),
        ("motivo_urgenza", "Udienza imminente"),
    ];
    if urgent {
        form.push(("urgente", "1"));
    }
    let sent = Instant::now();
    let res = session
        .client
        .post(format!(
            "{base}/{slug}/segreteria/pratiche/{}/urgenza",
            case.id
        ))
        .form(&form)
        .send()
        .await?;
    let answered = Instant::now();
    if res.status() != 303 {
        bail!("change refused: {}", res.status());
    }
    case.version += 1;
    case.urgent = urgent;
    Ok((sent, answered))
}

pub fn us(d: Duration) -> u64 {
    d.as_micros().max(1) as u64
}

async fn change_loop(mut c: ChangeLoop<'_>) -> anyhow::Result<Totals> {
    let mut totals = Totals::default();
    let mut tick = tokio::time::interval(c.every);
    let mut expected = HashSet::new();
    for k in 0..=c.n {
        tick.tick().await;
        // What arrived since, from a socket the last change did not concern, is a leak.
        while let Ok((idx, _)) = c.rx.try_recv() {
            if !expected.contains(&idx) {
                totals.unexpected += 1;
            }
        }
        while c.bare.try_recv().is_ok() {}
        if k == c.n {
            break;
        }
        let i = k % c.cases.len();
        let case = c.cases[i].clone();
        expected = c
            .infos
            .iter()
            .enumerate()
            .filter(|(_, s)| match s.role {
                Role::Segreteria => true,
                Role::Consigliere => case.rapporteur == Some(s.user),
                _ => case.lawyer == Some(s.user),
            })
            .map(|(idx, _)| idx)
            .collect();
        let (sent, answered) = toggle_urgent(&c.session, &c.base, &c.slug, &mut c.cases[i]).await?;
        totals.changes += 1;
        let _ = totals.http.record(us(answered - sent));
        let deadline = tokio::time::Instant::now() + WAIT;
        let notified = match tokio::time::timeout_at(deadline, c.bare.recv()).await {
            Ok(Some(at)) => {
                let _ = totals.bare.record(us(at.saturating_duration_since(sent)));
                Some(at)
            }
            _ => None,
        };
        let mut seen = HashSet::new();
        let mut last = sent;
        while seen.len() < expected.len() {
            let Ok(Some((idx, at))) = tokio::time::timeout_at(deadline, c.rx.recv()).await else {
                break;
            };
            if !expected.contains(&idx) {
                totals.unexpected += 1;
                continue;
            }
            if seen.insert(idx) {
                let _ = totals.fragment.record(us(at - sent));
                if let Some(n) = notified {
                    let _ = totals.pipeline.record(us(at.saturating_duration_since(n)));
                }
                last = last.max(at);
            }
        }
        totals.missed += (expected.len() - seen.len()) as u64;
        if seen.len() == expected.len() {
            let _ = totals.every.record(us(last - sent));
        }
    }
    Ok(totals)
}

pub fn print(r: &Report, json: &Path) {
    println!(
        "\n{} Ordini, {} sockets ({} accounts, {} per account), {} changes at {}/s",
        r.tenants, r.sockets, r.accounts, r.per_user, r.changes, r.rate_per_second
    );
    println!(
        "{:<44} {:>9} {:>9} {:>9} {:>9}",
        "", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    let ms = |us: u64| us as f64 / 1000.0;
    for (name, p) in [
        ("change sent → HTTP response", &r.change_http_us),
        (
            "change sent → NOTIFY, bare LISTEN (floor)",
            &r.bare_listen_us,
        ),
        ("change sent → fragment at a socket", &r.fragment_us),
        ("NOTIFY → fragment at a socket", &r.notify_to_fragment_us),
        (
            "change sent → every socket of the Ordine",
            &r.every_socket_us,
        ),
    ] {
        println!(
            "{:<44} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            name,
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.max)
        );
    }
    println!(
        "fragments {}  missed {}  unexpected {}  sockets closed by the server {}",
        r.fragments, r.missed, r.unexpected, r.closed
    );
    println!(
        "server RSS: {} KiB before the sockets, {} KiB with them: {:.1} KiB per idle socket",
        r.server_rss_before_sockets_kib,
        r.server_rss_with_sockets_kib,
        r.rss_per_idle_socket_bytes as f64 / 1024.0
    );
    println!("JSON: {}", json.display());
}
