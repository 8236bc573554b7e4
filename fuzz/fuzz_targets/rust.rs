//! The Rust front end and every rule: any bytes, decoded as leaklint
//! decodes a file, must come back as findings (LK001/LK002 at worst).
#![no_main]

use leaklint::source::Language;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        leaklint::fuzzing::check_text(text, Language::Rust);
    }
});
