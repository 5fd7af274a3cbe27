//! The platform's operator creates Ordini from the command line; the first administrator
//! activates their account with the printed link.

use crate::helpers::{PASSWORD, new_client, spawn_app, totp_now};

#[tokio::test]
async fn an_ordine_is_created_with_its_first_administrator() {
    let app = spawn_app().await;
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_patrocinio"))
            .env("DATABASE_URL", app.database_url())
            .env("PATROCINIO_PUBLIC_URL", &app.address)
            .env("PATROCINIO_LOG", "warn")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&[
        "ordine",
        "crea",
        "--slug",
        "borgo-alto",
        "--nome",
        "Consiglio dell'Ordine degli Avvocati di Borgo Alto",
        "--pec",
        "coa@pec.borgoalto.it",
        "--amministratore",
        "Admin@BorgoAlto.it",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = stdout.lines().last().unwrap().trim().to_owned();
    assert!(link.starts_with(&format!("{}/borgo-alto/imposta-password/", app.address)));

    let again = run(&[
        "ordine",
        "crea",
        "--slug",
        "borgo-alto",
        "--nome",
        "Altro",
        "--amministratore",
        "a@b.it",
    ]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("esiste già un Ordine"));

    let list = run(&["ordine", "elenco"]);
    assert!(
        String::from_utf8_lossy(&list.stdout)
            .contains("borgo-alto\tConsiglio dell'Ordine degli Avvocati di Borgo Alto")
    );

    let client = new_client();
    let res = client
        .post(&link)
        .form(&[("password", PASSWORD), ("conferma", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .post(app.url("/borgo-alto/accesso"))
        .form(&[("email", "admin@borgoalto.it"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.headers()["location"],
        "/borgo-alto/accesso/configura-codice"
    );
    let page = client
        .get(app.url("/borgo-alto/accesso/configura-codice"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let start = page.find("id=\"chiave-totp\"").unwrap();
    let secret = page[start..]
        .split('>')
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap();
    let res = client
        .post(app.url("/borgo-alto/accesso/configura-codice"))
        .form(&[("codice", totp_now(secret).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .get(app.url("/borgo-alto/amministrazione"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
