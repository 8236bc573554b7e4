crate::declare_rule! {
    /// ## What it does
    /// Reports a file that could not be parsed, at the first error the
    /// parser found.
    ///
    /// ## Why is this bad?
    /// leaklint cannot follow resources through code it cannot parse. For
    /// Python it still analyses the parts tree-sitter recovered; for Rust
    /// the file is skipped. Either way the rest of the run goes on.
    ///
    /// ## Example
    /// ```python
    /// def broken(:
    ///     pass
    /// ```
    ///
    /// ## Use instead
    /// Fix the syntax error; the file is then analysed as usual.
    pub static SYNTAX_ERROR = {
        code: "LK001",
        name: "syntax-error",
        severity: Error,
        fix: None,
        needs: Source,
        check: Pipeline,
        summary: "The file could not be parsed.",
    }
}
