//! PEC receipts (issue 13, point 6): the provider's receipts, built as a PEC provider does
//! (a multipart/signed S/MIME message, signed with openssl, with daticert.xml and, for a
//! delivery, the original message as postacert.eml), are delivered into a real IMAP server
//! (Dovecot, started here with its own configuration) and read by the service: acceptance then
//! delivery per recipient, a failed delivery for one of two recipients (the secretariat is
//! alerted by e-mail and on its board, the case page changes live), the same receipt read
//! twice, a receipt about a Message-ID that is none of ours.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use openssl::{
    asn1::Asn1Time,
    hash::MessageDigest,
    pkcs7::{Pkcs7, Pkcs7Flags},
    pkey::{PKey, Private},
    rsa::Rsa,
    stack::Stack,
    x509::{X509, X509NameBuilder},
};
use uuid::Uuid;

use crate::{
    helpers::{LoggedIn, TestApp, spawn_app_with},
    live::{open, wait_for},
    mail::{Smtp, free_port, mailing},
    workflow::{SLUG, case_path, in_examination, office, propose, submitted, version_of},
};

const OFFICE_PEC: &str = "prot.tribunale.vallenera@giustiziacert.it";
pub const LAWYER_PEC: &str = "anna.bianchi@pec.avvocati.example.it";
const PATIENCE: Duration = Duration::from_secs(60);

/// A Dovecot IMAP server on 127.0.0.1, with one account (`segreteria`) and its own folder.
pub struct Dovecot {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Dovecot {
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let d = dir.path();
        let root = nix::unistd::geteuid().is_root();
        // Dovecot refuses to run its login and mail processes as root: as root (CI) it uses
        // the package's own unprivileged users; otherwise everything runs as the caller.
        let (internal, internal_group, login, mail_user, mail_group) = if root {
            let dovecot = nix::unistd::User::from_name("dovecot")
                .unwrap()
                .expect("user dovecot");
            let mail = d.join("mail");
            std::fs::create_dir_all(&mail).unwrap();
            std::os::unix::fs::chown(
                &mail,
                Some(dovecot.uid.as_raw()),
                Some(dovecot.gid.as_raw()),
            )
            .unwrap();
            // The folder itself must be crossable by the mail user.
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
            (
                "dovecot".to_owned(),
                "dovecot".to_owned(),
                "dovenull".to_owned(),
                dovecot.uid.as_raw(),
                dovecot.gid.as_raw(),
            )
        } else {
            let me = nix::unistd::User::from_uid(nix::unistd::geteuid())
                .unwrap()
                .unwrap();
            let group = nix::unistd::Group::from_gid(me.gid).unwrap().unwrap().name;
            (
                me.name.clone(),
                group,
                me.name,
                me.uid.as_raw(),
                me.gid.as_raw(),
            )
        };
        let p = |s: &str| d.join(s).display().to_string();
        std::fs::write(d.join("passwd"), "segreteria:{PLAIN}segreta\n").unwrap();
        std::fs::write(
            d.join("dovecot.conf"),
            format!(
                "base_dir = {run}
state_dir = {state}
log_path = {log}
info_log_path = {log}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{mail}/%u
default_internal_user = {internal}
default_internal_group = {internal_group}
default_login_user = {login}
first_valid_uid = 1
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={mail}/%u
}}
",
                run = p("run"),
                state = p("state"),
                log = p("dovecot.log"),
                mail = p("mail"),
                passwd = p("passwd"),
            ),
        )
        .unwrap();
        let child = Command::new(dovecot_binary())
            .args(["-F", "-c"])
            .arg(d.join("dovecot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dovecot (Debian package dovecot-imapd)");
        let server = Self {
            dir,
            port,
            child: Some(child),
        };
        // Ready when it greets.
        let deadline = Instant::now() + PATIENCE;
        loop {
            if server.session().await.is_some() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not start: {}",
                std::fs::read_to_string(server.dir.path().join("dovecot.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    /// The Ordine's `.imap` file's content.
    pub fn url(&self) -> String {
        format!("imap://segreteria:segreta@127.0.0.1:{}/INBOX", self.port)
    }

    async fn session(&self) -> Option<async_imap::Session<tokio::net::TcpStream>> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .ok()?;
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.ok()??;
        client.login("segreteria", "segreta").await.ok()
    }

    /// Delivers a message into the mailbox, as the provider does.
    pub async fn deliver(&self, raw: &[u8]) {
        let mut s = self.session().await.expect("IMAP login");
        s.append("INBOX", None, None, raw).await.unwrap();
        s.logout().await.unwrap();
    }
}

fn dovecot_binary() -> PathBuf {
    ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("dovecot"))
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SIGTERM: the master stops its login, auth and imap processes.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = c.wait();
        }
    }
}

/// The test provider's signing certificate (self-signed, like a test CA's).
fn provider() -> &'static (X509, PKey<Private>) {
    static P: OnceLock<(X509, PKey<Private>)> = OnceLock::new();
    P.get_or_init(|| {
        let key = PKey::from_rsa(Rsa::generate(2048).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("C", "IT").unwrap();
        name.append_entry_by_text("O", "Gestore PEC di prova")
            .unwrap();
        name.append_entry_by_text("CN", "posta-certificata@pec.example.it")
            .unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(365).unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        (b.build(), key)
    })
}

/// One receipt, as a PEC provider writes it (DM 2 novembre 2005, RFC 6109): the headers, a
/// multipart/signed S/MIME body whose signed part holds the text, daticert.xml and (for a
/// complete delivery receipt) the original message as postacert.eml.
pub struct Receipt<'a> {
    pub id: &'a str,
    pub kind: &'a str,
    pub refers_to: &'a str,
    pub recipient: &'a str,
    pub errore: &'a str,
    pub errore_esteso: Option<&'a str>,
}

impl Receipt<'_> {
    pub fn eml(&self) -> Vec<u8> {
        let subject = match self.kind {
            "accettazione" => "ACCETTAZIONE: Delibera",
            "avvenuta-consegna" => "CONSEGNA: Delibera",
            _ => "AVVISO DI MANCATA CONSEGNA: Delibera",
        };
        let esteso = self
            .errore_esteso
            .map(|e| format!("<errore-esteso>{e}</errore-esteso>"))
            .unwrap_or_default();
        let consegna = if self.kind == "accettazione" {
            String::new()
        } else {
            format!("<consegna>{}</consegna>", self.recipient)
        };
        let refers = self.refers_to.replace('<', "&lt;").replace('>', "&gt;");
        let daticert = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<postacert tipo=\"{kind}\" errore=\"{errore}\">\n\
<intestazione><mittente>segreteria@pec.ordine.example.it</mittente>\
<destinatari tipo=\"certificato\">{to}</destinatari>\
<risposte>segreteria@pec.ordine.example.it</risposte><oggetto>Delibera</oggetto></intestazione>\n\
<dati><gestore-emittente>Gestore PEC di prova</gestore-emittente>\
<data zona=\"+0100\"><giorno>01/12/2026</giorno><ora>10:00:00</ora></data>\
<identificativo>opec-prova.{id}@pec.example.it</identificativo>\
<msgid>{refers}</msgid>{consegna}<ricevuta tipo=\"completa\"/>{esteso}</dati>\n\
</postacert>\n",
            kind = self.kind,
            errore = self.errore,
            to = self.recipient,
            id = self.id,
        );
        let mut inner = format!(
            "Content-Type: multipart/mixed; boundary=\"interno\"\n\n\
--interno\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n\n\
Ricevuta di {kind}\nIl giorno 01/12/2026 alle ore 10:00:00 (+0100) il messaggio \"Delibera\" \
proveniente da \"segreteria@pec.ordine.example.it\" ed indirizzato a \"{to}\" \u{e8} stato \
trattato dal gestore.\nIdentificativo messaggio: opec-prova.{id}@pec.example.it\n\
--interno\nContent-Type: application/xml; name=\"daticert.xml\"\n\
Content-Disposition: inline; filename=\"daticert.xml\"\n\n{daticert}",
            kind = self.kind,
            to = self.recipient,
            id = self.id,
        );
        if self.kind == "avvenuta-consegna" {
            inner.push_str(&format!(
                "--interno\nContent-Type: message/rfc822; name=\"postacert.eml\"\n\
Content-Disposition: inline; filename=\"postacert.eml\"\n\n\
Message-ID: {}\nSubject: Delibera\nFrom: segreteria@pec.ordine.example.it\nTo: {}\n\n\
Il messaggio originale.\n",
                self.refers_to, self.recipient
            ));
        }
        inner.push_str("--interno--\n");
        let (cert, key) = provider();
        let flags = Pkcs7Flags::DETACHED | Pkcs7Flags::STREAM;
        let signed =
            Pkcs7::sign(cert, key, &Stack::new().unwrap(), inner.as_bytes(), flags).unwrap();
        let smime = String::from_utf8(signed.to_smime(inner.as_bytes(), flags).unwrap()).unwrap();
        let head = format!(
            "Return-Path: <posta-certificata@pec.example.it>\n\
Date: Tue, 1 Dec 2026 10:00:00 +0100\n\
Message-ID: <{id}@pec.example.it>\n\
From: posta-certificata@pec.example.it\n\
To: segreteria@pec.ordine.example.it\n\
Subject: {subject}\n\
X-Ricevuta: {kind}\n\
X-Riferimento-Message-ID: {refers}\n\
X-Trasporto: posta-certificata\n\
X-VerificaSicurezza: NESSUNA\n",
            id = self.id,
            kind = self.kind,
            refers = self.refers_to,
        );
        // CRLF line ends, as on the wire.
        format!("{head}{smime}")
            .replace("\r\n", "\n")
            .replace('\n', "\r\n")
            .into_bytes()
    }
}

/// An Ordine that seals its delibere on adoption (they leave at once), sending to `smtp` and
/// reading its PEC mailbox on `imap` every second.
pub async fn app_with(smtp: &Smtp, imap: &Dovecot) -> (TestApp, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let seal = crate::signing::Signer::new("80012345678");
    std::fs::write(dir.path().join(format!("{SLUG}.pem")), seal.pem()).unwrap();
    std::fs::write(dir.path().join(format!("{SLUG}.imap")), imap.url()).unwrap();
    let path = dir.path().to_path_buf();
    let mail = mailing(smtp);
    let app = spawn_app_with(move |c| {
        mail(c);
        c.seal_dir = Some(path.clone());
        c.pec_dir = Some(path);
        c.pec_poll = Duration::from_secs(1);
    })
    .await;
    (app, dir)
}

/// An admission sealed on adoption, with the judicial office's PEC known: the lawyer's and
/// the judge's copies leave by PEC. Returns the application, its code, the secretariat and
/// the Message-IDs of the lawyer's and the judge's messages once they were sent.
pub async fn admitted(app: &TestApp) -> (Uuid, String, LoggedIn, String, String) {
    let of = office(app).await;
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.tenants SET settings = settings || '{\"seal\": true}'")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("UPDATE app.judicial_offices SET pec = $2 WHERE id = $1")
        .bind(of.o.office)
        .bind(OFFICE_PEC)
        .execute(&mut conn)
        .await
        .unwrap();
    let (id, code) = submitted(app, &of.o).await;
    let (seg, rel) = in_examination(app, &of, id).await;
    let res = propose(
        app,
        &rel,
        id,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let deadline = Instant::now() + PATIENCE;
    loop {
        let sent: Vec<(String, Option<String>)> = sqlx::query_as(
            "SELECT recipient_kind, message_id FROM app.outbox
              WHERE application_id = $1 AND template = 'delibera_trasmessa' AND via_pec
              ORDER BY recipient_kind",
        )
        .bind(id)
        .fetch_all(&mut conn)
        .await
        .unwrap();
        if sent.len() == 2 && sent.iter().all(|s| s.1.is_some()) {
            assert_eq!(sent[0].0, "avvocato");
            assert_eq!(sent[1].0, "ufficio_giudiziario");
            let lawyer = sent[0].1.clone().unwrap();
            let judge = sent[1].1.clone().unwrap();
            return (id, code, seg, lawyer, judge);
        }
        assert!(Instant::now() < deadline, "not sent: {sent:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (recipient kind, state, reason) of the application's transmissions by PEC.
async fn states(app: &TestApp, id: Uuid) -> Vec<(String, String, Option<String>)> {
    let mut conn = app.admin_connection().await;
    sqlx::query_as(
        "SELECT recipient_kind, state, failure_reason FROM app.transmissions
          WHERE application_id = $1 AND via_pec AND outbox_id IS NOT NULL ORDER BY recipient_kind",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

/// Waits until the application's PEC transmissions are in `want` (kind, state).
pub async fn until_states(
    app: &TestApp,
    id: Uuid,
    want: &[(&str, &str)],
) -> Vec<(String, String, Option<String>)> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let got = states(app, id).await;
        let now: Vec<(&str, &str)> = got.iter().map(|s| (s.0.as_str(), s.1.as_str())).collect();
        if now == want {
            return got;
        }
        assert!(Instant::now() < deadline, "{got:?}, expected {want:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the service has read the mailbox up to its `n`-th message.
async fn until_read(app: &TestApp, n: i64) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let mut conn = app.admin_connection().await;
        let last: Option<i64> = sqlx::query_scalar("SELECT last_uid FROM app.pec_mailboxes")
            .fetch_optional(&mut conn)
            .await
            .unwrap();
        if last.unwrap_or(0) >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "mailbox read up to {last:?}, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn count(app: &TestApp, sql: &str, id: Uuid) -> i64 {
    let mut conn = app.admin_connection().await;
    sqlx::query_scalar(sql)
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

fn storage_path(app: &TestApp, key: &str) -> PathBuf {
    Path::new(app.files_dir()).join(key)
}

#[tokio::test]
async fn acceptance_then_delivery_per_recipient_and_a_failed_delivery_alerts_the_secretariat() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let imap = Dovecot::start().await;
    let (app, _dir) = app_with(&smtp, &imap).await;
    let (id, code, seg, lawyer, judge) = admitted(&app).await;
    until_states(
        &app,
        id,
        &[("avvocato", "in_coda"), ("ufficio_giudiziario", "in_coda")],
    )
    .await;

    // The secretariat has the case page open, and its board.
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    let version = version_of(&page);
    let mut case_ws = open(
        &app,
        &seg,
        &format!("/ws?vista=pratica&area=segreteria&id={id}&versione={version}"),
    )
    .await;
    let mut board = open(&app, &seg, "/ws?vista=segreteria").await;

    // The provider accepts both messages: each recipient's transmission is "accettata".
    for (n, refers) in [(1, &lawyer), (2, &judge)] {
        let r = Receipt {
            id: &format!("acc{n}"),
            kind: "accettazione",
            refers_to: refers,
            recipient: if n == 1 { LAWYER_PEC } else { OFFICE_PEC },
            errore: "nessuno",
            errore_esteso: None,
        };
        imap.deliver(&r.eml()).await;
    }
    until_states(
        &app,
        id,
        &[
            ("avvocato", "accettata"),
            ("ufficio_giudiziario", "accettata"),
        ],
    )
    .await;
    let msg = wait_for(&mut case_ws, "Accettata").await;
    assert!(msg.contains("trasmissioni-pratica"), "{msg}");

    // Delivered to the lawyer; not delivered to the judicial office, with the reason.
    let delivered = Receipt {
        id: "cons1",
        kind: "avvenuta-consegna",
        refers_to: &lawyer,
        recipient: LAWYER_PEC,
        errore: "nessuno",
        errore_esteso: None,
    }
    .eml();
    imap.deliver(&delivered).await;
    imap.deliver(
        &Receipt {
            id: "err2",
            kind: "errore-consegna",
            refers_to: &judge,
            recipient: OFFICE_PEC,
            errore: "no-dest",
            errore_esteso: Some("5.1.1 - Casella di posta inesistente"),
        }
        .eml(),
    )
    .await;
    let got = until_states(
        &app,
        id,
        &[
            ("avvocato", "consegnata"),
            ("ufficio_giudiziario", "mancata_consegna"),
        ],
    )
    .await;
    assert_eq!(got[0].2, None);
    assert_eq!(
        got[1].2.as_deref(),
        Some("5.1.1 - Casella di posta inesistente")
    );

    // Live: the case page's table and the board's alert, without a reload.
    wait_for(
        &mut case_ws,
        "Mancata consegna: 5.1.1 - Casella di posta inesistente",
    )
    .await;
    let msg = wait_for(&mut board, "Consegne PEC non riuscite").await;
    assert!(
        msg.contains("5.1.1 - Casella di posta inesistente"),
        "{msg}"
    );

    // The pages say the same.
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    assert!(page.contains("Consegnata"), "{page}");
    assert!(
        page.contains("Mancata consegna: 5.1.1 - Casella di posta inesistente"),
        "{page}"
    );
    assert!(
        page.contains("Ricevuta di avvenuta consegna"),
        "the history: {page}"
    );
    assert!(
        page.contains("Consegna PEC non riuscita"),
        "the history: {page}"
    );
    let (_, list) = seg
        .page(&app, &format!("/{SLUG}/segreteria/ricevute-pec"))
        .await;
    assert!(list.contains("Mancata consegna: 5.1.1"), "{list}");
    assert!(list.contains(LAWYER_PEC), "{list}");
    let (_, board_page) = seg.page(&app, &format!("/{SLUG}/segreteria")).await;
    assert!(
        board_page.contains("Consegne PEC non riuscite"),
        "{board_page}"
    );

    // The secretariat is alerted by e-mail, once.
    let deadline = Instant::now() + PATIENCE;
    let alerts = loop {
        let alerts: Vec<_> = smtp
            .received()
            .into_iter()
            .filter(|m| m.subject.contains("Consegna PEC non riuscita"))
            .collect();
        if !alerts.is_empty() {
            break alerts;
        }
        assert!(Instant::now() < deadline, "no alert e-mail");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].subject.contains(&code), "{}", alerts[0].subject);
    assert!(
        alerts[0]
            .text
            .contains("5.1.1 - Casella di posta inesistente"),
        "{}",
        alerts[0].text
    );
    assert!(alerts[0].text.contains(OFFICE_PEC), "{}", alerts[0].text);

    // Each receipt is kept whole as evidence, with its SHA-256.
    let mut conn = app.admin_connection().await;
    let kept: Vec<(String, String, String, String)> = sqlx::query_as(
        "SELECT kind, eml_key, eml_sha256, signature FROM app.pec_receipts
          WHERE application_id = $1 ORDER BY uid",
    )
    .bind(id)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let kinds: Vec<&str> = kept.iter().map(|k| k.0.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "accettazione",
            "accettazione",
            "avvenuta-consegna",
            "errore-consegna"
        ]
    );
    assert!(
        kept.iter().all(|k| k.3 == "integra"),
        "the provider's signatures are intact: {kept:?}"
    );
    let stored = std::fs::read(storage_path(&app, &kept[2].1)).unwrap();
    assert_eq!(stored, delivered, "the .eml as read from the mailbox");
    use sha2::Digest;
    assert_eq!(hex::encode(sha2::Sha256::digest(&stored)), kept[2].2);

    // The application's dossier holds each receipt as read, and lists it.
    let res = seg
        .client
        .get(app.url(&format!("{}/fascicolo.zip", case_path("segreteria", id))))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let files = crate::dossier::unzip(&res.bytes().await.unwrap());
    crate::dossier::check_manifest(&files);
    let emls: Vec<&(String, Vec<u8>)> = files
        .iter()
        .filter(|(n, _)| n.starts_with("ricevute-pec/"))
        .collect();
    assert_eq!(emls.len(), 4, "{:?}", crate::dossier::names(&files));
    assert_eq!(emls[2].0, "ricevute-pec/03-avvenuta-consegna.eml");
    assert_eq!(emls[2].1, delivered);
    let summary = files
        .iter()
        .find(|(n, _)| n.starts_with("fascicolo-"))
        .unwrap();
    let text = crate::workflow::pdf_text(&summary.1);
    assert!(text.contains("Ricevute PEC"), "{text}");
    assert!(
        text.contains("5.1.1 - Casella di posta inesistente"),
        "{text}"
    );
    drop(smtp);
}

#[tokio::test]
async fn the_same_receipt_twice_changes_nothing_and_an_unknown_message_id_is_kept_aside() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let imap = Dovecot::start().await;
    let (app, _dir) = app_with(&smtp, &imap).await;
    let (id, _, seg, lawyer, _) = admitted(&app).await;

    let delivered = Receipt {
        id: "cons1",
        kind: "avvenuta-consegna",
        refers_to: &lawyer,
        recipient: LAWYER_PEC,
        errore: "nessuno",
        errore_esteso: None,
    }
    .eml();
    imap.deliver(&delivered).await;
    until_states(
        &app,
        id,
        &[
            ("avvocato", "consegnata"),
            ("ufficio_giudiziario", "in_coda"),
        ],
    )
    .await;
    until_read(&app, 1).await;
    let events = "SELECT count(*) FROM app.events WHERE application_id = $1";
    let audit = "SELECT count(*) FROM app.audit_log WHERE details->>'istanza' = $1::text";
    let receipts = "SELECT count(*) FROM app.pec_receipts WHERE application_id = $1";
    let before = (
        count(&app, events, id).await,
        count(&app, audit, id).await,
        count(&app, receipts, id).await,
    );
    assert_eq!(before.2, 1);

    // The same receipt again (the provider's copy, a second delivery into the mailbox), and an
    // ordinary message that is no receipt: nothing changes.
    imap.deliver(&delivered).await;
    imap.deliver(b"Message-ID: <pubblicita@example.it>\r\nSubject: Offerta\r\n\r\nNiente.\r\n")
        .await;
    // A receipt about a message that is none of ours, altered after the provider signed it.
    let stranger = Receipt {
        id: "estranea",
        kind: "accettazione",
        refers_to: "<messaggio-di-altri@posta.example.org>",
        recipient: "qualcuno@pec.example.org",
        errore: "nessuno",
        errore_esteso: None,
    }
    .eml();
    let stranger = String::from_utf8(stranger)
        .unwrap()
        .replacen("Ricevuta di accettazione", "Ricevuta di accettaziune", 1)
        .into_bytes();
    imap.deliver(&stranger).await;
    until_read(&app, 4).await;
    assert_eq!(
        (
            count(&app, events, id).await,
            count(&app, audit, id).await,
            count(&app, receipts, id).await,
        ),
        before,
        "the same receipt read twice changes nothing"
    );
    assert_eq!(
        states(&app, id)
            .await
            .iter()
            .map(|s| s.1.as_str())
            .collect::<Vec<_>>(),
        ["consegnata", "in_coda"]
    );

    // The unknown one is kept aside, listed, and its .eml downloadable.
    let mut conn = app.admin_connection().await;
    let (unknown, n): (Uuid, i64) =
        sqlx::query_as("SELECT id, count(*) OVER () FROM app.pec_receipts WHERE outbox_id IS NULL")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(n, 1);
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM app.pec_receipts")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(total, 2, "the copy and the ordinary message are not kept");
    let (_, list) = seg
        .page(&app, &format!("/{SLUG}/segreteria/ricevute-pec"))
        .await;
    assert!(list.contains("Ricevute non abbinate"), "{list}");
    assert!(
        list.contains("&lt;messaggio-di-altri@posta.example.org&gt;"),
        "{list}"
    );
    assert!(
        list.contains("Firma del gestore NON integra"),
        "the alteration is seen: {list}"
    );
    let res = seg
        .client
        .get(app.url(&format!("/{SLUG}/segreteria/ricevute-pec/{unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.bytes().await.unwrap().to_vec(), stranger);
    drop(smtp);
}
