//! The base layout (Bootstrap Italia's header and footer, in Italian) and small shared components.
//! Full pages and htmx fragments are built from the same components.

use maud::{DOCTYPE, Markup, html};

use super::{
    assets,
    auth::{AreaRole, InArea, SessionUser},
};
use crate::store::tenants::Tenant;

/// htmx settings: no eval, no inline styles (our CSP forbids both), nothing cached in
/// localStorage (pages hold personal data), and error responses swapped only where the server
/// retargets them (the alert area).
const HTMX_CONFIG: &str = r#"{"allowEval":false,"allowScriptTags":false,"includeIndicatorStyles":false,"selfRequestsOnly":true,"historyCacheSize":0,"refreshOnHistoryMiss":true,"responseHandling":[{"code":"204","swap":false},{"code":"[23]..","swap":true},{"code":"422","swap":true},{"code":"[45]..","swap":true,"error":true}]}"#;

pub struct PageMeta<'a> {
    pub title: &'a str,
    pub tenant: Option<&'a Tenant>,
    /// The person logged in and their session's CSRF token (reserved areas).
    pub user: Option<(&'a SessionUser, &'a str)>,
}

impl<'a> PageMeta<'a> {
    pub fn platform(title: &'a str) -> Self {
        Self {
            title,
            tenant: None,
            user: None,
        }
    }

    pub fn tenant(title: &'a str, tenant: &'a Tenant) -> Self {
        Self {
            title,
            tenant: Some(tenant),
            user: None,
        }
    }

    /// A page of a reserved area: the header shows who is logged in, with the logout button,
    /// and htmx sends the session's CSRF token with every request.
    pub fn area<R: AreaRole>(title: &'a str, tenant: &'a Tenant, who: &'a InArea<R>) -> Self {
        Self::signed_in(title, tenant, &who.user, &who.csrf)
    }

    /// A page of the person's own (e-mail choices), whatever their roles.
    pub fn signed_in(
        title: &'a str,
        tenant: &'a Tenant,
        user: &'a SessionUser,
        csrf: &'a str,
    ) -> Self {
        Self {
            title,
            tenant: Some(tenant),
            user: Some((user, csrf)),
        }
    }
}

/// The hidden field that carries the session's CSRF token in a plain form.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="_csrf" value=(token); }
}

pub const PRODUCT: &str = "Patrocinio a spese dello Stato";

pub fn icon(name: &str, class: &str) -> Markup {
    html! {
        svg class=(format!("icon {class}")) aria-hidden="true" focusable="false" {
            use href=(format!("{}#{name}", assets::url("vendor/bootstrap-italia-2.18.3/svg/sprites.svg"))) {}
        }
    }
}

pub fn page(meta: &PageMeta, content: Markup) -> Markup {
    let full_title = match meta.tenant {
        Some(t) => format!("{} · {} · {PRODUCT}", meta.title, t.name),
        None => format!("{} · {PRODUCT}", meta.title),
    };
    let home = meta
        .tenant
        .map_or_else(|| "/".to_owned(), |t| format!("/{}", t.slug));
    html! {
        (DOCTYPE)
        html lang="it" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="htmx-config" content=(HTMX_CONFIG);
                title { (full_title) }
                // Our own icon (assets/favicon.svg, drawn after Bootstrap Italia's `it-pa`): the
                // ICO for browsers without SVG icons, the PNG for iOS home screens.
                link rel="icon" href=(assets::url("favicon.ico")) sizes="32x32";
                link rel="icon" href=(assets::url("favicon.svg")) type="image/svg+xml";
                link rel="apple-touch-icon" href=(assets::url("apple-touch-icon.png"));
                // The text's three weights (body, labels, headings) load with the CSS rather than
                // after it: the text does not reflow under the reader when they arrive.
                @for weight in ["regular", "600", "700"] {
                    link rel="preload" as="font" type="font/woff2" crossorigin
                        href=(assets::url(&format!("vendor/bootstrap-italia-2.18.3/fonts/Titillium_Web/titillium-web-v10-latin-ext_latin-{weight}.woff2")));
                }
                link rel="stylesheet" href=(assets::url("vendor/bootstrap-italia-2.18.3/css/bootstrap-italia.min.css"));
                link rel="stylesheet" href=(assets::url("css/fonts.css"));
                link rel="stylesheet" href=(assets::url("css/app.css"));
                script src=(assets::url("vendor/htmx-2.0.11/htmx.min.js")) defer {}
                script src=(assets::url("vendor/htmx-ext-ws-2.0.4/ws.min.js")) defer {}
                script src=(assets::url("js/app.js")) defer {}
            }
            body data-hx-headers=[meta.user.map(|(_, csrf)| serde_json::json!({ "X-CSRF-Token": csrf }).to_string())] {
                div class="skiplinks" {
                    a class="visually-hidden-focusable" href="#contenuto" { "Vai al contenuto principale" }
                }
                header class="it-header-wrapper" {
                    div class="it-header-slim-wrapper" {
                        div class="container" { div class="row" { div class="col-12" {
                            div class="it-header-slim-wrapper-content" {
                                a class="navbar-brand" href="/" { (PRODUCT) }
                                @if let (Some((user, csrf)), Some(t)) = (meta.user, meta.tenant) {
                                    div class="it-header-slim-right-zone" {
                                        span class="text-white me-3 d-none d-md-inline" { (user.name) }
                                        a class="text-white me-3" href=(format!("/{}/avvisi", t.slug)) { "Avvisi e-mail" }
                                        form method="post" action=(format!("/{}/esci", t.slug)) class="d-inline" {
                                            (csrf_field(csrf))
                                            button type="submit" class="btn btn-primary btn-sm" { "Esci" }
                                        }
                                    }
                                }
                            }
                        }}}
                    }
                    div class="it-nav-wrapper" {
                        div class="it-header-center-wrapper" {
                            div class="container" { div class="row" { div class="col-12" {
                                div class="it-header-center-content-wrapper" {
                                    div class="it-brand-wrapper" {
                                        a href=(home) {
                                            @match meta.tenant.filter(|t| t.settings.logo.is_some()) {
                                                Some(t) => img class="icon" src=(format!("/{}/logo", t.slug)) alt="";
                                                None => (icon("it-pa", "")),
                                            }
                                            div class="it-brand-text" {
                                                div class="it-brand-title" {
                                                    (meta.tenant.map_or(PRODUCT, |t| t.name.as_str()))
                                                }
                                                @if meta.tenant.is_some() {
                                                    div class="it-brand-tagline d-none d-md-block" { (PRODUCT) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }}}
                        }
                    }
                }
                main id="contenuto" class="container my-4 my-md-5" {
                    div id="avvisi" aria-live="polite" {}
                    (content)
                }
                (footer(meta.tenant))
            }
        }
    }
}

fn footer(tenant: Option<&Tenant>) -> Markup {
    html! {
        footer class="it-footer" {
            div class="it-footer-main" {
                div class="container py-4" {
                    @if let Some(t) = tenant {
                        p class="h5 text-white mb-1" { (t.name) }
                        @if let Some(pec) = &t.pec {
                            p class="text-white mb-0" { "PEC: " (pec) }
                        }
                    } @else {
                        p class="h5 text-white mb-0" { (PRODUCT) }
                    }
                }
            }
            div class="it-footer-small-prints clearfix" {
                div class="container" {
                    p class="text-white small py-3 mb-0" {
                        "Servizio per la gestione delle istanze di ammissione al patrocinio a spese dello Stato (D.P.R. 30 maggio 2002, n. 115)."
                    }
                }
            }
        }
    }
}

/// A card that leads to another page.
pub fn link_card(href: &str, icon_name: &str, title: &str, text: &str) -> Markup {
    html! {
        div class="col-12 col-md-6 col-lg-3 mb-4" {
            div class="card card-bg rounded shadow-sm h-100" {
                div class="card-body" {
                    div class="categoryicon-top" { (icon(icon_name, "icon-primary")) }
                    h2 class="h5 card-title" { a href=(href) class="stretched-link" { (title) } }
                    p class="card-text" { (text) }
                }
            }
        }
    }
}

pub fn breadcrumb(items: &[(&str, Option<&str>)]) -> Markup {
    html! {
        nav class="breadcrumb-container" aria-label="Percorso di navigazione" {
            ol class="breadcrumb p-0" {
                @for (label, href) in items {
                    @match href {
                        Some(href) => li class="breadcrumb-item" {
                            a href=(href) { (label) } span class="separator" { "/" }
                        },
                        None => li class="breadcrumb-item active" aria-current="page" { (label) },
                    }
                }
            }
        }
    }
}
