//! Integration tests: run the `omslake` binary on files in temporary folders.
//! One test binary (link time dominates), one module per concern.

mod changing_input;
mod common;
mod crash;
mod delta;
mod fuzz;
mod golden;
mod heap;
mod help;
mod ingest_shapes;
mod input_order;
mod maintenance;
mod memory_limit;
mod options;
mod parquet_files;
mod progress;
mod pruning;
mod queries;
mod rejects;
mod report;
mod search;
mod serve;
mod spill;
