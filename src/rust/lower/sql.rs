//! The SQL a statement sends: raw transaction control (`BEGIN`,
//! `COMMIT`) for LK202, and whether it writes, for LK203.

use super::*;
use crate::resources::Vocabulary;
use crate::rust::sql::{sql_effect, sql_writes, SqlEffect};

/// The raw transaction statements a statement sends itself (not those of
/// nested blocks, which are statements of their own).
#[derive(Default)]
pub(super) struct OwnSql {
    /// Spans of `BEGIN` / `START TRANSACTION` literals.
    pub(super) begins: Vec<Span>,
    /// A `COMMIT` / `ROLLBACK` / `END` is sent.
    pub(super) ends: bool,
    /// The statement writes: a write API (`execute`, `insert_one`) or SQL
    /// that changes data (`INSERT`, `UPDATE`, ...). A transaction only
    /// read through loses nothing when it is rolled back.
    pub(super) writes: bool,
}

/// Whether a function or method name is one that sends SQL: one of the
/// vocabulary's `query-apis` or starting with one of its
/// `query-api-prefixes` (`query*`, `exec*`, `prepare*`).
pub(super) fn is_query_api(name: &str, vocab: &Vocabulary) -> bool {
    vocab
        .query_api_prefixes
        .iter()
        .any(|p| name.starts_with(p.as_str()))
        || Vocabulary::has(&vocab.query_apis, name)
}

pub(super) fn own_sql(stmt: &syn::Stmt, ctx: &Ctx) -> OwnSql {
    struct Finder<'s> {
        source: &'s SourceFile,
        knowledge: &'s Knowledge<'s>,
        out: OwnSql,
        /// SQL text was seen, and some of it writes.
        sql_seen: bool,
        sql_writes: bool,
        /// A write API (`execute`) is called.
        write_method: bool,
    }
    impl Finder<'_> {
        fn literal(&mut self, value: &str, span: Span) {
            self.sql_seen = true;
            self.sql_writes |= sql_writes(value);
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
                            if Vocabulary::has(
                                &self.knowledge.vocab.string_conversions,
                                &m.method.to_string(),
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
                let vocab = self.knowledge.vocab;
                // Statement builders (diesel's `insert_into`).
                if p.path
                    .segments
                    .last()
                    .is_some_and(|s| Vocabulary::has(&vocab.write_functions, &s.ident.to_string()))
                {
                    self.out.writes = true;
                }
                if p.path
                    .segments
                    .last()
                    .is_some_and(|s| is_query_api(&s.ident.to_string(), vocab))
                {
                    self.arguments(c.args.iter());
                }
            }
            syn::visit::visit_expr_call(self, c);
        }
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            let method = m.method.to_string();
            if self.knowledge.words.write_methods.contains(method.as_str()) {
                self.write_method = true;
            }
            if is_query_api(&method, self.knowledge.vocab) {
                self.arguments(m.args.iter());
            }
            syn::visit::visit_expr_method_call(self, m);
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            // Only query macros (`sqlx::query!`) send SQL; `write!` and
            // `format!` only print it.
            let prefixes = &self.knowledge.vocab.query_macro_prefixes;
            if !m.path.segments.last().is_some_and(|s| {
                let name = s.ident.to_string();
                prefixes.iter().any(|p| name.starts_with(p.as_str()))
            }) {
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
        source: ctx.source,
        knowledge: ctx.knowledge,
        out: OwnSql::default(),
        sql_seen: false,
        sql_writes: false,
        write_method: false,
    };
    f.visit_stmt(stmt);
    // The SQL decides when it is known (`SET TRANSACTION READ ONLY` sent
    // through `execute` writes nothing); a write API decides otherwise.
    f.out.writes |= f.sql_writes || (f.write_method && !f.sql_seen);
    f.out
}
