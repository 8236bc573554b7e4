use std::io::{self, Write};

use crate::diagnostic::FileFindings;

/// `path:row:col: CODE message`: the shape editors' problem matchers expect.
pub fn write(files: &[FileFindings], out: &mut dyn Write) -> io::Result<()> {
    for file in files {
        let path = file.source.display_path();
        for f in &file.findings {
            let loc = file.source.location(f.span.start);
            // A message is one line by construction; fold any stray newline
            // so one finding is always one line of output.
            let message = f.message.replace(['\r', '\n'], " ");
            writeln!(
                out,
                "{path}:{}:{}: {} {message}",
                loc.row, loc.column, f.code
            )?;
        }
    }
    Ok(())
}
