//! What a SQL statement does to a transaction, read from its text:
//! `BEGIN` and its kin open one, `COMMIT`/`ROLLBACK` end it, and whether
//! it writes. SQL keywords are the language's, not a library's: they stay
//! here rather than in `rules/`.

/// Whether SQL text changes data.
pub fn sql_writes(sql: &str) -> bool {
    sql.split(|c: char| !c.is_ascii_alphabetic()).any(|w| {
        matches!(
            w.to_ascii_uppercase().as_str(),
            "INSERT"
                | "UPDATE"
                | "DELETE"
                | "MERGE"
                | "UPSERT"
                | "REPLACE"
                | "CREATE"
                | "ALTER"
                | "DROP"
                | "TRUNCATE"
                | "COPY"
                | "GRANT"
                | "REVOKE"
        )
    })
}

/// What a SQL string does to the transaction state.
#[derive(Debug, PartialEq, Eq)]
pub enum SqlEffect {
    Begin,
    End,
    Other,
}

/// Classifies a SQL string: `BEGIN [WORK|TRANSACTION|...]` or `START
/// TRANSACTION` begins (unless the same string also ends it); `COMMIT`,
/// `END`, `ABORT` and `ROLLBACK` (but not `ROLLBACK TO SAVEPOINT`) end.
pub fn sql_effect(sql: &str) -> SqlEffect {
    let upper = sql.trim_start().to_ascii_uppercase();
    let words: Vec<&str> = upper
        .split(|c: char| c.is_whitespace() || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    let ends_in = |words: &[&str]| {
        words
            .iter()
            .any(|w| matches!(*w, "COMMIT" | "ROLLBACK" | "END" | "ABORT"))
    };
    match words.as_slice() {
        ["BEGIN", rest @ ..] | ["START", "TRANSACTION", rest @ ..] => {
            if ends_in(rest) {
                SqlEffect::Other
            } else {
                SqlEffect::Begin
            }
        }
        ["ROLLBACK", "TO", ..] => SqlEffect::Other,
        ["COMMIT", ..] | ["ROLLBACK", ..] | ["END", ..] | ["ABORT", ..] => SqlEffect::End,
        _ => SqlEffect::Other,
    }
}
