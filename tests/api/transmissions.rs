//! After the decision (issue 13, points 2, 3, 4, 7): the signed delibera leaves with an
//! outgoing protocol entry (recipients and the SHA-256 of the file attached) to the applicant
//! and the lawyer, and an admission's copy to the judicial office by PEC; the copy for the
//! judge waits when the office's PEC is unknown; the applicant downloads it with code and PIN,
//! the lawyer from their area.

use std::time::{Duration, Instant};

use patrocinio::{
    domain::{
        access::Role,
        application::matter::ListMatter,
        protocol::{Addressee, FiledDocument},
    },
    store::{
        audit, lawyers,
        protocol::{self, Direction, NewEntry},
    },
};
use sha2::Digest;
use sqlx::Row;
use uuid::Uuid;

use crate::{
    helpers::{LoggedIn, TestApp, client_with_jar, spawn_app_with},
    mail::{Mail, Smtp, free_port, mailing},
    workflow::{
        Office, SLUG, case_path, in_examination, office, pdf_text, propose, register_and_assign,
        submitted, submitted_with_pin, version_of,
    },
};

pub(crate) const OFFICE_PEC: &str = "prot.tribunale.vallenera@giustiziacert.it";

/// An Ordine that seals its delibere on adoption (they leave at once), sending to `smtp`.
pub(crate) async fn sealed_app(smtp: Option<&Smtp>) -> (TestApp, tempfile::TempDir) {
    let seals = tempfile::tempdir().unwrap();
    let seal = crate::signing::Signer::new("80012345678");
    std::fs::write(seals.path().join(format!("{SLUG}.pem")), seal.pem()).unwrap();
    let dir = seals.path().to_path_buf();
    let mail = smtp.map(mailing);
    let app = spawn_app_with(move |c| {
        if let Some(m) = mail {
            m(c);
        }
        c.seal_dir = Some(dir);
    })
    .await;
    (app, seals)
}

pub(crate) async fn seal_on(app: &TestApp) {
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.tenants SET settings = settings || '{\"seal\": true}'")
        .execute(&mut conn)
        .await
        .unwrap();
}

pub(crate) async fn set_office_pec(app: &TestApp, of: &Office, pec: &str) {
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.judicial_offices SET pec = $2 WHERE id = $1")
        .bind(of.o.office)
        .bind(pec)
        .execute(&mut conn)
        .await
        .unwrap();
}

/// The messages that carry an outgoing protocol number, once `n` of them arrived.
async fn transmitted(smtp: &Smtp, n: usize) -> Vec<Mail> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let got: Vec<Mail> = smtp
            .received()
            .into_iter()
            .filter(|m| m.subject.contains("prot. n."))
            .collect();
        if got.len() >= n {
            return got;
        }
        assert!(Instant::now() < deadline, "{got:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The outgoing entries of an application: (recipients, documents, channel).
async fn outgoing(app: &TestApp, id: Uuid) -> Vec<(Vec<Addressee>, Vec<FiledDocument>, String)> {
    let mut conn = app.admin_connection().await;
    sqlx::query(
        "SELECT recipients, documents, channel FROM app.protocol_entries
          WHERE application_id = $1 AND direction = 'uscita' ORDER BY number",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .map(|r| {
        (
            serde_json::from_value(r.get("recipients")).unwrap(),
            serde_json::from_value(r.get("documents")).unwrap(),
            r.get("channel"),
        )
    })
    .collect()
}

/// How many transmissions of the application were queued.
async fn queued(app: &TestApp, id: Uuid) -> i64 {
    let mut conn = app.admin_connection().await;
    sqlx::query_scalar(
        "SELECT count(*) FROM app.outbox
          WHERE application_id = $1 AND template = 'delibera_trasmessa'",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

pub(crate) async fn states(app: &TestApp, id: Uuid) -> Vec<(String, String)> {
    let mut conn = app.admin_connection().await;
    sqlx::query_as(
        "SELECT recipient_kind, state FROM app.transmissions WHERE application_id = $1
          ORDER BY recipient_kind",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

pub(crate) async fn signed_file(app: &TestApp, who: &LoggedIn, area: &str, id: Uuid) -> Vec<u8> {
    let res = who
        .client
        .get(app.url(&format!("{}/delibera-firmata", case_path(area, id))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    res.bytes().await.unwrap().to_vec()
}

pub(crate) fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn an_admission_goes_to_the_parties_and_by_pec_to_the_judge_with_outgoing_entries() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let (app, _seals) = sealed_app(Some(&smtp)).await;
    let of = office(&app).await;
    seal_on(&app).await;
    // The administrator gives the office its PEC; a wrong address is explained and kept.
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
    let path = format!("/{SLUG}/amministrazione/uffici/{}/pec", of.o.office);
    let res = admin.post(&app, &path, &[("pec", "tribunale@")]).await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("L'indirizzo PEC non è valido"), "{body}");
    assert!(
        body.contains("value=\"tribunale@\""),
        "what was typed stays"
    );
    let res = admin.post(&app, &path, &[("pec", OFFICE_PEC)]).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains(OFFICE_PEC));

    let (id, code) = submitted(&app, &of.o).await;
    let (seg, rel) = in_examination(&app, &of, id).await;
    let res = propose(
        &app,
        &rel,
        id,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let signed = signed_file(&app, &rel, "consiglieri", id).await;

    // Two outgoing entries: the parties, and the judge; each with its recipients and the
    // SHA-256 of the sealed delibera.
    let entries = outgoing(&app, id).await;
    assert_eq!(entries.len(), 2, "{entries:?}");
    let kinds = |e: &(Vec<Addressee>, _, _)| -> Vec<String> {
        e.0.iter().map(|r| r.kind.clone()).collect::<Vec<_>>()
    };
    assert_eq!(kinds(&entries[0]), ["richiedente", "avvocato"]);
    assert_eq!(kinds(&entries[1]), ["ufficio_giudiziario"]);
    assert_eq!(entries[1].0[0].address.as_deref(), Some(OFFICE_PEC));
    assert_eq!(entries[1].2, "pec");
    for (_, docs, _) in &entries {
        assert_eq!(docs.len(), 1);
        assert_eq!(
            docs[0].sha256,
            sha(&signed),
            "the file sent is the one registered"
        );
    }

    // What the SMTP server received: three messages, each with the sealed delibera attached,
    // whose SHA-256 is the one in the protocol.
    let got = transmitted(&smtp, 3).await;
    assert_eq!(queued(&app, id).await, 3, "one message per recipient");
    let mut to: Vec<&str> = got.iter().map(|m| m.to.as_str()).collect();
    to.sort();
    assert!(
        to[0].contains("anna.bianchi@pec.avvocati.example.it"),
        "{to:?}"
    );
    assert!(to[1].contains("mario.rossi@example.it"), "{to:?}");
    assert!(to[2].contains(OFFICE_PEC), "{to:?}");
    for m in &got {
        assert!(m.subject.contains(&code), "{}", m.subject);
        assert_eq!(m.attachments.len(), 1, "{m:?}");
        let (name, bytes) = &m.attachments[0];
        assert!(name.ends_with(".pdf.p7m"), "{name}");
        assert_eq!(sha(bytes), entries[0].1[0].sha256);
        let number = m.subject.rsplit("prot. n. ").next().unwrap();
        let expected = if m.to.contains(OFFICE_PEC) { 1 } else { 0 };
        let mut conn = app.admin_connection().await;
        let n: String = sqlx::query_scalar(
            "SELECT year || '/' || lpad(number::text, 7, '0') FROM app.protocol_entries
              WHERE application_id = $1 AND direction = 'uscita' ORDER BY number OFFSET $2",
        )
        .bind(id)
        .bind(expected as i64)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(number, n, "each message carries its own entry's number");
    }
    let judge = got.iter().find(|m| m.to.contains(OFFICE_PEC)).unwrap();
    assert!(judge.text.contains("art. 126, comma 2"), "{}", judge.text);

    // One row per recipient; the Agenzia delle Entrate's waits for its batch.
    assert_eq!(
        states(&app, id).await,
        [
            ("agenzia_entrate".into(), "da_trasmettere".into()),
            ("avvocato".into(), "in_coda".into()),
            ("richiedente".into(), "in_coda".into()),
            ("ufficio_giudiziario".into(), "in_coda".into()),
        ]
    );

    // The delibera names its recipients; the history lists each transmission with its number.
    let res = rel
        .client
        .get(app.url(&format!("{}/delibera.pdf", case_path("consiglieri", id))))
        .send()
        .await
        .unwrap();
    let text = pdf_text(&res.bytes().await.unwrap());
    assert!(
        text.contains("Copia della presente delibera è trasmessa all'interessato, al difensore, Avv. Bianchi Anna, al magistrato competente presso: Tribunale di Vallenera e all'Agenzia delle Entrate"),
        "{text}"
    );
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    assert!(page.contains("Trasmissioni della delibera"), "{page}");
    assert!(page.contains("Protocollo in uscita n."), "{page}");
    assert!(
        page.contains("invio periodico all'Agenzia delle Entrate"),
        "{page}"
    );
    let (_, register) = seg
        .page(&app, &format!("/{SLUG}/segreteria/protocollo"))
        .await;
    assert!(register.contains("uscita, delibera"), "{register}");
    assert!(register.contains(&entries[0].1[0].sha256));
}

#[tokio::test]
async fn a_rejection_goes_to_the_applicant_and_the_lawyer_only() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let (app, _seals) = sealed_app(Some(&smtp)).await;
    let of = office(&app).await;
    seal_on(&app).await;
    set_office_pec(&app, &of, OFFICE_PEC).await;
    let (id, _) = submitted(&app, &of.o).await;
    let (_seg, rel) = in_examination(&app, &of, id).await;
    let res = propose(
        &app,
        &rel,
        id,
        &[("esito", "rigetto"), ("modello", "reddito")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let entries = outgoing(&app, id).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let kinds: Vec<&str> = entries[0].0.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["richiedente", "avvocato"]);
    assert_eq!(
        states(&app, id).await,
        [
            ("avvocato".into(), "in_coda".into()),
            ("richiedente".into(), "in_coda".into()),
        ]
    );
    let got = transmitted(&smtp, 2).await;
    assert_eq!(queued(&app, id).await, 2, "nothing for the judge");
    let mut conn = app.admin_connection().await;
    let to_office: i64 = sqlx::query_scalar("SELECT count(*) FROM app.outbox WHERE recipient = $1")
        .bind(OFFICE_PEC)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(to_office, 0);
    for m in &got {
        assert_eq!(m.attachments.len(), 1);
        assert!(m.text.contains("Esito: Rigetto"), "{}", m.text);
    }
    let res = rel
        .client
        .get(app.url(&format!("{}/delibera.pdf", case_path("consiglieri", id))))
        .send()
        .await
        .unwrap();
    let text = pdf_text(&res.bytes().await.unwrap());
    assert!(text.contains("Copia della presente delibera è trasmessa all'interessato e al difensore, Avv. Bianchi Anna (art. 126, comma 2, D.P.R. 115/2002)"), "{text}");
    assert!(!text.contains("Agenzia delle Entrate"), "{text}");
}

#[tokio::test]
async fn without_the_offices_pec_the_copy_waits_then_is_sent_or_handed_to_the_applicant() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let (app, _seals) = sealed_app(Some(&smtp)).await;
    let of = office(&app).await;
    seal_on(&app).await;
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
        assert_eq!(outgoing(&app, id).await.len(), 1, "only to the parties");
    }
    let (_, board) = seg.page(&app, &format!("/{SLUG}/segreteria")).await;
    assert!(
        board.contains("Da trasmettere all'ufficio giudiziario"),
        "{board}"
    );
    assert!(
        board.contains(&format!("trasmettere-{a}")) && board.contains(&format!("trasmettere-{b}"))
    );

    // The office has no PEC yet: said clearly, nothing sent.
    let url = format!("{}/trasmissione-ufficio", case_path("segreteria", a));
    let (_, page) = seg.page(&app, &case_path("segreteria", a)).await;
    assert!(page.contains("id=\"trasmissione-ufficio\""), "{page}");
    let v = version_of(&page);
    let office = of.o.office.to_string();
    let res = seg
        .post(
            &app,
            &url,
            &[("versione", &v), ("azione", "invia"), ("ufficio", &office)],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("non ha un indirizzo PEC")
    );
    let res = seg
        .post(
            &app,
            &url,
            &[("versione", &v), ("azione", "invia"), ("ufficio", "")],
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("ufficio giudiziario a cui trasmettere la delibera")
    );
    assert_eq!(outgoing(&app, a).await.len(), 1);

    // With the PEC set, the secretariat sends it.
    set_office_pec(&app, &of, OFFICE_PEC).await;
    let res = seg
        .post(
            &app,
            &url,
            &[("versione", &v), ("azione", "invia"), ("ufficio", &office)],
        )
        .await;
    assert_eq!(res.status(), 303);
    let entries = outgoing(&app, a).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1].0[0].kind, "ufficio_giudiziario");
    assert_eq!(entries[1].0[0].address.as_deref(), Some(OFFICE_PEC));
    let judge = {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(m) = smtp
                .received()
                .into_iter()
                .find(|m| m.to.contains(OFFICE_PEC))
            {
                break m;
            }
            assert!(Instant::now() < deadline, "no message to the office");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(judge.attachments.len(), 1);
    assert_eq!(sha(&judge.attachments[0].1), entries[1].1[0].sha256);
    // Sent once: a second try is refused.
    let (_, page) = seg.page(&app, &case_path("segreteria", a)).await;
    assert!(!page.contains("id=\"trasmissione-ufficio\""));
    let v2 = version_of(&page);
    let res = seg
        .post(
            &app,
            &url,
            &[("versione", &v2), ("azione", "invia"), ("ufficio", &office)],
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(outgoing(&app, a).await.len(), 2);

    // The other copy is handed to the applicant, who files it: no PEC, no outgoing entry.
    let (_, page) = seg.page(&app, &case_path("segreteria", b)).await;
    let v = version_of(&page);
    let res = seg
        .post(
            &app,
            &format!("{}/trasmissione-ufficio", case_path("segreteria", b)),
            &[("versione", &v), ("azione", "consegnata")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(outgoing(&app, b).await.len(), 1);
    let judge_state = |s: Vec<(String, String)>| {
        s.into_iter()
            .find(|(k, _)| k == "ufficio_giudiziario")
            .map(|(_, s)| s)
    };
    assert_eq!(
        judge_state(states(&app, a).await).as_deref(),
        Some("in_coda")
    );
    assert_eq!(
        judge_state(states(&app, b).await).as_deref(),
        Some("consegnata_al_richiedente")
    );
    let (_, page) = seg.page(&app, &case_path("segreteria", b)).await;
    assert!(
        page.contains("Consegnata al richiedente per il deposito"),
        "{page}"
    );
    let (_, board) = seg.page(&app, &format!("/{SLUG}/segreteria")).await;
    assert!(
        !board.contains("id=\"da-trasmettere\""),
        "the queue is empty"
    );
}

#[tokio::test]
async fn the_signed_delibera_opens_with_code_and_pin_and_for_its_own_lawyer_only() {
    let (app, _seals) = sealed_app(None).await;
    let of = office(&app).await;
    seal_on(&app).await;
    let (id, code, pin) = submitted_with_pin(&app, &of.o).await;
    let (_seg, rel) = in_examination(&app, &of, id).await;
    let res = propose(
        &app,
        &rel,
        id,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let signed = signed_file(&app, &rel, "consiglieri", id).await;
    let url = app.url(&format!("/{SLUG}/istanza/{id}/delibera"));

    // Without code and PIN: not the file.
    let (stranger, _) = client_with_jar();
    let res = stranger.get(&url).send().await.unwrap();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.bytes().await.unwrap();
    assert_ne!(body.as_ref(), signed.as_slice());
    assert!(kind.is_some_and(|k| k.starts_with("text/html")));
    let (guess, _) = client_with_jar();
    let res = guess
        .post(app.url(&format!("/{SLUG}/istanza/stato")))
        .form(&[("codice", code.as_str()), ("pin", "000000")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = guess.get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_ne!(
        body.as_ref(),
        signed.as_slice(),
        "a wrong PIN opens nothing"
    );

    // With code and PIN: the status page offers it, and it is the signed file.
    let (applicant, _) = client_with_jar();
    let res = applicant
        .post(app.url(&format!("/{SLUG}/istanza/stato")))
        .form(&[("codice", code.as_str()), ("pin", pin.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Scarica la delibera firmata"), "{page}");
    let res = applicant.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().as_ref(), signed.as_slice());

    // The lawyer of the case downloads it from their area; another lawyer cannot.
    let own = app
        .user(
            SLUG,
            "anna.bianchi@example.it",
            &[Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let own = app.login(&own).await;
    assert_eq!(signed_file(&app, &own, "avvocati", id).await, signed);
    let other_lawyer = {
        let tenant = patrocinio::store::tenants::find_by_slug(&app.db, SLUG)
            .await
            .unwrap()
            .unwrap();
        let mut tx = app.db.tenant_tx(tenant.id).await.unwrap();
        let l = lawyers::upsert(
            &mut tx,
            lawyers::NewLawyer {
                surname: "Neri",
                given_name: "Carlo",
                codice_fiscale: &crate::workflow::personal_cf("Neri", "Carlo"),
                register_number: Some("999"),
                pec: Some("carlo.neri@pec.avvocati.example.it"),
                email: None,
                matters: &[ListMatter::Civile],
                status: "attivo",
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        l
    };
    let other = app
        .user(
            SLUG,
            "carlo.neri@example.it",
            &[Role::Avvocato],
            false,
            Some(other_lawyer),
        )
        .await;
    let other = app.login(&other).await;
    let res = other
        .client
        .get(app.url(&format!("{}/delibera-firmata", case_path("avvocati", id))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_ne!(res.bytes().await.unwrap().as_ref(), signed.as_slice());
}

#[tokio::test]
async fn outgoing_and_incoming_entries_share_one_gapless_series_under_concurrency() {
    let app = spawn_app_with(|_| {}).await;
    let tenant = app
        .create_tenant(SLUG, patrocinio::store::tenants::TenantSettings::default())
        .await;
    // 60 registrations at once, half incoming and half outgoing; every fifth rolls back
    // after taking its number.
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..60 {
        let db = app.db.clone();
        let tenant = tenant.id;
        tasks.spawn(async move {
            let by = audit::Actor::anonymous("test");
            let outgoing = i % 2 == 1;
            let entry = NewEntry {
                direction: if outgoing {
                    Direction::Outgoing
                } else {
                    Direction::Incoming
                },
                kind: if outgoing { "delibera" } else { "istanza" },
                channel: if outgoing { "pec" } else { "portale" },
                application: None,
                subject: format!("registrazione {i}"),
                documents: vec![FiledDocument {
                    name: "delibera.pdf.p7m".into(),
                    kind: "delibera".into(),
                    sha256: "ab".repeat(32),
                }],
                by: &by,
            };
            let mut tx = db.tenant_tx(tenant).await.unwrap();
            if outgoing {
                let to = [Addressee {
                    kind: "ufficio_giudiziario".into(),
                    name: "Tribunale".into(),
                    address: Some(OFFICE_PEC.into()),
                }];
                protocol::register_outgoing(&mut tx, &entry, &to, &chrono::Utc::now)
                    .await
                    .unwrap();
            } else {
                protocol::register(&mut tx, &entry, &chrono::Utc::now)
                    .await
                    .unwrap();
            }
            if i % 5 == 0 {
                drop(tx);
            } else {
                tx.commit().await.unwrap();
            }
        });
    }
    tasks.join_all().await;
    let mut conn = app.admin_connection().await;
    let rows: Vec<(i32, String, serde_json::Value)> = sqlx::query_as(
        "SELECT number, direction, recipients FROM app.protocol_entries ORDER BY number",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let numbers: Vec<i32> = rows.iter().map(|r| r.0).collect();
    assert_eq!(
        numbers,
        (1..=48).collect::<Vec<i32>>(),
        "gapless, no duplicates"
    );
    let out = rows.iter().filter(|r| r.1 == "uscita").count();
    let inc = rows.iter().filter(|r| r.1 == "entrata").count();
    // i = 0, 10, 20 … (even, incoming) and 5, 15, 25 … (odd, outgoing) rolled back.
    assert_eq!((inc, out), (24, 24));
    assert!(
        rows.iter()
            .filter(|r| r.1 == "uscita")
            .all(|r| r.2[0]["address"] == OFFICE_PEC)
    );
    // An outgoing entry without recipients is refused.
    let mut tx = app.db.tenant_tx(tenant.id).await.unwrap();
    let by = audit::Actor::anonymous("test");
    let bare = NewEntry {
        direction: Direction::Outgoing,
        kind: "delibera",
        channel: "pec",
        application: None,
        subject: "senza destinatari".into(),
        documents: Vec::new(),
        by: &by,
    };
    assert!(
        protocol::register_outgoing(&mut tx, &bare, &[], &chrono::Utc::now)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_file_changed_after_its_registration_does_not_leave() {
    // No mail server yet: the transmissions wait in the outbox.
    let (app, _seals) = sealed_app(None).await;
    let of = office(&app).await;
    seal_on(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let (_seg, rel) = in_examination(&app, &of, id).await;
    let res = propose(
        &app,
        &rel,
        id,
        &[("esito", "rigetto"), ("modello", "reddito")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let mut conn = app.admin_connection().await;
    let key: String =
        sqlx::query_scalar("SELECT signed_key FROM app.decisions WHERE application_id = $1")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    std::fs::write(app.files_dir().join(&key), b"un altro file").unwrap();
    // An instance with a mail server takes the queue.
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let _sender = app.another_instance_with(mailing(&smtp)).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let refused: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT status, last_error FROM app.outbox WHERE template = 'delibera_trasmessa'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(refused.len(), 2);
        if refused.iter().all(|r| r.0 == "non_recapitabile") {
            for r in &refused {
                assert!(
                    r.1.as_deref()
                        .is_some_and(|e| e.contains("non corrisponde a quello registrato")),
                    "{r:?}"
                );
            }
            break;
        }
        assert!(refused.iter().all(|r| r.0 != "inviato"), "{refused:?}");
        assert!(Instant::now() < deadline, "{refused:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        smtp.received()
            .iter()
            .all(|m| !m.subject.contains("prot. n.")),
        "nothing left with a file other than the registered one"
    );
}
