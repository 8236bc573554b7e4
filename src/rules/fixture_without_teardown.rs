crate::declare_rule! {
    /// ## What it does
    /// Finds a pytest fixture (`@pytest.fixture`, `@pytest_asyncio.fixture`,
    /// any scope) that acquires a session, connection or client and either
    /// returns it, so there is no teardown at all, or yields it without
    /// releasing it after the `yield`. Clients count whether or not the
    /// fixture used them first, and so do sessions made by calling a
    /// factory inline (`sessionmaker(bind=engine)()`); an engine or pool
    /// made once per `session`, `package` or `module` scope is shared by
    /// design and is not reported. A release handed to
    /// `request.addfinalizer` is a teardown.
    ///
    /// Also: a fixture that returns a function of its own that makes
    /// connections (a fixture factory) with no teardown to close what it
    /// made; and a unittest or pytest-style test class whose `setUp`,
    /// `asyncSetUp`, `setup_method` or `setUpClass` opens a resource on
    /// `self`/`cls` that no method of the class releases and no
    /// `addCleanup` / `addAsyncCleanup` / `addClassCleanup` is given. Only
    /// classes deriving directly from `TestCase`-like bases are judged: a
    /// project base class may tear down what its subclasses open.
    ///
    /// The project's own resource classes count (see LK101), and so does a
    /// singleton getter, found without configuration: a classmethod that
    /// caches an instance of a resource-owning class on the class
    /// (`DatabaseService.get_instance()`), released by `close()` or by the
    /// classmethod that closes or drops the cache (`reset_instance()`).
    /// Resources declared in configuration count too.
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
use crate::python::model::{AttributeUse, Model};
use crate::resources::{ResourceKind, Vocabulary};
use crate::rules::context::python::release_word;
use crate::rules::PythonContext;

/// An engine or pool made once for a whole session, package or module is
/// shared by design, and the process ends with the scope; a client (its
/// sockets, its "unclosed" warning) still wants closing, and anything made
/// per test is one more left open for each test.
fn shared_by_scope(scope: Option<&str>, kind: ResourceKind) -> bool {
    matches!(scope, Some("session" | "package" | "module"))
        && matches!(kind, ResourceKind::Engine | ResourceKind::Pool)
}

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
            if site.kind == ResourceKind::Factory
                || (site.long_lived && shared_by_scope(f.info.fixture_scope.as_deref(), site.kind))
                || reported.contains(&site_id)
            {
                continue;
            }
            if site.parent.is_some_and(|p| reported.contains(&p)) {
                continue;
            }
            reported.push(site_id);
            let named = !site.var_name.starts_with('<');
            let var = if named { site.var_name.as_str() } else { "x" };
            let release = release_word(cx, &site.type_name).replace("x.", &format!("{var}."));
            let (message, help) = if was_returned {
                let what = if named {
                    format!("`{var}` ({})", site.type_name)
                } else {
                    format!("a new {}", site.type_name)
                };
                (
                    format!("fixture returns {what} and has no teardown to release it"),
                    if named {
                        format!("Yield it and release it after the yield: `yield {var}` then `{release}`.")
                    } else {
                        format!("Bind it, yield it and release it after the yield: `x = ...`, `yield x`, then `{release}`.")
                    },
                )
            } else if f.info.generator != crate::ir::Generator::Plain {
                (
                    format!("fixture acquires `{var}` ({}) but does not release it after the yield", site.type_name),
                    format!("Release it after the `yield` (in a `finally:` if the setup after it can fail): `{release}`."),
                )
            } else {
                // A fixture that returns: it has no yield to release after.
                (
                    format!("fixture acquires `{var}` ({}) and never releases it", site.type_name),
                    format!("Release it before returning (`{release}`), or make the fixture yield and release it after the `yield`."),
                )
            };
            out.push(FIXTURE_WITHOUT_TEARDOWN.finding(site.span, message, help));
        }
        factory_findings(cx, f, &mut out);
    }
    test_case_findings(cx.model(), &mut out);
    out
}

/// A test class whose per-test (`setUp`, `asyncSetUp`, `setup_method`) or
/// per-class (`setUpClass`) set-up opens a resource on `self`/`cls` that
/// no method of the class releases and no `addCleanup` is given. Only
/// classes deriving directly from a test-case base (or pytest's `Test*`
/// classes without bases) are judged: a project base class may tear down
/// what its subclasses set up.
fn test_case_findings(model: &Model, out: &mut Vec<Finding>) {
    let vocabulary = model.vocabulary();
    for class in model.classes() {
        let is_test_case = match &class.bases {
            Some(bases) => bases
                .trim_matches(['(', ')'])
                .split(',')
                .all(|b| Vocabulary::ends(&vocabulary.test_case_bases, b.trim())),
            None => class
                .name
                .as_deref()
                .is_some_and(|n| Vocabulary::starts(&vocabulary.test_class_prefixes, n)),
        };
        if !is_test_case {
            continue;
        }
        let body = model.class_body(class);
        let released = |attribute: &str| {
            body.uses.iter().any(|u| match u {
                AttributeUse::MethodCall {
                    attribute: a,
                    method,
                } => {
                    a == attribute
                        && (Vocabulary::has(&vocabulary.release_methods, method)
                            || body.attribute_types.get(a).is_some_and(|s| {
                                s.release
                                    .iter()
                                    .any(|r| r.method.as_deref() == Some(method))
                            }))
                }
                AttributeUse::PassedTo {
                    attribute: a,
                    callee,
                } => {
                    a == attribute
                        && (Vocabulary::ends(&vocabulary.cleanup_registrars, callee)
                            || Vocabulary::ends(&vocabulary.releasing_wrappers, callee))
                }
            })
        };
        let mut reported: Vec<&str> = Vec::new();
        for a in &body.acquisitions {
            let Some(method) = a.method.as_deref() else {
                continue;
            };
            let per_test = Vocabulary::has(&vocabulary.test_setup_methods, method);
            let per_class = Vocabulary::has(&vocabulary.class_setup_methods, method);
            if !(per_test || per_class)
                || a.spec.kind == ResourceKind::Factory
                || (per_class && a.spec.long_lived && shared_by_scope(Some("session"), a.spec.kind))
                || reported.contains(&a.attribute.as_str())
                || a.from_attribute
                    .as_deref()
                    .is_some_and(|p| reported.contains(&p))
                || released(&a.attribute)
            {
                continue;
            }
            reported.push(&a.attribute);
            let holder = if a.on_class { "cls" } else { "self" };
            let class_name = class.name.as_deref().unwrap_or("?");
            let (method_name, is_async) = a
                .spec
                .release
                .iter()
                .find(|r| r.on.is_none())
                .and_then(|r| Some((r.method.clone()?, r.is_async)))
                .unwrap_or_else(|| ("close".to_string(), false));
            let register = match (a.on_class, is_async) {
                (true, _) => "cls.addClassCleanup",
                (false, true) => "self.addAsyncCleanup",
                (false, false) => "self.addCleanup",
            };
            let attr = &a.attribute;
            let help = if class.bases.is_none() {
                // pytest-style classes have no `addCleanup`.
                let teardown = if per_class {
                    "teardown_class"
                } else {
                    "teardown_method"
                };
                format!("Release it in `{teardown}`: `{holder}.{attr}.{method_name}()`.")
            } else {
                format!(
                    "Register its release right after opening it: `{register}({holder}.{attr}.{method_name})`, or release it in the matching tear-down."
                )
            };
            out.push(FIXTURE_WITHOUT_TEARDOWN.finding(
                a.call,
                format!(
                    "`{class_name}.{method}` opens `{holder}.{attr}` ({}) and nothing in the class releases it",
                    a.spec.type_name
                ),
                help,
            ));
        }
    }
}

/// A fixture that returns a function of its own making resources (a
/// "factory as fixture") and has no teardown: every resource a test makes
/// with it stays open. One that yields the factory and closes what it made
/// after the `yield` is the correct idiom.
fn factory_findings(cx: &PythonContext, f: &crate::ir::Function, out: &mut Vec<Finding>) {
    if f.info.generator != crate::ir::Generator::Plain {
        return;
    }
    let Some(inner) = f.info.returns_local_function.as_deref() else {
        return;
    };
    let suffix = format!(".{inner}");
    let made = cx.functions().find(|(g, _)| {
        g.span.start > f.span.start
            && g.span.end <= f.span.end
            && g.info.qualified_name.ends_with(&suffix)
    });
    let Some((g, outcome)) = made else { return };
    for &site_id in &outcome.returned {
        let site = &g.sites[site_id];
        if site.kind == ResourceKind::Factory
            || (site.long_lived && shared_by_scope(f.info.fixture_scope.as_deref(), site.kind))
        {
            continue;
        }
        out.push(FIXTURE_WITHOUT_TEARDOWN.finding(
            site.span,
            format!(
                "fixture hands out `{inner}`, which makes a new {} on each call, and has no teardown to release them",
                site.type_name
            ),
            format!("Keep what `{inner}` makes in a list, `yield {inner}`, and close each one after the yield."),
        ));
    }
}
