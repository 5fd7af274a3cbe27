//! Signature fixtures made with the `openssl` and `xmlsec1` commands, as in
//! security-reliability.md §1.3, and the tests of the qualified-signature layer that need the
//! database (trusted list import, the CLI, the rules where a signature is required).
//!
//! One test PKI per test process: a test LOTL signer (pinned like the Official Journal's
//! certificates), a test Italian list signer (announced by the test LOTL), a test qualified CA
//! (a `CA/QC` service `granted` since 2020 in the test Italian list) and a CA whose service was
//! withdrawn yesterday. [`Signer`] makes a CA and a signer whose certificate carries
//! `serialNumber=TINIT-<codice fiscale>`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use base64::Engine as _;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use patrocinio::{
    documents::signature::trusted_list::ListError,
    store::trust::{self, ImportOptions},
};

use crate::helpers::{TestApp, spawn_app};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The test PKI and trusted lists' keys, made once per test process.
struct Pki {
    dir: PathBuf,
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep();
        let ca = |name: &str, subject: &str| {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "3650",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.pem"),
                    "-subj",
                    subject,
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                ],
            )
        };
        ca(
            "qca",
            "/C=IT/O=Prestatore di prova S.p.A./CN=Test Qualified CA",
        );
        ca(
            "wca",
            "/C=IT/O=Prestatore revocato S.p.A./CN=Test Withdrawn CA",
        );
        let signer = |name: &str, subject: &str| {
            openssl(
                &dir,
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-days",
                    "3650",
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.pem"),
                    "-subj",
                    subject,
                    "-addext",
                    "keyUsage=critical,digitalSignature",
                ],
            )
        };
        signer(
            "lotl",
            "/C=EU/O=Test European Commission/CN=Test LOTL signer",
        );
        signer("tl", "/C=IT/O=Test AgID/CN=Test IT trusted list signer");
        signer("rogue", "/C=IT/O=Nessuno/CN=Rogue list signer");
        Pki { dir }
    })
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn der(&self, name: &str) -> Vec<u8> {
        let pem = std::fs::read(self.path(name)).unwrap();
        openssl::x509::X509::from_pem(&pem)
            .unwrap()
            .to_der()
            .unwrap()
    }
}

/// The PEM file of the certificate pinned for the test LOTL (PATROCINIO_LOTL_CERTS).
pub fn lotl_pem() -> PathBuf {
    pki().path("lotl.pem")
}

pub struct Signer {
    dir: tempfile::TempDir,
}

impl Signer {
    /// A CA and one signer with the given codice fiscale.
    pub fn new(codice_fiscale: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "30",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-subj",
                "/C=IT/O=Test CA/CN=Test QCA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        let subject = format!("/C=IT/CN=Firmatario di prova/serialNumber=TINIT-{codice_fiscale}");
        openssl(
            d,
            &[
                "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "s.key", "-out", "s.csr",
                "-subj", &subject,
            ],
        );
        std::fs::write(
            d.join("ext.cnf"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "s.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                "ext.cnf",
                "-out",
                "s.pem",
            ],
        );
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The signer's certificate and private key in one PEM (as an Ordine's seal file).
    pub fn pem(&self) -> Vec<u8> {
        let mut pem = std::fs::read(self.path("s.pem")).unwrap();
        pem.extend(std::fs::read(self.path("s.key")).unwrap());
        pem
    }

    /// A CAdES `.p7m` (DER, content attached) of `content`.
    pub fn p7m(&self, content: &[u8]) -> Vec<u8> {
        std::fs::write(self.path("doc.pdf"), content).unwrap();
        openssl(
            self.dir.path(),
            &[
                "cms",
                "-sign",
                "-binary",
                "-nodetach",
                "-cades",
                "-md",
                "sha256",
                "-in",
                "doc.pdf",
                "-signer",
                "s.pem",
                "-inkey",
                "s.key",
                "-outform",
                "DER",
                "-out",
                "doc.pdf.p7m",
            ],
        );
        std::fs::read(self.path("doc.pdf.p7m")).unwrap()
    }
}

/// The same envelope with one byte of the signed content changed.
pub fn tamper(p7m: &[u8], content: &[u8]) -> Vec<u8> {
    let at = p7m
        .windows(content.len())
        .position(|w| w == content)
        .expect("content inside the envelope");
    let mut out = p7m.to_vec();
    out[at + 10] ^= 0x01;
    out
}

// ---------------------------------------------------------------------------------------
// Trusted lists: built as text, signed with the xmlsec1 command
// ---------------------------------------------------------------------------------------

fn b64(der: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(der)
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn scheme(tsl_type: &str, territory: &str, seq: i64, next_update: DateTime<Utc>) -> String {
    format!(
        "<SchemeInformation><TSLVersionIdentifier>5</TSLVersionIdentifier>\
         <TSLSequenceNumber>{seq}</TSLSequenceNumber>\
         <TSLType>http://uri.etsi.org/TrstSvc/TrustedList/TSLType/{tsl_type}</TSLType>\
         <SchemeOperatorName><Name xml:lang=\"en\">Test operator</Name></SchemeOperatorName>\
         <SchemeTerritory>{territory}</SchemeTerritory>\
         <ListIssueDateTime>{}</ListIssueDateTime>\
         <NextUpdate><dateTime>{}</dateTime></NextUpdate>",
        time(Utc::now() - Duration::days(1)),
        time(next_update)
    )
}

/// The test LOTL, pointing to the test Italian list signed by `tl.pem`.
pub fn lotl_xml(seq: i64, next_update: DateTime<Utc>) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <TrustServiceStatusList xmlns=\"http://uri.etsi.org/02231/v2#\" Id=\"lotl\">{}\
         <PointersToOtherTSL><OtherTSLPointer><ServiceDigitalIdentities><ServiceDigitalIdentity>\
         <DigitalId><X509Certificate>{}</X509Certificate></DigitalId>\
         </ServiceDigitalIdentity></ServiceDigitalIdentities>\
         <TSLLocation>https://eidas.example.it/TL/TSL-IT.xml</TSLLocation>\
         <AdditionalInformation>\
         <OtherInformation><TSLType>http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric</TSLType></OtherInformation>\
         <OtherInformation><SchemeTerritory>IT</SchemeTerritory></OtherInformation>\
         </AdditionalInformation></OtherTSLPointer></PointersToOtherTSL>\
         </SchemeInformation></TrustServiceStatusList>",
        scheme("EUlistofthelists", "EU", seq, next_update),
        b64(&pki().der("tl.pem"))
    )
}

fn service(name: &str, cert: &str, status: &str, since: DateTime<Utc>, history: &str) -> String {
    format!(
        "<TSPService><ServiceInformation>\
         <ServiceTypeIdentifier>http://uri.etsi.org/TrstSvc/Svctype/CA/QC</ServiceTypeIdentifier>\
         <ServiceName><Name xml:lang=\"en\">{name}</Name></ServiceName>\
         <ServiceDigitalIdentity><DigitalId><X509Certificate>{}</X509Certificate></DigitalId></ServiceDigitalIdentity>\
         <ServiceStatus>http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/{status}</ServiceStatus>\
         <StatusStartingTime>{}</StatusStartingTime>\
         </ServiceInformation>{history}</TSPService>",
        b64(&pki().der(cert)),
        time(since)
    )
}

/// A history instance of `status` from `since` (a year) until the current status began.
fn history_from(since: i32, status: &str) -> String {
    format!(
        "<ServiceHistory><ServiceHistoryInstance>\
         <ServiceTypeIdentifier>http://uri.etsi.org/TrstSvc/Svctype/CA/QC</ServiceTypeIdentifier>\
         <ServiceName><Name xml:lang=\"en\">history</Name></ServiceName>\
         <ServiceDigitalIdentity><DigitalId><X509SubjectName>CN=x</X509SubjectName></DigitalId></ServiceDigitalIdentity>\
         <ServiceStatus>http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/{status}</ServiceStatus>\
         <StatusStartingTime>{since}-01-01T00:00:00Z</StatusStartingTime>\
         </ServiceHistoryInstance></ServiceHistory>"
    )
}

/// The test Italian list: the qualified CA granted (since 2020), the other withdrawn since
/// yesterday (granted before).
pub fn it_xml(seq: i64, next_update: DateTime<Utc>) -> String {
    let granted_since = DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <TrustServiceStatusList xmlns=\"http://uri.etsi.org/02231/v2#\" Id=\"tl\">{}</SchemeInformation>\
         <TrustServiceProviderList><TrustServiceProvider>\
         <TSPInformation><TSPName><Name xml:lang=\"en\">Prestatore di prova S.p.A.</Name></TSPName></TSPInformation>\
         <TSPServices>{}{}</TSPServices></TrustServiceProvider></TrustServiceProviderList>\
         </TrustServiceStatusList>",
        scheme("EUgeneric", "IT", seq, next_update),
        service(
            "Test Qualified CA",
            "qca.pem",
            "granted",
            granted_since,
            &history_from(2010, "accredited")
        ),
        service(
            "Test Withdrawn CA",
            "wca.pem",
            "withdrawn",
            Utc::now() - Duration::days(1),
            &history_from(2020, "granted")
        ),
    )
}

/// `xml` with an enveloped XML-DSig signature by `key` (`<name>.key`/`<name>.pem` of the PKI),
/// made with the xmlsec1 command.
pub fn sign_xml(xml: &str, key: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let template = "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>\
        <ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\
        <ds:SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\
        <ds:Reference URI=\"\"><ds:Transforms>\
        <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
        <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>\
        <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/><ds:DigestValue/>\
        </ds:Reference></ds:SignedInfo><ds:SignatureValue/><ds:KeyInfo><ds:X509Data/></ds:KeyInfo>\
        </ds:Signature>";
    let at = xml.rfind("</TrustServiceStatusList>").unwrap();
    let unsigned = format!("{}{template}{}", &xml[..at], &xml[at..]);
    std::fs::write(dir.path().join("in.xml"), unsigned).unwrap();
    let pki = pki();
    let keys = format!(
        "{},{}",
        pki.path(&format!("{key}.key")).display(),
        pki.path(&format!("{key}.pem")).display()
    );
    let out = Command::new("xmlsec1")
        .args([
            "--sign",
            "--privkey-pem",
            &keys,
            "--output",
            "out.xml",
            "in.xml",
        ])
        .current_dir(dir.path())
        .output()
        .expect("the xmlsec1 command (apt-get install xmlsec1)");
    assert!(
        out.status.success(),
        "xmlsec1 --sign: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(dir.path().join("out.xml")).unwrap()
}

/// Imports `xml` as the command line does, with the test LOTL certificate pinned.
pub async fn import(app: &TestApp, xml: &[u8]) -> Result<trust::Imported, ListError> {
    let mut conn = app.admin_connection().await;
    trust::import(
        &mut conn,
        xml,
        ImportOptions {
            lotl_certificates: &[pki().der("lotl.pem")],
            source: "test",
            now: Utc::now(),
        },
    )
    .await
    .expect("database")
}

fn in_a_month() -> DateTime<Utc> {
    Utc::now() + Duration::days(30)
}

/// (territory, sequence number) of the lists in force.
async fn in_force(app: &TestApp) -> Vec<(String, i64)> {
    let mut conn = app.admin_connection().await;
    trust::lists(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|l| (l.territory, l.sequence_number))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn trusted_lists_are_imported_and_bad_ones_refused_while_the_previous_stays() {
    let app = spawn_app().await;
    // A national list before any LOTL: nobody vouches for its signer.
    let it1 = sign_xml(&it_xml(1, in_a_month()), "tl");
    assert!(matches!(
        import(&app, &it1).await,
        Err(ListError::NoLotl(_))
    ));
    // A LOTL signed by a key that is not pinned.
    let rogue_lotl = sign_xml(&lotl_xml(1, in_a_month()), "rogue");
    assert!(matches!(
        import(&app, &rogue_lotl).await,
        Err(ListError::UnknownSigner(_))
    ));
    let imported = import(&app, &sign_xml(&lotl_xml(1, in_a_month()), "lotl"))
        .await
        .unwrap();
    assert!(imported.is_lotl && imported.pointers == 1);
    let imported = import(&app, &it1).await.unwrap();
    assert_eq!((imported.territory.as_str(), imported.services), ("IT", 2));
    let expected = vec![("EU".to_owned(), 1), ("IT".to_owned(), 1)];
    assert_eq!(in_force(&app).await, expected);

    // Unsigned.
    let unsigned = it_xml(2, in_a_month());
    assert_eq!(
        import(&app, unsigned.as_bytes()).await,
        Err(ListError::Unsigned)
    );
    // Tampered after signing: a service's status changed.
    let signed = String::from_utf8(sign_xml(&it_xml(2, in_a_month()), "tl")).unwrap();
    let tampered = signed.replacen("Svcstatus/withdrawn", "Svcstatus/granted", 1);
    assert_ne!(tampered, signed);
    assert!(matches!(
        import(&app, tampered.as_bytes()).await,
        Err(ListError::BadSignature(_))
    ));
    // Signed by a key the LOTL does not announce for Italy.
    assert!(matches!(
        import(&app, &sign_xml(&it_xml(2, in_a_month()), "rogue")).await,
        Err(ListError::UnknownSigner(_))
    ));
    // Expired: the next update was due yesterday.
    let expired = sign_xml(&it_xml(2, Utc::now() - Duration::days(1)), "tl");
    assert!(matches!(
        import(&app, &expired).await,
        Err(ListError::Expired(_))
    ));
    // A signature that covers only part of the list is refused before xmlsec1 runs.
    let partial = signed.replacen("URI=\"\"", "URI=\"#tl\"", 1);
    assert!(matches!(
        import(&app, partial.as_bytes()).await,
        Err(ListError::BadSignature(_))
    ));
    // A DTD (entities) is refused by the parser.
    let dtd = signed.replacen(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
        "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e \"x\">]>",
        1,
    );
    assert!(matches!(
        import(&app, dtd.as_bytes()).await,
        Err(ListError::NotAList(_))
    ));
    // Every refusal left the lists in force as they were.
    assert_eq!(in_force(&app).await, expected);

    // A newer list replaces the old one; an older one does not come back.
    import(&app, signed.as_bytes()).await.unwrap();
    assert!(matches!(
        import(&app, &it1).await,
        Err(ListError::Older { new: 1, current: 2 })
    ));
    assert_eq!(
        in_force(&app).await,
        vec![("EU".to_owned(), 1), ("IT".to_owned(), 2)]
    );
    // The service role reads the lists but cannot write them.
    let denied = sqlx::query("DELETE FROM app.trusted_lists")
        .execute(app.db.pool())
        .await;
    assert!(
        denied.is_err(),
        "patrocinio_app may not write the trust store"
    );
    let visible: i64 = sqlx::query_scalar("SELECT count(*) FROM app.trust_services")
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert_eq!(visible, 2);
}

fn cli(app: &TestApp, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_patrocinio"))
        .env("DATABASE_URL", app.database_url())
        .env("PATROCINIO_ADMIN_DATABASE_URL", app.admin_database_url())
        .env("PATROCINIO_LOTL_CERTS", lotl_pem())
        .env("PATROCINIO_LOG", "warn")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test]
async fn the_command_line_imports_offline_and_lists_what_is_in_force() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let (ok, out) = cli(&app, &["fiducia", "elenco"]);
    assert!(ok, "{out}");
    assert!(out.contains("Nessun elenco di fiducia importato"), "{out}");
    let lotl = file("lotl.xml", &sign_xml(&lotl_xml(3, in_a_month()), "lotl"));
    let (ok, out) = cli(&app, &["fiducia", "importa", &lotl]);
    assert!(ok, "{out}");
    assert!(out.contains("Importato: LOTL (EU) n. 3"), "{out}");
    let it = file("it.xml", &sign_xml(&it_xml(7, in_a_month()), "tl"));
    let (ok, out) = cli(&app, &["fiducia", "importa", &it]);
    assert!(ok, "{out}");
    assert!(
        out.contains("Importato: elenco IT n. 7: 2 servizi"),
        "{out}"
    );
    let unsigned = file("unsigned.xml", it_xml(8, in_a_month()).as_bytes());
    let (ok, out) = cli(&app, &["fiducia", "importa", &unsigned]);
    assert!(!ok);
    assert!(
        out.contains("elenco rifiutato, resta in vigore quello precedente: l'elenco non è firmato"),
        "{out}"
    );
    let (ok, out) = cli(&app, &["fiducia", "elenco"]);
    assert!(ok, "{out}");
    assert!(out.contains("EU (LOTL)\tn. 3"), "{out}");
    assert!(
        out.contains("IT\tn. 7") && out.contains("2 servizi (1 CA/QC qualificati oggi)"),
        "{out}"
    );
    // Without the administrator's URL the command says what it needs.
    let out = Command::new(env!("CARGO_BIN_EXE_patrocinio"))
        .env("DATABASE_URL", app.database_url())
        .env_remove("PATROCINIO_ADMIN_DATABASE_URL")
        .env("PATROCINIO_LOG", "warn")
        .args(["fiducia", "importa", &it])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("PATROCINIO_ADMIN_DATABASE_URL"));
}
