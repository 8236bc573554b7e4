//! Runs every file under `fixtures/` and compares its findings with the
//! expectations written in it (see `fixtures/README.md`): code, row and
//! column, exactly, in both directions.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use leaklint::check;
use leaklint::config::Options;
use leaklint::discover;
use leaklint::settings::Resolver;
use leaklint::source::Language;

type Expected = BTreeSet<(usize, usize, String)>;

fn fixture_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            fixture_files(&path, out);
        } else if Language::from_path(&path).is_some() {
            out.push(path);
        }
    }
}

/// The comment body of an annotation line, if the line is only a comment.
fn comment_body(line: &str) -> Option<&str> {
    let t = line.trim_start();
    t.strip_prefix('#').or_else(|| t.strip_prefix("//"))
}

fn is_code(s: &str) -> bool {
    s.len() == 5 && s.starts_with("LK") && s[2..].chars().all(|c| c.is_ascii_digit())
}

/// Reads the expectations: caret lines (`# ^ LK104`) and explicit ones
/// (`# expect: LK001 at 3:1`).
fn expectations(text: &str) -> Expected {
    let mut expected = Expected::new();
    let mut target_row = 0;
    for (i, line) in text.lines().enumerate() {
        let row = i + 1;
        if let Some(body) = comment_body(line) {
            if let Some(rest) = body.trim().strip_prefix('^') {
                let code = rest.trim();
                assert!(
                    is_code(code),
                    "bad caret annotation on line {row}: {line:?}"
                );
                let column = line.chars().position(|c| c == '^').unwrap() + 1;
                assert!(
                    target_row > 0,
                    "caret annotation on line {row} has no line above"
                );
                expected.insert((target_row, column, code.to_string()));
                continue;
            }
        }
        if let Some(spec) = comment_body(line).and_then(|b| b.trim().strip_prefix("expect: ")) {
            let mut parts = spec.split_whitespace();
            let (Some(code), Some("at"), Some(pos)) = (parts.next(), parts.next(), parts.next())
            else {
                panic!("bad expect annotation on line {row}: {line:?}");
            };
            assert!(
                is_code(code),
                "bad expect annotation on line {row}: {line:?}"
            );
            let (r, c) = pos.split_once(':').expect("expect: CODE at ROW:COL");
            expected.insert((r.parse().unwrap(), c.parse().unwrap(), code.to_string()));
            continue;
        }
        target_row = row;
    }
    expected
}

#[test]
fn every_fixture_produces_exactly_its_expected_findings() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files = Vec::new();
    fixture_files(&root, &mut files);
    assert!(files.len() >= 6, "fixtures were found");
    // Exactly as `leaklint check fixtures` runs: one walk, a `leaklint.toml`
    // beside a fixture configures its directory, one first pass over every
    // file, then every file checked.
    let resolver = Arc::new(Resolver::new(None, Options::default()).unwrap());
    let found = discover::discover(std::slice::from_ref(&root), &resolver, false, None);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    let targets = check::Targets {
        files: found.targets,
        stdin: None,
        project_files: Vec::new(),
    };
    let report = check::run(&targets, check::Mode::Report, &Default::default()).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let mut actual: BTreeMap<PathBuf, Expected> = BTreeMap::new();
    for checked in &report.files {
        let source = &checked.findings.source;
        let found: Expected = checked
            .findings
            .findings
            .iter()
            .map(|f| {
                let loc = source.location(f.span.start);
                (loc.row, loc.column, f.code.to_string())
            })
            .collect();
        actual.insert(source.path.clone(), found);
    }
    let mut failures = Vec::new();
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        let expected = expectations(&text);
        let got = actual.remove(path).unwrap_or_default();
        let rel = path.strip_prefix(&root).unwrap().display();
        for missing in expected.difference(&got) {
            failures.push(format!(
                "{rel}: expected {} at {}:{} but it was not reported",
                missing.2, missing.0, missing.1
            ));
        }
        for extra in got.difference(&expected) {
            failures.push(format!(
                "{rel}: unexpected {} at {}:{}",
                extra.2, extra.0, extra.1
            ));
        }
    }
    for (path, got) in actual {
        if !got.is_empty() {
            failures.push(format!(
                "{}: findings in a file that is no fixture",
                path.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "fixture mismatches:\n{}",
        failures.join("\n")
    );
}

/// Every finding of every fixture, as `(path, row, column, code, message)`.
fn findings_with(options: &check::RunOptions) -> Vec<(PathBuf, usize, usize, String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let resolver = Arc::new(Resolver::new(None, Options::default()).unwrap());
    let found = discover::discover(std::slice::from_ref(&root), &resolver, false, None);
    let targets = check::Targets {
        files: found.targets,
        stdin: None,
        project_files: Vec::new(),
    };
    let report = check::run(&targets, check::Mode::Report, options).unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    report
        .files
        .iter()
        .flat_map(|c| {
            let source = &c.findings.source;
            c.findings.findings.iter().map(move |f| {
                let loc = source.location(f.span.start);
                let path = source.path.clone();
                (
                    path,
                    loc.row,
                    loc.column,
                    f.code.to_string(),
                    f.message.clone(),
                )
            })
        })
        .collect()
}

/// The prefilter only saves work: parsing and analysing every file gives
/// the same findings, messages included.
#[test]
fn the_prefilter_drops_no_finding() {
    let with = findings_with(&check::RunOptions::default());
    let without = findings_with(&check::RunOptions {
        prefilter: false,
        ..Default::default()
    });
    assert!(with.len() > 50, "{}", with.len());
    assert_eq!(with, without);
}

#[test]
fn the_annotation_reader_understands_both_forms() {
    let text = "x\n    with a:\n#   ^ LK104\n#   ^ LK101\n# expect: LK001 at 1:1\n";
    let got = expectations(text);
    let want: Expected = [
        (2, 5, "LK104".into()),
        (2, 5, "LK101".into()),
        (1, 1, "LK001".into()),
    ]
    .into();
    assert_eq!(got, want);
}
