crate::declare_rule! {
    /// ## What it does
    /// Finds a pytest fixture (`@pytest.fixture`, `@pytest_asyncio.fixture`,
    /// any scope) that acquires a session, connection or client and either
    /// returns it, so there is no teardown at all, or yields it without
    /// releasing it after the `yield`. Resources declared in configuration
    /// count too, such as a singleton getter released by a reset call
    /// (`DatabaseService.get_instance()` / `reset_instance()`).
    ///
    /// ## Why is this bad?
    /// Each test that uses the fixture leaves one more connection open.
    /// Suites grow until the database refuses connections, or tests start
    /// failing with "This Connection is closed" because a cached session
    /// outlived the test that created it.
    ///
    /// ## Example
    /// ```python
    /// @pytest.fixture
    /// def db_session(engine):
    ///     return Session(engine)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// @pytest.fixture
    /// def db_session(engine):
    ///     session = Session(engine)
    ///     yield session
    ///     session.close()
    /// ```
    pub static FIXTURE_WITHOUT_TEARDOWN = {
        code: "LK105",
        name: "fixture-without-teardown",
        severity: Error,
        fix: None,
        needs: Project,
        check: Python(check),
        summary: "A pytest fixture acquires a resource and never releases it in teardown.",
    }
}

use crate::diagnostic::Finding;
use crate::resources::ResourceKind;
use crate::rules::PythonContext;

/// Leaks and returned resources of fixtures.
fn check(cx: &PythonContext) -> Vec<Finding> {
    let mut out = Vec::new();
    for (f, outcome) in cx.functions().filter(|(f, _)| f.info.is_fixture) {
        let mut reported = Vec::new();
        let returned = outcome.returned.iter().map(|&s| (s, true));
        // Only leaks on the normal path: a teardown that fails half-way is
        // reported by pytest itself.
        let leaked = outcome
            .leaks
            .iter()
            .filter(|k| k.path == crate::ir::LeakPath::Normal)
            .map(|k| (k.site, false));
        for (site_id, was_returned) in returned.chain(leaked) {
            let site = &f.sites[site_id];
            if site.kind == ResourceKind::Factory || site.long_lived || reported.contains(&site_id)
            {
                continue;
            }
            if site.parent.is_some_and(|p| reported.contains(&p)) {
                continue;
            }
            reported.push(site_id);
            let var = if site.var_name.starts_with('<') {
                "it"
            } else {
                site.var_name.as_str()
            };
            let (message, help) = if was_returned {
                (
                    format!("fixture returns `{var}` ({}) and has no teardown to release it", site.type_name),
                    format!("Yield it and release it after the yield: `yield {var}` then `{var}.close()`."),
                )
            } else {
                (
                    format!("fixture acquires `{var}` ({}) but does not release it after the yield", site.type_name),
                    format!("Release it after the `yield` (in a `finally:` if the setup after it can fail): `{var}.close()`."),
                )
            };
            out.push(FIXTURE_WITHOUT_TEARDOWN.finding(site.span, message, help));
        }
    }
    out
}
