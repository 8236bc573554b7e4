crate::declare_rule! {
    /// ## What it does
    /// Finds a pooled connection, transaction or session handed to
    /// `std::mem::forget`, `Box::leak`, `ManuallyDrop::new` or
    /// `Box::into_raw` and never taken back (`ManuallyDrop::into_inner`,
    /// `ManuallyDrop::drop`, `ManuallyDrop::take`, `Box::from_raw`), nor
    /// handed on to an owner that can take it back (returned, stored in a
    /// struct whose `Drop` reclaims it).
    ///
    /// ## Why is this bad?
    /// A pooled guard returns its connection to the pool in its `Drop`. A
    /// forgotten guard never runs it: the pool believes the connection is
    /// still checked out, forever. Each call shrinks the pool by one until
    /// every `acquire()` waits for its timeout. A forgotten transaction
    /// neither commits nor rolls back, so its connection stays inside it.
    ///
    /// ## Example
    /// ```rust
    /// async fn warm_up(pool: &PgPool) -> sqlx::Result<()> {
    ///     let conn = pool.acquire().await?;
    ///     std::mem::forget(conn); // keep the connection open
    ///     Ok(())
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// async fn warm_up(pool: &PgPool) -> sqlx::Result<()> {
    ///     let conn = pool.acquire().await?;
    ///     drop(conn); // back to the pool, still open
    ///     Ok(())
    /// }
    /// ```
    /// To keep a connection out of the pool for good, detach it
    /// (`PoolConnection::detach`) instead of forgetting the guard.
    ///
    /// ## Fix safety
    /// No automatic fix: whether the guard should be dropped, detached or
    /// kept is the author's call.
    pub static FORGOTTEN_GUARD = {
        code: "LK201",
        name: "forgotten-guard",
        severity: Error,
        fix: None,
        needs: Project,
        check: Rust(check),
        summary: "A connection, transaction or session guard is forgotten and never returns to its pool.",
    }
}

use crate::diagnostic::Finding;
use crate::ir::LeakPath;
use crate::ir::SiteRole;
use crate::rules::context::rust::{short, what};
use crate::rules::RustContext;

fn check(cx: &RustContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, outcome) in cx.functions() {
        for (i, site) in f.sites.iter().enumerate() {
            for (call, how) in &site.facts.forgotten {
                out.push(
                    FORGOTTEN_GUARD
                        .finding(
                            *call,
                            format!(
                                "{} is given to `{how}`: its `Drop` never runs, so it never returns to its pool",
                                what(f, i),
                            ),
                            "Drop the guard to give the connection back (`drop(conn)`), or detach it from the pool on purpose.",
                        )
                        .with_label(site.span, "acquired here"),
                );
            }
        }
        for leak in &outcome.leaks {
            let site = &f.sites[leak.site];
            let SiteRole::Detached { call, how } = &site.facts.role else {
                continue;
            };
            let mut finding = FORGOTTEN_GUARD.finding(
                *call,
                format!(
                    "a `{}` is wrapped by `{how}` and never taken back: it never returns to its pool",
                    short(&site.type_name)
                ),
                "Take it back on every path (`ManuallyDrop::into_inner`, `Box::from_raw`), or let an owner whose `Drop` does so keep it.",
            );
            if let LeakPath::OnError { raised_at } = leak.path {
                finding = finding.with_label(raised_at, "`?` returns here without taking it back");
            }
            out.push(finding);
        }
    }
    out
}
