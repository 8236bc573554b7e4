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

/// Why a rewrite was not offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoRewrite {
    /// The code is not the shape the rewrite handles: nothing to tell.
    Shape,
    /// The shape fits, but the rewrite could change what the program does
    /// or drop part of it; the reason completes the finding's help.
    Unsafe(String),
}

type Rewrite = Result<Vec<Edit>, NoRewrite>;

fn unsafe_because(reason: impl Into<String>) -> NoRewrite {
    NoRewrite::Unsafe(reason.into())
}

/// The source lines `from..to` re-indented by `extra`, unless a string in
/// `stmts` spans lines (re-indenting would change its value).
fn indent_lines(
    text: &str,
    from: usize,
    to: usize,
    stmts: &[Node],
    extra: &str,
    newline: &str,
) -> Result<String, NoRewrite> {
    for s in stmts {
        let mut multiline = false;
        preorder(*s, |n| {
            // Lines are counted in the text, not the parser's points: the
            // parser may have seen a copy with f-string fields on one line.
            if n.kind() == "string" && text[n.byte_range()].contains('\n') {
                multiline = true;
            }
            !multiline
        });
        if multiline {
            return Err(unsafe_because(
                "a string in the block spans lines, and indenting the block would change its value",
            ));
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
    Ok(out)
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The end of the line holding `at`, past its newline.
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// The whitespace that indents the line holding `at`.
fn indent_of(text: &str, at: usize) -> &str {
    let start = line_start(text, at);
    let line = &text[start..];
    &line[..line.len() - line.trim_start_matches([' ', '\t']).len()]
}

const SHARES_ITS_LINE: &str =
    "another statement shares its line, and moving the line would move or drop it";

/// What follows `node` on its line: nothing, or a comment (returned
/// without the line's end). Anything else (`; more()`) is an error.
fn trailing_comment<'a>(text: &'a str, node: Node) -> Result<&'a str, NoRewrite> {
    let after = &text[node.end_byte()..line_end(text, node.end_byte())];
    let after = after.trim_end_matches(['\n', '\r']);
    let code = after.trim_start_matches([' ', '\t']);
    if code.is_empty() || code.starts_with('#') {
        Ok(after)
    } else {
        Err(unsafe_because(SHARES_ITS_LINE))
    }
}

/// The rewrites move whole lines, found by `\n`: a file that ends lines
/// with a lone `\r` (old Mac files) is left to the user.
fn lines_end_in_newlines(text: &str) -> Result<(), NoRewrite> {
    if super::has_lone_cr(text) {
        Err(unsafe_because(
            "the file ends lines with a lone carriage return",
        ))
    } else {
        Ok(())
    }
}

/// `node` starts its line (only indentation before it).
fn starts_line(text: &str, node: Node) -> Result<(), NoRewrite> {
    let before = &text[line_start(text, node.start_byte())..node.start_byte()];
    if before.chars().all(|c| c == ' ' || c == '\t') {
        Ok(())
    } else {
        Err(unsafe_because(SHARES_ITS_LINE))
    }
}

/// The file's own unit of indentation at `stmt`: what its block adds to
/// the line that opens it, or (at the top level) what the file's first
/// indented block adds; four spaces when the file has no indented block.
/// Keeping the unit keeps tab-indented files free of `TabError`.
fn indent_unit<'a>(text: &'a str, root: Node, stmt: Node) -> &'a str {
    fn added<'a>(text: &'a str, block: Node) -> Option<&'a str> {
        let first = block.named_child(0)?;
        let header = block.parent()?;
        let inner = indent_of(text, first.start_byte());
        let outer = indent_of(text, header.start_byte());
        (inner.len() > outer.len() && inner.starts_with(outer)).then(|| &inner[outer.len()..])
    }
    if let Some(unit) = stmt
        .parent()
        .filter(|p| p.kind() == "block")
        .and_then(|b| added(text, b))
    {
        return unit;
    }
    let mut unit = None;
    preorder(root, |n| {
        if unit.is_none() && n.kind() == "block" {
            unit = added(text, n);
        }
        unit.is_none()
    });
    unit.unwrap_or("    ")
}

/// Whether any identifier under `node` is one of `names`.
fn mentions(text: &str, node: Node, names: &[&str]) -> bool {
    let mut found = false;
    preorder(node, |n| {
        found |= n.kind() == "identifier" && names.contains(&&text[n.byte_range()]);
        !found
    });
    found
}

/// The names bound in `stmts` from values computed from `var` (`cur =
/// conn.execute(q)`, `for row in cur`), transitively; `var` included.
/// Values read in full (`rows = cur.fetchall()`) do not count.
fn derived_names<'a>(
    text: &'a str,
    stmts: &[Node],
    var: &'a str,
    reads: &[String],
) -> Vec<&'a str> {
    let mut names = vec![var];
    let mut bindings: Vec<(Node, Node)> = Vec::new();
    for s in stmts {
        preorder(*s, |n| {
            let pair = match n.kind() {
                "assignment" | "augmented_assignment" => n
                    .child_by_field_name("left")
                    .zip(n.child_by_field_name("right")),
                "for_statement" => n
                    .child_by_field_name("left")
                    .zip(n.child_by_field_name("right")),
                "named_expression" => n
                    .child_by_field_name("name")
                    .zip(n.child_by_field_name("value")),
                "as_pattern" => n.child_by_field_name("alias").zip(n.named_child(0)),
                _ => None,
            };
            bindings.extend(pair);
            true
        });
    }
    loop {
        let before = names.len();
        for (target, value) in &bindings {
            if mentions(text, *value, &names) && !is_materialised(text, *value, reads) {
                preorder(*target, |n| {
                    let name = &text[n.byte_range()];
                    if n.kind() == "identifier" && !names.contains(&name) {
                        names.push(name);
                    }
                    true
                });
            }
        }
        if names.len() == before {
            return names;
        }
    }
}

/// Whether `value` is plain data read in full: its outermost call or
/// attribute is one of `reads` (`cur.fetchall()`, `resp.json()`).
fn is_materialised(text: &str, value: Node, reads: &[String]) -> bool {
    let mut v = value;
    // `await r.json()`, `(cur.fetchone())`, `cur.fetchone()[0]`: the read
    // is inside.
    while matches!(v.kind(), "await" | "parenthesized_expression" | "subscript") {
        let inner = if v.kind() == "subscript" {
            v.child_by_field_name("value")
        } else {
            v.named_child(0)
        };
        match inner {
            Some(inner) => v = inner,
            None => return false,
        }
    }
    let attribute = match v.kind() {
        "call" => v.child_by_field_name("function"),
        "attribute" => Some(v),
        _ => None,
    };
    attribute
        .filter(|a| a.kind() == "attribute")
        .and_then(|a| a.child_by_field_name("attribute"))
        .is_some_and(|name| reads.iter().any(|r| r == &text[name.byte_range()]))
}

/// Whether `found` holds for a node of `stmts`, outside nested functions,
/// classes and lambdas (whose code does not run where `stmts` do).
fn any_outside_nested(stmts: &[Node], mut found: impl FnMut(Node) -> bool) -> bool {
    stmts.iter().any(|s| {
        let mut hit = false;
        preorder(*s, |n| {
            if matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            ) && n != *s
            {
                return false;
            }
            hit |= found(n);
            !hit
        });
        hit
    })
}

/// A `return` in `stmts` (outside nested functions) whose value is
/// computed from `var` and may need it open: a cursor, a result, a
/// response whose body is still to be read.
fn returns_derived(text: &str, stmts: &[Node], var: &str, reads: &[String]) -> bool {
    let names = derived_names(text, stmts, var, reads);
    any_outside_nested(stmts, |n| {
        n.kind() == "return_statement"
            && n.named_child(0).is_some_and(|value| {
                mentions(text, value, &names) && !is_materialised(text, value, reads)
            })
    })
}

/// Whether any of `stmts` holds a node of one of `kinds`, outside nested
/// functions and classes.
fn contains_kind(stmts: &[Node], kinds: &[&str]) -> bool {
    any_outside_nested(stmts, |n| kinds.contains(&n.kind()))
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

/// What a `with` rewrite needs to know of the file beyond its text.
pub struct WithBlock<'a> {
    /// The acquisition's call.
    pub call: Span,
    /// The name it is bound to.
    pub var: &'a str,
    /// `with` or `async with`.
    pub keyword: &'a str,
    pub newline: &'a str,
    /// The vocabulary's materialising reads: what a function may return
    /// from inside the block.
    pub reads: &'a [String],
}

/// `x = acquire(...)` + the rest of its block, rewritten as
/// `with acquire(...) as x:` + the rest indented; only when every later use
/// of `x` is through its attributes (`x.execute()`), so nothing hands it on,
/// and nothing the function returns still needs `x` open.
pub fn with_block(text: &str, root: Node, w: &WithBlock) -> Rewrite {
    lines_end_in_newlines(text)?;
    let (call, var) = (w.call, w.var);
    let call_node = root
        .descendant_for_byte_range(call.start, call.end)
        .ok_or(NoRewrite::Shape)?;
    let stmt = statement_of(call_node).ok_or(NoRewrite::Shape)?;
    let assign = stmt
        .named_child(0)
        .filter(|a| a.kind() == "assignment")
        .ok_or(NoRewrite::Shape)?;
    let left = assign
        .child_by_field_name("left")
        .filter(|l| l.kind() == "identifier")
        .ok_or(NoRewrite::Shape)?;
    if &text[left.byte_range()] != var {
        return Err(NoRewrite::Shape);
    }
    let right = assign
        .child_by_field_name("right")
        .ok_or(NoRewrite::Shape)?;
    // The acquisition must be the whole value (optionally awaited for
    // `async with`, which then enters the awaitable itself).
    let value = if right.kind() == "await" {
        right.named_child(0).ok_or(NoRewrite::Shape)?
    } else {
        right
    };
    if value.byte_range() != call.range() {
        return Err(NoRewrite::Shape);
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
    let Some(last) = rest.last().copied() else {
        return Err(NoRewrite::Shape);
    };
    if has_yield(&rest) {
        return Err(NoRewrite::Shape);
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
        return Err(NoRewrite::Shape);
    }
    starts_line(text, stmt)?;
    let comment = trailing_comment(text, stmt)?;
    starts_line(text, rest[0])?;
    trailing_comment(text, last)?;
    if text[stmt.byte_range()].contains('\n') {
        return Err(unsafe_because(
            "the acquisition spans several lines; write the `with` by hand",
        ));
    }
    if returns_derived(text, &rest, var, w.reads) {
        return Err(unsafe_because(format!(
            "the function returns a value computed from `{var}` (a cursor, a result, a response), which may still need `{var}` open once the block has closed it"
        )));
    }
    let indent = indent_of(text, stmt.start_byte());
    let unit = indent_unit(text, root, stmt);
    let stmt_line = line_start(text, stmt.start_byte());
    let stmt_end = line_end(text, stmt.end_byte());
    let body_to = line_end(text, last.end_byte());
    let body = indent_lines(text, stmt_end, body_to, &rest, unit, w.newline)?;
    let head = format!(
        "{indent}{} {} as {var}:{comment}{}",
        w.keyword,
        &text[value.byte_range()],
        w.newline
    );
    Ok(vec![Edit {
        span: Span::new(stmt_line, body_to),
        content: format!("{head}{body}"),
    }])
}

fn shape<T>(n: Option<T>) -> Result<T, NoRewrite> {
    n.ok_or(NoRewrite::Shape)
}

/// `x = acquire()`, statements, `x.close()` (all in one block):
/// the statements go into `try:` and the release into `finally:`.
pub fn try_finally(text: &str, root: Node, call: Span, release: Span, newline: &str) -> Rewrite {
    lines_end_in_newlines(text)?;
    let acquire_stmt = shape(
        root.descendant_for_byte_range(call.start, call.end)
            .and_then(statement_of),
    )?;
    let release_call = shape(root.descendant_for_byte_range(release.start, release.end))?;
    let release_stmt = shape(statement_of(release_call))?;
    if shape(acquire_stmt.parent())?.id() != shape(release_stmt.parent())?.id()
        || release_stmt.kind() != "expression_statement"
    {
        return Err(NoRewrite::Shape);
    }
    // The release statement is the call alone (or awaited).
    let expr = shape(release_stmt.named_child(0))?;
    let expr_call = if expr.kind() == "await" {
        shape(expr.named_child(0))?
    } else {
        expr
    };
    if expr_call.byte_range() != release.range() || text[release_stmt.byte_range()].contains('\n') {
        return Err(NoRewrite::Shape);
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
    if next.is_none() || between.is_empty() || has_early_exit(&between) {
        return Err(NoRewrite::Shape);
    }
    starts_line(text, acquire_stmt)?;
    starts_line(text, between[0])?;
    starts_line(text, release_stmt)?;
    let release_comment = trailing_comment(text, release_stmt)?;
    let indent = indent_of(text, acquire_stmt.start_byte());
    let unit = indent_unit(text, root, acquire_stmt);
    let body_from = line_start(text, between[0].start_byte());
    let body_to = line_start(text, release_stmt.start_byte());
    let body = indent_lines(text, body_from, body_to, &between, unit, newline)?;
    let release_line_end = line_end(text, release_stmt.end_byte());
    let release_text = &text[release_stmt.byte_range()];
    Ok(vec![Edit {
        span: Span::new(body_from, release_line_end),
        content: format!(
            "{indent}try:{newline}{body}{indent}finally:{newline}{indent}{unit}{release_text}{release_comment}{newline}"
        ),
    }])
}

/// Edits that wrap the expression at `span` in a call to `qualified`
/// (`contextlib.closing`): with the file's own spelling of it when its
/// imports have one, else fully qualified after a new `import` of its
/// module. Returns the spelling used and the edits; `None` when the new
/// import would be shadowed (the module binds or uses that name itself).
pub(crate) fn wrap_in_call(
    module: &PyModule,
    span: Span,
    qualified: &str,
    newline: &str,
) -> Option<(String, Vec<Edit>)> {
    let mut edits = Vec::new();
    let spelling = match module.imports.spelling_of(qualified) {
        Some(spelling) => spelling,
        None => {
            let imported = qualified.rsplit_once('.').map_or(qualified, |(m, _)| m);
            let root_name = imported.split('.').next().unwrap_or(imported);
            let mut taken = false;
            preorder(module.tree.root_node(), |n| {
                taken |= n.kind() == "identifier" && &module.text[n.byte_range()] == root_name;
                !taken
            });
            if taken {
                return None;
            }
            edits.push(Edit::insertion(
                import_insertion_point(module),
                format!("import {imported}{newline}"),
            ));
            qualified.to_string()
        }
    };
    edits.push(Edit::insertion(span.start, format!("{spelling}(")));
    edits.push(Edit::insertion(span.end, ")"));
    Some((spelling, edits))
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
