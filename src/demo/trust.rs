//! The demo's trusted lists, so that the demo's signing flows work with qualified signatures.
//!
//! At seeding, on a trust store that holds no list yet, this makes (with OpenSSL, in process):
//! a demo LOTL signer, a demo Italian list signer, a demo qualified CA (a `CA/QC` service
//! `granted` in the demo Italian list) and two qualified signing certificates issued by it —
//! the demo councillor's and the demo lawyer's, with their codice fiscale as `TINIT-…`,
//! QCStatements and nonRepudiation. The two lists are built, signed with xmlsec1
//! ([`xmldsig::sign`]) and imported through the same path as real lists
//! ([`crate::store::trust::import`]), with the demo LOTL signer pinned for that import only.
//!
//! The signers' certificates and keys are written to `<data dir>/demo-firme/` so that whoever
//! tries the demo can sign a delibera or an application (`openssl cms -sign …`, see the
//! `LEGGIMI.txt` written there). A store that already has lists (a real LOTL, or the demo's
//! from an earlier start) is never touched.

use std::path::{Path, PathBuf};

use anyhow::Context;
use base64::Engine as _;
use chrono::{Duration, SecondsFormat, Utc};
use openssl::{
    asn1::{Asn1Integer, Asn1Object, Asn1OctetString, Asn1Time},
    bn::BigNum,
    hash::MessageDigest,
    nid::Nid,
    pkey::{PKey, Private},
    rsa::Rsa,
    x509::{
        X509, X509Builder, X509Extension, X509Name, X509NameBuilder,
        extension::{AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier},
    },
};
use sqlx::PgConnection;

use crate::{
    documents::signature::xmldsig,
    store::trust::{self, ImportOptions},
};

/// QCStatements (1.3.6.1.5.5.7.1.3): QcCompliance, QcSSCD, QcType esign.
const QC_STATEMENTS: &[u8] = &[
    0x30, 0x29, 0x30, 0x08, 0x06, 0x06, 0x04, 0x00, 0x8E, 0x46, 0x01, 0x01, 0x30, 0x08, 0x06, 0x06,
    0x04, 0x00, 0x8E, 0x46, 0x01, 0x04, 0x30, 0x13, 0x06, 0x06, 0x04, 0x00, 0x8E, 0x46, 0x01, 0x06,
    0x30, 0x09, 0x06, 0x07, 0x04, 0x00, 0x8E, 0x46, 0x01, 0x06, 0x01,
];

/// What the demo's trust setup did.
pub enum Installed {
    /// Lists made and imported now; the signers' files are in this folder.
    Now(PathBuf),
    /// The store already had lists: nothing done (the folder, if an earlier start made it).
    AlreadyThere(Option<PathBuf>),
}

/// A demo signer: (file name, name, codice fiscale).
pub type DemoSigner<'a> = (&'a str, &'a str, &'a str);

/// Makes and imports the demo lists on a store without lists; writes the signers' files.
pub async fn install(
    admin: &mut PgConnection,
    data_dir: &Path,
    signers: &[DemoSigner<'_>],
) -> anyhow::Result<Installed> {
    let folder = data_dir.join("demo-firme");
    let lists: i64 = sqlx::query_scalar("SELECT count(*) FROM app.trusted_lists")
        .fetch_one(&mut *admin)
        .await?;
    if lists > 0 {
        return Ok(Installed::AlreadyThere(
            folder.join("LEGGIMI.txt").exists().then_some(folder),
        ));
    }
    let lotl_signer = Identity::self_signed("Elenco europeo dimostrativo (LOTL)", false)?;
    let tl_signer = Identity::self_signed("AgID dimostrativa, firma dell'elenco", false)?;
    let ca = Identity::self_signed("CA qualificata dimostrativa", true)?;
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    for (file, name, cf) in signers {
        let signer = ca.issue(name, cf)?;
        let mut pem = signer.cert.to_pem()?;
        pem.extend(signer.key.private_key_to_pem_pkcs8()?);
        write_private(&folder.join(format!("{file}.pem")), &pem)?;
    }
    std::fs::write(folder.join("ca-qualificata-demo.pem"), ca.cert.to_pem()?)?;
    std::fs::write(folder.join("LEGGIMI.txt"), readme(signers))?;

    let lotl = xmldsig::sign(
        &lotl_xml(&tl_signer.cert)?,
        &lotl_signer.key.private_key_to_pem_pkcs8()?,
        &lotl_signer.cert.to_pem()?,
    )?;
    let it = xmldsig::sign(
        &it_xml(&ca.cert)?,
        &tl_signer.key.private_key_to_pem_pkcs8()?,
        &tl_signer.cert.to_pem()?,
    )?;
    let pinned = [lotl_signer.cert.to_der()?];
    for (xml, source) in [(lotl, "demo: LOTL"), (it, "demo: elenco IT")] {
        trust::import(
            admin,
            &xml,
            ImportOptions {
                lotl_certificates: &pinned,
                source,
                now: Utc::now(),
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!("demo trusted list refused: {e}"))?;
    }
    Ok(Installed::Now(folder))
}

fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn readme(signers: &[DemoSigner<'_>]) -> String {
    let mut out = String::from(
        "Firme qualificate DIMOSTRATIVE (valgono solo per l'Ordine dimostrativo di questa installazione).\n\n\
         Ogni file .pem contiene il certificato e la chiave privata di una persona della demo,\n\
         rilasciati dalla «CA qualificata dimostrativa», che l'elenco di fiducia dimostrativo\n\
         importato all'avvio indica come prestatore qualificato.\n\n",
    );
    for (file, name, cf) in signers {
        out.push_str(&format!("  {file}.pem  {name} (TINIT-{cf})\n"));
    }
    out.push_str(
        "\nPer firmare una delibera scaricata (CAdES, file .p7m):\n\n  \
         openssl cms -sign -binary -nodetach -cades -md sha256 -in delibera.pdf \\\n    \
         -signer consigliere.pem -outform DER -out delibera.pdf.p7m\n\n\
         e caricare delibera.pdf.p7m nella pagina «Delibere da firmare» dei consiglieri.\n\
         Allo stesso modo, con avvocato.pem, si firma il file dell'istanza autenticata.\n",
    );
    out
}

struct Identity {
    key: PKey<Private>,
    cert: X509,
}

fn serial() -> anyhow::Result<Asn1Integer> {
    let mut bn = BigNum::new()?;
    bn.rand(120, openssl::bn::MsbOption::MAYBE_ZERO, false)?;
    Ok(bn.to_asn1_integer()?)
}

fn name(entries: &[(Nid, &str)]) -> anyhow::Result<X509Name> {
    let mut n = X509NameBuilder::new()?;
    for (nid, value) in entries {
        n.append_entry_by_nid(*nid, value)?;
    }
    Ok(n.build())
}

fn builder(subject: &X509Name, key: &PKey<Private>, days: u32) -> anyhow::Result<X509Builder> {
    let mut b = X509Builder::new()?;
    b.set_version(2)?;
    let serial = serial()?;
    b.set_serial_number(&serial)?;
    b.set_subject_name(subject)?;
    b.set_pubkey(key)?;
    b.set_not_before(Asn1Time::from_unix((Utc::now() - Duration::days(1)).timestamp())?.as_ref())?;
    b.set_not_after(Asn1Time::days_from_now(days)?.as_ref())?;
    Ok(b)
}

impl Identity {
    /// A self-signed certificate: a CA (`ca`) or a list signer.
    fn self_signed(cn: &str, ca: bool) -> anyhow::Result<Self> {
        let key = PKey::from_rsa(Rsa::generate(2048)?)?;
        let subject = name(&[
            (Nid::COUNTRYNAME, "IT"),
            (Nid::ORGANIZATIONNAME, "Patrocinio, dimostrazione"),
            (Nid::COMMONNAME, cn),
        ])?;
        let mut b = builder(&subject, &key, 3650)?;
        b.set_issuer_name(&subject)?;
        if ca {
            b.append_extension(BasicConstraints::new().critical().ca().build()?)?;
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()?,
            )?;
        } else {
            b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
        }
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
        b.append_extension(ski)?;
        b.sign(&key, MessageDigest::sha256())?;
        Ok(Self {
            key,
            cert: b.build(),
        })
    }

    /// A qualified signing certificate for a natural person, issued by this CA.
    fn issue(&self, person: &str, cf: &str) -> anyhow::Result<Self> {
        let key = PKey::from_rsa(Rsa::generate(2048)?)?;
        let subject = name(&[
            (Nid::COUNTRYNAME, "IT"),
            (Nid::COMMONNAME, person),
            (Nid::SERIALNUMBER, &format!("TINIT-{cf}")),
        ])?;
        let mut b = builder(&subject, &key, 825)?;
        b.set_issuer_name(self.cert.subject_name())?;
        b.append_extension(BasicConstraints::new().build()?)?;
        b.append_extension(KeyUsage::new().critical().non_repudiation().build()?)?;
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(&self.cert), None))?;
        b.append_extension(aki)?;
        let oid = Asn1Object::from_str("1.3.6.1.5.5.7.1.3")?;
        let value = Asn1OctetString::new_from_bytes(QC_STATEMENTS)?;
        let qc = X509Extension::new_from_der(&oid, false, &value)?;
        b.append_extension(qc)?;
        b.sign(&self.key, MessageDigest::sha256())?;
        Ok(Self {
            key,
            cert: b.build(),
        })
    }
}

fn b64(cert: &X509) -> anyhow::Result<String> {
    Ok(base64::engine::general_purpose::STANDARD.encode(cert.to_der()?))
}

fn scheme(tsl_type: &str, territory: &str, operator: &str) -> String {
    let now = Utc::now();
    format!(
        "<SchemeInformation><TSLVersionIdentifier>5</TSLVersionIdentifier>\
         <TSLSequenceNumber>1</TSLSequenceNumber>\
         <TSLType>http://uri.etsi.org/TrstSvc/TrustedList/TSLType/{tsl_type}</TSLType>\
         <SchemeOperatorName><Name xml:lang=\"it\">{operator}</Name></SchemeOperatorName>\
         <SchemeTerritory>{territory}</SchemeTerritory>\
         <ListIssueDateTime>{}</ListIssueDateTime>\
         <NextUpdate><dateTime>{}</dateTime></NextUpdate>",
        now.to_rfc3339_opts(SecondsFormat::Secs, true),
        (now + Duration::days(3650)).to_rfc3339_opts(SecondsFormat::Secs, true)
    )
}

fn lotl_xml(tl_signer: &X509) -> anyhow::Result<String> {
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <TrustServiceStatusList xmlns=\"http://uri.etsi.org/02231/v2#\">{}\
         <PointersToOtherTSL><OtherTSLPointer><ServiceDigitalIdentities><ServiceDigitalIdentity>\
         <DigitalId><X509Certificate>{}</X509Certificate></DigitalId>\
         </ServiceDigitalIdentity></ServiceDigitalIdentities>\
         <TSLLocation>demo:elenco-it</TSLLocation>\
         <AdditionalInformation>\
         <OtherInformation><TSLType>http://uri.etsi.org/TrstSvc/TrustedList/TSLType/EUgeneric</TSLType></OtherInformation>\
         <OtherInformation><SchemeTerritory>IT</SchemeTerritory></OtherInformation>\
         </AdditionalInformation></OtherTSLPointer></PointersToOtherTSL>\
         </SchemeInformation></TrustServiceStatusList>",
        scheme("EUlistofthelists", "EU", "Elenco europeo dimostrativo"),
        b64(tl_signer)?
    ))
}

fn it_xml(ca: &X509) -> anyhow::Result<String> {
    Ok(format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
         <TrustServiceStatusList xmlns=\"http://uri.etsi.org/02231/v2#\">{}</SchemeInformation>\
         <TrustServiceProviderList><TrustServiceProvider>\
         <TSPInformation><TSPName><Name xml:lang=\"it\">Prestatore dimostrativo</Name></TSPName></TSPInformation>\
         <TSPServices><TSPService><ServiceInformation>\
         <ServiceTypeIdentifier>http://uri.etsi.org/TrstSvc/Svctype/CA/QC</ServiceTypeIdentifier>\
         <ServiceName><Name xml:lang=\"it\">CA qualificata dimostrativa</Name></ServiceName>\
         <ServiceDigitalIdentity><DigitalId><X509Certificate>{}</X509Certificate></DigitalId></ServiceDigitalIdentity>\
         <ServiceStatus>http://uri.etsi.org/TrstSvc/TrustedList/Svcstatus/granted</ServiceStatus>\
         <StatusStartingTime>2020-01-01T00:00:00Z</StatusStartingTime>\
         </ServiceInformation></TSPService></TSPServices></TrustServiceProvider></TrustServiceProviderList>\
         </TrustServiceStatusList>",
        scheme("EUgeneric", "IT", "Agenzia dimostrativa"),
        b64(ca)?
    ))
}
