//! `serve --demo`: a demo Ordine (slug `demo`) seeded on an empty database.
//!
//! Each feature extends the demo with its own data, so that it always shows one user per role
//! and applications in every state.

use crate::{
    db::Db,
    domain::tenant::{Slug, TenantId},
    store::tenants::{self, NewTenant, TenantSettings},
};

pub const SLUG: &str = "demo";
pub const NAME: &str = "Consiglio dell'Ordine degli Avvocati di Vallenera (dimostrativo)";
pub const PEC: &str = "segreteria@pec.ordineavvocati-vallenera.example.it";

pub struct Seeded {
    /// `false` when the demo Ordine was already there (a second start reuses the data).
    pub created: bool,
}

pub async fn seed(db: &Db) -> anyhow::Result<Seeded> {
    if tenants::find_by_slug(db, SLUG).await?.is_some() {
        return Ok(Seeded { created: false });
    }
    let slug = Slug::parse(SLUG)?;
    let mut tx = db.tenant_tx(TenantId::new()).await?;
    tenants::create(
        &mut tx,
        NewTenant {
            slug: &slug,
            name: NAME,
            pec: Some(PEC),
            settings: TenantSettings::default(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(Seeded { created: true })
}

/// The lines `serve --demo` prints once the server listens.
pub fn banner(base_url: &str, seeded: &Seeded) -> String {
    let state = if seeded.created {
        "creato ora"
    } else {
        "già presente, dati riutilizzati"
    };
    format!(
        "Ordine dimostrativo ({state}): {base_url}/{SLUG}\n  \
         istanza on-line:   {base_url}/{SLUG}/istanza\n  \
         segreteria:        {base_url}/{SLUG}/segreteria\n  \
         consiglieri:       {base_url}/{SLUG}/consiglieri\n  \
         avvocati:          {base_url}/{SLUG}/avvocati"
    )
}
