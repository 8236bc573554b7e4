crate::declare_rule! {
    /// ## What it does
    /// Finds `next(get_db())` where `get_db` is a dependency-style
    /// generator: it yields a session or connection and releases it after
    /// the `yield` (in a `finally` or after it).
    ///
    /// ## Why is this bad?
    /// `next()` runs the generator up to its `yield` and never resumes it,
    /// so the code after the `yield` (the close) never runs. The generator
    /// object is dropped with the session still open. FastAPI runs such
    /// dependencies to completion; calling them by hand does not.
    ///
    /// ## Example
    /// ```python
    /// def get_db():
    ///     db = SessionLocal()
    ///     try:
    ///         yield db
    ///     finally:
    ///         db.close()
    ///
    /// def report():
    ///     db = next(get_db())
    ///     return db.query(User).count()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// get_session = contextlib.contextmanager(get_db)
    ///
    /// def report():
    ///     with get_session() as db:
    ///         return db.query(User).count()
    /// ```
    pub static GENERATOR_DEPENDENCY_NEXT = {
        code: "LK103",
        name: "generator-dependency-next",
        severity: Error,
        fix: None,
        needs: Project,
        check: Python(check),
        summary: "next() on a dependency generator skips the cleanup after its yield.",
    }
}

use crate::diagnostic::Finding;
use crate::ir::CallFact;
use crate::rules::PythonContext;

fn check(cx: &PythonContext) -> Vec<Finding> {
    let summaries = cx.summaries;
    let mut out = Vec::new();
    for (f, _) in cx.functions() {
        for fact in &f.calls {
            let CallFact::NextOfGenerator { call: at, callee } = fact else {
                continue;
            };
            // `next(self.x.get_db())` names only the method: any project
            // dependency generator of that name counts.
            let is_dependency = summaries
                .get(callee)
                .is_some_and(|s| s.dependency_generator)
                || summaries
                    .dependency_generator_named(callee.rsplit('.').next().unwrap_or(callee));
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
    out
}
