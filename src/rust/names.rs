//! Name resolution for one Rust file: `use` declarations (with renames and
//! globs) and `type` aliases, so that `PgPool`, `Db` (from
//! `use sqlx::PgPool as Db`) and `DbPool` (from `type DbPool =
//! r2d2::Pool<..>`) all resolve to paths the resource knowledge can match.

use std::collections::HashMap;

use syn::visit::Visit;

use crate::rust::project::RustProject;

#[derive(Debug, Default)]
pub struct Names<'v> {
    /// Local name -> full path (`PgPool` -> `sqlx::PgPool`).
    uses: HashMap<String, String>,
    /// `type X = path<..>;` -> the resolved path of its target, wrappers
    /// peeled.
    aliases: HashMap<String, String>,
    /// The vocabulary's `type-wrappers`: generic types whose first type
    /// argument is what the code really works with (`&Arc<Mutex<PgPool>>`
    /// and axum's `State<PgPool>` are a pool).
    wrappers: &'v [String],
}

impl<'v> Names<'v> {
    /// No names yet, peeling `wrappers` off types.
    pub fn new(wrappers: &'v [String]) -> Names<'v> {
        Names {
            wrappers,
            ..Names::default()
        }
    }

    /// `project`: aliases other files of the project define, for names
    /// imported from the crate itself (`use crate::db::DbPool`).
    /// `wrappers`: the vocabulary's `type-wrappers`.
    pub fn collect(
        file: &syn::File,
        project: Option<&RustProject>,
        wrappers: &'v [String],
    ) -> Names<'v> {
        let mut names = Names::new(wrappers);
        let mut uses = UseCollector { out: &mut names };
        uses.visit_file(file);
        // Aliases after uses, so their targets resolve through imports.
        let mut alias_items = Vec::new();
        collect_type_aliases(&file.items, &mut alias_items);
        for item in alias_items {
            if let Some(target) = type_path(&item.ty, &names) {
                names.aliases.insert(item.ident.to_string(), target);
            }
        }
        if let Some(project) = project {
            // A name imported from the crate (`use crate::db::DbPool`,
            // `use super::DbPool`) that another file aliases.
            let imported: Vec<(String, String)> = names
                .uses
                .iter()
                .filter(|(_, full)| {
                    full.starts_with("crate::")
                        || full.starts_with("super::")
                        || full.starts_with("self::")
                })
                .filter_map(|(local, full)| {
                    let last = full.rsplit("::").next()?;
                    project.alias(last).map(|t| (local.clone(), t.clone()))
                })
                .collect();
            for (local, target) in imported {
                names.uses.remove(&local);
                names.aliases.entry(local).or_insert(target);
            }
        }
        names
    }

    /// The file's own `type` aliases.
    pub fn local_aliases(&self) -> impl Iterator<Item = (&String, &String)> {
        self.aliases.iter()
    }

    /// The full path a use of `segments` refers to, joined with `::`.
    /// Unknown first segments are kept as written: a crate name used
    /// directly (`sqlx::query`) is already a full path.
    pub fn resolve_segments(&self, segments: &[String]) -> String {
        let Some(first) = segments.first() else {
            return String::new();
        };
        let mut out = match first.as_str() {
            "crate" | "self" | "super" => first.clone(),
            _ => {
                if segments.len() == 1 {
                    if let Some(alias) = self.aliases.get(first) {
                        return alias.clone();
                    }
                }
                self.uses
                    .get(first)
                    .cloned()
                    .unwrap_or_else(|| first.clone())
            }
        };
        for s in &segments[1..] {
            out.push_str("::");
            out.push_str(s);
        }
        out
    }

    pub fn resolve(&self, path: &syn::Path) -> String {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.resolve_segments(&segments)
    }
}

fn collect_type_aliases<'a>(items: &'a [syn::Item], out: &mut Vec<&'a syn::ItemType>) {
    for item in items {
        match item {
            syn::Item::Type(t) => out.push(t),
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    collect_type_aliases(inner, out);
                }
            }
            _ => {}
        }
    }
}

struct UseCollector<'a, 'v> {
    out: &'a mut Names<'v>,
}

impl UseCollector<'_, '_> {
    fn tree(&mut self, prefix: &str, tree: &syn::UseTree) {
        let join = |name: &str| {
            if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}::{name}")
            }
        };
        match tree {
            syn::UseTree::Path(p) => self.tree(&join(&p.ident.to_string()), &p.tree),
            syn::UseTree::Name(n) => {
                let name = n.ident.to_string();
                if name == "self" {
                    if let Some(last) = prefix.rsplit("::").next() {
                        self.out.uses.insert(last.to_string(), prefix.to_string());
                    }
                } else {
                    self.out.uses.insert(name.clone(), join(&name));
                }
            }
            syn::UseTree::Rename(r) => {
                let name = r.ident.to_string();
                let full = if name == "self" {
                    prefix.to_string()
                } else {
                    join(&name)
                };
                self.out.uses.insert(r.rename.to_string(), full);
            }
            syn::UseTree::Glob(_) => {}
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.tree(prefix, t);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for UseCollector<'_, '_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.tree("", &u.tree);
    }
}

/// The path a type names, resolved and peeled (`&web::Data<DbPool>` ->
/// `r2d2::Pool` when `type DbPool = r2d2::Pool<..>`).
pub fn type_path(ty: &syn::Type, names: &Names) -> Option<String> {
    match ty {
        syn::Type::Reference(r) => type_path(&r.elem, names),
        syn::Type::Paren(p) => type_path(&p.elem, names),
        syn::Type::Group(g) => type_path(&g.elem, names),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            if crate::resources::Vocabulary::has(names.wrappers, &last.ident.to_string()) {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                    for arg in &args.args {
                        if let syn::GenericArgument::Type(inner) = arg {
                            return type_path(inner, names);
                        }
                    }
                }
            }
            Some(names.resolve(&p.path))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_uses_renames_groups_and_aliases() {
        let file: syn::File = syn::parse_str(
            "use sqlx::{PgPool as Db, postgres::{self, PgPoolOptions}};\n\
             use std::mem;\n\
             type DbPool = r2d2::Pool<ConnectionManager<PgConnection>>;\n\
             fn f() { use libc::open; }\n",
        )
        .unwrap();
        let names = Names::collect(&file, None, &[]);
        let r =
            |s: &str| names.resolve_segments(&s.split("::").map(String::from).collect::<Vec<_>>());
        assert_eq!(r("Db"), "sqlx::PgPool");
        assert_eq!(
            r("PgPoolOptions::new"),
            "sqlx::postgres::PgPoolOptions::new"
        );
        assert_eq!(r("postgres::PgPool"), "sqlx::postgres::PgPool");
        assert_eq!(r("mem::forget"), "std::mem::forget");
        assert_eq!(r("DbPool"), "r2d2::Pool");
        assert_eq!(r("open"), "libc::open");
        assert_eq!(r("tokio_postgres::connect"), "tokio_postgres::connect");
    }
}
