//! Headless Chromium (Debian's `chromium` + `chromium-driver`, driven with fantoccini) walks
//! the public form as a person would, and on every page it reaches:
//! - axe-core checks the WCAG 2.1 A and AA rules;
//! - Chromium's console must hold no error (a CSP violation, an htmx error, a failed load),
//!   except the 422 answers of forms refused on purpose;
//! - the page's HTML is kept, and at the end of the test the Nu HTML Checker (vnu.jar, npm
//!   `vnu-jar` in tests/node, run with Java) checks them all in one run: no error allowed.
//!
//! Any finding fails the test. Screenshots of each step are written to
//! `target/screenshots/istanza/`.

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use axum::http::Method;
use fantoccini::{Client, ClientBuilder, Locator, key::Key, wd::WebDriverCompatibleCommand};
use serde_json::{Value, json};

use crate::{
    helpers::spawn_app,
    public_form::{FACTS, jpeg, ordine, person_cf, png},
};
use patrocinio::domain::codice_fiscale::Sex;

const AXE: &str = include_str!("../assets/vendor/axe-core-4.14.1/axe.min.js");
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const VNU: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/node/node_modules/vnu-jar/build/dist/vnu.jar"
);

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
    browser_with(phone, true).await
}

/// A Chromium session with JavaScript switched off in its pages (WebDriver's own scripts, which
/// the test uses to look at the page, still run). Desktop-sized: with the phone emulation and
/// no scripts, ChromeDriver never returns from a click.
async fn browser_without_javascript() -> (Driver, Client) {
    browser_with(false, false).await
}

async fn browser_with(phone: bool, javascript: bool) -> (Driver, Client) {
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
    if !javascript {
        options["args"]
            .as_array_mut()
            .unwrap()
            .push(json!("--blink-settings=scriptEnabled=false"));
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".into(), options);
    // The console's messages, read by `console_errors`.
    caps.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
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

/// Finds labels drawn over something else: for every visible label of `<main>`, the boxes of
/// its text lines against the text of everything else and every control but its own (Bootstrap
/// Italia lifts a field's label above the field, where it can land on the text, checkbox or
/// file picker before it). Answers one line per overlap.
const OVERLAPS: &str = r#"
const hidden = (el) => el.closest('.visually-hidden, [hidden], select, option, textarea, script, style')
  || !el.checkVisibility({ visibilityProperty: true });
const textBoxes = (root) => {
  const out = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!n.data.trim() || !p || hidden(p)) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    for (const b of range.getClientRects()) {
      if (b.width > 1 && b.height > 1) out.push({ b, el: p, text: n.data.trim().slice(0, 40) });
    }
  }
  return out;
};
const overlap = (a, b) =>
  Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
  Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1;
const main = document.querySelector('main');
const texts = textBoxes(main);
const controls = [...main.querySelectorAll('input:not([type=hidden]), select, textarea, button')]
  .filter((c) => !c.closest('.visually-hidden') && c.checkVisibility({ visibilityProperty: true }));
const found = [];
for (const label of main.querySelectorAll('label')) {
  if (hidden(label)) continue;
  const own = label.control;
  const name = (label.textContent || '').trim().replace(/\s+/g, ' ').slice(0, 50);
  for (const { b } of textBoxes(label)) {
    for (const t of texts) {
      if (label.contains(t.el) || t.el.contains(label)) continue;
      if (overlap(b, t.b)) found.push(`the label «${name}» covers the text «${t.text}»`);
    }
    for (const c of controls) {
      if (c === own || label.contains(c)) continue;
      if (overlap(b, c.getBoundingClientRect())) {
        found.push(`the label «${name}» covers the control ${c.tagName.toLowerCase()}#${c.id || c.name}`);
      }
    }
  }
}
return [...new Set(found)];
"#;

/// Panics if a label of the current page is drawn over other text or another control.
async fn no_overlaps(c: &Client, name: &str) {
    let found = c.execute(OVERLAPS, vec![]).await.expect("overlap check");
    let found: Vec<String> = serde_json::from_value(found).unwrap();
    assert!(found.is_empty(), "{name}: {}", found.join("; "));
}

/// Panics if the page is wider than a 390 px phone (it would scroll sideways).
async fn fits_a_phone(c: &Client, name: &str) {
    let widths = c
        .execute(
            r#"const vw = 390;
            const wide = [...document.querySelectorAll('body *')].filter((e) => {
              for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
                if (getComputedStyle(a).overflowX !== 'visible') return false;
              }
              const r = e.getBoundingClientRect();
              return r.width > 0 && r.right > vw + 1;
            }).slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + [...e.classList].join('.'));
            return [document.documentElement.scrollWidth, wide];"#,
            vec![],
        )
        .await
        .unwrap();
    assert!(
        widths[0].as_u64().is_some_and(|w| w <= 390),
        "{name}: the page scrolls sideways on a 390 px phone (scrollWidth {}; wider than the screen: {})",
        widths[0],
        widths[1]
    );
}

/// ChromeDriver's log of the browser's console (`goog:loggingPrefs`): what it logged since the
/// last call.
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/se/log",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (Method, Option<String>) {
        (Method::POST, Some(json!({ "type": "browser" }).to_string()))
    }
}

/// The errors in Chromium's console since the last call: CSP violations, htmx's errors (such as
/// `htmx:oobErrorNoTarget`), resources that failed to load. A form refused on purpose answers
/// 422 and its page is shown: that one line is not an error of the page.
async fn console_errors(c: &Client) -> Vec<String> {
    let log = c
        .issue_cmd(BrowserLog)
        .await
        .expect("Chromium's console log");
    log.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .filter(|m| !m.contains("the server responded with a status of 422"))
        .collect()
}

async fn assert_quiet_console(c: &Client, name: &str) {
    let errors = console_errors(c).await;
    assert!(
        errors.is_empty(),
        "{name}: errors in the browser's console: {errors:#?}"
    );
}

/// The HTML of every page a test saw, checked by the Nu HTML Checker in one run at the end
/// (Java starts once per test, not once per page).
struct Pages(tempfile::TempDir);

impl Pages {
    fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    /// Keeps the page as the browser holds it now (what htmx swapped in included).
    async fn keep(&self, c: &Client, name: &str) {
        let html = c
            .execute(
                "return '<!DOCTYPE html>\\n' + document.documentElement.outerHTML;",
                vec![],
            )
            .await
            .unwrap();
        std::fs::write(
            self.0.path().join(format!("{name}.html")),
            html.as_str().unwrap(),
        )
        .unwrap();
    }

    /// Runs vnu.jar over the pages kept; panics with its messages, if any.
    fn check(self) {
        assert!(
            Path::new(VNU).exists(),
            "the HTML check needs the Nu HTML Checker: tests/run installs it (npm ci in tests/node)"
        );
        let out = Command::new("java")
            .args([
                "-jar",
                VNU,
                "--errors-only",
                "--format",
                "gnu",
                "--skip-non-html",
            ])
            .arg(self.0.path())
            .output()
            .expect("the HTML check needs Java: apt-get install default-jre-headless");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = format!("{}/", self.0.path().display());
        assert!(
            out.status.success() && text.trim().is_empty(),
            "the Nu HTML Checker found errors:\n{}",
            text.replace(&format!("\"file:{dir}"), "\"")
                .replace(&dir, "")
        );
    }
}

/// Checks the console, keeps the page for the HTML check and takes its screenshot.
async fn look(c: &Client, pages: &Pages, name: &str) {
    assert_quiet_console(c, name).await;
    pages.keep(c, name).await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Runs axe-core on the current page (panics with the violations, if any), then [`look`]s at
/// it; also fails when a label covers something else.
async fn audit(c: &Client, pages: &Pages, name: &str) {
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
    look(c, pages, name).await;
    no_overlaps(c, name).await;
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

/// Waits until the JavaScript expression `condition` is true.
async fn wait_true(c: &Client, condition: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let now = c
            .execute(&format!("return Boolean({condition});"), vec![])
            .await
            .unwrap();
        if now == Value::Bool(true) {
            return;
        }
        assert!(Instant::now() < deadline, "never true: {condition}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The alert area at the top of the page is empty (htmx puts failed requests there).
async fn assert_no_alert(c: &Client) {
    settle(c).await;
    let alert = c
        .execute(
            "return document.getElementById('avvisi').textContent.trim();",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(alert, Value::String(String::new()), "an error alert");
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

/// Leaves a field as a person does, with the Tab key (its `change` fires).
async fn leave(c: &Client, id: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .send_keys(&char::from(Key::Tab).to_string())
        .await
        .unwrap();
}

/// Waits until `script` returns true.
async fn wait_until(c: &Client, what: &str, script: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while c.execute(script, vec![]).await.unwrap() != Value::Bool(true) {
        assert!(Instant::now() < deadline, "waited in vain for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of the element `css`, once it has some.
async fn text_of(c: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await {
            let text = e.text().await.unwrap_or_default();
            if !text.is_empty() {
                return text;
            }
        }
        assert!(Instant::now() < deadline, "{css} never had text");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn attribute(c: &Client, id: &str, name: &str) -> String {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .attr(name)
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Records the upload progress bar as app.js sets it: `[hidden, value]` at every progress
/// event (the listener outlives the page's swaps: it sits on the document).
async fn record_progress(c: &Client) {
    c.execute(
        "window.__avanzamento = []; document.addEventListener('htmx:xhr:progress', function () { \
           var b = document.getElementById('avanzamento-caricamento'); \
           window.__avanzamento.push([b.hidden, b.value]); });",
        vec![],
    )
    .await
    .unwrap();
}

/// The upload's outcome, once it holds the focus; it must be in view (where the person is,
/// not at the top of the page). Returns its text.
async fn focused_outcome(c: &Client) -> String {
    wait_until(
        c,
        "the upload's outcome to take the focus",
        "return document.activeElement !== null && document.activeElement.id === 'esito-caricamento';",
    )
    .await;
    assert_in_view(c, "esito-caricamento").await;
    c.find(Locator::Id("esito-caricamento"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The element is inside the viewport (at least its top line).
async fn assert_in_view(c: &Client, id: &str) {
    let seen = c
        .execute(
            "const r = document.getElementById(arguments[0]).getBoundingClientRect(); \
             return [r.top, r.bottom, window.innerHeight, window.scrollY];",
            vec![json!(id)],
        )
        .await
        .unwrap();
    let (top, height) = (seen[0].as_f64().unwrap(), seen[2].as_f64().unwrap());
    assert!(
        top >= 0.0 && top < height,
        "#{id} is not in view: [top, bottom, viewport height, scrollY] = {seen}"
    );
}

#[tokio::test]
async fn a_person_walks_the_form_and_every_page_passes_axe() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let (_driver, c) = browser(false).await;
    let pages = Pages::new();
    let files = tempfile::tempdir().unwrap();
    for (name, bytes) in [("carta-identita.png", png()), ("tessera.jpg", jpeg())] {
        std::fs::write(files.path().join(name), bytes).unwrap();
    }

    c.goto(&app.url("/vallenera/istanza")).await.unwrap();
    audit(&c, &pages, "00-ingresso").await;
    c.find(Locator::Css("form[action$='/nuova'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let code = wait_for(&c, "#codice-istanza").await.text().await.unwrap();
    // The application signed by hand, photographed with its QR code.
    std::fs::write(
        files.path().join("istanza-firmata.png"),
        crate::public_form::qr_photo(&code),
    )
    .unwrap();
    let pin = c
        .find(Locator::Id("pin-istanza"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    audit(&c, &pages, "01-codice-e-pin").await;
    c.find(Locator::LinkText("Inizia la compilazione"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    on_step(&c, "Chi presenta l'istanza e per quale giudizio").await;
    audit(&c, &pages, "02-chi-presenta").await;
    choose(&c, "filed_by-0").await;
    select(&c, "matter", "famiglia").await;
    select(&c, "judicial_office", &o.office.to_string()).await;
    save(&c).await;

    on_step(&c, "Il richiedente").await;
    audit(&c, &pages, "03-richiedente").await;
    // First an incomplete save: the page with its messages must be accessible too.
    choose(&c, "kind-0").await;
    type_in(&c, "surname", "Rossi").await;
    type_in(&c, "codice_fiscale", "RSSMRA85T10A562T").await;
    // Leaving the field shows its message under it, without a page load, and marks it.
    mark(&c).await;
    leave(&c, "codice_fiscale").await;
    let message = text_of(&c, "#codice_fiscale-errore .campo-errore").await;
    assert!(
        message.contains(
            "Il carattere di controllo del codice fiscale RSSMRA85T10A562T non è corretto"
        ),
        "{message}"
    );
    assert_eq!(
        attribute(&c, "codice_fiscale", "aria-invalid").await,
        "true"
    );
    assert!(still_marked(&c).await, "no page load");
    assert_quiet_console(&c, "03-richiedente, inline validation").await;
    save(&c).await;
    wait_for(&c, "#riepilogo-errori").await;
    audit(&c, &pages, "04-richiedente-con-errori").await;
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
    // Corrected and left: the message goes, and so does the invalid mark.
    leave(&c, "codice_fiscale").await;
    wait_until(&c, "the corrected code's message to go", "return document.querySelector('#codice_fiscale-errore .campo-errore') === null && !document.getElementById('codice_fiscale').hasAttribute('aria-invalid');").await;
    select(&c, "citizenship", "italiana").await;
    type_in(&c, "address", "Via Roma 1").await;
    type_in(&c, "city", "Vallenera").await;
    type_in(&c, "id_document", "Carta d'identità CA12345AB").await;
    set_value(&c, "id_document_expiry", "2031-05-01").await;
    save(&c).await;

    on_step(&c, "Il nucleo familiare").await;
    audit(&c, &pages, "05-famiglia").await;
    choose(&c, "lives_alone").await;
    save(&c).await;

    on_step(&c, "I redditi").await;
    audit(&c, &pages, "06-redditi").await;
    type_in(&c, "year", "2025").await;
    select(&c, "source_richiedente", "cu").await;
    type_in(&c, "taxable_richiedente", "9.800,00").await;
    choose(&c, "has_exempt_richiedente-0").await;
    choose(&c, "has_withholding_richiedente-0").await;
    choose(&c, "has_substitute_richiedente-0").await;
    save(&c).await;

    on_step(&c, "Il giudizio").await;
    audit(&c, &pages, "07-giudizio").await;
    type_in(&c, "counterparty_name", "Verdi Carla").await;
    type_in(&c, "counterparty_address", "Via Milano 2, Vallenera").await;
    choose(&c, "pending-1").await;
    type_in(&c, "facts", FACTS).await;
    type_in(&c, "law", "Artt. 337-bis e seguenti c.c.: bigenitorialità.").await;
    type_in(&c, "evidence", "Lettere del 3 aprile e del 12 giugno 2025.").await;
    save(&c).await;

    on_step(&c, "L'avvocato").await;
    audit(&c, &pages, "08-avvocato").await;
    choose(&c, &format!("lawyer-{}", o.lawyer)).await;
    save(&c).await;

    on_step(&c, "Le dichiarazioni").await;
    audit(&c, &pages, "09-dichiarazioni").await;
    for name in ["truthful", "undertaking", "penalties", "privacy"] {
        choose(&c, name).await;
    }
    save(&c).await;

    on_step(&c, "Allegati e firma").await;
    audit(&c, &pages, "10-allegati").await;
    record_progress(&c).await;
    for (kind, name) in [
        ("istanza_firmata", "istanza-firmata.png"),
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
        let outcome = focused_outcome(&c).await;
        assert!(
            outcome.contains(&format!("Documento «{name}» caricato")),
            "{outcome}"
        );
    }
    // The bar showed while each file travelled, and reached the end.
    let progress = c
        .execute("return window.__avanzamento;", vec![])
        .await
        .unwrap();
    assert!(
        progress
            .as_array()
            .unwrap()
            .iter()
            .any(|p| *p == json!([false, 100])),
        "the progress bar never showed 100%: {progress}"
    );
    audit(&c, &pages, "11-allegati-caricati").await;
    // Choosing the mode is checked and saved at once, like any field (it once answered 405,
    // with "Operazione non consentita" at the top of the page).
    c.execute(
        "window.__verifiche = []; document.body.addEventListener('htmx:afterRequest', (e) => { \
           if (e.detail.pathInfo.requestPath.endsWith('/allegati/verifica')) window.__verifiche.push(e.detail.xhr.status); });",
        vec![],
    )
    .await
    .unwrap();
    choose(&c, "signature_mode-0").await;
    wait_true(&c, "window.__verifiche.length === 1").await;
    choose(&c, "signature_mode-1").await;
    wait_true(&c, "window.__verifiche.length === 2").await;
    let statuses = c
        .execute("return window.__verifiche;", vec![])
        .await
        .unwrap();
    assert_eq!(statuses, json!([200, 200]));
    assert_no_alert(&c).await;
    c.refresh().await.unwrap();
    on_step(&c, "Allegati e firma").await;
    let saved = c
        .find(Locator::Id("signature_mode-1"))
        .await
        .unwrap()
        .prop("checked")
        .await
        .unwrap();
    assert_eq!(saved.as_deref(), Some("true"), "the choice was saved");
    save(&c).await;

    on_step(&c, "Riepilogo e invio").await;
    audit(&c, &pages, "12-riepilogo").await;
    // Supporting documents were not attached: a warning to confirm before sending.
    choose(&c, "warnings_confirmed").await;
    click(&c, "form[action$='/invia'] button").await;
    let receipt_code = wait_for(&c, "#codice-istanza").await.text().await.unwrap();
    assert_eq!(receipt_code, code);
    audit(&c, &pages, "13-ricevuta").await;

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
    audit(&c, &pages, "14-stato").await;
    c.close().await.unwrap();
    pages.check();
}

#[tokio::test]
async fn on_a_phone_the_form_passes_axe_too() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let (_driver, c) = browser(true).await;
    let pages = Pages::new();
    c.goto(&app.url("/vallenera/istanza")).await.unwrap();
    audit(&c, &pages, "telefono-00-ingresso").await;
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
    audit(&c, &pages, "telefono-01-chi-presenta").await;
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
    pages.check();
}

/// Opens a new draft's attachments step in the browser (the draft is this browser's).
async fn attachments_step(c: &Client, app: &crate::helpers::TestApp) {
    c.goto(&app.url("/vallenera/istanza")).await.unwrap();
    c.find(Locator::Css("form[action$='/nuova'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(c, "#codice-istanza").await;
    let start = c
        .find(Locator::LinkText("Inizia la compilazione"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    c.goto(&app.url(&start.replace("/chi-presenta", "/allegati")))
        .await
        .unwrap();
    on_step(c, "Allegati e firma").await;
}

async fn choose_file(c: &Client, path: &Path) {
    c.find(Locator::Id("file"))
        .await
        .unwrap()
        .send_keys(&path.display().to_string())
        .await
        .unwrap();
}

#[tokio::test]
async fn on_a_phone_an_upload_answers_where_the_person_is() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let (_driver, c) = browser(true).await;
    let pages = Pages::new();
    let files = tempfile::tempdir().unwrap();
    let letter = files.path().join("lettera.txt");
    std::fs::write(&letter, "Non è un PDF.").unwrap();
    let scan = files.path().join("ricorso.png");
    std::fs::write(&scan, png()).unwrap();
    attachments_step(&c, &app).await;
    record_progress(&c).await;

    // A file in a format that is not accepted: the answer is in the card, in view, focused,
    // and says what is wrong; the kind chosen is still chosen.
    select(&c, "kind", "documenti_causa").await;
    choose_file(&c, &letter).await;
    click(&c, "#carica-allegato button[type=submit]").await;
    let outcome = focused_outcome(&c).await;
    assert!(
        outcome.contains("Il file lettera.txt non è in un formato ammesso"),
        "{outcome}"
    );
    assert!(!outcome.contains("dimensione"), "{outcome}");
    let kind = c
        .find(Locator::Id("kind"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kind.as_deref(), Some("documenti_causa"));
    let role = attribute(&c, "esito-caricamento", "role").await;
    assert_eq!(role, "alert", "announced to screen readers");
    audit(&c, &pages, "telefono-10-caricamento-rifiutato").await;

    // The right file, with the kind as it was left: stored, and said so in the card.
    choose_file(&c, &scan).await;
    click(&c, "#carica-allegato button[type=submit]").await;
    let outcome = focused_outcome(&c).await;
    assert!(
        outcome.contains("Documento «ricorso.png» caricato"),
        "{outcome}"
    );
    assert_eq!(attribute(&c, "esito-caricamento", "role").await, "status");
    let progress = c
        .execute("return window.__avanzamento;", vec![])
        .await
        .unwrap();
    assert!(
        progress
            .as_array()
            .unwrap()
            .iter()
            .any(|p| *p == json!([false, 100])),
        "the progress bar never showed 100%: {progress}"
    );
    audit(&c, &pages, "telefono-11-caricamento-riuscito").await;
    c.close().await.unwrap();
    pages.check();
}

/// Signing with SPID or CIE on a phone (issue 12, point 7): the draft filled over HTTP is
/// resumed in the browser with its code and PIN; on the signature step the person follows
/// "Firma con SPID o CIE" to the identity provider of the test federation (`spid`), which
/// identifies them at level 2 at once and sends them back, signed. No printer, no scanner.
#[tokio::test]
async fn on_a_phone_the_applicant_signs_with_spid_or_cie() {
    use crate::workflow::SLUG;
    let app = spawn_app().await;
    let idp = crate::spid::start_federation(&app).await;
    let of = crate::spid::join(&app, &idp, None).await;
    let d = crate::public_form::new_draft(&app, SLUG).await;
    crate::public_form::fill_until_attachments(&d, &of.o).await;
    let (_driver, c) = browser(true).await;
    let pages = Pages::new();
    c.goto(&app.url(&format!("/{SLUG}/istanza"))).await.unwrap();
    type_in(&c, "codice", &d.code).await;
    type_in(&c, "pin", &d.pin).await;
    click(&c, "form[action$='/riprendi'] button").await;
    wait_for(&c, "main h1").await;
    c.goto(&d.url("allegati")).await.unwrap();
    on_step(&c, "Allegati e firma").await;
    wait_for(&c, "#firma-spid-avvia").await;
    fits_a_phone(&c, "telefono-20-firma-spid").await;
    audit(&c, &pages, "telefono-20-firma-spid").await;

    click(&c, "#firma-spid-avvia").await;
    let outcome = wait_for(&c, "#firma-spid-esito").await;
    let text = outcome.text().await.unwrap();
    assert!(text.contains(crate::spid::SIGNED), "{text}");
    on_step(&c, "Allegati e firma").await;
    fits_a_phone(&c, "telefono-21-firmata-con-spid").await;
    audit(&c, &pages, "telefono-21-firmata-con-spid").await;
    c.close().await.unwrap();
    pages.check();
}

#[tokio::test]
async fn without_javascript_a_refused_upload_scrolls_to_its_answer() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let (_driver, c) = browser_without_javascript().await;
    let pages = Pages::new();
    let files = tempfile::tempdir().unwrap();
    let letter = files.path().join("lettera.txt");
    std::fs::write(&letter, "Non è un PDF.").unwrap();
    attachments_step(&c, &app).await;
    let htmx = c
        .execute("return typeof window.htmx;", vec![])
        .await
        .unwrap();
    assert_eq!(htmx, "undefined", "the page's scripts do not run");
    select(&c, "kind", "documenti_causa").await;
    choose_file(&c, &letter).await;
    click(&c, "#carica-allegato button[type=submit]").await;
    wait_for(&c, "#esito-caricamento").await;
    // The browser followed the action's #esito-caricamento down to the card, and focused it
    // (it can take the focus: tabindex="-1").
    assert_in_view(&c, "esito-caricamento").await;
    let focused = c
        .execute("return document.activeElement.id;", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "esito-caricamento");
    let scrolled = c.execute("return window.scrollY;", vec![]).await.unwrap();
    assert!(
        scrolled.as_f64().unwrap() > 0.0,
        "scrolled down: {scrolled}"
    );
    assert_eq!(
        c.title().await.unwrap().split(" · ").next(),
        Some("Errore: documento non caricato")
    );
    let kind = c
        .find(Locator::Id("kind"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kind.as_deref(), Some("documenti_causa"));
    // axe-core needs the page's timers, which are off; the same page passes it with
    // JavaScript (`on_a_phone_an_upload_answers_where_the_person_is`).
    look(&c, &pages, "senza-js-caricamento-rifiutato").await;
    c.close().await.unwrap();
    pages.check();
}

/// Logs in through the login page as a person would (password, then the TOTP code).
async fn log_in(
    c: &Client,
    pages: &Pages,
    app: &crate::helpers::TestApp,
    user: &crate::helpers::TestUser,
) {
    c.goto(&app.url(&format!("/{}/accesso", user.slug)))
        .await
        .unwrap();
    audit(c, pages, &format!("accesso-{}", user.email)).await;
    type_in(c, "email", &user.email).await;
    type_in(c, "password", crate::helpers::PASSWORD).await;
    click(c, "main form button[type=submit]").await;
    if let Some(secret) = &user.secret {
        wait_for(c, "#codice").await;
        audit(c, pages, &format!("codice-{}", user.email)).await;
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
    let pages = Pages::new();
    log_in(&seg_browser, &pages, &app, &of.secretariat).await;
    seg_browser
        .goto(&app.url(&format!("/{SLUG}/segreteria")))
        .await
        .unwrap();
    wait_for(&seg_browser, "#tabellone").await;
    audit(&seg_browser, &pages, "segreteria-tabellone").await;
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
    log_in(&rel_browser, &pages, &app, &of.councillors[0]).await;
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
    audit(&rel_browser, &pages, "consigliere-nuova-assegnazione").await;
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
    audit(&seg_browser, &pages, "segreteria-tabellone-aggiornato").await;
    let _ = rel_browser.close().await;
    let _ = seg_browser.close().await;
    pages.check();
}

#[tokio::test]
async fn a_pec_receipt_changes_a_transmissions_state_live_on_the_case_page() {
    use crate::mail::{Smtp, free_port};
    use crate::pec_receipts::{Dovecot, LAWYER_PEC, Receipt, admitted, app_with, until_states};
    use crate::workflow::{SLUG, case_path};
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let imap = Dovecot::start().await;
    let (app, _dir) = app_with(&smtp, &imap).await;
    let (id, _, _, lawyer, _) = admitted(&app).await;
    // A colleague of the secretariat has the case page open in the browser.
    let colleague = app
        .user(
            SLUG,
            "collega@ordine.example.it",
            &[patrocinio::domain::access::Role::Segreteria],
            true,
            None,
        )
        .await;
    let (_d, c) = browser(false).await;
    let pages = Pages::new();
    log_in(&c, &pages, &app, &colleague).await;
    c.goto(&app.url(&case_path("segreteria", id)))
        .await
        .unwrap();
    wait_for(&c, "#trasmissioni-pratica").await;
    // The socket is up before the receipt arrives (its snapshot marks the page).
    wait_true(&c, "document.querySelector('[data-ws-connect]') !== null").await;
    settle(&c).await;
    assert!(
        !text_of(&c, "#trasmissioni-pratica")
            .await
            .contains("Consegnata"),
        "not delivered yet"
    );
    mark(&c).await;
    imap.deliver(
        &Receipt {
            id: "cons-browser",
            kind: "avvenuta-consegna",
            refers_to: &lawyer,
            recipient: LAWYER_PEC,
            errore: "nessuno",
            errore_esteso: None,
        }
        .eml(),
    )
    .await;
    until_states(
        &app,
        id,
        &[
            ("avvocato", "consegnata"),
            ("ufficio_giudiziario", "in_coda"),
        ],
    )
    .await;
    wait_true(
        &c,
        "document.querySelector('#trasmissioni-pratica').textContent.includes('Consegnata')",
    )
    .await;
    assert!(still_marked(&c).await, "the page was not reloaded");
    audit(&c, &pages, "segreteria-ricevuta-pec-live").await;
    let _ = c.close().await;
    pages.check();
    drop(smtp);
}

/// What the tour of every area needs: applications in several states, an account per role for
/// the browser (never logged in over HTTP: a TOTP code is accepted once), an Albo import.
struct Tour {
    app: crate::helpers::TestApp,
    /// Applications: asked for documents (filed by the applicant alone), in examination with
    /// the browser's councillor, just submitted.
    asked: uuid::Uuid,
    examined: uuid::Uuid,
    submitted: uuid::Uuid,
    /// An admission sealed and sent to the parties, its copy for the judge waiting (the
    /// office has no PEC): with its code and PIN.
    decided: (uuid::Uuid, String, String),
    _seals: tempfile::TempDir,
    /// Code and PIN of `asked`, for the status page.
    asked_code: String,
    asked_pin: String,
    /// A complete draft: id, code and PIN.
    draft: (String, String, String),
    albo_preview: String,
    secretariat: crate::helpers::TestUser,
    councillor: crate::helpers::TestUser,
    lawyer: crate::helpers::TestUser,
    admin: crate::helpers::TestUser,
}

async fn tour_fixtures() -> Tour {
    use crate::workflow::{SLUG, ask, in_examination, office, register_and_assign, submitted};
    use patrocinio::domain::access::Role;
    let seals = tempfile::tempdir().unwrap();
    let seal = crate::signing::Signer::new("80012345678");
    std::fs::write(seals.path().join(format!("{SLUG}.pem")), seal.pem()).unwrap();
    let dir = seals.path().to_path_buf();
    let app = crate::helpers::spawn_app_with(move |c| c.seal_dir = Some(dir)).await;
    let of = office(&app).await;
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.tenants SET settings = settings || '{\"seal\": true}'")
        .execute(&mut conn)
        .await
        .unwrap();
    let (asked, asked_code, asked_pin) = crate::workflow::submitted_with_pin(&app, &of.o).await;
    let (seg, rossi) = in_examination(&app, &of, asked).await;
    ask(&app, &rossi, asked).await;
    let decided = crate::workflow::submitted_with_pin(&app, &of.o).await;
    register_and_assign(&app, &seg, decided.0, of.councillors[0].id).await;
    let res = crate::workflow::propose(
        &app,
        &rossi,
        decided.0,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (examined, _) = submitted(&app, &of.o).await;
    register_and_assign(&app, &seg, examined, of.councillors[1].id).await;
    let (submitted, _) = submitted(&app, &of.o).await;
    let d = crate::public_form::new_draft(&app, SLUG).await;
    crate::public_form::fill_complete(&d, &of.o).await;
    let draft = (d.id.clone(), d.code.clone(), d.pin.clone());
    let importer = app
        .user(
            SLUG,
            "albo@ordine.example.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let importer = app.login(&importer).await;
    let res = crate::register::upload(
        &app,
        &importer,
        "albo.csv",
        crate::register::albo_csv().into_bytes(),
    )
    .await;
    assert_eq!(res.status(), 303);
    let albo_preview = res.headers()["location"].to_str().unwrap().to_owned();
    let secretariat = app
        .user(
            SLUG,
            "sportello@ordine.example.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;
    let lawyer = app
        .user(
            SLUG,
            "anna.bianchi@avvocati.example.it",
            &[Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let admin = app
        .user(
            SLUG,
            "amministrazione@ordine.example.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let councillor = of.councillors.into_iter().nth(1).unwrap();
    Tour {
        asked,
        decided,
        _seals: seals,
        examined,
        submitted,
        asked_code,
        asked_pin,
        draft,
        albo_preview,
        secretariat,
        councillor,
        lawyer,
        admin,
        app,
    }
}

/// Opens `path` and checks it: axe, no label over anything else and, on a phone, no sideways
/// scrolling.
async fn visit(c: &Client, pages: &Pages, t: &Tour, phone: bool, path: &str) {
    c.goto(&t.app.url(path)).await.unwrap();
    wait_for(c, "main h1").await;
    check(c, pages, t, phone, path).await;
}

/// Checks the page shown; its screenshot is named after `path`, with names for the ids.
async fn check(c: &Client, pages: &Pages, t: &Tour, phone: bool, path: &str) {
    let mut name = path.to_owned();
    for (id, label) in [
        (t.draft.0.clone(), "bozza"),
        (t.asked.to_string(), "integrazione-richiesta"),
        (t.examined.to_string(), "in-esame"),
        (t.submitted.to_string(), "presentata"),
        (t.decided.0.to_string(), "ammessa"),
    ] {
        name = name.replace(&id, label);
    }
    if let Some(import) = t.albo_preview.rsplit('/').next() {
        name = name.replace(import, "anteprima");
    }
    let name = format!(
        "{}{}",
        if phone {
            "giro-telefono"
        } else {
            "giro-desktop"
        },
        name.replace(['/', '?', '=', '&'], "-")
    );
    if phone {
        fits_a_phone(c, &name).await;
    }
    audit(c, pages, &name).await;
}

/// Every page of every area with something in it, as each role sees it.
async fn tour(phone: bool) {
    use crate::workflow::SLUG;
    let t = tour_fixtures().await;
    let (_driver, c) = browser(phone).await;
    let c = &c;
    let pages = Pages::new();

    // The public form: the complete draft, resumed with code and PIN, step by step.
    visit(c, &pages, &t, phone, &format!("/{SLUG}/istanza")).await;
    let (draft, code, pin) = &t.draft;
    type_in(c, "codice", code).await;
    type_in(c, "pin", pin).await;
    click(c, "form[action$='/riprendi'] button").await;
    on_step(c, "Riepilogo e invio").await;
    for step in patrocinio::domain::application::Step::ALL {
        visit(
            c,
            &pages,
            &t,
            phone,
            &format!("/{SLUG}/istanza/{draft}/{}", step.slug()),
        )
        .await;
    }
    // The status page of the application asked for documents, its answer page and receipt.
    visit(c, &pages, &t, phone, &format!("/{SLUG}/istanza/stato")).await;
    type_in(c, "codice", &t.asked_code).await;
    type_in(c, "pin", &t.asked_pin).await;
    click(c, "main form button[type=submit]").await;
    wait_for(c, "#stato-istanza .callout").await;
    check(
        c,
        &pages,
        &t,
        phone,
        &format!("/{SLUG}/istanza/stato-integrazione"),
    )
    .await;
    visit(
        c,
        &pages,
        &t,
        phone,
        &format!("/{SLUG}/istanza/{}/integrazione", t.asked),
    )
    .await;
    visit(
        c,
        &pages,
        &t,
        phone,
        &format!("/{SLUG}/istanza/{}/ricevuta", t.asked),
    )
    .await;
    // The status page of the admission offers the signed delibera.
    visit(c, &pages, &t, phone, &format!("/{SLUG}/istanza/stato")).await;
    type_in(c, "codice", &t.decided.1).await;
    type_in(c, "pin", &t.decided.2).await;
    click(c, "main form button[type=submit]").await;
    wait_for(c, "#delibera-firmata").await;
    check(
        c,
        &pages,
        &t,
        phone,
        &format!("/{SLUG}/istanza/stato-delibera"),
    )
    .await;

    let cases = [t.asked, t.examined, t.submitted, t.decided.0];
    let areas: [(&crate::helpers::TestUser, Vec<String>); 4] = [
        (
            &t.secretariat,
            [
                format!("/{SLUG}/segreteria"),
                format!("/{SLUG}/segreteria/protocollo"),
                format!("/{SLUG}/segreteria/protocollo/registri"),
                format!("/{SLUG}/segreteria?stato=tutte&ordine=recenti"),
                format!("/{SLUG}/segreteria/adunanze"),
                format!("/{SLUG}/segreteria/ricevute-pec"),
                format!("/{SLUG}/segreteria/fascicoli"),
                format!("/{SLUG}/segreteria/agenzia-entrate"),
            ]
            .into_iter()
            .chain(
                cases
                    .iter()
                    .map(|id| format!("/{SLUG}/segreteria/pratiche/{id}")),
            )
            .collect(),
        ),
        (
            &t.councillor,
            vec![
                format!("/{SLUG}/consiglieri"),
                format!("/{SLUG}/consiglieri/firma"),
                format!("/{SLUG}/consiglieri/pratiche/{}", t.examined),
            ],
        ),
        (
            &t.lawyer,
            std::iter::once(format!("/{SLUG}/avvocati"))
                .chain(
                    cases
                        .iter()
                        .map(|id| format!("/{SLUG}/avvocati/pratiche/{id}")),
                )
                .collect(),
        ),
        (
            &t.admin,
            [
                "",
                "/utenti",
                "/registro",
                "/posta",
                "/impostazioni",
                "/uffici",
                "/elenchi",
                "/albo",
                "/agenzia-entrate",
                "/statistiche",
            ]
            .iter()
            .map(|p| format!("/{SLUG}/amministrazione{p}"))
            .chain([t.albo_preview.clone()])
            .collect(),
        ),
    ];
    for (user, paths) in &areas {
        c.delete_all_cookies().await.unwrap();
        log_in(c, &pages, &t.app, user).await;
        for path in paths {
            visit(c, &pages, &t, phone, path).await;
        }
        visit(c, &pages, &t, phone, &format!("/{SLUG}/avvisi")).await;
    }
    c.clone().close().await.unwrap();
    pages.check();
}

#[tokio::test]
async fn on_a_phone_every_page_of_every_area_fits_the_screen_and_passes_axe() {
    tour(true).await;
}

#[tokio::test]
async fn on_a_desktop_every_page_of_every_area_passes_axe_with_no_label_over_anything() {
    tour(false).await;
}
