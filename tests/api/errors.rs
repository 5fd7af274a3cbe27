use crate::helpers::spawn_app;

#[tokio::test]
async fn unknown_page_is_an_italian_404_page() {
    let app = spawn_app().await;
    let res = app.get("/questa/pagina/non/esiste").await;
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let body = res.text().await.unwrap();
    assert!(body.contains("<html lang=\"it\">"));
    assert!(body.contains("Pagina non trovata"));
    assert!(body.contains("Torna alla pagina iniziale"));
}

#[tokio::test]
async fn unknown_ordine_is_a_404() {
    let app = spawn_app().await;
    let res = app.get("/nessuno/istanza").await;
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("Pagina non trovata"));
}

#[tokio::test]
async fn htmx_requests_get_a_fragment_aimed_at_the_alert_area() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/non-esiste"))
        .header("HX-Request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["hx-retarget"], "#avvisi");
    assert_eq!(res.headers()["hx-reswap"], "innerHTML");
    let body = res.text().await.unwrap();
    assert!(!body.contains("<html"), "a fragment, not a page: {body}");
    assert!(body.contains("role=\"alert\""));
    assert!(body.contains("Pagina non trovata"));
}

#[tokio::test]
async fn wrong_method_is_explained_in_italian() {
    let app = spawn_app().await;
    let res = app.client.post(app.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    assert!(res.headers().contains_key("allow"));
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Operazione non consentita")
    );
}

#[tokio::test]
async fn cross_site_posts_are_refused() {
    let app = spawn_app().await;
    let tenant = app
        .create_tenant(
            "ordine-prova",
            patrocinio::store::tenants::TenantSettings::default(),
        )
        .await;
    let url = app.url(&format!("/{}/istanza/nuova", tenant.slug));
    let res = app
        .client
        .post(&url)
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Operazione non consentita")
    );
    let res = app
        .client
        .post(&url)
        .header("Sec-Fetch-Site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // From our own page: accepted.
    let res = app
        .client
        .post(&url)
        .header("Origin", app.address.as_str())
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
