//! The rules of domain.md §10 that the form can check by itself (V1–V38, less V36's lookup,
//! which the caller provides, and those only a person can judge). Each issue names its rule,
//! its step and field, whether it blocks submission, and the message shown to the user.

use chrono::{Datelike, NaiveDate};

use super::{
    Step,
    attachment::AttachmentKind,
    form::{APPLICANT_KEY, Form, MAX_MEMBERS, Member, PersonIncome, VICTIM_OFFENCES},
    matter::{ListMatter, Matter},
};
use crate::domain::{
    codice_fiscale::{CfError, CodiceFiscale, Sex},
    income::{Threshold, threshold_on},
    money::{Euro, group_thousands},
    register::fold,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Blocking,
    Warning,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub rule: &'static str,
    pub step: Step,
    /// The id of the form field the message belongs to.
    pub field: String,
    pub severity: Severity,
    pub message: String,
}

/// What the rules need to know beyond the form.
pub struct Context<'a> {
    pub today: NaiveDate,
    pub ordine: &'a str,
    /// The judicial offices of the competence map: (id, name).
    pub offices: &'a [(String, String)],
    /// The chosen lawyer, if the id in the form is one of this Ordine's lawyers.
    pub lawyer: Option<&'a LawyerFacts>,
    pub attachments: &'a [AttachmentFacts],
    /// Codes (or protocol numbers) of other applications for the same person and proceeding.
    pub duplicates: &'a [String],
    /// The applicant's identification with SPID or CIE that signed the application (art. 65,
    /// c. 1, lett. b, CAD), if there was one.
    pub identification: Option<&'a IdentificationFacts>,
}

/// An identification with SPID or CIE at level 2 or higher, as recorded.
pub struct IdentificationFacts {
    /// The codice fiscale of the person identified.
    pub codice_fiscale: String,
    /// The fingerprint of the answers it signed ([`Form::fingerprint`]).
    pub form_sha256: String,
}

pub struct LawyerFacts {
    pub id: String,
    pub name: String,
    pub codice_fiscale: String,
    pub active: bool,
    pub lists: Vec<ListMatter>,
    pub pec: Option<String>,
}

pub struct AttachmentFacts {
    pub kind: AttachmentKind,
    pub filename: String,
    /// The codici fiscali of the digital signers, when the file is digitally signed (the
    /// signature was verified at upload: files that do not verify are never stored).
    pub signers: Vec<String>,
    /// Signers (codice fiscale) whose signature is not qualified, with the reason (Italian).
    pub not_qualified: Vec<(String, String)>,
    /// For the signed application: the fingerprint of the answers it was bound to when it was
    /// accepted ([`Form::fingerprint`]); `None` for files kept before the binding existed.
    pub bound_form: Option<String>,
}

struct Issues(Vec<Issue>);

impl Issues {
    fn block(&mut self, rule: &'static str, step: Step, field: &str, message: impl Into<String>) {
        self.push(rule, step, field, Severity::Blocking, message);
    }

    fn warn(&mut self, rule: &'static str, step: Step, field: &str, message: impl Into<String>) {
        self.push(rule, step, field, Severity::Warning, message);
    }

    fn push(
        &mut self,
        rule: &'static str,
        step: Step,
        field: &str,
        severity: Severity,
        message: impl Into<String>,
    ) {
        self.0.push(Issue {
            rule,
            step,
            field: field.to_owned(),
            severity,
            message: message.into(),
        });
    }
}

/// Parses the dates people type: `2025-03-31` (date inputs) or `31/03/2025`.
pub fn parse_date(input: &str) -> Option<NaiveDate> {
    let s = input.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%d/%m/%Y"))
        .or_else(|_| NaiveDate::parse_from_str(s, "%d-%m-%Y"))
        .or_else(|_| NaiveDate::parse_from_str(s, "%d.%m.%Y"))
        .ok()
}

/// An optional e-mail address that is not one.
pub const EMAIL_INVALID: &str =
    "L'indirizzo e-mail non è valido: verificarlo oppure lasciare il campo vuoto.";

/// An address the mailer will take: lettre's own parser (the one that builds every message)
/// must accept it, and its domain must have a dot (no local hosts).
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    s.parse::<lettre::Address>().is_ok()
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.len() <= 254
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
        && !domain.contains('@')
}

/// R.G. numbers are written `1234/2025` (with an optional `-1` sub-number).
pub fn is_rg_number(s: &str) -> bool {
    let s = s.trim();
    let Some((n, rest)) = s.split_once('/') else {
        return false;
    };
    let year = rest.split('-').next().unwrap_or("");
    !n.is_empty()
        && n.len() <= 7
        && n.bytes().all(|b| b.is_ascii_digit())
        && year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
}

pub const MIN_FACTS: usize = 200;
pub const MIN_LAW: usize = 30;
pub const MIN_EVIDENCE: usize = 20;

/// The income of one person: the sum of the four kinds of art. 76 (c.1 and c.3), or None
/// while any amount is missing or unreadable.
pub fn person_total(p: &PersonIncome) -> Option<Euro> {
    let mut total = Euro::parse_it(&p.taxable).ok()?;
    for (has, amount) in [
        (&p.has_exempt, &p.exempt),
        (&p.has_withholding, &p.withholding),
        (&p.has_substitute, &p.substitute),
    ] {
        match has.as_str() {
            "no" => {}
            "si" => total = total.checked_add(Euro::parse_it(amount).ok()?)?,
            _ => return None,
        }
    }
    Some(total)
}

pub struct IncomeSummary {
    /// Each person counted: (key, label, total if computable).
    pub rows: Vec<(String, String, Option<Euro>)>,
    /// The sum, when every row is computable.
    pub total: Option<Euro>,
    pub threshold: Option<&'static Threshold>,
}

/// The relevant income computed on the server (art. 76), against the threshold in force on
/// `filing_date`.
pub fn income_summary(form: &Form, filing_date: NaiveDate) -> IncomeSummary {
    let rows: Vec<_> = form
        .income_people()
        .into_iter()
        .map(|(key, label)| {
            let total = form.income_of(&key).and_then(person_total);
            (key, label, total)
        })
        .collect();
    let total = rows
        .iter()
        .try_fold(Euro::ZERO, |acc, (_, _, t)| acc.checked_add((*t)?));
    IncomeSummary {
        rows,
        total,
        threshold: threshold_on(filing_date),
    }
}

fn cf_message(rule_v7: bool, cf: &str) -> String {
    if rule_v7 {
        format!(
            "Il carattere di controllo del codice fiscale {cf} non è corretto: verificare eventuali errori di battitura."
        )
    } else {
        "Il codice fiscale non è valido. Verificare i 16 caratteri (o le 11 cifre per gli enti)."
            .into()
    }
}

/// V6/V7 on one codice fiscale field; returns the parsed code when valid.
fn check_cf(
    out: &mut Issues,
    step: Step,
    field: &str,
    input: &str,
    missing: &str,
) -> Option<CodiceFiscale> {
    if input.trim().is_empty() {
        out.block("V6", step, field, missing);
        return None;
    }
    match CodiceFiscale::parse(input) {
        Ok(cf) => Some(cf),
        Err(CfError::Controllo) => {
            out.block(
                "V7",
                step,
                field,
                cf_message(true, &input.trim().to_uppercase()),
            );
            None
        }
        Err(_) => {
            out.block("V6", step, field, cf_message(false, ""));
            None
        }
    }
}

pub fn check(form: &Form, ctx: &Context) -> Vec<Issue> {
    let mut out = Issues(Vec::new());
    limits(form, &mut out);
    filing(form, ctx, &mut out);
    applicant(form, ctx, &mut out);
    household(form, &mut out);
    income(form, ctx, &mut out);
    case(form, ctx, &mut out);
    lawyer(form, ctx, &mut out);
    declarations(form, &mut out);
    attachments(form, ctx, &mut out);
    out.0
}

fn filing(form: &Form, ctx: &Context, out: &mut Issues) {
    let s = Step::Filing;
    if !matches!(form.filing.filed_by.as_str(), "richiedente" | "avvocato") {
        out.block("V5", s, "filed_by", "Indicare chi presenta l'istanza.");
    }
    match form.matter() {
        None => out.block("V1", s, "matter", "Indicare la materia del giudizio."),
        Some(m) => {
            if let Some(message) = m.redirect() {
                out.block(m.rule(), s, "matter", message);
            }
        }
    }
    let office = &form.filing.judicial_office;
    if office.is_empty() {
        out.block(
            "V4",
            s,
            "judicial_office",
            "Indicare l'ufficio giudiziario competente.",
        );
    } else if !ctx.offices.iter().any(|(id, _)| id == office) {
        out.block(
            "V4",
            s,
            "judicial_office",
            format!(
                "Il Consiglio dell'Ordine degli Avvocati di {} non è competente per l'ufficio giudiziario indicato. L'istanza va presentata al Consiglio dell'Ordine del luogo in cui ha sede il giudice competente (art. 124 D.P.R. 115/2002).",
                ctx.ordine
            ),
        );
    }
}

fn applicant(form: &Form, ctx: &Context, out: &mut Issues) {
    let s = Step::Applicant;
    let a = &form.applicant;
    match a.kind.as_str() {
        "ente" => {
            let complete = [&a.entity_name, &a.entity_seat, &a.representative]
                .iter()
                .all(|v| !v.is_empty());
            if !complete {
                let field = if a.entity_name.is_empty() {
                    "entity_name"
                } else if a.entity_seat.is_empty() {
                    "entity_seat"
                } else {
                    "representative"
                };
                out.block(
                    "V5",
                    s,
                    field,
                    "Completare i dati dell'ente richiedente (denominazione, sede, legale rappresentante).",
                );
            }
            check_cf(
                out,
                s,
                "entity_cf",
                &a.entity_cf,
                "Indicare il codice fiscale dell'ente richiedente.",
            );
        }
        "persona" => {
            let required = [
                ("surname", &a.surname),
                ("given_name", &a.given_name),
                ("birth_place", &a.birth_place),
                ("address", &a.address),
                ("city", &a.city),
            ];
            let birth = parse_date(&a.birth_date);
            let missing = required.iter().find(|(_, v)| v.is_empty()).map(|(f, _)| *f);
            let field = missing.or(if birth.is_none_or(|d| d > ctx.today) {
                Some("birth_date")
            } else if !matches!(a.sex.as_str(), "M" | "F") {
                Some("sex")
            } else {
                None
            });
            if let Some(field) = field {
                out.block(
                    "V5",
                    s,
                    field,
                    "Completare i dati anagrafici del richiedente (cognome, nome, luogo e data di nascita, residenza).",
                );
            }
            let cf = check_cf(
                out,
                s,
                "codice_fiscale",
                &a.codice_fiscale,
                "Indicare il codice fiscale del richiedente.",
            );
            if let (Some(CodiceFiscale::Persona(cf)), Some(birth)) = (cf, birth) {
                let sex = match a.sex.as_str() {
                    "F" => Some(Sex::F),
                    "M" => Some(Sex::M),
                    _ => None,
                };
                if sex.is_some_and(|sex| !cf.matches_birth(birth, sex)) {
                    out.warn(
                        "V8",
                        s,
                        "codice_fiscale",
                        "Il codice fiscale non sembra corrispondere ai dati di nascita indicati. Se il codice è quello attribuito dall'Agenzia delle Entrate (ad es. in caso di omocodia), confermare e proseguire.",
                    );
                }
            }
            if a.id_document.is_empty() {
                out.block(
                    "V30",
                    s,
                    "id_document",
                    "Indicare il documento d'identità del richiedente (tipo e numero).",
                );
            }
            match parse_date(&a.id_document_expiry) {
                Some(d) if d >= ctx.today => {}
                _ => out.block(
                    "V30",
                    s,
                    "id_document_expiry",
                    "Allegare la copia di un documento d'identità del richiedente in corso di validità: indicarne la data di scadenza.",
                ),
            }
            if !matches!(
                a.citizenship.as_str(),
                "italiana" | "ue" | "extra_ue" | "apolide"
            ) {
                out.block(
                    "V5",
                    s,
                    "citizenship",
                    "Indicare la cittadinanza del richiedente.",
                );
            }
            if a.is_non_eu() {
                if a.lawful_stay != "si" && !a.protection_case {
                    out.warn(
                        "V33",
                        s,
                        "lawful_stay",
                        "Indicare il titolo di soggiorno posseduto al momento in cui è sorto il rapporto o il fatto oggetto del giudizio (art. 119 D.P.R. 115/2002) e allegarne copia.",
                    );
                }
                match a.foreign_income.as_str() {
                    "no" => {}
                    "si" if matches!(a.consular.as_str(), "certificato" | "impossibile") => {}
                    "si" => out.block(
                        "V32",
                        s,
                        "consular",
                        "Per i redditi prodotti all'estero allegare la certificazione dell'autorità consolare competente (art. 79, comma 2) oppure dichiarare l'impossibilità di ottenerla e allegare la dichiarazione sostitutiva (Corte cost. n. 157/2021).",
                    ),
                    _ => out.block(
                        "V32",
                        s,
                        "foreign_income",
                        "Indicare se il richiedente ha prodotto redditi all'estero.",
                    ),
                }
            }
        }
        _ => out.block(
            "V5",
            s,
            "kind",
            "Indicare se il richiedente è una persona fisica o un ente senza scopo di lucro.",
        ),
    }
    if !a.email.is_empty() && !is_email(&a.email) {
        out.block("V5", s, "email", EMAIL_INVALID);
    }
}

/// The message of a text longer than its field allows.
pub fn too_long_message(max: usize, typed: usize) -> String {
    format!(
        "Il testo è troppo lungo: al massimo {} caratteri (ne sono stati inseriti {}). Abbreviarlo per poter salvare questa pagina.",
        group_thousands(max as u64),
        group_thousands(typed as u64)
    )
}

/// Texts over their limit and too many household members: the step is not stored until they
/// are fixed (what was typed is shown back).
fn limits(form: &Form, out: &mut Issues) {
    for f in form.text_fields().iter().filter(|f| f.too_long()) {
        out.block(
            "L1",
            f.step,
            &f.field,
            too_long_message(f.max, f.value.chars().count()),
        );
    }
    if form.household.members.len() > MAX_MEMBERS {
        out.block(
            "L2",
            Step::Household,
            "lives_alone",
            format!(
                "Si possono indicare al massimo {MAX_MEMBERS} familiari conviventi: per un nucleo più numeroso rivolgersi alla segreteria dell'Ordine."
            ),
        );
    }
}

fn household(form: &Form, out: &mut Issues) {
    let s = Step::Household;
    let h = &form.household;
    if form.applicant.is_entity() {
        return;
    }
    if !h.lives_alone && h.members.is_empty() {
        out.block(
            "V10",
            s,
            "lives_alone",
            "Dichiarare la composizione del nucleo familiare convivente, anche se il richiedente vive da solo.",
        );
    }
    if h.lives_alone && !h.members.is_empty() {
        out.block(
            "V10",
            s,
            "lives_alone",
            "È stato indicato che il richiedente vive da solo, ma sono elencati dei familiari: togliere la spunta oppure rimuovere i familiari.",
        );
    }
    for m in &h.members {
        let prefix = format!("member_{}_", m.id);
        let incomplete = [
            ("surname", &m.surname),
            ("given_name", &m.given_name),
            ("relationship", &m.relationship),
        ]
        .into_iter()
        .find(|(_, v)| v.is_empty());
        if let Some((field, _)) = incomplete {
            out.block(
                "V9",
                s,
                &format!("{prefix}{field}"),
                "Indicare le generalità e il codice fiscale di ciascun componente della famiglia anagrafica (art. 79, comma 1, lett. b, D.P.R. 115/2002).",
            );
        }
        check_cf(
            out,
            s,
            &format!("{prefix}codice_fiscale"),
            &m.codice_fiscale,
            "Indicare le generalità e il codice fiscale di ciascun componente della famiglia anagrafica (art. 79, comma 1, lett. b, D.P.R. 115/2002).",
        );
        if !m.birth_date.is_empty() && parse_date(&m.birth_date).is_none() {
            out.block(
                "V9",
                s,
                &format!("{prefix}birth_date"),
                "La data di nascita del familiare non è valida: usare il formato gg/mm/aaaa.",
            );
        }
    }
}

fn income(form: &Form, ctx: &Context, out: &mut Issues) {
    let s = Step::Income;
    let inc = &form.income;
    let expected_year = ctx.today.year() - 1;
    match inc.year.trim().parse::<i32>() {
        Ok(y) if y == expected_year => {}
        Ok(_) => out.warn(
            "V15",
            s,
            "year",
            format!(
                "Il reddito va riferito all'anno precedente la presentazione dell'istanza ({expected_year}). Verificare l'anno indicato."
            ),
        ),
        Err(_) => out.block(
            "V11",
            s,
            "year",
            format!("Indicare l'anno a cui si riferiscono i redditi (di norma il {expected_year})."),
        ),
    }
    if inc.personal_only
        && !matches!(
            inc.personal_only_reason.as_str(),
            "personalita" | "conflitto"
        )
    {
        out.block(
            "V13",
            s,
            "personal_only_reason",
            "Specificare perché deve essere considerato il solo reddito personale (diritti della personalità oppure conflitto di interessi con i familiari conviventi).",
        );
    }
    if inc.victim_regime
        && !VICTIM_OFFENCES
            .iter()
            .any(|(c, _)| *c == inc.victim_offence)
    {
        out.block(
            "V14",
            s,
            "victim_offence",
            "Indicare il reato per cui si chiede l'ammissione a prescindere dal reddito (art. 76, comma 4-ter).",
        );
    }
    for (key, label) in form.income_people() {
        let field = |name: &str| format!("{name}_{key}");
        let Some(p) = form.income_of(&key) else {
            let (rule, message) = if key == APPLICANT_KEY {
                ("V11", "È obbligatoria la dichiarazione sostitutiva di certificazione con l'indicazione specifica del reddito complessivo (art. 79, comma 1, lett. c, D.P.R. 115/2002).".to_owned())
            } else {
                (
                    "V12",
                    format!(
                        "Indicare il reddito di {label}: il reddito rilevante è la somma dei redditi di tutti i componenti, compreso il richiedente (art. 76, comma 2). Se la causa riguarda diritti della personalità o è in conflitto con i familiari conviventi, selezionare l'apposita opzione."
                    ),
                )
            };
            out.block(rule, s, &field("taxable"), message);
            continue;
        };
        if p.source == "isee" {
            out.block(
                "V17",
                s,
                &field("source"),
                "Il reddito non può essere determinato con il modello ISEE: indicare il reddito imponibile ai fini IRPEF e gli altri redditi previsti dall'art. 76 D.P.R. 115/2002.",
            );
        } else if p.source.is_empty() {
            out.block(
                "V11",
                s,
                &field("source"),
                format!("Indicare da quale documento risulta il reddito di {label}."),
            );
        }
        if Euro::parse_it(&p.taxable).is_err() {
            let message = if key == APPLICANT_KEY {
                "È obbligatoria la dichiarazione sostitutiva di certificazione con l'indicazione specifica del reddito complessivo (art. 79, comma 1, lett. c, D.P.R. 115/2002). Indicare l'importo in euro, anche 0.".to_owned()
            } else {
                format!(
                    "Indicare il reddito imponibile di {label} in euro (anche 0): il reddito rilevante è la somma dei redditi di tutti i componenti, compreso il richiedente (art. 76, comma 2)."
                )
            };
            out.block(
                if key == APPLICANT_KEY { "V11" } else { "V12" },
                s,
                &field("taxable"),
                message,
            );
        }
        for (has, amount, name) in [
            (&p.has_exempt, &p.exempt, "exempt"),
            (&p.has_withholding, &p.withholding, "withholding"),
            (&p.has_substitute, &p.substitute, "substitute"),
        ] {
            match has.as_str() {
                "no" => {}
                "si" if Euro::parse_it(amount).is_ok_and(|e| e > Euro::ZERO) => {}
                "si" => out.block(
                    "V16",
                    s,
                    &field(name),
                    format!("Indicare l'importo in euro di questi redditi di {label}."),
                ),
                _ => out.block(
                    "V16",
                    s,
                    &field(&format!("has_{name}")),
                    "Indicare anche i redditi esenti IRPEF o soggetti a ritenuta alla fonte a titolo d'imposta o a imposta sostitutiva (art. 76, comma 3): se assenti, dichiararlo espressamente.",
                ),
            }
        }
    }
    let summary = income_summary(form, ctx.today);
    if let (Some(total), Some(threshold)) = (summary.total, summary.threshold)
        && total > threshold.amount
        && !inc.victim_regime
    {
        out.block(
            "V14",
            s,
            "income_total",
            format!(
                "Il reddito complessivo dichiarato (€ {total}) supera il limite di € {} previsto per l'ammissione (art. 76 D.P.R. 115/2002, limite aggiornato con {}).",
                threshold.amount, threshold.decree
            ),
        );
    }
}

/// The household member who is also the opposing party, by codice fiscale or by name (in any
/// order, accents and case ignored).
pub fn counterparty_in_household(form: &Form) -> Option<&Member> {
    let c = &form.case;
    let words = |s: &str| {
        let mut w: Vec<String> = s
            .split_whitespace()
            .map(fold)
            .filter(|w| !w.is_empty())
            .collect();
        w.sort();
        w
    };
    let name = words(&c.counterparty_name);
    let cf = CodiceFiscale::parse(&c.counterparty_cf).ok();
    form.household.members.iter().find(|m| {
        let same_cf = cf.as_ref().is_some_and(|cf| {
            CodiceFiscale::parse(&m.codice_fiscale).is_ok_and(|mcf| mcf.as_str() == cf.as_str())
        });
        let same_name =
            !name.is_empty() && name == words(&format!("{} {}", m.surname, m.given_name));
        same_cf || same_name
    })
}

fn case(form: &Form, ctx: &Context, out: &mut Issues) {
    let s = Step::Case;
    let c = &form.case;
    let contentious = form.matter().is_none_or(Matter::has_counterparty);
    if contentious && (c.counterparty_name.is_empty() || c.counterparty_address.is_empty()) {
        let field = if c.counterparty_name.is_empty() {
            "counterparty_name"
        } else {
            "counterparty_address"
        };
        out.block(
            "V22",
            s,
            field,
            "Indicare le generalità e la residenza (o sede) della controparte.",
        );
    }
    if let Some(member) = counterparty_in_household(form) {
        let message = format!(
            "La controparte risulta tra i familiari conviventi ({}): nel giudizio contro un familiare convivente si considera il solo reddito personale del richiedente (art. 76, comma 4, D.P.R. 115/2002). Verificare i dati e, se è così, indicarlo al passo «Redditi».",
            member.display_name()
        );
        if !(form.income.personal_only && form.income.personal_only_reason == "conflitto") {
            out.warn("V41", s, "counterparty_name", message.clone());
            out.warn("V41", Step::Income, "personal_only", message);
        }
    }
    if !c.counterparty_cf.is_empty() && CodiceFiscale::parse(&c.counterparty_cf).is_err() {
        out.block(
            "V6",
            s,
            "counterparty_cf",
            "Il codice fiscale della controparte non è valido: correggerlo oppure lasciare il campo vuoto.",
        );
    }
    match c.pending.as_str() {
        "si" => {
            if !is_rg_number(&c.rg_number) {
                out.block(
                    "V23",
                    s,
                    "rg_number",
                    "Se il giudizio è già pendente, indicare l'ufficio giudiziario e il numero di ruolo generale (art. 79, comma 1, lett. a).",
                );
            }
            if !c.next_hearing.is_empty() && parse_date(&c.next_hearing).is_none() {
                out.block(
                    "V23",
                    s,
                    "next_hearing",
                    "La data della prossima udienza non è valida: usare il formato gg/mm/aaaa.",
                );
            }
        }
        "no" => {}
        _ => out.block(
            "V23",
            s,
            "pending",
            "Indicare se il giudizio è già pendente.",
        ),
    }
    if c.facts.chars().count() < MIN_FACTS {
        out.block(
            "V20",
            s,
            "facts",
            format!(
                "Esporre i fatti e le ragioni di diritto utili a valutare la non manifesta infondatezza della pretesa (art. 122 D.P.R. 115/2002). I fatti richiedono almeno {MIN_FACTS} caratteri."
            ),
        );
    }
    if c.law.chars().count() < MIN_LAW {
        out.block(
            "V20",
            s,
            "law",
            "Esporre i fatti e le ragioni di diritto utili a valutare la non manifesta infondatezza della pretesa (art. 122 D.P.R. 115/2002).",
        );
    }
    if c.evidence.chars().count() < MIN_EVIDENCE {
        out.block(
            "V21",
            s,
            "evidence",
            "Indicare specificamente le prove di cui si intende chiedere l'ammissione (art. 122 D.P.R. 115/2002).",
        );
    }
    if c.appeal_after_loss {
        out.warn(
            "V35",
            s,
            "appeal_after_loss",
            "L'ammissione ottenuta per il grado precedente non vale per proporre impugnazione se la parte è rimasta soccombente (art. 120): la presente istanza sarà valutata come nuova domanda.",
        );
    }
    if let Some(code) = ctx.duplicates.first() {
        out.warn(
            "V36",
            s,
            "counterparty_name",
            format!(
                "Risulta già un'istanza per lo stesso richiedente e lo stesso procedimento (prot. {code}). Verificare prima di presentarne una nuova."
            ),
        );
    }
}

fn lawyer(form: &Form, ctx: &Context, out: &mut Issues) {
    let s = Step::Lawyer;
    let listed = match (ctx.lawyer, form.matter()) {
        (Some(l), Some(m)) => l.active && l.lists.contains(&m.list()),
        (Some(l), None) => l.active,
        (None, _) => false,
    };
    if !listed {
        out.block(
            "V24",
            s,
            "lawyer_id",
            "L'avvocato indicato non risulta iscritto nell'elenco degli avvocati per il patrocinio a spese dello Stato per la materia selezionata (artt. 80-81 D.P.R. 115/2002).",
        );
    } else if !ctx
        .lawyer
        .and_then(|l| l.pec.as_deref())
        .is_some_and(is_email)
    {
        out.block(
            "V25",
            s,
            "lawyer_id",
            "Indicare un indirizzo PEC valido del difensore per le comunicazioni del Consiglio.",
        );
    }
}

fn declarations(form: &Form, out: &mut Issues) {
    let s = Step::Declarations;
    let d = &form.declarations;
    if !d.truthful {
        out.block(
            "V11",
            s,
            "truthful",
            "È obbligatoria la dichiarazione sostitutiva di certificazione con l'indicazione specifica del reddito complessivo (art. 79, comma 1, lett. c, D.P.R. 115/2002).",
        );
    }
    if !d.undertaking {
        out.block(
            "V18",
            s,
            "undertaking",
            "È necessario impegnarsi a comunicare, fino alla definizione del processo, le variazioni rilevanti del reddito entro trenta giorni dalla scadenza di ciascun anno dalla presentazione dell'istanza (art. 79, comma 1, lett. d).",
        );
    }
    if !d.penalties {
        out.block(
            "V19",
            s,
            "penalties",
            "Confermare di essere consapevole delle sanzioni penali previste per le dichiarazioni false o per l'omessa comunicazione delle variazioni di reddito (art. 125 D.P.R. 115/2002).",
        );
    }
    if !d.privacy {
        out.block(
            "",
            s,
            "privacy",
            "Confermare di aver letto l'informativa sul trattamento dei dati personali.",
        );
    }
}

/// Signature mode "spid" (art. 65, c. 1, lett. b, CAD): the applicant filing alone, identified
/// with SPID or CIE at level 2 or higher, with their own codice fiscale, for the answers as they
/// are now. A lawyer's filing is signed by the applicant on paper and, when authenticated, by
/// the lawyer's qualified signature: identification does not replace either.
fn identified(form: &Form, ctx: &Context, out: &mut Issues) {
    let s = Step::Attachments;
    if form.filed_by_lawyer() || form.applicant.is_entity() {
        out.block(
            "V27",
            s,
            "signature_mode",
            "La firma con SPID o CIE è possibile solo quando il richiedente, persona fisica, presenta da sé l'istanza: scegliere un'altra modalità di sottoscrizione.",
        );
        return;
    }
    let applicant = super::form::written_cf(form.applicant.cf());
    match ctx.identification {
        None => out.block(
            "V26",
            s,
            "attachments",
            "L'istanza deve essere sottoscritta dal richiedente, a pena di inammissibilità (art. 78, comma 2, D.P.R. 115/2002): premere «Firma con SPID o CIE» e completare l'identificazione.",
        ),
        Some(i) if !i.codice_fiscale.eq_ignore_ascii_case(&applicant) => out.block(
            "V26",
            s,
            "attachments",
            "Il codice fiscale del richiedente non è più quello della persona identificata con SPID o CIE: firmare di nuovo con SPID o CIE.",
        ),
        Some(i) if i.form_sha256 != form.fingerprint() => out.block(
            "V26",
            s,
            "attachments",
            "Dopo la firma con SPID o CIE i dati dell'istanza sono stati modificati: firmare di nuovo con SPID o CIE.",
        ),
        Some(_) => {}
    }
}

fn attachments(form: &Form, ctx: &Context, out: &mut Issues) {
    let s = Step::Attachments;
    let has = |k: AttachmentKind| ctx.attachments.iter().any(|a| a.kind == k);
    let a = &form.applicant;
    let signed_application: Vec<&AttachmentFacts> = ctx
        .attachments
        .iter()
        .filter(|a| a.kind == AttachmentKind::IstanzaFirmata)
        .collect();
    // The signed application must be the application as it is now (documents::binding).
    let current = form.fingerprint();
    for f in &signed_application {
        if f.bound_form.as_ref().is_some_and(|b| *b != current) {
            out.block(
                "V29",
                s,
                "attachments",
                format!(
                    "Dopo il caricamento di «{}» i dati dell'istanza sono stati modificati: scaricare di nuovo il PDF dell'istanza, firmarlo e caricarlo al posto del precedente.",
                    f.filename
                ),
            );
        }
    }
    if form.signature_mode == "spid" {
        identified(form, ctx, out);
    } else if signed_application.is_empty() {
        out.block(
            "V26",
            s,
            "attachments",
            "L'istanza deve essere sottoscritta dal richiedente, a pena di inammissibilità (art. 78, comma 2, D.P.R. 115/2002).",
        );
    }
    match form.signature_mode.as_str() {
        "autenticata" => {
            if !form.filed_by_lawyer() {
                out.block(
                    "V27",
                    s,
                    "signature_mode",
                    "L'autentica della firma è possibile solo quando l'istanza è presentata dall'avvocato: scegliere l'invio con copia del documento d'identità.",
                );
            }
            let lawyer_cf = ctx.lawyer.map(|l| l.codice_fiscale.to_uppercase());
            if !signed_application.is_empty() {
                let signed_by_lawyer = signed_application.iter().any(|f| {
                    lawyer_cf
                        .as_ref()
                        .is_some_and(|cf| f.signers.iter().any(|s| s.eq_ignore_ascii_case(cf)))
                });
                // V29: the lawyer's signature must be qualified.
                let qualified = |f: &AttachmentFacts, cf: &str| {
                    f.signers.iter().any(|s| s.eq_ignore_ascii_case(cf))
                        && !f.not_qualified.iter().any(|(n, _)| n.eq_ignore_ascii_case(cf))
                };
                let qualified_by_lawyer = lawyer_cf
                    .as_ref()
                    .is_some_and(|cf| signed_application.iter().any(|f| qualified(f, cf)));
                let unqualified = lawyer_cf.as_ref().and_then(|cf| {
                    signed_application.iter().find_map(|f| {
                        f.not_qualified
                            .iter()
                            .find(|(n, _)| n.eq_ignore_ascii_case(cf))
                            .map(|(_, why)| (f.filename.clone(), why.clone()))
                    })
                });
                if signed_application.iter().all(|f| f.signers.is_empty()) {
                    out.block(
                        "V28",
                        s,
                        "attachments",
                        "Il file dell'istanza deve essere firmato digitalmente dal difensore (formato CAdES .p7m o PAdES .pdf).",
                    );
                } else if !signed_by_lawyer {
                    let file = &signed_application[0].filename;
                    out.block(
                        "V29",
                        s,
                        "attachments",
                        format!(
                            "La firma digitale del file {file} non risulta valida o il certificato è scaduto. Ricaricare il documento firmato correttamente. Il file deve essere firmato dall'avvocato indicato nell'istanza."
                        ),
                    );
                } else if !qualified_by_lawyer {
                    let (file, why) = unqualified.unwrap_or_else(|| {
                        (signed_application[0].filename.clone(), String::new())
                    });
                    out.block(
                        "V29",
                        s,
                        "attachments",
                        format!(
                            "La firma digitale del file {file} non risulta valida o il certificato è scaduto. Ricaricare il documento firmato correttamente. La firma dell'avvocato deve essere una firma qualificata: {why}"
                        ),
                    );
                }
            }
        }
        "documento" | "spid" => {}
        _ => out.block(
            "V27",
            s,
            "signature_mode",
            "La firma del richiedente deve essere autenticata dal difensore oppure l'istanza deve essere accompagnata dalla copia di un documento d'identità del richiedente (art. 78, comma 2).",
        ),
    }
    // Identified with SPID or CIE, the applicant needs no copy of an identity document (art.
    // 65, c. 1, lett. b and c. 2, CAD: as if signed in front of the office).
    if !has(AttachmentKind::DocumentoIdentita) && form.signature_mode != "spid" {
        out.block(
            if form.signature_mode == "documento" {
                "V27"
            } else {
                "V30"
            },
            s,
            "attachments",
            "Allegare la copia di un documento d'identità del richiedente in corso di validità.",
        );
    }
    if !has(AttachmentKind::CodiceFiscale) {
        out.warn(
            "V31",
            s,
            "attachments",
            "Allegare copia del codice fiscale (o tessera sanitaria) del richiedente e dei familiari conviventi.",
        );
    }
    if a.is_entity() && !has(AttachmentKind::Statuto) {
        out.block(
            "V34",
            s,
            "attachments",
            "Allegare lo statuto o l'atto costitutivo da cui risulti che l'ente non persegue scopo di lucro e non esercita attività economica (art. 119 D.P.R. 115/2002).",
        );
    }
    if !a.is_entity() && a.is_non_eu() && a.foreign_income == "si" {
        let needed = match a.consular.as_str() {
            "impossibile" => AttachmentKind::AutocertificazioneEstero,
            _ => AttachmentKind::CertificatoConsolare,
        };
        if !has(needed) {
            out.block(
                "V32",
                s,
                "attachments",
                "Per i redditi prodotti all'estero allegare la certificazione dell'autorità consolare competente (art. 79, comma 2) oppure dichiarare l'impossibilità di ottenerla e allegare la dichiarazione sostitutiva (Corte cost. n. 157/2021).",
            );
        }
    }
    if !a.is_entity()
        && a.is_non_eu()
        && !a.protection_case
        && !has(AttachmentKind::PermessoSoggiorno)
    {
        out.warn(
            "V33",
            s,
            "attachments",
            "Indicare il titolo di soggiorno posseduto al momento in cui è sorto il rapporto o il fatto oggetto del giudizio (art. 119 D.P.R. 115/2002) e allegarne copia.",
        );
    }
    if !has(AttachmentKind::DocumentiCausa) {
        out.warn(
            "V38",
            s,
            "attachments",
            "Si consiglia di allegare l'atto introduttivo (o la sua bozza) o i documenti che sostengono la domanda: in mancanza l'istanza potrebbe essere dichiarata inammissibile.",
        );
    }
}

impl Issue {
    pub fn blocks(&self) -> bool {
        self.severity == Severity::Blocking
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{
        application::form::{Member, PersonIncome},
        codice_fiscale::CfPersona,
    };

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
    }

    const LAWYER_CF: &str = "BNCNNA80A41H501R";

    fn income(person: &str, taxable: &str) -> PersonIncome {
        PersonIncome {
            person: person.into(),
            source: "dichiarazione".into(),
            taxable: taxable.into(),
            has_exempt: "no".into(),
            has_withholding: "no".into(),
            has_substitute: "no".into(),
            ..PersonIncome::default()
        }
    }

    /// A complete application that passes every blocking rule.
    fn valid() -> Form {
        let birth = NaiveDate::from_ymd_opt(1985, 12, 10).unwrap();
        let cf = CfPersona::compute("Rossi", "Mario", birth, Sex::M, "H501").unwrap();
        let member_cf = CfPersona::compute(
            "Rossi",
            "Anna",
            NaiveDate::from_ymd_opt(1987, 3, 4).unwrap(),
            Sex::F,
            "H501",
        )
        .unwrap();
        let mut f = Form::default();
        f.filing.filed_by = "avvocato".into();
        f.filing.matter = "famiglia".into();
        f.filing.judicial_office = "trib".into();
        let a = &mut f.applicant;
        a.kind = "persona".into();
        a.surname = "Rossi".into();
        a.given_name = "Mario".into();
        a.sex = "M".into();
        a.birth_date = "1985-12-10".into();
        a.birth_place = "Roma".into();
        a.codice_fiscale = cf.as_str().to_lowercase();
        a.citizenship = "italiana".into();
        a.address = "Via Roma 1".into();
        a.city = "Vallenera".into();
        a.id_document = "Carta d'identità CA12345AB".into();
        a.id_document_expiry = "2030-01-01".into();
        f.household.members.push(Member {
            id: "m1".into(),
            surname: "Rossi".into(),
            given_name: "Anna".into(),
            codice_fiscale: member_cf.as_str().into(),
            relationship: "coniuge".into(),
            birth_date: String::new(),
        });
        f.income.year = "2025".into();
        f.income.persons = vec![income(APPLICANT_KEY, "6.000,00"), income("m1", "5.000")];
        let c = &mut f.case;
        c.counterparty_name = "Bianchi Luca".into();
        c.counterparty_address = "Via Milano 2, Vallenera".into();
        c.pending = "no".into();
        c.facts = "F".repeat(MIN_FACTS);
        c.law = "Art. 337-ter c.c.: affidamento condiviso dei figli".into();
        c.evidence = "Documenti 1-4, testimone Verdi Carla".into();
        f.lawyer.lawyer_id = "avv1".into();
        f.declarations = crate::domain::application::form::Declarations {
            truthful: true,
            undertaking: true,
            penalties: true,
            privacy: true,
        };
        f.signature_mode = "autenticata".into();
        f
    }

    fn lawyer() -> LawyerFacts {
        LawyerFacts {
            id: "avv1".into(),
            name: "Anna Bianchi".into(),
            codice_fiscale: LAWYER_CF.into(),
            active: true,
            lists: vec![ListMatter::Civile],
            pec: Some("anna.bianchi@pec.it".into()),
        }
    }

    fn attachments() -> Vec<AttachmentFacts> {
        [
            (AttachmentKind::IstanzaFirmata, vec![LAWYER_CF.to_string()]),
            (AttachmentKind::DocumentoIdentita, vec![]),
            (AttachmentKind::CodiceFiscale, vec![]),
            (AttachmentKind::DocumentiCausa, vec![]),
        ]
        .into_iter()
        .map(|(kind, signers)| AttachmentFacts {
            kind,
            filename: format!("{}.pdf", kind.code()),
            signers,
            not_qualified: Vec::new(),
            bound_form: None,
        })
        .collect()
    }

    fn run_with(
        form: &Form,
        lawyer: Option<&LawyerFacts>,
        files: &[AttachmentFacts],
    ) -> Vec<Issue> {
        let offices = vec![("trib".to_string(), "Tribunale di Vallenera".to_string())];
        check(
            form,
            &Context {
                today: today(),
                ordine: "Vallenera",
                offices: &offices,
                lawyer,
                attachments: files,
                duplicates: &[],
                identification: None,
            },
        )
    }

    fn run_identified(form: &Form, identification: Option<&IdentificationFacts>) -> Vec<Issue> {
        let offices = vec![("trib".to_string(), "Tribunale di Vallenera".to_string())];
        let files: Vec<AttachmentFacts> = attachments()
            .into_iter()
            .filter(|a| {
                a.kind != AttachmentKind::IstanzaFirmata
                    && a.kind != AttachmentKind::DocumentoIdentita
            })
            .collect();
        check(
            form,
            &Context {
                today: today(),
                ordine: "Vallenera",
                offices: &offices,
                lawyer: Some(&lawyer()),
                attachments: &files,
                duplicates: &[],
                identification,
            },
        )
    }

    #[test]
    fn an_identification_with_spid_signs_the_applicants_own_filing_as_it_is() {
        let mut f = valid();
        f.filing.filed_by = "richiedente".into();
        f.signature_mode = "spid".into();
        assert!(
            blocking(&run_identified(&f, None), "V26")
                .message
                .contains("SPID")
        );
        let cf = crate::domain::application::form::written_cf(f.applicant.cf());
        let good = IdentificationFacts {
            codice_fiscale: cf.clone(),
            form_sha256: f.fingerprint(),
        };
        let issues = run_identified(&f, Some(&good));
        assert!(
            !issues
                .iter()
                .any(|i| i.blocks() && ["V26", "V27", "V30"].contains(&i.rule)),
            "{issues:?}"
        );
        let stale = IdentificationFacts {
            codice_fiscale: cf,
            form_sha256: "0".repeat(64),
        };
        assert!(
            blocking(&run_identified(&f, Some(&stale)), "V26")
                .message
                .contains("modificati")
        );
        let other = IdentificationFacts {
            codice_fiscale: "RSSMRA79B11C566R".into(),
            form_sha256: f.fingerprint(),
        };
        blocking(&run_identified(&f, Some(&other)), "V26");
        f.filing.filed_by = "avvocato".into();
        blocking(&run_identified(&f, Some(&good)), "V27");
    }

    fn run(form: &Form) -> Vec<Issue> {
        run_with(form, Some(&lawyer()), &attachments())
    }

    /// The issue of `rule`, which must be blocking.
    fn blocking<'a>(issues: &'a [Issue], rule: &str) -> &'a Issue {
        issues
            .iter()
            .find(|i| i.rule == rule && i.blocks())
            .unwrap_or_else(|| panic!("no blocking {rule} in {issues:#?}"))
    }

    #[test]
    fn a_complete_application_has_no_blocking_issue() {
        let issues = run(&valid());
        assert!(issues.iter().all(|i| !i.blocks()), "{issues:#?}");
        assert!(issues.is_empty(), "{issues:#?}");
    }

    #[test]
    fn competence_rules_v1_to_v4() {
        for (matter, rule, words) in [
            ("penale", "V1", "art. 93"),
            ("amministrativo", "V2", "TAR"),
            ("tributario", "V3", "artt. 138-139"),
        ] {
            let mut f = valid();
            f.filing.matter = matter.into();
            let issues = run(&f);
            let i = blocking(&issues, rule);
            assert!(i.message.contains(words), "{}", i.message);
            assert_eq!(i.field, "matter");
        }
        let mut f = valid();
        f.filing.judicial_office = "altro".into();
        let issues = run(&f);
        assert!(
            blocking(&issues, "V4").message.starts_with(
                "Il Consiglio dell'Ordine degli Avvocati di Vallenera non è competente"
            )
        );
    }

    #[test]
    fn applicant_rules_v5_to_v8_and_v30() {
        let mut f = valid();
        f.applicant.birth_place.clear();
        assert_eq!(
            blocking(&run(&f), "V5").message,
            "Completare i dati anagrafici del richiedente (cognome, nome, luogo e data di nascita, residenza)."
        );
        let mut f = valid();
        f.applicant.codice_fiscale = "RSSMRA85T10A562".into();
        assert!(
            blocking(&run(&f), "V6")
                .message
                .starts_with("Il codice fiscale non è valido")
        );
        let mut f = valid();
        f.applicant.codice_fiscale = "RSSMRA85T10A562T".into();
        assert_eq!(
            blocking(&run(&f), "V7").message,
            "Il carattere di controllo del codice fiscale RSSMRA85T10A562T non è corretto: verificare eventuali errori di battitura."
        );
        let mut f = valid();
        f.applicant.birth_date = "1985-12-11".into();
        let issues = run(&f);
        let v8 = issues.iter().find(|i| i.rule == "V8").expect("V8");
        assert_eq!(v8.severity, Severity::Warning);
        let mut f = valid();
        f.applicant.id_document_expiry = "2026-11-25".into();
        assert_eq!(blocking(&run(&f), "V30").field, "id_document_expiry");
    }

    #[test]
    fn household_rules_v9_and_v10() {
        let mut f = valid();
        f.household.members.clear();
        f.income.persons.truncate(1);
        assert_eq!(
            blocking(&run(&f), "V10").message,
            "Dichiarare la composizione del nucleo familiare convivente, anche se il richiedente vive da solo."
        );
        f.household.lives_alone = true;
        assert!(run(&f).iter().all(|i| i.rule != "V10"));
        let mut f = valid();
        f.household.members[0].codice_fiscale.clear();
        assert_eq!(blocking(&run(&f), "V6").field, "member_m1_codice_fiscale");
        let mut f = valid();
        f.household.members[0].surname.clear();
        assert!(
            blocking(&run(&f), "V9")
                .message
                .contains("art. 79, comma 1, lett. b")
        );
    }

    #[test]
    fn income_rules_v11_to_v17() {
        let mut f = valid();
        f.income.persons.retain(|p| p.person != "m1");
        assert!(
            blocking(&run(&f), "V12")
                .message
                .contains("art. 76, comma 2")
        );
        // Art. 76 c.4: only the applicant's income counts, but a reason is required.
        f.income.personal_only = true;
        assert!(
            blocking(&run(&f), "V13")
                .message
                .starts_with("Specificare perché")
        );
        f.income.personal_only_reason = "conflitto".into();
        assert!(run(&f).iter().all(|i| !i.blocks()), "{:#?}", run(&f));

        let mut f = valid();
        f.income.persons[0].taxable = "molto".into();
        assert!(blocking(&run(&f), "V11").message.contains("lett. c"));

        let mut f = valid();
        f.income.persons[1].taxable = "8.000,00".into();
        let v14 = blocking(&run(&f), "V14").message.clone();
        assert_eq!(
            v14,
            format!(
                "Il reddito complessivo dichiarato (€ 14.000,00) supera il limite di € 13.659,64 previsto per l'ammissione (art. 76 D.P.R. 115/2002, limite aggiornato con {}).",
                threshold_on(today()).unwrap().decree
            )
        );
        // Victims of the offences of art. 76 c.4-ter are admitted regardless of income.
        f.income.victim_regime = true;
        f.income.victim_offence = "612-bis".into();
        assert!(run(&f).iter().all(|i| i.rule != "V14"));

        let mut f = valid();
        f.income.year = "2024".into();
        let issues = run(&f);
        let v15 = issues.iter().find(|i| i.rule == "V15").expect("V15");
        assert_eq!(v15.severity, Severity::Warning);
        assert!(v15.message.contains("(2025)"));

        let mut f = valid();
        f.income.persons[1].has_exempt.clear();
        assert!(
            blocking(&run(&f), "V16")
                .message
                .contains("dichiararlo espressamente")
        );
        f.income.persons[1].has_exempt = "si".into();
        assert_eq!(blocking(&run(&f), "V16").field, "exempt_m1");
        f.income.persons[1].exempt = "1.000,00".into();
        let summary = income_summary(&f, today());
        assert_eq!(summary.total, Some(Euro::from_cents(1_200_000)));

        let mut f = valid();
        f.income.persons[0].source = "isee".into();
        assert!(blocking(&run(&f), "V17").message.contains("ISEE"));
    }

    #[test]
    fn case_rules_v20_to_v23_and_v35() {
        let mut f = valid();
        f.case.facts = "Troppo breve".into();
        assert!(blocking(&run(&f), "V20").message.contains("art. 122"));
        let mut f = valid();
        f.case.evidence.clear();
        assert_eq!(
            blocking(&run(&f), "V21").message,
            "Indicare specificamente le prove di cui si intende chiedere l'ammissione (art. 122 D.P.R. 115/2002)."
        );
        let mut f = valid();
        f.case.counterparty_address.clear();
        assert_eq!(
            blocking(&run(&f), "V22").message,
            "Indicare le generalità e la residenza (o sede) della controparte."
        );
        f.filing.matter = "volontaria_giurisdizione".into();
        assert!(run(&f).iter().all(|i| i.rule != "V22"));
        let mut f = valid();
        f.case.pending = "si".into();
        f.case.rg_number = "12/25".into();
        assert!(blocking(&run(&f), "V23").message.contains("ruolo generale"));
        f.case.rg_number = "1234/2025".into();
        assert!(run(&f).iter().all(|i| i.rule != "V23"));
        f.case.appeal_after_loss = true;
        let issues = run(&f);
        assert_eq!(
            issues.iter().find(|i| i.rule == "V35").unwrap().severity,
            Severity::Warning
        );
    }

    #[test]
    fn lawyer_rules_v24_and_v25() {
        let f = valid();
        let issues = run_with(&f, None, &attachments());
        assert!(blocking(&issues, "V24").message.contains("artt. 80-81"));
        let mut l = lawyer();
        l.lists = vec![ListMatter::Penale];
        assert!(blocking(&run_with(&f, Some(&l), &attachments()), "V24").field == "lawyer_id");
        let mut l = lawyer();
        l.pec = Some("non-una-pec".into());
        assert_eq!(
            blocking(&run_with(&f, Some(&l), &attachments()), "V25").message,
            "Indicare un indirizzo PEC valido del difensore per le comunicazioni del Consiglio."
        );
    }

    #[test]
    fn declaration_rules_v11_v18_v19() {
        let mut f = valid();
        f.declarations.undertaking = false;
        f.declarations.penalties = false;
        let issues = run(&f);
        assert!(blocking(&issues, "V18").message.contains("lett. d"));
        assert!(blocking(&issues, "V19").message.contains("art. 125"));
    }

    #[test]
    fn signature_and_attachment_rules_v26_to_v34() {
        let f = valid();
        let without = |kind: AttachmentKind| {
            let files: Vec<_> = attachments()
                .into_iter()
                .filter(|a| a.kind != kind)
                .collect();
            run_with(&f, Some(&lawyer()), &files)
        };
        assert!(
            blocking(&without(AttachmentKind::IstanzaFirmata), "V26")
                .message
                .contains("art. 78")
        );
        assert!(
            blocking(&without(AttachmentKind::DocumentoIdentita), "V30")
                .message
                .contains("in corso di validità")
        );
        assert_eq!(
            without(AttachmentKind::CodiceFiscale)
                .iter()
                .find(|i| i.rule == "V31")
                .unwrap()
                .severity,
            Severity::Warning
        );
        // Authenticated by the lawyer: the file must carry the lawyer's digital signature.
        let mut unsigned = attachments();
        unsigned[0].signers.clear();
        assert!(
            blocking(&run_with(&f, Some(&lawyer()), &unsigned), "V28")
                .message
                .contains("CAdES")
        );
        let mut wrong = attachments();
        wrong[0].signers = vec!["RSSMRA80A01H501U".into()];
        assert!(
            blocking(&run_with(&f, Some(&lawyer()), &wrong), "V29")
                .message
                .contains("istanza_firmata.pdf")
        );
        // The lawyer's own signature, but not a qualified one.
        let mut unqualified = attachments();
        unqualified[0].not_qualified = vec![(
            LAWYER_CF.to_string(),
            "Il certificato di firma non consente la firma con valore legale (manca l'uso non ripudio).".into(),
        )];
        let issues = run_with(&f, Some(&lawyer()), &unqualified);
        let issue = blocking(&issues, "V29");
        assert!(
            issue.message.contains("firma qualificata"),
            "{}",
            issue.message
        );
        assert!(issue.message.contains("non ripudio"), "{}", issue.message);
        // Filed by the applicant: no authentication, the ID copy instead.
        let mut g = valid();
        g.filing.filed_by = "richiedente".into();
        assert_eq!(blocking(&run(&g), "V27").field, "signature_mode");
        g.signature_mode = "documento".into();
        assert!(run(&g).iter().all(|i| !i.blocks()));
        // Non-EU with foreign income: consular certificate or the statement of impossibility.
        let mut h = valid();
        h.applicant.citizenship = "extra_ue".into();
        h.applicant.lawful_stay = "si".into();
        h.applicant.foreign_income = "si".into();
        assert_eq!(blocking(&run(&h), "V32").field, "consular");
        h.applicant.consular = "impossibile".into();
        assert_eq!(blocking(&run(&h), "V32").field, "attachments");
        // An entity needs its statute.
        let mut e = valid();
        e.applicant.kind = "ente".into();
        e.applicant.entity_name = "Associazione Aiuto".into();
        e.applicant.entity_cf = "80409200583".into();
        e.applicant.entity_seat = "Vallenera".into();
        e.applicant.representative = "Mario Rossi".into();
        assert!(blocking(&run(&e), "V34").message.contains("statuto"));
    }

    #[test]
    fn lawful_stay_warns_v33_unless_protection_case() {
        let mut f = valid();
        f.applicant.citizenship = "extra_ue".into();
        f.applicant.foreign_income = "no".into();
        f.applicant.lawful_stay = "no".into();
        let issues = run(&f);
        assert!(issues.iter().any(|i| i.rule == "V33" && !i.blocks()));
        f.applicant.protection_case = true;
        assert!(run(&f).iter().all(|i| i.rule != "V33"));
    }

    #[test]
    fn small_parsers() {
        assert_eq!(
            parse_date("31/03/2025"),
            NaiveDate::from_ymd_opt(2025, 3, 31)
        );
        assert_eq!(
            parse_date("2025-03-31"),
            NaiveDate::from_ymd_opt(2025, 3, 31)
        );
        assert_eq!(parse_date("31/02/2025"), None);
        assert!(is_email("anna.bianchi@pec.ordine.it"));
        assert!(!is_email("anna@pec"));
        assert!(!is_email("a b@pec.it"));
        // What the form once accepted and the mailer then refused.
        assert!(!is_email("a'\"(){}&=x@evil.example"));
        assert!(is_email("o'brien+patrocinio@example.it"));
        assert!(is_rg_number("1234/2025"));
        assert!(is_rg_number("1234/2025-1"));
        assert!(!is_rg_number("1234-2025"));
    }
}
