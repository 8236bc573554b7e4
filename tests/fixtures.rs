//! Runs every file under `fixtures/` and compares its findings with the
//! expectations written in it (see `fixtures/README.md`): code, row and
//! column, exactly, in both directions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use leaklint::check;
use leaklint::config::{Options, Settings};
use leaklint::source::{Language, SourceFile};

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
    files.sort();
    assert!(files.len() >= 6, "fixtures were found");
    // A `leaklint.toml` beside a fixture configures its directory (project
    // resources); every other fixture runs with the defaults.
    let settings: Vec<Settings> = files
        .iter()
        .map(|path| {
            let dir = path.parent().unwrap();
            let config = dir.join("leaklint.toml");
            let options = if config.is_file() {
                leaklint::config::read_options(&config).unwrap().unwrap()
            } else {
                Options::default()
            };
            Settings::from_options(dir.to_path_buf(), None, &options).unwrap()
        })
        .collect();
    // Like the command line: a first pass over every file for summaries.
    let texts: Vec<String> = files
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    let inputs: Vec<_> = files
        .iter()
        .zip(&texts)
        .zip(&settings)
        .filter(|((p, _), _)| Language::from_path(p) == Some(Language::Python))
        .map(|((p, t), s)| (p.as_path(), t.as_str(), s))
        .collect();
    let mut project = check::build_project(&inputs);
    // Rust facts are shared by the files of one directory, as when
    // leaklint is run on that directory.
    let mut rust_projects = std::collections::HashMap::new();
    for ((path, text), settings) in files.iter().zip(&texts).zip(&settings) {
        if Language::from_path(path) == Some(Language::Rust) {
            rust_projects
                .entry(path.parent().unwrap().to_path_buf())
                .or_insert_with(Vec::new)
                .push((path.as_path(), text.as_str(), settings));
        }
    }
    let rust_projects: std::collections::HashMap<_, _> = rust_projects
        .into_iter()
        .map(|(dir, files)| (dir, check::build_rust_project(&files)))
        .collect();
    let mut failures = Vec::new();
    for ((path, settings), text) in files.iter().zip(&settings).zip(texts.clone()) {
        if let Some(rust) = rust_projects.get(path.parent().unwrap()) {
            project.rust = rust.clone();
        }
        let expected = expectations(&text);
        let source = SourceFile::new(path.clone(), text);
        let language = Language::from_path(path).unwrap();
        let actual: Expected = check::lint(&source, language, settings, &project)
            .iter()
            .map(|f| {
                let loc = source.location(f.span.start);
                (loc.row, loc.column, f.code.to_string())
            })
            .collect();
        let rel = path.strip_prefix(&root).unwrap().display();
        for missing in expected.difference(&actual) {
            failures.push(format!(
                "{rel}: expected {} at {}:{} but it was not reported",
                missing.2, missing.0, missing.1
            ));
        }
        for extra in actual.difference(&expected) {
            failures.push(format!(
                "{rel}: unexpected {} at {}:{}",
                extra.2, extra.0, extra.1
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "fixture mismatches:\n{}",
        failures.join("\n")
    );
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
