//! `--format sarif`: SARIF 2.1.0, the format code-scanning services
//! (GitHub code scanning, Azure DevOps, IDE viewers) ingest.
//!
//! The log is built from serde-sarif's generated types rather than ad-hoc
//! JSON so that property names and nesting come from the OASIS schema, not
//! from memory; the unit tests validate the output against that schema too.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, Write};

use serde_sarif::sarif;
use sha2::{Digest, Sha256};

use super::text::clamp_span;
use crate::diagnostic::{FileFindings, Finding, Fix, Severity, Span};
use crate::rules::{self, RuleMeta};
use crate::source::SourceFile;

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const INFORMATION_URI: &str = "https://github.com/leaklint/leaklint";
/// The `partialFingerprints` key. Versioned, because changing what goes
/// into the hash must not make old alerts look "fixed" and new ones appear.
const FINGERPRINT_KEY: &str = "leaklint/v1";

/// Writes one SARIF log with a single run holding every finding.
pub fn write(files: &[FileFindings], out: &mut dyn Write) -> io::Result<()> {
    let log = build(files);
    serde_json::to_writer_pretty(&mut *out, &log)?;
    writeln!(out)
}

fn build(files: &[FileFindings]) -> sarif::Sarif {
    let catalogue = rules::all();
    let mut results = Vec::new();
    for file in files {
        let uri = encode_uri(&file.source.display_path());
        let fingerprints = fingerprints(&file.source, &file.findings);
        for (finding, fingerprint) in file.findings.iter().zip(fingerprints) {
            results.push(result(&file.source, &uri, finding, fingerprint, catalogue));
        }
    }
    let driver = sarif::ToolComponent::builder()
        .name("leaklint")
        .version(env!("CARGO_PKG_VERSION"))
        .information_uri(INFORMATION_URI)
        .rules(catalogue.iter().map(|r| descriptor(r)).collect::<Vec<_>>())
        .build();
    let run = sarif::Run::builder()
        .tool(driver)
        // SARIF's default is UTF-16 code units; our columns count Unicode
        // scalar values (DESIGN.md), so say so or viewers would be off by
        // one after every astral-plane character.
        .column_kind(enum_value(sarif::ResultColumnKind::UnicodeCodePoints))
        // Present even when empty: an absent `results` means "this run did
        // not scan", an empty one means "scanned, found nothing".
        .results(results)
        .build();
    sarif::Sarif::builder()
        .schema(SCHEMA)
        .version(enum_value(sarif::Version::V2_1_0))
        .runs(vec![run])
        .build()
}

/// serde-sarif types a few enum-valued properties as `serde_json::Value`;
/// going through its enums still keeps the spelling checked.
fn enum_value<T: serde::Serialize>(value: T) -> serde_json::Value {
    serde_json::to_value(value).expect("a unit enum variant always serializes")
}

fn level(severity: Severity) -> sarif::ResultLevel {
    match severity {
        Severity::Error => sarif::ResultLevel::Error,
        Severity::Warning => sarif::ResultLevel::Warning,
    }
}

fn descriptor(rule: &RuleMeta) -> sarif::ReportingDescriptor {
    let doc = dedent(rule.doc);
    let default_level = match rule.severity {
        Severity::Error => sarif::ReportingConfigurationLevel::Error,
        Severity::Warning => sarif::ReportingConfigurationLevel::Warning,
    };
    sarif::ReportingDescriptor::builder()
        .id(rule.code)
        .name(rule.name)
        .short_description(text_and_markdown(rule.summary, None))
        .full_description(text_and_markdown(rule.summary, None))
        .help(text_and_markdown(&doc, Some(&doc)))
        .default_configuration(
            sarif::ReportingConfiguration::builder()
                .level(enum_value(default_level))
                .build(),
        )
        .build()
}

fn text_and_markdown(text: &str, markdown: Option<&str>) -> sarif::MultiformatMessageString {
    match markdown {
        Some(md) => sarif::MultiformatMessageString::builder()
            .text(text)
            .markdown(md)
            .build(),
        None => sarif::MultiformatMessageString::builder()
            .text(text)
            .build(),
    }
}

/// A rule's doc comment keeps the single space after each `///`; strip it
/// so the Markdown renders as written (indented lines would become code).
fn dedent(doc: &str) -> String {
    doc.lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

fn result(
    source: &SourceFile,
    uri: &str,
    f: &Finding,
    fingerprint: String,
    catalogue: &[&RuleMeta],
) -> sarif::Result {
    let related: Vec<sarif::Location> = f
        .labels
        .iter()
        .enumerate()
        .map(|(i, label)| {
            sarif::Location::builder()
                .id(i as i64 + 1)
                .physical_location(physical_location(source, uri, label.span))
                .message(label.message.as_str())
                .build()
        })
        .collect();
    let primary = sarif::Location::builder()
        .physical_location(physical_location(source, uri, f.span))
        .build();
    let rule_index = catalogue.iter().position(|r| r.code == f.code);
    let fixes = f.fix.as_ref().map(|fix| vec![sarif_fix(source, uri, fix)]);
    let partial_fingerprints = BTreeMap::from([(FINGERPRINT_KEY.to_string(), fingerprint)]);
    // The builder is a typestate; optional parts are set through the
    // finished struct so that each stays a plain `Option`.
    let mut result = sarif::Result::builder()
        .rule_id(f.code)
        .level(level(f.severity))
        .message(f.message.as_str())
        .locations(vec![primary])
        .partial_fingerprints(partial_fingerprints)
        .build();
    result.rule_index = rule_index.map(|i| i as i64);
    result.related_locations = (!related.is_empty()).then_some(related);
    result.fixes = fixes;
    result
}

fn region(source: &SourceFile, span: Span) -> sarif::Region {
    let start = source.location(span.start);
    let end = source.location(span.end);
    sarif::Region::builder()
        .start_line(start.row as i64)
        .start_column(start.column as i64)
        .end_line(end.row as i64)
        .end_column(end.column as i64)
        .build()
}

fn artifact_location(uri: &str) -> sarif::ArtifactLocation {
    sarif::ArtifactLocation::builder().uri(uri).build()
}

fn physical_location(source: &SourceFile, uri: &str, span: Span) -> sarif::PhysicalLocation {
    sarif::PhysicalLocation::builder()
        .artifact_location(artifact_location(uri))
        .region(region(source, span))
        .build()
}

fn sarif_fix(source: &SourceFile, uri: &str, fix: &Fix) -> sarif::Fix {
    let replacements: Vec<sarif::Replacement> = fix
        .edits
        .iter()
        .map(|edit| {
            // An insertion is an empty deleted region; a deletion has no
            // inserted content.
            let replacement =
                sarif::Replacement::builder().deleted_region(region(source, edit.span));
            if edit.content.is_empty() {
                replacement.build()
            } else {
                replacement
                    .inserted_content(
                        sarif::ArtifactContent::builder()
                            .text(edit.content.as_str())
                            .build(),
                    )
                    .build()
            }
        })
        .collect();
    let change = sarif::ArtifactChange::builder()
        .artifact_location(artifact_location(uri))
        .replacements(replacements)
        .build();
    // SARIF has no notion of fix safety; keep ours in the property bag so
    // a consumer can tell a safe fix from one that needs review.
    let properties = sarif::PropertyBag::builder()
        .additional_properties(BTreeMap::from([(
            "applicability".to_string(),
            serde_json::Value::from(fix.applicability.as_str()),
        )]))
        .build();
    sarif::Fix::builder()
        .description(fix.message.as_str())
        .artifact_changes(vec![change])
        .properties(properties)
        .build()
}

/// A relative URI reference for a display path: `/` separators kept, every
/// byte outside RFC 3986's unreserved set percent-encoded. Over-encoding is
/// harmless to consumers; an unencoded space, `#` or `%` is not.
fn encode_uri(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in path.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One `partialFingerprints` value per finding, in order.
///
/// Code-scanning services match alerts across commits by these. The hash
/// covers the rule, the trimmed text of the primary span's first line and
/// of the span itself, and the occurrence index among earlier findings of
/// the same rule on an identical line in this file. Rows and the path are
/// left out on purpose: inserting lines above a finding or moving the file
/// must not turn an old alert into a "new" one, while editing the flagged
/// line should. The occurrence index keeps two identical lines apart.
fn fingerprints(source: &SourceFile, findings: &[Finding]) -> Vec<String> {
    let mut seen: HashMap<(&str, &str), u64> = HashMap::new();
    findings
        .iter()
        .map(|f| {
            let span = clamp_span(&source.text, f.span);
            let line = source.line_text(source.line_index(span.start));
            let line = line.trim();
            let occurrence = seen.entry((f.code, line)).or_insert(0);
            let index = *occurrence;
            *occurrence += 1;
            let mut hasher = Sha256::new();
            // Length-prefix every part so that no two different tuples can
            // produce the same byte stream.
            for part in [
                f.code.as_bytes(),
                line.as_bytes(),
                source.text[span].trim().as_bytes(),
            ] {
                hasher.update((part.len() as u64).to_le_bytes());
                hasher.update(part);
            }
            hasher.update(index.to_le_bytes());
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Applicability, Edit};
    use serde_json::Value;

    const SARIF_SCHEMA: &str = include_str!("../../tests/data/sarif-schema-2.1.0.json");

    /// The official schema's BCP-47 `language` pattern has a stray `]`.
    /// ECMA-262 (Annex B) reads it as a literal `]`, but the draft-07
    /// meta-schema's strict `regex` format check rejects it, so the schema
    /// would not compile. The file stays verbatim; the in-memory copy gets
    /// the same pattern with that `]` escaped, which means the same thing.
    const BROKEN_LANGUAGE_PATTERN: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    const FIXED_LANGUAGE_PATTERN: &str = r"^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}\]?$";

    fn repair_patterns(value: &mut Value) -> usize {
        match value {
            Value::Object(map) => {
                let mut repaired = 0;
                for (key, v) in map.iter_mut() {
                    if key == "pattern" && v == BROKEN_LANGUAGE_PATTERN {
                        *v = Value::from(FIXED_LANGUAGE_PATTERN);
                        repaired += 1;
                    } else {
                        repaired += repair_patterns(v);
                    }
                }
                repaired
            }
            Value::Array(items) => items.iter_mut().map(repair_patterns).sum(),
            _ => 0,
        }
    }

    fn validator() -> jsonschema::Validator {
        let mut schema: Value = serde_json::from_str(SARIF_SCHEMA).unwrap();
        assert_eq!(
            schema["$id"],
            "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/master/Schemata/sarif-schema-2.1.0.json"
        );
        // If a re-vendored schema has fixed the pattern, drop the repair.
        assert!(
            repair_patterns(&mut schema) > 0,
            "the language pattern workaround is stale"
        );
        // Formats are asserted explicitly so that, e.g., a badly encoded
        // `uri` fails the test instead of passing silently.
        jsonschema::draft7::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("the SARIF schema compiles without fetching anything")
    }

    fn assert_valid(doc: &Value) {
        let v = validator();
        let errors: Vec<String> = v
            .iter_errors(doc)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "SARIF schema violations: {errors:#?}\n{doc:#}"
        );
    }

    fn render(files: &[FileFindings]) -> Value {
        let mut out = Vec::new();
        write(files, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with("}\n"));
        serde_json::from_str(&text).unwrap()
    }

    fn finding(span: Span) -> Finding {
        rules::with_does_not_close::WITH_DOES_NOT_CLOSE.finding(
            span,
            "`with` does not close the connection",
            "use `closing(...)`",
        )
    }

    fn sample() -> FileFindings {
        let text = "import sqlite3\nwith sqlite3.connect(p) as conn:\n    conn.execute(q)\n";
        let start = text.find("sqlite3.connect").unwrap();
        let end = start + "sqlite3.connect(p)".len();
        let exec = text.find("conn.execute").unwrap();
        let f = finding(Span::new(start, end))
            .with_label(Span::new(exec, exec + 12), "used here")
            .with_fix(Fix::new(
                Applicability::Unsafe,
                "wrap in `contextlib.closing`",
                vec![
                    Edit::insertion(start, "closing("),
                    Edit::insertion(end, ")"),
                ],
            ));
        FileFindings {
            source: SourceFile::new("./my dir/app#1.py", text.into()),
            findings: vec![f],
        }
    }

    #[test]
    fn report_with_labels_and_fix_is_valid_sarif() {
        let doc = render(&[sample()]);
        assert_valid(&doc);

        assert_eq!(doc["$schema"], SCHEMA);
        assert_eq!(doc["version"], "2.1.0");
        let run = &doc["runs"][0];
        assert_eq!(run["columnKind"], "unicodeCodePoints");
        let driver = &run["tool"]["driver"];
        assert_eq!(driver["name"], "leaklint");
        assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
        let ids: Vec<_> = driver["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].clone())
            .collect();
        let codes: Vec<Value> = rules::all().iter().map(|r| Value::from(r.code)).collect();
        assert_eq!(ids, codes);

        let result = &run["results"][0];
        assert_eq!(result["ruleId"], "LK104");
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(driver["rules"][index]["id"], "LK104");
        assert_eq!(driver["rules"][index]["name"], "with-does-not-close");
        assert_eq!(
            driver["rules"][index]["defaultConfiguration"]["level"],
            "error"
        );
        assert!(driver["rules"][index]["help"]["markdown"]
            .as_str()
            .unwrap()
            .starts_with("## What it does"));
        assert_eq!(result["level"], "error");
        assert_eq!(
            result["message"]["text"],
            "`with` does not close the connection"
        );

        let loc = &result["locations"][0]["physicalLocation"];
        assert_eq!(loc["artifactLocation"]["uri"], "my%20dir/app%231.py");
        assert_eq!(
            loc["region"],
            serde_json::json!({"startLine": 2, "startColumn": 6, "endLine": 2, "endColumn": 24})
        );
        let related = &result["relatedLocations"][0];
        assert_eq!(related["id"], 1);
        assert_eq!(related["message"]["text"], "used here");
        assert_eq!(related["physicalLocation"]["region"]["startLine"], 3);
        assert_eq!(related["physicalLocation"]["region"]["startColumn"], 5);

        let fix = &result["fixes"][0];
        assert_eq!(fix["description"]["text"], "wrap in `contextlib.closing`");
        assert_eq!(fix["properties"]["applicability"], "unsafe");
        let replacements = &fix["artifactChanges"][0]["replacements"];
        assert_eq!(
            replacements[1],
            serde_json::json!({
                "deletedRegion": {"startLine": 2, "startColumn": 24, "endLine": 2, "endColumn": 24},
                "insertedContent": {"text": ")"}
            })
        );
        let fp = result["partialFingerprints"][FINGERPRINT_KEY]
            .as_str()
            .unwrap();
        assert_eq!(fp.len(), 64);
        assert!(fp.bytes().all(|b| b.is_ascii_hexdigit()));
    }

    #[test]
    fn empty_report_is_valid_sarif_with_empty_results() {
        let doc = render(&[]);
        assert_valid(&doc);
        assert_eq!(doc["runs"][0]["results"], serde_json::json!([]));
        assert_eq!(
            doc["runs"][0]["tool"]["driver"]["rules"]
                .as_array()
                .unwrap()
                .len(),
            rules::all().len()
        );
    }

    #[test]
    fn the_validator_rejects_broken_documents() {
        let v = validator();
        let good = render(&[sample()]);
        assert!(v.is_valid(&good));

        // `message` is required on a result.
        let mut no_message = good.clone();
        no_message["runs"][0]["results"][0]
            .as_object_mut()
            .unwrap()
            .remove("message");
        assert!(!v.is_valid(&no_message));

        // `tool.driver.name` is required.
        let mut no_name = good.clone();
        no_name["runs"][0]["tool"]["driver"]
            .as_object_mut()
            .unwrap()
            .remove("name");
        assert!(!v.is_valid(&no_name));

        // Lines are 1-based.
        let mut line_zero = good.clone();
        line_zero["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
            ["startLine"] = Value::from(0);
        assert!(!v.is_valid(&line_zero));

        // An unencoded space is not a URI reference.
        let mut bad_uri = good;
        bad_uri["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
            ["uri"] = Value::from("my dir/app.py");
        assert!(!v.is_valid(&bad_uri));
    }

    #[test]
    fn uris_are_percent_encoded_relative_references() {
        assert_eq!(encode_uri("src/app.py"), "src/app.py");
        assert_eq!(encode_uri("a b/c%d#e?f.py"), "a%20b/c%25d%23e%3Ff.py");
        assert_eq!(encode_uri("é.py"), "%C3%A9.py");
    }

    fn fingerprints_of(text: &str, needles: &[&str]) -> Vec<String> {
        let source = SourceFile::new("x.py", text.to_string());
        let mut from = 0;
        let findings: Vec<Finding> = needles
            .iter()
            .map(|n| {
                let start = from + text[from..].find(n).unwrap();
                from = start + n.len();
                finding(Span::new(start, start + n.len()))
            })
            .collect();
        fingerprints(&source, &findings)
    }

    #[test]
    fn fingerprints_survive_line_shifts_but_not_edits_of_the_flagged_line() {
        let base = "import sqlite3\nwith sqlite3.connect(p) as conn:\n    pass\n";
        let original = fingerprints_of(base, &["sqlite3.connect(p)"]);

        let shifted = format!("# one\n# two\n# three\n{base}");
        assert_eq!(fingerprints_of(&shifted, &["sqlite3.connect(p)"]), original);

        // Re-indenting the line is not a change of substance either.
        let indented = base.replace("with sqlite3", "    with sqlite3");
        assert_eq!(
            fingerprints_of(&indented, &["sqlite3.connect(p)"]),
            original
        );

        let edited = base.replace("as conn:", "as c:");
        assert_ne!(fingerprints_of(&edited, &["sqlite3.connect(p)"]), original);

        let other_span = base.replace("connect(p)", "connect(q)");
        assert_ne!(
            fingerprints_of(&other_span, &["sqlite3.connect(q)"]),
            original
        );
    }

    #[test]
    fn identical_lines_get_distinct_stable_fingerprints() {
        let line = "with sqlite3.connect(p) as conn:\n";
        let text = format!("{line}    pass\n{line}    pass\n");
        let fps = fingerprints_of(&text, &["sqlite3.connect(p)", "sqlite3.connect(p)"]);
        assert_eq!(fps.len(), 2);
        assert_ne!(fps[0], fps[1]);
        // The first of the two is the same finding as a lone occurrence.
        assert_eq!(fps[0], fingerprints_of(line, &["sqlite3.connect(p)"])[0]);
        // And a third copy added above shifts the occurrence indexes, not
        // the set of fingerprints the old ones map to.
        let more = format!("{line}    pass\n{text}");
        let fps3 = fingerprints_of(&more, &["sqlite3.connect(p)"; 3]);
        assert_eq!(&fps3[..2], &fps[..]);
    }

    #[test]
    fn empty_file_and_out_of_range_span_do_not_panic() {
        let source = SourceFile::new("unreadable.py", String::new());
        let f = rules::IO_ERROR.finding(Span::new(0, 5), "could not read file", "");
        let fps = fingerprints(&source, std::slice::from_ref(&f));
        assert_eq!(fps.len(), 1);
        let doc = render(&[FileFindings {
            source,
            findings: vec![f],
        }]);
        assert_valid(&doc);
        assert_eq!(doc["runs"][0]["results"][0]["ruleId"], "LK002");
    }
}
