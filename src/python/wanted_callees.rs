//! Questions to the project about helpers that are handed an
//! acquisition to run.
//!
//! `self.throttle_request(lambda: pymysql.connect(...))` opens a
//! connection only if the helper calls its argument and hands the result
//! back, which its summary says (`returns_call_of`). Such helpers are
//! often plain code (a throttle, a retry loop) in a module that names no
//! library, so the prefilter never admits their module and no summary
//! exists. A file that hands an acquiring lambda to a project helper with
//! no summary asks for one: `<helper>#wanted`, whose last name admits the
//! files that define it (see `check::words`). A helper that only passes
//! its callable on to another one asks in turn (`Lowered::wants`).

use tree_sitter::Node;

use super::context::{FileContext, FnSummary};

/// `<helper>#wanted` for each project helper of another module that this
/// file hands an acquiring lambda to and that no summary describes.
pub fn wanted_callees(ctx: &FileContext) -> Vec<(String, FnSummary)> {
    let mut keys = Vec::new();
    // The text check first: most files never write a lambda.
    if ctx.module.text.contains("lambda") {
        walk(ctx, ctx.module.tree.root_node(), None, false, &mut keys);
    }
    wanted(keys)
}

/// The `#wanted` summaries for these keys (helpers, or project base
/// classes: `owners::wanted_bases`), once each.
pub fn wanted(mut keys: Vec<String>) -> Vec<(String, FnSummary)> {
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|k| {
            (
                format!("{k}#wanted"),
                FnSummary {
                    wanted: true,
                    ..FnSummary::default()
                },
            )
        })
        .collect()
}

/// `class`: the class whose method's body `node` is in, as lowering
/// qualifies `self.m()` (a method's own body, not a nested function's);
/// `class_body`: `node` is that class's body.
fn walk(
    ctx: &FileContext,
    node: Node,
    class: Option<&str>,
    class_body: bool,
    out: &mut Vec<String>,
) {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        match child.kind() {
            "class_definition" => {
                let name = child.child_by_field_name("name").map(|n| ctx.text(n));
                if let Some(body) = child.child_by_field_name("body") {
                    walk(ctx, body, name, true, out);
                }
            }
            "function_definition" => {
                walk(ctx, child, class.filter(|_| class_body), false, out);
            }
            "decorated_definition" => walk(ctx, child, class, class_body, out),
            "call" => {
                handed_lambda(ctx, child, class, out);
                walk(ctx, child, class, false, out);
            }
            _ => walk(ctx, child, class, false, out),
        }
    }
}

/// Records the helper `call` calls when it hands it a lambda that
/// acquires and no summary says what the helper does with it.
fn handed_lambda(ctx: &FileContext, call: Node, class: Option<&str>, out: &mut Vec<String>) {
    let Some(args) = call.child_by_field_name("arguments") else {
        return;
    };
    let mut cursor = args.walk();
    let lambdas: Vec<usize> = args
        .named_children(&mut cursor)
        .filter(|a| a.kind() != "comment")
        .take_while(|a| {
            !matches!(
                a.kind(),
                "keyword_argument" | "list_splat" | "dictionary_splat"
            )
        })
        .enumerate()
        .filter(|(_, a)| a.kind() == "lambda")
        .map(|(i, _)| i)
        .collect();
    if lambdas.is_empty() {
        return;
    }
    let Some(callee) = call.child_by_field_name("function") else {
        return;
    };
    if ctx
        .qualify(callee, class)
        .is_some_and(|q| ctx.summaries.get(&q).is_some())
    {
        return;
    }
    let empty = Default::default();
    let acquires = lambdas.iter().any(|&i| {
        ctx.callable_acquisition(call, i, &empty, &empty, class)
            .is_some()
    });
    if acquires {
        out.extend(ctx.unanswered_callee_keys(callee, class));
    }
}
