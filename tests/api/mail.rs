//! E-mail: the outbox sent to a real SMTP server (aiosmtpd with its Maildir handler, started
//! here): once, with the right recipients and words; nothing when the change rolls back; all
//! of it, in order, after the server was down; never twice with two workers at once.

use std::{
    collections::HashSet,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use sqlx::Row;
use uuid::Uuid;

use crate::{
    helpers::{TestApp, python_with_aiosmtpd, spawn_app_with},
    workflow::{SLUG, case_path, copies, office, register, submitted, version_of},
};

/// aiosmtpd's Maildir handler that refuses some recipients, as a real server refuses a
/// mailbox that does not exist.
const REFUSING_HANDLER: &str = r#"
import os
from aiosmtpd.handlers import Mailbox

class Rifiuta(Mailbox):
    def __init__(self, mail_dir, flag):
        super().__init__(mail_dir)
        self.flag = flag

    @classmethod
    def from_cli(cls, parser, *args):
        return cls(args[0], args[1])

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("rifiuta") and os.path.exists(self.flag):
            return "550 5.1.1 Casella di posta inesistente"
        envelope.rcpt_tos.append(address)
        return "250 OK"
"#;

/// A message as the SMTP server received it.
#[derive(Debug)]
pub struct Mail {
    /// aiosmtpd's delivery counter: the order of arrival.
    order: u64,
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    html: String,
    pub attachments: Vec<(String, Vec<u8>)>,
}

pub struct Smtp {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Smtp {
    pub fn new(port: u16) -> Self {
        Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Starts aiosmtpd on the port and waits until it accepts connections.
    pub async fn start(&mut self) {
        self.spawn(false).await;
    }

    async fn spawn(&mut self, refusing: bool) {
        let maildir = self.dir.path().join("posta");
        let mut cmd = Command::new(python_with_aiosmtpd());
        cmd.args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port));
        if refusing {
            cmd.env("PYTHONPATH", self.dir.path())
                .args(["-c", "rifiuta.Rifiuta"])
                .arg(&maildir)
                .arg(self.dir.path().join("rifiuta.flag"));
        } else {
            cmd.args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(&maildir);
        }
        let child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 not found: tests/run installs it with aiosmtpd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .is_err()
        {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!(
                    "aiosmtpd exited ({status}): tests/run installs it (Debian's python3-aiosmtpd)"
                );
            }
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Starts aiosmtpd with a handler that refuses (550) the addresses starting with
    /// `rifiuta` until [`Smtp::accept_all`].
    async fn start_refusing(&mut self) {
        let module = self.dir.path().join("rifiuta.py");
        std::fs::write(&module, REFUSING_HANDLER).unwrap();
        std::fs::write(self.dir.path().join("rifiuta.flag"), b"").unwrap();
        self.spawn(true).await;
    }

    fn accept_all(&self) {
        std::fs::remove_file(self.dir.path().join("rifiuta.flag")).unwrap();
    }

    pub fn received(&self) -> Vec<Mail> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.dir.path().join("posta").join(sub)) else {
                continue;
            };
            for e in entries {
                let path = e.unwrap().path();
                out.push(parse(&path));
            }
        }
        out.sort_by_key(|m| m.order);
        out
    }

    /// Waits until at least `n` messages arrived.
    async fn wait_for(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "{} of {n} messages arrived: {got:#?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A Maildir file: `<seconds>.M<micro>P<pid>Q<counter>.<host>`.
fn parse(path: &Path) -> Mail {
    let name = path.file_name().unwrap().to_str().unwrap();
    let order = name
        .split('Q')
        .nth(1)
        .and_then(|r| r.split('.').next())
        .and_then(|q| q.parse().ok())
        .expect("a Maildir name with its Q counter");
    let raw = std::fs::read(path).unwrap();
    let m = mailparse::parse_mail(&raw).unwrap();
    let header = |h: &str| {
        mailparse::MailHeaderMap::get_first_value(&m.get_headers(), h).unwrap_or_default()
    };
    let part = |mime: &str| {
        find_part(&m, mime)
            .map(|p| p.get_body().unwrap())
            .unwrap_or_default()
    };
    let attachments = attachments_of(&m);
    Mail {
        order,
        message_id: header("Message-ID"),
        from: header("From"),
        to: header("To"),
        subject: header("Subject"),
        text: part("text/plain"),
        html: part("text/html"),
        attachments,
    }
}

fn find_part<'a>(
    m: &'a mailparse::ParsedMail<'a>,
    mime: &str,
) -> Option<&'a mailparse::ParsedMail<'a>> {
    if m.ctype.mimetype == mime {
        return Some(m);
    }
    m.subparts.iter().find_map(|p| find_part(p, mime))
}

/// (file name, bytes) of each attachment.
fn attachments_of(m: &mailparse::ParsedMail<'_>) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for p in &m.subparts {
        let d = p.get_content_disposition();
        if d.disposition == mailparse::DispositionType::Attachment {
            out.push((
                d.params.get("filename").cloned().unwrap_or_default(),
                p.get_body_raw().unwrap(),
            ));
        }
        out.extend(attachments_of(p));
    }
    out
}

/// An instance's configuration for sending to `smtp`, retrying after a second.
pub fn mailing(smtp: &Smtp) -> impl FnOnce(&mut patrocinio::Config) + use<> {
    let url = smtp.url();
    move |c| {
        c.smtp_url = Some(url);
        c.mail_retry = Duration::from_secs(1);
    }
}

async fn with_mail(smtp: &Smtp) -> TestApp {
    spawn_app_with(mailing(smtp)).await
}

/// The rapporteur asks for a document (a message to the parties).
async fn request_integration(app: &TestApp, rel: &crate::helpers::LoggedIn, id: Uuid) {
    let (_, page) = rel.page(app, &case_path("consiglieri", id)).await;
    let v = version_of(&page);
    let res = rel
        .post(
            app,
            &format!("{}/integrazione", case_path("consiglieri", id)),
            &[("versione", &v), ("documenti", "redditi"), ("scadenza", "")],
        )
        .await;
    assert_eq!(res.status(), 303);
}

/// (recipient, status, attempts, Message-ID) of every outbox row, oldest first.
async fn outbox(app: &TestApp) -> Vec<(String, String, i32, Option<String>)> {
    let mut conn = app.admin_connection().await;
    sqlx::query("SELECT recipient, status, attempts, message_id FROM app.outbox ORDER BY id")
        .fetch_all(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect()
}

/// Two worker rounds at least, to let a duplicate show up if there were one.
async fn settle() {
    tokio::time::sleep(Duration::from_secs(3)).await;
}

#[tokio::test]
async fn the_registration_e_mail_reaches_lawyer_and_applicant_once_and_a_rollback_sends_nothing() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let app = with_mail(&smtp).await;
    let of = office(&app).await;
    let (id, code) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    let seen = version_of(&page);
    let protocol = register(&app, &seg, id).await;
    // The same registration again from the page seen before: refused, rolled back.
    let res = seg
        .post(
            &app,
            &format!("{}/protocolla", case_path("segreteria", id)),
            &[("versione", &seen)],
        )
        .await;
    assert_eq!(res.status(), 409);

    // The receipt of the filing, then the registration: each to the lawyer and the applicant.
    let all = smtp.wait_for(4).await;
    settle().await;
    let mails_after = smtp.received();
    assert_eq!(mails_after.len(), 4, "{mails_after:#?}");
    let rows = outbox(&app).await;
    assert_eq!(
        rows.len(),
        4,
        "one row per recipient, none for the refused change"
    );
    let recipients: HashSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(recipients.len(), 2);
    assert!(
        recipients.contains("mario.rossi@example.it"),
        "{recipients:?}"
    );
    let (receipts, mails): (Vec<&Mail>, Vec<&Mail>) =
        all.iter().partition(|m| m.subject.ends_with("ricevuta"));
    assert_eq!(receipts.len(), 2);
    for m in &receipts {
        assert_eq!(m.subject, format!("Istanza {code} ricevuta"));
        assert!(m.text.contains("ha ricevuto l'istanza"), "{}", m.text);
        assert!(!m.text.contains("protocollo n."));
    }
    for m in &mails {
        assert!(recipients.iter().any(|r| m.to.contains(r)), "{}", m.to);
        assert!(
            m.subject.contains("Registrata nel protocollo"),
            "{}",
            m.subject
        );
        assert!(m.subject.contains(&code));
        assert!(
            m.text.contains(&format!("protocollo n. {protocol}")),
            "{}",
            m.text
        );
        assert!(m.html.contains(&format!("protocollo n. {protocol}")));
        assert!(m.text.contains("Consiglio dell'Ordine"), "{}", m.text);
        assert!(m.text.contains("non rispondere a questo indirizzo"));
        // The Message-ID is the one recorded with the row.
        assert!(
            rows.iter()
                .any(|r| r.1 == "inviato" && r.3.as_deref() == Some(m.message_id.as_str())),
            "{} not in {rows:?}",
            m.message_id
        );
    }
    // The applicant is sent to the status page, the lawyer to their area.
    let to_applicant = mails
        .iter()
        .find(|m| m.to.contains("mario.rossi@example.it"))
        .unwrap();
    assert!(
        to_applicant
            .text
            .contains(&format!("/{SLUG}/istanza/stato"))
    );
    let to_lawyer = mails
        .iter()
        .find(|m| !m.to.contains("mario.rossi@example.it"))
        .unwrap();
    assert!(to_lawyer.text.contains(&format!("/{SLUG}/avvocati")));
}

#[tokio::test]
async fn with_the_smtp_server_down_nothing_is_lost_and_each_recipient_gets_them_in_order() {
    let mut smtp = Smtp::new(free_port());
    let app = with_mail(&smtp).await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let (_seg, rel) = crate::workflow::in_examination(&app, &of, id).await;
    // A second message to the parties.
    request_integration(&app, &rel, id).await;
    // Receipt and registration (lawyer, applicant), assignment (rapporteur), request (lawyer,
    // applicant).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = outbox(&app).await;
        if rows.len() == 7 && rows.iter().any(|r| r.2 >= 2) {
            assert!(rows.iter().all(|r| r.1 == "in_attesa"), "{rows:?}");
            break;
        }
        assert!(Instant::now() < deadline, "no attempt failed: {rows:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The server comes back.
    smtp.start().await;
    let mails = smtp.wait_for(7).await;
    settle().await;
    let mails = {
        let again = smtp.received();
        assert_eq!(again.len(), 7, "{again:#?}");
        assert_eq!(mails.len(), 7);
        again
    };
    assert!(outbox(&app).await.iter().all(|r| r.1 == "inviato"));
    let ids: HashSet<&str> = mails.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(ids.len(), 7);
    // The lawyer and the applicant: each got the receipt, the registration, then the request.
    let parties: Vec<&str> = mails
        .iter()
        .filter(|m| m.subject.contains("Registrata nel protocollo"))
        .map(|m| m.to.as_str())
        .collect();
    assert_eq!(parties.len(), 2);
    for who in parties {
        let subjects: Vec<&str> = mails
            .iter()
            .filter(|m| m.to == who)
            .map(|m| m.subject.as_str())
            .collect();
        assert_eq!(subjects.len(), 3, "{subjects:?}");
        assert!(subjects[0].ends_with("ricevuta"), "{subjects:?}");
        assert!(
            subjects[1].contains("Registrata nel protocollo"),
            "{subjects:?}"
        );
        assert!(
            subjects[2].contains("Richiesta di integrazione"),
            "{subjects:?}"
        );
    }
    let to_rapporteur: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.subject.contains("Assegnata"))
        .collect();
    assert_eq!(to_rapporteur.len(), 1);
    assert!(to_rapporteur[0].text.contains("consigliere relatore"));
}

/// The worker sleeps until a message is queued (the outbox's doorbell at commit) or a retry
/// falls due: with its safety poll an hour away, a retry still goes at its time, and a message
/// queued later goes at once.
#[tokio::test]
async fn without_the_poll_a_retry_goes_at_its_time_and_a_queued_message_at_once() {
    let mut smtp = Smtp::new(free_port());
    let mail = mailing(&smtp);
    let app = spawn_app_with(move |c| {
        mail(c);
        c.mail_poll = Duration::from_secs(3600);
    })
    .await;
    let of = office(&app).await;
    // The server is down: the receipt's e-mails fail and wait for their retry.
    let (id, _) = submitted(&app, &of.o).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let queued = loop {
        let rows = outbox(&app).await;
        if !rows.is_empty() && rows.iter().all(|r| r.1 == "in_attesa" && r.2 >= 1) {
            break rows.len();
        }
        assert!(Instant::now() < deadline, "no attempt failed: {rows:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // The server comes back: nothing rings, the retries go when they fall due.
    smtp.start().await;
    smtp.wait_for(queued).await;
    // A registration queues the next ones: they go on the doorbell.
    let seg = app.login(&of.secretariat).await;
    register(&app, &seg, id).await;
    let all = outbox(&app).await.len();
    assert!(all > queued, "the registration queued no e-mail");
    smtp.wait_for(all).await;
    settle().await;
    assert_eq!(smtp.received().len(), all);
    assert!(outbox(&app).await.iter().all(|r| r.1 == "inviato"));
}

#[tokio::test]
async fn two_workers_at_once_never_send_a_message_twice() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let app = with_mail(&smtp).await;
    let second = app.another_instance_with(mailing(&smtp)).await;
    let of = office(&app).await;
    let (first, _) = submitted(&app, &of.o).await;
    let mut ids: Vec<Uuid> = copies(&app, first, 7).await;
    ids.push(first);
    let seg = app.login(&of.secretariat).await;
    for id in &ids {
        register(&app, &seg, *id).await;
    }
    // The first filing's receipts, then two registration messages per application.
    let expected = 2 + 2 * ids.len();
    let mails = smtp.wait_for(expected).await;
    settle().await;
    let all = smtp.received();
    assert_eq!(all.len(), expected, "{all:#?}");
    assert_eq!(mails.len(), all.len());
    let distinct: HashSet<&str> = all.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(distinct.len(), all.len(), "a Message-ID arrived twice");
    drop(second);
}

#[tokio::test]
async fn a_worker_that_dies_between_the_250_and_its_commit_sends_one_copy_with_the_same_message_id()
{
    use sqlx::Executor;
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    // The first instance has no SMTP server: the registration's e-mails wait in the outbox.
    let app = crate::helpers::spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    register(&app, &seg, id).await;
    assert_eq!(outbox(&app).await.len(), 4);
    // Rows may be taken (FOR UPDATE) but not updated: the worker will hang right after the
    // server's 250, before marking the row sent.
    let mut holder = app.admin_connection().await;
    holder.execute("BEGIN").await.unwrap();
    holder
        .execute("LOCK TABLE app.outbox IN SHARE MODE")
        .await
        .unwrap();
    let second = app.another_instance_with(mailing(&smtp)).await;
    let first = smtp.wait_for(1).await;
    // The worker dies there: its database session ends before the commit.
    let mut admin = app.admin_connection().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'
                AND query LIKE 'UPDATE outbox SET status = ''inviato''%'",
        )
        .fetch_all(&mut admin)
        .await
        .unwrap();
        if killed.contains(&true) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the worker never waited to mark the row"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // What the server had accepted before the worker died (the worker sends a few at once).
    let before = smtp.received().len();
    holder.execute("COMMIT").await.unwrap();
    // Those rows are still waiting: each goes again, once, then the others.
    smtp.wait_for(4 + before).await;
    settle().await;
    let all = smtp.received();
    assert_eq!(all.len(), 4 + before, "{all:#?}");
    let twice: Vec<&Mail> = all
        .iter()
        .filter(|m| m.message_id == first[0].message_id)
        .collect();
    assert_eq!(twice.len(), 2, "one duplicate, with the same Message-ID");
    assert_eq!(twice[0].text, twice[1].text);
    let distinct: HashSet<&str> = all.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(distinct.len(), 4);
    for id in &distinct {
        let copies = all.iter().filter(|m| m.message_id == *id).count();
        assert!(copies <= 2, "{id} arrived {copies} times");
    }
    assert!(outbox(&app).await.iter().all(|r| r.1 == "inviato"));
    drop(second);
}

#[tokio::test]
async fn an_address_refused_by_its_server_is_shown_to_the_administrator_who_sends_it_again() {
    use patrocinio::domain::access::Role;
    let mut smtp = Smtp::new(free_port());
    smtp.start_refusing().await;
    let app = with_mail(&smtp).await;
    let of = office(&app).await;
    let (id, code) = submitted(&app, &of.o).await;
    let mut conn = app.admin_connection().await;
    sqlx::query(
        "UPDATE app.applications SET applicant_email = 'rifiuta.rossi@example.it' WHERE id = $1",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    let seg = app.login(&of.secretariat).await;
    register(&app, &seg, id).await;
    // The receipts and the lawyer's message go; the refused one is set aside at once (a 5xx
    // does not change).
    smtp.wait_for(3).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let refused: i64 = loop {
        let row: Option<(i64, i32)> = sqlx::query_as(
            "SELECT id, attempts FROM app.outbox
              WHERE recipient = 'rifiuta.rossi@example.it' AND status = 'non_recapitabile'",
        )
        .fetch_optional(&mut conn)
        .await
        .unwrap();
        if let Some((row, attempts)) = row {
            assert_eq!(attempts, 1);
            break row;
        }
        assert!(
            Instant::now() < deadline,
            "the refused message was not set aside"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let admin = app
        .user(
            SLUG,
            "amministrazione@ordine.example.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let admin = app.login(&admin).await;
    let page_url = format!("/{SLUG}/amministrazione/posta");
    let (status, page) = admin.page(&app, &page_url).await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("messaggio-{refused}")));
    assert!(page.contains("rifiuta.rossi@example.it"));
    assert!(page.contains("Casella di posta inesistente"), "{page}");
    assert!(page.contains("Registrata nel protocollo"));
    assert!(page.contains(&code));

    // The mailbox now exists: sent again from the page.
    smtp.accept_all();
    let res = admin
        .post(&app, &format!("{page_url}/{refused}/riprova"), &[])
        .await;
    assert_eq!(res.status(), 303);
    let mails = smtp.wait_for(4).await;
    assert!(mails[3].to.contains("rifiuta.rossi@example.it"));
    assert!(mails[3].subject.contains("Registrata nel protocollo"));
    let (_, page) = admin
        .page(&app, &format!("{page_url}?stato=non_recapitabile"))
        .await;
    assert!(!page.contains(&format!("messaggio-{refused}")));
    assert!(page.contains("Nessun messaggio non recapitato."));
    let (_, page) = admin.page(&app, &format!("{page_url}?stato=inviato")).await;
    assert!(
        page.contains(&format!("messaggio-{refused}")),
        "now among the sent"
    );
    // Only undeliverable messages can be sent again.
    let res = admin
        .post(&app, &format!("{page_url}/{refused}/riprova"), &[])
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn an_account_link_goes_by_e_mail_and_is_forgotten_once_sent() {
    use patrocinio::domain::access::Role;
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let app = with_mail(&smtp).await;
    let of = office(&app).await;
    let admin = app
        .user(
            SLUG,
            "amministrazione@ordine.example.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let admin = app.login(&admin).await;
    let councillor = &of.councillors[0];
    let res = admin
        .post(
            &app,
            &format!("/{SLUG}/amministrazione/utenti/{}/link", councillor.id),
            &[],
        )
        .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(page.contains("Parte anche per e-mail"));
    let mails = smtp.wait_for(1).await;
    let m = &mails[0];
    assert!(m.to.contains(&councillor.email), "{}", m.to);
    assert!(
        m.subject.starts_with("Reimpostazione della password"),
        "{}",
        m.subject
    );
    assert!(m.text.contains("si può usare una sola volta"));
    let start = m.text.find("http").expect("a link in the e-mail");
    let link = m.text[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    assert!(
        link.starts_with(&format!("{}/{SLUG}/imposta-password/", app.address)),
        "{link}"
    );
    // The same link the administrator sees, and it works.
    assert!(page.contains(&link));
    let form = crate::helpers::new_client()
        .get(&link)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    // Once sent, the outbox no longer holds the token.
    let mut conn = app.admin_connection().await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let kept: bool = sqlx::query_scalar(
            "SELECT bool_or(payload ? 'percorso') FROM app.outbox WHERE template = 'reimpostazione'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if !kept {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the token is still in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn reminders_go_once_before_the_integration_deadline_and_when_the_clock_runs_out() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let app = with_mail(&smtp).await;
    let of = office(&app).await;
    let (id, code) = submitted(&app, &of.o).await;
    let (_seg, rel) = crate::workflow::in_examination(&app, &of, id).await;
    request_integration(&app, &rel, id).await;
    // Receipt and registration (2 + 2), assignment (1), request (2).
    smtp.wait_for(7).await;
    // Two days to the integration deadline; one to the end of the ten days.
    let mut conn = app.admin_connection().await;
    sqlx::query("UPDATE app.integration_requests SET due_on = current_date + 2")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query(
        "UPDATE app.applications SET submitted_at = now() - interval '9 days' WHERE id = $1",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    // This Ordine lets the ten days run during integrations (by default they stand still).
    sqlx::query(
        "UPDATE app.tenants SET settings = settings || '{\"clock_runs_during_integration\": true}'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    // An instance that starts looks for reminders at once; a second one finds none left.
    let second = app.another_instance().await;
    let mails = smtp.wait_for(10).await;
    let third = app.another_instance().await;
    settle().await;
    assert_eq!(smtp.received().len(), 10);
    let reminders: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.subject.starts_with("Promemoria: integrazione entro il"))
        .collect();
    assert_eq!(reminders.len(), 2, "to the lawyer and the applicant");
    for m in &reminders {
        assert!(m.subject.contains(&code));
        assert!(m.text.contains("può essere dichiarata inammissibile"));
    }
    let clock: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.subject.starts_with("Termine per decidere in scadenza"))
        .collect();
    assert_eq!(clock.len(), 1, "to the one secretariat account");
    assert!(clock[0].to.contains(&of.secretariat.email));
    assert!(
        clock[0].text.contains("manca 1 giorno"),
        "{}",
        clock[0].text
    );
    drop((second, third));
}

#[tokio::test]
async fn a_councillor_chooses_how_to_hear_of_new_assignments() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let app = with_mail(&smtp).await;
    let of = office(&app).await;
    let (rossi, verdi) = (&of.councillors[0], &of.councillors[1]);
    let rel = app.login(rossi).await;
    let url = format!("/{SLUG}/avvisi");
    let (status, page) = rel.page(&app, &url).await;
    assert_eq!(status, 200);
    assert!(page.contains("Nuove pratiche assegnate"));
    assert!(
        page.contains(r#"value="subito" checked"#),
        "at once by default"
    );
    // A choice that does not exist is refused with a message.
    let res = rel.post(&app, &url, &[("assegnazioni", "sempre")]).await;
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Scegliere come ricevere")
    );
    let res = rel.post(&app, &url, &[("assegnazioni", "riepilogo")]).await;
    assert_eq!(res.status(), 303);
    let (_, page) = rel.page(&app, &format!("{url}?salvato=1")).await;
    assert!(page.contains("Scelte salvate."));
    assert!(page.contains(r#"value="riepilogo" checked"#));
    let other = app.login(verdi).await;
    let res = other.post(&app, &url, &[("assegnazioni", "mai")]).await;
    assert_eq!(res.status(), 303);

    let (first, _) = submitted(&app, &of.o).await;
    let mut ids = copies(&app, first, 2).await;
    ids.insert(0, first);
    let seg = app.login(&of.secretariat).await;
    crate::workflow::register_and_assign(&app, &seg, ids[0], rossi.id).await;
    crate::workflow::register_and_assign(&app, &seg, ids[1], rossi.id).await;
    crate::workflow::register_and_assign(&app, &seg, ids[2], verdi.id).await;
    // Receipts (2) and registrations (3 × 2); no assignment e-mail now.
    smtp.wait_for(8).await;
    settle().await;
    let now = smtp.received();
    assert_eq!(now.len(), 8, "{now:#?}");
    assert!(!now.iter().any(|m| m.subject.contains("Assegnata")));
    let mut conn = app.admin_connection().await;
    let waiting: Vec<(String, bool)> = sqlx::query_as(
        "SELECT recipient, next_attempt_at > now() FROM app.outbox
          WHERE template = 'assegnata' AND status = 'in_attesa' ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        waiting,
        [(rossi.email.clone(), true), (rossi.email.clone(), true)],
        "the digest waits for the morning; nothing for who chose none"
    );
    // Morning comes.
    sqlx::query("UPDATE app.outbox SET next_attempt_at = now() WHERE digest")
        .execute(&mut conn)
        .await
        .unwrap();
    let mails = smtp.wait_for(9).await;
    settle().await;
    assert_eq!(smtp.received().len(), 9);
    let digest = &mails[8];
    assert!(digest.to.contains(&rossi.email));
    assert_eq!(digest.subject, "Pratiche assegnate: 2");
    assert_eq!(
        digest.text.matches("• istanza").count(),
        2,
        "{}",
        digest.text
    );
    let ids: Vec<Option<String>> = sqlx::query_scalar(
        "SELECT message_id FROM app.outbox WHERE template = 'assegnata' ORDER BY id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0].as_deref(), Some(digest.message_id.as_str()));
    assert_eq!(ids[0], ids[1], "one message for both rows");
}

#[tokio::test]
async fn a_lawyer_with_only_a_pec_address_is_written_to_through_the_ordines_pec_provider() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let mut pec = Smtp::new(free_port());
    pec.start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(format!("{SLUG}.url")), pec.url()).unwrap();
    let (configure, pec_dir) = (mailing(&smtp), dir.path().to_path_buf());
    let app = spawn_app_with(move |c| {
        configure(c);
        c.pec_dir = Some(pec_dir);
    })
    .await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    register(&app, &seg, id).await;
    // The receipt and the registration: to the lawyer's PEC by the Ordine's PEC, to the
    // applicant by ordinary e-mail.
    let certified = pec.wait_for(2).await;
    let ordinary = smtp.wait_for(2).await;
    settle().await;
    assert_eq!(pec.received().len(), 2);
    assert_eq!(smtp.received().len(), 2);
    for m in &certified {
        assert!(m.to.contains("@pec."), "{}", m.to);
        assert!(m.from.contains("segreteria@pec.example.it"), "{}", m.from);
    }
    for m in &ordinary {
        assert!(m.to.contains("mario.rossi@example.it"), "{}", m.to);
        assert!(m.from.contains("noreply@localhost"), "{}", m.from);
    }
}

#[tokio::test]
async fn the_signed_delibera_goes_attached_with_its_outgoing_protocol_number() {
    use crate::workflow::{in_examination, personal_cf, propose, set_cf, upload_signed};
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let app = with_mail(&smtp).await;
    let of = office(&app).await;
    // A delibera is transmitted with the file whatever the Ordine chose for notices.
    let cf = personal_cf("Rossi", "Paola");
    set_cf(&app, of.councillors[0].id, &cf).await;
    let (id, code) = submitted(&app, &of.o).await;
    let (_seg, rel) = in_examination(&app, &of, id).await;
    let res = propose(
        &app,
        &rel,
        id,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    assert_eq!(res.status(), 303);
    // The councillor takes the delibera to sign (the ZIP of those waiting), signs it with
    // their own tool, and uploads it.
    let zipped = rel
        .client
        .get(app.url(&format!("/{SLUG}/consiglieri/firma/delibere.zip")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    let mut pdf = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_index(0).unwrap(), &mut pdf).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    crate::signing::trust(&app).await;
    let signed = crate::signing::Signer::new(&cf).p7m(&pdf);
    let (_, body) = upload_signed(&app, &rel, vec![("delibera.pdf.p7m", signed.clone())]).await;
    assert!(body.contains("Firme verificate e registrate"), "{body}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let announced = loop {
        let got: Vec<Mail> = smtp
            .received()
            .into_iter()
            .filter(|m| m.subject.contains("prot. n."))
            .collect();
        if got.len() == 2 {
            break got;
        }
        assert!(Instant::now() < deadline, "{got:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for m in &announced {
        assert!(m.subject.contains(&code));
        assert!(
            m.text.contains("La delibera firmata è allegata"),
            "{}",
            m.text
        );
        assert_eq!(m.attachments.len(), 1);
        let (name, bytes) = &m.attachments[0];
        assert!(name.ends_with(".pdf.p7m"), "{name}");
        assert_eq!(bytes, &signed, "the signed file, as verified");
    }
}

#[tokio::test]
async fn the_draft_code_and_pin_go_to_the_address_given_and_the_pin_is_then_forgotten() {
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let app = with_mail(&smtp).await;
    let _of = office(&app).await;
    let url = app.url(&format!("/{SLUG}/istanza/nuova"));
    // A wrong address: said in Italian, what was typed is kept, no draft.
    let res = app
        .client
        .post(&url)
        .form(&[("email", "anna.rossi@example")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("L&#39;indirizzo e-mail non è valido")
            || body.contains("L'indirizzo e-mail non è valido")
    );
    assert!(body.contains(r#"value="anna.rossi@example""#));
    assert!(body.contains(r#"aria-invalid="true""#));

    let res = app
        .client
        .post(&url)
        .form(&[("email", " Anna.Rossi@Example.it ")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let (code, pin) = crate::public_form::code_and_pin(&body);
    assert!(
        body.contains("verranno inviati anche per e-mail a <strong>anna.rossi@example.it</strong>")
    );

    let mails = smtp.wait_for(1).await;
    settle().await;
    assert_eq!(smtp.received().len(), 1);
    let m = &mails[0];
    assert!(m.to.contains("anna.rossi@example.it"), "{}", m.to);
    assert_eq!(
        m.subject,
        format!("Istanza {code}: codice e PIN per riprendere la compilazione")
    );
    assert!(m.text.contains(&format!("Codice dell'istanza: {code}")));
    assert!(m.text.contains(&format!("PIN: {pin}")));
    assert!(m.text.contains(&format!("/{SLUG}/istanza#riprendi")));
    assert!(m.html.contains(&pin));

    // Sent: the PIN is no longer kept in clear.
    let mut conn = app.admin_connection().await;
    let (status, has_pin): (String, bool) = sqlx::query_as(
        "SELECT status, payload ? 'pin' FROM app.outbox WHERE template = 'bozza_creata'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((status.as_str(), has_pin), ("inviato", false));

    // Code and PIN from the e-mail open the draft on another device.
    let other = crate::helpers::new_client();
    let res = other
        .post(app.url(&format!("/{SLUG}/istanza/riprendi")))
        .form(&[("codice", code.as_str()), ("pin", pin.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);

    // Without an address nothing is sent.
    let res = app.client.post(&url).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        !res.text()
            .await
            .unwrap()
            .contains("inviati anche per e-mail")
    );
    settle().await;
    assert_eq!(smtp.received().len(), 1);
}

#[tokio::test]
async fn lawyers_and_the_secretariat_choose_too_and_legal_notices_cannot_be_switched_off() {
    use patrocinio::domain::access::Role;
    let mut smtp = Smtp::new(free_port());
    smtp.start().await;
    let app = with_mail(&smtp).await;
    let of = office(&app).await;
    let url = format!("/{SLUG}/avvisi");
    // Only for someone logged in.
    let res = app.client.get(app.url(&url)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/accesso?torna=")
    );

    let lawyer = app
        .user(
            SLUG,
            "anna.bianchi@avvocati.example.it",
            &[Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let avv = app.login(&lawyer).await;
    let (status, page) = avv.page(&app, &url).await;
    assert_eq!(status, 200);
    assert!(page.contains("Registrazione nel protocollo delle mie istanze"));
    assert!(page.contains("la decisione del Consiglio e la delibera firmata"));
    assert!(!page.contains("Nuove pratiche assegnate"));
    assert_eq!(
        avv.post(&app, &url, &[("protocollo", "riepilogo")])
            .await
            .status(),
        303
    );

    // A second secretariat account keeps the default.
    let desk = app
        .user(
            SLUG,
            "sportello@ordine.example.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;

    let admin = app
        .user(
            SLUG,
            "amministrazione@ordine.example.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let adm = app.login(&admin).await;
    let (status, page) = adm.page(&app, &url).await;
    assert_eq!(status, 200);
    assert!(page.contains("Per il suo ruolo non ci sono altri avvisi da scegliere."));
    assert!(page.contains("attivazione, reimpostazione della password"));

    let (id, code) = submitted(&app, &of.o).await;
    let (seg, rel) = crate::workflow::in_examination(&app, &of, id).await;
    let (_, page) = seg.page(&app, &url).await;
    assert!(page.contains("Integrazioni depositate dai richiedenti"));
    assert!(page.contains("il termine di dieci giorni per decidere"));
    // Nothing chosen: refused with a message.
    let res = seg.post(&app, &url, &[]).await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains(
        "Scegliere come ricevere gli avvisi: «Integrazioni depositate dai richiedenti»."
    ));
    assert_eq!(
        seg.post(&app, &url, &[("integrazioni", "mai")])
            .await
            .status(),
        303
    );
    let (_, page) = seg.page(&app, &url).await;
    assert!(page.contains(r#"value="mai" checked"#));
    request_integration(&app, &rel, id).await;
    let (_, page) = avv.page(&app, &case_path("avvocati", id)).await;
    let v = version_of(&page);
    let res = avv
        .client
        .post(app.url(&format!("{}/integrazione", case_path("avvocati", id))))
        .multipart(crate::workflow::multipart_answer(
            Some(&avv.csrf),
            &v,
            &[("file_redditi", "cu-2025.pdf")],
            None,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // Receipt (2), registration (applicant only), assignment, request (2), answer (rapporteur
    // and the secretariat account that did not switch it off).
    smtp.wait_for(8).await;
    settle().await;
    let mails = smtp.received();
    assert_eq!(mails.len(), 8, "{mails:#?}");
    let answered: Vec<&Mail> = mails
        .iter()
        .filter(|m| m.subject.starts_with("Integrazione ricevuta"))
        .collect();
    assert_eq!(answered.len(), 2, "{answered:#?}");
    assert!(
        answered
            .iter()
            .any(|m| m.to.contains(&of.councillors[0].email))
    );
    assert!(answered.iter().any(|m| m.to.contains(&desk.email)));
    assert!(
        !answered
            .iter()
            .any(|m| m.to.contains(&of.secretariat.email))
    );
    // The lawyer had the legal notices at once, the registration waits for the morning.
    let mut conn = app.admin_connection().await;
    let lawyer_address: String =
        sqlx::query_scalar("SELECT COALESCE(email, pec) FROM app.lawyers WHERE id = $1")
            .bind(of.o.lawyer)
            .fetch_one(&mut conn)
            .await
            .unwrap();
    let to_lawyer: Vec<&str> = mails
        .iter()
        .filter(|m| m.to.contains(&lawyer_address))
        .map(|m| m.subject.as_str())
        .collect();
    assert_eq!(to_lawyer.len(), 2, "receipt and request: {to_lawyer:?}");
    assert!(
        !to_lawyer
            .iter()
            .any(|s| s.starts_with("Registrata nel protocollo"))
    );
    sqlx::query("UPDATE app.outbox SET next_attempt_at = now() WHERE digest")
        .execute(&mut conn)
        .await
        .unwrap();
    let mails = smtp.wait_for(9).await;
    let digest = &mails[8];
    assert!(digest.to.contains(&lawyer_address));
    assert_eq!(digest.subject, "Istanze registrate nel protocollo: 1");
    assert!(
        digest
            .text
            .contains(&format!("• istanza {code} (protocollo n. ")),
        "{}",
        digest.text
    );
    assert!(digest.text.contains(&format!("/{SLUG}/avvocati")));
}
