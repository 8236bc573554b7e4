//! Python 3.12 f-strings that tree-sitter-python does not parse.
//!
//! PEP 701 lets the replacement field of a single-quoted f-string span
//! lines (`f"{\n    x}"`); tree-sitter-python 0.25 ends the string at the
//! newline and reports a syntax error in valid code. [`field_newlines`]
//! finds those newlines so that the parser can be given a copy with each
//! turned into a space: the same bytes at the same offsets, so every span
//! still holds for the original text (rows and columns are computed from
//! it, not from the parser's points).

/// Byte offsets of the newlines inside replacement fields of single-quoted
/// f-strings. Empty when there are none, or when the scan meets something
/// it does not understand (an unterminated string): the parser then sees
/// the file as it is and reports what is wrong with it.
pub fn field_newlines(text: &str) -> Vec<usize> {
    let mut scan = Scan {
        b: text.as_bytes(),
        i: 0,
        found: Vec::new(),
        depth: 0,
    };
    match scan.code(None) {
        Some(()) => scan.found,
        None => Vec::new(),
    }
}

/// `text` with the newlines [`field_newlines`] finds replaced by spaces,
/// or `None` when there are none.
pub fn masked(text: &str) -> Option<String> {
    if !["f\"", "f'", "F\"", "F'"].iter().any(|q| text.contains(q)) {
        return None;
    }
    let at = field_newlines(text);
    if at.is_empty() {
        return None;
    }
    let mut bytes = text.as_bytes().to_vec();
    for i in at {
        bytes[i] = b' ';
    }
    // One ASCII byte for another keeps the text UTF-8.
    String::from_utf8(bytes).ok()
}

/// Nesting is bounded: deeper files are refused elsewhere, and the scan
/// must not overflow the stack on hostile input.
const MAX_NESTING: usize = 200;

struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    found: Vec<usize>,
    depth: usize,
}

/// Where a replacement field's expression ended.
enum FieldEnd {
    /// `}`: the field is over.
    Close,
    /// `:`: a format spec follows.
    Spec,
}

impl Scan<'_> {
    fn peek(&self, k: usize) -> Option<u8> {
        self.b.get(self.i + k).copied()
    }

    /// Code up to the end of input (`field` is `None`), or up to the end of
    /// a replacement field's expression, recording its newlines when the
    /// f-string is single-quoted.
    fn code(&mut self, field: Option<bool>) -> Option<()> {
        self.code_until(field).map(|_| ())
    }

    fn code_until(&mut self, field: Option<bool>) -> Option<FieldEnd> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return None;
        }
        let mut brackets = 0usize;
        let end = loop {
            let Some(c) = self.peek(0) else {
                // Input ended inside a field: not ours to judge.
                break if field.is_some() {
                    None
                } else {
                    Some(FieldEnd::Close)
                };
            };
            match c {
                b'#' => {
                    while self.peek(0).is_some_and(|c| c != b'\n') {
                        self.i += 1;
                    }
                }
                b'\n' => {
                    if field == Some(true) {
                        self.found.push(self.i);
                    }
                    self.i += 1;
                }
                b'(' | b'[' | b'{' => {
                    brackets += 1;
                    self.i += 1;
                }
                b')' | b']' => {
                    brackets = brackets.saturating_sub(1);
                    self.i += 1;
                }
                b'}' => {
                    if field.is_some() && brackets == 0 {
                        self.i += 1;
                        break Some(FieldEnd::Close);
                    }
                    brackets = brackets.saturating_sub(1);
                    self.i += 1;
                }
                b':' if field.is_some() && brackets == 0 => {
                    self.i += 1;
                    break Some(FieldEnd::Spec);
                }
                // `!r` conversion (not `!=`): skip to the spec or the end.
                b'!' if field.is_some() && brackets == 0 && self.peek(1) != Some(b'=') => {
                    self.i += 1;
                    while self.peek(0).is_some_and(|c| c.is_ascii_alphabetic()) {
                        self.i += 1;
                    }
                }
                b'"' | b'\'' => self.string(false)?,
                _ if c.is_ascii_alphabetic() || c == b'_' => {
                    let start = self.i;
                    while self
                        .peek(0)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                    {
                        self.i += 1;
                    }
                    let word = &self.b[start..self.i];
                    if matches!(self.peek(0), Some(b'"' | b'\'')) && is_prefix(word) {
                        let f = word.iter().any(|c| c.eq_ignore_ascii_case(&b'f'));
                        self.string(f)?;
                    }
                }
                b'\\' => self.i += 2,
                _ => self.i += 1,
            }
        };
        self.depth -= 1;
        end
    }

    /// A string literal from its opening quote; `f` for f-strings.
    fn string(&mut self, f: bool) -> Option<()> {
        let q = self.peek(0)?;
        let triple = self.peek(1) == Some(q) && self.peek(2) == Some(q);
        self.i += if triple { 3 } else { 1 };
        loop {
            let c = self.peek(0)?;
            match c {
                b'\\' => self.i += 2,
                b'\n' if !triple => return None,
                _ if c == q => {
                    if !triple {
                        self.i += 1;
                        return Some(());
                    }
                    if self.peek(1) == Some(q) && self.peek(2) == Some(q) {
                        self.i += 3;
                        return Some(());
                    }
                    self.i += 1;
                }
                b'{' if f && self.peek(1) == Some(b'{') => self.i += 2,
                b'{' if f => {
                    self.i += 1;
                    self.field(!triple)?;
                }
                _ => self.i += 1,
            }
        }
    }

    /// A replacement field after its `{`, through its `}`; its format spec
    /// may hold nested fields (`{x:>{width}}`).
    fn field(&mut self, single_quoted: bool) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return None;
        }
        let done = self.field_body(single_quoted);
        self.depth -= 1;
        done
    }

    fn field_body(&mut self, single_quoted: bool) -> Option<()> {
        match self.code_until(Some(single_quoted))? {
            FieldEnd::Close => Some(()),
            FieldEnd::Spec => loop {
                let c = self.peek(0)?;
                match c {
                    b'}' => {
                        self.i += 1;
                        return Some(());
                    }
                    b'{' => {
                        self.i += 1;
                        self.field(single_quoted)?;
                    }
                    b'\n' if single_quoted => return None,
                    _ => self.i += 1,
                }
            },
        }
    }
}

/// A string prefix (`f`, `rb`, `Rf`...): at most two letters of r, b, u, f.
fn is_prefix(word: &[u8]) -> bool {
    word.len() <= 2
        && word
            .iter()
            .all(|c| matches!(c.to_ascii_lowercase(), b'r' | b'b' | b'u' | b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn newlines(src: &str) -> Vec<usize> {
        field_newlines(src)
    }

    #[test]
    fn a_newline_in_a_field_of_a_single_quoted_f_string_is_found() {
        let src = "x = f\"{\n    a.b}::{c}\"\n";
        assert_eq!(newlines(src), vec![7]);
        let masked = masked(src).unwrap();
        assert_eq!(masked, "x = f\"{     a.b}::{c}\"\n");
        assert_eq!(masked.len(), src.len());
    }

    #[test]
    fn newlines_of_code_triple_quoted_strings_and_escaped_braces_are_not() {
        assert!(newlines("a = (1,\n 2)\nb = '''x\ny'''\n").is_empty());
        assert!(newlines("s = f'''{\n x}'''\n").is_empty());
        assert!(newlines("s = f\"{{\"\nt = 1\n").is_empty());
        assert!(newlines("# f\"{\nx = 1\n").is_empty());
    }

    #[test]
    fn nested_quotes_specs_and_conversions_are_followed() {
        let src = "s = f\"{d[\"k\"]!r:>{\nw}}\"\n";
        assert_eq!(newlines(src), vec![src.find("{\n").unwrap() + 1]);
        let src = "s = f\"{x:>\n}\"\n";
        assert!(
            newlines(src).is_empty(),
            "a newline in a spec's text is an error"
        );
        let src = "s = f\"{a != b}{\nc}\"\n";
        assert_eq!(newlines(src), vec![src.find("{\n").unwrap() + 1]);
        let src = "s = f'{\"\".join(\n  xs)}'\n";
        assert_eq!(newlines(src), vec![src.find("(\n").unwrap() + 1]);
    }

    #[test]
    fn deep_nesting_gives_up_without_overflowing() {
        let spec = format!("s = f\"{}\"\n", "{a:".repeat(100_000));
        assert!(newlines(&spec).is_empty());
        let brackets = format!("s = f\"{}\"\n", "{f\"".repeat(100_000));
        assert!(newlines(&brackets).is_empty());
    }

    #[test]
    fn any_prefix_spelling_is_found() {
        assert!(masked("s = F'{\n x}'\n").is_some());
        assert!(masked("s = rf'{\n x}'\n").is_some());
        assert!(masked("s = b'{\n'\n").is_none());
    }

    #[test]
    fn an_unterminated_string_gives_up() {
        assert!(newlines("s = \"abc\nf\"{\nx}\"\n").is_empty());
        assert!(masked("s = f\"{x\n").is_none());
    }
}
