//! The register of lawyers (Albo): upload the CSV, see what would change, apply it (in the
//! background, with progress), read the report; and the activation links of new accounts.

use axum::{
    extract::{Multipart, State},
    http::StatusCode,
    response::{IntoResponse, Redirect, Response},
};
use maud::{Markup, html};
use uuid::Uuid;

use crate::{
    crypto,
    db::Db,
    domain::{
        access::{Grant, ManageRegister, authorize},
        register::{self, Plan},
        tenant::TenantId,
        time,
    },
    store::{
        audit::{self, Actor, Entry},
        register::{self as store, Import, Report},
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
                "volontaria giurisdizione, separate da |). Prima dell'importazione si vede che cosa cambierebbe: "
                "gli avvocati che non compaiono nel file vengono disattivati."
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
    Ok((register::plan(&records, &current), bad))
}

fn preview(
    base: &str,
    import: &Import,
    plan: &Plan,
    bad: &[register::BadLine],
    csrf: &str,
) -> Markup {
    html! {
        p { "File " strong { (import.filename) } ", caricato il " (time::format_date_time(import.created_at)) "." }
        ul class="list-unstyled" id="riepilogo-importazione" {
            li { strong { (plan.create.len()) } " avvocati da aggiungere" }
            li { strong { (plan.update.len()) } " da aggiornare" }
            li { strong { (plan.disable.len()) } " da disattivare (non presenti nel file)" }
            li { strong { (plan.unchanged) } " invariati" }
            li { strong { (bad.len()) } " righe con errori (non importate)" }
        }
        @if !bad.is_empty() {
            table class="table table-sm" id="righe-errate" {
                caption { "Righe con errori" }
                thead { tr { th scope="col" { "Riga" } th scope="col" { "Motivo" } } }
                tbody { @for b in bad { tr { td { (b.line) } td { (b.reason) } } } }
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
        @if !plan.disable.is_empty() {
            h2 class="h5" { "Da disattivare" }
            ul { @for (cf, name) in plan.disable.iter().take(SHOWN) { li { (name) " (" (cf) ")" } } }
            @if plan.disable.len() > SHOWN { p { "… e altri " (plan.disable.len() - SHOWN) "." } }
        }
        form method="post" action=(format!("{base}/{}/applica", import.id)) {
            (csrf_field(csrf))
            button type="submit" class="btn btn-primary" { "Applica l'importazione" }
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

fn report(r: &Report) -> Markup {
    html! {
        div class="alert alert-success" role="status" id="esito-importazione" {
            p class="mb-1" { "Importazione completata." }
            ul class="mb-0" {
                li { "aggiunti: " (r.created) }
                li { "aggiornati: " (r.updated) }
                li { "disattivati: " (r.disabled) }
                li { "invariati: " (r.unchanged) }
                li { "account da attivare creati: " (r.accounts) }
                li { "righe con errori: " (r.bad_lines.len()) }
            }
        }
        @if !r.bad_lines.is_empty() {
            table class="table table-sm" {
                caption { "Righe con errori" }
                thead { tr { th scope="col" { "Riga" } th scope="col" { "Motivo" } } }
                tbody { @for (line, reason) in &r.bad_lines { tr { td { (line) } td { (reason) } } } }
            }
        }
    }
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
            preview(&base, &import, &plan, &bad, &who.csrf)
        }
        "in_corso" => html! {
            // Without JavaScript the page reloads itself; with htmx only the bar is refreshed.
            div hx-get=(format!("{base}/{id}")) hx-trigger="every 1s" hx-select="#avanzamento" hx-swap="outerHTML" hx-target="#avanzamento" {
                (progress(&import))
            }
            noscript { p { a href=(format!("{base}/{id}")) { "Aggiorna la pagina" } " per vedere l'avanzamento." } }
        },
        "applicata" => match &import.report {
            Some(r) => report(r),
            None => html! {},
        },
        _ => html! {
            div class="alert alert-danger" role="alert" { "L'importazione non è riuscita e non ha modificato nulla. Riprovare; se il problema persiste contattare l'assistenza." }
        },
    };
    Ok(frame(&tenant, &who, "Importazione dell'albo", body).into_response())
}

/// Applies the file in the background, in one transaction; progress is written as it goes.
pub async fn apply(
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
    let target = format!("{}/{id}", base(&tenant));
    if import.status != "anteprima" {
        return Ok(Redirect::to(&target).into_response());
    }
    let (plan, bad) = plan_of(&state.db, tenant.id, &grant, &import).await?;
    let total = plan.create.len() + plan.update.len() + plan.disable.len();
    let mut tx = state.db.tenant_tx(tenant.id).await?;
    if !store::start(&mut tx, id, total).await? {
        return Ok(Redirect::to(&target).into_response());
    }
    tx.commit().await?;
    let actor = Actor::user(who.user.id, &who.user.name);
    tokio::spawn(run_import(
        state.db.clone(),
        tenant.id,
        grant,
        id,
        plan,
        bad,
        actor,
    ));
    Ok(Redirect::to(&target).into_response())
}

pub async fn run_import(
    db: Db,
    tenant: TenantId,
    grant: Grant<ManageRegister>,
    id: Uuid,
    plan: Plan,
    bad: Vec<register::BadLine>,
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
        let mut report = store::apply(&mut tx, &grant, &plan, |n| {
            let _ = tx_progress.send(n);
        })
        .await?;
        report.bad_lines = bad.iter().map(|b| (b.line, b.reason.clone())).collect();
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
    if let Err(e) = result {
        tracing::error!(error = format!("{e:#}"), import.id = %id, "register import failed");
        if let Ok(mut tx) = db.tenant_tx(tenant).await
            && store::finish(&mut tx, id, "errore", None).await.is_ok()
        {
            let _ = tx.commit().await;
        }
    }
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
