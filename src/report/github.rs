//! `--format github`: GitHub Actions workflow commands, which the runner
//! turns into annotations on the pull request.
//!
//! The runner parses every line of a step's output looking for `::`
//! commands, so anything we print from a scanned repository (paths,
//! messages that quote code) is untrusted input to that parser. Escaping is
//! what keeps a file named `x,line=1::` or a message containing
//! `\n::set-output` from forging or corrupting commands; it follows the
//! rules of GitHub's own toolkit (`@actions/core`, `command.ts`).

use std::io::{self, Write};

use crate::diagnostic::{FileFindings, Severity};

/// Escaping for a command's message (the part after the second `::`).
/// `%` first, so the escapes introduced below are not themselves escaped.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping for a property value (`file=...,title=...`): additionally `:`
/// and `,`, which would otherwise end the property list or the value.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// One `::error` / `::warning` command per finding, each on its own line.
pub fn write(files: &[FileFindings], out: &mut dyn Write) -> io::Result<()> {
    for file in files {
        let path = escape_property(&file.source.display_path());
        for f in &file.findings {
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let start = file.source.location(f.span.start);
            let end = file.source.location(f.span.end);
            let title = escape_property(&format!("{} {}", f.code, f.name));
            writeln!(
                out,
                "::{command} file={path},line={},col={},endLine={},endColumn={},title={title}::{}",
                start.row,
                start.column,
                end.row,
                end.column,
                escape_data(&f.message),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Finding, Span};
    use crate::source::SourceFile;

    fn finding(severity: Severity, span: Span, message: &str) -> Finding {
        super::super::test_finding(severity, span, message)
    }

    fn render(files: &[FileFindings]) -> String {
        let mut out = Vec::new();
        write(files, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_command_per_finding_with_positions() {
        let text = "import db\nconn = db.connect()\n";
        let start = text.find("db.connect").unwrap();
        let file = FileFindings {
            source: SourceFile::new("./src/app.py", text.into()),
            findings: vec![
                finding(Severity::Error, Span::new(start, start + 12), "leaks"),
                finding(Severity::Warning, Span::new(0, 6), "odd import"),
            ],
        };
        assert_eq!(
            render(&[file]),
            "::error file=src/app.py,line=2,col=8,endLine=2,endColumn=20,title=LK102 leak-on-error-path::leaks\n\
             ::warning file=src/app.py,line=1,col=1,endLine=1,endColumn=7,title=LK102 leak-on-error-path::odd import\n"
        );
    }

    #[test]
    fn no_findings_no_output() {
        let file = FileFindings {
            source: SourceFile::new("a.py", "x\n".into()),
            findings: vec![],
        };
        assert_eq!(render(&[file]), "");
    }

    #[test]
    fn escaping_rules() {
        assert_eq!(escape_data("50%\r\n::x, y:z"), "50%25%0D%0A::x, y:z");
        assert_eq!(escape_property("a,b:c%d\ne"), "a%2Cb%3Ac%25d%0Ae");
        // An already-escaped sequence must not be decoded by the runner.
        assert_eq!(escape_data("%0A"), "%250A");
    }

    #[test]
    fn hostile_paths_and_messages_cannot_forge_commands() {
        let files = vec![
            FileFindings {
                source: SourceFile::new("evil,line=1::error file=x.py", "a\n".into()),
                findings: vec![finding(
                    Severity::Error,
                    Span::new(0, 1),
                    "leak\n::set-output name=x::pwned %0A done",
                )],
            },
            FileFindings {
                source: SourceFile::new("dir\n::error file=forged.py::owned\r.py", "a\n".into()),
                findings: vec![finding(
                    Severity::Warning,
                    Span::new(0, 1),
                    "line one\r\nline two",
                )],
            },
        ];
        let out = render(&files);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "one line per finding: {out:?}");
        for line in &lines {
            assert!(
                line.starts_with("::error ") || line.starts_with("::warning "),
                "{line:?}"
            );
        }
        assert_eq!(
            lines[0],
            "::error file=evil%2Cline=1%3A%3Aerror file=x.py,line=1,col=1,endLine=1,endColumn=2,\
             title=LK102 leak-on-error-path::leak%0A::set-output name=x::pwned %250A done"
        );
        assert_eq!(
            lines[1],
            "::warning file=dir%0A%3A%3Aerror file=forged.py%3A%3Aowned%0D.py,line=1,col=1,endLine=1,\
             endColumn=2,title=LK102 leak-on-error-path::line one%0D%0Aline two"
        );
        // Exactly two `::` separators' worth of structure per line: the
        // command prefix, and the one before the message.
        for line in &lines {
            let properties = line.split_once(' ').unwrap().1.split_once("::").unwrap().0;
            assert_eq!(properties.split(',').count(), 6, "{properties:?}");
        }
    }
}
