//! The same findings whatever files are named: `check FILE`, the file on
//! standard input with `--stdin-filename`, a pre-commit-style list of
//! changed files and `check .` all learn the project's helpers from the
//! whole project the file belongs to.

use std::fs;
use std::path::{Path, PathBuf};

mod common;

use common::{leaklint, tree};

/// `path:row:col: CODE message` lines of `check --format concise ARGS`.
fn concise(dir: &Path, args: &[&str], stdin: Option<&str>) -> Vec<String> {
    let mut cmd = leaklint(dir);
    cmd.args(["check", "--format", "concise"]).args(args);
    if let Some(text) = stdin {
        cmd.write_stdin(text.to_string());
    }
    let out = cmd.output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn of_file<'a>(lines: &'a [String], file: &str) -> Vec<&'a String> {
    lines
        .iter()
        .filter(|l| l.starts_with(&format!("{file}:")))
        .collect()
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The fixture projects whose findings come from helpers, factories,
/// releasers and state types defined in their other files.
const PROJECT_FILES: &[&str] = &[
    "fixtures/python/project/shop/orders.py",
    "fixtures/python/project/shop/pre_start.py",
    "fixtures/python/LK103/app/service.py",
    "fixtures/rust/project/handlers.rs",
    "fixtures/rust/project/routes.rs",
    "fixtures/rust/project/state.rs",
];

#[test]
fn one_file_stdin_and_the_whole_tree_agree_on_every_project_fixture() {
    let root = repo();
    let all = concise(&root, &["fixtures"], None);
    let mut lost_without_project = 0;
    let mut found = 0;
    for file in PROJECT_FILES {
        let expected = of_file(&all, file);
        found += expected.len();
        let alone = concise(&root, &[file], None);
        assert_eq!(of_file(&alone, file), expected, "check {file}");
        let text = fs::read_to_string(root.join(file)).unwrap();
        let piped = concise(&root, &["--stdin-filename", file], Some(&text));
        assert_eq!(of_file(&piped, file), expected, "--stdin-filename {file}");
        let isolated = concise(&root, &["--no-project", file], None);
        if of_file(&isolated, file) != expected {
            lost_without_project += 1;
        }
    }
    assert!(found >= 6, "{found}");
    // The agreement is the project's doing: alone, without it, some of
    // these files lose findings (Python and Rust both).
    assert!(lost_without_project >= 2, "{lost_without_project}");
}

#[test]
fn a_pre_commit_list_of_changed_files_gets_the_project_too() {
    let root = repo();
    let all = concise(&root, &["fixtures"], None);
    let changed = [PROJECT_FILES[0], PROJECT_FILES[3]];
    let some = concise(&root, &changed, None);
    let expected: Vec<&String> = changed.iter().flat_map(|f| of_file(&all, f)).collect();
    assert_eq!(some.iter().collect::<Vec<_>>(), expected);
}

const DB: &str = "import sqlite3\n\n\ndef get_conn(path):\n    return sqlite3.connect(path)\n\n\ndef close_conn(conn):\n    conn.close()\n\n\ndef get_db():\n    conn = sqlite3.connect(\"app.db\")\n    try:\n        yield conn\n    finally:\n        conn.close()\n";

const MAIN: &str = "from app.db import close_conn, get_conn, get_db\n\n\ndef leaky(path):\n    conn = get_conn(path)\n    conn.execute(\"select 1\")\n\n\ndef released(path):\n    conn = get_conn(path)\n    try:\n        conn.execute(\"select 1\")\n    finally:\n        close_conn(conn)\n\n\ndef skips_cleanup():\n    db = next(get_db())\n    return db\n";

/// A project whose `main.py` uses a factory, a releaser and a dependency
/// generator from `db.py`; `pyproject.toml` marks its root.
fn app() -> tempfile::TempDir {
    tree(&[
        ("pyproject.toml", "[project]\nname = \"app\"\n"),
        ("app/__init__.py", ""),
        ("app/db.py", DB),
        ("app/main.py", MAIN),
    ])
}

#[test]
fn cross_module_factories_releasers_and_dependency_generators() {
    let dir = app();
    let all = concise(dir.path(), &["."], None);
    let main = of_file(&all, "app/main.py");
    let codes: Vec<&str> = main
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    // The factory's connection leaks in `leaky` (line 5), the releaser
    // releases it in `released`, and `next()` skips the dependency's
    // cleanup (line 18).
    assert_eq!(codes, ["LK101", "LK103"], "{all:?}");
    assert!(main[0].starts_with("app/main.py:5:"), "{all:?}");
    assert!(main[1].starts_with("app/main.py:18:"), "{all:?}");
    let alone = concise(dir.path(), &["app/main.py"], None);
    assert_eq!(of_file(&alone, "app/main.py"), main);
    let piped = concise(dir.path(), &["--stdin-filename", "app/main.py"], Some(MAIN));
    assert_eq!(of_file(&piped, "app/main.py"), main);
    // From a subdirectory, the project root is still found.
    let inside = concise(&dir.path().join("app"), &["main.py"], None);
    assert_eq!(inside.len(), main.len(), "{inside:?}");
    // Without the project, the helpers are unknown.
    let isolated = concise(dir.path(), &["--no-project", "app/main.py"], None);
    assert!(isolated.is_empty(), "{isolated:?}");
}

#[test]
fn the_buffer_on_stdin_replaces_the_file_on_disk() {
    let dir = app();
    // On disk the factory returns a connection; in the editor's buffer
    // it no longer does, and the buffer is what counts for its callers.
    let edited_db = DB.replace("    return sqlite3.connect(path)\n", "    return path\n");
    let piped = concise(
        dir.path(),
        &["--stdin-filename", "app/db.py"],
        Some(&edited_db),
    );
    assert!(of_file(&piped, "app/db.py").is_empty(), "{piped:?}");
    // And the buffer of main.py sees db.py as it is on disk.
    let edited_main = MAIN.replace(
        "    conn.execute(\"select 1\")\n\n\ndef released",
        "    conn.execute(\"select 2\")\n\n\ndef released",
    );
    let main = concise(
        dir.path(),
        &["--stdin-filename", "app/main.py"],
        Some(&edited_main),
    );
    assert_eq!(of_file(&main, "app/main.py").len(), 2, "{main:?}");
}

const RUST_DB: &str = "use diesel::r2d2::{ConnectionManager, Pool};\nuse diesel::PgConnection;\n\npub type DbPool = Pool<ConnectionManager<PgConnection>>;\n\npub fn load_user(pool: &DbPool, id: i64) -> Result<i64, Box<dyn std::error::Error>> {\n    let _conn = pool.get()?;\n    Ok(id)\n}\n";

/// Writes no crate path at all: it reaches the pool through `db.rs`'s
/// alias and helper only.
const RUST_HANDLERS: &str = "use crate::db::{load_user, DbPool};\n\npub fn profile(pool: &DbPool, id: i64) -> i64 {\n    let conn = pool.get().expect(\"connection\");\n    let user = load_user(pool, id).expect(\"user\");\n    touch(&conn, user);\n    user\n}\n";

#[test]
fn a_rust_file_that_names_only_the_projects_alias_and_helper_is_analysed() {
    let dir = tree(&[
        (
            "Cargo.toml",
            "[package]\nname = \"shop\"\nversion = \"0.1.0\"\n",
        ),
        ("src/db.rs", RUST_DB),
        ("src/handlers.rs", RUST_HANDLERS),
    ]);
    let expected = ["src/handlers.rs:5:16: LK204 `load_user` acquires from `pool` while `conn` from it is still held"];
    for args in [
        &["."][..],
        &["src/handlers.rs"],
        &[".", "--no-prefilter"],
        &["src/handlers.rs", "--no-prefilter"],
    ] {
        assert_eq!(concise(dir.path(), args, None), expected, "{args:?}");
    }
    // The names stay in their project: a crate beside it that writes
    // `DbPool` and `load_user` is not analysed for them.
    let other = tempfile::tempdir().unwrap();
    fs::write(
        other.path().join("Cargo.toml"),
        "[package]\nname = \"other\"\nversion = \"0.1.0\"\n",
    )
    .unwrap();
    fs::write(other.path().join("lib.rs"), RUST_HANDLERS).unwrap();
    let mut cmd = leaklint(other.path());
    let out = cmd
        .args([
            "check",
            "-v",
            "--no-cache",
            "lib.rs",
            dir.path().join("src/db.rs").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("1 analysed"), "{stderr}");
}

#[test]
fn a_module_that_only_releases_is_summarised_for_its_callers() {
    let dir = tree(&[
        ("pyproject.toml", "[project]\nname = \"app\"\n"),
        ("app/__init__.py", ""),
        // Acquires nothing: it only closes what it is given.
        ("app/db.py", "import sqlite3\n\n\ndef close_conn(conn):\n    conn.close()\n"),
        (
            "app/main.py",
            "import sqlite3\n\nfrom app.db import close_conn\n\n\ndef released(path):\n    conn = sqlite3.connect(path)\n    try:\n        conn.execute(\"select 1\")\n    finally:\n        close_conn(conn)\n\n\ndef leaky(path):\n    conn = sqlite3.connect(path)\n    conn.execute(\"select 1\")\n",
        ),
    ]);
    let with = concise(dir.path(), &["app/main.py", "--no-cache"], None);
    let without = concise(
        dir.path(),
        &["app/main.py", "--no-cache", "--no-prefilter"],
        None,
    );
    assert_eq!(with, without);
    let codes: Vec<&str> = with
        .iter()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>()[0])
        .collect();
    assert_eq!(codes, ["app/main.py:15:12:"], "{with:?}");
}
