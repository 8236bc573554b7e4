//! Unit tests of the lowering, through the engine.

use super::*;
use crate::ir::{LeakPath, Outcome};
use crate::resources::{table_for, SpecLanguage};
use crate::rust::project::RustProject;

/// Lowers and analyses every function of `src`; returns, per
/// function name, the lowered function and the engine's outcome.
fn analyse_src(src: &str) -> Vec<(Function, Outcome)> {
    let source = SourceFile::new("t.rs", src.to_string());
    let file: syn::File = syn::parse_str(src).unwrap();
    let table = table_for(SpecLanguage::Rust, &[]);
    let project = RustProject::default();
    let lowered = crate::rust::analyse::lower_file(&file, &source, &table, &project);
    lowered
        .functions
        .into_iter()
        .map(|f| {
            let outcome = crate::analysis::analyse(&f);
            (f, outcome)
        })
        .collect()
}

fn leaks_of<'a>(fs: &'a [(Function, Outcome)], name: &str) -> &'a Outcome {
    &fs.iter().find(|(l, _)| l.name == name).unwrap().1
}

#[test]
fn a_question_mark_after_a_failed_acquisition_leaks_nothing() {
    let fs = analyse_src(
        "fn early(p: &CStr) -> io::Result<()> {\n\
             let fd = unsafe { libc::open(p.as_ptr(), 0) };\n\
             if fd < 0 { return Err(io::Error::last_os_error()); }\n\
             check(fd)?;\n\
             unsafe { libc::close(fd) };\n\
             Ok(())\n\
         }\n\
         fn closed_first(p: &CStr) -> io::Result<()> {\n\
             let fd = unsafe { libc::open(p.as_ptr(), 0) };\n\
             if fd == -1 { return Err(io::Error::last_os_error()); }\n\
             unsafe { libc::close(fd) };\n\
             check(0)?;\n\
             Ok(())\n\
         }\n",
    );
    let early = leaks_of(&fs, "early");
    assert_eq!(early.leaks.len(), 1, "{early:?}");
    assert!(matches!(early.leaks[0].path, LeakPath::OnError { .. }));
    assert!(leaks_of(&fs, "closed_first").leaks.is_empty());
}

#[test]
fn a_shadowed_guard_is_still_alive_at_the_second_acquisition() {
    let fs = analyse_src(
        "use sqlx::PgPool;\n\
         async fn twice(pool: &PgPool) -> sqlx::Result<()> {\n\
             let c = pool.acquire().await?;\n\
             let c = pool.acquire().await?;\n\
             Ok(())\n\
         }\n\
         async fn dropped(pool: &PgPool) -> sqlx::Result<()> {\n\
             { let c = pool.acquire().await?; }\n\
             let c = pool.acquire().await?;\n\
             Ok(())\n\
         }\n",
    );
    assert_eq!(leaks_of(&fs, "twice").open_at_acquire.len(), 1);
    assert!(leaks_of(&fs, "dropped").open_at_acquire.is_empty());
}

#[test]
fn a_spawned_tokio_postgres_connection_is_consumed() {
    let src = "use tokio_postgres::NoTls;\n\
         async fn f(url: &str) -> Result<(), tokio_postgres::Error> {\n\
             let (client, connection) = tokio_postgres::connect(url, NoTls).await?;\n\
             SPAWN\n\
             client.simple_query(\"SELECT 1\").await?;\n\
             Ok(())\n\
         }\n";
    let polled = |fs: &[(Function, Outcome)]| {
        let (l, o) = &fs[0];
        o.leaks
            .iter()
            .all(|leak| !l.sites[leak.site].facts.role.must_poll())
    };
    assert!(!polled(&analyse_src(&src.replace("SPAWN", ""))));
    assert!(polled(&analyse_src(
        &src.replace("SPAWN", "tokio::spawn(connection);")
    )));
    assert!(polled(&analyse_src(&src.replace(
        "SPAWN",
        "tokio::spawn(async move { connection.await });"
    ))));
}

#[test]
fn classifies_transaction_statements() {
    assert_eq!(sql_effect("BEGIN"), SqlEffect::Begin);
    assert_eq!(
        sql_effect("  begin transaction isolation level serializable;"),
        SqlEffect::Begin
    );
    assert_eq!(sql_effect("START TRANSACTION"), SqlEffect::Begin);
    assert_eq!(
        sql_effect("BEGIN; INSERT INTO t VALUES (1); COMMIT;"),
        SqlEffect::Other
    );
    assert_eq!(sql_effect("COMMIT"), SqlEffect::End);
    assert_eq!(sql_effect("rollback"), SqlEffect::End);
    assert_eq!(sql_effect("ROLLBACK TO SAVEPOINT a"), SqlEffect::Other);
    assert_eq!(sql_effect("SELECT 1"), SqlEffect::Other);
    assert_eq!(
        sql_effect("DO $$ BEGIN PERFORM 1; END $$"),
        SqlEffect::Other
    );
}
