//! Blocks and statements, and the control flow of `if`, `match` and
//! loops: scopes end with drops, branches join.

use super::*;

impl Lowerer<'_, '_> {
    // ---- blocks and statements ------------------------------------------

    pub(super) fn lower_block(&mut self, block: &syn::Block) -> Out {
        self.push_scope();
        let mut value = Out::none();
        let n = block.stmts.len();
        for (i, stmt) in block.stmts.iter().enumerate() {
            match stmt {
                syn::Stmt::Expr(e, None) if i + 1 == n => {
                    let sql = own_sql(stmt, self.ctx);
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
    pub(super) fn keep_value(&mut self, out: Out, span: Span) -> Out {
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
        // Still fresh: a `?` right after `unsafe { libc::socket(..) }`
        // fails before the acquisition.
        Out {
            val,
            ty: out.ty,
            fresh: out.fresh,
            by_ref: out.by_ref,
        }
    }

    pub(super) fn lower_stmt(&mut self, stmt: &syn::Stmt) {
        let span = self.span(stmt);
        let sql = own_sql(stmt, self.ctx);
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
                let pool_alias = self.pool_alias_of(local, &out);
                self.bind_pat(&local.pat, out, Some(span));
                if let Some((name, origin)) = pool_alias {
                    if let Some(v) = self.lookup(&name) {
                        self.pool_alias.insert(v, origin);
                    }
                }
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
    pub(super) fn written_through(&mut self, args: &[Out]) {
        for a in args {
            for v in self.with_parts(a.vars()) {
                for s in self.sites_of(v) {
                    if self.f.sites[s].kind == ResourceKind::Transaction {
                        self.f.sites[s].facts.written = true;
                    }
                }
            }
        }
    }

    /// The statement just lowered writes: the transactions it used did
    /// work that a rollback would lose.
    pub(super) fn mark_written(&mut self) {
        for v in self.stmt_touched.clone() {
            let pseudo = self.on_receiver.get(&v).cloned().unwrap_or_default();
            for p in std::iter::once(v).chain(pseudo) {
                for s in self.sites_of(p) {
                    self.f.sites[s].facts.written = true;
                }
            }
        }
    }

    pub(super) fn begin_raw_transactions(&mut self, literals: Vec<Span>) {
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
    pub(super) fn discards_on_purpose(&self, m: &syn::ExprMethodCall) -> bool {
        self.ctx
            .knowledge
            .method_acquires(&m.method.to_string(), "")
            .iter()
            .any(|(_, a)| a.on.as_deref() == Some("*"))
    }

    /// A value of a type whose `Drop` sends `ROLLBACK` guards the raw
    /// transaction begun before it, on every way out.
    pub(super) fn rollback_guard_made(&mut self, path: &syn::Path, span: Span) {
        let made = path.segments.last().is_some_and(|s| {
            self.ctx
                .items
                .rollback_guards
                .contains(&s.ident.to_string())
        });
        if made {
            let tx = self.raw_tx_var();
            self.emit(EventKind::Release { var: tx }, span, false, vec![]);
        }
    }

    /// `let pool = &state.db;` (or `.clone()`): `pool` names the same pool.
    fn pool_alias_of(&self, local: &syn::Local, out: &Out) -> Option<(String, String)> {
        let syn::Pat::Ident(pi) = &local.pat else {
            return None;
        };
        let is_pool = out.ty.as_deref().is_some_and(|t| {
            self.ctx
                .knowledge
                .spec_of_type(t)
                .is_some_and(|s| s.kind == ResourceKind::Pool)
        });
        if !is_pool {
            return None;
        }
        let init = local.init.as_ref()?;
        let text = self.text(span_of(self.ctx.source, &*init.expr)).to_string();
        Some((pi.ident.to_string(), self.origin_of(&text)))
    }

    pub(super) fn raw_tx_var(&mut self) -> VarId {
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
    pub(super) fn begin_counts(&self) -> bool {
        for &v in &self.stmt_touched {
            if let Some(ty) = self.var_ty.get(&v) {
                if let Some(spec) = self.ctx.knowledge.spec_of_type(ty) {
                    if spec.kind == ResourceKind::Pool {
                        return false;
                    }
                }
            }
            // A connection this function opened and closes, or a pooled
            // one whose pool resets it when it comes back.
            let sites = self.sites_of(v);
            if !sites.is_empty()
                && sites.iter().all(|&s| {
                    let local = matches!(
                        self.f.sites[s].facts.role,
                        Role::Resource { pooled: false, .. }
                    ) && self.f.sites[s].kind == ResourceKind::Connection;
                    let reset = self
                        .ctx
                        .knowledge
                        .spec_named(&self.f.sites[s].type_name)
                        .is_some_and(|spec| spec.resets_on_return);
                    local || reset
                })
            {
                return false;
            }
        }
        true
    }

    pub(super) fn lower_item(&mut self, item: &syn::Item) {
        if let syn::Item::Fn(f) = item {
            let nested = lower_fn(self.ctx, &f.sig, &f.block, None, self.is_test);
            self.nested.extend(nested);
        }
    }
}
