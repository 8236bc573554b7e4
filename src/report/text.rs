//! `--format text`, the default: each finding drawn over its source with
//! ariadne, then a one-paragraph summary. This is the only format meant for
//! people rather than programs, so unlike the others it may change shape.

use std::io::{self, Write};
use std::ops::Range;

use ariadne::{Color, Config, IndexType, Label, Report, ReportKind, Source};

use super::ReportOptions;
use crate::diagnostic::{Applicability, FileFindings, Finding, Severity, Span};

pub fn write(
    files: &[FileFindings],
    options: ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let config = Config::default()
        .with_color(options.color)
        .with_index_type(IndexType::Byte);
    for file in files {
        if file.findings.is_empty() {
            continue;
        }
        let path = file.source.display_path();
        let text = renderable_text(&file.source.text, file.source.lone_cr_breaks());
        let source = Source::from(text.as_str());
        for finding in &file.findings {
            // Clamp against the file's own text, not the padded copy, so a
            // span past the end points where `SourceFile::location` says.
            let report = build_report(&path, &file.source.text, finding, options, config);
            report.write_for_stdout((path.clone(), &source), &mut *out)?;
            writeln!(out)?;
        }
    }
    write_summary(files, options, out)
}

/// The text handed to ariadne. ariadne breaks lines at `\r`, vertical tab,
/// form feed, U+0085, U+2028 and U+2029 as well as `\n`, while our rows
/// (and every other format) count `\n` only, and a lone `\r` in Python
/// files (`lone_cr_breaks`). Replacing the other characters by
/// ones of the same UTF-8 length keeps byte offsets and character
/// boundaries valid and makes the row numbers ariadne prints agree with
/// ours. A final newline gets a space after it so that a span at the very
/// end of the file lands on the row after it, as
/// [`crate::source::SourceFile::location`] says.
fn renderable_text(text: &str, lone_cr_breaks: bool) -> String {
    let mut out = String::with_capacity(text.len() + 1);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if lone_cr_breaks || chars.peek() == Some(&'\n') => out.push(c),
            '\r' | '\x0B' | '\x0C' => out.push(' '),
            '\u{0085}' => out.push('\u{00A0}'),
            '\u{2028}' | '\u{2029}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    if out.ends_with('\n') {
        out.push(' ');
    }
    out
}

/// A span that can index `text` without panicking: inside the text, start
/// rounded down to a character boundary, end rounded up to one (so a span
/// ending inside a character still covers it). Spans come from front ends
/// and could be stale or sloppy; a reporter must not crash on them.
pub(super) fn clamp_span(text: &str, span: Span) -> Range<usize> {
    let mut start = span.start.min(text.len());
    while !text.is_char_boundary(start) {
        start -= 1;
    }
    let mut end = span.end.clamp(start, text.len());
    while !text.is_char_boundary(end) {
        end += 1;
    }
    start..end
}

fn build_report<'a>(
    path: &str,
    text: &str,
    f: &Finding,
    options: ReportOptions,
    config: Config,
) -> Report<'a, (String, Range<usize>)> {
    let (kind, colour) = match f.severity {
        Severity::Error => (ReportKind::Error, Color::Red),
        Severity::Warning => (ReportKind::Warning, Color::Yellow),
    };
    let span = (path.to_string(), clamp_span(text, f.span));
    let mut report = Report::build(kind, span.clone())
        .with_config(config)
        .with_code(f.code)
        .with_message(&f.message)
        // ariadne draws no underline for a label without a message, so the
        // primary span repeats the finding's message.
        .with_label(
            Label::new(span)
                .with_message(&f.message)
                .with_color(colour)
                .with_order(0),
        );
    for (i, label) in f.labels.iter().enumerate() {
        report.add_label(
            Label::new((path.to_string(), clamp_span(text, label.span)))
                .with_message(&label.message)
                .with_color(Color::Cyan)
                .with_order(i as i32 + 1),
        );
    }
    if !f.help.is_empty() {
        report.set_help(&f.help);
    }
    if let Some(fix) = &f.fix {
        let qualifier = match fix.applicability {
            Applicability::Safe => "",
            Applicability::Unsafe if options.unsafe_fixes => "",
            Applicability::Unsafe => " (unsafe: enable with --unsafe-fixes)",
            Applicability::DisplayOnly => " (display only)",
        };
        report.set_note(format!("fix available: {}{qualifier}", fix.message));
    }
    report.finish()
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The closing lines, in the spirit of ruff's: how many findings, and how
/// many of them `--fix` would repair (counting unsafe fixes only when
/// `--unsafe-fixes` is on, and otherwise saying they exist).
fn write_summary(
    files: &[FileFindings],
    options: ReportOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let findings = || files.iter().flat_map(|f| &f.findings);
    let total = findings().count();
    if total == 0 {
        return writeln!(out, "All checks passed!");
    }
    let applicability = |a| {
        findings()
            .filter(|f| f.fix.as_ref().is_some_and(|x| x.applicability == a))
            .count()
    };
    let safe = applicability(Applicability::Safe);
    let unsafe_ = applicability(Applicability::Unsafe);
    let (fixable, hidden) = if options.unsafe_fixes {
        (safe + unsafe_, 0)
    } else {
        (safe, unsafe_)
    };
    writeln!(out, "Found {}.", plural(total, "error", "errors"))?;
    if fixable > 0 {
        writeln!(out, "[*] {fixable} fixable with `leaklint check --fix`")?;
    }
    if hidden > 0 {
        writeln!(
            out,
            "({} can be enabled with the `--unsafe-fixes` option)",
            plural(hidden, "hidden fix", "hidden fixes")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Edit, Fix};
    use crate::source::SourceFile;

    fn finding(span: Span, message: &str) -> Finding {
        super::super::test_finding(Severity::Error, span, message)
    }

    fn fix(applicability: Applicability) -> Fix {
        Fix::new(
            applicability,
            "use `with`",
            vec![Edit::insertion(0, "with ")],
        )
    }

    fn render(files: &[FileFindings], color: bool, unsafe_fixes: bool) -> String {
        let mut out = Vec::new();
        write(
            files,
            ReportOptions {
                color,
                unsafe_fixes,
            },
            &mut out,
        )
        .unwrap();
        String::from_utf8(out).unwrap()
    }

    fn sample() -> FileFindings {
        let text =
            "import db\n\ndef f():\n    conn = db.connect()\n    conn.run()\n    conn.close()\n";
        let start = text.find("db.connect()").unwrap();
        let run = text.find("conn.run()").unwrap();
        let f = finding(
            Span::new(start, start + 12),
            "connection leaks if `run` raises",
        )
        .with_label(Span::new(run, run + 10), "may raise here")
        .with_fix(fix(Applicability::Safe));
        FileFindings {
            source: SourceFile::new("./pkg/app.py", text.into()),
            findings: vec![f],
        }
    }

    #[test]
    fn plain_output_has_location_labels_help_note_and_summary() {
        let out = render(&[sample()], false, false);
        assert!(
            !out.contains('\x1b'),
            "colour codes without colour: {out:?}"
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "[LK102] Error: connection leaks if `run` raises");
        assert!(lines[1].ends_with("[ pkg/app.py:4:12 ]"), "{:?}", lines[1]);
        assert!(out.contains("    conn = db.connect()"), "{out}");
        assert!(out.contains("may raise here"), "{out}");
        assert!(out.contains("Help: close it in a `finally` block"), "{out}");
        assert!(out.contains("Note: fix available: use `with`\n"), "{out}");
        assert!(
            out.ends_with("\nFound 1 error.\n[*] 1 fixable with `leaklint check --fix`\n"),
            "{out}"
        );
    }

    #[test]
    fn colour_codes_only_when_asked() {
        let coloured = render(&[sample()], true, false);
        assert!(coloured.contains("\x1b["), "{coloured:?}");
        let plain = render(&[sample()], false, false);
        assert!(!plain.contains('\x1b'));
    }

    #[test]
    fn no_findings() {
        assert_eq!(render(&[], false, false), "All checks passed!\n");
        let clean = FileFindings {
            source: SourceFile::new("a.py", "x = 1\n".into()),
            findings: vec![],
        };
        assert_eq!(render(&[clean], true, false), "All checks passed!\n");
    }

    #[test]
    fn summary_counts_and_plurals() {
        let text = "a\nb\nc\nd\n";
        let mut unsafe_one = finding(Span::new(0, 1), "one").with_fix(fix(Applicability::Unsafe));
        unsafe_one.severity = Severity::Warning;
        let file = FileFindings {
            source: SourceFile::new("m.py", text.into()),
            findings: vec![
                unsafe_one,
                finding(Span::new(2, 3), "two").with_fix(fix(Applicability::Unsafe)),
                finding(Span::new(4, 5), "three").with_fix(fix(Applicability::DisplayOnly)),
                finding(Span::new(6, 7), "four"),
            ],
        };
        let out = render(std::slice::from_ref(&file), false, false);
        assert!(
            out.ends_with("\nFound 4 errors.\n(2 hidden fixes can be enabled with the `--unsafe-fixes` option)\n"),
            "{out}"
        );
        assert!(out.contains("[LK102] Warning: one"), "{out}");
        assert!(
            out.contains("Note: fix available: use `with` (unsafe: enable with --unsafe-fixes)"),
            "{out}"
        );
        assert!(
            out.contains("Note: fix available: use `with` (display only)"),
            "{out}"
        );

        let out = render(std::slice::from_ref(&file), false, true);
        assert!(
            out.ends_with("\nFound 4 errors.\n[*] 2 fixable with `leaklint check --fix`\n"),
            "{out}"
        );
        assert!(!out.contains("(unsafe: enable"), "{out}");

        let mut one_hidden = file.clone();
        one_hidden.findings.truncate(1);
        let out = render(&[one_hidden], false, false);
        assert!(
            out.ends_with("\nFound 1 error.\n(1 hidden fix can be enabled with the `--unsafe-fixes` option)\n"),
            "{out}"
        );
    }

    #[test]
    fn empty_unreadable_file_still_renders() {
        let file = FileFindings {
            source: SourceFile::new("locked.py", String::new()),
            findings: vec![crate::rules::IO_ERROR.finding(
                Span::new(0, 0),
                "could not read file: permission denied",
                "",
            )],
        };
        let out = render(&[file], false, false);
        assert!(
            out.starts_with("[LK002] Error: could not read file: permission denied\n"),
            "{out}"
        );
        assert!(out.contains("locked.py:1:1"), "{out}");
        assert!(!out.contains("Help:"), "empty help must not print: {out}");
        assert!(out.ends_with("Found 1 error.\n"), "{out}");
    }

    #[test]
    fn spans_past_the_end_and_inside_characters_are_clamped() {
        let text = "x = 'é'\ny = 2";
        let inside_e = text.find('é').unwrap() + 1;
        let file = FileFindings {
            source: SourceFile::new("u.py", text.into()),
            findings: vec![
                finding(Span::new(inside_e, inside_e + 1), "inside a character"),
                finding(Span::new(text.len() + 10, text.len() + 20), "past the end")
                    .with_label(Span::new(3, 400), "long label"),
            ],
        };
        let out = render(&[file], false, false);
        assert!(out.contains("u.py:1:6"), "{out}");
        assert!(out.contains("u.py:2:6"), "{out}");
        assert!(out.ends_with("Found 2 errors.\n"), "{out}");

        // Past the end of a file that ends in a newline: the row after it,
        // as in every other format.
        let text = "x = 1\n";
        let file = FileFindings {
            source: SourceFile::new("n.py", text.into()),
            findings: vec![finding(Span::new(50, 60), "far away")],
        };
        let loc = file.source.location(50);
        assert_eq!((loc.row, loc.column), (2, 1));
        let out = render(&[file], false, false);
        assert!(out.contains("n.py:2:1 ]"), "{out}");
    }

    #[test]
    fn rows_agree_with_the_other_formats_despite_odd_line_breaks() {
        // A form feed is no line break for leaklint; a lone `\r` is in
        // Python (as in CPython) and is not in Rust (as in rustc and syn).
        let text = "a = 1\x0c\rb = 2\r\nc = 3\n";
        let c = text.find("c =").unwrap();
        for (name, row) in [("f.py", 3), ("f.rs", 2)] {
            let file = FileFindings {
                source: SourceFile::new(name, text.into()),
                findings: vec![finding(Span::new(c, c + 1), "here")],
            };
            let loc = file.source.location(c);
            assert_eq!((loc.row, loc.column), (row, 1), "{name}");
            let out = render(&[file], false, false);
            assert!(out.contains(&format!("{name}:{row}:1 ]")), "{out}");
        }
        // A span at the very end of a file lands after its final newline.
        let eof = FileFindings {
            source: SourceFile::new("g.py", "x\n".into()),
            findings: vec![finding(Span::empty_at(2), "at end")],
        };
        assert!(render(&[eof], false, false).contains("g.py:2:1 ]"));
    }
}
