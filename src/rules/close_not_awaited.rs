crate::declare_rule! {
    /// ## What it does
    /// Finds a call to an asynchronous release (`aiohttp.ClientSession.close`,
    /// asyncpg's `Connection.close` and `Pool.close`, redis.asyncio's
    /// `aclose`, `AsyncEngine.dispose`, `AsyncSession.close`...) whose
    /// coroutine is never awaited.
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
use crate::rules::PythonContext;

fn check(cx: &PythonContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (l, _) in cx.functions() {
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
    out
}
