//! The run cache: a warm run replays exactly what a cold one reports; a
//! change to any file of the project (not only the one named), to the
//! settings or to the buffer on standard input is a new run; a damaged
//! cache is ignored and rewritten; concurrent runs agree.

use std::fs;
use std::path::{Path, PathBuf};

mod common;

use common::{leaklint, tree};

/// The report of `check --format concise -v ARGS`, and whether it was
/// replayed from the cache.
fn check(dir: &Path, args: &[&str], stdin: Option<&str>) -> (String, bool) {
    let mut cmd = leaklint(dir);
    cmd.args(["check", "--format", "concise", "-v"]).args(args);
    if let Some(text) = stdin {
        cmd.write_stdin(text.to_string());
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {stderr}"
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        stderr.contains("replayed from the cache"),
    )
}

const DB: &str = "import sqlite3\n\n\ndef open_db(path):\n    return sqlite3.connect(path)\n";
/// Same length as `DB`, and no longer a factory.
const DB_NOT_A_FACTORY: &str =
    "import sqlite3\n\n\ndef open_db(path):\n    return sqlite3.version or pa\n";
const MAIN: &str = "from app.db import open_db\n\n\ndef leaky(path):\n    conn = open_db(path)\n    conn.execute(\"select 1\")\n";

fn app() -> tempfile::TempDir {
    tree(&[
        ("pyproject.toml", "[project]\nname = \"app\"\n"),
        ("app/__init__.py", ""),
        ("app/db.py", DB),
        ("app/main.py", MAIN),
    ])
}

const LEAK_IN_MAIN: &str = "app/main.py:5:12: LK101";

#[test]
fn a_warm_run_replays_the_cold_run_and_the_cache_is_ignored_by_git() {
    let dir = app();
    let (cold, replayed) = check(dir.path(), &["."], None);
    assert!(!replayed);
    assert!(cold.starts_with(LEAK_IN_MAIN), "{cold}");
    let (warm, replayed) = check(dir.path(), &["."], None);
    assert!(replayed);
    assert_eq!(warm, cold);
    let cache = dir.path().join(".leaklint_cache");
    assert_eq!(
        fs::read_to_string(cache.join(".gitignore")).unwrap(),
        "# Created by leaklint.\n*\n"
    );
    assert!(fs::read_to_string(cache.join("CACHEDIR.TAG"))
        .unwrap()
        .starts_with("Signature: 8a477f597d28d172789f06886806bc55"));
}

#[test]
fn a_change_in_another_file_of_the_project_is_a_new_run() {
    let dir = app();
    let db = dir.path().join("app/db.py");
    let (before, _) = check(dir.path(), &["app/main.py"], None);
    assert!(before.starts_with(LEAK_IN_MAIN), "{before}");
    // Only db.py changes, to the same size: main.py's finding goes.
    assert_eq!(DB.len(), DB_NOT_A_FACTORY.len());
    fs::write(&db, DB_NOT_A_FACTORY).unwrap();
    let (after, replayed) = check(dir.path(), &["app/main.py"], None);
    assert!(!replayed);
    assert_eq!(after, "");
    // Back as it was: the first run's report, from the cache.
    fs::write(&db, DB).unwrap();
    let (again, replayed) = check(dir.path(), &["app/main.py"], None);
    assert!(replayed);
    assert_eq!(again, before);
    // A new file in the project that calls the factory is seen too.
    fs::write(dir.path().join("app/jobs.py"), MAIN).unwrap();
    let (with_jobs, replayed) = check(dir.path(), &["."], None);
    assert!(!replayed);
    assert!(with_jobs.contains("app/jobs.py:5:12: LK101"), "{with_jobs}");
}

/// `check -v` with its stderr.
fn check_verbose(dir: &Path, args: &[&str]) -> (String, String) {
    let out = leaklint(dir)
        .args(["check", "--format", "concise", "-v"])
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[test]
fn after_an_edit_only_the_files_it_concerns_are_parsed_again() {
    let dir = app();
    let (cold, _) = check(dir.path(), &["."], None);
    // An edit to main.py alone: db.py's pass is remembered.
    let main = dir.path().join("app/main.py");
    fs::write(&main, format!("{MAIN}# edited\n")).unwrap();
    let (edited, stderr) = check_verbose(dir.path(), &["."]);
    assert_eq!(edited, cold);
    assert!(
        stderr.contains(" 1 parses,") && stderr.contains("; 1 Python passes from the cache"),
        "{stderr}"
    );
    // An edit to db.py changes what main.py asked of it (`open_db` now
    // releases its argument rather than returning a connection): both
    // are parsed again.
    fs::write(
        dir.path().join("app/db.py"),
        "import sqlite3\n\n\ndef open_db(conn):\n    conn.close()\n",
    )
    .unwrap();
    let (changed, stderr) = check_verbose(dir.path(), &["."]);
    assert!(stderr.contains(" 2 parses,"), "{stderr}");
    let (uncached, _) = check(dir.path(), &[".", "--no-cache"], None);
    assert_eq!(changed, uncached);
    assert_eq!(changed, "");
}

#[test]
fn settings_and_the_buffer_on_stdin_are_part_of_the_key() {
    let dir = app();
    let (leaks, _) = check(dir.path(), &["."], None);
    assert!(leaks.starts_with(LEAK_IN_MAIN), "{leaks}");
    fs::write(
        dir.path().join("pyproject.toml"),
        "[project]\nname = \"app\"\n\n[tool.leaklint]\nignore = [\"LK101\"]\n",
    )
    .unwrap();
    let (ignored, replayed) = check(dir.path(), &["."], None);
    assert!(!replayed);
    assert!(!ignored.contains("LK101"), "{ignored}");
    let (cli, replayed) = check(dir.path(), &[".", "--select", "LK103"], None);
    assert!(!replayed);
    assert_eq!(cli, "");
    // The same path on standard input, with other texts.
    let piped = |text: &str| check(dir.path(), &["--stdin-filename", "app/db.py"], Some(text));
    let (_, first) = piped(DB);
    let (_, second) = piped(DB);
    assert!(!first && second);
    let (_, other) = piped(DB_NOT_A_FACTORY);
    assert!(!other);
}

/// Every file the cache holds, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn a_damaged_cache_is_ignored_and_rewritten() {
    let dir = app();
    let (cold, _) = check(dir.path(), &["."], None);
    let cache = dir.path().join(".leaklint_cache");
    for (i, file) in files_under(&cache).into_iter().enumerate() {
        // Truncated, garbage and empty entries.
        let damage: &[u8] = match i % 3 {
            0 => b"{\"files\": [[\"app/main.py\", [{\"code\": \"LK1",
            1 => b"\xff\xfe\x00garbage",
            _ => b"",
        };
        fs::write(file, damage).unwrap();
    }
    let (damaged, replayed) = check(dir.path(), &["."], None);
    assert!(!replayed);
    assert_eq!(damaged, cold);
    let (warm, replayed) = check(dir.path(), &["."], None);
    assert!(replayed);
    assert_eq!(warm, cold);
    // An entry that names a rule this build does not know is a miss too.
    for file in files_under(&cache.join("runs")) {
        let text = fs::read_to_string(&file).unwrap();
        fs::write(&file, text.replace("LK101", "LK999")).unwrap();
    }
    let (unknown, replayed) = check(dir.path(), &["."], None);
    assert!(!replayed);
    assert_eq!(unknown, cold);
}

#[test]
fn concurrent_runs_agree_and_leave_a_usable_cache() {
    let dir = app();
    let (expected, _) = check(dir.path(), &[".", "--no-cache"], None);
    assert!(!dir.path().join(".leaklint_cache").exists());
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("leaklint"))
                .current_dir(dir.path())
                .args(["check", "--format", "concise", "."])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(String::from_utf8(out.stdout).unwrap(), expected);
    }
    let (warm, replayed) = check(dir.path(), &["."], None);
    assert!(replayed);
    assert_eq!(warm, expected);
}

#[test]
fn the_cache_changes_no_finding_on_the_fixtures() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    let (uncached, _) = check(&root, &["fixtures", "--no-cache"], None);
    let (cold, replayed_cold) = check(&root, &["fixtures", "--cache-dir", dir], None);
    let (warm, replayed_warm) = check(&root, &["fixtures", "--cache-dir", dir], None);
    assert!(!replayed_cold && replayed_warm);
    assert!(uncached.lines().count() > 100, "{uncached}");
    assert_eq!(cold, uncached);
    assert_eq!(warm, uncached);
    // Without the run's report, from the remembered Python passes.
    fs::remove_dir_all(cache.path().join("runs")).unwrap();
    let (passes, replayed) = check(&root, &["fixtures", "--cache-dir", dir], None);
    assert!(!replayed);
    assert_eq!(passes, uncached);
    // Fixing is never replayed: --diff computes its fixes afresh.
    let diff = leaklint(&root)
        .args(["check", "fixtures", "--diff", "--cache-dir", dir])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&diff.stdout).contains("@@"));
}
