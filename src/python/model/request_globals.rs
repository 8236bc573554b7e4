//! Resources kept on a per-request namespace: Flask's and Quart's `g`
//! (the vocabulary's `request-globals`), the place their docs keep a
//! request's database connection (`g.db = sqlite3.connect(...)`), and
//! which of the namespace's attributes some code releases (the
//! `teardown_appcontext` handler's `db = g.pop("db", None)` then
//! `db.close()`).
//!
//! The namespace is dropped when the application context ends, but
//! dropping it closes nothing: only a teardown handler does. A release
//! counts for the attribute it draws from (`db` for `g.pop("db")`,
//! `getattr(g, "db")`, `g.db`), and for every attribute when what it
//! draws cannot be told (`for k in list(g): g.pop(k).close()`). Releases
//! in other modules reach the storing file as `flask.g.db#released`
//! summaries.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use crate::diagnostic::Span;
use crate::python::context::{FileContext, FnSummary};
use crate::python::preorder;
use crate::resources::{ResourceKind, ResourceSpec, Vocabulary};

/// `g.db = <acquisition>` in some function.
#[derive(Debug, Clone)]
pub(crate) struct RequestStore<'a> {
    /// As written: `g.db`.
    pub target: String,
    /// The attribute: `db`.
    pub attribute: String,
    /// The namespace it resolves to: `flask.g`.
    pub namespace: String,
    pub spec: &'a ResourceSpec,
    /// The acquiring call.
    pub call: Span,
}

/// What the file keeps on request namespaces, and what of them it
/// releases.
#[derive(Debug, Default)]
pub(crate) struct RequestState<'a> {
    pub stores: Vec<RequestStore<'a>>,
    /// The namespace attributes this file releases; `None` in the set: a
    /// release of something drawn from the namespace that names no
    /// attribute, taken for all of them.
    pub released: HashSet<Option<String>>,
}

impl RequestState<'_> {
    pub(crate) fn releases(&self, attribute: &str) -> bool {
        self.released.contains(&None) || self.released.contains(&Some(attribute.to_string()))
    }
}

/// Whether the file may name a request namespace at all: the text names
/// the package of one (`flask`, `quart`).
fn may_name(ctx: &FileContext) -> bool {
    ctx.resources
        .vocabulary
        .request_globals
        .iter()
        .any(|q| ctx.module.text.contains(q.split('.').next().unwrap_or(q)))
}

/// The request namespace a node resolves to (`g` imported from flask).
fn namespace_of(ctx: &FileContext, n: Node) -> Option<String> {
    ctx.module
        .imports
        .resolve(n, ctx.module.text)
        .filter(|q| Vocabulary::has(&ctx.resources.vocabulary.request_globals, q))
}

/// The summaries a file gives and asks for about request namespaces: a
/// file that keeps a resource on `flask.g` asks the project whether some
/// module releases it (`flask.g#wanted`, which admits the files that
/// write `g`), and a file that releases something drawn from one says
/// which attribute (`flask.g.db#released`, or `flask.g#released` for
/// any).
pub(crate) fn namespace_summaries(ctx: &FileContext) -> Vec<(String, FnSummary)> {
    if !may_name(ctx) {
        return Vec::new();
    }
    let state = collect(ctx);
    let mut namespaces: Vec<String> = state.stores.iter().map(|s| s.namespace.clone()).collect();
    namespaces.sort();
    namespaces.dedup();
    let mut out = crate::python::wanted_callees::wanted(namespaces);
    let mut released: Vec<String> = releases(ctx)
        .into_iter()
        .map(|(namespace, attribute)| match attribute {
            Some(a) => format!("{namespace}.{a}#released"),
            None => format!("{namespace}#released"),
        })
        .collect();
    released.sort();
    released.dedup();
    out.extend(released.into_iter().map(|key| {
        (
            key,
            FnSummary {
                released_elsewhere: true,
                ..FnSummary::default()
            },
        )
    }));
    out
}

pub(super) fn collect<'a>(ctx: &FileContext<'a>) -> RequestState<'a> {
    let mut out = RequestState::default();
    if !may_name(ctx) {
        return out;
    }
    let no_types = Default::default();
    let root = ctx.module.tree.root_node();
    preorder(root, |n| {
        if n.kind() != "assignment" {
            return true;
        }
        // `db = g._database = sqlite3.connect(...)`: the value is the
        // innermost right-hand side.
        let mut targets = Vec::new();
        let mut value = Some(n);
        while let Some(a) = value.filter(|v| v.kind() == "assignment") {
            targets.extend(a.child_by_field_name("left"));
            value = a.child_by_field_name("right");
        }
        let Some(value) = value else { return true };
        for t in targets.into_iter().filter(|t| t.kind() == "attribute") {
            let (Some(namespace), Some(attribute)) = (
                t.child_by_field_name("object")
                    .and_then(|o| namespace_of(ctx, o)),
                t.child_by_field_name("attribute"),
            ) else {
                continue;
            };
            let Some((spec, call)) = ctx
                .acquisition(value, &no_types, &no_types, None)
                .filter(|(s, _)| s.kind != ResourceKind::Factory)
            else {
                continue;
            };
            out.stores.push(RequestStore {
                target: ctx.text(t).to_string(),
                attribute: ctx.text(attribute).to_string(),
                namespace,
                spec,
                call: Span::new(call.start_byte(), call.end_byte()),
            });
        }
        // A chained assignment is one store: its inner assignments were
        // read here.
        false
    });
    if !out.stores.is_empty() {
        out.released = releases(ctx).into_iter().map(|(_, a)| a).collect();
    }
    out
}

/// The text of a string literal without its quotes and prefix.
fn literal(ctx: &FileContext, n: Node) -> Option<String> {
    if n.kind() != "string" {
        return None;
    }
    let text = ctx
        .text(n)
        .trim_start_matches(|c: char| c.is_ascii_alphabetic());
    let inner = text.trim_matches(|c| c == '"' || c == '\'');
    (!inner.is_empty() && inner.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .then(|| inner.to_string())
}

/// What `expr` draws from a request namespace: the namespace and the
/// attribute (`g.db`, `g.pop("db", None)`, `g.get("db")`, `getattr(g,
/// "db", None)`), the attribute `None` when it cannot be told; `None`
/// when `expr` reads no namespace.
fn drawn_from(ctx: &FileContext, expr: Node) -> Option<(String, Option<String>)> {
    match expr.kind() {
        "attribute" => {
            let object = expr.child_by_field_name("object")?;
            if let Some(namespace) = namespace_of(ctx, object) {
                let attribute = expr.child_by_field_name("attribute")?;
                return Some((namespace, Some(ctx.text(attribute).to_string())));
            }
        }
        "call" => {
            let f = expr.child_by_field_name("function")?;
            let args = expr.child_by_field_name("arguments");
            let arg = |i: u32| args.and_then(|a| a.named_child(i));
            if f.kind() == "attribute" {
                let object = f.child_by_field_name("object");
                let method = f.child_by_field_name("attribute").map(|m| ctx.text(m));
                if let Some(namespace) = object.and_then(|o| namespace_of(ctx, o)) {
                    if matches!(method, Some("pop" | "get" | "setdefault")) {
                        return Some((namespace, arg(0).and_then(|a| literal(ctx, a))));
                    }
                }
            } else if ctx.text(f) == "getattr" {
                if let Some(namespace) = arg(0).and_then(|o| namespace_of(ctx, o)) {
                    return Some((namespace, arg(1).and_then(|a| literal(ctx, a))));
                }
            }
        }
        _ => {}
    }
    // Reads the namespace somewhere inside: what it draws is unknown.
    let mut found = None;
    preorder(expr, |i| {
        if found.is_none() && matches!(i.kind(), "identifier" | "attribute") {
            found = namespace_of(ctx, i);
        }
        found.is_none()
    });
    found.map(|namespace| (namespace, None))
}

/// The namespace attributes the file releases: a release method called on
/// what is drawn from a namespace, directly (`g.db.close()`,
/// `g.pop("db").close()`) or through a name bound from it in the same
/// function (`db = g.pop("db", None)` ... `db.close()`).
fn releases(ctx: &FileContext) -> Vec<(String, Option<String>)> {
    let root = ctx.module.tree.root_node();
    // Bound names by the function (its start byte) they are bound in.
    let mut drawn: HashMap<(usize, &str), (String, Option<String>)> = HashMap::new();
    let scope_of = |n: Node| {
        let mut p = n.parent();
        while let Some(x) = p {
            if matches!(x.kind(), "function_definition" | "lambda") {
                return x.start_byte();
            }
            p = x.parent();
        }
        0
    };
    preorder(root, |n| {
        if n.kind() == "assignment" {
            if let (Some(l), Some(r)) = (
                n.child_by_field_name("left"),
                n.child_by_field_name("right"),
            ) {
                if l.kind() == "identifier" {
                    if let Some(d) = drawn_from(ctx, r) {
                        drawn.insert((scope_of(n), ctx.text(l)), d);
                    }
                }
            }
        }
        true
    });
    let mut out = Vec::new();
    preorder(root, |n| {
        if n.kind() != "call" {
            return true;
        }
        let Some(f) = n
            .child_by_field_name("function")
            .filter(|f| f.kind() == "attribute")
        else {
            return true;
        };
        let releasing = f
            .child_by_field_name("attribute")
            .is_some_and(|m| ctx.resources.is_release_method(ctx.text(m)));
        let Some(object) = f.child_by_field_name("object").filter(|_| releasing) else {
            return true;
        };
        let from = if object.kind() == "identifier" {
            drawn.get(&(scope_of(n), ctx.text(object))).cloned()
        } else {
            drawn_from(ctx, object)
        };
        out.extend(from);
        true
    });
    out
}
