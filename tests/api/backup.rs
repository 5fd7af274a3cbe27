//! Backups of the embedded PostgreSQL and the file store, their restore and the restore drill,
//! through the binary itself.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Output, time::Duration};

use sqlx::Connection;

use super::embedded::{Running, command, start, status_of, stop};

fn run(data: &Path, backups: &Path, args: &[&str]) -> (Output, String) {
    let out = command(data)
        .env("PATROCINIO_BACKUP_DIR", backups)
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, text)
}

fn open_dir(path: &Path) {
    std::fs::create_dir_all(path).unwrap();
    // When the tests run as root, the server runs as `postgres`, which must reach the folder.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn backup_is_verified_restored_and_drilled() {
    let tmp = tempfile::tempdir().unwrap();
    open_dir(tmp.path());
    let data = tmp.path().join("dati");
    let backups = tmp.path().join("backup");
    open_dir(&data);

    // Some data and files: the demo Ordine with its applications and attachments.
    let mut cmd = command(&data);
    cmd.args(["serve", "--demo"]);
    let first = start(cmd);
    let (status, stderr) = stop(first);
    assert!(status.success(), "{stderr}");

    let (out, text) = run(&data, &backups, &["stato"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Ultimo backup: nessuno"), "{text}");
    assert!(
        text.contains("Ultima prova di ripristino: mai eseguita"),
        "{text}"
    );

    // The backup, verified and listed with its size and duration.
    let (out, text) = run(&data, &backups, &["backup"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("verificato"), "{text}");
    let (out, text) = run(&data, &backups, &["backup", "list"]);
    assert!(out.status.success(), "{text}");
    let line = text.lines().next().unwrap().to_owned();
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields.len(), 6, "{line}");
    let name = fields[0].to_owned();
    assert!(name.ends_with('Z') && name.len() == 16, "{line}");
    let megabytes: f64 = fields[1].trim_end_matches(" MB").parse().unwrap();
    assert!(megabytes > 1.0, "a cluster is more than a megabyte: {line}");
    let ms: u64 = fields[2].trim_end_matches(" ms").parse().unwrap();
    assert!(ms > 0, "{line}");
    assert_eq!(fields[3], "verificato", "{line}");
    let files: u64 = fields[4].trim_end_matches(" file").parse().unwrap();
    assert!(files > 0, "the demo's files are in the backup: {line}");
    let descriptor: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backups.join(&name).join("backup.json")).unwrap())
            .unwrap();
    assert!(
        descriptor["counts"]["demo"]["applications"]
            .as_i64()
            .unwrap()
            > 0
    );
    assert!(
        descriptor["counts"]["demo"]["attachments"]
            .as_i64()
            .unwrap()
            > 0
    );

    // The drill passes, its report is printed and stored, and the status shows its date.
    let (out, text) = run(&data, &backups, &["prova-ripristino"]);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("SUPERATA"), "{text}");
    for check in [
        "[ok] verifica del backup",
        "[ok] righe per Ordine",
        "[ok] sicurezza per riga (ENABLE + FORCE)",
        "[ok] impronte SHA-256 dei file",
        "[ok] catena del registro di audit",
    ] {
        assert!(text.contains(check), "{check} missing: {text}");
    }
    assert!(!text.contains("[NO]"), "{text}");
    assert!(backups.join("ultima-prova-di-ripristino.json").exists());
    let (_, text) = run(&data, &backups, &["stato"]);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(
        text.contains(&format!("Ultima prova di ripristino: {today}")) && text.contains("superata"),
        "{text}"
    );
    assert!(text.contains(&format!("Ultimo backup: {name}")), "{text}");

    // Restore refuses the data folder of a running server, and a non-empty one.
    let mut cmd = command(&data);
    cmd.arg("serve");
    let running = start(cmd);
    let (out, text) = run(&data, &backups, &["restore", &name]);
    assert!(!out.status.success());
    assert!(text.contains("in esecuzione"), "{text}");
    let (status, stderr) = stop(running);
    assert!(status.success(), "{stderr}");
    let (out, text) = run(&data, &backups, &["restore", &name]);
    assert!(!out.status.success());
    assert!(text.contains("non è vuota"), "{text}");

    // Restored into an empty folder, `serve` starts on it with the same rows.
    let restored = tmp.path().join("ripristinati");
    open_dir(&restored);
    let (out, text) = run(&restored, &backups, &["restore", &name]);
    assert!(out.status.success(), "{text}");
    let (out, source_audit) = run(&data, &backups, &["audit", "verify"]);
    assert!(out.status.success(), "{source_audit}");
    let (out, restored_audit) = run(&restored, &backups, &["audit", "verify"]);
    assert!(out.status.success(), "{restored_audit}");
    assert_eq!(source_audit, restored_audit);
    assert!(restored_audit.contains("demo: "), "{restored_audit}");
    let mut cmd = command(&restored);
    cmd.arg("serve");
    let second = start(cmd);
    assert_eq!(status_of(&format!("{}/demo", second.url)).await, 200);
    assert_eq!(status_of(&format!("{}/ready", second.url)).await, 200);
    let (status, stderr) = stop(second);
    assert!(status.success(), "{stderr}");

    // A damaged backup fails its verification; the drill fails and says so; no restore.
    let control = backups.join(&name).join("pgdata/global/pg_control");
    let mut bytes = std::fs::read(&control).unwrap();
    bytes[100] ^= 0xff;
    std::fs::write(&control, bytes).unwrap();
    let (out, text) = run(&data, &backups, &["backup", "verifica", &name]);
    assert!(!out.status.success());
    assert!(text.contains("backup alterato"), "{text}");
    assert!(text.contains("pg_control"), "{text}");
    let (out, text) = run(&data, &backups, &["prova-ripristino"]);
    assert!(!out.status.success());
    assert!(
        text.contains("FALLITA") && text.contains("[NO] verifica del backup"),
        "{text}"
    );
    let (_, text) = run(&data, &backups, &["stato"]);
    assert!(text.contains("FALLITA"), "{text}");
    let empty = tmp.path().join("vuota");
    open_dir(&empty);
    let (out, text) = run(&empty, &backups, &["restore", &name]);
    assert!(!out.status.success());
    assert!(text.contains("nulla è stato ripristinato"), "{text}");
    assert!(!empty.join("postgres").exists());
}

/// The superuser's connection to the embedded cluster of a running `serve` (its port is printed,
/// its password is in the data folder).
async fn superuser(data: &Path, running: &Running) -> sqlx::PgConnection {
    let port = running
        .stdout
        .iter()
        .find_map(|l| l.split("(porta ").nth(1))
        .and_then(|p| p.trim_end_matches(')').parse::<u16>().ok())
        .expect("the embedded server's port is printed");
    let credentials: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("postgres-credentials.json")).unwrap())
            .unwrap();
    let password = credentials["superuser_password"].as_str().unwrap();
    sqlx::PgConnection::connect(&format!(
        "postgres://postgres:{password}@127.0.0.1:{port}/patrocinio"
    ))
    .await
    .unwrap()
}

async fn ordine_name(conn: &mut sqlx::PgConnection) -> String {
    sqlx::query_scalar("SELECT name FROM app.tenants WHERE slug = 'demo'")
        .fetch_one(conn)
        .await
        .unwrap()
}

/// Polls for `path` (the work of a background task), up to a generous bound.
async fn wait_for_file(path: &Path) {
    for _ in 0..1200 {
        if path.exists() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{} never appeared", path.display());
}

#[tokio::test]
async fn serve_backs_up_daily_and_a_restore_reaches_a_point_in_time() {
    let tmp = tempfile::tempdir().unwrap();
    open_dir(tmp.path());
    let data = tmp.path().join("dati");
    let backups = tmp.path().join("backup");
    open_dir(&data);

    // `serve` with the daily backup due this very hour (Rome): none exists yet, so the run due
    // is taken at start, on the running cluster.
    let hour = chrono::Utc::now()
        .with_timezone(&chrono_tz::Europe::Rome)
        .format("%H")
        .to_string();
    let token = "t".repeat(40);
    let mut cmd = command(&data);
    cmd.args(["serve", "--demo"])
        .env("PATROCINIO_BACKUP_DIR", &backups)
        .env("PATROCINIO_BACKUP_HOUR", &hour)
        .env("PATROCINIO_METRICS_TOKEN", &token);
    let running = start(cmd);
    wait_for_file(&backups.join("ultimo-backup-giornaliero.json")).await;
    let (out, text) = run(&data, &backups, &["stato"]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("Ultimo backup giornaliero: ") && text.contains("riuscito"),
        "{text}"
    );
    let (_, list) = run(&data, &backups, &["backup", "list"]);
    let name = list
        .lines()
        .next()
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    assert!(list.contains("verificato"), "{list}");
    let descriptor: serde_json::Value =
        serde_json::from_slice(&std::fs::read(backups.join(&name).join("backup.json")).unwrap())
            .unwrap();
    assert!(
        descriptor["point"]["restore_point"]
            .as_str()
            .unwrap()
            .contains(&name)
    );
    // /metrics shows the backup's age.
    let metrics = reqwest::Client::new()
        .get(format!("{}/metrics", running.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("\npatrocinio_backup_age_seconds "),
        "{metrics}"
    );

    // A, then the moment to go back to, then B; B's segment is completed and archived.
    let mut conn = superuser(&data, &running).await;
    sqlx::query("UPDATE app.tenants SET name = 'Ordine nello stato A' WHERE slug = 'demo'")
        .execute(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let between: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("SELECT clock_timestamp()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    sqlx::query("UPDATE app.tenants SET name = 'Ordine nello stato B' WHERE slug = 'demo'")
        .execute(&mut conn)
        .await
        .unwrap();
    let segment: String = sqlx::query_scalar("SELECT pg_walfile_name(pg_switch_wal())")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let system: i64 = sqlx::query_scalar("SELECT system_identifier FROM pg_control_system()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let archive = backups.join("wal").join((system as u64).to_string());
    wait_for_file(&archive.join(&segment)).await;

    // The moments the backup and the archive cannot reach are refused, with nothing written.
    let elsewhere = tmp.path().join("altrove");
    open_dir(&elsewhere);
    let before = chrono::DateTime::parse_from_rfc3339(descriptor["started_at"].as_str().unwrap())
        .unwrap()
        - chrono::Duration::minutes(5);
    let (out, text) = run(
        &elsewhere,
        &backups,
        &["restore", &name, "--to", &before.to_rfc3339()],
    );
    assert!(!out.status.success());
    assert!(text.contains("precede la fine del backup"), "{text}");
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (out, text) = run(&elsewhere, &backups, &["restore", &name, "--to", &later]);
    assert!(!out.status.success());
    assert!(
        text.contains("successivo all'ultima transazione del WAL archiviato"),
        "{text}"
    );
    let (out, text) = run(&elsewhere, &backups, &["restore", &name, "--to", "ieri"]);
    assert!(!out.status.success());
    assert!(text.contains("momento non valido"), "{text}");
    assert!(!elsewhere.join("postgres").exists());

    // Restored to the moment between A and B: A is there, B is not; `serve` starts on it.
    let restored = tmp.path().join("ripristinati");
    open_dir(&restored);
    let (out, text) = run(
        &restored,
        &backups,
        &["restore", &name, "--to", &between.to_rfc3339()],
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("ripristinato"), "{text}");
    let (status, stderr) = stop(running);
    assert!(status.success(), "{stderr}");
    let mut cmd = command(&restored);
    cmd.arg("serve").env("PATROCINIO_BACKUP_DIR", &backups);
    let second = start(cmd);
    assert_eq!(status_of(&format!("{}/ready", second.url)).await, 200);
    assert_eq!(status_of(&format!("{}/demo", second.url)).await, 200);
    let mut conn = superuser(&restored, &second).await;
    assert_eq!(ordine_name(&mut conn).await, "Ordine nello stato A");
    conn.close().await.unwrap();
    let (status, stderr) = stop(second);
    assert!(status.success(), "{stderr}");
    let (out, text) = run(&restored, &backups, &["audit", "verify"]);
    assert!(out.status.success(), "{text}");

    // Without --to, the backup's own point: the live backup's drill passes, its counts
    // exact at its restore point.
    let (out, text) = run(&data, &backups, &["prova-ripristino"]);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("SUPERATA") && !text.contains("[NO]"),
        "{text}"
    );
    let plain = tmp.path().join("al-backup");
    open_dir(&plain);
    let (out, text) = run(&plain, &backups, &["restore", &name]);
    assert!(out.status.success(), "{text}");
    let mut cmd = command(&plain);
    cmd.arg("serve").env("PATROCINIO_BACKUP_DIR", &backups);
    let third = start(cmd);
    let mut conn = superuser(&plain, &third).await;
    assert_ne!(ordine_name(&mut conn).await, "Ordine nello stato A");
    assert_ne!(ordine_name(&mut conn).await, "Ordine nello stato B");
    conn.close().await.unwrap();
    let (status, stderr) = stop(third);
    assert!(status.success(), "{stderr}");
}
