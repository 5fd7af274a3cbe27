//! Accounts over HTTP: login with password and second factor, sessions, CSRF, the roles'
//! areas, activation links, disabling, and the audit trail they leave.

use std::time::Duration;

use patrocinio::{domain::access::Role, store::tenants::TenantSettings};

use crate::helpers::{PASSWORD, TestApp, csrf_of, new_client, spawn_app, spawn_app_with, totp_now};

async fn ordine(app: &TestApp) {
    app.create_tenant("vallenera", TenantSettings::default())
        .await;
}

fn cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("patrocinio="))
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("patrocinio=")
        .to_owned()
}

#[tokio::test]
async fn staff_log_in_with_password_and_second_factor() {
    let app = spawn_app().await;
    ordine(&app).await;
    let user = app
        .user(
            "vallenera",
            "segreteria@ordine.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;
    let client = new_client();

    let res = client
        .post(app.url("/vallenera/accesso"))
        .form(&[("email", " Segreteria@Ordine.it "), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/vallenera/accesso/codice");
    let before = cookie(&res).expect("a session for the half-done login");
    assert!(before.contains("HttpOnly"), "{before}");
    assert!(before.contains("SameSite=Lax"), "{before}");
    assert!(!before.contains("Secure"), "plain HTTP run: {before}");
    assert!(before.contains("Path=/"), "{before}");

    // Not logged in yet: the area still asks for the login.
    let res = client
        .get(app.url("/vallenera/segreteria"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    let res = client
        .post(app.url("/vallenera/accesso/codice"))
        .form(&[("codice", "000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("Codice non valido"));

    let code = totp_now(user.secret.as_deref().unwrap());
    let res = client
        .post(app.url("/vallenera/accesso/codice"))
        .form(&[("codice", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/vallenera/segreteria");
    let after = cookie(&res).expect("a new session id at login");
    assert_ne!(
        cookie_value(&before),
        cookie_value(&after),
        "session fixation"
    );

    let res = client
        .get(app.url("/vallenera/segreteria"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Area della segreteria"));
    assert!(body.contains("Esci"));

    // The same code cannot be used twice (RFC 6238 §5.2).
    let other = new_client();
    other
        .post(app.url("/vallenera/accesso"))
        .form(&[("email", "segreteria@ordine.it"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let res = other
        .post(app.url("/vallenera/accesso/codice"))
        .form(&[("codice", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "a replayed code is refused");
}

#[tokio::test]
async fn wrong_credentials_get_one_message_and_leave_an_audit_entry() {
    let app = spawn_app().await;
    ordine(&app).await;
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    for (email, password) in [
        ("avv@ordine.it", "sbagliata-sbagliata"),
        ("nessuno@ordine.it", PASSWORD),
    ] {
        let res = new_client()
            .post(app.url("/vallenera/accesso"))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422);
        let body = res.text().await.unwrap();
        assert!(body.contains("E-mail o password non corretti."));
        assert!(
            body.contains(&format!("value=\"{email}\"")),
            "the e-mail is kept"
        );
    }
    let mut tx = app
        .db
        .tenant_tx(crate::public_form::tenant_of(&app, "vallenera").await)
        .await
        .unwrap();
    let refused: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log WHERE action = 'accesso' AND outcome = 'negato'",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    assert_eq!(refused, 2);
}

#[tokio::test]
async fn lawyers_may_log_in_without_second_factor_and_see_only_their_area() {
    let app = spawn_app().await;
    ordine(&app).await;
    let user = app
        .user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let me = app.login(&user).await;
    let res = me
        .client
        .get(app.url("/vallenera/avvocati"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    for area in ["segreteria", "consiglieri", "amministrazione"] {
        let res = me
            .client
            .get(app.url(&format!("/vallenera/{area}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{area}");
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("Operazione non consentita")
        );
    }
    // Not logged in: to the login page, and back afterwards.
    let res = new_client()
        .get(app.url("/vallenera/avvocati"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/vallenera/accesso?torna=%2Fvallenera%2Favvocati"
    );
}

#[tokio::test]
async fn a_session_is_not_valid_in_another_ordine() {
    let app = spawn_app().await;
    ordine(&app).await;
    app.create_tenant("altro", TenantSettings::default()).await;
    let user = app
        .user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let me = app.login(&user).await;
    let res = me
        .client
        .get(app.url("/altro/avvocati"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "asked to log in to the other Ordine");
}

#[tokio::test]
async fn staff_without_second_factor_set_it_up_at_first_login() {
    let app = spawn_app().await;
    ordine(&app).await;
    let user = app
        .user(
            "vallenera",
            "relatore@ordine.it",
            &[Role::Consigliere],
            false,
            None,
        )
        .await;
    let client = new_client();
    let res = client
        .post(app.url("/vallenera/accesso"))
        .form(&[("email", user.email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["location"],
        "/vallenera/accesso/configura-codice"
    );
    let page = client
        .get(app.url("/vallenera/accesso/configura-codice"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("data:image/png;base64,"), "a QR code");
    let start = page.find("id=\"chiave-totp\"").unwrap();
    let secret = page[start..]
        .split('>')
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();
    let res = client
        .post(app.url("/vallenera/accesso/configura-codice"))
        .form(&[("codice", totp_now(&secret).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let codes: Vec<String> = body
        .split("<li>")
        .skip(1)
        .map(|s| s.split('<').next().unwrap().to_owned())
        .filter(|s| s.len() == 14)
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes");
    assert_eq!(
        client
            .get(app.url("/vallenera/consiglieri"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // A recovery code works once, in place of the TOTP code.
    for expected in [303, 422] {
        let c = new_client();
        c.post(app.url("/vallenera/accesso"))
            .form(&[("email", user.email.as_str()), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        let res = c
            .post(app.url("/vallenera/accesso/codice"))
            .form(&[("codice", codes[0].to_lowercase().as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), expected);
    }
}

#[tokio::test]
async fn logout_ends_the_server_session() {
    let app = spawn_app().await;
    ordine(&app).await;
    let user = app
        .user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let me = app.login(&user).await;
    // Keep the session cookie to replay it after logout.
    let page = me
        .client
        .get(app.url("/vallenera/avvocati"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let stolen = me
        .client
        .get(app.url("/vallenera/avvocati"))
        .build()
        .unwrap();
    let _ = stolen;
    let res = me
        .client
        .post(app.url("/vallenera/esci"))
        .form(&[("_csrf", me.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = me
        .client
        .get(app.url("/vallenera/avvocati"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "logged out");
    let mut conn = app.admin_connection().await;
    let sessions: i64 = sqlx::query_scalar("SELECT count(*) FROM sessions.session")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(sessions, 0, "the server-side session is gone");
}

#[tokio::test]
async fn state_changes_need_the_session_csrf_token() {
    let app = spawn_app().await;
    ordine(&app).await;
    let user = app
        .user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let me = app.login(&user).await;
    let url = app.url("/vallenera/esci");
    let res = me.client.post(&url).send().await.unwrap();
    assert_eq!(res.status(), 403, "no token");
    let res = me
        .client
        .post(&url)
        .form(&[("_csrf", "0".repeat(64).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "wrong token");
    let res = me
        .client
        .post(&url)
        .form(&[("_csrf", "0".repeat(128).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "wrong masked token");
    // A cross-site form with the session cookie and even the right token.
    let res = me
        .client
        .post(&url)
        .header("Origin", "https://evil.example")
        .form(&[("_csrf", me.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403, "cross-site");
    let res = me
        .client
        .post(&url)
        .header("X-CSRF-Token", me.csrf.as_str())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "htmx sends the header");
}

#[tokio::test]
async fn sessions_end_after_the_idle_time_and_the_absolute_lifetime() {
    let app = spawn_app_with(|c| {
        c.session_idle = Duration::from_secs(2);
    })
    .await;
    ordine(&app).await;
    let user = app
        .user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let me = app.login(&user).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let res = me
        .client
        .get(app.url("/vallenera/avvocati"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "idle too long");

    let app = spawn_app_with(|c| {
        c.session_max_age = Duration::from_secs(3);
    })
    .await;
    ordine(&app).await;
    let user = app
        .user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let me = app.login(&user).await;
    // Active all along, but past the absolute lifetime.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        me.client
            .get(app.url("/vallenera/avvocati"))
            .send()
            .await
            .unwrap();
    }
    let res = me
        .client
        .get(app.url("/vallenera/avvocati"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "past the absolute lifetime");
}

#[tokio::test]
async fn too_many_attempts_on_an_account_are_refused() {
    let app = spawn_app().await;
    ordine(&app).await;
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let mut last = 0;
    for _ in 0..11 {
        let res = new_client()
            .post(app.url("/vallenera/accesso"))
            .form(&[
                ("email", "avv@ordine.it"),
                ("password", "tentativo-sbagliato"),
            ])
            .send()
            .await
            .unwrap();
        last = res.status().as_u16();
        if last == 429 {
            assert!(
                res.text()
                    .await
                    .unwrap()
                    .contains("Troppi tentativi di accesso")
            );
            break;
        }
    }
    assert_eq!(last, 429);
    // Even the right password now waits.
    let res = new_client()
        .post(app.url("/vallenera/accesso"))
        .form(&[("email", "avv@ordine.it"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}

/// The administrator's page, and the link it shows once after an action.
async fn admin_post(
    app: &TestApp,
    admin: &crate::helpers::LoggedIn,
    path: &str,
    fields: &[(&str, &str)],
) -> (u16, String) {
    let mut form: Vec<(&str, &str)> = vec![("_csrf", admin.csrf.as_str())];
    form.extend_from_slice(fields);
    let res = admin
        .client
        .post(app.url(path))
        .form(&form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

fn shown_link(body: &str) -> String {
    let start = body.find("id=\"link-account\">").expect("a link") + "id=\"link-account\">".len();
    body[start..].split('<').next().unwrap().to_owned()
}

#[tokio::test]
async fn invited_accounts_activate_with_a_single_use_link() {
    let app = spawn_app().await;
    ordine(&app).await;
    let admin = app
        .user(
            "vallenera",
            "admin@ordine.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let admin = app.login(&admin).await;
    let (status, body) = admin_post(
        &app,
        &admin,
        "/vallenera/amministrazione/utenti",
        &[
            ("nome", "Lucia Verdi"),
            ("email", "Lucia.Verdi@Ordine.it"),
            ("ruoli", "avvocato"),
        ],
    )
    .await;
    assert_eq!(status, 200);
    let link = shown_link(&body);
    assert!(link.starts_with(&format!("{}/vallenera/imposta-password/", app.address)));

    let anon = new_client();
    let res = anon.get(&link).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Lucia Verdi"));
    let res = anon
        .post(&link)
        .form(&[("password", "breve"), ("conferma", "breve")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("almeno 12 caratteri"));
    let res = anon
        .post(&link)
        .form(&[("password", PASSWORD), ("conferma", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Used once: gone.
    assert_eq!(anon.get(&link).send().await.unwrap().status(), 404);
    let res = new_client()
        .post(app.url("/vallenera/accesso"))
        .form(&[("email", "lucia.verdi@ordine.it"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/vallenera/avvocati");

    // An expired link does not work either.
    let (_, body) = admin_post(
        &app,
        &admin,
        "/vallenera/amministrazione/utenti",
        &[
            ("nome", "Paolo Neri"),
            ("email", "paolo@ordine.it"),
            ("ruoli", "segreteria"),
        ],
    )
    .await;
    let link = shown_link(&body);
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.account_tokens SET expires_at = now() - interval '1 second'")
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(anon.get(&link).send().await.unwrap().status(), 404);
}

#[tokio::test]
async fn disabling_an_account_ends_all_its_sessions_at_once() {
    let app = spawn_app().await;
    ordine(&app).await;
    let admin = app
        .user(
            "vallenera",
            "admin@ordine.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let admin = app.login(&admin).await;
    let lawyer = app
        .user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let first = app.login(&lawyer).await;
    let second = app.login(&lawyer).await;
    let (status, body) = admin_post(
        &app,
        &admin,
        &format!("/vallenera/amministrazione/utenti/{}/stato", lawyer.id),
        &[("disattiva", "1")],
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains("le sue sessioni sono terminate"));
    for session in [&first, &second] {
        let res = session
            .client
            .get(app.url("/vallenera/avvocati"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
    }
    let res = new_client()
        .post(app.url("/vallenera/accesso"))
        .form(&[("email", "avv@ordine.it"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422, "a disabled account cannot log in");

    // Removing a role ends the sessions too.
    let (_, _) = admin_post(
        &app,
        &admin,
        &format!("/vallenera/amministrazione/utenti/{}/stato", lawyer.id),
        &[],
    )
    .await;
    let again = app.login(&lawyer).await;
    admin_post(
        &app,
        &admin,
        &format!("/vallenera/amministrazione/utenti/{}/ruoli", lawyer.id),
        &[("ruoli", "segreteria")],
    )
    .await;
    let res = again
        .client
        .get(app.url("/vallenera/avvocati"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn the_audit_log_records_logins_and_admin_actions_in_an_unbroken_chain() {
    let app = spawn_app().await;
    ordine(&app).await;
    let admin = app
        .user(
            "vallenera",
            "admin@ordine.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let me = app.login(&admin).await;
    admin_post(
        &app,
        &me,
        "/vallenera/amministrazione/utenti",
        &[
            ("nome", "Lucia Verdi"),
            ("email", "lucia@ordine.it"),
            ("ruoli", "avvocato"),
        ],
    )
    .await;
    let res = me
        .client
        .get(app.url("/vallenera/amministrazione/registro?azione=utente_invitato"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("utente_invitato"));
    assert!(!body.contains(">accesso<"), "filtered");
    // The page's token is masked afresh on every render (BREACH), and is the session's.
    let csrf = csrf_of(&body);
    assert_ne!(csrf, me.csrf);

    let tenant = crate::public_form::tenant_of(&app, "vallenera").await;
    let mut tx = app.db.tenant_tx(tenant).await.unwrap();
    let verified = patrocinio::store::audit::verify_chain(&mut tx)
        .await
        .unwrap();
    assert_eq!(verified, Ok(2), "a login and an invitation");
    // The service may not change history.
    let update = sqlx::query("UPDATE audit_log SET actor = 'altri'")
        .execute(tx.conn())
        .await;
    assert!(update.is_err());
    drop(tx);
    // Not even the database owner: the trigger refuses.
    let mut conn = app.admin_connection().await;
    let update = sqlx::query("UPDATE app.audit_log SET actor = 'altri'")
        .execute(&mut conn)
        .await;
    assert!(
        update
            .unwrap_err()
            .to_string()
            .contains("il registro di audit non si modifica")
    );
    // A change made behind the trigger's back is found by the verification.
    sqlx::Executor::execute(
        &mut conn,
        "ALTER TABLE app.audit_log DISABLE TRIGGER audit_immutable;
         UPDATE app.audit_log SET actor = 'altri' WHERE seq = 1;
         ALTER TABLE app.audit_log ENABLE TRIGGER audit_immutable",
    )
    .await
    .unwrap();
    let mut tx = app.db.tenant_tx(tenant).await.unwrap();
    let broken = patrocinio::store::audit::verify_chain(&mut tx)
        .await
        .unwrap();
    assert_eq!(broken.unwrap_err().seq, 1);
}
