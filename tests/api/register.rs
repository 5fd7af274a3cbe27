//! The register import (Albo) from the admin page and from the command line.

use std::time::{Duration, Instant};

use patrocinio::domain::{
    access::Role,
    codice_fiscale::{CfPersona, Sex},
};

use crate::{
    helpers::{LoggedIn, PASSWORD, TestApp, new_client, spawn_app},
    public_form::{ordine, tenant_of},
};

fn cf(surname: &str, name: &str) -> String {
    CfPersona::compute(
        surname,
        name,
        chrono::NaiveDate::from_ymd_opt(1979, 5, 5).unwrap(),
        Sex::M,
        "H501",
    )
    .unwrap()
    .as_str()
    .to_owned()
}

/// Ordine "vallenera" already holds Anna Bianchi (from the fixture). The file keeps her with a
/// new PEC, adds two lawyers, and has two bad lines.
fn albo_csv() -> String {
    format!(
        "cognome;nome;codice_fiscale;numero_iscrizione;pec;email;stato;materie\n\
         Bianchi;Anna;BNCNNA80A41H501R;1234;anna.nuova@pec.example.it;;attivo;civile|volontaria giurisdizione\n\
         Galli;Piero;{};2001;piero.galli@pec.example.it;piero.galli@example.it;attivo;civile|penale\n\
         Fontana;Marta;{};2002;marta.fontana@pec.example.it;;attivo;contabile\n\
         Rizzo;Gino;XXX;2003;;;attivo;civile\n\
         Conti;Elio;{};2004;;;in pensione;civile\n",
        cf("Galli", "Piero"),
        cf("Fontana", "Marta"),
        cf("Conti", "Elio"),
    )
}

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

async fn upload(app: &TestApp, me: &LoggedIn, name: &str, bytes: Vec<u8>) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("_csrf", me.csrf.clone())
        .part(
            "file",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    me.client
        .post(app.url("/vallenera/amministrazione/albo"))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Applies the import shown at `location` and waits for its report.
async fn apply(app: &TestApp, me: &LoggedIn, location: &str) -> String {
    let res = me
        .client
        .post(app.url(&format!("{location}/applica")))
        .form(&[("_csrf", me.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let body = me
            .client
            .get(app.url(location))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if body.contains("id=\"esito-importazione\"") {
            return body;
        }
        assert!(Instant::now() < deadline, "import never finished: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn lawyers(app: &TestApp) -> Vec<(String, String, Option<String>)> {
    let mut tx = app
        .db
        .tenant_tx(tenant_of(app, "vallenera").await)
        .await
        .unwrap();
    sqlx::query_as("SELECT surname, status, pec FROM lawyers ORDER BY surname")
        .fetch_all(tx.conn())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_register_is_previewed_then_imported_idempotently() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let me = admin(&app).await;
    let before = lawyers(&app).await;

    let res = upload(&app, &me, "albo.csv", albo_csv().into_bytes()).await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let preview = me
        .client
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        preview.contains("<strong>2</strong> avvocati da aggiungere"),
        "{preview}"
    );
    assert!(preview.contains("<strong>1</strong> da aggiornare"));
    assert!(preview.contains("Anna Bianchi: PEC"));
    assert!(preview.contains("<strong>2</strong> righe con errori"));
    assert!(
        preview.contains("<td>5</td><td>codice fiscale:"),
        "line numbers of bad lines"
    );
    assert!(preview.contains("stato «in pensione» non riconosciuto"));
    assert_eq!(lawyers(&app).await, before, "a preview changes nothing");

    let report = apply(&app, &me, &location).await;
    assert!(report.contains("aggiunti: 2"), "{report}");
    assert!(report.contains("aggiornati: 1"));
    assert!(report.contains("disattivati: 0"));
    assert!(report.contains("account da attivare creati: 2"));
    let now = lawyers(&app).await;
    assert_eq!(now.len(), 3);
    assert!(
        now.iter().any(
            |(s, _, pec)| s == "Bianchi" && pec.as_deref() == Some("anna.nuova@pec.example.it")
        )
    );

    // The same file again: nothing to do.
    let res = upload(&app, &me, "albo.csv", albo_csv().into_bytes()).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let report = apply(&app, &me, &location).await;
    assert!(
        report.contains("aggiunti: 0") && report.contains("aggiornati: 0"),
        "{report}"
    );
    assert!(report.contains("invariati: 3"));

    // A lawyer no longer in the register is disabled, and so is their account.
    let shorter: String = albo_csv()
        .lines()
        .filter(|l| !l.starts_with("Galli"))
        .map(|l| format!("{l}\n"))
        .collect();
    let res = upload(&app, &me, "albo-2.csv", shorter.into_bytes()).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let report = apply(&app, &me, &location).await;
    assert!(report.contains("disattivati: 1"), "{report}");
    assert!(
        lawyers(&app)
            .await
            .iter()
            .any(|(s, status, _)| s == "Galli" && status == "cancellato")
    );
}

#[tokio::test]
async fn bad_files_are_explained() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let me = admin(&app).await;
    for (bytes, message) in [
        (vec![0xff, 0xfe, 0x41], "Il file non è in UTF-8"),
        (
            b"nome;pec\nAnna;a@pec.it\n".to_vec(),
            "Mancano le colonne obbligatorie: cognome, codice_fiscale",
        ),
    ] {
        let res = upload(&app, &me, "albo.csv", bytes).await;
        assert_eq!(res.status(), 422);
        assert!(res.text().await.unwrap().contains(message), "{message}");
    }
}

#[tokio::test]
async fn new_lawyers_activate_their_accounts_with_the_links_and_see_their_area() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let me = admin(&app).await;
    let res = upload(&app, &me, "albo.csv", albo_csv().into_bytes()).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    apply(&app, &me, &location).await;

    let res = me
        .client
        .post(app.url("/vallenera/amministrazione/albo/link-attivazione"))
        .form(&[("_csrf", me.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "nominativo;email;link;valido_fino_al");
    assert_eq!(lines.len(), 3, "{csv}");
    let piero = lines
        .iter()
        .find(|l| l.contains("piero.galli@example.it"))
        .unwrap();
    let link = piero.split(';').nth(2).unwrap();

    let anon = new_client();
    let res = anon
        .post(link)
        .form(&[("password", PASSWORD), ("conferma", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let client = new_client();
    let res = client
        .post(app.url("/vallenera/accesso"))
        .form(&[("email", "piero.galli@example.it"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/vallenera/avvocati");
    let page = client
        .get(app.url("/vallenera/avvocati"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Piero Galli"));
}

#[tokio::test]
async fn the_command_line_previews_and_applies_the_same_import() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albo.csv");
    std::fs::write(&file, albo_csv()).unwrap();
    let run = |apply: bool| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_patrocinio"));
        cmd.env("DATABASE_URL", app.database_url())
            .env("PATROCINIO_LOG", "warn")
            .args(["albo", "importa", "--ordine", "vallenera"])
            .arg(&file);
        if apply {
            cmd.arg("--applica");
        }
        cmd.output().unwrap()
    };
    let out = run(false);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("da aggiungere: 2"), "{stdout}");
    assert!(stdout.contains("riga 5: codice fiscale"), "{stdout}");
    assert!(stdout.contains("nulla è stato modificato"));
    assert_eq!(lawyers(&app).await.len(), 1);
    let out = run(true);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Importazione applicata: 2 aggiunti, 1 aggiornati, 0 disattivati"),
        "{stdout}"
    );
    assert_eq!(lawyers(&app).await.len(), 3);
}
