//! Applying fixes: non-overlapping edits only, each fix checked by parsing
//! its result, repeated until nothing changes, and written atomically.

use std::io;
use std::path::Path;

use crate::diagnostic::{Applicability, Edit, Finding, Fix};

/// The most rounds of fix-then-recheck per file; real fixes settle in one
/// or two, so hitting this means two fixes undo each other.
pub const MAX_ROUNDS: usize = 10;

fn allowed(applicability: Applicability, allow_unsafe: bool) -> bool {
    match applicability {
        Applicability::Safe => true,
        Applicability::Unsafe => allow_unsafe,
        Applicability::DisplayOnly => false,
    }
}

/// `text` with `edits` (non-overlapping) applied.
pub fn apply_edits(text: &str, edits: &[Edit]) -> String {
    let mut sorted: Vec<&Edit> = edits.iter().collect();
    sorted.sort();
    let mut out = String::with_capacity(text.len() + 64);
    let mut pos = 0;
    for edit in sorted {
        out.push_str(&text[pos..edit.span.start]);
        out.push_str(&edit.content);
        pos = edit.span.end;
    }
    out.push_str(&text[pos..]);
    out
}

/// One round: takes the fixes in order of position, skips any that
/// overlaps an edit already taken (identical edits, such as the same
/// import added by two fixes, are shared instead), and keeps a fix only
/// if the text still parses with it (`parses`). Returns the edits and the
/// indices (in `findings`) of the findings they fix, or `None` when no fix
/// went in.
pub fn choose_edits(
    text: &str,
    findings: &[Finding],
    allow_unsafe: bool,
    parses: &dyn Fn(&str) -> bool,
) -> Option<(Vec<Edit>, Vec<usize>)> {
    let mut fixes: Vec<(usize, &Fix)> = findings
        .iter()
        .enumerate()
        .filter_map(|(i, f)| Some((i, f.fix.as_ref()?)))
        .filter(|(_, fix)| allowed(fix.applicability, allow_unsafe) && !fix.edits.is_empty())
        .collect();
    fixes.sort_by_key(|(_, fix)| fix.edits.first().map(|e| e.span));
    let mut taken: Vec<Edit> = Vec::new();
    let mut fixed = Vec::new();
    for (i, fix) in fixes {
        let new_edits: Vec<&Edit> = fix.edits.iter().filter(|e| !taken.contains(e)).collect();
        let in_bounds = new_edits.iter().all(|e| {
            e.span.start <= e.span.end
                && e.span.end <= text.len()
                && text.is_char_boundary(e.span.start)
                && text.is_char_boundary(e.span.end)
        });
        let overlaps = new_edits
            .iter()
            .any(|e| taken.iter().any(|t| t.span.overlaps(e.span)));
        if !in_bounds || overlaps {
            continue;
        }
        let mut candidate = taken.clone();
        candidate.extend(new_edits.into_iter().cloned());
        if !parses(&apply_edits(text, &candidate)) {
            continue;
        }
        taken = candidate;
        fixed.push(i);
    }
    (!fixed.is_empty()).then_some((taken, fixed))
}

/// Whether re-checking after a round found only what was there before,
/// less what the round fixed: per rule, `after` has at most as many
/// findings as `before` had minus the ones fixed. A fix that brings a
/// finding of its own (or fails to remove the one it fixes) fails this.
pub fn only_fixed_went(before: &[Finding], fixed: &[usize], after: &[Finding]) -> bool {
    let mut budget: std::collections::HashMap<&str, isize> = std::collections::HashMap::new();
    for f in before {
        *budget.entry(f.code).or_default() += 1;
    }
    for &i in fixed {
        *budget.entry(before[i].code).or_default() -= 1;
    }
    for f in after {
        *budget.entry(f.code).or_default() -= 1;
    }
    budget.values().all(|&left| left >= 0)
}

/// Replaces `path`'s contents with `text` through a temporary file in the
/// same directory and a rename, so a crash leaves the old file or the new
/// one, never half of each. Permissions are carried over.
pub fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    crate::store::write_via_temp(path, text.as_bytes(), |tmp| {
        tmp.sync_all()?;
        tmp.set_permissions(permissions)
    })
}

/// A unified diff of one file's fix, `a/` and `b/` prefixed like git's.
pub fn unified_diff(display_path: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("a/{}", display_path.trim_start_matches('/')),
            &format!("b/{}", display_path.trim_start_matches('/')),
        )
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Fix, Span};
    use crate::rules::with_does_not_close::WITH_DOES_NOT_CLOSE;
    use crate::source::Language;

    fn parses(text: &str) -> bool {
        !crate::check::has_syntax_error(text, Language::Python)
    }

    fn apply_round(
        text: &str,
        findings: &[Finding],
        allow_unsafe: bool,
        parses: &dyn Fn(&str) -> bool,
    ) -> Option<(String, usize)> {
        let (edits, fixed) = choose_edits(text, findings, allow_unsafe, parses)?;
        Some((apply_edits(text, &edits), fixed.len()))
    }

    fn finding_with(edits: Vec<Edit>, applicability: Applicability) -> Finding {
        WITH_DOES_NOT_CLOSE
            .finding(Span::empty_at(0), "m", "h")
            .with_fix(Fix::new(applicability, "fix", edits))
    }

    #[test]
    fn overlapping_fixes_are_not_applied_together_and_shared_edits_once() {
        let text = "x = f(1)\ny = g(2)\n";
        let import = Edit::insertion(0, "import a\n");
        let wrap = |at: usize, end: usize, name: &str| {
            vec![
                import.clone(),
                Edit::insertion(at, format!("{name}(")),
                Edit::insertion(end, ")"),
            ]
        };
        let a = finding_with(wrap(4, 8, "w"), Applicability::Safe);
        let b = finding_with(wrap(4, 8, "v"), Applicability::Safe);
        let c = finding_with(wrap(13, 17, "u"), Applicability::Safe);
        let (out, n) = apply_round(text, &[a, b, c], false, &parses).unwrap();
        // `b` collides with `a` at offset 4 and waits for another round.
        assert_eq!(out, "import a\nx = w(f(1))\ny = u(g(2))\n");
        assert_eq!(n, 2);
    }

    #[test]
    fn a_fix_that_breaks_the_syntax_is_dropped() {
        let text = "x = f(1)\n";
        let breaking = finding_with(vec![Edit::insertion(4, "(")], Applicability::Safe);
        assert!(apply_round(text, &[breaking], false, &parses).is_none());
        let fine = finding_with(
            vec![Edit::insertion(4, "("), Edit::insertion(8, ")")],
            Applicability::Safe,
        );
        assert_eq!(
            apply_round(text, &[fine], false, &parses).unwrap().0,
            "x = (f(1))\n"
        );
    }

    #[test]
    fn unsafe_and_display_only_fixes_need_permission() {
        let text = "x = f(1)\n";
        let edits = vec![Edit::insertion(4, "("), Edit::insertion(8, ")")];
        let unsafe_fix = finding_with(edits.clone(), Applicability::Unsafe);
        assert!(apply_round(text, std::slice::from_ref(&unsafe_fix), false, &parses).is_none());
        assert!(apply_round(text, &[unsafe_fix], true, &parses).is_some());
        let display = finding_with(edits, Applicability::DisplayOnly);
        assert!(apply_round(text, &[display], true, &parses).is_none());
    }

    #[test]
    fn atomic_write_keeps_permissions() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.py");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o751)).unwrap();
        write_atomically(&path, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o751
        );
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temporary file left behind"
        );
    }

    #[test]
    fn diff_has_git_style_headers() {
        let d = unified_diff("p/a.py", "a\nb\n", "a\nc\n");
        assert!(d.starts_with("--- a/p/a.py\n+++ b/p/a.py\n"), "{d}");
        assert!(d.contains("-b\n+c\n"), "{d}");
    }

    #[test]
    fn a_round_that_brings_a_finding_does_not_settle() {
        let f = |code| Finding {
            code,
            ..finding_with(Vec::new(), Applicability::Unsafe)
        };
        let before = [f("LK101"), f("LK101"), f("LK102")];
        // Fixing the first LK101 leaves one LK101 and the LK102.
        assert!(only_fixed_went(&before, &[0], &[f("LK101"), f("LK102")]));
        assert!(only_fixed_went(&before, &[0], &[f("LK102")]));
        // The fixed finding is still there, or a new one came.
        assert!(!only_fixed_went(&before, &[0], &before));
        assert!(!only_fixed_went(
            &before,
            &[0, 1],
            &[f("LK101"), f("LK102")]
        ));
        assert!(!only_fixed_went(
            &before,
            &[2],
            &[f("LK101"), f("LK101"), f("LK104")]
        ));
    }
}
