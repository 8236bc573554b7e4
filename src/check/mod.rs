//! The pipeline, from files to findings: the one entry that the command
//! line, the tests and any later caller (a language server, a cache) use.
//!
//! [`run`] reads every target, makes the first pass over the project
//! (summaries of its functions and types), then checks each file in
//! parallel (parse, rule contexts, rules, suppressions) and, when asked,
//! fixes it. A panic while checking one file is reported for that file;
//! every other file is still checked. Walking the tree and printing the
//! report are the caller's.

mod cache;
mod file;
mod project;
mod read;
mod words;

use std::panic::{self, AssertUnwindSafe};

use rayon::prelude::*;

use crate::diagnostic::FileFindings;
use crate::discover::Target;
use crate::source::SourceFile;

pub use cache::Cache;
pub use file::{fix_file, has_syntax_error, lint, python_pass, Fixed, PythonPass};
pub use project::{project_of_one, Counts, Project};
pub use read::{decode, io_finding, read_problem, ReadError, MAX_FILE_BYTES};
pub use words::SummaryWords;

/// What to check.
pub struct Targets {
    pub files: Vec<Target>,
    /// The text of the one file in `files`, given on standard input rather
    /// than read from disk (or why it could not be decoded).
    pub stdin: Option<Result<String, ReadError>>,
    /// The other files of the targets' projects: they inform the
    /// summaries and are not reported.
    pub project_files: Vec<Target>,
}

/// How a run goes about its work.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Skip files whose bytes show they cannot matter (`--no-prefilter`
    /// turns this off, to prove that it drops no finding).
    pub prefilter: bool,
    /// Where reports are remembered: an unchanged project's report is
    /// replayed rather than computed (reports only, never fixes).
    pub cache: Option<Cache>,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            prefilter: true,
            cache: None,
        }
    }
}

/// Whether to report findings only, or to fix what can be fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Report,
    /// Apply safe fixes, and unsafe ones too when `unsafe_fixes`.
    Fix {
        unsafe_fixes: bool,
    },
}

/// One file's outcome.
pub struct Checked {
    /// The findings, with the text they point into (the fixed text when
    /// fixes changed it).
    pub findings: FileFindings,
    /// The fixed text, when fixing changed it.
    pub fixed: Option<String>,
    pub fixes_applied: usize,
}

/// The outcome of a run.
pub struct Report {
    /// Every file checked, sorted by its displayed path.
    pub files: Vec<Checked>,
    /// Internal errors (a panic while checking a file): the run failed,
    /// but every other file was checked.
    pub errors: Vec<InternalError>,
    /// How much work the run did.
    pub counts: Counts,
}

/// A panic while checking one file.
#[derive(Debug, thiserror::Error)]
#[error("internal error while checking {path}: {message}; the other files were checked. Please report this.")]
pub struct InternalError {
    /// The file, as displayed.
    pub path: String,
    /// What the panic said.
    pub message: String,
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot start worker threads: {0}")]
    Threads(#[from] rayon::ThreadPoolBuildError),
}

/// Checks (and in [`Mode::Fix`] fixes, in memory) every target.
pub fn run(targets: &Targets, mode: Mode, options: &RunOptions) -> Result<Report, RunError> {
    Ok(run_in(&worker_pool()?, targets, mode, options))
}

/// The threads a run checks files on.
pub fn worker_pool() -> Result<rayon::ThreadPool, RunError> {
    Ok(rayon::ThreadPoolBuilder::new()
        // Parsers and analyses recurse over syntax trees; deep (but legal)
        // nesting must not overflow a small default stack.
        .stack_size(64 * 1024 * 1024)
        .build()?)
}

/// [`run`] on threads of the caller's: a caller that checks many texts
/// one after another (a fuzzer, a language server) starts them once.
pub fn run_in(
    pool: &rayon::ThreadPool,
    targets: &Targets,
    mode: Mode,
    options: &RunOptions,
) -> Report {
    // Panics are reported per file below; the default hook would also
    // print a backtrace hint in the middle of the report.
    let previous_hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let units: Vec<project::Unit> = targets
        .files
        .iter()
        .map(|target| project::Unit {
            target,
            reported: true,
            stdin: targets.stdin.as_ref(),
        })
        .chain(targets.project_files.iter().map(|target| project::Unit {
            target,
            reported: false,
            stdin: None,
        }))
        .collect();
    let counts = Counts::default();
    let cached = options
        .cache
        .as_ref()
        .filter(|_| mode == Mode::Report && !matches!(targets.stdin, Some(Err(_))))
        .map(|cache| {
            (
                cache,
                pool.install(|| run_key(cache, &units, options, &counts)),
            )
        });
    if let Some((cache, (key, hashed))) = &cached {
        if let Some(files) = replay(cache, key, targets, hashed) {
            panic::set_hook(previous_hook);
            Counts::bump(&counts.cached);
            counts
                .files
                .store(units.len(), std::sync::atomic::Ordering::Relaxed);
            return Report {
                files,
                errors: Vec::new(),
                counts,
            };
        }
    }
    let memo = options.cache.as_ref().map(cache::PassMemo::new);
    let mut analysed =
        pool.install(|| project::analyse(&units, options.prefilter, &counts, memo.as_ref()));
    if let Some(memo) = &memo {
        memo.prune(units.len());
    }
    let project = &analysed.project;
    let mut done: Vec<Option<(String, Vec<crate::diagnostic::Finding>)>> =
        std::mem::take(&mut analysed.python);
    done.truncate(targets.files.len());
    let turned_away = &analysed.rust_turned_away;
    let results: Vec<Result<Checked, InternalError>> = pool.install(|| {
        targets
            .files
            .par_iter()
            .zip(done.par_iter_mut())
            .zip(turned_away.par_iter())
            // One file per piece, so that no thread waits on another's
            // run of heavy files (see `project::python_fixpoint`).
            .with_max_len(1)
            .map(|((target, done), &turned_away)| {
                panic::catch_unwind(AssertUnwindSafe(|| match &targets.stdin {
                    // Read in the project pass already, and of no concern.
                    _ if turned_away => reported(&target.path, String::new(), Vec::new()),
                    // Analysed in the project pass, from the same parse.
                    _ if mode == Mode::Report && done.is_some() => {
                        let (text, findings) = done.take().unwrap_or_default();
                        reported(&target.path, text, findings)
                    }
                    Some(Ok(text)) => check_target(project, target, Some(text), mode, &counts),
                    Some(Err(message)) => {
                        // Not UTF-8 on standard input.
                        let mut c = check_target(project, target, Some(""), Mode::Report, &counts);
                        c.findings.findings = vec![io_finding(message.to_string())];
                        c
                    }
                    None => check_target(project, target, None, mode, &counts),
                }))
                .map_err(|payload| InternalError {
                    path: crate::source::display_path(&target.path),
                    message: panic_message(&*payload),
                })
            })
            .collect()
    });
    panic::set_hook(previous_hook);
    let mut report = Report {
        files: Vec::new(),
        errors: Vec::new(),
        counts,
    };
    for r in results {
        match r {
            Ok(c) => report.files.push(c),
            Err(message) => report.errors.push(message),
        }
    }
    sort_files(&mut report.files);
    if let Some((cache, (key, hashed))) = cached {
        // A run that failed is not one to replay.
        if report.errors.is_empty() && pool.install(|| cache::StatIndex::unchanged_since(&hashed)) {
            let run = cache::StoredRun::new(
                report
                    .files
                    .iter()
                    .map(|c| (c.findings.source.path.as_path(), &c.findings.findings[..])),
            );
            cache.save(&key, &run, &cache.index().updated(&hashed));
        }
    }
    report
}

fn sort_files(files: &mut [Checked]) {
    files.sort_by(|a, b| {
        a.findings
            .source
            .display_path()
            .cmp(&b.findings.source.display_path())
    });
}

/// The run's key: every input that decides its findings (see
/// [`cache`]), with the hashes that went into it.
fn run_key(
    cache: &Cache,
    units: &[project::Unit],
    options: &RunOptions,
    counts: &Counts,
) -> (String, Vec<cache::Hashed>) {
    let index = cache.index();
    let on_disk: Vec<std::path::PathBuf> = units
        .iter()
        .filter(|u| !(u.reported && u.stdin.is_some()))
        .map(|u| u.target.path.clone())
        .collect();
    let hashed = index.hash_all(&on_disk);
    let read = hashed.iter().filter(|h| !h.from_index).count();
    counts
        .read
        .fetch_add(read, std::sync::atomic::Ordering::Relaxed);
    let mut key = cache::KeyBuilder::new(&format!("prefilter={}", options.prefilter));
    let mut disk = hashed.iter();
    for u in units {
        let hash = match u.stdin {
            Some(Ok(text)) if u.reported => Some(cache::hex_sha256(text.as_bytes())),
            _ => disk.next().and_then(|h| h.hash.clone()),
        };
        key.file(
            &u.target.path,
            u.reported,
            &u.target.settings.fingerprint,
            hash.as_deref(),
        );
    }
    (key.finish(), hashed)
}

/// The report remembered under `key`, with the texts of the files that
/// have findings (reporters show them); `None` if there is none, or it is
/// damaged, or a file with findings is no longer what was hashed.
fn replay(
    cache: &Cache,
    key: &str,
    targets: &Targets,
    hashed: &[cache::Hashed],
) -> Option<Vec<Checked>> {
    let mut found = cache.run(key)?.restore()?;
    let mut files = Vec::with_capacity(targets.files.len());
    for target in &targets.files {
        let findings = found.remove(&target.path).unwrap_or_default();
        // Read as the check reads it: a file it could not read (too
        // large, not UTF-8, gone) was reported with no text, and so is it
        // now; one it read must be the very bytes that were hashed.
        let text = match (&targets.stdin, findings.is_empty()) {
            (_, true) => String::new(),
            (Some(Ok(text)), false) => text.clone(),
            (_, false) => match read_problem(&target.path) {
                Ok(text) => {
                    let expected = hashed.iter().find(|h| h.path == target.path)?;
                    if Some(cache::hex_sha256(text.as_bytes())) != expected.hash {
                        return None;
                    }
                    text
                }
                Err(_) => String::new(),
            },
        };
        let fits = |span: crate::diagnostic::Span| span.end <= text.len();
        if !findings
            .iter()
            .all(|f| fits(f.span) && f.labels.iter().all(|l| fits(l.span)))
        {
            return None;
        }
        files.push(reported(&target.path, text, findings));
    }
    sort_files(&mut files);
    Some(files)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

fn check_target(
    project: &Project,
    target: &Target,
    stdin_text: Option<&str>,
    mode: Mode,
    counts: &Counts,
) -> Checked {
    let text = match stdin_text {
        Some(t) => Ok(t.to_string()),
        None => {
            Counts::bump(&counts.read);
            read_problem(&target.path)
        }
    };
    match text {
        Ok(text) => {
            if target.language == crate::source::Language::Rust {
                // Decided once here: an unadmitted file is neither parsed
                // nor fixed, so it has nothing to report.
                if project.prefilter && !project.admits_rust(&text, &target.settings, &target.path)
                {
                    return reported(&target.path, text, Vec::new());
                }
                Counts::bump(&counts.parsed);
                Counts::bump(&counts.analysed);
                project::debug_note_admitted(&target.path);
            }
            check_text(project, text, target, mode)
        }
        Err(problem) => {
            let finding = io_finding(problem.to_string());
            let findings = if target.settings.rules.contains(finding.code) {
                vec![finding]
            } else {
                Vec::new()
            };
            Checked {
                findings: FileFindings {
                    source: SourceFile::new(&target.path, String::new()),
                    findings,
                },
                fixed: None,
                fixes_applied: 0,
            }
        }
    }
}

/// A file's findings as reported.
fn reported(
    path: &std::path::Path,
    text: String,
    findings: Vec<crate::diagnostic::Finding>,
) -> Checked {
    // Reporters read a file's text only to show its findings; holding
    // every clean file's text until the end would cost the whole tree's
    // size in memory.
    let text = if findings.is_empty() {
        String::new()
    } else {
        text
    };
    Checked {
        findings: FileFindings {
            source: SourceFile::new(path, text),
            findings,
        },
        fixed: None,
        fixes_applied: 0,
    }
}

fn check_text(project: &Project, text: String, target: &Target, mode: Mode) -> Checked {
    let path = &target.path;
    let source = SourceFile::new(path, text);
    let Mode::Fix { unsafe_fixes } = mode else {
        let findings = lint(&source, target.language, &target.settings, project);
        return reported(path, source.text, findings);
    };
    let fixed = fix_file(
        project,
        &source,
        target.language,
        &target.settings,
        unsafe_fixes,
    );
    let changed = fixed.text != source.text;
    let final_source = SourceFile::new(path, fixed.text.clone());
    Checked {
        findings: FileFindings {
            source: if changed { final_source } else { source },
            findings: fixed.remaining,
        },
        fixed: changed.then_some(fixed.text),
        fixes_applied: fixed.fixes_applied,
    }
}
