//! `--memory-limit` limits: a grouped aggregation with a million distinct groups and a join of
//! two large tables under 64 MB either finish with the process's peak RSS under the limit plus
//! a fixed overhead, or stop with the one-line message; none hangs (DataFusion 55.2's
//! repartition spill pool could deadlock, see `query::pool`). Run with `--ignored`: 20 runs of
//! each take a minute or two in a debug build.

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::Env;

/// What a query process holds besides its pool: the binary and its runtime, and the batches in
/// flight that DataFusion does not count (scans' decoded pages, batches between operators).
/// The README states the same figure.
const FIXED_OVERHEAD_MB: u64 = 160;
const LIMIT_MB: u64 = 64;
const RUNS: usize = 20;
const TIMEOUT: Duration = Duration::from_secs(180);

fn store_with_a_million_groups(env: &Env) {
    let path = env.path("groups.ndjson");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    for i in 0..1_000_000u32 {
        writeln!(
            f,
            r#"{{"Type":"Event","TimeGenerated":"2024-01-0{}T{:02}:{:02}:{:02}Z","Computer":"host-{i:07}.contoso.com","EventID":{},"Source":"s{}"}}"#,
            1 + i % 5,
            (i / 3600) % 24,
            (i / 60) % 60,
            i % 60,
            i % 1000,
            i % 7
        )
        .unwrap();
    }
    drop(f);
    let r = env.ingest(&[&path]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    std::fs::remove_file(path).unwrap();
}

/// Run `sql` under the limit; its exit code, stderr and peak RSS in MB (from `wait4`, for this
/// child alone), or a failure if it does not end within [`TIMEOUT`].
fn run_limited(env: &Env, sql: &str) -> (i32, String, u64) {
    #[allow(clippy::zombie_processes)] // reaped by `wait4` below, which also gives its peak
    let mut child = env
        .command()
        .args(["sql", sql, "--format", "csv", "--memory-limit"])
        .arg(format!("{LIMIT_MB}MB"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let started = Instant::now();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut text).unwrap();
        text
    });
    loop {
        let mut status = 0;
        // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `pid` is our child, not yet reaped; the pointers are to live locals.
        let done = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if done == pid {
            let code = if libc::WIFEXITED(status) {
                libc::WEXITSTATUS(status)
            } else {
                -1
            };
            let peak_mb = usage.ru_maxrss as u64 / 1024;
            return (code, reader.join().unwrap(), peak_mb);
        }
        if started.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("the query hung under --memory-limit {LIMIT_MB}MB: {sql}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[ignore = "20 runs of two large queries: run by .ci/run"]
fn queries_under_a_small_limit_stay_under_it_or_stop_cleanly_and_never_hang() {
    let env = Env::new();
    store_with_a_million_groups(&env);
    let queries = [
        r#"SELECT "Computer", count(*) AS n, max("TimeGenerated") AS last FROM "Event" GROUP BY "Computer" ORDER BY n DESC, "Computer" LIMIT 5"#,
        r#"SELECT count(*) FROM "Event" a JOIN "Event" b ON a."Computer" = b."Computer" AND a."EventID" = b."EventID""#,
    ];
    for sql in queries {
        let (mut finished, mut stopped, mut peak) = (0, 0, 0);
        for _ in 0..RUNS {
            let (code, stderr, peak_mb) = run_limited(&env, sql);
            peak = peak.max(peak_mb);
            match code {
                0 => finished += 1,
                1 => {
                    assert!(
                        stderr.contains("needs more memory than its limit"),
                        "{stderr}"
                    );
                    assert_eq!(stderr.lines().count(), 1, "{stderr}");
                    stopped += 1;
                }
                other => panic!("exit {other}: {stderr}"),
            }
            assert!(
                peak_mb < LIMIT_MB + FIXED_OVERHEAD_MB,
                "peak RSS {peak_mb} MB under a {LIMIT_MB} MB limit: {sql}"
            );
        }
        eprintln!("{finished} finished, {stopped} stopped, peak RSS {peak} MB: {sql}");
    }
}
