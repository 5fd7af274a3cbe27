//! The README's pgBackRest configuration for an external PostgreSQL, exercised for real: a
//! PostgreSQL started from the system binaries archives its WAL with `pgbackrest
//! archive-push`; `stanza-create`, `check`, a full `backup`, `verify`; rows written after the
//! backup are archived; `restore` into a scratch folder replays the archive, and the copy
//! started on its own port holds exactly the source's rows.

use std::{
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use patrocinio::db::embedded::{DEBIAN_LIB_ROOT, find_server_binaries};
use sqlx::Connection;

const STANZA: &str = "patrocinio";

/// The README's configuration, with this test's folders.
fn configuration(root: &Path, port: u16) -> String {
    format!(
        "[global]
repo1-path={root}/repo
repo1-retention-full-type=time
repo1-retention-full=90
start-fast=y
log-level-console=warn
log-level-file=info
log-path={root}/log
lock-path={root}/lock
spool-path={root}/spool

[{STANZA}]
pg1-path={root}/pg
pg1-port={port}
pg1-socket-path={root}/sock
",
        root = root.display()
    )
}

/// Runs as the `postgres` system user when we are root (PostgreSQL and pgBackRest refuse root).
fn as_postgres(cmd: &mut Command) -> &mut Command {
    if nix::unistd::geteuid().is_root() {
        let user = nix::unistd::User::from_name("postgres")
            .unwrap()
            .expect("the postgres system user");
        cmd.uid(user.uid.as_raw())
            .gid(user.gid.as_raw())
            .current_dir("/");
    }
    cmd
}

fn check(cmd: &mut Command) -> String {
    let out = as_postgres(cmd)
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed: {text}");
    text
}

fn give_to_postgres(path: &Path) {
    if nix::unistd::geteuid().is_root() {
        let user = nix::unistd::User::from_name("postgres").unwrap().unwrap();
        nix::unistd::chown(path, Some(user.uid), Some(user.gid)).unwrap();
    }
}

/// A PostgreSQL cluster of this test, stopped on drop.
struct Cluster {
    pg_ctl: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn start(&self, log: &Path, settings: &[String]) {
        let mut options = format!(
            "-c port={} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            // The configuration's pg1-socket-path: the folder beside the data directory.
            self.dir.parent().unwrap().join("sock").display()
        );
        for s in settings {
            options.push_str(" -c ");
            options.push_str(s);
        }
        check(
            Command::new(&self.pg_ctl)
                .arg("-D")
                .arg(&self.dir)
                .arg("-l")
                .arg(log)
                .args(["-o", &options, "-w", "-t", "120", "start"]),
        );
    }

    async fn connect(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            self.port
        ))
        .await
        .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut cmd = Command::new(&self.pg_ctl);
        cmd.arg("-D")
            .arg(&self.dir)
            .args(["-m", "fast", "-w", "stop"]);
        let _ = as_postgres(&mut cmd).output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Row count and a digest of every row, in order.
async fn fingerprint(conn: &mut sqlx::PgConnection) -> (i64, String) {
    sqlx::query_as(
        "SELECT count(*), md5(coalesce(string_agg(id::text || ':' || note, ',' ORDER BY id), ''))
           FROM registro",
    )
    .fetch_one(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn pgbackrest_backs_up_verifies_and_restores_an_external_postgresql() {
    let pgbackrest = Path::new("/usr/bin/pgbackrest");
    assert!(
        pgbackrest.exists(),
        "pgbackrest is not installed: tests/run installs the Debian package `pgbackrest`"
    );
    let binaries = &find_server_binaries(
        None,
        std::env::var_os("PATH").as_deref(),
        Path::new(DEBIAN_LIB_ROOT),
    )
    .unwrap()[0];
    let tool = |name: &str| patrocinio::backup::tool(binaries, name);

    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    for sub in ["repo", "log", "lock", "spool", "sock", "pg", "restored"] {
        std::fs::create_dir(root.join(sub)).unwrap();
        give_to_postgres(&root.join(sub));
    }
    give_to_postgres(&root);
    let port = free_port();
    let conf = root.join("pgbackrest.conf");
    std::fs::write(&conf, configuration(&root, port)).unwrap();
    give_to_postgres(&conf);
    let backrest = |args: &[&str]| {
        let mut cmd = Command::new(pgbackrest);
        cmd.arg(format!("--config={}", conf.display()))
            .arg(format!("--stanza={STANZA}"))
            .args(args);
        check(&mut cmd)
    };

    // The source: initdb from the system's binaries, archiving through pgBackRest as the README
    // says.
    check(
        Command::new(tool("initdb"))
            .arg("-D")
            .arg(root.join("pg"))
            .args(["-U", "postgres", "--auth=trust", "--no-instructions"])
            .env("LC_ALL", "C.UTF-8"),
    );
    let source = Cluster {
        pg_ctl: tool("pg_ctl"),
        dir: root.join("pg"),
        port,
    };
    source.start(
        &root.join("log/source.log"),
        &[
            "archive_mode=on".into(),
            format!(
                "archive_command='pgbackrest --config={} --stanza={STANZA} archive-push %p'",
                conf.display()
            ),
            "wal_level=replica".into(),
        ],
    );
    let mut conn = source.connect().await;
    sqlx::query("CREATE TABLE registro (id int PRIMARY KEY, note text NOT NULL)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO registro SELECT g, 'prima del backup ' || g FROM generate_series(1, 5000) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    backrest(&["stanza-create"]);
    backrest(&["check"]);
    backrest(&["--type=full", "backup"]);
    backrest(&["verify"]);
    let info = backrest(&["info"]);
    assert!(info.contains("full backup"), "{info}");
    assert!(info.contains("status: ok"), "{info}");

    // Written after the backup: only the archived WAL brings these back.
    sqlx::query(
        "INSERT INTO registro SELECT g, 'dopo il backup ' || g FROM generate_series(5001, 6000) g",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    sqlx::query("UPDATE registro SET note = note || ' (corretta)' WHERE id % 7 = 0")
        .execute(&mut conn)
        .await
        .unwrap();
    let expected = fingerprint(&mut conn).await;
    assert_eq!(expected.0, 6000);
    conn.close().await.unwrap();
    // `check` switches the WAL segment and waits until it is archived.
    backrest(&["check"]);

    // Restored into a scratch folder (the default target: the end of the archived WAL).
    backrest(&[
        &format!("--pg1-path={}", root.join("restored").display()),
        "restore",
    ]);
    let copy = Cluster {
        pg_ctl: tool("pg_ctl"),
        dir: root.join("restored"),
        port: free_port(),
    };
    // The copy does not push into the source's archive.
    copy.start(&root.join("log/copy.log"), &["archive_mode=off".into()]);
    let mut conn = copy.connect().await;
    let mut promoted = false;
    for _ in 0..600 {
        let recovering: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        if !recovering {
            promoted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(promoted, "the restored copy never left recovery");
    assert_eq!(fingerprint(&mut conn).await, expected);
    conn.close().await.unwrap();
    drop(copy);
    drop(source);
}
