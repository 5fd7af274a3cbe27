//! The live workspace at the protocol level (tokio-tungstenite, with cookie and Origin):
//! who may connect, what each socket receives and does not, catch-up after the listener's
//! connection is killed and after a restart, several instances on one database, sessions that
//! end, presence.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use patrocinio::domain::access::Role;
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{self, Message, client::IntoClientRequest, protocol::frame::coding::CloseCode},
};

use crate::{
    helpers::{LoggedIn, TestApp, spawn_app},
    public_form::ordine,
    workflow::{
        SLUG, case_path, office, register, register_and_assign, submitted, submitted_with_pin,
        version_of,
    },
};

pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Waiting this long for something that should come is a failure, not a measurement.
pub const PATIENCE: Duration = Duration::from_secs(15);

pub async fn connect(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let mut req = app.ws_url(path).into_client_request().unwrap();
    if let Some(c) = cookie {
        req.headers_mut().insert("cookie", c.parse().unwrap());
    }
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    connect_async(req).await.map(|(ws, _)| ws)
}

pub async fn open(app: &TestApp, who: &LoggedIn, path: &str) -> Ws {
    let mut ws = connect(app, path, Some(&who.cookie(app)), Some(&app.address))
        .await
        .expect("connect");
    // Every connect starts with a snapshot.
    next_text(&mut ws, PATIENCE)
        .await
        .expect("a snapshot on connect");
    ws
}

/// The next text message (pings are answered by the library), or `None` within `wait`.
pub async fn next_text(ws: &mut Ws, wait: Duration) -> Option<String> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(t.to_string()),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// Reads until a message contains `needle`.
pub async fn wait_for(ws: &mut Ws, needle: &str) -> String {
    loop {
        let msg = next_text(ws, PATIENCE)
            .await
            .unwrap_or_else(|| panic!("never received {needle:?}"));
        if msg.contains(needle) {
            return msg;
        }
    }
}

#[tokio::test]
async fn a_socket_upgrade_is_never_compressed() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let seg = app.login(&of.secretariat).await;
    let mut req = app
        .ws_url("/ws?vista=segreteria")
        .into_client_request()
        .unwrap();
    let h = req.headers_mut();
    h.insert("cookie", seg.cookie(&app).parse().unwrap());
    h.insert("origin", app.address.parse().unwrap());
    h.insert("accept-encoding", "gzip, deflate, br".parse().unwrap());
    let (mut ws, res) = connect_async(req).await.expect("connect");
    assert_eq!(res.status(), 101);
    assert!(
        res.headers().get("content-encoding").is_none(),
        "{:?}",
        res.headers()
    );
    next_text(&mut ws, PATIENCE)
        .await
        .expect("a snapshot on connect");
}

/// The close frame the server sends, if any, within `wait`.
async fn close_code(ws: &mut Ws, wait: Duration) -> Option<CloseCode> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

/// Opens the public status page with code and PIN on a new device: the page's body and the
/// device's cookie (for its socket).
async fn status_page_cookie(app: &TestApp, code: &str, pin: &str) -> (String, String) {
    let (phone, jar) = crate::helpers::client_with_jar();
    let res = phone
        .post(app.url(&format!("/{SLUG}/istanza/stato")))
        .form(&[("codice", code), ("pin", pin)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    use reqwest::cookie::CookieStore;
    let cookie = jar
        .cookies(&app.url("/").parse().unwrap())
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    (body, cookie)
}

/// Waits until the server ends the socket; panics when it stays open.
async fn closed_by_the_server(ws: &mut Ws, what: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return,
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("the socket stayed open after {what}"),
        }
    }
}

async fn status_of(result: Result<Ws, tungstenite::Error>) -> u16 {
    match result {
        Err(tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("{e}"),
        Ok(_) => 101,
    }
}

#[tokio::test]
async fn the_socket_needs_a_session_and_our_origin() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let seg = app.login(&of.secretariat).await;
    let path = "/ws?vista=segreteria";
    assert_eq!(
        status_of(connect(&app, path, None, Some(&app.address)).await).await,
        401
    );
    let cookie = seg.cookie(&app);
    assert_eq!(
        status_of(connect(&app, path, Some(&cookie), Some("https://evil.example")).await).await,
        403
    );
    assert_eq!(
        status_of(connect(&app, path, Some(&cookie), None).await).await,
        403
    );
    // A view that is not one of the person's roles.
    assert_eq!(
        status_of(
            connect(
                &app,
                "/ws?vista=consiglieri",
                Some(&cookie),
                Some(&app.address)
            )
            .await
        )
        .await,
        403
    );
    let mut ws = connect(&app, path, Some(&cookie), Some(&app.address))
        .await
        .unwrap();
    let snapshot = next_text(&mut ws, PATIENCE).await.unwrap();
    assert!(snapshot.contains("id=\"tabellone\""), "{snapshot}");
}

#[tokio::test]
async fn a_filing_reaches_the_board_and_each_socket_gets_only_what_its_user_may_see() {
    let app = spawn_app().await;
    let of = office(&app).await;
    // A second lawyer, and another Ordine watching its own board.
    let other_lawyer = {
        let mut tx = app
            .db
            .tenant_tx(
                patrocinio::store::tenants::find_by_slug(&app.db, SLUG)
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
            )
            .await
            .unwrap();
        let id = patrocinio::store::lawyers::upsert(
            &mut tx,
            patrocinio::store::lawyers::NewLawyer {
                surname: "Verdi",
                given_name: "Marco",
                codice_fiscale: "VRDMRC75H14H501Z",
                register_number: Some("77"),
                pec: None,
                email: Some("marco.verdi@avvocati.example.it"),
                matters: &[patrocinio::domain::application::matter::ListMatter::Civile],
                status: "attivo",
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    };
    let anna = app
        .user(
            SLUG,
            "anna@avvocati.example.it",
            &[Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let marco = app
        .user(
            SLUG,
            "marco@avvocati.example.it",
            &[Role::Avvocato],
            false,
            Some(other_lawyer),
        )
        .await;
    ordine(&app, "altrove").await;
    let elsewhere = app
        .user(
            "altrove",
            "segreteria@altrove.example.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;

    let seg = app.login(&of.secretariat).await;
    let anna = app.login(&anna).await;
    let marco = app.login(&marco).await;
    let elsewhere = app.login(&elsewhere).await;
    let mut board = open(&app, &seg, "/ws?vista=segreteria").await;
    let mut anna_ws = open(&app, &anna, "/ws?vista=avvocati").await;
    let mut marco_ws = open(&app, &marco, "/ws?vista=avvocati").await;
    let mut elsewhere_ws = open(&app, &elsewhere, "/ws?vista=segreteria").await;

    // A filing naming Anna: the board shows it at once, marked new; Anna's dashboard too.
    let (id, code) = submitted(&app, &of.o).await;
    let msg = wait_for(&mut board, &format!("pratica-{id}")).await;
    assert!(
        msg.contains("Mario Rossi") && msg.contains("Nuova"),
        "{msg}"
    );
    assert!(
        msg.contains("id=\"tabellone\""),
        "the same component as the page"
    );
    let msg = wait_for(&mut anna_ws, &code).await;
    assert!(msg.contains("id=\"istanze-avvocato\""));
    // Marco and the other Ordine receive nothing about it.
    assert_eq!(next_text(&mut marco_ws, Duration::from_secs(2)).await, None);
    assert_eq!(
        next_text(&mut elsewhere_ws, Duration::from_secs(1)).await,
        None
    );

    // The registration changes Anna's dashboard again.
    register(&app, &seg, id).await;
    wait_for(&mut anna_ws, "Registrata nel protocollo").await;
    assert_eq!(next_text(&mut marco_ws, Duration::from_secs(1)).await, None);
}

#[tokio::test]
async fn the_rapporteur_sees_a_new_assignment_and_presence_on_the_case_page() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    let rel = app.login(&of.councillors[0]).await;
    let mut queue = open(&app, &rel, "/ws?vista=consiglieri").await;
    register_and_assign(&app, &seg, id, of.councillors[0].id).await;
    let msg = wait_for(&mut queue, "Nuova pratica assegnata").await;
    assert!(msg.contains(&format!("pratica-{id}")));

    // Both open the case: each sees the other.
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    let version = version_of(&page);
    let mut seg_case = open(
        &app,
        &seg,
        &format!("/ws?vista=pratica&area=segreteria&id={id}&versione={version}"),
    )
    .await;
    let mut rel_case = open(
        &app,
        &rel,
        &format!("/ws?vista=pratica&area=consiglieri&id={id}&versione={version}"),
    )
    .await;
    wait_for(&mut seg_case, "Utente rossi@ordine.example.it").await;
    let _ = rel_case.send(Message::Ping(Default::default())).await;

    // A change after the page was rendered is announced on it before anyone saves.
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    let v = version_of(&page);
    let res = seg
        .post(
            &app,
            &format!("{}/urgenza", case_path("segreteria", id)),
            &[
                ("versione", &v),
                ("urgente", "si"),
                ("motivo_urgenza", "Udienza vicina"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let msg = wait_for(&mut rel_case, "pratica-aggiornata").await;
    assert!(msg.contains("Urgenza modificata"), "{msg}");

    // The rapporteur leaves: the secretariat's page no longer lists them.
    drop(rel_case);
    loop {
        let msg = next_text(&mut seg_case, PATIENCE)
            .await
            .expect("presence update");
        if msg.contains("id=\"presenza\"") && !msg.contains("rossi@") {
            break;
        }
    }
}

#[tokio::test]
async fn events_are_caught_up_after_the_listener_connection_is_killed() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let seg = app.login(&of.secretariat).await;
    let mut board = open(&app, &seg, "/ws?vista=segreteria").await;
    let mut admin = app.admin_connection().await;
    let killed: i64 = sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(killed >= 1, "the listener's connection was found");
    // Filings made while the listener reconnects are all delivered.
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(submitted(&app, &of.o).await.0);
    }
    let mut seen = String::new();
    while !ids.iter().all(|id| seen.contains(&format!("pratica-{id}"))) {
        seen = next_text(&mut board, PATIENCE)
            .await
            .expect("every filing after the reconnect");
    }
}

#[tokio::test]
async fn a_restart_closes_sockets_with_1012_and_the_reconnect_misses_nothing() {
    let mut first = spawn_app().await;
    let of = office(&first).await;
    let second = first.another_instance().await;
    let seg = first.login(&of.secretariat).await;
    let mut ws = open(&first, &seg, "/ws?vista=segreteria").await;
    first.stop().await;
    assert_eq!(
        close_code(&mut ws, PATIENCE).await,
        Some(CloseCode::Restart)
    );
    // While the client is away, a filing arrives through the other instance.
    let (id, _) = submitted(&second, &of.o).await;
    // The client reconnects (to the instance still running: same session store, same cookie).
    let cookie = seg.cookie(&first);
    let mut again = connect(
        &second,
        "/ws?vista=segreteria",
        Some(&cookie),
        Some(&second.address),
    )
    .await
    .unwrap();
    let snapshot = next_text(&mut again, PATIENCE).await.unwrap();
    assert_eq!(
        snapshot.matches(&format!("id=\"pratica-{id}\"")).count(),
        1,
        "there, once"
    );
}

#[tokio::test]
async fn a_change_through_one_instance_reaches_a_socket_on_another() {
    let first = spawn_app().await;
    let of = office(&first).await;
    let second = first.another_instance().await;
    let seg = first.login(&of.secretariat).await;
    let cookie = seg.cookie(&first);
    let mut ws = connect(
        &second,
        "/ws?vista=segreteria",
        Some(&cookie),
        Some(&second.address),
    )
    .await
    .unwrap();
    next_text(&mut ws, PATIENCE).await.unwrap();
    let (id, _) = submitted(&first, &of.o).await;
    wait_for(&mut ws, &format!("pratica-{id}")).await;
}

#[tokio::test]
async fn ending_the_session_closes_its_sockets() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let seg = app.login(&of.secretariat).await;
    let mut ws = open(&app, &seg, "/ws?vista=segreteria").await;
    let res = seg.post(&app, &format!("/{SLUG}/esci"), &[]).await;
    assert!(res.status().is_redirection());
    assert_eq!(close_code(&mut ws, PATIENCE).await, Some(CloseCode::Policy));

    // Disabling the account ends the sockets of its other sessions too.
    let rel = app.login(&of.councillors[0]).await;
    let mut ws = open(&app, &rel, "/ws?vista=consiglieri").await;
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.users SET status = 'disabilitato', session_epoch = session_epoch + 1 WHERE id = $1")
        .bind(of.councillors[0].id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(close_code(&mut ws, PATIENCE).await, Some(CloseCode::Policy));
}

#[tokio::test]
async fn the_public_status_page_follows_its_application_only() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, code, pin) = submitted_with_pin(&app, &of.o).await;
    let (other, _) = submitted(&app, &of.o).await;
    let (body, cookie) = status_page_cookie(&app, &code, &pin).await;
    assert!(body.contains(&format!("data-ws-connect=\"/{SLUG}/istanza/{id}/ws\"")));
    let path = format!("/{SLUG}/istanza/{id}/ws");
    let mut ws = connect(&app, &path, Some(&cookie), Some(&app.address))
        .await
        .unwrap();
    let snapshot = next_text(&mut ws, PATIENCE).await.unwrap();
    assert!(snapshot.contains("Presentata, in attesa di registrazione"));
    // Another application's socket is not for this device.
    assert_eq!(
        status_of(
            connect(
                &app,
                &format!("/{SLUG}/istanza/{other}/ws"),
                Some(&cookie),
                Some(&app.address)
            )
            .await
        )
        .await,
        404
    );
    let seg = app.login(&of.secretariat).await;
    register(&app, &seg, other).await;
    assert_eq!(
        next_text(&mut ws, Duration::from_secs(2)).await,
        None,
        "another application's change"
    );
    register(&app, &seg, id).await;
    wait_for(&mut ws, "Registrata nel protocollo").await;
}

/// The `<div id="stato-istanza">` of a status page, as served.
fn status_panel_of(page: &str) -> &str {
    let start = page
        .find("<div id=\"stato-istanza\"")
        .expect("the status panel");
    // The panel is followed by the end of the live container.
    let rest = &page[start..];
    let end = rest
        .find("</div></div></main>")
        .expect("the panel ends the live container");
    &rest[..end + "</div>".len()]
}

#[tokio::test]
async fn a_live_status_update_shows_what_a_reload_shows() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, code, pin) = submitted_with_pin(&app, &of.o).await;
    let (_, cookie) = status_page_cookie(&app, &code, &pin).await;
    let mut ws = connect(
        &app,
        &format!("/{SLUG}/istanza/{id}/ws"),
        Some(&cookie),
        Some(&app.address),
    )
    .await
    .unwrap();
    next_text(&mut ws, PATIENCE).await.expect("a snapshot");

    // The rapporteur asks for documents while the page is open.
    let (_, rel) = crate::workflow::in_examination(&app, &of, id).await;
    crate::workflow::ask(&app, &rel, id).await;
    let pushed = wait_for(&mut ws, "Integrazione richiesta").await;
    for expected in [
        "Occorre inviare i documenti richiesti",
        "Stato di famiglia o autocertificazione",
        "Chi è il secondo figlio indicato nelle lettere?",
        "chiede, entro il",
        &format!("href=\"/{SLUG}/istanza/{id}/integrazione\""),
        "Rispondi alla richiesta",
    ] {
        assert!(
            pushed.contains(expected),
            "the live update lacks {expected}: {pushed}"
        );
    }

    // A reload renders exactly the same panel.
    let (page, _) = status_page_cookie(&app, &code, &pin).await;
    assert_eq!(status_panel_of(&page), pushed.trim());
}

#[tokio::test]
async fn a_socket_that_sends_more_than_a_few_kib_is_closed() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let seg = app.login(&of.secretariat).await;
    let mut ws = open(&app, &seg, "/ws?vista=segreteria").await;
    // Clients only send pongs and close frames: 64 KiB is an abuse, not a message.
    let _ = ws.send(Message::Text("x".repeat(64 * 1024).into())).await;
    closed_by_the_server(&mut ws, "a 64 KiB message").await;
    // The public status page's socket has the same bound.
    let (id, code, pin) = submitted_with_pin(&app, &of.o).await;
    let (_, cookie) = status_page_cookie(&app, &code, &pin).await;
    let mut ws = connect(
        &app,
        &format!("/{SLUG}/istanza/{id}/ws"),
        Some(&cookie),
        Some(&app.address),
    )
    .await
    .expect("the status page's socket");
    next_text(&mut ws, PATIENCE).await.expect("a snapshot");
    let _ = ws.send(Message::Binary(vec![0u8; 64 * 1024].into())).await;
    closed_by_the_server(&mut ws, "a 64 KiB binary message on the public socket").await;
}

#[tokio::test]
async fn a_lawyer_cannot_join_or_watch_a_case_they_may_not_open() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    register(&app, &seg, id).await;
    // A lawyer of the same Ordine who is not the application's lawyer.
    let marco = app
        .user(
            SLUG,
            "marco@avvocati.example.it",
            &[Role::Avvocato],
            false,
            None,
        )
        .await;
    let marco = app.login(&marco).await;
    let (status, _) = marco.page(&app, &case_path("avvocati", id)).await;
    assert_eq!(status, 404, "the page is not theirs");
    let mut seg_case = open(
        &app,
        &seg,
        &format!("/ws?vista=pratica&area=segreteria&id={id}&versione=0"),
    )
    .await;
    let path = format!("/ws?vista=pratica&area=avvocati&id={id}");
    assert_eq!(
        status_of(connect(&app, &path, Some(&marco.cookie(&app)), Some(&app.address)).await).await,
        404,
        "nor is its socket"
    );
    // Nobody joined: the secretariat's page lists no one.
    assert!(
        next_text(&mut seg_case, Duration::from_secs(2))
            .await
            .is_none_or(|m| !m.contains("marco@")),
        "the refused lawyer appeared among those present"
    );
    let tenant = patrocinio::store::tenants::find_by_slug(&app.db, SLUG)
        .await
        .unwrap()
        .unwrap()
        .id;
    let mut tx = app.db.tenant_tx(tenant).await.unwrap();
    let (present, denied): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM presence WHERE application_id = $1),
                (SELECT count(*) FROM audit_log WHERE action = 'accesso_negato'
                   AND details->>'vista' = 'pratica')",
    )
    .bind(id)
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(present, 1, "only the secretariat is present");
    assert_eq!(denied, 1, "the refusal is audited");
}
