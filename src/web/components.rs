//! Form controls on Bootstrap Italia's classes, accessible (labels, hints and errors tied to
//! their input with `aria-describedby`), identical in full pages and htmx fragments.

use maud::{Markup, html};

use crate::domain::application::check::{Issue, Severity};

/// The messages for one field, blocking first.
pub fn messages_for<'a>(issues: &'a [Issue], field: &str) -> Vec<&'a Issue> {
    let mut found: Vec<&Issue> = issues.iter().filter(|i| i.field == field).collect();
    found.sort_by_key(|i| i.severity != Severity::Blocking);
    found
}

/// The hint and the message area always exist, so that htmx can fill the message area of a
/// field when the user leaves it, and assistive technology finds both.
fn described_by(id: &str, hint: Option<&str>, _issues: &[&Issue]) -> Option<String> {
    Some(match hint {
        Some(_) => format!("{id}-aiuto {id}-errore"),
        None => format!("{id}-errore"),
    })
}

/// The messages of one field, in its always-present, polite live region.
pub fn feedback(id: &str, issues: &[&Issue]) -> Markup {
    feedback_with(id, issues, None)
}

/// The same area's content as an htmx out-of-band swap into the area with the same id: the
/// live region itself stays in place, so screen readers announce the new message.
pub fn feedback_oob(id: &str, issues: &[&Issue]) -> Markup {
    feedback_with(id, issues, Some("innerHTML"))
}

fn feedback_with(id: &str, issues: &[&Issue], oob: Option<&str>) -> Markup {
    html! {
        div id=(format!("{id}-errore")) class="campo-messaggi" aria-live="polite" data-hx-swap-oob=[oob] {
            @for i in issues {
                @if i.severity == Severity::Blocking {
                    p class="campo-errore" { span class="visually-hidden" { "Errore: " } (i.message) }
                } @else {
                    p class="campo-avviso" { span class="visually-hidden" { "Avviso: " } (i.message) }
                }
            }
        }
    }
}

fn has_error(issues: &[&Issue]) -> bool {
    issues.iter().any(|i| i.severity == Severity::Blocking)
}

pub struct Input<'a> {
    pub name: &'a str,
    pub label: &'a str,
    pub value: &'a str,
    pub kind: &'a str,
    pub hint: Option<&'a str>,
    pub autocomplete: Option<&'a str>,
    pub required: bool,
    pub width: &'a str,
    /// The element id, when the name repeats (household rows).
    pub id: Option<&'a str>,
}

impl<'a> Input<'a> {
    pub fn text(name: &'a str, label: &'a str, value: &'a str) -> Self {
        Self {
            name,
            label,
            value,
            kind: "text",
            hint: None,
            autocomplete: None,
            required: true,
            width: "",
            id: None,
        }
    }

    pub fn kind(mut self, kind: &'a str) -> Self {
        self.kind = kind;
        self
    }

    pub fn hint(mut self, hint: &'a str) -> Self {
        self.hint = Some(hint);
        self
    }

    pub fn autocomplete(mut self, a: &'a str) -> Self {
        self.autocomplete = Some(a);
        self
    }

    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }

    pub fn width(mut self, class: &'a str) -> Self {
        self.width = class;
        self
    }

    pub fn id(mut self, id: &'a str) -> Self {
        self.id = Some(id);
        self
    }

    pub fn render(&self, issues: &[Issue]) -> Markup {
        let id = self.id.unwrap_or(self.name);
        let mine = messages_for(issues, id);
        let invalid = has_error(&mine);
        html! {
            div class=(format!("form-group {}", self.width)) {
                label class="active" for=(id) {
                    (self.label)
                    @if !self.required { span class="text-muted" { " (facoltativo)" } }
                }
                input type=(self.kind) class=(if invalid { "form-control is-invalid" } else { "form-control" })
                    id=(id) name=(self.name) value=(self.value)
                    autocomplete=[self.autocomplete]
                    aria-invalid=[invalid.then_some("true")]
                    aria-describedby=[described_by(id, self.hint, &mine)];
                @if let Some(hint) = self.hint {
                    small id=(format!("{id}-aiuto")) class="form-text" { (hint) }
                }
                (feedback(id, &mine))
            }
        }
    }
}

pub fn textarea(
    name: &str,
    label: &str,
    value: &str,
    hint: Option<&str>,
    rows: u32,
    issues: &[Issue],
) -> Markup {
    let mine = messages_for(issues, name);
    let invalid = has_error(&mine);
    html! {
        div class="form-group" {
            label class="active" for=(name) { (label) }
            textarea class=(if invalid { "form-control is-invalid" } else { "form-control" })
                id=(name) name=(name) rows=(rows)
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[described_by(name, hint, &mine)] { (value) }
            @if let Some(hint) = hint {
                small id=(format!("{name}-aiuto")) class="form-text" { (hint) }
            }
            (feedback(name, &mine))
        }
    }
}

/// A group of radio buttons in a fieldset with its legend.
pub fn radios(
    name: &str,
    legend: &str,
    options: &[(&str, &str)],
    selected: &str,
    hint: Option<&str>,
    issues: &[Issue],
) -> Markup {
    let mine = messages_for(issues, name);
    html! {
        fieldset class="form-group mb-4" id=(name) aria-describedby=[described_by(name, hint, &mine)] {
            legend class="h6 fw-semibold" { (legend) }
            @if let Some(hint) = hint {
                small id=(format!("{name}-aiuto")) class="form-text d-block mb-2" { (hint) }
            }
            @for (i, (value, label)) in options.iter().enumerate() {
                @let id = format!("{name}-{i}");
                div class="form-check" {
                    input type="radio" name=(name) id=(id) value=(value) checked[*value == selected];
                    label for=(id) { (label) }
                }
            }
            (feedback(name, &mine))
        }
    }
}

pub fn checkbox(name: &str, label: &str, checked: bool, issues: &[Issue]) -> Markup {
    let mine = messages_for(issues, name);
    html! {
        div class="form-check mb-3" {
            input type="checkbox" name=(name) id=(name) value="1" checked[checked]
                aria-describedby=[described_by(name, None, &mine)];
            label for=(name) { (label) }
            (feedback(name, &mine))
        }
    }
}

pub struct Choice<'a> {
    pub value: &'a str,
    pub label: &'a str,
}

pub fn select(
    name: &str,
    label: &str,
    options: &[Choice],
    selected: &str,
    placeholder: &str,
    issues: &[Issue],
) -> Markup {
    select_with_id(name, name, label, options, selected, placeholder, issues)
}

pub fn select_with_id(
    id: &str,
    name: &str,
    label: &str,
    options: &[Choice],
    selected: &str,
    placeholder: &str,
    issues: &[Issue],
) -> Markup {
    let mine = messages_for(issues, id);
    let invalid = has_error(&mine);
    html! {
        div class="select-wrapper form-group" {
            label for=(id) { (label) }
            select id=(id) name=(name) class=(if invalid { "is-invalid" } else { "" })
                aria-invalid=[invalid.then_some("true")]
                aria-describedby=[described_by(id, None, &mine)] {
                option value="" selected[selected.is_empty()] { (placeholder) }
                @for o in options {
                    option value=(o.value) selected[o.value == selected] { (o.label) }
                }
            }
            (feedback(id, &mine))
        }
    }
}

/// The summary at the top of a page with errors: each message links to its field.
pub fn error_summary(issues: &[Issue]) -> Markup {
    let blocking: Vec<&Issue> = issues.iter().filter(|i| i.blocks()).collect();
    let warnings: Vec<&Issue> = issues.iter().filter(|i| !i.blocks()).collect();
    html! {
        @if !blocking.is_empty() {
            div class="alert alert-danger" role="alert" id="riepilogo-errori" tabindex="-1" {
                h2 class="h5 alert-heading" {
                    @if blocking.len() == 1 { "C'è un dato da correggere" }
                    @else { "Ci sono " (blocking.len()) " dati da correggere" }
                }
                ul class="mb-0" {
                    @for i in &blocking {
                        li { a href=(format!("#{}", i.field)) { (i.message) } }
                    }
                }
            }
        }
        @if !warnings.is_empty() {
            div class="alert alert-warning" role="status" {
                h2 class="h5 alert-heading" { "Da verificare" }
                ul class="mb-0" {
                    @for i in &warnings {
                        li { a href=(format!("#{}", i.field)) { (i.message) } }
                    }
                }
            }
        }
    }
}

/// The verification result of a signed file, compact: per signer, qualified ✓/✗ and why,
/// name and codice fiscale, issuer, signing time and its source, revocation.
pub fn signature_details(s: &crate::documents::SignatureSummary) -> Markup {
    use crate::domain::time::format_date_time;
    html! {
        ul class="list-unstyled small mb-0 firma-verifica" {
            @for signer in &s.signers {
                li class="mb-1" {
                    @match &signer.qualification {
                        Some(q) if q.qualified => {
                            span class="text-success fw-semibold" { "✓ Firma " (s.format) " qualificata" }
                        }
                        Some(q) => {
                            span class="text-danger fw-semibold" { "✗ Firma " (s.format) " non qualificata" }
                            ": " (q.why_not())
                        }
                        None => {
                            span class="text-muted" { "Firma " (s.format) " integra, qualificazione non verificata (firma registrata prima del controllo)" }
                        }
                    }
                    br;
                    (signer.name.as_deref().unwrap_or("firmatario senza nome"))
                    @if let Some(cf) = &signer.codice_fiscale { " · C.F. " (cf) }
                    " · emesso da " (signer.issuer)
                    @if let Some(q) = &signer.qualification {
                        br;
                        "Data della firma: " (format_date_time(q.signing_time)) " (" (q.signing_time_source.label()) ")"
                        " · revoca del certificato: " (q.revocation)
                        @if let Some(t) = &q.timestamp {
                            br;
                            "Marca temporale: " (t.describe())
                        }
                    }
                }
            }
        }
    }
}
