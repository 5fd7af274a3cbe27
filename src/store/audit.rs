//! The audit log: who did what to which record, when. Rows are append-only and hash-chained
//! per Ordine by the database (see the migration); this module writes and reads them.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    db::{Db, TenantTx},
    domain::{
        access::{ExportDossier, Grant, ViewAudit},
        tenant::TenantId,
    },
};

/// Who acted: a person (id and label), or the service itself.
#[derive(Clone, Debug)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub label: String,
}

impl Actor {
    pub fn user(id: Uuid, label: impl Into<String>) -> Self {
        Self {
            id: Some(id),
            label: label.into(),
        }
    }

    pub fn anonymous(label: impl Into<String>) -> Self {
        Self {
            id: None,
            label: label.into(),
        }
    }
}

pub struct Entry<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub target_kind: Option<&'a str>,
    pub target_id: Option<String>,
    /// `ok`, `negato` or `errore`.
    pub outcome: &'a str,
    /// Ids and codes only: never personal data.
    pub details: Value,
}

pub async fn record(tx: &mut TenantTx, e: Entry<'_>) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor_id, actor, action, target_kind, target_id,
                                outcome, details, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '\\x'::bytea, '\\x'::bytea)",
    )
    .bind(tenant)
    .bind(e.actor.id)
    .bind(&e.actor.label)
    .bind(e.action)
    .bind(e.target_kind)
    .bind(e.target_id)
    .bind(e.outcome)
    .bind(e.details)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records an entry in its own transaction (a refused request has no other).
pub async fn record_alone(db: &Db, tenant: TenantId, e: Entry<'_>) -> anyhow::Result<()> {
    let mut tx = db.tenant_tx(tenant).await?;
    record(&mut tx, e).await?;
    tx.commit().await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Row {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor: String,
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    pub outcome: String,
    pub details: Value,
    /// What the target is called: an application's protocol number (or code), a person's name.
    pub target_label: Option<String>,
}

pub struct Filter<'a> {
    pub action: Option<&'a str>,
    /// Part of the name of who acted.
    pub actor: Option<&'a str>,
    /// Rows about this application.
    pub application: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub before_seq: Option<i64>,
    pub limit: i64,
}

pub async fn browse(
    tx: &mut TenantTx,
    _grant: &Grant<ViewAudit>,
    f: &Filter<'_>,
) -> anyhow::Result<Vec<Row>> {
    select(tx, f).await
}

/// The newest `limit` rows about one application, newest first, for its dossier.
pub async fn for_dossier(
    tx: &mut TenantTx,
    _grant: &Grant<ExportDossier>,
    application: Uuid,
    limit: i64,
) -> anyhow::Result<Vec<Row>> {
    let f = Filter {
        action: None,
        actor: None,
        application: Some(application),
        from: None,
        until: None,
        before_seq: None,
        limit,
    };
    select(tx, &f).await
}

async fn select(tx: &mut TenantTx, f: &Filter<'_>) -> anyhow::Result<Vec<Row>> {
    Ok(sqlx::query_as(
        "SELECT a.seq, a.at, a.actor_id, a.actor, a.action, a.target_kind, a.target_id,
                a.outcome, a.details,
                CASE WHEN a.target_kind = 'istanza' THEN
                         (SELECT coalesce(p.protocol_year || '/' || lpad(p.protocol_number::text, 7, '0'),
                                          p.code)
                            FROM applications p WHERE p.id = app.as_uuid(a.target_id))
                     WHEN a.target_kind = 'utente' THEN
                         (SELECT u.full_name FROM users u WHERE u.id = app.as_uuid(a.target_id))
                END AS target_label
         FROM audit_log a
         WHERE ($1::text IS NULL OR a.action = $1 OR a.action LIKE $1 || '.%')
           AND ($2::text IS NULL OR app.fold(a.actor) LIKE '%' || app.fold($2) || '%')
           AND ($3::uuid IS NULL OR (a.target_kind = 'istanza' AND a.target_id = $3::text))
           AND ($4::timestamptz IS NULL OR a.at >= $4)
           AND ($5::timestamptz IS NULL OR a.at < $5)
           AND ($6::bigint IS NULL OR a.seq < $6)
         ORDER BY a.seq DESC LIMIT $7",
    )
    .bind(f.action)
    .bind(f.actor)
    .bind(f.application)
    .bind(f.from)
    .bind(f.until)
    .bind(f.before_seq)
    .bind(f.limit)
    .fetch_all(tx.conn())
    .await?)
}

/// The actions recorded in this Ordine's log, for the filter's list.
pub async fn actions(tx: &mut TenantTx, _grant: &Grant<ViewAudit>) -> anyhow::Result<Vec<String>> {
    Ok(
        sqlx::query_scalar("SELECT DISTINCT action FROM audit_log ORDER BY action")
            .fetch_all(tx.conn())
            .await?,
    )
}

/// The first row of a tenant whose hash does not match its content and predecessor.
#[derive(Debug, PartialEq, Eq)]
pub struct Break {
    pub seq: i64,
    pub reason: &'static str,
}

#[derive(sqlx::FromRow)]
struct Link {
    seq: i64,
    prev_hash: Vec<u8>,
    hash: Vec<u8>,
    canonical: Vec<u8>,
}

/// Recomputes the chain of one Ordine: `Ok(n)` rows verified, or the first break.
pub async fn verify_chain(tx: &mut TenantTx) -> anyhow::Result<Result<i64, Break>> {
    let rows: Vec<Link> = sqlx::query_as(
        "SELECT seq, prev_hash, hash, app.audit_canonical(a) AS canonical
         FROM audit_log a ORDER BY seq",
    )
    .fetch_all(tx.conn())
    .await?;
    let mut expected_prev = vec![0u8];
    for (expected_seq, row) in (1..).zip(&rows) {
        if row.seq != expected_seq {
            return Ok(Err(Break {
                seq: row.seq,
                reason: "numerazione interrotta (righe mancanti)",
            }));
        }
        if row.prev_hash != expected_prev {
            return Ok(Err(Break {
                seq: row.seq,
                reason: "la riga non è collegata alla precedente",
            }));
        }
        if Sha256::digest(&row.canonical).as_slice() != row.hash.as_slice() {
            return Ok(Err(Break {
                seq: row.seq,
                reason: "il contenuto della riga è stato modificato",
            }));
        }
        expected_prev = row.hash.clone();
    }
    Ok(Ok(rows.len() as i64))
}
