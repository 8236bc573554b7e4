crate::declare_rule! {
    /// ## What it does
    /// Finds a transaction guard (sqlx `begin()`, rusqlite and postgres
    /// `transaction()`, mysql `start_transaction()`, a mongodb session's
    /// `start_transaction()`) that something writes through (a write API
    /// such as `execute`, SQL that changes data, or a helper it is handed
    /// to) but that no path commits, rolls back explicitly, returns or
    /// moves to another owner. A transaction only read through loses
    /// nothing when rolled back and is not reported. Test functions are
    /// skipped: a test that rolls its work back on purpose is a common
    /// idiom.
    ///
    /// Rolling back on drop when a `?` leaves early is the correct idiom
    /// and is not reported: only a guard that is never committed on any
    /// path is.
    ///
    /// ## Why is this bad?
    /// These guards roll back when dropped. Every statement run through
    /// the transaction is silently discarded when the function ends, and
    /// nothing fails: the bug shows up as missing data.
    ///
    /// ## Example
    /// ```rust
    /// async fn rename(pool: &PgPool, id: i64, name: &str) -> sqlx::Result<()> {
    ///     let mut tx = pool.begin().await?;
    ///     sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
    ///         .bind(name).bind(id).execute(&mut *tx).await?;
    ///     Ok(()) // rolled back here
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// async fn rename(pool: &PgPool, id: i64, name: &str) -> sqlx::Result<()> {
    ///     let mut tx = pool.begin().await?;
    ///     sqlx::query("UPDATE users SET name = $1 WHERE id = $2")
    ///         .bind(name).bind(id).execute(&mut *tx).await?;
    ///     tx.commit().await
    /// }
    /// ```
    ///
    /// ## Fix safety
    /// No automatic fix: where the commit belongs is the author's call.
    pub static TRANSACTION_NEVER_COMMITTED = {
        code: "LK203",
        name: "transaction-never-committed",
        severity: Error,
        fix: None,
        needs: Project,
        check: Rust(check),
        summary: "A transaction guard is never committed: its work is rolled back on drop.",
    }
}

use crate::diagnostic::Finding;
use crate::ir::SiteRole;
use crate::resources::ResourceKind;
use crate::rules::context::rust::what;
use crate::rules::RustContext;

fn check(cx: &RustContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, outcome) in cx.functions() {
        for (i, site) in f.sites.iter().enumerate() {
            let is_tx = site.kind == ResourceKind::Transaction
                && matches!(site.facts.role, SiteRole::Resource { .. });
            if is_tx
                && site.facts.written
                && !outcome.released.contains(&i)
                && !outcome.returned.contains(&i)
                && !outcome.stored.contains(&i)
            {
                out.push(TRANSACTION_NEVER_COMMITTED.finding(
                    site.span,
                    format!(
                        "transaction {} is never committed: everything done through it is rolled back when it is dropped",
                        what(f, i)
                    ),
                    "Commit it on the success path (`tx.commit()`); dropping it on error paths rolls back, as intended.",
                ));
            }
        }
    }
    out
}
