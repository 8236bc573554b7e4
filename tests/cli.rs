//! End-to-end tests of the `leaklint` binary: every flag, format, exit
//! code, configuration source, suppression and fix path.

use std::fs;
use std::path::Path;

mod common;

use assert_cmd::Command;
use common::{leaklint, tree};
use predicates::prelude::*;

const LEAK: &str = "import sqlite3\n\n\ndef f(p):\n    with sqlite3.connect(p) as conn:\n        conn.execute('x')\n";
const CLEAN: &str = "import psycopg\n\n\ndef f(dsn):\n    with psycopg.connect(dsn) as conn:\n        conn.execute('x')\n";

fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().unwrap().stdout).unwrap()
}

/// `leaklint check --format concise` in `dir`: its exit code and output.
fn concise_run(dir: &Path) -> (Option<i32>, String) {
    let output = leaklint(dir)
        .args(["check", "--format", "concise"])
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8(output.stdout).unwrap(),
    )
}

fn concise(dir: &Path, args: &[&str]) -> String {
    stdout_of(
        leaklint(dir)
            .arg("check")
            .args(["--format", "concise"])
            .args(args),
    )
}

// ---- exit codes and walking -------------------------------------------

#[test]
fn findings_exit_1_clean_exit_0_and_exit_zero() {
    let dir = tree(&[("leak.py", LEAK), ("clean.py", CLEAN)]);
    leaklint(dir.path())
        .args(["check", "--format", "concise", "leak.py"])
        .assert()
        .code(1)
        .stdout("leak.py:5:10: LK104 `with sqlite3.connect(...)` commits or rolls back on exit but does not close the connection\n");
    leaklint(dir.path())
        .args(["check", "clean.py"])
        .assert()
        .code(0);
    leaklint(dir.path())
        .args(["check", "--exit-zero", "leak.py"])
        .assert()
        .code(0);
}

#[test]
fn default_path_is_the_working_directory_and_output_is_sorted() {
    let dir = tree(&[("b/leak.py", LEAK), ("a/leak.py", LEAK), ("a/z.py", LEAK)]);
    let out = concise(dir.path(), &[]);
    let paths: Vec<_> = out.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(paths, ["a/leak.py", "a/z.py", "b/leak.py"]);
}

#[test]
fn gitignore_and_default_excludes_are_respected() {
    let dir = tree(&[
        (".gitignore", "ignored/\n"),
        ("ignored/leak.py", LEAK),
        (".venv/lib/leak.py", LEAK),
        ("node_modules/x/leak.py", LEAK),
        ("build/leak.py", LEAK),
        ("__pycache__/leak.py", LEAK),
        ("src/leak.py", LEAK),
    ]);
    let out = concise(dir.path(), &["."]);
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("src/leak.py:5:10: LK104"), "{out}");
}

#[test]
fn exclude_options_and_force_exclude() {
    let dir = tree(&[
        ("gen/leak.py", LEAK),
        ("src/leak.py", LEAK),
        ("build/leak.py", LEAK),
    ]);
    let out = concise(dir.path(), &["--extend-exclude", "gen"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    // `--exclude` replaces the defaults, so build/ is walked again.
    let out = concise(dir.path(), &["--exclude", "gen"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    // Named explicitly, an excluded file is still read...
    let out = concise(dir.path(), &["build/leak.py"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    // ...unless --force-exclude (pre-commit passes files one by one).
    leaklint(dir.path())
        .args([
            "check",
            "--format",
            "concise",
            "--force-exclude",
            "build/leak.py",
            "gen/leak.py",
            "--extend-exclude",
            "gen/*.py",
        ])
        .assert()
        .code(0)
        .stdout("");
}

#[test]
fn symlink_loops_do_not_hang_and_files_are_checked_once() {
    let dir = tree(&[("pkg/leak.py", LEAK)]);
    std::os::unix::fs::symlink("..", dir.path().join("pkg/loop")).unwrap();
    std::os::unix::fs::symlink("leak.py", dir.path().join("pkg/alias.py")).unwrap();
    let (code, out) = concise_run(dir.path());
    assert_eq!(code, Some(1));
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn a_file_reached_through_a_symlinked_directory_is_reported_at_its_real_path() {
    // Whichever of the five the directory listing gives first, the path
    // shown is the real one.
    let dir = tree(&[("z_real/leak.py", LEAK)]);
    for link in ["a_link", "b_link", "m_link", "y_link"] {
        std::os::unix::fs::symlink("z_real", dir.path().join(link)).unwrap();
    }
    let (code, out) = concise_run(dir.path());
    assert_eq!(code, Some(1));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("z_real/leak.py:"), "{out}");
}

#[test]
fn missing_paths_are_usage_errors_but_the_rest_is_checked() {
    let dir = tree(&[("leak.py", LEAK)]);
    leaklint(dir.path())
        .args(["check", "--format", "concise", "nope.py", "leak.py"])
        .assert()
        .code(2)
        .stdout(predicate::str::contains("leak.py:5:10: LK104"))
        .stderr(predicate::str::contains("nope.py"));
}

// ---- LK001, LK002, panics ----------------------------------------------

#[test]
fn unreadable_and_unparsable_files_are_findings_and_the_run_continues() {
    // Broken files name an acquiring function of a library, so the
    // prefilter admits them and their syntax errors are reported.
    let dir = tree(&[
        ("bad.py", "from sqlite3 import connect\ndef f(:\n    pass\n"),
        ("bad.rs", "use sqlx::PgPool;\nfn main() { let x = ; }\n"),
        ("leak.py", LEAK),
        // Files that name no resource library (nor a project helper) are
        // not analysed, so not parsed either: no LK001.
        ("plain.py", "def f(:\n    pass\n"),
        ("plain.rs", "fn main() { let x = ; }\n"),
    ]);
    fs::write(dir.path().join("latin1.py"), b"x = '\xe9'\n").unwrap();
    std::os::unix::fs::symlink("missing.py", dir.path().join("dangling.py")).unwrap();
    let out = concise(dir.path(), &[]);
    let codes: Vec<_> = out
        .lines()
        .map(|l| (l.split(':').next().unwrap(), l.split(' ').nth(1).unwrap()))
        .collect();
    assert_eq!(
        codes,
        [
            ("bad.py", "LK001"),
            ("bad.rs", "LK001"),
            ("dangling.py", "LK002"),
            ("latin1.py", "LK002"),
            ("leak.py", "LK104")
        ],
        "{out}"
    );
    assert!(
        out.contains("latin1.py:1:1: LK002 could not read file: not valid UTF-8 (line 1"),
        "{out}"
    );
    assert!(out.contains("bad.rs:2:21: LK001 syntax error"), "{out}");
}

#[test]
fn deeply_nested_files_get_a_clear_message() {
    let deep_py = format!(
        "from sqlite3 import connect\nx = {}1{}\n",
        "(".repeat(3000),
        ")".repeat(3000)
    );
    let deep_rs = format!(
        "use sqlx::PgPool;\nfn f() {{ {}1{} }}\n",
        "(".repeat(3000),
        ")".repeat(3000)
    );
    let dir = tree(&[("deep.py", &deep_py), ("deep.rs", &deep_rs)]);
    let out = concise(dir.path(), &[]);
    assert!(
        out.contains("deep.py:1:1: LK002 file not analysed: its syntax tree is"),
        "{out}"
    );
    assert!(
        out.contains("deep.rs:1:1: LK002 file not analysed: its code nests"),
        "{out}"
    );
}

#[test]
fn a_panic_in_one_file_loses_no_other_file() {
    let dir = tree(&[("a.py", LEAK), ("boom.py", LEAK), ("c.py", LEAK)]);
    let output = leaklint(dir.path())
        .env("LEAKLINT_DEBUG_PANIC_ON", "boom.py")
        .args(["check", "--format", "concise"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let out = String::from_utf8(output.stdout).unwrap();
    let err = String::from_utf8(output.stderr).unwrap();
    assert!(
        out.contains("a.py:5:10") && out.contains("c.py:5:10") && !out.contains("boom"),
        "{out}"
    );
    assert!(
        err.contains("internal error while checking boom.py"),
        "{err}"
    );
}

// ---- formats ----------------------------------------------------------

#[test]
fn json_follows_the_output_contract() {
    let dir = tree(&[("leak.py", LEAK)]);
    let out = stdout_of(leaklint(dir.path()).args(["check", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let f = &v.as_array().unwrap()[0];
    assert_eq!(f["code"], "LK104");
    assert_eq!(f["name"], "with-does-not-close");
    assert_eq!(f["severity"], "error");
    assert_eq!(f["filename"], "leak.py");
    assert_eq!(f["location"], serde_json::json!({"row": 5, "column": 10}));
    assert_eq!(
        f["end_location"],
        serde_json::json!({"row": 5, "column": 28})
    );
    assert_eq!(
        f["labels"][0]["location"],
        serde_json::json!({"row": 5, "column": 5})
    );
    assert!(f["help"].as_str().unwrap().contains("contextlib.closing"));
    assert_eq!(f["fix"]["applicability"], "unsafe");
    let edits = f["fix"]["edits"].as_array().unwrap();
    assert_eq!(edits[0]["content"], "import contextlib\n");
    assert_eq!(
        edits[0]["location"],
        serde_json::json!({"row": 1, "column": 1})
    );
    // No findings: an empty array, still valid JSON.
    let dir = tree(&[("clean.py", CLEAN)]);
    let out = stdout_of(leaklint(dir.path()).args(["check", "--format", "json"]));
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        serde_json::json!([])
    );
}

#[test]
fn sarif_has_rules_results_and_fingerprints() {
    let dir = tree(&[("leak.py", LEAK)]);
    let out = stdout_of(leaklint(dir.path()).args(["check", "--format", "sarif"]));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules: Vec<_> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert!(
        rules.contains(&serde_json::json!("LK104")) && rules.contains(&serde_json::json!("LK001"))
    );
    let result = &run["results"][0];
    assert_eq!(result["ruleId"], "LK104");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        5
    );
    assert!(result["partialFingerprints"]
        .as_object()
        .is_some_and(|m| !m.is_empty()));
}

#[test]
fn github_annotations_cannot_be_injected() {
    let hostile = "x,line=1::\n::error file=pwned.py::owned.py";
    let dir = tree(&[(hostile, LEAK)]);
    let out = stdout_of(leaklint(dir.path()).args(["check", "--format", "github"]));
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.starts_with("::error file=x%2Cline=1%3A%3A%0A%3A%3Aerror file=pwned.py%3A%3Aowned.py,line=5,col=10,"), "{out}");
}

#[test]
fn text_format_and_colour() {
    let dir = tree(&[("leak.py", LEAK)]);
    let plain = stdout_of(leaklint(dir.path()).args(["check", "--color", "never"]));
    assert!(
        plain.contains("LK104") && plain.contains("leak.py:5:10") && !plain.contains('\x1b'),
        "{plain}"
    );
    assert!(plain.contains("Found 1 error."), "{plain}");
    let coloured = stdout_of(leaklint(dir.path()).args(["check", "--color", "always"]));
    assert!(coloured.contains('\x1b'), "{coloured}");
    // Piped output is not a terminal: no colour by default.
    assert!(!stdout_of(leaklint(dir.path()).arg("check")).contains('\x1b'));
}

#[test]
fn statistics_and_output_file() {
    let dir = tree(&[("a.py", LEAK), ("b.py", LEAK)]);
    leaklint(dir.path())
        .args(["check", "--statistics"])
        .assert()
        .code(1)
        .stdout(predicate::str::is_match(r"^\s+2\tLK104\t\[\*\] with-does-not-close\n$").unwrap());
    leaklint(dir.path())
        .args(["check", "--format", "concise", "-o", "report.txt"])
        .assert()
        .code(1)
        .stdout("");
    let report = fs::read_to_string(dir.path().join("report.txt")).unwrap();
    assert_eq!(report.lines().count(), 2, "{report}");
}

#[test]
fn stdin_is_reported_under_the_given_name() {
    let dir = tree(&[]);
    leaklint(dir.path())
        .args([
            "check",
            "--format",
            "concise",
            "--stdin-filename",
            "app/db.py",
        ])
        .write_stdin(LEAK)
        .assert()
        .code(1)
        .stdout(predicate::str::starts_with("app/db.py:5:10: LK104"));
    // With --fix, standard output carries the fixed source.
    leaklint(dir.path())
        .args([
            "check",
            "--fix",
            "--unsafe-fixes",
            "--stdin-filename",
            "db.py",
        ])
        .write_stdin(LEAK)
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "with contextlib.closing(sqlite3.connect(p)) as conn, conn:",
        ));
}

// ---- configuration ----------------------------------------------------

#[test]
fn config_files_nearest_wins() {
    let dir = tree(&[
        ("leaklint.toml", "ignore = [\"LK104\"]\n"),
        ("a/leak.py", LEAK),
        ("b/pyproject.toml", "[tool.leaklint]\nselect = [\"LK1\"]\n"),
        ("b/leak.py", LEAK),
        ("c/pyproject.toml", "[project]\nname = \"c\"\n"),
        ("c/leak.py", LEAK),
        (
            "d/.leaklint.toml",
            "extend-select = [\"LK104\"]\n[per-file-ignores]\n\"skip_*.py\" = [\"LK104\"]\n",
        ),
        ("d/leak.py", LEAK),
        ("d/skip_me.py", LEAK),
    ]);
    // a/ and c/ (a pyproject without [tool.leaklint] does not count) are
    // governed by the root file; b/ and d/ by their own.
    let out = concise(dir.path(), &[]);
    let paths: Vec<_> = out.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(paths, ["b/leak.py", "d/leak.py"], "{out}");
    // --config wins over every discovered file.
    fs::write(dir.path().join("strict.toml"), "select = [\"ALL\"]\n").unwrap();
    let out = concise(dir.path(), &["--config", "strict.toml"]);
    assert_eq!(out.lines().count(), 5, "{out}");
    // The command line wins over the file.
    let out = concise(dir.path(), &["--select", "LK104", "a"]);
    assert_eq!(out.lines().count(), 1, "{out}");
}

#[test]
fn config_errors_exit_2_and_say_what_is_valid() {
    let dir = tree(&[("leaklint.toml", "colour = true\n"), ("x.py", CLEAN)]);
    leaklint(dir.path())
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("colour").and(predicate::str::contains("extend-select")));
    let dir = tree(&[("leaklint.toml", "select = [\"LK999\"]\n"), ("x.py", CLEAN)]);
    leaklint(dir.path())
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("LK999").and(predicate::str::contains("LK104")));
    let dir = tree(&[("x.py", CLEAN)]);
    leaklint(dir.path())
        .args(["check", "--ignore", "NOPE"])
        .assert()
        .code(2);
    leaklint(dir.path())
        .args(["check", "--format", "xml"])
        .assert()
        .code(2);
}

#[test]
fn format_can_come_from_config() {
    let dir = tree(&[
        ("leaklint.toml", "format = \"concise\"\n"),
        ("leak.py", LEAK),
    ]);
    let out = stdout_of(leaklint(dir.path()).arg("check"));
    assert!(out.starts_with("leak.py:5:10: LK104 "), "{out}");
}

#[test]
fn project_resources_from_config() {
    let config = r#"
[[resource]]
type = "app.db.LegacyConnection"
kind = "connection"
acquire = [{ call = "app.db.open_legacy" }]
release = [{ method = "close" }]
with = "transaction"
"#;
    let code = "from app.db import open_legacy\n\nwith open_legacy() as c:\n    pass\n";
    let dir = tree(&[("leaklint.toml", config), ("x.py", code)]);
    let out = concise(dir.path(), &[]);
    assert!(
        out.starts_with("x.py:3:6: LK104 `with open_legacy(...)`"),
        "{out}"
    );
    let bad =
        "[[resource]]\ntype = \"x\"\nkind = \"connection\"\nacquire = [{ method = \"open\" }]\n";
    let dir = tree(&[("leaklint.toml", bad), ("x.py", code)]);
    leaklint(dir.path())
        .arg("check")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`method` and `on`"));
}

// ---- suppressions -----------------------------------------------------

#[test]
fn skip_file_and_rust_allow_comments() {
    let skipped = format!("# leaklint: skip-file\n{LEAK}");
    let dir = tree(&[
        ("skipped.py", &skipped),
        (
            "allowed.rs",
            "use sqlx::PgPool;\nfn main() { let x = ; } // leaklint: allow(LK001)\n",
        ),
        (
            "above.rs",
            "use sqlx::PgPool;\n// leaklint: allow(LK001)\nfn main() { let x = ; }\n",
        ),
        (
            "other.rs",
            "use sqlx::PgPool;\n// leaklint: allow(LK104)\nfn main() { let x = ; }\n",
        ),
    ]);
    let out = concise(dir.path(), &[]);
    assert_eq!(
        out,
        "other.rs:3:21: LK001 syntax error: expected an expression\n"
    );
}

// ---- fixes ------------------------------------------------------------

#[test]
fn fix_applies_unsafe_fixes_only_when_asked_and_is_idempotent() {
    let dir = tree(&[("leak.py", LEAK)]);
    let path = dir.path().join("leak.py");
    // LK104's fix is unsafe: --fix alone leaves the file as it was.
    leaklint(dir.path())
        .args(["check", "--fix", "leak.py"])
        .assert()
        .code(1);
    assert_eq!(fs::read_to_string(&path).unwrap(), LEAK);
    leaklint(dir.path())
        .args(["check", "--fix", "--unsafe-fixes", "leak.py"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("Fixed 1 finding."));
    let fixed = fs::read_to_string(&path).unwrap();
    assert_eq!(
        fixed,
        "import contextlib\nimport sqlite3\n\n\ndef f(p):\n    with contextlib.closing(sqlite3.connect(p)) as conn, conn:\n        conn.execute('x')\n"
    );
    leaklint(dir.path())
        .args(["check", "--fix", "--unsafe-fixes", "leak.py"])
        .assert()
        .code(0);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        fixed,
        "a second --fix changes nothing"
    );
}

#[test]
fn fix_keeps_crlf_permissions_and_existing_imports() {
    use std::os::unix::fs::PermissionsExt;
    let crlf = "from contextlib import closing\r\nimport sqlite3\r\nwith sqlite3.connect('a') as c:\r\n    pass\r\nwith sqlite3.connect('b'):\r\n    pass\r\n";
    let dir = tree(&[("w.py", crlf)]);
    let path = dir.path().join("w.py");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
    leaklint(dir.path())
        .args(["check", "--fix", "--unsafe-fixes"])
        .assert()
        .code(0);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "from contextlib import closing\r\nimport sqlite3\r\nwith closing(sqlite3.connect('a')) as c, c:\r\n    pass\r\nwith closing(sqlite3.connect('b')):\r\n    pass\r\n"
    );
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o640
    );
}

#[test]
fn several_fixes_in_one_file_share_one_import() {
    let two = "import sqlite3\nwith sqlite3.connect('a') as a:\n    pass\nwith sqlite3.connect('b') as b:\n    pass\n";
    let dir = tree(&[("two.py", two)]);
    leaklint(dir.path())
        .args(["check", "--fix", "--unsafe-fixes"])
        .assert()
        .code(0);
    let fixed = fs::read_to_string(dir.path().join("two.py")).unwrap();
    assert_eq!(fixed.matches("import contextlib").count(), 1, "{fixed}");
    assert_eq!(fixed.matches("contextlib.closing(").count(), 2, "{fixed}");
}

#[test]
fn diff_prints_and_writes_nothing() {
    let dir = tree(&[("leak.py", LEAK)]);
    leaklint(dir.path())
        .args(["check", "--diff", "--unsafe-fixes"])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("--- a/leak.py\n+++ b/leak.py\n").and(
                predicate::str::contains(
                    "+    with contextlib.closing(sqlite3.connect(p)) as conn, conn:",
                ),
            ),
        );
    assert_eq!(
        fs::read_to_string(dir.path().join("leak.py")).unwrap(),
        LEAK
    );
}

#[test]
fn files_with_syntax_errors_are_not_fixed() {
    let broken = format!("{LEAK}def g(:\n    pass\n");
    let dir = tree(&[("broken.py", &broken)]);
    leaklint(dir.path())
        .args(["check", "--fix", "--unsafe-fixes"])
        .assert()
        .code(1);
    assert_eq!(
        fs::read_to_string(dir.path().join("broken.py")).unwrap(),
        broken
    );
}

// ---- rule pages -------------------------------------------------------

#[test]
fn rules_and_rule_pages() {
    let dir = tree(&[]);
    let list = stdout_of(leaklint(dir.path()).arg("rules"));
    let implemented = [
        "LK001", "LK002", "LK101", "LK102", "LK103", "LK104", "LK105", "LK106", "LK107", "LK108",
        "LK109", "LK201", "LK202", "LK203", "LK204", "LK205", "LK206", "LK207", "LK208",
    ];
    for code in implemented {
        assert!(list.contains(code), "{list}");
    }
    assert!(!list.contains("LK209"), "only real rules are listed");
    let json: serde_json::Value = serde_json::from_str(&stdout_of(
        leaklint(dir.path()).args(["rules", "--format", "json"]),
    ))
    .unwrap();
    let codes: Vec<&str> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, implemented);
    leaklint(dir.path())
        .args(["rule", "lk104"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("# with-does-not-close (LK104)")
                .and(predicate::str::contains("## Why is this bad?"))
                .and(predicate::str::contains("contextlib.closing")),
        );
    leaklint(dir.path())
        .args(["rule", "LK999"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("LK104"));
}

#[test]
fn engine_fixes_round_trip() {
    let src = "\
import sqlite3

import aiohttp


def export(path, rows):
    conn = sqlite3.connect(path)
    conn.executemany('INSERT INTO t VALUES (?)', rows)
    conn.close()


async def fetch(url):
    session = aiohttp.ClientSession()
    resp = await session.get(url)
    return await resp.text()


async def stop(dsn):
    session = aiohttp.ClientSession()
    try:
        await session.get(dsn)
    finally:
        session.close()
";
    let fixed = "\
import sqlite3

import aiohttp


def export(path, rows):
    conn = sqlite3.connect(path)
    try:
        conn.executemany('INSERT INTO t VALUES (?)', rows)
    finally:
        conn.close()


async def fetch(url):
    async with aiohttp.ClientSession() as session:
        resp = await session.get(url)
        return await resp.text()


async def stop(dsn):
    session = aiohttp.ClientSession()
    try:
        await session.get(dsn)
    finally:
        await session.close()
";
    let dir = tree(&[("app.py", src)]);
    let path = dir.path().join("app.py");
    // Only LK106's fix is safe.
    leaklint(dir.path())
        .args(["check", "--fix"])
        .assert()
        .code(1);
    let safe_only = fs::read_to_string(&path).unwrap();
    assert!(
        safe_only.contains("await session.close()") && safe_only.contains("    conn.close()\n"),
        "{safe_only}"
    );
    leaklint(dir.path())
        .args(["check", "--fix", "--unsafe-fixes"])
        .assert()
        .code(0);
    assert_eq!(fs::read_to_string(&path).unwrap(), fixed);
    leaklint(dir.path())
        .args(["check", "--fix", "--unsafe-fixes"])
        .assert()
        .code(0);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        fixed,
        "a second --fix changes nothing"
    );
}

#[test]
fn unspawned_connection_fix_spawns_it_and_renames_a_discarded_binding() {
    let src = "\
use tokio_postgres::NoTls;

pub async fn names(url: &str) -> Result<u64, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    client.execute(\"SELECT 1\", &[]).await
}

pub async fn ages(url: &str) -> Result<u64, tokio_postgres::Error> {
    let (client, _) = tokio_postgres::connect(url, NoTls).await?;
    client.execute(\"SELECT 2\", &[]).await
}
";
    let fixed = "\
use tokio_postgres::NoTls;

pub async fn names(url: &str) -> Result<u64, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!(\"connection error: {e}\");
        }
    });
    client.execute(\"SELECT 1\", &[]).await
}

pub async fn ages(url: &str) -> Result<u64, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!(\"connection error: {e}\");
        }
    });
    client.execute(\"SELECT 2\", &[]).await
}
";
    let dir = tree(&[("src/db.rs", src)]);
    assert_eq!(
        concise(dir.path(), &[]),
        "src/db.rs:4:32: LK208 the `Connection` half of this `connect` is never spawned or awaited: the client it drives never makes progress\n\
         src/db.rs:9:23: LK208 the `Connection` half of this `connect` is never spawned or awaited: the client it drives never makes progress\n"
    );
    // The fix is safe: plain `--fix` applies it, and the result is clean.
    leaklint(dir.path())
        .args(["check", "--fix"])
        .assert()
        .success();
    assert_eq!(
        fs::read_to_string(dir.path().join("src/db.rs")).unwrap(),
        fixed
    );
    assert_eq!(concise(dir.path(), &[]), "");
}

/// A file nested deeper than Python's indentation limit once aborted the
/// whole process inside tree-sitter's scanner; it is refused before
/// parsing, and every other file's findings are still there.
#[test]
fn indentation_past_pythons_limit_is_refused_and_loses_no_other_file() {
    let deep = |levels: usize| -> String {
        (0..levels)
            .map(|i| format!("{}if x:\n", " ".repeat(i)))
            .fold("from sqlite3 import connect\n".to_string(), |s, l| s + &l)
            + &" ".repeat(levels)
            + "\"s\"\n"
    };
    let (at_limit, over, aborting) = (deep(99), deep(100), deep(511));
    let dir = tree(&[
        ("a.py", LEAK),
        ("at_limit.py", &at_limit),
        ("over.py", &over),
        ("deep.py", &aborting),
        ("c.py", LEAK),
    ]);
    let (code, out) = concise_run(dir.path());
    assert_eq!(code, Some(1));
    assert!(
        out.contains("a.py:5:10") && out.contains("c.py:5:10"),
        "{out}"
    );
    assert!(
        out.contains("deep.py:1:1: LK002 file not analysed: it nests 511 indentation levels deep"),
        "{out}"
    );
    assert!(out.contains("over.py:1:1: LK002"), "{out}");
    assert!(!out.contains("at_limit.py"), "{out}");
}

/// A FIFO named like a source file once hung the run: it is reported, not
/// opened, and the other files are checked.
#[cfg(unix)]
#[test]
fn a_fifo_named_like_a_source_file_does_not_hang_the_run() {
    let dir = tree(&[("a.py", LEAK)]);
    let made = std::process::Command::new("mkfifo")
        .arg(dir.path().join("x.py"))
        .status()
        .unwrap();
    assert!(made.success());
    let (_, out) = concise_run(dir.path());
    assert!(out.contains("a.py:5:10"), "{out}");
    assert!(
        out.contains("x.py:1:1: LK002 could not read file: it is a FIFO, not a regular file"),
        "{out}"
    );
}

/// Standard input is read only up to the file size limit.
#[test]
fn standard_input_over_the_size_limit_is_reported_not_read_whole() {
    let dir = tree(&[]);
    let big = "a".repeat(16 * 1024 * 1024 + 1);
    let output = leaklint(dir.path())
        .args(["check", "--format", "concise", "--stdin-filename", "big.py"])
        .write_stdin(big)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8(output.stdout).unwrap();
    assert!(
        out.contains(
            "big.py:1:1: LK002 file not analysed: standard input is over the 16 MiB limit"
        ),
        "{out}"
    );
}

/// Hostile files beside normal ones: each gets a finding (LK001/LK002)
/// or is checked normally, none aborts or hangs the run, and the normal
/// files' findings are all there.
#[test]
fn hostile_files_lose_no_other_file() {
    let nest = |open: &str, close: &str, n: usize| open.repeat(n) + &close.repeat(n);
    // Each file, and where its finding is.
    let files: Vec<(String, Vec<u8>, &str)> = vec![
        ("a.py".into(), LEAK.into(), "5:10: LK104"),
        (
            "nest.py".into(),
            format!(
                "from sqlite3 import connect\nx = {}\n",
                nest("(", ")", 100_000)
            )
            .into(),
            "1:1: LK002",
        ),
        (
            "nest.rs".into(),
            format!(
                "use sqlx::PgPool;\nfn f() {{ let x = {}; }}\n",
                nest("[", "]", 100_000)
            )
            .into(),
            "1:1: LK002",
        ),
        (
            "huge_line.py".into(),
            format!("x = \"{}\"\n", "a".repeat(17 * 1024 * 1024)).into(),
            "1:1: LK002",
        ),
        (
            "nul.py".into(),
            b"from requests import Session\0\ndef f():\n    s = 1\0\n".to_vec(),
            "1:1: LK001",
        ),
        (
            "nul.rs".into(),
            b"use sqlx::PgPool;\nfn main() {\0 let x = 1; }\n".to_vec(),
            "2:12: LK001",
        ),
        (
            "utf16.py".into(),
            [0xFF, 0xFE]
                .into_iter()
                .chain(
                    "import requests\n"
                        .encode_utf16()
                        .flat_map(u16::to_le_bytes),
                )
                .collect(),
            "1:1: LK002",
        ),
        (
            "chain.py".into(),
            format!(
                "import requests\n\n\ndef f():\n    return requests.Session(){}\n",
                ".a()".repeat(15_000)
            )
            .into(),
            "1:1: LK002",
        ),
        (
            "fstrings.py".into(),
            format!(
                "from requests import Session\nx = {}1{}\n",
                "f\"{".repeat(600),
                "}\"".repeat(600)
            )
            .into(),
            "1:1: LK001",
        ),
        (
            "def_at_end.py".into(),
            b"from requests import Session\ndef f():".to_vec(),
            "2:9: LK001",
        ),
        // Old Mac line endings: rows as CPython and editors count them.
        (
            "lone_cr.py".into(),
            LEAK.replace('\n', "\r").into(),
            "5:10: LK104",
        ),
        // A backslash is part of a Unix file name, and printed so.
        #[cfg(unix)]
        ("back\\slash.py".into(), LEAK.into(), "5:10: LK104"),
        ("b.py".into(), LEAK.into(), "5:10: LK104"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes, _) in &files {
        fs::write(dir.path().join(name), bytes).unwrap();
    }
    let (code, out) = concise_run(dir.path());
    assert_eq!(code, Some(1));
    let mut expected: Vec<String> = files
        .iter()
        .map(|(name, _, at)| format!("{name}:{at}"))
        .collect();
    expected.sort();
    // `path:row:col: CODE message`, one per line, sorted by path.
    let found: Vec<String> = out
        .lines()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(found, expected, "{out}");
}
