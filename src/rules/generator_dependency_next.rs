crate::declare_rule! {
    /// ## What it does
    /// Finds `next(get_db())` where `get_db` is a dependency-style
    /// generator: it yields a session or connection and releases it after
    /// the `yield` (in a `finally` or after it).
    ///
    /// ## Why is this bad?
    /// `next()` runs the generator up to its `yield` and never resumes it,
    /// so the code after the `yield` (the close) never runs. The generator
    /// object is dropped with the session still open. FastAPI runs such
    /// dependencies to completion; calling them by hand does not.
    ///
    /// ## Example
    /// ```python
    /// def get_db():
    ///     db = SessionLocal()
    ///     try:
    ///         yield db
    ///     finally:
    ///         db.close()
    ///
    /// def report():
    ///     db = next(get_db())
    ///     return db.query(User).count()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// get_session = contextlib.contextmanager(get_db)
    ///
    /// def report():
    ///     with get_session() as db:
    ///         return db.query(User).count()
    /// ```
    pub static GENERATOR_DEPENDENCY_NEXT = {
        code: "LK103",
        name: "generator-dependency-next",
        language: Python,
        severity: Error,
        fix: None,
        summary: "next() on a dependency generator skips the cleanup after its yield.",
    }
}
