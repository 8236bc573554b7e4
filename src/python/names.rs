//! Import-based name resolution: turns `s.connect` (after `import sqlite3
//! as s`) or `pg_connect` (after `from psycopg2 import connect as
//! pg_connect`) into the qualified names that `rules/*.toml` speak.

use std::collections::HashMap;

use tree_sitter::Node;

use super::preorder;

/// Local name -> qualified name, from every absolute import in the file.
#[derive(Debug, Default, Clone)]
pub struct ImportMap {
    bindings: HashMap<String, String>,
    /// The modules of `from m import *`, whose names this file uses
    /// without saying which.
    stars: Vec<String>,
}

impl ImportMap {
    pub fn collect(root: Node, text: &str) -> ImportMap {
        let mut map = ImportMap::default();
        let src = |n: Node| text[n.byte_range()].split_whitespace().collect::<String>();
        preorder(root, |node| {
            match node.kind() {
                "import_statement" => {
                    let mut cursor = node.walk();
                    for name in node.children_by_field_name("name", &mut cursor) {
                        match name.kind() {
                            // `import a.b` binds `a`, which means module `a`.
                            "dotted_name" => {
                                let full = src(name);
                                let first = full.split('.').next().unwrap_or_default().to_string();
                                map.bindings.insert(first.clone(), first);
                            }
                            // `import a.b as c` binds `c` to module `a.b`.
                            "aliased_import" => {
                                if let (Some(n), Some(a)) = (
                                    name.child_by_field_name("name"),
                                    name.child_by_field_name("alias"),
                                ) {
                                    map.bindings.insert(src(a), src(n));
                                }
                            }
                            _ => {}
                        }
                    }
                    false
                }
                "import_from_statement" => {
                    let Some(module) = node.child_by_field_name("module_name") else {
                        return false;
                    };
                    // Relative imports keep their dots until `anchor` knows
                    // the package they are relative to.
                    let module = src(module);
                    if node
                        .children(&mut node.walk())
                        .any(|c| c.kind() == "wildcard_import")
                    {
                        map.stars.push(module.clone());
                    }
                    let mut cursor = node.walk();
                    for name in node.children_by_field_name("name", &mut cursor) {
                        let (imported, local) = match name.kind() {
                            "dotted_name" => (src(name), src(name)),
                            "aliased_import" => match (
                                name.child_by_field_name("name"),
                                name.child_by_field_name("alias"),
                            ) {
                                (Some(n), Some(a)) => (src(n), src(a)),
                                _ => continue,
                            },
                            _ => continue,
                        };
                        let joined = if module.ends_with('.') {
                            format!("{module}{imported}")
                        } else {
                            format!("{module}.{imported}")
                        };
                        map.bindings.insert(local, joined);
                    }
                    false
                }
                // Imports are statements: expressions are never walked.
                kind => super::is_statement_container(kind),
            }
        });
        map
    }

    /// Rewrites relative imports (`.db.get_conn`) against `package`, the
    /// dotted name of the package the module is in.
    pub fn anchor(&mut self, package: &str) {
        for target in self.bindings.values_mut().chain(self.stars.iter_mut()) {
            if !target.starts_with('.') {
                continue;
            }
            let dots = target.len() - target.trim_start_matches('.').len();
            let mut base: Vec<&str> = if package.is_empty() {
                Vec::new()
            } else {
                package.split('.').collect()
            };
            for _ in 1..dots {
                base.pop();
            }
            let rest = &target[dots..];
            let mut full = base.join(".");
            if !rest.is_empty() {
                if !full.is_empty() {
                    full.push('.');
                }
                full.push_str(rest);
            }
            *target = full;
        }
    }

    /// Rewrites imports of `long` (a namespace package's spelling of the
    /// file's top package, see `namespace_prefixes`) to `short`, the name
    /// the project knows the package by.
    pub fn rebase(&mut self, long: &str, short: &str) {
        for target in self.bindings.values_mut().chain(self.stars.iter_mut()) {
            if let Some(rest) = target.strip_prefix(long) {
                if rest.is_empty() || rest.starts_with('.') {
                    *target = format!("{short}{rest}");
                }
            }
        }
    }

    /// The qualified name of a dotted expression (`identifier` or an
    /// `attribute` chain), when its root is imported.
    pub fn resolve(&self, node: Node, text: &str) -> Option<String> {
        match node.kind() {
            "identifier" => self.bindings.get(&text[node.byte_range()]).cloned(),
            "attribute" => {
                let object = node.child_by_field_name("object")?;
                let attr = node.child_by_field_name("attribute")?;
                let base = self.resolve(object, text)?;
                Some(format!("{base}.{}", &text[attr.byte_range()]))
            }
            _ => None,
        }
    }

    /// The modules this file star-imports (`from ._utils import *`).
    pub fn star_modules(&self) -> &[String] {
        &self.stars
    }

    /// The qualified name of a dotted name written as text (a string
    /// annotation, `"asyncpg.Pool"`), when its root is imported.
    pub fn resolve_text(&self, dotted: &str) -> Option<String> {
        let (root, rest) = match dotted.split_once('.') {
            Some((root, rest)) => (root, Some(rest)),
            None => (dotted, None),
        };
        let base = self.bindings.get(root)?;
        Some(match rest {
            Some(rest) => format!("{base}.{rest}"),
            None => base.clone(),
        })
    }

    /// How this file can spell `qualified` (e.g. `contextlib.closing`)
    /// with the imports it already has, if it can.
    pub fn spelling_of(&self, qualified: &str) -> Option<String> {
        let mut best: Option<String> = None;
        for (local, target) in &self.bindings {
            let candidate = if target == qualified {
                local.clone()
            } else if let Some(rest) = qualified
                .strip_prefix(target.as_str())
                .and_then(|r| r.strip_prefix('.'))
            {
                format!("{local}.{rest}")
            } else {
                continue;
            };
            // Prefer the shortest spelling, then the alphabetically first,
            // so the choice does not depend on hash order.
            if best
                .as_ref()
                .is_none_or(|b| (candidate.len(), &candidate) < (b.len(), b))
            {
                best = Some(candidate);
            }
        }
        best
    }

    /// Every qualified name an import binds.
    pub fn targets(&self) -> impl Iterator<Item = &str> {
        self.bindings.values().map(String::as_str)
    }

    /// Whether the imports reach `module`: they bind it, something inside
    /// it, or a package above it (`import sqlalchemy` reaches
    /// `sqlalchemy.orm`).
    pub fn covers_module(&self, module: &str) -> bool {
        self.bindings.values().any(|t| {
            t == module
                || t.strip_prefix(module).is_some_and(|r| r.starts_with('.'))
                || module
                    .strip_prefix(t.as_str())
                    .is_some_and(|r| r.starts_with('.'))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::PyModule;

    fn resolve_call(src: &str) -> Option<String> {
        let m = PyModule::parse(src);
        let mut out = None;
        super::preorder(m.tree.root_node(), |n| {
            if n.kind() == "call" && out.is_none() {
                out = m
                    .imports
                    .resolve(n.child_by_field_name("function").unwrap(), m.text);
            }
            true
        });
        out
    }

    #[test]
    fn resolves_aliases_and_from_imports() {
        assert_eq!(
            resolve_call("import sqlite3\nsqlite3.connect(x)").as_deref(),
            Some("sqlite3.connect")
        );
        assert_eq!(
            resolve_call("import sqlite3 as s\ns.connect(x)").as_deref(),
            Some("sqlite3.connect")
        );
        assert_eq!(
            resolve_call("from psycopg2 import connect as pg_connect\npg_connect(x)").as_deref(),
            Some("psycopg2.connect")
        );
        assert_eq!(
            resolve_call("import psycopg2.pool as pp\npp.SimpleConnectionPool(1)").as_deref(),
            Some("psycopg2.pool.SimpleConnectionPool")
        );
        assert_eq!(
            resolve_call("import psycopg2.pool\npsycopg2.pool.X()").as_deref(),
            Some("psycopg2.pool.X")
        );
        assert_eq!(
            resolve_call("from . import db\ndb.connect()").as_deref(),
            Some(".db.connect")
        );
        assert_eq!(resolve_call("connect()"), None);
    }

    #[test]
    fn relative_imports_are_anchored_at_the_package() {
        let mut m = PyModule::parse(
            "from .db import get_conn\nfrom ..core import x as y\nfrom . import util\n",
        );
        m.imports.anchor("app.services");
        let resolved: Vec<_> = ["get_conn", "y", "util"]
            .iter()
            .map(|n| m.imports.bindings.get(*n).cloned().unwrap())
            .collect();
        assert_eq!(
            resolved,
            [
                "app.services.db.get_conn",
                "app.core.x",
                "app.services.util"
            ]
        );
    }

    #[test]
    fn spells_names_with_existing_imports() {
        let m = PyModule::parse("import contextlib as cl\n");
        assert_eq!(
            m.imports.spelling_of("contextlib.closing").as_deref(),
            Some("cl.closing")
        );
        let m = PyModule::parse("from contextlib import closing\nimport contextlib\n");
        assert_eq!(
            m.imports.spelling_of("contextlib.closing").as_deref(),
            Some("closing")
        );
        let m = PyModule::parse("import os\n");
        assert_eq!(m.imports.spelling_of("contextlib.closing"), None);
        assert!(m.imports.covers_module("os") && !m.imports.covers_module("o"));
        let m = PyModule::parse("import sqlalchemy\nfrom http import HTTPStatus\n");
        assert!(m.imports.covers_module("sqlalchemy.orm"));
        assert!(!m.imports.covers_module("http.client"));
    }
}
