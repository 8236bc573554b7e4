//! The first pass: what the project's own functions and types do with
//! resources, learnt from every file before any file is checked.

use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use rayon::prelude::*;

use super::read::read_problem;
use super::Targets;
use crate::python;
use crate::python::context::Summaries;
use crate::rules::RuleLanguage;
use crate::settings::Settings;
use crate::source::{Language, SourceFile};

/// What the first pass learnt about the whole project.
#[derive(Debug, Default, Clone)]
pub struct Project {
    pub python: Summaries,
    /// Type aliases, struct fields and pool-acquiring functions of the
    /// Rust files, for names one file defines and another uses.
    pub rust: crate::rust::project::RustProject,
    /// The modules that own a summary, for a quick "does this file
    /// touch the project's resource helpers" test.
    pub python_modules: std::collections::HashSet<String>,
}

impl Project {
    pub fn new(python: Summaries) -> Project {
        let python_modules = crate::python::analyse::summarised_modules(&python);
        Project {
            python,
            python_modules,
            rust: Default::default(),
        }
    }
}

/// The first pass: summaries of the functions in files that import a
/// resource library (see `wanted_by_first_pass`), in two rounds so that
/// helpers built on helpers are known too. `files` are (path, text, settings).
pub fn build_project(files: &[(&Path, &str, &Settings)]) -> Project {
    let admitted: Vec<&(&Path, &str, &Settings)> = files
        .par_iter()
        .filter(|(_, text, settings)| wanted_by_first_pass(text, settings))
        .collect();
    let summarise = |files: &[&(&Path, &str, &Settings)], known: &Summaries| -> Vec<_> {
        files
            .par_iter()
            .flat_map_iter(|(path, text, settings)| {
                summarise_python_file(path, text, &settings.python, known)
            })
            .collect()
    };
    let mut summaries: Summaries = summarise(&admitted, &Summaries::new())
        .into_iter()
        .collect();
    // A second round over the files that call a factory found in the
    // first, so that helpers built on helpers are known too.
    let factories: Vec<String> = summaries
        .iter()
        .filter(|(_, s)| s.returns.is_some() || s.dependency_generator)
        .filter_map(|(q, _)| q.rsplit('.').next().map(|n| format!("{n}(")))
        .collect();
    let callers: Vec<&(&Path, &str, &Settings)> = admitted
        .iter()
        .copied()
        .filter(|(_, text, _)| factories.iter().any(|f| text.contains(f.as_str())))
        .collect();
    if !callers.is_empty() {
        let found = summarise(&callers, &summaries);
        summaries.extend(found);
    }
    Project::new(summaries)
}

/// The Rust part of the first pass: the facts of every file that uses a
/// database crate, merged.
pub fn build_rust_project(files: &[(&Path, &str, &Settings)]) -> crate::rust::project::RustProject {
    files
        .par_iter()
        .map(|(path, text, settings)| {
            let source = SourceFile::new(*path, text.to_string());
            crate::rust::summary::summarise_file(&source, &settings.rust)
        })
        .reduce(Default::default, |mut a, b| {
            a.absorb(b);
            a
        })
}

/// Whether the Rust first pass should summarise a file.
pub fn wanted_by_rust_first_pass(text: &str, settings: &Settings) -> bool {
    settings.rules.need_project(RuleLanguage::Rust) && settings.rust_prefilter.summarises(text)
}

/// Whether the first pass should summarise a file: an enabled rule reads
/// the project's facts and the file imports a library that acquires
/// resources.
pub fn wanted_by_first_pass(text: &str, settings: &Settings) -> bool {
    settings.rules.need_project(RuleLanguage::Python) && settings.python_libraries.imported_by(text)
}

/// The first pass over `targets`. A file that cannot be read or panics
/// here simply contributes nothing; the second pass reports it.
pub(crate) fn first_pass(targets: &Targets) -> Project {
    let stdin_text = targets.stdin.as_ref().and_then(|t| t.as_ref().ok());
    let texts: Vec<Option<String>> = targets
        .files
        .par_iter()
        .map(|t| {
            let text = match stdin_text {
                Some(text) => Some(text.clone()),
                None => read_problem(&t.path).ok(),
            }?;
            // Only the texts the first pass will analyse are kept.
            let wanted = match t.language {
                Language::Python => wanted_by_first_pass(&text, &t.settings),
                Language::Rust => wanted_by_rust_first_pass(&text, &t.settings),
            };
            wanted.then_some(text)
        })
        .collect();
    let files = |language: Language| -> Vec<(&Path, &str, &Settings)> {
        targets
            .files
            .iter()
            .zip(&texts)
            .filter(|(t, _)| t.language == language)
            .filter_map(|(t, text)| {
                text.as_deref()
                    .map(|text| (t.path.as_path(), text, &*t.settings))
            })
            .collect()
    };
    let (python, rust) = (files(Language::Python), files(Language::Rust));
    let mut project =
        panic::catch_unwind(AssertUnwindSafe(|| build_project(&python))).unwrap_or_default();
    if !rust.is_empty() {
        project.rust =
            panic::catch_unwind(AssertUnwindSafe(|| build_rust_project(&rust))).unwrap_or_default();
    }
    project
}

/// The summaries of one Python file: its functions lowered and run
/// through the engine, and its module-level factories.
fn summarise_python_file(
    path: &Path,
    text: &str,
    resources: &crate::resources::ResourceTable,
    known: &Summaries,
) -> Vec<(String, python::context::FnSummary)> {
    let (module, name) = python::analyse::parse_module(path, text);
    // The check reports such files (LK002); the first pass must not run
    // its recursive passes over them either.
    if module.refused_indentation.is_some() || module.too_deep().is_some() {
        return Vec::new();
    }
    let ctx = python::context::FileContext::new(&module, resources, known, name);
    let results: Vec<_> = python::lower_file(&ctx)
        .into_iter()
        .map(|l| {
            let outcome = crate::analysis::analyse(&l.function);
            (l, outcome)
        })
        .collect();
    let mut out = python::analyse::summarise(&results, &resources.vocabulary);
    out.extend(python::analyse::global_summaries(&ctx));
    out
}
