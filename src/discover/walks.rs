//! Remembered walks: a directory walk whose tree has not changed is
//! replayed from the list of files it found, without reading a directory
//! or an ignore file.
//!
//! A walk depends on the directories' entries and on the files that say
//! what to skip or how: `.gitignore`, `.ignore`, `.git/info/exclude`, the
//! configuration files, and where `.git` is, in every directory walked and
//! in the root's ancestors; plus git's global excludes at their default
//! places. Creating, removing or renaming an entry changes its directory's
//! modification time, so the walk is unchanged when every directory's
//! mtime and every such file's stat is; an absent one needs no look of
//! its own, since creating it changes its directory. As with the stat
//! index of the run cache, a directory or file modified within two seconds
//! of the walk is not trusted (a second change could hide in the same
//! timestamp). A custom `core.excludesFile` elsewhere is not watched: a
//! change there shows once any directory changes, and can only add files
//! to check, never hide one's findings.
//!
//! Walks that met a problem (an unreadable directory, a symlink loop, a
//! bad configuration) are never remembered: their messages must be shown
//! each time.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::store::{nanos, RACY_NANOS};

/// The files, in each directory walked and above the root, whose content
/// or presence changes a walk.
const WATCHED: &[&str] = &[
    ".gitignore",
    ".ignore",
    ".git",
    ".git/info",
    ".git/info/exclude",
    "leaklint.toml",
    ".leaklint.toml",
    "pyproject.toml",
];

/// Where walks are remembered, and what they depend on besides the tree.
pub struct Walks {
    dir: PathBuf,
    resolver: String,
}

/// A file a walk found: its path as the walk gave it, and whether it is a
/// symlink.
pub type Found = (PathBuf, bool);

/// What a walk saw, to be checked before replaying it.
#[derive(Default)]
pub struct Walked {
    pub dirs: Vec<PathBuf>,
    pub files: Vec<Found>,
    /// It met a file it could not list as found (a dangling symlink): not
    /// to be replayed.
    pub incomplete: bool,
}

/// `len mtime` of what is at `path`, or `-` when nothing is.
fn state(path: &Path) -> String {
    match std::fs::metadata(path) {
        Ok(m) => format!("{} {}", m.len(), nanos(m.modified())),
        Err(_) => "-".to_string(),
    }
}

fn mtime_of(state: &str) -> Option<u128> {
    state.split(' ').nth(1)?.parse().ok()
}

/// Git's global excludes at their default places.
fn global_files() -> Vec<PathBuf> {
    let mut out = Vec::new();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".config")));
    if let Some(c) = config {
        out.push(c.join("git/ignore"));
        out.push(c.join("git/config"));
    }
    if let Some(h) = home {
        out.push(h.join(".gitconfig"));
    }
    out
}

impl Walks {
    pub fn at(dir: PathBuf, resolver: String) -> Walks {
        Walks { dir, resolver }
    }

    fn entry(&self, root: &Path) -> PathBuf {
        let key = crate::store::hex_sha256(
            format!(
                "leaklint-walk-1\n{}\n{}\n{}",
                root.display(),
                crate::source::absolute(root).display(),
                self.resolver
            )
            .as_bytes(),
        );
        self.dir.join("walks").join(key)
    }

    /// The paths whose state the walk depends on besides the directories
    /// walked: the files in those that steer a walk (`present`: only
    /// those there now; creating one changes its directory, which is
    /// watched, `.git` and `.git/info` included), and (`!present`) the
    /// same files in the root's ancestors, there or not, and git's global
    /// excludes. Ancestors are not watched as directories: `/tmp` or a
    /// home directory changes all the time.
    fn watched(root: &Path, dirs: &[PathBuf], present: bool) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        if present {
            for dir in dirs {
                out.extend(WATCHED.iter().map(|w| dir.join(w)));
            }
        } else {
            for dir in crate::source::absolute(root).ancestors().skip(1) {
                out.extend(WATCHED.iter().map(|w| dir.join(w)));
            }
            out.extend(global_files());
        }
        out
    }

    /// The files of the walk of `root` remembered, if nothing it depends
    /// on has changed since, and the directories walked that hold no
    /// configuration file (which the resolver then need not look for).
    pub fn replay(&self, root: &Path) -> Option<(Vec<Found>, Vec<PathBuf>)> {
        let text = std::fs::read_to_string(self.entry(root)).ok()?;
        let mut lines = text.lines();
        if lines.next()? != "leaklint-walk-1" {
            return None;
        }
        let began: u128 = lines.next()?.parse().ok()?;
        let mut checks: Vec<(PathBuf, String)> = Vec::new();
        let mut files = Vec::new();
        let mut dirs = Vec::new();
        let mut configured = std::collections::HashSet::new();
        for line in lines {
            let (tag, rest) = line.split_once(' ')?;
            match tag {
                "S" | "D" => {
                    let (state, path) = rest.split_once('\t')?;
                    let path = PathBuf::from(path);
                    if tag == "D" {
                        dirs.push(crate::source::absolute(&path));
                    } else if path
                        .file_name()
                        .is_some_and(|n| crate::config::CONFIG_FILES.iter().any(|c| n == *c))
                    {
                        configured.insert(crate::source::absolute(path.parent()?));
                    }
                    checks.push((path, state.to_string()));
                }
                "F" | "L" => files.push((PathBuf::from(rest), tag == "L")),
                _ => return None,
            }
        }
        let trusted = checks.par_iter().all(|(path, was)| {
            let now = state(path);
            now == *was && mtime_of(&now).is_none_or(|m| m + RACY_NANOS < began)
        });
        dirs.retain(|d| !configured.contains(d));
        trusted.then_some((files, dirs))
    }

    /// Remembers a walk of `root` that began at `began` (nanoseconds since
    /// the epoch). Failing to write costs the next run its speed only.
    pub fn remember(&self, root: &Path, began: u128, seen: &Walked) {
        let _ = self.try_remember(root, began, seen);
    }

    fn try_remember(&self, root: &Path, began: u128, seen: &Walked) -> std::io::Result<()> {
        let printable = |p: &Path| p.to_str().is_some_and(|s| !s.contains(['\n', '\r', '\t']));
        if !seen
            .dirs
            .iter()
            .chain(seen.files.iter().map(|(f, _)| f))
            .all(|p| printable(p))
        {
            return Ok(());
        }
        // Made first: creating the cache inside the root changes the
        // root's directory, which is about to be recorded.
        let walks = self.dir.join("walks");
        std::fs::create_dir_all(&walks)?;
        let mut watched: Vec<(&str, String, String)> = seen
            .dirs
            .par_iter()
            .map(|d| ("D", d.display().to_string(), state(d)))
            .collect();
        for present in [true, false] {
            watched.extend(
                Self::watched(root, &seen.dirs, present)
                    .par_iter()
                    .filter(|p| printable(p))
                    .map(|p| ("S", p.display().to_string(), state(p)))
                    .filter(|(_, _, s)| !present || s != "-")
                    .collect::<Vec<_>>(),
            );
        }
        let mut text = format!("leaklint-walk-1\n{began}\n");
        for (tag, path, state) in &watched {
            text.push_str(&format!("{tag} {state}\t{path}\n"));
        }
        for (file, link) in &seen.files {
            let tag = if *link { "L" } else { "F" };
            text.push_str(&format!("{tag} {}\n", file.display()));
        }
        crate::store::write_via_temp(&self.entry(root), text.as_bytes(), |_| Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::now_nanos;

    /// `DIR/proj/pkg/a.py`, remembered in `DIR/cache` (outside the root:
    /// creating the cache would change the root's directory).
    fn tree() -> (tempfile::TempDir, PathBuf, Walks) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("proj");
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(root.join("pkg/a.py"), "x = 1\n").unwrap();
        let walks = Walks::at(dir.path().join("cache"), "r".into());
        (dir, root, walks)
    }

    fn seen(root: &Path) -> Walked {
        Walked {
            dirs: vec![root.to_path_buf(), root.join("pkg")],
            files: vec![(root.join("pkg/a.py"), false)],
            incomplete: false,
        }
    }

    fn later() -> u128 {
        now_nanos() + 10 * RACY_NANOS
    }

    #[test]
    fn an_old_unchanged_walk_is_replayed_and_a_young_one_is_not() {
        let (_dir, root, walks) = tree();
        walks.remember(&root, now_nanos(), &seen(&root));
        // The tree was made just now: not trusted yet.
        assert_eq!(walks.replay(&root), None);
        walks.remember(&root, later(), &seen(&root));
        let (files, unconfigured) = walks.replay(&root).unwrap();
        assert_eq!(files, seen(&root).files);
        assert_eq!(unconfigured, [root.clone(), root.join("pkg")]);
        // A configuration file makes its directory one to look in.
        std::fs::write(root.join("pkg/leaklint.toml"), "").unwrap();
        walks.remember(&root, later(), &seen(&root));
        assert_eq!(walks.replay(&root).unwrap().1, vec![root.clone()]);
    }

    #[test]
    fn a_new_file_or_ignore_file_here_or_above_is_a_changed_walk() {
        for change in ["pkg/b.py", "pkg/.gitignore", ".leaklint.toml", "../.ignore"] {
            let (_dir, root, walks) = tree();
            walks.remember(&root, later(), &seen(&root));
            assert!(walks.replay(&root).is_some(), "{change}");
            std::fs::write(root.join(change), "*\n").unwrap();
            assert_eq!(walks.replay(&root), None, "{change}");
        }
        // An ignore file's new content, same size.
        let (_dir, root, walks) = tree();
        std::fs::write(root.join(".gitignore"), "a\n").unwrap();
        walks.remember(&root, later(), &seen(&root));
        assert!(walks.replay(&root).is_some());
        std::fs::write(root.join(".gitignore"), "b\n").unwrap();
        assert_eq!(walks.replay(&root), None);
    }

    #[test]
    fn a_damaged_entry_is_no_walk() {
        let (_dir, root, walks) = tree();
        walks.remember(&root, later(), &seen(&root));
        std::fs::write(walks.entry(&root), "leaklint-walk-1\nnot a time\n").unwrap();
        assert_eq!(walks.replay(&root), None);
        std::fs::write(walks.entry(&root), "garbage").unwrap();
        assert_eq!(walks.replay(&root), None);
    }
}
