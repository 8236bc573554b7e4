//! What the Python front end knows about names beyond one function:
//! module-level factories and engines, attributes set on `self`, project
//! function summaries, and the module's own dotted name.

use std::collections::HashMap;
use std::path::Path;

use tree_sitter::Node;

use super::class_shapes::{class_shapes, ClassShape};
use super::self_attributes::{self_assignments, SelfAssignment, SelfAssignments};
use super::PyModule;
use crate::resources::{ResourceSpec, ResourceTable, Vocabulary};

/// What the first pass learnt about one project function.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FnSummary {
    /// It returns a fresh resource of this type: callers acquire.
    pub returns: Option<String>,
    /// Indexes of parameters it releases.
    pub releases_params: Vec<usize>,
    /// A generator that yields a resource and releases it after the yield
    /// (a FastAPI-style dependency): `next()` on it skips the cleanup.
    pub dependency_generator: bool,
    /// It returns a tuple with fresh resources of these types in these
    /// positions (`return conn, cur`).
    pub returns_tuple: Vec<Option<String>>,
    /// It is a coroutine function: callers get the resource by awaiting it.
    pub returns_awaited: bool,
    /// For a module-level name rather than a function: the resource or
    /// factory type it is bound to (`SessionLocal = sessionmaker(...)`).
    pub value_type: Option<String>,
    /// It returns what calling its positional argument N returns
    /// (`retry(engine.connect)`, `throttle(lambda: connect(...))`).
    #[serde(default)]
    pub returns_call_of: Option<usize>,
    /// `returns` is one of several types it returns on different paths (an
    /// engine or an async engine, by a flag): a caller cannot tell which,
    /// unless it says (`cast(Engine, make_engine(...))`).
    #[serde(default)]
    pub returns_mixed: bool,
    /// For a module-level name of another module: some module of the
    /// project releases what it holds (`await deps.client.aclose()` in
    /// the application's shutdown).
    #[serde(default)]
    pub released_elsewhere: bool,
    /// For a project class: the resource its instances are, because each
    /// owns one that a release method of the class releases (see
    /// `owners.rs`). Its `type` is the class's key.
    #[serde(default)]
    pub owner: Option<Box<ResourceSpec>>,
    /// For a project class (`<class>#wanted`): some subclass in another
    /// module keeps a resource and needs to know whether this class gives
    /// it a release method; the prefilter admits the files that name it.
    #[serde(default)]
    pub wanted: bool,
    /// For a project class (`<class>#plain`): it gives its subclasses no
    /// release (no release method, or only empty ones, and plain bases).
    #[serde(default)]
    pub plain_class: bool,
}

impl FnSummary {
    /// Whether it tells a caller nothing: every reader treats it as no
    /// summary (`returns_awaited` matters only with a return).
    pub fn is_empty(&self) -> bool {
        self.returns.is_none()
            && self.releases_params.is_empty()
            && !self.dependency_generator
            && self.returns_tuple.iter().all(Option::is_none)
            && self.value_type.is_none()
            && self.returns_call_of.is_none()
            && !self.released_elsewhere
            && self.owner.is_none()
            && !self.wanted
            && !self.plain_class
    }
}

/// Qualified function name (`app.db.get_conn`, `app.db.Repo.session`) ->
/// summary.
pub type Summaries = HashMap<String, FnSummary>;

/// What a file asked of the project's summaries and was told: a key and
/// its summary (`None`: there was none), or `*.name` for "is there a
/// dependency generator with this last name". A file's analysis is a
/// function of its text and these answers, so it stays right while the
/// project gives the same ones.
pub type Dependencies = std::collections::BTreeMap<String, Option<FnSummary>>;

/// The summaries as one file sees them: its own first, then the
/// project's, every question to the project recorded.
pub struct SummaryView<'a> {
    own: Summaries,
    project: &'a Summaries,
    asked: std::cell::RefCell<Dependencies>,
}

impl<'a> SummaryView<'a> {
    pub fn new(own: Summaries, project: &'a Summaries) -> SummaryView<'a> {
        SummaryView {
            own,
            project,
            asked: Default::default(),
        }
    }

    pub fn own(&self) -> &Summaries {
        &self.own
    }

    /// The file's own summaries, replaced once it knows them better.
    pub fn set_own(&mut self, own: Summaries) {
        self.own = own;
    }

    pub fn get(&self, q: &str) -> Option<&FnSummary> {
        if let Some(s) = self.own.get(q) {
            return Some(s);
        }
        let found = self.project.get(q);
        self.asked
            .borrow_mut()
            .entry(q.to_string())
            .or_insert_with(|| found.cloned());
        found
    }

    /// Whether some project function named `name` (last segment) is a
    /// dependency generator.
    pub fn dependency_generator_named(&self, name: &str) -> bool {
        let is = |q: &String, s: &FnSummary| {
            s.dependency_generator && q.rsplit('.').next() == Some(name)
        };
        if self.own.iter().any(|(q, s)| is(q, s)) {
            return true;
        }
        let found = dependency_generator_in(self.project, name);
        self.asked
            .borrow_mut()
            .entry(format!("*.{name}"))
            .or_insert_with(|| found.then(FnSummary::default));
        found
    }

    /// Whether taking `own` as the file's own summaries would answer a
    /// question already asked of the project differently. When it would
    /// not, and nothing was answered from the file's own summaries yet, a
    /// file lowered again with `own` would come out the same: the round
    /// can be saved.
    pub fn own_would_change_answers(&self, own: &Summaries) -> bool {
        self.asked
            .borrow()
            .iter()
            .any(|(q, answer)| match q.strip_prefix("*.") {
                Some(name) => answer.is_none() && dependency_generator_in(own, name),
                None => own.get(q).is_some_and(|s| Some(s) != answer.as_ref()),
            })
    }

    /// What was asked of the project, and its answers.
    pub fn asked(&self) -> Dependencies {
        self.asked.borrow().clone()
    }
}

fn dependency_generator_in(summaries: &Summaries, name: &str) -> bool {
    summaries
        .iter()
        .any(|(q, s)| s.dependency_generator && q.rsplit('.').next() == Some(name))
}

/// Whether `project` gives every answer in `asked` again.
pub fn answers_hold(asked: &Dependencies, project: &Summaries) -> bool {
    asked.iter().all(|(q, answer)| match q.strip_prefix("*.") {
        Some(name) => dependency_generator_in(project, name) == answer.is_some(),
        None => project.get(q) == answer.as_ref(),
    })
}

/// The dotted module name of a file: its stem, prefixed by every parent
/// directory that is a package (holds `__init__.py`).
pub fn module_name(path: &Path) -> String {
    let mut parts = Vec::new();
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    if stem != "__init__" {
        parts.push(stem);
    }
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.as_os_str().is_empty() || !d.join("__init__.py").is_file() {
            break;
        }
        match d.file_name() {
            Some(name) => parts.push(name.to_string_lossy().to_string()),
            None => break,
        }
        dir = d.parent();
    }
    parts.reverse();
    parts.join(".")
}

/// How the file's top package may also be imported when it lies inside
/// namespace packages (PEP 420: directories without `__init__.py`, such as
/// `flow/` around `flow/record/`): `("flow.record", "record")`, and one
/// level further up. `module_name` stops at the first directory that is
/// not a package, so the project knows the module as `record.base` while
/// its code writes `from flow.record.base import …`; imports are rebased
/// with these pairs. Both spellings name the same file on disk, so a
/// rebased import never reaches a different module.
pub fn namespace_prefixes(path: &Path, module: &str) -> Vec<(String, String)> {
    // The package directories `module_name` found: all its segments but
    // the file's own stem.
    let in_init = path.file_stem().is_some_and(|s| s == "__init__");
    let packages = module.split('.').count() - usize::from(!in_init);
    let (Some(top), Some(top_dir)) = (
        module
            .split('.')
            .next()
            .filter(|_| packages > 0 && !module.is_empty()),
        path.ancestors().nth(packages),
    ) else {
        return Vec::new();
    };
    let top = top.to_string();
    let mut dir = top_dir.parent();
    let is_identifier = |s: &str| {
        s.chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_alphanumeric() || c == '_')
    };
    let mut out = Vec::new();
    let mut long = top.clone();
    for _ in 0..2 {
        let Some(name) = dir
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .filter(|n| is_identifier(n))
        else {
            break;
        };
        long = format!("{name}.{long}");
        out.push((long.clone(), top.clone()));
        dir = dir.and_then(Path::parent);
    }
    out
}

/// Everything lowering needs about the file as a whole.
pub struct FileContext<'a> {
    pub module: &'a PyModule<'a>,
    pub resources: &'a ResourceTable,
    pub summaries: &'a SummaryView<'a>,
    /// This module's dotted name.
    pub module_name: String,
    /// Module-level names bound to a known resource or factory type.
    pub globals: HashMap<String, String>,
    /// Functions and classes defined at module level (to qualify local
    /// calls).
    pub local_functions: Vec<String>,
    /// Names passed as `lifespan=` (FastAPI, Starlette: the vocabulary's
    /// `lifespan-keywords`).
    pub lifespans: Vec<String>,
    /// Functions used as request dependencies: `Depends(get_db)` (the
    /// vocabulary's `dependency-markers`).
    pub dependencies: Vec<String>,
    /// A test module (`test_*.py`, `*_test.py`, `conftest.py`, or under a
    /// `tests` package): where test-only acquisitions count.
    pub test_module: bool,
    /// Every class's `self.x = …` assignments, found once per file
    /// context when first asked for.
    self_assignments: std::cell::OnceCell<SelfAssignments<'a>>,
    /// Every class's bases and own method names, by class name, found
    /// once per file context when first asked for.
    class_shapes: std::cell::OnceCell<HashMap<String, ClassShape<'a>>>,
}

impl<'a> FileContext<'a> {
    pub fn new(
        module: &'a PyModule<'a>,
        resources: &'a ResourceTable,
        summaries: &'a SummaryView<'a>,
        module_name: String,
    ) -> Self {
        let mut ctx = FileContext {
            module,
            resources,
            summaries,
            module_name,
            globals: HashMap::new(),
            local_functions: Vec::new(),
            lifespans: Vec::new(),
            dependencies: Vec::new(),
            test_module: false,
            self_assignments: Default::default(),
            class_shapes: Default::default(),
        };
        ctx.test_module = ctx.module_name.split('.').enumerate().any(|(i, part)| {
            let last = i + 1 == ctx.module_name.split('.').count();
            (last && (part.starts_with("test_") || part.ends_with("_test") || part == "conftest"))
                || (!last && matches!(part, "test" | "tests"))
        });
        let vocabulary = &resources.vocabulary;
        if Vocabulary::within(&vocabulary.dependency_markers, module.text) {
            super::preorder(module.tree.root_node(), |n| {
                if n.kind() == "call"
                    && n.child_by_field_name("function").is_some_and(|f| {
                        Vocabulary::ends(&vocabulary.dependency_markers, module.node_text(f))
                    })
                {
                    if let Some(a) = n
                        .child_by_field_name("arguments")
                        .and_then(|a| a.named_child(0))
                        .filter(|a| a.kind() == "identifier")
                    {
                        ctx.dependencies.push(module.node_text(a).to_string());
                    }
                }
                true
            });
        }
        if Vocabulary::within(&vocabulary.lifespan_keywords, module.text) {
            super::preorder(module.tree.root_node(), |n| {
                if n.kind() == "keyword_argument"
                    && n.child_by_field_name("name").is_some_and(|k| {
                        Vocabulary::has(&vocabulary.lifespan_keywords, module.node_text(k))
                    })
                {
                    // `lifespan=lifespan`, or Litestar's list of them.
                    if let Some(v) = n.child_by_field_name("value") {
                        let mut c = v.walk();
                        let names: Vec<Node> = match v.kind() {
                            "identifier" => vec![v],
                            "list" | "tuple" => v.named_children(&mut c).collect(),
                            _ => Vec::new(),
                        };
                        for name in names.into_iter().filter(|n| n.kind() == "identifier") {
                            ctx.lifespans.push(module.node_text(name).to_string());
                        }
                    }
                }
                true
            });
        }
        let root = module.tree.root_node();
        let mut cursor = root.walk();
        for stmt in root.named_children(&mut cursor) {
            let def = if stmt.kind() == "decorated_definition" {
                stmt.child_by_field_name("definition").unwrap_or(stmt)
            } else {
                stmt
            };
            if matches!(def.kind(), "function_definition" | "class_definition") {
                if let Some(name) = def.child_by_field_name("name") {
                    ctx.local_functions.push(module.node_text(name).to_string());
                }
            }
            let Some((left, right)) = super::simple_assignment(stmt) else {
                continue;
            };
            if let Some(ty) = ctx.type_of_value(right, &HashMap::new(), &HashMap::new()) {
                ctx.globals
                    .insert(module.node_text(left).to_string(), ty.type_name.clone());
            }
        }
        ctx
    }

    pub fn text(&self, node: Node) -> &'a str {
        self.module.node_text(node)
    }

    /// The spec of a library type, or of a project class that owns a
    /// resource (its summary says so).
    pub fn spec(&self, type_name: &str) -> Option<&'a ResourceSpec> {
        self.resources
            .spec_of_type(type_name)
            .or_else(|| self.summaries.get(type_name)?.owner.as_deref())
            .filter(|s| !s.tests_only || self.test_module)
    }

    /// The qualified name of a callee: imported names, this module's own
    /// functions, `self.method` within class `class`.
    pub fn qualify(&self, callee: Node, class: Option<&str>) -> Option<String> {
        if let Some(q) = self.module.imports.resolve(callee, self.module.text) {
            return Some(q);
        }
        match callee.kind() {
            // `cls(...)` in a classmethod constructs the class itself.
            "identifier" if self.text(callee) == "cls" => {
                Some(format!("{}.{}", self.module_name, class?))
            }
            "identifier" => self.local_name(self.text(callee)),
            "attribute" => {
                let method = self.self_method(callee)?;
                let class = class?;
                let own = format!("{}.{class}.{method}", self.module_name);
                if self.summaries.get(&own).is_none() {
                    if let Some(inherited) = self.inherited_method(class, method) {
                        return Some(inherited);
                    }
                }
                Some(own)
            }
            _ => None,
        }
    }

    /// The resource (or factory) type a value expression produces, if it
    /// is an acquisition: a call by qualified name, a method on a value of
    /// known type (locals `locals`, attributes `attrs` of `self`, module
    /// globals), a call to a project factory, through `await` and
    /// `asyncio.wait_for`.
    pub fn type_of_value(
        &self,
        value: Node,
        locals: &HashMap<String, String>,
        attrs: &HashMap<String, String>,
    ) -> Option<&'a ResourceSpec> {
        self.acquisition(value, locals, attrs, None)
            .map(|(spec, _)| spec)
    }

    /// Like [`Self::type_of_value`], also returning the call node that
    /// acquires; `class` qualifies `self.method()` summaries.
    pub fn acquisition<'t>(
        &self,
        value: Node<'t>,
        locals: &HashMap<String, String>,
        attrs: &HashMap<String, String>,
        class: Option<&str>,
    ) -> Option<(&'a ResourceSpec, Node<'t>)> {
        let (spec, call, needs_await) = self.acquisition_any(value, locals, attrs, class)?;
        // `conn = asyncpg.connect(dsn)` without `await` is a coroutine:
        // nothing is open until it is awaited.
        if needs_await && !is_awaited(value) {
            return None;
        }
        Some((spec, call))
    }

    /// Like [`Self::acquisition`], also for awaitable acquisitions that are
    /// not awaited (`async with pool.acquire() as conn` enters them
    /// directly); the flag says whether the acquisition must be awaited.
    pub fn acquisition_any<'t>(
        &self,
        value: Node<'t>,
        locals: &HashMap<String, String>,
        attrs: &HashMap<String, String>,
        class: Option<&str>,
    ) -> Option<(&'a ResourceSpec, Node<'t>, bool)> {
        self.acquisition_made(value, locals, attrs, class)
            .filter(|(spec, call, _)| !self.borrows(spec, *call, locals, attrs))
    }

    /// Whether `call` would acquire but only borrows what one of its
    /// arguments owns (`Session(bind=connection)`): the argument stays its
    /// owner's to release, so it is not handed over either.
    pub fn borrowing_call(
        &self,
        call: Node,
        locals: &HashMap<String, String>,
        attrs: &HashMap<String, String>,
        class: Option<&str>,
    ) -> bool {
        self.acquisition_made(call, locals, attrs, class)
            .is_some_and(|(spec, c, _)| self.borrows(spec, c, locals, attrs))
    }

    /// Whether the acquiring `call` only borrows a resource that one of its
    /// arguments owns, as the spec's `borrows_when` says.
    fn borrows(
        &self,
        spec: &ResourceSpec,
        call: Node,
        locals: &HashMap<String, String>,
        attrs: &HashMap<String, String>,
    ) -> bool {
        if spec.borrows_when.is_empty() {
            return false;
        }
        let Some(args) = call.child_by_field_name("arguments") else {
            return false;
        };
        let mut cursor = args.walk();
        let args: Vec<Node> = args.named_children(&mut cursor).collect();
        spec.borrows_when
            .iter()
            .any(|rule| self.borrowed_value(rule, &args, call, locals, attrs))
    }

    fn borrowed_value(
        &self,
        rule: &crate::resources::BorrowRule,
        args: &[Node],
        call: Node,
        locals: &HashMap<String, String>,
        attrs: &HashMap<String, String>,
    ) -> bool {
        {
            let keyword = args.iter().find_map(|a| {
                (a.kind() == "keyword_argument"
                    && a.child_by_field_name("name")
                        .is_some_and(|n| self.text(n) == rule.arg))
                .then(|| a.child_by_field_name("value"))
                .flatten()
            });
            let positional = || {
                let i = rule.position?;
                args.iter()
                    .take_while(|a| {
                        !matches!(
                            a.kind(),
                            "keyword_argument" | "list_splat" | "dictionary_splat"
                        )
                    })
                    .nth(i)
                    .copied()
            };
            let Some(value) = keyword.or_else(positional) else {
                return false;
            };
            let mut value = unwrap_value(value, self);
            // `bind = op.get_bind(); Session(bind=bind)`: the one value the
            // function gives the name.
            if value.kind() == "identifier"
                && !rule.names.iter().any(|n| n == self.text(value))
                && self.type_of_name(value, locals, attrs).is_none()
            {
                if let Some(v) = self.sole_local_value(call, self.text(value)) {
                    value = unwrap_value(v, self);
                }
            }
            match value.kind() {
                "identifier" => {
                    let name = self.text(value);
                    rule.names.iter().any(|n| n == name)
                        || self
                            .type_of_name(value, locals, attrs)
                            .is_some_and(|t| rule.types.iter().any(|r| self.same_type(r, &t)))
                }
                "attribute" => self
                    .type_of_name(value, locals, attrs)
                    .is_some_and(|t| rule.types.iter().any(|r| self.same_type(r, &t))),
                "call" => {
                    let Some(callee) = value.child_by_field_name("function") else {
                        return false;
                    };
                    let by_name = self
                        .module
                        .imports
                        .resolve(callee, self.module.text)
                        .is_some_and(|q| rule.calls.contains(&q));
                    let by_method = callee.kind() == "attribute"
                        && callee
                            .child_by_field_name("attribute")
                            .is_some_and(|m| rule.methods.iter().any(|r| r == self.text(m)));
                    by_name
                        || by_method
                        || self
                            .acquisition_made(value, locals, attrs, None)
                            .is_some_and(|(s, _, _)| rule.types.iter().any(|r| s.is_type(r)))
                }
                _ => false,
            }
        }
    }

    /// The value of the only assignment to `name` in the function around
    /// `at` (none when it is assigned more than once, or is a parameter).
    fn sole_local_value<'t>(&self, at: Node<'t>, name: &str) -> Option<Node<'t>> {
        let body = crate::python::enclosing_function_body(at)?;
        let mut found = Vec::new();
        crate::python::preorder(body, |n| {
            if n.kind() == "assignment" {
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) {
                    if l.kind() == "identifier" && self.text(l) == name {
                        found.push(r);
                    }
                }
            }
            !matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            )
        });
        match found.as_slice() {
            [only] => Some(*only),
            _ => None,
        }
    }

    /// Whether `a` and `b` name the same resource type (aliases count).
    fn same_type(&self, a: &str, b: &str) -> bool {
        a == b || self.spec(a).is_some_and(|s| s.is_type(b))
    }

    fn acquisition_made<'t>(
        &self,
        value: Node<'t>,
        locals: &HashMap<String, String>,
        attrs: &HashMap<String, String>,
        class: Option<&str>,
    ) -> Option<(&'a ResourceSpec, Node<'t>, bool)> {
        // `cast(Engine, make_engine(...))`: the acquisition is the value,
        // of the type the cast names when it names a resource (a helper
        // may return one of several).
        if let Some((ty, inner)) = self.cast_parts(value) {
            let named = self
                .module
                .imports
                .resolve(ty, self.module.text)
                .and_then(|q| self.spec(&q));
            if let Some(found) = self.acquisition_made(inner, locals, attrs, class) {
                return Some((named.unwrap_or(found.0), found.1, found.2));
            }
            // A helper of several types: the cast says which.
            let inner = unwrap_value(inner, self);
            let callee = inner.child_by_field_name("function")?;
            let summary = self.summaries.get(&self.qualify(callee, class)?)?;
            return (summary.returns_mixed)
                .then_some(named?)
                .map(|spec| (spec, inner, summary.returns_awaited));
        }
        let value = unwrap_value(value, self);
        // Owned on one path: `client or httpx.Client()`, `pool if pool
        // else create_pool()`. What the made arm opens is the value's to
        // release (or hand over) whenever it was made.
        match value.kind() {
            "conditional_expression" => {
                return [value.named_child(0), value.named_child(2)]
                    .into_iter()
                    .flatten()
                    .find_map(|arm| self.acquisition_made(arm, locals, attrs, class));
            }
            "boolean_operator"
                if value
                    .child_by_field_name("operator")
                    .is_some_and(|o| self.text(o) == "or") =>
            {
                return [
                    value.child_by_field_name("left"),
                    value.child_by_field_name("right"),
                ]
                .into_iter()
                .flatten()
                .find_map(|arm| self.acquisition_made(arm, locals, attrs, class));
            }
            _ => {}
        }
        if value.kind() != "call" || self.is_inert(value) {
            return None;
        }
        let callee = value.child_by_field_name("function")?;
        if let Some(q) = self.module.imports.resolve(callee, self.module.text) {
            if let Some((spec, a)) = self
                .resources
                .acquisitions_by_call(&q)
                .find(|(_, a)| self.passes(value, a.when.as_deref()))
            {
                return Some((spec, value, a.awaited));
            }
            // A module-level factory of another project module
            // (`from app.db.session import SessionLocal`).
            if let Some(t) = self.summaries.get(&q).and_then(|s| s.value_type.clone()) {
                if let Some(found) = self.method_acquisition(&t, "__call__", value) {
                    return Some(found);
                }
            }
        }
        // A method on a value of known type, or calling a factory.
        let (receiver_type, method) = match callee.kind() {
            // `self.SessionLocal()`: an attribute that is itself a factory.
            "attribute" if self.type_of_name(callee, locals, attrs).is_some() => {
                (self.type_of_name(callee, locals, attrs), "__call__")
            }
            "attribute" => {
                let object = callee.child_by_field_name("object")?;
                let method = self.text(callee.child_by_field_name("attribute")?);
                // `sqlite3.connect(p).cursor()`: the receiver is itself an
                // acquisition.
                let receiver = self.type_of_name(object, locals, attrs).or_else(|| {
                    self.acquisition(object, locals, attrs, class)
                        .map(|(s, _)| s.type_name.clone())
                });
                (receiver, method)
            }
            "identifier" => (self.type_of_name(callee, locals, attrs), "__call__"),
            // `sessionmaker(bind=engine)()`: a factory made and called at once.
            "call" => (
                self.acquisition(callee, locals, attrs, class)
                    .filter(|(s, _)| s.kind == crate::resources::ResourceKind::Factory)
                    .map(|(s, _)| s.type_name.clone()),
                "__call__",
            ),
            _ => (None, ""),
        };
        if let Some(receiver_type) = receiver_type {
            if let Some(found) = self.method_acquisition(&receiver_type, method, value) {
                return Some(found);
            }
        }
        let q = self.qualify(callee, class)?;
        let summary = self.summaries.get(&q)?;
        if let Some(i) = summary.returns_call_of {
            if let Some((spec, _, _)) = self.callable_acquisition(value, i, locals, attrs, class) {
                return Some((spec, value, summary.returns_awaited));
            }
        }
        if summary.returns_mixed {
            return None;
        }
        let returns = summary.returns.as_deref()?;
        self.spec(returns)
            .map(|spec| (spec, value, summary.returns_awaited))
    }

    /// `typing.cast(T, value)`: T and value.
    fn cast_parts<'t>(&self, value: Node<'t>) -> Option<(Node<'t>, Node<'t>)> {
        if value.kind() != "call" {
            return None;
        }
        let callee = value.child_by_field_name("function")?;
        let q = self.module.imports.resolve(callee, self.module.text)?;
        if !Vocabulary::has(&self.resources.vocabulary.cast_calls, &q) {
            return None;
        }
        let args = value.child_by_field_name("arguments")?;
        Some((args.named_child(0)?, args.named_child(1)?))
    }

    /// What calling positional argument `i` of `call` acquires: a lambda's
    /// body (`lambda: pymysql.connect(...)`), a bound method
    /// (`engine.connect`), a project function.
    pub fn callable_acquisition<'t>(
        &self,
        call: Node<'t>,
        i: usize,
        locals: &HashMap<String, String>,
        attrs: &HashMap<String, String>,
        class: Option<&str>,
    ) -> Option<(&'a ResourceSpec, Node<'t>, bool)> {
        let args = call.child_by_field_name("arguments")?;
        let mut cursor = args.walk();
        let arg = args
            .named_children(&mut cursor)
            .take_while(|a| {
                !matches!(
                    a.kind(),
                    "keyword_argument" | "list_splat" | "dictionary_splat"
                )
            })
            .nth(i)?;
        match arg.kind() {
            "lambda" => {
                let body = arg.child_by_field_name("body")?;
                self.acquisition_made(body, locals, attrs, class)
            }
            "attribute" => {
                let object = arg.child_by_field_name("object")?;
                let method = self.text(arg.child_by_field_name("attribute")?);
                let receiver = self.type_of_name(object, locals, attrs)?;
                self.method_acquisition(&receiver, method, call)
            }
            "identifier" => {
                let q = self.qualify(arg, class)?;
                let returns = self.summaries.get(&q)?.returns.as_deref()?;
                self.spec(returns).map(|s| (s, call, false))
            }
            _ => None,
        }
    }

    fn method_acquisition<'t>(
        &self,
        receiver_type: &str,
        method: &str,
        call: Node<'t>,
    ) -> Option<(&'a ResourceSpec, Node<'t>, bool)> {
        self.resources
            .acquisitions_by_method(method)
            .find(|(_, a)| {
                a.on.as_deref().is_some_and(|on| {
                    on == receiver_type || self.spec(on).is_some_and(|o| o.is_type(receiver_type))
                }) && self.passes(call, a.when.as_deref())
            })
            .map(|(spec, a)| (spec, call, a.awaited))
    }

    /// Whether `call` passes the keyword argument an acquisition's `when`
    /// asks for (`stream=True`); always when it asks for none.
    fn passes(&self, call: Node, when: Option<&str>) -> bool {
        let Some((name, value)) = when.and_then(|w| w.split_once('=')) else {
            return true;
        };
        let Some(args) = call.child_by_field_name("arguments") else {
            return false;
        };
        let mut cursor = args.walk();
        let found = args.named_children(&mut cursor).any(|a| {
            a.kind() == "keyword_argument"
                && a.child_by_field_name("name")
                    .is_some_and(|n| self.text(n) == name.trim())
                && a.child_by_field_name("value")
                    .is_some_and(|v| self.text(v) == value.trim())
        });
        found
    }

    /// An acquisition made inert by its arguments, as its spec's `inert_when`
    /// says (`create_engine(url, poolclass=NullPool)` keeps no connection
    /// open between uses).
    fn is_inert(&self, call: Node) -> bool {
        let Some(args) = call.child_by_field_name("arguments") else {
            return false;
        };
        let mut cursor = args.walk();
        let keywords: Vec<(String, String)> = args
            .named_children(&mut cursor)
            .filter(|a| a.kind() == "keyword_argument")
            .filter_map(|a| {
                Some((
                    self.text(a.child_by_field_name("name")?).to_string(),
                    self.text(a.child_by_field_name("value")?).to_string(),
                ))
            })
            .collect();
        if keywords.is_empty() {
            return false;
        }
        self.resources
            .specs
            .iter()
            .flat_map(|s| s.inert_when.iter())
            .any(|rule| {
                let Some((name, suffix)) = rule.split_once('=') else {
                    return false;
                };
                keywords
                    .iter()
                    .any(|(k, v)| k == name.trim() && v.ends_with(suffix.trim()))
            })
    }

    /// Whether `method` releases the resource type stored in `self.attr`.
    pub fn spec_releases(&self, attr: &str, attrs: &HashMap<String, String>, method: &str) -> bool {
        attrs.get(attr).and_then(|t| self.spec(t)).is_some_and(|s| {
            s.release
                .iter()
                .any(|r| r.method.as_deref() == Some(method))
        })
    }

    /// `module.name` for a function or class defined at this module's top
    /// level.
    fn local_name(&self, name: &str) -> Option<String> {
        self.local_functions
            .iter()
            .any(|f| f == name)
            .then(|| format!("{}.{name}", self.module_name))
    }

    /// The `self.x = …` assignments of the class `class` (by node), in
    /// document order; found for the whole file on first use.
    pub fn self_assignments_of(&self, class: Node) -> &[SelfAssignment<'a>] {
        self.self_assignments
            .get_or_init(|| self_assignments(self.module.tree.root_node(), self.module.text))
            .get(&class.id())
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// The class named `class` in this file: its bases and own methods.
    pub fn class_shape(&self, class: &str) -> Option<&ClassShape<'a>> {
        self.class_shapes
            .get_or_init(|| class_shapes(self.module.tree.root_node(), self.module.text))
            .get(class)
    }

    /// Qualified keys for base names as a class writes them (resolved
    /// through the imports where they can be): a class of this module
    /// (`module.Base`), or, for a bare name the imports do not bind, one
    /// per star-imported module (`from ._utils import *`).
    pub fn base_keys(&self, base_names: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        for b in base_names {
            if self.local_functions.iter().any(|f| f == b) {
                out.push(format!("{}.{b}", self.module_name));
            } else if !b.contains('.') && !self.module.imports.star_modules().is_empty() {
                out.extend(
                    self.module
                        .imports
                        .star_modules()
                        .iter()
                        .map(|m| format!("{m}.{b}")),
                );
            } else {
                out.push(b.clone());
            }
        }
        out
    }

    /// The keys `self.<method>` may run when the class `class` does not
    /// define `method` itself: `<base>.<method>` for each of its bases
    /// (empty when it defines it, or is not a class of this file).
    pub fn inherited_candidates(&self, class: &str, method: &str) -> Vec<String> {
        let Some(shape) = self.class_shape(class) else {
            return Vec::new();
        };
        if shape.methods.iter().any(|m| m == method) {
            return Vec::new();
        }
        let names: Vec<String> = shape.bases.iter().map(|b| self.base_name(*b)).collect();
        self.base_keys(&names)
            .into_iter()
            .map(|b| format!("{b}.{method}"))
            .collect()
    }

    /// For a call to a project helper no summary describes, the keys of
    /// other modules it may be (`app.utils.throttle` for an imported
    /// `throttle`, `app.base.Base.throttle` for `self.throttle` in a
    /// subclass of `Base` that does not define it): what to ask the
    /// project. A helper of this module is answered by its own rounds.
    pub fn unanswered_callee_keys(&self, callee: Node, class: Option<&str>) -> Vec<String> {
        let own = format!("{}.", self.module_name);
        let keys = if let Some(q) = self.module.imports.resolve(callee, self.module.text) {
            vec![q]
        } else {
            match (self.self_method(callee), class) {
                (Some(method), Some(class)) => self.inherited_candidates(class, method),
                _ => Vec::new(),
            }
        };
        keys.into_iter().filter(|k| !k.starts_with(&own)).collect()
    }

    /// `m` for a callee `self.m` or `cls.m`.
    fn self_method(&self, callee: Node) -> Option<&'a str> {
        if callee.kind() != "attribute" {
            return None;
        }
        let object = callee.child_by_field_name("object")?;
        (object.kind() == "identifier" && matches!(self.text(object), "self" | "cls"))
            .then(|| callee.child_by_field_name("attribute"))
            .flatten()
            .map(|a| self.text(a))
    }

    /// A base class expression's name, qualified through the imports
    /// where they bind it, else as written.
    pub fn base_name(&self, base: Node) -> String {
        self.module
            .imports
            .resolve(base, self.module.text)
            .unwrap_or_else(|| self.text(base).to_string())
    }

    /// The summarised method of a base class that `self.<method>` runs
    /// in the class `class`, which does not define it (one level up: a
    /// base's own bases are its module's to resolve).
    fn inherited_method(&self, class: &str, method: &str) -> Option<String> {
        self.inherited_candidates(class, method)
            .into_iter()
            .find(|k| self.summaries.get(k).is_some())
    }

    /// The resource type an annotation names: `asyncpg.Pool`, an imported
    /// `Pool`, a project resource class, also inside `Optional[...]`,
    /// `Union[..., None]`, `... | None`, `Annotated[..., ...]` and string
    /// annotations (`"asyncpg.Pool"`, `"Pool | None"`). A union of two
    /// resource types names neither.
    pub fn annotated_type(&self, annotation: Node) -> Option<String> {
        let mut cursor = annotation.walk();
        match annotation.kind() {
            "type" | "type_parameter" | "parenthesized_expression" | "union_type" => {
                let parts: Vec<Node> = annotation.named_children(&mut cursor).collect();
                self.one_type_of(&parts)
            }
            "binary_operator" => {
                let parts: Vec<Node> = ["left", "right"]
                    .iter()
                    .filter_map(|f| annotation.child_by_field_name(f))
                    .collect();
                self.one_type_of(&parts)
            }
            // `Optional[Pool]` as a type, or as an expression.
            "generic_type" | "subscript" => {
                let (generic, parts): (Node, Vec<Node>) = if annotation.kind() == "subscript" {
                    let value = annotation.child_by_field_name("value")?;
                    let parts = annotation
                        .children_by_field_name("subscript", &mut cursor)
                        .collect();
                    (value, parts)
                } else {
                    let generic = annotation.named_child(0)?;
                    let params = annotation.named_child(1)?;
                    let mut c = params.walk();
                    let parts = params.named_children(&mut c).collect();
                    (generic, parts)
                };
                let name = self.text(generic);
                match name.rsplit('.').next().unwrap_or(name) {
                    "Optional" | "Union" => self.one_type_of(&parts),
                    "Annotated" => parts.first().and_then(|p| self.annotated_type(*p)),
                    _ => None,
                }
            }
            "identifier" | "attribute" => {
                let q = self
                    .module
                    .imports
                    .resolve(annotation, self.module.text)
                    .or_else(|| self.local_name(self.text(annotation)))?;
                self.spec(&q).map(|s| s.type_name.clone())
            }
            "string" => {
                let text = self.text(annotation);
                let inner = text
                    .trim_start_matches(['r', 'R', 'u', 'U'])
                    .trim_matches(['"', '\'']);
                self.annotated_text(inner)
            }
            _ => None,
        }
    }

    /// The one part of a union that is not `None`, as a resource type.
    fn one_type_of(&self, parts: &[Node]) -> Option<String> {
        let mut rest = parts.iter().filter(|p| self.text(**p).trim() != "None");
        let only = rest.next()?;
        if rest.next().is_some() {
            return None;
        }
        self.annotated_type(*only)
    }

    /// A string annotation: a dotted name, in `Optional[...]` or with
    /// `| None`.
    fn annotated_text(&self, text: &str) -> Option<String> {
        let squeezed: String = text.split_whitespace().collect();
        let inner = squeezed
            .strip_prefix("Optional[")
            .or_else(|| squeezed.strip_prefix("typing.Optional["))
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(&squeezed);
        let mut names = inner.split('|').filter(|p| *p != "None");
        let name = names.next()?;
        if names.next().is_some()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
        {
            return None;
        }
        let q = self
            .module
            .imports
            .resolve_text(name)
            .or_else(|| self.local_name(name))?;
        self.spec(&q).map(|s| s.type_name.clone())
    }

    /// The type of a name: a local, `self.attr`, or a module global.
    pub fn type_of_name(
        &self,
        node: Node,
        locals: &HashMap<String, String>,
        attrs: &HashMap<String, String>,
    ) -> Option<String> {
        match node.kind() {
            "identifier" => {
                let name = self.text(node);
                locals
                    .get(name)
                    .or_else(|| self.globals.get(name))
                    .cloned()
                    .or_else(|| {
                        // A factory or engine bound at module level in another
                        // project module.
                        let q = self.module.imports.resolve(node, self.module.text)?;
                        self.summaries.get(&q)?.value_type.clone()
                    })
            }
            "attribute" => {
                let object = node.child_by_field_name("object")?;
                let attr = node.child_by_field_name("attribute")?;
                if object.kind() == "identifier" && self.text(object) == "self" {
                    attrs.get(self.text(attr)).cloned()
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// Whether the value expression awaits what it produces (`await x`,
/// `await asyncio.wait_for(x, ...)`).
fn is_awaited(value: Node) -> bool {
    let mut n = value;
    loop {
        match n.kind() {
            "await" => return true,
            "parenthesized_expression" => match n.named_child(0) {
                Some(inner) => n = inner,
                None => return false,
            },
            _ => return false,
        }
    }
}

/// Looks through `await`, parentheses and `asyncio.wait_for(x, ...)` /
/// `asyncio.shield(x)` to the expression that produces the value.
pub fn unwrap_value<'t>(mut value: Node<'t>, ctx: &FileContext) -> Node<'t> {
    loop {
        match value.kind() {
            "await" | "parenthesized_expression" => match value.named_child(0) {
                Some(inner) => value = inner,
                None => return value,
            },
            "call" => {
                let Some(callee) = value.child_by_field_name("function") else {
                    return value;
                };
                let q = ctx.module.imports.resolve(callee, ctx.module.text);
                let vocabulary = &ctx.resources.vocabulary;
                let listed =
                    |words: &[String]| q.as_deref().is_some_and(|q| Vocabulary::has(words, q));
                // The argument that holds the value: `cast(T, value)`,
                // `wait_for(value, timeout)`.
                let held = if listed(&vocabulary.cast_calls) {
                    1
                } else if listed(&vocabulary.value_wrappers) {
                    0
                } else {
                    return value;
                };
                match value
                    .child_by_field_name("arguments")
                    .and_then(|a| a.named_child(held))
                    .filter(|a| a.kind() != "keyword_argument")
                {
                    Some(inner) => value = inner,
                    None => return value,
                }
            }
            _ => return value,
        }
    }
}
