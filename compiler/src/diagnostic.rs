//! Diagnostics and their rendering: the one place where errors become text.
//!
//! Rendering goes through codespan-reporting, which prints
//! `file:line:col`, the source lines with labeled spans, notes and help.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term;
use mido_grammar::Span;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub span: Span,
    pub message: String,
    pub primary: bool,
}

impl Label {
    pub fn primary(span: Span, message: impl Into<String>) -> Self {
        Label {
            span,
            message: message.into(),
            primary: true,
        }
    }

    pub fn secondary(span: Span, message: impl Into<String>) -> Self {
        Label {
            span,
            message: message.into(),
            primary: false,
        }
    }
}

/// A message about the model text, ready to render.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    pub labels: Vec<Label>,
    pub notes: Vec<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn with_label(mut self, label: Label) -> Self {
        self.labels.push(label);
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(format!("note: {}", note.into()));
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.notes.push(format!("help: {}", help.into()));
        self
    }

    pub fn with_help_if(self, cond: bool, help: impl Into<String>) -> Self {
        if cond {
            self.with_help(help)
        } else {
            self
        }
    }

    /// "did you mean ...?" from the closest names, if any.
    pub fn with_suggestion(self, candidates: &[String]) -> Self {
        match candidates {
            [] => self,
            [one] => self.with_help(format!("did you mean `{one}`?")),
            many => {
                let quoted: Vec<String> = many.iter().map(|c| format!("`{c}`")).collect();
                self.with_help(format!("did you mean one of {}?", quoted.join(", ")))
            }
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    fn to_codespan(&self) -> cs::Diagnostic<()> {
        let base = match self.severity {
            Severity::Error => cs::Diagnostic::error(),
            Severity::Warning => cs::Diagnostic::warning(),
        };
        base.with_code(self.code)
            .with_message(self.message.clone())
            .with_labels(
                self.labels
                    .iter()
                    .map(|l| {
                        let range = l.span.start..l.span.end;
                        let label = if l.primary {
                            cs::Label::primary((), range)
                        } else {
                            cs::Label::secondary((), range)
                        };
                        label.with_message(l.message.clone())
                    })
                    .collect(),
            )
            .with_notes(self.notes.clone())
    }
}

/// Renders diagnostics as plain text (no colour), as in snapshots and logs.
pub fn render_plain(diagnostics: &[Diagnostic], file_name: &str, source: &str) -> String {
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    let mut out = String::new();
    for d in diagnostics {
        match term::emit_into_string(&config, &file, &d.to_codespan()) {
            Ok(text) => out.push_str(&text),
            // A span outside the file would be a bug in the front end; still
            // tell the user what was wrong rather than nothing.
            Err(_) => out.push_str(&format!("error[{}]: {}\n", d.code, d.message)),
        }
    }
    out
}

/// Renders diagnostics to a terminal stream, in colour when it is a terminal.
pub fn emit_to_stderr(diagnostics: &[Diagnostic], file_name: &str, source: &str) {
    use std::io::IsTerminal;
    use term::termcolor::{ColorChoice, StandardStream};
    let choice = if std::io::stderr().is_terminal() {
        ColorChoice::Auto
    } else {
        ColorChoice::Never
    };
    let mut stream = StandardStream::stderr(choice);
    let file = SimpleFile::new(file_name, source);
    let config = term::Config::default();
    for d in diagnostics {
        if term::emit_to_write_style(&mut stream, &config, &file, &d.to_codespan()).is_err() {
            eprintln!("error[{}]: {}", d.code, d.message);
        }
    }
}
