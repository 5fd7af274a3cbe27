//! Backups of the embedded PostgreSQL and the file store, their restore and the restore drill,
//! through the binary itself.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Output};

use super::embedded::{command, start, status_of, stop};

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
