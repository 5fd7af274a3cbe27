//! The register of lawyers (Albo) as the Ordine exports it: a CSV file, read into records,
//! then compared with what we hold to plan what an import would create, update and disable.
//!
//! The file is the whole register: a lawyer we hold who is not in it may be disabled. Bad lines
//! are reported with their number and reason and change nothing; above all, a bad line never
//! makes a lawyer "absent": whoever it may be about (same codice fiscale or one character off,
//! same register number, PEC, e-mail or name) is left as they are. Applying needs explicit
//! choices when lines have errors or lawyers would be disabled ([`approve`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{application::matter::ListMatter, codice_fiscale::CodiceFiscale};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    Attivo,
    Sospeso,
    Cancellato,
}

impl Status {
    pub fn code(&self) -> &'static str {
        match self {
            Status::Attivo => "attivo",
            Status::Sospeso => "sospeso",
            Status::Cancellato => "cancellato",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_lowercase().as_str() {
            "" | "attivo" | "attiva" | "iscritto" | "iscritta" => Some(Status::Attivo),
            "sospeso" | "sospesa" => Some(Status::Sospeso),
            "cancellato" | "cancellata" | "radiato" | "radiata" => Some(Status::Cancellato),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub surname: String,
    pub given_name: String,
    pub codice_fiscale: String,
    pub register_number: Option<String>,
    pub pec: Option<String>,
    pub email: Option<String>,
    pub status: Status,
    pub matters: BTreeSet<String>,
}

impl Record {
    pub fn name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }

    pub fn list_matters(&self) -> Vec<ListMatter> {
        self.matters
            .iter()
            .filter_map(|m| ListMatter::from_code(m))
            .collect()
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadLine {
    pub line: usize,
    pub reason: String,
    /// Whom the line may be about, read leniently from what it does say.
    pub keys: LineKeys,
}

/// What a line with errors still says about whom it is for, normalised for comparison. It is
/// only ever used to keep the lawyers the line may be about from being disabled, never to change
/// them, so it errs on the generous side: a wrong match only postpones a deactivation to the
/// next clean file, a missed one would lock a lawyer out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineKeys {
    /// The codice fiscale as written (upper case, no spaces), valid or not, when 16 characters.
    pub codice_fiscale: Option<String>,
    /// The register number without spaces and leading zeros (spreadsheets drop them).
    pub register_number: Option<String>,
    /// The PEC and e-mail addresses as written, in lower case.
    pub addresses: Vec<String>,
    /// Surname and given name, folded (lower case, no accents or punctuation).
    pub name: Option<String>,
}

impl LineKeys {
    fn read(cf: &str, number: &str, addresses: [&str; 2], surname: &str, given: &str) -> Self {
        let cf: String = cf
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        Self {
            codice_fiscale: (cf.chars().count() == 16).then_some(cf),
            register_number: register_key(number),
            addresses: addresses
                .iter()
                .map(|a| a.trim().to_lowercase())
                .filter(|a| !a.is_empty())
                .collect(),
            name: name_key(surname, given),
        }
    }
}

fn register_key(number: &str) -> Option<String> {
    let compact: String = number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_uppercase();
    let key = compact.trim_start_matches('0');
    (!key.is_empty()).then(|| key.to_owned())
}

/// Lowercase letters and digits, accents taken off: what two spellings of a name share.
pub fn fold(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ä' | 'ã' => 'a',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ò' | 'ó' | 'ô' | 'ö' | 'õ' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ç' => 'c',
            'ñ' => 'n',
            c => c,
        })
        .filter(|c| c.is_alphanumeric())
        .collect()
}

fn name_key(surname: &str, given: &str) -> Option<String> {
    let (s, g) = (fold(surname), fold(given));
    (!s.is_empty() && !g.is_empty()).then(|| format!("{s} {g}"))
}

/// The codice fiscale with one position blanked, for each position: two codes one character
/// apart (a typo) share one of these.
fn cf_variants(cf: &str) -> impl Iterator<Item = String> + '_ {
    let chars: Vec<char> = cf.chars().collect();
    (0..chars.len()).map(move |i| {
        let mut v = chars.clone();
        v[i] = '*';
        v.into_iter().collect()
    })
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("Il file non è in UTF-8: salvarlo come «CSV UTF-8» e ricaricarlo.")]
    Encoding,
    #[error("Il file è vuoto.")]
    Empty,
    #[error(
        "Mancano le colonne obbligatorie: {0}. La prima riga deve contenere i nomi delle colonne."
    )]
    MissingColumns(String),
}

/// The column names we recognise, by field.
const COLUMNS: &[(&str, &[&str])] = &[
    ("cognome", &["cognome"]),
    ("nome", &["nome"]),
    (
        "codice_fiscale",
        &["codice_fiscale", "codice fiscale", "cf", "codicefiscale"],
    ),
    (
        "numero",
        &[
            "numero_iscrizione",
            "numero iscrizione",
            "n_iscrizione",
            "numero",
            "iscrizione",
        ],
    ),
    ("pec", &["pec", "indirizzo_pec"]),
    ("email", &["email", "e-mail", "posta_elettronica"]),
    ("stato", &["stato"]),
    (
        "materie",
        &[
            "materie",
            "elenchi",
            "materie_patrocinio",
            "elenco_patrocinio",
        ],
    ),
];

fn matter_code(word: &str) -> Option<&'static str> {
    let w = word.trim().to_lowercase().replace(['_', '-'], " ");
    let found = match w.as_str() {
        "civile" => ListMatter::Civile,
        "penale" => ListMatter::Penale,
        "amministrativo" | "amministrativa" => ListMatter::Amministrativo,
        "contabile" => ListMatter::Contabile,
        "tributario" | "tributaria" => ListMatter::Tributario,
        "volontaria giurisdizione" | "volontaria" => ListMatter::VolontariaGiurisdizione,
        _ => return None,
    };
    Some(found.code())
}

fn optional(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn looks_like_email(s: &str) -> bool {
    crate::domain::application::check::is_email(s)
}

/// The good records (with their line numbers) and the bad lines of a file.
pub type Parsed = (Vec<(usize, Record)>, Vec<BadLine>);

/// Reads the CSV (`;` or `,` separated, UTF-8 with or without BOM, a header row).
pub fn parse(bytes: &[u8]) -> Result<Parsed, FileError> {
    let text = std::str::from_utf8(bytes).map_err(|_| FileError::Encoding)?;
    let text = text.trim_start_matches('\u{feff}');
    let first = text.lines().next().ok_or(FileError::Empty)?;
    if first.trim().is_empty() {
        return Err(FileError::Empty);
    }
    let delimiter = if first.matches(';').count() >= first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|_| FileError::Empty)?
        .iter()
        .map(|h| h.trim().to_lowercase())
        .collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (field, names) in COLUMNS {
        if let Some(i) = headers.iter().position(|h| names.contains(&h.as_str())) {
            index.insert(field, i);
        }
    }
    let missing: Vec<&str> = ["cognome", "nome", "codice_fiscale"]
        .into_iter()
        .filter(|f| !index.contains_key(f))
        .collect();
    if !missing.is_empty() {
        return Err(FileError::MissingColumns(missing.join(", ")));
    }

    let mut records = Vec::new();
    let mut bad = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = match row {
            Ok(r) => r,
            Err(_) => {
                bad.push(BadLine {
                    line,
                    reason: "riga non leggibile (virgolette non chiuse?)".into(),
                    keys: LineKeys::default(),
                });
                continue;
            }
        };
        if row.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let get = |field: &str| {
            index
                .get(field)
                .and_then(|i| row.get(*i))
                .unwrap_or("")
                .trim()
                .to_owned()
        };
        let mut reasons = Vec::new();
        let (surname, given_name) = (get("cognome"), get("nome"));
        if surname.is_empty() || given_name.is_empty() {
            reasons.push("cognome e nome sono obbligatori".to_owned());
        }
        let cf = match CodiceFiscale::parse(&get("codice_fiscale")) {
            Ok(cf) => cf.as_str().to_owned(),
            Err(e) => {
                reasons.push(format!("codice fiscale: {e}"));
                String::new()
            }
        };
        let status = Status::parse(&get("stato")).unwrap_or_else(|| {
            reasons.push(format!(
                "stato «{}» non riconosciuto (attivo, sospeso, cancellato)",
                get("stato")
            ));
            Status::Attivo
        });
        let (pec, email) = (optional(&get("pec")), optional(&get("email")));
        if pec.as_deref().is_some_and(|p| !looks_like_email(p)) {
            reasons.push("indirizzo PEC non valido".into());
        }
        if email.as_deref().is_some_and(|e| !looks_like_email(e)) {
            reasons.push("indirizzo e-mail non valido".into());
        }
        let mut matters = BTreeSet::new();
        for word in get("materie").split(['|', ',', ';', '/']) {
            if word.trim().is_empty() {
                continue;
            }
            match matter_code(word) {
                Some(code) => {
                    matters.insert(code.to_owned());
                }
                None => reasons.push(format!("materia «{}» non riconosciuta", word.trim())),
            }
        }
        if !cf.is_empty()
            && let Some(first) = seen.get(&cf)
        {
            reasons.push(format!("codice fiscale già presente alla riga {first}"));
        }
        if !reasons.is_empty() {
            bad.push(BadLine {
                line,
                reason: reasons.join("; "),
                keys: LineKeys::read(
                    &get("codice_fiscale"),
                    &get("numero"),
                    [&get("pec"), &get("email")],
                    &surname,
                    &given_name,
                ),
            });
            continue;
        }
        seen.insert(cf.clone(), line);
        records.push((
            line,
            Record {
                surname,
                given_name,
                codice_fiscale: cf,
                register_number: optional(&get("numero")),
                pec,
                email: email.map(|e| e.to_lowercase()),
                status,
                matters,
            },
        ));
    }
    Ok((records, bad))
}

/// A lawyer we hold, as the preview lists them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldLawyer {
    pub codice_fiscale: String,
    pub name: String,
    pub register_number: Option<String>,
    pub status: Status,
}

impl HeldLawyer {
    fn of(r: &Record) -> Self {
        Self {
            codice_fiscale: r.codice_fiscale.clone(),
            name: r.name(),
            register_number: r.register_number.clone(),
            status: r.status.clone(),
        }
    }
}

/// Disabling more than this share (per cent) of the enrolled lawyers at once needs a second,
/// explicit confirmation: a yearly export drops a few per cent at most, so more is far likelier
/// a truncated or garbled file than a real register.
pub const MANY_SHARE_PERCENT: usize = 10;
/// ... but disabling this many or fewer never does: a list of five names is read at a glance.
pub const MANY_FLOOR: usize = 5;

/// What an import would do.
#[derive(Debug, Default)]
pub struct Plan {
    pub create: Vec<Record>,
    /// Records that differ from what we hold, with the names of the changed fields.
    pub update: Vec<(Record, Vec<&'static str>)>,
    /// Lawyers we hold, not cancelled, who are not in the file and whom no line with errors
    /// may be about.
    pub disable: Vec<HeldLawyer>,
    /// Lawyers we hold, not cancelled, who are not in the file as a good line but whom lines
    /// with errors (their numbers) may be about: left as they are.
    pub kept: Vec<(HeldLawyer, Vec<usize>)>,
    /// For each line with errors, the names of the lawyers we hold it may be about.
    pub about: BTreeMap<usize, Vec<String>>,
    /// Lines with errors that may be about none of the lawyers we hold.
    pub unmatched: Vec<usize>,
    pub unchanged: usize,
    /// Lawyers we hold who are not cancelled: the base of the share of [`MANY_SHARE_PERCENT`].
    pub enrolled: usize,
}

impl Plan {
    /// Whether disabling would take more than the safe share of the enrolled lawyers.
    pub fn disables_many(&self) -> bool {
        let n = self.disable.len();
        n > MANY_FLOOR && n * 100 > self.enrolled * MANY_SHARE_PERCENT
    }

    /// The share of enrolled lawyers that would be disabled, in whole per cent (rounded up).
    pub fn disable_percent(&self) -> usize {
        (self.disable.len() * 100).div_ceil(self.enrolled.max(1))
    }
}

/// Compares the file with the register we hold (keyed by codice fiscale). Lines with errors
/// never make a lawyer absent: each is matched, generously, to the lawyers it may be about.
pub fn plan(records: &[(usize, Record)], bad: &[BadLine], existing: &[Record]) -> Plan {
    let held: HashMap<&str, &Record> = existing
        .iter()
        .map(|r| (r.codice_fiscale.as_str(), r))
        .collect();
    let mut plan = Plan::default();
    for (_, r) in records {
        match held.get(r.codice_fiscale.as_str()) {
            None => plan.create.push(r.clone()),
            Some(old) => {
                let mut fields = Vec::new();
                if old.surname != r.surname || old.given_name != r.given_name {
                    fields.push("nominativo");
                }
                if old.register_number != r.register_number {
                    fields.push("numero di iscrizione");
                }
                if old.pec != r.pec {
                    fields.push("PEC");
                }
                if old.email != r.email {
                    fields.push("e-mail");
                }
                if old.status != r.status {
                    fields.push("stato");
                }
                if old.matters != r.matters {
                    fields.push("elenchi");
                }
                if fields.is_empty() {
                    plan.unchanged += 1;
                } else {
                    plan.update.push((r.clone(), fields));
                }
            }
        }
    }

    // Indexes of the lawyers we hold by every key a bad line may carry.
    let mut index: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in existing.iter().enumerate() {
        let mut keys: Vec<String> = cf_variants(&r.codice_fiscale)
            .map(|v| format!("cf:{v}"))
            .collect();
        if let Some(n) = r.register_number.as_deref().and_then(register_key) {
            keys.push(format!("n:{n}"));
        }
        for a in [&r.pec, &r.email].into_iter().flatten() {
            keys.push(format!("@:{}", a.trim().to_lowercase()));
        }
        if let Some(n) = name_key(&r.surname, &r.given_name) {
            keys.push(format!("nome:{n}"));
        }
        for k in keys {
            let list = index.entry(k).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
    }
    let mut lines_of: HashMap<usize, Vec<usize>> = HashMap::new();
    for b in bad {
        let k = &b.keys;
        let mut keys: Vec<String> = Vec::new();
        if let Some(cf) = &k.codice_fiscale {
            keys.extend(cf_variants(cf).map(|v| format!("cf:{v}")));
        }
        if let Some(n) = &k.register_number {
            keys.push(format!("n:{n}"));
        }
        keys.extend(k.addresses.iter().map(|a| format!("@:{a}")));
        if let Some(n) = &k.name {
            keys.push(format!("nome:{n}"));
        }
        let found: BTreeSet<usize> = keys
            .iter()
            .filter_map(|key| index.get(key))
            .flatten()
            .copied()
            .collect();
        if found.is_empty() {
            plan.unmatched.push(b.line);
            continue;
        }
        plan.about
            .insert(b.line, found.iter().map(|i| existing[*i].name()).collect());
        for i in found {
            lines_of.entry(i).or_default().push(b.line);
        }
    }

    let in_file: HashSet<&str> = records
        .iter()
        .map(|(_, r)| r.codice_fiscale.as_str())
        .collect();
    for (i, r) in existing.iter().enumerate() {
        if r.status == Status::Cancellato {
            continue;
        }
        plan.enrolled += 1;
        if in_file.contains(r.codice_fiscale.as_str()) {
            continue;
        }
        match lines_of.remove(&i) {
            Some(lines) => plan.kept.push((HeldLawyer::of(r), lines)),
            None => plan.disable.push(HeldLawyer::of(r)),
        }
    }
    plan
}

/// What the administrator chose on applying an import.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Choices {
    /// Apply even though some lines have errors (those lines change nothing).
    pub ignore_errors: bool,
    pub absent: AbsentChoice,
    /// Disable more than [`MANY_SHARE_PERCENT`] of the enrolled lawyers at once.
    pub confirm_many: bool,
}

/// What to do with the lawyers who are not in the file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AbsentChoice {
    /// Nothing said: no lawyer is disabled without an explicit choice.
    #[default]
    Unsaid,
    /// Disable them: as many as the administrator was shown.
    Disable { shown: usize },
    /// Disable nobody this time.
    Keep,
}

/// Why an import is not applied as chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Lines with errors, and no choice to apply anyway.
    BadLines(usize),
    /// Lawyers would be disabled, and no choice about them.
    AbsentUnsaid(usize),
    /// The administrator confirmed disabling a number of lawyers that is no longer the number.
    Changed { shown: usize, now: usize },
    /// Too many lawyers would be disabled for one confirmation.
    Many { count: usize, enrolled: usize },
}

fn lawyers(n: usize) -> String {
    super::plural::count(n, "avvocato", "avvocati")
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::BadLines(1) => write!(
                f,
                "Il file contiene 1 riga con errori: correggerla e caricare di nuovo il file, \
                 oppure scegliere di applicarlo comunque ignorando quella riga."
            ),
            Refusal::BadLines(n) => write!(
                f,
                "Il file contiene {n} righe con errori: correggerle e caricare di nuovo il file, \
                 oppure scegliere di applicarlo comunque ignorando quelle righe."
            ),
            Refusal::AbsentUnsaid(1) => write!(
                f,
                "1 avvocato dell'albo non è presente nel file: scegliere se disattivarlo \
                 o non disattivare nessuno."
            ),
            Refusal::AbsentUnsaid(n) => write!(
                f,
                "{n} avvocati dell'albo non sono presenti nel file: scegliere se disattivarli \
                 o non disattivare nessuno."
            ),
            Refusal::Changed { shown, now } => write!(
                f,
                "Dopo l'anteprima l'albo è cambiato: gli avvocati da disattivare ora sono {now}, \
                 non {shown}. Rivedere l'elenco e confermare di nuovo."
            ),
            Refusal::Many { count, enrolled } => write!(
                f,
                "Si disattiverebbero {} su {enrolled} iscritti, più del {MANY_SHARE_PERCENT}% \
                 dell'albo: un file incompleto o letto male dà lo stesso risultato. Se è davvero \
                 così, confermare espressamente anche questa disattivazione.",
                lawyers(*count)
            ),
        }
    }
}

/// An import the administrator's choices allow: the only way to [`Approved::plan`].
#[derive(Debug)]
pub struct Approved {
    plan: Plan,
    bad: Vec<BadLine>,
    not_disabled: usize,
}

impl Approved {
    /// What to apply: without the deactivations when the administrator chose to keep them.
    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn bad_lines(&self) -> &[BadLine] {
        &self.bad
    }

    /// Lawyers not in the file whom the administrator chose not to disable.
    pub fn not_disabled(&self) -> usize {
        self.not_disabled
    }

    /// The records the import will write, for its progress.
    pub fn total(&self) -> usize {
        self.plan.create.len() + self.plan.update.len() + self.plan.disable.len()
    }
}

/// An import refused as chosen: the plan back, for the preview, and every reason.
#[derive(Debug)]
pub struct Rejected {
    pub plan: Plan,
    pub bad: Vec<BadLine>,
    pub refusals: Vec<Refusal>,
}

/// Whether the import may be applied as chosen: lines with errors need the choice to ignore
/// them; lawyers not in the file are disabled only when the administrator says so (having seen
/// how many), and more than the safe share only with a second confirmation. Every reason to
/// refuse is given at once.
pub fn approve(
    mut plan: Plan,
    bad: Vec<BadLine>,
    choices: &Choices,
) -> Result<Approved, Box<Rejected>> {
    let mut refusals = Vec::new();
    if !bad.is_empty() && !choices.ignore_errors {
        refusals.push(Refusal::BadLines(bad.len()));
    }
    let n = plan.disable.len();
    let disable = match choices.absent {
        _ if n == 0 => true,
        AbsentChoice::Unsaid => {
            refusals.push(Refusal::AbsentUnsaid(n));
            false
        }
        AbsentChoice::Keep => false,
        AbsentChoice::Disable { shown } if shown != n => {
            refusals.push(Refusal::Changed { shown, now: n });
            false
        }
        AbsentChoice::Disable { .. } => {
            if plan.disables_many() && !choices.confirm_many {
                refusals.push(Refusal::Many {
                    count: n,
                    enrolled: plan.enrolled,
                });
            }
            true
        }
    };
    if !refusals.is_empty() {
        return Err(Box::new(Rejected {
            plan,
            bad,
            refusals,
        }));
    }
    let not_disabled = if disable {
        0
    } else {
        std::mem::take(&mut plan.disable).len()
    };
    Ok(Approved {
        plan,
        bad,
        not_disabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::codice_fiscale::{CfPersona, Sex};
    use chrono::NaiveDate;

    fn cf(surname: &str, name: &str) -> String {
        CfPersona::compute(
            surname,
            name,
            NaiveDate::from_ymd_opt(1980, 1, 1).unwrap(),
            Sex::F,
            "H501",
        )
        .unwrap()
        .as_str()
        .to_owned()
    }

    #[test]
    fn reads_semicolon_csv_with_bom_and_reports_bad_lines() {
        let good = cf("Bianchi", "Anna");
        let csv = format!(
            "\u{feff}Cognome;Nome;Codice fiscale;Numero iscrizione;PEC;Email;Stato;Materie\n\
             Bianchi;Anna;{good};1234;anna@pec.it;anna@example.it;attivo;civile|volontaria giurisdizione\n\
             Rossi;Mario;NONVALIDO;77;;;;civile\n\
             Verdi;Luca;{good};9;;;attivo;civile\n\
             Neri;Sara;{};10;;;in ferie;marittimo\n\
             ;;;;;;;\n",
            cf("Neri", "Sara")
        );
        let (records, bad) = parse(csv.as_bytes()).unwrap();
        assert_eq!(records.len(), 1);
        let (line, r) = &records[0];
        assert_eq!(*line, 2);
        assert_eq!(r.register_number.as_deref(), Some("1234"));
        assert_eq!(
            r.list_matters(),
            vec![ListMatter::Civile, ListMatter::VolontariaGiurisdizione]
        );
        assert_eq!(bad.len(), 3);
        assert_eq!(bad[0].line, 3);
        assert!(bad[0].reason.starts_with("codice fiscale:"));
        assert_eq!(bad[1].line, 4);
        assert_eq!(bad[1].reason, "codice fiscale già presente alla riga 2");
        assert!(bad[2].reason.contains("stato «in ferie»"));
        assert!(bad[2].reason.contains("materia «marittimo»"));
    }

    #[test]
    fn comma_separated_and_missing_columns() {
        let csv = format!("cognome,nome,cf\nBianchi,Anna,{}\n", cf("Bianchi", "Anna"));
        let (records, bad) = parse(csv.as_bytes()).unwrap();
        assert_eq!((records.len(), bad.len()), (1, 0));
        assert_eq!(records[0].1.status, Status::Attivo);
        assert_eq!(
            parse(b"nome;pec\nAnna;a@pec.it\n").unwrap_err(),
            FileError::MissingColumns("cognome, codice_fiscale".into())
        );
        assert_eq!(parse(&[0xff, 0xfe, 0x00]).unwrap_err(), FileError::Encoding);
        assert_eq!(parse(b"").unwrap_err(), FileError::Empty);
    }

    #[test]
    fn plan_creates_updates_disables_and_is_idempotent() {
        let csv = format!(
            "cognome;nome;codice_fiscale;pec;materie\n\
             Bianchi;Anna;{};anna@pec.it;civile\n\
             Esposito;Marco;{};marco@pec.it;penale\n",
            cf("Bianchi", "Anna"),
            cf("Esposito", "Marco")
        );
        let (records, bad) = parse(csv.as_bytes()).unwrap();
        let mut held_anna = records[0].1.clone();
        held_anna.pec = Some("vecchia@pec.it".into());
        let gone = Record {
            surname: "Russo".into(),
            given_name: "Luca".into(),
            codice_fiscale: cf("Russo", "Luca"),
            register_number: None,
            pec: None,
            email: None,
            status: Status::Attivo,
            matters: BTreeSet::new(),
        };
        let p = plan(&records, &bad, &[held_anna, gone.clone()]);
        assert_eq!(p.create.len(), 1);
        assert_eq!(p.create[0].surname, "Esposito");
        assert_eq!(p.update.len(), 1);
        assert_eq!(p.update[0].1, vec!["PEC"]);
        assert_eq!(
            p.disable,
            vec![HeldLawyer {
                codice_fiscale: gone.codice_fiscale.clone(),
                name: "Luca Russo".into(),
                register_number: None,
                status: Status::Attivo,
            }]
        );
        // Applying the file again changes nothing.
        let now: Vec<Record> = records.iter().map(|(_, r)| r.clone()).collect();
        let again = plan(&records, &bad, &now);
        assert!(again.create.is_empty() && again.update.is_empty() && again.disable.is_empty());
        assert_eq!(again.unchanged, 2);
    }

    fn held(surname: &str, name: &str, number: &str, pec: &str) -> Record {
        Record {
            surname: surname.into(),
            given_name: name.into(),
            codice_fiscale: cf(surname, name),
            register_number: Some(number.into()),
            pec: Some(pec.into()),
            email: None,
            status: Status::Attivo,
            matters: BTreeSet::new(),
        }
    }

    const HEADER: &str = "cognome;nome;codice_fiscale;numero_iscrizione;pec;email;stato;materie\n";

    fn names(list: &[HeldLawyer]) -> Vec<&str> {
        list.iter().map(|l| l.name.as_str()).collect()
    }

    #[test]
    fn a_line_with_errors_never_makes_its_lawyer_absent() {
        let anna = held("Bianchi", "Anna", "1234", "anna@pec.it");
        let luca = held("Russo", "Luca", "77", "luca@pec.it");
        let sara = held("Neri", "Sara", "10", "sara@pec.it");
        let piero = held("Galli", "Piero", "2001", "piero@pec.it");
        let elio = held("Conti", "Elio", "99", "elio@pec.it");
        // Luca Russo's code with one character mistyped.
        let typo: String = luca
            .codice_fiscale
            .char_indices()
            .map(|(i, c)| {
                if i == 7 {
                    if c == 'A' { 'B' } else { 'A' }
                } else {
                    c
                }
            })
            .collect();
        // Each line may be about one lawyer through one key only (the names differ but one).
        let csv = format!(
            "{HEADER}\
             Bianco;Anna;;01234;;;attivo;civile\n\
             Rosso;Luca;{typo};;;;attivo;civile\n\
             Nero;Sara;XXX;;SARA@PEC.IT;;attivo;civile\n\
             Galli;Piero;;;;;attivo;civile\n\
             Ignoto;Tizio;;5555;;;attivo;civile\n"
        );
        let (records, bad) = parse(csv.as_bytes()).unwrap();
        assert!(records.is_empty());
        assert_eq!(bad.len(), 5);
        assert!(bad.iter().all(|b| b.reason.starts_with("codice fiscale")));
        let p = plan(&records, &bad, &[anna, luca, sara, piero, elio]);
        assert_eq!(names(&p.disable), vec!["Elio Conti"], "{p:?}");
        let kept: Vec<(&str, Vec<usize>)> = p
            .kept
            .iter()
            .map(|(l, lines)| (l.name.as_str(), lines.clone()))
            .collect();
        assert_eq!(
            kept,
            vec![
                ("Anna Bianchi", vec![2]),
                ("Luca Russo", vec![3]),
                ("Sara Neri", vec![4]),
                ("Piero Galli", vec![5]),
            ]
        );
        assert_eq!(p.about[&2], vec!["Anna Bianchi".to_owned()]);
        assert_eq!(p.unmatched, vec![6]);
        assert_eq!(p.enrolled, 5);
        assert!(p.update.is_empty() && p.create.is_empty());
    }

    #[test]
    fn a_garbled_file_disables_nobody_without_two_explicit_confirmations() {
        let surnames = [
            "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
            "Marino", "Greco", "Bruno", "Gallo", "Conti", "Deluca", "Mancini", "Costa", "Giordano",
            "Rizzo", "Lombardi", "Moretti",
        ];
        let held: Vec<Record> = surnames
            .iter()
            .enumerate()
            .map(|(i, s)| held(s, "Maria", &format!("{}", i + 1), &format!("{i}@pec.it")))
            .collect();
        // The header is separated by semicolons, the lines by commas: every line is one field.
        let mut csv = HEADER.to_owned();
        for r in &held {
            csv.push_str(&format!(
                "{},{},{},{},{},,attivo,civile\n",
                r.surname,
                r.given_name,
                r.codice_fiscale,
                r.register_number.as_deref().unwrap(),
                r.pec.as_deref().unwrap()
            ));
        }
        let (records, bad) = parse(csv.as_bytes()).unwrap();
        assert_eq!((records.len(), bad.len()), (0, 20));
        let p = plan(&records, &bad, &held);
        assert_eq!((p.disable.len(), p.unmatched.len()), (20, 20));
        assert!(p.disables_many());
        let try_with = |choices: Choices| {
            let p = plan(&records, &bad, &held);
            approve(p, bad.clone(), &choices)
        };
        assert_eq!(
            try_with(Choices::default()).unwrap_err().refusals,
            vec![Refusal::BadLines(20), Refusal::AbsentUnsaid(20)]
        );
        let ignore = Choices {
            ignore_errors: true,
            ..Choices::default()
        };
        assert_eq!(
            try_with(Choices {
                absent: AbsentChoice::Disable { shown: 20 },
                ..ignore
            })
            .unwrap_err()
            .refusals,
            vec![Refusal::Many {
                count: 20,
                enrolled: 20
            }]
        );
        assert_eq!(
            try_with(Choices {
                absent: AbsentChoice::Disable { shown: 19 },
                confirm_many: true,
                ..ignore
            })
            .unwrap_err()
            .refusals,
            vec![Refusal::Changed { shown: 19, now: 20 }]
        );
        let kept = try_with(Choices {
            absent: AbsentChoice::Keep,
            ..ignore
        })
        .unwrap();
        assert!(kept.plan().disable.is_empty());
        assert_eq!((kept.not_disabled(), kept.total()), (20, 0));
        let all = try_with(Choices {
            absent: AbsentChoice::Disable { shown: 20 },
            confirm_many: true,
            ..ignore
        })
        .unwrap();
        assert_eq!((all.plan().disable.len(), all.not_disabled()), (20, 0));
    }

    #[test]
    fn a_clean_file_needs_no_choice_and_messages_are_italian() {
        let csv = format!(
            "{HEADER}Bianchi;Anna;{};1234;;;attivo;civile\n",
            cf("Bianchi", "Anna")
        );
        let (records, bad) = parse(csv.as_bytes()).unwrap();
        let p = plan(&records, &bad, &[]);
        let ok = approve(p, bad, &Choices::default()).unwrap();
        assert_eq!(ok.total(), 1);
        assert_eq!(
            Refusal::BadLines(1).to_string(),
            "Il file contiene 1 riga con errori: correggerla e caricare di nuovo il file, \
             oppure scegliere di applicarlo comunque ignorando quella riga."
        );
        assert!(
            Refusal::Many {
                count: 30,
                enrolled: 100
            }
            .to_string()
            .starts_with("Si disattiverebbero 30 avvocati su 100 iscritti, più del 10%")
        );
    }

    #[test]
    fn more_than_a_tenth_of_the_register_is_many_but_five_never_is() {
        let one = HeldLawyer {
            codice_fiscale: "X".into(),
            name: "X".into(),
            register_number: None,
            status: Status::Attivo,
        };
        let many = |n: usize, enrolled: usize| {
            Plan {
                disable: vec![one.clone(); n],
                enrolled,
                ..Plan::default()
            }
            .disables_many()
        };
        assert!(!many(10, 100));
        assert!(many(11, 100));
        assert!(!many(5, 6));
        assert!(many(6, 20));
        assert!(!many(250, 2500));
        assert!(many(1251, 2500));
    }
}
