crate::declare_rule! {
    /// ## What it does
    /// Finds a pooled connection, a transaction or a raw connection to a
    /// database server (not a pool, not a shareable client such as
    /// `redis::Client`, a multiplexed connection or a tokio-postgres
    /// `Client`, not an in-process SQLite connection) declared as the
    /// type of a `static`,
    /// a `thread_local!`, a `lazy_static!`, a `OnceLock`/`OnceCell`/`Lazy`
    /// static, or a field of a long-lived state struct: one handed to axum
    /// `with_state`/`Extension`, actix `web::Data`/`app_data`, rocket
    /// `manage`, extracted as `State<T>`/`Data<T>`, or stored in a static.
    ///
    /// ## Why is this bad?
    /// A connection stored for the life of the process is never returned
    /// to its pool, serialises every request behind one lock, and is not
    /// replaced when the server closes it: after the first network blip,
    /// every request fails until a restart. A transaction stored there
    /// keeps its locks for the life of the process.
    ///
    /// ## Example
    /// ```rust
    /// static CONN: OnceLock<Mutex<PgConnection>> = OnceLock::new();
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// static POOL: OnceLock<PgPool> = OnceLock::new(); // acquire per use
    /// ```
    ///
    /// ## Fix safety
    /// No automatic fix.
    pub static GUARD_STORED_LONG_LIVED = {
        code: "LK206",
        name: "guard-stored-long-lived",
        language: Rust,
        severity: Error,
        fix: None,
        summary: "A connection or transaction is stored for the life of the process.",
    }
}
