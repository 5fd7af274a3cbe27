//! The Agenzia delle Entrate's batches (distinte, art. 127 c.1 D.P.R. 115/2002): on the
//! Ordine's schedule (or early, when the secretariat asks), the admissions waiting for their
//! copy leave in one PEC with a cover list (PDF/A and CSV, the columns the Ordine chose) and
//! the signed delibere. In the transaction that queues the PEC: the batch, its outgoing
//! protocol entry (recipient and the SHA-256 of every file sent), each admission's
//! transmission moved to 'in_coda', and the audit entry.
//!
//! Bounds: a PEC carries at most [`MAX_ITEMS`] delibere and [`MAX_BYTES`] of attachments; a
//! larger batch leaves in parts (each its own PEC, cover list and protocol entry); one closing
//! makes at most [`MAX_PARTS_PER_RUN`] parts, the rest leaves at the next run. Closings of one
//! Ordine are serialised across instances by an advisory lock held by the transaction; a
//! period's scheduled batch is unique in the database, so a second run finds nothing to do.

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    db::{Db, TenantTx},
    documents::{
        pdf::{PdfEngine, Template},
        protocol_register::day_start,
    },
    domain::{
        application::matter::Matter,
        money::Euro,
        protocol::{Addressee, FiledDocument, year_of},
        tax_batch::{
            Column, MAX_BYTES, MAX_ITEMS, MAX_PARTS_PER_RUN, Period, last_ended, period_of, split,
        },
        time,
    },
    storage::Storage,
    store::{
        audit, decisions, outbox,
        protocol::{self, Direction, NewEntry},
        tax_batches::{self, Item, NewBatch},
        tenants::{self, Tenant},
    },
};

/// The template of the batch's PEC in the outbox.
pub const TEMPLATE: &str = "distinta_ade";
/// The recipient, as the protocol and the outbox name it.
pub const RECIPIENT: &str = "Agenzia delle Entrate";

fn birth_date(s: &str) -> String {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_or_else(|_| s.trim().to_owned(), time::format_date)
}

fn join_nonempty(parts: &[&str], sep: &str) -> String {
    parts
        .iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

/// The cell of `column` for one admission, as text (the same in the PDF and in the CSV).
pub fn cell(item: &Item, column: Column) -> String {
    let f = &item.form.0;
    let a = &f.applicant;
    let text = match column {
        Column::Decision => match (item.decision_label(), item.adopted_at) {
            (Some(n), Some(at)) => format!("n. {n} del {}", time::format_date(time::rome_date(at))),
            (Some(n), None) => format!("n. {n}"),
            _ => String::new(),
        },
        Column::Protocol => item
            .protocol()
            .map_or_else(|| item.code.clone(), |p| p.to_string()),
        Column::Applicant => item
            .applicant_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| a.display_name()),
        Column::TaxCode => item
            .applicant_cf
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| a.cf().to_owned()),
        Column::Birth if a.is_entity() => String::new(),
        Column::Birth => {
            let date = birth_date(&a.birth_date);
            match (date.is_empty(), a.birth_place.trim().is_empty()) {
                (false, false) => format!("{date}, {}", a.birth_place.trim()),
                _ => join_nonempty(&[&date, &a.birth_place], ""),
            }
        }
        Column::Residence if a.is_entity() => a.entity_seat.trim().to_owned(),
        Column::Residence => {
            let town = join_nonempty(&[&a.postcode, &a.city], " ");
            join_nonempty(&[&a.address, &town], ", ")
        }
        Column::Household => {
            let members: Vec<String> = f
                .household
                .members
                .iter()
                .map(|m| {
                    let cf = m.codice_fiscale.trim().to_uppercase();
                    if cf.is_empty() {
                        m.display_name()
                    } else {
                        format!("{} ({cf})", m.display_name())
                    }
                })
                .collect();
            if f.household.lives_alone || members.is_empty() {
                "Nessuno".into()
            } else {
                members.join("; ")
            }
        }
        Column::Income => {
            let amount = item
                .income_total_cents
                .map(|c| format!("€ {}", Euro::from_cents(c)));
            let year = f.income.year.trim();
            match (amount, year.is_empty()) {
                (Some(a), false) => format!("{a} (redditi {year})"),
                (Some(a), true) => a,
                (None, false) => format!("redditi {year}"),
                (None, true) => String::new(),
            }
        }
        Column::Proceeding => {
            let matter = item
                .matter
                .as_deref()
                .and_then(Matter::from_code)
                .map(Matter::label)
                .unwrap_or("");
            let against = if f.case.counterparty_name.trim().is_empty() {
                String::new()
            } else {
                format!("contro {}", f.case.counterparty_name.trim())
            };
            let rg = item
                .rg_number
                .as_deref()
                .filter(|r| !r.trim().is_empty())
                .map(|r| format!("R.G. {}", r.trim()))
                .unwrap_or_default();
            join_nonempty(
                &[
                    matter,
                    item.office_name.as_deref().unwrap_or(""),
                    &against,
                    &rg,
                ],
                " — ",
            )
        }
        Column::Lawyer => item
            .lawyer_name
            .as_deref()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("Avv. {}", l.trim()))
            .unwrap_or_default(),
    };
    if text.is_empty() { "—".into() } else { text }
}

/// The rows of the cover list.
pub fn rows(items: &[Item], columns: &[Column]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|i| columns.iter().map(|c| cell(i, *c)).collect())
        .collect()
}

/// The cover list as CSV (UTF-8 with BOM, `;`, as the other exports).
pub fn csv(items: &[Item], columns: &[Column]) -> anyhow::Result<Vec<u8>> {
    let header: Vec<&str> = columns.iter().map(|c| c.label()).collect();
    crate::web::export::csv(&header, &rows(items, columns))
}

/// What the cover list's template needs.
pub struct Cover<'a> {
    pub tenant: &'a Tenant,
    pub number: &'a str,
    pub period: &'a str,
    pub part: Option<&'a str>,
    pub pec: &'a str,
    pub produced: DateTime<Utc>,
}

pub fn data(cover: &Cover<'_>, items: &[Item], columns: &[Column]) -> Value {
    json!({
        "ordine": { "nome": cover.tenant.name, "pec": cover.tenant.pec },
        "titolo": format!("Distinta n. {} di trasmissione all'Agenzia delle Entrate", cover.number),
        "destinatario": format!("{RECIPIENT} — PEC {}", cover.pec),
        "periodo": cover.period,
        "parte": cover.part,
        "totale": items.len(),
        "prodotta_il": time::format_date_time(cover.produced),
        "colonne": columns.iter().map(|c| c.label()).collect::<Vec<_>>(),
        "righe": rows(items, columns),
        "generata_il_iso": cover.produced.to_rfc3339(),
    })
}

/// Why a closing did nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// Batches that left (their ids).
    Sent(Vec<Uuid>),
    /// No admission waits.
    Nothing,
    /// The Ordine has not given the Agenzia delle Entrate's PEC address.
    NoAddress,
}

/// What closing the batches needs.
pub struct Closer<'a> {
    pub db: &'a Db,
    pub pdf: &'a PdfEngine,
    pub storage: &'a Storage,
}

/// One signed delibera read for a batch.
struct Signed {
    key: String,
    content_type: &'static str,
    name: String,
    sha256: String,
    size: u64,
}

impl Closer<'_> {
    /// The schedule, in every Ordine: the batch of the last period ended (Rome, as of `now`)
    /// leaves if admissions wait from before its end. Returns how many batches left.
    pub async fn run(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        let mut sent = 0;
        for tenant in tenants::list(self.db).await? {
            match self.close(&tenant, now, None).await {
                Ok(Closed::Sent(b)) => sent += b.len(),
                Ok(_) => {}
                // This Ordine tries again at the next run; the others go on.
                Err(e) => {
                    tracing::warn!(tenant = %tenant.slug, error = format!("{e:#}"), "distinta per l'Agenzia delle Entrate");
                }
            }
        }
        Ok(sent)
    }

    /// Closes the Ordine's batch: the scheduled one of the last period ended (`early` is
    /// `None`), or, sent early by `early`, every admission waiting now.
    #[tracing::instrument(name = "chiudi la distinta per l'Agenzia delle Entrate", skip_all, fields(tenant = %tenant.id.0, anticipata = early.is_some()))]
    pub async fn close(
        &self,
        tenant: &Tenant,
        now: DateTime<Utc>,
        early: Option<&audit::Actor>,
    ) -> anyhow::Result<Closed> {
        let mut tx = self.db.tenant_tx(tenant.id).await?;
        tax_batches::lock_closing(&mut tx).await?;
        let settings = tax_batches::settings(&mut tx).await?;
        let Some(pec) = settings.pec.clone() else {
            return Ok(Closed::NoAddress);
        };
        let today = time::rome_date(now);
        // Scheduled: what waits from before the current period began (after a stop of the
        // service, older admissions too) leaves as the last period's batch.
        let (period, before): (Period, DateTime<Utc>) = match early {
            None => {
                let p = last_ended(settings.frequency, today);
                let before = day_start(p.end);
                (p, before)
            }
            Some(_) => (period_of(settings.frequency, today), now),
        };
        let limit = (MAX_ITEMS * MAX_PARTS_PER_RUN) as i64;
        let items = tax_batches::waiting(&mut tx, before, limit, true).await?;
        if items.is_empty() {
            return Ok(Closed::Nothing);
        }
        let mut files = Vec::with_capacity(items.len());
        for item in &items {
            files.push(self.signed(&mut tx, item).await?);
        }
        let sizes: Vec<u64> = files.iter().map(|f| f.size).collect();
        let parts = split(&sizes);
        let several = parts.len() > 1 || items.len() > parts.last().map_or(0, |p| p.end);
        let system = audit::Actor::anonymous("Servizio (invio periodico)");
        let actor = early.unwrap_or(&system);
        let mut first_part = if early.is_none() {
            tax_batches::next_part(&mut tx, &period.key).await?
        } else {
            1
        };
        let mut sent = Vec::new();
        for range in parts {
            let id = self
                .part(
                    &mut tx,
                    tenant,
                    (&period, first_part, several || first_part > 1),
                    early.is_some(),
                    &pec,
                    &settings.columns,
                    (&items[range.clone()], &files[range]),
                    actor,
                )
                .await?;
            sent.push(id);
            first_part += 1;
        }
        tx.commit().await?;
        tracing::info!(
            distinte = sent.len(),
            delibere = items.len(),
            "distinta inviata"
        );
        Ok(Closed::Sent(sent))
    }

    /// The signed delibera of one admission, read to fingerprint and measure what leaves.
    async fn signed(&self, tx: &mut TenantTx, item: &Item) -> anyhow::Result<Signed> {
        let d = decisions::get(tx, item.decision_id)
            .await?
            .context("the delibera of a waiting transmission")?;
        let (key, content_type, name) = d
            .signed_file()
            .context("a waiting admission without its signed delibera")?;
        let bytes = self.storage.get(&key).await?;
        Ok(Signed {
            sha256: hex::encode(Sha256::digest(&bytes)),
            size: bytes.len() as u64,
            key,
            content_type,
            name,
        })
    }

    /// One PEC: the cover list, the protocol entry, the message, the batch, its rows.
    #[allow(clippy::too_many_arguments)]
    async fn part(
        &self,
        tx: &mut TenantTx,
        tenant: &Tenant,
        (period, part, numbered): (&Period, i32, bool),
        early: bool,
        pec: &str,
        columns: &[Column],
        (items, files): (&[Item], &[Signed]),
        actor: &audit::Actor,
    ) -> anyhow::Result<Uuid> {
        let id = Uuid::new_v4();
        // `now` chose the period; what is registered carries the real time.
        let at = Utc::now();
        let year = year_of(at);
        let number = tax_batches::next_number(tx, year).await?;
        let label = format!("{number}/{year}");
        let part_label = numbered.then(|| format!("parte {part}"));
        let period_label = if early {
            format!("{} (invio anticipato)", period.label)
        } else {
            period.label.clone()
        };
        // The outgoing entry records the cover list's SHA-256, so the list is made first: it
        // carries the batch's own number; the entry's number is in the PEC's subject and on
        // the secretariat's page.
        let csv = csv(items, columns)?;
        let csv_sha = hex::encode(Sha256::digest(&csv));
        let cover = Cover {
            tenant,
            number: &label,
            period: &period_label,
            part: part_label.as_deref(),
            pec,
            produced: at,
        };
        let pdf = self
            .pdf
            .render_bounded(Template::Distinta, data(&cover, items, columns))
            .await
            // Kept typed: every renderer busy is "try again shortly" (503), not a failure.
            .map_err(anyhow::Error::from)
            .context("rendering the cover list")?;
        let pdf_sha = hex::encode(Sha256::digest(&pdf));
        let stem = format!("distinta-ade-{number}-{year}");
        let base = format!("{}/agenzia-entrate/{id}", tenant.id.0);
        let (pdf_key, csv_key) = (format!("{base}/{stem}.pdf"), format!("{base}/{stem}.csv"));
        let bytes = pdf.len() as u64 + csv.len() as u64 + files.iter().map(|f| f.size).sum::<u64>();
        self.storage.put(&pdf_key, pdf).await?;
        self.storage.put(&csv_key, csv).await?;
        let mut documents = vec![
            FiledDocument {
                name: format!("{stem}.pdf"),
                kind: "distinta".into(),
                sha256: pdf_sha.clone(),
            },
            FiledDocument {
                name: format!("{stem}.csv"),
                kind: "distinta".into(),
                sha256: csv_sha.clone(),
            },
        ];
        documents.extend(files.iter().map(|f| FiledDocument {
            name: f.name.clone(),
            kind: "delibera".into(),
            sha256: f.sha256.clone(),
        }));
        let mut subject = format!(
            "Trasmissione all'Agenzia delle Entrate della distinta n. {label} ({}, {})",
            period_label,
            crate::domain::plural::count(
                items.len() as i64,
                "delibera di ammissione",
                "delibere di ammissione"
            )
        );
        if let Some(p) = &part_label {
            subject.push_str(&format!(", {p}"));
        }
        let entry = protocol::register_outgoing(
            tx,
            &NewEntry {
                direction: Direction::Outgoing,
                kind: "distinta",
                channel: "pec",
                application: None,
                subject,
                documents,
                by: actor,
            },
            &[Addressee {
                kind: "agenzia_entrate".into(),
                name: RECIPIENT.into(),
                address: Some(pec.to_owned()),
            }],
            &Utc::now,
        )
        .await?;
        let mut attachments = vec![
            json!({ "chiave": pdf_key, "nome": format!("{stem}.pdf"), "tipo": "application/pdf", "sha256": pdf_sha }),
            json!({ "chiave": csv_key, "nome": format!("{stem}.csv"), "tipo": "text/csv", "sha256": csv_sha }),
        ];
        attachments.extend(files.iter().map(|f| {
            json!({ "chiave": f.key, "nome": f.name, "tipo": f.content_type, "sha256": f.sha256 })
        }));
        let payload = json!({
            "distinta": label,
            "periodo": period_label,
            "parte": part_label,
            "delibere": items.len(),
            "protocollo_uscita": entry.number().to_string(),
            "allegati": attachments,
        });
        let message = outbox::batch(tx, ("agenzia_entrate", pec), TEMPLATE, &payload).await?;
        tax_batches::insert(
            tx,
            &NewBatch {
                id,
                year,
                number,
                period_key: &period.key,
                period_label: &period_label,
                part,
                early,
                pec,
                items: items.len() as i32,
                attachments_bytes: bytes as i64,
                columns,
                cover_pdf: (&pdf_key, &pdf_sha),
                cover_csv: (&csv_key, &csv_sha),
                protocol_entry: entry.id,
                outbox: message,
                created_by: &actor.label,
            },
        )
        .await?;
        for (item, file) in items.iter().zip(files) {
            if !tax_batches::mark_in_batch(
                tx,
                item.transmission_id,
                id,
                pec,
                (entry.id, message, file.sha256.as_str()),
            )
            .await?
            {
                anyhow::bail!("a locked transmission changed under its lock");
            }
        }
        audit::record(
            tx,
            audit::Entry {
                actor,
                action: if early {
                    "distinta_ade_inviata_in_anticipo"
                } else {
                    "distinta_ade_inviata"
                },
                target_kind: Some("distinta"),
                target_id: Some(id.to_string()),
                outcome: "ok",
                details: json!({
                    "numero": label,
                    "delibere": items.len(),
                    "byte": bytes,
                    "protocollo_uscita": entry.number().to_string(),
                }),
            },
        )
        .await?;
        debug_assert!(bytes <= MAX_BYTES || items.len() == 1);
        Ok(id)
    }
}
