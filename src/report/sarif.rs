use std::io::{self, Write};

use crate::diagnostic::FileFindings;

pub fn write(_files: &[FileFindings], _out: &mut dyn Write) -> io::Result<()> {
    todo!()
}
