//! Structural rewrites behind the fixes: turn `x = acquire(); rest` into
//! `with acquire() as x: rest` and wrap the statements between an
//! acquisition and its release in `try`/`finally` (LK101, LK102); wrap an
//! expression in a call, importing the callee's module (LK104).
//! Each returns `None` unless the shape is one where the rewrite keeps the
//! program's structure: statements of one block, no multi-line strings
//! (re-indenting would change them), no control flow that would leave the
//! new block early in a way the old code did not.

use tree_sitter::Node;

use super::{preorder, PyModule};
use crate::diagnostic::{Edit, Span};

/// The statement (a direct child of a block or module) that holds `node`.
fn statement_of(node: Node) -> Option<Node> {
    let mut n = node;
    loop {
        let parent = n.parent()?;
        if matches!(parent.kind(), "block" | "module") {
            return Some(n);
        }
        n = parent;
    }
}

/// The source lines of `stmts` re-indented by `extra`, unless a string
/// spans lines (re-indenting would change its value).
fn indent_lines(
    text: &str,
    from: usize,
    to: usize,
    stmts: &[Node],
    extra: &str,
    newline: &str,
) -> Option<String> {
    for s in stmts {
        let mut multiline = false;
        preorder(*s, |n| {
            if n.kind() == "string" && n.start_position().row != n.end_position().row {
                multiline = true;
            }
            !multiline
        });
        if multiline {
            return None;
        }
    }
    let mut out = String::new();
    for line in text[from..to].split_inclusive('\n') {
        if line.trim().is_empty() {
            out.push_str(line);
        } else {
            out.push_str(extra);
            out.push_str(line);
        }
    }
    if !out.ends_with('\n') {
        out.push_str(newline);
    }
    Some(out)
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The end of the line holding `at`, past its newline.
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// Whether any of `stmts` holds a node of one of `kinds`, outside nested
/// functions and classes.
fn contains_kind(stmts: &[Node], kinds: &[&str]) -> bool {
    stmts.iter().any(|s| {
        let mut found = false;
        preorder(*s, |n| {
            if matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            ) && n != *s
            {
                return false;
            }
            found |= kinds.contains(&n.kind());
            !found
        });
        found
    })
}

fn has_yield(stmts: &[Node]) -> bool {
    contains_kind(stmts, &["yield"])
}

fn has_early_exit(stmts: &[Node]) -> bool {
    contains_kind(
        stmts,
        &[
            "return_statement",
            "yield",
            "break_statement",
            "continue_statement",
        ],
    )
}

/// `x = acquire(...)` + the rest of its block, rewritten as
/// `with acquire(...) as x:` + the rest indented; only when every later use
/// of `x` is through its attributes (`x.execute()`), so nothing hands it on.
pub fn with_block(
    text: &str,
    root: Node,
    call: Span,
    var: &str,
    keyword: &str,
    newline: &str,
) -> Option<Vec<Edit>> {
    let call_node = root.descendant_for_byte_range(call.start, call.end)?;
    let stmt = statement_of(call_node)?;
    let assign = stmt.named_child(0).filter(|a| a.kind() == "assignment")?;
    let left = assign
        .child_by_field_name("left")
        .filter(|l| l.kind() == "identifier")?;
    if &text[left.byte_range()] != var || stmt.start_position().row != stmt.end_position().row {
        return None;
    }
    let right = assign.child_by_field_name("right")?;
    // The acquisition must be the whole value (optionally awaited for
    // `async with`, which then enters the awaitable itself).
    let value = if right.kind() == "await" {
        right.named_child(0)?
    } else {
        right
    };
    if value.byte_range() != call.range() {
        return None;
    }
    let mut rest = Vec::new();
    let mut next = stmt.next_named_sibling();
    while let Some(n) = next {
        if n.kind() != "comment" {
            rest.push(n);
        }
        next = n.next_named_sibling();
    }
    // A `return` may stay: its value is computed before the block closes
    // the resource (and the resource itself cannot be what is returned,
    // see below). A `yield` would suspend inside the new block.
    if rest.is_empty() || has_yield(&rest) {
        return None;
    }
    // Every use of the name is `var.attr`.
    let mut only_attributes = true;
    for s in &rest {
        preorder(*s, |n| {
            if n.kind() == "identifier" && &text[n.byte_range()] == var {
                let ok = n.parent().is_some_and(|p| {
                    p.kind() == "attribute"
                        && p.child_by_field_name("object")
                            .is_some_and(|o| o.id() == n.id())
                });
                only_attributes &= ok;
            }
            only_attributes
        });
    }
    if !only_attributes {
        return None;
    }
    let indent = &text[line_start(text, stmt.start_byte())..stmt.start_byte()];
    if !indent.chars().all(|c| c == ' ' || c == '\t') {
        return None;
    }
    let last = rest.last()?;
    let stmt_line = line_start(text, stmt.start_byte());
    let stmt_end = line_end(text, stmt.end_byte());
    let body_to = line_end(text, last.end_byte());
    let body = indent_lines(text, stmt_end, body_to, &rest, "    ", newline)?;
    let head = format!(
        "{indent}{keyword} {} as {var}:{newline}",
        &text[value.byte_range()]
    );
    Some(vec![Edit {
        span: Span::new(stmt_line, body_to),
        content: format!("{head}{body}"),
    }])
}

/// `x = acquire()`, statements, `x.close()` (all in one block):
/// the statements go into `try:` and the release into `finally:`.
pub fn try_finally(
    text: &str,
    root: Node,
    call: Span,
    release: Span,
    newline: &str,
) -> Option<Vec<Edit>> {
    let acquire_stmt = statement_of(root.descendant_for_byte_range(call.start, call.end)?)?;
    let release_call = root.descendant_for_byte_range(release.start, release.end)?;
    let release_stmt = statement_of(release_call)?;
    if acquire_stmt.parent()?.id() != release_stmt.parent()?.id()
        || release_stmt.kind() != "expression_statement"
    {
        return None;
    }
    // The release statement is the call alone (or awaited).
    let expr = release_stmt.named_child(0)?;
    let expr_call = if expr.kind() == "await" {
        expr.named_child(0)?
    } else {
        expr
    };
    if expr_call.byte_range() != release.range()
        || release_stmt.start_position().row != release_stmt.end_position().row
    {
        return None;
    }
    let mut between = Vec::new();
    let mut next = acquire_stmt.next_named_sibling();
    while let Some(n) = next {
        if n.id() == release_stmt.id() {
            break;
        }
        if n.kind() != "comment" {
            between.push(n);
        }
        next = n.next_named_sibling();
    }
    next?;
    if between.is_empty() || has_early_exit(&between) {
        return None;
    }
    let indent = &text[line_start(text, acquire_stmt.start_byte())..acquire_stmt.start_byte()];
    if !indent.chars().all(|c| c == ' ' || c == '\t') {
        return None;
    }
    let body_from = line_start(text, between[0].start_byte());
    let body_to = line_start(text, release_stmt.start_byte());
    let body = indent_lines(text, body_from, body_to, &between, "    ", newline)?;
    let release_line_end = line_end(text, release_stmt.end_byte());
    let release_text = &text[release_stmt.byte_range()];
    Some(vec![Edit {
        span: Span::new(body_from, release_line_end),
        content: format!("{indent}try:{newline}{body}{indent}finally:{newline}{indent}    {release_text}{newline}"),
    }])
}

/// Edits that wrap the expression at `span` in a call to `qualified`
/// (`contextlib.closing`): with the file's own spelling of it when its
/// imports have one, else fully qualified after a new `import` of its
/// module. Returns the spelling used and the edits.
pub(crate) fn wrap_in_call(
    module: &PyModule,
    span: Span,
    qualified: &str,
    newline: &str,
) -> (String, Vec<Edit>) {
    let mut edits = Vec::new();
    let spelling = match module.imports.spelling_of(qualified) {
        Some(spelling) => spelling,
        None => {
            let imported = qualified.rsplit_once('.').map_or(qualified, |(m, _)| m);
            edits.push(Edit::insertion(
                import_insertion_point(module),
                format!("import {imported}{newline}"),
            ));
            qualified.to_string()
        }
    };
    edits.push(Edit::insertion(span.start, format!("{spelling}(")));
    edits.push(Edit::insertion(span.end, ")"));
    (spelling, edits)
}

/// Where a new top-level import goes: after the module docstring and any
/// `from __future__` imports, at the start of the first other statement's
/// line.
fn import_insertion_point(module: &PyModule) -> usize {
    let root = module.tree.root_node();
    let mut cursor = root.walk();
    for (i, stmt) in root.named_children(&mut cursor).enumerate() {
        let is_docstring = i == 0
            && stmt.kind() == "expression_statement"
            && stmt.named_child(0).is_some_and(|c| c.kind() == "string");
        if is_docstring || stmt.kind() == "future_import_statement" || stmt.kind() == "comment" {
            continue;
        }
        let start = stmt.start_byte();
        return module.text[..start].rfind('\n').map_or(0, |i| i + 1);
    }
    module.text.len()
}
