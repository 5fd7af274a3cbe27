//! OpenID Connect login against a real, OpenID Certified provider (`oidc-provider` at its
//! defaults: with the code flow the e-mail comes only from the userinfo endpoint), configured
//! through the Ordine's settings page as an administrator would.

use patrocinio::{domain::access::Role, store::tenants};
use serde_json::{Value, json};

use super::node::{
    CLIENT_ID, CLIENT_SECRET, NodeProvider, Options, SPID_L1, SPID_L2, account, login,
};
use crate::helpers::{LoggedIn, TestApp, new_client, spawn_app, totp_now};

async fn admin(app: &TestApp) -> LoggedIn {
    let a = app
        .user(
            "vallenera",
            "admin@ordine.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    app.login(&a).await
}

/// Posts the settings page with the identity provider's fields.
async fn save(app: &TestApp, me: &LoggedIn, oidc: &[(&str, &str)]) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new()
        .text("_csrf", me.csrf.clone())
        .text("nome", "Consiglio dell'Ordine degli Avvocati di Vallenera")
        .text("giorni_integrazione", "15");
    for (k, v) in oidc {
        form = form.text(k.to_string(), v.to_string());
    }
    let res = me
        .client
        .post(app.url("/vallenera/amministrazione/impostazioni"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The Ordine, its provider (started with `options`) saved through the settings page.
async fn setup(options: Options, fields: &[(&str, &str)]) -> (TestApp, NodeProvider) {
    let app = spawn_app().await;
    app.create_tenant("vallenera", tenants::TenantSettings::default())
        .await;
    let provider = NodeProvider::start(&app, options).await;
    let me = admin(&app).await;
    let issuer = provider.issuer.clone();
    let mut all = vec![
        ("oidc_emittente", issuer.as_str()),
        ("oidc_client_id", CLIENT_ID),
        ("oidc_etichetta", "SPID"),
    ];
    all.extend_from_slice(fields);
    let (status, body) = save(&app, &me, &all).await;
    assert_eq!(status, 200, "settings saved: {body}");
    (app, provider)
}

fn person(email: &str) -> Value {
    account(json!({ "email": email, "email_verified": true }), None, &[])
}

/// The audit entries of `action`, oldest first: (outcome, details).
async fn audit(app: &TestApp, action: &str) -> Vec<(String, Value)> {
    let t = tenants::find_by_slug(&app.db, "vallenera")
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.db.tenant_tx(t.id).await.unwrap();
    let rows: Vec<(String, Value)> =
        sqlx::query_as("SELECT outcome, details FROM audit_log WHERE action = $1 ORDER BY seq")
            .bind(action)
            .fetch_all(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    rows
}

async fn logged_in(app: &TestApp, client: &reqwest::Client, area: &str) -> bool {
    client
        .get(app.url(&format!("/vallenera/{area}")))
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

fn location(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_lawyer_logs_in_when_the_email_comes_only_from_userinfo() {
    let (app, provider) = setup(
        Options {
            accounts: json!({ "persona-1": person("avv@ordine.it") }),
            ..Options::default()
        },
        &[("oidc_client_secret", CLIENT_SECRET)],
    )
    .await;
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let client = new_client();
    let (res, authorization) = login(&app, &provider, &client, Some("persona-1")).await;
    assert!(authorization.contains("code_challenge_method=S256"), "PKCE");
    assert_eq!(res.status(), 303, "{}", provider.log());
    assert_eq!(location(&res).as_deref(), Some("/vallenera/avvocati"));
    assert!(logged_in(&app, &client, "avvocati").await);

    let logins = audit(&app, "accesso").await;
    let (outcome, details) = logins.last().unwrap();
    assert_eq!(outcome, "ok");
    assert_eq!(details["metodo"], "oidc");
    assert_eq!(details["emittente"], provider.issuer.as_str());
    assert_eq!(details["identita_collegata"], true);
}

#[tokio::test]
async fn a_missing_or_false_email_verified_is_refused() {
    let (app, provider) = setup(
        Options {
            accounts: json!({
                "senza-verifica": account(json!({ "email": "avv@ordine.it" }), None, &[]),
                "non-verificata": account(json!({ "email": "avv@ordine.it", "email_verified": false }), None, &[]),
            }),
            ..Options::default()
        },
        &[("oidc_client_secret", CLIENT_SECRET)],
    )
    .await;
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    for who in ["senza-verifica", "non-verificata"] {
        let client = new_client();
        let (res, _) = login(&app, &provider, &client, Some(who)).await;
        assert_eq!(res.status(), 422, "{who}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("non conferma che l'indirizzo e-mail sia verificato"),
            "{who}"
        );
        assert!(!logged_in(&app, &client, "avvocati").await, "{who}");
    }
    let refused = audit(&app, "accesso").await;
    let reasons: Vec<&str> = refused
        .iter()
        .filter(|(o, _)| o == "negato")
        .map(|(_, d)| d["motivo"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["email_not_verified", "email_not_verified"]);
}

#[tokio::test]
async fn the_issuer_is_checked_by_discovery_when_saved() {
    let app = spawn_app().await;
    app.create_tenant("vallenera", tenants::TenantSettings::default())
        .await;
    let me = admin(&app).await;

    // Nothing answers there.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://127.0.0.1:{}/", free.local_addr().unwrap().port());
    drop(free);
    let (status, body) = save(
        &app,
        &me,
        &[
            ("oidc_emittente", &nowhere),
            ("oidc_client_id", CLIENT_ID),
            ("oidc_client_secret", CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body.contains("non è raggiungibile o non è valido"),
        "{body}"
    );
    assert!(body.contains(&format!("value=\"{nowhere}\"")), "typed kept");

    // The provider publishes another issuer (it names itself `localhost`).
    let provider = NodeProvider::start(
        &app,
        Options {
            host: "localhost",
            ..Options::default()
        },
    )
    .await;
    let typed = format!("http://127.0.0.1:{}/", provider.port);
    let (status, body) = save(
        &app,
        &me,
        &[
            ("oidc_emittente", &typed),
            ("oidc_client_id", CLIENT_ID),
            ("oidc_client_secret", CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body.contains(&format!(
            "Il provider dichiara come emittente «{}»",
            provider.issuer
        )),
        "{body}"
    );
    let t = tenants::find_by_slug(&app.db, "vallenera")
        .await
        .unwrap()
        .unwrap();
    assert!(t.settings.oidc.is_none(), "nothing saved");
}

#[tokio::test]
async fn an_issuer_typed_without_its_final_slash_is_saved_as_published_and_works() {
    let app = spawn_app().await;
    app.create_tenant("vallenera", tenants::TenantSettings::default())
        .await;
    let provider = NodeProvider::start(
        &app,
        Options {
            accounts: json!({ "persona-1": person("avv@ordine.it") }),
            ..Options::default()
        },
    )
    .await;
    assert!(provider.issuer.ends_with('/'));
    let me = admin(&app).await;
    let typed = provider.issuer.trim_end_matches('/').to_owned();
    let (status, body) = save(
        &app,
        &me,
        &[
            ("oidc_emittente", &typed),
            ("oidc_client_id", CLIENT_ID),
            ("oidc_client_secret", CLIENT_SECRET),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let t = tenants::find_by_slug(&app.db, "vallenera")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(t.settings.oidc.unwrap().issuer, provider.issuer);
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let client = new_client();
    let (res, _) = login(&app, &provider, &client, Some("persona-1")).await;
    assert_eq!(res.status(), 303, "{}", provider.log());
    assert!(logged_in(&app, &client, "avvocati").await);
}

#[tokio::test]
async fn client_secret_post_is_used_when_it_is_all_the_provider_accepts() {
    let (app, provider) = setup(
        Options {
            client_auth: "client_secret_post",
            auth_methods: vec!["client_secret_post"],
            accounts: json!({ "persona-1": person("avv@ordine.it") }),
            ..Options::default()
        },
        &[("oidc_client_secret", CLIENT_SECRET)],
    )
    .await;
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let client = new_client();
    let (res, _) = login(&app, &provider, &client, Some("persona-1")).await;
    assert_eq!(res.status(), 303, "{}", provider.log());
    assert!(logged_in(&app, &client, "avvocati").await);
}

#[tokio::test]
async fn private_key_jwt_with_the_ordines_published_key() {
    let app = spawn_app().await;
    app.create_tenant("vallenera", tenants::TenantSettings::default())
        .await;
    let provider = NodeProvider::start(
        &app,
        Options {
            client_auth: "private_key_jwt",
            auth_methods: vec!["private_key_jwt"],
            accounts: json!({ "persona-1": person("avv@ordine.it") }),
            ..Options::default()
        },
    )
    .await;
    let me = admin(&app).await;
    assert_eq!(
        app.get("/vallenera/accesso/oidc/jwks.json").await.status(),
        404,
        "no key yet"
    );

    // A client secret is not what this provider accepts.
    let fields = [
        ("oidc_emittente", provider.issuer.as_str()),
        ("oidc_client_id", CLIENT_ID),
        ("oidc_client_secret", "non-serve"),
    ];
    let (status, body) = save(&app, &me, &fields).await;
    assert_eq!(status, 422);
    assert!(
        body.contains("Il provider non accetta l'autenticazione con client secret"),
        "{body}"
    );

    let fields = [
        ("oidc_emittente", provider.issuer.as_str()),
        ("oidc_client_id", CLIENT_ID),
        ("oidc_autenticazione", "chiave"),
    ];
    let (status, body) = save(&app, &me, &fields).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("/vallenera/accesso/oidc/jwks.json"));
    let jwks: Value = app
        .get("/vallenera/accesso/oidc/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert!(key.get("d").is_none(), "only the public half");

    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let client = new_client();
    let (res, _) = login(&app, &provider, &client, Some("persona-1")).await;
    assert_eq!(res.status(), 303, "{}", provider.log());
    assert!(logged_in(&app, &client, "avvocati").await);
}

#[tokio::test]
async fn a_second_factor_at_the_provider_replaces_the_code_only_when_the_id_token_proves_it() {
    let (app, provider) = setup(
        Options {
            accounts: json!({ "persona-1": account(json!({ "email": "seg@ordine.it", "email_verified": true }), Some(SPID_L2), &["pwd", "otp"]) }),
            ..Options::default()
        },
        &[
            ("oidc_client_secret", CLIENT_SECRET),
            ("oidc_secondo_fattore", "1"),
            ("oidc_acr", SPID_L2),
        ],
    )
    .await;
    let staff = app
        .user(
            "vallenera",
            "seg@ordine.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;

    // SPID level 2: in at once; the level was asked for.
    let client = new_client();
    let (res, authorization) = login(&app, &provider, &client, Some("persona-1")).await;
    let asked = url::Url::parse(&authorization).unwrap();
    let acr_values = asked
        .query_pairs()
        .find(|(k, _)| k == "acr_values")
        .map(|(_, v)| v.into_owned());
    assert_eq!(acr_values.as_deref(), Some(SPID_L2));
    assert_eq!(
        (res.status().as_u16(), location(&res).as_deref()),
        (303, Some("/vallenera/segreteria")),
        "{}",
        provider.log()
    );

    // Level 1 with a password only: not refused, the TOTP code is asked.
    provider.set_accounts(json!({ "persona-1": account(json!({ "email": "seg@ordine.it", "email_verified": true }), Some(SPID_L1), &["pwd"]) }));
    let client = new_client();
    let (res, _) = login(&app, &provider, &client, Some("persona-1")).await;
    assert_eq!(
        location(&res).as_deref(),
        Some("/vallenera/accesso/codice"),
        "{}",
        provider.log()
    );
    assert!(!logged_in(&app, &client, "segreteria").await);
    let code = totp_now(staff.secret.as_deref().unwrap());
    let res = client
        .post(app.url("/vallenera/accesso/codice"))
        .form(&[("codice", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&res).as_deref(), Some("/vallenera/segreteria"));

    // Level 1 with a one-time code at the provider (`amr`): in at once.
    provider.set_accounts(json!({ "persona-1": account(json!({ "email": "seg@ordine.it", "email_verified": true }), Some(SPID_L1), &["pwd", "otp"]) }));
    let client = new_client();
    let (res, _) = login(&app, &provider, &client, Some("persona-1")).await;
    assert_eq!(location(&res).as_deref(), Some("/vallenera/segreteria"));

    let shortfall = audit(&app, "secondo_fattore_provider").await;
    assert_eq!(shortfall.len(), 1);
    assert_eq!(shortfall[0].0, "negato");
    assert_eq!(shortfall[0].1["motivo"], "acr");
    let second: Vec<String> = audit(&app, "accesso")
        .await
        .iter()
        .filter(|(o, d)| o == "ok" && d["metodo"] == "oidc")
        .map(|(_, d)| d["secondo_fattore"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(second, ["provider", "codice", "provider"]);
}

#[tokio::test]
async fn the_account_is_bound_to_the_providers_subject() {
    let (app, provider) = setup(
        Options {
            accounts: json!({ "persona-1": person("avv@ordine.it") }),
            ..Options::default()
        },
        &[("oidc_client_secret", CLIENT_SECRET)],
    )
    .await;
    let lawyer = app
        .user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;
    let (res, _) = login(&app, &provider, &new_client(), Some("persona-1")).await;
    assert_eq!(res.status(), 303, "{}", provider.log());
    let t = tenants::find_by_slug(&app.db, "vallenera")
        .await
        .unwrap()
        .unwrap();
    let mut tx = app.db.tenant_tx(t.id).await.unwrap();
    let bound: (uuid::Uuid, String, String) =
        sqlx::query_as("SELECT user_id, issuer, subject FROM oidc_subjects")
            .fetch_one(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        bound,
        (lawyer.id, provider.issuer.clone(), "persona-1".to_owned())
    );

    // The person changed e-mail at the provider: still their account.
    provider.set_accounts(json!({
        "persona-1": person("nuovo.indirizzo@altrove.example.it"),
        "persona-2": person("avv@ordine.it"),
    }));
    let client = new_client();
    let (res, _) = login(&app, &provider, &client, Some("persona-1")).await;
    assert_eq!(location(&res).as_deref(), Some("/vallenera/avvocati"));

    // Another subject with the e-mail of the bound account is refused.
    let client = new_client();
    let (res, _) = login(&app, &provider, &client, Some("persona-2")).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("è già collegato a un'altra identità")
    );
    assert!(!logged_in(&app, &client, "avvocati").await);
    let (outcome, details) = audit(&app, "accesso").await.pop().unwrap();
    assert_eq!(outcome, "negato");
    assert_eq!(details["motivo"], "subject_mismatch");
}

#[tokio::test]
async fn cancelling_at_the_provider_and_provider_errors_have_their_own_message() {
    let (app, provider) = setup(
        Options {
            accounts: json!({ "persona-1": person("avv@ordine.it") }),
            ..Options::default()
        },
        &[("oidc_client_secret", CLIENT_SECRET)],
    )
    .await;
    app.user("vallenera", "avv@ordine.it", &[Role::Avvocato], false, None)
        .await;

    // "Annulla" at the provider.
    let (res, _) = login(&app, &provider, &new_client(), None).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("L'accesso è stato annullato sul servizio di identità"));
    assert!(body.contains("href=\"/vallenera/accesso\""), "a link back");
    assert!(!body.contains("access_denied") && !body.contains("aborted"));

    // Another error from the provider, with this browser's state.
    let client = new_client();
    let res = client
        .get(app.url("/vallenera/accesso/oidc"))
        .send()
        .await
        .unwrap();
    let to_provider = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let state = to_provider
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let res = client
        .get(app.url(&format!(
            "/vallenera/accesso/oidc/ritorno?error=temporarily_unavailable&error_description=%3Cb%3Einterno%3C%2Fb%3E&state={state}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("ha risposto con un errore"));
    assert!(
        !body.contains("interno"),
        "the provider's text is not shown"
    );

    // A callback this browser did not start.
    let res = new_client()
        .get(app.url(&format!(
            "/vallenera/accesso/oidc/ritorno?code=x&state={state}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);

    let reasons: Vec<(String, Value)> = audit(&app, "accesso")
        .await
        .into_iter()
        .filter(|(o, _)| o == "negato")
        .map(|(_, d)| {
            (
                d["motivo"].as_str().unwrap_or("").to_owned(),
                d["errore"].clone(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            ("cancelled".to_owned(), json!("access_denied")),
            (
                "provider_error".to_owned(),
                json!("temporarily_unavailable")
            ),
            ("state".to_owned(), Value::Null),
        ]
    );
}
