//! Calls as plain data: what is called, on what, with which arguments,
//! all as source text, so that rules can compare names without a tree.

use tree_sitter::Node;

use crate::diagnostic::Span;
use crate::python::context::FileContext;
use crate::python::{argument_value, preorder};

/// One call expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Call {
    pub span: Span,
    /// The callee as written (`app.state.db.close`, `close_db`).
    pub callee: String,
    pub target: Callee,
    /// The named children of the argument list, in order (comments
    /// included, as the parser gives them).
    pub args: Vec<Argument>,
}

/// The shape of a callee.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Callee {
    /// `f(...)`: a plain name.
    Name(String),
    /// `receiver.method(...)`, both as written.
    Method { receiver: String, method: String },
    /// Anything else (`f()()`, `d[k]()`).
    Other,
}

/// One argument of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Argument {
    /// The argument as written: `x` or `key=x`.
    pub text: String,
    /// The value it passes: `x` for both.
    pub value: String,
}

impl Call {
    /// The receiver text for `receiver.method(...)`.
    pub(crate) fn receiver(&self) -> Option<&str> {
        match &self.target {
            Callee::Method { receiver, .. } => Some(receiver),
            _ => None,
        }
    }
}

/// Describes the call node `call`.
pub(super) fn describe(ctx: &FileContext, call: Node) -> Call {
    let function = call.child_by_field_name("function");
    let target = match function {
        Some(f) if f.kind() == "identifier" => Callee::Name(ctx.text(f).to_string()),
        Some(f) if f.kind() == "attribute" => match f.child_by_field_name("object") {
            Some(o) => Callee::Method {
                receiver: ctx.text(o).to_string(),
                method: f
                    .child_by_field_name("attribute")
                    .map(|a| ctx.text(a))
                    .unwrap_or("")
                    .to_string(),
            },
            None => Callee::Other,
        },
        _ => Callee::Other,
    };
    let mut args = Vec::new();
    if let Some(list) = call.child_by_field_name("arguments") {
        let mut cursor = list.walk();
        for a in list.named_children(&mut cursor) {
            args.push(Argument {
                text: ctx.text(a).to_string(),
                value: ctx.text(argument_value(a)).to_string(),
            });
        }
    }
    Call {
        span: Span::new(call.start_byte(), call.end_byte()),
        callee: function.map(|f| ctx.text(f)).unwrap_or("").to_string(),
        target,
        args,
    }
}

/// Every call in `node` (itself included), in document order; `enter`
/// says whether to look inside a node.
pub(super) fn calls_in(ctx: &FileContext, node: Node, enter: impl Fn(Node) -> bool) -> Vec<Call> {
    let mut out = Vec::new();
    preorder(node, |n| {
        if !enter(n) {
            return false;
        }
        if n.kind() == "call" {
            out.push(describe(ctx, n));
        }
        true
    });
    out
}
