//! Signing an application by identification (art. 65, c. 1, lett. b, CAD): an application sent
//! online by an applicant identified with SPID or CIE is valid without a signature. The rules
//! that decide whether an identity assertion signs a given application, with no I/O.
//!
//! - The level of assurance is the ID token's `acr` (AgID, SPID/CIE OpenID Connect guidelines):
//!   `https://www.spid.gov.it/SpidL1|SpidL2|SpidL3`; level 2 or higher is required.
//! - The fiscal number is the claim `https://attributes.eid.gov.it/fiscal_number`, written
//!   `TINIT-<codice fiscale>`; it must be the applicant's codice fiscale.

use super::codice_fiscale::CodiceFiscale;

/// The claim that carries the fiscal number (AgID attribute registry).
pub const FISCAL_NUMBER_CLAIM: &str = "https://attributes.eid.gov.it/fiscal_number";
/// The `acr` asked for: level 2 (the provider may authenticate at a higher level).
pub const ACR_L2: &str = "https://www.spid.gov.it/SpidL2";
/// Level 3, also accepted when asked for level 2.
pub const ACR_L3: &str = "https://www.spid.gov.it/SpidL3";
/// The lowest level the service accepts.
pub const MIN_LEVEL: u8 = 2;

/// The SPID level of an `acr` value; `None` for anything that is not one of the three.
pub fn level(acr: &str) -> Option<u8> {
    match acr {
        "https://www.spid.gov.it/SpidL1" => Some(1),
        ACR_L2 => Some(2),
        ACR_L3 => Some(3),
        _ => None,
    }
}

/// The codice fiscale in a `fiscal_number` claim (`TINIT-<CF>`; the legacy `IT:` form and a
/// bare code are read too), normalised; `None` when it is not an Italian codice fiscale.
pub fn fiscal_code(claim: &str) -> Option<String> {
    let claim = claim.trim();
    let code = claim
        .strip_prefix("TINIT-")
        .or_else(|| claim.strip_prefix("IT:"))
        .unwrap_or(claim);
    CodiceFiscale::parse(code)
        .ok()
        .map(|cf| cf.as_str().to_owned())
}

/// Why an identity assertion does not sign the application. Each has its Italian message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `acr` missing, unknown, or below level 2.
    Level,
    /// No fiscal number, or not an Italian codice fiscale.
    NoFiscalNumber,
    /// The fiscal number is not the applicant's.
    OtherPerson,
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Refusal::Level => "livello",
            Refusal::NoFiscalNumber => "codice_fiscale_assente",
            Refusal::OtherPerson => "altra_persona",
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::Level => {
                "L'identificazione è avvenuta con SPID di livello 1: per firmare l'istanza serve SPID di livello 2 o superiore (codice temporaneo o app), oppure la CIE. Riprovare scegliendo il livello richiesto."
            }
            Refusal::NoFiscalNumber => {
                "Il servizio di identità non ha comunicato il codice fiscale della persona identificata: l'istanza non è stata firmata. Riprovare, oppure firmare l'istanza in un altro modo."
            }
            Refusal::OtherPerson => {
                "Il codice fiscale della persona identificata con SPID o CIE non è quello del richiedente indicato nell'istanza: la firma con SPID o CIE spetta al richiedente. L'istanza non è stata firmata."
            }
        }
    }
}

/// The identity assertion signs the application of the applicant whose codice fiscale is
/// `applicant_cf`: level 2 or higher, and the same codice fiscale. `Ok` is the level.
pub fn signs(
    acr: Option<&str>,
    fiscal_number: Option<&str>,
    applicant_cf: &str,
) -> Result<u8, Refusal> {
    let level = acr.and_then(level).unwrap_or(0);
    if level < MIN_LEVEL {
        return Err(Refusal::Level);
    }
    let cf = fiscal_number
        .and_then(fiscal_code)
        .ok_or(Refusal::NoFiscalNumber)?;
    let applicant = CodiceFiscale::parse(applicant_cf)
        .map(|c| c.as_str().to_owned())
        .map_err(|_| Refusal::OtherPerson)?;
    if cf != applicant {
        return Err(Refusal::OtherPerson);
    }
    Ok(level)
}

/// What the receipt and the case page print: "Sottoscritta mediante identificazione SPID/CIE
/// (art. 65, c. 1, lett. b, CAD): livello 2, …".
pub fn statement(level: u8, issuer: &str, when: &str) -> String {
    format!(
        "Sottoscritta mediante identificazione SPID/CIE (art. 65, c. 1, lett. b, CAD): livello {level}, gestore dell'identità {issuer}, {when}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CF: &str = "RSSMRA85T10A562S";

    #[test]
    fn levels_are_read_from_acr() {
        assert_eq!(level("https://www.spid.gov.it/SpidL1"), Some(1));
        assert_eq!(level(ACR_L2), Some(2));
        assert_eq!(level(ACR_L3), Some(3));
        assert_eq!(level("https://www.spid.gov.it/SpidL4"), None);
        assert_eq!(level("urn:altro"), None);
    }

    #[test]
    fn the_fiscal_number_is_read_in_every_form() {
        let cf = CodiceFiscale::parse(CF).unwrap().as_str().to_owned();
        assert_eq!(fiscal_code(&format!("TINIT-{CF}")), Some(cf.clone()));
        assert_eq!(fiscal_code(&format!("IT:{CF}")), Some(cf.clone()));
        assert_eq!(
            fiscal_code(&format!("TINIT-{}", CF.to_lowercase())),
            Some(cf)
        );
        assert_eq!(fiscal_code("TINIT-12345"), None);
    }

    #[test]
    fn level_two_with_the_applicants_code_signs() {
        let claim = format!("TINIT-{CF}");
        assert_eq!(signs(Some(ACR_L2), Some(&claim), CF), Ok(2));
        assert_eq!(signs(Some(ACR_L3), Some(&claim), CF), Ok(3));
        assert_eq!(
            signs(Some("https://www.spid.gov.it/SpidL1"), Some(&claim), CF),
            Err(Refusal::Level)
        );
        assert_eq!(signs(None, Some(&claim), CF), Err(Refusal::Level));
        assert_eq!(signs(Some(ACR_L2), None, CF), Err(Refusal::NoFiscalNumber));
        assert_eq!(
            signs(Some(ACR_L2), Some("TINIT-RSSMRA79B11C566R"), CF),
            Err(Refusal::OtherPerson)
        );
    }
}
