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
        language: Rust,
        severity: Error,
        fix: None,
        summary: "A raw BEGIN can leave the function without COMMIT or ROLLBACK.",
    }
}
