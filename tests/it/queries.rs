//! `sql`, `tables`, `schema` and `demo` as a user runs them.

use crate::common::{project_data, Env};

fn sample_store() -> Env {
    let env = Env::new();
    let r = env.ingest(&[&project_data().join("exports")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    env
}

fn events(env: &Env) -> std::path::PathBuf {
    let lines: String = (1..=5)
        .flat_map(|d| (0..4).map(move |i| format!("{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-{d:02}T0{i}:00:00Z\",\"Computer\":\"c{i}\",\"EventLevelName\":\"Error\"}}\n")))
        .collect();
    env.write("events.ndjson", lines.as_bytes())
}

#[test]
fn empty_store_has_every_table_with_zero_rows() {
    let env = Env::new();
    for t in omslake::schema::TABLE_NAMES {
        assert_eq!(env.count(t), 0);
    }
    let r = env.run(&["tables"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stdout.lines().count(), 6);
}

#[test]
fn writes_are_refused() {
    let env = Env::new();
    let f = events(&env);
    assert_eq!(env.ingest(&[&f]).code, 0);
    for sql in [
        "COPY (SELECT 1) TO '/tmp/omslake-copy-test.csv'",
        r#"INSERT INTO "Event" ("Computer") VALUES ('x')"#,
        "CREATE EXTERNAL TABLE pw STORED AS CSV LOCATION '/etc/passwd'",
        "CREATE TABLE t AS SELECT 1",
        r#"DROP TABLE "Event""#,
        "SET datafusion.execution.batch_size = 1",
    ] {
        let r = env.run(&["sql", sql]);
        assert_eq!(r.code, 1, "{sql}");
        assert!(r.stderr.contains("read-only"), "{sql}: {}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1);
    }
    assert!(!std::path::Path::new("/tmp/omslake-copy-test.csv").exists());
    // No query reads a file outside the store: no file-reading table functions, no URL tables.
    for sql in [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_parquet('/etc/passwd')",
        "SELECT * FROM read_json('/etc/passwd')",
        "SELECT * FROM '/etc/passwd'",
        "SELECT * FROM \"/etc/passwd\"",
    ] {
        let r = env.run(&["sql", sql]);
        assert_eq!(r.code, 1, "{sql}");
        assert!(
            !r.stdout.contains("root"),
            "{sql} read a file outside the store"
        );
    }
    assert_eq!(env.count("Event"), 20);
}

#[test]
fn time_filters_prune_day_partitions() {
    let env = Env::new();
    let f = events(&env);
    assert_eq!(env.ingest(&[&f]).code, 0);
    let plan = |sql: &str| {
        // Scan the rows (a bare count(*) may be answered from statistics without a scan).
        let scan = sql.replace("count(*)", "\"Computer\"");
        let r = env.run(&["sql", &format!("EXPLAIN {scan}"), "--format", "csv"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout.matches(".parquet").count()
    };
    assert_eq!(plan(r#"SELECT count(*) FROM "Event""#), 5);
    let one_day = r#"SELECT count(*) FROM "Event" WHERE "TimeGenerated" >= '2024-01-02T00:00:00Z' AND "TimeGenerated" < '2024-01-03T00:00:00Z'"#;
    assert_eq!(plan(one_day), 1);
    assert_eq!(env.csv(one_day), vec!["4"]);
    let after =
        r#"SELECT count(*) FROM "Event" WHERE "TimeGenerated" > TIMESTAMP '2024-01-04 00:00:00'"#;
    assert_eq!(plan(after), 2);
    assert_eq!(env.csv(after), vec!["7"]);
    let between = r#"SELECT count(*) FROM "Event" WHERE "TimeGenerated" BETWEEN '2024-01-01T03:00:00Z' AND '2024-01-02T00:00:00Z'"#;
    assert_eq!(plan(between), 2);
    assert_eq!(env.csv(between), vec!["2"]);
    let none = r#"SELECT count(*) FROM "Event" WHERE "TimeGenerated" < '2023-01-01'"#;
    assert_eq!(plan(none), 0);
    assert_eq!(env.csv(none), vec!["0"]);
}

#[test]
fn output_formats() {
    let env = Env::new();
    let f = events(&env);
    assert_eq!(env.ingest(&[&f]).code, 0);
    let q = r#"SELECT "Computer", "TimeGenerated", "Message" FROM "Event" ORDER BY "TimeGenerated" LIMIT 2"#;
    let r = env.run(&["sql", q, "--format", "ndjson"]);
    assert_eq!(
        r.stdout,
        "{\"Computer\":\"c0\",\"TimeGenerated\":\"2024-01-01T00:00:00Z\",\"Message\":null}\n{\"Computer\":\"c1\",\"TimeGenerated\":\"2024-01-01T01:00:00Z\",\"Message\":null}\n"
    );
    let r = env.run(&["sql", q, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    let r = env.run(&["sql", q, "--format", "tsv"]);
    assert_eq!(
        r.stdout.lines().next().unwrap(),
        "Computer\tTimeGenerated\tMessage"
    );
    assert_eq!(
        r.stdout.lines().nth(1).unwrap(),
        "c0\t2024-01-01T00:00:00Z\t"
    );
    let r = env.run(&["sql", "SELECT 1 AS x WHERE false", "--format", "json"]);
    assert_eq!(r.stdout.trim(), "[]");
    // A pipe is not a terminal: the table format shows every row, whatever --max-rows says.
    let r = env.run(&["sql", r#"SELECT * FROM "Event""#, "--max-rows", "3"]);
    assert!(r.stdout.ends_with("20 rows\n"), "{}", r.stdout);
    assert!(!r.stdout.contains("not shown"), "{}", r.stdout);
    let out = env.path("out.parquet");
    let r = env.run(&[
        "sql",
        r#"SELECT * FROM "Event""#,
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&out).unwrap())
            .unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows(), 20);
    // Queries read strings as views; the exported file names plain strings, as before.
    let exported = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&out).unwrap(),
    )
    .unwrap();
    assert_eq!(
        exported
            .schema()
            .field_with_name("Computer")
            .unwrap()
            .data_type(),
        &arrow::datatypes::DataType::Utf8
    );
    let csv = env.path("out.csv");
    let r = env.run(&[
        "sql",
        r#"SELECT "Computer" FROM "Event""#,
        "--format",
        "csv",
        "--output",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 0);
    assert_eq!(std::fs::read_to_string(csv).unwrap().lines().count(), 21);
}

/// `lower(x) = 'text'` in a filter runs as one fused comparison; it must count exactly the
/// rows that lower-casing then comparing (as a projection still does) selects.
#[test]
fn case_insensitive_filters_agree_with_lower_then_equal() {
    let env = Env::new();
    let computers = [
        "c0",
        "C0",
        "\\u212AB1",
        "kb1",
        "KB1",
        "Ångström",
        "ÅNGSTRÖM",
        "SRV0001.Contoso.COM",
        "srv0001.contoso.com",
        "SRV0001.contoso.co",
    ];
    let mut lines: String = computers
        .iter()
        .enumerate()
        .map(|(i, c)| format!("{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-01T00:00:{i:02}Z\",\"Computer\":\"{c}\"}}\n"))
        .collect();
    lines.push_str("{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-01T00:01:00Z\"}\n");
    let f = env.write("mixed.ndjson", lines.as_bytes());
    assert_eq!(env.ingest(&[&f]).code, 0);
    for (text, want) in [
        ("c0", 2),
        ("C0", 0),
        ("kb1", 3),
        ("ångström", 2),
        ("srv0001.contoso.com", 2),
        ("srv0001.contoso.co", 1),
        ("", 0),
    ] {
        for (cmp, expect) in [("=", want), ("<>", 10 - want)] {
            let filter =
                format!(r#"SELECT count(*) FROM "Event" WHERE lower("Computer") {cmp} '{text}'"#);
            let projected = format!(
                r#"SELECT sum(CASE WHEN lower("Computer") {cmp} '{text}' THEN 1 ELSE 0 END) FROM "Event""#
            );
            assert_eq!(env.csv(&filter), vec![expect.to_string()], "{filter}");
            assert_eq!(env.csv(&projected), vec![expect.to_string()], "{projected}");
        }
    }
    let plan = env.run(&[
        "sql",
        r#"EXPLAIN SELECT count(*) FROM "Event" WHERE 'c0' = lower("Computer")"#,
    ]);
    assert!(plan.stdout.contains("lower_equals"), "{}", plan.stdout);
}

/// `countdistinct(f) by g` (and `count(DISTINCT f) … GROUP BY`) runs as
/// `count_distinct_strings`; it must give what counting the distinct pairs gives.
#[test]
fn grouped_distinct_counts_agree_with_counting_distinct_pairs() {
    let env = sample_store();
    let pairs = |table: &str, group: &str, value: &str| {
        env.csv(&format!(
            r#"SELECT "{group}", count("{value}") FROM (SELECT DISTINCT "{group}", "{value}" FROM "{table}") GROUP BY 1 ORDER BY 1 NULLS LAST"#
        ))
    };
    for (table, group, value) in [
        ("Update", "Classification", "Computer"),
        ("Update", "Computer", "KBID"),
        ("OfficeActivity", "Operation", "UserId"),
        ("Event", "EventLevelName", "Computer"),
    ] {
        let sql = format!(
            r#"SELECT "{group}", count(DISTINCT "{value}") FROM "{table}" GROUP BY 1 ORDER BY 1 NULLS LAST"#
        );
        let want = pairs(table, group, value);
        assert!(want.len() > 1, "{table}.{group}: {want:?}");
        assert_eq!(env.csv(&sql), want, "{sql}");
        let plan = env.run(&["sql", &format!("EXPLAIN {sql}")]);
        assert!(
            plan.stdout.contains("count_distinct_strings"),
            "{}",
            plan.stdout
        );
    }
    let search = env.run(&[
        "search",
        "Type=Update | measure countdistinct(Computer) by Classification",
        "--format",
        "csv",
    ]);
    assert_eq!(search.code, 0, "{}", search.stderr);
    let mut rows: Vec<String> = search.stdout.lines().skip(1).map(String::from).collect();
    rows.sort();
    let mut want = pairs("Update", "Classification", "Computer");
    want.sort();
    assert_eq!(rows, want);
}

#[test]
fn tables_and_schema_describe_the_store() {
    let env = sample_store();
    let r = env.run(&["tables"]);
    assert_eq!(r.code, 0);
    let update = r.stdout.lines().find(|l| l.starts_with("Update ")).unwrap();
    let rows: u64 = update.split_whitespace().nth(1).unwrap().parse().unwrap();
    assert_eq!(rows, env.count("Update"));
    assert!(update.contains("2024-03-"), "{update}");
    let r = env.run(&["schema", "Update"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("UpdateID"));
    assert!(
        r.stdout.lines().any(|l| l.starts_with("PublishedDate")
            && l.contains("datetime")
            && l.contains("Timestamp(µs, \"UTC\")")
            || l.starts_with("PublishedDate") && l.contains("Timestamp(Microsecond")),
        "{}",
        r.stdout
    );
}

#[test]
fn demo_answers_every_documented_search() {
    let env = Env::new();
    let r = env.run(&["demo"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let searches = std::fs::read_to_string(project_data().join("searches.txt")).unwrap();
    assert_eq!(searches.lines().count(), 21);
    for (i, s) in searches.lines().enumerate() {
        assert!(
            r.stdout.contains(&format!("## {}. {s}", i + 1)),
            "search {} missing",
            i + 1
        );
    }
    assert_eq!(r.stdout.matches("\nSQL: ").count(), 21);
    // Every search has an answer on the sample data (none is an empty table).
    assert!(!r.stdout.contains("\n0 rows"), "{}", r.stdout);
}

#[test]
fn memory_limit_spills_sorts_and_stops_what_cannot_fit_with_one_line() {
    let env = sample_store();
    let sql = r#"SELECT * FROM "OfficeActivity" ORDER BY "Operation", "TimeGenerated", "OfficeId""#;
    let roomy = env.run(&["sql", sql, "--format", "csv"]);
    assert_eq!(roomy.code, 0, "{}", roomy.stderr);
    // 1 MB is far less than the sort holds: it spills to temporary files, same answer.
    let tight = env.run(&["sql", sql, "--format", "csv", "--memory-limit", "1MB"]);
    assert_eq!(tight.code, 0, "{}", tight.stderr);
    assert_eq!(tight.stdout, roomy.stdout);
    // Too small even to merge the spill files: an error that says what to do, no partial output.
    let r = env.run(&["sql", sql, "--format", "csv", "--memory-limit", "64KB"]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("limit of 64.0 KB (--memory-limit)"),
        "{}",
        r.stderr
    );
    let r = env.run(&["search", "Type=Update", "--memory-limit", "lots"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--memory-limit"), "{}", r.stderr);
}

#[test]
fn in_subsearch_read_as_a_join_returns_the_rows_in_returns() {
    let env = Env::new();
    let events = events(&env);
    // Update keys: a case variant of c0, c2 twice (keys must not repeat rows), no Computer.
    let updates = env.write(
        "updates.ndjson",
        br#"{"Type":"Update","TimeGenerated":"2024-01-01T00:00:00Z","Computer":"C0","KBID":"1"}
{"Type":"Update","TimeGenerated":"2024-01-01T00:00:01Z","Computer":"c2","KBID":"2"}
{"Type":"Update","TimeGenerated":"2024-01-01T00:00:02Z","Computer":"c2","KBID":"3"}
{"Type":"Update","TimeGenerated":"2024-01-01T00:00:03Z","KBID":"4"}
{"Type":"Event","TimeGenerated":"2024-01-02T05:00:00Z","EventLevelName":"Error"}
"#,
    );
    assert_eq!(env.ingest(&[&events, &updates]).code, 0);
    let search = "Type=Event Computer IN {Type=Update | Distinct Computer}";
    let sql = env.run(&["translate", search]);
    assert!(sql.stdout.contains(" JOIN \"Event\""), "{}", sql.stdout);
    let r = env.run(&["search", search, "--format", "csv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut got: Vec<String> = r.stdout.lines().skip(1).map(str::to_string).collect();
    let mut expected = env.csv(
        "SELECT * FROM \"Event\" WHERE lower(\"Computer\") IN \
         (SELECT lower(\"Computer\") FROM \"Update\" WHERE \"Computer\" IS NOT NULL)",
    );
    got.sort();
    expected.sort();
    assert_eq!(got.len(), 10, "c0 and c2 on five days each");
    assert_eq!(got, expected);
    // The header is the table's own columns: the join's key column stays out.
    let header = r.stdout.lines().next().unwrap();
    assert!(!header.contains("_key"), "{header}");
    let all = env.run(&["sql", "SELECT * FROM \"Event\" LIMIT 0", "--format", "csv"]);
    assert_eq!(header, all.stdout.lines().next().unwrap());
}

/// `--output FILE` writes every row in the format its extension names; `--format` overrides it;
/// an extension that names no format is an error, not a table.
#[test]
fn output_files_take_their_format_from_the_extension_and_keep_every_row() {
    let env = Env::new();
    assert_eq!(env.ingest(&[&events(&env)]).code, 0);
    let q = r#"SELECT "Computer" FROM "Event" ORDER BY "TimeGenerated""#;
    let file = |name: &str, extra: &[&str]| {
        let path = env.path(name);
        let mut args = vec![
            "sql",
            q,
            "--max-rows",
            "3",
            "--output",
            path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let r = env.run(&args);
        (r, path)
    };
    let (r, p) = file("all.csv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(p).unwrap();
    assert_eq!(text.lines().count(), 21, "{text}");
    assert_eq!(text.lines().next(), Some("Computer"));
    let (r, p) = file("all.tsv", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(p).unwrap().lines().count(), 21);
    for name in ["all.ndjson", "all.jsonl"] {
        let (r, p) = file(name, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let text = std::fs::read_to_string(p).unwrap();
        assert_eq!(text.lines().count(), 20, "{text}");
        for line in text.lines() {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }
    let (r, p) = file("all.json", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 20);
    let (r, p) = file("all.parquet", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let reader =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&p).unwrap()).unwrap();
    use parquet::file::reader::FileReader;
    assert_eq!(reader.metadata().file_metadata().num_rows(), 20);
    // The table format in a file is not truncated either.
    let (r, p) = file("all.txt", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let text = std::fs::read_to_string(p).unwrap();
    assert!(
        text.ends_with("20 rows\n") && !text.contains("not shown"),
        "{text}"
    );
    // --format wins over the extension.
    let (r, p) = file("rows.csv", &["--format", "ndjson"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(std::fs::read_to_string(p)
        .unwrap()
        .starts_with("{\"Computer\""));
    // An unknown extension without --format is refused, and nothing is written.
    let (r, p) = file("rows.xlsx", &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("rows.xlsx") && r.stderr.contains("--format"),
        "{}",
        r.stderr
    );
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(!p.exists());
    let (r, p) = file("rows.xlsx", &["--format", "csv"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(p).unwrap().lines().count(), 21);
    let r = env.run(&["sql", q, "--format", "parquet"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
