//! Reporters: each turns the run's findings into one output format. The
//! formats other tools parse (concise, json, sarif, github) are a contract:
//! see DESIGN.md before changing a byte of them.

mod concise;
mod github;
mod json;
mod sarif;
mod statistics;
mod text;

use std::io::{self, Write};

use crate::diagnostic::FileFindings;

pub use crate::config::Format;

#[derive(Debug, Clone, Copy, Default)]
pub struct ReportOptions {
    /// Use ANSI colours (text format only).
    pub color: bool,
    /// Whether `--unsafe-fixes` is on, so the text report can say which
    /// findings `--fix` would now repair.
    pub unsafe_fixes: bool,
}

/// Writes every finding of `files` (already sorted and filtered) to `out`.
pub fn write_report(
    format: Format,
    files: &[FileFindings],
    options: ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Text => text::write(files, options, out),
        Format::Concise => concise::write(files, out),
        Format::Json => json::write(files, out),
        Format::Sarif => sarif::write(files, out),
        Format::Github => github::write(files, out),
    }
}

/// Writes counts per rule instead of the findings (`--statistics`).
pub fn write_statistics(
    format: Format,
    files: &[FileFindings],
    out: &mut dyn Write,
) -> io::Result<()> {
    statistics::write(format, files, out)
}

/// A finding for reporter tests: an LK102 with a help text, no labels, no
/// fix, so each test adds only what it is about.
#[cfg(test)]
pub(crate) fn test_finding(
    severity: crate::diagnostic::Severity,
    span: crate::diagnostic::Span,
    message: &str,
) -> crate::diagnostic::Finding {
    crate::diagnostic::Finding {
        code: "LK102",
        name: "leak-on-error-path",
        severity,
        message: message.to_string(),
        span,
        labels: Vec::new(),
        help: "close it in a `finally` block".to_string(),
        fix: None,
    }
}
