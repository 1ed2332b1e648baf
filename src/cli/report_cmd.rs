//! `omslake report`: run the report's searches and write its HTML file.

use std::path::Path;

use omslake::query::Engine;
use omslake::report::{self, ReportOptions};
use omslake::store::Store;

use super::maintenance_cmd::parse_age;
use super::{search_cmd, CmdResult, Failure, EXIT_FAILURE, EXIT_USAGE};

pub async fn run(store_dir: &Path, out: &Path, since: Option<&str>, title: String) -> CmdResult {
    let since_days = match since {
        Some(age) => {
            let d =
                parse_age(age).map_err(|e| Failure::new(EXIT_USAGE, format!("--since: {e}")))?;
            Some(d.as_secs().div_ceil(86_400).max(1))
        }
        None => None,
    };
    super::info::say_if_no_store(store_dir);
    let engine = Engine::open(&Store::open(store_dir))?;
    let options = ReportOptions {
        title,
        since_days,
        now_micros: search_cmd::now_micros()?,
        store: store_dir.display().to_string(),
    };
    let html = report::build(&engine, &options)
        .await
        .map_err(|e| Failure::new(EXIT_FAILURE, format!("report: {e}")))?;
    std::fs::write(out, html)
        .map_err(|e| Failure::new(EXIT_USAGE, format!("cannot write {}: {e}", out.display())))?;
    eprintln!("wrote {}", out.display());
    Ok(0)
}
