//! Who may open a draft: the device that created or resumed it (a random token in an HttpOnly
//! cookie, stored hashed with the application), or anyone who types the code and the PIN.
//! A device without access is asked for code and PIN; nobody is told whether a code exists.

use axum::http::{HeaderMap, HeaderValue, header};
use chrono::Utc;
use uuid::Uuid;

use crate::{
    crypto::{dummy_verify, random_hex, verify_secret},
    db::TenantTx,
    domain::application::{ApplicationCode, Pin},
    store::applications::{self, ApplicationRow},
    web::{AppState, error::AppError},
};

const COOKIE: &str = "patrocinio-dispositivo";
const SECURE_COOKIE: &str = "__Host-patrocinio-dispositivo";
/// Drafts are purged after 90 days without changes; the device cookie lives as long.
const COOKIE_MAX_AGE: i64 = 90 * 24 * 3600;

fn cookie_name(state: &AppState) -> &'static str {
    if state.settings.secure_cookies() {
        SECURE_COOKIE
    } else {
        COOKIE
    }
}

/// The device token from the request's cookies, if any.
pub fn device_token(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|(_, v)| v.to_owned())
}

/// The device's token, or a new one with the header that stores it.
pub fn ensure_device_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    if let Some(token) = device_token(state, headers) {
        return (token, None);
    }
    let token = random_hex::<32>();
    let secure = if state.settings.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={token}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax{secure}",
        cookie_name(state)
    );
    (token, HeaderValue::from_str(&cookie).ok())
}

pub enum Unlock {
    Granted(Box<ApplicationRow>),
    /// Wrong code or PIN (indistinguishable to the user).
    Refused,
    /// Too many wrong PINs for this code: locked for a while.
    Locked,
}

/// Checks code and PIN. Wrong PINs are counted per application, one attempt at a time (the
/// row stays locked until the caller's transaction ends).
pub async fn unlock(tx: &mut TenantTx, code: &str, pin: &str) -> Result<Unlock, AppError> {
    let (Some(code), Some(pin)) = (ApplicationCode::parse(code), Pin::parse(pin)) else {
        dummy_verify(pin).await;
        return Ok(Unlock::Refused);
    };
    let Some(row) = applications::find_by_code_locked(tx, &code).await? else {
        dummy_verify(pin.as_str()).await;
        return Ok(Unlock::Refused);
    };
    if row.pin_locked_until.is_some_and(|t| t > Utc::now()) {
        return Ok(Unlock::Locked);
    }
    if verify_secret(pin.as_str(), &row.pin_hash).await {
        applications::reset_pin_failures(tx, row.id).await?;
        Ok(Unlock::Granted(Box::new(row)))
    } else {
        applications::record_pin_failure(tx, row.id).await?;
        Ok(Unlock::Refused)
    }
}

/// Whether the requesting device may open application `id`.
pub async fn device_may_open(
    state: &AppState,
    headers: &HeaderMap,
    tx: &mut TenantTx,
    id: Uuid,
) -> Result<bool, AppError> {
    match device_token(state, headers) {
        Some(token) => Ok(applications::device_has_access(tx, &token, id).await?),
        None => Ok(false),
    }
}
