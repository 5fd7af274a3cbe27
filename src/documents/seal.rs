//! The Ordine's electronic seal: a certificate and key of the Ordine's own, kept on the server
//! (never in the repository), with which delibere are signed (CAdES, content attached) as soon
//! as they are adopted, instead of by a councillor's own signing tool.
//!
//! The files live in the folder `PATROCINIO_SEAL_DIR`, one PEM per Ordine named after its slug
//! (`<slug>.pem`), holding the certificate and its private key.

use std::path::Path;

use anyhow::Context;
use openssl::{
    cms::{CMSOptions, CmsContentInfo},
    pkey::{PKey, Private},
    x509::X509,
};

/// OpenSSL's `CMS_CADES`: adds the signing-certificate-v2 attribute (CAdES-BES).
const CMS_CADES: u32 = 0x10_0000;

pub struct Seal {
    cert: X509,
    key: PKey<Private>,
}

impl Seal {
    /// The seal of the Ordine `slug`, if its file is in `dir`.
    pub fn load(dir: &Path, slug: &str) -> anyhow::Result<Option<Self>> {
        let path = dir.join(format!("{slug}.pem"));
        if !path.exists() {
            return Ok(None);
        }
        let pem = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let cert = X509::from_pem(&pem).context("the seal's certificate")?;
        let key = PKey::private_key_from_pem(&pem).context("the seal's private key")?;
        Ok(Some(Self { cert, key }))
    }

    /// A CAdES envelope (DER) with `content` attached.
    pub fn sign(&self, content: &[u8]) -> anyhow::Result<Vec<u8>> {
        let flags = CMSOptions::BINARY | CMSOptions::from_bits_retain(CMS_CADES);
        let cms = CmsContentInfo::sign(
            Some(&self.cert),
            Some(&self.key),
            None,
            Some(content),
            flags,
        )
        .context("sealing")?;
        Ok(cms.to_der()?)
    }
}
