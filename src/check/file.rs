//! One file through the pipeline: parse, build the rule context, run
//! the enabled rules, apply suppressions and per-file ignores; and fixing
//! one file, re-checking after each round.

use super::project::Project;
use super::read::io_finding;
use crate::diagnostic::{Finding, Span};
use crate::fix;
use crate::python::analyse::{package_of, worth_lowering};
use crate::python::context::{module_name, FileContext};
use crate::python::model::Model;
use crate::python::{self, PyModule};
use crate::rules::{Check, PythonContext, RuleLanguage, RustContext, SYNTAX_ERROR};
use crate::rust::{self, RustParse};
use crate::settings::Settings;
use crate::source::{Language, SourceFile};
use crate::suppress;

/// Whether `text` fails to parse: a fix is kept only if its result still
/// parses.
pub fn has_syntax_error(text: &str, language: Language) -> bool {
    match language {
        Language::Python => {
            let module = PyModule::parse(text);
            module.refused_indentation.is_some() || module.first_syntax_error().is_some()
        }
        Language::Rust => {
            let parsed = rust::parse(&SourceFile::new("", text.to_string()));
            !matches!(*parsed, RustParse::Parsed(_))
        }
    }
}

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
    if let Some(levels) = module.refused_indentation {
        let message = format!(
            "file not analysed: it nests {levels} indentation levels deep, over Python's limit of {} (CPython rejects it too: too many levels of indentation)",
            python::MAX_INDENT_LEVELS
        );
        return (vec![io_finding(message)], Vec::new());
    }
    let mut findings = Vec::new();
    if let Some(depth) = module.too_deep() {
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
    let file = FileContext::new(&module, &settings.python, &project.python, name);
    let model = Model::new(&file);
    let cx = PythonContext::new(source, &project.python, &file, &model);
    for rule in settings.rules.rules() {
        if let Check::Python(check) = rule.check {
            findings.extend(check(&cx));
        }
    }
    // Comments matter only for suppressing findings.
    let comments = if findings.is_empty() {
        Vec::new()
    } else {
        module.comments()
    };
    (findings, comments)
}

fn lint_rust(source: &SourceFile, settings: &Settings, project: &Project) -> Vec<Finding> {
    // Only files the prefilter admits are lowered.
    let wanted =
        settings.rules.any_of(RuleLanguage::Rust) && settings.rust_prefilter.admits(&source.text);
    let parsed = rust::parse(source);
    match &*parsed {
        RustParse::Parsed(file) if wanted => {
            let lowered = rust::analyse::lower_file(file, source, &settings.rust, &project.rust);
            let functions: Vec<_> = lowered
                .functions
                .into_iter()
                .map(|f| {
                    let outcome = crate::analysis::analyse(&f);
                    (f, outcome)
                })
                .collect();
            let cx = RustContext::new(source, &functions, &lowered.stored);
            settings
                .rules
                .rules()
                .filter_map(|rule| match rule.check {
                    Check::Rust(check) => Some(check(&cx)),
                    _ => None,
                })
                .flatten()
                .collect()
        }
        RustParse::Parsed(_) => Vec::new(),
        RustParse::SyntaxError(span, message) => vec![SYNTAX_ERROR.finding(
            *span,
            message.clone(),
            "Fix the syntax error; leaklint does not analyse Rust files it cannot parse.",
        )],
        RustParse::TooDeep(depth) => vec![io_finding(format!(
            "file not analysed: its code nests {depth} levels deep (brackets, prefix operators or generic arguments), over the limit of {}",
            rust::MAX_GROUP_DEPTH
        ))],
    }
}

/// The outcome of fixing one file.
pub struct Fixed {
    pub text: String,
    pub fixes_applied: usize,
    /// Findings of the final text.
    pub remaining: Vec<Finding>,
}

/// Fixes, re-checks and fixes again until the text settles. Files with a
/// syntax error are left alone: an edit cannot be checked against a tree
/// that was already broken.
pub fn fix_file(
    project: &Project,
    source: &SourceFile,
    language: Language,
    settings: &Settings,
    allow_unsafe: bool,
) -> Fixed {
    let mut fixed = Fixed {
        text: source.text.clone(),
        fixes_applied: 0,
        remaining: lint(source, language, settings, project),
    };
    if has_syntax_error(&fixed.text, language) {
        return fixed;
    }
    let lint_text = |text: &str| {
        lint(
            &SourceFile::new(source.path.clone(), text.to_string()),
            language,
            settings,
            project,
        )
    };
    for _ in 0..fix::MAX_ROUNDS {
        let Some(round) = fix_round(&fixed, language, allow_unsafe, &lint_text) else {
            break;
        };
        fixed = round;
    }
    fixed
}

/// One round of fixes on `current`, re-checked: kept only if the text
/// parses and the re-check finds nothing new. When the round as a whole
/// brings a finding, its fixes are tried one at a time and the first that
/// passes alone is kept.
fn fix_round(
    current: &Fixed,
    language: Language,
    allow_unsafe: bool,
    lint_text: &dyn Fn(&str) -> Vec<Finding>,
) -> Option<Fixed> {
    let parses = |t: &str| !has_syntax_error(t, language);
    let (text, findings) = (&current.text, &current.remaining);
    let (edits, fixed) = fix::choose_edits(text, findings, allow_unsafe, &parses)?;
    let try_edits = |edits: &[crate::diagnostic::Edit], fixed: &[usize]| {
        let next = fix::apply_edits(text, edits);
        let after = lint_text(&next);
        fix::only_fixed_went(findings, fixed, &after).then(|| Fixed {
            text: next,
            fixes_applied: current.fixes_applied + fixed.len(),
            remaining: after,
        })
    };
    if let Some(round) = try_edits(&edits, &fixed) {
        return Some(round);
    }
    if fixed.len() == 1 {
        return None;
    }
    fixed.iter().find_map(|&i| {
        let (edits, _) = fix::choose_edits(
            text,
            std::slice::from_ref(&findings[i]),
            allow_unsafe,
            &parses,
        )?;
        try_edits(&edits, &[i])
    })
}
