//! `--format json`: the machine-readable form whose shape DESIGN.md fixes
//! ("Output contract"). The schema is spelled out as `Serialize` structs so
//! that a renamed or reordered key is a visible change to this file, not an
//! accident hidden in a `json!` map.

use std::io::{self, Write};

use serde::Serialize;

use crate::diagnostic::{FileFindings, Finding, Fix};
use crate::source::{Location, SourceFile};

#[derive(Serialize)]
struct JsonLocation {
    row: usize,
    column: usize,
}

impl From<Location> for JsonLocation {
    fn from(loc: Location) -> Self {
        JsonLocation {
            row: loc.row,
            column: loc.column,
        }
    }
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    message: &'a str,
    location: JsonLocation,
    end_location: JsonLocation,
}

#[derive(Serialize)]
struct JsonEdit<'a> {
    content: &'a str,
    location: JsonLocation,
    end_location: JsonLocation,
}

#[derive(Serialize)]
struct JsonFix<'a> {
    applicability: &'static str,
    message: &'a str,
    edits: Vec<JsonEdit<'a>>,
}

/// One finding. Field order is the order of the keys in the output, which
/// DESIGN.md shows; keep them in step.
#[derive(Serialize)]
struct JsonFinding<'a> {
    code: &'a str,
    name: &'a str,
    severity: &'static str,
    message: &'a str,
    filename: String,
    location: JsonLocation,
    end_location: JsonLocation,
    labels: Vec<JsonLabel<'a>>,
    help: &'a str,
    /// `null` rather than absent when there is no fix, so consumers can
    /// rely on every key being present.
    fix: Option<JsonFix<'a>>,
}

impl<'a> JsonFinding<'a> {
    fn new(source: &SourceFile, filename: &str, f: &'a Finding) -> Self {
        JsonFinding {
            code: f.code,
            name: f.name,
            severity: f.severity.as_str(),
            message: &f.message,
            filename: filename.to_owned(),
            location: source.location(f.span.start).into(),
            end_location: source.location(f.span.end).into(),
            labels: f
                .labels
                .iter()
                .map(|l| JsonLabel {
                    message: &l.message,
                    location: source.location(l.span.start).into(),
                    end_location: source.location(l.span.end).into(),
                })
                .collect(),
            help: &f.help,
            fix: f.fix.as_ref().map(|fix| JsonFix::new(source, fix)),
        }
    }
}

impl<'a> JsonFix<'a> {
    fn new(source: &SourceFile, fix: &'a Fix) -> Self {
        JsonFix {
            applicability: fix.applicability.as_str(),
            message: &fix.message,
            edits: fix
                .edits
                .iter()
                .map(|e| JsonEdit {
                    content: &e.content,
                    location: source.location(e.span.start).into(),
                    end_location: source.location(e.span.end).into(),
                })
                .collect(),
        }
    }
}

/// Writes one JSON array holding every finding in the order given (the
/// caller has already sorted them), followed by a newline. No findings
/// still prints `[]`, so a consumer never has to special-case empty output.
pub fn write(files: &[FileFindings], out: &mut dyn Write) -> io::Result<()> {
    let mut all = Vec::new();
    for file in files {
        let filename = file.source.display_path();
        all.extend(
            file.findings
                .iter()
                .map(|f| JsonFinding::new(&file.source, &filename, f)),
        );
    }
    serde_json::to_writer_pretty(&mut *out, &all)?;
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Applicability, Edit, Severity, Span};

    fn render(files: &[FileFindings]) -> String {
        let mut out = Vec::new();
        write(files, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn finding(span: Span, message: &str) -> Finding {
        super::super::test_finding(Severity::Error, span, message)
    }

    #[test]
    fn empty_report_is_an_empty_array() {
        assert_eq!(render(&[]), "[]\n");
        let no_findings = FileFindings {
            source: SourceFile::new("a.py", "x = 1\n".into()),
            findings: vec![],
        };
        assert_eq!(render(&[no_findings]), "[]\n");
    }

    #[test]
    fn finding_with_label_and_fix_matches_the_contract_exactly() {
        // `é` is two bytes, so byte and character columns differ after it.
        let text = "s = 'é'; conn = connect()\nconn.run()\n";
        let start = text.find("connect").unwrap();
        let end = start + "connect()".len();
        let run = text.find("conn.run").unwrap();
        let f = finding(Span::new(start, end), "connection leaks if `run` raises")
            .with_label(Span::new(run, run + "conn.run()".len()), "may raise here")
            .with_fix(Fix::new(
                Applicability::Unsafe,
                "wrap in `with`",
                vec![Edit::insertion(start, "closing(")],
            ));
        let file = FileFindings {
            source: SourceFile::new("./pkg/db.py", text.into()),
            findings: vec![f],
        };
        let expected = r#"[
  {
    "code": "LK102",
    "name": "leak-on-error-path",
    "severity": "error",
    "message": "connection leaks if `run` raises",
    "filename": "pkg/db.py",
    "location": {
      "row": 1,
      "column": 17
    },
    "end_location": {
      "row": 1,
      "column": 26
    },
    "labels": [
      {
        "message": "may raise here",
        "location": {
          "row": 2,
          "column": 1
        },
        "end_location": {
          "row": 2,
          "column": 11
        }
      }
    ],
    "help": "close it in a `finally` block",
    "fix": {
      "applicability": "unsafe",
      "message": "wrap in `with`",
      "edits": [
        {
          "content": "closing(",
          "location": {
            "row": 1,
            "column": 17
          },
          "end_location": {
            "row": 1,
            "column": 17
          }
        }
      ]
    }
  }
]
"#;
        assert_eq!(render(&[file]), expected);
    }

    #[test]
    fn findings_keep_their_order_across_files_and_fix_is_null() {
        let a = FileFindings {
            source: SourceFile::new("b.py", "x\ny\n".into()),
            findings: vec![finding(Span::new(2, 3), "second line"), {
                let mut w = finding(Span::new(0, 1), "first line");
                w.severity = Severity::Warning;
                w
            }],
        };
        let b = FileFindings {
            source: SourceFile::new("a.py", "".into()),
            findings: vec![finding(Span::new(0, 0), "could not read")],
        };
        let json: serde_json::Value = serde_json::from_str(&render(&[a, b])).unwrap();
        let arr = json.as_array().unwrap();
        assert_eq!(arr.len(), 3);
        let summary: Vec<_> = arr
            .iter()
            .map(|o| {
                (
                    o["filename"].as_str().unwrap(),
                    o["message"].as_str().unwrap(),
                    o["severity"].as_str().unwrap(),
                    o["location"]["row"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("b.py", "second line", "error", 2),
                ("b.py", "first line", "warning", 1),
                ("a.py", "could not read", "error", 1),
            ]
        );
        for o in arr {
            assert!(o["fix"].is_null(), "fix must be present and null: {o}");
            assert_eq!(o["labels"], serde_json::json!([]));
            let keys: Vec<_> = o.as_object().unwrap().keys().cloned().collect();
            assert_eq!(keys.len(), 10, "unexpected keys {keys:?}");
        }
    }
}
