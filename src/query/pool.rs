//! The memory pool queries run in: DataFusion's fair spill pool, except that a repartition's
//! buffers are counted but never refused.
//!
//! Why: DataFusion 55.2's `RepartitionExec` writes a batch it cannot reserve memory for to a
//! spill pool, and that pool deadlocks when two input partitions spill at once: its reader
//! waits on the oldest file while the batch it needs is in the newer one, every thread parks
//! and the query never returns (apache/datafusion#24883, fixed after 55.2). Under a small
//! `--memory-limit`, a grouped aggregation over two partitions of the scale-40 store stopped
//! like that in about one run in three. With its reservations always granted, a repartition
//! keeps its batches in memory instead; they still count in the pool's total, and the
//! operators that can spill (aggregations, sorts) still spill or fail with the usual message.

use std::fmt;

use datafusion::common::Result;
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// `inner`, with the reservations of repartitions (see the module doc) always granted.
#[derive(Debug)]
pub struct QueryPool<P> {
    inner: P,
}

impl<P: MemoryPool> QueryPool<P> {
    pub fn new(inner: P) -> QueryPool<P> {
        QueryPool { inner }
    }
}

/// A consumer whose refused reservation would send batches to DataFusion's repartition spill
/// pool: `RepartitionExec[<partition>]`, registered as able to spill.
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
        self.inner.register(consumer)
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer)
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional)
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink)
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        if spills_through_repartition(reservation.consumer()) {
            self.inner.grow(reservation, additional);
            return Ok(());
        }
        self.inner.try_grow(reservation, additional)
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

    use datafusion::execution::memory_pool::FairSpillPool;

    #[test]
    fn repartitions_are_granted_and_counted_others_are_refused_past_the_limit() {
        let pool: Arc<dyn MemoryPool> = Arc::new(QueryPool::new(FairSpillPool::new(1000)));
        let repartition = MemoryConsumer::new("RepartitionExec[0]")
            .with_can_spill(true)
            .register(&pool);
        let sorter = MemoryConsumer::new("ExternalSorter[0]")
            .with_can_spill(true)
            .register(&pool);
        let unspillable = MemoryConsumer::new("RepartitionExec[Merge 0]").register(&pool);

        repartition.try_grow(5000).unwrap();
        assert_eq!(pool.reserved(), 5000);
        // Half of the pool each for the two spillable consumers.
        sorter.try_grow(500).unwrap();
        assert!(sorter.try_grow(1).is_err());
        // The repartition's bytes count against those that cannot spill.
        assert!(unspillable.try_grow(1).is_err());
        repartition.shrink(5000);
        assert_eq!(pool.reserved(), 500);
    }
}
