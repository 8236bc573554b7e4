//! Binding patterns (`let`, `match` arms, `if let`, parameters) to values.

use super::*;

impl Lowerer<'_, '_> {
    // ---- patterns -------------------------------------------------------

    /// Binds `pat` to `out` in the current scope. `stmt`: the `let`
    /// statement, for must-poll bindings.
    pub(super) fn bind_pat(&mut self, pat: &syn::Pat, out: Out, stmt: Option<Span>) {
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

    pub(super) fn note_poll_binding(
        &mut self,
        src: VarId,
        stmt: Span,
        pattern: Span,
        name: Option<String>,
    ) {
        for s in self.sites_of(src) {
            if self.f.sites[s].facts.role.must_poll() && self.f.sites[s].facts.binding.is_none() {
                self.f.sites[s].facts.binding = Some(crate::ir::Binding {
                    stmt,
                    pattern,
                    name: name.clone(),
                    in_async: self.is_async,
                });
            }
        }
    }

    /// Whether a pattern matches only the failure of a `Result`/`Option`.
    pub(super) fn is_failure_pat(pat: &syn::Pat) -> bool {
        match pat {
            syn::Pat::TupleStruct(ts) => ts.path.segments.last().is_some_and(|s| s.ident == "Err"),
            syn::Pat::Ident(i) => i.ident == "None" && i.subpat.is_none(),
            syn::Pat::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "None"),
            _ => false,
        }
    }

    pub(super) fn assume_none(&mut self, out: &Out, span: Span) {
        for v in out.vars() {
            self.emit(EventKind::AssumeNone { var: v }, span, false, vec![]);
        }
    }
}
