use patrocinio::{store::tenants::TenantSettings, web};

use crate::helpers::{spawn_app, spawn_app_with};

/// Concrete paths for every GET route of the router, plus error pages.
async fn every_path(slug: &str) -> Vec<String> {
    let mut paths: Vec<String> = web::route_table()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| {
            r.path
                .replace("{slug}", slug)
                .replace("{version}", &web::assets::VERSION)
                .replace("{*path}", "css/app.css")
        })
        .collect();
    paths.push("/non-esiste".into());
    paths.push(format!("/{slug}/non-esiste"));
    paths.push("/altro-ordine/istanza".into());
    paths
}

fn assert_security_headers(path: &str, res: &reqwest::Response) {
    let h = res.headers();
    let csp = h
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("{path}: no CSP"))
        .to_str()
        .unwrap();
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors ",
    ] {
        assert!(
            csp.contains(directive),
            "{path}: CSP lacks {directive}: {csp}"
        );
    }
    assert!(
        !csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"),
        "{path}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
    assert_eq!(h["referrer-policy"], "same-origin", "{path}");
    assert!(h.contains_key("cache-control"), "{path}");
    assert!(h.contains_key("x-request-id"), "{path}");
}

#[tokio::test]
async fn every_route_carries_the_security_headers() {
    let app = spawn_app().await;
    app.create_tenant("ordine-prova", TenantSettings::default())
        .await;
    for path in every_path("ordine-prova").await {
        let res = app.get(&path).await;
        assert_security_headers(&path, &res);
        assert!(
            !res.headers().contains_key("strict-transport-security"),
            "{path}: no HSTS over plain HTTP"
        );
        // A POST to any of them is refused (or sent to the login), and still carries the headers.
        let res = app.client.post(app.url(&path)).send().await.unwrap();
        assert!(
            res.status().is_client_error() || res.status().is_redirection(),
            "{path}: {}",
            res.status()
        );
        assert_security_headers(&path, &res);
    }
}

#[tokio::test]
async fn hsts_when_the_public_url_is_https() {
    let app = spawn_app_with(|c| c.public_url = Some("https://patrocinio.example.it".into())).await;
    app.create_tenant("ordine-prova", TenantSettings::default())
        .await;
    for path in every_path("ordine-prova").await {
        let res = app.get(&path).await;
        assert_eq!(
            res.headers()["strict-transport-security"],
            "max-age=31536000; includeSubDomains",
            "{path}"
        );
    }
}

#[tokio::test]
async fn only_the_public_form_may_be_framed_and_only_by_the_ordine_sites() {
    let app = spawn_app().await;
    app.create_tenant(
        "ordine-prova",
        TenantSettings {
            embed_origins: vec!["https://www.ordineavvocati-prova.example.it".into()],
            ..TenantSettings::default()
        },
    )
    .await;
    let csp = |res: &reqwest::Response| {
        res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let form = app.get("/ordine-prova/istanza").await;
    assert!(
        csp(&form).ends_with("frame-ancestors 'self' https://www.ordineavvocati-prova.example.it"),
        "{}",
        csp(&form)
    );
    for path in ["/ordine-prova/segreteria", "/ordine-prova", "/", "/health"] {
        let res = app.get(path).await;
        assert!(csp(&res).ends_with("frame-ancestors 'none'"), "{path}");
    }

    // An Ordine that allowed nobody is not framed at all.
    app.create_tenant("altro-ordine", TenantSettings::default())
        .await;
    let res = app.get("/altro-ordine/istanza").await;
    assert!(csp(&res).ends_with("frame-ancestors 'none'"));
}

#[tokio::test]
async fn assets_are_cached_for_a_year_pages_never() {
    let app = spawn_app().await;
    let asset = app
        .get(&web::assets::url("vendor/htmx-2.0.11/htmx.min.js"))
        .await;
    assert_eq!(asset.status(), 200);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(
        asset.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    let page = app.get("/").await;
    assert_eq!(page.headers()["cache-control"], "no-store");
    // Another build's hash still gets the file, but not cached under that name.
    let old = app.get("/assets/000000000000/css/app.css").await;
    assert_eq!(old.status(), 200);
    assert_eq!(old.headers()["cache-control"], "no-cache");
    assert_eq!(
        app.get(&web::assets::url("css/nope.css")).await.status(),
        404
    );
}
