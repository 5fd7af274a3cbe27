//! Signing delibere with the councillor's own tool: download one PDF or a ZIP of all those
//! waiting, sign them (CAdES `.p7m` or PAdES), upload them one or many at a time. Each file
//! is verified and matched to its delibera; what does not match is listed with the reason.

use std::io::Write;

use axum::{
    extract::{Multipart, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::Utc;
use maud::{Markup, html};
use serde_json::json;

use super::TITLE;
use crate::{
    documents::{
        SignatureSummary,
        delibera::{Pending, check_signer, match_signed},
    },
    domain::{application::workflow::EventKind, time},
    store::{
        cases::{self, Change, Notify},
        decisions::{self, Decision},
        trust, users,
    },
    web::{
        AppState,
        auth::{Consigliere, InArea},
        case,
        error::AppError,
        layout::{self, PageMeta},
        public::attachments::file_response,
        tenant::CurrentTenant,
        uploads,
    },
};

fn url(tenant: &CurrentTenant) -> String {
    format!("/{}/consiglieri/firma", tenant.slug)
}

/// What became of each uploaded file.
struct Outcome {
    signed: Vec<(String, String)>,
    refused: Vec<(String, String)>,
}

fn page(
    tenant: &CurrentTenant,
    who: &InArea<Consigliere>,
    pending: &[Decision],
    outcome: Option<&Outcome>,
) -> Markup {
    let title = "Delibere da firmare";
    let area = format!("/{}/consiglieri", tenant.slug);
    layout::page(
        &PageMeta::area(title, tenant, who),
        html! {
            (layout::breadcrumb(&[(TITLE, Some(&area)), (title, None)]))
            h1 { (title) }
            @if let Some(o) = outcome {
                @if !o.signed.is_empty() {
                    div class="alert alert-success" role="status" id="firmate" {
                        p class="mb-1" { "Firme verificate e registrate:" }
                        ul class="mb-0" { @for (n, f) in &o.signed { li { "Delibera n. " (n) " — " (f) } } }
                    }
                }
                @if !o.refused.is_empty() {
                    div class="alert alert-danger" role="alert" id="non-accettati" {
                        p class="mb-1" { "File non accettati:" }
                        ul class="mb-0" { @for (f, why) in &o.refused { li { strong { (f) } ": " (why) } } }
                    }
                }
            }
            @if pending.is_empty() {
                p { "Nessuna delibera in attesa della sua firma." }
            } @else {
                p {
                    "Scaricare i PDF, firmarli con il proprio dispositivo di firma (file .p7m CAdES oppure PDF firmato PAdES) senza modificarli, e caricarli qui: uno o tutti insieme. "
                    "Ogni file è verificato e abbinato alla sua delibera."
                }
                p { a class="btn btn-outline-primary" href=(format!("{}/delibere.zip", url(tenant))) { "Scarica tutte le delibere da firmare (ZIP)" } }
                div class="table-responsive" {
                    table class="table" {
                        caption { "In attesa della firma" }
                        thead { tr { th scope="col" { "Delibera" } th scope="col" { "Istanza" } th scope="col" { "Esito" } th scope="col" { "PDF" } } }
                        tbody {
                            @for d in pending {
                                tr {
                                    td { (d.number_label().unwrap_or_default()) }
                                    td { a href=(format!("/{}/consiglieri/pratiche/{}", tenant.slug, d.application_id)) { (d.code) } }
                                    td { (d.outcome().map_or("", |o| o.label())) }
                                    td { a href=(format!("/{}/consiglieri/pratiche/{}/delibera.pdf", tenant.slug, d.application_id)) { (d.file_name()) } }
                                }
                            }
                        }
                    }
                }
                form method="post" action=(url(tenant)) enctype="multipart/form-data" class="card card-bg" {
                    (layout::csrf_field(&who.csrf))
                    div class="card-body" {
                        label for="firmati" class="form-label fw-semibold" { "File firmati" }
                        input type="file" class="form-control mb-3" id="firmati" name="firmati" multiple accept=".p7m,.pdf";
                        button type="submit" class="btn btn-primary" { "Carica e verifica" }
                    }
                }
            }
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
) -> Result<Markup, AppError> {
    case::view_grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let pending = decisions::to_sign(&mut tx, who.user.id).await?;
    tx.commit().await?;
    Ok(page(&tenant, &who, &pending, None))
}

/// Every delibera waiting for this councillor's signature, in one ZIP.
pub async fn zip(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
) -> Result<Response, AppError> {
    case::view_grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let pending = decisions::to_sign(&mut tx, who.user.id).await?;
    tx.commit().await?;
    let mut files = Vec::new();
    for d in &pending {
        if let Some(key) = &d.pdf_key {
            files.push((d.file_name(), state.storage.get(key).await?));
        }
    }
    let bytes = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for (name, pdf) in files {
            out.start_file(name, options)?;
            out.write_all(&pdf)?;
        }
        Ok(out.finish()?.into_inner())
    })
    .await
    .map_err(anyhow::Error::from)??;
    let name = format!(
        "delibere-da-firmare-{}.zip",
        time::rome_date(Utc::now()).format("%Y-%m-%d")
    );
    Ok(file_response(bytes, "application/zip", &name))
}

/// One or many signed files: each verified, matched to its delibera, recorded.
pub async fn upload(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Consigliere>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let fields = uploads::read(multipart, state.settings.limits.max_file_bytes).await;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let me = users::get(&mut tx, who.user.id)
        .await?
        .ok_or(AppError::Forbidden)?;
    let pending = decisions::to_sign(&mut tx, who.user.id).await?;
    let mut pdfs = Vec::new();
    for d in &pending {
        let key = d
            .pdf_key
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("adopted without a PDF"))?;
        pdfs.push(state.storage.get(key).await?);
    }
    let refs: Vec<Pending<'_>> = pending
        .iter()
        .zip(&pdfs)
        .map(|(d, pdf)| Pending {
            pdf,
            sha256: d.pdf_sha256.as_deref().unwrap_or(""),
        })
        .collect();
    let mut outcome = Outcome {
        signed: Vec::new(),
        refused: Vec::new(),
    };
    let mut used = Vec::new();
    let actor = case::actor(&who);
    if fields.files.is_empty() {
        outcome.refused.push((
            "—".into(),
            "Scegliere almeno un file firmato da caricare.".into(),
        ));
    }
    for file in fields.files {
        let name = file.display_name();
        if file.too_big {
            let message = uploads::too_big(&name, state.settings.limits.max_file_bytes);
            outcome.refused.push((name.clone(), message));
            continue;
        }
        let received_at = Utc::now();
        let matched = match match_signed(&file.bytes, &refs, received_at) {
            Ok(m) if used.contains(&m.index) => {
                outcome.refused.push((name, "La stessa delibera è già stata firmata con un altro file di questo caricamento.".into()));
                continue;
            }
            Ok(m) => m,
            Err(why) => {
                outcome.refused.push((name, why));
                continue;
            }
        };
        // Only the councillor's qualified signature counts (chain to a qualified CA of the
        // trusted lists at the signing time, QcCompliance, nonRepudiation).
        let assessments = trust::assess(tx.conn(), &matched.report, received_at).await?;
        let signature = SignatureSummary::new(&matched.report, &assessments);
        if let Err(why) = check_signer(&signature, me.codice_fiscale.as_deref()) {
            outcome.refused.push((name, why));
            continue;
        }
        used.push(matched.index);
        let d = &pending[matched.index];
        let ext = if matched.kind == "cades" {
            "p7m"
        } else {
            "firmata.pdf"
        };
        let key = format!(
            "{}/{}/delibere/{}-{}.{ext}",
            tenant.id,
            d.application_id,
            d.id,
            crate::crypto::random_hex::<8>()
        );
        state.storage.put(&key, file.bytes).await?;
        decisions::mark_signed(&mut tx, d.id, matched.kind, &key, &signature).await?;
        let c = cases::lock(&mut tx, &viewer, d.application_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let number = d.number_label().unwrap_or_default();
        let change = Change {
            case: &c,
            seen_version: c.version,
            to: c.stage(),
            kind: EventKind::DecisionSigned,
            actor: &actor,
            details: json!({ "delibera": number, "nota": signature.describe() }),
            // The parties receive the delibera itself, with its outgoing protocol number.
            notify: Notify::Nobody,
        };
        if cases::advance(&mut tx, change).await?.is_err() {
            return Err(anyhow::anyhow!("a locked case changed under its lock").into());
        }
        case::transmission::after_signature(
            &mut tx,
            &state.storage,
            &viewer,
            &actor,
            d.application_id,
        )
        .await?;
        outcome.signed.push((number, name));
    }
    let remaining = decisions::to_sign(&mut tx, who.user.id).await?;
    tx.commit().await?;
    let status = if outcome.refused.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok((status, page(&tenant, &who, &remaining, Some(&outcome))).into_response())
}
