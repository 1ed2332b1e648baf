//! Ingest throughput per table and the eight reference searches of issue 5 over a generated
//! store (`cargo bench --bench store`). Scale with OMSLAKE_BENCH_SCALE (default 0.5).

use std::path::{Path, PathBuf};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use omslake::ingest::{self, IngestOptions};
use omslake::query::Engine;
use omslake::search::{translate, Options};
use omslake::store::Store;

fn scale() -> f64 {
    std::env::var("OMSLAKE_BENCH_SCALE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0.5)
}

fn generated(dir: &Path) -> PathBuf {
    let out = dir.join("gen");
    omslake::generate::write(scale(), omslake::generate::Layout::Ndjson, &out).unwrap();
    out
}

fn ingest_into(store: &Path, inputs: &[PathBuf]) {
    let store = Store::open(store);
    let mut tx = store.begin("ingest", None, &mut || {}).unwrap();
    ingest::run(inputs, &IngestOptions::default(), &mut tx).unwrap();
    tx.commit(vec![], vec![]).unwrap();
}

fn bench_ingest(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let gen = generated(dir.path());
    let mut group = c.benchmark_group("ingest");
    group.sample_size(10);
    for table in [
        "Update",
        "UpdateSummary",
        "UpdateRunProgress",
        "OfficeActivity",
        "Event",
    ] {
        let file = gen.join(format!("{table}.ndjson"));
        group.throughput(Throughput::Bytes(std::fs::metadata(&file).unwrap().len()));
        group.bench_function(table, |b| {
            b.iter_batched(
                || tempfile::tempdir().unwrap(),
                |store| ingest_into(store.path(), std::slice::from_ref(&file)),
                criterion::BatchSize::PerIteration,
            )
        });
    }
    group.finish();
}

/// The eight searches of issue 5.
pub const SEARCHES: [&str; 8] = [
    "Type:Update OSType!=Linux UpdateState=Needed Optional=false Approved!=false | measure count() by Computer",
    "Type=Update UpdateState=Needed Optional=false | select Computer,Title,KBID,Classification,UpdateSeverity,PublishedDate",
    "Type=Update UpdateState=Needed Optional=false (Classification=\"Security Updates\" OR Classification=\"Critical Updates\") Computer IN {Type=UpdateSummary WindowsUpdateSetting=Manual | Distinct Computer} | Distinct KBID",
    "Type=Event EventLevelName=error Computer IN {Type=Update (Classification=\"Security Updates\" OR Classification=\"Critical Updates\") UpdateState=Needed Optional=false | Distinct Computer}",
    "Type=Update Computer=SRV00* UpdateState=Needed | measure count() by Computer",
    "Type=Event TimeGenerated>NOW-7DAYS | measure count() by EventLevelName",
    "Type=Update | measure countdistinct(Computer) by Classification",
    "Type=Event EventLevelName=Error | measure count() by Computer interval 1DAY",
];

fn bench_queries(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let gen = generated(dir.path());
    let store_dir = dir.path().join("store");
    ingest_into(&store_dir, &[gen]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(64 << 20)
        .build()
        .unwrap();
    // NOW inside the generated period, so the time filter of search 6 selects something.
    let options = Options {
        now_micros: omslake::time::parse_datetime("2024-03-15T00:00:00Z").unwrap(),
        case_sensitive: false,
        dialect: Default::default(),
    };
    let mut group = c.benchmark_group("search");
    group.sample_size(10);
    for (i, s) in SEARCHES.iter().enumerate() {
        let sql = translate(s, &options, false).unwrap().sql;
        group.bench_function(format!("q{}", i + 1), |b| {
            b.iter(|| {
                runtime.block_on(async {
                    // Open per query, as the CLI does: the log is read each time.
                    let engine = Engine::open(&Store::open(&store_dir)).unwrap();
                    engine.sql(&sql).await.unwrap().collect().await.unwrap()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_ingest, bench_queries);
criterion_main!(benches);
