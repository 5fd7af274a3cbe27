//! The trust store: the trusted lists in force and their services (platform-wide, no tenant).
//!
//! Everyone reads it (the service role has SELECT); only `patrocinio_owner` writes it, so
//! [`import`] is called on an administrator's connection (the command line, the demo's seeding,
//! the tests), never by the web service.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, types::Json};
use uuid::Uuid;

use crate::db::provision::OWNER_ROLE;
use crate::documents::crl_fetch;
use crate::documents::signature::{
    SignatureReport,
    qualified::{self, Anchor, Assessment, LookupKeys},
    revocation::RevocationStatus,
    trusted_list::{self, ListError, StatusPeriod, TrustedList},
    xmldsig,
};

/// What an import needs besides the file.
pub struct ImportOptions<'a> {
    /// DER of the certificates that may sign the LOTL (PATROCINIO_LOTL_CERTS).
    pub lotl_certificates: &'a [Vec<u8>],
    /// File name or URL, kept with the list.
    pub source: &'a str,
    pub now: DateTime<Utc>,
}

/// What an import did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub territory: String,
    pub is_lotl: bool,
    pub sequence_number: i64,
    /// The sequence number of the list it replaced.
    pub replaced: Option<i64>,
    pub services: usize,
    pub pointers: usize,
}

/// Verifies `xml` (signature against the expected certificates, expiry, sequence) and, if it
/// passes, makes it the list in force for its territory, in one transaction. A refused list
/// changes nothing: `Ok(Err(why))`.
pub async fn import(
    conn: &mut PgConnection,
    xml: &[u8],
    options: ImportOptions<'_>,
) -> anyhow::Result<Result<Imported, ListError>> {
    let list = match trusted_list::parse(xml) {
        Ok(list) => list,
        Err(e) => return Ok(Err(e)),
    };
    let expected: Vec<Vec<u8>> = if list.is_lotl() {
        if options.lotl_certificates.is_empty() {
            return Ok(Err(ListError::NoPinnedCertificates));
        }
        options.lotl_certificates.to_vec()
    } else {
        let lotl: Option<i64> =
            sqlx::query_scalar("SELECT count(*) FROM app.trusted_lists WHERE is_lotl")
                .fetch_optional(&mut *conn)
                .await?
                .filter(|n: &i64| *n > 0);
        if lotl.is_none() {
            return Ok(Err(ListError::NoLotl(list.territory.clone())));
        }
        let sets: Vec<Vec<Vec<u8>>> = sqlx::query_scalar(
            "SELECT p.certificates FROM app.trusted_list_pointers p
               JOIN app.trusted_lists l ON l.id = p.list_id AND l.is_lotl
              WHERE p.territory = $1",
        )
        .bind(&list.territory)
        .fetch_all(&mut *conn)
        .await?;
        if sets.is_empty() {
            return Ok(Err(ListError::NotPointed(list.territory.clone())));
        }
        sets.into_iter().flatten().collect()
    };
    let owned = xml.to_vec();
    let signer =
        match tokio::task::spawn_blocking(move || xmldsig::verify(&owned, &expected)).await? {
            Ok(signer) => signer,
            Err(e) => return Ok(Err(e)),
        };
    let current: Option<i64> = sqlx::query_scalar(
        "SELECT sequence_number FROM app.trusted_lists WHERE territory = $1 AND is_lotl = $2",
    )
    .bind(&list.territory)
    .bind(list.is_lotl())
    .fetch_optional(&mut *conn)
    .await?;
    if let Err(e) = trusted_list::accept(&list, current, options.now) {
        return Ok(Err(e));
    }
    let mut tx = conn.begin().await?;
    sqlx::query(&format!("SET LOCAL ROLE {OWNER_ROLE}"))
        .execute(&mut *tx)
        .await?;
    store(&mut tx, &list, xml, &signer, options.source).await?;
    tx.commit().await?;
    Ok(Ok(Imported {
        territory: list.territory.clone(),
        is_lotl: list.is_lotl(),
        sequence_number: list.sequence_number,
        replaced: current,
        services: list.services.len(),
        pointers: list.pointers.len(),
    }))
}

async fn store(
    conn: &mut PgConnection,
    list: &TrustedList,
    xml: &[u8],
    signer: &[u8],
    source: &str,
) -> anyhow::Result<()> {
    sqlx::query("DELETE FROM app.trusted_lists WHERE territory = $1 AND is_lotl = $2")
        .bind(&list.territory)
        .bind(list.is_lotl())
        .execute(&mut *conn)
        .await?;
    let list_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO app.trusted_lists (id, territory, is_lotl, tsl_type, sequence_number,
             issued_at, next_update, source, sha256, signer_sha256, xml)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(list_id)
    .bind(&list.territory)
    .bind(list.is_lotl())
    .bind(&list.tsl_type)
    .bind(list.sequence_number)
    .bind(list.issued_at)
    .bind(list.next_update)
    .bind(source)
    .bind(hex::encode(Sha256::digest(xml)))
    .bind(hex::encode(Sha256::digest(signer)))
    .bind(xml)
    .execute(&mut *conn)
    .await?;
    for p in &list.pointers {
        sqlx::query(
            "INSERT INTO app.trusted_list_pointers (list_id, territory, tsl_type, location, certificates)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(list_id)
        .bind(&p.territory)
        .bind(&p.tsl_type)
        .bind(&p.location)
        .bind(&p.certificates)
        .execute(&mut *conn)
        .await?;
    }
    for s in &list.services {
        let id = Uuid::new_v4();
        sqlx::query(
            "INSERT INTO app.trust_services (id, list_id, territory, provider, name)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(list_id)
        .bind(&list.territory)
        .bind(&s.provider)
        .bind(&s.name)
        .execute(&mut *conn)
        .await?;
        for c in &s.certificates {
            let Some((subject, ski)) = trusted_list::index_keys(c) else {
                continue;
            };
            sqlx::query(
                "INSERT INTO app.trust_service_certificates (service_id, certificate, subject_sha256, ski)
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(c)
            .bind(subject)
            .bind(ski)
            .execute(&mut *conn)
            .await?;
        }
        for p in &s.history {
            sqlx::query(
                "INSERT INTO app.trust_service_statuses
                     (service_id, starts_at, service_type, status, qualifiers, additional)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id)
            .bind(p.starts_at)
            .bind(&p.service_type)
            .bind(&p.status)
            .bind(Json(&p.qualifiers))
            .bind(&p.additional)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

/// The services whose certificates may have issued a certificate with these keys.
pub async fn anchors(conn: &mut PgConnection, keys: &LookupKeys) -> anyhow::Result<Vec<Anchor>> {
    if keys.subject_sha256.is_empty() && keys.ski.is_empty() {
        return Ok(Vec::new());
    }
    let rows: Vec<(Uuid, Vec<u8>, String, String, String)> = sqlx::query_as(
        "SELECT s.id, c.certificate, s.provider, s.name, s.territory
           FROM app.trust_service_certificates c
           JOIN app.trust_services s ON s.id = c.service_id
          WHERE c.subject_sha256 = ANY($1) OR c.ski = ANY($2)
          LIMIT 200",
    )
    .bind(&keys.subject_sha256)
    .bind(&keys.ski)
    .fetch_all(&mut *conn)
    .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    type StatusRow = (
        Uuid,
        DateTime<Utc>,
        String,
        String,
        Json<Vec<trusted_list::Qualifier>>,
        Vec<String>,
    );
    let statuses: Vec<StatusRow> = sqlx::query_as(
        "SELECT service_id, starts_at, service_type, status, qualifiers, additional
           FROM app.trust_service_statuses WHERE service_id = ANY($1) ORDER BY starts_at, id",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, certificate, provider, name, territory)| Anchor {
            label: format!("{provider} — {name} ({territory})"),
            certificate,
            history: statuses
                .iter()
                .filter(|s| s.0 == id)
                .map(|s| StatusPeriod {
                    starts_at: s.1,
                    service_type: s.2.clone(),
                    status: s.3.clone(),
                    qualifiers: s.4.0.clone(),
                    additional: s.5.clone(),
                })
                .collect(),
        })
        .collect())
}

/// Qualification of every signer of `report`, for a file received at `received_at`. When the
/// file's own revocation data leave a signer unchecked, the CRLs of its certificate's
/// distribution points are fetched (bounded, cached: `crate::documents::crl_fetch`).
pub async fn assess(
    conn: &mut PgConnection,
    report: &SignatureReport,
    received_at: DateTime<Utc>,
) -> anyhow::Result<Vec<Assessment>> {
    let keys = qualified::lookup_keys(report);
    let anchors = anchors(conn, &keys).await?;
    let first = qualified::assess_report(report, &anchors, received_at, &[]);
    if !first
        .iter()
        .any(|a| a.revocation == RevocationStatus::NotChecked)
    {
        return Ok(first);
    }
    let chained: Vec<bool> = first.iter().map(|a| a.service.is_some()).collect();
    let urls = crl_fetch::urls(report, &chained);
    if urls.is_empty() {
        return Ok(first);
    }
    let fetched = crl_fetch::fetch(&urls).await;
    if fetched.is_empty() {
        return Ok(first);
    }
    Ok(qualified::assess_report(
        report,
        &anchors,
        received_at,
        &fetched,
    ))
}

/// A list in force, for `patrocinio fiducia elenco`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListInForce {
    pub territory: String,
    pub is_lotl: bool,
    pub sequence_number: i64,
    pub issued_at: DateTime<Utc>,
    pub next_update: Option<DateTime<Utc>>,
    pub source: String,
    pub imported_at: DateTime<Utc>,
    pub services: i64,
    /// CA/QC services whose current status is granted.
    pub granted_ca_qc: i64,
}

pub async fn lists(conn: &mut PgConnection) -> anyhow::Result<Vec<ListInForce>> {
    Ok(sqlx::query_as(
        "SELECT l.territory, l.is_lotl, l.sequence_number, l.issued_at, l.next_update, l.source,
                l.imported_at,
                (SELECT count(*) FROM app.trust_services s WHERE s.list_id = l.id) AS services,
                (SELECT count(*) FROM app.trust_services s
                   WHERE s.list_id = l.id AND EXISTS (
                     SELECT 1 FROM app.trust_service_statuses st
                      WHERE st.service_id = s.id
                        AND st.starts_at = (SELECT max(starts_at) FROM app.trust_service_statuses x
                                             WHERE x.service_id = s.id)
                        AND st.service_type = $1
                        AND st.status = $2)) AS granted_ca_qc
           FROM app.trusted_lists l
          ORDER BY l.is_lotl DESC, l.territory",
    )
    .bind(trusted_list::CA_QC)
    .bind(format!("{}granted", trusted_list::STATUS_PREFIX))
    .fetch_all(conn)
    .await?)
}

/// The LOTL's pointers to national lists (for `--aggiorna`): territory and location.
pub async fn pointers(conn: &mut PgConnection) -> anyhow::Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT p.territory, p.location FROM app.trusted_list_pointers p
           JOIN app.trusted_lists l ON l.id = p.list_id AND l.is_lotl
          WHERE p.tsl_type <> $1 ORDER BY p.territory",
    )
    .bind(trusted_list::LOTL_TYPE)
    .fetch_all(conn)
    .await?)
}
