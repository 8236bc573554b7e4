//! In-source suppressions: `# noqa[: CODES]` on the line of a Python
//! finding's primary span, `// leaklint: allow(CODES)` on that line or the
//! line above in Rust, and whole-file `leaklint: skip-file` comments.

use crate::diagnostic::{Finding, Span};
use crate::source::{Language, SourceFile};

/// Whether the file opts out of analysis with a `leaklint: skip-file`
/// comment on a line of its own.
pub fn skips_file(source: &SourceFile, language: Language) -> bool {
    let marker = match language {
        Language::Python => "#",
        Language::Rust => "//",
    };
    source.text.lines().any(|line| {
        line.trim()
            .strip_prefix(marker)
            .is_some_and(|rest| rest.trim().eq_ignore_ascii_case("leaklint: skip-file"))
    })
}

/// The codes a `noqa` comment names; `Some(vec![])` for a bare `# noqa`.
fn parse_noqa(comment: &str) -> Option<Vec<String>> {
    let body = comment.trim_start_matches('#').trim_start();
    let lower = body.to_ascii_lowercase();
    if !lower.starts_with("noqa") {
        // `# type: ignore  # noqa: X` puts it in a later segment.
        let idx = lower.find("# noqa")?;
        return parse_noqa(&body[idx..]);
    }
    let rest = &body[4..];
    match rest.trim_start().strip_prefix(':') {
        Some(codes) => Some(
            codes
                .split([',', ' '])
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .take_while(|c| looks_like_code(c))
                .map(|c| c.to_ascii_uppercase())
                .collect(),
        ),
        None if rest.is_empty() || rest.starts_with(char::is_whitespace) => Some(Vec::new()),
        None => None,
    }
}

/// `LK104`-shaped: letters then digits. Anything else ends the list, so
/// a reason may follow the codes.
fn looks_like_code(s: &str) -> bool {
    let digits = s.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    digits.len() < s.len() && !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit())
}

/// The codes a `// leaklint: allow(...)` comment on this line names.
fn parse_allow(line: &str) -> Option<Vec<String>> {
    let idx = line.find("//")?;
    let comment = line[idx + 2..].trim_start_matches('/').trim();
    let inner = comment
        .strip_prefix("leaklint:")?
        .trim()
        .strip_prefix("allow(")?;
    let inner = inner.split(')').next()?;
    Some(
        inner
            .split(',')
            .map(|c| c.trim().to_ascii_uppercase())
            .filter(|c| !c.is_empty())
            .collect(),
    )
}

fn names(codes: &[String], code: &str) -> bool {
    codes.is_empty() || codes.iter().any(|c| c == code)
}

/// Drops findings suppressed in the source. `comments` are the byte ranges
/// of Python comments (from the parser, so `#` inside strings never
/// counts); Rust suppressions are read per line.
pub fn apply(
    source: &SourceFile,
    language: Language,
    comments: &[Span],
    findings: &mut Vec<Finding>,
) {
    findings.retain(|f| {
        let line = source.line_index(f.span.start);
        match language {
            Language::Python => !comments.iter().any(|c| {
                source.line_index(c.start) == line
                    && parse_noqa(&source.text[c.range()])
                        .is_some_and(|codes| names(&codes, f.code))
            }),
            Language::Rust => {
                let hit = |l: usize| {
                    parse_allow(source.line_text(l))
                        .is_some_and(|codes| !codes.is_empty() && names(&codes, f.code))
                };
                !(hit(line) || (line > 0 && hit(line - 1)))
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noqa_forms() {
        assert_eq!(parse_noqa("# noqa"), Some(vec![]));
        assert_eq!(parse_noqa("# NOQA: LK104"), Some(vec!["LK104".to_string()]));
        assert_eq!(
            parse_noqa("# noqa: LK104, lk001"),
            Some(vec!["LK104".into(), "LK001".into()])
        );
        assert_eq!(
            parse_noqa("# type: ignore  # noqa: LK104"),
            Some(vec!["LK104".to_string()])
        );
        assert_eq!(
            parse_noqa("# noqa: LK104 because the pool owns it"),
            Some(vec!["LK104".to_string()])
        );
        assert_eq!(parse_noqa("# noqalike"), None);
        assert_eq!(parse_noqa("# a comment"), None);
    }

    #[test]
    fn allow_forms() {
        assert_eq!(
            parse_allow("let c = x; // leaklint: allow(LK201)"),
            Some(vec!["LK201".to_string()])
        );
        assert_eq!(
            parse_allow("// leaklint: allow(lk201, LK204)"),
            Some(vec!["LK201".into(), "LK204".into()])
        );
        assert_eq!(parse_allow("// nothing here"), None);
    }

    #[test]
    fn skip_file_needs_its_own_comment_line() {
        let py = SourceFile::new("a.py", "x = 1\n# leaklint: skip-file\n".into());
        assert!(skips_file(&py, Language::Python));
        let py = SourceFile::new("a.py", "x = '# leaklint: skip-file'\n".into());
        assert!(!skips_file(&py, Language::Python));
        let rs = SourceFile::new("a.rs", "// leaklint: skip-file\nfn main() {}\n".into());
        assert!(skips_file(&rs, Language::Rust));
    }
}
