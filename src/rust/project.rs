//! What the first pass learns about a Rust project: type aliases, struct
//! fields, return types and pool-acquiring functions defined in one file
//! and used in another (`pub type DbPool = ...` in `db.rs`, `AppState` in
//! `state.rs`, `impl Repo` in `repo.rs`). Names are keyed by their last
//! segment; a name defined differently in two files is dropped rather
//! than guessed.

use std::collections::HashMap;

/// Where a function acquires a pooled guard from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcquiresFrom {
    /// Its argument N (not counting `self`).
    Param(usize),
    /// A pool field of `self` (`self.pool`).
    SelfField(String),
}

#[derive(Debug, Default, Clone)]
pub struct RustProject {
    pub(crate) aliases: HashMap<String, Option<String>>,
    pub(crate) fields: HashMap<String, Option<HashMap<String, String>>>,
    pub(crate) returns: HashMap<String, Option<String>>,
    pub(crate) acquires_from: HashMap<String, Option<AcquiresFrom>>,
    /// Types used as application state, with the directories of the files
    /// that use them so: a struct is taken to be state only near where it
    /// is used as such, not because an unrelated crate of the run has a
    /// state type of the same name.
    pub(crate) state_types: HashMap<String, Vec<std::path::PathBuf>>,
}

fn merge<V: PartialEq>(map: &mut HashMap<String, Option<V>>, key: String, value: V) {
    match map.get_mut(&key) {
        None => {
            map.insert(key, Some(value));
        }
        Some(existing) => {
            if existing.as_ref() != Some(&value) {
                *existing = None;
            }
        }
    }
}

/// One file's facts: it defines each name once, so every one is known.
/// Facts of one file, none in conflict yet.
pub(crate) fn known<V>(facts: HashMap<String, V>) -> HashMap<String, Option<V>> {
    facts.into_iter().map(|(k, v)| (k, Some(v))).collect()
}

/// Merges another map of facts: a name known differently on each side
/// (or already in conflict on either) is forgotten.
fn absorb_map<V: PartialEq>(
    mine: &mut HashMap<String, Option<V>>,
    theirs: HashMap<String, Option<V>>,
) {
    for (k, v) in theirs {
        match v {
            Some(v) => merge(mine, k, v),
            None => {
                mine.insert(k, None);
            }
        }
    }
}

impl RustProject {
    /// Adds another file's (or project's) facts; conflicting names are
    /// forgotten.
    pub fn absorb(&mut self, other: RustProject) {
        for (name, dirs) in other.state_types {
            let mine = self.state_types.entry(name).or_default();
            for d in dirs {
                if !mine.contains(&d) {
                    mine.push(d);
                }
            }
        }
        absorb_map(&mut self.aliases, other.aliases);
        absorb_map(&mut self.fields, other.fields);
        absorb_map(&mut self.returns, other.returns);
        absorb_map(&mut self.acquires_from, other.acquires_from);
    }

    /// The state types used by files in `dir`, its ancestors or its
    /// descendants (one crate or module tree).
    pub fn state_types_near(&self, dir: &std::path::Path) -> std::collections::HashSet<String> {
        self.state_types
            .iter()
            .filter(|(_, dirs)| {
                dirs.iter()
                    .any(|d| d.starts_with(dir) || dir.starts_with(d))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The names a file must write to reach a resource through another
    /// file of the project (a type alias of a pool, a struct holding one,
    /// a function returning one or acquiring from one, a state type):
    /// for the prefilter, which otherwise sees only crate paths.
    /// `is_resource`: whether a type path names a resource crate's type.
    pub fn resource_names(&self, is_resource: impl Fn(&str) -> bool) -> Vec<String> {
        // `Repo::count_orders` is reached through `Repo`; `load_user` by name.
        let owner = |key: &str| key.split("::").next().unwrap_or(key).to_string();
        let aliases: Vec<String> = self
            .aliases
            .iter()
            .filter(|(_, v)| v.as_deref().is_some_and(&is_resource))
            .map(|(k, _)| k.clone())
            .collect();
        let leads = |t: &str| {
            is_resource(t)
                || aliases
                    .iter()
                    .any(|a| t == a || t.ends_with(&format!("::{a}")))
        };
        let mut out = aliases.clone();
        for (k, fields) in &self.fields {
            if fields
                .as_ref()
                .is_some_and(|f| f.values().any(|t| leads(t)))
            {
                out.push(k.clone());
            }
        }
        for (k, v) in &self.returns {
            if v.as_deref()
                .is_some_and(|t| leads(t.trim_start_matches('&')))
            {
                out.push(owner(k));
            }
        }
        out.extend(self.acquires_from.keys().map(|k| owner(k)));
        out.extend(self.state_types.keys().cloned());
        out.sort();
        out.dedup();
        out
    }

    pub fn alias(&self, name: &str) -> Option<&String> {
        self.aliases.get(name)?.as_ref()
    }

    /// The type of a field of a struct another file defines.
    pub fn field_type(&self, owner: &str, field: &str) -> Option<&String> {
        self.fields.get(owner)?.as_ref()?.get(field)
    }

    /// The return type of a function (`f`, `Type::f`) of another file.
    pub fn returns(&self, key: &str) -> Option<&String> {
        self.returns.get(key)?.as_ref()
    }

    /// Where a function of another file acquires pooled guards from.
    pub fn acquires_from(&self, key: &str) -> Option<&AcquiresFrom> {
        self.acquires_from.get(key)?.as_ref()
    }
}
