crate::declare_rule! {
    /// ## What it does
    /// Finds a call to an asynchronous release (`aiohttp.ClientSession.close`,
    /// asyncpg's `Connection.close` and `Pool.close`, redis.asyncio's
    /// `aclose`, `AsyncEngine.dispose`, `AsyncSession.close`...) whose
    /// coroutine is never awaited; also the release method of a project
    /// class that is a coroutine function, or that returns the coroutine
    /// of the close it wraps (`def close(self): return
    /// self.session.close()`).
    ///
    /// ## Why is this bad?
    /// Calling a coroutine function only creates the coroutine; nothing
    /// runs until it is awaited. The resource stays open, and Python warns
    /// "coroutine ... was never awaited" at some later, unrelated point.
    ///
    /// ## Example
    /// ```python
    /// async def fetch(url):
    ///     session = aiohttp.ClientSession()
    ///     try:
    ///         return await (await session.get(url)).text()
    ///     finally:
    ///         session.close()
    /// ```
    ///
    /// ## Use instead
    /// ```python
    ///     finally:
    ///         await session.close()
    /// ```
    ///
    /// ## Fix safety
    /// Adding `await` inside an `async def` is safe: it is what the call
    /// was meant to do.
    pub static CLOSE_NOT_AWAITED = {
        code: "LK106",
        name: "close-not-awaited",
        severity: Error,
        fix: Sometimes,
        needs: Project,
        check: Python(check),
        summary: "An async close() is called without await: nothing is closed.",
    }
}

use crate::diagnostic::{Applicability, Edit, Finding, Fix};
use crate::ir::CallFact;
use crate::rules::PythonContext;

fn check(cx: &PythonContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, _) in cx.functions() {
        for fact in &f.calls {
            let CallFact::UnawaitedRelease {
                call,
                receiver,
                method,
            } = fact
            else {
                continue;
            };
            let message = format!(
                "`{receiver}.{method}()` returns a coroutine that is never awaited: nothing is closed"
            );
            let mut finding = CLOSE_NOT_AWAITED.finding(
                *call,
                message,
                format!("Await it: `await {receiver}.{method}()`."),
            );
            if f.info.is_async {
                finding = finding.with_fix(Fix::new(
                    Applicability::Safe,
                    "Add `await`",
                    vec![Edit::insertion(call.start, "await ")],
                ));
            }
            out.push(finding);
        }
    }
    out
}
