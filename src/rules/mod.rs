//! The rule catalogue. Each rule is one file here: its `declare_rule!`
//! holds the metadata, the doc comment that *is* the page `leaklint rule
//! CODE` prints, and the check the pipeline calls with the file's
//! [`PythonContext`] or [`RustContext`]. `build.rs` registers every file,
//! so adding a rule is adding a file (see CONTRIBUTING.md).

mod context;

pub(crate) use context::{PythonContext, RustContext};

use crate::diagnostic::{Finding, Severity, Span};

/// Whether a rule can offer a fix, for `leaklint rules` and SARIF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FixAvailability {
    None,
    Sometimes,
    Always,
}

impl FixAvailability {
    pub fn as_str(self) -> &'static str {
        match self {
            FixAvailability::None => "none",
            FixAvailability::Sometimes => "sometimes",
            FixAvailability::Always => "always",
        }
    }
}

/// Which files a rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleLanguage {
    Any,
    Python,
    Rust,
}

impl RuleLanguage {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleLanguage::Any => "any",
            RuleLanguage::Python => "python",
            RuleLanguage::Rust => "rust",
        }
    }
}

/// What a rule needs of a file, so that nothing more is computed than
/// the enabled rules use: the first pass (project summaries) runs only
/// for files some enabled `Project` rule will read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Nothing but the file's bytes: the pipeline reports it (LK001,
    /// LK002).
    Source,
    /// The syntax tree and this file's own names.
    Syntax,
    /// The project's first-pass facts, the semantic model and the
    /// engine's results.
    Project,
}

/// How a rule is checked: by the pipeline itself, or by a function of
/// one language's file context.
#[derive(Clone, Copy)]
pub enum Check {
    /// Reported by the pipeline when a file cannot be read or parsed.
    Pipeline,
    Python(for<'a> fn(&PythonContext<'a>) -> Vec<Finding>),
    Rust(for<'a> fn(&RustContext<'a>) -> Vec<Finding>),
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Check::Pipeline => "Pipeline",
            Check::Python(_) => "Python",
            Check::Rust(_) => "Rust",
        })
    }
}

/// Everything the CLI, the pipeline and the reporters know about a rule.
#[derive(Debug)]
pub struct RuleMeta {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    pub fix: FixAvailability,
    pub needs: Needs,
    pub check: Check,
    /// One sentence: what the rule finds.
    pub summary: &'static str,
    /// The whole page, Markdown, from the rule's doc comment.
    pub doc: &'static str,
}

impl RuleMeta {
    /// The files the rule applies to, from how it is checked.
    pub fn language(&self) -> RuleLanguage {
        match self.check {
            Check::Pipeline => RuleLanguage::Any,
            Check::Python(_) => RuleLanguage::Python,
            Check::Rust(_) => RuleLanguage::Rust,
        }
    }

    /// A finding of this rule with its code, name and severity filled in.
    pub fn finding(
        &'static self,
        span: Span,
        message: impl Into<String>,
        help: impl Into<String>,
    ) -> Finding {
        Finding {
            code: self.code,
            name: self.name,
            severity: self.severity,
            message: message.into(),
            span,
            labels: Vec::new(),
            help: help.into(),
            fix: None,
        }
    }
}

/// Declares a rule: its doc comment (the rule's page), its metadata and
/// its check. The static must be named after its file, upper-cased
/// (`with_does_not_close.rs` declares `WITH_DOES_NOT_CLOSE`).
///
/// ```ignore
/// declare_rule! {
///     /// ## What it does
///     /// ...
///     pub static WITH_DOES_NOT_CLOSE = {
///         code: "LK104", name: "with-does-not-close",
///         severity: Error, fix: Sometimes, needs: Syntax,
///         check: Python(check),
///         summary: "...",
///     }
/// }
/// ```
#[macro_export]
macro_rules! declare_rule {
    (
        $(#[doc = $doc:literal])*
        pub static $ident:ident = {
            code: $code:literal,
            name: $name:literal,
            severity: $sev:ident,
            fix: $fix:ident,
            needs: $needs:ident,
            check: $check:ident $(($f:path))?,
            summary: $summary:literal $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        pub static $ident: $crate::rules::RuleMeta = $crate::rules::RuleMeta {
            code: $code,
            name: $name,
            severity: $crate::diagnostic::Severity::$sev,
            fix: $crate::rules::FixAvailability::$fix,
            needs: $crate::rules::Needs::$needs,
            check: $crate::rules::Check::$check $(($f))?,
            summary: $summary,
            doc: concat!($($doc, "\n"),*),
        };
    };
}

include!(concat!(env!("OUT_DIR"), "/registered_rules.rs"));

pub use io_error::IO_ERROR;
pub use syntax_error::SYNTAX_ERROR;

/// Every rule, in code order.
pub fn all() -> &'static [&'static RuleMeta] {
    static ALL: std::sync::OnceLock<Vec<&'static RuleMeta>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let mut all = REGISTERED.to_vec();
        all.sort_by_key(|r| r.code);
        all
    })
}

/// Which rules run, compiled from `select`, `extend-select` and `ignore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    enabled: Vec<&'static str>,
}

impl RuleSet {
    pub fn all() -> RuleSet {
        RuleSet {
            enabled: all().iter().map(|r| r.code).collect(),
        }
    }

    /// `select` (every rule when absent), plus `extend_select`, less
    /// `ignore`.
    pub fn select(
        select: Option<&[String]>,
        extend_select: Option<&[String]>,
        ignore: Option<&[String]>,
    ) -> Result<RuleSet, UnknownSelector> {
        let mut enabled = match select {
            Some(sel) => expand(sel, "select")?,
            None => all().iter().map(|r| r.code).collect(),
        };
        if let Some(extra) = extend_select {
            enabled.extend(expand(extra, "extend-select")?);
        }
        if let Some(ignore) = ignore {
            let ignored = expand(ignore, "ignore")?;
            enabled.retain(|c| !ignored.contains(c));
        }
        enabled.sort_unstable();
        enabled.dedup();
        Ok(RuleSet { enabled })
    }

    pub fn contains(&self, code: &str) -> bool {
        self.enabled.contains(&code)
    }

    /// The enabled rules, in code order.
    pub fn rules(&self) -> impl Iterator<Item = &'static RuleMeta> + '_ {
        all().iter().copied().filter(|r| self.contains(r.code))
    }

    /// Whether an enabled rule of `language` reads the project's
    /// first-pass facts.
    pub fn need_project(&self, language: RuleLanguage) -> bool {
        self.rules()
            .any(|r| r.language() == language && r.needs == Needs::Project)
    }

    /// Whether any rule of `language` is enabled.
    pub fn any_of(&self, language: RuleLanguage) -> bool {
        self.rules().any(|r| r.language() == language)
    }
}

/// A selector that picks no rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownSelector {
    pub selector: String,
    /// The configuration key it was given in.
    pub key: &'static str,
}

impl std::fmt::Display for UnknownSelector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let valid: Vec<_> = all().iter().map(|r| r.code).collect();
        write!(
            f,
            "unknown rule selector `{}` in `{}`; valid codes are {} (or a prefix of them, or ALL)",
            self.selector,
            self.key,
            valid.join(", ")
        )
    }
}

impl std::error::Error for UnknownSelector {}

/// The codes some selectors pick: `ALL`, exact codes, or code prefixes
/// (`LK1`); an error for the first that picks none.
pub fn expand(
    selectors: &[String],
    key: &'static str,
) -> Result<Vec<&'static str>, UnknownSelector> {
    let mut out = Vec::new();
    for selector in selectors {
        let sel = selector.trim().to_ascii_uppercase();
        let before = out.len();
        out.extend(
            all()
                .iter()
                .map(|r| r.code)
                .filter(|c| sel == "ALL" || (!sel.is_empty() && c.starts_with(&sel))),
        );
        if out.len() == before {
            return Err(UnknownSelector {
                selector: selector.clone(),
                key,
            });
        }
    }
    Ok(out)
}

pub fn by_code(code: &str) -> Option<&'static RuleMeta> {
    all()
        .iter()
        .copied()
        .find(|r| r.code.eq_ignore_ascii_case(code))
}

/// The page as printed by `leaklint rule CODE`: the doc comment with the
/// one leading space of each `///` line removed.
pub fn page(rule: &RuleMeta) -> String {
    let mut out = format!("# {} ({})\n\n", rule.name, rule.code);
    out.push_str(&format!(
        "Language: {}. Fix: {}.\n\n",
        rule.language().as_str(),
        rule.fix.as_str()
    ));
    for line in rule.doc.lines() {
        out.push_str(line.strip_prefix(' ').unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_unique_and_documented() {
        let codes: Vec<_> = all().iter().map(|r| r.code).collect();
        let mut unique = codes.clone();
        unique.dedup();
        assert_eq!(codes, unique, "two rules share a code");
        assert_eq!(codes.len(), REGISTERED.len());
        for rule in all() {
            for section in ["## What it does", "## Why is this bad?", "## Example"] {
                assert!(rule.doc.contains(section), "{} lacks {section}", rule.code);
            }
            assert!(!rule.summary.is_empty());
        }
    }

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(by_code("lk104").unwrap().name, "with-does-not-close");
        assert!(by_code("LK999").is_none());
    }
}
