//! The copy of an admission for the judge, when it waits: the secretariat chooses the
//! judicial office (its PEC comes from the settings) and sends it, or records that the
//! applicant took the copy to file it with the court.

use axum::{
    Form as HtmlForm,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::{intake, show};
use crate::{
    domain::{
        application::workflow::EventKind,
        transmission::{JudgeAction, Recipient, judge_action},
    },
    store::{
        cases::{self, Change, Notify},
        decisions, offices,
        offices::Office,
        transmissions,
    },
    web::{
        AppState,
        auth::{InArea, Segreteria},
        case::{
            self, CaseFile,
            transmission::{Party, Signed, send},
        },
        error::AppError,
        layout::csrf_field,
        tenant::{CurrentTenant, PathParams},
    },
};

/// The card on the case page while the copy for the judge waits.
pub fn judge_card(
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    file: &CaseFile,
    offices: &[Office],
) -> Markup {
    if !case::transmission::judge_waiting(file) {
        return html! {};
    }
    let c = &file.case;
    let url = format!("{}/trasmissione-ufficio", case::case_url(tenant, who, c.id));
    html! {
        section class="card card-bg mb-4 border-warning" id="trasmissione-ufficio" aria-labelledby="sez-trasmissione-ufficio" {
            div class="card-body" {
                h2 class="h5 card-title" id="sez-trasmissione-ufficio" { "Da trasmettere all'ufficio giudiziario" }
                p class="small" { "La delibera di ammissione va trasmessa al magistrato competente (art. 126, comma 2, D.P.R. 115/2002). Scegliere l'ufficio giudiziario: la delibera firmata parte per PEC all'indirizzo indicato nelle impostazioni." }
                form method="post" action=(url) {
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    // After the select: the styles give a select room for its label when at
                    // most two hidden fields precede it.
                    div class="select-wrapper mb-3" {
                        label for="ufficio-trasmissione" { "Ufficio giudiziario" }
                        select id="ufficio-trasmissione" name="ufficio" {
                            option value="" { "Scegliere l'ufficio" }
                            @for o in offices {
                                option value=(o.id) selected[c.judicial_office_id == Some(o.id)] {
                                    (o.name) @if o.pec.is_none() { " (manca la PEC)" }
                                }
                            }
                        }
                    }
                    input type="hidden" name="azione" value="invia";
                    button type="submit" class="btn btn-primary btn-sm" { "Trasmetti per PEC" }
                }
                form method="post" action=(url) class="mt-3" {
                    (csrf_field(&who.csrf))
                    input type="hidden" name="versione" value=(c.version);
                    input type="hidden" name="azione" value="consegnata";
                    p class="small mb-1" { "Se il giudizio non è ancora iscritto a ruolo, il richiedente deposita la copia della delibera:" }
                    button type="submit" class="btn btn-outline-primary btn-sm" { "Consegnata al richiedente per il deposito" }
                }
            }
        }
    }
}

#[derive(Deserialize, Default)]
pub struct JudgeForm {
    #[serde(default)]
    versione: i32,
    #[serde(default)]
    azione: String,
    #[serde(default)]
    ufficio: String,
}

/// Sends the waiting copy to the office chosen, or records it handed to the applicant.
#[tracing::instrument(name = "trasmetti all'ufficio giudiziario", skip_all, fields(tenant = %tenant.id.0, application.id = tracing::field::Empty))]
pub async fn to_judge(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Segreteria>,
    params: PathParams,
    HtmlForm(f): HtmlForm<JudgeForm>,
) -> Result<Response, AppError> {
    let id = params.id("id")?;
    tracing::Span::current().record("application.id", tracing::field::display(id));
    let action = match f.azione.as_str() {
        "invia" => JudgeAction::Send,
        "consegnata" => JudgeAction::HandOver,
        _ => return Err(AppError::NotFound),
    };
    let grant = case::view_grant(&tenant, &who)?;
    let viewer = case::viewer(&grant, &who);
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let c =
        match case::lock_for_change(&mut tx, &tenant, &who, &viewer, id, f.versione, &[]).await? {
            Ok(c) => c,
            Err(page) => return Ok(page),
        };
    let waiting = transmissions::lock_for_judge(&mut tx, id)
        .await?
        .ok_or(AppError::NotFound)?;
    if let Err(why) = judge_action(waiting.state(), action) {
        return Ok(case::refused_page(&tenant, &who, id, why));
    }
    let actor = case::actor(&who);
    if action == JudgeAction::HandOver {
        transmissions::mark_handed_over(&mut tx, waiting.id).await?;
        let change = Change {
            case: &c,
            seen_version: f.versione,
            to: c.stage(),
            kind: EventKind::HandedOver,
            actor: &actor,
            details: json!({ "nota": "La copia della delibera per il magistrato è consegnata al richiedente, che la deposita" }),
            notify: Notify::Nobody,
        };
        if let Err(stale) = cases::advance(&mut tx, change).await? {
            return Ok(case::stale_page(&tenant, &who, id, &stale, &[]));
        }
        tx.commit().await?;
        return Ok(case::done(&tenant, &who, id, "consegnata").await);
    }
    let office = match Uuid::parse_str(f.ufficio.trim()) {
        Ok(o) => offices::get_active(&mut tx, o).await?,
        Err(_) => None,
    };
    let office = match office {
        None => Err("Scegliere l'ufficio giudiziario a cui trasmettere la delibera."),
        Some(o) if o.pec.is_none() => Err(
            "L'ufficio scelto non ha un indirizzo PEC: l'amministratore lo indica in Impostazioni, Uffici giudiziari.",
        ),
        Some(o) => Ok(o),
    };
    let office = match office {
        Ok(o) => o,
        Err(message) => {
            drop(tx);
            return refuse(&state, &tenant, &who, id, message).await;
        }
    };
    let pec = office.pec.clone().unwrap_or_default();
    let d = decisions::current(&mut tx, id)
        .await?
        .filter(|d| d.id == waiting.decision_id)
        .ok_or(AppError::NotFound)?;
    let file = Signed::of(&state.storage, &d)
        .await?
        .ok_or(AppError::NotFound)?;
    cases::set_office(&mut tx, id, office.id).await?;
    let party = Party {
        recipient: Recipient::Judge,
        name: office.name.clone(),
        address: pec.clone(),
        via_pec: true,
    };
    let note = (c.judicial_office_id != Some(office.id)).then(|| {
        format!(
            "Ufficio giudiziario indicato dalla segreteria: {}",
            office.name
        )
    });
    let sent = send(
        &mut tx,
        &viewer,
        &actor,
        id,
        &d,
        &file,
        std::slice::from_ref(&party),
        note,
    )
    .await?;
    let sha = file_sha(&file);
    if !transmissions::mark_sent_to_office(
        &mut tx,
        waiting.id,
        (office.id, office.name.as_str(), pec.as_str()),
        (sent.entry, sent.messages[0], sha.as_str()),
    )
    .await?
    {
        return Err(anyhow::anyhow!("a locked transmission changed under its lock").into());
    }
    tx.commit().await?;
    Ok(case::done(&tenant, &who, id, "trasmessa").await)
}

fn file_sha(file: &Signed) -> String {
    file.sha256().to_owned()
}

/// The case page again with the reason (422); the choice is a select, nothing typed is lost.
async fn refuse(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Segreteria>,
    id: Uuid,
    message: &str,
) -> Result<Response, AppError> {
    let res = show(
        state,
        tenant,
        who,
        id,
        Some(case::invalid(message)),
        StatusCode::UNPROCESSABLE_ENTITY,
        intake::Typed::default(),
    )
    .await?;
    Ok(res.into_response())
}
