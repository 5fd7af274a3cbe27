//! Signature fixtures made with the `openssl` and `xmlsec1` commands, as in
//! security-reliability.md §1.3, and the tests of the qualified-signature layer that need the
//! database (trusted list import, the CLI, the rules where a signature is required).
//!
//! One test PKI per test process: a test LOTL signer (pinned like the Official Journal's
//! certificates), a test Italian list signer (announced by the test LOTL), a test qualified CA
//! (a `CA/QC` service `granted` since 2020 in the test Italian list), a CA whose service was
//! withdrawn yesterday, and a CA in no list. Signers' certificates carry
//! `serialNumber=TINIT-<codice fiscale>`, QCStatements and keyUsage as each test asks.

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

/// QCStatements (1.3.6.1.5.5.7.1.3): QcCompliance, QcSSCD, QcType esign.
const QC_STATEMENTS: &str = "DER:30:29:30:08:06:06:04:00:8E:46:01:01:30:08:06:06:04:00:8E:46:01:04:30:13:06:06:04:00:8E:46:01:06:30:09:06:07:04:00:8E:46:01:06:01";

/// Which CA issues a test signer's certificate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Issuer {
    /// The CA/QC service granted in the test list.
    Qualified,
    /// A CA/QC service withdrawn yesterday.
    Withdrawn,
    /// A CA in no list.
    Unlisted,
    /// No CA: `openssl req -x509`, the one-minute forgery of issue 12.
    SelfSigned,
}

/// What a test signer's certificate says.
#[derive(Clone, Copy, Debug)]
pub struct Profile {
    pub issuer: Issuer,
    pub qc_compliance: bool,
    pub non_repudiation: bool,
}

impl Profile {
    pub const QUALIFIED: Profile = Profile {
        issuer: Issuer::Qualified,
        qc_compliance: true,
        non_repudiation: true,
    };
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
        ca("oca", "/C=IT/O=Fuori elenco S.r.l./CN=Test Unlisted CA");
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
    /// A signer with a qualified certificate (Test Qualified CA, QCStatements, nonRepudiation)
    /// and the given codice fiscale.
    pub fn new(codice_fiscale: &str) -> Self {
        Self::with(codice_fiscale, Profile::QUALIFIED)
    }

    pub fn with(codice_fiscale: &str, profile: Profile) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let subject = format!("/C=IT/CN=Firmatario di prova/serialNumber=TINIT-{codice_fiscale}");
        let mut ext = "basicConstraints=CA:FALSE\n".to_owned();
        ext.push_str(if profile.non_repudiation {
            "keyUsage=critical,nonRepudiation\n"
        } else {
            "keyUsage=critical,digitalSignature\n"
        });
        if profile.qc_compliance {
            ext.push_str(&format!("1.3.6.1.5.5.7.1.3={QC_STATEMENTS}\n"));
        }
        std::fs::write(d.join("ext.cnf"), &ext).unwrap();
        let ca = match profile.issuer {
            Issuer::Qualified => Some("qca"),
            Issuer::Withdrawn => Some("wca"),
            Issuer::Unlisted => Some("oca"),
            Issuer::SelfSigned => None,
        };
        match ca {
            Some(ca) => {
                openssl(
                    d,
                    &[
                        "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "s.key", "-out",
                        "s.csr", "-subj", &subject,
                    ],
                );
                let pki = pki();
                openssl(
                    d,
                    &[
                        "x509",
                        "-req",
                        "-in",
                        "s.csr",
                        "-CA",
                        pki.path(&format!("{ca}.pem")).to_str().unwrap(),
                        "-CAkey",
                        pki.path(&format!("{ca}.key")).to_str().unwrap(),
                        "-set_serial",
                        &format!("{}", rand_serial()),
                        "-days",
                        "30",
                        "-extfile",
                        "ext.cnf",
                        "-out",
                        "s.pem",
                    ],
                );
            }
            None => {
                std::fs::write(
                    d.join("req.cnf"),
                    format!("[req]\ndistinguished_name=dn\n[dn]\n[v3]\n{ext}"),
                )
                .unwrap();
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
                        "s.key",
                        "-out",
                        "s.pem",
                        "-subj",
                        &subject,
                        "-config",
                        "req.cnf",
                        "-extensions",
                        "v3",
                    ],
                );
            }
        }
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

    /// A CAdES `.p7m` (DER, content attached) of `content`, with a signingTime attribute
    /// (openssl adds it).
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

fn rand_serial() -> u64 {
    u64::from_le_bytes(patrocinio::crypto::random_bytes::<8>()) >> 2
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

/// Installs the test LOTL and Italian list: the signatures of [`Signer::new`] are qualified.
pub async fn trust(app: &TestApp) {
    import(app, &sign_xml(&lotl_xml(1, in_a_month()), "lotl"))
        .await
        .expect("test LOTL");
    import(app, &sign_xml(&it_xml(1, in_a_month()), "tl"))
        .await
        .expect("test Italian list");
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

#[tokio::test]
async fn an_authenticated_application_needs_the_lawyers_qualified_signature() {
    use crate::public_form::{LAWYER_CF, errors_in, lawyer_draft, ordine};
    let app = spawn_app().await;
    trust(&app).await;
    let o = ordine(&app, "vallenera").await;
    let d = lawyer_draft(&app, &o).await;
    let content = d.application_pdf().await;
    let profile = |issuer, qc_compliance, non_repudiation| Profile {
        issuer,
        qc_compliance,
        non_repudiation,
    };
    for (name, profile, reason) in [
        (
            "fatto-in-casa.pdf.p7m",
            profile(Issuer::SelfSigned, true, true),
            "non è stato rilasciato da un prestatore qualificato presente nell'elenco di fiducia",
        ),
        (
            "ca-fuori-elenco.pdf.p7m",
            profile(Issuer::Unlisted, true, true),
            "non è stato rilasciato da un prestatore qualificato presente nell'elenco di fiducia",
        ),
        (
            "prestatore-revocato.pdf.p7m",
            profile(Issuer::Withdrawn, true, true),
            "non risultava qualificato alla data",
        ),
        (
            "senza-qc.pdf.p7m",
            profile(Issuer::Qualified, false, true),
            "manca la dichiarazione QcCompliance",
        ),
        (
            "senza-non-ripudio.pdf.p7m",
            profile(Issuer::Qualified, true, false),
            "non consente la firma con valore legale (manca l'uso non ripudio)",
        ),
    ] {
        let signed = Signer::with(LAWYER_CF, profile).p7m(&content);
        let res = d.upload("istanza_firmata", name, signed).await;
        assert_eq!(res.status(), 422, "{name}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains(&format!(
                "La firma digitale del file {name} non risulta valida"
            )),
            "{name}: {}",
            errors_in(&body)
        );
        assert!(body.contains("non è una firma qualificata"), "{name}");
        assert!(body.contains(reason), "{name}: {}", errors_in(&body));
    }
    let (_, page) = d.get_text("allegati").await;
    assert!(page.contains("Nessun documento caricato."), "nothing kept");

    // An ordinary attachment signed without qualification is kept, and said to be so.
    let res = d
        .upload(
            "documenti_causa",
            "ricevute.pdf.p7m",
            Signer::with(LAWYER_CF, profile(Issuer::SelfSigned, true, true)).p7m(&content),
        )
        .await;
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Firma CAdES integra ma non qualificata"),
        "{}",
        errors_in(&body)
    );

    // The qualified signature of the lawyer passes.
    let res = d
        .upload(
            "istanza_firmata",
            "istanza.pdf.p7m",
            Signer::new(LAWYER_CF).p7m(&content),
        )
        .await;
    let status = res.status();
    let body = res.text().await.unwrap();
    let at = body.find("non è").unwrap_or(0);
    assert_eq!(
        status,
        200,
        "{}",
        &body[at.saturating_sub(300)..(at + 600).min(body.len())]
    );
    assert!(body.contains(&format!(
        "Firma CAdES qualificata: Firmatario di prova ({LAWYER_CF})"
    )));
    // What is kept: qualified, the signing time read from the signature, revocation unchecked.
    let mut conn = app.admin_connection().await;
    let kept: serde_json::Value = sqlx::query_scalar(
        "SELECT signature->'signers'->0->'qualification' FROM app.attachments
          WHERE filename = 'istanza.pdf.p7m'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(kept["qualified"], true, "{kept}");
    assert_eq!(
        kept["signing_time_source"], "signing_time_attribute",
        "{kept}"
    );
    assert_eq!(kept["revocation"], "revoca non verificata", "{kept}");
    assert_eq!(kept["qscd"], "certificate", "{kept}");
    assert!(
        kept["service"]
            .as_str()
            .is_some_and(|s| s.contains("Test Qualified CA (IT)")),
        "{kept}"
    );
}

#[tokio::test]
async fn without_trusted_lists_no_signature_is_qualified() {
    use crate::public_form::{LAWYER_CF, lawyer_draft, minimal_pdf, ordine};
    let app = spawn_app().await;
    let o = ordine(&app, "vallenera").await;
    let d = lawyer_draft(&app, &o).await;
    let res = d
        .upload(
            "istanza_firmata",
            "istanza.pdf.p7m",
            Signer::new(LAWYER_CF).p7m(&minimal_pdf()),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains(
        "non è stato rilasciato da un prestatore qualificato presente nell'elenco di fiducia"
    ));
}

/// The case page shows each signed file's verification report, the PDF "Rapporto di verifica"
/// downloads with the same facts, and `fiducia riverifica` after a list change updates both
/// and records the change in the history, leaving the application where it was.
#[tokio::test]
async fn the_verification_report_is_shown_downloaded_and_redone_when_the_lists_change() {
    use crate::public_form::{fill_complete, minimal_pdf, new_draft, review_token};
    use crate::workflow::{SLUG, case_path, office, pdf_text};
    let app = spawn_app().await;
    trust(&app).await;
    let of = office(&app).await;
    let d = new_draft(&app, SLUG).await;
    fill_complete(&d, &of.o).await;
    const CF: &str = "RSSMRA80A01H501U";
    let res = d
        .upload(
            "documenti_causa",
            "contratto.pdf.p7m",
            Signer::new(CF).p7m(&minimal_pdf()),
        )
        .await;
    assert_eq!(res.status(), 200);
    let token = review_token(&d).await;
    let res = app
        .client
        .post(d.url("invia"))
        .form(&[("token", token.as_str()), ("warnings_confirmed", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let id = uuid::Uuid::parse_str(&d.id).unwrap();

    let seg = app.login(&of.secretariat).await;
    let path = case_path("segreteria", id);
    let (status, page) = seg.page(&app, &path).await;
    assert_eq!(status, 200);
    let item_at = page
        .find(">contratto.pdf.p7m</a>")
        .expect("the signed file is listed");
    let item = &page[item_at..];
    let item = &item[..item.find("</li>").unwrap()];
    assert!(item.contains("✓ Firma CAdES qualificata"), "{item}");
    assert!(item.contains(&format!("C.F. {CF}")), "{item}");
    assert!(item.contains("emesso da"), "{item}");
    assert!(
        item.contains("Data della firma: ")
            && item.contains("(dichiarata nella firma (attributo signingTime))"),
        "{item}"
    );
    assert!(
        item.contains("revoca del certificato: revoca non verificata"),
        "{item}"
    );
    // After the signers' list, in the same item.
    let rest = &page[item_at..];
    let link_end = rest.find("/rapporto\"").expect("a link to the report");
    assert!(
        !rest[..link_end].contains("list-group-item"),
        "in the file's item"
    );
    let link_start = rest[..link_end].rfind("href=\"").unwrap() + "href=\"".len();
    let report_path = format!("{}/rapporto", &rest[link_start..link_end]);

    let res = seg.client.get(app.url(&report_path)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let text = pdf_text(&res.bytes().await.unwrap());
    for expected in [
        "Rapporto di verifica della firma digitale",
        "contratto.pdf.p7m",
        "Firma CAdES qualificata",
        CF,
        "Test Qualified CA (IT)",
        "revoca non verificata",
        "dichiarata nella firma (attributo signingTime)",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
    // Nobody reads it without logging in.
    let anonymous = app.client.get(app.url(&report_path)).send().await.unwrap();
    assert!(!anonymous.status().is_success());

    // The Italian list is corrected: the CA's qualification withdrawn (since 2020).
    let corrected = it_xml(2, in_a_month()).replacen("Svcstatus/granted", "Svcstatus/withdrawn", 1);
    import(&app, &sign_xml(&corrected, "tl"))
        .await
        .expect("corrected list");
    let riverifica = || {
        Command::new(env!("CARGO_BIN_EXE_patrocinio"))
            .env("DATABASE_URL", app.database_url())
            .env("PATROCINIO_FILES_DIR", app.files_dir())
            .env("PATROCINIO_LOG", "warn")
            .args(["fiducia", "riverifica"])
            .output()
            .unwrap()
    };
    let out = riverifica();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "{SLUG}: 1 file firmati verificati, 1 con esito cambiato, 0 non verificabili"
        )),
        "{text}"
    );
    let (_, page) = seg.page(&app, &path).await;
    let item_at = page.find(">contratto.pdf.p7m</a>").unwrap();
    let item = &page[item_at..];
    let item = &item[..item.find("</li>").unwrap()];
    assert!(item.contains("✗ Firma CAdES non qualificata"), "{item}");
    assert!(item.contains("qualifica revocata (withdrawn)"), "{item}");
    assert!(
        page.contains("Rapporto di verifica della firma aggiornato"),
        "the change is in the history"
    );
    assert!(page.contains("contratto.pdf.p7m: firma non qualificata."));
    let res = seg.client.get(app.url(&report_path)).send().await.unwrap();
    let text = pdf_text(&res.bytes().await.unwrap());
    assert!(
        text.contains("Firma CAdES integra ma non qualificata"),
        "{text}"
    );
    assert!(text.contains("qualifica revocata (withdrawn)"), "{text}");
    // What was decided stays: the application is still where it was, and a second run finds
    // nothing new to record.
    let mut conn = app.admin_connection().await;
    let state: String = sqlx::query_scalar("SELECT state FROM app.applications WHERE id = $1")
        .bind(id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(state, "presentata");
    let out = riverifica();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("1 file firmati verificati, 0 con esito cambiato"),
        "{text}"
    );
    let events: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM app.events WHERE application_id = $1 AND kind = 'firma_riverificata'",
    )
    .bind(id)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(events, 1);
}

/// A signed delibera's result is redone too; it stays signed.
#[tokio::test]
async fn riverifica_redoes_a_signed_delibera_and_leaves_it_signed() {
    use crate::workflow::{
        SLUG, in_examination, office, personal_cf, propose, set_cf, submitted, upload_signed,
    };
    let app = spawn_app().await;
    let of = office(&app).await;
    let cf = personal_cf("Rossi", "Paola");
    set_cf(&app, of.councillors[0].id, &cf).await;
    let (a, _) = submitted(&app, &of.o).await;
    let (_, rel) = in_examination(&app, &of, a).await;
    let res = propose(
        &app,
        &rel,
        a,
        &[("esito", "ammissione"), ("modello", "requisiti")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let zipped = rel
        .client
        .get(app.url(&format!("/{SLUG}/consiglieri/firma/delibere.zip")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap()
        .to_vec();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zipped)).unwrap();
    let mut pdf = Vec::new();
    std::io::Read::read_to_end(&mut archive.by_index(0).unwrap(), &mut pdf).unwrap();
    trust(&app).await;
    let (status, _) = upload_signed(
        &app,
        &rel,
        vec![("delibera.pdf.p7m", Signer::new(&cf).p7m(&pdf))],
    )
    .await;
    assert_eq!(status, 200);
    let mut conn = app.admin_connection().await;
    let kept = || async {
        let mut conn = app.admin_connection().await;
        sqlx::query_as::<_, (Option<chrono::DateTime<Utc>>, serde_json::Value)>(
            "SELECT signed_at, signature->'signers'->0->'qualification' FROM app.decisions
              WHERE application_id = $1 AND superseded_at IS NULL",
        )
        .bind(a)
        .fetch_one(&mut conn)
        .await
        .unwrap()
    };
    let (signed_at, before) = kept().await;
    assert!(signed_at.is_some());
    assert_eq!(before["qualified"], true, "{before}");

    let corrected = it_xml(2, in_a_month()).replacen("Svcstatus/granted", "Svcstatus/withdrawn", 1);
    import(&app, &sign_xml(&corrected, "tl"))
        .await
        .expect("corrected list");
    let out = Command::new(env!("CARGO_BIN_EXE_patrocinio"))
        .env("DATABASE_URL", app.database_url())
        .env("PATROCINIO_FILES_DIR", app.files_dir())
        .env("PATROCINIO_LOG", "warn")
        .args(["fiducia", "riverifica"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 con esito cambiato"), "{text}");
    let (signed_after, after) = kept().await;
    assert_eq!(signed_after, signed_at, "the delibera stays signed");
    assert_eq!(after["qualified"], false, "{after}");
    let note: String = sqlx::query_scalar(
        "SELECT details->>'nota' FROM app.events
          WHERE application_id = $1 AND kind = 'firma_riverificata'",
    )
    .bind(a)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert!(
        note.starts_with("Delibera firmata: firma non qualificata."),
        "{note}"
    );
}
