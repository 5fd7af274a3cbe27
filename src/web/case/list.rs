//! The lists of applications of every reserved area (the secretariat's board, the
//! councillor's queue, the lawyer's dashboard): filters that live in the URL (a GET form that
//! works without JavaScript; the live socket carries the same query, so that a pushed change
//! respects the filter in force), pages by keyset (no OFFSET: a row inserted between two page
//! loads never makes another repeat or vanish), and the export of what a list shows as CSV or
//! .xlsx, recorded in the audit log.

use axum::{
    extract::{Query, State},
    http::StatusCode,
    response::{IntoResponse, Response},
};
use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use maud::{Markup, html};
use serde::Deserialize;
use tracing::Instrument;
use uuid::Uuid;

use super::{area_base, case_table, channel_label, view_grant, viewer};
use crate::{
    db::TenantTx,
    domain::{
        access::Role,
        application::{Stage, check::parse_date, matter::Matter},
        assignment::Councillor,
        plural, time,
    },
    store::{
        audit,
        cases::{self, Cursor, DateField, DateRange, Filter, Page, Sort, Viewer},
    },
    web::{
        AppState,
        auth::{AreaRole, InArea},
        error::AppError,
        export::{self, FileKind},
        layout::{self, PageMeta},
        tenant::CurrentTenant,
    },
};

/// Rows on one page of a list.
pub const PAGE_SIZE: i64 = 50;
/// The most rows one export carries: past it the export is refused with a message asking to
/// narrow the filters (a spreadsheet of more is not read by anybody, and the file stays a
/// few megabytes).
pub const EXPORT_MAX: i64 = 5_000;
/// The most rows one CSV export of a list carries. The CSV streams (its memory does not grow
/// with the rows); the bound keeps one download to a few seconds of one database connection
/// (about 100 bytes and 0.1 ms a row: some 5 MB).
pub const CSV_EXPORT_MAX: i64 = 50_000;
/// Exports of lists running at once on one instance (each holds a database connection while
/// it streams); one more is asked to wait a few seconds.
pub const EXPORTS_AT_ONCE: usize = 2;
/// The CSV is handed to the response in pieces of about this size.
const CHUNK_BYTES: usize = 64 * 1024;
/// The longest value of one filter kept from the URL.
const MAX_VALUE: usize = 64;

/// The channels an application arrives by.
const CHANNELS: [&str; 4] = ["portale", "sportello", "posta", "pec"];

/// The filters, the order and the page of a list, exactly as in the URL (`?stato=…&materia=…`):
/// what was typed is kept, a wrong value is said next to its field.
#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct ListQuery {
    #[serde(default)]
    pub stato: Option<String>,
    #[serde(default)]
    pub relatore: Option<String>,
    #[serde(default)]
    pub materia: Option<String>,
    #[serde(default)]
    pub canale: Option<String>,
    #[serde(default)]
    pub urgenti: Option<String>,
    /// Which date the range applies to: presentazione, protocollo, decisione.
    #[serde(default)]
    pub data: Option<String>,
    #[serde(default)]
    pub dal: Option<String>,
    #[serde(default)]
    pub al: Option<String>,
    #[serde(default)]
    pub ordine: Option<String>,
    /// Where the page starts (the previous page's last row).
    #[serde(default)]
    pub dopo: Option<String>,
}

/// A filter that could not be read: the field and what to do.
pub type FieldError = (&'static str, String);

/// What a query asks for, once read.
pub struct Parsed {
    pub filter: Filter,
    pub sort: Sort,
    pub after: Option<Cursor>,
    pub errors: Vec<FieldError>,
}

fn value(v: &Option<String>) -> &str {
    let v = v.as_deref().unwrap_or("").trim();
    match v.char_indices().nth(MAX_VALUE) {
        Some((i, _)) => &v[..i],
        None => v,
    }
}

/// The state choices besides single states: (value, label, states).
fn groups() -> [(&'static str, &'static str, Option<Vec<&'static str>>); 3] {
    let codes = |f: fn(Stage) -> bool| {
        Some(
            Stage::ALL
                .into_iter()
                .filter(|s| f(*s))
                .map(Stage::code)
                .collect(),
        )
    };
    [
        (
            "in_corso",
            "In corso (non ancora decise)",
            codes(Stage::is_open),
        ),
        (
            "concluse",
            "Concluse (decise, rinunciate, revocate)",
            codes(|s| s.is_decided() || matches!(s, Stage::Rinunciata | Stage::Revocata)),
        ),
        ("tutte", "Tutte", None),
    ]
}

/// The state a list shows when the URL names none.
pub fn default_state(role: Role) -> &'static str {
    match role {
        Role::Avvocato => "tutte",
        _ => "in_corso",
    }
}

/// Midnight in Rome at the start of `d`, in UTC.
fn rome_midnight(d: NaiveDate) -> Option<DateTime<Utc>> {
    time::ZONE
        .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

impl ListQuery {
    /// The filter, order and page asked for; a value that cannot be read is left out of the
    /// filter and reported (the rest still applies).
    pub fn parse(&self, role: Role) -> Parsed {
        let mut errors: Vec<FieldError> = Vec::new();
        let stato = match value(&self.stato) {
            "" => default_state(role),
            s => s,
        };
        let states = match groups().into_iter().find(|(v, _, _)| *v == stato) {
            Some((_, _, states)) => states,
            None => match Stage::from_code(stato).filter(|s| *s != Stage::Bozza) {
                Some(s) => Some(vec![s.code()]),
                None => {
                    errors.push(("stato", "Scegliere uno stato dall'elenco.".into()));
                    groups()
                        .into_iter()
                        .find(|(v, _, _)| *v == default_state(role))
                        .and_then(|g| g.2)
                }
            },
        };
        let rapporteur = match value(&self.relatore) {
            "" => None,
            r => match Uuid::parse_str(r) {
                Ok(id) => Some(id),
                Err(_) => {
                    errors.push(("relatore", "Scegliere il relatore dall'elenco.".into()));
                    None
                }
            },
        };
        let matter = match value(&self.materia) {
            "" => None,
            m => match Matter::from_code(m) {
                Some(m) => Some(m.code()),
                None => {
                    errors.push(("materia", "Scegliere la materia dall'elenco.".into()));
                    None
                }
            },
        };
        let channel = match value(&self.canale) {
            "" => None,
            c => match CHANNELS.into_iter().find(|x| *x == c) {
                Some(c) => Some(c),
                None => {
                    errors.push(("canale", "Scegliere il canale dall'elenco.".into()));
                    None
                }
            },
        };
        let urgent = match value(&self.urgenti) {
            "" => None,
            "si" => Some(true),
            "no" => Some(false),
            _ => {
                errors.push(("urgenti", "Scegliere «sì» o «no».".into()));
                None
            }
        };
        let field = match value(&self.data) {
            "" | "presentazione" => DateField::Filed,
            "protocollo" => DateField::Registered,
            "decisione" => DateField::Decided,
            _ => {
                errors.push(("data", "Scegliere la data dall'elenco.".into()));
                DateField::Filed
            }
        };
        let mut date = |name: &'static str, v: &Option<String>| match value(v) {
            "" => None,
            d => match parse_date(d) {
                Some(d) => Some(d),
                None => {
                    errors.push((
                        name,
                        "La data non è valida: scriverla come gg/mm/aaaa, per esempio 01/12/2026."
                            .into(),
                    ));
                    None
                }
            },
        };
        let from = date("dal", &self.dal);
        let to = date("al", &self.al);
        let (from, to) = match (from, to) {
            (Some(f), Some(t)) if t < f => {
                errors.push((
                    "al",
                    "La data finale precede quella iniziale: correggere l'intervallo.".into(),
                ));
                (None, None)
            }
            other => other,
        };
        let dates = (from.is_some() || to.is_some()).then(|| DateRange {
            field,
            from: from.and_then(rome_midnight),
            until: to
                .and_then(|t| t.checked_add_days(Days::new(1)))
                .and_then(rome_midnight),
        });
        Parsed {
            filter: Filter {
                states,
                rapporteur,
                matter,
                channel,
                urgent,
                dates,
            },
            sort: Sort::from_param(Some(value(&self.ordine))),
            after: Cursor::parse(value(&self.dopo)),
            errors,
        }
    }

    /// The query as it goes in a URL: the values given (trimmed and bounded), the page start
    /// only when `page` is true.
    pub fn query_string(&self, page: bool) -> String {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("stato", &self.stato),
            ("relatore", &self.relatore),
            ("materia", &self.materia),
            ("canale", &self.canale),
            ("urgenti", &self.urgenti),
            ("data", &self.data),
            ("dal", &self.dal),
            ("al", &self.al),
            ("ordine", &self.ordine),
        ] {
            let v = value(v);
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        if page {
            let v = value(&self.dopo);
            if !v.is_empty() {
                q.append_pair("dopo", v);
            }
        }
        q.finish()
    }

    /// The same filters, starting at `after` (the first page when `None`).
    fn at(&self, after: Option<&Cursor>) -> String {
        let q = ListQuery {
            dopo: after.map(Cursor::param),
            ..self.clone()
        };
        q.query_string(true)
    }
}

/// A page of the list and how many rows match in all.
pub struct Listed {
    pub page: Page,
    pub total: i64,
}

/// The page the query asks for.
pub async fn load(
    tx: &mut TenantTx,
    viewer: &Viewer<'_>,
    parsed: &Parsed,
) -> anyhow::Result<Listed> {
    let page = cases::page(
        tx,
        viewer,
        &parsed.filter,
        parsed.sort,
        parsed.after.as_ref(),
        PAGE_SIZE,
    )
    .await?;
    let total = cases::count(tx, viewer, &parsed.filter).await?;
    Ok(Listed { page, total })
}

fn error_of<'a>(errors: &'a [FieldError], field: &str) -> Option<&'a str> {
    errors
        .iter()
        .find(|(f, _)| *f == field)
        .map(|(_, m)| m.as_str())
}

/// A select of the filter form: `options` are (value, label); the first is "any".
fn select(
    name: &'static str,
    label: &str,
    current: &str,
    options: &[(String, String)],
    errors: &[FieldError],
) -> Markup {
    let error = error_of(errors, name);
    let id = format!("filtro-{name}");
    html! {
        div class="col-12 col-md-6 col-lg-3 select-wrapper mb-3" {
            label for=(id) { (label) }
            select id=(id) name=(name) aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| format!("{id}-errore"))] {
                @for (v, l) in options {
                    option value=(v) selected[*v == current] { (l) }
                }
            }
            @if let Some(e) = error { p class="campo-errore mt-1" id=(format!("{id}-errore")) role="alert" { (e) } }
        }
    }
}

fn date_input(name: &'static str, label: &str, current: &str, errors: &[FieldError]) -> Markup {
    let error = error_of(errors, name);
    let id = format!("filtro-{name}");
    html! {
        // A label above the field, as on the selects beside it (a floating one would cover
        // the select above it in the grid).
        div class="col-12 col-md-6 col-lg-3 mb-3" {
            label class="form-label" for=(id) { (label) }
            input type="date" class="form-control" id=(id) name=(name) value=(current)
                aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| format!("{id}-errore"))];
            @if let Some(e) = error { p class="campo-errore mt-1" id=(format!("{id}-errore")) role="alert" { (e) } }
        }
    }
}

/// The filter form (GET: the filters end up in the URL, bookmarkable; no JavaScript needed)
/// and the export links of what the filters select. `councillors` offers the rapporteur
/// filter (the secretariat's board).
pub fn filter_form(
    base: &str,
    role: Role,
    q: &ListQuery,
    errors: &[FieldError],
    councillors: Option<&[Councillor]>,
) -> Markup {
    let v = |x: &Option<String>| value(x).to_owned();
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    let stato = match value(&q.stato) {
        "" => default_state(role).to_owned(),
        s => s.to_owned(),
    };
    let mut states: Vec<(String, String)> =
        groups().into_iter().map(|(v, l, _)| pair(v, l)).collect();
    states.extend(
        Stage::ALL
            .into_iter()
            .filter(|s| *s != Stage::Bozza)
            .map(|s| pair(s.code(), s.label())),
    );
    let mut matters = vec![pair("", "Tutte")];
    matters.extend(Matter::ALL.into_iter().map(|m| pair(m.code(), m.label())));
    let mut channels = vec![pair("", "Tutti")];
    channels.extend(CHANNELS.into_iter().map(|c| pair(c, channel_label(c))));
    let urgency = [
        pair("", "Tutte"),
        pair("si", "Solo urgenti"),
        pair("no", "Non urgenti"),
    ];
    let dates = [
        pair("presentazione", "Presentazione"),
        pair("protocollo", "Registrazione nel protocollo"),
        pair("decisione", "Decisione"),
    ];
    let sorts: Vec<_> = Sort::ALL
        .into_iter()
        .map(|s| pair(s.param(), s.label()))
        .collect();
    let export = q.query_string(false);
    let rapporteurs = councillors.map(|cs| {
        let mut options = vec![pair("", "Tutti")];
        options.extend(cs.iter().map(|c| (c.id.to_string(), c.name.clone())));
        options
    });
    html! {
        form method="get" action=(base) class="mb-4" id="filtri" role="search" aria-label="Filtri dell'elenco" {
            div class="row" {
                (select("stato", "Stato", &stato, &states, errors))
                @if let Some(options) = &rapporteurs {
                    (select("relatore", "Relatore", &v(&q.relatore), options, errors))
                }
                (select("materia", "Materia", &v(&q.materia), &matters, errors))
                (select("canale", "Canale", &v(&q.canale), &channels, errors))
                (select("urgenti", "Urgenza", &v(&q.urgenti), &urgency, errors))
                (select("data", "Data considerata", &v(&q.data), &dates, errors))
                (date_input("dal", "Dal", &v(&q.dal), errors))
                (date_input("al", "Al", &v(&q.al), errors))
                (select("ordine", "Ordina", Sort::from_param(Some(value(&q.ordine))).param(), &sorts, errors))
            }
            div class="d-flex flex-wrap gap-2 align-items-center" {
                button type="submit" class="btn btn-primary btn-sm" { "Filtra" }
                a class="btn btn-link btn-sm" href=(base) { "Azzera i filtri" }
                span class="small" { "Esporta l'elenco filtrato (al massimo " (plural::thousands(CSV_EXPORT_MAX)) " righe in CSV, " (plural::thousands(EXPORT_MAX)) " in Excel): " }
                a class="btn btn-outline-primary btn-sm" href=(format!("{base}/elenco.csv?{export}")) download { "CSV" }
                a class="btn btn-outline-primary btn-sm" href=(format!("{base}/elenco.xlsx?{export}")) download { "Excel (.xlsx)" }
            }
        }
    }
}

/// A page of the list with its count and the links to the next page and back to the first.
#[allow(clippy::too_many_arguments)]
pub fn section(
    id: &str,
    base: &str,
    heading: &str,
    caption: &str,
    empty: &str,
    listed: &Listed,
    q: &ListQuery,
    fresh: Option<Uuid>,
) -> Markup {
    let first = value(&q.dopo).is_empty();
    html! {
        section id=(id) class="mb-5" {
            h2 class="h3" { (heading) " " span class="badge bg-primary" { (listed.total) } }
            p class="small" id=(format!("{id}-conteggio")) {
                (plural::count(listed.total as usize, "pratica corrisponde", "pratiche corrispondono")) " ai filtri"
                @if listed.total > PAGE_SIZE { "; sono mostrate " (PAGE_SIZE) " per pagina" }
                "."
            }
            (case_table(base, &listed.page.rows, caption, empty, fresh))
            @if !first || listed.page.next.is_some() {
                nav aria-label="Pagine dell'elenco" class="d-flex flex-wrap gap-3" {
                    @if !first { a href=(format!("{base}?{}", q.at(None))) { "Prima pagina" } }
                    @if let Some(next) = &listed.page.next {
                        a rel="next" href=(format!("{base}?{}", q.at(Some(next)))) { "Pagina successiva" }
                    }
                }
            }
        }
    }
}

/// The columns of an export.
const HEADER: [&str; 13] = [
    "Protocollo",
    "Codice",
    "Presentata il",
    "Registrata il",
    "Richiedente",
    "Materia",
    "Canale",
    "Stato",
    "Relatore",
    "Urgente",
    "Termine",
    "Delibera",
    "Decisa il",
];

fn line(c: &cases::ExportRow, today: NaiveDate) -> Vec<String> {
    let date = |t: Option<DateTime<Utc>>| {
        t.map(|t| time::format_date(time::rome_date(t)))
            .unwrap_or_default()
    };
    vec![
        c.protocol().map(|p| p.to_string()).unwrap_or_default(),
        c.code.clone(),
        date(c.submitted_at),
        date(c.protocol_at),
        c.applicant_name.clone().unwrap_or_default(),
        c.matter
            .as_deref()
            .and_then(Matter::from_code)
            .map_or("", Matter::label)
            .to_owned(),
        channel_label(&c.channel).to_owned(),
        c.stage().label().to_owned(),
        c.rapporteur_name.clone().unwrap_or_default(),
        if c.urgent { "sì" } else { "no" }.to_owned(),
        c.clock(today)
            .map(|k| time::format_date(k.due))
            .unwrap_or_default(),
        c.delibera.clone().unwrap_or_default(),
        date(c.decided_at),
    ]
}

pub async fn export_csv<R: AreaRole>(
    state: State<AppState>,
    tenant: CurrentTenant,
    who: InArea<R>,
    q: Query<ListQuery>,
) -> Result<Response, AppError> {
    export(state, tenant, who, q, FileKind::Csv).await
}

pub async fn export_xlsx<R: AreaRole>(
    state: State<AppState>,
    tenant: CurrentTenant,
    who: InArea<R>,
    q: Query<ListQuery>,
) -> Result<Response, AppError> {
    export(state, tenant, who, q, FileKind::Xlsx).await
}

/// Every row the filters select (not just the page shown), in the list's order, as a file;
/// recorded in the audit log with the filters and the number of rows (no personal data).
///
/// The count and the rows are read on one snapshot (so the audited number is the file's);
/// the audit entry is committed before the first byte leaves. The CSV streams: the rows are
/// read from a cursor over the list's columns and written to the response as they come (a few
/// kilobytes in memory whatever the number of rows); the .xlsx is built whole in memory by its
/// writer (a zip of the sheet), so it keeps a lower bound. At most [`EXPORTS_AT_ONCE`] exports
/// run at once on one instance; another waits its turn with a message.
#[tracing::instrument(name = "esporta l'elenco delle pratiche", skip_all, fields(tenant = %tenant.slug, area = who.role().area(), formato = kind.extension()))]
async fn export<R: AreaRole>(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<R>,
    Query(q): Query<ListQuery>,
    kind: FileKind,
) -> Result<Response, AppError> {
    let role = who.role();
    let parsed = q.parse(role);
    let base = area_base(&tenant, &who);
    let back = format!("{base}?{}", q.query_string(false));
    if !parsed.errors.is_empty() {
        let text = "Alcuni filtri non sono validi: correggerli nell'elenco prima di esportare.";
        return Ok(refused(&tenant, &who, &base, &back, text));
    }
    let Ok(permit) = state.exports.clone().try_acquire_owned() else {
        let text = "Sono in corso altre esportazioni: riprovare tra qualche secondo.";
        let mut res = refused(&tenant, &who, &base, &back, text);
        *res.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        res.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("5"),
        );
        return Ok(res);
    };
    let bound = match kind {
        FileKind::Csv => CSV_EXPORT_MAX,
        FileKind::Xlsx => EXPORT_MAX,
    };
    let grant = view_grant(&tenant, &who)?;
    let lawyer_id = who.user.lawyer_id;
    let mut tx = state.db.tenant_snapshot(tenant.id).await?;
    let total = cases::count(&mut tx, &viewer(&grant, &who), &parsed.filter).await?;
    if total > bound {
        drop(tx);
        let text = format!(
            "I filtri selezionano {} pratiche: un'esportazione {} ne contiene al massimo {}. Restringere i filtri (per esempio l'intervallo di date) ed esportare in più parti{}.",
            plural::thousands(total),
            match kind {
                FileKind::Csv => "CSV",
                FileKind::Xlsx => "Excel",
            },
            plural::thousands(bound),
            match kind {
                FileKind::Csv => "",
                FileKind::Xlsx => ", oppure esportare in CSV",
            },
        );
        return Ok(refused(&tenant, &who, &base, &back, &text));
    }
    // Recorded and committed before anything is sent: a download cut short is still one
    // that happened.
    let filters = q.query_string(false);
    let mut audit_tx = state.db.tenant_tx(tenant.id).await?;
    audit::record(
        &mut audit_tx,
        audit::Entry {
            actor: &super::actor(&who),
            action: "elenco_esportato",
            target_kind: None,
            target_id: None,
            outcome: "ok",
            details: serde_json::json!({
                "area": role.area(),
                "formato": kind.extension(),
                "righe": total,
                "filtri": filters,
            }),
        },
    )
    .await?;
    audit_tx.commit().await?;
    let today = super::today();
    let name = format!("pratiche-{}.{}", today.format("%Y-%m-%d"), kind.extension());
    let filter = parsed.filter;
    let sort = parsed.sort;
    if kind == FileKind::Xlsx {
        let viewer = cases::Viewer {
            grant: &grant,
            lawyer_id,
        };
        let sql = cases::export_sql(&viewer, &filter, sort);
        let rows = cases::export_query(&sql, &viewer, &filter, bound)
            .fetch_all(tx.conn())
            .await
            .map_err(anyhow::Error::from)?;
        tx.commit().await?;
        let lines: Vec<Vec<String>> = rows.iter().map(|c| line(c, today)).collect();
        let bytes = export::xlsx("Pratiche", &HEADER, &lines)?;
        tracing::info!(righe = lines.len(), "elenco esportato");
        drop(permit);
        return Ok(export::download(bytes, kind, &name));
    }
    // The CSV: a task reads the cursor and hands chunks to the response through a small
    // channel (when the client reads slowly, the reading waits; when it goes away, the task
    // stops and the snapshot is let go).
    let (send, receive) =
        tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(4);
    let span = tracing::Span::current();
    tokio::spawn(
        async move {
            let _permit = permit;
            let viewer = cases::Viewer {
                grant: &grant,
                lawyer_id,
            };
            let sql = cases::export_sql(&viewer, &filter, sort);
            let written = async {
                let mut out = export::CsvChunks::new(&HEADER)?;
                let mut rows = cases::export_query(&sql, &viewer, &filter, bound).fetch(tx.conn());
                let mut n = 0usize;
                while let Some(row) = futures_util::TryStreamExt::try_next(&mut rows).await? {
                    out.row(&line(&row, today))?;
                    n += 1;
                    if out.pending() >= CHUNK_BYTES
                        && send.send(Ok(out.take()?.into())).await.is_err()
                    {
                        anyhow::bail!("the client went away");
                    }
                }
                drop(rows);
                let last = out.take()?;
                if send.send(Ok(last.into())).await.is_err() {
                    anyhow::bail!("the client went away");
                }
                Ok::<usize, anyhow::Error>(n)
            }
            .await;
            match written {
                Ok(n) => tracing::info!(righe = n, "elenco esportato"),
                Err(e) => {
                    tracing::warn!(error = format!("{e:#}"), "esportazione interrotta");
                    // The response ends with an error, never as a file that looks complete.
                    let _ = send
                        .send(Err(std::io::Error::other("esportazione interrotta")))
                        .await;
                }
            }
            drop(tx);
        }
        .instrument(span),
    );
    let body =
        axum::body::Body::from_stream(futures_util::stream::unfold(receive, |mut r| async move {
            r.recv().await.map(|chunk| (chunk, r))
        }));
    Ok(export::csv_stream(body, &name))
}

/// An export that cannot be made: why, and the way back (`back`) to the list with its filters.
pub(crate) fn refused<R: AreaRole>(
    tenant: &CurrentTenant,
    who: &InArea<R>,
    base: &str,
    back: &str,
    text: &str,
) -> Response {
    let title = "Esportazione non eseguita";
    let page = layout::page(
        &PageMeta::area(title, tenant, who),
        html! {
            (layout::breadcrumb(&[(who.role().area_title(), Some(base)), (title, None)]))
            h1 { (title) }
            div class="alert alert-warning" role="alert" { (text) }
            p { a href=(back) { "Torna all'elenco con i filtri scelti" } }
        },
    );
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}
