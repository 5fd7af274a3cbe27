//! The Ordine's settings for the Agenzia delle Entrate's batches (distinte): how often they
//! leave, the PEC address they go to, and the columns of the cover list.

use axum::{
    Form as HtmlForm,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};

use crate::{
    domain::{
        access::{ManageSettings, authorize},
        application::check::is_email,
        tax_batch::{Column, Frequency},
    },
    store::{
        audit::{self, Actor, Entry},
        tax_batches::{self, Settings},
    },
    web::{
        AppState,
        auth::{Amministratore, InArea},
        error::AppError,
        layout::{self, PageMeta, csrf_field},
        tenant::CurrentTenant,
    },
};

const TITLE: &str = "Agenzia delle Entrate";

/// What was typed, kept as typed when it is refused.
#[derive(Default)]
struct Typed {
    frequency: String,
    pec: String,
    columns: Vec<String>,
}

impl From<&Settings> for Typed {
    fn from(s: &Settings) -> Self {
        Self {
            frequency: s.frequency.code().into(),
            pec: s.pec.clone().unwrap_or_default(),
            columns: s.columns.iter().map(|c| c.code().to_owned()).collect(),
        }
    }
}

/// Errors by field: (field, message).
type Errors = Vec<(&'static str, &'static str)>;

fn page(
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    typed: &Typed,
    errors: &Errors,
    notice: Option<&str>,
) -> Markup {
    let error = |f: &str| errors.iter().find(|(n, _)| *n == f).map(|(_, m)| *m);
    let action = format!("/{}/amministrazione/agenzia-entrate", tenant.slug);
    layout::page(
        &PageMeta::area(TITLE, tenant, who),
        html! {
            (layout::breadcrumb(&[("Amministrazione", Some(&format!("/{}/amministrazione", tenant.slug))), (TITLE, None)]))
            h1 { "Invio delle ammissioni all'Agenzia delle Entrate" }
            @if let Some(m) = notice { div class="alert alert-success" role="status" { (m) } }
            @if !errors.is_empty() {
                div class="alert alert-danger" role="alert" {
                    p class="mb-1" { "Le impostazioni non sono state salvate:" }
                    ul class="mb-0" { @for (f, m) in errors { li { a href=(format!("#{f}")) { (m) } } } }
                }
            }
            p { "Copia delle delibere di ammissione va all'ufficio finanziario (art. 127, comma 1, D.P.R. 115/2002). Le ammissioni firmate si raccolgono in una distinta che parte per PEC alla fine di ogni periodo, con l'elenco riepilogativo (PDF/A e CSV) e le delibere firmate; la segreteria può inviarla prima." }
            form method="post" action=(action) novalidate {
                (csrf_field(&who.csrf))
                fieldset class="mb-4" {
                    legend class="h5" { "Frequenza dell'invio" }
                    @for f in Frequency::ALL {
                        div class="form-check" {
                            input class="form-check-input" type="radio" name="frequenza" id=(format!("frequenza-{}", f.code())) value=(f.code()) checked[typed.frequency == f.code()];
                            label class="form-check-label" for=(format!("frequenza-{}", f.code())) { (f.label()) }
                        }
                    }
                    @if let Some(e) = error("frequenza") { p class="campo-errore" id="frequenza" { (e) } }
                }
                div class="form-group" {
                    label class="active" for="pec" { "Indirizzo PEC della Direzione provinciale dell'Agenzia delle Entrate" }
                    input type="email" class="form-control" id="pec" name="pec" value=(typed.pec) maxlength="254" autocomplete="off"
                        aria-describedby=(if error("pec").is_some() { "pec-aiuto pec-errore" } else { "pec-aiuto" }) aria-invalid=[error("pec").map(|_| "true")];
                    small id="pec-aiuto" class="form-text" { "Senza indirizzo nessuna distinta parte: le ammissioni restano in attesa." }
                    @if let Some(e) = error("pec") { p class="campo-errore" id="pec-errore" { (e) } }
                }
                fieldset class="mb-4" id="colonne" {
                    legend class="h5" { "Colonne dell'elenco" }
                    @for c in Column::ALL {
                        div class="form-check" {
                            input class="form-check-input" type="checkbox" name="colonne" id=(format!("colonna-{}", c.code())) value=(c.code()) checked[typed.columns.iter().any(|k| k == c.code())];
                            label class="form-check-label" for=(format!("colonna-{}", c.code())) { (c.label()) }
                        }
                    }
                    @if let Some(e) = error("colonne") { p class="campo-errore" { (e) } }
                }
                button type="submit" class="btn btn-primary" { "Salva" }
            }
        },
    )
}

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
) -> Result<Markup, AppError> {
    authorize::<ManageSettings>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let s = tax_batches::settings(&mut tx).await?;
    tx.commit().await?;
    Ok(page(&tenant, &who, &Typed::from(&s), &Vec::new(), None))
}

/// Saves the settings; what is refused comes back as typed, with its message.
#[tracing::instrument(name = "imposta l'invio all'Agenzia delle Entrate", skip_all, fields(tenant = %tenant.id.0))]
pub async fn save(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    HtmlForm(form): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    authorize::<ManageSettings>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)?;
    // Bounds: one frequency, one address of at most 254 characters, each column at most once
    // (ten columns exist; unknown values are ignored, the form has at most a few dozen fields).
    let mut typed = Typed::default();
    for (k, v) in form.into_iter().take(64) {
        match k.as_str() {
            "frequenza" => typed.frequency = v.chars().take(20).collect(),
            "pec" => typed.pec = v.trim().chars().take(254).collect(),
            "colonne" if Column::from_code(&v).is_some() && !typed.columns.contains(&v) => {
                typed.columns.push(v);
            }
            _ => {}
        }
    }
    let mut errors: Errors = Vec::new();
    let frequency = Frequency::from_code(&typed.frequency);
    if frequency.is_none() {
        errors.push(("frequenza", "Scegliere ogni quanto parte la distinta."));
    }
    if !typed.pec.is_empty() && !is_email(&typed.pec) {
        errors.push((
            "pec",
            "L'indirizzo PEC non è valido: verificarlo (ad esempio: dp.vallenera@pce.agenziaentrate.it).",
        ));
    }
    if typed.columns.is_empty() {
        errors.push(("colonne", "Scegliere almeno una colonna dell'elenco."));
    }
    let Some(frequency) = frequency.filter(|_| errors.is_empty()) else {
        let html = page(&tenant, &who, &typed, &errors, None);
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, html).into_response());
    };
    let settings = Settings {
        frequency,
        pec: (!typed.pec.is_empty()).then(|| typed.pec.clone()),
        columns: Column::chosen(&typed.columns),
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    tax_batches::save_settings(&mut tx, &settings).await?;
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::user(who.user.id, &who.user.name),
            action: "impostazioni_agenzia_entrate",
            target_kind: Some("ordine"),
            target_id: None,
            outcome: "ok",
            details: serde_json::json!({
                "frequenza": frequency.code(),
                "colonne": settings.columns.iter().map(|c| c.code()).collect::<Vec<_>>(),
            }),
        },
    )
    .await?;
    tx.commit().await?;
    let html = page(
        &tenant,
        &who,
        &Typed::from(&settings),
        &Vec::new(),
        Some("Impostazioni salvate."),
    );
    Ok(html.into_response())
}
