//! A large gzip NDJSON file cut in pieces while it is being decompressed, so that one thread
//! decompresses while the other decodes (decompressing first left the other core idle for
//! the whole of it). The decompressed bytes go to an unnamed file in the spill folder; a
//! piece (cut at the first line end past each `target` bytes, where `shape::ndjson_chunks`
//! cuts the plain file) is handed over as soon as it is written. A file that turns out not to
//! be NDJSON, or no larger than a piece, is decompressed in full and opened as any other.

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use super::queue::{Chunk, Opening, Shared};
use super::shape::{ndjson_start, NdjsonStart, Shape};
use super::source::{self, map_spilled, Hashing, OpenedSource, SourceBytes, SourceRef};
use super::{IngestError, Run, SourceReport, SourceStatus};

/// What [`Run::open_gzip_in_pieces`] did with a source.
pub(super) enum Opened {
    /// Its pieces were handed to the queue, this many.
    InPieces(usize),
    /// It was decompressed in full (`None`: it was left alone), to be opened as usual.
    Whole(Option<OpenedSource>),
}

impl Run<'_> {
    /// Source `i`, when it is a gzip file too large to hold decoded and its hash can wait
    /// (no other source can be the same file: see `Shared::hash_later`), decompressed while
    /// the queue's threads decode its pieces.
    pub(super) fn open_gzip_in_pieces(
        &self,
        i: usize,
        shared: &Shared<'_>,
        opening: &Opening<'_, '_>,
    ) -> Result<Opened, IngestError> {
        let src = &shared.sources[i];
        if !shared.hash_later[i] {
            return Ok(Opened::Whole(None));
        }
        let Some(file) = source::large_gzip(src)? else {
            return Ok(Opened::Whole(None));
        };
        let spill = self.options.spill_dir.as_deref();
        let mut pieces = 0;
        let lines = std::sync::Arc::new(super::line_base::LineCounts::default());
        let streamed = stream(
            file,
            src,
            spill,
            self.options.chunk_bytes,
            |bytes, range| {
                if pieces == 0 {
                    // Before its first piece is decoded, which counts its records in it.
                    shared.reports.lock().expect("lock")[i] = Some(SourceReport {
                        name: src.name.clone(),
                        blake3: String::new(), // filled in once it is all read
                        bytes: 0,
                        decoded_bytes: 0,
                        shape: Some(Shape::Ndjson.name()),
                        status: SourceStatus::Ingested,
                        accepted: 0,
                        rejected: 0,
                    });
                }
                let (source, piece, hasher, elements) = (i, pieces, None, None);
                opening.hand_over(vec![Chunk {
                    source,
                    piece,
                    bytes,
                    range,
                    hasher,
                    elements,
                    lines: lines.clone(),
                }]);
                pieces += 1;
            },
        )?;
        match streamed {
            Streamed::Whole(opened) => Ok(Opened::Whole(Some(opened))),
            Streamed::Pieces {
                blake3,
                stored_bytes,
                decoded_bytes,
            } => {
                let mut reports = shared.reports.lock().expect("lock");
                let report = reports[i].as_mut().expect("reported at its first piece");
                (report.blake3, report.bytes) = (blake3, stored_bytes);
                report.decoded_bytes = decoded_bytes;
                Ok(Opened::InPieces(pieces))
            }
        }
    }
}

/// What became of the file.
pub(super) enum Streamed {
    /// Its pieces were handed over; they decode to `decoded_bytes`.
    Pieces {
        blake3: String,
        stored_bytes: u64,
        decoded_bytes: u64,
    },
    /// Not NDJSON, or small: decompressed in full, to be opened like any other source.
    Whole(OpenedSource),
}

/// Decompress `file` (gzip), handing over each piece of its NDJSON: the bytes it is in (the
/// decompressed file up to the piece's end, mapped) and its range there.
pub(super) fn stream(
    file: File,
    src: &SourceRef,
    spill: Option<&Path>,
    target: usize,
    mut hand_over: impl FnMut(Arc<SourceBytes>, Range<usize>),
) -> Result<Streamed, IngestError> {
    let path = src.path.as_deref().unwrap_or(Path::new("-"));
    let dir = spill.map_or_else(std::env::temp_dir, Path::to_path_buf);
    let spill_error = |e| source::spill_error(src, &dir, e);
    let mut stored = BufReader::with_capacity(1 << 20, Hashing::new(file));
    let mut decoder = flate2::bufread::MultiGzDecoder::new(&mut stored);
    let mut out = tempfile::tempfile_in(&dir).map_err(spill_error)?;
    let mut cutter = Cutter::new(target);
    let mut head = Vec::new();
    let mut ndjson = None;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = match decoder.read(&mut buffer) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(source::gzip_error(src, e)),
        };
        let eof = n == 0;
        let bytes = &buffer[..n];
        out.write_all(bytes).map_err(spill_error)?;
        if ndjson.is_none() {
            head.extend_from_slice(bytes);
            ndjson = is_ndjson(&head, target, eof);
            if ndjson.is_some() {
                head = Vec::new();
            }
        }
        cutter.add(bytes, eof);
        if ndjson == Some(true) {
            for piece in cutter.cuts.drain(..) {
                let bytes = map_spilled(&out, piece.end).map_err(spill_error)?;
                hand_over(Arc::new(bytes), piece);
            }
        }
        if eof {
            break;
        }
    }
    // All of the file is hashed, whatever the decoder left unread.
    std::io::copy(&mut stored, &mut std::io::sink()).map_err(|e| IngestError::io(path, e))?;
    let hashing = stored.into_inner();
    let blake3 = hashing.hasher.finalize().to_hex().to_string();
    let written = cutter.written;
    if ndjson == Some(true) {
        return Ok(Streamed::Pieces {
            blake3,
            stored_bytes: hashing.bytes,
            decoded_bytes: written as u64,
        });
    }
    let bytes = match written {
        0 => SourceBytes::Owned(Vec::new()),
        _ => map_spilled(&out, written).map_err(spill_error)?,
    };
    Ok(Streamed::Whole(OpenedSource {
        blake3,
        stored_bytes: hashing.bytes,
        bytes,
    }))
}

/// Whether the decompressed bytes so far (`head`, from the start) are NDJSON as
/// `shape::ndjson_chunks` judges it: larger than a piece, and starting as NDJSON does. `None`
/// while that cannot be told yet.
fn is_ndjson(head: &[u8], target: usize, eof: bool) -> Option<bool> {
    match ndjson_start(head, eof) {
        NdjsonStart::Yes { .. } if head.len() > target => Some(true),
        // Small files are decoded whole, as a plain one would be.
        NdjsonStart::Yes { .. } | NdjsonStart::TooShort { .. } => eof.then_some(false),
        NdjsonStart::No { .. } => Some(false),
    }
}

/// Cuts decompressed bytes as they are written: after the first line end at or past each
/// multiple of `target` (`shape::ndjson_chunks`'s rule), and at the end.
struct Cutter {
    target: usize,
    /// Bytes written so far.
    written: usize,
    /// Where the next piece starts, and the multiple of `target` its end must reach.
    piece_start: usize,
    boundary: usize,
    cuts: Vec<Range<usize>>,
    /// The first bytes, to tell a byte order mark (not part of the first piece).
    first: Vec<u8>,
}

const BOM: &[u8] = b"\xef\xbb\xbf";

impl Cutter {
    fn new(target: usize) -> Cutter {
        Cutter {
            target,
            written: 0,
            piece_start: 0,
            boundary: target,
            cuts: Vec::new(),
            first: Vec::new(),
        }
    }

    fn add(&mut self, bytes: &[u8], eof: bool) {
        let from = self.written;
        self.written += bytes.len();
        if self.first.len() < BOM.len() {
            let n = (BOM.len() - self.first.len()).min(bytes.len());
            self.first.extend_from_slice(&bytes[..n]);
            if self.first == BOM {
                self.piece_start = BOM.len();
                while self.boundary <= self.piece_start {
                    self.boundary += self.target;
                }
            }
        }
        loop {
            let search = self.boundary.max(from);
            if search >= self.written {
                break;
            }
            let Some(n) = memchr::memchr(b'\n', &bytes[search - from..]) else {
                break;
            };
            let end = search + n + 1;
            self.cuts.push(self.piece_start..end);
            self.piece_start = end;
            while self.boundary <= end {
                self.boundary += self.target;
            }
        }
        if eof && self.piece_start < self.written {
            self.cuts.push(self.piece_start..self.written);
            self.piece_start = self.written;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::shape;
    use super::*;

    #[test]
    fn pieces_are_cut_where_a_plain_file_is_cut_however_the_bytes_arrive() {
        let text: String = (0..500)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(i % 37)))
            .collect();
        for (text, target) in [
            (text.clone(), 1000),
            (format!("\u{feff}{text}"), 997),
            (text.trim_end().to_string(), 4096),
            (text.clone(), 7),
            (format!("\u{feff}{text}"), 2),
        ] {
            let bytes = text.as_bytes();
            let expected = shape::ndjson_chunks(bytes, target, |_| {}).unwrap();
            for step in [1, 13, 1000, 1 << 20] {
                let mut cutter = Cutter::new(target);
                let mut ndjson = None;
                for (i, part) in bytes.chunks(step).enumerate() {
                    cutter.add(part, false);
                    if ndjson.is_none() {
                        ndjson = is_ndjson(&bytes[..(i * step + part.len())], target, false);
                    }
                }
                cutter.add(&[], true);
                assert_eq!(cutter.cuts, expected, "target {target}, step {step}");
                assert_eq!(ndjson, Some(true), "target {target}, step {step}");
            }
        }
    }

    #[test]
    fn only_what_a_plain_file_would_cut_is_taken_for_ndjson() {
        let record = "{\"a\":1}\n";
        for (head, target, eof, expected) in [
            (record.repeat(10), 20, false, Some(true)),
            (record.repeat(10), 100, false, None), // not past a piece yet
            (record.repeat(10), 100, true, Some(false)), // small: decoded whole
            ("[{\"a\":1},\n{\"a\":2}]".repeat(10), 20, false, Some(false)),
            ("{\"a\":1\n,\"b\":2}\n".repeat(10), 20, false, Some(false)), // one record over lines
            (format!("{{\"a\":\"{}\"}}", "x".repeat(50)), 20, false, None), // one long line
            (
                format!("{{\"a\":\"{}\"}}", "x".repeat(50)),
                20,
                true,
                Some(false),
            ),
            ("  \n ".to_string(), 20, false, None),
            ("  \n ".to_string(), 20, true, Some(false)),
            (format!("{record}   \n  "), 4, false, None), // nothing after the first line yet
        ] {
            assert_eq!(
                is_ndjson(head.as_bytes(), target, eof),
                expected,
                "{head:?}"
            );
            let plain = shape::ndjson_chunks(head.as_bytes(), target, |_| {}).is_some();
            if let Some(judged) = expected {
                assert_eq!(judged, plain, "as ndjson_chunks judges {head:?}");
            }
        }
    }
}
