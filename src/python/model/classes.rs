//! Classes: their methods and bases, and what their code does with the
//! resources it keeps on `self` (LK107's class bodies, LK109).

use std::cell::OnceCell;
use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use crate::diagnostic::Span;
use crate::python::context::FileContext;
use crate::python::lower::class_attributes;
use crate::python::{is_statement_container, preorder};
use crate::resources::{ResourceSpec, Vocabulary};

/// One class definition.
pub(crate) struct Class<'a> {
    /// Its name, when the parser found one.
    pub name: Option<String>,
    /// The names of the functions defined directly in its body.
    pub methods: Vec<String>,
    /// Those of `methods` that are `async def`.
    pub async_methods: Vec<String>,
    /// Defined at module level (not inside a function or another class):
    /// other modules can name it.
    pub top_level: bool,
    /// Those of `methods` whose body does nothing: a docstring, `pass`,
    /// `...`, a bare `return` (a hook for subclasses to override).
    pub empty_methods: Vec<String>,
    /// It has no `__init__` of its own, or its `__init__` calls a base's
    /// (`super().__init__(...)`): it makes what its bases make.
    pub inherits_init: bool,
    /// The text of its base list (`(Base, Mixin)`), when it names any.
    pub bases: Option<String>,
    /// Each base as its imports resolve it (`discord.ext.commands.Cog`),
    /// or as written when they do not.
    pub base_names: Vec<String>,
    pub(super) node: Node<'a>,
    body: OnceCell<ClassBody<'a>>,
}

/// What a class's code (its methods, nested code included) does with
/// `self` attributes.
#[derive(Debug, Default)]
pub(crate) struct ClassBody<'a> {
    /// `self.x = <acquisition>`, in document order (an attribute may be
    /// assigned more than once).
    pub acquisitions: Vec<SelfAcquisition<'a>>,
    /// Calls that involve a `self` attribute, in document order.
    pub uses: Vec<AttributeUse>,
    /// The resource type of each `self` attribute assigned an acquisition
    /// anywhere in the class (the last assignment wins).
    pub attribute_types: HashMap<String, &'a ResourceSpec>,
    /// `self.x = None`: the attribute, the method whose code does it, and
    /// where.
    pub dropped: Vec<(String, Option<String>, Span)>,
    /// `self.x.m(...)`: the attribute, `m`, and the method whose code
    /// calls it.
    pub calls_in: Vec<(String, String, Option<String>)>,
    /// `self.m(...)`: `m`, and the method whose code calls it.
    pub self_calls: Vec<(String, Option<String>)>,
    /// `return self.x.m(...)`: the attribute, `m`, and the method whose
    /// code returns it (a `close()` that hands back `session.close()`'s
    /// coroutine).
    pub returned_calls: Vec<(String, String, Option<String>)>,
    /// Attributes assigned a parameter of the method as it is
    /// (`self.conn = connection`): given by the caller, on some path.
    pub given: Vec<String>,
}

/// `self.attr = <call that acquires spec>`.
#[derive(Debug, Clone)]
pub(crate) struct SelfAcquisition<'a> {
    pub attribute: String,
    pub spec: &'a ResourceSpec,
    /// The acquiring call.
    pub call: Span,
    /// `conn` for `self.cur = self.conn.cursor()`: the `self` attribute
    /// the acquiring method is called on.
    pub from_attribute: Option<String>,
    /// The method of the class whose code assigns it (`setUp`), when it is
    /// in one.
    pub method: Option<String>,
    /// Assigned through `cls` (`cls.conn = ...` in a classmethod): a class
    /// attribute shared by every instance.
    pub on_class: bool,
}

/// A call involving `self.attr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AttributeUse {
    /// `self.attr.method(...)`.
    MethodCall { attribute: String, method: String },
    /// `callee(self.attr)` or `callee(self.attr.method)`, with the callee
    /// as written.
    PassedTo { attribute: String, callee: String },
}

impl<'a> Class<'a> {
    pub(super) fn body(&self, ctx: &FileContext<'a>) -> &ClassBody<'a> {
        self.body.get_or_init(|| body_of(ctx, self.node))
    }
}

/// Every class, found through statements only (classes are statements).
pub(super) fn collect<'a>(ctx: &FileContext<'a>) -> Vec<Class<'a>> {
    let mut out = Vec::new();
    preorder(ctx.module.tree.root_node(), |n| {
        if n.kind() == "class_definition" {
            out.push(describe(ctx, n));
        }
        is_statement_container(n.kind())
    });
    out
}

fn describe<'a>(ctx: &FileContext<'a>, class: Node<'a>) -> Class<'a> {
    let mut methods = Vec::new();
    let mut async_methods = Vec::new();
    let mut inherits_init = true;
    let mut empty_methods = Vec::new();
    // Methods whose whole body calls another method of `self`: (method,
    // callee).
    let mut delegating: Vec<(String, String)> = Vec::new();
    if let Some(body) = class.child_by_field_name("body") {
        let mut cursor = body.walk();
        for c in body.named_children(&mut cursor) {
            let def = if c.kind() == "decorated_definition" {
                c.child_by_field_name("definition")
            } else {
                Some(c)
            };
            if let Some(def) = def.filter(|d| d.kind() == "function_definition") {
                if let Some(name) = def.child_by_field_name("name") {
                    methods.push(ctx.text(name).to_string());
                    if def.child(0).is_some_and(|c| c.kind() == "async") {
                        async_methods.push(ctx.text(name).to_string());
                    }
                    match def.child_by_field_name("body") {
                        Some(b) if does_nothing(ctx, b) => {
                            empty_methods.push(ctx.text(name).to_string())
                        }
                        Some(b) => {
                            if let Some(callee) = only_self_call(ctx, b) {
                                delegating.push((ctx.text(name).to_string(), callee));
                            }
                        }
                        None => {}
                    }
                    if ctx.text(name) == "__init__" {
                        let text = ctx.text(def);
                        inherits_init = text.contains("super(") || text.contains(".__init__(");
                    }
                }
            }
        }
    }
    // `def __exit__(self, *a): self.close()` over a `close` that does
    // nothing does nothing either (when a subclass overrides `close`, it
    // has a release method of its own).
    while let Some(i) = delegating
        .iter()
        .position(|(_, callee)| empty_methods.contains(callee))
    {
        empty_methods.push(delegating.swap_remove(i).0);
    }
    let top_level = class.parent().is_some_and(|p| match p.kind() {
        "module" => true,
        "decorated_definition" => p.parent().is_some_and(|g| g.kind() == "module"),
        _ => false,
    });
    let superclasses = class
        .child_by_field_name("superclasses")
        .filter(|s| s.named_child_count() > 0);
    let bases = superclasses.map(|s| ctx.text(s).to_string());
    let mut base_names = Vec::new();
    if let Some(list) = superclasses {
        let mut cursor = list.walk();
        for b in list.named_children(&mut cursor) {
            if b.kind() == "keyword_argument" {
                continue;
            }
            base_names.push(ctx.base_name(b));
        }
    }
    Class {
        name: class
            .child_by_field_name("name")
            .map(|n| ctx.text(n).to_string()),
        methods,
        async_methods,
        top_level,
        inherits_init,
        empty_methods,
        bases,
        base_names,
        node: class,
        body: OnceCell::new(),
    }
}

fn body_of<'a>(ctx: &FileContext<'a>, class: Node<'a>) -> ClassBody<'a> {
    let attrs = class_attributes(ctx, class);
    let attribute_types = attrs
        .iter()
        .filter_map(|(a, t)| Some((a.clone(), ctx.spec(t)?)))
        .collect();
    let mut out = ClassBody {
        attribute_types,
        ..ClassBody::default()
    };
    let no_locals = HashMap::new();
    let methods = method_spans(ctx, class);
    // `self._new_session()`: the class's own methods' summaries count.
    let class_name = class
        .child_by_field_name("name")
        .map(|n| ctx.text(n).to_string());
    let method_at = |at: usize| {
        methods
            .iter()
            .find(|(_, start, end, _)| *start <= at && at < *end)
            .map(|(name, _, _, _)| name.clone())
    };
    let mut aliases: Vec<(String, String, Option<String>)> = Vec::new();
    let properties = property_methods(ctx, class);
    // `@property def session(self): ... return self._session`: a use of
    // `self.session` is a use of `self._session`.
    let mut property_returns: HashMap<String, String> = HashMap::new();
    preorder(class, |n| {
        match n.kind() {
            "return_statement" => {
                if let (Some(attribute), Some(method)) = (
                    n.named_child(0).and_then(|r| self_attribute(ctx, r)),
                    method_at(n.start_byte()).filter(|m| properties.contains(m)),
                ) {
                    property_returns.insert(method, attribute);
                }
                let call = n.named_child(0).filter(|c| c.kind() == "call");
                let callee = call
                    .and_then(|c| c.child_by_field_name("function"))
                    .filter(|f| f.kind() == "attribute");
                if let Some(f) = callee {
                    if let (Some(attribute), Some(m)) = (
                        f.child_by_field_name("object")
                            .and_then(|o| self_attribute(ctx, o)),
                        f.child_by_field_name("attribute"),
                    ) {
                        out.returned_calls.push((
                            attribute,
                            ctx.text(m).to_string(),
                            method_at(n.start_byte()),
                        ));
                    }
                }
            }
            "assignment" => {
                let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) else {
                    return true;
                };
                // `conn = self.conn`: calls on `conn` in this method are
                // calls on the attribute.
                if l.kind() == "identifier" {
                    if let Some(attribute) = self_attribute(ctx, r) {
                        aliases.push((
                            ctx.text(l).to_string(),
                            attribute,
                            method_at(n.start_byte()),
                        ));
                    }
                    return true;
                }
                let Some(attribute) = self_attribute(ctx, l) else {
                    return true;
                };
                if r.kind() == "identifier" {
                    let at = n.start_byte();
                    let given = methods.iter().any(|(_, start, end, params)| {
                        *start <= at && at < *end && params.iter().any(|p| p == ctx.text(r))
                    });
                    if given {
                        out.given.push(attribute.clone());
                    }
                }
                let on_class = l
                    .child_by_field_name("object")
                    .is_some_and(|o| ctx.text(o) == "cls");
                if r.kind() == "none" {
                    out.dropped.push((
                        attribute.clone(),
                        method_at(n.start_byte()),
                        Span::new(n.start_byte(), n.end_byte()),
                    ));
                }
                if let Some((spec, call)) =
                    ctx.acquisition(r, &no_locals, &attrs, class_name.as_deref())
                {
                    let from_attribute = call
                        .child_by_field_name("function")
                        .and_then(|f| f.child_by_field_name("object"))
                        .and_then(|o| self_attribute(ctx, o));
                    let at = n.start_byte();
                    let method = methods
                        .iter()
                        .find(|(_, start, end, _)| *start <= at && at < *end)
                        .map(|(name, _, _, _)| name.clone());
                    out.acquisitions.push(SelfAcquisition {
                        attribute,
                        spec,
                        call: Span::new(call.start_byte(), call.end_byte()),
                        from_attribute,
                        method,
                        on_class,
                    });
                }
            }
            "call" => {
                let Some(f) = n.child_by_field_name("function") else {
                    return true;
                };
                if f.kind() == "attribute" {
                    let here = method_at(n.start_byte());
                    let aliased = f
                        .child_by_field_name("object")
                        .filter(|o| o.kind() == "identifier")
                        .and_then(|o| {
                            aliases
                                .iter()
                                .rev()
                                .find(|(local, _, m)| local == ctx.text(o) && *m == here)
                        });
                    if let (Some((_, attribute, _)), Some(m)) =
                        (aliased, f.child_by_field_name("attribute"))
                    {
                        out.calls_in.push((
                            attribute.clone(),
                            ctx.text(m).to_string(),
                            here.clone(),
                        ));
                    }
                    if f.child_by_field_name("object")
                        .is_some_and(|o| o.kind() == "identifier" && ctx.text(o) == "self")
                    {
                        if let Some(m) = f.child_by_field_name("attribute") {
                            out.self_calls
                                .push((ctx.text(m).to_string(), method_at(n.start_byte())));
                        }
                    }
                    if let Some(attribute) = f
                        .child_by_field_name("object")
                        .and_then(|o| self_attribute(ctx, o))
                    {
                        let method = f
                            .child_by_field_name("attribute")
                            .map(|a| ctx.text(a))
                            .unwrap_or("");
                        out.calls_in.push((
                            attribute.clone(),
                            method.to_string(),
                            method_at(n.start_byte()),
                        ));
                        out.uses.push(AttributeUse::MethodCall {
                            attribute,
                            method: method.to_string(),
                        });
                    }
                }
                if let Some(args) = n.child_by_field_name("arguments") {
                    let mut cursor = args.walk();
                    for a in args.named_children(&mut cursor) {
                        // `self.x.close` hands on `self.x`'s bound method.
                        let target = match a.child_by_field_name("object") {
                            Some(o) if a.kind() == "attribute" && o.kind() == "attribute" => o,
                            _ => a,
                        };
                        if let Some(attribute) = self_attribute(ctx, target) {
                            out.uses.push(AttributeUse::PassedTo {
                                attribute,
                                callee: ctx.text(f).to_string(),
                            });
                        }
                    }
                }
            }
            _ => {}
        }
        true
    });
    let through_properties: Vec<AttributeUse> =
        out.uses
            .iter()
            .filter_map(|u| match u {
                AttributeUse::MethodCall { attribute, method } => property_returns
                    .get(attribute)
                    .map(|a| AttributeUse::MethodCall {
                        attribute: a.clone(),
                        method: method.clone(),
                    }),
                AttributeUse::PassedTo { attribute, callee } => property_returns
                    .get(attribute)
                    .map(|a| AttributeUse::PassedTo {
                        attribute: a.clone(),
                        callee: callee.clone(),
                    }),
            })
            .collect();
    out.uses.extend(through_properties);
    out
}

/// The names of the methods of a class body decorated as properties
/// (`@property`, the vocabulary's `property-decorators`).
fn property_methods(ctx: &FileContext, class: Node) -> HashSet<String> {
    let mut out = HashSet::new();
    let Some(body) = class.child_by_field_name("body") else {
        return out;
    };
    let words = &ctx.resources.vocabulary.property_decorators;
    let mut cursor = body.walk();
    for c in body
        .named_children(&mut cursor)
        .filter(|c| c.kind() == "decorated_definition")
    {
        let mut dc = c.walk();
        let is_property = c.named_children(&mut dc).any(|d| {
            d.kind() == "decorator"
                && Vocabulary::ends(words, ctx.text(d).trim_start_matches('@').trim())
        });
        let name = c
            .child_by_field_name("definition")
            .and_then(|d| d.child_by_field_name("name"));
        if let Some(name) = name.filter(|_| is_property) {
            out.insert(ctx.text(name).to_string());
        }
    }
    out
}

/// The methods defined directly in a class body, with their byte ranges
/// and parameter names.
fn method_spans(ctx: &FileContext, class: Node) -> Vec<(String, usize, usize, Vec<String>)> {
    let mut out = Vec::new();
    let Some(body) = class.child_by_field_name("body") else {
        return out;
    };
    let mut cursor = body.walk();
    for c in body.named_children(&mut cursor) {
        let def = match c.kind() {
            "decorated_definition" => c.child_by_field_name("definition"),
            _ => Some(c),
        };
        if let Some(def) = def.filter(|d| d.kind() == "function_definition") {
            if let Some(name) = def.child_by_field_name("name") {
                let mut params = Vec::new();
                if let Some(list) = def.child_by_field_name("parameters") {
                    let mut c = list.walk();
                    for p in list.named_children(&mut c) {
                        let name = match p.kind() {
                            "identifier" => Some(p),
                            "typed_parameter" => p.named_child(0),
                            _ => p.child_by_field_name("name"),
                        };
                        if let Some(n) = name.filter(|n| n.kind() == "identifier") {
                            params.push(ctx.text(n).to_string());
                        }
                    }
                }
                out.push((
                    ctx.text(name).to_string(),
                    c.start_byte(),
                    c.end_byte(),
                    params,
                ));
            }
        }
    }
    out
}

/// A block of only a docstring, `pass`, `...` and bare `return`s.
fn does_nothing(ctx: &FileContext, block: Node) -> bool {
    let mut cursor = block.walk();
    let all = block
        .named_children(&mut cursor)
        .all(|stmt| match stmt.kind() {
            "pass_statement" | "comment" => true,
            "return_statement" => stmt.named_child(0).is_none_or(|v| ctx.text(v) == "None"),
            "expression_statement" => stmt
                .named_child(0)
                .is_some_and(|e| matches!(e.kind(), "string" | "ellipsis")),
            _ => false,
        });
    all
}

/// The method `m` when `block` does nothing but call `self.m()` (or
/// await or return that call), a docstring aside.
fn only_self_call(ctx: &FileContext, block: Node) -> Option<String> {
    let mut cursor = block.walk();
    let mut calls = block.named_children(&mut cursor).filter(|stmt| {
        !(stmt.kind() == "comment"
            || stmt.kind() == "pass_statement"
            || stmt.kind() == "expression_statement"
                && stmt.named_child(0).is_some_and(|e| e.kind() == "string"))
    });
    let stmt = calls.next()?;
    if calls.next().is_some() || !matches!(stmt.kind(), "expression_statement" | "return_statement")
    {
        return None;
    }
    let mut value = stmt.named_child(0)?;
    if value.kind() == "await" {
        value = value.named_child(0)?;
    }
    let callee = value
        .child_by_field_name("function")
        .filter(|_| value.kind() == "call")?;
    let object = callee
        .child_by_field_name("object")
        .filter(|_| callee.kind() == "attribute")?;
    let method = callee.child_by_field_name("attribute")?;
    (ctx.text(object) == "self").then(|| ctx.text(method).to_string())
}

impl Class<'_> {
    /// Each base as a qualified key: resolved through the imports, a
    /// class of this module (`module.Base`), or, for a bare name the
    /// imports do not bind, one per star-imported module (`from ._utils
    /// import *`).
    pub(crate) fn base_keys(&self, ctx: &FileContext) -> Vec<String> {
        ctx.base_keys(&self.base_names)
    }
}

/// `x` for a `self.x` (or, in a classmethod, `cls.x`) expression.
fn self_attribute(ctx: &FileContext, node: Node) -> Option<String> {
    if node.kind() != "attribute" {
        return None;
    }
    let object = node.child_by_field_name("object")?;
    if object.kind() != "identifier" || !matches!(ctx.text(object), "self" | "cls") {
        return None;
    }
    Some(ctx.text(node.child_by_field_name("attribute")?).to_string())
}
