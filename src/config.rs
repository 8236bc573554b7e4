//! Configuration: `leaklint.toml`, `.leaklint.toml` or `[tool.leaklint]` in
//! `pyproject.toml`, found from each checked path upwards (nearest wins),
//! or one file named with `--config`. Command-line options are laid over
//! whichever file applies.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::report::Format;
use crate::resources::{self, ResourceSpec, ResourceTable, SpecLanguage};
use crate::rules;

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
    let bad = |e: toml::de::Error| {
        ConfigError(format!(
            "invalid configuration in {}: {}",
            path.display(),
            e.message()
        ))
    };
    if path.file_name().is_some_and(|n| n == "pyproject.toml") {
        let py: Pyproject = toml::from_str(&text).map_err(bad)?;
        match py.tool.and_then(|t| t.leaklint) {
            None => Ok(None),
            Some(value) => Options::deserialize(value).map(Some).map_err(|e| {
                ConfigError(format!(
                    "invalid [tool.leaklint] in {}: {}",
                    path.display(),
                    e.message()
                ))
            }),
        }
    } else {
        toml::from_str(&text).map(Some).map_err(bad)
    }
}

/// Which rules run, compiled from `select`/`extend-select`/`ignore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet {
    enabled: Vec<&'static str>,
}

impl RuleSet {
    pub fn all() -> RuleSet {
        RuleSet {
            enabled: rules::all().iter().map(|r| r.code).collect(),
        }
    }

    pub fn contains(&self, code: &str) -> bool {
        self.enabled.contains(&code)
    }
}

/// The codes a selector picks: `ALL`, an exact code, or a code prefix
/// (`LK1`); an error naming the valid ones when it picks none.
fn expand_selector(selector: &str, key: &str) -> Result<Vec<&'static str>, ConfigError> {
    let sel = selector.trim().to_ascii_uppercase();
    let matched: Vec<_> = rules::all()
        .iter()
        .map(|r| r.code)
        .filter(|c| sel == "ALL" || (!sel.is_empty() && c.starts_with(&sel)))
        .collect();
    if matched.is_empty() {
        let valid: Vec<_> = rules::all().iter().map(|r| r.code).collect();
        return Err(ConfigError(format!(
            "unknown rule selector `{selector}` in `{key}`; valid codes are {} (or a prefix of them, or ALL)",
            valid.join(", ")
        )));
    }
    Ok(matched)
}

fn expand_all(selectors: &[String], key: &str) -> Result<Vec<&'static str>, ConfigError> {
    let mut out = Vec::new();
    for s in selectors {
        out.extend(expand_selector(s, key)?);
    }
    Ok(out)
}

fn build_globs(patterns: &[String], key: &str) -> Result<GlobSet, ConfigError> {
    let mut builder = GlobSetBuilder::new();
    for p in patterns {
        let glob = Glob::new(p.trim_end_matches('/'))
            .map_err(|e| ConfigError(format!("invalid glob `{p}` in `{key}`: {e}")))?;
        builder.add(glob);
    }
    builder
        .build()
        .map_err(|e| ConfigError(format!("invalid globs in `{key}`: {e}")))
}

/// Everything resolved for the files one configuration governs.
#[derive(Debug)]
pub struct Settings {
    /// The directory relative globs are anchored at: the configuration
    /// file's, or the working directory when there is none.
    pub root: PathBuf,
    /// Where the settings came from, for messages.
    pub source: Option<PathBuf>,
    pub rules: RuleSet,
    exclude: GlobSet,
    pub force_exclude: bool,
    per_file_ignores: Vec<(GlobSet, Vec<&'static str>)>,
    pub format: Option<Format>,
    pub python: ResourceTable,
    pub rust: ResourceTable,
    /// The modules of `python`'s acquisitions, for the byte prefilter.
    pub python_libraries: crate::python::analyse::LibraryModules,
    /// Which Rust files can matter, for the byte prefilter.
    pub rust_prefilter: crate::rust::analyse::RustPrefilter,
}

impl Settings {
    pub fn from_options(
        root: PathBuf,
        source: Option<PathBuf>,
        options: &Options,
    ) -> Result<Settings, ConfigError> {
        let mut enabled = match &options.select {
            Some(sel) => expand_all(sel, "select")?,
            None => rules::all().iter().map(|r| r.code).collect(),
        };
        if let Some(extra) = &options.extend_select {
            enabled.extend(expand_all(extra, "extend-select")?);
        }
        if let Some(ignore) = &options.ignore {
            let ignored = expand_all(ignore, "ignore")?;
            enabled.retain(|c| !ignored.contains(c));
        }
        enabled.sort_unstable();
        enabled.dedup();

        let mut excludes: Vec<String> = match &options.exclude {
            Some(e) => e.clone(),
            None => DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect(),
        };
        excludes.extend(options.extend_exclude.iter().flatten().cloned());

        let mut per_file_ignores = Vec::new();
        for (glob, codes) in options.per_file_ignores.iter().flatten() {
            let set = build_globs(std::slice::from_ref(glob), "per-file-ignores")?;
            per_file_ignores.push((set, expand_all(codes, "per-file-ignores")?));
        }

        let extra: &[ResourceSpec] = options.resource.as_deref().unwrap_or(&[]);
        for spec in extra {
            spec.validate()
                .map_err(|e| ConfigError(format!("invalid [[resource]]: {e}")))?;
        }
        let python = resources::table_for(SpecLanguage::Python, extra);
        let rust = resources::table_for(SpecLanguage::Rust, extra);
        Ok(Settings {
            root,
            source,
            rules: RuleSet { enabled },
            exclude: build_globs(&excludes, "exclude")?,
            force_exclude: options.force_exclude.unwrap_or(false),
            per_file_ignores,
            format: options.format,
            python_libraries: crate::python::analyse::LibraryModules::new(&python),
            python,
            rust_prefilter: crate::rust::analyse::RustPrefilter::new(&rust),
            rust,
        })
    }

    fn relative(&self, path: &Path) -> PathBuf {
        let abs = absolute(path);
        match abs.strip_prefix(&self.root) {
            Ok(rel) => rel.to_path_buf(),
            Err(_) => abs,
        }
    }

    /// Whether `path` itself matches an exclude pattern, by its name or by
    /// its path relative to the root.
    pub fn is_excluded(&self, path: &Path) -> bool {
        !self.exclude.is_empty() && self.excluded_relative(&self.relative(path))
    }

    fn excluded_relative(&self, rel: &Path) -> bool {
        let name_hit = rel
            .file_name()
            .is_some_and(|n| self.exclude.is_match(Path::new(n)));
        name_hit || self.exclude.is_match(rel)
    }

    /// Whether `path` or any directory above it (below the root) is
    /// excluded: what `--force-exclude` checks for files named explicitly.
    pub fn is_excluded_with_ancestors(&self, path: &Path) -> bool {
        if self.exclude.is_empty() {
            return false;
        }
        let rel = self.relative(path);
        rel.ancestors()
            .take_while(|p| !p.as_os_str().is_empty() && *p != Path::new("/"))
            .any(|p| self.excluded_relative(p))
    }

    /// The codes `per-file-ignores` switches off for `path`.
    pub fn ignored_for(&self, path: &Path) -> Vec<&'static str> {
        let rel = self.relative(path);
        let name = path.file_name().map(Path::new);
        self.per_file_ignores
            .iter()
            .filter(|(set, _)| set.is_match(&rel) || name.is_some_and(|n| set.is_match(n)))
            .flat_map(|(_, codes)| codes.iter().copied())
            .collect()
    }
}

/// Finds the configuration that governs each directory, once per
/// directory, and lays the command line over it.
pub struct Resolver {
    cli: Options,
    explicit: Option<Arc<Settings>>,
    default: Arc<Settings>,
    cache: Mutex<HashMap<PathBuf, Arc<Settings>>>,
}

impl Resolver {
    /// `config`: the `--config` file, which then governs every path.
    pub fn new(config: Option<&Path>, cli: Options) -> Result<Resolver, ConfigError> {
        let cwd = std::env::current_dir()
            .map_err(|e| ConfigError(format!("cannot read the working directory: {e}")))?;
        let explicit = match config {
            Some(path) => {
                let options = read_options(path)?.ok_or_else(|| {
                    ConfigError(format!("{} has no [tool.leaklint] table", path.display()))
                })?;
                let root = absolute(path)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or(cwd.clone());
                Some(Arc::new(Settings::from_options(
                    root,
                    Some(path.to_path_buf()),
                    &options.overlay(&cli),
                )?))
            }
            None => None,
        };
        let default = Arc::new(Settings::from_options(
            cwd,
            None,
            &Options::default().overlay(&cli),
        )?);
        Ok(Resolver {
            cli,
            explicit,
            default,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The settings that govern the files in `dir` (an absolute path).
    pub fn settings_for_dir(&self, dir: &Path) -> Result<Arc<Settings>, ConfigError> {
        if let Some(s) = &self.explicit {
            return Ok(s.clone());
        }
        if let Some(s) = self.cache.lock().unwrap().get(dir) {
            return Ok(s.clone());
        }
        let mut found = None;
        for name in CONFIG_FILES {
            let candidate = dir.join(name);
            if candidate.is_file() {
                if let Some(options) = read_options(&candidate)? {
                    found = Some((candidate, options));
                    break;
                }
            }
        }
        let settings = match found {
            Some((path, options)) => Arc::new(Settings::from_options(
                dir.to_path_buf(),
                Some(path),
                &options.overlay(&self.cli),
            )?),
            None => match dir.parent() {
                Some(parent) => self.settings_for_dir(parent)?,
                None => self.default.clone(),
            },
        };
        self.cache
            .lock()
            .unwrap()
            .insert(dir.to_path_buf(), settings.clone());
        Ok(settings)
    }
}

/// An absolute, lexically normalised path (no symlink resolution: the
/// user's view of the tree is what globs are written against).
pub fn absolute(path: &Path) -> PathBuf {
    static CWD: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(toml_text: &str) -> Result<Settings, ConfigError> {
        let options: Options =
            toml::from_str(toml_text).map_err(|e| ConfigError(e.message().to_string()))?;
        Settings::from_options(PathBuf::from("/proj"), None, &options)
    }

    #[test]
    fn unknown_keys_are_named_with_the_valid_ones() {
        let err = settings("colour = true").unwrap_err().0;
        assert!(err.contains("colour"), "{err}");
        assert!(err.contains("extend-select"), "{err}");
    }

    #[test]
    fn unknown_codes_are_named_with_the_valid_ones() {
        let err = settings("select = [\"LK999\"]").unwrap_err().0;
        assert!(err.contains("LK999") && err.contains("LK104"), "{err}");
        assert!(settings("ignore = [\"XYZ\"]")
            .unwrap_err()
            .0
            .contains("`ignore`"));
    }

    #[test]
    fn select_ignore_and_prefixes() {
        let s = settings("select = [\"LK1\"]").unwrap();
        assert!(s.rules.contains("LK104") && !s.rules.contains("LK001"));
        let s = settings("ignore = [\"LK104\"]").unwrap();
        assert!(!s.rules.contains("LK104") && s.rules.contains("LK001"));
        let s = settings("select = [\"LK001\"]\nextend-select = [\"lk104\"]").unwrap();
        assert!(
            s.rules.contains("LK104") && s.rules.contains("LK001") && !s.rules.contains("LK002")
        );
    }

    #[test]
    fn excludes_match_names_and_relative_paths() {
        let s = settings("extend-exclude = [\"migrations\", \"gen/*.py\"]").unwrap();
        assert!(s.is_excluded(Path::new("/proj/app/migrations")));
        assert!(s.is_excluded(Path::new("/proj/.venv")));
        assert!(s.is_excluded(Path::new("/proj/gen/x.py")));
        assert!(!s.is_excluded(Path::new("/proj/app/x.py")));
        assert!(s.is_excluded_with_ancestors(Path::new("/proj/build/lib/x.py")));
        let s = settings("exclude = []").unwrap();
        assert!(!s.is_excluded(Path::new("/proj/build")));
    }

    #[test]
    fn per_file_ignores_by_glob() {
        let s = settings("[per-file-ignores]\n\"tests/*\" = [\"LK104\"]").unwrap();
        assert_eq!(
            s.ignored_for(Path::new("/proj/tests/test_a.py")),
            vec!["LK104"]
        );
        assert!(s.ignored_for(Path::new("/proj/app/a.py")).is_empty());
    }

    #[test]
    fn user_resources_join_the_tables() {
        let s = settings(
            "[[resource]]\ntype = \"app.DatabaseService\"\nkind = \"connection\"\nacquire = [{ call = \"app.DatabaseService.get_instance\" }]\nrelease = [{ call = \"app.DatabaseService.reset_instance\" }]\n",
        )
        .unwrap();
        assert!(s
            .python
            .acquired_by_call("app.DatabaseService.get_instance")
            .next()
            .is_some());
        assert!(s
            .rust
            .acquired_by_call("app.DatabaseService.get_instance")
            .next()
            .is_none());
    }

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
