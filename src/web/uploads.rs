//! Uploaded files, wherever they arrive (the public form, an integration answer): recognised by
//! their content (PDF, JPEG, PNG, CAdES `.p7m` in DER, base64 or PEM), never by their name;
//! signatures verified before anything is kept (V29); the rest refused with V37's messages, one
//! for each reason (the format, the size of the file, the application's total).

use axum::extract::Multipart;
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::{
    db::TenantTx,
    documents::{
        ExtractedContent, SignatureSummary,
        active::{self, Active},
        signature::{self, FileKind, SignatureError, SignatureReport},
    },
    domain::{
        application::attachment::{AttachmentKind, MAX_ATTACHMENTS},
        tenant::TenantId,
    },
    storage::Storage,
    store::{attachments, trust},
};

/// V37, the format: the file is none of the kinds accepted (recognised by content).
pub fn wrong_format(name: &str) -> String {
    format!(
        "Il file {name} non è in un formato ammesso: si possono caricare documenti PDF, immagini JPEG o PNG e file firmati digitalmente (.p7m)."
    )
}

/// V37, the size of one file.
pub fn too_big(name: &str, max_file_bytes: u64) -> String {
    format!(
        "Il file {name} supera la dimensione massima di {} per ciascun file. Ridurne le dimensioni (per esempio con una scansione a risoluzione più bassa o in bianco e nero) e ricaricarlo.",
        size_label(max_file_bytes)
    )
}

/// V37, the total of an application's documents.
pub fn over_total(name: &str, used_bytes: u64, max_application_bytes: u64) -> String {
    format!(
        "Il file {name} non è stato caricato: con questo file i documenti dell'istanza supererebbero il limite di {} in tutto (già caricati: {}). Eliminare i documenti non necessari o ridurne le dimensioni.",
        size_label(max_application_bytes),
        size_label(used_bytes)
    )
}

/// A size as people read it: "10 MB", "1,5 MB", "300 kB".
pub fn size_label(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) {
        format!("{} MB", bytes / MB)
    } else if bytes >= MB {
        format!("{:.1} MB", bytes as f64 / MB as f64).replace('.', ",")
    } else {
        format!("{} kB", bytes.div_ceil(1024))
    }
}

/// A PDF with active content (scripts, actions, embedded files) or that is also something else.
pub fn active_message(name: &str, what: Active) -> String {
    match what {
        Active::Polyglot => format!(
            "Il file {name} non è un PDF regolare: contiene anche un archivio o una pagina web. Salvarlo di nuovo come PDF (per esempio con «Stampa» e «Salva come PDF») e ricaricarlo."
        ),
        _ => format!(
            "Il file {name} contiene script, azioni automatiche o file incorporati, che non si possono accettare. Salvarlo di nuovo come PDF semplice (per esempio con «Stampa» e «Salva come PDF») e ricaricarlo."
        ),
    }
}

/// The application already has as many documents as it may.
pub fn too_many_files(name: &str) -> String {
    format!(
        "Il file {name} non è stato caricato: un'istanza può avere al massimo {MAX_ATTACHMENTS} documenti. Riunire più pagine in un solo PDF, oppure eliminare i documenti non necessari."
    )
}

pub fn v29(name: &str) -> String {
    format!(
        "La firma digitale del file {name} non risulta valida o il certificato è scaduto. Ricaricare il documento firmato correttamente."
    )
}

/// Characters that change how the text around them is shown without being seen themselves:
/// bidirectional controls (`fattura\u{202E}fdp.exe` shows as "fatturaexe.pdf") and zero-width
/// marks. The store drops them from older names too, as it reads them.
pub fn is_invisible_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// A file name safe to show and to store: the last path component, no control characters
/// (nor invisible ones), at most 150 characters.
pub fn clean_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !is_invisible_control(*c))
        .take(150)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    if cleaned.is_empty() {
        "documento".into()
    } else {
        cleaned
    }
}

/// A file as received from a form.
#[derive(Debug, Default)]
pub struct UploadedFile {
    /// The form field it came in.
    pub field: String,
    pub name: String,
    pub bytes: Vec<u8>,
    /// It went over the size limit (its bytes were dropped).
    pub too_big: bool,
}

impl UploadedFile {
    pub fn display_name(&self) -> String {
        if self.name.is_empty() {
            "senza nome".to_owned()
        } else {
            self.name.clone()
        }
    }
}

/// A multipart form: its text fields and its files.
#[derive(Debug, Default)]
pub struct Fields {
    pub texts: Vec<(String, String)>,
    pub files: Vec<UploadedFile>,
}

impl Fields {
    pub fn text(&self, name: &str) -> &str {
        self.texts
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

/// Reads a multipart body, stopping a file as soon as it exceeds `max` bytes. Empty file
/// inputs (nothing chosen) are left out.
pub async fn read(mut multipart: Multipart, max: u64) -> Fields {
    let mut out = Fields::default();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => {
                // The body went over the route's limit, or the client broke off.
                out.files.push(UploadedFile {
                    too_big: true,
                    ..UploadedFile::default()
                });
                break;
            }
        };
        let name = field.name().unwrap_or("").to_owned();
        if field.file_name().is_none() {
            out.texts
                .push((name, field.text().await.unwrap_or_default()));
            continue;
        }
        let mut file = UploadedFile {
            field: name,
            name: clean_name(field.file_name().unwrap_or("")),
            ..UploadedFile::default()
        };
        let mut field = field;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if (file.bytes.len() + chunk.len()) as u64 > max {
                        file.too_big = true;
                        file.bytes.clear();
                        break;
                    }
                    file.bytes.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => {
                    file.too_big = true;
                    break;
                }
            }
        }
        let stop = file.too_big;
        if stop || !file.bytes.is_empty() {
            out.files.push(file);
        }
        if stop {
            break;
        }
    }
    out
}

/// What the checks found in an acceptable file.
#[derive(Debug)]
pub struct Checked {
    pub content_type: &'static str,
    pub signature: Option<SignatureSummary>,
    /// The signed content of a `.p7m`.
    pub extracted: Option<Vec<u8>>,
}

/// Recognises the file and verifies its signature, if any (integrity, then the qualification
/// against the trusted lists, kept in the summary and enforced by the caller where the rules
/// require it); the Italian message for a file that cannot be accepted at all.
/// `max_file_bytes` is the limit the file was read with (named when it went over).
pub async fn check(
    conn: &mut PgConnection,
    file: &UploadedFile,
    max_file_bytes: u64,
) -> anyhow::Result<Result<Checked, String>> {
    let received_at = Utc::now();
    let (mut checked, report) = match inspect(file, received_at, max_file_bytes) {
        Ok(found) => found,
        Err(message) => return Ok(Err(message)),
    };
    if let Some(report) = report {
        let assessments = trust::assess(conn, &report, received_at).await?;
        let summary = SignatureSummary::new(&report, &assessments);
        tracing::info!(
            signers = summary.signers.len(),
            qualified = summary.all_qualified(),
            "signature verified"
        );
        checked.signature = Some(summary);
    }
    Ok(Ok(checked))
}

/// The checks that need nothing but the bytes: kind, active content, signature integrity.
fn inspect(
    file: &UploadedFile,
    now: DateTime<Utc>,
    max_file_bytes: u64,
) -> Result<(Checked, Option<SignatureReport>), String> {
    let name = file.display_name();
    if file.too_big {
        return Err(too_big(&name, max_file_bytes));
    }
    if file.bytes.is_empty() {
        return Err("Scegliere il file da caricare.".into());
    }
    let mut checked = Checked {
        content_type: "application/octet-stream",
        signature: None,
        extracted: None,
    };
    let mut found = None;
    match signature::sniff(&file.bytes) {
        FileKind::Other => return Err(wrong_format(&name)),
        FileKind::Jpeg => checked.content_type = "image/jpeg",
        FileKind::Png => checked.content_type = "image/png",
        FileKind::Pdf => {
            if let Some(what) = active::scan(&file.bytes) {
                return Err(active_message(&name, what));
            }
            checked.content_type = "application/pdf";
            match signature::verify_pades(&file.bytes, now) {
                Ok(report) => found = Some(report),
                Err(SignatureError::NotSigned) => {}
                Err(_) => return Err(v29(&name)),
            }
        }
        FileKind::P7m => {
            checked.content_type = "application/pkcs7-mime";
            match signature::verify_cades(&file.bytes, now) {
                Ok(mut report) => {
                    if let Some(what) = report
                        .content
                        .as_deref()
                        .filter(|c| signature::sniff(c) == FileKind::Pdf)
                        .and_then(active::scan)
                    {
                        return Err(active_message(&name, what));
                    }
                    checked.extracted = report.content.take();
                    found = Some(report);
                }
                Err(_) => return Err(v29(&name)),
            }
        }
    }
    Ok((checked, found))
}

/// Where a kept file belongs.
pub struct Owner {
    pub tenant: TenantId,
    pub application: Uuid,
    pub kind: AttachmentKind,
    /// The integration request it answers, if any.
    pub integration_request: Option<Uuid>,
    /// For the signed application: the fingerprint of the answers it is bound to.
    pub form_sha256: Option<String>,
}

/// Stores the bytes (and a `.p7m`'s content beside them) and records the attachment in `tx`:
/// the objects exist before the row that names them commits. On an error the stored objects
/// are removed again (or, should that fail too, by the sweeper of orphan files).
pub async fn keep(
    storage: &Storage,
    tx: &mut TenantTx,
    owner: &Owner,
    file: UploadedFile,
    checked: Checked,
) -> anyhow::Result<Uuid> {
    let Checked {
        content_type,
        mut signature,
        extracted,
    } = checked;
    let id = Uuid::new_v4();
    let key = format!("{}/{}/{}", owner.tenant, owner.application, id);
    let sha256 = hex::encode(Sha256::digest(&file.bytes));
    let size = file.bytes.len() as i64;
    // The signed content of a .p7m is kept beside it, readable without signing software.
    if let (Some(content), Some(sig)) = (extracted, signature.as_mut()) {
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
        storage.put(&content_key, content).await?;
    }
    if let Err(e) = storage.put(&key, file.bytes).await {
        if let Some(c) = signature.as_ref().and_then(|s| s.content.as_ref()) {
            storage.delete_unreferenced([c.storage_key.clone()]).await;
        }
        return Err(e);
    }
    let inserted = attachments::insert(
        tx,
        attachments::NewAttachment {
            id,
            application_id: owner.application,
            kind: owner.kind.code(),
            filename: &file.name,
            content_type,
            size_bytes: size,
            sha256: &sha256,
            storage_key: &key,
            signature: signature.as_ref(),
            integration_request_id: owner.integration_request,
            form_sha256: owner.form_sha256.as_deref(),
        },
    )
    .await;
    if let Err(e) = inserted {
        let content = signature
            .as_ref()
            .and_then(|s| s.content.as_ref())
            .map(|c| c.storage_key.clone());
        storage
            .delete_unreferenced(std::iter::once(key).chain(content))
            .await;
        return Err(e);
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_label(10 * 1024 * 1024), "10 MB");
        assert_eq!(size_label(1024 * 1024 + 512 * 1024), "1,5 MB");
        assert_eq!(size_label(300 * 1024), "300 kB");
        assert_eq!(size_label(1), "1 kB");
    }

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(
            clean_name("C:\\Users\\x\\carta identità.pdf"),
            "carta identità.pdf"
        );
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("a\u{0}b\nc.pdf"), "abc.pdf");
        assert_eq!(clean_name(""), "documento");
        assert_eq!(clean_name("fattura\u{202E}fdp.exe"), "fatturafdp.exe");
        assert_eq!(clean_name("a\u{200B}b\u{2066}c\u{FEFF}.pdf"), "abc.pdf");
    }
}
