//! One chart: its figures once, drawn three ways from the same struct — a server-rendered SVG
//! (a title, a description, `role="img"`), the table of the data behind it, and its CSV.
//! No JavaScript: the SVG scales with its `viewBox`, the table scrolls in its own container.

use maud::{Markup, html};

use crate::domain::statistics::{Cell, bar_length, scale_top};

/// How the categories are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// Categories side by side along the x axis (a series in time).
    Columns,
    /// Categories one under the other (groups with long names).
    Bars,
}

/// A chart's data: one row per category, one cell per series (a count too small to show, or
/// withheld, is drawn as no bar and written as such), and extra columns only the table and the
/// CSV show.
#[derive(Clone, Debug)]
pub struct Chart {
    /// Stable id: the element's, the CSV's name in the URL (`grafico=`).
    pub id: &'static str,
    pub title: String,
    pub description: String,
    pub shape: Shape,
    /// The header of the category column.
    pub category: &'static str,
    pub categories: Vec<String>,
    pub series: Vec<(&'static str, Vec<Cell>)>,
    pub extra: Vec<(&'static str, Vec<String>)>,
    /// A last row of the table (and the CSV), e.g. the totals; not drawn.
    pub footer: Option<Vec<String>>,
}

/// The series' colours (Bootstrap Italia's primary blue, then dark and light accents), each
/// with a contrast of at least 3:1 on white (WCAG 2.1 1.4.11).
const COLOURS: [&str; 3] = ["#0066cc", "#004d99", "#d1344c"];

/// How a cell is written: a number, `< 5`, or withheld.
fn cell_text(v: Option<Cell>) -> String {
    v.map_or_else(String::new, Cell::text)
}

impl Chart {
    fn title_id(&self) -> String {
        format!("{}-titolo", self.id)
    }

    fn desc_id(&self) -> String {
        format!("{}-descrizione", self.id)
    }

    /// The table's (and the CSV's) header.
    pub fn header(&self) -> Vec<&str> {
        let mut h = vec![self.category];
        h.extend(self.series.iter().map(|(name, _)| *name));
        h.extend(self.extra.iter().map(|(name, _)| *name));
        h
    }

    /// The table's (and the CSV's) rows.
    pub fn rows(&self) -> Vec<Vec<String>> {
        let mut out: Vec<Vec<String>> = self
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut row = vec![c.clone()];
                row.extend(
                    self.series
                        .iter()
                        .map(|(_, v)| cell_text(v.get(i).copied())),
                );
                row.extend(
                    self.extra
                        .iter()
                        .map(|(_, v)| v.get(i).cloned().unwrap_or_default()),
                );
                row
            })
            .collect();
        if let Some(f) = &self.footer {
            out.push(f.clone());
        }
        out
    }

    fn max(&self) -> i64 {
        self.series
            .iter()
            .flat_map(|(_, v)| v.iter().filter_map(|c| c.value()))
            .max()
            .unwrap_or(0)
    }

    fn svg(&self) -> Markup {
        match self.shape {
            Shape::Columns => self.columns(),
            Shape::Bars => self.bars(),
        }
    }

    fn legend(&self, y: f64) -> Markup {
        html! {
            @if self.series.len() > 1 {
                @for (k, (name, _)) in self.series.iter().enumerate() {
                    rect x=(40 + k as i64 * 200) y=(y) width="14" height="14" fill=(COLOURS[k % COLOURS.len()]) {}
                    text x=(60 + k as i64 * 200) y=(y + 12.0) font-size="14" { (name) }
                }
            }
        }
    }

    /// Columns along the x axis, grouped by category; the scale on the left.
    fn columns(&self) -> Markup {
        let (w, h) = (720.0, 300.0);
        let (left, top, bottom) = (48.0, 30.0, 60.0);
        let plot_h = h - top - bottom;
        let n = self.categories.len().max(1) as f64;
        let slot = (w - left - 10.0) / n;
        let k = self.series.len().max(1) as f64;
        let bar_w = (slot * 0.8 / k).max(1.0);
        let top_value = scale_top(self.max());
        let every = (self.categories.len() / 8).max(1);
        html! {
            svg viewBox=(format!("0 0 {w} {}", h + 20.0)) width="100%" role="img"
                aria-labelledby=(format!("{} {}", self.title_id(), self.desc_id())) class="statistica-grafico" {
                title id=(self.title_id()) { (self.title) }
                desc id=(self.desc_id()) { (self.description) }
                line x1=(left) y1=(top + plot_h) x2=(w - 10.0) y2=(top + plot_h) stroke="#5c6f82" {}
                text x=(left - 4.0) y=(top + 4.0) font-size="14" text-anchor="end" { (top_value) }
                text x=(left - 4.0) y=(top + plot_h) font-size="14" text-anchor="end" { "0" }
                line x1=(left) y1=(top) x2=(w - 10.0) y2=(top) stroke="#d9dadb" stroke-dasharray="4" {}
                @for (i, c) in self.categories.iter().enumerate() {
                    @for (s, (_, values)) in self.series.iter().enumerate() {
                        @if let Some(v) = values.get(i).and_then(|c| c.value()) {
                            @let len = bar_length(v, top_value, plot_h);
                            rect x=(format!("{:.1}", left + i as f64 * slot + slot * 0.1 + s as f64 * bar_w))
                                y=(format!("{:.1}", top + plot_h - len))
                                width=(format!("{bar_w:.1}")) height=(format!("{len:.1}"))
                                fill=(COLOURS[s % COLOURS.len()]) {}
                        }
                    }
                    @if i % every == 0 {
                        text x=(format!("{:.1}", left + i as f64 * slot + slot / 2.0)) y=(top + plot_h + 16.0)
                            font-size="14" text-anchor="middle" { (c) }
                    }
                }
                (self.legend(h - 10.0))
            }
        }
    }

    /// One row per category: its name, the bars, the values written at their end.
    fn bars(&self) -> Markup {
        // Narrower than the columns: on a phone the text stays readable.
        let w = 480.0;
        let (label_w, value_w) = (190.0, 64.0);
        let k = self.series.len().max(1) as f64;
        let bar_h = 16.0;
        let row_h = bar_h * k + 10.0;
        let legend_h = if self.series.len() > 1 { 30.0 } else { 0.0 };
        let h = (self.categories.len().max(1) as f64) * row_h + legend_h + 10.0;
        let span = w - label_w - value_w;
        let top_value = scale_top(self.max());
        html! {
            svg viewBox=(format!("0 0 {w} {h}")) width="100%" role="img"
                aria-labelledby=(format!("{} {}", self.title_id(), self.desc_id())) class="statistica-grafico" {
                title id=(self.title_id()) { (self.title) }
                desc id=(self.desc_id()) { (self.description) }
                @for (i, c) in self.categories.iter().enumerate() {
                    @let y0 = 5.0 + i as f64 * row_h;
                    text x=(label_w - 8.0) y=(format!("{:.1}", y0 + row_h / 2.0)) font-size="14"
                        text-anchor="end" dominant-baseline="middle" { (truncate(c, 24)) }
                    @for (s, (_, values)) in self.series.iter().enumerate() {
                        @let v = values.get(i).copied();
                        @let len = v.and_then(Cell::value).map_or(0.0, |v| bar_length(v, top_value, span));
                        @let y = y0 + s as f64 * bar_h;
                        rect x=(label_w) y=(format!("{y:.1}")) width=(format!("{len:.1}")) height=(bar_h - 2.0)
                            fill=(COLOURS[s % COLOURS.len()]) {}
                        text x=(format!("{:.1}", label_w + len + 4.0)) y=(format!("{:.1}", y + bar_h - 4.0))
                            font-size="13" { (cell_text(v)) }
                    }
                }
                (self.legend(h - legend_h + 5.0))
            }
        }
    }

    /// The chart, its data table and the link to its CSV.
    pub fn render(&self, csv_href: &str) -> Markup {
        html! {
            section id=(self.id) class="mb-5" aria-labelledby=(format!("{}-h", self.id)) {
                h3 id=(format!("{}-h", self.id)) class="h5" { (self.title) }
                p class="small text-muted" { (self.description) }
                (self.svg())
                details class="mt-2" {
                    summary { "Tabella dei dati del grafico" }
                    div class="table-responsive" tabindex="0" role="region" aria-label=(format!("Dati: {}", self.title)) {
                        table class="table table-sm" {
                            caption { "Dati: " (self.title) }
                            thead { tr { @for h in self.header() { th scope="col" { (h) } } } }
                            tbody {
                                @for row in self.rows() {
                                    tr {
                                        @for (j, cell) in row.iter().enumerate() {
                                            @if j == 0 { th scope="row" { (cell) } } @else { td { (cell) } }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                p class="mt-1" {
                    a href=(csv_href) download { "Scarica i dati (CSV)" }
                }
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
