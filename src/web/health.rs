//! `/health`: the process answers. `/ready`: and its database does too, as a primary that takes
//! changes (503 while no server answers, and while the endpoint reaches a standby still in
//! recovery or a read-only server: a load balancer sends no traffic to an instance that is
//! not ready).

use axum::extract::State;

use super::{AppState, error::AppError};

pub async fn ready(State(state): State<AppState>) -> Result<&'static str, AppError> {
    match state.db.ping().await {
        Ok(()) => Ok("ok"),
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "database not ready");
            Err(AppError::Unavailable)
        }
    }
}

pub async fn health() -> &'static str {
    "ok"
}
