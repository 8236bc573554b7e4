crate::declare_rule! {
    /// ## What it does
    /// Finds a resource that is released (or returned, or handed over) on
    /// the success path but stays open when something between the
    /// acquisition and the release raises: the classic
    /// `conn = connect(); work(conn); conn.close()` without `try`/`finally`,
    /// or a health check right after `connect()` whose failure is caught
    /// and retried while the connection it just opened is dropped.
    ///
    /// ## Why is this bad?
    /// Error paths are where leaks accumulate: every timeout, every failed
    /// query, every retry leaves one more connection open. The pool or the
    /// server's connection limit is exhausted exactly when the system is
    /// already in trouble.
    ///
    /// ## Example
    /// ```python
    /// async def healthy_connection():
    ///     conn = await asyncpg.connect(DSN)
    ///     await conn.fetchval("SELECT 1")   # raises: conn leaks
    ///     return conn
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// async def healthy_connection():
    ///     conn = await asyncpg.connect(DSN)
    ///     try:
    ///         await conn.fetchval("SELECT 1")
    ///     except BaseException:
    ///         await conn.close()
    ///         raise
    ///     return conn
    /// ```
    ///
    /// ## Fix safety
    /// When the acquisition, the statements after it and the one release
    /// are statements of one block, the fix wraps the statements in `try:`
    /// and moves the release into `finally:`. It is unsafe: the release
    /// now also runs when those statements raise, before the exception
    /// propagates, which changes what a handler further out sees.
    pub static LEAK_ON_ERROR_PATH = {
        code: "LK102",
        name: "leak-on-error-path",
        language: Python,
        severity: Error,
        fix: Sometimes,
        summary: "A resource is released on success but leaks when an exception is raised.",
    }
}
