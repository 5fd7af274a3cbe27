//! `/health`: the process answers. `/ready`: and its database does too.

use axum::extract::State;

use super::{AppState, error::AppError};

pub async fn health() -> &'static str {
    "ok"
}

pub async fn ready(State(state): State<AppState>) -> Result<&'static str, AppError> {
    match state.db.ping().await {
        Ok(()) => Ok("ok"),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "database not reachable");
            Err(AppError::Unavailable)
        }
    }
}
