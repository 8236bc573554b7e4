//! Replays every input under `fuzz/seeds/` through the fuzz targets' entry
//! points, so the seeds (and any crash a fuzzer found, once added there)
//! are checked on every CI run, not only while fuzzing.

use std::path::Path;

use leaklint::fuzzing;
use leaklint::source::Language;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no seeds for {target}");
    out
}

#[test]
fn python_seeds() {
    for (_, data) in inputs("python") {
        if let Ok(text) = std::str::from_utf8(&data) {
            fuzzing::check_text(text, Language::Python);
        }
    }
}

#[test]
fn rust_seeds() {
    for (_, data) in inputs("rust") {
        if let Ok(text) = std::str::from_utf8(&data) {
            fuzzing::check_text(text, Language::Rust);
        }
    }
}

#[test]
fn fix_seeds() {
    for (_, data) in inputs("fix") {
        // The same framing as fuzz/fuzz_targets/fix.rs.
        let (language, body) = match data.first() {
            Some(b'R') => (Language::Rust, &data[1..]),
            Some(b'P') => (Language::Python, &data[1..]),
            _ => (Language::Python, &data[..]),
        };
        if let Ok(text) = std::str::from_utf8(body) {
            fuzzing::fix_text(text, language);
        }
    }
}

#[test]
fn config_seeds() {
    for (_, data) in inputs("config") {
        if let Ok(text) = std::str::from_utf8(&data) {
            fuzzing::load_config(text);
        }
    }
}
