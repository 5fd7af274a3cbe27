//! Attachments and generated documents on object storage: a real S3-compatible server, Garage
//! (started here on 127.0.0.1 with its own folder), shared by two instances of the service on
//! one database; a store that goes down and comes back; and the sweeper of orphan files.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use chrono::Utc;
use patrocinio::{
    Config,
    documents::{pdf::PdfEngine, protocol_register::Producer},
    storage::{Location, S3Settings, Storage},
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    helpers::{TestApp, spawn_app, spawn_app_with},
    public_form::{fill_until_attachments, minimal_pdf, new_draft, tenant_of},
    workflow::{SLUG, between, office, register, submitted},
};

const BUCKET: &str = "patrocinio-prova";

/// `garage` on PATH, else where `cargo install` puts it (tests/run installs it).
fn garage_bin() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("garage"))
            .find(|p| p.is_file())
    });
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    on_path
        .or_else(|| {
            cargo_home
                .map(|h| h.join("bin/garage"))
                .filter(|p| p.is_file())
        })
        .expect("`garage` not found: tests/run installs it (cargo install --locked garage@2.5.0)")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A single-node Garage on loopback: its folder, ports, and a key allowed on [`BUCKET`].
pub struct Garage {
    child: Option<Child>,
    dir: tempfile::TempDir,
    pub s3_port: u16,
    key_id: String,
    secret: String,
}

impl Garage {
    pub async fn start() -> Garage {
        tokio::task::spawn_blocking(Self::start_blocking)
            .await
            .unwrap()
    }

    fn start_blocking() -> Garage {
        let dir = tempfile::tempdir().unwrap();
        let (rpc, s3) = (free_port(), free_port());
        let secret = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let config = format!(
            r#"metadata_dir = "{root}/meta"
data_dir = "{root}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc}"
rpc_public_addr = "127.0.0.1:{rpc}"
rpc_secret = "{secret}"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3}"
root_domain = ".s3.garage.localhost"
"#,
            root = dir.path().display()
        );
        std::fs::write(dir.path().join("garage.toml"), config).unwrap();
        let mut garage = Garage {
            child: None,
            dir,
            s3_port: s3,
            key_id: String::new(),
            secret: String::new(),
        };
        garage.spawn_server();
        let node = garage.cli(&["node", "id", "-q"]);
        let node = node.trim().split('@').next().unwrap().to_owned();
        garage.cli(&["layout", "assign", "-z", "dc1", "-c", "1G", &node]);
        garage.cli(&["layout", "apply", "--version", "1"]);
        garage.cli(&["bucket", "create", BUCKET]);
        let key: serde_json::Value = serde_json::from_str(&garage.cli(&[
            "json-api",
            "CreateKey",
            r#"{"name":"patrocinio"}"#,
        ]))
        .unwrap();
        garage.key_id = key["accessKeyId"].as_str().unwrap().to_owned();
        garage.secret = key["secretAccessKey"].as_str().unwrap().to_owned();
        garage.cli(&[
            "bucket",
            "allow",
            "--read",
            "--write",
            "--owner",
            BUCKET,
            "--key",
            &garage.key_id.clone(),
        ]);
        garage.wait_for_s3();
        garage
    }

    fn spawn_server(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("garage.log")).unwrap();
        let child = Command::new(garage_bin())
            .arg("-c")
            .arg(self.dir.path().join("garage.toml"))
            .arg("server")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start garage");
        self.child = Some(child);
        // Up when its own CLI reaches it (bounded: 60 tries).
        for _ in 0..120 {
            if self.try_cli(&["status"]).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("garage did not start: {}", self.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("garage.log")).unwrap_or_default()
    }

    fn try_cli(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(garage_bin())
            .arg("-c")
            .arg(self.dir.path().join("garage.toml"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn cli(&self, args: &[&str]) -> String {
        self.try_cli(args)
            .unwrap_or_else(|e| panic!("garage {args:?}: {e}"))
    }

    /// The S3 API answers a write once the layout is in force.
    fn wait_for_s3(&self) {
        let storage = Storage::open(&self.location()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        for _ in 0..120 {
            if rt
                .block_on(storage.put("prova-avvio", b"ok".to_vec()))
                .is_ok()
            {
                rt.block_on(storage.delete("prova-avvio")).unwrap();
                return;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        panic!("garage's S3 API did not answer: {}", self.log());
    }

    pub fn location(&self) -> Location {
        Location::S3 {
            bucket: BUCKET.into(),
            settings: S3Settings {
                access_key_id: Some(self.key_id.clone()),
                secret_access_key: Some(self.secret.clone()),
                session_token: None,
                endpoint: Some(format!("http://127.0.0.1:{}", self.s3_port)),
                region: Some("garage".into()),
                allow_http: false,
            },
        }
    }

    /// Sets a service's configuration to this bucket, as PATROCINIO_FILES_URL and AWS_* do.
    pub fn configure(&self) -> impl FnOnce(&mut Config) + use<> {
        let Location::S3 { settings, .. } = self.location() else {
            unreachable!()
        };
        move |c: &mut Config| {
            c.files_url = Some(format!("s3://{BUCKET}"));
            c.s3 = settings;
        }
    }

    /// The variables that point the binary at this bucket.
    pub fn env(&self, cmd: &mut Command) {
        cmd.env("PATROCINIO_FILES_URL", format!("s3://{BUCKET}"))
            .env("AWS_ACCESS_KEY_ID", &self.key_id)
            .env("AWS_SECRET_ACCESS_KEY", &self.secret)
            .env("AWS_ENDPOINT", format!("http://127.0.0.1:{}", self.s3_port))
            .env("AWS_REGION", "garage");
    }

    /// Kills the server (as a crash or a network cut would): the store is down.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same folder and ports.
    pub async fn restart(mut self) -> Garage {
        tokio::task::spawn_blocking(move || {
            self.spawn_server();
            self.wait_for_s3();
            self
        })
        .await
        .unwrap()
    }
}

impl Drop for Garage {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Every regular file below `dir`.
fn files_below(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

/// The attachments' rows of the test's database: (key, SHA-256).
async fn attachment_rows(app: &TestApp) -> Vec<(String, String)> {
    let mut conn = app.admin_connection().await;
    sqlx::query_as(
        "SELECT storage_key, sha256 FROM app.attachments ORDER BY created_at, storage_key",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn files_live_in_the_bucket_and_a_second_instance_reads_them() {
    let garage = Garage::start().await;
    let app = spawn_app_with(garage.configure()).await;
    let other = app.another_instance_with(garage.configure()).await;
    let of = office(&app).await;

    // An upload through the first instance...
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;
    let res = d
        .upload("documenti_causa", "ricorso.pdf", minimal_pdf())
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let link = between(
        &body,
        &format!("href=\"{}/{}/allegati/", d.base, d.id),
        "\"",
    )
    .expect("the uploaded file's link")
    .to_owned();
    // ...is in the bucket, under the key its row records, and on no instance's disk.
    let rows = attachment_rows(&app).await;
    assert_eq!(rows.len(), 1);
    let (key, sha) = &rows[0];
    let tenant = tenant_of(&app, SLUG).await;
    assert!(key.starts_with(&format!("{tenant}/{}/", d.id)), "{key}");
    let bucket = Storage::open(&garage.location()).unwrap();
    let stored = bucket.get(key).await.unwrap();
    assert_eq!(&hex::encode(Sha256::digest(&stored)), sha);
    assert!(files_below(app.files_dir()).is_empty());

    // The second instance serves it to the same device (the same cookies).
    let path = format!("{}/{}/allegati/{link}", d.base, d.id);
    let res = app.client.get(other.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), minimal_pdf());

    // A generated document: the daily protocol register made by the first instance's job,
    // downloaded from the second.
    let (id, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    register(&app, &seg, id).await;
    let pdf = PdfEngine::new();
    let producer = Producer {
        db: &app.db,
        pdf: &pdf,
        storage: &app.storage,
        seal_dir: None,
    };
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    assert!(producer.run(tomorrow).await.unwrap() >= 1);
    let mut conn = app.admin_connection().await;
    let (register_id, register_key, register_sha): (Uuid, String, String) = sqlx::query_as(
        "SELECT id, pdf_key, pdf_sha256 FROM app.protocol_daily_registers ORDER BY day DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(bucket.head(&register_key).await.unwrap().is_some());
    let res = seg
        .client
        .get(other.url(&format!(
            "/{SLUG}/segreteria/protocollo/registri/{register_id}"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let bytes = res.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&bytes)), register_sha);
    // Every attachment of the filed application is in the bucket with its recorded SHA-256.
    for (key, sha) in attachment_rows(&app).await {
        let bytes = bucket.get(&key).await.unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), sha, "{key}");
    }
    assert!(files_below(app.files_dir()).is_empty());
}

#[tokio::test]
async fn a_store_that_is_down_changes_nothing_says_so_and_recovers() {
    let mut garage = Garage::start().await;
    let app = spawn_app_with(garage.configure()).await;
    let of = office(&app).await;
    let (submitted_id, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    register(&app, &seg, submitted_id).await;
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;
    let res = d
        .upload("documenti_causa", "primo.pdf", minimal_pdf())
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let link = between(
        &body,
        &format!("href=\"{}/{}/allegati/", d.base, d.id),
        "\"",
    )
    .unwrap()
    .to_owned();
    let before = attachment_rows(&app).await;

    garage.kill();
    // An upload: refused in the attachments' card with the reason, nothing recorded.
    let res = d
        .upload("documenti_causa", "secondo.pdf", minimal_pdf())
        .await;
    assert_eq!(res.status(), 503);
    assert!(res.headers().contains_key("retry-after"));
    let body = res.text().await.unwrap();
    assert!(
        body.contains(
            "«secondo.pdf» non è stato salvato: l&#39;archivio dei documenti non risponde"
        ) || body
            .contains("«secondo.pdf» non è stato salvato: l'archivio dei documenti non risponde"),
        "{body}"
    );
    assert!(body.contains("primo.pdf"), "what was uploaded stays listed");
    assert_eq!(attachment_rows(&app).await, before);
    // The draft's answers are kept.
    let res = app.client.get(d.url("richiedente")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Rossi"));
    // A download: the Italian page that says what happened.
    let path = d.url(&format!("allegati/{link}"));
    let res = app.client.get(&path).send().await.unwrap();
    assert_eq!(res.status(), 503);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Archivio dei documenti non raggiungibile"),
        "{body}"
    );
    assert!(!body.contains("object_store") && !body.contains("s3://"));
    // A generated document: not made, no row naming a missing file.
    let pdf = PdfEngine::new();
    let producer = Producer {
        db: &app.db,
        pdf: &pdf,
        storage: &app.storage,
        seal_dir: None,
    };
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    // The Ordine's register waits for the next run (logged); the run itself goes on.
    assert_eq!(producer.run(tomorrow).await.unwrap(), 0);
    let mut conn = app.admin_connection().await;
    let registers: i64 = sqlx::query_scalar("SELECT count(*) FROM app.protocol_daily_registers")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(registers, 0);

    // Back up: the same service, without a restart, works again.
    let garage = garage.restart().await;
    let res = d
        .upload("documenti_causa", "secondo.pdf", minimal_pdf())
        .await;
    assert_eq!(res.status(), 200);
    let res = app.client.get(&path).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), minimal_pdf());
    assert!(producer.run(tomorrow).await.unwrap() >= 1);
    // Every row names an object that exists, with its SHA-256.
    let bucket = Storage::open(&garage.location()).unwrap();
    let rows = attachment_rows(&app).await;
    assert_eq!(rows.len(), before.len() + 1);
    for (key, sha) in rows {
        let bytes = bucket.get(&key).await.unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), sha, "{key}");
    }
    let registers: Vec<(String, String)> =
        sqlx::query_as("SELECT pdf_key, pdf_sha256 FROM app.protocol_daily_registers")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert!(!registers.is_empty());
    for (key, sha) in registers {
        let bytes = bucket.get(&key).await.unwrap();
        assert_eq!(hex::encode(Sha256::digest(&bytes)), sha, "{key}");
    }
}

/// Writes `key` until the store dates it after `after` (the store's clock, not ours).
async fn put_after(
    storage: &Storage,
    key: &str,
    after: chrono::DateTime<Utc>,
) -> chrono::DateTime<Utc> {
    for _ in 0..100 {
        storage.put(key, b"orfano".to_vec()).await.unwrap();
        let at = storage.head(key).await.unwrap().unwrap().last_modified;
        if at > after {
            return at;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("the store's clock did not move");
}

#[tokio::test]
async fn the_sweeper_removes_old_orphans_only() {
    let garage = Garage::start().await;
    let app = spawn_app_with(garage.configure()).await;
    let of = office(&app).await;
    let tenant = tenant_of(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;
    let res = d
        .upload("documenti_causa", "ricorso.pdf", minimal_pdf())
        .await;
    assert_eq!(res.status(), 200);
    let (named, _) = attachment_rows(&app).await.remove(0);
    let storage = &app.storage;
    let named_at = storage.head(&named).await.unwrap().unwrap().last_modified;

    // What a crash between the write and the commit leaves, then a younger one (a write whose
    // row has not committed yet), and an object outside the service's key layout.
    let old = format!("{tenant}/{}/{}", d.id, Uuid::new_v4());
    let old_at = put_after(storage, &old, named_at).await;
    let young = format!("{tenant}/{}/{}", d.id, Uuid::new_v4());
    let cutoff = put_after(storage, &young, old_at).await;
    storage
        .put("fuori-schema/nota.txt", b"non nostro".to_vec())
        .await
        .unwrap();

    let swept = patrocinio::storage::sweep::sweep(&app.db, storage, cutoff)
        .await
        .unwrap();
    assert_eq!(swept.removed, 1, "{swept:?}");
    assert!(storage.head(&old).await.unwrap().is_none());
    assert!(storage.head(&young).await.unwrap().is_some());
    assert!(storage.head(&named).await.unwrap().is_some());
    assert!(
        storage
            .head("fuori-schema/nota.txt")
            .await
            .unwrap()
            .is_some()
    );
    // The named file still downloads.
    let res = d
        .upload("documenti_causa", "altro.pdf", minimal_pdf())
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(attachment_rows(&app).await.len(), 2);
}

#[tokio::test]
async fn serve_runs_the_sweeper_on_the_local_folder_too() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let tenant = tenant_of(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    fill_until_attachments(&d, &of.o).await;
    let res = d
        .upload("documenti_causa", "ricorso.pdf", minimal_pdf())
        .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let link = between(
        &body,
        &format!("href=\"{}/{}/allegati/", d.base, d.id),
        "\"",
    )
    .unwrap()
    .to_owned();
    let orphan = format!("{tenant}/{}/{}", d.id, Uuid::new_v4());
    app.storage.put(&orphan, b"orfano".to_vec()).await.unwrap();
    // Another instance whose sweeper has a grace of one second and runs every second.
    let _sweeping = app
        .another_instance_with(|c| {
            c.files_orphan_grace = Duration::from_secs(1);
            c.files_sweep_every = Duration::from_secs(1);
        })
        .await;
    let mut gone = false;
    for _ in 0..120 {
        if app.storage.head(&orphan).await.unwrap().is_none() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(gone, "the orphan is removed");
    let res = app
        .client
        .get(d.url(&format!("allegati/{link}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), minimal_pdf());
}

#[tokio::test]
async fn every_column_that_names_a_stored_file_is_known_to_the_sweeper() {
    let app = spawn_app().await;
    let mut conn = app.admin_connection().await;
    let columns: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns
          WHERE table_schema = 'app' AND column_name LIKE '%\\_key' AND data_type = 'text'
          ORDER BY 1, 2",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(!columns.is_empty());
    use patrocinio::store::files::{KEY_COLUMNS, NOT_FILE_KEYS};
    for (table, column) in &columns {
        let known = KEY_COLUMNS
            .iter()
            .chain(NOT_FILE_KEYS)
            .any(|(t, c)| t == table && c == column);
        assert!(
            known,
            "app.{table}.{column}: add it to store::files::KEY_COLUMNS (or NOT_FILE_KEYS)"
        );
    }
    for (table, column) in KEY_COLUMNS {
        assert!(
            columns.iter().any(|(t, c)| t == table && c == column),
            "app.{table}.{column} is listed but not in the schema"
        );
    }
}

#[tokio::test]
async fn a_backup_downloads_the_bucket_and_the_drill_checks_every_file() {
    use crate::embedded::{command, start, stop};
    use futures_util::StreamExt;
    use std::os::unix::fs::PermissionsExt;

    let garage = Garage::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("dati");
    let backups = tmp.path().join("backup");
    for dir in [tmp.path(), data.as_path()] {
        std::fs::create_dir_all(dir).unwrap();
        // When the tests run as root, the server runs as `postgres`, which must reach it.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run = |args: &[&str]| {
        let mut cmd = command(&data);
        garage.env(&mut cmd);
        let out = cmd
            .env("PATROCINIO_BACKUP_DIR", &backups)
            .args(args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    };

    // The demo's attachments, written to the bucket, none on this machine's disk.
    let mut cmd = command(&data);
    garage.env(&mut cmd);
    cmd.args(["serve", "--demo"]);
    let (status, stderr) = stop(start(cmd));
    assert!(status.success(), "{stderr}");
    let bucket = Storage::open(&garage.location()).unwrap();
    let objects = bucket.list(None).count().await;
    assert!(objects > 0);
    assert!(files_below(&data.join("files")).is_empty());

    let (ok, text) = run(&["backup"]);
    assert!(ok, "{text}");
    let (ok, text) = run(&["backup", "list"]);
    assert!(ok, "{text}");
    let line = text.lines().next().unwrap().to_owned();
    let fields: Vec<&str> = line.split('\t').collect();
    assert_eq!(fields[3], "verificato", "{line}");
    assert_eq!(fields[4], format!("{objects} file"), "{line}");

    let (ok, text) = run(&["prova-ripristino"]);
    assert!(ok, "{text}");
    assert!(text.contains("SUPERATA"), "{text}");
    assert!(text.contains("[ok] impronte SHA-256 dei file"), "{text}");
}
