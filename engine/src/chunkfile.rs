//! The container format shared by checkpoint and log-archive files: a
//! header with a magic number and format version, then a sequence of
//! checksummed (and, when it pays, zstd-compressed) chunks, then an end
//! chunk that counts them, so a file cut short is recognised as such.
//!
//! On disk (integers little-endian):
//! - Header, 16 bytes: magic (8), format version (u32), CRC32C of the
//!   preceding 12 bytes (u32).
//! - Chunk header, 16 bytes: tag (u8), codec (u8: 0 raw, 1 zstd), 2 zero
//!   bytes, uncompressed length (u32), stored length (u32), CRC32C of the
//!   preceding 12 header bytes and the stored bytes (u32); then the stored
//!   bytes.
//! - The last chunk has tag [`TAG_END`] and holds the number of chunks
//!   before it (u64).
//!
//! Files are written to a temporary name, synced and renamed into place.

use crate::error::{Error, Result, SqlState};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const HEADER_LEN: usize = 16;
const CHUNK_HEADER_LEN: usize = 16;
const CODEC_RAW: u8 = 0;
const CODEC_ZSTD: u8 = 1;
/// Tag of the closing chunk.
pub const TAG_END: u8 = 0xff;
/// Chunks larger than this are refused when reading (a damaged length).
const MAX_CHUNK: usize = 256 << 20;
const ZSTD_LEVEL: i32 = 1;

fn corrupt(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::new(
        SqlState::DATA_CORRUPTED,
        format!("{} is damaged: {what}", path.display()),
    )
}

/// Writes a chunk file under a temporary name; [`ChunkWriter::finish`]
/// makes it durable under its real name.
pub struct ChunkWriter {
    out: BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    chunks: u64,
    bytes: u64,
}

impl ChunkWriter {
    pub fn create(path: &Path, magic: [u8; 8], version: u32) -> Result<ChunkWriter> {
        let tmp = path.with_extension("tmp");
        let file =
            File::create(&tmp).map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
        let mut w = ChunkWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            tmp,
            path: path.to_path_buf(),
            chunks: 0,
            bytes: 0,
        };
        let mut header = Vec::with_capacity(HEADER_LEN);
        header.extend_from_slice(&magic);
        header.extend_from_slice(&version.to_le_bytes());
        let crc = crc32c::crc32c(&header);
        header.extend_from_slice(&crc.to_le_bytes());
        w.write(&header)?;
        Ok(w)
    }

    fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.bytes += bytes.len() as u64;
        self.out
            .write_all(bytes)
            .map_err(|e| Error::io(format!("writing {}", self.tmp.display()), e))
    }

    /// Appends one chunk, compressed if that makes it smaller.
    pub fn chunk(&mut self, tag: u8, raw: &[u8]) -> Result<()> {
        let compressed = if raw.len() >= 256 {
            zstd::bulk::compress(raw, ZSTD_LEVEL).ok()
        } else {
            None
        };
        let (codec, stored) = match &compressed {
            Some(c) if c.len() < raw.len() => (CODEC_ZSTD, c.as_slice()),
            _ => (CODEC_RAW, raw),
        };
        let mut header = [0u8; CHUNK_HEADER_LEN];
        header[0] = tag;
        header[1] = codec;
        header[4..8].copy_from_slice(&(raw.len() as u32).to_le_bytes());
        header[8..12].copy_from_slice(&(stored.len() as u32).to_le_bytes());
        let crc = crc32c::crc32c_append(crc32c::crc32c(&header[..12]), stored);
        header[12..16].copy_from_slice(&crc.to_le_bytes());
        self.write(&header)?;
        self.write(stored)?;
        self.chunks += 1;
        Ok(())
    }

    /// Writes the end chunk, syncs the file, renames it into place and
    /// syncs the directory. Returns the file's size.
    pub fn finish(mut self) -> Result<u64> {
        let count = self.chunks;
        self.chunk(TAG_END, &count.to_le_bytes())?;
        let ctx = |what: &str, p: &Path| format!("{what} {}", p.display());
        let file = self
            .out
            .into_inner()
            .map_err(|e| Error::io(ctx("writing", &self.tmp), e.into_error()))?;
        file.sync_all()
            .map_err(|e| Error::io(ctx("syncing", &self.tmp), e))?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)
            .map_err(|e| Error::io(ctx("renaming", &self.tmp), e))?;
        if let Some(dir) = self.path.parent() {
            sync_dir(dir)?;
        }
        Ok(self.bytes)
    }
}

pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).map_err(|e| Error::io(format!("opening {}", dir.display()), e))?;
    d.sync_all()
        .map_err(|e| Error::io(format!("syncing {}", dir.display()), e))
}

/// Reads a chunk file back, checking every checksum.
pub struct ChunkReader {
    input: BufReader<File>,
    path: PathBuf,
    chunks: u64,
    done: bool,
}

impl ChunkReader {
    pub fn open(path: &Path, magic: [u8; 8], version: u32) -> Result<ChunkReader> {
        let file =
            File::open(path).map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let mut r = ChunkReader {
            input: BufReader::with_capacity(1 << 20, file),
            path: path.to_path_buf(),
            chunks: 0,
            done: false,
        };
        let mut header = [0u8; HEADER_LEN];
        r.read_exact(&mut header)?;
        if header[..8] != magic {
            return Err(corrupt(path, "wrong magic number"));
        }
        if crc32c::crc32c(&header[..12]) != u32::from_le_bytes(header[12..16].try_into().unwrap()) {
            return Err(corrupt(path, "header checksum mismatch"));
        }
        let v = u32::from_le_bytes(header[8..12].try_into().unwrap());
        if v != version {
            return Err(corrupt(
                path,
                format!("format version {v}, expected {version}"),
            ));
        }
        Ok(r)
    }

    fn read_exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.input.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                corrupt(&self.path, "the file ends early")
            } else {
                Error::io(format!("reading {}", self.path.display()), e)
            }
        })
    }

    /// The next chunk's tag and contents; `None` after the end chunk.
    /// With `decode` false the contents are checked but not decompressed
    /// (and an empty buffer is returned).
    pub fn next_chunk(&mut self, decode: bool) -> Result<Option<(u8, Vec<u8>)>> {
        if self.done {
            return Ok(None);
        }
        let mut header = [0u8; CHUNK_HEADER_LEN];
        self.read_exact(&mut header)?;
        let tag = header[0];
        let codec = header[1];
        let raw_len = u32::from_le_bytes(header[4..8].try_into().unwrap()) as usize;
        let stored_len = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(header[12..16].try_into().unwrap());
        if stored_len > MAX_CHUNK || raw_len > MAX_CHUNK {
            return Err(corrupt(&self.path, "implausible chunk length"));
        }
        let mut stored = vec![0u8; stored_len];
        self.read_exact(&mut stored)?;
        if crc32c::crc32c_append(crc32c::crc32c(&header[..12]), &stored) != crc {
            return Err(corrupt(
                &self.path,
                format!("checksum mismatch in chunk {}", self.chunks),
            ));
        }
        let raw = match (codec, decode) {
            (CODEC_RAW, _) => stored,
            (CODEC_ZSTD, false) => Vec::new(),
            (CODEC_ZSTD, true) => zstd::bulk::decompress(&stored, raw_len)
                .ok()
                .filter(|d| d.len() == raw_len)
                .ok_or_else(|| corrupt(&self.path, "chunk does not decompress"))?,
            _ => return Err(corrupt(&self.path, format!("unknown codec {codec}"))),
        };
        if tag == TAG_END {
            let count = raw
                .get(..8)
                .map(|b| u64::from_le_bytes(b.try_into().unwrap()));
            if count != Some(self.chunks) {
                return Err(corrupt(&self.path, "chunk count mismatch"));
            }
            self.done = true;
            return Ok(None);
        }
        self.chunks += 1;
        Ok(Some((tag, raw)))
    }
}

/// Checks every checksum of a chunk file without decoding it.
#[cfg(test)]
fn verify(path: &Path, magic: [u8; 8], version: u32) -> Result<()> {
    let mut r = ChunkReader::open(path, magic, version)?;
    while r.next_chunk(false)?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: [u8; 8] = *b"JOLTTEST";

    #[test]
    fn round_trip_and_damage_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let mut w = ChunkWriter::create(&path, MAGIC, 3).unwrap();
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 7) as u8).collect();
        w.chunk(1, b"small").unwrap();
        w.chunk(2, &big).unwrap();
        let size = w.finish().unwrap();
        assert!(size < 50_000, "compressible data is compressed: {size}");
        assert!(!dir.path().join("f.tmp").exists());

        let mut r = ChunkReader::open(&path, MAGIC, 3).unwrap();
        assert_eq!(r.next_chunk(true).unwrap(), Some((1, b"small".to_vec())));
        assert_eq!(r.next_chunk(true).unwrap(), Some((2, big)));
        assert_eq!(r.next_chunk(true).unwrap(), None);
        verify(&path, MAGIC, 3).unwrap();
        assert!(verify(&path, MAGIC, 4).is_err());
        assert!(verify(&path, *b"OTHERMAG", 3).is_err());

        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        std::fs::write(&path, &bytes[..n - 5]).unwrap();
        let err = verify(&path, MAGIC, 3).unwrap_err();
        assert_eq!(err.state, SqlState::DATA_CORRUPTED);
        bytes[40] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert!(verify(&path, MAGIC, 3)
            .unwrap_err()
            .message
            .contains("checksum"));
    }
}
