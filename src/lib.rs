//! Patrocinio: the legal-aid office of the Italian Bar Councils (DPR 115/2002), as a web service.
//!
//! Layout: `domain` holds pure rules (no I/O); `store` the SQL; `db` the pool, the embedded
//! PostgreSQL and provisioning; `web` the axum routes, one folder per area of the UI.

pub mod app;
pub mod backup;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod db;
pub mod demo;
pub mod documents;
pub mod domain;
pub mod jobs;
pub mod live;
pub mod mail;
pub mod pec;
pub mod reverify;
pub mod storage;
pub mod store;
pub mod telemetry;
pub mod web;

pub use app::Application;
pub use config::Config;
