//! `omslake tables` and `omslake schema`: what the store and the schemas hold, from the log.

use std::path::Path;

use omslake::schema::Catalog;
use omslake::store::Store;

use super::{CmdResult, Failure, EXIT_USAGE};

pub fn tables(store_dir: &Path) -> CmdResult {
    say_if_no_store(store_dir);
    let snapshot = Store::open(store_dir).read_snapshot(None)?;
    println!(
        "{:<18} {:>12} {:>6} {:>14}  {:<27} {:<27}",
        "table", "rows", "files", "bytes", "first TimeGenerated", "last TimeGenerated"
    );
    for t in Catalog::builtin().tables() {
        let files = snapshot.table_files(&t.name);
        let rows: u64 = files.iter().map(|f| f.rows).sum();
        let bytes: u64 = files.iter().map(|f| f.bytes).sum();
        let fmt = |m: Option<i64>| {
            m.and_then(chrono::DateTime::from_timestamp_micros)
                .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
                .unwrap_or_else(|| "-".into())
        };
        let min = files.iter().map(|f| f.min_time).min();
        let max = files.iter().map(|f| f.max_time).max();
        println!(
            "{:<18} {:>12} {:>6} {:>14}  {:<27} {:<27}",
            t.name,
            rows,
            files.len(),
            bytes,
            fmt(min),
            fmt(max)
        );
    }
    Ok(0)
}

pub fn schema(table: &str) -> CmdResult {
    let catalog = Catalog::builtin();
    let Some(t) = catalog.get_ignore_case(table) else {
        let names: Vec<&str> = catalog.tables().iter().map(|t| t.name.as_str()).collect();
        let near = omslake::search::closest(names.iter().copied(), table);
        let hint = match near.as_slice() {
            [] => String::new(),
            near => format!("did you mean {}? ", near.join(" or ")),
        };
        return Err(Failure::new(
            EXIT_USAGE,
            format!(
                "unknown table {table:?}; {hint}tables are: {}",
                names.join(", ")
            ),
        ));
    };
    println!("{}: {}", t.name, t.description);
    println!(
        "{:<36} {:<9} {:<26} {:<8} description",
        "column", "type", "arrow type", "nullable"
    );
    for c in &t.columns {
        println!(
            "{:<36} {:<9} {:<26} {:<8} {}",
            c.name,
            c.ty.name(),
            c.ty.arrow_type().to_string(),
            if c.nullable { "yes" } else { "no" },
            c.description
        );
    }
    Ok(0)
}

pub fn history(store_dir: &Path) -> CmdResult {
    let versions = omslake::store::history::versions(Store::open(store_dir).root())?;
    println!(
        "{:>7}  {:<24} {:<9} {:>11} {:>13} {:>11} {:>13}  sources",
        "version",
        "time",
        "operation",
        "files added",
        "files removed",
        "rows added",
        "rows removed"
    );
    for v in versions {
        let time = chrono::DateTime::from_timestamp_millis(v.timestamp_millis)
            .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
            .unwrap_or_default();
        let sources: Vec<String> = v
            .sources
            .iter()
            .map(|(name, hash)| format!("{name} ({})", &hash[..hash.len().min(12)]))
            .collect();
        println!(
            "{:>7}  {:<24} {:<9} {:>11} {:>13} {:>11} {:>13}  {}",
            v.version,
            time,
            v.operation,
            v.files_added,
            v.files_removed,
            v.rows_added,
            v.rows_removed,
            sources.join(", ")
        );
    }
    Ok(0)
}

/// A read of a folder that holds no store (a mistyped `--store`) answers with empty tables, and
/// says so once.
pub fn say_if_no_store(store_dir: &Path) {
    if !store_dir.join(omslake::store::log::LOG_DIR).exists() {
        eprintln!(
            "omslake: no store at {} yet: every table is empty",
            store_dir.display()
        );
    }
}
