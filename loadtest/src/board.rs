//! `loadtest board`: the lists, the search and the export on a large database. N Ordini (the
//! demo's data) get A applications each, written set-based (INSERT … SELECT generate_series)
//! with Italian names, valid codici fiscali, household members, lawyers, states, dates and
//! protocol numbers as the service writes them (the search trigger fills the indexed words and
//! codes). Then a secretariat account of the first Ordine is logged in and each page is loaded
//! by C concurrent clients: the board's first page, a filtered page, a name, a CF and a
//! protocol-number search, any `--extra-page`, and the CSV export of every application of the
//! Ordine. p50/p90/p99/max per page, as a table and as JSON.

use std::{
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use hdrhistogram::Histogram;
use patrocinio::domain::access::Role;
use serde::Serialize;
use sqlx::{Connection, Executor, PgConnection, Row};

use crate::{Percentiles, setup};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub common: setup::Common,
    /// Applications written in each Ordine.
    #[arg(long, short = 'a', default_value_t = 20_000)]
    pub applications: i32,
    /// Concurrent clients (one logged-in session shared, as tabs of one office would).
    #[arg(long, short = 'c', default_value_t = 32)]
    pub concurrency: u64,
    /// Requests per page.
    #[arg(long, short = 'n', default_value_t = 2_000)]
    pub requests: u64,
    /// Sequential downloads of the CSV export of every application of the Ordine.
    #[arg(long, default_value_t = 5)]
    pub exports: u64,
    /// The filters of the measured CSV export (`elenco.csv?…`). The default selects every
    /// application of the Ordine (A and the demo's); above the service's export bound the
    /// refusal (422) is reported instead of a time.
    #[arg(long, default_value = "stato=tutte")]
    pub export_query: String,
    /// Statistics pages computed afresh (each for another period, so that the service's cache
    /// of the figures does not answer), one at a time.
    #[arg(long, default_value_t = 36)]
    pub statistics_uncached: u64,
    /// One more page to measure as the secretariat, as a path after the Ordine; repeat the
    /// option for more.
    #[arg(long = "extra-page")]
    pub extra_pages: Vec<String>,
    /// Where to write the JSON report.
    #[arg(long, default_value = "loadtest-board.json")]
    pub json: PathBuf,
}

#[derive(Serialize)]
pub struct PageReport {
    name: String,
    path: String,
    concurrency: u64,
    requests: u64,
    errors: u64,
    requests_per_second: f64,
    latency_us: Percentiles,
}

#[derive(Serialize)]
pub struct Report {
    tenants: usize,
    applications_per_ordine: i32,
    applications_in_all: i64,
    seed_seconds: f64,
    /// Of which: the Ordini with the demo's data.
    seed_ordini_seconds: f64,
    pages: Vec<PageReport>,
    /// The statistics page for `statistics_uncached` different periods, one at a time.
    statistics_uncached: PageReport,
    export_query: String,
    /// `false` when the service refused the export (more rows than its bound).
    export_made: bool,
    export_rows: usize,
    export_bytes: usize,
    export_ms: Percentiles,
}

/// Italian given names and surnames the applications are written with (no real person: the
/// combinations are made up).
const GIVEN: &[&str] = &[
    "Marco",
    "Giulia",
    "Luca",
    "Francesca",
    "Giuseppe",
    "Chiara",
    "Antonio",
    "Sara",
    "Giovanni",
    "Valentina",
    "Alessandro",
    "Federica",
    "Davide",
    "Martina",
    "Nicolò",
    "Elisa",
    "Andrea",
    "Paola",
    "Salvatore",
    "Anna",
    "Domenico",
    "Lucia",
    "Matteo",
    "Ilaria",
    "Pietro",
    "Roberta",
    "Vincenzo",
    "Silvia",
    "Emanuele",
    "Beatrice",
    "Raffaele",
    "Giorgia",
];
const SURNAMES: &[&str] = &[
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Romano",
    "Colombo",
    "Ricci",
    "Marino",
    "Greco",
    "Bruno",
    "Gallo",
    "Conti",
    "De Luca",
    "Mancini",
    "Costa",
    "Giordano",
    "Rizzo",
    "Lombardi",
    "Moretti",
    "Barbieri",
    "Fontana",
    "Santoro",
    "Mariani",
    "Rinaldi",
    "Caruso",
    "Ferrara",
    "Galli",
    "Martini",
    "Leone",
    "Longo",
    "Gentile",
    "Martinelli",
    "Vitale",
    "Lombardo",
    "Serra",
    "Coppola",
    "De Santis",
    "D'Angelo",
    "Marchetti",
    "Parisi",
    "Villa",
    "Conte",
    "Ferraro",
    "Ferri",
    "Fabbri",
    "Bianco",
    "Marini",
    "Grasso",
    "Valentini",
    "Messina",
    "Sala",
    "De Angelis",
    "Gatti",
    "Pellegrini",
    "Palumbo",
    "Sanna",
    "Farina",
    "Rizzi",
    "Monti",
    "Cattaneo",
    "Morelli",
    "Amato",
    "Silvestri",
    "Mazza",
    "Testa",
    "Grassi",
    "Pellegrino",
    "Carbone",
    "Giuliani",
    "Benedetti",
    "Barone",
    "Rossetti",
    "Caputo",
    "Montanari",
    "Guerra",
    "Palmieri",
    "Bernardi",
    "Martino",
    "Fiore",
    "De Rosa",
    "Ferretti",
    "Bellini",
    "Basile",
    "Riva",
    "Donati",
    "Piras",
    "Vitali",
    "Battaglia",
    "Sartori",
    "Neri",
    "Costantini",
    "Milani",
    "Pagano",
    "Ruggiero",
    "Sorrentino",
];

/// The check character of a personal codice fiscale, as `domain::codice_fiscale::check_char`
/// computes it, in SQL (session-local: the seeding connection only).
pub(crate) const CF_FUNCTION: &str = r#"
CREATE FUNCTION pg_temp.cf(first15 text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT first15 || chr(65 + (sum(CASE WHEN i % 2 = 1
        THEN (ARRAY[1,0,5,7,9,13,15,17,19,21,2,4,18,20,11,3,6,8,12,14,16,10,22,25,24,23])[v + 1]
        ELSE v END) % 26)::int)
    FROM (SELECT i, CASE WHEN c BETWEEN '0' AND '9' THEN ascii(c) - 48 ELSE ascii(c) - 65 END AS v
          FROM (SELECT i, substr(first15, i, 1) AS c FROM generate_series(1, 15) i) x) y
$$;
CREATE FUNCTION pg_temp.cf_of(surname text, given text, seed bigint) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT pg_temp.cf(
        rpad(upper(left(regexp_replace(ext.unaccent(surname), '[^A-Za-z]', '', 'g'), 3)), 3, 'X')
        || rpad(upper(left(regexp_replace(ext.unaccent(given), '[^A-Za-z]', '', 'g'), 3)), 3, 'X')
        || lpad((40 + seed % 60)::text, 2, '0')
        || substr('ABCDEHLMPRST', (seed % 12)::int + 1, 1)
        || lpad((1 + seed % 28 + CASE WHEN seed % 2 = 0 THEN 40 ELSE 0 END)::text, 2, '0')
        || (ARRAY['H501', 'F205', 'F839', 'L219', 'G273', 'A662'])[(seed % 6)::int + 1])
$$;
"#;

/// Writes `per` applications in the Ordine `tenant`, like its demo application (the form,
/// the PIN's hash), with names, codes, states and dates of their own; protocol numbers
/// gapless per year in the order of registration, the counters set past them.
pub(crate) async fn seed_ordine(
    admin: &mut PgConnection,
    tenant: uuid::Uuid,
    per: i32,
    offset: i64,
) -> anyhow::Result<()> {
    let given = format!("{{{}}}", GIVEN.join(","));
    let surnames = format!(
        "{{{}}}",
        SURNAMES
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(",")
    );
    sqlx::query(
        "WITH template AS (
            SELECT pin_hash, form FROM app.applications
             WHERE tenant_id = $1 AND state <> 'bozza' ORDER BY submitted_at LIMIT 1),
         lawyers AS (SELECT array_agg(id ORDER BY id) AS ids FROM app.lawyers WHERE tenant_id = $1),
         councillors AS (
            SELECT array_agg(r.user_id ORDER BY r.user_id) AS ids FROM app.user_roles r
             WHERE r.tenant_id = $1 AND r.role = 'consigliere'),
         rows AS (
            SELECT g, ($5 + g) AS seed,
                $2::text[] AS given, $3::text[] AS surnames,
                now() - make_interval(mins => (g * 1103 % (3 * 365 * 24 * 60))) AS submitted_at,
                (ARRAY['presentata','protocollata','in_istruttoria','in_istruttoria',
                       'integrazione_richiesta','proposta_ammissione','proposta_rigetto',
                       'iscritta_adunanza','ammessa','ammessa','ammessa','ammessa','ammessa',
                       'respinta','respinta','inammissibile','rinunciata','revocata',
                       'in_istruttoria','protocollata'])[(g * 7 % 20) + 1] AS state
            FROM generate_series(1, $4) g),
         named AS (
            SELECT r.*, r.given[(r.seed * 13 % array_length(r.given, 1)) + 1] AS gn,
                   r.surnames[(r.seed * 31 % array_length(r.surnames, 1)) + 1] AS sn,
                   r.given[(r.seed * 17 % array_length(r.given, 1)) + 1] AS mgn,
                   r.surnames[(r.seed * 37 % array_length(r.surnames, 1)) + 1] AS msn,
                   CASE WHEN r.state = 'presentata' THEN NULL
                        ELSE r.submitted_at + interval '1 day' END AS protocol_at
            FROM rows r),
         -- Protocol numbers gapless per year in the order of registration, after the
         -- numbers the demo's applications already hold.
         yearly AS (
            SELECT n.*, extract(year FROM n.protocol_at AT TIME ZONE 'Europe/Rome')::int AS py
            FROM named n),
         before AS (
            SELECT protocol_year, max(protocol_number) AS last FROM app.applications
             WHERE tenant_id = $1 AND protocol_number IS NOT NULL GROUP BY protocol_year),
         numbered AS (
            SELECT y.*, CASE WHEN y.protocol_at IS NOT NULL THEN
                       coalesce(b.last, 0)
                       + row_number() OVER (PARTITION BY y.py ORDER BY y.protocol_at, y.g) END AS pn
            FROM yearly y LEFT JOIN before b ON b.protocol_year = y.py)
         INSERT INTO app.applications (id, tenant_id, code, pin_hash, state, channel, form, matter,
             filed_by, applicant_name, applicant_cf, counterparty_name, lawyer_id, submitted_at,
             protocol_at, protocol_year, protocol_number, urgent, rapporteur_id, assigned_at,
             decided_at, created_at, updated_at)
         SELECT gen_random_uuid(), $1,
             upper(lpad(to_hex(n.g), 4, '0')) || '-' || upper(substr(md5(n.seed::text), 1, 4)),
             t.pin_hash,
             n.state,
             (ARRAY['portale','portale','portale','sportello','posta','pec'])[(n.seed % 6) + 1],
             CASE WHEN n.seed % 3 = 0 THEN jsonb_set(t.form, '{household,members}',
                 jsonb_build_array(jsonb_build_object('id', md5(n.seed::text), 'relationship', 'coniuge',
                     'given_name', n.mgn, 'surname', n.msn,
                     'codice_fiscale', pg_temp.cf_of(n.msn, n.mgn, n.seed + 7))), true)
                  ELSE t.form END,
             (ARRAY['civile','famiglia','lavoro','penale','civile','famiglia',
                    'esecuzione','volontaria_giurisdizione','amministrativo','civile'])[(n.seed % 10) + 1],
             'avvocato',
             n.gn || ' ' || n.sn,
             pg_temp.cf_of(n.sn, n.gn, n.seed),
             CASE WHEN n.seed % 2 = 0 THEN n.given[(n.seed * 5 % 32) + 1] || ' '
                  || n.surnames[(n.seed * 11 % 96) + 1] END,
             l.ids[(n.seed % array_length(l.ids, 1)) + 1],
             n.submitted_at,
             n.protocol_at,
             n.py,
             n.pn,
             n.seed % 20 = 0,
             CASE WHEN n.state NOT IN ('presentata', 'protocollata')
                  THEN c.ids[(n.seed % array_length(c.ids, 1)) + 1] END,
             CASE WHEN n.state NOT IN ('presentata', 'protocollata')
                  THEN n.submitted_at + interval '3 days' END,
             CASE WHEN n.state IN ('ammessa', 'respinta', 'inammissibile')
                  THEN n.submitted_at + interval '40 days' END,
             n.submitted_at, n.submitted_at
         FROM numbered n, template t, lawyers l, councillors c
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(given)
    .bind(surnames)
    .bind(per)
    .bind(offset)
    .execute(&mut *admin)
    .await
    .context("seeding the applications")?;
    sqlx::query(
        "INSERT INTO app.counters (tenant_id, kind, year, last_number)
         SELECT $1, 'protocollo', protocol_year, max(protocol_number) FROM app.applications
          WHERE tenant_id = $1 AND protocol_year IS NOT NULL GROUP BY protocol_year
         ON CONFLICT (tenant_id, kind, year) DO UPDATE SET last_number = excluded.last_number",
    )
    .bind(tenant)
    .execute(&mut *admin)
    .await
    .context("the protocol counters")?;
    Ok(())
}

fn totp_now(secret: &str) -> anyhow::Result<String> {
    Ok(totp_rs::Builder::new()
        .with_secret(
            totp_rs::Secret::try_from_base32(secret).map_err(|e| anyhow::anyhow!("{e:?}"))?,
        )
        .build()?
        .generate_current()
        .to_string())
}

/// A client logged in as `email` (with the second factor when asked).
async fn log_in(
    base: &str,
    slug: &str,
    email: &str,
    secret: Option<&str>,
    pool: usize,
) -> anyhow::Result<reqwest::Client> {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_provider(jar)
        .pool_max_idle_per_host(pool)
        .timeout(Duration::from_secs(60))
        .build()?;
    let res = client
        .post(format!("{base}/{slug}/accesso"))
        .form(&[
            ("email", email),
            ("password", patrocinio::demo::DEMO_PASSWORD),
        ])
        .send()
        .await?;
    if res.status() != 303 {
        bail!("login of {email}: {}", res.status());
    }
    let location = res.headers()["location"].to_str()?.to_owned();
    if location.ends_with("/accesso/codice") {
        let code = totp_now(secret.context("TOTP secret")?)?;
        let res = client
            .post(format!("{base}{location}"))
            .form(&[("codice", code.as_str())])
            .send()
            .await?;
        if res.status() != 303 {
            bail!("second factor of {email}: {}", res.status());
        }
    }
    Ok(client)
}

/// `requests` GETs of `url` by `concurrency` tasks sharing `client`.
async fn measure(
    client: &reqwest::Client,
    name: &str,
    base: &str,
    path: &str,
    concurrency: u64,
    requests: u64,
) -> anyhow::Result<PageReport> {
    let url = format!("{base}{path}");
    let first = client.get(&url).send().await?;
    if !first.status().is_success() {
        bail!("{name}: {url} answered {}", first.status());
    }
    let (all, errors, seconds) = crate::hammer(client, &url, concurrency, requests).await?;
    Ok(PageReport {
        name: name.to_owned(),
        path: path.to_owned(),
        concurrency,
        requests,
        errors,
        requests_per_second: requests as f64 / seconds,
        latency_us: Percentiles::of(&all),
    })
}

/// One GET that must answer 2xx, its body read whole.
async fn client_get(client: &reqwest::Client, url: &str) -> anyhow::Result<()> {
    let res = client.get(url).send().await?;
    if !res.status().is_success() {
        bail!("{url} answered {}", res.status());
    }
    res.bytes().await?;
    Ok(())
}

pub async fn run(a: Args) -> anyhow::Result<Report> {
    if a.common.tenants == 0 || a.applications <= 0 || a.applications > 60_000 {
        bail!("at least one Ordine and between 1 and 60,000 applications each");
    }
    if a.concurrency == 0 || a.requests == 0 || a.exports == 0 {
        bail!("concurrency, requests and exports must be positive");
    }
    let work = a.common.work_dir()?;
    let database = setup::database(&work, &a.common).await?;
    let files = work.join("files");

    // 1. The Ordini with the demo's data, then the applications, set-based.
    let started = Instant::now();
    let (seeded, db) = setup::ordini(&database, &files, a.common.tenants).await?;
    db.close().await;
    let seed_ordini_seconds = started.elapsed().as_secs_f64();
    println!(
        "{} Ordini with the demo's data in {seed_ordini_seconds:.0} s",
        seeded.len()
    );
    let mut admin = PgConnection::connect(&database.admin_url).await?;
    admin.execute(CF_FUNCTION).await?;
    for (t, o) in seeded.iter().enumerate() {
        seed_ordine(
            &mut admin,
            o.id.0,
            a.applications,
            t as i64 * i64::from(a.applications),
        )
        .await?;
        if t % 10 == 9 {
            println!("{} Ordini seeded", t + 1);
        }
    }
    // What autovacuum does after a bulk load in production: the visibility map (index-only
    // scans) and the planner's statistics.
    admin.execute("VACUUM (ANALYZE)").await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM app.applications")
        .fetch_one(&mut admin)
        .await?;
    let seed_seconds = started.elapsed().as_secs_f64();
    println!("{total} applications in {seed_seconds:.0} s");

    // 2. What the searches look for: a surname, a codice fiscale and a protocol number of
    //    the first Ordine.
    let first = &seeded[0];
    let sample = sqlx::query(
        "SELECT applicant_name, applicant_cf, protocol_year, protocol_number
           FROM app.applications
          WHERE tenant_id = $1 AND protocol_number IS NOT NULL
          ORDER BY protocol_at DESC OFFSET 100 LIMIT 1",
    )
    .bind(first.id.0)
    .fetch_one(&mut admin)
    .await?;
    let name: String = sample.get(0);
    let surname = name.rsplit(' ').next().unwrap_or(&name).to_owned();
    let cf: String = sample.get(1);
    let protocol = format!("{}/{:07}", sample.get::<i32, _>(2), sample.get::<i32, _>(3));
    admin.close().await?;

    // 3. The service and a secretariat account.
    let server = setup::server(&a.common.server, &database, &work, &files, &[]).await?;
    let (_, email, secret) = first
        .seeded
        .accounts
        .iter()
        .find(|(r, _, _)| *r == Role::Segreteria)
        .context("no secretariat account in the demo")?;
    let client = log_in(
        &server.base,
        &first.slug,
        email,
        secret.as_deref(),
        a.concurrency as usize,
    )
    .await?;
    // The statistics are not the secretariat's: the Ordine's administrator reads them.
    let (_, email, secret) = first
        .seeded
        .accounts
        .iter()
        .find(|(r, _, _)| *r == Role::Amministratore)
        .context("no administrator account in the demo")?;
    let admin_client = log_in(
        &server.base,
        &first.slug,
        email,
        secret.as_deref(),
        a.concurrency as usize,
    )
    .await?;

    // 4. The pages, one after the other, each with C clients.
    let s = &first.slug;
    let mut pages: Vec<(String, String)> = vec![
        ("bacheca".into(), format!("/{s}/segreteria")),
        (
            "bacheca filtrata".into(),
            format!(
                "/{s}/segreteria?stato=ammessa&materia=civile&data=presentazione&dal=2025-01-01&al=2025-12-31"
            ),
        ),
        (
            "ricerca per nome".into(),
            format!("/{s}/segreteria/cerca?q={surname}"),
        ),
        (
            "ricerca per codice fiscale".into(),
            format!("/{s}/segreteria/cerca?q={cf}"),
        ),
        (
            "ricerca per protocollo".into(),
            format!("/{s}/segreteria/cerca?q={protocol}"),
        ),
    ];
    for extra in &a.extra_pages {
        let path = if extra.starts_with('/') {
            format!("/{s}{extra}")
        } else {
            format!("/{s}/{extra}")
        };
        pages.push((extra.clone(), path));
    }
    let mut reports = Vec::new();
    for (name, path) in &pages {
        let r = measure(&client, name, &server.base, path, a.concurrency, a.requests).await?;
        println!("{name}: p99 {:.1} ms", r.latency_us.p99 as f64 / 1000.0);
        reports.push(r);
    }
    // The statistics page as the administrator opens it (the figures of the period are
    // computed once, then shared until the Ordine's next event), with C clients...
    let stats = format!("/{s}/amministrazione/statistiche");
    let r = measure(
        &admin_client,
        "statistiche",
        &server.base,
        &stats,
        a.concurrency,
        a.requests,
    )
    .await?;
    println!(
        "statistiche: p99 {:.1} ms",
        r.latency_us.p99 as f64 / 1000.0
    );
    reports.push(r);
    // ... and computed afresh: each request another period (24 months ending in one of the
    // months before this one), so that none is answered from the cache.
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3)?;
    let (mut errors, t0) = (0, Instant::now());
    let this_month = {
        use chrono::Datelike;
        let d = chrono::Utc::now().date_naive();
        d.year() * 12 + d.month0() as i32
    };
    for i in 1..=a.statistics_uncached as i32 {
        let m = this_month - i;
        let url = format!(
            "{}{stats}?fino_a={:04}-{:02}",
            server.base,
            m / 12,
            m % 12 + 1
        );
        let t = Instant::now();
        match client_get(&admin_client, &url).await {
            Ok(()) => hist.record(t.elapsed().as_micros() as u64)?,
            Err(_) => errors += 1,
        }
    }
    let uncached = PageReport {
        name: "statistiche senza cache".into(),
        path: format!("{stats}?fino_a=…"),
        concurrency: 1,
        requests: a.statistics_uncached,
        errors,
        requests_per_second: a.statistics_uncached as f64 / t0.elapsed().as_secs_f64(),
        latency_us: Percentiles::of(&hist),
    };
    println!(
        "statistiche senza cache: p99 {:.1} ms",
        uncached.latency_us.p99 as f64 / 1000.0
    );

    // 5. The export of every application of the Ordine, one download at a time.
    let url = format!(
        "{}/{s}/segreteria/elenco.csv?{}",
        server.base, a.export_query
    );
    let mut hist = Histogram::<u64>::new_with_bounds(1, 600_000, 3)?;
    let (mut rows, mut bytes, mut made) = (0, 0, true);
    for _ in 0..a.exports {
        let t = Instant::now();
        let res = client.get(&url).send().await?;
        if res.status() == 422 {
            made = false;
            println!(
                "the export of «{}» is refused: more rows than the service's bound",
                a.export_query
            );
            break;
        }
        if !res.status().is_success() {
            bail!("the export answered {}", res.status());
        }
        let body = res.bytes().await?;
        hist.record(t.elapsed().as_millis() as u64)?;
        bytes = body.len();
        rows = body
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            .saturating_sub(1);
    }
    server.stop().await;
    Ok(Report {
        tenants: a.common.tenants,
        applications_per_ordine: a.applications,
        applications_in_all: total,
        seed_seconds,
        seed_ordini_seconds,
        pages: reports,
        statistics_uncached: uncached,
        export_query: a.export_query,
        export_made: made,
        export_rows: rows,
        export_bytes: bytes,
        export_ms: Percentiles::of(&hist),
    })
}

pub fn print(r: &Report, json: &std::path::Path) {
    println!(
        "{} Ordini, {} applications ({} per Ordine), seeded in {:.0} s ({:.0} s the Ordini with the demo's data)",
        r.tenants,
        r.applications_in_all,
        r.applications_per_ordine,
        r.seed_seconds,
        r.seed_ordini_seconds
    );
    println!(
        "{:<32} {:>8} {:>9} {:>9} {:>9} {:>9} {:>7}",
        "page", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "errors"
    );
    let ms = |us: u64| us as f64 / 1000.0;
    for p in r.pages.iter().chain([&r.statistics_uncached]) {
        println!(
            "{:<32} {:>8.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>7}",
            p.name,
            p.requests_per_second,
            ms(p.latency_us.p50),
            ms(p.latency_us.p90),
            ms(p.latency_us.p99),
            ms(p.latency_us.max),
            p.errors
        );
    }
    if r.export_made {
        println!(
            "CSV export ({}): {} rows, {} bytes; p50 {} ms, p99 {} ms, max {} ms",
            r.export_query,
            r.export_rows,
            r.export_bytes,
            r.export_ms.p50,
            r.export_ms.p99,
            r.export_ms.max
        );
    } else {
        println!("CSV export ({}): refused above the bound", r.export_query);
    }
    println!("JSON: {}", json.display());
}
