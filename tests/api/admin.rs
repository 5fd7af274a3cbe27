//! The Ordine's administration: settings, competence map, legal-aid lists.

use patrocinio::domain::access::Role;

use crate::{
    helpers::{LoggedIn, TestApp, spawn_app},
    public_form::{ordine, png},
};

async fn admin(app: &TestApp) -> LoggedIn {
    let a = app
        .user(
            "vallenera",
            "admin@ordine.it",
            &[Role::Amministratore],
            true,
            None,
        )
        .await;
    app.login(&a).await
}

fn settings_form(
    me: &LoggedIn,
    fields: &[(&str, &str)],
    logo: Option<Vec<u8>>,
) -> reqwest::multipart::Form {
    // The session's CSRF token comes first, as the page's form sends it.
    let mut form = reqwest::multipart::Form::new().text("_csrf", me.csrf.clone());
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    if let Some(bytes) = logo {
        form = form.part(
            "logo",
            reqwest::multipart::Part::bytes(bytes).file_name("logo.png"),
        );
    }
    form
}

#[tokio::test]
async fn settings_are_validated_saved_and_used() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let me = admin(&app).await;
    let url = app.url("/vallenera/amministrazione/impostazioni");

    let res = me
        .client
        .post(&url)
        .multipart(settings_form(
            &me,
            &[
                ("nome", "Consiglio dell'Ordine degli Avvocati di Vallenera"),
                ("pec", "segreteria@pec.vallenera.it"),
                ("giorni_integrazione", "20"),
                ("incorporamento", "http://www.ordine.example.it"),
            ],
            None,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    assert!(body.contains("«http://www.ordine.example.it» non è un indirizzo https:// valido"));
    assert!(body.contains("value=\"20\""), "typed values are kept");

    let res = me
        .client
        .post(&url)
        .multipart(settings_form(
            &me,
            &[
                (
                    "nome",
                    "Consiglio dell'Ordine degli Avvocati di Vallenera Alta",
                ),
                ("pec", "Segreteria@PEC.vallenera.it"),
                ("giorni_integrazione", "20"),
                ("incorporamento", "https://www.ordine.example.it/\n"),
            ],
            Some(png()),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Impostazioni salvate."));

    let page = app.get("/vallenera/istanza").await;
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .ends_with("frame-ancestors 'self' https://www.ordine.example.it")
    );
    let body = page.text().await.unwrap();
    assert!(body.contains("Vallenera Alta"));
    assert!(body.contains("src=\"/vallenera/logo\""));
    let logo = app.get("/vallenera/logo").await;
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.bytes().await.unwrap().to_vec(), png());

    // A text file is not a logo.
    let res = me
        .client
        .post(&url)
        .multipart(settings_form(
            &me,
            &[
                ("nome", "Ordine di Vallenera"),
                ("giorni_integrazione", "15"),
            ],
            Some(b"not an image".to_vec()),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("PNG o JPEG"));
}

#[tokio::test]
async fn every_settings_error_is_shown_at_once_with_everything_typed() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let me = admin(&app).await;
    let url = app.url("/vallenera/amministrazione/impostazioni");
    let res = me
        .client
        .post(&url)
        .multipart(settings_form(
            &me,
            &[
                ("nome", "Or"),
                ("pec", "non-una-pec"),
                ("giorni_integrazione", "120"),
                (
                    "incorporamento",
                    "http://www.ordine.example.it\nhttps://ok.example.it\nftp://altro.example.it",
                ),
                ("oidc_emittente", "ftp://id.example.it"),
                ("oidc_etichetta", "SPID di prova"),
                ("oidc_acr", "https://www.spid.gov.it/SpidL2"),
                ("oidc_secondo_fattore", "1"),
            ],
            Some(b"not an image".to_vec()),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body = res.text().await.unwrap();
    for message in [
        "Ci sono 9 dati da correggere",
        "Indicare la denominazione dell'Ordine.",
        "La PEC non è un indirizzo valido.",
        "I giorni per l'integrazione devono essere un numero da 1 a 90.",
        "«http://www.ordine.example.it» non è un indirizzo https:// valido",
        "«ftp://altro.example.it» non è un indirizzo https:// valido",
        "Il logo deve essere un'immagine PNG o JPEG.",
        "L'emittente OpenID Connect deve essere un indirizzo https://",
        "Indicare il client ID assegnato dal provider.",
        "Indicare il client secret, oppure scegliere la chiave dell'Ordine.",
    ] {
        assert!(body.contains(message), "{message}");
    }
    for typed in [
        "value=\"Or\"",
        "value=\"non-una-pec\"",
        "value=\"120\"",
        "https://ok.example.it",
        "value=\"ftp://id.example.it\"",
        "value=\"SPID di prova\"",
        "value=\"https://www.spid.gov.it/SpidL2\"",
    ] {
        assert!(body.contains(typed), "typed value kept: {typed}");
    }
    assert!(
        body.contains(
            "id=\"oidc_secondo_fattore\" name=\"oidc_secondo_fattore\" value=\"1\" checked"
        ),
        "ticked box kept"
    );
    assert!(body.contains("aria-invalid=\"true\""), "fields marked");
}

#[tokio::test]
async fn the_competence_map_drives_the_public_form() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let me = admin(&app).await;
    let res = me
        .client
        .post(app.url("/vallenera/amministrazione/uffici"))
        .form(&[
            ("_csrf", me.csrf.as_str()),
            ("nome", "Giudice di pace di Borgo Alto"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Giudice di pace di Borgo Alto"));

    let draft = crate::public_form::new_draft(&app, "vallenera").await;
    let (_, step) = draft.get_text("chi-presenta").await;
    assert!(step.contains("Giudice di pace di Borgo Alto"));

    // Taken off the map: no longer offered.
    let mut tx = app
        .db
        .tenant_tx(crate::public_form::tenant_of(&app, "vallenera").await)
        .await
        .unwrap();
    let id: uuid::Uuid =
        sqlx::query_scalar("SELECT id FROM judicial_offices WHERE name LIKE '%Borgo Alto'")
            .fetch_one(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    let target = format!("/vallenera/amministrazione/uffici/{id}");
    let res = me
        .client
        .post(app.url(&target))
        .form(&[("_csrf", me.csrf.as_str()), ("attivo", "no")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, step) = draft.get_text("chi-presenta").await;
    assert!(!step.contains("Giudice di pace di Borgo Alto"));
}

#[tokio::test]
async fn legal_aid_lists_are_corrected_by_hand() {
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let me = admin(&app).await;
    let page = me
        .client
        .get(app.url("/vallenera/amministrazione/elenchi?cerca=bianchi"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Avv. Anna Bianchi"));
    // Off the civil list, on the accounting one.
    let res = me
        .client
        .post(app.url(&format!("/vallenera/amministrazione/elenchi/{}", o.lawyer)))
        .form(&[
            ("_csrf", me.csrf.as_str()),
            ("materie", "contabile"),
            ("cerca", "bianchi"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("Elenchi aggiornati."));
    let draft = crate::public_form::new_draft(&app, "vallenera").await;
    draft
        .step_ok(
            "chi-presenta",
            &[
                ("filed_by", "avvocato"),
                ("matter", "civile"),
                ("judicial_office", &o.office.to_string()),
            ],
            "richiedente",
        )
        .await;
    let (_, step) = draft.get_text("avvocato").await;
    assert!(
        !step.contains("Anna Bianchi"),
        "no longer on the civil list"
    );
}

#[tokio::test]
async fn only_administrators_reach_the_administration() {
    let app = spawn_app().await;
    ordine(&app, "vallenera").await;
    let u = app
        .user(
            "vallenera",
            "seg@ordine.it",
            &[Role::Segreteria],
            true,
            None,
        )
        .await;
    let me = app.login(&u).await;
    for path in [
        "impostazioni",
        "uffici",
        "elenchi",
        "albo",
        "utenti",
        "registro",
    ] {
        let res = me
            .client
            .get(app.url(&format!("/vallenera/amministrazione/{path}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "{path}");
    }
}
