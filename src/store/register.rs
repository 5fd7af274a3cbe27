//! The register import: the lawyers we hold as register records, the uploaded files, and
//! applying a plan in one transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::{
        access::{Grant, ManageRegister, Role},
        register::{Approved, Record, Status},
    },
    store::{lawyers, users},
};

/// Every lawyer we hold, as a register record.
pub async fn current(
    tx: &mut TenantTx,
    _grant: &Grant<ManageRegister>,
) -> anyhow::Result<Vec<Record>> {
    let rows: Vec<lawyers::Lawyer> = sqlx::query_as(
        "SELECT id, surname, given_name, codice_fiscale, register_number, pec, email, status,
                legal_aid_matters FROM lawyers",
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|l| Record {
            surname: l.surname,
            given_name: l.given_name,
            codice_fiscale: l.codice_fiscale,
            register_number: l.register_number,
            pec: l.pec,
            email: l.email,
            status: Status::parse(&l.status).unwrap_or(Status::Attivo),
            matters: l.legal_aid_matters.into_iter().collect::<BTreeSet<_>>(),
        })
        .collect())
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub disabled: usize,
    pub unchanged: usize,
    /// Invited accounts made for new lawyers (activation links are issued separately).
    pub accounts: usize,
    pub bad_lines: Vec<(usize, String)>,
    /// Lawyers not in the file left as they were because lines with errors may be about them.
    pub kept: usize,
    /// Lawyers not in the file whom the administrator chose not to disable.
    pub not_disabled: usize,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Import {
    pub id: Uuid,
    pub filename: String,
    pub content: Vec<u8>,
    pub status: String,
    pub total: i32,
    pub processed: i32,
    pub report: Option<Json<Report>>,
    pub created_at: DateTime<Utc>,
    pub applied_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, filename, content, status, total, processed, report, created_at, applied_at";

pub async fn create_import(
    tx: &mut TenantTx,
    _grant: &Grant<ManageRegister>,
    filename: &str,
    content: &[u8],
    uploaded_by: Option<Uuid>,
) -> anyhow::Result<Uuid> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query_scalar(
        "INSERT INTO register_imports (tenant_id, filename, content, uploaded_by)
         VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(tenant)
    .bind(filename)
    .bind(content)
    .bind(uploaded_by)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn get_import(
    tx: &mut TenantTx,
    _grant: &Grant<ManageRegister>,
    id: Uuid,
) -> anyhow::Result<Option<Import>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM register_imports WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

pub async fn recent_imports(
    tx: &mut TenantTx,
    _grant: &Grant<ManageRegister>,
) -> anyhow::Result<Vec<Import>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM register_imports ORDER BY created_at DESC LIMIT 10"
    ))
    .fetch_all(tx.conn())
    .await?)
}

/// Marks an import as started; `false` if it was already started (a second click).
pub async fn start(tx: &mut TenantTx, id: Uuid, total: usize) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE register_imports SET status = 'in_corso', total = $2, processed = 0
         WHERE id = $1 AND status = 'anteprima'",
    )
    .bind(id)
    .bind(total as i32)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// Progress, written in its own short transaction so that the page sees it while the import's
/// transaction is still open.
pub async fn set_progress(tx: &mut TenantTx, id: Uuid, processed: usize) -> anyhow::Result<()> {
    sqlx::query("UPDATE register_imports SET processed = $2 WHERE id = $1")
        .bind(id)
        .bind(processed as i32)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn finish(
    tx: &mut TenantTx,
    id: Uuid,
    status: &str,
    report: Option<&Report>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE register_imports SET status = $2, report = $3, applied_at = now(),
             processed = total
         WHERE id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(report.map(Json))
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Applies an approved plan: lawyers created (each with an invited account when they have an
/// address), updated, disabled (with their accounts, each recorded against `import` so that it
/// can be undone). `progress` is called every few hundred records.
pub async fn apply(
    tx: &mut TenantTx,
    _grant: &Grant<ManageRegister>,
    import: Uuid,
    approved: &Approved,
    mut progress: impl FnMut(usize),
) -> anyhow::Result<Report> {
    let plan = approved.plan();
    let mut report = Report {
        unchanged: plan.unchanged,
        kept: plan.kept.len(),
        not_disabled: approved.not_disabled(),
        bad_lines: approved
            .bad_lines()
            .iter()
            .map(|b| (b.line, b.reason.clone()))
            .collect(),
        ..Report::default()
    };
    let mut done = 0;
    let mut tick = |done: &mut usize| {
        *done += 1;
        if (*done).is_multiple_of(250) {
            progress(*done);
        }
    };
    fn save(r: &Record) -> lawyers::NewLawyer<'_> {
        lawyers::NewLawyer {
            surname: &r.surname,
            given_name: &r.given_name,
            codice_fiscale: &r.codice_fiscale,
            register_number: r.register_number.as_deref(),
            pec: r.pec.as_deref(),
            email: r.email.as_deref(),
            matters: &[],
            status: r.status.code(),
        }
    }
    for r in &plan.create {
        let matters = r.list_matters();
        let id = lawyers::upsert(
            tx,
            lawyers::NewLawyer {
                matters: &matters,
                ..save(r)
            },
        )
        .await?;
        report.created += 1;
        let address = r.email.as_deref().or(r.pec.as_deref());
        if let Some(email) = address
            && r.status == Status::Attivo
        {
            let created = users::insert(
                tx,
                users::NewUser {
                    email: &email.to_lowercase(),
                    full_name: &r.name(),
                    codice_fiscale: Some(&r.codice_fiscale),
                    roles: &[Role::Avvocato],
                    lawyer_id: Some(id),
                },
            )
            .await?;
            if created.is_some() {
                report.accounts += 1;
            }
        }
        tick(&mut done);
    }
    for (r, _) in &plan.update {
        let matters = r.list_matters();
        lawyers::upsert(
            tx,
            lawyers::NewLawyer {
                matters: &matters,
                ..save(r)
            },
        )
        .await?;
        if r.status != Status::Attivo {
            disable_accounts(tx, &r.codice_fiscale).await?;
        }
        report.updated += 1;
        tick(&mut done);
    }
    let tenant = tx.tenant().0;
    for absent in &plan.disable {
        // Skipped if somebody cancelled the lawyer meanwhile: there is nothing to undo then.
        let cancelled: Option<(Uuid, String)> = sqlx::query_as(
            "UPDATE lawyers l SET status = 'cancellato', updated_at = now()
             FROM (SELECT id, status FROM lawyers
                   WHERE codice_fiscale = $1 AND status <> 'cancellato' FOR UPDATE) old
             WHERE l.id = old.id
             RETURNING l.id, old.status",
        )
        .bind(&absent.codice_fiscale)
        .fetch_optional(tx.conn())
        .await?;
        if let Some((lawyer, previous)) = cancelled {
            let accounts = disable_accounts(tx, &absent.codice_fiscale).await?;
            sqlx::query(
                "INSERT INTO register_deactivations
                     (tenant_id, import_id, lawyer_id, previous_status, accounts)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(tenant)
            .bind(import)
            .bind(lawyer)
            .bind(previous)
            .bind(accounts)
            .execute(tx.conn())
            .await?;
            report.disabled += 1;
        }
        tick(&mut done);
    }
    progress(done);
    Ok(report)
}

/// A lawyer off the register (or suspended) cannot log in any more: the account is disabled
/// and its sessions end. Returns the accounts it disabled.
async fn disable_accounts(tx: &mut TenantTx, codice_fiscale: &str) -> anyhow::Result<Vec<Uuid>> {
    Ok(sqlx::query_scalar(
        "UPDATE users SET status = 'disabilitato', session_epoch = session_epoch + 1,
             updated_at = now()
         WHERE status = 'attivo'
           AND lawyer_id IN (SELECT id FROM lawyers WHERE codice_fiscale = $1)
         RETURNING id",
    )
    .bind(codice_fiscale)
    .fetch_all(tx.conn())
    .await?)
}

/// A lawyer an import disabled because they were not in the file, as its report lists them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Deactivation {
    pub lawyer_id: Uuid,
    pub name: String,
    pub register_number: Option<String>,
    /// How many accounts the import disabled with the lawyer.
    pub accounts: i32,
    pub restored_at: Option<DateTime<Utc>>,
    /// Nothing has changed the lawyer since (a later import, an administrator): the undo is
    /// still possible.
    pub restorable: bool,
}

/// Whether a deactivation can still be undone: not undone yet, and the lawyer is exactly as
/// the import left them (still cancelled, not updated since).
const RESTORABLE: &str = "d.restored_at IS NULL AND l.status = 'cancellato'
                          AND l.updated_at <= d.deactivated_at";

/// The lawyers `import` disabled, by name.
pub async fn deactivations(
    tx: &mut TenantTx,
    _grant: &Grant<ManageRegister>,
    import: Uuid,
) -> anyhow::Result<Vec<Deactivation>> {
    Ok(sqlx::query_as(&format!(
        "SELECT d.lawyer_id, l.given_name || ' ' || l.surname AS name, l.register_number,
                cardinality(d.accounts) AS accounts, d.restored_at, ({RESTORABLE}) AS restorable
         FROM register_deactivations d JOIN lawyers l ON l.id = d.lawyer_id
         WHERE d.import_id = $1
         ORDER BY lower(l.surname), lower(l.given_name), l.id"
    ))
    .bind(import)
    .fetch_all(tx.conn())
    .await?)
}

/// What an undo did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Lawyers put back, each with the number of accounts re-enabled.
    pub restored: Vec<(Uuid, usize)>,
    /// Already undone before (a second click): nothing to do.
    pub already: usize,
    /// Changed since the import (a later import, an administrator): left as they are.
    pub changed: usize,
}

/// Undoes the deactivations of `import` (of one lawyer, or all): each lawyer gets back the
/// status they had, and the accounts the import disabled are re-enabled unless changed since.
/// Idempotent: rows are locked, and an undone row is never undone twice.
pub async fn restore(
    tx: &mut TenantTx,
    _grant: &Grant<ManageRegister>,
    import: Uuid,
    lawyer: Option<Uuid>,
    by: Option<Uuid>,
) -> anyhow::Result<Restored> {
    type Row = (Uuid, String, Vec<Uuid>, DateTime<Utc>, bool, bool);
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT d.lawyer_id, d.previous_status, d.accounts, d.deactivated_at,
                d.restored_at IS NOT NULL, ({RESTORABLE})
         FROM register_deactivations d JOIN lawyers l ON l.id = d.lawyer_id
         WHERE d.import_id = $1 AND ($2::uuid IS NULL OR d.lawyer_id = $2)
         ORDER BY d.lawyer_id
         FOR UPDATE OF d, l"
    ))
    .bind(import)
    .bind(lawyer)
    .fetch_all(tx.conn())
    .await?;
    let mut out = Restored::default();
    for (lawyer, previous, accounts, at, undone, restorable) in rows {
        if undone {
            out.already += 1;
            continue;
        }
        if !restorable {
            out.changed += 1;
            continue;
        }
        sqlx::query("UPDATE lawyers SET status = $2, updated_at = now() WHERE id = $1")
            .bind(lawyer)
            .bind(&previous)
            .execute(tx.conn())
            .await?;
        let enabled = sqlx::query(
            "UPDATE users SET status = 'attivo', updated_at = now()
             WHERE id = ANY ($1) AND status = 'disabilitato' AND updated_at <= $2",
        )
        .bind(&accounts)
        .bind(at)
        .execute(tx.conn())
        .await?
        .rows_affected();
        sqlx::query(
            "UPDATE register_deactivations SET restored_at = now(), restored_by = $3
             WHERE import_id = $1 AND lawyer_id = $2",
        )
        .bind(import)
        .bind(lawyer)
        .bind(by)
        .execute(tx.conn())
        .await?;
        out.restored.push((lawyer, enabled as usize));
    }
    Ok(out)
}

/// Invited accounts of lawyers (no password yet): for the bulk activation links.
pub async fn invited_lawyer_accounts(
    tx: &mut TenantTx,
    _grant: &Grant<ManageRegister>,
) -> anyhow::Result<Vec<(Uuid, String, String)>> {
    Ok(sqlx::query_as(
        "SELECT u.id, u.full_name, u.email FROM users u
         JOIN user_roles r ON r.user_id = u.id AND r.role = 'avvocato'
         WHERE u.status = 'invitato' ORDER BY lower(u.full_name)",
    )
    .fetch_all(tx.conn())
    .await?)
}
