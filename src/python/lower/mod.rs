//! Lowers Python functions into the lifecycle IR: a CFG with normal and
//! exceptional edges, whose events say where resources are acquired,
//! released, guarded, handed over or overwritten.
//!
//! Any call, `await`, subscript or `raise` may raise; its exceptional edge
//! goes to the innermost handler dispatch, `finally` copy or the
//! function's raise exit. `finally` bodies are lowered once per way out of
//! their `try` (normal, exceptional, each `return`/`break`/`continue`), so
//! every path runs its own copy.

use std::collections::{HashMap, HashSet};

use tree_sitter::Node;

use super::context::{unwrap_value, FileContext};
use crate::diagnostic::Span;
use crate::ir::{BlockId, EventKind, Function, Site, SiteId, VarId};
use crate::resources::{ResourceKind, ResourceSpec, Vocabulary, WithSemantics};

mod calls;
mod entry;

pub(crate) use entry::class_attributes;
pub use entry::lower_file;

/// `(conn := connect())` and `(conn)` stand for `conn` in a condition.
fn name_of_operand(mut n: Node) -> Node {
    loop {
        match n.kind() {
            "parenthesized_expression" => match n.named_child(0) {
                Some(c) => n = c,
                None => return n,
            },
            "named_expression" => match n.child_by_field_name("name") {
                Some(c) => return c,
                None => return n,
            },
            _ => return n,
        }
    }
}

pub(crate) use crate::ir::Generator as GenMode;

/// One lowered function and what the rules and summaries need beside it.
/// The function's identity and shape are in `function.info`, the calls
/// rules check in `function.calls`; the rest is for the summaries.
pub struct Lowered {
    pub function: Function,
    pub params: Vec<String>,
    /// Sites yielded (lent) by a loan generator.
    pub yielded: Vec<SiteId>,
    /// It yields a resource scoped by its own `with` block.
    pub yields_scoped: bool,
    /// For each `return a, b`: the tracked name in each position.
    pub tuple_returns: Vec<Vec<Option<String>>>,
    pub releases_params: Vec<usize>,
    /// The positional argument (as callers pass it) whose call's result it
    /// returns.
    pub returns_call_of: Option<usize>,
    /// Project helpers in other modules to ask for a summary of
    /// (`<key>#wanted`): this function, wanted itself, returns what one of
    /// them returns given its callable.
    pub wants: Vec<String>,
    /// The function's `def` line (name), for messages.
    pub name_span: Span,
}

struct Finally<'t> {
    body: Node<'t>,
    /// Where exceptions raised inside the finally body go.
    exc: BlockId,
}

struct Loop {
    continue_to: BlockId,
    break_to: BlockId,
    finally_depth: usize,
}

struct Lowerer<'c, 'a, 't> {
    ctx: &'c FileContext<'a>,
    f: Function,
    cur: BlockId,
    exc: BlockId,
    finallies: Vec<Finally<'t>>,
    loops: Vec<Loop>,
    /// Local name -> resource or factory type.
    locals: HashMap<String, String>,
    attrs: &'c HashMap<String, String>,
    class: Option<String>,
    params: Vec<String>,
    globals_declared: HashSet<String>,
    site_by_span: HashMap<Span, SiteId>,
    gen: GenMode,
    yielded: Vec<SiteId>,
    releases_params: Vec<usize>,
    temp: usize,
    /// For each `return a, b`: the tracked name in each position.
    tuple_returns: Vec<Vec<Option<String>>>,
    /// Names bound by `with <acquisition> as name`.
    scoped_names: Vec<String>,
    /// Names bound to a tracked resource's release method (`close =
    /// conn.close`): calling one releases it.
    bound_releases: HashMap<String, VarId>,
    /// Tracked names entered by `with name:` that closes them: what is
    /// opened on them inside (`channel = connection.channel()`) closes
    /// with them.
    guarded_names: Vec<String>,
    /// A loan generator yields a name its `with` scopes.
    yields_scoped: bool,
    /// The call that is a whole expression statement (its result, a
    /// coroutine for async releases, is dropped).
    statement_call: Option<usize>,
    /// Nested functions that are only ever called here, by name, with the
    /// resources they use from this scope: a call to one uses them.
    local_helpers: HashMap<String, Vec<VarId>>,
}

fn span(n: Node) -> Span {
    Span::new(n.start_byte(), n.end_byte())
}

/// Statements directly in `body`, not in nested functions or classes,
/// that satisfy `pred`; used to find `yield`s.
fn contains_own(node: Node, pred: &dyn Fn(Node) -> bool) -> bool {
    let mut found = false;
    crate::python::preorder(node, |n| {
        if found {
            return false;
        }
        if n != node
            && matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            )
        {
            return false;
        }
        if pred(n) {
            found = true;
            return false;
        }
        true
    });
    found
}

fn yields_in_loop(body: Node) -> bool {
    let mut in_loop = false;
    crate::python::preorder(body, |n| {
        if in_loop
            || matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            )
        {
            return false;
        }
        if matches!(n.kind(), "for_statement" | "while_statement")
            && contains_own(n, &|m| m.kind() == "yield")
        {
            in_loop = true;
            return false;
        }
        true
    });
    in_loop
}

impl<'c, 'a, 't> Lowerer<'c, 'a, 't> {
    fn text(&self, n: Node) -> &'a str {
        self.ctx.text(n)
    }

    fn new_block(&mut self) -> BlockId {
        let b = self.f.new_block();
        self.f.blocks[b].exc = Some(self.exc);
        b
    }

    /// Continues in a fresh block reached from the current one.
    fn next_block(&mut self) -> BlockId {
        let b = self.new_block();
        self.f.edge(self.cur, b);
        self.cur = b;
        b
    }

    /// After `return`/`raise`/`break`: what follows is unreachable.
    fn dead(&mut self) {
        self.cur = self.new_block();
    }

    /// `dst` gets a fresh resource of `site` from `call`, which uses what
    /// its receiver and arguments hold.
    fn emit_acquire(&mut self, dst: VarId, site: SiteId, call: Node<'t>, may_raise: bool) {
        let touches = self.call_touches(call);
        self.emit_touching(
            EventKind::Acquire { dst, site },
            span(call),
            may_raise,
            touches,
        );
    }

    fn emit(&mut self, kind: EventKind, at: Span, may_raise: bool) {
        self.emit_touching(kind, at, may_raise, Vec::new());
    }

    fn emit_touching(&mut self, kind: EventKind, at: Span, may_raise: bool, touches: Vec<VarId>) {
        self.f.blocks[self.cur].events.push(crate::ir::Event {
            kind,
            span: at,
            may_raise,
            touches,
        });
    }

    /// Whatever `var` holds is handed over (returned when `returned`).
    fn hand_over(&mut self, var: VarId, at: Span, returned: bool) {
        self.emit(EventKind::Escape { var, returned }, at, false);
    }

    fn effect(&mut self, at: Span) {
        self.emit(EventKind::Effect, at, true);
    }

    /// The variable for `name` if it may hold a tracked resource.
    fn tracked(&self, node: Node) -> Option<VarId> {
        if node.kind() != "identifier" {
            return None;
        }
        let name = self.text(node);
        self.f.var_names.iter().position(|n| n == name)
    }

    fn site(&mut self, at: Span, spec: &ResourceSpec, var_name: &str) -> SiteId {
        self.site_with_parent(at, spec, var_name, None)
    }

    /// A site made from the resource `parent` names (`conn.cursor()`).
    fn site_with_parent(
        &mut self,
        at: Span,
        spec: &ResourceSpec,
        var_name: &str,
        parent: Option<&str>,
    ) -> SiteId {
        if let Some(&s) = self.site_by_span.get(&at) {
            return s;
        }
        let parent = parent.and_then(|p| {
            (0..self.f.sites.len())
                .rev()
                .find(|&s| self.f.sites[s].var_name == p)
        });
        let s = self.f.add_site(Site {
            span: at,
            type_name: spec.type_name.clone(),
            kind: spec.kind,
            var_name: var_name.to_string(),
            parent,
            long_lived: spec.long_lived,
            drop_releases: false,
            origin: None,
            facts: Default::default(),
        });
        self.site_by_span.insert(at, s);
        s
    }

    fn spec_of_var(&self, name: &str) -> Option<&'a ResourceSpec> {
        self.locals.get(name).and_then(|t| self.ctx.spec(t))
    }

    // ---- statements ---------------------------------------------------

    fn block(&mut self, block: Node<'t>) {
        let mut cursor = block.walk();
        let children: Vec<Node<'t>> = block.named_children(&mut cursor).collect();
        for stmt in children {
            self.stmt(stmt);
        }
    }

    fn stmt(&mut self, node: Node<'t>) {
        match node.kind() {
            "expression_statement" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for child in children {
                    match child.kind() {
                        "assignment" => self.assignment(child),
                        "augmented_assignment" => {
                            if let Some(r) = child.child_by_field_name("right") {
                                self.expr(r);
                            }
                            self.effect(span(child));
                        }
                        _ if self.discarded_acquisition(child) => {}
                        _ => {
                            if child.kind() == "call" {
                                self.statement_call = Some(child.id());
                            }
                            self.expr(child);
                        }
                    }
                }
            }
            "return_statement" => self.ret(node),
            "raise_statement" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for c in children {
                    self.expr(c);
                }
                // Not a call that might fail but a raise for certain: what
                // is open here leaks on this path, used yet or not (only a
                // lazy resource, an engine that has connected nothing, is
                // spared).
                let open: Vec<VarId> = (0..self.f.var_names.len())
                    .filter(|&v| {
                        self.spec_of_var(&self.f.var_names[v])
                            .is_some_and(|s| !s.lazy)
                    })
                    .collect();
                self.emit_touching(EventKind::Effect, span(node), true, open);
                self.dead();
            }
            "if_statement" => self.if_stmt(node),
            "for_statement" | "while_statement" => self.loop_stmt(node),
            "try_statement" => self.try_stmt(node),
            "with_statement" => self.with_stmt(node),
            "match_statement" => self.match_stmt(node),
            "function_definition" | "class_definition" | "decorated_definition" => {
                self.capture(node)
            }
            "break_statement" | "continue_statement" => {
                if let Some(l) = self.loops.last() {
                    let (to, depth) = (
                        if node.kind() == "break_statement" {
                            l.break_to
                        } else {
                            l.continue_to
                        },
                        l.finally_depth,
                    );
                    self.run_finallies(depth);
                    self.f.edge(self.cur, to);
                }
                self.dead();
            }
            "delete_statement" => {
                let mut cursor = node.walk();
                let targets: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for t in targets {
                    let list: Vec<Node<'t>> = if t.kind() == "expression_list" {
                        let mut c = t.walk();
                        t.named_children(&mut c).collect()
                    } else {
                        vec![t]
                    };
                    for t in list {
                        match self.tracked(t) {
                            Some(v) => self.emit(EventKind::Clear { dst: v }, span(t), false),
                            None => self.expr(t),
                        }
                    }
                }
            }
            "global_statement" | "nonlocal_statement" => {
                let mut cursor = node.walk();
                let names: Vec<String> = node
                    .named_children(&mut cursor)
                    .filter(|n| n.kind() == "identifier")
                    .map(|n| self.text(n).to_string())
                    .collect();
                self.globals_declared.extend(names);
            }
            "assert_statement" => {
                let mut cursor = node.walk();
                let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
                for c in children {
                    self.expr(c);
                }
                self.effect(span(node));
            }
            "block" => self.block(node),
            _ => {}
        }
    }

    /// Runs (lowers) the `finally` bodies entered since `depth`, innermost
    /// first, as a `return`/`break`/`continue` leaves them.
    fn run_finallies(&mut self, depth: usize) {
        let mut i = self.finallies.len();
        while i > depth {
            i -= 1;
            let saved = self.finallies.split_off(i);
            let (body, exc) = (saved[0].body, saved[0].exc);
            let outer_exc = std::mem::replace(&mut self.exc, exc);
            self.next_block();
            self.block(body);
            self.exc = outer_exc;
            self.finallies.extend(saved);
        }
    }

    fn ret(&mut self, node: Node<'t>) {
        if let Some(value) = node.named_child(0) {
            // `return conn, cur`: remember which name goes where, for the
            // summary of what callers unpack.
            if matches!(value.kind(), "expression_list" | "tuple") {
                let mut cursor = value.walk();
                let names: Vec<Option<String>> = value
                    .named_children(&mut cursor)
                    .map(|e| self.tracked(e).map(|_| self.text(e).to_string()))
                    .collect();
                if names.iter().any(Option::is_some) {
                    self.tuple_returns.push(names);
                }
            }
            self.returned_value(value);
        }
        self.run_finallies(0);
        let exit = self.f.normal_exit;
        self.f.edge(self.cur, exit);
        self.dead();
    }

    /// `return value`: a fresh acquisition or a tracked name is handed to
    /// the caller.
    fn returned_value(&mut self, value: Node<'t>) {
        if let Some((spec, call)) = self.acquisition(value) {
            if spec.kind != ResourceKind::Factory {
                self.call_parts(call);
                let v = self.temp_var();
                let site = self.site(span(call), spec, "<returned>");
                let quiet = self.quiet_call(call, None);
                // `return s.get(url, stream=True)` uses the session.
                self.emit_acquire(v, site, call, !quiet);
                self.hand_over(v, span(value), true);
                return;
            }
        }
        self.expr(value);
        self.escape_values(value, true);
    }

    /// Whether the function around `at` calls a release method on `name`
    /// inside an `if` (or a conditional expression).
    fn released_under_condition(&self, name: &str, at: Node<'t>) -> bool {
        let Some(body) = crate::python::enclosing_function_body(at) else {
            return false;
        };
        let releases = &self.ctx.resources.vocabulary.release_methods;
        let mut found = false;
        crate::python::preorder(body, |n| {
            if found {
                return false;
            }
            if n.kind() == "call" {
                let callee = n
                    .child_by_field_name("function")
                    .filter(|f| f.kind() == "attribute");
                let on_name = callee.is_some_and(|f| {
                    f.child_by_field_name("object")
                        .is_some_and(|o| o.kind() == "identifier" && self.text(o) == name)
                        && f.child_by_field_name("attribute")
                            .is_some_and(|m| Vocabulary::has(releases, self.text(m)))
                });
                if on_name {
                    let mut up = n.parent();
                    while let Some(u) = up {
                        if u.id() == body.id() {
                            break;
                        }
                        if matches!(u.kind(), "if_statement" | "conditional_expression") {
                            found = true;
                            break;
                        }
                        up = u.parent();
                    }
                }
            }
            !matches!(
                n.kind(),
                "function_definition" | "class_definition" | "lambda"
            )
        });
        found
    }

    /// `pymysql.connect(...)` or `retry(engine.connect)` as a statement
    /// of its own: a connection, session, client or pool opened and
    /// dropped at once, which nothing can release (garbage collection is
    /// not a release). Transactions and cursors belong to their owner, and
    /// a lazy resource holds nothing until used: neither counts. Lowered
    /// here when it is one.
    fn discarded_acquisition(&mut self, expr: Node<'t>) -> bool {
        let Some((spec, call)) = self.acquisition(expr) else {
            return false;
        };
        if spec.lazy
            || !matches!(
                spec.kind,
                ResourceKind::Connection
                    | ResourceKind::Session
                    | ResourceKind::Client
                    | ResourceKind::Pool
                    | ResourceKind::Engine
            )
        {
            return false;
        }
        // `await session.get(url)`: a response of a client or session is
        // reclaimed when its owner closes; a connection checked out of an
        // engine or pool is not (dispose() leaves checked-out ones open).
        let owner_kind = call
            .child_by_field_name("function")
            .filter(|f| f.kind() == "attribute")
            .and_then(|f| f.child_by_field_name("object"))
            .and_then(|o| self.ctx.type_of_name(o, &self.locals, self.attrs))
            .and_then(|t| self.ctx.spec(&t))
            .map(|s| s.kind);
        if matches!(
            owner_kind,
            Some(ResourceKind::Client | ResourceKind::Session | ResourceKind::Connection)
        ) {
            return false;
        }
        self.call_parts(call);
        let v = self.temp_var();
        let site = self.site(span(call), spec, "<discarded>");
        self.emit_acquire(v, site, call, true);
        self.emit(EventKind::Clear { dst: v }, span(expr), false);
        true
    }

    fn temp_var(&mut self) -> VarId {
        self.temp += 1;
        let name = format!("<tmp{}>", self.temp);
        self.f.var(&name)
    }

    /// Conditions that tell a name is `None` on one branch:
    /// (names None when true, names None when false).
    fn none_facts(&self, cond: Node) -> (Vec<VarId>, Vec<VarId>) {
        match cond.kind() {
            "identifier" => (vec![], self.tracked(cond).into_iter().collect()),
            "named_expression" => cond
                .child_by_field_name("name")
                .map(|n| self.none_facts(n))
                .unwrap_or_default(),
            "not_operator" => {
                let (t, f) = cond
                    .child_by_field_name("argument")
                    .map(|a| self.none_facts(a))
                    .unwrap_or_default();
                (f, t)
            }
            "parenthesized_expression" => cond
                .named_child(0)
                .map(|c| self.none_facts(c))
                .unwrap_or_default(),
            "comparison_operator" => {
                let (Some(l), Some(r)) = (cond.named_child(0), cond.named_child(1)) else {
                    return Default::default();
                };
                let (l, r) = (name_of_operand(l), name_of_operand(r));
                let op = cond.child(1).map(|o| self.text(o)).unwrap_or("");
                let op = if op == "is" && cond.child(2).is_some_and(|n| self.text(n) == "not") {
                    "is not"
                } else {
                    op
                };
                let var = if r.kind() == "none" {
                    self.tracked(l)
                } else if l.kind() == "none" {
                    self.tracked(r)
                } else {
                    None
                };
                let Some(var) = var else {
                    return Default::default();
                };
                match op {
                    "is" | "==" => (vec![var], vec![]),
                    "is not" | "!=" => (vec![], vec![var]),
                    _ => Default::default(),
                }
            }
            "boolean_operator" => {
                let (Some(l), Some(r)) = (
                    cond.child_by_field_name("left"),
                    cond.child_by_field_name("right"),
                ) else {
                    return Default::default();
                };
                // Precision first: whichever operand decides, a branch that
                // an operand says holds nothing (or something closed) is
                // taken to hold nothing.
                let (lt, lf) = self.none_facts(l);
                let (rt, rf) = self.none_facts(r);
                ([lt, rt].concat(), [lf, rf].concat())
            }
            // `conn.closed`, `conn.is_closed()`: true when already released.
            "attribute" | "call" => {
                let target = if cond.kind() == "call" {
                    cond.child_by_field_name("function")
                } else {
                    Some(cond)
                };
                let Some(target) = target.filter(|t| t.kind() == "attribute") else {
                    return Default::default();
                };
                let attr = target
                    .child_by_field_name("attribute")
                    .map(|a| self.text(a))
                    .unwrap_or("");
                let var = target
                    .child_by_field_name("object")
                    .and_then(|o| self.tracked(o));
                let closed = &self.ctx.resources.vocabulary.closed_predicates;
                match var {
                    Some(v) if Vocabulary::has(closed, attr) => (vec![v], vec![]),
                    _ => Default::default(),
                }
            }
            _ => Default::default(),
        }
    }

    fn assume_none(&mut self, vars: &[VarId], at: Span) {
        for &v in vars {
            self.emit(EventKind::AssumeNone { var: v }, at, false);
        }
    }

    fn if_stmt(&mut self, node: Node<'t>) {
        let after = self.new_block();
        self.if_chain(node, after);
        self.cur = after;
    }

    /// Lowers `if`/`elif`/`else`, joining at `after`.
    fn if_chain(&mut self, node: Node<'t>, after: BlockId) {
        self.branch(node, after);
        let mut cursor = node.walk();
        let alternatives: Vec<Node<'t>> = node
            .children_by_field_name("alternative", &mut cursor)
            .collect();
        self.alternatives(&alternatives, after);
        self.f.edge(self.cur, after);
    }

    /// One conditional branch (`if` or `elif`: a condition and a
    /// consequence that joins `after`); leaves `cur` on the path where the
    /// condition is false, with what that says about `None` applied.
    fn branch(&mut self, clause: Node<'t>, after: BlockId) {
        let Some(cond) = clause.child_by_field_name("condition") else {
            return;
        };
        self.expr(cond);
        let (when_true, when_false) = self.none_facts(cond);
        let head = self.cur;
        let then = self.new_block();
        self.f.edge(head, then);
        self.cur = then;
        self.assume_none(&when_true, span(cond));
        if let Some(body) = clause.child_by_field_name("consequence") {
            self.block(body);
        }
        self.f.edge(self.cur, after);
        let otherwise = self.new_block();
        self.f.edge(head, otherwise);
        self.cur = otherwise;
        self.assume_none(&when_false, span(cond));
    }

    fn alternatives(&mut self, alternatives: &[Node<'t>], after: BlockId) {
        let Some((first, rest)) = alternatives.split_first() else {
            return;
        };
        match first.kind() {
            "elif_clause" => {
                self.branch(*first, after);
                self.alternatives(rest, after);
            }
            "else_clause" => {
                if let Some(body) = first.child_by_field_name("body") {
                    self.block(body);
                }
            }
            _ => {}
        }
    }

    fn loop_stmt(&mut self, node: Node<'t>) {
        let is_for = node.kind() == "for_statement";
        if is_for {
            if let Some(r) = node.child_by_field_name("right") {
                self.expr(r);
            }
        }
        let header = self.next_block();
        let after = self.new_block();
        let mut when_false = Vec::new();
        let mut at = span(node);
        if is_for {
            // Fetching the next item may raise.
            self.effect(span(node));
        } else if let Some(cond) = node.child_by_field_name("condition") {
            self.expr(cond);
            let facts = self.none_facts(cond);
            when_false = facts.1;
            at = span(cond);
        }
        let head_end = self.cur;
        let body = self.new_block();
        self.f.edge(head_end, body);
        self.cur = body;
        if is_for {
            if let Some(left) = node.child_by_field_name("left") {
                self.clear_targets(left);
            }
        }
        self.loops.push(Loop {
            continue_to: header,
            break_to: after,
            finally_depth: self.finallies.len(),
        });
        if let Some(b) = node.child_by_field_name("body") {
            self.block(b);
        }
        self.loops.pop();
        self.f.edge(self.cur, header);
        let exit = self.new_block();
        self.f.edge(head_end, exit);
        self.cur = exit;
        self.assume_none(&when_false, at);
        if let Some(alt) = node.child_by_field_name("alternative") {
            if let Some(b) = alt.child_by_field_name("body") {
                self.block(b);
            }
        }
        self.f.edge(self.cur, after);
        self.cur = after;
    }

    fn clear_targets(&mut self, target: Node<'t>) {
        if let Some(v) = self.tracked(target) {
            self.emit(EventKind::Clear { dst: v }, span(target), false);
            return;
        }
        if matches!(
            target.kind(),
            "pattern_list" | "tuple_pattern" | "list_pattern" | "expression_list" | "tuple"
        ) {
            let mut cursor = target.walk();
            let children: Vec<Node<'t>> = target.named_children(&mut cursor).collect();
            for c in children {
                self.clear_targets(c);
            }
        }
    }

    fn try_stmt(&mut self, node: Node<'t>) {
        let outer_exc = self.exc;
        let mut cursor = node.walk();
        let children: Vec<Node<'t>> = node.named_children(&mut cursor).collect();
        let body = node.child_by_field_name("body");
        let handlers: Vec<Node<'t>> = children
            .iter()
            .copied()
            .filter(|c| matches!(c.kind(), "except_clause" | "except_group_clause"))
            .collect();
        let else_clause = children.iter().copied().find(|c| c.kind() == "else_clause");
        let finally = children
            .iter()
            .copied()
            .find(|c| c.kind() == "finally_clause")
            .and_then(|f| {
                f.named_children(&mut f.walk())
                    .find(|c| c.kind() == "block")
            });

        // The exceptional copy of `finally`: runs, then re-raises outward.
        let after_handlers_exc = match finally {
            Some(fin) => {
                let saved_cur = self.cur;
                let fin_exc = self.new_block();
                self.cur = fin_exc;
                self.block(fin);
                self.f.edge(self.cur, outer_exc);
                self.cur = saved_cur;
                self.finallies.push(Finally {
                    body: fin,
                    exc: outer_exc,
                });
                fin_exc
            }
            None => outer_exc,
        };
        let dispatch = if handlers.is_empty() {
            None
        } else {
            self.exc = after_handlers_exc;
            Some(self.new_block())
        };

        // Body, with exceptions going to the handlers (or the finally).
        self.exc = dispatch.unwrap_or(after_handlers_exc);
        self.next_block();
        if let Some(b) = body {
            self.block(b);
        }
        self.exc = after_handlers_exc;
        self.next_block();
        if let Some(e) = else_clause.and_then(|e| e.child_by_field_name("body")) {
            self.block(e);
        }
        let mut normal_ends = vec![self.cur];

        if let Some(dispatch) = dispatch {
            let mut catch_all = false;
            for h in &handlers {
                // `except E as e` parses as an `as_pattern` value.
                let (value, alias) = match h.child_by_field_name("value") {
                    Some(v) if v.kind() == "as_pattern" => {
                        (v.named_child(0), v.child_by_field_name("alias"))
                    }
                    v => (v, h.child_by_field_name("alias")),
                };
                let is_catch_all = match value {
                    None => true,
                    Some(v) => matches!(
                        self.text(v),
                        "Exception" | "BaseException" | "builtins.Exception"
                    ),
                };
                catch_all |= is_catch_all;
                let hb = self.new_block();
                self.f.edge(dispatch, hb);
                self.cur = hb;
                if let Some(alias) = alias {
                    self.clear_targets(alias);
                }
                let mut c = h.walk();
                let blocks: Vec<Node<'t>> = h
                    .named_children(&mut c)
                    .filter(|n| n.kind() == "block")
                    .collect();
                for b in blocks {
                    self.block(b);
                }
                normal_ends.push(self.cur);
            }
            if !catch_all {
                self.f.edge(dispatch, after_handlers_exc);
            }
        }
        if finally.is_some() {
            self.finallies.pop();
        }
        self.exc = outer_exc;
        let join = self.new_block();
        for end in normal_ends {
            self.f.edge(end, join);
        }
        self.cur = join;
        if let Some(fin) = finally {
            self.block(fin);
            self.next_block();
        }
    }

    fn with_stmt(&mut self, node: Node<'t>) {
        let is_async = node.child(0).is_some_and(|c| c.kind() == "async");
        let Some(clause) = node
            .named_children(&mut node.walk())
            .find(|c| c.kind() == "with_clause")
        else {
            return;
        };
        let mut cursor = clause.walk();
        let items: Vec<Node<'t>> = clause
            .named_children(&mut cursor)
            .filter(|c| c.kind() == "with_item")
            .collect();
        for item in items {
            let Some(value) = item.child_by_field_name("value") else {
                continue;
            };
            let (expr, alias) = if value.kind() == "as_pattern" {
                let Some(e) = value.named_child(0) else {
                    continue;
                };
                (
                    e,
                    value
                        .child_by_field_name("alias")
                        .and_then(|a| a.named_child(0).or(Some(a))),
                )
            } else {
                (value, None)
            };
            // `with sqlite3.connect(p) as db: ...; return db`: a `with`
            // that only ends a transaction hands the connection to the
            // caller, like `db = sqlite3.connect(p)` would.
            if let (Some(a), Some(body)) = (
                alias.filter(|a| a.kind() == "identifier"),
                node.child_by_field_name("body"),
            ) {
                if self.transaction_only(expr, is_async)
                    && crate::python::returns_name(body, self.ctx.module.text, self.text(a))
                {
                    self.assign_name(a, expr);
                    continue;
                }
            }
            self.with_item(expr, alias, is_async);
            if let Some(alias) = alias {
                self.clear_targets(alias);
            }
        }
        if let Some(body) = node.child_by_field_name("body") {
            self.block(body);
        }
    }

    /// Whether `with expr` acquires a resource whose `with` (or `async
    /// with`) only ends a transaction (sqlite3, psycopg2 connections).
    fn transaction_only(&self, expr: Node<'t>, is_async: bool) -> bool {
        let inner = unwrap_value(expr, self.ctx);
        self.ctx
            .acquisition_any(inner, &self.locals, self.attrs, self.class.as_deref())
            .is_some_and(|(spec, _, _)| {
                let semantics = if is_async {
                    spec.async_with
                } else {
                    spec.with_semantics
                };
                semantics == Some(WithSemantics::Transaction)
            })
    }

    fn with_item(&mut self, expr: Node<'t>, alias: Option<Node<'t>>, is_async: bool) {
        let inner = unwrap_value(expr, self.ctx);
        let entered =
            self.ctx
                .acquisition_any(inner, &self.locals, self.attrs, self.class.as_deref());
        if let Some((_, call, _)) = entered {
            if let Some(a) = alias.filter(|a| a.kind() == "identifier") {
                self.scoped_names.push(self.text(a).to_string());
            }
            // Acquired and scoped in one: closed by the block, or reported
            // by LK104 when the block only ends a transaction.
            self.call_parts(call);
            let touches = self.call_touches(call);
            self.emit_touching(EventKind::Effect, span(call), true, touches);
            return;
        }
        if let Some(v) = self.tracked(inner) {
            let name = self.text(inner);
            let semantics = self.spec_of_var(name).map(|s| {
                if is_async {
                    s.async_with
                } else {
                    s.with_semantics
                }
            });
            match semantics {
                Some(Some(WithSemantics::Transaction)) => {}
                _ => {
                    self.emit(EventKind::Guard { var: v }, span(inner), false);
                    self.guarded_names.push(name.to_string());
                }
            }
            return;
        }
        self.expr(expr);
    }

    fn match_stmt(&mut self, node: Node<'t>) {
        if let Some(subject) = node.child_by_field_name("subject") {
            self.expr(subject);
        }
        let head = self.cur;
        let after = self.new_block();
        self.f.edge(head, after);
        let Some(body) = node.child_by_field_name("body") else {
            self.cur = after;
            return;
        };
        let mut cursor = body.walk();
        let cases: Vec<Node<'t>> = body
            .named_children(&mut cursor)
            .filter(|c| c.kind() == "case_clause")
            .collect();
        for case in cases {
            let b = self.new_block();
            self.f.edge(head, b);
            self.cur = b;
            if let Some(c) = case.child_by_field_name("consequence") {
                self.block(c);
            }
            self.f.edge(self.cur, after);
        }
        self.cur = after;
    }

    /// A nested function, class or lambda that mentions a tracked name
    /// captures it: it is handed over.
    fn capture(&mut self, node: Node<'t>) {
        if let Some(name) = self.called_only_here(node) {
            // Its own parameters shadow the names of this scope.
            let mut params = Vec::new();
            if let Some(ps) = node.child_by_field_name("parameters") {
                crate::python::preorder(ps, |n| {
                    if n.kind() == "identifier" {
                        params.push(self.text(n));
                    }
                    true
                });
            }
            let releases = &self.ctx.resources.vocabulary.release_methods;
            let (mut used, mut released) = (Vec::new(), Vec::new());
            crate::python::preorder(node, |n| {
                if n.kind() == "identifier" && !params.contains(&self.text(n)) {
                    if let Some(v) = self.tracked(n) {
                        // `session.close()` inside the helper: it is the
                        // helper that releases it.
                        let closes = n
                            .parent()
                            .filter(|p| p.kind() == "attribute")
                            .and_then(|p| p.child_by_field_name("attribute"))
                            .is_some_and(|m| Vocabulary::has(releases, self.text(m)));
                        let list = if closes { &mut released } else { &mut used };
                        if !list.contains(&v) {
                            list.push(v);
                        }
                    }
                }
                true
            });
            used.retain(|v| !released.contains(v));
            for v in released {
                self.hand_over(v, span(node), false);
            }
            self.local_helpers.insert(name, used);
            return;
        }
        let mut captured = Vec::new();
        crate::python::preorder(node, |n| {
            if n.kind() == "identifier" {
                if let Some(v) = self.tracked(n) {
                    if !captured.contains(&v) {
                        captured.push(v);
                    }
                }
            }
            true
        });
        for v in captured {
            self.hand_over(v, span(node), false);
        }
    }

    /// The name of a nested, undecorated `def` that the enclosing function
    /// only calls by name (`def gen(): ... s.get(...)`, then `list(gen())`):
    /// it owns nothing of what it uses, its caller does. A name used any
    /// other way (returned, stored, passed on, decorated) may outlive the
    /// call, and whatever it captures is handed over with it.
    fn called_only_here(&self, def: Node<'t>) -> Option<String> {
        if def.kind() != "function_definition" {
            return None;
        }
        let name_node = def.child_by_field_name("name")?;
        let name = self.text(name_node);
        let body = crate::python::enclosing_function_body(def)?;
        let mut only_called = true;
        crate::python::preorder(body, |n| {
            if !only_called {
                return false;
            }
            if n.kind() == "identifier" && n.id() != name_node.id() && self.text(n) == name {
                let called = n.parent().is_some_and(|p| {
                    p.kind() == "call"
                        && p.child_by_field_name("function")
                            .is_some_and(|f| f.id() == n.id())
                });
                if !called {
                    only_called = false;
                }
            }
            true
        });
        only_called.then(|| name.to_string())
    }

    // ---- assignments --------------------------------------------------

    fn assignment(&mut self, node: Node<'t>) {
        let (Some(left), Some(right)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("right"),
        ) else {
            if let Some(l) = node.child_by_field_name("left") {
                self.expr(l);
            }
            self.annotate_local(node);
            return;
        };
        if right.kind() == "assignment" {
            // `a = b = value`: lower the inner one, then copy.
            self.assignment(right);
            if let Some(inner_left) = right.child_by_field_name("left") {
                self.assign_from(left, inner_left);
            }
            return;
        }
        self.assign_from(left, right);
        self.annotate_local(node);
    }

    /// `pool: asyncpg.Pool = request.app["pool"]`: the annotation types a
    /// name whose value says nothing (a borrowed pool, a client from
    /// state), so that methods on it acquire.
    fn annotate_local(&mut self, node: Node<'t>) {
        let (Some(left), Some(annotation)) = (
            node.child_by_field_name("left"),
            node.child_by_field_name("type"),
        ) else {
            return;
        };
        if left.kind() != "identifier" {
            return;
        }
        let name = self.text(left);
        if self.locals.contains_key(name) {
            return;
        }
        if let Some(t) = self.ctx.annotated_type(annotation) {
            self.locals.insert(name.to_string(), t);
        }
    }

    fn assign_from(&mut self, left: Node<'t>, right: Node<'t>) {
        match left.kind() {
            "identifier" => self.assign_name(left, right),
            "pattern_list" | "tuple_pattern" | "list_pattern" | "expression_list" | "tuple"
            | "list" => {
                let mut c1 = left.walk();
                let targets: Vec<Node<'t>> = left.named_children(&mut c1).collect();
                let values: Vec<Node<'t>> =
                    if matches!(right.kind(), "expression_list" | "tuple" | "list") {
                        let mut c2 = right.walk();
                        right.named_children(&mut c2).collect()
                    } else {
                        Vec::new()
                    };
                if values.len() == targets.len() {
                    for (t, v) in targets.into_iter().zip(values) {
                        self.assign_from(t, v);
                    }
                } else if !self.unpack_returned_tuple(&targets, right) {
                    self.expr(right);
                    for t in targets {
                        self.clear_targets(t);
                    }
                }
            }
            _ => {
                // `obj.attr = value`, `d[k] = value`: stored beyond this
                // function.
                if let Some(o) = left
                    .child_by_field_name("object")
                    .or_else(|| left.child_by_field_name("value"))
                {
                    self.expr(o);
                }
                if let Some((_, call)) = self.acquisition(right) {
                    self.call_parts(call);
                    self.effect(span(call));
                } else {
                    self.expr(right);
                    self.escape_values(right, false);
                }
                // A store into a container is not treated as raising: the
                // loads around it are.
            }
        }
    }

    fn assign_name(&mut self, left: Node<'t>, right: Node<'t>) {
        let name = self.text(left).to_string();
        if self.globals_declared.contains(&name) {
            self.expr(right);
            self.escape_values(right, false);
            return;
        }
        if right.kind() == "yield" {
            self.expr(right);
            self.clear_name(&name, left);
            return;
        }
        // `client = httpx.Client() if owned else client` ... `if owned:
        // client.close()`: made on one path, closed under a condition that
        // is taken to be the same one (the flag is not followed).
        if matches!(
            unwrap_value(right, self.ctx).kind(),
            "conditional_expression" | "boolean_operator"
        ) && self.released_under_condition(&name, left)
        {
            self.expr(right);
            self.clear_name(&name, left);
            return;
        }
        if let Some((spec, call)) = self.acquisition(right) {
            self.call_parts(call);
            // A proxy registry in a local is tracked: what it opens when
            // used is dropped with it (see `ResourceSpec::proxy_opens`).
            if spec.kind == ResourceKind::Factory && spec.proxy_opens.is_none() {
                self.effect(span(call));
                self.clear_name(&name, left);
                self.locals.insert(name, spec.type_name.clone());
                return;
            }
            let v = self.f.var(&name);
            let receiver = call
                .child_by_field_name("function")
                .filter(|f| f.kind() == "attribute")
                .and_then(|f| f.child_by_field_name("object"))
                .filter(|o| o.kind() == "identifier")
                .map(|o| self.text(o));
            let site = self.site_with_parent(span(call), spec, &name, receiver);
            // `cursor = conn.cursor()`: a quiet method of its parent.
            let quiet = self.quiet_call(call, None);
            self.emit_acquire(v, site, call, !quiet);
            if receiver.is_some_and(|r| self.guarded_names.iter().any(|g| g == r)) {
                self.emit(EventKind::Guard { var: v }, span(call), false);
            }
            self.locals.insert(name, spec.type_name.clone());
            if right.kind() == "await" || unwrap_value(right, self.ctx) != right {
                self.effect(span(right));
            }
            return;
        }
        let plain = if right.kind() == "parenthesized_expression" {
            right.named_child(0).unwrap_or(right)
        } else {
            right
        };
        if let Some(src) = self.tracked(plain) {
            let dst = self.f.var(&name);
            self.emit(EventKind::Copy { dst, src }, span(left), false);
            if let Some(t) = self.locals.get(self.text(plain)).cloned() {
                self.locals.insert(name, t);
            }
            return;
        }
        // `close = conn.close`: not another name for the connection, but
        // the way to release it.
        if plain.kind() == "attribute" {
            if let (Some(object), Some(method)) = (
                plain.child_by_field_name("object"),
                plain.child_by_field_name("attribute"),
            ) {
                let method = self.text(method);
                if let Some(src) = self.tracked(object) {
                    let releases =
                        Vocabulary::has(&self.ctx.resources.vocabulary.release_methods, method)
                            || self.spec_of_var(self.text(object)).is_some_and(|s| {
                                s.release.iter().any(|r| {
                                    r.method.as_deref() == Some(method)
                                        && r.on.is_none()
                                        && !r.is_async
                                })
                            });
                    if releases {
                        self.clear_name(&name, left);
                        self.bound_releases.insert(name, src);
                        return;
                    }
                }
            }
        }
        // `db = client[name]`, `db = client.mydb`: the derived object keeps
        // the resource reachable (a Mongo database holds its client), so it
        // is treated as another name for it.
        if matches!(plain.kind(), "subscript" | "attribute") {
            let root = plain
                .child_by_field_name("value")
                .or_else(|| plain.child_by_field_name("object"));
            if let Some(src) = root.and_then(|r| self.tracked(r)) {
                self.expr(plain);
                let dst = self.f.var(&name);
                self.emit(EventKind::Copy { dst, src }, span(left), false);
                self.locals.remove(&name);
                return;
            }
        }
        self.expr(right);
        self.escape_values_in_containers(right);
        self.clear_name(&name, left);
        if let Some(t) = self.ctx.type_of_name(plain, &self.locals, self.attrs) {
            // `engine = self.engine`: keep the type for method acquires.
            self.locals.insert(name, t);
        }
    }

    /// Tracked names put into a container literal are stored there.
    fn escape_values_in_containers(&mut self, node: Node<'t>) {
        if matches!(
            node.kind(),
            "list" | "tuple" | "set" | "dictionary" | "expression_list"
        ) {
            self.escape_values(node, false);
        } else if node.kind() == "call" && self.is_constructor(node) {
            self.escape_args(node);
        }
    }

    /// `conn, cur = get_conn()` where the project's `get_conn` returns
    /// fresh resources in those positions: each target acquires one.
    fn unpack_returned_tuple(&mut self, targets: &[Node<'t>], right: Node<'t>) -> bool {
        let call = super::context::unwrap_value(right, self.ctx);
        if call.kind() != "call" {
            return false;
        }
        let Some(q) = call
            .child_by_field_name("function")
            .and_then(|f| self.ctx.qualify(f, self.class.as_deref()))
        else {
            return false;
        };
        let Some(types) = self.ctx.summaries.get(&q).map(|s| s.returns_tuple.clone()) else {
            return false;
        };
        if types.len() != targets.len() || types.iter().all(Option::is_none) {
            return false;
        }
        self.expr(right);
        for (t, ty) in targets.iter().zip(types) {
            let spec = ty.as_deref().and_then(|ty| self.ctx.spec(ty));
            match spec {
                Some(spec) if t.kind() == "identifier" => {
                    let name = self.text(*t).to_string();
                    let v = self.f.var(&name);
                    let site = self.site(span(*t), spec, &name);
                    self.emit(EventKind::Acquire { dst: v, site }, span(*t), false);
                    self.locals.insert(name, spec.type_name.clone());
                }
                _ => self.clear_targets(*t),
            }
        }
        true
    }

    fn clear_name(&mut self, name: &str, at: Node) {
        self.locals.remove(name);
        if let Some(v) = self.f.var_names.iter().position(|n| n == name) {
            self.emit(EventKind::Clear { dst: v }, span(at), false);
        }
    }
}
