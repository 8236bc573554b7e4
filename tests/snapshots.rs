//! Snapshot tests of the full diagnostic, one per fixture source file,
//! stored beside it as `<file>.snap` (see `fixtures/README.md`): what
//! `leaklint check --format text` prints for the file (message, labels,
//! help, fix note), then what `leaklint check --diff --unsafe-fixes`
//! prints for it. `tests/fixtures.rs` checks where findings are; this
//! checks what they say and what their fixes do.
//!
//! The built binary is run, from the crate root, on the same groups of
//! files that `tests/fixtures.rs` lints together, so findings come from
//! the same project facts: every Python fixture in one run, the Rust
//! fixtures one directory per run. Each run's output is then split per
//! file. Update with `INSTA_UPDATE=always cargo test --test snapshots`
//! (or `cargo insta review`), and review the change with `git diff`.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

/// The extensions leaklint checks (`Language::from_path`).
const SOURCE_EXTENSIONS: &[&str] = &["py", "pyi", "rs"];
const SNAPSHOT_EXTENSION: &str = "snap";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir`, as paths relative to the crate root with `/`
/// separators, sorted.
fn walk(dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            let rel = path.strip_prefix(root()).unwrap();
            let parts: Vec<_> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect();
            out.push(parts.join("/"));
        }
    }
}

fn extension(path: &str) -> &str {
    path.rsplit_once('.').map_or("", |(_, ext)| ext)
}

fn fixture_tree() -> Vec<String> {
    let mut files = Vec::new();
    walk(&root().join("fixtures"), &mut files);
    files.sort();
    files
}

fn sources(tree: &[String]) -> Vec<String> {
    tree.iter()
        .filter(|f| SOURCE_EXTENSIONS.contains(&extension(f)))
        .cloned()
        .collect()
}

/// The files linted together, as in `tests/fixtures.rs`: all Python
/// fixtures share one first pass, Rust fixtures one per directory.
fn groups(sources: &[String]) -> Vec<Vec<String>> {
    let mut python = Vec::new();
    let mut rust: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for file in sources {
        if extension(file) == "rs" {
            let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
            rust.entry(dir).or_default().push(file.clone());
        } else {
            python.push(file.clone());
        }
    }
    std::iter::once(python).chain(rust.into_values()).collect()
}

fn leaklint(args: &[&str], files: &[String]) -> String {
    let output = Command::cargo_bin("leaklint")
        .unwrap()
        .current_dir(root())
        .timeout(Duration::from_secs(60))
        .env_remove("LEAKLINT_DEBUG_PANIC_ON")
        .arg("check")
        .args(args)
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "leaklint check {} failed: {:?}\n{stderr}",
        args.join(" "),
        output.status
    );
    String::from_utf8(output.stdout).unwrap()
}

/// Whether `line` opens a report: `[LK101] Error: ...`. Every other line
/// of a report starts with its gutter (spaces or box-drawing characters).
fn is_report_header(line: &str) -> bool {
    line.strip_prefix("[LK")
        .and_then(|rest| rest.get(..5))
        .is_some_and(|code| {
            code.as_bytes()[..3].iter().all(u8::is_ascii_digit) && code.ends_with("] ")
        })
}

/// The file a report is drawn over, from its `╭─[ PATH:ROW:COL ]` line.
fn report_path(report: &str) -> Option<&str> {
    let line = report.lines().find(|l| l.contains("╭─[ "))?;
    let place = line.split_once("╭─[ ")?.1.strip_suffix(" ]")?;
    let mut parts = place.rsplitn(3, ':');
    let (_column, _row) = (parts.next()?, parts.next()?);
    parts.next()
}

/// The text report of one run, split per file at each report's header.
/// The closing summary counts the whole run and is left out, once the
/// number of reports has been checked against it.
fn text_per_file(files: &[String]) -> BTreeMap<String, String> {
    let text = leaklint(&["--format", "text", "--color", "never"], files);
    let (body, summary) = match text.rfind("\nFound ") {
        Some(i) => text.split_at(i + 1),
        None => ("", text.as_str()),
    };
    let count: usize = match summary.strip_prefix("Found ") {
        Some(rest) => rest.split(' ').next().unwrap().parse().unwrap(),
        None => {
            assert_eq!(summary, "All checks passed!\n", "unexpected output");
            0
        }
    };
    let mut reports: Vec<String> = Vec::new();
    for line in body.split_inclusive('\n') {
        if is_report_header(line) || reports.is_empty() {
            reports.push(String::new());
        }
        reports.last_mut().unwrap().push_str(line);
    }
    assert_eq!(
        reports.len(),
        count,
        "the summary counts {count} findings, but {} reports were found in:\n{text}",
        reports.len()
    );
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for report in &reports {
        let path = report_path(report)
            .filter(|p| is_report_header(report) && files.iter().any(|f| f == p))
            .unwrap_or_else(|| panic!("not a report on one of the files checked:\n{report}"));
        out.entry(path.to_string()).or_default().push_str(report);
    }
    out
}

/// The `--diff --unsafe-fixes` output of one run, split per file at each
/// file's `--- a/PATH` / `+++ b/PATH` header.
fn diff_per_file(files: &[String]) -> BTreeMap<String, String> {
    let diff = leaklint(&["--diff", "--unsafe-fixes"], files);
    let names: BTreeSet<&str> = files.iter().map(String::as_str).collect();
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    let mut current: Option<&str> = None;
    let mut lines = diff.split_inclusive('\n').peekable();
    while let Some(line) = lines.next() {
        let header = line
            .strip_prefix("--- a/")
            .map(str::trim_end)
            .filter(|name| names.contains(name))
            .filter(|name| lines.peek() == Some(&format!("+++ b/{name}\n").as_str()));
        if let Some(name) = header {
            current = Some(name);
        }
        let name = current.unwrap_or_else(|| panic!("diff does not start with a header:\n{diff}"));
        out.entry(name.to_string()).or_default().push_str(line);
    }
    out
}

/// The snapshot of one file: its reports, then its fix as a diff.
fn render(text: Option<&String>, diff: Option<&String>) -> String {
    let mut out = String::from("===== leaklint check --format text =====\n");
    match text {
        Some(text) => out.push_str(text),
        None => out.push_str("(no findings)\n\n"),
    }
    out.push_str("===== leaklint check --diff --unsafe-fixes =====\n");
    match diff {
        Some(diff) => out.push_str(diff),
        None => out.push_str("(no fix)\n"),
    }
    out
}

#[test]
fn every_fixture_has_a_reviewed_snapshot_of_its_diagnostics_and_fixes() {
    let tree = fixture_tree();
    let sources = sources(&tree);
    assert!(sources.len() >= 6, "fixtures were found");
    let groups = groups(&sources);
    let snapshots: Vec<(String, String)> = std::thread::scope(|scope| {
        let runs: Vec<_> = groups
            .iter()
            .map(|files| {
                scope.spawn(move || {
                    let text = text_per_file(files);
                    let diff = diff_per_file(files);
                    files
                        .iter()
                        .map(|f| (f.clone(), render(text.get(f), diff.get(f))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().unwrap())
            .collect()
    });

    let mut failures = Vec::new();
    for (file, snapshot) in &snapshots {
        let path = root().join(file);
        let (dir, name) = (path.parent().unwrap(), path.file_name().unwrap());
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        settings.set_input_file(&path);
        settings.set_description(match extension(file) {
            "rs" => "leaklint check run from the crate root on this directory's .rs files",
            _ => "leaklint check run from the crate root on every Python fixture at once",
        });
        let name = name.to_string_lossy();
        let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name.as_ref(), snapshot));
        }));
        if checked.is_err() {
            failures.push(format!("{file}.{SNAPSHOT_EXTENSION}"));
        }
    }

    // A snapshot whose fixture is gone would never be checked again.
    let wanted: BTreeSet<String> = sources
        .iter()
        .map(|f| format!("{f}.{SNAPSHOT_EXTENSION}"))
        .collect();
    let stale: Vec<&String> = tree
        .iter()
        .filter(|f| extension(f) == SNAPSHOT_EXTENSION && !wanted.contains(*f))
        .collect();

    let mut message = String::new();
    if !failures.is_empty() {
        message.push_str(&format!(
            "{} snapshot(s) missing or out of date (diffs above; every snapshot \
             was compared, whatever insta says about stopping):\n  {}\n\
             If the change is intended, update them with\n  \
             INSTA_UPDATE=always cargo test --test snapshots\n\
             (or `cargo insta review`) and review `git diff fixtures/`.\n",
            failures.len(),
            failures.join("\n  ")
        ));
    }
    if !stale.is_empty() {
        message.push_str(&format!(
            "snapshot(s) without a fixture beside them; delete them:\n  {}\n",
            stale
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        ));
    }
    assert!(message.is_empty(), "{message}");
}

/// Keeps the test's idea of a source file in step with leaklint's.
#[test]
fn snapshots_cover_every_language_leaklint_checks() {
    for ext in SOURCE_EXTENSIONS {
        let path = PathBuf::from(format!("x.{ext}"));
        assert!(
            leaklint::source::Language::from_path(&path).is_some(),
            "{ext}"
        );
    }
    for ext in ["snap", "toml", "md", "new"] {
        let path = PathBuf::from(format!("x.{ext}"));
        assert!(
            leaklint::source::Language::from_path(&path).is_none(),
            "{ext}"
        );
    }
}
