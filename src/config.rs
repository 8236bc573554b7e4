//! Configuration as plain data: the keys of `leaklint.toml`,
//! `.leaklint.toml` or `[tool.leaklint]` in `pyproject.toml`, and how one
//! file is read and laid over another. What the keys mean for a run (rule
//! selection, globs, resource tables) is compiled in `settings`; this
//! module knows nothing of rules, front ends or reporters.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::resources::ResourceSpec;

/// The output formats a configuration or the command line can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// Rendered source excerpts with labels (ariadne).
    #[default]
    Text,
    /// `path:row:col: CODE message`, one per line, for problem matchers.
    Concise,
    /// One JSON array, one object per finding.
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations).
    Github,
}

/// Names that are never worth walking into; `exclude` replaces this list,
/// `extend-exclude` adds to it.
pub const DEFAULT_EXCLUDES: &[&str] = &[
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".leaklint_cache",
    "node_modules",
    "target",
    "__pycache__",
    "build",
    "dist",
];

/// The file names searched in each directory, in order of preference.
pub const CONFIG_FILES: &[&str] = &["leaklint.toml", ".leaklint.toml", "pyproject.toml"];

/// The keys a configuration may set, as written in TOML.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Options {
    pub select: Option<Vec<String>>,
    pub ignore: Option<Vec<String>>,
    pub extend_select: Option<Vec<String>>,
    pub exclude: Option<Vec<String>>,
    pub extend_exclude: Option<Vec<String>>,
    pub force_exclude: Option<bool>,
    pub per_file_ignores: Option<BTreeMap<String, Vec<String>>>,
    pub format: Option<Format>,
    pub resource: Option<Vec<ResourceSpec>>,
}

impl Options {
    /// `over` wins where it says something; list extensions accumulate.
    pub fn overlay(mut self, over: &Options) -> Options {
        // A new `select` starts the selection afresh: what the lower layer
        // ignored or added was relative to a selection that is gone.
        if over.select.is_some() {
            self.ignore = None;
            self.extend_select = None;
        }
        macro_rules! take {
            ($($f:ident),*) => {$( if over.$f.is_some() { self.$f = over.$f.clone(); } )*};
        }
        take!(
            select,
            ignore,
            exclude,
            force_exclude,
            per_file_ignores,
            format,
            resource
        );
        for (mine, theirs) in [
            (&mut self.extend_select, &over.extend_select),
            (&mut self.extend_exclude, &over.extend_exclude),
        ] {
            if let Some(theirs) = theirs {
                mine.get_or_insert_with(Vec::new)
                    .extend(theirs.iter().cloned());
            }
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize)]
struct Pyproject {
    tool: Option<PyprojectTool>,
}

#[derive(Deserialize)]
struct PyprojectTool {
    leaklint: Option<toml::Value>,
}

/// Reads a configuration file. `Ok(None)` for a `pyproject.toml` without a
/// `[tool.leaklint]` table: it does not count as a configuration.
pub fn read_options(path: &Path) -> Result<Option<Options>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
    let pyproject = path.file_name().is_some_and(|n| n == "pyproject.toml");
    parse_options(&text, pyproject, &path.display().to_string())
}

/// Parses a configuration's text: a `leaklint.toml` (`pyproject` false) or
/// the `[tool.leaklint]` table of a `pyproject.toml`. `shown` names the
/// file in messages.
pub fn parse_options(
    text: &str,
    pyproject: bool,
    shown: &str,
) -> Result<Option<Options>, ConfigError> {
    let bad = |e: toml::de::Error| {
        ConfigError(format!("invalid configuration in {shown}: {}", e.message()))
    };
    if pyproject {
        let py: Pyproject = toml::from_str(text).map_err(bad)?;
        match py.tool.and_then(|t| t.leaklint) {
            None => Ok(None),
            Some(value) => Options::deserialize(value).map(Some).map_err(|e| {
                ConfigError(format!(
                    "invalid [tool.leaklint] in {shown}: {}",
                    e.message()
                ))
            }),
        }
    } else {
        toml::from_str(text).map(Some).map_err(bad)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_prefers_the_command_line() {
        let file: Options =
            toml::from_str("select = [\"LK104\"]\nextend-exclude = [\"a\"]").unwrap();
        let cli = Options {
            select: Some(vec!["LK001".into()]),
            extend_exclude: Some(vec!["b".into()]),
            ..Options::default()
        };
        let merged = file.overlay(&cli);
        assert_eq!(merged.select.unwrap(), vec!["LK001"]);
        assert_eq!(merged.extend_exclude.unwrap(), vec!["a", "b"]);
    }
}
