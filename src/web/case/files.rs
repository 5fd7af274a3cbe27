//! The documents of a case, opened by the people who may see the case: images shown in a
//! sandbox, PDFs and the rest downloaded, the content of a `.p7m` extracted at upload.

use axum::{
    http::{HeaderValue, header},
    response::Response,
};

use super::{AttachmentKind, view_grant, viewer};
use crate::{
    documents::{ReportFile, pdf::Template},
    store::{attachments, cases},
    web::{
        AppState,
        auth::{AreaRole, InArea},
        error::AppError,
        headers::Sandboxed,
        public::attachments::file_response,
        tenant::{CurrentTenant, PathParams},
    },
};

/// Types shown in the browser (in a sandbox); anything else, PDFs included, is downloaded: a
/// PDF shown inline runs in our origin, and the browser's viewer refuses a sandbox.
const INLINE: &[&str] = &["image/jpeg", "image/png"];

pub async fn serve<R: AreaRole>(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<R>,
    params: &PathParams,
    signed_content: bool,
) -> Result<Response, AppError> {
    let grant = view_grant(tenant, who)?;
    let (id, attachment) = (params.id("id")?, params.id("attachment")?);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    cases::get(&mut tx, &viewer(&grant, who), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let a = attachments::get(&mut tx, id, attachment)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let (key, content_type, name) = if signed_content {
        let c = a
            .signature
            .as_ref()
            .and_then(|s| s.content.clone())
            .ok_or(AppError::NotFound)?;
        let name = a
            .filename
            .trim_end_matches(".p7m")
            .trim_end_matches(".P7M")
            .to_owned();
        (c.storage_key, c.content_type, name)
    } else {
        (
            a.storage_key.clone(),
            a.content_type.clone(),
            a.filename.clone(),
        )
    };
    let bytes = state.storage.get(&key).await?;
    let mut res = file_response(bytes, &content_type, &name);
    if INLINE.contains(&content_type.as_str()) {
        let disposition = res
            .headers()
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.replacen("attachment", "inline", 1));
        if let Some(v) = disposition.and_then(|v| HeaderValue::from_str(&v).ok()) {
            res.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
        res.extensions_mut().insert(Sandboxed);
    }
    Ok(res)
}

/// The "Rapporto di verifica" of a signed file, as a PDF: rendered from the verification result
/// kept with the file (the same result the case page shows), dated when it was made, so the
/// same result always gives the same document.
#[tracing::instrument(name = "rapporto di verifica", skip_all, fields(tenant = %tenant.id))]
pub async fn report<R: AreaRole>(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<R>,
    params: &PathParams,
) -> Result<Response, AppError> {
    let grant = view_grant(tenant, who)?;
    let (id, attachment) = (params.id("id")?, params.id("attachment")?);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let case = cases::get(&mut tx, &viewer(&grant, who), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let a = attachments::get(&mut tx, id, attachment)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let summary = a.signature.as_ref().ok_or(AppError::NotFound)?;
    let case_label = match case.protocol() {
        Some(p) => format!("Pratica {p}"),
        None => format!("Istanza {}", case.code),
    };
    let data = summary.report_data(ReportFile {
        ordine: serde_json::json!({ "nome": tenant.name, "pec": tenant.pec }),
        case_code: &case.code,
        case_label: &case_label,
        kind_label: AttachmentKind::label_of(&a.kind),
        filename: &a.filename,
        sha256: &a.sha256,
        received_at: a.created_at,
    });
    let bytes = state.pdf.render_bounded(Template::Rapporto, data).await?;
    let name = format!("rapporto-verifica-{}.pdf", a.id);
    Ok(file_response(bytes, "application/pdf", &name))
}
