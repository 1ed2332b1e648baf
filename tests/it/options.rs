//! No option value or search panics: every numeric, duration, size and age option given odd
//! values ends with a clean exit and, when refused, one line on stderr.

use crate::common::Env;

const ODD_VALUES: [&str; 7] = ["-1", "0", "nan", "inf", "1e300", "", "abc"];

fn assert_clean(args: &[&str], r: &crate::common::Run) {
    assert_no_panic(args, r);
    if r.code == 2 {
        assert_eq!(r.stderr.lines().count(), 1, "{args:?}: {}", r.stderr);
    }
}

fn assert_no_panic(args: &[&str], r: &crate::common::Run) {
    assert_ne!(r.code, 101, "{args:?} panicked: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{args:?}: {}", r.stderr);
    assert!(
        !r.stderr.contains("internal error"),
        "{args:?}: {}",
        r.stderr
    );
    assert!(
        (0..=4).contains(&r.code),
        "{args:?} exit {}: {}",
        r.code,
        r.stderr
    );
}

#[test]
fn odd_numeric_option_values_end_cleanly() {
    let env = Env::new();
    let input = env.write(
        "e.ndjson",
        br#"{"Type":"Event","TimeGenerated":"2024-01-02T00:00:00Z","Computer":"a"}
"#,
    );
    let input = input.to_str().unwrap().to_string();
    let out = env.path("gen");
    let out = out.to_str().unwrap().to_string();
    let q = r#"SELECT count(*) FROM "Event""#;
    let commands: Vec<(Vec<&str>, &str)> = vec![
        (vec!["ingest", &input], "--lock-timeout"),
        (vec!["ingest", &input], "--max-errors"),
        (vec!["ingest", &input], "--buffer-mb"),
        (vec!["compact"], "--lock-timeout"),
        (vec!["compact"], "--target-rows"),
        (vec!["retain"], "--lock-timeout"),
        (vec!["retain", "--older-than", "90d"], "--lock-timeout"),
        (vec!["retain"], "--older-than"),
        (vec!["vacuum"], "--lock-timeout"),
        (vec!["vacuum"], "--min-age"),
        (vec!["generate", "--out", &out], "--scale"),
        (vec!["sql", q], "--max-rows"),
        (vec!["sql", q], "--memory-limit"),
        (vec!["search", "Type=Event"], "--max-rows"),
        (vec!["search", "Type=Event"], "--memory-limit"),
    ];
    let mut refused = 0;
    for (command, option) in &commands {
        for value in ODD_VALUES {
            let mut args = command.clone();
            let joined = format!("{option}={value}");
            args.push(&joined);
            let r = env.run(&args);
            assert_clean(&args, &r);
            refused += usize::from(r.code == 2);
        }
    }
    // Most of these values are nonsense for most options: they are refused, not run.
    assert!(refused > commands.len() * 4, "{refused}");
}

#[test]
fn lock_timeout_nonsense_is_refused_at_parse_time() {
    let env = Env::new();
    for value in ["-1", "nan", "inf", "1e300", "abc"] {
        let r = env.run(&["ingest", "missing.json", &format!("--lock-timeout={value}")]);
        assert_eq!(r.code, 2, "{value}: {}", r.stderr);
        assert!(r.stderr.contains("--lock-timeout"), "{}", r.stderr);
        assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    }
}

#[test]
fn date_math_past_the_calendar_is_an_error_not_a_panic() {
    let env = Env::new();
    for search in [
        "Type=Event TimeGenerated>2024-01-02-264167YEARS/WEEK",
        "Type=Event TimeGenerated>NOW-99999999999DAYS",
        "Type=Event TimeGenerated>NOW+99999999YEARS/MONTH",
    ] {
        let r = env.run(&["search", search]);
        // Search errors are the message, the search and a caret under the column.
        assert_no_panic(&[search], &r);
        assert_eq!(r.code, 2, "{search}: {}", r.stderr);
        assert!(r.stderr.contains("out of range"), "{search}: {}", r.stderr);
    }
}

#[test]
fn a_scale_past_the_memory_there_is_is_refused_before_anything_is_written() {
    let available_gib = omslake::store::memory::available().map(|bytes| bytes >> 30);
    // Scale 1000 with --layout mixed needs over 300 GiB; elsewhere than Linux the check is
    // not made.
    if available_gib.is_none_or(|gib| gib >= 200) {
        eprintln!("skipped: no MemAvailable under 200 GiB to check against");
        return;
    }
    let env = Env::new();
    let out = env.path("big");
    let r = env.run(&[
        "generate",
        "--scale",
        "1000",
        "--layout",
        "mixed",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("use --scale"), "{}", r.stderr);
    assert!(!out.exists());
}

/// A generation that cannot finish (here: one of its files cannot be created) says so in one
/// line and leaves none of the files it began.
#[test]
fn a_generation_that_fails_part_way_leaves_no_files_behind() {
    let env = Env::new();
    let out = env.path("gen");
    std::fs::create_dir_all(out.join("Event.ndjson")).unwrap();
    let r = env.run(&[
        "generate",
        "--scale",
        "0.05",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains("writing"), "{}", r.stderr);
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec![std::ffi::OsString::from("Event.ndjson")]);
}
