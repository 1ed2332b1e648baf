//! Nothing lost: bad records go to the rejects file with file, line and reason.

use crate::common::Env;

const MIXED: &str = concat!(
    r#"{"Type":"Event","TimeGenerated":"2024-01-01T00:00:00Z","Computer":"good1"}"#,
    "\n",
    r#"{"Type":"Event","TimeGenerated":"2024-01-01T00:00:00Z","Computer": "#,
    "\n",
    r#"{"Type":"Event","TimeGenerated":"2024-01-01T00:00:00Z","EventID":"not-a-number"}"#,
    "\n",
    "\n",
    r#"{"Type":"Heartbeat","TimeGenerated":"2024-01-01T00:00:00Z"}"#,
    "\n",
    r#"{"Computer":"no type"}"#,
    "\n",
    r#"{"Type":"Event","Computer":"no time"}"#,
    "\n",
    r#"{"Type":"Event","TimeGenerated":"yesterday"}"#,
    "\n",
    r#"{"Type":"Event","TimeGenerated":"2024-01-01T00:00:01Z","Computer":"good2"}"#,
    "\n",
);

#[test]
fn malformed_lines_go_to_rejects_and_exit_3() {
    let env = Env::new();
    let f = env.write("bad.ndjson", MIXED.as_bytes());
    let r = env.ingest(&[&f]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(env.count("Event"), 2);
    assert!(
        r.stderr.contains("bad.ndjson:2: malformed JSON"),
        "{}",
        r.stderr
    );
    let rejects = std::fs::read_to_string(env.store().join("_rejects/1.ndjson")).unwrap();
    let lines: Vec<serde_json::Value> = rejects
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(u64, String)> = lines
        .iter()
        .map(|l| {
            (
                l["line"].as_u64().unwrap(),
                l["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got.iter().map(|g| g.0).collect::<Vec<_>>(),
        vec![2, 3, 5, 6, 7, 8]
    );
    assert!(got[1].1.contains("EventID: expected int"), "{got:?}");
    assert!(got[2].1.contains("unknown table \"Heartbeat\""), "{got:?}");
    assert!(got[3].1.contains("no Type"), "{got:?}");
    assert_eq!(got[4].1, "missing TimeGenerated");
    assert!(got[5].1.contains("expected datetime"), "{got:?}");
    for l in &lines {
        assert!(l["source"].as_str().unwrap().ends_with("bad.ndjson"));
        assert!(!l["raw"].as_str().unwrap().is_empty());
    }
    assert_eq!(lines[1]["column"], "EventID");
    assert_eq!(lines[1]["table"], "Event");
}

#[test]
fn max_errors_aborts_with_nothing_committed() {
    let env = Env::new();
    let f = env.write("bad.ndjson", MIXED.as_bytes());
    let r = env.run(&["ingest", f.to_str().unwrap(), "--max-errors", "0"]);
    assert_eq!(r.code, 4, "{}", r.stderr);
    assert!(r.stderr.contains("nothing was committed"), "{}", r.stderr);
    assert_eq!(env.count("Event"), 0);
    assert!(!env.store().join("_rejects").exists());
    assert_eq!(
        std::fs::read_dir(env.store().join("_log")).unwrap().count(),
        0
    );
    // Within the limit the same file commits.
    let r = env.run(&["ingest", f.to_str().unwrap(), "--max-errors", "6"]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(env.count("Event"), 2);
}

#[test]
fn io_and_usage_errors_exit_2_with_one_line() {
    let env = Env::new();
    let r = env.run(&["ingest", "does-not-exist.json"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("does-not-exist.json"), "{}", r.stderr);
    let f = env.write("a.ndjson", b"{}\n");
    let r = env.run(&["ingest", f.to_str().unwrap(), "--table", "Nope"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown table \"Nope\""), "{}", r.stderr);
    let r = env.run(&["schema", "Updates"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown table"), "{}", r.stderr);
    let r = env.run(&["frobnicate"]);
    assert_eq!(r.code, 2);
    let r = env.run(&["ingest", f.to_str().unwrap(), "--buffer-mb", "0"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--buffer-mb"), "{}", r.stderr);
}

#[test]
fn hostile_values_are_rejected_not_crashed_on() {
    let env = Env::new();
    let deep = format!(
        "{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-01T00:00:00Z\",\"X\":{}{}}}\n",
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let mut input = deep.into_bytes();
    input.extend_from_slice(b"{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-01T00:00:00Z\",\"EventID\":99999999999}\n");
    input.extend_from_slice(b"{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-01T00:00:00Z\",\"Computer\":\"\xff\xfe\"}\n");
    input.extend_from_slice(b"{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-01T00:00:00Z\",\"Computer\":\"a\",\"Computer\":\"b\"}\n");
    let f = env.write("hostile.ndjson", &input);
    let r = env.ingest(&[&f]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(env.count("Event"), 0);
    let rejects = std::fs::read_to_string(env.store().join("_rejects/1.ndjson")).unwrap();
    assert_eq!(rejects.lines().count(), 4);
    for reason in [
        "nested deeper than 128 levels",
        "int out of range",
        "invalid UTF-8",
        "duplicate key",
    ] {
        assert!(rejects.contains(reason), "no reject says {reason:?}");
    }
}
