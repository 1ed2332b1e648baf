//! A table as a snapshot sees it: the committed files named by the log, never a folder listing.
//! Time filters on `TimeGenerated` drop whole files (and so day partitions) before any is
//! opened, using the min/max the log keeps for each file.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use datafusion::arrow::compute::SortOptions;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::{DataFusionError, Result, ScalarValue};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::listing::{ListingTableUrl, PartitionedFile};
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder};
use datafusion::datasource::table_schema::TableSchema;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{
    BinaryExpr, Expr, Operator, TableProviderFilterPushDown, TableType,
};
use datafusion::object_store::ObjectMeta;
use datafusion::physical_expr::expressions::col;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::ExecutionPlan;

use crate::schema::TIME_COLUMN;
use crate::store::DataFile;

/// The schema queries see: string columns as string views. Decoding a dictionary page into
/// views copies no string bytes (most values point into the page), where plain strings copy
/// every value, so most searches run faster (bench/NOTES.md), given a `lower` that keeps views
/// too (see `lower.rs`).
pub fn read_as_views(schema: &SchemaRef) -> SchemaRef {
    retype(schema, &DataType::Utf8, DataType::Utf8View)
}

/// `schema` with every column of type `from` made `to`.
pub fn retype(schema: &SchemaRef, from: &DataType, to: DataType) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() == from {
            true => f.as_ref().clone().with_data_type(to.clone()),
            false => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

#[derive(Debug)]
pub struct SnapshotTable {
    schema: SchemaRef,
    root: PathBuf,
    files: Vec<DataFile>,
    prune_files: bool,
}

impl SnapshotTable {
    pub fn new(schema: SchemaRef, root: PathBuf, files: Vec<DataFile>) -> SnapshotTable {
        SnapshotTable {
            schema,
            root,
            files,
            prune_files: true,
        }
    }

    /// Whether filters on `TimeGenerated` skip files (on by default).
    pub fn with_file_pruning(mut self, on: bool) -> SnapshotTable {
        self.prune_files = on;
        self
    }
}

#[async_trait]
impl TableProvider for SnapshotTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Inexact: we prune files (and Parquet prunes row groups), DataFusion still filters rows.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut bounds = TimeBounds::default();
        if self.prune_files {
            for f in filters {
                bounds.narrow(f);
            }
        }
        let files: Vec<&DataFile> = self
            .files
            .iter()
            .filter(|f| bounds.overlaps(f.min_time, f.max_time))
            .collect();
        if files.is_empty() {
            let schema = match projection {
                Some(p) => Arc::new(self.schema.project(p)?),
                None => self.schema.clone(),
            };
            return Ok(Arc::new(EmptyExec::new(schema)));
        }
        // The log names every file and its size, so nothing is listed or asked of the object
        // store before reading (a listing table asks for each file's metadata, a cost paid by
        // every search). A committed file that has gone missing or changed size must fail the
        // query, not shrink its answer or fail in the Parquet reader with an offset error.
        let mut partitioned = Vec::with_capacity(files.len());
        for f in &files {
            let path = self.root.join(&f.path);
            let meta = std::fs::metadata(&path).ok().filter(|m| m.is_file());
            let Some(meta) = meta else {
                return Err(DataFusionError::Execution(format!(
                    "committed file {} is missing: removed by `omslake vacuum` if this is an older version (--as-of), else run `omslake verify`",
                    path.display()
                )));
            };
            if meta.len() != f.bytes {
                return Err(DataFusionError::Execution(format!(
                    "committed file {} has {} bytes, the log says {}; run `omslake verify`",
                    path.display(),
                    meta.len(),
                    f.bytes
                )));
            }
            let url = ListingTableUrl::parse(path.to_string_lossy())?;
            partitioned.push(PartitionedFile::new_from_meta(ObjectMeta {
                location: url.prefix().clone(),
                last_modified: meta
                    .modified()
                    .map(DateTime::<Utc>::from)
                    .unwrap_or_default(),
                size: f.bytes,
                e_tag: None,
                version: None,
            }));
        }
        let groups = FileGroup::new(partitioned).split_files(state.config().target_partitions());
        // Rows are in time order within each file (the store's layout); DataFusion keeps the
        // ordering only for groups it can tell are ordered.
        let time = PhysicalSortExpr::new(
            col(TIME_COLUMN, &self.schema)?,
            SortOptions {
                descending: false,
                nulls_first: false,
            },
        );
        let format = ParquetFormat::default();
        let source = format.file_source(TableSchema::from(self.schema.clone()));
        let config = FileScanConfigBuilder::new(ObjectStoreUrl::local_filesystem(), source)
            .with_file_groups(groups)
            .with_projection_indices(projection.cloned())?
            .with_limit(limit)
            .with_output_ordering(LexOrdering::new([time]).into_iter().collect())
            .build();
        format.create_physical_plan(state, config).await
    }
}

/// Inclusive `TimeGenerated` bounds (microseconds) implied by a scan's filters.
#[derive(Debug, Default, Clone, Copy)]
pub struct TimeBounds {
    pub lo: Option<i64>,
    pub hi: Option<i64>,
}

impl TimeBounds {
    pub fn overlaps(&self, min: i64, max: i64) -> bool {
        self.lo.is_none_or(|lo| max >= lo) && self.hi.is_none_or(|hi| min <= hi)
    }

    fn lower(&mut self, v: i64) {
        self.lo = Some(self.lo.map_or(v, |lo| lo.max(v)));
    }

    fn upper(&mut self, v: i64) {
        self.hi = Some(self.hi.map_or(v, |hi| hi.min(v)));
    }

    /// Narrow by one filter; filters it does not understand leave the bounds as they are.
    pub fn narrow(&mut self, expr: &Expr) {
        match expr {
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::And,
                right,
            }) => {
                self.narrow(left);
                self.narrow(right);
            }
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                let (op, lit) = match (is_time(left), is_time(right)) {
                    (true, false) => (*op, literal_micros(right)),
                    (false, true) => match op.swap() {
                        Some(op) => (op, literal_micros(left)),
                        None => return,
                    },
                    _ => return,
                };
                let Some((floor, ceil)) = lit else { return };
                match op {
                    Operator::Gt => self.lower(floor.saturating_add(1)),
                    Operator::GtEq => self.lower(floor),
                    Operator::Lt => self.upper(ceil.saturating_sub(1)),
                    Operator::LtEq => self.upper(ceil),
                    Operator::Eq => {
                        self.lower(floor);
                        self.upper(ceil);
                    }
                    _ => {}
                }
            }
            Expr::Between(b) if !b.negated && is_time(&b.expr) => {
                if let Some((floor, _)) = literal_micros(&b.low) {
                    self.lower(floor);
                }
                if let Some((_, ceil)) = literal_micros(&b.high) {
                    self.upper(ceil);
                }
            }
            _ => {}
        }
    }
}

/// Is `e` the stored column, or a cast of it that keeps every value (to microseconds or
/// nanoseconds, any time zone: the instant is the same)? A cast to seconds or milliseconds
/// truncates, so `CAST(t AS TIMESTAMP(0)) = x` holds for rows the bounds of `t = x` would drop;
/// such filters are left to the scan.
fn is_time(e: &Expr) -> bool {
    match e {
        Expr::Column(c) => c.name == TIME_COLUMN,
        Expr::Cast(c) => {
            matches!(
                c.field.data_type(),
                DataType::Timestamp(TimeUnit::Microsecond | TimeUnit::Nanosecond, _)
            ) && is_time(&c.expr)
        }
        _ => false,
    }
}

/// A typed timestamp literal as microseconds, rounded down and up (a nanosecond literal may
/// fall between two). Strings and other types are not read: by the time filters reach a scan
/// DataFusion has made comparable literals timestamps, and any other reading could differ from
/// its own.
fn literal_micros(e: &Expr) -> Option<(i64, i64)> {
    let Expr::Literal(v, _) = e else { return None };
    let exact = |m: i64| Some((m, m));
    match v {
        ScalarValue::TimestampMicrosecond(Some(m), _) => exact(*m),
        ScalarValue::TimestampMillisecond(Some(m), _) => exact(m.checked_mul(1_000)?),
        ScalarValue::TimestampSecond(Some(s), _) => exact(s.checked_mul(1_000_000)?),
        ScalarValue::TimestampNanosecond(Some(n), _) => {
            let floor = n.div_euclid(1000);
            let ceil = floor + i64::from(n.rem_euclid(1000) != 0);
            Some((floor, ceil))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_datetime;
    use datafusion::logical_expr::{cast, ident, lit};

    fn col(name: &str) -> Expr {
        ident(name)
    }

    fn ts(s: &str) -> Expr {
        lit(ScalarValue::TimestampMicrosecond(
            Some(parse_datetime(s).unwrap()),
            Some("UTC".into()),
        ))
    }

    #[test]
    fn bounds_from_comparisons_and_between() {
        let day = 86_400_000_000i64;
        let mut b = TimeBounds::default();
        b.narrow(&col("TimeGenerated").gt_eq(ts("1970-01-02T00:00:00Z")));
        b.narrow(&ts("1970-01-03T00:00:00Z").gt(col("TimeGenerated")));
        assert_eq!((b.lo, b.hi), (Some(day), Some(2 * day - 1)));
        assert!(b.overlaps(0, day));
        assert!(!b.overlaps(0, day - 1));
        assert!(!b.overlaps(2 * day, 3 * day));
        let mut b = TimeBounds::default();
        b.narrow(
            &col("TimeGenerated").between(ts("1970-01-02T00:00:00Z"), ts("1970-01-02T00:00:00Z")),
        );
        assert_eq!((b.lo, b.hi), (Some(day), Some(day)));
        let mut b = TimeBounds::default();
        b.narrow(&col("Computer").gt(lit("x")));
        b.narrow(&col("TimeGenerated").not_eq(ts("1970-01-02T00:00:00Z")));
        assert_eq!((b.lo, b.hi), (None, None));
    }

    #[test]
    fn truncating_casts_and_strings_do_not_narrow() {
        for unit in [TimeUnit::Second, TimeUnit::Millisecond] {
            let mut b = TimeBounds::default();
            let t = cast(col("TimeGenerated"), DataType::Timestamp(unit, None));
            b.narrow(&t.eq(ts("1970-01-02T00:00:00Z")));
            assert_eq!((b.lo, b.hi), (None, None));
        }
        let mut b = TimeBounds::default();
        b.narrow(&col("TimeGenerated").gt(lit("1970-01-02")));
        assert_eq!((b.lo, b.hi), (None, None));
        // Lossless casts still narrow.
        let mut b = TimeBounds::default();
        let t = cast(
            col("TimeGenerated"),
            DataType::Timestamp(TimeUnit::Nanosecond, None),
        );
        b.narrow(&t.gt(lit(ScalarValue::TimestampNanosecond(Some(1500), None))));
        assert_eq!((b.lo, b.hi), (Some(2), None));
    }

    #[test]
    fn nanosecond_literals_at_the_ends_of_i64_do_not_overflow() {
        for n in [i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1] {
            for op in [
                Operator::Lt,
                Operator::LtEq,
                Operator::Gt,
                Operator::GtEq,
                Operator::Eq,
            ] {
                let mut b = TimeBounds::default();
                let l = lit(ScalarValue::TimestampNanosecond(Some(n), None));
                b.narrow(&Expr::BinaryExpr(BinaryExpr::new(
                    Box::new(col("TimeGenerated")),
                    op,
                    Box::new(l),
                )));
                let _ = b.overlaps(i64::MIN, i64::MAX);
            }
        }
    }
}
