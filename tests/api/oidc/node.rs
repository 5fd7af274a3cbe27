//! A real, OpenID Certified provider (`oidc-provider`, npm) for the tests: `node` runs
//! `tests/node/oidc-provider.mjs` on 127.0.0.1 and a free port; the process is killed when the
//! handle is dropped. Its accounts live in a JSON file that the test may rewrite between logins.

use std::{path::PathBuf, process::Stdio, time::Duration};

use serde_json::{Value, json};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use crate::helpers::TestApp;

pub const CLIENT_ID: &str = "patrocinio-vallenera";
pub const CLIENT_SECRET: &str = "segreto-del-client-certificato";
pub const SPID_L1: &str = "https://www.spid.gov.it/SpidL1";
pub const SPID_L2: &str = "https://www.spid.gov.it/SpidL2";

pub struct NodeProvider {
    /// As the provider publishes it (with its final `/`).
    pub issuer: String,
    pub port: u16,
    accounts: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _child: Child,
}

pub struct Options {
    /// `http://{host}:{port}/`: the host the issuer names (the provider listens on 127.0.0.1).
    pub host: &'static str,
    /// The client's registration: `client_secret_basic` (the default), `client_secret_post` or
    /// `private_key_jwt` (then its keys are fetched from the service's JWKS URL).
    pub client_auth: &'static str,
    /// The provider's `token_endpoint_auth_methods_supported`.
    pub auth_methods: Vec<&'static str>,
    pub accounts: Value,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            host: "127.0.0.1",
            client_auth: "client_secret_basic",
            auth_methods: vec![
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            accounts: json!({}),
        }
    }
}

/// An account as the provider knows it: its claims, and how the person logged in there.
pub fn account(claims: Value, acr: Option<&str>, amr: &[&str]) -> Value {
    json!({ "claims": claims, "acr": acr, "amr": if amr.is_empty() { Value::Null } else { json!(amr) } })
}

impl NodeProvider {
    pub async fn start(app: &TestApp, options: Options) -> NodeProvider {
        let dir = tempfile::tempdir().unwrap();
        let accounts = dir.path().join("accounts.json");
        std::fs::write(&accounts, options.accounts.to_string()).unwrap();
        let log = dir.path().join("provider.log");
        let mut client = json!({
            "client_id": CLIENT_ID,
            "redirect_uris": [app.url("/vallenera/accesso/oidc/ritorno")],
            "token_endpoint_auth_method": options.client_auth,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        });
        if options.client_auth == "private_key_jwt" {
            client["jwks_uri"] = json!(app.url("/vallenera/accesso/oidc/jwks.json"));
            client["token_endpoint_auth_signing_alg"] = json!("RS256");
        } else {
            client["client_secret"] = json!(CLIENT_SECRET);
        }
        let config = json!({
            "port": 0,
            "issuer": format!("http://{}:{{port}}/", options.host),
            "accounts": accounts,
            "client": client,
            "authMethods": options.auth_methods,
            "acrValues": [SPID_L1, SPID_L2],
        });
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/node/oidc-provider.mjs");
        let mut child = Command::new("node")
            .arg(script)
            .arg(config.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .expect("node (Debian's nodejs) with tests/node installed: see tests/run");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        // Generous: on a loaded two-core machine (the whole suite at once) node may take a
        // while to load the package and generate its key; a real failure ends the wait early
        // because node exits and closes its output.
        let issuer = tokio::time::timeout(Duration::from_secs(120), async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(issuer) = line.strip_prefix("listening ") {
                    return Some(issuer.to_owned());
                }
            }
            None
        })
        .await
        .ok()
        .flatten()
        .unwrap_or_else(|| {
            panic!(
                "oidc-provider did not print its address (exit status: {:?}): {}",
                child.try_wait(),
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        });
        // Keep reading its output so that it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let port = url::Url::parse(&issuer).unwrap().port().unwrap();
        NodeProvider {
            issuer,
            port,
            accounts,
            log,
            _dir: dir,
            _child: child,
        }
    }

    /// Replaces the provider's accounts (the next login reads them).
    pub fn set_accounts(&self, accounts: Value) {
        std::fs::write(&self.accounts, accounts.to_string()).unwrap();
    }

    /// What the provider printed on its standard error (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn absolute(&self, location: &str) -> String {
        if location.starts_with("http") {
            location.to_owned()
        } else {
            format!("http://127.0.0.1:{}{location}", self.port)
        }
    }
}

/// One login as a browser would do it: from our login button to the provider, where the person
/// logs in as `account` (or presses "Annulla" when `account` is `None`), and back to our
/// callback. Returns our callback's response and the authorization request sent to the provider.
pub async fn login(
    app: &TestApp,
    provider: &NodeProvider,
    client: &reqwest::Client,
    account: Option<&str>,
) -> (reqwest::Response, String) {
    let res = client
        .get(app.url("/vallenera/accesso/oidc"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "to the provider");
    let authorization = res.headers()["location"].to_str().unwrap().to_owned();
    let callback = app.url("/vallenera/accesso/oidc/ritorno");
    let mut next = authorization.clone();
    for _ in 0..12 {
        if next.starts_with(&callback) {
            let res = client.get(&next).send().await.unwrap();
            return (res, authorization);
        }
        let res = client.get(&next).send().await.unwrap();
        if res.status().is_redirection() {
            next = provider.absolute(res.headers()["location"].to_str().unwrap());
            continue;
        }
        assert_eq!(res.status(), 200, "{next}: {}", provider.log());
        // The provider's login form.
        let page = next.clone();
        next = match account {
            Some(id) => {
                let res = client
                    .post(&page)
                    .form(&[("login", id)])
                    .send()
                    .await
                    .unwrap();
                assert_eq!(
                    res.status(),
                    303,
                    "login at the provider: {}",
                    provider.log()
                );
                provider.absolute(res.headers()["location"].to_str().unwrap())
            }
            None => format!("{page}/abort"),
        };
    }
    panic!("the login did not come back: {}", provider.log());
}
