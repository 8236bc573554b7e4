//! The Rust front end: syn over proc-macro2 tokens with span locations.
//!
//! The file is tokenised first (proc-macro2 builds groups without
//! recursion), so that absurd nesting is refused before syn, whose parser
//! recurses, could exhaust the stack.

pub mod analyse;
pub mod items;
pub mod knowledge;
pub mod lower;
pub mod names;
pub mod project;
pub mod sql;
pub mod state;
pub mod summary;

use std::str::FromStr;

use proc_macro2::{TokenStream, TokenTree};

use crate::diagnostic::Span;
use crate::source::SourceFile;

/// The source span of a syntax node.
pub fn span_of(source: &SourceFile, node: &impl syn::spanned::Spanned) -> Span {
    let s = node.span();
    let (a, b) = (s.start(), s.end());
    let start = source.offset_of_char_column(a.line, a.column);
    let end = source.offset_of_char_column(b.line, b.column).max(start);
    Span::new(start, end)
}

/// Deeper bracket nesting than this is not analysed.
pub const MAX_GROUP_DEPTH: usize = 256;

pub enum RustParse {
    Parsed(syn::File),
    SyntaxError(Span, String),
    TooDeep(usize),
}

/// Replaces a leading byte-order mark and `#!` interpreter line with spaces,
/// as rustc ignores them, keeping every row and column where it was.
fn blank_prelude(text: &str) -> std::borrow::Cow<'_, str> {
    let mut owned: Option<String> = None;
    let mut rest = text;
    if let Some(r) = rest.strip_prefix('\u{feff}') {
        owned = Some(format!(" {r}"));
        rest = r;
    }
    if rest.starts_with("#!") && !rest[2..].trim_start().starts_with('[') {
        let base = owned.as_deref().unwrap_or(text);
        let prefix = base.len() - rest.len();
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let blanks: String = rest[..line_end].chars().map(|_| ' ').collect();
        owned = Some(format!("{}{blanks}{}", &base[..prefix], &rest[line_end..]));
    }
    match owned {
        Some(s) => s.into(),
        None => text.into(),
    }
}

/// How deeply syn would recurse on nesting that brackets do not show:
/// runs of prefix operators and keywords (`!!!!x`, `& & & x`, `return
/// return x`, `|| || x`) and generic arguments (`Vec<Vec<Vec<..>>>`). syn
/// parses these recursively, so absurd ones would exhaust the stack.
fn max_unbracketed_nesting(tokens: TokenStream) -> usize {
    let mut stack = vec![tokens.into_iter()];
    let (mut max, mut run, mut generics) = (0usize, 0usize, 0usize);
    let mut prev_ident = false;
    while let Some(iter) = stack.last_mut() {
        let Some(tree) = iter.next() else {
            stack.pop();
            run = 0;
            generics = 0;
            continue;
        };
        match &tree {
            TokenTree::Punct(p) => {
                match p.as_char() {
                    '!' | '-' | '*' | '&' | '|' => run += 1,
                    '<' if prev_ident => {
                        generics += 1;
                        run = 0;
                    }
                    '>' => {
                        generics = generics.saturating_sub(1);
                        run = 0;
                    }
                    ';' => {
                        generics = 0;
                        run = 0;
                    }
                    _ => run = 0,
                }
                prev_ident = false;
            }
            TokenTree::Ident(i) => {
                let keyword = matches!(
                    i.to_string().as_str(),
                    "return" | "break" | "move" | "box" | "async" | "mut" | "ref" | "dyn" | "impl"
                );
                if keyword {
                    run += 1;
                } else {
                    run = 0;
                }
                prev_ident = !keyword;
            }
            TokenTree::Group(g) => {
                run = 0;
                prev_ident = false;
                stack.push(g.stream().into_iter());
            }
            TokenTree::Literal(_) => {
                run = 0;
                prev_ident = false;
            }
        }
        max = max.max(run).max(generics);
    }
    max
}

fn max_depth(tokens: TokenStream) -> usize {
    let mut stack = vec![(tokens.into_iter(), 0usize)];
    let mut max = 0;
    while let Some((mut iter, depth)) = stack.pop() {
        if let Some(tree) = iter.next() {
            stack.push((iter, depth));
            if let TokenTree::Group(g) = tree {
                max = max.max(depth + 1);
                stack.push((g.stream().into_iter(), depth + 1));
            }
        }
    }
    max
}

/// A parse of one file, holding proc-macro2's per-thread record of the
/// file's text (which every span points into) until it is dropped. The
/// record is freed on drop, also when a panic unwinds through the
/// analysis: a worker thread never accumulates the text of every file it
/// parsed.
pub struct ParsedFile {
    parse: Option<RustParse>,
}

impl std::ops::Deref for ParsedFile {
    type Target = RustParse;
    fn deref(&self) -> &RustParse {
        self.parse.as_ref().expect("present until dropped")
    }
}

impl Drop for ParsedFile {
    fn drop(&mut self) {
        // The tree goes first: no span may outlive the record.
        drop(self.parse.take());
        proc_macro2::extra::invalidate_current_thread_spans();
    }
}

/// Parses a Rust file; see [`ParsedFile`] for the lifetime of its spans.
pub fn parse(source: &SourceFile) -> ParsedFile {
    ParsedFile {
        parse: Some(parse_tokens(source)),
    }
}

fn parse_tokens(source: &SourceFile) -> RustParse {
    let text = blank_prelude(&source.text);
    let to_offset = |lc: proc_macro2::LineColumn| source.offset_of_char_column(lc.line, lc.column);
    let tokens = match TokenStream::from_str(&text) {
        Ok(tokens) => tokens,
        Err(e) => {
            let start = to_offset(e.span().start());
            return RustParse::SyntaxError(
                Span::new(start, start.max(to_offset(e.span().end()))),
                format!("syntax error: {e}"),
            );
        }
    };
    let depth = max_depth(tokens.clone());
    if depth > MAX_GROUP_DEPTH {
        return RustParse::TooDeep(depth);
    }
    let nesting = max_unbracketed_nesting(tokens.clone());
    if nesting > MAX_GROUP_DEPTH {
        return RustParse::TooDeep(nesting);
    }
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => RustParse::Parsed(file),
        Err(e) => {
            // Edition 2015 allows bare `Fn(..)` trait objects in type
            // position (`Box<Fn(u8) + Send>`), which syn does not parse.
            // Retry with the `dyn` that `cargo fix --edition` would add; if
            // that fails too, report whichever error came later in the
            // file: the retry's, unless the insertion itself went wrong.
            // A file that is one expression is a fragment another file
            // pulls in with `include!("..")` (bindgen builders, generated
            // tables): rustc accepts it there, so it is not an error.
            if syn::parse2::<syn::Expr>(tokens.clone()).is_ok() {
                return RustParse::Parsed(
                    syn::parse2::<syn::File>(TokenStream::new()).expect("an empty file parses"),
                );
            }
            let (with_dyn, changed) = add_dyn_to_bare_fn_types(tokens);
            let mut e = e;
            if changed {
                match syn::parse2::<syn::File>(with_dyn) {
                    Ok(file) => return RustParse::Parsed(file),
                    Err(retry) if retry.span().start() > e.span().start() => e = retry,
                    Err(_) => {}
                }
            }
            let start = to_offset(e.span().start());
            let end = to_offset(e.span().end()).max(start);
            RustParse::SyntaxError(Span::new(start, end), format!("syntax error: {e}"))
        }
    }
}

/// Whether a bare `Fn`-family trait may start here: after `=`, `<`, `,`,
/// `&`, `*`, `mut`, `const` or at the start of a group; never after `dyn`,
/// `impl`, `:`, `+` or `?`, where syn already reads a bound.
fn starts_type_position(prev: Option<&TokenTree>) -> bool {
    match prev {
        None => true,
        Some(TokenTree::Punct(p)) => matches!(p.as_char(), '=' | '<' | ',' | '&' | '*'),
        Some(TokenTree::Ident(i)) => i == "mut" || i == "const",
        _ => false,
    }
}

/// Inserts `dyn` before `Fn(..)`, `FnMut(..)` and `FnOnce(..)` in type
/// positions; returns whether anything was inserted.
fn add_dyn_to_bare_fn_types(tokens: TokenStream) -> (TokenStream, bool) {
    let trees: Vec<TokenTree> = tokens.into_iter().collect();
    let mut out = Vec::with_capacity(trees.len());
    let mut changed = false;
    for (i, tree) in trees.iter().enumerate() {
        match tree {
            TokenTree::Group(g) => {
                let (inner, c) = add_dyn_to_bare_fn_types(g.stream());
                changed |= c;
                let mut group = proc_macro2::Group::new(g.delimiter(), inner);
                group.set_span(g.span());
                out.push(TokenTree::Group(group));
            }
            TokenTree::Ident(id)
                if (id == "Fn" || id == "FnMut" || id == "FnOnce")
                    && matches!(trees.get(i + 1), Some(TokenTree::Group(g)) if g.delimiter() == proc_macro2::Delimiter::Parenthesis)
                    && starts_type_position(if i == 0 { None } else { trees.get(i - 1) }) =>
            {
                out.push(TokenTree::Ident(proc_macro2::Ident::new("dyn", id.span())));
                out.push(tree.clone());
                changed = true;
            }
            _ => out.push(tree.clone()),
        }
    }
    (out.into_iter().collect(), changed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> RustParse {
        parse_tokens(&SourceFile::new("x.rs", text.to_string()))
    }

    #[test]
    fn parses_valid_code_with_shebang_and_bom() {
        assert!(matches!(
            parse_text("#!/usr/bin/env run\nfn main() {}\n"),
            RustParse::Parsed(_)
        ));
        assert!(matches!(
            parse_text("\u{feff}fn main() {}\n"),
            RustParse::Parsed(_)
        ));
        assert!(matches!(
            parse_text("#![allow(dead_code)]\nfn main() {}\n"),
            RustParse::Parsed(_)
        ));
    }

    #[test]
    fn an_included_expression_fragment_is_not_an_error() {
        let fragment = "bindgen::Builder::default()\n    .header(\"wrapper.h\")\n    .allowlist_var(\"PG_.*\")\n";
        assert!(matches!(parse_text(fragment), RustParse::Parsed(_)));
    }

    #[test]
    fn locates_syntax_errors() {
        let src = "fn main() {\n    let x = ;\n}\n";
        match parse_text(src) {
            RustParse::SyntaxError(span, msg) => {
                assert_eq!(&src[span.start..span.start + 1], ";", "{msg}");
            }
            _ => panic!("expected a syntax error"),
        }
        assert!(matches!(
            parse_text("fn main() { (\n"),
            RustParse::SyntaxError(..)
        ));
    }

    #[test]
    fn accepts_edition_2015_bare_fn_trait_objects() {
        for src in [
            "type Action = Fn(&u8) + Send + Sync;\n",
            "struct S { f: Box<FnMut(u8) -> u8 + Send> }\n",
            "fn f(x: &(Fn(u8) + Send), y: *const FnOnce()) {}\n",
            "fn g<F: Fn(u8)>(f: F) where F: FnMut() {}\n",
        ] {
            assert!(matches!(parse_text(src), RustParse::Parsed(_)), "{src}");
        }
        // A real error is still one, and keeps its own location.
        match parse_text("type A = Fn(u8);\nfn main() { let x = ; }\n") {
            RustParse::SyntaxError(span, _) => assert_eq!(span.start, 37),
            _ => panic!("expected a syntax error"),
        }
    }

    #[test]
    fn refuses_absurd_nesting() {
        let deep = format!("fn f() {{ {}1{} }}", "(".repeat(5000), ")".repeat(5000));
        assert!(matches!(parse_text(&deep), RustParse::TooDeep(d) if d > MAX_GROUP_DEPTH));
        // Nesting without brackets, which syn also parses recursively.
        let unary = format!("fn f() {{ let x = {}true; }}", "!".repeat(50_000));
        assert!(matches!(parse_text(&unary), RustParse::TooDeep(_)));
        let generics = format!("type T = {}u8{};", "Vec<".repeat(5_000), ">".repeat(5_000));
        assert!(matches!(parse_text(&generics), RustParse::TooDeep(_)));
        // Long but flat code is fine.
        let flat = format!("fn f() {{ let x = 1{}; }}", " + 1".repeat(500));
        assert!(matches!(parse_text(&flat), RustParse::Parsed(_)));
    }
}
