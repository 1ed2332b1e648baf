//! Help that teaches: examples under every command's --help, shell completions, versions,
//! "did you mean" for commands, tables and columns, and a word when --store names no store.

use crate::common::{project_data, Env};

const COMMANDS: [&str; 17] = [
    "ingest",
    "tables",
    "schema",
    "sql",
    "search",
    "translate",
    "generate",
    "compact",
    "retain",
    "vacuum",
    "verify",
    "history",
    "upgrade",
    "completions",
    "serve",
    "demo",
    "help",
];

#[test]
fn every_command_help_ends_with_examples() {
    let env = Env::new();
    for c in COMMANDS
        .iter()
        .filter(|c| !matches!(**c, "help" | "upgrade"))
    {
        let r = env.run(&[c, "--help"]);
        assert_eq!(r.code, 0, "{c}: {}", r.stderr);
        let tail: String = r
            .stdout
            .lines()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            tail.contains("omslake"),
            "{c}: the help does not end with examples:\n{}",
            r.stdout
        );
        assert!(r.stdout.contains("Example"), "{c}");
    }
}

#[test]
fn completions_version_and_suggestions() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = env.run(&["completions", shell]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(
            r.stdout.contains("ingest") && r.stdout.contains("store"),
            "{shell}"
        );
    }
    let r = env.run(&["--version"]);
    assert!(
        r.stdout.contains("DataFusion 55")
            && r.stdout.contains("Parquet")
            && r.stdout.contains("store format"),
        "{}",
        r.stdout
    );
    let r = env.run(&["ingset", "x"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("'ingest'"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let r = env.run(&["schema", "UpdateSumary"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("did you mean UpdateSummary"),
        "{}",
        r.stderr
    );
    // A mistyped --store: the answer is empty, and says why, once.
    let elsewhere = |args: &[&str]| {
        let out = std::process::Command::new(crate::common::bin())
            .arg("--store")
            .arg(env.path("no-such-store"))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = elsewhere(&["sql", "SELECT count(*) FROM \"Event\""]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr.matches("no store at").count(), 1, "{stderr}");
    assert!(stderr.contains("every table is empty"), "{stderr}");
    let (_, stderr) = elsewhere(&["tables"]);
    assert_eq!(stderr.matches("no store at").count(), 1, "{stderr}");
    assert!(
        !env.path("no-such-store").exists(),
        "a read created the folder"
    );
    // SQL: the table or column meant.
    assert_eq!(env.ingest(&[&project_data().join("exports")]).code, 0);
    let r = env.run(&["sql", "SELECT count(*) FROM Update"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("did you mean \"Update\"?"),
        "{}",
        r.stderr
    );
    let r = env.run(&["sql", "SELECT \"Classificaton\" FROM \"Update\""]);
    assert!(r.stderr.contains("Classification"), "{}", r.stderr);
    let r = env.run(&["sql", "SELECT count(*) FROM \"Update\""]);
    assert!(!r.stderr.contains("no store"), "{}", r.stderr);
}
