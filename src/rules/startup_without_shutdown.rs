crate::declare_rule! {
    /// ## What it does
    /// Finds a client, pool, engine or session opened when an application
    /// starts and never closed when it stops: acquired in an
    /// `@app.on_event("startup")` handler (FastAPI, Starlette) with no
    /// `"shutdown"` handler that releases it, or acquired before the
    /// `yield` of a lifespan context (`FastAPI(lifespan=...)`) and not
    /// released after it.
    ///
    /// ## Why is this bad?
    /// Each restart, reload (`--reload` in development) or test that builds
    /// the app leaves a pool of connections behind; shutdown does not wait
    /// for in-flight work to finish. Database servers see connection counts
    /// climb across deploys.
    ///
    /// ## Example
    /// ```python
    /// @asynccontextmanager
    /// async def lifespan(app):
    ///     app.state.mongo = AsyncIOMotorClient(MONGO_URL)
    ///     yield
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// @asynccontextmanager
    /// async def lifespan(app):
    ///     app.state.mongo = AsyncIOMotorClient(MONGO_URL)
    ///     try:
    ///         yield
    ///     finally:
    ///         app.state.mongo.close()
    /// ```
    pub static STARTUP_WITHOUT_SHUTDOWN = {
        code: "LK108",
        name: "startup-without-shutdown",
        language: Python,
        severity: Error,
        fix: None,
        summary: "A client or pool opened at application startup is never closed at shutdown.",
    }
}

use std::collections::HashMap;

use tree_sitter::Node;

use crate::diagnostic::{Finding, Span};
use crate::python::context::FileContext;
use crate::python::preorder;
use crate::resources::{ResourceKind, Vocabulary};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Startup,
    Shutdown,
    Lifespan,
}

struct Handler<'t> {
    role: Role,
    def: Node<'t>,
}

fn span(n: Node) -> Span {
    Span::new(n.start_byte(), n.end_byte())
}

/// `@app.on_event("startup")` -> Startup; `@asynccontextmanager` on a
/// function used as `lifespan=` (or named `lifespan`) -> Lifespan.
fn role_of(ctx: &FileContext, decorated: Node, def: Node) -> Option<Role> {
    let mut cursor = decorated.walk();
    let decorators: Vec<Node> = decorated
        .named_children(&mut cursor)
        .filter(|c| c.kind() == "decorator")
        .collect();
    for d in &decorators {
        let Some(call) = d.named_child(0).filter(|e| e.kind() == "call") else {
            continue;
        };
        let callee = call
            .child_by_field_name("function")
            .map(|f| ctx.text(f))
            .unwrap_or("");
        let vocabulary = &ctx.resources.vocabulary;
        if !Vocabulary::ends(&vocabulary.event_decorators, callee) {
            continue;
        }
        let arg = call
            .child_by_field_name("arguments")
            .and_then(|a| a.named_child(0))
            .map(|a| ctx.text(a))
            .unwrap_or("");
        if Vocabulary::within(&vocabulary.startup_events, arg) {
            return Some(Role::Startup);
        }
        if Vocabulary::within(&vocabulary.shutdown_events, arg) {
            return Some(Role::Shutdown);
        }
    }
    let name = def
        .child_by_field_name("name")
        .map(|n| ctx.text(n))
        .unwrap_or("");
    let vocabulary = &ctx.resources.vocabulary;
    let is_cm = decorators
        .iter()
        .any(|d| Vocabulary::within(&vocabulary.context_manager_decorators, ctx.text(*d)));
    let lifespan = Vocabulary::has(&vocabulary.lifespan_functions, name)
        || ctx.lifespans.iter().any(|l| l == name);
    (is_cm && lifespan).then_some(Role::Lifespan)
}

/// The receivers of calls (before byte `before`) that are given one of
/// `names` as an argument: `FastAPILimiter` for
/// `FastAPILimiter.init(redis)`.
fn receivers_given(ctx: &FileContext, body: Node, names: &[String], before: usize) -> Vec<String> {
    let mut out = Vec::new();
    preorder(body, |n| {
        if n.kind() == "call" && n.start_byte() < before {
            let f = n
                .child_by_field_name("function")
                .filter(|f| f.kind() == "attribute");
            let receiver = f.and_then(|f| f.child_by_field_name("object"));
            if let (Some(receiver), Some(args)) = (receiver, n.child_by_field_name("arguments")) {
                let mut cursor = args.walk();
                let given = args.named_children(&mut cursor).any(|a| {
                    let a = crate::python::argument_value(a);
                    names.iter().any(|name| ctx.text(a) == name)
                });
                if given {
                    out.push(ctx.text(receiver).split_whitespace().collect());
                }
            }
        }
        true
    });
    out
}

/// The module-level functions of this file with one of `names`.
fn module_functions_named<'t>(ctx: &FileContext<'t>, names: &[&str]) -> Vec<Node<'t>> {
    let root = ctx.module.tree.root_node();
    let mut cursor = root.walk();
    root.named_children(&mut cursor)
        .filter_map(|c| {
            if c.kind() == "decorated_definition" {
                c.child_by_field_name("definition")
            } else {
                Some(c)
            }
        })
        .filter(|d| d.kind() == "function_definition")
        .filter(|d| {
            d.child_by_field_name("name")
                .is_some_and(|n| names.contains(&ctx.text(n)))
        })
        .collect()
}

/// Module-level functions registered as shutdown handlers without the
/// decorator.
fn registered_shutdown_functions<'t>(ctx: &FileContext<'t>) -> Vec<Node<'t>> {
    let vocabulary = &ctx.resources.vocabulary;
    let mut names: Vec<&str> = Vec::new();
    preorder(ctx.module.tree.root_node(), |n| {
        match n.kind() {
            "call" => {
                let callee = n
                    .child_by_field_name("function")
                    .map(|f| ctx.text(f))
                    .unwrap_or("");
                if Vocabulary::ends(&vocabulary.event_registrars, callee) {
                    if let Some(args) = n.child_by_field_name("arguments") {
                        let mut c = args.walk();
                        let list: Vec<Node> = args.named_children(&mut c).collect();
                        if list.len() >= 2
                            && Vocabulary::within(&vocabulary.shutdown_events, ctx.text(list[0]))
                            && list[1].kind() == "identifier"
                        {
                            names.push(ctx.text(list[1]));
                        }
                    }
                }
            }
            "keyword_argument" => {
                let key = n
                    .child_by_field_name("name")
                    .map(|k| ctx.text(k))
                    .unwrap_or("");
                if Vocabulary::has(&vocabulary.shutdown_keywords, key) {
                    if let Some(v) = n.child_by_field_name("value") {
                        let mut c = v.walk();
                        for item in v
                            .named_children(&mut c)
                            .filter(|i| i.kind() == "identifier")
                        {
                            names.push(ctx.text(item));
                        }
                    }
                }
            }
            _ => {}
        }
        true
    });
    module_functions_named(ctx, &names)
}

/// Release calls in `node` (after byte `after`): the texts of their
/// receivers (`app.state.mongo` for `app.state.mongo.close()`).
fn released_targets(ctx: &FileContext, node: Node, after: usize) -> Vec<String> {
    let mut out = Vec::new();
    preorder(node, |n| {
        if n.kind() == "call" && n.start_byte() >= after {
            if let Some(f) = n
                .child_by_field_name("function")
                .filter(|f| f.kind() == "attribute")
            {
                let method = f
                    .child_by_field_name("attribute")
                    .map(|a| ctx.text(a))
                    .unwrap_or("");
                let releases = Vocabulary::has(&ctx.resources.vocabulary.release_methods, method)
                    || ctx.resources.specs.iter().any(|s| {
                        s.release
                            .iter()
                            .any(|r| r.method.as_deref() == Some(method))
                    });
                if releases {
                    if let Some(o) = f.child_by_field_name("object") {
                        out.push(ctx.text(o).split_whitespace().collect());
                    }
                }
            }
        }
        true
    });
    out
}

/// Module-level functions of this file called in `node` after byte
/// `after`.
fn helpers_called<'t>(ctx: &FileContext<'t>, node: Node<'t>, after: usize) -> Vec<Node<'t>> {
    let mut names = Vec::new();
    preorder(node, |n| {
        if n.kind() == "call" && n.start_byte() >= after {
            if let Some(f) = n
                .child_by_field_name("function")
                .filter(|f| f.kind() == "identifier")
            {
                names.push(ctx.text(f));
            }
        }
        true
    });
    module_functions_named(ctx, &names)
}

pub fn check(ctx: &FileContext) -> Vec<Finding> {
    // Startup handlers and lifespans are spelled with one of these.
    let text = ctx.module.text;
    let vocabulary = &ctx.resources.vocabulary;
    let hooks = [
        &vocabulary.event_decorators,
        &vocabulary.lifespan_keywords,
        &vocabulary.event_registrars,
        &vocabulary.startup_keywords,
    ];
    if !hooks.iter().any(|words| Vocabulary::within(words, text)) {
        return Vec::new();
    }
    let mut handlers = Vec::new();
    preorder(ctx.module.tree.root_node(), |n| {
        if n.kind() == "decorated_definition" {
            if let Some(def) = n
                .child_by_field_name("definition")
                .filter(|d| d.kind() == "function_definition")
            {
                if let Some(role) = role_of(ctx, n, def) {
                    handlers.push(Handler { role, def });
                }
            }
        }
        true
    });
    let mut shutdown_releases: Vec<String> = handlers
        .iter()
        .filter(|h| h.role == Role::Shutdown)
        .flat_map(|h| released_targets(ctx, h.def, 0))
        .collect();
    // `app.add_event_handler("shutdown", close_clients)` and
    // `Starlette(on_shutdown=[close_clients])` register plain functions.
    for helper in registered_shutdown_functions(ctx) {
        shutdown_releases.extend(released_targets(ctx, helper, 0));
    }
    let mut out = Vec::new();
    let empty = HashMap::new();
    for h in handlers.iter().filter(|h| h.role != Role::Shutdown) {
        let Some(body) = h.def.child_by_field_name("body") else {
            continue;
        };
        let yield_at = {
            let mut at = None;
            preorder(body, |n| {
                if at.is_none() && n.kind() == "yield" {
                    at = Some(n.start_byte());
                }
                at.is_none()
            });
            at
        };
        // (acquisition span, type, every name it is known by)
        let mut acquired: Vec<(Span, String, Vec<String>)> = Vec::new();
        preorder(body, |n| {
            if n.kind() != "assignment" || yield_at.is_some_and(|y| n.start_byte() > y) {
                return true;
            }
            let (Some(l), Some(r)) = (
                n.child_by_field_name("left"),
                n.child_by_field_name("right"),
            ) else {
                return true;
            };
            let target: String = ctx.text(l).split_whitespace().collect();
            if let Some((spec, call)) = ctx.acquisition(r, &empty, &empty, None) {
                if spec.kind != ResourceKind::Factory {
                    acquired.push((span(call), spec.type_name.clone(), vec![target]));
                }
            } else {
                // `app.state.client = client`: another name for it.
                let source: String = ctx.text(r).split_whitespace().collect();
                for a in &mut acquired {
                    if a.2.contains(&source) {
                        a.2.push(target.clone());
                    }
                }
            }
            true
        });
        let released = match h.role {
            Role::Lifespan => match yield_at {
                Some(y) => {
                    let mut r = released_targets(ctx, body, y);
                    // `await shutdown_db_client(app)` after the yield: a
                    // helper of this module that closes it.
                    for helper in helpers_called(ctx, body, y) {
                        r.extend(released_targets(ctx, helper, 0));
                    }
                    r
                }
                None => Vec::new(),
            },
            _ => shutdown_releases.clone(),
        };
        for (at, type_name, names) in acquired {
            if names.iter().any(|n| released.contains(n)) {
                continue;
            }
            // Handed to a library that is itself closed at shutdown:
            // `FastAPILimiter.init(redis)` ... `FastAPILimiter.close()`.
            let holders = receivers_given(ctx, body, &names, yield_at.unwrap_or(usize::MAX));
            if holders.iter().any(|h| released.contains(h)) {
                continue;
            }
            let name = &names[names.len() - 1];
            let (message, help) = match h.role {
                Role::Lifespan => (
                    format!("`{name}` ({type_name}) is opened in the lifespan but not closed after its `yield`"),
                    format!("Close it after the `yield`, in a `finally:` so a failed startup closes it too: `{name}.close()`."),
                ),
                _ => (
                    format!("`{name}` ({type_name}) is opened at startup and no shutdown handler closes it"),
                    format!("Close it in an `@app.on_event(\"shutdown\")` handler, or move both into a lifespan: `{name}.close()` after the `yield`."),
                ),
            };
            out.push(STARTUP_WITHOUT_SHUTDOWN.finding(at, message, help));
        }
    }
    out
}
