//! The configuration loader: any text as `leaklint.toml` and as
//! `pyproject.toml`, then the settings built from what loads.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        leaklint::fuzzing::load_config(text);
    }
});
