//! SQL, one module per aggregate. Tenant data is reached only through a [`crate::db::TenantTx`]
//! (the periodic jobs' probes across the Ordini, in `probes`, return ids, numbers and times).

pub mod applications;
pub mod attachments;
pub mod audit;
pub mod cases;
pub mod council;
pub mod decisions;
pub mod events;
pub mod files;
pub mod identifications;
pub mod integrations;
pub mod lawyers;
pub mod offices;
pub mod outbox;
pub mod pec_receipts;
pub mod presence;
pub mod probes;
pub mod protocol;
pub mod protocol_days;
pub mod register;
pub mod renditions;
pub mod statistics;
pub mod tax_batches;
pub mod tenants;
pub mod transmissions;
pub mod trust;
pub mod users;
