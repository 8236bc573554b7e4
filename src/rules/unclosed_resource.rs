crate::declare_rule! {
    /// ## What it does
    /// Finds a database or HTTP resource (connection, session, cursor,
    /// client, pool, transaction) acquired in a function and still open
    /// when the function ends on a path without any exception: it is not
    /// closed, not used as a context manager, not returned and not handed
    /// to anything that owns it. Also when the last reference to an open
    /// resource is overwritten (`conn = None`, a second `connect()` into the
    /// same name, `del conn`).
    ///
    /// ## Why is this bad?
    /// The garbage collector is not a release. An unreferenced connection
    /// may be closed some time later, or never (reference cycles, other
    /// interpreters), and until then it holds a server backend, a pool
    /// slot or a socket. Under load the pool runs dry ("QueuePool limit
    /// reached", "too many connections") long before memory does.
    ///
    /// ## Example
    /// ```python
    /// def count_users(engine):
    ///     conn = engine.connect()
    ///     return conn.execute(text("SELECT count(*) FROM users")).scalar()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// def count_users(engine):
    ///     with engine.connect() as conn:
    ///         return conn.execute(text("SELECT count(*) FROM users")).scalar()
    /// ```
    ///
    /// ## Fix safety
    /// When the acquisition is a plain `x = acquire(...)` statement, its
    /// library's context manager closes the resource, and the rest of the
    /// block uses `x` only through its attributes, the fix turns it into
    /// `with acquire(...) as x:` over the rest of the block (`async with`
    /// in coroutines where the library supports it). It is unsafe: the
    /// resource is now closed at the end of the block, also on paths that
    /// used to leave it open on purpose.
    pub static UNCLOSED_RESOURCE = {
        code: "LK101",
        name: "unclosed-resource",
        language: Python,
        severity: Error,
        fix: Sometimes,
        summary: "A resource acquired in a function is never released.",
    }
}
