//! Progress bars on stderr for long work, only when stderr is a terminal (logs and CI stay
//! clean) and not `--quiet`: bytes and records done, records per second, rejects, time left.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use omslake::ingest::Progress;

/// Whether to draw: stderr is a terminal and the user did not ask for quiet.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

/// A bar that follows an ingest's counters until dropped.
pub struct IngestBar {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl IngestBar {
    pub fn start(progress: Arc<Progress>, total_bytes: Option<u64>) -> IngestBar {
        let bar = match total_bytes {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = match total_bytes {
            Some(_) => "ingest [{bar:20}] {bytes}/{total_bytes} {msg}, {eta} left",
            None => "ingest {bytes} {msg}",
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("a valid template")
                .progress_chars("=> "),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let done = stop.clone();
        let started = std::time::Instant::now();
        let thread = std::thread::spawn(move || {
            loop {
                let records = progress.records.load(Ordering::Relaxed);
                let rejects = progress.rejects.load(Ordering::Relaxed);
                bar.set_position(progress.bytes.load(Ordering::Relaxed));
                let per_second = records as f64 / started.elapsed().as_secs_f64().max(0.001);
                bar.set_message(format!(
                    "{records} rec ({per_second:.0}/s), {rejects} rejected"
                ));
                if done.load(Ordering::Relaxed) {
                    break;
                }
                bar.tick();
                std::thread::sleep(Duration::from_millis(100));
            }
            bar.finish_and_clear();
        });
        IngestBar {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for IngestBar {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A bar over a count of items (files verified, partitions merged); clear it when done.
pub fn items(total: u64, what: &str, quiet: bool) -> ProgressBar {
    if !wanted(quiet) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{spinner}} {what} [{{bar:30}}] {{pos}}/{{len}} files ({{eta}} left)"
        ))
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar
}

/// A spinner with a message (what `generate` is writing); clear it when done.
pub fn spinner(what: &str, quiet: bool) -> ProgressBar {
    if !wanted(quiet) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!("{{spinner}} {what}: {{msg}} ({{elapsed}})"))
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
