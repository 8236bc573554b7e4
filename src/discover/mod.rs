//! Finding the files to check: gitignore-aware walks of directories,
//! excludes from the governing configuration, explicit files always read
//! unless `--force-exclude` says otherwise.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ignore::WalkBuilder;

mod walks;

pub use walks::Walks;

use crate::config::ConfigError;
use crate::settings::{Resolver, Settings};
use crate::source::Language;

/// One file to check and the settings that govern it.
pub struct Target {
    pub path: PathBuf,
    pub language: Language,
    pub settings: Arc<Settings>,
}

/// What the walk found, plus what it could not do.
#[derive(Default)]
pub struct Discovery {
    pub targets: Vec<Target>,
    /// Problems worth telling the user that are not findings: symlink
    /// loops, unreadable directories, files of unknown languages.
    pub warnings: Vec<String>,
    /// Problems that make the run fail (exit 2): missing paths, bad
    /// configuration.
    pub errors: Vec<String>,
}

fn parent_dir(path: &Path) -> PathBuf {
    let abs = crate::source::absolute(path);
    abs.parent().map(Path::to_path_buf).unwrap_or(abs)
}

pub fn discover(
    paths: &[PathBuf],
    resolver: &Arc<Resolver>,
    force_exclude_cli: bool,
    walks: Option<&Walks>,
) -> Discovery {
    let mut out = Discovery::default();
    let mut seen = Seen::default();
    for root in paths {
        let is_dir = match std::fs::metadata(root) {
            Ok(m) => m.is_dir(),
            // A dangling symlink named on the command line is a file that
            // cannot be read: an LK002, like one met in a walk.
            Err(_) if std::fs::symlink_metadata(root).is_ok() => false,
            Err(e) => {
                out.errors.push(format!("{}: {e}", root.display()));
                continue;
            }
        };
        if !is_dir {
            push_file(
                &mut out,
                &mut seen,
                root.clone(),
                None,
                resolver,
                force_exclude_cli,
                true,
            );
            continue;
        }
        match resolver.settings_for_dir(&crate::source::absolute(root)) {
            Ok(s)
                if (s.force_exclude || force_exclude_cli) && s.is_excluded_with_ancestors(root) =>
            {
                continue
            }
            Ok(_) => {}
            Err(e) => {
                out.errors.push(e.to_string());
                continue;
            }
        }
        walk_dir(root, resolver, &mut out, &mut seen, walks);
    }
    out.targets.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// Walks `root` into `out`, or replays its remembered walk when nothing
/// it depends on has changed (see [`walks`]).
fn walk_dir(
    root: &Path,
    resolver: &Arc<Resolver>,
    out: &mut Discovery,
    seen: &mut Seen,
    walks: Option<&Walks>,
) {
    if let Some((files, unconfigured)) = walks.and_then(|w| w.replay(root)) {
        resolver.note_unconfigured(unconfigured);
        for (path, link) in files {
            push_file(out, seen, path, Some(link), resolver, false, false);
        }
        return;
    }
    let began = crate::store::now_nanos();
    let (errors, warnings) = (out.errors.len(), out.warnings.len());
    let mut walked = walks::Walked::default();
    walk_tree(root, resolver, out, seen, &mut walked);
    if let Some(w) = walks {
        if !walked.incomplete && out.errors.len() == errors && out.warnings.len() == warnings {
            w.remember(root, began, &walked);
        }
    }
}

fn walk_tree(
    root: &Path,
    resolver: &Arc<Resolver>,
    out: &mut Discovery,
    seen: &mut Seen,
    walked: &mut walks::Walked,
) {
    let config_errors: Arc<Mutex<Vec<ConfigError>>> = Arc::default();
    let mut builder = WalkBuilder::new(root);
    builder
        .hidden(false)
        .parents(true)
        .ignore(true)
        .git_ignore(true)
        .git_global(true)
        .git_exclude(true)
        .require_git(false)
        .follow_links(true);
    {
        let resolver = resolver.clone();
        let config_errors = config_errors.clone();
        builder.filter_entry(move |entry| {
            if entry.depth() == 0 {
                return true;
            }
            // leaklint's own cache holds no source, whatever `exclude`
            // says, and changes on every run (which would spoil the
            // remembered walk of the tree it is in).
            if entry.file_name() == ".leaklint_cache" {
                return false;
            }
            match resolver.settings_for_dir(&parent_dir(entry.path())) {
                Ok(settings) => !settings.is_excluded(entry.path()),
                Err(e) => {
                    config_errors.lock().unwrap().push(e);
                    false
                }
            }
        });
    }
    for entry in builder.build() {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                // A source file the walk cannot stat (a dangling symlink)
                // is still a source file: reading it yields an LK002.
                match error_path(&e) {
                    Some(path) if Language::from_path(path).is_some() => {
                        walked.incomplete = true;
                        push_file(out, seen, path.to_path_buf(), None, resolver, false, false);
                    }
                    _ => out.warnings.push(format!("skipped: {e}")),
                }
                continue;
            }
        };
        let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
        if is_dir {
            walked.dirs.push(entry.path().to_path_buf());
        }
        if is_dir || Language::from_path(entry.path()).is_none() {
            continue;
        }
        let link = entry.path_is_symlink();
        walked.files.push((entry.path().to_path_buf(), link));
        push_file(
            out,
            seen,
            entry.into_path(),
            Some(link),
            resolver,
            false,
            false,
        );
    }
    for e in config_errors.lock().unwrap().drain(..) {
        out.errors.push(e.to_string());
    }
}

/// The directory a file's project is rooted at: the directory of the
/// configuration that governs it; else the nearest directory with a
/// `.git`, `pyproject.toml` or `setup.cfg`, or a `Cargo.toml` that
/// declares a `[workspace]`; else the nearest crate (`Cargo.toml`). `None`
/// when there is none of these: the project is then the files named.
///
/// Answers are remembered per directory: a tree's files share their
/// ancestors, and each look costs a few `stat`s (and a manifest read).
#[derive(Default)]
pub struct ProjectRoots {
    /// Directory -> (nearest marked root, nearest crate) at or above it.
    dirs: std::collections::HashMap<PathBuf, (Option<PathBuf>, Option<PathBuf>)>,
}

impl ProjectRoots {
    pub fn of_file(&mut self, path: &Path, settings: &Settings) -> Option<PathBuf> {
        let file = crate::source::absolute(path);
        if settings.source.is_some() && file.starts_with(&settings.root) {
            return Some(settings.root.clone());
        }
        let (marked, crate_root) = self.of_dir(file.parent()?);
        marked.or(crate_root)
    }

    fn of_dir(&mut self, dir: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
        if let Some(known) = self.dirs.get(dir) {
            return known.clone();
        }
        let marked = dir.join(".git").exists()
            || dir.join("pyproject.toml").is_file()
            || dir.join("setup.cfg").is_file();
        let manifest = dir.join("Cargo.toml");
        let is_crate = !marked && manifest.is_file();
        let workspace = is_crate
            && std::fs::read_to_string(&manifest)
                .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"));
        let answer = if marked || workspace {
            (Some(dir.to_path_buf()), None)
        } else {
            let (above, above_crate) = match dir.parent() {
                Some(parent) => self.of_dir(parent),
                None => (None, None),
            };
            let nearest_crate = if is_crate {
                Some(dir.to_path_buf())
            } else {
                above_crate
            };
            (above, nearest_crate)
        };
        self.dirs.insert(dir.to_path_buf(), answer.clone());
        answer
    }
}

/// The files of the targets' projects that are not targets themselves:
/// each project root is walked as `check ROOT` would walk it, unless a
/// directory already walked (`walked`, canonical) contains it.
pub fn project_files(
    targets: &[Target],
    walked: &[PathBuf],
    resolver: &Arc<Resolver>,
    walks: Option<&Walks>,
) -> Vec<Target> {
    // Walked as found (absolute, not canonical), so that paths in the
    // project read like the targets' own; compared canonically.
    let mut roots: Vec<(PathBuf, PathBuf)> = Vec::new();
    let mut finder = ProjectRoots::default();
    let mut looked = HashSet::new();
    for t in targets {
        let Some(root) = finder.of_file(&t.path, &t.settings) else {
            continue;
        };
        if !looked.insert(root.clone()) {
            continue;
        }
        let canonical = std::fs::canonicalize(&root).unwrap_or_else(|_| root.clone());
        if !walked.iter().any(|w| canonical.starts_with(w))
            && !roots.iter().any(|(c, _)| *c == canonical)
        {
            roots.push((canonical, root));
        }
    }
    if roots.is_empty() {
        return Vec::new();
    }
    let mut seen = Seen::default();
    for t in targets {
        seen.insert(&t.path, None, usize::MAX);
    }
    let mut out = Discovery::default();
    for (_, root) in &roots {
        walk_dir(root, resolver, &mut out, &mut seen, walks);
    }
    // Problems in the rest of the project are not this run's to report:
    // its files are read only for what they define.
    out.targets
}

/// The path an I/O error of the walk is about, if it names one.
fn error_path(error: &ignore::Error) -> Option<&Path> {
    match error {
        ignore::Error::WithPath { path, err } => match error_path(err) {
            Some(inner) => Some(inner),
            None if is_io(err) => Some(path),
            None => None,
        },
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithLineNumber { err, .. } => {
            error_path(err)
        }
        _ => None,
    }
}

fn is_io(error: &ignore::Error) -> bool {
    match error {
        ignore::Error::Io(_) => true,
        ignore::Error::WithDepth { err, .. } | ignore::Error::WithPath { err, .. } => is_io(err),
        _ => false,
    }
}

/// The files met so far, by where they really are: the same file reached
/// twice (overlapping arguments, symlinks) is checked once.
#[derive(Default)]
struct Seen {
    /// Real paths, by their bytes (cheaper to hash than a `Path`), with
    /// the index of the target found there (`usize::MAX`: not a target of
    /// this discovery).
    files: foldhash::HashMap<std::ffi::OsString, usize>,
    /// Directory -> its canonical path: resolving each file's whole path
    /// would cost a `readlink` per component per file.
    dirs: foldhash::HashMap<std::ffi::OsString, PathBuf>,
}

impl Seen {
    /// Records `path` as target `index` (`link`: whether it is a symlink,
    /// when the walk knows already; it saves an `lstat`): `New` the first
    /// time its file is met, else the earlier target's index and whether
    /// `path` is the file's real path (no symlink on the way).
    fn insert(&mut self, path: &Path, link: Option<bool>, index: usize) -> Met {
        let absolute = crate::source::absolute(path);
        let is_link = link.unwrap_or_else(|| {
            std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
        });
        let key = match (absolute.parent(), absolute.file_name()) {
            (Some(dir), Some(name)) if !is_link => self.canonical_dir(dir).join(name),
            _ => std::fs::canonicalize(path).unwrap_or_else(|_| absolute.clone()),
        };
        let real = key == absolute;
        match self.files.entry(key.into_os_string()) {
            std::collections::hash_map::Entry::Occupied(e) => Met::Again {
                index: *e.get(),
                real,
            },
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(index);
                Met::New
            }
        }
    }

    /// Where `dir` (absolute, normalised) really is: its parent's real
    /// place plus its name, unless it is a symlink itself. One `lstat` per
    /// directory, where `canonicalize` reads every component of the path.
    fn canonical_dir(&mut self, dir: &Path) -> PathBuf {
        if let Some(known) = self.dirs.get(dir.as_os_str()) {
            return known.clone();
        }
        let is_link = std::fs::symlink_metadata(dir).is_ok_and(|m| m.file_type().is_symlink());
        let real = match (dir.parent(), dir.file_name()) {
            (Some(parent), Some(name)) if !is_link => self.canonical_dir(parent).join(name),
            _ => std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf()),
        };
        self.dirs
            .insert(dir.as_os_str().to_os_string(), real.clone());
        real
    }
}

fn push_file(
    out: &mut Discovery,
    seen: &mut Seen,
    path: PathBuf,
    link: Option<bool>,
    resolver: &Resolver,
    force_exclude_cli: bool,
    explicit: bool,
) {
    let settings = match resolver.settings_for_dir(&parent_dir(&path)) {
        Ok(s) => s,
        Err(e) => {
            out.errors.push(e.to_string());
            return;
        }
    };
    if explicit
        && (settings.force_exclude || force_exclude_cli)
        && settings.is_excluded_with_ancestors(&path)
    {
        return;
    }
    let Some(language) = Language::from_path(&path) else {
        out.warnings.push(format!(
            "skipped {}: not a Python (.py, .pyi) or Rust (.rs) file",
            path.display()
        ));
        return;
    };
    match seen.insert(&path, link, out.targets.len()) {
        Met::New => out.targets.push(Target {
            path,
            language,
            settings,
        }),
        // Reached through a symlinked directory first (`project/app ->
        // ../app`): the file is reported where it really is, whatever
        // order the directory listing gave.
        Met::Again { index, real: true } if index < out.targets.len() => {
            out.targets[index] = Target {
                path,
                language,
                settings,
            };
        }
        Met::Again { .. } => {}
    }
}

/// What [`Seen::insert`] found.
enum Met {
    New,
    Again { index: usize, real: bool },
}
