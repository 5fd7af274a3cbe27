//! Submission (idempotent), the receipt, the PDFs, and the public status page (code + PIN).

use axum::{
    Form as HtmlForm,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    CodePin, Facts, LOCKED, Locked, REFUSED, RenderStep, Viewed, access,
    attachments::file_response, refuse, views,
};
use crate::{
    db::TenantTx,
    documents::{binding, pdf::Template},
    domain::{
        application::{
            Stage as Kind, Step,
            attachment::AttachmentKind,
            check::{Issue, Severity, income_summary, parse_date},
            form::{DECLARATION_TEXTS, Form, relationship_label, written_cf},
            workflow::EventKind,
        },
        time,
    },
    store::{
        applications::{self, ApplicationRow, TokenUse},
        attachments::Attachment,
        audit, events, integrations,
        lawyers::Lawyer,
        outbox, renditions,
        tenants::Tenant,
    },
    web::{
        AppState,
        error::AppError,
        layout::{self, PageMeta},
        tenant::CurrentTenant,
    },
};

#[derive(Deserialize)]
pub struct SubmitForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    warnings_confirmed: String,
}

fn receipt_url(tenant: &Tenant, id: Uuid) -> String {
    format!("{}/{id}/ricevuta", views::base(tenant))
}

/// Draft → submitted. Concurrent or repeated POSTs serialise on the row lock: the first one
/// submits, the others find the application submitted and get the same receipt.
pub async fn submit(
    State(state): State<AppState>,
    Locked {
        tenant,
        id,
        row,
        mut tx,
    }: Locked,
    HtmlForm(input): HtmlForm<SubmitForm>,
) -> Result<Response, AppError> {
    if row.state() != Kind::Bozza {
        tx.commit().await?;
        return Ok(Redirect::to(&receipt_url(&tenant, id)).into_response());
    }
    let mut form = row.form.0.clone();
    form.warnings_confirmed = !input.warnings_confirmed.is_empty();
    let facts = Facts::load(&mut tx, id, &form).await?;
    let issues = facts.check(&tenant, &form);
    let blocking = issues.iter().any(Issue::blocks);
    let unconfirmed = !blocking && issues.iter().any(|i| !i.blocks()) && !form.warnings_confirmed;
    let token = Uuid::parse_str(input.token.trim()).ok();
    let token_state = match (blocking || unconfirmed, token) {
        (false, Some(t)) => applications::use_form_token(&mut tx, id, t).await?,
        _ => TokenUse::Unknown,
    };
    if blocking || unconfirmed || token_state != TokenUse::Fresh {
        let mut extra = Vec::new();
        if unconfirmed {
            extra.push(Issue {
                rule: "",
                step: Step::Review,
                field: "warnings_confirmed".into(),
                severity: Severity::Blocking,
                message:
                    "Confermare di aver verificato i punti segnalati prima di inviare l'istanza."
                        .into(),
            });
        } else if !blocking {
            extra.push(Issue {
                rule: "",
                step: Step::Review,
                field: "invio".into(),
                severity: Severity::Blocking,
                message: "Il modulo di invio non è più valido (pagina aperta da troppo tempo o già usata): premere di nuovo «Invia l'istanza».".into(),
            });
        }
        let again = RenderStep {
            step: Step::Review,
            extra_issues: extra,
            ..RenderStep::default()
        };
        return refuse(&state, tx, (&tenant, &row, &form), again).await;
    }
    applications::save_form(&mut tx, id, &form, time::rome_date(Utc::now())).await?;
    applications::mark_submitted(&mut tx, id).await?;
    let actor = audit::Actor::anonymous(if form.filed_by_lawyer() {
        "Avvocato (istanza on-line)"
    } else {
        "Richiedente (istanza on-line)"
    });
    let event = events::insert(
        &mut tx,
        events::NewEvent {
            application: id,
            kind: EventKind::Submitted,
            from: Some(Kind::Bozza),
            to: Some(Kind::Presentata),
            actor: &actor,
            details: json!({ "canale": row.channel }),
            also: None,
        },
    )
    .await?;
    // The receipt by e-mail: to the chosen lawyer and to the applicant, if they gave an address.
    outbox::to_parties(
        &mut tx,
        Some(event),
        id,
        EventKind::Submitted.code(),
        &json!({ "codice": row.code, "evento": EventKind::Submitted.code() }),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(application.id = %id, "application submitted");
    Ok(Redirect::to(&receipt_url(&tenant, id)).into_response())
}

fn attachment_rows(attachments: &[Attachment]) -> Markup {
    html! {
        @if !attachments.is_empty() {
            div class="table-responsive" tabindex="0" role="region" aria-label="Documenti depositati e loro impronta (SHA-256)" {
                table class="table table-sm" {
                    caption { "Documenti depositati e loro impronta (SHA-256)" }
                    thead { tr { th scope="col" { "Tipo" } th scope="col" { "File" } th scope="col" { "Impronta SHA-256" } } }
                    tbody {
                        @for a in attachments {
                            tr {
                                td { (AttachmentKind::label_of(&a.kind)) }
                                td { (a.filename) }
                                td class="text-monospace small text-break" { (a.sha256) }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub async fn receipt(
    Viewed {
        tenant,
        id,
        row,
        mut tx,
    }: Viewed,
) -> Result<Response, AppError> {
    if row.state() == Kind::Bozza {
        return Ok(Redirect::to(&views::step_url(&tenant, id, Step::Review)).into_response());
    }
    let facts = Facts::load(&mut tx, id, &row.form.0).await?;
    tx.commit().await?;
    let submitted = row.submitted_at.unwrap_or(row.updated_at);
    let base = views::base(&tenant);
    Ok(layout::page(
        &PageMeta::tenant("Ricevuta", &tenant),
        html! {
            div class="alert alert-success" role="status" {
                h1 class="h2 alert-heading" { "Istanza presentata" }
                p class="mb-0" { "L'istanza è stata inviata al " (tenant.name) "." }
            }
            dl class="row" {
                dt class="col-sm-4" { "Codice dell'istanza" }
                dd class="col-sm-8 h4 text-monospace" id="codice-istanza" { (row.code) }
                dt class="col-sm-4" { "Presentata il" }
                dd class="col-sm-8" id="data-presentazione" { (time::format_date_time(submitted)) }
                dt class="col-sm-4" { "Richiedente" }
                dd class="col-sm-8" { (row.form.0.applicant.display_name()) }
                dt class="col-sm-4" { "Stato" }
                dd class="col-sm-8" { (row.state().label()) }
                @if let Some(i) = identified(&row.form.0, &facts) {
                    dt class="col-sm-4" { "Sottoscrizione" }
                    dd class="col-sm-8" id="sottoscrizione" {
                        (i.statement()) "."
                        br;
                        span class="small text-muted text-break" { "Impronta SHA-256 dell'asserzione di identità: " (i.id_token_sha256) }
                    }
                }
            }
            p { (row.state().next_step()) }
            (attachment_rows(&facts.attachments))
            div class="d-flex flex-wrap gap-2" {
                a class="btn btn-primary" href=(format!("{base}/{id}/ricevuta.pdf")) { "Scarica la ricevuta (PDF)" }
                a class="btn btn-outline-primary" href=(format!("{base}/{id}/pdf")) { "Scarica l'istanza (PDF)" }
                a class="btn btn-outline-primary" href=(format!("{base}/stato")) { "Verifica lo stato" }
            }
        },
    )
    .into_response())
}

fn ordine(tenant: &Tenant) -> Value {
    json!({ "nome": tenant.name, "pec": tenant.pec })
}

pub(crate) fn receipt_data(
    state: &AppState,
    tenant: &Tenant,
    row: &ApplicationRow,
    facts: &Facts,
) -> Value {
    let form = &row.form.0;
    let submitted = row.submitted_at.unwrap_or(row.updated_at);
    let office = office_name(facts, form);
    json!({
        "ordine": ordine(tenant),
        "codice": row.code,
        "presentata_il": time::format_date_time(submitted),
        "generata_il_iso": submitted.to_rfc3339(),
        "richiedente": form.applicant.display_name(),
        "codice_fiscale": written_cf(form.applicant.cf()),
        "materia": form.matter().map(|m| m.label()),
        "ufficio": office,
        "avvocato": facts.lawyer.as_ref().map(|l| format!("Avv. {}", l.full_name())),
        "sottoscrizione": identified(form, facts).map(|i| i.statement()),
        "sottoscrizione_impronta": identified(form, facts).map(|i| i.id_token_sha256.clone()),
        "allegati": facts.attachments.iter().map(|a| json!({
            "tipo": AttachmentKind::label_of(&a.kind),
            "nome": a.filename,
            "sha256": a.sha256,
        })).collect::<Vec<_>>(),
        "stato_url": format!("{}{}/stato", state.settings.public_url, views::base(tenant)),
        "avvertenze": [
            "Per seguire l'istanza servono il codice e il PIN ricevuti alla creazione della bozza.",
            if tenant.settings.clock_runs_during_integration {
                "Il Consiglio dell'Ordine decide di norma entro dieci giorni dalla presentazione (art. 126 D.P.R. 115/2002)."
            } else {
                "Il Consiglio dell'Ordine decide di norma entro dieci giorni dalla presentazione (art. 126 D.P.R. 115/2002); il termine resta sospeso mentre si attendono documenti richiesti ad integrazione."
            },
            "Le variazioni di reddito vanno comunicate secondo l'art. 79, comma 1, lett. d, D.P.R. 115/2002.",
        ],
    })
}

/// The identification with SPID or CIE that signed the application, when that is how it is
/// signed.
fn identified<'a>(
    form: &Form,
    facts: &'a Facts,
) -> Option<&'a crate::store::identifications::Identification> {
    facts
        .identification
        .as_ref()
        .filter(|_| form.signature_mode == "spid")
}

fn office_name(facts: &Facts, form: &Form) -> Option<String> {
    facts
        .offices
        .iter()
        .find(|o| o.id.to_string() == form.filing.judicial_office)
        .map(|o| o.name.clone())
}

fn lawyer_data(l: &Lawyer) -> Value {
    json!({
        "nominativo": format!("Avv. {}", l.full_name()),
        "pec": l.pec,
        "iscrizione": l.register_number.as_ref().map(|n| format!("iscrizione n. {n}")),
    })
}

pub(crate) fn application_data(tenant: &Tenant, row: &ApplicationRow, facts: &Facts) -> Value {
    let form = &row.form.0;
    let a = &form.applicant;
    let now = Utc::now();
    let filing_date = time::rome_date(row.submitted_at.unwrap_or(now));
    let income = income_summary(form, filing_date);
    let birth = parse_date(&a.birth_date).map(|d| {
        let born = if a.sex == "F" { "nata" } else { "nato" };
        format!("{born} a {} il {}", a.birth_place, time::format_date(d))
    });
    let citizenship = match a.citizenship.as_str() {
        "italiana" => Some("italiana"),
        "ue" => Some("di un altro Stato dell'Unione europea"),
        "extra_ue" => Some("di uno Stato non appartenente all'Unione europea"),
        "apolide" => Some("apolide"),
        _ => None,
    };
    let empty = Default::default();
    let rows: Vec<Value> = income
        .rows
        .iter()
        .map(|(key, label, total)| {
            let p = form.income_of(key).unwrap_or(&empty);
            let amount = |has: &str, v: &str| {
                if has == "si" {
                    v.to_owned()
                } else {
                    "0,00".into()
                }
            };
            json!({
                "persona": label,
                "imponibile": p.taxable,
                "esenti": amount(&p.has_exempt, &p.exempt),
                "ritenuta": amount(&p.has_withholding, &p.withholding),
                "sostitutiva": amount(&p.has_substitute, &p.substitute),
                "totale": total.map(|t| t.to_string()).unwrap_or_else(|| "—".into()),
            })
        })
        .collect();
    let personal_only = form.income.personal_only.then_some(
        match form.income.personal_only_reason.as_str() {
            "personalita" => "Si considera il solo reddito del richiedente: la causa riguarda diritti della personalità (art. 76, comma 4).",
            _ => "Si considera il solo reddito del richiedente: i suoi interessi sono in conflitto con quelli dei familiari conviventi (art. 76, comma 4).",
        },
    );
    let victim = form.income.victim_regime.then(|| {
        format!(
            "Ammissione richiesta a prescindere dai limiti di reddito (art. 76, comma 4-ter): {}.",
            crate::domain::application::form::VICTIM_OFFENCES
                .iter()
                .find(|(c, _)| *c == form.income.victim_offence)
                .map_or("", |(_, l)| l)
        )
    });
    let filed_by = if form.filed_by_lawyer() {
        facts.lawyer.as_ref().map_or_else(
            || "Un avvocato per conto del richiedente".to_owned(),
            |l| format!("L'avv. {} per conto del richiedente", l.full_name()),
        )
    } else {
        "Il richiedente".to_owned()
    };
    let declarations = [
        form.declarations.truthful,
        form.declarations.undertaking,
        form.declarations.penalties,
        form.declarations.privacy,
    ];
    json!({
        "ordine": ordine(tenant),
        "codice": row.code,
        // On every page: a scan of the application signed by hand is recognised by it.
        "qr": binding::qr_svg(&row.code),
        "generata_il": time::format_date(time::rome_date(now)),
        "generata_il_iso": now.to_rfc3339(),
        "bozza": row.state() == Kind::Bozza,
        "presentata_da": filed_by,
        "materia": form.matter().map(|m| m.label()),
        "ufficio_giudiziario": office_name(facts, form),
        "richiedente": {
            "tipo": if a.is_entity() { "Ente senza scopo di lucro" } else { "Persona fisica" },
            "nominativo": a.display_name(),
            "codice_fiscale": written_cf(a.cf()),
            "nascita": if a.is_entity() { None } else { birth },
            "cittadinanza": citizenship,
            "residenza": if a.is_entity() { a.entity_seat.clone() } else { format!("{} {} {}", a.address, a.postcode, a.city).split_whitespace().collect::<Vec<_>>().join(" ") },
            "email": (!a.email.is_empty()).then_some(&a.email),
            "telefono": (!a.phone.is_empty()).then_some(&a.phone),
            "soggiorno": (!a.permit.is_empty()).then(|| match parse_date(&a.permit_expiry) {
                Some(d) => format!("{} valido fino al {}", a.permit, time::format_date(d)),
                None => a.permit.clone(),
            }),
        },
        "famiglia": {
            "vive_solo": form.household.lives_alone,
            "componenti": form.household.members.iter().map(|m| json!({
                "nominativo": m.display_name(),
                "codice_fiscale": written_cf(&m.codice_fiscale),
                "relazione": relationship_label(&m.relationship),
                "nascita": parse_date(&m.birth_date).map(|d| format!("nato/a il {}", time::format_date(d))),
            })).collect::<Vec<_>>(),
        },
        "redditi": {
            "anno": form.income.year,
            "righe": rows,
            "totale": income.total.map(|t| t.to_string()).unwrap_or_else(|| "—".into()),
            "soglia": income.threshold.map(|t| t.amount.to_string()),
            "decreto": income.threshold.map(|t| t.decree),
            "solo_personale": personal_only,
            "art76_4ter": victim,
        },
        "causa": {
            "controparte": form.case.counterparty_name,
            "controparte_residenza": form.case.counterparty_address,
            "pendente": form.case.pending == "si",
            "rg": (!form.case.rg_number.is_empty()).then_some(&form.case.rg_number),
            "prossima_udienza": parse_date(&form.case.next_hearing).map(time::format_date),
            "fatti": form.case.facts,
            "diritto": form.case.law,
            "prove": form.case.evidence,
        },
        "avvocato": facts.lawyer.as_ref().map(lawyer_data),
        "dichiarazioni": DECLARATION_TEXTS.iter().zip(declarations)
            .filter(|(_, given)| *given).map(|((_, text), _)| *text).collect::<Vec<_>>(),
        "allegati": facts.attachments.iter().map(|a| json!({
            "tipo": AttachmentKind::label_of(&a.kind),
            "nome": a.filename,
        })).collect::<Vec<_>>(),
    })
}

async fn pdf_response(
    state: &AppState,
    template: Template,
    data: Value,
    name: String,
) -> Result<Response, AppError> {
    let bytes = state.pdf.render_bounded(template, data).await?;
    Ok(file_response(bytes, "application/pdf", &name))
}

/// The filled application as a PDF (a draft is marked as such), to print and sign.
pub async fn application_pdf(
    State(state): State<AppState>,
    Viewed {
        tenant,
        id,
        row,
        mut tx,
    }: Viewed,
) -> Result<Response, AppError> {
    let facts = Facts::load(&mut tx, id, &row.form.0).await?;
    tx.commit().await?;
    let data = application_data(&tenant, &row, &facts);
    let name = format!("istanza-{}.pdf", row.code);
    let bytes = state.pdf.render_bounded(Template::Istanza, data).await?;
    // The draft's PDF is what gets signed: remember it, so that the signed file can be told
    // to be this application's (documents::binding).
    if row.state() == Kind::Bozza {
        let mut tx = state.db.tenant_tx(tenant.id).await?;
        renditions::record(
            &mut tx,
            tenant.id.0,
            id,
            &binding::sha256_hex(&bytes),
            &row.form.0.fingerprint(),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(file_response(bytes, "application/pdf", &name))
}

pub async fn receipt_pdf(
    State(state): State<AppState>,
    Viewed {
        tenant,
        id,
        row,
        mut tx,
    }: Viewed,
) -> Result<Response, AppError> {
    if row.state() == Kind::Bozza {
        return Err(AppError::NotFound);
    }
    let facts = Facts::load(&mut tx, id, &row.form.0).await?;
    tx.commit().await?;
    let data = receipt_data(&state, &tenant, &row, &facts);
    let name = format!("ricevuta-{}.pdf", row.code);
    pdf_response(&state, Template::Ricevuta, data, name).await
}

/// What the status page shows of an application: its row and, while documents are asked for,
/// the open integration request. Read the same way for the page and for its live updates.
pub struct Status {
    pub row: ApplicationRow,
    pub request: Option<integrations::Request>,
    /// The signed delibera's file name, once there is one.
    pub delibera: Option<String>,
}

impl Status {
    pub async fn load(tx: &mut TenantTx, row: ApplicationRow) -> anyhow::Result<Self> {
        let request = if row.state() == Kind::IntegrazioneRichiesta {
            integrations::open_for(tx, row.id).await?
        } else {
            None
        };
        let delibera = if row.state() == Kind::Bozza {
            None
        } else {
            crate::store::decisions::current(tx, row.id)
                .await?
                .and_then(|d| d.signed_file())
                .map(|(_, _, name)| name)
        };
        Ok(Self {
            row,
            request,
            delibera,
        })
    }
}

/// The state in plain Italian and the next step and, when documents are asked for, the list,
/// the deadline and the way to answer: the whole status page's panel. The live socket sends
/// this same panel (it replaces the one with the same id), so that an update shows what a
/// reload would.
pub fn status_panel(tenant: &Tenant, status: &Status) -> Markup {
    let row = &status.row;
    let kind = row.state();
    html! {
        div id="stato-istanza" aria-live="polite" {
            div class="card card-bg mb-4" { div class="card-body" {
                p class="text-muted mb-1" { "Istanza " span class="text-monospace" { (row.code) } }
                h2 class="h3" { (kind.label()) }
                @if let Some(t) = row.submitted_at {
                    p { "Presentata il " (time::format_date_time(t)) "." }
                } @else {
                    p { "Ultima modifica il " (time::format_date_time(row.updated_at)) "." }
                }
                h3 class="h5" { "Prossimo passo" }
                p class="mb-0" { (kind.next_step()) }
            }}
            @if let Some(name) = &status.delibera {
                div class="card card-bg mb-4" id="delibera-firmata" { div class="card-body" {
                    h3 class="h5" { "Delibera del Consiglio dell'Ordine" }
                    p { "La delibera è firmata digitalmente: si apre con un lettore di firme (file .p7m) o con un comune lettore di PDF (file PDF firmato)." }
                    a class="btn btn-primary" href=(format!("{}/{}/delibera", views::base(tenant), row.id)) download=(name) { "Scarica la delibera firmata" }
                } }
            }
            @if let Some(r) = &status.request {
                (crate::web::case::integration::request_card(r, time::rome_date(Utc::now())))
                @if row.form.0.filing.filed_by == "richiedente" {
                    a class="btn btn-primary mb-4" id="rispondi-integrazione" href=(format!("{}/{}/integrazione", views::base(tenant), row.id)) { "Rispondi alla richiesta" }
                } @else {
                    p { "Alla richiesta risponde l'avvocato che ha presentato l'istanza, dalla propria area riservata: i documenti vanno consegnati a lui." }
                }
            }
        }
    }
}

fn status_page(tenant: &Tenant, body: Markup) -> Markup {
    let base = format!("/{}", tenant.slug);
    layout::page(
        &PageMeta::tenant("Stato dell'istanza", tenant),
        html! {
            (layout::breadcrumb(&[
                ("Home", Some(&base)),
                ("Istanza di ammissione", Some(&views::base(tenant))),
                ("Stato dell'istanza", None),
            ]))
            h1 { "Stato dell'istanza" }
            (body)
        },
    )
}

pub async fn status_form(tenant: CurrentTenant) -> Markup {
    status_page(
        &tenant,
        html! {
            p { "Inserire il codice dell'istanza e il PIN ricevuti alla creazione della bozza." }
            (views::code_pin_form(&format!("{}/stato", views::base(&tenant)), "Verifica lo stato", None, ""))
        },
    )
}

/// The state in plain Italian and the next step, for whoever holds code and PIN.
pub async fn status(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: axum::http::HeaderMap,
    HtmlForm(input): HtmlForm<CodePin>,
) -> Result<Response, AppError> {
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let outcome = access::unlock(&mut tx, &input.codice, &input.pin).await?;
    tx.commit().await?;
    let row = match outcome {
        access::Unlock::Granted(row) => row,
        other => {
            let message = if matches!(other, access::Unlock::Locked) {
                LOCKED
            } else {
                REFUSED
            };
            let page = status_page(
                &tenant,
                views::code_pin_form(
                    &format!("{}/stato", views::base(&tenant)),
                    "Verifica lo stato",
                    Some(message),
                    &input.codice,
                ),
            );
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let kind = row.state();
    let id = row.id;
    // This device may now follow the application live and, if the applicant filed alone,
    // answer an integration request.
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let (device, cookie) = access::ensure_device_token(&state, &headers);
    applications::grant_device(&mut tx, &device, id).await?;
    let shown = Status::load(&mut tx, *row).await?;
    tx.commit().await?;
    let live = format!("{}/{id}/ws", views::base(&tenant));
    let page = status_page(
        &tenant,
        html! {
            @if kind == Kind::Bozza {
                (status_panel(&tenant, &shown))
                p { "Per completarla: " a href=(format!("{}#riprendi", views::base(&tenant))) { "riprendi l'istanza con codice e PIN" } "." }
            } @else {
                (crate::live::container(&live, status_panel(&tenant, &shown)))
            }
        },
    );
    let mut res = page.into_response();
    if let Some(c) = cookie {
        res.headers_mut().append(axum::http::header::SET_COOKIE, c);
    }
    Ok(res)
}

/// The signed delibera, for the device that opened the application with code and PIN.
pub async fn signed_delibera(
    State(state): State<AppState>,
    Viewed {
        id, row, mut tx, ..
    }: Viewed,
) -> Result<Response, AppError> {
    if row.state() == Kind::Bozza {
        return Err(AppError::NotFound);
    }
    let d = crate::store::decisions::current(&mut tx, id).await?;
    tx.commit().await?;
    let (key, content_type, name) = d.and_then(|d| d.signed_file()).ok_or(AppError::NotFound)?;
    let bytes = state.storage.get(&key).await?;
    Ok(file_response(bytes, content_type, &name))
}
