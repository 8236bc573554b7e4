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
        language: Rust,
        severity: Warning,
        fix: None,
        summary: "Guards acquired in a loop outlive their iteration and drain the pool.",
    }
}
