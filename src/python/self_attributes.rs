//! The `self.x = …` assignments of every class of a file, found in one
//! walk over its statements.
//!
//! Why a separate pass: the types of a class's attributes are asked for
//! once per round of lowering, by the model and by the owner inference;
//! walking each class's whole syntax tree every time cost a sixth of a
//! run. Assignments are statements, so this walk visits statements only
//! (and error nodes, where recovery may have put some), never the
//! expressions inside them; the types themselves are still worked out by
//! each asker, since they depend on what the project's summaries say.

use std::collections::HashMap;

use tree_sitter::Node;

use super::may_hold_statements;

/// One `self.<attribute> = <right>` (or `self.<attribute>: T = <right>`).
#[derive(Debug, Clone, Copy)]
pub struct SelfAssignment<'t> {
    pub assignment: Node<'t>,
    /// The `<attribute>` identifier.
    pub attribute: Node<'t>,
    /// The method of this class it is written in, when it is one of the
    /// class's own (a `def` directly in its body) and no nested class lies
    /// between: its typed parameters may give the attribute a type.
    pub method: Option<Node<'t>>,
}

/// Class node id → its self-assignments in document order, nested
/// functions and nested classes included (an assignment inside a nested
/// class is listed for each class around it, with no `method` for the
/// outer ones).
pub type SelfAssignments<'t> = HashMap<usize, Vec<SelfAssignment<'t>>>;

struct Frame<'t> {
    class: Node<'t>,
    method: Option<Node<'t>>,
}

/// Every class's self-assignments under `root`.
pub fn self_assignments<'t>(root: Node<'t>, text: &str) -> SelfAssignments<'t> {
    let mut out = SelfAssignments::new();
    let mut frames = Vec::new();
    walk(root, text, false, &mut frames, &mut out);
    out
}

/// Walks the statements under `node`; `class_body`: `node` is the body of
/// the innermost class in `frames`, so a `def` met here is one of its
/// methods.
fn walk<'t>(
    node: Node<'t>,
    text: &str,
    class_body: bool,
    frames: &mut Vec<Frame<'t>>,
    out: &mut SelfAssignments<'t>,
) {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        match child.kind() {
            "class_definition" => {
                frames.push(Frame {
                    class: child,
                    method: None,
                });
                out.entry(child.id()).or_default();
                if let Some(body) = child.child_by_field_name("body") {
                    walk(body, text, true, frames, out);
                }
                frames.pop();
            }
            "function_definition" => {
                let own_method = class_body && frames.last().is_some_and(|f| f.method.is_none());
                if own_method {
                    if let Some(f) = frames.last_mut() {
                        f.method = Some(child);
                    }
                }
                walk(child, text, false, frames, out);
                if own_method {
                    if let Some(f) = frames.last_mut() {
                        f.method = None;
                    }
                }
            }
            // A decorated method is still one of the class's own.
            "decorated_definition" => walk(child, text, class_body, frames, out),
            "expression_statement" => {
                let mut c = child.walk();
                for expr in child.named_children(&mut c) {
                    assignments(expr, text, frames, out);
                }
            }
            kind if may_hold_statements(kind) => walk(child, text, false, frames, out),
            _ => {}
        }
    }
}

/// Records `expr` if it is a self-assignment, and the assignments chained
/// to its right (`self.a = self.b = x`).
fn assignments<'t>(
    mut expr: Node<'t>,
    text: &str,
    frames: &[Frame<'t>],
    out: &mut SelfAssignments<'t>,
) {
    while expr.kind() == "assignment" {
        let attribute = expr
            .child_by_field_name("left")
            .filter(|l| l.kind() == "attribute")
            .filter(|l| {
                l.child_by_field_name("object")
                    .is_some_and(|o| &text[o.byte_range()] == "self")
            })
            .and_then(|l| l.child_by_field_name("attribute"));
        if let Some(attribute) = attribute {
            let innermost = frames.len().saturating_sub(1);
            for (i, frame) in frames.iter().enumerate() {
                out.entry(frame.class.id())
                    .or_default()
                    .push(SelfAssignment {
                        assignment: expr,
                        attribute,
                        method: if i == innermost { frame.method } else { None },
                    });
            }
        }
        match expr.child_by_field_name("right") {
            Some(right) => expr = right,
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::python::PyModule;

    fn names(src: &str, class: &str) -> Vec<(String, Option<String>)> {
        let module = PyModule::parse(src);
        let found = self_assignments(module.tree.root_node(), src);
        let mut out = Vec::new();
        crate::python::preorder(module.tree.root_node(), |n| {
            if n.kind() == "class_definition"
                && n.child_by_field_name("name")
                    .is_some_and(|m| module.node_text(m) == class)
            {
                for a in &found[&n.id()] {
                    let method = a.method.and_then(|m| m.child_by_field_name("name"));
                    out.push((
                        module.node_text(a.attribute).to_string(),
                        method.map(|m| module.node_text(m).to_string()),
                    ));
                }
            }
            true
        });
        out
    }

    fn pair(a: &str, m: Option<&str>) -> (String, Option<String>) {
        (a.to_string(), m.map(str::to_string))
    }

    #[test]
    fn methods_nested_functions_branches_and_chains() {
        let src = "class C:\n    x = 1\n    def __init__(self, pool):\n        self.a = pool\n        if pool:\n            self.b = self.c = None\n        def inner():\n            self.d = 1\n    @property\n    def p(self):\n        try:\n            self.e: int = 2\n        except E:\n            pass\n    if FLAG:\n        def q(self):\n            self.f = 3\n    def r(other):\n        other.g = 4\n        x = self.h\n";
        assert_eq!(
            names(src, "C"),
            vec![
                pair("a", Some("__init__")),
                pair("b", Some("__init__")),
                pair("c", Some("__init__")),
                pair("d", Some("__init__")),
                pair("e", Some("p")),
                pair("f", None),
            ]
        );
    }

    #[test]
    fn a_nested_class_counts_for_both_but_is_a_method_of_its_own_only() {
        let src = "class Outer:\n    def m(self):\n        class Inner:\n            def n(self):\n                self.x = 1\n        self.y = 2\n";
        assert_eq!(
            names(src, "Outer"),
            vec![pair("x", None), pair("y", Some("m"))]
        );
        assert_eq!(names(src, "Inner"), vec![pair("x", Some("n"))]);
    }

    #[test]
    fn functions_outside_classes_record_nothing() {
        let src = "def f(self):\n    self.x = 1\nclass Empty:\n    pass\n";
        assert_eq!(names(src, "Empty"), vec![]);
    }
}
