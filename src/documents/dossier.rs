//! The dossier (fascicolo) of an application as a ZIP file, for an inspection of an admission
//! (art. 127 D.P.R. 115/2002: the Guardia di Finanza's checks): every document of the
//! application, the history and the audit entries as a PDF/A, and a manifest with the SHA-256
//! of every file in the `sha256sum` format (`sha256sum -c manifest.sha256` verifies the
//! folder), sealed with the Ordine's electronic seal when it has one (`manifest.sha256.p7m`).
//!
//! The archive is written to a temporary file, not kept in memory: a period's admissions may
//! weigh hundreds of megabytes. [`MAX_BYTES`] bounds what one archive holds.

use std::io::{Seek, Write};

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};
use zip::{CompressionMethod, ZipWriter, write::SimpleFileOptions};

use super::seal::Seal;

/// What one archive may hold, uncompressed (the files are stored as they are: PDFs and
/// scans do not shrink). An application has at most 40 attachments of the upload limit each.
pub const MAX_BYTES: u64 = 4 * 1024 * 1024 * 1024;

/// The manifest's name inside the archive.
pub const MANIFEST: &str = "manifest.sha256";

/// What the person who opens the archive reads first.
const README: &str = "Fascicolo delle istanze di patrocinio a spese dello Stato
(art. 127 D.P.R. 30 maggio 2002, n. 115)

Ogni file dell'archivio e' elencato in manifest.sha256 con la sua impronta SHA-256.
Per verificarla, nella cartella estratta:

    sha256sum -c manifest.sha256

Se l'Ordine dispone di un sigillo elettronico, manifest.sha256.p7m e' il manifesto firmato
(CAdES) con il sigillo dell'Ordine; il contenuto si verifica con:

    openssl cms -verify -inform DER -in manifest.sha256.p7m -noverify -out -

e deve coincidere con manifest.sha256.
";

/// A file name safe in any archive tool and on any file system: letters, digits, `.`, `-`
/// and `_` only (the rest becomes `_`), no leading dot, at most 100 characters, never empty.
/// Names come from uploads: `../../x` must not climb out of the folder it is extracted to.
pub fn safe_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    while out.starts_with('.') {
        out.remove(0);
    }
    if out.len() > 100 {
        // Keep the extension, which says what the file is.
        let ext = out
            .rfind('.')
            .filter(|&i| out.len() - i <= 10)
            .map(|i| out[i..].to_owned())
            .unwrap_or_default();
        out.truncate(100 - ext.len());
        out.push_str(&ext);
    }
    if out.is_empty() { "file".into() } else { out }
}

/// One line of the manifest: `<sha256>  <path>` (two spaces: binary-safe `sha256sum` text).
pub fn manifest_line(sha256: &str, path: &str) -> String {
    format!("{sha256}  {path}\n")
}

/// Writes an archive, one file at a time, and its manifest at the end.
pub struct Writer<W: Write + Seek> {
    zip: ZipWriter<W>,
    manifest: String,
    bytes: u64,
    files: usize,
}

impl<W: Write + Seek> Writer<W> {
    pub fn new(out: W) -> anyhow::Result<Self> {
        let mut w = Self {
            zip: ZipWriter::new(out),
            manifest: String::new(),
            bytes: 0,
            files: 0,
        };
        w.add("LEGGIMI.txt", README.as_bytes())?;
        Ok(w)
    }

    /// Adds `bytes` as `path` (already made of [`safe_name`]s) and lists it in the manifest.
    pub fn add(&mut self, path: &str, bytes: &[u8]) -> anyhow::Result<()> {
        self.bytes += bytes.len() as u64;
        if self.bytes > MAX_BYTES {
            bail!("the dossier exceeds {MAX_BYTES} bytes");
        }
        // Text compresses; documents (PDF, images, signed envelopes) mostly do not.
        let method = if path.ends_with(".txt") || path.ends_with(".eml") {
            CompressionMethod::Deflated
        } else {
            CompressionMethod::Stored
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(bytes.len() as u64 >= u32::MAX as u64);
        self.zip
            .start_file(path, options)
            .with_context(|| format!("adding {path}"))?;
        self.zip.write_all(bytes)?;
        self.manifest
            .push_str(&manifest_line(&hex::encode(Sha256::digest(bytes)), path));
        self.files += 1;
        Ok(())
    }

    /// How many files it holds so far.
    pub fn files(&self) -> usize {
        self.files
    }

    /// Writes the manifest (and, with a seal, the sealed manifest) and closes the archive.
    /// Returns the output and the manifest's SHA-256.
    pub fn finish(mut self, seal: Option<&Seal>) -> anyhow::Result<(W, String)> {
        let manifest = std::mem::take(&mut self.manifest);
        let options = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        self.zip.start_file(MANIFEST, options)?;
        self.zip.write_all(manifest.as_bytes())?;
        if let Some(seal) = seal {
            let sealed = seal.sign(manifest.as_bytes())?;
            self.zip
                .start_file(format!("{MANIFEST}.p7m"), SimpleFileOptions::default())?;
            self.zip.write_all(&sealed)?;
        }
        let out = self.zip.finish().context("closing the dossier")?;
        Ok((out, hex::encode(Sha256::digest(manifest.as_bytes()))))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::*;

    #[test]
    fn names_from_uploads_stay_in_their_folder() {
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name("Carta d'identità.pdf"), "Carta_d_identit_.pdf");
        assert_eq!(safe_name(""), "file");
        assert_eq!(safe_name("..."), "file");
        let long = format!("{}.pdf.p7m", "a".repeat(300));
        let safe = safe_name(&long);
        assert_eq!(safe.len(), 100);
        assert!(safe.ends_with(".p7m"), "{safe}");
    }

    #[test]
    fn the_manifest_lists_every_file_with_its_digest() {
        let mut w = Writer::new(Cursor::new(Vec::new())).unwrap();
        w.add("pratica/a.pdf", b"%PDF-1.7 a").unwrap();
        w.add("pratica/note.txt", b"testo").unwrap();
        let (out, manifest_sha) = w.finish(None).unwrap();
        let mut zip = zip::ZipArchive::new(Cursor::new(out.into_inner())).unwrap();
        let mut manifest = String::new();
        zip.by_name(MANIFEST)
            .unwrap()
            .read_to_string(&mut manifest)
            .unwrap();
        assert_eq!(
            manifest_sha,
            hex::encode(Sha256::digest(manifest.as_bytes()))
        );
        let lines: Vec<&str> = manifest.lines().collect();
        assert_eq!(lines.len(), 3, "{manifest}");
        for line in lines {
            let (sha, path) = line.split_once("  ").unwrap();
            let mut bytes = Vec::new();
            zip.by_name(path).unwrap().read_to_end(&mut bytes).unwrap();
            assert_eq!(sha, hex::encode(Sha256::digest(&bytes)), "{path}");
        }
        assert!(
            zip.by_name("manifest.sha256.p7m").is_err(),
            "no seal, no p7m"
        );
    }
}
