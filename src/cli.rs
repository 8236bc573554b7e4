//! The command line: `check`, `rules`, `rule`. Parses arguments, runs the
//! pipeline over the files in parallel, reports, and picks the exit code
//! (0 no findings, 1 findings, 2 usage, configuration or internal error).

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::check;
use crate::config::Options;
use crate::diagnostic::FileFindings;
use crate::discover::{self, Target};
use crate::fix;
use crate::report::{self, Format, ReportOptions};
use crate::rules;
use crate::settings::Resolver;
use crate::source::Language;

#[derive(Parser)]
#[command(
    name = "leaklint",
    version,
    about = "Finds leaky database and HTTP sessions, connections, pools, clients and transactions in Python and Rust code."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check files and directories (default: the current directory).
    Check(Box<CheckArgs>),
    /// List every rule.
    Rules {
        /// `text` (a table) or `json`.
        #[arg(long, value_enum, default_value_t = ListFormat::Text)]
        format: ListFormat,
    },
    /// Print a rule's page: what it finds, why, examples and the fix.
    Rule {
        /// The rule's code, e.g. LK104.
        code: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ListFormat {
    Text,
    Json,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Args)]
struct CheckArgs {
    /// Files or directories to check.
    paths: Vec<PathBuf>,
    /// Output format (overrides `format` in the configuration).
    #[arg(long, value_enum, alias = "output-format")]
    format: Option<Format>,
    /// When to colour the text format.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    color: ColorChoice,
    /// Apply safe fixes.
    #[arg(long)]
    fix: bool,
    /// Also offer and, with --fix, apply unsafe fixes.
    #[arg(long)]
    unsafe_fixes: bool,
    /// Print the fixes as a unified diff; write nothing.
    #[arg(long)]
    diff: bool,
    /// Rules to enable (codes or prefixes, comma-separated); replaces `select`.
    #[arg(long, value_delimiter = ',')]
    select: Option<Vec<String>>,
    /// Rules to enable on top of the selection.
    #[arg(long, value_delimiter = ',')]
    extend_select: Option<Vec<String>>,
    /// Rules to disable.
    #[arg(long, value_delimiter = ',')]
    ignore: Option<Vec<String>>,
    /// Globs of paths to exclude; replaces the default list and `exclude`.
    #[arg(long, value_delimiter = ',')]
    exclude: Option<Vec<String>>,
    /// Globs of paths to exclude in addition.
    #[arg(long, value_delimiter = ',')]
    extend_exclude: Option<Vec<String>>,
    /// Exclude matching files even when they are named on the command line.
    #[arg(long)]
    force_exclude: bool,
    /// Use this configuration file for every path.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Read the source from standard input and report it under this path.
    #[arg(long)]
    stdin_filename: Option<PathBuf>,
    /// Write the report to this file instead of standard output.
    #[arg(short = 'o', long)]
    output_file: Option<PathBuf>,
    /// Print the number of findings per rule instead of the findings.
    #[arg(long)]
    statistics: bool,
    /// Exit 0 even when there are findings.
    #[arg(long)]
    exit_zero: bool,
    /// Learn the project's helpers only from the files named, not from
    /// the whole project they belong to.
    #[arg(long)]
    no_project: bool,
    /// Parse and analyse every file, even those whose bytes name no
    /// resource library and no project helper (slower; the findings are
    /// the same).
    #[arg(long)]
    no_prefilter: bool,
    /// Print how many files were read, parsed and analysed (to stderr).
    #[arg(short, long)]
    verbose: bool,
    /// Neither replay nor remember reports.
    #[arg(long)]
    no_cache: bool,
    /// Where reports are remembered [default: `.leaklint_cache` in the
    /// project root, else in the working directory when the files are
    /// under it].
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// The cache directory a run uses: none with `--no-cache`; `--cache-dir`;
/// else `.leaklint_cache` at the project root of the first path named
/// (standard input's file name, else the first path, else `.`), or in
/// the working directory when every path is under it (loose files).
fn cache_dir_for(args: &CheckArgs, resolver: &Resolver) -> Option<PathBuf> {
    if args.no_cache {
        return None;
    }
    if let Some(dir) = &args.cache_dir {
        return Some(dir.clone());
    }
    let named: Vec<PathBuf> = match &args.stdin_filename {
        Some(name) => vec![name.clone()],
        None if args.paths.is_empty() => vec![PathBuf::from(".")],
        None => args.paths.clone(),
    };
    let first = crate::source::absolute(&named[0]);
    let dir = if first.is_dir() {
        first.clone()
    } else {
        first.parent()?.to_path_buf()
    };
    let settings = resolver.settings_for_dir(&dir).ok()?;
    // A name inside `dir`: its project is the directory's.
    let root = discover::ProjectRoots::default()
        .of_file(&dir.join("-"), &settings)
        .or_else(|| {
            let cwd = crate::source::absolute(Path::new("."));
            named
                .iter()
                .all(|p| crate::source::absolute(p).starts_with(&cwd))
                .then_some(cwd)
        })?;
    Some(root.join(".leaklint_cache"))
}

/// Runs the command line and returns the process's exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check(args) => match run_check(*args) {
            Ok(code) => code,
            Err(message) => {
                eprintln!("leaklint: error: {message}");
                ExitCode::from(2)
            }
        },
        Command::Rules { format } => {
            print_rules(format);
            ExitCode::SUCCESS
        }
        Command::Rule { code } => match rules::by_code(&code) {
            Some(rule) => {
                print!("{}", rules::page(rule));
                ExitCode::SUCCESS
            }
            None => {
                let codes: Vec<_> = rules::all().iter().map(|r| r.code).collect();
                eprintln!(
                    "leaklint: error: unknown rule `{code}`; known rules: {}",
                    codes.join(", ")
                );
                ExitCode::from(2)
            }
        },
    }
}

fn print_rules(format: ListFormat) {
    match format {
        ListFormat::Json => {
            let list: Vec<_> = rules::all()
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "code": r.code, "name": r.name, "language": r.language().as_str(),
                        "severity": r.severity.as_str(), "fix": r.fix.as_str(), "summary": r.summary,
                    })
                })
                .collect();
            println!(
                "{}",
                serde_json::to_string_pretty(&list).expect("plain JSON values")
            );
        }
        ListFormat::Text => {
            let width = rules::all().iter().map(|r| r.name.len()).max().unwrap_or(4);
            println!(
                "{:<7} {:<width$} {:<9} {:<10} summary",
                "code", "name", "language", "fix"
            );
            for r in rules::all() {
                println!(
                    "{:<7} {:<width$} {:<9} {:<10} {}",
                    r.code,
                    r.name,
                    r.language().as_str(),
                    r.fix.as_str(),
                    r.summary
                );
            }
        }
    }
}

/// What to do with fixes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FixMode {
    Report,
    Apply,
    Diff,
}

fn cli_options(args: &CheckArgs) -> Options {
    Options {
        select: args.select.clone(),
        ignore: args.ignore.clone(),
        extend_select: args.extend_select.clone(),
        exclude: args.exclude.clone(),
        extend_exclude: args.extend_exclude.clone(),
        force_exclude: args.force_exclude.then_some(true),
        per_file_ignores: None,
        format: args.format,
        resource: None,
    }
}

/// Why `check` could not do its job (exit 2).
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Run(#[from] check::RunError),
    #[error("cannot read standard input: {0}")]
    Stdin(std::io::Error),
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    /// Writing the report or the fixed text to standard output.
    #[error(transparent)]
    Output(#[from] std::io::Error),
}

fn run_check(args: CheckArgs) -> Result<ExitCode, CliError> {
    let mode = if args.diff {
        FixMode::Diff
    } else if args.fix {
        FixMode::Apply
    } else {
        FixMode::Report
    };
    let resolver = Arc::new(Resolver::new(args.config.as_deref(), cli_options(&args))?);
    let cache_dir = cache_dir_for(&args, &resolver);
    let walks = cache_dir
        .as_ref()
        .map(|d| discover::Walks::at(d.clone(), resolver.fingerprint()));
    let cache = cache_dir.map(check::Cache::at);
    if let (Some(cache), FixMode::Report) = (&cache, mode) {
        // Only a report uses the index (fixes always recompute).
        cache.prefetch_index();
    }

    let mut failed = false;
    let (targets, stdin_text) = match &args.stdin_filename {
        Some(name) => {
            let settings = resolver.settings_for_dir(
                &crate::source::absolute(name)
                    .parent()
                    .map(Path::to_path_buf)
                    .unwrap_or_default(),
            )?;
            // Read at most one byte over the file size limit: standard
            // input has no size to ask for, and may not end.
            let mut text = Vec::new();
            let mut stdin = std::io::stdin().lock();
            (&mut stdin)
                .take(check::MAX_FILE_BYTES + 1)
                .read_to_end(&mut text)
                .map_err(CliError::Stdin)?;
            let too_large = text.len() as u64 > check::MAX_FILE_BYTES;
            let excluded = (settings.force_exclude || args.force_exclude)
                && settings.is_excluded_with_ancestors(name);
            let language = Language::from_path(name).unwrap_or(Language::Python);
            if excluded {
                if mode == FixMode::Apply {
                    let mut stdout = std::io::stdout().lock();
                    stdout.write_all(&text)?;
                    // An editor replaces its buffer with what comes back.
                    std::io::copy(&mut stdin, &mut stdout)?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let text = if too_large {
                Err(check::ReadError::StdinTooLarge)
            } else {
                check::decode(text)
            };
            let target = Target {
                path: name.clone(),
                language,
                settings,
            };
            (vec![target], Some(text))
        }
        None => {
            let paths = if args.paths.is_empty() {
                vec![PathBuf::from(".")]
            } else {
                args.paths.clone()
            };
            let found = discover::discover(&paths, &resolver, args.force_exclude, walks.as_ref());
            for w in &found.warnings {
                eprintln!("leaklint: warning: {w}");
            }
            for e in &found.errors {
                eprintln!("leaklint: error: {e}");
                failed = true;
            }
            (found.targets, None)
        }
    };

    let check_mode = match mode {
        FixMode::Report => check::Mode::Report,
        FixMode::Apply | FixMode::Diff => check::Mode::Fix {
            unsafe_fixes: args.unsafe_fixes,
        },
    };
    let project_files = if args.no_project {
        Vec::new()
    } else {
        // Directories walked already hold their files; with standard
        // input nothing was walked.
        let walked: Vec<PathBuf> = match &args.stdin_filename {
            Some(_) => Vec::new(),
            None if args.paths.is_empty() => vec![PathBuf::from(".")],
            None => args.paths.clone(),
        }
        .into_iter()
        .filter(|p| p.is_dir())
        .filter_map(|p| std::fs::canonicalize(p).ok())
        .collect();
        discover::project_files(&targets, &walked, &resolver, walks.as_ref())
    };
    let targets = check::Targets {
        files: targets,
        stdin: stdin_text,
        project_files,
    };
    let options = check::RunOptions {
        prefilter: !args.no_prefilter,
        cache,
    };
    let report = check::run(&targets, check_mode, &options)?;
    if args.verbose {
        let c = &report.counts;
        let n = check::Counts::get;
        eprintln!(
            "leaklint: {} files checked, {} in their projects; {} read, {} parses, {} analysed, {} rounds{}",
            targets.files.len(),
            n(&c.files),
            n(&c.read),
            n(&c.parsed),
            n(&c.analysed),
            n(&c.rounds),
            if n(&c.cached) > 0 {
                "; replayed from the cache".to_string()
            } else if n(&c.remembered) > 0 {
                format!("; {} Python passes from the cache", n(&c.remembered))
            } else {
                String::new()
            }
        );
    }
    let stdin_text = targets.stdin;
    for message in &report.errors {
        eprintln!("leaklint: error: {message}");
        failed = true;
    }
    let checked = report.files;

    let fixed_total: usize = checked.iter().map(|c| c.fixes_applied).sum();
    let mut stdout = std::io::stdout().lock();
    match mode {
        FixMode::Diff => {
            for c in &checked {
                if let Some(new) = &c.fixed {
                    let old = check::read_problem(&c.findings.source.path)
                        .ok()
                        .or_else(|| stdin_text.as_ref().and_then(|t| t.as_ref().ok().cloned()))
                        .unwrap_or_default();
                    write!(
                        stdout,
                        "{}",
                        fix::unified_diff(&c.findings.source.display_path(), &old, new)
                    )?;
                }
            }
            eprintln!("Would fix {fixed_total} finding{}.", plural(fixed_total));
            let any_findings =
                fixed_total > 0 || checked.iter().any(|c| !c.findings.findings.is_empty());
            return Ok(exit_code(failed, any_findings && !args.exit_zero));
        }
        FixMode::Apply => {
            for c in &checked {
                if let (Some(new), None) = (&c.fixed, &stdin_text) {
                    if let Err(e) = fix::write_atomically(&c.findings.source.path, new) {
                        eprintln!(
                            "leaklint: error: cannot write {}: {e}",
                            c.findings.source.path.display()
                        );
                        failed = true;
                    }
                }
            }
            if let Some(Ok(original)) = &stdin_text {
                // Editors replace the buffer with what comes back.
                let text = checked
                    .first()
                    .and_then(|c| c.fixed.clone())
                    .unwrap_or_else(|| original.clone());
                stdout.write_all(text.as_bytes())?;
            }
            if fixed_total > 0 {
                eprintln!("Fixed {fixed_total} finding{}.", plural(fixed_total));
            }
        }
        FixMode::Report => {}
    }

    let files: Vec<FileFindings> = checked.into_iter().map(|c| c.findings).collect();
    let any_findings = files.iter().any(|f| !f.findings.is_empty());
    let format = args
        .format
        .or_else(|| targets_format(&resolver, &args))
        .unwrap_or_default();
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            args.output_file.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    let options = ReportOptions {
        color,
        unsafe_fixes: args.unsafe_fixes,
    };
    let mut buffer = Vec::new();
    let written = if args.statistics {
        report::write_statistics(format, &files, &mut buffer)
    } else {
        report::write_report(format, &files, options, &mut buffer)
    };
    written?;
    let stdin_fix = mode == FixMode::Apply && stdin_text.is_some();
    match &args.output_file {
        Some(path) => std::fs::write(path, &buffer).map_err(|source| CliError::Write {
            path: path.display().to_string(),
            source,
        })?,
        // With `--fix` on standard input, stdout carries the fixed source.
        None if stdin_fix => std::io::stderr().write_all(&buffer)?,
        None => stdout.write_all(&buffer)?,
    }
    let _ = stdout.flush();
    Ok(exit_code(failed, any_findings && !args.exit_zero))
}

/// The configured `format` of the configuration that governs the first
/// path (or the standard-input file name, or the working directory).
fn targets_format(resolver: &Resolver, args: &CheckArgs) -> Option<Format> {
    let first = args
        .stdin_filename
        .as_ref()
        .or(args.paths.first())
        .cloned()
        .unwrap_or_else(|| PathBuf::from("."));
    let abs = crate::source::absolute(&first);
    let dir = if abs.is_dir() {
        abs
    } else {
        abs.parent().map(Path::to_path_buf).unwrap_or(abs)
    };
    resolver.settings_for_dir(&dir).ok().and_then(|s| s.format)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn exit_code(failed: bool, findings: bool) -> ExitCode {
    if failed {
        ExitCode::from(2)
    } else if findings {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
