//! A Parquet column chunk of strings encoded here rather than by parquet's column writer:
//! dictionary-encoded from strings that arrive as Arrow dictionaries, or PLAIN (or
//! DELTA_LENGTH_BYTE_ARRAY, `page_values`) from plain strings (`DictChunk::plain`).
//!
//! Parquet's writer looks every row's string up in its own dictionary (hash and compare), even
//! when the rows arrive as a dictionary already (bench/NOTES.md has its share of ingest CPU).
//! Here each distinct value of a batch's dictionary is looked up once, and the rows' keys are
//! renumbered through a table. The chunk is what parquet itself writes for such a column:
//! a PLAIN dictionary page, then data pages (format v1) of RLE definition levels and
//! RLE_DICTIONARY indices, each compressed alone, with an offset index and chunk statistics.
//! One difference: no size statistics (optional in the format; parquet writes the unencoded
//! byte count and level histograms, which no reader of ours uses).
//!
//! Like parquet's writer, a chunk whose dictionary would pass the dictionary page size limit
//! (`dictionary_page_size_limit`, 1 MiB by default) falls back to PLAIN data pages for the rest
//! of the chunk: the dictionary page stays under the limit, the pages written before it keep
//! their dictionary indices, and every reader must load no more than that.
//!
//! A PLAIN chunk (a column of mostly distinct strings) is written here so that a merge of
//! batches in time order copies each value once, into its page, rather than gathering the
//! rows into a new array for parquet's writer to copy again (bench/NOTES.md, 2026-12-05). Its
//! pages end at `page_rows` rows or `page_bytes` bytes, as parquet's do.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, AsArray, DictionaryArray, StringArray};
use arrow::datatypes::{DataType, UInt16Type};
use bytes::Bytes;
use hashbrown::HashTable;
use parquet::basic::{Compression, Encoding, EncodingMask, PageType};
use parquet::column::page::{CompressedPage, Page, PageWriter};
use parquet::column::writer::ColumnCloseResult;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ColumnChunkMetaData, OffsetIndexBuilder, PageEncodingStats};
use parquet::file::writer::{SerializedPageWriter, TrackedWrite};
use parquet::schema::types::ColumnDescPtr;

use super::page_values::PageValues;
use super::parquet_file::StringStats;
use super::rle;

pub struct DictChunk {
    descr: ColumnDescPtr,
    compression: Compression,
    /// zstd's level, or none for uncompressed pages.
    zstd_level: Option<i32>,
    page_rows: usize,
    dictionary: Dictionary,
    /// Bytes the dictionary page may hold; past them the chunk falls back to PLAIN pages.
    dictionary_limit: usize,
    /// After the fall back (or from the start): the current page's values, PLAIN-encoded
    /// (after the fall back) or as the chunk was made to encode them (`plain`).
    plain: Option<PageValues>,
    /// Bytes of PLAIN values past which a page ends.
    page_bytes: usize,
    plain_pages: i32,
    /// The current page: its definition levels (nullable columns) as they come, the run of
    /// equal levels not yet given to them, and an index per value.
    levels: rle::Encoder,
    level_run: (bool, usize),
    indices: Vec<u32>,
    page_start: usize,
    rows: usize,
    /// Compressed data pages and their row counts, written after the dictionary page.
    pages: Vec<(CompressedPage, usize)>,
    /// Batch dictionaries seen in this chunk, with their keys renumbered into the chunk's
    /// dictionary (4 bytes a value: less than the values take), found by the addresses of
    /// their buffers. Batches often share one (a day split shares a small dictionary between
    /// its days), and a merge in time order takes rows from the same batches chunk after chunk.
    renumbered: Vec<(ArrayRef, Vec<u32>)>,
    by_address: HashMap<(usize, usize, usize), usize>,
}

/// The chunk's dictionary: the PLAIN dictionary page, where each value starts in it, and a
/// table from a value's hash to its number (values are not copied out of the page).
#[derive(Default)]
struct Dictionary {
    page: Vec<u8>,
    starts: Vec<u32>,
    table: HashTable<(u64, u32)>,
    hasher: ahash::RandomState,
    stats: Option<StringStats>,
}

const UNSEEN: u32 = u32::MAX;

impl DictChunk {
    /// A chunk of `descr` (a flat BYTE_ARRAY leaf, required or optional) with `compression`
    /// (zstd or none), `page_rows` rows a data page, a dictionary page of at most
    /// `dictionary_limit` bytes, and statistics unless `stats` is false.
    pub fn new(
        descr: ColumnDescPtr,
        compression: Compression,
        page_rows: usize,
        dictionary_limit: usize,
        stats: bool,
    ) -> Result<DictChunk, ParquetError> {
        // The levels written here are one bit wide and never repeated.
        if descr.max_def_level() > 1 || descr.max_rep_level() > 0 {
            return Err(ParquetError::General(format!(
                "column {} is nested (definition level {}, repetition level {}); dictionary chunks are for flat columns",
                descr.name(),
                descr.max_def_level(),
                descr.max_rep_level()
            )));
        }
        let zstd_level = match compression {
            Compression::UNCOMPRESSED => None,
            Compression::ZSTD(level) => Some(level.compression_level()),
            other => {
                return Err(ParquetError::NYI(format!(
                    "dictionary chunks compressed with {other}"
                )))
            }
        };
        Ok(DictChunk {
            descr,
            compression,
            zstd_level,
            page_rows: page_rows.max(1),
            dictionary: Dictionary {
                stats: stats.then(StringStats::default),
                ..Dictionary::default()
            },
            dictionary_limit,
            plain: None,
            page_bytes: usize::MAX,
            plain_pages: 0,
            levels: rle::Encoder::new(1),
            level_run: (true, 0),
            indices: Vec::new(),
            page_start: 0,
            rows: 0,
            pages: Vec::new(),
            renumbered: Vec::new(),
            by_address: HashMap::new(),
        })
    }

    /// A chunk of pages of at most `page_rows` rows and about `page_bytes` bytes (as PLAIN
    /// would take them), their values encoded as `encoding` (PLAIN or
    /// DELTA_LENGTH_BYTE_ARRAY), for plain strings (`write_strings`, `write_gathered_strings`).
    pub fn plain(
        descr: ColumnDescPtr,
        compression: Compression,
        encoding: Encoding,
        page_rows: usize,
        page_bytes: usize,
        stats: bool,
    ) -> Result<DictChunk, ParquetError> {
        let mut chunk = DictChunk::new(descr, compression, page_rows, 0, stats)?;
        chunk.plain = Some(PageValues::new(encoding)?);
        chunk.page_bytes = page_bytes.max(1);
        Ok(chunk)
    }

    /// Append the rows of `column`, plain strings, to a PLAIN chunk.
    pub fn write_strings(&mut self, column: &dyn Array) -> Result<(), ParquetError> {
        let strings = self.strings_of(column)?;
        self.push_strings((0..strings.len()).map(|r| (strings, r)))
    }

    /// Append the rows `pairs` (column, row) of `columns`, plain strings, to a PLAIN chunk.
    pub fn write_gathered_strings(
        &mut self,
        columns: &[&dyn Array],
        pairs: &[(usize, usize)],
    ) -> Result<(), ParquetError> {
        let strings = (columns.iter())
            .map(|c| self.strings_of(*c))
            .collect::<Result<Vec<_>, _>>()?;
        self.push_strings(pairs.iter().map(|&(c, r)| (strings[c], r)))
    }

    /// Append `rows` (strings, row) to the PLAIN pages, closing each page when it is full.
    fn push_strings<'a>(
        &mut self,
        rows: impl Iterator<Item = (&'a StringArray, usize)>,
    ) -> Result<(), ParquetError> {
        let nullable = self.descr.max_def_level() > 0;
        let mut rows = rows.peekable();
        while rows.peek().is_some() {
            let room = self.page_rows - (self.rows - self.page_start);
            let page = self.plain.as_mut().expect("a PLAIN chunk");
            let (mut n, mut nulls) = (0, 0);
            for (strings, r) in rows.by_ref().take(room) {
                n += 1;
                if strings.is_null(r) {
                    nulls += 1;
                    put_level(&mut self.levels, &mut self.level_run, false, 1);
                    continue;
                }
                if nullable {
                    put_level(&mut self.levels, &mut self.level_run, true, 1);
                }
                let v = strings.value(r).as_bytes();
                page.push(v);
                if let Some(stats) = &mut self.dictionary.stats {
                    stats.add_value(v);
                }
                if page.plain_len() >= self.page_bytes {
                    break;
                }
            }
            if nulls > 0 && !nullable {
                return Err(self.required_error());
            }
            if let Some(stats) = &mut self.dictionary.stats {
                stats.nulls += nulls;
            }
            self.advance(n)?;
        }
        Ok(())
    }

    fn strings_of<'a>(&self, column: &'a dyn Array) -> Result<&'a StringArray, ParquetError> {
        match (&self.plain, column.as_string_opt::<i32>()) {
            (Some(_), Some(strings)) => Ok(strings),
            _ => Err(ParquetError::General(format!(
                "column {} is {}, not plain strings for a PLAIN chunk",
                self.descr.name(),
                column.data_type()
            ))),
        }
    }

    /// Whether a column with `compression` can be written this way.
    pub fn supports(compression: Compression) -> bool {
        matches!(
            compression,
            Compression::UNCOMPRESSED | Compression::ZSTD(_)
        )
    }

    /// Append the rows of `column`, a `Dictionary(UInt16, Utf8)` array (or plain strings, to
    /// a PLAIN chunk).
    pub fn write(&mut self, column: &dyn Array) -> Result<(), ParquetError> {
        if column.data_type() == &DataType::Utf8 {
            return self.write_strings(column);
        }
        let dict = self.dictionary_of(column)?;
        let values = dict.values().as_string::<i32>();
        let keys = dict.keys().values();
        // A row is null when its key is null or points at a null value.
        let nulls = column.logical_nulls();
        let nullable = self.descr.max_def_level() > 0;
        if !nullable && nulls.as_ref().is_some_and(|n| n.null_count() > 0) {
            return Err(self.required_error());
        }
        if let Some(stats) = &mut self.dictionary.stats {
            stats.nulls += nulls.as_ref().map_or(0, |n| n.null_count()) as u64;
        }
        let t = self.renumbering(dict.values());
        // Interning every value of the batch's dictionary keeps within the limit: no row can
        // make the chunk fall back, so rows need no check of their own.
        let fits = self.plain.is_none()
            && self.dictionary.page.len() + values.value_data().len() + 4 * values.len()
                <= self.dictionary_limit;
        if !fits {
            for r in 0..keys.len() {
                let valid = nulls.as_ref().is_none_or(|n| n.is_valid(r));
                self.push_row(valid.then_some((t, keys[r] as usize)), nullable)?;
            }
            return Ok(());
        }
        let mut row = 0;
        while row < keys.len() {
            let end = self.page_end(row, keys.len());
            let table = &mut self.renumbered[t].1;
            let dictionary = &mut self.dictionary;
            match &nulls {
                None => {
                    for &k in &keys[row..end] {
                        self.indices
                            .push(renumber(table, dictionary, values, k as usize)?);
                    }
                    if nullable {
                        put_level(&mut self.levels, &mut self.level_run, true, end - row);
                    }
                }
                Some(n) => {
                    for (r, &k) in keys.iter().enumerate().take(end).skip(row) {
                        let valid = n.is_valid(r);
                        if nullable {
                            put_level(&mut self.levels, &mut self.level_run, valid, 1);
                        }
                        if valid {
                            let i = renumber(table, dictionary, values, k as usize)?;
                            self.indices.push(i);
                        }
                    }
                }
            }
            self.advance(end - row)?;
            row = end;
        }
        Ok(())
    }

    /// The renumbering table of a batch dictionary's `values`.
    fn renumbering(&mut self, values: &ArrayRef) -> usize {
        // Holding the array keeps its buffers' addresses its own.
        let strings = values.as_string::<i32>();
        let address = (
            strings.offsets().as_ptr() as usize,
            strings.values().as_ptr() as usize,
            strings.len(),
        );
        *self.by_address.entry(address).or_insert_with(|| {
            self.renumbered
                .push((values.clone(), vec![UNSEEN; values.len()]));
            self.renumbered.len() - 1
        })
    }

    /// Append the rows `pairs` (column, row) of `columns`, `Dictionary(UInt16, Utf8)` arrays
    /// (or plain strings, to a PLAIN chunk): the merge of several batches in time order,
    /// without building the merged column.
    pub fn write_gathered(
        &mut self,
        columns: &[&dyn Array],
        pairs: &[(usize, usize)],
    ) -> Result<(), ParquetError> {
        if columns
            .first()
            .is_some_and(|c| c.data_type() == &DataType::Utf8)
        {
            return self.write_gathered_strings(columns, pairs);
        }
        let mut sources = Vec::with_capacity(columns.len());
        for column in columns {
            let dict = self.dictionary_of(*column)?;
            let t = self.renumbering(dict.values());
            sources.push((dict, column.logical_nulls(), t));
        }
        let nullable = self.descr.max_def_level() > 0;
        for &(c, r) in pairs {
            let (dict, nulls, t) = &sources[c];
            let valid = nulls.as_ref().is_none_or(|n| n.is_valid(r));
            if !valid {
                if !nullable {
                    return Err(self.required_error());
                }
                if let Some(stats) = &mut self.dictionary.stats {
                    stats.nulls += 1;
                }
            }
            let k = dict.keys().values()[r] as usize;
            self.push_row(valid.then_some((*t, k)), nullable)?;
        }
        Ok(())
    }

    /// Append one row: null, or key `k` of the batch dictionary `t` renumbers. Falls back to
    /// PLAIN pages, first closing the page of the rows before, when the value would take the
    /// dictionary past its limit.
    fn push_row(
        &mut self,
        value: Option<(usize, usize)>,
        nullable: bool,
    ) -> Result<(), ParquetError> {
        if let Some((t, k)) = value {
            let (values, table) = &self.renumbered[t];
            if self.plain.is_none() && table[k] == UNSEEN {
                let len = values.as_string::<i32>().value(k).len();
                if self.dictionary.page.len() + 4 + len > self.dictionary_limit {
                    self.flush_page()?;
                    self.plain = Some(PageValues::new(Encoding::PLAIN)?);
                }
            }
        }
        if nullable {
            put_level(&mut self.levels, &mut self.level_run, value.is_some(), 1);
        }
        if let Some((t, k)) = value {
            let (values, table) = &mut self.renumbered[t];
            let values = values.as_string::<i32>();
            match &mut self.plain {
                Some(page) => {
                    let v = values.value(k).as_bytes();
                    page.push(v);
                    if let Some(stats) = &mut self.dictionary.stats {
                        stats.add_value(v);
                    }
                }
                None => {
                    let i = renumber(table, &mut self.dictionary, values, k)?;
                    self.indices.push(i);
                }
            }
        }
        self.advance(1)
    }

    fn dictionary_of<'a>(
        &self,
        column: &'a dyn Array,
    ) -> Result<&'a DictionaryArray<UInt16Type>, ParquetError> {
        column.as_dictionary_opt::<UInt16Type>().ok_or_else(|| {
            ParquetError::General(format!(
                "column {} is {}, not a dictionary of strings",
                self.descr.name(),
                column.data_type()
            ))
        })
    }

    fn required_error(&self) -> ParquetError {
        ParquetError::General(format!(
            "column {} is required but has nulls",
            self.descr.name()
        ))
    }

    /// Where the input rows from `at` (of `len`) reach the end of the current page.
    fn page_end(&self, at: usize, len: usize) -> usize {
        len.min(at + self.page_rows - (self.rows - self.page_start))
    }

    /// Count `rows` more rows written, closing the page when it is full.
    fn advance(&mut self, rows: usize) -> Result<(), ParquetError> {
        self.rows += rows;
        let full = self.rows - self.page_start == self.page_rows
            || self
                .plain
                .as_ref()
                .is_some_and(|p| p.plain_len() >= self.page_bytes);
        match full {
            true => self.flush_page(),
            false => Ok(()),
        }
    }

    fn flush_page(&mut self) -> Result<(), ParquetError> {
        // A page's size is an i32 in its header (and `starts` are u32): refuse, never wrap.
        if self.dictionary.page.len() > i32::MAX as usize {
            return Err(ParquetError::General(format!(
                "the dictionary of column {} in one row group passed 2 GiB",
                self.descr.name()
            )));
        }
        let rows = self.rows - self.page_start;
        if rows == 0 {
            return Ok(());
        }
        let levels = match self.descr.max_def_level() > 0 {
            true => {
                let (valid, count) = std::mem::replace(&mut self.level_run, (true, 0));
                self.levels.put_run(valid as u32, count);
                Some(std::mem::replace(&mut self.levels, rle::Encoder::new(1)).finish())
            }
            false => None,
        };
        let name = self.descr.name();
        let (encoding, buf, uncompressed) = match &mut self.plain {
            Some(values) => {
                let page = values.page(levels.as_deref())?;
                let uncompressed = page_length(page.len(), name)?;
                let buf = compress(self.zstd_level, page)?;
                values.clear();
                self.plain_pages += 1;
                (values.encoding(), buf, uncompressed)
            }
            None => {
                let mut page = Vec::new();
                if let Some(levels) = &levels {
                    // Format v1: the levels' byte length, then the levels.
                    page.extend_from_slice(&length_u32(levels.len(), name)?.to_le_bytes());
                    page.extend_from_slice(levels);
                }
                // Indices are as wide as the dictionary so far needs (each page says its own).
                let entries = u32::try_from(self.dictionary.starts.len()).unwrap_or(u32::MAX);
                let width = rle::bit_width(entries.saturating_sub(1));
                page.push(width);
                rle::encode(&self.indices, width, &mut page);
                let uncompressed = page_length(page.len(), name)?;
                let buf = match self.zstd_level {
                    None => page,
                    level => compress(level, &page)?,
                };
                (Encoding::RLE_DICTIONARY, buf, uncompressed)
            }
        };
        let page = Page::DataPage {
            buf: Bytes::from(buf),
            num_values: u32::try_from(rows)
                .map_err(|_| ParquetError::General("too many rows in a page".into()))?,
            encoding,
            def_level_encoding: Encoding::RLE,
            rep_level_encoding: Encoding::RLE,
            statistics: None,
        };
        self.pages
            .push((CompressedPage::new(page, uncompressed), rows));
        self.indices.clear();
        self.page_start = self.rows;
        Ok(())
    }

    /// The chunk's bytes (offsets from 0) and what parquet needs to append them to a row group,
    /// with statistics shortened to `truncate` bytes.
    pub fn finish(
        mut self,
        truncate: Option<usize>,
    ) -> Result<(Bytes, ColumnCloseResult), ParquetError> {
        self.flush_page()?;
        let dictionary = std::mem::take(&mut self.dictionary.page);
        let uncompressed = dictionary.len();
        let dictionary_page = Page::DictionaryPage {
            buf: Bytes::from(match self.zstd_level {
                None => dictionary,
                level => compress(level, &dictionary)?,
            }),
            num_values: u32::try_from(self.dictionary.starts.len()).map_err(|_| {
                ParquetError::General("a dictionary of more than 4 G values".into())
            })?,
            encoding: Encoding::PLAIN,
            is_sorted: false,
        };
        let mut sink = TrackedWrite::new(Vec::new());
        let mut offsets = OffsetIndexBuilder::new();
        let (mut compressed_size, mut uncompressed_size) = (0i64, 0i64);
        let mut writer = SerializedPageWriter::new(&mut sink);
        // A chunk that fell back before its first page has no dictionary to write.
        let dictionary_pages = self.pages.len() - self.plain_pages as usize;
        let has_dictionary =
            self.plain.is_none() || !self.dictionary.starts.is_empty() || dictionary_pages > 0;
        let mut dictionary_offset = None;
        if has_dictionary {
            let spec = writer.write_page(CompressedPage::new(dictionary_page, uncompressed))?;
            dictionary_offset = Some(spec.offset as i64);
            compressed_size += spec.compressed_size as i64;
            uncompressed_size += spec.uncompressed_size as i64;
        }
        let mut data_offset = None;
        let data_pages = i32::try_from(self.pages.len())
            .map_err(|_| ParquetError::General("more than 2 G pages in a chunk".into()))?;
        for (page, rows) in std::mem::take(&mut self.pages) {
            let spec = writer.write_page(page)?;
            data_offset.get_or_insert(spec.offset as i64);
            offsets.append_offset_and_size(spec.offset as i64, spec.compressed_size as i32);
            offsets.append_row_count(rows as i64);
            compressed_size += spec.compressed_size as i64;
            uncompressed_size += spec.uncompressed_size as i64;
        }
        writer.close()?;
        let bytes = Bytes::from(sink.into_inner()?);
        // Pages that are not dictionary indices: PLAIN after a fall back, else as made.
        let plain_encoding = self
            .plain
            .as_ref()
            .map_or(Encoding::PLAIN, |p| p.encoding());
        let mut encodings = vec![Encoding::RLE];
        if has_dictionary {
            encodings.extend([Encoding::PLAIN, Encoding::RLE_DICTIONARY]);
        }
        if self.plain_pages > 0 || !has_dictionary {
            encodings.push(plain_encoding);
        }
        let mut page_stats = Vec::new();
        if has_dictionary {
            page_stats.push(PageEncodingStats {
                page_type: PageType::DICTIONARY_PAGE,
                encoding: Encoding::PLAIN,
                count: 1,
            });
        }
        for (encoding, count) in [
            (Encoding::RLE_DICTIONARY, data_pages - self.plain_pages),
            (plain_encoding, self.plain_pages),
        ] {
            if count > 0 {
                page_stats.push(PageEncodingStats {
                    page_type: PageType::DATA_PAGE,
                    encoding,
                    count,
                });
            }
        }
        let mut metadata = ColumnChunkMetaData::builder(self.descr.clone())
            .set_compression(self.compression)
            .set_encodings_mask(EncodingMask::new_from_encodings(encodings.iter()))
            .set_page_encoding_stats(page_stats)
            .set_total_compressed_size(compressed_size)
            .set_total_uncompressed_size(uncompressed_size)
            .set_num_values(self.rows as i64)
            .set_data_page_offset(data_offset.or(dictionary_offset).unwrap_or(0))
            .set_dictionary_page_offset(dictionary_offset);
        if let Some(stats) = self.dictionary.stats.take() {
            metadata = metadata.set_statistics(stats.finish(truncate));
        }
        let close = ColumnCloseResult {
            bytes_written: bytes.len() as u64,
            rows_written: self.rows as u64,
            metadata: metadata.build()?,
            bloom_filter: None,
            column_index: None,
            offset_index: Some(offsets.build()),
        };
        Ok((bytes, close))
    }
}

impl Dictionary {
    fn intern(&mut self, value: &[u8]) -> Result<u32, ParquetError> {
        let hash = self.hasher.hash_one(value);
        let (page, starts) = (&self.page, &self.starts);
        let at = |i: u32| {
            let start = starts[i as usize] as usize;
            let len = u32::from_le_bytes(page[start - 4..start].try_into().expect("4 bytes"));
            &page[start..start + len as usize]
        };
        if let Some(&(_, i)) = self.table.find(hash, |&(h, i)| h == hash && at(i) == value) {
            return Ok(i);
        }
        let too_large = || ParquetError::General("a dictionary page passed 4 GiB".into());
        let i = u32::try_from(self.starts.len()).map_err(|_| too_large())?;
        let len = u32::try_from(value.len()).map_err(|_| too_large())?;
        self.page.extend_from_slice(&len.to_le_bytes());
        let start = u32::try_from(self.page.len()).map_err(|_| too_large())?;
        self.table.insert_unique(hash, (hash, i), |&(h, _)| h);
        self.starts.push(start);
        self.page.extend_from_slice(value);
        if let Some(stats) = &mut self.stats {
            stats.add_value(value);
        }
        Ok(i)
    }
}

thread_local! {
    /// One zstd compressor per thread and level, kept between chunks: a compressor's set-up
    /// and its first use of its working memory cost more than compressing a small page
    /// (bench/NOTES.md, 2026-12-05), and a file's columns take turns between two levels (see
    /// `writer_properties`). `compress` resets it for each page.
    static COMPRESSORS: std::cell::RefCell<Vec<(i32, zstd::bulk::Compressor<'static>)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// `data` compressed at zstd `level`, or copied when the chunk is not compressed.
fn compress(level: Option<i32>, data: &[u8]) -> Result<Vec<u8>, ParquetError> {
    match level {
        None => Ok(data.to_vec()),
        Some(level) => compress_zstd(level, data),
    }
}

/// A page's byte length, refused past the i32 its header holds (never wrapped).
fn page_length(len: usize, column: &str) -> Result<usize, ParquetError> {
    match i32::try_from(len) {
        Ok(_) => Ok(len),
        Err(_) => Err(ParquetError::General(format!(
            "a page of column {column} passed 2 GiB"
        ))),
    }
}

/// `data` as one zstd frame at `level`.
fn compress_zstd(level: i32, data: &[u8]) -> Result<Vec<u8>, ParquetError> {
    let external = |e: std::io::Error| ParquetError::External(Box::new(e));
    COMPRESSORS.with(|cell| {
        let mut compressors = cell.borrow_mut();
        let at = match compressors.iter().position(|(l, _)| *l == level) {
            Some(at) => at,
            None => {
                let compressor = zstd::bulk::Compressor::new(level).map_err(external)?;
                compressors.push((level, compressor));
                compressors.len() - 1
            }
        };
        compressors[at].1.compress(data).map_err(external)
    })
}

/// Key `k` of a batch dictionary with `values`, as a number of the chunk's `dictionary`,
/// looked up once and then kept in `table`.
fn renumber(
    table: &mut [u32],
    dictionary: &mut Dictionary,
    values: &StringArray,
    k: usize,
) -> Result<u32, ParquetError> {
    match table[k] {
        UNSEEN => {
            let i = dictionary.intern(values.value(k).as_bytes())?;
            table[k] = i;
            Ok(i)
        }
        i => Ok(i),
    }
}

/// A length as the u32 that PLAIN byte arrays and page offsets take, or an error naming the
/// column (never a wrapped length).
fn length_u32(len: usize, column: &str) -> Result<u32, ParquetError> {
    u32::try_from(len).map_err(|_| {
        ParquetError::General(format!(
            "a value of column {column} passed 4 GiB in one page"
        ))
    })
}

/// Add `count` levels of `valid` to the run, giving the run to `levels` when it ends.
fn put_level(levels: &mut rle::Encoder, run: &mut (bool, usize), valid: bool, count: usize) {
    if run.0 == valid {
        run.1 += count;
    } else {
        levels.put_run(run.0 as u32, run.1);
        *run = (valid, count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns taking turns between levels each get their own level's frame, as a compressor
    /// made for it alone writes.
    #[test]
    fn pages_at_alternating_levels_compress_as_at_their_own_level() {
        let page: Vec<u8> = (0..4000u64)
            .flat_map(|i| format!("{:016x}", i.wrapping_mul(0x9E37_79B9_7F4A_7C15)).into_bytes())
            .collect();
        for level in [3, 1, 3, 1, 5] {
            let ours = compress_zstd(level, &page).unwrap();
            assert_eq!(
                ours,
                zstd::bulk::compress(&page, level).unwrap(),
                "level {level}"
            );
        }
        assert_ne!(
            compress_zstd(1, &page).unwrap(),
            compress_zstd(3, &page).unwrap()
        );
    }
}
