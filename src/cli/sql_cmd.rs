//! `omslake sql`: one read-only query over the latest commit.

use std::io::Write;
use std::path::Path;

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
    Ok(Engine::open_with(&Store::open(store_dir), &options)?)
}

/// Run `sql` and write its rows where `out` says.
pub async fn execute(engine: &Engine, sql: &str, out: &OutputArgs) -> Result<u64, Failure> {
    let explain = |e: QueryError| Failure::from(engine.explain_error(e));
    let df = engine.sql(sql).await.map_err(explain)?;
    let stream = df
        .execute_stream()
        .await
        .map_err(|e| explain(QueryError::from(e)))?;
    match &out.output {
        Some(path) if path.extension().is_some_and(|e| e == "parquet") => {
            Ok(output::write_parquet(stream, path).await.map_err(explain)?)
        }
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| {
                Failure::new(EXIT_USAGE, format!("cannot create {}: {e}", path.display()))
            })?;
            let mut w = std::io::BufWriter::new(file);
            let rows = output::write(stream, out.format, &mut w, out.max_rows)
                .await
                .map_err(explain)?;
            w.flush().map_err(|e| {
                Failure::new(EXIT_USAGE, format!("writing {}: {e}", path.display()))
            })?;
            Ok(rows)
        }
        None => {
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            let rows = output::write(stream, out.format, &mut w, out.max_rows)
                .await
                .map_err(explain)?;
            let _ = w.flush();
            Ok(rows)
        }
    }
}
