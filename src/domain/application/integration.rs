//! Integration requests (art. 79 c.3): what the rapporteur may ask, what an answer must carry,
//! and the expired deadline (V39).

use chrono::NaiveDate;

use super::{attachment::AttachmentKind, check::parse_date};
use crate::domain::{deadline, time};

pub const MAX_QUESTIONS: usize = 10;
pub const MAX_TEXT: usize = 4000;

/// A checked request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub kinds: Vec<AttachmentKind>,
    pub questions: Vec<String>,
    pub due: NaiveDate,
}

/// A problem with a form field, in Italian.
pub type FieldError = (String, String);

/// Checks what the rapporteur ticked and typed. `questions` has one question per line; an
/// empty `due` takes the Ordine's default (15 days when unset).
pub fn check_request(
    kinds: &[String],
    questions: &str,
    due: &str,
    today: NaiveDate,
    tenant_days: Option<u32>,
) -> Result<Request, Vec<FieldError>> {
    let mut errors = Vec::new();
    let kinds: Vec<AttachmentKind> = AttachmentKind::ALL
        .into_iter()
        .filter(|k| kinds.iter().any(|c| c == k.code()))
        .collect();
    let questions: Vec<String> = questions
        .lines()
        .map(str::trim)
        .filter(|q| !q.is_empty())
        .map(|q| q.chars().take(MAX_TEXT).collect())
        .collect();
    if kinds.is_empty() && questions.is_empty() {
        errors.push((
            "voci".into(),
            "Indicare almeno un documento mancante o una domanda da porre.".into(),
        ));
    }
    if questions.len() > MAX_QUESTIONS {
        errors.push((
            "domande".into(),
            format!("Si possono porre al massimo {MAX_QUESTIONS} domande, una per riga."),
        ));
    }
    let due = if due.trim().is_empty() {
        Some(deadline::integration_due(today, tenant_days))
    } else {
        parse_date(due)
    };
    match due {
        None => errors.push((
            "scadenza".into(),
            "Indicare la scadenza come data (gg/mm/aaaa).".into(),
        )),
        Some(d) if d <= today => errors.push((
            "scadenza".into(),
            "La scadenza deve essere successiva alla data di oggi.".into(),
        )),
        Some(_) => {}
    }
    match (errors.is_empty(), due) {
        (true, Some(due)) => Ok(Request {
            kinds,
            questions,
            due,
        }),
        _ => Err(errors),
    }
}

/// What an answer still lacks: a file for every kind asked (already sent or in this answer),
/// a reply to every question.
pub fn missing(
    kinds: &[AttachmentKind],
    provided: &[AttachmentKind],
    questions: &[String],
    answers: &[String],
) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = kinds
        .iter()
        .filter(|k| !provided.contains(k))
        .map(|k| {
            (
                format!("file_{}", k.code()),
                format!("Manca il documento richiesto: {}.", k.label()),
            )
        })
        .collect();
    for (i, q) in questions.iter().enumerate() {
        if answers.get(i).is_none_or(|a| a.trim().is_empty()) {
            errors.push((
                format!("risposta_{i}"),
                format!("Rispondere alla domanda: «{q}»."),
            ));
        }
    }
    errors
}

/// V39, once the deadline has passed without an answer.
pub fn expired_message(requested: NaiveDate, due: NaiveDate) -> String {
    format!(
        "Il termine per l'integrazione richiesta il {} è scaduto il {}. In mancanza dei documenti richiesti l'istanza può essere dichiarata inammissibile (art. 79, comma 3, D.P.R. 115/2002).",
        time::format_date(requested),
        time::format_date(due)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn a_request_needs_something_to_ask_and_a_future_deadline() {
        let today = d(2026, 11, 26);
        let e = check_request(&[], " \n ", "", today, None).unwrap_err();
        assert_eq!(e[0].0, "voci");
        let e = check_request(&["redditi".into()], "", "26/11/2026", today, None).unwrap_err();
        assert_eq!(
            e,
            vec![(
                "scadenza".into(),
                "La scadenza deve essere successiva alla data di oggi.".into()
            )]
        );
        let e = check_request(&["redditi".into()], "", "domani", today, None).unwrap_err();
        assert_eq!(e[0].0, "scadenza");
        let r = check_request(
            &[
                "redditi".into(),
                "inventato".into(),
                "stato_famiglia".into(),
            ],
            "Chi è il secondo figlio?\n\n  Da quando vive a Vallenera?  ",
            "",
            today,
            None,
        )
        .unwrap();
        assert_eq!(
            r.kinds,
            vec![AttachmentKind::StatoFamiglia, AttachmentKind::Redditi]
        );
        assert_eq!(
            r.questions,
            vec!["Chi è il secondo figlio?", "Da quando vive a Vallenera?"]
        );
        assert_eq!(r.due, d(2026, 12, 11), "15 days by default");
        let r = check_request(&["redditi".into()], "", "", today, Some(30)).unwrap();
        assert_eq!(r.due, d(2026, 12, 26));
        let r = check_request(&["redditi".into()], "", "2026-12-01", today, None).unwrap();
        assert_eq!(r.due, d(2026, 12, 1));
    }

    #[test]
    fn an_answer_must_carry_every_item() {
        let kinds = [AttachmentKind::Redditi, AttachmentKind::StatoFamiglia];
        let questions = vec!["Chi è il secondo figlio?".to_owned()];
        let e = missing(&kinds, &[AttachmentKind::Redditi], &questions, &["".into()]);
        assert_eq!(
            e,
            vec![
                (
                    "file_stato_famiglia".into(),
                    "Manca il documento richiesto: Stato di famiglia o autocertificazione.".into()
                ),
                (
                    "risposta_0".into(),
                    "Rispondere alla domanda: «Chi è il secondo figlio?».".into()
                ),
            ]
        );
        assert!(missing(&kinds, &kinds, &questions, &["Luca, nato nel 2015".into()]).is_empty());
    }

    #[test]
    fn v39_names_both_dates() {
        assert_eq!(
            expired_message(d(2026, 11, 2), d(2026, 11, 17)),
            "Il termine per l'integrazione richiesta il 02/11/2026 è scaduto il 17/11/2026. In mancanza dei documenti richiesti l'istanza può essere dichiarata inammissibile (art. 79, comma 3, D.P.R. 115/2002)."
        );
    }
}
