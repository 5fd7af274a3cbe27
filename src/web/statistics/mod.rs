//! Statistics for the President (issue 14, point 5): one page for the Presidenza and the
//! Ordine's administrator, charts drawn on the server (SVG with a title, a description and the
//! table of their data), each chart's data as CSV, and the yearly return in the Ministry of
//! Justice's categories. Aggregates only: no name, no codice fiscale; the applicants' profile
//! never shows a count under five. The figures follow every change live (`live::views`).

pub mod charts;

use std::sync::Arc;

use axum::{
    extract::{Query, State},
    response::{IntoResponse, Response},
};
use chrono::{Datelike, NaiveDate};
use maud::{Markup, html};
use serde::Deserialize;

use crate::{
    domain::{
        access::{Grant, Role, ViewStatistics, authorize},
        application::{Stage, matter::Matter},
        protocol::ProtocolNumber,
        statistics::{
            APPLICANT_AGE_BANDS, Band, Cell, FIRST_YEAR, HOUSEHOLD_BANDS, INCOME_BANDS, MONTHS,
            Month, NATIONALITY_GROUPS, OPEN_AGE_BANDS, Period, Quarter, percent, percentile,
            suppress,
        },
    },
    store::{
        audit,
        statistics::{self as store, OUTCOMES, Statistics},
        tenants::Tenant,
    },
};

use super::{
    AppState,
    auth::{AreaRole, InArea},
    case::{channel_label, today},
    error::AppError,
    export::{self, FileKind},
    layout::{self, PageMeta},
    tenant::CurrentTenant,
};
use charts::{Chart, Shape};

/// The query of the page and of the exports. Each field is bounded by its parser: a month
/// `YYYY-MM`, a year of four digits, a chart id from the fixed list; anything else is refused
/// with its message (the page then shows the current period, and the field keeps the text).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct StatsQuery {
    #[serde(default)]
    pub fino_a: String,
    #[serde(default)]
    pub grafico: String,
    #[serde(default)]
    pub anno: String,
}

const PERIOD_ERROR: &str = "Il mese indicato non è valido: scriverlo come anno e mese (per esempio 2026-11), dal 2000 a oggi.";
const YEAR_ERROR: &str =
    "L'anno indicato non è valido: scriverlo con quattro cifre, dal 2000 a oggi.";

impl StatsQuery {
    /// The period asked for (the 24 months up to the current one by default), and the error
    /// message when what was typed is not a month up to the current one.
    pub fn period(&self, today: NaiveDate) -> (Period, Option<&'static str>) {
        let now = Month::of(today);
        let text = self.fino_a.trim();
        if text.is_empty() {
            return (Period { last: now }, None);
        }
        match Month::parse(text) {
            Some(m) if m <= now => (Period { last: m }, None),
            _ => (Period { last: now }, Some(PERIOD_ERROR)),
        }
    }

    fn year(&self, today: NaiveDate) -> Result<i32, &'static str> {
        let text = self.anno.trim();
        if text.is_empty() {
            return Ok(today.year());
        }
        match text.parse::<i32>() {
            Ok(y) if text.len() == 4 && (FIRST_YEAR..=today.year()).contains(&y) => Ok(y),
            _ => Err(YEAR_ERROR),
        }
    }
}

/// Where the pages of the role live: the page, the CSV of one chart, the Ministry's return.
fn paths(tenant: &Tenant, role: Role) -> (String, String, String) {
    let slug = &tenant.slug;
    match role {
        Role::Presidenza => (
            format!("/{slug}/presidenza"),
            format!("/{slug}/presidenza/statistiche.csv"),
            format!("/{slug}/presidenza/ministero.csv"),
        ),
        _ => (
            format!("/{slug}/amministrazione/statistiche"),
            format!("/{slug}/amministrazione/statistiche.csv"),
            format!("/{slug}/amministrazione/statistiche/ministero.csv"),
        ),
    }
}

/// The CSV route of the role's statistics.
pub fn csv_path(tenant: &Tenant, role: Role) -> String {
    paths(tenant, role).1
}

fn grant<R: AreaRole>(tenant: &Tenant, who: &InArea<R>) -> Result<Grant<ViewStatistics>, AppError> {
    authorize::<ViewStatistics>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)
}

fn matter_label(code: Option<&str>) -> String {
    match code {
        Some(c) => Matter::from_code(c).map_or_else(|| c.to_owned(), |m| m.label().to_owned()),
        None => "Non indicata".into(),
    }
}

fn filer_label(code: &str) -> &'static str {
    match code {
        "richiedente" => "Il richiedente",
        "avvocato" => "Un avvocato",
        "" => "Non indicato",
        _ => "Altro",
    }
}

fn recipient_label(code: &str) -> &'static str {
    match code {
        "richiedente" => "Al richiedente",
        "avvocato" => "All'avvocato",
        "ufficio_giudiziario" => "All'ufficio giudiziario",
        "agenzia_entrate" => "All'Agenzia delle Entrate",
        _ => "Altro",
    }
}

fn days(v: Option<i64>) -> String {
    match v {
        Some(1) => "1 giorno".into(),
        Some(n) => format!("{n} giorni"),
        None => "–".into(),
    }
}

fn band_labels(bands: &[Band]) -> Vec<String> {
    bands.iter().map(|b| b.label.to_owned()).collect()
}

/// A profile chart: counts under five hidden (and one more where a single hidden cell could
/// be worked out from the total), the total in the last row.
fn profile(
    id: &'static str,
    title: &str,
    category: &'static str,
    labels: Vec<String>,
    counts: &[i64],
) -> Chart {
    let (cells, total) = suppress(counts);
    Chart {
        id,
        title: title.to_owned(),
        description: format!(
            "Richiedenti (persone fisiche) delle istanze presentate nel periodo, per {}. I gruppi con meno di cinque persone non sono indicati.",
            category.to_lowercase()
        ),
        shape: Shape::Bars,
        category,
        categories: labels,
        series: vec![("Richiedenti", cells)],
        extra: vec![],
        footer: Some(vec!["Totale".into(), total.text()]),
    }
}

/// Every chart of the page, in its order.
pub fn charts(s: &Statistics, period: Period) -> Vec<Chart> {
    let span = format!(
        "da {} a {}",
        period.first().short_label(),
        period.last.short_label()
    );
    let mut out = Vec::new();

    let months = period.months();
    out.push(Chart {
        id: "entrate-decisioni",
        title: "Istanze presentate e decise, per mese".into(),
        description: format!(
            "Per ciascuno dei {MONTHS} mesi {span}, le istanze presentate e quelle decise (ammissione, rigetto o inammissibilità) nel mese. Totale: {} presentate, {} decise.",
            s.monthly.iter().map(|m| m.1).sum::<i64>(),
            s.monthly.iter().map(|m| m.2).sum::<i64>()
        ),
        shape: Shape::Columns,
        category: "Mese",
        categories: months.iter().map(|m| m.short_label()).collect(),
        series: vec![
            ("Presentate", s.monthly.iter().map(|m| Cell::Shown(m.1)).collect()),
            ("Decise", s.monthly.iter().map(|m| Cell::Shown(m.2)).collect()),
        ],
        extra: vec![],
        footer: None,
    });

    let decided_all: [i64; 3] = s.quarterly.iter().fold([0; 3], |mut acc, (_, c)| {
        for (a, n) in acc.iter_mut().zip(c) {
            *a += n;
        }
        acc
    });
    let all: i64 = decided_all.iter().sum();
    out.push(Chart {
        id: "esiti-trimestre",
        title: "Esiti delle decisioni, per trimestre".into(),
        description: format!(
            "Ammissioni, rigetti e inammissibilità deliberati in ciascun trimestre {span}, con il tasso di ammissione (ammissioni sul totale delle decisioni). Nel periodo: {} ammissioni su {all} decisioni ({}).",
            decided_all[0],
            percent(decided_all[0], all)
        ),
        shape: Shape::Columns,
        category: "Trimestre",
        categories: s
            .quarterly
            .iter()
            .map(|((y, q), _)| Quarter { year: *y, quarter: *q }.label())
            .collect(),
        series: (0..3)
            .map(|k| (OUTCOMES[k], s.quarterly.iter().map(|(_, c)| Cell::Shown(c[k])).collect()))
            .collect(),
        extra: vec![(
            "Tasso di ammissione",
            s.quarterly
                .iter()
                .map(|(_, c)| percent(c[0], c.iter().sum()))
                .collect(),
        )],
        footer: Some(vec![
            "Totale del periodo".into(),
            decided_all[0].to_string(),
            decided_all[1].to_string(),
            decided_all[2].to_string(),
            percent(decided_all[0], all),
        ]),
    });

    let decided: i64 = s.durations.iter().map(|d| d.1).sum();
    let median = percentile(&s.durations, 50);
    let p90 = percentile(&s.durations, 90);
    out.push(Chart {
        id: "tempi-decisione",
        title: "Tempo per decidere".into(),
        description: format!(
            "Giorni dalla presentazione alla decisione delle {decided} istanze decise {span}, senza i giorni in cui si attendeva la risposta a una richiesta di integrazione: metà è decisa entro {} (mediana), nove su dieci entro {} (90° percentile).",
            days(median),
            days(p90)
        ),
        shape: Shape::Bars,
        category: "Misura",
        categories: vec!["Mediana".into(), "90° percentile".into()],
        series: vec![(
            "Giorni",
            [median, p90]
                .into_iter()
                .map(|v| v.map_or(Cell::Empty, Cell::Shown))
                .collect(),
        )],
        extra: vec![(
            "Istanze decise",
            vec![decided.to_string(), decided.to_string()],
        )],
        footer: None,
    });

    let open: i64 = s.open_ages.iter().sum();
    out.push(Chart {
        id: "pratiche-aperte",
        title: "Pratiche in attesa di decisione, per anzianità".into(),
        description: format!(
            "Le {open} istanze presentate e non ancora decise oggi, per giorni trascorsi dalla presentazione."
        ),
        shape: Shape::Bars,
        category: "Anzianità",
        categories: band_labels(&OPEN_AGE_BANDS),
        series: vec![("Pratiche", s.open_ages.iter().map(|n| Cell::Shown(*n)).collect())],
        extra: vec![],
        footer: Some(vec!["Totale".into(), open.to_string()]),
    });

    out.push(Chart {
        id: "materie",
        title: "Materie: istanze e tasso di ammissione".into(),
        description: format!(
            "Le istanze presentate {span} per materia, con quante sono state decise e il tasso di ammissione (ammissioni sulle decise)."
        ),
        shape: Shape::Bars,
        category: "Materia",
        categories: s
            .matters
            .iter()
            .map(|m| matter_label(m.matter.as_deref()))
            .collect(),
        series: vec![("Istanze", s.matters.iter().map(|m| Cell::Shown(m.filed)).collect())],
        extra: vec![
            ("Decise", s.matters.iter().map(|m| m.decided.to_string()).collect()),
            ("Ammesse", s.matters.iter().map(|m| m.admitted.to_string()).collect()),
            (
                "Tasso di ammissione",
                s.matters
                    .iter()
                    .map(|m| percent(m.admitted, m.decided))
                    .collect(),
            ),
        ],
        footer: None,
    });

    let answered: i64 = s.replies.iter().map(|r| r.1).sum();
    out.push(Chart {
        id: "integrazioni",
        title: "Richieste di integrazione".into(),
        description: format!(
            "Delle {} istanze presentate {span}, {} hanno avuto almeno una richiesta di integrazione ({}). Alle {answered} richieste con risposta si è risposto in {} (mediana), nove su dieci entro {}.",
            s.filed,
            s.with_integration,
            percent(s.with_integration, s.filed),
            days(percentile(&s.replies, 50)),
            days(percentile(&s.replies, 90))
        ),
        shape: Shape::Bars,
        category: "Voce",
        categories: vec![
            "Con richiesta di integrazione".into(),
            "Senza richiesta di integrazione".into(),
        ],
        series: vec![(
            "Istanze",
            vec![Cell::Shown(s.with_integration), Cell::Shown(s.filed - s.with_integration)],
        )],
        extra: vec![(
            "Quota",
            vec![
                percent(s.with_integration, s.filed),
                percent(s.filed - s.with_integration, s.filed),
            ],
        )],
        footer: Some(vec![
            "Tempo di risposta (mediana e 90° percentile)".into(),
            days(percentile(&s.replies, 50)),
            days(percentile(&s.replies, 90)),
        ]),
    });

    out.push(Chart {
        id: "carico-relatori",
        title: "Carico dei consiglieri relatori".into(),
        description: format!(
            "Per ciascun consigliere relatore, le pratiche assegnate in attesa di decisione oggi e quelle decise {span}."
        ),
        shape: Shape::Bars,
        category: "Consigliere relatore",
        categories: s.workload.iter().map(|w| w.name.clone()).collect(),
        series: vec![
            ("In attesa", s.workload.iter().map(|w| Cell::Shown(w.open)).collect()),
            ("Decise nel periodo", s.workload.iter().map(|w| Cell::Shown(w.decided)).collect()),
        ],
        extra: vec![],
        footer: None,
    });

    out.push(profile(
        "nazionalita",
        "Richiedenti per cittadinanza",
        "Cittadinanza",
        NATIONALITY_GROUPS
            .iter()
            .map(|(_, l)| (*l).to_owned())
            .collect(),
        &s.nationality,
    ));
    out.push(profile(
        "eta",
        "Richiedenti per età",
        "Età alla presentazione",
        band_labels(&APPLICANT_AGE_BANDS),
        &s.age,
    ));
    out.push(profile(
        "reddito",
        "Richiedenti per reddito del nucleo",
        "Reddito dichiarato",
        band_labels(&INCOME_BANDS),
        &s.income,
    ));
    out.push(profile(
        "nucleo",
        "Richiedenti per componenti del nucleo familiare",
        "Componenti del nucleo",
        band_labels(&HOUSEHOLD_BANDS),
        &s.household,
    ));

    let channel_rows: Vec<(String, i64)> = s
        .channels
        .iter()
        .map(|(c, n)| (channel_label(c).to_owned(), *n))
        .chain(s.filers.iter().map(|(c, n)| {
            (
                format!("Presentata da: {}", filer_label(c).to_lowercase()),
                *n,
            )
        }))
        .collect();
    out.push(Chart {
        id: "canali",
        title: "Canale di arrivo e chi presenta".into(),
        description: format!(
            "Le istanze presentate {span}, per canale di arrivo e per chi le ha presentate (il richiedente o un avvocato)."
        ),
        shape: Shape::Bars,
        category: "Canale o presentatore",
        categories: channel_rows.iter().map(|r| r.0.clone()).collect(),
        series: vec![("Istanze", channel_rows.iter().map(|r| Cell::Shown(r.1)).collect())],
        extra: vec![],
        footer: None,
    });

    let mut cats: Vec<String> = s
        .transmissions
        .iter()
        .map(|t| {
            format!(
                "Delibere trasmesse {}",
                recipient_label(&t.0).to_lowercase()
            )
        })
        .collect();
    cats.push("Ammissioni revocate dal giudice".into());
    let mut sent: Vec<Cell> = s.transmissions.iter().map(|t| Cell::Shown(t.1)).collect();
    sent.push(Cell::Shown(s.revocations));
    let mut waiting: Vec<String> = s.transmissions.iter().map(|t| t.2.to_string()).collect();
    waiting.push(String::new());
    out.push(Chart {
        id: "trasmissioni",
        title: "Trasmissioni e revoche".into(),
        description: format!(
            "Le delibere trasmesse {span}, per destinatario, con quelle ancora da trasmettere, e le ammissioni revocate dal giudice (art. 136) nel periodo: {}.",
            s.revocations
        ),
        shape: Shape::Bars,
        category: "Voce",
        categories: cats,
        series: vec![("Numero", sent)],
        extra: vec![("Da trasmettere", waiting)],
        footer: None,
    });
    out
}

/// The ten applications waiting longest: numbers and states only.
fn oldest(s: &Statistics) -> Markup {
    html! {
        section id="piu-vecchie" class="mb-5" aria-labelledby="piu-vecchie-h" {
            h3 id="piu-vecchie-h" class="h5" { "Le dieci pratiche in attesa da più tempo" }
            @if s.oldest.is_empty() {
                p { "Nessuna pratica è in attesa di decisione." }
            } @else {
                div class="table-responsive" tabindex="0" role="region" aria-label="Le dieci pratiche in attesa da più tempo" {
                    table class="table table-sm" {
                        caption { "Le pratiche in attesa da più tempo, dalla più vecchia" }
                        thead { tr {
                            th scope="col" { "Protocollo o codice" }
                            th scope="col" { "Stato" }
                            th scope="col" { "Materia" }
                            th scope="col" { "Giorni dalla presentazione" }
                        } }
                        tbody {
                            @for o in &s.oldest {
                                tr {
                                    th scope="row" {
                                        @match o.protocol {
                                            Some((year, number)) => { (ProtocolNumber { year, number }) }
                                            None => { (o.code) }
                                        }
                                    }
                                    td { (Stage::from_code(&o.state).map_or("Altro", Stage::label)) }
                                    td { (matter_label(o.matter.as_deref())) }
                                    td { (o.days) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The part of the page that follows changes live (the socket replaces it by its id).
pub fn figures(s: &Statistics, period: Period, csv: &str) -> Markup {
    let q = format!("fino_a={}", period.last.code());
    html! {
        div id="statistiche" aria-live="off" {
            @for c in charts(s, period) {
                (c.render(&format!("{csv}?{q}&grafico={}", c.id)))
                @if c.id == "pratiche-aperte" { (oldest(s)) }
            }
        }
    }
}

/// The figures of `period` under the grant: computed once after each event of the Ordine and
/// shared (`live::views::StatisticsCache`), read in a transaction of their own.
pub async fn figures_for(
    db: &crate::db::Db,
    hub: &crate::live::Hub,
    grant: &Grant<ViewStatistics>,
    period: Period,
) -> anyhow::Result<Arc<Statistics>> {
    let today = today();
    let slot = hub.statistics.slot(
        (grant.tenant, period.last.code(), today),
        hub.latest_event(grant.tenant),
    );
    slot.get_or_try_init(|| async {
        let mut tx = db.tenant_tx(grant.tenant).await?;
        let s = store::load(&mut tx, grant, period, today).await?;
        tx.commit().await?;
        Ok::<_, anyhow::Error>(Arc::new(s))
    })
    .await
    .cloned()
}

/// `GET /{slug}/presidenza` and `GET /{slug}/amministrazione/statistiche`.
#[tracing::instrument(name = "consulta le statistiche", skip_all, fields(tenant = %tenant.slug, area = who.role().area()))]
pub async fn page<R: AreaRole>(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<R>,
    Query(q): Query<StatsQuery>,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let (period, error) = q.period(today());
    let s = figures_for(&state.db, &state.hub, &grant, period).await?;
    let (base, csv, ministry) = paths(&tenant, who.role());
    let live = format!(
        "/ws?vista=statistiche&area={}&fino_a={}",
        who.role().code(),
        period.last.code()
    );
    let year_error = q.year(today()).err().filter(|_| !q.anno.is_empty());
    Ok(layout::page(
        &PageMeta::area("Statistiche", &tenant, &who),
        html! {
            @if who.role() == Role::Amministratore {
                nav aria-label="Percorso" { ol class="breadcrumb" {
                    li class="breadcrumb-item" { a href=(format!("/{}/amministrazione", tenant.slug)) { "Amministrazione" } }
                    li class="breadcrumb-item active" aria-current="page" { "Statistiche" }
                } }
            }
            h1 { "Statistiche" }
            p { "Dati aggregati delle istanze presentate al " (tenant.name) ", da "
                (period.first().short_label()) " a " (period.last.short_label())
                ". Si aggiornano da soli quando una pratica cambia. Nessun dato personale: i gruppi di richiedenti con meno di cinque persone non sono indicati." }
            form method="get" action=(base) class="row g-2 align-items-end mb-4" novalidate {
                div class="col-12 col-md-5" {
                    label for="fino_a" { "Ultimo mese del periodo (24 mesi)" }
                    input type="month" id="fino_a" name="fino_a" class=(if error.is_some() { "form-control is-invalid" } else { "form-control" })
                        value=(if q.fino_a.is_empty() { period.last.code() } else { q.fino_a.clone() })
                        aria-describedby=[error.map(|_| "fino_a-errore")];
                    @if let Some(e) = error {
                        div id="fino_a-errore" class="invalid-feedback d-block" role="alert" { (e) }
                    }
                }
                div class="col-12 col-md-3" {
                    button type="submit" class="btn btn-primary" { "Mostra" }
                }
            }
            section class="mb-5" aria-labelledby="ministero-h" {
                h2 id="ministero-h" class="h4" { "Dati annuali per il Ministero della Giustizia" }
                p { "Istanze presentate (richiedenti italiani e stranieri), ammissioni, rigetti e inammissibilità dell'anno, per materia, in un file CSV." }
                form method="get" action=(ministry) class="row g-2 align-items-end" novalidate {
                    div class="col-12 col-md-3" {
                        label for="anno" { "Anno" }
                        input type="text" inputmode="numeric" id="anno" name="anno" maxlength="4"
                            class=(if year_error.is_some() { "form-control is-invalid" } else { "form-control" })
                            value=(if q.anno.is_empty() { today().year().to_string() } else { q.anno.clone() })
                            aria-describedby=[year_error.map(|_| "anno-errore")];
                        @if let Some(e) = year_error {
                            div id="anno-errore" class="invalid-feedback d-block" role="alert" { (e) }
                        }
                    }
                    div class="col-12 col-md-4" {
                        button type="submit" class="btn btn-outline-primary" { "Scarica i dati dell'anno (CSV)" }
                    }
                }
            }
            h2 class="h4" { "Grafici" }
            (crate::live::container(&live, figures(&s, period, &csv)))
        },
    )
    .into_response())
}

/// `GET …/statistiche.csv?grafico=…&fino_a=…`: the data of one chart, audited.
#[tracing::instrument(name = "esporta i dati di un grafico", skip_all, fields(tenant = %tenant.slug, area = who.role().area()))]
pub async fn chart_csv<R: AreaRole>(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<R>,
    Query(q): Query<StatsQuery>,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let (period, error) = q.period(today());
    let (base, _, _) = paths(&tenant, who.role());
    if error.is_some() {
        return Ok(refused(&tenant, &who, &base, PERIOD_ERROR));
    }
    let s = figures_for(&state.db, &state.hub, &grant, period).await?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let Some(chart) = charts(&s, period)
        .into_iter()
        .find(|c| c.id == q.grafico.as_str())
    else {
        drop(tx);
        return Ok(refused(
            &tenant,
            &who,
            &base,
            "Il grafico richiesto non esiste: scegliere il collegamento «Scarica i dati» sotto il grafico.",
        ));
    };
    audit::record(
        &mut tx,
        audit::Entry {
            actor: &super::case::actor(&who),
            action: "statistiche_esportate",
            target_kind: None,
            target_id: None,
            outcome: "ok",
            details: serde_json::json!({
                "area": who.role().area(),
                "grafico": chart.id,
                "fino_a": period.last.code(),
            }),
        },
    )
    .await?;
    tx.commit().await?;
    let bytes = export::csv(&chart.header(), &chart.rows())?;
    let name = format!("statistiche-{}-{}.csv", chart.id, period.last.code());
    Ok(export::download(bytes, FileKind::Csv, &name))
}

/// The header of the yearly return.
pub const MINISTRY_HEADER: [&str; 8] = [
    "Materia",
    "Istanze presentate",
    "di cui richiedenti italiani",
    "di cui richiedenti stranieri",
    "di cui enti e associazioni",
    "Ammissioni",
    "Rigetti",
    "Inammissibilità",
];

/// `GET …/ministero.csv?anno=…`: the year in the Ministry's categories, audited. Exact figures
/// (no minimum cell): it is the Ordine's return to the Ministry, not a publication.
#[tracing::instrument(name = "esporta i dati annuali per il Ministero", skip_all, fields(tenant = %tenant.slug, area = who.role().area()))]
pub async fn ministry_csv<R: AreaRole>(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<R>,
    Query(q): Query<StatsQuery>,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let (base, _, _) = paths(&tenant, who.role());
    let year = match q.year(today()) {
        Ok(y) => y,
        Err(e) => return Ok(refused(&tenant, &who, &base, e)),
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let rows = store::ministry(&mut tx, &grant, year).await?;
    audit::record(
        &mut tx,
        audit::Entry {
            actor: &super::case::actor(&who),
            action: "statistiche_ministero_esportate",
            target_kind: None,
            target_id: None,
            outcome: "ok",
            details: serde_json::json!({ "area": who.role().area(), "anno": year }),
        },
    )
    .await?;
    tx.commit().await?;
    let mut lines: Vec<Vec<String>> = Vec::new();
    let mut total = store::MinistryRow::default();
    for r in &rows {
        lines.push(vec![
            matter_label(r.matter.as_deref()),
            r.filed.to_string(),
            r.italian.to_string(),
            r.foreign.to_string(),
            r.entities.to_string(),
            r.outcomes[0].to_string(),
            r.outcomes[1].to_string(),
            r.outcomes[2].to_string(),
        ]);
        total.filed += r.filed;
        total.italian += r.italian;
        total.foreign += r.foreign;
        total.entities += r.entities;
        for (t, n) in total.outcomes.iter_mut().zip(r.outcomes) {
            *t += n;
        }
    }
    lines.push(vec![
        "Totale".into(),
        total.filed.to_string(),
        total.italian.to_string(),
        total.foreign.to_string(),
        total.entities.to_string(),
        total.outcomes[0].to_string(),
        total.outcomes[1].to_string(),
        total.outcomes[2].to_string(),
    ]);
    let bytes = export::csv(&MINISTRY_HEADER, &lines)?;
    Ok(export::download(
        bytes,
        FileKind::Csv,
        &format!("patrocinio-dati-ministero-{year}.csv"),
    ))
}

/// An export that cannot be made: why, and the way back to the page.
fn refused<R: AreaRole>(tenant: &Tenant, who: &InArea<R>, base: &str, text: &str) -> Response {
    (
        axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        layout::page(
            &PageMeta::area("Statistiche", tenant, who),
            html! {
                h1 { "Statistiche" }
                div class="alert alert-danger" role="alert" { (text) }
                p { a href=(base) { "Torna alle statistiche" } }
            },
        ),
    )
        .into_response()
}
