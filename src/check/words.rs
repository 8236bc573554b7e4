//! The project's own names, found in a file's bytes before it is parsed.
//!
//! A Python file's analysis can reach a project summary only through a
//! name written in the file: a call `get_conn()`, a class `Repo(...)`, a
//! method `.session()`, a module-level `SessionLocal`. So one automaton
//! over those names decides, without parsing, whether the project's
//! summaries can matter to a file (the prefilter) and which summaries a
//! file's findings depend on (so a result computed earlier can be kept
//! while they stay the same: the fixpoint and the cache).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use aho_corasick::AhoCorasick;

use crate::python::analyse::whole_names;
use crate::python::context::{FnSummary, Summaries};

/// Names, each given by some projects (by their roots): a file of one of
/// those projects that writes the name as a whole name is admitted. Names
/// stay within their project: a corpus of many crates, each with its own
/// `Client` or `run`, admits no file for another crate's names.
#[derive(Debug, Clone, Default)]
pub struct ScopedNames {
    matcher: Option<AhoCorasick>,
    /// Pattern index -> the roots of the projects that give the name.
    roots: Vec<Vec<std::path::PathBuf>>,
    /// Every root that gives a name: a file of another project cannot
    /// write one of its own project's names, and is not scanned.
    givers: std::collections::HashSet<std::path::PathBuf>,
}

impl ScopedNames {
    pub fn new(names: Vec<(String, std::path::PathBuf)>) -> ScopedNames {
        let mut index: std::collections::BTreeMap<String, Vec<std::path::PathBuf>> =
            Default::default();
        for (name, root) in names {
            let roots = index.entry(name).or_default();
            if !roots.contains(&root) {
                roots.push(root);
            }
        }
        let givers = index.values().flatten().cloned().collect();
        ScopedNames {
            givers,
            matcher: (!index.is_empty())
                .then(|| {
                    crate::python::analyse::whole_name_matcher(index.keys().map(String::as_str))
                })
                .flatten(),
            roots: index.into_values().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// Whether the project at `root` (`None`: not known) may give names:
    /// a file of a project that gives none needs no scan.
    pub fn may_name_in(&self, root: Option<&std::path::Path>) -> bool {
        self.matcher.is_some() && root.is_none_or(|r| self.givers.contains(r))
    }

    /// Whether `text`, of a file of the project at `root` (`None`: not
    /// known, any project), writes one of its project's names.
    pub fn mentioned_in(&self, text: &str, root: Option<&std::path::Path>) -> bool {
        let Some(m) = &self.matcher else {
            return false;
        };
        if !self.may_name_in(root) {
            return false;
        }
        whole_names(m, text).any(|hit| {
            root.is_none_or(|r| self.roots[hit.pattern().as_usize()].iter().any(|o| o == r))
        })
    }
}

/// The summaries' names and, for each, the keys they lead to.
#[derive(Debug, Clone, Default)]
pub struct SummaryWords {
    matcher: Option<AhoCorasick>,
    /// Pattern index → the keys whose names include it.
    keys: Vec<Vec<usize>>,
    /// Per key: its text, the patterns a caller must write to reach it,
    /// and its module's last name, which the caller's import writes unless
    /// it is relative.
    entries: Vec<(String, Vec<usize>, Option<usize>)>,
}

fn is_dunder(name: &str) -> bool {
    name.len() > 4 && name.starts_with("__") && name.ends_with("__")
}

/// The names a caller must write to reach a key, `module` its module's
/// dotted name: every segment after the module but dunders (`Repo` and
/// `session` for `app.db.Repo.session`, resolved from an import of `Repo`
/// or `self.session()` inside it; `Repo` for `app.db.Repo.__exit__`,
/// reached by `with Repo()`). A dependency generator is also found by its
/// last name alone (`next(self.x.get_db())`).
///
/// The module's last name is written too (`from app.db import Repo`,
/// `from .db import Repo`, `import app.db`), unless the import is relative
/// to the package itself (`from . import get_conn`): returned apart.
fn written_names<'k>(
    key: &'k str,
    module: Option<&'k str>,
    summary: &FnSummary,
) -> (Vec<&'k str>, Option<&'k str>) {
    // `app.base.Base#wanted`: files that write `Base` may define it.
    if let Some(class) = key.strip_suffix("#wanted") {
        return (vec![class.rsplit('.').next().unwrap_or(class)], None);
    }
    let (rest, module_word) = match module {
        Some(m) if key.len() > m.len() && key.starts_with(m) => (
            &key[m.len() + 1..],
            m.rsplit('.').next().filter(|w| !w.is_empty()),
        ),
        // Unknown module: the last segment alone, which asks for less.
        _ => (key.rsplit('.').next().unwrap_or(key), None),
    };
    let last = rest.rsplit('.').next().unwrap_or(rest);
    if summary.dependency_generator {
        return (vec![last], None);
    }
    let names: Vec<&str> = rest.split('.').filter(|s| !is_dunder(s)).collect();
    if names.is_empty() {
        (vec![last], module_word)
    } else {
        (names, module_word)
    }
}

/// A `from .` import, which can name a package's own functions without
/// writing the package's name.
fn has_relative_import(text: &str) -> bool {
    text.contains("from .")
}

impl SummaryWords {
    /// `modules`: for each key, the dotted name of the module that
    /// defines it, where known.
    pub fn new(summaries: &Summaries, modules: &HashMap<String, String>) -> SummaryWords {
        let mut patterns: BTreeMap<&str, usize> = BTreeMap::new();
        let mut entries: Vec<(String, Vec<&str>, Option<&str>)> = Vec::new();
        let mut sorted: Vec<(&String, &FnSummary)> = summaries.iter().collect();
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        for (key, summary) in sorted {
            let (names, module_word) =
                written_names(key, modules.get(key).map(String::as_str), summary);
            for n in names.iter().chain(&module_word) {
                let next = patterns.len();
                patterns.entry(n).or_insert(next);
            }
            entries.push((key.clone(), names, module_word));
        }
        let mut words: Vec<(&str, usize)> = patterns.iter().map(|(w, i)| (*w, *i)).collect();
        words.sort_by_key(|(_, i)| *i);
        let matcher = (!words.is_empty())
            .then(|| crate::python::analyse::whole_name_matcher(words.iter().map(|(w, _)| *w)))
            .flatten();
        let mut keys = vec![Vec::new(); words.len()];
        let entries = entries
            .into_iter()
            .enumerate()
            .map(|(k, (key, names, module_word))| {
                let ids: Vec<usize> = names.iter().map(|n| patterns[n]).collect();
                for &id in &ids {
                    keys[id].push(k);
                }
                (key, ids, module_word.map(|w| patterns[w]))
            })
            .collect();
        SummaryWords {
            matcher,
            keys,
            entries,
        }
    }

    /// Whether there is no name at all.
    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// The patterns written in `text` as whole names.
    fn hits(&self, text: &str) -> BTreeSet<usize> {
        let Some(m) = &self.matcher else {
            return BTreeSet::new();
        };
        whole_names(m, text)
            .map(|hit| hit.pattern().as_usize())
            .collect()
    }

    /// The keys whose every name `text` writes (`relative`: it has a
    /// relative import, which may name a module without writing it).
    fn reached<'s>(
        &'s self,
        hits: &'s BTreeSet<usize>,
        relative: bool,
    ) -> impl Iterator<Item = &'s str> + 's {
        let mut seen = BTreeSet::new();
        hits.iter()
            .flat_map(|&p| self.keys[p].iter().copied())
            .filter(move |&k| seen.insert(k))
            .filter(move |&k| {
                let (_, names, module_word) = &self.entries[k];
                names.iter().all(|n| hits.contains(n))
                    && (relative || module_word.is_none_or(|m| hits.contains(&m)))
            })
            .map(|k| self.entries[k].0.as_str())
    }

    /// Whether `text` can reach any summarised function, class or global.
    pub fn mentioned_in(&self, text: &str) -> bool {
        let hits = self.hits(text);
        let found = self
            .reached(&hits, has_relative_import(text))
            .next()
            .is_some();
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summaries(keys: &[(&str, Option<&str>)]) -> Summaries {
        keys.iter()
            .map(|(k, returns)| {
                (
                    k.to_string(),
                    FnSummary {
                        returns: returns.map(str::to_string),
                        ..FnSummary::default()
                    },
                )
            })
            .collect()
    }

    fn modules(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, m)| (k.to_string(), m.to_string()))
            .collect()
    }

    #[test]
    fn a_method_needs_its_class_and_its_name() {
        let s = summaries(&[("app.db.Repo.session", Some("sqlite3.Connection"))]);
        let w = SummaryWords::new(&s, &modules(&[("app.db.Repo.session", "app.db")]));
        assert!(!w.mentioned_in("self.session()\n"));
        assert!(w.mentioned_in("from app.db import Repo\nRepo().session()\n"));
        assert!(!w.mentioned_in("from app.orm import Repo\nRepo().session()\n"));
    }

    #[test]
    fn whole_names_only() {
        let s = summaries(&[("app.db.get_conn", Some("sqlite3.Connection"))]);
        let w = SummaryWords::new(&s, &modules(&[("app.db.get_conn", "app.db")]));
        assert!(w.mentioned_in("from .db import get_conn\n"));
        assert!(w.mentioned_in("from app.db import get_conn\n"));
        assert!(!w.mentioned_in("from app.pool import get_conn\n"));
        assert!(!w.mentioned_in("x = get_connection()\n"));
        assert!(!w.mentioned_in("x = my_get_conn()\n"));
        assert!(!w.mentioned_in("import app.db\n"));
    }

    #[test]
    fn dunders_are_reached_through_their_class() {
        let s = summaries(&[("app.Repo.__exit__", None)]);
        let w = SummaryWords::new(&s, &modules(&[("app.Repo.__exit__", "app")]));
        assert!(w.mentioned_in("from app import Repo\nwith Repo() as r: pass\n"));
        assert!(!w.mentioned_in("from app import Store\n"));
    }
}
