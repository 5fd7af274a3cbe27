//! The mail worker: for each Ordine in turn, takes the due outbox rows with
//! `FOR UPDATE SKIP LOCKED` (so several instances never take the same row), sends each over
//! SMTP, marks it sent in the same transaction, or schedules the next attempt with an
//! exponential backoff; after [`super::MAX_ATTEMPTS`] the row is set aside as undeliverable.
//! A temporary SMTP failure (the server down) stops the round: the rest waits for the next.
//! The morning digest rows of one recipient go as one message.

use std::{sync::Arc, time::Duration};

use tokio::task::JoinHandle;

use lettre::message::Mailbox;

use super::{Mailer, messages};
use crate::{
    db::{Db, TenantTx},
    storage::Storage,
    store::{decisions, outbox, tenants, tenants::Tenant},
};

/// Pause between rounds when there was nothing to send.
const IDLE: Duration = Duration::from_secs(1);
/// Rows taken per Ordine per round.
const BATCH: i64 = 20;

pub fn spawn(db: Db, mailer: Arc<Mailer>, storage: Storage) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match round(&db, &mailer, &storage).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = format!("{e:#}"), "mail worker"),
            }
            tokio::time::sleep(IDLE).await;
        }
    })
}

/// One round over every Ordine; returns how many messages were sent.
pub async fn round(db: &Db, mailer: &Mailer, storage: &Storage) -> anyhow::Result<usize> {
    let mut sent = 0;
    for tenant in tenants::list(db).await? {
        let mut tx = db.tenant_tx(tenant.id).await?;
        let due = outbox::take_due(&mut tx, BATCH).await?;
        let mut server_down = false;
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
                messages::build_digest(mailer, &tenant, &rows, &message_id, from)
            } else {
                let file = signed_delibera(&mut tx, storage, &tenant, first).await;
                messages::build(mailer, &tenant, first, &message_id, from, file)
            };
            let message = match built {
                Ok(m) => m,
                Err(reason) => {
                    for d in &rows {
                        outbox::mark_failed(&mut tx, d.id, &reason, None).await?;
                    }
                    continue;
                }
            };
            match mailer.send(message, pec.as_ref().map(|(via, _)| via)).await {
                Ok(()) => {
                    for d in &rows {
                        outbox::mark_sent(&mut tx, d.id, &message_id).await?;
                    }
                    sent += 1;
                }
                Err(e) => {
                    // A permanent refusal (5xx: no such mailbox, say) will not change with time.
                    let retry = if e.is_permanent() {
                        None
                    } else {
                        mailer.retry_after(first.attempts)
                    };
                    let reason = format!("invio non riuscito: {e}");
                    for d in &rows {
                        outbox::mark_failed(&mut tx, d.id, &reason, retry).await?;
                    }
                    // The server's words may quote the address: only the code is logged.
                    tracing::warn!(outbox = first.id, code = ?e.status(), "e-mail not sent");
                    if !e.is_permanent() {
                        server_down = true;
                        break;
                    }
                }
            }
        }
        tx.commit().await?;
        if server_down {
            break;
        }
    }
    Ok(sent)
}

/// The signed delibera, for the e-mail that announces it, when the Ordine chose to attach it.
/// Without it the message still goes, with the link.
async fn signed_delibera(
    tx: &mut TenantTx,
    storage: &Storage,
    tenant: &Tenant,
    due: &outbox::Due,
) -> Option<messages::File> {
    if due.template != "delibera_firmata" || !tenant.settings.delibera_by_email {
        return None;
    }
    let decision = decisions::current(tx, due.application_id?).await.ok()??;
    let (key, kind, name) = decision.signed_file()?;
    match storage.get(&key).await {
        Ok(bytes) => Some((name, kind, bytes)),
        Err(e) => {
            tracing::warn!(
                outbox = due.id,
                error = format!("{e:#}"),
                "signed delibera not read"
            );
            None
        }
    }
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
