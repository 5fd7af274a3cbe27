//! The public area: the online application (istanza on-line), open to everyone, no account.
//!
//! A draft is created with a code and a PIN; the device that created it keeps access through
//! a cookie, any other device needs code and PIN. Each step saves what was typed, valid or not.

mod access;
pub mod attachments;
mod integration;
pub mod spid;
pub(crate) mod submit;
pub mod views;

use axum::{
    Form as HtmlForm,
    body::Body,
    extract::{Query, State},
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;
use uuid::Uuid;

pub use access::device_token;
pub use attachments::{
    delete as delete_attachment, download as download_attachment, file_response, upload,
};
pub use integration::{form as integration_form, submit as integration_submit};
pub use submit::{
    Status, application_pdf, receipt, receipt_pdf, signed_delibera, status, status_form,
    status_panel, submit,
};

use super::{
    AppState,
    auth::MaybeUser,
    components,
    error::AppError,
    layout::{self, PageMeta},
    tenant::{CurrentTenant, PathParams},
};
use crate::{
    crypto,
    db::TenantTx,
    domain::{
        access::Role,
        application::{
            Step,
            check::{
                self, AttachmentFacts, Context, IdentificationFacts, Issue, LawyerFacts,
                income_summary,
            },
            form::{APPLICANT_KEY, Fields, Form, Member, PersonIncome},
        },
        time,
    },
    store::{
        applications::{self, ApplicationRow},
        attachments::{self as attachment_store, Attachment},
        identifications::{self, Identification},
        lawyers::{self, Lawyer},
        offices::{self, Office},
        outbox,
        tenants::Tenant,
    },
};

/// What the applicant needs to know before starting, and the two ways in.
pub async fn entry(tenant: CurrentTenant) -> Markup {
    entry_page(&tenant, &views::EntryForms::default())
}

fn entry_page(tenant: &Tenant, forms: &views::EntryForms) -> Markup {
    let base = format!("/{}", tenant.slug);
    layout::page(
        &PageMeta::tenant("Istanza di ammissione", tenant),
        html! {
            (layout::breadcrumb(&[("Home", Some(&base)), ("Istanza di ammissione", None)]))
            h1 { "Istanza di ammissione al patrocinio a spese dello Stato" }
            p class="lead" {
                "L'istanza può essere presentata dal richiedente oppure dall'avvocato che lo assiste, "
                "senza registrarsi. Il Consiglio dell'Ordine decide entro dieci giorni dal deposito (art. 126 D.P.R. 115/2002)."
            }
            (views::entry_actions(tenant, forms))
            h2 class="h4 mt-4" { "Per quali giudizi" }
            p {
                "Il Consiglio dell'Ordine decide sulle istanze per i giudizi civili (compresi famiglia, lavoro, "
                "volontaria giurisdizione ed esecuzione), per i giudizi davanti alla Corte dei conti e per la mediazione "
                "e la negoziazione assistita, quando il giudice competente ha sede nel suo circondario (art. 124)."
            }
            div class="alert alert-warning" role="note" {
                p class="mb-1" { strong { "Non si presentano a questo Consiglio:" } }
                ul class="mb-0" {
                    li { "le istanze per i procedimenti penali, che vanno all'ufficio del magistrato davanti al quale pende il processo (art. 93);" }
                    li { "le istanze per i giudizi davanti al TAR o al Consiglio di Stato, che vanno alla Commissione istituita presso il giudice amministrativo;" }
                    li { "le istanze per i giudizi tributari, che vanno alla Commissione presso la Corte di giustizia tributaria (artt. 138-139)." }
                }
            }
            h2 class="h4 mt-4" { "Cosa preparare" }
            ul {
                li { "il documento d'identità del richiedente e, per i cittadini stranieri, il titolo di soggiorno;" }
                li { "il codice fiscale del richiedente e di ciascun familiare convivente;" }
                li { "i redditi dell'anno precedente di tutti i familiari conviventi, compresi quelli esenti o soggetti a ritenuta o imposta sostitutiva (non il modello ISEE);" }
                li { "i fatti e le ragioni di diritto della causa, con l'elenco delle prove (art. 122), e i documenti che li sostengono;" }
                li { "il nome dell'avvocato scelto tra gli iscritti nell'elenco per il patrocinio a spese dello Stato." }
            }
        },
    )
}

fn with_cookie(mut res: Response, cookie: Option<axum::http::HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// Creates a draft with a fresh code and PIN and shows them once; with an e-mail address
/// (optional) they also go there. A lawyer logged in to this Ordine is recorded as the filer,
/// so that the application appears in their area.
pub async fn create(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    MaybeUser(user): MaybeUser,
    headers: HeaderMap,
    body: String,
) -> Result<Response, AppError> {
    // The form has one optional field: read it whatever the body (a bare POST starts too).
    let email = url::form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "email")
        .map(|(_, v)| v.trim().to_lowercase())
        .unwrap_or_default();
    if !email.is_empty() && !check::is_email(&email) {
        let forms = views::EntryForms {
            email: &email,
            start_error: Some(check::EMAIL_INVALID),
            ..Default::default()
        };
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            entry_page(&tenant, &forms),
        )
            .into_response());
    }
    let filer = user.filter(|u| u.tenant == tenant.id && u.has(Role::Avvocato));
    let email = (!email.is_empty()).then_some(email.as_str());
    let lawyer = filer
        .as_ref()
        .and_then(|u| u.lawyer_id)
        .map(|l| l.to_string());
    let form = Form::started(email, lawyer.as_deref());
    start_draft(
        &state,
        &tenant,
        &headers,
        "portale",
        filer.map(|u| u.id),
        email,
        &form,
    )
    .await
}

/// A new draft through `channel` (`portale`, or `sportello`, `posta`, `pec` when the
/// secretariat keys in a paper application), granted to this device.
pub async fn start_draft(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    channel: &str,
    filed_by_user: Option<Uuid>,
    email: Option<&str>,
    form: &Form,
) -> Result<Response, AppError> {
    let pin = crypto::random_pin();
    let pin_hash = crypto::hash_secret(pin.as_str()).await?;
    let id = Uuid::new_v4();
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let mut code = crypto::random_code();
    // 40 random bits per code: a collision is rare, a second draw ends it.
    for _ in 0..5 {
        if applications::create_draft(&mut tx, id, &code, &pin_hash, channel, filed_by_user, form)
            .await?
        {
            break;
        }
        code = crypto::random_code();
    }
    let (device, cookie) = access::ensure_device_token(state, headers);
    applications::grant_device(&mut tx, &device, id).await?;
    if let Some(email) = email {
        outbox::draft_pin(&mut tx, id, email, code.as_str(), &pin.display()).await?;
    }
    tx.commit().await?;
    tracing::info!(application.id = %id, channel, "draft created");
    Ok(with_cookie(
        views::created_page(tenant, id, code.as_str(), &pin.display(), email).into_response(),
        cookie,
    ))
}

#[derive(Deserialize)]
pub struct CodePin {
    #[serde(default)]
    codice: String,
    #[serde(default)]
    pin: String,
}

pub const REFUSED: &str = "Codice o PIN non corretti. Verificarli e riprovare.";
pub const LOCKED: &str =
    "Troppi tentativi con un PIN errato: per sicurezza l'istanza è bloccata per 15 minuti.";

/// Code and PIN typed on another device: grants this device access and goes back to work.
pub async fn resume(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    headers: HeaderMap,
    HtmlForm(input): HtmlForm<CodePin>,
) -> Result<Response, AppError> {
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let row = match access::unlock(&mut tx, &input.codice, &input.pin).await? {
        access::Unlock::Granted(row) => row,
        outcome => {
            tx.commit().await?;
            let message = if matches!(outcome, access::Unlock::Locked) {
                LOCKED
            } else {
                REFUSED
            };
            let forms = views::EntryForms {
                code: &input.codice,
                resume_error: Some(message),
                ..Default::default()
            };
            let mut res = entry_page(&tenant, &forms).into_response();
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            return Ok(res);
        }
    };
    let (device, cookie) = access::ensure_device_token(&state, &headers);
    applications::grant_device(&mut tx, &device, row.id).await?;
    tx.commit().await?;
    let target = if row.state() == crate::domain::application::Stage::Bozza {
        views::step_url(&tenant, row.id, first_open_step(&row.form))
    } else {
        format!("{}/{}/ricevuta", views::base(&tenant), row.id)
    };
    Ok(with_cookie(Redirect::to(&target).into_response(), cookie))
}

fn first_open_step(form: &Form) -> Step {
    Step::ALL
        .into_iter()
        .find(|s| !form.visited(*s))
        .unwrap_or(Step::Review)
}

/// A device without access to the draft: ask for code and PIN (the same answer whether or not
/// the application exists).
fn no_access(tenant: &Tenant) -> Response {
    let mut res = layout::page(
        &PageMeta::tenant("Accesso all'istanza", tenant),
        html! {
            h1 { "Accesso all'istanza" }
            p { "Per proseguire su questo dispositivo inserire il codice dell'istanza e il PIN ricevuti alla creazione." }
            (views::code_pin_form(&format!("{}/riprendi", views::base(tenant)), "Prosegui", None, ""))
        },
    )
    .into_response();
    *res.status_mut() = StatusCode::FORBIDDEN;
    res
}

pub enum Access {
    Granted(Box<ApplicationRow>, TenantTx),
    Denied(Response),
}

/// Opens application `id` for the requesting device, inside a tenant transaction. An id that
/// is not one of this Ordine's applications is a 404 (like any foreign id); an existing one
/// this device may not open asks for code and PIN.
pub async fn open(
    state: &AppState,
    tenant: &Tenant,
    headers: &HeaderMap,
    id: Uuid,
    for_update: bool,
) -> Result<Access, AppError> {
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let row = if for_update {
        applications::get_for_update(&mut tx, id).await?
    } else {
        applications::get(&mut tx, id).await?
    };
    let Some(row) = row else {
        return Err(AppError::NotFound);
    };
    if !access::device_may_open(state, headers, &mut tx, id).await? {
        return Ok(Access::Denied(no_access(tenant)));
    }
    Ok(Access::Granted(Box::new(row), tx))
}

/// An application opened for the requesting device, inside its tenant transaction: the
/// extractor of every page of a draft. `LOCK` takes the row lock (for changes). A device
/// without access gets the code-and-PIN page instead of the handler.
pub struct Opened<const LOCK: bool> {
    pub tenant: CurrentTenant,
    pub id: Uuid,
    pub row: Box<ApplicationRow>,
    pub tx: TenantTx,
}

pub type Viewed = Opened<false>;
pub type Locked = Opened<true>;

impl<const LOCK: bool> axum::extract::FromRequestParts<AppState> for Opened<LOCK> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let tenant = CurrentTenant::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let params = PathParams::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let id = params.id("id").map_err(IntoResponse::into_response)?;
        match open(state, &tenant, &parts.headers, id, LOCK)
            .await
            .map_err(IntoResponse::into_response)?
        {
            Access::Granted(row, tx) => Ok(Self {
                tenant,
                id,
                row,
                tx,
            }),
            Access::Denied(res) => Err(res),
        }
    }
}

/// Everything the rules and the pages need besides the form.
pub struct Facts {
    pub offices: Vec<Office>,
    pub lawyer: Option<Lawyer>,
    pub attachments: Vec<Attachment>,
    pub duplicates: Vec<String>,
    /// The applicant's identification with SPID or CIE that signed the application.
    pub identification: Option<Identification>,
}

impl Facts {
    pub async fn load(tx: &mut TenantTx, row_id: Uuid, form: &Form) -> Result<Self, AppError> {
        let lawyer = match Uuid::parse_str(&form.lawyer.lawyer_id) {
            Ok(id) => lawyers::get(tx, id).await?,
            Err(_) => None,
        };
        Ok(Self {
            offices: offices::list_active(tx).await?,
            lawyer,
            attachments: attachment_store::list(tx, row_id).await?,
            duplicates: applications::duplicates(tx, row_id, form).await?,
            identification: identifications::get(tx, row_id).await?,
        })
    }

    pub fn check(&self, tenant: &Tenant, form: &Form) -> Vec<Issue> {
        let offices: Vec<(String, String)> = self
            .offices
            .iter()
            .map(|o| (o.id.to_string(), o.name.clone()))
            .collect();
        let lawyer = self.lawyer.as_ref().map(|l| LawyerFacts {
            id: l.id.to_string(),
            name: l.full_name(),
            codice_fiscale: l.codice_fiscale.clone(),
            active: l.is_active(),
            lists: l.lists(),
            pec: l.pec.clone(),
        });
        let attachments: Vec<AttachmentFacts> = self
            .attachments
            .iter()
            .filter_map(|a| {
                Some(AttachmentFacts {
                    kind: crate::domain::application::attachment::AttachmentKind::from_code(
                        &a.kind,
                    )?,
                    filename: a.filename.clone(),
                    signers: a
                        .signature
                        .as_ref()
                        .map(|s| s.signer_codes())
                        .unwrap_or_default(),
                    not_qualified: a
                        .signature
                        .as_ref()
                        .map(|s| s.not_qualified())
                        .unwrap_or_default(),
                    bound_form: a.form_sha256.clone(),
                })
            })
            .collect();
        let identification = self.identification.as_ref().map(|i| IdentificationFacts {
            codice_fiscale: i.codice_fiscale.clone(),
            form_sha256: i.form_sha256.clone(),
        });
        check::check(
            form,
            &Context {
                today: time::rome_date(Utc::now()),
                ordine: tenant_place(tenant),
                offices: &offices,
                lawyer: lawyer.as_ref(),
                attachments: &attachments,
                duplicates: &self.duplicates,
                identification: identification.as_ref(),
            },
        )
    }
}

/// "Vallenera" out of "Consiglio dell'Ordine degli Avvocati di Vallenera": V4 names the place.
fn tenant_place(tenant: &Tenant) -> &str {
    tenant
        .name
        .rsplit_once(" di ")
        .map_or(tenant.name.as_str(), |(_, place)| place)
}

#[derive(Deserialize, Default)]
pub struct StepQuery {
    #[serde(default)]
    cerca: String,
    #[serde(default)]
    torna: String,
}

/// What to render besides the draft itself.
pub struct RenderStep<'a> {
    pub step: Step,
    pub lawyer_query: &'a str,
    /// Messages that are not rules of the form (a refused submission).
    pub extra_issues: Vec<Issue>,
    /// What became of the file just uploaded (attachments step).
    pub upload: Option<views::UploadOutcome>,
    pub back_to_review: bool,
}

impl Default for RenderStep<'_> {
    fn default() -> Self {
        Self {
            step: Step::Filing,
            lawyer_query: "",
            extra_issues: Vec::new(),
            upload: None,
            back_to_review: false,
        }
    }
}

/// Renders a step of a draft with its messages.
pub async fn render_step(
    state: &AppState,
    tenant: &Tenant,
    tx: &mut TenantTx,
    row: &ApplicationRow,
    form: &Form,
    r: RenderStep<'_>,
) -> Result<Markup, AppError> {
    let step = r.step;
    let facts = Facts::load(tx, row.id, form).await?;
    let all_issues = facts.check(tenant, form);
    let mut shown: Vec<Issue> = r.extra_issues;
    shown.extend(
        all_issues
            .iter()
            .filter(|i| i.step == step && (form.visited(step) || step == Step::Review))
            .cloned(),
    );
    let lawyers = match (step, form.matter()) {
        (Step::Lawyer, Some(m)) => lawyers::search_listed(tx, m.list(), r.lawyer_query, 25).await?,
        _ => Vec::new(),
    };
    let submit_token = if step == Step::Review && !all_issues.iter().any(Issue::blocks) {
        Some(applications::issue_form_token(tx, row.id).await?)
    } else {
        None
    };
    let income = income_summary(form, time::rome_date(Utc::now()));
    let view = views::StepView {
        tenant,
        id: row.id,
        code: &row.code,
        step,
        form,
        issues: &shown,
        offices: &facts.offices,
        lawyers: &lawyers,
        chosen_lawyer: facts.lawyer.as_ref(),
        lawyer_query: r.lawyer_query,
        attachments: &facts.attachments,
        income: &income,
        max_file_mb: state.settings.limits.max_file_bytes / (1024 * 1024),
        max_application_mb: state.settings.limits.max_application_bytes / (1024 * 1024),
        submit_token,
        all_issues: &all_issues,
        upload: r.upload.as_ref(),
        back_to_review: r.back_to_review,
        identification: facts.identification.as_ref(),
    };
    Ok(views::step_page(&view))
}

/// Shows a step again, answering 422, with messages that are not rules of the form (a refused
/// submission: `extra_issues`) or the outcome of a refused upload (in the upload card, the
/// kind that was chosen still selected); the transaction is committed (what was saved stays
/// saved).
pub async fn refuse(
    state: &AppState,
    mut tx: TenantTx,
    (tenant, row, form): (&Tenant, &ApplicationRow, &Form),
    r: RenderStep<'_>,
) -> Result<Response, AppError> {
    let page = render_step(state, tenant, &mut tx, row, form, r).await?;
    tx.commit().await?;
    Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
}

fn parse_step(slug: &str) -> Result<Step, AppError> {
    Step::from_slug(slug).ok_or(AppError::NotFound)
}

pub async fn show_step(
    State(state): State<AppState>,
    params: PathParams,
    Viewed {
        tenant,
        id,
        row,
        mut tx,
    }: Viewed,
    Query(query): Query<StepQuery>,
) -> Result<Response, AppError> {
    let step = parse_step(params.get("step"))?;
    if row.state() != crate::domain::application::Stage::Bozza {
        return Ok(
            Redirect::to(&format!("{}/{id}/ricevuta", views::base(&tenant))).into_response(),
        );
    }
    let form = row.form.0.clone();
    let page = render_step(
        &state,
        &tenant,
        &mut tx,
        &row,
        &form,
        RenderStep {
            step,
            lawyer_query: &query.cerca,
            back_to_review: query.torna == "riepilogo",
            ..RenderStep::default()
        },
    )
    .await?;
    tx.commit().await?;
    Ok(page.into_response())
}

/// Applies the household step's buttons: add a member, remove one (and their income row).
fn household_action(form: &mut Form, action: &str) -> bool {
    if action == "aggiungi" {
        form.household.lives_alone = false;
        form.household.members.push(Member {
            id: crypto::random_hex::<8>(),
            ..Member::default()
        });
        true
    } else if let Some(id) = action.strip_prefix("rimuovi:") {
        form.household.members.retain(|m| m.id != id);
        form.income.persons.retain(|p| p.person != id);
        true
    } else {
        false
    }
}

/// Keeps income rows of people who are no longer listed from being shown, but never deletes
/// what was typed for people still in the form.
fn align_incomes(form: &mut Form) {
    for (key, _) in form.income_people() {
        if form.income_of(&key).is_none() {
            form.income.persons.push(PersonIncome {
                person: key,
                ..PersonIncome::default()
            });
        }
    }
    let _ = APPLICANT_KEY;
}

pub async fn save_step(
    State(state): State<AppState>,
    params: PathParams,
    Locked {
        tenant,
        id,
        row,
        mut tx,
    }: Locked,
    Query(query): Query<StepQuery>,
    HtmlForm(pairs): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let step = parse_step(params.get("step"))?;
    if step == Step::Review {
        return Ok(Redirect::to(&views::step_url(&tenant, id, Step::Review)).into_response());
    }
    if row.state() != crate::domain::application::Stage::Bozza {
        return Ok(
            Redirect::to(&format!("{}/{id}/ricevuta", views::base(&tenant))).into_response(),
        );
    }
    let fields = Fields(pairs);
    let mut form = row.form.0.clone();
    form.update(step, &fields);
    let action = fields.get("action");
    let acted = step == Step::Household && household_action(&mut form, &action);
    if !acted {
        form.mark_visited(step);
    }
    align_incomes(&mut form);
    // A text over its limit is never stored: the page shows what was typed with its message.
    let fits = form.within_limits();
    if fits {
        applications::save_form(&mut tx, id, &form, time::rome_date(Utc::now())).await?;
    }

    let facts = Facts::load(&mut tx, id, &form).await?;
    let blocking = facts
        .check(&tenant, &form)
        .into_iter()
        .any(|i| i.step == step && i.blocks());
    if acted || blocking || !fits {
        let page = render_step(
            &state,
            &tenant,
            &mut tx,
            &row,
            &form,
            RenderStep {
                step,
                back_to_review: query.torna == "riepilogo",
                ..RenderStep::default()
            },
        )
        .await?;
        tx.commit().await?;
        let status = if (blocking && !acted) || !fits {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        return Ok((status, page).into_response());
    }
    tx.commit().await?;
    let next = if query.torna == "riepilogo" {
        Step::Review
    } else {
        step.next().unwrap_or(Step::Review)
    };
    Ok(Redirect::to(&views::step_url(&tenant, id, next)).into_response())
}

/// htmx: the field the user just left, re-rendered with its message (out of band), after saving
/// the step as it stands. Without JavaScript this endpoint is never called.
pub async fn verify_step(
    params: PathParams,
    headers: HeaderMap,
    opened: Locked,
    HtmlForm(pairs): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let step = parse_step(params.get("step"))?;
    verify(step, &headers, opened, pairs).await
}

/// [`verify_step`] for the attachments step, on a route of its own: `…/allegati/verifica` would
/// otherwise be taken by `…/allegati/{attachment}` (GET only, so 405).
pub async fn verify_attachments_step(
    headers: HeaderMap,
    opened: Locked,
    HtmlForm(pairs): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    verify(Step::Attachments, &headers, opened, pairs).await
}

async fn verify(
    step: Step,
    headers: &HeaderMap,
    Locked {
        tenant,
        id,
        row,
        mut tx,
    }: Locked,
    pairs: Vec<(String, String)>,
) -> Result<Response, AppError> {
    if row.state() != crate::domain::application::Stage::Bozza || step == Step::Review {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let mut form = row.form.0.clone();
    form.update(step, &Fields(pairs));
    align_incomes(&mut form);
    if form.within_limits() {
        applications::save_form(&mut tx, id, &form, time::rome_date(Utc::now())).await?;
    }
    let facts = Facts::load(&mut tx, id, &form).await?;
    tx.commit().await?;
    let issues: Vec<Issue> = facts
        .check(&tenant, &form)
        .into_iter()
        .filter(|i| i.step == step)
        .collect();
    // app.js names the message area of the field that changed (`X-Campo`, read from the page
    // itself): the answer fills that area only. Without one there is nothing to fill; an
    // out-of-band fragment for an area the page lacks would only be an htmx error.
    let field = headers
        .get("x-campo")
        .and_then(|v| v.to_str().ok())
        .filter(|f| {
            !f.is_empty()
                && f.len() <= 100
                && f.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        });
    let Some(field) = field else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let fragment = components::feedback_oob(field, &components::messages_for(&issues, field));
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .body(Body::from(fragment.into_string()))
        .map_err(anyhow::Error::from)?)
}
