//! Runs the Rust front end over one parsed file: gathers the file's names
//! and items, lowers every function, method, closure and async block, and
//! finds the resources kept in long-lived places.

use aho_corasick::AhoCorasick;

use crate::ir::Function;
use crate::resources::ResourceTable;
use crate::rust::items::{extern_handles, impl_self_name, Items};
use crate::rust::knowledge::Knowledge;
use crate::rust::lower::{lower_fn, Ctx, Lowered};
use crate::rust::names::Names;
use crate::rust::project::RustProject;
use crate::rust::state::{stored_resources, StoredResource};
use crate::source::SourceFile;

/// A cheap test of whether a Rust file can matter at all: it names a
/// crate the knowledge files know, sends SQL that could begin a
/// transaction, or declares `extern` functions. Files that do none of
/// these are not lowered.
#[derive(Debug, Clone)]
pub struct RustPrefilter {
    matcher: AhoCorasick,
    crates: AhoCorasick,
    /// `sqlx::`, `diesel::`...: the crates whose types are resources.
    crate_prefixes: Vec<String>,
    extern_open: AhoCorasick,
    extern_close: AhoCorasick,
}

/// `extern {` or `extern "ABI" {`, whitespace allowed between the tokens
/// (an `extern "C" fn` definition or `extern crate` is no block).
fn has_extern_block(text: &str) -> bool {
    text.match_indices("extern").any(|(i, _)| {
        let before = text[..i].bytes().next_back();
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return false;
        }
        let mut rest = text[i + "extern".len()..].trim_start();
        if let Some(abi) = rest.strip_prefix('"') {
            let Some(end) = abi.find('"') else {
                return false;
            };
            rest = abi[end + 1..].trim_start();
        }
        rest.starts_with('{')
    })
}

/// `*mut` or `*const`, whitespace allowed after the star.
fn has_raw_pointer(text: &str) -> bool {
    text.match_indices('*').any(|(i, _)| {
        let rest = text[i + 1..].trim_start();
        ["mut", "const"].iter().any(|k| {
            rest.strip_prefix(k)
                .is_some_and(|r| !r.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
        })
    })
}

impl RustPrefilter {
    pub fn new(table: &ResourceTable) -> RustPrefilter {
        let mut words: Vec<String> = Vec::new();
        for spec in &table.specs {
            // Raw handles come from a few functions of widely used crates
            // (`libc::`): those functions' names, not the crate, admit.
            if spec.kind == crate::resources::ResourceKind::Handle {
                for a in &spec.acquire {
                    let found: Vec<String> = match (&a.call, &a.method) {
                        (Some(c), _) if a.any_path => {
                            vec![c.rsplit("::").next().unwrap_or(c).to_string()]
                        }
                        // `libc::open(..)`, or imported: `use libc::{open, ..}`.
                        (Some(c), _) => match c.split_once("::") {
                            Some((krate, _)) => vec![c.clone(), format!("use {krate}::")],
                            None => vec![c.clone()],
                        },
                        (None, Some(m)) => vec![format!(".{m}(")],
                        _ => continue,
                    };
                    for word in found {
                        if !words.contains(&word) {
                            words.push(word);
                        }
                    }
                }
                continue;
            }
            let names = std::iter::once(&spec.type_name)
                .chain(&spec.aliases)
                .chain(spec.acquire.iter().filter_map(|a| a.call.as_ref()));
            for n in names {
                // A crate is used through its path (`sqlx::`, `use
                // sqlx::{..}`); FFI symbols through their own names.
                let word = match n.split_once("::") {
                    Some((krate, _)) => format!("{krate}::"),
                    None => n.clone(),
                };
                if !word.is_empty() && !words.contains(&word) {
                    words.push(word);
                }
            }
            for a in spec.acquire.iter().filter(|a| a.any_path) {
                if let Some(name) = a.call.as_deref().and_then(|c| c.rsplit("::").next()) {
                    words.push(name.to_string());
                }
            }
        }
        // SQL that begins a transaction (an SQL fact); then the
        // vocabulary's `admit-words` (std's forget family). The file's own
        // `extern` handles are tested apart (`may_declare_extern_handles`).
        for w in ["\"begin", "\"start transaction"] {
            words.push(w.to_string());
        }
        words.extend(table.vocabulary.admit_words.iter().cloned());
        let crates: Vec<String> = table
            .specs
            .iter()
            .filter(|s| s.kind != crate::resources::ResourceKind::Handle)
            .filter_map(|s| s.type_name.split_once("::").map(|(c, _)| format!("{c}::")))
            .collect();
        let lower = |ws: &[String]| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(ws)
                .expect("valid patterns")
        };
        RustPrefilter {
            crate_prefixes: crates.clone(),
            extern_open: lower(&table.vocabulary.extern_open_words),
            extern_close: lower(&table.vocabulary.extern_close_words),
            // Crates, and where frameworks register application state
            // (the vocabulary's `summary-words`).
            crates: AhoCorasick::new(
                crates
                    .iter()
                    .chain(&table.vocabulary.summary_words)
                    .map(String::as_str),
            )
            .expect("valid patterns"),
            matcher: AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .build(&words)
                .expect("valid patterns"),
        }
    }

    pub fn admits(&self, text: &str) -> bool {
        self.matcher.is_match(text) || self.may_declare_extern_handles(text)
    }

    /// What `items::extern_handles` needs to find a handle, as bytes: an
    /// `extern` block, a raw pointer (what an opening function returns),
    /// and both an opening and a closing name. Generated bindings
    /// (`web-sys`, `windows-sys`) are mostly `extern "C"` blocks without
    /// pointers or without one of the two names.
    fn may_declare_extern_handles(&self, text: &str) -> bool {
        has_extern_block(text)
            && has_raw_pointer(text)
            && self.extern_open.is_match(text)
            && self.extern_close.is_match(text)
    }

    /// Whether a type path (`sqlx::PgPool`, `r2d2::Pool<..>`) is a
    /// resource crate's.
    pub fn is_resource_path(&self, path: &str) -> bool {
        self.crate_prefixes
            .iter()
            .any(|c| path.starts_with(c.as_str()))
    }

    /// Whether a file should be summarised by the first pass: it uses a
    /// database crate's path (FFI handles need no project facts).
    pub fn summarises(&self, text: &str) -> bool {
        self.crates.is_match(text)
    }
}

/// Whether an item's attributes mark a test (`#[test]`, `#[tokio::test]`,
/// `#[sqlx::test]`) or test-only code (`#[cfg(test)]`).
fn is_test_attr(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        let path = a.path();
        if path
            .segments
            .last()
            .is_some_and(|s| s.ident == "test" || s.ident.to_string().ends_with("_test"))
        {
            return true;
        }
        if path.is_ident("cfg") {
            if let syn::Meta::List(list) = &a.meta {
                return list
                    .tokens
                    .to_string()
                    .split(|c: char| !c.is_alphanumeric() && c != '_')
                    .any(|w| w == "test");
            }
        }
        false
    })
}

/// A file in the IR: every function, method, closure and async block
/// lowered, and the resources its long-lived places hold.
pub struct LoweredFile {
    pub functions: Vec<Function>,
    pub stored: Vec<StoredResource>,
}

pub fn lower_file<'a>(
    file: &syn::File,
    source: &SourceFile,
    table: &'a ResourceTable,
    project: &'a RustProject,
) -> LoweredFile {
    let vocab = &table.vocabulary;
    let names = Names::collect(file, Some(project), &vocab.type_wrappers);
    let knowledge = Knowledge::new(table, extern_handles(file, vocab), &source.text);
    let items = Items::collect(file, &names, &knowledge, source, Some(project));
    let ctx = Ctx {
        source,
        names: &names,
        knowledge: &knowledge,
        items: &items,
        project,
    };
    let mut lowered = Vec::new();
    lower_items(&ctx, &file.items, false, &mut lowered);
    let functions = lowered.into_iter().map(|l| l.function).collect();
    // Absolute, as the summaries record them: a file named relative to
    // the working directory is near the project's files all the same.
    let dir = crate::source::absolute(source.path.parent().unwrap_or(std::path::Path::new("")));
    let state_types = project.state_types_near(&dir);
    LoweredFile {
        functions,
        stored: stored_resources(file, source, &names, &knowledge, &state_types),
    }
}

fn lower_items(ctx: &Ctx, items: &[syn::Item], in_test: bool, out: &mut Vec<Lowered>) {
    for item in items {
        match item {
            syn::Item::Fn(f) => {
                let test = in_test || is_test_attr(&f.attrs);
                out.extend(lower_fn(ctx, &f.sig, &f.block, None, test));
            }
            syn::Item::Impl(imp) => {
                let test = in_test || is_test_attr(&imp.attrs);
                let self_ty = impl_self_name(imp);
                for it in &imp.items {
                    if let syn::ImplItem::Fn(m) = it {
                        let test = test || is_test_attr(&m.attrs);
                        out.extend(lower_fn(ctx, &m.sig, &m.block, self_ty.clone(), test));
                    }
                }
            }
            syn::Item::Trait(t) => {
                for it in &t.items {
                    if let syn::TraitItem::Fn(m) = it {
                        if let Some(block) = &m.default {
                            let test = in_test || is_test_attr(&m.attrs);
                            let self_ty = Some(t.ident.to_string());
                            out.extend(lower_fn(ctx, &m.sig, block, self_ty, test));
                        }
                    }
                }
            }
            syn::Item::Mod(m) => {
                if let Some((_, inner)) = &m.content {
                    lower_items(ctx, inner, in_test || is_test_attr(&m.attrs), out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extern_blocks_are_told_from_extern_functions_and_crates() {
        assert!(has_extern_block("extern \"C\" {\n}"));
        assert!(has_extern_block("unsafe extern \"C-unwind\"\n{}"));
        assert!(has_extern_block("extern{}"));
        assert!(!has_extern_block("pub extern \"C\" fn f() {}"));
        assert!(!has_extern_block("extern crate libc;"));
        assert!(!has_extern_block("my_extern {}"));
        assert!(!has_extern_block("extern \"C"));
    }

    #[test]
    fn raw_pointers_are_told_from_multiplication_and_comments() {
        assert!(has_raw_pointer("-> *mut Db"));
        assert!(has_raw_pointer("-> * const u8"));
        assert!(!has_raw_pointer("a * b /* constant */"));
        assert!(!has_raw_pointer("*mutable"));
    }

    #[test]
    fn a_files_own_extern_handles_admit_it_and_bindings_without_them_do_not() {
        let table = crate::resources::table_for(crate::resources::SpecLanguage::Rust, &[]);
        let filter = RustPrefilter::new(&table);
        let own = "extern \"C\" {\n    fn db_open(p: *const u8) -> *mut Db;\n    fn db_close(d: *mut Db);\n}\n";
        assert!(filter.admits(own));
        let bindings =
            "extern \"C\" {\n    fn socket_close(s: u32);\n    fn window_open() -> u32;\n}\n";
        assert!(!filter.admits(bindings));
        assert!(!filter.admits("pub extern \"C\" fn open(p: *mut u8) {}\nfn close() {}\n"));
    }
}
