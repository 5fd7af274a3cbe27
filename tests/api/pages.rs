use patrocinio::{domain::access::Role, store::tenants::TenantSettings};

use crate::helpers::spawn_app;

#[tokio::test]
async fn the_four_areas_have_their_entry_pages() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant("ordine-prova", TenantSettings::default())
        .await;
    // One person may hold several roles.
    let user = app
        .user(
            "ordine-prova",
            "tutti@ordine.it",
            &[Role::Segreteria, Role::Consigliere, Role::Avvocato],
            true,
            None,
        )
        .await;
    let me = app.login(&user).await;
    for (path, heading) in [
        (
            "/ordine-prova/istanza",
            "Istanza di ammissione al patrocinio a spese dello Stato",
        ),
        ("/ordine-prova/segreteria", "Area della segreteria"),
        ("/ordine-prova/consiglieri", "Area dei consiglieri relatori"),
        ("/ordine-prova/avvocati", "Area degli avvocati"),
    ] {
        let res = me.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains(&format!("<h1>{heading}</h1>")),
            "{path}: {body}"
        );
        assert!(body.contains(&tenant.name), "{path} shows the Ordine");
    }
}

#[tokio::test]
async fn home_pages_lead_to_the_ordini_and_their_areas() {
    let app = spawn_app().await;
    let body = app.get("/").await.text().await.unwrap();
    assert!(body.contains("Nessun Ordine è ancora attivo"));

    app.create_tenant("ordine-prova", TenantSettings::default())
        .await;
    let body = app.get("/").await.text().await.unwrap();
    assert!(body.contains("href=\"/ordine-prova\""));
    let body = app.get("/ordine-prova").await.text().await.unwrap();
    for area in ["istanza", "segreteria", "consiglieri", "avvocati"] {
        assert!(
            body.contains(&format!("href=\"/ordine-prova/{area}\"")),
            "{area}"
        );
    }
}

#[tokio::test]
async fn pages_link_only_to_vendored_assets_that_exist() {
    let app = spawn_app().await;
    app.create_tenant("ordine-prova", TenantSettings::default())
        .await;
    let body = app.get("/ordine-prova/istanza").await.text().await.unwrap();
    let links: Vec<&str> = body
        .split("\"")
        .filter(|s| s.starts_with("/assets/"))
        .map(|s| s.split('#').next().unwrap())
        .collect();
    assert!(links.iter().any(|l| l.ends_with("htmx.min.js")));
    assert!(
        links
            .iter()
            .any(|l| l.ends_with("bootstrap-italia.min.css"))
    );
    assert!(!body.contains("https://"), "no CDN or third-party resource");
    for link in links {
        let res = app.get(link).await;
        assert_eq!(res.status(), 200, "{link}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
    }
}
