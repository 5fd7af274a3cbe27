//! The XML signature (XML-DSig / XAdES enveloped) of a trusted list, checked with the `xmlsec1`
//! command (Debian package `xmlsec1`).
//!
//! Why a command and not a crate: XML-DSig verification is mostly XML canonicalisation, which
//! is where signature-wrapping bugs live; xmlsec1 (libxmlsec1 over OpenSSL, the library the
//! service already trusts for CMS) is the maintained, widely deployed implementation. The Rust
//! options are either bindings to the same library that need its development headers and
//! bindgen at build time, or young pure-Rust implementations without a track record. A list
//! is imported a few times a day at most, so a process per check costs nothing.
//!
//! xmlsec1 is given only what it must check; the rest is decided here, on the same bytes:
//! - the document has no DTD (the parser refuses one), exactly one `ds:Signature`, child of the
//!   root element;
//! - one `Reference` has `URI=""` with the enveloped-signature transform and otherwise only
//!   canonicalisation transforms, so the signature covers the whole list (no XPath or XSLT
//!   filter can leave a part out); any other reference points inside the signature itself
//!   (XAdES `SignedProperties`);
//! - xmlsec1 runs with `--enabled-reference-uris empty,same-doc` and with the key data of the
//!   document's `KeyInfo` disabled (`--enabled-key-data rsa,ecdsa`): the only key it has is
//!   the one of the expected certificate given on the command line, one at a time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use openssl::x509::X509;

use super::trusted_list::ListError;

const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const CANONICALISATIONS: &[&str] = &[
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
];
/// Most certificates tried for one list.
const MAX_CANDIDATES: usize = 20;
/// Longest wait for one run of xmlsec1.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Checks the signature of `xml` against the expected certificates (DER); returns the one
/// whose key verified it.
pub fn verify(xml: &[u8], expected: &[Vec<u8>]) -> Result<Vec<u8>, ListError> {
    let key_info_cert = check_structure(xml)?;
    let mut candidates: Vec<&Vec<u8>> = expected.iter().take(MAX_CANDIDATES).collect();
    // The certificate the signature names, if expected, first.
    if let Some(named) = &key_info_cert {
        candidates.sort_by_key(|c| *c != named);
    }
    if candidates.is_empty() {
        return Err(ListError::UnknownSigner(
            "nessun certificato atteso per questo elenco".into(),
        ));
    }
    let dir = TempDir::new()?;
    let list = dir.path.join("list.xml");
    std::fs::write(&list, xml).map_err(|e| ListError::Tool(e.to_string()))?;
    let mut last_error = String::new();
    for cert in candidates {
        let pem = X509::from_der(cert)
            .and_then(|c| c.to_pem())
            .map_err(|_| ListError::Tool("certificato atteso illeggibile".into()))?;
        let cert_path = dir.path.join("expected.pem");
        std::fs::write(&cert_path, pem).map_err(|e| ListError::Tool(e.to_string()))?;
        match run_xmlsec(&list, &cert_path)? {
            Ok(()) => return Ok(cert.clone()),
            Err(message) => last_error = message,
        }
    }
    match key_info_cert {
        Some(named) if !expected.contains(&named) => {
            Err(ListError::UnknownSigner(describe_certificate(&named)))
        }
        _ => Err(ListError::BadSignature(last_error)),
    }
}

/// Subject and SHA-256 of a certificate, for messages.
pub fn describe_certificate(der: &[u8]) -> String {
    let sha = hex::encode(openssl::sha::sha256(der));
    match X509::from_der(der) {
        Ok(c) => {
            let cn = c
                .subject_name()
                .entries_by_nid(openssl::nid::Nid::COMMONNAME)
                .next()
                .and_then(|e| e.data().to_string().ok())
                .unwrap_or_default();
            format!("{cn}, SHA-256 {sha}")
        }
        Err(_) => format!("SHA-256 {sha}"),
    }
}

/// The structural rules of the module documentation; returns the certificate of `KeyInfo`.
fn check_structure(xml: &[u8]) -> Result<Option<Vec<u8>>, ListError> {
    let text = std::str::from_utf8(xml).map_err(|_| ListError::NotAList("non è UTF-8".into()))?;
    let doc = roxmltree::Document::parse(text).map_err(|e| ListError::NotAList(e.to_string()))?;
    let root = doc.root_element();
    let is_ds = |n: &roxmltree::Node<'_, '_>, name: &str| {
        n.is_element() && n.tag_name().name() == name && n.tag_name().namespace() == Some(DS_NS)
    };
    let signatures: Vec<_> = doc
        .descendants()
        .filter(|n| is_ds(n, "Signature"))
        .collect();
    let signature = match signatures.as_slice() {
        [] => return Err(ListError::Unsigned),
        [one] => *one,
        _ => {
            return Err(ListError::BadSignature(
                "più di una firma nel documento".into(),
            ));
        }
    };
    if signature.parent_element() != Some(root) {
        return Err(ListError::BadSignature(
            "la firma non è figlia dell'elemento radice".into(),
        ));
    }
    let signed_info = signature
        .children()
        .find(|n| is_ds(n, "SignedInfo"))
        .ok_or_else(|| ListError::BadSignature("manca SignedInfo".into()))?;
    let mut whole_document = 0;
    for reference in signed_info.children().filter(|n| is_ds(n, "Reference")) {
        let uri = reference
            .attribute("URI")
            .ok_or_else(|| ListError::BadSignature("riferimento senza URI".into()))?;
        let transforms: Vec<&str> = reference
            .children()
            .filter(|n| is_ds(n, "Transforms"))
            .flat_map(|t| t.children().filter(|n| is_ds(n, "Transform")))
            .map(|t| t.attribute("Algorithm").unwrap_or(""))
            .collect();
        if let Some(id) = uri.strip_prefix('#') {
            // Must point inside the signature (XAdES SignedProperties), and nowhere else.
            let inside = signature
                .descendants()
                .filter(|n| n.attribute("Id") == Some(id))
                .count();
            let everywhere = doc
                .descendants()
                .filter(|n| n.attribute("Id") == Some(id))
                .count();
            if inside != 1 || everywhere != 1 {
                return Err(ListError::BadSignature(
                    "un riferimento della firma punta fuori dalla firma".into(),
                ));
            }
            if transforms.iter().any(|t| !CANONICALISATIONS.contains(t)) {
                return Err(ListError::BadSignature("trasformazione non ammessa".into()));
            }
        } else if uri.is_empty() {
            if !transforms.contains(&ENVELOPED)
                || transforms
                    .iter()
                    .any(|t| *t != ENVELOPED && !CANONICALISATIONS.contains(t))
            {
                return Err(ListError::BadSignature(
                    "la firma non copre l'intero elenco".into(),
                ));
            }
            whole_document += 1;
        } else {
            return Err(ListError::BadSignature(
                "riferimento a un documento esterno".into(),
            ));
        }
    }
    if whole_document != 1 {
        return Err(ListError::BadSignature(
            "la firma non copre l'intero elenco".into(),
        ));
    }
    let key_info_cert = signature
        .descendants()
        .find(|n| is_ds(n, "X509Certificate"))
        .and_then(|c| {
            let b64: String = c
                .text()
                .unwrap_or_default()
                .chars()
                .filter(|ch| !ch.is_whitespace())
                .collect();
            base64::engine::general_purpose::STANDARD.decode(b64).ok()
        });
    Ok(key_info_cert)
}

/// `Ok(Ok(()))` when the signature verifies with the key of `cert`; `Ok(Err(why))` when it
/// does not; `Err` when xmlsec1 cannot be run.
fn run_xmlsec(list: &Path, cert: &Path) -> Result<Result<(), String>, ListError> {
    let mut child = Command::new("xmlsec1")
        .arg("--verify")
        .args(["--enabled-reference-uris", "empty,same-doc"])
        .args(["--enabled-key-data", "rsa,ecdsa"])
        .args([
            "--id-attr:Id",
            "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
        ])
        .arg("--pubkey-cert-pem")
        .arg(cert)
        .arg(list)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            ListError::Tool(format!(
                "il comando xmlsec1 non è disponibile ({e}): installarlo (Debian: apt-get install xmlsec1)"
            ))
        })?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(ListError::Tool("xmlsec1 non ha risposto in tempo".into()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(ListError::Tool(e.to_string())),
        }
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read as _;
        let _ = pipe.read_to_string(&mut stderr);
    }
    if status.success() {
        Ok(Ok(()))
    } else {
        let why = stderr
            .lines()
            .find(|l| l.contains("error=") || l.starts_with("Error"))
            .map(|l| {
                // `func=…:error=12:invalid data:data and digest do not match` → the words.
                let tail = l.rsplit(":error=").next().unwrap_or(l);
                let words = tail
                    .split_once(':')
                    .filter(|(code, _)| code.bytes().all(|b| b.is_ascii_digit()))
                    .map_or(tail, |(_, rest)| rest);
                words.chars().take(200).collect()
            })
            .unwrap_or_else(|| "verifica non riuscita".to_owned());
        Ok(Err(why))
    }
}

/// A private folder for the files xmlsec1 reads, removed afterwards.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<Self, ListError> {
        let path = std::env::temp_dir().join(format!(
            "patrocinio-xmldsig-{}",
            crate::crypto::random_hex::<12>()
        ));
        std::fs::create_dir(&path).map_err(|e| ListError::Tool(e.to_string()))?;
        Ok(Self { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Signs `xml` (a list without signature) with an enveloped XML-DSig signature: RSA-SHA256,
/// exclusive canonicalisation, the certificate in `KeyInfo`. For the demo's list and for tests;
/// the real lists come signed by their operators.
pub fn sign(xml: &str, key_pem: &[u8], cert_pem: &[u8]) -> Result<Vec<u8>, ListError> {
    let close = xml
        .rfind("</")
        .ok_or_else(|| ListError::NotAList("XML senza elemento radice".into()))?;
    let template = format!(
        r#"<ds:Signature xmlns:ds="{DS_NS}"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"/><ds:Reference URI=""><ds:Transforms><ds:Transform Algorithm="{ENVELOPED}"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="http://www.w3.org/2001/04/xmlenc#sha256"/><ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo></ds:Signature>"#
    );
    let unsigned = format!("{}{template}{}", &xml[..close], &xml[close..]);
    let dir = TempDir::new()?;
    let input = dir.path.join("unsigned.xml");
    let output = dir.path.join("signed.xml");
    let key = dir.path.join("key.pem");
    let cert = dir.path.join("cert.pem");
    let write =
        |p: &Path, b: &[u8]| std::fs::write(p, b).map_err(|e| ListError::Tool(e.to_string()));
    write(&input, unsigned.as_bytes())?;
    write(&key, key_pem)?;
    write(&cert, cert_pem)?;
    let mut keys = key.as_os_str().to_owned();
    keys.push(",");
    keys.push(cert.as_os_str());
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(keys)
        .arg("--output")
        .arg(&output)
        .arg(&input)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            ListError::Tool(format!(
                "il comando xmlsec1 non è disponibile ({e}): installarlo (Debian: apt-get install xmlsec1)"
            ))
        })?;
    if !out.status.success() {
        return Err(ListError::Tool(format!(
            "firma dell'elenco non riuscita: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .next()
                .unwrap_or_default()
        )));
    }
    std::fs::read(&output).map_err(|e| ListError::Tool(e.to_string()))
}
