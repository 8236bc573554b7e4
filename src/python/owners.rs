//! Project classes that are resources themselves.
//!
//! A class whose instances acquire a resource into `self` (in `__init__`,
//! or lazily in a method) and that has a release method releasing it
//! (`close`, `aclose`, `dispose`, `__exit__`, ...) hands the resource's
//! whole story to whoever constructs it: `Repo(dsn)` opens a connection
//! that only `repo.close()` (or `with Repo(dsn)`) gives back. Such a class
//! gets a summary whose `owner` is a resource spec for the class itself,
//! so constructing it acquires in every module that imports it, exactly
//! as a library type does; a class that keeps one of those (a wrapper of
//! a wrapper) is inferred the same way one fixpoint round later.
//!
//! What the wrapper is follows what it owns: the kind (a wrapper of a
//! connection is a connection, of an engine an engine), long-lived or
//! not, lazy when the class opens it only on first use. A class whose
//! only release is `__del__` is released by the garbage collector and is
//! not a resource to its callers; neither is a test class.

use crate::python::context::{FileContext, FnSummary};
use crate::python::model::{Class, ClassBody, Model};
use crate::resources::{Acquire, Release, ResourceKind, ResourceSpec, Vocabulary, WithSemantics};

/// Methods that run for the test framework, not for the class's users.
const NOT_FOR_CALLERS: &[&str] = &["__del__", "tearDown", "teardown", "teardown_method"];

/// The summaries of this module's resource-owning classes, keyed by the
/// class's qualified name (`app.db.Repo`).
pub fn owner_summaries(ctx: &FileContext) -> Vec<(String, FnSummary)> {
    let vocabulary = &ctx.resources.vocabulary;
    let model = Model::new(ctx);
    let mut out = Vec::new();
    for class in model.classes() {
        out.extend(wanted_bases(&model, class));
        let Some(name) = class.name.as_deref().filter(|_| class.top_level) else {
            continue;
        };
        let key = format!("{}.{name}", ctx.module_name);
        if ctx.summaries.get(&format!("{key}#wanted")).is_some()
            && class
                .methods
                .iter()
                .filter(|m| Vocabulary::has(&vocabulary.releaser_methods, m))
                .all(|m| class.empty_methods.contains(m))
            && model
                .base_keys(class)
                .iter()
                .all(|b| model.is_plain_base(b))
        {
            out.push((
                format!("{key}#plain"),
                FnSummary {
                    plain_class: true,
                    ..FnSummary::default()
                },
            ));
        }
        if Vocabulary::starts(&vocabulary.test_class_prefixes, name) {
            continue;
        }
        // Only a class whose code calls some release can release what it
        // owns: a byte test spares the others their class body.
        let own = (class.methods.iter().any(|m| is_release_name(vocabulary, m))
            && ctx.resources.may_release(model.class_text(class)))
        .then(|| owned_spec(&model, class, &key))
        .flatten();
        if let Some(spec) = own.or_else(|| inherited_spec(ctx, class, &key)) {
            out.extend(singleton_getters(&model, class, &spec));
            out.push((
                key.clone(),
                FnSummary {
                    returns: Some(key),
                    owner: Some(Box::new(spec)),
                    ..FnSummary::default()
                },
            ));
        }
    }
    out
}

/// A method its callers call to give the resource back: a release verb
/// (`close`, `aclose`, `dispose`, `__exit__`), or a name with one in it
/// (`close_conn`, `disconnect_db`).
/// A class that keeps a resource and has no release method of its own
/// asks the modules of its project bases whether they give it one
/// (`<base>#wanted`); they answer with `<base>#plain` (LK109 reads it).
fn wanted_bases<'a>(model: &Model<'_, 'a>, class: &Class<'a>) -> Vec<(String, FnSummary)> {
    let vocabulary = model.vocabulary();
    if class.bases.is_none()
        || class
            .methods
            .iter()
            .any(|m| Vocabulary::has(&vocabulary.releaser_methods, m))
    {
        return Vec::new();
    }
    let unknown: Vec<String> = model
        .base_keys(class)
        .into_iter()
        .filter(|b| b != "object" && !Vocabulary::has(&vocabulary.plain_bases, b))
        .collect();
    // What a library opens is named in the class (a project helper's
    // acquisition is not looked for here).
    if unknown.is_empty() || !model.resources().may_acquire(model.class_text(class)) {
        return Vec::new();
    }
    let keeps = model
        .class_body(class)
        .acquisitions
        .iter()
        .any(|a| !a.on_class && a.spec.kind != ResourceKind::Factory);
    if !keeps {
        return Vec::new();
    }
    crate::python::wanted_callees::wanted(unknown)
}

/// A subclass of a resource-owning class that neither owns nor releases
/// anything of its own (`class PgStore(Store)`) is the same resource.
fn inherited_spec(ctx: &FileContext, class: &Class, key: &str) -> Option<ResourceSpec> {
    if !class.inherits_init {
        return None;
    }
    let base = class.base_names.iter().find_map(|b| {
        let q = if ctx.local_functions.iter().any(|f| f == b) {
            format!("{}.{b}", ctx.module_name)
        } else {
            b.clone()
        };
        // Summaries of this module's classes are keyed by module too.
        ctx.summaries.get(&q)?.owner.as_deref()
    })?;
    if base.tests_only {
        return None;
    }
    let mut spec = base.clone();
    spec.type_name = key.to_string();
    spec.acquire[0].call = Some(key.to_string());
    Some(spec)
}

fn is_release_name(vocabulary: &Vocabulary, method: &str) -> bool {
    if NOT_FOR_CALLERS.contains(&method) {
        return false;
    }
    let lower = method.to_ascii_lowercase();
    Vocabulary::has(&vocabulary.releaser_methods, method)
        || Vocabulary::has(&vocabulary.release_methods, method)
        || (!lower.starts_with("teardown")
            && vocabulary
                .releasing_words
                .iter()
                .any(|w| lower.contains(w.as_str())))
}

/// The spec of `class` as a resource, when it owns one that one of its
/// release methods releases.
fn owned_spec<'a>(model: &Model<'_, 'a>, class: &Class<'a>, key: &str) -> Option<ResourceSpec> {
    let vocabulary = model.vocabulary();
    let body = model.class_body(class);
    // What each method releases directly: `self.conn.close()` in it.
    let releases_in = |method: &str| -> Vec<&str> {
        body.calls_in
            .iter()
            .filter(|(_, _, m)| m.as_deref() == Some(method))
            .filter(|(attribute, called, _)| {
                body.attribute_types.get(attribute).is_some_and(|spec| {
                    Vocabulary::has(&vocabulary.release_methods, called)
                        || spec
                            .release
                            .iter()
                            .any(|r| r.method.as_deref() == Some(called.as_str()))
                })
            })
            .map(|(attribute, _, _)| attribute.as_str())
            .collect()
    };
    // ... and through the class's own methods it calls (`close()` calling
    // `self._close_pool()`), to a fixed depth.
    let releases_through = |method: &str| -> Vec<&str> {
        let mut seen = vec![method.to_string()];
        let mut out = releases_in(method);
        let mut frontier = vec![method.to_string()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for m in &frontier {
                for (called, _) in body
                    .self_calls
                    .iter()
                    .filter(|(_, caller)| caller.as_deref() == Some(m.as_str()))
                {
                    if !seen.contains(called) && class.methods.contains(called) {
                        seen.push(called.clone());
                        out.extend(releases_in(called));
                        next.push(called.clone());
                    }
                }
            }
            frontier = next;
        }
        out
    };
    let releasing: Vec<(&String, Vec<&str>)> = class
        .methods
        .iter()
        .filter(|m| is_release_name(vocabulary, m))
        .map(|m| (m, releases_through(m)))
        .filter(|(_, released)| !released.is_empty())
        .collect();
    // The first resource of its own that a release method gives back.
    // One the caller may pass in instead (`Connection(engine,
    // connection=given)`) makes the class a borrower on that path: not
    // inferred, rather than guessed per call.
    let owned = body.acquisitions.iter().find(|a| {
        !a.on_class
            && !body.given.contains(&a.attribute)
            && a.spec.kind != ResourceKind::Factory
            && releasing
                .iter()
                .any(|(_, released)| released.contains(&a.attribute.as_str()))
    })?;
    let eager = body
        .acquisitions
        .iter()
        .any(|a| a.attribute == owned.attribute && a.method.as_deref() == Some("__init__"));
    // What callers call: public methods (`close()` calling a private
    // `_shutdown()` releases through it, but callers call `close()`).
    let release: Vec<Release> = releasing
        .iter()
        .filter(|(m, _)| !m.starts_with('_'))
        .map(|(m, _)| Release {
            method: Some((*m).clone()),
            call: None,
            on: None,
            arg: None,
            is_async: class.async_methods.contains(m) || returns_a_coroutine(body, m),
            any_path: false,
            through: None,
            without_args: false,
        })
        .collect();
    let guards = |exit: &str| {
        releasing
            .iter()
            .any(|(m, _)| m.as_str() == exit)
            .then_some(WithSemantics::Closes)
    };
    let with_semantics = guards("__exit__");
    let async_with = guards("__aexit__");
    if release.is_empty() && with_semantics.is_none() && async_with.is_none() {
        return None;
    }
    Some(ResourceSpec {
        type_name: key.to_string(),
        aliases: Vec::new(),
        kind: owned.spec.kind,
        acquire: vec![Acquire {
            call: Some(key.to_string()),
            method: None,
            on: None,
            awaited: false,
            element: None,
            out_arg: None,
            any_path: false,
            into_receiver: false,
            when: None,
        }],
        release,
        with_semantics,
        async_with,
        drop_releases: false,
        long_lived: owned.spec.long_lived,
        pooled: false,
        resets_on_return: false,
        embedded: owned.spec.embedded,
        must_poll: false,
        builder: false,
        lazy: owned.spec.lazy || !eager,
        proxy_opens: None,
        inert_when: Vec::new(),
        borrows_when: Vec::new(),
        quiet_methods: Vec::new(),
        tests_only: false,
        derived: Vec::new(),
        language: None,
    })
}

/// `def close(self): return self.session.close()` on an
/// `aiohttp.ClientSession`: the method hands back the coroutine that
/// closes, so calling it without `await` closes nothing.
fn returns_a_coroutine(body: &ClassBody, method: &str) -> bool {
    body.returned_calls.iter().any(|(attribute, called, m)| {
        m.as_deref() == Some(method)
            && body.attribute_types.get(attribute).is_some_and(|spec| {
                spec.release
                    .iter()
                    .any(|r| r.is_async && r.method.as_deref() == Some(called.as_str()))
            })
    })
}

/// A classmethod that caches an instance of the class on the class
/// (`cls._instance = cls(...)` in `get_instance()`) is the application's
/// way to share one: calling it acquires only in test code, where each
/// test that takes the instance must give it back, by closing it or by
/// the classmethod that drops the cache (`reset_instance()`). Each getter
/// gets a summary returning `<class>#instance`, whose spec adds those
/// resets to the class's releases.
fn singleton_getters<'a>(
    model: &Model<'_, 'a>,
    class: &Class<'a>,
    spec: &ResourceSpec,
) -> Vec<(String, FnSummary)> {
    let body = model.class_body(class);
    let mut out = Vec::new();
    for cached in body
        .acquisitions
        .iter()
        .filter(|a| a.on_class && a.spec.type_name == spec.type_name)
    {
        let Some(getter) = cached.method.as_deref().filter(|m| !m.starts_with("__")) else {
            continue;
        };
        // Methods that close the cached instance or drop it.
        let mut resets: Vec<&str> = body
            .calls_in
            .iter()
            .filter(|(a, called, _)| {
                *a == cached.attribute
                    && spec
                        .release
                        .iter()
                        .any(|r| r.method.as_deref() == Some(called.as_str()))
            })
            .filter_map(|(_, _, m)| m.as_deref())
            .chain(
                body.dropped
                    .iter()
                    .filter(|(a, _, _)| *a == cached.attribute)
                    .filter_map(|(_, m, _)| m.as_deref()),
            )
            .filter(|m| *m != getter)
            .collect();
        resets.sort_unstable();
        resets.dedup();
        let instance = format!("{}#instance", spec.type_name);
        let mut shared = spec.clone();
        shared.type_name = instance.clone();
        shared.tests_only = true;
        shared.acquire[0].call = Some(format!("{}.{getter}", spec.type_name));
        shared.release.extend(resets.iter().map(|m| Release {
            method: None,
            call: Some(format!("{}.{m}", spec.type_name)),
            on: None,
            arg: None,
            is_async: class.async_methods.iter().any(|a| a == m),
            any_path: false,
            through: None,
            without_args: false,
        }));
        out.push((
            format!("{}.{getter}", spec.type_name),
            FnSummary {
                returns: Some(instance.clone()),
                returns_awaited: class.async_methods.iter().any(|a| a == getter),
                ..FnSummary::default()
            },
        ));
        out.push((
            instance,
            FnSummary {
                owner: Some(Box::new(shared)),
                ..FnSummary::default()
            },
        ));
    }
    out
}
