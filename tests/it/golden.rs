//! Golden translations: every search of tests/golden/searches.txt must become exactly the SQL
//! (or the error) recorded under it. `UPDATE_GOLDEN=1` rewrites the file for review.

use std::fmt::Write;
use std::path::Path;

use omslake::search::dialect::Dialect;
use omslake::search::{translate, Options};

const NOW: &str = "2024-03-15T12:00:00Z";

fn render(search: &str, strict: bool, dialect: Dialect) -> String {
    let options = Options {
        now_micros: omslake::time::parse_datetime(NOW).unwrap(),
        case_sensitive: false,
        dialect,
    };
    match translate(search, &options, strict) {
        Ok(t) => {
            let mut out = format!("sql: {}\n", t.sql);
            for w in t.warnings {
                writeln!(out, "warning: {w}").unwrap();
            }
            out
        }
        Err(e) => format!("error: {}\n", e.to_string().lines().next().unwrap()),
    }
}

#[test]
fn golden_translations() {
    // DataFusion plans recursively; give it the stack the CLI gives it.
    std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(check)
        .unwrap()
        .join()
        .unwrap();
}

fn check() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/searches.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut rebuilt = String::new();
    let mut failures = Vec::new();
    let mut cases = 0;
    let mut title = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        // `search[spark]: …` and `search[duckdb]: …` are translated for that engine.
        let (dialect, rest) = match line {
            l if l.starts_with("search[spark]: ") => {
                (Dialect::Spark, &l["search[spark]: ".len()..])
            }
            l if l.starts_with("search[duckdb]: ") => {
                (Dialect::Duckdb, &l["search[duckdb]: ".len()..])
            }
            l if l.starts_with("search: ") => (Dialect::Datafusion, &l["search: ".len()..]),
            _ => (Dialect::Datafusion, ""),
        };
        if !rest.is_empty() || line == "search: " {
            let search = rest;
            cases += 1;
            let mut expected = String::new();
            while let Some(l) = lines.peek() {
                if l.starts_with("sql: ")
                    || l.starts_with("sql-other: ")
                    || l.starts_with("warning: ")
                    || l.starts_with("error: ")
                {
                    expected.push_str(l);
                    expected.push('\n');
                    lines.next();
                } else {
                    break;
                }
            }
            let got = render(search, title.contains("(strict)"), dialect);
            let got = match dialect {
                // Only DataFusion's SQL runs below: mark the others so it skips them.
                Dialect::Datafusion => got,
                _ => got.replacen("sql: ", "sql-other: ", 1),
            };
            if got != expected {
                failures.push(format!(
                    "{title}\n  search: {search}\n  expected:\n{expected}  got:\n{got}"
                ));
            }
            writeln!(rebuilt, "{line}").unwrap();
            rebuilt.push_str(&got);
        } else {
            if line.starts_with("# ") {
                title = line.to_string();
            }
            writeln!(rebuilt, "{line}").unwrap();
        }
    }
    assert!(cases >= 100, "the golden file has only {cases} cases");
    // Every translation must also run: plan and execute it over the sample data.
    let env = crate::common::Env::new();
    assert_eq!(
        env.ingest(&[&crate::common::project_data().join("exports")])
            .code,
        0
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(64 << 20)
        .build()
        .unwrap();
    let engine = omslake::query::Engine::open(&omslake::store::Store::open(env.store())).unwrap();
    let mut not_running = Vec::new();
    for line in rebuilt.lines() {
        if let Some(sql) = line.strip_prefix("sql: ") {
            let result = runtime.block_on(async {
                let df = engine.sql(sql).await?;
                df.collect().await.map_err(omslake::query::QueryError::from)
            });
            if let Err(e) = result {
                not_running.push(format!("SQL does not run: {e}\n  {sql}"));
            }
        }
    }
    // Rewriting the file accepts new translations, never SQL that fails to run.
    assert!(
        not_running.is_empty(),
        "{} golden translations do not run:\n{}",
        not_running.len(),
        not_running.join("\n")
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, rebuilt).unwrap();
        return;
    }
    assert!(
        failures.is_empty(),
        "{} of {cases} golden translations differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
