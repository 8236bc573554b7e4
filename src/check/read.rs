//! Reading a file's text, and the LK002 finding for one that cannot be
//! read.

use std::path::Path;

use crate::diagnostic::{Finding, Span};
use crate::rules::IO_ERROR;

/// Files larger than this are reported (LK002) instead of analysed: they
/// are generated or data, and would dominate the run's time and memory.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// Why a file's text could not be had; its message is the LK002 finding's.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("could not read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not read file: it is a directory")]
    Directory,
    /// A FIFO, socket or device: reading one could block forever or never
    /// end, so it is not opened at all.
    #[error("could not read file: it is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("file not analysed: standard input is over the {} MiB limit", MAX_FILE_BYTES / (1024 * 1024))]
    StdinTooLarge,
    #[error("file not analysed: {bytes} bytes is over the {} MiB limit", MAX_FILE_BYTES / (1024 * 1024))]
    TooLarge { bytes: u64 },
    #[error("could not read file: not valid UTF-8 (line {line}, byte offset {offset}); leaklint reads UTF-8 sources only")]
    NotUtf8 { line: usize, offset: usize },
}

/// A file's text, or why it could not be had.
pub fn read_problem(path: &Path) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(ReadError::Directory);
    }
    if !meta.is_file() {
        return Err(ReadError::NotRegular(special_kind(&meta.file_type())));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(ReadError::TooLarge { bytes: meta.len() });
    }
    decode(std::fs::read(path)?)
}

/// What kind of special file this is, for the message.
fn special_kind(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_char_device() || file_type.is_block_device() {
            return "a device";
        }
    }
    let _ = file_type;
    "a special file"
}

/// UTF-8 text, or where it stops being UTF-8.
pub fn decode(bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
        ReadError::NotUtf8 { line, offset }
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
