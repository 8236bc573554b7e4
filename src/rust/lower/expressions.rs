//! Expressions: values, moves, borrows, `?` and `.await`.

use super::*;

impl Lowerer<'_, '_> {
    // ---- expressions ------------------------------------------------

    pub(super) fn lower_expr(&mut self, e: &syn::Expr) -> Out {
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
                if is_spawn_expr(&a.base, self.ctx) {
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
                    self.return_vars(out.vars(), span);
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
                                    self.f.sites[s].facts.role,
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
                self.rollback_guard_made(&s.path, span);
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
    pub(super) fn raise(&mut self, out: &Out, span: Span) {
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

    pub(super) fn loop_index(&self, label: Option<&str>) -> Option<usize> {
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
    pub(super) fn drop_scopes_to(&mut self, depth: usize, span: Span) {
        let vars: Vec<VarId> = self.scopes[depth.min(self.scopes.len())..]
            .iter()
            .flat_map(|s| s.iter().rev().map(|(_, v)| *v))
            .collect();
        for v in vars {
            self.drop_var(v, span);
        }
    }

    /// Lowers an `if`/`while` condition and branches to `yes` or `no`,
    /// continuing in `yes`. An `if let`/`while let` binds its pattern
    /// there (in the current scope); the scrutinee is returned when the
    /// `no` branch means it holds nothing (`if let Ok(c) = pool.get()`).
    fn branch_on(
        &mut self,
        cond: &syn::Expr,
        yes: BlockId,
        no: BlockId,
        span: Span,
    ) -> Option<Out> {
        let (out, binding) = match cond {
            syn::Expr::Let(l) => (self.lower_expr(&l.expr), Some(&*l.pat)),
            cond => {
                let out = self.lower_expr(cond);
                let vars = out.vars();
                self.touch(&vars, span);
                (out, None)
            }
        };
        self.goto(yes);
        self.goto(no);
        self.cur = yes;
        let pat = binding?;
        let on_no = (!Self::is_failure_pat(pat)).then(|| out.clone());
        self.bind_pat(pat, out, None);
        on_no
    }

    pub(super) fn lower_if(&mut self, i: &syn::ExprIf) -> Out {
        let span = self.span(&i.cond);
        let (then_b, else_b, join) = (self.f.new_block(), self.f.new_block(), self.f.new_block());
        let result = self.temp();
        self.push_scope();
        let null = self.null_test(&i.cond);
        let on_else = self.branch_on(&i.cond, then_b, else_b, span);
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
    pub(super) fn null_test(&self, cond: &syn::Expr) -> Option<(VarId, bool)> {
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

    pub(super) fn lower_match(&mut self, m: &syn::ExprMatch) -> Out {
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

    pub(super) fn enter_loop(
        &mut self,
        label: Option<&syn::Label>,
        cont: BlockId,
        brk: BlockId,
    ) -> usize {
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
    pub(super) fn exit_loop(&mut self) -> Out {
        let ctx = self.loops.pop().expect("inside a loop");
        for p in &mut self.pending {
            if p.loop_id == ctx.id && !p.resolved {
                p.resolved = true;
                for &site in &p.sites {
                    let facts = &mut self.f.sites[site].facts;
                    facts.outlives_loop.push((p.span, Outlives::Spawned));
                }
            }
        }
        Out {
            val: Val::Var(ctx.result),
            ..Out::default()
        }
    }

    pub(super) fn lower_loop(&mut self, l: &syn::ExprLoop) -> Out {
        let (head, after) = (self.f.new_block(), self.f.new_block());
        self.goto(head);
        self.cur = head;
        self.enter_loop(l.label.as_ref(), head, after);
        self.lower_block(&l.body);
        self.goto(head);
        self.cur = after;
        self.exit_loop()
    }

    pub(super) fn lower_while(&mut self, w: &syn::ExprWhile, span: Span) -> Out {
        let (head, body, after) = (self.f.new_block(), self.f.new_block(), self.f.new_block());
        self.goto(head);
        self.cur = head;
        self.enter_loop(w.label.as_ref(), head, after);
        self.push_scope();
        self.branch_on(&w.cond, body, after, span);
        self.lower_block(&w.body);
        self.pop_scope();
        self.goto(head);
        self.cur = after;
        self.exit_loop()
    }

    pub(super) fn lower_for(&mut self, fl: &syn::ExprForLoop) -> Out {
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
}

/// A span for an expression's events without walking it: syn's
/// `Spanned` prints the whole subtree to find its first and last tokens,
/// which is quadratic on long method chains. The span covers the
/// expression's own tokens (`.method(..)`, `(..)`, `?`); sites use the
/// full span, computed only where one is made.
pub(super) fn quick_span(source: &SourceFile, e: &syn::Expr) -> Span {
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
