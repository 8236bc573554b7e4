crate::declare_rule! {
    /// ## What it does
    /// Reports a file that could not be read or analysed: permissions, a
    /// broken symbolic link, a FIFO, socket or device (never opened: it
    /// could block the run), text that is not UTF-8, a file (or standard
    /// input) over the size limit, or one nested too deeply to analyse
    /// safely (a Python file indented past CPython's 99 levels, which
    /// CPython rejects too).
    ///
    /// ## Why is this bad?
    /// A file leaklint could not read was not checked. The finding makes
    /// that visible instead of silently passing the run.
    ///
    /// ## Example
    /// A Python file saved as Latin-1:
    /// ```text
    /// x.py:1:1: LK002 could not read file: stream did not contain valid UTF-8
    /// ```
    ///
    /// ## Use instead
    /// Save sources as UTF-8, fix the permissions, or exclude the file
    /// (`extend-exclude` in the configuration).
    pub static IO_ERROR = {
        code: "LK002",
        name: "io-error",
        severity: Error,
        fix: None,
        needs: Source,
        check: Pipeline,
        summary: "The file could not be read or analysed.",
    }
}
