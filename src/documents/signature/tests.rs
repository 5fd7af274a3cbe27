//! Fixtures are built at test time with the `openssl` command line tool, as in
//! security-reliability.md §1.3. Without it the tests fail; they are never skipped.

use super::certificate::codice_fiscale_from_serial_number;
use super::*;
use chrono::Duration;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use base64::Engine as _;
use openssl::x509::X509;

const CF: &str = "RSSMRA80A01H501U";

/// QCStatements (1.3.6.1.5.5.7.1.3) for openssl's extension files: QcCompliance, QcSSCD,
/// QcType esign.
const QC_STATEMENTS: &str = "DER:30:29:30:08:06:06:04:00:8E:46:01:01:30:08:06:06:04:00:8E:46:01:04:30:13:06:06:04:00:8E:46:01:06:30:09:06:07:04:00:8E:46:01:06:01";

/// Runs `openssl` in `dir` with the whitespace-separated arguments of `line` followed by
/// `tail` (for arguments that contain spaces, such as subjects). Fails the test, with a
/// clear message, if the tool is missing or the command fails.
fn openssl(dir: &Path, line: &str, tail: &[&str]) {
    let args: Vec<&str> = line
        .split_whitespace()
        .chain(tail.iter().copied())
        .collect();
    let output = Command::new("openssl")
        .args(&args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "these tests build their fixtures with the `openssl` command line tool, \
                 which could not be run ({error}); install it (Debian: apt-get install openssl)"
            )
        });
    assert!(
        output.status.success(),
        "`openssl {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temporary directory")
}

struct Identity {
    key: Vec<u8>,
    cert: Vec<u8>,
}

struct Pki {
    ca_key: Vec<u8>,
    ca_pem: Vec<u8>,
    other_ca_pem: Vec<u8>,
    /// serialNumber=TINIT-RSSMRA80A01H501U, keyUsage nonRepudiation, 30 days.
    signer: Identity,
    /// The same key, with a subjectKeyIdentifier (for `-keyid` signatures).
    signer_with_ski: Identity,
    /// serialNumber=tinit-bncgli85m41f205w (lower case on purpose).
    other_tin: Identity,
    /// Valid for one day from now.
    short_lived: Identity,
    /// A qualified certificate: QCStatements (QcCompliance, QcSSCD, QcType esign) and
    /// nonRepudiation, issued by the test CA.
    qualified: Identity,
    /// As `qualified`, with keyUsage digitalSignature instead of nonRepudiation.
    qualified_without_non_repudiation: Identity,
    /// Self-signed, with everything a qualified certificate says (`openssl req -x509`).
    self_signed: Identity,
    /// Issued by the other CA, with everything a qualified certificate says.
    other_ca_qualified: Identity,
    /// As `qualified`, valid for one day from now.
    qualified_short: Identity,
    /// A timestamping unit issued by the test CA (extendedKeyUsage critical timeStamping).
    tsa: Identity,
}

/// The test PKI, built once per test run.
fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(make_pki)
}

fn make_pki() -> Pki {
    let dir = tempdir();
    let dir = dir.path();
    let read = |name: &str| std::fs::read(dir.join(name)).expect("fixture file");
    let make_ca = |name: &str, subject: &str| {
        let line = format!(
            "req -x509 -newkey rsa:2048 -nodes -days 30 -keyout {name}.key -out {name}.pem \
             -addext basicConstraints=critical,CA:TRUE \
             -addext keyUsage=critical,keyCertSign,cRLSign -subj"
        );
        openssl(dir, &line, &[subject]);
    };
    make_ca("ca", "/C=IT/O=Test CA/CN=Test QCA");
    make_ca("other-ca", "/C=IT/O=Other CA/CN=Other QCA");

    // `new_key: false` reuses the key of the main signer (s.key).
    let issue = |name: &str, subject: &str, days: &str, extensions: &str, new_key: bool| {
        let key = if new_key {
            let key = format!("{name}.key");
            let line = format!("req -newkey rsa:2048 -nodes -keyout {key} -out {name}.csr -subj");
            openssl(dir, &line, &[subject]);
            key
        } else {
            openssl(
                dir,
                &format!("req -new -key s.key -out {name}.csr -subj"),
                &[subject],
            );
            "s.key".to_owned()
        };
        std::fs::write(dir.join(format!("{name}.cnf")), extensions).expect("extension file");
        let line = format!(
            "x509 -req -in {name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days {days} \
             -extfile {name}.cnf -out {name}.pem"
        );
        openssl(dir, &line, &[]);
        Identity {
            key: read(&key),
            cert: read(&format!("{name}.pem")),
        }
    };
    let ext = "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n";
    let mario = "/C=IT/GN=Mario/SN=Rossi/CN=Mario Rossi/serialNumber=TINIT-RSSMRA80A01H501U";
    let signer = issue("s", mario, "30", ext, true);
    let signer_with_ski = issue(
        "ski",
        mario,
        "30",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\nsubjectKeyIdentifier=hash\n",
        false,
    );
    let other_tin = issue(
        "other",
        "/C=IT/GN=Giulia/SN=Bianchi/CN=Giulia Bianchi/serialNumber=tinit-bncgli85m41f205w",
        "30",
        ext,
        true,
    );
    let short_lived = issue(
        "short",
        "/C=IT/CN=Luca Verdi/serialNumber=TINIT-VRDLCU80A01H501X",
        "1",
        ext,
        true,
    );
    let qc = format!("1.3.6.1.5.5.7.1.3={QC_STATEMENTS}\n");
    let mario_q = "/C=IT/CN=Mario Rossi/serialNumber=TINIT-RSSMRA80A01H501U";
    let qualified = issue(
        "q",
        mario_q,
        "30",
        &format!("basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n{qc}"),
        true,
    );
    let qualified_short = issue(
        "qs",
        mario_q,
        "1",
        &format!("basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n{qc}"),
        true,
    );
    let tsa = issue(
        "tsa",
        "/C=IT/O=Test CA/CN=Test TSA",
        "30",
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
         extendedKeyUsage=critical,timeStamping\nsubjectKeyIdentifier=hash\n",
        true,
    );
    let qualified_without_non_repudiation = issue(
        "qnr",
        mario_q,
        "30",
        &format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{qc}"),
        true,
    );
    std::fs::write(
        dir.join("self.cnf"),
        format!("[req]\ndistinguished_name=dn\n[dn]\n[v3]\nkeyUsage=critical,nonRepudiation\n{qc}"),
    )
    .expect("config");
    let line = "req -x509 -newkey rsa:2048 -nodes -days 30 -keyout self.key -out self.pem \
                -config self.cnf -extensions v3 -subj";
    openssl(dir, line, &[mario_q]);
    let self_signed = Identity {
        key: read("self.key"),
        cert: read("self.pem"),
    };
    std::fs::write(
        dir.join("oq.cnf"),
        format!("basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n{qc}"),
    )
    .expect("extension file");
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -keyout oq.key -out oq.csr -subj",
        &[mario_q],
    );
    let line = "x509 -req -in oq.csr -CA other-ca.pem -CAkey other-ca.key -CAcreateserial \
                -days 30 -extfile oq.cnf -out oq.pem";
    openssl(dir, line, &[]);
    let other_ca_qualified = Identity {
        key: read("oq.key"),
        cert: read("oq.pem"),
    };
    Pki {
        qualified_short,
        tsa,
        qualified,
        qualified_without_non_repudiation,
        self_signed,
        other_ca_qualified,
        ca_key: read("ca.key"),
        ca_pem: read("ca.pem"),
        other_ca_pem: read("other-ca.pem"),
        signer,
        signer_with_ski,
        other_tin,
        short_lived,
    }
}

/// `openssl cms -sign -binary -md sha256` of `content` with `id`, plus the options in
/// `extra` (whitespace-separated).
fn cms_sign(id: &Identity, content: &[u8], extra: &str) -> Vec<u8> {
    cms_sign_by(&[id], content, extra)
}

/// As [`cms_sign`], with one SignerInfo per identity.
fn cms_sign_by(ids: &[&Identity], content: &[u8], extra: &str) -> Vec<u8> {
    let dir = tempdir();
    let path = dir.path();
    std::fs::write(path.join("content.bin"), content).expect("write content");
    let mut line = "cms -sign -binary -md sha256 -in content.bin -out signed.bin".to_owned();
    for (i, id) in ids.iter().enumerate() {
        std::fs::write(path.join(format!("signer{i}.pem")), &id.cert).expect("write cert");
        std::fs::write(path.join(format!("signer{i}.key")), &id.key).expect("write key");
        line.push_str(&format!(" -signer signer{i}.pem -inkey signer{i}.key"));
    }
    line.push(' ');
    line.push_str(extra);
    openssl(path, &line, &[]);
    std::fs::read(path.join("signed.bin")).expect("read signature")
}

/// A CAdES `.p7m` (DER), as in security-reliability.md §1.3.
fn p7m(id: &Identity, content: &[u8]) -> Vec<u8> {
    cms_sign(id, content, "-nodetach -cades -outform DER")
}

/// A small PDF with binary bytes, CR LF and NUL in it.
fn sample_pdf() -> Vec<u8> {
    let mut pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n".to_vec();
    pdf.extend(b"2 0 obj\n<< /Length 256 >>\nstream\n");
    pdf.extend(0..=255u8);
    pdf.extend(b"\r\nendstream\r\nendobj\r\ntrailer\n<< /Root 1 0 R >>\n%%EOF\r\n");
    pdf
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn assert_mario(signer: &Signer) {
    assert_eq!(signer.codice_fiscale.as_deref(), Some(CF));
    assert_eq!(
        signer.serial_number_raw.as_deref(),
        Some("TINIT-RSSMRA80A01H501U")
    );
    assert_eq!(signer.common_name.as_deref(), Some("Mario Rossi"));
    assert!(signer.non_repudiation);
    assert_eq!(signer.issuer, "CN=Test QCA,O=Test CA,C=IT");
    assert!(signer.not_before <= now() && now() <= signer.not_after);
    assert!(signer.not_after - signer.not_before >= Duration::days(29));
}

fn base64_lines(der: &[u8], line_end: &str) -> Vec<u8> {
    let text = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|chunk| std::str::from_utf8(chunk).expect("ascii"))
        .collect();
    let mut out = lines.join(line_end);
    out.push_str(line_end);
    out.into_bytes()
}

/// Deterministic pseudo-random bytes.
fn noise(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (state >> 33) as u8
        })
        .collect()
}

// ----- sniff -------------------------------------------------------------------------

#[test]
fn sniff_recognises_file_kinds_by_content() {
    let pki = pki();
    let der = p7m(&pki.signer, b"ciao");
    assert_eq!(sniff(&sample_pdf()), FileKind::Pdf);
    assert_eq!(sniff(b"\xEF\xBB\xBF \r\n\t%PDF-1.4\n"), FileKind::Pdf);
    let mut padded = vec![b' '; 1000];
    padded.extend(b"%PDF-1.4");
    assert_eq!(sniff(&padded), FileKind::Pdf);
    let mut too_far = vec![b' '; 1100];
    too_far.extend(b"%PDF-1.4");
    assert_eq!(sniff(&too_far), FileKind::Other);
    assert_eq!(sniff(b"garbage %PDF-1.4"), FileKind::Other);
    assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\x00\x10JFIF"), FileKind::Jpeg);
    assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), FileKind::Png);
    assert_eq!(sniff(&der), FileKind::P7m);
    assert_eq!(sniff(&base64_lines(&der, "\r\n")), FileKind::P7m);
    let pem = cms_sign(&pki.signer, b"ciao", "-nodetach -cades -outform PEM");
    assert_eq!(sniff(&pem), FileKind::P7m);
    assert_eq!(
        sniff(&der[..40]),
        FileKind::P7m,
        "a truncated p7m is still a p7m"
    );
    assert_eq!(sniff(b""), FileKind::Other);
    assert_eq!(
        sniff(b"Gentile avvocato, allego l'istanza."),
        FileKind::Other
    );
    assert_eq!(
        sniff(b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo="),
        FileKind::Other
    );
    // A DER SEQUENCE that is not signedData (a certificate).
    let cert = X509::from_pem(&pki.signer.cert).unwrap().to_der().unwrap();
    assert_eq!(sniff(&cert), FileKind::Other);
    assert_eq!(sniff(&noise(4096)), FileKind::Other);
}

// ----- CAdES -------------------------------------------------------------------------

#[test]
fn der_p7m_verifies_and_yields_the_original_content() {
    let pki = pki();
    let pdf = sample_pdf();
    let der = p7m(&pki.signer, &pdf);
    let report = verify_cades(&der, now()).expect("valid p7m");
    assert_eq!(report.format, SignatureFormat::Cades);
    assert_eq!(report.nesting, 1);
    assert_eq!(report.content.as_deref(), Some(&pdf[..]));
    assert_eq!(report.signers.len(), 1);
    assert_mario(&report.signers[0]);
    assert_eq!(verify(&der, now()), Ok(report));
}

#[test]
fn base64_p7m_verifies() {
    let pki = pki();
    let pdf = sample_pdf();
    let der = p7m(&pki.signer, &pdf);
    for text in [
        base64_lines(&der, "\r\n"),
        base64_lines(&der, "\n"),
        base64::engine::general_purpose::STANDARD
            .encode(&der)
            .into_bytes(),
    ] {
        let report = verify(&text, now()).expect("valid base64 p7m");
        assert_eq!(report.content.as_deref(), Some(&pdf[..]));
        assert_eq!(report.signers[0].codice_fiscale.as_deref(), Some(CF));
    }
}

#[test]
fn pem_p7m_verifies() {
    let pki = pki();
    let pdf = sample_pdf();
    let pem = cms_sign(&pki.signer, &pdf, "-nodetach -cades -outform PEM");
    assert!(pem.starts_with(b"-----BEGIN CMS-----"));
    let report = verify(&pem, now()).expect("valid PEM p7m");
    assert_eq!(report.content.as_deref(), Some(&pdf[..]));
    assert_mario(&report.signers[0]);
}

#[test]
fn double_nested_p7m_is_unwrapped() {
    let pki = pki();
    let pdf = sample_pdf();
    let inner = p7m(&pki.signer, &pdf);
    let outer = p7m(&pki.other_tin, &inner);
    let report = verify(&outer, now()).expect("valid .p7m.p7m");
    assert_eq!(report.nesting, 2);
    assert_eq!(report.content.as_deref(), Some(&pdf[..]));
    let codes: Vec<_> = report
        .signers
        .iter()
        .map(|s| s.codice_fiscale.as_deref())
        .collect();
    assert_eq!(
        codes,
        [Some("BNCGLI85M41F205W"), Some(CF)],
        "outermost first"
    );

    // An inner envelope in base64 is unwrapped too.
    let outer = p7m(&pki.signer, &base64_lines(&inner, "\r\n"));
    let report = verify(&outer, now()).expect("valid p7m of a base64 p7m");
    assert_eq!(report.nesting, 2);
    assert_eq!(report.content.as_deref(), Some(&pdf[..]));
}

#[test]
fn nesting_is_bounded() {
    let pki = pki();
    let pdf = sample_pdf();
    let mut envelope = pdf.clone();
    for _ in 0..3 {
        envelope = p7m(&pki.signer, &envelope);
    }
    let report = verify(&envelope, now()).expect("three envelopes are accepted");
    assert_eq!(report.nesting, 3);
    assert_eq!(report.signers.len(), 3);
    assert_eq!(report.content.as_deref(), Some(&pdf[..]));

    let four = p7m(&pki.signer, &envelope);
    assert_eq!(verify(&four, now()), Err(SignatureError::TooDeep));
}

#[test]
fn tampered_content_is_invalid() {
    let pki = pki();
    let content = b"Istanza di ammissione al patrocinio a spese dello Stato".to_vec();
    let mut der = p7m(&pki.signer, &content);
    let at = find(&der, &content).expect("content is encapsulated") + 10;
    der[at] ^= 0x01;
    assert_eq!(verify_cades(&der, now()), Err(SignatureError::Invalid));
    assert_eq!(verify(&der, now()), Err(SignatureError::Invalid));
}

#[test]
fn tampered_signature_is_invalid() {
    let pki = pki();
    let mut der = p7m(&pki.signer, b"ciao");
    // The signature value is the last element: flip a byte near the end.
    let at = der.len() - 20;
    der[at] ^= 0x01;
    assert_eq!(verify_cades(&der, now()), Err(SignatureError::Invalid));
}

#[test]
fn ber_indefinite_length_p7m_verifies() {
    let pki = pki();
    let pdf = sample_pdf();
    let ber = cms_sign(&pki.signer, &pdf, "-nodetach -cades -stream -outform DER");
    assert_eq!(
        &ber[..2],
        &[0x30, 0x80],
        "openssl -stream writes indefinite lengths"
    );
    let report = verify(&ber, now()).expect("valid BER p7m");
    assert_eq!(report.content.as_deref(), Some(&pdf[..]));
    assert_mario(&report.signers[0]);
}

#[test]
fn parallel_signers_are_all_reported() {
    let pki = pki();
    let der = cms_sign_by(
        &[&pki.signer, &pki.other_tin],
        b"ciao",
        "-nodetach -cades -outform DER",
    );
    let report = verify(&der, now()).expect("valid p7m with two signers");
    assert_eq!(report.nesting, 1);
    let codes: Vec<_> = report
        .signers
        .iter()
        .map(|s| s.codice_fiscale.as_deref())
        .collect();
    assert_eq!(codes, [Some(CF), Some("BNCGLI85M41F205W")]);
    // One expired signer is enough to refuse the file.
    let der = cms_sign_by(
        &[&pki.signer, &pki.short_lived],
        b"ciao",
        "-nodetach -cades -outform DER",
    );
    assert!(verify(&der, now()).is_ok());
    assert_eq!(
        verify(&der, now() + Duration::days(100)),
        Err(SignatureError::Expired)
    );
}

/// Two certificates for the same key with the same issuer and serial number, differing
/// only in the codice fiscale. Swapping one for the other in the CMS leaves every
/// signature valid; only the ESS signingCertificateV2 attribute reveals the swap.
#[test]
fn substituted_signer_certificate_is_invalid() {
    let pki = pki();
    let dir = tempdir();
    let path = dir.path();
    std::fs::write(path.join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(path.join("ca.key"), &pki.ca_key).unwrap();
    std::fs::write(path.join("s.key"), &pki.signer.key).unwrap();
    std::fs::write(
        path.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n",
    )
    .unwrap();
    let mut certs = Vec::new();
    for code in ["RSSMRA80A01H501U", "RSSMRA80A01H501X"] {
        let subject = format!("/C=IT/CN=Mario Rossi/serialNumber=TINIT-{code}");
        openssl(path, "req -new -key s.key -out x.csr -subj", &[&subject]);
        let line = "x509 -req -in x.csr -CA ca.pem -CAkey ca.key -set_serial 4242 -days 30 \
                    -extfile ext.cnf -out x.pem";
        openssl(path, line, &[]);
        certs.push(std::fs::read(path.join("x.pem")).unwrap());
    }
    let genuine = Identity {
        key: pki.signer.key.clone(),
        cert: certs[0].clone(),
    };
    let der = p7m(&genuine, b"ciao");
    assert_eq!(
        verify(&der, now()).unwrap().signers[0]
            .codice_fiscale
            .as_deref(),
        Some(CF)
    );
    let genuine_der = X509::from_pem(&certs[0]).unwrap().to_der().unwrap();
    let forged_der = X509::from_pem(&certs[1]).unwrap().to_der().unwrap();
    assert_eq!(genuine_der.len(), forged_der.len());
    let at = find(&der, &genuine_der).expect("certificate in the CMS");
    let mut swapped = der.clone();
    swapped[at..at + forged_der.len()].copy_from_slice(&forged_der);
    assert_eq!(verify(&swapped, now()), Err(SignatureError::Invalid));
}

#[test]
fn another_tinit_is_reported_uppercased() {
    let pki = pki();
    let der = p7m(&pki.other_tin, b"ciao");
    let report = verify(&der, now()).expect("valid p7m");
    let signer = &report.signers[0];
    assert_eq!(signer.codice_fiscale.as_deref(), Some("BNCGLI85M41F205W"));
    assert_eq!(
        signer.serial_number_raw.as_deref(),
        Some("tinit-bncgli85m41f205w")
    );
    assert_eq!(signer.common_name.as_deref(), Some("Giulia Bianchi"));
}

#[test]
fn expired_or_not_yet_valid_certificate_is_refused() {
    let pki = pki();
    let der = p7m(&pki.short_lived, b"ciao");
    let report = verify(&der, now()).expect("valid today");
    assert_eq!(
        report.signers[0].codice_fiscale.as_deref(),
        Some("VRDLCU80A01H501X")
    );
    let later = now() + Duration::days(400);
    assert_eq!(verify(&der, later), Err(SignatureError::Expired));
    let earlier = now() - Duration::days(10);
    assert_eq!(verify(&der, earlier), Err(SignatureError::Expired));
    // Integrity is checked first: a tampered file with an expired certificate is Invalid.
    let mut tampered = p7m(&pki.short_lived, b"Istanza di ammissione");
    let at = find(&tampered, b"Istanza").expect("content");
    tampered[at] ^= 0x01;
    assert_eq!(verify(&tampered, later), Err(SignatureError::Invalid));
}

#[test]
fn signer_identified_by_subject_key_identifier_is_found() {
    let pki = pki();
    let der = cms_sign(
        &pki.signer_with_ski,
        b"ciao",
        "-nodetach -cades -keyid -outform DER",
    );
    let report = verify(&der, now()).expect("valid p7m with a key identifier");
    assert_mario(&report.signers[0]);
}

#[test]
fn not_cms_is_not_signed() {
    let pdf = sample_pdf();
    assert_eq!(verify(&pdf, now()), Err(SignatureError::NotSigned));
    assert_eq!(verify_cades(&pdf, now()), Err(SignatureError::NotSigned));
    assert_eq!(verify_pades(&pdf, now()), Err(SignatureError::NotSigned));
    let random = noise(4096);
    assert_eq!(verify(&random, now()), Err(SignatureError::NotSigned));
    assert_eq!(verify_cades(&random, now()), Err(SignatureError::NotSigned));
    assert_eq!(verify(b"", now()), Err(SignatureError::NotSigned));
    assert_eq!(
        verify(b"\xFF\xD8\xFF\xE0\x00\x10JFIF", now()),
        Err(SignatureError::NotSigned)
    );
    // Looks like a p7m (SEQUENCE + signedData OID) but is garbage after that.
    let mut fake = vec![0x30, 0x82, 0x10, 0x00];
    fake.extend_from_slice(OID_SIGNED_DATA);
    fake.extend(noise(4096));
    assert_eq!(verify(&fake, now()), Err(SignatureError::Malformed));
    // A certificates-only SignedData (no SignerInfo) is not a signature.
    let dir = tempdir();
    std::fs::write(dir.path().join("s.pem"), &pki().signer.cert).unwrap();
    let line = "crl2pkcs7 -nocrl -certfile s.pem -outform DER -out c.p7c";
    openssl(dir.path(), line, &[]);
    let certs_only = std::fs::read(dir.path().join("c.p7c")).unwrap();
    assert_eq!(sniff(&certs_only), FileKind::P7m);
    assert_eq!(verify(&certs_only, now()), Err(SignatureError::NotSigned));
}

#[test]
fn truncated_or_undecodable_p7m_is_malformed() {
    let pki = pki();
    let der = p7m(&pki.signer, &sample_pdf());
    for len in [20, der.len() / 2, der.len() - 1] {
        assert_eq!(
            verify(&der[..len], now()),
            Err(SignatureError::Malformed),
            "truncated at {len}"
        );
    }
    let mut text = base64_lines(&der, "\n");
    let middle = text.len() / 2;
    text[middle] = b'*';
    assert_eq!(verify(&text, now()), Err(SignatureError::Malformed));
    let mut text = base64_lines(&der, "\n");
    text.truncate(text.len() / 2 + 1);
    assert_eq!(verify(&text, now()), Err(SignatureError::Malformed));
    // A detached signature given as a .p7m has no content to return.
    let detached = cms_sign(&pki.signer, b"ciao", "-cades -outform DER");
    assert_eq!(verify(&detached, now()), Err(SignatureError::Malformed));
    // PEM without its footer.
    let pem = cms_sign(&pki.signer, b"ciao", "-nodetach -cades -outform PEM");
    let cut = find(&pem, b"-----END").expect("footer");
    assert_eq!(verify(&pem[..cut], now()), Err(SignatureError::Malformed));
}

#[test]
fn oversized_input_is_refused() {
    let mut big = b"%PDF-1.7\n".to_vec();
    big.resize(MAX_INPUT_BYTES + 1, b' ');
    assert_eq!(verify(&big, now()), Err(SignatureError::Malformed));
    big[..9].copy_from_slice(&[0x30, 0x80, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7]);
    assert_eq!(verify_cades(&big, now()), Err(SignatureError::Malformed));
}

// ----- PAdES -------------------------------------------------------------------------

/// Bytes reserved for the CMS in /Contents.
const PLACEHOLDER_BYTES: usize = 8192;
const BYTE_RANGE_PLACEHOLDER: &str = "[0 0000000000 0000000000 0000000000]";

/// A minimal valid PDF with a signature field whose /Contents is zero-filled.
fn unsigned_pdf(sub_filter: &str) -> Vec<u8> {
    let zeros = "0".repeat(2 * PLACEHOLDER_BYTES);
    let page = "BT /F1 12 Tf 72 720 Td (Istanza di ammissione) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 6 0 R \
         /Annots [4 0 R] >>"
            .to_owned(),
        "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Firma difensore) /Rect [0 0 0 0] \
         /F 132 /P 3 0 R /V 5 0 R >>"
            .to_owned(),
        // /Contents before /ByteRange, and a nested dictionary between them, so that
        // the search for the enclosing dictionary has work to do.
        format!(
            "<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /{sub_filter} \
             /Contents <{zeros}> /Prop_Build << /App << /Name /Patrocinio >> >> \
             /ByteRange {BYTE_RANGE_PLACEHOLDER} /M (D:20250101120000+01'00') \
             /Name (Avv. Mario Rossi \\(test\\) >>) >>"
        ),
        format!("<< /Length {} >>\nstream\n{page}\nendstream", page.len()),
    ];
    let mut pdf = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (number, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend(format!("{} 0 obj\n{body}\nendobj\n", number + 1).bytes());
    }
    let xref = pdf.len();
    pdf.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for offset in offsets {
        pdf.extend(format!("{offset:010} 00000 n \n").bytes());
    }
    pdf.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    pdf
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// A minimal PDF signed once.
fn signed_pdf(id: &Identity, sub_filter: &str, cades: bool) -> Vec<u8> {
    sign_last_placeholder(unsigned_pdf(sub_filter), id, cades)
}

/// Fills in the last /ByteRange placeholder and signs the bytes it covers with a
/// detached CMS, written into the last /Contents placeholder.
fn sign_last_placeholder(pdf: Vec<u8>, id: &Identity, cades: bool) -> Vec<u8> {
    let options = if cades {
        "-cades -outform DER"
    } else {
        "-outform DER"
    };
    sign_last_placeholder_with(pdf, id, options)
}

/// As [`sign_last_placeholder`], with the `openssl cms -sign` options given.
fn sign_last_placeholder_with(mut pdf: Vec<u8>, id: &Identity, options: &str) -> Vec<u8> {
    let b = rfind(&pdf, b"/Contents <").expect("contents") + "/Contents ".len();
    let c = b + 2 * PLACEHOLDER_BYTES + 2;
    assert_eq!(pdf[c - 1], b'>');
    let d = pdf.len() - c;
    let range = format!("[0 {b:<10} {c:<10} {d:<10}]");
    assert_eq!(range.len(), BYTE_RANGE_PLACEHOLDER.len());
    let at = rfind(&pdf, BYTE_RANGE_PLACEHOLDER.as_bytes()).expect("byte range");
    pdf[at..at + range.len()].copy_from_slice(range.as_bytes());

    let covered = [&pdf[..b], &pdf[c..]].concat();
    let signature = cms_sign(id, &covered, options);
    let hex: String = signature.iter().map(|x| format!("{x:02X}")).collect();
    assert!(hex.len() <= 2 * PLACEHOLDER_BYTES, "placeholder too small");
    pdf[b + 1..b + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    pdf
}

#[test]
fn pades_pdf_verifies_and_reports_the_signer() {
    let pki = pki();
    let pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
    assert_eq!(sniff(&pdf), FileKind::Pdf);
    let report = verify_pades(&pdf, now()).expect("valid PAdES");
    assert_eq!(report.format, SignatureFormat::Pades);
    assert_eq!(report.nesting, 0);
    assert_eq!(report.content, None);
    assert_eq!(report.signers.len(), 1);
    assert_mario(&report.signers[0]);
    assert_eq!(verify(&pdf, now()), Ok(report));

    // Trailing line ends after %%EOF do not matter.
    let mut with_newline = pdf.clone();
    with_newline.extend(b"\r\n");
    assert!(verify(&with_newline, now()).is_ok());
}

/// A second signature added by an incremental update covers the whole file; the first
/// covers the first revision. Both are verified.
#[test]
fn pades_with_two_signatures_reports_both() {
    let pki = pki();
    let mut pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
    let prev_xref = {
        let at = rfind(&pdf, b"startxref\n").expect("startxref") + "startxref\n".len();
        let digits = pdf[at..].iter().take_while(|x| x.is_ascii_digit()).count();
        String::from_utf8(pdf[at..at + digits].to_vec()).unwrap()
    };
    let offset = pdf.len();
    pdf.extend(
        format!(
            "7 0 obj\n<< /Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached \
             /ByteRange {BYTE_RANGE_PLACEHOLDER} /Contents <{}> >>\nendobj\n",
            "0".repeat(2 * PLACEHOLDER_BYTES)
        )
        .bytes(),
    );
    let xref = pdf.len();
    pdf.extend(
        format!(
            "xref\n0 1\n0000000000 65535 f \n7 1\n{offset:010} 00000 n \n\
             trailer\n<< /Size 8 /Root 1 0 R /Prev {prev_xref} >>\nstartxref\n{xref}\n%%EOF\n"
        )
        .bytes(),
    );
    let pdf = sign_last_placeholder(pdf, &pki.other_tin, true);
    let report = verify(&pdf, now()).expect("two valid signatures");
    let codes: Vec<_> = report
        .signers
        .iter()
        .map(|s| s.codice_fiscale.as_deref())
        .collect();
    assert_eq!(codes, [Some(CF), Some("BNCGLI85M41F205W")]);
    // A change in the first revision breaks both signatures.
    let mut tampered = pdf.clone();
    let at = find(&tampered, b"595 842").expect("media box") + 6;
    tampered[at] = b'3';
    assert_eq!(verify(&tampered, now()), Err(SignatureError::Invalid));
}

#[test]
fn pades_with_adbe_pkcs7_detached_verifies() {
    let pki = pki();
    let pdf = signed_pdf(&pki.other_tin, "adbe.pkcs7.detached", false);
    let report = verify(&pdf, now()).expect("valid adbe.pkcs7.detached");
    assert_eq!(
        report.signers[0].codice_fiscale.as_deref(),
        Some("BNCGLI85M41F205W")
    );
}

#[test]
fn pades_modified_in_the_signed_range_is_invalid() {
    let pki = pki();
    let pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
    // A byte in the first range (before /Contents)...
    let mut first = pdf.clone();
    let at = find(&first, b"595 842").expect("media box") + 6;
    first[at] = b'3';
    assert_eq!(verify_pades(&first, now()), Err(SignatureError::Invalid));
    // ...and one in the second range (after /Contents).
    let mut second = pdf.clone();
    let at = find(&second, b"/Patrocinio").expect("app name") + 1;
    second[at] = b'Q';
    assert_eq!(verify(&second, now()), Err(SignatureError::Invalid));
}

#[test]
fn pades_with_content_appended_after_signing_is_invalid() {
    let pki = pki();
    let mut pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
    pdf.extend(b"7 0 obj\n<< /Type /Annot /Subtype /Text /Contents (aggiunto) >>\nendobj\n");
    assert_eq!(verify(&pdf, now()), Err(SignatureError::Invalid));
}

#[test]
fn pades_with_expired_certificate_is_refused() {
    let pki = pki();
    let pdf = signed_pdf(&pki.short_lived, "ETSI.CAdES.detached", true);
    assert!(verify(&pdf, now()).is_ok());
    assert_eq!(
        verify(&pdf, now() + Duration::days(400)),
        Err(SignatureError::Expired)
    );
}

#[test]
fn pades_with_unsupported_or_broken_signature_dictionary_is_malformed() {
    let pki = pki();
    let pdf = signed_pdf(&pki.signer, "adbe.pkcs7.sha1", true);
    assert_eq!(verify(&pdf, now()), Err(SignatureError::Malformed));
    // A ByteRange whose gap is not the /Contents string.
    let mut pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
    let at = find(&pdf, b"/ByteRange [0 ").expect("byte range") + "/ByteRange [0 ".len();
    pdf[at] = b'9';
    assert_eq!(verify(&pdf, now()), Err(SignatureError::Malformed));
    // The placeholder left unsigned (all zeros).
    let unsigned = unsigned_pdf("ETSI.CAdES.detached");
    assert_eq!(verify(&unsigned, now()), Err(SignatureError::Malformed));
}

// ----- chain verification ------------------------------------------------------------

#[test]
fn chain_is_checked_against_the_given_ca() {
    let pki = pki();
    let der = p7m(&pki.signer, &sample_pdf());
    let report = verify_cades_with_ca(&der, now(), &pki.ca_pem).expect("chains to CA");
    assert_mario(&report.signers[0]);
    assert_eq!(
        verify_cades_with_ca(&der, now(), &pki.other_ca_pem),
        Err(SignatureError::Invalid)
    );
    assert_eq!(
        verify_cades_with_ca(&der, now(), b"not a certificate"),
        Err(SignatureError::Invalid)
    );
    // Both CAs in the bundle: accepted.
    let bundle = [&pki.other_ca_pem[..], &pki.ca_pem[..]].concat();
    assert!(verify_cades_with_ca(&der, now(), &bundle).is_ok());
    // Nested envelopes: every level is checked.
    let nested = p7m(&pki.signer, &der);
    assert!(verify_cades_with_ca(&nested, now(), &pki.ca_pem).is_ok());
    assert_eq!(
        verify_cades_with_ca(&nested, now(), &pki.other_ca_pem),
        Err(SignatureError::Invalid)
    );
    // Validity is still checked at `now` (and reported as Expired).
    let short = p7m(&pki.short_lived, b"ciao");
    assert_eq!(
        verify_cades_with_ca(&short, now() + Duration::days(400), &pki.ca_pem),
        Err(SignatureError::Expired)
    );
    // PAdES too.
    let pdf = signed_pdf(&pki.signer, "ETSI.CAdES.detached", true);
    assert!(verify_pades_with_ca(&pdf, now(), &pki.ca_pem).is_ok());
    assert_eq!(
        verify_pades_with_ca(&pdf, now(), &pki.other_ca_pem),
        Err(SignatureError::Invalid)
    );
}

/// Italian signing certificates usually have no S/MIME extended key usage: the chain
/// check must accept any purpose (the `-purpose any` gotcha of the CLI).
#[test]
fn chain_check_accepts_a_certificate_without_smime_key_purpose() {
    let pki = pki();
    let dir = tempdir();
    let path = dir.path();
    std::fs::write(path.join("ca.pem"), &pki.ca_pem).unwrap();
    std::fs::write(path.join("ca.key"), &pki.ca_key).unwrap();
    std::fs::write(path.join("s.key"), &pki.signer.key).unwrap();
    std::fs::write(
        path.join("ext.cnf"),
        "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n\
         extendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let subject = "/C=IT/CN=Mario Rossi/serialNumber=TINIT-RSSMRA80A01H501U";
    openssl(path, "req -new -key s.key -out x.csr -subj", &[subject]);
    let line = "x509 -req -in x.csr -CA ca.pem -CAkey ca.key -set_serial 77 -days 30 \
                -extfile ext.cnf -out x.pem";
    openssl(path, line, &[]);
    // The default S/MIME purpose refuses this certificate...
    let line = "cms -sign -binary -nodetach -cades -md sha256 -in ca.pem -signer x.pem \
                -inkey s.key -outform DER -out x.p7m";
    openssl(path, line, &[]);
    let refused = Command::new("openssl")
        .args([
            "cms", "-verify", "-binary", "-inform", "DER", "-in", "x.p7m",
        ])
        .args(["-CAfile", "ca.pem", "-out", "/dev/null"])
        .current_dir(path)
        .output()
        .expect("openssl");
    assert!(
        !refused.status.success(),
        "S/MIME purpose should refuse clientAuth"
    );
    // ...and this module accepts it.
    let der = std::fs::read(path.join("x.p7m")).unwrap();
    let report = verify_cades_with_ca(&der, now(), &pki.ca_pem).expect("any purpose");
    assert_eq!(report.signers[0].codice_fiscale.as_deref(), Some(CF));
}

/// An altered file is reported as altered even when a certificate is also expired.
#[test]
fn invalid_takes_precedence_over_expired_across_signatures() {
    let pki = pki();
    let later = now() + Duration::days(100);
    // Outer envelope by an expired certificate, inner envelope altered before it.
    let mut inner = p7m(&pki.signer, b"Istanza di ammissione");
    let at = find(&inner, b"Istanza").expect("content");
    inner[at] ^= 0x01;
    let outer = p7m(&pki.short_lived, &inner);
    assert_eq!(verify(&outer, later), Err(SignatureError::Invalid));
    // Untouched, the same pair is refused as expired.
    let outer = p7m(&pki.short_lived, &p7m(&pki.signer, b"ciao"));
    assert_eq!(verify(&outer, later), Err(SignatureError::Expired));
}

// ----- small pieces ------------------------------------------------------------------

#[test]
fn codice_fiscale_is_read_from_the_tin_semantics_identifier() {
    let cf = codice_fiscale_from_serial_number;
    assert_eq!(cf("TINIT-RSSMRA80A01H501U").as_deref(), Some(CF));
    assert_eq!(cf("tinit-rssmra80a01h501u").as_deref(), Some(CF));
    assert_eq!(cf(" TINIT-RSSMRA80A01H501U ").as_deref(), Some(CF));
    assert_eq!(cf("TINIT-01234567890").as_deref(), Some("01234567890"));
    assert_eq!(cf("VATIT-01234567890"), None);
    // The legacy form (CNIPA 45/2009), natural persons only.
    assert_eq!(cf("IT:RSSMRA80A01H501U").as_deref(), Some(CF));
    assert_eq!(cf("it:rssmra80a01h501u").as_deref(), Some(CF));
    assert_eq!(cf("IT:01234567890"), None);
    assert_eq!(cf("IT-RSSMRA80A01H501U"), None);
    assert_eq!(cf("RSSMRA80A01H501U"), None);
    assert_eq!(cf("TINIT-RSSMRA80A01H501"), None);
    assert_eq!(cf("TINIT-RSSMRA80A01H501U\0X"), None);
    assert_eq!(cf("TINIT-"), None);
    assert_eq!(cf("TIN"), None);
}

#[test]
fn messages_are_in_italian() {
    assert_eq!(
        SignatureError::NotSigned.to_string(),
        "Il file non risulta firmato digitalmente."
    );
    assert_eq!(
        SignatureError::Invalid.to_string(),
        "La firma digitale del file non risulta valida: il file potrebbe essere stato \
         modificato dopo la firma."
    );
    assert_eq!(
        SignatureError::Expired.to_string(),
        "Il certificato di firma del file è scaduto o non ancora valido."
    );
    assert_eq!(
        SignatureError::Malformed.to_string(),
        "Il file firmato non è leggibile: ricaricare il documento firmato correttamente."
    );
    assert_eq!(
        SignatureError::TooDeep.to_string(),
        "Il file contiene troppe buste di firma annidate."
    );
}

#[test]
fn report_debug_does_not_dump_the_content() {
    let report = SignatureReport {
        format: SignatureFormat::Cades,
        signers: Vec::new(),
        content: Some(vec![b'x'; 10_000]),
        nesting: 1,
        certificates: Vec::new(),
        revocation: RevocationData::default(),
    };
    let text = format!("{report:?}");
    assert!(text.contains("content_len: Some(10000)"), "{text}");
    assert!(text.len() < 250);
}

mod ltv;

// ----- qualification (the policy, with the trust anchors given in memory) ------------------

mod qualification {
    use super::*;
    use crate::documents::signature::qualified::{
        Anchor, NotQualified, Qscd, assess_report, lookup_keys,
    };
    use crate::documents::signature::trusted_list::{CA_QC, STATUS_PREFIX, StatusPeriod};

    fn period(starts_at: DateTime<Utc>, status: &str) -> StatusPeriod {
        StatusPeriod {
            starts_at,
            service_type: CA_QC.into(),
            status: format!("{STATUS_PREFIX}{status}"),
            qualifiers: Vec::new(),
            additional: Vec::new(),
        }
    }

    fn since_2020() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2020-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    /// The test CA as a CA/QC service with `history`.
    fn anchor(history: Vec<StatusPeriod>) -> Anchor {
        Anchor {
            label: "Test CA — Test QCA (IT)".into(),
            certificate: X509::from_pem(&pki().ca_pem).unwrap().to_der().unwrap(),
            history,
        }
    }

    fn granted() -> Vec<Anchor> {
        vec![anchor(vec![period(since_2020(), "granted")])]
    }

    fn reasons(bytes: &[u8], anchors: &[Anchor], received: DateTime<Utc>) -> Vec<NotQualified> {
        let report = verify(bytes, now()).expect("intact signature");
        assess_report(&report, anchors, received, &[])
            .into_iter()
            .flat_map(|a| a.reasons)
            .collect()
    }

    #[test]
    fn a_qualified_cades_signature_is_qualified() {
        let der = p7m(&pki().qualified, &sample_pdf());
        let report = verify(&der, now()).unwrap();
        let [a] = assess_report(&report, &granted(), now(), &[])
            .try_into()
            .unwrap();
        assert!(a.qualified, "{:?}", a.reasons);
        assert!(a.qc_compliance && a.non_repudiation);
        assert_eq!(a.qscd, Qscd::Certificate);
        assert_eq!(a.service.as_deref(), Some("Test CA — Test QCA (IT)"));
        // openssl writes a signingTime attribute: it is the signing time.
        assert_eq!(
            a.signing_time_source,
            SigningTimeSource::SigningTimeAttribute
        );
        assert!((now() - a.signing_time).num_minutes().abs() < 5);
        // The trust store is searched by the issuer's name.
        let keys = lookup_keys(&report);
        let ca = X509::from_pem(&pki().ca_pem).unwrap();
        let subject = hex::encode(openssl::sha::sha256(&ca.subject_name().to_der().unwrap()));
        assert!(keys.subject_sha256.contains(&subject));
    }

    #[test]
    fn a_qualified_pades_signature_is_qualified() {
        let pdf = signed_pdf(&pki().qualified, "ETSI.CAdES.detached", true);
        assert_eq!(reasons(&pdf, &granted(), now()), []);
        let pdf = signed_pdf(&pki().qualified, "adbe.pkcs7.detached", false);
        assert_eq!(reasons(&pdf, &granted(), now()), []);
    }

    #[test]
    fn a_self_signed_certificate_is_not_qualified() {
        let der = p7m(&pki().self_signed, b"ciao");
        // Intact, and it says all the right things...
        let report = verify(&der, now()).unwrap();
        assert_eq!(report.signers[0].codice_fiscale.as_deref(), Some(CF));
        // ...but no trusted list vouches for who made it.
        assert_eq!(
            reasons(&der, &granted(), now()),
            [NotQualified::NoTrustedIssuer]
        );
        // Not even when the self-signed certificate itself were listed as a service of
        // another kind: the anchor must be a CA/QC service.
        let mut listed = anchor(vec![period(since_2020(), "granted")]);
        listed.certificate = X509::from_pem(&pki().self_signed.cert)
            .unwrap()
            .to_der()
            .unwrap();
        listed.history[0].service_type = "http://uri.etsi.org/TrstSvc/Svctype/TSA/QTST".into();
        assert!(matches!(
            reasons(&der, &[listed], now())[..],
            [NotQualified::ServiceNotGranted { .. }]
        ));
    }

    #[test]
    fn a_ca_not_in_the_list_is_not_qualified() {
        let der = p7m(&pki().other_ca_qualified, b"ciao");
        assert_eq!(
            reasons(&der, &granted(), now()),
            [NotQualified::NoTrustedIssuer]
        );
        assert_eq!(reasons(&der, &[], now()), [NotQualified::NoTrustedIssuer]);
    }

    #[test]
    fn a_service_withdrawn_before_the_signing_time_is_refused() {
        let withdrawn = vec![anchor(vec![
            period(since_2020(), "granted"),
            period(now() - Duration::days(1), "withdrawn"),
        ])];
        let der = p7m(&pki().qualified, b"ciao");
        let found = reasons(&der, &withdrawn, now());
        assert!(
            matches!(&found[..], [NotQualified::ServiceNotGranted { status, .. }] if status.contains("withdrawn")),
            "{found:?}"
        );
        assert!(
            found[0]
                .to_string()
                .contains("non risultava qualificato alla data")
        );
        // Withdrawn after the declared signing time but before the upload: still refused,
        // because a declared time is only the signer's word (no timestamp yet).
        let later = vec![anchor(vec![
            period(since_2020(), "granted"),
            period(now() + Duration::hours(1), "withdrawn"),
        ])];
        assert_eq!(reasons(&der, &later, now()), []);
        assert!(!reasons(&der, &later, now() + Duration::hours(2)).is_empty());
        // Granted only from tomorrow: not yet qualified.
        let future = vec![anchor(vec![period(now() + Duration::days(1), "granted")])];
        assert!(!reasons(&der, &future, now()).is_empty());
    }

    #[test]
    fn a_certificate_without_qc_compliance_is_not_qualified() {
        // pki().signer has nonRepudiation and a listed CA, but no QCStatements.
        let der = p7m(&pki().signer, b"ciao");
        assert_eq!(
            reasons(&der, &granted(), now()),
            [NotQualified::NoQcCompliance]
        );
    }

    #[test]
    fn a_certificate_without_non_repudiation_is_not_qualified() {
        let der = p7m(&pki().qualified_without_non_repudiation, b"ciao");
        let found = reasons(&der, &granted(), now());
        assert_eq!(found, [NotQualified::NoNonRepudiation]);
        assert_eq!(
            found[0].to_string(),
            "Il certificato di firma non consente la firma con valore legale (manca l'uso non ripudio)."
        );
    }

    #[test]
    fn a_signing_time_after_the_upload_is_not_believed() {
        let der = p7m(&pki().qualified, b"ciao");
        let report = verify(&der, now()).unwrap();
        let received = now() - Duration::hours(1);
        let [a] = assess_report(&report, &granted(), received, &[])
            .try_into()
            .unwrap();
        assert_eq!(a.signing_time_source, SigningTimeSource::Upload);
        assert_eq!(a.signing_time, received);
    }

    /// Without signed attributes (`-noattr`) there is no signingTime: the dictionary's `/M`
    /// is the signing time.
    #[test]
    fn a_pades_signature_without_signing_time_is_dated_by_its_m_entry() {
        let sign = |m: &str| {
            let mut pdf = unsigned_pdf("adbe.pkcs7.detached");
            let at = find(&pdf, b"D:20250101120000+01'00'").expect("/M");
            pdf[at..at + m.len()].copy_from_slice(m.as_bytes());
            let pdf = sign_last_placeholder_with(pdf, &pki().qualified, "-noattr -outform DER");
            let report = verify(&pdf, now()).unwrap();
            let [a] = assess_report(&report, &granted(), now(), &[])
                .try_into()
                .unwrap();
            a
        };
        // (The test certificates were made moments ago: a minute ahead is within their
        // validity and within the clock skew tolerated.)
        let soon = now() + Duration::minutes(1);
        let a = sign(&soon.format("D:%Y%m%d%H%M%S+00'00'").to_string());
        assert_eq!(a.signing_time_source, SigningTimeSource::PdfSignatureDate);
        assert_eq!(a.signing_time.timestamp(), soon.timestamp());
        assert!(a.qualified, "{:?}", a.reasons);
        // The 2025 date of the fixture is before the certificate existed.
        let a = sign("D:20250101120000+01'00'");
        assert_eq!(a.signing_time.to_rfc3339(), "2025-01-01T11:00:00+00:00");
        assert!(
            matches!(a.reasons[..], [NotQualified::NotValidAtSigningTime { .. }]),
            "{:?}",
            a.reasons
        );
    }

    #[test]
    fn pdf_signature_dates_are_read() {
        use crate::documents::signature::pdf_dict::parse_pdf_date;
        let t = |s: &str| parse_pdf_date(s).map(|d| d.to_rfc3339());
        assert_eq!(
            t("D:20250101120000+01'00'").as_deref(),
            Some("2025-01-01T11:00:00+00:00")
        );
        assert_eq!(
            t("D:20250101120000Z").as_deref(),
            Some("2025-01-01T12:00:00+00:00")
        );
        assert_eq!(
            t("D:20250101120000-05'30").as_deref(),
            Some("2025-01-01T17:30:00+00:00")
        );
        assert_eq!(t("D:2025").as_deref(), Some("2025-01-01T00:00:00+00:00"));
        assert_eq!(t("D:20251301"), None);
        assert_eq!(t("ieri"), None);
    }
}
