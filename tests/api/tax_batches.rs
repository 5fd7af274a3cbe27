//! The Agenzia delle Entrate's batches (issue 13, point 5): an admission waits for the next
//! batch, a rejection never enters one (and the database refuses it), the cover list (PDF/A and
//! CSV) lists the columns the Ordine chose, "Invia ora" sends the PEC with the cover list and
//! the signed delibere and registers it in the outgoing protocol, and the schedule closes a
//! period's batch once.

use std::time::{Duration, Instant};

use chrono::Utc;
use patrocinio::{
    documents::{pdf::PdfEngine, tax_batch::Closer},
    domain::{
        access::Role,
        protocol::{Addressee, FiledDocument},
        time,
    },
};
use sqlx::Row;
use uuid::Uuid;

use crate::{
    helpers::{LoggedIn, TestApp},
    mail::{Mail, Smtp, free_port},
    transmissions::{OFFICE_PEC, seal_on, sealed_app, set_office_pec, sha, signed_file, states},
    workflow::{
        Office, SLUG, case_path, in_examination, office, pdf_text, propose, register_and_assign,
        submitted,
    },
};

const ADE_PEC: &str = "dp.vallenera@pce.agenziaentrate.it";
const MEMBER_CF: &str = "RSSNNA80A41H501X";

/// The administrator sets the schedule, the address and the columns through the settings page.
async fn configure(app: &TestApp, frequency: &str, columns: &[&str]) {
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
    let path = format!("/{SLUG}/amministrazione/agenzia-entrate");
    // A wrong address and no column: explained, and what was typed stays.
    let res = admin
        .post(app, &path, &[("frequenza", frequency), ("pec", "agenzia@")])
        .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("L&#39;indirizzo PEC non è valido")
            || body.contains("L'indirizzo PEC non è valido"),
        "{body}"
    );
    assert!(body.contains("Scegliere almeno una colonna"), "{body}");
    assert!(body.contains("value=\"agenzia@\""), "what was typed stays");
    let mut form = vec![("frequenza", frequency), ("pec", ADE_PEC)];
    form.extend(columns.iter().map(|c| ("colonne", *c)));
    let res = admin.post(app, &path, &form).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Impostazioni salvate."), "{body}");
    assert!(body.contains(ADE_PEC));
}

/// An admission and a rejection, both sealed on adoption: (admission, rejection, secretariat).
async fn admission_and_rejection(app: &TestApp, of: &Office) -> (Uuid, Uuid, LoggedIn) {
    let (admitted, _) = submitted(app, &of.o).await;
    let (rejected, _) = submitted(app, &of.o).await;
    // The admitted applicant lives with a daughter (the household column lists her).
    let mut conn = app.admin_connection().await;
    sqlx::query(
        "UPDATE app.applications SET form = jsonb_set(form, '{household}', $2::jsonb)
          WHERE id = $1",
    )
    .bind(admitted)
    .bind(serde_json::json!({
        "lives_alone": false,
        "members": [{ "id": "m1", "surname": "Rossi", "given_name": "Anna",
                      "codice_fiscale": MEMBER_CF, "relationship": "figlio",
                      "birth_date": "1980-01-01" }],
    }))
    .execute(&mut conn)
    .await
    .unwrap();
    let (seg, rel) = in_examination(app, of, admitted).await;
    let res = propose(
        app,
        &rel,
        admitted,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    assert_eq!(res.status(), 303);
    register_and_assign(app, &seg, rejected, of.councillors[0].id).await;
    let res = propose(
        app,
        &rel,
        rejected,
        &[("esito", "rigetto"), ("modello", "reddito")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let _ = signed_file(app, &rel, "consiglieri", admitted).await;
    (admitted, rejected, seg)
}

/// The messages carrying a batch, once `n` of them arrived.
async fn batches_received(smtp: &Smtp, n: usize) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: Vec<Mail> = smtp
            .received()
            .into_iter()
            .filter(|m| m.subject.starts_with("Distinta n."))
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "{got:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_admission_waits_for_the_next_batch_a_rejection_does_not_and_invia_ora_sends_it() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let (app, _seals) = sealed_app(Some(&smtp)).await;
    let of = office(&app).await;
    seal_on(&app).await;
    set_office_pec(&app, &of, OFFICE_PEC).await;
    configure(
        &app,
        "mensile",
        &[
            "delibera",
            "protocollo",
            "richiedente",
            "codice_fiscale",
            "nascita",
            "residenza",
            "familiari",
            "reddito",
            "procedimento",
            "avvocato",
        ],
    )
    .await;
    let (admitted, rejected, seg) = admission_and_rejection(&app, &of).await;

    // The admission goes to the applicant, the lawyer, the judge, and waits for the batch; the
    // rejection goes to the applicant and the lawyer only.
    assert_eq!(
        states(&app, admitted).await,
        [
            ("agenzia_entrate".into(), "da_trasmettere".into()),
            ("avvocato".into(), "in_coda".into()),
            ("richiedente".into(), "in_coda".into()),
            ("ufficio_giudiziario".into(), "in_coda".into()),
        ]
    );
    assert_eq!(
        states(&app, rejected).await,
        [
            ("avvocato".into(), "in_coda".into()),
            ("richiedente".into(), "in_coda".into()),
        ]
    );

    // The secretariat's page lists the admission in the next batch, not the rejection.
    let page_path = format!("/{SLUG}/segreteria/agenzia-entrate");
    let (status, page) = seg.page(&app, &page_path).await;
    assert_eq!(status, 200);
    assert!(page.contains("Prossima distinta"), "{page}");
    assert!(page.contains("1 delibera"), "{page}");
    assert!(page.contains(&format!("pratiche/{admitted}")), "{page}");
    assert!(!page.contains(&format!("pratiche/{rejected}")), "{page}");
    assert!(page.contains("Invia ora"), "{page}");
    assert!(page.contains("Nessuna distinta ancora."), "{page}");

    // Sent early: one PEC to the Agenzia delle Entrate.
    let res = seg.post(&app, &format!("{page_path}/invia"), &[]).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Distinta registrata nel protocollo in uscita"),
        "{body}"
    );
    assert!(body.contains("Distinte trasmesse"), "{body}");
    // Twice (a double click): nothing left to send.
    let res = seg.post(&app, &format!("{page_path}/invia"), &[]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Nessuna delibera di ammissione in attesa")
    );

    let mut conn = app.admin_connection().await;
    let batch: Uuid = sqlx::query_scalar("SELECT id FROM app.tax_batches")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        states(&app, admitted).await[0],
        ("agenzia_entrate".into(), "in_coda".into())
    );

    // The outgoing entry: the Agenzia delle Entrate's PEC, the cover list and the delibera with
    // their SHA-256, in the same gapless register.
    let row = sqlx::query(
        "SELECT p.recipients, p.documents, p.channel, p.kind,
                p.year || '/' || lpad(p.number::text, 7, '0') AS number
           FROM app.tax_batches b JOIN app.protocol_entries p ON p.id = b.protocol_entry_id",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let recipients: Vec<Addressee> = serde_json::from_value(row.get("recipients")).unwrap();
    let documents: Vec<FiledDocument> = serde_json::from_value(row.get("documents")).unwrap();
    let number: String = row.get("number");
    assert_eq!(recipients.len(), 1);
    assert_eq!(recipients[0].kind, "agenzia_entrate");
    assert_eq!(recipients[0].address.as_deref(), Some(ADE_PEC));
    assert_eq!(row.get::<String, _>("channel"), "pec");
    assert_eq!(row.get::<String, _>("kind"), "distinta");
    assert_eq!(documents.len(), 3, "{documents:?}");
    assert!(documents[0].name.ends_with(".pdf"));
    assert!(documents[1].name.ends_with(".csv"));
    assert!(documents[2].name.ends_with(".pdf.p7m"));
    let numbers: Vec<i32> =
        sqlx::query_scalar("SELECT number FROM app.protocol_entries ORDER BY number")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        numbers,
        (1..=numbers.len() as i32).collect::<Vec<_>>(),
        "gapless"
    );

    // What the SMTP server received: the cover list (PDF and CSV) and the signed delibera,
    // each the file the protocol registered.
    let got = batches_received(&smtp, 1).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert!(m.to.contains(ADE_PEC), "{}", m.to);
    assert!(
        m.subject.contains(&format!("prot. n. {number}")),
        "{}",
        m.subject
    );
    assert!(m.text.contains("art. 127, comma 1"), "{}", m.text);
    assert_eq!(m.attachments.len(), 3, "{m:?}");
    for (doc, (name, bytes)) in documents.iter().zip(&m.attachments) {
        assert_eq!(&doc.name, name);
        assert_eq!(
            doc.sha256,
            sha(bytes),
            "{name}: what left is what was registered"
        );
    }

    // The cover list, downloaded from the page: the same files.
    let (status, page) = seg.page(&app, &page_path).await;
    assert_eq!(status, 200);
    assert!(page.contains(&number), "the protocol number is listed");
    assert!(
        page.contains("Nessuna delibera di ammissione in attesa"),
        "{page}"
    );
    let pdf = seg
        .client
        .get(app.url(&format!("{page_path}/{batch}/distinta.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    let pdf = pdf.bytes().await.unwrap();
    assert_eq!(sha(&pdf), documents[0].sha256);
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    for expected in [
        "Distinta n. 1/",
        "trasmissione all'Agenzia delle Entrate",
        ADE_PEC,
        "Mario Rossi",
        "10/12/1985, Roma",
        "Via Roma 1, 00100 Vallenera",
        "Anna Rossi",
        MEMBER_CF,
        "€ 11.000,00",
        "Tribunale di Vallenera",
        "Avv. Bianchi Anna",
    ] {
        assert!(text.contains(expected), "{expected} in {text}");
    }
    let csv = seg
        .client
        .get(app.url(&format!("{page_path}/{batch}/distinta.csv")))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    let csv = csv.bytes().await.unwrap();
    assert_eq!(sha(&csv), documents[1].sha256);
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    let csv = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert_eq!(
        lines[0],
        "Delibera (numero e data);Protocollo dell'istanza;Richiedente;Codice fiscale;Data e luogo di nascita;Residenza;Familiari conviventi (nome e codice fiscale);Reddito dichiarato e anno;Procedimento;Difensore"
    );
    let cells: Vec<&str> = lines[1].split(';').collect();
    assert_eq!(cells.len(), 10, "{}", lines[1]);
    let (decision, protocol): (String, String) = sqlx::query_as(
        "SELECT d.number || '/' || d.year, a.protocol_year || '/' || lpad(a.protocol_number::text, 7, '0')
           FROM app.decisions d JOIN app.applications a ON a.id = d.application_id
          WHERE d.application_id = $1 AND d.superseded_at IS NULL",
    )
    .bind(admitted)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    let today = time::format_date(time::rome_date(Utc::now()));
    assert_eq!(cells[0], format!("n. {decision} del {today}"));
    assert_eq!(cells[1], protocol);
    assert_eq!(cells[2], "Mario Rossi");
    assert_eq!(cells[3].len(), 16);
    assert_eq!(cells[4], "10/12/1985, Roma");
    assert_eq!(cells[6], format!("Anna Rossi ({MEMBER_CF})"));
    assert!(
        cells[7].starts_with("€ ") && cells[7].ends_with("(redditi 2025)"),
        "{}",
        cells[7]
    );
    assert!(
        cells[8].contains("Tribunale di Vallenera") && cells[8].contains("contro Verdi Carla"),
        "{}",
        cells[8]
    );
    assert_eq!(cells[9], "Avv. Bianchi Anna");

    // The batch's page lists what it held; the case page gives the transmission's number.
    let (status, page) = seg.page(&app, &format!("{page_path}/{batch}")).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("pratiche/{admitted}")), "{page}");
    assert!(page.contains(&number), "{page}");
    let (_, page) = seg.page(&app, &case_path("segreteria", admitted)).await;
    assert!(page.contains(&number), "{page}");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.audit_log WHERE action = 'distinta_ade_inviata_in_anticipo'
            AND target_id = $1",
    )
    .bind(batch.to_string())
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn the_database_refuses_a_rejection_in_a_batch() {
    let (app, _seals) = sealed_app(None).await;
    let of = office(&app).await;
    seal_on(&app).await;
    set_office_pec(&app, &of, OFFICE_PEC).await;
    configure(&app, "mensile", &["delibera", "richiedente"]).await;
    let (admitted, rejected, seg) = admission_and_rejection(&app, &of).await;
    let res = seg
        .post(
            &app,
            &format!("/{SLUG}/segreteria/agenzia-entrate/invia"),
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut conn = app.admin_connection().await;
    let batch: Uuid = sqlx::query_scalar("SELECT id FROM app.tax_batches")
        .fetch_one(&mut conn)
        .await
        .unwrap();

    // The rejection's rows, put in the batch by hand: refused.
    let refused = sqlx::query(
        "UPDATE app.transmissions SET batch_id = $2, batch_outcome = 'ammissione'
          WHERE application_id = $1",
    )
    .bind(rejected)
    .bind(batch)
    .execute(&mut conn)
    .await
    .unwrap_err()
    .to_string();
    assert!(refused.contains("transmissions_batch"), "{refused}");
    // Even as a row for the Agenzia delle Entrate (as a faulty program would write it), the
    // delibera's outcome is not an admission: the foreign key refuses it.
    let row: Uuid = sqlx::query_scalar(
        "INSERT INTO app.transmissions (tenant_id, application_id, decision_id, recipient_kind,
             recipient_name, via_pec, state)
         SELECT tenant_id, application_id, decision_id, 'agenzia_entrate', 'Agenzia delle Entrate',
                true, 'da_trasmettere'
           FROM app.transmissions WHERE application_id = $1 LIMIT 1
         RETURNING id",
    )
    .bind(rejected)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    for outcome in ["ammissione", "rigetto"] {
        let refused = sqlx::query(
            "UPDATE app.transmissions SET batch_id = $2, batch_outcome = $3 WHERE id = $1",
        )
        .bind(row)
        .bind(batch)
        .bind(outcome)
        .execute(&mut conn)
        .await
        .unwrap_err()
        .to_string();
        let constraint = if outcome == "ammissione" {
            "transmissions_batch_only_admissions"
        } else {
            "transmissions_batch_outcome_check"
        };
        assert!(refused.contains(constraint), "{refused}");
    }
    // An admission in a batch cannot become a rejection afterwards.
    let refused = sqlx::query(
        "UPDATE app.decisions SET outcome = 'rigetto'
          WHERE application_id = $1 AND superseded_at IS NULL",
    )
    .bind(admitted)
    .execute(&mut conn)
    .await
    .unwrap_err()
    .to_string();
    assert!(
        refused.contains("transmissions_batch_only_admissions"),
        "{refused}"
    );
    // And a batch, once sent, is not changed.
    let refused = sqlx::query("UPDATE app.tax_batches SET items = 2")
        .execute(&mut conn)
        .await
        .unwrap_err()
        .to_string();
    assert!(refused.contains("non si modifica"), "{refused}");
}

#[tokio::test]
async fn the_schedule_closes_a_due_batch_once() {
    let (app, _seals) = sealed_app(None).await;
    let of = office(&app).await;
    seal_on(&app).await;
    set_office_pec(&app, &of, OFFICE_PEC).await;
    configure(
        &app,
        "giornaliera",
        &["delibera", "protocollo", "richiedente"],
    )
    .await;
    let (admitted, _, seg) = admission_and_rejection(&app, &of).await;

    let pdf = PdfEngine::new();
    let closer = Closer {
        db: &app.db,
        pdf: &pdf,
        storage: &app.storage,
    };
    // Today is not over: nothing leaves.
    assert_eq!(closer.run(Utc::now()).await.unwrap(), 0);
    // After midnight: today's batch, once, even with two instances at it together.
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    let (x, y) = tokio::join!(closer.run(tomorrow), closer.run(tomorrow));
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    assert_eq!(closer.run(tomorrow).await.unwrap(), 0);

    let mut conn = app.admin_connection().await;
    let batches: Vec<(String, i32, bool, String)> =
        sqlx::query_as("SELECT period_key, items, early, created_by FROM app.tax_batches")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    let today = time::rome_date(Utc::now());
    assert_eq!(
        batches,
        [(
            today.format("%Y-%m-%d").to_string(),
            1,
            false,
            "Servizio (invio periodico)".to_owned()
        )]
    );
    assert_eq!(
        states(&app, admitted).await[0],
        ("agenzia_entrate".into(), "in_coda".into())
    );
    // The message waits in the outbox (no SMTP server here) with its three files.
    let files: i32 = sqlx::query_scalar(
        "SELECT jsonb_array_length(payload->'allegati') FROM app.outbox
          WHERE template = 'distinta_ade' AND recipient = $1",
    )
    .bind(ADE_PEC)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(files, 3);
    // The cover list has the three columns chosen.
    let batch: Uuid = sqlx::query_scalar("SELECT id FROM app.tax_batches")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let csv = seg
        .client
        .get(app.url(&format!(
            "/{SLUG}/segreteria/agenzia-entrate/{batch}/distinta.csv"
        )))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let csv = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert_eq!(
        csv.lines().next().unwrap(),
        "Delibera (numero e data);Protocollo dell'istanza;Richiedente"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.audit_log WHERE action = 'distinta_ade_inviata'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}

#[tokio::test]
async fn a_batch_larger_than_one_pec_leaves_in_parts() {
    let (app, _seals) = sealed_app(None).await;
    let of = office(&app).await;
    seal_on(&app).await;
    set_office_pec(&app, &of, OFFICE_PEC).await;
    configure(&app, "settimanale", &["delibera", "richiedente"]).await;
    let (first, _) = submitted(&app, &of.o).await;
    let (second, _) = submitted(&app, &of.o).await;
    let (seg, rel) = in_examination(&app, &of, first).await;
    register_and_assign(&app, &seg, second, of.councillors[0].id).await;
    for id in [first, second] {
        let res = propose(
            &app,
            &rel,
            id,
            &[("esito", "ammissione"), ("modello", "requisiti")],
        )
        .await;
        assert_eq!(res.status(), 303);
    }
    // Two signed delibere of 10 MiB each: together above the 20 MiB one PEC carries.
    let mut conn = app.admin_connection().await;
    let keys: Vec<String> = sqlx::query_scalar(
        "SELECT signed_key FROM app.decisions WHERE signed_key IS NOT NULL ORDER BY number",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(keys.len(), 2);
    for key in &keys {
        app.storage
            .put(key, vec![b'x'; 10 * 1024 * 1024])
            .await
            .unwrap();
    }
    let res = seg
        .post(
            &app,
            &format!("/{SLUG}/segreteria/agenzia-entrate/invia"),
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("parte in 2 messaggi"), "{body}");

    // Two PECs, each with its part's cover list, its delibera and its own outgoing entry.
    let parts: Vec<(i32, i32, i64, i32)> = sqlx::query_as(
        "SELECT b.part, b.items, b.attachments_bytes, p.number
           FROM app.tax_batches b JOIN app.protocol_entries p ON p.id = b.protocol_entry_id
          ORDER BY b.number",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_eq!((parts[0].0, parts[0].1), (1, 1));
    assert_eq!((parts[1].0, parts[1].1), (2, 1));
    assert_ne!(parts[0].3, parts[1].3);
    for p in &parts {
        assert!(p.2 <= 20 * 1024 * 1024, "{p:?}");
    }
    let files: Vec<i32> = sqlx::query_scalar(
        "SELECT jsonb_array_length(payload->'allegati') FROM app.outbox
          WHERE template = 'distinta_ade' ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(files, [3, 3]);
    let in_batches: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT batch_id) FROM app.transmissions
          WHERE recipient_kind = 'agenzia_entrate' AND state = 'in_coda'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(in_batches, 2);
    let batch: Uuid = sqlx::query_scalar("SELECT id FROM app.tax_batches ORDER BY number DESC")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let pdf = seg
        .client
        .get(app.url(&format!(
            "/{SLUG}/segreteria/agenzia-entrate/{batch}/distinta.pdf"
        )))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(pdf_text(&pdf).contains("parte 2"));
}
