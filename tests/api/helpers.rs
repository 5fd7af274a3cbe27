//! `spawn_app()`: the real service on port 0 against a fresh database, created for the test and
//! dropped after it.
//!
//! The database server is `DATABASE_URL` when set (an administrator's URL: the harness creates
//! databases and sets the `patrocinio_app` role's password there), otherwise an embedded
//! PostgreSQL started once per test process in `$TMPDIR/patrocinio-test-postgres` and reused by
//! later runs. Each test database is a copy of a migrated template, so a test costs a file copy,
//! not a migration run.

use std::{fs::File, sync::OnceLock, time::Duration};

use patrocinio::{
    Application, Config,
    db::{
        Db,
        embedded::{EmbeddedOptions, EmbeddedPostgres},
        provision,
    },
    domain::tenant::{Slug, TenantId},
    store::tenants::{self, NewTenant, Tenant, TenantSettings},
};
use sha2::{Digest, Sha256};
use sqlx::{Connection, Executor, PgConnection};
use tokio::{sync::oneshot, task::JoinHandle};

const APP_PASSWORD: &str = "patrocinio-test-app";

struct TestServer {
    /// Administrator URL without the database name: `postgres://user:pw@host:port`.
    admin_base: String,
    /// Service role URL without the database name.
    app_base: String,
    template: String,
    _embedded: Option<EmbeddedPostgres>,
    _lock: Option<nix::fcntl::Flock<File>>,
}

static SERVER: OnceLock<TestServer> = OnceLock::new();

fn server() -> &'static TestServer {
    // Started from a plain thread: each test has its own runtime, and this outlives them all.
    SERVER.get_or_init(|| {
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(init_server())
        })
        .join()
        .expect("test database server")
    })
}

fn url_without_db(url: &str) -> String {
    let mut url = url::Url::parse(url).expect("DATABASE_URL");
    url.set_path("");
    url.set_query(None);
    url.to_string().trim_end_matches('/').to_owned()
}

async fn init_server() -> TestServer {
    let (admin_base, embedded, lock) = match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => (url_without_db(&url), None, None),
        _ => {
            let root = std::env::temp_dir().join("patrocinio-test-postgres");
            std::fs::create_dir_all(&root).unwrap();
            // One test process at a time owns the shared test cluster.
            let lock_file = File::create(root.with_extension("lock")).unwrap();
            let lock = nix::fcntl::Flock::lock(lock_file, nix::fcntl::FlockArg::LockExclusive)
                .map_err(|(_, e)| e)
                .expect("lock on the test cluster");
            let mut options = EmbeddedOptions::new(&root);
            options.durable = false;
            options.max_connections = 300;
            let pg = EmbeddedPostgres::start(&options).expect("embedded PostgreSQL for tests");
            let base = url_without_db(&pg.superuser_url("postgres"));
            (base, Some(pg), Some(lock))
        }
    };
    let mut admin = PgConnection::connect(&format!("{admin_base}/postgres"))
        .await
        .expect("connect to the test database server");
    provision::ensure_roles(&mut admin, APP_PASSWORD)
        .await
        .unwrap();
    if embedded.is_some() {
        // We hold the lock: databases left by a killed run are ours to remove.
        let stale: Vec<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE 'patrocinio_test_%'",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        for name in stale {
            let _ = admin
                .execute(format!("DROP DATABASE \"{name}\" WITH (FORCE)").as_str())
                .await;
        }
    }
    let template = ensure_template(&admin_base, &mut admin).await;
    admin.close().await.unwrap();
    let app_base = {
        let mut url = url::Url::parse(&admin_base).unwrap();
        url.set_username(provision::APP_ROLE).unwrap();
        url.set_password(Some(APP_PASSWORD)).unwrap();
        url.to_string().trim_end_matches('/').to_owned()
    };
    TestServer {
        admin_base,
        app_base,
        template,
        _embedded: embedded,
        _lock: lock,
    }
}

/// A migrated database named after the migrations' checksums, made once and copied per test.
async fn ensure_template(admin_base: &str, admin: &mut PgConnection) -> String {
    let mut hasher = Sha256::new();
    for m in provision::MIGRATOR.iter() {
        hasher.update(m.version.to_le_bytes());
        hasher.update(&m.checksum);
    }
    let name = format!("patrocinio_tpl_{}", &hex::encode(hasher.finalize())[..16]);
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut *admin)
            .await
            .unwrap();
    if exists {
        return name;
    }
    // Build under a private name, rename when complete: a crash never leaves a half template.
    let building = format!("patrocinio_tplbuild_{}", uuid::Uuid::new_v4().simple());
    admin
        .execute(format!("CREATE DATABASE \"{building}\"").as_str())
        .await
        .unwrap();
    let mut conn = PgConnection::connect(&format!("{admin_base}/{building}"))
        .await
        .unwrap();
    provision::migrate(&mut conn).await.expect("migrations");
    conn.close().await.unwrap();
    let renamed = admin
        .execute(format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\"").as_str())
        .await;
    if renamed.is_err() {
        // Another process made it first.
        let _ = admin
            .execute(format!("DROP DATABASE \"{building}\"").as_str())
            .await;
    }
    // Older templates (other migrations) are of no further use.
    let old: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'patrocinio_tpl_%' AND datname <> $1",
    )
    .bind(&name)
    .fetch_all(&mut *admin)
    .await
    .unwrap();
    for db in old {
        let _ = admin
            .execute(format!("DROP DATABASE \"{db}\"").as_str())
            .await;
    }
    name
}

pub struct TestApp {
    /// `http://127.0.0.1:<port>`
    pub address: String,
    /// The service role's pool on this test's database, for fixtures.
    pub db: Db,
    /// The app's attachment storage (a folder of this test's own).
    pub storage: patrocinio::storage::Storage,
    files: std::sync::Arc<tempfile::TempDir>,
    pub db_name: String,
    /// No redirects followed, cookies kept.
    pub client: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<anyhow::Result<()>>>,
    /// The first instance drops the database when it goes; further instances do not.
    owns_database: bool,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like [`spawn_app`], with a chance to change the configuration first.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let server = server();
    let db_name = format!("patrocinio_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = PgConnection::connect(&format!("{}/postgres", server.admin_base))
        .await
        .unwrap();
    admin
        .execute(
            format!(
                "CREATE DATABASE \"{db_name}\" TEMPLATE \"{}\"",
                server.template
            )
            .as_str(),
        )
        .await
        .unwrap();
    admin.close().await.unwrap();
    // Database-level grants are not copied from a template: apply them (migrations are no-ops).
    let mut conn = PgConnection::connect(&format!("{}/{db_name}", server.admin_base))
        .await
        .unwrap();
    provision::migrate(&mut conn).await.unwrap();
    conn.close().await.unwrap();

    let files = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let url = format!("{}/{db_name}", server.app_base);
    start_instance(db_name, url, files, true, configure).await
}

/// The service on a database the test set up itself on a server of its own (`database_url`:
/// the service role's URL, e.g. through a proxy); nothing is dropped afterwards.
pub async fn spawn_app_on(database_url: &str, configure: impl FnOnce(&mut Config)) -> TestApp {
    let files = std::sync::Arc::new(tempfile::tempdir().unwrap());
    let db_name = url::Url::parse(database_url)
        .expect("a database URL")
        .path()[1..]
        .to_owned();
    start_instance(db_name, database_url.to_owned(), files, false, configure).await
}

async fn start_instance(
    db_name: String,
    database_url: String,
    files: std::sync::Arc<tempfile::TempDir>,
    owns_database: bool,
    configure: impl FnOnce(&mut Config),
) -> TestApp {
    let mut config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(database_url),
        db_max_connections: 5,
        files_dir: Some(files.path().to_path_buf()),
        ..Config::default()
    };
    configure(&mut config);
    let app = Application::build(&config).await.expect("build the app");
    let port = app.port();
    let db = app.db().clone();
    let storage = app.storage().clone();
    let (tx, rx) = oneshot::channel();
    let handle = tokio::spawn(app.run_until(async {
        let _ = rx.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        db,
        storage,
        files,
        db_name,
        client,
        shutdown: Some(tx),
        server: Some(handle),
        owns_database,
    }
}

impl TestApp {
    /// Another server process on the same database and files (several instances behind a
    /// load balancer).
    pub async fn another_instance(&self) -> TestApp {
        self.another_instance_with(|_| {}).await
    }

    /// The same, configured.
    pub async fn another_instance_with(&self, configure: impl FnOnce(&mut Config)) -> TestApp {
        let url = format!("{}/{}", server().app_base, self.db_name);
        start_instance(
            self.db_name.clone(),
            url,
            self.files.clone(),
            false,
            configure,
        )
        .await
    }

    /// Stops the server as on SIGTERM and waits until it has finished.
    pub async fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(30), server).await;
        }
    }

    /// The folder of this test's files.
    pub fn files_dir(&self) -> &std::path::Path {
        self.files.path()
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.address.replacen("http://", "ws://", 1))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn create_tenant(&self, slug: &str, settings: TenantSettings) -> Tenant {
        let slug = Slug::parse(slug).unwrap();
        let mut tx = self.db.tenant_tx(TenantId::new()).await.unwrap();
        let tenant = tenants::create(
            &mut tx,
            NewTenant {
                slug: &slug,
                name: &format!("Consiglio dell'Ordine degli Avvocati di {slug}"),
                pec: Some("segreteria@pec.example.it"),
                settings,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        tenant
    }

    /// Drops this test's database now, with its connections.
    pub async fn drop_database(&self) {
        let mut admin = PgConnection::connect(&format!("{}/postgres", server().admin_base))
            .await
            .unwrap();
        admin
            .execute(format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.db_name).as_str())
            .await
            .unwrap();
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if !self.owns_database {
            return;
        }
        let admin = format!("{}/postgres", server().admin_base);
        let name = self.db_name.clone();
        // Drop runs inside the test's runtime: use a thread with its own.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    if let Ok(mut conn) = PgConnection::connect(&admin).await {
                        let _ = conn
                            .execute(
                                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str(),
                            )
                            .await;
                    }
                })
        })
        .join();
    }
}

pub const PASSWORD: &str = "cavallo batteria graffetta";

/// An account made for a test, with what is needed to log in.
pub struct TestUser {
    pub id: uuid::Uuid,
    pub slug: String,
    pub email: String,
    pub secret: Option<String>,
}

/// A browser-like client logged in as someone, with its session's CSRF token.
pub struct LoggedIn {
    pub client: reqwest::Client,
    pub csrf: String,
    pub jar: std::sync::Arc<reqwest::cookie::Jar>,
}

impl LoggedIn {
    /// The `Cookie` header this client sends to `app` (for a WebSocket handshake).
    pub fn cookie(&self, app: &TestApp) -> String {
        use reqwest::cookie::CookieStore;
        self.jar
            .cookies(&app.url("/").parse().unwrap())
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
}

pub fn new_client() -> reqwest::Client {
    client_with_jar().0
}

pub fn client_with_jar() -> (reqwest::Client, std::sync::Arc<reqwest::cookie::Jar>) {
    let jar = std::sync::Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar.clone())
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    (client, jar)
}

pub fn totp_now(secret: &str) -> String {
    totp_rs::Builder::new()
        .with_secret(totp_rs::Secret::try_from_base32(secret).unwrap())
        .build()
        .unwrap()
        .generate_current()
        .to_string()
}

/// The CSRF token a reserved page carries in its `data-hx-headers` (masked afresh on every
/// page).
pub fn csrf_of(body: &str) -> String {
    let start = body
        .find("X-CSRF-Token&quot;:&quot;")
        .expect("a page with a CSRF token")
        + "X-CSRF-Token&quot;:&quot;".len();
    let len = body[start..].find("&quot;").expect("the token's end");
    body[start..start + len].to_owned()
}

impl TestApp {
    /// An active account of `slug` with `roles`; `totp` sets up a second factor.
    pub async fn user(
        &self,
        slug: &str,
        email: &str,
        roles: &[patrocinio::domain::access::Role],
        totp: bool,
        lawyer: Option<uuid::Uuid>,
    ) -> TestUser {
        use patrocinio::store::users;
        let tenant = tenants::find_by_slug(&self.db, slug)
            .await
            .unwrap()
            .unwrap();
        let mut tx = self.db.tenant_tx(tenant.id).await.unwrap();
        // The harness acts as an administrator of the Ordine.
        let grant =
            patrocinio::domain::access::authorize::<patrocinio::domain::access::ManageUsers>(
                tenant.id,
                uuid::Uuid::nil(),
                &[patrocinio::domain::access::Role::Amministratore],
                patrocinio::domain::access::Role::Amministratore,
            )
            .unwrap();
        let id = users::invite(
            &mut tx,
            &grant,
            users::NewUser {
                email,
                full_name: &format!("Utente {email}"),
                codice_fiscale: None,
                roles,
                lawyer_id: lawyer,
            },
        )
        .await
        .unwrap()
        .unwrap();
        let hash = patrocinio::crypto::hash_secret(PASSWORD).await.unwrap();
        users::set_password(&mut tx, id, &hash).await.unwrap();
        let secret = totp.then(|| {
            totp_rs::Secret::from(patrocinio::crypto::random_bytes::<20>().to_vec()).to_base32()
        });
        if let Some(s) = &secret {
            users::set_totp(&mut tx, id, s, 0).await.unwrap();
        }
        tx.commit().await.unwrap();
        TestUser {
            id,
            slug: slug.into(),
            email: email.into(),
            secret,
        }
    }

    /// Logs in over HTTP (password, then the TOTP code if any) and lands in the area.
    pub async fn login(&self, user: &TestUser) -> LoggedIn {
        let (client, jar) = client_with_jar();
        let res = client
            .post(self.url(&format!("/{}/accesso", user.slug)))
            .form(&[("email", user.email.as_str()), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "password step");
        let mut location = res.headers()["location"].to_str().unwrap().to_owned();
        if location.ends_with("/accesso/codice") {
            let code = totp_now(user.secret.as_deref().expect("a TOTP secret"));
            let res = client
                .post(self.url(&location))
                .form(&[("codice", code.as_str())])
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 303, "second factor");
            location = res.headers()["location"].to_str().unwrap().to_owned();
        }
        let page = client.get(self.url(&location)).send().await.unwrap();
        assert_eq!(page.status(), 200, "{location}");
        let csrf = csrf_of(&page.text().await.unwrap());
        LoggedIn { client, csrf, jar }
    }

    /// The administrator's connection to this test's database (superuser).
    pub async fn admin_connection(&self) -> PgConnection {
        PgConnection::connect(&format!("{}/{}", server().admin_base, self.db_name))
            .await
            .unwrap()
    }
}

impl TestApp {
    /// The administrator's URL of this test's database (for the command line).
    pub fn admin_database_url(&self) -> String {
        format!("{}/{}", server().admin_base, self.db_name)
    }

    /// The service role's URL of this test's database (for the command line).
    pub fn database_url(&self) -> String {
        format!("{}/{}", server().app_base, self.db_name)
    }
}

/// A Python that has aiosmtpd: `python3` on PATH, or Debian's own (`python3-aiosmtpd` serves
/// `/usr/bin/python3`, which a python3 of the user's own earlier on PATH hides).
pub fn python_with_aiosmtpd() -> &'static str {
    static FOUND: OnceLock<&'static str> = OnceLock::new();
    FOUND.get_or_init(|| {
        ["python3", "/usr/bin/python3"]
            .into_iter()
            .find(|py| {
                std::process::Command::new(py)
                    .args(["-c", "import aiosmtpd"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            })
            .unwrap_or("python3")
    })
}
