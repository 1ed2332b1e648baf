//! The generated records written as files, in the layouts `--layout` names.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::{each_record, records, Layout, Target};
use crate::schema::TABLE_NAMES;

/// Write the generated data under `out`; returns the files written.
pub fn write(scale: f64, layout: Layout, out: &Path) -> std::io::Result<Vec<PathBuf>> {
    write_each(scale, layout, out, &mut |_| {})
}

/// [`write`], calling `starting` with each file's name as it is begun (for a progress
/// display). When writing fails, the files it began are removed: no half-written data set.
pub fn write_each(
    scale: f64,
    layout: Layout,
    out: &Path,
    starting: &mut dyn FnMut(&str),
) -> std::io::Result<Vec<PathBuf>> {
    fs::create_dir_all(out)?;
    let mut files = Vec::new();
    let written = match layout {
        Layout::Ndjson => write_ndjson(scale, out, &mut files, starting),
        Layout::Mixed => write_mixed(scale, out, &mut files, starting),
    };
    if written.is_err() {
        for f in &files {
            let _ = fs::remove_file(f);
        }
    }
    written.map(|()| files)
}

/// Create `name` under `out`, buffered, first adding it to `files` (removed if writing fails).
fn create_file(
    out: &Path,
    name: &str,
    files: &mut Vec<PathBuf>,
) -> std::io::Result<BufWriter<File>> {
    let path = out.join(name);
    files.push(path.clone());
    Ok(BufWriter::with_capacity(1 << 20, File::create(path)?))
}

/// One NDJSON file per table and the raw Office 365 API blob (a JSON array), each record
/// written as it is made: the memory taken does not grow with `scale`.
fn write_ndjson(
    scale: f64,
    out: &Path,
    files: &mut Vec<PathBuf>,
    starting: &mut dyn FnMut(&str),
) -> std::io::Result<()> {
    let mut names: Vec<String> = TABLE_NAMES.iter().map(|t| format!("{t}.ndjson")).collect();
    names.push("OfficeActivity-api.json".into());
    let blob = names.len() - 1;
    let mut writers = Vec::with_capacity(names.len());
    for name in &names {
        writers.push(create_file(out, name, files)?);
    }
    let mut started = vec![false; names.len()];
    let mut blob_records = 0u64;
    each_record(scale, &mut |target, record| {
        let i = match target {
            Target::Table(t) => (TABLE_NAMES.iter().position(|n| *n == t))
                .ok_or_else(|| std::io::Error::other(format!("no file for table {t}")))?,
            Target::O365Blob => blob,
        };
        if !std::mem::replace(&mut started[i], true) {
            starting(&names[i]);
        }
        let w = &mut writers[i];
        if i == blob {
            w.write_all(if blob_records == 0 { b"[" } else { b"," })?;
            blob_records += 1;
            serde_json::to_writer(&mut *w, &record)?;
        } else {
            serde_json::to_writer(&mut *w, &record)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    writers[blob].write_all(if blob_records == 0 { b"[]" } else { b"]" })?;
    for w in &mut writers {
        w.flush()?;
    }
    Ok(())
}

/// Every input shape omslake reads, each table's records built whole first (some shapes
/// need them all: a query API response names its columns before its rows).
fn write_mixed(
    scale: f64,
    out: &Path,
    files: &mut Vec<PathBuf>,
    starting: &mut dyn FnMut(&str),
) -> std::io::Result<()> {
    starting("records in memory");
    let g = records(scale);
    let mut create = |name: &str| -> std::io::Result<BufWriter<File>> {
        starting(name);
        create_file(out, name, files)
    };
    for (table, rows) in &g.tables {
        match *table {
            "Update" => {
                // Stringified bools (PowerShell-style export) and the legacy PublishDate key.
                let mut w = create("Update.ndjson")?;
                for (i, r) in rows.iter().enumerate() {
                    let mut r = r.clone();
                    if i % 4 == 0 {
                        if let Some(b) = r.get("Optional").and_then(Value::as_bool) {
                            r["Optional"] = json!(if b { "True" } else { "False" });
                        }
                        if let Some(p) = r.as_object_mut().and_then(|o| o.remove("PublishedDate")) {
                            r["PublishDate"] = p;
                        }
                    }
                    serde_json::to_writer(&mut w, &r)?;
                    w.write_all(b"\n")?;
                }
                w.flush()?;
            }
            "UpdateSummary" => {
                // A JSON array with numbers as strings, as stringifying exporters write them.
                let rows: Vec<Value> = rows
                    .iter()
                    .map(|r| {
                        let mut r = r.clone();
                        for k in [
                            "CriticalUpdatesMissing",
                            "TotalUpdatesMissing",
                            "_BilledSize",
                        ] {
                            if let Some(v) = r.get(k).cloned() {
                                r[k] = json!(v.to_string());
                            }
                        }
                        r
                    })
                    .collect();
                let mut w = create("UpdateSummary.json")?;
                serde_json::to_writer_pretty(&mut w, &rows)?;
                w.flush()?;
            }
            "UpdateRunProgress" => {
                let mut w = create("UpdateRunProgress-query-api.json")?;
                serde_json::to_writer(&mut w, &query_api(rows))?;
                w.flush()?;
            }
            "Event" => {
                let value: Vec<Value> = rows
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let mut r = r.clone();
                        r["id"] = json!(format!("{}", i));
                        r["MG"] = json!("00000000-0000-0000-0000-000000000001");
                        r["TimeCollected"] = r["TimeGenerated"].clone();
                        r["__metadata"] =
                            json!({"Type": "Event", "TimeGenerated": r["TimeGenerated"]});
                        r
                    })
                    .collect();
                let doc = json!({"id": "subscriptions/x/search/1", "__metadata": {"resultType": "raw", "total": value.len(), "top": value.len(), "Status": "Successful"}, "value": value});
                let w = create("Event-search-api.json.gz")?;
                let mut gz = flate2::write::GzEncoder::new(w, flate2::Compression::default());
                serde_json::to_writer(&mut gz, &doc)?;
                gz.finish()?.flush()?;
            }
            _ => {
                let mut w = create(&format!("{table}-records.json"))?;
                serde_json::to_writer(&mut w, &json!({ "records": rows }))?;
                w.flush()?;
            }
        }
    }
    let mut w = create("o365-management-api-Audit.General.json")?;
    serde_json::to_writer_pretty(&mut w, &g.o365_blob)?;
    w.flush()?;
    Ok(())
}

/// Rows as a Log Analytics query API response (positional rows, dynamic as encoded strings).
fn query_api(rows: &[Value]) -> Value {
    let mut names: Vec<String> = Vec::new();
    for r in rows {
        for k in r.as_object().into_iter().flat_map(|o| o.keys()) {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    let table = crate::schema::Catalog::builtin()
        .get("UpdateRunProgress")
        .expect("built-in");
    let columns: Vec<Value> = names
        .iter()
        .map(|n| json!({"name": n, "type": table.column(n).map_or("string", |c| c.ty.name())}))
        .collect();
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            Value::Array(
                names
                    .iter()
                    .map(|n| r.get(n).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect();
    json!({"tables": [{"name": "PrimaryResult", "columns": columns, "rows": data}]})
}
