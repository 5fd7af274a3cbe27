//! The dossier (fascicolo) of an application for an inspection of an admission (art. 127
//! D.P.R. 115/2002: what the Guardia di Finanza asks for): one ZIP with every document, the
//! history and the audit entries as a PDF/A and a manifest with each file's SHA-256, sealed
//! with the Ordine's seal when it has one; and the same for all the admissions of a period.
//!
//! Bounds: one dossier at a time per Ordine and two in the whole service (the rest are told to
//! try again); a period holds at most [`MAX_BULK`] admissions; an archive at most
//! [`crate::documents::dossier::MAX_BYTES`]. The archive is written to a temporary file and streamed from it.

use std::{
    fs::File,
    io::{Seek, SeekFrom},
    sync::Mutex,
    time::Duration,
};

use axum::{
    body::Body,
    extract::{Query, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use chrono::{Days, Utc};
use maud::{Markup, html};
use serde_json::{Value, json};
use uuid::Uuid;

use super::daily_register::{RangeQuery, range, range_form};
use crate::{
    documents::{
        dossier::{Writer, safe_name},
        pdf::Template,
        protocol_register::day_start,
        seal::Seal,
    },
    domain::{
        access::{ExportDossier, Grant, authorize},
        application::{Stage, matter::Matter},
        time,
    },
    store::{
        applications, attachments, audit, cases, council, decisions, events, pec_receipts,
        protocol, transmissions,
    },
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case,
        error::AppError,
        layout::{self, PageMeta},
        public::{Facts, attachments::content_disposition, submit},
        tenant::{CurrentTenant, PathParams},
    },
};

/// Admissions one archive of a period holds at most.
pub const MAX_BULK: i64 = 200;
/// Audit entries the dossier lists at most (the newest; the full log stays with the
/// administrator).
const MAX_AUDIT: i64 = 2_000;
/// PEC receipts one application's dossier holds at most (a few per recipient in practice).
const MAX_RECEIPTS: i64 = 200;
/// Dossiers being prepared in the whole service at once.
const MAX_AT_ONCE: usize = 2;
const RETRY: Duration = Duration::from_secs(30);
const TITLE: &str = "Fascicoli per le verifiche sulle ammissioni";

/// The Ordini preparing a dossier now.
static PREPARING: Mutex<Vec<Uuid>> = Mutex::new(Vec::new());

/// A turn to prepare a dossier, given back when dropped.
struct Turn(Uuid);

impl Turn {
    fn take(tenant: Uuid) -> Result<Self, AppError> {
        let mut busy = PREPARING.lock().unwrap_or_else(|e| e.into_inner());
        if busy.len() >= MAX_AT_ONCE || busy.contains(&tenant) {
            return Err(AppError::Busy(RETRY));
        }
        busy.push(tenant);
        Ok(Self(tenant))
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut busy = PREPARING.lock().unwrap_or_else(|e| e.into_inner());
        busy.retain(|t| *t != self.0);
    }
}

fn grant(
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
) -> Result<Grant<ExportDossier>, AppError> {
    authorize::<ExportDossier>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)
}

/// The case page's card: what the dossier holds, and the link.
pub fn card(tenant: &CurrentTenant, id: Uuid) -> Markup {
    html! {
        section class="card card-bg mb-4" aria-labelledby="sez-fascicolo" {
            div class="card-body" {
                h2 class="h5 card-title" id="sez-fascicolo" { "Fascicolo" }
                p class="small" { "Un archivio ZIP con l'istanza, la ricevuta, gli allegati, la delibera e il verbale, la cronologia, le registrazioni di protocollo, le trasmissioni e il registro delle attività, con l'impronta SHA-256 di ogni file"
                    @if tenant.settings.seal { " e il sigillo elettronico dell'Ordine" } "." }
                a class="btn btn-outline-primary btn-sm" href=(format!("/{}/segreteria/pratiche/{id}/fascicolo.zip", tenant.slug)) { "Scarica il fascicolo (ZIP)" }
            }
        }
    }
}

/// The dossier of one application.
#[tracing::instrument(name = "esporta il fascicolo", skip_all, fields(tenant = %tenant.id, pratica = tracing::field::Empty))]
pub async fn download(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let id = params.id("id")?;
    tracing::Span::current().record("pratica", tracing::field::display(id));
    let turn = Turn::take(tenant.id.0)?;
    let writer = Writer::new(tempfile::tempfile().map_err(anyhow::Error::from)?)?;
    let (writer, label) = add_case(&state, &tenant, &who, &grant, id, false, writer).await?;
    let label = label.ok_or(AppError::NotFound)?;
    let (file, manifest) = finish(&state, &tenant, writer).await?;
    audit::record_alone(
        &state.db,
        tenant.id,
        audit::Entry {
            actor: &case::actor(&who),
            action: "fascicolo_esportato",
            target_kind: Some("istanza"),
            target_id: Some(id.to_string()),
            outcome: "ok",
            details: json!({ "pratiche": 1, "manifesto_sha256": manifest }),
        },
    )
    .await?;
    drop(turn);
    zip_response(file, &format!("fascicolo-{}.zip", file_label(&label))).await
}

/// The page of the archive of a period's admissions.
pub async fn page(
    State(_state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
) -> Result<Response, AppError> {
    grant(&tenant, &who)?;
    Ok(show(
        &tenant,
        &who,
        &RangeQuery::default(),
        None,
        StatusCode::OK,
    ))
}

fn show(
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    typed: &RangeQuery,
    error: Option<(&'static str, String)>,
    status: StatusCode,
) -> Response {
    let base = format!("/{}/segreteria", tenant.slug);
    let page = layout::page(
        &PageMeta::area(TITLE, tenant, who),
        html! {
            (layout::breadcrumb(&[(super::TITLE, Some(&base)), (TITLE, None)]))
            h1 { (TITLE) }
            p { "Per le verifiche sulle ammissioni (art. 127 D.P.R. 115/2002) si scaricano i fascicoli di tutte le istanze ammesse con delibera adottata nel periodo: una cartella per pratica, con i documenti, la cronologia, il protocollo, le trasmissioni e il registro delle attività, e un manifesto con l'impronta SHA-256 di ogni file"
                @if tenant.settings.seal { ", sigillato dall'Ordine" } "." }
            p { "Il fascicolo di una sola pratica si scarica dalla sua pagina." }
            (range_form(
                &format!("{base}/fascicoli.zip"),
                "fascicoli",
                "Ammissioni di un periodo",
                &format!("Al massimo {} ammissioni per archivio.", MAX_BULK),
                "Scarica i fascicoli (ZIP)",
                typed,
                error.as_ref(),
            ))
        },
    );
    (status, page).into_response()
}

/// The dossiers of the admissions adopted in a period, one folder each.
#[tracing::instrument(name = "esporta i fascicoli delle ammissioni", skip_all, fields(tenant = %tenant.id))]
pub async fn bulk(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    Query(q): Query<RangeQuery>,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let refuse = |field, message| {
        Ok(show(
            &tenant,
            &who,
            &q,
            Some((field, message)),
            StatusCode::UNPROCESSABLE_ENTITY,
        ))
    };
    let (from, to) = match range(&q) {
        Ok(r) => r,
        Err((field, message)) => return refuse(field, message),
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let ids = decisions::admitted_between(
        &mut tx,
        day_start(from),
        day_start(to + Days::new(1)),
        MAX_BULK + 1,
    )
    .await?;
    tx.commit().await?;
    if ids.is_empty() {
        return refuse("al", "Nessuna ammissione deliberata nel periodo.".into());
    }
    if ids.len() as i64 > MAX_BULK {
        return refuse(
            "al",
            format!(
                "Il periodo comprende più di {MAX_BULK} ammissioni: scegliere un periodo più breve."
            ),
        );
    }
    let turn = Turn::take(tenant.id.0)?;
    let mut writer = Writer::new(tempfile::tempfile().map_err(anyhow::Error::from)?)?;
    let mut labels = Vec::with_capacity(ids.len());
    for id in &ids {
        let (w, label) = add_case(&state, &tenant, &who, &grant, *id, true, writer).await?;
        writer = w;
        labels.extend(label);
    }
    let (file, manifest) = finish(&state, &tenant, writer).await?;
    audit::record_alone(
        &state.db,
        tenant.id,
        audit::Entry {
            actor: &case::actor(&who),
            action: "fascicoli_esportati",
            target_kind: None,
            target_id: None,
            outcome: "ok",
            details: json!({
                "dal": from.to_string(), "al": to.to_string(),
                "pratiche": labels.len(), "manifesto_sha256": manifest,
            }),
        },
    )
    .await?;
    drop(turn);
    let name = format!(
        "fascicoli-ammissioni-{}-{}.zip",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d")
    );
    zip_response(file, &name).await
}

/// Adds one application's documents (under a folder named after its protocol number with
/// `in_folder`) and gives the writer back with that name; `None` when the application is not
/// there.
async fn add_case(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    grant: &Grant<ExportDossier>,
    id: Uuid,
    in_folder: bool,
    mut writer: Writer<File>,
) -> Result<(Writer<File>, Option<String>), AppError> {
    let view = case::view_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let found = match cases::get(&mut tx, &case::viewer(&view, who), id).await? {
        Some(c) if c.stage() != Stage::Bozza => {
            applications::get(&mut tx, id).await?.map(|row| (c, row))
        }
        _ => None,
    };
    let Some((c, row)) = found else {
        return Ok((writer, None));
    };
    let facts = Facts::load(&mut tx, id, &row.form.0).await?;
    let files = attachments::list(&mut tx, id).await?;
    let history = events::for_application(&mut tx, id).await?;
    let entries = protocol::for_application(&mut tx, id).await?;
    let sent = transmissions::for_application(&mut tx, id).await?;
    let decision = decisions::current(&mut tx, id).await?;
    let session = match decision.as_ref().and_then(|d| d.council_session_id) {
        Some(s) => council::get(&mut tx, s).await?,
        None => None,
    };
    let log = audit::for_dossier(&mut tx, grant, id, MAX_AUDIT + 1).await?;
    let receipts = pec_receipts::for_application(&mut tx, id, MAX_RECEIPTS).await?;
    tx.commit().await?;

    let label = c
        .protocol()
        .map_or_else(|| c.code.clone(), |p| p.to_string());
    let dir = if in_folder {
        format!("{}/", file_label(&label))
    } else {
        String::new()
    };
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let pdf = |t, data| state.pdf.render_bounded(t, data);
    out.push((
        format!("{dir}istanza-{}.pdf", safe_name(&c.code)),
        pdf(
            Template::Istanza,
            submit::application_data(tenant, &row, &facts),
        )
        .await?,
    ));
    out.push((
        format!("{dir}ricevuta-{}.pdf", safe_name(&c.code)),
        pdf(
            Template::Ricevuta,
            submit::receipt_data(state, tenant, &row, &facts),
        )
        .await?,
    ));
    for (n, a) in files.iter().enumerate() {
        out.push((
            format!("{dir}allegati/{:02}-{}", n + 1, safe_name(&a.filename)),
            state.storage.get(&a.storage_key).await?,
        ));
    }
    if let Some(d) = &decision {
        if let Some(key) = &d.pdf_key {
            out.push((
                format!("{dir}delibera/{}", d.file_name()),
                state.storage.get(key).await?,
            ));
        }
        if let Some((key, _, name)) = d.signed_file() {
            out.push((
                format!("{dir}delibera/{}", safe_name(&name)),
                state.storage.get(&key).await?,
            ));
        }
    }
    if let Some(key) = session.as_ref().and_then(|s| s.minutes_key.as_ref()) {
        let day = session
            .as_ref()
            .map_or_else(String::new, |s| s.held_on.to_string());
        out.push((
            format!("{dir}delibera/verbale-adunanza-{day}.pdf"),
            state.storage.get(key).await?,
        ));
    }
    for (n, r) in receipts.iter().enumerate() {
        out.push((
            format!(
                "{dir}ricevute-pec/{:02}-{}.eml",
                n + 1,
                safe_name(&r.receipt.kind)
            ),
            state.storage.get(&r.eml_key).await?,
        ));
    }
    let truncated = log.len() as i64 > MAX_AUDIT;
    let data = json!({
        "ordine": { "nome": tenant.name, "pec": tenant.pec },
        "pratica": label,
        "codice": c.code,
        "richiedente": c.applicant_name,
        "codice_fiscale": c.applicant_cf,
        "materia": c.matter.as_deref().and_then(Matter::from_code).map(Matter::label),
        "stato": c.stage().label(),
        "delibera": c.delibera,
        "prodotto_il": time::format_date_time(Utc::now()),
        "protocollo": entries.iter().map(|e| json!({
            "numero": e.number().to_string(),
            "data_ora": time::format_date_time(e.registered_at),
            "direzione": e.direction,
            "tipo": e.kind,
            "canale": case::channel_label(&e.channel),
            "oggetto": e.subject,
            "destinatari": (!e.recipients.0.is_empty()).then(|| e.recipients.0.iter().map(|r| match &r.address {
                Some(a) => format!("{} ({a})", r.name),
                None => r.name.clone(),
            }).collect::<Vec<_>>().join("; ")),
            "impronta": e.documents_sha256,
        })).collect::<Vec<Value>>(),
        "trasmissioni": sent.iter().map(|t| json!({
            "destinatario": t.recipient().map_or(t.recipient_kind.as_str(), |r| r.label()),
            "indirizzo": t.address,
            "protocollo": t.protocol().map(|p| p.to_string()),
            "stato": t.state_label(),
        })).collect::<Vec<Value>>(),
        "ricevute": receipts.iter().map(|r| json!({
            "data_ora": time::format_date_time(r.receipt.received_at),
            "tipo": r.receipt.label(),
            "destinatario": r.receipt.recipient,
            "errore": r.receipt.error,
            "firma": r.receipt.signature_label(),
            "impronta": r.eml_sha256,
        })).collect::<Vec<Value>>(),
        "cronologia": history.iter().map(|e| json!({
            "data_ora": time::format_date_time(e.at),
            "evento": e.label(),
            "autore": e.actor_label,
        })).collect::<Vec<Value>>(),
        "attivita": log.iter().take(MAX_AUDIT as usize).map(|r| json!({
            "n": r.seq,
            "data_ora": time::format_date_time(r.at),
            "operazione": crate::web::admin::audit::describe(r),
            "autore": r.actor,
        })).collect::<Vec<Value>>(),
        "attivita_troncate": truncated,
    });
    out.push((
        format!("{dir}fascicolo-{}.pdf", file_label(&label)),
        pdf(Template::Fascicolo, data).await?,
    ));
    // The files go in on a blocking thread: compressing and writing to disk.
    let writer = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        for (path, bytes) in &out {
            writer.add(path, bytes)?;
        }
        Ok(writer)
    })
    .await
    .map_err(anyhow::Error::from)??;
    Ok((writer, Some(label)))
}

/// `2026/0000013` as a file name: `2026-0000013`.
fn file_label(label: &str) -> String {
    safe_name(&label.replace('/', "-"))
}

async fn finish(
    state: &AppState,
    tenant: &CurrentTenant,
    writer: Writer<File>,
) -> Result<(File, String), AppError> {
    let seal = match (&state.settings.seal_dir, tenant.settings.seal) {
        (Some(dir), true) => Seal::load(dir, &tenant.slug)?,
        _ => None,
    };
    Ok(
        tokio::task::spawn_blocking(move || writer.finish(seal.as_ref()))
            .await
            .map_err(anyhow::Error::from)??,
    )
}

/// Streams the archive from its temporary file (deleted when the stream ends).
async fn zip_response(mut file: File, name: &str) -> Result<Response, AppError> {
    let len = file.seek(SeekFrom::End(0)).map_err(anyhow::Error::from)?;
    file.seek(SeekFrom::Start(0)).map_err(anyhow::Error::from)?;
    let stream = tokio_util::io::ReaderStream::new(tokio::fs::File::from_std(file));
    let mut res = Response::new(Body::from_stream(stream));
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/zip"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::CONTENT_DISPOSITION, content_disposition(name));
    Ok(res)
}
