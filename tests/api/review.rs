//! What a new user's walkthrough found in the forms and the words: codici fiscali as written,
//! the ten-day clock from the filing, conflicts of interest, the delibera's figures, mail that
//! says what happened, re-keying.

use patrocinio::domain::codice_fiscale::Sex;

use crate::{
    helpers::spawn_app,
    public_form::{draft_id, new_draft, ordine, person_cf},
    workflow::{SLUG, ask, case_path, in_examination, office, submitted},
};

#[tokio::test]
async fn a_codice_fiscale_is_kept_and_shown_as_written() {
    let app = spawn_app().await;
    ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    let cf = person_cf("Rossi", "Mario", 1985, 12, 10, Sex::M);
    let typed = format!(
        "{} {} {}",
        cf[..6].to_lowercase(),
        cf[6..11].to_lowercase(),
        cf[11..].to_lowercase()
    );
    d.post(
        "richiedente",
        &[("kind", "persona"), ("codice_fiscale", typed.as_str())],
    )
    .await;
    let (_, page) = d.get_text("richiedente").await;
    assert!(page.contains(&format!("value=\"{cf}\"")), "normalised");
    // A wrong one stays as typed, to be corrected.
    d.post(
        "richiedente",
        &[("kind", "persona"), ("codice_fiscale", "rss mra 00")],
    )
    .await;
    let (_, page) = d.get_text("richiedente").await;
    assert!(page.contains("value=\"rss mra 00\""));
}

#[tokio::test]
async fn the_ten_days_run_from_the_filing_and_stand_still_while_documents_are_awaited() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let mut conn = app.admin_connection().await;
    // Filed six days ago, registered only now.
    sqlx::query(
        "UPDATE app.applications SET submitted_at = now() - interval '6 days' WHERE id = $1",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    let (seg, rel) = in_examination(&app, &of, id).await;
    let (_, page) = rel.page(&app, &case_path("consiglieri", id)).await;
    assert!(page.contains("mancano 4 giorni"), "counted from the filing");

    // Documents asked for: the clock stands still.
    ask(&app, &rel, id).await;
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    assert!(
        page.contains("sospeso in attesa dell&#39;integrazione")
            || page.contains("sospeso in attesa dell'integrazione")
    );
    // Asked on the third day, answered today: three of the six days stood still.
    sqlx::query(
        "UPDATE app.integration_requests SET requested_at = now() - interval '3 days',
             answered_at = now() WHERE application_id = $1",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    assert!(page.contains("mancano 7 giorni"), "three days added back");

    // An Ordine that lets the term run during integrations.
    sqlx::query(
        "UPDATE app.tenants SET settings = settings || '{\"clock_runs_during_integration\": true}'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    assert!(
        page.contains("mancano 4 giorni"),
        "ten days from the filing, nothing added"
    );
}

#[tokio::test]
async fn an_opposing_party_living_with_the_applicant_is_flagged_and_isee_is_not_offered() {
    let app = spawn_app().await;
    ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    d.step_ok(
        "famiglia",
        &[
            ("member_id", "m1"),
            ("member_surname", "Verdi"),
            ("member_given_name", "Càrla"),
            ("member_relationship", "coniuge"),
            (
                "member_codice_fiscale",
                &person_cf("Verdi", "Carla", 1987, 3, 4, Sex::F),
            ),
        ],
        "redditi",
    )
    .await;
    let (_, page) = d.get_text("redditi").await;
    assert!(!page.contains("Attestazione ISEE"), "not offered");
    assert!(page.contains("Il modello ISEE non è utilizzabile"));
    d.post(
        "giudizio",
        &[("counterparty_name", "carla VERDI"), ("pending", "no")],
    )
    .await;
    let (_, page) = d.get_text("giudizio").await;
    assert!(
        page.contains("La controparte risulta tra i familiari conviventi (Càrla Verdi)"),
        "warned on the case step"
    );
    // And on the incomes, where the choice is made.
    d.post("redditi", &[("year", "2025")]).await;
    let (_, page) = d.get_text("redditi").await;
    assert!(page.contains("La controparte risulta tra i familiari conviventi"));
    // Once only the applicant's income counts for the conflict, the warning has done its job.
    d.post(
        "redditi",
        &[
            ("personal_only", "1"),
            ("personal_only_reason", "conflitto"),
        ],
    )
    .await;
    let (_, page) = d.get_text("giudizio").await;
    assert!(!page.contains("La controparte risulta tra i familiari conviventi"));
}

#[tokio::test]
async fn the_delibera_states_the_income_the_rapporteur_weighed() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    // The applicant (€ 11.000,00 of their own) lives with the spouse (€ 2.000,00), who is the
    // opposing party: € 13.000,00 declared in all.
    let mut conn = app.admin_connection().await;
    sqlx::query(
        "UPDATE app.applications SET
             form = jsonb_set(jsonb_set(jsonb_set(form,
                 '{household}', '{\"lives_alone\": false, \"members\": [{\"id\": \"m1\",
                     \"surname\": \"Verdi\", \"given_name\": \"Carla\", \"relationship\": \"coniuge\"}]}'),
                 '{income,persons}', (form->'income'->'persons') || '[{\"person\": \"m1\",
                     \"source\": \"cu\", \"taxable\": \"2.000\", \"has_exempt\": \"no\",
                     \"has_withholding\": \"no\", \"has_substitute\": \"no\"}]'),
                 '{case,counterparty_name}', '\"Verdi Carla\"'),
             income_total_cents = 1300000
         WHERE id = $1",
    )
    .bind(id)
    .execute(&mut conn)
    .await
    .unwrap();
    let (_, rel) = in_examination(&app, &of, id).await;
    let (_, page) = rel.page(&app, &case_path("consiglieri", id)).await;
    // Both figures are offered; the applicant's own is suggested (the spouse is the opposing party).
    assert!(page.contains("€ 13.000,00") && page.contains("€ 11.000,00"));
    assert!(page.contains("id=\"reddito-conflitto\" value=\"conflitto\" checked"));
    let res = crate::workflow::propose(
        &app,
        &rel,
        id,
        &[
            ("esito", "ammissione"),
            ("modello", "requisiti"),
            ("reddito", "conflitto"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let pdf = rel
        .client
        .get(app.url(&format!("{}/delibera.pdf", case_path("consiglieri", id))))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let text = crate::workflow::pdf_text(&pdf);
    assert!(
        text.contains("solo reddito personale del richiedente"),
        "{text}"
    );
    assert!(text.contains("pari a € 11.000,00"), "{text}");
    assert!(!text.contains("13.000,00"), "{text}");
    // Not yet signed, and it does not say it is.
    assert!(!text.contains("firmato digitalmente"), "{text}");
    assert!(!text.contains('\u{200B}'));
}

#[tokio::test]
async fn without_a_mail_server_nobody_is_told_that_mail_was_sent() {
    // The test instance has no SMTP server: every e-mail waits in the outbox.
    let app = spawn_app().await;
    let of = office(&app).await;
    let res = app
        .client
        .post(app.url(&format!("/{SLUG}/istanza/nuova")))
        .form(&[("email", "anna.rossi@example.it")])
        .send()
        .await
        .unwrap();
    let body = res.text().await.unwrap();
    assert!(body.contains("verranno inviati anche per e-mail a"));
    assert!(!body.contains("sono stati inviati"));
    let (id, _) = submitted(&app, &of.o).await;

    let admin = app
        .user(
            SLUG,
            "admin@ordine.example.it",
            &[patrocinio::domain::access::Role::Amministratore],
            true,
            None,
        )
        .await;
    let admin = app.login(&admin).await;
    let (_, page) = admin
        .page(&app, &format!("/{SLUG}/amministrazione/posta"))
        .await;
    assert!(page.contains("Il servizio non ha un server di posta configurato"));
    assert!(!page.contains("tutta la posta è stata consegnata"));
    // What waits is listed, with the count of each list.
    assert!(page.contains("In attesa di invio ("));
    assert!(page.contains("anna.rossi@example.it"));
    assert!(page.contains("Inviati (0)"));
    // The case page says the receipt waits, not that it went.
    let seg = app.login(&of.secretariat).await;
    let (_, page) = seg.page(&app, &case_path("segreteria", id)).await;
    assert!(page.contains("Comunicazioni per e-mail"));
    assert!(page.contains("in attesa di invio"));
    assert!(!page.contains("inviata il"));
}

#[tokio::test]
async fn nothing_typed_once_is_asked_again() {
    let app = spawn_app().await;
    let of = office(&app).await;
    // The address given at the start is offered as the applicant's when they file.
    let res = app
        .client
        .post(app.url(&format!("/{SLUG}/istanza/nuova")))
        .form(&[("email", "mario.rossi@example.it")])
        .send()
        .await
        .unwrap();
    let id = draft_id(&res.text().await.unwrap(), SLUG);
    let step = |s: &str| app.url(&format!("/{SLUG}/istanza/{id}/{s}"));
    app.client
        .post(step("chi-presenta"))
        .form(&[("filed_by", "richiedente")])
        .send()
        .await
        .unwrap();
    let page = app
        .client
        .get(step("richiedente"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("value=\"mario.rossi@example.it\""),
        "carried into step 2"
    );

    // A lawyer starting from their area: filed by them, and they are the chosen lawyer.
    let anna = app
        .user(
            SLUG,
            "anna@avvocati.example.it",
            &[patrocinio::domain::access::Role::Avvocato],
            false,
            Some(of.o.lawyer),
        )
        .await;
    let anna = app.login(&anna).await;
    let (_, area) = anna.page(&app, &format!("/{SLUG}/avvocati")).await;
    assert!(area.contains("Presenta una nuova istanza"));
    let res = anna
        .client
        .post(app.url(&format!("/{SLUG}/istanza/nuova")))
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    let id = draft_id(&res.text().await.unwrap(), SLUG);
    let (_, page) = anna
        .page(&app, &format!("/{SLUG}/istanza/{id}/chi-presenta"))
        .await;
    assert!(
        page.contains("value=\"avvocato\" checked"),
        "filed by the lawyer"
    );
    let (_, page) = anna
        .page(&app, &format!("/{SLUG}/istanza/{id}/avvocato"))
        .await;
    assert!(
        page.contains(&format!("value=\"{}\" checked", of.o.lawyer)),
        "{page}"
    );
    // The applicant's e-mail is not the lawyer's.
    let (_, page) = anna
        .page(&app, &format!("/{SLUG}/istanza/{id}/richiedente"))
        .await;
    assert!(!page.contains("anna@avvocati.example.it"));
}

#[tokio::test]
async fn the_audit_log_speaks_in_words_filters_and_exports() {
    let app = spawn_app().await;
    let of = office(&app).await;
    let (id, _) = submitted(&app, &of.o).await;
    let seg = app.login(&of.secretariat).await;
    let number = crate::workflow::register(&app, &seg, id).await;
    seg.page(&app, &case_path("segreteria", id)).await;
    let admin = app
        .user(
            SLUG,
            "admin@ordine.example.it",
            &[patrocinio::domain::access::Role::Amministratore],
            true,
            None,
        )
        .await;
    let admin = app.login(&admin).await;
    let base = format!("/{SLUG}/amministrazione/registro");
    let (_, page) = admin.page(&app, &base).await;
    assert!(
        page.contains(&format!("Consultata la pratica {number}")),
        "{page}"
    );
    assert!(page.contains(&format!("— pratica {number}")));
    assert!(
        !page.contains(&id.to_string()),
        "no internal id where a number exists"
    );
    assert!(!page.contains("pratica.consultata<"), "no internal codes");
    // Filters: the application (by its number), who, when.
    let (_, page) = admin
        .page(&app, &format!("{base}?pratica={}", number))
        .await;
    assert!(
        page.contains("Consultata la pratica")
            && !page.contains("Accesso al servizio con password")
    );
    let (_, page) = admin.page(&app, &format!("{base}?attore=segreteria")).await;
    assert!(page.contains("Consultata la pratica") && !page.contains("<td>Utente admin@ordine"));
    let tomorrow = (patrocinio::domain::time::rome_date(chrono::Utc::now()) + chrono::Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    let (_, page) = admin.page(&app, &format!("{base}?dal={tomorrow}")).await;
    assert!(page.contains("Nessuna operazione con questi filtri."));
    // The export: what the list shows, as Italian spreadsheets read it, and itself recorded.
    let res = admin
        .client
        .get(app.url(&format!("{base}.csv?pratica={number}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFN.;Quando;Chi;Operazione;Esito"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains(&format!("Consultata la pratica {number}")));
    let (_, page) = admin.page(&app, &base).await;
    assert!(page.contains("Registro delle operazioni esportato"));
}

#[tokio::test]
async fn modifying_the_documents_from_the_review_comes_back_to_it() {
    let app = spawn_app().await;
    let o = ordine(&app, SLUG).await;
    let d = new_draft(&app, SLUG).await;
    crate::public_form::fill_complete(&d, &o).await;
    let (_, page) = d.get_text("allegati?torna=riepilogo").await;
    assert!(page.contains("/allegati/carica?torna=riepilogo"));
    // An upload from there keeps the way back, on the page it answers with.
    let res = app
        .client
        .post(d.url("allegati/carica?torna=riepilogo"))
        .multipart(
            reqwest::multipart::Form::new()
                .text("kind", "documenti_causa")
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(crate::public_form::minimal_pdf())
                        .file_name("altro.pdf"),
                ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("/allegati?torna=riepilogo\""),
        "the step's form goes back to the review"
    );
    // Continuing lands on the review.
    let res = d
        .post(
            "allegati?torna=riepilogo",
            &[("signature_mode", "documento")],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/riepilogo")
    );
    // Deleting a document comes back to the step, with the way back.
    let delete = page
        .split("action=\"")
        .find(|a| a.contains("/elimina"))
        .and_then(|a| a.split('"').next())
        .unwrap()
        .to_owned();
    assert!(delete.ends_with("?torna=riepilogo"), "{delete}");
    let res = app.client.post(app.url(&delete)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/allegati?torna=riepilogo")
    );
}
