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
        language: Rust,
        severity: Error,
        fix: None,
        summary: "A transaction guard is never committed: its work is rolled back on drop.",
    }
}
