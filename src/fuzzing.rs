//! Entry points for the fuzz targets in `fuzz/`. Each runs one input
//! through the code the command line runs and panics where leaklint breaks
//! a promise (a lost file, a finding outside the text, a fix that breaks
//! the file or does not settle), so that the fuzzer reports it as a crash.
//! Not part of the supported API.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use crate::check::{self, Mode, Targets};
use crate::config::{self, Options};
use crate::diagnostic::Edit;
use crate::discover::Target;
use crate::fix;
use crate::settings::Settings;
use crate::source::{Language, SourceFile};

/// Every rule selected, as `--select ALL` does.
fn all_rules() -> Arc<Settings> {
    static SETTINGS: OnceLock<Arc<Settings>> = OnceLock::new();
    SETTINGS
        .get_or_init(|| {
            let options = Options {
                select: Some(vec!["ALL".to_string()]),
                ..Options::default()
            };
            Arc::new(Settings::from_options(PathBuf::from("/fuzz"), None, &options).unwrap())
        })
        .clone()
}

fn path_for(language: Language) -> PathBuf {
    PathBuf::from(match language {
        Language::Python => "/fuzz/input.py",
        Language::Rust => "/fuzz/input.rs",
    })
}

/// The checker's worker threads, started once: the fuzzer's main thread
/// has a smaller stack than they do, and a stack overflow there would be
/// the harness's, not leaklint's.
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| check::worker_pool().expect("worker threads"))
}

/// Checks `text` as one file with every rule, as `leaklint check -`
/// would: the file must come back (no internal error) and every finding
/// must point inside it.
pub fn check_text(text: &str, language: Language) {
    let targets = Targets {
        files: vec![Target {
            path: path_for(language),
            language,
            settings: all_rules(),
        }],
        stdin: Some(Ok(text.to_string())),
        project_files: Vec::new(),
    };
    let report = check::run_in(pool(), &targets, Mode::Report, &Default::default());
    assert!(report.errors.is_empty(), "{}", report.errors[0]);
    assert_eq!(report.files.len(), 1, "the file came back");
    let checked = &report.files[0];
    for finding in &checked.findings.findings {
        let span = finding.span;
        assert!(
            span.start <= span.end && span.end <= text.len(),
            "{} at {span:?} is outside the file",
            finding.code
        );
        assert!(
            text.is_char_boundary(span.start) && text.is_char_boundary(span.end),
            "{} at {span:?} splits a character",
            finding.code
        );
    }
}

/// Fixes `text` with every fix, unsafe ones too: a file that parsed must
/// still parse after each round, keep every byte outside the edits, and a
/// second `--fix` must change nothing.
pub fn fix_text(text: &str, language: Language) {
    pool().install(|| fix_text_here(text, language))
}

fn fix_text_here(text: &str, language: Language) {
    if check::has_syntax_error(text, language) {
        return;
    }
    let settings = all_rules();
    let path = path_for(language);
    let project = check::project_of_one(&path, text, language, settings.clone());
    let source = SourceFile::new(&path, text.to_string());
    let findings = check::lint(&source, language, &settings, &project);
    let parses = |t: &str| !check::has_syntax_error(t, language);
    if let Some((edits, _)) = fix::choose_edits(text, &findings, true, &parses) {
        let fixed = fix::apply_edits(text, &edits);
        assert!(parses(&fixed), "a round of fixes broke the file");
        assert_keeps_unedited(text, &fixed, &edits);
    }
    let once = check::fix_file(&project, &source, language, &settings, true);
    assert!(parses(&once.text), "--fix broke the file");
    let again = check::fix_file(
        &project,
        &SourceFile::new(&path, once.text.clone()),
        language,
        &settings,
        true,
    );
    assert_eq!(again.text, once.text, "a second --fix changed the file");
}

/// Every byte of `before` outside the edited spans is in `after`, in order
/// and in place relative to the edits.
fn assert_keeps_unedited(before: &str, after: &str, edits: &[Edit]) {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort();
    let (mut old, mut new) = (0, 0);
    for edit in sorted {
        let kept = &before[old..edit.span.start];
        assert_eq!(
            &after[new..new + kept.len()],
            kept,
            "text outside an edit changed"
        );
        new += kept.len() + edit.content.len();
        old = edit.span.end;
    }
    assert_eq!(
        &after[new..],
        &before[old..],
        "text after the last edit changed"
    );
}

/// Loads `text` as a `leaklint.toml` and as a `pyproject.toml`, and builds
/// settings from what loads: errors are fine, panics are not.
pub fn load_config(text: &str) {
    for pyproject in [false, true] {
        if let Ok(Some(options)) = config::parse_options(text, pyproject, "fuzz.toml") {
            let _ = Settings::from_options(Path::new("/fuzz").to_path_buf(), None, &options);
        }
    }
}
