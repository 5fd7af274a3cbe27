//! The audit log in words: who did what, when, to which application or person (named by its
//! protocol number or name, never by an internal id), with filters by person, application,
//! operation and dates, and its export (itself recorded in the log).

use axum::{
    extract::{Query, State},
    response::Response,
};
use chrono::{DateTime, TimeZone, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use serde_json::Value;

use crate::{
    domain::{
        access::{Grant, ViewAudit, authorize},
        application::workflow::EventKind,
        search, time,
    },
    store::{
        audit::{self, Actor, Entry, Filter, Row},
        cases::{self, Viewer},
    },
    web::{
        AppState,
        auth::{Amministratore, InArea},
        error::AppError,
        export,
        layout::{self, PageMeta},
        tenant::CurrentTenant,
    },
};

const PAGE: i64 = 100;
/// The most rows one export carries.
const EXPORT_MAX: i64 = 20_000;
const TITLE: &str = "Registro delle operazioni";

#[derive(Deserialize, Default)]
pub struct AuditQuery {
    #[serde(default)]
    azione: String,
    #[serde(default)]
    attore: String,
    /// An application: its protocol number or code.
    #[serde(default)]
    pratica: String,
    #[serde(default)]
    dal: String,
    #[serde(default)]
    al: String,
    #[serde(default)]
    prima: Option<i64>,
}

impl AuditQuery {
    fn query_string(&self, before: Option<i64>) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("azione", &self.azione),
            ("attore", &self.attore),
            ("pratica", &self.pratica),
            ("dal", &self.dal),
            ("al", &self.al),
        ] {
            if !v.trim().is_empty() {
                q.append_pair(k, v.trim());
            }
        }
        if let Some(seq) = before {
            q.append_pair("prima", &seq.to_string());
        }
        q.finish()
    }
}

fn some(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

/// The start of a Rome day, in UTC.
pub(crate) fn day_start(s: &str) -> Option<DateTime<Utc>> {
    let d = crate::domain::application::check::parse_date(s)?;
    time::ZONE
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

fn grant(
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
) -> Result<Grant<ViewAudit>, AppError> {
    authorize::<ViewAudit>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)
}

/// The rows the filters ask for; the application is looked up by protocol number or code.
async fn rows(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    q: &AuditQuery,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<Row>, Vec<String>, Option<&'static str>), AppError> {
    let grant = grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let mut problem = None;
    let application = match some(&q.pratica).map(search::Query::parse) {
        None => None,
        Some(Some(key @ (search::Query::Code(_) | search::Query::Protocol { .. }))) => {
            // The administrator sees every application of the Ordine in the log.
            let all = crate::domain::access::authorize::<crate::domain::access::ViewApplications>(
                tenant.id,
                who.user.id,
                &[crate::domain::access::Role::Segreteria],
                crate::domain::access::Role::Segreteria,
            )
            .ok_or(AppError::Forbidden)?;
            let viewer = Viewer {
                grant: &all,
                lawyer_id: None,
            };
            let found = cases::search(&mut tx, &viewer, &key, 1).await?;
            if found.is_empty() {
                problem = Some("Nessuna istanza ha questo numero di protocollo o codice.");
            }
            Some(found.first().map_or(uuid::Uuid::nil(), |c| c.id))
        }
        Some(_) => {
            problem =
                Some("Indicare la pratica con il numero di protocollo (13/2026) o il codice.");
            Some(uuid::Uuid::nil())
        }
    };
    let until = day_start(&q.al).map(|t| t + chrono::Duration::days(1));
    let rows = audit::browse(
        &mut tx,
        &grant,
        &Filter {
            action: some(&q.azione),
            actor: some(&q.attore),
            application,
            from: day_start(&q.dal),
            until,
            before_seq: before,
            limit,
        },
    )
    .await?;
    let actions = audit::actions(&mut tx, &grant).await?;
    tx.commit().await?;
    Ok((rows, actions, problem))
}

pub async fn browse(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    Query(q): Query<AuditQuery>,
) -> Result<Markup, AppError> {
    let (rows, actions, problem) = rows(&state, &tenant, &who, &q, q.prima, PAGE).await?;
    let base = format!("/{}/amministrazione/registro", tenant.slug);
    let next = (rows.len() as i64 == PAGE)
        .then(|| rows.last().map(|r| r.seq))
        .flatten();
    let mut groups: Vec<&str> = actions.iter().map(|a| group(a)).collect();
    groups.sort_unstable();
    groups.dedup();
    Ok(layout::page(
        &PageMeta::area(TITLE, &tenant, &who),
        html! {
            (layout::breadcrumb(&[("Amministrazione", Some(&format!("/{}/amministrazione", tenant.slug))), (TITLE, None)]))
            h1 { (TITLE) }
            p { "Le voci non si possono modificare né cancellare; ciascuna è concatenata alla precedente con un'impronta crittografica." }
            form method="get" action=(base) class="mb-4" role="search" {
                div class="row" {
                    div class="col-md-4 select-wrapper mb-3" {
                        label for="azione" { "Operazione" }
                        select id="azione" name="azione" {
                            option value="" { "Tutte" }
                            @for g in &groups { option value=(g) selected[q.azione == *g] { (group_label(g)) } }
                        }
                    }
                    div class="col-md-4 form-group" {
                        label class="active" for="attore" { "Chi (nome)" }
                        input type="text" class="form-control" id="attore" name="attore" value=(q.attore);
                    }
                    div class="col-md-4 form-group" {
                        label class="active" for="pratica" { "Pratica (protocollo o codice)" }
                        input type="text" class="form-control" id="pratica" name="pratica" value=(q.pratica)
                            aria-invalid=[problem.map(|_| "true")] aria-describedby=[problem.map(|_| "pratica-errore")];
                        @if let Some(p) = problem { p class="campo-errore" id="pratica-errore" { (p) } }
                    }
                    div class="col-md-4 form-group" {
                        label class="active" for="dal" { "Dal" }
                        input type="date" class="form-control" id="dal" name="dal" value=(q.dal);
                    }
                    div class="col-md-4 form-group" {
                        label class="active" for="al" { "Al" }
                        input type="date" class="form-control" id="al" name="al" value=(q.al);
                    }
                }
                button type="submit" class="btn btn-outline-primary me-2" { "Filtra" }
                a class="btn btn-link" href=(format!("{base}.csv?{}", q.query_string(None))) { "Esporta in CSV" }
            }
            div class="table-responsive" tabindex="0" role="region" aria-label="Operazioni, dalla più recente" {
                table class="table table-sm" id="registro" {
                    caption { "Operazioni, dalla più recente" }
                    thead { tr {
                        th scope="col" { "N." } th scope="col" { "Quando" } th scope="col" { "Chi" }
                        th scope="col" { "Operazione" } th scope="col" { "Esito" }
                    } }
                    tbody {
                        @for r in &rows {
                            tr {
                                td { (r.seq) }
                                td { (time::format_date_time(r.at)) }
                                td { (r.actor) }
                                td class="text-break" { (describe(r)) }
                                td { (outcome_label(&r.outcome)) }
                            }
                        }
                    }
                }
            }
            @if rows.is_empty() { p class="text-muted" { "Nessuna operazione con questi filtri." } }
            @if let Some(seq) = next {
                a href=(format!("{base}?{}", q.query_string(Some(seq)))) { "Operazioni precedenti" }
            }
        },
    ))
}

/// The filtered log as CSV (UTF-8 with BOM, `;`, as Italian spreadsheets expect); the export
/// itself is recorded in the log.
pub async fn export(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    Query(q): Query<AuditQuery>,
) -> Result<Response, AppError> {
    let (rows, _, _) = rows(&state, &tenant, &who, &q, None, EXPORT_MAX).await?;
    let lines: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.seq.to_string(),
                time::format_date_time(r.at),
                r.actor.clone(),
                describe(r),
                outcome_label(&r.outcome).to_owned(),
            ]
        })
        .collect();
    let bytes = export::csv(&["N.", "Quando", "Chi", "Operazione", "Esito"], &lines)?;
    audit::record_alone(
        &state.db,
        tenant.id,
        Entry {
            actor: &Actor::user(who.user.id, &who.user.name),
            action: "registro_esportato",
            target_kind: None,
            target_id: None,
            outcome: "ok",
            details: serde_json::json!({ "righe": rows.len(), "filtri": q.query_string(None) }),
        },
    )
    .await?;
    Ok(export::download(
        bytes,
        export::FileKind::Csv,
        "registro-operazioni.csv",
    ))
}

/// The family of an action, as the filter offers it (`pratica.*` together).
fn group(action: &str) -> &str {
    if action.starts_with("pratica.") && action != "pratica.consultata" {
        "pratica"
    } else {
        action
    }
}

fn group_label(group: &str) -> String {
    match group {
        "pratica" => "Operazioni sulle pratiche".into(),
        other => action_label(other).to_owned(),
    }
}

fn outcome_label(outcome: &str) -> &str {
    match outcome {
        "ok" => "riuscita",
        "negato" => "negata",
        "errore" => "errore",
        other => other,
    }
}

/// What each recorded action is called.
fn action_label(action: &str) -> &str {
    match action {
        "accesso" => "Accesso al servizio",
        "uscita" => "Uscita dal servizio",
        "accesso_negato" => "Pagina non consentita o inesistente",
        "pratica.consultata" => "Consultazione di una pratica",
        "posta.riprova" => "Messaggio inviato di nuovo",
        "avvisi.scelte" => "Scelte degli avvisi e-mail",
        "utente_invitato" => "Account creato",
        "ruoli_modificati" => "Ruoli modificati",
        "utente_disattivato" => "Account disattivato",
        "utente_riattivato" => "Account riattivato",
        "link_account_emesso" => "Nuovo link di accesso",
        "link_attivazione_emessi" => "Link di attivazione degli avvocati",
        "account_attivato" => "Account attivato",
        "password_reimpostata" => "Password reimpostata",
        "secondo_fattore_attivato" => "Codice di verifica configurato",
        "secondo_fattore_provider" => "Secondo fattore del gestore dell'identità",
        "impostazioni_modificate" => "Impostazioni dell'Ordine modificate",
        "ufficio_aggiunto" => "Ufficio giudiziario aggiunto",
        "ufficio_modificato" => "Ufficio giudiziario modificato",
        "elenchi_modificati" => "Elenchi per il patrocinio modificati",
        "albo_importato" => "Albo importato",
        "albo_disattivazione_annullata" => "Disattivazione dall'albo annullata",
        "ordine_creato" => "Ordine creato",
        "registro_esportato" => "Registro delle operazioni esportato",
        "elenco_esportato" => "Elenco delle pratiche esportato",
        "statistiche_esportate" => "Dati di un grafico delle statistiche esportati",
        "statistiche_ministero_esportate" => "Dati annuali per il Ministero esportati",
        "protocollo_esportato" => "Registro di protocollo esportato",
        "registro_protocollo_stampato" => "Registro di protocollo stampato",
        "fascicolo_esportato" => "Fascicolo della pratica esportato",
        "fascicoli_esportati" => "Fascicoli delle ammissioni di un periodo esportati",
        other => other,
    }
}

fn detail<'a>(details: &'a Value, key: &str) -> Option<&'a str> {
    details.get(key).and_then(Value::as_str)
}

/// One line in words: the operation and what it was about, by name or number.
pub fn describe(r: &Row) -> String {
    let target = r.target_label.as_deref();
    let about = |prefix: &str| target.map_or_else(String::new, |t| format!("{prefix}{t}"));
    match r.action.as_str() {
        "pratica.consultata" => format!("Consultata la pratica{}", about(" ")),
        a if a.starts_with("pratica.") => {
            let what = EventKind::from_code(&a["pratica.".len()..]).map_or(a, |k| k.label());
            format!("{what}{}", about(" — pratica "))
        }
        "accesso" => {
            let how = match detail(&r.details, "metodo") {
                Some("oidc") => " con il gestore dell'identità",
                Some("password") => " con password",
                _ => "",
            };
            match (r.outcome.as_str(), detail(&r.details, "motivo")) {
                ("negato", Some(why)) => format!("Accesso rifiutato ({why})"),
                ("negato", None) => "Accesso rifiutato".into(),
                _ => format!("Accesso al servizio{how}"),
            }
        }
        "accesso_negato" => format!(
            "Pagina non consentita o inesistente: {}",
            detail(&r.details, "percorso")
                .or(detail(&r.details, "vista"))
                .unwrap_or("—")
        ),
        "posta.riprova" => format!(
            "Messaggio n. {} inviato di nuovo",
            r.target_id.as_deref().unwrap_or("—")
        ),
        other => {
            let label = action_label(other).to_owned();
            match (r.target_kind.as_deref(), target) {
                (Some("utente"), Some(name)) => format!("{label}: {name}"),
                (Some("istanza"), Some(n)) => format!("{label} — pratica {n}"),
                _ => label,
            }
        }
    }
}
