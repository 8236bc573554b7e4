crate::declare_rule! {
    /// ## What it does
    /// Finds a transaction begun with a raw `BEGIN` or `START TRANSACTION`
    /// statement, through any query API, on a connection that outlives
    /// the function (a pooled connection, or one the function was given),
    /// where a `?` or an early `return` can leave the function before the
    /// `COMMIT` or `ROLLBACK`, with no rollback on that path.
    ///
    /// ## Why is this bad?
    /// The connection goes back to the pool (or to the caller) inside an
    /// open transaction: "idle in transaction". Its locks stay held, and
    /// the next user of the connection runs its statements inside
    /// somebody else's transaction, which is committed or rolled back at
    /// a time nobody chose.
    ///
    /// ## Example
    /// ```rust
    /// async fn transfer(conn: &mut PgConnection, from: i64, to: i64) -> sqlx::Result<()> {
    ///     sqlx::query("BEGIN").execute(&mut *conn).await?;
    ///     debit(conn, from).await?;  // returns with the transaction open
    ///     credit(conn, to).await?;
    ///     sqlx::query("COMMIT").execute(&mut *conn).await?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// async fn transfer(conn: &mut PgConnection, from: i64, to: i64) -> sqlx::Result<()> {
    ///     let mut tx = conn.begin().await?; // rolls back when dropped
    ///     debit(&mut tx, from).await?;
    ///     credit(&mut tx, to).await?;
    ///     tx.commit().await
    /// }
    /// ```
    ///
    /// ## Fix safety
    /// No automatic fix: moving to the crate's transaction guard changes
    /// the types the helpers receive.
    pub static RAW_TRANSACTION_WITHOUT_GUARD = {
        code: "LK202",
        name: "raw-transaction-without-guard",
        severity: Error,
        fix: None,
        needs: Project,
        check: Rust(check),
        summary: "A raw BEGIN can leave the function without COMMIT or ROLLBACK.",
    }
}

use crate::diagnostic::Finding;
use crate::ir::LeakPath;
use crate::ir::SiteRole;
use crate::rules::RustContext;

fn check(cx: &RustContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, outcome) in cx.functions() {
        for leak in &outcome.leaks {
            let site = &f.sites[leak.site];
            // A raw transaction never ended anywhere is not a story of
            // paths; only one ended on some paths is.
            if site.facts.role != SiteRole::RawTransaction || leak.released_at.is_empty() {
                continue;
            }
            let mut finding = RAW_TRANSACTION_WITHOUT_GUARD.finding(
                site.span,
                "this transaction can be left open: a path leaves the function before `COMMIT` or `ROLLBACK`, and the connection stays idle in transaction",
                "Use the crate's transaction guard (`conn.begin()`, `client.transaction()`), which rolls back when dropped, or roll back on every error path.",
            );
            match leak.path {
                LeakPath::OnError { raised_at } => {
                    finding =
                        finding.with_label(raised_at, "`?` returns here with the transaction open");
                }
                LeakPath::Normal => {
                    if let Some(at) = leak.overwritten_at {
                        finding = finding.with_label(at, "left open here");
                    }
                }
            }
            for r in leak.released_at.iter().take(1) {
                finding = finding.with_label(*r, "ended here only on some paths");
            }
            out.push(finding);
        }
    }
    out
}
