//! Matching a signed delibera to the one we generated: the signature must verify, the signer
//! must be the person expected (their `TINIT-` codice fiscale), and the signed document must be
//! ours, unchanged: for a `.p7m` the signed content is byte-identical to the generated PDF; for
//! a PAdES PDF the generated PDF is the part the signature's incremental update was added to.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{
    SignatureSummary,
    signature::{self, FileKind, SignatureError},
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
    pub signature: SignatureSummary,
}

/// Which pending delibera `bytes` is the signed version of, or why it is refused (Italian).
pub fn match_signed(
    bytes: &[u8],
    pending: &[Pending<'_>],
    signer_cf: Option<&str>,
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
    let Some(own) = signer_cf.and_then(|cf| CodiceFiscale::parse(cf).ok()) else {
        return Err("Il codice fiscale del firmatario non è registrato nel suo profilo: chiederne l'inserimento all'amministratore dell'Ordine.".into());
    };
    let signers: Vec<CodiceFiscale> = report
        .signers
        .iter()
        .filter_map(|s| s.codice_fiscale.as_deref())
        .filter_map(|cf| CodiceFiscale::parse(cf).ok())
        .collect();
    if !signers.iter().any(|s| s.same_person(&own)) {
        let summary = SignatureSummary::from_report(&report);
        return Err(format!(
            "Il documento è firmato da {}, non dal firmatario della delibera (codice fiscale {}).",
            summary.signer_names(),
            own.as_str()
        ));
    }
    Ok(Matched {
        index,
        kind,
        signature: SignatureSummary::from_report(&report),
    })
}

fn invalid(e: SignatureError) -> String {
    format!("{e} Firmare di nuovo il PDF scaricato.")
}
