crate::declare_rule! {
    /// ## What it does
    /// Finds a second acquisition from a pool while a guard from the same
    /// pool (the same receiver: `pool`, `self.pool`, `state.db`) is still
    /// alive in the same function: not dropped, not out of its scope, not
    /// moved away. Also a call to a project function that acquires from
    /// the pool it is given (or from `self`'s pool), and a sqlx query run
    /// directly on the pool (`.fetch_one(pool)`), while a guard from that
    /// pool is alive.
    ///
    /// ## Why is this bad?
    /// Each task now needs two connections at once. Under load, when every
    /// task holds its first connection and waits for a second, the pool is
    /// empty and nobody can proceed: a deadlock that lasts until the
    /// acquire timeout. With a pool of size one it deadlocks every time.
    ///
    /// ## Example
    /// ```rust
    /// async fn handler(pool: &PgPool) -> sqlx::Result<()> {
    ///     let mut conn = pool.acquire().await?;
    ///     let user = load_user(&mut conn).await?;
    ///     let mut other = pool.acquire().await?; // still holding `conn`
    ///     audit(&mut other, &user).await
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// async fn handler(pool: &PgPool) -> sqlx::Result<()> {
    ///     let mut conn = pool.acquire().await?;
    ///     let user = load_user(&mut conn).await?;
    ///     audit(&mut conn, &user).await // reuse it, or drop(conn) first
    /// }
    /// ```
    ///
    /// ## Fix safety
    /// No automatic fix: reusing the first guard or dropping it first are
    /// both changes of behaviour.
    pub static NESTED_ACQUIRE = {
        code: "LK204",
        name: "nested-acquire",
        severity: Warning,
        fix: None,
        needs: Project,
        check: Rust(check),
        summary: "A second connection is acquired from a pool while a guard from it is still held.",
    }
}

use std::collections::HashSet;

use crate::diagnostic::Finding;
use crate::ir::SiteRole;
use crate::rules::context::rust::what;
use crate::rules::RustContext;

fn check(cx: &RustContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, outcome) in cx.functions() {
        let sites = &f.sites;
        let mut seen = HashSet::new();
        for (site, span, open) in &outcome.open_at_acquire {
            let Some(origin) = sites[*site].origin.as_deref() else {
                continue;
            };
            let held = open.iter().find(|&&o| {
                sites[o].origin.as_deref() == Some(origin)
                    && !matches!(sites[o].facts.role, SiteRole::PoolCall { .. })
            });
            let Some(&first) = held else {
                continue;
            };
            if !seen.insert(*site) {
                continue;
            }
            let message = match &sites[*site].facts.role {
                SiteRole::PoolCall {
                    callee: Some(callee),
                } => format!(
                    "`{callee}` acquires from `{origin}` while {} from it is still held",
                    what(f, first)
                ),
                SiteRole::PoolCall { callee: None } => format!(
                    "this query runs on `{origin}` itself, taking a second connection while {} from it is still held",
                    what(f, first)
                ),
                _ => format!(
                    "a second connection is acquired from `{origin}` while {} from it is still held",
                    what(f, first)
                ),
            };
            out.push(
                NESTED_ACQUIRE
                    .finding(
                        sites[*site].span,
                        message,
                        "Reuse the guard you hold, or `drop()` it (or end its block) before acquiring again.",
                    )
                    .with_label(sites[first].span, "first guard acquired here, still alive")
                    .with_label(*span, "second acquisition"),
            );
        }
    }
    out
}
