//! Council sessions (adunanze): when their decisions may be recorded, the quorum, and what a
//! recording must say (who was present, who presided, who acted as secretary). Pure rules.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use uuid::Uuid;

/// The quorum when the Ordine has not set its own: a majority of its councillors.
pub fn default_quorum(councillors: usize) -> usize {
    councillors / 2 + 1
}

/// What the secretariat records for a session, as typed.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    pub present: Vec<Uuid>,
    pub president: Option<Uuid>,
    pub secretary: Option<Uuid>,
    /// "The decisions listed are those the Council adopted."
    pub confirmed: bool,
}

/// The session's start, in Rome time.
pub fn starts(held_on: NaiveDate, at: NaiveTime) -> NaiveDateTime {
    held_on.and_time(at)
}

/// Why the recording cannot be made, field by field (empty when it can): `now` and the start
/// are in Rome time; `councillors` are the Ordine's councillors.
pub fn check(
    r: &Recording,
    start: NaiveDateTime,
    now: NaiveDateTime,
    councillors: &[Uuid],
    quorum: usize,
) -> Vec<(&'static str, String)> {
    let mut errors = Vec::new();
    if now < start {
        errors.push((
            "adunanza",
            format!(
                "Le decisioni dell'adunanza si possono registrare solo dal suo inizio: {} alle ore {}.",
                start.format("%d/%m/%Y"),
                start.format("%H:%M")
            ),
        ));
    }
    let present: Vec<Uuid> = r
        .present
        .iter()
        .copied()
        .filter(|p| councillors.contains(p))
        .collect();
    if present.len() < quorum {
        errors.push((
            "presenti",
            format!(
                "Il numero legale è di {quorum} consiglieri: ne {} {}.",
                if present.len() == 1 {
                    "risulta presente"
                } else {
                    "risultano presenti"
                },
                present.len()
            ),
        ));
    }
    match r.president {
        Some(p) if present.contains(&p) => {}
        _ => errors.push((
            "presidente",
            "Indicare chi presiede l'adunanza, tra i consiglieri presenti.".into(),
        )),
    }
    match r.secretary {
        Some(s) if present.contains(&s) && Some(s) != r.president => {}
        Some(s) if Some(s) == r.president => errors.push((
            "segretario",
            "Chi presiede non può anche fungere da segretario: indicare un altro consigliere presente."
                .into(),
        )),
        _ => errors.push((
            "segretario",
            "Indicare il consigliere che funge da segretario, tra i presenti.".into(),
        )),
    }
    if !r.confirmed {
        errors.push((
            "conferma",
            "Confermare che le decisioni indicate sono quelle adottate dal Consiglio in questa adunanza."
                .into(),
        ));
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(d: u32, h: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 12, d)
            .unwrap()
            .and_hms_opt(h, 0, 0)
            .unwrap()
    }

    #[test]
    fn a_recording_needs_the_session_begun_the_quorum_a_president_a_secretary_and_a_yes() {
        let c: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        let good = Recording {
            present: c[..3].to_vec(),
            president: Some(c[0]),
            secretary: Some(c[1]),
            confirmed: true,
        };
        let start = starts(
            NaiveDate::from_ymd_opt(2026, 12, 5).unwrap(),
            NaiveTime::from_hms_opt(18, 0, 0).unwrap(),
        );
        assert_eq!(default_quorum(c.len()), 3);
        assert!(check(&good, start, at(5, 18), &c, 3).is_empty());
        // On 30 November for the session of 5 December: refused.
        let early = check(&good, start, at(1, 9), &c, 3);
        assert_eq!(early[0].0, "adunanza");
        assert!(early[0].1.ends_with("05/12/2026 alle ore 18:00."));
        let few = Recording {
            present: c[..2].to_vec(),
            ..good.clone()
        };
        assert!(
            check(&few, start, at(6, 9), &c, 3)[0]
                .1
                .starts_with("Il numero legale è di 3")
        );
        let absent_president = Recording {
            president: Some(c[4]),
            ..good.clone()
        };
        assert_eq!(
            check(&absent_president, start, at(6, 9), &c, 3)[0].0,
            "presidente"
        );
        let same = Recording {
            secretary: Some(c[0]),
            ..good.clone()
        };
        assert_eq!(check(&same, start, at(6, 9), &c, 3)[0].0, "segretario");
        let unconfirmed = Recording {
            confirmed: false,
            ..good
        };
        assert_eq!(check(&unconfirmed, start, at(6, 9), &c, 3)[0].0, "conferma");
        // Someone who is not a councillor does not make the quorum.
        let stranger = Recording {
            present: vec![c[0], c[1], Uuid::new_v4()],
            president: Some(c[0]),
            secretary: Some(c[1]),
            confirmed: true,
        };
        assert_eq!(check(&stranger, start, at(6, 9), &c, 3)[0].0, "presenti");
    }
}
