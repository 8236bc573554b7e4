//! Facts about one Rust file's items that the lowering of any function may
//! need: struct field types (for `self.pool`), return types of the file's
//! functions, `extern` functions that open or close handles, and which
//! functions acquire from a pool they are given (for LK204 across calls).

use std::collections::HashMap;

use syn::visit::Visit;

use crate::resources::{Acquire, Release, ResourceKind, ResourceSpec, Vocabulary};
use crate::rust::knowledge::Knowledge;
use crate::rust::names::type_path;
use crate::rust::names::Names;
use crate::rust::project::RustProject;
use crate::rust::span_of;
use crate::source::SourceFile;

pub use crate::rust::project::AcquiresFrom;

#[derive(Debug, Default)]
pub struct Items {
    /// Struct name -> field name -> resolved type path.
    pub fields: HashMap<String, HashMap<String, String>>,
    /// `f` and `Type::f` -> resolved return type path.
    pub returns: HashMap<String, String>,
    /// `f` and `Type::f` -> where it acquires pooled guards from.
    pub acquires_from: HashMap<String, AcquiresFrom>,
    /// Types whose `Drop` sends `ROLLBACK`: guards a raw transaction
    /// begun before one of them is made.
    pub rollback_guards: std::collections::HashSet<String>,
}

/// Function names that say they open or close a raw handle, for `extern`
/// declarations no rules file knows (the vocabulary's `extern-open-words`
/// and `extern-close-words`). A close word wins (`tsdb_disconnect`
/// closes).
fn opens(name: &str, vocab: &Vocabulary) -> bool {
    let n = name.to_ascii_lowercase();
    vocab
        .extern_open_words
        .iter()
        .any(|w| n.contains(w.as_str()))
        && !closes(name, vocab)
}

fn closes(name: &str, vocab: &Vocabulary) -> bool {
    let n = name.to_ascii_lowercase();
    vocab
        .extern_close_words
        .iter()
        .any(|w| n.contains(w.as_str()))
}

/// Resource specs for the file's own `extern` functions that return a
/// handle from a function named like an open or connect, released by one
/// named like a close.
pub fn extern_handles(file: &syn::File, vocab: &Vocabulary) -> Vec<ResourceSpec> {
    struct Externs<'v> {
        vocab: &'v Vocabulary,
        open: Vec<String>,
        close: Vec<String>,
    }
    impl<'ast> Visit<'ast> for Externs<'_> {
        fn visit_foreign_item_fn(&mut self, f: &'ast syn::ForeignItemFn) {
            let name = f.sig.ident.to_string();
            // Only pointers are handles: an `open` that returns a status
            // or a flag (`CFReadStreamOpen -> Boolean`) allocates nothing.
            let returns_pointer = matches!(&f.sig.output, syn::ReturnType::Type(_, t) if matches!(**t, syn::Type::Ptr(_)));
            if returns_pointer && opens(&name, self.vocab) {
                self.open.push(name);
            } else if closes(&name, self.vocab) {
                self.close.push(name);
            }
        }
    }
    let mut e = Externs {
        vocab,
        open: Vec::new(),
        close: Vec::new(),
    };
    e.visit_file(file);
    if e.open.is_empty() || e.close.is_empty() {
        return Vec::new();
    }
    vec![ResourceSpec {
        type_name: "extern handle".into(),
        aliases: Vec::new(),
        kind: ResourceKind::Handle,
        acquire: e
            .open
            .into_iter()
            .map(|name| Acquire {
                call: Some(name),
                method: None,
                on: None,
                awaited: false,
                element: None,
                out_arg: None,
                any_path: true,
                into_receiver: false,
                when: None,
            })
            .collect(),
        release: e
            .close
            .into_iter()
            .map(|name| Release {
                method: None,
                call: Some(name),
                on: None,
                arg: Some(0),
                is_async: false,
                any_path: true,
                without_args: false,
                through: None,
            })
            .collect(),
        with_semantics: None,
        async_with: None,
        drop_releases: false,
        long_lived: false,
        pooled: false,
        resets_on_return: false,
        embedded: false,
        must_poll: false,
        builder: false,
        lazy: false,
        proxy_opens: None,
        inert_when: Vec::new(),
        quiet_methods: Vec::new(),
        tests_only: false,
        derived: Vec::new(),
        borrows_when: Vec::new(),
        language: None,
    }]
}

/// The type named by an `impl` block's self type (`Repo` of
/// `impl<'a> Repo<'a>`).
pub fn impl_self_name(item: &syn::ItemImpl) -> Option<String> {
    match &*item.self_ty {
        syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Text of an expression with whitespace, borrows and derefs removed, for
/// comparing receivers (`&*self.pool` and `self.pool` are one pool).
/// `methods`: the vocabulary's `receiver-suffix-methods`, no-argument
/// calls that leave the receiver the same (`.clone()`, `.as_ref()`); all
/// trailing ones are taken off, whatever the list's order.
pub fn receiver_key(text: &str, methods: &[String]) -> String {
    fn strip_call<'t>(t: &'t str, method: &str) -> Option<&'t str> {
        t.strip_suffix("()")?
            .strip_suffix(method)?
            .strip_suffix('.')
    }
    let mut t: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    loop {
        let before = t.len();
        for p in ["&mut", "&", "*"] {
            if let Some(rest) = t.strip_prefix(p) {
                t = rest.to_string();
            }
        }
        if t.starts_with('(') && t.ends_with(')') {
            t = t[1..t.len() - 1].to_string();
        }
        while let Some(rest) = methods.iter().find_map(|m| strip_call(&t, m)) {
            t = rest.to_string();
        }
        if t.len() == before {
            return t;
        }
    }
}

impl Items {
    pub fn collect(
        file: &syn::File,
        names: &Names,
        knowledge: &Knowledge,
        source: &SourceFile,
        project: Option<&RustProject>,
    ) -> Items {
        let mut items = Items::default();
        let mut fns: Vec<(Option<String>, &syn::Signature, &syn::Block)> = Vec::new();
        collect_items(&file.items, names, knowledge.vocab, &mut items, &mut fns);
        for (self_ty, sig, body) in fns {
            if let Some(from) = pool_use(
                self_ty.as_deref(),
                sig,
                body,
                names,
                knowledge,
                (&items, project),
                source,
            ) {
                let name = sig.ident.to_string();
                if let Some(t) = &self_ty {
                    items
                        .acquires_from
                        .insert(format!("{t}::{name}"), from.clone());
                }
                items.acquires_from.entry(name).or_insert(from);
            }
        }
        items
    }

    /// The type of `self.<field>` (or `x.<field>` for `x` of struct type).
    pub fn field_type(&self, owner: &str, field: &str) -> Option<&String> {
        let owner = owner.rsplit("::").next().unwrap_or(owner);
        self.fields.get(owner)?.get(field)
    }
}

/// What a generic parameter stands for, from its `AsRef<T>`, `Borrow<T>`
/// or `Deref<Target = T>` bound (inline or in the `where` clause):
/// `impl<P: AsRef<PgPool>> Repo<P>` makes `self.pool.as_ref()` a pool.
pub fn generic_bounds(generics: &syn::Generics, names: &Names) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut bound =
        |param: &syn::Ident,
         bounds: &syn::punctuated::Punctuated<syn::TypeParamBound, syn::Token![+]>| {
            for b in bounds {
                let syn::TypeParamBound::Trait(t) = b else {
                    continue;
                };
                let Some(last) = t.path.segments.last() else {
                    continue;
                };
                let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
                    continue;
                };
                let target = args.args.iter().find_map(|a| match a {
                    syn::GenericArgument::Type(ty)
                        if last.ident == "AsRef" || last.ident == "Borrow" =>
                    {
                        Some(ty)
                    }
                    syn::GenericArgument::AssocType(at)
                        if last.ident == "Deref" && at.ident == "Target" =>
                    {
                        Some(&at.ty)
                    }
                    _ => None,
                });
                if let Some(path) = target.and_then(|ty| type_path(ty, names)) {
                    out.insert(param.to_string(), path);
                }
            }
        };
    for p in &generics.params {
        if let syn::GenericParam::Type(tp) = p {
            bound(&tp.ident, &tp.bounds);
        }
    }
    if let Some(w) = &generics.where_clause {
        for pred in &w.predicates {
            if let syn::WherePredicate::Type(pt) = pred {
                if let syn::Type::Path(p) = &pt.bounded_ty {
                    if let Some(id) = p.path.get_ident() {
                        bound(id, &pt.bounds);
                    }
                }
            }
        }
    }
    out
}

fn collect_items<'a>(
    list: &'a [syn::Item],
    names: &Names,
    vocab: &Vocabulary,
    items: &mut Items,
    fns: &mut Vec<(Option<String>, &'a syn::Signature, &'a syn::Block)>,
) {
    for item in list {
        match item {
            syn::Item::Struct(s) => {
                let mut fields = HashMap::new();
                for (i, f) in s.fields.iter().enumerate() {
                    let name = f
                        .ident
                        .as_ref()
                        .map(|i| i.to_string())
                        .unwrap_or_else(|| i.to_string());
                    if let Some(t) = type_path(&f.ty, names) {
                        fields.insert(name, t);
                    }
                }
                let bounds = generic_bounds(&s.generics, names);
                for ty in fields.values_mut() {
                    if let Some(b) = bounds.get(ty.as_str()) {
                        *ty = b.clone();
                    }
                }
                items.fields.insert(s.ident.to_string(), fields);
            }
            syn::Item::Fn(f) => {
                if let syn::ReturnType::Type(_, ty) = &f.sig.output {
                    if let Some(t) = return_path(ty, names, vocab) {
                        items.returns.insert(f.sig.ident.to_string(), t);
                    }
                }
                fns.push((None, &f.sig, &f.block));
            }
            syn::Item::Impl(imp) => {
                let self_ty = impl_self_name(imp);
                let is_drop = imp
                    .trait_
                    .as_ref()
                    .is_some_and(|(p, _)| p.segments.last().is_some_and(|s| s.ident == "Drop"));
                if let (true, Some(t)) = (is_drop, &self_ty) {
                    if sends_rollback(imp) {
                        items.rollback_guards.insert(t.clone());
                    }
                }
                // Fields of a generic type bounded by the impl.
                let bounds = generic_bounds(&imp.generics, names);
                if let Some(fields) = self_ty.as_ref().and_then(|t| items.fields.get_mut(t)) {
                    for ty in fields.values_mut() {
                        if let Some(b) = bounds.get(ty.as_str()) {
                            *ty = b.clone();
                        }
                    }
                }
                for it in &imp.items {
                    if let syn::ImplItem::Fn(m) = it {
                        if let (Some(t), syn::ReturnType::Type(_, ty)) = (&self_ty, &m.sig.output) {
                            if let Some(r) = return_path(ty, names, vocab) {
                                let r = match r.as_str() {
                                    "Self" => t.clone(),
                                    "&Self" => format!("&{t}"),
                                    _ => r,
                                };
                                items.returns.insert(format!("{t}::{}", m.sig.ident), r);
                            }
                        }
                        fns.push((self_ty.clone(), &m.sig, &m.block));
                    }
                }
            }
            syn::Item::Trait(t) => {
                // Default methods call the trait's own accessors
                // (`fn pool(&self) -> &PgPool;`).
                let name = t.ident.to_string();
                for it in &t.items {
                    if let syn::TraitItem::Fn(m) = it {
                        if let syn::ReturnType::Type(_, ty) = &m.sig.output {
                            if let Some(r) = return_path(ty, names, vocab) {
                                items.returns.insert(format!("{name}::{}", m.sig.ident), r);
                            }
                        }
                        if let Some(block) = &m.default {
                            fns.push((Some(name.clone()), &m.sig, block));
                        }
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    collect_items(inner, names, vocab, items, fns);
                }
            }
            _ => {}
        }
    }
}

/// Whether an `impl` sends a `ROLLBACK` (or another statement that ends
/// a transaction) from a string literal.
fn sends_rollback(imp: &syn::ItemImpl) -> bool {
    use crate::rust::sql::{sql_effect, SqlEffect};
    struct Find(bool);
    impl<'ast> Visit<'ast> for Find {
        fn visit_lit_str(&mut self, s: &'ast syn::LitStr) {
            self.0 |= sql_effect(&s.value()) == SqlEffect::End;
        }
        fn visit_macro(&mut self, m: &'ast syn::Macro) {
            self.0 |= m
                .tokens
                .to_string()
                .to_ascii_uppercase()
                .contains("\"ROLLBACK");
        }
    }
    let mut f = Find(false);
    f.visit_item_impl(imp);
    f.0
}

/// A return type with `Result<T, E>` (and `Option<T>`) unwrapped to `T`.
/// A type returned by reference or behind a shared wrapper (`&mut
/// Transaction`, `Arc<Mutex<Conn>>`: the vocabulary's `shared-wrappers`)
/// is marked with a leading `&`: the caller gets no fresh resource of its
/// own.
fn return_path(ty: &syn::Type, names: &Names, vocab: &Vocabulary) -> Option<String> {
    let mut ty = ty;
    while let syn::Type::Path(p) = ty {
        let Some(last) = p.path.segments.last() else {
            break;
        };
        if last.ident != "Result" && last.ident != "Option" {
            break;
        }
        match &last.arguments {
            syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                Some(syn::GenericArgument::Type(inner)) => ty = inner,
                _ => break,
            },
            _ => break,
        }
    }
    if let syn::Type::Tuple(t) = ty {
        // `(Transaction<..>, Uuid)`: each element's path, `_` for others.
        let elements: Vec<String> = t
            .elems
            .iter()
            .map(|e| match e {
                syn::Type::Path(_) => type_path(e, names).unwrap_or_else(|| "_".into()),
                _ => "_".into(),
            })
            .collect();
        return (!elements.is_empty()).then(|| format!("({})", elements.join(",")));
    }
    let owned = match ty {
        syn::Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| !Vocabulary::has(&vocab.shared_wrappers, &s.ident.to_string())),
        _ => false,
    };
    let path = type_path(ty, names)?;
    Some(if owned { path } else { format!("&{path}") })
}

/// Whether a function acquires from a pool parameter or a pool field of
/// `self`: a method call that acquires on a pool-typed receiver.
fn pool_use(
    self_ty: Option<&str>,
    sig: &syn::Signature,
    body: &syn::Block,
    names: &Names,
    knowledge: &Knowledge,
    items: (&Items, Option<&RustProject>),
    source: &SourceFile,
) -> Option<AcquiresFrom> {
    let mut params: Vec<(String, String)> = Vec::new();
    for input in &sig.inputs {
        if let syn::FnArg::Typed(pt) = input {
            let name = match &*pt.pat {
                syn::Pat::Ident(i) => i.ident.to_string(),
                syn::Pat::TupleStruct(ts) if ts.elems.len() == 1 => match &ts.elems[0] {
                    syn::Pat::Ident(i) => i.ident.to_string(),
                    _ => String::new(),
                },
                _ => String::new(),
            };
            params.push((name, type_path(&pt.ty, names).unwrap_or_default()));
        }
    }
    struct Finder<'k, 'a> {
        knowledge: &'k Knowledge<'a>,
        params: &'k [(String, String)],
        self_ty: Option<&'k str>,
        items: (&'k Items, Option<&'k RustProject>),
        source: &'k SourceFile,
        found: Option<AcquiresFrom>,
    }
    impl Finder<'_, '_> {
        fn is_pool(&self, ty: &str) -> bool {
            self.knowledge
                .spec_of_type(ty)
                .is_some_and(|s| s.kind == ResourceKind::Pool)
        }
    }
    impl<'ast> Visit<'ast> for Finder<'_, '_> {
        fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
            syn::visit::visit_expr_method_call(self, m);
            if self.found.is_some() {
                return;
            }
            let method = m.method.to_string();
            // A query run on a pool given as argument (`.fetch_one(pool)`)
            // takes a connection from it for the query.
            let suffixes = &self.knowledge.vocab.receiver_suffix_methods;
            if self
                .knowledge
                .words
                .executor_methods
                .contains(method.as_str())
            {
                for arg in &m.args {
                    let span = span_of(self.source, arg);
                    let text = self.source.text.get(span.range()).unwrap_or("");
                    let key = receiver_key(text, suffixes);
                    if let Some(i) = self.params.iter().position(|(n, _)| *n == key) {
                        if self.is_pool(&self.params[i].1) {
                            self.found = Some(AcquiresFrom::Param(i));
                            return;
                        }
                    }
                }
            }
            // Only acquiring method names are worth the receiver's text.
            if !self.knowledge.acquires_by_method(&method) {
                return;
            }
            let span = span_of(self.source, &*m.receiver);
            let key = receiver_key(self.source.text.get(span.range()).unwrap_or(""), suffixes);
            let acquires = |ty: &str| {
                self.is_pool(ty)
                    && self
                        .knowledge
                        .method_acquires(&method, ty)
                        .iter()
                        .any(|(s, _)| crate::rust::knowledge::is_guard(s.kind))
            };
            if let Some(field) = key.strip_prefix("self.") {
                let (items, project) = self.items;
                if let Some(ty) = self.self_ty.and_then(|t| {
                    items
                        .field_type(t, field)
                        .or_else(|| project.and_then(|p| p.field_type(t, field)))
                }) {
                    if acquires(ty) {
                        self.found = Some(AcquiresFrom::SelfField(key.clone()));
                    }
                }
            } else if let Some(i) = self.params.iter().position(|(n, _)| *n == key) {
                if acquires(&self.params[i].1) {
                    self.found = Some(AcquiresFrom::Param(i));
                }
            }
        }
        fn visit_expr_closure(&mut self, _: &'ast syn::ExprClosure) {}
        fn visit_item(&mut self, _: &'ast syn::Item) {}
    }
    let mut finder = Finder {
        knowledge,
        params: &params,
        self_ty,
        items,
        source,
        found: None,
    };
    finder.visit_block(body);
    finder.found
}
