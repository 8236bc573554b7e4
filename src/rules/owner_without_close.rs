crate::declare_rule! {
    /// ## What it does
    /// Finds a class that acquires a session, connection, cursor or
    /// transaction (not an engine, pool or shared client, which are
    /// long-lived by design, unless it can only be closed by awaiting it:
    /// an `aiohttp.ClientSession`, an `httpx.AsyncClient`) and stores it
    /// on `self`
    /// (`self.conn = psycopg2.connect(...)`, `self.session =
    /// SessionLocal()`) but has no method that could release it:
    /// no `close`, `aclose`, `__exit__`, `__aexit__`, `__del__`, `dispose`,
    /// `shutdown`, `stop`, `disconnect`..., and no code that releases that
    /// attribute, itself or in a base class: one from another module of
    /// the project counts when that module shows it gives no release (no
    /// release method, or an empty `def close(self): ...` left for
    /// subclasses), also through a star import. A discord.py bot
    /// (`commands.Bot`, `discord.Client` and their forks) counts as a
    /// base with no release: its `close` closes only its own connection
    /// to Discord, so a client opened in `setup_hook` must be closed by an
    /// overriding `close`. A release through a property that returns the
    /// attribute (`self.session.close()` for `return self._session`)
    /// counts. Also a release method
    /// that drops such an attribute
    /// (`self.engine = None` in `close()`) when nothing in the class
    /// releases it.
    ///
    /// ## Why is this bad?
    /// Whoever uses the object has no way to give the connection back:
    /// every instance holds one until the process ends. Services,
    /// repositories and test helpers built this way are how connection
    /// counts climb "for no reason".
    ///
    /// ## Example
    /// ```python
    /// class UserRepository:
    ///     def __init__(self, dsn):
    ///         self.conn = psycopg2.connect(dsn)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// class UserRepository:
    ///     def __init__(self, dsn):
    ///         self.conn = psycopg2.connect(dsn)
    ///
    ///     def close(self):
    ///         self.conn.close()
    ///
    ///     def __enter__(self):
    ///         return self
    ///
    ///     def __exit__(self, *exc):
    ///         self.close()
    /// ```
    pub static OWNER_WITHOUT_CLOSE = {
        code: "LK109",
        name: "owner-without-close",
        severity: Error,
        fix: None,
        needs: Project,
        check: Python(run),
        summary: "A class stores a resource it acquired on self but has no method that releases it.",
    }
}

use std::collections::HashMap;

use crate::diagnostic::{Finding, Span};
use crate::python::model::{AttributeUse, Class, Model};
use crate::resources::{ResourceKind, Vocabulary};

fn check(model: &Model) -> Vec<Finding> {
    let mut out = Vec::new();
    for class in model.classes() {
        check_class(model, class, &mut out);
    }
    out
}

fn check_class<'a>(model: &Model<'_, 'a>, class: &Class<'a>, out: &mut Vec<Finding>) {
    let vocabulary = model.vocabulary();
    if class
        .methods
        .iter()
        .any(|n| Vocabulary::has(&vocabulary.releaser_methods, n))
    {
        dropped_by_releaser(model, class, out);
        return;
    }
    // A pytest test class: its set-up is LK105's.
    if class.bases.is_none()
        && class
            .name
            .as_deref()
            .is_some_and(|n| Vocabulary::starts(&vocabulary.test_class_prefixes, n))
    {
        return;
    }
    // A class that inherits may get its releaser from a base class, unless
    // each base is known to give none (`object`, a discord.py `Cog`, whose
    // `cog_unload` hook does nothing until the class overrides it, or a
    // project base whose module found it plain).
    if class.bases.is_some()
        && !model
            .base_keys(class)
            .iter()
            .all(|b| model.is_plain_base(b))
    {
        return;
    }
    let body = model.class_body(class);
    let mut acquired: HashMap<String, (Span, String, Option<String>)> = HashMap::new();
    for a in &body.acquisitions {
        // Engines, pools and clients on an application object are
        // long-lived by design; but one whose only release is a coroutine
        // (`aiohttp.ClientSession`, `httpx.AsyncClient`) cannot be closed
        // by garbage collection, and an object that makes one with no way
        // to close it leaks it with every instance.
        let kept = !a.spec.long_lived || only_async_release(a.spec);
        if a.spec.kind != ResourceKind::Factory && kept && !a.on_class {
            acquired.entry(a.attribute.clone()).or_insert((
                a.call,
                a.spec.type_name.clone(),
                a.from_attribute.clone(),
            ));
        }
    }
    let mut released: Vec<String> = Vec::new();
    for u in &body.uses {
        match u {
            // self.x.close(), self.x.dispose()...
            AttributeUse::MethodCall { attribute, method } => {
                let spec_releases = body.attribute_types.get(attribute).is_some_and(|s| {
                    s.release
                        .iter()
                        .any(|r| r.method.as_deref() == Some(method.as_str()))
                });
                if Vocabulary::has(&vocabulary.release_methods, method) || spec_releases {
                    released.push(attribute.clone());
                }
            }
            // closing(self.x), stack.enter_context(self.x), atexit.register(self.x.close)
            AttributeUse::PassedTo { attribute, callee } => {
                if Vocabulary::ends(&vocabulary.releasing_wrappers, callee) {
                    released.push(attribute.clone());
                }
            }
        }
    }
    let class_name = class.name.as_deref().unwrap_or("?");
    let mut acquired: Vec<_> = acquired
        .into_iter()
        .filter(|(a, _)| !released.contains(a))
        .collect();
    // `self.cur = self.conn.cursor()`: part of the connection's story.
    let reported: Vec<String> = acquired.iter().map(|(a, _)| a.clone()).collect();
    acquired.retain(|(_, (_, _, parent))| parent.as_ref().is_none_or(|p| !reported.contains(p)));
    acquired.sort_by_key(|(_, (span, _, _))| *span);
    for (attr, (span, type_name, _)) in acquired {
        out.push(OWNER_WITHOUT_CLOSE.finding(
            span,
            format!("`{class_name}` keeps `self.{attr}` ({type_name}) but has no method that releases it"),
            format!(
                "Add `def close(self): self.{attr}.close()` (and `__enter__`/`__exit__` so callers can use `with`), \
                 or release it where the object's life ends."
            ),
        ));
    }
}

/// `def close(self): self.engine = None`: a release method that drops a
/// resource the class opened without releasing it. Its callers believe it
/// closed; the engine's pooled connections stay open.
fn dropped_by_releaser<'a>(model: &Model<'_, 'a>, class: &Class<'a>, out: &mut Vec<Finding>) {
    let vocabulary = model.vocabulary();
    let body = model.class_body(class);
    let class_name = class.name.as_deref().unwrap_or("?");
    for (attribute, method, at) in &body.dropped {
        let Some(method) = method.as_deref() else {
            continue;
        };
        let Some(spec) = body.attribute_types.get(attribute) else {
            continue;
        };
        // Only what the class opened: an attribute typed by an annotation
        // holds what someone else gave it or opened.
        if !body.acquisitions.iter().any(|a| a.attribute == *attribute) {
            continue;
        }
        if !Vocabulary::has(&vocabulary.releaser_methods, method)
            || spec.kind == ResourceKind::Factory
        {
            continue;
        }
        // Released anywhere in the class (a helper `close()` calls, say):
        // taken to be released on the way.
        let released = body.calls_in.iter().any(|(a, m, _)| {
            a == attribute
                && (Vocabulary::has(&vocabulary.release_methods, m)
                    || spec
                        .release
                        .iter()
                        .any(|r| r.method.as_deref() == Some(m.as_str())))
        }) || body.uses.iter().any(|u| {
            // `closing(self.x)`, or given back to its owner:
            // `await self._pool.release(self._connection)`.
            matches!(u, AttributeUse::PassedTo { attribute: a, callee }
            if a == attribute && (Vocabulary::ends(&vocabulary.releasing_wrappers, callee)
                || callee.rsplit('.').next().is_some_and(|m| {
                    Vocabulary::has(&vocabulary.owner_release_methods, m)
                        || Vocabulary::has(&vocabulary.release_methods, m)
                })))
        });
        if released {
            continue;
        }
        out.push(OWNER_WITHOUT_CLOSE.finding(
            *at,
            format!(
                "`{class_name}.{method}()` drops `self.{attribute}` ({}) without releasing it",
                spec.type_name
            ),
            format!(
                "Release it before dropping it: `self.{attribute}.{}()`.",
                release_word(spec)
            ),
        ));
    }
}

/// The name of the first method that releases `spec` (`close`, `dispose`).
fn release_word(spec: &crate::resources::ResourceSpec) -> &str {
    spec.release
        .iter()
        .find_map(|r| r.method.as_deref())
        .unwrap_or("close")
}

/// Whether every way to release `spec` must be awaited.
fn only_async_release(spec: &crate::resources::ResourceSpec) -> bool {
    !spec.release.is_empty() && spec.release.iter().all(|r| r.is_async)
}

fn run(cx: &crate::rules::PythonContext) -> Vec<Finding> {
    check(cx.model())
}
