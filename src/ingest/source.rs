//! Input sources: files, folders (walked recursively), gzip, stdin. Reads bytes; knows no JSON.

use std::fs::File;
use std::io::{Read, Write};
use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use memmap2::Mmap;

use super::{map_guard, IngestError};

/// A file not modified for this long is taken as complete and mapped. A younger one (an
/// exporter may still be writing it) is read into memory, so that a change cannot reach bytes
/// already checked, unless it is larger than [`READ_AT_MOST`]: memory stays bounded, and such a
/// file is mapped like the others. Either way a truncation ends the ingest with a message
/// (`map_guard`) and any other change is found by [`check_unchanged`] before the commit.
const SETTLED: Duration = Duration::from_secs(5);
const READ_AT_MOST: u64 = 64 << 20;

/// Whether to read `meta`'s file into memory rather than map it.
fn read_whole(meta: &std::fs::Metadata) -> bool {
    meta.len() == 0 || (meta.len() <= READ_AT_MOST && !settled(meta))
}

/// One input, named as the user will see it in summaries and rejects.
#[derive(Debug, Clone)]
pub struct SourceRef {
    pub name: String,
    pub path: Option<PathBuf>,
    /// A file's size when it was listed.
    pub size: Option<u64>,
    /// A file's modification time when it was listed.
    modified: Option<SystemTime>,
}

impl SourceRef {
    pub fn stdin() -> SourceRef {
        SourceRef {
            name: "-".into(),
            path: None,
            size: None,
            modified: None,
        }
    }

    /// A file of `size` bytes, for tests of what is done with sources of a size.
    #[cfg(test)]
    pub fn of_size(name: &str, size: u64) -> SourceRef {
        SourceRef {
            name: name.into(),
            path: Some(PathBuf::from(name)),
            size: Some(size),
            modified: None,
        }
    }
}

/// Expand the command-line paths into sources: `-` is stdin, folders are walked recursively in
/// name order, hidden entries (`.name`) are skipped inside folders.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<SourceRef>, IngestError> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(SourceRef::stdin());
            continue;
        }
        let meta = std::fs::metadata(p).map_err(|e| IngestError::io(p, e))?;
        if meta.is_dir() {
            walk(p, &mut out)?;
        } else {
            out.push(file_ref(p, &meta));
        }
    }
    Ok(out)
}

fn file_ref(p: &Path, meta: &std::fs::Metadata) -> SourceRef {
    SourceRef {
        name: p.display().to_string(),
        path: Some(p.to_path_buf()),
        size: Some(meta.len()),
        modified: meta.modified().ok(),
    }
}

/// Fail if a file's size or modification time differs from when it was listed: it was
/// written to while it was ingested, so what was read may be neither the old content nor the
/// new.
pub fn check_unchanged(src: &SourceRef) -> Result<(), IngestError> {
    let Some(p) = &src.path else { return Ok(()) };
    let meta = std::fs::metadata(p).map_err(|e| IngestError::io(p, e))?;
    match Some(meta.len()) == src.size && meta.modified().ok() == src.modified {
        true => Ok(()),
        false => Err(IngestError::Changed(src.name.clone())),
    }
}

fn settled(meta: &std::fs::Metadata) -> bool {
    let age = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok());
    age.is_some_and(|a| a >= SETTLED)
}

/// `f` mapped, with a SIGBUS guard that names it.
fn map(f: &File, name: &str) -> std::io::Result<SourceBytes> {
    // SAFETY: the map is read-only and the file settled or large (see `SETTLED`); a truncation
    // while it is read ends the process through `map_guard` with a message, and any other
    // change is found by `check_unchanged` before anything is committed.
    let map = unsafe { Mmap::map(f) }?;
    let guard = map_guard::register(map.as_ptr(), map.len(), name);
    Ok(SourceBytes::Mapped { guard, map })
}

/// The first `len` bytes of `f`, an unnamed file of this process (see [`hold_or_spill`]),
/// mapped while it may still grow past them.
pub(super) fn map_spilled(f: &File, len: usize) -> std::io::Result<SourceBytes> {
    // SAFETY: the file has no name and only this process writes it, past `len` only from
    // now on, so the mapped bytes never change.
    let map = unsafe { memmap2::MmapOptions::new().len(len).map(f) }?;
    let guard = map_guard::unguarded();
    Ok(SourceBytes::Mapped { guard, map })
}

fn walk(dir: &Path, out: &mut Vec<SourceRef>) -> Result<(), IngestError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| IngestError::io(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| IngestError::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = e.path();
        let ty = e.file_type().map_err(|err| IngestError::io(&path, err))?;
        if ty.is_dir() {
            walk(&path, out)?;
        } else if ty.is_file() || (ty.is_symlink() && path.is_file()) {
            let meta = std::fs::metadata(&path).map_err(|err| IngestError::io(&path, err))?;
            out.push(file_ref(&path, &meta));
        }
    }
    Ok(())
}

/// A source's bytes: mapped for plain files and for large stdin or gzip inputs once decoded,
/// in memory for small ones.
pub enum SourceBytes {
    /// The guard is dropped (unregistered) before the map is unmapped.
    Mapped {
        guard: map_guard::Guard,
        map: Mmap,
    },
    Owned(Vec<u8>),
}

impl Deref for SourceBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SourceBytes::Mapped { map, .. } => map,
            SourceBytes::Owned(v) => v,
        }
    }
}

/// An opened source: its content hash (of the bytes as stored, compressed or not) and its
/// decoded bytes.
pub struct OpenedSource {
    pub blake3: String,
    pub stored_bytes: u64,
    pub bytes: SourceBytes,
}

/// Decoded bytes of a gzip input or stdin held in memory at most; past this they go to an
/// unnamed file in the spill folder, which is mapped like a plain file, so that memory stays
/// bounded whatever the input's size.
pub(super) const HOLD_AT_MOST: usize = 64 << 20;

/// Open a source: hash its bytes as stored, and map them, read them, or decode them (gzip).
/// `spill` is the folder for decoded bytes larger than [`HOLD_AT_MOST`] (the system's temporary
/// folder when `None`).
pub fn open(src: &SourceRef, spill: Option<&Path>) -> Result<OpenedSource, IngestError> {
    let Some(p) = &src.path else {
        let stdin = std::io::stdin().lock();
        return read_stream(stdin, src, Path::new("-"), spill, HOLD_AT_MOST);
    };
    let f = File::open(p).map_err(|e| IngestError::io(p, e))?;
    let meta = f.metadata().map_err(|e| IngestError::io(p, e))?;
    let mut magic = [0u8; 2];
    let gzip =
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut magic, 0).is_ok() && magic == GZIP_MAGIC;
    if gzip {
        return read_stream(f, src, p, spill, HOLD_AT_MOST);
    }
    let (bytes, blake3) = if read_whole(&meta) {
        // Read once: the hash is of exactly the bytes decoded.
        let mut v = Vec::new();
        (&f).read_to_end(&mut v)
            .map_err(|e| IngestError::io(p, e))?;
        let blake3 = hash(&v);
        (SourceBytes::Owned(v), blake3)
    } else {
        let blake3 = hash_file(&f).map_err(|e| IngestError::io(p, e))?;
        (
            map(&f, &src.name).map_err(|e| IngestError::io(p, e))?,
            blake3,
        )
    };
    Ok(OpenedSource {
        blake3,
        stored_bytes: bytes.len() as u64,
        bytes,
    })
}

pub(super) const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The bytes a source decodes to, as far as can be told before reading it: a file's size, or
/// for a gzip file the size its trailer gives (of its last member, modulo 4 GiB), if larger.
pub fn decoded_size_hint(src: &SourceRef) -> Option<u64> {
    let (path, size) = (src.path.as_ref()?, src.size?);
    let decoded = File::open(path).ok().and_then(|f| gzip_size(&f, size));
    Some(size.max(decoded.unwrap_or(0)))
}

/// For a gzip file of `size` bytes, the decoded size its trailer gives; `None` when it is
/// not gzip.
fn gzip_size(f: &File, size: u64) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    let (mut magic, mut trailer) = ([0u8; 2], [0u8; 4]);
    f.read_exact_at(&mut magic, 0).ok()?;
    (size >= 18 && magic == GZIP_MAGIC).then_some(())?;
    f.read_exact_at(&mut trailer, size - 4).ok()?;
    Some(u64::from(u32::from_le_bytes(trailer)))
}

/// `src`'s file, opened, when it is gzip and decodes to more than is held in memory (by its
/// trailer), so that it is best decompressed while its pieces are decoded (`gzip_pieces`).
pub(super) fn large_gzip(src: &SourceRef) -> Result<Option<File>, IngestError> {
    let (Some(p), Some(size)) = (&src.path, src.size) else {
        return Ok(None);
    };
    let f = File::open(p).map_err(|e| IngestError::io(p, e))?;
    let large = gzip_size(&f, size).is_some_and(|n| n.max(size) > HOLD_AT_MOST as u64);
    Ok(large.then_some(f))
}

/// A stream's bytes (stdin, or a gzip file), hashed as read and decompressed when gzip: the
/// hash is of exactly the bytes decoded. Past `hold` decoded bytes they are spilled.
fn read_stream(
    stream: impl Read,
    src: &SourceRef,
    path: &Path,
    spill: Option<&Path>,
    hold: usize,
) -> Result<OpenedSource, IngestError> {
    let mut stored = std::io::BufReader::with_capacity(1 << 20, Hashing::new(stream));
    let head = std::io::BufRead::fill_buf(&mut stored).map_err(|e| IngestError::io(path, e))?;
    let bytes = if head.starts_with(&GZIP_MAGIC) {
        let mut decoder = flate2::bufread::MultiGzDecoder::new(&mut stored);
        let bytes = hold_or_spill(&mut decoder, src, spill, hold).map_err(|e| match e {
            Spilled::Reading(e) => gzip_error(src, e),
            Spilled::Writing(dir, e) => spill_error(src, &dir, e),
        })?;
        // All of the file is hashed, whatever the decoder left unread.
        std::io::copy(&mut stored, &mut std::io::sink()).map_err(|e| IngestError::io(path, e))?;
        bytes
    } else {
        hold_or_spill(&mut stored, src, spill, hold).map_err(|e| match e {
            Spilled::Reading(e) => IngestError::io(path, e),
            Spilled::Writing(dir, e) => spill_error(src, &dir, e),
        })?
    };
    let hashing = stored.into_inner();
    Ok(OpenedSource {
        blake3: hashing.hasher.finalize().to_hex().to_string(),
        stored_bytes: hashing.bytes,
        bytes,
    })
}

/// `stream`'s bytes in memory, or, past `hold` bytes, in an unnamed file of `spill` mapped
/// (the file goes when its map does, or with the process).
fn hold_or_spill(
    stream: &mut impl Read,
    src: &SourceRef,
    spill: Option<&Path>,
    hold: usize,
) -> Result<SourceBytes, Spilled> {
    let mut held = Vec::new();
    (stream.take(hold as u64 + 1))
        .read_to_end(&mut held)
        .map_err(Spilled::Reading)?;
    if held.len() <= hold {
        return Ok(SourceBytes::Owned(held));
    }
    let dir = spill.map_or_else(std::env::temp_dir, Path::to_path_buf);
    let writing = |e| Spilled::Writing(dir.clone(), e);
    let mut file = tempfile::tempfile_in(&dir).map_err(writing)?;
    file.write_all(&held).map_err(writing)?;
    drop(held);
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => file.write_all(&buffer[..n]).map_err(writing)?,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Spilled::Reading(e)),
        }
    }
    map(&file, &src.name).map_err(writing)
}

pub(super) fn gzip_error(src: &SourceRef, error: std::io::Error) -> IngestError {
    IngestError::Gzip {
        source_name: src.name.clone(),
        error: error.to_string(),
    }
}

pub(super) fn spill_error(src: &SourceRef, dir: &Path, error: std::io::Error) -> IngestError {
    IngestError::Spill {
        source_name: src.name.clone(),
        dir: dir.display().to_string(),
        error,
    }
}

/// Why [`hold_or_spill`] failed: reading the input, or writing (or mapping) the spill file.
enum Spilled {
    Reading(std::io::Error),
    Writing(PathBuf, std::io::Error),
}

/// A reader that hashes and counts what is read through it.
pub(super) struct Hashing<R> {
    inner: R,
    pub hasher: blake3::Hasher,
    pub bytes: u64,
}

impl<R> Hashing<R> {
    pub fn new(inner: R) -> Hashing<R> {
        Hashing {
            inner,
            hasher: blake3::Hasher::new(),
            bytes: 0,
        }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// A plain file's bytes, mapped and not hashed: its hash is taken piece by piece as it is
/// decoded (see `piece_hash`). `None` for stdin, an empty file, a small file not yet settled,
/// and a compressed file (whose hash is of its compressed bytes; [`open`] reads those).
pub fn map_unhashed(src: &SourceRef) -> Result<Option<SourceBytes>, IngestError> {
    let Some(p) = &src.path else {
        return Ok(None);
    };
    let f = File::open(p).map_err(|e| IngestError::io(p, e))?;
    let meta = f.metadata().map_err(|e| IngestError::io(p, e))?;
    if read_whole(&meta) {
        return Ok(None);
    }
    let m = map(&f, &src.name).map_err(|e| IngestError::io(p, e))?;
    match m.starts_with(&GZIP_MAGIC) {
        true => Ok(None),
        false => Ok(Some(m)),
    }
}

/// BLAKE3, not SHA-256: several times faster on one core (SIMD, no dedicated instructions
/// needed), and every input byte is hashed.
fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

/// [`hash`] of a file, read through a small buffer rather than its map: mapping each page to
/// hash it, releasing it and mapping it again to decode it cost more than copying it once
/// (page faults were a third of the hashing time).
fn hash_file(mut f: &File) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                h.update(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(h.finalize().to_hex().to_string())
}

impl SourceBytes {
    /// Start reading the pages of `range` that are not in memory (see `readahead`).
    pub fn read_ahead(&self, range: std::ops::Range<usize>) {
        if let SourceBytes::Mapped { map: m, .. } = self {
            super::readahead::read_ahead(m, range);
        }
    }

    /// Tell the kernel the mapped pages of `range` are not needed now. Only a hint on residency:
    /// the data stays readable (pages of a read-only file map are re-read on access).
    pub fn release(&self, range: std::ops::Range<usize>) {
        if let SourceBytes::Mapped { map: m, .. } = self {
            let page = 4096;
            let start = range.start.div_ceil(page) * page;
            let end = (range.end / page * page).min(m.len());
            if end > start {
                // SAFETY: DONTNEED on a read-only file mapping drops clean pages only;
                // later reads fault them back in from the file, so no borrowed slice changes.
                let _ = unsafe {
                    m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(text: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(text).unwrap();
        gz.finish().unwrap()
    }

    #[test]
    fn a_large_gzip_input_is_spilled_to_an_unnamed_file_and_hashed_as_stored() {
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("{{\"Type\":\"Event\",\"EventID\":{i}}}\n").into_bytes())
            .collect();
        let stored = gzip(&text);
        let spill = tempfile::tempdir().unwrap();
        let src = SourceRef::of_size("e.json.gz", stored.len() as u64);
        for (hold, spilled) in [(text.len(), false), (text.len() - 1, true), (1000, true)] {
            let read = |stream: &[u8]| {
                let path = Path::new("e.json.gz");
                read_stream(stream, &src, path, Some(spill.path()), hold).unwrap()
            };
            let opened = read(&stored);
            assert_eq!(&opened.bytes[..], &text[..], "hold {hold}");
            assert_eq!(matches!(opened.bytes, SourceBytes::Mapped { .. }), spilled);
            assert_eq!(opened.blake3, hash(&stored));
            assert_eq!(opened.stored_bytes, stored.len() as u64);
            // Nothing is left in the spill folder, even while the bytes are mapped.
            assert_eq!(std::fs::read_dir(spill.path()).unwrap().count(), 0);
            // A stream that is not gzip (stdin) is held or spilled the same way.
            let plain = read(&text);
            assert_eq!(&plain.bytes[..], &text[..]);
            assert_eq!(plain.blake3, hash(&text));
        }
    }

    #[test]
    fn a_spill_that_cannot_be_written_is_an_error_naming_the_folder() {
        let text = vec![b'x'; 10_000];
        let src = SourceRef::of_size("e.json.gz", 0);
        let missing = Path::new("/nonexistent/omslake-spill");
        for stored in [gzip(&text), text.clone()] {
            let read = read_stream(&stored[..], &src, Path::new("e"), Some(missing), 100);
            let Err(e @ IngestError::Spill { .. }) = read else {
                panic!("a spill error");
            };
            let message = e.to_string();
            assert!(
                message.starts_with(
                    "e.json.gz: cannot write its decoded bytes to /nonexistent/omslake-spill"
                ),
                "{message}"
            );
        }
    }

    #[test]
    fn a_gzip_file_s_decoded_size_is_read_from_its_trailer() {
        let dir = tempfile::tempdir().unwrap();
        let text = vec![b'x'; 100_000];
        let (gz, plain) = (dir.path().join("a.gz"), dir.path().join("a.json"));
        std::fs::write(&gz, gzip(&text)).unwrap();
        std::fs::write(&plain, &text).unwrap();
        let sources = expand(&[gz, plain]).unwrap();
        let hints: Vec<_> = sources.iter().map(decoded_size_hint).collect();
        assert_eq!(hints, [Some(100_000), Some(100_000)]);
        assert!(sources[0].size.unwrap() < 1000);
    }
}
