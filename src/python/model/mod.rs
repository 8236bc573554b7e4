//! The Python semantic model: what the syntactic rules (LK104, LK107,
//! LK108, LK109) ask about a file, as plain data with spans and resolved
//! resource types, so that rules never walk a syntax tree.
//!
//! It is built from the parse and the name resolution of a
//! [`FileContext`], one section at a time and only when a rule first asks
//! for it: most files need none of them, and each section costs what the
//! walk that made it costs. Sections describe structure and resolved facts
//! (this call acquires a `sqlite3.Connection`, this method calls `close`
//! on `self.conn`); what counts as a leak is the rules' to decide.

mod calls;
mod classes;
mod functions;
mod globals;
mod hooks;
mod request_globals;
mod scopes;
mod withs;

#[cfg(test)]
mod tests;

use std::cell::OnceCell;

use crate::diagnostic::{Edit, Span};
use crate::python::context::FileContext;
use crate::resources::{ResourceTable, Vocabulary};

pub(crate) use calls::{Call, Callee};
pub(crate) use classes::{AttributeUse, Class, ClassBody};
pub(crate) use functions::{Function, FunctionBody};
pub(crate) use globals::{GlobalStore, ModuleState};
pub(crate) use hooks::{HookEvent, HookRegistration, Registration, ValueKind};
pub(crate) use request_globals::{namespace_summaries, RequestState};
pub(crate) use scopes::{Scope, ScopeKind, Statement};
pub(crate) use withs::WithItem;

/// One file's semantic model; sections are computed on first use.
pub struct Model<'c, 'a> {
    ctx: &'c FileContext<'a>,
    with_items: OnceCell<Vec<WithItem<'a>>>,
    classes: OnceCell<Vec<Class<'a>>>,
    scopes: OnceCell<Vec<Scope<'a>>>,
    registrations: OnceCell<Vec<Registration<'a>>>,
    functions: OnceCell<Vec<Function<'a>>>,
    hook_registrations: OnceCell<Vec<HookRegistration>>,
    module_state: OnceCell<ModuleState<'a>>,
    request_state: OnceCell<RequestState<'a>>,
}

impl<'c, 'a> Model<'c, 'a> {
    pub fn new(ctx: &'c FileContext<'a>) -> Self {
        Model {
            ctx,
            with_items: OnceCell::new(),
            classes: OnceCell::new(),
            scopes: OnceCell::new(),
            registrations: OnceCell::new(),
            functions: OnceCell::new(),
            hook_registrations: OnceCell::new(),
            module_state: OnceCell::new(),
            request_state: OnceCell::new(),
        }
    }

    /// The resource knowledge the model resolved types with.
    pub(crate) fn resources(&self) -> &'a ResourceTable {
        self.ctx.resources
    }

    /// The merged vocabulary of the Python rules files.
    pub(crate) fn vocabulary(&self) -> &'a Vocabulary {
        &self.ctx.resources.vocabulary
    }

    /// Whether the file's text mentions any of `words` at all: a byte-level
    /// test that lets a rule skip files that cannot concern it.
    pub(crate) fn mentions(&self, words: &[String]) -> bool {
        Vocabulary::within(words, self.ctx.module.text)
    }

    /// Names passed as a lifespan (`FastAPI(lifespan=...)`).
    pub(crate) fn lifespans(&self) -> &[String] {
        &self.ctx.lifespans
    }

    /// Every `with` item, in document order, whose context manager is a
    /// call to an imported name that acquires a resource.
    pub(crate) fn with_items(&self) -> &[WithItem<'a>] {
        self.with_items.get_or_init(|| withs::collect(self.ctx))
    }

    /// Every class of the file (nested ones too), in document order.
    pub(crate) fn classes(&self) -> &[Class<'a>] {
        self.classes.get_or_init(|| classes::collect(self.ctx))
    }

    /// What happens to `self` attributes inside `class`.
    pub(crate) fn class_body<'m>(&self, class: &'m Class<'a>) -> &'m ClassBody<'a> {
        class.body(self.ctx)
    }

    /// The source text of a class definition.
    pub(crate) fn class_text(&self, class: &Class<'a>) -> &'a str {
        self.ctx.text(class.node)
    }

    /// A class's bases as qualified keys (see [`Class::base_keys`]).
    pub(crate) fn base_keys(&self, class: &Class<'a>) -> Vec<String> {
        class.base_keys(self.ctx)
    }

    /// Whether `base` is a base that gives its subclasses no release:
    /// `object`, a vocabulary `plain-bases` entry, or a project class
    /// whose module found it so (its `#plain` summary).
    pub(crate) fn is_plain_base(&self, base: &str) -> bool {
        base == "object"
            || Vocabulary::has(&self.vocabulary().plain_bases, base)
            || self
                .ctx
                .summaries
                .get(&format!("{base}#plain"))
                .is_some_and(|s| s.plain_class)
    }

    /// The module and each class body: the places whose bindings live as
    /// long as the program or the class.
    pub(crate) fn scopes(&self) -> &[Scope<'a>] {
        self.scopes
            .get_or_init(|| scopes::collect(self.ctx, self.classes()))
    }

    /// Calls to a registering method (the vocabulary's
    /// `registering-methods`) on some receiver, in document order.
    pub(crate) fn registrations(&self) -> &[Registration<'a>] {
        self.registrations
            .get_or_init(|| hooks::registrations(self.ctx))
    }

    /// Functions that are decorated (anywhere) or defined at module level,
    /// in document order.
    pub(crate) fn functions(&self) -> &[Function<'a>] {
        self.functions.get_or_init(|| functions::collect(self.ctx))
    }

    /// What the body of `function` assigns and calls.
    pub(crate) fn function_body<'m>(&self, function: &'m Function<'a>) -> &'m FunctionBody<'a> {
        function.body(self.ctx)
    }

    /// Handlers registered for application events by call or keyword
    /// (`app.add_event_handler("shutdown", f)`, `on_shutdown=[f]`).
    pub(crate) fn hook_registrations(&self) -> &[HookRegistration] {
        self.hook_registrations
            .get_or_init(|| hooks::hook_registrations(self.ctx))
    }

    /// Resources that functions store in module globals, module-level
    /// containers and class attributes, and the names the file releases.
    pub(crate) fn module_state(&self) -> &ModuleState<'a> {
        self.module_state.get_or_init(|| globals::collect(self.ctx))
    }

    /// What the file keeps on a per-request namespace (Flask's `g`).
    pub(crate) fn request_state(&self) -> &RequestState<'a> {
        self.request_state
            .get_or_init(|| request_globals::collect(self.ctx))
    }

    /// Whether some module of the project releases what the request
    /// namespace `namespace` (`flask.g`) holds as `attribute`.
    pub(crate) fn namespace_released(&self, namespace: &str, attribute: &str) -> bool {
        [
            format!("{namespace}.{attribute}#released"),
            format!("{namespace}#released"),
        ]
        .iter()
        .any(|key| {
            self.ctx
                .summaries
                .get(key)
                .is_some_and(|s| s.released_elsewhere)
        })
    }

    /// Whether another module of the project releases what this module's
    /// `name` (`client`, `Services.__pool`) holds.
    pub(crate) fn released_elsewhere(&self, name: &str) -> bool {
        self.ctx
            .summaries
            .get(&format!("{}.{name}#released", self.ctx.module_name))
            .is_some_and(|s| s.released_elsewhere)
    }

    /// Edits that wrap the expression at `span` in a call to `qualified`
    /// (`contextlib.closing`), importing its module first when the file
    /// cannot spell it yet; with the spelling used. `None` when that
    /// import would be shadowed by a name of the module's own.
    pub(crate) fn wrap_in_call(
        &self,
        span: Span,
        qualified: &str,
        newline: &str,
    ) -> Option<(String, Vec<Edit>)> {
        crate::python::rewrite::wrap_in_call(self.ctx.module, span, qualified, newline)
    }
}
