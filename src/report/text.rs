use std::io::{self, Write};

use super::ReportOptions;
use crate::diagnostic::FileFindings;

pub fn write(_files: &[FileFindings], _options: ReportOptions, _out: &mut dyn Write) -> io::Result<()> {
    todo!()
}
