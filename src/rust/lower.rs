//! Lowers Rust functions, closures and async blocks parsed by syn into the
//! lifecycle IR. `?` is an error edge to the function's raise exit; a
//! binding is dropped at the end of the block that owns it (`Drop`
//! events), or by `drop(x)`; passing a guard by value moves it away
//! (`Escape`); `return` and the tail expression return it. Closures and
//! async blocks are functions of their own: what they capture by `move`
//! leaves the enclosing function.
//!
//! Besides the CFG, the lowering records the Rust-only facts the rules
//! need: guards forgotten (`mem::forget`, `Box::leak`), guards that
//! outlive a loop iteration, and where `tokio_postgres` connections are
//! bound (for LK208's fix).

use std::collections::HashMap;

use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::diagnostic::Span;
use crate::ir::{BlockId, EventKind, Function, Site, SiteId, VarId};
use crate::resources::{ResourceKind, ResourceSpec};
use crate::rust::items::{receiver_key, AcquiresFrom, Items, EXECUTOR_METHODS};
use crate::rust::knowledge::{is_guard, type_path, Knowledge};
use crate::rust::names::Names;
use crate::rust::project::RustProject;
use crate::source::SourceFile;

/// Everything the lowering of one file's functions shares.
pub struct Ctx<'a> {
    pub source: &'a SourceFile,
    pub names: &'a Names,
    pub knowledge: &'a Knowledge<'a>,
    pub items: &'a Items,
    /// What other files of the project define.
    pub project: &'a RustProject,
}

impl Ctx<'_> {
    fn field_type(&self, owner: &str, field: &str) -> Option<String> {
        let owner = owner.rsplit("::").next().unwrap_or(owner);
        self.items
            .field_type(owner, field)
            .or_else(|| self.project.field_type(owner, field))
            .cloned()
    }

    /// The return type of a project function, borrowed or not.
    fn returns(&self, key: &str) -> Option<String> {
        self.returns_marked(key)
            .map(|t| t.strip_prefix('&').map(str::to_string).unwrap_or(t))
    }

    /// The type a project function returns as a value of its own (not a
    /// reference, not behind a shared wrapper).
    fn returns_owned(&self, key: &str) -> Option<String> {
        self.returns_marked(key).filter(|t| !t.starts_with('&'))
    }

    fn returns_marked(&self, key: &str) -> Option<String> {
        self.items
            .returns
            .get(key)
            .or_else(|| self.project.returns(key))
            .cloned()
    }

    fn acquires_from(&self, key: &str) -> Option<AcquiresFrom> {
        self.items
            .acquires_from
            .get(key)
            .or_else(|| self.project.acquires_from(key))
            .cloned()
    }
}

/// The source span of a syntax node.
pub fn span_of(source: &SourceFile, node: &impl Spanned) -> Span {
    let s = node.span();
    let (a, b) = (s.start(), s.end());
    let start = source.offset_of_char_column(a.line, a.column);
    let end = source.offset_of_char_column(b.line, b.column).max(start);
    Span::new(start, end)
}

/// What a site stands for, beyond its resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// A resource from the knowledge files (or the file's `extern` fns).
    Resource { pooled: bool, must_poll: bool },
    /// A transaction opened by a raw `BEGIN` statement.
    RawTransaction,
    /// A guard wrapped by `ManuallyDrop::new` or `Box::into_raw`: open
    /// until reconstituted.
    Forgotten { call: Span, how: String },
    /// A call to a project function that acquires from the pool given to
    /// it, or a query run directly on a pool (`callee: None`): a probe for
    /// nested acquisition.
    PoolCall { callee: Option<String> },
}

/// The body of a closure (an expression) or an async block.
#[derive(Clone, Copy)]
enum Body<'b> {
    Block(&'b syn::Block),
    Expr(&'b syn::Expr),
}

/// How a guard acquired in a loop outlives the iteration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outlives {
    /// Pushed into a collection that lives outside the loop.
    Collected,
    /// Moved into a task or thread not joined within the iteration.
    Spawned,
}

#[derive(Debug, Clone)]
pub struct LoopEscape {
    pub site: SiteId,
    pub at: Span,
    pub how: Outlives,
}

/// A guard given to `mem::forget` or `Box::leak`: gone for good.
#[derive(Debug, Clone)]
pub struct Forget {
    pub site: SiteId,
    pub call: Span,
    pub how: String,
}

/// Where a must-poll value (a `tokio_postgres::Connection`) was bound.
#[derive(Debug, Clone)]
pub struct PollBinding {
    pub site: SiteId,
    /// The whole `let` statement.
    pub stmt: Span,
    /// The pattern that binds it: a name, or `_`.
    pub pattern: Span,
    pub name: Option<String>,
    /// Inside an `async` fn or block, where `tokio::spawn` can be added.
    pub in_async: bool,
}

/// One lowered function (or closure, or async block) and its facts.
#[derive(Debug)]
pub struct Lowered {
    pub function: Function,
    pub roles: Vec<Role>,
    /// Per site: some operation used it after it was acquired.
    pub touched: Vec<bool>,
    /// Per site: a statement that writes used it.
    pub written: Vec<bool>,
    pub forgets: Vec<Forget>,
    pub loop_escapes: Vec<LoopEscape>,
    pub poll_bindings: Vec<PollBinding>,
    /// Sites made by one call as elements of one tuple (a tokio-postgres
    /// `Client` and its `Connection`).
    pub siblings: Vec<(SiteId, SiteId)>,
    /// Must-poll sites whose client was awaited before they were polled.
    pub early_awaits: Vec<(SiteId, Span)>,
    /// `#[test]`-like functions and everything nested in them.
    pub is_test: bool,
}

#[derive(Debug, Clone, Default)]
enum Val {
    #[default]
    None,
    Var(VarId),
    Tuple(Vec<Val>),
}

impl Val {
    fn vars(&self, out: &mut Vec<VarId>) {
        match self {
            Val::None => {}
            Val::Var(v) => out.push(*v),
            Val::Tuple(parts) => parts.iter().for_each(|p| p.vars(out)),
        }
    }
}

/// The result of lowering an expression.
#[derive(Debug, Clone, Default)]
struct Out {
    val: Val,
    /// Its type as a resolved path, when known.
    ty: Option<String>,
    /// Where its resource was acquired within this very expression (block,
    /// event index): a `?` applied to it raises before the acquisition.
    fresh: Option<(BlockId, usize)>,
    /// A borrow (`&x`, `&mut *x`, `x.as_mut()`): using it moves nothing.
    by_ref: bool,
}

impl Out {
    fn none() -> Out {
        Out::default()
    }
    fn typed(ty: Option<String>) -> Out {
        Out {
            ty,
            ..Out::default()
        }
    }
    fn vars(&self) -> Vec<VarId> {
        let mut v = Vec::new();
        self.val.vars(&mut v);
        v
    }
}

struct LoopCtx {
    label: Option<String>,
    brk: BlockId,
    cont: BlockId,
    scope_depth: usize,
    id: usize,
    result: VarId,
}

struct PendingSpawn {
    sites: Vec<SiteId>,
    span: Span,
    loop_id: usize,
    resolved: bool,
}

const SPAWNS: &[&str] = &[
    "tokio::spawn",
    "tokio::task::spawn",
    "tokio::task::spawn_local",
    "tokio::task::spawn_blocking",
    "std::thread::spawn",
    "async_std::task::spawn",
    "actix_rt::spawn",
    "actix_web::rt::spawn",
    "smol::spawn",
];

/// Methods whose result is their receiver's value (errors mapped,
/// options unwrapped).
const PASSTHROUGH: &[&str] = &[
    "unwrap",
    "expect",
    "ok",
    "unwrap_or_else",
    "unwrap_or_default",
    "unwrap_unchecked",
    "map_err",
    "context",
    "with_context",
    "wrap_err",
    "wrap_err_with",
    "ok_or",
    "ok_or_else",
    "into",
    "in_current_span",
    "instrument",
];

/// Methods that borrow their receiver: the result is the same resource,
/// used in place.
const BORROWS: &[&str] = &[
    "as_mut",
    "as_ref",
    "borrow",
    "borrow_mut",
    "deref",
    "deref_mut",
    "as_deref",
    "as_deref_mut",
    "by_ref",
];

/// Container and channel methods that take ownership of their argument.
const STORES: &[&str] = &[
    "push",
    "push_back",
    "push_front",
    "insert",
    "extend",
    "send",
    "try_send",
    "blocking_send",
    "set",
    "replace",
    "put",
    "store",
    "get_or_insert",
    "or_insert",
];

/// Methods of a collection that keep their argument beyond the statement.
const COLLECTS: &[&str] = &["push", "push_back", "push_front", "insert", "extend"];

struct Lowerer<'c, 'a> {
    ctx: &'c Ctx<'a>,
    f: Function,
    roles: Vec<Role>,
    touched: Vec<bool>,
    written: Vec<bool>,
    cur: BlockId,
    scopes: Vec<Vec<(String, VarId)>>,
    var_ty: HashMap<VarId, String>,
    /// What each variable may hold, statically (for the Rust-only facts).
    var_sites: HashMap<VarId, Vec<SiteId>>,
    /// The loop depth each variable was declared at.
    var_depth: HashMap<VarId, usize>,
    tuple_parts: HashMap<VarId, Vec<Val>>,
    /// Pseudo variables holding state that lives on a receiver (mongodb
    /// transactions on a session).
    on_receiver: HashMap<VarId, Vec<VarId>>,
    /// Per site: (loop id, loop depth) of the innermost loop it was
    /// acquired in.
    site_loop: Vec<Option<(usize, usize)>>,
    loops: Vec<LoopCtx>,
    next_loop: usize,
    temps: usize,
    stmt_temps: Vec<VarId>,
    stmt_touched: Vec<VarId>,
    self_ty: Option<String>,
    nested: Vec<Lowered>,
    forgets: Vec<Forget>,
    loop_escapes: Vec<LoopEscape>,
    poll_bindings: Vec<PollBinding>,
    siblings: Vec<(SiteId, SiteId)>,
    spawn_awaited: bool,
    pending: Vec<PendingSpawn>,
    handle_of: HashMap<VarId, usize>,
    raw_tx: Option<VarId>,
    /// Parameters that own a guard, by type, and where they are declared.
    owned_params: HashMap<VarId, (String, Span)>,
    /// Must-poll sites already spawned, awaited or handed on (in source
    /// order).
    polled: std::collections::HashSet<SiteId>,
    /// Per must-poll site: a client of it awaited before it was polled.
    early_awaits: Vec<(SiteId, Span)>,
    is_async: bool,
    is_test: bool,
}

/// Lowers a function with its signature (free fn, method or nested fn);
/// returns it first, followed by its closures and async blocks.
pub fn lower_fn(
    ctx: &Ctx,
    sig: &syn::Signature,
    block: &syn::Block,
    self_ty: Option<String>,
    is_test: bool,
) -> Vec<Lowered> {
    let name = match &self_ty {
        Some(t) => format!("{t}::{}", sig.ident),
        None => sig.ident.to_string(),
    };
    let mut l = Lowerer::new(ctx, name, span_of(ctx.source, block), self_ty, is_test);
    l.is_async = sig.asyncness.is_some();
    l.push_scope();
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(_) => {
                let v = l.declare("self");
                if let Some(t) = l.self_ty.clone() {
                    l.var_ty.insert(v, t);
                }
            }
            syn::FnArg::Typed(pt) => {
                let ty = type_path(&pt.ty, ctx.names);
                l.bind_pat(
                    &pt.pat,
                    Out {
                        ty: ty.clone(),
                        ..Out::default()
                    },
                    None,
                );
                // A guard the caller gave away (`conn: PoolConnection<..>`,
                // not `&mut`): this function can still forget it.
                if let (syn::Pat::Ident(pi), Some(ty), false) =
                    (&*pt.pat, ty, matches!(*pt.ty, syn::Type::Reference(_)))
                {
                    if let Some(v) = l.lookup(&pi.ident.to_string()) {
                        l.owned_params
                            .insert(v, (ty, span_of(ctx.source, &pi.ident)));
                    }
                }
            }
        }
    }
    l.finish(|l| l.lower_block(block))
}

impl<'c, 'a> Lowerer<'c, 'a> {
    fn new(
        ctx: &'c Ctx<'a>,
        name: String,
        span: Span,
        self_ty: Option<String>,
        is_test: bool,
    ) -> Lowerer<'c, 'a> {
        let f = Function::new(name, span);
        let cur = f.entry;
        Lowerer {
            ctx,
            f,
            roles: Vec::new(),
            touched: Vec::new(),
            written: Vec::new(),
            cur,
            scopes: Vec::new(),
            var_ty: HashMap::new(),
            var_sites: HashMap::new(),
            var_depth: HashMap::new(),
            tuple_parts: HashMap::new(),
            on_receiver: HashMap::new(),
            site_loop: Vec::new(),
            loops: Vec::new(),
            next_loop: 0,
            temps: 0,
            stmt_temps: Vec::new(),
            stmt_touched: Vec::new(),
            self_ty,
            nested: Vec::new(),
            forgets: Vec::new(),
            loop_escapes: Vec::new(),
            poll_bindings: Vec::new(),
            siblings: Vec::new(),
            spawn_awaited: false,
            pending: Vec::new(),
            handle_of: HashMap::new(),
            raw_tx: None,
            owned_params: HashMap::new(),
            polled: std::collections::HashSet::new(),
            early_awaits: Vec::new(),
            is_async: false,
            is_test,
        }
    }

    /// Lowers the body with `body`, returns its value, closes the
    /// function and returns it with its nested functions.
    fn finish(mut self, body: impl FnOnce(&mut Self) -> Out) -> Vec<Lowered> {
        let out = body(&mut self);
        let span = self.f.span;
        for v in self.with_parts(out.vars()) {
            self.emit(
                EventKind::Escape {
                    var: v,
                    returned: true,
                },
                span,
                false,
                vec![],
            );
        }
        self.pop_scope();
        let exit = self.f.normal_exit;
        self.f.edge(self.cur, exit);
        let mut all = vec![Lowered {
            function: self.f,
            roles: self.roles,
            touched: self.touched,
            written: self.written,
            forgets: self.forgets,
            loop_escapes: self.loop_escapes,
            poll_bindings: self.poll_bindings,
            siblings: self.siblings,
            early_awaits: self.early_awaits,
            is_test: self.is_test,
        }];
        all.extend(self.nested);
        all
    }

    fn span(&self, node: &impl Spanned) -> Span {
        span_of(self.ctx.source, node)
    }

    fn text(&self, span: Span) -> &str {
        self.ctx.source.text.get(span.range()).unwrap_or("")
    }

    // ---- variables and scopes -------------------------------------

    fn push_scope(&mut self) {
        self.scopes.push(Vec::new());
    }

    /// Ends the innermost scope: its bindings are dropped, last first.
    fn pop_scope(&mut self) {
        if let Some(vars) = self.scopes.pop() {
            for (_, v) in vars.into_iter().rev() {
                self.drop_var(v, self.f.span);
            }
        }
    }

    fn drop_var(&mut self, v: VarId, span: Span) {
        self.emit(EventKind::Drop { var: v }, span, false, vec![]);
        for p in self.on_receiver.get(&v).cloned().unwrap_or_default() {
            self.emit(EventKind::Drop { var: p }, span, false, vec![]);
        }
    }

    /// A new variable; names are made unique (shadowing gives each `let`
    /// its own variable).
    fn fresh_var(&mut self, name: &str) -> VarId {
        let v = self.f.var_names.len();
        let unique = if v == 0 {
            name.to_string()
        } else {
            format!("{name}#{v}")
        };
        self.f.var_names.push(unique);
        self.var_depth.insert(v, self.loops.len());
        v
    }

    fn declare(&mut self, name: &str) -> VarId {
        let v = self.fresh_var(name);
        if let Some(scope) = self.scopes.last_mut() {
            scope.push((name.to_string(), v));
        }
        v
    }

    fn temp(&mut self) -> VarId {
        self.temps += 1;
        let v = self.fresh_var(&format!("$t{}", self.temps));
        self.stmt_temps.push(v);
        v
    }

    fn lookup(&self, name: &str) -> Option<VarId> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    fn display_name(&self, v: VarId) -> String {
        let n = &self.f.var_names[v];
        n.split('#').next().unwrap_or(n).to_string()
    }

    // ---- events -----------------------------------------------------

    fn emit(&mut self, kind: EventKind, span: Span, may_raise: bool, touches: Vec<VarId>) -> usize {
        for v in &touches {
            let pseudo = self.on_receiver.get(v).cloned().unwrap_or_default();
            for p in std::iter::once(v).chain(&pseudo) {
                for s in self.var_sites.get(p).cloned().unwrap_or_default() {
                    self.touched[s] = true;
                }
            }
            self.stmt_touched.push(*v);
        }
        let block = &mut self.f.blocks[self.cur].events;
        block.push(crate::ir::Event {
            kind,
            span,
            may_raise,
            touches,
        });
        block.len() - 1
    }

    fn touch(&mut self, vars: &[VarId], span: Span) {
        if !vars.is_empty() {
            self.emit(EventKind::Effect, span, false, vars.to_vec());
        }
    }

    /// Control cannot reach what follows (`return`, `break`, `panic!`).
    fn diverge(&mut self) {
        self.cur = self.f.new_block();
    }

    fn goto(&mut self, to: BlockId) {
        self.f.edge(self.cur, to);
    }

    fn sites_of(&self, v: VarId) -> Vec<SiteId> {
        self.var_sites.get(&v).cloned().unwrap_or_default()
    }

    fn kind_of_site(&self, s: SiteId) -> ResourceKind {
        self.f.sites[s].kind
    }

    fn must_poll(&self, v: VarId) -> bool {
        self.sites_of(v).iter().any(|&s| {
            matches!(
                self.roles[s],
                Role::Resource {
                    must_poll: true,
                    ..
                }
            )
        })
    }

    /// Raw handles and raw pointers (`Box::into_raw`) are `Copy`: passing
    /// one along is a use, not a move.
    fn is_handle(&self, v: VarId) -> bool {
        let sites = self.sites_of(v);
        !sites.is_empty() && sites.iter().all(|&s| {
            self.kind_of_site(s) == ResourceKind::Handle
                || matches!(&self.roles[s], Role::Forgotten { how, .. } if how == "Box::into_raw")
        })
    }

    fn new_site(
        &mut self,
        span: Span,
        type_name: &str,
        kind: ResourceKind,
        role: Role,
        drop_releases: bool,
        origin: Option<String>,
    ) -> SiteId {
        let site = self.f.add_site(Site {
            span,
            type_name: type_name.to_string(),
            kind,
            var_name: String::new(),
            parent: None,
            long_lived: false,
            drop_releases,
            origin,
        });
        self.roles.push(role);
        self.touched.push(false);
        self.written.push(false);
        self.site_loop
            .push(self.loops.last().map(|l| (l.id, self.loops.len())));
        site
    }

    /// `dst` now holds `site`, engaged from the start: in Rust any early
    /// exit after an acquisition is worth a story.
    fn acquire_into(&mut self, dst: VarId, site: SiteId, span: Span) -> usize {
        let i = self.emit(EventKind::Acquire { dst, site }, span, false, vec![]);
        self.emit(EventKind::Effect, span, false, vec![dst]);
        self.var_sites.insert(dst, vec![site]);
        i
    }

    fn copy_into(&mut self, dst: VarId, src: VarId, span: Span) {
        self.emit(EventKind::Copy { dst, src }, span, false, vec![]);
        let sites = self.sites_of(src);
        self.var_sites.insert(dst, sites);
        if let Some(parts) = self.tuple_parts.get(&src).cloned() {
            self.tuple_parts.insert(dst, parts);
        }
        if let Some(&p) = self.handle_of.get(&src) {
            self.handle_of.insert(dst, p);
        }
        if let Some(pseudo) = self.on_receiver.get(&src).cloned() {
            self.on_receiver.insert(dst, pseudo);
        }
    }

    /// `vars` and the parts of the tuples they hold: moving or returning
    /// a tuple moves what is in it.
    fn with_parts(&self, vars: Vec<VarId>) -> Vec<VarId> {
        let mut out = Vec::new();
        let mut stack = vars;
        while let Some(v) = stack.pop() {
            if out.contains(&v) {
                continue;
            }
            out.push(v);
            if let Some(parts) = self.tuple_parts.get(&v) {
                for p in parts {
                    p.vars(&mut stack);
                }
            }
        }
        out
    }

    /// Copies a tuple's parts into variables of the current scope named
    /// after the binding, so they are dropped with it, not with the
    /// statement's temporaries.
    fn bind_parts(&mut self, name: &str, parts: &[Val], span: Span) -> Vec<Val> {
        let mut kept = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            let part_name = format!("{name}.{i}");
            kept.push(match part {
                Val::None => Val::None,
                Val::Var(p) => {
                    let v = self.declare(&part_name);
                    self.copy_into(v, *p, span);
                    Val::Var(v)
                }
                Val::Tuple(inner) => Val::Tuple(self.bind_parts(&part_name, inner, span)),
            });
        }
        kept
    }

    /// A branch's value becomes the value of its `if`, `match` or `loop`
    /// (`result`); a tuple is kept part by part (`Ok(Some((tx, id)))` in
    /// one arm, `Ok(None)` in the other).
    fn assign_result(&mut self, result: VarId, val: &Val, span: Span) {
        match val {
            Val::None => {}
            Val::Var(v) => self.copy_into(result, *v, span),
            Val::Tuple(parts) => {
                let mut slots = self.tuple_parts.get(&result).cloned().unwrap_or_default();
                for (i, part) in parts.iter().enumerate() {
                    if slots.len() <= i {
                        let t = self.temp();
                        slots.push(Val::Var(t));
                    }
                    if let Val::Var(slot) = slots[i] {
                        self.assign_result(slot, part, span);
                    }
                }
                self.tuple_parts.insert(result, slots);
            }
        }
    }

    /// Everything `vars` hold leaves this function: moved into a callee,
    /// a struct, a container, a task.
    fn hand_over(&mut self, vars: &[VarId], span: Span) {
        for &v in vars {
            for s in self.sites_of(v) {
                if matches!(
                    self.roles[s],
                    Role::Resource {
                        must_poll: true,
                        ..
                    }
                ) {
                    self.polled.insert(s);
                }
            }
            self.emit(
                EventKind::Escape {
                    var: v,
                    returned: false,
                },
                span,
                false,
                vec![],
            );
        }
    }

    /// An argument passed by value: a move for guards, a use for `Copy`
    /// handles.
    fn pass_by_value(&mut self, out: &Out, span: Span) {
        let vars = self.with_parts(out.vars());
        if out.by_ref {
            self.touch(&vars, span);
            return;
        }
        for v in vars {
            if self.is_handle(v) {
                self.touch(&[v], span);
            } else {
                self.hand_over(&[v], span);
            }
        }
    }

    // ---- patterns -------------------------------------------------------

    /// Binds `pat` to `out` in the current scope. `stmt`: the `let`
    /// statement, for must-poll bindings.
    fn bind_pat(&mut self, pat: &syn::Pat, out: Out, stmt: Option<Span>) {
        match pat {
            syn::Pat::Ident(pi) => {
                let name = pi.ident.to_string();
                let v = self.declare(&name);
                if let Some(t) = &out.ty {
                    self.var_ty.insert(v, t.clone());
                }
                let span = self.span(pat);
                match &out.val {
                    Val::None => {}
                    Val::Var(src) => {
                        self.copy_into(v, *src, span);
                        for s in self.sites_of(v) {
                            if self.f.sites[s].var_name.is_empty() {
                                self.f.sites[s].var_name = name.clone();
                            }
                        }
                    }
                    Val::Tuple(parts) => {
                        // The parts live as long as the binding: each is
                        // kept in a variable of this scope (`task.0`).
                        let parts = self.bind_parts(&name, parts, span);
                        self.tuple_parts.insert(v, parts.clone());
                        let mut all = Vec::new();
                        for p in parts {
                            let mut vs = Vec::new();
                            p.vars(&mut vs);
                            for x in vs {
                                all.extend(self.sites_of(x));
                            }
                        }
                        self.var_sites.insert(v, all);
                    }
                }
                if let (Some(stmt), Val::Var(src)) = (stmt, &out.val) {
                    self.note_poll_binding(*src, stmt, span, Some(name));
                }
            }
            syn::Pat::Type(pt) => {
                let mut out = out;
                if let Some(t) = type_path(&pt.ty, self.ctx.names) {
                    out.ty = Some(t);
                }
                self.bind_pat(&pt.pat, out, stmt);
            }
            syn::Pat::Reference(r) => self.bind_pat(&r.pat, out, stmt),
            syn::Pat::Guard(g) => self.bind_pat(&g.pat, out, stmt),
            syn::Pat::Paren(p) => self.bind_pat(&p.pat, out, stmt),
            syn::Pat::Or(o) => {
                if let Some(first) = o.cases.first() {
                    self.bind_pat(first, out, stmt);
                }
            }
            syn::Pat::Tuple(t) => {
                let parts = match &out.val {
                    Val::Tuple(parts) => parts.clone(),
                    Val::Var(v) => self.tuple_parts.get(v).cloned().unwrap_or_default(),
                    Val::None => Vec::new(),
                };
                for (i, elem) in t.elems.iter().enumerate() {
                    let val = parts.get(i).cloned().unwrap_or_default();
                    if let (syn::Pat::Wild(_), Some(stmt), Val::Var(src)) = (elem, stmt, &val) {
                        let span = self.span(elem);
                        self.note_poll_binding(*src, stmt, span, None);
                    }
                    self.bind_pat(
                        elem,
                        Out {
                            val,
                            ..Out::default()
                        },
                        stmt,
                    );
                }
            }
            syn::Pat::TupleStruct(ts) => {
                let name = ts
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                if name == "Err" || name == "None" {
                    return;
                }
                if let Some(first) = ts.elems.first() {
                    self.bind_pat(first, out, stmt);
                }
            }
            syn::Pat::Struct(ps) => {
                for field in &ps.fields {
                    self.bind_pat(&field.pat, Out::none(), None);
                }
            }
            syn::Pat::Slice(s) => {
                for elem in &s.elems {
                    self.bind_pat(elem, Out::none(), None);
                }
            }
            _ => {}
        }
    }

    fn note_poll_binding(&mut self, src: VarId, stmt: Span, pattern: Span, name: Option<String>) {
        for s in self.sites_of(src) {
            if matches!(
                self.roles[s],
                Role::Resource {
                    must_poll: true,
                    ..
                }
            ) && !self.poll_bindings.iter().any(|b| b.site == s)
            {
                self.poll_bindings.push(PollBinding {
                    site: s,
                    stmt,
                    pattern,
                    name: name.clone(),
                    in_async: self.is_async,
                });
            }
        }
    }

    /// Whether a pattern matches only the failure of a `Result`/`Option`.
    fn is_failure_pat(pat: &syn::Pat) -> bool {
        match pat {
            syn::Pat::TupleStruct(ts) => ts.path.segments.last().is_some_and(|s| s.ident == "Err"),
            syn::Pat::Ident(i) => i.ident == "None" && i.subpat.is_none(),
            syn::Pat::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "None"),
            _ => false,
        }
    }

    fn assume_none(&mut self, out: &Out, span: Span) {
        for v in out.vars() {
            self.emit(EventKind::AssumeNone { var: v }, span, false, vec![]);
        }
    }

    // ---- blocks and statements ------------------------------------------

    fn lower_block(&mut self, block: &syn::Block) -> Out {
        self.push_scope();
        let mut value = Out::none();
        let n = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            match stmt {
                syn::Stmt::Expr(e, None) if i + 1 == n => {
                    let sql = own_sql(stmt, self.ctx.source);
                    let span = self.span(e);
                    if sql.ends {
                        let tx = self.raw_tx_var();
                        self.emit(EventKind::Release { var: tx }, span, false, vec![]);
                    }
                    let saved = std::mem::take(&mut self.stmt_temps);
                    let out = self.lower_expr(e);
                    if !sql.begins.is_empty() && self.begin_counts() {
                        self.begin_raw_transactions(sql.begins);
                    }
                    if sql.writes {
                        self.mark_written();
                    }
                    // The block's value outlives its scope: keep it in a
                    // temporary of the enclosing statement.
                    let temps = std::mem::replace(&mut self.stmt_temps, saved);
                    value = self.keep_value(out, span);
                    for t in temps {
                        self.drop_var(t, span);
                    }
                }
                _ => self.lower_stmt(stmt),
            }
        }
        self.pop_scope();
        value
    }

    /// Copies a value into a temporary of the current statement, so the
    /// end of an inner scope does not drop it.
    fn keep_value(&mut self, out: Out, span: Span) -> Out {
        // A variable standing for a tuple (an `if`'s result) is kept part
        // by part.
        if let Val::Var(v) = &out.val {
            if let Some(parts) = self.tuple_parts.get(v).cloned() {
                if self.sites_of(*v).is_empty() {
                    return self.keep_value(
                        Out {
                            val: Val::Tuple(parts),
                            ..out
                        },
                        span,
                    );
                }
            }
        }
        let val = match &out.val {
            Val::None => Val::None,
            Val::Var(v) => {
                let t = self.temp();
                self.copy_into(t, *v, span);
                Val::Var(t)
            }
            Val::Tuple(parts) => {
                let mut kept = Vec::new();
                for p in parts.clone() {
                    kept.push(
                        self.keep_value(
                            Out {
                                val: p,
                                ..Out::default()
                            },
                            span,
                        )
                        .val,
                    );
                }
                Val::Tuple(kept)
            }
        };
        Out {
            val,
            ty: out.ty,
            fresh: None,
            by_ref: out.by_ref,
        }
    }

    fn lower_stmt(&mut self, stmt: &syn::Stmt) {
        let span = self.span(stmt);
        let sql = own_sql(stmt, self.ctx.source);
        if sql.ends {
            let tx = self.raw_tx_var();
            self.emit(EventKind::Release { var: tx }, span, false, vec![]);
        }
        let saved_temps = std::mem::take(&mut self.stmt_temps);
        let saved_touched = std::mem::take(&mut self.stmt_touched);
        match stmt {
            syn::Stmt::Local(local) => {
                let out = match &local.init {
                    Some(init) => {
                        let out = self.lower_expr(&init.expr);
                        if let Some((_, diverge)) = &init.diverge {
                            // `let Ok(x) = e else { .. }`: the else branch
                            // holds nothing and leaves.
                            let (else_b, cont) = (self.f.new_block(), self.f.new_block());
                            self.goto(else_b);
                            self.goto(cont);
                            self.cur = else_b;
                            self.assume_none(&out, span);
                            self.lower_expr(diverge);
                            self.goto(cont);
                            self.cur = cont;
                        }
                        out
                    }
                    None => Out::none(),
                };
                self.bind_pat(&local.pat, out, Some(span));
            }
            syn::Stmt::Item(item) => self.lower_item(item),
            syn::Stmt::Expr(syn::Expr::MethodCall(m), Some(_)) if self.discards_on_purpose(m) => {
                // `file.into_raw_fd();` gives up ownership without
                // closing: the idiom for keeping a standard stream open.
                let out = self.lower_expr(&m.receiver);
                let vars = out.vars();
                self.touch(&vars, span);
            }
            syn::Stmt::Expr(e, _) => {
                self.lower_expr(e);
            }
            syn::Stmt::Macro(m) => {
                self.lower_macro(&m.mac, span);
            }
        }
        for t in std::mem::take(&mut self.stmt_temps) {
            self.drop_var(t, span);
        }
        if !sql.begins.is_empty() && self.begin_counts() {
            self.begin_raw_transactions(sql.begins);
        }
        if sql.writes {
            self.mark_written();
        }
        self.stmt_temps = saved_temps;
        let touched = std::mem::replace(&mut self.stmt_touched, saved_touched);
        self.stmt_touched.extend(touched);
    }

    /// A transaction handed to a function, or to a method that is not a
    /// plain read, may be written through there.
    fn written_through(&mut self, args: &[Out]) {
        for a in args {
            for v in self.with_parts(a.vars()) {
                for s in self.sites_of(v) {
                    if self.f.sites[s].kind == ResourceKind::Transaction {
                        self.written[s] = true;
                    }
                }
            }
        }
    }

    /// The statement just lowered writes: the transactions it used did
    /// work that a rollback would lose.
    fn mark_written(&mut self) {
        for v in self.stmt_touched.clone() {
            let pseudo = self.on_receiver.get(&v).cloned().unwrap_or_default();
            for p in std::iter::once(v).chain(pseudo) {
                for s in self.sites_of(p) {
                    self.written[s] = true;
                }
            }
        }
    }

    fn begin_raw_transactions(&mut self, literals: Vec<Span>) {
        let tx = self.raw_tx_var();
        for lit in literals {
            let site = self.new_site(
                lit,
                "raw SQL transaction",
                ResourceKind::Transaction,
                Role::RawTransaction,
                false,
                None,
            );
            self.acquire_into(tx, site, lit);
        }
    }

    /// A method that makes a raw handle of any receiver, its result
    /// thrown away at once.
    fn discards_on_purpose(&self, m: &syn::ExprMethodCall) -> bool {
        self.ctx
            .knowledge
            .method_acquires(&m.method.to_string(), "")
            .iter()
            .any(|(_, a)| a.on.as_deref() == Some("*"))
    }

    fn raw_tx_var(&mut self) -> VarId {
        match self.raw_tx {
            Some(v) => v,
            None => {
                let v = self.f.var("<raw transaction>");
                self.raw_tx = Some(v);
                v
            }
        }
    }

    /// Whether a `BEGIN` sent in the statement just lowered opens a
    /// transaction that can outlive the function: not when it ran on a
    /// pool (a bug of another kind) or on a connection this function
    /// opened itself and that closes (rolling back) when dropped.
    fn begin_counts(&self) -> bool {
        for &v in &self.stmt_touched {
            if let Some(ty) = self.var_ty.get(&v) {
                if let Some(spec) = self.ctx.knowledge.spec_of_type(ty) {
                    if spec.kind == ResourceKind::Pool {
                        return false;
                    }
                }
            }
            let sites = self.sites_of(v);
            if !sites.is_empty()
                && sites.iter().all(|&s| {
                    matches!(self.roles[s], Role::Resource { pooled: false, .. })
                        && self.f.sites[s].kind == ResourceKind::Connection
                })
            {
                return false;
            }
        }
        true
    }

    fn lower_item(&mut self, item: &syn::Item) {
        if let syn::Item::Fn(f) = item {
            let nested = lower_fn(self.ctx, &f.sig, &f.block, None, self.is_test);
            self.nested.extend(nested);
        }
    }

    // ---- expressions ------------------------------------------------

    fn lower_expr(&mut self, e: &syn::Expr) -> Out {
        use syn::Expr;
        let span = quick_span(self.ctx.source, e);
        match e {
            Expr::Path(p) => {
                if p.path.segments.len() == 1 && p.qself.is_none() {
                    let name = p.path.segments[0].ident.to_string();
                    if let Some(v) = self.lookup(&name) {
                        let val = match self.tuple_parts.get(&v) {
                            Some(parts) if self.sites_of(v).is_empty() => Val::Tuple(parts.clone()),
                            _ => Val::Var(v),
                        };
                        return Out {
                            val,
                            ty: self.var_ty.get(&v).cloned(),
                            ..Out::default()
                        };
                    }
                }
                Out::none()
            }
            Expr::Reference(r) => {
                let mut out = self.lower_expr(&r.expr);
                out.by_ref = true;
                out
            }
            Expr::Unary(u) => {
                let mut out = self.lower_expr(&u.expr);
                match u.op {
                    syn::UnOp::Deref(_) => {
                        out.by_ref = true;
                        out
                    }
                    _ => {
                        let vars = out.vars();
                        self.touch(&vars, span);
                        Out::none()
                    }
                }
            }
            Expr::Paren(p) => self.lower_expr(&p.expr),
            Expr::Group(g) => self.lower_expr(&g.expr),
            Expr::Lit(_) => Out::none(),
            Expr::Field(fe) => {
                let base = self.lower_expr(&fe.base);
                let member = match &fe.member {
                    syn::Member::Named(i) => i.to_string(),
                    syn::Member::Unnamed(i) => i.index.to_string(),
                };
                if let (Val::Var(v), syn::Member::Unnamed(i)) = (&base.val, &fe.member) {
                    if let Some(part) = self
                        .tuple_parts
                        .get(v)
                        .and_then(|p| p.get(i.index as usize))
                    {
                        return Out {
                            val: part.clone(),
                            ..Out::default()
                        };
                    }
                }
                let ty = base
                    .ty
                    .as_deref()
                    .and_then(|t| self.ctx.field_type(t, &member));
                Out {
                    ty,
                    by_ref: true,
                    ..Out::default()
                }
            }
            Expr::Call(c) => self.lower_call(c, span),
            Expr::MethodCall(m) => self.lower_method(m, span),
            Expr::Await(a) => {
                if is_spawn_expr(&a.base, self.ctx.names) {
                    self.spawn_awaited = true;
                }
                let touched_before = self.stmt_touched.len();
                let out = self.lower_expr(&a.base);
                if out.fresh.is_none() {
                    self.note_early_await(touched_before, span);
                }
                let vars = out.vars();
                for &v in &vars {
                    // Awaiting the call that made it (now, or through a
                    // variable holding that call's future) is not
                    // polling it.
                    if self.must_poll(v)
                        && out.fresh.is_none()
                        && !self.tuple_parts.contains_key(&v)
                    {
                        self.hand_over(&[v], span);
                    }
                    self.resolve_spawn(v);
                }
                out
            }
            Expr::Try(t) => {
                let out = self.lower_expr(&t.expr);
                self.raise(&out, span);
                out
            }
            Expr::Block(b) => self.lower_block(&b.block),
            Expr::Unsafe(u) => self.lower_block(&u.block),
            Expr::Const(c) => self.lower_block(&c.block),
            Expr::TryBlock(t) => self.lower_block(&t.block),
            Expr::Async(a) => {
                self.lower_nested(Body::Block(&a.block), None, a.capture.is_some(), span, true);
                Out::none()
            }
            Expr::Closure(c) => {
                let is_async = c.asyncness.is_some();
                self.lower_nested(
                    Body::Expr(&c.body),
                    Some(&c.inputs),
                    c.capture.is_some(),
                    span,
                    is_async,
                );
                Out::none()
            }
            Expr::If(i) => self.lower_if(i),
            Expr::Match(m) => self.lower_match(m),
            Expr::While(w) => self.lower_while(w, span),
            Expr::ForLoop(fl) => self.lower_for(fl),
            Expr::Loop(l) => self.lower_loop(l),
            Expr::Break(b) => {
                let out = match &b.expr {
                    Some(e) => self.lower_expr(e),
                    None => Out::none(),
                };
                let label = b.label.as_ref().map(|l| l.ident.to_string());
                if let Some(i) = self.loop_index(label.as_deref()) {
                    let (result, brk, depth) = (
                        self.loops[i].result,
                        self.loops[i].brk,
                        self.loops[i].scope_depth,
                    );
                    self.assign_result(result, &out.val, span);
                    self.drop_scopes_to(depth, span);
                    self.goto(brk);
                }
                self.diverge();
                Out::none()
            }
            Expr::Continue(c) => {
                let label = c.label.as_ref().map(|l| l.ident.to_string());
                if let Some(i) = self.loop_index(label.as_deref()) {
                    let (cont, depth) = (self.loops[i].cont, self.loops[i].scope_depth);
                    self.drop_scopes_to(depth, span);
                    self.goto(cont);
                }
                self.diverge();
                Out::none()
            }
            Expr::Return(r) => {
                if let Some(e) = &r.expr {
                    let out = self.lower_expr(e);
                    for v in self.with_parts(out.vars()) {
                        self.emit(
                            EventKind::Escape {
                                var: v,
                                returned: true,
                            },
                            span,
                            false,
                            vec![],
                        );
                    }
                }
                let exit = self.f.normal_exit;
                self.goto(exit);
                self.diverge();
                Out::none()
            }
            Expr::Macro(m) => self.lower_macro(&m.mac, span),
            Expr::Struct(s) => {
                // A connection or session put in a struct lives as long as
                // the struct (a per-shard reader holding its connection);
                // transactions and raw handles are handed to the wrapper,
                // whose methods and `Drop` finish them.
                let mut kept = Vec::new();
                for field in &s.fields {
                    let out = self.lower_expr(&field.expr);
                    let vars = out.vars();
                    if out.by_ref {
                        self.touch(&vars, span);
                        continue;
                    }
                    for v in vars {
                        let sites = self.sites_of(v);
                        let stays = !sites.is_empty()
                            && sites.iter().all(|&s| {
                                matches!(
                                    self.f.sites[s].kind,
                                    ResourceKind::Connection | ResourceKind::Session
                                ) && matches!(
                                    self.roles[s],
                                    Role::Resource {
                                        must_poll: false,
                                        ..
                                    }
                                )
                            });
                        if stays {
                            kept.push(Val::Var(v));
                        } else {
                            self.hand_over(&[v], span);
                        }
                    }
                }
                if let Some(rest) = &s.rest {
                    self.lower_expr(rest);
                }
                let ty = Some(self.ctx.names.resolve(&s.path));
                Out {
                    val: if kept.is_empty() {
                        Val::None
                    } else {
                        Val::Tuple(kept)
                    },
                    ty,
                    ..Out::default()
                }
            }
            Expr::Tuple(t) => {
                let mut parts = Vec::new();
                for elem in &t.elems {
                    parts.push(self.lower_expr(elem).val);
                }
                Out {
                    val: Val::Tuple(parts),
                    ..Out::default()
                }
            }
            Expr::Array(a) => {
                for elem in &a.elems {
                    let out = self.lower_expr(elem);
                    self.pass_by_value(&out, span);
                }
                Out::none()
            }
            Expr::Assign(a) => {
                let rhs = self.lower_expr(&a.right);
                match &*a.left {
                    Expr::Path(p) if p.path.segments.len() == 1 => {
                        let name = p.path.segments[0].ident.to_string();
                        if let Some(v) = self.lookup(&name) {
                            self.drop_var(v, span);
                            if let Val::Var(src) = rhs.val {
                                self.copy_into(v, src, span);
                            }
                        }
                    }
                    left => {
                        let lhs = self.lower_expr(left);
                        let lhs_vars = lhs.vars();
                        self.touch(&lhs_vars, span);
                        self.pass_by_value(&rhs, span);
                    }
                }
                Out::none()
            }
            Expr::Binary(b) => {
                let l = self.lower_expr(&b.left);
                let r = self.lower_expr(&b.right);
                let mut vars = l.vars();
                vars.extend(r.vars());
                self.touch(&vars, span);
                Out::none()
            }
            Expr::Cast(c) => self.lower_expr(&c.expr),
            Expr::Index(i) => {
                let base = self.lower_expr(&i.expr);
                self.lower_expr(&i.index);
                let vars = base.vars();
                self.touch(&vars, span);
                Out::none()
            }
            Expr::Range(r) => {
                if let Some(s) = &r.start {
                    self.lower_expr(s);
                }
                if let Some(e) = &r.end {
                    self.lower_expr(e);
                }
                Out::none()
            }
            Expr::Repeat(r) => {
                self.lower_expr(&r.expr);
                Out::none()
            }
            Expr::Let(l) => {
                let out = self.lower_expr(&l.expr);
                self.bind_pat(&l.pat, out, None);
                Out::none()
            }
            Expr::Yield(y) => {
                if let Some(e) = &y.expr {
                    let out = self.lower_expr(e);
                    self.pass_by_value(&out, span);
                }
                Out::none()
            }
            _ => Out::none(),
        }
    }

    /// `?`: an error edge to the raise exit. When the operand acquired its
    /// resource in this very expression, the error means it acquired
    /// nothing, so the edge leaves before the acquisition.
    fn raise(&mut self, out: &Out, span: Span) {
        let event = crate::ir::Event {
            kind: EventKind::Effect,
            span,
            may_raise: true,
            touches: Vec::new(),
        };
        match out.fresh {
            Some((block, index)) if block == self.cur => {
                self.f.blocks[block].events.insert(index, event);
            }
            _ => self.f.blocks[self.cur].events.push(event),
        }
    }

    fn loop_index(&self, label: Option<&str>) -> Option<usize> {
        match label {
            None => self.loops.len().checked_sub(1),
            Some(l) => self
                .loops
                .iter()
                .rposition(|c| c.label.as_deref() == Some(l)),
        }
    }

    /// Drops the bindings of every scope deeper than `depth` (a `break`
    /// or `continue` leaves them), without ending the scopes.
    fn drop_scopes_to(&mut self, depth: usize, span: Span) {
        let vars: Vec<VarId> = self.scopes[depth.min(self.scopes.len())..]
            .iter()
            .flat_map(|s| s.iter().rev().map(|(_, v)| *v))
            .collect();
        for v in vars {
            self.drop_var(v, span);
        }
    }

    fn lower_if(&mut self, i: &syn::ExprIf) -> Out {
        let span = self.span(&i.cond);
        let (then_b, else_b, join) = (self.f.new_block(), self.f.new_block(), self.f.new_block());
        let result = self.temp();
        self.push_scope();
        let mut on_else: Option<Out> = None;
        let mut null: Option<(VarId, bool)> = None;
        match &*i.cond {
            syn::Expr::Let(l) => {
                let out = self.lower_expr(&l.expr);
                self.goto(then_b);
                self.goto(else_b);
                self.cur = then_b;
                if !Self::is_failure_pat(&l.pat) {
                    on_else = Some(out.clone());
                }
                self.bind_pat(&l.pat, out, None);
            }
            cond => {
                null = self.null_test(cond);
                let out = self.lower_expr(cond);
                let vars = out.vars();
                self.touch(&vars, span);
                self.goto(then_b);
                self.goto(else_b);
                self.cur = then_b;
            }
        }
        if let Some((v, true)) = null {
            self.emit(EventKind::AssumeNone { var: v }, span, false, vec![]);
        }
        let value = self.lower_block(&i.then_branch);
        self.assign_result(result, &value.val, span);
        // The pattern's bindings end with the then-branch.
        self.pop_scope();
        self.goto(join);
        self.cur = else_b;
        if let Some(out) = on_else {
            self.assume_none(&out, span);
        }
        if let Some((v, false)) = null {
            self.emit(EventKind::AssumeNone { var: v }, span, false, vec![]);
        }
        if let Some((_, e)) = &i.else_branch {
            let value = self.lower_expr(e);
            self.assign_result(result, &value.val, span);
        }
        self.goto(join);
        self.cur = join;
        Out {
            val: Val::Var(result),
            ..Out::default()
        }
    }

    /// A test that a raw handle is invalid (`fd < 0`, `fd == -1`,
    /// `db.is_null()`): the variable, and whether the true branch is the
    /// invalid one.
    fn null_test(&self, cond: &syn::Expr) -> Option<(VarId, bool)> {
        use syn::{BinOp, Expr};
        let var = |e: &Expr| -> Option<VarId> {
            match e {
                Expr::Path(p) if p.path.segments.len() == 1 => {
                    self.lookup(&p.path.segments[0].ident.to_string())
                }
                Expr::Paren(p) => match &*p.expr {
                    Expr::Path(p) if p.path.segments.len() == 1 => {
                        self.lookup(&p.path.segments[0].ident.to_string())
                    }
                    _ => None,
                },
                _ => None,
            }
        };
        let int = |e: &Expr| -> Option<i64> {
            match e {
                Expr::Lit(l) => match &l.lit {
                    syn::Lit::Int(i) => i.base10_parse().ok(),
                    _ => None,
                },
                Expr::Unary(u) if matches!(u.op, syn::UnOp::Neg(_)) => match &*u.expr {
                    Expr::Lit(l) => match &l.lit {
                        syn::Lit::Int(i) => i.base10_parse::<i64>().ok().map(|x| -x),
                        _ => None,
                    },
                    _ => None,
                },
                _ => None,
            }
        };
        let is_null_ptr = |e: &Expr| -> bool {
            matches!(e, Expr::Call(c) if matches!(&*c.func, Expr::Path(p)
                if p.path.segments.last().is_some_and(|s| s.ident == "null_mut" || s.ident == "null")))
        };
        match cond {
            Expr::Paren(p) => self.null_test(&p.expr),
            Expr::Unary(u) if matches!(u.op, syn::UnOp::Not(_)) => {
                self.null_test(&u.expr).map(|(v, b)| (v, !b))
            }
            Expr::MethodCall(m) if m.method == "is_null" => var(&m.receiver).map(|v| (v, true)),
            Expr::Binary(b) => {
                let v = var(&b.left)?;
                if is_null_ptr(&b.right) {
                    return match b.op {
                        BinOp::Eq(_) => Some((v, true)),
                        BinOp::Ne(_) => Some((v, false)),
                        _ => None,
                    };
                }
                let n = int(&b.right)?;
                match (b.op, n) {
                    (BinOp::Lt(_), 0) | (BinOp::Eq(_), -1) | (BinOp::Le(_), -1) => Some((v, true)),
                    (BinOp::Ge(_), 0) | (BinOp::Ne(_), -1) | (BinOp::Gt(_), -1) => Some((v, false)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn lower_match(&mut self, m: &syn::ExprMatch) -> Out {
        let scrutinee = self.lower_expr(&m.expr);
        let span = self.span(&m.expr);
        let result = self.temp();
        let (from, join) = (self.cur, self.f.new_block());
        for arm in &m.arms {
            let arm_b = self.f.new_block();
            self.f.edge(from, arm_b);
            self.cur = arm_b;
            self.push_scope();
            if Self::is_failure_pat(&arm.pat) {
                self.assume_none(&scrutinee, span);
            } else {
                self.bind_pat(&arm.pat, scrutinee.clone(), None);
            }
            if let syn::Pat::Guard(g) = &arm.pat {
                self.lower_expr(&g.guard);
            }
            let value = self.lower_expr(&arm.body);
            self.assign_result(result, &value.val, span);
            self.pop_scope();
            self.goto(join);
        }
        if m.arms.is_empty() {
            self.goto(join);
        }
        self.cur = join;
        Out {
            val: Val::Var(result),
            ..Out::default()
        }
    }

    fn enter_loop(&mut self, label: Option<&syn::Label>, cont: BlockId, brk: BlockId) -> usize {
        let id = self.next_loop;
        self.next_loop += 1;
        let result = self.temp();
        self.loops.push(LoopCtx {
            label: label.map(|l| l.name.ident.to_string()),
            brk,
            cont,
            scope_depth: self.scopes.len(),
            id,
            result,
        });
        id
    }

    /// Leaves a loop: spawned tasks holding its guards that no statement
    /// of the iteration joined outlive it.
    fn exit_loop(&mut self) -> Out {
        let ctx = self.loops.pop().expect("inside a loop");
        for p in &mut self.pending {
            if p.loop_id == ctx.id && !p.resolved {
                p.resolved = true;
                for &site in &p.sites {
                    self.loop_escapes.push(LoopEscape {
                        site,
                        at: p.span,
                        how: Outlives::Spawned,
                    });
                }
            }
        }
        Out {
            val: Val::Var(ctx.result),
            ..Out::default()
        }
    }

    fn lower_loop(&mut self, l: &syn::ExprLoop) -> Out {
        let (head, after) = (self.f.new_block(), self.f.new_block());
        self.goto(head);
        self.cur = head;
        self.enter_loop(l.label.as_ref(), head, after);
        self.lower_block(&l.body);
        self.goto(head);
        self.cur = after;
        self.exit_loop()
    }

    fn lower_while(&mut self, w: &syn::ExprWhile, span: Span) -> Out {
        let (head, body, after) = (self.f.new_block(), self.f.new_block(), self.f.new_block());
        self.goto(head);
        self.cur = head;
        self.enter_loop(w.label.as_ref(), head, after);
        self.push_scope();
        match &*w.cond {
            syn::Expr::Let(l) => {
                let out = self.lower_expr(&l.expr);
                self.goto(body);
                self.goto(after);
                self.cur = body;
                self.bind_pat(&l.pat, out, None);
            }
            cond => {
                let out = self.lower_expr(cond);
                let vars = out.vars();
                self.touch(&vars, span);
                self.goto(body);
                self.goto(after);
                self.cur = body;
            }
        }
        self.lower_block(&w.body);
        self.pop_scope();
        self.goto(head);
        self.cur = after;
        self.exit_loop()
    }

    fn lower_for(&mut self, fl: &syn::ExprForLoop) -> Out {
        let iter = self.lower_expr(&fl.expr);
        let span = self.span(&fl.expr);
        let vars = iter.vars();
        self.touch(&vars, span);
        let (head, body, after) = (self.f.new_block(), self.f.new_block(), self.f.new_block());
        self.goto(head);
        self.cur = head;
        self.goto(body);
        self.goto(after);
        self.cur = body;
        self.enter_loop(fl.label.as_ref(), head, after);
        self.push_scope();
        self.bind_pat(&fl.pat, Out::none(), None);
        self.lower_block(&fl.body);
        self.pop_scope();
        self.goto(head);
        self.cur = after;
        self.exit_loop()
    }

    // ---- closures and async blocks --------------------------------

    /// Lowers a closure or async block as a function of its own; what it
    /// captures by `move` leaves this one (raw handles are copied).
    /// Returns the captured variables of this function.
    fn lower_nested(
        &mut self,
        body: Body,
        inputs: Option<&syn::punctuated::Punctuated<syn::Pat, syn::Token![,]>>,
        is_move: bool,
        span: Span,
        is_async: bool,
    ) -> Vec<VarId> {
        let mentioned = mentioned_idents(body);
        let mut captured = Vec::new();
        let mut inherited: Vec<(String, Option<String>)> = Vec::new();
        for name in mentioned {
            if let Some(v) = self.lookup(&name) {
                captured.push(v);
                inherited.push((name, self.var_ty.get(&v).cloned()));
            }
        }
        let body_text = |source: &SourceFile| {
            let sp = match body {
                Body::Block(b) => span_of(source, b),
                Body::Expr(e) => span_of(source, e),
            };
            source.text.get(sp.range()).unwrap_or("").to_string()
        };
        for &v in &captured {
            let forgotten = self
                .sites_of(v)
                .iter()
                .any(|&s| matches!(self.roles[s], Role::Forgotten { .. }));
            if forgotten {
                // A forgotten guard moved into a task stays forgotten
                // unless the task takes it back.
                let text = body_text(self.ctx.source);
                if [
                    "into_inner",
                    "ManuallyDrop::drop",
                    "ManuallyDrop::take",
                    "from_raw",
                ]
                .iter()
                .any(|w| text.contains(w))
                {
                    self.emit(EventKind::Release { var: v }, span, false, vec![]);
                } else {
                    self.touch(&[v], span);
                }
            } else if self.must_poll(v) || (is_move && !self.is_handle(v)) {
                self.hand_over(&[v], span);
            } else {
                self.touch(&[v], span);
            }
        }
        let name = format!("{}::{{closure}}", self.f.name);
        let mut inner = Lowerer::new(self.ctx, name, span, self.self_ty.clone(), self.is_test);
        inner.is_async = is_async;
        inner.push_scope();
        for (n, ty) in inherited {
            let v = inner.declare(&n);
            if let Some(t) = ty {
                inner.var_ty.insert(v, t);
            }
        }
        for pat in inputs.into_iter().flatten() {
            inner.bind_pat(pat, Out::none(), None);
        }
        let lowered = inner.finish(|l| match body {
            Body::Block(b) => l.lower_block(b),
            Body::Expr(e) => l.lower_expr(e),
        });
        self.nested.extend(lowered);
        captured
    }

    // ---- calls ------------------------------------------------------

    fn lower_args(
        &mut self,
        args: &syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>,
    ) -> Vec<Out> {
        args.iter().map(|a| self.lower_expr(a)).collect()
    }

    fn lower_call(&mut self, c: &syn::ExprCall, span: Span) -> Out {
        let path = match &*c.func {
            syn::Expr::Path(p) => Some(self.ctx.names.resolve(&p.path)),
            other => {
                self.lower_expr(other);
                None
            }
        };
        let Some(path) = path else {
            let args = self.lower_args(&c.args);
            for a in &args {
                self.pass_by_value(a, span);
            }
            return Out::none();
        };
        let segs: Vec<&str> = path.split("::").collect();
        let last = *segs.last().unwrap_or(&"");
        let owner = if segs.len() >= 2 {
            segs[segs.len() - 2]
        } else {
            ""
        };
        let func_span = self.span(&*c.func);
        let call_span = Span::new(func_span.start, span.end);

        if SPAWNS.contains(&path.as_str()) || (last == "spawn" && owner == "task") {
            let awaited = std::mem::take(&mut self.spawn_awaited);
            return self.lower_spawn(&c.args, call_span, awaited);
        }
        // An `.await` right after this call is not a spawn's.
        self.spawn_awaited = false;
        // Values that flow through wrappers unchanged.
        if c.args.len() == 1
            && (matches!(last, "Ok" | "Some")
                || (matches!(last, "new" | "pin")
                    && matches!(
                        owner,
                        "Box" | "Arc" | "Rc" | "Mutex" | "RwLock" | "RefCell" | "Cell" | "Pin"
                    )))
        {
            return self.lower_expr(&c.args[0]);
        }
        let args = self.lower_args(&c.args);
        let arg_vars =
            |i: usize| -> Vec<VarId> { args.get(i).map(|a| a.vars()).unwrap_or_default() };
        let mem = matches!(segs.first(), Some(&"std") | Some(&"core")) && owner == "mem";
        if (mem || path == "drop") && last == "drop" {
            for v in arg_vars(0) {
                self.drop_var(v, call_span);
            }
            return Out::none();
        }
        if mem && last == "forget" || (owner == "Box" && last == "leak") {
            let how = if last == "forget" {
                "std::mem::forget"
            } else {
                "Box::leak"
            };
            for v in arg_vars(0) {
                for s in self.forgettable(v) {
                    self.forgets.push(Forget {
                        site: s,
                        call: call_span,
                        how: how.to_string(),
                    });
                }
            }
            self.hand_over(&arg_vars(0), call_span);
            return Out::none();
        }
        if (owner == "ManuallyDrop" && last == "new") || (owner == "Box" && last == "into_raw") {
            let how = format!("{owner}::{last}");
            let guards: Vec<SiteId> = arg_vars(0)
                .iter()
                .flat_map(|&v| self.forgettable(v))
                .collect();
            self.hand_over(&arg_vars(0), call_span);
            if let Some(&g) = guards.first() {
                let (kind, type_name) = (self.f.sites[g].kind, self.f.sites[g].type_name.clone());
                let site = self.new_site(
                    call_span,
                    &type_name,
                    kind,
                    Role::Forgotten {
                        call: call_span,
                        how,
                    },
                    false,
                    None,
                );
                let t = self.temp();
                let i = self.acquire_into(t, site, call_span);
                return Out {
                    val: Val::Var(t),
                    fresh: Some((self.cur, i)),
                    ..Out::default()
                };
            }
            return Out::none();
        }
        if (owner == "ManuallyDrop" && matches!(last, "into_inner" | "drop" | "take"))
            || (owner == "Box" && last == "from_raw")
        {
            for v in arg_vars(0) {
                self.emit(EventKind::Release { var: v }, call_span, false, vec![]);
            }
            return Out::none();
        }
        // Acquisitions by call.
        let acquires: Vec<(ResourceSpec, crate::resources::Acquire)> = self
            .ctx
            .knowledge
            .call_acquires(&path)
            .into_iter()
            .map(|(s, a)| (s.clone(), a.clone()))
            .collect();
        if !acquires.is_empty() {
            // A raw handle given by value to a call that makes an owning
            // resource of it (`Connection::from_handle_owned(db)`) is
            // handed over; anything else is used.
            for a in &args {
                for v in a.vars() {
                    if !a.by_ref && self.is_handle(v) {
                        self.hand_over(&[v], call_span);
                    } else {
                        self.touch(&[v], call_span);
                    }
                }
            }
            return self.acquire_from_call(&acquires, &args, call_span, None);
        }
        if let Some(i) = self.ctx.knowledge.call_releases(&path) {
            for v in arg_vars(i) {
                self.emit(EventKind::Release { var: v }, call_span, false, vec![]);
            }
            for (j, a) in args.iter().enumerate() {
                if j != i {
                    let vars = a.vars();
                    self.touch(&vars, call_span);
                }
            }
            return Out::none();
        }
        // A function of this file that acquires from the pool it is given.
        let key = if segs.len() >= 2
            && (owner == "Self" || owner.starts_with(|c: char| c.is_uppercase()))
        {
            let owner = if owner == "Self" {
                self.self_ty.clone().unwrap_or_default()
            } else {
                owner.to_string()
            };
            format!("{owner}::{last}")
        } else {
            last.to_string()
        };
        let origin = match self.ctx.acquires_from(&key) {
            Some(AcquiresFrom::Param(i)) => c
                .args
                .iter()
                .nth(i)
                .map(|arg| receiver_key(self.text(self.span(arg)))),
            _ => None,
        };
        let helper = self.helper_guard(&key);
        if let (Some(origin), None) = (&origin, &helper) {
            self.pool_probe(origin.clone(), Some(key.clone()), call_span);
        }
        // A constructor (`Wrapper::new(fd)`, `Handle(fd)`) takes what it
        // is given; any other function uses borrowed arguments and owns
        // the moved ones.
        let constructor = owner.starts_with(|c: char| c.is_uppercase())
            || (segs.len() == 1 && last.starts_with(|c: char| c.is_uppercase()));
        if !READ_METHODS.contains(&last) {
            self.written_through(&args);
        }
        for a in &args {
            if constructor && !a.by_ref {
                let vars = a.vars();
                self.hand_over(&vars, call_span);
            } else {
                self.pass_by_value(a, call_span);
            }
        }
        let ty = self.ctx.returns(&key).or_else(|| {
            // `Type::new()` of a resource type, builder included.
            let type_part = segs[..segs.len().saturating_sub(1)].join("::");
            (segs.len() >= 2 && matches!(last, "new" | "default" | "builder"))
                .then(|| {
                    self.ctx
                        .knowledge
                        .spec_of_type(&type_part)
                        .map(|s| s.type_name.clone())
                })
                .flatten()
        });
        if let Some(spec) = helper {
            return self.acquire_from_helper(&spec, call_span, origin);
        }
        if constructor
            && ty.is_none()
            && segs.len() >= 2
            && matches!(last, "new" | "from" | "default")
        {
            let type_part = segs[..segs.len() - 1].join("::");
            return Out::typed(Some(type_part));
        }
        Out::typed(ty)
    }

    /// The guards `v` holds, for the forget family: its sites, or the
    /// guard an owning parameter was given.
    fn forgettable(&mut self, v: VarId) -> Vec<SiteId> {
        let sites = self.guard_sites(v);
        if !sites.is_empty() {
            return sites;
        }
        let Some((ty, span)) = self.owned_params.get(&v).cloned() else {
            return Vec::new();
        };
        let Some(spec) = self.ctx.knowledge.spec_of_type(&ty).cloned() else {
            return Vec::new();
        };
        if !is_guard(spec.kind) || spec.long_lived || spec.must_poll {
            return Vec::new();
        }
        let site = self.new_site(
            span,
            &spec.type_name,
            spec.kind,
            Role::Resource {
                pooled: spec.pooled,
                must_poll: false,
            },
            spec.drop_releases,
            None,
        );
        self.f.sites[site].var_name = self.display_name(v);
        vec![site]
    }

    fn guard_sites(&self, v: VarId) -> Vec<SiteId> {
        self.sites_of(v)
            .into_iter()
            .filter(|&s| {
                matches!(
                    self.roles[s],
                    Role::Resource {
                        must_poll: false,
                        ..
                    }
                ) && is_guard(self.f.sites[s].kind)
            })
            .collect()
    }

    /// The guard a project function returns as a value of its own
    /// (`fn conn(&self) -> PooledConnection<..>`, `fn begin(..) ->
    /// Result<Transaction<..>>`): calling it acquires one.
    fn helper_guard(&self, key: &str) -> Option<Vec<Option<ResourceSpec>>> {
        let ret = self.ctx.returns_owned(key)?;
        let guard = |t: &str| {
            self.ctx
                .knowledge
                .spec_of_type(t)
                .filter(|spec| is_guard(spec.kind) && !spec.long_lived && !spec.must_poll)
                .cloned()
        };
        // A tuple (`(Transaction, Uuid)`): one slot per element.
        match ret.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            Some(elements) => {
                let slots: Vec<Option<ResourceSpec>> = elements.split(',').map(guard).collect();
                slots.iter().any(Option::is_some).then_some(slots)
            }
            None => guard(&ret).map(|spec| vec![Some(spec)]),
        }
    }

    /// A fresh guard from a project helper, from the pool the helper
    /// acquires from (when its summary says).
    fn acquire_from_helper(
        &mut self,
        slots: &[Option<ResourceSpec>],
        span: Span,
        origin: Option<String>,
    ) -> Out {
        if let [Some(spec)] = slots {
            return self.acquire_one_from_helper(spec, span, origin);
        }
        let mut parts = Vec::new();
        let mut fresh = None;
        for slot in slots {
            match slot {
                Some(spec) => {
                    let out = self.acquire_one_from_helper(spec, span, origin.clone());
                    fresh = fresh.or(out.fresh);
                    parts.push(out.val);
                }
                None => parts.push(Val::None),
            }
        }
        Out {
            val: Val::Tuple(parts),
            fresh,
            ..Out::default()
        }
    }

    fn acquire_one_from_helper(
        &mut self,
        spec: &ResourceSpec,
        span: Span,
        origin: Option<String>,
    ) -> Out {
        let site = self.new_site(
            span,
            &spec.type_name,
            spec.kind,
            Role::Resource {
                pooled: spec.pooled,
                must_poll: false,
            },
            spec.drop_releases,
            origin,
        );
        let t = self.temp();
        let i = self.acquire_into(t, site, span);
        self.var_ty.insert(t, spec.type_name.clone());
        Out {
            val: Val::Var(t),
            ty: Some(spec.type_name.clone()),
            fresh: Some((self.cur, i)),
            by_ref: false,
        }
    }

    /// A probe for LK204: the callee acquires from `origin`.
    fn pool_probe(&mut self, origin: String, callee: Option<String>, span: Span) {
        let site = self.new_site(
            span,
            "pooled connection",
            ResourceKind::Connection,
            Role::PoolCall { callee },
            true,
            Some(origin),
        );
        let t = self.temp();
        self.acquire_into(t, site, span);
        self.drop_var(t, span);
    }

    /// The sites an acquiring call or method makes, bound to a temporary
    /// (or a tuple of them, or written through an `&mut` argument).
    fn acquire_from_call(
        &mut self,
        acquires: &[(ResourceSpec, crate::resources::Acquire)],
        args: &[Out],
        span: Span,
        origin: Option<String>,
    ) -> Out {
        let mut tuple: Vec<Val> = Vec::new();
        let mut single: Option<Out> = None;
        let mut first_event: Option<(BlockId, usize)> = None;
        // One resource per result slot: a bare `Pool` several crates
        // declare gives its first match, not one site per crate.
        let mut slots_seen: Vec<Option<usize>> = Vec::new();
        for (spec, acq) in acquires {
            if slots_seen.contains(&acq.element) {
                continue;
            }
            slots_seen.push(acq.element);
            let tracked =
                is_guard(spec.kind) || spec.kind == ResourceKind::Handle || spec.must_poll;
            let role = Role::Resource {
                pooled: spec.pooled,
                must_poll: spec.must_poll,
            };
            let mut slot = Out::typed(Some(spec.type_name.clone()));
            if tracked {
                let site = self.new_site(
                    span,
                    &spec.type_name,
                    spec.kind,
                    role,
                    spec.drop_releases,
                    origin.clone(),
                );
                let dst = match acq.out_arg {
                    Some(i) => match args.get(i).map(|a| a.vars()) {
                        Some(vs) if !vs.is_empty() => vs[0],
                        _ => continue,
                    },
                    None => self.temp(),
                };
                let i = self.acquire_into(dst, site, span);
                first_event.get_or_insert((self.cur, i));
                if acq.out_arg.is_some() {
                    continue;
                }
                slot.val = Val::Var(dst);
                if let Some(t) = self
                    .var_ty
                    .get(&dst)
                    .cloned()
                    .or(Some(spec.type_name.clone()))
                {
                    self.var_ty.insert(dst, t);
                }
            }
            match acq.element {
                Some(i) => {
                    if tuple.len() <= i {
                        tuple.resize(i + 1, Val::None);
                    }
                    tuple[i] = slot.val;
                }
                None => {
                    single.get_or_insert(slot);
                }
            }
        }
        let mut parts = Vec::new();
        for p in &tuple {
            p.vars(&mut parts);
        }
        let part_sites: Vec<SiteId> = parts.iter().flat_map(|&v| self.sites_of(v)).collect();
        for &a in &part_sites {
            for &b in &part_sites {
                if a != b {
                    self.siblings.push((a, b));
                }
            }
        }
        let mut out = match single {
            Some(out) if tuple.is_empty() => out,
            _ if !tuple.is_empty() => Out {
                val: Val::Tuple(tuple),
                ..Out::default()
            },
            _ => Out::none(),
        };
        out.fresh = first_event;
        out
    }

    fn lower_spawn(
        &mut self,
        args: &syn::punctuated::Punctuated<syn::Expr, syn::Token![,]>,
        span: Span,
        awaited: bool,
    ) -> Out {
        let mut moved: Vec<VarId> = Vec::new();
        for arg in args {
            match arg {
                syn::Expr::Async(a) => {
                    moved.extend(self.lower_nested(Body::Block(&a.block), None, true, span, true));
                }
                syn::Expr::Closure(c) => {
                    moved.extend(self.lower_nested(
                        Body::Expr(&c.body),
                        Some(&c.inputs),
                        true,
                        span,
                        c.asyncness.is_some(),
                    ));
                }
                other => {
                    let out = self.lower_expr(other);
                    let vars = out.vars();
                    self.hand_over(&vars, span);
                    moved.extend(vars);
                }
            }
        }
        let handle = self.temp();
        if let Some(ctx) = self.loops.last() {
            let (loop_id, depth) = (ctx.id, self.loops.len());
            let sites: Vec<SiteId> = moved
                .iter()
                .flat_map(|&v| self.guard_sites(v))
                .filter(|&s| self.site_loop[s].is_some_and(|(_, d)| d >= depth))
                .collect();
            if !sites.is_empty() && !awaited {
                self.handle_of.insert(handle, self.pending.len());
                self.pending.push(PendingSpawn {
                    sites,
                    span,
                    loop_id,
                    resolved: false,
                });
            }
        }
        Out {
            val: Val::Var(handle),
            ..Out::default()
        }
    }

    /// A client awaited while the connection that drives it has not been
    /// spawned yet (in source order): the await never completes.
    fn note_early_await(&mut self, touched_from: usize, span: Span) {
        let touched: Vec<VarId> = self.stmt_touched[touched_from..].to_vec();
        for v in touched {
            for s in self.sites_of(v) {
                let drivers: Vec<SiteId> = self
                    .siblings
                    .iter()
                    .filter(|(a, _)| *a == s)
                    .map(|(_, b)| *b)
                    .filter(|&b| {
                        matches!(
                            self.roles[b],
                            Role::Resource {
                                must_poll: true,
                                ..
                            }
                        )
                    })
                    .collect();
                for d in drivers {
                    if !self.polled.contains(&d) && !self.early_awaits.iter().any(|(x, _)| *x == d)
                    {
                        self.early_awaits.push((d, span));
                    }
                }
            }
        }
    }

    /// A task handle awaited or joined: its task ended within the
    /// iteration.
    fn resolve_spawn(&mut self, v: VarId) {
        if let Some(&i) = self.handle_of.get(&v) {
            if self.loops.iter().any(|l| l.id == self.pending[i].loop_id) {
                self.pending[i].resolved = true;
            }
        }
    }

    fn lower_method(&mut self, m: &syn::ExprMethodCall, span: Span) -> Out {
        let method = m.method.to_string();
        if method == "spawn"
            && m.args
                .iter()
                .any(|a| matches!(a, syn::Expr::Async(_) | syn::Expr::Closure(_)))
        {
            let recv = self.lower_expr(&m.receiver);
            let vars = recv.vars();
            self.touch(&vars, span);
            let awaited = std::mem::take(&mut self.spawn_awaited);
            return self.lower_spawn(&m.args, span, awaited);
        }
        if method == "join" && is_spawn_expr(&m.receiver, self.ctx.names) {
            self.spawn_awaited = true;
        }
        let recv = self.lower_expr(&m.receiver);
        let recv_vars = recv.vars();
        if PASSTHROUGH.contains(&method.as_str()) {
            self.lower_args(&m.args);
            return recv;
        }
        if matches!(method.as_str(), "clone" | "to_owned") {
            // A clone of a pool is the same kind of pool.
            self.lower_args(&m.args);
            let vars = recv.vars();
            self.touch(&vars, span);
            return Out::typed(recv.ty);
        }
        if BORROWS.contains(&method.as_str()) {
            return Out {
                by_ref: true,
                fresh: None,
                ..recv
            };
        }
        if method == "join" {
            for &v in &recv_vars {
                self.resolve_spawn(v);
            }
        }
        let args = self.lower_args(&m.args);
        // Must-poll values are consumed by any method (combinators).
        for &v in &recv_vars {
            if self.must_poll(v) {
                self.hand_over(&[v], span);
            }
        }
        // Releases: a method on the resource itself, or on a receiver
        // holding state (a mongodb session's transaction).
        let mut released = false;
        for &v in &recv_vars {
            let by_site = self.sites_of(v).iter().any(|&s| {
                self.ctx
                    .knowledge
                    .spec_named(&self.f.sites[s].type_name)
                    .is_some_and(|spec| {
                        spec.release
                            .iter()
                            .any(|r| r.method.as_deref() == Some(&method))
                    })
            });
            if by_site {
                self.emit(EventKind::Release { var: v }, span, false, vec![]);
                released = true;
            }
            for p in self.on_receiver.get(&v).cloned().unwrap_or_default() {
                let releases = self.sites_of(p).iter().any(|&s| {
                    self.ctx
                        .knowledge
                        .spec_named(&self.f.sites[s].type_name)
                        .is_some_and(|spec| {
                            spec.release
                                .iter()
                                .any(|r| r.method.as_deref() == Some(&method))
                        })
                });
                if releases {
                    self.emit(EventKind::Release { var: p }, span, false, vec![]);
                }
            }
        }
        if !released {
            self.touch(&recv_vars, span);
        }
        // Collections and channels keep what they are given; a guard of
        // this iteration kept by a collection from outside the loop
        // outlives it.
        if STORES.contains(&method.as_str()) {
            let outside = match &recv.val {
                Val::Var(v) => self.var_depth.get(v).copied().unwrap_or(0) < self.loops.len(),
                _ => true,
            };
            for a in &args {
                let vars = a.vars();
                if COLLECTS.contains(&method.as_str()) && outside && !self.loops.is_empty() {
                    let depth = self.loops.len();
                    for &v in &vars {
                        for s in self.guard_sites(v) {
                            if self.site_loop[s].is_some_and(|(_, d)| d >= depth) {
                                self.loop_escapes.push(LoopEscape {
                                    site: s,
                                    at: span,
                                    how: Outlives::Collected,
                                });
                            }
                        }
                    }
                }
                if a.by_ref {
                    self.touch(&vars, span);
                } else {
                    self.hand_over(&vars, span);
                }
            }
            return Out::none();
        }
        for a in &args {
            self.pass_by_value(a, span);
        }
        if !READ_METHODS.contains(&method.as_str()) {
            self.written_through(&args);
        }
        // A query run directly on a pool takes a connection from it.
        if EXECUTOR_METHODS.contains(&method.as_str()) {
            for (arg, out) in m.args.iter().zip(&args) {
                let on_pool = out.ty.as_deref().is_some_and(|t| {
                    self.ctx
                        .knowledge
                        .spec_of_type(t)
                        .is_some_and(|s| s.kind == ResourceKind::Pool)
                });
                if on_pool {
                    let origin = receiver_key(self.text(self.span(arg)));
                    let at = self.span(arg);
                    self.pool_probe(origin, None, at);
                }
            }
        }
        // The receiver's text is wanted only for pools; long method chains
        // must not copy it at every link.
        let source = self.ctx.source;
        let recv_text = || {
            let recv_span = span_of(source, &*m.receiver);
            source.text.get(recv_span.range()).unwrap_or("").to_string()
        };
        // The whole call, receiver included: where a site is reported.
        // Computed only when one is made (it walks the receiver chain).
        let full = || span_of(source, m);
        // A method of this file that acquires from `self.<pool>` or from
        // the pool it is given.
        if let Some(owner) = recv
            .ty
            .as_deref()
            .map(|t| t.rsplit("::").next().unwrap_or(t).to_string())
        {
            let key = format!("{owner}::{method}");
            let origin = match self.ctx.acquires_from(&key) {
                Some(AcquiresFrom::SelfField(field)) if recv_text().trim() == "self" => Some(field),
                Some(AcquiresFrom::Param(i)) => m
                    .args
                    .iter()
                    .nth(i)
                    .map(|arg| receiver_key(self.text(self.span(arg)))),
                _ => None,
            };
            if let Some(spec) = self.helper_guard(&key) {
                // A helper method that returns a fresh guard.
                return self.acquire_from_helper(&spec, full(), origin);
            }
            if let Some(origin) = origin {
                self.pool_probe(origin, Some(key), full());
            }
        }
        // Acquisitions on a typed receiver.
        let on_type = recv.ty.clone().unwrap_or_default();
        let acquires: Vec<(ResourceSpec, crate::resources::Acquire)> = self
            .ctx
            .knowledge
            .method_acquires(&method, &on_type)
            .into_iter()
            .filter(|(_, a)| recv.ty.is_some() || a.on.as_deref() == Some("*"))
            .map(|(s, a)| (s.clone(), a.clone()))
            .collect();
        let acquires = if acquires.is_empty() {
            self.through_pooled_guard(&method, recv.ty.as_deref())
        } else {
            acquires
        };
        // A method given a closure scopes the resource to it (diesel's and
        // sqlx's `conn.transaction(|tx| ..)` commit or roll back
        // themselves): nothing is handed to this function.
        let acquires = if m.args.iter().any(|a| matches!(a, syn::Expr::Closure(_))) {
            Vec::new()
        } else {
            acquires
        };
        if !acquires.is_empty() {
            let from_pool = self
                .ctx
                .knowledge
                .spec_of_type(&on_type)
                .is_some_and(|s| s.kind == ResourceKind::Pool);
            let origin = from_pool.then(|| receiver_key(&recv_text()));
            if let (Some((spec, acq)), Some(&rv)) = (acquires.first(), recv_vars.first()) {
                if acq.into_receiver {
                    // The state lives on the receiver: a pseudo variable
                    // of it holds the site.
                    let name = format!("{}#{}", self.display_name(rv), spec.type_name);
                    let pseudo = self.fresh_var(&name);
                    let site = self.new_site(
                        full(),
                        &spec.type_name,
                        spec.kind,
                        Role::Resource {
                            pooled: false,
                            must_poll: false,
                        },
                        spec.drop_releases,
                        None,
                    );
                    self.f.sites[site].var_name = self.display_name(rv);
                    self.acquire_into(pseudo, site, full());
                    self.on_receiver.entry(rv).or_default().push(pseudo);
                    return Out::none();
                }
            }
            let mut out = self.acquire_from_call(&acquires, &args, full(), origin);
            if let Val::Var(t) = out.val {
                // Children go with their parent (a transaction of a
                // connection).
                if let Some(&rv) = recv_vars.first() {
                    if let (Some(&parent), Some(&child)) =
                        (self.sites_of(rv).first(), self.sites_of(t).first())
                    {
                        if parent != child {
                            self.f.sites[child].parent = Some(parent);
                        }
                    }
                }
            }
            if out.ty.is_none() {
                out.ty = acquires.first().map(|(s, _)| s.type_name.clone());
            }
            return out;
        }
        // Builders return themselves.
        if let Some(spec) = recv
            .ty
            .as_deref()
            .and_then(|t| self.ctx.knowledge.spec_of_type(t))
        {
            if spec.builder {
                return Out::typed(recv.ty.clone());
            }
        }
        let ty = recv.ty.as_deref().and_then(|t| {
            let owner = t.rsplit("::").next().unwrap_or(t);
            self.ctx.returns(&format!("{owner}::{method}"))
        });
        Out::typed(ty)
    }

    /// A pooled guard derefs to its connection: a method the guard type
    /// does not have is looked up on the connection types, when every
    /// connection type that has it gives the same kind of resource
    /// (`transaction()` on an r2d2 `PooledConnection`).
    fn through_pooled_guard(
        &self,
        method: &str,
        recv_ty: Option<&str>,
    ) -> Vec<(ResourceSpec, crate::resources::Acquire)> {
        let knowledge = self.ctx.knowledge;
        let Some(guard) = recv_ty.and_then(|t| knowledge.spec_of_type(t)) else {
            return Vec::new();
        };
        if !guard.pooled {
            return Vec::new();
        }
        let found: Vec<(ResourceSpec, crate::resources::Acquire)> = knowledge
            .specs()
            .flat_map(|s| s.acquire.iter().map(move |a| (s, a)))
            .filter(|(_, a)| {
                a.method.as_deref() == Some(method)
                    && a.on.as_deref().is_some_and(|on| {
                        knowledge
                            .specs()
                            .find(|s| s.is_type(on))
                            .is_some_and(|s| s.kind == ResourceKind::Connection && !s.pooled)
                    })
            })
            .map(|(s, a)| (s.clone(), a.clone()))
            .collect();
        match found.first() {
            Some((first, _)) if found.iter().all(|(s, _)| s.kind == first.kind) => {
                vec![found[0].clone()]
            }
            _ => Vec::new(),
        }
    }

    // ---- macros -----------------------------------------------------

    fn lower_macro(&mut self, mac: &syn::Macro, span: Span) -> Out {
        let name = mac
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        // Only the local variables are wanted, and only when the body is
        // not parsed as arguments: skip the scan when no variable exists.
        let mentioned: Vec<VarId> = if self.scopes.iter().all(|s| s.is_empty()) {
            Vec::new()
        } else {
            token_idents(&mac.tokens)
                .into_iter()
                .filter_map(|n| self.lookup(&n))
                .collect()
        };
        match name.as_str() {
            "panic" | "unreachable" | "todo" | "unimplemented" => {
                self.touch(&mentioned, span);
                self.diverge();
                Out::none()
            }
            "bail" => {
                self.touch(&mentioned, span);
                let exit = self.f.normal_exit;
                self.goto(exit);
                self.diverge();
                Out::none()
            }
            "ensure" => {
                self.touch(&mentioned, span);
                let exit = self.f.normal_exit;
                let fail = self.f.new_block();
                let cont = self.f.new_block();
                self.goto(fail);
                self.goto(cont);
                self.f.edge(fail, exit);
                self.cur = cont;
                Out::none()
            }
            "vec" => {
                if let Some(args) = parse_args(mac) {
                    for a in &args {
                        let out = self.lower_expr(a);
                        self.pass_by_value(&out, span);
                    }
                } else {
                    self.pass_by_value(
                        &Out {
                            val: Val::Tuple(mentioned.iter().map(|&v| Val::Var(v)).collect()),
                            ..Out::default()
                        },
                        span,
                    );
                }
                Out::none()
            }
            "try" => match parse_args(mac) {
                Some(args) if args.len() == 1 => {
                    let out = self.lower_expr(&args[0]);
                    self.raise(&out, span);
                    out
                }
                _ => Out::none(),
            },
            _ => {
                // Futures polled by `select!`/`join!` are consumed; other
                // macros (formatting, logging, queries) borrow what they
                // mention.
                let parsed = parse_args(mac);
                match parsed {
                    Some(args) if !matches!(name.as_str(), "select" | "join" | "try_join") => {
                        for a in &args {
                            let out = self.lower_expr(a);
                            let vars = out.vars();
                            for v in vars {
                                if self.must_poll(v) {
                                    self.hand_over(&[v], span);
                                } else {
                                    self.touch(&[v], span);
                                }
                            }
                        }
                    }
                    _ => {
                        for v in mentioned {
                            if self.must_poll(v) {
                                self.hand_over(&[v], span);
                            } else {
                                self.touch(&[v], span);
                            }
                        }
                    }
                }
                Out::none()
            }
        }
    }
}

/// A span for an expression's events without walking it: syn's
/// `Spanned` prints the whole subtree to find its first and last tokens,
/// which is quadratic on long method chains. The span covers the
/// expression's own tokens (`.method(..)`, `(..)`, `?`); sites use the
/// full span, computed only where one is made.
fn quick_span(source: &SourceFile, e: &syn::Expr) -> Span {
    use syn::Expr;
    let of = |a: proc_macro2::Span, b: proc_macro2::Span| {
        let start = a.start();
        let end = b.end();
        let s = source.offset_of_char_column(start.line, start.column);
        let e = source.offset_of_char_column(end.line, end.column).max(s);
        Span::new(s, e)
    };
    match e {
        Expr::MethodCall(m) => of(m.dot_token.span, m.paren_token.span.close()),
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) if p.path.segments.len() <= 8 => span_of(source, &*c.func)
                .cover(of(c.paren_token.span.open(), c.paren_token.span.close())),
            _ => of(c.paren_token.span.open(), c.paren_token.span.close()),
        },
        Expr::Await(a) => of(a.dot_token.span, a.await_token.span),
        Expr::Try(t) => of(t.question_token.span, t.question_token.span),
        Expr::Field(f) => of(f.dot_token.span, f.dot_token.span),
        Expr::Binary(b) => span_of(source, &b.op),
        Expr::Assign(a) => of(a.eq_token.span, a.eq_token.span),
        Expr::Index(i) => of(i.bracket_token.span.open(), i.bracket_token.span.close()),
        Expr::Cast(c) => of(c.as_token.span, c.as_token.span),
        Expr::Paren(p) => of(p.paren_token.span.open(), p.paren_token.span.close()),
        Expr::Tuple(t) => of(t.paren_token.span.open(), t.paren_token.span.close()),
        Expr::Array(a) => of(a.bracket_token.span.open(), a.bracket_token.span.close()),
        Expr::Block(b) => of(
            b.block.brace_token.span.open(),
            b.block.brace_token.span.close(),
        ),
        Expr::Unsafe(u) => of(u.unsafe_token.span, u.block.brace_token.span.close()),
        Expr::Async(a) => of(a.async_token.span, a.block.brace_token.span.close()),
        Expr::If(i) => of(i.if_token.span, i.then_branch.brace_token.span.close()),
        Expr::Match(m) => of(m.match_token.span, m.brace_token.span.close()),
        Expr::While(w) => of(w.while_token.span, w.body.brace_token.span.close()),
        Expr::ForLoop(f) => of(f.for_token.span, f.body.brace_token.span.close()),
        Expr::Loop(l) => of(l.loop_token.span, l.body.brace_token.span.close()),
        Expr::Return(r) => of(r.return_token.span, r.return_token.span),
        Expr::Break(b) => of(b.break_token.span, b.break_token.span),
        Expr::Continue(c) => of(c.continue_token.span, c.continue_token.span),
        Expr::Let(l) => of(l.let_token.span, l.eq_token.span),
        Expr::Reference(r) => of(r.and_token.span, r.and_token.span),
        Expr::Group(g) => quick_span(source, &g.expr),
        _ => span_of(source, e),
    }
}

/// Whether an expression is a call to a spawn function (its handle
/// awaited or joined right away).
fn is_spawn_expr(e: &syn::Expr, names: &Names) -> bool {
    match e {
        syn::Expr::Call(c) => match &*c.func {
            syn::Expr::Path(p) => {
                let path = names.resolve(&p.path);
                SPAWNS.contains(&path.as_str()) || path.ends_with("task::spawn")
            }
            _ => false,
        },
        syn::Expr::MethodCall(m) => m.method == "spawn",
        syn::Expr::Paren(p) => is_spawn_expr(&p.expr, names),
        _ => false,
    }
}

fn parse_args(mac: &syn::Macro) -> Option<Vec<syn::Expr>> {
    use syn::punctuated::Punctuated;
    mac.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
        .ok()
        .map(|p| p.into_iter().collect())
}

/// Every identifier in a token stream (macro bodies are not parsed).
fn token_idents(tokens: &proc_macro2::TokenStream) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![tokens.clone()];
    while let Some(ts) = stack.pop() {
        for tt in ts {
            match tt {
                proc_macro2::TokenTree::Ident(i) => out.push(i.to_string()),
                proc_macro2::TokenTree::Group(g) => stack.push(g.stream()),
                _ => {}
            }
        }
    }
    out
}

/// The single-segment names a closure or async body mentions, macros
/// included: its candidate captures.
fn mentioned_idents(body: Body) -> Vec<String> {
    struct Idents(Vec<String>);
    impl<'ast> Visit<'ast> for Idents {
        fn visit_expr_path(&mut self, p: &'ast syn::ExprPath) {
            if p.path.segments.len() == 1 {
                self.0.push(p.path.segments[0].ident.to_string());
            }
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            self.0.extend(token_idents(&m.tokens));
        }
    }
    let mut v = Idents(Vec::new());
    match body {
        Body::Block(b) => v.visit_block(b),
        Body::Expr(e) => v.visit_expr(e),
    }
    let mut names = v.0;
    names.sort();
    names.dedup();
    names
}

/// The raw transaction statements a statement sends itself (not those of
/// nested blocks, which are statements of their own).
#[derive(Default)]
struct OwnSql {
    /// Spans of `BEGIN` / `START TRANSACTION` literals.
    begins: Vec<Span>,
    /// A `COMMIT` / `ROLLBACK` / `END` is sent.
    ends: bool,
    /// The statement writes: a write API (`execute`, `insert_one`) or SQL
    /// that changes data (`INSERT`, `UPDATE`, ...). A transaction only
    /// read through loses nothing when it is rolled back.
    writes: bool,
}

/// Methods that write through whatever connection or transaction they
/// are given.
const WRITE_METHODS: &[&str] = &[
    "execute",
    "execute_batch",
    "execute_many",
    "batch_execute",
    "exec",
    "exec_drop",
    "exec_batch",
    "query_drop",
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "delete_one",
    "delete_many",
    "replace_one",
    "find_one_and_update",
    "find_one_and_delete",
    "find_one_and_replace",
    "bulk_write",
    "copy_in",
];

/// Methods (and functions) that only read through the executor they are
/// given: a transaction used only by them loses nothing when rolled back.
const READ_METHODS: &[&str] = &[
    "fetch",
    "fetch_one",
    "fetch_all",
    "fetch_optional",
    "fetch_many",
    "query",
    "query_one",
    "query_opt",
    "query_raw",
    "query_row",
    "query_map",
    "query_first",
    "exec_first",
    "exec_map",
    "prepare",
    "prepare_cached",
    "find",
    "find_one",
    "count_documents",
    "aggregate",
    "distinct",
    "load",
    "first",
    "get_results",
    // mysql_async's `Query` methods that read rows.
    "map",
    "collect",
    "reduce",
    "for_each",
];

/// Whether SQL text changes data.
fn sql_writes(sql: &str) -> bool {
    sql.split(|c: char| !c.is_ascii_alphabetic()).any(|w| {
        matches!(
            w.to_ascii_uppercase().as_str(),
            "INSERT"
                | "UPDATE"
                | "DELETE"
                | "MERGE"
                | "UPSERT"
                | "REPLACE"
                | "CREATE"
                | "ALTER"
                | "DROP"
                | "TRUNCATE"
                | "COPY"
                | "GRANT"
                | "REVOKE"
        )
    })
}

/// What a SQL string does to the transaction state.
#[derive(Debug, PartialEq, Eq)]
pub enum SqlEffect {
    Begin,
    End,
    Other,
}

/// Classifies a SQL string: `BEGIN [WORK|TRANSACTION|...]` or `START
/// TRANSACTION` begins (unless the same string also ends it); `COMMIT`,
/// `END`, `ABORT` and `ROLLBACK` (but not `ROLLBACK TO SAVEPOINT`) end.
pub fn sql_effect(sql: &str) -> SqlEffect {
    let upper = sql.trim_start().to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let ends_in = |words: &[&str]| {
        words
            .iter()
            .any(|w| matches!(*w, "COMMIT" | "ROLLBACK" | "END" | "ABORT"))
    };
    match words.as_slice() {
        ["BEGIN", rest @ ..] | ["START", "TRANSACTION", rest @ ..] => {
            if ends_in(rest) {
                SqlEffect::Other
            } else {
                SqlEffect::Begin
            }
        }
        ["ROLLBACK", "TO", ..] => SqlEffect::Other,
        ["COMMIT", ..] | ["ROLLBACK", ..] | ["END", ..] | ["ABORT", ..] => SqlEffect::End,
        _ => SqlEffect::Other,
    }
}

/// Whether a function or method name is one that sends SQL: `query*`,
/// `exec*`, `execute*`, `batch_execute`, `simple_query`, `sql_query`,
/// `raw_sql`, `prepare*`.
fn is_query_api(name: &str) -> bool {
    name.starts_with("query")
        || name.starts_with("exec")
        || name.starts_with("prepare")
        || matches!(
            name,
            "batch_execute" | "simple_query" | "sql_query" | "raw_sql" | "execute_unprepared"
        )
}

fn own_sql(stmt: &syn::Stmt, source: &SourceFile) -> OwnSql {
    struct Finder<'s> {
        source: &'s SourceFile,
        out: OwnSql,
    }
    impl Finder<'_> {
        fn literal(&mut self, value: &str, span: Span) {
            self.out.writes |= sql_writes(value);
            match sql_effect(value) {
                SqlEffect::Begin => self.out.begins.push(span),
                SqlEffect::End => self.out.ends = true,
                SqlEffect::Other => {}
            }
        }
    }
    impl Finder<'_> {
        /// String literals given directly to a query API.
        fn arguments<'e>(&mut self, args: impl Iterator<Item = &'e syn::Expr>) {
            for a in args {
                let mut e = a;
                // `&sql`, `sql.as_str()`, `format!("BEGIN ..", x).as_str()`.
                loop {
                    match e {
                        syn::Expr::Reference(r) => e = &r.expr,
                        syn::Expr::Paren(p) => e = &p.expr,
                        syn::Expr::MethodCall(m)
                            if matches!(
                                m.method.to_string().as_str(),
                                "as_str" | "as_ref" | "to_string" | "to_owned" | "into"
                            ) =>
                        {
                            e = &m.receiver
                        }
                        _ => break,
                    }
                }
                match e {
                    syn::Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    }) => {
                        let span = span_of(self.source, s);
                        self.literal(&s.value(), span);
                    }
                    syn::Expr::Macro(m)
                        if m.mac
                            .path
                            .segments
                            .last()
                            .is_some_and(|s| s.ident == "format") =>
                    {
                        if let Some(proc_macro2::TokenTree::Literal(l)) =
                            m.mac.tokens.clone().into_iter().next()
                        {
                            let tree = proc_macro2::TokenTree::Literal(l);
                            if let Ok(s) = syn::parse2::<syn::LitStr>(tree.into()) {
                                let span = span_of(self.source, &s);
                                self.literal(&s.value(), span);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    impl<'ast> Visit<'ast> for Finder<'_> {
        fn visit_block(&mut self, _: &'ast syn::Block) {}
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_expr_async(&mut self, _: &'ast syn::ExprAsync) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
        fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
            if let syn::Expr::Path(p) = &*c.func {
                // diesel's statement builders.
                if p.path.segments.last().is_some_and(|s| {
                    matches!(
                        s.ident.to_string().as_str(),
                        "insert_into"
                            | "insert_or_ignore_into"
                            | "replace_into"
                            | "update"
                            | "delete"
                    )
                }) {
                    self.out.writes = true;
                }
                if p.path
                    .segments
                    .last()
                    .is_some_and(|s| is_query_api(&s.ident.to_string()))
                {
                    self.arguments(c.args.iter());
                }
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            let method = m.method.to_string();
            if WRITE_METHODS.contains(&method.as_str()) {
                self.out.writes = true;
            }
            if is_query_api(&method) {
                self.arguments(m.args.iter());
            }
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            // Only query macros (`sqlx::query!`) send SQL; `write!` and
            // `format!` only print it.
            if !m
                .path
                .segments
                .last()
                .is_some_and(|s| s.ident.to_string().starts_with("query"))
            {
                return;
            }
            let mut stack = vec![m.tokens.clone()];
            while let Some(ts) = stack.pop() {
                for tt in ts {
                    match tt {
                        proc_macro2::TokenTree::Literal(l) => {
                            let tree = proc_macro2::TokenTree::Literal(l);
                            if let Ok(s) = syn::parse2::<syn::LitStr>(tree.into()) {
                                let span = span_of(self.source, &s);
                                self.literal(&s.value(), span);
                            }
                        }
                        proc_macro2::TokenTree::Group(g) => stack.push(g.stream()),
                        _ => {}
                    }
                }
            }
        }
    }
    let mut f = Finder {
        source,
        out: OwnSql::default(),
    };
    f.visit_stmt(stmt);
    f.out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{LeakPath, Outcome};
    use crate::resources::{table_for, SpecLanguage};
    use crate::rust::project::RustProject;

    /// Lowers and analyses every function of `src`; returns, per
    /// function name, the lowered function and the engine's outcome.
    fn analyse_src(src: &str) -> Vec<(Lowered, Outcome)> {
        let source = SourceFile::new("t.rs", src.to_string());
        let file: syn::File = syn::parse_str(src).unwrap();
        let table = table_for(SpecLanguage::Rust, &[]);
        let project = RustProject::default();
        let analysis = crate::rust::analyse::analyse_file(&file, &source, &table, &project);
        analysis.functions
    }

    fn leaks_of<'a>(fs: &'a [(Lowered, Outcome)], name: &str) -> &'a Outcome {
        &fs.iter().find(|(l, _)| l.function.name == name).unwrap().1
    }

    #[test]
    fn a_question_mark_after_a_failed_acquisition_leaks_nothing() {
        let fs = analyse_src(
            "fn early(p: &CStr) -> io::Result<()> {\n\
                 let fd = unsafe { libc::open(p.as_ptr(), 0) };\n\
                 if fd < 0 { return Err(io::Error::last_os_error()); }\n\
                 check(fd)?;\n\
                 unsafe { libc::close(fd) };\n\
                 Ok(())\n\
             }\n\
             fn closed_first(p: &CStr) -> io::Result<()> {\n\
                 let fd = unsafe { libc::open(p.as_ptr(), 0) };\n\
                 if fd == -1 { return Err(io::Error::last_os_error()); }\n\
                 unsafe { libc::close(fd) };\n\
                 check(0)?;\n\
                 Ok(())\n\
             }\n",
        );
        let early = leaks_of(&fs, "early");
        assert_eq!(early.leaks.len(), 1, "{early:?}");
        assert!(matches!(early.leaks[0].path, LeakPath::OnError { .. }));
        assert!(leaks_of(&fs, "closed_first").leaks.is_empty());
    }

    #[test]
    fn a_shadowed_guard_is_still_alive_at_the_second_acquisition() {
        let fs = analyse_src(
            "use sqlx::PgPool;\n\
             async fn twice(pool: &PgPool) -> sqlx::Result<()> {\n\
                 let c = pool.acquire().await?;\n\
                 let c = pool.acquire().await?;\n\
                 Ok(())\n\
             }\n\
             async fn dropped(pool: &PgPool) -> sqlx::Result<()> {\n\
                 { let c = pool.acquire().await?; }\n\
                 let c = pool.acquire().await?;\n\
                 Ok(())\n\
             }\n",
        );
        assert_eq!(leaks_of(&fs, "twice").open_at_acquire.len(), 1);
        assert!(leaks_of(&fs, "dropped").open_at_acquire.is_empty());
    }

    #[test]
    fn a_spawned_tokio_postgres_connection_is_consumed() {
        let src = "use tokio_postgres::NoTls;\n\
             async fn f(url: &str) -> Result<(), tokio_postgres::Error> {\n\
                 let (client, connection) = tokio_postgres::connect(url, NoTls).await?;\n\
                 SPAWN\n\
                 client.simple_query(\"SELECT 1\").await?;\n\
                 Ok(())\n\
             }\n";
        let polled = |fs: &[(Lowered, Outcome)]| {
            let (l, o) = &fs[0];
            o.leaks.iter().all(|leak| {
                !matches!(
                    l.roles[leak.site],
                    Role::Resource {
                        must_poll: true,
                        ..
                    }
                )
            })
        };
        assert!(!polled(&analyse_src(&src.replace("SPAWN", ""))));
        assert!(polled(&analyse_src(
            &src.replace("SPAWN", "tokio::spawn(connection);")
        )));
        assert!(polled(&analyse_src(&src.replace(
            "SPAWN",
            "tokio::spawn(async move { connection.await });"
        ))));
    }

    #[test]
    fn classifies_transaction_statements() {
        assert_eq!(sql_effect("BEGIN"), SqlEffect::Begin);
        assert_eq!(
            sql_effect("  begin transaction isolation level serializable;"),
            SqlEffect::Begin
        );
        assert_eq!(sql_effect("START TRANSACTION"), SqlEffect::Begin);
        assert_eq!(
            sql_effect("BEGIN; INSERT INTO t VALUES (1); COMMIT;"),
            SqlEffect::Other
        );
        assert_eq!(sql_effect("COMMIT"), SqlEffect::End);
        assert_eq!(sql_effect("rollback"), SqlEffect::End);
        assert_eq!(sql_effect("ROLLBACK TO SAVEPOINT a"), SqlEffect::Other);
        assert_eq!(sql_effect("SELECT 1"), SqlEffect::Other);
        assert_eq!(
            sql_effect("DO $$ BEGIN PERFORM 1; END $$"),
            SqlEffect::Other
        );
    }
}
