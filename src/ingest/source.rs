//! Input sources: files, folders (walked recursively), gzip, stdin. Reads bytes; knows no JSON.

use std::fs::File;
use std::io::Read;
use std::ops::Deref;
use std::path::{Path, PathBuf};

use memmap2::Mmap;

use super::IngestError;

/// One input, named as the user will see it in summaries and rejects.
#[derive(Debug, Clone)]
pub struct SourceRef {
    pub name: String,
    path: Option<PathBuf>,
    /// A file's size when it was listed.
    pub size: Option<u64>,
}

impl SourceRef {
    pub fn stdin() -> SourceRef {
        SourceRef {
            name: "-".into(),
            path: None,
            size: None,
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
            out.push(file_ref(p, meta.len()));
        }
    }
    Ok(out)
}

fn file_ref(p: &Path, size: u64) -> SourceRef {
    SourceRef {
        name: p.display().to_string(),
        path: Some(p.to_path_buf()),
        size: Some(size),
    }
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
            out.push(file_ref(&path, meta.len()));
        }
    }
    Ok(())
}

/// A source's bytes: mapped for plain files, in memory for stdin and gzip.
pub enum SourceBytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl Deref for SourceBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            SourceBytes::Mapped(m) => m,
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
            let len = f.metadata().map_err(|e| IngestError::io(p, e))?.len();
            let blake3 = hash_file(&f).map_err(|e| IngestError::io(p, e))?;
            if len == 0 {
                (SourceBytes::Owned(Vec::new()), blake3)
            } else {
                // SAFETY: the map is read-only; a file truncated by another process while we
                // read it is outside what omslake can defend against (as for any mmap reader).
                let m = unsafe { Mmap::map(&f) }.map_err(|e| IngestError::io(p, e))?;
                (SourceBytes::Mapped(m), blake3)
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
/// decoded (see `piece_hash`). `None` for stdin, an empty file, and a compressed file (whose
/// hash is of its compressed bytes; [`open`] reads those).
pub fn map_unhashed(src: &SourceRef) -> Result<Option<SourceBytes>, IngestError> {
    let Some(p) = &src.path else {
        return Ok(None);
    };
    let f = File::open(p).map_err(|e| IngestError::io(p, e))?;
    if f.metadata().map_err(|e| IngestError::io(p, e))?.len() == 0 {
        return Ok(None);
    }
    // SAFETY: as in `open`.
    let m = unsafe { Mmap::map(&f) }.map_err(|e| IngestError::io(p, e))?;
    match m.starts_with(&[0x1f, 0x8b]) {
        true => Ok(None),
        false => Ok(Some(SourceBytes::Mapped(m))),
    }
}

/// BLAKE3, not SHA-256: several times faster on one core (SIMD, no dedicated instructions
/// needed), and hashing every input byte was 8 % of ingest CPU with SHA-256.
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
    /// Tell the kernel the mapped pages of `range` are not needed now. Only a hint on residency:
    /// the data stays readable (pages of a read-only file map are re-read on access).
    pub fn release(&self, range: std::ops::Range<usize>) {
        if let SourceBytes::Mapped(m) = self {
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
