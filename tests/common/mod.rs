//! What the end-to-end test crates share: the binary, run in a directory,
//! and trees of files to run it on.

use std::fs;
use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use tempfile::TempDir;

/// `leaklint` in `dir`, with the debugging hook off.
pub fn leaklint(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("leaklint").unwrap();
    cmd.current_dir(dir)
        .timeout(Duration::from_secs(60))
        .env_remove("LEAKLINT_DEBUG_PANIC_ON");
    cmd
}

/// A temporary directory holding `files` (relative path, text).
pub fn tree(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), files);
    dir
}

/// Writes `files` (relative path, text) under `root`, making directories.
fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}
