//! UTC microsecond timestamps as the text the CSV export writes (`%Y-%m-%dT%H:%M:%S%.fZ`),
//! formatted directly: arrow's CSV writer formats each value through chrono's `strftime`,
//! which parses the format string again for every value (see bench/NOTES.md). Columns are
//! turned into strings before the batch goes to the CSV writer; values outside years
//! 0000–9999, which chrono writes with a sign, keep chrono's formatting.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit, TimestampMicrosecondType};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use chrono::DateTime;

/// The CSV export's text of a timestamp, in chrono's `strftime` terms.
pub const CSV_TIMESTAMP_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.fZ";

/// `CSV_TIMESTAMP_FORMAT` applied by chrono, for the values this module does not format itself.
fn chrono_text(micros: i64) -> Option<String> {
    DateTime::from_timestamp_micros(micros).map(|t| t.format(CSV_TIMESTAMP_FORMAT).to_string())
}

/// Whether a column of this type is written by `timestamps_as_text`: microseconds, in UTC or
/// without a zone (both written with `Z` by the export's format).
fn handled(ty: &DataType) -> bool {
    match ty {
        DataType::Timestamp(TimeUnit::Microsecond, None) => true,
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) => {
            matches!(tz.as_ref(), "UTC" | "+00:00")
        }
        _ => false,
    }
}

/// `batch` with its UTC microsecond timestamp columns as strings formatted like
/// `CSV_TIMESTAMP_FORMAT`; other columns as they are.
pub fn timestamps_as_text(batch: &RecordBatch) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| handled(f.data_type())) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !handled(field.data_type()) {
            fields.push(field.clone());
            columns.push(column.clone());
            continue;
        }
        let times = column.as_primitive::<TimestampMicrosecondType>();
        let mut text = StringBuilder::with_capacity(times.len(), times.len() * 28);
        let mut buf = Vec::with_capacity(32);
        for i in 0..times.len() {
            if times.is_null(i) {
                text.append_null();
                continue;
            }
            let micros = times.value(i);
            buf.clear();
            if write_utc(&mut buf, micros) {
                // Only ASCII digits and separators were written.
                text.append_value(std::str::from_utf8(&buf).expect("ASCII"));
            } else {
                let s = chrono_text(micros).ok_or_else(|| {
                    ArrowError::CastError(format!("timestamp {micros} µs is out of range"))
                })?;
                text.append_value(s);
            }
        }
        fields.push(Arc::new(Field::new(
            field.name(),
            DataType::Utf8,
            field.is_nullable(),
        )));
        columns.push(Arc::new(text.finish()));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// Append `micros` since the epoch as `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff]Z` (chrono's `%.f`:
/// no fraction when it is zero, three digits when it is whole milliseconds, else six).
/// Returns false, writing nothing, for a year outside 0–9999.
fn write_utc(out: &mut Vec<u8>, micros: i64) -> bool {
    let secs = micros.div_euclid(1_000_000);
    let fraction = micros.rem_euclid(1_000_000) as u32;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return false;
    }
    let of_day = secs.rem_euclid(86_400) as u32;
    let (hh, mm, ss) = (of_day / 3600, of_day / 60 % 60, of_day % 60);
    let y = y as u32;
    digits(out, y / 100, 2);
    digits(out, y % 100, 2);
    out.push(b'-');
    digits(out, m, 2);
    out.push(b'-');
    digits(out, d, 2);
    out.push(b'T');
    digits(out, hh, 2);
    out.push(b':');
    digits(out, mm, 2);
    out.push(b':');
    digits(out, ss, 2);
    if fraction != 0 {
        out.push(b'.');
        match fraction % 1000 {
            0 => digits(out, fraction / 1000, 3),
            _ => digits(out, fraction, 6),
        }
    }
    out.push(b'Z');
    true
}

/// `value` as exactly `width` decimal digits, zero-padded.
fn digits(out: &mut Vec<u8>, value: u32, width: u32) {
    let mut div = 10u32.pow(width - 1);
    while div > 0 {
        out.push(b'0' + (value / div % 10) as u8);
        div /= 10;
    }
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::TimestampMicrosecondArray;
    use proptest::prelude::*;

    /// What arrow's CSV writer makes of `batch` with the export's timestamp format.
    fn arrow_csv(batch: &RecordBatch) -> String {
        let mut bytes = Vec::new();
        let mut w = arrow::csv::WriterBuilder::new()
            .with_timestamp_tz_format(CSV_TIMESTAMP_FORMAT.to_string())
            .with_timestamp_format(CSV_TIMESTAMP_FORMAT.to_string())
            .build(&mut bytes);
        w.write(batch).unwrap();
        drop(w);
        String::from_utf8(bytes).unwrap()
    }

    fn batch(values: Vec<Option<i64>>, tz: Option<&str>) -> RecordBatch {
        let mut array = TimestampMicrosecondArray::from(values);
        if let Some(tz) = tz {
            array = array.with_timezone(tz);
        }
        let field = Field::new("t", array.data_type().clone(), true);
        let other = arrow::array::Int32Array::from(vec![7; array.len()]);
        let schema = Schema::new(vec![field, Field::new("n", DataType::Int32, false)]);
        RecordBatch::try_new(Arc::new(schema), vec![Arc::new(array), Arc::new(other)]).unwrap()
    }

    #[test]
    fn fractions_follow_chrono() {
        let values = vec![
            Some(0),
            Some(1),
            Some(1_000),
            Some(999_999),
            Some(-1),
            Some(1_709_251_200_123_000),
            None,
            Some(253_402_300_799_999_999), // 9999-12-31T23:59:59.999999
            Some(253_402_300_800_000_000), // 10000-01-01: chrono's own text
            Some(-62_167_219_200_000_000), // 0000-01-01
            Some(-62_167_219_200_000_001), // -0001: chrono's own text
        ];
        for tz in [Some("UTC"), Some("+00:00"), None] {
            let b = batch(values.clone(), tz);
            assert_eq!(arrow_csv(&timestamps_as_text(&b).unwrap()), arrow_csv(&b));
        }
    }

    #[test]
    fn other_zones_and_units_are_left_to_arrow() {
        let b = batch(vec![Some(3_600_000_000)], Some("+01:00"));
        let same = timestamps_as_text(&b).unwrap();
        assert_eq!(same.schema(), b.schema());
    }

    proptest! {
        #[test]
        fn any_timestamp_is_written_as_arrow_writes_it(
            values in proptest::collection::vec(
                proptest::option::of(prop_oneof![
                    -80_000_000_000_000_000i64..300_000_000_000_000_000,
                    (-100_000_000i64..100_000_000).prop_map(|s| s * 1_000_000),
                    (-100_000_000_000i64..100_000_000_000).prop_map(|ms| ms * 1_000),
                ]),
                1..40,
            )
        ) {
            let b = batch(values, Some("UTC"));
            prop_assert_eq!(arrow_csv(&timestamps_as_text(&b).unwrap()), arrow_csv(&b));
        }
    }
}
