//! The Rust front end: syn over proc-macro2 tokens with span locations.
//!
//! The file is tokenised first (proc-macro2 builds groups without
//! recursion), so that absurd nesting is refused before syn, whose parser
//! recurses, could exhaust the stack.

use std::str::FromStr;

use proc_macro2::{TokenStream, TokenTree};

use crate::diagnostic::Span;
use crate::source::SourceFile;

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

pub fn parse(source: &SourceFile) -> RustParse {
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
    match syn::parse2::<syn::File>(tokens) {
        Ok(file) => RustParse::Parsed(file),
        Err(e) => {
            let start = to_offset(e.span().start());
            let end = to_offset(e.span().end()).max(start);
            RustParse::SyntaxError(Span::new(start, end), format!("syntax error: {e}"))
        }
    }
}

/// Frees proc-macro2's per-thread record of the file's text. Spans of
/// this thread must not be used after the call.
pub fn release_spans() {
    proc_macro2::extra::invalidate_current_thread_spans();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> RustParse {
        parse(&SourceFile::new("x.rs", text.to_string()))
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
    fn refuses_absurd_nesting() {
        let deep = format!("fn f() {{ {}1{} }}", "(".repeat(5000), ")".repeat(5000));
        assert!(matches!(parse_text(&deep), RustParse::TooDeep(d) if d > MAX_GROUP_DEPTH));
    }
}
