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
        language: Rust,
        severity: Warning,
        fix: None,
        summary: "A second connection is acquired from a pool while a guard from it is still held.",
    }
}
