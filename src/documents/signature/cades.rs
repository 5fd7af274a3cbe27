//! CAdES: verification of CMS `SignedData` (attached content for a `.p7m`, detached for a
//! PAdES signature), shared by both formats.

use std::borrow::Cow;

use chrono::{DateTime, Utc};
use openssl::cms::{CMSOptions, CmsContentInfo};
use openssl::x509::store::{X509Store, X509StoreBuilder};
use openssl::x509::verify::X509VerifyParam;
use openssl::x509::{X509, X509PurposeId};

use super::SignatureError::{self, Expired, Invalid, Malformed, NotSigned, TooDeep};
use super::certificate::signer_from_certificate;
use super::revocation::RevocationData;
use super::sniff::{decode_p7m, is_signed_data_prefix};
use super::{
    CertificateDer, FileKind, MAX_NESTING, SignatureFormat, SignatureReport, Signer,
    SigningTimeSource, check_size, cms_view, sniff, timestamp,
};

pub(super) fn verify_cades_impl(
    bytes: &[u8],
    now: DateTime<Utc>,
    store: Option<&X509Store>,
) -> Result<SignatureReport, SignatureError> {
    check_size(bytes)?;
    if sniff(bytes) != FileKind::P7m {
        return Err(NotSigned);
    }
    // Borrowed for a DER input: inputs can be tens of megabytes, so avoid copies.
    let mut envelope = decode_p7m(bytes)?;
    let mut signers = Vec::new();
    let mut certificates = Vec::new();
    let mut revocation = RevocationData::default();
    let mut expired = false;
    let mut nesting: u8 = 0;
    loop {
        nesting += 1;
        let level = verify_signed_data(&envelope, None, now, store)?;
        signers.extend(level.signers);
        certificates.extend(level.certificates);
        revocation.extend(level.revocation)?;
        expired |= level.expired;
        let content = level.content.ok_or(Malformed)?;
        if sniff(&content) != FileKind::P7m {
            if expired {
                return Err(Expired);
            }
            return Ok(SignatureReport {
                format: SignatureFormat::Cades,
                signers,
                content: Some(content),
                nesting,
                certificates,
                revocation,
            });
        }
        if nesting >= MAX_NESTING {
            return Err(TooDeep);
        }
        envelope = if is_signed_data_prefix(&content) {
            Cow::Owned(content)
        } else {
            Cow::Owned(decode_p7m(&content)?.into_owned())
        };
    }
}

pub(super) struct VerifiedLevel {
    /// The encapsulated content (None for a detached signature).
    pub(super) content: Option<Vec<u8>>,
    pub(super) signers: Vec<Signer>,
    /// Every certificate of the CMS certificate set.
    pub(super) certificates: Vec<CertificateDer>,
    /// CRLs and OCSP responses carried by the SignedData and its signers' attributes.
    pub(super) revocation: RevocationData,
    /// Some signer certificate is outside its validity period at `now` (at the time of its
    /// signature timestamp, when it has one). Callers report
    /// this only after every signature of the file has been checked, so that an altered
    /// file is reported as Invalid even if a certificate is also expired.
    pub(super) expired: bool,
}

/// Verifies one CMS SignedData: attached content if `detached` is None, otherwise a
/// detached signature over `detached`. Expiry is returned in the result, not as an error;
/// the chain (if `store` is given) is checked only for certificates valid at `now`.
pub(super) fn verify_signed_data(
    der: &[u8],
    detached: Option<&[u8]>,
    now: DateTime<Utc>,
    store: Option<&X509Store>,
) -> Result<VerifiedLevel, SignatureError> {
    let view = cms_view::parse(der)?;
    if view.signer_infos.is_empty() {
        // A "certificates only" SignedData carries no signature.
        return Err(NotSigned);
    }
    if view.has_content == detached.is_some() {
        // Enveloping without content, or detached with content: not what was asked for.
        return Err(Malformed);
    }
    let mut certs = Vec::with_capacity(view.signer_infos.len());
    for info in &view.signer_infos {
        let raw = view.signer_certificate(info)?;
        let cert = X509::from_der(raw).map_err(|_| Malformed)?;
        certs.push((info, raw, cert));
    }

    // Integrity: messageDigest and signature of every SignerInfo, no chain.
    let mut cms = CmsContentInfo::from_der(der).map_err(|_| Malformed)?;
    let mut content = Vec::new();
    cms.verify(
        None,
        None,
        detached,
        detached.is_none().then_some(&mut content),
        CMSOptions::BINARY | CMSOptions::NO_SIGNER_CERT_VERIFY,
    )
    .map_err(|_| Invalid)?;

    for (info, raw, _) in &certs {
        if let Some(attrs) = info.signed_attrs {
            cms_view::check_signing_certificate(attrs, raw)?;
        }
    }

    let mut revocation = RevocationData::default();
    for crl in &view.crls {
        revocation.add_crl(crl)?;
    }
    let signers = certs
        .iter()
        .map(|(info, raw, cert)| {
            let mut signer = signer_from_certificate(cert)?;
            signer.certificate = CertificateDer(raw.to_vec());
            signer.claimed_signing_time = info
                .signed_attrs
                .and_then(cms_view::signing_time)
                .map(|t| (t, SigningTimeSource::SigningTimeAttribute));
            if let Some(attrs) = info.unsigned_attrs {
                signer.timestamp = timestamp::signature_timestamp(attrs, info.signature)?;
            }
            revocation.read_attributes(info.signed_attrs, info.unsigned_attrs)?;
            Ok(signer)
        })
        .collect::<Result<Vec<_>, SignatureError>>()?;
    // A signature timestamp proves the signature existed at its time: the certificate must
    // have been valid then, not now (whether the TSA is trusted is for `qualified`).
    let expired = signers.iter().any(|signer| {
        let at = signer.timestamp.as_ref().map_or(now, |t| t.time);
        at < signer.not_before || at > signer.not_after
    });

    let valid_now = signers
        .iter()
        .all(|signer| now >= signer.not_before && now <= signer.not_after);
    if let (Some(store), false) = (store, expired) {
        // The CA-bundle check is made at `now`; it knows no trusted timestamps.
        if !valid_now {
            return Err(Expired);
        }
        // Chain verification against the configured CA bundle, at `now`.
        let mut cms = CmsContentInfo::from_der(der).map_err(|_| Malformed)?;
        cms.verify(None, Some(store), detached, None, CMSOptions::BINARY)
            .map_err(|_| Invalid)?;
    }

    Ok(VerifiedLevel {
        content: detached.is_none().then_some(content),
        signers,
        certificates: view
            .certificates
            .iter()
            .map(|c| CertificateDer(c.to_vec()))
            .collect(),
        revocation,
        expired,
    })
}

pub(super) fn trust_store(ca_pem: &[u8], now: DateTime<Utc>) -> Result<X509Store, SignatureError> {
    let cas = X509::stack_from_pem(ca_pem).map_err(|_| Invalid)?;
    if cas.is_empty() {
        return Err(Invalid);
    }
    let mut builder = X509StoreBuilder::new().map_err(|_| Invalid)?;
    for ca in cas {
        builder.add_cert(ca).map_err(|_| Invalid)?;
    }
    let mut param = X509VerifyParam::new().map_err(|_| Invalid)?;
    param.set_time(now.timestamp());
    // Italian signing certificates usually have no S/MIME extended key usage.
    param.set_purpose(X509PurposeId::ANY).map_err(|_| Invalid)?;
    builder.set_param(&param).map_err(|_| Invalid)?;
    Ok(builder.build())
}
