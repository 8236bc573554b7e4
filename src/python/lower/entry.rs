//! Entry points: finding every function of a file, with its class,
//! decorators and parameters, and lowering each.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::{contains_own, span, yields_in_loop, GenMode, Lowered, Lowerer};
use crate::ir::Function;
use crate::ir::FunctionInfo;
use crate::python::context::FileContext;
use crate::python::self_attributes::SelfAssignment;
use crate::resources::Vocabulary;

fn decorator_names(ctx: &FileContext, decorated: Option<Node>) -> Vec<String> {
    let Some(parent) = decorated else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cursor = parent.walk();
    for d in parent
        .named_children(&mut cursor)
        .filter(|c| c.kind() == "decorator")
    {
        let Some(mut e) = d.named_child(0) else {
            continue;
        };
        if e.kind() == "call" {
            if let Some(f) = e.child_by_field_name("function") {
                e = f;
            }
        }
        let name = ctx
            .module
            .imports
            .resolve(e, ctx.module.text)
            .unwrap_or_else(|| ctx.text(e).to_string());
        out.push(name);
    }
    out
}

/// Whether decorators mark a test fixture (`@pytest.fixture`: the
/// vocabulary's `fixture-decorators`).
pub fn is_fixture(vocabulary: &Vocabulary, decorators: &[String]) -> bool {
    decorators
        .iter()
        .any(|d| Vocabulary::has(&vocabulary.fixture_decorators, d))
}

/// The name of a function defined directly in `body` that a `return`
/// of `body` hands out.
fn returned_local_function(ctx: &FileContext, body: Node) -> Option<String> {
    let mut defined = Vec::new();
    let mut returned = Vec::new();
    crate::python::preorder(body, |n| match n.kind() {
        "function_definition" if n != body => {
            if let Some(name) = n.child_by_field_name("name") {
                defined.push(ctx.text(name));
            }
            false
        }
        "class_definition" | "lambda" => false,
        "return_statement" => {
            if let Some(v) = n.named_child(0).filter(|v| v.kind() == "identifier") {
                returned.push(ctx.text(v));
            }
            false
        }
        // Returns and definitions are statements: expressions need no visit.
        kind => n == body || crate::python::may_hold_statements(kind),
    });
    returned
        .into_iter()
        .find(|r| defined.contains(r))
        .map(str::to_string)
}

/// The parameter whose call's result the function returns (`def
/// retry(func, ...): ... result = func(); ... return result`), when every
/// `return` with a value returns that: a helper that runs a callable it is
/// given and hands its result back (retries, throttles, timers).
///
/// Also, for a function that returns what it gets from a project helper
/// no summary describes yet, given one of its parameters (`return
/// throttle(func, rate)`, the helper in a module the prefilter has not
/// admitted), that helper's keys: the questions to ask the project.
fn returned_call_of_param(
    ctx: &FileContext,
    body: Node,
    params: &[String],
    class: Option<&str>,
) -> (Option<usize>, Vec<String>) {
    let mut values = Vec::new();
    crate::python::preorder(body, |n| match n.kind() {
        "function_definition" | "class_definition" | "lambda" if n != body => false,
        "return_statement" => {
            if let Some(v) = n.named_child(0) {
                values.push(v);
            }
            false
        }
        kind => n == body || crate::python::may_hold_statements(kind),
    });
    let mut unanswered = Vec::new();
    // The callee of `p(...)` or `await p(...)`, as a parameter index.
    let mut param_called = |v: Node| -> Option<usize> {
        let v = if v.kind() == "await" {
            v.named_child(0)?
        } else {
            v
        };
        let callee = v
            .child_by_field_name("function")
            .filter(|_| v.kind() == "call")?;
        if callee.kind() == "identifier" {
            if let Some(i) = params.iter().position(|p| p == ctx.text(callee)) {
                return Some(i);
            }
        }
        let args = v.child_by_field_name("arguments")?;
        let mut cursor = args.walk();
        let positional: Vec<Node> = args
            .named_children(&mut cursor)
            .filter(|a| a.kind() != "comment")
            .collect();
        // `return throttle(func, rate)` where the project helper
        // `throttle` itself returns what calling its argument returns.
        let Some(summary) = ctx.summaries.get(&ctx.qualify(callee, class)?) else {
            let forwards = positional
                .iter()
                .any(|a| a.kind() == "identifier" && params.iter().any(|p| p == ctx.text(*a)));
            if forwards {
                unanswered.extend(ctx.unanswered_callee_keys(callee, class));
            }
            return None;
        };
        let j = summary.returns_call_of?;
        let arg = positional.get(j).filter(|a| a.kind() == "identifier")?;
        params.iter().position(|p| p == ctx.text(*arg))
    };
    // Counted as callers pass it: a method's `self` or `cls` is not.
    let bound = params.first().is_some_and(|p| p == "self" || p == "cls");
    let mut found = None;
    for v in values {
        let i = match v.kind() {
            "identifier" => {
                // `result = func(*args)` ... `return result`: every
                // assignment to the name is such a call.
                let name = ctx.text(v);
                let mut calls = Vec::new();
                let mut other = false;
                crate::python::preorder(body, |n| {
                    if n.kind() == "assignment" {
                        if let (Some(l), Some(r)) = (
                            n.child_by_field_name("left"),
                            n.child_by_field_name("right"),
                        ) {
                            if l.kind() == "identifier" && ctx.text(l) == name {
                                match param_called(r) {
                                    Some(i) => calls.push(i),
                                    None => other = true,
                                }
                            }
                        }
                    }
                    !matches!(
                        n.kind(),
                        "function_definition" | "class_definition" | "lambda"
                    ) || n == body
                });
                match (calls.first(), other) {
                    (Some(&i), false) if calls.iter().all(|&c| c == i) => Some(i),
                    _ => None,
                }
            }
            _ => param_called(v),
        };
        match (i, found) {
            (Some(i), None) => found = Some(i),
            (Some(i), Some(f)) if i == f => {}
            _ => {
                found = None;
                break;
            }
        }
    }
    let found = match found {
        Some(0) if bound => None,
        Some(i) if bound => Some(i - 1),
        other => other,
    };
    if found.is_some() {
        unanswered.clear();
    }
    unanswered.sort();
    unanswered.dedup();
    (found, unanswered)
}

/// The `scope=` keyword of a decorator call (`@pytest.fixture(scope="session")`).
fn fixture_scope(ctx: &FileContext, decorated: Option<Node>) -> Option<String> {
    let parent = decorated?;
    let mut cursor = parent.walk();
    let decorators: Vec<Node> = parent
        .named_children(&mut cursor)
        .filter(|c| c.kind() == "decorator")
        .collect();
    for d in decorators {
        let Some(call) = d.named_child(0).filter(|e| e.kind() == "call") else {
            continue;
        };
        let Some(args) = call.child_by_field_name("arguments") else {
            continue;
        };
        let mut cursor = args.walk();
        for a in args.named_children(&mut cursor) {
            if a.kind() != "keyword_argument" {
                continue;
            }
            let name = a.child_by_field_name("name").map(|n| ctx.text(n));
            if name == Some("scope") {
                let value = a.child_by_field_name("value")?;
                return Some(ctx.text(value).trim_matches(['"', '\'']).to_string());
            }
        }
    }
    None
}

fn param_names(ctx: &FileContext, params: Option<Node>) -> (Vec<String>, HashMap<String, String>) {
    let mut names = Vec::new();
    let mut types = HashMap::new();
    let Some(params) = params else {
        return (names, types);
    };
    let mut cursor = params.walk();
    for p in params.named_children(&mut cursor) {
        let (name, ty) = match p.kind() {
            "identifier" => (Some(p), None),
            "typed_parameter" => (
                p.named_child(0).filter(|n| n.kind() == "identifier"),
                p.child_by_field_name("type"),
            ),
            "default_parameter" => (p.child_by_field_name("name"), None),
            "typed_default_parameter" => {
                (p.child_by_field_name("name"), p.child_by_field_name("type"))
            }
            _ => (None, None),
        };
        let Some(name) = name else { continue };
        let name = ctx.text(name).to_string();
        if let Some(t) = ty.and_then(|t| ctx.annotated_type(t)) {
            types.insert(name.clone(), t);
        }
        names.push(name);
    }
    (names, types)
}

/// The types of `self.x` attributes assigned anywhere in a class body:
/// an acquisition assigned to it, or else what annotations say (see
/// [`declared_attributes`]).
pub(crate) fn class_attributes(ctx: &FileContext, class: Node) -> HashMap<String, String> {
    let mut attrs = HashMap::new();
    let assignments = ctx.self_assignments_of(class);
    let no_locals = HashMap::new();
    for a in assignments {
        let Some(right) = a.assignment.child_by_field_name("right") else {
            continue;
        };
        if let Some(spec) = ctx.type_of_value(right, &no_locals, &no_locals) {
            attrs.insert(ctx.text(a.attribute).to_string(), spec.type_name.clone());
        }
    }
    for (attribute, type_name) in declared_attributes(ctx, class, assignments) {
        attrs.entry(attribute).or_insert(type_name);
    }
    attrs
}

/// Attribute types that annotations give: a class-level declaration
/// (`pool: asyncpg.Pool`), an annotated assignment (`self.pool: Pool =
/// ...`), or a typed parameter of the method stored as it is
/// (`def __init__(self, pool: asyncpg.Pool): self._pool = pool`); where
/// several say, the last in the class body wins.
fn declared_attributes(
    ctx: &FileContext,
    class: Node,
    assignments: &[SelfAssignment],
) -> HashMap<String, String> {
    // (position, attribute, type), put in document order below.
    let mut found: Vec<(usize, String, String)> = Vec::new();
    if let Some(body) = class.child_by_field_name("body") {
        let mut cursor = body.walk();
        for stmt in body.named_children(&mut cursor) {
            let Some(a) = (stmt.kind() == "expression_statement")
                .then(|| stmt.named_child(0))
                .flatten()
                .filter(|a| a.kind() == "assignment")
            else {
                continue;
            };
            if let (Some(l), Some(t)) =
                (a.child_by_field_name("left"), a.child_by_field_name("type"))
            {
                if let Some(type_name) = (l.kind() == "identifier")
                    .then(|| ctx.annotated_type(t))
                    .flatten()
                {
                    found.push((a.start_byte(), ctx.text(l).to_string(), type_name));
                }
            }
        }
    }
    let mut params_of: HashMap<usize, HashMap<String, String>> = HashMap::new();
    for a in assignments {
        let Some(method) = a.method else { continue };
        let annotated = a
            .assignment
            .child_by_field_name("type")
            .and_then(|t| ctx.annotated_type(t));
        let from_param = || {
            let right = a
                .assignment
                .child_by_field_name("right")
                .filter(|r| r.kind() == "identifier")?;
            params_of
                .entry(method.id())
                .or_insert_with(|| param_names(ctx, method.child_by_field_name("parameters")).1)
                .get(ctx.text(right))
                .cloned()
        };
        if let Some(type_name) = annotated.or_else(from_param) {
            found.push((
                a.assignment.start_byte(),
                ctx.text(a.attribute).to_string(),
                type_name,
            ));
        }
    }
    found.sort_by_key(|(at, _, _)| *at);
    found.into_iter().map(|(_, a, t)| (a, t)).collect()
}

/// Lowers every function and method of the file.
pub fn lower_file(ctx: &FileContext) -> Vec<Lowered> {
    let mut defs = Vec::new();
    collect_defs(ctx.module.tree.root_node(), None, &mut defs);
    let mut class_attrs: HashMap<usize, HashMap<String, String>> = HashMap::new();
    let empty = HashMap::new();
    let mut out = Vec::new();
    for d in defs {
        let class = d
            .class
            .and_then(|c| c.child_by_field_name("name"))
            .map(|n| ctx.text(n).to_string());
        let attrs = match d.class {
            Some(c) => &*class_attrs
                .entry(c.id())
                .or_insert_with(|| class_attributes(ctx, c)),
            None => &empty,
        };
        if let Some(l) = lower_function(ctx, d.def, d.decorated, class, attrs) {
            out.push(l);
        }
    }
    out
}

/// A function definition with the class it is a method of and the
/// `decorated_definition` around it, found without `Node::parent` (which
/// tree-sitter answers by searching down from the root).
struct Def<'t> {
    def: Node<'t>,
    class: Option<Node<'t>>,
    decorated: Option<Node<'t>>,
}

fn collect_defs<'t>(node: Node<'t>, class: Option<Node<'t>>, out: &mut Vec<Def<'t>>) {
    let mut cursor = node.walk();
    for child in node.named_children(&mut cursor) {
        let (def, decorated) = if child.kind() == "decorated_definition" {
            match child.child_by_field_name("definition") {
                Some(d) => (d, Some(child)),
                None => continue,
            }
        } else {
            (child, None)
        };
        match def.kind() {
            "function_definition" => {
                out.push(Def {
                    def,
                    class,
                    decorated,
                });
                collect_defs(def, None, out);
            }
            "class_definition" => collect_defs(def, Some(def), out),
            // Definitions are statements: expressions cannot hold one
            // (lambdas are expressions, lowered with their function).
            kind if crate::python::is_statement_container(kind) => collect_defs(def, class, out),
            _ => {}
        }
    }
}

fn lower_function(
    ctx: &FileContext,
    def: Node,
    decorated: Option<Node>,
    class: Option<String>,
    attrs: &HashMap<String, String>,
) -> Option<Lowered> {
    let name_node = def.child_by_field_name("name")?;
    let body = def.child_by_field_name("body")?;
    let name = ctx.text(name_node).to_string();
    let qualified_name = match &class {
        Some(c) => format!("{}.{c}.{name}", ctx.module_name),
        None => format!("{}.{name}", ctx.module_name),
    };
    let is_async = def.child(0).is_some_and(|c| c.kind() == "async");
    let decorators = decorator_names(ctx, decorated);
    let vocabulary = &ctx.resources.vocabulary;
    let fixture = is_fixture(vocabulary, &decorators);
    // The text check first: most functions never write the word.
    let has_yield =
        ctx.text(body).contains("yield") && contains_own(body, &|n| n.kind() == "yield");
    // A lifespan handed to FastAPI/Starlette is resumed normally at
    // shutdown: nothing is thrown in at its yield.
    let lifespan = Vocabulary::has(&vocabulary.lifespan_functions, &name)
        || ctx.lifespans.iter().any(|l| l == &name);
    let gen = if !has_yield {
        GenMode::Plain
    } else if fixture || lifespan {
        GenMode::Loan {
            yield_raises: false,
        }
    } else if decorators
        .iter()
        .any(|d| Vocabulary::has(&vocabulary.context_manager_decorators, d))
        || !yields_in_loop(body)
    {
        GenMode::Loan { yield_raises: true }
    } else {
        GenMode::Iterator
    };
    let (params, param_types) = param_names(ctx, def.child_by_field_name("parameters"));
    let f = Function::new(qualified_name.clone(), span(def));
    let entry = f.entry;
    let raise_exit = f.raise_exit;
    let mut lowerer = Lowerer {
        ctx,
        f,
        cur: entry,
        exc: raise_exit,
        finallies: Vec::new(),
        loops: Vec::new(),
        locals: param_types,
        attrs,
        class: class.clone(),
        params: params.clone(),
        globals_declared: HashSet::new(),
        site_by_span: HashMap::new(),
        gen,
        yielded: Vec::new(),
        releases_params: Vec::new(),
        temp: 0,
        statement_call: None,
        local_helpers: HashMap::new(),
        scoped_names: Vec::new(),
        guarded_names: Vec::new(),
        bound_releases: HashMap::new(),
        tuple_returns: Vec::new(),
        yields_scoped: false,
    };
    // Every name the function binds is a variable from the start: code
    // lowered before the binding (a `finally` copy, a loop body) must
    // already see it.
    // Without a walrus, every binding is an assignment statement: the
    // walk can pass expressions by.
    let walrus = ctx.text(body).contains(":=");
    crate::python::preorder(body, |n| {
        if n != body
            && matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            )
        {
            return false;
        }
        let target = match n.kind() {
            "assignment" => n.child_by_field_name("left"),
            "named_expression" => n.child_by_field_name("name"),
            _ => None,
        };
        if let Some(t) = target {
            // Names inside `a.b` or `a[i]` targets are not bound here.
            crate::python::preorder(t, |id| {
                if id.kind() == "identifier" {
                    lowerer.f.var(ctx.text(id));
                }
                !matches!(id.kind(), "attribute" | "subscript")
            });
        }
        walrus
            || crate::python::may_hold_statements(n.kind())
            || matches!(n.kind(), "expression_statement" | "assignment")
    });
    lowerer.f.blocks[entry].exc = Some(raise_exit);
    let first = lowerer.new_block();
    lowerer.f.edge(entry, first);
    lowerer.cur = first;
    lowerer.block(body);
    let exit = lowerer.f.normal_exit;
    lowerer.f.edge(lowerer.cur, exit);
    let mut releases_params = lowerer.releases_params;
    releases_params.sort_unstable();
    let (returns_call_of, forwarded_to) =
        returned_call_of_param(ctx, body, &params, class.as_deref());
    // Asked only of a function some caller wants answered: a lambda that
    // acquires is handed to it (see `python::wanted_callees`).
    let wants = if !forwarded_to.is_empty()
        && ctx
            .summaries
            .get(&format!("{qualified_name}#wanted"))
            .is_some()
    {
        forwarded_to
    } else {
        Vec::new()
    };
    let mut function = lowerer.f;
    function.info = FunctionInfo {
        is_test: is_test_function(&ctx.resources.vocabulary, &name, class.as_deref()),
        qualified_name,
        class,
        decorators,
        is_async,
        generator: gen,
        is_fixture: fixture,
        fixture_scope: fixture.then(|| fixture_scope(ctx, decorated)).flatten(),
        returns_local_function: returned_local_function(ctx, body),
    };
    Some(Lowered {
        function,
        params,
        yielded: lowerer.yielded,
        yields_scoped: lowerer.yields_scoped,
        tuple_returns: lowerer.tuple_returns,
        releases_params,
        returns_call_of,
        wants,
        name_span: span(name_node),
    })
}

/// A pytest test: `test*` functions, also as methods of `Test*` classes.
fn is_test_function(vocabulary: &Vocabulary, name: &str, class: Option<&str>) -> bool {
    Vocabulary::starts(&vocabulary.test_function_prefixes, name)
        && class.is_none_or(|c| Vocabulary::starts(&vocabulary.test_class_prefixes, c))
}
