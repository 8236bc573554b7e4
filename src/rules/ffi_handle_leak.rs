crate::declare_rule! {
    /// ## What it does
    /// Finds a raw handle from FFI or a raw file descriptor (`libc::open`,
    /// `libc::socket`, `into_raw_fd()`, `sqlite3_open`, `PQconnectdb`,
    /// `mysql_init`, or the file's own `extern` functions named like an
    /// open or a connect) that is not released on every path, `?` and
    /// early returns included, nor handed to an owner: an RAII wrapper
    /// (`OwnedFd::from_raw_fd`, a struct literal, a constructor), a
    /// return, a store. Paths where the handle was tested invalid
    /// (`fd < 0`, `db.is_null()`) hold nothing.
    ///
    /// ## Why is this bad?
    /// Raw handles have no `Drop`. Every early exit leaks a descriptor or
    /// a C-side connection object with its socket; long-running processes
    /// end with "too many open files" or a server out of connection slots.
    /// `sqlite3_open` allocates its handle even when it fails, so the
    /// error path must close it too.
    ///
    /// ## Example
    /// ```rust
    /// fn open_db(path: &CStr) -> Result<*mut sqlite3, Error> {
    ///     let mut db = ptr::null_mut();
    ///     let rc = unsafe { sqlite3_open(path.as_ptr(), &mut db) };
    ///     if rc != SQLITE_OK {
    ///         return Err(Error::Open(rc)); // `db` leaks
    ///     }
    ///     Ok(db)
    /// }
    /// ```
    ///
    /// ## Use instead
    /// ```rust
    /// if rc != SQLITE_OK {
    ///     unsafe { sqlite3_close(db) };
    ///     return Err(Error::Open(rc));
    /// }
    /// ```
    /// or wrap the handle in a type whose `Drop` closes it as soon as it
    /// exists.
    ///
    /// ## Fix safety
    /// No automatic fix.
    pub static FFI_HANDLE_LEAK = {
        code: "LK207",
        name: "ffi-handle-leak",
        severity: Error,
        fix: None,
        needs: Project,
        check: Rust(check),
        summary: "A raw FFI handle or file descriptor is not released on every path.",
    }
}

use crate::diagnostic::Finding;
use crate::ir::LeakPath;
use crate::ir::SiteRole;
use crate::resources::ResourceKind;
use crate::rules::context::rust::what;
use crate::rules::RustContext;

fn check(cx: &RustContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, outcome) in cx.functions() {
        for leak in &outcome.leaks {
            let site = &f.sites[leak.site];
            let plain = matches!(
                site.facts.role,
                SiteRole::Resource {
                    must_poll: false,
                    ..
                }
            );
            if !plain || site.kind != ResourceKind::Handle {
                continue;
            }
            let mut finding = FFI_HANDLE_LEAK.finding(
                site.span,
                match leak.path {
                    LeakPath::Normal => format!("{} is never released", what(f, leak.site)),
                    LeakPath::OnError { .. } => format!(
                        "{} leaks when a `?` returns early: it is released only on the success path",
                        what(f, leak.site)
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
    }
    out
}
