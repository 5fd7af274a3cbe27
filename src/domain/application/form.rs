//! What the user typed in the public form, step by step, kept as typed: a wrong codice fiscale
//! or an amount written oddly is saved as it is, shown back with its message, and never lost.
//! The rules in `check` parse these strings; nothing else does.

use serde::{Deserialize, Serialize};

use super::{Step, matter::Matter};
use crate::domain::codice_fiscale::CodiceFiscale;

/// The fields of one submitted HTML form, in order (repeated names allowed).
#[derive(Clone, Debug, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; empty when absent.
    pub fn get(&self, name: &str) -> String {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    }

    /// Long texts keep their inner line breaks; only the ends are trimmed.
    pub fn text(&self, name: &str) -> String {
        self.get(name).replace("\r\n", "\n")
    }

    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, v)| k == name && !v.is_empty())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Form {
    pub filing: Filing,
    pub applicant: Applicant,
    pub household: Household,
    pub income: Income,
    pub case: Case,
    pub lawyer: LawyerChoice,
    pub declarations: Declarations,
    /// `autenticata` (the lawyer authenticates the signature and signs the file digitally) or
    /// `documento` (signed scan plus a copy of an identity document, art. 38 c.3 D.P.R. 445/2000).
    pub signature_mode: String,
    /// The user confirmed they checked the warnings shown on the review page.
    pub warnings_confirmed: bool,
    /// The address given when the draft was started (for its code and PIN): offered as the
    /// applicant's own when the applicant files, never copied for a lawyer (it may be theirs).
    pub contact_email: String,
    /// Steps the user has submitted at least once: only their messages are shown, so that a
    /// step opened for the first time is not covered in errors.
    pub visited: Vec<Step>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Filing {
    /// `richiedente` or `avvocato`.
    pub filed_by: String,
    pub matter: String,
    /// A judicial office id from the competence map, or `altro`.
    pub judicial_office: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Applicant {
    /// `persona` or `ente`.
    pub kind: String,
    pub surname: String,
    pub given_name: String,
    /// `M` or `F`.
    pub sex: String,
    pub birth_date: String,
    pub birth_place: String,
    pub codice_fiscale: String,
    /// `italiana`, `ue`, `extra_ue` or `apolide`.
    pub citizenship: String,
    pub address: String,
    pub postcode: String,
    pub city: String,
    pub email: String,
    pub phone: String,
    pub id_document: String,
    pub id_document_expiry: String,
    pub entity_name: String,
    pub entity_cf: String,
    pub entity_seat: String,
    pub representative: String,
    pub permit: String,
    pub permit_expiry: String,
    /// Lawfully staying when the facts arose (art. 119): `si` or `no`.
    pub lawful_stay: String,
    /// Expulsion or international-protection case (outside the art. 119 condition).
    pub protection_case: bool,
    /// Income produced abroad: `si` or `no`.
    pub foreign_income: String,
    /// `certificato` (consular certificate attached) or `impossibile` (could not be obtained).
    pub consular: String,
}

impl Applicant {
    pub fn is_entity(&self) -> bool {
        self.kind == "ente"
    }

    pub fn is_foreign(&self) -> bool {
        matches!(self.citizenship.as_str(), "ue" | "extra_ue" | "apolide")
    }

    /// Non-EU citizens and stateless persons: art. 79 c.2 and art. 119 apply.
    pub fn is_non_eu(&self) -> bool {
        matches!(self.citizenship.as_str(), "extra_ue" | "apolide")
    }

    pub fn display_name(&self) -> String {
        if self.is_entity() {
            self.entity_name.clone()
        } else {
            format!("{} {}", self.given_name, self.surname)
                .trim()
                .to_owned()
        }
    }

    pub fn cf(&self) -> &str {
        if self.is_entity() {
            &self.entity_cf
        } else {
            &self.codice_fiscale
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Household {
    pub lives_alone: bool,
    pub members: Vec<Member>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Member {
    /// Stable across edits, so that incomes stay with their person.
    pub id: String,
    pub surname: String,
    pub given_name: String,
    pub codice_fiscale: String,
    pub relationship: String,
    pub birth_date: String,
}

impl Member {
    pub fn display_name(&self) -> String {
        let name = format!("{} {}", self.given_name, self.surname);
        if name.trim().is_empty() {
            "Familiare senza nome".into()
        } else {
            name.trim().to_owned()
        }
    }
}

pub const RELATIONSHIPS: &[(&str, &str)] = &[
    ("coniuge", "Coniuge"),
    ("unito_civilmente", "Unito civilmente"),
    ("convivente", "Convivente di fatto"),
    ("figlio", "Figlio o figlia"),
    ("genitore", "Genitore"),
    ("fratello", "Fratello o sorella"),
    ("altro", "Altro familiare convivente"),
];

pub fn relationship_label(code: &str) -> &str {
    RELATIONSHIPS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("", |(_, l)| l)
}

/// The key of the applicant in the income rows (members use their id).
pub const APPLICANT_KEY: &str = "richiedente";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Income {
    pub year: String,
    /// Art. 76 c.4: only the applicant's own income counts.
    pub personal_only: bool,
    /// `personalita` (personality rights) or `conflitto` (conflict with the household).
    pub personal_only_reason: String,
    pub personal_only_detail: String,
    /// Art. 76 c.4-ter: victims of the listed offences are admitted regardless of income.
    pub victim_regime: bool,
    pub victim_offence: String,
    pub persons: Vec<PersonIncome>,
}

pub const VICTIM_OFFENCES: &[(&str, &str)] = &[
    (
        "572",
        "Maltrattamenti contro familiari e conviventi (art. 572 c.p.)",
    ),
    (
        "583-bis",
        "Mutilazioni degli organi genitali femminili (art. 583-bis c.p.)",
    ),
    ("609-bis", "Violenza sessuale (art. 609-bis c.p.)"),
    (
        "609-quater",
        "Atti sessuali con minorenne (art. 609-quater c.p.)",
    ),
    (
        "609-octies",
        "Violenza sessuale di gruppo (art. 609-octies c.p.)",
    ),
    ("612-bis", "Atti persecutori (art. 612-bis c.p.)"),
    (
        "minori",
        "Altri reati previsti dall'art. 76, comma 4-ter, commessi in danno di minori",
    ),
];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PersonIncome {
    /// [`APPLICANT_KEY`] or a member's id.
    pub person: String,
    /// `dichiarazione`, `cu` or `nessuno` ([`INCOME_SOURCES`]); `isee`, once offered, is refused
    /// (V17) where an older draft still has it.
    pub source: String,
    pub taxable: String,
    pub has_exempt: String,
    pub exempt: String,
    pub has_withholding: String,
    pub withholding: String,
    pub has_substitute: String,
    pub substitute: String,
}

pub const INCOME_SOURCES: &[(&str, &str)] = &[
    (
        "dichiarazione",
        "Dichiarazione dei redditi (730 o Redditi PF)",
    ),
    ("cu", "Certificazione Unica (CU)"),
    ("nessuno", "Nessun reddito nell'anno"),
];

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Case {
    pub counterparty_name: String,
    pub counterparty_address: String,
    pub counterparty_cf: String,
    /// `si` or `no`.
    pub pending: String,
    pub rg_number: String,
    pub next_hearing: String,
    /// Appeal after losing the previous instance (art. 120).
    pub appeal_after_loss: bool,
    pub facts: String,
    pub law: String,
    pub evidence: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct LawyerChoice {
    pub lawyer_id: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Declarations {
    /// Art. 79 c.1 lett. c: the self-certification of the income conditions and amount.
    pub truthful: bool,
    /// Art. 79 c.1 lett. d: the undertaking to report income changes.
    pub undertaking: bool,
    /// Art. 125: awareness of the penalties for false statements.
    pub penalties: bool,
    pub privacy: bool,
}

/// The texts the user declares on step 7 (also printed on the application).
pub const DECLARATION_TEXTS: [(&str, &str); 4] = [
    (
        "truthful",
        "Dichiaro, ai sensi dell'art. 46 del D.P.R. 445/2000 e dell'art. 79, comma 1, lett. c, del D.P.R. 115/2002, che sussistono le condizioni di reddito previste per l'ammissione e che il reddito complessivo rilevante è quello indicato in questa istanza.",
    ),
    (
        "undertaking",
        "Mi impegno a comunicare, fino a che il processo non sia definito, le variazioni rilevanti dei limiti di reddito verificatesi nell'anno precedente, entro trenta giorni dalla scadenza del termine di un anno dalla data di presentazione dell'istanza o della precedente comunicazione (art. 79, comma 1, lett. d).",
    ),
    (
        "penalties",
        "Sono consapevole che la dichiarazione falsa o l'omissione delle comunicazioni dovute sono punite con la reclusione da uno a cinque anni e con la multa da euro 309,87 a euro 1.549,37, e comportano la revoca dell'ammissione con efficacia retroattiva e il recupero delle somme corrisposte dallo Stato (art. 125 D.P.R. 115/2002).",
    ),
    (
        "privacy",
        "Ho letto l'informativa sul trattamento dei dati personali: i dati sono trattati dal Consiglio dell'Ordine per decidere sull'istanza e per le comunicazioni previste dalla legge (artt. 126 e 127 D.P.R. 115/2002).",
    ),
];

/// The longest a one-line field may be (names, places, numbers, choices), in characters.
pub const MAX_LINE: usize = 200;
/// The longest short explanation (why only the personal income counts).
pub const MAX_NOTE: usize = 2_000;
/// The longest of the case's texts (facts, law, evidence): about six printed pages each.
pub const MAX_TEXT: usize = 20_000;
/// The most household members one application lists.
pub const MAX_MEMBERS: usize = 20;

/// One free-text field of the form with its limit.
pub struct TextField<'a> {
    pub step: Step,
    /// The id of the field on the page (what messages are attached to).
    pub field: String,
    pub value: &'a str,
    pub max: usize,
}

impl TextField<'_> {
    pub fn too_long(&self) -> bool {
        self.value.len() > self.max && self.value.chars().count() > self.max
    }
}

/// A codice fiscale as it is written (`RSSMRA80A01H501U`) when it is one, whatever the case and
/// spaces it was typed with; otherwise as typed, so that the message shows what to correct.
/// Forms saved before this rule are shown through it too.
pub fn written_cf(typed: &str) -> String {
    match CodiceFiscale::parse(typed) {
        Ok(code) => code.as_str().to_owned(),
        Err(_) => typed.to_owned(),
    }
}

fn cf(typed: String) -> String {
    written_cf(&typed)
}

impl Form {
    /// SHA-256 (hex) of the answers the application PDF prints: what a signature on that PDF
    /// vouches for. Not the bookkeeping (steps visited, warnings confirmed, start address) nor
    /// how it is signed (rules V27–V29 check that), so that only a change of what was signed
    /// asks for a new signature.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let printed = serde_json::json!([
            self.filing,
            self.applicant,
            self.household,
            self.income,
            self.case,
            self.lawyer,
            self.declarations,
        ]);
        hex::encode(Sha256::digest(printed.to_string().as_bytes()))
    }

    /// A new draft's form: the address given at the start, and for a lawyer logged in to the
    /// Ordine, who files and who the lawyer is (nothing re-keyed).
    pub fn started(contact_email: Option<&str>, lawyer_id: Option<&str>) -> Self {
        let mut form = Self {
            contact_email: contact_email.unwrap_or_default().to_owned(),
            ..Self::default()
        };
        if let Some(lawyer) = lawyer_id {
            form.filing.filed_by = "avvocato".into();
            form.lawyer.lawyer_id = lawyer.to_owned();
        }
        form
    }

    /// The applicant's e-mail as the form shows it: what was typed, else (when the applicant
    /// files) the address given at the start.
    pub fn applicant_email_shown(&self) -> &str {
        if self.applicant.email.is_empty() && !self.filed_by_lawyer() {
            &self.contact_email
        } else {
            &self.applicant.email
        }
    }

    /// Stores what a step's HTML form sent. Returns `false` for steps without fields.
    pub fn update(&mut self, step: Step, f: &Fields) -> bool {
        match step {
            Step::Filing => {
                self.filing = Filing {
                    filed_by: f.get("filed_by"),
                    matter: f.get("matter"),
                    judicial_office: f.get("judicial_office"),
                }
            }
            Step::Applicant => {
                self.applicant = Applicant {
                    kind: f.get("kind"),
                    surname: f.get("surname"),
                    given_name: f.get("given_name"),
                    sex: f.get("sex"),
                    birth_date: f.get("birth_date"),
                    birth_place: f.get("birth_place"),
                    codice_fiscale: cf(f.get("codice_fiscale")),
                    citizenship: f.get("citizenship"),
                    address: f.get("address"),
                    postcode: f.get("postcode"),
                    city: f.get("city"),
                    email: f.get("email"),
                    phone: f.get("phone"),
                    id_document: f.get("id_document"),
                    id_document_expiry: f.get("id_document_expiry"),
                    entity_name: f.get("entity_name"),
                    entity_cf: cf(f.get("entity_cf")),
                    entity_seat: f.get("entity_seat"),
                    representative: f.get("representative"),
                    permit: f.get("permit"),
                    permit_expiry: f.get("permit_expiry"),
                    lawful_stay: f.get("lawful_stay"),
                    protection_case: f.checked("protection_case"),
                    foreign_income: f.get("foreign_income"),
                    consular: f.get("consular"),
                }
            }
            Step::Household => {
                let ids = f.all("member_id");
                let column = |name: &str| {
                    let mut v = f.all(name);
                    v.resize(ids.len(), String::new());
                    v
                };
                let (surnames, names, cfs, rels, births) = (
                    column("member_surname"),
                    column("member_given_name"),
                    column("member_codice_fiscale"),
                    column("member_relationship"),
                    column("member_birth_date"),
                );
                self.household = Household {
                    lives_alone: f.checked("lives_alone"),
                    members: ids
                        .iter()
                        .enumerate()
                        .map(|(i, id)| Member {
                            id: id.clone(),
                            surname: surnames[i].clone(),
                            given_name: names[i].clone(),
                            codice_fiscale: cf(cfs[i].clone()),
                            relationship: rels[i].clone(),
                            birth_date: births[i].clone(),
                        })
                        .collect(),
                };
            }
            Step::Income => {
                // Only the applicant and the listed members have income rows, once each.
                let mut keys = f.all("person");
                keys.retain(|k| {
                    k == APPLICANT_KEY || self.household.members.iter().any(|m| &m.id == k)
                });
                let mut seen = std::collections::HashSet::new();
                keys.retain(|k| seen.insert(k.clone()));
                let persons = keys
                    .into_iter()
                    .map(|key| {
                        let field = |name: &str| f.get(&format!("{name}_{key}"));
                        PersonIncome {
                            source: field("source"),
                            taxable: field("taxable"),
                            has_exempt: field("has_exempt"),
                            exempt: field("exempt"),
                            has_withholding: field("has_withholding"),
                            withholding: field("withholding"),
                            has_substitute: field("has_substitute"),
                            substitute: field("substitute"),
                            person: key,
                        }
                    })
                    .collect();
                self.income = Income {
                    year: f.get("year"),
                    personal_only: f.checked("personal_only"),
                    personal_only_reason: f.get("personal_only_reason"),
                    personal_only_detail: f.text("personal_only_detail"),
                    victim_regime: f.checked("victim_regime"),
                    victim_offence: f.get("victim_offence"),
                    persons,
                };
            }
            Step::Case => {
                self.case = Case {
                    counterparty_name: f.get("counterparty_name"),
                    counterparty_address: f.get("counterparty_address"),
                    counterparty_cf: cf(f.get("counterparty_cf")),
                    pending: f.get("pending"),
                    rg_number: f.get("rg_number"),
                    next_hearing: f.get("next_hearing"),
                    appeal_after_loss: f.checked("appeal_after_loss"),
                    facts: f.text("facts"),
                    law: f.text("law"),
                    evidence: f.text("evidence"),
                }
            }
            Step::Lawyer => {
                self.lawyer = LawyerChoice {
                    lawyer_id: f.get("lawyer_id"),
                }
            }
            Step::Declarations => {
                self.declarations = Declarations {
                    truthful: f.checked("truthful"),
                    undertaking: f.checked("undertaking"),
                    penalties: f.checked("penalties"),
                    privacy: f.checked("privacy"),
                }
            }
            Step::Attachments => self.signature_mode = f.get("signature_mode"),
            Step::Review => {
                self.warnings_confirmed = f.checked("warnings_confirmed");
            }
        }
        true
    }

    /// Every text the user typed, with its step, its field id and its limit: a step with a
    /// longer one is never stored (the page shows it back with its message instead).
    pub fn text_fields(&self) -> Vec<TextField<'_>> {
        fn field(step: Step, field: impl Into<String>, value: &str, max: usize) -> TextField<'_> {
            TextField {
                step,
                field: field.into(),
                value,
                max,
            }
        }
        let f = &self.filing;
        let a = &self.applicant;
        let c = &self.case;
        let mut out = vec![
            field(Step::Filing, "filed_by", &f.filed_by, MAX_LINE),
            field(Step::Filing, "matter", &f.matter, MAX_LINE),
            field(
                Step::Filing,
                "judicial_office",
                &f.judicial_office,
                MAX_LINE,
            ),
        ];
        out.extend(
            [
                ("kind", &a.kind),
                ("surname", &a.surname),
                ("given_name", &a.given_name),
                ("sex", &a.sex),
                ("birth_date", &a.birth_date),
                ("birth_place", &a.birth_place),
                ("codice_fiscale", &a.codice_fiscale),
                ("citizenship", &a.citizenship),
                ("address", &a.address),
                ("postcode", &a.postcode),
                ("city", &a.city),
                ("email", &a.email),
                ("phone", &a.phone),
                ("id_document", &a.id_document),
                ("id_document_expiry", &a.id_document_expiry),
                ("entity_name", &a.entity_name),
                ("entity_cf", &a.entity_cf),
                ("entity_seat", &a.entity_seat),
                ("representative", &a.representative),
                ("permit", &a.permit),
                ("permit_expiry", &a.permit_expiry),
                ("lawful_stay", &a.lawful_stay),
                ("foreign_income", &a.foreign_income),
                ("consular", &a.consular),
            ]
            .into_iter()
            .map(|(name, value)| field(Step::Applicant, name, value, MAX_LINE)),
        );
        for m in &self.household.members {
            for (name, value) in [
                ("id", &m.id),
                ("surname", &m.surname),
                ("given_name", &m.given_name),
                ("codice_fiscale", &m.codice_fiscale),
                ("relationship", &m.relationship),
                ("birth_date", &m.birth_date),
            ] {
                out.push(field(
                    Step::Household,
                    format!("member_{}_{name}", m.id),
                    value,
                    MAX_LINE,
                ));
            }
        }
        let i = &self.income;
        out.extend([
            field(Step::Income, "year", &i.year, MAX_LINE),
            field(
                Step::Income,
                "personal_only_reason",
                &i.personal_only_reason,
                MAX_LINE,
            ),
            field(
                Step::Income,
                "personal_only_detail",
                &i.personal_only_detail,
                MAX_NOTE,
            ),
            field(Step::Income, "victim_offence", &i.victim_offence, MAX_LINE),
        ]);
        for p in &i.persons {
            for (name, value) in [
                ("person", &p.person),
                ("source", &p.source),
                ("taxable", &p.taxable),
                ("has_exempt", &p.has_exempt),
                ("exempt", &p.exempt),
                ("has_withholding", &p.has_withholding),
                ("withholding", &p.withholding),
                ("has_substitute", &p.has_substitute),
                ("substitute", &p.substitute),
            ] {
                out.push(field(
                    Step::Income,
                    format!("{name}_{}", p.person),
                    value,
                    MAX_LINE,
                ));
            }
        }
        out.extend(
            [
                ("counterparty_name", &c.counterparty_name, MAX_LINE),
                ("counterparty_address", &c.counterparty_address, MAX_LINE),
                ("counterparty_cf", &c.counterparty_cf, MAX_LINE),
                ("pending", &c.pending, MAX_LINE),
                ("rg_number", &c.rg_number, MAX_LINE),
                ("next_hearing", &c.next_hearing, MAX_LINE),
                ("facts", &c.facts, MAX_TEXT),
                ("law", &c.law, MAX_TEXT),
                ("evidence", &c.evidence, MAX_TEXT),
            ]
            .into_iter()
            .map(|(name, value, max)| field(Step::Case, name, value, max)),
        );
        out.push(field(
            Step::Lawyer,
            "lawyer_id",
            &self.lawyer.lawyer_id,
            MAX_LINE,
        ));
        out.push(field(
            Step::Attachments,
            "signature_mode",
            &self.signature_mode,
            MAX_LINE,
        ));
        out
    }

    /// Whether the form may be stored: no text over its limit, no more members than allowed.
    pub fn within_limits(&self) -> bool {
        self.household.members.len() <= MAX_MEMBERS
            && self.income.persons.len() <= MAX_MEMBERS + 1
            && !self.text_fields().iter().any(TextField::too_long)
    }

    pub fn mark_visited(&mut self, step: Step) {
        if !self.visited.contains(&step) {
            self.visited.push(step);
        }
    }

    pub fn visited(&self, step: Step) -> bool {
        self.visited.contains(&step)
    }

    pub fn matter(&self) -> Option<Matter> {
        Matter::from_code(&self.filing.matter)
    }

    pub fn filed_by_lawyer(&self) -> bool {
        self.filing.filed_by == "avvocato"
    }

    /// The people whose income is declared: the applicant, then each household member
    /// (unless only the applicant's income counts, art. 76 c.4). Pairs of key and label.
    pub fn income_people(&self) -> Vec<(String, String)> {
        let mut people = vec![(
            APPLICANT_KEY.to_owned(),
            match self.applicant.display_name() {
                n if n.is_empty() => "Richiedente".to_owned(),
                n => format!("{n} (richiedente)"),
            },
        )];
        if !self.income.personal_only && !self.household.lives_alone {
            people.extend(
                self.household
                    .members
                    .iter()
                    .map(|m| (m.id.clone(), m.display_name())),
            );
        }
        people
    }

    pub fn income_of(&self, person: &str) -> Option<&PersonIncome> {
        self.income.persons.iter().find(|p| p.person == person)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn household_rows_are_read_in_order_and_kept_as_typed() {
        let mut form = Form::default();
        form.update(
            Step::Household,
            &fields(&[
                ("member_id", "a"),
                ("member_surname", "Rossi"),
                ("member_given_name", "Anna"),
                ("member_codice_fiscale", "rss nna 80"),
                ("member_relationship", "coniuge"),
                ("member_birth_date", ""),
                ("member_id", "b"),
                ("member_surname", "Rossi"),
                ("member_given_name", "Luca"),
                ("member_codice_fiscale", ""),
                ("member_relationship", "figlio"),
                ("member_birth_date", "2010-05-01"),
            ]),
        );
        assert!(!form.household.lives_alone);
        assert_eq!(form.household.members.len(), 2);
        assert_eq!(form.household.members[0].codice_fiscale, "rss nna 80");
        assert_eq!(form.household.members[1].birth_date, "2010-05-01");
    }

    #[test]
    fn incomes_follow_their_person_and_personal_only_drops_the_family() {
        let mut form = Form::default();
        form.household.members.push(Member {
            id: "m1".into(),
            given_name: "Anna".into(),
            surname: "Rossi".into(),
            ..Member::default()
        });
        form.update(
            Step::Income,
            &fields(&[
                ("year", "2025"),
                ("person", "richiedente"),
                ("taxable_richiedente", "1.000,00"),
                ("person", "m1"),
                ("taxable_m1", "2.000"),
                ("has_exempt_m1", "no"),
            ]),
        );
        assert_eq!(form.income_of("m1").unwrap().taxable, "2.000");
        assert_eq!(form.income_of("m1").unwrap().has_exempt, "no");
        assert_eq!(form.income_people().len(), 2);
        form.income.personal_only = true;
        assert_eq!(form.income_people().len(), 1);
    }

    #[test]
    fn a_valid_codice_fiscale_is_kept_in_its_written_form_and_a_wrong_one_as_typed() {
        let mut form = Form::default();
        form.update(
            Step::Applicant,
            &fields(&[
                ("codice_fiscale", "rssmra 80a01 h501u"),
                ("entity_cf", "1234"),
            ]),
        );
        assert_eq!(form.applicant.codice_fiscale, "RSSMRA80A01H501U");
        assert_eq!(form.applicant.entity_cf, "1234");
    }

    #[test]
    fn form_survives_json_round_trip_and_tolerates_missing_fields() {
        let mut form = Form::default();
        form.applicant.surname = "D'Angelo".into();
        let json = serde_json::to_value(&form).unwrap();
        let back: Form = serde_json::from_value(json).unwrap();
        assert_eq!(back, form);
        let partial: Form = serde_json::from_str(r#"{"applicant":{"surname":"X"}}"#).unwrap();
        assert_eq!(partial.applicant.surname, "X");
    }
}
