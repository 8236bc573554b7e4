crate::declare_rule! {
    /// ## What it does
    /// Finds a `tokio_postgres::connect` (or `Config::connect`) whose
    /// `Connection` half is never spawned, awaited, polled or handed to
    /// anything (bound to `_`, to an unused name, or dropped) while its
    /// client is used; also one spawned only after the client was already
    /// awaited.
    ///
    /// ## Why is this bad?
    /// tokio-postgres splits a connection in two: the `Client` sends
    /// requests, and the `Connection` future performs the actual I/O. If
    /// nothing polls the `Connection`, every query on the client waits
    /// forever; if it is dropped, the client reports a closed connection.
    ///
    /// ## Example
    /// ```rust
    /// let (client, _connection) = tokio_postgres::connect(&url, NoTls).await?;
    /// let rows = client.query("SELECT 1", &[]).await?; // hangs
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
    /// tokio::spawn(async move {
    ///     if let Err(e) = connection.await {
    ///         eprintln!("connection error: {e}");
    ///     }
    /// });
    /// let rows = client.query("SELECT 1", &[]).await?;
    /// ```
    ///
    /// ## Fix safety
    /// When the connection is bound by a `let` in an `async` function, the
    /// fix inserts the `tokio::spawn` above right after that statement
    /// (renaming a `_` binding to `connection`). It is safe: the program
    /// did not work without it, and tokio-postgres requires a tokio
    /// runtime anyway.
    pub static UNSPAWNED_CONNECTION = {
        code: "LK208",
        name: "unspawned-connection",
        language: Rust,
        severity: Error,
        fix: Sometimes,
        summary: "A tokio-postgres Connection is never spawned, so its Client never makes progress.",
    }
}
