//! The single-node partition log: preallocated segment files in a
//! directory, with group commit (one fdatasync for every record queued
//! while the previous one ran).
//!
//! On disk (all integers little-endian):
//! - Segment `NNNNNNNNNNNNNNNNNNNN.wal` (its first LSN, 20 digits), zero-filled
//!   to its full size when created, so appends overwrite allocated blocks and
//!   `fdatasync` has no metadata to write.
//! - Segment header, 32 bytes: magic `JOLTWAL\0`, format version (u32),
//!   header length (u32), first LSN (u64), CRC32C of the preceding 24 bytes
//!   (u32), 4 zero bytes.
//! - Records follow back to back: total length including this 16-byte record
//!   header (u32), CRC32C of LSN + payload (u32), LSN (u64), payload.
//!
//! A record is valid only if its length fits the segment, its CRC matches and
//! its LSN is the next expected one; the log ends at the first invalid record.
//! Bytes past the end of the log are kept zero (recovery and `truncate_after`
//! zero them), so nothing once cut off can look valid again.
//!
//! One writer thread owns the active segment and writes every batch with one
//! `pwrite` per segment and one `fdatasync`; a second thread prepares the next
//! segment (the "spare") ahead of time so a roll-over does not stall commits.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::mem;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use futures::channel::oneshot;
use futures::future::{self, BoxFuture};
use futures::FutureExt;
use parking_lot::{Condvar, Mutex, RwLock};

use super::{LogRecord, Lsn, PartitionLog};
use crate::error::{Error, Result, SqlState};

const MAGIC: [u8; 8] = *b"JOLTWAL\0";
const FORMAT_VERSION: u32 = 1;
const HEADER_LEN: u64 = 32;
const RECORD_HEADER_LEN: usize = 16;
/// The largest payload one record may carry.
pub const MAX_RECORD_SIZE: usize = 1 << 30;
const MIN_SEGMENT_SIZE: u64 = 256;
const SEGMENT_SUFFIX: &str = ".wal";
const SPARE_NAME: &str = "spare.wal.tmp";
const PREPARING_NAME: &str = "preparing.wal.tmp";
const CHUNK: usize = 1 << 20;
/// The writer's batch buffer is released after a batch larger than this.
const KEEP_BUFFER: usize = 16 << 20;
/// A record at least this large is written straight from its payload.
const DIRECT_WRITE: usize = 1 << 20;

/// Settings of a [`FileLog`].
#[derive(Clone, Debug)]
pub struct FileLogOptions {
    /// Size of a segment file. A record too large for one gets a segment of
    /// its own, sized to fit.
    pub segment_size: u64,
}

impl Default for FileLogOptions {
    fn default() -> Self {
        FileLogOptions {
            segment_size: 16 << 20,
        }
    }
}

/// A partition log in a local directory. See the module docs.
pub struct FileLog {
    shared: Arc<Shared>,
    writer: Mutex<Option<JoinHandle<()>>>,
    preparer: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    dir: PathBuf,
    segment_size: u64,
    queue: Mutex<Queue>,
    /// Wakes the writer when work arrives.
    work: Condvar,
    /// Signalled after the writer finished a batch (for `flush`).
    done: Condvar,
    durable_lsn: AtomicU64,
    sync_count: AtomicU64,
    /// First LSNs of the segment files on disk, ascending; the last one is
    /// the active segment.
    segments: Mutex<Vec<Lsn>>,
    /// Held shared while reading files, exclusively while deleting or
    /// cutting them.
    maintenance: RwLock<()>,
    spare: Mutex<SpareSlot>,
    spare_changed: Condvar,
    #[cfg(test)]
    fail_syncs: std::sync::atomic::AtomicBool,
}

struct Queue {
    next_lsn: Lsn,
    items: Vec<Item>,
    enqueued: u64,
    processed: u64,
    writer_waiting: bool,
    shutdown: bool,
    poison: Option<String>,
}

enum Item {
    Record(Pending),
    TruncateAfter(Lsn, mpsc::SyncSender<Result<()>>),
}

struct Pending {
    lsn: Lsn,
    payload: Vec<u8>,
    done: oneshot::Sender<Result<Lsn>>,
}

#[derive(Default)]
struct SpareSlot {
    ready: Option<File>,
    wanted: bool,
    preparing: bool,
    shutdown: bool,
}

/// The segment the writer appends to.
struct Active {
    file: File,
    first_lsn: Lsn,
    size: u64,
    write_off: u64,
}

impl FileLog {
    /// Opens (creating if needed) the log in `dir`, cutting off a torn or
    /// corrupt tail, and starts its writer.
    pub fn open(dir: &Path, options: FileLogOptions) -> Result<FileLog> {
        if options.segment_size < MIN_SEGMENT_SIZE {
            return Err(Error::new(
                SqlState::INVALID_PARAMETER_VALUE,
                format!("log segment size must be at least {MIN_SEGMENT_SIZE} bytes"),
            ));
        }
        if !dir.is_dir() {
            fs::create_dir_all(dir)
                .map_err(|e| Error::io(format!("creating log directory {}", dir.display()), e))?;
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                sync_dir(parent)?;
            }
        }
        let mut shared = Shared {
            dir: dir.to_path_buf(),
            segment_size: options.segment_size,
            queue: Mutex::new(Queue {
                next_lsn: 1,
                items: Vec::new(),
                enqueued: 0,
                processed: 0,
                writer_waiting: false,
                shutdown: false,
                poison: None,
            }),
            work: Condvar::new(),
            done: Condvar::new(),
            durable_lsn: AtomicU64::new(0),
            sync_count: AtomicU64::new(0),
            segments: Mutex::new(Vec::new()),
            maintenance: RwLock::new(()),
            spare: Mutex::new(SpareSlot::default()),
            spare_changed: Condvar::new(),
            #[cfg(test)]
            fail_syncs: std::sync::atomic::AtomicBool::new(false),
        };
        let (active, segments, next_lsn) = recover(&mut shared)?;
        shared.queue.get_mut().next_lsn = next_lsn;
        shared.durable_lsn = AtomicU64::new(next_lsn - 1);
        *shared.segments.get_mut() = segments;
        shared.spare.get_mut().wanted = shared.spare.get_mut().ready.is_none();
        let shared = Arc::new(shared);

        let writer = Writer {
            shared: shared.clone(),
            active,
            buf: Vec::new(),
        };
        let writer = std::thread::Builder::new()
            .name("wal-writer".into())
            .spawn(move || writer.run())
            .map_err(|e| Error::io("starting log writer thread", e))?;
        let preparer_shared = shared.clone();
        let preparer = std::thread::Builder::new()
            .name("wal-prepare".into())
            .spawn(move || prepare_spares(&preparer_shared));
        let log = FileLog {
            shared,
            writer: Mutex::new(Some(writer)),
            preparer: Mutex::new(None),
        };
        *log.preparer.lock() =
            Some(preparer.map_err(|e| Error::io("starting log preparer thread", e))?);
        Ok(log)
    }

    /// Number of fdatasync calls made to make appended records durable.
    pub fn sync_count(&self) -> u64 {
        self.shared.sync_count.load(Ordering::Relaxed)
    }

    /// Makes every pending append durable and stops the background threads.
    /// Later appends fail. Called by `Drop`.
    pub fn close(&self) {
        {
            let mut q = self.shared.queue.lock();
            q.shutdown = true;
        }
        self.shared.work.notify_all();
        let writer = self.writer.lock().take();
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        self.shared.spare.lock().shutdown = true;
        self.shared.spare_changed.notify_all();
        let preparer = self.preparer.lock().take();
        if let Some(preparer) = preparer {
            let _ = preparer.join();
        }
    }

    /// Waits until the writer has handled everything queued before the call.
    fn flush(&self) {
        let mut q = self.shared.queue.lock();
        let target = q.enqueued;
        // The writer marks everything processed before it exits, and nothing
        // is queued after shutdown, so this cannot wait forever.
        while q.processed < target {
            self.shared.done.wait(&mut q);
        }
    }
}

/// Queues `item`; true if the writer must be woken.
fn enqueue(q: &mut Queue, item: Item) -> bool {
    q.items.push(item);
    q.enqueued += 1;
    mem::replace(&mut q.writer_waiting, false)
}

impl Drop for FileLog {
    fn drop(&mut self) {
        self.close();
    }
}

fn poisoned_error(msg: &str) -> Error {
    Error::new(
        SqlState::IO_ERROR,
        format!("partition log is unusable after an I/O error: {msg}"),
    )
}

fn closed_error() -> Error {
    Error::new(SqlState::ADMIN_SHUTDOWN, "partition log is closed")
}

impl PartitionLog for FileLog {
    fn append(&self, payload: Vec<u8>) -> BoxFuture<'static, Result<Lsn>> {
        if payload.len() > MAX_RECORD_SIZE {
            let err = Error::new(
                SqlState::PROGRAM_LIMIT_EXCEEDED,
                format!(
                    "log record of {} bytes exceeds the maximum of {MAX_RECORD_SIZE} bytes",
                    payload.len()
                ),
            );
            return future::ready(Err(err)).boxed();
        }
        let (tx, rx) = oneshot::channel();
        let wake = {
            let mut q = self.shared.queue.lock();
            if let Some(msg) = &q.poison {
                return future::ready(Err(poisoned_error(msg))).boxed();
            }
            if q.shutdown {
                return future::ready(Err(closed_error())).boxed();
            }
            let lsn = q.next_lsn;
            q.next_lsn += 1;
            let item = Item::Record(Pending {
                lsn,
                payload,
                done: tx,
            });
            enqueue(&mut q, item)
        };
        if wake {
            self.shared.work.notify_one();
        }
        async move {
            rx.await
                .unwrap_or_else(|_| Err(Error::internal("log writer stopped")))
        }
        .boxed()
    }

    fn read_from(&self, from: Lsn) -> Result<Vec<LogRecord>> {
        self.flush();
        let shared = &self.shared;
        let _guard = shared.maintenance.read();
        let durable = shared.durable_lsn.load(Ordering::Acquire);
        let segments = shared.segments.lock().clone();
        let start = segments.iter().rposition(|&f| f <= from).unwrap_or(0);
        let mut out = Vec::new();
        let mut expected = segments[start];
        for &first in &segments[start..] {
            if expected > durable {
                break;
            }
            let corrupt = |what: &str| {
                Error::new(
                    SqlState::DATA_CORRUPTED,
                    format!(
                        "partition log {} is corrupt: {what} in segment {first}",
                        shared.dir.display()
                    ),
                )
            };
            if first != expected {
                return Err(corrupt(&format!("record {expected} missing")));
            }
            let path = segment_path(&shared.dir, first);
            let file = File::open(&path)
                .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
            let size = file_len(&file, &path)?;
            if read_header(&file, size) != Some(first) {
                return Err(corrupt("bad header"));
            }
            let mut scanner = Scanner::new(&file, size, first);
            while let Some((lsn, payload)) = scanner
                .next_record()
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            {
                if lsn > durable {
                    break;
                }
                if lsn >= from {
                    out.push(LogRecord {
                        lsn,
                        payload: payload.to_vec(),
                    });
                }
            }
            expected = scanner.expected;
        }
        if expected <= durable {
            return Err(Error::new(
                SqlState::DATA_CORRUPTED,
                format!(
                    "partition log {} is corrupt: durable record {expected} missing",
                    shared.dir.display()
                ),
            ));
        }
        Ok(out)
    }

    fn truncate_before(&self, lsn: Lsn) -> Result<()> {
        let shared = &self.shared;
        let _guard = shared.maintenance.write();
        loop {
            // Every record of segment 0 is below the first LSN of segment 1.
            // Only truncations remove segments, and they hold `maintenance`,
            // so the list's head cannot change while the lock is released.
            let oldest = {
                let segments = shared.segments.lock();
                if segments.len() < 2 || segments[1] > lsn {
                    return Ok(());
                }
                segments[0]
            };
            let path = segment_path(&shared.dir, oldest);
            fs::remove_file(&path)
                .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
            // One deletion at a time, oldest first, each made durable: after a
            // crash the remaining segments are still contiguous.
            sync_dir(&shared.dir)?;
            shared.segments.lock().remove(0);
        }
    }

    fn truncate_after(&self, lsn: Lsn) -> Result<()> {
        let (tx, rx) = mpsc::sync_channel(1);
        let mut dropped = Vec::new();
        let wake = {
            let mut q = self.shared.queue.lock();
            if let Some(msg) = &q.poison {
                return Err(poisoned_error(msg));
            }
            if q.shutdown {
                return Err(closed_error());
            }
            if lsn >= q.next_lsn - 1 {
                return Ok(());
            }
            q.next_lsn = lsn + 1;
            for item in mem::take(&mut q.items) {
                match item {
                    Item::Record(p) if p.lsn > lsn => dropped.push(p.done),
                    other => q.items.push(other),
                }
            }
            enqueue(&mut q, Item::TruncateAfter(lsn, tx))
        };
        if wake {
            self.shared.work.notify_one();
        }
        for done in dropped {
            let _ = done.send(Err(Error::new(
                SqlState::SERIALIZATION_FAILURE,
                format!("log record discarded by a truncation after LSN {lsn}"),
            )));
        }
        rx.recv()
            .unwrap_or_else(|_| Err(Error::internal("log writer stopped")))
    }

    fn last_lsn(&self) -> Lsn {
        self.shared.queue.lock().next_lsn - 1
    }

    fn first_lsn(&self) -> Lsn {
        self.shared.segments.lock().first().copied().unwrap_or(1)
    }

    fn wait_durable(&self) -> Result<Lsn> {
        let target = self.last_lsn();
        self.flush();
        if let Some(msg) = &self.shared.queue.lock().poison {
            return Err(poisoned_error(msg));
        }
        let durable = self.shared.durable_lsn.load(Ordering::Acquire);
        if durable < target {
            return Err(closed_error());
        }
        Ok(durable)
    }

    fn close(&self) {
        FileLog::close(self);
    }
}

/// The writer thread: owns the active segment.
struct Writer {
    shared: Arc<Shared>,
    active: Active,
    buf: Vec<u8>,
}

impl Writer {
    fn run(mut self) {
        loop {
            let (items, seq) = {
                let mut q = self.shared.queue.lock();
                while q.items.is_empty() && !q.shutdown {
                    q.writer_waiting = true;
                    self.shared.work.wait(&mut q);
                }
                q.writer_waiting = false;
                if q.items.is_empty() {
                    q.processed = q.enqueued;
                    self.shared.done.notify_all();
                    return;
                }
                (mem::take(&mut q.items), q.enqueued)
            };
            let mut records = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Item::Record(p) => records.push(p),
                    Item::TruncateAfter(lsn, reply) => {
                        self.commit(mem::take(&mut records));
                        let result = match self.poison_message() {
                            Some(msg) => Err(poisoned_error(&msg)),
                            None => self.truncate_after(lsn).inspect_err(|e| {
                                self.poison(&e.message);
                            }),
                        };
                        let _ = reply.send(result);
                    }
                }
            }
            self.commit(records);
            let mut q = self.shared.queue.lock();
            q.processed = seq;
            self.shared.done.notify_all();
        }
    }

    fn poison_message(&self) -> Option<String> {
        self.shared.queue.lock().poison.clone()
    }

    fn poison(&self, msg: &str) {
        tracing::error!(dir = %self.shared.dir.display(), "partition log failed: {msg}");
        let mut q = self.shared.queue.lock();
        q.poison.get_or_insert_with(|| msg.to_string());
    }

    /// Writes and syncs one batch, then resolves its waiters.
    fn commit(&mut self, records: Vec<Pending>) {
        let Some(last) = records.last().map(|p| p.lsn) else {
            return;
        };
        let result = match self.poison_message() {
            Some(msg) => Err(msg),
            None => self.write_batch(&records).map_err(|e| {
                self.poison(&e.message);
                e.message
            }),
        };
        if self.buf.capacity() > KEEP_BUFFER {
            self.buf = Vec::new();
        }
        match result {
            Ok(()) => {
                self.shared.durable_lsn.store(last, Ordering::Release);
                for p in records {
                    let _ = p.done.send(Ok(p.lsn));
                }
            }
            Err(msg) => {
                for p in records {
                    let _ = p.done.send(Err(poisoned_error(&msg)));
                }
            }
        }
    }

    fn write_batch(&mut self, records: &[Pending]) -> Result<()> {
        let shared = self.shared.clone();
        let mut filled = Vec::new();
        let mut created = Vec::new();
        let mut start = self.active.write_off;
        self.buf.clear();
        for p in records {
            let len = (RECORD_HEADER_LEN + p.payload.len()) as u64;
            if self.active.write_off + len > self.active.size {
                self.write_buf(start)?;
                let next = create_segment(&shared, p.lsn, len)?;
                let old = mem::replace(&mut self.active, next);
                // An empty active segment has the same name as the new one,
                // which replaces it on rename.
                if old.write_off > HEADER_LEN {
                    filled.push(old.file);
                }
                created.push(p.lsn);
                start = HEADER_LEN;
            }
            if p.payload.len() >= DIRECT_WRITE {
                // Written in place rather than copied into the batch buffer.
                self.write_buf(start)?;
                let off = self.active.write_off;
                let file = &self.active.file;
                file.write_all_at(&record_header(p.lsn, &p.payload), off)
                    .and_then(|()| file.write_all_at(&p.payload, off + RECORD_HEADER_LEN as u64))
                    .map_err(|e| Error::io("writing partition log", e))?;
                self.active.write_off += len;
                start = self.active.write_off;
                continue;
            }
            encode_record(&mut self.buf, p.lsn, &p.payload);
            self.active.write_off += len;
        }
        self.write_buf(start)?;
        for file in &filled {
            self.sync(file)?;
        }
        self.sync(&self.active.file)?;
        if !created.is_empty() {
            for &first in &created {
                install_segment(&shared.dir, first)?;
            }
            sync_dir(&shared.dir)?;
            let mut segments = shared.segments.lock();
            for first in created {
                if segments.last() != Some(&first) {
                    segments.push(first);
                }
            }
        }
        Ok(())
    }

    fn write_buf(&mut self, offset: u64) -> Result<()> {
        if !self.buf.is_empty() {
            self.active
                .file
                .write_all_at(&self.buf, offset)
                .map_err(|e| Error::io("writing partition log", e))?;
            self.buf.clear();
        }
        Ok(())
    }

    fn sync(&self, file: &File) -> Result<()> {
        self.shared.sync_count.fetch_add(1, Ordering::Relaxed);
        #[cfg(test)]
        if self.shared.fail_syncs.load(Ordering::Relaxed) {
            return Err(Error::io(
                "syncing partition log",
                io::Error::other("injected failure"),
            ));
        }
        file.sync_data()
            .map_err(|e| Error::io("syncing partition log", e))
    }

    fn truncate_after(&mut self, lsn: Lsn) -> Result<()> {
        let shared = self.shared.clone();
        let _guard = shared.maintenance.write();
        let segments = shared.segments.lock().clone();
        let keep = segments.iter().rposition(|&f| f <= lsn + 1);
        let remove_from = keep.map_or(0, |k| k + 1);
        for &first in segments[remove_from..].iter().rev() {
            let path = segment_path(&shared.dir, first);
            fs::remove_file(&path)
                .map_err(|e| Error::io(format!("removing {}", path.display()), e))?;
        }
        match keep {
            Some(k) => {
                let first = segments[k];
                if first != self.active.first_lsn {
                    self.active = open_segment_end(&shared.dir, first)?;
                }
                let cut = record_end(&self.active, lsn)?;
                zero_range(&self.active.file, cut, self.active.write_off)
                    .map_err(|e| Error::io("cutting partition log", e))?;
                self.active
                    .file
                    .sync_data()
                    .map_err(|e| Error::io("syncing partition log", e))?;
                self.active.write_off = cut;
                if remove_from < segments.len() {
                    sync_dir(&shared.dir)?;
                }
            }
            None => {
                // Everything goes: start over with an empty segment.
                sync_dir(&shared.dir)?;
                self.active = create_segment(&shared, lsn + 1, 0)?;
                self.active
                    .file
                    .sync_data()
                    .map_err(|e| Error::io("syncing partition log", e))?;
                install_segment(&shared.dir, lsn + 1)?;
                sync_dir(&shared.dir)?;
            }
        }
        let mut segs = shared.segments.lock();
        segs.truncate(remove_from);
        if keep.is_none() {
            segs.push(lsn + 1);
        }
        shared.durable_lsn.fetch_min(lsn, Ordering::AcqRel);
        Ok(())
    }
}

/// Opens a non-active segment for appending at the end of its records.
fn open_segment_end(dir: &Path, first: Lsn) -> Result<Active> {
    let path = segment_path(dir, first);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
    let size = file_len(&file, &path)?;
    let mut scanner = Scanner::new(&file, size, first);
    while scanner
        .next_record()
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
        .is_some()
    {}
    let write_off = scanner.pos;
    Ok(Active {
        file,
        first_lsn: first,
        size,
        write_off,
    })
}

/// The offset just past record `lsn` in `seg` (or its start if `lsn`
/// precedes it).
fn record_end(seg: &Active, lsn: Lsn) -> Result<u64> {
    let mut scanner = Scanner::new(&seg.file, seg.write_off, seg.first_lsn);
    while scanner.expected <= lsn {
        let next = scanner
            .next_record()
            .map_err(|e| Error::io("reading partition log", e))?;
        if next.is_none() {
            break;
        }
    }
    Ok(scanner.pos)
}

/// Takes the spare (or makes a segment file) able to hold `record_len`
/// bytes of records, names it `<first>.wal.tmp` and writes its header.
/// The caller syncs it and renames it into place.
fn create_segment(shared: &Shared, first: Lsn, record_len: u64) -> Result<Active> {
    let tmp = tmp_segment_path(&shared.dir, first);
    let need = HEADER_LEN + record_len;
    let mut spare = None;
    if need <= shared.segment_size {
        let mut slot = shared.spare.lock();
        while slot.ready.is_none() && slot.preparing {
            shared.spare_changed.wait(&mut slot);
        }
        if let Some(file) = slot.ready.take() {
            // Renamed under the lock so the preparer cannot put a new spare
            // under this name first.
            fs::rename(shared.dir.join(SPARE_NAME), &tmp)
                .map_err(|e| Error::io("taking the spare log segment", e))?;
            spare = Some(file);
        }
        slot.wanted = true;
        shared.spare_changed.notify_all();
    }
    let (file, size) = match spare {
        Some(file) => (file, shared.segment_size),
        // A record larger than a segment gets a segment of exactly its
        // size: the record overwrites all of it, so zero-filling it first
        // would only write (and sync) it twice.
        None if need > shared.segment_size => {
            let file = create_sized(&tmp, need)
                .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
            (file, need)
        }
        None => {
            let size = shared.segment_size;
            let file = create_zeroed(&tmp, size)
                .map_err(|e| Error::io(format!("creating {}", tmp.display()), e))?;
            (file, size)
        }
    };
    file.write_all_at(&encode_header(first), 0)
        .map_err(|e| Error::io(format!("writing {}", tmp.display()), e))?;
    Ok(Active {
        file,
        first_lsn: first,
        size,
        write_off: HEADER_LEN,
    })
}

fn install_segment(dir: &Path, first: Lsn) -> Result<()> {
    let tmp = tmp_segment_path(dir, first);
    fs::rename(&tmp, segment_path(dir, first))
        .map_err(|e| Error::io(format!("renaming {}", tmp.display()), e))
}

/// The preparer thread: keeps one zero-filled, synced spare segment ready.
fn prepare_spares(shared: &Shared) {
    let tmp = shared.dir.join(PREPARING_NAME);
    loop {
        {
            let mut slot = shared.spare.lock();
            while !(slot.shutdown || slot.wanted && slot.ready.is_none()) {
                shared.spare_changed.wait(&mut slot);
            }
            if slot.shutdown {
                return;
            }
            slot.wanted = false;
            slot.preparing = true;
        }
        let result = create_zeroed(&tmp, shared.segment_size);
        let mut slot = shared.spare.lock();
        slot.preparing = false;
        match result.and_then(|f| fs::rename(&tmp, shared.dir.join(SPARE_NAME)).map(|()| f)) {
            Ok(file) => slot.ready = Some(file),
            Err(e) => tracing::warn!(
                dir = %shared.dir.display(),
                "could not prepare a spare log segment: {e}"
            ),
        }
        shared.spare_changed.notify_all();
    }
}

/// Scans the directory, validates the log and cuts off whatever follows its
/// first invalid point. Returns the active segment, the segment list and the
/// next LSN.
fn recover(shared: &mut Shared) -> Result<(Active, Vec<Lsn>, Lsn)> {
    let dir = shared.dir.clone();
    let io_err = |e| Error::io(format!("reading log directory {}", dir.display()), e);
    let mut firsts = Vec::new();
    for entry in fs::read_dir(&dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(first) = parse_segment_name(name) {
            firsts.push(first);
        } else if name == SPARE_NAME {
            let spare = OpenOptions::new().read(true).write(true).open(entry.path());
            match spare {
                Ok(f) if f.metadata().map(|m| m.len()).ok() == Some(shared.segment_size) => {
                    shared.spare.get_mut().ready = Some(f);
                }
                _ => remove(&entry.path())?,
            }
        } else if name.ends_with(".tmp") {
            remove(&entry.path())?;
        }
    }
    firsts.sort_unstable();

    let mut kept: Vec<Lsn> = Vec::new();
    let mut active: Option<Active> = None;
    let mut expected = firsts.first().copied().unwrap_or(1);
    let mut cut_from = firsts.len();
    for (i, &first) in firsts.iter().enumerate() {
        if first != expected {
            cut_from = i;
            break;
        }
        let path = segment_path(&dir, first);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
        let size = file_len(&file, &path)?;
        if read_header(&file, size) != Some(first) {
            tracing::warn!(segment = %path.display(), "log segment has an invalid header");
            cut_from = i;
            break;
        }
        let mut scanner = Scanner::new(&file, size, first);
        while scanner
            .next_record()
            .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
            .is_some()
        {}
        expected = scanner.expected;
        let write_off = scanner.pos;
        kept.push(first);
        active = Some(Active {
            file,
            first_lsn: first,
            size,
            write_off,
        });
    }

    let mut cut_bytes = 0;
    for &first in firsts[cut_from..].iter().rev() {
        let path = segment_path(&dir, first);
        cut_bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        remove(&path)?;
    }
    let active = match active {
        Some(active) => {
            let garbage = zero_tail(&active.file, active.write_off, active.size)
                .map_err(|e| Error::io("cutting the partition log tail", e))?;
            if garbage > 0 {
                active
                    .file
                    .sync_data()
                    .map_err(|e| Error::io("syncing partition log", e))?;
            }
            cut_bytes += garbage;
            if cut_from < firsts.len() {
                sync_dir(&dir)?;
            }
            active
        }
        None => {
            let active = create_segment(shared, expected, 0)?;
            active
                .file
                .sync_data()
                .map_err(|e| Error::io("syncing partition log", e))?;
            install_segment(&dir, expected)?;
            sync_dir(&dir)?;
            kept.push(expected);
            active
        }
    };
    if cut_bytes > 0 {
        tracing::warn!(
            dir = %dir.display(),
            next_lsn = expected,
            "cut {cut_bytes} bytes of torn or corrupt data from the partition log"
        );
    }
    Ok((active, kept, expected))
}

/// Reads valid records of one segment in order.
struct Scanner<'a> {
    file: &'a File,
    size: u64,
    buf: Vec<u8>,
    buf_off: u64,
    /// Offset just past the last valid record.
    pos: u64,
    expected: Lsn,
}

impl<'a> Scanner<'a> {
    fn new(file: &'a File, size: u64, first: Lsn) -> Scanner<'a> {
        Scanner {
            file,
            size,
            buf: Vec::new(),
            buf_off: HEADER_LEN,
            pos: HEADER_LEN,
            expected: first,
        }
    }

    /// Makes bytes `[pos, pos + n)` available in `buf`; false if they run
    /// past the segment.
    fn fill(&mut self, n: u64) -> io::Result<bool> {
        if self.pos + n > self.size {
            return Ok(false);
        }
        let buf_end = self.buf_off + self.buf.len() as u64;
        if self.pos < self.buf_off || self.pos + n > buf_end {
            let len = n.max(CHUNK as u64).min(self.size - self.pos) as usize;
            self.buf.resize(len, 0);
            self.file.read_exact_at(&mut self.buf, self.pos)?;
            self.buf_off = self.pos;
        }
        Ok(true)
    }

    fn next_record(&mut self) -> io::Result<Option<(Lsn, &[u8])>> {
        if !self.fill(RECORD_HEADER_LEN as u64)? {
            return Ok(None);
        }
        let at = (self.pos - self.buf_off) as usize;
        let h = &self.buf[at..at + RECORD_HEADER_LEN];
        let len = u32::from_le_bytes(h[0..4].try_into().unwrap()) as u64;
        let crc = u32::from_le_bytes(h[4..8].try_into().unwrap());
        let lsn = u64::from_le_bytes(h[8..16].try_into().unwrap());
        if len < RECORD_HEADER_LEN as u64 || lsn != self.expected || !self.fill(len)? {
            return Ok(None);
        }
        let at = (self.pos - self.buf_off) as usize;
        let record = &self.buf[at..at + len as usize];
        let payload = &record[RECORD_HEADER_LEN..];
        if record_crc(lsn, payload) != crc {
            return Ok(None);
        }
        self.pos += len;
        self.expected += 1;
        Ok(Some((lsn, payload)))
    }
}

fn record_crc(lsn: Lsn, payload: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&lsn.to_le_bytes()), payload)
}

fn record_header(lsn: Lsn, payload: &[u8]) -> [u8; RECORD_HEADER_LEN] {
    let len = (RECORD_HEADER_LEN + payload.len()) as u32;
    let mut h = [0u8; RECORD_HEADER_LEN];
    h[0..4].copy_from_slice(&len.to_le_bytes());
    h[4..8].copy_from_slice(&record_crc(lsn, payload).to_le_bytes());
    h[8..16].copy_from_slice(&lsn.to_le_bytes());
    h
}

fn encode_record(buf: &mut Vec<u8>, lsn: Lsn, payload: &[u8]) {
    buf.extend_from_slice(&record_header(lsn, payload));
    buf.extend_from_slice(payload);
}

fn encode_header(first: Lsn) -> [u8; HEADER_LEN as usize] {
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..8].copy_from_slice(&MAGIC);
    h[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
    h[16..24].copy_from_slice(&first.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..24]);
    h[24..28].copy_from_slice(&crc.to_le_bytes());
    h
}

/// The first LSN recorded in a valid header, or None.
fn read_header(file: &File, size: u64) -> Option<Lsn> {
    if size < HEADER_LEN {
        return None;
    }
    let mut h = [0u8; HEADER_LEN as usize];
    file.read_exact_at(&mut h, 0).ok()?;
    let crc = u32::from_le_bytes(h[24..28].try_into().unwrap());
    let version = u32::from_le_bytes(h[8..12].try_into().unwrap());
    if h[0..8] != MAGIC || version != FORMAT_VERSION || crc32c::crc32c(&h[0..24]) != crc {
        return None;
    }
    Some(u64::from_le_bytes(h[16..24].try_into().unwrap()))
}

fn segment_path(dir: &Path, first: Lsn) -> PathBuf {
    dir.join(format!("{first:020}{SEGMENT_SUFFIX}"))
}

fn tmp_segment_path(dir: &Path, first: Lsn) -> PathBuf {
    dir.join(format!("{first:020}{SEGMENT_SUFFIX}.tmp"))
}

fn parse_segment_name(name: &str) -> Option<Lsn> {
    let digits = name.strip_suffix(SEGMENT_SUFFIX)?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn file_len(file: &File, path: &Path) -> Result<u64> {
    file.metadata()
        .map(|m| m.len())
        .map_err(|e| Error::io(format!("reading {}", path.display()), e))
}

fn remove(path: &Path) -> Result<()> {
    fs::remove_file(path).map_err(|e| Error::io(format!("removing {}", path.display()), e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(format!("syncing directory {}", dir.display()), e))
}

/// Creates (or replaces) `path` as a zero-filled file of `size` bytes with
/// its blocks allocated and synced.
fn create_zeroed(path: &Path, size: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    zero_range(&file, 0, size)?;
    file.sync_all()?;
    Ok(file)
}

/// A file of `size` bytes that reads as zeros, without writing them.
fn create_sized(path: &Path, size: u64) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    file.set_len(size)?;
    Ok(file)
}

fn zero_range(file: &File, from: u64, to: u64) -> io::Result<()> {
    let zeros = vec![0u8; CHUNK.min(to.saturating_sub(from) as usize)];
    let mut off = from;
    while off < to {
        let n = zeros.len().min((to - off) as usize);
        file.write_all_at(&zeros[..n], off)?;
        off += n as u64;
    }
    Ok(())
}

/// Zeroes whatever is not zero in `[from, to)`; returns how many bytes up to
/// the last nonzero one that region held.
fn zero_tail(file: &File, from: u64, to: u64) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK.min(to.saturating_sub(from) as usize)];
    let mut off = from;
    let mut garbage_end = from;
    while off < to {
        let n = buf.len().min((to - off) as usize);
        file.read_exact_at(&mut buf[..n], off)?;
        if let Some(last) = buf[..n].iter().rposition(|&b| b != 0) {
            garbage_end = off + last as u64 + 1;
            zero_range(file, off, off + n as u64)?;
        }
        off += n as u64;
    }
    Ok(garbage_end - from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use std::collections::HashSet;
    use std::time::{Duration, Instant};

    fn open(dir: &Path, segment_size: u64) -> FileLog {
        FileLog::open(dir, FileLogOptions { segment_size }).unwrap()
    }

    fn payload(i: u64) -> Vec<u8> {
        format!("record-{i};")
            .repeat((i % 5) as usize + 1)
            .into_bytes()
    }

    fn append(log: &FileLog, data: Vec<u8>) -> Result<Lsn> {
        block_on(log.append(data))
    }

    fn append_all(log: &FileLog, range: std::ops::RangeInclusive<u64>) {
        for i in range {
            assert_eq!(append(log, payload(i)).unwrap(), i);
        }
    }

    fn check_records(log: &FileLog, from: Lsn, last: Lsn) {
        let records = log.read_from(from).unwrap();
        let lsns: Vec<Lsn> = records.iter().map(|r| r.lsn).collect();
        assert_eq!(lsns, (from.max(1)..=last).collect::<Vec<_>>());
        for r in records {
            assert_eq!(r.payload, payload(r.lsn), "payload of {}", r.lsn);
        }
    }

    fn segment_files(dir: &Path) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wal"))
            .collect();
        files.sort();
        files
    }

    /// Offset just past record `lsn` in a one-segment log of `payload`s.
    fn end_of(lsn: Lsn) -> u64 {
        HEADER_LEN
            + (1..=lsn)
                .map(|i| (RECORD_HEADER_LEN + payload(i).len()) as u64)
                .sum::<u64>()
    }

    fn write_at(path: &Path, offset: u64, data: &[u8]) {
        let f = OpenOptions::new().write(true).open(path).unwrap();
        f.write_all_at(data, offset).unwrap();
    }

    fn encoded(lsn: Lsn, data: &[u8]) -> Vec<u8> {
        let mut buf = Vec::new();
        encode_record(&mut buf, lsn, data);
        buf
    }

    #[test]
    fn append_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = open(dir.path(), 1 << 20);
            assert_eq!(log.last_lsn(), 0);
            assert!(log.read_from(1).unwrap().is_empty());
            append_all(&log, 1..=99);
            // Dropping the future does not cancel the append.
            drop(log.append(payload(100)));
            assert_eq!(log.last_lsn(), 100);
            check_records(&log, 1, 100);
            check_records(&log, 42, 100);
            assert!(log.read_from(101).unwrap().is_empty());
        }
        let log = open(dir.path(), 1 << 20);
        assert_eq!(log.last_lsn(), 100);
        check_records(&log, 0, 100);
        assert_eq!(append(&log, Vec::new()).unwrap(), 101);
        drop(log);
        let log = open(dir.path(), 1 << 20);
        let records = log.read_from(101).unwrap();
        assert_eq!(records.len(), 1);
        assert!(records[0].payload.is_empty());
        assert_eq!(
            fs::read_dir(dir.path())
                .unwrap()
                .filter(|e| e.as_ref().unwrap().file_name() != SPARE_NAME)
                .count(),
            1,
            "only the segment and the spare exist"
        );
    }

    #[test]
    fn concurrent_appenders_share_syncs() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(open(dir.path(), 64 << 10));
        let per_appender = 150u64;
        let threads: Vec<_> = (0..6)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    (0..per_appender)
                        .map(|i| {
                            let data = format!("thread {t} record {i}").into_bytes();
                            (append(&log, data.clone()).unwrap(), data)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap();
        let tasks: Vec<_> = (0..6)
            .map(|t| {
                let log = log.clone();
                runtime.spawn(async move {
                    let mut out = Vec::new();
                    for i in 0..per_appender {
                        let data = format!("task {t} record {i}").into_bytes();
                        out.push((log.append(data.clone()).await.unwrap(), data));
                    }
                    out
                })
            })
            .collect();
        let mut written = Vec::new();
        for t in threads {
            written.extend(t.join().unwrap());
        }
        for t in tasks {
            written.extend(runtime.block_on(t).unwrap());
        }
        // Many appends in flight from one thread.
        let futures: Vec<_> = (0..500)
            .map(|i| log.append(format!("burst {i}").into_bytes()))
            .collect();
        let burst_syncs = log.sync_count();
        let lsns = block_on(futures::future::join_all(futures));
        for (i, lsn) in lsns.into_iter().enumerate() {
            written.push((lsn.unwrap(), format!("burst {i}").into_bytes()));
        }
        assert!(log.sync_count() - burst_syncs < 50, "burst was not grouped");

        let total = written.len() as u64;
        assert_eq!(total, 12 * per_appender + 500);
        let unique: HashSet<Lsn> = written.iter().map(|(l, _)| *l).collect();
        assert_eq!(unique.len() as u64, total);
        let syncs = log.sync_count();
        assert!(syncs * 2 < total, "{syncs} syncs for {total} records");

        written.sort();
        let read: Vec<(Lsn, Vec<u8>)> = log
            .read_from(1)
            .unwrap()
            .into_iter()
            .map(|r| (r.lsn, r.payload))
            .collect();
        assert_eq!(read, written);
        drop(runtime);
        drop(log);
        let log = open(dir.path(), 64 << 10);
        let reread: Vec<(Lsn, Vec<u8>)> = log
            .read_from(1)
            .unwrap()
            .into_iter()
            .map(|r| (r.lsn, r.payload))
            .collect();
        assert_eq!(reread, written);
    }

    #[test]
    fn torn_record_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        append_all(&open(dir.path(), 1 << 20), 1..=10);
        let seg = &segment_files(dir.path())[0];
        let f = OpenOptions::new().write(true).open(seg).unwrap();
        f.set_len(end_of(9) + 7).unwrap();
        drop(f);

        let log = open(dir.path(), 1 << 20);
        assert_eq!(log.last_lsn(), 9);
        check_records(&log, 1, 9);
        append_all(&log, 10..=12);
        drop(log);
        let log = open(dir.path(), 1 << 20);
        check_records(&log, 1, 12);
    }

    #[test]
    fn garbage_after_last_record_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        append_all(&open(dir.path(), 1 << 20), 1..=10);
        let seg = &segment_files(dir.path())[0];
        let garbage: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        write_at(seg, end_of(10), &garbage);

        let log = open(dir.path(), 1 << 20);
        assert_eq!(log.last_lsn(), 10);
        append_all(&log, 11..=11);
        drop(log);
        let log = open(dir.path(), 1 << 20);
        check_records(&log, 1, 11);
        // The garbage was zeroed.
        let data = fs::read(seg).unwrap();
        assert!(data[end_of(11) as usize..].iter().all(|&b| b == 0));
    }

    #[test]
    fn corruption_in_the_middle_cuts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        append_all(&open(dir.path(), 512), 1..=60);
        let files = segment_files(dir.path());
        assert!(files.len() > 3);
        // Flip one payload byte of record 5 (in the first segment).
        let at = end_of(4) + RECORD_HEADER_LEN as u64 + 2;
        let mut byte = [0u8];
        File::open(&files[0])
            .unwrap()
            .read_exact_at(&mut byte, at)
            .unwrap();
        write_at(&files[0], at, &[byte[0] ^ 0x40]);

        let log = open(dir.path(), 512);
        assert_eq!(log.last_lsn(), 4);
        check_records(&log, 1, 4);
        assert_eq!(segment_files(dir.path()), vec![files[0].clone()]);
        append_all(&log, 5..=70);
        drop(log);
        let log = open(dir.path(), 512);
        check_records(&log, 1, 70);
    }

    #[test]
    fn bad_segment_header_cuts_from_there() {
        let dir = tempfile::tempdir().unwrap();
        append_all(&open(dir.path(), 512), 1..=60);
        let files = segment_files(dir.path());
        write_at(&files[2], 20, &[0xff]);
        let first_of_third: Lsn = files[2]
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let log = open(dir.path(), 512);
        assert_eq!(log.last_lsn(), first_of_third - 1);
        check_records(&log, 1, first_of_third - 1);
    }

    #[test]
    fn roll_over_across_many_small_segments() {
        let dir = tempfile::tempdir().unwrap();
        {
            let log = open(dir.path(), 256);
            append_all(&log, 1..=300);
            check_records(&log, 1, 300);
            check_records(&log, 123, 300);
        }
        let files = segment_files(dir.path());
        assert!(files.len() > 30, "{} segments", files.len());
        for f in &files {
            assert_eq!(fs::metadata(f).unwrap().len(), 256);
        }
        let log = open(dir.path(), 256);
        assert_eq!(log.last_lsn(), 300);
        check_records(&log, 1, 300);
        append_all(&log, 301..=400);
        drop(log);
        check_records(&open(dir.path(), 256), 1, 400);
    }

    #[test]
    fn stale_records_past_the_end_are_not_replayed() {
        let dir = tempfile::tempdir().unwrap();
        append_all(&open(dir.path(), 1 << 20), 1..=5);
        let seg = &segment_files(dir.path())[0];
        let end = end_of(5);
        // A well-formed record with the wrong LSN right after the end, and
        // one with the right LSN after a run of zeros.
        write_at(seg, end, &encoded(7, b"stale seven"));
        write_at(seg, end + 4096, &encoded(6, b"stale six"));
        let log = open(dir.path(), 1 << 20);
        assert_eq!(log.last_lsn(), 5);
        drop(log);

        // Where record 7 would go once record 6 is written, plant a valid
        // record 7: recovery must have zeroed it along with the rest.
        let log = open(dir.path(), 1 << 20);
        drop(log);
        write_at(seg, end_of(6), &encoded(7, b"stale seven"));
        let log = open(dir.path(), 1 << 20);
        assert_eq!(log.last_lsn(), 5, "record 7 without record 6 is invalid");
        append_all(&log, 6..=6);
        drop(log);
        let log = open(dir.path(), 1 << 20);
        assert_eq!(log.last_lsn(), 6);
        check_records(&log, 1, 6);
    }

    #[test]
    fn truncate_after_cuts_durably() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), 512);
        append_all(&log, 1..=100);
        log.truncate_after(37).unwrap();
        assert_eq!(log.last_lsn(), 37);
        check_records(&log, 1, 37);
        // Same payloads again: same sizes, so the old records would sit
        // exactly where the new ones go.
        append_all(&log, 38..=40);
        drop(log);
        let log = open(dir.path(), 512);
        assert_eq!(log.last_lsn(), 40);
        check_records(&log, 1, 40);

        // Cut at a segment boundary and inside the active segment.
        let files = segment_files(dir.path());
        let boundary: Lsn = files[2]
            .file_stem()
            .unwrap()
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        log.truncate_after(boundary - 1).unwrap();
        check_records(&log, 1, boundary - 1);
        assert_eq!(segment_files(dir.path()).len(), 3);
        append_all(&log, boundary..=boundary + 1);
        log.truncate_after(boundary).unwrap();
        assert_eq!(append(&log, b"new".to_vec()).unwrap(), boundary + 1);
        log.truncate_after(boundary).unwrap();
        log.truncate_after(1000).unwrap();
        assert_eq!(log.last_lsn(), boundary);
        drop(log);
        let log = open(dir.path(), 512);
        check_records(&log, 1, boundary);

        log.truncate_after(0).unwrap();
        assert_eq!(log.last_lsn(), 0);
        assert!(log.read_from(0).unwrap().is_empty());
        append_all(&log, 1..=3);
        drop(log);
        check_records(&open(dir.path(), 512), 1, 3);
    }

    #[test]
    fn truncate_after_same_sized_records_never_resurrect() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), 1 << 20);
        for i in 1..=10u64 {
            append(&log, format!("old {i:03}").into_bytes()).unwrap();
        }
        log.truncate_after(5).unwrap();
        assert_eq!(append(&log, b"new 006".to_vec()).unwrap(), 6);
        drop(log);
        let log = open(dir.path(), 1 << 20);
        assert_eq!(log.last_lsn(), 6);
        let records = log.read_from(5).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].payload, b"new 006");
    }

    #[test]
    fn truncate_after_discards_queued_appends() {
        let dir = tempfile::tempdir().unwrap();
        let log = Arc::new(open(dir.path(), 256));
        append_all(&log, 1..=3);
        // Record 4 forces a roll-over, where the writer waits for the
        // segment list: records queued behind it stay queued.
        let segments = log.shared.segments.lock();
        let f4 = log.append(vec![4u8; 200]);
        while !log.shared.queue.lock().items.is_empty() {
            std::thread::sleep(Duration::from_millis(1));
        }
        let f5 = log.append(payload(5));
        let f6 = log.append(payload(6));
        let truncating = {
            let log = log.clone();
            std::thread::spawn(move || log.truncate_after(4))
        };
        let err = block_on(f5).unwrap_err();
        assert_eq!(err.state, SqlState::SERIALIZATION_FAILURE);
        assert!(block_on(f6).is_err());
        drop(segments);
        truncating.join().unwrap().unwrap();
        assert_eq!(block_on(f4).unwrap(), 4);
        assert_eq!(append(&log, payload(5)).unwrap(), 5);
        let records = log.read_from(4).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].payload, payload(5));
    }

    #[test]
    fn truncate_after_below_the_first_segment_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), 256);
        append_all(&log, 1..=100);
        log.truncate_before(90).unwrap();
        let first = log.read_from(0).unwrap()[0].lsn;
        assert!(first > 50);
        log.truncate_after(first - 10).unwrap();
        assert_eq!(log.last_lsn(), first - 10);
        assert_eq!(
            append(&log, payload(first - 9)).unwrap(),
            first - 9,
            "numbering continues after the cut"
        );
        drop(log);
        let log = open(dir.path(), 256);
        let records = log.read_from(0).unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].lsn, first - 9);
        assert_eq!(records[0].payload, payload(first - 9));
    }

    #[test]
    fn truncate_before_removes_old_segments() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), 512);
        append_all(&log, 1..=200);
        let before = segment_files(dir.path()).len();
        log.truncate_before(100).unwrap();
        let after = segment_files(dir.path()).len();
        assert!(after < before);
        let records = log.read_from(0).unwrap();
        let first = records[0].lsn;
        assert!(first <= 100 && first > 50, "first kept record {first}");
        check_records(&log, first, 200);
        check_records(&log, 150, 200);
        drop(log);

        let log = open(dir.path(), 512);
        assert_eq!(segment_files(dir.path()).len(), after);
        check_records(&log, first, 200);
        log.truncate_before(u64::MAX).unwrap();
        assert_eq!(
            segment_files(dir.path()).len(),
            1,
            "the active segment stays"
        );
        append_all(&log, 201..=210);
        let last_first = log.read_from(0).unwrap()[0].lsn;
        check_records(&log, last_first, 210);
        drop(log);
        check_records(&open(dir.path(), 512), last_first, 210);
    }

    #[test]
    fn oversized_records() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), 512);
        append_all(&log, 1..=3);
        let big: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        assert_eq!(append(&log, big.clone()).unwrap(), 4);
        assert_eq!(append(&log, b"small".to_vec()).unwrap(), 5);
        assert_eq!(append(&log, big.clone()).unwrap(), 6);
        let too_big = vec![0u8; MAX_RECORD_SIZE + 1];
        let err = append(&log, too_big).unwrap_err();
        assert_eq!(err.state, SqlState::PROGRAM_LIMIT_EXCEEDED);
        assert_eq!(log.last_lsn(), 6);
        drop(log);
        let log = open(dir.path(), 512);
        let records = log.read_from(4).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[0].payload, big);
        assert_eq!(records[1].payload, b"small");
        assert_eq!(records[2].payload, big);
        let sizes: Vec<u64> = segment_files(dir.path())
            .iter()
            .map(|f| fs::metadata(f).unwrap().len())
            .collect();
        assert!(sizes.contains(&(HEADER_LEN + RECORD_HEADER_LEN as u64 + 5000)));
    }

    #[test]
    fn large_records_between_small_ones_in_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), 8 << 20);
        let big: Vec<u8> = (0..(2 << 20) as u32).map(|i| (i % 251) as u8).collect();
        let payloads = [
            b"a".to_vec(),
            big.clone(),
            b"b".to_vec(),
            big.clone(),
            big.clone(),
            b"c".to_vec(),
        ];
        let pending: Vec<_> = payloads.iter().map(|p| log.append(p.clone())).collect();
        let lsns = futures::executor::block_on(futures::future::join_all(pending));
        let lsns: Vec<Lsn> = lsns.into_iter().map(|r| r.unwrap()).collect();
        assert_eq!(lsns, vec![1, 2, 3, 4, 5, 6]);
        drop(log);
        let log = open(dir.path(), 8 << 20);
        let records = log.read_from(1).unwrap();
        let read: Vec<&Vec<u8>> = records.iter().map(|r| &r.payload).collect();
        assert_eq!(read, payloads.iter().collect::<Vec<_>>());
        assert_eq!(append(&log, b"d".to_vec()).unwrap(), 7);
    }

    #[test]
    fn io_error_poisons_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), 1 << 20);
        append_all(&log, 1..=3);
        log.shared.fail_syncs.store(true, Ordering::Relaxed);
        let err = append(&log, b"lost".to_vec()).unwrap_err();
        assert_eq!(err.state, SqlState::IO_ERROR);
        log.shared.fail_syncs.store(false, Ordering::Relaxed);
        let err = append(&log, b"later".to_vec()).unwrap_err();
        assert_eq!(err.state, SqlState::IO_ERROR);
        assert!(log.truncate_after(1).is_err());
        drop(log);
        // Record 4 reached the file, so it may survive (its commit was
        // reported failed, which is ambiguous, as in PostgreSQL); nothing
        // after the failure is written.
        let log = open(dir.path(), 1 << 20);
        let records = log.read_from(1).unwrap();
        assert!((3..=4).contains(&records.len()));
        for r in &records[..3] {
            assert_eq!(r.payload, payload(r.lsn));
        }
        assert!(records[3..].iter().all(|r| r.payload == b"lost"));
    }

    #[test]
    fn appends_after_close_fail() {
        let dir = tempfile::tempdir().unwrap();
        let log = open(dir.path(), 1 << 20);
        let pending = log.append(b"queued".to_vec());
        log.close();
        assert_eq!(block_on(pending).unwrap(), 1);
        assert_eq!(
            append(&log, b"late".to_vec()).unwrap_err().state,
            SqlState::ADMIN_SHUTDOWN
        );
        check_records_raw(&log, &[(1, b"queued")]);
    }

    fn check_records_raw(log: &FileLog, want: &[(Lsn, &[u8])]) {
        let got: Vec<(Lsn, Vec<u8>)> = log
            .read_from(0)
            .unwrap()
            .into_iter()
            .map(|r| (r.lsn, r.payload))
            .collect();
        let want: Vec<(Lsn, Vec<u8>)> = want.iter().map(|(l, p)| (*l, p.to_vec())).collect();
        assert_eq!(got, want);
    }

    /// Durable commits per second with 1 and 8 appenders, each waiting for
    /// its record before appending the next. Run with `--ignored --nocapture`.
    #[test]
    #[ignore]
    fn commit_throughput() {
        for appenders in [1usize, 8, 1] {
            let dir = tempfile::tempdir().unwrap();
            let log = Arc::new(FileLog::open(dir.path(), FileLogOptions::default()).unwrap());
            // Let the spare segment be prepared first: measure steady state.
            while log.shared.spare.lock().ready.is_none() {
                std::thread::sleep(Duration::from_millis(10));
            }
            let run_for = Duration::from_secs(3);
            let start = Instant::now();
            let threads: Vec<_> = (0..appenders)
                .map(|_| {
                    let log = log.clone();
                    std::thread::spawn(move || {
                        let mut n = 0u64;
                        while start.elapsed() < run_for {
                            append(&log, vec![42u8; 100]).unwrap();
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            let commits: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
            let secs = start.elapsed().as_secs_f64();
            let syncs = log.sync_count();
            println!(
                "{appenders} appender(s): {:.0} commits/s, {:.0} fdatasync/s, {:.1} records per sync, {:.0} us per sync",
                commits as f64 / secs,
                syncs as f64 / secs,
                commits as f64 / syncs as f64,
                secs * 1e6 / syncs as f64,
            );
        }
    }
}
