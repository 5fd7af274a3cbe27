//! Accounts, their roles, second factors, recovery codes and single-use links.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use crate::{
    db::TenantTx,
    domain::{
        access::{Grant, ManageUsers, Role},
        notifications::{Delivery, Topic},
    },
    store::applications::token_hash,
};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub codice_fiscale: Option<String>,
    pub password_hash: Option<String>,
    pub totp_secret: Option<String>,
    pub totp_last_step: i64,
    pub status: String,
    pub session_epoch: i32,
    pub lawyer_id: Option<Uuid>,
    pub last_login_at: Option<DateTime<Utc>>,
    #[sqlx(skip)]
    pub roles: Vec<Role>,
}

impl User {
    pub fn is_active(&self) -> bool {
        self.status == "attivo"
    }

    pub fn needs_second_factor(&self) -> bool {
        self.totp_secret.is_some() || self.roles.iter().any(|r| r.requires_second_factor())
    }
}

const COLUMNS: &str = "id, email, full_name, codice_fiscale, password_hash, totp_secret, \
                       totp_last_step, status, session_epoch, lawyer_id, last_login_at";

async fn with_roles(tx: &mut TenantTx, user: Option<User>) -> anyhow::Result<Option<User>> {
    let Some(mut user) = user else {
        return Ok(None);
    };
    let roles: Vec<String> =
        sqlx::query_scalar("SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role")
            .bind(user.id)
            .fetch_all(tx.conn())
            .await?;
    user.roles = roles.iter().filter_map(|r| Role::from_code(r)).collect();
    Ok(Some(user))
}

pub async fn get(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Option<User>> {
    let user = sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(tx.conn())
        .await?;
    with_roles(tx, user).await
}

/// Several users at once, with their roles (the live sockets' login check).
pub async fn get_many(tx: &mut TenantTx, ids: &[Uuid]) -> anyhow::Result<Vec<User>> {
    let mut users: Vec<User> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = ANY($1)"))
            .bind(ids)
            .fetch_all(tx.conn())
            .await?;
    let roles: Vec<(Uuid, String)> = sqlx::query_as(
        "SELECT user_id, role FROM user_roles WHERE user_id = ANY($1) ORDER BY role",
    )
    .bind(ids)
    .fetch_all(tx.conn())
    .await?;
    for u in &mut users {
        u.roles = roles
            .iter()
            .filter(|(id, _)| *id == u.id)
            .filter_map(|(_, r)| Role::from_code(r))
            .collect();
    }
    Ok(users)
}

pub async fn find_by_email(tx: &mut TenantTx, email: &str) -> anyhow::Result<Option<User>> {
    let user = sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
        .bind(email)
        .fetch_optional(tx.conn())
        .await?;
    with_roles(tx, user).await
}

/// The account bound to `subject` at the OpenID Connect provider `issuer`, if any.
pub async fn find_by_subject(
    tx: &mut TenantTx,
    issuer: &str,
    subject: &str,
) -> anyhow::Result<Option<User>> {
    let user = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users WHERE id =
             (SELECT user_id FROM oidc_subjects WHERE issuer = $1 AND subject = $2)"
    ))
    .bind(issuer)
    .bind(subject)
    .fetch_optional(tx.conn())
    .await?;
    with_roles(tx, user).await
}

/// The subject the account is bound to at `issuer`, if any.
pub async fn subject_at(
    tx: &mut TenantTx,
    id: Uuid,
    issuer: &str,
) -> anyhow::Result<Option<String>> {
    Ok(
        sqlx::query_scalar("SELECT subject FROM oidc_subjects WHERE user_id = $1 AND issuer = $2")
            .bind(id)
            .bind(issuer)
            .fetch_optional(tx.conn())
            .await?,
    )
}

/// Binds the account to `subject` at `issuer` (its first login through that provider);
/// `false` if the account or the subject is already bound there.
pub async fn bind_subject(
    tx: &mut TenantTx,
    id: Uuid,
    issuer: &str,
    subject: &str,
) -> anyhow::Result<bool> {
    let tenant = tx.tenant().0;
    Ok(sqlx::query(
        "INSERT INTO oidc_subjects (tenant_id, user_id, issuer, subject) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant)
    .bind(id)
    .bind(issuer)
    .bind(subject)
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

pub async fn list(tx: &mut TenantTx, _grant: &Grant<ManageUsers>) -> anyhow::Result<Vec<User>> {
    let users: Vec<User> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users ORDER BY lower(full_name)"
    ))
    .fetch_all(tx.conn())
    .await?;
    let mut out = Vec::with_capacity(users.len());
    for u in users {
        out.extend(with_roles(tx, Some(u)).await?);
    }
    Ok(out)
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub full_name: &'a str,
    pub codice_fiscale: Option<&'a str>,
    pub roles: &'a [Role],
    pub lawyer_id: Option<Uuid>,
}

/// Creates an invited account (no password yet). `Ok(None)` if the e-mail is already taken.
pub async fn invite(
    tx: &mut TenantTx,
    _grant: &Grant<ManageUsers>,
    new: NewUser<'_>,
) -> anyhow::Result<Option<Uuid>> {
    insert(tx, new).await
}

/// The same as [`invite`], for the demo seed and the register import (no person acts).
pub(crate) async fn insert(tx: &mut TenantTx, new: NewUser<'_>) -> anyhow::Result<Option<Uuid>> {
    let tenant = tx.tenant().0;
    let id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO users (tenant_id, email, full_name, codice_fiscale, lawyer_id)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, email) DO NOTHING RETURNING id",
    )
    .bind(tenant)
    .bind(new.email)
    .bind(new.full_name)
    .bind(new.codice_fiscale)
    .bind(new.lawyer_id)
    .fetch_optional(tx.conn())
    .await?;
    if let Some(id) = id {
        set_roles_unchecked(tx, id, new.roles).await?;
    }
    Ok(id)
}

async fn set_roles_unchecked(tx: &mut TenantTx, id: Uuid, roles: &[Role]) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query("DELETE FROM user_roles WHERE user_id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    for role in roles {
        sqlx::query("INSERT INTO user_roles (tenant_id, user_id, role) VALUES ($1, $2, $3)")
            .bind(tenant)
            .bind(id)
            .bind(role.code())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// Replaces the roles; a removed role ends the account's sessions.
pub async fn set_roles(
    tx: &mut TenantTx,
    _grant: &Grant<ManageUsers>,
    id: Uuid,
    roles: &[Role],
) -> anyhow::Result<()> {
    set_roles_unchecked(tx, id, roles).await?;
    end_sessions(tx, id).await
}

/// Disabling an account ends all its sessions at once (the session check compares the epoch).
pub async fn set_disabled(
    tx: &mut TenantTx,
    _grant: &Grant<ManageUsers>,
    id: Uuid,
    disabled: bool,
) -> anyhow::Result<bool> {
    let status = if disabled { "disabilitato" } else { "attivo" };
    let changed = sqlx::query(
        "UPDATE users SET status = $2, session_epoch = session_epoch + 1, updated_at = now()
         WHERE id = $1 AND password_hash IS NOT NULL",
    )
    .bind(id)
    .bind(status)
    .execute(tx.conn())
    .await?
    .rows_affected();
    Ok(changed == 1)
}

pub async fn end_sessions(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE users SET session_epoch = session_epoch + 1, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Sets the password (activation or reset): the account becomes active and any session ends.
pub async fn set_password(tx: &mut TenantTx, id: Uuid, hash: &str) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE users SET password_hash = $2, status = CASE WHEN status = 'invitato'
             THEN 'attivo' ELSE status END, session_epoch = session_epoch + 1, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(hash)
    .execute(tx.conn())
    .await?;
    Ok(())
}

pub async fn set_totp(tx: &mut TenantTx, id: Uuid, secret: &str, step: i64) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE users SET totp_secret = $2, totp_last_step = $3, updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(secret)
    .bind(step)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Records an accepted TOTP step; `false` if it (or a later one) was already used.
pub async fn use_totp_step(tx: &mut TenantTx, id: Uuid, step: i64) -> anyhow::Result<bool> {
    Ok(
        sqlx::query("UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2")
            .bind(id)
            .bind(step)
            .execute(tx.conn())
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn record_login(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<()> {
    sqlx::query("UPDATE users SET last_login_at = now() WHERE id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Replaces the recovery codes of an account with new ones (given in clear, stored hashed).
pub async fn replace_recovery_codes(
    tx: &mut TenantTx,
    id: Uuid,
    codes: &[String],
) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(id)
        .execute(tx.conn())
        .await?;
    for code in codes {
        sqlx::query(
            "INSERT INTO recovery_codes (tenant_id, user_id, code_hash) VALUES ($1, $2, $3)",
        )
        .bind(tenant)
        .bind(id)
        .bind(token_hash(code))
        .execute(tx.conn())
        .await?;
    }
    Ok(())
}

/// Spends a recovery code; `false` if it is unknown or already used.
pub async fn use_recovery_code(tx: &mut TenantTx, id: Uuid, code: &str) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE recovery_codes SET used_at = now()
         WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
    )
    .bind(id)
    .bind(token_hash(code))
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

pub const LINK_VALIDITY_HOURS: i64 = 48;

/// A single-use link for `purpose` (`attivazione` or `reimpostazione`), valid 48 hours; earlier
/// unused links of the same purpose stop working.
pub async fn issue_link(
    tx: &mut TenantTx,
    id: Uuid,
    purpose: &str,
    token: &str,
) -> anyhow::Result<DateTime<Utc>> {
    let tenant = tx.tenant().0;
    let expires = Utc::now() + Duration::hours(LINK_VALIDITY_HOURS);
    sqlx::query(
        "UPDATE account_tokens SET used_at = now()
         WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL",
    )
    .bind(id)
    .bind(purpose)
    .execute(tx.conn())
    .await?;
    sqlx::query(
        "INSERT INTO account_tokens (token_hash, tenant_id, user_id, purpose, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(token_hash(token))
    .bind(tenant)
    .bind(id)
    .bind(purpose)
    .bind(expires)
    .execute(tx.conn())
    .await?;
    // The link also goes by e-mail to the account's address.
    let slug: String = sqlx::query_scalar("SELECT slug FROM tenants WHERE id = $1")
        .bind(tenant)
        .fetch_one(tx.conn())
        .await?;
    super::outbox::account_link(
        tx,
        id,
        purpose,
        &format!("/{slug}/imposta-password/{token}"),
        &crate::domain::time::format_date_time(expires),
    )
    .await?;
    Ok(expires)
}

/// The account a valid, unused, unexpired link belongs to (the link is not spent yet).
pub async fn link_owner(tx: &mut TenantTx, token: &str) -> anyhow::Result<Option<(Uuid, String)>> {
    Ok(sqlx::query_as(
        "SELECT user_id, purpose FROM account_tokens
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(token_hash(token))
    .fetch_optional(tx.conn())
    .await?)
}

/// Spends a link; `false` if it was used concurrently.
pub async fn spend_link(tx: &mut TenantTx, token: &str) -> anyhow::Result<bool> {
    Ok(sqlx::query(
        "UPDATE account_tokens SET used_at = now()
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now()",
    )
    .bind(token_hash(token))
    .execute(tx.conn())
    .await?
    .rows_affected()
        == 1)
}

/// How the person gets each choosable notice (the default, at once, for those not chosen).
pub async fn mail_choices(tx: &mut TenantTx, id: Uuid) -> anyhow::Result<Vec<(Topic, Delivery)>> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT topic, delivery FROM mail_choices WHERE user_id = $1")
            .bind(id)
            .fetch_all(tx.conn())
            .await?;
    Ok(Topic::ALL
        .into_iter()
        .map(|t| {
            let chosen = rows
                .iter()
                .find(|(topic, _)| topic == t.code())
                .and_then(|(_, d)| Delivery::from_code(d));
            (t, chosen.unwrap_or(Delivery::Subito))
        })
        .collect())
}

pub async fn set_mail_choice(
    tx: &mut TenantTx,
    id: Uuid,
    topic: Topic,
    delivery: Delivery,
) -> anyhow::Result<()> {
    let tenant = tx.tenant().0;
    sqlx::query(
        "INSERT INTO mail_choices (tenant_id, user_id, topic, delivery) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, topic) DO UPDATE SET delivery = EXCLUDED.delivery",
    )
    .bind(tenant)
    .bind(id)
    .bind(topic.code())
    .bind(delivery.code())
    .execute(tx.conn())
    .await?;
    Ok(())
}
