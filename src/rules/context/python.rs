//! Wording and filters that the Python dataflow rules share.

use crate::diagnostic::Span;
use crate::ir::{Function, Site};
use crate::ir::{Leak, Outcome};
use crate::resources::{ResourceKind, WithSemantics};
use crate::rules::PythonContext;

pub(crate) fn kind_word(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Connection => "connection",
        ResourceKind::Session => "session",
        ResourceKind::Pool => "pool",
        ResourceKind::Client => "client",
        ResourceKind::Engine => "engine",
        ResourceKind::Transaction => "transaction",
        ResourceKind::Cursor => "cursor",
        ResourceKind::Handle => "handle",
        ResourceKind::Factory => "factory",
    }
}

/// The spelling of a release call for `x`, as its spec names it.
pub(crate) fn release_word(cx: &PythonContext, type_name: &str) -> String {
    let spec = cx.file().spec(type_name);
    let method = spec
        .and_then(|s| {
            s.release
                .iter()
                .find(|r| r.method.is_some() && r.on.is_none())
        })
        .and_then(|r| r.method.clone().map(|m| (m, r.is_async)));
    match method {
        Some((m, true)) => format!("await x.{m}()"),
        Some((m, false)) => format!("x.{m}()"),
        None => "x.close()".to_string(),
    }
}

/// The help of a leak: scope it with `with` where its context manager
/// closes it, else release it in a `finally:`.
pub(crate) fn help_with(cx: &PythonContext, type_name: &str, var: &str, async_fn: bool) -> String {
    let spec = cx.file().spec(type_name);
    let guard = spec.is_some_and(|s| {
        if async_fn {
            s.async_with == Some(WithSemantics::Closes)
                || s.with_semantics == Some(WithSemantics::Closes)
        } else {
            s.with_semantics == Some(WithSemantics::Closes)
        }
    });
    let release = release_word(cx, type_name).replace("x.", &format!("{var}."));
    if guard {
        let kw = if async_fn && spec.is_some_and(|s| s.async_with.is_some()) {
            "async with"
        } else {
            "with"
        };
        format!("Scope it: `{kw} <acquire> as {var}: ...`, or release it in a `finally:` block with `{release}`.")
    } else {
        format!("Release it on every path: `try: ... finally: {release}`.")
    }
}

/// The label where the last reference goes: the acquisition itself when a
/// loop acquires again while the previous one is open.
pub(crate) fn lost_here(at: Span, site: Span) -> &'static str {
    if at == site {
        "acquired again here, in the next iteration, while the previous one is still open"
    } else {
        "the last reference is lost here"
    }
}

/// The name a site goes by in messages.
pub(crate) fn var_of(site: &Site) -> &str {
    if site.var_name.starts_with('<') {
        "it"
    } else {
        site.var_name.as_str()
    }
}

/// The leaks of one function that LK101 and LK102 tell, with their sites:
/// not a lazy resource never used (an engine holds nothing until it
/// connects), not a cursor whose connection leaks too (part of that
/// story), not a factory, and nothing of a fixture (LK105's).
pub(crate) fn reportable_leaks<'r>(
    cx: &PythonContext,
    f: &'r Function,
    outcome: &'r Outcome,
) -> Vec<(&'r Leak, &'r Site)> {
    let leaking: Vec<usize> = outcome.leaks.iter().map(|k| k.site).collect();
    outcome
        .leaks
        .iter()
        .filter(|_| !f.info.is_fixture)
        .map(|leak| (leak, &f.sites[leak.site]))
        .filter(|(leak, site)| {
            let spec = cx.file().spec(&site.type_name);
            let unused_lazy = !leak.engaged && spec.is_some_and(|s| s.lazy);
            // A registry leaks what it opened only once used as a proxy.
            let proxy = leak.engaged && spec.is_some_and(|s| s.proxy_opens.is_some());
            !unused_lazy
                && !site.parent.is_some_and(|p| leaking.contains(&p))
                && (site.kind != ResourceKind::Factory || proxy)
        })
        .collect()
}

/// The kind a finding names for a site: for a proxy registry, what it
/// opened (a `scoped_session` leaks a session).
pub(crate) fn reported_kind(cx: &PythonContext, site: &Site) -> ResourceKind {
    cx.file()
        .spec(&site.type_name)
        .and_then(|s| s.proxy_opens)
        .unwrap_or(site.kind)
}

/// Resources that functions store in module state (globals, module-level
/// containers, class attributes) and that no code of the file releases:
/// what LK107 (sessions and connections) and LK108 (clients and pools
/// whose close is a coroutine) report. Nothing of a script (`if __name__
/// == "__main__":`), whose process ends with its run.
pub(crate) fn unreleased_global_stores<'m, 'a>(
    model: &'m crate::python::model::Model<'_, 'a>,
) -> Vec<&'m crate::python::model::GlobalStore<'a>> {
    let state = model.module_state();
    if state.script {
        return Vec::new();
    }
    let mut seen = Vec::new();
    state
        .stores
        .iter()
        .filter(|s| !state.released.contains(&s.key) && !model.released_elsewhere(&s.name))
        .filter(|s| {
            // One finding per piece of state.
            let new = !seen.contains(&s.name);
            seen.push(s.name.clone());
            new
        })
        .collect()
}
