//! Pure types and rules of the domain: no I/O, no sqlx, no axum.

pub mod access;
pub mod application;
pub mod assignment;
pub mod codice_fiscale;
pub mod council;
pub mod deadline;
pub mod identification;
pub mod income;
pub mod money;
pub mod notifications;
pub mod pec_receipt;
pub mod plural;
pub mod protocol;
pub mod register;
pub mod search;
pub mod statistics;
pub mod tax_batch;
pub mod tenant;
pub mod time;
pub mod transmission;
