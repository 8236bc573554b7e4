//! Runs the engine over every function of a Python file and turns the
//! results into project summaries (first pass) or leak reports (second).

use std::collections::HashSet;
use std::path::Path;

use super::context::{module_name, FileContext, FnSummary, Summaries};
use super::lower::{GenMode, Lowered};
use super::PyModule;
use crate::ir::Outcome;
use crate::resources::{ResourceTable, Vocabulary};

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

/// The library modules whose calls acquire resources, down to two
/// segments: `http.client` rather than `http` (which every `HTTPStatus`
/// import would match), `sqlalchemy.orm`, `sqlite3`; with one automaton that
/// finds them all in a file's bytes in a single pass.
#[derive(Debug, Clone)]
pub struct LibraryModules {
    pub names: Vec<String>,
    matcher: Option<aho_corasick::AhoCorasick>,
}

impl LibraryModules {
    pub fn new(resources: &ResourceTable) -> LibraryModules {
        let mut names: Vec<String> = resources
            .specs
            .iter()
            .flat_map(|s| s.acquire.iter())
            .filter_map(|a| a.call.as_deref())
            .filter_map(|c| c.rsplit_once('.').map(|(module, _)| module))
            .map(|m| m.split('.').take(2).collect::<Vec<_>>().join("."))
            .collect();
        names.sort();
        names.dedup();
        let matcher = aho_corasick::AhoCorasick::new(&names).ok();
        LibraryModules { names, matcher }
    }

    /// A byte-level test run before parsing, so that files that cannot
    /// matter are never parsed twice: a known module, as a whole dotted
    /// name, on an `import`/`from` line.
    pub fn imported_by(&self, text: &str) -> bool {
        let Some(matcher) = &self.matcher else {
            return false;
        };
        let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
        matcher.find_overlapping_iter(text).any(|m| {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            if before.is_some_and(is_name) || after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                return false;
            }
            let line_start = text[..m.start()].rfind('\n').map_or(0, |p| p + 1);
            let line = text[line_start..].trim_start();
            line.starts_with("import ") || line.starts_with("from ")
        })
    }
}

/// After parsing: whether the module imports a resource library or a
/// project module with summaries, or is one of those modules itself.
pub fn worth_lowering(
    module: &PyModule,
    name: &str,
    libraries: &LibraryModules,
    summarised: &HashSet<String>,
) -> bool {
    if libraries
        .names
        .iter()
        .any(|r| module.imports.covers_module(r))
    {
        return true;
    }
    // This module, or a module it imports from, has summaries: check the
    // name and each dotted prefix of every import against the set.
    let hit = |path: &str| {
        let mut p = path;
        loop {
            if summarised.contains(p) {
                return true;
            }
            match p.rsplit_once('.') {
                Some((parent, _)) => p = parent,
                None => return false,
            }
        }
    };
    hit(name) || module.imports.targets().any(hit)
}

/// The modules (and classes) that own a summary: `app.db` for
/// `app.db.get_conn`, `app.db.Repo` for `app.db.Repo.session`.
pub fn summarised_modules(summaries: &Summaries) -> HashSet<String> {
    summaries
        .keys()
        .filter_map(|q| q.rsplit_once('.').map(|(m, _)| m.to_string()))
        .collect()
}

/// What callers in other files need to know about these functions.
pub fn summarise(
    results: &[(Lowered, Outcome)],
    vocabulary: &Vocabulary,
) -> Vec<(String, FnSummary)> {
    let mut out = Vec::new();
    for (l, o) in results {
        let info = &l.function.info;
        // A cached function (`@lru_cache`, `@cache`) returns the same
        // shared instance every time: its callers do not own it.
        let cached = info.decorators.iter().any(|d| {
            Vocabulary::within(&vocabulary.caching_decorators, d)
                || Vocabulary::ends(&vocabulary.property_decorators, d)
        });
        let returns = match info.generator {
            // Stored somewhere on another path (a registry that disposes it):
            // a caller of this function does not own what it gets.
            GenMode::Plain if !cached => o
                .returned
                .iter()
                .find(|s| !o.stored.contains(s))
                .map(|&s| l.function.sites[s].type_name.clone()),
            _ => None,
        };
        let dependency_generator = matches!(info.generator, GenMode::Loan { .. })
            && !info.is_fixture
            && (l.yields_scoped || l.yielded.iter().any(|s| o.released.contains(s)));
        // `return conn, cur` with both fresh: positions of returned sites.
        let returns_tuple: Vec<Option<String>> =
            match (info.generator, l.tuple_returns.first(), cached) {
                (GenMode::Plain, Some(names), false) => names
                    .iter()
                    .map(|name| {
                        let name = name.as_deref()?;
                        o.returned
                            .iter()
                            .filter(|s| !o.stored.contains(s))
                            .find(|&&s| l.function.sites[s].var_name == name)
                            .map(|&s| l.function.sites[s].type_name.clone())
                    })
                    .collect(),
                _ => Vec::new(),
            };
        let summary = FnSummary {
            returns_tuple,
            returns,
            releases_params: l.releases_params.clone(),
            dependency_generator,
            returns_awaited: info.is_async,
            value_type: None,
        };
        if summary != FnSummary::default() {
            out.push((info.qualified_name.clone(), summary));
        }
    }
    out
}

/// Summaries of the module-level engines and factories, for the modules
/// that import them.
pub fn global_summaries(ctx: &FileContext) -> Vec<(String, FnSummary)> {
    ctx.globals
        .iter()
        .map(|(global, type_name)| {
            (
                format!("{}.{global}", ctx.module_name),
                FnSummary {
                    value_type: Some(type_name.clone()),
                    ..FnSummary::default()
                },
            )
        })
        .collect()
}
