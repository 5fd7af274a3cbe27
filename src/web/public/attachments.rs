//! Uploading, listing, downloading and removing the documents of a draft.
//!
//! Files are recognised by their content (PDF, JPEG, PNG, CAdES `.p7m` in DER, base64 or PEM),
//! never by their name; signed files are verified before they are kept (V29), anything else is
//! refused with V37's message. A refused file never touches what was already uploaded.

use axum::{
    body::Body,
    extract::{Multipart, Query, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
};
use uuid::Uuid;

use super::{Access, Locked, RenderStep, StepQuery, Viewed, open, refuse, render_step, views};
use crate::{
    db::TenantTx,
    documents::{SignerCheck, binding},
    domain::application::{
        Stage as AppStateKind, Step,
        attachment::{AttachmentKind, MAX_ATTACHMENTS},
        check::{Issue, Severity},
    },
    store::{applications::ApplicationRow, attachments as store, lawyers, renditions},
    web::{
        AppState,
        error::AppError,
        tenant::{CurrentTenant, PathParams},
        uploads::{self, too_many_files, v29},
    },
};

fn issue(field: &str, message: String) -> Issue {
    Issue {
        rule: "V37",
        step: Step::Attachments,
        field: field.to_owned(),
        severity: Severity::Blocking,
        message,
    }
}

/// Whether an uploaded "istanza firmata" is this application as it is now
/// (`documents::binding`): the fingerprint of the answers it binds, or why not (Italian).
async fn bind(
    state: &AppState,
    tx: &mut TenantTx,
    row: &ApplicationRow,
    name: &str,
    bytes: &[u8],
    checked: &uploads::Checked,
) -> Result<Result<String, String>, AppError> {
    let current = row.form.0.fingerprint();
    let code = &row.code;
    if checked.signature.is_some() {
        let candidates = binding::signed_candidates(bytes, checked.extracted.as_deref());
        let found = renditions::find(tx, row.id, &candidates).await?;
        return Ok(match found.first() {
            Some(f) if f.application_id == row.id && f.form_sha256 == current => Ok(current),
            Some(f) if f.application_id == row.id => Err(format!(
                "«{name}» è il PDF di questa istanza scaricato prima dell'ultima modifica dei dati: scaricare di nuovo il PDF dell'istanza, firmarlo e caricarlo."
            )),
            Some(f) => Err(format!(
                "«{name}» è firmato, ma è il PDF di un'altra istanza (codice {}), non di questa (codice {code}).",
                f.code
            )),
            None => Err(format!(
                "«{name}» è firmato, ma non è il PDF generato per questa istanza (codice {code}): scaricare il PDF dell'istanza, firmarlo senza modificarlo e caricare il file firmato."
            )),
        });
    }
    // Signed by hand: a scan, never the generated PDF itself.
    let unsigned = renditions::find(tx, row.id, &[binding::sha256_hex(bytes)]).await?;
    if !unsigned.is_empty() {
        return Ok(Err(format!(
            "«{name}» è il PDF dell'istanza non ancora firmato: stamparlo, farlo firmare dal richiedente e caricarne la scansione, oppure firmarlo digitalmente."
        )));
    }
    let owned = bytes.to_vec();
    let codes = state
        .pdf
        .run_bounded(move |_| binding::read_codes(&owned))
        .await?;
    Ok(match codes {
        Err(why) => Err(format!(
            "In «{name}» non è stato possibile cercare il codice QR dell'istanza: {why}."
        )),
        Ok(codes) => match codes.first() {
            _ if codes.iter().any(|c| c == code) => Ok(current),
            Some(other) => Err(format!(
                "«{name}» è la scansione di un'altra istanza (codice {other}), non di questa (codice {code})."
            )),
            None => Err(format!(
                "In «{name}» non si legge il codice QR dell'istanza {code}: scansionare tutte le pagine dell'istanza stampata dal servizio, con il codice QR in basso a sinistra ben visibile (almeno 200 dpi)."
            )),
        },
    })
}

pub async fn upload(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    params: PathParams,
    Query(q): Query<StepQuery>,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let back_to_review = q.torna == "riepilogo";
    let limits = state.settings.limits;
    let mut fields = uploads::read(multipart, limits.max_file_bytes).await;
    let (row, mut tx) = match open(&state, &tenant, &headers, id, true).await? {
        Access::Granted(row, tx) => (row, tx),
        Access::Denied(res) => return Ok(res),
    };
    if row.state() != AppStateKind::Bozza {
        return Ok(
            Redirect::to(&format!("{}/{id}/ricevuta", views::base(&tenant))).into_response(),
        );
    }
    let form = row.form.0.clone();
    let file = fields
        .files
        .drain(..)
        .find(|f| f.field == "file" || f.too_big)
        .unwrap_or_default();
    let display_name = file.display_name();

    let mut problems = Vec::new();
    let chosen_kind = fields.text("kind").trim().to_owned();
    let kind = AttachmentKind::from_code(&chosen_kind);
    if kind.is_none() {
        problems.push(issue(
            "kind",
            "Scegliere il tipo di documento da caricare.".into(),
        ));
    }
    let checked = match uploads::check(tx.conn(), &file, limits.max_file_bytes).await? {
        Ok(c) => Some(c),
        Err(message) => {
            problems.push(issue("file", message));
            None
        }
    };
    let summary = checked.as_ref().and_then(|c| c.signature.as_ref());
    // When the lawyer authenticates the signature, the application file must be signed
    // digitally (V28/V29), and by the chosen lawyer.
    if kind == Some(AttachmentKind::IstanzaFirmata)
        && form.signature_mode == "autenticata"
        && summary.is_none()
        && problems.is_empty()
    {
        problems.push(issue(
            "file",
            format!(
                "{} Con l'autentica dell'avvocato il file dell'istanza deve essere firmato digitalmente (CAdES .p7m o PAdES).",
                v29(&display_name)
            ),
        ));
    }
    // ...with a qualified signature (V29: chain to a qualified CA of the trusted lists,
    // QcCompliance, nonRepudiation).
    if let (Some(AttachmentKind::IstanzaFirmata), Some(sig)) = (kind, summary)
        && form.signature_mode == "autenticata"
        && let Ok(lawyer_id) = Uuid::parse_str(&form.lawyer.lawyer_id)
        && let Some(lawyer) = lawyers::get(&mut tx, lawyer_id).await?
    {
        match sig.check_signer(|cf| cf.eq_ignore_ascii_case(&lawyer.codice_fiscale)) {
            SignerCheck::Qualified => {}
            SignerCheck::NotQualified(why) => problems.push(issue(
                "file",
                format!(
                    "{} La firma dell'avv. {} non è una firma qualificata: {why}",
                    v29(&display_name),
                    lawyer.full_name()
                ),
            )),
            SignerCheck::Absent => problems.push(issue(
                "file",
                format!(
                    "{} Il file risulta firmato da {}, non dall'avv. {}.",
                    v29(&display_name),
                    sig.signer_names(),
                    lawyer.full_name()
                ),
            )),
        }
    }
    // ...and it must be this application, as it is now (documents::binding).
    let mut form_sha256 = None;
    if let (Some(AttachmentKind::IstanzaFirmata), Some(checked), true) =
        (kind, checked.as_ref(), problems.is_empty())
    {
        match bind(&state, &mut tx, &row, &display_name, &file.bytes, checked).await? {
            Ok(fingerprint) => form_sha256 = Some(fingerprint),
            Err(message) => problems.push(issue("file", message)),
        }
    }
    if problems.is_empty() {
        let (count, used) = store::usage(&mut tx, id).await?;
        if count >= MAX_ATTACHMENTS {
            problems.push(issue("file", too_many_files(&display_name)));
        } else if (used as u64) + file.bytes.len() as u64 > limits.max_application_bytes {
            problems.push(issue(
                "file",
                uploads::over_total(&display_name, used as u64, limits.max_application_bytes),
            ));
        }
    }

    let (Some(kind), Some(checked), true) = (kind, checked, problems.is_empty()) else {
        let again = RenderStep {
            step: Step::Attachments,
            upload: Some(views::UploadOutcome::Refused {
                kind: chosen_kind,
                issues: problems,
            }),
            back_to_review,
            ..RenderStep::default()
        };
        return refuse(&state, tx, (&tenant, &row, &form), again).await;
    };
    let size = file.bytes.len();
    let owner = uploads::Owner {
        tenant: tenant.id,
        application: id,
        kind,
        integration_request: None,
        form_sha256,
    };
    let attachment_id = match uploads::keep(&state.storage, &mut tx, &owner, file, checked).await {
        Ok(id) => id,
        // The store is down: nothing was recorded; the draft and its answers stay as they were,
        // and the card says why the file is not there.
        Err(e) if crate::storage::is_unavailable(&e) => {
            tracing::warn!(application.id = %id, error = format!("{e:#}"), "file store unreachable: upload not kept");
            let again = RenderStep {
                step: Step::Attachments,
                upload: Some(views::UploadOutcome::Refused {
                    kind: chosen_kind,
                    issues: vec![issue(
                        "file",
                        format!(
                            "«{display_name}» non è stato salvato: l'archivio dei documenti non risponde in questo momento. I dati dell'istanza e i documenti già caricati sono conservati; riprovare a caricare il file tra qualche minuto."
                        ),
                    )],
                }),
                back_to_review,
                ..RenderStep::default()
            };
            let mut res = refuse(&state, tx, (&tenant, &row, &form), again).await?;
            *res.status_mut() = axum::http::StatusCode::SERVICE_UNAVAILABLE;
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            return Ok(res);
        }
        Err(e) => return Err(e.into()),
    };
    let page = render_step(
        &state,
        &tenant,
        &mut tx,
        &row,
        &form,
        RenderStep {
            step: Step::Attachments,
            upload: Some(views::UploadOutcome::Stored { name: display_name }),
            back_to_review,
            ..RenderStep::default()
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(application.id = %id, attachment.id = %attachment_id, size, "attachment stored");
    Ok(page.into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    params: PathParams,
    Query(q): Query<StepQuery>,
    Locked {
        tenant,
        id,
        row,
        mut tx,
    }: Locked,
) -> Result<Response, AppError> {
    let attachment = params.id("attachment")?;
    if row.state() != AppStateKind::Bozza {
        return Err(AppError::NotFound);
    }
    let removed = store::delete(&mut tx, id, attachment)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    // Removed after the commit; should the store be down, the sweeper removes them later.
    state
        .storage
        .delete_unreferenced(removed.storage_keys())
        .await;
    let back = if q.torna == "riepilogo" {
        "?torna=riepilogo"
    } else {
        ""
    };
    Ok(Redirect::to(&format!(
        "{}{back}",
        views::step_url(&tenant, id, Step::Attachments)
    ))
    .into_response())
}

/// `Content-Disposition: attachment` with the original name (RFC 6266: an ASCII fallback and
/// the UTF-8 name percent-encoded).
pub fn content_disposition(name: &str) -> HeaderValue {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded =
        percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC).to_string();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

pub fn file_response(bytes: Vec<u8>, content_type: &str, name: &str) -> Response {
    let mut res = Response::new(Body::from(bytes));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CONTENT_DISPOSITION, content_disposition(name));
    res
}

pub async fn download(
    State(state): State<AppState>,
    params: PathParams,
    Viewed { id, mut tx, .. }: Viewed,
) -> Result<Response, AppError> {
    let attachment = params.id("attachment")?;
    let a = store::get(&mut tx, id, attachment)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let bytes = state.storage.get(&a.storage_key).await?;
    Ok(file_response(bytes, &a.content_type, &a.filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disposition_has_an_ascii_fallback_and_the_utf8_name() {
        let v = content_disposition("Carta d'identità \"2026\".pdf");
        assert_eq!(
            v.to_str().unwrap(),
            "attachment; filename=\"Carta d'identit_ _2026_.pdf\"; filename*=UTF-8''Carta%20d%27identit%C3%A0%20%222026%22%2Epdf"
        );
    }
}
