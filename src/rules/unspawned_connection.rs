crate::declare_rule! {
    /// ## What it does
    /// Finds a `tokio_postgres::connect` (or `Config::connect`) whose
    /// `Connection` half is never spawned, awaited, polled or handed to
    /// anything (bound to `_`, to an unused name, or dropped) while its
    /// client is used; also one spawned only after the client was already
    /// awaited.
    ///
    /// ## Why is this bad?
    /// tokio-postgres splits a connection in two: the `Client` sends
    /// requests, and the `Connection` future performs the actual I/O. If
    /// nothing polls the `Connection`, every query on the client waits
    /// forever; if it is dropped, the client reports a closed connection.
    ///
    /// ## Example
    /// ```rust
    /// let (client, _connection) = tokio_postgres::connect(&url, NoTls).await?;
    /// let rows = client.query("SELECT 1", &[]).await?; // hangs
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
    /// tokio::spawn(async move {
    ///     if let Err(e) = connection.await {
    ///         eprintln!("connection error: {e}");
    ///     }
    /// });
    /// let rows = client.query("SELECT 1", &[]).await?;
    /// ```
    ///
    /// ## Fix safety
    /// When the connection is bound by a `let` in an `async` function, the
    /// fix inserts the `tokio::spawn` above right after that statement
    /// (renaming a `_` binding to `connection`). It is safe: the program
    /// did not work without it, and tokio-postgres requires a tokio
    /// runtime anyway.
    pub static UNSPAWNED_CONNECTION = {
        code: "LK208",
        name: "unspawned-connection",
        severity: Error,
        fix: Sometimes,
        needs: Project,
        check: Rust(check),
        summary: "A tokio-postgres Connection is never spawned, so its Client never makes progress.",
    }
}

use crate::diagnostic::{Applicability, Edit, Finding, Fix, Span};
use crate::ir::{Binding, Function, SiteId};
use crate::ir::{LeakPath, Outcome};
use crate::rules::RustContext;
use crate::source::SourceFile;

fn check(cx: &RustContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, outcome) in cx.functions() {
        for leak in &outcome.leaks {
            let site = &f.sites[leak.site];
            let must_poll = site.facts.role.must_poll();
            if !must_poll || leak.path != LeakPath::Normal || !client_used(f, outcome, leak.site) {
                continue;
            }
            let mut finding = UNSPAWNED_CONNECTION.finding(
                site.span,
                "the `Connection` half of this `connect` is never spawned or awaited: the client it drives never makes progress",
                "Spawn it: `tokio::spawn(async move { if let Err(e) = connection.await { eprintln!(\"connection error: {e}\"); } });`",
            );
            if let Some(b) = &site.facts.binding {
                finding = finding.with_label(b.pattern, "the connection is bound here");
                if let Some(fix) = spawn_fix(b, cx.source, &f.span) {
                    finding = finding.with_fix(fix);
                }
            }
            out.push(finding);
        }
        for (i, site) in f.sites.iter().enumerate() {
            // Reported once: a connection never polled at all already has
            // its finding.
            let never = outcome
                .leaks
                .iter()
                .any(|leak| leak.site == i && leak.path == LeakPath::Normal);
            if never {
                continue;
            }
            for at in &site.facts.awaited_before_polled {
                out.push(
                    UNSPAWNED_CONNECTION
                        .finding(
                            site.span,
                            "the client of this `connect` is awaited before its `Connection` is spawned: that await never completes",
                            "Spawn the connection right after `connect`, before the first query.",
                        )
                        .with_label(*at, "awaited here, before the connection is polled"),
                );
            }
        }
    }
    out
}

/// Whether the client made with a must-poll connection is used at all:
/// an unspawned connection whose client is thrown away too
/// (`let _ = connect(..).await`) harms nothing.
fn client_used(f: &Function, outcome: &Outcome, site: SiteId) -> bool {
    let siblings = &f.sites[site].facts.siblings;
    siblings.is_empty()
        || siblings.iter().any(|&s| {
            f.sites[s].facts.touched || outcome.returned.contains(&s) || outcome.stored.contains(&s)
        })
}

/// Inserts `tokio::spawn` for an unspawned tokio-postgres connection,
/// right after the `let` that binds it.
fn spawn_fix(b: &Binding, source: &SourceFile, function: &Span) -> Option<Fix> {
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
