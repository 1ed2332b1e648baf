//! The store's files read by the `parquet` crate alone (no DataFusion, no log): the Hive
//! layout, logical types and sort order other engines rely on, and the same counts as `sql`.

use std::fs::File;

use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::reader::{FileReader, SerializedFileReader};

use crate::common::{project_data, Env};

fn parquet_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_name() == "_delta_log" {
            continue;
        } else if e.path().is_dir() {
            parquet_files(&e.path(), out);
        } else if e.path().extension().is_some_and(|x| x == "parquet") {
            out.push(e.path());
        }
    }
}

#[test]
fn files_are_plain_hive_partitioned_parquet_with_portable_types() {
    let env = Env::new();
    assert_eq!(env.ingest(&[&project_data().join("exports")]).code, 0);
    for table in omslake::schema::TABLE_NAMES {
        let mut files = Vec::new();
        parquet_files(&env.store().join(table), &mut files);
        assert!(!files.is_empty(), "{table}");
        let mut rows = 0i64;
        for f in &files {
            let day = f
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_string();
            assert!(
                day.starts_with("date=") && day.len() == 15,
                "{}",
                f.display()
            );
            // Read with the page index, so that a missing or wrong offset index fails here.
            let options = parquet::file::serialized_reader::ReadOptionsBuilder::new()
                .with_page_index()
                .build();
            let reader =
                SerializedFileReader::new_with_options(File::open(f).unwrap(), options).unwrap();
            let meta = reader.metadata();
            rows += meta.file_metadata().num_rows();
            let schema = meta.file_metadata().schema_descr();
            // No embedded Arrow schema (it cost up to 10 KB a file): the Parquet types alone
            // must map back to the table's Arrow types, nullability and time zone included.
            let kv = meta.file_metadata().key_value_metadata();
            assert!(
                kv.is_none_or(|kv| kv.iter().all(|e| e.key != "ARROW:schema")),
                "{}",
                f.display()
            );
            let mapped = parquet::arrow::parquet_to_arrow_schema(schema, None).unwrap();
            let expected = omslake::schema::Catalog::builtin()
                .get(table)
                .unwrap()
                .arrow_schema();
            assert_eq!(mapped.fields(), expected.fields(), "{table}");
            let tg = schema
                .columns()
                .iter()
                .position(|c| c.name() == "TimeGenerated")
                .unwrap();
            match schema.column(tg).logical_type_ref() {
                Some(LogicalType::Timestamp(t)) => {
                    assert!(t.is_adjusted_to_u_t_c);
                    assert!(
                        matches!(t.unit, TimeUnit::MICROS),
                        "{table}: TimeGenerated must be microseconds"
                    );
                }
                other => panic!("{table}: TimeGenerated has logical type {other:?}"),
            }
            let computer = schema
                .columns()
                .iter()
                .position(|c| c.name() == "Type")
                .unwrap();
            assert!(matches!(
                schema.column(computer).logical_type_ref(),
                Some(LogicalType::String)
            ));
            for rg in meta.row_groups() {
                // Columns null in the whole file are stored uncompressed (their pages are a
                // run of null levels); every other column is zstd-compressed.
                for c in rg.columns() {
                    // Every column chunk has statistics, with bounds unless all null (string
                    // columns held as dictionaries get theirs from `ParquetFile`).
                    let stats = c
                        .statistics()
                        .unwrap_or_else(|| panic!("{table}.{}: no statistics", c.column_path()));
                    let all_null = stats
                        .null_count_opt()
                        .is_some_and(|n| n as i64 == meta.file_metadata().num_rows());
                    let group_null = stats.null_count_opt() == Some(rg.num_rows() as u64);
                    assert!(
                        group_null
                            || (stats.min_bytes_opt().is_some() && stats.max_bytes_opt().is_some()),
                        "{table}.{}: no min/max",
                        c.column_path()
                    );
                    let expected = match all_null {
                        true => "UNCOMPRESSED",
                        false => "ZSTD",
                    };
                    assert!(
                        c.compression().to_string().starts_with(expected),
                        "{table}.{}: {} in {}",
                        c.column_path(),
                        c.compression(),
                        f.display()
                    );
                }
                let sorting = rg.sorting_columns().expect("sort order declared");
                assert_eq!(sorting[0].column_idx as usize, tg);
                let col = rg.column(tg);
                assert!(matches!(
                    col.compression(),
                    parquet::basic::Compression::ZSTD(_)
                ));
                // Sorted times are stored as deltas (a third of their plain size).
                assert!(
                    col.encodings()
                        .any(|e| e == parquet::basic::Encoding::DELTA_BINARY_PACKED),
                    "{table}: TimeGenerated is not delta-encoded"
                );
                // Every row of the file lies in the day its folder names.
                let stats = col.statistics().expect("statistics written");
                let (min, max) = match stats {
                    parquet::file::statistics::Statistics::Int64(s) => {
                        (*s.min_opt().unwrap(), *s.max_opt().unwrap())
                    }
                    other => panic!("{other:?}"),
                };
                let date = |m: i64| {
                    chrono::DateTime::from_timestamp_micros(m)
                        .unwrap()
                        .format("date=%Y-%m-%d")
                        .to_string()
                };
                assert_eq!(date(min), day);
                assert_eq!(date(max), day);
            }
            // Every column chunk has an offset index: its pages start at the chunk's first
            // data page, in order, and their first rows count up from 0 to under the group's.
            let offsets = meta.offset_index().expect("an offset index");
            assert_eq!(offsets.len(), meta.num_row_groups(), "{}", f.display());
            for (rg, columns) in meta.row_groups().iter().zip(offsets) {
                assert_eq!(columns.len(), rg.num_columns());
                for (c, index) in rg.columns().iter().zip(columns) {
                    let pages = index.page_locations();
                    assert!(!pages.is_empty(), "{}: {}", f.display(), c.column_path());
                    assert_eq!(pages[0].offset, c.data_page_offset(), "{}", c.column_path());
                    assert_eq!(pages[0].first_row_index, 0);
                    for w in pages.windows(2) {
                        assert!(
                            w[0].offset < w[1].offset
                                && w[0].first_row_index < w[1].first_row_index
                        );
                    }
                    assert!(pages.last().unwrap().first_row_index < rg.num_rows());
                }
            }
        }
        assert_eq!(rows as u64, env.count(table), "{table}");
    }
}

/// Ingest `gen` into `env`'s store through the library in small decoder batches, with the
/// transaction set up by `setup` (a buffer budget, a governor); `check` looks at it before the
/// commit; then `verify` must pass.
fn ingest_with(
    env: &Env,
    gen: &std::path::Path,
    setup: impl FnOnce(&mut omslake::store::Transaction),
    check: impl FnOnce(&omslake::store::Transaction),
) {
    let store = omslake::store::Store::open(env.store());
    let mut tx = store.begin("ingest", None, &mut || {}).unwrap();
    setup(&mut tx);
    let options = omslake::ingest::IngestOptions {
        batch_bytes: 64 << 10,
        ..Default::default()
    };
    omslake::ingest::run(&[gen.to_path_buf()], &options, &mut tx).unwrap();
    check(&tx);
    tx.commit(Vec::new(), Vec::new()).unwrap();
    let r = env.run(&["verify"]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
}

/// A governor whose target the process is always over takes three quarters of the buffer
/// (rows then wait on disk sooner) and every row still lands once.
#[test]
fn the_buffer_gives_up_memory_while_the_process_is_over_its_target_and_every_row_lands() {
    let (roomy, tight) = (Env::new(), Env::new());
    let gen = roomy.generate("0.05");
    assert_eq!(roomy.ingest(&[&gen]).code, 0);
    ingest_with(
        &tight,
        &gen,
        |tx| {
            tx.set_buffer_budget(4 << 20);
            tx.set_governor(Some(
                omslake::store::memory::Governor::new(0).checking_every(1),
            ));
        },
        |tx| {
            if cfg!(target_os = "linux") {
                assert_eq!(tx.buffer_given_up(), 3 << 20);
                assert!(tx.spilled_bytes() > 0);
            }
        },
    );
    for table in omslake::schema::TABLE_NAMES {
        assert_eq!(roomy.count(table), tight.count(table), "{table}");
    }
}

#[test]
fn a_small_ingest_buffer_writes_files_each_sorted_with_the_same_rows() {
    use arrow::array::AsArray;
    use arrow::datatypes::TimestampMicrosecondType;
    let (roomy, tight) = (Env::new(), Env::new());
    let gen = roomy.generate("0.05");
    assert_eq!(roomy.ingest(&[&gen]).code, 0);
    // Small batches from the decoders and a 1 MB buffer: rows wait on disk, and partitions
    // whose runs exceed what the buffer can merge at once become several files.
    ingest_with(&tight, &gen, |tx| tx.set_buffer_budget(1 << 20), |_| {});
    let (mut few, mut many) = (Vec::new(), Vec::new());
    parquet_files(&roomy.store(), &mut few);
    parquet_files(&tight.store(), &mut many);
    assert!(
        many.len() >= few.len(),
        "{} vs {} files",
        many.len(),
        few.len()
    );
    for f in &many {
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
            File::open(f).unwrap(),
            8192,
        )
        .unwrap();
        let mut last = i64::MIN;
        for batch in reader {
            let batch = batch.unwrap();
            let tg = batch.schema().index_of("TimeGenerated").unwrap();
            for t in batch
                .column(tg)
                .as_primitive::<TimestampMicrosecondType>()
                .values()
            {
                assert!(*t >= last, "{} is not sorted by TimeGenerated", f.display());
                last = *t;
            }
        }
    }
    for table in omslake::schema::TABLE_NAMES {
        let sql = format!(
            "SELECT count(*), count(DISTINCT \"TimeGenerated\"), min(\"TimeGenerated\"), max(\"TimeGenerated\") FROM \"{table}\""
        );
        assert_eq!(roomy.csv(&sql), tight.csv(&sql), "{table}");
    }
}
