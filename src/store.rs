//! What leaklint's writes to disk share: content hashes, the clock the
//! caches trust stats by, and replacing a file through a rename.

use std::io::Write;
use std::path::Path;

/// A stat (or a directory's mtime) younger than this, compared with when
/// it was taken, is not trusted: coarse timestamps could hide a second
/// write in the same tick (git's "racily clean" rule).
pub const RACY_NANOS: u128 = 2_000_000_000;

/// The SHA-256 of `bytes` in lowercase hex: how caches name contents.
pub fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A time as nanoseconds since the epoch (0 when there is none).
pub fn nanos(t: std::io::Result<std::time::SystemTime>) -> u128 {
    t.ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos())
}

pub fn now_nanos() -> u128 {
    nanos(Ok(std::time::SystemTime::now()))
}

/// Writes `path` through a temporary file beside it and a rename, so that
/// a reader (or a crash) sees the old content or the new, never half of
/// each. `prepare` runs on the temporary file before the rename (to sync
/// it, or to give it the old file's permissions).
pub fn write_via_temp(
    path: &Path,
    bytes: &[u8],
    prepare: impl FnOnce(&std::fs::File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".leaklint-")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    prepare(tmp.as_file())?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
