//! The binary itself with its embedded PostgreSQL: start, write, stop, start again.

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use nix::{
    sys::signal::{Signal, kill},
    unistd::Pid,
};

pub(super) struct Running {
    child: Child,
    pub(super) url: String,
    pub(super) stdout: Vec<String>,
}

pub(super) fn command(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_patrocinio"));
    cmd.env_remove("DATABASE_URL")
        .env("PATROCINIO_DATA_DIR", data_dir)
        .env("PATROCINIO_BIND", "127.0.0.1:0")
        .env("PATROCINIO_LOG", "warn")
        // No daily backup unless a test asks for one; the WAL archive stays in the test's folder.
        .env("PATROCINIO_BACKUP_HOUR", "no")
        .env("PATROCINIO_BACKUP_DIR", data_dir.join("backup"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Starts the binary and waits for the line that gives its URL.
pub(super) fn start(mut cmd: Command) -> Running {
    let mut child = cmd.spawn().expect("spawn patrocinio");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(90)) {
            Ok(line) => {
                let url = line
                    .strip_prefix("Patrocinio è in ascolto su ")
                    .map(str::to_owned);
                lines.push(line);
                if let Some(url) = url {
                    // The demo banner follows the URL line; collect until the last line.
                    while let Ok(line) = rx.recv_timeout(Duration::from_secs(30)) {
                        let done = line.starts_with("Ctrl-C");
                        lines.push(line);
                        if done {
                            break;
                        }
                    }
                    return Running {
                        child,
                        url,
                        stdout: lines,
                    };
                }
            }
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                child.stderr.take().unwrap().read_to_string(&mut err).ok();
                let _ = child.wait();
                panic!("no URL printed; stdout {lines:?}; stderr {err}");
            }
        }
    }
}

/// SIGTERM, then the exit status and what the process wrote on stderr.
pub(super) fn stop(mut running: Running) -> (std::process::ExitStatus, String) {
    kill(Pid::from_raw(running.child.id() as i32), Signal::SIGTERM).unwrap();
    let mut err = String::new();
    running
        .child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (running.child.wait().unwrap(), err)
}

pub(super) async fn status_of(url: &str) -> u16 {
    reqwest::get(url).await.unwrap().status().as_u16()
}

#[tokio::test]
async fn embedded_postgres_keeps_the_data_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    // When the tests run as root, the server runs as `postgres`, which must reach the folder.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let mut cmd = command(dir.path());
    cmd.args(["serve", "--demo"])
        .env("PATROCINIO_SERVZIO", "typo");
    let first = start(cmd);
    assert!(
        first.stdout.iter().any(|l| l.contains("(creato ora)")),
        "{:?}",
        first.stdout
    );
    // One login per role, with the TOTP keys of the staff.
    let banner = first.stdout.join("\n");
    for who in [
        "segreteria@",
        "consigliere@",
        "avvocato@",
        "amministratore@",
        "codice TOTP: chiave",
    ] {
        assert!(banner.contains(who), "{who} missing in {banner}");
    }
    assert_eq!(status_of(&format!("{}/health", first.url)).await, 200);
    assert_eq!(status_of(&format!("{}/ready", first.url)).await, 200);
    assert_eq!(status_of(&format!("{}/demo", first.url)).await, 200);
    // The demo ships its trusted list: the councillor signs a delibera with the demo's
    // qualified certificate, written beside the data, and the signature is accepted.
    assert!(
        banner.contains("elenco di fiducia dimostrativo importato"),
        "{banner}"
    );
    signs_a_delibera_with_the_demo_certificate(&first.url, &banner, dir.path()).await;
    let (status, stderr) = stop(first);
    assert!(status.success(), "exit {status}: {stderr}");
    assert!(
        stderr.contains("PATROCINIO_SERVZIO"),
        "an unknown variable is warned about: {stderr}"
    );
    // PostgreSQL stopped cleanly: no postmaster.pid left behind.
    assert!(!dir.path().join("postgres/postmaster.pid").exists());

    // The demo's lists are in force.
    let out = command(dir.path())
        .args(["fiducia", "elenco"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("EU (LOTL)") && stdout.contains("1 CA/QC qualificati oggi"),
        "{stdout}"
    );

    // The audit chain of every Ordine verifies from the command line.
    let out = command(dir.path())
        .args(["audit", "verify"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("demo: ") && stdout.contains("catena integra"),
        "{stdout}"
    );

    // Second start, no --demo: the Ordine written by the first run is still there.
    let mut cmd = command(dir.path());
    cmd.arg("serve");
    let second = start(cmd);
    assert_eq!(status_of(&format!("{}/demo", second.url)).await, 200);
    assert_eq!(
        status_of(&format!("{}/demo/istanza", second.url)).await,
        200
    );
    let (status, stderr) = stop(second);
    assert!(status.success(), "exit {status}: {stderr}");

    // A third start with --demo reuses the data instead of seeding again.
    let mut cmd = command(dir.path());
    cmd.args(["serve", "--demo"]);
    let third = start(cmd);
    assert!(
        third.stdout.iter().any(|l| l.contains("già presente")),
        "{:?}",
        third.stdout
    );
    let (status, _) = stop(third);
    assert!(status.success());
}

#[test]
fn without_server_binaries_one_clear_line_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .env("PATROCINIO_POSTGRES_BIN", empty.path())
        .arg("serve")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("apt-get install postgresql"), "{stderr}");
    assert!(lines[0].contains("DATABASE_URL"), "{stderr}");
}

/// Logs in as the demo councillor (password and TOTP from the banner), downloads the delibere
/// to sign, signs one with `demo-firme/consigliere.pem` (openssl), uploads it.
async fn signs_a_delibera_with_the_demo_certificate(
    url: &str,
    banner: &str,
    data: &std::path::Path,
) {
    let pem = data.join("demo-firme/consigliere.pem");
    assert!(pem.exists(), "{}", pem.display());
    let secret = banner
        .lines()
        .find(|l| l.contains("consigliere@"))
        .and_then(|l| l.split("chiave ").nth(1))
        .expect("the councillor's TOTP key")
        .trim()
        .to_owned();
    let (client, _) = crate::helpers::client_with_jar();
    let res = client
        .post(format!("{url}/demo/accesso"))
        .form(&[
            ("email", "consigliere@demo.example.it"),
            ("password", patrocinio::demo::DEMO_PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let code = crate::helpers::totp_now(&secret);
    let res = client
        .post(format!("{url}/demo/accesso/codice"))
        .form(&[("codice", code.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let page = client
        .get(format!("{url}/demo/consiglieri/firma"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::helpers::csrf_of(&page);
    let zipped = client
        .get(format!("{url}/demo/consiglieri/firma/delibere.zip"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    assert!(!archive.is_empty(), "the demo has delibere to sign");
    let work = tempfile::tempdir().unwrap();
    let mut pdf = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_index(0).unwrap(), &mut pdf).unwrap();
    std::fs::write(work.path().join("delibera.pdf"), &pdf).unwrap();
    let out = Command::new("openssl")
        .args([
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-cades",
            "-md",
            "sha256",
            "-in",
        ])
        .arg(work.path().join("delibera.pdf"))
        .arg("-signer")
        .arg(&pem)
        .args(["-outform", "DER", "-out"])
        .arg(work.path().join("delibera.pdf.p7m"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let signed = std::fs::read(work.path().join("delibera.pdf.p7m")).unwrap();
    let form = reqwest::multipart::Form::new().text("_csrf", csrf).part(
        "firmati",
        reqwest::multipart::Part::bytes(signed).file_name("delibera.pdf.p7m"),
    );
    let body = client
        .post(format!("{url}/demo/consiglieri/firma"))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Firme verificate e registrate"), "{body}");
}
