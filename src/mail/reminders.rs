//! Reminders, each sent once (the row is marked in the transaction that queues the e-mail, and
//! taken with `SKIP LOCKED`, so several instances never send it twice):
//! - to the lawyer and the applicant, two days before an unanswered integration request is due;
//! - to the secretariat, when a case's ten-day clock has two days or fewer left.
//!
//! They run at start and then every hour.

use std::time::Duration;

use chrono::{Days, NaiveDate, Utc};
use serde_json::json;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::{
    db::{Db, TenantTx},
    domain::{
        application::Stage,
        deadline::{Clock, Suspension},
        time,
    },
    store::{cases::SUSPENDED_DAYS, outbox, tenants},
};

/// Days before a deadline the reminder goes.
pub const DAYS_BEFORE: u64 = 2;

pub fn spawn(db: Db) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = run(&db, time::rome_date(Utc::now())).await {
                tracing::warn!(error = format!("{e:#}"), "reminders");
            }
        }
    })
}

/// Queues the reminders due on `today`; returns how many e-mails were queued.
pub async fn run(db: &Db, today: NaiveDate) -> anyhow::Result<u64> {
    let mut queued = 0;
    for tenant in tenants::list(db).await? {
        let mut tx = db.tenant_tx(tenant.id).await?;
        queued += integrations(&mut tx, today).await?;
        queued += clocks(&mut tx, today).await?;
        tx.commit().await?;
    }
    Ok(queued)
}

async fn integrations(tx: &mut TenantTx, today: NaiveDate) -> anyhow::Result<u64> {
    let horizon = today + Days::new(DAYS_BEFORE);
    /// request, application, due date, code, protocol year and number.
    type Row = (Uuid, Uuid, NaiveDate, String, Option<i32>, Option<i32>);
    let due: Vec<Row> = sqlx::query_as(
        "SELECT r.id, r.application_id, r.due_on, a.code, a.protocol_year, a.protocol_number
           FROM integration_requests r JOIN applications a ON a.id = r.application_id
          WHERE r.answered_at IS NULL AND r.reminded_at IS NULL
            AND r.due_on BETWEEN $1 AND $2 AND a.state = 'integrazione_richiesta'
          FOR UPDATE OF r SKIP LOCKED",
    )
    .bind(today)
    .bind(horizon)
    .fetch_all(tx.conn())
    .await?;
    let mut queued = 0;
    for (request, application, due_on, code, year, number) in due {
        let payload = json!({
            "codice": code,
            "protocollo": protocol(year, number),
            "dettagli": { "scadenza": time::format_date(due_on) },
        });
        queued +=
            outbox::to_parties(tx, None, application, "promemoria_integrazione", &payload).await?;
        sqlx::query("UPDATE integration_requests SET reminded_at = now() WHERE id = $1")
            .bind(request)
            .execute(tx.conn())
            .await?;
    }
    Ok(queued)
}

async fn clocks(tx: &mut TenantTx, today: NaiveDate) -> anyhow::Result<u64> {
    type Row = (
        Uuid,
        String,
        String,
        chrono::DateTime<Utc>,
        Option<i32>,
        Option<i32>,
        i32,
        bool,
    );
    let open: Vec<Row> = sqlx::query_as(&format!(
        "SELECT a.id, a.code, a.state, a.submitted_at, a.protocol_year, a.protocol_number,
                {SUSPENDED_DAYS}, a.clock_stopped_since IS NOT NULL
           FROM applications a
          WHERE a.submitted_at IS NOT NULL AND a.decided_at IS NULL
            AND a.clock_reminded_at IS NULL AND a.clock_stopped_since IS NULL
            -- only those that can be two days from the end (the exact count is below)
            AND a.deadline_key < app.epoch(now() - interval '7 days')
          FOR UPDATE OF a SKIP LOCKED",
    ))
    .fetch_all(tx.conn())
    .await?;
    let mut queued = 0;
    for (id, code, state, filed_at, year, number, suspended_days, suspended_now) in open {
        if !Stage::from_code(&state).is_some_and(Stage::is_open) {
            continue;
        }
        let suspension = Suspension {
            days: suspended_days.max(0) as u32,
            now: suspended_now,
        };
        let clock = Clock::decision(time::rome_date(filed_at), suspension, today);
        if clock.days_left > DAYS_BEFORE as i64 {
            continue;
        }
        let payload = json!({
            "codice": code,
            "protocollo": protocol(year, number),
            "dettagli": { "scadenza": time::format_date(clock.due), "nota": clock.label() },
        });
        queued += outbox::to_secretariat(tx, None, id, "termine_in_scadenza", &payload).await?;
        sqlx::query("UPDATE applications SET clock_reminded_at = now() WHERE id = $1")
            .bind(id)
            .execute(tx.conn())
            .await?;
    }
    Ok(queued)
}

fn protocol(year: Option<i32>, number: Option<i32>) -> Option<String> {
    Some(
        crate::domain::protocol::ProtocolNumber {
            year: year?,
            number: number?,
        }
        .to_string(),
    )
}
