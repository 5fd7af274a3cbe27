//! Headless Chromium (Debian's `chromium` + `chromium-driver`, driven with fantoccini) walks
//! the public form as a person would, and axe-core checks every page it reaches against the
//! WCAG 2.1 A and AA rules: any violation fails the test. Screenshots of each step are written
//! to `target/screenshots/istanza/`.

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::{
    helpers::spawn_app,
    public_form::{FACTS, jpeg, minimal_pdf, ordine, person_cf, png},
};
use patrocinio::domain::codice_fiscale::Sex;

const AXE: &str = include_str!("../assets/vendor/axe-core-4.14.1/axe.min.js");
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Chromium session; `phone` emulates a 390×844 phone screen (headless Chromium will not
/// make a window that narrow).
async fn browser(phone: bool) -> (Driver, Client) {
    assert!(
        Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists(),
        "the browser tests need Debian's Chromium: apt-get install chromium chromium-driver"
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = tempfile::tempdir().unwrap().keep();
    let mut options = json!({
        "binary": CHROMIUM,
        "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--disable-quic", "--lang=it-IT", "--window-size=1280,1000",
            // Bootstrap scrolls smoothly otherwise, and clicks land before the page stops.
            "--force-prefers-reduced-motion",
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    if phone {
        options["mobileEmulation"] =
            json!({ "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 3.0 } });
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    let client = ClientBuilder::native()
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session");
    (driver, client)
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("screenshots/istanza");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs axe-core on the current page; panics with the violations, if any.
async fn audit(c: &Client, name: &str) {
    let defined = c
        .execute("return typeof window.axe !== 'undefined';", vec![])
        .await
        .unwrap();
    if defined != Value::Bool(true) {
        c.execute(AXE, vec![]).await.expect("inject axe-core");
    }
    let result = c
        .execute_async(
            r#"const done = arguments[arguments.length - 1];
            axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
              .then(r => done(JSON.stringify(r.violations.map(v => ({
                  id: v.id, impact: v.impact, help: v.help,
                  nodes: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' :: ' + n.failureSummary) })))))
              .catch(e => done('AXE ERROR ' + e));"#,
            vec![],
        )
        .await
        .expect("axe.run");
    let text = result.as_str().unwrap_or_default();
    assert!(!text.starts_with("AXE ERROR"), "{name}: {text}");
    let violations: Vec<Value> = serde_json::from_str(text).unwrap();
    assert!(
        violations.is_empty(),
        "{name}: WCAG 2.1 A/AA violations: {}",
        serde_json::to_string_pretty(&violations).unwrap()
    );
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            return e;
        }
        assert!(Instant::now() < deadline, "{css} never appeared");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the page shows the step titled `title`.
async fn on_step(c: &Client, title: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(h) = c.find(Locator::Css("main h1")).await
            && h.text().await.unwrap_or_default() == title
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "never reached «{title}»: {}",
            c.find(Locator::Css("main"))
                .await
                .unwrap()
                .text()
                .await
                .unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn type_in(c: &Client, id: &str, text: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(text).await.unwrap();
}

/// Sets an input's value directly (date inputs read keystrokes in the browser's locale).
async fn set_value(c: &Client, id: &str, value: &str) {
    c.execute(
        "document.getElementById(arguments[0]).value = arguments[1];",
        vec![json!(id), json!(value)],
    )
    .await
    .unwrap();
}

/// Bootstrap Italia draws radios and checkboxes on their label: click that.
async fn choose(c: &Client, id: &str) {
    c.find(Locator::Css(&format!("label[for='{id}']")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn select(c: &Client, id: &str, value: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .select_by_value(value)
        .await
        .unwrap();
}

/// Waits for htmx requests in flight (inline validation) to finish: their answers may move the
/// page under the pointer.
async fn settle(c: &Client) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let busy = c
            .execute(
                "return document.querySelector('.htmx-request') !== null;",
                vec![],
            )
            .await
            .unwrap();
        if busy == Value::Bool(false) {
            return;
        }
        assert!(Instant::now() < deadline, "htmx request never finished");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn click(c: &Client, css: &str) {
    settle(c).await;
    let e = c.find(Locator::Css(css)).await.unwrap();
    // Leaving the last field fires its inline validation: let it land before clicking.
    c.execute(
        "arguments[0].scrollIntoView({block: 'center'});",
        vec![json!(e)],
    )
    .await
    .unwrap();
    c.execute(
        "document.activeElement && document.activeElement.blur();",
        vec![],
    )
    .await
    .unwrap();
    settle(c).await;
    if let Err(err) = e.click().await {
        let hit = c
            .execute(
                "const r = arguments[0].getBoundingClientRect(); const h = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2); return [r.x, r.y, window.innerHeight, h ? h.outerHTML.slice(0, 300) : null];",
                vec![json!(e)],
            )
            .await
            .unwrap();
        panic!("click on {css} failed: {err}; at the button's centre: {hit}");
    }
}

async fn save(c: &Client) {
    click(
        c,
        "main form[data-hx-boost] button[type=submit].btn-primary",
    )
    .await;
}

#[tokio::test]
async fn a_person_walks_the_form_and_every_page_passes_axe() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let (_driver, c) = browser(false).await;
    let files = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("istanza-firmata.pdf", minimal_pdf()),
        ("carta-identita.png", png()),
        ("tessera.jpg", jpeg()),
    ] {
        std::fs::write(files.path().join(name), bytes).unwrap();
    }

    c.goto(&app.url("/vallenera/istanza")).await.unwrap();
    audit(&c, "00-ingresso").await;
    c.find(Locator::Css("form[action$='/nuova'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let code = wait_for(&c, "#codice-istanza").await.text().await.unwrap();
    let pin = c
        .find(Locator::Id("pin-istanza"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    audit(&c, "01-codice-e-pin").await;
    c.find(Locator::LinkText("Inizia la compilazione"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    on_step(&c, "Chi presenta l'istanza e per quale giudizio").await;
    audit(&c, "02-chi-presenta").await;
    choose(&c, "filed_by-0").await;
    select(&c, "matter", "famiglia").await;
    select(&c, "judicial_office", &o.office.to_string()).await;
    save(&c).await;

    on_step(&c, "Il richiedente").await;
    audit(&c, "03-richiedente").await;
    // First an incomplete save: the page with its messages must be accessible too.
    choose(&c, "kind-0").await;
    type_in(&c, "surname", "Rossi").await;
    type_in(&c, "codice_fiscale", "RSSMRA85T10A562T").await;
    save(&c).await;
    wait_for(&c, "#riepilogo-errori").await;
    audit(&c, "04-richiedente-con-errori").await;
    type_in(&c, "given_name", "Mario").await;
    choose(&c, "sex-1").await;
    set_value(&c, "birth_date", "1985-12-10").await;
    type_in(&c, "birth_place", "Roma").await;
    type_in(
        &c,
        "codice_fiscale",
        &person_cf("Rossi", "Mario", 1985, 12, 10, Sex::M),
    )
    .await;
    select(&c, "citizenship", "italiana").await;
    type_in(&c, "address", "Via Roma 1").await;
    type_in(&c, "city", "Vallenera").await;
    type_in(&c, "id_document", "Carta d'identità CA12345AB").await;
    set_value(&c, "id_document_expiry", "2031-05-01").await;
    save(&c).await;

    on_step(&c, "Il nucleo familiare").await;
    audit(&c, "05-famiglia").await;
    choose(&c, "lives_alone").await;
    save(&c).await;

    on_step(&c, "I redditi").await;
    audit(&c, "06-redditi").await;
    type_in(&c, "year", "2025").await;
    select(&c, "source_richiedente", "cu").await;
    type_in(&c, "taxable_richiedente", "9.800,00").await;
    choose(&c, "has_exempt_richiedente-0").await;
    choose(&c, "has_withholding_richiedente-0").await;
    choose(&c, "has_substitute_richiedente-0").await;
    save(&c).await;

    on_step(&c, "Il giudizio").await;
    audit(&c, "07-giudizio").await;
    type_in(&c, "counterparty_name", "Verdi Carla").await;
    type_in(&c, "counterparty_address", "Via Milano 2, Vallenera").await;
    choose(&c, "pending-1").await;
    type_in(&c, "facts", FACTS).await;
    type_in(&c, "law", "Artt. 337-bis e seguenti c.c.: bigenitorialità.").await;
    type_in(&c, "evidence", "Lettere del 3 aprile e del 12 giugno 2025.").await;
    save(&c).await;

    on_step(&c, "L'avvocato").await;
    audit(&c, "08-avvocato").await;
    choose(&c, &format!("lawyer-{}", o.lawyer)).await;
    save(&c).await;

    on_step(&c, "Le dichiarazioni").await;
    audit(&c, "09-dichiarazioni").await;
    for name in ["truthful", "undertaking", "penalties", "privacy"] {
        choose(&c, name).await;
    }
    save(&c).await;

    on_step(&c, "Allegati e firma").await;
    audit(&c, "10-allegati").await;
    for (kind, name) in [
        ("istanza_firmata", "istanza-firmata.pdf"),
        ("documento_identita", "carta-identita.png"),
        ("codice_fiscale", "tessera.jpg"),
    ] {
        select(&c, "kind", kind).await;
        c.find(Locator::Id("file"))
            .await
            .unwrap()
            .send_keys(&files.path().join(name).display().to_string())
            .await
            .unwrap();
        click(&c, "#carica-allegato button[type=submit]").await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while !c.source().await.unwrap().contains(name) {
            assert!(Instant::now() < deadline, "{name} not listed after upload");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    audit(&c, "11-allegati-caricati").await;
    choose(&c, "signature_mode-1").await;
    save(&c).await;

    on_step(&c, "Riepilogo e invio").await;
    audit(&c, "12-riepilogo").await;
    // Supporting documents were not attached: a warning to confirm before sending.
    choose(&c, "warnings_confirmed").await;
    click(&c, "form[action$='/invia'] button").await;
    let receipt_code = wait_for(&c, "#codice-istanza").await.text().await.unwrap();
    assert_eq!(receipt_code, code);
    audit(&c, "13-ricevuta").await;

    c.goto(&app.url("/vallenera/istanza/stato")).await.unwrap();
    type_in(&c, "codice", &code).await;
    type_in(&c, "pin", &pin).await;
    c.find(Locator::Css("main form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&c, "#stato-istanza").await;
    audit(&c, "14-stato").await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn on_a_phone_the_form_passes_axe_too() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let (_driver, c) = browser(true).await;
    c.goto(&app.url("/vallenera/istanza")).await.unwrap();
    audit(&c, "telefono-00-ingresso").await;
    c.find(Locator::Css("form[action$='/nuova'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&c, "#codice-istanza").await;
    c.find(Locator::LinkText("Inizia la compilazione"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    on_step(&c, "Chi presenta l'istanza e per quale giudizio").await;
    audit(&c, "telefono-01-chi-presenta").await;
    let widths: Value = c
        .execute(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(widths[1], 390, "the phone's viewport");
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "no horizontal scrolling on a phone: {widths}"
    );
    c.close().await.unwrap();
}

/// Logs in through the login page as a person would (password, then the TOTP code).
async fn log_in(c: &Client, app: &crate::helpers::TestApp, user: &crate::helpers::TestUser) {
    c.goto(&app.url(&format!("/{}/accesso", user.slug)))
        .await
        .unwrap();
    type_in(c, "email", &user.email).await;
    type_in(c, "password", crate::helpers::PASSWORD).await;
    click(c, "main form button[type=submit]").await;
    if let Some(secret) = &user.secret {
        wait_for(c, "#codice").await;
        type_in(c, "codice", &crate::helpers::totp_now(secret)).await;
        click(c, "main form button[type=submit]").await;
    }
    wait_for(c, "header .it-header-slim-right-zone").await;
}

/// Marks the page, to tell later that it was not reloaded.
async fn mark(c: &Client) {
    c.execute("window.__senza_ricaricare = true;", vec![])
        .await
        .unwrap();
}

async fn still_marked(c: &Client) -> bool {
    c.execute("return window.__senza_ricaricare === true;", vec![])
        .await
        .unwrap()
        == Value::Bool(true)
}

#[tokio::test]
async fn the_boards_update_live_without_a_reload() {
    use crate::workflow::{SLUG, case_path, office, register, submitted, version_of};
    let app = spawn_app().await;
    let of = office(&app).await;
    let colleague = app
        .user(
            SLUG,
            "collega@ordine.example.it",
            &[patrocinio::domain::access::Role::Segreteria],
            true,
            None,
        )
        .await;
    let (_d1, seg_browser) = browser(false).await;
    log_in(&seg_browser, &app, &of.secretariat).await;
    seg_browser
        .goto(&app.url(&format!("/{SLUG}/segreteria")))
        .await
        .unwrap();
    wait_for(&seg_browser, "#tabellone").await;
    audit(&seg_browser, "segreteria-tabellone").await;
    mark(&seg_browser).await;

    // A filing made elsewhere appears on the board, without a reload.
    let (id, _) = submitted(&app, &of.o).await;
    wait_for(&seg_browser, &format!("#pratica-{id}")).await;
    assert!(
        still_marked(&seg_browser).await,
        "the page was not reloaded"
    );
    let png = seg_browser.screenshot().await.unwrap();
    std::fs::write(screenshots().join("segreteria-nuova-istanza.png"), png).unwrap();

    // The rapporteur's queue shows a new assignment made by a colleague of the secretariat.
    let (_d2, rel_browser) = browser(false).await;
    log_in(&rel_browser, &app, &of.councillors[0]).await;
    rel_browser
        .goto(&app.url(&format!("/{SLUG}/consiglieri")))
        .await
        .unwrap();
    wait_for(&rel_browser, "#coda-relatore").await;
    mark(&rel_browser).await;
    let seg = app.login(&colleague).await;
    register(&app, &seg, id).await;
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    let v = version_of(&page);
    let res = seg
        .post(
            &app,
            &format!("{}/assegna", case_path("segreteria", id)),
            &[
                ("versione", &v),
                ("relatore", &of.councillors[0].id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let notice = wait_for(&rel_browser, "#avviso-live").await;
    assert!(
        notice
            .text()
            .await
            .unwrap()
            .contains("Nuova pratica assegnata")
    );
    wait_for(&rel_browser, &format!("#pratica-{id}")).await;
    assert!(still_marked(&rel_browser).await);
    audit(&rel_browser, "consigliere-nuova-assegnazione").await;
    // Meanwhile the secretariat's board moved the filing to the cases in progress.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let row = seg_browser
            .find(Locator::Css(&format!("#in-corso #pratica-{id}")))
            .await;
        if row.is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "the board never moved the case");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = rel_browser.close().await;
    let _ = seg_browser.close().await;
}
