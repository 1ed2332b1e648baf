//! The writer lock: an exclusive OS lock on `<store>/_lock`, held for a writer's lifetime.
//! Readers never take it.

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::time::{Duration, Instant};

use super::StoreError;

pub struct WriterLock {
    _file: File,
}

impl WriterLock {
    /// Take the lock, waiting up to `timeout` (forever when `None`); `on_wait` is called once
    /// if another writer holds it, so the caller can say why it is waiting.
    pub fn acquire(
        root: &Path,
        timeout: Option<Duration>,
        on_wait: &mut dyn FnMut(),
    ) -> Result<WriterLock, StoreError> {
        let path = root.join("_lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| StoreError::io(&path, e))?;
        let start = Instant::now();
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(WriterLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if !told {
                        on_wait();
                        told = true;
                    }
                    if timeout.is_some_and(|t| start.elapsed() >= t) {
                        return Err(StoreError::LockTimeout(start.elapsed()));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(StoreError::io(&path, e)),
            }
        }
    }
}
