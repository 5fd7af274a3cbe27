//! Database roles and migrations.
//!
//! Three roles keep row-level security enforceable:
//! - an administrator (the embedded superuser, or the admin URL given to `patrocinio migrate`)
//!   creates the roles and the schemas;
//! - `patrocinio_owner` (NOLOGIN) owns every table: migrations run as this role (`SET ROLE`);
//! - `patrocinio_app` is the role the service logs in as: not owner, not superuser, no
//!   BYPASSRLS, and only the grants each migration gives it.
//!
//! Tables live in the schema `app`; login sessions in `sessions` (looked up before any tenant
//! is known); sqlx's migration ledger in the schema `meta`.

use anyhow::{Context, bail};
use sqlx::{Connection, Executor, PgConnection, migrate::Migrator, postgres::PgConnectOptions};
use std::str::FromStr;

pub const OWNER_ROLE: &str = "patrocinio_owner";
pub const APP_ROLE: &str = "patrocinio_app";

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Creates the two roles if they are missing and sets the service role's password.
pub async fn ensure_roles(admin: &mut PgConnection, app_password: &str) -> anyhow::Result<()> {
    // Two provisioners racing on one cluster may both try CREATE ROLE: the loser sees
    // unique_violation on pg_authid rather than duplicate_object.
    let create = |role: &str, attrs: &str| {
        format!(
            "DO $$ BEGIN CREATE ROLE {role} {attrs}; \
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
    };
    admin
        .execute(
            create(
                OWNER_ROLE,
                "NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
            )
            .as_str(),
        )
        .await
        .context("creating the owner role")?;
    admin
        .execute(
            create(
                APP_ROLE,
                "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT",
            )
            .as_str(),
        )
        .await
        .context("creating the service role")?;
    // Utility statements take no bind parameters: let the server quote the password.
    let alter: String = sqlx::query_scalar("SELECT format('ALTER ROLE %I PASSWORD %L', $1, $2)")
        .bind(APP_ROLE)
        .bind(app_password)
        .fetch_one(&mut *admin)
        .await?;
    admin
        .execute(alter.as_str())
        .await
        .context("setting the service role's password")?;
    // A non-superuser administrator (CREATEROLE) must be a member to SET ROLE to the owner.
    let is_super: bool =
        sqlx::query_scalar("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *admin)
            .await?;
    if !is_super {
        admin
            .execute(format!("GRANT {OWNER_ROLE} TO CURRENT_USER").as_str())
            .await
            .context("granting the owner role to the administrator")?;
    }
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1")
            .bind(APP_ROLE)
            .fetch_one(&mut *admin)
            .await?;
    if superuser || bypass {
        bail!("the role {APP_ROLE} is a superuser or has BYPASSRLS: remove those attributes");
    }
    Ok(())
}

/// Creates `database` on the server behind `admin_url` if it does not exist.
pub async fn ensure_database(admin: &mut PgConnection, database: &str) -> anyhow::Result<()> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut *admin)
            .await?;
    if !exists {
        let create: String = sqlx::query_scalar("SELECT format('CREATE DATABASE %I', $1)")
            .bind(database)
            .fetch_one(&mut *admin)
            .await?;
        admin
            .execute(create.as_str())
            .await
            .with_context(|| format!("creating the database {database}"))?;
    }
    Ok(())
}

/// Prepares the schemas of the database `admin` is connected to and runs the migrations as the
/// owner role. Roles must exist ([`ensure_roles`]).
pub async fn migrate(admin: &mut PgConnection) -> anyhow::Result<()> {
    let grant_connect: String = sqlx::query_scalar(
        "SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC; GRANT CONNECT, TEMPORARY ON DATABASE %I TO %I', current_database(), current_database(), $1::text)",
    )
    .bind(APP_ROLE)
    .fetch_one(&mut *admin)
    .await?;
    admin.execute(grant_connect.as_str()).await?;
    admin
        .execute(
            format!(
                "CREATE SCHEMA IF NOT EXISTS app AUTHORIZATION {OWNER_ROLE};
                 CREATE SCHEMA IF NOT EXISTS meta AUTHORIZATION {OWNER_ROLE};
                 CREATE SCHEMA IF NOT EXISTS sessions AUTHORIZATION {OWNER_ROLE};
                 REVOKE ALL ON SCHEMA public FROM PUBLIC;
                 GRANT USAGE ON SCHEMA app, meta, sessions TO {APP_ROLE};
                 CREATE SCHEMA IF NOT EXISTS ext;
                 GRANT USAGE ON SCHEMA ext TO {OWNER_ROLE}, {APP_ROLE};
                 CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA ext;
                 CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA ext;
                 CREATE EXTENSION IF NOT EXISTS fuzzystrmatch WITH SCHEMA ext;"
            )
            .as_str(),
        )
        .await
        .context(
            "creating the schemas and the search extensions (pg_trgm, unaccent, fuzzystrmatch)",
        )?;
    admin
        .execute(format!("SET ROLE {OWNER_ROLE}; SET search_path = meta").as_str())
        .await?;
    let result = MIGRATOR.run(&mut *admin).await;
    admin.execute("RESET ROLE; RESET search_path").await?;
    result.context("running the migrations")?;
    admin
        .execute(
            format!(
                "SET ROLE {OWNER_ROLE}; GRANT SELECT ON meta._sqlx_migrations TO {APP_ROLE}; RESET ROLE"
            )
            .as_str(),
        )
        .await?;
    Ok(())
}

/// What `patrocinio migrate` does on an external server: roles, then schema and migrations on
/// the database named in `admin_url`. The service role's password comes from `app_url`.
pub async fn provision_external(admin_url: &str, app_url: &str) -> anyhow::Result<()> {
    let admin_opts = PgConnectOptions::from_str(admin_url).context("invalid admin URL")?;
    let app_opts = PgConnectOptions::from_str(app_url).context("invalid DATABASE_URL")?;
    if app_opts.get_username() != APP_ROLE {
        bail!(
            "DATABASE_URL must log in as {APP_ROLE}, not {}",
            app_opts.get_username()
        );
    }
    if admin_opts.get_database() != app_opts.get_database() {
        bail!("the admin URL and DATABASE_URL must name the same database");
    }
    let password = password_of(app_url).context("DATABASE_URL has no password")?;
    let mut admin = PgConnection::connect_with(&admin_opts)
        .await
        .context("connecting with the admin URL")?;
    ensure_roles(&mut admin, &password).await?;
    migrate(&mut admin).await?;
    admin.close().await?;
    Ok(())
}

fn password_of(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let raw = url.password()?;
    Some(
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned(),
    )
}

/// Refuses to serve a database whose schema is older than this binary.
pub async fn check_schema(app: &mut PgConnection) -> anyhow::Result<()> {
    let applied: Option<i64> =
        sqlx::query_scalar("SELECT max(version) FROM meta._sqlx_migrations WHERE success")
            .fetch_one(&mut *app)
            .await
            .context("lo schema del database non è inizializzato: eseguire `patrocinio migrate`")?;
    let latest = MIGRATOR.iter().map(|m| m.version).max();
    if applied < latest {
        bail!("lo schema del database non è aggiornato: eseguire `patrocinio migrate`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_is_taken_from_the_url_and_decoded() {
        assert_eq!(
            password_of("postgres://patrocinio_app:s%40greto@db:5432/patrocinio").as_deref(),
            Some("s@greto")
        );
        assert_eq!(password_of("postgres://patrocinio_app@db/patrocinio"), None);
    }
}
