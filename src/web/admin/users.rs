//! Accounts and roles: invite, change roles, disable, issue activation and reset links.
//!
//! A link goes by e-mail to the account's address and is also shown here once, for the
//! administrator to pass on if the e-mail does not arrive; it is valid 48 hours and works once.

use axum::{
    Form as HtmlForm,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

use crate::{
    crypto,
    domain::{
        access::{Grant, ManageUsers, Role, authorize, normalize_email},
        codice_fiscale::CodiceFiscale,
        time,
    },
    store::{
        audit::{self, Actor, Entry},
        users::{self, LINK_VALIDITY_HOURS, NewUser, User},
    },
    web::{
        AppState,
        auth::{Amministratore, InArea},
        components::Input,
        error::AppError,
        layout::{self, PageMeta, csrf_field},
        tenant::{CurrentTenant, PathParams},
    },
};

fn grant(
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
) -> Result<Grant<ManageUsers>, AppError> {
    authorize::<ManageUsers>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)
}

/// What to show above the list after an action.
enum Notice {
    Done(String),
    Link { name: String, url: String },
    Problem(String),
}

fn status_label(u: &User) -> &'static str {
    match u.status.as_str() {
        "attivo" => "Attivo",
        "invitato" => "Invitato (da attivare)",
        _ => "Disattivato",
    }
}

async fn page(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    notice: Option<Notice>,
    typed: &InviteForm,
) -> Result<Markup, AppError> {
    let grant = grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let list = users::list(&mut tx, &grant).await?;
    tx.commit().await?;
    let base = format!("/{}/amministrazione/utenti", tenant.slug);
    Ok(layout::page(
        &PageMeta::area("Utenti e ruoli", tenant, who),
        html! {
            (layout::breadcrumb(&[("Amministrazione", Some(&format!("/{}/amministrazione", tenant.slug))), ("Utenti e ruoli", None)]))
            h1 { "Utenti e ruoli" }
            @match &notice {
                Some(Notice::Done(m)) => div class="alert alert-success" role="status" { (m) },
                Some(Notice::Problem(m)) => div class="alert alert-danger" role="alert" { (m) },
                Some(Notice::Link { name, url }) => div class="alert alert-info" role="status" {
                    p { "Link per " strong { (name) } ", valido " (LINK_VALIDITY_HOURS) " ore e utilizzabile una sola volta. Parte anche per e-mail all'indirizzo dell'account; se serve, comunicarlo all'interessato: non verrà mostrato di nuovo." }
                    p class="mb-0 text-break" { code id="link-account" { (url) } }
                },
                None => {}
            }
            div class="table-responsive" {
                table class="table" {
                    caption { "Account dell'Ordine" }
                    thead { tr {
                        th scope="col" { "Nome" } th scope="col" { "E-mail" } th scope="col" { "Ruoli" }
                        th scope="col" { "Stato" } th scope="col" { "Ultimo accesso" } th scope="col" { "Azioni" }
                    } }
                    tbody {
                        @for u in &list {
                            tr {
                                td { (u.full_name) }
                                td { (u.email) }
                                td {
                                    form method="post" action=(format!("{base}/{}/ruoli", u.id)) {
                                        (csrf_field(&who.csrf))
                                        fieldset {
                                            legend class="visually-hidden" { "Ruoli di " (u.full_name) }
                                            @for role in Role::ALL {
                                                @let id = format!("ruolo-{}-{}", u.id, role.code());
                                                div class="form-check form-check-inline" {
                                                    input type="checkbox" id=(id) name="ruoli" value=(role.code()) checked[u.roles.contains(&role)];
                                                    label for=(id) { (role.label()) }
                                                }
                                            }
                                        }
                                        button type="submit" class="btn btn-outline-primary btn-sm" { "Salva ruoli" span class="visually-hidden" { " di " (u.full_name) } }
                                    }
                                }
                                td { (status_label(u)) }
                                td { (u.last_login_at.map(time::format_date_time).unwrap_or_else(|| "—".into())) }
                                td {
                                    @if u.status != "invitato" {
                                        form method="post" action=(format!("{base}/{}/stato", u.id)) class="mb-1" {
                                            (csrf_field(&who.csrf))
                                            @if u.status == "attivo" {
                                                input type="hidden" name="disattiva" value="1";
                                                button type="submit" class="btn btn-outline-danger btn-sm" { "Disattiva" span class="visually-hidden" { " " (u.full_name) } }
                                            } @else {
                                                button type="submit" class="btn btn-outline-primary btn-sm" { "Riattiva" span class="visually-hidden" { " " (u.full_name) } }
                                            }
                                        }
                                    }
                                    form method="post" action=(format!("{base}/{}/link", u.id)) {
                                        (csrf_field(&who.csrf))
                                        button type="submit" class="btn btn-link btn-sm p-0" {
                                            @if u.password_hash.is_none() { "Link di attivazione" } @else { "Link per nuova password" }
                                            span class="visually-hidden" { " per " (u.full_name) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 class="h4 mt-5" { "Invita un nuovo utente" }
            form method="post" action=(base) class="card card-bg p-3" novalidate {
                (csrf_field(&who.csrf))
                div class="row" {
                    (Input::text("nome", "Nome e cognome", &typed.nome).width("col-md-6").render(&[]))
                    (Input::text("email", "E-mail", &typed.email).kind("email").width("col-md-6").render(&[]))
                }
                (Input::text("codice_fiscale", "Codice fiscale", &typed.codice_fiscale).optional()
                    .hint("Per gli avvocati collega l'account all'iscrizione nell'albo").render(&[]))
                fieldset class="mb-3" {
                    legend class="h6" { "Ruoli" }
                    @for role in Role::ALL {
                        @let id = format!("nuovo-ruolo-{}", role.code());
                        div class="form-check form-check-inline" {
                            input type="checkbox" id=(id) name="ruoli" value=(role.code()) checked[typed.ruoli.iter().any(|r| r == role.code())];
                            label for=(id) { (role.label()) }
                        }
                    }
                }
                div { button type="submit" class="btn btn-primary" { "Invita" } }
            }
        },
    ))
}

pub async fn list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
) -> Result<Markup, AppError> {
    page(&state, &tenant, &who, None, &InviteForm::default()).await
}

#[derive(Deserialize, Default)]
pub struct InviteForm {
    #[serde(default)]
    nome: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    codice_fiscale: String,
    #[serde(default)]
    ruoli: Vec<String>,
}

fn parse_roles(codes: &[String]) -> Vec<Role> {
    let mut roles: Vec<Role> = codes.iter().filter_map(|c| Role::from_code(c)).collect();
    roles.sort();
    roles.dedup();
    roles
}

async fn audit_admin(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    action: &str,
    target: Uuid,
    details: serde_json::Value,
) -> Result<(), AppError> {
    audit::record_alone(
        &state.db,
        tenant.id,
        Entry {
            actor: &Actor::user(who.user.id, &who.user.name),
            action,
            target_kind: Some("utente"),
            target_id: Some(target.to_string()),
            outcome: "ok",
            details,
        },
    )
    .await?;
    Ok(())
}

/// A fresh single-use link for `user`: activation if there is no password yet, else reset.
async fn link_for(
    state: &AppState,
    tenant: &CurrentTenant,
    user: &User,
) -> Result<String, AppError> {
    let token = crypto::random_hex::<32>();
    let purpose = if user.password_hash.is_none() {
        "attivazione"
    } else {
        "reimpostazione"
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    users::issue_link(&mut tx, user.id, purpose, &token).await?;
    tx.commit().await?;
    Ok(format!(
        "{}/{}/imposta-password/{token}",
        state.settings.public_url, tenant.slug
    ))
}

pub async fn invite(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    axum_extra_form: HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let fields = axum_extra_form.0;
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let typed = InviteForm {
        nome: get("nome"),
        email: normalize_email(&get("email")),
        codice_fiscale: get("codice_fiscale").to_uppercase(),
        ruoli: fields
            .iter()
            .filter(|(k, _)| k == "ruoli")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let roles = parse_roles(&typed.ruoli);
    let problem = if typed.nome.chars().count() < 2 {
        Some("Indicare nome e cognome.")
    } else if !crate::domain::application::check::is_email(&typed.email) {
        Some("Indicare un indirizzo e-mail valido.")
    } else if roles.is_empty() {
        Some("Scegliere almeno un ruolo.")
    } else if !typed.codice_fiscale.is_empty()
        && CodiceFiscale::parse(&typed.codice_fiscale).is_err()
    {
        Some(
            "Il codice fiscale non è valido. Verificare i 16 caratteri (o le 11 cifre per gli enti).",
        )
    } else {
        None
    };
    if let Some(problem) = problem {
        let body = page(
            &state,
            &tenant,
            &who,
            Some(Notice::Problem(problem.into())),
            &typed,
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response());
    }
    let grant = grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let lawyer = match (
        roles.contains(&Role::Avvocato),
        typed.codice_fiscale.is_empty(),
    ) {
        (true, false) => crate::store::lawyers::find_by_cf(&mut tx, &typed.codice_fiscale).await?,
        _ => None,
    };
    let created = users::invite(
        &mut tx,
        &grant,
        NewUser {
            email: &typed.email,
            full_name: &typed.nome,
            codice_fiscale: (!typed.codice_fiscale.is_empty())
                .then_some(typed.codice_fiscale.as_str()),
            roles: &roles,
            lawyer_id: lawyer.map(|l| l.id),
        },
    )
    .await?;
    let Some(id) = created else {
        tx.commit().await?;
        let body = page(
            &state,
            &tenant,
            &who,
            Some(Notice::Problem(
                "Esiste già un account con questo indirizzo e-mail.".into(),
            )),
            &typed,
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response());
    };
    let user = users::get(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    tx.commit().await?;
    audit_admin(
        &state,
        &tenant,
        &who,
        "utente_invitato",
        id,
        serde_json::json!({ "ruoli": roles.iter().map(|r| r.code()).collect::<Vec<_>>() }),
    )
    .await?;
    let url = link_for(&state, &tenant, &user).await?;
    Ok(page(
        &state,
        &tenant,
        &who,
        Some(Notice::Link {
            name: user.full_name,
            url,
        }),
        &InviteForm::default(),
    )
    .await?
    .into_response())
}

/// The account named in the path, or 404 (also for another Ordine's account: RLS hides it).
async fn target(
    state: &AppState,
    tenant: &CurrentTenant,
    params: &PathParams,
) -> Result<User, AppError> {
    let id = params.id("user")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let user = users::get(&mut tx, id).await?;
    tx.commit().await?;
    user.ok_or(AppError::NotFound)
}

pub async fn set_roles(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
    HtmlForm(fields): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let user = target(&state, &tenant, &params).await?;
    let codes: Vec<String> = fields
        .into_iter()
        .filter(|(k, _)| k == "ruoli")
        .map(|(_, v)| v)
        .collect();
    let roles = parse_roles(&codes);
    if user.id == who.user.id && !roles.contains(&Role::Amministratore) {
        let body = page(
            &state,
            &tenant,
            &who,
            Some(Notice::Problem(
                "Non si può togliere a sé stessi il ruolo di amministratore.".into(),
            )),
            &InviteForm::default(),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response());
    }
    let grant = grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    users::set_roles(&mut tx, &grant, user.id, &roles).await?;
    tx.commit().await?;
    audit_admin(
        &state,
        &tenant,
        &who,
        "ruoli_modificati",
        user.id,
        serde_json::json!({ "ruoli": roles.iter().map(|r| r.code()).collect::<Vec<_>>() }),
    )
    .await?;
    Ok(page(
        &state,
        &tenant,
        &who,
        Some(Notice::Done(format!(
            "Ruoli di {} aggiornati.",
            user.full_name
        ))),
        &InviteForm::default(),
    )
    .await?
    .into_response())
}

pub async fn set_status(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
    HtmlForm(fields): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let user = target(&state, &tenant, &params).await?;
    let disable = fields
        .iter()
        .any(|(k, v)| k == "disattiva" && !v.is_empty());
    if user.id == who.user.id && disable {
        let body = page(
            &state,
            &tenant,
            &who,
            Some(Notice::Problem(
                "Non si può disattivare il proprio account.".into(),
            )),
            &InviteForm::default(),
        )
        .await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, body).into_response());
    }
    let grant = grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    users::set_disabled(&mut tx, &grant, user.id, disable).await?;
    tx.commit().await?;
    audit_admin(
        &state,
        &tenant,
        &who,
        if disable {
            "utente_disattivato"
        } else {
            "utente_riattivato"
        },
        user.id,
        serde_json::json!({}),
    )
    .await?;
    let message = if disable {
        format!(
            "{} è stato disattivato: le sue sessioni sono terminate.",
            user.full_name
        )
    } else {
        format!("{} è stato riattivato.", user.full_name)
    };
    Ok(page(
        &state,
        &tenant,
        &who,
        Some(Notice::Done(message)),
        &InviteForm::default(),
    )
    .await?
    .into_response())
}

pub async fn new_link(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
) -> Result<Response, AppError> {
    let user = target(&state, &tenant, &params).await?;
    grant(&tenant, &who)?;
    let url = link_for(&state, &tenant, &user).await?;
    audit_admin(
        &state,
        &tenant,
        &who,
        "link_account_emesso",
        user.id,
        serde_json::json!({}),
    )
    .await?;
    Ok(page(
        &state,
        &tenant,
        &who,
        Some(Notice::Link {
            name: user.full_name.clone(),
            url,
        }),
        &InviteForm::default(),
    )
    .await?
    .into_response())
}
