//! The progress bar: drawn on a terminal (a pseudo-terminal from `script`), ended cleanly, and
//! absent when stderr is not a terminal or with --quiet.

use crate::common::Env;

fn big_input(env: &Env) -> std::path::PathBuf {
    let lines: String = (0..200_000)
        .map(|i| format!("{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-0{}T00:00:00Z\",\"Computer\":\"c{i}\",\"RenderedDescription\":\"{}\"}}\n", 1 + i % 5, "d".repeat(i % 200)))
        .collect();
    env.write("big.ndjson", lines.as_bytes())
}

/// Run `args` under a pseudo-terminal; everything it wrote, or None without `script`.
fn on_a_terminal(env: &Env, args: &[&str]) -> Option<String> {
    let have = std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok();
    if !have {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs `script` (util-linux)"
        );
        eprintln!("skipping the terminal test: no `script` command");
        return None;
    }
    let quote = |a: &str| format!("'{}'", a.replace('\'', "'\\''"));
    let mut command = format!(
        "{} --store {}",
        quote(crate::common::bin()),
        quote(env.store().to_str().unwrap())
    );
    for a in args {
        command.push(' ');
        command.push_str(&quote(a));
    }
    let log = env.path("typescript");
    let out = std::process::Command::new("script")
        .args(["-qec", &command])
        .arg(&log)
        .env("COLUMNS", "120")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Some(String::from_utf8_lossy(&std::fs::read(&log).unwrap()).into_owned())
}

#[test]
fn ingest_shows_a_bar_on_a_terminal_only() {
    let env = Env::new();
    let input = big_input(&env);
    let Some(screen) = on_a_terminal(&env, &["ingest", input.to_str().unwrap()]) else {
        return;
    };
    assert!(screen.contains("ingest ["), "no bar: {screen}");
    assert!(
        screen.contains("rec (") && screen.contains("rejected"),
        "{screen}"
    );
    // The bar is cleared before the summary, which ends the output as without a terminal.
    let summary = screen.rsplit("\u{1b}[2K").next().unwrap();
    assert!(!summary.contains("ingest ["), "{summary}");
    assert!(screen.contains("committed version 1"), "{screen}");
    // Not a terminal: the same summary, no bar.
    let plain = Env::new();
    let r = plain.ingest(&[&input]);
    assert_eq!(r.code, 0);
    assert!(
        !r.stderr.contains("ingest [") && !r.stderr.contains('\u{1b}'),
        "{}",
        r.stderr
    );
    // --quiet: no bar on a terminal either.
    let quiet = Env::new();
    let input = big_input(&quiet);
    let screen = on_a_terminal(&quiet, &["ingest", "--quiet", input.to_str().unwrap()]).unwrap();
    assert!(!screen.contains("ingest ["), "{screen}");
    let screen = on_a_terminal(&quiet, &["verify"]).unwrap();
    assert!(screen.contains("verified"), "{screen}");
    // generate shows what it writes; compact ends with its summary and no bar left.
    let out = quiet.path("gen");
    let screen = on_a_terminal(
        &quiet,
        &["generate", "--scale", "0.5", "--out", out.to_str().unwrap()],
    )
    .unwrap();
    assert!(screen.contains("generate: "), "{screen}");
    assert!(
        screen
            .trim_end()
            .ends_with(&format!("to {}", out.display()))
            || screen.contains("wrote "),
        "{screen}"
    );
    let more = quiet.write(
        "more.ndjson",
        b"{\"Type\":\"Event\",\"TimeGenerated\":\"2024-01-01T00:00:00Z\",\"Computer\":\"extra\"}\n",
    );
    assert_eq!(quiet.ingest(&[&more]).code, 0);
    let screen = on_a_terminal(&quiet, &["compact"]).unwrap();
    assert!(screen.contains("compacted 1 partitions"), "{screen}");
}
