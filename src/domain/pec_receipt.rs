//! PEC receipts (RFC 6109; DM 2 novembre 2005, regole tecniche): what a message read from the
//! Ordine's PEC mailbox says, and how it moves the transmission of one recipient.
//!
//! A provider's receipt is a signed message (multipart/signed, S/MIME) with the headers
//! `X-Ricevuta` (its kind) and `X-Riferimento-Message-ID` (the Message-ID of the message it is
//! about), and a `daticert.xml` attachment whose `postacert/@tipo`, `dati/msgid`,
//! `dati/consegna` (the recipient, on delivery receipts) and `dati/errore-esteso` say the same
//! in a form meant for machines. Parsing is bounded: the parts walked, their nesting and the
//! size of `daticert.xml`.

use mailparse::{MailHeaderMap, ParsedMail};

use super::transmission::State;

/// The largest receipt kept (the whole .eml): a complete delivery receipt carries the
/// original message, our delibera (a few hundred KiB) included; 16 MiB leaves room.
pub const MAX_RECEIPT_BYTES: usize = 16 * 1024 * 1024;
/// MIME parts walked in one message, at most (a receipt has five or six).
const MAX_PARTS: usize = 64;
/// Nesting of MIME parts, at most (signed → mixed → alternative → ...).
const MAX_DEPTH: usize = 8;
/// The largest `daticert.xml` read (a real one is about 1 KiB).
const MAX_DATICERT_BYTES: usize = 64 * 1024;
/// Text kept of one field (an address, an error, an identifier).
const MAX_FIELD: usize = 500;

/// The kinds of receipt and notice (`X-Ricevuta`, `postacert/@tipo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The sender's provider took the message.
    Accettazione,
    /// The sender's provider refused it (a virus, a wrong format, too large).
    NonAccettazione,
    /// The recipient's provider took charge of it (between providers).
    PresaInCarico,
    /// Delivered into the recipient's mailbox (one per recipient).
    AvvenutaConsegna,
    /// Not delivered to this recipient.
    ErroreConsegna,
    /// No delivery receipt within 12 hours: probably not delivered.
    PreavvisoErroreConsegna,
    /// A virus found by the recipient's provider: not delivered.
    RilevazioneVirus,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Accettazione,
        Kind::NonAccettazione,
        Kind::PresaInCarico,
        Kind::AvvenutaConsegna,
        Kind::ErroreConsegna,
        Kind::PreavvisoErroreConsegna,
        Kind::RilevazioneVirus,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Kind::Accettazione => "accettazione",
            Kind::NonAccettazione => "non-accettazione",
            Kind::PresaInCarico => "presa-in-carico",
            Kind::AvvenutaConsegna => "avvenuta-consegna",
            Kind::ErroreConsegna => "errore-consegna",
            Kind::PreavvisoErroreConsegna => "preavviso-errore-consegna",
            Kind::RilevazioneVirus => "rilevazione-virus",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        let code = code.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::Accettazione => "Ricevuta di accettazione",
            Kind::NonAccettazione => "Avviso di non accettazione",
            Kind::PresaInCarico => "Ricevuta di presa in carico",
            Kind::AvvenutaConsegna => "Ricevuta di avvenuta consegna",
            Kind::ErroreConsegna => "Avviso di mancata consegna",
            Kind::PreavvisoErroreConsegna => "Preavviso di mancata consegna",
            Kind::RilevazioneVirus => "Avviso di rilevazione di virus",
        }
    }

    /// Whether it is about one recipient (`dati/consegna`) rather than the whole message.
    pub fn per_recipient(self) -> bool {
        matches!(
            self,
            Kind::AvvenutaConsegna
                | Kind::ErroreConsegna
                | Kind::PreavvisoErroreConsegna
                | Kind::RilevazioneVirus
        )
    }

    /// The state it brings a transmission to, if any.
    fn target(self) -> Option<State> {
        match self {
            Kind::Accettazione => Some(State::Accepted),
            Kind::AvvenutaConsegna => Some(State::Delivered),
            Kind::NonAccettazione
            | Kind::ErroreConsegna
            | Kind::PreavvisoErroreConsegna
            | Kind::RilevazioneVirus => Some(State::NotDelivered),
            Kind::PresaInCarico => None,
        }
    }
}

/// The state a receipt moves a transmission to, or `None` when it changes nothing: a copy of
/// a receipt already read, a receipt arriving after a later one (an acceptance after the
/// delivery), or a transmission that did not leave by message. Delivery is final; a delivery
/// receipt after a warning of non-delivery (the provider's 12-hour notice) wins over it.
pub fn transition(current: State, kind: Kind) -> Option<State> {
    let target = kind.target()?;
    match (current, target) {
        (State::Waiting | State::HandedToApplicant, _) => None,
        (State::Delivered, _) => None,
        (State::Queued, t) => Some(t),
        (State::Accepted, State::Delivered | State::NotDelivered) => Some(target),
        (State::NotDelivered, State::Delivered) => Some(State::Delivered),
        _ => None,
    }
}

/// A receipt as read from the mailbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub kind: Kind,
    /// The receipt's own Message-ID (or, when it has none, a stand-in made from its SHA-256).
    pub message_id: String,
    /// The Message-ID of the message it is about, `<...>` included.
    pub refers_to: Option<String>,
    /// The recipient it is about (delivery receipts).
    pub recipient: Option<String>,
    /// Why it was not delivered, in the provider's words.
    pub error: Option<String>,
    /// The provider's identifier of the message.
    pub provider_id: Option<String>,
    pub subject: Option<String>,
}

/// Why a message is not a receipt we can keep.
#[derive(Debug, PartialEq, Eq)]
pub enum NotAReceipt {
    TooLarge,
    Unparsable,
    /// An ordinary message (a PEC envelope, a newsletter): no receipt headers, no daticert.xml.
    NoReceipt,
}

/// Reads a message from the mailbox; `sha256` (hex) names it when it has no Message-ID.
pub fn parse(raw: &[u8], sha256: &str) -> Result<Receipt, NotAReceipt> {
    if raw.len() > MAX_RECEIPT_BYTES {
        return Err(NotAReceipt::TooLarge);
    }
    let mail = mailparse::parse_mail(raw).map_err(|_| NotAReceipt::Unparsable)?;
    let header = |name: &str| {
        mail.headers
            .get_first_value(name)
            .map(|v| bounded(v.trim()))
            .filter(|v| !v.is_empty())
    };
    let cert = daticert(&mail).and_then(|xml| Daticert::parse(&xml));
    let kind = header("X-Ricevuta")
        .and_then(|k| Kind::from_code(&k))
        .or_else(|| cert.as_ref().and_then(|c| c.kind));
    let Some(kind) = kind else {
        return Err(NotAReceipt::NoReceipt);
    };
    let cert = cert.unwrap_or_default();
    let refers_to = header("X-Riferimento-Message-ID")
        .or(cert.msgid.clone())
        .map(|m| angle(&m));
    let message_id = header("Message-ID")
        .map(|m| angle(&m))
        .unwrap_or_else(|| format!("<sha256.{sha256}@ricevuta>"));
    let error = cert.error_text();
    Ok(Receipt {
        kind,
        message_id,
        refers_to,
        recipient: cert.recipient.map(|r| r.to_lowercase()),
        error,
        provider_id: cert.identificativo,
        subject: header("Subject"),
    })
}

/// `<id>` as Message-IDs are compared (providers quote them with or without the brackets).
fn angle(id: &str) -> String {
    let bare = id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim();
    format!("<{bare}>")
}

fn bounded(s: &str) -> String {
    s.chars().take(MAX_FIELD).collect()
}

/// The text of the first `daticert.xml` part, walking at most [`MAX_PARTS`] parts and
/// [`MAX_DEPTH`] levels.
fn daticert(mail: &ParsedMail<'_>) -> Option<String> {
    let mut stack: Vec<(&ParsedMail<'_>, usize)> = vec![(mail, 0)];
    let mut walked = 0;
    while let Some((part, depth)) = stack.pop() {
        walked += 1;
        if walked > MAX_PARTS {
            return None;
        }
        let disposition = part.get_content_disposition();
        let name = disposition
            .params
            .get("filename")
            .or_else(|| part.ctype.params.get("name"));
        if name.is_some_and(|n| n.eq_ignore_ascii_case("daticert.xml")) {
            let body = part.get_body_raw().ok()?;
            if body.len() > MAX_DATICERT_BYTES {
                return None;
            }
            return String::from_utf8(body).ok();
        }
        if depth < MAX_DEPTH {
            for sub in part.subparts.iter().rev() {
                stack.push((sub, depth + 1));
            }
        }
    }
    None
}

/// What `daticert.xml` says.
#[derive(Debug, Default)]
struct Daticert {
    kind: Option<Kind>,
    /// `postacert/@errore`: nessuno, no-dest, no-dominio, virus, altro.
    errore: Option<String>,
    msgid: Option<String>,
    recipient: Option<String>,
    errore_esteso: Option<String>,
    identificativo: Option<String>,
}

impl Daticert {
    fn parse(xml: &str) -> Option<Self> {
        // roxmltree refuses DTDs by default (no entity expansion).
        let doc = roxmltree::Document::parse(xml).ok()?;
        let root = doc.root_element();
        if root.tag_name().name() != "postacert" {
            return None;
        }
        let dati = root.children().find(|n| n.has_tag_name("dati"));
        let text = |name: &str| {
            dati.and_then(|d| d.children().find(|n| n.has_tag_name(name)))
                .and_then(|n| n.text())
                .map(|t| bounded(t.trim()))
                .filter(|t| !t.is_empty())
        };
        Some(Self {
            kind: root.attribute("tipo").and_then(Kind::from_code),
            errore: root
                .attribute("errore")
                .map(bounded)
                .filter(|e| e != "nessuno"),
            msgid: text("msgid"),
            recipient: text("consegna"),
            errore_esteso: text("errore-esteso"),
            identificativo: text("identificativo"),
        })
    }

    /// The reason in words: the provider's own, else what the error code means.
    fn error_text(&self) -> Option<String> {
        if let Some(e) = &self.errore_esteso {
            return Some(e.clone());
        }
        self.errore.as_deref().map(|e| {
            match e {
                "no-dest" => "destinatario sconosciuto",
                "no-dominio" => "dominio del destinatario inesistente",
                "virus" => "virus rilevato nel messaggio",
                _ => "errore non specificato dal gestore",
            }
            .to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(kind: &str, header: bool, recipient: &str, errore: &str, extra: &str) -> Vec<u8> {
        let daticert = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<postacert tipo="{kind}" errore="{errore}">
  <intestazione><mittente>segreteria@pec.ordine.example.it</mittente>
    <destinatari tipo="certificato">{recipient}</destinatari>
    <oggetto>Delibera</oggetto></intestazione>
  <dati><gestore-emittente>Gestore di prova</gestore-emittente>
    <data zona="+0100"><giorno>01/12/2026</giorno><ora>10:00:00</ora></data>
    <identificativo>opec21.20261201.1@pec.example.it</identificativo>
    <msgid>&lt;avviso-7.abc@patrocinio.example.it&gt;</msgid>
    <consegna>{recipient}</consegna>{extra}
  </dati>
</postacert>"#
        );
        let x = if header {
            format!(
                "X-Ricevuta: {kind}\r\nX-Riferimento-Message-ID: <avviso-7.abc@patrocinio.example.it>\r\n"
            )
        } else {
            String::new()
        };
        format!(
            "Message-ID: <r1@pec.example.it>\r\nSubject: CONSEGNA: Delibera\r\n{x}MIME-Version: 1.0\r\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256; boundary=\"S\"\r\n\r\n--S\r\nContent-Type: multipart/mixed; boundary=\"M\"\r\n\r\n--M\r\nContent-Type: text/plain\r\n\r\nRicevuta\r\n--M\r\nContent-Type: application/xml; name=\"daticert.xml\"\r\nContent-Disposition: attachment; filename=\"daticert.xml\"\r\n\r\n{daticert}\r\n--M--\r\n--S\r\nContent-Type: application/pkcs7-signature; name=\"smime.p7s\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA\r\n--S--\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn a_delivery_receipt_names_its_message_and_recipient() {
        let r = parse(
            &receipt(
                "avvenuta-consegna",
                true,
                "Avv@Pec.Example.it",
                "nessuno",
                "",
            ),
            "00",
        )
        .unwrap();
        assert_eq!(r.kind, Kind::AvvenutaConsegna);
        assert_eq!(r.message_id, "<r1@pec.example.it>");
        assert_eq!(
            r.refers_to.as_deref(),
            Some("<avviso-7.abc@patrocinio.example.it>")
        );
        assert_eq!(r.recipient.as_deref(), Some("avv@pec.example.it"));
        assert_eq!(r.error, None);
        assert_eq!(
            r.provider_id.as_deref(),
            Some("opec21.20261201.1@pec.example.it")
        );
    }

    #[test]
    fn without_the_headers_daticert_says_it_and_the_error_is_kept() {
        let r = parse(
            &receipt(
                "errore-consegna",
                false,
                "x@pec.example.it",
                "no-dest",
                "<errore-esteso>5.1.1 - casella inesistente</errore-esteso>",
            ),
            "00",
        )
        .unwrap();
        assert_eq!(r.kind, Kind::ErroreConsegna);
        assert_eq!(
            r.refers_to.as_deref(),
            Some("<avviso-7.abc@patrocinio.example.it>")
        );
        assert_eq!(r.error.as_deref(), Some("5.1.1 - casella inesistente"));
        let r = parse(
            &receipt("errore-consegna", false, "x@pec.example.it", "no-dest", ""),
            "00",
        )
        .unwrap();
        assert_eq!(r.error.as_deref(), Some("destinatario sconosciuto"));
    }

    #[test]
    fn an_ordinary_message_is_no_receipt() {
        let raw = b"Message-ID: <a@b>\r\nSubject: ciao\r\n\r\ntesto\r\n";
        assert_eq!(parse(raw, "00"), Err(NotAReceipt::NoReceipt));
        let big = vec![b'a'; MAX_RECEIPT_BYTES + 1];
        assert_eq!(parse(&big, "00"), Err(NotAReceipt::TooLarge));
    }

    #[test]
    fn receipts_move_a_transmission_forward_only() {
        use Kind::*;
        use State::*;
        assert_eq!(transition(Queued, Accettazione), Some(Accepted));
        assert_eq!(transition(Accepted, AvvenutaConsegna), Some(Delivered));
        assert_eq!(transition(Queued, AvvenutaConsegna), Some(Delivered));
        assert_eq!(transition(Accepted, ErroreConsegna), Some(NotDelivered));
        assert_eq!(transition(Queued, NonAccettazione), Some(NotDelivered));
        assert_eq!(transition(NotDelivered, AvvenutaConsegna), Some(Delivered));
        // The same receipt again, a late acceptance, a notice after delivery: nothing.
        assert_eq!(transition(Accepted, Accettazione), None);
        assert_eq!(transition(Delivered, AvvenutaConsegna), None);
        assert_eq!(transition(Delivered, Accettazione), None);
        assert_eq!(transition(Delivered, PreavvisoErroreConsegna), None);
        assert_eq!(transition(NotDelivered, ErroreConsegna), None);
        assert_eq!(transition(NotDelivered, Accettazione), None);
        assert_eq!(transition(Queued, PresaInCarico), None);
        assert_eq!(transition(Waiting, Accettazione), None);
        assert_eq!(transition(HandedToApplicant, AvvenutaConsegna), None);
        for k in Kind::ALL {
            assert_eq!(Kind::from_code(k.code()), Some(k));
        }
    }
}
