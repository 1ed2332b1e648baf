//! `omslake demo`: ingest the bundled sample exports into a fresh store and answer every
//! documented search, printing the search, its SQL and its rows.

use std::path::PathBuf;

use omslake::ingest::{self, IngestOptions, SourceStatus};
use omslake::query::Engine;
use omslake::store::log::SourceEntry;
use omslake::store::Store;

use super::{search_cmd, sql_cmd, CmdResult, Failure, OutputArgs, EXIT_USAGE};
use omslake::query::output::Format;
use omslake::search::{self, Options};

/// The project's sample folder: `./data` when run from the project, else the build's copy.
fn default_data() -> PathBuf {
    let local = PathBuf::from("data");
    if local.join("searches.txt").exists() {
        local
    } else {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data")
    }
}

pub async fn run(store: Option<PathBuf>, data: Option<PathBuf>) -> CmdResult {
    let data = data.unwrap_or_else(default_data);
    let read = |name: &str| {
        std::fs::read_to_string(data.join(name)).map_err(|e| {
            Failure::new(
                EXIT_USAGE,
                format!("cannot read {}: {e}", data.join(name).display()),
            )
        })
    };
    let searches = read("searches.txt")?;
    let searches: Vec<&str> = searches
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect();
    let store_dir = match store {
        Some(s) => s,
        None => {
            let dir = std::env::temp_dir().join(format!("omslake-demo-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            dir
        }
    };
    let store = Store::open(&store_dir);
    let mut tx = store.begin("ingest", None, &mut || {
        eprintln!("omslake: waiting for the writer lock")
    })?;
    let summary = ingest::run(&[data.join("exports")], &IngestOptions::default(), &mut tx)
        .map_err(|e| Failure::new(EXIT_USAGE, e))?;
    let sources = summary
        .sources
        .iter()
        .filter(|s| s.status == SourceStatus::Ingested)
        .map(|s| SourceEntry {
            name: s.name.clone(),
            blake3: s.blake3.clone(),
            bytes: s.bytes,
        })
        .collect();
    tx.commit(sources, Vec::new())?;
    println!("# omslake demo: store {}", store_dir.display());
    println!(
        "# ingested {} sample files from {}: {} records accepted, {} rejected\n",
        summary.sources.len(),
        data.join("exports").display(),
        summary.total_accepted(),
        summary.total_rejected()
    );
    let engine = Engine::open(&store)?;
    let out = OutputArgs {
        format: Some(Format::Table),
        output: None,
        max_rows: 10,
        memory_limit: None,
        as_of: None,
    };
    let options = Options {
        now_micros: search_cmd::now_micros()?,
        case_sensitive: false,
        dialect: Default::default(),
    };
    for (i, text) in searches.iter().enumerate() {
        println!("## {}. {text}", i + 1);
        let t = search::translate(text, &options, false)
            .map_err(|e| Failure::new(EXIT_USAGE, format!("search {}: {e}", i + 1)))?;
        for w in &t.warnings {
            println!("warning: {w}");
        }
        println!("SQL: {}", t.sql);
        sql_cmd::execute_with(&engine, &t.sql, &out, Some(out.max_rows)).await?;
        println!();
    }
    Ok(0)
}
