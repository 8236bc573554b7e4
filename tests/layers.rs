//! The architecture, checked: data flows one way (front end -> IR ->
//! engine -> rules -> pipeline -> reporters and CLI), no module imports
//! one above it, there are no import cycles, and rules never see a syntax
//! tree. The graph is read from the `crate::` paths each source file
//! names (test modules excluded), which is how this crate imports.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/rust/lower/mod.rs` -> `rust::lower`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts.join("::")
}

/// The text outside `#[cfg(test)] mod tests { .. }`.
fn non_test_code(text: &str) -> &str {
    text.split("#[cfg(test)]\nmod tests").next().unwrap_or(text)
}

/// Module -> the modules its code names through `crate::` paths.
fn graph() -> (BTreeMap<String, BTreeSet<String>>, BTreeMap<String, String>) {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut texts = BTreeMap::new();
    for f in &files {
        let m = module_of(&src, f);
        if m.ends_with("tests") {
            continue;
        }
        texts.insert(m, std::fs::read_to_string(f).unwrap());
    }
    let modules: BTreeSet<String> = texts.keys().cloned().collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (m, text) in &texts {
        let code = non_test_code(text);
        let out = edges.entry(m.clone()).or_default();
        for (i, _) in code.match_indices("crate::") {
            let path: String = code[i + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
            // The longest prefix that is a module.
            if let Some(target) = (1..=parts.len())
                .rev()
                .map(|k| parts[..k].join("::"))
                .find(|p| modules.contains(p))
            {
                if &target != m {
                    out.insert(target);
                }
            }
        }
    }
    (edges, texts)
}

/// The module `m` seen at `depth` path segments (`rust::lower::calls` at
/// depth 1 is `rust`).
fn at_depth(m: &str, depth: usize) -> String {
    m.split("::").take(depth).collect::<Vec<_>>().join("::")
}

fn cycle_in(
    edges: &BTreeMap<String, BTreeSet<String>>,
    prefix: &str,
    depth: usize,
) -> Option<Vec<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, bs) in edges {
        if !a.starts_with(prefix) || a.split("::").count() < depth {
            continue;
        }
        for b in bs {
            if !b.starts_with(prefix) || b.split("::").count() < depth {
                continue;
            }
            let (a, b) = (at_depth(a, depth), at_depth(b, depth));
            if a != b {
                g.entry(a).or_default().insert(b);
            }
        }
    }
    // Depth-first search for a back edge.
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = path.iter().position(|p| p == n) {
            return Some(path[i..].to_vec());
        }
        if done.contains(n) {
            return None;
        }
        path.push(n.to_string());
        for m in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, g, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = visit(n, &g, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn there_is_no_import_cycle() {
    let (edges, _) = graph();
    for (prefix, depth) in [
        ("", 1),
        ("rust", 2),
        ("python", 2),
        ("check", 2),
        ("rules", 2),
    ] {
        if let Some(cycle) = cycle_in(&edges, prefix, depth) {
            panic!("import cycle: {}", cycle.join(" -> "));
        }
    }
}

#[test]
fn no_module_imports_a_higher_layer() {
    // What each top-level module may use; everything else is above it.
    let allowed: BTreeMap<&str, &[&str]> = BTreeMap::from([
        ("source", &[][..]),
        ("store", &[][..]),
        ("resources", &[][..]),
        ("diagnostic", &["source"][..]),
        ("config", &["resources"][..]),
        ("ir", &["diagnostic", "resources"][..]),
        ("analysis", &["ir", "diagnostic"][..]),
        ("python", &["ir", "diagnostic", "resources", "source"][..]),
        ("rust", &["ir", "diagnostic", "resources", "source"][..]),
        (
            "rules",
            &[
                "ir",
                "analysis",
                "diagnostic",
                "resources",
                "source",
                "python",
                "rust",
            ][..],
        ),
        ("suppress", &["diagnostic", "source"][..]),
        ("fix", &["diagnostic", "store"][..]),
        (
            "settings",
            &[
                "config",
                "resources",
                "rules",
                "python",
                "rust",
                "source",
                "store",
            ][..],
        ),
        ("discover", &["config", "settings", "source", "store"][..]),
        (
            "check",
            &[
                "analysis",
                "diagnostic",
                "discover",
                "fix",
                "ir",
                "python",
                "resources",
                "rules",
                "rust",
                "settings",
                "source",
                "store",
                "suppress",
            ][..],
        ),
        ("report", &["config", "diagnostic", "rules", "source"][..]),
        // The fuzz targets' entry points sit on the pipeline, like the CLI.
        (
            "fuzzing",
            &[
                "check",
                "config",
                "diagnostic",
                "discover",
                "fix",
                "settings",
                "source",
            ][..],
        ),
    ]);
    let (edges, _) = graph();
    let mut wrong = Vec::new();
    for (a, bs) in &edges {
        let top = at_depth(a, 1);
        if top == "cli" || top == "main" || top.is_empty() {
            continue;
        }
        let Some(ok) = allowed.get(top.as_str()) else {
            wrong.push(format!("{top} has no place in the layer table"));
            continue;
        };
        for b in bs {
            let target = at_depth(b, 1);
            if target != top && !ok.contains(&target.as_str()) {
                wrong.push(format!("{a} uses {b}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn rules_and_the_engine_never_see_syntax_trees() {
    let (_, texts) = graph();
    let mut wrong = Vec::new();
    for (m, text) in &texts {
        let top = at_depth(m, 1);
        if !matches!(top.as_str(), "rules" | "analysis" | "ir") {
            continue;
        }
        let code = non_test_code(text);
        for banned in [
            "tree_sitter",
            "syn::",
            "proc_macro2",
            "crate::python::lower::",
            "crate::python::lower;",
            "crate::rust::lower::",
            "crate::rust::lower;",
        ] {
            if code.contains(banned) {
                wrong.push(format!("{m} names {banned}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
