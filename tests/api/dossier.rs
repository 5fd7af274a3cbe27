//! The dossier (fascicolo, issue 14 point 7): one application's ZIP with every document, the
//! history and the audit entries as a PDF/A and a manifest whose digests verify, sealed by the
//! Ordine; the admissions of a period in one archive; the secretariat's only, in its Ordine.

use std::io::{Cursor, Read};

use patrocinio::domain::access::Role;
use sha2::Digest;
use uuid::Uuid;

use crate::{
    helpers::{LoggedIn, TestApp},
    transmissions::{seal_on, sealed_app, signed_file},
    workflow::{SLUG, case_path, in_examination, office, pdf_text, propose, submitted},
};

fn sha(bytes: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The archive's files by name.
pub(crate) fn unzip(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).expect("a ZIP archive");
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut content = Vec::new();
            f.read_to_end(&mut content).unwrap();
            (f.name().unwrap().to_string(), content)
        })
        .collect()
}

fn file<'a>(files: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &files
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("{name} in {:?}", names(files)))
        .1
}

pub(crate) fn names(files: &[(String, Vec<u8>)]) -> Vec<&str> {
    files.iter().map(|(n, _)| n.as_str()).collect()
}

/// Every line of the manifest names a file of the archive with its SHA-256, and every file
/// but the manifest and its sealed copy is listed.
pub(crate) fn check_manifest(files: &[(String, Vec<u8>)]) -> String {
    let manifest = String::from_utf8(file(files, "manifest.sha256").to_vec()).unwrap();
    let mut listed = Vec::new();
    for line in manifest.lines() {
        let (digest, name) = line.split_once("  ").expect("sha256sum format");
        assert_eq!(digest, sha(file(files, name)), "{name}");
        listed.push(name);
    }
    for (name, _) in files {
        if !name.starts_with("manifest.sha256") {
            assert!(
                listed.contains(&name.as_str()),
                "{name} not in the manifest"
            );
        }
    }
    manifest
}

async fn get_zip(app: &TestApp, who: &LoggedIn, path: &str) -> reqwest::Response {
    who.client.get(app.url(path)).send().await.unwrap()
}

#[tokio::test]
async fn the_dossier_holds_every_document_and_its_sealed_manifest_verifies() {
    let (app, seals) = sealed_app(None).await;
    let of = office(&app).await;
    seal_on(&app).await;
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

    // The case page offers it.
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    let link = format!("{}/fascicolo.zip", case_path("segreteria", id));
    assert!(page.contains(&link), "{page}");

    let res = get_zip(&app, &seg, &link).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    let bytes = res.bytes().await.unwrap();
    let files = unzip(&bytes);
    let manifest = check_manifest(&files);

    let mut conn = app.admin_connection().await;
    let (number, attachments): (String, i64) = sqlx::query_as(
        "SELECT p.protocol_year || '-' || lpad(p.protocol_number::text, 7, '0'),
                (SELECT count(*) FROM app.attachments a WHERE a.application_id = p.id)
           FROM app.applications p WHERE p.id = $1",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(
        disposition.contains(&format!("fascicolo-{number}.zip")),
        "{disposition}"
    );
    let all = names(&files);
    assert!(all.contains(&"LEGGIMI.txt"), "{all:?}");
    assert!(
        pdf_text(file(&files, &format!("istanza-{code}.pdf"))).contains(&code),
        "the application"
    );
    assert!(
        pdf_text(file(&files, &format!("ricevuta-{code}.pdf"))).contains(&code),
        "its receipt"
    );
    assert!(attachments > 0);
    assert_eq!(
        all.iter().filter(|n| n.starts_with("allegati/")).count() as i64,
        attachments,
        "{all:?}"
    );
    // The sealed delibera is the file that was sent.
    let delibera = all
        .iter()
        .find(|n| n.starts_with("delibera/") && n.ends_with(".p7m"))
        .unwrap_or_else(|| panic!("{all:?}"));
    assert_eq!(sha(file(&files, delibera)), sha(&signed));
    assert!(
        all.iter()
            .any(|n| n.starts_with("delibera/") && n.ends_with(".pdf"))
    );

    // History, protocol (incoming and outgoing), transmissions and audit entries, in words.
    let text = pdf_text(file(&files, &format!("fascicolo-{number}.pdf")));
    let shown = number.replace('-', "/");
    for expected in [
        format!("Fascicolo della pratica {shown}"),
        "Registrazioni di protocollo".into(),
        "entrata".into(),
        "uscita".into(),
        "Trasmissioni della delibera".into(),
        "Interessato".into(),
        "Cronologia della pratica".into(),
        "Registro delle attività".into(),
        format!("Consultata la pratica {shown}"),
    ] {
        assert!(text.contains(&expected), "{expected} in {text}");
    }

    // The seal: the signed manifest is the manifest.
    let dir = tempfile::tempdir().unwrap();
    let p7m = dir.path().join("m.p7m");
    std::fs::write(&p7m, file(&files, "manifest.sha256.p7m")).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["cms", "-verify", "-inform", "DER", "-noverify", "-in"])
        .arg(&p7m)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), manifest);
    drop(seals);

    // Recorded in the audit log.
    let exported: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.audit_log
          WHERE action = 'fascicolo_esportato' AND target_id = $1::text
            AND details->>'manifesto_sha256' = $2",
    )
    .bind(id)
    .bind(sha(manifest.as_bytes()))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(exported, 1);
}

#[tokio::test]
async fn the_dossier_is_the_secretariats_and_only_of_its_own_ordine() {
    let (app, _seals) = sealed_app(None).await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let (seg, rel) = in_examination(&app, &of, id).await;
    let path = format!("{}/fascicolo.zip", case_path("segreteria", id));
    let res = get_zip(&app, &rel, &path).await;
    assert!(
        matches!(res.status().as_u16(), 403 | 404),
        "a councillor: {}",
        res.status()
    );
    let unknown = format!("{}/fascicolo.zip", case_path("segreteria", Uuid::new_v4()));
    assert_eq!(get_zip(&app, &seg, &unknown).await.status(), 404);
    // Without a seal, no sealed manifest; the manifest still verifies.
    let res = get_zip(&app, &seg, &path).await;
    assert_eq!(res.status(), 200);
    let files = unzip(&res.bytes().await.unwrap());
    check_manifest(&files);
    assert!(!names(&files).contains(&"manifest.sha256.p7m"));
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
    let res = get_zip(&app, &admin, &path).await;
    assert!(
        matches!(res.status().as_u16(), 403 | 404),
        "{}",
        res.status()
    );
}

#[tokio::test]
async fn the_admissions_of_a_period_come_in_one_archive_a_folder_each() {
    let (app, _seals) = sealed_app(None).await;
    let of = office(&app).await;
    seal_on(&app).await;
    let (admitted, _) = submitted(&app, &of.o).await;
    let (rejected, _) = submitted(&app, &of.o).await;
    let (seg, rel) = in_examination(&app, &of, admitted).await;
    crate::workflow::register_and_assign(&app, &seg, rejected, of.councillors[0].id).await;
    let res = propose(
        &app,
        &rel,
        admitted,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = propose(
        &app,
        &rel,
        rejected,
        &[("esito", "rigetto"), ("modello", "reddito")],
    )
    .await;
    assert_eq!(res.status(), 303);

    let base = format!("/{SLUG}/segreteria/fascicoli");
    let (_, page) = seg.page(&app, &base).await;
    assert!(page.contains("Ammissioni di un periodo"), "{page}");

    // A period the wrong way round: explained, the dates kept.
    let res = get_zip(
        &app,
        &seg,
        &format!("{base}.zip?dal=2026-12-31&al=2026-01-01"),
    )
    .await;
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("La data finale precede quella iniziale"),
        "{body}"
    );
    assert!(body.contains("value=\"2026-12-31\""), "{body}");
    // A period without admissions.
    let res = get_zip(
        &app,
        &seg,
        &format!("{base}.zip?dal=2001-01-01&al=2001-12-31"),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Nessuna ammissione deliberata nel periodo")
    );

    let today = chrono::Utc::now().date_naive();
    let (from, to) = (today - chrono::Days::new(1), today + chrono::Days::new(1));
    let res = get_zip(&app, &seg, &format!("{base}.zip?dal={from}&al={to}")).await;
    assert_eq!(res.status(), 200);
    let files = unzip(&res.bytes().await.unwrap());
    check_manifest(&files);
    let mut conn = app.admin_connection().await;
    let folder = |id: Uuid| {
        sqlx::query_scalar::<_, String>(
            "SELECT protocol_year || '-' || lpad(protocol_number::text, 7, '0')
               FROM app.applications WHERE id = $1",
        )
        .bind(id)
    };
    let yes = folder(admitted).fetch_one(&mut conn).await.unwrap();
    let no = folder(rejected).fetch_one(&mut conn).await.unwrap();
    let all = names(&files);
    assert!(
        all.contains(&format!("{yes}/fascicolo-{yes}.pdf").as_str()),
        "{all:?}"
    );
    assert!(
        all.iter()
            .any(|n| n.starts_with(&format!("{yes}/delibera/"))),
        "{all:?}"
    );
    assert!(
        !all.iter().any(|n| n.starts_with(&format!("{no}/"))),
        "a rejection is not in it: {all:?}"
    );
    assert!(all.contains(&"manifest.sha256.p7m"));
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.audit_log
          WHERE action = 'fascicoli_esportati' AND (details->>'pratiche')::int = 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}
