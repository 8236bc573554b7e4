//! Light type facts and the resource knowledge for Rust: which written
//! type is which resource, and which calls and methods acquire or release
//! one. No type checker: a type is a resolved path with its generic
//! arguments dropped and its smart-pointer and extractor wrappers peeled.

use std::collections::{HashMap, HashSet};

use crate::resources::{Acquire, ResourceKind, ResourceSpec, ResourceTable, Vocabulary};

fn segments(path: &str) -> Vec<&str> {
    path.split("::").filter(|s| !s.is_empty()).collect()
}

/// Whether a written (resolved) type path names the spec type `name`:
/// same crate and same last segment, so re-exports match
/// (`sqlx::postgres::PgPool` is `sqlx::PgPool`). A bare name that no
/// import resolved matches on its last segment alone.
fn path_names(name: &str, actual: &str) -> bool {
    let (n, a) = (segments(name), segments(actual));
    match (n.as_slice(), a.as_slice()) {
        (_, []) | ([], _) => false,
        (n, [only]) => n.last() == Some(only),
        // Same crate, or a crate re-exported by another
        // (`bb8_redis::bb8::Pool`, `rocket_db_pools::sqlx::PgPool`).
        (n, a) => (n[0] == a[0] || a[1..a.len() - 1].contains(&n[0])) && n.last() == a.last(),
    }
}

/// The vocabulary lists the lowering looks up at every call and method
/// call, as sets (the lists are the union over many rules files).
pub struct Words<'a> {
    pub spawn_functions: HashSet<&'a str>,
    pub passthrough_methods: HashSet<&'a str>,
    pub borrow_methods: HashSet<&'a str>,
    pub clone_methods: HashSet<&'a str>,
    pub store_methods: HashSet<&'a str>,
    pub collect_methods: HashSet<&'a str>,
    pub read_methods: HashSet<&'a str>,
    pub write_methods: HashSet<&'a str>,
    pub executor_methods: HashSet<&'a str>,
}

impl<'a> Words<'a> {
    pub fn new(v: &'a Vocabulary) -> Words<'a> {
        let set = |list: &'a [String]| list.iter().map(String::as_str).collect();
        Words {
            spawn_functions: set(&v.spawn_functions),
            passthrough_methods: set(&v.passthrough_methods),
            borrow_methods: set(&v.borrow_methods),
            clone_methods: set(&v.clone_methods),
            store_methods: set(&v.store_methods),
            collect_methods: set(&v.collect_methods),
            read_methods: set(&v.read_methods),
            write_methods: set(&v.write_methods),
            executor_methods: set(&v.executor_methods),
        }
    }
}

/// The resource knowledge of one file: the built-in and configured specs,
/// plus the handles of `extern` functions the file declares itself.
pub struct Knowledge<'a> {
    pub table: &'a ResourceTable,
    /// The table's vocabulary (`table.vocabulary`), its hot lists as sets.
    pub vocab: &'a Vocabulary,
    pub words: Words<'a>,
    pub local: Vec<ResourceSpec>,
    /// The crates the file's text mentions: a bare type name no import
    /// resolved (`Connection`, `Object`) names a spec only when its crate
    /// is one of them, so a crate's own `Object` is not deadpool's.
    pub present: HashSet<String>,
    /// Indexes by last path segment (type names and aliases, acquiring
    /// calls, releasing calls) and by method name, into `spec(i)`: every
    /// call and method of every lowered function is looked up.
    by_type: HashMap<String, Vec<usize>>,
    by_call: HashMap<String, Vec<(usize, usize)>>,
    by_method: HashMap<String, Vec<(usize, usize)>>,
    by_release: HashMap<String, Vec<(usize, usize)>>,
}

fn crate_of(path: &str) -> &str {
    path.split("::").next().unwrap_or(path)
}

fn last_of(path: &str) -> &str {
    path.rsplit("::").next().unwrap_or(path)
}

impl<'a> Knowledge<'a> {
    pub fn new(table: &'a ResourceTable, local: Vec<ResourceSpec>, text: &str) -> Knowledge<'a> {
        let mut present = HashSet::new();
        let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
        let mut by_call: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut by_method: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let mut by_release: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
        let n = table.specs.len();
        for (i, spec) in table.specs.iter().chain(&local).enumerate() {
            let c = crate_of(&spec.type_name);
            if !present.contains(c) && (i >= n || text.contains(c)) {
                present.insert(c.to_string());
            }
            for name in std::iter::once(&spec.type_name).chain(&spec.aliases) {
                let list = by_type.entry(last_of(name).to_string()).or_default();
                if !list.contains(&i) {
                    list.push(i);
                }
            }
            for (j, a) in spec.acquire.iter().enumerate() {
                if let Some(call) = &a.call {
                    by_call
                        .entry(last_of(call).to_string())
                        .or_default()
                        .push((i, j));
                }
                if let Some(m) = &a.method {
                    by_method.entry(m.clone()).or_default().push((i, j));
                }
            }
            for (j, r) in spec.release.iter().enumerate() {
                if let Some(call) = &r.call {
                    by_release
                        .entry(last_of(call).to_string())
                        .or_default()
                        .push((i, j));
                }
            }
        }
        Knowledge {
            table,
            vocab: &table.vocabulary,
            words: Words::new(&table.vocabulary),
            local,
            present,
            by_type,
            by_call,
            by_method,
            by_release,
        }
    }

    /// The spec with index `i`: the table's, then the file's own.
    pub fn spec(&self, i: usize) -> &ResourceSpec {
        let n = self.table.specs.len();
        if i < n {
            &self.table.specs[i]
        } else {
            &self.local[i - n]
        }
    }

    pub fn specs(&self) -> impl Iterator<Item = &ResourceSpec> {
        self.table.specs.iter().chain(self.local.iter())
    }

    /// `path_names`, with bare names limited to crates the file mentions.
    fn names(&self, name: &str, actual: &str) -> bool {
        path_names(name, actual) && (actual.contains("::") || self.present.contains(crate_of(name)))
    }

    fn names_type(&self, spec: &ResourceSpec, actual: &str) -> bool {
        self.names(&spec.type_name, actual) || spec.aliases.iter().any(|a| self.names(a, actual))
    }

    fn type_candidates<'s>(
        &'s self,
        actual: &'s str,
    ) -> impl Iterator<Item = &'s ResourceSpec> + 's {
        self.by_type
            .get(last_of(actual))
            .into_iter()
            .flatten()
            .map(|&i| self.spec(i))
            .filter(move |s| self.names_type(s, actual))
    }

    /// The spec a type path names. A bare, unresolved name shared by
    /// several crates (`Pool`, `Transaction`) names one only when they
    /// all agree on its kind.
    pub fn spec_of_type<'s>(&'s self, actual: &'s str) -> Option<&'s ResourceSpec> {
        let mut candidates = self.type_candidates(actual);
        let first = candidates.next()?;
        if segments(actual).len() == 1 && candidates.any(|s| s.kind != first.kind) {
            return None;
        }
        Some(first)
    }

    /// Whether the spec type name `on` (from an `acquire`) and the written
    /// type `actual` are the same type, aliases included.
    fn same_type(&self, on: &str, actual: &str) -> bool {
        if on == "*" || self.names(on, actual) {
            return true;
        }
        self.type_candidates(actual).any(|s| s.is_type(on))
    }

    /// Whether the resolved call path `actual` calls the spec function
    /// `name` (`crate::fn` or `crate::Type::fn`).
    fn calls(&self, name: &str, any_path: bool, actual: &str) -> bool {
        let (n, a) = (segments(name), segments(actual));
        if n.last() != a.last() || a.is_empty() {
            return false;
        }
        if any_path {
            return true;
        }
        if a.len() < 2 {
            return false;
        }
        if n.len() >= 3 {
            let n_type = n[..n.len() - 1].join("::");
            let a_type = a[..a.len() - 1].join("::");
            self.same_type(&n_type, &a_type)
        } else {
            n[0] == a[0]
        }
    }

    /// The acquisitions a call to the resolved path `path` makes.
    pub fn call_acquires(&self, path: &str) -> Vec<(&ResourceSpec, &Acquire)> {
        self.by_call
            .get(last_of(path))
            .into_iter()
            .flatten()
            .map(|&(i, j)| (self.spec(i), &self.spec(i).acquire[j]))
            .filter(|(_, a)| {
                a.call
                    .as_deref()
                    .is_some_and(|c| self.calls(c, a.any_path, path))
            })
            .collect()
    }

    /// The acquisitions `method` makes on a receiver of type `on_type`.
    pub fn method_acquires(&self, method: &str, on_type: &str) -> Vec<(&ResourceSpec, &Acquire)> {
        self.by_method
            .get(method)
            .into_iter()
            .flatten()
            .map(|&(i, j)| (self.spec(i), &self.spec(i).acquire[j]))
            .filter(|(_, a)| {
                a.on.as_deref()
                    .is_some_and(|on| self.same_type(on, on_type))
            })
            .collect()
    }

    /// Whether some resource is acquired by a method of this name.
    pub fn acquires_by_method(&self, method: &str) -> bool {
        self.by_method.contains_key(method)
    }

    /// Which argument a free call releases, if the resolved `path` is a
    /// release of some resource.
    pub fn call_releases(&self, path: &str) -> Option<usize> {
        self.by_release
            .get(last_of(path))
            .into_iter()
            .flatten()
            .map(|&(i, j)| &self.spec(i).release[j])
            .find(|r| {
                r.call
                    .as_deref()
                    .is_some_and(|c| self.calls(c, r.any_path, path))
            })
            .map(|r| r.arg.unwrap_or(0))
    }

    pub fn spec_named(&self, type_name: &str) -> Option<&ResourceSpec> {
        self.by_type
            .get(last_of(type_name))
            .into_iter()
            .flatten()
            .map(|&i| self.spec(i))
            .find(|s| s.type_name == type_name)
    }
}

/// Kinds whose values are guards on a server-side or pool resource: the
/// ones that must not be forgotten, stored for the process, or held twice.
pub fn is_guard(kind: ResourceKind) -> bool {
    kind.is_guard()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rust::names::{type_path, Names};

    #[test]
    fn paths_match_across_reexports_and_bare_names() {
        assert!(path_names("sqlx::PgPool", "sqlx::postgres::PgPool"));
        assert!(path_names("sqlx::PgPool", "PgPool"));
        assert!(!path_names("sqlx::PgPool", "diesel::PgPool"));
        let table = crate::resources::table_for(crate::resources::SpecLanguage::Rust, &[]);
        let names = Names::new(&table.vocabulary.type_wrappers);
        let ty: syn::Type = syn::parse_str("&web::Data<Arc<sqlx::PgPool>>").unwrap();
        assert_eq!(type_path(&ty, &names).as_deref(), Some("sqlx::PgPool"));
    }

    #[test]
    fn the_rust_rules_files_fill_every_list_the_front_end_reads() {
        let table = crate::resources::table_for(crate::resources::SpecLanguage::Rust, &[]);
        let v = &table.vocabulary;
        let lists: [(&str, &Vec<String>); 37] = [
            ("spawn_functions", &v.spawn_functions),
            ("passthrough_methods", &v.passthrough_methods),
            ("borrow_methods", &v.borrow_methods),
            ("clone_methods", &v.clone_methods),
            ("store_methods", &v.store_methods),
            ("collect_methods", &v.collect_methods),
            ("write_methods", &v.write_methods),
            ("write_functions", &v.write_functions),
            ("read_methods", &v.read_methods),
            ("query_api_prefixes", &v.query_api_prefixes),
            ("query_apis", &v.query_apis),
            ("query_macro_prefixes", &v.query_macro_prefixes),
            ("string_conversions", &v.string_conversions),
            ("executor_methods", &v.executor_methods),
            ("type_wrappers", &v.type_wrappers),
            ("value_wrappers", &v.value_wrappers),
            ("shared_wrappers", &v.shared_wrappers),
            ("state_wrappers", &v.state_wrappers),
            ("state_extractors", &v.state_extractors),
            ("state_methods", &v.state_methods),
            ("state_calls", &v.state_calls),
            ("service_server_suffixes", &v.service_server_suffixes),
            ("service_constructors", &v.service_constructors),
            ("static_macros", &v.static_macros),
            ("diverging_macros", &v.diverging_macros),
            ("bail_macros", &v.bail_macros),
            ("ensure_macros", &v.ensure_macros),
            ("select_macros", &v.select_macros),
            ("join_macros", &v.join_macros),
            ("reclaim_words", &v.reclaim_words),
            ("admit_words", &v.admit_words),
            ("summary_words", &v.summary_words),
            ("receiver_suffix_methods", &v.receiver_suffix_methods),
            ("extern_open_words", &v.extern_open_words),
            ("extern_close_words", &v.extern_close_words),
            ("handle_checker_prefixes", &v.handle_checker_prefixes),
            ("handle_checkers", &v.handle_checkers),
        ];
        for (name, list) in lists {
            assert!(!list.is_empty(), "no rules file fills `{name}`");
        }
        // One word from a library file, a runtime file and a framework file.
        let words = Words::new(v);
        assert!(words.read_methods.contains("fetch_one"));
        assert!(words.spawn_functions.contains("tokio::spawn"));
        assert!(crate::resources::Vocabulary::has(
            &v.state_methods,
            "manage"
        ));
    }
}
