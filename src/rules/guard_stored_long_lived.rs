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
        severity: Error,
        fix: None,
        needs: Project,
        check: Rust(check),
        summary: "A connection or transaction is stored for the life of the process.",
    }
}

use crate::diagnostic::Finding;
use crate::rules::RustContext;
use crate::rust::state::Place;

fn check(cx: &RustContext) -> Vec<Finding> {
    let mut out = Vec::new();
    // Pools, shareable clients, embedded (SQLite) connections and
    // must-poll drivers are meant to live as long as the process.
    let guards = cx
        .stored
        .iter()
        .filter(|s| s.kind.is_guard() && !s.long_lived && !s.must_poll && !s.embedded);
    for stored in guards {
        let type_name = &stored.type_name;
        out.push(match &stored.place {
            Place::Static(name) => GUARD_STORED_LONG_LIVED.finding(
                stored.span,
                format!("`{type_name}` is stored in the static `{name}`: a connection held for the life of the process"),
                "Store the pool instead and acquire a connection where it is used.",
            ),
            Place::StateField { owner, field } => {
                let field_name = field.as_ref().map(|i| format!("`{i}` ")).unwrap_or_default();
                GUARD_STORED_LONG_LIVED.finding(
                    stored.span,
                    format!("`{type_name}` is stored in the field {field_name}of `{owner}`, long-lived application state: a connection held for the life of the process"),
                    "Keep the pool in the state instead and acquire a connection per request.",
                )
            }
        });
    }
    out
}
