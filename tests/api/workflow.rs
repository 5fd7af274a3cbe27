//! The case workflow over HTTP: intake and acquisition by code, the protocol (gapless under
//! concurrency and rollbacks, yearly in Rome time, immutable, cancelled by a new entry),
//! duplicates, assignment with a suggestion and conflicts, the examination page, the version
//! conflict.

use chrono::{TimeZone, Utc};
use patrocinio::{
    domain::access::Role,
    store::{
        audit,
        protocol::{self, Direction, NewEntry},
        tenants,
    },
};
use sqlx::{Connection, Executor, Row};
use uuid::Uuid;

use crate::{
    helpers::{LoggedIn, TestApp, TestUser, spawn_app},
    public_form::{Ordine, fill_complete, new_draft, ordine, review_token},
};

pub const SLUG: &str = "vallenera";

/// A complete application submitted over HTTP: (id, code).
pub async fn submitted(app: &TestApp, o: &Ordine) -> (Uuid, String) {
    let (id, code, _) = submitted_with_pin(app, o).await;
    (id, code)
}

/// The same, with the PIN: (id, code, PIN).
pub async fn submitted_with_pin(app: &TestApp, o: &Ordine) -> (Uuid, String, String) {
    let d = new_draft(app, SLUG).await;
    fill_complete(&d, o).await;
    let token = review_token(&d).await;
    let res = app
        .client
        .post(d.url("invia"))
        .form(&[("token", token.as_str()), ("warnings_confirmed", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    (
        Uuid::parse_str(&d.id).unwrap(),
        d.code.clone(),
        d.pin.clone(),
    )
}

/// `n` more submitted applications like `id` (new ids and codes; another counterparty, so
/// that they are not duplicates of each other), made directly in the database.
pub async fn copies(app: &TestApp, id: Uuid, n: usize) -> Vec<Uuid> {
    copies_on(&mut app.admin_connection().await, id, n).await
}

/// [`copies`] through an administrator's connection to the test's database.
pub async fn copies_on(conn: &mut sqlx::PgConnection, id: Uuid, n: usize) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for i in 0..n {
        let new = Uuid::new_v4();
        conn.execute(
            sqlx::query(
                "INSERT INTO app.applications (id, tenant_id, code, pin_hash, state, channel, form,
                     matter, filed_by, applicant_name, applicant_cf, counterparty_name, rg_number,
                     judicial_office_id, lawyer_id, applicant_email, income_total_cents,
                     threshold_cents, submitted_at)
                 SELECT $2, tenant_id, $3, pin_hash, state, channel, form, matter, filed_by,
                     applicant_name, applicant_cf, $4, rg_number, judicial_office_id, lawyer_id,
                     applicant_email, income_total_cents, threshold_cents, submitted_at
                 FROM app.applications WHERE id = $1",
            )
            .bind(id)
            .bind(new)
            .bind(format!("{:04}-{:04}", 1000 + i, 2000 + i))
            .bind(format!("Controparte {i}")),
        )
        .await
        .unwrap();
        ids.push(new);
    }
    ids
}

pub struct Office {
    pub o: Ordine,
    pub secretariat: TestUser,
    pub councillors: Vec<TestUser>,
}

pub async fn office(app: &TestApp) -> Office {
    let o = ordine(app, SLUG).await;
    let secretariat = app
        .user(
            SLUG,
            "segreteria@ordine.example.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;
    let mut councillors = Vec::new();
    for name in ["rossi", "verdi"] {
        councillors.push(
            app.user(
                SLUG,
                &format!("{name}@ordine.example.it"),
                &[Role::Consigliere],
                true,
                None,
            )
            .await,
        );
    }
    Office {
        o,
        secretariat,
        councillors,
    }
}

pub fn between<'b>(body: &'b str, start: &str, end: &str) -> Option<&'b str> {
    let from = body.find(start)? + start.len();
    let len = body[from..].find(end)?;
    Some(&body[from..from + len])
}

pub fn version_of(body: &str) -> String {
    between(body, "name=\"versione\" value=\"", "\"")
        .expect("a form with the version")
        .to_owned()
}

impl LoggedIn {
    pub async fn page(&self, app: &TestApp, path: &str) -> (u16, String) {
        let res = self.client.get(app.url(path)).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    pub async fn post(
        &self,
        app: &TestApp,
        path: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut form: Vec<(&str, &str)> = vec![("_csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.client
            .post(app.url(path))
            .form(&form)
            .send()
            .await
            .unwrap()
    }
}

pub fn case_path(area: &str, id: Uuid) -> String {
    format!("/{SLUG}/{area}/pratiche/{id}")
}

/// Registers an application over HTTP and returns its protocol number as shown.
pub async fn register(app: &TestApp, seg: &LoggedIn, id: Uuid) -> String {
    let (_, page) = seg.page(app, &case_path("segreteria", id)).await;
    let v = version_of(&page);
    let res = seg
        .post(
            app,
            &format!("{}/protocolla", case_path("segreteria", id)),
            &[("versione", &v)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, page) = seg.page(app, &case_path("segreteria", id)).await;
    between(&page, "<h1>Pratica ", " ")
        .expect("a protocol number")
        .to_owned()
}

#[tokio::test]
async fn intake_registration_assignment_and_examination() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, code) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;

    // The new filing is on the intake board.
    let (status, board) = seg.page(&app, &format!("/{SLUG}/segreteria")).await;
    assert_eq!(status, 200);
    assert!(board.contains("Nuove istanze da registrare"));
    assert!(board.contains(&format!("pratica-{id}")));
    assert!(board.contains("Mario Rossi"));

    // Acquisition by code, typed loosely (lowercase, no dash, spaces).
    let loose = format!(" {} ", code.replace('-', "").to_lowercase());
    let res = seg
        .post(
            &app,
            &format!("/{SLUG}/segreteria/acquisisci"),
            &[("codice", &loose)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        case_path("segreteria", id).as_str()
    );

    // The examination page: everything on one screen.
    let (status, page) = seg.page(&app, &case_path("segreteria", id)).await;
    assert_eq!(status, 200);
    for expected in [
        "Mario Rossi",
        "Il richiedente dichiara di vivere da solo.",
        "Redditi dell'anno 2025",
        "€ 11.000,00",
        "Tribunale di Vallenera",
        "Verdi Carla",
        "Avv. Bianchi Anna",
        "istanza firmata.png",
        "Senza firma digitale",
        "Istanza presentata",
        "Registra nel protocollo",
    ] {
        assert!(page.contains(expected), "case page lacks {expected}");
    }
    assert!(!page.contains("Possibile istanza doppia"));

    // Registration: back on the case page, which says so once.
    let v = version_of(&page);
    let res = seg
        .post(
            &app,
            &format!("{}/protocolla", case_path("segreteria", id)),
            &[("versione", &v)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        case_path("segreteria", id).as_str(),
        "nothing in the URL that a reload would repeat"
    );
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    assert!(page.contains("Istanza registrata nel protocollo."));
    let number = between(&page, "<h1>Pratica ", " ").unwrap().to_owned();
    let year = patrocinio::domain::protocol::year_of(Utc::now());
    assert_eq!(number, format!("{year}/0000001"));
    assert!(
        page.contains("mancano 10 giorni"),
        "the ten-day clock starts"
    );
    assert!(page.contains("SHA-256 dei documenti"));
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    assert!(
        !page.contains("Istanza registrata nel protocollo."),
        "the notice does not survive a reload"
    );

    // The protocol register shows it with the documents' fingerprint.
    let (_, reg) = seg
        .page(&app, &format!("/{SLUG}/segreteria/protocollo"))
        .await;
    assert!(reg.contains(&number));
    assert!(reg.contains(&code));

    // Assignment: the suggestion is the councillor with the least open work (both have none:
    // by name), and nobody else sees the case until then.
    let rossi = app.login(&of.councillors[0]).await;
    let (status, _) = rossi.page(&app, &case_path("consiglieri", id)).await;
    assert_eq!(status, 404, "not assigned yet");
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    let rossi_id = of.councillors[0].id.to_string();
    assert!(
        page.contains(&format!("value=\"{rossi_id}\" selected")),
        "suggested"
    );
    assert!(page.contains("(suggerito)"));
    let v = version_of(&page);
    let res = seg
        .post(
            &app,
            &format!("{}/assegna", case_path("segreteria", id)),
            &[("versione", &v), ("relatore", &rossi_id)],
        )
        .await;
    assert_eq!(res.status(), 303);

    // The councillor has it in their area, with the clock, and opens it.
    let (_, area) = rossi.page(&app, &format!("/{SLUG}/consiglieri")).await;
    assert!(area.contains(&number));
    assert!(area.contains("mancano 10 giorni"));
    let (status, page) = rossi.page(&app, &case_path("consiglieri", id)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Assegnata al consigliere relatore"));
    // Uploaded PDFs are downloaded, never shown in our pages' origin; images are shown, in a
    // sandbox.
    let prefix = format!("{}/allegati/", case_path("consiglieri", id));
    let mut kinds = Vec::new();
    for link in page.split(&format!("href=\"{prefix}")).skip(1) {
        let attachment = link.split('"').next().unwrap();
        let res = rossi
            .client
            .get(app.url(&format!("{prefix}{attachment}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let h = res.headers();
        let (ty, disposition, csp) = (
            h["content-type"].to_str().unwrap().to_owned(),
            h["content-disposition"].to_str().unwrap().to_owned(),
            h["content-security-policy"].to_str().unwrap().to_owned(),
        );
        if ty.starts_with("image/") {
            assert!(
                disposition.starts_with("inline") && csp.ends_with("; sandbox"),
                "{ty}: {disposition} {csp}"
            );
        } else {
            assert!(disposition.starts_with("attachment"), "{ty}: {disposition}");
        }
        kinds.push(ty);
    }
    assert!(
        kinds.iter().any(|k| k == "application/pdf")
            && kinds.iter().any(|k| k.starts_with("image/")),
        "{kinds:?}"
    );
    // The other councillor does not see it.
    let verdi = app.login(&of.councillors[1]).await;
    assert_eq!(verdi.page(&app, &case_path("consiglieri", id)).await.0, 404);

    // Reassignment needs a reason.
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    let v = version_of(&page);
    let verdi_id = of.councillors[1].id.to_string();
    let res = seg
        .post(
            &app,
            &format!("{}/assegna", case_path("segreteria", id)),
            &[("versione", &v), ("relatore", &verdi_id)],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Indicare il motivo della riassegnazione")
    );
    let res = seg
        .post(
            &app,
            &format!("{}/assegna", case_path("segreteria", id)),
            &[
                ("versione", &v),
                ("relatore", &verdi_id),
                ("motivo", "Astensione del relatore"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(verdi.page(&app, &case_path("consiglieri", id)).await.0, 200);
    assert_eq!(rossi.page(&app, &case_path("consiglieri", id)).await.0, 404);

    // Every transition wrote its event, audit entry and outbox rows in its transaction.
    let mut conn = app.admin_connection().await;
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT kind FROM app.events WHERE application_id = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        kinds,
        ["presentata", "protocollata", "assegnata", "riassegnata"]
    );
    let audited: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM app.audit_log WHERE target_id = $1 AND action LIKE 'pratica.%' ORDER BY seq",
    )
    .bind(id.to_string())
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for a in [
        "pratica.protocollata",
        "pratica.assegnata",
        "pratica.riassegnata",
        "pratica.consultata",
    ] {
        assert!(
            audited.iter().any(|x| x == a),
            "audit lacks {a}: {audited:?}"
        );
    }
    let mail: Vec<(String, String)> =
        sqlx::query_as("SELECT recipient, template FROM app.outbox ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(mail.contains(&(
        "anna.bianchi@pec.avvocati.example.it".into(),
        "protocollata".into()
    )));
    assert!(mail.contains(&("mario.rossi@example.it".into(), "protocollata".into())));
    assert!(mail.contains(&("rossi@ordine.example.it".into(), "assegnata".into())));
    assert!(mail.contains(&("verdi@ordine.example.it".into(), "riassegnata".into())));
}

#[tokio::test]
async fn acquisition_by_code_explains_every_mistake_and_keeps_the_code() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let draft = new_draft(&app, SLUG).await;
    let seg = app.login(&of.secretariat).await;
    let url = format!("/{SLUG}/segreteria/acquisisci");
    for (typed, message) in [
        ("12-34", "Il codice non è valido"),
        (
            "ZZZZ-ZZZZ",
            "Nessuna istanza di questo Ordine ha questo codice",
        ),
        (draft.code.as_str(), "non è stata ancora inviata"),
    ] {
        let res = seg.post(&app, &url, &[("codice", typed)]).await;
        assert_eq!(res.status(), 422, "{typed}");
        let body = res.text().await.unwrap();
        assert!(body.contains(message), "{typed}: {message}");
        assert!(
            body.contains(&format!("value=\"{typed}\"")),
            "the typed code is kept"
        );
    }
}

#[tokio::test]
async fn a_stale_form_gets_a_409_that_names_the_change_and_keeps_the_text() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let other = app
        .user(
            SLUG,
            "collega@ordine.example.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;
    let first = app.login(&of.secretariat).await;
    let second = app.login(&other).await;
    // Both open the case; the second registers it first.
    let (_, page) = first.page(&app, &case_path("segreteria", id)).await;
    let seen = version_of(&page);
    register(&app, &second, id).await;
    let res = first
        .post(
            &app,
            &format!("{}/protocolla", case_path("segreteria", id)),
            &[
                ("versione", &seen),
                ("urgente", "si"),
                ("motivo_urgenza", "Udienza cautelare imminente"),
            ],
        )
        .await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Utente collega@ordine.example.it (segreteria)"),
        "who changed it"
    );
    assert!(body.contains("Registrata nel protocollo"), "what they did");
    assert!(
        body.contains("Udienza cautelare imminente"),
        "what was typed is kept"
    );
    // Nothing was overwritten: one registration, not urgent.
    let mut conn = app.admin_connection().await;
    let (n, urgent): (i64, bool) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM app.protocol_entries), urgent FROM app.applications WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((n, urgent), (1, false));
}

#[tokio::test]
async fn fifty_concurrent_registrations_with_rollbacks_give_exactly_one_to_n() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (first, _) = submitted(&app, &of.o).await;
    let mut ids = vec![first];
    ids.extend(copies(&app, first, 49).await);
    // Every fifth registration fails after taking its number: the transaction rolls back.
    let doomed: Vec<Uuid> = ids.iter().copied().step_by(5).collect();
    let mut conn = app.admin_connection().await;
    conn.execute(
        "CREATE FUNCTION app.test_doom() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.protocol_number IS NOT NULL AND NEW.id IN (SELECT id FROM app.test_doomed) THEN
                 RAISE EXCEPTION 'forced rollback';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TABLE app.test_doomed (id uuid);
         GRANT SELECT ON app.test_doomed TO patrocinio_app;
         CREATE TRIGGER test_doom BEFORE UPDATE ON app.applications
             FOR EACH ROW EXECUTE FUNCTION app.test_doom();",
    )
    .await
    .unwrap();
    for d in &doomed {
        sqlx::query("INSERT INTO app.test_doomed VALUES ($1)")
            .bind(d)
            .execute(&mut conn)
            .await
            .unwrap();
    }
    let seg = app.login(&of.secretariat).await;
    // Each client loads its page first (the version), then all post at once.
    let mut versions = Vec::new();
    for id in &ids {
        let (_, page) = seg.page(&app, &case_path("segreteria", *id)).await;
        versions.push(version_of(&page));
    }
    let mut posts = tokio::task::JoinSet::new();
    for (id, v) in ids.iter().zip(versions) {
        let client = seg.client.clone();
        let url = app.url(&format!("{}/protocolla", case_path("segreteria", *id)));
        let form = [("_csrf", seg.csrf.clone()), ("versione", v)];
        posts.spawn(async move {
            client
                .post(url)
                .form(&form)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        });
    }
    let statuses = posts.join_all().await;
    let ok = statuses.iter().filter(|s| **s == 303).count();
    let failed = statuses.iter().filter(|s| **s == 500).count();
    assert_eq!((ok, failed), (40, 10), "{statuses:?}");
    let numbers: Vec<i32> =
        sqlx::query_scalar("SELECT number FROM app.protocol_entries ORDER BY number")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        numbers,
        (1..=40).collect::<Vec<i32>>(),
        "gapless, no duplicates"
    );
    let registered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.applications WHERE protocol_number IS NOT NULL AND state = 'protocollata'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(registered, 40);
    let doomed_registered: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.applications WHERE id IN (SELECT id FROM app.test_doomed) AND state <> 'presentata'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        doomed_registered, 0,
        "a rolled-back registration leaves nothing behind"
    );
}

#[tokio::test]
async fn the_series_restarts_at_midnight_in_rome_and_entries_never_change() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant(SLUG, tenants::TenantSettings::default())
        .await;
    let by = audit::Actor::anonymous("test");
    let entry = |subject: &str| NewEntry {
        direction: Direction::Incoming,
        kind: "istanza",
        channel: "portale",
        application: None,
        subject: subject.to_owned(),
        documents: Vec::new(),
        by: &by,
    };
    let rome = chrono_tz::Europe::Rome;
    let last = rome
        .with_ymd_and_hms(2026, 12, 31, 23, 59, 59)
        .unwrap()
        .with_timezone(&Utc);
    let first = rome
        .with_ymd_and_hms(2027, 1, 1, 0, 0, 1)
        .unwrap()
        .with_timezone(&Utc);
    let mut tx = app.db.tenant_tx(tenant.id).await.unwrap();
    let a = protocol::register(&mut tx, &entry("a"), &move || last)
        .await
        .unwrap();
    let b = protocol::register(&mut tx, &entry("b"), &move || last)
        .await
        .unwrap();
    let c = protocol::register(&mut tx, &entry("c"), &move || first)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((a.year, a.number), (2026, 1));
    assert_eq!((b.year, b.number), (2026, 2));
    assert_eq!(
        (c.year, c.number),
        (2027, 1),
        "1 January in Rome is 31 December in UTC"
    );
    assert_eq!(c.number().to_string(), "2027/0000001");

    // No role may change or remove an entry: not the service, not the owner, not a superuser.
    let mut conn = app.admin_connection().await;
    for statement in [
        "UPDATE app.protocol_entries SET subject = 'x'",
        "DELETE FROM app.protocol_entries",
        "TRUNCATE app.protocol_entries CASCADE",
    ] {
        for role in [Some("patrocinio_app"), Some("patrocinio_owner"), None] {
            let mut tx = conn.begin().await.unwrap();
            if let Some(role) = role {
                tx.execute(format!("SET LOCAL ROLE {role}").as_str())
                    .await
                    .unwrap();
            }
            tx.execute(
                format!("SELECT set_config('app.tenant_id', '{}', true)", tenant.id).as_str(),
            )
            .await
            .unwrap();
            let err = tx.execute(statement).await.expect_err(statement);
            assert!(
                err.to_string().contains("non si modificano")
                    || err.to_string().contains("permission denied"),
                "{role:?}: {statement}: {err}"
            );
            tx.rollback().await.unwrap();
        }
    }
    let count: i64 = conn
        .fetch_one("SELECT count(*) FROM app.protocol_entries")
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 3);
}

#[tokio::test]
async fn a_registration_is_cancelled_by_a_new_entry_and_the_application_can_be_registered_again() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    let first = register(&app, &seg, id).await;
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    let v = version_of(&page);
    let url = format!("{}/annulla-protocollo", case_path("segreteria", id));
    let res = seg
        .post(&app, &url, &[("versione", &v), ("motivo", "no")])
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Indicare il motivo dell'annullamento")
    );
    let res = seg
        .post(
            &app,
            &url,
            &[
                ("versione", &v),
                ("motivo", "Registrata due volte per errore"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, reg) = seg
        .page(&app, &format!("/{SLUG}/segreteria/protocollo"))
        .await;
    assert!(
        reg.contains("annullata (n. "),
        "the original is shown cancelled"
    );
    assert!(reg.contains("Annullamento della registrazione n. "));
    assert!(reg.contains("Registrata due volte per errore"));
    // Back among the filings to register; the next registration takes the next number.
    let (_, board) = seg.page(&app, &format!("/{SLUG}/segreteria")).await;
    let intake = between(&board, "id=\"da-acquisire\"", "id=\"in-corso\"").unwrap();
    assert!(intake.contains(&format!("pratica-{id}")));
    let again = register(&app, &seg, id).await;
    assert_eq!(first.split('/').nth(1), Some("0000001"));
    assert_eq!(again.split('/').nth(1), Some("0000003"));
}

#[tokio::test]
async fn duplicates_and_conflicts_are_flagged_at_intake_and_assignment() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, code) = submitted(&app, &of.o).await;
    // The same applicant, the same counterparty: a second application.
    let (second, _) = submitted(&app, &of.o).await;
    // A councillor who is the chosen lawyer.
    let conflicted = app
        .user(
            SLUG,
            "bianchi@ordine.example.it",
            &[Role::Consigliere],
            true,
            Some(of.o.lawyer),
        )
        .await;
    let seg = app.login(&of.secretariat).await;
    let (_, page) = seg.page(&app, &case_path("segreteria", second)).await;
    assert!(page.contains("Possibile istanza doppia"));
    assert!(page.contains(&format!("href=\"{id}\"")));
    assert!(page.contains(&format!("Istanza {code}")));

    register(&app, &seg, second).await;
    let (_, page) = seg.page(&app, &case_path("segreteria", second)).await;
    assert!(
        page.contains("in conflitto: è l&#39;avvocato indicato nell&#39;istanza")
            || page.contains("in conflitto: è l'avvocato indicato nell'istanza")
    );
    let v = version_of(&page);
    let res = seg
        .post(
            &app,
            &format!("{}/assegna", case_path("segreteria", second)),
            &[("versione", &v), ("relatore", &conflicted.id.to_string())],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("non può essere relatore di questa pratica")
    );
}

#[tokio::test]
async fn paper_applications_are_keyed_in_with_their_channel() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let seg = app.login(&of.secretariat).await;
    let res = seg
        .post(
            &app,
            &format!("/{SLUG}/segreteria/sportello"),
            &[("canale", "posta")],
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let code = between(&body, "id=\"codice-istanza\">", "<").unwrap();
    let mut conn = app.admin_connection().await;
    let (channel, by): (String, Option<Uuid>) =
        sqlx::query_as("SELECT channel, filed_by_user FROM app.applications WHERE code = $1")
            .bind(code)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((channel.as_str(), by), ("posta", Some(of.secretariat.id)));
}

/// Registers the application and assigns it to `councillor`.
pub async fn register_and_assign(app: &TestApp, seg: &LoggedIn, id: Uuid, councillor: Uuid) {
    register(app, seg, id).await;
    let (_, page) = seg.page(app, &case_path("segreteria", id)).await;
    let v = version_of(&page);
    let res = seg
        .post(
            app,
            &format!("{}/assegna", case_path("segreteria", id)),
            &[("versione", &v), ("relatore", &councillor.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);
}

/// Registered and assigned to the first councillor: the secretariat and the councillor,
/// logged in (a TOTP code is accepted once, so each logs in once per test).
pub async fn in_examination(app: &TestApp, of: &Office, id: Uuid) -> (LoggedIn, LoggedIn) {
    let seg = app.login(&of.secretariat).await;
    register_and_assign(app, &seg, id, of.councillors[0].id).await;
    (seg, app.login(&of.councillors[0]).await)
}

/// The rapporteur asks for two documents and one clarification.
pub async fn ask(app: &TestApp, rel: &LoggedIn, id: Uuid) {
    let (_, page) = rel.page(app, &case_path("consiglieri", id)).await;
    assert!(
        page.contains("Richiedi un&#39;integrazione") || page.contains("Richiedi un'integrazione")
    );
    let v = version_of(&page);
    let url = format!("{}/integrazione", case_path("consiglieri", id));
    // Nothing ticked: refused, the note kept.
    let res = rel
        .post(app, &url, &[("versione", &v), ("nota", "Grazie")])
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Indicare almeno un documento mancante o una domanda da porre."));
    assert!(body.contains(">Grazie</textarea>"));
    let res = rel
        .post(
            app,
            &url,
            &[
                ("versione", &v),
                ("documenti", "redditi"),
                ("documenti", "stato_famiglia"),
                ("domande", "Chi è il secondo figlio indicato nelle lettere?"),
                ("scadenza", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
}

/// An integration answer as the browser sends it (the session's CSRF token first, in an area).
pub fn multipart_answer(
    csrf: Option<&str>,
    version: &str,
    files: &[(&str, &str)],
    answer: Option<&str>,
) -> reqwest::multipart::Form {
    let mut form = reqwest::multipart::Form::new();
    if let Some(token) = csrf {
        form = form.text("_csrf", token.to_owned());
    }
    let mut form = form.text("versione", version.to_owned());
    for (field, name) in files {
        form = form.part(
            field.to_string(),
            reqwest::multipart::Part::bytes(crate::public_form::minimal_pdf())
                .file_name(name.to_string()),
        );
    }
    if let Some(a) = answer {
        form = form.text("risposta_0", a.to_owned());
    }
    form
}

#[tokio::test]
async fn an_integration_request_answered_by_the_lawyer() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let (_, rel) = in_examination(&app, &of, id).await;
    ask(&app, &rel, id).await;
    let (_, page) = rel.page(&app, &case_path("consiglieri", id)).await;
    assert!(page.contains("Integrazione richiesta"));
    assert!(page.contains("Chi è il secondo figlio indicato nelle lettere?"));

    let lawyer = app
        .user(
            SLUG,
            "anna.bianchi@avvocati.example.it",
            &[Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let avv = app.login(&lawyer).await;
    let (_, page) = avv.page(&app, &format!("/{SLUG}/avvocati")).await;
    assert!(
        page.contains(&format!("pratica-{id}")),
        "the lawyer's area lists it"
    );
    let (status, page) = avv.page(&app, &case_path("avvocati", id)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Rispondi alla richiesta di integrazione"));
    let v = version_of(&page);
    let url = app.url(&format!("{}/integrazione", case_path("avvocati", id)));

    // Only one of the two documents, no reply: refused, the document sent is kept.
    let res = avv
        .client
        .post(&url)
        .multipart(multipart_answer(
            Some(&avv.csrf),
            &v,
            &[("file_redditi", "cu-2025.pdf")],
            None,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Manca il documento richiesto: Stato di famiglia o autocertificazione."));
    assert!(
        body.contains(
            "Rispondere alla domanda: «Chi è il secondo figlio indicato nelle lettere?»."
        )
    );
    assert!(body.contains("Già inviato"), "nothing sent is lost");

    let res = avv
        .client
        .post(&url)
        .multipart(multipart_answer(
            Some(&avv.csrf),
            &v,
            &[("file_stato_famiglia", "stato di famiglia.pdf")],
            Some("Luca Rossi, nato nel 2015"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // The lawyer's case page says it once, and not again after a reload.
    assert_eq!(
        res.headers()["location"],
        case_path("avvocati", id).as_str()
    );
    let (_, page) = avv.page(&app, &case_path("avvocati", id)).await;
    assert!(page.contains("Integrazione inviata"));
    let (_, page) = avv.page(&app, &case_path("avvocati", id)).await;
    assert!(
        !page.contains("Integrazione inviata"),
        "a stale notice after a reload"
    );

    // The rapporteur sees what changed since the request.
    let (_, page) = rel.page(&app, &case_path("consiglieri", id)).await;
    assert!(page.contains("In esame presso il consigliere relatore"));
    assert!(page.contains("Integrazione ricevuta"));
    let section = between(&page, "id=\"integrazioni\"", "id=\"storia\"").unwrap();
    assert!(section.contains("cu-2025.pdf"));
    assert!(section.contains("stato di famiglia.pdf"));
    assert!(section.contains("Luca Rossi, nato nel 2015"));
    let mut conn = app.admin_connection().await;
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT direction || ' ' || kind FROM app.protocol_entries ORDER BY number",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        [
            "entrata istanza",
            "uscita integrazione",
            "entrata integrazione"
        ],
        "the request leaves and the answer arrives registered in the protocol"
    );
    let (recipients, sha): (serde_json::Value, String) = sqlx::query_as(
        "SELECT recipients, documents->0->>'sha256' FROM app.protocol_entries
          WHERE direction = 'uscita'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let kinds: Vec<&str> = recipients
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"avvocato"), "{recipients}");
    assert_eq!(sha.len(), 64);
    let mail: Vec<String> = sqlx::query_scalar(
        "SELECT recipient FROM app.outbox WHERE template = 'integrazione_ricevuta' ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    // The rapporteur and the secretariat hear of it.
    assert_eq!(
        mail,
        ["rossi@ordine.example.it", "segreteria@ordine.example.it"]
    );
}

#[tokio::test]
async fn the_applicant_answers_from_the_status_page_and_an_expired_deadline_is_flagged() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, code, pin) = submitted_with_pin(&app, &of.o).await;
    let (_, rel) = in_examination(&app, &of, id).await;
    ask(&app, &rel, id).await;

    // The deadline passes: V39 on the rapporteur's page.
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.integration_requests SET due_on = current_date - 1, requested_at = now() - interval '20 days'")
        .execute(&mut conn)
        .await
        .unwrap();
    let (_, page) = rel.page(&app, &case_path("consiglieri", id)).await;
    assert!(page.contains("è scaduto il"), "V39");
    assert!(page.contains("art. 79, comma 3"));

    // Another device: code and PIN on the status page open the answer.
    let phone = crate::helpers::new_client();
    let res = phone
        .post(app.url(&format!("/{SLUG}/istanza/stato")))
        .form(&[("codice", code.as_str()), ("pin", pin.as_str())])
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(body.contains("Integrazione richiesta"));
    let answer_url = app.url(&format!("/{SLUG}/istanza/{id}/integrazione"));
    assert!(body.contains(&format!("/{SLUG}/istanza/{id}/integrazione")));
    let page = phone
        .get(&answer_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Rispondi alla richiesta di integrazione"));
    let v = version_of(&page);
    let res = phone
        .post(&answer_url)
        .multipart(multipart_answer(
            None,
            &v,
            &[
                ("file_redditi", "cu.pdf"),
                ("file_stato_famiglia", "famiglia.pdf"),
            ],
            Some("Mio figlio Luca"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Integrazione inviata e registrata nel protocollo")
    );
    let (_, page) = rel.page(&app, &case_path("consiglieri", id)).await;
    assert!(page.contains("oltre il termine"), "a late answer is marked");
    assert!(page.contains("Richiedente (codice e PIN)"));
    // A device without code and PIN cannot answer.
    let stranger = crate::helpers::new_client();
    let res = stranger.get(&answer_url).send().await.unwrap();
    assert_ne!(res.status(), 200);
}

/// The rapporteur's proposal (or decision, with council sessions off).
pub async fn propose(
    app: &TestApp,
    rel: &LoggedIn,
    id: Uuid,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let (_, page) = rel.page(app, &case_path("consiglieri", id)).await;
    let v = version_of(&page);
    let mut form = vec![("versione", v.as_str())];
    form.extend_from_slice(fields);
    rel.post(
        app,
        &format!("{}/proposta", case_path("consiglieri", id)),
        &form,
    )
    .await
}

pub fn pdf_text(bytes: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("d.pdf");
    std::fs::write(&path, bytes).unwrap();
    let out = std::process::Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn without_council_sessions_the_rapporteur_decides_with_a_numbered_delibera() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let (seg, rel) = in_examination(&app, &of, id).await;
    let (_, page) = rel.page(&app, &case_path("consiglieri", id)).await;
    assert!(page.contains("Adotta la decisione"));

    // No outcome: said, and the reasons typed are kept.
    let res = propose(
        &app,
        &rel,
        id,
        &[("motivazione", "Reddito verificato sulla CU 2025.")],
    )
    .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Scegliere l&#39;esito proposto")
            || body.contains("Scegliere l'esito proposto")
    );
    assert!(body.contains("Reddito verificato sulla CU 2025."));

    let res = propose(
        &app,
        &rel,
        id,
        &[
            ("esito", "ammissione"),
            ("modello", "requisiti"),
            ("motivazione", "Reddito verificato sulla CU 2025."),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let year = patrocinio::domain::protocol::year_of(Utc::now());
    let (_, page) = rel.page(&app, &case_path("consiglieri", id)).await;
    assert!(page.contains("Ammessa in via anticipata e provvisoria"));
    assert!(page.contains(&format!("Delibera n. 1/{year}")));
    assert!(page.contains("In attesa della firma di Utente rossi@ordine.example.it"));

    let res = rel
        .client
        .get(app.url(&format!("{}/delibera.pdf", case_path("consiglieri", id))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let pdf = res.bytes().await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    for expected in [
        &format!("Delibera n. 1/{year}") as &str,
        "AMMETTE Mario Rossi in via anticipata e provvisoria",
        "pari a € 11.000,00, non supera il limite di € 13.659,64",
        "Reddito verificato sulla CU 2025.",
        "Tribunale di Vallenera",
        "Il Consigliere relatore",
        "Agenzia delle Entrate",
    ] {
        assert!(
            text.contains(expected),
            "the delibera lacks {expected}: {text}"
        );
    }
    let mut conn = app.admin_connection().await;
    let sha: String =
        sqlx::query_scalar("SELECT pdf_sha256 FROM app.decisions WHERE application_id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    use sha2::Digest;
    assert_eq!(
        sha,
        hex::encode(sha2::Sha256::digest(&pdf)),
        "the stored PDF is the one served"
    );

    // The lawyer downloads it from their area; the parties are told.
    let lawyer = app
        .user(
            SLUG,
            "anna.bianchi@avvocati.example.it",
            &[Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let avv = app.login(&lawyer).await;
    let res = avv
        .client
        .get(app.url(&format!("{}/delibera.pdf", case_path("avvocati", id))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap(), pdf);
    let sent: i64 =
        sqlx::query_scalar("SELECT count(*) FROM app.outbox WHERE template = 'deliberata'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(sent, 2, "lawyer and applicant");

    // A second decision: a rejection, with the number that follows.
    let (second, _) = submitted(&app, &of.o).await;
    register_and_assign(&app, &seg, second, of.councillors[0].id).await;
    let res = propose(
        &app,
        &rel,
        second,
        &[("esito", "rigetto"), ("modello", "infondatezza")],
    )
    .await;
    assert_eq!(
        res.status(),
        422,
        "this model needs the reasons written out"
    );
    let res = propose(
        &app,
        &rel,
        second,
        &[
            ("esito", "rigetto"),
            ("modello", "infondatezza"),
            ("motivazione", "Il diritto azionato è prescritto dal 2019."),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (_, page) = rel.page(&app, &case_path("consiglieri", second)).await;
    assert!(page.contains(&format!("Delibera n. 2/{year}")));
    assert!(page.contains(">Respinta<"));
}

#[tokio::test]
async fn with_council_sessions_proposals_are_adopted_together_in_an_adunanza() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.tenants SET settings = settings || '{\"council_sessions\": true}'")
        .execute(&mut conn)
        .await
        .unwrap();
    let (a, _) = submitted(&app, &of.o).await;
    let (seg, rel) = in_examination(&app, &of, a).await;
    let mut ids = vec![a];
    for _ in 0..2 {
        let (id, _) = submitted(&app, &of.o).await;
        register_and_assign(&app, &seg, id, of.councillors[0].id).await;
        ids.push(id);
    }
    for id in &ids {
        let res = propose(
            &app,
            &rel,
            *id,
            &[("esito", "ammissione"), ("modello", "requisiti")],
        )
        .await;
        assert_eq!(res.status(), 303);
    }
    let (_, page) = rel.page(&app, &case_path("consiglieri", a)).await;
    assert!(page.contains("Proposta di ammissione"));
    assert!(
        !page.contains("Delibera n."),
        "not numbered before the Council adopts it"
    );

    // The secretariat convenes a session tomorrow evening and puts the proposals on its agenda.
    let rome_today = patrocinio::domain::time::rome_date(Utc::now());
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let tomorrow = day(rome_today + chrono::Days::new(1));
    let res = seg
        .post(
            &app,
            &format!("/{SLUG}/segreteria/adunanze"),
            &[("data", &tomorrow), ("ora", "18:00")],
        )
        .await;
    assert_eq!(res.status(), 422, "a signer is needed");
    let res = seg
        .post(
            &app,
            &format!("/{SLUG}/segreteria/adunanze"),
            &[
                ("data", &tomorrow),
                ("ora", "18:00"),
                ("firmatario", &of.councillors[1].id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let session_url = res.headers()["location"].to_str().unwrap().to_owned();
    let session = session_url.rsplit('/').next().unwrap().to_owned();
    for id in &ids {
        let (_, page) = seg.page(&app, &case_path("segreteria", *id)).await;
        assert!(page.contains("Iscrivi all&#39;adunanza") || page.contains("Iscrivi all'adunanza"));
        let v = version_of(&page);
        let res = seg
            .post(
                &app,
                &format!("{}/iscrivi", case_path("segreteria", *id)),
                &[("versione", &v), ("adunanza", &session)],
            )
            .await;
        assert_eq!(res.status(), 303);
    }
    let (_, agenda) = seg.page(&app, &session_url).await;
    assert!(
        agenda.contains("Le decisioni si potranno registrare dall&#39;inizio dell&#39;adunanza")
            || agenda.contains("Le decisioni si potranno registrare dall'inizio dell'adunanza")
    );
    assert!(
        !agenda.contains("Registra le delibere"),
        "not before it begins"
    );

    // The Council follows the first proposal, decides the second differently, postpones the third.
    let (rossi, verdi) = (
        of.councillors[0].id.to_string(),
        of.councillors[1].id.to_string(),
    );
    let record = |agenda: &str, present: &[&str], confirm: bool| {
        let mut form: Vec<(String, String)> = vec![("_csrf".into(), seg.csrf.clone())];
        for (id, choice) in ids.iter().zip(["ammissione", "inammissibilita", "rinvio"]) {
            let v =
                between(agenda, &format!("name=\"versione_{id}\" value=\""), "\"").unwrap_or("0");
            form.push((format!("versione_{id}"), v.to_owned()));
            form.push((format!("esito_{id}"), choice.to_owned()));
        }
        for p in present {
            form.push(("presenti".into(), p.to_string()));
        }
        form.push(("presidente".into(), rossi.clone()));
        form.push(("segretario".into(), verdi.clone()));
        if confirm {
            form.push(("conferma".into(), "si".into()));
        }
        let client = seg.client.clone();
        let url = app.url(&format!("{session_url}/delibera"));
        async move { client.post(url).form(&form).send().await.unwrap() }
    };
    // Before the session's start: refused, nothing recorded.
    let res = record(&agenda, &[&rossi, &verdi], true).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("si possono registrare solo dal suo inizio"),
        "{body}"
    );
    // The session took place yesterday evening (as if the day had passed).
    let yesterday = rome_today - chrono::Days::new(1);
    sqlx::query("UPDATE app.council_sessions SET held_on = $1 WHERE id = $2::uuid")
        .bind(yesterday)
        .bind(&session)
        .execute(&mut conn)
        .await
        .unwrap();
    let (_, agenda) = seg.page(&app, &session_url).await;
    assert!(agenda.contains("Consiglieri presenti"));
    // Without the quorum (two councillors: both must be there), or without confirming: refused.
    let res = record(&agenda, &[&rossi], true).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Il numero legale è di 2 consiglieri"),
        "{body}"
    );
    assert!(
        body.contains("Per rinviare una pratica occorre prima convocare l&#39;adunanza successiva")
            || body
                .contains("Per rinviare una pratica occorre prima convocare l'adunanza successiva")
    );
    let res = record(&agenda, &[&rossi, &verdi], false).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Confermare che le decisioni indicate")
    );
    // The next session is convened: the postponed case goes there.
    let next_day = day(rome_today + chrono::Days::new(7));
    let res = seg
        .post(
            &app,
            &format!("/{SLUG}/segreteria/adunanze"),
            &[
                ("data", &next_day),
                ("ora", "18:00"),
                ("firmatario", &verdi),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let next_session = res.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let res = record(&agenda, &[&rossi, &verdi], true).await;
    assert_eq!(res.status(), 303);
    let year = patrocinio::domain::protocol::year_of(Utc::now());
    type Row = (Uuid, String, Option<i32>, Option<String>, Option<Uuid>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT a.id, a.state, d.number, d.outcome, a.council_session_id FROM app.applications a
         LEFT JOIN app.decisions d ON d.application_id = a.id AND d.superseded_at IS NULL
         WHERE a.id = ANY($1) ORDER BY a.protocol_number",
    )
    .bind(&ids)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(rows[0].1, "ammessa");
    assert_eq!(
        (rows[0].2, rows[0].3.as_deref()),
        (Some(1), Some("ammissione"))
    );
    assert_eq!(rows[1].1, "inammissibile");
    assert_eq!(
        (rows[1].2, rows[1].3.as_deref()),
        (Some(2), Some("inammissibilita"))
    );
    assert_eq!(
        (
            rows[2].1.as_str(),
            rows[2].2,
            rows[2].4.map(|s| s.to_string())
        ),
        ("iscritta_adunanza", None, Some(next_session)),
        "postponed to the next session, its proposal kept"
    );
    let (_, page) = seg.page(&app, &case_path("segreteria", ids[1])).await;
    assert!(page.contains(&format!("Delibera n. 2/{year}")));
    assert!(page.contains("In attesa della firma di Utente verdi@ordine.example.it"));
    // The delibera is dated the day of its session.
    let pdf = seg
        .client
        .get(app.url(&format!("{}/delibera.pdf", case_path("segreteria", ids[0]))))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = pdf_text(&pdf);
    let held = yesterday.format("%d/%m/%Y").to_string();
    assert!(text.contains(&format!("del {held}")), "{text}");
    let (_, agenda) = seg.page(&app, &session_url).await;
    assert!(agenda.contains("Adunanza chiusa"));
    assert!(agenda.contains("Utente rossi@ordine.example.it, Utente verdi@ordine.example.it"));
    // Its minutes list those present and what was decided.
    let res = seg
        .client
        .get(app.url(&format!("{session_url}/verbale.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let text = pdf_text(&res.bytes().await.unwrap());
    for expected in [
        &format!("Verbale dell'adunanza del {held}") as &str,
        "alle ore 18:00",
        "Utente rossi@ordine.example.it",
        &format!("n. 1/{year}"),
        &format!("n. 2/{year}"),
        "Rinvii",
    ] {
        assert!(text.contains(expected), "{expected} missing: {text}");
    }
}

/// Gives an account its codice fiscale (the signer's identity in the certificate).
pub async fn set_cf(app: &TestApp, user: Uuid, cf: &str) {
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.users SET codice_fiscale = $2 WHERE id = $1")
        .bind(user)
        .bind(cf)
        .execute(&mut conn)
        .await
        .unwrap();
}

pub fn personal_cf(surname: &str, name: &str) -> String {
    crate::public_form::person_cf(
        surname,
        name,
        1970,
        1,
        1,
        patrocinio::domain::codice_fiscale::Sex::F,
    )
}

pub async fn upload_signed(
    app: &TestApp,
    rel: &LoggedIn,
    files: Vec<(&str, Vec<u8>)>,
) -> (u16, String) {
    let mut form = reqwest::multipart::Form::new().text("_csrf", rel.csrf.clone());
    for (name, bytes) in files {
        form = form.part(
            "firmati",
            reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
        );
    }
    let res = rel
        .client
        .post(app.url(&format!("/{SLUG}/consiglieri/firma")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn delibere_count_as_signed_only_with_the_signers_valid_signature_on_the_unchanged_pdf() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let cf = personal_cf("Rossi", "Paola");
    set_cf(&app, of.councillors[0].id, &cf).await;
    let (a, _) = submitted(&app, &of.o).await;
    let (seg, rel) = in_examination(&app, &of, a).await;
    let (b, _) = submitted(&app, &of.o).await;
    register_and_assign(&app, &seg, b, of.councillors[0].id).await;
    for id in [a, b] {
        let res = propose(
            &app,
            &rel,
            id,
            &[("esito", "ammissione"), ("modello", "requisiti")],
        )
        .await;
        assert_eq!(res.status(), 303);
    }
    let (_, area) = rel.page(&app, &format!("/{SLUG}/consiglieri")).await;
    assert!(area.contains("2 delibere attendono la sua firma"));

    // The ZIP holds both PDFs, as generated.
    let res = rel
        .client
        .get(app.url(&format!("/{SLUG}/consiglieri/firma/delibere.zip")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let zipped = res.bytes().await.unwrap().to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    assert_eq!(archive.len(), 2);
    let mut pdfs = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{:?}", f.name());
        pdfs.push(bytes);
    }

    crate::signing::trust(&app).await;
    let me = crate::signing::Signer::new(&cf);
    let stranger = crate::signing::Signer::new(&personal_cf("Neri", "Giulia"));
    // Issue 12: a certificate made in one minute with `openssl req -x509` and the
    // councillor's codice fiscale, and a qualified one without nonRepudiation.
    let forged = crate::signing::Signer::with(
        &cf,
        crate::signing::Profile {
            issuer: crate::signing::Issuer::SelfSigned,
            ..crate::signing::Profile::QUALIFIED
        },
    );
    let no_repudiation = crate::signing::Signer::with(
        &cf,
        crate::signing::Profile {
            non_repudiation: false,
            ..crate::signing::Profile::QUALIFIED
        },
    );
    let mut modified = pdfs[0].clone();
    let at = modified.len() / 2;
    modified[at] ^= 0x01;
    let unrelated = crate::public_form::minimal_pdf();
    let good_a = me.p7m(&pdfs[0]);
    let (status, body) = upload_signed(
        &app,
        &rel,
        vec![
            ("altro-firmatario.pdf.p7m", stranger.p7m(&pdfs[0])),
            ("modificato.pdf.p7m", me.p7m(&modified)),
            ("estraneo.pdf.p7m", me.p7m(&unrelated)),
            (
                "manomesso.pdf.p7m",
                crate::signing::tamper(&good_a, &pdfs[0]),
            ),
            ("non-firmato.pdf", pdfs[0].clone()),
            ("fatto-in-casa.pdf.p7m", forged.p7m(&pdfs[0])),
            ("senza-non-ripudio.pdf.p7m", no_repudiation.p7m(&pdfs[0])),
        ],
    )
    .await;
    assert_eq!(status, 422);
    for (file, reason) in [
        (
            "altro-firmatario.pdf.p7m",
            "non dal firmatario della delibera",
        ),
        (
            "modificato.pdf.p7m",
            "non coincide con nessuna delibera da firmare",
        ),
        (
            "estraneo.pdf.p7m",
            "non coincide con nessuna delibera da firmare",
        ),
        ("manomesso.pdf.p7m", "non risulta valida"),
        ("non-firmato.pdf", "non contiene una firma digitale"),
        (
            "fatto-in-casa.pdf.p7m",
            "non è stato rilasciato da un prestatore qualificato presente nell'elenco di fiducia",
        ),
        (
            "senza-non-ripudio.pdf.p7m",
            "non consente la firma con valore legale (manca l'uso non ripudio)",
        ),
    ] {
        let line = between(&body, &format!("<strong>{file}</strong>"), "</li>")
            .unwrap_or_else(|| panic!("{file} not listed"));
        assert!(line.contains(reason), "{file}: {line}");
    }
    assert!(!body.contains("Firme verificate e registrate"));

    // The right files, together: both signed, and a duplicate is named.
    let (status, body) = upload_signed(
        &app,
        &rel,
        vec![
            ("a.pdf.p7m", good_a.clone()),
            ("b.pdf.p7m", me.p7m(&pdfs[1])),
            ("a-bis.pdf.p7m", good_a.clone()),
        ],
    )
    .await;
    assert_eq!(status, 422, "{body}");
    let signed = between(&body, "id=\"firmate\"", "</div>").unwrap();
    assert!(signed.contains("a.pdf.p7m") && signed.contains("b.pdf.p7m"));
    let refused = between(&body, "id=\"non-accettati\"", "</div>").unwrap();
    assert!(refused.contains("a-bis.pdf.p7m"));
    assert!(body.contains("Nessuna delibera in attesa della sua firma."));

    let (_, page) = rel.page(&app, &case_path("consiglieri", a)).await;
    assert!(page.contains("✓ Firma CAdES qualificata"), "{page}");
    assert!(page.contains("revoca del certificato: revoca non verificata"));
    assert!(page.contains("dichiarata nella firma (attributo signingTime)"));
    assert!(
        page.contains("Delibera firmata digitalmente"),
        "in the history"
    );
    let res = rel
        .client
        .get(app.url(&format!("{}/delibera-firmata", case_path("consiglieri", a))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let served = res.bytes().await.unwrap();
    let report = patrocinio::documents::signature::verify_cades(&served, Utc::now()).unwrap();
    assert!(
        report.content.is_some_and(|c| pdfs.contains(&c)),
        "the signed file, as uploaded"
    );
    let mut conn = app.admin_connection().await;
    let kinds: Vec<Option<String>> =
        sqlx::query_scalar("SELECT signed_kind FROM app.decisions ORDER BY number")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(kinds, [Some("cades".to_owned()), Some("cades".to_owned())]);
}

#[tokio::test]
async fn an_ordine_with_its_electronic_seal_gets_delibere_sealed_on_adoption() {
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
    let (id, _) = submitted(&app, &of.o).await;
    let (_, rel) = in_examination(&app, &of, id).await;
    let res = propose(
        &app,
        &rel,
        id,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let (kind, sha): (Option<String>, String) = sqlx::query_as(
        "SELECT signed_kind, pdf_sha256 FROM app.decisions WHERE application_id = $1",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(kind.as_deref(), Some("sigillo"));
    let res = rel
        .client
        .get(app.url(&format!(
            "{}/delibera-firmata",
            case_path("consiglieri", id)
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let envelope = res.bytes().await.unwrap();
    let report = patrocinio::documents::signature::verify_cades(&envelope, Utc::now()).unwrap();
    use sha2::Digest;
    assert_eq!(
        hex::encode(sha2::Sha256::digest(report.content.unwrap())),
        sha,
        "the sealed content is the delibera"
    );
    let (_, area) = rel.page(&app, &format!("/{SLUG}/consiglieri")).await;
    assert!(
        !area.contains("attende la sua firma"),
        "nothing left to sign by hand"
    );
}

#[tokio::test]
async fn withdrawal_revocation_and_reproposal_are_recorded_on_the_case() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (a, _) = submitted(&app, &of.o).await;
    let (seg, rel) = in_examination(&app, &of, a).await;
    let (b, _) = submitted(&app, &of.o).await;
    let (c, _) = submitted(&app, &of.o).await;
    for id in [b, c] {
        register_and_assign(&app, &seg, id, of.councillors[0].id).await;
    }

    // The lawyer withdraws A: the confirmation is required.
    let lawyer = app
        .user(
            SLUG,
            "anna.bianchi@avvocati.example.it",
            &[Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let avv = app.login(&lawyer).await;
    let (_, page) = avv.page(&app, &case_path("avvocati", a)).await;
    let v = version_of(&page);
    let url = format!("{}/rinuncia", case_path("avvocati", a));
    let res = avv
        .post(
            &app,
            &url,
            &[("versione", &v), ("nota", "Accordo raggiunto")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("confermare la casella"));
    let res = avv
        .post(
            &app,
            &url,
            &[
                ("versione", &v),
                ("conferma", "si"),
                ("nota", "Accordo raggiunto"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, page) = avv.page(&app, &case_path("avvocati", a)).await;
    assert!(page.contains(">Rinunciata<"));
    assert!(page.contains("Accordo raggiunto"));

    // B admitted, then revoked by the judge; C rejected, then re-proposed to the judge.
    propose(
        &app,
        &rel,
        b,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    propose(
        &app,
        &rel,
        c,
        &[
            ("esito", "rigetto"),
            ("modello", "infondatezza"),
            ("motivazione", "Pretesa manifestamente prescritta."),
        ],
    )
    .await;
    let (_, page) = seg.page(&app, &case_path("segreteria", b)).await;
    let v = version_of(&page);
    let url = format!("{}/revoca", case_path("segreteria", b));
    let res = seg
        .post(
            &app,
            &url,
            &[("versione", &v), ("autorita", "Tribunale di Vallenera")],
        )
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("Indicare la data del decreto di revoca"));
    assert!(
        body.contains("value=\"Tribunale di Vallenera\""),
        "what was typed is kept"
    );
    let res = seg
        .post(
            &app,
            &url,
            &[
                ("versione", &v),
                ("data", "2026-01-15"),
                ("autorita", "Tribunale di Vallenera"),
                ("decorrenza", "2025-12-01"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, page) = seg.page(&app, &case_path("segreteria", b)).await;
    assert!(page.contains("Ammissione revocata dal giudice"));
    assert!(
        page.contains(
            "Decreto del 15/01/2026 (Tribunale di Vallenera), con effetto dal 01/12/2025"
        )
    );

    let (_, page) = seg.page(&app, &case_path("segreteria", c)).await;
    let v = version_of(&page);
    let res = seg
        .post(
            &app,
            &format!("{}/riproposizione", case_path("segreteria", c)),
            &[
                ("versione", &v),
                ("data", "2026-01-20"),
                ("esito", "accolta"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let (_, page) = seg.page(&app, &case_path("segreteria", c)).await;
    assert!(page.contains("Istanza riproposta al giudice"));
    assert!(page.contains("il magistrato ha ammesso il richiedente"));
    assert!(page.contains(">Respinta<"), "the Council's decision stands");

    let mut conn = app.admin_connection().await;
    let kinds: Vec<String> = sqlx::query_scalar("SELECT kind FROM app.events WHERE kind IN ('rinunciata', 'revocata', 'riproposta_al_giudice') ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(kinds, ["rinunciata", "revocata", "riproposta_al_giudice"]);
    let withdrawal: i64 =
        sqlx::query_scalar("SELECT count(*) FROM app.protocol_entries WHERE kind = 'rinuncia'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        withdrawal, 1,
        "the withdrawal is registered in the protocol"
    );
}

#[tokio::test]
async fn the_demo_holds_an_application_in_every_state_with_its_delibere() {
    let app = spawn_app().await;
    let pdf = std::sync::Arc::new(patrocinio::documents::pdf::PdfEngine::new());
    let seeded = patrocinio::demo::seed(&app.db, &app.storage, &pdf)
        .await
        .unwrap();
    assert!(seeded.created);
    let mut conn = app.admin_connection().await;
    let states: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT state FROM app.applications ORDER BY state")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let mut all: Vec<String> = patrocinio::domain::application::Stage::ALL
        .iter()
        .map(|s| s.code().to_owned())
        .collect();
    all.sort();
    assert_eq!(states, all);
    let (delibere, numbered): (i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE pdf_sha256 IS NOT NULL), count(number) FROM app.decisions WHERE superseded_at IS NULL",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        (delibere, numbered),
        (4, 4),
        "admitted, rejected, inadmissible, revoked"
    );
    let numbers: Vec<i32> = sqlx::query_scalar(
        "SELECT number FROM app.protocol_entries ORDER BY registered_at, number",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        numbers,
        (1..=numbers.len() as i32).collect::<Vec<_>>(),
        "numbers rise with dates"
    );
    // The councillor can log in and finds the delibere to sign.
    let secret: String = sqlx::query_scalar(
        "SELECT totp_secret FROM app.users WHERE email = 'consigliere@demo.example.it'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let client = crate::helpers::new_client();
    let res = client
        .post(app.url("/demo/accesso"))
        .form(&[
            ("email", "consigliere@demo.example.it"),
            ("password", patrocinio::demo::DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = client
        .post(app.url("/demo/accesso/codice"))
        .form(&[("codice", crate::helpers::totp_now(&secret).as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = client
        .get(app.url("/demo/consiglieri"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("4 delibere attendono la sua firma"), "{page}");
}
