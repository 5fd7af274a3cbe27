//! Adopting a decision (the rapporteur's when council sessions are off, the Council's in a
//! session): the delibera number of the year, the PDF from the typst template on the
//! Ordine's letterhead, stored with its SHA-256; and how the case page shows it.

use std::{path::Path, sync::Arc};

use axum::response::Response;
use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{CaseFile, view_grant, viewer};
use crate::{
    db::TenantTx,
    documents::{
        pdf::{PdfEngine, Template},
        seal::Seal,
    },
    domain::{
        application::{Outcome, decision, matter::Matter},
        money::Euro,
        time,
    },
    storage::Storage,
    store::{
        cases::{self, Case},
        decisions::{self, Adoption, Decision},
        protocol::{self, Series},
        tenants::Tenant,
    },
    web::{
        AppState,
        auth::{AreaRole, InArea},
        error::AppError,
        public::attachments::file_response,
        tenant::{CurrentTenant, PathParams},
    },
};

/// Who signs, as the delibera prints it.
pub struct Signer<'a> {
    pub id: Uuid,
    pub name: &'a str,
    /// `Il Consigliere relatore`, `Il Presidente` …
    pub role: &'a str,
}

pub fn euro(cents: Option<i64>) -> Option<String> {
    cents.map(|c| format!("€ {}", Euro::from_cents(c)))
}

/// What the adoption adds to the proposal.
struct Adopted<'a> {
    outcome: Outcome,
    number: &'a str,
    at: chrono::DateTime<Utc>,
    session: Option<NaiveDate>,
}

fn data(
    tenant: &Tenant,
    case: &Case,
    d: &Decision,
    a_: &Adopted<'_>,
    signer: &Signer<'_>,
) -> Value {
    let (outcome, number, adopted, session) = (a_.outcome, a_.number, a_.at, a_.session);
    let f = &case.form.0;
    let a = &f.applicant;
    let today = time::format_date(time::rome_date(adopted));
    json!({
        "ordine": { "nome": tenant.name, "pec": tenant.pec },
        "consiglio": council_name(&tenant.name),
        "codice": case.code,
        "numero": number,
        "data": today,
        "generata_il_iso": adopted.to_rfc3339(),
        "seduta": session.map(time::format_date),
        "relatore": d.proposer,
        "protocollo": case.protocol().map(|p| format!("{p} del {}", case.protocol_at.map(|t| time::format_date(time::rome_date(t))).unwrap_or_default())),
        "presentata_il": case.submitted_at.map(time::format_date_time),
        "richiedente": a.display_name(),
        "codice_fiscale": a.cf().to_uppercase(),
        "residenza": if a.is_entity() { a.entity_seat.clone() } else { format!("{} {} {}", a.address, a.postcode, a.city).trim().to_owned() },
        "materia": case.matter.as_deref().and_then(Matter::from_code).map(Matter::label),
        "controparte": case.counterparty_name,
        "ufficio": case.office_name,
        "giudizio": (f.case.pending == "si").then(|| format!("pendente, R.G. {}", f.case.rg_number)),
        "avvocato": case.lawyer_name.as_ref().map(|n| format!("Avv. {n}")),
        "esito": outcome.label().to_uppercase(),
        "motivazione": d.reasons,
        "dispositivo": decision::operative(outcome, &a.display_name()),
        "trasmissione": super::transmission::sentence(outcome, case),
        "riferimenti": decision::references(outcome),
        "luogo_data": format!("Data: {today}"),
        "ruolo_firmatario": signer.role,
        "firmatario": signer.name,
    })
}

/// What adopting a decision needs besides the database: the PDF engine, the file store, and
/// the folder of the Ordini's seals.
pub struct Docs<'a> {
    pub pdf: &'a Arc<PdfEngine>,
    pub storage: &'a Storage,
    pub seal_dir: Option<&'a Path>,
}

impl AppState {
    pub fn docs(&self) -> Docs<'_> {
        Docs {
            pdf: &self.pdf,
            storage: &self.storage,
            seal_dir: self.settings.seal_dir.as_deref(),
        }
    }
}

/// "Il Consiglio dell'Ordine degli Avvocati di …", whether or not the Ordine's name already
/// starts with "Consiglio".
pub fn council_name(ordine: &str) -> String {
    match ordine.strip_prefix("Consiglio ") {
        Some(rest) => format!("Il Consiglio {rest}"),
        None => format!("Il Consiglio dell'{ordine}"),
    }
}

/// Numbers the decision, renders and stores its PDF, and records the adoption, in `tx`.
/// Returns the number as printed (`12/2026`).
#[allow(clippy::too_many_arguments)]
pub async fn adopt(
    docs: &Docs<'_>,
    tx: &mut TenantTx,
    tenant: &Tenant,
    case: &Case,
    d: &Decision,
    outcome: Outcome,
    session: Option<NaiveDate>,
    signer: &Signer<'_>,
) -> anyhow::Result<String> {
    let (n, at) = protocol::take_number(tx, Series::Decision, &Utc::now).await?;
    let label = format!("{}/{}", n.number, n.year);
    let adopted = Adopted {
        outcome,
        number: &label,
        at,
        session,
    };
    let data = data(tenant, case, d, &adopted, signer);
    let pdf = docs.pdf.render_bounded(Template::Delibera, data).await?;
    let sha = hex::encode(Sha256::digest(&pdf));
    // A fresh key each time (never an object a row already names): see `storage`.
    let key = format!(
        "{}/{}/delibere/{}-{}.pdf",
        tenant.id,
        case.id,
        d.id,
        crate::crypto::random_hex::<8>()
    );
    let sealed = match (docs.seal_dir, tenant.settings.seal) {
        (Some(dir), true) => seal(tx, dir, &tenant.slug, &pdf).await?,
        _ => None,
    };
    docs.storage.put(&key, pdf).await?;
    decisions::adopt(
        tx,
        d.id,
        &Adoption {
            outcome,
            year: n.year,
            number: n.number,
            adopted_at: at,
            signer: signer.id,
            pdf_key: &key,
            pdf_sha256: &sha,
        },
    )
    .await?;
    if let Some((envelope, summary)) = sealed {
        let signed_key = format!("{key}.p7m");
        docs.storage.put(&signed_key, envelope).await?;
        decisions::mark_signed(tx, d.id, "sigillo", &signed_key, &summary).await?;
    }
    Ok(label)
}

/// The PDF sealed with the Ordine's certificate, and the check of the seal just made (its
/// qualification is recorded, not required: the seal is the Ordine's own choice).
async fn seal(
    tx: &mut TenantTx,
    dir: &std::path::Path,
    slug: &str,
    pdf: &[u8],
) -> anyhow::Result<Option<(Vec<u8>, crate::documents::SignatureSummary)>> {
    let Some(seal) = Seal::load(dir, slug)? else {
        tracing::warn!(
            slug,
            "electronic seal chosen but not installed: the delibera waits for a signature"
        );
        return Ok(None);
    };
    let envelope = seal.sign(pdf)?;
    let now = Utc::now();
    let report = crate::documents::signature::verify_cades(&envelope, now)
        .map_err(|e| anyhow::anyhow!("the seal does not verify: {e}"))?;
    let assessments = crate::store::trust::assess(tx.conn(), &report, now).await?;
    Ok(Some((
        envelope,
        crate::documents::SignatureSummary::new(&report, &assessments),
    )))
}

/// The proposal or decision on the case page.
pub fn section(file: &CaseFile, base: &str) -> Markup {
    let Some(d) = &file.decision else {
        return html! {};
    };
    html! {
        section class="mb-4" aria-labelledby="sez-decisione" id="decisione" {
            h2 class="h4 border-bottom pb-1" id="sez-decisione" {
                @match d.number_label() { Some(n) => { "Delibera n. " (n) }, None => "Proposta del relatore" }
            }
            dl class="row" {
                dt class="col-sm-4" { "Proposta" }
                dd class="col-sm-8" { (d.proposed().label()) ", " (d.proposer) " il " (time::format_date_time(d.proposed_at)) }
                @if let (Some(o), Some(at)) = (d.outcome(), d.adopted_at) {
                    dt class="col-sm-4" { "Esito deliberato" }
                    dd class="col-sm-8" { strong { (o.label()) } " il " (time::format_date_time(at)) }
                    dt class="col-sm-4" { "Firma" }
                    dd class="col-sm-8" {
                        @match (&d.signature, &d.signer) {
                            (Some(s), _) => (crate::web::components::signature_details(s)),
                            (None, Some(who)) => span { "In attesa della firma di " (who) },
                            _ => span { "In attesa di firma" },
                        }
                    }
                }
                dt class="col-sm-4" { "Motivazione" }
                dd class="col-sm-8 testo-lungo" { (d.reasons) }
            }
            @if d.pdf_key.is_some() {
                p {
                    a class="btn btn-outline-primary btn-sm me-2" href=(format!("{base}/delibera.pdf")) { "Scarica la delibera (PDF)" }
                    @if d.signed_key.is_some() {
                        a class="btn btn-primary btn-sm" href=(format!("{base}/delibera-firmata")) { "Scarica la delibera firmata" }
                    }
                }
                @if let Some(sha) = &d.pdf_sha256 { p class="small text-muted text-break" { "SHA-256 del PDF: " (sha) } }
            }
        }
    }
}

/// The delibera of a case (the generated PDF, or the signed file), for whoever sees the case.
pub async fn download<R: AreaRole>(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<R>,
    params: &PathParams,
    signed: bool,
) -> Result<Response, AppError> {
    let grant = view_grant(tenant, who)?;
    let id = params.id("id")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    cases::get(&mut tx, &viewer(&grant, who), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let d = decisions::current(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let (key, content_type, name) = match (signed, d.signed_file(), &d.pdf_key) {
        (true, Some(file), _) => file,
        (false, _, Some(k)) => (k.clone(), "application/pdf", d.file_name()),
        _ => return Err(AppError::NotFound),
    };
    let bytes = state.storage.get(&key).await?;
    Ok(file_response(bytes, content_type, &name))
}

#[cfg(test)]
mod tests {
    use super::council_name;

    #[test]
    fn the_council_is_named_once() {
        assert_eq!(
            council_name("Consiglio dell'Ordine degli Avvocati di Vallenera"),
            "Il Consiglio dell'Ordine degli Avvocati di Vallenera"
        );
        assert_eq!(
            council_name("Ordine degli Avvocati di Montefosco"),
            "Il Consiglio dell'Ordine degli Avvocati di Montefosco"
        );
    }
}
