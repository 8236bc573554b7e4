//! Runs the engine over every function of a Python file and turns the
//! results into project summaries (first pass) or leak reports (second).

use std::path::Path;

use super::context::{module_name, FileContext, FnSummary, Summaries};
use super::lower::{lower_file, GenMode, Lowered};
use super::PyModule;
use crate::analysis::{analyse, Outcome};
use crate::resources::ResourceTable;

/// The package a module's relative imports are relative to.
pub fn package_of(path: &Path, module: &str) -> String {
    if path.file_stem().is_some_and(|s| s == "__init__") {
        module.to_string()
    } else {
        module
            .rsplit_once('.')
            .map(|(p, _)| p.to_string())
            .unwrap_or_default()
    }
}

/// Parses `text` as the module at `path`, with relative imports anchored.
pub fn parse_module<'a>(path: &Path, text: &'a str) -> (PyModule<'a>, String) {
    let mut module = PyModule::parse(text);
    let name = module_name(path);
    module.imports.anchor(&package_of(path, &name));
    (module, name)
}

/// Whether a file can matter to the engine at all: it mentions a module
/// that `rules/` or the user's resources know, or a project factory. A
/// byte search, so that files that cannot matter are never lowered.
pub fn worth_analysing(text: &str, words: &[String]) -> bool {
    words.iter().any(|w| text.contains(w.as_str()))
}

/// The words [`worth_analysing`] looks for.
pub fn interesting_words(resources: &ResourceTable, summaries: &Summaries) -> Vec<String> {
    let mut words: Vec<String> = resources
        .specs
        .iter()
        .flat_map(|s| s.acquire.iter())
        .filter_map(|a| a.call.as_deref())
        .filter_map(|c| c.split('.').next())
        .map(str::to_string)
        .collect();
    words.extend(
        summaries
            .iter()
            .filter(|(_, s)| {
                s.returns.is_some() || s.dependency_generator || !s.releases_params.is_empty()
            })
            .filter_map(|(q, _)| q.rsplit('.').next().map(str::to_string)),
    );
    words.sort();
    words.dedup();
    words
}

/// Every function of the module, lowered and analysed.
pub fn analyse_module(ctx: &FileContext) -> Vec<(Lowered, Outcome)> {
    lower_file(ctx)
        .into_iter()
        .map(|l| {
            let outcome = analyse(&l.function);
            (l, outcome)
        })
        .collect()
}

/// What callers in other files need to know about these functions.
pub fn summarise(results: &[(Lowered, Outcome)]) -> Vec<(String, FnSummary)> {
    let mut out = Vec::new();
    for (l, o) in results {
        let returns = match l.gen {
            GenMode::NotGenerator => o
                .returned
                .first()
                .map(|&s| l.function.sites[s].type_name.clone()),
            _ => None,
        };
        let dependency_generator = matches!(l.gen, GenMode::Loan { .. })
            && !l.is_fixture
            && l.yielded.iter().any(|s| o.released.contains(s));
        let summary = FnSummary {
            returns,
            releases_params: l.releases_params.clone(),
            dependency_generator,
        };
        if summary != FnSummary::default() {
            out.push((l.qualified_name.clone(), summary));
        }
    }
    out
}

/// Summaries of one file, for the project-wide first pass.
pub fn summarise_file(
    path: &Path,
    text: &str,
    resources: &ResourceTable,
    known: &Summaries,
) -> Vec<(String, FnSummary)> {
    let (module, name) = parse_module(path, text);
    let ctx = FileContext::new(&module, resources, known, name);
    summarise(&analyse_module(&ctx))
}
