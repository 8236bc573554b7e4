crate::declare_rule! {
    /// ## What it does
    /// Finds a database or HTTP resource (connection, session, cursor,
    /// client, pool, transaction) acquired in a function and still open
    /// when the function ends on a path without any exception: it is not
    /// closed, not used as a context manager, not returned and not handed
    /// to anything that owns it. Also when the last reference to an open
    /// resource is overwritten (`conn = None`, a second `connect()` into the
    /// same name, `del conn`), and when a function rebinds a module global
    /// that module-level code opened a resource into (`global SESSION;
    /// SESSION = requests.Session()`) without releasing the old one, and
    /// when a function drops entries of a module-level cache of
    /// connections or clients (`del CLIENTS[host]`, `CLIENTS.clear()`)
    /// without closing what it removes. A
    /// connection opened and dropped at once (`pymysql.connect(...)` as a
    /// statement, `retry(engine.connect)`) is never released either. A
    /// resource made on one path only counts on
    /// that path (`client = client or httpx.Client()`, `... if client is
    /// None else client`), unless the function closes it under a condition,
    /// which is taken to be the same one. What cannot own anything is left
    /// alone: a SQLAlchemy `Session` bound to a connection someone else owns
    /// (`Session(bind=op.get_bind())`), a requests response not made with
    /// `stream=True`, a urllib response read to the end.
    ///
    /// The project's own classes count, with no configuration: a class
    /// whose instances open a resource into `self` (in `__init__`, or
    /// lazily) and release it in a release method (`close`, `aclose`,
    /// `dispose`, `close_conn`, `__exit__`...) is a resource of the same
    /// kind, in every module that imports it, and so are its subclasses
    /// and classes that own one of it in turn; `with` over it guards it.
    /// A class released only by `__del__` is not. A classmethod that
    /// caches an instance on the class (`get_instance()`) acquires only in
    /// test modules, where a reset classmethod (`reset_instance()`) or
    /// `close()` gives it back. A method a class inherits from a project
    /// base in another module (`self.connect()`) acquires as the base's
    /// does.
    ///
    /// Project helpers count through what they do with a callable: a
    /// lambda or function that acquires, handed to a helper that calls it
    /// and returns its result (`with_retry(lambda: psycopg2.connect(dsn))`,
    /// `throttle(f, rate)` forwarding it on), acquires at the call, in
    /// whichever module the helper lives.
    ///
    /// A registry made per call is a resource too: SQLAlchemy's
    /// `scoped_session(factory)` in a local, once used as a proxy
    /// (`session.query(...)`, `session.add(...)` create "the current
    /// Session" behind it), leaves that Session open unless it is given
    /// back with `session.remove()` or `session.close()`; a registry at
    /// module level or on `self` is the application's and is not reported.
    ///
    /// Types come from annotations too, so that methods on a value someone
    /// else gave acquire: a typed parameter (`pool: asyncpg.Pool`), an
    /// attribute set from one (`self._pool = pool`) or declared
    /// (`pool: Pool` in the class body, `self.pool: Pool | None = None`),
    /// an annotated local (`pool: asyncpg.Pool = request.app["pool"]`),
    /// through `Optional[...]`, `... | None` and string annotations.
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
        severity: Error,
        fix: Sometimes,
        needs: Project,
        check: Python(check),
        summary: "A resource acquired in a function is never released.",
    }
}

use crate::diagnostic::{Applicability, Finding, Fix};
use crate::ir::{Function, Generator, Site};
use crate::ir::{LeakPath, Outcome};
use crate::resources::{ResourceKind, Vocabulary, WithSemantics};
use crate::rules::context::python::{
    help_with, kind_word, lost_here, reportable_leaks, reported_kind, var_of,
};
use crate::rules::context::NoRewrite;
use crate::rules::PythonContext;

fn check(cx: &PythonContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, outcome) in cx.functions() {
        for (leak, site) in reportable_leaks(cx, f, outcome) {
            if leak.path != LeakPath::Normal {
                continue;
            }
            let var = var_of(site);
            let what = kind_word(reported_kind(cx, site));
            let help = help_with(cx, &site.type_name, var, f.info.is_async);
            let message = match leak.overwritten_at {
                _ if site.var_name == "<discarded>" => format!(
                    "{what} ({}) is opened and dropped at once: nothing can release it",
                    site.type_name
                ),
                Some(_) => format!(
                    "{what} `{var}` ({}) is overwritten before it is released",
                    site.type_name
                ),
                None => format!("{what} `{var}` ({}) is never released", site.type_name),
            };
            let mut finding = UNCLOSED_RESOURCE.finding(site.span, message, help);
            if let Some(at) = leak
                .overwritten_at
                .filter(|_| site.var_name != "<discarded>")
            {
                finding = finding.with_label(at, lost_here(at, site.span));
            }
            for r in &leak.released_at {
                finding = finding.with_label(*r, "released here only on some paths");
            }
            if leak.overwritten_at.is_none() && leak.released_at.is_empty() {
                match with_fix(cx, f, site) {
                    Ok(fix) => finding = finding.with_fix(fix),
                    Err(NoRewrite::Unsafe(why)) => {
                        finding.help.push_str(&format!(" No automatic fix: {why}."));
                    }
                    Err(NoRewrite::Shape) => {}
                }
            }
            out.push(finding);
        }
        out.extend(returned_to_fastapi(cx, f, outcome));
    }
    out.extend(rebound_globals(cx));
    out.extend(evicted_while_open(cx));
    out
}

/// `del CLIENT_CACHE[ip]` or `CLIENT_CACHE.clear()` in a function that
/// closes nothing it takes out: the clients the cache held are dropped
/// open. Not for clients shared by design whose blocking close the
/// garbage collector runs (`requests.Session`, `redis.Redis`); for
/// connections, sessions, SSH clients, and clients only an await closes.
fn evicted_while_open(cx: &PythonContext) -> Vec<Finding> {
    let state = cx.model().module_state();
    if state.script {
        return Vec::new();
    }
    let mut out = Vec::new();
    for (container, at, function) in &state.evictions {
        let Some(store) = state.stores.iter().find(|s| {
            let awaited_only =
                !s.spec.release.is_empty() && s.spec.release.iter().all(|r| r.is_async);
            s.container && s.name == *container && (!s.spec.long_lived || awaited_only)
        }) else {
            continue;
        };
        out.push(UNCLOSED_RESOURCE.finding(
            *at,
            format!(
                "`{function}` drops entries of `{container}` without releasing them: each is an open {} ({})",
                kind_word(store.spec.kind),
                store.spec.type_name
            ),
            format!(
                "Release what you remove first: `for c in {container}.values(): c.close()` before `clear()`, or `{container}.pop(key).close()`."
            ),
        ));
    }
    out
}

/// `global SESSION; SESSION = requests.Session()` in a function, when
/// module-level code opened one into `SESSION` and the function does not
/// release it first: the open one is lost.
fn rebound_globals(cx: &PythonContext) -> Vec<Finding> {
    cx.model()
        .module_state()
        .stores
        .iter()
        .filter(|s| s.rebinds_open)
        .map(|s| {
            UNCLOSED_RESOURCE.finding(
                s.call,
                format!(
                    "`{}` is rebound to a new {} ({}) in `{}` while it holds an open one, which is lost",
                    s.name,
                    kind_word(s.spec.kind),
                    s.spec.type_name,
                    s.function
                ),
                format!(
                    "Release the old one first (`{}.close()` or its library's release) before rebinding `{}`.",
                    s.name, s.name
                ),
            )
        })
        .collect()
}

/// A plain (non-generator) FastAPI dependency that returns a fresh
/// resource: FastAPI closes nothing a dependency returns, only what a
/// generator dependency releases after its `yield`.
fn returned_to_fastapi(cx: &PythonContext, f: &Function, outcome: &Outcome) -> Vec<Finding> {
    let info = &f.info;
    let name = info.qualified_name.rsplit('.').next().unwrap_or("");
    let cache_words = &cx.resources().vocabulary.cache_words;
    let cached = info
        .decorators
        .iter()
        .any(|d| Vocabulary::within(cache_words, d));
    if info.class.is_some()
        || cached
        || info.generator != Generator::Plain
        || !cx.file().dependencies.iter().any(|d| d == name)
    {
        return Vec::new();
    }
    outcome
        .returned
        .iter()
        .filter(|s| !outcome.stored.contains(s))
        .map(|&s| &f.sites[s])
        .filter(|site| site.kind != ResourceKind::Factory)
        .map(|site| {
            UNCLOSED_RESOURCE.finding(
                site.span,
                format!(
                    "`{name}` is a FastAPI dependency that returns a new {} ({}) on every request, and FastAPI never closes it",
                    kind_word(site.kind),
                    site.type_name
                ),
                format!(
                    "Make `{name}` a generator: create it, `yield` it, and release it after the yield in a `finally:`; \
                     or create one long-lived instance at startup and return that."
                ),
            )
        })
        .collect()
}

/// The fix: the acquisition becomes a `with` (or `async with`) block over
/// the rest of its block, when its library's context manager closes it.
fn with_fix(cx: &PythonContext, f: &Function, site: &Site) -> Result<Fix, NoRewrite> {
    let spec = cx.file().spec(&site.type_name).ok_or(NoRewrite::Shape)?;
    let keyword = if f.info.is_async && spec.async_with == Some(WithSemantics::Closes) {
        "async with"
    } else if spec.with_semantics == Some(WithSemantics::Closes) {
        "with"
    } else {
        return Err(NoRewrite::Shape);
    };
    if site.var_name.starts_with('<') {
        return Err(NoRewrite::Shape);
    }
    let edits = cx.with_block_edits(site.span, &site.var_name, keyword)?;
    Ok(Fix::new(
        Applicability::Unsafe,
        format!("Scope `{}` with `{keyword}`", site.var_name),
        edits,
    ))
}
