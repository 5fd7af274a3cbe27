//! After the decision: the signed delibera goes to its recipients (art. 126 c.2 and 127 c.1
//! D.P.R. 115/2002). Each sending is one outgoing protocol entry with its recipients and the
//! SHA-256 of the file attached, one event in the history, one outbox message per recipient
//! and one transmission row per recipient, all in the transaction of the change that causes
//! it. The copy for the judge waits when the office (or its PEC) is not known; the
//! secretariat then sends it, or records that the applicant took it to file.

use chrono::Utc;
use maud::{Markup, html};
use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::CaseFile;
use crate::domain::application::workflow::EventKind;
use crate::{
    db::TenantTx,
    domain::{
        application::Outcome,
        protocol::{Addressee, FiledDocument},
        time,
        transmission::{Recipient, State, delibera_sentence, recipients},
    },
    storage::Storage,
    store::{
        audit,
        cases::{self, Change, Notify, Viewer},
        decisions::{self, Decision},
        outbox,
        protocol::{self, Direction, NewEntry},
        transmissions::{self, Listed, Waiting},
    },
};

/// The signed delibera as it is attached: storage key, content type, file name, SHA-256.
pub struct Signed {
    key: String,
    content_type: &'static str,
    name: String,
    sha256: String,
}

impl Signed {
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The decision's signed file, read once to fingerprint exactly what will be attached.
    pub async fn of(storage: &Storage, d: &Decision) -> anyhow::Result<Option<Self>> {
        let Some((key, content_type, name)) = d.signed_file() else {
            return Ok(None);
        };
        let bytes = storage.get(&key).await?;
        Ok(Some(Self {
            sha256: hex::encode(Sha256::digest(&bytes)),
            key,
            content_type,
            name,
        }))
    }
}

/// One recipient of a sending.
pub struct Party {
    pub recipient: Recipient,
    pub name: String,
    pub address: String,
    pub via_pec: bool,
}

/// What one sending registered: its outgoing entry and, per party, its message.
pub struct Sent {
    pub entry: Uuid,
    pub messages: Vec<i64>,
}

/// Registers one sending in the outgoing protocol, records it in the history and queues one
/// message per party with the signed file attached.
#[allow(clippy::too_many_arguments)]
pub async fn send(
    tx: &mut TenantTx,
    viewer: &Viewer<'_>,
    actor: &audit::Actor,
    application: Uuid,
    d: &Decision,
    file: &Signed,
    parties: &[Party],
    note: Option<String>,
) -> anyhow::Result<Sent> {
    let number = d.number_label().unwrap_or_default();
    let names: Vec<String> = parties
        .iter()
        .map(|p| match p.recipient {
            Recipient::Applicant => "all'interessato".to_owned(),
            Recipient::Lawyer => format!("al difensore, Avv. {}", p.name),
            _ => format!("a {}", p.name),
        })
        .collect();
    let via_pec = parties.iter().any(|p| p.via_pec);
    let addressees: Vec<Addressee> = parties
        .iter()
        .map(|p| Addressee {
            kind: p.recipient.code().into(),
            name: p.name.clone(),
            address: Some(p.address.clone()),
        })
        .collect();
    let entry = protocol::register_outgoing(
        tx,
        &NewEntry {
            direction: Direction::Outgoing,
            kind: "delibera",
            channel: if via_pec { "pec" } else { "email" },
            application: Some(application),
            subject: format!(
                "Trasmissione della delibera n. {number} {}",
                names.join(" e ")
            ),
            documents: vec![FiledDocument {
                name: file.name.clone(),
                kind: "delibera".into(),
                sha256: file.sha256.clone(),
            }],
            by: actor,
        },
        &addressees,
        &Utc::now,
    )
    .await?;
    let c = cases::lock(tx, viewer, application)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the case of a delibera is not visible"))?;
    let labels: Vec<String> = parties
        .iter()
        .map(|p| {
            format!(
                "{} ({}{})",
                p.recipient.label(),
                p.name,
                if p.via_pec { ", PEC" } else { ", e-mail" }
            )
        })
        .collect();
    let mut nota = format!("Destinatari: {}", labels.join("; "));
    if let Some(n) = note {
        nota = format!("{n}. {nota}");
    }
    let change = Change {
        case: &c,
        seen_version: c.version,
        to: c.stage(),
        kind: EventKind::Transmitted,
        actor,
        details: json!({
            "delibera": number,
            "protocollo_uscita": entry.number().to_string(),
            "nota": nota,
        }),
        notify: Notify::Nobody,
    };
    let event_id = match cases::advance(tx, change).await? {
        Ok(a) => a.event_id,
        Err(_) => anyhow::bail!("a locked case changed under its lock"),
    };
    let payload = json!({
        "codice": c.code,
        "protocollo": c.protocol().map(|p| p.to_string()),
        "delibera": number,
        "esito": d.outcome().map(Outcome::label),
        "protocollo_uscita": entry.number().to_string(),
        "richiedente": c.applicant_name,
        "rg": c.rg_number.as_deref().filter(|r| !r.is_empty()),
        "allegato": {
            "chiave": file.key,
            "nome": file.name,
            "tipo": file.content_type,
            "sha256": file.sha256,
        },
    });
    let mut messages = Vec::new();
    for p in parties {
        messages.push(
            outbox::transmission(
                tx,
                event_id,
                application,
                (p.recipient.code(), &p.address),
                p.via_pec,
                EventKind::Transmitted.code(),
                &payload,
            )
            .await?,
        );
    }
    Ok(Sent {
        entry: entry.id,
        messages,
    })
}

/// Once the delibera is signed (by the councillor, or sealed on adoption): it goes to the
/// applicant and the lawyer; an admission's copy goes to the judicial office when its PEC is
/// known, otherwise it waits in the secretariat's queue; the Agenzia delle Entrate's copy waits
/// for its periodic batch. Written once per delibera; nothing happens before the signature.
#[tracing::instrument(name = "trasmetti la delibera", skip_all, fields(tenant = %tx.tenant().0, application.id = %application))]
pub async fn after_signature(
    tx: &mut TenantTx,
    storage: &Storage,
    viewer: &Viewer<'_>,
    actor: &audit::Actor,
    application: Uuid,
) -> anyhow::Result<()> {
    let Some(d) = decisions::current(tx, application).await? else {
        return Ok(());
    };
    let Some(outcome) = d.outcome() else {
        return Ok(());
    };
    if transmissions::exist_for(tx, d.id).await? {
        return Ok(());
    }
    let Some(file) = Signed::of(storage, &d).await? else {
        return Ok(());
    };
    let to = transmissions::addresses(tx, application).await?;
    let wanted = recipients(outcome);
    let mut parties = Vec::new();
    if let Some(email) = &to.applicant_email {
        parties.push(Party {
            recipient: Recipient::Applicant,
            name: to.applicant_name.clone().unwrap_or_default(),
            address: email.clone(),
            via_pec: false,
        });
    }
    if let (Some(name), Some((address, via_pec))) = (
        &to.lawyer_name,
        to.lawyer_pec
            .as_ref()
            .map(|p| (p, true))
            .or(to.lawyer_email.as_ref().map(|e| (e, false))),
    ) {
        parties.push(Party {
            recipient: Recipient::Lawyer,
            name: name.clone(),
            address: address.clone(),
            via_pec,
        });
    }
    if !parties.is_empty() {
        let sent = send(tx, viewer, actor, application, &d, &file, &parties, None).await?;
        for (p, message) in parties.iter().zip(&sent.messages) {
            transmissions::insert(
                tx,
                &transmissions::New {
                    application,
                    decision: d.id,
                    recipient: p.recipient,
                    name: &p.name,
                    address: Some(p.address.as_str()),
                    via_pec: p.via_pec,
                    office: None,
                    sent: Some((sent.entry, *message, file.sha256.as_str())),
                },
            )
            .await?;
        }
    }
    if wanted.contains(&Recipient::Judge) {
        let office = to
            .office_id
            .zip(to.office_name.clone())
            .zip(to.office_pec.clone());
        match office {
            Some(((id, name), pec)) => {
                let party = Party {
                    recipient: Recipient::Judge,
                    name: name.clone(),
                    address: pec.clone(),
                    via_pec: true,
                };
                let sent = send(
                    tx,
                    viewer,
                    actor,
                    application,
                    &d,
                    &file,
                    std::slice::from_ref(&party),
                    None,
                )
                .await?;
                transmissions::insert(
                    tx,
                    &transmissions::New {
                        application,
                        decision: d.id,
                        recipient: Recipient::Judge,
                        name: &name,
                        address: Some(pec.as_str()),
                        via_pec: true,
                        office: Some(id),
                        sent: Some((sent.entry, sent.messages[0], file.sha256.as_str())),
                    },
                )
                .await?;
            }
            None => {
                let name = to
                    .office_name
                    .clone()
                    .unwrap_or_else(|| "Ufficio giudiziario da individuare".into());
                transmissions::insert(
                    tx,
                    &transmissions::New {
                        application,
                        decision: d.id,
                        recipient: Recipient::Judge,
                        name: &name,
                        address: None,
                        via_pec: true,
                        office: to.office_id,
                        sent: None,
                    },
                )
                .await?;
            }
        }
    }
    if wanted.contains(&Recipient::TaxAgency) {
        transmissions::insert(
            tx,
            &transmissions::New {
                application,
                decision: d.id,
                recipient: Recipient::TaxAgency,
                name: "Agenzia delle Entrate",
                address: None,
                via_pec: true,
                office: None,
                sent: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// Registers in the outgoing protocol a communication with legal weight that the event
/// `event_id` queued to the parties (an integration request), with its recipients and the
/// SHA-256 of the text it carries; nothing when it goes to nobody.
pub async fn register_notice(
    tx: &mut TenantTx,
    case: &crate::store::cases::Case,
    event_id: i64,
    kind: &str,
    subject: String,
    text: &str,
    actor: &audit::Actor,
) -> anyhow::Result<()> {
    let queued = outbox::recipients_of_event(tx, event_id).await?;
    if queued.is_empty() {
        return Ok(());
    }
    let addressees: Vec<Addressee> = queued
        .iter()
        .map(|(who, address, _)| Addressee {
            kind: who.clone(),
            name: match who.as_str() {
                "avvocato" => case.lawyer_name.clone().unwrap_or_default(),
                _ => case.applicant_name.clone().unwrap_or_default(),
            },
            address: Some(address.clone()),
        })
        .collect();
    let via_pec = queued.iter().any(|q| q.2);
    protocol::register_outgoing(
        tx,
        &NewEntry {
            direction: Direction::Outgoing,
            kind,
            channel: if via_pec { "pec" } else { "email" },
            application: Some(case.id),
            subject,
            documents: vec![FiledDocument {
                name: format!("{kind}.txt"),
                kind: kind.into(),
                sha256: hex::encode(Sha256::digest(text.as_bytes())),
            }],
            by: actor,
        },
        &addressees,
        &Utc::now,
    )
    .await?;
    Ok(())
}

/// The sentence of the delibera naming its recipients, from the case as it is adopted.
pub fn sentence(outcome: Outcome, case: &crate::store::cases::Case) -> String {
    delibera_sentence(
        outcome,
        case.lawyer_name.as_deref(),
        case.office_name.as_deref(),
    )
}

/// The transmissions in the case's history: recipient, outgoing protocol number, state.
pub fn section(file: &CaseFile) -> Markup {
    rows_section(&file.transmissions)
}

/// The same, from the rows: with a stable id, the live pipeline sends it again when a PEC
/// receipt moves a transmission on.
pub fn rows_section(rows: &[Listed]) -> Markup {
    html! {
        div id="trasmissioni-pratica" aria-live="polite" {
        @if !rows.is_empty() {
            h3 class="h6" id="trasmissioni" { "Trasmissioni della delibera" }
            div class="table-responsive" {
                table class="table table-sm" {
                    caption class="visually-hidden" { "Trasmissioni della delibera" }
                    thead { tr {
                        th scope="col" { "Destinatario" }
                        th scope="col" { "Protocollo in uscita" }
                        th scope="col" { "Stato" }
                    } }
                    tbody {
                        @for t in rows {
                            (row(t))
                        }
                    }
                }
            }
        }
        }
    }
}

fn row(t: &Listed) -> Markup {
    html! {
        tr {
            td {
                (t.recipient().map_or("", Recipient::label))
                br; small class="text-break" { (t.recipient_name) @if let Some(a) = &t.address { " — " (a) } }
            }
            td { @match t.protocol() { Some(p) => span class="text-monospace" { (p) }, None => "—" } }
            td { (t.state_label()) }
        }
    }
}

/// Whether the copy for the judge waits for the secretariat.
pub fn judge_waiting(file: &CaseFile) -> bool {
    file.transmissions.iter().any(|t| {
        t.recipient() == Some(Recipient::Judge)
            && State::from_code(&t.state) == Some(State::Waiting)
    })
}

/// The secretariat's queue on its board: admissions whose copy for the judge waits.
pub fn queue(base: &str, rows: &[Waiting]) -> Markup {
    html! {
        section id="da-trasmettere" class="mb-5" {
            h2 class="h3" { "Da trasmettere all'ufficio giudiziario " span class="badge bg-primary" { (rows.len()) } }
            @if rows.is_empty() {
                p class="text-muted" { "Nessuna delibera in attesa di trasmissione all'ufficio giudiziario." }
            } @else {
                p class="small" { "Ammissioni firmate per cui manca l'ufficio giudiziario o il suo indirizzo PEC: aprire la pratica per indicarlo e trasmettere, oppure registrare la consegna della copia al richiedente per il deposito." }
                div class="table-responsive" {
                    table class="table table-hover" {
                        caption { "Delibere di ammissione da trasmettere al magistrato" }
                        thead { tr {
                            th scope="col" { "Protocollo" }
                            th scope="col" { "Richiedente" }
                            th scope="col" { "Delibera" }
                            th scope="col" { "In attesa dal" }
                        } }
                        tbody {
                            @for w in rows {
                                tr id=(format!("trasmettere-{}", w.application_id)) {
                                    td { a href=(format!("{base}/pratiche/{}#trasmissione-ufficio", w.application_id)) {
                                        span class="text-monospace" { @match w.protocol() { Some(p) => (p), None => (w.code) } }
                                    } }
                                    td { (w.applicant_name.as_deref().unwrap_or("—")) }
                                    td { (w.delibera.as_deref().unwrap_or("—")) }
                                    td { (time::format_date_time(w.since)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
