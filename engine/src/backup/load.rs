//! Loading a backup's row chunks into table stores nobody sees yet (a
//! restore), as a two-stage pipeline: one thread reads, checks, decrypts,
//! decompresses and decodes the chunks while the calling thread places the
//! rows and logs them. A backup lists every partition's rows in key order,
//! so each partition's rows are gathered in a vector and its ordered map is
//! built from them in one pass at the end (far cheaper than inserting the
//! rows one by one); secondary indexes are built the same way.

use super::format::{corrupt, BackupReader, FrameKind, Manifest};
use super::restore::{LogBatcher, Pending};
use crate::catalog::TableDef;
use crate::error::Result;
use crate::storage::codec::Reader;
use crate::storage::{row_id_of, IndexStore, Key, PartitionMap, Slot, TableStore, Version};
use crate::types::{Row, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::ops::Range;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;

/// Decoded chunks queued between the reading thread and the loader.
const CHUNKS_IN_FLIGHT: usize = 4;

/// One row of a chunk: where its key and its encoded row sit in the chunk,
/// and the row decoded.
pub(crate) struct DecodedRow {
    pub key: Range<usize>,
    pub encoded: Range<usize>,
    pub row: Row,
}

/// A row chunk: the manifest table it belongs to, its bytes, and its rows
/// (left undecoded, only counted, for a table the restore skips).
pub(crate) struct DecodedChunk {
    pub table: usize,
    pub raw: Vec<u8>,
    pub count: usize,
    pub rows: Vec<DecodedRow>,
}

fn damaged_chunk() -> crate::error::Error {
    corrupt("has a damaged row chunk")
}

/// Decodes a row chunk: `u32` manifest table index, `u32` row count, then
/// per row its key (length-prefixed) and its encoded row. Rows of a table
/// not in `wanted` are only counted.
pub(crate) fn decode_chunk(
    raw: Vec<u8>,
    manifest: &Manifest,
    wanted: Option<&[bool]>,
) -> Result<DecodedChunk> {
    let mut r = Reader::new(&raw);
    let table = r.u32().map_err(|_| damaged_chunk())? as usize;
    let def = &manifest.tables.get(table).ok_or_else(damaged_chunk)?.def;
    let count = r.u32().map_err(|_| damaged_chunk())? as usize;
    let mut rows = Vec::new();
    if wanted.is_none_or(|w| w[table]) {
        rows.reserve(count.min(1 << 20));
        for _ in 0..count {
            let key_start = r.position() + 4;
            let key = r.bytes().map_err(|_| damaged_chunk())?;
            let key = key_start..key_start + key.len();
            let row_start = r.position();
            let row = r.row().map_err(|_| damaged_chunk())?;
            if row.len() != def.columns.len() {
                return Err(damaged_chunk());
            }
            rows.push(DecodedRow {
                key,
                encoded: row_start..r.position(),
                row,
            });
        }
        if !r.is_empty() {
            return Err(damaged_chunk());
        }
    }
    Ok(DecodedChunk {
        table,
        raw,
        count,
        rows,
    })
}

/// What the reading thread hands over.
enum Frame {
    Chunk(DecodedChunk),
    End(Vec<u8>),
}

/// Reads every frame after the manifest until the end marker, sending
/// each on (or the first error, after which it stops).
fn read_frames<R: Read>(
    mut reader: BackupReader<R>,
    manifest: &Manifest,
    wanted: &[bool],
    out: mpsc::SyncSender<Result<Frame>>,
) {
    loop {
        let frame = match reader.next_frame() {
            Ok(Some((FrameKind::Chunk, raw))) => {
                decode_chunk(raw, manifest, Some(wanted)).map(Frame::Chunk)
            }
            Ok(Some((FrameKind::End, raw))) => Ok(Frame::End(raw)),
            Ok(Some((FrameKind::Manifest, _))) => Err(corrupt("has a second manifest")),
            Ok(None) => Err(corrupt("is truncated")),
            Err(e) => Err(e),
        };
        let more = matches!(frame, Ok(Frame::Chunk(_)));
        if out.send(frame).is_err() || !more {
            return;
        }
    }
}

/// How the loader finds a restored row's partition.
enum Placement {
    /// Hidden row ids: hashed like a new row's id.
    RowId,
    /// The partition key is the primary key: the row key is its encoding.
    RowKey,
    /// Other partition keys: from the row's values.
    Columns(Vec<usize>),
}

/// The rows of one table gathered per partition, in the order read, as
/// the slots they become.
struct TableLoad {
    placement: Placement,
    partitions: Vec<Vec<(Key, Slot)>>,
}

impl TableLoad {
    fn new(p: &Pending, expected_rows: u64) -> TableLoad {
        let placement = if p.def.primary_key.is_empty() {
            Placement::RowId
        } else if p.def.partition_key == p.def.primary_key {
            Placement::RowKey
        } else {
            Placement::Columns(p.def.partition_key.clone())
        };
        let count = p.store.partition_count();
        // Rows hash evenly over the partitions; a little room spares a
        // regrowth when they do not quite.
        let per_partition = (expected_rows as usize / count.max(1)).saturating_mul(9) / 8;
        TableLoad {
            placement,
            partitions: (0..count)
                .map(|_| Vec::with_capacity(per_partition.min(1 << 24)))
                .collect(),
        }
    }

    fn partition_of(
        &self,
        store: &TableStore,
        def: &TableDef,
        key: &[u8],
        row: &[Value],
    ) -> Result<u16> {
        Ok(match &self.placement {
            Placement::RowId => {
                let id = row_id_of(key).ok_or_else(|| corrupt("has a damaged row key"))?;
                store.next_row_id.fetch_max(id + 1, Ordering::Relaxed);
                store.partition_for(&[Value::Int8(id as i64)])
            }
            Placement::RowKey => {
                debug_assert_eq!(
                    key,
                    &store.place_existing(def, row).0[..],
                    "a row key is its primary key's encoding"
                );
                store.partition_for_key(key)
            }
            Placement::Columns(columns) => store.partition_of_columns(row, columns),
        })
    }
}

/// Reads the rest of the backup (after its manifest) into the pending
/// tables' stores, logging every row through `log` when given, and checks
/// the totals against the manifest and the end marker.
pub(crate) fn load_rows<R: Read + Send>(
    reader: BackupReader<R>,
    manifest: &Manifest,
    pending: &mut [Pending],
    mut log: Option<&mut LogBatcher>,
) -> Result<()> {
    let mut target_of: Vec<Option<usize>> = vec![None; manifest.tables.len()];
    for (i, p) in pending.iter().enumerate() {
        if let Some(t) = target_of.get_mut(p.source) {
            *t = Some(i);
        }
    }
    let wanted: Vec<bool> = target_of.iter().map(Option::is_some).collect();
    let mut loads: Vec<TableLoad> = pending
        .iter()
        .map(|p| {
            let expected = manifest.tables.get(p.source).map_or(0, |t| t.rows);
            TableLoad::new(p, expected)
        })
        .collect();
    let mut counts = vec![0u64; manifest.tables.len()];
    let mut chunks = 0u64;
    std::thread::scope(|s| -> Result<()> {
        let (tx, rx) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
        let wanted = &wanted;
        s.spawn(move || read_frames(reader, manifest, wanted, tx));
        loop {
            // A closed channel means the reader stopped after an error it
            // sent, so it never ends the loop unnoticed.
            let frame = rx.recv().map_err(|_| corrupt("is truncated"))??;
            let chunk = match frame {
                Frame::Chunk(c) => c,
                Frame::End(raw) => {
                    return super::restore::check_totals(manifest, &counts, chunks, &raw)
                }
            };
            chunks += 1;
            counts[chunk.table] += chunk.count as u64;
            let Some(pi) = target_of[chunk.table] else {
                continue;
            };
            let (target, load) = (&mut pending[pi], &mut loads[pi]);
            let raw = &chunk.raw;
            for decoded in chunk.rows {
                let key = &raw[decoded.key];
                let partition = load.partition_of(&target.store, &target.def, key, &decoded.row)?;
                if let Some(log) = log.as_deref_mut() {
                    log.add_encoded(partition, target.def.oid, key, &raw[decoded.encoded])?;
                }
                load.partitions[partition as usize]
                    .push((key.into(), committed_slot(Arc::new(decoded.row))));
                target.rows += 1;
            }
        }
    })?;
    for (p, load) in pending.iter().zip(loads) {
        fill_store(&p.store, load.partitions);
    }
    Ok(())
}

/// Puts the gathered rows of each partition into an empty store, and
/// builds its indexes from them.
fn fill_store(store: &TableStore, partitions: Vec<Vec<(Key, Slot)>>) {
    let indexes = store.indexes();
    let mut index_entries: Vec<Vec<((Key, Key), u16)>> = indexes
        .iter()
        .map(|_| Vec::with_capacity(partitions.iter().map(Vec::len).sum()))
        .collect();
    for (p, rows) in partitions.into_iter().enumerate() {
        for (index, entries) in indexes.iter().zip(&mut index_entries) {
            entries.extend(rows.iter().flat_map(|(key, slot)| {
                slot.versions
                    .iter()
                    .filter_map(|v| v.row.as_ref())
                    .map(|row| ((index.key_of(row), key.clone()), p as u16))
            }));
        }
        // Collecting a vector into a map sorts it in place (one pass over
        // rows already in key order) and builds the tree bottom-up.
        let map: PartitionMap = rows.into_iter().collect();
        *store.partitions[p].write() = map;
    }
    for (index, entries) in indexes.iter().zip(index_entries) {
        fill_index(index, entries);
    }
}

fn committed_slot(row: Arc<Row>) -> Slot {
    Slot {
        versions: vec![Version {
            ts: 1,
            row: Some(row),
        }],
        intent: None,
    }
}

fn fill_index(index: &IndexStore, entries: Vec<((Key, Key), u16)>) {
    let map: BTreeMap<(Key, Key), u16> = entries.into_iter().collect();
    *index.entries.write() = map;
}
