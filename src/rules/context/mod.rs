//! What a rule sees of one file. The pipeline builds a context per file
//! and hands it to every enabled rule of the file's language; a context
//! computes what its rules ask for at most once, and only when some rule
//! asks (the dataflow engine runs for a Python file only if an enabled
//! rule reads its functions).
//!
//! Rules read the IR (`crate::ir`, which also holds the engine's
//! `Outcome`) and each front end's semantic model, never syntax trees
//! (`tests/layers.rs` checks).

pub(crate) mod python;
pub(crate) mod rust;

pub use crate::python::rewrite::NoRewrite;
use std::cell::OnceCell;

use crate::ir::{Function, Outcome};
use crate::python::context::FileContext;
use crate::python::model::Model;
use crate::resources::ResourceTable;
use crate::rust::state::StoredResource;
use crate::source::SourceFile;

/// One Rust file, lowered and analysed.
pub struct RustContext<'a> {
    pub source: &'a SourceFile,
    functions: &'a [(Function, Outcome)],
    /// Resource types written in long-lived places (statics, application
    /// state).
    pub stored: &'a [StoredResource],
}

impl<'a> RustContext<'a> {
    pub(crate) fn new(
        source: &'a SourceFile,
        functions: &'a [(Function, Outcome)],
        stored: &'a [StoredResource],
    ) -> RustContext<'a> {
        RustContext {
            source,
            functions,
            stored,
        }
    }

    /// The file's functions, methods, closures and async blocks with the
    /// engine's outcome for each. Tests are left out: they exercise pools,
    /// leaks and failures on purpose, and a `?` in a test just fails it.
    pub fn functions(&self) -> impl Iterator<Item = (&'a Function, &'a Outcome)> {
        self.functions
            .iter()
            .filter(|(f, _)| !f.info.is_test)
            .map(|(f, o)| (f, o))
    }
}

/// One Python file: its names and semantic model (whose parts are built
/// when a rule first asks), and its functions lowered and run through the
/// engine when a rule first asks for them.
pub struct PythonContext<'a> {
    pub source: &'a SourceFile,
    /// What the first pass learnt of the project's functions.
    pub summaries: &'a crate::python::context::SummaryView<'a>,
    file: &'a FileContext<'a>,
    model: &'a Model<'a, 'a>,
    functions: OnceCell<Vec<(Function, Outcome)>>,
}

impl<'a> PythonContext<'a> {
    pub(crate) fn new(
        source: &'a SourceFile,
        summaries: &'a crate::python::context::SummaryView<'a>,
        file: &'a FileContext<'a>,
        model: &'a Model<'a, 'a>,
        // Functions already lowered with these same summaries (the first
        // pass's), so that they are not lowered again.
        functions: Option<Vec<(Function, Outcome)>>,
    ) -> PythonContext<'a> {
        PythonContext {
            source,
            summaries,
            file,
            model,
            functions: functions.map(OnceCell::from).unwrap_or_default(),
        }
    }

    /// The Python resource knowledge, the user's own specs included.
    pub fn resources(&self) -> &'a ResourceTable {
        self.file.resources
    }

    /// The module's names and bindings resolved with the project's
    /// summaries.
    pub fn file(&self) -> &'a FileContext<'a> {
        self.file
    }

    /// The semantic model: classes, functions, scopes, registrations and
    /// `with` items, with resolved resource types.
    pub fn model(&self) -> &'a Model<'a, 'a> {
        self.model
    }

    /// Every function of the module, lowered, with the engine's outcome.
    pub fn functions(&self) -> impl Iterator<Item = (&Function, &Outcome)> {
        self.functions
            .get_or_init(|| {
                crate::python::lower_file(self.file())
                    .into_iter()
                    .map(|l| {
                        let outcome = crate::analysis::analyse(&l.function);
                        (l.function, outcome)
                    })
                    .collect()
            })
            .iter()
            .map(|(f, o)| (f, o))
    }

    /// LK101's rewrite: the acquisition at `call` becomes a `with`
    /// (`keyword`) block binding `var` over the rest of its block.
    pub fn with_block_edits(
        &self,
        call: crate::diagnostic::Span,
        var: &str,
        keyword: &str,
    ) -> Result<Vec<crate::diagnostic::Edit>, NoRewrite> {
        let module = self.file.module;
        let root = module.tree.root_node();
        let block = crate::python::rewrite::WithBlock {
            call,
            var,
            keyword,
            newline: self.newline(),
            reads: &self.resources().vocabulary.materialising_reads,
        };
        crate::python::rewrite::with_block(module.text, root, &block)
    }

    /// LK102's rewrite: the statements from the acquisition at `call` to
    /// the release at `release` go into `try:`, the release into
    /// `finally:`.
    pub fn try_finally_edits(
        &self,
        call: crate::diagnostic::Span,
        release: crate::diagnostic::Span,
    ) -> Result<Vec<crate::diagnostic::Edit>, NoRewrite> {
        let module = self.file.module;
        let root = module.tree.root_node();
        crate::python::rewrite::try_finally(module.text, root, call, release, self.newline())
    }

    /// The line ending that inserted lines use: the file's own.
    pub fn newline(&self) -> &'static str {
        if self.source.text.contains("\r\n") {
            "\r\n"
        } else {
            "\n"
        }
    }
}
