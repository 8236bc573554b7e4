crate::declare_rule! {
    /// ## What it does
    /// Finds guards taken from a pool (pooled connections, transactions
    /// begun on a pool, guards from project helpers that take from one)
    /// inside a loop that outlive the iteration: pushed into a collection
    /// that lives outside the loop (also inside a struct), or moved into a
    /// spawned task or thread that the iteration does not await or join.
    /// A fresh connection per iteration that no pool hands out (one client
    /// per benchmark worker) is what such a loop is for, and is not
    /// reported.
    ///
    /// ## Why is this bad?
    /// The loop holds one more connection per iteration. Once the number
    /// of iterations reaches the pool size, the next `acquire()` waits for
    /// a connection that only the loop itself could give back: the loop
    /// stalls until the acquire timeout, and every other user of the pool
    /// starves meanwhile.
    ///
    /// ## Example
    /// ```rust
    /// for id in ids {
    ///     let conn = pool.acquire().await?;
    ///     tasks.push(tokio::spawn(async move { refresh(conn, id).await }));
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// for id in ids {
    ///     let pool = pool.clone(); // the pool crosses the iteration, not a guard
    ///     tasks.push(tokio::spawn(async move {
    ///         let conn = pool.acquire().await?;
    ///         refresh(conn, id).await
    ///     }));
    /// }
    /// ```
    ///
    /// ## Fix safety
    /// No automatic fix.
    pub static ACQUIRE_IN_LOOP = {
        code: "LK205",
        name: "acquire-in-loop",
        severity: Warning,
        fix: None,
        needs: Project,
        check: Rust(check),
        summary: "Guards acquired in a loop outlive their iteration and drain the pool.",
    }
}

use crate::diagnostic::Finding;
use crate::ir::{Outlives, SiteRole};
use crate::rules::context::rust::what;
use crate::rules::RustContext;

fn check(cx: &RustContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, _) in cx.functions() {
        for (i, site) in f.sites.iter().enumerate() {
            let Some((at, how)) = site.facts.outlives_loop.first() else {
                continue;
            };
            // Only guards from a pool starve it: a fresh connection per
            // worker (a benchmark's clients) is what the loop is for.
            let from_pool = site.origin.is_some()
                || matches!(site.facts.role, SiteRole::Resource { pooled: true, .. });
            if !from_pool {
                continue;
            }
            let how = match how {
                Outlives::Collected => "kept in a collection that outlives the loop",
                Outlives::Spawned => "moved into a task that the iteration does not await",
            };
            out.push(
                ACQUIRE_IN_LOOP
                    .finding(
                        site.span,
                        format!(
                            "{} is acquired in a loop and {how}: each iteration holds one more connection",
                            what(f, i)
                        ),
                        "Acquire inside the task (move a pool clone into it), or use the guard and drop it within the iteration.",
                    )
                    .with_label(*at, "outlives the iteration here"),
            );
        }
    }
    out
}
