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
        language: Rust,
        severity: Error,
        fix: None,
        summary: "A connection, transaction or session guard is forgotten and never returns to its pool.",
    }
}
