//! The memory pool queries run in: DataFusion's fair spill pool, except that repartitions'
//! buffers are granted up to a cap instead of being sent to DataFusion's spill pool.
//!
//! Why: DataFusion 55.2's `RepartitionExec` writes a batch it cannot reserve memory for to a
//! spill pool, and that pool deadlocks when two input partitions spill at once: its reader
//! waits on the oldest file while the batch it needs is in the newer one, every thread parks
//! and the query never returns (apache/datafusion#24883, fixed after 55.2). Under a 20 MB
//! limit a grouped aggregation over two partitions stopped like that in about one run in three.
//!
//! So: under a small limit ([`SINGLE_PARTITION_BELOW`]) queries are planned on one partition,
//! which has no repartition at all, and every reservation is refused past the limit as usual.
//! Above it, repartitions' reservations are granted while all of them together hold at most
//! [`REPARTITION_SHARE`] of the limit; past that they go through the fair pool like any other
//! spillable consumer. Granted bytes count in the pool's total either way, so the limit holds.

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use datafusion::common::Result;
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// Limits below this plan queries on one partition (no repartitions).
pub const SINGLE_PARTITION_BELOW: usize = 512 << 20;

/// The part of the limit (1/n) that repartitions' buffers may hold without being refused.
pub const REPARTITION_SHARE: usize = 4;

/// `inner`, with repartitions' reservations granted up to a cap (see the module doc).
#[derive(Debug)]
pub struct QueryPool<P> {
    inner: P,
    repartition_cap: usize,
    /// Bytes all repartition consumers hold now.
    repartition_reserved: AtomicUsize,
    /// Repartition consumers registered (a test pins DataFusion's consumer name with it).
    repartitions_seen: AtomicUsize,
}

impl<P: MemoryPool> QueryPool<P> {
    /// `inner`, whose limit is `limit` bytes.
    pub fn new(inner: P, limit: usize) -> QueryPool<P> {
        QueryPool {
            inner,
            repartition_cap: limit / REPARTITION_SHARE,
            repartition_reserved: AtomicUsize::new(0),
            repartitions_seen: AtomicUsize::new(0),
        }
    }

    /// How many repartition consumers have registered with this pool.
    pub fn repartitions_seen(&self) -> usize {
        self.repartitions_seen.load(Ordering::Relaxed)
    }
}

/// A consumer whose refused reservation would send batches to DataFusion's repartition spill
/// pool: `RepartitionExec[<partition>]`, registered as able to spill. DataFusion names it; the
/// test `datafusion_repartitions_are_recognised` fails if it renames it.
fn spills_through_repartition(consumer: &MemoryConsumer) -> bool {
    consumer.can_spill() && consumer.name().starts_with("RepartitionExec[")
}

impl<P: MemoryPool> fmt::Display for QueryPool<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.inner, f)
    }
}

impl<P: MemoryPool> MemoryPool for QueryPool<P> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if spills_through_repartition(consumer) {
            self.repartitions_seen.fetch_add(1, Ordering::Relaxed);
        }
        self.inner.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        if spills_through_repartition(reservation.consumer()) {
            self.repartition_reserved
                .fetch_add(additional, Ordering::Relaxed);
        }
        self.inner.grow(reservation, additional)
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        if spills_through_repartition(reservation.consumer()) {
            self.repartition_reserved
                .fetch_sub(shrink, Ordering::Relaxed);
        }
        self.inner.shrink(reservation, shrink)
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        if !spills_through_repartition(reservation.consumer()) {
            return self.inner.try_grow(reservation, additional);
        }
        let before = self
            .repartition_reserved
            .fetch_add(additional, Ordering::Relaxed);
        if before.saturating_add(additional) <= self.repartition_cap {
            self.inner.grow(reservation, additional);
            return Ok(());
        }
        let granted = self.inner.try_grow(reservation, additional);
        if granted.is_err() {
            self.repartition_reserved
                .fetch_sub(additional, Ordering::Relaxed);
        }
        granted
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::prelude::{SessionConfig, SessionContext};

    #[test]
    fn repartitions_are_granted_up_to_their_share_and_counted() {
        let pool: Arc<dyn MemoryPool> = Arc::new(QueryPool::new(FairSpillPool::new(4000), 4000));
        let repartition = MemoryConsumer::new("RepartitionExec[0]")
            .with_can_spill(true)
            .register(&pool);
        let sorter = MemoryConsumer::new("ExternalSorter[0]")
            .with_can_spill(true)
            .register(&pool);
        let unspillable = MemoryConsumer::new("RepartitionExec[Merge 0]").register(&pool);

        // A quarter of the limit is granted whatever the fair pool says.
        repartition.try_grow(1000).unwrap();
        assert_eq!(pool.reserved(), 1000);
        // Past it, the repartition is a spillable consumer like others: half of what is left.
        assert!(repartition.try_grow(2000).is_err());
        repartition.try_grow(500).unwrap();
        assert_eq!(pool.reserved(), 1500);
        sorter.try_grow(2000).unwrap();
        assert!(sorter.try_grow(1).is_err());
        // Everything granted counts against those that cannot spill: the limit holds.
        assert!(unspillable.try_grow(501).is_err());
        unspillable.try_grow(500).unwrap();
        assert_eq!(pool.reserved(), 4000);
        repartition.shrink(1500);
        assert_eq!(pool.reserved(), 2500);
        // Shrunk below its share, the repartition is granted again.
        repartition.try_grow(1000).unwrap();
    }

    /// DataFusion's repartition consumers are the ones `spills_through_repartition` names: a
    /// rename would silently give them the fair pool's refusals (and the deadlock) back.
    #[test]
    fn datafusion_repartitions_are_recognised() {
        let pool = Arc::new(QueryPool::new(FairSpillPool::new(1 << 30), 1 << 30));
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(pool.clone())
            .build_arc()
            .unwrap();
        let config = SessionConfig::new().with_target_partitions(2);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let schema = Arc::new(Schema::new(vec![Field::new("g", DataType::Int64, false)]));
        let batch = |from: i64| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int64Array::from_iter_values(from..from + 1000))],
            )
            .unwrap()
        };
        let table =
            MemTable::try_new(schema.clone(), vec![vec![batch(0)], vec![batch(500)]]).unwrap();
        ctx.register_table("t", Arc::new(table)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let rows = rt.block_on(async {
            let df = ctx
                .sql("SELECT g, count(*) FROM t GROUP BY g")
                .await
                .unwrap();
            df.collect().await.unwrap()
        });
        assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 1500);
        assert!(
            pool.repartitions_seen() > 0,
            "no RepartitionExec[n] consumer registered"
        );
    }
}
