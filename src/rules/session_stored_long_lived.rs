crate::declare_rule! {
    /// ## What it does
    /// Finds a session, connection, cursor or transaction (not an engine,
    /// pool or client, which are meant to be shared) that is kept where it
    /// outlives the request or test that needs it: bound at module level,
    /// as a class attribute, or registered as a ready-made instance in a
    /// service registry or container (`registry.register("db_session",
    /// service=db.session)`).
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
        language: Python,
        severity: Error,
        fix: None,
        summary: "A session or connection is stored where it outlives its unit of work.",
    }
}

use std::collections::HashMap;

use tree_sitter::Node;

use crate::diagnostic::{Finding, Span};
use crate::python::context::FileContext;
use crate::python::preorder;
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
fn released_later(ctx: &FileContext, stmts: &[Node], name: &str) -> bool {
    stmts.iter().any(|stmt| {
        let mut found = false;
        preorder(*stmt, |n| {
            if found || matches!(n.kind(), "function_definition" | "class_definition") {
                return false;
            }
            if n.kind() == "call" {
                if let Some(f) = n.child_by_field_name("function") {
                    let on_name = f.kind() == "attribute"
                        && f.child_by_field_name("object")
                            .is_some_and(|o| ctx.text(o) == name)
                        && f.child_by_field_name("attribute").is_some_and(|a| {
                            Vocabulary::has(&ctx.resources.vocabulary.release_methods, ctx.text(a))
                        });
                    let helper = ctx.text(f).to_ascii_lowercase().contains("close")
                        && n.child_by_field_name("arguments").is_some_and(|a| {
                            let mut c = a.walk();
                            let hit = a.named_children(&mut c).any(|x| ctx.text(x) == name);
                            hit
                        });
                    found = on_name || helper;
                }
            }
            !found
        });
        found
    })
}

fn span(n: Node) -> Span {
    Span::new(n.start_byte(), n.end_byte())
}

pub fn check(ctx: &FileContext) -> Vec<Finding> {
    let mut out = Vec::new();
    let empty = HashMap::new();
    let root = ctx.module.tree.root_node();
    // Module level and class bodies: statements run once, their bindings
    // live as long as the module or the class.
    let mut scopes: Vec<(Node, &str)> = vec![(root, "module level")];
    preorder(root, |n| {
        if n.kind() == "class_definition" {
            if let Some(body) = n.child_by_field_name("body") {
                scopes.push((body, "a class attribute"));
            }
        }
        crate::python::is_statement_container(n.kind())
    });
    for (scope, place) in scopes {
        let mut cursor = scope.walk();
        let stmts: Vec<Node> = scope.named_children(&mut cursor).collect();
        // Names bound to resources here, in order: a cursor of one of them
        // is part of its connection's story.
        let mut bound: Vec<String> = Vec::new();
        for (i, stmt) in stmts.iter().enumerate() {
            let Some((left, right)) = crate::python::simple_assignment(*stmt) else {
                continue;
            };
            let Some((spec, call)) = ctx.acquisition(right, &empty, &empty, None) else {
                continue;
            };
            if !short_lived(spec.kind) {
                continue;
            }
            let name = ctx.text(left);
            let parent_bound = call
                .child_by_field_name("function")
                .and_then(|f| f.child_by_field_name("object"))
                .is_some_and(|o| bound.iter().any(|b| b == ctx.text(o)));
            bound.push(name.to_string());
            // A script that closes it further down does not keep it.
            if parent_bound || released_later(ctx, &stmts[i + 1..], name) {
                continue;
            }
            out.push(SESSION_STORED_LONG_LIVED.finding(
                span(call),
                format!("`{name}` ({}) is kept at {place} and outlives its unit of work", spec.type_name),
                "Create it per request, task or test (a `with` block or a dependency that closes it), and keep only the engine, pool or factory long-lived.",
            ));
        }
    }
    // Registries: `registry.register("db_session", service=db.session)`.
    let vocabulary = &ctx.resources.vocabulary;
    if !Vocabulary::within(&vocabulary.registering_methods, ctx.module.text) {
        return out;
    }
    preorder(root, |n| {
        if n.kind() != "call" {
            return true;
        }
        let Some(f) = n
            .child_by_field_name("function")
            .filter(|f| f.kind() == "attribute")
        else {
            return true;
        };
        let method = f
            .child_by_field_name("attribute")
            .map(|a| ctx.text(a))
            .unwrap_or("");
        // `ti.register(conn)` registers adapters *on* a connection; only a
        // registry or container keeps what is registered with it.
        let receiver = f
            .child_by_field_name("object")
            .map(|o| ctx.text(o).to_ascii_lowercase())
            .unwrap_or_default();
        let is_registry = Vocabulary::within(&vocabulary.registry_words, &receiver);
        if !Vocabulary::has(&vocabulary.registering_methods, method) || !is_registry {
            return true;
        }
        let Some(args) = n.child_by_field_name("arguments") else {
            return true;
        };
        let mut cursor = args.walk();
        for a in args.named_children(&mut cursor) {
            let value = crate::python::argument_value(a);
            let session_like = match value.kind() {
                "attribute" => value.child_by_field_name("attribute").is_some_and(|attr| {
                    Vocabulary::has(&vocabulary.session_attributes, ctx.text(attr))
                }),
                "identifier" => ctx
                    .globals
                    .get(ctx.text(value))
                    .and_then(|t| ctx.spec(t))
                    .is_some_and(|s| short_lived(s.kind)),
                "call" => ctx
                    .acquisition(value, &empty, &empty, None)
                    .is_some_and(|(s, _)| short_lived(s.kind)),
                _ => false,
            };
            if session_like {
                out.push(SESSION_STORED_LONG_LIVED.finding(
                    span(value),
                    format!("`{}` is registered as a shared instance and outlives the request that opened it", ctx.text(value)),
                    "Register a factory instead, so each request or test gets its own session: `register_factory(name, lambda: SessionLocal())`.",
                ));
            }
        }
        true
    });
    out
}
