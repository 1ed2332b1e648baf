//! Input sources: files, folders (walked recursively), gzip, stdin. Reads bytes; knows no JSON.

use std::fs::File;
use std::io::Read;
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
    path: Option<PathBuf>,
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

/// A source's bytes: mapped for plain files, in memory for stdin and gzip.
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

pub fn open(src: &SourceRef) -> Result<OpenedSource, IngestError> {
    let (raw, blake3) = match &src.path {
        None => {
            let mut v = Vec::new();
            std::io::stdin()
                .read_to_end(&mut v)
                .map_err(|e| IngestError::io(Path::new("-"), e))?;
            let blake3 = hash(&v);
            (SourceBytes::Owned(v), blake3)
        }
        Some(p) => {
            let f = File::open(p).map_err(|e| IngestError::io(p, e))?;
            let meta = f.metadata().map_err(|e| IngestError::io(p, e))?;
            if read_whole(&meta) {
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
            }
        }
    };
    let stored_bytes = raw.len() as u64;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| IngestError::Gzip {
                source_name: src.name.clone(),
                error: e.to_string(),
            })?;
        SourceBytes::Owned(out)
    } else {
        raw
    };
    Ok(OpenedSource {
        blake3,
        stored_bytes,
        bytes,
    })
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
    match m.starts_with(&[0x1f, 0x8b]) {
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
