//! A file's text plus a line index, the one place that converts byte
//! offsets into the 1-based row/column pairs of the output contract
//! (columns count Unicode scalar values, not bytes).

use std::path::PathBuf;

/// An absolute, lexically normalised path (no symlink resolution: the
/// user's view of the tree is what globs are written against).
pub fn absolute(path: &std::path::Path) -> PathBuf {
    static CWD: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    // Most paths are normal already (a walk's own): rebuilding them
    // component by component was a tenth of a warm run.
    if is_normal(path, true) {
        return path.to_path_buf();
    }
    let cwd = || CWD.get_or_init(|| std::env::current_dir().unwrap_or_default());
    if is_normal(path, false) && is_normal(cwd(), true) {
        return cwd().join(path);
    }
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        CWD.get_or_init(|| std::env::current_dir().unwrap_or_default())
            .join(path)
    };
    let mut out = PathBuf::new();
    for comp in joined.components() {
        match comp {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    out
}

/// Absolute (or relative, when not `absolute`) with no `.` or `..`
/// component and no repeated or trailing separator: what [`absolute`]
/// would return unchanged (or joined to the working directory).
fn is_normal(path: &std::path::Path, absolute: bool) -> bool {
    let Some(text) = path.to_str() else {
        return false;
    };
    let rest = if absolute {
        match text.strip_prefix('/') {
            Some(rest) => rest,
            None => return false,
        }
    } else if text.starts_with('/') {
        return false;
    } else {
        text
    };
    cfg!(unix)
        && !rest.is_empty()
        && rest
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..")
}

/// Where a finding points, as the user sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    /// 1-based line number.
    pub row: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    Rust,
}

impl Language {
    /// The language a path's extension says it is written in.
    pub fn from_path(path: &std::path::Path) -> Option<Language> {
        match path.extension()?.to_str()? {
            "py" | "pyi" => Some(Language::Python),
            "rs" => Some(Language::Rust),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Rust => "rust",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path as walked or as given on the command line; reported as is.
    pub path: PathBuf,
    pub text: String,
    line_starts: Vec<usize>,
    /// All ASCII: a character column is a byte column (the common case,
    /// and the one that keeps syn's columns cheap on very long lines).
    ascii: bool,
    /// A lone `\r` ends a line (Python files).
    lone_cr_breaks: bool,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: String) -> Self {
        let path = path.into();
        let mut line_starts = vec![0];
        let lone_cr_breaks = Language::from_path(&path) == Some(Language::Python);
        if lone_cr_breaks {
            // Python ends a line at `\r\n`, `\n` or a lone `\r` (old Mac
            // files); editors number the lines the same way.
            let bytes = text.as_bytes();
            line_starts.extend(bytes.iter().enumerate().filter_map(|(i, &b)| {
                let ends = b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n'));
                ends.then_some(i + 1)
            }));
        } else {
            // Rust (and syn's line numbers) end a line at `\n` only.
            line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        }
        SourceFile {
            path,
            lone_cr_breaks,
            ascii: text.is_ascii(),
            text,
            line_starts,
        }
    }

    /// The display form of the path, with `/` separators on every platform.
    pub fn display_path(&self) -> String {
        display_path(&self.path)
    }

    /// 0-based index of the line holding `offset`.
    pub fn line_index(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        }
    }

    /// Whether a lone `\r` ends a line here, as it does in Python; in Rust
    /// (and in syn's line numbers) only `\n` does.
    pub fn lone_cr_breaks(&self) -> bool {
        self.lone_cr_breaks
    }

    pub fn line_start(&self, line_index: usize) -> usize {
        self.line_starts[line_index]
    }

    /// The byte range of a line without its terminator (`\n` or `\r\n`).
    pub fn line_text(&self, line_index: usize) -> &str {
        let start = self.line_starts[line_index];
        let end = self
            .line_starts
            .get(line_index + 1)
            .copied()
            .unwrap_or(self.text.len());
        self.text[start..end].trim_end_matches(['\n', '\r'])
    }

    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    pub fn location(&self, offset: usize) -> Location {
        let offset = self.floor_char_boundary(offset.min(self.text.len()));
        let line = self.line_index(offset);
        let start = self.line_starts[line];
        Location {
            row: line + 1,
            column: self.text[start..offset].chars().count() + 1,
        }
    }

    /// The byte offset of a 1-based row and 0-based character column, as
    /// syn reports them; clamped to the line.
    pub fn offset_of_char_column(&self, row: usize, char_column: usize) -> usize {
        let line = row.saturating_sub(1).min(self.line_starts.len() - 1);
        let text = self.line_text(line);
        let start = self.line_starts[line];
        if self.ascii {
            return start + char_column.min(text.len());
        }
        start
            + text
                .char_indices()
                .nth(char_column)
                .map(|(i, _)| i)
                .unwrap_or(text.len())
    }

    fn floor_char_boundary(&self, mut offset: usize) -> usize {
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// Whether the file mostly ends its lines with `\r\n`, so that inserted
    /// lines can follow suit.
    pub fn uses_crlf(&self) -> bool {
        let crlf = self.text.matches("\r\n").count();
        crlf > 0 && crlf * 2 >= self.line_starts.len() - 1
    }
}

pub fn display_path(path: &std::path::Path) -> String {
    let s = path.to_string_lossy();
    let s = s.strip_prefix("./").unwrap_or(&s);
    if cfg!(windows) {
        s.replace('\\', "/")
    } else {
        // A backslash is an ordinary character of a Unix file name.
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn normal_absolute_paths_are_kept_and_others_normalised() {
        let cases = [
            ("/a/b/c.py", "/a/b/c.py", true),
            ("/a/./b.py", "/a/b.py", false),
            ("/a/x/../b.py", "/a/b.py", false),
            ("/a//b.py", "/a/b.py", false),
            ("/a/b/", "/a/b", false),
            ("/a/.hidden/b.py", "/a/.hidden/b.py", true),
            ("/a/..b/c.py", "/a/..b/c.py", true),
            ("/", "/", false),
        ];
        for (given, expected, fast) in cases {
            let path = std::path::Path::new(given);
            assert_eq!(is_normal(path, true), fast, "{given}");
            assert_eq!(absolute(path), PathBuf::from(expected), "{given}");
        }
        let cwd = std::env::current_dir().unwrap();
        for (given, below, fast) in [
            ("a/b.py", "a/b.py", true),
            ("./a/b.py", "a/b.py", false),
            ("a/x/../b.py", "a/b.py", false),
            ("a//b.py", "a/b.py", false),
        ] {
            let path = std::path::Path::new(given);
            assert_eq!(is_normal(path, false), fast, "{given}");
            assert_eq!(absolute(path), cwd.join(below), "{given}");
        }
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let f = SourceFile::new("x.py", "a = 'é'\nb = 1\n".to_string());
        assert_eq!(f.location(0), Location { row: 1, column: 1 });
        // The closing quote comes after a two-byte character.
        assert_eq!(f.location(7), Location { row: 1, column: 7 });
        assert_eq!(f.location(9), Location { row: 2, column: 1 });
        assert_eq!(f.location(f.text.len()), Location { row: 3, column: 1 });
    }

    #[test]
    fn char_columns_map_back_to_offsets() {
        let f = SourceFile::new("x.rs", "fn é() {}\nlet x;\n".to_string());
        assert_eq!(f.offset_of_char_column(1, 4), 5);
        assert_eq!(f.offset_of_char_column(2, 4), 15);
    }

    #[test]
    fn crlf_detection() {
        assert!(SourceFile::new("a", "x\r\ny\r\n".into()).uses_crlf());
        assert!(!SourceFile::new("a", "x\ny\n".into()).uses_crlf());
    }
}
