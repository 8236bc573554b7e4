use std::collections::BTreeMap;
use std::io::{self, Write};

use super::Format;
use crate::diagnostic::{Applicability, FileFindings};

struct Row {
    name: &'static str,
    count: usize,
    fixable: usize,
}

/// Counts per rule, most frequent first; JSON for `--format json`, a table
/// otherwise.
pub fn write(format: Format, files: &[FileFindings], out: &mut dyn Write) -> io::Result<()> {
    let mut rows: BTreeMap<&'static str, Row> = BTreeMap::new();
    for f in files.iter().flat_map(|f| &f.findings) {
        let row = rows.entry(f.code).or_insert(Row {
            name: f.name,
            count: 0,
            fixable: 0,
        });
        row.count += 1;
        if f.fix
            .as_ref()
            .is_some_and(|fix| fix.applicability != Applicability::DisplayOnly)
        {
            row.fixable += 1;
        }
    }
    let mut rows: Vec<_> = rows.into_iter().collect();
    rows.sort_by(|a, b| b.1.count.cmp(&a.1.count).then(a.0.cmp(b.0)));
    if format == Format::Json {
        let json: Vec<_> = rows
            .iter()
            .map(|(code, r)| {
                serde_json::json!({"code": code, "name": r.name, "count": r.count, "fixable": r.fixable})
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &json)?;
        writeln!(out)?;
        return Ok(());
    }
    for (code, r) in &rows {
        let mark = if r.fixable > 0 { "[*]" } else { "   " };
        writeln!(out, "{:>5}\t{code}\t{mark} {}", r.count, r.name)?;
    }
    Ok(())
}
