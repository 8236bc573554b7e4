//! Runs the engine over every function of a Python file and turns the
//! results into project summaries (first pass) or leak reports (second).

use std::path::Path;

use super::context::{FileContext, FnSummary};
use super::lower::{GenMode, Lowered};
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

/// The library modules whose calls acquire resources, down to two
/// segments: `http.client` rather than `http` (which every `HTTPStatus`
/// import would match), `sqlalchemy.orm`, `sqlite3`; and the names a file
/// must write to acquire one (the acquiring calls' and the resource types'
/// last names): each set with one automaton that finds it in a file's
/// bytes in a single pass.
#[derive(Debug, Clone)]
pub struct LibraryModules {
    pub names: Vec<String>,
    matcher: Option<aho_corasick::AhoCorasick>,
    acquiring: Option<aho_corasick::AhoCorasick>,
}

fn last_name(dotted: &str) -> &str {
    dotted.rsplit('.').next().unwrap_or(dotted)
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
        // A value can hold a resource only if it was acquired here (a
        // call), or typed as one (an annotation, `isinstance`): a method
        // acquisition (`engine.connect()`) needs its receiver's type, so
        // one of these names, or a project helper's (the project's words);
        // or the file releases one it is given (a release's name).
        let mut words: Vec<&str> = resources
            .specs
            .iter()
            .flat_map(|s| {
                let calls = s
                    .acquire
                    .iter()
                    .flat_map(|a| a.call.as_deref().into_iter().chain(a.on.as_deref()));
                // A releaser (`def close_conn(c): c.close()`) is a
                // summary its callers need, though it acquires nothing.
                let releases = s
                    .release
                    .iter()
                    .flat_map(|r| r.method.as_deref().into_iter().chain(r.call.as_deref()));
                calls
                    .chain(releases)
                    .chain(std::iter::once(s.type_name.as_str()))
                    .chain(s.aliases.iter().map(String::as_str))
                    .map(last_name)
            })
            .filter(|w| {
                !w.is_empty()
                    && w.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80)
            })
            .collect();
        words.sort();
        words.dedup();
        let acquiring = whole_name_matcher(words.iter().copied());
        LibraryModules {
            names,
            matcher,
            acquiring,
        }
    }

    /// A byte-level test run before parsing, so that files that cannot
    /// matter are never parsed: a known module, as a whole dotted name, on
    /// an `import`/`from` line, and one of its acquiring calls' or
    /// resource types' names anywhere.
    pub fn imported_by(&self, text: &str) -> bool {
        let Some(matcher) = &self.matcher else {
            return false;
        };
        let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
        let imports = matcher.find_overlapping_iter(text).any(|m| {
            let before = text[..m.start()].chars().next_back();
            let after = text[m.end()..].chars().next();
            if before.is_some_and(is_name) || after.is_some_and(|c| c.is_alphanumeric() || c == '_')
            {
                return false;
            }
            let line_start = text[..m.start()].rfind('\n').map_or(0, |p| p + 1);
            let line = text[line_start..].trim_start();
            line.starts_with("import ") || line.starts_with("from ")
        });
        imports && self.names_an_acquisition(text)
    }

    fn names_an_acquisition(&self, text: &str) -> bool {
        let Some(words) = &self.acquiring else {
            return false;
        };
        whole_names(words, text).next().is_some()
    }
}

/// An automaton for patterns that are names (letters, digits, `_`),
/// searched for as whole names. Leftmost-longest, non-overlapping search
/// misses none of them: a whole name that starts inside a longer hit, or
/// that is a shorter pattern at the same start, would need a non-name
/// byte inside that hit. It is several times faster than overlapping
/// search, and it runs over every file of the project.
pub fn whole_name_matcher<'p>(
    patterns: impl IntoIterator<Item = &'p str>,
) -> Option<aho_corasick::AhoCorasick> {
    aho_corasick::AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(patterns)
        .ok()
}

/// The hits of a [`whole_name_matcher`] automaton in `text` that are
/// whole names: no letter, digit, `_` or non-ASCII byte just before or
/// after.
pub fn whole_names<'t>(
    matcher: &'t aho_corasick::AhoCorasick,
    text: &'t str,
) -> impl Iterator<Item = aho_corasick::Match> + 't {
    let bytes = text.as_bytes();
    let is_name = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
    matcher.find_iter(text).filter(move |hit| {
        let before = hit.start().checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(hit.end()).copied();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    })
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
            // One type on every path: a helper that returns an engine or
            // an async engine depending on a flag tells its caller neither
            // (an `await` or a plain call to release it would be a guess).
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
        let returns_mixed = returns.as_ref().is_some_and(|t| {
            o.returned
                .iter()
                .filter(|s| !o.stored.contains(s))
                .any(|&s| &l.function.sites[s].type_name != t)
        });
        let summary = FnSummary {
            returns_mixed,
            released_elsewhere: false,
            returns_tuple,
            returns_call_of: if cached { None } else { l.returns_call_of },
            returns,
            releases_params: l.releases_params.clone(),
            dependency_generator,
            returns_awaited: info.is_async,
            value_type: None,
            owner: None,
            wanted: false,
            plain_class: false,
        };
        if summary != FnSummary::default() {
            out.push((info.qualified_name.clone(), summary));
        }
        out.extend(crate::python::wanted_callees::wanted(l.wants.clone()));
    }
    out
}

/// Summaries of the module-level engines and factories, for the modules
/// that import them.
pub fn global_summaries(ctx: &FileContext) -> Vec<(String, FnSummary)> {
    let mut out: Vec<(String, FnSummary)> = ctx
        .globals
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
        .collect();
    // Keyed apart from the name's own summary, which its module writes.
    for name in released_imported_names(ctx) {
        let key = format!("{name}#released");
        if !out.iter().any(|(k, _)| *k == key) {
            out.push((
                key,
                FnSummary {
                    released_elsewhere: true,
                    ..FnSummary::default()
                },
            ));
        }
    }
    out
}

/// Names of other project modules that this file releases through its
/// imports (`await deps.client.aclose()`, `await
/// RedisServices._RedisServices__POOL.aclose()`), qualified, with a
/// mangled class-private name as its class spells it (`__POOL`).
fn released_imported_names(ctx: &FileContext) -> Vec<String> {
    let mut out = Vec::new();
    crate::python::preorder(ctx.module.tree.root_node(), |n| {
        if n.kind() != "call" {
            return true;
        }
        let Some(f) = n
            .child_by_field_name("function")
            .filter(|f| f.kind() == "attribute")
        else {
            return true;
        };
        let releases = f
            .child_by_field_name("attribute")
            .is_some_and(|m| ctx.resources.is_release_method(ctx.text(m)));
        let object = f.child_by_field_name("object");
        if let (true, Some(o)) = (releases, object) {
            if let Some(q) = ctx.module.imports.resolve(o, ctx.module.text) {
                if !q.starts_with(&format!("{}.", ctx.module_name)) {
                    out.push(unmangled(&q));
                }
            }
        }
        true
    });
    out.sort();
    out.dedup();
    out
}

/// `pkg.Class._Class__x` as the class writes it: `pkg.Class.__x`.
fn unmangled(q: &str) -> String {
    let parts: Vec<&str> = q.split('.').collect();
    if let [head @ .., class, last] = parts.as_slice() {
        if let Some(rest) = last.strip_prefix(&format!("_{class}")) {
            if rest.starts_with("__") {
                let mut out: Vec<&str> = head.to_vec();
                out.push(class);
                out.push(rest);
                return out.join(".");
            }
        }
    }
    q.to_string()
}
