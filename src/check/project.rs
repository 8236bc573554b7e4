//! The project pass: what the project's own functions and types do with
//! resources, learnt from every file of the project (not only the files
//! being checked), and each file's findings from the same parse.
//!
//! Python runs to a fixpoint. A round analyses each file the prefilter
//! admits whose view of the project (the summaries its names reach,
//! [`SummaryWords::dependencies`]) changed since it was last analysed,
//! then merges every file's summaries. A file whose view did not change
//! keeps its result, so most files are parsed once: only a file that
//! calls another file's helpers is analysed a second time, once those
//! helpers are known. Rust files are summarised first (their facts are
//! per file), then checked.

use std::collections::HashMap;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::file::{admits_python, python_pass, PythonPass};
use super::read::{read_problem, ReadError};
use super::words::SummaryWords;
use crate::discover::Target;
use crate::python::context::{answers_hold, module_name, Summaries};
use crate::rules::RuleLanguage;
use crate::settings::Settings;
use crate::source::{Language, SourceFile};

/// What the project pass learnt about the whole project.
#[derive(Debug, Clone)]
pub struct Project {
    pub python: Summaries,
    /// The names of `python`'s summaries, for the prefilter.
    pub words: SummaryWords,
    /// Type aliases, struct fields and pool-acquiring functions of the
    /// Rust files, for names one file defines and another uses.
    pub rust: crate::rust::project::RustProject,
    /// The names through which a Rust file reaches `rust`'s resources
    /// without writing a crate path (`DbPool`, `Repo`, `load_user`): the
    /// prefilter admits a file that writes one.
    pub rust_words: super::words::ScopedNames,
    /// Each Rust file's project root, the scope of `rust_words`.
    pub rust_roots: HashMap<PathBuf, PathBuf>,
    /// Whether files the byte prefilter turns away are skipped (the
    /// default) or parsed and analysed anyway (`--no-prefilter`).
    pub prefilter: bool,
}

impl Default for Project {
    fn default() -> Project {
        Project::new(Summaries::new(), SummaryWords::default())
    }
}

impl Project {
    /// Whether a Rust file can matter: it names a resource crate (or
    /// declares its own handles), or one of the project's names for them.
    pub fn admits_rust(&self, text: &str, settings: &Settings, path: &Path) -> bool {
        settings.rust_prefilter.admits(text)
            || self
                .rust_words
                .mentioned_in(text, self.rust_roots.get(path).map(PathBuf::as_path))
    }

    /// `words`: `python`'s names (see [`SummaryWords::new`]).
    pub fn new(python: Summaries, words: SummaryWords) -> Project {
        Project {
            words,
            python,
            rust: Default::default(),
            rust_words: Default::default(),
            rust_roots: Default::default(),
            prefilter: true,
        }
    }
}

/// Rounds of the Python fixpoint; helpers nested deeper than this across
/// files are not all known (each round reaches one level further).
const MAX_ROUNDS: usize = 6;

/// One file of the project, and whether it is reported.
pub(crate) struct Unit<'a> {
    pub target: &'a Target,
    /// Reported: named on the command line (or found under a named
    /// directory), not only part of the project.
    pub reported: bool,
    /// The text given on standard input for this file.
    pub stdin: Option<&'a Result<String, ReadError>>,
}

/// How much work a run did: what the bench reports.
#[derive(Debug, Default)]
pub struct Counts {
    /// Files of the projects (reported or not).
    pub files: AtomicUsize,
    /// Files whose bytes were read.
    pub read: AtomicUsize,
    /// Parses (a file analysed again in a later round counts again).
    pub parsed: AtomicUsize,
    /// Files the prefilter admitted.
    pub analysed: AtomicUsize,
    /// Rounds of the Python fixpoint that changed something.
    pub rounds: AtomicUsize,
    /// 1 when the report was replayed from the cache.
    pub cached: AtomicUsize,
    /// Python passes taken from the cache instead of parsing.
    pub remembered: AtomicUsize,
}

impl Counts {
    pub(crate) fn bump(counter: &AtomicUsize) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(counter: &AtomicUsize) -> usize {
        counter.load(Ordering::Relaxed)
    }
}

/// A Python file's state across the rounds.
#[derive(Default)]
struct PyState {
    /// The text, kept once the prefilter has admitted the file.
    text: Option<String>,
    pass: Option<PythonPass>,
    /// Analysing it panicked: the check tries again, and reports it.
    panicked: bool,
}

/// The outcome of the project pass.
pub(crate) struct Analysed {
    pub project: Project,
    /// For each unit: the Python findings computed during the fixpoint
    /// (`None` for Rust files, unreadable files and files the prefilter
    /// turned away), with the text they point into.
    pub python: Vec<Option<(String, Vec<crate::diagnostic::Finding>)>>,
    /// For each unit: a Rust file whose bytes the project pass read and the
    /// prefilter turned away; the check need not read it again.
    pub rust_turned_away: Vec<bool>,
}

fn read_unit(unit: &Unit, counts: &Counts) -> Option<String> {
    Counts::bump(&counts.read);
    match unit.stdin {
        Some(text) => text.as_ref().ok().cloned(),
        None => read_problem(&unit.target.path).ok(),
    }
}

/// The project pass over `units`. A file that cannot be read, or panics
/// here, contributes nothing; the check reports it.
pub(crate) fn analyse(
    units: &[Unit],
    prefilter: bool,
    counts: &Counts,
    memo: Option<&super::cache::PassMemo>,
) -> Analysed {
    counts.files.store(units.len(), Ordering::Relaxed);
    let python_units: Vec<usize> = (0..units.len())
        .filter(|&i| units[i].target.language == Language::Python)
        .collect();
    let mut states: Vec<PyState> = python_units.iter().map(|_| PyState::default()).collect();
    let (known, words) = panic::catch_unwind(AssertUnwindSafe(|| {
        python_fixpoint(units, &python_units, &mut states, prefilter, counts, memo)
    }))
    .unwrap_or_default();
    // With each Rust file, its project's root: the scope of the names
    // its project gives.
    let mut finder = crate::discover::ProjectRoots::default();
    let rust_units: Vec<(usize, &Unit, PathBuf)> = units
        .iter()
        .enumerate()
        .filter(|(_, u)| u.target.language == Language::Rust)
        .map(|(i, u)| {
            let root = finder
                .of_file(&u.target.path, &u.target.settings)
                .unwrap_or_else(|| {
                    let file = crate::source::absolute(&u.target.path);
                    file.parent().map(Path::to_path_buf).unwrap_or(file)
                });
            (i, u, root)
        })
        .collect();
    let mut project = Project::new(known, words);
    project.prefilter = prefilter;
    let mut rust_turned_away = vec![false; units.len()];
    if !rust_units.is_empty() {
        let (facts, names, away) =
            panic::catch_unwind(AssertUnwindSafe(|| rust_facts(&rust_units, counts)))
                .unwrap_or_default();
        project.rust_words = super::words::ScopedNames::new(names);
        project.rust_roots = rust_units
            .iter()
            .map(|(_, u, root)| (u.target.path.clone(), root.clone()))
            .collect();
        project.rust = facts;
        // Turned away by the crates' words alone: final when the file's
        // project gives no names of its own to look for.
        if prefilter {
            for i in away {
                let root = project.rust_roots.get(&units[i].target.path);
                if !project.rust_words.may_name_in(root.map(PathBuf::as_path)) {
                    rust_turned_away[i] = true;
                }
            }
        }
    }
    let mut python: Vec<Option<_>> = (0..units.len()).map(|_| None).collect();
    for (state, &i) in states.into_iter().zip(&python_units) {
        if let (Some(text), Some(pass), false) = (state.text, state.pass, state.panicked) {
            if units[i].reported {
                python[i] = Some((text, pass.findings));
            }
        }
    }
    Analysed {
        project,
        python,
        rust_turned_away,
    }
}

/// A hidden switch for the bench's parse floor (`examples/parse_floor.rs`):
/// with `LEAKLINT_DEBUG_ADMITTED` set, each file the prefilter admits is
/// named on standard error.
pub(crate) fn debug_note_admitted(path: &Path) {
    if std::env::var_os("LEAKLINT_DEBUG_ADMITTED").is_some() {
        eprintln!("leaklint: admitted {}", path.display());
    }
}

/// The Python rounds; returns the project's summaries and their names.
fn python_fixpoint(
    units: &[Unit],
    python_units: &[usize],
    states: &mut [PyState],
    prefilter: bool,
    counts: &Counts,
    memo: Option<&super::cache::PassMemo>,
) -> (Summaries, SummaryWords) {
    let mut known = Summaries::new();
    let mut words = SummaryWords::default();
    // The names that are new this round: a file the prefilter turned
    // away before is read again only to look for these.
    let mut fresh = words.clone();
    for round in 0..MAX_ROUNDS {
        let changed = states
            .par_iter_mut()
            .zip(python_units.par_iter())
            // One file per piece: the files that take long cluster (one
            // library's tree), and a thread left with a long run of them
            // while the other has nothing to take doubled the wall time.
            .with_max_len(1)
            .map(|(state, &i)| {
                let unit = &units[i];
                let settings = &*unit.target.settings;
                if state.text.is_none() {
                    if round > 0 && (fresh.is_empty() || !prefilter) {
                        return false;
                    }
                    let Some(text) = read_unit(unit, counts) else {
                        return false;
                    };
                    // A file turned away before imports no library (that
                    // does not change): only the new names can admit it.
                    let admitted = if round == 0 {
                        admits_python(&text, settings, &fresh)
                    } else {
                        fresh.mentioned_in(&text)
                    };
                    if !admitted && prefilter {
                        return false;
                    }
                    Counts::bump(&counts.analysed);
                    debug_note_admitted(&unit.target.path);
                    state.text = Some(text);
                }
                if state.panicked {
                    return false;
                }
                let text = state.text.as_deref().unwrap_or_default();
                if state
                    .pass
                    .as_ref()
                    .is_some_and(|p| answers_hold(&p.deps, &known))
                {
                    return false;
                }
                let admitted = admits_python(text, settings, &words);
                let key = memo.map(|m| {
                    let flags = format!("{admitted} {}", unit.reported);
                    m.key(&unit.target.path, &settings.fingerprint, &flags, text)
                });
                if let (Some(m), Some(key)) = (memo, &key) {
                    let remembered = m
                        .find(key, |deps| answers_hold(deps, &known))
                        .filter(|p| p.module == module_name(&unit.target.path));
                    if remembered.is_some() {
                        Counts::bump(&counts.remembered);
                        state.pass = remembered;
                        return true;
                    }
                }
                Counts::bump(&counts.parsed);
                let source = SourceFile::new(&unit.target.path, text.to_string());
                let pass = panic::catch_unwind(AssertUnwindSafe(|| {
                    super::file::debug_panic_hook(&source);
                    python_pass(&source, settings, &known, admitted, unit.reported)
                }));
                // A panic is the check's to report; this file's summaries
                // are simply unknown.
                state.panicked = pass.is_err();
                if let (Ok(pass), Some(m), Some(key)) = (&pass, memo, &key) {
                    m.remember(key, pass);
                }
                state.pass = Some(pass.unwrap_or_default());
                true
            })
            .filter(|&c| c)
            .count();
        if changed == 0 {
            break;
        }
        Counts::bump(&counts.rounds);
        let passes = || states.iter().filter_map(|s| s.pass.as_ref());
        let next: Summaries = passes().flat_map(|p| p.summaries.iter().cloned()).collect();
        let modules: HashMap<String, String> = passes()
            .flat_map(|p| {
                p.summaries
                    .iter()
                    .map(|(k, _)| (k.clone(), p.module.clone()))
            })
            .collect();
        // A file that reached no key before can reach only a new one.
        let new_keys: Summaries = next
            .iter()
            .filter(|(k, _)| !known.contains_key(*k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        fresh = SummaryWords::new(&new_keys, &modules);
        words = SummaryWords::new(&next, &modules);
        known = next;
    }
    (known, words)
}

/// What a summarised file's project may use of it: its facts, and the
/// names that reach its resources, each with the project's root.
type RustFacts = (
    crate::rust::project::RustProject,
    Vec<(String, PathBuf)>,
    Vec<usize>,
);

/// The Rust facts of every file that uses a database crate, merged; the
/// names that reach their resources, scoped to their projects; and the
/// units (by index) read here that the crates' words turn away.
fn rust_facts(units: &[(usize, &Unit, PathBuf)], counts: &Counts) -> RustFacts {
    units
        .par_iter()
        .with_max_len(1)
        .filter(|(_, u, _)| u.target.settings.rules.need_project(RuleLanguage::Rust))
        .filter_map(|(i, u, root)| {
            let text = read_unit(u, counts)?;
            let settings: &Settings = &u.target.settings;
            let away = (!settings.rust_prefilter.admits(&text)).then_some(*i);
            let (facts, names) = if settings.rust_prefilter.summarises(&text) {
                Counts::bump(&counts.parsed);
                let source = SourceFile::new(&u.target.path, text);
                let facts = crate::rust::summary::summarise_file(&source, &settings.rust);
                let names: Vec<(String, PathBuf)> = facts
                    .resource_names(|t| settings.rust_prefilter.is_resource_path(t))
                    .into_iter()
                    .map(|n| (n, root.clone()))
                    .collect();
                (facts, names)
            } else {
                Default::default()
            };
            Some((facts, names, away.into_iter().collect::<Vec<_>>()))
        })
        .reduce(
            Default::default,
            |(mut a, mut names, mut away), (b, more, gone)| {
                a.absorb(b);
                names.extend(more);
                away.extend(gone);
                (a, names, away)
            },
        )
}

/// The project of one file alone, as a caller without a project pass
/// (the fuzz targets) would see it.
pub fn project_of_one(
    path: &Path,
    text: &str,
    language: Language,
    settings: std::sync::Arc<Settings>,
) -> Project {
    let target = Target {
        path: path.to_path_buf(),
        language,
        settings,
    };
    let stdin = Ok(text.to_string());
    let units = [Unit {
        target: &target,
        reported: false,
        stdin: Some(&stdin),
    }];
    analyse(&units, true, &Counts::default(), None).project
}
