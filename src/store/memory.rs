//! Keeps a write's resident memory under a target whatever the input's shape.
//!
//! The row buffer's budget counts the Arrow rows and dedup keys it holds; the rest of the
//! process (decoding threads' batches, the channel between them and the writer, allocator
//! slack) grows with how wide the records are (bench/NOTES.md, 2026-12-04), so a fixed budget
//! that suits one shape overruns the target on another. The governor reads the process's anonymous resident memory as rows are buffered
//! and, while it is above the target, takes what is over from the buffer's budget (down to a
//! quarter of it): the buffer spills sooner, and nothing else changes.

/// Anonymous resident memory a write aims to stay under while it buffers rows: room below
/// 512 MB for the commit, which reads spilled rows back.
pub const RSS_TARGET: usize = 400 << 20;

/// Bytes of rows buffered between two readings of the resident memory.
const CHECK_EVERY: usize = 16 << 20;

#[derive(Debug)]
pub struct Governor {
    target: usize,
    check_every: usize,
    /// What is taken from the budget now, and the most taken at once.
    shrink: usize,
    most: usize,
    since_check: usize,
}

impl Governor {
    pub fn new(target: usize) -> Governor {
        Governor {
            target,
            check_every: CHECK_EVERY,
            shrink: 0,
            most: 0,
            since_check: 0,
        }
    }

    /// Read the resident memory every `bytes` of rows buffered instead (tests).
    pub fn checking_every(mut self, bytes: usize) -> Governor {
        self.check_every = bytes;
        self
    }

    /// The budget to keep to after `added` more bytes of rows were buffered, out of `budget`.
    /// Whether memory was just taken from it (so freed memory should go back to the system).
    pub fn budget(&mut self, budget: usize, added: usize) -> (usize, bool) {
        self.since_check += added;
        let mut tightened = false;
        if self.since_check >= self.check_every {
            self.since_check = 0;
            if let Some(rss) = resident_anonymous() {
                let next = next_shrink(budget, self.shrink, rss, self.target);
                tightened = next > self.shrink;
                self.shrink = next;
                self.most = self.most.max(next);
            }
        }
        (self.effective(budget), tightened)
    }

    /// The most taken from the budget at once so far.
    pub fn most_taken(&self) -> usize {
        self.most
    }

    /// `budget` less what is taken from it now.
    pub fn effective(&self, budget: usize) -> usize {
        budget.saturating_sub(self.shrink).max(budget / 4)
    }
}

/// What to take from `budget` given resident memory `rss` against `target`: more by what is
/// over, back by half of what is under, never more than three quarters of the budget.
pub fn next_shrink(budget: usize, shrink: usize, rss: usize, target: usize) -> usize {
    let next = match rss > target {
        true => shrink + (rss - target),
        false => shrink.saturating_sub((target - rss) / 2),
    };
    next.min(budget / 4 * 3)
}

/// Anonymous resident memory above which the commit hands what it freed back to the system
/// after each file it read back from disk; below it, the next file reuses that memory, which
/// saves handing it back and faulting it in again (bench/NOTES.md, sixth session).
pub const COMMIT_TRIM_ABOVE: usize = 320 << 20;

/// Whether the process's anonymous resident memory is over `bytes` (or cannot be read).
pub fn resident_over(bytes: usize) -> bool {
    resident_anonymous().is_none_or(|rss| rss > bytes)
}

/// The process's anonymous resident bytes (resident less file-backed), where the system says.
fn resident_anonymous() -> Option<usize> {
    #[cfg(target_os = "linux")]
    {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let mut fields = statm.split_ascii_whitespace().skip(1);
        let resident: usize = fields.next()?.parse().ok()?;
        let shared: usize = fields.next()?.parse().ok()?;
        // SAFETY: sysconf only reads a system constant.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        Some(resident.saturating_sub(shared) * usize::try_from(page).ok()?)
    }
    #[cfg(not(target_os = "linux"))]
    {
        None
    }
}

/// Memory the system can give this process without swapping (`MemAvailable`), where it says.
pub fn available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(kib << 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: usize = 1 << 20;

    #[test]
    fn the_budget_shrinks_by_what_is_over_and_grows_back_by_half_what_is_under() {
        // 50 MB over: 50 MB less.
        assert_eq!(next_shrink(384 * MB, 0, 450 * MB, 400 * MB), 50 * MB);
        // Still 10 MB over: 10 more.
        assert_eq!(next_shrink(384 * MB, 50 * MB, 410 * MB, 400 * MB), 60 * MB);
        // 40 MB under: 20 back.
        assert_eq!(next_shrink(384 * MB, 60 * MB, 360 * MB, 400 * MB), 40 * MB);
        // Never more than three quarters of the budget, never below nothing.
        assert_eq!(next_shrink(384 * MB, 0, 2000 * MB, 400 * MB), 288 * MB);
        assert_eq!(next_shrink(384 * MB, 10 * MB, 0, 400 * MB), 0);
    }

    #[test]
    fn the_effective_budget_keeps_a_quarter() {
        let mut g = Governor::new(0);
        // A target of nothing: every reading is over it, by more than a budget smaller than
        // any process (a larger one depended on what the other tests held).
        let (budget, tightened) = g.budget(MB, CHECK_EVERY);
        assert!(tightened || resident_anonymous().is_none());
        if resident_anonymous().is_some() {
            assert_eq!(budget, MB / 4);
        }
        // No reading until another CHECK_EVERY bytes.
        assert!(!g.budget(MB, 1).1);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn resident_memory_is_read() {
        let rss = resident_anonymous().expect("statm");
        assert!(rss > 0 && rss < 1 << 40, "{rss}");
        assert!(resident_over(0));
        assert!(!resident_over(1 << 40));
    }
}
