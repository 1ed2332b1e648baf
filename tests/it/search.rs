//! `omslake search` and `translate` as a user runs them, against the sample data.

use crate::common::{project_data, Env, Run};

fn sample() -> Env {
    let env = Env::new();
    assert_eq!(env.ingest(&[&project_data().join("exports")]).code, 0);
    env
}

fn sorted_csv(r: &Run) -> (String, Vec<String>) {
    let mut lines = r.stdout.lines().map(str::to_string);
    let header = lines.next().unwrap_or_default();
    let mut rows: Vec<String> = lines.collect();
    rows.sort();
    (header, rows)
}

#[test]
fn every_seed_search_returns_the_rows_of_independent_sql() {
    let env = sample();
    let searches = std::fs::read_to_string(project_data().join("searches.txt")).unwrap();
    let expected =
        std::fs::read_to_string(project_data().join("../tests/golden/seed-expected.sql")).unwrap();
    let expected: Vec<&str> = expected.lines().filter(|l| !l.starts_with("--")).collect();
    let searches: Vec<&str> = searches.lines().collect();
    assert_eq!(searches.len(), 21);
    assert_eq!(expected.len(), 21);
    for (i, (search, sql)) in searches.iter().zip(&expected).enumerate() {
        let got = env.run(&["search", search, "--format", "csv"]);
        assert_eq!(got.code, 0, "seed {}: {}", i + 1, got.stderr);
        let want = env.run(&["sql", sql, "--format", "csv"]);
        assert_eq!(
            want.code,
            0,
            "seed {} reference SQL: {}",
            i + 1,
            want.stderr
        );
        let (gh, gr) = sorted_csv(&got);
        let (wh, wr) = sorted_csv(&want);
        assert_eq!(gh, wh, "seed {}: columns differ", i + 1);
        assert_eq!(gr, wr, "seed {}: rows differ", i + 1);
        assert!(
            !gr.is_empty(),
            "seed {} returns nothing on the sample data",
            i + 1
        );
        // Measure and Distinct results come in the documented order, not just the same set.
        if search.contains("measure") || search.contains("Distinct") {
            assert_eq!(got.stdout, want.stdout, "seed {}: order differs", i + 1);
        }
    }
}

#[test]
fn translate_output_run_through_sql_gives_the_search_rows() {
    let env = sample();
    let search = "Type=Update Computer=SRV00* UpdateState=Needed | measure count() by Computer";
    let t = env.run(&["translate", search]);
    assert_eq!(t.code, 0, "{}", t.stderr);
    let via_sql = env.run(&["sql", t.stdout.trim(), "--format", "ndjson"]);
    let via_search = env.run(&["search", search, "--format", "ndjson", "--show-sql"]);
    assert_eq!(via_search.code, 0, "{}", via_search.stderr);
    assert_eq!(via_search.stdout, via_sql.stdout);
    assert!(!via_search.stdout.is_empty());
    assert_eq!(
        via_search.stderr.trim(),
        t.stdout.trim(),
        "--show-sql prints the SQL on stderr"
    );
}

#[test]
fn repairs_are_announced_and_strict_refuses_them() {
    let env = sample();
    let s = "Type=Update and OSType=Linux and OSName = Ubuntu &| measure count() by Computer";
    let r = env.run(&["search", s]);
    assert_eq!(r.code, 0);
    assert!(
        r.stderr
            .contains("warning: repaired the search: dropped a dangling '&'"),
        "{}",
        r.stderr
    );
    let r = env.run(&["search", s, "--strict"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--strict"), "{}", r.stderr);
}

#[test]
fn errors_quote_the_search_and_point_at_the_problem() {
    let env = Env::new();
    let cases = [
        (
            "Type=Event Computer=\"SRV0001",
            "unterminated quoted string",
            21,
        ),
        (
            "Type=Update Compter=x",
            "unknown field 'Compter' in Update; did you mean Computer?",
            13,
        ),
        (
            "Type=UpdateSummary | Extend frob(TotalUpdatesMissing) AS X",
            "unknown or unsupported function 'frob'",
            29,
        ),
        (
            "Type=Event | measure count() by",
            "'by' needs at least one field",
            32,
        ),
        ("Type=Event Computer IN {}", "empty {}", 24),
        ("Type=Event Computer=x OR", "dangling OR", 23),
    ];
    for (search, message, column) in cases {
        let r = env.run(&["translate", search]);
        assert_eq!(r.code, 2, "{search}");
        let lines: Vec<&str> = r.stderr.lines().collect();
        assert_eq!(lines.len(), 3, "{search}: {}", r.stderr);
        assert!(
            lines[0].contains(message) && lines[0].ends_with(&format!("at column {column}")),
            "{search}: {}",
            lines[0]
        );
        assert_eq!(lines[1], format!("  {search}"));
        assert_eq!(lines[2], format!("  {}^", " ".repeat(column - 1)));
    }
}

#[test]
fn semantics_on_data_case_nulls_unicode_and_hostile_values() {
    let env = Env::new();
    let lines = concat!(
        r#"{"Type":"Event","TimeGenerated":"2024-03-10T00:00:00Z","Computer":"a","EventLevelName":"Error","UserName":"ZOË","Source":"x"}"#,
        "\n",
        r#"{"Type":"Event","TimeGenerated":"2024-03-11T00:00:00Z","Computer":"b","EventLevelName":"Warning","UserName":"O'Brien'; DROP TABLE \"Event\"; --"}"#,
        "\n",
        r#"{"Type":"Event","TimeGenerated":"2024-03-14T00:00:00Z","Computer":"c","UserName":"50%_off"}"#,
        "\n",
        r#"{"Type":"Event","TimeGenerated":"2024-03-14T12:00:00Z","Computer":"d","UserName":"500 off"}"#,
        "\n",
    );
    let f = env.write("e.ndjson", lines.as_bytes());
    assert_eq!(env.ingest(&[&f]).code, 0);
    let computers = |search: &str| -> Vec<String> {
        let r = env
            .command()
            .args(["search", search, "--format", "csv"])
            .env("OMSLAKE_NOW", "2024-03-15T00:00:00Z")
            .output()
            .unwrap();
        assert!(
            r.status.success(),
            "{search}: {}",
            String::from_utf8_lossy(&r.stderr)
        );
        let mut v: Vec<String> = String::from_utf8(r.stdout)
            .unwrap()
            .lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    // Case-insensitive equality, unicode folding; != and NOT include nulls.
    assert_eq!(
        computers("Type=Event EventLevelName=ERROR | select Computer"),
        ["a"]
    );
    assert_eq!(
        computers("Type=Event UserName=zoë | select Computer"),
        ["a"]
    );
    assert_eq!(
        computers("Type=Event EventLevelName!=error | select Computer"),
        ["b", "c", "d"]
    );
    assert_eq!(
        computers("Type=Event NOT EventLevelName=warning | select Computer"),
        ["a", "c", "d"]
    );
    assert_eq!(
        computers("Type=Event Source!=x | select Computer"),
        ["b", "c", "d"]
    );
    assert_eq!(
        computers("Type=Event EventLevelName IN {error, WARNING} | select Computer"),
        ["a", "b"]
    );
    assert_eq!(
        computers("Type=Event EventLevelName NOT IN {error} | select Computer"),
        ["b", "c", "d"]
    );
    // Precedence: (Error OR Warning) AND Computer=b.
    assert_eq!(computers("Type=Event EventLevelName=Error OR EventLevelName=Warning Computer=b | select Computer"), ["b"]);
    // Wildcards: % and _ are literal characters.
    assert_eq!(
        computers("Type=Event UserName=50%_* | select Computer"),
        ["c"]
    );
    // A hostile value is a literal: it matches its record and the table survives.
    assert_eq!(
        computers(
            "Type=Event UserName=\"O'Brien'; DROP TABLE \\\"Event\\\"; --\" | select Computer"
        ),
        ["b"]
    );
    assert_eq!(env.count("Event"), 4);
    // Date math with a fixed NOW.
    assert_eq!(
        computers("Type=Event TimeGenerated>NOW-2DAYS | select Computer"),
        ["c", "d"]
    );
    assert_eq!(
        computers(
            "Type=Event TimeGenerated>=NOW-1DAY/DAY TimeGenerated<NOW-12HOURS | select Computer"
        ),
        ["c"]
    );
    // Case-sensitive mode.
    let r = env
        .command()
        .args([
            "search",
            "Type=Event EventLevelName=error",
            "--case-sensitive",
            "--format",
            "csv",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(r.stdout).unwrap().lines().count(), 1);
}

/// `ms`, `scale` and calendar intervals of several months or years (reference §6.5, §6.9),
/// against results computed by hand over a small store.
#[test]
fn ms_scale_and_month_intervals_give_hand_computed_results() {
    let env = Env::new();
    let records = r#"{"Type":"UpdateRunProgress","TimeGenerated":"2024-01-01T00:00:00Z","Computer":"c1","StartTime":"2024-01-01T00:00:00Z","EndTime":"2024-01-01T00:01:30.250Z"}
{"Type":"UpdateRunProgress","TimeGenerated":"2024-01-01T01:00:00Z","Computer":"c2","StartTime":"2024-01-01T10:00:00.000999Z","EndTime":"2024-01-01T10:00:01Z"}
{"Type":"UpdateRunProgress","TimeGenerated":"2024-01-01T02:00:00Z","Computer":"c3","StartTime":"2024-01-01T10:00:00Z"}
{"Type":"UpdateSummary","TimeGenerated":"2024-01-01T00:00:00Z","Computer":"a","TotalUpdatesMissing":10}
{"Type":"UpdateSummary","TimeGenerated":"2024-01-01T00:00:00Z","Computer":"b","TotalUpdatesMissing":20}
{"Type":"UpdateSummary","TimeGenerated":"2024-01-01T00:00:00Z","Computer":"c","TotalUpdatesMissing":50}
{"Type":"UpdateSummary","TimeGenerated":"2024-01-01T00:00:00Z","Computer":"d"}
{"Type":"Update","TimeGenerated":"2024-03-01T00:00:00Z","Computer":"u1","PublishedDate":"2023-01-15T00:00:00Z"}
{"Type":"Update","TimeGenerated":"2024-03-01T00:00:00Z","Computer":"u2","PublishedDate":"2023-03-31T23:59:59Z"}
{"Type":"Update","TimeGenerated":"2024-03-01T00:00:00Z","Computer":"u3","PublishedDate":"2023-04-01T00:00:00Z"}
{"Type":"Update","TimeGenerated":"2024-03-01T00:00:00Z","Computer":"u4","PublishedDate":"2023-12-31T12:00:00Z"}
{"Type":"Update","TimeGenerated":"2024-03-01T00:00:00Z","Computer":"u5","PublishedDate":"2024-02-29T00:00:00Z"}
"#;
    let f = env.write("small.ndjson", records.as_bytes());
    assert_eq!(env.ingest(&[&f]).code, 0);
    let csv = |search: &str| {
        let r = env.run(&["search", search, "--format", "csv"]);
        assert_eq!(r.code, 0, "{search}: {}", r.stderr);
        r.stdout.lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(
        csv("Type=UpdateRunProgress | Extend ms(EndTime, StartTime) as durationMs | select Computer, durationMs | sort Computer asc"),
        ["Computer,durationMs", "c1,90250", "c2,1000", "c3,"]
    );
    // 2024-01-01T00:00:00Z is 1704067200000 ms after the epoch.
    assert_eq!(
        csv(
            "Type=UpdateRunProgress Computer=c1 | Extend ms(StartTime) as startMs | select startMs"
        ),
        ["startMs", "1704067200000"]
    );
    let r = env
        .command()
        .env("OMSLAKE_NOW", "2024-01-02T00:00:00Z")
        .args(["search", "Type=UpdateRunProgress Computer=c1 | Extend ms(NOW-1DAY) as a | Extend ms() as b | select a, b", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&r.stdout),
        "a,b\n1704067200000,1704153600000\n"
    );
    assert_eq!(
        csv("Type=UpdateSummary | Extend scale(TotalUpdatesMissing, 0, 100) as scaled | select Computer, scaled | sort Computer asc"),
        ["Computer,scaled", "a,0.0", "b,25.0", "c,100.0", "d,"]
    );
    assert_eq!(
        csv("Type=Update | measure count() by PublishedDate interval 3MONTHS"),
        [
            "PublishedDate,AggregatedValue",
            "2024-01-01T00:00:00Z,1",
            "2023-10-01T00:00:00Z,1",
            "2023-04-01T00:00:00Z,1",
            "2023-01-01T00:00:00Z,2",
        ]
    );
    assert_eq!(
        csv("Type=Update | measure count() by PublishedDate interval 2YEARS"),
        [
            "PublishedDate,AggregatedValue",
            "2024-01-01T00:00:00Z,1",
            "2022-01-01T00:00:00Z,4",
        ]
    );
    let r = env.run(&["search", "Type=Update | measure avg(Computer)"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("avg(Computer) needs a numeric field, but Computer is a string"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("Internal error"), "{}", r.stderr);
}
