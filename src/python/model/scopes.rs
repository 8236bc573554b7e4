//! Long-lived scopes: the module and each class body, whose statements run
//! once and whose bindings live as long as the module or the class.

use std::collections::HashMap;

use tree_sitter::Node;

use super::calls::{calls_in, Call};
use super::classes::Class;
use crate::diagnostic::Span;
use crate::python::context::FileContext;
use crate::python::simple_assignment;
use crate::resources::ResourceSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeKind {
    Module,
    Class,
}

/// The statements of one scope, in order.
#[derive(Debug)]
pub(crate) struct Scope<'a> {
    pub kind: ScopeKind,
    pub statements: Vec<Statement<'a>>,
}

/// One statement of a scope.
#[derive(Debug, Default)]
pub(crate) struct Statement<'a> {
    /// `name = <acquisition>`.
    pub binding: Option<Binding<'a>>,
    /// The calls it makes, outside nested functions and classes; filled
    /// only in scopes that bind an acquisition (nothing else asks).
    pub calls: Vec<Call>,
}

/// `name = <call that acquires spec>` as a whole statement.
#[derive(Debug, Clone)]
pub(crate) struct Binding<'a> {
    pub name: String,
    pub spec: &'a ResourceSpec,
    /// The acquiring call.
    pub call: Span,
    /// The receiver of the acquiring call's callee, as written: `conn` for
    /// `cur = conn.cursor()`, `sqlite3` for `sqlite3.connect(...)`.
    pub receiver: Option<String>,
}

pub(super) fn collect<'a>(ctx: &FileContext<'a>, classes: &[Class<'a>]) -> Vec<Scope<'a>> {
    let mut out = vec![scope(ctx, ctx.module.tree.root_node(), ScopeKind::Module)];
    for class in classes {
        if let Some(body) = class.node.child_by_field_name("body") {
            out.push(scope(ctx, body, ScopeKind::Class));
        }
    }
    out
}

fn scope<'a>(ctx: &FileContext<'a>, node: Node<'a>, kind: ScopeKind) -> Scope<'a> {
    let no_types = HashMap::new();
    let mut cursor = node.walk();
    let stmts: Vec<Node> = node.named_children(&mut cursor).collect();
    let mut statements: Vec<Statement<'a>> = stmts
        .iter()
        .map(|stmt| Statement {
            binding: simple_assignment(*stmt).and_then(|(left, right)| {
                let (spec, call) = ctx.acquisition(right, &no_types, &no_types, None)?;
                Some(Binding {
                    name: ctx.text(left).to_string(),
                    spec,
                    call: Span::new(call.start_byte(), call.end_byte()),
                    receiver: call
                        .child_by_field_name("function")
                        .and_then(|f| f.child_by_field_name("object"))
                        .map(|o| ctx.text(o).to_string()),
                })
            }),
            calls: Vec::new(),
        })
        .collect();
    if statements.iter().any(|s| s.binding.is_some()) {
        for (statement, node) in statements.iter_mut().zip(&stmts) {
            statement.calls = calls_in(ctx, *node, |n| {
                !matches!(n.kind(), "function_definition" | "class_definition")
            });
        }
    }
    Scope { kind, statements }
}
