//! Queries: a DataFusion `SessionContext` over one committed snapshot, read-only SQL.

pub mod output;
pub mod table;

use std::sync::Arc;

use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::prelude::DataFrame;
use thiserror::Error;

use crate::schema::Catalog;
use crate::store::{Snapshot, Store, StoreError};
use table::SnapshotTable;

#[derive(Debug, Error)]
pub enum QueryError {
    #[error("omslake SQL is read-only: {0} (use `omslake ingest` to add data)")]
    ReadOnly(String),
    #[error("{}", tidy(.0))]
    DataFusion(#[from] DataFusionError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing results to {path}: {error}")]
    Output { path: String, error: String },
}

/// DataFusion errors carry a context chain; the user needs the innermost message on one line.
fn tidy(e: &DataFusionError) -> String {
    let text = e.find_root().to_string();
    text.lines().next().unwrap_or_default().to_string()
}

pub struct Engine {
    ctx: SessionContext,
    snapshot: Snapshot,
}

impl Engine {
    /// An engine over the store's latest commit. Tables without data exist with zero rows.
    pub fn open(store: &Store) -> Result<Engine, QueryError> {
        let snapshot = store.snapshot()?;
        let mut config = SessionConfig::new()
            .with_information_schema(false)
            .with_target_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()));
        // File statistics at planning time would open every footer, and DataFusion 55 reads a
        // Float64 column whose min == max (Parquet leaves NaN out of min/max) as a constant,
        // returning wrong values for NaN rows. Row-group pruning at scan time still applies.
        config.options_mut().execution.collect_statistics = false;
        let ctx = SessionContext::new_with_config(config);
        for t in Catalog::builtin().tables() {
            let files = snapshot.table_files(&t.name).to_vec();
            let provider = SnapshotTable::new(t.arrow_schema(), store.root().to_path_buf(), files);
            ctx.register_table(TableReference::bare(t.name.as_str()), Arc::new(provider))?;
        }
        Ok(Engine { ctx, snapshot })
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Plan a read-only SQL statement. DDL, DML, COPY and SET are refused.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame, QueryError> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        self.ctx.sql_with_options(sql, options).await.map_err(|e| {
            let root = tidy(&e);
            let refused = [
                "DDL not supported",
                "DML not supported",
                "Statement not supported",
            ];
            match refused.iter().find(|p| root.contains(*p)) {
                Some(_) => QueryError::ReadOnly(root.replace("Error during planning: ", "")),
                None => QueryError::DataFusion(e),
            }
        })
    }
}
