//! Reading a file's text, and the LK002 finding for one that cannot be
//! read.

use std::path::Path;

use crate::diagnostic::{Finding, Span};
use crate::rules::IO_ERROR;

/// Files larger than this are reported (LK002) instead of analysed: they
/// are generated or data, and would dominate the run's time and memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a file's text could not be had, worded for an LK002 message.
pub fn read_problem(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("could not read file: {e}"))?;
    if meta.is_dir() {
        return Err("could not read file: it is a directory".to_string());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file not analysed: {} bytes is over the {} MiB limit",
            meta.len(),
            MAX_FILE_BYTES / (1024 * 1024)
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("could not read file: {e}"))?;
    decode(bytes)
}

/// UTF-8 text, or a message that says where it stops being UTF-8.
pub fn decode(bytes: Vec<u8>) -> Result<String, String> {
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..valid].iter().filter(|&&b| b == b'\n').count() + 1;
        format!("could not read file: not valid UTF-8 (line {line}, byte offset {valid}); leaklint reads UTF-8 sources only")
    })
}

/// An LK002 finding for a file whose text could not be had.
pub fn io_finding(message: String) -> Finding {
    IO_ERROR.finding(
        Span::empty_at(0),
        message,
        "Make the file readable as UTF-8 text, or exclude it with `extend-exclude`.",
    )
}
