//! The rule catalogue. Each rule lives in its own file and is declared with
//! [`declare_rule!`]; the doc comment written there *is* the page that
//! `leaklint rule CODE` prints, so documentation cannot drift from code.

pub mod acquire_in_loop;
pub mod close_not_awaited;
pub mod ffi_handle_leak;
pub mod fixture_without_teardown;
pub mod forgotten_guard;
pub mod generator_dependency_next;
pub mod guard_stored_long_lived;
mod io_error;
pub mod leak_on_error_path;
pub mod nested_acquire;
pub mod owner_without_close;
pub mod python_leaks;
pub mod raw_transaction_without_guard;
pub mod rust_leaks;
pub mod session_stored_long_lived;
pub mod startup_without_shutdown;
mod syntax_error;
pub mod transaction_never_committed;
pub mod unclosed_resource;
pub mod unspawned_connection;
pub mod with_does_not_close;

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

/// Everything the CLI and the reporters know about a rule.
#[derive(Debug)]
pub struct RuleMeta {
    pub code: &'static str,
    pub name: &'static str,
    pub language: RuleLanguage,
    pub severity: Severity,
    pub fix: FixAvailability,
    /// One sentence: what the rule finds.
    pub summary: &'static str,
    /// The whole page, Markdown, from the rule's doc comment.
    pub doc: &'static str,
}

impl RuleMeta {
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

/// Declares a rule's metadata from its doc comment and a few fields.
///
/// ```ignore
/// declare_rule! {
///     /// ## What it does
///     /// ...
///     pub static WITH_DOES_NOT_CLOSE = {
///         code: "LK104", name: "with-does-not-close", language: Python,
///         severity: Error, fix: Sometimes,
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
            language: $lang:ident,
            severity: $sev:ident,
            fix: $fix:ident,
            summary: $summary:literal $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        pub static $ident: $crate::rules::RuleMeta = $crate::rules::RuleMeta {
            code: $code,
            name: $name,
            language: $crate::rules::RuleLanguage::$lang,
            severity: $crate::diagnostic::Severity::$sev,
            fix: $crate::rules::FixAvailability::$fix,
            summary: $summary,
            doc: concat!($($doc, "\n"),*),
        };
    };
}

pub use acquire_in_loop::ACQUIRE_IN_LOOP;
pub use close_not_awaited::CLOSE_NOT_AWAITED;
pub use ffi_handle_leak::FFI_HANDLE_LEAK;
pub use fixture_without_teardown::FIXTURE_WITHOUT_TEARDOWN;
pub use forgotten_guard::FORGOTTEN_GUARD;
pub use generator_dependency_next::GENERATOR_DEPENDENCY_NEXT;
pub use guard_stored_long_lived::GUARD_STORED_LONG_LIVED;
pub use io_error::IO_ERROR;
pub use leak_on_error_path::LEAK_ON_ERROR_PATH;
pub use nested_acquire::NESTED_ACQUIRE;
pub use owner_without_close::OWNER_WITHOUT_CLOSE;
pub use raw_transaction_without_guard::RAW_TRANSACTION_WITHOUT_GUARD;
pub use session_stored_long_lived::SESSION_STORED_LONG_LIVED;
pub use startup_without_shutdown::STARTUP_WITHOUT_SHUTDOWN;
pub use syntax_error::SYNTAX_ERROR;
pub use transaction_never_committed::TRANSACTION_NEVER_COMMITTED;
pub use unclosed_resource::UNCLOSED_RESOURCE;
pub use unspawned_connection::UNSPAWNED_CONNECTION;
pub use with_does_not_close::WITH_DOES_NOT_CLOSE;

/// Every implemented rule, in code order. Rules not implemented yet are not
/// listed (and cannot be selected).
pub fn all() -> &'static [&'static RuleMeta] {
    static ALL: [&RuleMeta; 19] = [
        &SYNTAX_ERROR,
        &IO_ERROR,
        &UNCLOSED_RESOURCE,
        &LEAK_ON_ERROR_PATH,
        &GENERATOR_DEPENDENCY_NEXT,
        &WITH_DOES_NOT_CLOSE,
        &FIXTURE_WITHOUT_TEARDOWN,
        &CLOSE_NOT_AWAITED,
        &SESSION_STORED_LONG_LIVED,
        &STARTUP_WITHOUT_SHUTDOWN,
        &OWNER_WITHOUT_CLOSE,
        &FORGOTTEN_GUARD,
        &RAW_TRANSACTION_WITHOUT_GUARD,
        &TRANSACTION_NEVER_COMMITTED,
        &NESTED_ACQUIRE,
        &ACQUIRE_IN_LOOP,
        &GUARD_STORED_LONG_LIVED,
        &FFI_HANDLE_LEAK,
        &UNSPAWNED_CONNECTION,
    ];
    &ALL
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
        rule.language.as_str(),
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
        let mut sorted = codes.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(codes, sorted);
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
