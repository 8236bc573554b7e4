//! The SQL a statement sends: raw transaction control (`BEGIN`,
//! `COMMIT`) for LK202, and whether it writes, for LK203.

use super::*;
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

/// Methods that write through whatever connection or transaction they
/// are given.
pub(super) const WRITE_METHODS: &[&str] = &[
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
pub(super) const READ_METHODS: &[&str] = &[
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

/// Whether a function or method name is one that sends SQL: `query*`,
/// `exec*`, `execute*`, `batch_execute`, `simple_query`, `sql_query`,
/// `raw_sql`, `prepare*`.
pub(super) fn is_query_api(name: &str) -> bool {
    name.starts_with("query")
        || name.starts_with("exec")
        || name.starts_with("prepare")
        || matches!(
            name,
            "batch_execute" | "simple_query" | "sql_query" | "raw_sql" | "execute_unprepared"
        )
}

pub(super) fn own_sql(stmt: &syn::Stmt, source: &SourceFile) -> OwnSql {
    struct Finder<'s> {
        source: &'s SourceFile,
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
                self.write_method = true;
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
