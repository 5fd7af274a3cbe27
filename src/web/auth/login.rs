//! Logging in (password, then the second factor), setting up the second factor, logging out,
//! and the single-use links that set a password (activation and reset).

use axum::{
    Form as HtmlForm,
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use totp_rs::{Secret, Totp};
use uuid::Uuid;

use super::{Auth, CSRF_KEY, LOGIN_AT_KEY, MaybeUser, SessionUser};
use crate::{
    crypto,
    domain::access::{Role, check_password, normalize_email},
    store::{
        audit::{self, Actor, Entry},
        users::{self, User},
    },
    web::{
        AppState,
        components::Input,
        error::AppError,
        layout::{self, PageMeta},
        ratelimit::ClientAddr,
        tenant::{CurrentTenant, PathParams},
    },
};

const PENDING_KEY: &str = "accesso_in_corso";
/// Time allowed between the password and the second factor.
const PENDING_SECONDS: i64 = 300;

/// A login half done: the password (or the identity provider) was right, the second factor is
/// still due.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    tenant: Uuid,
    user: Uuid,
    at: i64,
    /// The secret being set up (first login of a staff account).
    new_secret: Option<String>,
    back: String,
    /// How the first factor was proved.
    #[serde(default)]
    method: LoginMethod,
}

/// How the person proved who they are: recorded in the audit log when the login completes.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub enum LoginMethod {
    #[default]
    Password,
    /// Through the Ordine's OpenID Connect provider.
    Oidc {
        issuer: String,
        /// The provider's subject, to bind to the account when the login completes (its first
        /// login through this provider); `None` when the account is already bound.
        bind_subject: Option<String>,
        /// The provider's ID token proved a second factor (no TOTP code was asked).
        provider_second_factor: bool,
    },
}

impl LoginMethod {
    fn audit_details(&self, totp: bool) -> serde_json::Value {
        let second = if totp { "codice" } else { "nessuno" };
        match self {
            LoginMethod::Password => {
                serde_json::json!({ "metodo": "password", "secondo_fattore": second })
            }
            LoginMethod::Oidc {
                issuer,
                bind_subject,
                provider_second_factor,
            } => serde_json::json!({
                "metodo": "oidc",
                "emittente": issuer,
                "secondo_fattore": if *provider_second_factor { "provider" } else { second },
                "identita_collegata": bind_subject.is_some(),
            }),
        }
    }
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    #[serde(default)]
    torna: String,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    torna: String,
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    codice: String,
}

/// Only paths inside this Ordine are followed after login (no open redirect).
fn safe_back(tenant: &CurrentTenant, back: &str) -> String {
    let prefix = format!("/{}/", tenant.slug);
    if back.starts_with(&prefix) && !back.contains("//") && !back.contains('\\') {
        back.to_owned()
    } else {
        String::new()
    }
}

fn area_of(tenant: &CurrentTenant, roles: &[Role]) -> String {
    match roles.first() {
        Some(role) => format!("/{}/{}", tenant.slug, role.area()),
        None => format!("/{}", tenant.slug),
    }
}

fn page(tenant: &CurrentTenant, title: &str, body: Markup) -> Markup {
    layout::page(
        &PageMeta::tenant(title, tenant),
        html! {
            div class="row justify-content-center" {
                div class="col-12 col-md-8 col-lg-6" {
                    h1 { (title) }
                    (body)
                }
            }
        },
    )
}

fn alert(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            div class="alert alert-danger" role="alert" { (m) }
        }
    }
}

fn login_page(tenant: &CurrentTenant, error: Option<Markup>, email: &str, back: &str) -> Markup {
    page(
        tenant,
        "Accesso all'area riservata",
        html! {
            p { "Per la segreteria, i consiglieri, gli avvocati e l'amministrazione del " (tenant.name) "." }
            @if let Some(error) = error {
                div class="alert alert-danger" role="alert" { (error) }
            }
            form method="post" action=(format!("/{}/accesso", tenant.slug)) novalidate {
                input type="hidden" name="torna" value=(back);
                (Input::text("email", "Indirizzo e-mail", email).kind("email").autocomplete("username").render(&[]))
                (Input::text("password", "Password", "").kind("password").autocomplete("current-password").render(&[]))
                button type="submit" class="btn btn-primary" { "Accedi" }
            }
            @if let Some(oidc) = &tenant.settings.oidc {
                p class="mt-4 mb-2" { "Oppure:" }
                a class="btn btn-outline-primary" id="accesso-oidc"
                    href=(format!("/{}/accesso/oidc?torna={}", tenant.slug,
                        url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>())) {
                    "Accedi con " (oidc.label)
                }
            }
            p class="mt-4" {
                "Password dimenticata o account non ancora attivato? Chiedere un nuovo link alla segreteria dell'Ordine"
                @if let Some(pec) = &tenant.pec { " (PEC " (pec) ")" }
                ": il link vale 48 ore e si usa una sola volta."
            }
        },
    )
}

pub async fn login_form(
    tenant: CurrentTenant,
    MaybeUser(user): MaybeUser,
    Query(q): Query<LoginQuery>,
) -> Response {
    if let Some(user) = user {
        return Redirect::to(&area_of(&tenant, &user.roles)).into_response();
    }
    login_page(&tenant, None, "", &safe_back(&tenant, &q.torna)).into_response()
}

const WRONG: &str = "E-mail o password non corretti.";
const TOO_MANY: &str =
    "Troppi tentativi di accesso per questo account: attendere qualche minuto e riprovare.";

fn refused(
    tenant: &CurrentTenant,
    status: StatusCode,
    message: &str,
    email: &str,
    back: &str,
) -> Response {
    (
        status,
        login_page(tenant, Some(html! { (message) }), email, back),
    )
        .into_response()
}

/// The login page after a login through the identity provider did not succeed: the message and
/// a link back to a fresh login page (the address bar still shows the provider's answer).
pub fn oidc_refused_page(tenant: &CurrentTenant, status: StatusCode, message: &str) -> Response {
    let error = html! {
        p class="mb-2" { (message) }
        a id="torna-accesso" href=(format!("/{}/accesso", tenant.slug)) { "Torna alla pagina di accesso" }
    };
    (status, login_page(tenant, Some(error), "", "")).into_response()
}

/// A 429 page that says when to try again.
fn retry_after(mut res: Response, wait: std::time::Duration) -> Response {
    res.headers_mut().insert(
        axum::http::header::RETRY_AFTER,
        axum::http::HeaderValue::from(wait.as_secs().max(1)),
    );
    res
}

pub async fn login(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    client: ClientAddr,
    mut auth: Auth,
    HtmlForm(form): HtmlForm<LoginForm>,
) -> Result<Response, AppError> {
    let email = normalize_email(&form.email);
    let back = safe_back(&tenant, &form.torna);
    if let Err(wait) = state
        .limiters
        .check_account(&format!("{}:{email}", tenant.id), client)
    {
        let page = refused(
            &tenant,
            StatusCode::TOO_MANY_REQUESTS,
            TOO_MANY,
            &email,
            &back,
        );
        return Ok(retry_after(page, wait));
    }
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let user = users::find_by_email(&mut tx, &email).await?;
    let verified = match user.as_ref().and_then(|u| u.password_hash.as_deref()) {
        Some(hash) => crypto::verify_secret(&form.password, hash).await,
        None => {
            // The same work whether or not the account exists.
            crypto::dummy_verify(&form.password).await;
            false
        }
    };
    let user = match user {
        Some(u) if verified && u.is_active() => u,
        other => {
            let actor = match &other {
                Some(u) => Actor::user(u.id, &u.full_name),
                None => Actor::anonymous("account sconosciuto"),
            };
            audit::record(
                &mut tx,
                Entry {
                    actor: &actor,
                    action: "accesso",
                    target_kind: Some("utente"),
                    target_id: other.as_ref().map(|u| u.id.to_string()),
                    outcome: "negato",
                    details: serde_json::json!({ "motivo": "credenziali" }),
                },
            )
            .await?;
            tx.commit().await?;
            return Ok(refused(
                &tenant,
                StatusCode::UNPROCESSABLE_ENTITY,
                WRONG,
                &email,
                &back,
            ));
        }
    };
    tx.commit().await?;
    if user.needs_second_factor() {
        return Pending::start(&auth, &tenant, &user, back, LoginMethod::Password).await;
    }
    complete(
        &state,
        &tenant,
        &mut auth,
        &user,
        &back,
        &LoginMethod::Password,
        false,
    )
    .await
}

impl Pending {
    /// Remembers that `user` proved the first factor and sends them to the second one (or to
    /// setting it up, at the first login of a staff account).
    pub async fn start(
        auth: &Auth,
        tenant: &CurrentTenant,
        user: &User,
        back: String,
        method: LoginMethod,
    ) -> Result<Response, AppError> {
        let pending = Pending {
            tenant: tenant.id.0,
            user: user.id,
            at: Utc::now().timestamp(),
            new_secret: user.totp_secret.is_none().then(new_secret),
            back: safe_back(tenant, &back),
            method,
        };
        let next = if pending.new_secret.is_some() {
            "configura-codice"
        } else {
            "codice"
        };
        auth.session
            .insert(PENDING_KEY, &pending)
            .await
            .map_err(|e| anyhow::anyhow!("session: {e}"))?;
        Ok(Redirect::to(&format!("/{}/accesso/{next}", tenant.slug)).into_response())
    }
}

fn new_secret() -> String {
    Secret::from(crypto::random_bytes::<20>().to_vec()).to_base32()
}

fn totp(secret: &str, email: &str, tenant: &CurrentTenant) -> Result<Totp, AppError> {
    let secret = Secret::try_from_base32(secret).map_err(|e| anyhow::anyhow!("secret: {e:?}"))?;
    totp_rs::Builder::new()
        .with_secret(secret)
        .with_account_name(email)
        .with_issuer(Some(format!("Patrocinio {}", tenant.slug)))
        .build()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("totp: {e:?}")))
}

/// Logs the person in: a new session id, a CSRF token, the login time, an audit entry (how they
/// proved who they are; `totp`: with their TOTP or recovery code), and for a first login through
/// the identity provider the binding of its subject to the account.
pub async fn complete(
    state: &AppState,
    tenant: &CurrentTenant,
    auth: &mut Auth,
    user: &User,
    back: &str,
    method: &LoginMethod,
    totp: bool,
) -> Result<Response, AppError> {
    let back = safe_back(tenant, back);
    let session_user = SessionUser::from_user(tenant.id, user);
    auth.login(&session_user)
        .await
        .map_err(|e| anyhow::anyhow!("login: {e}"))?;
    let session = &auth.session;
    let set = async {
        session.remove_value(PENDING_KEY).await?;
        session.insert(CSRF_KEY, crypto::random_hex::<32>()).await?;
        session.insert(LOGIN_AT_KEY, Utc::now().timestamp()).await
    };
    set.await.map_err(|e| anyhow::anyhow!("session: {e}"))?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    users::record_login(&mut tx, user.id).await?;
    if let LoginMethod::Oidc {
        issuer,
        bind_subject: Some(subject),
        ..
    } = method
    {
        users::bind_subject(&mut tx, user.id, issuer, subject).await?;
        tracing::info!(user.id = %user.id, "identity provider subject bound to the account");
    }
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::user(user.id, &user.full_name),
            action: "accesso",
            target_kind: Some("utente"),
            target_id: Some(user.id.to_string()),
            outcome: "ok",
            details: method.audit_details(totp),
        },
    )
    .await?;
    tx.commit().await?;
    let target = if back.is_empty() {
        area_of(tenant, &user.roles)
    } else {
        back
    };
    Ok(Redirect::to(&target).into_response())
}

/// The half-done login of this session, if still fresh and for this Ordine.
async fn pending(auth: &Auth, tenant: &CurrentTenant) -> Option<Pending> {
    let p: Pending = auth.session.get(PENDING_KEY).await.ok().flatten()?;
    (p.tenant == tenant.id.0 && Utc::now().timestamp() - p.at <= PENDING_SECONDS).then_some(p)
}

fn expired(tenant: &CurrentTenant) -> Response {
    refused(
        tenant,
        StatusCode::UNPROCESSABLE_ENTITY,
        "La procedura di accesso è scaduta: inserire di nuovo e-mail e password.",
        "",
        "",
    )
}

fn code_page(tenant: &CurrentTenant, error: Option<&str>) -> Markup {
    page(
        tenant,
        "Codice di verifica",
        html! {
            p { "Inserire il codice di sei cifre mostrato dall'app di autenticazione, oppure uno dei codici di recupero." }
            (alert(error))
            form method="post" action=(format!("/{}/accesso/codice", tenant.slug)) novalidate {
                (Input::text("codice", "Codice", "").autocomplete("one-time-code").render(&[]))
                button type="submit" class="btn btn-primary" { "Verifica" }
            }
        },
    )
}

pub async fn code_form(tenant: CurrentTenant, auth: Auth) -> Response {
    match pending(&auth, &tenant).await {
        Some(_) => code_page(&tenant, None).into_response(),
        None => expired(&tenant),
    }
}

pub async fn code(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    client: ClientAddr,
    mut auth: Auth,
    HtmlForm(form): HtmlForm<CodeForm>,
) -> Result<Response, AppError> {
    let Some(p) = pending(&auth, &tenant).await else {
        return Ok(expired(&tenant));
    };
    if let Err(wait) = state
        .limiters
        .check_account(&format!("{}:{}", tenant.id, p.user), client)
    {
        let page = (
            StatusCode::TOO_MANY_REQUESTS,
            code_page(&tenant, Some(TOO_MANY)),
        )
            .into_response();
        return Ok(retry_after(page, wait));
    }
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let user = users::get(&mut tx, p.user)
        .await?
        .filter(User::is_active)
        .ok_or(AppError::Forbidden)?;
    let typed: String = form.codice.chars().filter(|c| !c.is_whitespace()).collect();
    let ok = if typed.len() == 6 && typed.bytes().all(|b| b.is_ascii_digit()) {
        match user.totp_secret.as_deref() {
            Some(secret) => match totp(secret, &user.email, &tenant)?.check_current(&typed) {
                Some(step) => users::use_totp_step(&mut tx, user.id, step as i64).await?,
                None => false,
            },
            None => false,
        }
    } else {
        users::use_recovery_code(&mut tx, user.id, &typed.to_uppercase()).await?
    };
    if !ok {
        audit::record(
            &mut tx,
            Entry {
                actor: &Actor::user(user.id, &user.full_name),
                action: "accesso",
                target_kind: Some("utente"),
                target_id: Some(user.id.to_string()),
                outcome: "negato",
                details: serde_json::json!({ "motivo": "secondo fattore" }),
            },
        )
        .await?;
        tx.commit().await?;
        let page = code_page(
            &tenant,
            Some("Codice non valido o già usato. Riprovare con il codice attuale."),
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    tx.commit().await?;
    complete(&state, &tenant, &mut auth, &user, &p.back, &p.method, true).await
}

fn setup_page(tenant: &CurrentTenant, totp: &Totp, secret: &str, error: Option<&str>) -> Markup {
    let qr = totp.to_qr_base64().ok();
    page(
        tenant,
        "Attivazione del codice di verifica",
        html! {
            p {
                "Per la segreteria, i consiglieri e l'amministrazione l'accesso richiede un secondo fattore. "
                "Inquadrare il codice QR con un'app di autenticazione (ad esempio FreeOTP o Google Authenticator), "
                "oppure inserire a mano la chiave, poi scrivere qui il codice di sei cifre che l'app mostra."
            }
            @if let Some(qr) = qr {
                img src=(format!("data:image/png;base64,{qr}")) alt="Codice QR per l'app di autenticazione" width="200" height="200";
            }
            p { "Chiave: " code id="chiave-totp" class="text-break" { (secret) } }
            (alert(error))
            form method="post" action=(format!("/{}/accesso/configura-codice", tenant.slug)) novalidate {
                (Input::text("codice", "Codice di sei cifre", "").autocomplete("one-time-code").render(&[]))
                button type="submit" class="btn btn-primary" { "Attiva e accedi" }
            }
        },
    )
}

pub async fn setup_form(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    auth: Auth,
) -> Result<Response, AppError> {
    let Some(p) = pending(&auth, &tenant).await else {
        return Ok(expired(&tenant));
    };
    let Some(secret) = p.new_secret else {
        return Ok(Redirect::to(&format!("/{}/accesso/codice", tenant.slug)).into_response());
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let user = users::get(&mut tx, p.user)
        .await?
        .ok_or(AppError::Forbidden)?;
    tx.commit().await?;
    let t = totp(&secret, &user.email, &tenant)?;
    Ok(setup_page(&tenant, &t, &secret, None).into_response())
}

pub async fn setup(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    mut auth: Auth,
    HtmlForm(form): HtmlForm<CodeForm>,
) -> Result<Response, AppError> {
    let Some(p) = pending(&auth, &tenant).await else {
        return Ok(expired(&tenant));
    };
    let Some(secret) = p.new_secret.clone() else {
        return Ok(Redirect::to(&format!("/{}/accesso/codice", tenant.slug)).into_response());
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let user = users::get(&mut tx, p.user)
        .await?
        .filter(User::is_active)
        .ok_or(AppError::Forbidden)?;
    let t = totp(&secret, &user.email, &tenant)?;
    let typed: String = form.codice.chars().filter(|c| !c.is_whitespace()).collect();
    let Some(step) = t.check_current(&typed) else {
        tx.commit().await?;
        let page = setup_page(
            &tenant,
            &t,
            &secret,
            Some("Il codice non corrisponde: controllare l'ora del telefono e riprovare."),
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    users::set_totp(&mut tx, user.id, &secret, step as i64).await?;
    let codes: Vec<String> = (0..10).map(|_| crypto::recovery_code()).collect();
    users::replace_recovery_codes(&mut tx, user.id, &codes).await?;
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::user(user.id, &user.full_name),
            action: "secondo_fattore_attivato",
            target_kind: Some("utente"),
            target_id: Some(user.id.to_string()),
            outcome: "ok",
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    let redirect = complete(&state, &tenant, &mut auth, &user, &p.back, &p.method, true).await?;
    let next = redirect
        .headers()
        .get(axum::http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/")
        .to_owned();
    Ok(page(
        &tenant,
        "Codici di recupero",
        html! {
            div class="alert alert-success" role="status" { "Il codice di verifica è attivo." }
            p {
                "Conservare questi codici in un luogo sicuro: ciascuno permette un accesso se il telefono non è disponibile, "
                strong { "e non verranno mostrati di nuovo." }
            }
            ul id="codici-recupero" class="list-unstyled text-monospace h5" {
                @for c in &codes { li { (c) } }
            }
            a class="btn btn-primary" href=(next) { "Continua" }
        },
    )
    .into_response())
}

#[derive(Deserialize)]
pub struct LogoutForm {}

pub async fn logout(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    mut auth: Auth,
) -> Result<Response, AppError> {
    if let Some(user) = auth
        .logout()
        .await
        .map_err(|e| anyhow::anyhow!("logout: {e}"))?
    {
        let _ = auth.session.delete().await;
        audit::record_alone(
            &state.db,
            user.tenant,
            Entry {
                actor: &Actor::user(user.id, &user.name),
                action: "uscita",
                target_kind: Some("utente"),
                target_id: Some(user.id.to_string()),
                outcome: "ok",
                details: serde_json::json!({}),
            },
        )
        .await?;
    }
    Ok(Redirect::to(&format!("/{}/accesso", tenant.slug)).into_response())
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    conferma: String,
}

fn password_page(tenant: &CurrentTenant, token: &str, name: &str, error: Option<&str>) -> Markup {
    page(
        tenant,
        "Imposta la password",
        html! {
            p { "Account di " strong { (name) } ". La password deve avere da 12 a 128 caratteri: una frase lunga è più sicura e più facile da ricordare." }
            (alert(error))
            form method="post" action=(format!("/{}/imposta-password/{token}", tenant.slug)) novalidate {
                (Input::text("password", "Nuova password", "").kind("password").autocomplete("new-password").render(&[]))
                (Input::text("conferma", "Ripeti la password", "").kind("password").autocomplete("new-password").render(&[]))
                button type="submit" class="btn btn-primary" { "Salva la password" }
            }
        },
    )
}

fn link_invalid(tenant: &CurrentTenant) -> Response {
    (
        StatusCode::NOT_FOUND,
        page(
            tenant,
            "Link non valido",
            html! {
                p { "Il link è scaduto, è già stato usato oppure non è corretto. Chiedere un nuovo link alla segreteria dell'Ordine." }
            },
        ),
    )
        .into_response()
}

pub async fn password_form(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    params: PathParams,
) -> Result<Response, AppError> {
    let token = params.get("token").to_owned();
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let owner = users::link_owner(&mut tx, &token).await?;
    let user = match owner {
        Some((id, _)) => users::get(&mut tx, id).await?,
        None => None,
    };
    tx.commit().await?;
    Ok(match user {
        Some(u) => password_page(&tenant, &token, &u.full_name, None).into_response(),
        None => link_invalid(&tenant),
    })
}

pub async fn set_password(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    params: PathParams,
    HtmlForm(form): HtmlForm<PasswordForm>,
) -> Result<Response, AppError> {
    let token = params.get("token").to_owned();
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let Some((id, purpose)) = users::link_owner(&mut tx, &token).await? else {
        return Ok(link_invalid(&tenant));
    };
    let user = users::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let problem = if form.password != form.conferma {
        Some("Le due password non coincidono.")
    } else {
        check_password(&form.password, &user.email).err()
    };
    if let Some(problem) = problem {
        tx.commit().await?;
        let page = password_page(&tenant, &token, &user.full_name, Some(problem));
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    if !users::spend_link(&mut tx, &token).await? {
        return Ok(link_invalid(&tenant));
    }
    let hash = crypto::hash_secret(&form.password).await?;
    users::set_password(&mut tx, id, &hash).await?;
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::user(user.id, &user.full_name),
            action: if purpose == "attivazione" {
                "account_attivato"
            } else {
                "password_reimpostata"
            },
            target_kind: Some("utente"),
            target_id: Some(user.id.to_string()),
            outcome: "ok",
            details: serde_json::json!({}),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(page(
        &tenant,
        "Password salvata",
        html! {
            div class="alert alert-success" role="status" { "La password è stata salvata." }
            a class="btn btn-primary" href=(format!("/{}/accesso", tenant.slug)) { "Vai all'accesso" }
        },
    )
    .into_response())
}
