//! One Parquet data file, written row group by row group, where string columns held as Arrow
//! dictionaries are encoded from the dictionary.
//!
//! Such a column, when Parquet dictionary-encodes it, becomes a chunk written by `DictChunk`
//! (see there why). Otherwise it goes through parquet's column writer, but with statistics
//! computed here: parquet's compare every row's value with the running minimum and maximum (and
//! copy both for every mini-batch), a share of ingest CPU, while a dictionary holds each value
//! once, so marking the values the rows use and comparing those gives the same minimum, maximum
//! and null count for a fraction of the work. Plain string columns without a dictionary (the
//! mostly distinct ones) are written by `DictChunk` too (PLAIN or DELTA_LENGTH_BYTE_ARRAY, as
//! the properties say), from the rows picked without gathering them first. Other columns are
//! parquet's alone.

use std::io::Write;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::compute::interleave;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef, UInt16Type};
use parquet::arrow::arrow_writer::{
    compute_leaves, ArrowColumnWriter, ArrowRowGroupWriterFactory, ArrowWriterOptions,
};
use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
use parquet::basic::{Compression, Encoding};
use parquet::data_type::ByteArray;
use parquet::errors::ParquetError;
use parquet::file::metadata::ParquetMetaData;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterVersion};
use parquet::file::statistics::{Statistics, ValueStatistics};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use super::dict_chunk::DictChunk;
use crate::nulls;

pub struct ParquetFile<W: Write + Send> {
    writer: SerializedFileWriter<Output<W>>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// How each column is written.
    kinds: Vec<Kind>,
    truncate: Option<usize>,
    row_group_rows: usize,
    page_rows: usize,
    group: Option<RowGroup>,
    groups: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    /// Parquet's column writer.
    Parquet,
    /// Parquet's column writer, with statistics from the dictionary.
    OwnStats,
    /// A `DictChunk` of this compression, dictionary page size limit, and statistics or not.
    Dictionary(Compression, usize, bool),
    /// A `DictChunk` of plain strings: this compression, value encoding (PLAIN or
    /// DELTA_LENGTH_BYTE_ARRAY), data page size limit, and statistics or not.
    Plain(Compression, Encoding, usize, bool),
}

impl Kind {
    /// Whether the column is encoded here, not by parquet's column writer.
    fn own(&self) -> bool {
        matches!(self, Kind::Dictionary(..) | Kind::Plain(..))
    }
}

struct RowGroup {
    columns: Vec<Column>,
    rows: usize,
}

// One per column of the row group being written: their sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum Column {
    Parquet(ArrowColumnWriter, Option<StringStats>),
    Dictionary(DictChunk),
    /// Written whole and closed (see `ParquetFile::write_by_column`): its encoder, and the
    /// zstd context in it, already freed.
    Closed(ClosedColumn),
    /// Between being taken for closing and closed.
    Taken,
}

enum ClosedColumn {
    Parquet(parquet::arrow::arrow_writer::ArrowColumnChunk),
    Dictionary(bytes::Bytes, parquet::column::writer::ColumnCloseResult),
}

impl Column {
    /// Append `array` (of `field`), with its statistics where they are computed here.
    fn write(&mut self, field: &Field, array: &ArrayRef) -> Result<(), ParquetError> {
        match self {
            Column::Dictionary(chunk) => chunk.write(array.as_ref()),
            Column::Parquet(writer, stats) => {
                write_leaf(writer, field, array)?;
                if let Some(stats) = stats {
                    stats.add(array.as_ref());
                }
                Ok(())
            }
            Column::Closed(_) | Column::Taken => unreachable!("written after it was closed"),
        }
    }

    /// The column's pages and metadata, its encoder dropped.
    fn close(self, truncate: Option<usize>) -> Result<ClosedColumn, ParquetError> {
        Ok(match self {
            Column::Parquet(writer, stats) => {
                let mut chunk = writer.close()?;
                if let Some(stats) = stats {
                    let close = chunk.close_mut();
                    close.metadata = close
                        .metadata
                        .clone()
                        .into_builder()
                        .set_statistics(stats.finish(truncate))
                        .build()?;
                }
                ClosedColumn::Parquet(chunk)
            }
            Column::Dictionary(chunk) => {
                let (bytes, close) = chunk.finish(truncate)?;
                ClosedColumn::Dictionary(bytes, close)
            }
            Column::Closed(closed) => closed,
            Column::Taken => unreachable!("a column is closed once"),
        })
    }
}

impl<W: Write + Send> ParquetFile<W> {
    /// A file of `schema` written with `props`, except that string dictionary columns are
    /// encoded here (`DictChunk`) or, where `props` ask for what it does not write, have their
    /// statistics computed here.
    pub fn try_new(
        out: W,
        schema: SchemaRef,
        props: WriterProperties,
        skip_arrow_metadata: bool,
    ) -> Result<Self, ParquetError> {
        let kinds: Vec<Kind> = schema
            .fields()
            .iter()
            .map(|f| {
                let path = ColumnPath::from(f.name().as_str());
                let stats = props.statistics_enabled(&path);
                let compression = props.compression(&path);
                match f.data_type() {
                    DataType::Dictionary(k, v)
                        if **k == DataType::UInt16 && **v == DataType::Utf8 =>
                    {
                        // What `DictChunk` writes: chunk statistics, format v1 pages.
                        if props.dictionary_enabled(&path)
                            && stats != EnabledStatistics::Page
                            && props.bloom_filter_properties(&path).is_none()
                            && props.writer_version() == WriterVersion::PARQUET_1_0
                            && DictChunk::supports(compression)
                        {
                            Kind::Dictionary(
                                compression,
                                props.column_dictionary_page_size_limit(&path),
                                stats != EnabledStatistics::None,
                            )
                        } else if stats != EnabledStatistics::None {
                            Kind::OwnStats
                        } else {
                            Kind::Parquet
                        }
                    }
                    // What a PLAIN `DictChunk` writes: chunk statistics, format v1 pages, values
                    // PLAIN or DELTA_LENGTH_BYTE_ARRAY.
                    DataType::Utf8
                        if !props.dictionary_enabled(&path)
                            && stats != EnabledStatistics::Page
                            && props.bloom_filter_properties(&path).is_none()
                            && props.writer_version() == WriterVersion::PARQUET_1_0
                            && DictChunk::supports(compression)
                            && matches!(
                                props.encoding(&path),
                                None | Some(Encoding::PLAIN | Encoding::DELTA_LENGTH_BYTE_ARRAY)
                            ) =>
                    {
                        Kind::Plain(
                            compression,
                            props.encoding(&path).unwrap_or(Encoding::PLAIN),
                            props.column_data_page_size_limit(&path),
                            stats != EnabledStatistics::None,
                        )
                    }
                    _ => Kind::Parquet,
                }
            })
            .collect();
        let truncate = props.statistics_truncate_length();
        let row_group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
        let page_rows = props.data_page_row_count_limit();
        let mut builder = props.into_builder();
        for (f, kind) in schema.fields().iter().zip(&kinds) {
            if *kind == Kind::OwnStats {
                builder = builder.set_column_statistics_enabled(
                    ColumnPath::from(f.name().as_str()),
                    EnabledStatistics::None,
                );
            }
        }
        let options = ArrowWriterOptions::new()
            .with_properties(builder.build())
            .with_skip_arrow_metadata(skip_arrow_metadata);
        let (writer, mut factory) =
            ArrowWriter::try_new_with_options(Output(Some(out)), schema.clone(), options)?
                .into_serialized_writer()?;
        // Leaf `i` is field `i` (`new_group` and `DictChunk` rely on it): flat schemas only.
        let leaves = writer.schema_descr();
        let flat = leaves.num_columns() == schema.fields().len()
            && (schema.fields().iter().enumerate())
                .all(|(i, f)| leaves.column(i).path().parts() == [f.name().as_str()]);
        if !flat {
            return Err(ParquetError::General(
                "the store writes flat schemas only: one Parquet leaf column a field".into(),
            ));
        }
        // Parquet's column writers only for the columns parquet writes: each one sets up a zstd
        // compressor and decompressor, per row group. The factory's leaves come from a file
        // writer of just those columns, never written to.
        if kinds.iter().any(Kind::own) {
            let fields: Vec<FieldRef> = (schema.fields().iter().zip(&kinds))
                .filter(|(_, k)| !k.own())
                .map(|(f, _)| f.clone())
                .collect();
            let fields = Arc::new(Schema::new(fields));
            let props = writer.properties().clone();
            let leaves = ArrowSchemaConverter::new()
                .with_coerce_types(props.coerce_types())
                .convert(&fields)?;
            let sink = SerializedFileWriter::new(std::io::sink(), leaves.root_schema_ptr(), props)?;
            factory = ArrowRowGroupWriterFactory::new(&sink, fields);
        }
        Ok(ParquetFile {
            writer,
            factory,
            schema,
            kinds,
            truncate,
            row_group_rows,
            page_rows,
            group: None,
            groups: 0,
        })
    }

    /// Append `batch` (of the file's schema), starting a new row group whenever one is full.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), ParquetError> {
        self.in_groups(batch.num_rows(), |group, schema, rows| {
            let part = match rows.len() == batch.num_rows() {
                true => batch.clone(),
                false => batch.slice(rows.start, rows.len()),
            };
            group.write(schema, &part)
        })
    }

    /// Append the rows `pairs` (batch, row) of `sources` (of the file's schema), in that order.
    /// Dictionary columns are written from the batches' own dictionaries; other columns are
    /// gathered into one array first.
    pub fn write_gathered(
        &mut self,
        sources: &[&RecordBatch],
        pairs: &[(usize, usize)],
    ) -> Result<(), ParquetError> {
        self.in_groups(pairs.len(), |group, schema, rows| {
            group.write_gathered(schema, sources, &pairs[rows])
        })
    }

    /// Append every row of `sources` (of the file's schema), in their order or, given `pairs`
    /// (batch, row), in that order: a row group at a time, and within it a column at a time,
    /// each column closed before the next is begun. Each column's encoder holds a zstd
    /// context until it is closed: written row by row, a wide table's contexts were all alive
    /// at once, the largest part of a wide ingest's peak (bench/NOTES.md, 2026-12-04).
    pub fn write_by_column(
        &mut self,
        sources: &[&RecordBatch],
        pairs: Option<&[(usize, usize)]>,
        chunk_rows: usize,
    ) -> Result<(), ParquetError> {
        self.close_group()?;
        let rows = match pairs {
            Some(pairs) => pairs.len(),
            None => sources.iter().map(|b| b.num_rows()).sum(),
        };
        let chunk_rows = chunk_rows.max(1);
        let mut start = 0;
        while start < rows {
            let end = rows.min(start + self.row_group_rows);
            let mut group = self.new_group()?;
            for i in 0..self.schema.fields().len() {
                let mut at = start;
                while at < end {
                    let next = end.min(at + chunk_rows);
                    match pairs {
                        Some(pairs) => group.write_gathered_column(
                            i,
                            &self.schema,
                            sources,
                            &pairs[at..next],
                        )?,
                        None => group.write_column_rows(i, &self.schema, sources, at..next)?,
                    }
                    at = next;
                }
                let column = std::mem::replace(&mut group.columns[i], Column::Taken);
                group.columns[i] = Column::Closed(column.close(self.truncate)?);
            }
            group.rows = end - start;
            self.group = Some(group);
            self.close_group()?;
            start = end;
        }
        Ok(())
    }

    /// Give `write` the next `rows` rows a range at a time, each within one row group, opening
    /// and closing row groups as they fill.
    fn in_groups(
        &mut self,
        rows: usize,
        mut write: impl FnMut(&mut RowGroup, &SchemaRef, Range<usize>) -> Result<(), ParquetError>,
    ) -> Result<(), ParquetError> {
        let mut offset = 0;
        while offset < rows {
            if self.group.is_none() {
                self.group = Some(self.new_group()?);
            }
            let group = self.group.as_mut().expect("a group");
            let n = (self.row_group_rows - group.rows).min(rows - offset);
            write(group, &self.schema, offset..offset + n)?;
            offset += n;
            if group.rows == self.row_group_rows {
                self.close_group()?;
            }
        }
        Ok(())
    }

    fn new_group(&self) -> Result<RowGroup, ParquetError> {
        // One writer per field parquet writes: `RowGroup::write` refuses a field with more than
        // one leaf.
        let mut writers = self.factory.create_column_writers(self.groups)?.into_iter();
        let mut writer = || writers.next().expect("a writer per column parquet writes");
        let columns = (self.kinds.iter().enumerate())
            .map(|(i, kind)| {
                Ok(match *kind {
                    Kind::Parquet => Column::Parquet(writer(), None),
                    Kind::OwnStats => Column::Parquet(writer(), Some(StringStats::default())),
                    Kind::Dictionary(compression, limit, stats) => {
                        let descr = self.writer.schema_descr().column(i);
                        Column::Dictionary(DictChunk::new(
                            descr,
                            compression,
                            self.page_rows,
                            limit,
                            stats,
                        )?)
                    }
                    Kind::Plain(compression, encoding, page_bytes, stats) => {
                        let descr = self.writer.schema_descr().column(i);
                        Column::Dictionary(DictChunk::plain(
                            descr,
                            compression,
                            encoding,
                            self.page_rows,
                            page_bytes,
                            stats,
                        )?)
                    }
                })
            })
            .collect::<Result<_, ParquetError>>()?;
        Ok(RowGroup { columns, rows: 0 })
    }

    fn close_group(&mut self) -> Result<(), ParquetError> {
        let Some(group) = self.group.take() else {
            return Ok(());
        };
        let mut row_group = self.writer.next_row_group()?;
        for column in group.columns {
            match column.close(self.truncate)? {
                ClosedColumn::Parquet(chunk) => chunk.append_to_row_group(&mut row_group)?,
                ClosedColumn::Dictionary(bytes, close) => row_group.append_column(&bytes, close)?,
            }
        }
        row_group.close()?;
        self.groups += 1;
        Ok(())
    }

    /// Write the last row group and the footer; the output back.
    pub fn finish(self) -> Result<W, ParquetError> {
        Ok(self.finish_with_metadata()?.0)
    }

    /// [`finish`](Self::finish), with the file's metadata as its footer holds it.
    pub fn finish_with_metadata(mut self) -> Result<(W, ParquetMetaData), ParquetError> {
        self.close_group()?;
        // Writes the footer and flushes everything to the output.
        let metadata = self.writer.finish()?;
        let out = (self.writer.inner_mut().0.take())
            .ok_or_else(|| ParquetError::General("the file's output was taken".into()))?;
        Ok((out, metadata))
    }
}

/// The output parquet's file writer writes to. Once it has written the footer, that writer
/// gives back either the output (`into_inner`) or the metadata (`finish`), not both: the
/// output is taken from here instead.
struct Output<W>(Option<W>);

impl<W: Write> Write for Output<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.0 {
            Some(out) => out.write(buf),
            None => Err(std::io::Error::other("written to after the footer")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.0 {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}

impl RowGroup {
    fn write(&mut self, schema: &SchemaRef, batch: &RecordBatch) -> Result<(), ParquetError> {
        for (i, column) in batch.columns().iter().enumerate() {
            self.columns[i].write(schema.field(i), column)?;
        }
        self.rows += batch.num_rows();
        Ok(())
    }

    fn write_gathered(
        &mut self,
        schema: &SchemaRef,
        sources: &[&RecordBatch],
        pairs: &[(usize, usize)],
    ) -> Result<(), ParquetError> {
        for i in 0..schema.fields().len() {
            self.write_gathered_column(i, schema, sources, pairs)?;
        }
        self.rows += pairs.len();
        Ok(())
    }

    /// Column `i` of the rows `pairs` picks (rows are counted by the caller).
    fn write_gathered_column(
        &mut self,
        i: usize,
        schema: &SchemaRef,
        sources: &[&RecordBatch],
        pairs: &[(usize, usize)],
    ) -> Result<(), ParquetError> {
        let arrays: Vec<&dyn Array> = sources.iter().map(|b| b.column(i).as_ref()).collect();
        let column = &mut self.columns[i];
        if let Column::Dictionary(chunk) = column {
            return chunk.write_gathered(&arrays, pairs);
        }
        // Columns null in every batch are made, not gathered.
        let gathered = match arrays.iter().all(|a| nulls::all_null(*a)) {
            true => nulls::shared(arrays[0].data_type(), pairs.len()),
            false => interleave(&arrays, pairs)?,
        };
        column.write(schema.field(i), &gathered)
    }

    /// Column `i` of the rows `rows` of `sources` taken one after another (rows are counted by
    /// the caller).
    fn write_column_rows(
        &mut self,
        i: usize,
        schema: &SchemaRef,
        sources: &[&RecordBatch],
        rows: Range<usize>,
    ) -> Result<(), ParquetError> {
        let mut offset = 0;
        for batch in sources {
            let (from, to) = (offset, offset + batch.num_rows());
            offset = to;
            let (start, end) = (rows.start.max(from), rows.end.min(to));
            if start >= end {
                continue;
            }
            let column = batch.column(i).slice(start - from, end - start);
            self.columns[i].write(schema.field(i), &column)?;
        }
        Ok(())
    }
}

fn write_leaf(
    writer: &mut ArrowColumnWriter,
    field: &Field,
    column: &ArrayRef,
) -> Result<(), ParquetError> {
    let mut leaves = compute_leaves(field, column)?.into_iter();
    let (Some(leaf), None) = (leaves.next(), leaves.next()) else {
        return Err(ParquetError::General(format!(
            "column {} is nested, which is not supported",
            field.name()
        )));
    };
    writer.write(&leaf)
}

/// Minimum, maximum and null count of a string column given as dictionaries.
#[derive(Default)]
pub(super) struct StringStats {
    min: Option<Vec<u8>>,
    max: Option<Vec<u8>>,
    /// The first eight bytes of `min` and `max` as big-endian numbers (zeros after a shorter
    /// one): they order as the bytes do, so a value whose eight lie strictly between them lies
    /// between the two, with no comparison of whole slices.
    min_head: u64,
    max_head: u64,
    pub(super) nulls: u64,
    /// Scratch: which values of the current dictionary the rows use.
    used: Vec<bool>,
}

impl StringStats {
    fn add(&mut self, column: &dyn Array) {
        let dict = column.as_any_dictionary();
        let values = dict.values().as_string::<i32>();
        // A row is null when its key is null or points at a null value.
        let nulls = column.logical_nulls();
        self.nulls += nulls.as_ref().map_or(0, |n| n.null_count()) as u64;
        self.used.clear();
        self.used.resize(values.len(), false);
        match (column.as_dictionary_opt::<UInt16Type>(), &nulls) {
            (Some(d), None) => {
                for &k in d.keys().values().iter() {
                    self.used[k as usize] = true;
                }
            }
            (Some(d), Some(n)) => {
                let keys = d.keys().values();
                for row in n.valid_indices() {
                    self.used[keys[row] as usize] = true;
                }
            }
            (None, _) => {
                let keys = dict.normalized_keys();
                for (row, k) in keys.into_iter().enumerate() {
                    if nulls.as_ref().is_none_or(|n| n.is_valid(row)) {
                        self.used[k] = true;
                    }
                }
            }
        }
        let mut used = (0..values.len()).filter(|&k| self.used[k]);
        let Some(first) = used.next() else {
            return;
        };
        let (mut min, mut max) = (values.value(first), values.value(first));
        for k in used {
            let v = values.value(k);
            min = min.min(v);
            max = max.max(v);
        }
        self.add_value(min.as_bytes());
        self.add_value(max.as_bytes());
    }

    /// Take `value` into the minimum and maximum.
    pub(super) fn add_value(&mut self, value: &[u8]) {
        // Most values lie strictly between the two by their first bytes alone.
        let head = head_of(value);
        if self.min.is_some() && self.max.is_some() && self.min_head < head && head < self.max_head
        {
            return;
        }
        if self.min.as_deref().is_none_or(|m| value < m) {
            self.min_head = head;
            self.min = Some(value.to_vec());
        }
        if self.max.as_deref().is_none_or(|m| value > m) {
            self.max_head = head;
            self.max = Some(value.to_vec());
        }
    }

    /// The column chunk's statistics, shortened as parquet shortens its own (a minimum cut to
    /// a prefix, a maximum cut and its last character raised, neither then exact).
    pub(super) fn finish(self, truncate: Option<usize>) -> Statistics {
        let cut = |v: &[u8]| truncate.is_some_and(|l| v.len() > l);
        let (min, min_exact) = match self.min {
            Some(v) if cut(&v) => match utf8_prefix(&v, truncate.expect("cut")) {
                Some(p) => (Some(p), false),
                None => (Some(v), true),
            },
            v => (v, true),
        };
        let (max, max_exact) = match self.max {
            Some(v) if cut(&v) => match utf8_prefix_raised(&v, truncate.expect("cut")) {
                Some(p) => (Some(p), false),
                None => (Some(v), true),
            },
            v => (v, true),
        };
        let stats = ValueStatistics::new(
            min.map(ByteArray::from),
            max.map(ByteArray::from),
            None,
            Some(self.nulls),
            false,
        );
        let stats = match (stats.min_opt().is_some(), stats.max_opt().is_some()) {
            (true, true) => stats
                .with_min_is_exact(min_exact)
                .with_max_is_exact(max_exact),
            _ => stats,
        };
        Statistics::ByteArray(stats)
    }
}

/// `v`'s first eight bytes as a big-endian number, zeros after a shorter `v`: if one value's
/// is smaller than another's, so is the value.
#[inline]
fn head_of(v: &[u8]) -> u64 {
    if let Some(eight) = v.first_chunk::<8>() {
        return u64::from_be_bytes(*eight);
    }
    let mut eight = [0u8; 8];
    let n = v.len().min(8);
    eight[..n].copy_from_slice(&v[..n]);
    u64::from_be_bytes(eight)
}

/// The longest prefix of `v` (UTF-8) of at most `length` bytes: a lower bound of `v`.
fn utf8_prefix(v: &[u8], length: usize) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(v).ok()?;
    let split = (1..=length).rfind(|&x| s.is_char_boundary(x))?;
    Some(v[..split].to_vec())
}

/// A prefix of `v` of at most `length` bytes with its last character raised: an upper bound
/// of `v`. Characters that cannot be raised within their width are dropped first.
fn utf8_prefix_raised(v: &[u8], length: usize) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(v).ok()?;
    let split = (length.saturating_sub(3)..=length).rfind(|&x| s.is_char_boundary(x))?;
    let prefix = &s[..split];
    for (at, c) in prefix.char_indices().rev() {
        if let Some(next) = char::from_u32(c as u32 + 1) {
            if next.len_utf8() == c.len_utf8() {
                let mut out = prefix.as_bytes()[..at + c.len_utf8()].to_vec();
                next.encode_utf8(&mut out[at..]);
                return Some(out);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests;
