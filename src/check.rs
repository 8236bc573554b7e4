//! The per-file pipeline: parse, run the enabled rules, apply suppressions
//! and per-file ignores. Knows nothing of walking or reporting.

use std::path::Path;

use crate::config::Settings;
use crate::diagnostic::{Finding, Span};
use crate::python::analyse::{analyse_module, package_of, worth_lowering};
use crate::python::context::{module_name, FileContext, Summaries};
use crate::python::model::Model;
use crate::python::{self, PyModule};
use crate::rules::{self, IO_ERROR, SYNTAX_ERROR};
use crate::rust::{self, RustParse};
use crate::source::{Language, SourceFile};
use crate::suppress;

/// Files larger than this are reported (LK002) instead of analysed: they
/// are generated or data, and would dominate the run's time and memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a file's text could not be had, worded for an LK002 message.
pub fn read_problem(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("could not read file: {e}"))?;
    if meta.is_dir() {
        return Err("could not read file: it is a directory".to_string());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file not analysed: {} bytes is over the {} MiB limit",
            meta.len(),
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("could not read file: {e}"))?;
    decode(bytes)
}

/// UTF-8 text, or a message that says where it stops being UTF-8.
pub fn decode(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        format!("could not read file: not valid UTF-8 (line {line}, byte offset {valid}); leaklint reads UTF-8 sources only")
    })
}

/// An LK002 finding for a file whose text could not be had.
pub fn io_finding(message: String) -> Finding {
    IO_ERROR.finding(
        Span::empty_at(0),
        message,
        "Make the file readable as UTF-8 text, or exclude it with `extend-exclude`.",
    )
}

/// Whether `text` fails to parse: a fix is kept only if its result still
/// parses.
pub fn has_syntax_error(text: &str, language: Language) -> bool {
    match language {
        Language::Python => PyModule::parse(text).first_syntax_error().is_some(),
        Language::Rust => {
            let parsed = rust::parse(&SourceFile::new("", text.to_string()));
            rust::release_spans();
            !matches!(parsed, RustParse::Parsed(_))
        }
    }
}

/// What the first pass learnt about the whole project.
#[derive(Debug, Default, Clone)]
pub struct Project {
    pub python: Summaries,
    /// Type aliases, struct fields and pool-acquiring functions of the
    /// Rust files, for names one file defines and another uses.
    pub rust: crate::rust::project::RustProject,
    /// The modules that own a summary, for a quick "does this file
    /// touch the project's resource helpers" test.
    pub python_modules: std::collections::HashSet<String>,
}

impl Project {
    pub fn new(python: Summaries) -> Project {
        let python_modules = crate::python::analyse::summarised_modules(&python);
        Project {
            python,
            python_modules,
            rust: Default::default(),
        }
    }
}

/// The first pass: summaries of the functions in files that import a
/// resource library (see `wanted_by_first_pass`), in two rounds so that
/// helpers built on helpers are known too. `files` are (path, text, settings).
pub fn build_project(files: &[(&Path, &str, &Settings)]) -> Project {
    use rayon::prelude::*;
    let admitted: Vec<&(&Path, &str, &Settings)> = files
        .par_iter()
        .filter(|(_, text, settings)| wanted_by_first_pass(text, settings))
        .collect();
    let summarise = |files: &[&(&Path, &str, &Settings)], known: &Summaries| -> Vec<_> {
        files
            .par_iter()
            .flat_map_iter(|(path, text, settings)| {
                python::analyse::summarise_file(path, text, &settings.python, known)
            })
            .collect()
    };
    let mut summaries: Summaries = summarise(&admitted, &Summaries::new())
        .into_iter()
        .collect();
    // A second round over the files that call a factory found in the
    // first, so that helpers built on helpers are known too.
    let factories: Vec<String> = summaries
        .iter()
        .filter(|(_, s)| s.returns.is_some() || s.dependency_generator)
        .filter_map(|(q, _)| q.rsplit('.').next().map(|n| format!("{n}(")))
        .collect();
    let callers: Vec<&(&Path, &str, &Settings)> = admitted
        .iter()
        .copied()
        .filter(|(_, text, _)| factories.iter().any(|f| text.contains(f.as_str())))
        .collect();
    if !callers.is_empty() {
        let found = summarise(&callers, &summaries);
        summaries.extend(found);
    }
    Project::new(summaries)
}

/// The Rust part of the first pass: the facts of every file that uses a
/// database crate, merged.
pub fn build_rust_project(files: &[(&Path, &str, &Settings)]) -> crate::rust::project::RustProject {
    use rayon::prelude::*;
    files
        .par_iter()
        .map(|(path, text, settings)| {
            let source = SourceFile::new(*path, text.to_string());
            crate::rust::project::summarise_file(&source, &settings.rust)
        })
        .reduce(Default::default, |mut a, b| {
            a.absorb(b);
            a
        })
}

/// Whether the Rust first pass should summarise a file.
pub fn wanted_by_rust_first_pass(text: &str, settings: &Settings) -> bool {
    RUST_RULES.iter().any(|c| settings.rules.contains(c))
        && settings.rust_prefilter.summarises(text)
}

/// Whether the first pass should summarise a file: the engine is on and
/// the file imports a library that acquires resources.
pub fn wanted_by_first_pass(text: &str, settings: &Settings) -> bool {
    ENGINE_RULES.iter().any(|c| settings.rules.contains(c))
        && settings.python_libraries.imported_by(text)
}

/// The rules that need the dataflow engine.
const ENGINE_RULES: &[&str] = &[
    "LK101", "LK102", "LK103", "LK105", "LK106", "LK107", "LK108", "LK109",
];

/// Every finding for one file's text, suppressions and settings applied,
/// sorted by position.
pub fn lint(
    source: &SourceFile,
    language: Language,
    settings: &Settings,
    project: &Project,
) -> Vec<Finding> {
    if std::env::var_os("LEAKLINT_DEBUG_PANIC_ON").is_some_and(|p| {
        !p.is_empty()
            && source
                .path
                .to_string_lossy()
                .contains(&*p.to_string_lossy())
    }) {
        // A hidden hook so tests can prove a panic in one file loses no
        // other file's findings.
        panic!("LEAKLINT_DEBUG_PANIC_ON matched {}", source.path.display());
    }
    if suppress::skips_file(source, language) {
        return Vec::new();
    }
    let (mut findings, comments) = match language {
        Language::Python => lint_python(source, settings, project),
        Language::Rust => (lint_rust(source, settings, project), Vec::new()),
    };
    suppress::apply(source, language, &comments, &mut findings);
    let ignored = settings.ignored_for(&source.path);
    findings.retain(|f| settings.rules.contains(f.code) && !ignored.contains(&f.code));
    findings.sort_by(|a, b| {
        (a.span.start, a.code, a.span.end).cmp(&(b.span.start, b.code, b.span.end))
    });
    findings.dedup();
    findings
}

fn lint_python(
    source: &SourceFile,
    settings: &Settings,
    project: &Project,
) -> (Vec<Finding>, Vec<Span>) {
    let mut module = PyModule::parse(&source.text);
    let mut findings = Vec::new();
    let depth = if python::may_be_deep(&source.text) {
        module.max_depth()
    } else {
        0
    };
    if depth > python::MAX_TREE_DEPTH {
        findings.push(io_finding(format!(
            "file not analysed: its syntax tree is {depth} levels deep, over the limit of {}",
            python::MAX_TREE_DEPTH
        )));
        return (findings, Vec::new());
    }
    if let Some((span, message)) = module.first_syntax_error() {
        findings.push(SYNTAX_ERROR.finding(
            span,
            message,
            "Fix the syntax error; leaklint analysed only the parts it could parse.",
        ));
    }
    // Every rule below needs a library (or a project module that wraps
    // one) imported: files that import none are done after parsing.
    let name = module_name(&source.path);
    module.imports.anchor(&package_of(&source.path, &name));
    if !worth_lowering(
        &module,
        &name,
        &settings.python_libraries,
        &project.python_modules,
    ) {
        let comments = if findings.is_empty() {
            Vec::new()
        } else {
            module.comments()
        };
        return (findings, comments);
    }
    let ctx = FileContext::new(&module, &settings.python, &project.python, name);
    let model = Model::new(&ctx);
    if settings.rules.contains(rules::WITH_DOES_NOT_CLOSE.code) {
        findings.extend(rules::with_does_not_close::check(
            &model,
            source.uses_crlf(),
        ));
    }
    let engine_wanted = ENGINE_RULES.iter().any(|c| settings.rules.contains(c));
    if engine_wanted {
        let results = analyse_module(&ctx);
        if settings
            .rules
            .contains(rules::SESSION_STORED_LONG_LIVED.code)
        {
            findings.extend(rules::session_stored_long_lived::check(&model));
        }
        if settings
            .rules
            .contains(rules::STARTUP_WITHOUT_SHUTDOWN.code)
        {
            findings.extend(rules::startup_without_shutdown::check(&model));
        }
        if settings.rules.contains(rules::OWNER_WITHOUT_CLOSE.code) {
            findings.extend(rules::owner_without_close::check(&model));
        }
        if settings
            .rules
            .contains(rules::FIXTURE_WITHOUT_TEARDOWN.code)
        {
            findings.extend(rules::fixture_without_teardown::check(&results));
        }
        findings.extend(rules::python_leaks::check(
            &ctx,
            &results,
            &settings.rules,
            &project.python,
        ));
    }
    // Comments matter only for suppressing findings.
    let comments = if findings.is_empty() {
        Vec::new()
    } else {
        module.comments()
    };
    (findings, comments)
}

/// The Rust rules: only files the prefilter admits are lowered.
const RUST_RULES: &[&str] = &[
    "LK201", "LK202", "LK203", "LK204", "LK205", "LK206", "LK207", "LK208",
];

fn lint_rust(source: &SourceFile, settings: &Settings, project: &Project) -> Vec<Finding> {
    let wanted = RUST_RULES.iter().any(|c| settings.rules.contains(c))
        && settings.rust_prefilter.admits(&source.text);
    let parsed = rust::parse(source);
    let findings = match parsed {
        RustParse::Parsed(file) if wanted => {
            let analysis =
                rust::analyse::analyse_file(&file, source, &settings.rust, &project.rust);
            rules::rust_leaks::check(&analysis, &file, source, &settings.rules)
        }
        RustParse::Parsed(_) => Vec::new(),
        RustParse::SyntaxError(span, message) => vec![SYNTAX_ERROR.finding(
            span,
            message,
            "Fix the syntax error; leaklint does not analyse Rust files it cannot parse.",
        )],
        RustParse::TooDeep(depth) => vec![io_finding(format!(
            "file not analysed: its code nests {depth} levels deep (brackets, prefix operators or generic arguments), over the limit of {}",
            rust::MAX_GROUP_DEPTH
        ))],
    };
    rust::release_spans();
    findings
}
