//! `omslake sql`: one read-only query over the latest commit.

use std::io::{IsTerminal, Write};
use std::path::Path;

use omslake::query::output::Format;
use omslake::query::{output, Engine, EngineOptions, QueryError};
use omslake::store::Store;

use super::{CmdResult, Failure, OutputArgs, EXIT_USAGE};

pub async fn run(store_dir: &Path, sql: &str, out: &OutputArgs) -> CmdResult {
    let engine = open_engine(store_dir, out)?;
    execute(&engine, sql, out).await?;
    Ok(0)
}

/// An engine over the store with the options the command line gave.
pub fn open_engine(store_dir: &Path, out: &OutputArgs) -> Result<Engine, Failure> {
    let mut options = EngineOptions::default();
    if let Some(limit) = out.memory_limit {
        options.memory_limit = limit;
    }
    super::info::say_if_no_store(store_dir);
    let store = Store::open(store_dir);
    if let Some(as_of) = &out.as_of {
        let version = omslake::store::history::resolve(store.root(), as_of)
            .map_err(|e| Failure::new(EXIT_USAGE, e))?;
        options.as_of = Some(version);
    }
    Ok(Engine::open_with(&store, &options)?)
}

/// The format rows are written in: `--format`, else the extension of `--output`, else the
/// table. An `--output` name whose extension says no format needs `--format`.
pub fn resolve_format(out: &OutputArgs) -> Result<Format, Failure> {
    match (out.format, &out.output) {
        (Some(f), _) => Ok(f),
        (None, None) => Ok(Format::Table),
        (None, Some(path)) => Format::from_extension(path).ok_or_else(|| {
            Failure::new(
                EXIT_USAGE,
                format!(
                    "cannot tell the format of {} from its extension (.csv, .tsv, .json, .ndjson, .jsonl, .parquet, .txt): add --format",
                    path.display()
                ),
            )
        }),
    }
}

/// Run `sql` and write its rows where `out` says. Only the table format on a terminal is
/// truncated (to `--max-rows`): files and pipes get every row.
pub async fn execute(engine: &Engine, sql: &str, out: &OutputArgs) -> Result<u64, Failure> {
    execute_with(engine, sql, out, None).await
}

/// [`execute`], with the table format truncated to `always_truncate` rows wherever it goes
/// (the demo's display).
pub async fn execute_with(
    engine: &Engine,
    sql: &str,
    out: &OutputArgs,
    always_truncate: Option<usize>,
) -> Result<u64, Failure> {
    let format = resolve_format(out)?;
    if format == Format::Parquet && out.output.is_none() {
        return Err(Failure::new(
            EXIT_USAGE,
            "--format parquet writes a file: add --output FILE.parquet",
        ));
    }
    let explain = |e: QueryError| with_table_hint(Failure::from(engine.explain_error(e)));
    let df = engine.sql(sql).await.map_err(explain)?;
    let stream = df
        .execute_stream()
        .await
        .map_err(|e| explain(QueryError::from(e)))?;
    match &out.output {
        Some(path) if format == Format::Parquet => {
            Ok(output::write_parquet(stream, path).await.map_err(explain)?)
        }
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| {
                Failure::new(EXIT_USAGE, format!("cannot create {}: {e}", path.display()))
            })?;
            let mut w = std::io::BufWriter::new(file);
            let rows = output::write(stream, format, &mut w, always_truncate)
                .await
                .map_err(explain)?;
            w.flush().map_err(|e| {
                Failure::new(EXIT_USAGE, format!("writing {}: {e}", path.display()))
            })?;
            Ok(rows)
        }
        None => {
            let stdout = std::io::stdout();
            let truncate = always_truncate.or(stdout.is_terminal().then_some(out.max_rows));
            let mut w = std::io::BufWriter::new(stdout.lock());
            let rows = output::write(stream, format, &mut w, truncate)
                .await
                .map_err(explain)?;
            let _ = w.flush();
            Ok(rows)
        }
    }
}

/// DataFusion's "table 'update' not found" with the table the user meant: names are
/// case-sensitive and must be quoted when mixed-case (`"Update"`).
fn with_table_hint(f: Failure) -> Failure {
    with_column_hint(with_unknown_table_hint(f))
}

/// DataFusion's "No field named computer." with the columns the user may have meant: unquoted
/// names are lower-cased, and column names are mixed-case (`"Computer"`).
fn with_column_hint(mut f: Failure) -> Failure {
    let Some(name) = f
        .message
        .split("No field named ")
        .nth(1)
        .map(|r| r.trim_end_matches('.').trim_matches('"').to_string())
        .filter(|_| !f.message.contains("Did you mean"))
    else {
        return f;
    };
    let bare = name.rsplit('.').next().unwrap_or(&name).trim_matches('"');
    let catalog = omslake::schema::Catalog::builtin();
    let mut columns: Vec<&str> = catalog
        .tables()
        .iter()
        .flat_map(|t| t.columns.iter().map(|c| c.name.as_str()))
        .collect();
    columns.sort_unstable();
    columns.dedup();
    // Close in spelling and sharing a start: no far-fetched hints for short names.
    let lower = bare.to_ascii_lowercase();
    let near: Vec<&str> = omslake::search::closest(columns.into_iter(), bare)
        .into_iter()
        .filter(|n| {
            let n = n.to_ascii_lowercase();
            n.len() >= 3 && lower.len() >= 3 && n[..3] == lower[..3]
        })
        .collect();
    if !near.is_empty() {
        let quoted: Vec<String> = near.iter().map(|n| format!("\"{n}\"")).collect();
        f.message = format!(
            "{} Did you mean {}? (column names are case-sensitive: quote them)",
            f.message.trim_end(),
            quoted.join(" or ")
        );
    }
    f
}

fn with_unknown_table_hint(mut f: Failure) -> Failure {
    let Some(name) = f
        .message
        .split("table '")
        .nth(1)
        .and_then(|r| r.split('\'').next())
        .filter(|_| f.message.contains("not found"))
    else {
        return f;
    };
    let bare = name.rsplit('.').next().unwrap_or(name);
    let near = omslake::search::closest(omslake::schema::TABLE_NAMES.iter().copied(), bare);
    if let Some(best) = near.first() {
        f.message = format!(
            "{}; did you mean \"{best}\"? (table names are case-sensitive: quote them, as in SELECT * FROM \"{best}\")",
            f.message
        );
    }
    f
}
