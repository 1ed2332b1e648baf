use super::*;
use arrow::array::{ArrayRef, DictionaryArray, Int64Array, StringArray};
use arrow::datatypes::{Field, Schema};
use parquet::basic::Encoding;
use parquet::data_type::AsBytes;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;
use std::io::Write;
use std::sync::Arc;

fn dict(values: &[&str], keys: &[Option<u16>]) -> ArrayRef {
    let keys = arrow::array::UInt16Array::from(keys.to_vec());
    let values = Arc::new(StringArray::from(values.to_vec()));
    Arc::new(DictionaryArray::<UInt16Type>::try_new(keys, values).unwrap())
}

fn batches() -> (SchemaRef, Vec<RecordBatch>) {
    let dict_type = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(vec![
        Field::new("n", DataType::Int64, false),
        Field::new("s", dict_type.clone(), true),
        Field::new("empty", dict_type, true),
    ]));
    let long = "x".repeat(70) + "é";
    // Unused values ("zzz", "a") must not widen the bounds.
    let b1 = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 4])),
            dict(&["zzz", "m", "c", "a"], &[Some(1), None, Some(2), Some(1)]),
            dict(&[], &[None, None, None, None]),
        ],
    )
    .unwrap();
    let b2 = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![5, 6, 7])),
            dict(&["b", long.as_str(), "zz"], &[Some(1), Some(0), None]),
            dict(&["q"], &[None, None, None]),
        ],
    )
    .unwrap();
    (schema, vec![b1, b2])
}

fn write(schema: &SchemaRef, batches: &[RecordBatch], own: bool, rows: usize) -> Vec<u8> {
    let props = WriterProperties::builder()
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(Some(rows))
        .build();
    match own {
        true => {
            let mut f = ParquetFile::try_new(Vec::new(), schema.clone(), props, true).unwrap();
            for b in batches {
                f.write(b).unwrap();
            }
            f.finish().unwrap()
        }
        false => {
            let options = ArrowWriterOptions::new()
                .with_properties(props)
                .with_skip_arrow_metadata(true);
            let mut w =
                ArrowWriter::try_new_with_options(Vec::new(), schema.clone(), options).unwrap();
            for b in batches {
                w.write(b).unwrap();
            }
            w.into_inner().unwrap()
        }
    }
}

/// `bytes` as a file to read back.
fn file(bytes: Vec<u8>) -> std::fs::File {
    let mut f = tempfile::tempfile().unwrap();
    f.write_all(&bytes).unwrap();
    f
}

fn stats(bytes: Vec<u8>) -> Vec<Vec<Option<Statistics>>> {
    let reader = SerializedFileReader::new(file(bytes)).unwrap();
    reader
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| {
            rg.columns()
                .iter()
                .map(|c| c.statistics().cloned())
                .collect()
        })
        .collect()
}

#[test]
fn dictionary_statistics_equal_parquets_own_across_row_groups() {
    let (schema, batches) = batches();
    for rows in [2, 3, 100] {
        let ours = stats(write(&schema, &batches, true, rows));
        let theirs = stats(write(&schema, &batches, false, rows));
        assert_eq!(ours.len(), theirs.len(), "row groups of {rows}");
        assert_eq!(ours, theirs, "row groups of {rows}");
    }
    // The long value is cut and raised, as parquet does.
    let all = stats(write(&schema, &batches, true, 100));
    let Some(Statistics::ByteArray(s)) = &all[0][1] else {
        panic!("byte array statistics")
    };
    assert_eq!(s.min_opt().unwrap().as_bytes(), b"b");
    assert_eq!(
        s.max_opt().unwrap().as_bytes(),
        ("x".repeat(63) + "y").as_bytes()
    );
    assert!(!s.max_is_exact());
    assert_eq!(s.null_count_opt(), Some(2));
}

#[test]
fn the_file_reads_back_as_written() {
    let (schema, batches) = batches();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(
        file(write(&schema, &batches, true, 3)),
        1024,
    )
    .unwrap();
    let got: Vec<Option<String>> = reader
        .flat_map(|b| {
            let b = b.unwrap();
            let s = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
            s.as_string::<i32>()
                .iter()
                .map(|v| v.map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect();
    let long = "x".repeat(70) + "é";
    let want = [
        Some("m"),
        None,
        Some("c"),
        Some("m"),
        Some(long.as_str()),
        Some("b"),
        None,
    ];
    assert_eq!(got, want.map(|v| v.map(str::to_string)).to_vec());
}

/// Rows of dictionary batches: the values of a nullable and a required column.
type Rows = Vec<(Option<String>, String)>;

fn dictionary_batches(
    values: &[String],
    batches: &[Vec<(Option<u16>, u16)>],
) -> (SchemaRef, Vec<RecordBatch>, Rows) {
    let dict_type = DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8));
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", dict_type.clone(), true),
        Field::new("r", dict_type, false),
    ]));
    let shared: ArrayRef = Arc::new(StringArray::from_iter_values(values));
    let mut rows = Vec::new();
    let batches = batches
        .iter()
        .map(|keys| {
            let column = |k: Vec<Option<u16>>| -> ArrayRef {
                let keys = arrow::array::UInt16Array::from(k);
                Arc::new(DictionaryArray::<UInt16Type>::try_new(keys, shared.clone()).unwrap())
            };
            rows.extend(keys.iter().map(|(s, r)| {
                (
                    s.map(|k| values[k as usize].clone()),
                    values[*r as usize].clone(),
                )
            }));
            let nullable = column(keys.iter().map(|k| k.0).collect());
            let required = column(keys.iter().map(|k| Some(k.1)).collect());
            RecordBatch::try_new(schema.clone(), vec![nullable, required]).unwrap()
        })
        .collect();
    (schema, batches, rows)
}

/// The uncompressed size of every dictionary page in the file.
fn dictionary_page_sizes(bytes: Vec<u8>) -> Vec<usize> {
    let reader = SerializedFileReader::new(file(bytes)).unwrap();
    let mut sizes = Vec::new();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).unwrap();
        for c in 0..group.num_columns() {
            for page in group.get_column_page_reader(c).unwrap() {
                let page = page.unwrap();
                if page.page_type() == parquet::basic::PageType::DICTIONARY_PAGE {
                    sizes.push(page.buffer().len());
                }
            }
        }
    }
    sizes
}

fn read_rows(bytes: Vec<u8>) -> Rows {
    let reader =
        parquet::arrow::arrow_reader::ParquetRecordBatchReader::try_new(file(bytes), 100).unwrap();
    reader
        .flat_map(|b| {
            let b = b.unwrap();
            let s = arrow::compute::cast(b.column(0), &DataType::Utf8).unwrap();
            let r = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
            let (s, r) = (s.as_string::<i32>(), r.as_string::<i32>());
            (0..b.num_rows())
                .map(|i| {
                    (
                        s.is_valid(i).then(|| s.value(i).to_string()),
                        r.value(i).to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

proptest::proptest! {
    /// Dictionary columns, encoded here, read back as written whatever the values, nulls,
    /// runs, row group and page sizes; and their metadata agrees with parquet's own file.
    #[test]
    fn dictionary_chunks_read_back_as_written(
        values in proptest::collection::vec("[a-zé]{0,6}", 1..300),
        batches in proptest::collection::vec(
            proptest::collection::vec((proptest::option::of(0u16..300), 0u16..300, 1usize..12), 1..60),
            1..4,
        ),
        row_group_rows in 1usize..200,
        page_rows in 1usize..50,
        dictionary_limit in proptest::prop_oneof![proptest::strategy::Just(1usize << 20), 1usize..60],
    ) {
        let n = values.len() as u16;
        let batches: Vec<Vec<(Option<u16>, u16)>> = batches
            .iter()
            .map(|b| {
                b.iter()
                    .flat_map(|&(s, r, repeat)| std::iter::repeat_n((s.map(|k| k % n), r % n), repeat))
                    .collect()
            })
            .collect();
        let (schema, batches, rows) = dictionary_batches(&values, &batches);
        let props = || {
            // Chunk statistics, as the store writes: page statistics go to parquet's writer.
            WriterProperties::builder()
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .set_max_row_group_row_count(Some(row_group_rows))
                .set_data_page_row_count_limit(page_rows)
                .set_write_batch_size(page_rows)
                .set_dictionary_page_size_limit(dictionary_limit)
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build()
        };
        let mut f = ParquetFile::try_new(Vec::new(), schema.clone(), props(), true).unwrap();
        for b in &batches {
            f.write(b).unwrap();
        }
        let ours = f.finish().unwrap();
        proptest::prop_assert_eq!(read_rows(ours.clone()), rows);
        let options = ArrowWriterOptions::new().with_properties(props()).with_skip_arrow_metadata(true);
        let mut w = ArrowWriter::try_new_with_options(Vec::new(), schema.clone(), options).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        let theirs = w.into_inner().unwrap();
        proptest::prop_assert_eq!(stats(ours.clone()), stats(theirs.clone()));
        // No dictionary page passes the limit (the chunk falls back to PLAIN pages first).
        for size in dictionary_page_sizes(ours.clone()) {
            proptest::prop_assert!(size <= dictionary_limit, "{} > {}", size, dictionary_limit);
        }
        if dictionary_limit < 1 << 20 {
            // Parquet falls back at other moments (per write batch, not per value).
            return Ok(());
        }
        let layout = |bytes: Vec<u8>| {
            let reader = SerializedFileReader::new(file(bytes)).unwrap();
            reader.metadata().row_groups().iter().map(|rg| {
                rg.columns().iter().map(|c| (c.num_values(), c.encodings().collect::<Vec<_>>(), c.dictionary_page_offset().is_some())).collect::<Vec<_>>()
            }).collect::<Vec<_>>()
        };
        proptest::prop_assert_eq!(layout(ours), layout(theirs));
    }
}

proptest::proptest! {
    /// Rows gathered from several batches (a merge in time order) read back as the rows
    /// picked, for dictionary columns (encoded here) and others alike.
    #[test]
    fn gathered_rows_read_back_as_picked(
        values in proptest::collection::vec("[a-c]{0,3}", 1..20),
        batches in proptest::collection::vec(
            proptest::collection::vec((proptest::option::of(0u16..20), 0u16..20), 1..80),
            1..4,
        ),
        picks in proptest::collection::vec((0usize..4, 0usize..80, 1usize..6), 0..120),
        row_group_rows in 1usize..100,
        page_rows in 1usize..30,
        chunk in 1usize..50,
        dictionary_limit in proptest::prop_oneof![proptest::strategy::Just(1usize << 20), 1usize..30],
    ) {
        let n = values.len() as u16;
        let batches: Vec<Vec<(Option<u16>, u16)>> = batches
            .iter()
            .map(|b| b.iter().map(|&(s, r)| (s.map(|k| k % n), r % n)).collect())
            .collect();
        let (schema, batches, rows) = dictionary_batches(&values, &batches);
        // Each batch's rows within `rows`, to look up what a pick should read back as.
        let mut starts = vec![0];
        for b in &batches {
            starts.push(starts.last().unwrap() + b.num_rows());
        }
        let pairs: Vec<(usize, usize)> = picks
            .iter()
            .flat_map(|&(b, r, repeat)| {
                let b = b % batches.len();
                std::iter::repeat_n((b, r % batches[b].num_rows()), repeat)
            })
            .collect();
        let want: Rows = pairs.iter().map(|&(b, r)| rows[starts[b] + r].clone()).collect();
        let props = WriterProperties::builder()
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_max_row_group_row_count(Some(row_group_rows))
            .set_data_page_row_count_limit(page_rows)
            .set_dictionary_page_size_limit(dictionary_limit)
            .build();
        // The second column as plain strings: it goes through parquet's writer.
        let plain = Arc::new(Schema::new(vec![
            schema.field(0).clone(),
            Field::new("r", DataType::Utf8, false),
        ]));
        let batches: Vec<RecordBatch> = batches
            .iter()
            .map(|b| {
                let r = arrow::compute::cast(b.column(1), &DataType::Utf8).unwrap();
                RecordBatch::try_new(plain.clone(), vec![b.column(0).clone(), r]).unwrap()
            })
            .collect();
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        let mut f = ParquetFile::try_new(Vec::new(), plain.clone(), props.clone(), true).unwrap();
        for part in pairs.chunks(chunk) {
            f.write_gathered(&refs, part).unwrap();
        }
        let bytes = f.finish().unwrap();
        proptest::prop_assert_eq!(read_rows(bytes.clone()), want.clone());
        // With the statistics (null counts among them) parquet gives the picked rows.
        let picked = arrow::compute::interleave_record_batch(&refs, &pairs).unwrap();
        let options = ArrowWriterOptions::new()
            .with_properties(props.clone())
            .with_skip_arrow_metadata(true);
        let mut w = ArrowWriter::try_new_with_options(Vec::new(), plain.clone(), options).unwrap();
        w.write(&picked).unwrap();
        proptest::prop_assert_eq!(stats(bytes.clone()), stats(w.into_inner().unwrap()));
        // A column at a time (pages may break elsewhere: each column is given its rows in
        // other slices): the same rows.
        let mut f = ParquetFile::try_new(Vec::new(), plain.clone(), props.clone(), true).unwrap();
        f.write_by_column(&refs, Some(&pairs), chunk).unwrap();
        proptest::prop_assert_eq!(read_rows(f.finish().unwrap()), want);
        // Every row in order, a column at a time: as written row by row.
        let mut f = ParquetFile::try_new(Vec::new(), plain.clone(), props.clone(), true).unwrap();
        f.write_by_column(&refs, None, chunk).unwrap();
        let in_order = read_rows(f.finish().unwrap());
        let mut f = ParquetFile::try_new(Vec::new(), plain, props, true).unwrap();
        for b in &batches {
            f.write(b).unwrap();
        }
        proptest::prop_assert_eq!(in_order, read_rows(f.finish().unwrap()));
    }
}

proptest::proptest! {
    /// Plain string columns without a dictionary (PLAIN or DELTA_LENGTH_BYTE_ARRAY chunks,
    /// encoded here) read back as written, row by row, gathered or a column at a time, with
    /// parquet's own statistics and no dictionary page, whatever the page row and byte limits.
    #[test]
    fn plain_chunks_read_back_as_written(
        batches in proptest::collection::vec(
            proptest::collection::vec((proptest::option::of("[a-zé]{0,80}"), "[a-z0-9]{0,12}"), 1..60),
            1..4,
        ),
        picks in proptest::collection::vec((0usize..4, 0usize..60), 1..100),
        row_group_rows in 1usize..100,
        page_rows in 1usize..30,
        page_bytes in proptest::prop_oneof![proptest::strategy::Just(1usize << 20), 1usize..200],
        chunk in 1usize..40,
        delta in proptest::bool::ANY,
    ) {
        let encoding = if delta { Encoding::DELTA_LENGTH_BYTE_ARRAY } else { Encoding::PLAIN };
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("r", DataType::Utf8, false),
        ]));
        let batches: Vec<RecordBatch> = batches
            .iter()
            .map(|rows| {
                let s = StringArray::from_iter(rows.iter().map(|(s, _)| s.clone()));
                let r = StringArray::from_iter_values(rows.iter().map(|(_, r)| r.clone()));
                RecordBatch::try_new(schema.clone(), vec![Arc::new(s), Arc::new(r)]).unwrap()
            })
            .collect();
        let props = || {
            WriterProperties::builder()
                .set_statistics_enabled(EnabledStatistics::Chunk)
                .set_dictionary_enabled(false)
                .set_max_row_group_row_count(Some(row_group_rows))
                .set_data_page_row_count_limit(page_rows)
                .set_data_page_size_limit(page_bytes)
                .set_encoding(encoding)
                .set_compression(parquet::basic::Compression::ZSTD(Default::default()))
                .build()
        };
        let refs: Vec<&RecordBatch> = batches.iter().collect();
        // Row by row, against parquet's own writer.
        let mut f = ParquetFile::try_new(Vec::new(), schema.clone(), props(), true).unwrap();
        for b in &batches {
            f.write(b).unwrap();
        }
        let ours = f.finish().unwrap();
        let options = ArrowWriterOptions::new().with_properties(props()).with_skip_arrow_metadata(true);
        let mut w = ArrowWriter::try_new_with_options(Vec::new(), schema.clone(), options).unwrap();
        for b in &batches {
            w.write(b).unwrap();
        }
        let theirs = w.into_inner().unwrap();
        let all = read_rows(theirs.clone());
        proptest::prop_assert_eq!(read_rows(ours.clone()), all.clone());
        proptest::prop_assert_eq!(stats(ours.clone()), stats(theirs));
        let reader = SerializedFileReader::new(file(ours)).unwrap();
        for rg in reader.metadata().row_groups() {
            for c in rg.columns() {
                proptest::prop_assert!(c.dictionary_page_offset().is_none());
                let mut encodings: Vec<_> = c.encodings().collect();
                encodings.sort_by_key(|e| *e as i32);
                let mut want = vec![encoding, Encoding::RLE];
                want.sort_by_key(|e| *e as i32);
                proptest::prop_assert_eq!(encodings, want);
            }
        }
        // Gathered, in chunks and a column at a time: the rows picked.
        let mut starts = vec![0];
        for b in &batches {
            starts.push(starts.last().unwrap() + b.num_rows());
        }
        let pairs: Vec<(usize, usize)> = picks
            .iter()
            .map(|&(b, r)| {
                let b = b % batches.len();
                (b, r % batches[b].num_rows())
            })
            .collect();
        let want: Rows = pairs.iter().map(|&(b, r)| all[starts[b] + r].clone()).collect();
        let mut f = ParquetFile::try_new(Vec::new(), schema.clone(), props(), true).unwrap();
        for part in pairs.chunks(chunk) {
            f.write_gathered(&refs, part).unwrap();
        }
        proptest::prop_assert_eq!(read_rows(f.finish().unwrap()), want.clone());
        let mut f = ParquetFile::try_new(Vec::new(), schema.clone(), props(), true).unwrap();
        f.write_by_column(&refs, Some(&pairs), chunk).unwrap();
        proptest::prop_assert_eq!(read_rows(f.finish().unwrap()), want);
        let mut f = ParquetFile::try_new(Vec::new(), schema.clone(), props(), true).unwrap();
        f.write_by_column(&refs, None, chunk).unwrap();
        proptest::prop_assert_eq!(read_rows(f.finish().unwrap()), all);
    }
}

/// A PLAIN chunk ends its pages at the byte limit as well as the row limit, and a
/// DELTA_LENGTH_BYTE_ARRAY chunk at the same values (its lengths take less room).
#[test]
fn plain_pages_end_at_the_byte_limit() {
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
    let values: Vec<String> = (0..1000).map(|i| format!("{i:0>100}")).collect();
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![Arc::new(StringArray::from_iter_values(values))],
    )
    .unwrap();
    for encoding in [Encoding::PLAIN, Encoding::DELTA_LENGTH_BYTE_ARRAY] {
        // Chunk statistics: what a PLAIN `DictChunk` writes (page statistics go to parquet's
        // own writer).
        let props = WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_encoding(encoding)
            .set_data_page_size_limit(10_000)
            .build();
        let mut f = ParquetFile::try_new(Vec::new(), schema.clone(), props, true).unwrap();
        f.write(&batch).unwrap();
        let reader = SerializedFileReader::new(file(f.finish().unwrap())).unwrap();
        let mut pages = reader
            .get_row_group(0)
            .unwrap()
            .get_column_page_reader(0)
            .unwrap();
        let mut sizes = Vec::new();
        while let Some(page) = pages.get_next_page().unwrap() {
            assert_eq!(page.encoding(), encoding);
            sizes.push(page.buffer().len());
        }
        // 104 bytes a value as PLAIN: a page closes on the value that reaches 10,000 bytes.
        assert_eq!(sizes.len(), 11, "{encoding}: {sizes:?}");
        assert!(sizes.iter().all(|&s| s <= 10_000 + 104), "{sizes:?}");
    }
}

/// Null rows may hold bytes in an Arrow array (the format leaves them undefined): a
/// DELTA_LENGTH_BYTE_ARRAY chunk writes only the valid rows' bytes, written whole or gathered.
#[test]
fn null_rows_holding_bytes_are_left_out() {
    use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer};
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("r", DataType::Utf8, false),
    ]));
    let s = StringArray::new(
        OffsetBuffer::new(vec![0, 3, 6, 6, 9, 13].into()),
        Buffer::from("abcdefghijklm".as_bytes()),
        Some(NullBuffer::from(vec![true, false, false, true, true])),
    );
    let r = StringArray::from_iter_values(["1", "2", "3", "4", "5"]);
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(s), Arc::new(r)]).unwrap();
    let want: Rows = [
        (Some("abc"), "1"),
        (None, "2"),
        (None, "3"),
        (Some("ghi"), "4"),
    ]
    .into_iter()
    .chain([(Some("jklm"), "5")])
    .map(|(s, r)| (s.map(str::to_string), r.to_string()))
    .collect();
    let props = || {
        WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_statistics_enabled(EnabledStatistics::Chunk)
            .set_encoding(Encoding::DELTA_LENGTH_BYTE_ARRAY)
            .build()
    };
    let mut f = ParquetFile::try_new(Vec::new(), schema.clone(), props(), true).unwrap();
    f.write(&batch).unwrap();
    assert_eq!(read_rows(f.finish().unwrap()), want);
    let mut f = ParquetFile::try_new(Vec::new(), schema.clone(), props(), true).unwrap();
    let pairs: Vec<(usize, usize)> = (0..5).map(|r| (0, r)).collect();
    f.write_gathered(&[&batch], &pairs).unwrap();
    assert_eq!(read_rows(f.finish().unwrap()), want);
}

proptest::proptest! {
    /// The minimum and maximum taken value by value equal those of the whole list, for values
    /// that share long prefixes, hold NULs and are shorter or longer than eight bytes.
    #[test]
    fn string_stats_take_the_least_and_the_greatest(
        values in proptest::collection::vec(
            proptest::collection::vec(proptest::prop_oneof![
                proptest::strategy::Just(0u8), proptest::strategy::Just(b'a'),
                proptest::strategy::Just(b'b'), proptest::strategy::Just(0xffu8),
            ], 0..20),
            1..60,
        ),
    ) {
        let mut stats = StringStats::default();
        for v in &values {
            stats.add_value(v);
        }
        proptest::prop_assert_eq!(stats.min.as_ref(), values.iter().min());
        proptest::prop_assert_eq!(stats.max.as_ref(), values.iter().max());
    }
}
