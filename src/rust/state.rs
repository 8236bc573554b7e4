//! Which values live as long as the process: `static` items (also in
//! `thread_local!` and `lazy_static!`) and the types used as application
//! state (axum `with_state`/`State<T>`/`Extension`, actix
//! `web::Data`/`app_data`, rocket `manage`, or kept in a static). LK206
//! reads it; the first pass shares the state types across files, since
//! the state struct and the handlers that extract it are often apart.

use std::collections::HashSet;

use syn::visit::Visit;

use crate::resources::Vocabulary;

pub struct LongLived<'v> {
    /// The framework words: state hooks, extractors and wrappers.
    vocab: &'v Vocabulary,
    /// `static` items, also those of `thread_local!` and `lazy_static!`.
    pub statics: Vec<(String, syn::Type)>,
    /// Names of types used as application state.
    pub state_types: HashSet<String>,
    pub structs: Vec<syn::ItemStruct>,
    /// `let x = AppState { .. }`: what a later `with_state(x)` hands over.
    locals: std::collections::HashMap<String, String>,
}
impl LongLived<'_> {
    fn state_arg(&mut self, e: &syn::Expr) {
        match e {
            syn::Expr::Struct(s) => {
                if let Some(last) = s.path.segments.last() {
                    self.state_types.insert(last.ident.to_string());
                }
            }
            syn::Expr::Call(c) => {
                if let syn::Expr::Path(p) = &*c.func {
                    let segs = segment_names(&p.path);
                    if segs.len() >= 2 {
                        self.state_types.insert(segs[segs.len() - 2].clone());
                    }
                }
                for a in &c.args {
                    self.state_arg(a);
                }
            }
            syn::Expr::Reference(r) => self.state_arg(&r.expr),
            syn::Expr::Path(p) if p.path.segments.len() == 1 => {
                if let Some(t) = self.locals.get(&p.path.segments[0].ident.to_string()) {
                    self.state_types.insert(t.clone());
                }
            }
            syn::Expr::MethodCall(m) if m.method == "clone" => self.state_arg(&m.receiver),
            syn::Expr::Paren(p) => self.state_arg(&p.expr),
            _ => {}
        }
    }
    /// A state extractor in a handler's signature (`State<AppState>`,
    /// `web::Data<Arc<AppState>>`, poem's `Data<&Arc<AppState>>`): the
    /// type it wraps is application state.
    fn wrapped_type(&mut self, ty: &syn::Type) {
        if let syn::Type::Reference(r) = ty {
            return self.wrapped_type(&r.elem);
        }
        let syn::Type::Path(p) = ty else { return };
        let Some(last) = p.path.segments.last() else {
            return;
        };
        if !Vocabulary::has(&self.vocab.state_extractors, &last.ident.to_string()) {
            return;
        }
        if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
            for a in &args.args {
                if let syn::GenericArgument::Type(inner) = a {
                    if let Some(name) = innermost_name(inner, self.vocab) {
                        self.state_types.insert(name);
                    }
                }
            }
        }
    }
}

fn segment_names(path: &syn::Path) -> Vec<String> {
    path.segments.iter().map(|s| s.ident.to_string()).collect()
}

/// The name of the type under references and the vocabulary's
/// `state-wrappers` (`&Arc<Mutex<AppState>>` -> `AppState`).
fn innermost_name(ty: &syn::Type, vocab: &Vocabulary) -> Option<String> {
    match ty {
        syn::Type::Reference(r) => innermost_name(&r.elem, vocab),
        syn::Type::Paren(p) => innermost_name(&p.elem, vocab),
        syn::Type::Path(p) => {
            let last = p.path.segments.last()?;
            let name = last.ident.to_string();
            if Vocabulary::has(&vocab.state_wrappers, &name) {
                if let syn::PathArguments::AngleBracketed(a) = &last.arguments {
                    if let Some(syn::GenericArgument::Type(inner)) = a.args.first() {
                        return innermost_name(inner, vocab);
                    }
                }
            }
            Some(name)
        }
        _ => None,
    }
}
/// Whether the last segments of `segs` are those of `word` (`Data::new`,
/// `Extension`).
fn ends_with_segments(segs: &[String], word: &str) -> bool {
    let want: Vec<&str> = word.split("::").collect();
    want.len() <= segs.len()
        && segs[segs.len() - want.len()..]
            .iter()
            .zip(&want)
            .all(|(a, b)| a == b)
}

impl<'ast> Visit<'ast> for LongLived<'_> {
    fn visit_item_static(&mut self, s: &'ast syn::ItemStatic) {
        self.statics.push((s.ident.to_string(), (*s.ty).clone()));
        syn::visit::visit_item_static(self, s);
    }
    fn visit_item_struct(&mut self, s: &'ast syn::ItemStruct) {
        self.structs.push(s.clone());
    }
    fn visit_macro(&mut self, m: &'ast syn::Macro) {
        let name = m
            .path
            .segments
            .last()
            .map(|s| s.ident.to_string())
            .unwrap_or_default();
        if Vocabulary::has(&self.vocab.static_macros, &name) {
            self.statics.extend(macro_statics(&m.tokens));
        }
    }
    fn visit_expr_method_call(&mut self, m: &'ast syn::ExprMethodCall) {
        if Vocabulary::has(&self.vocab.state_methods, &m.method.to_string()) {
            for a in &m.args {
                self.state_arg(a);
            }
        }
        syn::visit::visit_expr_method_call(self, m);
    }
    fn visit_expr_call(&mut self, c: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = &*c.func {
            let segs = segment_names(&p.path);
            let n = segs.len();
            let v = self.vocab;
            // tonic's generated `FooServer::new(service)` serves it for the
            // life of the server.
            let grpc_service = n >= 2
                && v.service_server_suffixes
                    .iter()
                    .any(|s| segs[n - 2].ends_with(s.as_str()))
                && Vocabulary::has(&v.service_constructors, &segs[n - 1]);
            let is_state =
                grpc_service || v.state_calls.iter().any(|w| ends_with_segments(&segs, w));
            if is_state {
                for a in &c.args {
                    self.state_arg(a);
                }
            }
        }
        syn::visit::visit_expr_call(self, c);
    }
    fn visit_local(&mut self, l: &'ast syn::Local) {
        // `let state: AppState = ..`.
        if let syn::Pat::Type(pt) = &l.pat {
            if let (syn::Pat::Ident(name), syn::Type::Path(tp)) = (&*pt.pat, &*pt.ty) {
                if let Some(last) = tp.path.segments.last() {
                    self.locals
                        .insert(name.ident.to_string(), last.ident.to_string());
                }
            }
        }
        if let (syn::Pat::Ident(name), Some(init)) = (&l.pat, &l.init) {
            let mut e = &*init.expr;
            // `Arc::new(AppState { .. })`, `AppState::new(..)`.
            if let syn::Expr::Call(c) = e {
                if let (Some(first), syn::Expr::Path(_)) = (c.args.first(), &*c.func) {
                    if matches!(first, syn::Expr::Struct(_)) {
                        e = first;
                    }
                }
            }
            let ty = match e {
                syn::Expr::Struct(s) => s.path.segments.last().map(|s| s.ident.to_string()),
                syn::Expr::Call(c) => match &*c.func {
                    syn::Expr::Path(p) if p.path.segments.len() >= 2 => {
                        let segs = &p.path.segments;
                        Some(segs[segs.len() - 2].ident.to_string())
                    }
                    _ => None,
                },
                _ => None,
            };
            if let Some(ty) = ty {
                self.locals.insert(name.ident.to_string(), ty);
            }
        }
        syn::visit::visit_local(self, l);
    }
    fn visit_fn_arg(&mut self, a: &'ast syn::FnArg) {
        if let syn::FnArg::Typed(pt) = a {
            self.wrapped_type(&pt.ty);
        }
        syn::visit::visit_fn_arg(self, a);
    }
}

/// The long-lived declarations and state types of one file; `vocab`
/// names the frameworks' state hooks and extractors.
pub fn scan<'v>(file: &syn::File, vocab: &'v Vocabulary) -> LongLived<'v> {
    let mut scan = LongLived {
        vocab,
        statics: Vec::new(),
        state_types: HashSet::new(),
        structs: Vec::new(),
        locals: std::collections::HashMap::new(),
    };
    scan.visit_file(file);
    for (_, ty) in &scan.statics {
        struct Mentions<'s>(&'s mut HashSet<String>);
        impl<'ast> Visit<'ast> for Mentions<'_> {
            fn visit_path_segment(&mut self, s: &'ast syn::PathSegment) {
                self.0.insert(s.ident.to_string());
                syn::visit::visit_path_segment(self, s);
            }
        }
        let mut mentioned = HashSet::new();
        Mentions(&mut mentioned).visit_type(ty);
        for s in &scan.structs {
            if mentioned.contains(&s.ident.to_string()) {
                scan.state_types.insert(s.ident.to_string());
            }
        }
    }
    scan
}

/// The `static NAME: Type = ...;` items of a `thread_local!` or
/// `lazy_static!` body.
fn macro_statics(tokens: &proc_macro2::TokenStream) -> Vec<(String, syn::Type)> {
    use proc_macro2::TokenTree;
    let trees: Vec<TokenTree> = tokens.clone().into_iter().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < trees.len() {
        if matches!(&trees[i], TokenTree::Ident(id) if id == "static") {
            let mut j = i + 1;
            if matches!(trees.get(j), Some(TokenTree::Ident(id)) if id == "ref") {
                j += 1;
            }
            let name = match trees.get(j) {
                Some(TokenTree::Ident(id)) => id.to_string(),
                _ => {
                    i += 1;
                    continue;
                }
            };
            if !matches!(trees.get(j + 1), Some(TokenTree::Punct(p)) if p.as_char() == ':') {
                i += 1;
                continue;
            }
            // The type runs to the `=` outside angle brackets.
            let mut depth = 0i32;
            let mut k = j + 2;
            let start = k;
            while k < trees.len() {
                match &trees[k] {
                    TokenTree::Punct(p) if p.as_char() == '<' => depth += 1,
                    TokenTree::Punct(p) if p.as_char() == '>' => depth -= 1,
                    TokenTree::Punct(p) if p.as_char() == '=' && depth == 0 => break,
                    _ => {}
                }
                k += 1;
            }
            let ty_tokens: proc_macro2::TokenStream = trees[start..k].iter().cloned().collect();
            if let Ok(ty) = syn::parse2::<syn::Type>(ty_tokens) {
                out.push((name, ty));
            }
            i = k;
        } else {
            i += 1;
        }
    }
    out
}

/// Where a long-lived value keeps a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A `static` item (also of `thread_local!` or `lazy_static!`).
    Static(String),
    /// A field (`None`: of a tuple struct) of a type used as application
    /// state.
    StateField {
        owner: String,
        field: Option<String>,
    },
}

/// A resource type written in the type of a long-lived place: the
/// semantic fact LK206 reads.
#[derive(Debug, Clone)]
pub struct StoredResource {
    /// The type path as written.
    pub span: crate::diagnostic::Span,
    /// Its last segment, for messages.
    pub type_name: String,
    /// The spec's facts that decide whether keeping it is a leak.
    pub kind: crate::resources::ResourceKind,
    pub long_lived: bool,
    pub must_poll: bool,
    pub embedded: bool,
    pub place: Place,
}

/// Every known resource type written in a static's type or in a field of
/// an application-state struct (the file's own state types and those
/// other files use as state). Inside a resource type nothing more is
/// looked at: a pool's type arguments name what it makes, not what it
/// holds (`Pool<ConnectionManager<PgConnection>>`).
pub fn stored_resources(
    file: &syn::File,
    source: &crate::source::SourceFile,
    names: &crate::rust::names::Names<'_>,
    knowledge: &crate::rust::knowledge::Knowledge<'_>,
    project_state_types: &HashSet<String>,
) -> Vec<StoredResource> {
    struct Types<'k, 'a> {
        names: &'k crate::rust::names::Names<'a>,
        knowledge: &'k crate::rust::knowledge::Knowledge<'a>,
        source: &'k crate::source::SourceFile,
        place: Place,
        out: Vec<StoredResource>,
    }
    impl<'ast> Visit<'ast> for Types<'_, '_> {
        fn visit_type_path(&mut self, p: &'ast syn::TypePath) {
            let resolved = self.names.resolve(&p.path);
            if let Some(spec) = self.knowledge.spec_of_type(&resolved) {
                let last = p
                    .path
                    .segments
                    .last()
                    .map(|s| s.ident.to_string())
                    .unwrap_or_default();
                self.out.push(StoredResource {
                    span: crate::rust::span_of(self.source, &p.path),
                    type_name: last,
                    kind: spec.kind,
                    long_lived: spec.long_lived,
                    must_poll: spec.must_poll,
                    embedded: spec.embedded,
                    place: self.place.clone(),
                });
                return;
            }
            syn::visit::visit_type_path(self, p);
        }
    }
    let mut types = Types {
        names,
        knowledge,
        source,
        place: Place::Static(String::new()),
        out: Vec::new(),
    };
    let mut scan = scan(file, knowledge.vocab);
    scan.state_types.extend(project_state_types.iter().cloned());
    for (name, ty) in &scan.statics {
        types.place = Place::Static(name.clone());
        types.visit_type(ty);
    }
    for s in &scan.structs {
        let owner = s.ident.to_string();
        if !scan.state_types.contains(&owner) {
            continue;
        }
        for field in &s.fields {
            types.place = Place::StateField {
                owner: owner.clone(),
                field: field.ident.as_ref().map(|i| i.to_string()),
            };
            types.visit_type(&field.ty);
        }
    }
    types.out
}
