//! PEC receipts (issue 13, point 6): every instance reads, in turn, the PEC mailbox of each
//! Ordine that has one (`<PATROCINIO_PEC_DIR>/<slug>.imap`: an `imap://` or `imaps://` URL with
//! the credentials, and the mailbox as its path, INBOX by default; secrets stay out of the
//! database), keeps each provider receipt as evidence, and moves the recipient's transmission
//! on through the one path: the domain's transition, then one transaction with the receipt,
//! the transmission's new state, the event (its NOTIFY brings the case page and the boards up
//! to date), the audit entry and, when the delivery failed, the secretariat's e-mail.
//!
//! Reading is incremental (UIDVALIDITY and the last UID read are kept per Ordine) and
//! idempotent: a receipt's own Message-ID is unique, so the same receipt read twice (another
//! instance, a mailbox whose UIDVALIDITY changed, a provider sending it twice) changes nothing.
//!
//! Bounds: at most [`MAX_PER_POLL`] messages per mailbox and round; a message over
//! [`MAX_RECEIPT_BYTES`] (16 MiB) is not downloaded (logged, then passed over); the parts
//! walked in one message and `daticert.xml`'s size are bounded by the parser; 30 seconds for
//! each IMAP exchange.

use std::{path::PathBuf, time::Duration};

use anyhow::Context;
use futures_util::TryStreamExt;
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncWrite};
use uuid::Uuid;

use crate::{
    db::Db,
    domain::{
        application::workflow::EventKind,
        pec_receipt::{self, MAX_RECEIPT_BYTES, NotAReceipt, Receipt},
        tenant::TenantId,
        transmission::{Recipient, State},
    },
    storage::Storage,
    store::{
        audit,
        events::{self, NewEvent},
        outbox, pec_receipts, tenants,
    },
};

/// Messages read from one mailbox in one round; the rest waits for the next round.
pub const MAX_PER_POLL: usize = 200;
/// Each IMAP exchange (connect, login, select, search, fetch) gets this long.
const IMAP_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the mailboxes every `every` for as long as the process lives.
pub fn spawn(
    db: Db,
    storage: Storage,
    dir: PathBuf,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match round(&db, &storage, &dir).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(ricevute = n, "PEC receipts read"),
                Err(e) => tracing::warn!(error = format!("{e:#}"), "PEC receipts"),
            }
        }
    })
}

/// One round over every Ordine with a mailbox; returns how many messages were read.
pub async fn round(db: &Db, storage: &Storage, dir: &std::path::Path) -> anyhow::Result<usize> {
    // No mailbox named at all (the folder may hold only `.url` files): nothing to ask the
    // database.
    let any = std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .flatten()
            .any(|e| e.path().extension().is_some_and(|x| x == "imap"))
    });
    if !any {
        return Ok(0);
    }
    let mut read = 0;
    for tenant in tenants::list(db).await? {
        let Ok(url) = std::fs::read_to_string(dir.join(format!("{}.imap", tenant.slug))) else {
            continue;
        };
        match read_mailbox(db, storage, tenant.id, url.trim()).await {
            Ok(n) => read += n,
            // The server's words may quote the account: only the Ordine is logged with them.
            Err(e) => {
                tracing::warn!(ordine = %tenant.slug, error = format!("{e:#}"), "PEC mailbox not read")
            }
        }
    }
    Ok(read)
}

/// Where the mailbox is.
struct Mailbox {
    tls: bool,
    host: String,
    port: u16,
    user: String,
    password: String,
    folder: String,
}

impl Mailbox {
    fn parse(spec: &str) -> anyhow::Result<Self> {
        let url = url::Url::parse(spec).context("the .imap file is not a URL")?;
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            _ => anyhow::bail!("the .imap file must hold an imap:// or imaps:// URL"),
        };
        let host = url
            .host_str()
            .context("the IMAP URL has no host")?
            .to_owned();
        // Plain IMAP would send the mailbox's password in clear: only to this machine.
        if !tls && !matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]") {
            anyhow::bail!("imap:// (without TLS) only to 127.0.0.1 or localhost: use imaps://");
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let folder = decode(url.path().trim_start_matches('/'));
        Ok(Self {
            tls,
            host,
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            user: decode(url.username()),
            password: decode(url.password().unwrap_or("")),
            folder: if folder.is_empty() {
                "INBOX".into()
            } else {
                folder
            },
        })
    }
}

async fn timed<T, E: Into<anyhow::Error>>(
    what: &'static str,
    f: impl Future<Output = Result<T, E>>,
) -> anyhow::Result<T> {
    match tokio::time::timeout(IMAP_TIMEOUT, f).await {
        Ok(r) => r.map_err(Into::into).context(what),
        Err(_) => anyhow::bail!("IMAP: {what}: no answer within {IMAP_TIMEOUT:?}"),
    }
}

/// Reads the new messages of one Ordine's mailbox.
#[tracing::instrument(name = "leggi le ricevute PEC", skip_all, fields(tenant = %tenant.0))]
async fn read_mailbox(
    db: &Db,
    storage: &Storage,
    tenant: TenantId,
    spec: &str,
) -> anyhow::Result<usize> {
    let m = Mailbox::parse(spec)?;
    let tcp = timed(
        "connect",
        tokio::net::TcpStream::connect((m.host.as_str(), m.port)),
    )
    .await?;
    if m.tls {
        let connector = tokio_native_tls::TlsConnector::from(
            tokio_native_tls::native_tls::TlsConnector::new().context("TLS")?,
        );
        let tls = timed("TLS", connector.connect(&m.host, tcp)).await?;
        read_over(db, storage, tenant, &m, tls).await
    } else {
        read_over(db, storage, tenant, &m, tcp).await
    }
}

async fn read_over<S>(
    db: &Db,
    storage: &Storage,
    tenant: TenantId,
    m: &Mailbox,
    stream: S,
) -> anyhow::Result<usize>
where
    S: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = async_imap::Client::new(stream);
    timed("greeting", async {
        client
            .read_response()
            .await?
            .context("the server closed the connection")
    })
    .await?;
    let mut session = timed("login", async {
        client.login(&m.user, &m.password).await.map_err(|(e, _)| e)
    })
    .await?;
    let selected = timed("select", session.select(&m.folder)).await?;
    let validity = i64::from(selected.uid_validity.unwrap_or(0));
    let last = {
        let mut tx = db.tenant_tx(tenant).await?;
        let state = pec_receipts::mailbox(&mut tx).await?;
        tx.commit().await?;
        match state {
            Some((v, last)) if v == validity => last,
            _ => 0,
        }
    };
    let found = timed("search", session.uid_search(format!("UID {}:*", last + 1))).await?;
    // `n:*` names the last message even when its UID is below n.
    let mut uids: Vec<u32> = found.into_iter().filter(|u| i64::from(*u) > last).collect();
    uids.sort_unstable();
    uids.truncate(MAX_PER_POLL);
    let mut read = 0;
    for uid in uids {
        let sizes: Vec<_> = timed("size", async {
            session
                .uid_fetch(uid.to_string(), "(UID RFC822.SIZE)")
                .await?
                .try_collect::<Vec<_>>()
                .await
        })
        .await?;
        let size = sizes.iter().find_map(|f| f.size).unwrap_or(0) as usize;
        let raw = if size > MAX_RECEIPT_BYTES {
            tracing::warn!(uid, size, "PEC message over the size kept: passed over");
            None
        } else {
            let fetched: Vec<_> = timed("fetch", async {
                session
                    .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                    .await?
                    .try_collect::<Vec<_>>()
                    .await
            })
            .await?;
            fetched.iter().find_map(|f| f.body().map(<[u8]>::to_vec))
        };
        record(db, storage, tenant, (validity, i64::from(uid)), raw).await?;
        read += 1;
    }
    let _ = timed("logout", session.logout()).await;
    Ok(read)
}

/// What one message read did.
#[derive(Debug, PartialEq, Eq)]
pub enum Recorded {
    /// A receipt kept; `matched` when its Message-ID is one of ours; `moved` transmissions.
    Kept { matched: bool, moved: usize },
    /// Read before: nothing changed.
    Duplicate,
    /// Not a receipt (or too large, or unreadable): passed over.
    Ignored,
}

/// Records one message of the mailbox (`None`: not downloaded, too large), and that it was
/// read, in one transaction.
#[tracing::instrument(name = "registra la ricevuta PEC", skip_all, fields(tenant = %tenant.0, uid = at.1))]
pub async fn record(
    db: &Db,
    storage: &Storage,
    tenant: TenantId,
    at: (i64, i64),
    raw: Option<Vec<u8>>,
) -> anyhow::Result<Recorded> {
    let (validity, uid) = at;
    let parsed = match &raw {
        Some(raw) => {
            let sha = hex::encode(Sha256::digest(raw));
            pec_receipt::parse(raw, &sha).map(|r| (r, sha))
        }
        None => Err(NotAReceipt::TooLarge),
    };
    let mut tx = db.tenant_tx(tenant).await?;
    let (receipt, sha) = match parsed {
        Ok(p) => p,
        Err(why) => {
            tracing::info!(reason = ?why, "message of the PEC mailbox passed over");
            pec_receipts::mark_read(&mut tx, validity, uid).await?;
            tx.commit().await?;
            return Ok(Recorded::Ignored);
        }
    };
    if pec_receipts::exists(&mut tx, &receipt.message_id).await? {
        pec_receipts::mark_read(&mut tx, validity, uid).await?;
        tx.commit().await?;
        return Ok(Recorded::Duplicate);
    }
    let raw = raw.unwrap_or_default();
    let signature = signature(&raw);
    let key = format!("{}/ricevute-pec/{}.eml", tenant.0, Uuid::new_v4());
    let size = i32::try_from(raw.len()).context("receipt size")?;
    storage.put(&key, raw).await?;
    let sent = match &receipt.refers_to {
        Some(id) => pec_receipts::sent_message(&mut tx, id).await?,
        None => None,
    };
    let kept = pec_receipts::insert(
        &mut tx,
        &pec_receipts::New {
            message_id: &receipt.message_id,
            kind: receipt.kind,
            refers_to: receipt.refers_to.as_deref(),
            recipient: receipt.recipient.as_deref(),
            error: receipt.error.as_deref(),
            provider_id: receipt.provider_id.as_deref(),
            subject: receipt.subject.as_deref(),
            outbox_id: sent.map(|s| s.0),
            application_id: sent.and_then(|s| s.1),
            eml_key: &key,
            eml_sha256: &sha,
            eml_size: size,
            signature,
            uid_validity: validity,
            uid,
        },
    )
    .await?;
    let Some(receipt_id) = kept else {
        // Another instance kept it a moment ago.
        drop(tx);
        storage.delete_unreferenced([key]).await;
        return Ok(Recorded::Duplicate);
    };
    let actor = audit::Actor::anonymous("Ricevute PEC del gestore");
    let mut moved = 0;
    if let Some((outbox_id, _)) = sent {
        for t in pec_receipts::transmissions_of(&mut tx, outbox_id).await? {
            if !concerns(&receipt, &t) {
                continue;
            }
            let current = State::from_code(&t.state).unwrap_or(State::Waiting);
            let Some(next) = pec_receipt::transition(current, receipt.kind) else {
                continue;
            };
            let reason = (next == State::NotDelivered).then(|| {
                receipt
                    .error
                    .clone()
                    .unwrap_or_else(|| receipt.kind.label().to_owned())
            });
            if !pec_receipts::move_transmission(
                &mut tx,
                t.id,
                t.version,
                next.code(),
                reason.as_deref(),
            )
            .await?
            {
                anyhow::bail!("a locked transmission changed under its lock");
            }
            moved_on(
                &mut tx,
                &actor,
                &receipt,
                &t,
                next,
                reason.as_deref(),
                receipt_id,
            )
            .await?;
            moved += 1;
        }
    }
    pec_receipts::mark_read(&mut tx, validity, uid).await?;
    tx.commit().await?;
    tracing::info!(
        kind = receipt.kind.code(),
        matched = sent.is_some(),
        moved,
        "PEC receipt kept"
    );
    Ok(Recorded::Kept {
        matched: sent.is_some(),
        moved,
    })
}

/// Whether the provider's S/MIME signature matches the receipt's content: `integra`,
/// `non_integra`, or `assente` (not a signed message). Integrity only: the provider's
/// certificate is not checked against AgID's list of PEC providers (not configured here).
fn signature(raw: &[u8]) -> &'static str {
    use openssl::{
        pkcs7::{Pkcs7, Pkcs7Flags},
        stack::Stack,
        x509::store::X509StoreBuilder,
    };
    let Ok((p7, content)) = Pkcs7::from_smime(raw) else {
        return "assente";
    };
    let (Ok(certs), Ok(store)) = (Stack::new(), X509StoreBuilder::new()) else {
        return "assente";
    };
    let store = store.build();
    match p7.verify(
        &certs,
        &store,
        content.as_deref(),
        None,
        Pkcs7Flags::NOVERIFY,
    ) {
        Ok(()) => "integra",
        Err(_) => "non_integra",
    }
}

/// Whether the receipt is about this transmission: a receipt about the whole message (an
/// acceptance) concerns every recipient of it; a delivery receipt the recipient it names.
fn concerns(r: &Receipt, t: &pec_receipts::Sent) -> bool {
    if !r.kind.per_recipient() {
        return true;
    }
    match (&r.recipient, &t.address) {
        (Some(to), Some(address)) => to.eq_ignore_ascii_case(address.trim()),
        // A receipt that names no recipient, about a message with one: it is that one's.
        (None, _) => true,
        (Some(_), None) => false,
    }
}

/// The history's event and the audit entry of a transmission moved on; the secretariat's
/// e-mail when the delivery failed (the event alerts its board live).
async fn moved_on(
    tx: &mut crate::db::TenantTx,
    actor: &audit::Actor,
    r: &Receipt,
    t: &pec_receipts::Sent,
    next: State,
    reason: Option<&str>,
    receipt_id: Uuid,
) -> anyhow::Result<()> {
    let who = Recipient::from_code(&t.recipient_kind).map_or("Destinatario", Recipient::label);
    let to = match &t.address {
        Some(a) => format!("{who}, {} ({a})", t.recipient_name),
        None => format!("{who}, {}", t.recipient_name),
    };
    let mut nota = format!("{}: {to}. Stato: {}", r.kind.label(), next.label());
    if let Some(why) = reason {
        nota = format!("{nota}. Motivo: {why}");
    }
    let failed = next == State::NotDelivered;
    let kind = if failed {
        EventKind::DeliveryFailed
    } else {
        EventKind::PecReceipt
    };
    let details = json!({
        "nota": nota,
        "ricevuta": r.kind.code(),
        "destinatario": t.recipient_kind,
        "stato": next.code(),
    });
    let event_id = events::insert(
        tx,
        NewEvent {
            application: t.application_id,
            kind,
            from: None,
            to: None,
            actor,
            details: details.clone(),
            also: None,
        },
    )
    .await?;
    audit::record(
        tx,
        audit::Entry {
            actor,
            action: kind.code(),
            target_kind: Some("trasmissione"),
            target_id: Some(t.id.to_string()),
            outcome: "ok",
            details: json!({
                "istanza": t.application_id,
                "ricevuta": receipt_id,
                "tipo": r.kind.code(),
                "stato": next.code(),
            }),
        },
    )
    .await?;
    if failed {
        let (code, protocol) = pec_receipts::reference(tx, t.application_id).await?;
        let payload = json!({
            "codice": code,
            "evento": kind.code(),
            "protocollo": protocol,
            "dettagli": details,
        });
        outbox::to_secretariat(tx, Some(event_id), t.application_id, kind.code(), &payload).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Mailbox;

    #[test]
    fn the_imap_file_names_the_mailbox_and_plain_imap_stays_on_this_machine() {
        let m = Mailbox::parse(
            "imaps://segreteria%40pec.ordine.it:p%40ss@imaps.pec.example.it/Ricevute",
        )
        .unwrap();
        assert!(m.tls);
        assert_eq!(m.port, 993);
        assert_eq!(m.user, "segreteria@pec.ordine.it");
        assert_eq!(m.password, "p@ss");
        assert_eq!(m.folder, "Ricevute");
        let m = Mailbox::parse("imap://u:p@127.0.0.1:1143").unwrap();
        assert_eq!((m.tls, m.port, m.folder.as_str()), (false, 1143, "INBOX"));
        assert!(Mailbox::parse("imap://u:p@imap.pec.example.it/INBOX").is_err());
        assert!(Mailbox::parse("pop3://u:p@127.0.0.1").is_err());
    }
}
