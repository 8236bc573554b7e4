//! Turns the Rust engine's results into LK201–LK208 findings: one story
//! per finding, primary span where the rule's page says.

use std::collections::HashSet;

use syn::visit::Visit;

use crate::analysis::LeakPath;
use crate::config::RuleSet;
use crate::diagnostic::{Applicability, Edit, Finding, Fix, Span};
use crate::resources::ResourceKind;
use crate::rules::{
    ACQUIRE_IN_LOOP, FFI_HANDLE_LEAK, FORGOTTEN_GUARD, GUARD_STORED_LONG_LIVED, NESTED_ACQUIRE,
    RAW_TRANSACTION_WITHOUT_GUARD, TRANSACTION_NEVER_COMMITTED, UNSPAWNED_CONNECTION,
};
use crate::rust::analyse::FileAnalysis;
use crate::rust::knowledge::{is_guard, Knowledge};
use crate::rust::lower::{span_of, Lowered, Outlives, PollBinding, Role};
use crate::rust::names::Names;
use crate::source::SourceFile;

/// How a site is named in messages: its variable, else its type.
fn what(l: &Lowered, site: usize) -> String {
    let s = &l.function.sites[site];
    if s.var_name.is_empty() {
        format!("this `{}`", short(&s.type_name))
    } else {
        format!("`{}`", s.var_name)
    }
}

fn short(type_name: &str) -> &str {
    type_name.rsplit("::").next().unwrap_or(type_name)
}

pub fn check(
    analysis: &FileAnalysis,
    file: &syn::File,
    source: &SourceFile,
    rules: &RuleSet,
) -> Vec<Finding> {
    let mut out = Vec::new();
    for (l, outcome) in &analysis.functions {
        // Tests exercise pools, leaks and failures on purpose, and a `?`
        // in a test just fails it.
        if l.is_test {
            continue;
        }
        let sites = &l.function.sites;
        if rules.contains(FORGOTTEN_GUARD.code) {
            for f in &l.forgets {
                out.push(
                    FORGOTTEN_GUARD
                        .finding(
                            f.call,
                            format!(
                                "{} is given to `{}`: its `Drop` never runs, so it never returns to its pool",
                                what(l, f.site),
                                f.how
                            ),
                            "Drop the guard to give the connection back (`drop(conn)`), or detach it from the pool on purpose.",
                        )
                        .with_label(sites[f.site].span, "acquired here"),
                );
            }
        }
        for leak in &outcome.leaks {
            let site = &sites[leak.site];
            match &l.roles[leak.site] {
                Role::Forgotten { call, how } if rules.contains(FORGOTTEN_GUARD.code) => {
                    let mut finding = FORGOTTEN_GUARD.finding(
                        *call,
                        format!(
                            "a `{}` is wrapped by `{how}` and never taken back: it never returns to its pool",
                            short(&site.type_name)
                        ),
                        "Take it back on every path (`ManuallyDrop::into_inner`, `Box::from_raw`), or let an owner whose `Drop` does so keep it.",
                    );
                    if let LeakPath::OnError { raised_at } = leak.path {
                        finding = finding
                            .with_label(raised_at, "`?` returns here without taking it back");
                    }
                    out.push(finding);
                }
                Role::RawTransaction
                    if rules.contains(RAW_TRANSACTION_WITHOUT_GUARD.code)
                        && !leak.released_at.is_empty() =>
                {
                    let mut finding = RAW_TRANSACTION_WITHOUT_GUARD.finding(
                        site.span,
                        "this transaction can be left open: a path leaves the function before `COMMIT` or `ROLLBACK`, and the connection stays idle in transaction",
                        "Use the crate's transaction guard (`conn.begin()`, `client.transaction()`), which rolls back when dropped, or roll back on every error path.",
                    );
                    match leak.path {
                        LeakPath::OnError { raised_at } => {
                            finding = finding.with_label(
                                raised_at,
                                "`?` returns here with the transaction open",
                            );
                        }
                        LeakPath::Normal => {
                            if let Some(at) = leak.overwritten_at {
                                finding = finding.with_label(at, "left open here");
                            }
                        }
                    }
                    for r in leak.released_at.iter().take(1) {
                        finding = finding.with_label(*r, "ended here only on some paths");
                    }
                    out.push(finding);
                }
                Role::Resource {
                    must_poll: false, ..
                } if site.kind == ResourceKind::Handle && rules.contains(FFI_HANDLE_LEAK.code) => {
                    let mut finding = FFI_HANDLE_LEAK.finding(
                        site.span,
                        match leak.path {
                            LeakPath::Normal => format!("{} is never released", what(l, leak.site)),
                            LeakPath::OnError { .. } => format!(
                                "{} leaks when a `?` returns early: it is released only on the success path",
                                what(l, leak.site)
                            ),
                        },
                        "Release it on every path, or wrap it at once in a type whose `Drop` releases it (`OwnedFd::from_raw_fd`, a small RAII struct).",
                    );
                    if let LeakPath::OnError { raised_at } = leak.path {
                        finding = finding.with_label(raised_at, "may return early here");
                    } else if let Some(at) = leak.overwritten_at {
                        finding = finding.with_label(at, "last reference lost here");
                    }
                    for r in leak.released_at.iter().take(1) {
                        finding = finding.with_label(*r, "released here only on some paths");
                    }
                    out.push(finding);
                }
                Role::Resource {
                    must_poll: true, ..
                } if leak.path == LeakPath::Normal
                    && rules.contains(UNSPAWNED_CONNECTION.code)
                    && client_used(l, outcome, leak.site) =>
                {
                    let binding = l.poll_bindings.iter().find(|b| b.site == leak.site);
                    let mut finding = UNSPAWNED_CONNECTION.finding(
                        site.span,
                        "the `Connection` half of this `connect` is never spawned or awaited: the client it drives never makes progress",
                        "Spawn it: `tokio::spawn(async move { if let Err(e) = connection.await { eprintln!(\"connection error: {e}\"); } });`",
                    );
                    if let Some(b) = binding {
                        finding = finding.with_label(b.pattern, "the connection is bound here");
                        if let Some(fix) = spawn_fix(b, source, &l.function.span) {
                            finding = finding.with_fix(fix);
                        }
                    }
                    out.push(finding);
                }
                _ => {}
            }
        }
        if rules.contains(UNSPAWNED_CONNECTION.code) {
            for (site, at) in &l.early_awaits {
                // Reported once: a connection never polled at all already
                // has its finding.
                let never = outcome
                    .leaks
                    .iter()
                    .any(|leak| leak.site == *site && leak.path == LeakPath::Normal);
                if never {
                    continue;
                }
                out.push(
                    UNSPAWNED_CONNECTION
                        .finding(
                            sites[*site].span,
                            "the client of this `connect` is awaited before its `Connection` is spawned: that await never completes",
                            "Spawn the connection right after `connect`, before the first query.",
                        )
                        .with_label(*at, "awaited here, before the connection is polled"),
                );
            }
        }
        if rules.contains(TRANSACTION_NEVER_COMMITTED.code) {
            for (i, site) in sites.iter().enumerate() {
                let is_tx = site.kind == ResourceKind::Transaction
                    && matches!(l.roles[i], Role::Resource { .. });
                if is_tx
                    && l.written[i]
                    && !outcome.released.contains(&i)
                    && !outcome.returned.contains(&i)
                    && !outcome.stored.contains(&i)
                {
                    out.push(TRANSACTION_NEVER_COMMITTED.finding(
                        site.span,
                        format!(
                            "transaction {} is never committed: everything done through it is rolled back when it is dropped",
                            what(l, i)
                        ),
                        "Commit it on the success path (`tx.commit()`); dropping it on error paths rolls back, as intended.",
                    ));
                }
            }
        }
        if rules.contains(NESTED_ACQUIRE.code) {
            let mut seen = HashSet::new();
            for (site, span, open) in &outcome.open_at_acquire {
                let Some(origin) = sites[*site].origin.as_deref() else {
                    continue;
                };
                let held = open.iter().find(|&&o| {
                    sites[o].origin.as_deref() == Some(origin)
                        && !matches!(l.roles[o], Role::PoolCall { .. })
                });
                if let Some(&first) = held {
                    if !seen.insert(*site) {
                        continue;
                    }
                    let message = match &l.roles[*site] {
                        Role::PoolCall {
                            callee: Some(callee),
                        } => format!(
                            "`{callee}` acquires from `{origin}` while {} from it is still held",
                            what(l, first)
                        ),
                        Role::PoolCall { callee: None } => format!(
                            "this query runs on `{origin}` itself, taking a second connection while {} from it is still held",
                            what(l, first)
                        ),
                        _ => format!(
                            "a second connection is acquired from `{origin}` while {} from it is still held",
                            what(l, first)
                        ),
                    };
                    out.push(
                        NESTED_ACQUIRE
                            .finding(
                                sites[*site].span,
                                message,
                                "Reuse the guard you hold, or `drop()` it (or end its block) before acquiring again.",
                            )
                            .with_label(sites[first].span, "first guard acquired here, still alive")
                            .with_label(*span, "second acquisition"),
                    );
                }
            }
        }
        if rules.contains(ACQUIRE_IN_LOOP.code) {
            let mut seen = HashSet::new();
            for e in &l.loop_escapes {
                // Only guards from a pool starve it: a fresh connection per
                // worker (a benchmark's clients) is what the loop is for.
                let from_pool = sites[e.site].origin.is_some()
                    || matches!(l.roles[e.site], Role::Resource { pooled: true, .. });
                if !from_pool || !seen.insert(e.site) {
                    continue;
                }
                let how = match e.how {
                    Outlives::Collected => "kept in a collection that outlives the loop",
                    Outlives::Spawned => "moved into a task that the iteration does not await",
                };
                out.push(
                    ACQUIRE_IN_LOOP
                        .finding(
                            sites[e.site].span,
                            format!(
                                "{} is acquired in a loop and {how}: each iteration holds one more connection",
                                what(l, e.site)
                            ),
                            "Acquire inside the task (move a pool clone into it), or use the guard and drop it within the iteration.",
                        )
                        .with_label(e.at, "outlives the iteration here"),
                );
            }
        }
    }
    if rules.contains(GUARD_STORED_LONG_LIVED.code) {
        out.extend(stored_long_lived(
            file,
            source,
            &analysis.names,
            &analysis.knowledge,
            &analysis.state_types,
        ));
    }
    out
}

/// Whether the client made with a must-poll connection is used at all:
/// an unspawned connection whose client is thrown away too
/// (`let _ = connect(..).await`) harms nothing.
fn client_used(l: &Lowered, outcome: &crate::analysis::Outcome, site: usize) -> bool {
    let siblings: Vec<usize> = l
        .siblings
        .iter()
        .filter(|(a, _)| *a == site)
        .map(|(_, b)| *b)
        .collect();
    siblings.is_empty()
        || siblings
            .iter()
            .any(|&s| l.touched[s] || outcome.returned.contains(&s) || outcome.stored.contains(&s))
}

/// Inserts `tokio::spawn` for an unspawned tokio-postgres connection,
/// right after the `let` that binds it.
fn spawn_fix(b: &PollBinding, source: &SourceFile, function: &Span) -> Option<Fix> {
    if !b.in_async {
        return None;
    }
    let text = &source.text;
    if !text.get(b.stmt.range())?.trim_end().ends_with(';') {
        return None;
    }
    let line = source.line_index(b.stmt.start);
    let line_text = source.line_text(line);
    let indent: String = line_text
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let newline = if source.uses_crlf() { "\r\n" } else { "\n" };
    let mut edits = Vec::new();
    let name = match &b.name {
        Some(n) => n.clone(),
        None => {
            let body = text.get(function.range()).unwrap_or("");
            let taken = |n: &str| {
                body.match_indices(n).any(|(i, _)| {
                    let before = body[..i].chars().next_back();
                    let after = body[i + n.len()..].chars().next();
                    !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
                        && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
                })
            };
            let name = ["connection", "pg_connection", "pg_conn_driver"]
                .into_iter()
                .find(|n| !taken(n))?;
            edits.push(Edit {
                span: b.pattern,
                content: name.to_string(),
            });
            name.to_string()
        }
    };
    let spawn = format!(
        "{newline}{indent}tokio::spawn(async move {{{newline}{indent}    if let Err(e) = {name}.await {{{newline}{indent}        eprintln!(\"connection error: {{e}}\");{newline}{indent}    }}{newline}{indent}}});"
    );
    edits.push(Edit::insertion(b.stmt.end, spawn));
    Some(Fix::new(
        Applicability::Safe,
        "Spawn the connection on the tokio runtime",
        edits,
    ))
}

/// LK206: guard types in statics, thread-locals, lazy statics and the
/// fields of long-lived state structs.
fn stored_long_lived(
    file: &syn::File,
    source: &SourceFile,
    names: &Names,
    knowledge: &Knowledge,
    analysis_state_types: &HashSet<String>,
) -> Vec<Finding> {
    let stored = |ty: &syn::Type| -> Vec<(Span, String)> {
        let mut found = Vec::new();
        guard_types(ty, names, knowledge, source, &mut found);
        found
    };
    let mut scan = crate::rust::state::scan(file);
    scan.state_types
        .extend(analysis_state_types.iter().cloned());
    let mut out = Vec::new();
    for (name, ty) in &scan.statics {
        for (span, type_name) in stored(ty) {
            out.push(GUARD_STORED_LONG_LIVED.finding(
                span,
                format!("`{type_name}` is stored in the static `{name}`: a connection held for the life of the process"),
                "Store the pool instead and acquire a connection where it is used.",
            ));
        }
    }
    for s in &scan.structs {
        let name = s.ident.to_string();
        if !scan.state_types.contains(&name) {
            continue;
        }
        for field in &s.fields {
            for (span, type_name) in stored(&field.ty) {
                let field_name = field
                    .ident
                    .as_ref()
                    .map(|i| format!("`{i}` "))
                    .unwrap_or_default();
                out.push(GUARD_STORED_LONG_LIVED.finding(
                    span,
                    format!("`{type_name}` is stored in the field {field_name}of `{name}`, long-lived application state: a connection held for the life of the process"),
                    "Keep the pool in the state instead and acquire a connection per request.",
                ));
            }
        }
    }
    out
}

/// Guard types written anywhere inside `ty`: connections, transactions,
/// sessions, but not pools, shareable (long-lived) clients, handles or
/// must-poll drivers.
fn guard_types(
    ty: &syn::Type,
    names: &Names,
    knowledge: &Knowledge,
    source: &SourceFile,
    out: &mut Vec<(Span, String)>,
) {
    struct Types<'k, 'a> {
        names: &'k Names,
        knowledge: &'k Knowledge<'a>,
        source: &'k SourceFile,
        out: &'k mut Vec<(Span, String)>,
    }
    impl<'ast> Visit<'ast> for Types<'_, '_> {
        fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
            let resolved = self.names.resolve(&p.path);
            if let Some(spec) = self.knowledge.spec_of_type(&resolved) {
                if is_guard(spec.kind) && !spec.long_lived && !spec.must_poll && !spec.embedded {
                    let last = p
                        .path
                        .segments
                        .last()
                        .map(|s| s.ident.to_string())
                        .unwrap_or_default();
                    self.out.push((span_of(self.source, &p.path), last));
                }
                // A pool's type arguments name what it makes, not what
                // it holds (`Pool<ConnectionManager<PgConnection>>`).
                return;
            }
            syn::visit::visit_type_path(self, p);
        }
    }
    Types {
        names,
        knowledge,
        source,
        out,
    }
    .visit_type(ty);
}
