//! Standby and failover (issue 15, point 4), end to end: a primary and a streaming standby
//! (`pg_basebackup -R`, synchronous replication: the mode we ship), two PostgreSQL servers from
//! the system binaries; a TCP proxy in front of them as the service's one database endpoint;
//! the service on the proxy's address with a real SMTP server and live sockets open; a load of
//! filings, protocol registrations and e-mails. The primary is killed (SIGKILL on its whole
//! process group) mid-load; `/ready` and the pages answer 503 in Italian; the standby is
//! promoted (`pg_ctl promote`, the operator's command) and the proxy repointed; then: `/ready`
//! 200, changes succeed with the pool and the listener reconnected by themselves, every change
//! acknowledged before the kill is there with the number the client was shown (RPO 0),
//! protocol numbers 1..N without gaps or repeats, each socket got each registration's event
//! exactly once, and every e-mail arrived at least once, at most twice, the copy with the same
//! Message-ID (a sending whose "sent" mark died with the primary is sent again).
//!
//! Times (RTO) are printed, never asserted.

use std::{
    collections::{HashMap, HashSet},
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::PathBuf,
    process::Command,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use patrocinio::{
    db::{
        embedded::{EmbeddedOptions, EmbeddedPostgres},
        provision,
    },
    domain::access::Role,
};
use sqlx::{Connection, Executor, PgConnection, Row};
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::{
    helpers::{LoggedIn, TestApp, spawn_app_on},
    live::{Ws, open},
    mail::{Smtp, free_port, mailing},
    public_form::{fill_complete, new_draft, review_token},
    workflow::{SLUG, between, case_path, copies_on, office, submitted, version_of},
};

const APP_PASSWORD: &str = "patrocinio-failover-app";
/// Applications registered during the load (half by each of two clerks: a person may hold
/// at most 20 live sockets).
const REGISTRATIONS: usize = 16;
/// Applications filed through the public form during the load.
const FILINGS: usize = 2;
/// A notice the case page's socket sends for a change made by someone else.
const CHANGED: &str = "La pratica è stata modificata dopo l'apertura";
const UNAVAILABLE: &str = "Servizio temporaneamente non disponibile";

/// The service's one database endpoint: a TCP proxy that the operator points at the primary.
/// Repointing it cuts the sessions it carried (as a proxy does when a backend is marked down).
struct Proxy {
    port: u16,
    target: watch::Sender<Option<u16>>,
    task: JoinHandle<()>,
}

impl Proxy {
    async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (target, rx) = watch::channel(Some(target));
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let Some(port) = *rx.borrow_and_update() else {
                        return;
                    };
                    let Ok(mut upstream) = TcpStream::connect(("127.0.0.1", port)).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
                        _ = rx.changed() => {}
                    }
                });
            }
        });
        Self { port, target, task }
    }

    fn repoint(&self, port: u16) {
        self.target.send_replace(Some(port));
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn start_server(data_root: PathBuf) -> EmbeddedPostgres {
    tokio::task::spawn_blocking(move || {
        let mut options = EmbeddedOptions::new(data_root);
        options.max_connections = 60;
        // Durable, and above all with synchronous_commit on: the test cluster's shortcuts
        // (fsync and synchronous commit off) would defeat synchronous replication.
        options.durable = true;
        EmbeddedPostgres::start(&options)
    })
    .await
    .unwrap()
    .expect("a PostgreSQL server from the system binaries")
}

/// A PostgreSQL command of the server's own version: beside its `postgres`, or in Debian's
/// folder for that version (`initdb` and `postgres` may be found on PATH without the rest).
fn tool(server: &EmbeddedPostgres, name: &str) -> PathBuf {
    let beside = server.binaries.dir.join(name);
    if beside.exists() {
        return beside;
    }
    PathBuf::from(format!(
        "{}/{}/bin/{name}",
        patrocinio::db::embedded::DEBIAN_LIB_ROOT,
        server.binaries.major
    ))
}

/// PostgreSQL's commands refuse root: as root they run as the `postgres` system user.
fn as_postgres(cmd: &mut Command) -> &mut Command {
    if nix::unistd::geteuid().is_root() {
        let user = nix::unistd::User::from_name("postgres")
            .unwrap()
            .expect("the postgres system user");
        cmd.uid(user.uid.as_raw())
            .gid(user.gid.as_raw())
            .current_dir("/");
    }
    cmd
}

/// Asks `sql` of the server at `url` until it answers `want` (within a minute).
async fn query_until<T>(url: &str, sql: &str, want: T, what: &str)
where
    T: PartialEq
        + std::fmt::Debug
        + for<'r> sqlx::Decode<'r, sqlx::Postgres>
        + sqlx::Type<sqlx::Postgres>
        + Send
        + Unpin,
{
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let mut conn = PgConnection::connect(url).await.unwrap();
        let got: T = sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap();
        if got == want {
            return;
        }
        assert!(Instant::now() < deadline, "{what}: {got:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every text message a socket receives, in order.
fn collect(mut ws: Ws) -> (Arc<Mutex<Vec<String>>>, JoinHandle<()>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let into = got.clone();
    let task = tokio::spawn(async move {
        while let Some(Ok(m)) = ws.next().await {
            if let Message::Text(t) = m {
                into.lock().unwrap().push(t.to_string());
            }
        }
    });
    (got, task)
}

/// What the load's clients saw.
#[derive(Default)]
struct Seen {
    /// Every status answered, with when.
    statuses: Vec<(Instant, u16)>,
    /// (application, protocol number shown, when the registration was acknowledged).
    registered: Vec<(Uuid, String, Instant)>,
    /// Bodies of 503 answers (checked for their Italian page).
    unavailable_pages: Vec<String>,
    /// Answers that are neither success, 409 nor 503.
    unexpected: Vec<(u16, String)>,
}

/// Registers `id` as a clerk does after an error: reload the page; registered already → done
/// (the number it shows); else register again with the version on the page.
async fn register_until_done(app: &TestApp, seg: &LoggedIn, id: Uuid, seen: &Mutex<Seen>) {
    let path = case_path("segreteria", id);
    let mut acknowledged: Option<Instant> = None;
    loop {
        let res = seg.client.get(app.url(&path)).send().await;
        let Ok(res) = res else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let status = res.status().as_u16();
        let retry_after = res.headers().contains_key("retry-after");
        let page = res.text().await.unwrap_or_default();
        seen.lock().unwrap().statuses.push((Instant::now(), status));
        if status == 503 {
            assert!(retry_after, "a 503 says when to try again");
            seen.lock().unwrap().unavailable_pages.push(page);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        if status != 200 {
            seen.lock().unwrap().unexpected.push((status, path.clone()));
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        if let Some(number) = between(&page, "<h1>Pratica ", " ") {
            let at = acknowledged.unwrap_or_else(Instant::now);
            seen.lock()
                .unwrap()
                .registered
                .push((id, number.to_owned(), at));
            return;
        }
        let v = version_of(&page);
        let res = seg
            .client
            .post(app.url(&format!("{path}/protocolla")))
            .form(&[("_csrf", seg.csrf.as_str()), ("versione", v.as_str())])
            .send()
            .await;
        let Ok(res) = res else {
            continue;
        };
        let status = res.status().as_u16();
        let page = res.text().await.unwrap_or_default();
        seen.lock().unwrap().statuses.push((Instant::now(), status));
        match status {
            303 => acknowledged = Some(Instant::now()),
            503 => seen.lock().unwrap().unavailable_pages.push(page),
            // The registration committed although its answer was lost: the page says so.
            409 => {}
            s => seen.lock().unwrap().unexpected.push((s, path.clone())),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standby_takes_over_and_nothing_committed_is_lost_or_repeated() {
    // Two servers in a folder the postgres system user can reach.
    let root = tempfile::tempdir().unwrap();
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let primary_root = root.path().join("primario");
    let standby_root = root.path().join("standby");
    let primary = start_server(primary_root.clone()).await;
    let proxy = Proxy::start(primary.port()).await;

    // The database and its roles on the primary, before the standby is taken.
    let mut admin = PgConnection::connect(&primary.superuser_url("postgres"))
        .await
        .unwrap();
    provision::ensure_database(&mut admin, "patrocinio")
        .await
        .unwrap();
    let app_url = format!(
        "postgres://{}:{APP_PASSWORD}@127.0.0.1:{}/patrocinio",
        provision::APP_ROLE,
        proxy.port
    );
    provision::provision_external(&primary.superuser_url("patrocinio"), &app_url)
        .await
        .unwrap();

    // The standby: a base backup that writes its own recovery settings (-R).
    std::fs::create_dir_all(&standby_root).unwrap();
    std::fs::copy(
        primary_root.join("postgres-credentials.json"),
        standby_root.join("postgres-credentials.json"),
    )
    .unwrap();
    let conninfo = format!(
        "host=127.0.0.1 port={} user=postgres password={} application_name=standby",
        primary.port(),
        primary.credentials().superuser_password
    );
    let out = Command::new(tool(&primary, "pg_basebackup"))
        .arg("-d")
        .arg(&conninfo)
        .arg("-D")
        .arg(standby_root.join("postgres"))
        .args(["-R", "-X", "stream", "-c", "fast"])
        .output()
        .expect("pg_basebackup");
    assert!(
        out.status.success(),
        "pg_basebackup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let standby = start_server(standby_root.clone()).await;
    // Synchronous replication, set on the primary only (after the base backup, so that the
    // standby, once promoted, does not wait for a standby of its own).
    admin
        .execute("ALTER SYSTEM SET synchronous_standby_names = 'standby'")
        .await
        .unwrap();
    admin.execute("SELECT pg_reload_conf()").await.unwrap();
    query_until(
        &primary.superuser_url("postgres"),
        "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'standby' AND sync_state = 'sync'",
        1i64,
        "the standby streaming synchronously",
    )
    .await;
    admin.close().await.unwrap();

    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let app = spawn_app_on(&app_url, mailing(&smtp)).await;

    // An Ordine, two clerks, the applications to register and the drafts to file.
    let of = office(&app).await;
    let second = app
        .user(
            SLUG,
            "segreteria2@ordine.example.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;
    let (first, _) = submitted(&app, &of.o).await;
    let mut ids = vec![first];
    {
        let mut conn = PgConnection::connect(&primary.superuser_url("patrocinio"))
            .await
            .unwrap();
        ids.extend(copies_on(&mut conn, first, REGISTRATIONS - 1).await);
        conn.close().await.unwrap();
    }
    let mut drafts = Vec::new();
    for _ in 0..FILINGS {
        let d = new_draft(&app, SLUG).await;
        fill_complete(&d, &of.o).await;
        let token = review_token(&d).await;
        drafts.push((d.url("invia"), token, d.id.clone()));
    }
    let clerks = [
        Arc::new(app.login(&of.secretariat).await),
        Arc::new(app.login(&second).await),
    ];

    // A live socket on each application's page, held by the clerk who registers it.
    let mut sockets = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let seg = &clerks[i % 2];
        let (_, page) = seg.page(&app, &case_path("segreteria", *id)).await;
        let v = version_of(&page);
        let ws = open(
            &app,
            seg,
            &format!("/ws?vista=pratica&area=segreteria&id={id}&versione={v}"),
        )
        .await;
        sockets.push((*id, collect(ws)));
    }

    // The load: four clerks' tabs registering, and the filings, each retried until done.
    let app = Arc::new(app);
    let seen = Arc::new(Mutex::new(Seen::default()));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut load = tokio::task::JoinSet::new();
    for lane in 0..4 {
        let (app, seen, acknowledged) = (app.clone(), seen.clone(), acknowledged.clone());
        let seg = clerks[lane % 2].clone();
        let mine: Vec<Uuid> = ids
            .iter()
            .enumerate()
            .filter(|(i, _)| i % 4 == lane)
            .map(|(_, id)| *id)
            .collect();
        load.spawn(async move {
            for id in mine {
                register_until_done(&app, &seg, id, &seen).await;
                acknowledged.fetch_add(1, Ordering::SeqCst);
            }
        });
    }
    let filed = Arc::new(Mutex::new(Vec::<(String, Instant)>::new()));
    for (url, token, id) in drafts {
        let (app, seen, filed) = (app.clone(), seen.clone(), filed.clone());
        load.spawn(async move {
            loop {
                let res = app
                    .client
                    .post(&url)
                    .form(&[("token", token.as_str()), ("warnings_confirmed", "1")])
                    .send()
                    .await;
                let Ok(res) = res else { continue };
                let status = res.status().as_u16();
                seen.lock().unwrap().statuses.push((Instant::now(), status));
                match status {
                    303 => {
                        filed.lock().unwrap().push((id, Instant::now()));
                        return;
                    }
                    503 => tokio::time::sleep(Duration::from_millis(300)).await,
                    s => {
                        seen.lock().unwrap().unexpected.push((s, "invia".into()));
                        tokio::time::sleep(Duration::from_millis(300)).await;
                    }
                }
            }
        });
    }

    // Mid-load, the primary's machine dies: every server process at once.
    while acknowledged.load(Ordering::SeqCst) < REGISTRATIONS / 3 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(primary.pid()),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let killed_at = Instant::now();
    while primary.is_running() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let acked_before_kill: Vec<(Uuid, String)> = seen
        .lock()
        .unwrap()
        .registered
        .iter()
        .filter(|(_, _, at)| *at < killed_at)
        .map(|(id, n, _)| (*id, n.clone()))
        .collect();
    let filed_before_kill: Vec<String> = filed
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, at)| *at < killed_at)
        .map(|(id, _)| id.clone())
        .collect();

    // No primary: not ready, and the pages say so in Italian, with nothing internal.
    let res = app.get("/ready").await;
    assert_eq!(res.status(), 503);
    assert!(res.text().await.unwrap().contains(UNAVAILABLE));
    let res = clerks[0]
        .client
        .get(app.url(&case_path("segreteria", ids[0])))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body = res.text().await.unwrap();
    assert!(body.contains(UNAVAILABLE), "{body}");
    let res = app.get(&format!("/{SLUG}/istanza")).await;
    assert_eq!(res.status(), 503);
    // The load keeps knocking for a moment (its clerks see the same page).
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The operator promotes the standby and moves the endpoint.
    let promote_at = Instant::now();
    let out = as_postgres(&mut Command::new(tool(&standby, "pg_ctl")))
        .arg("promote")
        .arg("-D")
        .arg(standby.cluster_dir())
        .args(["-w", "-t", "60"])
        .output()
        .expect("pg_ctl promote");
    assert!(
        out.status.success(),
        "pg_ctl promote: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let promoted_at = Instant::now();
    proxy.repoint(standby.port());
    let repointed_at = Instant::now();
    let new_primary = standby.superuser_url("patrocinio");
    query_until(
        &new_primary,
        "SELECT pg_is_in_recovery()",
        false,
        "the standby promoted",
    )
    .await;
    query_until(
        &new_primary,
        "SELECT current_setting('synchronous_standby_names')",
        String::new(),
        "the new primary waits for no standby",
    )
    .await;

    // The load finishes by itself: the pool and the listener reconnect.
    let deadline = Instant::now() + Duration::from_secs(90);
    while !load.is_empty() {
        assert!(
            Instant::now() < deadline,
            "the load did not finish after the failover"
        );
        if let Ok(Some(Err(e))) =
            tokio::time::timeout(Duration::from_secs(1), load.join_next()).await
        {
            panic!("a client of the load failed: {e}");
        }
    }
    let res = app.get("/ready").await;
    assert_eq!(res.status(), 200, "ready again on the promoted standby");

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let first_success = seen
        .statuses
        .iter()
        .filter(|(at, s)| *at > repointed_at && *s == 303)
        .map(|(at, _)| *at)
        .min()
        .expect("a change after the failover");
    println!(
        "failover: kill -> promote command {:.1} s (the operator's decision, excluded); \
         promote {:.2} s; repoint -> first change committed {:.2} s; RTO (promote + repoint -> \
         first change) {:.2} s; 503 answers during the outage: {}",
        (promote_at - killed_at).as_secs_f64(),
        (promoted_at - promote_at).as_secs_f64(),
        (first_success - repointed_at).as_secs_f64(),
        (first_success - promote_at).as_secs_f64(),
        seen.statuses.iter().filter(|(_, s)| *s == 503).count(),
    );
    assert!(
        seen.unexpected.is_empty(),
        "only success, 409 or 503: {:?}",
        seen.unexpected
    );
    for page in &seen.unavailable_pages {
        assert!(page.contains(UNAVAILABLE), "{page}");
        for internal in ["sqlx", "error returned", "PoolTimedOut", "pg_"] {
            assert!(!page.contains(internal), "{internal} in {page}");
        }
    }

    // The database after the failover.
    let mut db = PgConnection::connect(&new_primary).await.unwrap();
    let numbers: Vec<i32> = sqlx::query_scalar(
        "SELECT number FROM app.protocol_entries WHERE direction = 'entrata' ORDER BY number",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(
        numbers,
        (1..=REGISTRATIONS as i32).collect::<Vec<_>>(),
        "protocol numbers without gaps or repeats"
    );
    let shown: HashMap<Uuid, String> = seen
        .registered
        .iter()
        .map(|(id, n, _)| (*id, n.clone()))
        .collect();
    assert_eq!(shown.len(), REGISTRATIONS);
    let rows = sqlx::query(
        "SELECT id, protocol_year::text || '/' || lpad(protocol_number::text, 7, '0') AS n
           FROM app.applications WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut db)
    .await
    .unwrap();
    for row in rows {
        let id: Uuid = row.get("id");
        let n: Option<String> = row.get("n");
        assert_eq!(n.as_ref(), shown.get(&id), "the number the clerk was shown");
    }
    // RPO: every change acknowledged before the kill is there, as acknowledged.
    for (id, n) in &acked_before_kill {
        assert_eq!(shown.get(id), Some(n));
    }
    for id in &filed_before_kill {
        let state: String = sqlx::query_scalar("SELECT state FROM app.applications WHERE id = $1")
            .bind(Uuid::parse_str(id).unwrap())
            .fetch_one(&mut db)
            .await
            .unwrap();
        assert_eq!(state, "presentata", "a filing acknowledged before the kill");
    }
    let filings: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.events WHERE kind = 'presentata' AND application_id <> $1",
    )
    .bind(first)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(filings, FILINGS as i64, "each filing once");
    println!(
        "failover: RPO 0 committed changes lost ({} registrations and {} filings acknowledged \
         before the kill, all present)",
        acked_before_kill.len(),
        filed_before_kill.len()
    );

    // Each socket: its application's registration exactly once.
    let events: Vec<(Uuid, i64)> = sqlx::query_as(
        "SELECT application_id, count(*) FROM app.events WHERE kind = 'protocollata'
          GROUP BY application_id",
    )
    .fetch_all(&mut db)
    .await
    .unwrap();
    assert_eq!(events.len(), REGISTRATIONS);
    assert!(events.iter().all(|(_, n)| *n == 1), "{events:?}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let missing: Vec<Uuid> = sockets
            .iter()
            .filter(|(_, (got, _))| {
                !got.lock()
                    .unwrap()
                    .iter()
                    .any(|m| m.contains(CHANGED) && m.contains("Registrata nel protocollo"))
            })
            .map(|(id, _)| *id)
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sockets that never got their registration: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The e-mails: all sent, each at least once, a copy only with the same Message-ID.
    query_until(
        &new_primary,
        "SELECT count(*) FROM app.outbox WHERE status <> 'inviato'",
        0i64,
        "every e-mail sent",
    )
    .await;
    let outbox: Vec<String> =
        sqlx::query_scalar("SELECT message_id FROM app.outbox WHERE status = 'inviato'")
            .fetch_all(&mut db)
            .await
            .unwrap();
    let outbox: HashSet<String> = outbox
        .iter()
        .map(|m| m.trim_matches(['<', '>', ' ']).to_owned())
        .collect();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut received: HashMap<String, usize>;
    loop {
        received = HashMap::new();
        for m in smtp.received() {
            *received
                .entry(m.message_id.trim_matches(['<', '>', ' ']).to_owned())
                .or_default() += 1;
        }
        if outbox.iter().all(|id| received.contains_key(id)) {
            break;
        }
        assert!(Instant::now() < deadline, "e-mails not received");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for (id, n) in &received {
        assert!(outbox.contains(id), "a message no outbox row knows: {id}");
        assert!(*n <= 2, "{id} received {n} times");
    }
    // Only now, with time gone by, is "exactly once" on the sockets meaningful.
    for (id, (got, task)) in &sockets {
        let notices = got
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.contains(CHANGED))
            .count();
        assert_eq!(notices, 1, "socket of {id}");
        task.abort();
    }
    println!(
        "failover: {} e-mails, {} received twice (same Message-ID: sent, then the primary died \
         before the \"sent\" mark reached the standby)",
        outbox.len(),
        received.values().filter(|n| **n > 1).count()
    );
    drop(standby);
}
