crate::declare_rule! {
    /// ## What it does
    /// Finds a resource that is released (or returned, or handed over) on
    /// the success path but stays open when something between the
    /// acquisition and the release raises: the classic
    /// `conn = connect(); work(conn); conn.close()` without `try`/`finally`,
    /// or a health check right after `connect()` whose failure is caught
    /// and retried while the connection it just opened is dropped. A
    /// `raise` statement leaks whatever is open there; a call only when it
    /// can raise: a DB-API `cursor()` on a fresh connection, closing a
    /// cursor, `setattr`, attribute stores and the library methods listed
    /// as `quiet_methods` cannot, and a call that does not use the resource
    /// before it was ever used is not blamed on it. A call through the
    /// sub-objects a library documents (the TOML's `derived`: pymongo's
    /// `client.admin.command(...)` and `client.shop.orders.find_one()`,
    /// Elasticsearch's `es.indices.create(...)`) uses the client; other
    /// attribute chains (`conn.encoders.pop(k)`) do not.
    ///
    /// ## Why is this bad?
    /// Error paths are where leaks accumulate: every timeout, every failed
    /// query, every retry leaves one more connection open. The pool or the
    /// server's connection limit is exhausted exactly when the system is
    /// already in trouble.
    ///
    /// ## Example
    /// ```python
    /// async def healthy_connection():
    ///     conn = await asyncpg.connect(DSN)
    ///     await conn.fetchval("SELECT 1")   # raises: conn leaks
    ///     return conn
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// async def healthy_connection():
    ///     conn = await asyncpg.connect(DSN)
    ///     try:
    ///         await conn.fetchval("SELECT 1")
    ///     except BaseException:
    ///         await conn.close()
    ///         raise
    ///     return conn
    /// ```
    ///
    /// ## Fix safety
    /// When the acquisition, the statements after it and the one release
    /// are statements of one block, the fix wraps the statements in `try:`
    /// and moves the release into `finally:`. It is unsafe: the release
    /// now also runs when those statements raise, before the exception
    /// propagates, which changes what a handler further out sees.
    pub static LEAK_ON_ERROR_PATH = {
        code: "LK102",
        name: "leak-on-error-path",
        severity: Error,
        fix: Sometimes,
        needs: Project,
        check: Python(check),
        summary: "A resource is released on success but leaks when an exception is raised.",
    }
}

use crate::diagnostic::{Applicability, Finding, Fix};
use crate::ir::LeakPath;
use crate::rules::context::python::{
    help_with, kind_word, lost_here, reportable_leaks, reported_kind, var_of,
};
use crate::rules::context::NoRewrite;
use crate::rules::PythonContext;

fn check(cx: &PythonContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, outcome) in cx.functions() {
        // In a test function a raise fails the test, which pytest
        // reports; releasing on that path belongs in a fixture's teardown
        // (LK105), not in every test.
        if f.info.is_test {
            continue;
        }
        for (leak, site) in reportable_leaks(cx, f, outcome) {
            let LeakPath::OnError { raised_at } = leak.path else {
                continue;
            };
            let var = var_of(site);
            let help = help_with(cx, &site.type_name, var, f.info.is_async);
            let message = format!(
                "{} `{var}` ({}) leaks if an exception is raised before it is released",
                kind_word(reported_kind(cx, site)),
                site.type_name
            );
            let mut finding = LEAK_ON_ERROR_PATH
                .finding(site.span, message, help)
                .with_label(raised_at, "may raise here");
            for r in &leak.released_at {
                finding = finding.with_label(*r, "released here only on success");
            }
            if let ([release], None) = (leak.released_at.as_slice(), leak.overwritten_at) {
                match cx.try_finally_edits(site.span, *release) {
                    Ok(edits) => {
                        finding = finding.with_fix(Fix::new(
                            Applicability::Unsafe,
                            format!("Release `{var}` in a `finally:` block"),
                            edits,
                        ));
                    }
                    Err(NoRewrite::Unsafe(why)) => {
                        finding.help.push_str(&format!(" No automatic fix: {why}."));
                    }
                    Err(NoRewrite::Shape) => {}
                }
            }
            if let Some(at) = leak.overwritten_at {
                finding = finding.with_label(at, lost_here(at, site.span));
            }
            out.push(finding);
        }
    }
    out
}
