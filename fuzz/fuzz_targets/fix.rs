//! The fix engine: every fix, unsafe ones too, applied to the input. A
//! first byte `R` makes the rest a Rust file, `P` a Python file; any other
//! input is Python as it is.
#![no_main]

use leaklint::source::Language;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (language, body) = match data.first() {
        Some(b'R') => (Language::Rust, &data[1..]),
        Some(b'P') => (Language::Python, &data[1..]),
        _ => (Language::Python, data),
    };
    if let Ok(text) = std::str::from_utf8(body) {
        leaklint::fuzzing::fix_text(text, language);
    }
});
