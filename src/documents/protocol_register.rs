//! The protocol register as a document (PDF/A): the daily register produced after midnight for
//! the day before (art. 53 D.P.R. 445/2000, AgID guidelines), kept immutable with its SHA-256
//! and sealed when the Ordine has a seal; and the print of any range of dates.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    db::Db,
    documents::{
        pdf::{PdfEngine, Template},
        seal::Seal,
    },
    domain::time,
    storage::Storage,
    store::{
        protocol::Entry,
        protocol_days::{self, NewRegister},
        tenants::{self, Tenant},
    },
};

/// Days one run catches up per Ordine (after a long stop, the next runs do the rest).
const CATCH_UP_DAYS: u64 = 62;
/// Entries one document lists at most (a day of an Ordine has a few hundred at most).
pub const MAX_ENTRIES: i64 = 20_000;

/// Midnight in Rome at the start of `day`, in UTC.
pub fn day_start(day: NaiveDate) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    time::ZONE
        .from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// The data of the register template: the entries in the order of their numbers, each with its
/// direction (entrata, uscita, interno), kind, channel, subject and documents' fingerprint.
pub fn data(
    tenant: &Tenant,
    title: &str,
    period: &str,
    entries: &[Entry],
    produced: DateTime<Utc>,
) -> Value {
    let voci: Vec<Value> = entries
        .iter()
        .map(|e| {
            json!({
                "numero": e.number().to_string(),
                "data_ora": time::format_date_time(e.registered_at),
                "direzione": e.direction,
                "tipo": e.kind,
                "canale": crate::web::case::channel_label(&e.channel),
                "oggetto": e.subject,
                "motivo": e.reason,
                "registrata_da": e.registered_by_label,
                "impronta": e.documents_sha256,
                "annullata_da": e.cancelled_by,
            })
        })
        .collect();
    json!({
        "ordine": { "nome": tenant.name, "pec": tenant.pec },
        "titolo": title,
        "periodo": period,
        "totale": entries.len(),
        "prima": entries.first().map(|e| e.number().to_string()),
        "ultima": entries.last().map(|e| e.number().to_string()),
        "prodotto_il": time::format_date_time(produced),
        "voci": voci,
        "generata_il_iso": produced.to_rfc3339(),
    })
}

/// What producing the registers needs.
pub struct Producer<'a> {
    pub db: &'a Db,
    pub pdf: &'a PdfEngine,
    pub storage: &'a Storage,
    pub seal_dir: Option<&'a Path>,
}

impl Producer<'_> {
    /// Produces, in every Ordine, the registers of the days up to yesterday (Rome, as of
    /// `now`) that do not have one yet, from the Ordine's first registration on (a day without
    /// registrations gets a register that says so). Returns how many were produced.
    pub async fn run(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let yesterday = time::rome_date(now) - Days::new(1);
        let mut produced = 0;
        for tenant in tenants::list(self.db).await? {
            let mut tx = self.db.tenant_tx(tenant.id).await?;
            let next = protocol_days::next_day(&mut tx).await?;
            tx.commit().await?;
            let Some(mut day) = next else { continue };
            let mut done = 0;
            while day <= yesterday && done < CATCH_UP_DAYS {
                match self.produce(&tenant, day, now).await {
                    Ok(true) => produced += 1,
                    Ok(false) => {}
                    // This Ordine waits for the next run (the days stay in order); the others
                    // go on.
                    Err(e) => {
                        tracing::warn!(tenant = %tenant.slug, giorno = %day, error = format!("{e:#}"), "daily protocol register");
                        break;
                    }
                }
                day = day + Days::new(1);
                done += 1;
            }
        }
        Ok(produced)
    }

    /// The register of one day, unless it exists: false when it did.
    #[tracing::instrument(name = "produce il registro giornaliero di protocollo", skip_all, fields(tenant = %tenant.slug, giorno = %day))]
    pub async fn produce(
        &self,
        tenant: &Tenant,
        day: NaiveDate,
        now: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let mut tx = self.db.tenant_tx(tenant.id).await?;
        if !protocol_days::claim(&mut tx, day).await? {
            return Ok(false);
        }
        let entries = protocol_days::entries(
            &mut tx,
            day_start(day),
            day_start(day + Days::new(1)),
            MAX_ENTRIES,
        )
        .await?;
        let title = format!(
            "Registro giornaliero di protocollo del {}",
            time::format_date(day)
        );
        let data = data(tenant, &title, &time::format_date(day), &entries, now);
        let pdf = self
            .pdf
            .render_bounded(Template::Registro, data)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("rendering the daily register")?;
        let sha = hex::encode(Sha256::digest(&pdf));
        let key = format!(
            "{}/protocollo/registri/{day}-{}.pdf",
            tenant.id,
            uuid::Uuid::new_v4()
        );
        let sealed = match (self.seal_dir, tenant.settings.seal) {
            (Some(dir), true) => match Seal::load(dir, &tenant.slug)? {
                Some(seal) => Some(seal.sign(&pdf)?),
                None => {
                    tracing::warn!("electronic seal chosen but not installed: register not sealed");
                    None
                }
            },
            _ => None,
        };
        self.storage.put(&key, pdf).await?;
        let sealed_key = match sealed {
            Some(envelope) => {
                let k = format!("{key}.p7m");
                self.storage.put(&k, envelope).await?;
                Some(k)
            }
            None => None,
        };
        protocol_days::insert(
            &mut tx,
            &NewRegister {
                day,
                entries: entries.len() as i32,
                first_number: entries.first().map(|e| e.number().to_string()),
                last_number: entries.last().map(|e| e.number().to_string()),
                pdf_key: &key,
                pdf_sha256: &sha,
                sealed_key: sealed_key.as_deref(),
            },
        )
        .await?;
        tx.commit().await?;
        tracing::info!(
            registrazioni = entries.len(),
            "registro giornaliero prodotto"
        );
        Ok(true)
    }
}
