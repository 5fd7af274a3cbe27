//! Withdrawal (rinuncia) before the decision: by the chosen lawyer from their area, or
//! recorded by the secretariat when it arrives on paper or by PEC. The act is registered in
//! the protocol; a pending proposal is set aside and the case leaves any session's agenda.

use axum::response::Response;
use chrono::Utc;
use serde_json::json;

use crate::{
    db::TenantTx,
    domain::application::{Action, Actor, Facts, workflow::EventKind},
    store::{
        audit,
        cases::{self, Case, Change, Notify},
        council, decisions,
        protocol::{self, Direction, NewEntry},
    },
    web::{
        auth::{AreaRole, InArea},
        error::AppError,
        tenant::CurrentTenant,
    },
};

pub struct Withdrawal<'a> {
    pub seen_version: i32,
    pub as_actor: Actor,
    pub actor: &'a audit::Actor,
    pub facts: Facts,
    /// `portale` when the lawyer withdraws online; how it arrived otherwise.
    pub channel: &'a str,
    pub note: &'a str,
}

/// Records the withdrawal in `tx`; `Err` is the page to show instead (refused or stale).
pub async fn record<R: AreaRole>(
    tx: &mut TenantTx,
    tenant: &CurrentTenant,
    who: &InArea<R>,
    c: &Case,
    w: Withdrawal<'_>,
) -> Result<Result<(), Response>, AppError> {
    let to = match super::check(tenant, who, c, Action::Withdraw, w.as_actor, w.facts) {
        Ok(to) => to,
        Err(page) => return Ok(Err(page)),
    };
    decisions::supersede(tx, c.id).await?;
    council::set_agenda(tx, c.id, None).await?;
    let entry = protocol::register(
        tx,
        &NewEntry {
            direction: Direction::Incoming,
            kind: "rinuncia",
            channel: w.channel,
            application: Some(c.id),
            subject: format!(
                "Rinuncia all'istanza {} (protocollo {})",
                c.code,
                c.protocol()
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "non registrata".into())
            ),
            documents: Vec::new(),
            by: w.actor,
        },
        &Utc::now,
    )
    .await?;
    let change = Change {
        case: c,
        seen_version: w.seen_version,
        to,
        kind: EventKind::Withdrawn,
        actor: w.actor,
        details: json!({ "protocollo": entry.number().to_string(), "nota": w.note }),
        notify: c.rapporteur_id.map_or(Notify::Parties, Notify::Both),
    };
    if let Err(stale) = cases::advance(tx, change).await? {
        return Ok(Err(super::stale_page(
            tenant,
            who,
            c.id,
            &stale,
            &[("Nota", w.note)],
        )));
    }
    Ok(Ok(()))
}
