crate::declare_rule! {
    /// ## What it does
    /// Finds `with` statements whose context manager is a fresh database
    /// connection from a library whose connection `__exit__` ends the
    /// transaction but does **not** close the connection: `sqlite3` and
    /// `psycopg2` (and any resource declared with `with = "transaction"`).
    ///
    /// ## Why is this bad?
    /// `with sqlite3.connect(path) as conn:` reads like it scopes the
    /// connection, but on exit it only commits (or rolls back on error).
    /// The connection stays open until the garbage collector gets to it,
    /// which is never guaranteed: file handles, server backends and pool
    /// slots pile up. Both libraries document this; psycopg 3 changed it
    /// (its `with psycopg.connect()` does close), which makes the old
    /// idiom even easier to misread.
    ///
    /// ## Example
    /// ```python
    /// import sqlite3
    ///
    /// with sqlite3.connect("app.db") as conn:
    ///     conn.execute("INSERT INTO t VALUES (1)")
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// import contextlib
    /// import sqlite3
    ///
    /// with contextlib.closing(sqlite3.connect("app.db")) as conn, conn:
    ///     conn.execute("INSERT INTO t VALUES (1)")
    /// ```
    /// `closing(...)` closes the connection; the second item, `conn`, keeps
    /// the commit-or-rollback of the original `with`.
    ///
    /// ## Fix safety
    /// The fix wraps the call in `contextlib.closing(...)` (adding the
    /// import when missing) and keeps the transaction by entering the
    /// connection as a second context manager. It is unsafe: code that
    /// uses the connection after the `with` block would now find it closed.
    pub static WITH_DOES_NOT_CLOSE = {
        code: "LK104",
        name: "with-does-not-close",
        severity: Error,
        fix: Sometimes,
        needs: Syntax,
        check: Python(run),
        summary: "A `with` block on a connection that commits but does not close it.",
    }
}

use tree_sitter::Node;

use crate::diagnostic::{Applicability, Edit, Finding, Fix, Span};
use crate::python::{preorder, PyModule};
use crate::resources::{ResourceTable, WithSemantics};

/// Reports every `with` item whose context manager is a call that acquires
/// a resource whose `with` only ends a transaction.
pub fn check(module: &PyModule, resources: &ResourceTable, crlf: bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    preorder(module.tree.root_node(), |node| {
        if node.kind() == "with_statement" {
            check_with(module, resources, node, crlf, &mut findings);
        }
        true
    });
    findings
}

fn check_with(
    module: &PyModule,
    resources: &ResourceTable,
    with: Node,
    crlf: bool,
    out: &mut Vec<Finding>,
) {
    let is_async = with.child(0).is_some_and(|c| c.kind() == "async");
    let Some(clause) = with
        .children(&mut with.walk())
        .find(|c| c.kind() == "with_clause")
    else {
        return;
    };
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
        let Some(qualified) = module.imports.resolve(function, module.text) else {
            continue;
        };
        let transaction_only = resources.acquired_by_call(&qualified).any(|(spec, _)| {
            let semantics = if is_async {
                spec.async_with
            } else {
                spec.with_semantics
            };
            semantics == Some(WithSemantics::Transaction)
        });
        if !transaction_only || closed_after(module, with, alias) {
            continue;
        }
        let callee = module.node_text(function);
        let keyword = with.child(u32::from(is_async)).unwrap_or(with);
        let finding = WITH_DOES_NOT_CLOSE
            .finding(
                Span::new(call.start_byte(), call.end_byte()),
                format!(
                    "`with {callee}(...)` commits or rolls back on exit but does not close the connection"
                ),
                format!(
                    "Wrap the call in `contextlib.closing(...)` so the block closes the connection, \
                     and enter the connection as a second item to keep the transaction: \
                     `with contextlib.closing({callee}(...)) as conn, conn:`"
                ),
            )
            .with_label(
                Span::new(keyword.start_byte(), keyword.end_byte()),
                "this block ends the transaction, not the connection",
            );
        out.push(finding.with_fix(closing_fix(module, call, alias, crlf)));
    }
}

/// Whether a statement after the `with` block (in the same block) closes
/// the connection it bound: `with sqlite3.connect(p) as conn: ...` then
/// `conn.close()` is the transaction idiom plus an explicit close.
fn closed_after(module: &PyModule, with: Node, alias: Option<Node>) -> bool {
    let Some(target) = alias
        .and_then(|a| a.named_child(0).or(Some(a)))
        .filter(|t| t.kind() == "identifier")
    else {
        return false;
    };
    let name = module.node_text(target);
    let mut next = with.next_named_sibling();
    while let Some(stmt) = next {
        let mut found = false;
        preorder(stmt, |n| {
            if n.kind() == "call" {
                if let Some(f) = n
                    .child_by_field_name("function")
                    .filter(|f| f.kind() == "attribute")
                {
                    found |= f
                        .child_by_field_name("object")
                        .is_some_and(|o| module.node_text(o) == name)
                        && f.child_by_field_name("attribute")
                            .is_some_and(|a| module.node_text(a) == "close");
                }
            }
            !found
        });
        if found {
            return true;
        }
        next = stmt.next_named_sibling();
    }
    false
}

/// Wraps `call` in `closing(...)`, re-enters the alias to keep the
/// transaction, and imports `contextlib` when the file cannot spell
/// `closing` yet.
fn closing_fix(module: &PyModule, call: Node, alias: Option<Node>, crlf: bool) -> Fix {
    let mut edits = Vec::new();
    let closing = match module.imports.spelling_of("contextlib.closing") {
        Some(spelling) => spelling,
        None => {
            let newline = if crlf { "\r\n" } else { "\n" };
            edits.push(Edit::insertion(
                import_insertion_point(module),
                format!("import contextlib{newline}"),
            ));
            "contextlib.closing".to_string()
        }
    };
    edits.push(Edit::insertion(call.start_byte(), format!("{closing}(")));
    edits.push(Edit::insertion(call.end_byte(), ")"));
    let mut message = format!("Wrap in `{closing}(...)`");
    if let Some(target) = alias.and_then(|a| a.named_child(0).or(Some(a))) {
        if target.kind() == "identifier" {
            let name = module.node_text(target);
            edits.push(Edit::insertion(target.end_byte(), format!(", {name}")));
            message.push_str(&format!(" and keep `{name}` as the transaction context"));
        }
    }
    Fix::new(Applicability::Unsafe, message, edits)
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

fn run(cx: &crate::rules::PythonContext) -> Vec<Finding> {
    check(cx.module(), cx.resources(), cx.source.uses_crlf())
}
