//! The run cache: a check whose every input is unchanged replays the
//! findings it reported last time instead of analysing again.
//!
//! Findings depend on the whole project (summaries cross files), so the
//! key is the whole run: the leaklint build, the run's options, and for
//! every file read (targets and the rest of their projects) its path,
//! whether it is reported, its settings' fingerprint and a SHA-256 of its
//! bytes. A changed file anywhere in the project is a different key, which
//! is what makes invalidation across files right by construction.
//!
//! Hashing every file would read the whole project on each run, so a
//! stat index remembers each file's size, modification time and inode with
//! its hash, as git's index does. A file modified within [`RACY_NANOS`] of
//! when it was hashed could have changed again without its stat changing,
//! and is hashed afresh (git's "racily clean" rule).
//!
//! Entries are written to a temporary file and renamed into place, so a
//! reader sees a whole entry or none; concurrent runs may both write, and
//! the last rename wins with an entry as good as the other. An entry that
//! does not parse is a miss, and is overwritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::diagnostic::{Applicability, Edit, Finding, Fix, Label, Severity, Span};

/// Run entries kept; the oldest beyond this are removed when one is added.
const MAX_RUNS: usize = 32;

/// The cache directory of a project.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    /// The stat index being read on a thread of its own (see
    /// [`Cache::prefetch_index`]).
    prefetched: std::sync::Arc<std::sync::Mutex<Option<std::thread::JoinHandle<StatIndex>>>>,
}

/// What the stat index knows about one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stat {
    len: u64,
    mtime_nanos: u128,
    inode: u64,
}

#[derive(Debug, Clone)]
struct Indexed {
    stat: Stat,
    hash: String,
    /// When the file was read to be hashed (before its stat was taken).
    hashed_at: u128,
}

/// Path -> stat, hash and when it was hashed.
#[derive(Debug, Default)]
pub struct StatIndex {
    /// Keyed by the path's bytes: hashing a `Path` walks its components,
    /// and the index is looked up once per project file per run.
    files: foldhash::HashMap<std::ffi::OsString, Indexed>,
}

/// One input of the run key: a file's content as a hash (`None`: it could
/// not be read, which the key records as such).
pub struct Hashed {
    pub path: PathBuf,
    pub hash: Option<String>,
    /// Whether the stat index answered without reading the file.
    pub from_index: bool,
    stat: Option<Stat>,
    hashed_at: u128,
}

/// The stat of a regular file (`None` for FIFOs, devices, directories
/// and what cannot be stat'ed: those are never read to be hashed).
fn stat_of(path: &Path) -> Option<Stat> {
    let meta = std::fs::metadata(path).ok().filter(|m| m.is_file())?;
    let mtime_nanos = meta
        .modified()
        .ok()?
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_nanos();
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stat {
        len: meta.len(),
        mtime_nanos,
        inode,
    })
}

pub use crate::store::hex_sha256;
use crate::store::{now_nanos, RACY_NANOS};

impl StatIndex {
    /// The hash of `path`'s bytes: from the index when its stat is
    /// unchanged and old enough to trust, else read and hashed.
    pub fn hash(&self, path: &Path) -> Hashed {
        let now = now_nanos();
        let stat = stat_of(path);
        if let (Some(stat), Some(known)) = (stat, self.files.get(path.as_os_str())) {
            if known.stat == stat && stat.mtime_nanos + RACY_NANOS < known.hashed_at {
                return Hashed {
                    path: path.to_path_buf(),
                    hash: Some(known.hash.clone()),
                    from_index: true,
                    stat: Some(stat),
                    hashed_at: known.hashed_at,
                };
            }
        }
        let hash = match stat {
            // Refused unread by the check too (LK002); its stat stands
            // for its content.
            Some(s) if s.len > crate::check::MAX_FILE_BYTES => Some(hex_sha256(
                format!("large {} {}", s.len, s.mtime_nanos).as_bytes(),
            )),
            Some(_) => std::fs::read(path).ok().map(|b| hex_sha256(&b)),
            None => None,
        };
        Hashed {
            path: path.to_path_buf(),
            hash,
            from_index: false,
            stat,
            hashed_at: now,
        }
    }

    /// Hashes of all `paths`, in parallel and in order.
    pub fn hash_all(&self, paths: &[PathBuf]) -> Vec<Hashed> {
        paths.par_iter().map(|p| self.hash(p)).collect()
    }

    /// Whether every file is as it was when hashed: a file that changed
    /// while the run read it may have been analysed in its new state, and
    /// such a run is not remembered under the old state's key.
    pub fn unchanged_since(hashed: &[Hashed]) -> bool {
        hashed.par_iter().all(|h| stat_of(&h.path) == h.stat)
    }

    /// The index after a run that hashed `hashed`: their stats replace
    /// what was known of them, the rest is kept.
    pub fn updated(mut self, hashed: &[Hashed]) -> StatIndex {
        for h in hashed {
            match (&h.hash, h.stat) {
                (Some(hash), Some(stat)) => {
                    self.files.insert(
                        h.path.clone().into_os_string(),
                        Indexed {
                            stat,
                            hash: hash.clone(),
                            hashed_at: h.hashed_at,
                        },
                    );
                }
                _ => {
                    self.files.remove(h.path.as_os_str());
                }
            }
        }
        self
    }

    /// A header line, then one line per file: `hash len mtime inode
    /// hashed-at path`. Paths with a line break are left out (they are
    /// then hashed on every run).
    fn to_text(&self) -> String {
        let mut out = String::from("leaklint-index-2\n");
        let mut files: Vec<_> = self.files.iter().collect();
        files.sort_by(|a, b| a.0.cmp(b.0));
        for (path, i) in files {
            let path = Path::new(path);
            let Some(p) = path.to_str().filter(|p| !p.contains(['\n', '\r'])) else {
                continue;
            };
            out.push_str(&format!(
                "{} {} {} {} {} {p}\n",
                i.hash, i.stat.len, i.stat.mtime_nanos, i.stat.inode, i.hashed_at
            ));
        }
        out
    }

    /// The index stored at `path`, or an empty one when it is missing or
    /// damaged.
    fn read(path: &Path) -> StatIndex {
        std::fs::read_to_string(path)
            .ok()
            .and_then(|t| StatIndex::from_text(&t))
            .unwrap_or_default()
    }

    fn from_text(text: &str) -> Option<StatIndex> {
        let mut lines = text.lines();
        if lines.next()? != "leaklint-index-2" {
            return None;
        }
        let mut files = foldhash::HashMap::default();
        for line in lines {
            let mut parts = line.splitn(6, ' ');
            let (hash, len, mtime, inode, hashed_at, path) = (
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
                parts.next()?,
            );
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            files.insert(
                std::ffi::OsString::from(path),
                Indexed {
                    stat: Stat {
                        len: len.parse().ok()?,
                        mtime_nanos: mtime.parse().ok()?,
                        inode: inode.parse().ok()?,
                    },
                    hash: hash.to_string(),
                    hashed_at: hashed_at.parse().ok()?,
                },
            );
        }
        Some(StatIndex { files })
    }
}

/// A finding as stored: the rule by its code, spans as byte offsets.
#[derive(Debug, Serialize, Deserialize)]
struct StoredFinding {
    code: String,
    error: bool,
    message: String,
    span: (usize, usize),
    labels: Vec<(usize, usize, String)>,
    help: String,
    fix: Option<StoredFix>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredFix {
    applicability: String,
    message: String,
    edits: Vec<(usize, usize, String)>,
}

/// A run entry: the findings of each reported file that has any, by the
/// path it was named with (the key fixes which files were reported, so
/// a file not listed had none).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct StoredRun {
    files: Vec<(PathBuf, Vec<StoredFinding>)>,
}

fn store_finding(f: &Finding) -> StoredFinding {
    StoredFinding {
        code: f.code.to_string(),
        error: f.severity == Severity::Error,
        message: f.message.clone(),
        span: (f.span.start, f.span.end),
        labels: f
            .labels
            .iter()
            .map(|l| (l.span.start, l.span.end, l.message.clone()))
            .collect(),
        help: f.help.clone(),
        fix: f.fix.as_ref().map(|fix| StoredFix {
            applicability: fix.applicability.as_str().to_string(),
            message: fix.message.clone(),
            edits: fix
                .edits
                .iter()
                .map(|e| (e.span.start, e.span.end, e.content.clone()))
                .collect(),
        }),
    }
}

fn span(start: usize, end: usize) -> Option<Span> {
    (start <= end).then_some(Span { start, end })
}

/// Stored `(start, end, text)` triples made into `make(span, text)`;
/// `None` if a span is reversed.
fn spanned<T>(
    stored: Vec<(usize, usize, String)>,
    make: impl Fn(Span, String) -> T,
) -> Option<Vec<T>> {
    stored
        .into_iter()
        .map(|(a, b, text)| Some(make(span(a, b)?, text)))
        .collect()
}

/// `None` when the entry names a rule this build does not have, or holds
/// what no finding could: such an entry is treated as missing.
fn restore_finding(s: StoredFinding) -> Option<Finding> {
    let rule = crate::rules::by_code(&s.code)?;
    let applicability = |a: &str| {
        [
            Applicability::Safe,
            Applicability::Unsafe,
            Applicability::DisplayOnly,
        ]
        .into_iter()
        .find(|x| x.as_str() == a)
    };
    let fix = match s.fix {
        None => None,
        Some(f) => Some(Fix {
            applicability: applicability(&f.applicability)?,
            message: f.message,
            edits: spanned(f.edits, |span, content| Edit { span, content })?,
        }),
    };
    Some(Finding {
        code: rule.code,
        name: rule.name,
        severity: if s.error {
            Severity::Error
        } else {
            Severity::Warning
        },
        message: s.message,
        span: span(s.span.0, s.span.1)?,
        labels: spanned(s.labels, |span, message| Label { span, message })?,
        help: s.help,
        fix,
    })
}

impl StoredRun {
    pub fn new<'a>(files: impl IntoIterator<Item = (&'a Path, &'a [Finding])>) -> StoredRun {
        StoredRun {
            files: files
                .into_iter()
                .filter(|(_, f)| !f.is_empty())
                .map(|(p, f)| (p.to_path_buf(), f.iter().map(store_finding).collect()))
                .collect(),
        }
    }

    /// Path -> findings; `None` if any finding cannot be restored.
    pub fn restore(self) -> Option<HashMap<PathBuf, Vec<Finding>>> {
        self.files
            .into_iter()
            .map(|(p, fs)| {
                let restored = fs.into_iter().map(restore_finding).collect::<Option<_>>()?;
                Some((p, restored))
            })
            .collect()
    }
}

/// A Python file's pass as stored: what `python_pass` returned.
#[derive(Debug, Serialize, Deserialize)]
struct StoredPass {
    module: String,
    summaries: Vec<(String, crate::python::context::FnSummary)>,
    deps: crate::python::context::Dependencies,
    findings: Vec<StoredFinding>,
}

/// Remembered Python passes: `python_pass` is a function of the file's
/// bytes, its path, its settings and the answers the project's summaries
/// gave to the questions it asked (`deps`), so a stored pass whose every
/// answer still holds is the pass, without parsing. A file keeps a few
/// such variants (the fixpoint's first round asks an empty project, its
/// last the whole one): editing one file re-analyses only it and the
/// files whose answers it changes.
pub struct PassMemo {
    dir: PathBuf,
    build: String,
}

/// Variants kept per file key.
const MAX_VARIANTS: usize = 4;

impl PassMemo {
    pub fn new(cache: &Cache) -> PassMemo {
        PassMemo {
            dir: cache.dir.join("passes"),
            build: build_identity(),
        }
    }

    /// The key of a file's passes.
    pub fn key(&self, path: &Path, settings: &str, flags: &str, text: &str) -> String {
        let mut h = Sha256::new();
        let absolute = crate::source::absolute(path);
        for part in [
            "leaklint-pass-1",
            self.build.as_str(),
            path.to_string_lossy().as_ref(),
            absolute.to_string_lossy().as_ref(),
            settings,
            flags,
            text,
        ] {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        hex_sha256(&h.finalize())
    }

    fn stored(&self, key: &str) -> Vec<StoredPass> {
        std::fs::read(self.dir.join(format!("{key}.json")))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// A stored pass for `key` whose answers `holds` accepts.
    pub fn find(
        &self,
        key: &str,
        holds: impl Fn(&crate::python::context::Dependencies) -> bool,
    ) -> Option<crate::check::PythonPass> {
        let s = self.stored(key).into_iter().find(|s| holds(&s.deps))?;
        Some(crate::check::PythonPass {
            module: s.module,
            summaries: s.summaries,
            deps: s.deps,
            findings: s
                .findings
                .into_iter()
                .map(restore_finding)
                .collect::<Option<_>>()?,
        })
    }

    /// Keeps the passes of about `files` files (a few versions each),
    /// removing the oldest: edited files leave their old versions behind.
    pub fn prune(&self, files: usize) {
        prune_to(&self.dir, 2 * files + 256);
    }

    /// Stores a pass computed this run, newest first, beside the
    /// variants kept (written at once: holding every pass of a large
    /// project until the end would cost its memory). Errors cost the next
    /// run its speed only.
    pub fn remember(&self, key: &str, pass: &crate::check::PythonPass) {
        if std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let mut variants = vec![StoredPass {
            module: pass.module.clone(),
            summaries: pass.summaries.clone(),
            deps: pass.deps.clone(),
            findings: pass.findings.iter().map(store_finding).collect(),
        }];
        for old in self.stored(key) {
            if !variants.iter().any(|v| v.deps == old.deps) {
                variants.push(old);
            }
        }
        variants.truncate(MAX_VARIANTS);
        if let Ok(json) = serde_json::to_vec(&variants) {
            let _ = write_atomically(&self.dir.join(format!("{key}.json")), &json);
        }
    }
}

/// What makes this build's findings what they are: its version and the
/// executable itself (the built-in rules are compiled into it).
fn build_identity() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| stat_of(&p))
        .map_or_else(String::new, |s| format!("{} {}", s.len, s.mtime_nanos));
    format!("{} {exe}", env!("CARGO_PKG_VERSION"))
}

/// Builds a run key from the run's inputs, in order.
pub struct KeyBuilder(Sha256);

impl KeyBuilder {
    pub fn new(options: &str) -> KeyBuilder {
        let mut h = Sha256::new();
        for part in ["leaklint-run-1", &build_identity(), options] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        KeyBuilder(h)
    }

    /// One file: how it is named, whether it is reported, its settings,
    /// and its content's hash.
    pub fn file(&mut self, path: &Path, reported: bool, settings: &str, hash: Option<&str>) {
        let absolute = crate::source::absolute(path);
        for part in [
            path.to_string_lossy().as_ref(),
            absolute.to_string_lossy().as_ref(),
            if reported { "target" } else { "project" },
            settings,
            hash.unwrap_or("unreadable"),
        ] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part.as_bytes());
        }
    }

    pub fn finish(self) -> String {
        hex_sha256(&self.0.finalize())
    }
}

impl Cache {
    pub fn at(dir: PathBuf) -> Cache {
        Cache {
            dir,
            prefetched: Default::default(),
        }
    }

    /// Starts reading the stat index while the caller walks the tree: the
    /// two are the largest parts of a warm run, and neither needs the
    /// other. [`Cache::index`] takes the result.
    pub fn prefetch_index(&self) {
        let path = self.index_path();
        let read = std::thread::Builder::new()
            .name("leaklint-index".into())
            .spawn(move || StatIndex::read(&path));
        if let Ok(handle) = read {
            *self.prefetched.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn index_path(&self) -> PathBuf {
        self.dir.join("index")
    }

    fn run_path(&self, key: &str) -> PathBuf {
        self.dir.join("runs").join(format!("{key}.json"))
    }

    /// The stat index, or an empty one when it is missing or damaged.
    pub fn index(&self) -> StatIndex {
        let prefetched = self
            .prefetched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        match prefetched.map(std::thread::JoinHandle::join) {
            Some(Ok(index)) => index,
            _ => StatIndex::read(&self.index_path()),
        }
    }

    pub fn run(&self, key: &str) -> Option<StoredRun> {
        let bytes = std::fs::read(self.run_path(key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Saves the run and the index. A cache that cannot be written costs
    /// the next run its speed, never its findings: errors are dropped.
    pub fn save(&self, key: &str, run: &StoredRun, index: &StatIndex) {
        let _ = self.try_save(key, run, index);
    }

    fn try_save(&self, key: &str, run: &StoredRun, index: &StatIndex) -> std::io::Result<()> {
        let runs = self.dir.join("runs");
        std::fs::create_dir_all(&runs)?;
        let ignore = self.dir.join(".gitignore");
        if !ignore.exists() {
            write_atomically(&ignore, b"# Created by leaklint.\n*\n")?;
            write_atomically(
                &self.dir.join("CACHEDIR.TAG"),
                b"Signature: 8a477f597d28d172789f06886806bc55\n# This is leaklint's cache; see https://bford.info/cachedir/\n",
            )?;
        }
        let json = serde_json::to_vec(run).map_err(std::io::Error::other)?;
        write_atomically(&self.run_path(key), &json)?;
        write_atomically(&self.index_path(), index.to_text().as_bytes())?;
        prune(&runs);
        Ok(())
    }
}

/// Cache entries need no sync: a lost one is a miss.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    crate::store::write_via_temp(path, bytes, |_| Ok(()))
}

/// Removes the oldest run entries beyond [`MAX_RUNS`].
fn prune(runs: &Path) {
    prune_to(runs, MAX_RUNS);
}

/// Removes the oldest `.json` entries of `dir` beyond `keep`.
fn prune_to(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    if found.len() <= keep {
        return;
    }
    found.sort();
    for (_, path) in &found[..found.len() - keep] {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_survives_a_round_trip_and_refuses_damage() {
        let mut index = StatIndex::default();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a b.py");
        std::fs::write(&file, "x = 1\n").unwrap();
        let hashed = index.hash_all(std::slice::from_ref(&file));
        assert!(!hashed[0].from_index);
        index = index.updated(&hashed);
        let text = index.to_text();
        let back = StatIndex::from_text(&text).unwrap();
        assert_eq!(
            back.files[file.as_os_str()].hash,
            hashed[0].hash.clone().unwrap()
        );
        assert!(StatIndex::from_text("garbage").is_none());
        assert!(StatIndex::from_text(&text.replace(' ', "")).is_none());
    }

    #[test]
    fn a_young_stat_is_not_trusted_and_an_old_one_is() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.py");
        std::fs::write(&file, "x = 1\n").unwrap();
        let index = StatIndex::default()
            .updated(&StatIndex::default().hash_all(std::slice::from_ref(&file)));
        // Hashed just now: the file may still change within its mtime.
        assert!(!index.hash(&file).from_index);
        let mut aged = index;
        for i in aged.files.values_mut() {
            i.hashed_at += 10 * RACY_NANOS;
        }
        assert!(aged.hash(&file).from_index);
        // A changed size is seen whatever the times say.
        std::fs::write(&file, "x = 12\n").unwrap();
        let fresh = aged.hash(&file);
        assert!(!fresh.from_index);
        assert_eq!(fresh.hash.unwrap(), hex_sha256(b"x = 12\n"));
    }

    #[test]
    fn pruning_keeps_the_newest_entries() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..5 {
            let path = dir.path().join(format!("{i}.json"));
            std::fs::write(&path, "[]").unwrap();
            let t = UNIX_EPOCH + std::time::Duration::from_secs(1_000 + i);
            std::fs::File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(t)
                .unwrap();
        }
        std::fs::write(dir.path().join("index"), "").unwrap();
        prune_to(dir.path(), 2);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        assert_eq!(left, ["3.json", "4.json", "index"]);
    }

    #[test]
    fn findings_are_restored_as_they_were_stored() {
        let rule = crate::rules::all()[0];
        let finding = Finding {
            code: rule.code,
            name: rule.name,
            severity: Severity::Warning,
            message: "m".into(),
            span: Span { start: 1, end: 4 },
            labels: vec![Label {
                span: Span { start: 2, end: 3 },
                message: "l".into(),
            }],
            help: "h".into(),
            fix: Some(Fix {
                applicability: Applicability::Unsafe,
                message: "f".into(),
                edits: vec![Edit {
                    span: Span { start: 0, end: 0 },
                    content: "c".into(),
                }],
            }),
        };
        let path = Path::new("a.py");
        let stored = StoredRun::new([(path, std::slice::from_ref(&finding))]);
        let json = serde_json::to_string(&stored).unwrap();
        let back: StoredRun = serde_json::from_str(&json).unwrap();
        assert_eq!(back.restore().unwrap()[path], vec![finding]);
        let unknown = json.replace(rule.code, "LK999");
        let back: StoredRun = serde_json::from_str(&unknown).unwrap();
        assert!(back.restore().is_none());
    }
}
