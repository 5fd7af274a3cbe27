//! Pure types and rules of the domain: no I/O, no sqlx, no axum.

pub mod tenant;
