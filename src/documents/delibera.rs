//! Matching a signed delibera to the one we generated: the signature must verify, the signed
//! document must be ours, unchanged (for a `.p7m` the signed content is byte-identical to the
//! generated PDF; for a PAdES PDF the generated PDF is the part the signature's incremental
//! update was added to: [`match_signed`]), and the signer must be the person expected (their
//! `TINIT-`/`IT:` codice fiscale) with a qualified signature ([`check_signer`], once the
//! qualification against the trusted lists is known).

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{
    SignatureSummary, SignerCheck,
    signature::{self, FileKind, SignatureError, SignatureReport},
};
use crate::domain::codice_fiscale::CodiceFiscale;

/// A delibera waiting for a signature.
pub struct Pending<'a> {
    pub pdf: &'a [u8],
    pub sha256: &'a str,
}

#[derive(Debug)]
pub struct Matched {
    /// Index into the pending list.
    pub index: usize,
    /// `cades` or `pades`.
    pub kind: &'static str,
    pub report: SignatureReport,
}

/// Which pending delibera `bytes` is the signed version of, or why it is refused (Italian).
pub fn match_signed(
    bytes: &[u8],
    pending: &[Pending<'_>],
    now: DateTime<Utc>,
) -> Result<Matched, String> {
    let (report, index, kind) = match signature::sniff(bytes) {
        FileKind::P7m => {
            let report = signature::verify_cades(bytes, now).map_err(invalid)?;
            let content = report.content.as_deref().unwrap_or_default();
            let digest = hex::encode(Sha256::digest(content));
            let index = pending.iter().position(|p| p.sha256 == digest).ok_or_else(|| {
                "Il documento firmato non coincide con nessuna delibera da firmare: il PDF è stato modificato dopo lo scaricamento oppure non è una delibera di questo elenco.".to_owned()
            })?;
            (report, index, "cades")
        }
        FileKind::Pdf => {
            let report = signature::verify_pades(bytes, now).map_err(|e| match e {
                SignatureError::NotSigned => "Il PDF non contiene una firma digitale: firmarlo (PAdES) oppure caricare il file .p7m.".to_owned(),
                other => invalid(other),
            })?;
            let index = pending
                .iter()
                .position(|p| bytes.len() > p.pdf.len() && bytes.starts_with(p.pdf))
                .ok_or_else(|| {
                    "Il PDF firmato non contiene, invariata, nessuna delibera da firmare: va firmato il PDF scaricato, senza modificarlo.".to_owned()
                })?;
            (report, index, "pades")
        }
        _ => {
            return Err(
                "Il file non è un documento firmato digitalmente (.p7m o PDF firmato).".into(),
            );
        }
    };
    Ok(Matched {
        index,
        kind,
        report,
    })
}

/// The delibera must carry the qualified signature of `signer_cf` (the councillor who signs).
pub fn check_signer(summary: &SignatureSummary, signer_cf: Option<&str>) -> Result<(), String> {
    let Some(own) = signer_cf.and_then(|cf| CodiceFiscale::parse(cf).ok()) else {
        return Err("Il codice fiscale del firmatario non è registrato nel suo profilo: chiederne l'inserimento all'amministratore dell'Ordine.".into());
    };
    let same = |cf: &str| CodiceFiscale::parse(cf).is_ok_and(|cf| cf.same_person(&own));
    match summary.check_signer(same) {
        SignerCheck::Qualified => Ok(()),
        SignerCheck::NotQualified(why) => Err(format!(
            "La firma non è una firma elettronica qualificata: {why}"
        )),
        SignerCheck::Absent => Err(format!(
            "Il documento è firmato da {}, non dal firmatario della delibera (codice fiscale {}).",
            summary.signer_names(),
            own.as_str()
        )),
    }
}

fn invalid(e: SignatureError) -> String {
    format!("{e} Firmare di nuovo il PDF scaricato.")
}
