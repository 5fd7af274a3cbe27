//! The kinds of document an application carries (domain.md §2.2).

use serde::{Deserialize, Serialize};

/// The most documents one application holds (filing and integration answers together): enough
/// for every kind with several files each; scans of many pages belong in one PDF.
pub const MAX_ATTACHMENTS: i64 = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttachmentKind {
    IstanzaFirmata,
    DocumentoIdentita,
    CodiceFiscale,
    StatoFamiglia,
    Redditi,
    PermessoSoggiorno,
    CertificatoConsolare,
    AutocertificazioneEstero,
    Statuto,
    DocumentiCausa,
}

impl AttachmentKind {
    pub const ALL: [AttachmentKind; 10] = [
        AttachmentKind::IstanzaFirmata,
        AttachmentKind::DocumentoIdentita,
        AttachmentKind::CodiceFiscale,
        AttachmentKind::StatoFamiglia,
        AttachmentKind::Redditi,
        AttachmentKind::PermessoSoggiorno,
        AttachmentKind::CertificatoConsolare,
        AttachmentKind::AutocertificazioneEstero,
        AttachmentKind::Statuto,
        AttachmentKind::DocumentiCausa,
    ];

    pub fn code(self) -> &'static str {
        match self {
            AttachmentKind::IstanzaFirmata => "istanza_firmata",
            AttachmentKind::DocumentoIdentita => "documento_identita",
            AttachmentKind::CodiceFiscale => "codice_fiscale",
            AttachmentKind::StatoFamiglia => "stato_famiglia",
            AttachmentKind::Redditi => "redditi",
            AttachmentKind::PermessoSoggiorno => "permesso_soggiorno",
            AttachmentKind::CertificatoConsolare => "certificato_consolare",
            AttachmentKind::AutocertificazioneEstero => "autocertificazione_estero",
            AttachmentKind::Statuto => "statuto",
            AttachmentKind::DocumentiCausa => "documenti_causa",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// The label of a stored kind code (the code itself if unknown).
    pub fn label_of(code: &str) -> &str {
        Self::from_code(code).map_or(code, |k| k.label())
    }

    pub fn label(self) -> &'static str {
        match self {
            AttachmentKind::IstanzaFirmata => "Istanza firmata",
            AttachmentKind::DocumentoIdentita => "Documento d'identità del richiedente",
            AttachmentKind::CodiceFiscale => "Codice fiscale o tessera sanitaria",
            AttachmentKind::StatoFamiglia => "Stato di famiglia o autocertificazione",
            AttachmentKind::Redditi => {
                "Documenti sui redditi (dichiarazione dei redditi, CU, dichiarazione di assenza di redditi)"
            }
            AttachmentKind::PermessoSoggiorno => "Titolo di soggiorno",
            AttachmentKind::CertificatoConsolare => {
                "Certificazione dell'autorità consolare sui redditi esteri"
            }
            AttachmentKind::AutocertificazioneEstero => {
                "Dichiarazione sostitutiva sui redditi esteri (certificazione consolare non ottenibile)"
            }
            AttachmentKind::Statuto => "Statuto o atto costitutivo dell'ente",
            AttachmentKind::DocumentiCausa => {
                "Documenti a sostegno della domanda (atto introduttivo o sua bozza, provvedimenti, contratti)"
            }
        }
    }
}
