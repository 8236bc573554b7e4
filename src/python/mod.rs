//! The Python front end: tree-sitter-python parsing, syntax errors, name
//! resolution through imports, lowering to the IR, and the semantic
//! [`model`] that the syntactic rules read instead of the syntax tree.

pub(crate) mod analyse;
pub(crate) mod class_shapes;
pub(crate) mod context;
pub(crate) mod fstrings;
pub(crate) mod lower;
pub(crate) mod model;
pub(crate) mod names;
pub(crate) mod owners;
pub(crate) mod rewrite;
pub(crate) mod self_attributes;
pub(crate) mod wanted_callees;

use tree_sitter::{Node, Parser, Tree};

use crate::diagnostic::Span;

pub use lower::lower_file;
pub use names::ImportMap;

/// A parsed Python file with what rules need to ask about names.
pub struct PyModule<'a> {
    pub text: &'a str,
    pub tree: Tree,
    pub imports: ImportMap,
    /// The file nests more indentation levels than Python allows (see
    /// [`MAX_INDENT_LEVELS`]): it was not parsed, and `tree` is empty.
    pub refused_indentation: Option<usize>,
    /// An indentation error that tree-sitter's parser tolerates and
    /// CPython does not (see [`scan_indentation`]).
    pub indentation_error: Option<(usize, &'static str)>,
}

/// The most nested indentation levels CPython accepts: one more is "too
/// many levels of indentation" (its tokenizer's `MAXINDENT` is 100, checked
/// by compiling such files). tree-sitter-python's scanner keeps the
/// indentation stack in a fixed buffer and aborts the whole process a few
/// hundred levels deeper, so such files are refused before parsing.
pub const MAX_INDENT_LEVELS: usize = 99;

/// What Python's tokenizer would make of a file's indentation, read from
/// the bytes in one pass (see [`scan_indentation`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Indentation {
    /// The deepest stack of indentation levels.
    pub depth: usize,
    /// The first indentation error CPython reports and tree-sitter's
    /// lenient parser accepts: where, and what.
    pub error: Option<(usize, &'static str)>,
}

/// Reads the indentation of the file's logical lines as CPython's
/// tokenizer does. Lines inside brackets, strings, or after a backslash
/// continuation start no logical line; blank and comment-only lines
/// neither. A tab advances the column to the next multiple of 8, and
/// counts as one column in a second measure that must order the lines
/// the same way (else `TabError`, as CPython checks). Lines end at `\n`,
/// `\r\n` or a lone `\r`.
pub fn scan_indentation(text: &str) -> Indentation {
    let b = text.as_bytes();
    // (column, column counting a tab as one) of each open level.
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    let mut out = Indentation::default();
    let fail = |out: &mut Indentation, at: usize, what: &'static str| {
        if out.error.is_none() {
            out.error = Some((at, what));
        }
    };
    let mut i = 0;
    let mut brackets = 0usize;
    // The open string's quote byte, and whether it is triple-quoted.
    let mut quote: Option<(u8, bool)> = None;
    let mut line_start = true;
    let mut continued = false;
    // The last logical line ended with `:`: a block must follow.
    let mut opens_block = false;
    // The last byte of code (not a comment or blank) on the logical line.
    let mut last_code = b'\n';
    let is_newline = |i: usize| b[i] == b'\n' || (b[i] == b'\r' && b.get(i + 1) != Some(&b'\n'));
    while i < b.len() {
        if line_start && brackets == 0 && quote.is_none() && !continued {
            let (mut col, mut alt, mut j) = (0usize, 0usize, i);
            while j < b.len() && matches!(b[j], b' ' | b'\t' | 0x0c) {
                (col, alt) = match b[j] {
                    b'\t' => ((col / 8 + 1) * 8, alt + 1),
                    b' ' => (col + 1, alt + 1),
                    _ => (0, 0),
                };
                j += 1;
            }
            let blank = j >= b.len() || matches!(b[j], b'\n' | b'\r' | b'#');
            if !blank {
                let (top, top_alt) = stack[stack.len() - 1];
                if col > top {
                    if !opens_block {
                        fail(&mut out, j, "unexpected indent");
                    }
                    if alt <= top_alt {
                        fail(
                            &mut out,
                            j,
                            "inconsistent use of tabs and spaces in indentation (TabError)",
                        );
                    }
                    stack.push((col, alt));
                } else {
                    if opens_block {
                        fail(&mut out, j, "expected an indented block");
                    }
                    while stack.len() > 1 && col < stack[stack.len() - 1].0 {
                        stack.pop();
                    }
                    let (top, top_alt) = stack[stack.len() - 1];
                    if col != top {
                        fail(
                            &mut out,
                            j,
                            "unindent does not match any outer indentation level",
                        );
                    } else if alt != top_alt {
                        fail(
                            &mut out,
                            j,
                            "inconsistent use of tabs and spaces in indentation (TabError)",
                        );
                    }
                }
                out.depth = out.depth.max(stack.len() - 1);
                opens_block = false;
            }
            i = j;
            line_start = false;
            continue;
        }
        line_start = false;
        let c = b[i];
        match quote {
            Some((q, triple)) => {
                if c == b'\\' {
                    i += if b[i..].starts_with(b"\\\r\n") { 3 } else { 2 };
                    continue;
                }
                if c == q && (!triple || b[i..].starts_with(&[q, q, q])) {
                    quote = None;
                    last_code = q;
                    i += if triple { 3 } else { 1 };
                    continue;
                }
                if is_newline(i) && !triple {
                    // An unterminated string ends at the line's end.
                    quote = None;
                    line_start = true;
                    continued = false;
                }
            }
            None => match c {
                b'#' => {
                    while i < b.len() && !matches!(b[i], b'\n' | b'\r') {
                        i += 1;
                    }
                    continue;
                }
                b'\'' | b'"' => {
                    let triple = b[i..].starts_with(&[c, c, c]);
                    quote = Some((c, triple));
                    i += if triple { 3 } else { 1 };
                    continue;
                }
                b'(' | b'[' | b'{' => {
                    brackets += 1;
                    last_code = c;
                }
                b')' | b']' | b'}' => {
                    brackets = brackets.saturating_sub(1);
                    last_code = c;
                }
                b'\\' if b[i + 1..].starts_with(b"\n") || b[i + 1..].starts_with(b"\r") => {
                    continued = true;
                    line_start = true;
                    i += if b[i + 1..].starts_with(b"\r\n") {
                        3
                    } else {
                        2
                    };
                    continue;
                }
                _ if is_newline(i) => {
                    line_start = true;
                    continued = false;
                    if brackets == 0 && last_code != b'\n' {
                        opens_block = last_code == b':';
                        last_code = b'\n';
                    }
                }
                b' ' | b'\t' | b'\r' | 0x0c => {}
                _ => last_code = c,
            },
        }
        i += 1;
    }
    if brackets == 0 && quote.is_none() && (opens_block || last_code == b':') {
        fail(&mut out, b.len(), "expected an indented block");
    }
    out
}

/// Whether `text` ends a line with a lone `\r` (one not followed by `\n`).
pub(crate) fn has_lone_cr(text: &str) -> bool {
    let b = text.as_bytes();
    (0..b.len()).any(|i| is_lone_cr(b, i))
}

fn is_lone_cr(b: &[u8], i: usize) -> bool {
    b[i] == b'\r' && b.get(i + 1) != Some(&b'\n')
}

/// `text` with each lone `\r` replaced by `\n`, or `None` when it has none.
fn lone_crs_as_newlines(text: &str) -> Option<String> {
    if !has_lone_cr(text) {
        return None;
    }
    let b = text.as_bytes();
    let bytes: Vec<u8> = (0..b.len())
        .map(|i| if is_lone_cr(b, i) { b'\n' } else { b[i] })
        .collect();
    // Replacing one ASCII byte by another keeps the text UTF-8.
    String::from_utf8(bytes).ok()
}

/// How deep a syntax tree may be before we refuse to analyse it: deeper
/// trees are generated or hostile, and the recursive lowering would risk
/// the (64 MiB) stack of the worker threads.
pub const MAX_TREE_DEPTH: usize = 2000;

/// A byte-level bound: whether the file could possibly have a tree deeper
/// than [`MAX_TREE_DEPTH`], so the exact (tree-walking) check is only run
/// for files that might. Depth comes from bracket nesting, long logical
/// lines (operator chains) and indentation, which Python caps at 100
/// levels; each is bounded here generously.
pub fn may_be_deep(text: &str) -> bool {
    let (mut depth, mut max_depth) = (0usize, 0usize);
    let (mut line, mut max_line) = (0usize, 0usize);
    let bytes = text.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                max_depth = max_depth.max(depth);
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            // A backslash continuation keeps the logical line going.
            b'\n' if i == 0 || bytes[i - 1] != b'\\' => line = 0,
            _ => {}
        }
        line += 1;
        max_line = max_line.max(line);
    }
    // Two tree levels per bracket, one per character of a logical line
    // (an operator chain), three per indentation level.
    2 * max_depth + max_line + 300 > MAX_TREE_DEPTH
}

impl<'a> PyModule<'a> {
    pub fn parse(text: &'a str) -> PyModule<'a> {
        let indentation = scan_indentation(text);
        let levels = indentation.depth;
        let refused_indentation = (levels > MAX_INDENT_LEVELS).then_some(levels);
        let parsed = if refused_indentation.is_some() {
            ""
        } else {
            text
        };
        let mut parser = Parser::new();
        parser
            .set_language(&tree_sitter_python::LANGUAGE.into())
            .expect("tree-sitter-python matches the tree-sitter ABI");
        // tree-sitter-python ends lines at `\n` only, CPython at a lone
        // `\r` too (old Mac files): it parses a copy with those turned
        // into `\n`, byte for byte, so every offset holds for `text`.
        let normalised = lone_crs_as_newlines(parsed);
        // `parse` only returns None on cancellation or timeout, neither of
        // which we set.
        let source = normalised.as_deref().unwrap_or(parsed);
        let mut tree = parser.parse(source, None).expect("parse without timeout");
        // Python 3.12 f-strings whose fields span lines: scan and parse a
        // copy with those newlines as spaces, byte for byte (see
        // `fstrings`), and keep it if that was the only trouble.
        let mut indentation_error = indentation.error;
        if tree.root_node().has_error() || indentation_error.is_some() {
            if let Some(masked) = fstrings::masked(source) {
                let rescanned = scan_indentation(&masked);
                let retry = parser.parse(&masked, None).expect("parse without timeout");
                if !retry.root_node().has_error() && rescanned.error.is_none() {
                    tree = retry;
                    indentation_error = None;
                }
            }
        }
        let imports = ImportMap::collect(tree.root_node(), parsed);
        PyModule {
            text,
            tree,
            imports,
            refused_indentation,
            indentation_error,
        }
    }

    pub fn node_text(&self, node: Node) -> &'a str {
        &self.text[node.byte_range()]
    }

    /// The first syntax error in document order, with a message.
    pub fn first_syntax_error(&self) -> Option<(Span, String)> {
        let from_tree = self.first_tree_error();
        let from_indentation = self
            .indentation_error
            .map(|(at, what)| (Span::empty_at(at), format!("syntax error: {what}")));
        match (from_tree, from_indentation) {
            (Some(t), Some(i)) => Some(if i.0.start < t.0.start { i } else { t }),
            (t, i) => t.or(i),
        }
    }

    fn first_tree_error(&self) -> Option<(Span, String)> {
        let root = self.tree.root_node();
        if !root.has_error() {
            return None;
        }
        let mut found = None;
        preorder(root, |node| {
            if found.is_some() {
                return false;
            }
            if node.is_missing() {
                found = Some((
                    Span::empty_at(node.start_byte()),
                    format!("syntax error: expected `{}`", node.kind()),
                ));
                return false;
            }
            if node.is_error() {
                let snippet: String = self.node_text(node).chars().take(30).collect();
                let snippet = snippet.lines().next().unwrap_or("").trim();
                let msg = if snippet.is_empty() {
                    "syntax error: unexpected input".to_string()
                } else {
                    format!("syntax error: unexpected `{snippet}`")
                };
                found = Some((Span::new(node.start_byte(), node.end_byte()), msg));
                return false;
            }
            node.has_error()
        });
        found
    }

    /// The tree's depth when it is over [`MAX_TREE_DEPTH`]: too deep for
    /// the recursive passes (lowering, summaries), which must not run.
    /// Cheap unless the bytes say the file might be that deep.
    pub fn too_deep(&self) -> Option<usize> {
        if !may_be_deep(self.text) {
            return None;
        }
        let depth = self.max_depth();
        (depth > MAX_TREE_DEPTH).then_some(depth)
    }

    /// The depth of the deepest node, counted without recursion.
    pub fn max_depth(&self) -> usize {
        let mut cursor = self.tree.walk();
        let (mut depth, mut max) = (0usize, 0usize);
        loop {
            max = max.max(depth);
            if cursor.goto_first_child() {
                depth += 1;
                continue;
            }
            loop {
                if cursor.goto_next_sibling() {
                    break;
                }
                if !cursor.goto_parent() {
                    return max;
                }
                depth -= 1;
            }
        }
    }

    /// Byte ranges of every comment, for `# noqa`.
    pub fn comments(&self) -> Vec<Span> {
        let mut out = Vec::new();
        preorder(self.tree.root_node(), |node| {
            if node.kind() == "comment" {
                out.push(Span::new(node.start_byte(), node.end_byte()));
            }
            true
        });
        out
    }
}

/// The value an argument passes: `x` for both `f(x)` and `f(key=x)`.
pub fn argument_value(arg: Node) -> Node {
    if arg.kind() == "keyword_argument" {
        arg.child_by_field_name("value").unwrap_or(arg)
    } else {
        arg
    }
}

/// `name = value` as a statement: the name and the value.
pub fn simple_assignment(stmt: Node) -> Option<(Node, Node)> {
    if stmt.kind() != "expression_statement" {
        return None;
    }
    let assign = stmt.named_child(0).filter(|a| a.kind() == "assignment")?;
    let left = assign
        .child_by_field_name("left")
        .filter(|l| l.kind() == "identifier")?;
    Some((left, assign.child_by_field_name("right")?))
}

/// Nodes that can hold statements (and so imports and definitions): walks
/// that look for those never descend into expressions.
pub fn is_statement_container(kind: &str) -> bool {
    matches!(
        kind,
        "module"
            | "block"
            | "function_definition"
            | "class_definition"
            | "decorated_definition"
            | "if_statement"
            | "elif_clause"
            | "else_clause"
            | "try_statement"
            | "except_clause"
            | "except_group_clause"
            | "finally_clause"
            | "with_statement"
            | "for_statement"
            | "while_statement"
            | "match_statement"
            | "case_clause"
    )
}

/// Whether a node of this kind may have statements below it: a statement
/// container, or an error node (where recovery may have put some).
pub fn may_hold_statements(kind: &str) -> bool {
    is_statement_container(kind) || kind == "ERROR"
}

/// Whether a `return name` statement of `block`'s own function (nested
/// functions, classes and lambdas aside) returns the plain name `name`.
pub fn returns_name(block: Node, text: &str, name: &str) -> bool {
    let mut found = false;
    preorder(block, |n| match n.kind() {
        "function_definition" | "class_definition" | "lambda" => false,
        "return_statement" => {
            found |= n
                .named_child(0)
                .is_some_and(|v| v.kind() == "identifier" && &text[v.byte_range()] == name);
            false
        }
        _ => !found,
    });
    found
}

/// The body of the function around `node` (the nearest enclosing `def`),
/// if it is in one.
pub fn enclosing_function_body(node: Node) -> Option<Node> {
    let mut up = node.parent();
    while let Some(n) = up {
        if n.kind() == "function_definition" {
            return n.child_by_field_name("body");
        }
        up = n.parent();
    }
    None
}

/// Visits `root` and its descendants in document order without recursion;
/// `visit` returns whether to descend into the node's children.
pub fn preorder<'t>(root: Node<'t>, mut visit: impl FnMut(Node<'t>) -> bool) {
    let mut cursor = root.walk();
    let mut descend = visit(cursor.node());
    loop {
        if descend && cursor.goto_first_child() {
            descend = visit(cursor.node());
            continue;
        }
        loop {
            if cursor.goto_next_sibling() {
                descend = visit(cursor.node());
                break;
            }
            if !cursor.goto_parent() || cursor.node() == root {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indentation_depth_counts_logical_lines_only() {
        let depth = |t: &str| {
            let scan = scan_indentation(t);
            assert_eq!(scan.error, None, "{t:?}");
            scan.depth
        };
        assert_eq!(depth("x = 1\n"), 0);
        assert_eq!(depth("if a:\n    if b:\n        c\n    d\n"), 2);
        // Dedent pops back to a level on the stack; tabs go to multiples of 8.
        assert_eq!(depth("if a:\n\tif b:\n\t\tc\n\td\n"), 2);
        // Lines inside brackets, triple-quoted strings and after a
        // backslash start no logical line; comments and blanks count not.
        let text = "f(1,\n      2,\n        3)\ns = \"\"\"\n    a\n        b\n\"\"\"\nt = 1 + \\\n    2\n        # c\n\n";
        assert_eq!(depth(text), 0);
        // A `#` or a quote inside a string does not confuse it.
        assert_eq!(depth("s = '#('\nif a:\n    b = \"(\"\n"), 1);
        // CRLF and lone CR end lines too; a comment after `:` still opens.
        assert_eq!(depth("if a:  # why\r\n    b\r\nc\r\n"), 1);
        assert_eq!(depth("if a:\r    b\rc\r"), 1);
        assert_eq!(depth("d = {\n  'k':\n  1}\nclass A: pass\nx = y[1:]\n"), 0);
    }

    #[test]
    fn indentation_errors_are_cpythons() {
        let error = |t: &str| scan_indentation(t).error;
        // Tab and eight spaces are the same column, but CPython refuses to
        // order them (TabError); so does tab-then-spaces inside a tab block.
        let tab_error = "inconsistent use of tabs and spaces in indentation (TabError)";
        assert_eq!(
            error("if x:\n\ty = 1\n        z = 2\n"),
            Some((21, tab_error))
        );
        assert_eq!(error("if x:\n\tif y:\n\t    z = 2\n"), None);
        assert_eq!(
            error("if x:\n        y = 1\n\tz = 2\n"),
            Some((21, tab_error))
        );
        assert_eq!(
            error("def f():\n    pass\n  x = 1\n"),
            Some((20, "unindent does not match any outer indentation level"))
        );
        assert_eq!(error("x = 1\n    y = 2\n"), Some((10, "unexpected indent")));
        for at_end in [
            "def f():\n",
            "def f():",
            "with x:\n# c\n",
            "if a:\n    b\nelse:\n",
        ] {
            assert_eq!(
                error(at_end).map(|e| e.1),
                Some("expected an indented block"),
                "{at_end:?}"
            );
        }
        assert_eq!(error("if a:\nb\n"), Some((6, "expected an indented block")));
        // And through the parser, as LK001's message.
        let m = PyModule::parse("def f():\n");
        assert_eq!(
            m.first_syntax_error().map(|e| e.1),
            Some("syntax error: expected an indented block".to_string())
        );
    }

    #[test]
    fn reports_the_first_error() {
        let m = PyModule::parse("x = 1\ndef broken(:\n    pass\n");
        let (span, msg) = m.first_syntax_error().unwrap();
        assert_eq!(&m.text[..span.start].matches('\n').count(), &1, "{msg}");
        assert!(msg.starts_with("syntax error"), "{msg}");
        assert!(PyModule::parse("match x:\n    case 1:\n        pass\n")
            .first_syntax_error()
            .is_none());
    }

    #[test]
    fn the_byte_bound_spots_possibly_deep_files() {
        assert!(!may_be_deep("x = (1 + 2)\nif x:\n    y = [x]\n"));
        assert!(may_be_deep(&format!(
            "x = {}1{}",
            "(".repeat(900),
            ")".repeat(900)
        )));
        assert!(may_be_deep(&format!("x = {}", "a + ".repeat(600))));
        // A backslash continuation keeps one logical line.
        assert!(may_be_deep(&"a + \\\n".repeat(600)));
    }

    #[test]
    fn depth_and_comments() {
        let m = PyModule::parse("a = ((((1))))  # noqa\n");
        assert!(m.max_depth() >= 6);
        assert_eq!(m.comments().len(), 1);
    }

    #[test]
    fn preorder_stays_inside_the_root() {
        let m = PyModule::parse("def f():\n    a = 1\nb = 2\n");
        let func = m.tree.root_node().child(0).unwrap();
        let mut names = Vec::new();
        preorder(func, |n| {
            if n.kind() == "identifier" {
                names.push(m.node_text(n).to_string());
            }
            true
        });
        assert_eq!(names, ["f", "a"]);
    }
}
