//! Light type facts and the resource knowledge for Rust: which written
//! type is which resource, and which calls and methods acquire or release
//! one. No type checker: a type is a resolved path with its generic
//! arguments dropped and its smart-pointer and extractor wrappers peeled.

use crate::resources::{Acquire, ResourceKind, ResourceSpec, ResourceTable};
use crate::rust::names::Names;

/// Wrappers whose first type argument is what the code really works
/// with: `&Arc<Mutex<PgPool>>` and axum's `State<PgPool>` are a pool.
const WRAPPERS: &[&str] = &[
    "Arc",
    "Rc",
    "Box",
    "Option",
    "Mutex",
    "RwLock",
    "RefCell",
    "MutexGuard",
    "RwLockReadGuard",
    "RwLockWriteGuard",
    "ReentrantMutex",
    "Data",
    "State",
    "Extension",
    "Cow",
    "Pin",
    "OnceLock",
    "OnceCell",
    "Lazy",
    "LazyLock",
];

/// The path a type names, resolved and peeled (`&web::Data<DbPool>` ->
/// `r2d2::Pool` when `type DbPool = r2d2::Pool<..>`).
pub fn type_path(ty: &syn::Type, names: &Names) -> Option<String> {
    match ty {
        syn::Type::Reference(r) => type_path(&r.elem, names),
        syn::Type::Paren(p) => type_path(&p.elem, names),
        syn::Type::Group(g) => type_path(&g.elem, names),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            if WRAPPERS.contains(&last.ident.to_string().as_str()) {
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
        (n, a) => n[0] == a[0] && n.last() == a.last(),
    }
}

/// The resource knowledge of one file: the built-in and configured specs,
/// plus the handles of `extern` functions the file declares itself.
pub struct Knowledge<'a> {
    pub table: &'a ResourceTable,
    pub local: Vec<ResourceSpec>,
}

impl<'a> Knowledge<'a> {
    pub fn specs(&self) -> impl Iterator<Item = &ResourceSpec> {
        self.table.specs.iter().chain(self.local.iter())
    }

    fn names_type(spec: &ResourceSpec, actual: &str) -> bool {
        path_names(&spec.type_name, actual) || spec.aliases.iter().any(|a| path_names(a, actual))
    }

    /// The spec a type path names. A bare, unresolved name shared by
    /// several crates (`Pool`, `Transaction`) names one only when they
    /// all agree on its kind.
    pub fn spec_of_type(&self, actual: &str) -> Option<&ResourceSpec> {
        let mut candidates = self.specs().filter(|s| Self::names_type(s, actual));
        let first = candidates.next()?;
        if segments(actual).len() == 1 && candidates.any(|s| s.kind != first.kind) {
            return None;
        }
        Some(first)
    }

    /// Whether the spec type name `on` (from an `acquire`) and the written
    /// type `actual` are the same type, aliases included.
    fn same_type(&self, on: &str, actual: &str) -> bool {
        if on == "*" || path_names(on, actual) {
            return true;
        }
        self.specs()
            .filter(|s| s.is_type(on))
            .any(|s| Self::names_type(s, actual))
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
        self.specs()
            .flat_map(|s| s.acquire.iter().map(move |a| (s, a)))
            .filter(|(_, a)| {
                a.call
                    .as_deref()
                    .is_some_and(|c| self.calls(c, a.any_path, path))
            })
            .collect()
    }

    /// The acquisitions `method` makes on a receiver of type `on_type`.
    pub fn method_acquires(&self, method: &str, on_type: &str) -> Vec<(&ResourceSpec, &Acquire)> {
        self.specs()
            .flat_map(|s| s.acquire.iter().map(move |a| (s, a)))
            .filter(|(_, a)| {
                a.method.as_deref() == Some(method)
                    && a.on
                        .as_deref()
                        .is_some_and(|on| self.same_type(on, on_type))
            })
            .collect()
    }

    /// Which argument a free call releases, if the resolved `path` is a
    /// release of some resource.
    pub fn call_releases(&self, path: &str) -> Option<usize> {
        self.specs()
            .flat_map(|s| s.release.iter())
            .find(|r| {
                r.call
                    .as_deref()
                    .is_some_and(|c| self.calls(c, r.any_path, path))
            })
            .map(|r| r.arg.unwrap_or(0))
    }

    /// The kind of the resource a spec type name declares.
    pub fn kind_of(&self, type_name: &str) -> Option<ResourceKind> {
        self.specs().find(|s| s.is_type(type_name)).map(|s| s.kind)
    }

    pub fn spec_named(&self, type_name: &str) -> Option<&ResourceSpec> {
        self.specs().find(|s| s.type_name == type_name)
    }
}

/// Kinds whose values are guards on a server-side or pool resource: the
/// ones that must not be forgotten, stored for the process, or held twice.
pub fn is_guard(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Connection
            | ResourceKind::Session
            | ResourceKind::Transaction
            | ResourceKind::Cursor
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_match_across_reexports_and_bare_names() {
        assert!(path_names("sqlx::PgPool", "sqlx::postgres::PgPool"));
        assert!(path_names("sqlx::PgPool", "PgPool"));
        assert!(!path_names("sqlx::PgPool", "diesel::PgPool"));
        let names = Names::default();
        let ty: syn::Type = syn::parse_str("&web::Data<Arc<sqlx::PgPool>>").unwrap();
        assert_eq!(type_path(&ty, &names).as_deref(), Some("sqlx::PgPool"));
    }
}
