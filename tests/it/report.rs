//! `omslake report`: every number the HTML shows is what its panel's search answers; empty
//! tables give panels that say so; and headless Chromium renders the file (desktop and phone
//! widths) with no console error and no request, when it is installed (CI installs it).

use std::collections::BTreeMap;

use crate::common::{project_data, Env};

const NOW: &str = "2024-03-15T12:00:00Z";

/// `(panel, label) → value` of every `data-value` in the HTML.
fn figures(html: &str) -> BTreeMap<(String, String), f64> {
    let mut out = BTreeMap::new();
    for part in html.split("data-panel=\"").skip(1) {
        let attr = |name: &str| {
            part.split(&format!("{name}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or_default()
                .to_string()
        };
        let panel = part.split('"').next().unwrap().to_string();
        let label = attr("data-label")
            .replace("&amp;", "&")
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
        let value: f64 = attr("data-value").parse().unwrap();
        out.insert((panel, label), value);
    }
    out
}

fn search_rows(env: &Env, search: &str) -> Vec<Vec<String>> {
    let out = env
        .command()
        .env("OMSLAKE_NOW", NOW)
        .args(["search", search, "--format", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{search}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn report(env: &Env, extra: &[&str]) -> String {
    let out_file = env.path("report.html");
    let out = env
        .command()
        .env("OMSLAKE_NOW", NOW)
        .args(["report", "--out", out_file.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read_to_string(out_file).unwrap()
}

#[test]
fn the_reports_numbers_are_its_searches_answers() {
    let env = Env::new();
    assert_eq!(env.ingest(&[&project_data().join("exports")]).code, 0);
    for since in [None, Some(7u64)] {
        let extra: Vec<String> = since
            .map(|d| vec!["--since".to_string(), format!("{d}d")])
            .unwrap_or_default();
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let html = report(&env, &extra);
        let got = figures(&html);
        let search = |panel: &str| omslake::report::search_text(panel, since).unwrap();
        // Every panel shows its search, as omslake search takes it.
        for (panel, _) in omslake::report::SEARCHES {
            let text = search(panel)
                .replace('&', "&amp;")
                .replace('"', "&quot;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            assert!(html.contains(&text), "{panel}: the search is not shown");
        }
        let computers: f64 = search_rows(&env, &search("computers"))[0][0]
            .parse()
            .unwrap();
        let noncompliant: f64 = search_rows(&env, &search("noncompliant"))[0][0]
            .parse()
            .unwrap();
        assert_eq!(got[&("compliance".into(), "total".into())], computers);
        assert_eq!(
            got[&("compliance".into(), "Not compliant".into())],
            noncompliant
        );
        assert_eq!(
            got[&("compliance".into(), "Compliant".into())],
            computers - noncompliant
        );
        for (panel, label_at, value_at) in [
            ("classification", 0, 1),
            ("ostype", 0, 1),
            ("operations", 0, 1),
        ] {
            let rows = search_rows(&env, &search(panel));
            assert!(!rows.is_empty(), "{panel}");
            for r in rows {
                let label = if r[label_at].is_empty() {
                    "(none)".to_string()
                } else {
                    r[label_at].clone()
                };
                assert_eq!(
                    got.get(&(panel.to_string(), label.clone())),
                    Some(&r[value_at].parse().unwrap()),
                    "{panel} {label}"
                );
            }
        }
        for r in search_rows(&env, &search("deployments")) {
            let name = if r[0].is_empty() {
                "(none)".to_string()
            } else {
                r[0].clone()
            };
            assert_eq!(
                got[&("deployments".into(), format!("{name}|computers"))],
                r[1].parse::<f64>().unwrap()
            );
            assert_eq!(
                got[&("deployments".into(), format!("{name}|failed"))],
                r[2].parse::<f64>().unwrap()
            );
        }
        // The least compliant: critical and security counts per computer.
        let mut per: BTreeMap<(String, &str), f64> = BTreeMap::new();
        for r in search_rows(&env, &search("least")) {
            let kind = if r[1].to_ascii_lowercase().contains("critical") {
                "critical"
            } else {
                "security"
            };
            *per.entry((r[0].clone(), kind)).or_default() += r[2].parse::<f64>().unwrap();
        }
        for ((panel, label), value) in got.iter().filter(|((p, _), _)| p == "least") {
            let (computer, kind) = label.split_once('|').unwrap();
            assert_eq!(
                per.get(&(computer.to_string(), kind))
                    .copied()
                    .unwrap_or(0.0),
                *value,
                "{panel} {label}"
            );
        }
        // Office 365 activity per day and workload.
        let mut activity = 0.0;
        for r in search_rows(&env, &search("workloads")) {
            let day = &r[1][..10];
            activity += r[2].parse::<f64>().unwrap();
            assert_eq!(
                got[&(
                    "workloads".into(),
                    format!("{}|{day}", if r[0].is_empty() { "(none)" } else { &r[0] })
                )],
                r[2].parse::<f64>().unwrap()
            );
        }
        let drawn: f64 = got
            .iter()
            .filter(|((p, _), _)| p == "workloads")
            .map(|(_, v)| v)
            .sum();
        assert_eq!(drawn, activity);
    }
}

#[test]
fn an_empty_store_gives_panels_that_say_so() {
    let env = Env::new();
    let html = report(&env, &[]);
    assert!(figures(&html).is_empty());
    assert_eq!(html.matches("class=\"empty\"").count(), 8, "{html}");
    assert!(html.contains("No update assessments in this period"));
    assert!(html.contains("All dates and times are UTC"));
}

#[test]
fn chromium_renders_the_report_without_errors_or_requests() {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        });
    let Some(chromium) = chromium else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI needs chromium (see .ci/run)"
        );
        eprintln!("skipping the Chromium check: apt-get install chromium to run it");
        return;
    };
    let env = Env::new();
    assert_eq!(env.ingest(&[&project_data().join("exports")]).code, 0);
    let html = report(&env, &["--title", "Contoso update compliance"]);
    assert!(
        !html.contains("<script")
            && !html.contains("http://")
            && !html.contains("https://")
            && !html.contains("src="),
        "the report refers to something outside it"
    );
    let file = env.path("report.html");
    for (name, size) in [("desktop.png", "1280,2200"), ("phone.png", "390,3600")] {
        let png = env.path(name);
        let out = std::process::Command::new(chromium)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!("--screenshot={}", png.display()))
            .arg(format!("--window-size={size}"))
            .arg(format!("file://{}", file.display()))
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{log}");
        assert!(
            !log.contains("CONSOLE")
                && !log.contains("net::ERR")
                && !log.contains("Failed to load"),
            "{log}"
        );
        let bytes = std::fs::read(&png).unwrap();
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
            "{name}: {} bytes",
            bytes.len()
        );
        if let Some(dir) = std::env::var_os("OMSLAKE_REPORT_SCREENSHOTS") {
            std::fs::copy(&png, std::path::Path::new(&dir).join(name)).unwrap();
        }
    }
}
