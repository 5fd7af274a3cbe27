//! SQL, one module per aggregate. Tenant data is reached only through a [`crate::db::TenantTx`].

pub mod tenants;
