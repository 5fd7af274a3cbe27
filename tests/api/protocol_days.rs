//! The daily protocol register: produced once per Ordine and day for the days before today
//! (Rome), immutable, listing the day's entries; listed and downloadable on its page; any
//! range printed on request.

use chrono::{Days, Utc};
use patrocinio::{
    documents::{pdf::PdfEngine, protocol_register::Producer},
    domain::time,
};
use sha2::{Digest, Sha256};
use sqlx::Executor;
use uuid::Uuid;

use crate::{
    helpers::spawn_app,
    workflow::{SLUG, office, pdf_text, register, submitted},
};

#[tokio::test]
async fn the_daily_register_is_produced_once_immutable_and_lists_the_days_entries() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (a, _) = submitted(&app, &of.o).await;
    let (b, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    let first = register(&app, &seg, a).await;
    let second = register(&app, &seg, b).await;
    // An entry of two days ago (an outgoing one, as another part of the office will make).
    let mut conn = app.admin_connection().await;
    conn.execute(
        "INSERT INTO app.protocol_entries (tenant_id, year, number, registered_at, direction,
             kind, channel, subject, documents_sha256, registered_by_label, recipients)
         SELECT tenant_id, year, 900, now() - interval '2 days', 'uscita', 'delibera', 'pec',
             'Comunicazione di un altro giorno', repeat('a', 64), 'Segreteria (prova)',
             '[{\"kind\": \"richiedente\", \"name\": \"Mario Rossi\", \"address\": \"m.rossi@example.it\"}]'
         FROM app.protocol_entries LIMIT 1",
    )
    .await
    .unwrap();

    // Nothing for today while today lasts.
    let pdf = PdfEngine::new();
    let producer = Producer {
        db: &app.db,
        pdf: &pdf,
        storage: &app.storage,
        seal_dir: None,
    };
    let today = time::rome_date(Utc::now());
    assert_eq!(
        producer.run(Utc::now()).await.unwrap(),
        2,
        "two days ago and yesterday"
    );
    // After midnight: today's, once, even with two instances at it together.
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    let (x, y) = tokio::join!(producer.run(tomorrow), producer.run(tomorrow));
    assert_eq!(x.unwrap() + y.unwrap(), 1);
    assert_eq!(producer.run(tomorrow).await.unwrap(), 0);
    let days: Vec<(Uuid, chrono::NaiveDate, i32, String)> = sqlx::query_as(
        "SELECT id, day, entries, pdf_sha256 FROM app.protocol_daily_registers ORDER BY day",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let expected_days: Vec<_> = (0..3).map(|i| today - Days::new(2 - i)).collect();
    assert_eq!(days.iter().map(|d| d.1).collect::<Vec<_>>(), expected_days);
    assert_eq!(days.iter().map(|d| d.2).collect::<Vec<_>>(), vec![1, 0, 2]);

    // Listed on its page, downloadable, the same bytes as their recorded SHA-256.
    let base = format!("/{SLUG}/segreteria/protocollo");
    let (status, page) = seg.page(&app, &format!("{base}/registri")).await;
    assert_eq!(status, 200);
    for (id, day, _, sha) in &days {
        assert!(page.contains(&format!("{base}/registri/{id}")));
        assert!(page.contains(&time::format_date(*day)));
        assert!(page.contains(sha.as_str()));
    }
    let (_, protocol_page) = seg.page(&app, &base).await;
    assert!(protocol_page.contains(&format!("{base}/registri")));
    let get = async |path: String| {
        let res = seg.client.get(app.url(&path)).send().await.unwrap();
        (res.status().as_u16(), res.bytes().await.unwrap().to_vec())
    };
    let mut texts = Vec::new();
    for (id, _, _, sha) in &days {
        let (status, bytes) = get(format!("{base}/registri/{id}")).await;
        assert_eq!(status, 200);
        assert!(bytes.starts_with(b"%PDF-"));
        assert_eq!(&hex::encode(Sha256::digest(&bytes)), sha);
        texts.push(pdf_text(&bytes));
    }
    assert!(
        texts[0].contains("Comunicazione di un altro giorno"),
        "{}",
        texts[0]
    );
    assert!(texts[0].contains("uscita"));
    assert!(!texts[0].contains(&first));
    assert!(texts[1].contains("Nessuna registrazione nel periodo"));
    assert!(texts[2].contains(&first) && texts[2].contains(&second));
    assert!(texts[2].contains("entrata"));
    assert!(!texts[2].contains("Comunicazione di un altro giorno"));
    assert!(texts[2].contains(&format!(
        "Registro giornaliero di protocollo del {}",
        time::format_date(today)
    )));
    let (status, _) = get(format!("{base}/registri/{}/sigillato", days[2].0)).await;
    assert_eq!(status, 404, "no seal configured, no sealed copy");

    // Never changed nor removed.
    for statement in [
        "UPDATE app.protocol_daily_registers SET entries = 9",
        "DELETE FROM app.protocol_daily_registers",
        "TRUNCATE app.protocol_daily_registers",
    ] {
        let err = conn.execute(statement).await.unwrap_err().to_string();
        assert!(
            err.contains("il registro giornaliero di protocollo non si modifica"),
            "{statement}: {err}"
        );
    }

    // Any range prints, recorded in the audit log.
    let from = (today - Days::new(2)).format("%Y-%m-%d");
    let (status, bytes) = get(format!("{base}/stampa.pdf?dal={from}&al={today}")).await;
    assert_eq!(status, 200);
    let text = pdf_text(&bytes);
    assert!(text.contains("Comunicazione di un altro giorno") && text.contains(&second));
    let printed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.audit_log WHERE action = 'registro_protocollo_stampato'
           AND details->>'righe' = '3'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(printed, 1);
    // A range the wrong way round, or too long: said on the page, the dates kept.
    let (status, body) = seg
        .page(&app, &format!("{base}/stampa.pdf?dal={today}&al={from}"))
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("La data finale precede quella iniziale"));
    assert!(body.contains(&format!("value=\"{from}\"")));
    let (status, body) = seg
        .page(
            &app,
            &format!("{base}/stampa.pdf?dal=2020-01-01&al={today}"),
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("Il periodo supera 366 giorni"));
}

#[tokio::test]
async fn an_ordine_with_its_seal_gets_each_daily_register_sealed() {
    let seals = tempfile::tempdir().unwrap();
    let seal = crate::signing::Signer::new("80012345678");
    std::fs::write(seals.path().join(format!("{SLUG}.pem")), seal.pem()).unwrap();
    let app = spawn_app().await;
    let of = office(&app).await;
    let mut conn = app.admin_connection().await;
    conn.execute("UPDATE app.tenants SET settings = settings || '{\"seal\": true}'")
        .await
        .unwrap();
    let (a, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    let number = register(&app, &seg, a).await;
    let pdf = PdfEngine::new();
    let producer = Producer {
        db: &app.db,
        pdf: &pdf,
        storage: &app.storage,
        seal_dir: Some(seals.path()),
    };
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    assert_eq!(producer.run(tomorrow).await.unwrap(), 1);
    let (id, sha): (Uuid, String) =
        sqlx::query_as("SELECT id, pdf_sha256 FROM app.protocol_daily_registers")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let base = format!("/{SLUG}/segreteria/protocollo");
    let (_, page) = seg.page(&app, &format!("{base}/registri")).await;
    assert!(page.contains(&format!("{base}/registri/{id}/sigillato")));
    let res = seg
        .client
        .get(app.url(&format!("{base}/registri/{id}/sigillato")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let envelope = res.bytes().await.unwrap();
    // The seal covers the register as kept: its content is the PDF of the recorded SHA-256.
    let report = patrocinio::documents::signature::verify_cades(&envelope, Utc::now()).unwrap();
    let content = report.content.expect("the register inside the envelope");
    assert_eq!(hex::encode(Sha256::digest(&content)), sha);
    assert!(pdf_text(&content).contains(&number));
}
