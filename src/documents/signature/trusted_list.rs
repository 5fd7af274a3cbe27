//! Trusted lists (ETSI TS 119 612): the EU List of Trusted Lists (LOTL) and the national lists it
//! points to, read into plain data.
//!
//! This module only reads the XML ([`parse`]) and decides whether a list may replace the one in
//! force ([`accept`]); the XML signature is checked by [`super::xmldsig`], the storage is
//! `crate::store::trust`. What is kept of each trust service is what qualification needs
//! (ETSI TS 119 615): its certificates (the trust anchors), and its status history — every
//! `ServiceHistoryInstance` plus the current status, each with its type, status, starting time
//! and the qualifiers of its `Qualifications` extension — because a signature is judged against
//! the status at its signing time.

use base64::Engine as _;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// `TSLType` of the EU List of Trusted Lists.
pub const LOTL_TYPE: &str = "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUlistofthelists";
/// `TSLType` of an EU member state's list.
pub const EU_GENERIC_TYPE: &str = "http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric";
/// A CA issuing qualified certificates.
pub const CA_QC: &str = "http://uri.etsi.org/TrstSvc/Svctype/CA/QC";
/// Namespace of ETSI TS 119 612 lists.
pub const TSL_NS: &str = "http://uri.etsi.org/02231/v2#";
pub const STATUS_PREFIX: &str = "http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/";
pub const QUALIFIER_PREFIX: &str = "http://uri.etsi.org/TrstSvc/TrustedList/SvcInfoExt/";

/// Largest list accepted (the Italian list is about 2 MB; the LOTL well under 1 MB).
pub const MAX_LIST_BYTES: usize = 32 * 1024 * 1024;
/// Most services (current plus history) read from one list.
const MAX_SERVICES: usize = 20_000;

/// A list as read, before or after its signature was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedList {
    pub tsl_type: String,
    /// `SchemeTerritory`: `EU` for the LOTL, `IT` for Italy.
    pub territory: String,
    pub sequence_number: i64,
    pub issued_at: DateTime<Utc>,
    /// `None` for a closed list (no further update announced).
    pub next_update: Option<DateTime<Utc>>,
    /// Pointers to other lists (the LOTL's pointers to the national lists).
    pub pointers: Vec<Pointer>,
    pub services: Vec<TrustService>,
}

impl TrustedList {
    pub fn is_lotl(&self) -> bool {
        self.tsl_type == LOTL_TYPE
    }
}

/// `OtherTSLPointer`: where a list is published and which certificates may sign it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pointer {
    pub territory: String,
    pub tsl_type: String,
    pub location: String,
    /// DER of each X.509 certificate of its `ServiceDigitalIdentities`.
    pub certificates: Vec<Vec<u8>>,
}

/// One `TSPService`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustService {
    /// The provider's name (`TSPName`, English when given).
    pub provider: String,
    pub name: String,
    /// DER of each X.509 certificate of the current `ServiceDigitalIdentity`.
    pub certificates: Vec<Vec<u8>>,
    /// The history and the current status, oldest first (the current one last among those
    /// starting at the same time).
    pub history: Vec<StatusPeriod>,
}

/// A status that holds from `starts_at` until the next period of the same service starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPeriod {
    pub starts_at: DateTime<Utc>,
    pub service_type: String,
    pub status: String,
    pub qualifiers: Vec<Qualifier>,
    /// `AdditionalServiceInformation` URIs (`ForeSignatures`, `ForeSeals`, ...).
    pub additional: Vec<String>,
}

/// A qualifier of the `Qualifications` extension (e.g. `QCWithQSCD`), with the certificate
/// policies its `CriteriaList` names (other criteria are not evaluated: see `qualified.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Qualifier {
    pub uri: String,
    /// Dotted OIDs of the `PolicySet` criteria.
    pub policies: Vec<String>,
    /// `assert="all"`: every policy must be in the certificate (otherwise at least one).
    pub all: bool,
    /// The criteria include kinds that are not policies (key usage, ...).
    pub other_criteria: bool,
}

/// Why a list is refused. The Display text is printed by the command line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("il file non è un elenco di fiducia leggibile (XML ETSI TS 119 612): {0}")]
    NotAList(String),
    #[error("l'elenco non è firmato: un elenco senza firma non può essere importato")]
    Unsigned,
    #[error(
        "la firma dell'elenco non è valida (il file è stato modificato dopo la firma o è firmato in modo non ammesso): {0}"
    )]
    BadSignature(String),
    #[error(
        "l'elenco non è firmato con uno dei certificati attesi ({0}): non può essere importato"
    )]
    UnknownSigner(String),
    #[error("l'elenco è scaduto: il successivo aggiornamento era previsto per il {0}")]
    Expired(String),
    #[error(
        "l'elenco ha numero di sequenza {new}, più vecchio di quello in vigore ({current}): non sostituisce l'elenco in vigore"
    )]
    Older { new: i64, current: i64 },
    #[error(
        "per importare l'elenco nazionale {0} serve prima l'elenco europeo degli elenchi (LOTL): importare prima quello"
    )]
    NoLotl(String),
    #[error("la LOTL in vigore non indica alcun elenco per il territorio {0}")]
    NotPointed(String),
    #[error(
        "nessun certificato della LOTL configurato: indicare in PATROCINIO_LOTL_CERTS il file PEM dei certificati pubblicati nella Gazzetta ufficiale dell'UE"
    )]
    NoPinnedCertificates,
    #[error("verifica della firma non eseguibile: {0}")]
    Tool(String),
}

/// Reads a list. Refuses DTDs (no entity expansion), and lists without territory, sequence
/// number or issue time.
pub fn parse(xml: &[u8]) -> Result<TrustedList, ListError> {
    if xml.len() > MAX_LIST_BYTES {
        return Err(ListError::NotAList("file troppo grande".into()));
    }
    let text = std::str::from_utf8(xml).map_err(|_| ListError::NotAList("non è UTF-8".into()))?;
    let doc = roxmltree::Document::parse(text).map_err(|e| ListError::NotAList(e.to_string()))?;
    let root = doc.root_element();
    if root.tag_name().name() != "TrustServiceStatusList"
        || root.tag_name().namespace() != Some(TSL_NS)
    {
        return Err(ListError::NotAList(
            "l'elemento radice non è TrustServiceStatusList".into(),
        ));
    }
    let scheme = child(root, "SchemeInformation")
        .ok_or_else(|| ListError::NotAList("manca SchemeInformation".into()))?;
    let tsl_type = child_text(scheme, "TSLType").unwrap_or_default();
    let territory = child_text(scheme, "SchemeTerritory")
        .map(|t| t.to_ascii_uppercase())
        .filter(|t| t.len() == 2 && t.bytes().all(|b| b.is_ascii_uppercase()))
        .ok_or_else(|| ListError::NotAList("manca SchemeTerritory".into()))?;
    let sequence_number = child_text(scheme, "TSLSequenceNumber")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| ListError::NotAList("manca TSLSequenceNumber".into()))?;
    let issued_at = child_text(scheme, "ListIssueDateTime")
        .and_then(|t| parse_time(&t))
        .ok_or_else(|| ListError::NotAList("manca ListIssueDateTime".into()))?;
    let next_update = match child(scheme, "NextUpdate") {
        Some(n) => match child_text(n, "dateTime") {
            Some(t) => Some(
                parse_time(&t)
                    .ok_or_else(|| ListError::NotAList("NextUpdate illeggibile".into()))?,
            ),
            None => None,
        },
        None => None,
    };
    let pointers = child(scheme, "PointersToOtherTSL")
        .map(|p| children(p, "OtherTSLPointer").map(pointer).collect())
        .unwrap_or_default();

    let mut services = Vec::new();
    let mut periods = 0usize;
    if let Some(list) = child(root, "TrustServiceProviderList") {
        for tsp in children(list, "TrustServiceProvider") {
            let provider = child(tsp, "TSPInformation")
                .and_then(|info| child(info, "TSPName"))
                .map(name_of)
                .unwrap_or_default();
            let Some(tsp_services) = child(tsp, "TSPServices") else {
                continue;
            };
            for service in children(tsp_services, "TSPService") {
                let Some(info) = child(service, "ServiceInformation") else {
                    continue;
                };
                let Some(current) = period(info) else {
                    continue;
                };
                let mut history: Vec<StatusPeriod> = child(service, "ServiceHistory")
                    .map(|h| {
                        children(h, "ServiceHistoryInstance")
                            .filter_map(period)
                            .collect()
                    })
                    .unwrap_or_default();
                // Oldest first; on equal starting times the current status comes last, so
                // that it is the one in force (see `qualified::period_at`).
                history.push(current);
                history.sort_by_key(|p| p.starts_at);
                periods += history.len();
                if periods > MAX_SERVICES {
                    return Err(ListError::NotAList("troppi servizi".into()));
                }
                services.push(TrustService {
                    provider: provider.clone(),
                    name: child(info, "ServiceName").map(name_of).unwrap_or_default(),
                    certificates: child(info, "ServiceDigitalIdentity")
                        .map(certificates)
                        .unwrap_or_default(),
                    history,
                });
            }
        }
    }
    Ok(TrustedList {
        tsl_type,
        territory,
        sequence_number,
        issued_at,
        next_update,
        pointers,
        services,
    })
}

/// Whether `list` may replace the list in force for its territory (`current_sequence`, if
/// any), at `now`: not expired, not older than the one in force. The signature is checked
/// apart.
pub fn accept(
    list: &TrustedList,
    current_sequence: Option<i64>,
    now: DateTime<Utc>,
) -> Result<(), ListError> {
    if let Some(next) = list.next_update
        && next < now
    {
        return Err(ListError::Expired(crate::domain::time::format_date_time(
            next,
        )));
    }
    if let Some(current) = current_sequence
        && list.sequence_number < current
    {
        return Err(ListError::Older {
            new: list.sequence_number,
            current,
        });
    }
    Ok(())
}

/// The index keys of a service certificate: SHA-256 of its subject (DER), its subject key
/// identifier (hex). The certificates it issued are looked up by their issuer name and
/// authority key identifier (`qualified::lookup_keys`).
pub fn index_keys(der: &[u8]) -> Option<(String, Option<String>)> {
    let cert = openssl::x509::X509::from_der(der).ok()?;
    let subject = cert.subject_name().to_der().ok()?;
    Some((
        hex::encode(openssl::sha::sha256(&subject)),
        cert.subject_key_id().map(|id| hex::encode(id.as_slice())),
    ))
}

fn is(node: &roxmltree::Node<'_, '_>, name: &str) -> bool {
    node.is_element() && node.tag_name().name() == name
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| is(c, name))
}

fn children<'a, 'i: 'a>(
    node: roxmltree::Node<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = roxmltree::Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is(c, name))
}

fn text(node: roxmltree::Node<'_, '_>) -> String {
    node.text().unwrap_or_default().trim().to_owned()
}

fn child_text(node: roxmltree::Node<'_, '_>, name: &str) -> Option<String> {
    child(node, name).map(text).filter(|t| !t.is_empty())
}

/// The English `Name` of a multilingual name, else the first.
fn name_of(node: roxmltree::Node<'_, '_>) -> String {
    let names: Vec<_> = children(node, "Name").collect();
    names
        .iter()
        .find(|n| n.attribute(("http://www.w3.org/XML/1998/namespace", "lang")) == Some("en"))
        .or(names.first())
        .map(|n| text(*n))
        .unwrap_or_default()
}

/// xs:dateTime, with or without a zone (UTC when absent).
fn parse_time(t: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// The DER of every `X509Certificate` under the `DigitalId`s of `identity`.
fn certificates(identity: roxmltree::Node<'_, '_>) -> Vec<Vec<u8>> {
    children(identity, "DigitalId")
        .filter_map(|id| child(id, "X509Certificate"))
        .filter_map(|c| {
            let b64: String = c
                .text()
                .unwrap_or_default()
                .chars()
                .filter(|ch| !ch.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD.decode(b64).ok()
        })
        .collect()
}

fn pointer(node: roxmltree::Node<'_, '_>) -> Pointer {
    let mut certs = Vec::new();
    if let Some(ids) = child(node, "ServiceDigitalIdentities") {
        for id in children(ids, "ServiceDigitalIdentity") {
            certs.extend(certificates(id));
        }
    }
    let mut territory = String::new();
    let mut tsl_type = String::new();
    if let Some(info) = child(node, "AdditionalInformation") {
        for other in children(info, "OtherInformation") {
            if let Some(t) = child_text(other, "SchemeTerritory") {
                territory = t.to_ascii_uppercase();
            }
            if let Some(t) = child_text(other, "TSLType") {
                tsl_type = t;
            }
        }
    }
    Pointer {
        territory,
        tsl_type,
        location: child_text(node, "TSLLocation").unwrap_or_default(),
        certificates: certs,
    }
}

/// A `ServiceInformation` or `ServiceHistoryInstance`.
fn period(node: roxmltree::Node<'_, '_>) -> Option<StatusPeriod> {
    let mut qualifiers = Vec::new();
    let mut additional = Vec::new();
    if let Some(extensions) = child(node, "ServiceInformationExtensions") {
        for ext in children(extensions, "Extension") {
            for item in ext.children().filter(|c| c.is_element()) {
                match item.tag_name().name() {
                    "AdditionalServiceInformation" => {
                        if let Some(uri) = child_text(item, "URI") {
                            additional.push(uri);
                        }
                    }
                    "Qualifications" => {
                        for element in children(item, "QualificationElement") {
                            qualifiers.extend(qualification(element));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    Some(StatusPeriod {
        starts_at: parse_time(&child_text(node, "StatusStartingTime")?)?,
        service_type: child_text(node, "ServiceTypeIdentifier")?,
        status: child_text(node, "ServiceStatus")?,
        qualifiers,
        additional,
    })
}

fn qualification(element: roxmltree::Node<'_, '_>) -> Vec<Qualifier> {
    let mut policies = Vec::new();
    let mut all = false;
    let mut other_criteria = false;
    if let Some(criteria) = child(element, "CriteriaList") {
        all = criteria.attribute("assert") == Some("all");
        for c in criteria.children().filter(|c| c.is_element()) {
            match c.tag_name().name() {
                "PolicySet" => {
                    for id in children(c, "PolicyIdentifier") {
                        if let Some(oid) = child_text(id, "Identifier") {
                            let oid = oid
                                .strip_prefix("urn:oid:")
                                .unwrap_or(&oid)
                                .trim()
                                .to_owned();
                            policies.push(oid);
                        }
                    }
                }
                "Description" => {}
                _ => other_criteria = true,
            }
        }
    }
    child(element, "Qualifiers")
        .map(|q| {
            children(q, "Qualifier")
                .filter_map(|q| q.attribute("uri"))
                .map(|uri| Qualifier {
                    uri: uri.trim().to_owned(),
                    policies: policies.clone(),
                    all,
                    other_criteria,
                })
                .collect()
        })
        .unwrap_or_default()
}
