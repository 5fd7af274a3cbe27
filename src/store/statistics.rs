//! The President's statistics: a few set-based queries over one Ordine's applications (row-level
//! security scopes every one of them), each a single scan with the index it needs
//! (`migrations/20261203000031_presidenza.sql`). Counting only: the shaping (bands, percentiles,
//! the minimum cell size) is `domain::statistics`.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Europe::Rome;
use sqlx::Row;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::{
        access::{Grant, ViewStatistics},
        statistics::{
            APPLICANT_AGE_BANDS, HOUSEHOLD_BANDS, INCOME_BANDS, NATIONALITY_GROUPS, OPEN_AGE_BANDS,
            Period, count_in_bands,
        },
    },
};

/// The states of an application still waiting for a decision.
const OPEN: &str = "('presentata', 'protocollata', 'in_istruttoria', 'integrazione_richiesta',
    'proposta_ammissione', 'proposta_rigetto', 'proposta_inammissibile', 'iscritta_adunanza')";

/// The states of a decided application (a revoked admission was an admission).
const DECIDED: &str = "('ammessa', 'revocata', 'respinta', 'inammissibile')";

/// The outcome of a decided application, from its state.
const OUTCOME: &str = "CASE WHEN state IN ('ammessa', 'revocata') THEN 0
                            WHEN state = 'respinta' THEN 1 ELSE 2 END";

/// Outcomes in the order of the arrays below: admissions, rejections, inadmissible.
pub const OUTCOMES: [&str; 3] = ["Ammissioni", "Rigetti", "Inammissibilità"];

/// Midnight in Rome at the start of `d`, as an instant.
pub fn rome_midnight(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_local_timezone(Rome)
        .earliest()
        .expect("midnight exists in Rome")
        .with_timezone(&Utc)
}

#[derive(Clone, Debug, Default)]
pub struct Statistics {
    /// Per month of the period (`YYYY-MM`): applications filed, applications decided.
    pub monthly: Vec<(String, i64, i64)>,
    /// Per quarter (`year`, `quarter`): admissions, rejections, inadmissible.
    pub quarterly: Vec<((i32, u32), [i64; 3])>,
    /// Days from filing to decision, the integration pauses taken out: (days, applications).
    pub durations: Vec<(i64, i64)>,
    /// Open applications per band of [`OPEN_AGE_BANDS`].
    pub open_ages: Vec<i64>,
    pub oldest: Vec<Oldest>,
    pub matters: Vec<MatterRow>,
    /// Applications filed in the period, and how many of them had an integration request.
    pub filed: i64,
    pub with_integration: i64,
    /// Days from request to answer for the requests of the period: (days, requests).
    pub replies: Vec<(i64, i64)>,
    pub workload: Vec<Workload>,
    /// Applicants of the period per group: [`NATIONALITY_GROUPS`], [`APPLICANT_AGE_BANDS`],
    /// [`INCOME_BANDS`], [`HOUSEHOLD_BANDS`] (not yet shaped for the minimum cell size).
    pub nationality: Vec<i64>,
    pub age: Vec<i64>,
    pub income: Vec<i64>,
    pub household: Vec<i64>,
    /// (code, applications) per channel and per filer.
    pub channels: Vec<(String, i64)>,
    pub filers: Vec<(String, i64)>,
    /// Per recipient kind: transmissions sent, waiting.
    pub transmissions: Vec<(String, i64, i64)>,
    pub revocations: i64,
}

/// One of the applications waiting longest: numbers and codes only, no names.
#[derive(Clone, Debug)]
pub struct Oldest {
    pub protocol: Option<(i32, i32)>,
    pub code: String,
    pub state: String,
    pub matter: Option<String>,
    pub days: i64,
}

#[derive(Clone, Debug)]
pub struct MatterRow {
    pub matter: Option<String>,
    pub filed: i64,
    pub decided: i64,
    pub admitted: i64,
}

#[derive(Clone, Debug)]
pub struct Workload {
    pub user: Uuid,
    pub name: String,
    pub open: i64,
    pub decided: i64,
}

/// Everything the page shows for `period`, `today` being the Rome date the ages count to.
#[tracing::instrument(name = "calcola le statistiche", skip_all, fields(tenant = %grant.tenant.0))]
pub async fn load(
    tx: &mut TenantTx,
    grant: &Grant<ViewStatistics>,
    period: Period,
    today: NaiveDate,
) -> anyhow::Result<Statistics> {
    let (from_day, to_day) = period.dates();
    let (from, to) = (rome_midnight(from_day), rome_midnight(to_day));
    let mut s = Statistics::default();

    // Filed and decided per month: two index range scans, one result.
    let filed: Vec<(String, i64)> = sqlx::query_as(
        "SELECT to_char(submitted_at AT TIME ZONE 'Europe/Rome', 'YYYY-MM'), count(*)
         FROM applications WHERE submitted_at >= $1 AND submitted_at < $2 GROUP BY 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;
    let decided: Vec<(String, i32, i64)> = sqlx::query_as(&format!(
        "SELECT to_char(decided_at AT TIME ZONE 'Europe/Rome', 'YYYY-MM'), {OUTCOME}, count(*)
         FROM applications
         WHERE decided_at >= $1 AND decided_at < $2 AND state IN {DECIDED} GROUP BY 1, 2"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;
    for m in period.months() {
        let code = m.code();
        let f = filed.iter().find(|(c, _)| *c == code).map_or(0, |r| r.1);
        let d: i64 = decided.iter().filter(|r| r.0 == code).map(|r| r.2).sum();
        s.monthly.push((code, f, d));
    }
    for q in period.quarters() {
        let mut counts = [0; 3];
        for (code, outcome, n) in &decided {
            if let Some(m) = crate::domain::statistics::Month::parse(code)
                && m.quarter() == q
                && let Some(slot) = counts.get_mut(*outcome as usize)
            {
                *slot += n;
            }
        }
        s.quarterly.push(((q.year, q.quarter), counts));
    }

    // Time to decision in days (Rome dates), each integration request's wait taken out (from
    // the day it was asked to the day it was answered, or to the decision if never answered).
    s.durations = sqlx::query_as(&format!(
        "SELECT greatest(0,
                    (a.decided_at AT TIME ZONE 'Europe/Rome')::date
                  - (a.submitted_at AT TIME ZONE 'Europe/Rome')::date
                  - coalesce(p.days, 0))::bigint AS days,
                count(*)
         FROM applications a
         LEFT JOIN (
             SELECT ir.application_id,
                    sum(greatest(0,
                        (least(coalesce(ir.answered_at, d.decided_at), d.decided_at)
                            AT TIME ZONE 'Europe/Rome')::date
                      - (ir.requested_at AT TIME ZONE 'Europe/Rome')::date)) AS days
             FROM integration_requests ir JOIN applications d ON d.id = ir.application_id
             WHERE d.decided_at >= $1 AND d.decided_at < $2 AND ir.requested_at < d.decided_at
             GROUP BY 1
         ) p ON p.application_id = a.id
         WHERE a.decided_at >= $1 AND a.decided_at < $2 AND a.state IN {DECIDED}
           AND a.submitted_at IS NOT NULL
         GROUP BY 1"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;

    // Open applications, now, by days waiting.
    let ages: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT ($1::date - (submitted_at AT TIME ZONE 'Europe/Rome')::date)::bigint, count(*)
         FROM applications WHERE state IN {OPEN} AND submitted_at IS NOT NULL GROUP BY 1"
    ))
    .bind(today)
    .fetch_all(tx.conn())
    .await?;
    s.open_ages = count_in_bands(&OPEN_AGE_BANDS, &ages);
    s.oldest = sqlx::query(&format!(
        "SELECT protocol_year, protocol_number, code, state, matter,
                ($1::date - (submitted_at AT TIME ZONE 'Europe/Rome')::date)::bigint AS days
         FROM applications WHERE state IN {OPEN} AND submitted_at IS NOT NULL
         ORDER BY submitted_at, id LIMIT 10"
    ))
    .bind(today)
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| Oldest {
        protocol: r
            .get::<Option<i32>, _>("protocol_year")
            .zip(r.get::<Option<i32>, _>("protocol_number")),
        code: r.get("code"),
        state: r.get("state"),
        matter: r.get("matter"),
        days: r.get("days"),
    })
    .collect();

    // The applications of the period, in one scan: per matter; channel and filer; the
    // applicant's profile; whether an integration was asked.
    s.matters = sqlx::query(&format!(
        "SELECT matter, count(*) AS filed,
                count(*) FILTER (WHERE state IN {DECIDED}) AS decided,
                count(*) FILTER (WHERE state IN ('ammessa', 'revocata')) AS admitted
         FROM applications WHERE submitted_at >= $1 AND submitted_at < $2
         GROUP BY 1 ORDER BY 2 DESC, 1"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| MatterRow {
        matter: r.get("matter"),
        filed: r.get("filed"),
        decided: r.get("decided"),
        admitted: r.get("admitted"),
    })
    .collect();
    // A request always follows its application: those of the period's applications are among
    // the requests made since the period began (one range scan, one hash).
    let (filed_n, with_integration): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE a.id IN (
                    SELECT ir.application_id FROM integration_requests ir
                    WHERE ir.requested_at >= $1))
         FROM applications a WHERE a.submitted_at >= $1 AND a.submitted_at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(tx.conn())
    .await?;
    s.filed = filed_n;
    s.with_integration = with_integration;
    s.replies = sqlx::query_as(
        "SELECT ((answered_at AT TIME ZONE 'Europe/Rome')::date
               - (requested_at AT TIME ZONE 'Europe/Rome')::date)::bigint, count(*)
         FROM integration_requests
         WHERE requested_at >= $1 AND requested_at < $2 AND answered_at IS NOT NULL
         GROUP BY 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;

    // The applicant's profile: one scan, four groupings, over the columns derived from the form
    // (age in whole years from YYYYMMDD integers).
    let income_bounds: Vec<i64> = INCOME_BANDS.iter().skip(1).map(|b| b.from).collect();
    let profile = sqlx::query(
        r"WITH q AS (
             SELECT applicant_citizenship AS nat,
                    (to_char(submitted_at AT TIME ZONE 'Europe/Rome', 'YYYYMMDD')::integer
                        - applicant_birth_ymd) / 10000 AS age,
                    width_bucket(income_total_cents, $3::bigint[]) AS income_band,
                    household_size AS household
             FROM applications
             WHERE submitted_at >= $1 AND submitted_at < $2 AND NOT applicant_is_entity
         )
         SELECT GROUPING(nat) = 0 AS by_nat, GROUPING(age) = 0 AS by_age,
                GROUPING(income_band) = 0 AS by_income,
                nat, age::bigint AS age, income_band::bigint AS income_band,
                household::bigint AS household, count(*) AS n
         FROM q
         GROUP BY GROUPING SETS ((nat), (age), (income_band), (household))",
    )
    .bind(from)
    .bind(to)
    .bind(&income_bounds)
    .fetch_all(tx.conn())
    .await?;
    let mut ages = Vec::new();
    let mut households = Vec::new();
    s.nationality = vec![0; NATIONALITY_GROUPS.len()];
    s.income = vec![0; INCOME_BANDS.len()];
    for r in profile {
        let n: i64 = r.get("n");
        if r.get::<bool, _>("by_nat") {
            let nat: Option<String> = r.get("nat");
            if let Some(i) = NATIONALITY_GROUPS
                .iter()
                .position(|(c, _)| Some(*c) == nat.as_deref())
            {
                s.nationality[i] += n;
            }
        } else if r.get::<bool, _>("by_age") {
            if let Some(a) = r.get::<Option<i64>, _>("age") {
                ages.push((a, n));
            }
        } else if r.get::<bool, _>("by_income") {
            if let Some(b) = r.get::<Option<i64>, _>("income_band")
                && let Some(slot) = s.income.get_mut(b as usize)
            {
                *slot += n;
            }
        } else if let Some(h) = r.get::<Option<i64>, _>("household") {
            households.push((h, n));
        }
    }
    s.age = count_in_bands(&APPLICANT_AGE_BANDS, &ages);
    s.household = count_in_bands(&HOUSEHOLD_BANDS, &households);

    let by: Vec<(bool, Option<String>, i64)> = sqlx::query_as(
        "SELECT GROUPING(channel) = 0, coalesce(channel, filed_by), count(*)
         FROM applications WHERE submitted_at >= $1 AND submitted_at < $2
         GROUP BY GROUPING SETS ((channel), (filed_by)) ORDER BY 1 DESC, 3 DESC, 2",
    )
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;
    for (is_channel, code, n) in by {
        let code = code.unwrap_or_default();
        if is_channel {
            s.channels.push((code, n));
        } else {
            s.filers.push((code, n));
        }
    }

    // Rapporteurs: what they hold now, what they decided in the period.
    s.workload = sqlx::query(&format!(
        "SELECT u.id, u.full_name,
                count(*) FILTER (WHERE a.state IN {OPEN}) AS open,
                count(*) FILTER (WHERE a.state IN {DECIDED}
                                   AND a.decided_at >= $1 AND a.decided_at < $2) AS decided
         FROM applications a JOIN users u ON u.id = a.rapporteur_id
         WHERE a.rapporteur_id IS NOT NULL
           AND (a.state IN {OPEN} OR (a.decided_at >= $1 AND a.decided_at < $2))
         GROUP BY u.id, u.full_name ORDER BY 3 DESC, 4 DESC, 2"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?
    .into_iter()
    .map(|r| Workload {
        user: r.get("id"),
        name: r.get("full_name"),
        open: r.get("open"),
        decided: r.get("decided"),
    })
    .collect();

    s.transmissions = sqlx::query_as(
        "SELECT recipient_kind,
                count(*) FILTER (WHERE state <> 'da_trasmettere'),
                count(*) FILTER (WHERE state = 'da_trasmettere')
         FROM transmissions WHERE created_at >= $1 AND created_at < $2
         GROUP BY 1 ORDER BY 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;
    s.revocations = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE kind = 'revocata' AND at >= $1 AND at < $2",
    )
    .bind(from)
    .bind(to)
    .fetch_one(tx.conn())
    .await?;
    Ok(s)
}

/// One line of the yearly return to the Ministry of Justice, per matter.
#[derive(Clone, Debug, Default)]
pub struct MinistryRow {
    pub matter: Option<String>,
    pub filed: i64,
    pub italian: i64,
    pub foreign: i64,
    pub entities: i64,
    /// Admissions, rejections, inadmissible (decided in the year).
    pub outcomes: [i64; 3],
}

/// The year's figures in the Ministry's categories: applications filed in the year (Italian and
/// foreign applicants, entities apart) and decisions adopted in the year, per matter.
#[tracing::instrument(name = "calcola i dati annuali per il Ministero", skip_all, fields(tenant = %grant.tenant.0, anno = year))]
pub async fn ministry(
    tx: &mut TenantTx,
    grant: &Grant<ViewStatistics>,
    year: i32,
) -> anyhow::Result<Vec<MinistryRow>> {
    let from = rome_midnight(NaiveDate::from_ymd_opt(year, 1, 1).expect("a valid year"));
    let to = rome_midnight(NaiveDate::from_ymd_opt(year + 1, 1, 1).expect("a valid year"));
    let rows = sqlx::query(&format!(
        "WITH y AS (
             SELECT matter, state, applicant_is_entity AS entity, applicant_citizenship AS nat,
                    submitted_at >= $1 AND submitted_at < $2 AS filed,
                    decided_at >= $1 AND decided_at < $2 AND state IN {DECIDED} AS decided
             FROM applications
             WHERE (submitted_at >= $1 AND submitted_at < $2)
                OR (decided_at >= $1 AND decided_at < $2)
         )
         SELECT matter,
                count(*) FILTER (WHERE filed) AS filed,
                count(*) FILTER (WHERE filed AND NOT entity AND nat = 'italiana') AS italian,
                count(*) FILTER (WHERE filed AND NOT entity
                                   AND nat IN ('ue', 'extra_ue', 'apolide')) AS foreign_,
                count(*) FILTER (WHERE filed AND entity) AS entities,
                count(*) FILTER (WHERE decided AND state IN ('ammessa', 'revocata')) AS admitted,
                count(*) FILTER (WHERE decided AND state = 'respinta') AS rejected,
                count(*) FILTER (WHERE decided AND state = 'inammissibile') AS inadmissible
         FROM y GROUP BY 1 ORDER BY 1"
    ))
    .bind(from)
    .bind(to)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| MinistryRow {
            matter: r.get("matter"),
            filed: r.get("filed"),
            italian: r.get("italian"),
            foreign: r.get("foreign_"),
            entities: r.get("entities"),
            outcomes: [r.get("admitted"), r.get("rejected"), r.get("inadmissible")],
        })
        .collect())
}
