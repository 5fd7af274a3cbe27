//! Server-side PDF generation (PDF/A-2b) with Typst used as a library.
//!
//! The templates (`templates/*.typ`) and fonts (`fonts/*`) are embedded in the
//! binary. Each render compiles one template against a tiny virtual file
//! system that contains only the templates and `data.json` (the serialised
//! `serde_json::Value` passed to [`PdfEngine::render`]). Nothing is read from
//! disk and nothing is fetched from the network: `@preview/...` package imports
//! fail with a compile error.
//!
//! JSON strings reach Typst as *values*, never as markup, so data such as
//! `#set page(...)` or `*bold*` is printed literally.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use typst::diag::{FileError, FileResult, PackageError, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration, Smart};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

/// Embedded fonts: Titillium Web (Bootstrap Italia, SIL OFL 1.1) for the text
/// and DejaVu Sans Mono (Bitstream Vera licence) for monospace and as the
/// fallback for glyphs Titillium lacks (Greek, Cyrillic, arrows, ...).
const FONTS: [&[u8]; 5] = [
    include_bytes!("fonts/TitilliumWeb-Regular.ttf"),
    include_bytes!("fonts/TitilliumWeb-Italic.ttf"),
    include_bytes!("fonts/TitilliumWeb-SemiBold.ttf"),
    include_bytes!("fonts/TitilliumWeb-Bold.ttf"),
    include_bytes!("fonts/DejaVuSansMono.ttf"),
];

const INTESTAZIONE: (&str, &str) = (
    "/intestazione.typ",
    include_str!("templates/intestazione.typ"),
);
const ISTANZA: (&str, &str) = ("/istanza.typ", include_str!("templates/istanza.typ"));
const RICEVUTA: (&str, &str) = ("/ricevuta.typ", include_str!("templates/ricevuta.typ"));
const DELIBERA: (&str, &str) = ("/delibera.typ", include_str!("templates/delibera.typ"));
const VERBALE: (&str, &str) = ("/verbale.typ", include_str!("templates/verbale.typ"));
const RAPPORTO: (&str, &str) = ("/rapporto.typ", include_str!("templates/rapporto.typ"));
const REGISTRO: (&str, &str) = ("/registro.typ", include_str!("templates/registro.typ"));
const FASCICOLO: (&str, &str) = ("/fascicolo.typ", include_str!("templates/fascicolo.typ"));
const DISTINTA: (&str, &str) = ("/distinta.typ", include_str!("templates/distinta.typ"));
const DATA_PATH: &str = "/data.json";

/// After each render, memoised results not used by the last this-many renders
/// are evicted from Typst's global (process-wide) cache, so that a long-running
/// server does not grow without bound.
const CACHE_MAX_AGE: usize = 32;

/// The documents the engine can produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Template {
    /// The filled application, to be printed and signed by the applicant.
    Istanza,
    /// The receipt of a filed application.
    Ricevuta,
    /// The Council's decision on an application.
    Delibera,
    /// The minutes of a council session.
    Verbale,
    /// The verification report of a signed file.
    Rapporto,
    /// The protocol register of a day (or of a range of dates).
    Registro,
    /// A case's protocol entries, transmissions, history and audit entries (the dossier).
    Fascicolo,
    /// The cover list of a batch of admissions for the Agenzia delle Entrate.
    Distinta,
}

impl Template {
    fn index(self) -> usize {
        match self {
            Template::Istanza => 0,
            Template::Ricevuta => 1,
            Template::Delibera => 2,
            Template::Verbale => 3,
            Template::Rapporto => 4,
            Template::Registro => 5,
            Template::Fascicolo => 6,
            Template::Distinta => 7,
        }
    }
}

/// Errors from [`PdfEngine::render`].
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    /// The template could not be compiled against the given data (a bug in a
    /// template, or data of an unexpected shape).
    #[error("PDF template compilation failed: {0}")]
    Compile(String),
    /// The laid-out document could not be exported as PDF/A-2b.
    #[error("PDF export failed: {0}")]
    Export(String),
}

/// How long a render waits for its turn before the request is answered "busy".
pub const RENDER_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A render that did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Bounded {
    #[error("every renderer is busy")]
    Busy,
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

/// Compiles the embedded templates into PDF/A-2b documents.
///
/// Fonts are parsed and the Typst standard library is built once, in
/// [`PdfEngine::new`]; the engine is an `Arc` inside, so cloning it is cheap and
/// it can be shared between threads (`Send + Sync`).
#[derive(Clone)]
pub struct PdfEngine {
    inner: Arc<Inner>,
}

struct Inner {
    /// Renders that may run at once (one per core): the rest wait their turn, briefly.
    permits: Arc<tokio::sync::Semaphore>,
    library: LazyHash<Library>,
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
    /// Indexed by [`Template::index`].
    mains: [Source; 8],
    intestazione: Source,
    data_id: FileId,
    standards: PdfStandards,
}

impl Default for PdfEngine {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for PdfEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PdfEngine")
            .field("fonts", &self.inner.fonts.len())
            .finish_non_exhaustive()
    }
}

fn file_id(path: &str) -> FileId {
    let vpath = VirtualPath::new(path).expect("static virtual path is valid");
    RootedPath::new(VirtualRoot::Project, vpath).intern()
}

fn source((path, text): (&str, &str)) -> Source {
    Source::new(file_id(path), text.to_owned())
}

impl PdfEngine {
    /// Loads the embedded fonts and builds the Typst standard library.
    pub fn new() -> Self {
        let fonts: Vec<Font> = FONTS
            .iter()
            .flat_map(|data| Font::iter(Bytes::new(*data)))
            .collect();
        let book = FontBook::from_fonts(&fonts);
        let standards = PdfStandards::new(&[PdfStandard::A_2b])
            .expect("PDF/A-2b is a valid standard on its own");
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let inner = Inner {
            permits: Arc::new(tokio::sync::Semaphore::new(cores.min(4))),
            library: LazyHash::new(Library::default()),
            book: LazyHash::new(book),
            fonts,
            mains: [
                source(ISTANZA),
                source(RICEVUTA),
                source(DELIBERA),
                source(VERBALE),
                source(RAPPORTO),
                source(REGISTRO),
                source(FASCICOLO),
                source(DISTINTA),
            ],
            intestazione: source(INTESTAZIONE),
            data_id: file_id(DATA_PATH),
            standards,
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// Renders `template` with `data` (exposed to the template as the virtual
    /// file `data.json`) into a PDF/A-2b document.
    ///
    /// `data` must be a JSON object. The output depends only on the template
    /// and on `data`: the PDF creation date (which PDF/A requires) and Typst's
    /// notion of "today" come from `data["generata_il_iso"]` (RFC 3339, e.g.
    /// `2026-11-26T10:42:00Z`). Only when that field is absent or invalid is
    /// the system clock used instead, and then two renders differ.
    pub fn render(
        &self,
        template: Template,
        data: &serde_json::Value,
    ) -> Result<Vec<u8>, PdfError> {
        let now = generation_instant(data);
        let (document, _warnings) = self.compile(template, data, now)?;
        let ident = match data.get("codice").and_then(serde_json::Value::as_str) {
            Some(code) => Smart::Custom(format!("patrocinio:{template:?}:{code}")),
            None => Smart::Auto,
        };
        let options = PdfOptions {
            ident,
            timestamp: now.timestamp(),
            standards: self.inner.standards.clone(),
            ..PdfOptions::default()
        };
        let result = typst_pdf::pdf(&document, &options)
            .map_err(|diags| PdfError::Export(format_diagnostics(None, &diags)));
        drop(document);
        typst::comemo::evict(CACHE_MAX_AGE);
        result
    }

    /// Renders on a blocking thread, at most one per core at a time. A request that does not
    /// get its turn within [`RENDER_WAIT`] gets [`Bounded::Busy`]. The turn belongs to the
    /// render itself: a request that gives up (timeout, client gone) still holds it until its
    /// render ends, so abandoned work can never pile up beyond the bound.
    pub async fn render_bounded(
        &self,
        template: Template,
        data: serde_json::Value,
    ) -> Result<Vec<u8>, Bounded> {
        self.run_bounded(move |engine| engine.render(template, &data))
            .await?
            .map_err(|e| Bounded::Failed(e.into()))
    }

    /// Runs other costly work on documents (reading the QR codes of a scan) under the same
    /// bound as renders, with the same rules.
    pub async fn run_bounded<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PdfEngine) -> T + Send + 'static,
    ) -> Result<T, Bounded> {
        let permit = tokio::time::timeout(RENDER_WAIT, self.inner.permits.clone().acquire_owned())
            .await
            .map_err(|_| Bounded::Busy)?
            .map_err(|e| Bounded::Failed(e.into()))?;
        let engine = self.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work(&engine)
        })
        .await
        .map_err(|e| Bounded::Failed(e.into()))
    }

    /// Compiles without exporting; also returns Typst's warnings (used by the
    /// tests to catch e.g. a misspelt font family).
    fn compile(
        &self,
        template: Template,
        data: &serde_json::Value,
        now: IsoTimestamp,
    ) -> Result<(PagedDocument, Vec<String>), PdfError> {
        if !data.is_object() {
            return Err(PdfError::Compile("data must be a JSON object".into()));
        }
        let json = serde_json::to_vec(data).map_err(|e| PdfError::Compile(e.to_string()))?;
        let world = RenderWorld {
            inner: &self.inner,
            main: &self.inner.mains[template.index()],
            data: Bytes::new(json),
            now,
        };
        let warned = typst::compile::<PagedDocument>(&world);
        let warnings = warned
            .warnings
            .iter()
            .map(|w| format_diagnostic(Some(&world), w))
            .collect();
        match warned.output {
            Ok(document) => Ok((document, warnings)),
            Err(errors) => {
                let msg = format_diagnostics(Some(&world), &errors);
                typst::comemo::evict(CACHE_MAX_AGE);
                Err(PdfError::Compile(msg))
            }
        }
    }
}

/// The world seen by one compilation.
struct RenderWorld<'a> {
    inner: &'a Inner,
    main: &'a Source,
    data: Bytes,
    /// The generation instant (from the data, else the system clock).
    now: IsoTimestamp,
}

impl RenderWorld<'_> {
    fn lookup_source(&self, id: FileId) -> FileResult<&Source> {
        let inner = self.inner;
        if let VirtualRoot::Package(spec) = id.root() {
            return Err(FileError::Package(PackageError::Other(Some(
                format!("packages are not available offline ({spec})").into(),
            ))));
        }
        [self.main, &inner.intestazione]
            .into_iter()
            .chain(inner.mains.iter())
            .find(|s| s.id() == id)
            .ok_or_else(|| FileError::NotFound(id.vpath().get_with_slash().into()))
    }
}

impl World for RenderWorld<'_> {
    fn library(&self) -> &LazyHash<Library> {
        &self.inner.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.inner.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.inner.data_id {
            return Err(FileError::NotSource);
        }
        self.lookup_source(id).cloned()
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.inner.data_id {
            return Ok(self.data.clone());
        }
        self.lookup_source(id)
            .map(|s| Bytes::from_string(s.clone()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.inner.fonts.get(index).cloned()
    }

    fn today(&self, offset: Option<Duration>) -> Option<Datetime> {
        // `auto` offset: the one written in the data (the server has no
        // time-zone database, so UTC for the system clock).
        let offset_seconds = match offset {
            Some(d) => d.seconds() as i64,
            None => i64::from(self.now.offset_minutes.unwrap_or(0)) * 60,
        };
        let days = (self.now.unix_seconds() + offset_seconds).div_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        Datetime::from_ymd(y, m, d)
    }
}

/// When the document was generated: `data["generata_il_iso"]` if present and
/// valid, otherwise the system clock (UTC).
fn generation_instant(data: &serde_json::Value) -> IsoTimestamp {
    data.get("generata_il_iso")
        .and_then(serde_json::Value::as_str)
        .and_then(IsoTimestamp::parse)
        .unwrap_or_else(|| {
            let unix = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            IsoTimestamp::from_unix_utc(unix)
        })
}

/// Formats diagnostics as `path:line:col: message (hint: ...)`, one a line.
fn format_diagnostics(world: Option<&RenderWorld>, diags: &[SourceDiagnostic]) -> String {
    diags
        .iter()
        .map(|d| format_diagnostic(world, d))
        .collect::<Vec<_>>()
        .join("\n")
}

fn format_diagnostic(world: Option<&RenderWorld>, diag: &SourceDiagnostic) -> String {
    let mut out = String::new();
    if let (Some(world), Some(id)) = (world, diag.span.id()) {
        out.push_str(id.vpath().get_without_slash());
        if let (Some(range), Ok(source)) = (world.range(diag.span), world.source(id))
            && let Some((line, col)) = source.lines().byte_to_line_column(range.start)
        {
            out.push_str(&format!(":{}:{}", line + 1, col + 1));
        }
        out.push_str(": ");
    }
    if diag.severity == Severity::Warning {
        out.push_str("warning: ");
    }
    out.push_str(&diag.message);
    for hint in &diag.hints {
        out.push_str(" (hint: ");
        out.push_str(&hint.v);
        out.push(')');
    }
    out
}

/// A parsed `YYYY-MM-DD[THH:MM[:SS[.fff]]][Z|±HH:MM|±HHMM]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IsoTimestamp {
    date: (i32, u8, u8),
    time: (u8, u8, u8),
    /// `None` for a timestamp without offset, which is then taken as UTC.
    offset_minutes: Option<i32>,
}

impl IsoTimestamp {
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let num = |part: &str| -> Option<u32> {
            (!part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
                .then(|| part.parse().ok())
                .flatten()
        };
        let (date, rest) = match s.find(['T', 't', ' ']) {
            Some(i) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let mut parts = date.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = (num(y)? as i32, num(m)? as u8, num(d)? as u8);
        Datetime::from_ymd(date.0, date.1, date.2)?;
        let Some(rest) = rest else {
            return Some(Self {
                date,
                time: (0, 0, 0),
                offset_minutes: None,
            });
        };
        let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
            Some(i) => (&rest[..i], Some(&rest[i..])),
            None => (rest, None),
        };
        let clock = clock.split('.').next()?; // drop fractional seconds
        let mut hms = clock.split(':');
        let h = num(hms.next()?)?;
        let mi = num(hms.next()?)?;
        let sec = hms.next().map_or(Some(0), num)?;
        if hms.next().is_some() || h > 23 || mi > 59 || sec > 60 {
            return None;
        }
        let offset_minutes = match offset {
            None => None,
            Some("Z" | "z") => Some(0),
            Some(o) => {
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let digits: String = o[1..].chars().filter(|c| *c != ':').collect();
                if digits.len() != 4 {
                    return None;
                }
                let (oh, om) = (num(&digits[..2])?, num(&digits[2..])?);
                if oh > 23 || om > 59 {
                    return None;
                }
                Some(sign * (oh as i32 * 60 + om as i32))
            }
        };
        Some(Self {
            date,
            time: (h as u8, mi as u8, sec.min(59) as u8),
            offset_minutes,
        })
    }

    fn datetime(self) -> Option<Datetime> {
        let ((y, m, d), (h, mi, s)) = (self.date, self.time);
        Datetime::from_ymd_hms(y, m, d, h, mi, s)
    }

    fn timestamp(self) -> Option<Timestamp> {
        let datetime = self.datetime()?;
        match self.offset_minutes {
            None | Some(0) => Some(Timestamp::new_utc(datetime)),
            Some(offset) => Timestamp::new_local(datetime, offset),
        }
    }

    fn from_unix_utc(unix: i64) -> Self {
        let (date, secs) = (
            civil_from_days(unix.div_euclid(86_400)),
            unix.rem_euclid(86_400),
        );
        let time = (
            (secs / 3600) as u8,
            (secs / 60 % 60) as u8,
            (secs % 60) as u8,
        );
        Self {
            date,
            time,
            offset_minutes: Some(0),
        }
    }

    fn unix_seconds(self) -> i64 {
        let ((y, m, d), (h, mi, s)) = (self.date, self.time);
        days_from_civil(y, m, d) * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s)
            - i64::from(self.offset_minutes.unwrap_or(0)) * 60
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u8, d: u8) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i32, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::Instant;

    const CODICE: &str = "PSS-7K3M-Q9TD";
    /// Data that looks like markup must come out literally.
    const INIEZIONE: &str = "#set page(width: 1cm) *Beta S.r.l.* _x_ $y$ <z> @w";

    fn ordine() -> Value {
        json!({"nome": "Ordine degli Avvocati di Vallenera", "pec": "segreteria@pec.ordineavvocativallenera.it"})
    }

    fn ricevuta_completa() -> Value {
        json!({
            "ordine": ordine(),
            "codice": CODICE,
            "presentata_il": "26/11/2026 alle ore 10:42",
            "generata_il_iso": "2026-11-26T10:42:00Z",
            "richiedente": "Niccolò Lucà D’Amico",
            "codice_fiscale": "DMCNCL85T10A562S",
            "materia": "Famiglia — separazione giudiziale",
            "ufficio": "Tribunale di Vallenera",
            "avvocato": "Avv. Anna Bianchi",
            "allegati": [
                {"tipo": "Documento d'identità", "nome": "carta_identità.pdf",
                 "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
                {"tipo": "Dichiarazione dei redditi 2025", "nome": "730-2025 (precompilato).pdf",
                 "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
                {"tipo": "Altro", "nome": INIEZIONE,
                 "sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}
            ],
            "stato_url": "https://patrocinio.example.it/demo/istanza/stato",
            "avvertenze": [
                "La presentazione non comporta l’ammissione: il Consiglio dell’Ordine decide entro dieci giorni.",
                "Le dichiarazioni false sono punite ai sensi del codice penale (€ 516,00 di sanzione minima).",
                INIEZIONE
            ]
        })
    }

    fn ricevuta_minima() -> Value {
        json!({
            "ordine": {"nome": "Ordine degli Avvocati di Vallenera", "pec": null},
            "codice": CODICE,
            "presentata_il": "26/11/2026 alle ore 10:42",
            "richiedente": "Mario Rossi",
            "codice_fiscale": "RSSMRA85T10A562S",
            "materia": "Lavoro",
            "ufficio": "Tribunale di Vallenera",
            "avvocato": null,
            "allegati": [],
            "stato_url": null,
            "avvertenze": []
        })
    }

    fn fatti_lunghi() -> String {
        let frase = "Il ricorrente, già dipendente della società convenuta dal 2019 con mansioni di \
                     magazziniere, è stato licenziato il 3 marzo 2026 senza preavviso né indennità; \
                     la lettera di licenziamento, priva di motivazione, è stata consegnata a mano \
                     e l’importo di € 1.250,00 a titolo di TFR non è mai stato corrisposto. ";
        let mut s = String::new();
        let mut i = 0;
        while s.chars().count() < 5000 {
            s.push_str(frase);
            i += 1;
            if i % 3 == 0 {
                s.push_str("\n\n");
            }
        }
        // An unbreakable 200-character token must not overflow the margin.
        let url = format!("https://atti.example.it/{}", "x".repeat(176));
        let mut s: String = s.chars().take(5000 - url.len() - 1).collect();
        s.push(' ');
        s.push_str(&url);
        assert_eq!(s.chars().count(), 5000);
        s
    }

    fn istanza_completa() -> Value {
        json!({
            "ordine": ordine(),
            "codice": CODICE,
            "qr": crate::documents::binding::qr_svg(CODICE),
            "generata_il": "26/11/2026",
            "generata_il_iso": "2026-11-26T10:42:00+01:00",
            "bozza": true,
            "presentata_da": "L'avv. Anna Bianchi per conto del richiedente",
            "materia": "Lavoro",
            "ufficio_giudiziario": "Tribunale di Vallenera — Sezione lavoro",
            "richiedente": {
                "tipo": "Persona fisica",
                "nominativo": "Niccolò Lucà D’Amico",
                "codice_fiscale": "DMCNCL85T10A562S",
                "nascita": "nato a Roma il 10/12/1985",
                "cittadinanza": "italiana",
                "residenza": "Via dell’Università 12, 00185 Roma (RM)",
                "email": "niccolo.damico@example.it",
                "telefono": "+39 333 123 4567",
                "soggiorno": null
            },
            "famiglia": {
                "vive_solo": false,
                "componenti": [
                    {"nominativo": "Zoë Ŝtefańska", "codice_fiscale": "STFZOE88A41Z127K",
                     "relazione": "Coniuge", "nascita": "nata a Varsavia (Polonia) il 01/01/1988"},
                    {"nominativo": "Łukasz D’Amico", "codice_fiscale": "DMCLKS15C05H501X",
                     "relazione": "Figlio", "nascita": null}
                ]
            },
            "redditi": {
                "anno": "2025",
                "righe": [
                    {"persona": "Niccolò Lucà D’Amico", "imponibile": "9.000,00", "esenti": "0,00",
                     "ritenuta": "250,00", "sostitutiva": "0,00", "totale": "9.250,00"},
                    {"persona": "Zoë Ŝtefańska", "imponibile": "2.750,00", "esenti": "0,00",
                     "ritenuta": "0,00", "sostitutiva": "0,00", "totale": "2.750,00"}
                ],
                "totale": "12.000,00",
                "soglia": "13.659,64",
                "decreto": "D.I. 22 aprile 2025 (G.U. n. 120 del 26 maggio 2025)",
                "solo_personale": null,
                "art76_4ter": null
            },
            "causa": {
                "controparte": INIEZIONE,
                "controparte_residenza": "Via Roma 1, Vallenera",
                "pendente": true,
                "rg": "1234/2026",
                "prossima_udienza": "15/01/2027",
                "fatti": fatti_lunghi(),
                "diritto": "Il licenziamento è illegittimo per difetto di giusta causa (art. 2119 c.c.) \
                            e per violazione dell’art. 2 L. 604/1966.\nSi chiede la reintegra.",
                "prove": "Testimoni: Sig.ra Maria Verdi; Sig. Paolo Neri.\nDocumenti: lettera di licenziamento, buste paga."
            },
            "avvocato": {"nominativo": "Anna Bianchi", "pec": "anna.bianchi@pec.it",
                         "iscrizione": "Albo di Vallenera n. 1234"},
            "dichiarazioni": [
                "di essere residente nel Comune di Roma;",
                "che il reddito complessivo del nucleo familiare nell’anno 2025 è di € 12.000,00;",
                "di impegnarsi a comunicare ogni variazione di reddito rilevante entro trenta giorni."
            ],
            "allegati": [
                {"tipo": "Documento d'identità", "nome": "carta_identità.pdf"},
                {"tipo": "Altro", "nome": "Ελληνικά и кириллица → ✓"}
            ]
        })
    }

    fn istanza_minima() -> Value {
        json!({
            "ordine": {"nome": "Ordine degli Avvocati di Vallenera", "pec": null},
            "codice": CODICE,
            "generata_il": "26/11/2026",
            "bozza": false,
            "presentata_da": "Il richiedente",
            "materia": "Famiglia",
            "ufficio_giudiziario": "Tribunale di Vallenera",
            "richiedente": {
                "tipo": "Ente senza scopo di lucro",
                "nominativo": "Associazione Amici di Vallenera ODV",
                "codice_fiscale": "90012345678",
                "nascita": null, "cittadinanza": null,
                "residenza": "Piazza Garibaldi 3, Vallenera",
                "email": null, "telefono": null, "soggiorno": null
            },
            "famiglia": {"vive_solo": true, "componenti": []},
            "redditi": {
                "anno": "2025", "righe": [], "totale": null, "soglia": "13.659,64",
                "decreto": null,
                "solo_personale": "controversia in cui gli interessi del richiedente sono in conflitto con quelli degli altri componenti",
                "art76_4ter": "persona offesa da reato ex art. 76, comma 4-ter"
            },
            "causa": {
                "controparte": "Comune di Vallenera", "controparte_residenza": null,
                "pendente": false, "rg": null, "prossima_udienza": null,
                "fatti": "", "diritto": null, "prove": null
            },
            "avvocato": null,
            "dichiarazioni": [],
            "allegati": []
        })
    }

    // ---- helpers -------------------------------------------------------

    fn engine() -> &'static PdfEngine {
        static ENGINE: std::sync::OnceLock<PdfEngine> = std::sync::OnceLock::new();
        ENGINE.get_or_init(PdfEngine::new)
    }

    #[tokio::test]
    async fn a_render_that_waits_too_long_for_its_turn_is_refused_as_busy() {
        let e = PdfEngine::new();
        let all = e.inner.permits.available_permits() as u32;
        let held = e
            .inner
            .permits
            .clone()
            .acquire_many_owned(all)
            .await
            .unwrap();
        let out = e
            .render_bounded(Template::Ricevuta, ricevuta_minima())
            .await;
        assert!(matches!(out, Err(Bounded::Busy)), "{out:?}");
        // Once a turn is free, the same request renders.
        drop(held);
        let pdf = e
            .render_bounded(Template::Ricevuta, ricevuta_minima())
            .await
            .unwrap();
        assert!(pdf.starts_with(b"%PDF"));
    }

    fn tool(name: &str) -> Command {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
            .unwrap_or(false);
        assert!(
            found,
            "`{name}` not found: these tests need poppler-utils and qpdf \
             (apt-get install -y poppler-utils qpdf)"
        );
        Command::new(name)
    }

    fn run(cmd: &mut Command) -> (bool, String) {
        let out = cmd.output().expect("tool runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn write_pdf(name: &str, pdf: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join("patrocinio-pdf-test");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.pdf"));
        std::fs::write(&path, pdf).unwrap();
        path
    }

    /// The value of an XMP property, written as `<k>v</k>` or `k="v"`.
    fn xmp_value(pdf: &[u8], key: &str) -> Option<String> {
        let text = String::from_utf8_lossy(pdf);
        let at = text.find(key)? + key.len();
        let rest = text[at..].trim_start_matches(['>', '=', '"', '\'', ' ']);
        let end = rest.find(['<', '"', '\''])?;
        Some(rest[..end].trim().to_owned())
    }

    /// Checks every claim made in the brief about a rendered PDF and returns
    /// the text extracted by pdftotext.
    fn check_pdf_text(name: &str, pdf: &[u8]) -> String {
        assert!(pdf.starts_with(b"%PDF-"), "{name}: not a PDF");
        assert_eq!(
            xmp_value(pdf, "pdfaid:part").as_deref(),
            Some("2"),
            "{name}: PDF/A part"
        );
        assert_eq!(
            xmp_value(pdf, "pdfaid:conformance").as_deref(),
            Some("B"),
            "{name}: PDF/A conformance"
        );
        let raw = String::from_utf8_lossy(pdf);
        assert!(
            raw.contains("/OutputIntents") && raw.contains("/GTS_PDFA1"),
            "{name}: no PDF/A output intent"
        );
        let path = write_pdf(name, pdf);

        let (ok, out) = run(tool("qpdf").arg("--check").arg(&path));
        assert!(ok, "{name}: qpdf --check failed:\n{out}");

        let (ok, out) = run(tool("pdffonts").arg(&path));
        assert!(ok, "{name}: pdffonts failed:\n{out}");
        check_fonts_embedded(name, &out);

        let (ok, text) = run(tool("pdftotext")
            .args(["-enc", "UTF-8"])
            .arg(&path)
            .arg("-"));
        assert!(ok, "{name}: pdftotext failed:\n{text}");
        // Nothing invisible: an address or a URL copied from the PDF works.
        assert!(
            !text.contains(['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}']),
            "{name}: invisible characters in the text"
        );
        normalize(&text)
    }

    /// [`check_pdf_text`] of a document about one application: its code is printed.
    fn check_pdf(name: &str, pdf: &[u8]) -> String {
        let text = check_pdf_text(name, pdf);
        assert!(
            text.contains(CODICE),
            "{name}: code missing from text:\n{text}"
        );
        text
    }

    /// Collapses whitespace runs (line ends included) into single spaces.
    fn normalize(s: &str) -> String {
        s.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    /// Parses `pdffonts` output by the column widths of its dashed rule.
    fn check_fonts_embedded(name: &str, out: &str) {
        let mut lines = out.lines();
        let header = lines.next().unwrap_or_default();
        let rule = lines.next().unwrap_or_default();
        let mut cols = Vec::new();
        let mut start = None;
        for (i, c) in rule.char_indices().chain([(rule.len(), ' ')]) {
            match (c, start) {
                ('-', None) => start = Some(i),
                (' ', Some(s)) => {
                    cols.push(s..i);
                    start = None;
                }
                _ => {}
            }
        }
        let emb = header
            .split_whitespace()
            .position(|h| h == "emb")
            .unwrap_or_else(|| panic!("{name}: unexpected pdffonts output:\n{out}"));
        let fonts: Vec<&str> = lines.filter(|l| !l.trim().is_empty()).collect();
        assert!(!fonts.is_empty(), "{name}: no fonts listed:\n{out}");
        for line in fonts {
            let cell = line.get(cols[emb].clone()).unwrap_or("").trim();
            assert_eq!(cell, "yes", "{name}: font not embedded: {line}\n{out}");
        }
    }

    fn pages(path: &Path) -> usize {
        let (ok, out) = run(tool("pdfinfo").arg(path));
        assert!(ok, "pdfinfo failed: {out}");
        out.lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|n| n.trim().parse().ok())
            .expect("page count")
    }

    fn render(t: Template, data: &Value) -> Vec<u8> {
        match engine().render(t, data) {
            Ok(pdf) => pdf,
            Err(e) => panic!("{t:?}: {e}"),
        }
    }

    // ---- tests ---------------------------------------------------------

    #[test]
    fn ricevuta_completa_is_valid_pdfa() {
        let pdf = render(Template::Ricevuta, &ricevuta_completa());
        let text = check_pdf("ricevuta-completa", &pdf);
        for needle in [
            "Ricevuta di presentazione",
            "26/11/2026 alle ore 10:42",
            "Niccolò Lucà D’Amico",
            "€ 516,00",
            "#set page(width: 1cm) *Beta S.r.l.* _x_ $y$ <z> @w",
            "Pagina 1 di 1",
            "segreteria@pec.ordineavvocativallenera.it",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        // The hash is printed in groups of 8 that wrap; the URL may wrap at a slash.
        let squashed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        for needle in [
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            "https://patrocinio.example.it/demo/istanza/stato",
        ] {
            assert!(squashed.contains(needle), "missing {needle:?} in:\n{text}");
        }
        // Creation date comes from generata_il_iso.
        assert_eq!(
            xmp_value(&pdf, "xmp:CreateDate").as_deref(),
            Some("2026-11-26T10:42:00+00:00")
        );
        assert!(
            String::from_utf8_lossy(&pdf).contains(CODICE),
            "title in metadata"
        );
    }

    #[test]
    fn delibera_is_valid_pdfa_with_outcome_reasons_and_references() {
        let data = json!({
            "ordine": { "nome": "Ordine degli Avvocati di Vallenera", "pec": "segreteria@pec.vallenera.it" },
            "codice": CODICE,
            "numero": "12/2026",
            "data": "26/11/2026",
            "generata_il_iso": "2026-11-26T10:42:00Z",
            "seduta": "26/11/2026",
            "consiglio": "Il Consiglio dell'Ordine degli Avvocati di Vallenera",
            "relatore": "Avv. Paola Verdi",
            "protocollo": "2026/0000123 del 20/11/2026",
            "presentata_il": "19/11/2026 alle ore 18:02",
            "richiedente": "Mario Rossi",
            "codice_fiscale": "RSSMRA85T10A562S",
            "materia": "Famiglia",
            "controparte": "Verdi Carla",
            "ufficio": "Tribunale di Vallenera",
            "avvocato": "Avv. Anna Bianchi",
            "esito": "AMMISSIONE",
            "motivazione": "Esaminata l'istanza;\n\n#set page(width: 1cm) *non markup*",
            "dispositivo": "AMMETTE Mario Rossi in via anticipata e provvisoria.",
            "riferimenti": "Artt. 74, 76, 126 e 127 del D.P.R. 30 maggio 2002, n. 115",
            "luogo_data": "Vallenera, 26/11/2026",
            "ruolo_firmatario": "Il Presidente",
            "firmatario": "Avv. Giulia Neri",
        });
        let pdf = render(Template::Delibera, &data);
        let text = check_pdf("delibera", &pdf);
        for needle in [
            "Delibera n. 12/2026",
            "Ordine degli Avvocati di Vallenera, nell",
            "su relazione del Consigliere Avv. Paola Verdi",
            "Mario Rossi",
            "AMMISSIONE",
            "#set page(width: 1cm) *non markup*",
            "Artt. 74, 76, 126 e 127",
            "Avv. Giulia Neri",
            "Sottoscrizione con firma digitale",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert_eq!(
            render(Template::Delibera, &data),
            pdf,
            "the same data give the same bytes"
        );
    }

    #[test]
    fn ricevuta_minima_copes_with_nulls_and_empty_lists() {
        let pdf = render(Template::Ricevuta, &ricevuta_minima());
        let text = check_pdf("ricevuta-minima", &pdf);
        assert!(text.contains("Nessun documento allegato"), "{text}");
        assert!(text.contains("Nessun avvocato indicato"), "{text}");
        assert!(!text.contains("PEC:"), "{text}");
        assert!(!text.contains("Avvertenze"), "{text}");
        // No generata_il_iso: PDF/A needs a date, so the clock's is used.
        assert!(xmp_value(&pdf, "xmp:CreateDate").is_some());
    }

    #[test]
    fn istanza_completa_is_valid_pdfa() {
        let pdf = render(Template::Istanza, &istanza_completa());
        let text = check_pdf("istanza-completa", &pdf);
        for needle in [
            "Al Consiglio dell’Ordine degli Avvocati di Vallenera",
            "Da sottoscrivere",
            "1. Richiedente",
            "2. Nucleo familiare",
            "3. Redditi dell’anno 2025",
            "4. Giudizio",
            "5. Avvocato",
            "6. Dichiarazioni sostitutive (art. 46 D.P.R. 445/2000)",
            "7. Allegati",
            "#set page(width: 1cm) *Beta S.r.l.* _x_ $y$ <z> @w",
            "Zoë Ŝtefańska",
            "Łukasz D’Amico",
            "Ελληνικά и кириллица → ✓",
            "€ 12.000,00",
            "13.659,64",
            "non supera il limite",
            "Firma del richiedente",
            "Per autentica della firma: Avv. Anna Bianchi",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        // The 200-character token wraps (every 60 characters, without hyphens).
        let squashed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let url = format!("https://atti.example.it/{}", "x".repeat(176));
        assert!(squashed.contains(&url), "{text}");
        let path = write_pdf("istanza-completa", &pdf);
        let n = pages(&path);
        assert!(
            n >= 3,
            "5,000-character facts should take several pages, got {n}"
        );
        assert!(text.contains(&format!("Pagina {n} di {n}")), "{text}");
        // +01:00 offset is kept.
        assert_eq!(
            xmp_value(&pdf, "xmp:CreateDate").as_deref(),
            Some("2026-11-26T10:42:00+01:00")
        );
    }

    #[test]
    fn istanza_minima_copes_with_nulls_and_empty_lists() {
        let pdf = render(Template::Istanza, &istanza_minima());
        let text = check_pdf("istanza-minima", &pdf);
        for needle in [
            "Denominazione",
            "Sede",
            "non avere familiari conviventi",
            "Nessun reddito dichiarato",
            "non ha indicato un avvocato",
            "Nessuna dichiarazione",
            "Nessun allegato",
            "Firma del legale rappresentante",
            "comma 4-ter",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        assert!(!text.contains("Da sottoscrivere"), "{text}");
        assert!(!text.contains("autentica"), "{text}");
    }

    #[test]
    fn autentica_only_when_filed_by_a_lawyer() {
        let mut data = istanza_completa();
        data["presentata_da"] = json!("Il richiedente");
        data["bozza"] = json!(false);
        data["avvocato"]["nominativo"] = json!("Avv. Anna Bianchi");
        let text = check_pdf("istanza-senza-autentica", &render(Template::Istanza, &data));
        assert!(!text.contains("autentica"), "{text}");
        assert!(!text.contains("Da sottoscrivere"), "{text}");
        assert!(text.contains("Avv. Anna Bianchi"), "{text}");
    }

    #[test]
    fn absent_fields_and_empty_object_still_render() {
        let pdf = render(Template::Istanza, &json!({"codice": CODICE}));
        check_pdf("istanza-vuota", &pdf);
        let pdf = render(Template::Ricevuta, &json!({"codice": CODICE}));
        check_pdf("ricevuta-vuota", &pdf);
    }

    fn verbale() -> Value {
        json!({
            "ordine": ordine(),
            "consiglio": "Il Consiglio dell'Ordine degli Avvocati di Vallenera",
            "data": "05/12/2026",
            "ora": "18:00",
            "presenti": ["Avv. Giulia Neri", "Avv. Paola Verdi", "Avv. Marco Blu"],
            "presidente": "Avv. Giulia Neri",
            "segretario": "Avv. Paola Verdi",
            "numero_legale": 3,
            "decisioni": [
                {"pratica": "2026/0000123", "richiedente": "Mario Rossi", "esito": "Ammissione", "delibera": "12/2026"},
                {"pratica": "2026/0000124", "richiedente": "#set page(width: 1cm) *x*", "esito": "Rigetto", "delibera": "13/2026"},
            ],
            "rinvii": [{"pratica": "2026/0000125", "richiedente": "Anna Bianchi", "adunanza": "12/12/2026 alle ore 18:00"}],
            "generata_il_iso": "2026-12-05T19:30:00+01:00"
        })
    }

    #[test]
    fn verbale_is_valid_pdfa_with_present_decisions_and_postponements() {
        let pdf = render(Template::Verbale, &verbale());
        let text = check_pdf_text("verbale", &pdf);
        for needle in [
            "Verbale dell'adunanza del 05/12/2026",
            "si è riunito il 05/12/2026 alle ore 18:00",
            "Avv. Giulia Neri, Avv. Paola Verdi, Avv. Marco Blu",
            "2026/0000123 Mario Rossi Ammissione n. 12/2026",
            "#set page(width: 1cm) *x*",
            "Rinviata all’adunanza del",
            "12/12/2026 alle ore 18:00",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
        }
        let minimal = render(Template::Verbale, &json!({ "data": "05/12/2026" }));
        assert!(check_pdf_text("verbale-minimo", &minimal).contains("Nessuna decisione."));
    }

    fn fascicolo() -> serde_json::Value {
        json!({
            "ordine": { "nome": "Ordine degli Avvocati di Vallenera" },
            "pratica": "2026/0000013",
            "codice": "PSS-7K3M-Q9TX",
            "richiedente": "Rossi Mario",
            "stato": "Ammessa",
            "protocollo": [{ "numero": "2026/0000013", "data_ora": "01/12/2026 10:00",
                "direzione": "entrata", "tipo": "istanza", "canale": "Portale",
                "oggetto": "Istanza", "impronta": "ab".repeat(32), "destinatari": null }],
            "trasmissioni": [{ "destinatario": "Interessato", "indirizzo": null,
                "protocollo": "2026/0000014", "stato": "In coda" }],
            "ricevute": [{ "data_ora": "01/12/2026 10:05", "tipo": "Mancata consegna",
                "destinatario": "a@pec.it", "errore": "casella piena",
                "firma": "Firma del gestore integra", "impronta": "cd".repeat(32) }],
            "cronologia": [{ "data_ora": "01/12/2026 10:00", "evento": "Presentata", "autore": "Richiedente" }],
            "attivita": [{ "n": 7, "data_ora": "01/12/2026 10:01", "operazione": "Consultata la pratica", "autore": "Segreteria" }],
            "attivita_troncate": true,
            "generata_il_iso": "2026-12-01T10:00:00Z",
        })
    }

    #[test]
    fn templates_compile_without_warnings() {
        for (t, data) in [
            (Template::Ricevuta, ricevuta_completa()),
            (Template::Ricevuta, ricevuta_minima()),
            (Template::Istanza, istanza_completa()),
            (Template::Istanza, istanza_minima()),
            (Template::Verbale, verbale()),
            (Template::Fascicolo, fascicolo()),
            (Template::Fascicolo, json!({})),
        ] {
            let (_, warnings) = engine()
                .compile(t, &data, generation_instant(&data))
                .unwrap();
            assert!(warnings.is_empty(), "{t:?}: {warnings:#?}");
        }
    }

    #[test]
    fn rendering_is_deterministic() {
        for (t, data) in [
            (Template::Ricevuta, ricevuta_completa()),
            (Template::Istanza, istanza_completa()),
        ] {
            let a = render(t, &data);
            let b = PdfEngine::new().render(t, &data).unwrap();
            assert!(a == b, "{t:?}: two renders differ");
        }
    }

    #[test]
    fn non_object_data_is_a_compile_error() {
        let err = engine()
            .render(Template::Ricevuta, &json!([1, 2]))
            .unwrap_err();
        assert!(matches!(err, PdfError::Compile(_)), "{err}");
    }

    #[test]
    fn world_exposes_only_the_virtual_files() {
        let inner = &engine().inner;
        let world = RenderWorld {
            inner,
            main: &inner.mains[0],
            data: Bytes::new(b"{}".to_vec()),
            now: IsoTimestamp::parse("2026-11-26T23:30:00-02:00").unwrap(),
        };
        assert!(world.file(file_id("/data.json")).is_ok());
        assert!(world.source(file_id("/intestazione.typ")).is_ok());
        assert!(world.file(file_id("/etc/passwd")).is_err());
        let spec = "@preview/example:0.1.0".parse().unwrap();
        let pkg = RootedPath::new(
            VirtualRoot::Package(spec),
            VirtualPath::new("/lib.typ").unwrap(),
        );
        assert!(matches!(
            world.source(pkg.intern()),
            Err(FileError::Package(_))
        ));
        // 23:30 at -02:00 is 01:30 UTC on the 27th; `auto` uses the data's own offset.
        assert_eq!(world.today(None), Datetime::from_ymd(2026, 11, 26));
        let utc = Duration::construct(0, 0, 0, 0, 0);
        assert_eq!(world.today(Some(utc)), Datetime::from_ymd(2026, 11, 27));
    }

    #[test]
    fn iso_timestamps() {
        let p = IsoTimestamp::parse;
        assert_eq!(p("2026-11-26T10:42:00Z").unwrap().offset_minutes, Some(0));
        assert_eq!(
            p("2026-11-26T10:42:00.123+01:00").unwrap().offset_minutes,
            Some(60)
        );
        assert_eq!(
            p("2026-11-26T10:42-0530").unwrap().offset_minutes,
            Some(-330)
        );
        assert_eq!(p("2026-11-26").unwrap().time, (0, 0, 0));
        assert!(p("26/11/2026").is_none());
        assert!(p("2026-02-30T10:00:00Z").is_none());
        assert!(p("2026-11-26T25:00:00Z").is_none());
        for days in [-1_000_000, -1, 0, 1, 20_000, 1_000_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(
            p("2026-11-26T10:42:00Z").unwrap().unix_seconds(),
            1_795_689_720
        );
        assert_eq!(
            IsoTimestamp::from_unix_utc(1_795_689_720),
            p("2026-11-26T10:42:00Z").unwrap()
        );
    }

    /// `cargo test --release timings -- --nocapture` prints the numbers.
    #[test]
    fn timings() {
        let t = Instant::now();
        let engine = PdfEngine::new();
        let new = t.elapsed();
        println!("PdfEngine::new(): {new:?}");
        for (t, data) in [
            (Template::Ricevuta, ricevuta_completa()),
            (Template::Istanza, istanza_completa()),
            (Template::Ricevuta, ricevuta_minima()),
            (Template::Istanza, istanza_minima()),
        ] {
            let start = Instant::now();
            let pdf = engine.render(t, &data).unwrap();
            let first = start.elapsed();
            let start = Instant::now();
            let _ = engine.render(t, &data).unwrap();
            let again = start.elapsed();
            let mut other = data.clone();
            other["codice"] = json!("PSS-AAAA-BBBB");
            let start = Instant::now();
            let _ = engine.render(t, &other).unwrap();
            let changed = start.elapsed();
            println!(
                "{t:?}: first render {first:?}, same data again {again:?}, \
                 other data {changed:?}, size {} bytes",
                pdf.len()
            );
        }
    }
}
