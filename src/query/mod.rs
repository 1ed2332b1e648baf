//! Queries: a DataFusion `SessionContext` over one committed snapshot, read-only SQL.

pub mod count_distinct;
pub mod lower;
pub mod lower_eq;
pub mod output;
pub mod pool;
pub mod table;
pub mod timestamp_text;

use std::num::NonZeroUsize;
use std::sync::Arc;

use datafusion::common::TableReference;
use datafusion::error::DataFusionError;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::SessionStateBuilder;
use datafusion::optimizer::{Optimizer, OptimizerRule};
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
    DataFusion(DataFusionError),
    #[error("the query needs more memory than its limit of {} (--memory-limit): {detail}; raise the limit, or narrow the query (a time range, fewer columns or groups)", human_size(*.limit))]
    MemoryLimit { limit: usize, detail: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing results to {path}: {error}")]
    Output { path: String, error: String },
}

impl From<DataFusionError> for QueryError {
    fn from(e: DataFusionError) -> QueryError {
        QueryError::DataFusion(e)
    }
}

fn human_size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b => format!("{:.1} KB", b as f64 / 1024.0),
    }
}

/// DataFusion errors carry a context chain; the user needs the innermost message on one line.
fn tidy(e: &DataFusionError) -> String {
    let text = e.find_root().to_string();
    text.lines().next().unwrap_or_default().to_string()
}

/// DataFusion's optimizer rules and ours: [`count_distinct::CountDistinctStrings`] just before
/// the rule it pre-empts, [`lower_eq::FuseLowerEq`] last (after filters are pushed down).
pub(crate) fn optimizer_rules() -> Vec<Arc<dyn OptimizerRule + Send + Sync>> {
    let mut rules = Optimizer::new().rules;
    let at = rules
        .iter()
        .position(|r| r.name() == "single_distinct_aggregation_to_group_by")
        .unwrap_or(0);
    rules.insert(
        at,
        Arc::new(count_distinct::CountDistinctStrings::default()),
    );
    rules.push(Arc::new(lower_eq::FuseLowerEq::default()));
    rules
}

/// How queries run.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// Bytes the operators of one query may hold; sorts and aggregations spill to temporary
    /// files beyond it, other operators fail with [`QueryError::MemoryLimit`].
    pub memory_limit: usize,
    /// Skip files whose `TimeGenerated` range the filters exclude (see `table`). Off only to
    /// check the pruning against the unpruned answer.
    pub prune_files: bool,
    /// Read the store as of this commit (`--as-of`) instead of the latest.
    pub as_of: Option<u64>,
}

impl Default for EngineOptions {
    /// Half the machine's memory: a query that would need more stops with an error instead
    /// of being killed by the operating system.
    fn default() -> Self {
        EngineOptions {
            memory_limit: physical_memory() / 2,
            prune_files: true,
            as_of: None,
        }
    }
}

fn physical_memory() -> usize {
    // SAFETY: sysconf has no preconditions.
    let (pages, page) = unsafe {
        (
            libc::sysconf(libc::_SC_PHYS_PAGES),
            libc::sysconf(libc::_SC_PAGESIZE),
        )
    };
    match (usize::try_from(pages), usize::try_from(page)) {
        (Ok(n), Ok(p)) if n > 0 && p > 0 => n.saturating_mul(p),
        _ => 4 << 30,
    }
}

pub struct Engine {
    ctx: SessionContext,
    snapshot: Snapshot,
    memory_limit: usize,
    config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
}

/// A session of omslake's optimizer rules and functions, without tables.
fn new_context(config: SessionConfig, runtime: Arc<RuntimeEnv>) -> SessionContext {
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_optimizer_rules(optimizer_rules())
        .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_udf(lower::ViewLower::udf());
    ctx
}

impl Engine {
    /// An engine over the store's latest commit with default options.
    pub fn open(store: &Store) -> Result<Engine, QueryError> {
        Engine::open_with(store, &EngineOptions::default())
    }

    /// An engine over the store's latest commit. Tables without data exist with zero rows.
    pub fn open_with(store: &Store, options: &EngineOptions) -> Result<Engine, QueryError> {
        let snapshot = store.read_snapshot(options.as_of)?;
        // Under a small limit, one partition: no repartition, so nothing reaches DataFusion's
        // repartition spill pool (see `pool`).
        let partitions = match options.memory_limit < pool::SINGLE_PARTITION_BELOW {
            true => 1,
            false => std::thread::available_parallelism().map_or(2, |n| n.get()),
        };
        let mut config = SessionConfig::new()
            .with_information_schema(false)
            .with_target_partitions(partitions);
        // File statistics at planning time would open every footer, and DataFusion 55 reads a
        // Float64 column whose min == max (Parquet leaves NaN out of min/max) as a constant,
        // returning wrong values for NaN rows. Row-group pruning at scan time still applies.
        config.options_mut().execution.collect_statistics = false;
        // Joins build one hash table from their left side and probe it from every partition
        // of the right, instead of hash-partitioning both sides first. A search's `IN
        // {subsearch}` puts the subsearch's few keys on the left (see `search::translate`), and
        // without statistics DataFusion cannot tell which side is small: repartitioning q3's
        // probe rows cost more than the join (bench/NOTES.md).
        config.options_mut().optimizer.repartition_joins = false;
        // A sort keeps this much back for merging its spill files (10 MB by default): scale it
        // down with small limits so that sorts still spill instead of failing.
        let exec = &mut config.options_mut().execution;
        exec.sort_spill_reservation_bytes = exec
            .sort_spill_reservation_bytes
            .min(options.memory_limit / 16);
        // Spillable operators share the pool fairly; the error names the largest consumers;
        // repartitions are granted up to their share (see `pool`).
        let pool = pool::QueryPool::new(
            TrackConsumersPool::new(
                FairSpillPool::new(options.memory_limit),
                NonZeroUsize::new(3).expect("non-zero"),
            ),
            options.memory_limit,
        );
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::new(pool))
            .build_arc()?;
        let ctx = new_context(config.clone(), runtime.clone());
        for t in Catalog::builtin().tables() {
            let files = snapshot.table_files(&t.name).to_vec();
            let provider = SnapshotTable::new(
                table::read_as_views(&t.arrow_schema()),
                store.root().to_path_buf(),
                files,
            )
            .with_file_pruning(options.prune_files);
            ctx.register_table(TableReference::bare(t.name.as_str()), Arc::new(provider))?;
        }
        Ok(Engine {
            ctx,
            snapshot,
            memory_limit: options.memory_limit,
            config,
            runtime,
        })
    }

    /// The same snapshot, with every table seen through `start <= TimeGenerated < end`
    /// (microseconds): the filter reaches each scan, so it skips files as a query's own would.
    /// Shares this engine's memory pool.
    pub async fn with_time_range(&self, start: i64, end: i64) -> Result<Engine, QueryError> {
        use datafusion::catalog::default_table_source::provider_as_source;
        use datafusion::catalog::view::ViewTable;
        use datafusion::logical_expr::{ident, lit, LogicalPlanBuilder};
        use datafusion::scalar::ScalarValue;
        let ctx = new_context(self.config.clone(), self.runtime.clone());
        let at = |m: i64| {
            lit(ScalarValue::TimestampMicrosecond(
                Some(m),
                Some("UTC".into()),
            ))
        };
        for t in Catalog::builtin().tables() {
            let provider = self
                .ctx
                .table_provider(TableReference::bare(t.name.as_str()))
                .await?;
            let name = TableReference::bare(t.name.as_str());
            let plan = LogicalPlanBuilder::scan(name, provider_as_source(provider), None)?
                .filter(
                    ident(crate::schema::TIME_COLUMN)
                        .gt_eq(at(start))
                        .and(ident(crate::schema::TIME_COLUMN).lt(at(end))),
                )?
                .build()?;
            ctx.register_table(
                TableReference::bare(t.name.as_str()),
                Arc::new(ViewTable::new(plan, None)),
            )?;
        }
        Ok(Engine {
            ctx,
            snapshot: self.snapshot.clone(),
            memory_limit: self.memory_limit,
            config: self.config.clone(),
            runtime: self.runtime.clone(),
        })
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Say that a query ran out of its memory pool in words the user can act on.
    pub fn explain_error(&self, e: QueryError) -> QueryError {
        if let QueryError::DataFusion(df) = &e {
            if let DataFusionError::ResourcesExhausted(m) = df.find_root() {
                let last = m.lines().last().unwrap_or(m).trim();
                return QueryError::MemoryLimit {
                    limit: self.memory_limit,
                    detail: last.trim_start_matches("Error: ").to_string(),
                };
            }
        }
        e
    }

    /// Plan a read-only SQL statement. DDL, DML, COPY and SET are refused.
    pub async fn sql(&self, sql: &str) -> Result<DataFrame, QueryError> {
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = self.ctx.sql_with_options(sql, options).await.map_err(|e| {
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
        })?;
        Ok(sized_for_width(df))
    }
}

/// Columns of a result up to which batches keep DataFusion's default size.
const NARROW_COLUMNS: usize = 32;

/// `df` with batches of fewer rows when its result is wide: a reader holds a batch of every
/// column it reads, so an export's memory follows rows × columns per batch (measured in
/// bench/NOTES.md, 2026-12-04).
fn sized_for_width(df: DataFrame) -> DataFrame {
    let columns = df.schema().fields().len();
    if columns <= NARROW_COLUMNS {
        return df;
    }
    let (mut state, plan) = df.into_parts();
    let default = state.config().batch_size();
    let rows = (default * NARROW_COLUMNS / columns).max(1024);
    if let Ok(rows) = datafusion::common::config::ConfigNonZeroUsize::try_new(rows) {
        state.config_mut().options_mut().execution.batch_size = rows;
    }
    DataFrame::new(state, plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch_size(df: DataFrame) -> usize {
        df.into_parts().0.config().batch_size()
    }

    #[tokio::test]
    async fn wide_results_are_read_in_smaller_batches() {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(&Store::open(dir.path())).unwrap();
        let narrow = engine
            .sql(r#"SELECT "UserId", count(*) FROM "OfficeActivity" GROUP BY 1"#)
            .await
            .unwrap();
        assert_eq!(batch_size(narrow), 8192);
        let wide = engine
            .sql(r#"SELECT * FROM "OfficeActivity""#)
            .await
            .unwrap();
        let columns = wide.schema().fields().len();
        assert!(columns > NARROW_COLUMNS);
        assert_eq!(
            batch_size(wide),
            (8192 * NARROW_COLUMNS / columns).max(1024)
        );
    }
}
