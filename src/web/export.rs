//! Tables as files for spreadsheets: CSV as Italian spreadsheets expect it (UTF-8 with BOM,
//! `;` between fields) and .xlsx. The audit log and every list of applications use them.

use axum::{
    http::{HeaderValue, header},
    response::Response,
};
use rust_xlsxwriter::{Format, Workbook};

use super::public::attachments::file_response;

/// Which file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Csv,
    Xlsx,
}

impl FileKind {
    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Csv => "csv",
            FileKind::Xlsx => "xlsx",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            FileKind::Csv => "text/csv; charset=utf-8",
            FileKind::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }
    }
}

/// A cell a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, a tab or a carriage
/// return first) gets an apostrophe in front, so that a name typed on the public form never
/// runs as a formula in the office's spreadsheet (CSV injection).
fn inert(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// UTF-8 with BOM, `;`-separated, a header line first.
pub fn csv(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    let mut out = csv::WriterBuilder::new()
        .delimiter(b';')
        .from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record(header)?;
    for r in rows {
        out.write_record(r.iter().map(|c| inert(c).into_owned()))?;
    }
    out.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))
}

/// A CSV written piece by piece: the BOM and the header first, then rows; [`CsvChunks::take`]
/// hands over what is written so far (a response streams it while the rest is read).
pub struct CsvChunks(csv::Writer<Vec<u8>>);

impl CsvChunks {
    fn writer(start: Vec<u8>) -> csv::Writer<Vec<u8>> {
        csv::WriterBuilder::new().delimiter(b';').from_writer(start)
    }

    pub fn new(header: &[&str]) -> anyhow::Result<Self> {
        let mut out = Self::writer(b"\xEF\xBB\xBF".to_vec());
        out.write_record(header)?;
        Ok(Self(out))
    }

    pub fn row(&mut self, row: &[String]) -> anyhow::Result<()> {
        for c in row {
            self.0.write_field(inert(c).as_bytes())?;
        }
        self.0.write_record(None::<&[u8]>)?;
        Ok(())
    }

    /// The bytes written since the last take.
    pub fn take(&mut self) -> anyhow::Result<Vec<u8>> {
        let full = std::mem::replace(&mut self.0, Self::writer(Vec::new()));
        full.into_inner().map_err(|e| anyhow::anyhow!("csv: {e}"))
    }

    /// Bytes waiting to be taken (an estimate: the writer's own buffer is not counted).
    pub fn pending(&self) -> usize {
        self.0.get_ref().len()
    }
}

/// A CSV download whose body is `body` as it comes, never kept in a cache.
pub fn csv_stream(body: axum::body::Body, name: &str) -> Response {
    let mut res = Response::new(body);
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(FileKind::Csv.content_type()),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        super::public::attachments::content_disposition(name),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// One worksheet: the header in bold and frozen, every cell as text (what the list shows).
pub fn xlsx(sheet: &str, header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<Vec<u8>> {
    let mut book = Workbook::new();
    let ws = book.add_worksheet();
    ws.set_name(sheet)?;
    let bold = Format::new().set_bold();
    for (c, h) in header.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            if !cell.is_empty() {
                ws.write_string(r as u32 + 1, c as u16, cell)?;
            }
        }
    }
    ws.set_freeze_panes(1, 0)?;
    ws.autofit();
    Ok(book.save_to_buffer()?)
}

/// The file as a download, never kept in a cache.
pub fn download(bytes: Vec<u8>, format: FileKind, name: &str) -> Response {
    let mut res = file_response(bytes, format.content_type(), name);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
