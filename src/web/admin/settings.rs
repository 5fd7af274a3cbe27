//! The Ordine's settings (name, PEC, logo, integration deadline, sites allowed to embed the
//! public form), its competence map (judicial offices) and the legal-aid lists per lawyer.

use axum::{
    Form as HtmlForm,
    extract::{Multipart, Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    documents::signature::{FileKind, sniff},
    domain::{
        access::{Grant, ManageRegister, ManageSettings, authorize},
        application::{
            Step,
            check::{Issue, Severity, is_email},
            matter::ListMatter,
        },
    },
    store::{
        audit::{self, Actor, Entry},
        lawyers, offices,
        tenants::{self, ClientAuth, OidcSettings, SpidSettings, TenantSettings},
    },
    web::{
        AppState,
        auth::{Amministratore, InArea, oidc::provider},
        components::{Input, error_summary, feedback, messages_for, radios, textarea},
        error::AppError,
        headers::is_https_origin,
        layout::{self, PageMeta, csrf_field},
        tenant::{CurrentTenant, PathParams},
    },
};

const MAX_LOGO: usize = 512 * 1024;

fn settings_grant(
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
) -> Result<Grant<ManageSettings>, AppError> {
    authorize::<ManageSettings>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)
}

fn register_grant(
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
) -> Result<Grant<ManageRegister>, AppError> {
    authorize::<ManageRegister>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)
}

fn frame(
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    title: &str,
    notice: Option<Result<&str, &str>>,
    body: Markup,
) -> Markup {
    layout::page(
        &PageMeta::area(title, tenant, who),
        html! {
            (layout::breadcrumb(&[("Amministrazione", Some(&format!("/{}/amministrazione", tenant.slug))), (title, None)]))
            h1 { (title) }
            @match notice {
                Some(Ok(m)) => div class="alert alert-success" role="status" { (m) },
                Some(Err(m)) => div class="alert alert-danger" role="alert" { (m) },
                None => {}
            }
            (body)
        },
    )
}

async fn audit_change(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    action: &str,
    target: Option<String>,
) -> Result<(), AppError> {
    audit::record_alone(
        &state.db,
        tenant.id,
        Entry {
            actor: &Actor::user(who.user.id, &who.user.name),
            action,
            target_kind: Some("ordine"),
            target_id: target,
            outcome: "ok",
            details: serde_json::json!({}),
        },
    )
    .await?;
    Ok(())
}

#[derive(Default)]
struct SettingsForm {
    name: String,
    pec: String,
    days: String,
    /// Blank: a majority of the councillors.
    quorum: String,
    origins: String,
    oidc_issuer: String,
    oidc_client: String,
    /// Blank keeps the stored secret.
    oidc_secret: String,
    oidc_label: String,
    oidc_mfa: bool,
    oidc_acr: String,
    /// `segreto` or `chiave`.
    oidc_auth: String,
    /// Signing by SPID/CIE identification: the provider's and the trust anchor's entity
    /// identifiers, the anchor's keys (a JWK Set, JSON) and the Ordine's client id.
    spid_provider: String,
    spid_anchor: String,
    spid_anchor_jwks: String,
    spid_client: String,
    council_sessions: bool,
    clock_runs: bool,
    seal: bool,
}

/// The Ordine's seal is in `PATROCINIO_SEAL_DIR` and can be read.
fn seal_installed(state: &AppState, slug: &str) -> bool {
    state
        .settings
        .seal_dir
        .as_deref()
        .is_some_and(|dir| matches!(crate::documents::seal::Seal::load(dir, slug), Ok(Some(_))))
}

/// The identity provider's URL: HTTPS, or plain HTTP on this machine (a local test provider);
/// no query or fragment.
fn is_issuer(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| {
        (u.scheme() == "https"
            || (u.scheme() == "http" && matches!(u.host_str(), Some("127.0.0.1" | "localhost"))))
            && u.query().is_none()
            && u.fragment().is_none()
    })
}

const AUTH_SECRET: &str = "segreto";
const AUTH_KEY: &str = "chiave";

fn client_auth(code: &str) -> ClientAuth {
    if code == AUTH_KEY {
        ClientAuth::PrivateKey
    } else {
        ClientAuth::Secret
    }
}

/// A message for one field of the settings form.
fn issue(field: &str, message: impl Into<String>) -> Issue {
    Issue {
        rule: "impostazioni",
        step: Step::Filing,
        field: field.to_owned(),
        severity: Severity::Blocking,
        message: message.into(),
    }
}

fn settings_page(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    typed: &SettingsForm,
    issues: &[Issue],
    notice: Option<Result<&str, &str>>,
) -> Markup {
    let base = format!("/{}/amministrazione/impostazioni", tenant.slug);
    let public = &state.settings.public_url;
    let key = tenant
        .settings
        .oidc
        .as_ref()
        .is_some_and(|o| o.private_key.is_some());
    let default_acr = tenants::DEFAULT_ACR_VALUES;
    frame(
        tenant,
        who,
        "Impostazioni dell'Ordine",
        notice,
        html! {
            (error_summary(issues))
            form method="post" action=(base) enctype="multipart/form-data" novalidate {
                (layout::csrf_field(&who.csrf))
                (Input::text("nome", "Denominazione dell'Ordine", &typed.name).render(issues))
                (Input::text("pec", "PEC della segreteria", &typed.pec).kind("email").optional().render(issues))
                (Input::text("giorni_integrazione", "Giorni per rispondere a una richiesta di integrazione", &typed.days)
                    .kind("number").hint("Di norma 15").width("col-md-4").render(issues))
                div class="form-check mb-4" {
                    input class="form-check-input" type="checkbox" id="adunanze" name="adunanze" value="si" checked[typed.council_sessions] aria-describedby="adunanze-aiuto";
                    label class="form-check-label" for="adunanze" { "Il Consiglio decide in adunanza" }
                    small id="adunanze-aiuto" class="form-text d-block" { "Se attivo, le proposte dei relatori sono iscritte all'ordine del giorno e deliberate insieme; altrimenti la decisione del relatore è definitiva." }
                }
                (Input::text("numero_legale", "Numero legale dell'adunanza (consiglieri presenti)", &typed.quorum)
                    .kind("number").optional().hint("Se vuoto, la maggioranza dei consiglieri che hanno un account").width("col-md-4").render(issues))
                div class="form-check mb-4" {
                    input class="form-check-input" type="checkbox" id="termine_integrazione" name="termine_integrazione" value="si" checked[typed.clock_runs] aria-describedby="termine_integrazione-aiuto";
                    label class="form-check-label" for="termine_integrazione" { "Il termine di dieci giorni decorre anche durante la richiesta di integrazione" }
                    small id="termine_integrazione-aiuto" class="form-text d-block" { "Di norma il termine per decidere (art. 126) resta sospeso dalla richiesta di integrazione fino alla risposta, e riprende per i giorni che restavano. Attivare solo se l'Ordine lo considera decorrente comunque." }
                }
                div class="form-check mb-4" {
                    input class="form-check-input" type="checkbox" id="sigillo" name="sigillo" value="si" checked[typed.seal] aria-describedby="sigillo-aiuto sigillo-errore";
                    label class="form-check-label" for="sigillo" { "Delibere sigillate dal server con il sigillo elettronico dell'Ordine" }
                    small id="sigillo-aiuto" class="form-text d-block" { "Al posto della firma digitale del consigliere con il proprio dispositivo. Certificato e chiave sono installati dal gestore del servizio, mai caricati da questa pagina." }
                    (feedback("sigillo", &messages_for(issues, "sigillo")))
                }
                (textarea("incorporamento", "Siti che possono incorporare il modulo pubblico (facoltativo)", &typed.origins,
                    Some("Un indirizzo https:// per riga, ad esempio https://www.ordineavvocati.example.it"), 3, issues))
                div class="form-group" {
                    label class="active" for="logo" { "Logo (PNG o JPEG, al massimo 512 kB; facoltativo)" }
                    input type="file" class="form-control" id="logo" name="logo" accept="image/png,image/jpeg" aria-describedby="logo-errore";
                    (feedback("logo", &messages_for(issues, "logo")))
                }
                fieldset class="mt-4" {
                    legend class="h5" { "Accesso con il servizio di identità dell'Ordine (OpenID Connect, facoltativo)" }
                    p class="small" {
                        "Indirizzo di ritorno da registrare presso il provider: "
                        code id="oidc-ritorno" { (format!("{public}/{}/accesso/oidc/ritorno", tenant.slug)) } ". "
                        "Lasciare vuoto l'emittente per disattivare. Al salvataggio il servizio legge il documento di configurazione del provider: se non risponde, le impostazioni non si salvano."
                    }
                    (Input::text("oidc_emittente", "Emittente (issuer)", &typed.oidc_issuer).optional()
                        .hint("Esattamente come lo pubblica il provider, ad esempio https://id.ordine.example.it/").render(issues))
                    (Input::text("oidc_client_id", "Client ID", &typed.oidc_client).optional().render(issues))
                    (radios("oidc_autenticazione", "Autenticazione del servizio presso il provider", &[
                        (AUTH_SECRET, "Client secret (client_secret_basic o client_secret_post, secondo quanto il provider dichiara)"),
                        (AUTH_KEY, "Chiave dell'Ordine (private_key_jwt, richiesta dalla federazione OpenID di SPID e CIE)"),
                    ], if typed.oidc_auth.is_empty() { AUTH_SECRET } else { &typed.oidc_auth }, None, issues))
                    (Input::text("oidc_client_secret", "Client secret", &typed.oidc_secret).kind("password").optional()
                        .autocomplete("new-password")
                        .hint("Solo con il client secret. Lasciare vuoto per mantenere quello salvato").render(issues))
                    p class="small" {
                        "Con la chiave dell'Ordine, il servizio genera la coppia di chiavi al salvataggio e pubblica la chiave pubblica (jwks_uri) all'indirizzo "
                        code id="oidc-jwks" { (format!("{public}/{}/accesso/oidc/jwks.json", tenant.slug)) }
                        ", da registrare presso il provider. La chiave privata non lascia il servizio."
                        @if key { " La chiave è già stata generata." }
                    }
                    (Input::text("oidc_etichetta", "Testo del pulsante", &typed.oidc_label).optional().hint("Ad esempio: SPID o CIE").render(issues))
                    div class="form-check mb-3" {
                        input type="checkbox" id="oidc_secondo_fattore" name="oidc_secondo_fattore" value="1" checked[typed.oidc_mfa];
                        label for="oidc_secondo_fattore" { "Il provider garantisce un secondo fattore: niente codice di verifica quando il provider lo attesta" }
                    }
                    (Input::text("oidc_acr", "Livelli di autenticazione richiesti (acr_values)", &typed.oidc_acr).optional()
                        .hint(&format!("Separati da spazi, in ordine di preferenza; se vuoto: {default_acr}. Se il provider non attesta uno di questi livelli (acr) o un secondo fattore (amr: mfa, otp, hwk, sc), si chiede il codice di verifica."))
                        .render(issues))
                }
                fieldset class="mt-4" {
                    legend class="h5" { "Firma delle istanze con SPID o CIE (federazione OpenID Connect SPID/CIE, facoltativo)" }
                    p class="small" {
                        "Chi presenta l'istanza per sé può firmarla identificandosi con SPID di livello 2 o superiore o con la CIE (art. 65, comma 1, lett. b, D.Lgs. 82/2005). "
                        "Indirizzo di ritorno: " code id="spid-ritorno" { (crate::web::public::spid::redirect_uri(state, tenant)) } "; "
                        "chiavi pubbliche dell'Ordine (firma delle richieste e private_key_jwt; cifratura delle risposte userinfo, RSA-OAEP-256), generate al primo salvataggio: "
                        code id="spid-jwks" { (format!("{public}/{}/istanza/firma-spid/jwks.json", tenant.slug)) } ". "
                        "Lasciare vuoto il gestore per disattivare. Al salvataggio il servizio verifica la catena di fiducia: se la federazione non conferma il gestore, le impostazioni non si salvano."
                    }
                    (Input::text("spid_gestore", "Gestore dell'identità (identificativo di entità e issuer)", &typed.spid_provider).optional()
                        .hint("Ad esempio https://id.gestore.example.it/oidc/op").render(issues))
                    (Input::text("spid_ancora", "Trust anchor della federazione", &typed.spid_anchor).optional().render(issues))
                    (textarea("spid_ancora_chiavi", "Chiavi pubbliche del trust anchor (JWK Set, JSON)", &typed.spid_anchor_jwks,
                        Some("Come pubblicate dal trust anchor: solo queste chiavi sono accettate per la catena di fiducia."), 4, issues))
                    (Input::text("spid_client_id", "Client ID dell'Ordine (identificativo di entità)", &typed.spid_client).optional()
                        .hint(&format!("Di norma {public}/{}: la configurazione di entità dell'Ordine è pubblicata in {public}/{}/.well-known/openid-federation", tenant.slug, tenant.slug))
                        .render(issues))
                }
                @if tenant.settings.logo.is_some() {
                    p { img src=(format!("/{}/logo", tenant.slug)) alt=(format!("Logo attuale: {}", tenant.name)) height="64"; }
                }
                button type="submit" class="btn btn-primary" { "Salva le impostazioni" }
            }
        },
    )
}

pub async fn settings(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
) -> Result<Markup, AppError> {
    settings_grant(&tenant, &who)?;
    let s = &tenant.settings;
    let oidc = s.oidc.as_ref();
    let typed = SettingsForm {
        name: tenant.name.clone(),
        pec: tenant.pec.clone().unwrap_or_default(),
        days: s.integration_days().to_string(),
        quorum: s.council_quorum.map(|q| q.to_string()).unwrap_or_default(),
        origins: s.embed_origins.join("\n"),
        oidc_issuer: oidc.map(|o| o.issuer.clone()).unwrap_or_default(),
        oidc_client: oidc.map(|o| o.client_id.clone()).unwrap_or_default(),
        oidc_secret: String::new(),
        oidc_label: oidc.map(|o| o.label.clone()).unwrap_or_default(),
        oidc_mfa: oidc.is_some_and(|o| o.second_factor),
        oidc_acr: oidc.map(|o| o.acr_values.clone()).unwrap_or_default(),
        oidc_auth: match oidc.map(|o| o.client_auth) {
            Some(ClientAuth::PrivateKey) => AUTH_KEY.into(),
            _ => AUTH_SECRET.into(),
        },
        spid_provider: s
            .spid
            .as_ref()
            .map(|p| p.provider.clone())
            .unwrap_or_default(),
        spid_anchor: s
            .spid
            .as_ref()
            .map(|p| p.trust_anchor.clone())
            .unwrap_or_default(),
        spid_anchor_jwks: s
            .spid
            .as_ref()
            .map(|p| p.trust_anchor_jwks.to_string())
            .unwrap_or_default(),
        spid_client: s
            .spid
            .as_ref()
            .map(|p| p.client_id.clone())
            .unwrap_or_default(),
        council_sessions: s.council_sessions,
        clock_runs: s.clock_runs_during_integration,
        seal: s.seal,
    };
    Ok(settings_page(&state, &tenant, &who, &typed, &[], None))
}

/// Saves the settings when every field is right; otherwise the page again with every message
/// at once, each at its field, and everything typed (a chosen logo must be chosen again: a
/// browser never fills a file field).
pub async fn save_settings(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let grant = settings_grant(&tenant, &who)?;
    let mut typed = SettingsForm::default();
    let mut logo: Option<Vec<u8>> = None;
    let mut issues: Vec<Issue> = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                issues.push(issue(
                    "logo",
                    "Il logo supera la dimensione massima di 512 kB.",
                ));
                break;
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        if name == "logo" {
            let bytes = field.bytes().await.unwrap_or_default();
            if !bytes.is_empty() {
                logo = Some(bytes.to_vec());
            }
            continue;
        }
        let value = field.text().await.unwrap_or_default();
        match name.as_str() {
            "nome" => typed.name = value.trim().to_owned(),
            "pec" => typed.pec = value.trim().to_lowercase(),
            "giorni_integrazione" => typed.days = value.trim().to_owned(),
            "numero_legale" => typed.quorum = value.trim().to_owned(),
            "incorporamento" => typed.origins = value.trim().to_owned(),
            "oidc_emittente" => typed.oidc_issuer = value.trim().to_owned(),
            "oidc_client_id" => typed.oidc_client = value.trim().to_owned(),
            "oidc_client_secret" => typed.oidc_secret = value.trim().to_owned(),
            "oidc_etichetta" => typed.oidc_label = value.trim().to_owned(),
            "oidc_secondo_fattore" => typed.oidc_mfa = !value.is_empty(),
            "oidc_acr" => {
                typed.oidc_acr = value.split_whitespace().collect::<Vec<_>>().join(" ");
            }
            "oidc_autenticazione" => typed.oidc_auth = value.trim().to_owned(),
            "spid_gestore" => typed.spid_provider = value.trim().to_owned(),
            "spid_ancora" => typed.spid_anchor = value.trim().to_owned(),
            "spid_ancora_chiavi" => typed.spid_anchor_jwks = value.trim().to_owned(),
            "spid_client_id" => typed.spid_client = value.trim().to_owned(),
            "adunanze" => typed.council_sessions = !value.is_empty(),
            "termine_integrazione" => typed.clock_runs = !value.is_empty(),
            "sigillo" => typed.seal = !value.is_empty(),
            _ => {}
        }
    }
    if typed.oidc_auth.is_empty() {
        typed.oidc_auth = AUTH_SECRET.into();
    }
    let origins: Vec<String> = typed
        .origins
        .lines()
        .map(|l| l.trim().trim_end_matches('/').to_lowercase())
        .filter(|l| !l.is_empty())
        .collect();
    let days = typed
        .days
        .parse::<u32>()
        .ok()
        .filter(|d| (1..=90).contains(d));
    let logo_kind = logo.as_deref().map(sniff);
    if typed.name.chars().count() < 3 {
        issues.push(issue("nome", "Indicare la denominazione dell'Ordine."));
    }
    if !typed.pec.is_empty() && !is_email(&typed.pec) {
        issues.push(issue("pec", "La PEC non è un indirizzo valido."));
    }
    if days.is_none() {
        issues.push(issue(
            "giorni_integrazione",
            "I giorni per l'integrazione devono essere un numero da 1 a 90.",
        ));
    }
    let quorum = typed
        .quorum
        .parse::<u32>()
        .ok()
        .filter(|q| (1..=100).contains(q));
    if !typed.quorum.is_empty() && quorum.is_none() {
        issues.push(issue(
            "numero_legale",
            "Il numero legale deve essere un numero di consiglieri da 1 a 100, oppure vuoto.",
        ));
    }
    for bad in origins.iter().filter(|o| !is_https_origin(o)) {
        issues.push(issue(
            "incorporamento",
            format!("«{bad}» non è un indirizzo https:// valido (solo schema, dominio ed eventuale porta)."),
        ));
    }
    if logo.as_ref().is_some_and(|l| l.len() > MAX_LOGO) {
        issues.push(issue(
            "logo",
            "Il logo supera la dimensione massima di 512 kB.",
        ));
    } else if logo_kind.is_some_and(|k| !matches!(k, FileKind::Png | FileKind::Jpeg)) {
        issues.push(issue("logo", "Il logo deve essere un'immagine PNG o JPEG."));
    }
    if typed.seal && !seal_installed(&state, &tenant.slug) {
        issues.push(issue("sigillo", format!(
            "Il sigillo elettronico dell'Ordine non è installato sul server: il gestore del servizio deve collocare certificato e chiave nel file {}.pem della cartella dei sigilli (PATROCINIO_SEAL_DIR).",
            tenant.slug
        )));
    }
    let oidc = oidc_settings(&tenant, &typed, &mut issues).await;
    let spid = spid_settings(&tenant, &typed, &mut issues).await?;
    if !issues.is_empty() {
        let page = settings_page(&state, &tenant, &who, &typed, &issues, None);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let oidc = match oidc {
        Some(mut o) => {
            if o.client_auth == ClientAuth::PrivateKey && o.private_key.is_none() {
                o.private_key = Some(provider::generate_key().await?);
                tracing::info!(tenant.id = %tenant.id, "OIDC client key pair generated");
            }
            typed.oidc_issuer = o.issuer.clone();
            Some(o)
        }
        None => None,
    };
    typed.oidc_secret.clear();
    let mut new = TenantSettings {
        embed_origins: origins,
        integration_days: days,
        council_quorum: quorum,
        oidc,
        spid,
        council_sessions: typed.council_sessions,
        clock_runs_during_integration: typed.clock_runs,
        seal: typed.seal,
        ..tenant.settings.clone()
    };
    // The new logo is stored before the settings naming it commit; the old one goes after.
    let mut replaced = None;
    if let (Some(bytes), Some(kind)) = (logo, logo_kind) {
        let key = format!("{}/logo-{}", tenant.id, crate::crypto::random_hex::<8>());
        state.storage.put(&key, bytes).await?;
        let content_type = if kind == FileKind::Png {
            "image/png"
        } else {
            "image/jpeg"
        };
        replaced = new
            .logo
            .replace((key, content_type.into()))
            .map(|(old, _)| old);
    }
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let pec = (!typed.pec.is_empty()).then_some(typed.pec.as_str());
    tenants::update(&mut tx, &grant, &typed.name, pec, &new).await?;
    tx.commit().await?;
    state.storage.delete_unreferenced(replaced).await;
    audit_change(&state, &tenant, &who, "impostazioni_modificate", None).await?;
    // The page shows what was saved (the key just generated, the new logo).
    let saved = CurrentTenant(std::sync::Arc::new(tenants::Tenant {
        name: typed.name.clone(),
        settings: new,
        ..(*tenant.0).clone()
    }));
    Ok(settings_page(
        &state,
        &saved,
        &who,
        &typed,
        &[],
        Some(Ok("Impostazioni salvate.")),
    )
    .into_response())
}

/// The largest JWK Set of a trust anchor accepted, and its most keys.
const MAX_ANCHOR_JWKS_BYTES: usize = 16 * 1024;
const MAX_ANCHOR_KEYS: usize = 10;

/// The SPID/CIE federation's settings as typed, checked: `None` when the provider is blank
/// (signing by identification off). The Ordine's key is kept, or generated the first time.
/// When the federation's part changed, the trust chain is verified now: a provider the anchor
/// does not vouch for is not saved.
async fn spid_settings(
    tenant: &CurrentTenant,
    typed: &SettingsForm,
    issues: &mut Vec<Issue>,
) -> Result<Option<SpidSettings>, AppError> {
    if typed.spid_provider.is_empty() {
        return Ok(None);
    }
    let before = issues.len();
    if !is_issuer(&typed.spid_provider) {
        issues.push(issue(
            "spid_gestore",
            "Indicare l'identificativo del gestore come indirizzo https:// completo.",
        ));
    }
    if !is_issuer(&typed.spid_anchor) {
        issues.push(issue(
            "spid_ancora",
            "Indicare l'identificativo del trust anchor come indirizzo https:// completo.",
        ));
    }
    if typed.spid_client.is_empty() || typed.spid_client.len() > 255 {
        issues.push(issue(
            "spid_client_id",
            "Indicare il client ID dell'Ordine (al massimo 255 caratteri).",
        ));
    }
    let jwks = serde_json::from_str::<serde_json::Value>(&typed.spid_anchor_jwks)
        .ok()
        .filter(|j| {
            typed.spid_anchor_jwks.len() <= MAX_ANCHOR_JWKS_BYTES
                && j.get("keys")
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|k| (1..=MAX_ANCHOR_KEYS).contains(&k.len()))
        });
    if jwks.is_none() {
        issues.push(issue(
            "spid_ancora_chiavi",
            "Incollare le chiavi pubbliche del trust anchor come JWK Set: un oggetto JSON con «keys» (da 1 a 10 chiavi, al massimo 16 kB).",
        ));
    }
    let Some(jwks) = jwks.filter(|_| issues.len() == before) else {
        return Ok(None);
    };
    let stored = tenant.settings.spid.as_ref();
    let private_key = match stored {
        Some(s) => s.private_key.clone(),
        None => {
            tracing::info!(tenant.id = %tenant.id, "SPID/CIE client key pair generated");
            provider::generate_key().await?
        }
    };
    // The encryption key (userinfo as JWE): generated with the signing key, or at the next
    // save for an Ordine that joined before it existed.
    let encryption_key = match stored.filter(|s| !s.encryption_key.is_empty()) {
        Some(s) => s.encryption_key.clone(),
        None => {
            tracing::info!(tenant.id = %tenant.id, "SPID/CIE encryption key pair generated");
            provider::generate_key().await?
        }
    };
    let cfg = SpidSettings {
        provider: typed.spid_provider.clone(),
        trust_anchor: typed.spid_anchor.clone(),
        trust_anchor_jwks: jwks,
        client_id: typed.spid_client.clone(),
        private_key,
        encryption_key,
    };
    let unchanged = stored.is_some_and(|s| {
        s.provider == cfg.provider
            && s.trust_anchor == cfg.trust_anchor
            && s.trust_anchor_jwks == cfg.trust_anchor_jwks
    });
    if !unchanged
        && let Err(e) = crate::web::public::spid::federation::provider_metadata(&cfg).await
    {
        tracing::warn!(error = %e, "SPID/CIE trust chain refused at save");
        issues.push(issue(
            "spid_gestore",
            "La federazione non conferma il gestore dell'identità: la catena di fiducia fino al trust anchor indicato non si verifica (dichiarazioni non raggiungibili, scadute o non firmate con le chiavi indicate).",
        ));
        return Ok(None);
    }
    Ok(Some(cfg))
}

/// The identity provider's settings as typed, checked: `None` when the issuer is blank (login
/// through the provider off). When the provider's part changed, its discovery document is read
/// and must name the same issuer and allow the chosen authentication; the issuer saved is the
/// one it publishes.
async fn oidc_settings(
    tenant: &CurrentTenant,
    typed: &SettingsForm,
    issues: &mut Vec<Issue>,
) -> Option<OidcSettings> {
    if typed.oidc_issuer.is_empty() {
        return None;
    }
    let stored = tenant.settings.oidc.as_ref();
    let auth = client_auth(&typed.oidc_auth);
    let before = issues.len();
    if !is_issuer(&typed.oidc_issuer) {
        issues.push(issue(
            "oidc_emittente",
            "L'emittente OpenID Connect deve essere un indirizzo https:// senza parametri.",
        ));
    }
    if typed.oidc_client.is_empty() {
        issues.push(issue(
            "oidc_client_id",
            "Indicare il client ID assegnato dal provider.",
        ));
    }
    let stored_secret = stored.map(|o| o.client_secret.as_str()).unwrap_or("");
    if auth == ClientAuth::Secret && typed.oidc_secret.is_empty() && stored_secret.is_empty() {
        issues.push(issue(
            "oidc_client_secret",
            "Indicare il client secret, oppure scegliere la chiave dell'Ordine.",
        ));
    }
    if typed.oidc_acr.chars().count() > 1000 || typed.oidc_acr.chars().any(char::is_control) {
        issues.push(issue(
            "oidc_acr",
            "I livelli di autenticazione sono indirizzi o codici separati da spazi.",
        ));
    }
    let mut cfg = OidcSettings {
        issuer: typed.oidc_issuer.clone(),
        client_id: typed.oidc_client.clone(),
        client_secret: match auth {
            ClientAuth::PrivateKey => String::new(),
            ClientAuth::Secret if typed.oidc_secret.is_empty() => stored_secret.to_owned(),
            ClientAuth::Secret => typed.oidc_secret.clone(),
        },
        label: if typed.oidc_label.is_empty() {
            "il servizio di identità dell'Ordine".into()
        } else {
            typed.oidc_label.clone()
        },
        second_factor: typed.oidc_mfa,
        acr_values: typed.oidc_acr.clone(),
        client_auth: auth,
        private_key: stored.and_then(|o| o.private_key.clone()),
    };
    if issues.len() > before {
        return Some(cfg);
    }
    let changed = stored.is_none_or(|o| {
        o.issuer != cfg.issuer
            || o.client_id != cfg.client_id
            || o.client_auth != cfg.client_auth
            || !typed.oidc_secret.is_empty()
    });
    if changed {
        match provider::check_at_save(&typed.oidc_issuer, &cfg).await {
            Ok(published) => cfg.issuer = published,
            Err((field, message)) => issues.push(issue(field, message)),
        }
    }
    Some(cfg)
}

/// The Ordine's logo, for its pages and documents.
pub async fn logo(
    State(state): State<AppState>,
    tenant: CurrentTenant,
) -> Result<Response, AppError> {
    let (key, content_type) = tenant.settings.logo.clone().ok_or(AppError::NotFound)?;
    let bytes = state.storage.get(&key).await?;
    let mut res = bytes.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("image/png")),
    );
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Ok(res)
}

async fn offices_page(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    notice: Option<Result<&str, &str>>,
    typed: &str,
    pec_typed: Option<(Uuid, &str, &str)>,
) -> Result<Markup, AppError> {
    let grant = settings_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let list = offices::list_all(&mut tx, &grant).await?;
    tx.commit().await?;
    let base = format!("/{}/amministrazione/uffici", tenant.slug);
    Ok(frame(
        tenant,
        who,
        "Uffici giudiziari di competenza",
        notice,
        html! {
            p { "Gli uffici giudiziari del circondario per cui l'Ordine decide le istanze (art. 124 D.P.R. 115/2002): sono quelli proposti nel modulo pubblico. All'indirizzo PEC di ciascuno si trasmettono le delibere di ammissione (art. 126, comma 2)." }
            div class="table-responsive" {
                table class="table" {
                    caption { "Uffici giudiziari" }
                    thead { tr { th scope="col" { "Ufficio" } th scope="col" { "Stato" } th scope="col" { span class="visually-hidden" { "Azioni" } } } }
                    tbody {
                        @for o in &list {
                            @let (pec, pec_error) = match pec_typed {
                                Some((id, value, error)) if id == o.id => (value.to_owned(), Some(error)),
                                _ => (o.pec.clone().unwrap_or_default(), None),
                            };
                            tr {
                                td {
                                    (o.name)
                                    form method="post" action=(format!("{base}/{}/pec", o.id)) class="d-flex flex-wrap gap-2 align-items-start mt-1" novalidate {
                                        (csrf_field(&who.csrf))
                                        div class="flex-grow-1" {
                                            label class="small d-block" for=(format!("pec-{}", o.id)) { "PEC" span class="visually-hidden" { " di " (o.name) } }
                                            input type="email" class="form-control form-control-sm" id=(format!("pec-{}", o.id)) name="pec" value=(pec) maxlength="254" autocomplete="off"
                                                aria-invalid=[pec_error.map(|_| "true")] aria-describedby=[pec_error.map(|_| format!("pec-{}-errore", o.id))];
                                            @if let Some(e) = pec_error { div class="campo-errore" id=(format!("pec-{}-errore", o.id)) { (e) } }
                                        }
                                        button type="submit" class="btn btn-outline-primary btn-sm mt-4" { "Salva" span class="visually-hidden" { " la PEC di " (o.name) } }
                                    }
                                }
                                td { @if o.active { "In elenco" } @else { "Tolto dall'elenco" } }
                                td {
                                    form method="post" action=(format!("{base}/{}", o.id)) {
                                        (csrf_field(&who.csrf))
                                        input type="hidden" name="attivo" value=(if o.active { "no" } else { "si" });
                                        button type="submit" class="btn btn-link btn-sm p-0" {
                                            @if o.active { "Togli" } @else { "Rimetti" }
                                            span class="visually-hidden" { " " (o.name) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            form method="post" action=(base) class="card card-bg p-3" novalidate {
                (csrf_field(&who.csrf))
                (Input::text("nome", "Nuovo ufficio giudiziario", typed).hint("Ad esempio: Tribunale di Vallenera").render(&[]))
                div { button type="submit" class="btn btn-primary" { "Aggiungi" } }
            }
        },
    ))
}

pub async fn offices_list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
) -> Result<Markup, AppError> {
    offices_page(&state, &tenant, &who, None, "", None).await
}

#[derive(Deserialize)]
pub struct NameForm {
    #[serde(default)]
    nome: String,
}

pub async fn add_office(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    HtmlForm(form): HtmlForm<NameForm>,
) -> Result<Response, AppError> {
    let grant = settings_grant(&tenant, &who)?;
    let name = form.nome.trim();
    if name.chars().count() < 3 {
        let page = offices_page(
            &state,
            &tenant,
            &who,
            Some(Err("Indicare il nome dell'ufficio giudiziario.")),
            name,
            None,
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let id = offices::create(&mut tx, &grant, name, 100).await?;
    tx.commit().await?;
    audit_change(
        &state,
        &tenant,
        &who,
        "ufficio_aggiunto",
        Some(id.to_string()),
    )
    .await?;
    Ok(offices_page(
        &state,
        &tenant,
        &who,
        Some(Ok("Ufficio aggiunto.")),
        "",
        None,
    )
    .await?
    .into_response())
}

#[derive(Deserialize)]
pub struct ActiveForm {
    #[serde(default)]
    attivo: String,
}

pub async fn toggle_office(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
    HtmlForm(form): HtmlForm<ActiveForm>,
) -> Result<Response, AppError> {
    let grant = settings_grant(&tenant, &who)?;
    let id = params.id("office")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    if !offices::set_active(&mut tx, &grant, id, form.attivo == "si").await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    office_changed(&state, &tenant, &who, id, "Elenco aggiornato.").await
}

/// After an office changed: audited, and the list again with what was done.
async fn office_changed(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    id: Uuid,
    done: &'static str,
) -> Result<Response, AppError> {
    audit_change(
        state,
        tenant,
        who,
        "ufficio_modificato",
        Some(id.to_string()),
    )
    .await?;
    Ok(offices_page(state, tenant, who, Some(Ok(done)), "", None)
        .await?
        .into_response())
}

#[derive(Deserialize)]
pub struct PecForm {
    #[serde(default)]
    pec: String,
}

/// Sets an office's PEC address (empty: none), where the copies of admissions go.
pub async fn office_pec(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
    HtmlForm(form): HtmlForm<PecForm>,
) -> Result<Response, AppError> {
    let grant = settings_grant(&tenant, &who)?;
    let id = params.id("office")?;
    let pec = form.pec.trim();
    if !pec.is_empty() && !is_email(pec) {
        let typed: String = pec.chars().take(254).collect();
        let page = offices_page(
            &state,
            &tenant,
            &who,
            Some(Err("L'indirizzo PEC non è valido: correggerlo.")),
            "",
            Some((
                id,
                &typed,
                "L'indirizzo PEC non è valido: verificarlo (ad esempio: prot.tribunale.vallenera@giustiziacert.it).",
            )),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    if !offices::set_pec(&mut tx, &grant, id, (!pec.is_empty()).then_some(pec)).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    office_changed(&state, &tenant, &who, id, "Indirizzo PEC salvato.").await
}

#[derive(Deserialize, Default)]
pub struct SearchQuery {
    #[serde(default)]
    cerca: String,
}

async fn lists_page(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    query: &str,
    notice: Option<Result<&str, &str>>,
) -> Result<Markup, AppError> {
    register_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let found = if query.trim().is_empty() {
        Vec::new()
    } else {
        lawyers::search_all(&mut tx, query, 30).await?
    };
    tx.commit().await?;
    let base = format!("/{}/amministrazione/elenchi", tenant.slug);
    Ok(frame(
        tenant,
        who,
        "Elenchi per il patrocinio",
        notice,
        html! {
            p { "Le materie per cui ciascun avvocato è iscritto nell'elenco per il patrocinio a spese dello Stato (art. 81). L'importazione dell'albo le aggiorna; qui si correggono." }
            form method="get" action=(base) class="mb-4" role="search" {
                div class="form-group mb-2" {
                    label class="active" for="cerca" { "Cerca per cognome, nome, numero di iscrizione o codice fiscale" }
                    input type="search" class="form-control" id="cerca" name="cerca" value=(query);
                }
                button type="submit" class="btn btn-outline-primary btn-sm" { "Cerca" }
            }
            @if !query.trim().is_empty() && found.is_empty() { p { "Nessun avvocato trovato." } }
            @for l in &found {
                form method="post" action=(format!("{base}/{}", l.id)) class="card card-bg p-3 mb-3" {
                    (csrf_field(&who.csrf))
                    input type="hidden" name="cerca" value=(query);
                    fieldset {
                        legend class="h6" { "Avv. " (l.full_name()) @if let Some(n) = &l.register_number { " · n. " (n) } " · " (l.status) }
                        @for m in ListMatter::ALL {
                            @let id = format!("elenco-{}-{}", l.id, m.code());
                            div class="form-check form-check-inline" {
                                input type="checkbox" id=(id) name="materie" value=(m.code()) checked[l.lists().contains(&m)];
                                label for=(id) { (m.label()) }
                            }
                        }
                    }
                    div { button type="submit" class="btn btn-outline-primary btn-sm" { "Salva" span class="visually-hidden" { " gli elenchi di " (l.full_name()) } } }
                }
            }
        },
    ))
}

pub async fn lists(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    Query(q): Query<SearchQuery>,
) -> Result<Markup, AppError> {
    lists_page(&state, &tenant, &who, &q.cerca, None).await
}

pub async fn save_lists(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
    HtmlForm(fields): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let grant = register_grant(&tenant, &who)?;
    let id = params.id("lawyer")?;
    let matters: Vec<ListMatter> = fields
        .iter()
        .filter(|(k, _)| k == "materie")
        .filter_map(|(_, v)| ListMatter::from_code(v))
        .collect();
    let query = fields
        .iter()
        .find(|(k, _)| k == "cerca")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    if !lawyers::set_lists(&mut tx, &grant, id, &matters).await? {
        return Err(AppError::NotFound);
    }
    tx.commit().await?;
    audit_change(
        &state,
        &tenant,
        &who,
        "elenchi_modificati",
        Some(id.to_string()),
    )
    .await?;
    Ok(lists_page(
        &state,
        &tenant,
        &who,
        &query,
        Some(Ok("Elenchi aggiornati.")),
    )
    .await?
    .into_response())
}
