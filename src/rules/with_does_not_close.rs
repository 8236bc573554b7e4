crate::declare_rule! {
    /// ## What it does
    /// Finds `with` statements whose context manager is a fresh database
    /// connection from a library whose connection `__exit__` ends the
    /// transaction but does **not** close the connection: `sqlite3` and
    /// `psycopg2` (and any resource declared with `with = "transaction"`),
    /// also when a project factory returns one (`with get_conn() as
    /// conn:`). A block that returns the connection (`with
    /// sqlite3.connect(p) as db: ...; return db`) hands it to the caller
    /// open, which is the caller's to close: not reported here, and the
    /// function's callers acquire it.
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

use crate::diagnostic::{Applicability, Edit, Finding, Fix};
use crate::python::model::{Model, WithItem};
use crate::resources::WithSemantics;

/// Reports every `with` item whose context manager is a call that acquires
/// a resource whose `with` only ends a transaction.
fn check(model: &Model, crlf: bool) -> Vec<Finding> {
    let mut findings = Vec::new();
    for item in model.with_items() {
        let transaction_only = item.acquires.iter().any(|spec| {
            let semantics = if item.is_async {
                spec.async_with
            } else {
                spec.with_semantics
            };
            semantics == Some(WithSemantics::Transaction)
        });
        if !transaction_only || closed_after(item) {
            continue;
        }
        let callee = &item.callee;
        let mut finding = WITH_DOES_NOT_CLOSE
            .finding(
                item.call,
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
                item.keyword,
                "this block ends the transaction, not the connection",
            );
        match closing_fix(model, item, crlf) {
            Some(fix) => finding = finding.with_fix(fix),
            None => finding.help.push_str(
                " No automatic fix: the module binds the name `contextlib` itself, which would shadow the import a fix adds.",
            ),
        }
        findings.push(finding);
    }
    findings
}

/// Whether a statement after the `with` block (in the same block) closes
/// the connection it bound: `with sqlite3.connect(p) as conn: ...` then
/// `conn.close()` is the transaction idiom plus an explicit close.
fn closed_after(item: &WithItem) -> bool {
    item.alias
        .as_ref()
        .is_some_and(|alias| alias.returned || alias.methods_after.iter().any(|m| m == "close"))
}

/// Wraps the call in `closing(...)`, re-enters the alias to keep the
/// transaction, and imports `contextlib` when the file cannot spell
/// `closing` yet.
fn closing_fix(model: &Model, item: &WithItem, crlf: bool) -> Option<Fix> {
    let newline = if crlf { "\r\n" } else { "\n" };
    let (closing, mut edits) = model.wrap_in_call(item.call, "contextlib.closing", newline)?;
    let mut message = format!("Wrap in `{closing}(...)`");
    if let Some(alias) = &item.alias {
        let name = &alias.name;
        edits.push(Edit::insertion(alias.span.end, format!(", {name}")));
        message.push_str(&format!(" and keep `{name}` as the transaction context"));
    }
    Some(Fix::new(Applicability::Unsafe, message, edits))
}

fn run(cx: &crate::rules::PythonContext) -> Vec<Finding> {
    check(cx.model(), cx.source.uses_crlf())
}
