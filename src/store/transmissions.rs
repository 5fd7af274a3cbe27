//! Transmissions of delibere: one row per delibera and recipient, with its state, its
//! outgoing protocol entry and its message once it left.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::{
        protocol::ProtocolNumber,
        transmission::{Recipient, State},
    },
};

/// The addresses a delibera can go to, read from the application.
#[derive(Debug, sqlx::FromRow)]
pub struct Addresses {
    pub applicant_name: Option<String>,
    pub applicant_email: Option<String>,
    pub lawyer_name: Option<String>,
    pub lawyer_pec: Option<String>,
    pub lawyer_email: Option<String>,
    pub office_id: Option<Uuid>,
    pub office_name: Option<String>,
    pub office_pec: Option<String>,
}

pub async fn addresses(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<Addresses> {
    Ok(sqlx::query_as(
        "SELECT a.applicant_name, nullif(a.applicant_email, '') AS applicant_email,
                l.surname || ' ' || l.given_name AS lawyer_name,
                nullif(l.pec, '') AS lawyer_pec, nullif(l.email, '') AS lawyer_email,
                o.id AS office_id, o.name AS office_name, nullif(o.pec, '') AS office_pec
           FROM applications a
           LEFT JOIN lawyers l ON l.id = a.lawyer_id
           LEFT JOIN judicial_offices o ON o.id = a.judicial_office_id AND o.active
          WHERE a.id = $1",
    )
    .bind(application)
    .fetch_one(tx.conn())
    .await?)
}

/// Whether the delibera's transmissions were already written (they are written once).
pub async fn exist_for(tx: &mut TenantTx, decision: Uuid) -> anyhow::Result<bool> {
    Ok(
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM transmissions WHERE decision_id = $1)")
            .bind(decision)
            .fetch_one(tx.conn())
            .await?,
    )
}

/// One recipient's transmission as it is written.
pub struct New<'a> {
    pub application: Uuid,
    pub decision: Uuid,
    pub recipient: Recipient,
    pub name: &'a str,
    pub address: Option<&'a str>,
    pub via_pec: bool,
    pub office: Option<Uuid>,
    /// `Some` when it leaves now: (outgoing entry, message, SHA-256 of the file sent).
    pub sent: Option<(Uuid, i64, &'a str)>,
}

pub async fn insert(tx: &mut TenantTx, t: &New<'_>) -> anyhow::Result<Uuid> {
    let tenant = tx.tenant().0;
    let state = if t.sent.is_some() {
        State::Queued
    } else {
        State::Waiting
    };
    Ok(sqlx::query_scalar(
        "INSERT INTO transmissions (tenant_id, application_id, decision_id, recipient_kind,
             recipient_name, address, via_pec, office_id, protocol_entry_id, outbox_id,
             document_sha256, state)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id",
    )
    .bind(tenant)
    .bind(t.application)
    .bind(t.decision)
    .bind(t.recipient.code())
    .bind(t.name)
    .bind(t.address)
    .bind(t.via_pec)
    .bind(t.office)
    .bind(t.sent.map(|s| s.0))
    .bind(t.sent.map(|s| s.1))
    .bind(t.sent.map(|s| s.2))
    .bind(state.code())
    .fetch_one(tx.conn())
    .await?)
}

/// The copy for the judge of an application, locked (one secretary at a time decides where
/// it goes).
#[derive(Debug, sqlx::FromRow)]
pub struct ForJudge {
    pub id: Uuid,
    pub decision_id: Uuid,
    pub state: String,
}

impl ForJudge {
    pub fn state(&self) -> State {
        State::from_code(&self.state).unwrap_or(State::Waiting)
    }
}

pub async fn lock_for_judge(
    tx: &mut TenantTx,
    application: Uuid,
) -> anyhow::Result<Option<ForJudge>> {
    Ok(sqlx::query_as(
        "SELECT t.id, t.decision_id, t.state FROM transmissions t
           JOIN decisions d ON d.id = t.decision_id AND d.superseded_at IS NULL
          WHERE t.application_id = $1 AND t.recipient_kind = 'ufficio_giudiziario'
          FOR UPDATE OF t",
    )
    .bind(application)
    .fetch_optional(tx.conn())
    .await?)
}

/// The waiting copy for the judge leaves now, to `office` at `address`.
pub async fn mark_sent_to_office(
    tx: &mut TenantTx,
    id: Uuid,
    office: (Uuid, &str, &str),
    sent: (Uuid, i64, &str),
) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE transmissions SET office_id = $2, recipient_name = $3, address = $4,
                via_pec = true, protocol_entry_id = $5, outbox_id = $6, document_sha256 = $7,
                state = 'in_coda', updated_at = now(), version = version + 1
          WHERE id = $1 AND state = 'da_trasmettere'",
    )
    .bind(id)
    .bind(office.0)
    .bind(office.1)
    .bind(office.2)
    .bind(sent.0)
    .bind(sent.1)
    .bind(sent.2)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

pub async fn mark_handed_over(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE transmissions SET state = 'consegnata_al_richiedente', updated_at = now(),
                version = version + 1
          WHERE id = $1 AND state = 'da_trasmettere'",
    )
    .bind(id)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// One transmission as the case page lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct Listed {
    pub recipient_kind: String,
    pub recipient_name: String,
    pub address: Option<String>,
    pub state: String,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i32>,
    /// The message's own state in the outbox (`in_attesa`, `inviato`, `non_recapitabile`).
    pub mail_status: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Why the PEC was not delivered (the provider's receipt).
    pub failure_reason: Option<String>,
}

impl Listed {
    pub fn recipient(&self) -> Option<Recipient> {
        Recipient::from_code(&self.recipient_kind)
    }

    pub fn protocol(&self) -> Option<ProtocolNumber> {
        Some(ProtocolNumber {
            year: self.protocol_year?,
            number: self.protocol_number?,
        })
    }

    /// Where it stands, in words: the receipts' state once point 6 records them, until then
    /// what the outbox knows.
    pub fn state_label(&self) -> String {
        let state = State::from_code(&self.state).unwrap_or(State::Waiting);
        match (state, self.mail_status.as_deref()) {
            (State::Waiting, _) if self.recipient() == Some(Recipient::TaxAgency) => {
                "In attesa dell'invio periodico all'Agenzia delle Entrate".into()
            }
            (State::Waiting, _) if self.recipient() == Some(Recipient::Judge) => {
                "Da trasmettere: manca l'ufficio giudiziario o il suo indirizzo PEC".into()
            }
            (State::Queued, Some("inviato")) => match self.sent_at {
                Some(at) => format!("Inviata il {}", crate::domain::time::format_date_time(at)),
                None => "Inviata".into(),
            },
            (State::Queued, Some("non_recapitabile")) => "Non recapitata".into(),
            (State::NotDelivered, _) => match &self.failure_reason {
                Some(why) => format!("{}: {why}", state.label()),
                None => state.label().into(),
            },
            (s, _) => s.label().into(),
        }
    }
}

pub async fn for_application(tx: &mut TenantTx, application: Uuid) -> anyhow::Result<Vec<Listed>> {
    Ok(sqlx::query_as(
        "SELECT t.recipient_kind, t.recipient_name, t.address, t.state,
                p.year AS protocol_year, p.number AS protocol_number,
                o.status AS mail_status, o.sent_at, t.updated_at, t.failure_reason
           FROM transmissions t
           JOIN decisions d ON d.id = t.decision_id AND d.superseded_at IS NULL
           LEFT JOIN protocol_entries p ON p.id = t.protocol_entry_id
           LEFT JOIN outbox o ON o.id = t.outbox_id
          WHERE t.application_id = $1
          ORDER BY CASE t.recipient_kind WHEN 'richiedente' THEN 1 WHEN 'avvocato' THEN 2
                        WHEN 'ufficio_giudiziario' THEN 3 ELSE 4 END",
    )
    .bind(application)
    .fetch_all(tx.conn())
    .await?)
}

/// An admission whose copy for the judge waits (the secretariat's queue).
#[derive(Debug, sqlx::FromRow)]
pub struct Waiting {
    pub application_id: Uuid,
    pub code: String,
    pub applicant_name: Option<String>,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i32>,
    pub delibera: Option<String>,
    pub since: DateTime<Utc>,
}

impl Waiting {
    pub fn protocol(&self) -> Option<ProtocolNumber> {
        Some(ProtocolNumber {
            year: self.protocol_year?,
            number: self.protocol_number?,
        })
    }
}

/// The copies for the judge waiting, oldest first (at most `limit`).
pub async fn waiting_for_judge(tx: &mut TenantTx, limit: i64) -> anyhow::Result<Vec<Waiting>> {
    Ok(sqlx::query_as(
        "SELECT a.id AS application_id, a.code, a.applicant_name, a.protocol_year,
                a.protocol_number, d.number || '/' || d.year AS delibera, t.created_at AS since
           FROM transmissions t
           JOIN applications a ON a.id = t.application_id
           JOIN decisions d ON d.id = t.decision_id AND d.superseded_at IS NULL
          WHERE t.state = 'da_trasmettere' AND t.recipient_kind = 'ufficio_giudiziario'
          ORDER BY t.created_at, a.code LIMIT $1",
    )
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// A transmission whose PEC was not delivered, as the secretariat's board lists it.
#[derive(Debug, sqlx::FromRow)]
pub struct Failed {
    pub application_id: Uuid,
    pub code: String,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i32>,
    pub recipient_kind: String,
    pub recipient_name: String,
    pub failure_reason: Option<String>,
}

impl Failed {
    /// The protocol number, else the application's code.
    pub fn reference(&self) -> String {
        match self.protocol_year.zip(self.protocol_number) {
            Some((year, number)) => ProtocolNumber { year, number }.to_string(),
            None => self.code.clone(),
        }
    }
}

/// The transmissions not delivered in the last `days`, latest first (at most `limit`).
pub async fn failed_since(tx: &mut TenantTx, days: i64, limit: i64) -> anyhow::Result<Vec<Failed>> {
    Ok(sqlx::query_as(
        "SELECT t.application_id, a.code, a.protocol_year, a.protocol_number, t.recipient_kind,
                t.recipient_name, t.failure_reason
           FROM transmissions t
           JOIN applications a ON a.id = t.application_id
          WHERE t.state = 'mancata_consegna'
            AND t.updated_at > now() - make_interval(days => $1::int)
          ORDER BY t.updated_at DESC, t.id LIMIT $2",
    )
    .bind(days)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}
