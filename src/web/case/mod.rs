//! The case file (fascicolo): what every reserved area shows of one application, on one
//! screen, and the pieces each area's actions share (the version check, the 409 page, the
//! actor of a change). Each area adds its own action panel.

pub mod decision;
pub mod files;
pub mod integration;
pub mod list;
pub mod search;
pub mod transmission;
pub mod withdrawal;

use axum::{
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{NaiveDate, Utc};
use maud::{Markup, html};
use uuid::Uuid;

use super::{
    auth::{AreaRole, InArea},
    error::AppError,
    layout::{self, PageMeta},
    public::views::{income_box, size_label},
    tenant::CurrentTenant,
};
use crate::{
    db::TenantTx,
    domain::{
        access::{Grant, Role, ViewApplications, authorize},
        application::{
            Action, Actor, Facts, Stage,
            attachment::AttachmentKind,
            check::{income_summary, parse_date},
            form::{relationship_label, written_cf},
            matter::Matter,
            transition,
            workflow::EventKind,
        },
        deadline::Clock,
        money::Euro,
        time,
    },
    store::{
        attachments::{self, Attachment},
        audit,
        cases::{self, Case, Duplicate, Stale, Viewer},
        decisions,
        events::{self, Event},
        integrations,
        protocol::{self, Entry},
        transmissions,
    },
};

/// The grant to read applications, for the area the person is in.
pub fn view_grant<R: AreaRole>(
    tenant: &CurrentTenant,
    who: &InArea<R>,
) -> Result<Grant<ViewApplications>, AppError> {
    authorize::<ViewApplications>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)
}

pub fn viewer<'a, R: AreaRole>(grant: &'a Grant<ViewApplications>, who: &InArea<R>) -> Viewer<'a> {
    Viewer {
        grant,
        lawyer_id: who.user.lawyer_id,
    }
}

/// Who acts, as the history and the audit log name them.
pub fn actor<R: AreaRole>(who: &InArea<R>) -> audit::Actor {
    audit::Actor::user(
        who.user.id,
        format!("{} ({})", who.user.name, who.role().label().to_lowercase()),
    )
}

pub fn today() -> NaiveDate {
    time::rome_date(Utc::now())
}

/// The area's base path: `/{slug}/segreteria`.
pub fn area_base<R: AreaRole>(tenant: &CurrentTenant, who: &InArea<R>) -> String {
    format!("/{}/{}", tenant.slug, who.role().area())
}

pub fn case_url<R: AreaRole>(tenant: &CurrentTenant, who: &InArea<R>, id: Uuid) -> String {
    format!("{}/pratiche/{id}", area_base(tenant, who))
}

/// Everything the case page shows.
pub struct CaseFile {
    pub case: Case,
    pub attachments: Vec<Attachment>,
    pub events: Vec<Event>,
    pub protocol: Vec<Entry>,
    pub duplicates: Vec<Duplicate>,
    pub integrations: Vec<integrations::Request>,
    pub decision: Option<decisions::Decision>,
    /// Where the delibera went, with each outgoing protocol number and state.
    pub transmissions: Vec<transmissions::Listed>,
    /// The applicant's identification with SPID or CIE, when that is how the application is
    /// signed (art. 65, c. 1, lett. b, CAD).
    pub identification: Option<crate::store::identifications::Identification>,
}

impl CaseFile {
    /// Loads the file and records in the audit log who opened it.
    pub async fn load<R: AreaRole>(
        tx: &mut TenantTx,
        who: &InArea<R>,
        case: Case,
    ) -> anyhow::Result<Self> {
        let id = case.id;
        // Other applications are named only to those who see the whole Ordine.
        let duplicates = if who.role() == Role::Segreteria {
            cases::duplicates(
                tx,
                id,
                case.applicant_cf.as_deref(),
                case.counterparty_name.as_deref(),
                case.rg_number.as_deref(),
            )
            .await?
        } else {
            Vec::new()
        };
        audit::record(
            tx,
            audit::Entry {
                actor: &actor(who),
                action: "pratica.consultata",
                target_kind: Some("istanza"),
                target_id: Some(id.to_string()),
                outcome: "ok",
                details: serde_json::json!({ "codice": case.code, "stato": case.state }),
            },
        )
        .await?;
        Ok(Self {
            attachments: attachments::list(tx, id).await?,
            events: events::for_application(tx, id).await?,
            protocol: protocol::for_application(tx, id).await?,
            integrations: integrations::for_application(tx, id).await?,
            decision: decisions::current(tx, id).await?,
            transmissions: transmissions::for_application(tx, id).await?,
            identification: if case.form.0.signature_mode == "spid" {
                crate::store::identifications::get(tx, id).await?
            } else {
                None
            },
            duplicates,
            case,
        })
    }
}

/// The state, the protocol number and the clock, as lists and the case page show them.
pub fn clock_badge(clock: Option<Clock>) -> Markup {
    html! {
        @if let Some(c) = clock {
            span class=(c.level().class()) title=(format!("Termine di dieci giorni (art. 126): {}", time::format_date(c.due))) {
                (layout::icon("it-clock", "icon-xs me-1"))
                (c.label())
                span class="visually-hidden" { ", termine " (time::format_date(c.due)) }
            }
        }
    }
}

pub fn stage_badge(stage: Stage) -> Markup {
    let class = match stage {
        Stage::Ammessa => "badge bg-success",
        Stage::Respinta | Stage::Inammissibile | Stage::Revocata => "badge bg-danger",
        Stage::IntegrazioneRichiesta => "badge bg-warning",
        Stage::Rinunciata => "badge bg-secondary",
        _ => "badge bg-primary",
    };
    html! { span class=(class) { (stage.label()) } }
}

/// The list of applications of a reserved area, with the clock on each row. `base` is the
/// area's path; `fresh` marks a row just arrived (live updates).
pub fn case_table(
    base: &str,
    rows: &[Case],
    caption: &str,
    empty: &str,
    fresh: Option<Uuid>,
) -> Markup {
    let today = today();
    html! {
        @if rows.is_empty() {
            p class="text-muted" { (empty) }
        } @else {
            div class="table-responsive" {
                table class="table table-hover" {
                    caption { (caption) }
                    thead { tr {
                        th scope="col" { "Protocollo" }
                        th scope="col" { "Richiedente" }
                        th scope="col" { "Materia" }
                        th scope="col" { "Stato" }
                        th scope="col" { "Relatore" }
                        th scope="col" { "Termine" }
                    } }
                    tbody {
                        @for c in rows {
                            tr id=(row_id(c.id)) {
                                td {
                                    a href=(format!("{base}/pratiche/{}", c.id)) {
                                        @match c.protocol() {
                                            Some(p) => span class="text-monospace" { (p) },
                                            None => span class="text-monospace" { (c.code) },
                                        }
                                    }
                                    @if fresh == Some(c.id) {
                                        " " span class="badge bg-info text-dark" { "Nuova" }
                                    }
                                    @if c.urgent {
                                        " " span class="badge bg-danger" title=[c.urgent_reason.as_deref()] { "Urgente" }
                                    }
                                    br;
                                    small class="text-muted" {
                                        @if c.protocol().is_some() { "cod. " (c.code) } @else {
                                            "presentata il " (c.submitted_at.map(|t| time::format_date(time::rome_date(t))).unwrap_or_default())
                                        }
                                    }
                                }
                                td { (c.applicant_name.as_deref().unwrap_or("—")) }
                                td { (c.matter.as_deref().and_then(Matter::from_code).map_or("—", Matter::label)) }
                                td {
                                    (stage_badge(c.stage()))
                                    @if c.stage() == Stage::InIstruttoria && c.last_event.as_deref() == Some(EventKind::IntegrationAnswered.code()) {
                                        " " span class="badge bg-info text-dark" { "Integrazione ricevuta" }
                                    }
                                    @if let Some(n) = &c.delibera {
                                        br; a class="small" href=(format!("{base}/pratiche/{}/delibera.pdf", c.id)) { "Delibera n. " (n) }
                                    }
                                }
                                td { (c.rapporteur_name.as_deref().unwrap_or("—")) }
                                td { (clock_badge(c.clock(today))) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The stable DOM id of an application's row in every list.
pub fn row_id(id: Uuid) -> String {
    format!("pratica-{id}")
}

fn row(label: &str, value: impl Into<String>) -> Markup {
    let value = value.into();
    html! {
        dt class="col-sm-4" { (label) }
        dd class="col-sm-8" {
            @if value.trim().is_empty() { span class="text-muted" { "non indicato" } } @else { (value) }
        }
    }
}

fn euro_cents(cents: Option<i64>) -> String {
    cents
        .map(|c| format!("€ {}", Euro::from_cents(c)))
        .unwrap_or_default()
}

/// The summary at the top of the case page.
pub fn summary(file: &CaseFile) -> Markup {
    let c = &file.case;
    html! {
        div class="card card-bg mb-4" id="pratica-stato" { div class="card-body" {
            div class="d-flex flex-wrap gap-2 align-items-center mb-2" {
                (stage_badge(c.stage()))
                (clock_badge(c.clock(today())))
                @if c.urgent {
                    span class="badge bg-danger" { "Urgente" @if let Some(r) = &c.urgent_reason { ": " (r) } }
                }
            }
            dl class="row mb-0" {
                (row("Codice", c.code.clone()))
                (row("Protocollo", c.protocol().map(|p| format!("n. {p} del {}", c.protocol_at.map(time::format_date_time).unwrap_or_default())).unwrap_or_else(|| "non ancora registrata".into())))
                (row("Presentata", c.submitted_at.map(time::format_date_time).unwrap_or_default()))
                (row("Canale", channel_label(&c.channel)))
                (row("Consigliere relatore", c.rapporteur_name.clone().unwrap_or_else(|| "non assegnata".into())))
            }
        } }
        @if !file.duplicates.is_empty() {
            div class="alert alert-warning" role="status" id="possibili-duplicati" {
                h2 class="h5 alert-heading" { "Possibile istanza doppia" }
                p { "Lo stesso richiedente ha presentato altre istanze per la stessa controparte o lo stesso numero di ruolo (V36):" }
                ul class="mb-0" {
                    @for d in &file.duplicates {
                        li {
                            a href=(d.id.to_string()) {
                                "Istanza " (d.code)
                                @if let Some(p) = d.protocol() { ", protocollo " (p) }
                            }
                            " — " (d.stage().label())
                        }
                    }
                }
            }
        }
    }
}

pub fn channel_label(code: &str) -> &'static str {
    match code {
        "portale" => "Istanza on-line",
        "sportello" => "Consegnata allo sportello",
        "posta" => "Ricevuta per posta",
        "pec" => "Ricevuta per PEC",
        _ => "Altro",
    }
}

/// Applicant, household, incomes, the case and the lawyer: the whole application.
pub fn application(file: &CaseFile) -> Markup {
    let c = &file.case;
    let f = &c.form.0;
    let a = &f.applicant;
    let filed = c.submitted_at.map_or_else(today, time::rome_date);
    let income = income_summary(f, filed);
    html! {
        section class="mb-4" aria-labelledby="sez-richiedente" {
            h2 class="h4 border-bottom pb-1" id="sez-richiedente" { "Richiedente" }
            dl class="row" {
                (row("Nome", a.display_name()))
                (row("Codice fiscale", a.cf().to_owned()))
                @if a.is_entity() {
                    (row("Sede", a.entity_seat.clone()))
                    (row("Legale rappresentante", a.representative.clone()))
                } @else {
                    (row("Nato il", format!("{} a {}", parse_date(&a.birth_date).map_or_else(|| a.birth_date.clone(), time::format_date), a.birth_place)))
                    (row("Residenza", format!("{} {} {}", a.address, a.postcode, a.city)))
                    (row("Cittadinanza", a.citizenship.clone()))
                }
                (row("E-mail", a.email.clone()))
                (row("Telefono", a.phone.clone()))
                (row("Presentata da", if f.filed_by_lawyer() { "un avvocato per conto del richiedente" } else { "il richiedente" }))
            }
        }
        section class="mb-4" aria-labelledby="sez-famiglia" {
            h2 class="h4 border-bottom pb-1" id="sez-famiglia" { "Nucleo familiare" }
            @if f.household.lives_alone {
                p { "Il richiedente dichiara di vivere da solo." }
            } @else {
                div class="table-responsive" tabindex="0" role="region" aria-label="Familiari conviventi" {
                    table class="table table-sm" {
                        caption class="visually-hidden" { "Familiari conviventi" }
                        thead { tr { th scope="col" { "Familiare" } th scope="col" { "Codice fiscale" } th scope="col" { "Relazione" } } }
                        tbody {
                            @for m in &f.household.members {
                                tr { td { (m.display_name()) } td class="text-monospace" { (written_cf(&m.codice_fiscale)) } td { (relationship_label(&m.relationship)) } }
                            }
                        }
                    }
                }
            }
        }
        section class="mb-4" aria-labelledby="sez-redditi" {
            h2 class="h4 border-bottom pb-1" id="sez-redditi" { "Redditi dell'anno " (f.income.year) }
            div class="table-responsive" tabindex="0" role="region" aria-label="Redditi per persona" {
                table class="table table-sm" {
                    caption class="visually-hidden" { "Redditi per persona" }
                    thead { tr { th scope="col" { "Persona" } th scope="col" class="text-end" { "Reddito rilevante" } } }
                    tbody {
                        @for (_, label, total) in &income.rows {
                            tr { td { (label) } td class="text-end" { (total.map(|t| format!("€ {t}")).unwrap_or_else(|| "non calcolabile".into())) } }
                        }
                    }
                }
            }
            @if f.income.personal_only {
                p { "Si considera il solo reddito personale (art. 76, comma 4): " (f.income.personal_only_reason) " " (f.income.personal_only_detail) }
            }
            @if f.income.victim_regime {
                p { "Ammissione a prescindere dal reddito (art. 76, comma 4-ter): reato " (f.income.victim_offence) "." }
            }
            (income_box(&income, &[]))
            @if let (Some(t), Some(l)) = (c.income_total_cents, c.threshold_cents) {
                @if t > l && !f.income.victim_regime {
                    p class="campo-errore mt-2" { "Il reddito dichiarato (" (euro_cents(Some(t))) ") supera il limite (" (euro_cents(Some(l))) ")." }
                }
            }
        }
        section class="mb-4" aria-labelledby="sez-causa" {
            h2 class="h4 border-bottom pb-1" id="sez-causa" { "La causa" }
            dl class="row" {
                (row("Materia", c.matter.as_deref().and_then(Matter::from_code).map_or("", Matter::label)))
                (row("Ufficio giudiziario", c.office_name.clone().unwrap_or_default()))
                (row("Controparte", format!("{} {}", f.case.counterparty_name, f.case.counterparty_cf)))
                (row("Giudizio pendente", match f.case.pending.as_str() { "si" => format!("sì, R.G. {}", f.case.rg_number), "no" => "no".into(), _ => String::new() }))
                (row("Prossima udienza", c.next_hearing.map(time::format_date).unwrap_or_default()))
                (row("Fatti", f.case.facts.clone()))
                (row("Ragioni di diritto", f.case.law.clone()))
                (row("Prove", f.case.evidence.clone()))
                (row("Avvocato", c.lawyer_name.as_ref().map(|n| format!("Avv. {n}")).unwrap_or_default()))
            }
        }
    }
}

/// The attachments with the result of every signature check; each opens in the browser.
pub fn attachment_list(file: &CaseFile, base: &str) -> Markup {
    html! {
        section class="mb-4" aria-labelledby="sez-allegati" id="allegati" {
            h2 class="h4 border-bottom pb-1" id="sez-allegati" { "Documenti" }
            @if let Some(i) = &file.identification {
                div class="alert alert-success" id="firma-spid" {
                    p class="fw-semibold mb-1" { "Firma dell'istanza: identificazione con SPID o CIE" }
                    p class="mb-1" { (i.statement()) "." }
                    dl class="row small mb-0" {
                        dt class="col-sm-4" { "Codice fiscale" }
                        dd class="col-sm-8" { (i.codice_fiscale) }
                        dt class="col-sm-4" { "Soggetto (sub)" }
                        dd class="col-sm-8 text-break" { (i.subject) }
                        dt class="col-sm-4" { "Livello (acr)" }
                        dd class="col-sm-8 text-break" { (i.acr) }
                        dt class="col-sm-4" { "Impronta dell'asserzione" }
                        dd class="col-sm-8 text-monospace text-break" { (i.id_token_sha256) }
                    }
                }
            }
            @if file.attachments.is_empty() {
                p class="text-muted" { "Nessun documento allegato." }
            } @else {
                ul class="list-group" {
                    @for a in &file.attachments {
                        li class="list-group-item" {
                            strong { (AttachmentKind::label_of(&a.kind)) } ": "
                            a href=(format!("{base}/allegati/{}", a.id)) target="_blank" rel="noopener" { (a.filename) }
                            " (" (size_label(a.size_bytes)) ")"
                            @if let Some(content) = a.signature.as_ref().and_then(|s| s.content.as_ref()) {
                                " · " a href=(format!("{base}/allegati/{}/contenuto", a.id)) target="_blank" rel="noopener" {
                                    "apri il documento firmato (" (size_label(content.size_bytes)) ")"
                                }
                            }
                            br;
                            @match &a.signature {
                                Some(s) => {
                                    (crate::web::components::signature_details(s))
                                    a class="small" href=(format!("{base}/allegati/{}/rapporto", a.id)) {
                                        "Scarica il rapporto di verifica (PDF)"
                                        span class="visually-hidden" { " di " (a.filename) }
                                    }
                                }
                                None => small class="text-muted" { "Senza firma digitale" },
                            }
                            @if a.integration_request_id.is_some() {
                                " " span class="badge bg-info text-dark" { "Integrazione" }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The protocol entries and the history of the application.
pub fn history(file: &CaseFile) -> Markup {
    html! {
        section class="mb-4" aria-labelledby="sez-storia" id="storia" {
            h2 class="h4 border-bottom pb-1" id="sez-storia" { "Cronologia" }
            @if !file.protocol.is_empty() {
                h3 class="h6" { "Registrazioni di protocollo" }
                ul {
                    @for e in &file.protocol {
                        li {
                            span class="text-monospace" { (e.number()) } " del " (time::format_date_time(e.registered_at)) " — " (e.subject)
                            @if let Some(by) = &e.cancelled_by { " " span class="badge bg-danger" { "annullata con n. " (by) } }
                            @if let Some(r) = &e.reason { " (motivo: " (r) ")" }
                            @if !e.recipients.is_empty() {
                                br; span { "Destinatari: " (e.recipients.iter().map(|r| r.name.as_str()).collect::<Vec<_>>().join(", ")) }
                            }
                            br; small class="text-muted text-break" { "SHA-256 dei documenti: " (e.documents_sha256) }
                        }
                    }
                }
            }
            (transmission::section(file))
            ol class="list-unstyled" {
                @for e in &file.events {
                    li class="mb-2" {
                        strong { (e.label()) }
                        " — " (time::format_date_time(e.at)) ", " (e.actor_label)
                        @if let Some(text) = event_detail(e) { br; span { (text) } }
                    }
                }
            }
        }
    }
}

/// The human part of an event's details.
fn event_detail(e: &Event) -> Option<String> {
    let d = &e.details;
    let s = |k: &str| d.get(k).and_then(|v| v.as_str()).map(str::to_owned);
    let mut parts = Vec::new();
    if let Some(p) = s("protocollo") {
        parts.push(format!("Protocollo n. {p}"));
    }
    if let Some(p) = s("protocollo_uscita") {
        parts.push(format!("Protocollo in uscita n. {p}"));
    }
    if let Some(r) = s("relatore") {
        parts.push(format!("Relatore: {r}"));
    }
    if let Some(m) = s("motivo") {
        parts.push(format!("Motivo: {m}"));
    }
    if let Some(n) = s("delibera") {
        parts.push(format!("Delibera n. {n}"));
    }
    if let Some(n) = s("nota") {
        parts.push(n);
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

/// The whole page: summary, the area's actions, the application, documents and history.
pub fn page<R: AreaRole>(
    tenant: &CurrentTenant,
    who: &InArea<R>,
    area_title: &str,
    file: &CaseFile,
    notice: Option<Markup>,
    actions: Markup,
) -> Markup {
    let c = &file.case;
    let base = area_base(tenant, who);
    let title = match c.protocol() {
        Some(p) => format!("Pratica {p}"),
        None => format!("Istanza {}", c.code),
    };
    layout::page(
        &PageMeta::area(&title, tenant, who),
        html! {
            (layout::breadcrumb(&[(area_title, Some(&base)), (&title, None)]))
            h1 { (title) " " small class="text-muted h4" { (c.applicant_name.as_deref().unwrap_or("")) } }
            @if let Some(n) = notice { (n) }
            (crate::live::container(
                &format!("/ws?vista=pratica&area={}&id={}&versione={}", who.role().area(), c.id, c.version),
                crate::live::views::case_slots(),
            ))
            div class="row" {
                div class="col-lg-8" {
                    (summary(file))
                    (decision::section(file, &case_url(tenant, who, c.id)))
                    (application(file))
                    (attachment_list(file, &case_url(tenant, who, c.id)))
                    (integration::section(&file.integrations, &file.attachments, &case_url(tenant, who, c.id)))
                    (history(file))
                }
                aside class="col-lg-4" aria-label="Operazioni" {
                    (actions)
                }
            }
        },
    )
}

/// 409: somebody changed the application after the page was loaded. Says who and what, and
/// shows what the person had typed so that nothing is lost.
pub fn stale_page<R: AreaRole>(
    tenant: &CurrentTenant,
    who: &InArea<R>,
    id: Uuid,
    stale: &Stale,
    typed: &[(&str, &str)],
) -> Response {
    let back = case_url(tenant, who, id);
    let page = layout::page(
        &PageMeta::area("Dati modificati nel frattempo", tenant, who),
        html! {
            h1 { "Dati modificati nel frattempo" }
            div class="alert alert-warning" role="alert" {
                @match &stale.latest {
                    Some(e) => p class="mb-0" {
                        "Mentre la pagina era aperta, " strong { (e.actor_label) } " ha registrato: «" (e.label()) "» il "
                        (time::format_date_time(e.at)) ". La sua operazione non è stata eseguita, per non sovrascrivere quella modifica."
                    },
                    None => p class="mb-0" { "Un'altra persona ha modificato la pratica. La sua operazione non è stata eseguita." }
                }
            }
            @let kept: Vec<_> = typed.iter().filter(|(_, v)| !v.trim().is_empty()).collect();
            @if !kept.is_empty() {
                h2 class="h4" { "Quanto aveva scritto" }
                p { "Il testo è conservato qui sotto: copiarlo prima di riprovare." }
                @for (i, (label, value)) in kept.iter().enumerate() {
                    div class="form-group" {
                        label class="active" for=(format!("scritto-{i}")) { (label) }
                        textarea class="form-control" id=(format!("scritto-{i}")) rows="5" readonly { (value) }
                    }
                }
            }
            a class="btn btn-primary" href=(back) { "Apri la pratica aggiornata" }
        },
    );
    (StatusCode::CONFLICT, page).into_response()
}

/// The domain refused the action: say why, with a way back.
pub fn refused_page<R: AreaRole>(
    tenant: &CurrentTenant,
    who: &InArea<R>,
    id: Uuid,
    message: &str,
) -> Response {
    let page = layout::page(
        &PageMeta::area("Operazione non consentita", tenant, who),
        html! {
            h1 { "Operazione non consentita" }
            div class="alert alert-danger" role="alert" { p class="mb-0" { (message) } }
            a class="btn btn-primary" href=(case_url(tenant, who, id)) { "Torna alla pratica" }
        },
    );
    (StatusCode::CONFLICT, page).into_response()
}

/// A form's answer that is not valid: say what, keep the rest (the page is re-rendered by the
/// caller with the values).
pub fn invalid(message: &str) -> Markup {
    html! { div class="alert alert-danger" role="alert" id="errore-operazione" { p class="mb-0" { (message) } } }
}

pub fn success(message: &str) -> Markup {
    html! { div class="alert alert-success" role="status" id="esito-operazione" { p class="mb-0" { (message) } } }
}

/// Locks the case for a change. `Err` carries the answer to give instead: 404 when the person
/// may not see it, the 409 page when it changed since they loaded it (`typed` is what their
/// form carried, shown back to them).
pub async fn lock_for_change<R: AreaRole>(
    tx: &mut TenantTx,
    tenant: &CurrentTenant,
    who: &InArea<R>,
    viewer: &Viewer<'_>,
    id: Uuid,
    seen_version: i32,
    typed: &[(&str, &str)],
) -> Result<Result<Case, Response>, AppError> {
    let case = cases::lock(tx, viewer, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if case.version != seen_version {
        let latest = events::latest_change(tx, id).await?;
        return Ok(Err(stale_page(tenant, who, id, &Stale { latest }, typed)));
    }
    Ok(Ok(case))
}

/// The facts the workflow's guards need about this person and this case.
pub fn facts<R: AreaRole>(
    tenant: &CurrentTenant,
    who: &InArea<R>,
    case: &Case,
    integration_expired: bool,
) -> Facts {
    Facts {
        is_assigned_rapporteur: case.rapporteur_id == Some(who.user.id),
        is_chosen_lawyer: who.user.lawyer_id.is_some() && who.user.lawyer_id == case.lawyer_id,
        filed_by_applicant: case.filed_by_applicant(),
        council_sessions: tenant.settings.council_sessions,
        integration_expired,
    }
}

/// Asks the state machine; a refusal becomes the page that says why.
#[allow(clippy::result_large_err)] // the refusal is the response itself, built once
pub fn check<R: AreaRole>(
    tenant: &CurrentTenant,
    who: &InArea<R>,
    case: &Case,
    action: Action,
    as_actor: Actor,
    facts: Facts,
) -> Result<Stage, Response> {
    transition(case.stage(), action, as_actor, facts)
        .map_err(|refused| refused_page(tenant, who, case.id, &refused.0))
}

/// The session key of the one-off notice after a change: `(case id, outcome)`.
const OUTCOME_KEY: &str = "esito";

/// After a change: back to the case page, which says once what was done. The outcome waits in
/// the session, not in the URL: a reload, or the page opened again later, does not repeat it.
pub async fn done<R: AreaRole>(
    tenant: &CurrentTenant,
    who: &InArea<R>,
    id: Uuid,
    outcome: &str,
) -> Response {
    if let Err(e) = who
        .session
        .insert(OUTCOME_KEY, (id, outcome.to_owned()))
        .await
    {
        // The change is made: only the notice is lost.
        tracing::warn!(error = %e, "outcome notice not kept");
    }
    axum::response::Redirect::to(&case_url(tenant, who, id)).into_response()
}

/// The outcome of the change just made on case `id`, once: it is removed from the session
/// whichever case page is opened next.
pub async fn take_outcome<R: AreaRole>(who: &InArea<R>, id: Uuid) -> Option<String> {
    let kept: Option<(Uuid, String)> = who.session.remove(OUTCOME_KEY).await.ok().flatten();
    kept.filter(|(case, _)| *case == id)
        .map(|(_, outcome)| outcome)
}
