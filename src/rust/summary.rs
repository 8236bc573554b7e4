//! The Rust part of the first pass: the project facts one file
//! contributes (see `project`), summarised before any file is checked.

use crate::resources::ResourceTable;
use crate::rust::items::{extern_handles, Items};
use crate::rust::knowledge::Knowledge;
use crate::rust::names::Names;
use crate::rust::project::{known, RustProject};
use crate::rust::{self as front, RustParse};
use crate::source::SourceFile;

/// The facts one file contributes.
pub fn summarise_file(source: &SourceFile, table: &ResourceTable) -> RustProject {
    let parsed = front::parse(source);
    match &*parsed {
        RustParse::Parsed(file) => {
            let vocab = &table.vocabulary;
            let names = Names::collect(file, None, &vocab.type_wrappers);
            let knowledge = Knowledge::new(table, extern_handles(file, vocab), &source.text);
            let items = Items::collect(file, &names, &knowledge, source, None);
            let dir =
                crate::source::absolute(source.path.parent().unwrap_or(std::path::Path::new("")));
            let mut p = RustProject {
                state_types: crate::rust::state::scan(file, vocab)
                    .state_types
                    .into_iter()
                    .map(|name| (name, vec![dir.clone()]))
                    .collect(),
                ..RustProject::default()
            };
            p.aliases = names
                .local_aliases()
                .map(|(k, v)| (k.clone(), Some(v.clone())))
                .collect();
            p.fields = known(items.fields);
            p.returns = known(items.returns);
            p.acquires_from = known(items.acquires_from);
            p
        }
        _ => RustProject::default(),
    }
}
