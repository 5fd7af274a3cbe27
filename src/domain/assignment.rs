//! Which councillor to suggest as rapporteur: the one with the fewest open cases, never one in
//! conflict with the application (the chosen lawyer, the applicant or the counterparty).

use uuid::Uuid;

use super::codice_fiscale::CodiceFiscale;

#[derive(Clone, Debug)]
pub struct Councillor {
    pub id: Uuid,
    pub name: String,
    pub codice_fiscale: Option<String>,
    /// The councillor's own entry in the register, when they are also a lawyer of the Ordine.
    pub lawyer_id: Option<Uuid>,
    /// Cases assigned and not yet decided.
    pub open_cases: i64,
}

/// What could put a councillor in conflict with an application.
#[derive(Clone, Debug, Default)]
pub struct Parties {
    pub lawyer_id: Option<Uuid>,
    pub lawyer_cf: Option<String>,
    pub applicant_cf: Option<String>,
    pub counterparty_cf: Option<String>,
}

/// Why a councillor may not be the rapporteur of this application, in Italian.
pub fn conflict(c: &Councillor, p: &Parties) -> Option<&'static str> {
    if c.lawyer_id.is_some() && c.lawyer_id == p.lawyer_id {
        return Some("è l'avvocato indicato nell'istanza");
    }
    let cf = c
        .codice_fiscale
        .as_deref()
        .and_then(|cf| CodiceFiscale::parse(cf).ok())?;
    let same = |other: &Option<String>| {
        other
            .as_deref()
            .and_then(|o| CodiceFiscale::parse(o).ok())
            .is_some_and(|o| o.same_person(&cf))
    };
    if same(&p.lawyer_cf) {
        Some("è l'avvocato indicato nell'istanza")
    } else if same(&p.applicant_cf) {
        Some("è il richiedente")
    } else if same(&p.counterparty_cf) {
        Some("è la controparte")
    } else {
        None
    }
}

/// The suggested rapporteur: least open workload among those without conflict, then by name.
pub fn suggest<'a>(councillors: &'a [Councillor], parties: &Parties) -> Option<&'a Councillor> {
    councillors
        .iter()
        .filter(|c| conflict(c, parties).is_none())
        .min_by(|a, b| {
            a.open_cases
                .cmp(&b.open_cases)
                .then_with(|| a.name.cmp(&b.name))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, open: i64, cf: Option<&str>, lawyer: Option<Uuid>) -> Councillor {
        Councillor {
            id: Uuid::new_v4(),
            name: name.into(),
            codice_fiscale: cf.map(Into::into),
            lawyer_id: lawyer,
            open_cases: open,
        }
    }

    #[test]
    fn least_workload_wins_and_conflicts_are_never_suggested() {
        let lawyer = Uuid::new_v4();
        let list = vec![
            c("Bianchi", 1, None, Some(lawyer)),
            c("Rossi", 4, None, None),
            c("Verdi", 2, Some("RSSMRA85T10A562S"), None),
            c("Neri", 2, None, None),
        ];
        let mut p = Parties {
            lawyer_id: Some(lawyer),
            ..Parties::default()
        };
        // Bianchi has the fewest but is the chosen lawyer; Neri and Verdi tie, by name.
        assert_eq!(suggest(&list, &p).unwrap().name, "Neri");
        assert_eq!(
            conflict(&list[0], &p),
            Some("è l'avvocato indicato nell'istanza")
        );
        // Verdi is the applicant (written with an omocodia substitution).
        let variant = crate::domain::codice_fiscale::CfPersona::parse("RSSMRA85T10A562S")
            .unwrap()
            .with_omocodia(1);
        p.applicant_cf = Some(variant.as_str().to_owned());
        assert_eq!(conflict(&list[2], &p), Some("è il richiedente"));
        p.lawyer_id = None;
        assert_eq!(suggest(&list, &p).unwrap().name, "Bianchi");
        assert!(suggest(&[], &p).is_none());
    }
}
