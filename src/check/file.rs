//! One file through the pipeline: parse, build the rule context, run
//! the enabled rules, apply suppressions and per-file ignores; and fixing
//! one file, re-checking after each round.

use super::project::Project;
use super::read::io_finding;
use super::words::SummaryWords;
use crate::diagnostic::{Finding, Span};
use crate::fix;
use crate::python::analyse::{global_summaries, package_of, summarise};
use crate::python::context::{
    module_name, Dependencies, FileContext, FnSummary, Summaries, SummaryView,
};
use crate::python::model::Model;
use crate::python::owners::owner_summaries;
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
/// sorted by position. Files the prefilter turns away (they name no
/// resource library and none of the project's summarised names) are not
/// parsed and have none.
pub fn lint(
    source: &SourceFile,
    language: Language,
    settings: &Settings,
    project: &Project,
) -> Vec<Finding> {
    debug_panic_hook(source);
    match language {
        Language::Python => {
            let admitted = admits_python(&source.text, settings, &project.words);
            if !admitted && project.prefilter {
                return Vec::new();
            }
            python_pass(source, settings, &project.python, admitted, true).findings
        }
        Language::Rust => lint_rust(source, settings, project),
    }
}

/// A hidden hook so tests can prove a panic in one file loses no other
/// file's findings.
pub(crate) fn debug_panic_hook(source: &SourceFile) {
    if std::env::var_os("LEAKLINT_DEBUG_PANIC_ON").is_some_and(|p| {
        !p.is_empty()
            && source
                .path
                .to_string_lossy()
                .contains(&*p.to_string_lossy())
    }) {
        panic!("LEAKLINT_DEBUG_PANIC_ON matched {}", source.path.display());
    }
}

/// The byte prefilter for Python: the file imports a resource library
/// (from `rules/`) or writes one of the project's summarised names.
pub(crate) fn admits_python(text: &str, settings: &Settings, words: &SummaryWords) -> bool {
    settings.python_libraries.imported_by(text) || words.mentioned_in(text)
}

/// Suppressions, per-file ignores and the selection applied; sorted.
fn finish(
    source: &SourceFile,
    language: Language,
    settings: &Settings,
    comments: &[Span],
    mut findings: Vec<Finding>,
) -> Vec<Finding> {
    suppress::apply(source, language, comments, &mut findings);
    let ignored = settings.ignored_for(&source.path);
    findings.retain(|f| settings.rules.contains(f.code) && !ignored.contains(&f.code));
    findings.sort_by(|a, b| {
        (a.span.start, a.code, a.span.end).cmp(&(b.span.start, b.code, b.span.end))
    });
    findings.dedup();
    findings
}

/// How many times a file is lowered again with its own new summaries, so
/// that its helpers built on its own helpers are known (`get_repo` over
/// `get_conn` in one module).
const OWN_ROUNDS: usize = 3;

/// One Python file from one parse: its summaries (for the project), the
/// project summaries it depends on, and (when `want_findings`) its
/// findings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PythonPass {
    /// The module's dotted name, which its summaries' keys begin with.
    pub module: String,
    pub summaries: Vec<(String, FnSummary)>,
    /// What the analysis asked of the project's summaries, and was told:
    /// the result stays right while the project gives the same answers.
    pub deps: Dependencies,
    /// Suppressions and settings applied.
    pub findings: Vec<Finding>,
}

/// The analysis of one Python file with the project's summaries `known`.
/// The file's own summaries take the place of the project's for its own
/// names, and the file is lowered again with them until they settle.
/// `report_unparsed`: whether LK001/LK002 for an unparsable file are
/// reported (for files the prefilter admits: only those are analysed).
pub fn python_pass(
    source: &SourceFile,
    settings: &Settings,
    known: &Summaries,
    report_unparsed: bool,
    want_findings: bool,
) -> PythonPass {
    let mut out = PythonPass::default();
    let mut module = PyModule::parse(&source.text);
    let refused = module
        .refused_indentation
        .map(|levels| format!(
            "file not analysed: it nests {levels} indentation levels deep, over Python's limit of {} (CPython rejects it too: too many levels of indentation)",
            python::MAX_INDENT_LEVELS
        ))
        .or_else(|| {
            module.too_deep().map(|depth| {
                format!(
                    "file not analysed: its syntax tree is {depth} levels deep, over the limit of {}",
                    python::MAX_TREE_DEPTH
                )
            })
        });
    if let Some(message) = refused {
        if report_unparsed && want_findings {
            out.findings = finish(
                source,
                Language::Python,
                settings,
                &[],
                vec![io_finding(message)],
            );
        }
        return out;
    }
    let mut findings = Vec::new();
    if let Some((span, message)) = module.first_syntax_error().filter(|_| report_unparsed) {
        findings.push(SYNTAX_ERROR.finding(
            span,
            message,
            "Fix the syntax error; leaklint analysed only the parts it could parse.",
        ));
    }
    let name = module_name(&source.path);
    module.imports.anchor(&package_of(&source.path, &name));
    for (long, short) in python::context::namespace_prefixes(&source.path, &name) {
        module.imports.rebase(&long, &short);
    }
    out.module = name.clone();
    let mut view = SummaryView::new(Summaries::new(), known);
    let mut lowered = None;
    if settings.rules.need_project(RuleLanguage::Python) {
        // The resource classes are learnt in the first round only: a
        // class of this file built on another one of its classes is
        // learnt in the project's next round, when its own summaries come
        // back as the project's (each round costs a model of the file).
        let mut owners: Option<Vec<(String, crate::python::context::FnSummary)>> = None;
        for _ in 0..OWN_ROUNDS {
            let file = FileContext::new(&module, &settings.python, &view, name.clone());
            let results: Vec<_> = python::lower_file(&file)
                .into_iter()
                .map(|l| {
                    let outcome = crate::analysis::analyse(&l.function);
                    (l, outcome)
                })
                .collect();
            let mut found = summarise(&results, &settings.python.vocabulary);
            found.extend(global_summaries(&file));
            found.extend(python::model::namespace_summaries(&file));
            found.extend(python::wanted_callees::wanted_callees(&file));
            found.extend(
                owners
                    .get_or_insert_with(|| owner_summaries(&file))
                    .iter()
                    .cloned(),
            );
            // Every reader treats an empty summary as no summary; left
            // in, each would be a name that admits its callers' files.
            found.retain(|(_, s)| !s.is_empty());
            let own: Summaries = found.iter().cloned().collect();
            drop(file);
            // Nothing answered from the file's own summaries yet (its
            // first round) and none of the project's answers changed by
            // them: lowering again would find the same.
            let settled = view.own() == &own
                || (view.own().is_empty() && !view.own_would_change_answers(&own));
            out.summaries = found;
            view.set_own(own);
            if settled {
                lowered = Some(results);
                break;
            }
        }
    }
    let skipped = suppress::skips_file(source, Language::Python);
    if !want_findings || skipped || !settings.rules.any_of(RuleLanguage::Python) {
        if want_findings && !skipped && !findings.is_empty() {
            out.findings = finish(
                source,
                Language::Python,
                settings,
                &module.comments(),
                findings,
            );
        }
        out.deps = view.asked();
        return out;
    }
    let file = FileContext::new(&module, &settings.python, &view, name);
    let model = Model::new(&file);
    let functions = lowered.map(|results| {
        results
            .into_iter()
            .map(|(l, outcome)| (l.function, outcome))
            .collect()
    });
    let cx = PythonContext::new(source, &view, &file, &model, functions);
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
    out.findings = finish(source, Language::Python, settings, &comments, findings);
    out.deps = view.asked();
    out
}

fn lint_rust(source: &SourceFile, settings: &Settings, project: &Project) -> Vec<Finding> {
    let admitted = project.admits_rust(&source.text, settings, &source.path);
    if (!admitted && project.prefilter) || suppress::skips_file(source, Language::Rust) {
        return Vec::new();
    }
    let parsed = rust::parse(source);
    let findings = match &*parsed {
        RustParse::Parsed(file) if settings.rules.any_of(RuleLanguage::Rust) => {
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
        // Only the files the prefilter admits are analysed, so only they
        // can be unparsable.
        _ if !admitted => Vec::new(),
        RustParse::SyntaxError(span, message) => vec![SYNTAX_ERROR.finding(
            *span,
            message.clone(),
            "Fix the syntax error; leaklint does not analyse Rust files it cannot parse.",
        )],
        RustParse::TooDeep(depth) => vec![io_finding(format!(
            "file not analysed: its code nests {depth} levels deep (brackets, prefix operators or generic arguments), over the limit of {}",
            rust::MAX_GROUP_DEPTH
        ))],
    };
    finish(source, Language::Rust, settings, &[], findings)
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
