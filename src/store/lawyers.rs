//! The Ordine's lawyers and the legal-aid lists they are on (art. 81).

use uuid::Uuid;

use crate::{db::TenantTx, domain::application::matter::ListMatter};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Lawyer {
    pub id: Uuid,
    pub surname: String,
    pub given_name: String,
    pub codice_fiscale: String,
    pub register_number: Option<String>,
    pub pec: Option<String>,
    pub email: Option<String>,
    pub status: String,
    pub legal_aid_matters: Vec<String>,
}

impl Lawyer {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }

    pub fn lists(&self) -> Vec<ListMatter> {
        self.legal_aid_matters
            .iter()
            .filter_map(|m| ListMatter::from_code(m))
            .collect()
    }

    pub fn is_active(&self) -> bool {
        self.status == "attivo"
    }
}

/// `%query%` for LIKE, with LIKE's own characters escaped.
fn like_pattern(query: &str) -> String {
    let escaped = query
        .trim()
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

const COLUMNS: &str = "id, surname, given_name, codice_fiscale, register_number, pec, email, \
                       status, legal_aid_matters";

pub async fn get(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<Lawyer>> {
    Ok(
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM lawyers WHERE id = $1"))
            .bind(id)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Active lawyers on the list for `matter` whose name contains `query` (all of them when the
/// query is empty), by surname; at most `limit`.
pub async fn search_listed(
    tx: &mut TenantTx,
    matter: ListMatter,
    query: &str,
    limit: i64,
) -> anyhow::Result<Vec<Lawyer>> {
    let pattern = like_pattern(query);
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM lawyers
         WHERE status = 'attivo' AND $1 = ANY (legal_aid_matters)
           AND (lower(surname || ' ' || given_name) LIKE $2
                OR lower(given_name || ' ' || surname) LIKE $2
                OR coalesce(register_number, '') = $3)
         ORDER BY lower(surname), lower(given_name) LIMIT $4"
    ))
    .bind(matter.code())
    .bind(pattern)
    .bind(query.trim())
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

pub struct NewLawyer<'a> {
    pub surname: &'a str,
    pub given_name: &'a str,
    pub codice_fiscale: &'a str,
    pub register_number: Option<&'a str>,
    pub pec: Option<&'a str>,
    pub email: Option<&'a str>,
    pub matters: &'a [ListMatter],
    /// `attivo`, `sospeso` or `cancellato`.
    pub status: &'a str,
}

/// Creates or updates a lawyer by codice fiscale.
pub async fn upsert(tx: &mut TenantTx, l: NewLawyer<'_>) -> anyhow::Result<Uuid> {
    let tenant = tx.tenant().0;
    let matters: Vec<&str> = l.matters.iter().map(|m| m.code()).collect();
    Ok(sqlx::query_scalar(
        "INSERT INTO lawyers (tenant_id, surname, given_name, codice_fiscale, register_number,
                              pec, email, legal_aid_matters, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (tenant_id, codice_fiscale) DO UPDATE SET
             surname = EXCLUDED.surname, given_name = EXCLUDED.given_name,
             register_number = EXCLUDED.register_number, pec = EXCLUDED.pec,
             email = EXCLUDED.email, legal_aid_matters = EXCLUDED.legal_aid_matters,
             status = EXCLUDED.status, updated_at = now()
         RETURNING id",
    )
    .bind(tenant)
    .bind(l.surname)
    .bind(l.given_name)
    .bind(l.codice_fiscale)
    .bind(l.register_number)
    .bind(l.pec)
    .bind(l.email)
    .bind(matters)
    .bind(l.status)
    .fetch_one(tx.conn())
    .await?)
}

pub async fn find_by_cf(tx: &mut TenantTx, codice_fiscale: &str) -> anyhow::Result<Option<Lawyer>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM lawyers WHERE codice_fiscale = $1"
    ))
    .bind(codice_fiscale)
    .fetch_optional(tx.conn())
    .await?)
}

/// Replaces the legal-aid lists a lawyer is on.
pub async fn set_lists(
    tx: &mut TenantTx,
    _grant: &crate::domain::access::Grant<crate::domain::access::ManageRegister>,
    id: Uuid,
    matters: &[ListMatter],
) -> anyhow::Result<bool> {
    let codes: Vec<&str> = matters.iter().map(|m| m.code()).collect();
    Ok(
        sqlx::query("UPDATE lawyers SET legal_aid_matters = $2, updated_at = now() WHERE id = $1")
            .bind(id)
            .bind(codes)
            .execute(tx.conn())
            .await?
            .rows_affected()
            == 1,
    )
}

/// Lawyers whose name or register number matches `query`, any status (administration).
pub async fn search_all(tx: &mut TenantTx, query: &str, limit: i64) -> anyhow::Result<Vec<Lawyer>> {
    let pattern = like_pattern(query);
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM lawyers
         WHERE lower(surname || ' ' || given_name) LIKE $1
            OR lower(given_name || ' ' || surname) LIKE $1
            OR coalesce(register_number, '') = $2 OR codice_fiscale = upper($2)
         ORDER BY lower(surname), lower(given_name) LIMIT $3"
    ))
    .bind(pattern)
    .bind(query.trim())
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}
