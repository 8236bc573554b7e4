//! `with` items whose context manager is an acquiring call: what LK104
//! needs to tell a `with` that closes from one that only ends a
//! transaction.

use tree_sitter::Node;

use super::calls::{calls_in, Callee};
use crate::diagnostic::Span;
use crate::python::context::FileContext;
use crate::python::preorder;
use crate::resources::ResourceSpec;

/// One `with` item `with <call>(...) [as name]`.
#[derive(Debug, Clone)]
pub(crate) struct WithItem<'a> {
    /// The context-manager call.
    pub call: Span,
    /// Its callee as written (`sqlite3.connect`).
    pub callee: String,
    /// The resources the call acquires, by its qualified name.
    pub acquires: Vec<&'a ResourceSpec>,
    /// `async with`.
    pub is_async: bool,
    /// The `with` keyword of the statement.
    pub keyword: Span,
    /// The name it binds, when the target is a plain name.
    pub alias: Option<Alias>,
}

/// The plain name a `with` item binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alias {
    pub name: String,
    pub span: Span,
    /// Methods called on the name in the statements after the `with`, in
    /// the same block (anywhere inside them).
    pub methods_after: Vec<String>,
    /// The block returns the name (`return db`): the connection goes to
    /// the caller, whose it is to close.
    pub returned: bool,
}

pub(super) fn collect<'a>(ctx: &FileContext<'a>) -> Vec<WithItem<'a>> {
    let mut out = Vec::new();
    preorder(ctx.module.tree.root_node(), |node| {
        if node.kind() == "with_statement" {
            items(ctx, node, &mut out);
        }
        true
    });
    out
}

fn items<'a>(ctx: &FileContext<'a>, with: Node, out: &mut Vec<WithItem<'a>>) {
    let is_async = with.child(0).is_some_and(|c| c.kind() == "async");
    let Some(clause) = with
        .children(&mut with.walk())
        .find(|c| c.kind() == "with_clause")
    else {
        return;
    };
    let keyword = with.child(u32::from(is_async)).unwrap_or(with);
    let mut cursor = clause.walk();
    for item in clause
        .children(&mut cursor)
        .filter(|c| c.kind() == "with_item")
    {
        let Some(value) = item.child_by_field_name("value") else {
            continue;
        };
        let (call, alias) = if value.kind() == "as_pattern" {
            let Some(expr) = value.named_child(0) else {
                continue;
            };
            (expr, value.child_by_field_name("alias"))
        } else {
            (value, None)
        };
        if call.kind() != "call" {
            continue;
        }
        let Some(function) = call.child_by_field_name("function") else {
            continue;
        };
        let Some(qualified) = ctx.qualify(function, None) else {
            continue;
        };
        let mut acquires: Vec<&'a ResourceSpec> = ctx
            .resources
            .specs
            .iter()
            .filter(|s| {
                s.acquire
                    .iter()
                    .any(|a| a.call.as_deref() == Some(qualified.as_str()))
            })
            .collect();
        // A project factory that returns one (`with get_conn() as conn:`).
        if acquires.is_empty() {
            let returned = ctx
                .summaries
                .get(&qualified)
                .filter(|s| !s.returns_mixed && !s.returns_awaited)
                .and_then(|s| s.returns.as_deref())
                .and_then(|t| ctx.spec(t));
            acquires.extend(returned);
        }
        if acquires.is_empty() {
            continue;
        }
        let alias = alias
            .and_then(|a| a.named_child(0).or(Some(a)))
            .filter(|t| t.kind() == "identifier")
            .map(|target| {
                let name = ctx.text(target).to_string();
                let methods_after = methods_after(ctx, with, &name);
                let returned = with
                    .child_by_field_name("body")
                    .is_some_and(|b| crate::python::returns_name(b, ctx.module.text, &name));
                Alias {
                    span: Span::new(target.start_byte(), target.end_byte()),
                    name,
                    methods_after,
                    returned,
                }
            });
        out.push(WithItem {
            call: Span::new(call.start_byte(), call.end_byte()),
            callee: ctx.text(function).to_string(),
            acquires,
            is_async,
            keyword: Span::new(keyword.start_byte(), keyword.end_byte()),
            alias,
        });
    }
}

/// Methods called on `name` in the statements that follow `with` in its
/// block.
fn methods_after(ctx: &FileContext, with: Node, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut next = with.next_named_sibling();
    while let Some(stmt) = next {
        for call in calls_in(ctx, stmt, |_| true) {
            if let Callee::Method { receiver, method } = call.target {
                if receiver == name {
                    out.push(method);
                }
            }
        }
        next = stmt.next_named_sibling();
    }
    out
}
