//! Signature fixtures made with the `openssl` command, as in security-reliability.md §1.3: a test
//! CA and signers whose certificates carry `serialNumber=TINIT-<codice fiscale>`.

use std::{path::PathBuf, process::Command};

pub struct Signer {
    dir: tempfile::TempDir,
}

fn openssl(dir: &std::path::Path, args: &[&str]) {
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
