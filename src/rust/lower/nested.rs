//! Closures, async blocks and macro bodies: what they capture or
//! mention, and how they are lowered.

use super::*;
use crate::resources::Vocabulary;

impl Lowerer<'_, '_> {
    // ---- closures and async blocks --------------------------------

    /// Lowers a closure or async block as a function of its own; what it
    /// captures by `move` leaves this one (raw handles are copied).
    /// Returns the captured variables of this function.
    pub(super) fn lower_nested(
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
                .any(|&s| matches!(self.f.sites[s].facts.role, Role::Detached { .. }));
            if forgotten {
                // A forgotten guard moved into a task stays forgotten
                // unless the task takes it back.
                let text = body_text(self.ctx.source);
                let reclaims = &self.ctx.knowledge.vocab.reclaim_words;
                if reclaims.iter().any(|w| text.contains(w.as_str())) {
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

    // ---- macros -----------------------------------------------------

    /// `tokio::select!`: every branch's future is polled (what they use is
    /// used; a must-poll connection among them is driven), then one
    /// handler runs.
    pub(super) fn lower_select(
        &mut self,
        arms: Vec<SelectArm>,
        mentioned: Vec<VarId>,
        span: Span,
    ) -> Out {
        for arm in &arms {
            if let Some(future) = &arm.future {
                let out = self.lower_expr(future);
                let vars = self.with_parts(out.vars());
                self.poll_or_use(&vars, span);
            }
        }
        // Futures written in a form not parsed above still count.
        for v in mentioned {
            if self.must_poll(v) {
                self.hand_over(&[v], span);
            }
        }
        let (from, join) = (self.cur, self.f.new_block());
        for arm in &arms {
            let b = self.f.new_block();
            self.f.edge(from, b);
            self.cur = b;
            self.push_scope();
            self.lower_expr(&arm.handler);
            self.pop_scope();
            self.goto(join);
        }
        self.cur = join;
        Out::none()
    }

    pub(super) fn lower_macro(&mut self, mac: &syn::Macro, span: Span) -> Out {
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
        // Which macros diverge, return an error or poll futures is the
        // vocabulary's (`diverging-macros`, `bail-macros`, ...); `vec!` and
        // `try!` are the language's.
        let vocab = self.ctx.knowledge.vocab;
        let is = |list: &[String]| Vocabulary::has(list, &name);
        let kind = if is(&vocab.diverging_macros) {
            MacroKind::Diverges
        } else if is(&vocab.bail_macros) {
            MacroKind::Bail
        } else if is(&vocab.ensure_macros) {
            MacroKind::Ensure
        } else if name == "vec" {
            MacroKind::Vec
        } else if name == "try" {
            MacroKind::Try
        } else {
            MacroKind::Other
        };
        match kind {
            MacroKind::Diverges => {
                self.touch(&mentioned, span);
                self.diverge();
                Out::none()
            }
            MacroKind::Bail => {
                self.touch(&mentioned, span);
                let exit = self.f.normal_exit;
                self.goto(exit);
                self.diverge();
                Out::none()
            }
            MacroKind::Ensure => {
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
            MacroKind::Vec => {
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
            MacroKind::Try => match parse_args(mac) {
                Some(args) if args.len() == 1 => {
                    let out = self.lower_expr(&args[0]);
                    self.raise(&out, span);
                    out
                }
                _ => Out::none(),
            },
            MacroKind::Other => {
                // Futures polled by `select!`/`join!` are consumed; other
                // macros (formatting, logging, queries) borrow what they
                // mention.
                let select = is(&vocab.select_macros);
                if select {
                    if let Some(arms) = select_arms(mac) {
                        return self.lower_select(arms, mentioned, span);
                    }
                }
                let parsed = parse_args(mac);
                match parsed {
                    Some(args) if !select && !is(&vocab.join_macros) => {
                        for a in &args {
                            let out = self.lower_expr(a);
                            self.poll_or_use(&out.vars(), span);
                        }
                    }
                    _ => self.poll_or_use(&mentioned, span),
                }
                Out::none()
            }
        }
    }
}

/// How a macro call is lowered.
enum MacroKind {
    /// Never returns (`panic!`).
    Diverges,
    /// Returns an error (`bail!`).
    Bail,
    /// Returns an error unless a condition holds (`ensure!`).
    Ensure,
    Vec,
    Try,
    /// Anything else: `select!`, `join!`, formatting, logging, queries.
    Other,
}

/// One branch of `tokio::select!`: `pattern = future => handler`.
pub(super) struct SelectArm {
    future: Option<syn::Expr>,
    handler: syn::Expr,
}

/// The branches of a `select!` body, or `None` when it is not in the
/// usual `pat = fut [, if cond] => handler` form.
pub(super) fn select_arms(mac: &syn::Macro) -> Option<Vec<SelectArm>> {
    use proc_macro2::{Delimiter, TokenStream, TokenTree};
    let trees: Vec<TokenTree> = mac.tokens.clone().into_iter().collect();
    let is_punct = |t: &TokenTree, c: char| matches!(t, TokenTree::Punct(p) if p.as_char() == c);
    let mut arms = Vec::new();
    let mut i = 0;
    while i < trees.len() {
        // The head runs to `=>`.
        let start = i;
        while i + 1 < trees.len() && !(is_punct(&trees[i], '=') && is_punct(&trees[i + 1], '>')) {
            i += 1;
        }
        if i + 1 >= trees.len() {
            // `biased;` or trailing tokens.
            break;
        }
        let head = &trees[start..i];
        i += 2;
        // The handler: a block, or tokens up to a top-level comma.
        let handler: TokenStream = match trees.get(i) {
            Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Brace => {
                i += 1;
                std::iter::once(trees[i - 1].clone()).collect()
            }
            _ => {
                let h = i;
                while i < trees.len() && !is_punct(&trees[i], ',') {
                    i += 1;
                }
                trees[h..i].iter().cloned().collect()
            }
        };
        if i < trees.len() && is_punct(&trees[i], ',') {
            i += 1;
        }
        let handler = syn::parse2::<syn::Expr>(handler).ok()?;
        // `pat = fut` (or `, if cond`), `else`: the future after the first
        // lone `=`.
        let head: Vec<TokenTree> = head
            .iter()
            .skip_while(|t| matches!(t, TokenTree::Ident(id) if id == "biased"))
            .cloned()
            .collect();
        let eq = head.iter().position(|t| is_punct(t, '='));
        let future = eq.and_then(|at| {
            let rest: Vec<TokenTree> = head[at + 1..].to_vec();
            let end = rest
                .iter()
                .position(|t| is_punct(t, ','))
                .unwrap_or(rest.len());
            syn::parse2::<syn::Expr>(rest[..end].iter().cloned().collect()).ok()
        });
        arms.push(SelectArm { future, handler });
    }
    (!arms.is_empty()).then_some(arms)
}

/// Whether an expression is a call to a spawn function (its handle
/// awaited or joined right away).
pub(super) fn is_spawn_expr(e: &syn::Expr, ctx: &Ctx) -> bool {
    match e {
        syn::Expr::Call(c) => match &*c.func {
            syn::Expr::Path(p) => {
                let path = ctx.names.resolve(&p.path);
                ctx.knowledge.words.spawn_functions.contains(path.as_str())
                    || path.ends_with("task::spawn")
            }
            _ => false,
        },
        syn::Expr::MethodCall(m) => m.method == "spawn",
        syn::Expr::Paren(p) => is_spawn_expr(&p.expr, ctx),
        _ => false,
    }
}

pub(super) fn parse_args(mac: &syn::Macro) -> Option<Vec<syn::Expr>> {
    use syn::punctuated::Punctuated;
    mac.parse_body_with(Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated)
        .ok()
        .map(|p| p.into_iter().collect())
}

/// Every identifier in a token stream (macro bodies are not parsed).
pub(super) fn token_idents(tokens: &proc_macro2::TokenStream) -> Vec<String> {
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
pub(super) fn mentioned_idents(body: Body) -> Vec<String> {
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
