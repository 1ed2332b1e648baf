//! The order in which decoded output reaches the sink: the input's (sources in the order
//! given, a source's pieces in file order), whichever thread decoded what. The store keeps
//! the first copy of a duplicate record, and rows with equal times in the order they came, so
//! this makes what an ingest stores depend on its input alone.
//!
//! Each task (a source decoded whole, a run of small sources, or one piece of a large one)
//! has a key. Only the task
//! whose turn it is sends; another holds its output and, once finished, parks it for the
//! thread that ends the turn before it to send. Held and parked output is bounded: past
//! the bounds a thread waits for its turn.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::IngestError;

/// A task's place in the input: (source, piece of that source).
pub type Key = (usize, usize);

/// Bytes of output a task that is not yet sending holds before it waits for its turn.
pub const HOLD_BYTES: usize = 64 << 20;

/// Bytes of the finished tasks' output waiting for their turn.
const PARK_BYTES: usize = 64 << 20;

pub struct Order<M> {
    state: Mutex<State<M>>,
    turn_moved: Condvar,
}

struct State<M> {
    /// The task whose output is sent now.
    turn: Key,
    /// Per source: how many tasks its output comes in (none when it was skipped), once it
    /// has been opened.
    tasks: Vec<Option<usize>>,
    /// Output of finished tasks waiting for their turn, and its bytes.
    parked: BTreeMap<Key, (Vec<M>, usize)>,
    parked_bytes: usize,
    stopped: bool,
}

impl<M> State<M> {
    /// Move the turn past sources that have no more tasks.
    fn settle(&mut self) {
        while let Some(Some(n)) = self.tasks.get(self.turn.0) {
            if self.turn.1 < *n {
                break;
            }
            self.turn = (self.turn.0 + 1, 0);
        }
    }
}

impl<M> Order<M> {
    pub fn new(sources: usize) -> Order<M> {
        Order {
            state: Mutex::new(State {
                turn: (0, 0),
                tasks: vec![None; sources],
                parked: BTreeMap::new(),
                parked_bytes: 0,
                stopped: false,
            }),
            turn_moved: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<M>> {
        // Also used while unwinding: never panic here.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_turn(&self, key: Key) -> bool {
        self.lock().turn == key
    }

    /// Wait until it is `key`'s turn.
    pub fn wait_turn(&self, key: Key) -> Result<(), IngestError> {
        let mut st = self.lock();
        while st.turn != key {
            if st.stopped {
                return Err(IngestError::Stopped);
            }
            st = self.turn_moved.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        Ok(())
    }

    /// Source `source`'s output comes in `tasks` tasks. `send` sends parked output whose turn
    /// this brings.
    pub fn plan(
        &self,
        source: usize,
        tasks: usize,
        send: impl FnMut(M) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let mut st = self.lock();
        st.tasks[source] = Some(tasks);
        let before = st.turn;
        st.settle();
        match st.turn != before {
            true => self.send_parked(st, send),
            false => Ok(()),
        }
    }

    /// Task `key` is finished, with `held` (of `bytes`) not sent yet. Returns `held` back
    /// when it is the task's turn (waiting for it when there is no room to park): the caller
    /// sends it and then calls [`Order::pass`]. Otherwise parks it and returns `None`.
    pub fn finish(
        &self,
        key: Key,
        held: Vec<M>,
        bytes: usize,
    ) -> Result<Option<Vec<M>>, IngestError> {
        let mut st = self.lock();
        if st.turn != key && st.parked_bytes + bytes <= PARK_BYTES {
            st.parked_bytes += bytes;
            st.parked.insert(key, (held, bytes));
            return Ok(None);
        }
        drop(st);
        self.wait_turn(key)?;
        Ok(Some(held))
    }

    /// Task `key`, whose turn it is, has sent all its output: pass the turn on, sending the
    /// parked output of the tasks it comes to.
    pub fn pass(
        &self,
        key: Key,
        send: impl FnMut(M) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        let mut st = self.lock();
        debug_assert_eq!(st.turn, key, "only the task whose turn it is passes it");
        st.turn.1 += 1;
        st.settle();
        self.send_parked(st, send)
    }

    /// Send the parked output of the task whose turn it is, and of each after it, until the
    /// turn comes to a task not finished yet.
    fn send_parked<'s>(
        &'s self,
        mut st: MutexGuard<'s, State<M>>,
        mut send: impl FnMut(M) -> Result<(), IngestError>,
    ) -> Result<(), IngestError> {
        loop {
            self.turn_moved.notify_all();
            let turn = st.turn;
            let Some((output, bytes)) = st.parked.remove(&turn) else {
                return Ok(());
            };
            st.parked_bytes -= bytes;
            drop(st);
            // The turn stays here while the output is sent: no other thread sends meanwhile.
            for m in output {
                send(m)?;
            }
            st = self.lock();
            st.turn.1 += 1;
            st.settle();
        }
    }

    /// Wake every waiting thread: the run stopped.
    pub fn halt(&self) {
        self.lock().stopped = true;
        self.turn_moved.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use proptest::prelude::*;

    use super::*;

    /// Threads that finish tasks in any order, each holding its output until its turn (or
    /// parking it), as a worker does.
    fn sent_in_order(tasks: &[usize], delays: &[u64], threads: usize) -> Vec<Key> {
        let order = Order::new(tasks.len());
        let keys: Vec<Key> = (tasks.iter().enumerate())
            .flat_map(|(s, &n)| (0..n).map(move |p| (s, p)))
            .collect();
        let next = Mutex::new(0);
        let sent = Mutex::new(Vec::new());
        let send = |k: Key| {
            sent.lock().unwrap().push(k);
            Ok(())
        };
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        *n += 1;
                        *n - 1
                    };
                    // Each source's plan is made when its first task is taken, as an opening
                    // thread does; sources without tasks are planned by the next one's taker.
                    if i >= keys.len() {
                        for (s, &n) in tasks.iter().enumerate().filter(|(_, &n)| n == 0) {
                            order.plan(s, n, send).unwrap();
                        }
                        return;
                    }
                    let key = keys[i];
                    if key.1 == 0 {
                        order.plan(key.0, tasks[key.0], send).unwrap();
                    }
                    std::thread::sleep(Duration::from_micros(delays[i % delays.len()]));
                    if let Some(held) = order.finish(key, vec![key], 1).unwrap() {
                        held.into_iter().try_for_each(send).unwrap();
                        order.pass(key, send).unwrap();
                    }
                });
            }
        });
        sent.into_inner().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn output_is_sent_in_the_order_of_its_keys_whichever_thread_finishes_first(
            tasks in proptest::collection::vec(0..4usize, 1..8),
            delays in proptest::collection::vec(0..300u64, 1..10),
            threads in 1..4usize,
        ) {
            let sent = sent_in_order(&tasks, &delays, threads);
            let mut expected = sent.clone();
            expected.sort();
            prop_assert_eq!(sent.len(), tasks.iter().sum::<usize>());
            prop_assert_eq!(sent, expected);
        }
    }

    #[test]
    fn a_task_without_room_to_park_waits_for_its_turn_and_a_halt_wakes_it() {
        let order: Order<u8> = Order::new(1);
        order.plan(0, 3, |_| Ok(())).unwrap();
        // Task 2 finishes while task 0 runs: it parks while there is room.
        assert!(order.finish((0, 2), vec![2], PARK_BYTES).unwrap().is_none());
        std::thread::scope(|s| {
            let waiting = s.spawn(|| order.finish((0, 1), vec![1], 1));
            std::thread::sleep(Duration::from_millis(20));
            assert!(!waiting.is_finished(), "no room to park: it waits");
            order.halt();
            assert!(matches!(waiting.join().unwrap(), Err(IngestError::Stopped)));
        });
    }
}
