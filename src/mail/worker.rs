//! The mail worker. It sleeps until there is something to send: a message queued anywhere
//! rings `patrocinio_posta` when its transaction commits (a trigger on the outbox), and a
//! retry falls due at a time the worker knows. Awake, it asks in one query which Ordini have a
//! message due (`probes::outbox_due`, ids and seconds only) and visits only those: for each,
//! it takes the due rows with `FOR UPDATE SKIP LOCKED` (so several instances never take the
//! same row), sends each over SMTP (up to [`AT_ONCE`] at the same time), marks it sent in the
//! same transaction, or schedules the next attempt with an exponential backoff; after
//! [`super::MAX_ATTEMPTS`] the row is set aside as undeliverable. A temporary SMTP failure (the
//! server down) stops the round: what was not tried yet waits for the next.
//! Then it sleeps until the first future attempt, the doorbell, or the safety poll
//! (`PATROCINIO_MAIL_POLL_SECONDS`, should a notification be lost), whichever comes first. At
//! rest that is one short transaction a minute, however many Ordini (`loadtest idle`); it was
//! one per Ordine each second.
//! The morning digest rows of one recipient go as one message.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use futures_util::StreamExt;

use sqlx::postgres::PgListener;
use tokio::task::JoinHandle;

use lettre::message::Mailbox;

use super::{
    Mailer, messages,
    smtp::{SendError, Smtp},
};
use crate::{
    db::Db,
    domain::tenant::TenantId,
    storage::Storage,
    store::{outbox, probes, tenants},
};

/// The channel the outbox's trigger rings when a message starts waiting.
pub const CHANNEL: &str = "patrocinio_posta";
/// The pause after a round that sent nothing though something was due (the server down, or
/// the rows held by another instance), and between attempts to reach the database.
const IDLE: Duration = Duration::from_secs(1);
/// Rows taken per Ordine per round.
const BATCH: i64 = 48;
/// Messages of one Ordine sent at the same time, each on its own SMTP connection (kept in a
/// pool of 10): within what relays usually allow one client. With TCP_NODELAY on the
/// connections (see `smtp`) a message to a local server takes about a millisecond; it took
/// about 45 ms before, nearly all of it waiting for TCP's delayed ACK after the two writes of
/// the body (`loadtest mail`, 50 Ordini: 22 messages/s one at a time, 154 with 8 at a time;
/// the README has the numbers with TCP_NODELAY).
const AT_ONCE: usize = 8;

pub fn spawn(db: Db, mailer: Arc<Mailer>, storage: Storage) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut bell: Option<PgListener> = None;
        loop {
            // The doorbell is listened to before the outbox is read: a message queued meanwhile
            // rings it, and the ring waits in the listener until it is read.
            if bell.is_none() {
                bell = match doorbell(&db).await {
                    Ok(l) => Some(l),
                    Err(e) => {
                        tracing::warn!(error = format!("{e:#}"), "mail worker: no doorbell");
                        None
                    }
                };
            }
            let wait = match pass(&db, &mailer, &storage).await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "mail worker");
                    IDLE
                }
            };
            if wait.is_zero() {
                continue;
            }
            match bell.as_mut() {
                // Without the doorbell (the database unreachable), it looks every second.
                None => tokio::time::sleep(wait.min(IDLE)).await,
                Some(listener) => {
                    tokio::select! {
                        rung = listener.try_recv() => match rung {
                            // Rings already received say nothing more: one look answers them.
                            Ok(Some(_)) => while listener.next_buffered().is_some() {},
                            // Reconnected: a ring may have been missed, so it looks again.
                            Ok(None) => {}
                            Err(e) => {
                                tracing::warn!(error = format!("{e:#}"), "mail worker: doorbell lost");
                                bell = None;
                                tokio::time::sleep(IDLE).await;
                            }
                        },
                        () = tokio::time::sleep(wait) => {}
                    }
                }
            }
        }
    })
}

/// A connection of its own, outside the service's pool, listening on [`CHANNEL`].
async fn doorbell(db: &Db) -> anyhow::Result<PgListener> {
    let own = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect_lazy_with((*db.pool().connect_options()).clone());
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

/// Sends what is due in every Ordine; returns how long the worker may sleep: zero after a
/// round that sent something (there may be more), [`IDLE`] when something was due and nothing
/// could be sent, else until the first future attempt or the safety poll.
#[tracing::instrument(name = "invia la posta in uscita", skip_all)]
async fn pass(db: &Db, mailer: &Mailer, storage: &Storage) -> anyhow::Result<Duration> {
    let due = probes::outbox_due(db).await?;
    let now: Vec<TenantId> = due
        .iter()
        .filter(|(_, seconds)| *seconds <= 0.0)
        .map(|(t, _)| *t)
        .collect();
    if now.is_empty() {
        let first = due
            .iter()
            .filter_map(|(_, seconds)| Duration::try_from_secs_f64(seconds.max(0.001)).ok())
            .min();
        return Ok(first.map_or(mailer.poll, |d| d.min(mailer.poll)));
    }
    let mut sent = 0;
    for tenant in tenants::list(db).await? {
        if !now.contains(&tenant.id) {
            continue;
        }
        let (n, down) = round(db, mailer, storage, &tenant).await?;
        sent += n;
        if down {
            break;
        }
    }
    Ok(if sent > 0 { Duration::ZERO } else { IDLE })
}

/// One round in one Ordine; returns how many messages were sent, and whether the server was
/// found down.
#[tracing::instrument(name = "invia la posta dell'Ordine", skip_all, fields(tenant = %tenant.id.0))]
async fn round(
    db: &Db,
    mailer: &Mailer,
    storage: &Storage,
    tenant: &tenants::Tenant,
) -> anyhow::Result<(usize, bool)> {
    let mut sent = 0;
    let mut tx = db.tenant_tx(tenant.id).await?;
    let due = outbox::take_due(&mut tx, BATCH).await?;
    // Composed first (a transmission's file is read and checked), then sent together.
    let mut ready = Vec::new();
    for rows in sendings(&due) {
        let first = rows[0];
        let message_id = mailer.message_id(tenant.id, first.id);
        // To a PEC address: from the Ordine's PEC, through its provider, if it has one.
        let pec = first
            .via_pec
            .then(|| mailer.pec_transport(&tenant.slug))
            .flatten()
            .zip(
                tenant
                    .pec
                    .as_deref()
                    .and_then(|p| p.parse::<Mailbox>().ok()),
            );
        let from = pec.as_ref().map_or(&mailer.from, |(_, from)| from);
        let built = if first.digest {
            messages::build_digest(mailer, tenant, &rows, &message_id, from)
        } else if first.payload.get("allegati").is_some() {
            // A periodic batch: several files, each checked like a transmission's.
            match attachments(storage, first).await {
                Ok(files) => {
                    messages::build_with_files(mailer, tenant, first, &message_id, from, files)
                }
                // The file store is down: the message waits, untouched, for a later round.
                Err(Unreadable::Later) => continue,
                Err(Unreadable::Refused(reason)) => Err(reason),
            }
        } else {
            match attachment(storage, first).await {
                Ok(file) => messages::build(mailer, tenant, first, &message_id, from, file),
                Err(Unreadable::Later) => continue,
                Err(Unreadable::Refused(reason)) => Err(reason),
            }
        };
        match built {
            Ok(message) => ready.push((rows, message_id, message, pec.map(|(via, _)| via))),
            Err(reason) => {
                for d in &rows {
                    outbox::mark_failed(&mut tx, d.id, &reason, None).await?;
                }
            }
        }
    }
    // After a temporary failure (the server down) the rest is not tried: it waits,
    // untouched, for the next round.
    let down = AtomicBool::new(false);
    let sendings: Vec<_> = ready
        .into_iter()
        .map(|(rows, message_id, message, via)| send(mailer, &down, rows, message_id, message, via))
        .collect();
    let results: Vec<_> = futures_util::stream::iter(sendings)
        .buffered(AT_ONCE)
        .collect()
        .await;
    for (rows, message_id, result) in results {
        match result {
            None => {}
            Some(Ok(())) => {
                for d in &rows {
                    outbox::mark_sent(&mut tx, d.id, &message_id).await?;
                }
                sent += 1;
            }
            Some(Err(e)) => {
                // A permanent refusal (5xx: no such mailbox, say) will not change with time.
                let retry = if e.is_permanent() {
                    None
                } else {
                    mailer.retry_after(rows[0].attempts)
                };
                let reason = format!("invio non riuscito: {e}");
                for d in &rows {
                    outbox::mark_failed(&mut tx, d.id, &reason, retry).await?;
                }
                // The server's words may quote the address: only the code is logged.
                tracing::warn!(outbox = rows[0].id, code = ?e.status(), "e-mail not sent");
            }
        }
    }
    tx.commit().await?;
    Ok((sent, down.into_inner()))
}

type Sent<'a> = (Vec<&'a outbox::Due>, String, Option<Result<(), SendError>>);

/// One message; not tried (`None`) once another found the server down.
async fn send<'a>(
    mailer: &Mailer,
    down: &AtomicBool,
    rows: Vec<&'a outbox::Due>,
    message_id: String,
    message: lettre::Message,
    via: Option<Arc<Smtp>>,
) -> Sent<'a> {
    if down.load(Ordering::Relaxed) {
        return (rows, message_id, None);
    }
    let result = mailer.send(message, via.as_deref()).await;
    if result.as_ref().is_err_and(|e| !e.is_permanent()) {
        down.store(true, Ordering::Relaxed);
    }
    (rows, message_id, Some(result))
}

/// Why a message's file is not at hand.
enum Unreadable {
    /// The file store cannot be reached now: try again later.
    Later,
    /// Missing or changed: the message does not leave (Italian, for the outbox row).
    Refused(String),
}

/// The file a transmission carries (named in its payload, checked against the SHA-256 that
/// its outgoing protocol entry records: what leaves is what was registered). `Err` when the
/// file is missing or changed: the message does not leave without it.
async fn attachment(
    storage: &Storage,
    due: &outbox::Due,
) -> Result<Option<messages::File>, Unreadable> {
    let Some(a) = due.payload.get("allegato") else {
        return Ok(None);
    };
    stored_file(storage, due, a).await.map(Some)
}

/// The files of a periodic batch (`allegati`), each checked against its SHA-256; at most
/// [`MAX_FILES`] (a batch carries at most 100 delibere and its cover list).
async fn attachments(
    storage: &Storage,
    due: &outbox::Due,
) -> Result<Vec<messages::File>, Unreadable> {
    let list = due
        .payload
        .get("allegati")
        .and_then(|a| a.as_array())
        .filter(|a| a.len() <= MAX_FILES)
        .ok_or_else(|| Unreadable::Refused("elenco degli allegati non valido".to_owned()))?;
    let mut files = Vec::with_capacity(list.len());
    for a in list {
        files.push(stored_file(storage, due, a).await?);
    }
    Ok(files)
}

/// Files one message carries at most.
const MAX_FILES: usize = 110;

/// One stored file named by `a` (key, name, type, SHA-256), read and checked.
async fn stored_file(
    storage: &Storage,
    due: &outbox::Due,
    a: &serde_json::Value,
) -> Result<messages::File, Unreadable> {
    let field = |k: &str| a.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let bytes = storage.get(field("chiave")).await.map_err(|e| {
        tracing::warn!(
            outbox = due.id,
            error = format!("{e:#}"),
            "attachment not read"
        );
        if crate::storage::is_unavailable(&e) {
            Unreadable::Later
        } else {
            Unreadable::Refused("allegato non leggibile dall'archivio".to_owned())
        }
    })?;
    use sha2::Digest;
    if hex::encode(sha2::Sha256::digest(&bytes)) != field("sha256") {
        return Err(Unreadable::Refused(
            "l'allegato non corrisponde a quello registrato nel protocollo".into(),
        ));
    }
    let kind = match field("tipo") {
        "application/pkcs7-mime" => "application/pkcs7-mime",
        "text/csv" => "text/csv; charset=utf-8",
        _ => "application/pdf",
    };
    Ok((field("nome").to_owned(), kind, bytes))
}

/// One message per row, except the digest rows of one recipient, which go together (the
/// digest's Message-ID is its first row's).
fn sendings(due: &[outbox::Due]) -> Vec<Vec<&outbox::Due>> {
    let mut out: Vec<Vec<&outbox::Due>> = Vec::new();
    for d in due {
        if d.digest
            && let Some(group) = out
                .iter_mut()
                .find(|g| g[0].digest && g[0].recipient == d.recipient)
        {
            group.push(d);
        } else {
            out.push(vec![d]);
        }
    }
    out
}
