//! Applications after submission (pratiche): what the reserved areas list and open, and the one
//! path by which their state changes.
//!
//! [`advance`] is that path: inside the caller's transaction it moves the row from the state
//! and version the user saw to the new state (zero rows: somebody else changed it first, and
//! nothing is written), records the event, the audit entry and the e-mails to send. The caller
//! has already asked `domain::application::transition` whether the move is allowed.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};
use sqlx::types::Json;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::{
        access::{Grant, Role, Scope, ViewApplications},
        application::{Stage, form::Form, workflow::EventKind},
        assignment::{Councillor, Parties},
        deadline::{Clock, Suspension},
        protocol::ProtocolNumber,
        search, time,
    },
    store::{audit, events, outbox},
};

/// Whose eyes: a grant to view applications and, for a lawyer, their register entry.
pub struct Viewer<'a> {
    pub grant: &'a Grant<ViewApplications>,
    pub lawyer_id: Option<Uuid>,
}

impl Viewer<'_> {
    /// The SQL condition (on `a`) that limits rows to what this viewer may see; `$1` is the
    /// user id and `$2` the lawyer id.
    fn filter(&self) -> &'static str {
        match (self.grant.scope, self.grant.role) {
            (Scope::Ordine, _) => "TRUE",
            // The rapporteur, and the councillor who signs its delibera.
            (Scope::Own, Role::Consigliere) => {
                "(a.rapporteur_id = $1 OR EXISTS (SELECT 1 FROM decisions d
                   WHERE d.application_id = a.id AND d.signer_id = $1 AND d.superseded_at IS NULL))"
            }
            (Scope::Own, Role::Avvocato) => "(a.lawyer_id = $2 OR a.filed_by_user = $1)",
            (Scope::Own, _) => "FALSE",
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Case {
    pub id: Uuid,
    pub code: String,
    pub state: String,
    pub channel: String,
    pub version: i32,
    pub form: Json<Form>,
    pub submitted_at: Option<DateTime<Utc>>,
    pub matter: Option<String>,
    pub filed_by: Option<String>,
    pub applicant_name: Option<String>,
    pub applicant_cf: Option<String>,
    pub counterparty_name: Option<String>,
    pub rg_number: Option<String>,
    pub judicial_office_id: Option<Uuid>,
    pub office_name: Option<String>,
    pub lawyer_id: Option<Uuid>,
    pub lawyer_name: Option<String>,
    pub lawyer_cf: Option<String>,
    pub applicant_email: Option<String>,
    pub income_total_cents: Option<i64>,
    pub threshold_cents: Option<i64>,
    pub protocol_entry_id: Option<Uuid>,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i32>,
    pub protocol_at: Option<DateTime<Utc>>,
    pub urgent: bool,
    pub urgent_reason: Option<String>,
    pub next_hearing: Option<NaiveDate>,
    pub rapporteur_id: Option<Uuid>,
    pub rapporteur_name: Option<String>,
    pub assigned_at: Option<DateTime<Utc>>,
    pub council_session_id: Option<Uuid>,
    pub filed_by_user: Option<Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// The kind of the latest event (lists flag an answered integration).
    pub last_event: Option<String>,
    /// The delibera's number (`12/2026`) once adopted.
    pub delibera: Option<String>,
    /// Days the ten days stood still for integration requests, and whether they stand now.
    pub suspended_days: i32,
    pub suspended_now: bool,
}

impl Case {
    pub fn stage(&self) -> Stage {
        Stage::from_code(&self.state).unwrap_or(Stage::Presentata)
    }

    pub fn protocol(&self) -> Option<ProtocolNumber> {
        Some(ProtocolNumber {
            year: self.protocol_year?,
            number: self.protocol_number?,
        })
    }

    /// The ten-day clock from the filing, while the Council has yet to decide.
    pub fn clock(&self, today: NaiveDate) -> Option<Clock> {
        let filed = self.submitted_at?;
        let suspension = Suspension {
            days: self.suspended_days.max(0) as u32,
            now: self.suspended_now,
        };
        self.stage()
            .is_open()
            .then(|| Clock::decision(time::rome_date(filed), suspension, today))
    }

    pub fn filed_by_applicant(&self) -> bool {
        self.filed_by.as_deref() == Some("richiedente")
    }

    pub fn parties(&self) -> Parties {
        let cf = self.form.case.counterparty_cf.trim();
        Parties {
            lawyer_id: self.lawyer_id,
            lawyer_cf: self.lawyer_cf.clone(),
            applicant_cf: self.applicant_cf.clone(),
            counterparty_cf: (!cf.is_empty()).then(|| cf.to_owned()),
        }
    }
}

/// The days the ten-day clock has stood still since the request still waiting was made (up to
/// today, in Rome), as SQL on `a`; 0 when none waits. The days of the requests answered are
/// `a.clock_stopped_days`: the triggers of `migrations/20261205000001_board_by_index.sql` keep
/// both on the row.
macro_rules! days_stopped_now {
    () => {
        "coalesce(greatest(0, (now() AT TIME ZONE 'Europe/Rome')::date - a.clock_stopped_since), 0)"
    };
}
/// Every day the ten-day clock stood still, as SQL on `a`.
pub const SUSPENDED_DAYS: &str = concat!("(a.clock_stopped_days + ", days_stopped_now!(), ")");
/// The deadline's sort key: the stored one, moved on by the days of a request still waiting.
macro_rules! deadline_key {
    () => {
        concat!("(a.deadline_key + ", days_stopped_now!(), " * 86400)")
    };
}

const SELECT: &str = concat!(
    r#"SELECT a.id, a.code, a.state, a.channel, a.version, a.form, a.submitted_at,
        a.matter, a.filed_by, a.applicant_name, a.applicant_cf, a.counterparty_name, a.rg_number,
        a.judicial_office_id, o.name AS office_name, a.lawyer_id,
        l.surname || ' ' || l.given_name AS lawyer_name, l.codice_fiscale AS lawyer_cf,
        a.applicant_email, a.income_total_cents, a.threshold_cents, a.protocol_entry_id,
        a.protocol_year, a.protocol_number, a.protocol_at, a.urgent, a.urgent_reason,
        a.next_hearing, a.rapporteur_id, r.full_name AS rapporteur_name, a.assigned_at,
        a.council_session_id, a.filed_by_user, a.decided_at, a.updated_at,
        (SELECT e.kind FROM events e WHERE e.application_id = a.id ORDER BY e.id DESC LIMIT 1)
            AS last_event,
        (SELECT d.number || '/' || d.year FROM decisions d
          WHERE d.application_id = a.id AND d.superseded_at IS NULL AND d.number IS NOT NULL)
            AS delibera,
        (a.clock_stopped_days + "#,
    days_stopped_now!(),
    r#") AS suspended_days, a.clock_stopped_since IS NOT NULL AS suspended_now
    FROM applications a
    LEFT JOIN judicial_offices o ON o.id = a.judicial_office_id
    LEFT JOIN lawyers l ON l.id = a.lawyer_id
    LEFT JOIN users r ON r.id = a.rapporteur_id"#
);

/// One submitted application, if the viewer may see it.
pub async fn get(tx: &mut TenantTx, viewer: &Viewer<'_>, id: Uuid) -> anyhow::Result<Option<Case>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE a.id = $3 AND a.state <> 'bozza' AND {}",
        viewer.filter()
    ))
    .bind(viewer.grant.user)
    .bind(viewer.lawyer_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// The same, with the row locked until the transaction ends (before a change).
pub async fn lock(
    tx: &mut TenantTx,
    viewer: &Viewer<'_>,
    id: Uuid,
) -> anyhow::Result<Option<Case>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE a.id = $3 AND a.state <> 'bozza' AND {} FOR UPDATE OF a",
        viewer.filter()
    ))
    .bind(viewer.grant.user)
    .bind(viewer.lawyer_id)
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// The applicant's own application, locked, for the answers they give with code and PIN:
/// the caller has checked this device's access (`web::public::open`).
pub async fn lock_for_applicant(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<Case>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE a.id = $1 AND a.state <> 'bozza' FOR UPDATE OF a"
    ))
    .bind(id)
    .fetch_optional(tx.conn())
    .await?)
}

/// Which list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// Submitted, waiting to be registered.
    Intake,
    /// Registered and not decided yet.
    Open,
    /// Decided, withdrawn or revoked.
    Closed,
    /// Everything the viewer may see.
    All,
    /// One state.
    Only(Stage),
}

impl Queue {
    fn filter(self) -> String {
        match self {
            // The code comes from the enum, never from input.
            Queue::Only(stage) => format!("a.state = '{}'", stage.code()),
            Queue::Intake => "a.state = 'presentata'".into(),
            Queue::Open => "a.state IN ('protocollata', 'in_istruttoria', 'integrazione_richiesta',
                 'proposta_ammissione', 'proposta_rigetto', 'proposta_inammissibile',
                 'iscritta_adunanza')"
                .into(),
            Queue::Closed => {
                "a.state IN ('ammessa', 'respinta', 'inammissibile', 'rinunciata', 'revocata')"
                    .into()
            }
            Queue::All => "TRUE".into(),
        }
    }
}

/// How a list is sorted. Urgent applications always come first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// The ten-day clock: the first to run out first.
    Deadline,
    /// The latest filed first.
    Newest,
    /// The earliest filed first.
    Oldest,
    /// By protocol number (year, then number); not yet registered last.
    Protocol,
}

impl Sort {
    pub const ALL: [Sort; 4] = [Sort::Deadline, Sort::Newest, Sort::Oldest, Sort::Protocol];

    pub fn from_param(p: Option<&str>) -> Self {
        match p {
            Some("recenti") => Sort::Newest,
            Some("meno_recenti") => Sort::Oldest,
            Some("protocollo") => Sort::Protocol,
            _ => Sort::Deadline,
        }
    }

    pub fn param(self) -> &'static str {
        match self {
            Sort::Deadline => "scadenza",
            Sort::Newest => "recenti",
            Sort::Oldest => "meno_recenti",
            Sort::Protocol => "protocollo",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Deadline => "per scadenza",
            Sort::Newest => "più recenti",
            Sort::Oldest => "meno recenti",
            Sort::Protocol => "per numero di protocollo",
        }
    }

    /// One ascending numeric key per row (with the urgency before it and the id after it, the
    /// order of a keyset page): exact (`numeric`), so that a cursor never skips nor repeats.
    fn key(self) -> &'static str {
        match self {
            Sort::Deadline => deadline_key!(),
            Sort::Newest => "(-coalesce(extract(epoch FROM a.submitted_at), 0))",
            Sort::Oldest => "coalesce(extract(epoch FROM a.submitted_at), 0)",
            Sort::Protocol => {
                "coalesce(a.protocol_year::numeric * 10000000 + a.protocol_number, 1e12)"
            }
        }
    }

    fn order(self) -> &'static str {
        match self {
            Sort::Deadline => concat!("a.urgent DESC, ", deadline_key!()),
            Sort::Newest => "a.urgent DESC, a.submitted_at DESC",
            Sort::Oldest => "a.urgent DESC, a.submitted_at ASC",
            Sort::Protocol => "a.urgent DESC, a.protocol_year, a.protocol_number",
        }
    }
}

/// Which date a range applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateField {
    Filed,
    Registered,
    Decided,
}

impl DateField {
    fn column(self) -> &'static str {
        match self {
            DateField::Filed => "a.submitted_at",
            DateField::Registered => "a.protocol_at",
            DateField::Decided => "a.decided_at",
        }
    }
}

/// What a list is narrowed to; every part is optional (all of them apply together).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// The state codes (from [`Stage::code`], never from input); `None`: every state.
    pub states: Option<Vec<&'static str>>,
    pub rapporteur: Option<Uuid>,
    /// A matter code (checked against the list of matters).
    pub matter: Option<&'static str>,
    /// A channel code (checked against the channels).
    pub channel: Option<&'static str>,
    pub urgent: Option<bool>,
    pub dates: Option<DateRange>,
}

/// A date and its range: from (inclusive) to until (exclusive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateRange {
    pub field: DateField,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Where a page ends: the next page starts after this row (keyset paging, no OFFSET).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    pub urgent: bool,
    /// The row's sort key, as PostgreSQL wrote it (digits, a sign, a point).
    pub key: String,
    pub id: Uuid,
}

impl Cursor {
    /// `1~1764547200.123456~<uuid>` as it travels in the URL.
    pub fn param(&self) -> String {
        format!("{}~{}~{}", u8::from(self.urgent), self.key, self.id)
    }

    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split('~');
        let urgent = match parts.next()? {
            "1" => true,
            "0" => false,
            _ => return None,
        };
        let key = parts.next()?;
        let id = Uuid::parse_str(parts.next()?).ok()?;
        let numeric = !key.is_empty()
            && key.len() <= 40
            && key
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            && key.parse::<f64>().is_ok();
        (numeric && parts.next().is_none()).then(|| Cursor {
            urgent,
            key: key.to_owned(),
            id,
        })
    }
}

/// One page of a list and where the next one starts.
pub struct Page {
    pub rows: Vec<Case>,
    pub next: Option<Cursor>,
}

fn filtered(viewer: &Viewer<'_>, f: &Filter) -> String {
    let date = match f.dates {
        Some(DateRange { field, .. }) => format!(
            "($8::timestamptz IS NULL OR {c} >= $8) AND ($9::timestamptz IS NULL OR {c} < $9)",
            c = field.column()
        ),
        None => "TRUE".into(),
    };
    format!(
        "a.state <> 'bozza' AND {} AND ($3::text[] IS NULL OR a.state = ANY($3))
         AND ($4::uuid IS NULL OR a.rapporteur_id = $4) AND ($5::text IS NULL OR a.matter = $5)
         AND ($6::text IS NULL OR a.channel = $6) AND ($7::bool IS NULL OR a.urgent = $7)
         AND {date}",
        viewer.filter()
    )
}

fn bind_filter<'q, O>(
    q: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    viewer: &Viewer<'_>,
    f: &'q Filter,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    let (from, until) = f.dates.map_or((None, None), |d| (d.from, d.until));
    q.bind(viewer.grant.user)
        .bind(viewer.lawyer_id)
        .bind(f.states.as_ref())
        .bind(f.rapporteur)
        .bind(f.matter)
        .bind(f.channel)
        .bind(f.urgent)
        .bind(from)
        .bind(until)
}

/// How many applications the viewer may see match the filter.
pub async fn count(tx: &mut TenantTx, viewer: &Viewer<'_>, f: &Filter) -> anyhow::Result<i64> {
    let sql = format!(
        "SELECT count(*) FROM applications a WHERE {}",
        filtered(viewer, f)
    );
    let (n,): (i64,) = bind_filter(sqlx::query_as(&sql), viewer, f)
        .fetch_one(tx.conn())
        .await?;
    Ok(n)
}

/// A page of the applications the viewer may see that match the filter, in `sort` order
/// (urgent first), starting after `after`: a row inserted or changed between two page loads
/// never makes another row repeat or vanish.
pub async fn page(
    tx: &mut TenantTx,
    viewer: &Viewer<'_>,
    f: &Filter,
    sort: Sort,
    after: Option<&Cursor>,
    size: i64,
) -> anyhow::Result<Page> {
    #[derive(sqlx::FromRow)]
    struct Keyed {
        sort_key: String,
        #[sqlx(flatten)]
        case: Case,
    }
    let key = sort.key();
    let filter = filtered(viewer, f);
    let after_key = |key: &str| {
        format!(
            "($12::uuid IS NULL
              OR (NOT a.urgent, {key}, a.id) > (NOT $10::bool, $11::numeric, $12::uuid))"
        )
    };
    // The page's ids first, then the full rows of those ids alone: the names, the latest event
    // and the delibera are read for the fifty rows shown, not for every row that matches. By
    // deadline, the rows whose clock runs come in index order (`applications_deadline`) and the
    // few whose clock stands still now (their deadline moves with today) are read apart.
    let ids = if sort == Sort::Deadline {
        format!(
            "(SELECT a.id, NOT a.urgent AS later, a.deadline_key AS k FROM applications a
               WHERE {filter} AND a.clock_stopped_since IS NULL AND {}
               ORDER BY NOT a.urgent, a.deadline_key, a.id LIMIT $13)
             UNION ALL
             (SELECT a.id, NOT a.urgent, {key} FROM applications a
               WHERE {filter} AND a.clock_stopped_since IS NOT NULL AND {})",
            after_key("a.deadline_key"),
            after_key(key),
        )
    } else {
        format!(
            "SELECT a.id, NOT a.urgent AS later, {key} AS k FROM applications a
              WHERE {filter} AND {}",
            after_key(key)
        )
    };
    let sql = format!(
        "WITH page AS (SELECT id, later, k FROM ({ids}) ids ORDER BY later, k, id LIMIT $13)
         {} JOIN page ON page.id = a.id ORDER BY page.later, page.k, a.id",
        SELECT.replacen("SELECT ", "SELECT page.k::text AS sort_key, ", 1)
    );
    let mut rows: Vec<Keyed> = bind_filter(sqlx::query_as(&sql), viewer, f)
        .bind(after.map(|c| c.urgent))
        .bind(after.map(|c| c.key.as_str()))
        .bind(after.map(|c| c.id))
        .bind(size + 1)
        .fetch_all(tx.conn())
        .await?;
    let more = rows.len() as i64 > size;
    rows.truncate(size.max(0) as usize);
    let next = more.then(|| rows.last()).flatten().map(|r| Cursor {
        urgent: r.case.urgent,
        key: r.sort_key.clone(),
        id: r.case.id,
    });
    Ok(Page {
        rows: rows.into_iter().map(|r| r.case).collect(),
        next,
    })
}

/// One row of an export: the list's columns only (never the form, which may weigh up to
/// 1 MiB), so that tens of thousands of rows stream through a few kilobytes of memory.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ExportRow {
    pub code: String,
    pub state: String,
    pub channel: String,
    pub submitted_at: Option<DateTime<Utc>>,
    pub matter: Option<String>,
    pub applicant_name: Option<String>,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i32>,
    pub protocol_at: Option<DateTime<Utc>>,
    pub urgent: bool,
    pub rapporteur_name: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub delibera: Option<String>,
    pub suspended_days: i32,
    pub suspended_now: bool,
}

impl ExportRow {
    pub fn stage(&self) -> Stage {
        Stage::from_code(&self.state).unwrap_or(Stage::Presentata)
    }

    pub fn protocol(&self) -> Option<ProtocolNumber> {
        Some(ProtocolNumber {
            year: self.protocol_year?,
            number: self.protocol_number?,
        })
    }

    /// The ten-day clock, as [`Case::clock`] computes it.
    pub fn clock(&self, today: NaiveDate) -> Option<Clock> {
        let filed = self.submitted_at?;
        let suspension = Suspension {
            days: self.suspended_days.max(0) as u32,
            now: self.suspended_now,
        };
        self.stage()
            .is_open()
            .then(|| Clock::decision(time::rome_date(filed), suspension, today))
    }
}

/// The SQL of an export: every row the viewer may see that matches the filter, in the list's
/// order (as [`page`] sorts), at most `$10` rows, the list's columns only. Run it with
/// [`export_query`], as a stream (`fetch`) inside a [`crate::db::Db::tenant_snapshot`].
pub fn export_sql(viewer: &Viewer<'_>, f: &Filter, sort: Sort) -> String {
    format!(
        "SELECT a.code, a.state, a.channel, a.submitted_at, a.matter, a.applicant_name,
                a.protocol_year, a.protocol_number, a.protocol_at, a.urgent,
                r.full_name AS rapporteur_name, a.decided_at,
                (SELECT d.number || '/' || d.year FROM decisions d
                  WHERE d.application_id = a.id AND d.superseded_at IS NULL
                    AND d.number IS NOT NULL) AS delibera,
                {SUSPENDED_DAYS} AS suspended_days,
                a.clock_stopped_since IS NOT NULL AS suspended_now
         FROM applications a
         LEFT JOIN users r ON r.id = a.rapporteur_id
         WHERE {}
         ORDER BY NOT a.urgent, {}, a.id LIMIT $10",
        filtered(viewer, f),
        sort.key()
    )
}

/// The query of [`export_sql`] with its parameters bound; at most `limit` rows.
pub fn export_query<'q>(
    sql: &'q str,
    viewer: &Viewer<'_>,
    f: &'q Filter,
    limit: i64,
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, ExportRow, sqlx::postgres::PgArguments> {
    bind_filter(sqlx::query_as(sql), viewer, f).bind(limit)
}

pub async fn list(
    tx: &mut TenantTx,
    viewer: &Viewer<'_>,
    queue: Queue,
    sort: Sort,
    limit: i64,
) -> anyhow::Result<Vec<Case>> {
    Ok(sqlx::query_as(&format!(
        "{SELECT} WHERE a.state <> 'bozza' AND {} AND {} ORDER BY {} LIMIT $3",
        viewer.filter(),
        queue.filter(),
        sort.order()
    ))
    .bind(viewer.grant.user)
    .bind(viewer.lawyer_id)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// The applications the viewer may see that match a search, best first: exact keys (code,
/// codice fiscale, protocol number) directly; words of names each match a word of the
/// application that starts with it, or differs from it by one letter (words of four letters or
/// more), accents and case ignored. Prefix matches rank before near ones, then the newest.
/// Every key is read by a B-tree index (`search_keys`, kept by a trigger): under row-level
/// security only leakproof comparisons such as text equality can use one. The ids found are
/// handed over as one array, so that the applications are read by their primary key.
pub async fn search(
    tx: &mut TenantTx,
    viewer: &Viewer<'_>,
    query: &search::Query,
    limit: i64,
) -> anyhow::Result<Vec<Case>> {
    let (matches, rank) = match query {
        search::Query::Code(_) => ("a.code = $3", "a.submitted_at DESC"),
        search::Query::CodiceFiscale(_) => (
            "a.id = ANY(ARRAY(SELECT k.application_id FROM search_keys k
                              WHERE k.kind = 'cf' AND k.key = $3))",
            "a.submitted_at DESC",
        ),
        search::Query::Protocol { .. } => (
            "a.protocol_number = $3::int AND ($4::int IS NULL OR a.protocol_year = $4::int)",
            "a.protocol_year DESC",
        ),
        search::Query::Words(_) => (
            "a.id = ANY(ARRAY(SELECT application_id FROM found))",
            "(SELECT count(*) FROM unnest(q.words) w
               WHERE EXISTS (SELECT 1 FROM unnest(a.search_words) x WHERE x LIKE w || '%')) DESC",
        ),
    };
    let (key, year): (String, Option<i32>) = match query {
        search::Query::Code(c) => (c.as_str().to_owned(), None),
        search::Query::CodiceFiscale(cf) => (cf.clone(), None),
        search::Query::Protocol { year, number } => (number.to_string(), *year),
        search::Query::Words(w) => (w.clone(), None),
    };
    Ok(sqlx::query_as(&format!(
        "WITH q AS (SELECT ARRAY(SELECT w FROM regexp_split_to_table(app.fold($3), '[^[:alnum:]]+') w
                                  WHERE w <> '') AS words),
         -- Each word of the query matches words of the Ordine's lexicon; an application is
         -- found when, for every word of the query, one of its keys is one of those.
         found AS (
             SELECT k.application_id
               FROM q, unnest(q.words) WITH ORDINALITY w (w, i)
               JOIN search_lexicon l ON l.word LIKE w.w || '%'
                    OR (length(w.w) >= 4 AND length(l.word) BETWEEN length(w.w) - 1 AND length(w.w) + 1
                        AND ext.levenshtein_less_equal(l.word, w.w, 1) <= 1)
               JOIN search_keys k ON k.kind = 'n' AND k.key = l.word
              GROUP BY k.application_id
             HAVING count(DISTINCT w.i) = (SELECT cardinality(words) FROM q))
         {SELECT}, q
         WHERE a.state <> 'bozza' AND {} AND {matches}
         ORDER BY {rank}, a.submitted_at DESC LIMIT $5",
        viewer.filter(),
    ))
    .bind(viewer.grant.user)
    .bind(viewer.lawyer_id)
    .bind(key)
    .bind(year)
    .bind(limit)
    .fetch_all(tx.conn())
    .await?)
}

/// Another application of the same applicant for the same proceeding (V36).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Duplicate {
    pub id: Uuid,
    pub code: String,
    pub state: String,
    pub protocol_year: Option<i32>,
    pub protocol_number: Option<i32>,
}

impl Duplicate {
    pub fn stage(&self) -> Stage {
        Stage::from_code(&self.state).unwrap_or(Stage::Presentata)
    }

    pub fn protocol(&self) -> Option<ProtocolNumber> {
        Some(ProtocolNumber {
            year: self.protocol_year?,
            number: self.protocol_number?,
        })
    }
}

/// Submitted applications with the same applicant codice fiscale and the same counterparty or
/// R.G. number.
pub async fn duplicates(
    tx: &mut TenantTx,
    id: Uuid,
    applicant_cf: Option<&str>,
    counterparty: Option<&str>,
    rg: Option<&str>,
) -> anyhow::Result<Vec<Duplicate>> {
    let Some(cf) = applicant_cf else {
        return Ok(Vec::new());
    };
    Ok(sqlx::query_as(
        "SELECT id, code, state, protocol_year, protocol_number FROM applications
         WHERE id <> $1 AND applicant_cf = $2 AND state <> 'bozza'
           AND ((coalesce($3, '') <> '' AND lower(counterparty_name) = lower($3))
                OR (coalesce($4, '') <> '' AND rg_number = $4))
         ORDER BY submitted_at",
    )
    .bind(id)
    .bind(cf)
    .bind(counterparty.map(str::trim))
    .bind(rg.map(str::trim))
    .fetch_all(tx.conn())
    .await?)
}

/// Who gets an e-mail about a change.
#[derive(Clone, Copy, Debug)]
pub enum Notify {
    Nobody,
    /// The chosen lawyer and the applicant.
    Parties,
    /// One account (the councillor given the case).
    User(Uuid),
    Both(Uuid),
    /// The rapporteur, if any, and the secretariat.
    Staff(Option<Uuid>),
}

/// One change of an application.
pub struct Change<'a> {
    pub case: &'a Case,
    /// The version the user saw when they asked for the change.
    pub seen_version: i32,
    pub to: Stage,
    pub kind: EventKind,
    pub actor: &'a audit::Actor,
    /// Shown in the history and kept in the audit entry: codes, numbers, staff's text.
    pub details: Value,
    pub notify: Notify,
}

/// Somebody else changed the application after the user loaded it.
#[derive(Debug)]
pub struct Stale {
    pub latest: Option<events::Event>,
}

/// The outcome of [`advance`]: the event id and the new version, or [`Stale`].
pub struct Advanced {
    pub event_id: i64,
    pub version: i32,
}

/// Moves the application and records the change (event, audit, outbox) in `tx`.
pub async fn advance(tx: &mut TenantTx, c: Change<'_>) -> anyhow::Result<Result<Advanced, Stale>> {
    let from = c.case.stage();
    let version: Option<i32> = sqlx::query_scalar(
        "UPDATE applications SET state = $3, version = version + 1, updated_at = now(),
             decided_at = CASE WHEN $3 IN ('ammessa', 'respinta', 'inammissibile')
                               THEN now() ELSE decided_at END
         WHERE id = $1 AND version = $2 AND state = $4 RETURNING version",
    )
    .bind(c.case.id)
    .bind(c.seen_version)
    .bind(c.to.code())
    .bind(from.code())
    .fetch_optional(tx.conn())
    .await?;
    let Some(version) = version else {
        let latest = events::latest_change(tx, c.case.id).await?;
        return Ok(Err(Stale { latest }));
    };
    let event_id = events::insert(
        tx,
        events::NewEvent {
            application: c.case.id,
            kind: c.kind,
            from: Some(from),
            to: Some(c.to),
            actor: c.actor,
            details: c.details.clone(),
            // A rapporteur taken off the case hears of it too.
            also: c.case.rapporteur_id,
        },
    )
    .await?;
    // The e-mails say what the history says (a deadline, a delibera number, a note).
    let payload = json!({
        "codice": c.case.code,
        "evento": c.kind.code(),
        "stato": c.to.code(),
        "protocollo": c.case.protocol().map(|p| p.to_string()),
        "dettagli": c.details,
    });
    let mut details = c.details;
    if let Value::Object(map) = &mut details {
        map.insert("codice".into(), json!(c.case.code));
        map.insert("da".into(), json!(from.code()));
        map.insert("a".into(), json!(c.to.code()));
    }
    audit::record(
        tx,
        audit::Entry {
            actor: c.actor,
            action: &format!("pratica.{}", c.kind.code()),
            target_kind: Some("istanza"),
            target_id: Some(c.case.id.to_string()),
            outcome: "ok",
            details,
        },
    )
    .await?;
    let template = c.kind.code();
    match c.notify {
        Notify::Nobody => {}
        Notify::Parties => {
            outbox::to_parties(tx, Some(event_id), c.case.id, template, &payload).await?;
        }
        Notify::User(u) => {
            outbox::to_user(tx, Some(event_id), c.case.id, u, template, &payload).await?;
        }
        Notify::Both(u) => {
            outbox::to_parties(tx, Some(event_id), c.case.id, template, &payload).await?;
            outbox::to_user(tx, Some(event_id), c.case.id, u, template, &payload).await?;
        }
        Notify::Staff(rapporteur) => {
            if let Some(u) = rapporteur {
                outbox::to_user(tx, Some(event_id), c.case.id, u, template, &payload).await?;
            }
            outbox::to_secretariat(tx, Some(event_id), c.case.id, template, &payload).await?;
        }
    }
    Ok(Ok(Advanced { event_id, version }))
}

/// Records the protocol registration on the application (same transaction as [`advance`]).
pub async fn set_protocol(
    tx: &mut TenantTx,
    id: Uuid,
    entry: Uuid,
    number: ProtocolNumber,
    at: DateTime<Utc>,
    urgent: Option<&str>,
) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE applications SET protocol_entry_id = $2, protocol_year = $3, protocol_number = $4,
             protocol_at = $5, urgent = $6 IS NOT NULL, urgent_reason = $6
         WHERE id = $1",
    )
    .bind(id)
    .bind(entry)
    .bind(number.year)
    .bind(number.number)
    .bind(at)
    .bind(urgent)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Undoes the registration after the protocol entry is cancelled: the application goes back
/// to the intake list.
pub async fn clear_protocol(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE applications SET protocol_entry_id = NULL, protocol_year = NULL,
             protocol_number = NULL, protocol_at = NULL, rapporteur_id = NULL, assigned_at = NULL
         WHERE id = $1",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn set_rapporteur(tx: &mut TenantTx, id: Uuid, rapporteur: Uuid) -> anyhow::Result<()> {
    sqlx::query("UPDATE applications SET rapporteur_id = $2, assigned_at = now() WHERE id = $1")
        .bind(id)
        .bind(rapporteur)
        .execute(tx.conn())
        .await?;
    Ok(())
}

pub async fn set_urgent(tx: &mut TenantTx, id: Uuid, reason: Option<&str>) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE applications SET urgent = $2 IS NOT NULL, urgent_reason = $2 WHERE id = $1",
    )
    .bind(id)
    .bind(reason)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The Ordine's active councillors with their open workload.
pub async fn councillors(tx: &mut TenantTx) -> anyhow::Result<Vec<Councillor>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: Uuid,
        full_name: String,
        codice_fiscale: Option<String>,
        lawyer_id: Option<Uuid>,
        open_cases: i64,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT u.id, u.full_name, u.codice_fiscale, u.lawyer_id,
                (SELECT count(*) FROM applications a WHERE a.rapporteur_id = u.id
                   AND a.state IN ('in_istruttoria', 'integrazione_richiesta', 'proposta_ammissione',
                                   'proposta_rigetto', 'proposta_inammissibile', 'iscritta_adunanza')
                ) AS open_cases
         FROM users u JOIN user_roles r ON r.user_id = u.id AND r.role = 'consigliere'
         WHERE u.status = 'attivo' ORDER BY u.full_name",
    )
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Councillor {
            id: r.id,
            name: r.full_name,
            codice_fiscale: r.codice_fiscale,
            lawyer_id: r.lawyer_id,
            open_cases: r.open_cases,
        })
        .collect())
}

/// Sets the judicial office of an application (the secretariat names it when the copy of an
/// admission must reach the judge and the application did not say which office).
pub async fn set_office(tx: &mut TenantTx, id: Uuid, office: Uuid) -> anyhow::Result<()> {
    sqlx::query("UPDATE applications SET judicial_office_id = $2 WHERE id = $1")
        .bind(id)
        .bind(office)
        .execute(tx.conn())
        .await?;
    Ok(())
}
