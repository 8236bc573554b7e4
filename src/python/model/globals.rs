//! Module state written from functions: a resource put in a module global
//! (`global x; x = Client()`), in a module-level container (`CACHE[key] =
//! Client()`, `POOLS.append(pool)`) or in a class attribute (`cls._conn =
//! connect()`, `Registry.session = ...`), and whether anything in the file
//! releases what that state holds (`await x.close()`, `for s in
//! CACHE.values(): s.close()`, `atexit.register(x.close)`).
//!
//! Such state lives as long as the process: unlike a local, nothing ends
//! its life at a function's end, so the only release it ever gets is one
//! the module writes. Releases are matched by name, through the names that
//! loops, comprehensions and assignments bind from the state: a release of
//! anything drawn from `CACHE` counts for `CACHE`. That is generous on
//! purpose: a store is reported only when no code of the file could be
//! closing it.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use crate::diagnostic::Span;
use crate::python::context::FileContext;
use crate::python::preorder;
use crate::resources::{ResourceKind, ResourceSpec, Vocabulary};

/// A resource stored in module state by a function.
#[derive(Debug, Clone)]
pub(crate) struct GlobalStore<'a> {
    /// The state as written: `_session`, `CACHE`, `Database._conn`.
    pub name: String,
    /// The name releases are matched against (`_conn` for
    /// `Database._conn`).
    pub key: String,
    pub spec: &'a ResourceSpec,
    /// The acquiring call.
    pub call: Span,
    /// Stored into a container (`CACHE[k] = ...`, `POOLS.append(...)`).
    pub container: bool,
    /// Stored on a class (`cls.x`, `Class.x`).
    pub on_class: bool,
    /// The function that stores it.
    pub function: String,
    /// A plain global that module-level code opened a resource into, and
    /// this function rebinds without releasing it (`SESSION =
    /// requests.Session()` again): the open one is lost.
    pub rebinds_open: bool,
    /// Made by module-level code or a class body at import time
    /// (`_pools = {"default": aiohttp.ClientSession()}`), not by a
    /// function.
    pub module_level: bool,
}

/// What the file does with module state.
#[derive(Debug, Default)]
pub(crate) struct ModuleState<'a> {
    pub stores: Vec<GlobalStore<'a>>,
    /// Names that some code of the file releases, directly or through a
    /// name drawn from them.
    pub released: HashSet<String>,
    /// The file runs as a script (`if __name__ == "__main__":`): the
    /// process ends with it.
    pub script: bool,
    /// A function that drops entries of a module-level container (`del
    /// CACHE[k]`, `CACHE.clear()`, a bare `CACHE.pop(k)`) and releases
    /// nothing it draws from it: the container, where, and the function.
    pub evictions: Vec<(String, Span, String)>,
}

pub(super) fn collect<'a>(ctx: &FileContext<'a>) -> ModuleState<'a> {
    let root = ctx.module.tree.root_node();
    let mut module_names: HashSet<&str> = HashSet::new();
    let mut module_acquired: HashSet<&str> = HashSet::new();
    let mut classes: HashSet<&str> = HashSet::new();
    let no_types = HashMap::new();
    let mut script = false;
    let mut cursor = root.walk();
    for stmt in root.named_children(&mut cursor) {
        match stmt.kind() {
            "expression_statement" => {
                if let Some(a) = stmt.named_child(0).filter(|a| a.kind() == "assignment") {
                    if let Some(l) = a
                        .child_by_field_name("left")
                        .filter(|l| l.kind() == "identifier")
                    {
                        module_names.insert(ctx.text(l));
                        let opened = a.child_by_field_name("right").is_some_and(|r| {
                            ctx.acquisition(r, &no_types, &no_types, None)
                                .is_some_and(|(s, _)| s.kind != ResourceKind::Factory)
                        });
                        if opened {
                            module_acquired.insert(ctx.text(l));
                        }
                    }
                }
            }
            "class_definition" => {
                if let Some(n) = stmt.child_by_field_name("name") {
                    classes.insert(ctx.text(n));
                }
            }
            "if_statement" => {
                let condition = stmt.child_by_field_name("condition").map(|c| ctx.text(c));
                if condition.is_some_and(|c| c.contains("__name__") && c.contains("__main__")) {
                    script = true;
                }
            }
            _ => {}
        }
    }
    let mut out = ModuleState {
        script,
        ..ModuleState::default()
    };
    import_time_stores(ctx, root, &mut out.stores);
    // Each function's stores, nested functions on their own.
    walk_defs(root, None, &mut |def, class| {
        stores_of(
            ctx,
            def,
            class,
            &module_names,
            &module_acquired,
            &classes,
            &mut out.stores,
        );
    });
    if !out.stores.is_empty() {
        out.released = released_names(ctx, root);
        let containers: HashSet<String> = out
            .stores
            .iter()
            .filter(|s| s.container)
            .map(|s| s.name.clone())
            .collect();
        walk_defs(root, None, &mut |def, _| {
            evictions_of(ctx, def, &containers, &mut out.evictions);
        });
    }
    out
}

/// `del CACHE[k]`, `CACHE.clear()`, `CACHE.pop(k)` as a statement in a
/// function that releases nothing drawn from `CACHE`.
fn evictions_of(
    ctx: &FileContext,
    def: Node,
    containers: &HashSet<String>,
    out: &mut Vec<(String, Span, String)>,
) {
    let Some(body) = def.child_by_field_name("body") else {
        return;
    };
    let mut found: Vec<(String, Span)> = Vec::new();
    own_code(body, &mut |n| {
        let container = match n.kind() {
            "delete_statement" => n
                .named_child(0)
                .filter(|t| t.kind() == "subscript")
                .and_then(|t| t.child_by_field_name("value")),
            "expression_statement" => n
                .named_child(0)
                .filter(|c| c.kind() == "call")
                .and_then(|c| c.child_by_field_name("function"))
                .filter(|f| {
                    f.child_by_field_name("attribute")
                        .is_some_and(|m| matches!(ctx.text(m), "clear" | "pop" | "popitem"))
                })
                .and_then(|f| f.child_by_field_name("object")),
            _ => None,
        };
        if let Some(c) = container.filter(|c| c.kind() == "identifier") {
            if containers.contains(ctx.text(c)) {
                found.push((
                    ctx.text(c).to_string(),
                    Span::new(n.start_byte(), n.end_byte()),
                ));
            }
        }
    });
    let function = def
        .child_by_field_name("name")
        .map(|n| ctx.text(n).to_string())
        .unwrap_or_default();
    for (container, at) in found {
        if !releases_drawn_from(ctx, body, &container) {
            out.push((container, at, function.clone()));
        }
    }
}

/// Whether a function's own code releases something it draws from the
/// container `name`: `name[k].close()`, or a release on a name bound from
/// it (`for c in name.values(): c.close()`, `c = name.pop(k)`).
fn releases_drawn_from(ctx: &FileContext, body: Node, name: &str) -> bool {
    let releases = &ctx.resources.vocabulary.release_methods;
    let mentions = |n: Node| {
        crate::python::analyse::whole_name_matcher([name]).is_some_and(|m| {
            crate::python::analyse::whole_names(&m, ctx.text(n))
                .next()
                .is_some()
        })
    };
    let mut drawn: HashSet<String> = HashSet::new();
    own_code(body, &mut |n| {
        let (target, source) = match n.kind() {
            "for_statement" => (
                n.child_by_field_name("left"),
                n.child_by_field_name("right"),
            ),
            "assignment" => (
                n.child_by_field_name("left"),
                n.child_by_field_name("right"),
            ),
            _ => (None, None),
        };
        if let (Some(t), Some(src)) = (target, source) {
            if mentions(src) {
                preorder(t, |i| {
                    if i.kind() == "identifier" {
                        drawn.insert(ctx.text(i).to_string());
                    }
                    true
                });
            }
        }
    });
    let mut found = false;
    own_code(body, &mut |n| {
        if n.kind() != "call" {
            return;
        }
        let Some(f) = n
            .child_by_field_name("function")
            .filter(|f| f.kind() == "attribute")
        else {
            return;
        };
        let releasing = f
            .child_by_field_name("attribute")
            .is_some_and(|m| Vocabulary::has(releases, ctx.text(m)));
        let on_drawn = f.child_by_field_name("object").is_some_and(|o| {
            mentions(o) || (o.kind() == "identifier" && drawn.contains(ctx.text(o)))
        });
        found |= releasing && on_drawn;
    });
    // A helper that says it closes them all (`orm.close_all_sessions()`,
    // `close_clients(CACHE)`) is taken at its word.
    own_code(body, &mut |n| {
        if n.kind() != "call" {
            return;
        }
        let name = n
            .child_by_field_name("function")
            .map(|f| match f.child_by_field_name("attribute") {
                Some(a) => ctx.text(a),
                None => ctx.text(f),
            })
            .unwrap_or("")
            .to_ascii_lowercase();
        found |= ctx
            .resources
            .vocabulary
            .releasing_words
            .iter()
            .any(|w| name.contains(w.as_str()));
    });
    found
}

/// What module-level code and class bodies open at import time: `x =
/// Client()`, the values of a literal container (`POOLS = {"a":
/// Client()}`), a class attribute (`class Services: _pool = Pool(...)`).
fn import_time_stores<'a>(ctx: &FileContext<'a>, root: Node<'a>, out: &mut Vec<GlobalStore<'a>>) {
    // The module's own statements, then each top-level class body's.
    let mut scopes: Vec<(Node<'a>, Option<&str>)> = vec![(root, None)];
    let mut cursor = root.walk();
    for stmt in root.named_children(&mut cursor) {
        if let (Some(name), Some(body)) = (
            stmt.child_by_field_name("name"),
            stmt.child_by_field_name("body"),
        ) {
            if stmt.kind() == "class_definition" {
                scopes.push((body, Some(ctx.text(name))));
            }
        }
    }
    let no_types = HashMap::new();
    for (body, class) in scopes {
        let mut cursor = body.walk();
        for stmt in body.named_children(&mut cursor) {
            let Some(a) = stmt
                .named_child(0)
                .filter(|a| stmt.kind() == "expression_statement" && a.kind() == "assignment")
            else {
                continue;
            };
            let (Some(l), Some(r)) = (
                a.child_by_field_name("left"),
                a.child_by_field_name("right"),
            ) else {
                continue;
            };
            if l.kind() != "identifier" {
                continue;
            }
            let attr = ctx.text(l).to_string();
            let name = match class {
                Some(c) => format!("{c}.{attr}"),
                None => attr.clone(),
            };
            // The values a literal container holds, or the value itself.
            let container = matches!(r.kind(), "dictionary" | "list" | "tuple" | "set");
            let mut values = Vec::new();
            let mut c = r.walk();
            match r.kind() {
                "dictionary" => values.extend(
                    r.named_children(&mut c)
                        .filter(|p| p.kind() == "pair")
                        .filter_map(|p| p.child_by_field_name("value")),
                ),
                _ if container => values.extend(r.named_children(&mut c)),
                _ => values.push(r),
            }
            for value in values {
                let Some((spec, call)) = ctx
                    .acquisition(value, &no_types, &no_types, None)
                    .filter(|(s, _)| s.kind != ResourceKind::Factory)
                else {
                    continue;
                };
                out.push(GlobalStore {
                    name: name.clone(),
                    key: attr.clone(),
                    spec,
                    call: Span::new(call.start_byte(), call.end_byte()),
                    container,
                    on_class: class.is_some(),
                    function: "<module>".to_string(),
                    rebinds_open: false,
                    module_level: true,
                });
            }
        }
    }
}

/// The stores of one function's own code.
fn stores_of<'a>(
    ctx: &FileContext<'a>,
    def: Node<'a>,
    class: Option<Node<'a>>,
    module_names: &HashSet<&str>,
    module_acquired: &HashSet<&str>,
    classes: &HashSet<&str>,
    out: &mut Vec<GlobalStore<'a>>,
) {
    let Some(body) = def.child_by_field_name("body") else {
        return;
    };
    let function = def
        .child_by_field_name("name")
        .map(|n| ctx.text(n).to_string())
        .unwrap_or_default();
    let mut declared: HashSet<&str> = HashSet::new();
    let mut locals: HashSet<&str> = HashSet::new();
    if let Some(params) = def.child_by_field_name("parameters") {
        preorder(params, |p| {
            if p.kind() == "identifier" {
                locals.insert(ctx.text(p));
            }
            !matches!(p.kind(), "default_parameter" | "typed_default_parameter") || p == params
        });
    }
    // What the function's own locals hold, when they hold a fresh resource.
    let mut held: HashMap<&str, (&'a ResourceSpec, Node<'a>)> = HashMap::new();
    let no_types = HashMap::new();
    let mut assignments = Vec::new();
    let mut appends = Vec::new();
    own_code(body, &mut |n| match n.kind() {
        "global_statement" => {
            let mut c = n.walk();
            for id in n
                .named_children(&mut c)
                .filter(|c| c.kind() == "identifier")
            {
                declared.insert(ctx.text(id));
            }
        }
        "assignment" | "augmented_assignment" => assignments.push(n),
        "call" => appends.push(n),
        _ => {}
    });
    for a in &assignments {
        if let Some(l) = a
            .child_by_field_name("left")
            .filter(|l| l.kind() == "identifier")
        {
            locals.insert(ctx.text(l));
        }
    }
    let acquired = |value: Node<'a>, held: &HashMap<&str, (&'a ResourceSpec, Node<'a>)>| {
        if value.kind() == "identifier" {
            return held.get(ctx.text(value)).copied();
        }
        ctx.acquisition(value, &no_types, &no_types, None)
            .filter(|(s, _)| s.kind != crate::resources::ResourceKind::Factory)
    };
    for a in &assignments {
        let (Some(left), Some(right)) = (
            a.child_by_field_name("left"),
            a.child_by_field_name("right"),
        ) else {
            continue;
        };
        let found = acquired(right, &held);
        if left.kind() == "identifier" {
            let name = ctx.text(left);
            if !declared.contains(name) {
                if let Some(f) = found {
                    held.insert(name, f);
                }
                continue;
            }
        }
        let Some((spec, call)) = found else { continue };
        let target = match left.kind() {
            "identifier" => Some((
                ctx.text(left).to_string(),
                ctx.text(left).to_string(),
                false,
                false,
            )),
            "subscript" => left
                .child_by_field_name("value")
                .filter(|v| v.kind() == "identifier")
                .map(|v| ctx.text(v))
                .filter(|v| {
                    module_names.contains(v) && (declared.contains(v) || !locals.contains(v))
                })
                .map(|v| (v.to_string(), v.to_string(), true, false)),
            "attribute" => {
                let object = left.child_by_field_name("object");
                let attr = left.child_by_field_name("attribute").map(|a| ctx.text(a));
                match (object, attr) {
                    (Some(o), Some(attr)) if o.kind() == "identifier" => {
                        let o = ctx.text(o);
                        let owner = if o == "cls" {
                            class.map(|c| ctx.text(c))
                        } else {
                            Some(o)
                        };
                        owner
                            .filter(|c| classes.contains(c) && (o == "cls" || !locals.contains(o)))
                            .map(|c| (format!("{c}.{attr}"), attr.to_string(), false, true))
                    }
                    _ => None,
                }
            }
            _ => None,
        };
        // What a test class's setUpClass/setup_method keeps is a test
        // lifecycle: LK105 judges it.
        let vocabulary = &ctx.resources.vocabulary;
        let test_setup = class.is_some()
            && (Vocabulary::has(&vocabulary.class_setup_methods, &function)
                || Vocabulary::has(&vocabulary.test_setup_methods, &function));
        if let Some((name, key, container, on_class)) = target.filter(|t| !(t.3 && test_setup)) {
            let rebinds_open = !container
                && !on_class
                && module_acquired.contains(name.as_str())
                && !releases_name(ctx, body, &name);
            out.push(GlobalStore {
                name,
                key,
                spec,
                call: Span::new(call.start_byte(), call.end_byte()),
                container,
                on_class,
                function: function.clone(),
                rebinds_open,
                module_level: false,
            });
        }
    }
    // `POOLS.append(pool)`, `CACHE.setdefault(key, Client())`.
    let vocabulary = &ctx.resources.vocabulary;
    for call in appends {
        let Some(f) = call
            .child_by_field_name("function")
            .filter(|f| f.kind() == "attribute")
        else {
            continue;
        };
        let (Some(obj), Some(method)) = (
            f.child_by_field_name("object"),
            f.child_by_field_name("attribute"),
        ) else {
            continue;
        };
        let container = ctx.text(obj);
        if obj.kind() != "identifier"
            || !module_names.contains(container)
            || (locals.contains(container) && !declared.contains(container))
            || !Vocabulary::has(&vocabulary.storing_methods, ctx.text(method))
        {
            continue;
        }
        let Some(args) = call.child_by_field_name("arguments") else {
            continue;
        };
        let mut c = args.walk();
        let values: Vec<Node> = args.named_children(&mut c).collect();
        for v in values {
            if let Some((spec, acq)) = acquired(v, &held) {
                out.push(GlobalStore {
                    name: container.to_string(),
                    key: container.to_string(),
                    spec,
                    call: Span::new(acq.start_byte(), acq.end_byte()),
                    container: true,
                    on_class: false,
                    function: function.clone(),
                    rebinds_open: false,
                    module_level: false,
                });
            }
        }
    }
}

/// Calls `visit` with every function definition under `node` and the
/// name of the class it is a method of (found going down: tree-sitter
/// answers `parent` by searching from the root).
fn walk_defs<'t>(
    node: Node<'t>,
    class: Option<Node<'t>>,
    visit: &mut impl FnMut(Node<'t>, Option<Node<'t>>),
) {
    let mut cursor = node.walk();
    let children: Vec<Node> = node.named_children(&mut cursor).collect();
    for child in children {
        match child.kind() {
            "function_definition" => {
                visit(child, class);
                walk_defs(child, None, visit);
            }
            "class_definition" => walk_defs(child, child.child_by_field_name("name"), visit),
            "decorated_definition" | "block" => walk_defs(child, class, visit),
            kind if crate::python::is_statement_container(kind) => walk_defs(child, None, visit),
            _ => {}
        }
    }
}

/// Calls `visit` on every node of a function body that runs as the
/// function's own code: not inside nested functions, classes or lambdas.
/// Whether a function's own code calls a release method on `name`
/// (`SESSION.close()`), or hands the bound method on
/// (`atexit.register(SESSION.close)`).
fn releases_name(ctx: &FileContext, body: Node, name: &str) -> bool {
    let releases = &ctx.resources.vocabulary.release_methods;
    let mut found = false;
    own_code(body, &mut |n| {
        if n.kind() == "attribute"
            && n.child_by_field_name("object")
                .is_some_and(|o| o.kind() == "identifier" && ctx.text(o) == name)
            && n.child_by_field_name("attribute")
                .is_some_and(|m| Vocabulary::has(releases, ctx.text(m)))
        {
            found = true;
        }
    });
    found
}

fn own_code<'t>(body: Node<'t>, visit: &mut impl FnMut(Node<'t>)) {
    preorder(body, |n| {
        if n != body
            && matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            )
        {
            return false;
        }
        visit(n);
        true
    });
}

/// Every name that code of the file releases: the roots of the receivers
/// of release methods (`x.close()`, `CACHE[k].close()`), of bound release
/// methods handed on (`atexit.register(x.close)`), of the arguments of
/// release helpers (`close_all(CACHE)`), and of `with`/`async with` items;
/// then, through loops, comprehensions and assignments, the names those
/// were drawn from (`for s in CACHE.values(): s.close()` releases `CACHE`).
/// Everything a function named as a closer (`close_all`, `shutdown`)
/// touches counts too.
fn released_names(ctx: &FileContext, root: Node) -> HashSet<String> {
    let vocabulary = &ctx.resources.vocabulary;
    let release_method = |m: &str| ctx.resources.is_release_method(m);
    let mut released: HashSet<String> = HashSet::new();
    // target name -> names its value was drawn from
    let mut drawn: Vec<(String, Vec<String>)> = Vec::new();
    preorder(root, |n| {
        match n.kind() {
            // `def close_all_sessions(): ...`: what a closer of the module
            // touches, it is there to close.
            "function_definition" => {
                let closer = n.child_by_field_name("name").is_some_and(|name| {
                    let name = ctx.text(name).to_ascii_lowercase();
                    Vocabulary::within(&vocabulary.releasing_words, &name)
                });
                if closer {
                    if let Some(body) = n.child_by_field_name("body") {
                        released.extend(roots(ctx, body));
                    }
                }
            }
            "call" => {
                let Some(f) = n.child_by_field_name("function") else {
                    return true;
                };
                if f.kind() == "attribute" {
                    let method = f
                        .child_by_field_name("attribute")
                        .map(|a| ctx.text(a))
                        .unwrap_or("");
                    if release_method(method) {
                        if let Some(o) = f.child_by_field_name("object") {
                            released.extend(roots(ctx, o));
                        }
                    }
                }
                let callee = ctx.text(f).to_ascii_lowercase();
                let helper = Vocabulary::within(&vocabulary.releasing_words, &callee)
                    || Vocabulary::ends(&vocabulary.releasing_wrappers, &callee);
                if let Some(args) = n.child_by_field_name("arguments") {
                    let mut c = args.walk();
                    for a in args.named_children(&mut c) {
                        let a = crate::python::argument_value(a);
                        let bound_release = a.kind() == "attribute"
                            && a.child_by_field_name("attribute")
                                .is_some_and(|m| release_method(ctx.text(m)));
                        if bound_release {
                            if let Some(o) = a.child_by_field_name("object") {
                                released.extend(roots(ctx, o));
                            }
                        } else if helper {
                            released.extend(roots(ctx, a));
                        }
                    }
                }
            }
            "with_item" => {
                if let Some(v) = n.child_by_field_name("value") {
                    released.extend(roots(ctx, v));
                }
            }
            "for_statement" | "for_in_clause" => {
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) {
                    let sources = roots(ctx, r);
                    for t in roots(ctx, l) {
                        drawn.push((t, sources.clone()));
                    }
                }
            }
            "assignment" => {
                if let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) {
                    let sources = roots(ctx, r);
                    for t in roots(ctx, l) {
                        drawn.push((t, sources.clone()));
                    }
                }
            }
            _ => {}
        }
        true
    });
    // Propagate releases back to where the released names came from.
    loop {
        let before = released.len();
        for (target, sources) in &drawn {
            if released.contains(target) {
                released.extend(sources.iter().cloned());
            }
        }
        if released.len() == before {
            break;
        }
    }
    released
}

/// The names an expression is made from: its identifiers, attribute names
/// included (`self._pool` gives `self` and `_pool`), calls' arguments
/// too (`list(CACHE.values())`), not inside lambdas.
fn roots(ctx: &FileContext, node: Node) -> Vec<String> {
    let mut out = Vec::new();
    preorder(node, |n| {
        match n.kind() {
            "identifier" => out.push(ctx.text(n).to_string()),
            "lambda" => return false,
            _ => {}
        }
        true
    });
    out
}
