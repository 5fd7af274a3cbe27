//! Integration requests on the case page, and the answer: the same form and the same checks
//! for the lawyer (in their area) and for the applicant who filed alone (from the status page).

use maud::{Markup, html};
use serde_json::json;

use crate::{
    db::TenantTx,
    domain::{
        application::{
            Action, Actor, Facts,
            attachment::{AttachmentKind, MAX_ATTACHMENTS},
            integration::{self, FieldError},
            transition,
            workflow::EventKind,
        },
        protocol::FiledDocument,
        time,
    },
    store::{
        attachments::{self, Attachment},
        audit,
        cases::{self, Case, Change, Notify, Stale},
        integrations::{self, Request},
        protocol::{self, Direction, NewEntry},
    },
    web::{
        AppState,
        public::views::size_label,
        uploads::{self, Fields, Owner},
    },
};

/// The extra file an answer may carry besides the items asked for.
pub const OTHER: AttachmentKind = AttachmentKind::DocumentiCausa;

/// Every request of the case with its answer and what it brought: what the rapporteur needs to
/// see what changed since they asked.
pub fn section(requests: &[Request], attachments: &[Attachment], base: &str) -> Markup {
    let today = super::today();
    html! {
        @if !requests.is_empty() {
            section class="mb-4" aria-labelledby="sez-integrazioni" id="integrazioni" {
                h2 class="h4 border-bottom pb-1" id="sez-integrazioni" { "Integrazioni" }
                @for r in requests {
                    (request_card(r, today))
                    @if let Some(at) = r.answered_at {
                        div class="ms-3 mb-4" {
                            p class="mb-1" {
                                strong { "Risposta" } " di " (r.answered_by.as_deref().unwrap_or("")) " il " (time::format_date_time(at))
                                @if r.answered_late() { " " span class="badge bg-warning text-dark" { "oltre il termine" } }
                            }
                            @if !r.questions.is_empty() {
                                dl {
                                    @for (i, q) in r.questions.iter().enumerate() {
                                        dt { (q) }
                                        dd { (r.answers.get(i).map_or("", String::as_str)) }
                                    }
                                }
                            }
                            @let new: Vec<&Attachment> = attachments.iter().filter(|a| a.integration_request_id == Some(r.id)).collect();
                            p class="mb-1" { "Documenti nuovi rispetto alla richiesta:" }
                            ul {
                                @for a in &new {
                                    li {
                                        (AttachmentKind::label_of(&a.kind)) ": "
                                        a href=(format!("{base}/allegati/{}", a.id)) target="_blank" rel="noopener" { (a.filename) }
                                        " (" (size_label(a.size_bytes)) ")"
                                        @if let Some(s) = &a.signature { (crate::web::components::signature_details(s)) }
                                    }
                                }
                                @if new.is_empty() { li { "nessuno" } }
                            }
                            p class="small text-muted mb-0" { "I dati dichiarati nell'istanza non cambiano dopo l'invio: eventuali correzioni arrivano come risposte e documenti." }
                        }
                    }
                }
            }
        }
    }
}

/// One request: who asked what, by when; V39 once expired.
pub fn request_card(r: &Request, today: chrono::NaiveDate) -> Markup {
    html! {
        div class="callout note mb-3" {
            div class="callout-title" { "Richiesta del " (time::format_date(time::rome_date(r.requested_at))) }
            p class="mb-1" { (r.requester) " chiede, entro il " strong { (time::format_date(r.due_on)) } ":" }
            ul class="mb-1" {
                @for k in r.kinds() { li { (k.label()) } }
                @for q in &r.questions { li { (q) } }
            }
            @if !r.note.is_empty() { p class="mb-1" { (r.note) } }
            @if r.is_expired(today) {
                p class="campo-errore mb-0" role="alert" { (integration::expired_message(time::rome_date(r.requested_at), r.due_on)) }
            }
        }
    }
}

/// The answer form (multipart): one file input per document asked, one reply per question, an
/// optional further document. Files already sent are listed and need not be sent again.
/// `csrf`: the session's token, in a reserved area (it must be the form's first field).
pub fn answer_form(
    action: &str,
    csrf: Option<&str>,
    version: i32,
    r: &Request,
    provided: &[AttachmentKind],
    typed: &[String],
    errors: &[FieldError],
) -> Markup {
    let error = |field: &str| {
        errors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, m)| m.clone())
    };
    html! {
        form method="post" action=(action) enctype="multipart/form-data" class="card card-bg mb-4" novalidate {
            @if let Some(token) = csrf { (crate::web::layout::csrf_field(token)) }
            div class="card-body" {
                h2 class="h5 card-title" { "Rispondi alla richiesta di integrazione" }
                @if !errors.is_empty() {
                    div class="alert alert-danger" role="alert" id="riepilogo-errori" {
                        p class="mb-1" { "La risposta non è ancora completa:" }
                        ul class="mb-0" { @for (f, m) in errors { li { a href=(format!("#{f}")) { (m) } } } }
                    }
                }
                input type="hidden" name="versione" value=(version);
                @for k in r.kinds() {
                    @let field = format!("file_{}", k.code());
                    div class="mb-4" {
                        label for=(field) class="form-label fw-semibold" { (k.label()) }
                        @if provided.contains(&k) {
                            p class="text-success small mb-1" { "Già inviato: si può aggiungere un altro file." }
                        }
                        input type="file" class="form-control" id=(field) name=(field) accept=".pdf,.p7m,.jpg,.jpeg,.png"
                            aria-invalid=[error(&field).map(|_| "true")];
                        @if let Some(m) = error(&field) { p class="campo-errore mt-1" { (m) } }
                    }
                }
                @for (i, q) in r.questions.iter().enumerate() {
                    @let field = format!("risposta_{i}");
                    // A question can be long: its label stays in the flow (a lifted label
                    // that wraps would cover what is above it).
                    div class="mb-4" {
                        label for=(field) class="form-label fw-semibold" { (q) }
                        textarea class="form-control" id=(field) name=(field) rows="3" aria-invalid=[error(&field).map(|_| "true")] {
                            (typed.get(i).map_or("", String::as_str))
                        }
                        @if let Some(m) = error(&field) { p class="campo-errore mt-1" { (m) } }
                    }
                }
                @let other = format!("file_{}", OTHER.code());
                @if !r.kinds().contains(&OTHER) {
                    div class="mb-4" {
                        label for=(other) class="form-label" { "Altro documento " span class="text-muted" { "(facoltativo)" } }
                        input type="file" class="form-control" id=(other) name=(other) accept=".pdf,.p7m,.jpg,.jpeg,.png";
                        @if let Some(m) = error(&other) { p class="campo-errore mt-1" { (m) } }
                    }
                }
                button type="submit" class="btn btn-primary" { "Invia l'integrazione" }
            }
        }
    }
}

/// What became of an answer.
pub enum Answered {
    Done,
    /// Something is missing or refused: the valid files are kept, the rest is said.
    Incomplete(Vec<FieldError>, Vec<String>),
    Stale(Stale),
    Refused(String),
}

/// Receives an answer in `tx`: keeps every acceptable file (linked to the request), and when
/// nothing is missing records the answer, registers it in the protocol and moves the case back
/// to examination. The caller commits in every case except `Stale` and `Refused`.
#[allow(clippy::too_many_arguments)]
pub async fn receive(
    state: &AppState,
    tx: &mut TenantTx,
    case: &Case,
    request: &Request,
    fields: Fields,
    who: (Actor, &audit::Actor),
    facts: Facts,
) -> anyhow::Result<Answered> {
    let seen: i32 = fields.text("versione").trim().parse().unwrap_or(0);
    if seen != case.version {
        let latest = crate::store::events::latest_change(tx, case.id).await?;
        return Ok(Answered::Stale(Stale { latest }));
    }
    let to = match transition(case.stage(), Action::AnswerIntegration, who.0, facts) {
        Ok(to) => to,
        Err(refused) => return Ok(Answered::Refused(refused.0)),
    };
    let answers: Vec<String> = (0..request.questions.len())
        .map(|i| {
            fields
                .text(&format!("risposta_{i}"))
                .trim()
                .chars()
                .take(integration::MAX_TEXT)
                .collect()
        })
        .collect();
    let mut kinds = request.kinds();
    kinds.push(OTHER);
    let mut errors: Vec<FieldError> = Vec::new();
    for file in fields.files {
        let field = file.field.clone();
        let Some(kind) = kinds
            .iter()
            .copied()
            .find(|k| field == format!("file_{}", k.code()))
        else {
            if file.too_big {
                errors.push((
                    "file".into(),
                    uploads::too_big(&file.display_name(), state.settings.limits.max_file_bytes),
                ));
            }
            continue;
        };
        if crate::store::attachments::usage(tx, case.id).await?.0 >= MAX_ATTACHMENTS {
            errors.push((field, uploads::too_many_files(&file.display_name())));
            continue;
        }
        match uploads::check(tx.conn(), &file, state.settings.limits.max_file_bytes).await? {
            Ok(checked) => {
                let owner = Owner {
                    tenant: tx.tenant(),
                    application: case.id,
                    kind,
                    integration_request: Some(request.id),
                    form_sha256: None,
                };
                uploads::keep(&state.storage, tx, &owner, file, checked).await?;
            }
            Err(message) => errors.push((field, message)),
        }
    }
    let provided = integrations::provided_kinds(tx, request.id).await?;
    for e in integration::missing(&request.kinds(), &provided, &request.questions, &answers) {
        if !errors.iter().any(|(f, _)| *f == e.0) {
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Ok(Answered::Incomplete(errors, answers));
    }
    integrations::answer(tx, request.id, &who.1.label, &answers).await?;
    let documents: Vec<FiledDocument> = attachments::list(tx, case.id)
        .await?
        .into_iter()
        .filter(|a| a.integration_request_id == Some(request.id))
        .map(|a| FiledDocument {
            name: a.filename,
            kind: a.kind,
            sha256: a.sha256,
        })
        .collect();
    let entry = protocol::register(
        tx,
        &NewEntry {
            direction: Direction::Incoming,
            kind: "integrazione",
            channel: "portale",
            application: Some(case.id),
            subject: format!(
                "Integrazione dell'istanza {} (protocollo {})",
                case.code,
                case.protocol().map(|p| p.to_string()).unwrap_or_default()
            ),
            documents,
            by: who.1,
        },
        &chrono::Utc::now,
    )
    .await?;
    let change = Change {
        case,
        seen_version: seen,
        to,
        kind: EventKind::IntegrationAnswered,
        actor: who.1,
        details: json!({ "protocollo": entry.number().to_string() }),
        notify: Notify::Staff(case.rapporteur_id),
    };
    Ok(match cases::advance(tx, change).await? {
        Ok(_) => Answered::Done,
        Err(stale) => Answered::Stale(stale),
    })
}
