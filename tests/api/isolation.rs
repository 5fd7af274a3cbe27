//! Tenant isolation enforced by PostgreSQL (row-level security on every table, a service role
//! that cannot bypass it, a tenant setting that never outlives its transaction) and a sweep of
//! every route with another Ordine's ids.

use patrocinio::{
    db::{Db, provision::APP_ROLE},
    domain::{access::Role, tenant::TenantId},
    web,
};
use sqlx::Row;

use crate::{
    helpers::{LoggedIn, spawn_app, spawn_app_with},
    public_form::{fill_complete, minimal_pdf, new_draft, ordine, tenant_of},
};

#[tokio::test]
async fn every_table_has_row_level_security_and_the_service_cannot_bypass_it() {
    let app = spawn_app().await;
    let mut conn = app.admin_connection().await;
    // security-reliability.md §2.4: must return no row.
    let unprotected: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'app' AND c.relkind IN ('r', 'p')
           AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity
                OR NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid))",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert!(
        unprotected.is_empty(),
        "tables without RLS: {unprotected:?}"
    );
    let tables: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'app'")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(tables >= 10, "the check saw the tables ({tables})");

    let role = sqlx::query(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1",
    )
    .bind(APP_ROLE)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    for attribute in ["rolsuper", "rolbypassrls", "rolcreaterole", "rolcreatedb"] {
        assert!(
            !role.get::<bool, _>(attribute),
            "{APP_ROLE} has {attribute}"
        );
    }
    let owned: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname IN ('app', 'sessions', 'meta') AND pg_get_userbyid(c.relowner) = $1",
    )
    .bind(APP_ROLE)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(owned, 0, "the service role owns nothing");
    let can_create: bool = sqlx::query_scalar("SELECT has_schema_privilege($1, 'app', 'CREATE')")
        .bind(APP_ROLE)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(!can_create);
}

#[tokio::test]
async fn a_pooled_connection_forgets_its_tenant() {
    // One connection in the pool: the request for Ordine A and the query after it share it.
    let app = spawn_app_with(|c| c.db_max_connections = 1).await;
    let o = ordine(&app, "vallenera").await;
    let d = new_draft(&app, "vallenera").await;
    fill_complete(&d, &o).await;
    let tenant = tenant_of(&app, "vallenera").await;
    let mut tx = app.db.tenant_tx(tenant).await.unwrap();
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM applications")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(seen, 1, "inside the tenant's transaction");
    tx.commit().await.unwrap();
    // A request of Ordine A through HTTP, on the same single connection...
    assert_eq!(
        app.client
            .get(d.url("riepilogo"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // ...then a query with no tenant set: nothing.
    for table in [
        "applications",
        "attachments",
        "lawyers",
        "judicial_offices",
        "draft_access",
    ] {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(app.db.pool())
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} leaked without a tenant");
    }
    // A transaction that fails or is dropped leaves nothing behind either.
    let mut tx = app.db.tenant_tx(tenant).await.unwrap();
    assert!(sqlx::query("SELECT 1/0").execute(tx.conn()).await.is_err());
    drop(tx);
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM applications")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(n, 0);
}

#[tokio::test]
async fn one_ordine_can_neither_read_nor_write_another_ordines_rows() {
    let app = spawn_app().await;
    let o = ordine(&app, "alfa").await;
    ordine(&app, "beta").await;
    let d = new_draft(&app, "alfa").await;
    fill_complete(&d, &o).await;
    let alfa = tenant_of(&app, "alfa").await;
    let beta = tenant_of(&app, "beta").await;
    let db: &Db = &app.db;
    let mut tx = db.tenant_tx(beta).await.unwrap();
    let found: Option<String> =
        sqlx::query_scalar("SELECT code FROM applications WHERE id = $1::uuid")
            .bind(&d.id)
            .fetch_optional(tx.conn())
            .await
            .unwrap();
    assert_eq!(found, None);
    let updated = sqlx::query("UPDATE applications SET channel = 'pec' WHERE id = $1::uuid")
        .bind(&d.id)
        .execute(tx.conn())
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(updated, 0);
    let insert = sqlx::query(
        "INSERT INTO judicial_offices (tenant_id, name) VALUES ($1, 'Tribunale di Altrove')",
    )
    .bind(alfa.0)
    .execute(tx.conn())
    .await;
    assert!(
        insert
            .unwrap_err()
            .to_string()
            .contains("row-level security"),
        "writing into another Ordine is refused"
    );
    let _ = TenantId::new();
}

/// A concrete path for a route template, with the given ids.
fn path_for(template: &str, slug: &str, ids: &[(&str, String)]) -> String {
    let mut path = template.replace("{slug}", slug);
    for (name, value) in ids {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    assert!(!path.contains('{'), "no sample value for {template}");
    path
}

#[tokio::test]
async fn every_route_answers_404_to_another_ordines_ids_and_audits_it() {
    let app = spawn_app().await;
    ordine(&app, "alfa").await;
    let ob = ordine(&app, "beta").await;
    // Records of Ordine B: an application with an attachment, an account.
    let d = new_draft(&app, "beta").await;
    fill_complete(&d, &ob).await;
    let beta = tenant_of(&app, "beta").await;
    let mut tx = app.db.tenant_tx(beta).await.unwrap();
    let attachment: uuid::Uuid = sqlx::query_scalar("SELECT id FROM attachments LIMIT 1")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let b_user = app
        .user("beta", "admin@beta.it", &[Role::Amministratore], true, None)
        .await;
    // An import of Ordine B's register.
    let grant =
        patrocinio::domain::access::authorize::<patrocinio::domain::access::ManageRegister>(
            beta,
            uuid::Uuid::nil(),
            &[Role::Amministratore],
            Role::Amministratore,
        )
        .unwrap();
    let mut tx = app.db.tenant_tx(beta).await.unwrap();
    let import = patrocinio::store::register::create_import(
        &mut tx,
        &grant,
        "albo.csv",
        b"cognome;nome;cf\n",
        None,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A council session of Ordine B.
    let mut tx = app.db.tenant_tx(beta).await.unwrap();
    let session = patrocinio::store::council::create(
        &mut tx,
        chrono::NaiveDate::from_ymd_opt(2030, 1, 10).unwrap(),
        chrono::NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        b_user.id,
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    // A daily protocol register of Ordine B.
    let mut tx = app.db.tenant_tx(beta).await.unwrap();
    let register = patrocinio::store::protocol_days::insert(
        &mut tx,
        &patrocinio::store::protocol_days::NewRegister {
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap(),
            entries: 0,
            first_number: None,
            last_number: None,
            pdf_key: "beta/registro.pdf",
            pdf_sha256: &"0".repeat(64),
            sealed_key: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    // A PEC receipt of Ordine B (kept aside: its Message-ID is none of ours).
    let mut tx = app.db.tenant_tx(beta).await.unwrap();
    let receipt = patrocinio::store::pec_receipts::insert(
        &mut tx,
        &patrocinio::store::pec_receipts::New {
            message_id: "<ricevuta@pec.beta.example.it>",
            kind: patrocinio::domain::pec_receipt::Kind::Accettazione,
            refers_to: Some("<altro@example.it>"),
            recipient: None,
            error: None,
            provider_id: None,
            subject: None,
            outbox_id: None,
            application_id: None,
            eml_key: "beta/ricevuta.eml",
            eml_sha256: &"0".repeat(64),
            eml_size: 1,
            signature: "assente",
            uid_validity: 1,
            uid: 1,
        },
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    // A batch of Ordine B for the Agenzia delle Entrate.
    let batch = uuid::Uuid::new_v4();
    let mut tx = app.db.tenant_tx(beta).await.unwrap();
    let actor = patrocinio::store::audit::Actor::anonymous("Prova");
    let entry = patrocinio::store::protocol::register_outgoing(
        &mut tx,
        &patrocinio::store::protocol::NewEntry {
            direction: patrocinio::store::protocol::Direction::Outgoing,
            kind: "distinta",
            channel: "pec",
            application: None,
            subject: "Distinta".into(),
            documents: Vec::new(),
            by: &actor,
        },
        &[patrocinio::domain::protocol::Addressee {
            kind: "agenzia_entrate".into(),
            name: "Agenzia delle Entrate".into(),
            address: Some("dp@pce.agenziaentrate.it".into()),
        }],
        &chrono::Utc::now,
    )
    .await
    .unwrap();
    let message = patrocinio::store::outbox::batch(
        &mut tx,
        ("agenzia_entrate", "dp@pce.agenziaentrate.it"),
        "distinta_ade",
        &serde_json::json!({}),
    )
    .await
    .unwrap();
    patrocinio::store::tax_batches::insert(
        &mut tx,
        &patrocinio::store::tax_batches::NewBatch {
            id: batch,
            year: 2026,
            number: 1,
            period_key: "2026-11",
            period_label: "novembre 2026",
            part: 1,
            early: false,
            pec: "dp@pce.agenziaentrate.it",
            items: 1,
            attachments_bytes: 1,
            columns: &patrocinio::domain::tax_batch::Column::ALL,
            cover_pdf: ("beta/distinta.pdf", &"0".repeat(64)),
            cover_csv: ("beta/distinta.csv", &"0".repeat(64)),
            protocol_entry: entry.id,
            outbox: message,
            created_by: "Prova",
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let ids = [
        ("receipt", receipt.to_string()),
        ("batch", batch.to_string()),
        ("register", register.to_string()),
        ("session", session.to_string()),
        ("office", ob.office.to_string()),
        ("lawyer", ob.lawyer.to_string()),
        ("import", import.to_string()),
        ("id", d.id.clone()),
        ("attachment", attachment.to_string()),
        ("user", b_user.id.to_string()),
        ("token", "ab".repeat(32)),
        ("step", "richiedente".to_owned()),
    ];

    // Every role of Ordine A.
    let mut people: Vec<(Role, LoggedIn)> = Vec::new();
    for role in Role::ALL {
        let u = app
            .user(
                "alfa",
                &format!("{}@alfa.it", role.code()),
                &[role],
                true,
                None,
            )
            .await;
        people.push((role, app.login(&u).await));
    }
    let alfa = tenant_of(&app, "alfa").await;
    let mut attempts = 0;
    let mut swept = Vec::new();
    for route in web::route_table() {
        if route.scope == web::Scope::Platform || !web::tenant::names_a_record(route.path) {
            continue;
        }
        let path = path_for(route.path, "alfa", &ids);
        swept.push(route.path);
        for (role, who) in &people {
            let request = match route.method.as_str() {
                "GET" => who.client.get(app.url(&path)),
                _ if route.upload => who
                    .client
                    .post(app.url(&path))
                    .header("X-CSRF-Token", who.csrf.as_str())
                    .multipart(
                        reqwest::multipart::Form::new()
                            .text("kind", "documenti_causa")
                            .part(
                                "file",
                                reqwest::multipart::Part::bytes(minimal_pdf()).file_name("a.pdf"),
                            ),
                    ),
                _ => who
                    .client
                    .post(app.url(&path))
                    .header("X-CSRF-Token", who.csrf.as_str())
                    .form(&[("token", "x")]),
            };
            let res = request.send().await.unwrap();
            assert_eq!(
                res.status(),
                404,
                "{} {} as {role:?}",
                route.method,
                route.path
            );
            attempts += 1;
        }
    }
    assert!(swept.len() >= 10, "the sweep saw the routes: {swept:?}");
    let mut tx = app.db.tenant_tx(alfa).await.unwrap();
    let denied: i64 =
        sqlx::query_scalar("SELECT count(*) FROM audit_log WHERE action = 'accesso_negato'")
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert_eq!(denied, attempts, "one audit entry per attempt");
    tx.commit().await.unwrap();
    // And Ordine B's records are untouched.
    let mut tx = app.db.tenant_tx(beta).await.unwrap();
    let state: String = sqlx::query_scalar("SELECT state FROM applications WHERE id = $1::uuid")
        .bind(&d.id)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(state, "bozza");
}
