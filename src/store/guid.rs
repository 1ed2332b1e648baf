//! Columns of GUIDs, which zstd writes smaller and faster at level 1 than at level 3.
//!
//! Distinct GUIDs are random hex digits: level 3's longer match search finds only short
//! matches between them, which cost more than the digits they replace. Level 1 keeps more of
//! them as entropy-coded literals, smaller and in a fraction of the time; on other strings
//! (free text, names, repeated values) level 3 stays smaller (bench/NOTES.md).

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;

/// The zstd level of columns `guid_column` picks.
pub const GUID_ZSTD_LEVEL: i32 = 1;

/// Values looked at, spread over the rows.
const SAMPLE: usize = 64;

/// Values of the sample that must be there before a column is taken for one of GUIDs.
const ENOUGH: usize = 8;

/// Whether column `i` holds plain strings that are GUIDs (`8-4-4-4-12` hex digits, either
/// case), judged from up to 64 values spread over its rows: every one of them, and at least
/// eight.
pub fn guid_column(batches: &[RecordBatch], i: usize) -> bool {
    let columns: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
    if columns.iter().any(|c| c.data_type() != &DataType::Utf8) {
        return false;
    }
    let rows: usize = columns.iter().map(|c| c.len()).sum();
    let step = rows.div_ceil(SAMPLE).max(1);
    let (mut at, mut seen) = (0usize, 0usize);
    for column in columns {
        let strings = column.as_string::<i32>();
        while at < strings.len() {
            if strings.is_valid(at) {
                if !is_guid(strings.value(at).as_bytes()) {
                    return false;
                }
                seen += 1;
            }
            at += step;
        }
        at -= strings.len();
    }
    seen >= ENOUGH
}

/// `8-4-4-4-12` hex digits.
fn is_guid(v: &[u8]) -> bool {
    v.len() == 36
        && v.iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn batch(values: Vec<Option<String>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let column: ArrayRef = Arc::new(StringArray::from(values));
        RecordBatch::try_new(schema, vec![column]).unwrap()
    }

    fn guid(n: u64) -> String {
        let h = format!(
            "{:032x}",
            (n as u128).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
        );
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }

    #[test]
    fn a_column_of_guids_is_one_whatever_their_case_and_nulls() {
        let values = (0..500).map(|n| match n % 3 {
            0 => None,
            1 => Some(guid(n).to_uppercase()),
            _ => Some(guid(n)),
        });
        let values: Vec<_> = values.collect();
        assert!(guid_column(
            &[batch(values[..200].to_vec()), batch(values[200..].to_vec())],
            0
        ));
    }

    /// A store file writes distinct GUIDs at level 1: smaller than at level 3, as parquet's
    /// own writer writes the same values.
    #[test]
    fn a_file_writes_its_column_of_guids_smaller_than_level_3() {
        use crate::schema::Catalog;
        use crate::store::buffer::{tests::event_batch, write_sorted_file};
        use parquet::file::reader::{FileReader, SerializedFileReader};
        let table = Catalog::builtin().get("Event").unwrap();
        let i = table.column_index("TenantId").unwrap();
        let times: Vec<i64> = (0..20_000).collect();
        let batch = event_batch(&times);
        let mut columns = batch.columns().to_vec();
        let guids = StringArray::from_iter_values(times.iter().map(|t| guid(*t as u64)));
        columns[i] = Arc::new(guids.clone());
        let batch = RecordBatch::try_new(batch.schema(), columns).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("Event/date=1970-01-01/part.parquet");
        write_sorted_file(&path, table, &[batch]).unwrap();
        let ours = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let ours = ours.metadata().row_group(0).column(i).compressed_size();
        let props = parquet::file::properties::WriterProperties::builder()
            .set_dictionary_enabled(false)
            .set_compression(parquet::basic::Compression::ZSTD(
                parquet::basic::ZstdLevel::try_new(3).unwrap(),
            ))
            .build();
        let alone = batch_of(guids);
        let mut w =
            parquet::arrow::ArrowWriter::try_new(Vec::new(), alone.schema(), Some(props)).unwrap();
        w.write(&alone).unwrap();
        let bytes = bytes::Bytes::from(w.into_inner().unwrap());
        let theirs = SerializedFileReader::new(bytes).unwrap();
        let theirs = theirs.metadata().row_group(0).column(0).compressed_size();
        assert!(
            ours * 20 < theirs * 19,
            "{ours} bytes at level 1, {theirs} at level 3"
        );
    }

    fn batch_of(strings: StringArray) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(strings)]).unwrap()
    }

    #[test]
    fn one_other_value_in_the_sample_or_too_few_values_and_it_is_not() {
        let mut values: Vec<_> = (0..500).map(|n| Some(guid(n))).collect();
        assert!(guid_column(&[batch(values.clone())], 0));
        values[0] = Some(format!("{}x", &guid(0)[..35]));
        assert!(!guid_column(&[batch(values)], 0));
        let few: Vec<_> = (0..7).map(|n| Some(guid(n))).collect();
        assert!(!guid_column(&[batch(few)], 0));
        assert!(!is_guid(b"0123456789abcdef0123456789abcdef0123"));
        assert!(!is_guid(&guid(1).as_bytes()[..35]));
    }
}
