//! The backup file format.
//!
//! ```text
//! header   magic "JOLTBKUP" | format version u32 | flags u32
//!          | argon2id memory KiB u32 | iterations u32 | lanes u32
//!          | salt [16] | crc32c u32 of everything before it
//! frames   kind u8 | length u32 | payload [length] | crc32c u32 of kind,
//!          length and payload
//! ```
//!
//! The first frame is the manifest (JSON), then come row chunks, and the
//! last frame is the end marker (frame and row totals), so a truncated file
//! is always detected. Integers are little-endian. A frame's payload is the
//! raw content, zstd-compressed when the compression flag is set, then
//! sealed by [`FrameCipher`] when the encryption flag is set. The crc32c
//! covers the stored bytes, so damage is reported as such even without the
//! passphrase.

use super::crypto::{FrameCipher, KdfParams, SALT_LEN};
use crate::catalog::{SequenceDef, TableDef};
use crate::error::{Error, Result, SqlState};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};

pub const MAGIC: &[u8; 8] = b"JOLTBKUP";
pub const FORMAT_VERSION: u32 = 1;
const HEADER_BODY_LEN: usize = 8 + 4 + 4 + 12 + SALT_LEN;
pub const HEADER_LEN: usize = HEADER_BODY_LEN + 4;

const FLAG_ZSTD: u32 = 1;
const FLAG_ENCRYPTED: u32 = 2;

/// A frame larger than this is treated as damage rather than allocated.
const MAX_FRAME: usize = 256 << 20;
const ZSTD_LEVEL: i32 = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    Manifest = 1,
    Chunk = 2,
    End = 3,
}

impl FrameKind {
    fn from_u8(b: u8) -> Option<FrameKind> {
        match b {
            1 => Some(FrameKind::Manifest),
            2 => Some(FrameKind::Chunk),
            3 => Some(FrameKind::End),
            _ => None,
        }
    }
}

/// What a backup holds, written as its first frame.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    pub format_version: u32,
    /// `table` or `database`.
    pub kind: String,
    /// The MVCC snapshot (commit timestamp) every row was read at.
    pub snapshot_ts: u64,
    /// Wall-clock time of the snapshot, microseconds since the Unix epoch.
    pub snapshot_time_micros: i64,
    /// Partition count of the database the backup was taken from.
    pub partitions: usize,
    pub tables: Vec<TableEntry>,
    pub sequences: Vec<SequenceEntry>,
    /// Role definitions (database backups only): password hashes and SCRAM
    /// verifiers, never passwords.
    #[serde(default)]
    pub roles: Vec<joltdb_auth::Role>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TableEntry {
    pub def: TableDef,
    pub rows: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SequenceEntry {
    pub def: SequenceDef,
    /// The last value handed out, and whether one was.
    pub last: i64,
    pub called: bool,
}

/// The end marker's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndMarker {
    pub chunks: u64,
    pub rows: u64,
}

/// How a backup file is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub version: u32,
    pub compressed: bool,
    pub encrypted: bool,
    pub kdf: KdfParams,
    pub salt: [u8; SALT_LEN],
}

impl Header {
    fn body(&self) -> [u8; HEADER_BODY_LEN] {
        let mut b = [0u8; HEADER_BODY_LEN];
        let mut flags = 0;
        if self.compressed {
            flags |= FLAG_ZSTD;
        }
        if self.encrypted {
            flags |= FLAG_ENCRYPTED;
        }
        b[..8].copy_from_slice(MAGIC);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&flags.to_le_bytes());
        b[16..20].copy_from_slice(&self.kdf.memory_kib.to_le_bytes());
        b[20..24].copy_from_slice(&self.kdf.iterations.to_le_bytes());
        b[24..28].copy_from_slice(&self.kdf.parallelism.to_le_bytes());
        b[28..].copy_from_slice(&self.salt);
        b
    }

    fn parse(bytes: &[u8; HEADER_LEN]) -> Result<Header> {
        if &bytes[..8] != MAGIC {
            return Err(corrupt("is not a joltdb backup file"));
        }
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let version = u32_at(8);
        if version != FORMAT_VERSION {
            return Err(Error::new(
                SqlState::FEATURE_NOT_SUPPORTED,
                format!(
                    "backup file has format version {version}; this joltdb reads version {FORMAT_VERSION}"
                ),
            ));
        }
        if crc32c::crc32c(&bytes[..HEADER_BODY_LEN]) != u32_at(HEADER_BODY_LEN) {
            return Err(corrupt("has a damaged header (checksum mismatch)"));
        }
        let flags = u32_at(12);
        if flags & !(FLAG_ZSTD | FLAG_ENCRYPTED) != 0 {
            return Err(corrupt("has unknown header flags"));
        }
        Ok(Header {
            version,
            compressed: flags & FLAG_ZSTD != 0,
            encrypted: flags & FLAG_ENCRYPTED != 0,
            kdf: KdfParams {
                memory_kib: u32_at(16),
                iterations: u32_at(20),
                parallelism: u32_at(24),
            },
            salt: bytes[28..HEADER_BODY_LEN].try_into().expect("salt length"),
        })
    }
}

/// A corrupt-backup error (XX001); `what` completes "backup file ...".
pub fn corrupt(what: &str) -> Error {
    Error::new(SqlState::DATA_CORRUPTED, format!("backup file {what}"))
}

fn frame_aad(header_body: &[u8], kind: u8, index: u64) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header_body.len() + 9);
    aad.extend_from_slice(header_body);
    aad.push(kind);
    aad.extend_from_slice(&index.to_le_bytes());
    aad
}

/// Writes a backup file frame by frame.
pub struct BackupWriter<W: Write> {
    out: W,
    header: Header,
    cipher: Option<FrameCipher>,
    /// Kept from frame to frame (with the buffer it compresses into).
    compressor: Option<zstd::bulk::Compressor<'static>>,
    compressed: Vec<u8>,
    index: u64,
    bytes: u64,
}

impl<W: Write> BackupWriter<W> {
    /// Writes the header. With a passphrase the file is encrypted.
    pub fn new(mut out: W, compressed: bool, passphrase: Option<&str>) -> Result<BackupWriter<W>> {
        let kdf = KdfParams::default();
        let salt = match passphrase {
            Some(_) => super::crypto::random_salt(),
            None => [0u8; SALT_LEN],
        };
        let header = Header {
            version: FORMAT_VERSION,
            compressed,
            encrypted: passphrase.is_some(),
            kdf,
            salt,
        };
        let cipher = passphrase
            .map(|p| FrameCipher::derive(p, &salt, kdf))
            .transpose()?;
        let body = header.body();
        out.write_all(&body).map_err(write_err)?;
        out.write_all(&crc32c::crc32c(&body).to_le_bytes())
            .map_err(write_err)?;
        let compressor = compressed
            .then(|| zstd::bulk::Compressor::new(ZSTD_LEVEL))
            .transpose()
            .map_err(|e| Error::io("setting up backup compression", e))?;
        Ok(BackupWriter {
            out,
            header,
            cipher,
            compressor,
            compressed: Vec::new(),
            index: 0,
            bytes: HEADER_LEN as u64,
        })
    }

    pub fn frame(&mut self, kind: FrameKind, raw: &[u8]) -> Result<()> {
        let mut payload: &[u8] = raw;
        if let Some(compressor) = &mut self.compressor {
            self.compressed.clear();
            self.compressed
                .reserve(zstd::zstd_safe::compress_bound(raw.len()));
            compressor
                .compress_to_buffer(raw, &mut self.compressed)
                .map_err(|e| Error::io("compressing a backup frame", e))?;
            payload = &self.compressed;
        }
        let sealed;
        if let Some(c) = &self.cipher {
            let aad = frame_aad(&self.header.body(), kind as u8, self.index);
            sealed = c.seal(self.index, &aad, payload)?;
            payload = &sealed;
        }
        let mut head = [0u8; 5];
        head[0] = kind as u8;
        head[1..].copy_from_slice(&(payload.len() as u32).to_le_bytes());
        let mut crc = crc32c::crc32c(&head);
        crc = crc32c::crc32c_append(crc, payload);
        self.out.write_all(&head).map_err(write_err)?;
        self.out.write_all(payload).map_err(write_err)?;
        self.out.write_all(&crc.to_le_bytes()).map_err(write_err)?;
        self.index += 1;
        self.bytes += 9 + payload.len() as u64;
        Ok(())
    }

    pub fn manifest(&mut self, m: &Manifest) -> Result<()> {
        let json = serde_json::to_vec(m)
            .map_err(|e| Error::internal(format!("serializing backup manifest: {e}")))?;
        self.frame(FrameKind::Manifest, &json)
    }

    pub fn end(&mut self, end: EndMarker) -> Result<()> {
        let mut b = Vec::with_capacity(16);
        b.extend_from_slice(&end.chunks.to_le_bytes());
        b.extend_from_slice(&end.rows.to_le_bytes());
        self.frame(FrameKind::End, &b)
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    pub fn into_inner(self) -> W {
        self.out
    }
}

fn write_err(e: std::io::Error) -> Error {
    Error::io("writing backup file", e)
}

/// Why a passphrase is needed or wrong: kept apart from damage.
pub fn wrong_passphrase() -> Error {
    Error::new(
        SqlState::INVALID_PASSWORD,
        "wrong encryption passphrase for backup",
    )
}

/// Reads a backup file frame by frame, checking every checksum.
pub struct BackupReader<R: Read> {
    input: R,
    pub header: Header,
    cipher: Option<FrameCipher>,
    decompressor: Option<zstd::bulk::Decompressor<'static>>,
    index: u64,
    finished: bool,
}

impl<R: Read> BackupReader<R> {
    /// Reads and checks the header; an encrypted backup needs its
    /// passphrase (22023 without one).
    pub fn new(mut input: R, passphrase: Option<&str>) -> Result<BackupReader<R>> {
        let mut bytes = [0u8; HEADER_LEN];
        read_full(&mut input, &mut bytes)?;
        let header = Header::parse(&bytes)?;
        let cipher = if header.encrypted {
            let Some(p) = passphrase else {
                return Err(
                    Error::new(SqlState::INVALID_PARAMETER_VALUE, "backup is encrypted")
                        .with_hint("Give WITH (encryption_passphrase = '...')."),
                );
            };
            Some(FrameCipher::derive(p, &header.salt, header.kdf)?)
        } else {
            None
        };
        Ok(BackupReader {
            input,
            header,
            cipher,
            decompressor: None,
            index: 0,
            finished: false,
        })
    }

    /// The next frame's kind and raw content; `None` after the end marker.
    pub fn next_frame(&mut self) -> Result<Option<(FrameKind, Vec<u8>)>> {
        if self.finished {
            return Ok(None);
        }
        let mut head = [0u8; 5];
        read_full(&mut self.input, &mut head)?;
        let kind_byte = head[0];
        let len = u32::from_le_bytes(head[1..].try_into().expect("4 bytes")) as usize;
        if len > MAX_FRAME {
            return Err(corrupt("is damaged (impossible frame length)"));
        }
        let mut payload = vec![0u8; len];
        read_full(&mut self.input, &mut payload)?;
        let mut crc = [0u8; 4];
        read_full(&mut self.input, &mut crc)?;
        let want = crc32c::crc32c_append(crc32c::crc32c(&head), &payload);
        if u32::from_le_bytes(crc) != want {
            return Err(corrupt(&format!(
                "is damaged (checksum mismatch in frame {})",
                self.index
            )));
        }
        let kind = FrameKind::from_u8(kind_byte)
            .ok_or_else(|| corrupt("is damaged (unknown frame kind)"))?;
        if (self.index == 0) != (kind == FrameKind::Manifest) {
            return Err(corrupt("is damaged (frames out of order)"));
        }
        if let Some(c) = &self.cipher {
            let aad = frame_aad(&self.header.body(), kind_byte, self.index);
            payload = match c.open(self.index, &aad, &payload) {
                Some(p) => p,
                // The first frame is where a wrong key shows; a later frame
                // that fails to open (with a good checksum) was altered.
                None if self.index == 0 => return Err(wrong_passphrase()),
                None => return Err(corrupt("failed authentication (altered content)")),
            };
        }
        if self.header.compressed {
            payload = self.decompress(&payload)?;
        }
        self.index += 1;
        if kind == FrameKind::End {
            self.finished = true;
            let mut extra = [0u8; 1];
            match self.input.read(&mut extra) {
                Ok(0) => {}
                Ok(_) => return Err(corrupt("has data after its end marker")),
                Err(e) => return Err(Error::io("reading backup file", e)),
            }
        }
        Ok(Some((kind, payload)))
    }

    fn decompress(&mut self, compressed: &[u8]) -> Result<Vec<u8>> {
        let bad = || corrupt("is damaged (bad compressed frame)");
        // Frames state their content size, which sizes the output at once.
        match zstd::zstd_safe::get_frame_content_size(compressed) {
            Ok(Some(size)) if size as usize <= MAX_FRAME => {
                let decompressor = match &mut self.decompressor {
                    Some(d) => d,
                    None => self
                        .decompressor
                        .insert(zstd::bulk::Decompressor::new().map_err(|_| bad())?),
                };
                let out = decompressor
                    .decompress(compressed, size as usize)
                    .map_err(|_| bad())?;
                if out.len() != size as usize {
                    return Err(bad());
                }
                Ok(out)
            }
            Ok(Some(_)) => Err(bad()),
            _ => zstd::stream::decode_all(compressed).map_err(|_| bad()),
        }
    }

    pub fn manifest(&mut self) -> Result<Manifest> {
        match self.next_frame()? {
            Some((FrameKind::Manifest, json)) => {
                let m: Manifest = serde_json::from_slice(&json)
                    .map_err(|e| corrupt(&format!("has a damaged manifest: {e}")))?;
                if m.format_version != FORMAT_VERSION {
                    return Err(corrupt("has a manifest of another format version"));
                }
                Ok(m)
            }
            _ => Err(corrupt("has no manifest")),
        }
    }

    /// Frames read so far.
    pub fn frames_read(&self) -> u64 {
        self.index
    }
}

pub fn parse_end(raw: &[u8]) -> Result<EndMarker> {
    if raw.len() != 16 {
        return Err(corrupt("has a damaged end marker"));
    }
    Ok(EndMarker {
        chunks: u64::from_le_bytes(raw[..8].try_into().expect("8 bytes")),
        rows: u64::from_le_bytes(raw[8..].try_into().expect("8 bytes")),
    })
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> Result<()> {
    r.read_exact(buf).map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            corrupt("is truncated")
        } else {
            Error::io("reading backup file", e)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            format_version: FORMAT_VERSION,
            kind: "table".into(),
            snapshot_ts: 7,
            snapshot_time_micros: 1,
            partitions: 2,
            tables: vec![],
            sequences: vec![],
            roles: vec![],
        }
    }

    fn write(compressed: bool, pass: Option<&str>) -> Vec<u8> {
        let mut w = BackupWriter::new(Vec::new(), compressed, pass).unwrap();
        w.manifest(&manifest()).unwrap();
        w.frame(FrameKind::Chunk, &[7u8; 1000]).unwrap();
        w.end(EndMarker { chunks: 1, rows: 3 }).unwrap();
        w.into_inner()
    }

    fn read_all(bytes: &[u8], pass: Option<&str>) -> Result<Vec<(FrameKind, Vec<u8>)>> {
        let mut r = BackupReader::new(bytes, pass)?;
        let mut out = vec![];
        while let Some(f) = r.next_frame()? {
            out.push(f);
        }
        Ok(out)
    }

    #[test]
    fn round_trips_in_every_mode() {
        for (c, p) in [
            (false, None),
            (true, None),
            (false, Some("pw")),
            (true, Some("pw")),
        ] {
            let bytes = write(c, p);
            let frames = read_all(&bytes, p).unwrap();
            assert_eq!(frames.len(), 3);
            assert_eq!(frames[1].1, vec![7u8; 1000]);
            assert_eq!(
                parse_end(&frames[2].1).unwrap(),
                EndMarker { chunks: 1, rows: 3 }
            );
        }
    }

    #[test]
    fn damage_truncation_and_wrong_passphrase_are_detected() {
        let bytes = write(true, Some("pw"));
        assert_eq!(
            read_all(&bytes, Some("nope")).unwrap_err().state,
            SqlState::INVALID_PASSWORD
        );
        assert_eq!(
            read_all(&bytes, None).unwrap_err().state,
            SqlState::INVALID_PARAMETER_VALUE
        );
        for cut in [10, HEADER_LEN + 3, bytes.len() - 1] {
            let e = read_all(&bytes[..cut], Some("pw")).unwrap_err();
            assert_eq!(e.state, SqlState::DATA_CORRUPTED, "cut at {cut}: {e:?}");
        }
        for flip in [0, 20, HEADER_LEN + 7, bytes.len() - 10] {
            let mut b = bytes.clone();
            b[flip] ^= 0x40;
            let e = read_all(&b, Some("pw")).unwrap_err();
            assert_eq!(e.state, SqlState::DATA_CORRUPTED, "flip at {flip}: {e:?}");
        }
    }
}
