//! The lists of every area: filters in the URL that narrow what is shown, keyset pages that
//! give every row once, exports (CSV and .xlsx) that carry what the list shows and are
//! recorded in the audit log, and live updates that respect the filter in force.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;
use std::time::Duration;

use futures_util::StreamExt;
use patrocinio::domain::access::Role;
use sqlx::Executor;
use tokio_tungstenite::{connect_async, tungstenite::client::IntoClientRequest};
use uuid::Uuid;

use crate::{
    helpers::{LoggedIn, TestApp, spawn_app},
    workflow::{SLUG, between, copies, office, register, submitted},
};

/// The application ids listed in a section of a page (by their row ids).
fn ids_in(html: &str) -> Vec<Uuid> {
    html.match_indices("id=\"pratica-")
        .filter_map(|(i, m)| Uuid::parse_str(html.get(i + m.len()..i + m.len() + 36)?).ok())
        .collect()
}

/// The rows of the main list of an area's page.
fn listed(page: &str, section: &str) -> Vec<Uuid> {
    let part = between(page, &format!("id=\"{section}\""), "</section>")
        .unwrap_or_else(|| panic!("no section {section} in the page"));
    ids_in(part)
}

/// The link to the next page, if any.
fn next_link(page: &str) -> Option<String> {
    let href = between(page, "rel=\"next\" href=\"", "\"")?;
    Some(href.replace("&amp;", "&"))
}

async fn sql(app: &TestApp, query: &str) {
    let mut conn = app.admin_connection().await;
    conn.execute(query).await.unwrap();
}

/// Every page of a list from `first`, following "Pagina successiva"; `between_pages` runs
/// after each page load (to change the data in between).
async fn all_pages(
    app: &TestApp,
    who: &LoggedIn,
    first: &str,
    section: &str,
    mut between_pages: impl AsyncFnMut(usize),
) -> Vec<Vec<Uuid>> {
    let mut pages = Vec::new();
    let mut url = Some(first.to_owned());
    while let Some(u) = url {
        let (status, page) = who.page(app, &u).await;
        assert_eq!(status, 200, "{u}");
        pages.push(listed(&page, section));
        url = next_link(&page);
        between_pages(pages.len()).await;
        assert!(pages.len() < 20, "paging never ends");
    }
    pages
}

/// A submitted application and `n` more like it, each filed a minute before the previous.
async fn many(app: &TestApp, of: &crate::workflow::Office, n: usize) -> Vec<Uuid> {
    let (id, _) = submitted(app, &of.o).await;
    let mut ids = vec![id];
    ids.extend(copies(app, id, n - 1).await);
    let mut conn = app.admin_connection().await;
    for (i, id) in ids.iter().enumerate() {
        sqlx::query(
            "UPDATE app.applications SET submitted_at = now() - make_interval(mins => $2)
             WHERE id = $1",
        )
        .bind(id)
        .bind(i as i32)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    ids
}

/// `n` more applications like `template`, filed now, with codes of their own.
async fn arrive(app: &TestApp, template: Uuid, n: usize) -> Vec<Uuid> {
    let mut conn = app.admin_connection().await;
    let mut ids = Vec::new();
    for _ in 0..n {
        let id = Uuid::new_v4();
        let hex = id.simple().to_string().to_uppercase();
        sqlx::query(
            "INSERT INTO app.applications (id, tenant_id, code, pin_hash, state, channel, form,
                 matter, filed_by, applicant_name, applicant_cf, lawyer_id, submitted_at)
             SELECT $2, tenant_id, $3, pin_hash, state, channel, form, matter, filed_by,
                 applicant_name, applicant_cf, lawyer_id, now()
             FROM app.applications WHERE id = $1",
        )
        .bind(template)
        .bind(id)
        .bind(format!("{}-{}", &hex[..4], &hex[4..8]))
        .execute(&mut conn)
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

fn set(ids: &[Uuid]) -> BTreeSet<Uuid> {
    ids.iter().copied().collect()
}

#[tokio::test]
async fn each_filter_in_the_url_narrows_the_board_and_the_page_says_what_was_wrong() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let ids = many(&app, &of, 12).await;
    let rossi = of.councillors[0].id;
    let mut conn = app.admin_connection().await;
    // 0-3 penale; 2-5 by PEC; 4 and 6 urgent; 6-9 registered in March and assigned to Rossi;
    // 8-9 admitted in April.
    for (range, set_sql) in [
        (0..4, "matter = 'penale'"),
        (2..6, "channel = 'pec'"),
        (4..5, "urgent = true, urgent_reason = 'Udienza'"),
        (6..7, "urgent = true, urgent_reason = 'Udienza'"),
        (
            6..10,
            "state = 'in_istruttoria', protocol_at = '2026-03-10 10:00+01', rapporteur_id = $2",
        ),
        (
            8..10,
            "state = 'ammessa', decided_at = '2026-04-02 09:00+02'",
        ),
    ] {
        for id in &ids[range] {
            sqlx::query(&format!(
                "UPDATE app.applications SET {set_sql} WHERE id = $1 AND $2::uuid IS NOT NULL"
            ))
            .bind(id)
            .bind(rossi)
            .execute(&mut conn)
            .await
            .unwrap();
        }
    }
    let seg = app.login(&of.secretariat).await;
    let board = |q: &str| format!("/{SLUG}/segreteria?{q}");
    for (query, expected) in [
        ("stato=tutte", (0..12).collect::<Vec<_>>()),
        ("stato=presentata", vec![0, 1, 2, 3, 4, 5, 10, 11]),
        ("", vec![6, 7]), // the default: still to decide
        ("stato=concluse", vec![8, 9]),
        ("stato=tutte&materia=penale", vec![0, 1, 2, 3]),
        ("stato=tutte&canale=pec", vec![2, 3, 4, 5]),
        ("stato=tutte&materia=penale&canale=pec", vec![2, 3]),
        ("stato=tutte&urgenti=si", vec![4, 6]),
        (
            "stato=tutte&urgenti=no",
            vec![0, 1, 2, 3, 5, 7, 8, 9, 10, 11],
        ),
        (&format!("stato=tutte&relatore={rossi}"), vec![6, 7, 8, 9]),
        (
            "stato=tutte&data=protocollo&dal=2026-03-01&al=2026-03-10",
            vec![6, 7, 8, 9],
        ),
        ("stato=tutte&data=protocollo&al=2026-03-09", vec![]),
        ("stato=tutte&data=decisione&dal=02/04/2026", vec![8, 9]),
        ("stato=tutte&data=decisione&dal=2026-04-03", vec![]),
    ] {
        let (status, page) = seg.page(&app, &board(query)).await;
        assert_eq!(status, 200, "{query}");
        let shown = listed(&page, "in-corso");
        let want: Vec<Uuid> = expected.iter().map(|i| ids[*i]).collect();
        assert_eq!(set(&shown), set(&want), "«{query}»");
        assert_eq!(shown.len(), want.len(), "«{query}»: a row twice");
    }
    // Urgent first, then the order asked for: the newest filed, the oldest filed.
    let (_, page) = seg.page(&app, &board("stato=tutte&ordine=recenti")).await;
    let mut want: Vec<Uuid> = vec![ids[4], ids[6]];
    want.extend(
        ids.iter()
            .enumerate()
            .filter(|(i, _)| ![4, 6].contains(i))
            .map(|(_, id)| *id),
    );
    assert_eq!(listed(&page, "in-corso"), want);
    let (_, page) = seg
        .page(&app, &board("stato=tutte&ordine=meno_recenti"))
        .await;
    let mut want: Vec<Uuid> = vec![ids[6], ids[4]];
    want.extend(
        ids.iter()
            .enumerate()
            .rev()
            .filter(|(i, _)| ![4, 6].contains(i))
            .map(|(_, id)| *id),
    );
    assert_eq!(listed(&page, "in-corso"), want);
    // The filters stay in the form, chosen as in the URL.
    let (_, page) = seg
        .page(&app, &board("stato=tutte&materia=penale&canale=pec"))
        .await;
    assert!(
        page.contains("<option value=\"penale\" selected"),
        "materia kept"
    );
    assert!(
        page.contains("<option value=\"pec\" selected"),
        "canale kept"
    );
    // The filings still to register are listed there, not again above.
    let intake = between(&page, "id=\"da-acquisire\"", "</section>").unwrap();
    assert!(ids_in(intake).is_empty());
    // The intake section follows the same filters (besides the state) when the list shows
    // the cases under way.
    let (_, page) = seg.page(&app, &board("materia=penale&canale=pec")).await;
    let intake = between(&page, "id=\"da-acquisire\"", "</section>").unwrap();
    assert_eq!(set(&ids_in(intake)), set(&[ids[2], ids[3]]));
    assert!(listed(&page, "in-corso").is_empty());

    // A wrong date: said next to its field, the typed text kept, the other filters applied.
    let (status, page) = seg
        .page(&app, &board("stato=tutte&materia=penale&dal=31/02/2026"))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains("La data non è valida: scriverla come gg/mm/aaaa"));
    assert!(page.contains("value=\"31/02/2026\""));
    assert_eq!(listed(&page, "in-corso").len(), 4);
    let (_, page) = seg
        .page(&app, &board("stato=tutte&dal=2026-04-02&al=2026-04-01"))
        .await;
    assert!(page.contains("La data finale precede quella iniziale"));
    let (_, page) = seg.page(&app, &board("materia=astrologia")).await;
    assert!(page.contains("Scegliere la materia dall'elenco."));
}

#[tokio::test]
async fn keyset_pages_give_every_row_once_even_when_rows_arrive_between_page_loads() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let ids = many(&app, &of, 130).await;
    // A few urgent ones, spread out.
    sql(
        &app,
        &format!(
            "UPDATE app.applications SET urgent = true, urgent_reason = 'Udienza'
             WHERE id IN ('{}', '{}', '{}')",
            ids[7], ids[70], ids[129]
        ),
    )
    .await;
    // Two wait for documents asked three days ago: their ten days stand still, so by deadline
    // they come after every other (filed in the last hours), the earlier filed first.
    sql(
        &app,
        &format!(
            "INSERT INTO app.integration_requests (tenant_id, application_id, requested_by,
                 requested_at, due_on, questions)
             SELECT a.tenant_id, a.id, (SELECT u.id FROM app.users u
                                          WHERE u.tenant_id = a.tenant_id LIMIT 1),
                 now() - interval '3 days', current_date + 7, ARRAY['Il contratto']
             FROM app.applications a WHERE a.id IN ('{}', '{}')",
            ids[10], ids[20]
        ),
    )
    .await;
    let seg = app.login(&of.secretariat).await;
    // The board shows the oldest 50 filings still to register and links to all of them.
    let (_, board) = seg.page(&app, &format!("/{SLUG}/segreteria")).await;
    assert_eq!(listed(&board, "da-acquisire").len(), 50);
    assert!(board.contains("?stato=presentata&amp;ordine=meno_recenti"));
    for order in ["scadenza", "recenti", "meno_recenti", "protocollo"] {
        let first = format!("/{SLUG}/segreteria?stato=presentata&ordine={order}");
        let mut added = Vec::new();
        let pages = all_pages(&app, &seg, &first, "in-corso", async |n| {
            // After each page, two more filings arrive: one filed now, one long ago.
            if n <= 2 {
                let fresh = arrive(&app, ids[0], 2).await;
                let mut conn = app.admin_connection().await;
                sqlx::query(
                    "UPDATE app.applications SET submitted_at = now() - interval '30 days'
                     WHERE id = $1",
                )
                .bind(fresh[1])
                .execute(&mut conn)
                .await
                .unwrap();
                added.extend(fresh);
            }
        })
        .await;
        assert_eq!(pages.len(), 3, "{order}: 130 rows and more, 50 a page");
        assert!(pages.iter().take(2).all(|p| p.len() == 50), "{order}");
        let seen: Vec<Uuid> = pages.concat();
        let unique = set(&seen);
        assert_eq!(unique.len(), seen.len(), "{order}: a row on two pages");
        for id in &ids {
            assert!(unique.contains(id), "{order}: a row was never shown");
        }
        assert!(
            seen.iter().all(|id| ids.contains(id) || added.contains(id)),
            "{order}"
        );
        if order == "scadenza" {
            assert_eq!(
                seen[seen.len() - 2..],
                [ids[20], ids[10]],
                "the stopped clocks last"
            );
        }
        // Remove the arrivals before the next order.
        for id in added {
            sql(
                &app,
                &format!("DELETE FROM app.applications WHERE id = '{id}'"),
            )
            .await;
        }
    }
    // A cursor that was tampered with is ignored: the first page.
    let (status, page) = seg
        .page(
            &app,
            &format!("/{SLUG}/segreteria?stato=presentata&dopo=1~1%3BDROP~x"),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed(&page, "in-corso").len(), 50);
}

/// The rows of an .xlsx's first sheet, as text.
fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("an .xlsx is a zip");
    let mut read = |name: &str| {
        let mut s = String::new();
        if let Ok(mut f) = zip.by_name(name) {
            f.read_to_string(&mut s).unwrap();
        }
        s
    };
    let shared_xml = read("xl/sharedStrings.xml");
    let sheet_xml = read("xl/worksheets/sheet1.xml");
    let text_of = |n: roxmltree::Node| -> String {
        n.descendants()
            .filter(|d| d.has_tag_name("t"))
            .filter_map(|d| d.text())
            .collect()
    };
    let shared: Vec<String> = if shared_xml.is_empty() {
        Vec::new()
    } else {
        let doc = roxmltree::Document::parse(&shared_xml).unwrap();
        doc.root_element()
            .children()
            .filter(|n| n.has_tag_name("si"))
            .map(text_of)
            .collect()
    };
    let doc = roxmltree::Document::parse(&sheet_xml).expect("a first sheet");
    let column = |r: &str| -> usize {
        r.chars()
            .take_while(|c| c.is_ascii_uppercase())
            .fold(0, |n, c| n * 26 + (c as usize - 'A' as usize + 1))
            - 1
    };
    doc.descendants()
        .filter(|n| n.has_tag_name("row"))
        .map(|row| {
            let mut cells = Vec::new();
            for c in row.children().filter(|n| n.has_tag_name("c")) {
                let col = column(c.attribute("r").unwrap());
                let value = match c.attribute("t") {
                    Some("s") => {
                        let v = c.children().find(|n| n.has_tag_name("v")).unwrap();
                        shared[v.text().unwrap().parse::<usize>().unwrap()].clone()
                    }
                    Some("inlineStr") => text_of(c),
                    _ => c
                        .children()
                        .find(|n| n.has_tag_name("v"))
                        .and_then(|v| v.text())
                        .unwrap_or("")
                        .to_owned(),
                };
                if cells.len() <= col {
                    cells.resize(col + 1, String::new());
                }
                cells[col] = value;
            }
            cells
        })
        .collect()
}

async fn download(app: &TestApp, who: &LoggedIn, path: &str) -> (u16, String, Vec<u8>) {
    let res = who.client.get(app.url(path)).send().await.unwrap();
    let status = res.status().as_u16();
    let kind = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, kind, res.bytes().await.unwrap().to_vec())
}

const HEADER: &str = "Protocollo;Codice;Presentata il;Registrata il;Richiedente;Materia;Canale;Stato;Relatore;Urgente;Termine;Delibera;Decisa il";

#[tokio::test]
async fn exports_carry_the_filtered_list_as_csv_and_xlsx_and_are_audited() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let ids = many(&app, &of, 8).await;
    let seg = app.login(&of.secretariat).await;
    let number = register(&app, &seg, ids[0]).await;
    sql(
        &app,
        &format!(
            "UPDATE app.applications SET matter = 'penale' WHERE id IN ('{}', '{}', '{}');
             UPDATE app.applications SET applicant_name = '=HYPERLINK(\"http://x\")'
              WHERE id = '{}'",
            ids[0], ids[1], ids[2], ids[2]
        ),
    )
    .await;
    let query = "stato=tutte&materia=penale&ordine=recenti";
    let (_, page) = seg.page(&app, &format!("/{SLUG}/segreteria?{query}")).await;
    let shown = listed(&page, "in-corso");
    assert_eq!(set(&shown), set(&ids[0..3]));
    assert!(page.contains(&format!(
        "/{SLUG}/segreteria/elenco.csv?{}",
        query.replace('&', "&amp;")
    )));

    let (status, kind, csv) = download(
        &app,
        &seg,
        &format!("/{SLUG}/segreteria/elenco.csv?{query}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "a BOM first");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], HEADER);
    assert_eq!(lines.len(), 1 + shown.len(), "{text}");
    // The rows in the list's order, each with its code; the registered one with its number.
    let mut conn = app.admin_connection().await;
    let codes: HashMap<Uuid, String> = sqlx::query_as::<_, (Uuid, String)>(
        "SELECT id, code FROM app.applications WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    for (row, id) in rows.iter().zip(&shown) {
        assert_eq!(row.len(), 13);
        assert_eq!(row[1], codes[id]);
        assert_eq!(row[5], "Procedimento penale");
    }
    let registered = rows.iter().find(|r| r[1] == codes[&ids[0]]).unwrap();
    assert_eq!(registered[0], number);
    assert!(registered[3].contains('/'), "the date of registration");
    // A name that a spreadsheet would run as a formula is made inert.
    let formula = rows.iter().find(|r| r[1] == codes[&ids[2]]).unwrap();
    assert_eq!(formula[4], "'=HYPERLINK(\"http://x\")");

    // The .xlsx has the same rows (the formula as plain text, which a cell of text is).
    let (status, kind, xlsx) = download(
        &app,
        &seg,
        &format!("/{SLUG}/segreteria/elenco.xlsx?{query}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        kind,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    let sheet = xlsx_rows(&xlsx);
    assert_eq!(sheet[0].join(";"), HEADER);
    assert_eq!(sheet.len(), rows.len() + 1);
    for (x, c) in sheet[1..].iter().zip(&rows) {
        let mut x = x.clone();
        x.resize(13, String::new());
        let mut c = c.clone();
        if c[4].starts_with("'=") {
            c[4].remove(0);
        }
        assert_eq!(&x, &c);
    }

    // Both exports are in the audit log: the filters and the number of rows, no names.
    let logged: Vec<(String, serde_json::Value)> = sqlx::query_as(
        "SELECT action, details FROM app.audit_log WHERE action = 'elenco_esportato' ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(logged.len(), 2);
    for ((_, d), format) in logged.iter().zip(["csv", "xlsx"]) {
        assert_eq!(d["formato"], format);
        assert_eq!(d["righe"], 3);
        assert_eq!(d["filtri"], query);
        assert_eq!(d["area"], "segreteria");
        assert!(!d.to_string().contains("HYPERLINK"));
    }

    // A lawyer's export has only their own applications.
    let marco = app
        .user(
            SLUG,
            "marco@avvocati.example.it",
            &[Role::Avvocato],
            false,
            None,
        )
        .await;
    let marco = app.login(&marco).await;
    let (status, _, csv) = download(&app, &marco, &format!("/{SLUG}/avvocati/elenco.csv")).await;
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8(csv[3..].to_vec())
            .unwrap()
            .lines()
            .count(),
        1
    );
    let anna = app
        .user(
            SLUG,
            "anna@avvocati.example.it",
            &[Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let anna = app.login(&anna).await;
    let (_, _, csv) = download(
        &app,
        &anna,
        &format!("/{SLUG}/avvocati/elenco.csv?materia=penale"),
    )
    .await;
    assert_eq!(
        String::from_utf8(csv[3..].to_vec())
            .unwrap()
            .lines()
            .count(),
        4
    );

    // More than the .xlsx carries: the CSV streams every row, in the list's order (urgent
    // first, then the newest), each application once, and the audit says how many; the .xlsx
    // is refused with its bound in the message.
    sql(
        &app,
        &format!(
            "INSERT INTO app.applications (id, tenant_id, code, pin_hash, state, channel, form,
                 matter, submitted_at)
             SELECT gen_random_uuid(), tenant_id, 'Z' || lpad(i::text, 5, '0') || '-ZZZZ',
                 pin_hash, 'presentata', channel, form, 'lavoro', now() - i * interval '1 minute'
             FROM app.applications, generate_series(1, 5001) i WHERE id = '{}'",
            ids[0]
        ),
    )
    .await;
    let (status, _, csv) = download(
        &app,
        &seg,
        &format!("/{SLUG}/segreteria/elenco.csv?stato=tutte&ordine=recenti"),
    )
    .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let codes: Vec<String> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap()[1].to_owned())
        .collect();
    let expected: Vec<String> = sqlx::query_scalar(
        "SELECT code FROM app.applications WHERE state <> 'bozza'
          ORDER BY urgent DESC, submitted_at DESC, id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(expected.len(), 5_009);
    assert_eq!(codes, expected);
    let (righe,): (serde_json::Value,) = sqlx::query_as(
        "SELECT details->'righe' FROM app.audit_log WHERE action = 'elenco_esportato'
          ORDER BY seq DESC LIMIT 1",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(righe, 5_009);
    let (status, _, body) = download(
        &app,
        &seg,
        &format!("/{SLUG}/segreteria/elenco.xlsx?stato=tutte"),
    )
    .await;
    assert_eq!(status, 422);
    let body = String::from_utf8(body).unwrap();
    assert!(
        body.contains(
            "I filtri selezionano 5.009 pratiche: un'esportazione Excel ne contiene al massimo 5.000."
        ),
        "{body}"
    );
    // Narrowed, it goes.
    let (status, _, _) = download(
        &app,
        &seg,
        &format!("/{SLUG}/segreteria/elenco.xlsx?stato=tutte&materia=penale"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_live_change_respects_the_filter_of_the_board_that_receives_it() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (civil, _) = submitted(&app, &of.o).await;
    let (criminal, _) = submitted(&app, &of.o).await;
    sql(
        &app,
        &format!("UPDATE app.applications SET matter = 'penale' WHERE id = '{criminal}'"),
    )
    .await;
    let seg = app.login(&of.secretariat).await;
    let connect = async |path: &str| {
        let mut req = app.ws_url(path).into_client_request().unwrap();
        req.headers_mut()
            .insert("cookie", seg.cookie(&app).parse().unwrap());
        req.headers_mut()
            .insert("origin", app.address.parse().unwrap());
        connect_async(req).await.expect("connect").0
    };
    type Ws = tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >;
    let next = async |ws: &mut Ws| -> Option<String> {
        loop {
            match tokio::time::timeout(Duration::from_secs(15), ws.next()).await {
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                    return Some(t.to_string());
                }
                Ok(Some(Ok(_))) => continue,
                _ => return None,
            }
        }
    };
    let row = |id: Uuid| format!("id=\"pratica-{id}\"");
    // The board filtered on criminal cases, every state.
    let mut filtered = connect("/ws?vista=segreteria&stato=tutte&materia=penale").await;
    let mut everything = connect("/ws?vista=segreteria&stato=tutte").await;
    let snapshot = next(&mut filtered).await.expect("a snapshot");
    assert!(snapshot.contains(&row(criminal)) && !snapshot.contains(&row(civil)));
    next(&mut everything).await.expect("a snapshot");

    // The civil case changes: the unfiltered board receives it, the filtered one does not
    // show it.
    register(&app, &seg, civil).await;
    let all = next(&mut everything).await.expect("the change");
    assert!(all.contains(&row(civil)));
    let pushed = next(&mut filtered)
        .await
        .expect("the change, rendered for the filter");
    assert!(!pushed.contains(&row(civil)), "{pushed}");
    assert!(pushed.contains(&row(criminal)));

    // A board of cases still to register: the criminal case leaves it when registered.
    let mut to_register = connect("/ws?vista=segreteria&stato=presentata&materia=penale").await;
    let snapshot = next(&mut to_register).await.expect("a snapshot");
    assert!(listed(&snapshot, "in-corso").contains(&criminal));
    register(&app, &seg, criminal).await;
    let pushed = next(&mut to_register).await.expect("the change");
    assert!(!listed(&pushed, "in-corso").contains(&criminal), "{pushed}");
    assert!(!pushed.contains(&row(civil)));
}

#[tokio::test]
async fn the_councillor_and_the_lawyer_filter_their_lists_too() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let ids = many(&app, &of, 4).await;
    let rossi = of.councillors[0].id;
    sql(
        &app,
        &format!(
            "UPDATE app.applications SET state = 'in_istruttoria', rapporteur_id = '{rossi}',
                 protocol_at = now() WHERE id IN ('{}', '{}', '{}');
             UPDATE app.applications SET state = 'ammessa', decided_at = now() WHERE id = '{}';
             UPDATE app.applications SET channel = 'posta' WHERE id = '{}'",
            ids[0], ids[1], ids[2], ids[2], ids[1]
        ),
    )
    .await;
    let rel = app.login(&of.councillors[0]).await;
    for (query, want) in [
        ("", vec![ids[0], ids[1]]),
        ("?stato=concluse", vec![ids[2]]),
        ("?stato=tutte&canale=posta", vec![ids[1]]),
    ] {
        let (status, page) = rel.page(&app, &format!("/{SLUG}/consiglieri{query}")).await;
        assert_eq!(status, 200);
        assert_eq!(set(&listed(&page, "da-esaminare")), set(&want), "{query}");
    }
    let anna = app
        .user(
            SLUG,
            "anna@avvocati.example.it",
            &[Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let anna = app.login(&anna).await;
    let (_, page) = anna.page(&app, &format!("/{SLUG}/avvocati")).await;
    assert_eq!(set(&listed(&page, "mie-istanze")), set(&ids));
    let (_, page) = anna
        .page(&app, &format!("/{SLUG}/avvocati?stato=in_istruttoria"))
        .await;
    assert_eq!(set(&listed(&page, "mie-istanze")), set(&ids[0..2]));
}

/// The protocol numbers a page or a file shows, in their order.
fn protocol_numbers(text: &str) -> Vec<String> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(11))
        .filter(|&i| {
            (i == 0 || !bytes[i - 1].is_ascii_digit())
                && bytes[i..i + 4].iter().all(u8::is_ascii_digit)
                && bytes[i + 4] == b'/'
                && bytes[i + 5..i + 12].iter().all(u8::is_ascii_digit)
                && bytes.get(i + 12).is_none_or(|b| !b.is_ascii_digit())
        })
        .map(|i| text[i..i + 12].to_owned())
        .collect()
}

#[tokio::test]
async fn the_protocol_register_exports_what_it_shows_with_the_year_and_search_in_force() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let ids = many(&app, &of, 3).await;
    let seg = app.login(&of.secretariat).await;
    let mut numbers = Vec::new();
    for id in &ids {
        numbers.push(register(&app, &seg, *id).await);
    }
    let year: i32 = numbers[0][..4].parse().unwrap();

    // The page, newest first, and its export links with the year in force.
    let (status, page) = seg
        .page(&app, &format!("/{SLUG}/segreteria/protocollo"))
        .await;
    assert_eq!(status, 200);
    let table = between(&page, "<tbody>", "</tbody>").expect("the register's table");
    let shown = protocol_numbers(table);
    let mut newest_first = numbers.clone();
    newest_first.reverse();
    assert_eq!(shown, newest_first);
    assert!(page.contains(&format!("/{SLUG}/segreteria/protocollo.csv?anno={year}")));
    assert!(page.contains(&format!("/{SLUG}/segreteria/protocollo.xlsx?anno={year}")));

    let (status, kind, csv) = download(
        &app,
        &seg,
        &format!("/{SLUG}/segreteria/protocollo.csv?anno={year}"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(kind, "text/csv; charset=utf-8");
    assert!(csv.starts_with(b"\xEF\xBB\xBF"), "a BOM first");
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    assert_eq!(
        text.lines().next().unwrap(),
        "Numero;Data e ora;Tipo;Oggetto;Registrata da;Impronta SHA-256"
    );
    let rows: Vec<Vec<String>> = csv::ReaderBuilder::new()
        .delimiter(b';')
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    assert_eq!(
        rows.iter().map(|r| r[0].clone()).collect::<Vec<_>>(),
        shown,
        "the rows of the page, in its order"
    );
    for r in &rows {
        assert_eq!(r.len(), 6);
        assert!(r[2].starts_with("entrata, "), "{r:?}");
        // Every cell's text is on the page (the subject, who registered, the digest).
        for cell in [&r[3], &r[4], &r[5]] {
            assert!(!cell.is_empty() && page.contains(cell.as_str()), "{cell}");
        }
    }

    // The search in force narrows the file as it narrows the page.
    let code: String = {
        let mut conn = app.admin_connection().await;
        sqlx::query_scalar("SELECT code FROM app.applications WHERE id = $1")
            .bind(ids[1])
            .fetch_one(&mut conn)
            .await
            .unwrap()
    };
    let (_, page) = seg
        .page(
            &app,
            &format!("/{SLUG}/segreteria/protocollo?anno={year}&q={code}"),
        )
        .await;
    let table = between(&page, "<tbody>", "</tbody>").expect("the register's table");
    assert_eq!(protocol_numbers(table), vec![numbers[1].clone()]);
    let link = format!("/{SLUG}/segreteria/protocollo.xlsx?anno={year}&amp;q={code}");
    assert!(page.contains(&link), "{link}");
    let (status, _, xlsx) = download(&app, &seg, &link.replace("&amp;", "&")).await;
    assert_eq!(status, 200);
    let sheet = xlsx_rows(&xlsx);
    assert_eq!(sheet[0][0], "Numero");
    assert_eq!(sheet.len(), 2);
    assert_eq!(sheet[1][0], numbers[1]);
    let full = rows.iter().find(|r| r[0] == numbers[1]).unwrap();
    let mut cells = sheet[1].clone();
    cells.resize(6, String::new());
    assert_eq!(&cells, full);

    // Both exports are in the audit log with the year, the search and the rows.
    let mut conn = app.admin_connection().await;
    let logged: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT details FROM app.audit_log WHERE action = 'protocollo_esportato' ORDER BY seq",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0]["formato"], "csv");
    assert_eq!(logged[0]["righe"], 3);
    assert_eq!(logged[0]["filtri"], format!("anno={year}"));
    assert_eq!(logged[1]["formato"], "xlsx");
    assert_eq!(logged[1]["righe"], 1);
    assert_eq!(logged[1]["filtri"], format!("anno={year}&q={code}"));

    // A councillor has no access to the register's export.
    let councillor = app.login(&of.councillors[0]).await;
    let (status, _, _) = download(
        &app,
        &councillor,
        &format!("/{SLUG}/segreteria/protocollo.csv?anno={year}"),
    )
    .await;
    assert_ne!(status, 200);
}
