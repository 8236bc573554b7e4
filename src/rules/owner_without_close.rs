crate::declare_rule! {
    /// ## What it does
    /// Finds a class that acquires a session, connection, cursor or
    /// transaction (not an engine, pool or shared client, which are
    /// long-lived by design) and stores it on `self`
    /// (`self.conn = psycopg2.connect(...)`, `self.session =
    /// SessionLocal()`) but has no method that could release it:
    /// no `close`, `aclose`, `__exit__`, `__aexit__`, `__del__`, `dispose`,
    /// `shutdown`, `stop`, `disconnect`..., and no code that releases that
    /// attribute.
    ///
    /// ## Why is this bad?
    /// Whoever uses the object has no way to give the connection back:
    /// every instance holds one until the process ends. Services,
    /// repositories and test helpers built this way are how connection
    /// counts climb "for no reason".
    ///
    /// ## Example
    /// ```python
    /// class UserRepository:
    ///     def __init__(self, dsn):
    ///         self.conn = psycopg2.connect(dsn)
    /// ```
    ///
    /// ## Use instead
    /// ```python
    /// class UserRepository:
    ///     def __init__(self, dsn):
    ///         self.conn = psycopg2.connect(dsn)
    ///
    ///     def close(self):
    ///         self.conn.close()
    ///
    ///     def __enter__(self):
    ///         return self
    ///
    ///     def __exit__(self, *exc):
    ///         self.close()
    /// ```
    pub static OWNER_WITHOUT_CLOSE = {
        code: "LK109",
        name: "owner-without-close",
        language: Python,
        severity: Error,
        fix: None,
        summary: "A class stores a resource it acquired on self but has no method that releases it.",
    }
}

use std::collections::HashMap;

use tree_sitter::Node;

use crate::diagnostic::{Finding, Span};
use crate::python::context::FileContext;
use crate::python::lower::class_attributes;
use crate::python::preorder;
use crate::resources::{ResourceKind, Vocabulary};

pub fn check(ctx: &FileContext) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut classes = Vec::new();
    // Classes are statements: only statement containers are walked.
    preorder(ctx.module.tree.root_node(), |n| {
        if n.kind() == "class_definition" {
            classes.push(n);
        }
        crate::python::is_statement_container(n.kind())
    });
    for class in classes {
        check_class(ctx, class, &mut out);
    }
    out
}

fn own_methods<'t>(class: Node<'t>) -> Vec<Node<'t>> {
    let Some(body) = class.child_by_field_name("body") else {
        return Vec::new();
    };
    let mut cursor = body.walk();
    body.named_children(&mut cursor)
        .filter_map(|c| {
            if c.kind() == "decorated_definition" {
                c.child_by_field_name("definition")
            } else {
                Some(c)
            }
        })
        .filter(|c| c.kind() == "function_definition")
        .collect()
}

fn check_class(ctx: &FileContext, class: Node, out: &mut Vec<Finding>) {
    let methods = own_methods(class);
    let names: Vec<&str> = methods
        .iter()
        .filter_map(|m| m.child_by_field_name("name"))
        .map(|n| ctx.text(n))
        .collect();
    let vocabulary = &ctx.resources.vocabulary;
    if names
        .iter()
        .any(|n| Vocabulary::has(&vocabulary.releaser_methods, n))
    {
        return;
    }
    // A class that inherits may get its releaser from a base class.
    if class
        .child_by_field_name("superclasses")
        .is_some_and(|s| s.named_child_count() > 0)
    {
        let bases = ctx.text(class.child_by_field_name("superclasses").unwrap());
        if bases.trim_matches(['(', ')', ' ']) != "object" {
            return;
        }
    }
    let attrs = class_attributes(ctx, class);
    let mut acquired: HashMap<String, (Span, String, Option<String>)> = HashMap::new();
    let mut released: Vec<String> = Vec::new();
    preorder(class, |n| {
        match n.kind() {
            "assignment" => {
                let (Some(l), Some(r)) = (
                    n.child_by_field_name("left"),
                    n.child_by_field_name("right"),
                ) else {
                    return true;
                };
                let Some(attr) = self_attribute(ctx, l) else {
                    return true;
                };
                if let Some((spec, call)) = ctx.acquisition(r, &HashMap::new(), &attrs, None) {
                    let parent = call
                        .child_by_field_name("function")
                        .and_then(|f| f.child_by_field_name("object"))
                        .and_then(|o| self_attribute(ctx, o));
                    // Engines, pools and clients on an application object
                    // are long-lived by design.
                    if spec.kind != ResourceKind::Factory && !spec.long_lived {
                        acquired.entry(attr).or_insert((
                            Span::new(call.start_byte(), call.end_byte()),
                            spec.type_name.clone(),
                            parent,
                        ));
                    }
                }
            }
            "call" => {
                let Some(f) = n.child_by_field_name("function") else {
                    return true;
                };
                // self.x.close(), self.x.dispose()...
                if f.kind() == "attribute" {
                    let method = f
                        .child_by_field_name("attribute")
                        .map(|a| ctx.text(a))
                        .unwrap_or("");
                    if let Some(attr) = f
                        .child_by_field_name("object")
                        .and_then(|o| self_attribute(ctx, o))
                    {
                        if Vocabulary::has(&ctx.resources.vocabulary.release_methods, method)
                            || ctx.spec_releases(&attr, &attrs, method)
                        {
                            released.push(attr);
                        }
                    }
                }
                // closing(self.x), stack.enter_context(self.x), atexit.register(self.x.close)
                if let Some(args) = n.child_by_field_name("arguments") {
                    let mut cursor = args.walk();
                    for a in args.named_children(&mut cursor) {
                        let target = if a.kind() == "attribute"
                            && a.child_by_field_name("object")
                                .is_some_and(|o| o.kind() == "attribute")
                        {
                            a.child_by_field_name("object").unwrap()
                        } else {
                            a
                        };
                        if let Some(attr) = self_attribute(ctx, target) {
                            let callee = ctx.text(f);
                            if Vocabulary::ends(&vocabulary.releasing_wrappers, callee) {
                                released.push(attr);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        true
    });
    let class_name = class
        .child_by_field_name("name")
        .map(|n| ctx.text(n))
        .unwrap_or("?");
    let mut acquired: Vec<_> = acquired
        .into_iter()
        .filter(|(a, _)| !released.contains(a))
        .collect();
    // `self.cur = self.conn.cursor()`: part of the connection's story.
    let reported: Vec<String> = acquired.iter().map(|(a, _)| a.clone()).collect();
    acquired.retain(|(_, (_, _, parent))| parent.as_ref().is_none_or(|p| !reported.contains(p)));
    acquired.sort_by_key(|(_, (span, _, _))| *span);
    for (attr, (span, type_name, _)) in acquired {
        out.push(OWNER_WITHOUT_CLOSE.finding(
            span,
            format!("`{class_name}` keeps `self.{attr}` ({type_name}) but has no method that releases it"),
            format!(
                "Add `def close(self): self.{attr}.close()` (and `__enter__`/`__exit__` so callers can use `with`), \
                 or release it where the object's life ends."
            ),
        ));
    }
}

/// `x` for a `self.x` expression.
fn self_attribute(ctx: &FileContext, node: Node) -> Option<String> {
    if node.kind() != "attribute" {
        return None;
    }
    let object = node.child_by_field_name("object")?;
    if object.kind() != "identifier" || ctx.text(object) != "self" {
        return None;
    }
    Some(ctx.text(node.child_by_field_name("attribute")?).to_string())
}
