//! `omslake serve` at the HTTP level: the limits (body, time, concurrency), a non-loopback
//! address refused without a token, a graceful stop while a query runs, and answers that are
//! always a committed state while an ingest commits beside them. (The real Python client:
//! tests/cross_engine/serve_client.py.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::common::{project_data, Env};

struct Server {
    child: Child,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(env: &Env, extra: &[&str]) -> Server {
    let mut child = env
        .command()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let port = first
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));
    // Keep reading the access log so the server never blocks on a full pipe.
    let mut stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = stderr.read_to_end(&mut sink);
    });
    Server { child, port }
}

/// POST `body` to `path`; the status and the body.
fn post(port: u16, path: &str, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

fn query(port: u16, q: &str) -> (u16, serde_json::Value) {
    let body = serde_json::json!({"query": q, "timespan": null}).to_string();
    let (status, text) = post(port, "/v1/workspaces/w/query", &body);
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

fn sample() -> Env {
    let env = Env::new();
    assert_eq!(env.ingest(&[&project_data().join("exports")]).code, 0);
    env
}

/// About 9.7 M joined rows: a second or so in a debug build.
const SLOW: &str = r#"SELECT count(*) FROM "Update" a, "Event" b, "UpdateSummary" c"#;
/// About 200 M: far longer than any timeout below.
const SLOWER: &str = r#"SELECT count(*) FROM "Update" a, "Update" b, "Event" c"#;

#[test]
fn limits_give_the_api_errors() {
    let env = sample();
    let server = start(
        &env,
        &[
            "--max-body-kb",
            "1",
            "--query-timeout",
            "1",
            "--max-concurrent",
            "1",
            "--max-result-rows",
            "10",
        ],
    );
    let (status, _) = post(
        server.port,
        "/v1/workspaces/w/query",
        &format!("{{\"query\":\"{}\"}}", "x".repeat(2000)),
    );
    assert_eq!(status, 413);
    let (status, body) = query(server.port, "Type=Event");
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "QueryResultTooLarge");
    let (status, body) = query(server.port, "Type=Event | top 3");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tables"][0]["rows"].as_array().unwrap().len(), 3);
    // One slot: a slow query holds it until its timeout; the next waits half that, then 429.
    // (The engine is warm from the queries above: both go straight to the slot.)
    let port = server.port;
    let slow = std::thread::spawn(move || query(port, SLOWER));
    std::thread::sleep(Duration::from_millis(300));
    let (second, second_body) = query(server.port, "Type=Event | measure count()");
    let (status, body) = slow.join().unwrap();
    assert_eq!(status, 504, "{body}");
    assert_eq!(second, 429, "{second_body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("--query-timeout"),
        "{body}"
    );
    let (status, body) = query(server.port, "Type=Event | top abc");
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("column 18"),
        "{body}"
    );
    let (status, _) = post(server.port, "/v1/nothing", "{}");
    assert_eq!(status, 404);
}

#[test]
fn tokens_and_addresses() {
    let env = sample();
    let r = env.run(&["serve", "--listen", "0.0.0.0:0"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("without --token-file"), "{}", r.stderr);
    let token = env.write("token", b"0123456789abcdef0123\n");
    let server = start(&env, &["--token-file", token.to_str().unwrap()]);
    let (status, body) = query(server.port, "Type=Event | measure count()");
    assert_eq!(status, 401, "{body}");
    let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let body = r#"{"query":"Type=Event | measure count()"}"#;
    write!(s, "POST /v1/workspaces/w/query HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer 0123456789abcdef0123\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
}

#[test]
fn sigterm_lets_a_running_query_finish() {
    let env = sample();
    let mut server = start(&env, &["--query-timeout", "120"]);
    let port = server.port;
    let running = std::thread::spawn(move || query(port, SLOW));
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(server.child.id() as libc::pid_t, libc::SIGTERM) };
    let (status, body) = running.join().unwrap();
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    let code = loop {
        if let Some(s) = server.child.try_wait().unwrap() {
            break s.code();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the server did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(0));
}

#[test]
fn answers_are_committed_states_while_an_ingest_commits() {
    let env = Env::new();
    let files: Vec<std::path::PathBuf> = (0..5)
        .map(|i| {
            let lines: String = (0..300)
                .map(|j| format!("{{\"Type\":\"Event\",\"TimeGenerated\":\"2024-02-{:02}T00:{:02}:{:02}Z\",\"Computer\":\"s{i}-{j}\"}}\n", 1 + j % 10, j % 60, i))
                .collect();
            env.write(&format!("in/{i}.ndjson"), lines.as_bytes())
        })
        .collect();
    assert_eq!(env.ingest(&[&files[0]]).code, 0);
    let server = start(&env, &[]);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let port = server.port;
    let reader = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let (status, body) = query(port, "Type=Event | measure count()");
                assert_eq!(status, 200, "{body}");
                seen.push(body["tables"][0]["rows"][0][0].as_u64().unwrap());
            }
            seen
        })
    };
    for f in &files[1..] {
        assert_eq!(env.ingest(&[f]).code, 0);
    }
    std::thread::sleep(Duration::from_millis(200));
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let seen = reader.join().unwrap();
    assert!(seen.len() >= 3, "{seen:?}");
    for n in &seen {
        assert!(
            n % 300 == 0 && (300..=1500).contains(n),
            "an answer of {n} rows is not a committed state"
        );
    }
    // A query after the last commit (the last of the loop may have started before it).
    let (status, body) = query(port, "Type=Event | measure count()");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["tables"][0]["rows"][0][0], 1500,
        "the server did not see the last commit"
    );
}
