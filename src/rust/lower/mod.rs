//! Lowers Rust functions, closures and async blocks parsed by syn into the
//! lifecycle IR. `?` is an error edge to the function's raise exit; a
//! binding is dropped at the end of the block that owns it (`Drop`
//! events), or by `drop(x)`; passing a guard by value moves it away
//! (`Escape`); `return` and the tail expression return it. Closures and
//! async blocks are functions of their own: what they capture by `move`
//! leaves the enclosing function.
//!
//! Besides the CFG, the lowering records in each site's `SiteFacts` what
//! the Rust rules need beyond the events: its role, whether it was used or
//! written through, guards forgotten (`mem::forget`, `Box::leak`), guards
//! that outlive a loop iteration, where `tokio_postgres` connections are
//! bound (for LK208's fix) and which sites one call made together.

use std::collections::HashMap;

use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::diagnostic::Span;
use crate::ir::{BlockId, EventKind, Function, Site, SiteFacts, SiteId, VarId};
use crate::resources::{ResourceKind, ResourceSpec};
use crate::rust::items::{receiver_key, AcquiresFrom, Items};
use crate::rust::knowledge::{is_guard, Knowledge};
use crate::rust::names::type_path;
use crate::rust::names::Names;
use crate::rust::project::RustProject;
use crate::source::SourceFile;

/// Everything the lowering of one file's functions shares.
pub struct Ctx<'a> {
    pub source: &'a SourceFile,
    pub names: &'a Names<'a>,
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

pub(crate) use crate::rust::span_of;

pub(crate) use crate::ir::{Outlives, SiteRole as Role};
/// The body of a closure (an expression) or an async block.
#[derive(Clone, Copy)]
enum Body<'b> {
    Block(&'b syn::Block),
    Expr(&'b syn::Expr),
}

/// One lowered function (or closure, or async block): its CFG, with the
/// facts the rules need in its sites and info.
#[derive(Debug)]
pub struct Lowered {
    pub function: Function,
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

struct Lowerer<'c, 'a> {
    ctx: &'c Ctx<'a>,
    f: Function,
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
    spawn_awaited: bool,
    pending: Vec<PendingSpawn>,
    handle_of: HashMap<VarId, usize>,
    raw_tx: Option<VarId>,
    /// Local names for a pool expression (`let pool = &state.db;`).
    pool_alias: HashMap<VarId, String>,
    /// Parameters that own a guard, by type, and where they are declared.
    owned_params: HashMap<VarId, (String, Span)>,
    /// Must-poll sites already spawned, awaited or handed on (in source
    /// order).
    polled: std::collections::HashSet<SiteId>,
    /// Per must-poll site: a client of it awaited before it was polled.
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
    let fn_bounds = crate::rust::items::generic_bounds(&sig.generics, ctx.names);
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
                let ty =
                    type_path(&pt.ty, ctx.names).map(|t| fn_bounds.get(&t).cloned().unwrap_or(t));
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
            spawn_awaited: false,
            pending: Vec::new(),
            handle_of: HashMap::new(),
            raw_tx: None,
            pool_alias: HashMap::new(),
            owned_params: HashMap::new(),
            polled: std::collections::HashSet::new(),
            is_async: false,
            is_test,
        }
    }

    /// Lowers the body with `body`, returns its value, closes the
    /// function and returns it with its nested functions.
    fn finish(mut self, body: impl FnOnce(&mut Self) -> Out) -> Vec<Lowered> {
        let out = body(&mut self);
        let span = self.f.span;
        self.return_vars(out.vars(), span);
        self.pop_scope();
        let exit = self.f.normal_exit;
        self.f.edge(self.cur, exit);
        let mut f = self.f;
        f.info.is_test = self.is_test;
        let mut all = vec![Lowered { function: f }];
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

    /// The pool a receiver or argument names, for comparing origins: its
    /// text, or what a local alias of it stands for.
    fn origin_of(&self, text: &str) -> String {
        let key = receiver_key(text, &self.ctx.knowledge.vocab.receiver_suffix_methods);
        let alias = (key.chars().all(|c| c.is_alphanumeric() || c == '_'))
            .then(|| self.lookup(&key))
            .flatten()
            .and_then(|v| self.pool_alias.get(&v));
        alias.cloned().unwrap_or(key)
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
                    self.f.sites[s].facts.touched = true;
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
        self.sites_of(v)
            .iter()
            .any(|&s| self.f.sites[s].facts.role.must_poll())
    }

    /// Raw handles and raw pointers (`Box::into_raw`) are `Copy`: passing
    /// one along is a use, not a move.
    fn is_handle(&self, v: VarId) -> bool {
        let sites = self.sites_of(v);
        !sites.is_empty() && sites.iter().all(|&s| {
            self.kind_of_site(s) == ResourceKind::Handle
                || matches!(&self.f.sites[s].facts.role, Role::Detached { how, .. } if how == "Box::into_raw")
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
            facts: SiteFacts {
                role,
                ..SiteFacts::default()
            },
        });
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
                if self.f.sites[s].facts.role.must_poll() {
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

    /// What a macro or `select!` mentions: a must-poll value is driven
    /// (consumed), anything else is used.
    fn poll_or_use(&mut self, vars: &[VarId], span: Span) {
        for &v in vars {
            if self.must_poll(v) {
                self.hand_over(&[v], span);
            } else {
                self.touch(&[v], span);
            }
        }
    }

    /// Everything `vars` (and the tuples they hold) hold is returned to
    /// the caller.
    fn return_vars(&mut self, vars: Vec<VarId>, span: Span) {
        for v in self.with_parts(vars) {
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
}

mod calls;
mod expressions;
mod nested;
mod patterns;
mod sql;
mod statements;
#[cfg(test)]
mod tests;

#[cfg(test)]
use crate::rust::sql::{sql_effect, SqlEffect};
use nested::is_spawn_expr;
use sql::*;
