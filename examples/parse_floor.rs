//! The parse floor of a corpus: how long the parsers alone take, on two
//! threads as the check runs them, over the files a real run admits.
//!
//!     LEAKLINT_DEBUG_ADMITTED=1 leaklint check --no-cache DIR 2>&1 >/dev/null \
//!         | sed -n 's/^leaklint: admitted //p' > admitted.txt
//!     cargo run --release --example parse_floor -- admitted.txt
//!
//! The list holds each file the prefilter admitted (by a library's names
//! or by the project's own), as the run named it; run the example from
//! the same directory. No analysis can finish sooner than its parses of
//! the files it must read: this bounds what the check may cost against a
//! target (issue 10 compares it with ruff's whole run).

use std::path::PathBuf;
use std::time::Instant;

use rayon::prelude::*;

fn main() {
    let Some(list) = std::env::args_os().nth(1) else {
        eprintln!("usage: parse_floor ADMITTED_LIST");
        std::process::exit(2);
    };
    let list = std::fs::read_to_string(&list).expect("the list of admitted files");
    let mut python = Vec::new();
    let mut rust = Vec::new();
    for path in list.lines().map(PathBuf::from) {
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("parse_floor: cannot read {}", path.display());
            continue;
        };
        match path.extension().and_then(|e| e.to_str()) {
            Some("rs") => rust.push(text),
            _ => python.push(text),
        }
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .stack_size(64 * 1024 * 1024)
        .build()
        .expect("threads");
    let report = |name: &str, texts: &[String], parse: &(dyn Fn(&str) + Sync)| {
        if texts.is_empty() {
            return;
        }
        let lines: usize = texts.iter().map(|t| t.lines().count()).sum();
        let mut walls = Vec::new();
        for _ in 0..3 {
            let began = Instant::now();
            pool.install(|| texts.par_iter().with_max_len(1).for_each(|t| parse(t)));
            walls.push(began.elapsed().as_secs_f64());
        }
        walls.sort_by(f64::total_cmp);
        println!(
            "{name}: {} admitted files, {lines} lines; parse only, 2 threads: {:.2} s (median of 3), {:.2} M lines/s",
            texts.len(),
            walls[1],
            lines as f64 / walls[1] / 1e6
        );
    };
    report("python (tree-sitter-python)", &python, &|t| {
        let mut parser = tree_sitter::Parser::new();
        parser
            .set_language(&tree_sitter_python::LANGUAGE.into())
            .expect("grammar");
        std::hint::black_box(parser.parse(t, None));
    });
    report("rust (syn, span-locations)", &rust, &|t| {
        std::hint::black_box(syn::parse_file(t).ok());
    });
}
