//! The register of lawyers (Albo) as the Ordine exports it: a CSV file, read into records,
//! then compared with what we hold to plan what an import would create, update and disable.
//!
//! The file is the whole register: a lawyer we hold who is not in it is disabled. Bad lines are
//! reported with their number and reason and change nothing.

use std::collections::{BTreeSet, HashMap};

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

/// What an import would do.
#[derive(Debug, Default)]
pub struct Plan {
    pub create: Vec<Record>,
    /// Records that differ from what we hold, with the names of the changed fields.
    pub update: Vec<(Record, Vec<&'static str>)>,
    /// Lawyers we hold, still active, who are not in the file: (codice fiscale, name).
    pub disable: Vec<(String, String)>,
    pub unchanged: usize,
}

/// Compares the file with the register we hold (keyed by codice fiscale).
pub fn plan(records: &[(usize, Record)], existing: &[Record]) -> Plan {
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
    let in_file: std::collections::HashSet<&str> = records
        .iter()
        .map(|(_, r)| r.codice_fiscale.as_str())
        .collect();
    plan.disable = existing
        .iter()
        .filter(|r| r.status != Status::Cancellato && !in_file.contains(r.codice_fiscale.as_str()))
        .map(|r| (r.codice_fiscale.clone(), r.name()))
        .collect();
    plan
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
        let (records, _) = parse(csv.as_bytes()).unwrap();
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
        let p = plan(&records, &[held_anna, gone.clone()]);
        assert_eq!(p.create.len(), 1);
        assert_eq!(p.create[0].surname, "Esposito");
        assert_eq!(p.update.len(), 1);
        assert_eq!(p.update[0].1, vec!["PEC"]);
        assert_eq!(
            p.disable,
            vec![(gone.codice_fiscale.clone(), "Luca Russo".into())]
        );
        // Applying the file again changes nothing.
        let now: Vec<Record> = records.iter().map(|(_, r)| r.clone()).collect();
        let again = plan(&records, &now);
        assert!(again.create.is_empty() && again.update.is_empty() && again.disable.is_empty());
        assert_eq!(again.unchanged, 2);
    }
}
