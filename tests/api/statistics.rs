//! The President's statistics on a seeded data set: every figure equals the value computed by
//! hand below (the integration pauses taken out of the time to decision, the minimum cell size
//! of the applicants' profile), the CSV of each chart and the Ministry's yearly return, their
//! audit entries, who may see them (never across Ordini), and the page following a change live.

use patrocinio::domain::access::Role;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    helpers::{LoggedIn, TestApp, spawn_app},
    live::{open, wait_for},
    public_form::ordine,
    workflow::{Office, SLUG, office, submitted},
};

/// One application of the data set, made from the HTTP-submitted template.
struct Seed {
    code: &'static str,
    matter: &'static str,
    channel: &'static str,
    filed_by: &'static str,
    citizenship: &'static str,
    birth_date: &'static str,
    household_members: usize,
    income_cents: i64,
    state: &'static str,
    /// `YYYY-MM-DD`, at noon UTC (the same date in Rome).
    submitted: &'static str,
    decided: Option<&'static str>,
    /// 0: the first councillor (rossi), 1: verdi.
    rapporteur: Option<usize>,
}

const fn seed(
    code: &'static str,
    matter: &'static str,
    citizenship: &'static str,
    state: &'static str,
    submitted: &'static str,
    decided: Option<&'static str>,
    rapporteur: Option<usize>,
) -> Seed {
    Seed {
        code,
        matter,
        channel: "portale",
        filed_by: "avvocato",
        citizenship,
        birth_date: "1980-06-15",
        household_members: 0,
        income_cents: 300_000,
        state,
        submitted,
        decided,
        rapporteur,
    }
}

/// Applications decided in the period (A1–A6) and withdrawn ones (W1–W7) that only count for
/// intake, matters and the profile.
fn data_set() -> Vec<Seed> {
    let mut v = vec![
        // 20 days, no pause.
        seed(
            "AAAA-0001",
            "famiglia",
            "italiana",
            "ammessa",
            "2025-01-10",
            Some("2025-01-30"),
            Some(0),
        ),
        // 30 days, 15 of them waiting for an integration: 15.
        seed(
            "AAAA-0002",
            "famiglia",
            "italiana",
            "respinta",
            "2025-01-15",
            Some("2025-02-14"),
            Some(0),
        ),
        // 5 days.
        seed(
            "AAAA-0003",
            "famiglia",
            "ue",
            "inammissibile",
            "2025-02-01",
            Some("2025-02-06"),
            Some(0),
        ),
        // 30 days, 20 of them waiting: 10.
        seed(
            "AAAA-0004",
            "famiglia",
            "italiana",
            "ammessa",
            "2025-03-01",
            Some("2025-03-31"),
            Some(0),
        ),
        // 8 days, admitted and later revoked by the judge.
        seed(
            "AAAA-0005",
            "lavoro",
            "italiana",
            "revocata",
            "2025-04-01",
            Some("2025-04-09"),
            Some(1),
        ),
        // 30 days.
        seed(
            "AAAA-0006",
            "lavoro",
            "italiana",
            "ammessa",
            "2025-04-10",
            Some("2025-05-10"),
            Some(1),
        ),
    ];
    // A1's applicant was born on 15 July 1960 (written as the form may keep it): 64 when filing.
    v[0].birth_date = "15/07/1960";
    for (i, nat) in [
        "extra_ue", "extra_ue", "extra_ue", "italiana", "italiana", "italiana", "italiana",
    ]
    .into_iter()
    .enumerate()
    {
        let mut w = seed(
            [
                "WWWW-0001",
                "WWWW-0002",
                "WWWW-0003",
                "WWWW-0004",
                "WWWW-0005",
                "WWWW-0006",
                "WWWW-0007",
            ][i],
            "civile",
            nat,
            "rinunciata",
            "2025-05-15",
            None,
            None,
        );
        w.channel = "sportello";
        w.filed_by = "richiedente";
        // Five households of three people.
        if i < 5 {
            w.household_members = 2;
        }
        v.push(w);
    }
    v
}

async fn insert(conn: &mut PgConnection, template: Uuid, of: &Office, s: &Seed) -> Uuid {
    let id = Uuid::new_v4();
    let members: Vec<serde_json::Value> = (0..s.household_members)
        .map(|i| serde_json::json!({ "id": format!("m{i}"), "surname": "Familiare", "given_name": "Uno" }))
        .collect();
    let rapporteur = s.rapporteur.map(|i| of.councillors[i].id);
    sqlx::query(
        "INSERT INTO app.applications (id, tenant_id, code, pin_hash, state, channel, form,
             matter, filed_by, applicant_name, applicant_cf, lawyer_id, income_total_cents,
             threshold_cents, submitted_at, decided_at, rapporteur_id)
         SELECT $2, tenant_id, $3, pin_hash, $4, $5,
             jsonb_set(jsonb_set(jsonb_set(jsonb_set(form,
                 '{applicant,citizenship}', to_jsonb($6::text)),
                 '{applicant,birth_date}', to_jsonb($7::text)),
                 '{applicant,kind}', '\"persona\"'),
                 '{household,members}', $8::jsonb),
             $9, $10, applicant_name, applicant_cf, lawyer_id, $11, threshold_cents,
             ($12::date + time '12:00') AT TIME ZONE 'UTC',
             ($13::date + time '12:00') AT TIME ZONE 'UTC', $14
         FROM app.applications WHERE id = $1",
    )
    .bind(template)
    .bind(id)
    .bind(s.code)
    .bind(s.state)
    .bind(s.channel)
    .bind(s.citizenship)
    .bind(s.birth_date)
    .bind(serde_json::Value::Array(members))
    .bind(s.matter)
    .bind(s.filed_by)
    .bind(s.income_cents)
    .bind(s.submitted)
    .bind(s.decided)
    .bind(rapporteur)
    .execute(&mut *conn)
    .await
    .unwrap();
    id
}

async fn integration(
    conn: &mut PgConnection,
    application: Uuid,
    by: Uuid,
    asked: &str,
    answered: &str,
) {
    sqlx::query(
        "INSERT INTO app.integration_requests (tenant_id, application_id, requested_by,
             requested_at, due_on, kinds, answered_at, answered_by)
         SELECT tenant_id, id, $2, ($3::date + time '12:00') AT TIME ZONE 'UTC',
             $3::date + 10, '{documento_identita}',
             ($4::date + time '12:00') AT TIME ZONE 'UTC', 'richiedente'
         FROM app.applications WHERE id = $1",
    )
    .bind(application)
    .bind(by)
    .bind(asked)
    .bind(answered)
    .execute(&mut *conn)
    .await
    .unwrap();
}

struct World {
    app: TestApp,
    of: Office,
    president: LoggedIn,
    admin: LoggedIn,
    /// The application submitted over HTTP today (open, 0 days).
    today: Uuid,
}

/// The data set: the 13 applications above, two integration requests, one revocation, and
/// three open applications (today, 45 days ago assigned to rossi, 100 days ago registered).
async fn world() -> World {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (template, _) = submitted(&app, &of.o).await;
    let mut conn = app.admin_connection().await;
    let mut ids = Vec::new();
    for s in data_set() {
        ids.push(insert(&mut conn, template, &of, &s).await);
    }
    let rossi = of.councillors[0].id;
    integration(&mut conn, ids[1], rossi, "2025-01-20", "2025-02-04").await;
    integration(&mut conn, ids[3], rossi, "2025-03-05", "2025-03-25").await;
    sqlx::query(
        "INSERT INTO app.events (tenant_id, application_id, kind, from_state, to_state,
             actor_label, at)
         SELECT tenant_id, id, 'revocata', 'ammessa', 'revocata', 'Segreteria',
             timestamptz '2025-05-02 12:00Z'
         FROM app.applications WHERE id = $1",
    )
    .bind(ids[4])
    .execute(&mut conn)
    .await
    .unwrap();
    let waiting: [(&str, &str, i32, Option<Uuid>, bool); 2] = [
        ("OOOO-0045", "in_istruttoria", 45, Some(rossi), false),
        ("OOOO-0100", "protocollata", 100, None, true),
    ];
    for (code, state, days, rapporteur, protocol) in waiting {
        sqlx::query(
            "INSERT INTO app.applications (id, tenant_id, code, pin_hash, state, channel, form,
                 matter, filed_by, applicant_name, applicant_cf, lawyer_id, submitted_at,
                 rapporteur_id, protocol_year, protocol_number)
             SELECT gen_random_uuid(), tenant_id, $2, pin_hash, $3, channel, form, matter,
                 filed_by, applicant_name, applicant_cf, lawyer_id,
                 now() - make_interval(days => $4), $5,
                 CASE WHEN $6 THEN 2026 END, CASE WHEN $6 THEN 77 END
             FROM app.applications WHERE id = $1",
        )
        .bind(template)
        .bind(code)
        .bind(state)
        .bind(days)
        .bind(rapporteur)
        .bind(protocol)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let president = app
        .user(
            SLUG,
            "presidente@ordine.example.it",
            &[Role::Presidenza],
            true,
            None,
        )
        .await;
    let admin = app
        .user(
            SLUG,
            "admin@ordine.example.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    let president = app.login(&president).await;
    let admin = app.login(&admin).await;
    World {
        app,
        of,
        president,
        admin,
        today: template,
    }
}

/// A CSV as lines of cells (the BOM and the `;` checked on the way).
async fn csv(app: &TestApp, who: &LoggedIn, path: &str) -> Vec<Vec<String>> {
    let res = who.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with BOM");
    csv::ReaderBuilder::new()
        .delimiter(b';')
        .has_headers(false)
        .flexible(true)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn rows(lines: &[Vec<String>]) -> Vec<Vec<&str>> {
    lines
        .iter()
        .map(|l| l.iter().map(String::as_str).collect())
        .collect()
}

const PERIOD: &str = "fino_a=2025-06";

#[tokio::test]
async fn the_figures_equal_the_values_computed_by_hand() {
    let w = world().await;
    let (app, p) = (&w.app, &w.president);
    let base = format!("/{SLUG}/presidenza/statistiche.csv?{PERIOD}&grafico=");

    // Intake and decisions per month (24 months, July 2023 to June 2025).
    let months = csv(app, p, &format!("{base}entrate-decisioni")).await;
    let months = rows(&months);
    assert_eq!(months[0], ["Mese", "Presentate", "Decise"]);
    assert_eq!(months.len(), 1 + 24);
    assert_eq!(months[1], ["lug 2023", "0", "0"]);
    assert_eq!(months[19], ["gen 2025", "2", "1"]);
    assert_eq!(months[20], ["feb 2025", "1", "2"]);
    assert_eq!(months[21], ["mar 2025", "1", "1"]);
    assert_eq!(months[22], ["apr 2025", "2", "1"]);
    assert_eq!(months[23], ["mag 2025", "7", "1"]);
    assert_eq!(months[24], ["giu 2025", "0", "0"]);

    // Outcomes per quarter, and the admission rate (a revoked admission was an admission).
    let q = csv(app, p, &format!("{base}esiti-trimestre")).await;
    let q = rows(&q);
    assert_eq!(
        q[0],
        [
            "Trimestre",
            "Ammissioni",
            "Rigetti",
            "Inammissibilità",
            "Tasso di ammissione"
        ]
    );
    assert!(
        q.contains(&vec!["T1 2025", "2", "1", "1", "50,0 %"]),
        "{q:?}"
    );
    assert!(
        q.contains(&vec!["T2 2025", "2", "0", "0", "100,0 %"]),
        "{q:?}"
    );
    assert!(q.contains(&vec!["T3 2024", "0", "0", "0", "–"]), "{q:?}");
    assert_eq!(
        q.last().unwrap(),
        &["Totale del periodo", "4", "1", "1", "66,7 %"]
    );

    // Time to decision with the clock stopped: 20, 15, 5, 10, 8, 30 days → sorted 5, 8, 10,
    // 15, 20, 30: the median (3rd of 6) is 10, the 90th percentile (6th) is 30. Without the
    // pauses it would be 20, 30, 5, 30, 8, 30, whose median is 20.
    let t = csv(app, p, &format!("{base}tempi-decisione")).await;
    assert_eq!(
        rows(&t),
        [
            vec!["Misura", "Giorni", "Istanze decise"],
            vec!["Mediana", "10", "6"],
            vec!["90° percentile", "30", "6"],
        ]
    );

    // Open applications now: today's (0 days), 45 and 100 days old; the ten oldest, oldest
    // first, by protocol number or code.
    let o = csv(app, p, &format!("{base}pratiche-aperte")).await;
    assert_eq!(
        rows(&o),
        [
            vec!["Anzianità", "Pratiche"],
            vec!["fino a 10 giorni", "1"],
            vec!["da 11 a 30 giorni", "0"],
            vec!["da 31 a 60 giorni", "1"],
            vec!["da 61 a 90 giorni", "0"],
            vec!["oltre 90 giorni", "1"],
            vec!["Totale", "3"],
        ]
    );
    let (status, page) = p.page(app, &format!("/{SLUG}/presidenza?{PERIOD}")).await;
    assert_eq!(status, 200);
    let oldest = crate::workflow::between(&page, "id=\"piu-vecchie\"", "</section>").unwrap();
    let first = oldest
        .find("2026/0000077")
        .expect("the registered one, by protocol");
    let second = oldest.find("OOOO-0045").expect("the other one, by code");
    assert!(first < second, "oldest first");
    assert!(oldest.contains(">100<") && oldest.contains(">45<"));
    assert!(
        !page.contains("Rossi Mario") && !page.contains("RSSMRA"),
        "no personal data"
    );

    // Matters: volume, decided, admitted, admission rate.
    let m = csv(app, p, &format!("{base}materie")).await;
    let m = rows(&m);
    assert_eq!(
        m[0],
        [
            "Materia",
            "Istanze",
            "Decise",
            "Ammesse",
            "Tasso di ammissione"
        ]
    );
    assert_eq!(
        m[1],
        ["Causa civile (contenzioso ordinario)", "7", "0", "0", "–"]
    );
    assert_eq!(
        m[2],
        [
            "Famiglia, separazione, divorzio, minori",
            "4",
            "4",
            "2",
            "50,0 %"
        ]
    );
    assert_eq!(m[3], ["Lavoro e previdenza", "2", "2", "2", "100,0 %"]);

    // Integrations: 2 of the 13 filed (15,4 %); replies in 15 and 20 days.
    let i = csv(app, p, &format!("{base}integrazioni")).await;
    assert_eq!(
        rows(&i),
        [
            vec!["Voce", "Istanze", "Quota"],
            vec!["Con richiesta di integrazione", "2", "15,4 %"],
            vec!["Senza richiesta di integrazione", "11", "84,6 %"],
            vec![
                "Tempo di risposta (mediana e 90° percentile)",
                "15 giorni",
                "20 giorni"
            ],
        ]
    );

    // Workload: rossi holds one open application and decided four; verdi decided two.
    let wl = csv(app, p, &format!("{base}carico-relatori")).await;
    assert_eq!(
        rows(&wl),
        [
            vec!["Consigliere relatore", "In attesa", "Decise nel periodo"],
            vec!["Utente rossi@ordine.example.it", "1", "4"],
            vec!["Utente verdi@ordine.example.it", "0", "2"],
        ]
    );

    // The profile, with the minimum cell size: 9 Italian, 1 EU, 3 non-EU → "< 5" twice,
    // never 1 or 3.
    let n = csv(app, p, &format!("{base}nazionalita")).await;
    assert_eq!(
        rows(&n),
        [
            vec!["Cittadinanza", "Richiedenti"],
            vec!["Italiana", "9"],
            vec!["Di un altro Stato dell'Unione europea", "< 5"],
            vec!["Di uno Stato non UE", "< 5"],
            vec!["Apolide", "0"],
            vec!["Totale", "13"],
        ]
    );
    // Ages: one applicant of 64, twelve of 44. The one is hidden, and the twelve withheld
    // (otherwise 13 − 12 would give the one back).
    let a = csv(app, p, &format!("{base}eta")).await;
    assert_eq!(
        rows(&a),
        [
            vec!["Età alla presentazione", "Richiedenti"],
            vec!["meno di 18 anni", "0"],
            vec!["da 18 a 29 anni", "0"],
            vec!["da 30 a 44 anni", "riservato"],
            vec!["da 45 a 64 anni", "< 5"],
            vec!["65 anni e oltre", "0"],
            vec!["Totale", "13"],
        ]
    );
    let r = csv(app, p, &format!("{base}reddito")).await;
    assert_eq!(rows(&r)[2], ["da 2.500 a 5.000 €", "13"]);
    let h = csv(app, p, &format!("{base}nucleo")).await;
    let h = rows(&h);
    assert_eq!(h[1], ["1 persona", "8"]);
    assert_eq!(h[3], ["3 persone", "5"], "five is shown");

    // Channel and filer.
    let c = csv(app, p, &format!("{base}canali")).await;
    assert_eq!(
        rows(&c),
        [
            vec!["Canale o presentatore", "Istanze"],
            vec!["Consegnata allo sportello", "7"],
            vec!["Istanza on-line", "6"],
            vec!["Presentata da: il richiedente", "7"],
            vec!["Presentata da: un avvocato", "6"],
        ]
    );
    // Transmissions (none in this data set) and the revocation.
    let tr = csv(app, p, &format!("{base}trasmissioni")).await;
    assert_eq!(
        rows(&tr),
        [
            vec!["Voce", "Numero", "Da trasmettere"],
            vec!["Ammissioni revocate dal giudice", "1", ""],
        ]
    );

    // The page shows the same: each chart an SVG with title and description, its table.
    for id in ["entrate-decisioni", "nazionalita", "tempi-decisione"] {
        let part = crate::workflow::between(&page, &format!("<section id=\"{id}\""), "</section>")
            .unwrap_or_else(|| panic!("chart {id}"));
        assert!(part.contains("role=\"img\""));
        assert!(part.contains(&format!("aria-labelledby=\"{id}-titolo {id}-descrizione\"")));
        assert!(part.contains(&format!("<title id=\"{id}-titolo\">")));
        assert!(part.contains(&format!("<desc id=\"{id}-descrizione\">")));
        assert!(part.contains("<table") && part.contains("<caption>"));
        assert!(part.contains(&format!("statistiche.csv?{PERIOD}&amp;grafico={id}")));
    }
    let nat = crate::workflow::between(&page, "<section id=\"nazionalita\"", "</section>").unwrap();
    assert!(nat.contains("<td>&lt; 5</td>"));
    assert!(
        !nat.contains("<td>3</td>") && !nat.contains("<td>1</td>"),
        "{nat}"
    );
    assert!(
        !nat.contains(">3</text>") && !nat.contains(">1</text>"),
        "nor in the chart"
    );
    // The charts are drawn without JavaScript (the page's only scripts are the layout's htmx,
    // for the live updates).
    let figures = &page[page.find("id=\"statistiche\"").unwrap()..];
    assert!(!figures[..figures.find("</main>").unwrap_or(figures.len())].contains("<script"));

    // Every export is in the audit log, with the chart and the period.
    let mut conn = app.admin_connection().await;
    let audited: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT action, details FROM app.audit_log WHERE action = 'statistiche_esportate'
         ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(audited.len(), 13);
    assert_eq!(audited[0].1["grafico"], "entrate-decisioni");
    assert_eq!(audited[0].1["fino_a"], "2025-06");
    assert_eq!(audited[0].1["area"], "presidenza");
    let _ = w.today;
}

#[tokio::test]
async fn the_yearly_return_is_in_the_ministry_categories_and_bad_input_is_explained() {
    let w = world().await;
    let (app, admin) = (&w.app, &w.admin);
    let path = format!("/{SLUG}/amministrazione/statistiche/ministero.csv?anno=2025");
    let m = csv(app, admin, &path).await;
    assert_eq!(
        rows(&m),
        [
            vec![
                "Materia",
                "Istanze presentate",
                "di cui richiedenti italiani",
                "di cui richiedenti stranieri",
                "di cui enti e associazioni",
                "Ammissioni",
                "Rigetti",
                "Inammissibilità",
            ],
            vec![
                "Causa civile (contenzioso ordinario)",
                "7",
                "4",
                "3",
                "0",
                "0",
                "0",
                "0"
            ],
            vec![
                "Famiglia, separazione, divorzio, minori",
                "4",
                "3",
                "1",
                "0",
                "2",
                "1",
                "1"
            ],
            vec!["Lavoro e previdenza", "2", "2", "0", "0", "2", "0", "0"],
            vec!["Totale", "13", "9", "4", "0", "4", "1", "1"],
        ]
    );
    let mut conn = app.admin_connection().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.audit_log WHERE action = 'statistiche_ministero_esportate'
           AND details->>'anno' = '2025' AND details->>'area' = 'amministrazione'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(n, 1);

    // A wrong year or month: an Italian message, what was typed kept in the field.
    let res = admin
        .client
        .get(app.url(&format!(
            "/{SLUG}/amministrazione/statistiche/ministero.csv?anno=20x5"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("L'anno indicato non è valido")
    );
    let (status, page) = admin
        .page(
            app,
            &format!("/{SLUG}/amministrazione/statistiche?fino_a=2025-13&anno=20x5"),
        )
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("Il mese indicato non è valido"));
    assert!(
        page.contains("value=\"2025-13\""),
        "the month typed is kept"
    );
    assert!(page.contains("value=\"20x5\""), "the year typed is kept");
    let res = admin
        .client
        .get(app.url(&format!(
            "/{SLUG}/amministrazione/statistiche.csv?{PERIOD}&grafico=nulla"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn only_the_presidency_and_the_administrator_see_the_statistics_of_their_own_ordine() {
    let w = world().await;
    let app = &w.app;
    // Both see it, each in their own area.
    for (who, path) in [
        (&w.president, format!("/{SLUG}/presidenza")),
        (&w.admin, format!("/{SLUG}/amministrazione/statistiche")),
    ] {
        let (status, page) = who.page(app, &path).await;
        assert_eq!(status, 200, "{path}");
        assert!(page.contains("<h1>Statistiche</h1>"));
    }
    // The administration's home links to it.
    let (_, home) = w.admin.page(app, &format!("/{SLUG}/amministrazione")).await;
    assert!(home.contains(&format!("/{SLUG}/amministrazione/statistiche")));
    // The administrator gives the role on the users' page (the database accepts it).
    let (_, users) = w
        .admin
        .page(app, &format!("/{SLUG}/amministrazione/utenti"))
        .await;
    assert!(users.contains("value=\"presidenza\""));
    let res = w
        .admin
        .post(
            app,
            &format!("/{SLUG}/amministrazione/utenti"),
            &[
                ("nome", "Anna Presidente"),
                ("email", "anna.presidente@ordine.example.it"),
                ("ruoli", "presidenza"),
            ],
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut conn = app.admin_connection().await;
    let role: String = sqlx::query_scalar(
        "SELECT r.role FROM app.user_roles r JOIN app.users u ON u.id = r.user_id
         WHERE u.email = 'anna.presidente@ordine.example.it'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(role, "presidenza");
    // The presidency reads statistics only: no case lists, no administration.
    for path in [
        format!("/{SLUG}/segreteria"),
        format!("/{SLUG}/amministrazione"),
        format!("/{SLUG}/amministrazione/statistiche"),
    ] {
        let (status, _) = w.president.page(app, &path).await;
        assert_eq!(status, 403, "{path}");
    }
    // Secretariat, councillor and lawyer are refused, on the page and on the files.
    let seg = app.login(&w.of.secretariat).await;
    let rel = app.login(&w.of.councillors[0]).await;
    let lawyer = app
        .user(
            SLUG,
            "avvocato@ordine.example.it",
            &[Role::Avvocato],
            false,
            Some(w.of.o.lawyer),
        )
        .await;
    let lawyer = app.login(&lawyer).await;
    for who in [&seg, &rel, &lawyer] {
        for path in [
            format!("/{SLUG}/presidenza"),
            format!("/{SLUG}/presidenza/statistiche.csv?grafico=materie"),
            format!("/{SLUG}/presidenza/ministero.csv"),
            format!("/{SLUG}/amministrazione/statistiche"),
            format!("/{SLUG}/amministrazione/statistiche.csv?grafico=materie"),
            format!("/{SLUG}/amministrazione/statistiche/ministero.csv"),
        ] {
            let res = who.client.get(app.url(&path)).send().await.unwrap();
            assert_eq!(res.status(), 403, "{path}");
        }
    }
    // Not logged in: the login page.
    let res = app.get(&format!("/{SLUG}/presidenza")).await;
    assert_eq!(res.status(), 303);
    // Another Ordine's presidency sees its own (empty) figures, never these; its session does
    // not open this Ordine's page.
    ordine(app, "altrove").await;
    let other = app
        .user(
            "altrove",
            "presidente@altrove.example.it",
            &[Role::Presidenza],
            true,
            None,
        )
        .await;
    let other = app.login(&other).await;
    let m = csv(app, &other, "/altrove/presidenza/ministero.csv?anno=2025").await;
    assert_eq!(
        rows(&m),
        [
            MINISTRY_HEADER_ROW.to_vec(),
            vec!["Totale", "0", "0", "0", "0", "0", "0", "0"]
        ]
    );
    let months = csv(
        app,
        &other,
        &format!("/altrove/presidenza/statistiche.csv?{PERIOD}&grafico=entrate-decisioni"),
    )
    .await;
    assert!(months[1..].iter().all(|r| r[1] == "0" && r[2] == "0"));
    // Nothing decided there: no median to show, not a median of zero days.
    let t = csv(
        app,
        &other,
        &format!("/altrove/presidenza/statistiche.csv?{PERIOD}&grafico=tempi-decisione"),
    )
    .await;
    assert_eq!(rows(&t)[1], ["Mediana", "–", "0"]);
    for path in [
        format!("/{SLUG}/presidenza"),
        format!("/{SLUG}/presidenza/ministero.csv?anno=2025"),
    ] {
        let res = other.client.get(app.url(&path)).send().await.unwrap();
        assert_ne!(res.status(), 200, "{path}");
        assert!(!res.text().await.unwrap().contains("Famiglia"));
    }
}

const MINISTRY_HEADER_ROW: [&str; 8] = [
    "Materia",
    "Istanze presentate",
    "di cui richiedenti italiani",
    "di cui richiedenti stranieri",
    "di cui enti e associazioni",
    "Ammissioni",
    "Rigetti",
    "Inammissibilità",
];

#[tokio::test]
async fn the_page_follows_a_change_live() {
    let w = world().await;
    let app = &w.app;
    let mut ws = open(
        app,
        &w.president,
        "/ws?vista=statistiche&area=presidenza&fino_a=2025-06",
    )
    .await;
    // Today's application is registered by the secretariat over HTTP: an event of the Ordine.
    // The open applications are still three, and the page is pushed again with its figures.
    let page = format!("/{SLUG}/presidenza");
    let (_, before) = w.president.page(app, &page).await;
    let seg = app.login(&w.of.secretariat).await;
    let number = crate::workflow::register(app, &seg, w.today).await;
    assert!(!before.contains(&number));
    // The application registered now is listed among the oldest by its protocol number.
    let msg = wait_for(&mut ws, &number).await;
    assert!(msg.contains("id=\"statistiche\"") && msg.contains("id=\"pratiche-aperte\""));
    // The figures computed before the change are not served again: the page has it too.
    let (_, after) = w.president.page(app, &page).await;
    assert!(after.contains(&number));
}
