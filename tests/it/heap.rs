//! Which heap each command runs on: an ingest starts itself again on jemalloc with its
//! settings, queries keep glibc's heap, and `OMSLAKE_HEAP` set by the user is kept. Seen from
//! outside: jemalloc prints its settings at exit when `_RJEM_MALLOC_CONF` asks it to, and an
//! ingest's (pages handed back after a second) differ from jemalloc's defaults (ten).

use crate::common::Env;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn an_ingest_runs_on_jemalloc_with_its_settings_and_queries_do_not() {
    let env = Env::new();
    let input = env.write(
        "s.ndjson",
        br#"{"TimeGenerated":"2024-03-01T10:00:00Z","Type":"UpdateSummary","Computer":"a","TotalUpdatesMissing":2}"#,
    );
    let decay = |args: &[&str], heap: Option<&str>| {
        let mut c = env.command();
        c.args(args).env("_RJEM_MALLOC_CONF", "stats_print:true");
        if let Some(h) = heap {
            c.env("OMSLAKE_HEAP", h);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{args:?}");
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let line = stderr.lines().find(|l| l.contains("opt.dirty_decay_ms"));
        line.expect("jemalloc's settings printed")
            .trim()
            .to_string()
    };
    let path = input.to_str().unwrap();
    assert!(decay(&["ingest", path], None).starts_with("opt.dirty_decay_ms: 1000 "));
    // The user's choice is kept, and the record is still stored once.
    let theirs = decay(&["ingest", path], Some("system"));
    assert!(theirs.starts_with("opt.dirty_decay_ms: 10000 "), "{theirs}");
    assert_eq!(env.count("UpdateSummary"), 1);
    let sql = decay(&["sql", r#"SELECT count(*) FROM "UpdateSummary""#], None);
    assert!(sql.starts_with("opt.dirty_decay_ms: 10000 "), "{sql}");
}
