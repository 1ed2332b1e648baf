//! `omslake report`: the update-compliance report as one self-contained HTML file (inline CSS
//! and SVG, no script, nothing fetched), the dashboard tile the Update Management solution
//! describes plus the Office 365 activity panels. Each panel is a legacy search run through
//! the translator, shown under the panel so that a reader can paste it into `omslake search`.

pub mod svg;

use std::collections::BTreeMap;

use arrow::util::display::{ArrayFormatter, FormatOptions};
use svg::escape;

use crate::query::{Engine, QueryError};
use crate::search::{self, Options};

/// What the report covers.
pub struct ReportOptions {
    pub title: String,
    /// Only records of this many days before now (`--since 30d`), or all.
    pub since_days: Option<u64>,
    pub now_micros: i64,
    pub store: String,
}

/// A search's result as text cells, with its column names.
struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    fn number(&self, row: usize, name: &str) -> f64 {
        self.column(name)
            .and_then(|i| self.rows[row][i].parse().ok())
            .unwrap_or(0.0)
    }

    fn text(&self, row: usize, name: &str) -> String {
        match self.column(name).map(|i| self.rows[row][i].clone()) {
            Some(t) if !t.is_empty() => t,
            _ => "(none)".into(),
        }
    }
}

/// The searches of the report, by panel. `{since}` becomes the time filter, or nothing.
pub const SEARCHES: [(&str, &str); 9] = [
    ("computers", "Type=Update {since} | measure countdistinct(Computer) as Computers"),
    ("noncompliant", "Type=Update {since} UpdateState=Needed Optional=false (Classification=\"Security Updates\" OR Classification=\"Critical Updates\") | measure countdistinct(Computer) as Computers"),
    ("classification", "Type=Update {since} UpdateState=Needed Optional=false | measure count() as Missing by Classification"),
    ("ostype", "Type=Update {since} UpdateState=Needed Optional=false | measure countdistinct(Computer) as Computers by OSType"),
    ("least", "Type=Update {since} UpdateState=Needed Optional=false (Classification=\"Security Updates\" OR Classification=\"Critical Updates\") | measure count() as Missing by Computer, Classification"),
    ("deployments", "Type=UpdateRunProgress {since} InstallationStatus=Failed | measure countdistinct(Computer) as Computers, count() as FailedUpdates by UpdateRunName"),
    ("workloads", "Type=OfficeActivity {since} | measure count() as Events by OfficeWorkload interval 1DAY"),
    ("operations", "Type=OfficeActivity {since} | measure count() as Events by Operation | top 10"),
    ("logons", "Type=OfficeActivity {since} Operation=UserLoginFailed | measure count() as Failures by UserId | top 10"),
];

/// The search a panel runs, with the time filter in place.
pub fn search_text(panel: &str, since_days: Option<u64>) -> Option<String> {
    let since = since_days
        .map(|d| format!("TimeGenerated>NOW-{d}DAYS"))
        .unwrap_or_default();
    SEARCHES.iter().find(|(p, _)| *p == panel).map(|(_, s)| {
        s.replace(
            "{since} ",
            &if since.is_empty() {
                String::new()
            } else {
                format!("{since} ")
            },
        )
    })
}

async fn run(engine: &Engine, text: &str, now_micros: i64) -> Result<Table, String> {
    let options = Options {
        now_micros,
        case_sensitive: false,
        dialect: Default::default(),
    };
    let t = search::translate(text, &options, false).map_err(|e| e.to_string())?;
    let df = engine.sql(&t.sql).await.map_err(|e| e.to_string())?;
    let batches = df
        .collect()
        .await
        .map_err(|e| QueryError::from(e).to_string())?;
    let mut table = Table {
        columns: Vec::new(),
        rows: Vec::new(),
    };
    let format = FormatOptions::default().with_timestamp_tz_format(Some("%Y-%m-%d"));
    for b in &batches {
        if table.columns.is_empty() {
            table.columns = b
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
        }
        let formatters: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &format))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        for r in 0..b.num_rows() {
            table
                .rows
                .push(formatters.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    Ok(table)
}

fn panel(id: &str, title: &str, body: &str, search: &str) -> String {
    format!(
        "<section class=\"panel\" id=\"{id}\"><h2>{}</h2>{body}<p class=\"search\">Search: <code>{}</code></p></section>\n",
        escape(title),
        escape(search)
    )
}

fn empty(what: &str) -> String {
    format!("<p class=\"empty\">No {what} in this period.</p>")
}

/// Build the report's HTML.
pub async fn build(engine: &Engine, options: &ReportOptions) -> Result<String, String> {
    let mut results = BTreeMap::new();
    let mut texts = BTreeMap::new();
    for (id, _) in SEARCHES {
        let text = search_text(id, options.since_days).expect("a known panel");
        let table = run(engine, &text, options.now_micros)
            .await
            .map_err(|e| format!("panel {id}: {e}"))?;
        results.insert(id, table);
        texts.insert(id, text);
    }
    let n = |id: &str| {
        results[id]
            .rows
            .first()
            .map_or(0.0, |_| results[id].number(0, "Computers")) as u64
    };
    let (computers, noncompliant) = (n("computers"), n("noncompliant"));
    let mut body = String::new();
    // The compliance tile.
    let tile = match computers {
        0 => empty("update assessments"),
        _ => format!(
            "{}<p class=\"note\">Not compliant: missing at least one critical or security update.</p>",
            svg::donut("compliance", ("Compliant", computers.saturating_sub(noncompliant)), ("Not compliant", noncompliant))
        ),
    };
    body.push_str(&panel(
        "compliance",
        "Update compliance: computers",
        &tile,
        &format!("{}   and   {}", texts["computers"], texts["noncompliant"]),
    ));
    let bars_of = |id: &str, label: &str, value: &str, what: &str| {
        let t = &results[id];
        match t.rows.is_empty() {
            true => empty(what),
            false => svg::bars(
                id,
                &(0..t.rows.len())
                    .map(|r| (t.text(r, label), t.number(r, value)))
                    .collect::<Vec<_>>(),
            ),
        }
    };
    body.push_str(&panel(
        "classification",
        "Missing updates by classification",
        &bars_of(
            "classification",
            "Classification",
            "Missing",
            "missing updates",
        ),
        &texts["classification"],
    ));
    body.push_str(&panel(
        "ostype",
        "Computers needing updates by OS type",
        &bars_of("ostype", "OSType", "Computers", "computers needing updates"),
        &texts["ostype"],
    ));
    // The ten least compliant computers: critical and security counts side by side.
    let least = &results["least"];
    let mut per: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for r in 0..least.rows.len() {
        let e = per.entry(least.text(r, "Computer")).or_default();
        let missing = least.number(r, "Missing") as u64;
        match least
            .text(r, "Classification")
            .to_ascii_lowercase()
            .contains("critical")
        {
            true => e.0 += missing,
            false => e.1 += missing,
        }
    }
    let mut ranked: Vec<(String, (u64, u64))> = per.into_iter().collect();
    ranked.sort_by(|a, b| {
        (b.1 .0 + b.1 .1)
            .cmp(&(a.1 .0 + a.1 .1))
            .then(a.0.cmp(&b.0))
    });
    ranked.truncate(10);
    let least_html = match ranked.is_empty() {
        true => empty("computers missing critical or security updates"),
        false => {
            let mut t =
                String::from("<table><tr><th>Computer</th><th>Critical</th><th>Security</th></tr>");
            for (c, (crit, sec)) in &ranked {
                t.push_str(&format!(
                    "<tr><td>{}</td><td data-panel=\"least\" data-label=\"{0}|critical\" data-value=\"{crit}\">{crit}</td><td data-panel=\"least\" data-label=\"{0}|security\" data-value=\"{sec}\">{sec}</td></tr>",
                    escape(c)
                ));
            }
            t + "</table>"
        }
    };
    body.push_str(&panel(
        "least",
        "The ten least compliant computers",
        &least_html,
        &texts["least"],
    ));
    let deployments = &results["deployments"];
    let deployments_html = match deployments.rows.is_empty() {
        true => empty("update deployments with failures"),
        false => {
            let mut t = String::from(
                "<table><tr><th>Deployment</th><th>Computers</th><th>Failed updates</th></tr>",
            );
            for r in 0..deployments.rows.len() {
                let name = deployments.text(r, "UpdateRunName");
                let (c, f) = (
                    deployments.number(r, "Computers"),
                    deployments.number(r, "FailedUpdates"),
                );
                t.push_str(&format!(
                    "<tr><td>{}</td><td data-panel=\"deployments\" data-label=\"{0}|computers\" data-value=\"{c}\">{c}</td><td data-panel=\"deployments\" data-label=\"{0}|failed\" data-value=\"{f}\">{f}</td></tr>",
                    escape(&name)
                ));
            }
            t + "</table>"
        }
    };
    body.push_str(&panel(
        "deployments",
        "Update deployments with failures",
        &deployments_html,
        &texts["deployments"],
    ));
    // Office 365: activity per day by workload.
    let w = &results["workloads"];
    let mut days: Vec<String> = (0..w.rows.len())
        .map(|r| w.text(r, "TimeGenerated"))
        .collect();
    days.sort();
    days.dedup();
    let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in 0..w.rows.len() {
        let day = days.binary_search(&w.text(r, "TimeGenerated")).unwrap_or(0);
        series
            .entry(w.text(r, "OfficeWorkload"))
            .or_insert_with(|| vec![0.0; days.len()])[day] += w.number(r, "Events");
    }
    let workloads_html = match days.is_empty() {
        true => empty("Office 365 activity"),
        false => svg::lines("workloads", &days, &series.into_iter().collect::<Vec<_>>()),
    };
    body.push_str(&panel(
        "workloads",
        "Office 365 activity per day, by workload",
        &workloads_html,
        &texts["workloads"],
    ));
    body.push_str(&panel(
        "operations",
        "Top Office 365 operations",
        &bars_of("operations", "Operation", "Events", "Office 365 operations"),
        &texts["operations"],
    ));
    body.push_str(&panel(
        "logons",
        "Failed logons by user",
        &bars_of("logons", "UserId", "Failures", "failed logons"),
        &texts["logons"],
    ));
    let generated = chrono::DateTime::from_timestamp_micros(options.now_micros)
        .map(|d| d.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default();
    let period = match options.since_days {
        Some(d) => format!("the last {d} days"),
        None => "all the store holds".to_string(),
    };
    Ok(format!(
        include_str!("template.html"),
        title = escape(&options.title),
        generated = escape(&generated),
        period = escape(&period),
        store = escape(&options.store),
        body = body
    ))
}
