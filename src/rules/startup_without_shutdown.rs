crate::declare_rule! {
    /// ## What it does
    /// Finds a client, pool, engine or session opened when an application
    /// starts and never closed when it stops: acquired in an
    /// `@app.on_event("startup")` handler (FastAPI, Starlette), a handler
    /// registered with `on_startup=[...]` or appended to an aiohttp app's
    /// `on_startup` list, with no shutdown handler (`"shutdown"` events,
    /// `on_shutdown=[...]`, aiohttp's `on_shutdown`/`on_cleanup`) that
    /// releases it, or acquired before the
    /// `yield` of a lifespan context (`FastAPI(lifespan=...)`) and not
    /// released after it. The same for the other frameworks' hooks, each
    /// described in `rules/frameworks/`: Sanic listeners
    /// (`@app.before_server_start`, `@app.listener("after_server_stop")`),
    /// Quart's `@app.before_serving` / `@app.after_serving` and
    /// `@app.while_serving` generators, Litestar's `on_startup=`,
    /// `on_shutdown=` and `lifespan=[...]`, aiogram's `@dp.startup()`,
    /// `dp.startup.register(f)` and 2.x `on_startup=f`,
    /// python-telegram-bot's `.post_init(f)` / `.post_shutdown(f)`, Celery's
    /// `worker_process_init` / `worker_process_shutdown` signals, and
    /// aiohttp's `app.cleanup_ctx` generators.
    ///
    /// Also a client or pool whose close is a coroutine (aiohttp's
    /// `ClientSession`, `httpx.AsyncClient`, asyncpg pools, `redis.asyncio`)
    /// that a function keeps in module state (a module global, a
    /// module-level container, a class attribute) and that no code of the
    /// module closes: no destructor can await that close, so the client
    /// stays open until the process ends and warns "Unclosed client
    /// session". Clients with a blocking close (`requests.Session`,
    /// `redis.Redis`, `pymongo.MongoClient`) are meant to be shared for the
    /// life of the process and are not reported; scripts (`if __name__ ==
    /// "__main__":`) neither. Sessions and connections kept that way are
    /// LK107's. The same holds for such a client or pool made at import
    /// time (`_pools = {"default": aiohttp.ClientSession()}`, a class
    /// attribute `_pool = ConnectionPool(...)`), unless it is lazy (a
    /// module-level `redis.asyncio.Redis()` or `httpx.AsyncClient()` has
    /// opened nothing). A release in another module of the project (the
    /// application's shutdown awaiting `clients.http.close()`) counts.
    ///
    /// The program's entry point is a lifecycle too: a coroutine run by
    /// `asyncio.run(main())` (or `uvloop.run`, `anyio.run`, `trio.run`,
    /// `loop.run_until_complete(main())`) that opens such a client or pool
    /// and keeps it beyond itself, on an object (`bot.session = ...`) or in
    /// a global, and has not closed it when it returns: the runner closes
    /// the event loop then, and the client can no longer be closed. A
    /// release anywhere in the file on the same attribute (the bot's own
    /// `close`) counts; a client kept in a local is LK101's.
    ///
    /// And a request's: a resource kept on Flask's or Quart's `g` (`g.db =
    /// sqlite3.connect(...)`, `db = g._database = connect(...)`) that no
    /// code of the project closes, by the attribute it was stored under
    /// (`g.pop("db", None)`, `getattr(g, "db", None)` or `g.db`, then
    /// `.close()`, as the teardown handler of Flask's tutorial does).
    /// Popping the application context drops `g` and closes nothing.
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
        severity: Error,
        fix: None,
        needs: Project,
        check: Python(run),
        summary: "A client or pool opened at application startup is never closed at shutdown.",
    }
}

use crate::diagnostic::{Finding, Span};
use crate::python::model::{AttributeUse, Call, Callee, Function, HookEvent, Model};
use crate::resources::{ResourceKind, ResourceSpec, Vocabulary};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Startup,
    Shutdown,
    Lifespan,
    /// The coroutine `asyncio.run(...)` runs as the program: its end is
    /// the shutdown.
    EntryPoint,
}

/// `@app.on_event("startup")` -> Startup; `@asynccontextmanager` on a
/// function used as `lifespan=` (or named `lifespan`) -> Lifespan.
fn role_of(model: &Model, function: &Function) -> Option<Role> {
    let vocabulary = model.vocabulary();
    // Hooks named for their event: `@app.before_server_start`,
    // `@dp.startup()`, `@app.while_serving`.
    let hook_role = |callee: &str| {
        if Vocabulary::ends_name(&vocabulary.startup_hooks, callee) {
            Some(Role::Startup)
        } else if Vocabulary::ends_name(&vocabulary.shutdown_hooks, callee) {
            Some(Role::Shutdown)
        } else if Vocabulary::ends_name(&vocabulary.lifespan_hooks, callee) {
            Some(Role::Lifespan)
        } else if Vocabulary::ends_name(&vocabulary.entry_point_runners, callee) {
            function.top_level.then_some(Role::EntryPoint)
        } else {
            None
        }
    };
    for d in &function.decorators {
        let named = d
            .callee
            .as_deref()
            .unwrap_or_else(|| d.text.trim_start_matches('@').trim());
        if let Some(role) = hook_role(named) {
            return Some(role);
        }
    }
    let name = function.name.as_str();
    for r in model
        .hook_registrations()
        .iter()
        .filter(|r| r.handler == name)
    {
        if let Some(role) = match &r.event {
            HookEvent::Hook(callee) => hook_role(callee),
            _ => None,
        } {
            return Some(role);
        }
    }
    for d in &function.decorators {
        let (Some(callee), Some(arg)) = (&d.callee, &d.first_argument) else {
            continue;
        };
        if !Vocabulary::ends(&vocabulary.event_decorators, callee) {
            continue;
        }
        if Vocabulary::within(&vocabulary.startup_events, arg) {
            return Some(Role::Startup);
        }
        if Vocabulary::within(&vocabulary.shutdown_events, arg) {
            return Some(Role::Shutdown);
        }
    }
    // `Starlette(on_startup=[init])`, `app.on_startup.append(init)`.
    let registered_startup = model.hook_registrations().iter().any(|r| {
        r.handler == name
            && matches!(&r.event, HookEvent::Keyword(k) if Vocabulary::has(&vocabulary.startup_keywords, k))
    });
    if registered_startup {
        return Some(Role::Startup);
    }
    let is_cm = function
        .decorators
        .iter()
        .any(|d| Vocabulary::within(&vocabulary.context_manager_decorators, &d.text));
    let lifespan = Vocabulary::has(&vocabulary.lifespan_functions, name)
        || model.lifespans().iter().any(|l| l == name);
    (is_cm && lifespan).then_some(Role::Lifespan)
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect()
}

/// The receivers of calls (before byte `before`) that are given one of
/// `names` as an argument: `FastAPILimiter` for
/// `FastAPILimiter.init(redis)`.
fn receivers_given(calls: &[&Call], names: &[String], before: usize) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.span.start < before)
        .filter_map(|c| {
            let receiver = c.receiver()?;
            let given = c.args.iter().any(|a| names.contains(&a.value));
            given.then(|| squeeze(receiver))
        })
        .collect()
}

/// The module-level functions of this file with one of `names`.
fn module_functions_named<'m, 'a>(
    model: &'m Model<'_, 'a>,
    names: &[&str],
) -> Vec<&'m Function<'a>> {
    model
        .functions()
        .iter()
        .filter(|f| f.top_level && names.contains(&f.name.as_str()))
        .collect()
}

/// Module-level functions registered as shutdown handlers without the
/// decorator.
fn registered_shutdown_functions<'m, 'a>(model: &'m Model<'_, 'a>) -> Vec<&'m Function<'a>> {
    let vocabulary = model.vocabulary();
    let names: Vec<&str> = model
        .hook_registrations()
        .iter()
        .filter(|r| match &r.event {
            HookEvent::Argument(event) => Vocabulary::within(&vocabulary.shutdown_events, event),
            HookEvent::Keyword(key) => Vocabulary::has(&vocabulary.shutdown_keywords, key),
            HookEvent::Hook(callee) => Vocabulary::ends_name(&vocabulary.shutdown_hooks, callee),
        })
        .map(|r| r.handler.as_str())
        .collect();
    module_functions_named(model, &names)
}

/// Release calls among `calls` (from byte `after`): the texts of their
/// receivers (`app.state.mongo` for `app.state.mongo.close()`).
fn released_targets(model: &Model, calls: &[&Call], after: usize) -> Vec<String> {
    calls
        .iter()
        .filter(|c| c.span.start >= after)
        .filter_map(|c| {
            let Callee::Method { receiver, method } = &c.target else {
                return None;
            };
            let releases = model.resources().is_release_method(method);
            releases.then(|| squeeze(receiver))
        })
        .collect()
}

/// Every call of a function's definition.
fn all_calls<'m, 'a>(model: &Model<'_, 'a>, function: &'m Function<'a>) -> Vec<&'m Call> {
    model.function_body(function).calls.iter().collect()
}

/// Module-level functions of this file called in `calls` from byte
/// `after`.
fn helpers_called<'m, 'a>(
    model: &'m Model<'_, 'a>,
    calls: &[&Call],
    after: usize,
) -> Vec<&'m Function<'a>> {
    let names: Vec<&str> = calls
        .iter()
        .filter(|c| c.span.start >= after)
        .filter_map(|c| match &c.target {
            Callee::Name(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    module_functions_named(model, &names)
}

fn check(model: &Model) -> Vec<Finding> {
    // Startup handlers and lifespans are spelled with one of these.
    let vocabulary = model.vocabulary();
    let hooks = [
        &vocabulary.event_decorators,
        &vocabulary.lifespan_keywords,
        &vocabulary.event_registrars,
        &vocabulary.startup_keywords,
        &vocabulary.startup_hooks,
        &vocabulary.lifespan_hooks,
        &vocabulary.entry_point_runners,
    ];
    if !hooks.iter().any(|words| model.mentions(words)) {
        let mut out = Vec::new();
        global_findings(model, &mut out);
        request_findings(model, &mut out);
        return out;
    }
    let registered: Vec<&str> = model
        .hook_registrations()
        .iter()
        .map(|r| r.handler.as_str())
        .collect();
    let handlers: Vec<(Role, &Function)> = model
        .functions()
        .iter()
        .filter(|f| !f.decorators.is_empty() || registered.contains(&f.name.as_str()))
        .filter_map(|f| Some((role_of(model, f)?, f)))
        .collect();
    let mut shutdown_releases: Vec<String> = handlers
        .iter()
        .filter(|(role, _)| *role == Role::Shutdown)
        .flat_map(|(_, f)| released_targets(model, &all_calls(model, f), 0))
        .collect();
    // `app.add_event_handler("shutdown", close_clients)` and
    // `Starlette(on_shutdown=[close_clients])` register plain functions.
    for helper in registered_shutdown_functions(model) {
        shutdown_releases.extend(released_targets(model, &all_calls(model, helper), 0));
    }
    let mut out = Vec::new();
    for &(role, function) in handlers.iter().filter(|(role, _)| *role != Role::Shutdown) {
        let facts = model.function_body(function);
        let Some(body) = facts.span else {
            continue;
        };
        let body_calls: Vec<&Call> = facts
            .calls
            .iter()
            .filter(|c| c.span.start >= body.start)
            .collect();
        let yield_at = facts.first_yield;
        // (acquisition span, type, every name it is known by)
        let mut acquired: Vec<(Span, &ResourceSpec, Vec<String>)> = Vec::new();
        for assignment in &facts.assignments {
            if yield_at.is_some_and(|y| assignment.start > y) {
                continue;
            }
            let target = squeeze(&assignment.target);
            if let Some((spec, call)) = assignment.acquires {
                if spec.kind != ResourceKind::Factory {
                    acquired.push((call, spec, vec![target]));
                }
            } else {
                // `app.state.client = client`: another name for it.
                let source = squeeze(&assignment.value);
                for a in &mut acquired {
                    if a.2.contains(&source) {
                        a.2.push(target.clone());
                    }
                }
            }
        }
        if role == Role::EntryPoint {
            entry_point_findings(model, function, &body_calls, acquired, &mut out);
            continue;
        }
        let released = match role {
            Role::Lifespan => match yield_at {
                Some(y) => {
                    let mut r = released_targets(model, &body_calls, y);
                    // `await shutdown_db_client(app)` after the yield: a
                    // helper of this module that closes it.
                    for helper in helpers_called(model, &body_calls, y) {
                        r.extend(released_targets(model, &all_calls(model, helper), 0));
                    }
                    r
                }
                None => Vec::new(),
            },
            _ => shutdown_releases.clone(),
        };
        for (at, spec, names) in acquired {
            let type_name = &spec.type_name;
            if names.iter().any(|n| released.contains(n)) {
                continue;
            }
            // Handed to a library that is itself closed at shutdown:
            // `FastAPILimiter.init(redis)` ... `FastAPILimiter.close()`.
            let holders = receivers_given(&body_calls, &names, yield_at.unwrap_or(usize::MAX));
            if holders.iter().any(|h| released.contains(h)) {
                continue;
            }
            let name = &names[names.len() - 1];
            let (message, help) = match role {
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
    global_findings(model, &mut out);
    request_findings(model, &mut out);
    out
}

/// A resource kept on Flask's or Quart's `g` (`g.db = sqlite3.connect(...)`)
/// that no code of the file closes: the application context ends with
/// every request and drops `g`, closing nothing; only a teardown handler
/// (`@app.teardown_appcontext`) does.
fn request_findings(model: &Model, out: &mut Vec<Finding>) {
    let state = model.request_state();
    for store in &state.stores {
        if state.releases(&store.attribute)
            || model.namespace_released(&store.namespace, &store.attribute)
        {
            continue;
        }
        let spec = store.spec;
        let close = close_method(spec);
        let attribute = &store.attribute;
        let namespace = store.namespace.rsplit('.').next().unwrap_or("g");
        out.push(STARTUP_WITHOUT_SHUTDOWN.finding(
            store.call,
            format!(
                "`{}` ({}) is kept on `{}` for the application context, and no teardown handler closes it",
                store.target, spec.type_name, store.namespace
            ),
            format!(
                "Close it when the context ends: `@app.teardown_appcontext` on a function that does \
                 `{attribute} = {namespace}.pop(\"{attribute}\", None)` and, if it is not `None`, `{attribute}.{close}()`."
            ),
        ));
    }
}

/// What the program's entry point (`async def main()` run by
/// `asyncio.run(main())`) opens and keeps beyond itself, on an object
/// (`bot.session = ...`) or in a global, and leaves open when it returns:
/// the runner closes the event loop then, so a client whose close is a
/// coroutine can never be closed ("Unclosed client session" at exit). A
/// local is LK101's; a release anywhere in the file on the same name or
/// attribute (`self.session.close()` in the bot's `close`) or in another
/// module counts.
fn entry_point_findings(
    model: &Model,
    function: &Function,
    body_calls: &[&Call],
    acquired: Vec<(Span, &ResourceSpec, Vec<String>)>,
    out: &mut Vec<Finding>,
) {
    let state = model.module_state();
    let mut released: Vec<String> = released_targets(model, body_calls, 0);
    for helper in helpers_called(model, body_calls, 0) {
        released.extend(released_targets(model, &all_calls(model, helper), 0));
    }
    for other in model.functions() {
        released.extend(released_targets(model, &all_calls(model, other), 0));
    }
    let last = |n: &str| n.rsplit('.').next().unwrap_or(n).to_string();
    let mut released_lasts: Vec<String> = released.iter().map(|r| last(r)).collect();
    // `await self.session.close()` in a class of the file (the bot's own
    // `close`).
    for class in model.classes() {
        for u in &model.class_body(class).uses {
            if let AttributeUse::MethodCall { attribute, method } = u {
                if model.resources().is_release_method(method) {
                    released_lasts.push(attribute.clone());
                }
            }
        }
    }
    for (at, spec, names) in acquired {
        let async_close = spec.release.iter().any(|r| r.is_async && r.on.is_none());
        if !matches!(spec.kind, ResourceKind::Client | ResourceKind::Pool) || !async_close {
            continue;
        }
        let global = |n: &String| {
            state
                .stores
                .iter()
                .any(|s| s.call == at && s.name == *n && s.function == function.name)
        };
        let kept: Vec<&String> = names
            .iter()
            .filter(|n| n.contains('.') || n.contains('[') || global(n))
            .collect();
        let Some(name) = kept.last() else { continue };
        let closed = names.iter().any(|n| {
            released.contains(n)
                || (n.contains('.') && released_lasts.contains(&last(n)))
                || (global(n)
                    && (state.released.contains(n.as_str()) || model.released_elsewhere(n)))
        });
        if closed || out.iter().any(|f| f.span == at) {
            continue;
        }
        let main = &function.name;
        let close = close_method(spec);
        out.push(STARTUP_WITHOUT_SHUTDOWN.finding(
            at,
            format!(
                "`{name}` ({}) is opened by the entry point `{main}` and still open when it returns",
                spec.type_name
            ),
            format!(
                "The event loop is closed once `{main}` returns, and the {} can no longer be closed: \
                 wrap the rest of `{main}` in `try:` ... `finally: await {name}.{close}()`.",
                crate::rules::context::python::kind_word(spec.kind)
            ),
        ));
    }
}

/// A client or pool whose close is a coroutine, kept in module state
/// (`global _session; _session = aiohttp.ClientSession()`) and never
/// closed by the module: no destructor can await that close, so it stays
/// open until the process ends ("Unclosed client session"). Clients with a
/// blocking close (requests, redis, pymongo) are meant to be shared for
/// the life of the process and are not reported.
fn global_findings(model: &Model, out: &mut Vec<Finding>) {
    for store in crate::rules::context::python::unreleased_global_stores(model) {
        let spec = store.spec;
        let async_close = spec.release.iter().any(|r| r.is_async && r.on.is_none());
        // Made at import time, a lazy client (redis, httpx) has opened
        // nothing yet and is the usual shared instance; an eager one
        // (`aiohttp.ClientSession`, a pool) holds its connector from the
        // start.
        if !matches!(spec.kind, ResourceKind::Client | ResourceKind::Pool)
            || !async_close
            || (store.module_level && spec.lazy)
            || out.iter().any(|f| f.span == store.call)
        {
            continue;
        }
        let place = if store.on_class {
            format!("the class attribute `{}`", store.name)
        } else if store.container {
            format!("the module-level `{}`", store.name)
        } else {
            format!("the module global `{}`", store.name)
        };
        let close = close_method(spec);
        let who = if store.module_level {
            "Importing the module".to_string()
        } else {
            format!("`{}`", store.function)
        };
        out.push(STARTUP_WITHOUT_SHUTDOWN.finding(
            store.call,
            format!(
                "{who} keeps this {} ({}) in {place}, and nothing in this module closes it",
                crate::rules::context::python::kind_word(spec.kind),
                spec.type_name
            ),
            if store.container {
                format!(
                    "Close every one `{}` holds when the application stops (a shutdown handler or the end of the lifespan), awaiting `.{close}()` on each.",
                    store.name
                )
            } else {
                format!(
                    "Close it when the application stops (a shutdown handler or the end of the lifespan): `await {}.{close}()`.",
                    store.name
                )
            },
        ));
    }
}

/// The method that releases `spec` itself (not through another object):
/// `close`, `aclose`, `dispose`...
fn close_method(spec: &ResourceSpec) -> &str {
    spec.release
        .iter()
        .find(|r| r.on.is_none())
        .and_then(|r| r.method.as_deref())
        .unwrap_or("close")
}

fn run(cx: &crate::rules::PythonContext) -> Vec<Finding> {
    check(cx.model())
}
