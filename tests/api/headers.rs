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
                .replace("{version}", web::assets::VERSION)
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

/// A GET with `Accept-Encoding` (or none), its body as sent.
async fn fetch(
    app: &crate::helpers::TestApp,
    path: &str,
    accept: Option<&str>,
) -> (reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(app.url(path));
    if let Some(a) = accept {
        req = req.header("accept-encoding", a);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let headers = res.headers().clone();
    (headers, res.bytes().await.unwrap().to_vec())
}

fn decode(encoding: Option<&str>, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match encoding {
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        None => out = body.to_vec(),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

fn varies_on_encoding(h: &reqwest::header::HeaderMap) -> bool {
    h.get_all("vary").iter().any(|v| {
        v.to_str()
            .unwrap()
            .to_ascii_lowercase()
            .contains("accept-encoding")
    })
}

#[tokio::test]
async fn pages_and_assets_are_compressed_as_the_client_accepts() {
    let app = spawn_app().await;
    app.create_tenant("ordine-prova", TenantSettings::default())
        .await;
    let css = web::assets::url("vendor/bootstrap-italia-2.18.3/css/bootstrap-italia.min.css");
    for path in ["/ordine-prova/istanza", css.as_str()] {
        let (plain_headers, plain) = fetch(&app, path, None).await;
        assert!(plain_headers.get("content-encoding").is_none(), "{path}");
        assert!(varies_on_encoding(&plain_headers), "{path}: Vary");
        let mut etags = vec![plain_headers.get("etag").cloned()];
        for (accept, coding) in [
            (Some("br"), Some("br")),
            (Some("gzip"), Some("gzip")),
            (Some("gzip, deflate, br, zstd"), Some("br")),
            (Some("br;q=0, gzip;q=0.5"), Some("gzip")),
            (Some("identity"), None),
        ] {
            let (h, body) = fetch(&app, path, accept).await;
            let got = h.get("content-encoding").map(|v| v.to_str().unwrap());
            assert_eq!(got, coding, "{path} with {accept:?}");
            assert!(varies_on_encoding(&h), "{path} with {accept:?}: Vary");
            if coding.is_some() {
                assert!(body.len() * 2 < plain.len(), "{path}: compressed");
            }
            let decoded = decode(coding, &body);
            if path == css {
                assert_eq!(decoded, plain, "{path} with {accept:?}: the same file");
                if let Some(length) = h.get("content-length") {
                    assert_eq!(length.to_str().unwrap(), body.len().to_string());
                }
                etags.push(h.get("etag").cloned());
            } else {
                // A page carries fresh tokens: the same page, not the same bytes.
                let text = String::from_utf8(decoded).unwrap();
                assert!(text.contains("<title>Istanza di ammissione"), "{path}");
                assert!(h.get("etag").is_none());
            }
        }
        if path == css {
            // One ETag per encoding, and If-None-Match answered with 304 for that one.
            let (identity, br, gzip) = (&etags[0], &etags[1], &etags[2]);
            assert!(identity.is_some() && br.is_some() && gzip.is_some());
            assert!(identity != br && br != gzip && identity != gzip);
            let res = app
                .client
                .get(app.url(path))
                .header("accept-encoding", "br")
                .header("if-none-match", br.clone().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 304);
            assert_eq!(res.headers().get("etag"), br.as_ref());
            let res = app
                .client
                .get(app.url(path))
                .header("accept-encoding", "gzip")
                .header("if-none-match", br.clone().unwrap())
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "another encoding, another ETag");
        }
    }
    // Already compressed, or too small to gain: left alone.
    let font = web::assets::url(
        "vendor/bootstrap-italia-2.18.3/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-regular.woff2",
    );
    let (h, _) = fetch(&app, &font, Some("gzip, br")).await;
    assert!(h.get("content-encoding").is_none());
    assert_eq!(h["content-type"], "font/woff2");
    let (h, _) = fetch(&app, "/health", Some("gzip, br")).await;
    assert!(h.get("content-encoding").is_none(), "a few bytes");
}

#[tokio::test]
async fn the_favicon_is_ours_and_cached() {
    let app = spawn_app().await;
    app.create_tenant("ordine-prova", TenantSettings::default())
        .await;
    let res = app.get("/favicon.ico").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/x-icon");
    assert_eq!(res.headers()["cache-control"], "public, max-age=86400");
    assert!(res.headers().get("etag").is_some());
    let body = res.bytes().await.unwrap();
    assert_eq!(&body[..4], b"\0\0\x01\0", "an ICO file");

    let page = app.get("/ordine-prova/istanza").await.text().await.unwrap();
    let svg = web::assets::url("favicon.svg");
    assert!(
        page.contains(&format!(
            "<link rel=\"icon\" href=\"{svg}\" type=\"image/svg+xml\">"
        )),
        "the layout names the icon"
    );
    let res = app.get(&svg).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        res.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
}
