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

/// The top-level library modules whose calls acquire resources
/// (`sqlite3`, `sqlalchemy`).
pub fn library_roots(resources: &ResourceTable) -> Vec<String> {
    let mut roots: Vec<String> = resources
        .specs
        .iter()
        .flat_map(|s| s.acquire.iter())
        .filter_map(|a| a.call.as_deref())
        .filter_map(|c| c.split('.').next())
        .map(str::to_string)
        .collect();
    roots.sort();
    roots.dedup();
    roots
}

/// A byte-level test run before parsing, so that files that cannot matter
/// are never parsed twice: a known library on an `import`/`from` line.
pub fn imports_a_library(text: &str, roots: &[String]) -> bool {
    roots.iter().any(|m| imports_word(text, m))
}

/// After parsing: whether the module imports a resource library or a
/// project module with summaries, or is one of those modules itself.
pub fn worth_lowering(
    module: &PyModule,
    name: &str,
    roots: &[String],
    summaries: &Summaries,
) -> bool {
    if roots.iter().any(|r| module.imports.imports_module(r)) {
        return true;
    }
    summaries.keys().any(|q| {
        let owner = q.rsplit_once('.').map_or("", |(m, _)| m);
        owner == name
            || owner.starts_with(&format!("{name}."))
            || module.imports.imports_module(owner)
    })
}

/// Whether `module` occurs on a line that starts with `import` or `from`.
fn imports_word(text: &str, module: &str) -> bool {
    let is_name = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(module).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + module.len()..].chars().next();
        if before.is_some_and(is_name) || after.is_some_and(is_name) {
            return false;
        }
        let line_start = text[..i].rfind('\n').map_or(0, |p| p + 1);
        let line = text[line_start..].trim_start();
        line.starts_with("import ") || line.starts_with("from ")
    })
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
        // A cached function (`@lru_cache`, `@cache`) returns the same
        // shared instance every time: its callers do not own it.
        let cached = l
            .decorators
            .iter()
            .any(|d| d.contains("cache") || d.contains("singleton") || d.ends_with("property"));
        let returns = match l.gen {
            // Stored somewhere on another path (a registry that disposes it):
            // a caller of this function does not own what it gets.
            GenMode::NotGenerator if !cached => o
                .returned
                .iter()
                .find(|s| !o.stored.contains(s))
                .map(|&s| l.function.sites[s].type_name.clone()),
            _ => None,
        };
        let dependency_generator = matches!(l.gen, GenMode::Loan { .. })
            && !l.is_fixture
            && (l.yields_scoped || l.yielded.iter().any(|s| o.released.contains(s)));
        let summary = FnSummary {
            returns,
            releases_params: l.releases_params.clone(),
            dependency_generator,
            returns_awaited: l.is_async,
            value_type: None,
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
    let mut out = summarise(&analyse_module(&ctx));
    // Module-level engines and factories, for the modules that import them.
    for (global, type_name) in &ctx.globals {
        out.push((
            format!("{}.{global}", ctx.module_name),
            FnSummary {
                value_type: Some(type_name.clone()),
                ..FnSummary::default()
            },
        ));
    }
    out
}
