//! The e-mails, in Italian, as plain text and HTML from one set of paragraphs: what happened to
//! the application, what to do now and where, signed with the Ordine's name and PEC.

use crate::domain::plural;
use lettre::{
    Message,
    message::{Attachment, Mailbox, MultiPart, header::ContentType},
};
use maud::html;
use serde_json::Value;

use super::Mailer;
use crate::{
    domain::{application::workflow::EventKind, notifications::Topic},
    store::{outbox::Due, tenants::Tenant},
};

/// Subject and paragraphs of one message.
#[derive(Debug, PartialEq, Eq)]
pub struct Text {
    pub subject: String,
    pub paragraphs: Vec<String>,
    /// Where to act, with the words of the link.
    pub link: (String, String),
}

fn field<'a>(payload: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = payload;
    for p in path {
        v = v.get(p)?;
    }
    match v {
        Value::String(s) if !s.is_empty() => Some(s),
        _ => None,
    }
}

/// An account e-mail: the activation or reset link.
fn account_text(due: &Due, tenant: &Tenant, public_url: &str) -> Option<Text> {
    let p = &due.payload;
    let path = field(p, &["percorso"])?;
    let until = field(p, &["scadenza"]).unwrap_or("");
    let greeting = match field(p, &["nome"]) {
        Some(name) => format!("Gentile {name},"),
        None => "Buongiorno,".into(),
    };
    let (subject, what, words) = match due.template.as_str() {
        "attivazione" => (
            "Attivazione dell'account",
            format!(
                "il {} ha creato per lei un account sul servizio per il patrocinio a spese dello Stato. Per attivarlo scelga la sua password dal collegamento qui sotto.",
                tenant.name
            ),
            "Attiva l'account",
        ),
        "reimpostazione" => (
            "Reimpostazione della password",
            format!(
                "l'amministrazione del {} ha predisposto la reimpostazione della password del suo account. Scelga la nuova password dal collegamento qui sotto. Se non l'ha chiesta, avvisi la segreteria dell'Ordine.",
                tenant.name
            ),
            "Scegli la nuova password",
        ),
        _ => return None,
    };
    Some(Text {
        subject: format!("{subject} – {}", tenant.name),
        paragraphs: vec![
            greeting,
            what,
            format!("Il collegamento vale fino al {until} e si può usare una sola volta."),
        ],
        link: (format!("{public_url}{path}"), words.into()),
    })
}

/// What a message is, in a few words, for the pages that list them.
pub fn template_label(template: &str) -> &str {
    match template {
        "attivazione" => "Attivazione dell'account",
        "reimpostazione" => "Reimpostazione della password",
        "bozza_creata" => "Codice e PIN della bozza",
        "promemoria_integrazione" => "Promemoria della scadenza dell'integrazione",
        "termine_in_scadenza" => "Termine per decidere in scadenza",
        _ => EventKind::from_code(template).map_or(template, |k| k.label()),
    }
}

/// A new draft's code and PIN, to the address given when starting it.
fn draft_text(due: &Due, tenant: &Tenant, public_url: &str) -> Option<Text> {
    if due.template != "bozza_creata" {
        return None;
    }
    let code = field(&due.payload, &["codice"]).unwrap_or("");
    let mut paragraphs = vec![
        "Buongiorno,".to_owned(),
        format!(
            "è stata creata sul servizio del {} la bozza di un'istanza di ammissione al patrocinio a spese dello Stato. Con il codice e il PIN si riprende la compilazione da qualsiasi dispositivo e, dopo l'invio, si segue l'istanza.",
            tenant.name
        ),
        format!("Codice dell'istanza: {code}"),
    ];
    if let Some(pin) = field(&due.payload, &["pin"]) {
        paragraphs.push(format!("PIN: {pin}"));
    }
    paragraphs.push("Conservi questo messaggio e non lo inoltri: chi conosce codice e PIN può leggere e modificare la bozza. Se non ha creato lei l'istanza, può ignorarlo.".into());
    Some(Text {
        subject: format!("Istanza {code}: codice e PIN per riprendere la compilazione"),
        paragraphs,
        link: (
            format!("{public_url}/{}/istanza#riprendi", tenant.slug),
            "Riprendi la compilazione".into(),
        ),
    })
}

/// A delibera transmitted with its outgoing protocol number: to the parties, or the copy for
/// the judicial office (art. 126 c.2).
fn transmission_text(due: &Due, tenant: &Tenant, public_url: &str) -> Option<Text> {
    if due.template != "delibera_trasmessa" {
        return None;
    }
    let p = &due.payload;
    let code = field(p, &["codice"]).unwrap_or("");
    let number = field(p, &["delibera"]).unwrap_or("");
    let outgoing = field(p, &["protocollo_uscita"]).unwrap_or("");
    let outcome = field(p, &["esito"]).unwrap_or("");
    let reference = match field(p, &["protocollo"]) {
        Some(n) => format!("istanza {code} (protocollo n. {n})"),
        None => format!("istanza {code}"),
    };
    let slug = tenant.slug.as_str();
    let (paragraphs, link) = match due.recipient_kind.as_str() {
        "ufficio_giudiziario" => {
            let applicant = field(p, &["richiedente"]).unwrap_or("");
            let mut about = format!("relativa a {applicant}");
            if let Some(rg) = field(p, &["rg"]) {
                about.push_str(&format!(", giudizio R.G. {rg}"));
            }
            (
                vec![
                    "Al magistrato competente,".to_owned(),
                    format!(
                        "il {} trasmette, ai sensi dell'art. 126, comma 2, del D.P.R. 115/2002, copia della delibera n. {number} di ammissione in via anticipata e provvisoria al patrocinio a spese dello Stato, {about}.",
                        tenant.name
                    ),
                ],
                (
                    format!("{public_url}/{slug}"),
                    format!("Servizio per il patrocinio del {}", tenant.name),
                ),
            )
        }
        kind => (
            vec![format!(
                "Il {} trasmette la delibera n. {number} sull'{reference}. Esito: {outcome}.",
                tenant.name
            )],
            if kind == "avvocato" {
                (
                    format!("{public_url}/{slug}/avvocati"),
                    "Apri la sua area riservata".to_owned(),
                )
            } else {
                (
                    format!("{public_url}/{slug}/istanza/stato"),
                    "Segui l'istanza con il codice e il PIN".to_owned(),
                )
            },
        ),
    };
    Some(Text {
        subject: format!("Delibera n. {number} – istanza {code} – prot. n. {outgoing}"),
        paragraphs,
        link,
    })
}

/// A batch of admissions for the Agenzia delle Entrate (art. 127 c.1), with its cover list
/// and the signed delibere attached.
fn batch_text(due: &Due, tenant: &Tenant, public_url: &str) -> Option<Text> {
    if due.template != "distinta_ade" {
        return None;
    }
    let p = &due.payload;
    let number = field(p, &["distinta"]).unwrap_or("");
    let period = field(p, &["periodo"]).unwrap_or("");
    let outgoing = field(p, &["protocollo_uscita"]).unwrap_or("");
    let count = p.get("delibere").and_then(Value::as_u64).unwrap_or(0);
    let part = field(p, &["parte"])
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    Some(Text {
        subject: format!(
            "Distinta n. {number}{part} – delibere di ammissione al patrocinio a spese dello Stato – prot. n. {outgoing}"
        ),
        paragraphs: vec![
            "All'Agenzia delle Entrate, Direzione provinciale,".to_owned(),
            format!(
                "il {} trasmette, ai sensi dell'art. 127, comma 1, del D.P.R. 115/2002, per le verifiche di competenza, {} di ammissione in via anticipata e provvisoria al patrocinio a spese dello Stato adottate nel periodo {period}{part}.",
                tenant.name,
                plural::count(count, "delibera", "delibere")
            ),
            "Sono allegati la distinta riepilogativa (PDF/A e CSV) e le delibere firmate digitalmente.".to_owned(),
        ],
        link: (
            format!("{public_url}/{}", tenant.slug),
            format!("Servizio per il patrocinio del {}", tenant.name),
        ),
    })
}

/// What the message says, for its template (the event's code, or an account e-mail) and
/// recipient.
pub fn text(due: &Due, tenant: &Tenant, public_url: &str) -> Text {
    if let Some(t) = account_text(due, tenant, public_url)
        .or_else(|| draft_text(due, tenant, public_url))
        .or_else(|| transmission_text(due, tenant, public_url))
        .or_else(|| batch_text(due, tenant, public_url))
    {
        return t;
    }
    let p = &due.payload;
    let code = field(p, &["codice"]).unwrap_or("");
    let protocol = field(p, &["dettagli", "protocollo"]).or(field(p, &["protocollo"]));
    let note = field(p, &["dettagli", "nota"]);
    let kind = EventKind::from_code(&due.template);
    let label = kind.map_or(due.template.as_str(), |k| k.label());
    let until = field(p, &["dettagli", "scadenza"]).unwrap_or("");
    let reference = match protocol {
        Some(n) => format!("istanza {code} (protocollo n. {n})"),
        None => format!("istanza {code}"),
    };
    let slug = tenant.slug.as_str();
    let area = match due.recipient_kind.as_str() {
        "avvocato" => (
            format!("{public_url}/{slug}/avvocati"),
            "Apri la sua area riservata".to_owned(),
        ),
        "richiedente" => (
            format!("{public_url}/{slug}/istanza/stato"),
            "Segui l'istanza con il codice e il PIN".to_owned(),
        ),
        _ => (
            format!("{public_url}/{slug}/accesso"),
            "Accedi al servizio".to_owned(),
        ),
    };
    let mut paragraphs = Vec::new();
    // The reminders, which are no event of the history.
    let reminder = match due.template.as_str() {
        "promemoria_integrazione" => Some((
            format!("Promemoria: integrazione entro il {until} – istanza {code}"),
            vec![
                format!("Il {until} scade il termine per integrare l'{reference}, come chiesto dal consigliere relatore."),
                "Senza l'integrazione nei termini l'istanza può essere dichiarata inammissibile. Se ha già risposto, ignori questo messaggio.".to_owned(),
            ],
        )),
        "termine_in_scadenza" => Some((
            format!("Termine per decidere in scadenza – istanza {code}"),
            vec![format!(
                "Il termine di dieci giorni per decidere sull'{reference} scade il {until} ({}).",
                note.unwrap_or("")
            )],
        )),
        _ => None,
    };
    if let Some((subject, paragraphs)) = reminder {
        return Text {
            subject,
            paragraphs,
            link: area,
        };
    }
    match kind {
        Some(EventKind::Submitted) => {
            paragraphs.push(format!(
                "Il {} ha ricevuto l'{reference}, di ammissione al patrocinio a spese dello Stato. La segreteria la registrerà nel protocollo; riceverà un messaggio a ogni passaggio.",
                tenant.name
            ));
            paragraphs.push("Conservi il codice dell'istanza e il PIN ricevuti alla presentazione: servono per seguirla e per rispondere a eventuali richieste. La ricevuta si scarica dalla pagina dell'istanza.".into());
        }
        Some(EventKind::IntegrationAnswered) => paragraphs.push(format!(
            "È arrivata la risposta alla richiesta di integrazione dell'{reference}: documenti e risposte sono nella pratica."
        )),
        Some(EventKind::Registered) => paragraphs.push(format!(
            "La segreteria ha registrato nel protocollo l'{reference}, di ammissione al patrocinio a spese dello Stato: ora è all'esame dell'Ordine. Riceverà un messaggio a ogni passaggio."
        )),
        Some(EventKind::IntegrationRequested) => {
            paragraphs.push(format!(
                "Il consigliere relatore chiede di integrare l'{reference}."
            ));
            if let Some(n) = note {
                paragraphs.push(format!("Che cosa serve: {n}."));
            }
            paragraphs.push(
                "Senza l'integrazione nei termini l'istanza può essere dichiarata inammissibile. Risponda dal collegamento qui sotto.".into(),
            );
        }
        Some(EventKind::Assigned | EventKind::Reassigned) => paragraphs.push(format!(
            "Le è stata assegnata, come consigliere relatore, l'{reference}. La trova nella sua coda di lavoro."
        )),
        Some(EventKind::Decided) => {
            paragraphs.push(format!("Il Consiglio ha deliberato sull'{reference}."));
            if let Some(n) = note {
                paragraphs.push(format!("{n}."));
            }
            paragraphs.push("La delibera sarà disponibile appena firmata: riceverà un altro messaggio.".into());
        }
        Some(EventKind::DecisionSigned) => {
            let number = p
                .pointer("/dettagli/delibera")
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned));
            paragraphs.push(match number {
                Some(n) => format!(
                    "La delibera n. {n} sull'{reference} è stata firmata digitalmente ed è disponibile."
                ),
                None => format!(
                    "La delibera sull'{reference} è stata firmata digitalmente ed è disponibile."
                ),
            });
        }
        _ => {
            paragraphs.push(format!("Aggiornamento sull'{reference}: {label}."));
            if let Some(n) = note {
                paragraphs.push(format!("{n}."));
            }
        }
    }
    Text {
        subject: match kind {
            Some(EventKind::Submitted) => format!("Istanza {code} ricevuta"),
            _ => format!("{label} – istanza {code}"),
        },
        paragraphs,
        link: area,
    }
}

/// A morning digest: the choosable notices of one recipient since the last one (new
/// assignments, answered integrations, protocol registrations).
pub fn digest_text(rows: &[&Due], tenant: &Tenant, public_url: &str) -> Text {
    let topic_of = |d: &Due| {
        Topic::ALL
            .into_iter()
            .find(|t| Topic::of(t.role(), &d.template) == Some(*t))
    };
    let topic = topic_of(rows[0]).filter(|t| rows.iter().all(|d| topic_of(d) == Some(*t)));
    let n = rows.len();
    let slug = tenant.slug.as_str();
    let (subject, intro, link) = match topic {
        Some(Topic::Assegnazioni) => (
            format!("Pratiche assegnate: {n}"),
            format!(
                "{}, come consigliere relatore, {}:",
                plural::word(n, "Le è stata assegnata", "Le sono state assegnate"),
                plural::count(n, "nuova pratica", "nuove pratiche")
            ),
            (
                format!("{public_url}/{slug}/consiglieri"),
                "Apri la coda di lavoro",
            ),
        ),
        Some(Topic::Integrazioni) => (
            format!("Integrazioni depositate: {n}"),
            format!(
                "{} {} a richieste di integrazione:",
                plural::word(n, "È arrivata", "Sono arrivate"),
                plural::count(n, "risposta", "risposte")
            ),
            (
                format!("{public_url}/{slug}/segreteria"),
                "Apri la bacheca della segreteria",
            ),
        ),
        Some(Topic::Protocollo) => (
            format!("Istanze registrate nel protocollo: {n}"),
            format!(
                "La segreteria ha registrato nel protocollo {}:",
                plural::count(n, "sua istanza", "sue istanze")
            ),
            (
                format!("{public_url}/{slug}/avvocati"),
                "Apri la sua area riservata",
            ),
        ),
        None => (
            format!("Riepilogo degli avvisi: {n}"),
            format!("Gli avvisi dall'ultimo riepilogo ({n}):"),
            (format!("{public_url}/{slug}/accesso"), "Accedi al servizio"),
        ),
    };
    let mut paragraphs = vec![intro];
    for d in rows {
        let code = field(&d.payload, &["codice"]).unwrap_or("");
        let mut line = match field(&d.payload, &["protocollo"])
            .or(field(&d.payload, &["dettagli", "protocollo"]))
        {
            Some(n) => format!("• istanza {code} (protocollo n. {n})"),
            None => format!("• istanza {code}"),
        };
        if topic.is_none() {
            let label =
                EventKind::from_code(&d.template).map_or(d.template.as_str(), |k| k.label());
            line.push_str(&format!(": {label}"));
        }
        paragraphs.push(line);
    }
    Text {
        subject,
        paragraphs,
        link: (link.0, link.1.into()),
    }
}

/// The whole message, ready for SMTP; `Err` when the recipient is not a valid address.
/// A file that goes with a message: (name, content type, bytes).
pub type File = (String, &'static str, Vec<u8>);

pub fn build(
    mailer: &Mailer,
    tenant: &Tenant,
    due: &Due,
    message_id: &str,
    from: &Mailbox,
    file: Option<File>,
) -> Result<Message, String> {
    let mut t = text(due, tenant, &mailer.public_url);
    if let Some((name, _, _)) = &file {
        t.paragraphs.push(format!(
            "La delibera firmata è allegata a questo messaggio ({name})."
        ));
    }
    compose(tenant, &due.recipient, t, message_id, from, file)
}

/// A message with several files (a periodic batch), which its text already names.
pub fn build_with_files(
    mailer: &Mailer,
    tenant: &Tenant,
    due: &Due,
    message_id: &str,
    from: &Mailbox,
    files: Vec<File>,
) -> Result<Message, String> {
    let t = text(due, tenant, &mailer.public_url);
    compose_files(tenant, &due.recipient, t, message_id, from, files)
}

/// A digest of several rows to one recipient.
pub fn build_digest(
    mailer: &Mailer,
    tenant: &Tenant,
    rows: &[&Due],
    message_id: &str,
    from: &Mailbox,
) -> Result<Message, String> {
    let t = digest_text(rows, tenant, &mailer.public_url);
    compose(tenant, &rows[0].recipient, t, message_id, from, None)
}

fn compose(
    tenant: &Tenant,
    recipient: &str,
    t: Text,
    message_id: &str,
    from: &Mailbox,
    file: Option<File>,
) -> Result<Message, String> {
    compose_files(
        tenant,
        recipient,
        t,
        message_id,
        from,
        file.into_iter().collect(),
    )
}

fn compose_files(
    tenant: &Tenant,
    recipient: &str,
    t: Text,
    message_id: &str,
    from: &Mailbox,
    files: Vec<File>,
) -> Result<Message, String> {
    let to: Mailbox = recipient
        .parse()
        .map_err(|_| "indirizzo del destinatario non valido".to_owned())?;
    let signature = [
        tenant.name.clone(),
        tenant
            .pec
            .as_deref()
            .map(|p| format!("PEC: {p}"))
            .unwrap_or_default(),
    ];
    let notice = "Messaggio inviato automaticamente dal servizio per il patrocinio a spese dello Stato: non rispondere a questo indirizzo.";
    let mut plain = t.paragraphs.join("\n\n");
    let (url, words) = &t.link;
    plain.push_str(&format!("\n\n{words}: {url}"));
    plain.push_str(&format!(
        "\n\n-- \n{}\n{}\n\n{notice}\n",
        signature[0], signature[1]
    ));
    let rich = html! {
        (maud::DOCTYPE)
        html lang="it" {
            head { meta charset="utf-8"; title { (t.subject) } }
            body style="font-family: 'Titillium Web', Geneva, Tahoma, sans-serif; color: #1a1a1a; line-height: 1.5" {
                @for paragraph in &t.paragraphs { p { (paragraph) } }
                p { a href=(url) style="color: #0066cc" { (words) } }
                hr;
                p { strong { (signature[0]) } br; (signature[1]) }
                p style="font-size: 0.875em; color: #555" { (notice) }
            }
        }
    };
    let mut builder = Message::builder()
        .message_id(Some(message_id.to_owned()))
        .from(from.clone())
        .to(to)
        .subject(t.subject);
    if let Some(pec) = tenant
        .pec
        .as_deref()
        .and_then(|p| p.parse::<Mailbox>().ok())
    {
        builder = builder.reply_to(pec);
    }
    let body = MultiPart::alternative_plain_html(plain, rich.into_string());
    let body = if files.is_empty() {
        body
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for (name, kind, bytes) in files {
            mixed = mixed.singlepart(Attachment::new(name).body(
                bytes,
                ContentType::parse(kind).map_err(|e| format!("allegato non valido: {e}"))?,
            ));
        }
        mixed
    };
    builder
        .multipart(body)
        .map_err(|e| format!("messaggio non componibile: {e}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use uuid::Uuid;

    use super::*;
    use crate::{domain::tenant::TenantId, store::tenants::TenantSettings};

    fn tenant() -> Tenant {
        Tenant {
            id: TenantId(Uuid::nil()),
            slug: "vallenera".into(),
            name: "Consiglio dell'Ordine degli Avvocati di Vallenera".into(),
            pec: Some("ordine@pec.example.it".into()),
            settings: TenantSettings::default(),
            created_at: chrono::Utc::now(),
        }
    }

    fn due(template: &str, kind: &str, payload: Value) -> Due {
        Due {
            id: 1,
            recipient: "avv.bianchi@example.it".into(),
            recipient_kind: kind.into(),
            template: template.into(),
            payload,
            attempts: 0,
            application_id: None,
            digest: false,
            via_pec: false,
        }
    }

    #[test]
    fn an_integration_request_says_what_is_needed_and_where_to_answer() {
        let t = text(
            &due(
                "integrazione_richiesta",
                "avvocato",
                json!({ "codice": "ABCD-EFGH", "protocollo": "2026/0000012",
                        "dettagli": { "nota": "Entro il 10/12/2026: dichiarazione dei redditi" } }),
            ),
            &tenant(),
            "https://patrocinio.example.it",
        );
        assert_eq!(t.subject, "Richiesta di integrazione – istanza ABCD-EFGH");
        let all = t.paragraphs.join(" ");
        assert!(all.contains("l'istanza ABCD-EFGH (protocollo n. 2026/0000012)"));
        assert!(all.contains("Che cosa serve: Entro il 10/12/2026: dichiarazione dei redditi."));
        assert_eq!(t.link.0, "https://patrocinio.example.it/vallenera/avvocati");
    }

    #[test]
    fn the_signed_delibera_gives_its_number_and_the_applicant_the_status_page() {
        let t = text(
            &due(
                "delibera_firmata",
                "richiedente",
                json!({ "codice": "ABCD-EFGH", "dettagli": { "delibera": "2026/15" } }),
            ),
            &tenant(),
            "https://patrocinio.example.it",
        );
        assert!(t.paragraphs[0].starts_with("La delibera n. 2026/15 sull'istanza ABCD-EFGH"));
        assert_eq!(
            t.link.0,
            "https://patrocinio.example.it/vallenera/istanza/stato"
        );
    }
}
