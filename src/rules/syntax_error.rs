crate::declare_rule! {
    /// ## What it does
    /// Reports a file that could not be parsed, at the first error the
    /// parser found.
    ///
    /// Only files that leaklint analyses are parsed, so only they are
    /// reported: a Python file that imports a resource library (and names
    /// one of its acquiring calls or types) or names one of the project's
    /// summarised helpers; a Rust file that names a database crate, an
    /// `extern` block or transaction SQL. The byte prefilter decides this
    /// before parsing; `--no-prefilter` parses every file, and still
    /// reports LK001 only for these. A file that cannot matter to a leak
    /// is left to your compiler, linter or test run.
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
