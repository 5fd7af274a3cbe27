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
pub fn albo_csv() -> String {
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

pub async fn upload(app: &TestApp, me: &LoggedIn, name: &str, bytes: Vec<u8>) -> reqwest::Response {
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

/// Posts the preview's form at `location` with the administrator's `choices`.
async fn post_apply(
    app: &TestApp,
    me: &LoggedIn,
    location: &str,
    choices: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("_csrf", me.csrf.as_str())];
    form.extend_from_slice(choices);
    me.client
        .post(app.url(&format!("{location}/applica")))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Applies the import shown at `location` (its lines with errors ignored, by explicit choice)
/// and waits for its report.
async fn apply(app: &TestApp, me: &LoggedIn, location: &str) -> String {
    apply_with(app, me, location, &[("ignora_errori", "si")]).await
}

/// Applies the import shown at `location` with `choices` and waits for its report.
async fn apply_with(
    app: &TestApp,
    me: &LoggedIn,
    location: &str,
    choices: &[(&str, &str)],
) -> String {
    let res = post_apply(app, me, location, choices).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    wait_for_report(app, me, location).await
}

async fn wait_for_report(app: &TestApp, me: &LoggedIn, location: &str) -> String {
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
    let report = apply_with(
        &app,
        &me,
        &location,
        &[
            ("ignora_errori", "si"),
            ("disattivazioni", "conferma"),
            ("previsti", "1"),
        ],
    )
    .await;
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
        if apply {
            albo_command(&app, &file, &["--applica", "--ignora-errori"])
        } else {
            albo_command(&app, &file, &[])
        }
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

fn albo_command(app: &TestApp, file: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_patrocinio"))
        .env("DATABASE_URL", app.database_url())
        .env("PATROCINIO_LOG", "warn")
        .args(["albo", "importa", "--ordine", "vallenera"])
        .arg(file)
        .args(args)
        .output()
        .unwrap()
}

async fn scalar(app: &TestApp, sql: &str, id: uuid::Uuid) -> String {
    let mut tx = app
        .db
        .tenant_tx(tenant_of(app, "vallenera").await)
        .await
        .unwrap();
    let value: String = sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    value
}

async fn lawyer_status(app: &TestApp, lawyer: uuid::Uuid) -> String {
    scalar(app, "SELECT status FROM lawyers WHERE id = $1", lawyer).await
}

async fn account_status(app: &TestApp, user: uuid::Uuid) -> String {
    scalar(app, "SELECT status FROM users WHERE id = $1", user).await
}

async fn import_status(app: &TestApp, location: &str) -> String {
    let id: uuid::Uuid = location.rsplit('/').next().unwrap().parse().unwrap();
    scalar(app, "SELECT status FROM register_imports WHERE id = $1", id).await
}

async fn page(me: &LoggedIn, app: &TestApp, location: &str) -> String {
    me.client
        .get(app.url(location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

const HEADER: &str = "cognome;nome;codice_fiscale;numero_iscrizione;pec;email;stato;materie\n";

fn galli() -> String {
    format!(
        "Galli;Piero;{};2001;piero.galli@pec.example.it;piero.galli@example.it;attivo;civile|penale\n",
        cf("Galli", "Piero")
    )
}

#[tokio::test]
async fn a_lawyer_whose_row_has_errors_is_never_disabled() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let anna = app
        .user(
            "vallenera",
            "anna@example.it",
            &[Role::Avvocato],
            false,
            Some(o.lawyer),
        )
        .await;
    let me = admin(&app).await;
    // Anna Bianchi's row lost its codice fiscale: it is still hers by the register number.
    let csv = format!(
        "{HEADER}Bianchi;Anna;;1234;anna.bianchi@pec.avvocati.example.it;;attivo;civile\n{}",
        galli()
    );
    let res = upload(&app, &me, "albo.csv", csv.into_bytes()).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let preview = page(&me, &app, &location).await;
    assert!(
        preview.contains("<strong>0</strong> da disattivare"),
        "{preview}"
    );
    assert!(!preview.contains("id=\"da-disattivare\""));
    assert!(preview.contains("id=\"lasciati-come-sono\""));
    assert!(
        preview.contains("Anna Bianchi, n. 1234 — riga 2"),
        "{preview}"
    );
    assert!(
        preview.contains(
            "<td>2</td><td>codice fiscale: Indicare il codice fiscale.</td><td>Anna Bianchi</td>"
        ),
        "{preview}"
    );
    assert!(preview.contains("Applica comunque, ignorando la riga con errori"));
    assert!(preview.contains("Applica l'importazione con le scelte indicate"));

    let report = apply(&app, &me, &location).await;
    assert!(report.contains("disattivati: 0"), "{report}");
    assert!(
        report
            .contains("lasciati come sono perché una riga con errori potrebbe riferirsi a loro: 1")
    );
    assert!(report.contains("aggiunti: 1"));
    assert_eq!(lawyer_status(&app, o.lawyer).await, "attivo");
    assert_eq!(account_status(&app, anna.id).await, "attivo");
}

#[tokio::test]
async fn applying_without_the_explicit_choices_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let me = admin(&app).await;
    // Anna Bianchi is not in the file; one row has errors and may be about nobody we hold.
    let csv = format!("{HEADER}{}Rizzo;Gino;XXX;2003;;;attivo;civile\n", galli());
    let res = upload(&app, &me, "albo.csv", csv.into_bytes()).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let preview = page(&me, &app, &location).await;
    assert!(preview.contains("<strong>1</strong> da disattivare"));
    assert!(preview.contains("Da disattivare perché non presenti nel file: 1 avvocato"));
    assert!(preview.contains("<td>Anna Bianchi</td><td>BNCNNA80A41H501R</td><td>1234</td>"));
    assert!(
        preview.contains("id=\"righe-non-riconducibili\""),
        "{preview}"
    );
    assert!(preview.contains(
        "<td>3</td><td>codice fiscale: Il codice fiscale non è valido. Verificare i 16 caratteri (o le 11 cifre per gli enti).</td><td><em>nessuno</em></td>"
    ));
    assert!(preview.contains("name=\"disattivazioni\" value=\"conferma\""));
    assert!(preview.contains("name=\"disattivazioni\" value=\"nessuna\""));

    let before = lawyers(&app).await;
    // No choice at all.
    let res = post_apply(&app, &me, &location, &[]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("L'importazione non è stata applicata: non è cambiato nulla."));
    assert!(
        body.contains("Il file contiene 1 riga con errori"),
        "{body}"
    );
    assert!(body.contains(
        "1 avvocato dell'albo non è presente nel file: scegliere se disattivarlo o non disattivare nessuno."
    ));
    // The errors ignored, the deactivation not chosen: still refused, the choice kept.
    let res = post_apply(&app, &me, &location, &[("ignora_errori", "si")]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(!body.contains("Il file contiene 1 riga con errori"));
    assert!(body.contains("non è presente nel file"));
    assert!(
        body.contains("name=\"ignora_errori\" value=\"si\" required checked>"),
        "what was ticked stays ticked"
    );
    // A confirmation of another number than the one to disable now.
    let res = post_apply(
        &app,
        &me,
        &location,
        &[
            ("ignora_errori", "si"),
            ("disattivazioni", "conferma"),
            ("previsti", "2"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("gli avvocati da disattivare ora sono 1, non 2")
    );
    assert_eq!(lawyers(&app).await, before, "nothing changed");
    assert_eq!(import_status(&app, &location).await, "anteprima");

    // Applied, disabling nobody by choice.
    let report = apply_with(
        &app,
        &me,
        &location,
        &[("ignora_errori", "si"), ("disattivazioni", "nessuna")],
    )
    .await;
    assert!(report.contains("disattivati: 0"), "{report}");
    assert!(report.contains("non presenti nel file ma non disattivati, per scelta: 1"));
    assert!(report.contains("aggiunti: 1"));
    assert_eq!(lawyer_status(&app, o.lawyer).await, "attivo");
}

#[tokio::test]
async fn a_garbled_file_disables_many_only_with_a_second_confirmation_and_all_can_be_restored() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let surnames = [
        "Rossi", "Villa", "Ferrari", "Esposito", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "Bruno", "Gallo", "Conti",
    ];
    let tenant = tenant_of(&app, "vallenera").await;
    let mut tx = app.db.tenant_tx(tenant).await.unwrap();
    for (i, s) in surnames.iter().enumerate() {
        patrocinio::store::lawyers::upsert(
            &mut tx,
            patrocinio::store::lawyers::NewLawyer {
                surname: s,
                given_name: "Mario",
                codice_fiscale: &cf(s, "Mario"),
                register_number: Some(&format!("{}", 100 + i)),
                pec: None,
                email: None,
                matters: &[],
                status: "attivo",
            },
        )
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let me = admin(&app).await;
    // The header is separated by semicolons, the rows by commas: every row is one field.
    let mut csv = HEADER.to_owned();
    for s in surnames.iter().chain(["Bianchi"].iter()) {
        csv.push_str(&format!("{s},Mario,{},1,,,attivo,civile\n", cf(s, "Mario")));
    }
    let res = upload(&app, &me, "albo.csv", csv.into_bytes()).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let preview = page(&me, &app, &location).await;
    assert!(preview.contains("<strong>13</strong> righe con errori"));
    assert!(
        preview.contains("<strong>13</strong> da disattivare"),
        "{preview}"
    );
    assert!(preview.contains("id=\"righe-non-riconducibili\""));
    assert!(
        preview.contains("id=\"disattivazione-massiva\""),
        "{preview}"
    );
    assert!(preview.contains("Confermo la disattivazione di 13 avvocati su 13 iscritti (100%)"));

    let confirmed = [
        ("ignora_errori", "si"),
        ("disattivazioni", "conferma"),
        ("previsti", "13"),
    ];
    let res = post_apply(&app, &me, &location, &confirmed).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Si disattiverebbero 13 avvocati su 13 iscritti, più del 10%"),
        "{body}"
    );
    assert!(
        lawyers(&app)
            .await
            .iter()
            .all(|(_, status, _)| status == "attivo")
    );
    assert_eq!(import_status(&app, &location).await, "anteprima");

    let mut all = confirmed.to_vec();
    all.push(("conferma_massiva", "si"));
    let report = apply_with(&app, &me, &location, &all).await;
    assert!(report.contains("disattivati: 13"), "{report}");
    assert!(report.contains("Disattivati da questa importazione: 13 avvocati"));
    assert!(report.contains("Ripristina tutti (13)"));
    assert!(
        lawyers(&app)
            .await
            .iter()
            .all(|(_, status, _)| status == "cancellato")
    );

    let res = me
        .client
        .post(app.url(&format!("{location}/ripristina")))
        .form(&[("_csrf", me.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.contains(
            "Ripristino eseguito: 13 avvocati di nuovo nell'albo; account riattivati: 0."
        ),
        "{body}"
    );
    assert!(
        lawyers(&app)
            .await
            .iter()
            .all(|(_, status, _)| status == "attivo")
    );
}

#[tokio::test]
async fn a_deactivation_is_undone_with_the_account_once_and_audited() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let anna = app
        .user(
            "vallenera",
            "anna@example.it",
            &[Role::Avvocato],
            false,
            Some(o.lawyer),
        )
        .await;
    let me = admin(&app).await;
    // A clean file without Anna Bianchi: no errors, but disabling her needs a choice.
    let csv = format!("{HEADER}{}", galli());
    let res = upload(&app, &me, "albo.csv", csv.into_bytes()).await;
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let res = post_apply(&app, &me, &location, &[]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(!body.contains("righe con errori:"));
    assert!(body.contains("1 avvocato dell'albo non è presente nel file"));
    let report = apply_with(
        &app,
        &me,
        &location,
        &[("disattivazioni", "conferma"), ("previsti", "1")],
    )
    .await;
    assert!(report.contains("disattivati: 1"), "{report}");
    assert!(report.contains("id=\"disattivati\""));
    let one = format!("{location}/ripristina/{}", o.lawyer);
    assert!(
        report.contains(&format!("action=\"{one}\"")),
        "a Ripristina for Anna: {report}"
    );
    assert_eq!(lawyer_status(&app, o.lawyer).await, "cancellato");
    assert_eq!(account_status(&app, anna.id).await, "disabilitato");

    let restore = |path: String| {
        let client = me.client.clone();
        let csrf = me.csrf.clone();
        let url = app.url(&path);
        async move {
            client
                .post(url)
                .form(&[("_csrf", csrf.as_str())])
                .send()
                .await
                .unwrap()
        }
    };
    let res = restore(one.clone()).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Ripristino eseguito: 1 avvocato di nuovo nell'albo; account riattivati: 1."),
        "{body}"
    );
    assert!(body.contains("Ripristinato il "));
    assert_eq!(lawyer_status(&app, o.lawyer).await, "attivo");
    assert_eq!(account_status(&app, anna.id).await, "attivo");
    // She logs in again.
    app.login(&anna).await;

    // A second click, and "all": nothing more happens.
    let res = restore(one.clone()).await;
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Il ripristino era già stato eseguito: non è cambiato nulla.")
    );
    let res = restore(format!("{location}/ripristina")).await;
    assert_eq!(res.status(), 200);
    let mut tx = app
        .db
        .tenant_tx(tenant_of(&app, "vallenera").await)
        .await
        .unwrap();
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_log
         WHERE action = 'albo_disattivazione_annullata' AND target_id = $1",
    )
    .bind(o.lawyer.to_string())
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(audited, 1, "one audit entry for one undo");

    // A lawyer this import did not disable is not there to restore.
    let galli: uuid::Uuid = {
        let mut tx = app
            .db
            .tenant_tx(tenant_of(&app, "vallenera").await)
            .await
            .unwrap();
        sqlx::query_scalar("SELECT id FROM lawyers WHERE surname = 'Galli'")
            .fetch_one(tx.conn())
            .await
            .unwrap()
    };
    let res = restore(format!("{location}/ripristina/{galli}")).await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn undo_is_refused_once_a_later_import_changed_the_lawyer() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let me = admin(&app).await;
    let csv = format!("{HEADER}{}", galli());
    let res = upload(&app, &me, "albo.csv", csv.into_bytes()).await;
    let first = res.headers()["location"].to_str().unwrap().to_owned();
    apply_with(
        &app,
        &me,
        &first,
        &[("disattivazioni", "conferma"), ("previsti", "1")],
    )
    .await;
    assert_eq!(lawyer_status(&app, o.lawyer).await, "cancellato");
    // The next register lists her as cancelled, with a new PEC: the import updates her.
    let csv = format!(
        "{HEADER}{}Bianchi;Anna;BNCNNA80A41H501R;1234;anna.nuova@pec.example.it;;cancellato;civile\n",
        galli()
    );
    let res = upload(&app, &me, "albo-2.csv", csv.into_bytes()).await;
    let second = res.headers()["location"].to_str().unwrap().to_owned();
    let report = apply_with(&app, &me, &second, &[]).await;
    assert!(report.contains("aggiornati: 1"), "{report}");

    let report = page(&me, &app, &first).await;
    assert!(
        report.contains("Modificato dopo questa importazione: non si ripristina da qui"),
        "{report}"
    );
    assert!(!report.contains("Ripristina tutti"));
    let res = me
        .client
        .post(app.url(&format!("{first}/ripristina/{}", o.lawyer)))
        .form(&[("_csrf", me.csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(res.text().await.unwrap().contains(
        "1 avvocato non è stato ripristinato perché modificato dopo questa importazione"
    ));
    assert_eq!(lawyer_status(&app, o.lawyer).await, "cancellato");
}

#[tokio::test]
async fn the_command_line_needs_the_same_explicit_choices() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("albo.csv");
    // Anna Bianchi is not in the file, and one row has errors.
    std::fs::write(
        &file,
        format!("{HEADER}{}Rizzo;Gino;XXX;2003;;;attivo;civile\n", galli()),
    )
    .unwrap();
    let out = albo_command(&app, &file, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("da disattivare: 1 (non presenti nel file)"),
        "{stdout}"
    );
    assert!(stdout.contains("Anna Bianchi (n. 1234)"), "{stdout}");
    assert!(
        stdout.contains(
            "Attenzione: 1 riga con errori non è riconducibile a nessun avvocato dell'albo"
        ),
        "{stdout}"
    );

    let out = albo_command(&app, &file, &["--applica"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("importazione non applicata, nulla è stato modificato"),
        "{stderr}"
    );
    assert!(stderr.contains("1 riga con errori") && stderr.contains("(opzione --ignora-errori)"));
    assert!(stderr.contains("(opzione --disattiva oppure --senza-disattivazioni)"));
    let out = albo_command(&app, &file, &["--applica", "--ignora-errori"]);
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).contains("--ignora-errori)"));
    assert_eq!(lawyers(&app).await.len(), 1, "nothing changed");
    assert_eq!(lawyer_status(&app, o.lawyer).await, "attivo");

    let out = albo_command(
        &app,
        &file,
        &["--applica", "--ignora-errori", "--disattiva"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 aggiunti, 0 aggiornati, 1 disattivati"),
        "{stdout}"
    );
    assert!(stdout.contains("«Ripristina»"));
    assert_eq!(lawyer_status(&app, o.lawyer).await, "cancellato");
}
