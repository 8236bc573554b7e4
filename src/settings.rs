//! What a configuration means for the files it governs: the rules
//! selected, the exclude and per-file-ignore globs, the resource tables
//! with the user's own specs, and the front ends' byte prefilters; and
//! which configuration governs each directory (nearest file wins, or the
//! one named with `--config`; the command line is laid over it).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::config::{read_options, ConfigError, Format, Options, CONFIG_FILES, DEFAULT_EXCLUDES};
use crate::resources::{self, ResourceSpec, ResourceTable, SpecLanguage};
use crate::rules::RuleSet;
use crate::source::absolute;

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
    /// Everything these settings were made from (root, source, the
    /// merged options, as text), hashed: two settings with the same
    /// fingerprint give the same findings, which is what the cache keys
    /// on (once per file, so short).
    pub fingerprint: String,
}

impl Settings {
    pub fn from_options(
        root: PathBuf,
        source: Option<PathBuf>,
        options: &Options,
    ) -> Result<Settings, ConfigError> {
        let selector = |e: crate::rules::UnknownSelector| ConfigError(e.to_string());
        let rules = RuleSet::select(
            options.select.as_deref(),
            options.extend_select.as_deref(),
            options.ignore.as_deref(),
        )
        .map_err(selector)?;

        let mut excludes: Vec<String> = match &options.exclude {
            Some(e) => e.clone(),
            None => DEFAULT_EXCLUDES.iter().map(|s| s.to_string()).collect(),
        };
        excludes.extend(options.extend_exclude.iter().flatten().cloned());

        let mut per_file_ignores = Vec::new();
        for (glob, codes) in options.per_file_ignores.iter().flatten() {
            let set = build_globs(std::slice::from_ref(glob), "per-file-ignores")?;
            per_file_ignores.push((
                set,
                crate::rules::expand(codes, "per-file-ignores").map_err(selector)?,
            ));
        }

        let extra: &[ResourceSpec] = options.resource.as_deref().unwrap_or(&[]);
        for spec in extra {
            spec.validate()
                .map_err(|e| ConfigError(format!("invalid [[resource]]: {e}")))?;
        }
        let python = resources::table_for(SpecLanguage::Python, extra);
        let rust = resources::table_for(SpecLanguage::Rust, extra);
        // The output format changes no finding: CI's SARIF run and a
        // pre-commit hook's concise one share their cache entries.
        let keyed = Options {
            format: None,
            ..options.clone()
        };
        let fingerprint =
            crate::store::hex_sha256(format!("{root:?}\n{source:?}\n{keyed:?}").as_bytes());
        let (python_libraries, rust_prefilter) = prefilters(extra, &python, &rust);
        Ok(Settings {
            fingerprint,
            root,
            source,
            rules,
            exclude: build_globs(&excludes, "exclude")?,
            force_exclude: options.force_exclude.unwrap_or(false),
            per_file_ignores,
            format: options.format,
            python_libraries,
            rust_prefilter,
            python,
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

/// The byte prefilters for these tables. Without the user's own specs
/// the tables are the built-in ones, and so are the automatons: built once
/// per process, not once per configuration file.
type Prefilters = (
    crate::python::analyse::LibraryModules,
    crate::rust::analyse::RustPrefilter,
);

fn prefilters(extra: &[ResourceSpec], python: &ResourceTable, rust: &ResourceTable) -> Prefilters {
    let build = || {
        (
            crate::python::analyse::LibraryModules::new(python),
            crate::rust::analyse::RustPrefilter::new(rust),
        )
    };
    if !extra.is_empty() {
        return build();
    }
    static BUILT_IN: std::sync::OnceLock<Prefilters> = std::sync::OnceLock::new();
    BUILT_IN.get_or_init(build).clone()
}

/// Finds the configuration that governs each directory, once per
/// directory, and lays the command line over it.
pub struct Resolver {
    cli: Options,
    explicit: Option<Arc<Settings>>,
    default: Arc<Settings>,
    /// By the directory's path bytes (hashing a `Path` walks its
    /// components; this is asked once per file).
    cache: Mutex<foldhash::HashMap<std::ffi::OsString, Arc<Settings>>>,
    /// Directories known to hold no configuration file (a remembered walk
    /// says so): not probed.
    unconfigured: Mutex<std::collections::HashSet<PathBuf>>,
}

impl Resolver {
    /// What the resolver was made from (the command line's options, the
    /// working directory, a `--config` file's content): what a remembered
    /// walk depends on besides the tree.
    pub fn fingerprint(&self) -> String {
        format!(
            "{}\n{:?}",
            self.default.fingerprint,
            self.explicit.as_ref().map(|s| &s.fingerprint)
        )
    }

    /// Tells the resolver these directories (absolute) hold no
    /// configuration file, so that it does not look.
    pub fn note_unconfigured(&self, dirs: Vec<PathBuf>) {
        self.unconfigured.lock().unwrap().extend(dirs);
    }

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
            cache: Mutex::default(),
            unconfigured: Mutex::default(),
        })
    }

    /// The settings that govern the files in `dir` (an absolute path).
    pub fn settings_for_dir(&self, dir: &Path) -> Result<Arc<Settings>, ConfigError> {
        if let Some(s) = &self.explicit {
            return Ok(s.clone());
        }
        if let Some(s) = self.cache.lock().unwrap().get(dir.as_os_str()) {
            return Ok(s.clone());
        }
        let mut found = None;
        let probe = !self.unconfigured.lock().unwrap().contains(dir);
        for name in CONFIG_FILES.iter().filter(|_| probe) {
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
            .insert(dir.as_os_str().to_os_string(), settings.clone());
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;

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
}
