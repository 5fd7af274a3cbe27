//! The pages of the public form. Each step is a plain HTML form that works without JavaScript;
//! htmx (when present) only boosts submissions and validates a field when the user leaves it.

use crate::domain::plural;
use maud::{Markup, html};
use uuid::Uuid;

use crate::{
    domain::application::{
        Step,
        attachment::AttachmentKind,
        check::{IncomeSummary, Issue, MIN_FACTS},
        form::{
            DECLARATION_TEXTS, Form, INCOME_SOURCES, PersonIncome, RELATIONSHIPS, VICTIM_OFFENCES,
        },
        matter::Matter,
    },
    store::{attachments::Attachment, lawyers::Lawyer, offices::Office, tenants::Tenant},
    web::{
        components::{
            Choice, Input, checkbox, error_summary, feedback, messages_for, radios, select,
            select_with_id, textarea,
        },
        layout::{self, PageMeta},
    },
};

pub struct StepView<'a> {
    pub tenant: &'a Tenant,
    pub id: Uuid,
    pub code: &'a str,
    pub step: Step,
    pub form: &'a Form,
    /// The messages to show (only for steps the user has already submitted).
    pub issues: &'a [Issue],
    pub offices: &'a [Office],
    pub lawyers: &'a [Lawyer],
    pub chosen_lawyer: Option<&'a Lawyer>,
    pub lawyer_query: &'a str,
    pub attachments: &'a [Attachment],
    pub income: &'a IncomeSummary,
    pub max_file_mb: u64,
    pub max_application_mb: u64,
    /// The one-time token of the submission form (review step).
    pub submit_token: Option<Uuid>,
    /// Every issue of the whole form (review step).
    pub all_issues: &'a [Issue],
    /// What became of the file just uploaded (attachments step).
    pub upload: Option<&'a UploadOutcome>,
    /// The user came from the review page: saving goes back there.
    pub back_to_review: bool,
    /// The applicant's identification with SPID or CIE that signed the application.
    pub identification: Option<&'a crate::store::identifications::Identification>,
}

/// Signing with SPID or CIE is offered: the Ordine is in the federation and the applicant, a
/// person, files alone (a lawyer's filing keeps the signature on paper or the lawyer's
/// qualified signature).
pub fn spid_offered(tenant: &Tenant, form: &Form) -> bool {
    tenant.settings.spid.is_some() && !form.filed_by_lawyer() && !form.applicant.is_entity()
}

/// The "Firma con SPID o CIE" card of the signature step: what was signed, or the button.
fn spid_card(v: &StepView) -> Markup {
    let current = v
        .identification
        .filter(|i| i.form_sha256 == v.form.fingerprint());
    html! {
        div class="card card-bg p-3 mb-4" id="firma-spid" {
            h3 class="h5" { "Firma con SPID o CIE" }
            @if let Some(i) = current {
                div class="alert alert-success" role="status" id="firma-spid-esito" {
                    p class="mb-0" { (i.statement()) "." }
                }
                p class="small" {
                    "Non serve stampare, firmare a mano o scansionare l'istanza, né allegare il documento d'identità. "
                    "Se cambi i dati dell'istanza, firma di nuovo."
                }
            } @else {
                @if v.identification.is_some() {
                    p class="campo-avviso" { "Dopo la firma con SPID o CIE i dati dell'istanza sono stati modificati: firmare di nuovo." }
                }
                p {
                    "Se presenti l'istanza per te stesso, puoi firmarla identificandoti con SPID (livello 2 o superiore) o con la CIE, "
                    "anche dal telefono: non serve stampare né scansionare nulla, né allegare il documento d'identità "
                    "(art. 65, comma 1, lett. b, D.Lgs. 82/2005). Il codice fiscale della persona identificata deve essere quello del richiedente."
                }
            }
            @for issue in messages_for(v.issues, "firma_spid") {
                p class="campo-errore" id="firma_spid" role="alert" { (issue.message) }
            }
            // A link, not a form: the provider is another origin, and the pages allow forms
            // to go to this service only (`form-action 'self'`).
            a class="btn btn-primary" id="firma-spid-avvia" href=(format!("{}/{}/firma-spid", base(v.tenant), v.id)) {
                @if current.is_some() { "Firma di nuovo con SPID o CIE" } @else { "Firma con SPID o CIE" }
            }
        }
    }
}

/// What became of an upload: shown inside the upload card, where the person is, never at the
/// top of the page.
pub enum UploadOutcome {
    Stored {
        name: String,
    },
    /// Refused, with the kind that was chosen (shown selected again) and the reasons (on the
    /// `kind` and `file` fields).
    Refused {
        kind: String,
        issues: Vec<Issue>,
    },
}

/// The id of the upload card's outcome; the card's form action ends with `#` and this, so that
/// without JavaScript the browser scrolls the answer to it.
pub const UPLOAD_OUTCOME_ID: &str = "esito-caricamento";

pub fn base(tenant: &Tenant) -> String {
    format!("/{}/istanza", tenant.slug)
}

pub fn step_url(tenant: &Tenant, id: Uuid, step: Step) -> String {
    format!("{}/{id}/{}", base(tenant), step.slug())
}

fn stepper(v: &StepView) -> Markup {
    html! {
        nav class="steppers mb-4" aria-label="Passaggi dell'istanza" {
            div class="steppers-header" {
                ul {
                    @for s in Step::ALL {
                        @let current = s == v.step;
                        @let done = v.form.visited(s) && !v.issues_for_step(s);
                        li class=(if current { "active" } else if done { "confirmed" } else { "" }) {
                            a href=(step_url(v.tenant, v.id, s)) aria-current=[current.then_some("step")] {
                                (s.short_title())
                            }
                            @if done && !current { span class="visually-hidden" { " (completato)" } }
                        }
                    }
                }
                span class="steppers-index" aria-hidden="true" { (v.step.number()) "/" (Step::ALL.len()) }
            }
        }
    }
}

impl StepView<'_> {
    fn issues_for_step(&self, step: Step) -> bool {
        self.all_issues.iter().any(|i| i.step == step && i.blocks())
    }
}

pub fn step_page(v: &StepView) -> Markup {
    let title = v.step.title();
    // The title is the first thing a screen reader reads of a new page: after an upload without
    // JavaScript it says what happened.
    let page_title = match v.upload {
        Some(UploadOutcome::Stored { .. }) => format!("Documento caricato · {title}"),
        Some(UploadOutcome::Refused { .. }) => format!("Errore: documento non caricato · {title}"),
        None => title.to_owned(),
    };
    layout::page(
        &PageMeta::tenant(&page_title, v.tenant),
        html! {
            (layout::breadcrumb(&[
                ("Home", Some(&format!("/{}", v.tenant.slug))),
                ("Istanza di ammissione", Some(&base(v.tenant))),
                (title, None),
            ]))
            (stepper(v))
            p class="text-muted mb-1" { "Passaggio " (v.step.number()) " di " (Step::ALL.len()) " · Istanza " span class="text-monospace" { (v.code) } }
            h1 class="h2" { (title) }
            (error_summary(v.issues))
            @match v.step {
                Step::Filing => (filing(v)),
                Step::Applicant => (applicant(v)),
                Step::Household => (household(v)),
                Step::Income => (income(v)),
                Step::Case => (case(v)),
                Step::Lawyer => (lawyer(v)),
                Step::Declarations => (declarations(v)),
                Step::Attachments => (attachments(v)),
                Step::Review => (review(v)),
            }
        },
    )
}

/// The `<form>` of a step: posts back to the step's own URL; htmx boosts it and validates a
/// field when it loses focus.
fn step_form(v: &StepView, body: Markup) -> Markup {
    let action = step_url(v.tenant, v.id, v.step);
    let post_to = if v.back_to_review {
        format!("{action}?torna=riepilogo")
    } else {
        action.clone()
    };
    html! {
        form method="post" action=(post_to) novalidate data-hx-boost="true" {
            div data-hx-post=(format!("{action}/verifica")) data-hx-trigger="change" data-hx-include="closest form" data-hx-swap="none" {
                (body)
            }
            div class="d-flex flex-wrap gap-2 mt-4" {
                @if let Some(prev) = v.step.previous() {
                    a class="btn btn-outline-primary" href=(step_url(v.tenant, v.id, prev)) { "Indietro" }
                }
                button type="submit" class="btn btn-primary" { "Salva e continua" }
            }
            p class="small text-muted mt-3" {
                "I dati sono salvati a ogni passaggio: si può riprendere la compilazione in seguito, anche da un altro dispositivo, con il codice dell'istanza e il PIN."
            }
        }
    }
}

fn filing(v: &StepView) -> Markup {
    let f = &v.form.filing;
    let matters: Vec<Choice> = Matter::ALL
        .iter()
        .map(|m| Choice {
            value: m.code(),
            label: m.label(),
        })
        .collect();
    let offices: Vec<(String, String)> = v
        .offices
        .iter()
        .map(|o| (o.id.to_string(), o.name.clone()))
        .chain(std::iter::once((
            "altro".to_owned(),
            "Un altro ufficio giudiziario (non compreso nell'elenco)".to_owned(),
        )))
        .collect();
    let office_choices: Vec<Choice> = offices
        .iter()
        .map(|(id, name)| Choice {
            value: id,
            label: name,
        })
        .collect();
    let question = v
        .form
        .matter()
        .map_or("Ufficio giudiziario competente", Matter::office_question);
    step_form(
        v,
        html! {
            (radios("filed_by", "Chi presenta l'istanza?", &[
                ("richiedente", "Il richiedente (cittadino o ente), personalmente"),
                ("avvocato", "Un avvocato, per conto del richiedente"),
            ], &f.filed_by, None, v.issues))
            (select("matter", "Materia del giudizio", &matters, &f.matter, "Scegliere la materia", v.issues))
            (select("judicial_office", question, &office_choices, &f.judicial_office, "Scegliere l'ufficio giudiziario", v.issues))
            p class="small text-muted" {
                "Il Consiglio dell'Ordine decide sulle istanze per i giudizi davanti agli uffici giudiziari del proprio circondario (art. 124 D.P.R. 115/2002)."
            }
        },
    )
}

fn applicant(v: &StepView) -> Markup {
    let a = &v.form.applicant;
    let i = v.issues;
    let citizenships = [
        Choice {
            value: "italiana",
            label: "Italiana",
        },
        Choice {
            value: "ue",
            label: "Di un altro Stato dell'Unione europea",
        },
        Choice {
            value: "extra_ue",
            label: "Di uno Stato non appartenente all'Unione europea",
        },
        Choice {
            value: "apolide",
            label: "Apolide",
        },
    ];
    step_form(
        v,
        html! {
            (radios("kind", "Il richiedente è", &[
                ("persona", "Una persona fisica"),
                ("ente", "Un ente o un'associazione senza scopo di lucro che non esercita attività economica (art. 119)"),
            ], &a.kind, None, i))
            fieldset class="mt-4" {
                legend class="h4" { "Persona fisica" }
                div class="row" {
                    (Input::text("surname", "Cognome", &a.surname).autocomplete("family-name").width("col-md-6").render(i))
                    (Input::text("given_name", "Nome", &a.given_name).autocomplete("given-name").width("col-md-6").render(i))
                }
                (radios("sex", "Sesso", &[("F", "Femminile"), ("M", "Maschile")], &a.sex, Some("Serve a verificare il codice fiscale."), i))
                div class="row" {
                    (Input::text("birth_date", "Data di nascita", &a.birth_date).kind("date").autocomplete("bday").hint("Formato gg/mm/aaaa").width("col-md-4").render(i))
                    (Input::text("birth_place", "Luogo di nascita", &a.birth_place).hint("Comune, o Stato estero").width("col-md-8").render(i))
                }
                (Input::text("codice_fiscale", "Codice fiscale", &a.codice_fiscale).hint("16 caratteri, come sulla tessera sanitaria").width("col-md-6").render(i))
                (select("citizenship", "Cittadinanza", &citizenships, &a.citizenship, "Scegliere la cittadinanza", i))
                div class="row" {
                    (Input::text("address", "Indirizzo di residenza", &a.address).autocomplete("address-line1").width("col-md-6").render(i))
                    (Input::text("postcode", "CAP", &a.postcode).autocomplete("postal-code").optional().width("col-md-2").render(i))
                    (Input::text("city", "Comune di residenza", &a.city).autocomplete("address-level2").width("col-md-4").render(i))
                }
                div class="row" {
                    (Input::text("id_document", "Documento d'identità", &a.id_document).hint("Tipo e numero, ad esempio: carta d'identità CA12345AB").width("col-md-8").render(i))
                    (Input::text("id_document_expiry", "Scadenza del documento", &a.id_document_expiry).kind("date").width("col-md-4").render(i))
                }
                // h2: the fieldsets' legends are not headings, so the page's h1 comes just before.
                h2 class="h5 mt-3" { "Solo per cittadini di Stati non appartenenti all'Unione europea e apolidi" }
                div class="row" {
                    (Input::text("permit", "Titolo di soggiorno", &a.permit).optional().hint("Tipo e numero del permesso di soggiorno").width("col-md-8").render(i))
                    (Input::text("permit_expiry", "Scadenza del titolo", &a.permit_expiry).kind("date").optional().width("col-md-4").render(i))
                }
                (radios("lawful_stay", "Il richiedente soggiornava regolarmente in Italia quando è sorto il rapporto o il fatto oggetto del giudizio? (art. 119)", &[("si", "Sì"), ("no", "No")], &a.lawful_stay, None, i))
                (checkbox("protection_case", "Il giudizio riguarda un provvedimento di espulsione o una domanda di protezione internazionale", a.protection_case, i))
                (radios("foreign_income", "Il richiedente ha prodotto redditi all'estero?", &[("si", "Sì"), ("no", "No")], &a.foreign_income, None, i))
                (radios("consular", "Per i redditi prodotti all'estero (art. 79, comma 2)", &[
                    ("certificato", "Allegherò la certificazione dell'autorità consolare competente"),
                    ("impossibile", "Non è stato possibile ottenerla: allegherò una dichiarazione sostitutiva (Corte cost. n. 157/2021)"),
                ], &a.consular, None, i))
            }
            fieldset class="mt-4" {
                legend class="h4" { "Ente o associazione" }
                (Input::text("entity_name", "Denominazione", &a.entity_name).autocomplete("organization").render(i))
                div class="row" {
                    (Input::text("entity_cf", "Codice fiscale dell'ente", &a.entity_cf).hint("11 cifre").width("col-md-4").render(i))
                    (Input::text("entity_seat", "Sede", &a.entity_seat).width("col-md-8").render(i))
                }
                (Input::text("representative", "Legale rappresentante", &a.representative).render(i))
            }
            fieldset class="mt-4" {
                legend class="h4" { "Recapiti" }
                div class="row" {
                    (Input::text("email", "E-mail", v.form.applicant_email_shown()).kind("email").autocomplete("email").optional().hint("Per ricevere il codice, il PIN e la ricevuta").width("col-md-6").render(i))
                    (Input::text("phone", "Telefono", &a.phone).kind("tel").autocomplete("tel").optional().width("col-md-6").render(i))
                }
            }
        },
    )
}

fn household(v: &StepView) -> Markup {
    let h = &v.form.household;
    let i = v.issues;
    let relationships: Vec<Choice> = RELATIONSHIPS
        .iter()
        .map(|(value, label)| Choice { value, label })
        .collect();
    step_form(
        v,
        html! {
            p {
                "Indicare tutti i familiari conviventi (la famiglia anagrafica), ciascuno con il proprio codice fiscale: "
                "i loro redditi si sommano a quelli del richiedente (art. 76, comma 2). Il convivente di fatto è un familiare convivente."
            }
            (checkbox("lives_alone", "Il richiedente vive da solo", h.lives_alone, i))
            @for (n, m) in h.members.iter().enumerate() {
                @let p = format!("member_{}_", m.id);
                fieldset class="card card-bg p-3 mb-3" {
                    legend class="h5 float-none" { "Familiare " (n + 1) }
                    input type="hidden" name="member_id" value=(m.id);
                    div class="row" {
                        (Input::text("member_surname", "Cognome", &m.surname).id(&format!("{p}surname")).width("col-md-6").render(i))
                        (Input::text("member_given_name", "Nome", &m.given_name).id(&format!("{p}given_name")).width("col-md-6").render(i))
                    }
                    div class="row" {
                        (Input::text("member_codice_fiscale", "Codice fiscale", &m.codice_fiscale).id(&format!("{p}codice_fiscale")).width("col-md-6").render(i))
                        (Input::text("member_birth_date", "Data di nascita", &m.birth_date).kind("date").optional().id(&format!("{p}birth_date")).width("col-md-6").render(i))
                    }
                    (select_with_id(&format!("{p}relationship"), "member_relationship", "Rapporto con il richiedente", &relationships, &m.relationship, "Scegliere il rapporto", i))
                    div {
                        button type="submit" name="action" value=(format!("rimuovi:{}", m.id)) class="btn btn-outline-danger btn-sm" {
                            "Rimuovi " span class="visually-hidden" { (m.display_name()) }
                        }
                    }
                }
            }
            button type="submit" name="action" value="aggiungi" class="btn btn-outline-primary" {
                "Aggiungi un familiare convivente"
            }
        },
    )
}

fn yes_no_amount(
    p: &PersonIncome,
    key: &str,
    name: &str,
    question: &str,
    has: &str,
    amount: &str,
    issues: &[Issue],
) -> Markup {
    html! {
        (radios(&format!("has_{name}_{key}"), question, &[("no", "No"), ("si", "Sì, per l'importo indicato sotto")], has, None, issues))
        (Input::text(&format!("{name}_{key}"), "Importo in euro", amount).optional().width("col-md-4").render(issues))
        @if p.person.is_empty() {}
    }
}

fn income(v: &StepView) -> Markup {
    let inc = &v.form.income;
    let i = v.issues;
    let sources: Vec<Choice> = INCOME_SOURCES
        .iter()
        .map(|(value, label)| Choice { value, label })
        .collect();
    let offences: Vec<Choice> = VICTIM_OFFENCES
        .iter()
        .map(|(value, label)| Choice { value, label })
        .collect();
    let empty = PersonIncome::default();
    step_form(
        v,
        html! {
            p {
                "Per il richiedente e per ciascun familiare convivente indicare il reddito imponibile ai fini IRPEF dell'anno precedente "
                "e, espressamente, gli altri redditi che si sommano (art. 76, comma 3). Il modello ISEE non è utilizzabile."
            }
            (Input::text("year", "Anno dei redditi", &inc.year).kind("number").hint("Di norma l'anno precedente la presentazione dell'istanza").width("col-md-3").render(i))
            @for (key, label) in v.form.income_people() {
                @let p = v.form.income_of(&key).unwrap_or(&empty);
                fieldset class="card card-bg p-3 mb-3" {
                    legend class="h5 float-none" { (label) }
                    input type="hidden" name="person" value=(key);
                    (select(&format!("source_{key}"), "Da quale documento risulta il reddito", &sources, &p.source, "Scegliere il documento", i))
                    (Input::text(&format!("taxable_{key}"), "Reddito imponibile IRPEF, in euro", &p.taxable).hint("Anche 0 se non ci sono redditi; ad esempio 8.450,00").width("col-md-4").render(i))
                    (yes_no_amount(p, &key, "exempt", "Redditi esenti da IRPEF (ad esempio alcune pensioni e indennità)?", &p.has_exempt, &p.exempt, i))
                    (yes_no_amount(p, &key, "withholding", "Redditi soggetti a ritenuta alla fonte a titolo d'imposta?", &p.has_withholding, &p.withholding, i))
                    (yes_no_amount(p, &key, "substitute", "Redditi soggetti a imposta sostitutiva (ad esempio regime forfettario, cedolare secca)?", &p.has_substitute, &p.substitute, i))
                }
            }
            fieldset class="mt-3" {
                legend class="h5" { "Casi particolari" }
                (checkbox("personal_only", "Va considerato il solo reddito del richiedente (art. 76, comma 4)", inc.personal_only, i))
                (radios("personal_only_reason", "Perché", &[
                    ("personalita", "La causa riguarda diritti della personalità"),
                    ("conflitto", "Gli interessi del richiedente sono in conflitto con quelli dei familiari conviventi"),
                ], &inc.personal_only_reason, None, i))
                (textarea("personal_only_detail", "Spiegazione (facoltativa)", &inc.personal_only_detail, None, 2, i))
                (checkbox("victim_regime", "Il richiedente è persona offesa da uno dei reati per cui l'ammissione prescinde dal reddito (art. 76, comma 4-ter)", inc.victim_regime, i))
                (select("victim_offence", "Reato", &offences, &inc.victim_offence, "Scegliere il reato", i))
            }
            (income_box(v.income, i))
        },
    )
}

/// The income computed on the server against the threshold in force.
pub fn income_box(summary: &IncomeSummary, issues: &[Issue]) -> Markup {
    let over = issues.iter().any(|i| i.field == "income_total");
    html! {
        div id="income_total" class=(if over { "callout danger mt-4" } else { "callout note mt-4" }) {
            div class="callout-title" { "Reddito complessivo rilevante" }
            @match (summary.total, summary.threshold) {
                (Some(total), Some(t)) => {
                    p class="mb-1" { "Totale calcolato: " strong { "€ " (total) } }
                    p class="mb-0" { "Limite per l'ammissione: € " (t.amount) " (" (t.decree) ")" }
                }
                _ => p class="mb-0" { "Il totale sarà calcolato quando tutti gli importi saranno indicati." }
            }
            @for issue in issues.iter().filter(|i| i.field == "income_total") {
                p class="campo-errore mt-2 mb-0" { (issue.message) }
            }
        }
    }
}

fn case(v: &StepView) -> Markup {
    let c = &v.form.case;
    let i = v.issues;
    let optional_counterparty = v.form.matter().is_some_and(|m| !m.has_counterparty());
    let counterparty_name = Input::text(
        "counterparty_name",
        "Controparte: cognome e nome o denominazione",
        &c.counterparty_name,
    );
    let counterparty_address = Input::text(
        "counterparty_address",
        "Residenza o sede della controparte",
        &c.counterparty_address,
    );
    step_form(
        v,
        html! {
            fieldset {
                legend class="h4" { "Controparte" }
                @if optional_counterparty {
                    p class="small" { "Nei procedimenti di volontaria giurisdizione la controparte può mancare." }
                }
                (if optional_counterparty { counterparty_name.optional() } else { counterparty_name }.render(i))
                (if optional_counterparty { counterparty_address.optional() } else { counterparty_address }.render(i))
                (Input::text("counterparty_cf", "Codice fiscale della controparte", &c.counterparty_cf).optional().width("col-md-6").render(i))
            }
            fieldset class="mt-3" {
                legend class="h4" { "Stato del giudizio" }
                (radios("pending", "Il giudizio è già pendente?", &[("si", "Sì"), ("no", "No, deve ancora essere proposto")], &c.pending, None, i))
                div class="row" {
                    (Input::text("rg_number", "Numero di ruolo generale (R.G.)", &c.rg_number).optional().hint("Se pendente, ad esempio 1234/2026").width("col-md-6").render(i))
                    (Input::text("next_hearing", "Prossima udienza", &c.next_hearing).kind("date").optional().width("col-md-6").render(i))
                }
                (checkbox("appeal_after_loss", "Si tratta di un'impugnazione dopo aver perso il grado precedente (art. 120)", c.appeal_after_loss, i))
            }
            fieldset class="mt-3" {
                legend class="h4" { "Fatti, diritto e prove (art. 122)" }
                (textarea("facts", "Esposizione dei fatti", &c.facts, Some(&format!("Almeno {MIN_FACTS} caratteri: cosa è successo, quando, tra chi.")), 8, i))
                (textarea("law", "Ragioni di diritto", &c.law, Some("Le norme e le ragioni per cui la pretesa non è manifestamente infondata."), 5, i))
                (textarea("evidence", "Prove di cui si chiederà l'ammissione", &c.evidence, Some("Indicarle specificamente: documenti, testimoni (con i capitoli), consulenze."), 4, i))
            }
        },
    )
}

fn lawyer(v: &StepView) -> Markup {
    let i = v.issues;
    let selected = v.form.lawyer.lawyer_id.as_str();
    let action = step_url(v.tenant, v.id, Step::Lawyer);
    let mut shown: Vec<&Lawyer> = v.chosen_lawyer.into_iter().collect();
    shown.extend(
        v.lawyers
            .iter()
            .filter(|l| Some(l.id) != v.chosen_lawyer.map(|c| c.id)),
    );
    html! {
        @match v.form.matter() {
            None => div class="alert alert-warning" role="status" {
                "Per scegliere l'avvocato occorre prima indicare la materia del giudizio nel "
                a href=(step_url(v.tenant, v.id, Step::Filing)) { "primo passaggio" } "."
            },
            Some(m) => {
                p {
                    "L'avvocato va scelto tra gli iscritti nell'elenco degli avvocati per il patrocinio a spese dello Stato "
                    "per la materia " strong { (m.list().label()) } " (artt. 80-81 D.P.R. 115/2002)."
                }
                form method="get" action=(action) class="mb-4" role="search" {
                    div class="form-group mb-2" {
                        label class="active" for="cerca" { "Cerca per cognome, nome o numero di iscrizione" }
                        input type="search" class="form-control" id="cerca" name="cerca" value=(v.lawyer_query);
                    }
                    button type="submit" class="btn btn-outline-primary btn-sm" { "Cerca" }
                }
            }
        }
        (step_form(v, html! {
            fieldset id="lawyer_id" aria-describedby="lawyer_id-errore" {
                legend class="h5" { "Avvocato scelto" }
                @if shown.is_empty() {
                    p { "Nessun avvocato trovato. Provare con un'altra ricerca." }
                }
                @for l in &shown {
                    @let id = format!("lawyer-{}", l.id);
                    div class="form-check" {
                        input type="radio" name="lawyer_id" id=(id) value=(l.id) checked[l.id.to_string() == selected];
                        label for=(id) {
                            "Avv. " (l.full_name())
                            @if let Some(n) = &l.register_number { span class="text-muted" { " · iscrizione n. " (n) } }
                            @if let Some(pec) = &l.pec { span class="text-muted" { " · " (pec) } }
                        }
                    }
                }
                (feedback("lawyer_id", &messages_for(i, "lawyer_id")))
            }
        }))
    }
}

fn declarations(v: &StepView) -> Markup {
    let d = &v.form.declarations;
    let values = [d.truthful, d.undertaking, d.penalties, d.privacy];
    step_form(
        v,
        html! {
            p { "Il richiedente dichiara, sotto la propria responsabilità:" }
            @for ((name, text), checked) in DECLARATION_TEXTS.iter().zip(values) {
                (checkbox(name, text, checked, v.issues))
            }
        },
    )
}

fn attachments(v: &StepView) -> Markup {
    let i = v.issues;
    // From the review, every action of the step comes back to it.
    let back = if v.back_to_review {
        "?torna=riepilogo"
    } else {
        ""
    };
    let upload = format!("{}/{}/allegati/carica{back}", base(v.tenant), v.id);
    let kinds: Vec<Choice> = AttachmentKind::ALL
        .iter()
        .map(|k| Choice {
            value: k.code(),
            label: k.label(),
        })
        .collect();
    html! {
        h2 class="h4" { "1. Firmare l'istanza" }
        @if spid_offered(v.tenant, v.form) { (spid_card(v)) }
        p {
            @if spid_offered(v.tenant, v.form) { strong { "Oppure, su carta. " } }
            "L'istanza va sottoscritta dal richiedente (art. 78 D.P.R. 115/2002). "
            a href=(format!("{}/{}/pdf", base(v.tenant), v.id)) download { "Scarica l'istanza compilata (PDF)" }
            ", stampala e falla firmare al richiedente, poi caricane la scansione qui sotto come «Istanza firmata»: "
            "il codice QR in basso a sinistra di ogni pagina deve restare leggibile (scansione ad almeno 200 dpi). "
            "Se l'istanza è presentata da un avvocato che autentica la firma, carica il PDF scaricato qui firmato digitalmente dall'avvocato, senza modificarlo (CAdES .p7m oppure PAdES). "
            "Se cambi i dati dopo averla scaricata, scaricala e firmala di nuovo."
        }
        h2 class="h4 mt-4" { "2. Caricare i documenti" }
        p class="small" {
            "Formati ammessi: PDF, JPEG, PNG e file firmati .p7m. Al massimo " (v.max_file_mb) " MB per file e "
            (v.max_application_mb) " MB in tutto."
        }
        (upload_card(&upload, &kinds, v.upload))
        (attachment_list(v))
        h2 class="h4 mt-4" { "3. Come è firmata l'istanza" }
        (step_form(v, html! {
            (radios("signature_mode", "Modalità di sottoscrizione (art. 78, comma 2)", &signature_modes(v), &v.form.signature_mode, None, i))
            @for issue in crate::web::components::messages_for(i, "attachments") {
                p class=(if issue.blocks() { "campo-errore" } else { "campo-avviso" }) id="attachments" { (issue.message) }
            }
        }))
    }
}

/// The ways of signing offered: with SPID or CIE too where [`spid_offered`] (or already chosen).
fn signature_modes(v: &StepView) -> Vec<(&'static str, &'static str)> {
    let mut modes = vec![
        (
            "autenticata",
            "La firma del richiedente è autenticata dall'avvocato, che firma digitalmente il file dell'istanza",
        ),
        (
            "documento",
            "Il richiedente ha firmato e allega la copia di un proprio documento d'identità (art. 38, comma 3, D.P.R. 445/2000)",
        ),
    ];
    if spid_offered(v.tenant, v.form) || v.form.signature_mode == "spid" {
        modes.push((
            "spid",
            "Il richiedente ha firmato identificandosi con SPID o CIE (art. 65, comma 1, lett. b, D.Lgs. 82/2005)",
        ));
    }
    modes
}

/// The upload form, with the outcome of the last upload at its top. It posts to `upload`; htmx
/// swaps the answer in and app.js moves the focus to the outcome (`data-esito`), without
/// JavaScript the action's `#esito-caricamento` makes the browser scroll there.
fn upload_card(upload: &str, kinds: &[Choice], outcome: Option<&UploadOutcome>) -> Markup {
    let (kind, issues): (&str, &[Issue]) = match outcome {
        Some(UploadOutcome::Refused { kind, issues }) => (kind, issues),
        _ => ("", &[]),
    };
    let file_messages = messages_for(issues, "file");
    let file_invalid = file_messages.iter().any(|i| i.blocks());
    html! {
        form method="post" action=(format!("{upload}#{UPLOAD_OUTCOME_ID}")) enctype="multipart/form-data"
            class="card card-bg p-3 mb-4" id="carica-allegato"
            data-hx-post=(upload) data-hx-encoding="multipart/form-data" data-hx-target="body"
            data-hx-disabled-elt="find button[type=submit]" {
            @match outcome {
                Some(UploadOutcome::Stored { name }) => {
                    div id=(UPLOAD_OUTCOME_ID) class="alert alert-success" role="status" tabindex="-1" data-esito {
                        "Documento «" (name) "» caricato: è nell'elenco qui sotto."
                    }
                }
                Some(UploadOutcome::Refused { issues, .. }) => {
                    div id=(UPLOAD_OUTCOME_ID) class="alert alert-danger" role="alert" tabindex="-1" data-esito {
                        p class="fw-semibold mb-1" { "Il documento non è stato caricato." }
                        ul class="mb-0" {
                            @for i in issues {
                                li { a href=(format!("#{}", i.field)) { (i.message) } }
                            }
                        }
                    }
                }
                None => {}
            }
            (select("kind", "Tipo di documento", kinds, kind, "Scegliere il tipo", issues))
            div class="form-group" {
                label class="active" for="file" { "File" }
                input type="file" id="file" name="file" class=(if file_invalid { "form-control is-invalid" } else { "form-control" })
                    accept=".pdf,.p7m,.jpg,.jpeg,.png,application/pdf,image/jpeg,image/png,application/pkcs7-mime"
                    aria-invalid=[file_invalid.then_some("true")] aria-describedby="file-errore";
                (feedback("file", &file_messages))
            }
            progress id="avanzamento-caricamento" class="w-100 mb-2" value="0" max="100" aria-label="Avanzamento del caricamento" hidden {}
            div { button type="submit" class="btn btn-outline-primary" { "Carica il documento" } }
        }
    }
}

pub fn attachment_list(v: &StepView) -> Markup {
    html! {
        @if v.attachments.is_empty() {
            p id="allegati-caricati" { "Nessun documento caricato." }
        } @else {
            div class="table-responsive" {
                table class="table" id="allegati-caricati" {
                    caption { "Documenti caricati" }
                    thead { tr { th scope="col" { "Tipo" } th scope="col" { "File" } th scope="col" { "Firma digitale" } th scope="col" { span class="visually-hidden" { "Azioni" } } } }
                    tbody {
                        @for a in v.attachments {
                            tr {
                                td { (AttachmentKind::label_of(&a.kind)) }
                                td {
                                    a href=(format!("{}/{}/allegati/{}", base(v.tenant), v.id, a.id)) { (a.filename) }
                                    span class="text-muted small" { " · " (size_label(a.size_bytes)) }
                                }
                                td {
                                    @match &a.signature {
                                        Some(s) => { (s.describe()) }
                                        None => "—",
                                    }
                                }
                                td {
                                    form method="post" action=(format!("{}/{}/allegati/{}/elimina{}", base(v.tenant), v.id, a.id, if v.back_to_review { "?torna=riepilogo" } else { "" })) {
                                        button type="submit" class="btn btn-link btn-sm p-0" {
                                            "Elimina " span class="visually-hidden" { (a.filename) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn size_label(bytes: i64) -> String {
    crate::web::uploads::size_label(u64::try_from(bytes).unwrap_or(0))
}

fn summary_section(v: &StepView, step: Step, rows: Vec<(&str, String)>) -> Markup {
    let blocking = v
        .all_issues
        .iter()
        .filter(|i| i.step == step && i.blocks())
        .count();
    html! {
        section class="mb-4" {
            div class="d-flex justify-content-between align-items-baseline border-bottom mb-2" {
                h2 class="h4 mb-1" { (step.title()) }
                a href=(format!("{}?torna=riepilogo", step_url(v.tenant, v.id, step))) {
                    "Modifica " span class="visually-hidden" { (step.title()) }
                }
            }
            @if blocking > 0 {
                p class="campo-errore" { "Da completare: " (plural::count(blocking, "dato", "dati")) }
            }
            dl class="row mb-0" {
                @for (label, value) in rows {
                    dt class="col-sm-4" { (label) }
                    dd class="col-sm-8" { @if value.trim().is_empty() { span class="text-muted" { "non indicato" } } @else { (value) } }
                }
            }
        }
    }
}

fn review(v: &StepView) -> Markup {
    let f = v.form;
    let a = &f.applicant;
    let blocking: Vec<&Issue> = v.all_issues.iter().filter(|i| i.blocks()).collect();
    let warnings: Vec<&Issue> = v.all_issues.iter().filter(|i| !i.blocks()).collect();
    let office = v
        .offices
        .iter()
        .find(|o| o.id.to_string() == f.filing.judicial_office)
        .map(|o| o.name.clone())
        .unwrap_or_default();
    let members = if f.household.lives_alone {
        "Vive da solo".to_owned()
    } else {
        f.household
            .members
            .iter()
            .map(|m| format!("{} ({})", m.display_name(), m.codice_fiscale))
            .collect::<Vec<_>>()
            .join("; ")
    };
    html! {
        p { "Controllare i dati prima dell'invio. Ogni sezione si può modificare; dopo l'invio l'istanza non è più modificabile." }
        (summary_section(v, Step::Filing, vec![
            ("Presentata da", if f.filed_by_lawyer() { "Un avvocato per conto del richiedente".into() } else if f.filing.filed_by == "richiedente" { "Il richiedente".into() } else { String::new() }),
            ("Materia", f.matter().map(|m| m.label().to_owned()).unwrap_or_default()),
            ("Ufficio giudiziario", office),
        ]))
        (summary_section(v, Step::Applicant, vec![
            ("Richiedente", a.display_name()),
            ("Codice fiscale", a.cf().to_owned()),
            ("Residenza o sede", if a.is_entity() { a.entity_seat.clone() } else { format!("{} {} {}", a.address, a.postcode, a.city) }),
            ("E-mail", a.email.clone()),
        ]))
        (summary_section(v, Step::Household, vec![("Familiari conviventi", members)]))
        (summary_section(v, Step::Income, vec![
            ("Anno", f.income.year.clone()),
            ("Reddito complessivo", v.income.total.map(|t| format!("€ {t}")).unwrap_or_default()),
            ("Limite applicato", v.income.threshold.map(|t| format!("€ {}", t.amount)).unwrap_or_default()),
        ]))
        (summary_section(v, Step::Case, vec![
            ("Controparte", f.case.counterparty_name.clone()),
            ("Giudizio pendente", match f.case.pending.as_str() { "si" => format!("Sì, R.G. {}", f.case.rg_number), "no" => "No".into(), _ => String::new() }),
            ("Fatti", truncate(&f.case.facts, 300)),
        ]))
        (summary_section(v, Step::Lawyer, vec![
            ("Avvocato", v.chosen_lawyer.map(|l| format!("Avv. {}", l.full_name())).unwrap_or_default()),
        ]))
        (summary_section(v, Step::Declarations, vec![
            ("Dichiarazioni", if [f.declarations.truthful, f.declarations.undertaking, f.declarations.penalties, f.declarations.privacy].iter().all(|d| *d) { "Tutte rese".into() } else { String::new() }),
        ]))
        (summary_section(v, Step::Attachments, vec![
            ("Documenti", v.attachments.iter().map(|a| a.filename.clone()).collect::<Vec<_>>().join(", ")),
        ]))
        @if !blocking.is_empty() {
            div class="alert alert-danger" role="alert" id="da-completare" {
                h2 class="h5 alert-heading" { "Prima dell'invio occorre completare" }
                ul class="mb-0" {
                    @for i in &blocking {
                        li { a href=(format!("{}#{}", step_url(v.tenant, v.id, i.step), i.field)) { (i.step.short_title()) ": " (i.message) } }
                    }
                }
            }
        } @else if let Some(token) = v.submit_token {
            form method="post" action=(format!("{}/{}/invia", base(v.tenant), v.id)) {
                input type="hidden" name="token" value=(token);
                @if !warnings.is_empty() {
                    div class="alert alert-warning" role="status" {
                        h2 class="h5 alert-heading" { "Da verificare prima dell'invio" }
                        ul {
                            @for i in &warnings {
                                li { a href=(format!("{}#{}", step_url(v.tenant, v.id, i.step), i.field)) { (i.message) } }
                            }
                        }
                        (checkbox("warnings_confirmed", "Ho verificato questi punti e desidero inviare comunque l'istanza", f.warnings_confirmed, v.issues))
                    }
                }
                button type="submit" class="btn btn-primary btn-lg" { "Invia l'istanza al Consiglio dell'Ordine" }
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// The draft's code and PIN, shown once right after creation.
pub fn created_page(
    tenant: &Tenant,
    id: Uuid,
    code: &str,
    pin: &str,
    email: Option<&str>,
) -> Markup {
    layout::page(
        &PageMeta::tenant("Istanza creata", tenant),
        html! {
            h1 { "La bozza dell'istanza è stata creata" }
            div class="callout important" {
                div class="callout-title" { "Annotare codice e PIN" }
                p { "Servono per riprendere la compilazione da un altro dispositivo e per seguire l'istanza dopo l'invio. "
                    strong { "Il PIN viene mostrato solo ora." } }
                dl class="row mb-0" {
                    dt class="col-sm-3" { "Codice dell'istanza" }
                    dd class="col-sm-9 h3 text-monospace" id="codice-istanza" { (code) }
                    dt class="col-sm-3" { "PIN" }
                    dd class="col-sm-9 h3 text-monospace" id="pin-istanza" { (pin) }
                }
                @if let Some(email) = email {
                    p class="mt-2 mb-0" { "Codice e PIN verranno inviati anche per e-mail a " strong { (email) } ": conservarli comunque ora." }
                }
            }
            a class="btn btn-primary mt-3" href=(step_url(tenant, id, Step::Filing)) { "Inizia la compilazione" }
        },
    )
}

/// What the entry page shows again after a refusal: what was typed and what was wrong.
#[derive(Default)]
pub struct EntryForms<'a> {
    /// The address for code and PIN, to start.
    pub email: &'a str,
    pub start_error: Option<&'a str>,
    /// The code typed to resume.
    pub code: &'a str,
    pub resume_error: Option<&'a str>,
}

/// Start a new application (code and PIN also by e-mail, if one is given) or resume one with
/// code and PIN.
pub fn entry_actions(tenant: &Tenant, forms: &EntryForms) -> Markup {
    html! {
        div class="row mt-4" {
            div class="col-md-6 mb-4" {
                div class="card card-bg h-100" { div class="card-body" {
                    h2 class="h4 card-title" { "Nuova istanza" }
                    p { "Si riceveranno un codice e un PIN per riprendere la compilazione e seguire l'istanza." }
                    form method="post" action=(format!("{}/nuova", base(tenant))) novalidate {
                        @if let Some(error) = forms.start_error {
                            div class="alert alert-danger" role="alert" id="email-bozza-errore" { (error) }
                        }
                        div class="form-group" {
                            label class="active" for="email-bozza" { "E-mail per ricevere codice e PIN (facoltativa)" }
                            input type="email" class=(if forms.start_error.is_some() { "form-control is-invalid" } else { "form-control" })
                                id="email-bozza" name="email" value=(forms.email) autocomplete="email"
                                aria-invalid=[forms.start_error.map(|_| "true")]
                                aria-describedby=(if forms.start_error.is_some() { "email-bozza-errore email-bozza-aiuto" } else { "email-bozza-aiuto" });
                            small id="email-bozza-aiuto" class="form-text" { "Per non perderli: si possono comunque annotare alla pagina successiva." }
                        }
                        button type="submit" class="btn btn-primary" { "Compila una nuova istanza" }
                    }
                }}
            }
            div class="col-md-6 mb-4" {
                div class="card card-bg h-100" { div class="card-body" {
                    h2 class="h4 card-title" id="riprendi" { "Riprendi un'istanza" }
                    (code_pin_form(&format!("{}/riprendi", base(tenant)), "Riprendi", forms.resume_error, forms.code))
                }}
            }
        }
        p { a href=(format!("{}/stato", base(tenant))) { "Verifica lo stato di un'istanza già inviata" } }
    }
}

pub fn code_pin_form(action: &str, button: &str, error: Option<&str>, code: &str) -> Markup {
    html! {
        form method="post" action=(action) novalidate {
            @if let Some(error) = error {
                div class="alert alert-danger" role="alert" { (error) }
            }
            div class="form-group" {
                label class="active" for="codice" { "Codice dell'istanza" }
                input type="text" class="form-control text-uppercase" id="codice" name="codice" value=(code) autocomplete="off" aria-describedby="codice-aiuto";
                small id="codice-aiuto" class="form-text" { "Ad esempio 7K3M-Q9TD" }
            }
            div class="form-group" {
                label class="active" for="pin" { "PIN" }
                input type="password" class="form-control" id="pin" name="pin" inputmode="numeric" autocomplete="off";
            }
            button type="submit" class="btn btn-outline-primary" { (button) }
        }
    }
}
