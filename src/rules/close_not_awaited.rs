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
        language: Python,
        severity: Error,
        fix: Sometimes,
        summary: "An async close() is called without await: nothing is closed.",
    }
}
