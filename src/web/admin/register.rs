//! The register of lawyers (Albo): upload the CSV, see what would change, apply it (in the
//! background, with progress), read the report; and the activation links of new accounts.

use crate::domain::plural;
use axum::{
    Form as HtmlForm,
    extract::{Multipart, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    crypto,
    db::Db,
    domain::{
        access::{Grant, ManageRegister, authorize},
        register::{self, AbsentChoice, Approved, Choices, Plan, Refusal},
        tenant::TenantId,
        time,
    },
    store::{
        audit::{self, Actor, Entry},
        register::{self as store, Deactivation, Import, Report},
        users,
    },
    web::{
        AppState,
        auth::{Amministratore, InArea},
        error::AppError,
        layout::{self, PageMeta, csrf_field},
        public::file_response,
        tenant::{CurrentTenant, PathParams},
    },
};

/// Up to the upload route's body limit (`PATROCINIO_MAX_FILE_MB`).
const MAX_FILE: usize = 1024 * 1024 * 1024;
const SHOWN: usize = 50;
/// Lawyers to disable are all worth reading; a garbled file is cut here (the count stays).
const SHOWN_OFF: usize = 500;

fn grant(
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
) -> Result<Grant<ManageRegister>, AppError> {
    authorize::<ManageRegister>(tenant.id, who.user.id, &who.user.roles, who.role())
        .ok_or(AppError::Forbidden)
}

fn base(tenant: &CurrentTenant) -> String {
    format!("/{}/amministrazione/albo", tenant.slug)
}

fn frame(
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    title: &str,
    body: Markup,
) -> Markup {
    layout::page(
        &PageMeta::area(title, tenant, who),
        html! {
            (layout::breadcrumb(&[
                ("Amministrazione", Some(&format!("/{}/amministrazione", tenant.slug))),
                ("Albo degli avvocati", Some(&base(tenant))),
            ]))
            h1 { (title) }
            (body)
        },
    )
}

async fn upload_page(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    problem: Option<&str>,
) -> Result<Markup, AppError> {
    let grant = grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let imports = store::recent_imports(&mut tx, &grant).await?;
    tx.commit().await?;
    let base = base(tenant);
    Ok(frame(
        tenant,
        who,
        "Albo degli avvocati",
        html! {
            p {
                "Caricare l'esportazione completa dell'albo in formato CSV (separato da punto e virgola o da virgola, UTF-8), "
                "con una riga di intestazione e le colonne: cognome, nome, codice_fiscale, numero_iscrizione, pec, email, "
                "stato (attivo, sospeso, cancellato), materie (civile, penale, amministrativo, contabile, tributario, "
                "volontaria giurisdizione, separate da |). Prima dell'importazione si vede che cosa cambierebbe. "
                "Gli avvocati che non compaiono nel file vengono disattivati solo se lo si sceglie espressamente, "
                "e la disattivazione si può annullare dal resoconto; le righe con errori non modificano nulla."
            }
            @if let Some(p) = problem {
                div class="alert alert-danger" role="alert" { (p) }
            }
            form method="post" action=(base) enctype="multipart/form-data" class="card card-bg p-3 mb-4" {
                (layout::csrf_field(&who.csrf))
                div class="form-group" {
                    label class="active" for="file" { "File CSV dell'albo" }
                    input type="file" id="file" name="file" class="form-control" accept=".csv,text/csv";
                }
                div { button type="submit" class="btn btn-primary" { "Carica e mostra l'anteprima" } }
            }
            h2 class="h4" { "Link di attivazione" }
            p { "Gli avvocati creati dall'importazione ricevono un account da attivare. Fino all'invio automatico per e-mail, scaricare qui i link (validi 48 ore, uno per avvocato) e inoltrarli: ogni scaricamento sostituisce i link precedenti non usati." }
            form method="post" action=(format!("{base}/link-attivazione")) class="mb-4" {
                (csrf_field(&who.csrf))
                button type="submit" class="btn btn-outline-primary" { "Scarica i link di attivazione (CSV)" }
            }
            @if !imports.is_empty() {
                h2 class="h4" { "Ultime importazioni" }
                ul {
                    @for i in &imports {
                        li {
                            a href=(format!("{base}/{}", i.id)) { (i.filename) }
                            " · " (time::format_date_time(i.created_at)) " · " (status_label(i))
                        }
                    }
                }
            }
        },
    ))
}

fn status_label(i: &Import) -> &'static str {
    match i.status.as_str() {
        "anteprima" => "anteprima, non applicata",
        "in_corso" => "in corso",
        "applicata" => "applicata",
        _ => "non riuscita",
    }
}

pub async fn home(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
) -> Result<Markup, AppError> {
    upload_page(&state, &tenant, &who, None).await
}

pub async fn upload(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let mut file: Option<(String, Vec<u8>)> = None;
    let mut too_big = false;
    loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => {
                // Over the route's body limit, or a broken upload.
                too_big = true;
                break;
            }
        };
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().unwrap_or("albo.csv").to_owned();
        let mut bytes = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) if bytes.len() + chunk.len() <= MAX_FILE => {
                    bytes.extend_from_slice(&chunk)
                }
                Ok(None) => break,
                _ => {
                    too_big = true;
                    break;
                }
            }
        }
        file = Some((name, bytes));
    }
    let problem = match &file {
        _ if too_big => Some(format!(
            "Il file non è stato ricevuto per intero: non può superare {} MB.",
            state.settings.limits.max_file_bytes / (1024 * 1024)
        )),
        None => Some("Scegliere il file CSV dell'albo.".to_owned()),
        Some((_, bytes)) => register::parse(bytes).err().map(|e| e.to_string()),
    };
    if let Some(problem) = problem {
        let page = upload_page(&state, &tenant, &who, Some(&problem)).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let (name, bytes) = file.expect("checked");
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let id = store::create_import(&mut tx, &grant, &name, &bytes, Some(who.user.id)).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("{}/{id}", base(&tenant))).into_response())
}

/// Parses the stored file and compares it with what we hold now.
async fn plan_of(
    db: &Db,
    tenant: TenantId,
    grant: &Grant<ManageRegister>,
    import: &Import,
) -> Result<(Plan, Vec<register::BadLine>), AppError> {
    let (records, bad) = register::parse(&import.content).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut tx = db.tenant_tx(tenant).await?;
    let current = store::current(&mut tx, grant).await?;
    tx.commit().await?;
    Ok((register::plan(&records, &bad, &current), bad))
}

/// The administrator's choices as the preview's form sends them; a missing field is no choice.
fn choices_of(fields: &[(String, String)]) -> Choices {
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    };
    Choices {
        ignore_errors: get("ignora_errori").is_some_and(|v| !v.is_empty()),
        absent: match get("disattivazioni") {
            Some("conferma") => AbsentChoice::Disable {
                shown: get("previsti").and_then(|v| v.parse().ok()).unwrap_or(0),
            },
            Some("nessuna") => AbsentChoice::Keep,
            _ => AbsentChoice::Unsaid,
        },
        confirm_many: get("conferma_massiva").is_some_and(|v| !v.is_empty()),
    }
}

fn lines_label(lines: &[usize]) -> String {
    let list: Vec<String> = lines.iter().map(usize::to_string).collect();
    match lines {
        [_] => format!("riga {}", list[0]),
        _ => format!("righe {}", list.join(", ")),
    }
}

fn rows(n: usize) -> String {
    plural::count(n, "riga", "righe")
}

fn lawyers(n: usize) -> String {
    plural::count(n, "avvocato", "avvocati")
}

fn preview(
    base: &str,
    import: &Import,
    plan: &Plan,
    bad: &[register::BadLine],
    csrf: &str,
    chosen: &Choices,
    refusals: &[Refusal],
) -> Markup {
    let (n_bad, n_off) = (bad.len(), plan.disable.len());
    let shown_off = match chosen.absent {
        AbsentChoice::Disable { .. } => Some("conferma"),
        AbsentChoice::Keep => Some("nessuna"),
        AbsentChoice::Unsaid => None,
    };
    html! {
        @if !refusals.is_empty() {
            div class="alert alert-danger" role="alert" id="scelte-mancanti" {
                p { strong { "L'importazione non è stata applicata: non è cambiato nulla." } }
                ul class="mb-0" { @for r in refusals { li { (r) } } }
            }
        }
        p { "File " strong { (import.filename) } ", caricato il " (time::format_date_time(import.created_at)) "." }
        ul class="list-unstyled" id="riepilogo-importazione" {
            li { strong { (plan.create.len()) } " " (plural::word(plan.create.len(), "avvocato", "avvocati")) " da aggiungere" }
            li { strong { (plan.update.len()) } " da aggiornare" }
            li { strong { (n_off) } " da disattivare (non presenti nel file)" }
            @if !plan.kept.is_empty() {
                li { strong { (plan.kept.len()) } " " (plural::word(plan.kept.len(), "lasciato com'è perché una riga con errori potrebbe riferirsi a lui", "lasciati come sono perché una riga con errori potrebbe riferirsi a loro")) }
            }
            li { strong { (plan.unchanged) } " " (plural::word(plan.unchanged, "invariato", "invariati")) }
            li { strong { (n_bad) } " " (plural::word(n_bad, "riga con errori (non importata)", "righe con errori (non importate)")) }
        }
        @if !bad.is_empty() {
            div class="table-responsive" tabindex="0" role="region" aria-label="Righe con errori: non modificano nulla" {
                table class="table table-sm" id="righe-errate" {
                    caption { "Righe con errori: non modificano nulla" }
                    thead { tr {
                        th scope="col" { "Riga" } th scope="col" { "Motivo" }
                        th scope="col" { "Avvocato dell'albo a cui potrebbe riferirsi" }
                    } }
                    tbody { @for b in bad { tr {
                        td { (b.line) } td { (b.reason) }
                        td { @match plan.about.get(&b.line) {
                            Some(names) => (names.join(", ")),
                            None => em { "nessuno" },
                        } }
                    } } }
                }
            }
        }
        @if !plan.create.is_empty() {
            h2 class="h5" { "Da aggiungere" }
            ul { @for r in plan.create.iter().take(SHOWN) { li { (r.name()) " (" (r.codice_fiscale) ")" } } }
            @if plan.create.len() > SHOWN { p { "… e altri " (plan.create.len() - SHOWN) "." } }
        }
        @if !plan.update.is_empty() {
            h2 class="h5" { "Da aggiornare" }
            ul { @for (r, fields) in plan.update.iter().take(SHOWN) { li { (r.name()) ": " (fields.join(", ")) } } }
            @if plan.update.len() > SHOWN { p { "… e altri " (plan.update.len() - SHOWN) "." } }
        }
        @if !plan.kept.is_empty() {
            section id="lasciati-come-sono" {
                h2 class="h5" { "Lasciati come sono: " (lawyers(plan.kept.len())) }
                p { "Non compaiono fra le righe valide del file, ma una riga con errori potrebbe riferirsi a loro (stesso codice fiscale o quasi, numero di iscrizione, PEC, e-mail o nominativo): non vengono né aggiornati né disattivati." }
                ul { @for (l, lines) in &plan.kept {
                    li { (l.name) @if let Some(n) = &l.register_number { ", n. " (n) } " — " (lines_label(lines)) }
                } }
            }
        }
        @if n_off > 0 {
            section id="da-disattivare" {
                h2 class="h5" { "Da disattivare perché non presenti nel file: " (lawyers(n_off)) }
                p { "Ognuno viene cancellato dall'albo e i suoi account vengono disattivati. Dopo l'importazione la disattivazione si può annullare con «Ripristina» dal resoconto." }
                @if !plan.unmatched.is_empty() {
                    div class="alert alert-warning" role="alert" id="righe-non-riconducibili" {
                        "Attenzione: " (rows(plan.unmatched.len())) " con errori (" (lines_label(&plan.unmatched))
                        ") non " @if plan.unmatched.len() == 1 { "è riconducibile" } @else { "sono riconducibili" }
                        " a nessun avvocato dell'albo: fra quelli elencati qui potrebbe esserci proprio chi vi è descritto. "
                        "Conviene correggere il file, oppure non disattivare nessuno in questa importazione."
                    }
                }
                @if plan.disables_many() {
                    div class="alert alert-danger" role="alert" id="disattivazione-massiva" {
                        "Si disattiverebbe il " (plan.disable_percent()) "% degli iscritti (" (n_off) " su " (plan.enrolled) "): "
                        "più del " (register::MANY_SHARE_PERCENT) "%. Un file incompleto o letto male dà lo stesso risultato: controllare prima di confermare."
                    }
                }
                div class="table-responsive" tabindex="0" role="region" aria-label="Avvocati da disattivare" {
                    table class="table table-sm" {
                        caption { "Avvocati da disattivare" }
                        thead { tr {
                            th scope="col" { "Avvocato" } th scope="col" { "Codice fiscale" }
                            th scope="col" { "Numero di iscrizione" } th scope="col" { "Stato attuale" }
                        } }
                        tbody { @for l in plan.disable.iter().take(SHOWN_OFF) { tr {
                            td { (l.name) } td { (l.codice_fiscale) }
                            td { (l.register_number.as_deref().unwrap_or("—")) } td { (l.status.code()) }
                        } } }
                    }
                }
                @if n_off > SHOWN_OFF { p { @if n_off - SHOWN_OFF == 1 { "… e un altro." } @else { "… e altri " (n_off - SHOWN_OFF) "." } } }
            }
        }
        form method="post" action=(format!("{base}/{}/applica", import.id)) id="applica-importazione" class="card card-bg p-3" {
            (csrf_field(csrf))
            @if n_bad > 0 {
                div class="form-check" {
                    input type="checkbox" id="ignora_errori" name="ignora_errori" value="si" required checked[chosen.ignore_errors];
                    label for="ignora_errori" {
                        @if n_bad == 1 { "Applica comunque, ignorando la riga con errori" }
                        @else { "Applica comunque, ignorando le " (n_bad) " righe con errori" }
                    }
                    small class="form-text d-block" { "Le righe con errori non modificano nulla: gli avvocati a cui potrebbero riferirsi restano come sono." }
                }
            }
            @if n_off > 0 {
                input type="hidden" name="previsti" value=(n_off);
                fieldset class="mt-3" {
                    legend class="h6" { "Avvocati non presenti nel file (" (n_off) ")" }
                    div class="form-check" {
                        input type="radio" id="disattivazioni-conferma" name="disattivazioni" value="conferma" required checked[shown_off == Some("conferma")];
                        label for="disattivazioni-conferma" { "Disattiva " @if n_off == 1 { "l'avvocato elencato" } @else { "i " (n_off) " avvocati elencati" } " e i loro account" }
                    }
                    div class="form-check" {
                        input type="radio" id="disattivazioni-nessuna" name="disattivazioni" value="nessuna" checked[shown_off == Some("nessuna")];
                        label for="disattivazioni-nessuna" { "Non disattivare nessuno in questa importazione" }
                    }
                }
                @if plan.disables_many() {
                    div class="form-check mt-2" {
                        input type="checkbox" id="conferma_massiva" name="conferma_massiva" value="si" checked[chosen.confirm_many];
                        label for="conferma_massiva" {
                            "Confermo la disattivazione di " (plural::count(n_off, "avvocato", "avvocati")) " su " (plural::count(plan.enrolled, "iscritto", "iscritti")) " (" (plan.disable_percent()) "%)"
                        }
                    }
                }
            }
            div class="mt-3" {
                button type="submit" class="btn btn-primary" {
                    @if n_bad == 0 && n_off == 0 { "Applica l'importazione" } @else { "Applica l'importazione con le scelte indicate" }
                }
            }
        }
    }
}

fn progress(import: &Import) -> Markup {
    let pct = if import.total > 0 {
        (import.processed as f64 / import.total as f64 * 100.0).round() as i64
    } else {
        0
    };
    html! {
        div id="avanzamento" {
            p { "Importazione in corso: " (import.processed) " di " (import.total) "." }
            progress class="w-100" value=(pct) max="100" aria-label="Avanzamento dell'importazione" { (pct) "%" }
        }
    }
}

/// What to say above the report after an undo.
enum Notice {
    Done(String),
    Problem(String),
}

fn report(
    base: &str,
    import: Uuid,
    r: &Report,
    off: &[Deactivation],
    csrf: &str,
    notice: Option<&Notice>,
) -> Markup {
    let restorable = off.iter().filter(|d| d.restorable).count();
    html! {
        @match notice {
            Some(Notice::Done(m)) => div class="alert alert-success" role="status" id="esito-ripristino" { (m) },
            Some(Notice::Problem(m)) => div class="alert alert-danger" role="alert" id="esito-ripristino" { (m) },
            None => {}
        }
        div class="alert alert-success" role="status" id="esito-importazione" {
            p class="mb-1" { "Importazione completata." }
            ul class="mb-0" {
                li { "aggiunti: " (r.created) }
                li { "aggiornati: " (r.updated) }
                li { "disattivati: " (r.disabled) }
                @if r.kept > 0 { li { "lasciati come sono perché una riga con errori potrebbe riferirsi a loro: " (r.kept) } }
                @if r.not_disabled > 0 { li { "non presenti nel file ma non disattivati, per scelta: " (r.not_disabled) } }
                li { "invariati: " (r.unchanged) }
                li { "account da attivare creati: " (r.accounts) }
                li { "righe con errori: " (r.bad_lines.len()) }
            }
        }
        @if !off.is_empty() {
            section id="disattivati" class="mb-4" {
                h2 class="h4" { "Disattivati da questa importazione: " (lawyers(off.len())) }
                p { "Erano nell'albo ma non nel file. «Ripristina» li riporta allo stato che avevano, con gli account che l'importazione aveva disattivato, finché nulla li ha modificati dopo questa importazione (per esempio un'importazione successiva che li contiene di nuovo)." }
                @if restorable > 1 {
                    form method="post" action=(format!("{base}/{import}/ripristina")) class="mb-2" {
                        (csrf_field(csrf))
                        button type="submit" class="btn btn-outline-primary" { "Ripristina tutti (" (restorable) ")" }
                    }
                }
                div class="table-responsive" tabindex="0" role="region" aria-label="Avvocati disattivati perché non presenti nel file" {
                    table class="table table-sm" {
                        caption { "Avvocati disattivati perché non presenti nel file" }
                        thead { tr {
                            th scope="col" { "Avvocato" } th scope="col" { "Numero di iscrizione" }
                            th scope="col" { "Account disattivati" } th scope="col" { "Ripristino" }
                        } }
                        tbody { @for d in off { tr id=(format!("disattivato-{}", d.lawyer_id)) {
                            td { (d.name) }
                            td { (d.register_number.as_deref().unwrap_or("—")) }
                            td { (d.accounts) }
                            td {
                                @if let Some(at) = d.restored_at {
                                    "Ripristinato il " (time::format_date_time(at))
                                } @else if d.restorable {
                                    form method="post" action=(format!("{base}/{import}/ripristina/{}", d.lawyer_id)) {
                                        (csrf_field(csrf))
                                        button type="submit" class="btn btn-outline-primary btn-sm" { "Ripristina" span class="visually-hidden" { " " (d.name) } }
                                    }
                                } @else {
                                    "Modificato dopo questa importazione: non si ripristina da qui"
                                }
                            }
                        } } }
                    }
                }
            }
        }
        @if !r.bad_lines.is_empty() {
            div class="table-responsive" tabindex="0" role="region" aria-label="Righe con errori" {
                table class="table table-sm" {
                    caption { "Righe con errori" }
                    thead { tr { th scope="col" { "Riga" } th scope="col" { "Motivo" } } }
                    tbody { @for (line, reason) in &r.bad_lines { tr { td { (line) } td { (reason) } } } }
                }
            }
        }
    }
}

/// The page of an applied import: its report and the lawyers it disabled.
async fn applied(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    import: &Import,
    notice: Option<&Notice>,
) -> Result<Markup, AppError> {
    let grant = grant(tenant, who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let off = store::deactivations(&mut tx, &grant, import.id).await?;
    tx.commit().await?;
    Ok(match &import.report {
        Some(r) => report(&base(tenant), import.id, r, &off, &who.csrf, notice),
        None => html! {},
    })
}

pub async fn show(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let id = params.id("import")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let import = store::get_import(&mut tx, &grant, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let base = base(&tenant);
    let body = match import.status.as_str() {
        "anteprima" => {
            let (plan, bad) = plan_of(&state.db, tenant.id, &grant, &import).await?;
            preview(
                &base,
                &import,
                &plan,
                &bad,
                &who.csrf,
                &Choices::default(),
                &[],
            )
        }
        "in_corso" => html! {
            // Without JavaScript the page reloads itself; with htmx only the bar is refreshed.
            div data-hx-get=(format!("{base}/{id}")) data-hx-trigger="every 1s" data-hx-select="#avanzamento" data-hx-swap="outerHTML" data-hx-target="#avanzamento" {
                (progress(&import))
            }
            noscript { p { a href=(format!("{base}/{id}")) { "Aggiorna la pagina" } " per vedere l'avanzamento." } }
        },
        "applicata" => applied(&state, &tenant, &who, &import, None).await?,
        _ => html! {
            div class="alert alert-danger" role="alert" { "L'importazione non è riuscita e non ha modificato nulla. Riprovare; se il problema persiste contattare l'assistenza." }
        },
    };
    Ok(frame(&tenant, &who, "Importazione dell'albo", body).into_response())
}

/// Applies the file in the background, in one transaction; progress is written as it goes.
/// Lines with errors and lawyers to disable need the administrator's explicit choices: without
/// them the preview comes back (422) with what is missing, and nothing changes.
pub async fn apply(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
    HtmlForm(fields): HtmlForm<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let id = params.id("import")?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let import = store::get_import(&mut tx, &grant, id)
        .await?
        .ok_or(AppError::NotFound)?;
    tx.commit().await?;
    let target = format!("{}/{id}", base(&tenant));
    if import.status != "anteprima" {
        return Ok(Redirect::to(&target).into_response());
    }
    let (plan, bad) = plan_of(&state.db, tenant.id, &grant, &import).await?;
    let choices = choices_of(&fields);
    let approved = match register::approve(plan, bad, &choices) {
        Ok(approved) => approved,
        Err(rejected) => {
            tracing::info!(
                import.id = %id,
                refusals = rejected.refusals.len(),
                "register import refused: explicit choices missing"
            );
            let body = preview(
                &base(&tenant),
                &import,
                &rejected.plan,
                &rejected.bad,
                &who.csrf,
                &choices,
                &rejected.refusals,
            );
            let page = frame(&tenant, &who, "Importazione dell'albo", body);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
        }
    };
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    if !store::start(&mut tx, id, approved.total()).await? {
        return Ok(Redirect::to(&target).into_response());
    }
    tx.commit().await?;
    let actor = Actor::user(who.user.id, &who.user.name);
    tokio::spawn(run_import(
        state.db.clone(),
        tenant.id,
        grant,
        id,
        approved,
        actor,
    ));
    Ok(Redirect::to(&target).into_response())
}

#[tracing::instrument(name = "register.import", skip_all, fields(import.id = %id))]
pub async fn run_import(
    db: Db,
    tenant: TenantId,
    grant: Grant<ManageRegister>,
    id: Uuid,
    approved: Approved,
    actor: Actor,
) {
    let (tx_progress, mut rx) = tokio::sync::watch::channel(0usize);
    let writer_db = db.clone();
    let writer = tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            let done = *rx.borrow_and_update();
            if let Ok(mut tx) = writer_db.tenant_tx(tenant).await
                && store::set_progress(&mut tx, id, done).await.is_ok()
            {
                let _ = tx.commit().await;
            }
        }
    });
    let result = async {
        let mut tx = db.tenant_tx(tenant).await?;
        let report = store::apply(&mut tx, &grant, id, &approved, |n| {
            let _ = tx_progress.send(n);
        })
        .await?;
        store::finish(&mut tx, id, "applicata", Some(&report)).await?;
        audit::record(
            &mut tx,
            Entry {
                actor: &actor,
                action: "albo_importato",
                target_kind: Some("importazione"),
                target_id: Some(id.to_string()),
                outcome: "ok",
                details: serde_json::json!({
                    "aggiunti": report.created, "aggiornati": report.updated,
                    "disattivati": report.disabled, "righe_errate": report.bad_lines.len(),
                    "lasciati_per_righe_errate": report.kept,
                    "non_disattivati_per_scelta": report.not_disabled,
                }),
            },
        )
        .await?;
        tx.commit().await?;
        anyhow::Ok(report)
    }
    .await;
    drop(tx_progress);
    let _ = writer.await;
    match result {
        Ok(r) => tracing::info!(
            created = r.created,
            updated = r.updated,
            disabled = r.disabled,
            kept = r.kept,
            "register import applied"
        ),
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "register import failed");
            if let Ok(mut tx) = db.tenant_tx(tenant).await
                && store::finish(&mut tx, id, "errore", None).await.is_ok()
            {
                let _ = tx.commit().await;
            }
        }
    }
}

/// «Ripristina» for one lawyer an import disabled.
pub async fn restore_one(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
) -> Result<Response, AppError> {
    let import = params.id("import")?;
    let lawyer = params.id("lawyer")?;
    restore(&state, &tenant, &who, import, Some(lawyer)).await
}

/// «Ripristina tutti» on an import's report.
pub async fn restore_all(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
    params: PathParams,
) -> Result<Response, AppError> {
    let import = params.id("import")?;
    restore(&state, &tenant, &who, import, None).await
}

/// Undoes deactivations of `import` (one lawyer's, or all), audited per lawyer. A second click
/// changes nothing and says so; a lawyer changed since the import is left alone (409 for one).
async fn restore(
    state: &AppState,
    tenant: &CurrentTenant,
    who: &InArea<Amministratore>,
    id: Uuid,
    lawyer: Option<Uuid>,
) -> Result<Response, AppError> {
    let grant = grant(tenant, who)?;
    let work = async {
        let mut tx = state.db.tenant_tx(tenant.id).await?;
        let import = store::get_import(&mut tx, &grant, id)
            .await?
            .ok_or(AppError::NotFound)?;
        let done = store::restore(&mut tx, &grant, id, lawyer, Some(who.user.id)).await?;
        if lawyer.is_some() && done == store::Restored::default() {
            // Not a lawyer this import disabled.
            return Err(AppError::NotFound);
        }
        let actor = Actor::user(who.user.id, &who.user.name);
        for (lawyer, accounts) in &done.restored {
            audit::record(
                &mut tx,
                Entry {
                    actor: &actor,
                    action: "albo_disattivazione_annullata",
                    target_kind: Some("avvocato"),
                    target_id: Some(lawyer.to_string()),
                    outcome: "ok",
                    details: serde_json::json!({
                        "importazione": id.to_string(), "account_riattivati": accounts,
                    }),
                },
            )
            .await?;
        }
        tx.commit().await?;
        tracing::info!(
            restored = done.restored.len(),
            already = done.already,
            changed = done.changed,
            "register deactivations undone"
        );
        Ok::<_, AppError>((import, done))
    };
    let (import, done) = work
        .instrument(tracing::info_span!("register.restore", import.id = %id))
        .await?;
    let accounts: usize = done.restored.iter().map(|(_, n)| n).sum();
    let mut said = Vec::new();
    if !done.restored.is_empty() {
        said.push(format!(
            "Ripristino eseguito: {} di nuovo nell'albo; account riattivati: {accounts}.",
            lawyers(done.restored.len())
        ));
    }
    if done.already > 0 && done.restored.is_empty() && done.changed == 0 {
        said.push("Il ripristino era già stato eseguito: non è cambiato nulla.".to_owned());
    }
    match done.changed {
        0 => {}
        1 => said.push(
            "1 avvocato non è stato ripristinato perché modificato dopo questa importazione (per esempio da un'importazione successiva): verificarne la scheda.".to_owned(),
        ),
        n => said.push(format!(
            "{n} avvocati non sono stati ripristinati perché modificati dopo questa importazione (per esempio da un'importazione successiva): verificarne la scheda."
        )),
    }
    if said.is_empty() {
        said.push("Nessun avvocato da ripristinare.".to_owned());
    }
    let (status, notice) = if done.changed > 0 && done.restored.is_empty() {
        (StatusCode::CONFLICT, Notice::Problem(said.join(" ")))
    } else {
        (StatusCode::OK, Notice::Done(said.join(" ")))
    };
    let body = applied(state, tenant, who, &import, Some(&notice)).await?;
    Ok((status, frame(tenant, who, "Importazione dell'albo", body)).into_response())
}

/// New activation links for every lawyer account still to activate, as a CSV to pass on.
pub async fn activation_links(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    who: InArea<Amministratore>,
) -> Result<Response, AppError> {
    let grant = grant(&tenant, &who)?;
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    let accounts = store::invited_lawyer_accounts(&mut tx, &grant).await?;
    let mut writer = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(Vec::new());
    writer
        .write_record(["nominativo", "email", "link", "valido_fino_al"])
        .map_err(anyhow::Error::from)?;
    for (id, name, email) in &accounts {
        let token = crypto::random_hex::<32>();
        let expires = users::issue_link(&mut tx, *id, "attivazione", &token).await?;
        let link = format!(
            "{}/{}/imposta-password/{token}",
            state.settings.public_url, tenant.slug
        );
        writer
            .write_record([name, email, &link, &time::format_date_time(expires)])
            .map_err(anyhow::Error::from)?;
    }
    audit::record(
        &mut tx,
        Entry {
            actor: &Actor::user(who.user.id, &who.user.name),
            action: "link_attivazione_emessi",
            target_kind: Some("albo"),
            target_id: None,
            outcome: "ok",
            details: serde_json::json!({ "account": accounts.len() }),
        },
    )
    .await?;
    tx.commit().await?;
    let bytes = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("csv: {e}"))?;
    Ok(file_response(
        bytes,
        "text/csv; charset=utf-8",
        "link-attivazione.csv",
    ))
}
