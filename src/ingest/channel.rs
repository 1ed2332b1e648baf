//! What a decoding worker hands to the writer thread, and how: over a channel, in the
//! input's order (see `order`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use arrow::record_batch::RecordBatch;

use super::order::{self, Key, Order};
use super::{IngestError, Reject, Sink};
use crate::schema::TableSchema;

/// What a decoding worker hands to the writer thread.
pub(super) enum Msg<P> {
    Batch(Result<P, IngestError>),
    Reject(Reject),
}

/// Stops the run when dropped while its thread panics.
pub(super) struct HaltOnPanic<F: Fn()>(pub(super) F);

impl<F: Fn()> Drop for HaltOnPanic<F> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            (self.0)();
        }
    }
}

/// A worker's view of the sink: batches (prepared here) and rejects go over a channel to the
/// writer thread, when it is their task's turn (see `order`).
pub(super) struct ChannelSink<'a, S: Sink> {
    tx: mpsc::SyncSender<Msg<S::Prepared>>,
    stop: &'a AtomicBool,
    order: &'a Order<Msg<S::Prepared>>,
    /// The task being decoded; whether it is its turn (it sends as it decodes); what it
    /// holds until then, and the bytes of that.
    key: Key,
    sending: bool,
    held: Vec<Msg<S::Prepared>>,
    held_bytes: usize,
}

impl<'a, S: Sink> ChannelSink<'a, S> {
    pub(super) fn new(
        tx: mpsc::SyncSender<Msg<S::Prepared>>,
        stop: &'a AtomicBool,
        order: &'a Order<Msg<S::Prepared>>,
    ) -> Self {
        ChannelSink {
            tx,
            stop,
            order,
            key: (0, 0),
            sending: false,
            held: Vec::new(),
            held_bytes: 0,
        }
    }

    /// What is sent from now on belongs to task `key`.
    pub(super) fn start(&mut self, key: Key) {
        debug_assert!(self.held.is_empty());
        (self.key, self.sending) = (key, false);
    }

    fn send(&mut self, msg: Msg<S::Prepared>, bytes: usize) -> Result<(), IngestError> {
        if self.stop.load(Ordering::SeqCst) {
            return Err(IngestError::Stopped);
        }
        if !self.sending {
            if !self.order.is_turn(self.key) {
                self.held.push(msg);
                self.held_bytes += bytes;
                if self.held_bytes <= order::HOLD_BYTES {
                    return Ok(());
                }
                self.order.wait_turn(self.key)?;
                self.sending = true;
                return self.send_held();
            }
            self.sending = true;
            self.send_held()?;
        }
        send_now(&self.tx, msg)
    }

    fn send_held(&mut self) -> Result<(), IngestError> {
        self.held_bytes = 0;
        std::mem::take(&mut self.held)
            .into_iter()
            .try_for_each(|m| send_now(&self.tx, m))
    }

    /// The task's output is complete: send it if it is its turn (and pass the turn on), or
    /// leave it for the thread that ends the turn before it.
    pub(super) fn finish(&mut self) -> Result<(), IngestError> {
        if !self.sending {
            let held = std::mem::take(&mut self.held);
            let bytes = std::mem::take(&mut self.held_bytes);
            let Some(held) = self.order.finish(self.key, held, bytes)? else {
                return Ok(());
            };
            held.into_iter().try_for_each(|m| send_now(&self.tx, m))?;
        }
        self.sending = false;
        self.order.pass(self.key, |m| send_now(&self.tx, m))
    }

    /// Source `source`'s output comes in `tasks` tasks.
    pub(super) fn plan(&self, source: usize, tasks: usize) -> Result<(), IngestError> {
        self.order.plan(source, tasks, |m| send_now(&self.tx, m))
    }

    pub(super) fn batch(
        &mut self,
        table: &'static TableSchema,
        batch: RecordBatch,
    ) -> Result<(), IngestError> {
        let bytes = batch.get_array_memory_size();
        self.send(Msg::Batch(S::prepare(table, batch)), bytes)
    }

    pub(super) fn reject(&mut self, reject: Reject) -> Result<(), IngestError> {
        let bytes = reject.raw.len();
        self.send(Msg::Reject(reject), bytes)
    }
}

fn send_now<M>(tx: &mpsc::SyncSender<M>, msg: M) -> Result<(), IngestError> {
    tx.send(msg).map_err(|_| IngestError::Stopped)
}
