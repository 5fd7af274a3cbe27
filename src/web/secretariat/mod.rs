//! The secretariat's area (segreteria): the intake board, acquisition by code, the protocol,
//! assignment to a rapporteur, and applications received on paper.

pub mod council;
pub mod daily_register;
pub mod dossier;
mod intake;
pub mod pec_receipts;
mod protocol;
mod records;
pub mod tax_batches;
mod transmission;

pub use council::{
    adopt_all as council_adopt, agenda as council_agenda, create as council_create,
    list as council_list, minutes_pdf as council_minutes, schedule, send_back,
};
pub use intake::{Typed, acquire, assign, cancel_registration, counter, register, urgency};
pub use protocol::{
    export_csv as protocol_export_csv, export_xlsx as protocol_export_xlsx,
    register_page as protocol_register,
};
pub use records::{reproposal, revocation, withdraw};
pub use transmission::to_judge;

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use uuid::Uuid;

use super::{
    AppState,
    auth::{InArea, Segreteria},
    case::{self, CaseFile, list},
    components::Input,
    error::AppError,
    layout::{self, PageMeta, csrf_field},
    tenant::{CurrentTenant, PathParams},
};
use crate::{
    db::TenantTx,
    domain::{access::Role, application::Stage},
    live,
    store::{
        cases::{self, Sort, Viewer},
        council as council_store,
        tenants::Tenant,
    },
};

pub const TITLE: &str = crate::domain::access::Role::Segreteria.area_title();

pub use crate::web::case::list::ListQuery as BoardQuery;

/// The most new filings the board shows at once (the oldest first); the rest are one link
/// away, in the list with its pages.
const INTAKE_SHOWN: i64 = 50;

pub async fn entry(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    Query(q): Query<BoardQuery>,
) -> Result<Markup, AppError> {
    board(&state, &tenant, &who, &q, None, "").await
}

/// The live part of the board: the new filings and the list of cases, both as the filters in
/// the URL select them (the state filter applies to the list; the filings are those still to
/// register). The page and the live socket both render it, with the same query.
pub async fn board_sections(
    tx: &mut TenantTx,
    tenant: &Tenant,
    viewer: &Viewer<'_>,
    q: &BoardQuery,
    fresh: Option<Uuid>,
) -> anyhow::Result<Markup> {
    let parsed = q.parse(Role::Segreteria);
    // When the list itself shows the filings still to register (state "presentata", or every
    // state), they are not shown twice.
    let listed_there = parsed
        .filter
        .states
        .as_ref()
        .is_none_or(|s| s.contains(&Stage::Presentata.code()));
    let intake = if listed_there {
        None
    } else {
        let only_intake = cases::Filter {
            states: Some(vec![Stage::Presentata.code()]),
            ..parsed.filter.clone()
        };
        // Filings not yet registered have no suspension: their deadline order is their order
        // of filing, which sorts without reading the clock of each.
        Some(cases::page(tx, viewer, &only_intake, Sort::Oldest, None, INTAKE_SHOWN).await?)
    };
    let listed = list::load(tx, viewer, &parsed).await?;
    let to_judge = crate::store::transmissions::waiting_for_judge(tx, 500).await?;
    let failed = pec_receipts::board_alert(tx, &tenant.slug).await?;
    let base = format!("/{}/segreteria", tenant.slug);
    Ok(html! {
        div id="tabellone" {
            (failed)
            @if !to_judge.is_empty() {
                (case::transmission::queue(&base, &to_judge))
            }
            section id="da-acquisire" class="mb-5" {
                @if let Some(intake) = &intake {
                    h2 class="h3" { "Nuove istanze da registrare " span class="badge bg-primary" { (intake.rows.len()) @if intake.next.is_some() { "+" } } }
                    @if intake.next.is_some() {
                        p class="small" {
                            "Sono mostrate le prime " (INTAKE_SHOWN) ", dalla più vecchia: "
                            a href=(format!("{base}?stato=presentata&ordine=meno_recenti")) { "tutte le istanze da registrare" } "."
                        }
                    }
                    (case::case_table(&base, &intake.rows, "Istanze presentate, in attesa di registrazione nel protocollo", "Nessuna istanza in attesa di registrazione.", fresh))
                } @else {
                    p class="small" { "Le istanze da registrare sono nell'elenco qui sotto, secondo i filtri scelti." }
                }
            }
            (list::section("in-corso", &base, "Pratiche", "Pratiche secondo i filtri scelti (le urgenti per prime)", "Nessuna pratica corrisponde ai filtri.", &listed, q, fresh))
        }
    })
}

/// The intake board: acquisition by code, paper intake, the filters and the live sections.
pub async fn board(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    q: &BoardQuery,
    code_error: Option<&str>,
    code: &str,
) -> Result<Markup, AppError> {
    let grant = case::view_grant(tenant, who)?;
    let viewer = case::viewer(&grant, who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let sections = board_sections(&mut tx, tenant, &viewer, q, None).await?;
    let councillors = cases::councillors(&mut tx).await?;
    tx.commit().await?;
    let errors = q.parse(Role::Segreteria).errors;
    let base = format!("/{}/segreteria", tenant.slug);
    Ok(layout::page(
        &PageMeta::area(TITLE, tenant, who),
        html! {
            h1 { (TITLE) }
            (case::search::search_box(tenant, who, ""))
            div class="row" {
                div class="col-lg-6" {
                    form method="post" action=(format!("{base}/acquisisci")) class="card card-bg mb-4" novalidate {
                        div class="card-body" {
                            h2 class="h5 card-title mb-4" { "Acquisisci o apri un'istanza" }
                            (csrf_field(&who.csrf))
                            @if let Some(e) = code_error {
                                div class="alert alert-danger" role="alert" id="errore-codice" { (e) }
                            }
                            (Input::text("codice", "Codice dell'istanza", code).autocomplete("off")
                                .hint("Digitare o incollare il codice, per esempio 7K3M-Q9TD").render(&[]))
                            button type="submit" class="btn btn-primary" { "Acquisisci" }
                        }
                    }
                }
                div class="col-lg-6" {
                    form method="post" action=(format!("{base}/sportello")) class="card card-bg mb-4" {
                        div class="card-body" {
                            h2 class="h5 card-title" { "Istanza ricevuta su carta" }
                            p class="small" { "Inserire con lo stesso modulo on-line un'istanza consegnata allo sportello, per posta o per PEC: il canale resta registrato." }
                            (csrf_field(&who.csrf))
                            fieldset {
                                legend class="h6" { "Ricevuta" }
                                @for (value, label) in [("sportello", "allo sportello"), ("posta", "per posta"), ("pec", "per PEC")] {
                                    div class="form-check form-check-inline" {
                                        input class="form-check-input" type="radio" name="canale" id=(format!("canale-{value}")) value=(value) checked[value == "sportello"];
                                        label class="form-check-label" for=(format!("canale-{value}")) { (label) }
                                    }
                                }
                            }
                            button type="submit" class="btn btn-outline-primary mt-2" { "Inserisci l'istanza" }
                        }
                    }
                }
            }
            p class="small" {
                a href=(format!("{base}/protocollo")) { "Registro di protocollo" }
                " · " a href=(format!("{base}/adunanze")) { "Adunanze" }
                " · " a href=(format!("{base}/ricevute-pec")) { "Trasmissioni PEC e ricevute" }
                " · " a href=(format!("{base}/agenzia-entrate")) { "Distinte per l'Agenzia delle Entrate" }
            }
            h2 class="h4" { "Filtri" }
            (list::filter_form(&base, Role::Segreteria, q, &errors, Some(&councillors)))
            (live::container(&format!("/ws?vista=segreteria&{}", q.query_string(true)), sections))
        },
    ))
}

pub async fn case_page(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    let notice = case::take_outcome(&who, id)
        .await
        .as_deref()
        .and_then(outcome_message)
        .map(case::success);
    show(
        &state,
        &tenant,
        &who,
        id,
        notice,
        StatusCode::OK,
        intake::Typed::default(),
    )
    .await
}

/// The case page with the secretariat's actions; `typed` refills a refused form.
/// The case page again, with the form as typed and the error next to its field (422).
pub(crate) async fn refuse(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    id: uuid::Uuid,
    typed: intake::Typed,
) -> Result<Response, AppError> {
    show(
        state,
        tenant,
        who,
        id,
        None,
        StatusCode::UNPROCESSABLE_ENTITY,
        typed,
    )
    .await
}

pub(crate) async fn show(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    id: uuid::Uuid,
    notice: Option<Markup>,
    status: StatusCode,
    typed: intake::Typed,
) -> Result<Response, AppError> {
    let grant = case::view_grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let found = cases::get(&mut tx, &case::viewer(&grant, who), id)
        .await?
        .ok_or(AppError::NotFound)?;
    let file = CaseFile::load(&mut tx, who, found).await?;
    let mail = crate::store::outbox::for_application(&mut tx, id).await?;
    let councillors = cases::councillors(&mut tx).await?;
    let sessions: Vec<_> = council_store::list(&mut tx)
        .await?
        .into_iter()
        .filter(|s| s.is_open())
        .collect();
    let offices = if case::transmission::judge_waiting(&file) {
        crate::store::offices::list_active(&mut tx).await?
    } else {
        Vec::new()
    };
    tx.commit().await?;
    let actions = html! {
        (transmission::judge_card(tenant, who, &file, &offices))
        (intake::actions(tenant, who, &file, &councillors, &sessions, &typed))
        (communications(&mail))
        @if file.case.stage() != Stage::Bozza { (dossier::card(tenant, id)) }
    };
    Ok((
        status,
        case::page(tenant, who, TITLE, &file, notice, actions),
    )
        .into_response())
}

/// The e-mails about the application: to whom, what, and whether they left (and when).
fn communications(mail: &[crate::store::outbox::Sent]) -> Markup {
    html! {
        section class="card card-bg mb-4" aria-labelledby="sez-comunicazioni" {
            div class="card-body" {
                h2 class="h5 card-title" id="sez-comunicazioni" { "Comunicazioni per e-mail" }
                @if mail.is_empty() {
                    p class="mb-0" { "Nessuna comunicazione." }
                } @else {
                    ul class="list-unstyled mb-0 small" {
                        @for m in mail {
                            li class="mb-1" {
                                (crate::mail::messages::template_label(&m.template)) " (" (m.recipient) "): "
                                @match (m.status.as_str(), m.sent_at) {
                                    ("inviato", Some(at)) => { "inviata il " (crate::domain::time::format_date_time(at)) },
                                    ("non_recapitabile", _) => strong { "non recapitata" },
                                    _ => { "in attesa di invio (dal " (crate::domain::time::format_date_time(m.created_at)) ")" },
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn outcome_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "protocollata" => "Istanza registrata nel protocollo.",
        "assegnata" => {
            "Pratica assegnata al consigliere relatore, che ne riceverà avviso per e-mail."
        }
        "riassegnata" => "Pratica riassegnata.",
        "urgenza" => "Urgenza aggiornata.",
        "annullata" => "Registrazione annullata: l'istanza torna tra quelle da registrare.",
        "iscritta" => "Pratica iscritta all'ordine del giorno dell'adunanza.",
        "rinunciata" => "Rinuncia registrata nel protocollo.",
        "revocata" => "Revoca dell'ammissione registrata.",
        "riproposta" => "Riproposizione al giudice registrata.",
        "rimessa" => "La pratica è tornata in istruttoria; il relatore ne riceve avviso.",
        "trasmessa" => {
            "Delibera registrata nel protocollo in uscita e inviata per PEC all'ufficio giudiziario."
        }
        "consegnata" => "Registrata la consegna della copia al richiedente per il deposito.",
        _ => return None,
    })
}

pub async fn attachment(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::files::serve(&state, &tenant, &who, &params, false).await
}

pub async fn attachment_content(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::files::serve(&state, &tenant, &who, &params, true).await
}

pub async fn attachment_report(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::files::report(&state, &tenant, &who, &params).await
}

pub async fn delibera(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::decision::download(&state, &tenant, &who, &params, false).await
}

pub async fn delibera_firmata(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
) -> Result<Response, AppError> {
    case::decision::download(&state, &tenant, &who, &params, true).await
}
