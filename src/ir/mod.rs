//! The language-neutral lifecycle IR: one control-flow graph per function,
//! with normal and exceptional edges, whose events say what happens to
//! resources. Front ends lower into it; the engine in `analysis` reads it.
//! It knows nothing of tree-sitter or syn.

use crate::diagnostic::Span;

mod outcome;

pub use outcome::{Leak, LeakPath, Outcome};

pub type BlockId = usize;
pub type VarId = usize;
/// An acquisition site: every resource acquired by the same event is one
/// abstract object.
pub type SiteId = usize;

/// What a front end knows about a resource at the place it is acquired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub span: Span,
    /// The spec's type name (`sqlite3.Connection`).
    pub type_name: String,
    pub kind: crate::resources::ResourceKind,
    /// The variable it was first bound to, for messages.
    pub var_name: String,
    /// The resource it was made from (a cursor's connection): releasing
    /// the parent releases it too.
    pub parent: Option<SiteId>,
    /// Meant to live for the process (engines, pools, shared clients).
    pub long_lived: bool,
    /// Going out of scope releases it (Rust RAII): a [`EventKind::Drop`]
    /// releases it rather than losing it.
    pub drop_releases: bool,
    /// What it was acquired from (the pool expression, as the front end
    /// spells it), so that two guards from one pool can be compared.
    pub origin: Option<String>,
    /// What else the front end saw happen to it, for the rules that ask
    /// more than "open or released".
    pub facts: SiteFacts,
}

/// What a site stands for, beyond its resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SiteRole {
    /// A resource from the knowledge files (or the file's own `extern`
    /// functions). `pooled`: a guard lent by a pool; `must_poll`: a driver
    /// future that must be spawned or awaited for its sibling to work.
    Resource { pooled: bool, must_poll: bool },
    /// A transaction opened by sending a raw `BEGIN` statement.
    RawTransaction,
    /// A guard wrapped so that its `Drop` does not run (`ManuallyDrop::new`,
    /// `Box::into_raw`): open until it is taken back.
    Detached { call: Span, how: String },
    /// A call that acquires from a pool on the caller's behalf (a project
    /// function given the pool, or a query run on the pool itself:
    /// `callee: None`): a probe for nested acquisition.
    PoolCall { callee: Option<String> },
}

impl SiteRole {
    /// A driver that must be spawned or awaited for its sibling to work.
    pub fn must_poll(&self) -> bool {
        matches!(
            self,
            SiteRole::Resource {
                must_poll: true,
                ..
            }
        )
    }
}

impl Default for SiteRole {
    fn default() -> SiteRole {
        SiteRole::Resource {
            pooled: false,
            must_poll: false,
        }
    }
}

/// How a value acquired in a loop outlives the iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outlives {
    /// Put into a collection that lives outside the loop.
    Collected,
    /// Moved into a task or thread that the iteration does not join.
    Spawned,
}

/// Where a site's value was bound by a `let` (for fixes that insert code
/// after the binding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The whole statement.
    pub stmt: Span,
    /// The pattern that binds it: a name, or `_`.
    pub pattern: Span,
    pub name: Option<String>,
    /// Inside an `async` function or block.
    pub in_async: bool,
}

/// Facts about a site that the CFG's events do not carry.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SiteFacts {
    pub role: SiteRole,
    /// Some operation used it after it was acquired.
    pub touched: bool,
    /// A statement that writes (SQL `INSERT`, a write API) went through it.
    pub written: bool,
    /// Calls that give it away for good (`mem::forget`, `Box::leak`), with
    /// the call's name.
    pub forgotten: Vec<(Span, String)>,
    /// Places where it outlives the loop iteration that acquired it.
    pub outlives_loop: Vec<(Span, Outlives)>,
    /// Where a must-poll value was bound.
    pub binding: Option<Binding>,
    /// Sites made by the same call as parts of one value (a tokio-postgres
    /// `Client` beside its `Connection`).
    pub siblings: Vec<SiteId>,
    /// For a must-poll site: where a sibling was awaited before it was
    /// ever polled.
    pub awaited_before_polled: Vec<Span>,
}

/// What a front end knows of a function as a whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionInfo {
    /// A test (`#[test]`, pytest's `test_*`) or code only tests run.
    pub is_test: bool,
    /// Dotted (Python) name, with its module and class.
    pub qualified_name: String,
    /// The class it is a method of.
    pub class: Option<String>,
    /// Decorators, as resolved names.
    pub decorators: Vec<String>,
    pub is_async: bool,
    pub generator: Generator,
    /// A test fixture (pytest): what it yields is lent to the tests.
    pub is_fixture: bool,
    /// A fixture's `scope=` (`"session"`, `"module"`…); `None` is the
    /// per-test default.
    pub fixture_scope: Option<String>,
    /// The name of a function defined in this one's body that it returns
    /// (`def make(): ...; return make`): a factory handed out.
    pub returns_local_function: Option<String>,
}

/// How `yield` behaves in a function.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Generator {
    /// Not a generator: no `yield`.
    #[default]
    Plain,
    /// A context-manager, dependency or fixture generator: the yielded
    /// resource is lent and must be released after the `yield`.
    /// `yield_raises`: the caller's exception is thrown in at the yield.
    Loan { yield_raises: bool },
    /// An iterator: yielded values are handed to the consumer.
    Iterator,
}

/// A call that rules check beyond the dataflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFact {
    /// An async release called without `await`: it makes a coroutine and
    /// releases nothing.
    UnawaitedRelease {
        call: Span,
        receiver: String,
        method: String,
    },
    /// `next(f())`: one step of the generator `f` (a qualified name, or
    /// `?.name` when only the method name is known), never resumed.
    NextOfGenerator { call: Span, callee: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// `dst` now holds a fresh resource from `site`.
    Acquire { dst: VarId, site: SiteId },
    /// Whatever `var` holds is released.
    Release { var: VarId },
    /// Whatever `var` holds is handed to a scope guard that releases it
    /// (`with`, `closing()`, `ExitStack.enter_context()`).
    Guard { var: VarId },
    /// Whatever `var` holds leaves this function's responsibility:
    /// returned (`returned`), yielded to a consumer, stored, captured,
    /// handed over.
    Escape { var: VarId, returned: bool },
    /// `dst = src`.
    Copy { dst: VarId, src: VarId },
    /// `dst` is bound to something that is not a tracked resource.
    Clear { dst: VarId },
    /// `var` goes out of scope: what it holds is released if dropping
    /// releases it (RAII), and lost otherwise. Unlike `Release`, it does
    /// not count as an explicit release (a transaction dropped is rolled
    /// back, not committed).
    Drop { var: VarId },
    /// On this path `var` is `None` (or falsy): it holds no resource.
    AssumeNone { var: VarId },
    /// Any other operation; raises when `may_raise`.
    Effect,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    pub span: Span,
    /// The operation may raise; control then goes to the block's
    /// exceptional successor.
    pub may_raise: bool,
    /// Variables whose resources the operation uses (a method called on
    /// them, passed as an argument). A raise blamed on a resource must
    /// come from such a use or after one: a leak "if `len(x)` raises"
    /// before the connection was ever touched is not a story worth
    /// telling.
    pub touches: Vec<VarId>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Block {
    pub events: Vec<Event>,
    /// Normal successors.
    pub succs: Vec<BlockId>,
    /// Where an exception raised by an event of this block goes.
    pub exc: Option<BlockId>,
}

#[derive(Debug, Clone, Default)]
pub struct Function {
    pub name: String,
    pub span: Span,
    pub blocks: Vec<Block>,
    pub entry: BlockId,
    /// Reached by returning or falling off the end.
    pub normal_exit: BlockId,
    /// Reached by an exception leaving the function.
    pub raise_exit: BlockId,
    pub var_names: Vec<String>,
    pub sites: Vec<Site>,
    pub info: FunctionInfo,
    pub calls: Vec<CallFact>,
}

impl Function {
    /// An empty function with entry, normal exit and raise exit blocks.
    pub fn new(name: impl Into<String>, span: Span) -> Function {
        let mut f = Function {
            name: name.into(),
            span,
            ..Function::default()
        };
        f.entry = f.new_block();
        f.normal_exit = f.new_block();
        f.raise_exit = f.new_block();
        f
    }

    pub fn new_block(&mut self) -> BlockId {
        self.blocks.push(Block::default());
        self.blocks.len() - 1
    }

    pub fn var(&mut self, name: &str) -> VarId {
        match self.var_names.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.var_names.push(name.to_string());
                self.var_names.len() - 1
            }
        }
    }

    pub fn add_site(&mut self, site: Site) -> SiteId {
        self.sites.push(site);
        self.sites.len() - 1
    }

    pub fn edge(&mut self, from: BlockId, to: BlockId) {
        if !self.blocks[from].succs.contains(&to) {
            self.blocks[from].succs.push(to);
        }
    }
}
