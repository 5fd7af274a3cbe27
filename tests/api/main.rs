//! Black-box tests over HTTP on a real port, a fresh database per test.

mod helpers;

mod accounts;
mod admin;
mod application_file;
mod backup;
mod browser;
mod dossier;
mod embedded;
mod errors;
mod failover;
mod headers;
mod health;
mod isolation;
mod lists;
mod live;
mod mail;
mod metrics;
mod oidc;
mod pages;
mod pec_receipts;
mod pgbackrest;
mod platform;
mod protocol_days;
mod public_form;
mod register;
mod review;
mod robustness;
mod search;
mod signing;
mod spid;
mod statistics;
mod storage;
mod tax_batches;
mod transmissions;
mod workflow;
