//! Signatures over time (issue 12, points 3 and 4): signature timestamps made by a test TSA
//! with `openssl ts`, CRLs with `openssl ca -gencrl`, OCSP responses with `openssl ocsp`,
//! PAdES files extended with a DSS dictionary and a document timestamp.

use super::*;
use crate::documents::signature::ber::{self, Reader};
use crate::documents::signature::qualified::{Anchor, NotQualified, TSA_QTST, assess_report};
use crate::documents::signature::revocation::{
    OID_REVOCATION_VALUES, RevocationSource, RevocationStatus, der,
};
use crate::documents::signature::timestamp::OID_SIGNATURE_TIMESTAMP;
use crate::documents::signature::trusted_list::{CA_QC, STATUS_PREFIX, StatusPeriod};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn period(starts_at: DateTime<Utc>, service_type: &str, status: &str) -> StatusPeriod {
    StatusPeriod {
        starts_at,
        service_type: service_type.into(),
        status: format!("{STATUS_PREFIX}{status}"),
        qualifiers: Vec::new(),
        additional: Vec::new(),
    }
}

fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    X509::from_pem(pem).unwrap().to_der().unwrap()
}

/// The test CA as a CA/QC service with `history`, and the test TSA as a granted QTST.
fn anchors(ca_history: Vec<StatusPeriod>) -> Vec<Anchor> {
    vec![
        Anchor {
            label: "Test CA — Test QCA (IT)".into(),
            certificate: pem_to_der(&pki().ca_pem),
            history: ca_history,
        },
        Anchor {
            label: "Test CA — Test TSA (IT)".into(),
            certificate: pem_to_der(&pki().tsa.cert),
            history: vec![period(at("2020-01-01T00:00:00Z"), TSA_QTST, "granted")],
        },
    ]
}

fn granted() -> Vec<StatusPeriod> {
    vec![period(at("2020-01-01T00:00:00Z"), CA_QC, "granted")]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).expect("fixture file");
}

/// An RFC 3161 token of the test TSA over `data` (`openssl ts -query` / `-reply`).
fn timestamp_token(data: &[u8]) -> Vec<u8> {
    let dir = tempdir();
    let dir = dir.path();
    write(dir, "data.bin", data);
    write(dir, "tsa.pem", &pki().tsa.cert);
    write(dir, "tsa.key", &pki().tsa.key);
    write(dir, "serial", b"01\n");
    write(
        dir,
        "ts.cnf",
        b"[tsa]\ndefault_tsa = t\n[t]\nserial = ./serial\nsigner_digest = sha256\n\
          default_policy = 1.2.3.4.1\ndigests = sha256\ness_cert_id_alg = sha256\n",
    );
    openssl(
        dir,
        "ts -query -data data.bin -sha256 -cert -no_nonce -out q.tsq",
        &[],
    );
    openssl(
        dir,
        "ts -reply -config ts.cnf -queryfile q.tsq -signer tsa.pem -inkey tsa.key \
         -token_out -out token.der",
        &[],
    );
    std::fs::read(dir.join("token.der")).expect("token")
}

/// Rebuilds a DER SignedData ContentInfo, letting `edit` change the SignedData's fields.
fn edit_signed_data(cms: &[u8], edit: impl FnOnce(&mut Vec<Vec<u8>>)) -> Vec<u8> {
    let (ci, _) = ber::read(cms).unwrap();
    let mut ci = Reader::new(ci.content);
    let oid = ci.next().unwrap().raw.to_vec();
    let explicit = ci.next().unwrap();
    let (sd, _) = ber::read(explicit.content).unwrap();
    let mut fields = Vec::new();
    let mut reader = Reader::new(sd.content);
    while !reader.is_empty() {
        fields.push(reader.next().unwrap().raw.to_vec());
    }
    edit(&mut fields);
    let sd = der(0x30, &fields.concat());
    der(0x30, &[oid, der(0xA0, &sd)].concat())
}

/// Adds an unsigned attribute to the first SignerInfo.
fn add_unsigned_attribute(cms: &[u8], oid: &[u8], value: &[u8]) -> Vec<u8> {
    edit_signed_data(cms, |fields| {
        let infos = fields.pop().unwrap();
        let (infos, _) = ber::read(&infos).unwrap();
        let mut reader = Reader::new(infos.content);
        let first = reader.next().unwrap();
        let mut rest = Vec::new();
        while !reader.is_empty() {
            rest.push(reader.next().unwrap().raw.to_vec());
        }
        let mut parts = Vec::new();
        let mut si = Reader::new(first.content);
        let mut unsigned = Vec::new();
        while !si.is_empty() {
            let part = si.next().unwrap();
            if part.tag == 0xA1 {
                unsigned = part.content.to_vec();
            } else {
                parts.push(part.raw.to_vec());
            }
        }
        let attribute = der(0x30, &[der(0x06, oid), der(0x31, value)].concat());
        unsigned.extend(attribute);
        parts.push(der(0xA1, &unsigned));
        let info = der(0x30, &parts.concat());
        fields.push(der(0x31, &[vec![info], rest].concat().concat()));
    })
}

/// Adds a CRL to the SignedData `crls` field.
fn add_crl_field(cms: &[u8], crl: &[u8]) -> Vec<u8> {
    edit_signed_data(cms, |fields| {
        let at = fields.len() - 1;
        fields.insert(at, der(0xA1, crl));
    })
}

/// The signature value of the first SignerInfo.
fn signature_value(cms: &[u8]) -> Vec<u8> {
    let view = cms_view::parse(cms).unwrap();
    view.signer_infos[0].signature.to_vec()
}

/// `cms` with a signature timestamp of the test TSA.
fn with_timestamp(cms: &[u8]) -> Vec<u8> {
    let token = timestamp_token(&signature_value(cms));
    add_unsigned_attribute(cms, OID_SIGNATURE_TIMESTAMP, &token)
}

/// A CRL of the test CA (`openssl ca -gencrl`), revoking `revoked`.
fn crl(revoked: &[&Identity]) -> Vec<u8> {
    let dir = tempdir();
    let dir = dir.path();
    write(dir, "ca.pem", &pki().ca_pem);
    write(dir, "ca.key", &pki().ca_key);
    write(dir, "index.txt", b"");
    write(dir, "crlnumber", b"01\n");
    write(
        dir,
        "ca.cnf",
        b"[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ncrlnumber = crlnumber\n\
          default_md = sha256\ndefault_crl_days = 7\ncertificate = ca.pem\nprivate_key = ca.key\n",
    );
    for (i, id) in revoked.iter().enumerate() {
        write(dir, &format!("r{i}.pem"), &id.cert);
        openssl(dir, &format!("ca -config ca.cnf -revoke r{i}.pem"), &[]);
    }
    openssl(dir, "ca -config ca.cnf -gencrl -out crl.pem", &[]);
    openssl(dir, "crl -in crl.pem -outform DER -out crl.der", &[]);
    std::fs::read(dir.join("crl.der")).expect("crl")
}

/// An OCSP response of the test CA about `id` (`openssl ocsp` as a one-shot responder);
/// `revoked` marks it revoked in the CA's index first.
fn ocsp_response(id: &Identity, revoked: bool) -> Vec<u8> {
    let dir = tempdir();
    let dir = dir.path();
    write(dir, "ca.pem", &pki().ca_pem);
    write(dir, "ca.key", &pki().ca_key);
    write(dir, "cert.pem", &id.cert);
    write(dir, "index.txt", b"");
    write(
        dir,
        "ca.cnf",
        b"[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\ndefault_md = sha256\n\
          certificate = ca.pem\nprivate_key = ca.key\n",
    );
    let mark = if revoked { "-revoke" } else { "-valid" };
    openssl(dir, &format!("ca -config ca.cnf {mark} cert.pem"), &[]);
    openssl(
        dir,
        "ocsp -issuer ca.pem -cert cert.pem -no_nonce -reqout req.der",
        &[],
    );
    openssl(
        dir,
        "ocsp -index index.txt -CA ca.pem -rsigner ca.pem -rkey ca.key -reqin req.der \
         -ndays 7 -respout resp.der",
        &[],
    );
    std::fs::read(dir.join("resp.der")).expect("ocsp response")
}

fn assess_one(
    bytes: &[u8],
    verify_at: DateTime<Utc>,
    anchors: &[Anchor],
    received: DateTime<Utc>,
) -> crate::documents::signature::qualified::Assessment {
    let report = verify(bytes, verify_at).expect("intact signature");
    let [a] = assess_report(&report, anchors, received, &[])
        .try_into()
        .unwrap();
    a
}

// ----- signature timestamps ---------------------------------------------------------------

#[test]
fn a_signature_timestamp_is_verified_over_the_signature_value() {
    let plain = p7m(&pki().qualified, b"istanza");
    let stamped = with_timestamp(&plain);
    let report = verify(&stamped, now()).expect("timestamped signature");
    let ts = report.signers[0]
        .timestamp
        .as_ref()
        .expect("timestamp read");
    assert_eq!(ts.tsa_name, "Test TSA");
    assert!((now() - ts.time).num_minutes().abs() < 5);
    assert_eq!(ts.tsa.0, pem_to_der(&pki().tsa.cert));
    // A token over something else (another signature's value) is refused.
    let other = p7m(&pki().signer, b"altro");
    let wrong = add_unsigned_attribute(
        &plain,
        OID_SIGNATURE_TIMESTAMP,
        &timestamp_token(&signature_value(&other)),
    );
    assert_eq!(verify(&wrong, now()), Err(SignatureError::Invalid));
    // So is a token whose signature was altered.
    let mut token = timestamp_token(&signature_value(&plain));
    let last = token.len() - 3;
    token[last] ^= 0x01;
    let broken = add_unsigned_attribute(&plain, OID_SIGNATURE_TIMESTAMP, &token);
    assert!(verify(&broken, now()).is_err());
}

#[test]
fn an_expired_certificate_with_a_timestamp_from_before_expiry_is_accepted() {
    let plain = p7m(&pki().qualified_short, b"istanza");
    let stamped = with_timestamp(&plain);
    // Three days later the one-day certificate has expired.
    let later = now() + Duration::days(3);
    assert_eq!(verify(&plain, later), Err(SignatureError::Expired));
    let a = assess_one(&stamped, later, &anchors(granted()), later);
    assert!(a.qualified, "{:?}", a.reasons);
    assert_eq!(a.signing_time_source, SigningTimeSource::Timestamp);
    assert!((now() - a.signing_time).num_minutes().abs() < 5);
    let check = a.timestamp.expect("timestamp reported");
    assert_eq!(check.service.as_deref(), Some("Test CA — Test TSA (IT)"));

    // The same timestamp from a TSA no list vouches for proves nothing: the certificate is
    // judged at the upload, when it had expired.
    let ca_only = &anchors(granted())[..1];
    let a = assess_one(&stamped, later, ca_only, later);
    assert!(
        matches!(
            a.reasons[..],
            [NotQualified::ExpiredWithoutTimestamp { .. }]
        ),
        "{:?}",
        a.reasons
    );
    assert_eq!(
        a.signing_time_source,
        SigningTimeSource::SigningTimeAttribute
    );
    assert_eq!(a.timestamp.and_then(|t| t.service), None);
    // Nor does a TSA listed as a CA/QC service (a timestamp needs a QTST service).
    let mut as_ca = anchors(granted());
    as_ca[1].history[0].service_type = CA_QC.into();
    let a = assess_one(&stamped, later, &as_ca, later);
    assert!(
        matches!(
            a.reasons[..],
            [NotQualified::ExpiredWithoutTimestamp { .. }]
        ),
        "{:?}",
        a.reasons
    );
}

#[test]
fn a_service_withdrawn_before_the_signing_time_is_refused_and_after_a_timestamp_is_not() {
    let plain = p7m(&pki().qualified, b"istanza");
    let stamped = with_timestamp(&plain);
    let received = now() + Duration::days(2);
    let withdrawn_tomorrow = vec![
        period(at("2020-01-01T00:00:00Z"), CA_QC, "granted"),
        period(now() + Duration::days(1), CA_QC, "withdrawn"),
    ];
    // Timestamped before the withdrawal: qualified.
    let a = assess_one(
        &stamped,
        now(),
        &anchors(withdrawn_tomorrow.clone()),
        received,
    );
    assert!(a.qualified, "{:?}", a.reasons);
    // Without the timestamp only the upload is proven, and by then it was withdrawn.
    let a = assess_one(&plain, now(), &anchors(withdrawn_tomorrow), received);
    assert!(matches!(
        a.reasons[..],
        [NotQualified::ServiceNotGranted { .. }]
    ));
    // Withdrawn before the timestamp: refused all the same.
    let withdrawn_yesterday = vec![
        period(at("2020-01-01T00:00:00Z"), CA_QC, "granted"),
        period(now() - Duration::days(1), CA_QC, "withdrawn"),
    ];
    let a = assess_one(&stamped, now(), &anchors(withdrawn_yesterday), received);
    assert!(matches!(
        a.reasons[..],
        [NotQualified::ServiceNotGranted { .. }]
    ));
}

// ----- revocation -------------------------------------------------------------------------

#[test]
fn without_revocation_data_the_result_says_revoca_non_verificata() {
    let der = p7m(&pki().qualified, b"istanza");
    let a = assess_one(&der, now(), &anchors(granted()), now());
    assert!(a.qualified);
    assert_eq!(a.revocation, RevocationStatus::NotChecked);
    assert_eq!(a.revocation.label(), "revoca non verificata");
    let report = verify(&der, now()).unwrap();
    let summary = crate::documents::SignatureSummary::new(&report, &[a]);
    let q = summary.signers[0].qualification.as_ref().unwrap();
    assert_eq!(q.revocation, "revoca non verificata");
}

#[test]
fn an_embedded_crl_revoking_the_certificate_is_refused() {
    let plain = p7m(&pki().qualified, b"istanza");
    let received = now() + Duration::hours(1);
    // In the SignedData `crls` field.
    let revoked = add_crl_field(&plain, &crl(&[&pki().qualified]));
    let a = assess_one(&revoked, now(), &anchors(granted()), received);
    assert!(!a.qualified);
    assert!(
        matches!(a.reasons[..], [NotQualified::Revoked { .. }]),
        "{:?}",
        a.reasons
    );
    assert!(matches!(
        a.revocation,
        RevocationStatus::Revoked {
            source: RevocationSource::EmbeddedCrl,
            ..
        }
    ));
    // In a CAdES revocationValues attribute.
    let values = der(0x30, &der(0xA0, &der(0x30, &crl(&[&pki().qualified]))));
    let revoked = add_unsigned_attribute(&plain, OID_REVOCATION_VALUES, &values);
    let a = assess_one(&revoked, now(), &anchors(granted()), received);
    assert!(
        matches!(a.reasons[..], [NotQualified::Revoked { .. }]),
        "{:?}",
        a.reasons
    );

    // A CRL of the same CA that revokes somebody else says the certificate is good.
    let good = add_crl_field(&plain, &crl(&[&pki().other_tin]));
    let a = assess_one(&good, now(), &anchors(granted()), received);
    assert!(a.qualified, "{:?}", a.reasons);
    assert!(matches!(
        a.revocation,
        RevocationStatus::Good {
            source: RevocationSource::EmbeddedCrl,
            ..
        }
    ));
    assert!(a.revocation.label().starts_with("non revocato al "));
    // A CRL signed by another CA is not believed.
    let mut forged = crl(&[]);
    let last = forged.len() - 2;
    forged[last] ^= 0x01;
    let a = assess_one(
        &add_crl_field(&plain, &forged),
        now(),
        &anchors(granted()),
        received,
    );
    assert_eq!(a.revocation, RevocationStatus::NotChecked);
}

#[test]
fn a_revocation_after_a_timestamped_signing_does_not_matter() {
    // Timestamped, then revoked (a second later at least: both times are in whole seconds):
    // accepted. Revoked, then timestamped: refused.
    let plain = p7m(&pki().qualified, b"istanza");
    let stamped_before = with_timestamp(&plain);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let crl = crl(&[&pki().qualified]);
    let received = now() + Duration::days(1);
    let a = assess_one(
        &add_crl_field(&stamped_before, &crl),
        now(),
        &anchors(granted()),
        received,
    );
    assert!(a.qualified, "{:?}", a.reasons);
    assert!(matches!(a.revocation, RevocationStatus::Revoked { .. }));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let stamped_after = with_timestamp(&plain);
    let a = assess_one(
        &add_crl_field(&stamped_after, &crl),
        now(),
        &anchors(granted()),
        received,
    );
    assert!(
        matches!(a.reasons[..], [NotQualified::Revoked { .. }]),
        "{:?}",
        a.reasons
    );
}

#[test]
fn embedded_ocsp_responses_are_verified_and_used() {
    let plain = p7m(&pki().qualified, b"istanza");
    let received = now() + Duration::hours(1);
    // adbe-revocationInfoArchival is a signed attribute: put it in an unsigned one's form,
    // the CAdES revocationValues, as a BasicOCSPResponse.
    let basic = |response: &[u8]| -> Vec<u8> {
        let r = OcspBasic::of(response);
        der(0x30, &der(0xA1, &der(0x30, &r)))
    };
    let good = add_unsigned_attribute(
        &plain,
        OID_REVOCATION_VALUES,
        &basic(&ocsp_response(&pki().qualified, false)),
    );
    let a = assess_one(&good, now(), &anchors(granted()), received);
    assert!(
        matches!(
            a.revocation,
            RevocationStatus::Good {
                source: RevocationSource::EmbeddedOcsp,
                ..
            }
        ),
        "{:?}",
        a.revocation
    );
    let revoked = add_unsigned_attribute(
        &plain,
        OID_REVOCATION_VALUES,
        &basic(&ocsp_response(&pki().qualified, true)),
    );
    let a = assess_one(&revoked, now(), &anchors(granted()), received);
    assert!(
        matches!(a.reasons[..], [NotQualified::Revoked { .. }]),
        "{:?}",
        a.reasons
    );
}

/// The BasicOCSPResponse inside an OCSPResponse.
struct OcspBasic;

impl OcspBasic {
    fn of(response: &[u8]) -> Vec<u8> {
        let (r, _) = ber::read(response).unwrap();
        let mut r = Reader::new(r.content);
        r.next().unwrap(); // responseStatus
        let bytes = r.next().unwrap(); // [0] responseBytes
        let (seq, _) = ber::read(bytes.content).unwrap();
        let mut seq = Reader::new(seq.content);
        seq.next().unwrap(); // responseType
        seq.next().unwrap().content.to_vec()
    }
}

// ----- PAdES after signing ----------------------------------------------------------------

/// The offset in the last `startxref`.
fn last_startxref(pdf: &[u8]) -> usize {
    let at = rfind(pdf, b"startxref\n").expect("startxref") + "startxref\n".len();
    let digits = pdf[at..].iter().take_while(|x| x.is_ascii_digit()).count();
    std::str::from_utf8(&pdf[at..at + digits])
        .unwrap()
        .parse()
        .unwrap()
}

/// Appends an incremental update with `objects` (number, body) and a classic xref table.
fn append_update(mut pdf: Vec<u8>, objects: &[(u32, Vec<u8>)], size: u32) -> Vec<u8> {
    let prev = last_startxref(&pdf);
    let mut offsets = Vec::new();
    for (number, body) in objects {
        offsets.push((*number, pdf.len()));
        pdf.extend(format!("{number} 0 obj\n").bytes());
        pdf.extend(body);
        pdf.extend(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend(b"xref\n0 1\n0000000000 65535 f \n");
    for (number, offset) in offsets {
        pdf.extend(format!("{number} 1\n{offset:010} 00000 n \n").bytes());
    }
    pdf.extend(
        format!("trailer\n<< /Size {size} /Root 1 0 R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n")
            .bytes(),
    );
    pdf
}

/// A DSS (objects `first_new`, `first_new + 1`) with the given CRL, and the catalog, whose
/// form has `fields`, pointing at it.
fn with_dss(pdf: Vec<u8>, crl: &[u8], first_new: u32, fields: &str) -> Vec<u8> {
    let (dss, stream_number) = (first_new, first_new + 1);
    let mut stream = format!("<< /Length {} >>\nstream\n", crl.len()).into_bytes();
    stream.extend(crl);
    stream.extend(b"\nendstream");
    append_update(
        pdf,
        &[
            (
                1,
                format!(
                    "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [{fields}] /SigFlags 3 >> \
                     /DSS {dss} 0 R >>"
                )
                .into_bytes(),
            ),
            (
                dss,
                format!(
                    "<< /Type /DSS /CRLs [{stream_number} 0 R] /VRI \
                     << /0123456789ABCDEF0123456789ABCDEF01234567 << /CRL [{stream_number} 0 R] >> >> >>"
                )
                .into_bytes(),
            ),
            (stream_number, stream),
        ],
        stream_number + 1,
    )
}

/// A document timestamp of the test TSA: an invisible field (`first_new`) added to the form's
/// `fields`, and its DocTimeStamp dictionary (`first_new + 1`).
fn with_document_timestamp(pdf: Vec<u8>, first_new: u32, fields: &str) -> Vec<u8> {
    let field = first_new;
    let sig = first_new + 1;
    let zeros = "0".repeat(2 * PLACEHOLDER_BYTES);
    let pdf = append_update(
        pdf,
        &[
            (
                1,
                format!(
                    "<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [{fields} {field} 0 R] \
                     /SigFlags 3 >> >>"
                )
                .into_bytes(),
            ),
            (
                field,
                format!(
                    "<< /Type /Annot /Subtype /Widget /FT /Sig /T (Marca) /Rect [0 0 0 0] \
                     /V {sig} 0 R >>"
                )
                .into_bytes(),
            ),
            (
                sig,
                format!(
                    "<< /Type /DocTimeStamp /Filter /Adobe.PPKLite /SubFilter /ETSI.RFC3161 \
                     /ByteRange {BYTE_RANGE_PLACEHOLDER} /Contents <{zeros}> >>"
                )
                .into_bytes(),
            ),
        ],
        sig + 1,
    );
    fill_document_timestamp(pdf)
}

/// Fills the last placeholder with an RFC 3161 token over the bytes it covers.
fn fill_document_timestamp(mut pdf: Vec<u8>) -> Vec<u8> {
    let b = rfind(&pdf, b"/Contents <").expect("contents") + "/Contents ".len();
    let c = b + 2 * PLACEHOLDER_BYTES + 2;
    let d = pdf.len() - c;
    let range = format!("[0 {b:<10} {c:<10} {d:<10}]");
    let at = rfind(&pdf, BYTE_RANGE_PLACEHOLDER.as_bytes()).expect("byte range");
    pdf[at..at + range.len()].copy_from_slice(range.as_bytes());
    let covered = [&pdf[..b], &pdf[c..]].concat();
    let token = timestamp_token(&covered);
    let hex: String = token.iter().map(|x| format!("{x:02X}")).collect();
    pdf[b + 1..b + 1 + hex.len()].copy_from_slice(hex.as_bytes());
    pdf
}

#[test]
fn pades_with_a_dss_dictionary_appended_is_accepted_and_its_crl_used() {
    let signed = signed_pdf(&pki().qualified, "ETSI.CAdES.detached", true);
    let extended = with_dss(signed, &crl(&[&pki().qualified]), 7, "4 0 R");
    let report = verify(&extended, now()).expect("DSS added after signing is allowed");
    assert_eq!(report.revocation.crls.len(), 1);
    let [a] = assess_report(
        &report,
        &anchors(granted()),
        now() + Duration::hours(1),
        &[],
    )
    .try_into()
    .unwrap();
    assert!(
        matches!(a.reasons[..], [NotQualified::Revoked { .. }]),
        "{:?}",
        a.reasons
    );
}

#[test]
fn pades_with_a_document_timestamp_appended_is_accepted() {
    let signed = signed_pdf(&pki().qualified_short, "ETSI.CAdES.detached", true);
    let lta = with_document_timestamp(signed.clone(), 7, "4 0 R");
    let report = verify(&lta, now()).expect("document timestamp after signing is allowed");
    assert_eq!(report.signers.len(), 1);
    // The document timestamp covers the signature: it proves when it existed, so the
    // one-day certificate is judged then, not three days later.
    let later = now() + Duration::days(3);
    assert_eq!(verify(&signed, later), Err(SignatureError::Expired));
    let [a] = assess_report(
        &verify(&lta, later).expect("judged at the document timestamp"),
        &anchors(granted()),
        later,
        &[],
    )
    .try_into()
    .unwrap();
    assert!(a.qualified, "{:?}", a.reasons);
    assert_eq!(a.signing_time_source, SigningTimeSource::Timestamp);
    // B-LTA: a DSS, then another document timestamp.
    let lta2 = with_document_timestamp(
        with_dss(lta, &crl(&[]), 9, "4 0 R 7 0 R"),
        11,
        "4 0 R 7 0 R",
    );
    let report = verify(&lta2, now()).expect("DSS and a second document timestamp");
    assert_eq!(report.revocation.crls.len(), 1);
    // A document timestamp that does not match the bytes it covers is refused.
    let mut broken = with_document_timestamp(signed, 7, "4 0 R");
    let at = rfind(&broken, b"/T (Marca)").unwrap() + 4;
    broken[at] = b'N';
    assert_eq!(verify(&broken, now()), Err(SignatureError::Invalid));
}

#[test]
fn pades_with_any_other_change_after_signing_is_refused() {
    let signed = signed_pdf(&pki().qualified, "ETSI.CAdES.detached", true);
    let page = |media_box: &str| {
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox {media_box} /Contents 6 0 R /Annots [4 0 R] >>"
        )
        .into_bytes()
    };
    // The page rewritten identically is only a new copy of the same thing...
    let same = append_update(signed.clone(), &[(3, page("[0 0 595 842]"))], 7);
    assert!(verify(&same, now()).is_ok());
    // ...but with another size, it changes what was signed.
    let changed = append_update(signed.clone(), &[(3, page("[0 0 842 595]"))], 7);
    assert_eq!(verify(&changed, now()), Err(SignatureError::Invalid));
    // A new content stream for the page.
    let text = "BT /F1 12 Tf 72 720 Td (Respinta) Tj ET";
    let content = format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len());
    let content = append_update(signed.clone(), &[(6, content.into_bytes())], 7);
    assert_eq!(verify(&content, now()), Err(SignatureError::Invalid));
    // A new annotation added to the page.
    let annotated = append_update(
        signed.clone(),
        &[
            (
                3,
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 6 0 R \
                  /Annots [4 0 R 7 0 R] >>"
                    .to_vec(),
            ),
            (
                7,
                b"<< /Type /Annot /Subtype /Text /Rect [0 0 10 10] /Contents (aggiunto) >>"
                    .to_vec(),
            ),
        ],
        8,
    );
    assert_eq!(verify(&annotated, now()), Err(SignatureError::Invalid));
    // A form field's value changed (the signature field pointing elsewhere).
    let field = append_update(
        signed.clone(),
        &[(
            4,
            b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Firma difensore) /Rect [0 0 0 0] \
              /F 132 /P 3 0 R /V 7 0 R >>"
                .to_vec(),
        )],
        8,
    );
    assert_eq!(verify(&field, now()), Err(SignatureError::Invalid));
    // The catalog pointing at other pages, along with a DSS.
    let swapped = append_update(
        signed.clone(),
        &[(
            1,
            b"<< /Type /Catalog /Pages 7 0 R /AcroForm << /Fields [4 0 R] /SigFlags 3 >> >>"
                .to_vec(),
        )],
        8,
    );
    assert_eq!(verify(&swapped, now()), Err(SignatureError::Invalid));
    // An object stream (whose objects we do not read).
    let hidden = append_update(
        signed,
        &[(
            7,
            b"<< /Type /ObjStm /N 0 /First 0 /Length 0 >>\nstream\n\nendstream".to_vec(),
        )],
        8,
    );
    assert_eq!(verify(&hidden, now()), Err(SignatureError::Invalid));
}

// ----- CRLs fetched from the distribution point -----------------------------------------------

/// A qualified certificate of the test CA whose CRL distribution point is `url`.
fn with_distribution_point(url: &str) -> Identity {
    let dir = tempdir();
    let dir = dir.path();
    write(dir, "ca.pem", &pki().ca_pem);
    write(dir, "ca.key", &pki().ca_key);
    write(
        dir,
        "ext.cnf",
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,nonRepudiation\n\
             1.3.6.1.5.5.7.1.3={QC_STATEMENTS}\ncrlDistributionPoints=URI:{url}\n"
        )
        .as_bytes(),
    );
    openssl(
        dir,
        "req -newkey rsa:2048 -nodes -keyout s.key -out s.csr -subj",
        &["/C=IT/CN=Mario Rossi/serialNumber=TINIT-RSSMRA80A01H501U"],
    );
    openssl(
        dir,
        "x509 -req -in s.csr -CA ca.pem -CAkey ca.key -set_serial 4242 -days 30 \
         -extfile ext.cnf -out s.pem",
        &[],
    );
    Identity {
        key: std::fs::read(dir.join("s.key")).unwrap(),
        cert: std::fs::read(dir.join("s.pem")).unwrap(),
    }
}

/// Serves `body` to every HTTP request on a local port, `times` times; returns the port.
fn serve(body: Vec<u8>, times: usize) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_on(listener, body, times);
    port
}

fn serve_on(listener: std::net::TcpListener, body: Vec<u8>, times: usize) {
    use std::io::{Read as _, Write as _};
    std::thread::spawn(move || {
        for stream in listener.incoming().take(times) {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/pkix-crl\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
}

#[tokio::test]
async fn a_crl_is_fetched_from_the_distribution_point_cached_and_used() {
    use crate::documents::crl_fetch;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/test-ca.crl",
        listener.local_addr().unwrap().port()
    );
    let id = with_distribution_point(&url);
    let report = verify(&p7m(&id, b"istanza"), now()).unwrap();
    // Issued after the signature, so that it speaks of the signing time. One request only:
    // the second fetch must come from the cache.
    let crl = crl(&[]);
    serve_on(listener, crl.clone(), 1);
    assert_eq!(
        crl_fetch::urls(&report, &[true]),
        std::slice::from_ref(&url)
    );
    // A certificate that chains to no trust service is never asked about.
    assert!(crl_fetch::urls(&report, &[false]).is_empty());
    let fetched = crl_fetch::fetch(std::slice::from_ref(&url)).await;
    assert_eq!(fetched, std::slice::from_ref(&crl));
    assert_eq!(crl_fetch::fetch(&[url]).await, [crl]);
    let [a] = assess_report(&report, &anchors(granted()), now(), &fetched)
        .try_into()
        .unwrap();
    assert!(
        matches!(
            a.revocation,
            RevocationStatus::Good {
                source: RevocationSource::FetchedCrl,
                ..
            }
        ),
        "{:?}",
        a.revocation
    );
    assert!(
        a.revocation
            .label()
            .contains("CRL scaricata dal certificatore")
    );
}

#[tokio::test]
async fn an_unreachable_or_oversized_crl_leaves_revocation_unchecked() {
    use crate::documents::crl_fetch;
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("http://127.0.0.1:{port}/test-ca.crl");
    assert!(
        crl_fetch::fetch(std::slice::from_ref(&url))
            .await
            .is_empty()
    );
    let id = with_distribution_point(&url);
    let report = verify(&p7m(&id, b"istanza"), now()).unwrap();
    let [a] = assess_report(&report, &anchors(granted()), now(), &[])
        .try_into()
        .unwrap();
    assert_eq!(a.revocation.label(), "revoca non verificata");
    // More than the limit is not read.
    let big = vec![0x30; crl_fetch::MAX_CRL_BYTES + 1];
    let port = serve(big, 1);
    let url = format!("http://127.0.0.1:{port}/big.crl");
    assert!(crl_fetch::fetch(&[url]).await.is_empty());
    // Only http(s): an LDAP distribution point is not followed.
    let id = with_distribution_point("ldap://ldap.example.it/cn=CRL");
    let report = verify(&p7m(&id, b"istanza"), now()).unwrap();
    assert!(crl_fetch::urls(&report, &[true]).is_empty());
}

#[test]
fn a_good_crl_counts_only_if_it_speaks_of_the_signing_time() {
    // Issued before the signature and valid for 7 days: current at the signing time.
    let crl = crl(&[]);
    let plain = p7m(&pki().qualified, b"istanza");
    let with_crl = add_crl_field(&plain, &crl);
    let a = assess_one(&with_crl, now(), &anchors(granted()), now());
    assert!(
        matches!(a.revocation, RevocationStatus::Good { .. }),
        "{:?}",
        a.revocation
    );
    // A signature dated after the CRL expired (its nextUpdate is 7 days on) is not covered.
    let later = now() + Duration::days(8);
    let report = verify(&with_crl, now()).unwrap();
    let mut signer = report.signers[0].clone();
    signer.claimed_signing_time = Some((later, SigningTimeSource::SigningTimeAttribute));
    let evidence = crate::documents::signature::qualified::Evidence {
        carried: &report.certificates,
        revocation: &report.revocation,
        fetched_crls: &[],
    };
    let a = crate::documents::signature::qualified::assess(
        &signer,
        &evidence,
        &anchors(granted()),
        later,
    );
    assert_eq!(a.revocation, RevocationStatus::NotChecked);
}

#[test]
fn an_update_that_frees_a_signed_object_is_refused() {
    let signed = signed_pdf(&pki().qualified, "ETSI.CAdES.detached", true);
    // A classic xref section marking the page content (object 6) free.
    let prev = last_startxref(&signed);
    let xref = signed.len();
    let tail = format!(
        "xref\n0 1\n0000000000 65535 f \n6 1\n0000000000 00001 f \n\
         trailer\n<< /Size 7 /Root 1 0 R /Prev {prev} >>\nstartxref\n{xref}\n%%EOF\n"
    );
    let freed = [&signed[..], tail.as_bytes()].concat();
    assert_eq!(verify(&freed, now()), Err(SignatureError::Invalid));
    // (The same section with the entry in use is only a pointer, and passes.)
    let in_use = tail.replace("00001 f", "00000 n");
    let pointer = [&signed[..], in_use.as_bytes()].concat();
    assert!(verify(&pointer, now()).is_ok());

    // The same with a cross-reference stream (Flate, PNG Up predictor, W [1 2 1]).
    let xref_stream = |entries: &[(u8, u16, u8)], index: &str| -> Vec<u8> {
        let mut raw = Vec::new();
        let mut previous = [0u8; 4];
        for (kind, offset, generation) in entries {
            let row = [*kind, (offset >> 8) as u8, *offset as u8, *generation];
            raw.push(2);
            raw.extend(row.iter().zip(previous).map(|(b, p)| b.wrapping_sub(p)));
            previous = row;
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, &raw).unwrap();
        let data = z.finish().unwrap();
        let mut body = format!(
            "<< /Type /XRef /Size 8 /Root 1 0 R /Prev {prev} /W [1 2 1] /Index [{index}] \
             /Filter /FlateDecode /DecodeParms << /Columns 4 /Predictor 12 >> /Length {} >>\nstream\n",
            data.len()
        )
        .into_bytes();
        body.extend(data);
        body.extend(b"\nendstream");
        body
    };
    let with_stream = |body: Vec<u8>| {
        let mut pdf = signed.clone();
        let at = pdf.len();
        pdf.extend(b"7 0 obj\n");
        pdf.extend(body);
        pdf.extend(format!("\nendobj\nstartxref\n{at}\n%%EOF\n").bytes());
        pdf
    };
    // Only itself (object 7) in use: accepted, as an update that adds nothing else.
    let own = with_stream(xref_stream(&[(1, signed.len() as u16, 0)], "7 1"));
    assert!(verify(&own, now()).is_ok(), "{:?}", verify(&own, now()));
    // Freeing object 6.
    let freeing = with_stream(xref_stream(
        &[(0, 0, 1), (1, signed.len() as u16, 0)],
        "6 2",
    ));
    assert_eq!(verify(&freeing, now()), Err(SignatureError::Invalid));
}

#[test]
fn a_newer_crl_saying_the_same_is_no_change_of_verdict() {
    use crate::documents::SignatureSummary;
    let plain = p7m(&pki().qualified, b"istanza");
    let summary = |crl: &[u8]| {
        let der = add_crl_field(&plain, crl);
        let report = verify(&der, now()).unwrap();
        let assessments = assess_report(&report, &anchors(granted()), now(), &[]);
        SignatureSummary::new(&report, &assessments)
    };
    let first = summary(&crl(&[]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = summary(&crl(&[]));
    assert_ne!(
        first.signers[0]
            .qualification
            .as_ref()
            .unwrap()
            .revocation_status,
        second.signers[0]
            .qualification
            .as_ref()
            .unwrap()
            .revocation_status,
        "the results carry the CRLs' dates"
    );
    assert_eq!(first.verdict(), second.verdict());
    // A revocation is a change.
    let revoked = summary(&crl(&[&pki().qualified]));
    assert_ne!(first.verdict(), revoked.verdict());
}
