//! E-mail: the messages (`messages`: Italian, plain text and HTML, with the Ordine's name and
//! PEC), the worker (`worker`) that sends the outbox over SMTP with lettre, and the reminders
//! (`reminders`) that deadlines are near.
//!
//! Exactly once is impossible over SMTP: a message is marked sent after the server's 250, in
//! the transaction that holds its row, so a crash in between sends it again. Its Message-ID
//! is fixed per outbox row, so the copy is the same message and recognisable as such.

pub mod messages;
pub mod reminders;
pub mod smtp;
pub mod worker;

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use lettre::{Message, message::Mailbox};

use smtp::{SendError, Smtp};

use crate::{config::Config, domain::tenant::TenantId};

/// Attempts before a message is set aside as undeliverable.
pub const MAX_ATTEMPTS: i32 = 8;
/// The longest an SMTP server may take to accept a connection or answer a message.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest wait between two attempts.
const MAX_WAIT: Duration = Duration::from_secs(3600);

pub struct Mailer {
    transport: Smtp,
    pub from: Mailbox,
    /// The domain of the Message-IDs (the service's host).
    domain: String,
    pub public_url: String,
    retry: Duration,
    /// The worker's safety poll (it wakes on a notification when a message is queued).
    pub poll: Duration,
    /// `<slug>.url` files: each Ordine's PEC provider.
    pec_dir: Option<PathBuf>,
    /// The PEC transports made so far, by slug (`None`: the Ordine has none).
    pec: Mutex<HashMap<String, Option<Arc<Smtp>>>>,
}

impl Mailer {
    /// `None` when no SMTP server is configured: messages wait in the outbox.
    pub fn from_config(config: &Config, public_url: &str) -> anyhow::Result<Option<Self>> {
        let Some(url) = &config.smtp_url else {
            return Ok(None);
        };
        let transport = Smtp::from_url(url, SMTP_TIMEOUT)
            .context("PATROCINIO_SMTP_URL is not a valid SMTP URL")?;
        let from: Mailbox = config
            .mail_from
            .parse()
            .context("PATROCINIO_MAIL_FROM is not a valid address")?;
        let domain = url::Url::parse(public_url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "localhost".into());
        Ok(Some(Self {
            transport,
            from,
            domain,
            public_url: public_url.trim_end_matches('/').to_owned(),
            retry: config.mail_retry,
            poll: config.mail_poll,
            pec_dir: config.pec_dir.clone(),
            pec: Mutex::new(HashMap::new()),
        }))
    }

    /// The Message-ID of an outbox row: the same at every attempt.
    pub fn message_id(&self, tenant: TenantId, outbox_id: i64) -> String {
        format!("<avviso-{outbox_id}.{}@{}>", tenant.0.simple(), self.domain)
    }

    /// The wait before attempt `attempts + 1`, or `None` when it is time to give up.
    pub fn retry_after(&self, attempts: i32) -> Option<Duration> {
        (attempts + 1 < MAX_ATTEMPTS).then(|| {
            self.retry
                .saturating_mul(1 << attempts.clamp(0, 16))
                .min(MAX_WAIT)
        })
    }

    /// The Ordine's PEC provider, if it has one (`<PATROCINIO_PEC_DIR>/<slug>.url`).
    pub fn pec_transport(&self, slug: &str) -> Option<Arc<Smtp>> {
        let dir = self.pec_dir.as_ref()?;
        let mut cache = self.pec.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(slug.to_owned())
            .or_insert_with(|| {
                let url = std::fs::read_to_string(dir.join(format!("{slug}.url"))).ok()?;
                match Smtp::from_url(url.trim(), SMTP_TIMEOUT) {
                    Ok(smtp) => Some(Arc::new(smtp)),
                    Err(e) => {
                        // The URL holds a password: only why it is not valid is logged.
                        tracing::warn!(ordine = slug, error = %e, "PEC provider URL not valid");
                        None
                    }
                }
            })
            .clone()
    }

    /// Sends through `via` (the Ordine's PEC provider) or the ordinary SMTP server.
    pub async fn send(&self, message: Message, via: Option<&Smtp>) -> Result<(), SendError> {
        via.unwrap_or(&self.transport).send(&message).await
    }
}
