//! Uploading, listing, downloading and removing the documents of a draft.
//!
//! Files are recognised by their content (PDF, JPEG, PNG, CAdES `.p7m` in DER, base64 or PEM),
//! never by their name; signed files are verified before they are kept (V29), anything else is
//! refused with V37's message. A refused file never touches what was already uploaded.

use axum::{
    body::Body,
    extract::{Multipart, State},
    http::{HeaderMap, HeaderValue, header},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::{Access, Locked, RenderStep, Viewed, open, refuse, render_step, views};
use crate::{
    documents::{
        ExtractedContent, SignatureSummary,
        signature::{self, FileKind, SignatureError},
    },
    domain::application::{
        Stage as AppStateKind, Step,
        attachment::AttachmentKind,
        check::{Issue, Severity},
    },
    store::{attachments as store, lawyers},
    web::{
        AppState,
        error::AppError,
        tenant::{CurrentTenant, PathParams},
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

fn v37(name: &str) -> String {
    format!(
        "Il file {name} non è in un formato ammesso (PDF o PDF firmato .p7m) o supera la dimensione massima consentita."
    )
}

fn v29(name: &str) -> String {
    format!(
        "La firma digitale del file {name} non risulta valida o il certificato è scaduto. Ricaricare il documento firmato correttamente."
    )
}

/// A file name safe to show and to store: the last path component, no control characters,
/// at most 150 characters.
fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last.chars().filter(|c| !c.is_control()).take(150).collect();
    let cleaned = cleaned.trim().to_owned();
    if cleaned.is_empty() {
        "documento".into()
    } else {
        cleaned
    }
}

struct Upload {
    kind: String,
    name: String,
    bytes: Vec<u8>,
    too_big: bool,
}

/// Reads the multipart body, stopping a file as soon as it exceeds `max` bytes.
async fn read_upload(mut multipart: Multipart, max: u64) -> Result<Upload, String> {
    let mut up = Upload {
        kind: String::new(),
        name: String::new(),
        bytes: Vec::new(),
        too_big: false,
    };
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                // The body went over the route's limit, or the client broke off.
                up.too_big = true;
                break;
            }
        };
        match field.name() {
            Some("kind") => up.kind = field.text().await.unwrap_or_default().trim().to_owned(),
            Some("file") => {
                up.name = clean_name(field.file_name().unwrap_or(""));
                let mut field = field;
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            if (up.bytes.len() + chunk.len()) as u64 > max {
                                up.too_big = true;
                                break;
                            }
                            up.bytes.extend_from_slice(&chunk);
                        }
                        Ok(None) => break,
                        Err(_) => {
                            up.too_big = true;
                            break;
                        }
                    }
                }
            }
            _ => {}
        }
        if up.too_big {
            break;
        }
    }
    Ok(up)
}

pub async fn upload(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    params: PathParams,
    multipart: Multipart,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let limits = state.settings.limits;
    let up = read_upload(multipart, limits.max_file_bytes)
        .await
        .map_err(|e| anyhow::anyhow!(e))?;
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
    let display_name = if up.name.is_empty() {
        "senza nome".to_owned()
    } else {
        up.name.clone()
    };

    let mut problems = Vec::new();
    let kind = AttachmentKind::from_code(&up.kind);
    if kind.is_none() {
        problems.push(issue(
            "kind",
            "Scegliere il tipo di documento da caricare.".into(),
        ));
    }
    let mut summary: Option<SignatureSummary> = None;
    let mut extracted: Option<Vec<u8>> = None;
    let mut content_type = "application/octet-stream";
    if up.too_big {
        problems.push(issue("file", v37(&display_name)));
    } else if up.bytes.is_empty() {
        problems.push(issue("file", "Scegliere il file da caricare.".into()));
    } else {
        let now = Utc::now();
        match signature::sniff(&up.bytes) {
            FileKind::Other => problems.push(issue("file", v37(&display_name))),
            FileKind::Jpeg => content_type = "image/jpeg",
            FileKind::Png => content_type = "image/png",
            FileKind::Pdf => {
                content_type = "application/pdf";
                match signature::verify_pades(&up.bytes, now) {
                    Ok(report) => summary = Some(SignatureSummary::from_report(&report)),
                    Err(SignatureError::NotSigned) => {}
                    Err(_) => problems.push(issue("file", v29(&display_name))),
                }
            }
            FileKind::P7m => {
                content_type = "application/pkcs7-mime";
                match signature::verify_cades(&up.bytes, now) {
                    Ok(report) => {
                        extracted = report.content.clone();
                        summary = Some(SignatureSummary::from_report(&report));
                    }
                    Err(_) => problems.push(issue("file", v29(&display_name))),
                }
            }
        }
    }
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
    if let (Some(AttachmentKind::IstanzaFirmata), Some(sig)) = (kind, &summary)
        && form.signature_mode == "autenticata"
        && let Ok(lawyer_id) = Uuid::parse_str(&form.lawyer.lawyer_id)
        && let Some(lawyer) = lawyers::get(&mut tx, lawyer_id).await?
        && !sig
            .signer_codes()
            .iter()
            .any(|cf| cf.eq_ignore_ascii_case(&lawyer.codice_fiscale))
    {
        problems.push(issue(
            "file",
            format!(
                "{} Il file risulta firmato da {}, non dall'avv. {}.",
                v29(&display_name),
                sig.signer_names(),
                lawyer.full_name()
            ),
        ));
    }
    if problems.is_empty() {
        let used = store::total_size(&mut tx, id).await?;
        if (used as u64) + up.bytes.len() as u64 > limits.max_application_bytes {
            problems.push(issue(
                "file",
                format!(
                    "{} Gli allegati dell'istanza non possono superare {} MB in tutto.",
                    v37(&display_name),
                    limits.max_application_bytes / (1024 * 1024)
                ),
            ));
        }
    }

    if !problems.is_empty() {
        return refuse(
            &state,
            &tenant,
            tx,
            &row,
            &form,
            Step::Attachments,
            problems,
        )
        .await;
    }

    let kind = kind.expect("checked above");
    let attachment_id = Uuid::new_v4();
    let key = format!("{}/{}/{}", tenant.id, id, attachment_id);
    let sha256 = hex::encode(Sha256::digest(&up.bytes));
    let size = up.bytes.len() as i64;
    // The signed content of a .p7m is kept beside it, readable without signing software.
    if let (Some(content), Some(sig)) = (extracted, summary.as_mut()) {
        let content_key = format!("{key}.contenuto");
        sig.content = Some(ExtractedContent {
            storage_key: content_key.clone(),
            content_type: match signature::sniff(&content) {
                FileKind::Pdf => "application/pdf",
                FileKind::Jpeg => "image/jpeg",
                FileKind::Png => "image/png",
                _ => "application/octet-stream",
            }
            .into(),
            size_bytes: content.len() as i64,
            sha256: hex::encode(Sha256::digest(&content)),
        });
        state.storage.put(&content_key, content).await?;
    }
    state.storage.put(&key, up.bytes).await?;
    let inserted = store::insert(
        &mut tx,
        store::NewAttachment {
            id: attachment_id,
            application_id: id,
            kind: kind.code(),
            filename: &display_name,
            content_type,
            size_bytes: size,
            sha256: &sha256,
            storage_key: &key,
            signature: summary.as_ref(),
        },
    )
    .await;
    if let Err(e) = inserted {
        let _ = state.storage.delete(&key).await;
        if let Some(c) = summary.as_ref().and_then(|s| s.content.as_ref()) {
            let _ = state.storage.delete(&c.storage_key).await;
        }
        return Err(e.into());
    }
    let notice = format!("Documento «{display_name}» caricato.");
    let page = render_step(
        &state,
        &tenant,
        &mut tx,
        &row,
        &form,
        RenderStep {
            step: Step::Attachments,
            notice: Some(&notice),
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
    for key in removed.storage_keys() {
        state.storage.delete(&key).await?;
    }
    Ok(Redirect::to(&views::step_url(&tenant, id, Step::Attachments)).into_response())
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
    fn names_lose_paths_and_control_characters() {
        assert_eq!(
            clean_name("C:\\Users\\x\\carta identità.pdf"),
            "carta identità.pdf"
        );
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\u{0}b\nc.pdf"), "abc.pdf");
        assert_eq!(clean_name(""), "documento");
    }

    #[test]
    fn disposition_has_an_ascii_fallback_and_the_utf8_name() {
        let v = content_disposition("Carta d'identità \"2026\".pdf");
        assert_eq!(
            v.to_str().unwrap(),
            "attachment; filename=\"Carta d'identit_ _2026_.pdf\"; filename*=UTF-8''Carta%20d%27identit%C3%A0%20%222026%22%2Epdf"
        );
    }
}
