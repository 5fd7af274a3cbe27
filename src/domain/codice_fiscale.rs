//! Italian tax code (codice fiscale, CF): validation, decoding and computation.
//!
//! Pure domain code: no I/O. See domain.md §7:
//! - natural persons have a 16-character code (D.M. 23 dicembre 1976), possibly
//!   with *omocodia* (digits replaced by letters, check character recomputed);
//! - entities (and some provisional codes) have an 11-digit numeric code with a
//!   Luhn-type check digit.
//!
//! A CF that does not match the birth data typed by the applicant is *not* an
//! error (rule V8 is a warning): [`CfPersona::matches_birth`] is only a predicate.

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a codice fiscale was rejected. The messages are shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CfError {
    /// Nothing was typed.
    #[error("Indicare il codice fiscale.")]
    Vuoto,
    /// Wrong length or characters not allowed at their position (rule V6).
    #[error(
        "Il codice fiscale non è valido. Verificare i 16 caratteri (o le 11 cifre per gli enti)."
    )]
    Formato,
    /// Well-formed, but the check character or check digit is wrong (rule V7).
    #[error(
        "Il carattere di controllo del codice fiscale non è corretto: verificare eventuali errori di battitura."
    )]
    Controllo,
}

/// Sex as encoded in the personal CF (day of birth + 40 for women).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    M,
    F,
}

/// Month letters: index 0 is January.
const MONTH_LETTERS: &[u8; 12] = b"ABCDEHLMPRST";

/// Letters that replace the digits 0–9 in omocodic codes.
const OMOCODIA_LETTERS: &[u8; 10] = b"LMNPQRSTUV";

/// 0-based indexes of the 7 positions that omocodia may change (1-based 7, 8,
/// 10, 11, 13, 14, 15), ordered by mask bit: bit 0 is the rightmost position.
const OMOCODIA_POSITIONS: [usize; 7] = [14, 13, 12, 10, 9, 7, 6];

/// Check-character values of `A`..`Z` (and of `0`..`9`, read as `A`..`J`) in the
/// odd 1-based positions 1, 3, …, 15.
const ODD_VALUES: [u8; 26] = [
    1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
];

/// Which characters each position of a personal CF may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// `A`–`Z`.
    Letter,
    /// `0`–`9` or an omocodia letter (`LMNPQRSTUV`).
    Digit,
    /// One of the 12 month letters.
    Month,
}

/// Layout of the 16 positions (domain.md §7.3 regex).
const LAYOUT: [Slot; 16] = [
    Slot::Letter,
    Slot::Letter,
    Slot::Letter,
    Slot::Letter,
    Slot::Letter,
    Slot::Letter,
    Slot::Digit,
    Slot::Digit,
    Slot::Month,
    Slot::Digit,
    Slot::Digit,
    Slot::Letter,
    Slot::Digit,
    Slot::Digit,
    Slot::Digit,
    Slot::Letter,
];

impl Slot {
    fn accepts(self, b: u8) -> bool {
        match self {
            Slot::Letter => b.is_ascii_uppercase(),
            Slot::Digit => b.is_ascii_digit() || OMOCODIA_LETTERS.contains(&b),
            Slot::Month => MONTH_LETTERS.contains(&b),
        }
    }
}

/// Trims, removes inner whitespace and uppercases ASCII letters.
fn normalise(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Value of one character in the check-character sum; `pos0` is 0-based.
/// Characters other than ASCII letters and digits count 0.
fn check_value(pos0: usize, b: u8) -> u32 {
    let index = match b.to_ascii_uppercase() {
        d @ b'0'..=b'9' => d - b'0',
        l @ b'A'..=b'Z' => l - b'A',
        _ => return 0,
    };
    if pos0.is_multiple_of(2) {
        // 1-based odd position.
        u32::from(ODD_VALUES[usize::from(index)])
    } else {
        u32::from(index)
    }
}

fn check_byte(first15: &[u8]) -> u8 {
    let sum: u32 = first15
        .iter()
        .take(15)
        .enumerate()
        .map(|(i, &b)| check_value(i, b))
        .sum();
    // `sum % 26` is below 26, so the cast is lossless.
    b'A' + (sum % 26) as u8
}

/// Check character (position 16) of a personal CF, computed on its first 15
/// characters (domain.md §7.2). Works on omocodic codes too.
///
/// The caller should pass 15 ASCII letters or digits (lowercase is accepted);
/// only the first 15 characters are read, and any other character counts 0.
pub fn check_char(first15: &str) -> char {
    char::from(check_byte(first15.as_bytes()))
}

/// Undoes omocodia on one byte of a digit position: `'7'` and `'T'` both give 7.
fn decode_digit(b: u8) -> u8 {
    if b.is_ascii_digit() {
        b - b'0'
    } else {
        OMOCODIA_LETTERS
            .iter()
            .position(|&l| l == b)
            .and_then(|p| u8::try_from(p).ok())
            .unwrap_or(0)
    }
}

/// A validated 16-character personal codice fiscale (uppercase, no spaces).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CfPersona(String);

impl CfPersona {
    /// Parses a personal CF. Whitespace anywhere is ignored and letters are
    /// uppercased. Accepts omocodic codes.
    ///
    /// Errors: [`CfError::Vuoto`] for empty input, [`CfError::Controllo`] when
    /// only the check character is wrong, [`CfError::Formato`] otherwise
    /// (length, characters, month letter, day outside 1–31 / 41–71).
    pub fn parse(input: &str) -> Result<CfPersona, CfError> {
        let s = normalise(input);
        if s.is_empty() {
            return Err(CfError::Vuoto);
        }
        validate_persona(s.as_bytes())?;
        Ok(CfPersona(s))
    }

    /// Builds the CF of a person from personal data, following D.M. 23
    /// dicembre 1976 (domain.md §7.1), without omocodia.
    ///
    /// - surname: its consonants, then its vowels, then `X`, first three;
    /// - name: if it has more than three consonants, the 1st, 3rd and 4th;
    ///   otherwise as for the surname;
    /// - accents are stripped (`À` → `A`, `ç` → `C`, …) and anything that is not a
    ///   letter (spaces, apostrophes, hyphens) is ignored;
    /// - `place_code` is the Belfiore code: one letter and three digits
    ///   (`"H501"`, `"Z404"`), case-insensitive.
    ///
    /// Returns [`CfError::Formato`] if the surname or the name has no letter,
    /// or if `place_code` is not one letter followed by three digits.
    pub fn compute(
        surname: &str,
        name: &str,
        birth: NaiveDate,
        sex: Sex,
        place_code: &str,
    ) -> Result<CfPersona, CfError> {
        let surname = fold_letters(surname);
        let name = fold_letters(name);
        if surname.is_empty() || name.is_empty() {
            return Err(CfError::Formato);
        }
        let place = normalise(place_code);
        let pb = place.as_bytes();
        if pb.len() != 4 || !pb[0].is_ascii_uppercase() || !pb[1..].iter().all(u8::is_ascii_digit) {
            return Err(CfError::Formato);
        }

        let mut code: Vec<u8> = Vec::with_capacity(16);
        code.extend(surname_code(&surname));
        code.extend(name_code(&name));
        // `rem_euclid(100)` is in 0..100, so the casts below are lossless.
        let yy = birth.year().rem_euclid(100) as u8;
        code.push(b'0' + yy / 10);
        code.push(b'0' + yy % 10);
        code.push(MONTH_LETTERS[birth.month0() as usize]);
        let day = birth.day() as u8 + if sex == Sex::F { 40 } else { 0 };
        code.push(b'0' + day / 10);
        code.push(b'0' + day % 10);
        code.extend_from_slice(pb);
        code.push(check_byte(&code));
        Ok(CfPersona(bytes_to_string(&code)))
    }

    /// The code, 16 uppercase characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn byte(&self, pos0: usize) -> u8 {
        self.0.as_bytes()[pos0]
    }

    /// Two-digit number at 0-based positions `pos0` and `pos0 + 1`, omocodia undone.
    fn number_at(&self, pos0: usize) -> u32 {
        u32::from(decode_digit(self.byte(pos0))) * 10 + u32::from(decode_digit(self.byte(pos0 + 1)))
    }

    /// Day field as encoded (1–31 for men, 41–71 for women).
    fn raw_day(&self) -> u32 {
        self.number_at(9)
    }

    fn day(&self) -> u32 {
        let d = self.raw_day();
        if d > 40 { d - 40 } else { d }
    }

    /// Month, 1–12.
    fn month(&self) -> u32 {
        let letter = self.byte(8);
        let index = MONTH_LETTERS.iter().position(|&l| l == letter).unwrap_or(0);
        // `index` is below 12.
        index as u32 + 1
    }

    /// Last two digits of the year of birth.
    fn year2(&self) -> u32 {
        self.number_at(6)
    }

    /// Sex encoded in the code (day field above 40 → female).
    pub fn sex(&self) -> Sex {
        if self.raw_day() > 40 { Sex::F } else { Sex::M }
    }

    /// Birth date encoded in the code. The two-digit year is read as 20yy,
    /// unless that date would be after `today`, in which case it is 19yy.
    /// `None` when the day does not exist in that month (e.g. 31 February).
    pub fn birth_date(&self, today: NaiveDate) -> Option<NaiveDate> {
        let (yy, month, day) = (self.year2(), self.month(), self.day());
        // Compare as (year, month, day) so that an impossible 20yy date does
        // not prevent choosing the century.
        let yy = i32::try_from(yy).ok()?;
        let candidate = (2000 + yy, month, day);
        let year = if candidate > (today.year(), today.month(), today.day()) {
            1900 + yy
        } else {
            2000 + yy
        };
        NaiveDate::from_ymd_opt(year, month, day)
    }

    /// Belfiore code of the place of birth with omocodia undone, e.g. `"H501"`.
    pub fn place_code(&self) -> String {
        let mut place = String::with_capacity(4);
        place.push(char::from(self.byte(11)));
        for pos0 in 12..15 {
            place.push(char::from(b'0' + decode_digit(self.byte(pos0))));
        }
        place
    }

    /// Whether any of the 7 digit positions holds an omocodia letter.
    pub fn is_omocode(&self) -> bool {
        self.omocodia_mask() != 0
    }

    /// Which of the 7 digit positions hold an omocodia letter, with the bit
    /// layout of [`CfPersona::with_omocodia`] (bit 0 = position 15).
    pub fn omocodia_mask(&self) -> u8 {
        OMOCODIA_POSITIONS
            .iter()
            .enumerate()
            .filter(|&(_, &pos0)| !self.byte(pos0).is_ascii_digit())
            .fold(0, |mask, (bit, _)| mask | (1 << bit))
    }

    /// Whether the code encodes the given birth day, month, two-digit year
    /// and sex (rule V8). A mismatch is only a warning: omocodia and registry
    /// quirks make it legitimate.
    pub fn matches_birth(&self, birth: NaiveDate, sex: Sex) -> bool {
        self.day() == birth.day()
            && self.month() == birth.month()
            && i64::from(self.year2()) == i64::from(birth.year()).rem_euclid(100)
            && self.sex() == sex
    }

    /// The omocodic variant selected by `mask`, with the check character
    /// recomputed.
    ///
    /// Bit `i` of `mask` (0 ≤ i < 7) selects the `i`-th omocodia position
    /// counted from the right: bit 0 = position 15, bit 1 = 14, bit 2 = 13,
    /// bit 3 = 11, bit 4 = 10, bit 5 = 8, bit 6 = position 7. Selected
    /// positions hold the substitution letter (`0→L … 9→V`), the others hold
    /// the plain digit: the result depends only on the person's data and the
    /// mask, not on the omocodia already present in `self`. So
    /// `with_omocodia(0)` gives the base code, and the agency's first variant
    /// is `with_omocodia(1)`. Bit 7 is ignored.
    pub fn with_omocodia(&self, mask: u8) -> CfPersona {
        let mut code: Vec<u8> = self.0.as_bytes().to_vec();
        for (bit, &pos0) in OMOCODIA_POSITIONS.iter().enumerate() {
            let digit = decode_digit(code[pos0]);
            code[pos0] = if mask & (1 << bit) != 0 {
                OMOCODIA_LETTERS[usize::from(digit)]
            } else {
                b'0' + digit
            };
        }
        code[15] = check_byte(&code[..15]);
        CfPersona(bytes_to_string(&code))
    }
}

/// Builds a `String` from ASCII bytes.
fn bytes_to_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Checks a normalised 16-character personal CF.
fn validate_persona(s: &[u8]) -> Result<(), CfError> {
    if s.len() != 16 {
        return Err(CfError::Formato);
    }
    if !LAYOUT.iter().zip(s).all(|(slot, &b)| slot.accepts(b)) {
        return Err(CfError::Formato);
    }
    let day = u32::from(decode_digit(s[9])) * 10 + u32::from(decode_digit(s[10]));
    if !((1..=31).contains(&day) || (41..=71).contains(&day)) {
        return Err(CfError::Formato);
    }
    if check_byte(&s[..15]) != s[15] {
        return Err(CfError::Controllo);
    }
    Ok(())
}

/// Uppercase ASCII letters of `text`, accents stripped, non-letters dropped.
fn fold_letters(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        let folded: &[u8] =
            match c {
                'a'..='z' | 'A'..='Z' => {
                    out.push(c.to_ascii_uppercase() as u8);
                    continue;
                }
                'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'Ā'
                | 'ā' | 'Ă' | 'ă' | 'Ą' | 'ą' => b"A",
                'Æ' | 'æ' => b"AE",
                'Ç' | 'ç' | 'Ć' | 'ć' | 'Č' | 'č' => b"C",
                'Ď' | 'ď' | 'Đ' | 'đ' => b"D",
                'È' | 'É' | 'Ê' | 'Ë' | 'è' | 'é' | 'ê' | 'ë' | 'Ē' | 'ē' | 'Ė' | 'ė' | 'Ę'
                | 'ę' | 'Ě' | 'ě' => b"E",
                'Ğ' | 'ğ' => b"G",
                'Ì' | 'Í' | 'Î' | 'Ï' | 'ì' | 'í' | 'î' | 'ï' | 'Ī' | 'ī' | 'İ' | 'ı' => {
                    b"I"
                }
                'Ł' | 'ł' | 'Ľ' | 'ľ' => b"L",
                'Ñ' | 'ñ' | 'Ń' | 'ń' | 'Ň' | 'ň' => b"N",
                'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ő'
                | 'ő' => b"O",
                'Œ' | 'œ' => b"OE",
                'Ř' | 'ř' => b"R",
                'Ś' | 'ś' | 'Š' | 'š' | 'Ş' | 'ş' | 'Ș' | 'ș' => b"S",
                'ß' => b"SS",
                'Ť' | 'ť' | 'Ţ' | 'ţ' | 'Ț' | 'ț' => b"T",
                'Ù' | 'Ú' | 'Û' | 'Ü' | 'ù' | 'ú' | 'û' | 'ü' | 'Ū' | 'ū' | 'Ů' | 'ů' | 'Ű'
                | 'ű' => b"U",
                'Ý' | 'ý' | 'ÿ' | 'Ÿ' => b"Y",
                'Ź' | 'ź' | 'Ż' | 'ż' | 'Ž' | 'ž' => b"Z",
                _ => b"",
            };
        out.extend_from_slice(folded);
    }
    out
}

fn is_vowel(b: u8) -> bool {
    matches!(b, b'A' | b'E' | b'I' | b'O' | b'U')
}

/// Consonants then vowels then `X` padding, first three.
fn three_letters(consonants: &[u8], vowels: &[u8]) -> [u8; 3] {
    let mut out = [b'X'; 3];
    for (slot, &b) in out.iter_mut().zip(consonants.iter().chain(vowels)) {
        *slot = b;
    }
    out
}

fn split_letters(letters: &[u8]) -> (Vec<u8>, Vec<u8>) {
    letters.iter().partition(|&&b| !is_vowel(b))
}

fn surname_code(letters: &[u8]) -> [u8; 3] {
    let (consonants, vowels) = split_letters(letters);
    three_letters(&consonants, &vowels)
}

fn name_code(letters: &[u8]) -> [u8; 3] {
    let (consonants, vowels) = split_letters(letters);
    if consonants.len() > 3 {
        [consonants[0], consonants[2], consonants[3]]
    } else {
        three_letters(&consonants, &vowels)
    }
}

/// A validated 11-digit numeric codice fiscale (entities; provisional codes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CfNumerico(String);

impl CfNumerico {
    /// Parses an 11-digit numeric CF (whitespace ignored). A wrong 11th digit
    /// gives [`CfError::Controllo`], anything else malformed [`CfError::Formato`].
    pub fn parse(input: &str) -> Result<CfNumerico, CfError> {
        let s = normalise(input);
        if s.is_empty() {
            return Err(CfError::Vuoto);
        }
        let b = s.as_bytes();
        if b.len() != 11 || !b.iter().all(u8::is_ascii_digit) {
            return Err(CfError::Formato);
        }
        if numeric_check_digit(&b[..10]) != b[10] {
            return Err(CfError::Controllo);
        }
        Ok(CfNumerico(s))
    }

    /// The code, 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Luhn-type check digit (as an ASCII byte) of the first 10 digits
/// (domain.md §7.4).
fn numeric_check_digit(first10: &[u8]) -> u8 {
    let sum: u32 = first10
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                d
            } else if d * 2 > 9 {
                d * 2 - 9
            } else {
                d * 2
            }
        })
        .sum();
    // Below 10, so the cast is lossless.
    b'0' + ((10 - sum % 10) % 10) as u8
}

/// A codice fiscale of either kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CodiceFiscale {
    /// 16-character code of a natural person.
    Persona(CfPersona),
    /// 11-digit numeric code (entities; provisional codes for some foreigners).
    Numerico(CfNumerico),
}

impl CodiceFiscale {
    /// Parses a CF of either kind. The input is trimmed, inner whitespace is
    /// removed and letters are uppercased; then 16 characters are read as a
    /// personal code, 11 digits as a numeric code, anything else is
    /// [`CfError::Formato`] (or [`CfError::Vuoto`] if nothing is left).
    pub fn parse(input: &str) -> Result<CodiceFiscale, CfError> {
        let s = normalise(input);
        match s.len() {
            0 => Err(CfError::Vuoto),
            16 => CfPersona::parse(&s).map(CodiceFiscale::Persona),
            11 if s.bytes().all(|b| b.is_ascii_digit()) => {
                CfNumerico::parse(&s).map(CodiceFiscale::Numerico)
            }
            _ => Err(CfError::Formato),
        }
    }

    /// The normalised code.
    pub fn as_str(&self) -> &str {
        match self {
            CodiceFiscale::Persona(p) => p.as_str(),
            CodiceFiscale::Numerico(n) => n.as_str(),
        }
    }

    /// Whether both codes name the same person or entity: omocodic variants of one personal
    /// code are the same person.
    pub fn same_person(&self, other: &CodiceFiscale) -> bool {
        match (self, other) {
            (CodiceFiscale::Persona(a), CodiceFiscale::Persona(b)) => {
                a.with_omocodia(0) == b.with_omocodia(0)
            }
            _ => self == other,
        }
    }

    /// The personal code, if this is one.
    pub fn as_persona(&self) -> Option<&CfPersona> {
        match self {
            CodiceFiscale::Persona(p) => Some(p),
            CodiceFiscale::Numerico(_) => None,
        }
    }
}

impl From<CfPersona> for CodiceFiscale {
    fn from(p: CfPersona) -> Self {
        CodiceFiscale::Persona(p)
    }
}

impl From<CfNumerico> for CodiceFiscale {
    fn from(n: CfNumerico) -> Self {
        CodiceFiscale::Numerico(n)
    }
}

/// `Display`, `FromStr` and string-based serde for the three CF types.
macro_rules! string_impls {
    ($ty:ty) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl FromStr for $ty {
            type Err = CfError;

            fn from_str(s: &str) -> Result<Self, CfError> {
                <$ty>::parse(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            /// Deserialises from a string, validated like `parse`.
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                <$ty>::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_impls!(CodiceFiscale);
string_impls!(CfPersona);
string_impls!(CfNumerico);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn persona(s: &str) -> CfPersona {
        CfPersona::parse(s).unwrap()
    }

    /// Independent check character, with the compact tables of domain.md §7.2.
    fn oracle_check_char(first15: &str) -> char {
        const DIGITS_AS_LETTERS: &str = "ABCDEFGHIJ";
        const EVEN: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        const ODD: &str = "BAKPLCQDREVOSFTGUHMINJWZYX";
        let sum: usize = first15
            .chars()
            .enumerate()
            .map(|(i, c)| {
                let c = match c.to_digit(10) {
                    Some(n) => DIGITS_AS_LETTERS.as_bytes()[n as usize] as char,
                    None => c,
                };
                let table = if i % 2 == 0 { ODD } else { EVEN };
                table.find(c).unwrap()
            })
            .sum();
        (b'A' + (sum % 26) as u8) as char
    }

    /// Independent check digit for 11-digit codes (domain.md §7.4).
    fn oracle_numeric_check(first10: &[u8]) -> u8 {
        let x: u32 = [0, 2, 4, 6, 8].iter().map(|&i| u32::from(first10[i])).sum();
        let y: u32 = [1, 3, 5, 7, 9]
            .iter()
            .map(|&i| {
                let double = 2 * u32::from(first10[i]);
                if double > 9 { double - 9 } else { double }
            })
            .sum();
        ((10 - (x + y) % 10) % 10) as u8
    }

    // ---- worked examples of domain.md ----

    #[test]
    fn worked_check_characters() {
        assert_eq!(check_char("RSSMRA85T10A562"), 'S');
        assert_eq!(check_char("RSSMRA79B11C566"), 'R');
        assert_eq!(check_char("RSSMRA85T10A56N"), 'H');
        assert_eq!(check_char("rssmra85t10a562"), 'S');
        assert_eq!(oracle_check_char("RSSMRA85T10A562"), 'S');
    }

    #[test]
    fn worked_example_rssmra85t10a562s() {
        let cf = persona("RSSMRA85T10A562S");
        assert_eq!(cf.as_str(), "RSSMRA85T10A562S");
        assert_eq!(cf.birth_date(d(2025, 1, 1)), Some(d(1985, 12, 10)));
        assert_eq!(cf.sex(), Sex::M);
        assert_eq!(cf.place_code(), "A562");
        assert!(!cf.is_omocode());
        assert_eq!(cf.omocodia_mask(), 0);
        assert!(cf.matches_birth(d(1985, 12, 10), Sex::M));
        assert!(!cf.matches_birth(d(1985, 12, 10), Sex::F));
        assert!(!cf.matches_birth(d(1985, 12, 11), Sex::M));
        assert!(!cf.matches_birth(d(1985, 11, 10), Sex::M));
        assert!(!cf.matches_birth(d(1984, 12, 10), Sex::M));
        // Only the two-digit year is compared.
        assert!(cf.matches_birth(d(1885, 12, 10), Sex::M));
        assert_eq!(
            CfPersona::compute("Rossi", "Mario", d(1985, 12, 10), Sex::M, "A562"),
            Ok(cf)
        );
    }

    #[test]
    fn worked_example_rssmra79b11c566r() {
        let cf = persona("RSSMRA79B11C566R");
        assert_eq!(cf.birth_date(d(2025, 1, 1)), Some(d(1979, 2, 11)));
        assert_eq!(cf.sex(), Sex::M);
        assert_eq!(cf.place_code(), "C566");
        assert_eq!(
            CfPersona::compute("ROSSI", "MARIO", d(1979, 2, 11), Sex::M, "c566"),
            Ok(cf)
        );
    }

    #[test]
    fn worked_example_omocode() {
        let base = persona("RSSMRA85T10A562S");
        let omo = persona("RSSMRA85T10A56NH");
        assert!(omo.is_omocode());
        assert_eq!(omo.omocodia_mask(), 1);
        assert_eq!(omo.place_code(), "A562");
        assert_eq!(omo.birth_date(d(2025, 1, 1)), Some(d(1985, 12, 10)));
        assert_eq!(base.with_omocodia(1), omo);
        assert_eq!(omo.with_omocodia(0), base);
        assert_eq!(base.with_omocodia(0b1000_0000), base);
        let all = base.with_omocodia(0x7F);
        assert_eq!(&all.as_str()[..15], "RSSMRAURTMLARSN");
        assert_eq!(all.omocodia_mask(), 0x7F);
        assert_eq!(all.place_code(), "A562");
        assert!(all.matches_birth(d(1985, 12, 10), Sex::M));
        assert_eq!(
            CodiceFiscale::parse("RSSMRA85T10A56NH"),
            Ok(CodiceFiscale::Persona(omo))
        );
    }

    #[test]
    fn worked_example_numeric() {
        let cf = CodiceFiscale::parse("80409200583").unwrap();
        assert!(matches!(cf, CodiceFiscale::Numerico(_)));
        assert_eq!(cf.as_str(), "80409200583");
        assert_eq!(cf.as_persona(), None);
        assert_eq!(CodiceFiscale::parse("80409200584"), Err(CfError::Controllo));
        assert_eq!(
            CfNumerico::parse(" 804 092 005 83 ").unwrap().as_str(),
            "80409200583"
        );
        assert_eq!(CfNumerico::parse("RSSMRA85T10A562S"), Err(CfError::Formato));
    }

    // ---- parsing and errors ----

    #[test]
    fn normalisation() {
        let cf = CodiceFiscale::parse("  rss mra 85t10\ta562s ").unwrap();
        assert_eq!(cf.as_str(), "RSSMRA85T10A562S");
        assert_eq!(cf.to_string(), "RSSMRA85T10A562S");
        let parsed: CodiceFiscale = "rssmra85t10a562s".parse().unwrap();
        assert_eq!(parsed, cf);
        let p: CfPersona = "RSSMRA85T10A562S".parse().unwrap();
        assert_eq!(cf.as_persona(), Some(&p));
        assert_eq!(CodiceFiscale::from(p.clone()), cf);
        assert_eq!(format!("{p}"), "RSSMRA85T10A562S");
        let n: CfNumerico = "80409200583".parse().unwrap();
        assert_eq!(n.to_string(), "80409200583");
    }

    #[test]
    fn errors() {
        use CfError::*;
        let cases: &[(&str, CfError)] = &[
            ("", Vuoto),
            ("   ", Vuoto),
            ("RSSMRA85T10A562", Formato),
            ("RSSMRA85T10A562SS", Formato),
            ("RSSMRA85T10A562A", Controllo),
            ("RSSMRA85T10A562Z", Controllo),
            ("RSSMRA85T10A5623", Formato), // check char must be a letter
            ("RSSMRA85F10A562S", Formato), // F is not a month letter
            ("RSSMRA85T10A56WS", Formato), // W is not an omocodia letter
            ("RSSMR185T10A562S", Formato), // digit among the surname/name letters
            ("RSSMRA85T101562S", Formato), // place must start with a letter
            ("RSSMRÀ85T10A562S", Formato), // non-ASCII
            ("8040920058", Formato),
            ("8040920058A", Formato),
            ("804092005831", Formato),
            ("RSSMRA-85T10A562S", Formato),
        ];
        for (input, err) in cases {
            assert_eq!(CodiceFiscale::parse(input), Err(err.clone()), "{input:?}");
        }
        // Day outside 1–31 / 41–71, with a correct check character.
        for day in ["00", "32", "40", "72", "99", "LL", "PS"] {
            let first15 = format!("RSSMRA85T{day}A562");
            let code = format!("{first15}{}", check_char(&first15));
            assert_eq!(CfPersona::parse(&code), Err(Formato), "{code}");
        }
        for day in ["01", "31", "41", "71", "MN", "QM"] {
            let first15 = format!("RSSMRA85T{day}A562");
            let code = format!("{first15}{}", check_char(&first15));
            assert!(CfPersona::parse(&code).is_ok(), "{code}");
        }
    }

    #[test]
    fn error_messages() {
        assert_eq!(CfError::Vuoto.to_string(), "Indicare il codice fiscale.");
        assert_eq!(
            CfError::Formato.to_string(),
            "Il codice fiscale non è valido. Verificare i 16 caratteri (o le 11 cifre per gli enti)."
        );
        assert_eq!(
            CfError::Controllo.to_string(),
            "Il carattere di controllo del codice fiscale non è corretto: verificare eventuali errori di battitura."
        );
    }

    // ---- decoding ----

    fn with_check(first15: &str) -> CfPersona {
        persona(&format!("{first15}{}", check_char(first15)))
    }

    #[test]
    fn birth_date_century_and_impossible_dates() {
        let today = d(2025, 6, 1);
        // 29 February 2000 exists; 29 February 1900 does not.
        let leap = with_check("BNCLRA00B69F205");
        assert_eq!(leap.sex(), Sex::F);
        assert_eq!(leap.birth_date(today), Some(d(2000, 2, 29)));
        assert_eq!(leap.birth_date(d(1999, 12, 31)), None);
        // Born on the day itself → 20yy; one day later → 19yy.
        let cf = with_check("RSSMRA25E01H501");
        assert_eq!(cf.birth_date(d(2025, 5, 1)), Some(d(2025, 5, 1)));
        assert_eq!(cf.birth_date(d(2025, 4, 30)), Some(d(1925, 5, 1)));
        assert_eq!(
            with_check("RSSMRA30A01H501").birth_date(today),
            Some(d(1930, 1, 1))
        );
        assert_eq!(
            with_check("RSSMRA25T10H501").birth_date(today),
            Some(d(1925, 12, 10))
        );
        // Impossible dates pass the format check but decode to None.
        assert_eq!(with_check("RSSMRA85B31H501").birth_date(today), None);
        assert_eq!(with_check("RSSMRA85D71H501").birth_date(today), None);
        assert_eq!(
            with_check("RSSMRA85D70H501").birth_date(today),
            Some(d(1985, 4, 30))
        );
    }

    // ---- computation rules ----

    fn first6(surname: &str, name: &str) -> String {
        let cf = CfPersona::compute(surname, name, d(1990, 5, 15), Sex::M, "H501").unwrap();
        cf.as_str()[..6].to_string()
    }

    #[test]
    fn surname_and_name_rules() {
        assert_eq!(first6("Bianchi", "Laura"), "BNCLRA");
        assert_eq!(first6("Fo", "Gianfranco"), "FOXGFR");
        assert_eq!(first6("Ai", "Luca"), "AIXLCU");
        assert_eq!(first6("D'Amico", "Nicolò"), "DMCNCL");
        assert_eq!(first6("De Luca", "Èva"), "DLCVEA");
        assert_eq!(first6("O", "Al"), "OXXLAX");
        assert_eq!(first6("Hu", "Yu"), "HUXYUX");
        assert_eq!(first6("Müller-Lüdenscheidt", "José María"), "MLLJMR");
        assert_eq!(first6("ÇELİK", "Şükrü"), "CLKSKR");
        assert_eq!(first6("Rossi Bianchi", "Anna Maria"), "RSSNMR");
        assert_eq!(first6("  rossi  ", "mario"), "RSSMRA");
    }

    #[test]
    fn compute_female_and_abroad() {
        let cf = CfPersona::compute("Bianchi", "Laura", d(1990, 5, 15), Sex::F, "z404").unwrap();
        assert_eq!(&cf.as_str()[..15], "BNCLRA90E55Z404");
        assert_eq!(cf.sex(), Sex::F);
        assert_eq!(cf.place_code(), "Z404");
        assert_eq!(cf.birth_date(d(2025, 1, 1)), Some(d(1990, 5, 15)));
        assert!(cf.matches_birth(d(1990, 5, 15), Sex::F));
        assert!(!cf.matches_birth(d(1990, 5, 15), Sex::M));
    }

    #[test]
    fn compute_rejects_bad_input() {
        let b = d(1990, 5, 15);
        assert_eq!(
            CfPersona::compute("", "Mario", b, Sex::M, "H501"),
            Err(CfError::Formato)
        );
        assert_eq!(
            CfPersona::compute("Rossi", "'- ", b, Sex::M, "H501"),
            Err(CfError::Formato)
        );
        for place in ["", "H50", "H5011", "1501", "HH01", "H5O1"] {
            assert_eq!(
                CfPersona::compute("Rossi", "Mario", b, Sex::M, place),
                Err(CfError::Formato),
                "{place:?}"
            );
        }
    }

    // ---- serde ----

    #[test]
    fn deserialize_validates() {
        use serde::de::IntoDeserializer;
        use serde::de::value::{Error as DeError, StrDeserializer};
        let de = |s: &'static str| -> StrDeserializer<'static, DeError> { s.into_deserializer() };
        assert_eq!(
            CodiceFiscale::deserialize(de("rssmra85t10a562s")).unwrap(),
            CodiceFiscale::parse("RSSMRA85T10A562S").unwrap()
        );
        assert_eq!(
            CodiceFiscale::deserialize(de("80409200583"))
                .unwrap()
                .as_str(),
            "80409200583"
        );
        let err = CodiceFiscale::deserialize(de("RSSMRA85T10A562A")).unwrap_err();
        assert_eq!(err.to_string(), CfError::Controllo.to_string());
        assert!(CfPersona::deserialize(de("80409200583")).is_err());
        assert!(CfNumerico::deserialize(de("RSSMRA85T10A562S")).is_err());
        assert_eq!(
            CfPersona::deserialize(de("RSSMRA85T10A56NH")).unwrap(),
            persona("RSSMRA85T10A56NH")
        );
        assert_eq!(Sex::deserialize(de("F")).unwrap(), Sex::F);
    }

    // ---- property tests ----

    const NAME_CHARS: &[char] = &[
        'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', 'P', 'Q', 'R',
        'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'a', 'e', 'i', 'o', 'u', 'n', 'r', 's', 'À', 'È',
        'É', 'Ì', 'Ò', 'Ù', 'à', 'è', 'é', 'ì', 'ò', 'ù', 'ç', 'ñ', 'ü', ' ', '\'', '-',
    ];

    fn name_strategy() -> impl Strategy<Value = String> {
        // The first character is a letter, so every name has one.
        (
            prop::sample::select(&NAME_CHARS[..34]),
            prop::collection::vec(prop::sample::select(NAME_CHARS), 0..15),
        )
            .prop_map(|(first, rest)| std::iter::once(first).chain(rest).collect())
    }

    fn date_strategy() -> impl Strategy<Value = NaiveDate> {
        let start = d(1900, 1, 1);
        let days = (d(2025, 12, 31) - start).num_days();
        (0..=days).prop_map(move |n| start + chrono::TimeDelta::days(n))
    }

    fn sex_strategy() -> impl Strategy<Value = Sex> {
        prop_oneof![Just(Sex::M), Just(Sex::F)]
    }

    fn place_strategy() -> impl Strategy<Value = String> {
        (b'A'..=b'Z', 0u32..1000).prop_map(|(l, n)| format!("{}{n:03}", char::from(l)))
    }

    /// A random person: (surname, name, birth, sex, place).
    fn person_strategy() -> impl Strategy<Value = (String, String, NaiveDate, Sex, String)> {
        (
            name_strategy(),
            name_strategy(),
            date_strategy(),
            sex_strategy(),
            place_strategy(),
        )
    }

    /// Characters allowed at a 0-based position.
    fn allowed_at(pos0: usize) -> Vec<u8> {
        (b'0'..=b'9')
            .chain(b'A'..=b'Z')
            .filter(|&b| LAYOUT[pos0].accepts(b))
            .collect()
    }

    proptest! {
        /// (a) compute → parse round trip decodes the same data.
        #[test]
        fn computed_codes_parse_and_decode(
            (surname, name, birth, sex, place) in person_strategy(),
            later in 0i64..36_000,
        ) {
            let cf = CfPersona::compute(&surname, &name, birth, sex, &place).unwrap();
            prop_assert_eq!(cf.as_str().len(), 16);
            prop_assert_eq!(check_char(&cf.as_str()[..15]), oracle_check_char(&cf.as_str()[..15]));
            let parsed = CodiceFiscale::parse(cf.as_str()).unwrap();
            prop_assert_eq!(parsed.as_persona(), Some(&cf));
            prop_assert_eq!(CodiceFiscale::parse(&cf.as_str().to_lowercase()), Ok(parsed.clone()));
            prop_assert_eq!(cf.birth_date(birth), Some(birth));
            // Any "today" less than 100 years after the birth gives the same date.
            let today = birth + chrono::TimeDelta::days(later);
            prop_assert_eq!(cf.birth_date(today), Some(birth));
            prop_assert_eq!(cf.sex(), sex);
            prop_assert_eq!(cf.place_code(), place);
            prop_assert!(!cf.is_omocode());
            prop_assert!(cf.matches_birth(birth, sex));
            let other = if sex == Sex::M { Sex::F } else { Sex::M };
            prop_assert!(!cf.matches_birth(birth, other));
        }

        /// (b) all 128 omocodic variants parse and decode the same data.
        #[test]
        fn all_omocodia_variants(
            (surname, name, birth, sex, place) in person_strategy(),
        ) {
            let cf = CfPersona::compute(&surname, &name, birth, sex, &place).unwrap();
            for mask in 0u8..128 {
                let variant = cf.with_omocodia(mask);
                let parsed = CfPersona::parse(variant.as_str());
                prop_assert_eq!(parsed.as_ref(), Ok(&variant), "mask {}", mask);
                prop_assert_eq!(
                    check_char(&variant.as_str()[..15]),
                    oracle_check_char(&variant.as_str()[..15])
                );
                prop_assert_eq!(variant.birth_date(birth), Some(birth));
                prop_assert_eq!(variant.sex(), sex);
                prop_assert_eq!(variant.place_code(), place.clone());
                prop_assert_eq!(variant.is_omocode(), mask != 0);
                prop_assert_eq!(variant.omocodia_mask(), mask);
                prop_assert!(variant.matches_birth(birth, sex));
                prop_assert_eq!(variant.with_omocodia(0), cf.clone());
                // Only the 7 omocodia positions and the check character may differ.
                for (i, (a, b)) in cf.as_str().bytes().zip(variant.as_str().bytes()).enumerate() {
                    if !OMOCODIA_POSITIONS.contains(&i) && i != 15 {
                        prop_assert_eq!(a, b);
                    }
                }
            }
        }

        /// (c) a single-character change at any position is rejected.
        #[test]
        fn single_character_change_is_rejected(
            (surname, name, birth, sex, place) in person_strategy(),
            mask in 0u8..128,
            pos0 in 0usize..16,
            pick in any::<prop::sample::Index>(),
        ) {
            let cf = CfPersona::compute(&surname, &name, birth, sex, &place)
                .unwrap()
                .with_omocodia(mask);
            let mut bytes = cf.as_str().as_bytes().to_vec();
            let others: Vec<u8> = allowed_at(pos0).into_iter().filter(|&b| b != bytes[pos0]).collect();
            bytes[pos0] = *pick.get(&others);
            let changed: String = bytes.iter().map(|&b| char::from(b)).collect();
            let result = CodiceFiscale::parse(&changed);
            if pos0 == 9 || pos0 == 10 {
                // The day may leave its ranges: either error is a rejection.
                prop_assert!(
                    matches!(result, Err(CfError::Controllo | CfError::Formato)),
                    "{} accepted", changed
                );
            } else {
                prop_assert_eq!(result, Err(CfError::Controllo), "{}", changed);
            }
        }

        /// (d) a random 11-digit string is accepted iff its check digit is right.
        #[test]
        fn numeric_accepted_iff_check_digit_right(
            digits in prop::collection::vec(0u8..10, 11),
            force_right in any::<bool>(),
        ) {
            let mut digits = digits;
            let expected = oracle_numeric_check(&digits[..10]);
            if force_right {
                digits[10] = expected;
            }
            let s: String = digits.iter().map(|&d| char::from(b'0' + d)).collect();
            let result = CodiceFiscale::parse(&s);
            if digits[10] == expected {
                prop_assert_eq!(result.map(|cf| cf.as_str().to_string()), Ok(s));
            } else {
                prop_assert_eq!(result, Err(CfError::Controllo));
            }
        }

        /// Parsing arbitrary text never panics.
        #[test]
        fn parse_never_panics(s in "\\PC{0,20}") {
            let _ = CodiceFiscale::parse(&s);
            let _ = check_char(&s);
        }
    }
}
