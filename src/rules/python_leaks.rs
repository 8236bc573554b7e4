//! Turns the engine's verdicts on Python functions into LK101, LK102,
//! LK103 and LK106 findings, each with its story and help.

use super::{CLOSE_NOT_AWAITED, GENERATOR_DEPENDENCY_NEXT, LEAK_ON_ERROR_PATH, UNCLOSED_RESOURCE};
use crate::analysis::{LeakPath, Outcome};
use crate::config::RuleSet;
use crate::diagnostic::{Applicability, Edit, Finding, Fix};
use crate::python::context::{FileContext, Summaries};
use crate::python::lower::{GenMode, Lowered};
use crate::python::rewrite;
use crate::resources::ResourceKind;

fn kind_word(kind: ResourceKind) -> &'static str {
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

fn release_word(ctx: &FileContext, type_name: &str) -> String {
    let spec = ctx.spec(type_name);
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

fn help_with(ctx: &FileContext, type_name: &str, var: &str, async_fn: bool) -> String {
    let spec = ctx.spec(type_name);
    let guard = spec.is_some_and(|s| {
        if async_fn {
            s.async_with == Some(crate::resources::WithSemantics::Closes)
                || s.with_semantics == Some(crate::resources::WithSemantics::Closes)
        } else {
            s.with_semantics == Some(crate::resources::WithSemantics::Closes)
        }
    });
    let release = release_word(ctx, type_name).replace("x.", &format!("{var}."));
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
fn lost_here(at: crate::diagnostic::Span, site: crate::diagnostic::Span) -> &'static str {
    if at == site {
        "acquired again here, in the next iteration, while the previous one is still open"
    } else {
        "the last reference is lost here"
    }
}

/// A plain (non-generator) FastAPI dependency that returns a fresh
/// resource: FastAPI closes nothing a dependency returns, only what a
/// generator dependency releases after its `yield`.
fn returned_to_fastapi(ctx: &FileContext, l: &Lowered, outcome: &Outcome) -> Vec<Finding> {
    let name = l.qualified_name.rsplit('.').next().unwrap_or("");
    let cached = l.decorators.iter().any(|d| d.contains("cache"));
    if l.class.is_some()
        || cached
        || !matches!(l.gen, GenMode::NotGenerator)
        || !ctx.dependencies.iter().any(|d| d == name)
    {
        return Vec::new();
    }
    outcome
        .returned
        .iter()
        .filter(|s| !outcome.stored.contains(s))
        .map(|&s| &l.function.sites[s])
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

/// A pytest test: `test*` functions, also as methods of `Test*` classes.
fn is_test_function(l: &Lowered) -> bool {
    let name = l.qualified_name.rsplit('.').next().unwrap_or("");
    name.starts_with("test") && l.class.as_deref().is_none_or(|c| c.starts_with("Test"))
}

/// LK101's fix: the acquisition becomes a `with` (or `async with`) block
/// over the rest of its block, when its library's context manager closes
/// it.
fn with_fix(ctx: &FileContext, l: &Lowered, site: &crate::ir::Site, newline: &str) -> Option<Fix> {
    let spec = ctx.spec(&site.type_name)?;
    let keyword = if l.is_async && spec.async_with == Some(crate::resources::WithSemantics::Closes)
    {
        "async with"
    } else if spec.with_semantics == Some(crate::resources::WithSemantics::Closes) {
        "with"
    } else {
        return None;
    };
    if site.var_name.starts_with('<') {
        return None;
    }
    let root = ctx.module.tree.root_node();
    let edits = rewrite::with_block(
        ctx.module.text,
        root,
        site.span,
        &site.var_name,
        keyword,
        newline,
    )?;
    Some(Fix::new(
        Applicability::Unsafe,
        format!("Scope `{}` with `{keyword}`", site.var_name),
        edits,
    ))
}

pub fn check(
    ctx: &FileContext,
    results: &[(Lowered, Outcome)],
    rules: &RuleSet,
    summaries: &Summaries,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let newline = if ctx.module.text.contains("\r\n") {
        "\r\n"
    } else {
        "\n"
    };
    for (l, outcome) in results {
        let leaking: Vec<usize> = outcome.leaks.iter().map(|k| k.site).collect();
        for leak in &outcome.leaks {
            let site = &l.function.sites[leak.site];
            // A lazy resource (an engine) that was never used holds nothing.
            if !leak.engaged && ctx.spec(&site.type_name).is_some_and(|s| s.lazy) {
                continue;
            }
            // A cursor whose connection leaks too is part of that story.
            if site.parent.is_some_and(|p| leaking.contains(&p)) {
                continue;
            }
            if site.kind == ResourceKind::Factory {
                continue;
            }
            // Fixtures are LK105's; lent resources of other generators are
            // reported here like any other.
            if l.is_fixture {
                continue;
            }
            let var = if site.var_name.starts_with('<') {
                "it"
            } else {
                site.var_name.as_str()
            };
            let what = kind_word(site.kind);
            let help = help_with(ctx, &site.type_name, var, l.is_async);
            let finding = match leak.path {
                LeakPath::Normal => {
                    if !rules.contains(UNCLOSED_RESOURCE.code) {
                        continue;
                    }
                    let message = match leak.overwritten_at {
                        Some(_) => format!(
                            "{what} `{var}` ({}) is overwritten before it is released",
                            site.type_name
                        ),
                        None => format!("{what} `{var}` ({}) is never released", site.type_name),
                    };
                    let mut f = UNCLOSED_RESOURCE.finding(site.span, message, help);
                    if let Some(at) = leak.overwritten_at {
                        f = f.with_label(at, lost_here(at, site.span));
                    }
                    for r in &leak.released_at {
                        f = f.with_label(*r, "released here only on some paths");
                    }
                    if leak.overwritten_at.is_none() && leak.released_at.is_empty() {
                        if let Some(fix) = with_fix(ctx, l, site, newline) {
                            f = f.with_fix(fix);
                        }
                    }
                    f
                }
                LeakPath::OnError { raised_at } => {
                    // In a test function a raise fails the test, which
                    // pytest reports; releasing on that path belongs in a
                    // fixture's teardown (LK105), not in every test.
                    if !rules.contains(LEAK_ON_ERROR_PATH.code) || is_test_function(l) {
                        continue;
                    }
                    let message = format!(
                        "{what} `{var}` ({}) leaks if an exception is raised before it is released",
                        site.type_name
                    );
                    let mut f = LEAK_ON_ERROR_PATH
                        .finding(site.span, message, help)
                        .with_label(raised_at, "may raise here");
                    for r in &leak.released_at {
                        f = f.with_label(*r, "released here only on success");
                    }
                    if let ([release], None) = (leak.released_at.as_slice(), leak.overwritten_at) {
                        let root = ctx.module.tree.root_node();
                        if let Some(edits) = rewrite::try_finally(
                            ctx.module.text,
                            root,
                            site.span,
                            *release,
                            newline,
                        ) {
                            f = f.with_fix(Fix::new(
                                Applicability::Unsafe,
                                format!("Release `{var}` in a `finally:` block"),
                                edits,
                            ));
                        }
                    }
                    if let Some(at) = leak.overwritten_at {
                        f = f.with_label(at, lost_here(at, site.span));
                    }
                    f
                }
            };
            out.push(finding);
        }
        if rules.contains(UNCLOSED_RESOURCE.code) {
            out.extend(returned_to_fastapi(ctx, l, outcome));
        }
        if rules.contains(CLOSE_NOT_AWAITED.code) {
            for na in &l.not_awaited {
                let message = format!(
                    "`{}.{}()` returns a coroutine that is never awaited: nothing is closed",
                    na.receiver, na.method
                );
                let mut f = CLOSE_NOT_AWAITED.finding(
                    na.call,
                    message,
                    format!("Await it: `await {}.{}()`.", na.receiver, na.method),
                );
                if l.is_async {
                    f = f.with_fix(Fix::new(
                        Applicability::Safe,
                        "Add `await`",
                        vec![Edit::insertion(na.call.start, "await ")],
                    ));
                }
                out.push(f);
            }
        }
        if rules.contains(GENERATOR_DEPENDENCY_NEXT.code) {
            for (at, callee) in &l.next_calls {
                let is_dependency = summaries
                    .get(callee)
                    .is_some_and(|s| s.dependency_generator)
                    || {
                        let tail = callee.rsplit('.').next().unwrap_or(callee);
                        summaries.iter().any(|(q, s)| {
                            s.dependency_generator && q.rsplit('.').next() == Some(tail)
                        })
                    };
                if !is_dependency {
                    continue;
                }
                let name = callee.rsplit('.').next().unwrap_or(callee);
                out.push(GENERATOR_DEPENDENCY_NEXT.finding(
                    *at,
                    format!("`next({name}())` takes the resource but never resumes the generator, so its cleanup never runs"),
                    format!(
                        "Use it as a context manager: `with contextlib.contextmanager({name})() as db: ...`, \
                         or make `{name}` a `@contextmanager` and write `with {name}() as db:`."
                    ),
                ));
            }
        }
    }
    out
}
