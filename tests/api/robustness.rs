//! What an attacker can send and what it costs: texts and drafts of any size, PDFs on demand,
//! login attempts in someone else's name, PIN guesses in parallel, a shutdown while renders run.

use std::time::{Duration, Instant};

use patrocinio::domain::access::Role;

use crate::{
    helpers::{TestApp, client_with_jar, spawn_app, spawn_app_with},
    public_form::{FACTS, errors_in, new_draft, ordine},
    workflow::SLUG,
};

/// A case step whose facts are `facts`.
fn case_fields(facts: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("counterparty_name", "Verdi Carla"),
        ("counterparty_address", "Via Milano 2, Vallenera"),
        ("pending", "no"),
        ("facts", facts),
        (
            "law",
            "Artt. 337-bis e seguenti c.c.: diritto del figlio alla bigenitorialità.",
        ),
        (
            "evidence",
            "Lettere del 3 aprile e del 12 giugno 2025; testimone Gialli Paolo.",
        ),
    ]
}

#[tokio::test]
async fn a_text_over_its_limit_is_refused_with_its_message_and_never_stored() {
    let app = spawn_app().await;
    ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    d.step_ok("giudizio", &case_fields(FACTS), "avvocato").await;

    // 1.9 MB of facts: refused with the field's message, shown back, not saved.
    let huge = format!("{FACTS} {}", "a".repeat(1_900_000));
    let res = d.post("giudizio", &case_fields(&huge)).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        errors_in(&body).contains("Il testo è troppo lungo: al massimo 20.000 caratteri"),
        "{}",
        errors_in(&body)
    );
    assert!(
        body.contains(&"a".repeat(100_000)),
        "what was typed is shown back"
    );
    let (_, page) = d.get_text("giudizio").await;
    assert!(page.contains(FACTS) && !page.contains(&"a".repeat(1000)));
    // The same through inline validation (htmx), which saves as it goes.
    let res = app
        .client
        .post(d.url("giudizio/verifica"))
        .header("HX-Request", "true")
        .header("X-Campo", "facts")
        .form(&case_fields(&huge))
        .send()
        .await
        .unwrap();
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Il testo è troppo lungo")
    );
    let (_, page) = d.get_text("giudizio").await;
    assert!(!page.contains(&"a".repeat(1000)), "not saved inline either");

    // At the limit exactly, it is kept; the PDF of the draft is made from it.
    let at_limit: String = format!("{FACTS}\n\n{}", "Fatto rilevante. ".repeat(2000))
        .chars()
        .take(20_000)
        .collect();
    let res = d.post("giudizio", &case_fields(&at_limit)).await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert!(
        !errors_in(&body).contains("troppo lungo"),
        "{status}: {}",
        errors_in(&body)
    );
    let res = app.client.get(d.url("pdf")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.bytes().await.unwrap().starts_with(b"%PDF"));

    // One-line fields have their limit too.
    let res = d
        .post(
            "richiedente",
            &[("kind", "persona"), ("surname", &"R".repeat(201))],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        errors_in(&res.text().await.unwrap()).contains("al massimo 200 caratteri"),
        "a surname of 201 characters"
    );
}

#[tokio::test]
async fn a_household_has_at_most_twenty_members() {
    let app = spawn_app().await;
    ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    let ids: Vec<String> = (0..25).map(|i| format!("m{i:02}")).collect();
    let mut fields = Vec::new();
    for id in &ids {
        fields.push(("member_id", id.as_str()));
        fields.push(("member_surname", "Rossi"));
        fields.push(("member_given_name", "Anna"));
        fields.push(("member_relationship", "figlio"));
    }
    let res = d.post("famiglia", &fields).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        errors_in(&body).contains("al massimo 20 familiari conviventi"),
        "{}",
        errors_in(&body)
    );
    // Income rows are only for the people listed, however many the request names.
    let (_, page) = d.get_text("famiglia").await;
    assert!(!page.contains("m24"), "25 members were not stored");
}

#[tokio::test]
async fn pdfs_on_request_are_rate_limited_and_say_when_to_retry() {
    let app = spawn_app_with(|c| c.rate_limits.pdf = 2).await;
    ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    for _ in 0..2 {
        let res = app.client.get(d.url("pdf")).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    let res = app.client.get(d.url("pdf")).send().await.unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
}

#[tokio::test]
async fn forty_parallel_wrong_pins_are_checked_ten_times_then_the_code_is_locked() {
    let app = spawn_app_with(|c| c.rate_limits.status = 1000).await;
    ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    let wrong = if d.pin.starts_with('1') {
        "2222 2222"
    } else {
        "1111 1111"
    };
    let url = app.url(&format!("/{SLUG}/istanza/riprendi"));
    let attempts = (0..40).map(|_| {
        let client = crate::helpers::new_client();
        let url = url.clone();
        let code = d.code.clone();
        async move {
            let res = client
                .post(url)
                .form(&[("codice", code.as_str()), ("pin", wrong)])
                .send()
                .await
                .unwrap();
            res.text().await.unwrap()
        }
    });
    let pages = futures_util::future::join_all(attempts).await;
    let refused = pages
        .iter()
        .filter(|p| p.contains("Codice o PIN non corretti"))
        .count();
    let locked = pages
        .iter()
        .filter(|p| p.contains("Troppi tentativi"))
        .count();
    assert_eq!((refused, locked), (10, 30));
    // Locked means locked, even for the right PIN.
    let res = crate::helpers::new_client()
        .post(&url)
        .form(&[("codice", d.code.as_str()), ("pin", d.pin.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.text().await.unwrap().contains("Troppi tentativi"));
}

async fn login_from(app: &TestApp, from: &str, email: &str, password: &str) -> reqwest::Response {
    let (client, _) = client_with_jar();
    client
        .post(app.url(&format!("/{SLUG}/accesso")))
        .header("x-forwarded-for", from)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failing_on_purpose_from_elsewhere_does_not_lock_the_owner_out() {
    let app = spawn_app_with(|c| {
        c.trust_forwarded_for = true;
        c.rate_limits.login = 1000;
    })
    .await;
    ordine(&app, SLUG).await;
    let victim = app
        .user(
            SLUG,
            "vittima@ordine.example.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;
    for _ in 0..10 {
        let res = login_from(&app, "10.0.0.66", &victim.email, "sbagliata-sbagliata").await;
        assert_eq!(res.status(), 422);
    }
    // The attacker's address is slowed down, and told when to retry.
    let res = login_from(&app, "10.0.0.66", &victim.email, "sbagliata-sbagliata").await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1);
    // The owner, from their own address, gets in (on to the second factor).
    let res = login_from(&app, "10.0.0.7", &victim.email, crate::helpers::PASSWORD).await;
    assert_eq!(
        res.status(),
        303,
        "the owner's correct password is not refused"
    );
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/accesso/codice")
    );
}

#[tokio::test]
async fn a_shutdown_while_pdfs_render_ends_within_its_bound() {
    let app = spawn_app().await;
    ordine(&app, SLUG).await;
    // The binary itself, on this test's database and files.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_patrocinio"))
        .arg("serve")
        .env("DATABASE_URL", app.database_url())
        .env("PATROCINIO_FILES_DIR", app.files_dir())
        .env("PATROCINIO_BIND", "127.0.0.1:0")
        .env("PATROCINIO_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Its standard output is read to the end (a closed pipe would fail its next line).
    let stdout = child.stdout.take().unwrap();
    let (url_tx, url_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.strip_prefix("Patrocinio è in ascolto su ") {
                let _ = url_tx.send(url.to_owned());
            }
        }
    });
    let url = url_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the URL line");
    let (client, _) = client_with_jar();
    let res = client
        .post(format!("{url}/{SLUG}/istanza/nuova"))
        .send()
        .await
        .unwrap();
    let id = crate::public_form::draft_id(&res.text().await.unwrap(), SLUG);
    let long: String = "Fatto rilevante della causa. "
        .repeat(700)
        .chars()
        .take(20_000)
        .collect();
    let fields: Vec<(&str, String)> = vec![
        ("facts", long.clone()),
        ("law", long.clone()),
        ("evidence", long),
    ];
    let res = client
        .post(format!("{url}/{SLUG}/istanza/{id}/giudizio"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert!(res.status().as_u16() < 500);
    // Renders in flight (and more waiting for their turn), then SIGTERM.
    let pdf = format!("{url}/{SLUG}/istanza/{id}/pdf");
    let mut inflight = Vec::new();
    for _ in 0..8 {
        let (client, url) = (client.clone(), pdf.clone());
        inflight.push(tokio::spawn(async move { client.get(url).send().await }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("still running a minute after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(status.success(), "{status}");
    // Each request got an answer or its connection closed; none hung.
    for r in inflight {
        if let Ok(res) = r.await.unwrap() {
            let s = res.status().as_u16();
            assert!(matches!(s, 200 | 503), "{s}");
        }
    }
}

/// A PDF whose catalog runs a script when opened.
fn pdf_with(dictionary: &str) -> Vec<u8> {
    format!("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R{dictionary}>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n").into_bytes()
}

#[tokio::test]
async fn active_pdfs_and_polyglots_are_refused_with_a_message() {
    let app = spawn_app().await;
    ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    let mut zip = crate::public_form::minimal_pdf();
    zip.extend_from_slice(b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    for (name, bytes, message) in [
        (
            "script.pdf",
            pdf_with("/OpenAction<</S/JavaScript/JS(app.alert(1))>>"),
            "contiene script, azioni automatiche o file incorporati",
        ),
        (
            "avvia.pdf",
            pdf_with("/OpenAction<</S/Launch/F(calc.exe)>>"),
            "contiene script, azioni automatiche o file incorporati",
        ),
        ("archivio.pdf", zip, "non è un PDF regolare"),
        (
            "pagina.pdf",
            b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF".to_vec(),
            "non è un PDF regolare",
        ),
    ] {
        let res = d.upload("documenti_causa", name, bytes).await;
        assert_eq!(res.status(), 422, "{name}");
        let body = res.text().await.unwrap();
        assert!(body.contains(message), "{name}: {}", errors_in(&body));
    }
    let (_, page) = d.get_text("allegati").await;
    assert!(!page.contains("script.pdf") && !page.contains("archivio.pdf"));
    // A plain PDF still goes in.
    let res = d
        .upload(
            "documenti_causa",
            "lettere.pdf",
            crate::public_form::minimal_pdf(),
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn a_draft_holds_at_most_forty_documents() {
    let app = spawn_app_with(|c| c.rate_limits.upload = 1000).await;
    ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    for i in 0..40 {
        let res = d
            .upload(
                "documenti_causa",
                &format!("pagina {i}.png"),
                crate::public_form::png(),
            )
            .await;
        assert_eq!(res.status(), 200, "document {i}");
    }
    let res = d
        .upload(
            "documenti_causa",
            "pagina 41.png",
            crate::public_form::png(),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("al massimo 40 documenti"),
        "the 41st is refused with its reason: {}",
        errors_in(&body)
    );
}

#[tokio::test]
async fn an_address_the_mailer_would_refuse_is_refused_when_typed() {
    let app = spawn_app().await;
    ordine(&app, SLUG).await;
    let res = app
        .client
        .post(app.url(&format!("/{SLUG}/istanza/nuova")))
        .form(&[("email", "a'\"(){}&=x@evil.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("L'indirizzo e-mail non è valido"));
    let d = new_draft(&app, SLUG).await;
    let res = d
        .post(
            "richiedente",
            &[("kind", "persona"), ("email", "a'\"(){}&=x@evil.example")],
        )
        .await;
    assert!(errors_in(&res.text().await.unwrap()).contains("L'indirizzo e-mail non è valido"));
}

#[tokio::test]
async fn an_upload_carries_its_csrf_token_in_the_body_never_in_the_url() {
    let app = spawn_app().await;
    let of = crate::workflow::office(&app).await;
    let rel = app.login(&of.councillors[0]).await;
    let url = app.url(&format!("/{SLUG}/consiglieri/firma"));
    // The upload forms have no token in their URL, and the token as their first field.
    let admin = app
        .user(
            SLUG,
            "admin@ordine.example.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let admin = app.login(&admin).await;
    for path in ["impostazioni", "albo"] {
        let (_, page) = admin
            .page(&app, &format!("/{SLUG}/amministrazione/{path}"))
            .await;
        assert!(!page.contains("_csrf="), "no token in a URL");
        let form_start = page.find("enctype=\"multipart/form-data\"").unwrap();
        let first_input = page[form_start..].find("<input").unwrap() + form_start;
        assert!(
            page[first_input..].starts_with("<input type=\"hidden\" name=\"_csrf\""),
            "{path}"
        );
    }
    use reqwest::multipart::{Form, Part};
    let file = || Part::bytes(crate::public_form::minimal_pdf()).file_name("x.pdf");
    let post = |to: String, form: Form| async {
        let res = rel.client.post(to).multipart(form).send().await.unwrap();
        res.status().as_u16()
    };
    // In the URL: refused.
    let in_url = format!("{url}?_csrf={}", rel.csrf);
    assert_eq!(post(in_url, Form::new().part("firmati", file())).await, 403);
    // After the file, or wrong: refused.
    let after = Form::new()
        .part("firmati", file())
        .text("_csrf", rel.csrf.clone());
    assert_eq!(post(url.clone(), after).await, 403);
    let wrong = Form::new()
        .text("_csrf", "0".repeat(rel.csrf.len()))
        .part("firmati", file());
    assert_eq!(post(url.clone(), wrong).await, 403);
    // First in the body: accepted (the file is then judged on its own).
    let first = Form::new()
        .text("_csrf", rel.csrf.clone())
        .part("firmati", file());
    assert_ne!(post(url, first).await, 403);
}

#[tokio::test]
async fn invisible_direction_marks_are_dropped_from_file_names() {
    let app = spawn_app().await;
    ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    let res = d
        .upload(
            "documenti_causa",
            "fattura\u{202E}fdp.exe",
            crate::public_form::minimal_pdf(),
        )
        .await;
    assert_eq!(res.status(), 200);
    let (_, page) = d.get_text("allegati").await;
    assert!(page.contains("fatturafdp.exe"));
    assert!(!page.contains('\u{202E}'));
}
