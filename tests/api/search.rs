//! Search in every staff area: by names (accents and case ignored, the start of a word, one
//! letter wrong), codice fiscale, code and protocol number; never beyond what the person may see.

use patrocinio::domain::{access::Role, codice_fiscale::Sex};
use uuid::Uuid;

use crate::{
    helpers::{LoggedIn, TestApp, spawn_app},
    public_form::{ordine, person_cf},
    workflow::{SLUG, register, submitted},
};

async fn search(app: &TestApp, who: &LoggedIn, area: &str, q: &str) -> String {
    let url = format!("/{SLUG}/{area}/cerca?q={}", url_escape(q));
    let (status, page) = who.page(app, &url).await;
    assert_eq!(status, 200, "{url}");
    page
}

fn url_escape(q: &str) -> String {
    url::form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

fn found(page: &str, id: Uuid) -> bool {
    page.contains(&format!("id=\"pratica-{id}\""))
}

#[tokio::test]
async fn every_key_finds_the_application_and_nothing_beyond_what_one_may_see() {
    let app = spawn_app().await;
    let of = crate::workflow::office(&app).await;
    let (id, code) = submitted(&app, &of.o).await;
    let (other, _) = submitted(&app, &of.o).await;
    // Names with accents, a household member, written as people write them.
    let member_cf = person_cf("Gialli", "Lucia", 2010, 1, 1, Sex::F);
    let mut conn = app.admin_connection().await;
    let household = serde_json::json!({
        "lives_alone": false,
        "members": [{ "id": "m1", "surname": "Gialli", "given_name": "Lucìa",
                      "relationship": "figlio", "codice_fiscale": member_cf }],
    });
    sqlx::query(
        "UPDATE app.applications SET applicant_name = 'Niccolò D''Àmico',
             form = jsonb_set(jsonb_set(form, '{household}', $2),
                 '{case,counterparty_name}', '\"Ferri Ottavio\"'),
             counterparty_name = 'Ferri Ottavio'
         WHERE id = $1",
    )
    .bind(id)
    .bind(sqlx::types::Json(&household))
    .execute(&mut conn)
    .await
    .unwrap();
    let seg = app.login(&of.secretariat).await;
    let number = register(&app, &seg, id).await;
    for q in [
        "niccolo",
        "NICCOLÒ d'amico",
        "Nicc",
        "damico",
        "Niccoló Damico",
        "Nicolo", // one letter missing
        "Gialli",
        "lucia gial",
        "ferri",
        "Ottavo",  // one letter wrong
        "Bianchi", // the lawyer
        &code,
        &code.replace('-', "").to_lowercase(),
        &person_cf("Rossi", "Mario", 1985, 12, 10, Sex::M).to_lowercase(),
        &member_cf.to_lowercase(),
        &number,
    ] {
        let page = search(&app, &seg, "segreteria", q).await;
        assert!(found(&page, id), "«{q}» did not find it");
    }
    let page = search(&app, &seg, "segreteria", "Niccolò").await;
    assert!(
        !found(&page, other),
        "the other application is not Niccolò's"
    );
    let (number_only, year) = number
        .split_once('/')
        .map(|(y, n)| (n.trim_start_matches('0').to_owned(), y.to_owned()))
        .unwrap();
    for q in [format!("{number_only}/{year}"), number_only.clone()] {
        let page = search(&app, &seg, "segreteria", &q).await;
        assert!(found(&page, id), "protocol «{q}»");
    }
    let page = search(&app, &seg, "segreteria", "Zanzibar").await;
    assert!(page.contains("Nessuna istanza corrisponde alla ricerca."));

    // The code box of the board takes a name too: it searches.
    let res = seg
        .post(
            &app,
            &format!("/{SLUG}/segreteria/acquisisci"),
            &[("codice", "Niccolò")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .contains("/segreteria/cerca?q=Niccol")
    );

    // The protocol register searches its entries.
    let (_, page) = seg
        .page(
            &app,
            &format!("/{SLUG}/segreteria/protocollo?q={}", url_escape(&code)),
        )
        .await;
    assert!(page.contains(&number));

    // A councillor sees only what is assigned to them; a lawyer only their own.
    let rossi = app.login(&of.councillors[0]).await;
    assert!(!found(
        &search(&app, &rossi, "consiglieri", "niccolo").await,
        id
    ));
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
    assert!(!found(
        &search(&app, &marco, "avvocati", "niccolo").await,
        id
    ));
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
    assert!(
        found(&search(&app, &anna, "avvocati", "niccolo").await, id),
        "her client"
    );

    // Another Ordine's secretariat finds nothing of this one.
    ordine(&app, "altrove").await;
    let elsewhere = app
        .user(
            "altrove",
            "segreteria@altrove.example.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;
    let elsewhere = app.login(&elsewhere).await;
    let (_, page) = elsewhere
        .page(
            &app,
            &format!("/altrove/segreteria/cerca?q={}", url_escape(&code)),
        )
        .await;
    assert!(!found(&page, id));
    let (_, page) = elsewhere
        .page(&app, "/altrove/segreteria/cerca?q=niccolo")
        .await;
    assert!(!found(&page, id));
}
