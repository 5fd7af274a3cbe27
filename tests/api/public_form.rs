//! The public form over HTTP, without JavaScript: every step, real uploads, submission,
//! receipt, status page, resuming on another device, and the rules' messages.

use chrono::NaiveDate;
use patrocinio::{
    domain::{
        application::matter::ListMatter,
        codice_fiscale::{CfPersona, Sex},
        tenant::TenantId,
    },
    store::{lawyers, offices, tenants::TenantSettings},
};
use reqwest::multipart;
use sha2::Digest;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

pub const LAWYER_CF: &str = "BNCNNA80A41H501R";

pub fn person_cf(surname: &str, name: &str, y: i32, m: u32, d: u32, sex: Sex) -> String {
    CfPersona::compute(
        surname,
        name,
        NaiveDate::from_ymd_opt(y, m, d).unwrap(),
        sex,
        "H501",
    )
    .unwrap()
    .as_str()
    .to_owned()
}

/// An Ordine with one judicial office and one lawyer on the civil legal-aid list.
pub struct Ordine {
    pub office: Uuid,
    pub lawyer: Uuid,
}

pub async fn ordine(app: &TestApp, slug: &str) -> Ordine {
    let tenant = app.create_tenant(slug, TenantSettings::default()).await;
    let mut tx = app.db.tenant_tx(TenantId(tenant.id.0)).await.unwrap();
    let grant =
        patrocinio::domain::access::authorize::<patrocinio::domain::access::ManageSettings>(
            tenant.id,
            Uuid::nil(),
            &[patrocinio::domain::access::Role::Amministratore],
            patrocinio::domain::access::Role::Amministratore,
        )
        .unwrap();
    let office = offices::create(&mut tx, &grant, "Tribunale di Vallenera", 1)
        .await
        .unwrap();
    let lawyer = lawyers::upsert(
        &mut tx,
        lawyers::NewLawyer {
            surname: "Bianchi",
            given_name: "Anna",
            codice_fiscale: LAWYER_CF,
            register_number: Some("1234"),
            pec: Some("anna.bianchi@pec.avvocati.example.it"),
            email: None,
            matters: &[ListMatter::Civile, ListMatter::VolontariaGiurisdizione],
            status: "attivo",
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    Ordine { office, lawyer }
}

/// A draft being filled in by one client (one device).
pub struct Draft<'a> {
    pub app: &'a TestApp,
    pub base: String,
    pub id: String,
    pub code: String,
    pub pin: String,
}

fn between<'b>(body: &'b str, start: &str, end: &str) -> Option<&'b str> {
    let from = body.find(start)? + start.len();
    let len = body[from..].find(end)?;
    Some(&body[from..from + len])
}

/// The id of the draft whose creation page is `body` (its first step's link).
pub fn draft_id(body: &str, slug: &str) -> String {
    between(body, &format!("href=\"/{slug}/istanza/"), "/chi-presenta\"")
        .expect("the link to the first step")
        .to_owned()
}

/// The code and PIN the page of a new draft shows.
pub fn code_and_pin(body: &str) -> (String, String) {
    let code = between(body, "id=\"codice-istanza\">", "<").unwrap();
    let pin = between(body, "id=\"pin-istanza\">", "<").unwrap();
    (code.to_owned(), pin.to_owned())
}

pub async fn new_draft<'a>(app: &'a TestApp, slug: &str) -> Draft<'a> {
    let res = app
        .client
        .post(app.url(&format!("/{slug}/istanza/nuova")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let (code, pin) = code_and_pin(&body);
    Draft {
        app,
        base: format!("/{slug}/istanza"),
        id: draft_id(&body, slug),
        code,
        pin,
    }
}

impl Draft<'_> {
    pub fn url(&self, rest: &str) -> String {
        self.app.url(&format!("{}/{}/{rest}", self.base, self.id))
    }

    pub async fn post(&self, step: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.app
            .client
            .post(self.url(step))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// Posts a step that must be accepted: 303 to the next one.
    pub async fn step_ok(&self, step: &str, fields: &[(&str, &str)], next: &str) {
        let res = self.post(step, fields).await;
        let status = res.status();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned());
        let body = res.text().await.unwrap();
        assert_eq!(status, 303, "{step} refused: {}", errors_in(&body));
        assert_eq!(
            location.unwrap(),
            format!("{}/{}/{next}", self.base, self.id)
        );
    }

    pub async fn upload(&self, kind: &str, name: &str, bytes: Vec<u8>) -> reqwest::Response {
        let form = multipart::Form::new().text("kind", kind.to_owned()).part(
            "file",
            multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
        self.app
            .client
            .post(self.url("allegati/carica"))
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// The application PDF as the service generates it for the draft (what gets signed).
    pub async fn application_pdf(&self) -> Vec<u8> {
        let res = self.app.client.get(self.url("pdf")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        res.bytes().await.unwrap().to_vec()
    }

    /// A scan of the printed application: its first page as an image (see [`rasterise`]).
    pub async fn scan(&self, format: &str) -> Vec<u8> {
        rasterise(&self.application_pdf().await, format)
    }

    pub async fn get_text(&self, rest: &str) -> (u16, String) {
        let res = self.app.client.get(self.url(rest)).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

/// The error messages of a page, for assertion messages.
pub fn errors_in(body: &str) -> String {
    body.split("class=\"campo-errore\">")
        .skip(1)
        .map(|s| s.split("</p>").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" | ")
}

pub fn minimal_pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n".to_vec()
}

/// The first page of a PDF as a 200 dpi image (`png` or `jpeg`), by poppler's `pdftoppm`: what
/// a scanner makes of the printed page.
pub fn rasterise(pdf: &[u8], format: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("in.pdf"), pdf).unwrap();
    let out = std::process::Command::new("pdftoppm")
        .args([
            "-r",
            "200",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            &format!("-{format}"),
        ])
        .arg(dir.path().join("in.pdf"))
        .arg(dir.path().join("page"))
        .output()
        .expect("pdftoppm (poppler-utils): see tests/run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ext = if format == "jpeg" { "jpg" } else { format };
    std::fs::read(dir.path().join(format!("page.{ext}"))).unwrap()
}

/// A photo of a page with only the QR code of the application `code` (PNG).
pub fn qr_photo(code: &str) -> Vec<u8> {
    let payload = patrocinio::documents::binding::qr_payload(code);
    let qr = qrcodegen::QrCode::encode_text(&payload, qrcodegen::QrCodeEcc::Quartile).unwrap();
    let module = 8;
    let side = (qr.size() as u32 + 8) * module;
    let page = image::GrayImage::from_fn(side, side, |x, y| {
        let (mx, my) = ((x / module) as i32 - 4, (y / module) as i32 - 4);
        image::Luma([if qr.get_module(mx, my) { 20 } else { 235 }])
    });
    let mut png = Vec::new();
    image::DynamicImage::ImageLuma8(page)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    png
}

pub fn png() -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n".to_vec();
    v.extend_from_slice(&[0; 64]);
    v
}

pub fn jpeg() -> Vec<u8> {
    let mut v = vec![0xFF, 0xD8, 0xFF, 0xE0];
    v.extend_from_slice(&[0; 64]);
    v
}

pub const FACTS: &str = "Il richiedente è separato di fatto dalla moglie dal marzo 2025. Dall'unione sono nati due figli minori, che vivono con la madre. La controparte impedisce da mesi gli incontri tra il padre e i figli, nonostante le richieste scritte inviate il 3 aprile e il 12 giugno 2025, rimaste senza risposta.";

/// Fills every step of a draft filed by the applicant alone (signed scan + ID document) and
/// checks that each step is accepted.
pub async fn fill_complete(d: &Draft<'_>, o: &Ordine) {
    fill_until_attachments(d, o).await;
    // Signed by hand: the scan of the printed application, with its QR code.
    let scan = d.scan("png").await;
    for (kind, name, bytes) in [
        ("istanza_firmata", "istanza firmata.png", scan),
        ("documento_identita", "carta identità.png", png()),
        ("codice_fiscale", "tessera.jpg", jpeg()),
        ("documenti_causa", "lettere.pdf", minimal_pdf()),
    ] {
        let res = d.upload(kind, name, bytes).await;
        let status = res.status();
        let body = res.text().await.unwrap();
        assert_eq!(status, 200, "{name}: {}", errors_in(&body));
    }
    d.step_ok("allegati", &[("signature_mode", "documento")], "riepilogo")
        .await;
}

/// The applicant of [`fill_until_attachments`]: Mario Rossi, born in Rome on 10 December 1985.
pub fn applicant_cf() -> String {
    person_cf("Rossi", "Mario", 1985, 12, 10, Sex::M)
}

/// Fills every step before the attachments of a draft filed by the applicant alone
/// ([`applicant_cf`]), checking that each is accepted.
pub async fn fill_until_attachments(d: &Draft<'_>, o: &Ordine) {
    let office = o.office.to_string();
    let lawyer = o.lawyer.to_string();
    let cf = applicant_cf();
    d.step_ok(
        "chi-presenta",
        &[
            ("filed_by", "richiedente"),
            ("matter", "famiglia"),
            ("judicial_office", &office),
        ],
        "richiedente",
    )
    .await;
    d.step_ok(
        "richiedente",
        &[
            ("kind", "persona"),
            ("surname", "Rossi"),
            ("given_name", "Mario"),
            ("sex", "M"),
            ("birth_date", "1985-12-10"),
            ("birth_place", "Roma"),
            ("codice_fiscale", &cf),
            ("citizenship", "italiana"),
            ("address", "Via Roma 1"),
            ("postcode", "00100"),
            ("city", "Vallenera"),
            ("email", "mario.rossi@example.it"),
            ("id_document", "Carta d'identità CA12345AB"),
            ("id_document_expiry", "2031-05-01"),
        ],
        "famiglia",
    )
    .await;
    d.step_ok("famiglia", &[("lives_alone", "1")], "redditi")
        .await;
    d.step_ok(
        "redditi",
        &[
            ("year", "2025"),
            ("person", "richiedente"),
            ("source_richiedente", "cu"),
            ("taxable_richiedente", "9.800,00"),
            ("has_exempt_richiedente", "no"),
            ("has_withholding_richiedente", "no"),
            ("has_substitute_richiedente", "si"),
            ("substitute_richiedente", "1.200"),
        ],
        "giudizio",
    )
    .await;
    d.step_ok(
        "giudizio",
        &[
            ("counterparty_name", "Verdi Carla"),
            ("counterparty_address", "Via Milano 2, Vallenera"),
            ("pending", "no"),
            ("facts", FACTS),
            (
                "law",
                "Artt. 337-bis e seguenti c.c.: diritto del figlio alla bigenitorialità.",
            ),
            (
                "evidence",
                "Lettere del 3 aprile e del 12 giugno 2025; testimone Gialli Paolo.",
            ),
        ],
        "avvocato",
    )
    .await;
    d.step_ok("avvocato", &[("lawyer_id", &lawyer)], "dichiarazioni")
        .await;
    d.step_ok(
        "dichiarazioni",
        &[
            ("truthful", "1"),
            ("undertaking", "1"),
            ("penalties", "1"),
            ("privacy", "1"),
        ],
        "allegati",
    )
    .await;
}

pub async fn review_token(d: &Draft<'_>) -> String {
    let (status, body) = d.get_text("riepilogo").await;
    assert_eq!(status, 200);
    between(&body, "name=\"token\" value=\"", "\"")
        .unwrap_or_else(|| panic!("no submit form: {}", errors_in(&body)))
        .to_owned()
}

#[tokio::test]
async fn the_whole_path_without_javascript() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    assert_eq!(d.code.len(), 9);
    assert_eq!(d.pin.len(), 9, "eight digits shown as 1234 5678");
    fill_complete(&d, &o).await;

    let (_, review) = d.get_text("riepilogo").await;
    assert!(review.contains("Mario Rossi"));
    assert!(
        review.contains("€ 11.000,00"),
        "income computed on the server"
    );
    assert!(review.contains("?torna=riepilogo"));
    let token = review_token(&d).await;
    let res = app
        .client
        .post(d.url("invia"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let receipt_url = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(receipt_url, format!("/vallenera/istanza/{}/ricevuta", d.id));

    let (status, receipt) = d.get_text("ricevuta").await;
    assert_eq!(status, 200);
    assert!(receipt.contains(&d.code));
    assert!(receipt.contains("Istanza presentata"));
    assert!(receipt.contains("alle ore"), "date and time, Europe/Rome");
    assert!(receipt.contains("Impronta SHA-256"));

    let pdf = app.client.get(d.url("ricevuta.pdf")).send().await.unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    assert!(
        pdf.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(pdf.bytes().await.unwrap().starts_with(b"%PDF-"));

    // Once submitted the steps cannot be changed any more.
    let res = d.post("richiedente", &[("surname", "Altro")]).await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/ricevuta")
    );

    // The status page, from anywhere, with code and PIN.
    let anon = reqwest::Client::new();
    let res = anon
        .post(app.url("/vallenera/istanza/stato"))
        .form(&[
            ("codice", d.code.to_lowercase().as_str()),
            ("pin", d.pin.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Presentata, in attesa di registrazione"));
    assert!(body.contains("Prossimo passo"));
}

#[tokio::test]
async fn the_filled_application_downloads_as_a_pdf_from_the_draft() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    fill_complete(&d, &o).await;
    let res = app.client.get(d.url("pdf")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
}

#[tokio::test]
async fn a_step_with_errors_keeps_every_value_and_explains_each_field() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    let res = d
        .post(
            "richiedente",
            &[
                ("kind", "persona"),
                ("surname", "D'Angelo"),
                ("given_name", "Lucía"),
                ("codice_fiscale", "DNGLCU85T50A562T"),
                ("address", "Via <Roma> 1"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("value=\"D'Angelo\""));
    assert!(body.contains("value=\"Lucía\""));
    assert!(
        body.contains("value=\"DNGLCU85T50A562T\""),
        "the wrong code is kept as typed"
    );
    assert!(
        body.contains("value=\"Via &lt;Roma&gt; 1\""),
        "escaped, not lost"
    );
    assert!(body.contains("id=\"riepilogo-errori\""));
    assert!(
        body.contains("href=\"#codice_fiscale\""),
        "the summary links to the field"
    );
    assert!(body.contains("Completare i dati anagrafici del richiedente"));
    assert!(body.contains("aria-invalid=\"true\""));

    // Leaving and coming back: still there.
    let (_, again) = d.get_text("richiedente").await;
    assert!(again.contains("value=\"DNGLCU85T50A562T\""));
}

#[tokio::test]
async fn matters_outside_the_ordine_are_redirected_with_the_explanation() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    let office = o.office.to_string();
    for (matter, words) in [
        (
            "penale",
            "all'ufficio del magistrato davanti al quale pende il processo (art. 93",
        ),
        (
            "amministrativo",
            "Commissione per il patrocinio a spese dello Stato istituita presso il giudice amministrativo",
        ),
        ("tributario", "Corte di giustizia tributaria (artt. 138-139"),
    ] {
        let res = d
            .post(
                "chi-presenta",
                &[
                    ("filed_by", "avvocato"),
                    ("matter", matter),
                    ("judicial_office", &office),
                ],
            )
            .await;
        assert_eq!(res.status(), 422, "{matter}");
        assert!(res.text().await.unwrap().contains(words), "{matter}");
    }
    let res = d
        .post(
            "chi-presenta",
            &[
                ("filed_by", "avvocato"),
                ("matter", "civile"),
                ("judicial_office", "altro"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("non è competente per l'ufficio giudiziario indicato")
    );
}

#[tokio::test]
async fn income_over_the_threshold_is_blocked_with_the_decree() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    d.step_ok("famiglia", &[("lives_alone", "1")], "redditi")
        .await;
    let res = d
        .post(
            "redditi",
            &[
                ("year", "2025"),
                ("person", "richiedente"),
                ("source_richiedente", "dichiarazione"),
                ("taxable_richiedente", "13.000"),
                ("has_exempt_richiedente", "si"),
                ("exempt_richiedente", "700,00"),
                ("has_withholding_richiedente", "no"),
                ("has_substitute_richiedente", "no"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains(
            "Il reddito complessivo dichiarato (€ 13.700,00) supera il limite di € 13.659,64"
        ),
        "{}",
        errors_in(&body)
    );
}

#[tokio::test]
async fn household_members_are_added_and_removed_without_javascript() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    let res = d.post("famiglia", &[("action", "aggiungi")]).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let member = between(&body, "name=\"member_id\" value=\"", "\"")
        .unwrap()
        .to_owned();
    let res = d
        .post(
            "famiglia",
            &[
                ("member_id", member.as_str()),
                ("member_surname", "Rossi"),
                ("member_given_name", "Anna"),
                ("member_codice_fiscale", "XXX"),
                ("member_relationship", "coniuge"),
                ("member_birth_date", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains(&format!("href=\"#member_{member}_codice_fiscale\"")));
    assert!(body.contains("value=\"Anna\""));
    // The member's income is asked for on the income step.
    let (_, income) = d.get_text("redditi").await;
    assert!(income.contains("Anna Rossi"));
    let res = d
        .post(
            "famiglia",
            &[
                ("member_id", member.as_str()),
                ("member_surname", "Rossi"),
                ("action", &format!("rimuovi:{member}")),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(!res.text().await.unwrap().contains("name=\"member_id\""));
}

#[tokio::test]
async fn another_device_needs_code_and_pin() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    d.step_ok("famiglia", &[("lives_alone", "1")], "redditi")
        .await;

    let other = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = other.get(d.url("famiglia")).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("inserire il codice dell'istanza e il PIN")
    );

    let res = other
        .post(app.url("/vallenera/istanza/riprendi"))
        .form(&[("codice", d.code.as_str()), ("pin", "0000 0000")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Codice o PIN non corretti")
    );

    let res = other
        .post(app.url("/vallenera/istanza/riprendi"))
        .form(&[
            ("codice", d.code.replace('-', " ").as_str()),
            ("pin", d.pin.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.ends_with("/chi-presenta"),
        "first step not yet done: {location}"
    );
    let res = other.get(d.url("famiglia")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text().await.unwrap().contains("checked"),
        "the other device sees the saved data"
    );
}

/// The upload card of a page: from its form to the list of documents after it.
fn upload_card(body: &str) -> &str {
    let id = body
        .find("id=\"carica-allegato\"")
        .expect("the upload card");
    let start = body[..id].rfind("<form").expect("the card's form");
    let end = body[start..].find("</form>").expect("the card's end") + start;
    &body[start..end]
}

#[tokio::test]
async fn uploads_refuse_what_is_not_allowed_and_keep_the_rest() {
    let app = spawn_app_with(|c| c.max_file_bytes = 1024 * 1024).await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    let res = d.upload("documento_identita", "carta.png", png()).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let card = upload_card(&body);
    assert!(
        card.contains("Documento «carta.png» caricato: è nell'elenco qui sotto."),
        "the outcome is in the upload card: {card}"
    );
    assert!(body.contains("<title>Documento caricato · Allegati e firma"));

    // Named like a PDF, but an executable: the format, and only the format.
    let res = d
        .upload(
            "documenti_causa",
            "contratto.pdf",
            b"MZ\x90\x00 this is not a pdf".to_vec(),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    let card = upload_card(&body);
    assert!(
        card.contains("Il file contratto.pdf non è in un formato ammesso: si possono caricare documenti PDF, immagini JPEG o PNG e file firmati digitalmente (.p7m)."),
        "{}",
        errors_in(&body)
    );
    assert!(!card.contains("dimensione massima"), "no word of the size");
    assert!(
        body.contains("carta.png"),
        "the earlier upload is still there"
    );

    // Too big: the size, with the limit, and nothing about the format.
    let mut big = minimal_pdf();
    big.resize(1024 * 1024 + 10, b' ');
    let res = d.upload("documenti_causa", "grande.pdf", big).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    let card = upload_card(&body);
    assert!(
        card.contains("Il file grande.pdf supera la dimensione massima di 1 MB per ciascun file."),
        "{}",
        errors_in(&body)
    );
    assert!(!card.contains("formato ammesso"), "no word of the format");
    assert!(body.contains("carta.png"));

    let res = d.upload("", "lettera.pdf", minimal_pdf()).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Scegliere il tipo di documento")
    );
}

#[tokio::test]
async fn a_refused_upload_answers_in_the_card_with_the_kind_still_chosen() {
    // Room for the PNG and the JPEG, not for the PDF on top of them.
    let total = (png().len() + jpeg().len() + minimal_pdf().len() / 2) as u64;
    let app = spawn_app_with(|c| c.max_application_bytes = total).await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    assert_eq!(
        d.upload("documento_identita", "carta.png", png())
            .await
            .status(),
        200
    );
    assert_eq!(
        d.upload("codice_fiscale", "tessera.jpg", jpeg())
            .await
            .status(),
        200
    );
    let res = d
        .upload("documenti_causa", "ricorso.pdf", minimal_pdf())
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    let card = upload_card(&body);
    // Without JavaScript the browser scrolls the answer to the card's outcome.
    assert!(
        card.contains("action=\"") && card.contains("/allegati/carica#esito-caricamento\""),
        "{card}"
    );
    assert!(card.contains("id=\"esito-caricamento\""));
    assert!(card.contains("role=\"alert\""));
    assert!(card.contains("tabindex=\"-1\""));
    assert!(card.contains("Il documento non è stato caricato."));
    assert!(
        card.contains(
            "Il file ricorso.pdf non è stato caricato: con questo file i documenti dell'istanza supererebbero il limite di 1 kB in tutto (già caricati: 1 kB)."
        ),
        "{card}"
    );
    assert!(!card.contains("formato ammesso"));
    assert!(!card.contains("dimensione massima"));
    // The kind chosen stays selected, the file's field is marked and described.
    assert!(
        card.contains("<option value=\"documenti_causa\" selected>"),
        "{card}"
    );
    assert!(card.contains("aria-describedby=\"file-errore\""));
    assert!(card.contains("aria-invalid=\"true\""));
    assert!(body.contains("<title>Errore: documento non caricato · Allegati e firma"));
    // Not repeated at the top of the page: the summary there is for the step's own fields.
    assert!(!body.contains("id=\"riepilogo-errori\""));
}

#[tokio::test]
async fn uploaded_files_download_only_for_their_device_with_their_name() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    let res = d
        .upload("documenti_causa", "ricorso è pronto.pdf", minimal_pdf())
        .await;
    let body = res.text().await.unwrap();
    let link = between(
        &body,
        &format!("href=\"{}/{}/allegati/", d.base, d.id),
        "\"",
    )
    .unwrap()
    .to_owned();
    let url = d.url(&format!("allegati/{link}"));
    let res = app.client.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        "attachment; filename=\"ricorso _ pronto.pdf\"; filename*=UTF-8''ricorso%20%C3%A8%20pronto%2Epdf"
    );
    assert_eq!(res.bytes().await.unwrap().to_vec(), minimal_pdf());
    let stranger = reqwest::Client::new();
    assert_eq!(stranger.get(&url).send().await.unwrap().status(), 403);
}

#[tokio::test]
async fn twenty_concurrent_submissions_submit_once() {
    // 21 submissions from one address within seconds: above the default hourly limit.
    let app = spawn_app_with(|c| c.rate_limits.submit = 100).await;
    let o = ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    fill_complete(&d, &o).await;
    let token = review_token(&d).await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let client = app.client.clone();
        let url = d.url("invia");
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            (
                res.status().as_u16(),
                res.headers()
                    .get("location")
                    .map(|l| l.to_str().unwrap().to_owned()),
            )
        }));
    }
    let mut locations = Vec::new();
    for t in tasks {
        let (status, location) = t.await.unwrap();
        assert_eq!(status, 303);
        locations.push(location.unwrap());
    }
    locations.dedup();
    assert_eq!(
        locations.len(),
        1,
        "the same receipt for all: {locations:?}"
    );

    let mut tx = app
        .db
        .tenant_tx(tenant_of(&app, "vallenera").await)
        .await
        .unwrap();
    let (applications, submitted, used): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM applications),
                (SELECT count(*) FROM applications WHERE state = 'presentata'),
                (SELECT count(*) FROM form_tokens WHERE used_at IS NOT NULL)",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    assert_eq!((applications, submitted, used), (1, 1, 1));

    // A retry after a lost response: the same receipt again.
    let res = app
        .client
        .post(d.url("invia"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"].to_str().unwrap(), locations[0]);
}

pub async fn tenant_of(app: &TestApp, slug: &str) -> TenantId {
    patrocinio::store::tenants::find_by_slug(&app.db, slug)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn incomplete_applications_cannot_be_submitted() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    let (status, body) = d.get_text("riepilogo").await;
    assert_eq!(status, 200);
    assert!(body.contains("Prima dell'invio occorre completare"));
    assert!(!body.contains("name=\"token\""));
    let res = app
        .client
        .post(d.url("invia"))
        .form(&[("token", Uuid::new_v4().to_string().as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn public_actions_are_rate_limited_per_address() {
    let app = spawn_app_with(|c| c.rate_limits.create = 2).await;
    ordine(&app, "vallenera").await;
    for _ in 0..2 {
        new_draft(&app, "vallenera").await;
    }
    let res = app
        .client
        .post(app.url("/vallenera/istanza/nuova"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body = res.text().await.unwrap();
    assert!(body.contains("Troppe richieste"));
    assert!(body.contains("<html lang=\"it\">"));
}

#[tokio::test]
async fn inline_validation_answers_with_the_field_message_only() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    let res = app
        .client
        .post(d.url("richiedente/verifica"))
        .header("HX-Request", "true")
        .header("X-Campo", "codice_fiscale")
        .form(&[("kind", "persona"), ("codice_fiscale", "RSSMRA85T10A562T")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.starts_with("<div id=\"codice_fiscale-errore\""),
        "{body}"
    );
    assert!(body.contains("data-hx-swap-oob=\"innerHTML\""));
    assert!(
        body.contains(
            "Il carattere di controllo del codice fiscale RSSMRA85T10A562T non è corretto"
        )
    );
    assert!(
        !body.contains("Completare i dati anagrafici"),
        "only the field that changed"
    );
    // And it was saved.
    let (_, page) = d.get_text("richiedente").await;
    assert!(page.contains("value=\"RSSMRA85T10A562T\""));

    // A change that names no message area is saved, and nothing is swapped: an out-of-band
    // fragment without a target on the page would be an htmx error.
    let res = app
        .client
        .post(d.url("richiedente/verifica"))
        .header("HX-Request", "true")
        .form(&[("kind", "persona"), ("surname", "Rossi")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.text().await.unwrap().is_empty());
    let (_, page) = d.get_text("richiedente").await;
    assert!(page.contains("value=\"Rossi\""));

    // The attachments step too, although `allegati/…` also names its documents.
    let res = app
        .client
        .post(d.url("allegati/verifica"))
        .header("HX-Request", "true")
        .header("X-Campo", "signature_mode")
        .form(&[("signature_mode", "documento")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .starts_with("<div id=\"signature_mode-errore\"")
    );
    let (_, page) = d.get_text("allegati").await;
    assert!(page.contains("value=\"documento\" checked"));
}

#[tokio::test]
async fn choosing_the_signature_mode_is_checked_and_saved_inline() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    // The attachments step's own URL (it once fell into the attachment routes: 405).
    // app.js names the group's message area (`signature_mode-errore`), read from the page.
    let choose = |mode: &'static str| {
        app.client
            .post(d.url("allegati/verifica"))
            .header("HX-Request", "true")
            .header("X-Campo", "signature_mode")
            .form(&[("signature_mode", mode)])
            .send()
    };
    let res = choose("autenticata").await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    // The answer fills the group's message area.
    assert!(
        body.starts_with("<div id=\"signature_mode-errore\""),
        "{body}"
    );
    assert!(body.contains("data-hx-swap-oob=\"innerHTML\""));
    assert!(
        body.contains("L&#39;autentica della firma è possibile solo")
            || body.contains("L'autentica della firma è possibile solo"),
        "V27: the applicant files alone: {body}"
    );
    let (_, page) = d.get_text("allegati").await;
    assert!(page.contains("value=\"autenticata\" checked"), "saved");

    let res = choose("documento").await.unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.starts_with("<div id=\"signature_mode-errore\""));
    assert!(!body.contains("campo-errore"), "nothing to correct: {body}");
    let (_, page) = d.get_text("allegati").await;
    assert!(page.contains("value=\"documento\" checked"), "saved");
}

pub async fn lawyer_draft<'a>(app: &'a TestApp, o: &Ordine) -> Draft<'a> {
    let d = new_draft(app, "vallenera").await;
    let office = o.office.to_string();
    let lawyer = o.lawyer.to_string();
    d.step_ok(
        "chi-presenta",
        &[
            ("filed_by", "avvocato"),
            ("matter", "civile"),
            ("judicial_office", &office),
        ],
        "richiedente",
    )
    .await;
    d.step_ok("avvocato", &[("lawyer_id", &lawyer)], "dichiarazioni")
        .await;
    let res = d
        .post("allegati", &[("signature_mode", "autenticata")])
        .await;
    // Other steps are still incomplete, so the review refuses, but the mode is saved.
    assert!(res.status() == 303 || res.status() == 422);
    d
}

#[tokio::test]
async fn a_p7m_signed_by_the_chosen_lawyer_is_verified_and_kept() {
    let app = spawn_app().await;
    crate::signing::trust(&app).await;
    let o = ordine(&app, "vallenera").await;
    let d = lawyer_draft(&app, &o).await;
    let content = d.application_pdf().await;
    let signed = crate::signing::Signer::new(LAWYER_CF).p7m(&content);
    let res = d.upload("istanza_firmata", "istanza.pdf.p7m", signed).await;
    let status = res.status();
    let body = res.text().await.unwrap();
    assert_eq!(status, 200, "{}", errors_in(&body));
    assert!(body.contains(&format!(
        "Firma CAdES qualificata: Firmatario di prova ({LAWYER_CF})"
    )));
    // The signed content is extracted and kept beside the envelope.
    let mut tx = app
        .db
        .tenant_tx(tenant_of(&app, "vallenera").await)
        .await
        .unwrap();
    let (key, sha): (String, String) = sqlx::query_as(
        "SELECT signature->'content'->>'storage_key', signature->'content'->>'sha256' FROM attachments",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(app.storage.get(&key).await.unwrap(), content);
    assert_eq!(sha, hex::encode(sha2::Sha256::digest(&content)));
    // No V28/V29 on the review page: the application file carries the lawyer's signature.
    let (_, review) = d.get_text("riepilogo").await;
    assert!(!review.contains("deve essere firmato digitalmente dal difensore"));
    assert!(!review.contains("non risulta valida"));
}

#[tokio::test]
async fn tampered_wrongly_signed_or_unsigned_application_files_are_refused_with_v29() {
    let app = spawn_app().await;
    crate::signing::trust(&app).await;
    let o = ordine(&app, "vallenera").await;
    let d = lawyer_draft(&app, &o).await;
    let v29 = "non risulta valida o il certificato è scaduto. Ricaricare il documento firmato correttamente.";

    let content = minimal_pdf();
    let signed = crate::signing::Signer::new(LAWYER_CF).p7m(&content);
    let res = d
        .upload(
            "istanza_firmata",
            "manomesso.pdf.p7m",
            crate::signing::tamper(&signed, &content),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains(&format!(
        "La firma digitale del file manomesso.pdf.p7m {v29}"
    )));

    let other = crate::signing::Signer::new("RSSMRA80A01H501U").p7m(&content);
    let res = d.upload("istanza_firmata", "altro.pdf.p7m", other).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains(&format!("La firma digitale del file altro.pdf.p7m {v29}")));
    assert!(body.contains("RSSMRA80A01H501U"), "says who signed it");
    assert!(body.contains("non dall'avv. Anna Bianchi"));

    // Not CMS at all: a plain PDF named .p7m is a PDF (content, not name), and unsigned.
    let res = d
        .upload("istanza_firmata", "finto.pdf.p7m", minimal_pdf())
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains(&format!("La firma digitale del file finto.pdf.p7m {v29}"))
    );

    // Nothing was kept.
    let (_, page) = d.get_text("allegati").await;
    assert!(page.contains("Nessun documento caricato."));
}

#[tokio::test]
async fn a_second_application_for_the_same_person_and_case_is_flagged() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let first = new_draft(&app, "vallenera").await;
    fill_complete(&first, &o).await;
    let token = review_token(&first).await;
    let res = app
        .client
        .post(first.url("invia"))
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    let second = new_draft(&app, "vallenera").await;
    fill_complete(&second, &o).await;
    let (_, page) = second.get_text("giudizio").await;
    assert!(page.contains(&format!(
        "Risulta già un'istanza per lo stesso richiedente e lo stesso procedimento (prot. {})",
        first.code
    )));
}

#[tokio::test]
async fn drafts_untouched_for_90_days_are_purged_with_their_files() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let old = new_draft(&app, "vallenera").await;
    old.upload("documento_identita", "carta.png", png()).await;
    let recent = new_draft(&app, "vallenera").await;
    let tenant = tenant_of(&app, "vallenera").await;

    let mut tx = app.db.tenant_tx(tenant).await.unwrap();
    let key: String = sqlx::query_scalar("SELECT storage_key FROM attachments")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    for (id, days) in [(&old.id, 91), (&recent.id, 89)] {
        sqlx::query("UPDATE applications SET updated_at = now() - make_interval(days => $2) WHERE id = $1::uuid")
            .bind(id)
            .bind(days)
            .execute(tx.conn())
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
    assert!(app.storage.get(&key).await.is_ok());

    let before =
        chrono::Utc::now() - chrono::Duration::days(patrocinio::jobs::DRAFT_RETENTION_DAYS);
    let purged = patrocinio::jobs::purge_stale_drafts(&app.db, &app.storage, before)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    assert!(
        app.storage.get(&key).await.is_err(),
        "the file went with the draft"
    );
    assert_eq!(old.get_text("famiglia").await.0, 404, "gone");
    assert_eq!(recent.get_text("famiglia").await.0, 200);
}
