//! Each class of a file by name: its base expressions and the names of
//! the methods it defines, found in one walk over the file's statements.
//!
//! Why: `self.m()` in a class that does not define `m` runs the method
//! of a base class, often one in another module of the project (a
//! `Base.get_conn()` or `Base.throttle(f)` helper that every subclass
//! calls). Resolving such a call needs to know which methods the class
//! defines itself and what its bases are, for every method lowered, so
//! the answer is found once per file.

use std::collections::HashMap;

use tree_sitter::Node;

use super::may_hold_statements;

/// What a class's `self.m()` calls need to know about it.
#[derive(Debug, Clone, Default)]
pub struct ClassShape<'t> {
    /// The base expressions, keyword arguments (`metaclass=`) left out.
    pub bases: Vec<Node<'t>>,
    /// The names of the functions defined directly in its body.
    pub methods: Vec<String>,
}

/// Class name → its shape. Two classes of one file with the same name
/// (one nested, or redefined) are merged: a method either defines
/// counts as defined, which can only keep a call from being resolved.
pub fn class_shapes<'t>(root: Node<'t>, text: &str) -> HashMap<String, ClassShape<'t>> {
    let mut out = HashMap::new();
    walk(root, text, &mut out);
    out
}

fn walk<'t>(node: Node<'t>, text: &str, out: &mut HashMap<String, ClassShape<'t>>) {
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        if child.kind() == "class_definition" {
            record(child, text, out);
        }
        if may_hold_statements(child.kind()) {
            walk(child, text, out);
        }
    }
}

fn record<'t>(class: Node<'t>, text: &str, out: &mut HashMap<String, ClassShape<'t>>) {
    let Some(name) = class.child_by_field_name("name") else {
        return;
    };
    let shape = out.entry(text[name.byte_range()].to_string()).or_default();
    if let Some(list) = class.child_by_field_name("superclasses") {
        let mut cursor = list.walk();
        shape.bases.extend(
            list.named_children(&mut cursor)
                .filter(|b| !matches!(b.kind(), "keyword_argument" | "comment")),
        );
    }
    let Some(body) = class.child_by_field_name("body") else {
        return;
    };
    let mut cursor = body.walk();
    for item in body.named_children(&mut cursor) {
        let def = match item.kind() {
            "decorated_definition" => item.child_by_field_name("definition"),
            _ => Some(item),
        };
        if let Some(n) = def
            .filter(|d| d.kind() == "function_definition")
            .and_then(|d| d.child_by_field_name("name"))
        {
            shape.methods.push(text[n.byte_range()].to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(src: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_python::LANGUAGE.into())
            .unwrap();
        let tree = parser.parse(src, None).unwrap();
        let mut out: Vec<_> = class_shapes(tree.root_node(), src)
            .into_iter()
            .map(|(name, s)| {
                let bases = s.bases.iter().map(|b| src[b.byte_range()].to_string());
                (name, bases.collect(), s.methods)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn bases_and_own_methods() {
        let src = "class A(base.Base, Mixin, metaclass=M):\n    x = 1\n    def run(self):\n        def inner(): pass\n    @property\n    def p(self): pass\n\nif True:\n    class B:\n        async def go(self): pass\n";
        assert_eq!(
            shapes(src),
            vec![
                (
                    "A".to_string(),
                    vec!["base.Base".to_string(), "Mixin".to_string()],
                    vec!["run".to_string(), "p".to_string()]
                ),
                ("B".to_string(), vec![], vec!["go".to_string()]),
            ]
        );
    }
}
