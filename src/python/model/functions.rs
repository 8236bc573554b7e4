//! Functions with their decorators, and what their bodies assign and call:
//! what LK108 needs to pair startup handlers and lifespans with the code
//! that closes what they open.

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::calls::{calls_in, Call};
use crate::diagnostic::Span;
use crate::python::context::FileContext;
use crate::python::preorder;
use crate::resources::ResourceSpec;

/// A function that is decorated or defined at module level.
pub(crate) struct Function<'a> {
    pub name: String,
    /// Defined directly in the module (possibly decorated).
    pub top_level: bool,
    pub decorators: Vec<Decorator>,
    def: Node<'a>,
    body: OnceCell<FunctionBody<'a>>,
}

/// One decorator: `@name`, `@a.b` or `@callee(first, ...)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decorator {
    /// The whole decorator as written, `@` included.
    pub text: String,
    /// For a call, its callee as written (`app.on_event`).
    pub callee: Option<String>,
    /// For a call, its first argument as written (`"startup"`).
    pub first_argument: Option<String>,
}

/// What a function's code does.
#[derive(Debug, Default)]
pub(crate) struct FunctionBody<'a> {
    /// The body block, when the parser found one.
    pub span: Option<Span>,
    /// Where the first `yield` of the body starts (nested code included).
    pub first_yield: Option<usize>,
    /// Assignments of the body (nested code included), in document order.
    pub assignments: Vec<Assignment<'a>>,
    /// Every call of the definition (parameters' defaults and nested code
    /// included), in document order.
    pub calls: Vec<Call>,
}

/// `target = value`.
#[derive(Debug, Clone)]
pub(crate) struct Assignment<'a> {
    pub start: usize,
    /// The target as written (`app.state.client`).
    pub target: String,
    /// The value as written.
    pub value: String,
    /// When the value acquires: the resource and the acquiring call.
    pub acquires: Option<(&'a ResourceSpec, Span)>,
}

impl<'a> Function<'a> {
    pub(super) fn body(&self, ctx: &FileContext<'a>) -> &FunctionBody<'a> {
        self.body.get_or_init(|| body_of(ctx, self.def))
    }
}

pub(super) fn collect<'a>(ctx: &FileContext<'a>) -> Vec<Function<'a>> {
    let root = ctx.module.tree.root_node();
    let mut top = HashSet::new();
    let mut cursor = root.walk();
    for c in root.named_children(&mut cursor) {
        let def = if c.kind() == "decorated_definition" {
            c.child_by_field_name("definition")
        } else {
            Some(c)
        };
        if let Some(def) = def.filter(|d| d.kind() == "function_definition") {
            top.insert(def.id());
        }
    }
    let mut decorated = HashSet::new();
    let mut out = Vec::new();
    preorder(root, |n| {
        match n.kind() {
            "decorated_definition" => {
                if let Some(def) = n
                    .child_by_field_name("definition")
                    .filter(|d| d.kind() == "function_definition")
                {
                    decorated.insert(def.id());
                    out.push(function(
                        ctx,
                        def,
                        decorators(ctx, n),
                        top.contains(&def.id()),
                    ));
                }
            }
            "function_definition" if top.contains(&n.id()) && !decorated.contains(&n.id()) => {
                out.push(function(ctx, n, Vec::new(), true));
            }
            _ => {}
        }
        true
    });
    out
}

fn function<'a>(
    ctx: &FileContext<'a>,
    def: Node<'a>,
    decorators: Vec<Decorator>,
    top_level: bool,
) -> Function<'a> {
    Function {
        name: def
            .child_by_field_name("name")
            .map(|n| ctx.text(n))
            .unwrap_or("")
            .to_string(),
        top_level,
        decorators,
        def,
        body: OnceCell::new(),
    }
}

fn decorators(ctx: &FileContext, decorated: Node) -> Vec<Decorator> {
    let mut cursor = decorated.walk();
    decorated
        .named_children(&mut cursor)
        .filter(|c| c.kind() == "decorator")
        .map(|d| {
            let call = d.named_child(0).filter(|e| e.kind() == "call");
            Decorator {
                text: ctx.text(d).to_string(),
                callee: call.map(|c| {
                    c.child_by_field_name("function")
                        .map(|f| ctx.text(f))
                        .unwrap_or("")
                        .to_string()
                }),
                first_argument: call.map(|c| {
                    c.child_by_field_name("arguments")
                        .and_then(|a| a.named_child(0))
                        .map(|a| ctx.text(a))
                        .unwrap_or("")
                        .to_string()
                }),
            }
        })
        .collect()
}

fn body_of<'a>(ctx: &FileContext<'a>, def: Node<'a>) -> FunctionBody<'a> {
    let mut out = FunctionBody {
        calls: calls_in(ctx, def, |_| true),
        ..FunctionBody::default()
    };
    let Some(body) = def.child_by_field_name("body") else {
        return out;
    };
    out.span = Some(Span::new(body.start_byte(), body.end_byte()));
    let no_types = HashMap::new();
    preorder(body, |n| {
        match n.kind() {
            "yield" if out.first_yield.is_none() => out.first_yield = Some(n.start_byte()),
            "assignment" => {
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) {
                    out.assignments.push(Assignment {
                        start: n.start_byte(),
                        target: ctx.text(l).to_string(),
                        value: ctx.text(r).to_string(),
                        acquires: ctx.acquisition(r, &no_types, &no_types, None).map(
                            |(spec, call)| (spec, Span::new(call.start_byte(), call.end_byte())),
                        ),
                    });
                }
            }
            _ => {}
        }
        true
    });
    out
}
