//! `/metrics`: hidden without a token, refused without the right one, and then the Prometheus
//! text format with the request latencies by route template, the live sockets, the listener's
//! lag, the outbox backlog and the pool.

use crate::{
    helpers::{LoggedIn, TestApp, spawn_app, spawn_app_with},
    live::{open, wait_for},
    workflow::{SLUG, case_path, office, submitted, version_of},
};

const TOKEN: &str = "prova-metriche-0123456789abcdef0123456789";

async fn app_with_token() -> TestApp {
    spawn_app_with(|c| c.metrics_token = Some(TOKEN.into())).await
}

async fn scrape(app: &TestApp) -> String {
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    res.text().await.unwrap()
}

/// The value of the sample `series` (name and labels, as written), if present.
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn without_a_configured_token_metrics_is_not_found() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn no_token_or_a_wrong_one_is_refused() {
    let app = app_with_token().await;
    let res = app.get("/metrics").await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    for wrong in [&TOKEN[..TOKEN.len() - 1], "x", &format!("{TOKEN}x")] {
        let res = app
            .client
            .get(app.url("/metrics"))
            .bearer_auth(wrong)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{wrong}");
    }
    // Not a Bearer token.
    let res = app
        .client
        .get(app.url("/metrics"))
        .basic_auth("metrics", Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn local_only_answers_the_loopback_address() {
    // The test server listens on the loopback: allowed.
    let app = spawn_app_with(|c| {
        c.metrics_token = Some(TOKEN.into());
        c.metrics_local_only = true;
    })
    .await;
    let body = scrape(&app).await;
    assert!(
        body.contains("# TYPE patrocinio_live_sockets gauge"),
        "{body}"
    );
}

#[tokio::test]
async fn the_families_are_present_in_the_text_format() {
    let app = spawn_app_with(|c| {
        c.metrics_token = Some(TOKEN.into());
        c.db_max_connections = 7;
    })
    .await;
    let body = scrape(&app).await;
    for (name, kind) in [
        ("patrocinio_http_request_duration_seconds", "histogram"),
        ("patrocinio_live_sockets", "gauge"),
        ("patrocinio_listener_lag_events", "gauge"),
        ("patrocinio_listener_lag_seconds", "gauge"),
        ("patrocinio_outbox_backlog", "gauge"),
        ("patrocinio_outbox_oldest_age_seconds", "gauge"),
        ("patrocinio_db_pool_connections", "gauge"),
        ("patrocinio_db_pool_max_connections", "gauge"),
    ] {
        assert!(body.contains(&format!("# HELP {name} ")), "{name}\n{body}");
        assert!(
            body.contains(&format!("# TYPE {name} {kind}\n")),
            "{name}\n{body}"
        );
    }
    // The pool: the scrape itself used a connection; the maximum is the configured one.
    let idle = sample(&body, "patrocinio_db_pool_connections{state=\"idle\"}").unwrap();
    let in_use = sample(&body, "patrocinio_db_pool_connections{state=\"in_use\"}").unwrap();
    let max = sample(&body, "patrocinio_db_pool_max_connections").unwrap();
    assert!(idle + in_use >= 1.0, "{body}");
    assert!(idle + in_use <= max, "{body}");
    assert_eq!(max, 7.0);
    // Nothing happened yet: nothing waits.
    assert_eq!(sample(&body, "patrocinio_outbox_backlog"), Some(0.0));
    assert_eq!(sample(&body, "patrocinio_live_sockets"), Some(0.0));
}

#[tokio::test]
async fn requests_are_counted_under_their_route_template() {
    let app = app_with_token().await;
    office(&app).await;
    let series = "patrocinio_http_request_duration_seconds_count{route=\"/{slug}/istanza\",method=\"GET\",status=\"2xx\"}";
    let before = sample(&scrape(&app).await, series).unwrap_or(0.0);
    for _ in 0..3 {
        assert_eq!(app.get(&format!("/{SLUG}/istanza")).await.status(), 200);
    }
    let body = scrape(&app).await;
    assert_eq!(sample(&body, series), Some(before + 3.0), "{body}");
    // The label is the template, never the path asked for.
    assert!(!body.contains(&format!("route=\"/{SLUG}")), "{body}");
    // Every bucket is there, cumulative up to +Inf.
    let inf = "patrocinio_http_request_duration_seconds_bucket{route=\"/{slug}/istanza\",method=\"GET\",status=\"2xx\",le=\"+Inf\"}";
    assert_eq!(sample(&body, inf), Some(before + 3.0), "{body}");
    // A path no route matches is counted under one label, whatever it is.
    assert_eq!(app.get("/non/esiste/affatto").await.status(), 404);
    let body = scrape(&app).await;
    assert!(!body.contains("affatto"), "{body}");
    assert!(
        body.contains("route=\"(nessuna)\",method=\"GET\",status=\"4xx\""),
        "{body}"
    );
}

#[tokio::test]
async fn an_open_socket_shows_in_the_gauge() {
    let app = app_with_token().await;
    let of = office(&app).await;
    let seg = app.login(&of.secretariat).await;
    assert_eq!(
        sample(&scrape(&app).await, "patrocinio_live_sockets"),
        Some(0.0)
    );
    // `open` returns after the snapshot: the socket holds its slot by then.
    let ws = open(&app, &seg, "/ws?vista=segreteria").await;
    assert_eq!(
        sample(&scrape(&app).await, "patrocinio_live_sockets"),
        Some(1.0)
    );
    drop(ws);
}

#[tokio::test]
async fn a_queued_email_shows_in_the_outbox_backlog() {
    // No SMTP server: e-mails wait in the outbox.
    let app = app_with_token().await;
    let of = office(&app).await;
    submitted(&app, &of.o).await;
    let body = scrape(&app).await;
    let backlog = sample(&body, "patrocinio_outbox_backlog").unwrap();
    assert!(backlog >= 1.0, "{body}");
    let age = sample(&body, "patrocinio_outbox_oldest_age_seconds").unwrap();
    assert!(age >= 0.0, "{body}");
    // The listener's lag is a number (its value depends on when the listener last woke).
    assert!(sample(&body, "patrocinio_listener_lag_events").is_some());
    assert!(sample(&body, "patrocinio_listener_lag_seconds").is_some());
}

#[tokio::test]
async fn the_latest_verified_backup_gives_its_age() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let app = spawn_app_with(move |c| {
        c.metrics_token = Some(TOKEN.into());
        c.backup_dir = Some(dir);
    })
    .await;
    // No backup yet: no age to show.
    assert_eq!(
        sample(&scrape(&app).await, "patrocinio_backup_age_seconds"),
        None
    );
    let hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    for (name, finished, verified) in [
        (
            "20261201T000000Z",
            hour_ago - chrono::Duration::hours(5),
            true,
        ),
        ("20261201T050000Z", hour_ago, true),
        // A newer backup that failed its verification does not count.
        ("20261201T055000Z", chrono::Utc::now(), false),
    ] {
        let folder = backups.path().join(name);
        std::fs::create_dir(&folder).unwrap();
        let d = patrocinio::backup::Descriptor {
            name: name.into(),
            started_at: finished,
            finished_at: finished,
            duration_ms: 1,
            database_bytes: 1,
            files_bytes: 0,
            files_count: 0,
            postgres_version: "15".into(),
            verified,
            verification: String::new(),
            counts: Default::default(),
            point: None,
        };
        std::fs::write(folder.join("backup.json"), serde_json::to_vec(&d).unwrap()).unwrap();
    }
    let age = sample(&scrape(&app).await, "patrocinio_backup_age_seconds").unwrap();
    assert!((3600.0..7200.0).contains(&age), "{age}");
}

/// The secretariat marks the application urgent, or not urgent (one event).
async fn toggle_urgent(app: &TestApp, seg: &LoggedIn, id: uuid::Uuid, urgent: bool) {
    let (_, page) = seg.page(app, &case_path("segreteria", id)).await;
    let v = version_of(&page);
    let mut form = vec![
        ("versione", v.as_str()),
        ("motivo_urgenza", "Udienza vicina"),
    ];
    if urgent {
        form.push(("urgente", "si"));
    }
    let res = seg
        .post(
            app,
            &format!("{}/urgenza", case_path("segreteria", id)),
            &form,
        )
        .await;
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn a_change_seen_by_many_sockets_of_one_audience_is_rendered_once() {
    let app = app_with_token().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    let needle = format!("pratica-{id}");
    // A first change through one socket: once it has arrived, every earlier event has been
    // rendered (a socket takes its events in order).
    let mut boards = vec![open(&app, &seg, "/ws?vista=segreteria").await];
    toggle_urgent(&app, &seg, id, true).await;
    wait_for(&mut boards[0], &needle).await;
    for _ in 0..7 {
        boards.push(open(&app, &seg, "/ws?vista=segreteria").await);
    }
    let renders = "patrocinio_live_event_renders_total";
    let before = sample(&scrape(&app).await, renders).unwrap();

    // One change, eight sockets of the same board: eight identical fragments, one render.
    toggle_urgent(&app, &seg, id, false).await;
    let mut fragments = Vec::new();
    for ws in &mut boards {
        fragments.push(wait_for(ws, &needle).await);
    }
    assert!(fragments.windows(2).all(|w| w[0] == w[1]));
    let after = sample(&scrape(&app).await, renders).unwrap();
    assert_eq!(after - before, 1.0);
}
