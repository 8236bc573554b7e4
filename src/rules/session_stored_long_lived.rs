crate::declare_rule! {
    /// ## What it does
    /// Finds a session, connection, cursor or transaction (not an engine,
    /// pool or client, which are meant to be shared) that is kept where it
    /// outlives the request or test that needs it: bound at module level,
    /// as a class attribute, or registered as a ready-made instance in a
    /// service registry or container (`registry.register("db_session",
    /// service=db.session)`).
    ///
    /// Also one that a function puts in module state: a module global
    /// (`global conn; conn = psycopg2.connect(...)`), a module-level
    /// container (`_sessions[tenant] = SessionLocal()`, `POOL.append(c)`)
    /// or a class attribute (`cls.db = sqlite3.connect(path)`), when no
    /// code of the module releases it: a release of the name or of
    /// anything drawn from it (`for s in _sessions.values(): s.close()`),
    /// a bound release handed on (`atexit.register(conn.close)`), or a
    /// closer function of the module (`def close_all(): ...`) that
    /// touches it. A script (`if __name__ == "__main__":`) ends with its
    /// process and is not reported.
    ///
    /// ## Why is this bad?
    /// Sessions and connections are units of work: not thread-safe, bound
    /// to one transaction, closed or invalidated when their request ends.
    /// A long-lived reference serves a stale or closed one to the next
    /// caller ("This Connection is closed"), shares a transaction between
    /// requests, and pins the connection for the life of the process.
    ///
    /// ## Example
    /// ```python
    /// registry.register("db_session", service=db.session)
    /// ```
    ///
    /// ## Use instead
    /// Register a factory, so every request or test gets its own:
    /// ```python
    /// registry.register_factory("db_session", lambda: SessionLocal())
    /// ```
    pub static SESSION_STORED_LONG_LIVED = {
        code: "LK107",
        name: "session-stored-long-lived",
        severity: Error,
        fix: None,
        needs: Project,
        check: Python(run),
        summary: "A session or connection is stored where it outlives its unit of work.",
    }
}

use crate::diagnostic::Finding;
use crate::python::model::{Callee, Model, ScopeKind, Statement, ValueKind};
use crate::resources::{ResourceKind, Vocabulary};

fn short_lived(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Session
            | ResourceKind::Connection
            | ResourceKind::Cursor
            | ResourceKind::Transaction
    )
}

/// Whether a later statement of the same body releases `name`
/// (`name.close()`, or `close_db(name)`).
fn released_later(vocabulary: &Vocabulary, stmts: &[Statement], name: &str) -> bool {
    stmts.iter().flat_map(|s| &s.calls).any(|call| {
        let on_name = matches!(&call.target, Callee::Method { receiver, method }
            if receiver == name && Vocabulary::has(&vocabulary.release_methods, method));
        let helper = call.callee.to_ascii_lowercase().contains("close")
            && call.args.iter().any(|a| a.text == name);
        on_name || helper
    })
}

fn check(model: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    let vocabulary = model.vocabulary();
    // Module level and class bodies: statements run once, their bindings
    // live as long as the module or the class.
    for scope in model.scopes() {
        let place = match scope.kind {
            ScopeKind::Module => "module level",
            ScopeKind::Class => "a class attribute",
        };
        // Names bound to resources here, in order: a cursor of one of them
        // is part of its connection's story.
        let mut bound: Vec<&str> = Vec::new();
        for (i, stmt) in scope.statements.iter().enumerate() {
            let Some(binding) = &stmt.binding else {
                continue;
            };
            let spec = binding.spec;
            if !short_lived(spec.kind) {
                continue;
            }
            let name = binding.name.as_str();
            let parent_bound = binding
                .receiver
                .as_deref()
                .is_some_and(|r| bound.contains(&r));
            bound.push(name);
            // A script that closes it further down does not keep it.
            if parent_bound || released_later(vocabulary, &scope.statements[i + 1..], name) {
                continue;
            }
            out.push(SESSION_STORED_LONG_LIVED.finding(
                binding.call,
                format!("`{name}` ({}) is kept at {place} and outlives its unit of work", spec.type_name),
                "Create it per request, task or test (a `with` block or a dependency that closes it), and keep only the engine, pool or factory long-lived.",
            ));
        }
    }
    // Stored in module state by a function, never released by the module.
    for store in crate::rules::context::python::unreleased_global_stores(model) {
        // What module-level code binds is judged above, statement by
        // statement.
        if !short_lived(store.spec.kind) || store.module_level {
            continue;
        }
        let place = if store.on_class {
            format!("the class attribute `{}`", store.name)
        } else if store.container {
            format!("the module-level `{}`", store.name)
        } else {
            format!("the module global `{}`", store.name)
        };
        out.push(SESSION_STORED_LONG_LIVED.finding(
            store.call,
            format!(
                "`{}` keeps this {} ({}) in {place}, where it outlives its unit of work, and nothing in this module closes it",
                store.function,
                crate::rules::context::python::kind_word(store.spec.kind),
                store.spec.type_name
            ),
            "Open it per request, task or test (a `with` block or a dependency that closes it) and keep only the engine, pool or factory in module state.",
        ));
    }
    // Registries: `registry.register("db_session", service=db.session)`.
    if !model.mentions(&vocabulary.registering_methods) {
        return out;
    }
    for registration in model.registrations() {
        // `ti.register(conn)` registers adapters *on* a connection; only a
        // registry or container keeps what is registered with it.
        let receiver = registration.receiver.to_ascii_lowercase();
        if !Vocabulary::within(&vocabulary.registry_words, &receiver) {
            continue;
        }
        for value in &registration.values {
            let session_like = match &value.kind {
                ValueKind::Attribute { attribute } => attribute
                    .as_deref()
                    .is_some_and(|a| Vocabulary::has(&vocabulary.session_attributes, a)),
                ValueKind::Name { bound } => bound.is_some_and(|s| short_lived(s.kind)),
                ValueKind::Call { acquires } => acquires.is_some_and(|s| short_lived(s.kind)),
                ValueKind::Other => false,
            };
            if session_like {
                out.push(SESSION_STORED_LONG_LIVED.finding(
                    value.span,
                    format!("`{}` is registered as a shared instance and outlives the request that opened it", value.text),
                    "Register a factory instead, so each request or test gets its own session: `register_factory(name, lambda: SessionLocal())`.",
                ));
            }
        }
    }
    out
}

fn run(cx: &crate::rules::PythonContext) -> Vec<Finding> {
    check(cx.model())
}
