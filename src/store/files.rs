//! Which stored objects the rows of an Ordine name, for the sweeper of orphan files
//! (`storage::sweep`). Over-inclusive by design: a key that any column might name counts as
//! named, since keeping an orphan costs bytes while deleting a named file loses a document.

use std::collections::HashSet;

use sqlx::PgConnection;

use crate::db::TenantTx;

/// Every column that holds a storage key (table, column). A test compares this list with the
/// schema: a new `*_key` column must be added here (or to [`NOT_FILE_KEYS`]).
pub const KEY_COLUMNS: &[(&str, &str)] = &[
    ("attachments", "storage_key"),
    ("decisions", "pdf_key"),
    ("decisions", "signed_key"),
    ("council_sessions", "minutes_key"),
    ("protocol_daily_registers", "pdf_key"),
    ("protocol_daily_registers", "sealed_key"),
    ("tax_batches", "cover_pdf_key"),
    ("tax_batches", "cover_csv_key"),
    ("pec_receipts", "eml_key"),
];

/// `*_key` columns that are not storage keys.
pub const NOT_FILE_KEYS: &[(&str, &str)] = &[("tax_batches", "period_key")];

/// The keys of `keys` that some row of the transaction's Ordine names: the columns of
/// [`KEY_COLUMNS`] (indexed), the signed content kept beside a `.p7m` attachment
/// (`<key>.contenuto`, named inside the attachment's signature), the Ordine's logo (in its
/// settings), and the files that e-mails still waiting in the outbox will carry.
pub async fn referenced(tx: &mut TenantTx, keys: &[String]) -> anyhow::Result<HashSet<String>> {
    let mut checks: Vec<String> = KEY_COLUMNS
        .iter()
        .map(|(table, column)| {
            format!("EXISTS (SELECT 1 FROM app.{table} t WHERE t.{column} = k.key)")
        })
        .collect();
    checks.push(
        "EXISTS (SELECT 1 FROM app.attachments t \
                 WHERE k.key LIKE '%.contenuto' AND t.storage_key = left(k.key, -10))"
            .into(),
    );
    checks.push(
        "EXISTS (SELECT 1 FROM app.tenants t \
                 WHERE t.settings -> 'logo' ->> 0 = k.key)"
            .into(),
    );
    checks.push(
        "EXISTS (SELECT 1 FROM app.outbox t WHERE t.status = 'in_attesa' \
                 AND (t.payload -> 'allegato' ->> 'chiave' = k.key \
                      OR t.payload -> 'allegati' @> jsonb_build_array(jsonb_build_object('chiave', k.key))))"
            .into(),
    );
    let sql = format!(
        "SELECT k.key FROM unnest($1::text[]) AS k(key) WHERE {}",
        checks.join(" OR ")
    );
    let found: Vec<String> = sqlx::query_scalar(&sql)
        .bind(keys)
        .fetch_all(tx.conn())
        .await?;
    Ok(found.into_iter().collect())
}

/// One sweeper at a time across the instances: a session lock, released when `conn` closes.
pub async fn try_sweeper_lock(conn: &mut PgConnection) -> anyhow::Result<bool> {
    Ok(sqlx::query_scalar(
        "SELECT pg_try_advisory_lock(hashtextextended('patrocinio:pulizia-file-orfani', 0))",
    )
    .fetch_one(conn)
    .await?)
}
