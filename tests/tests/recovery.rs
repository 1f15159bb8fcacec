//! Recovery from damaged partition log tails: after a SIGKILL the end of
//! each partition log is overwritten with garbage (a torn write) or a byte
//! of the last record is flipped (a corrupt record). The server must start,
//! keep every acknowledged transaction before the damage, drop the damaged
//! transaction as a whole, and keep accepting writes. Also: a data
//! directory survives several clean restarts.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use joltdb_tests::{ServerOpts, TestServer};
use rand::Rng;

/// Bytes before the first record of a segment.
const SEGMENT_HEADER: u64 = 32;
/// `[len u32][crc32c u32][lsn u64]`.
const RECORD_HEADER: u64 = 16;

/// One record found in a segment.
#[derive(Clone, Copy, Debug)]
struct Record {
    offset: u64,
    len: u64,
    lsn: u64,
}

/// The partition log directories (`wal/p0000`, ...), sorted.
fn partition_dirs(data: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(data.join("wal"))
        .expect("reading wal dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('p'))
        })
        .collect();
    dirs.sort();
    dirs
}

/// The segment with the highest first LSN in a partition log directory.
fn newest_segment(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .expect("reading partition log dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == 24 && n.ends_with(".wal"))
        })
        .max()
        .unwrap_or_else(|| panic!("no segment in {}", dir.display()))
}

/// Parses the records of a segment up to the first zero length (or a
/// length that does not fit).
fn records(segment: &Path) -> (Vec<Record>, u64) {
    let mut bytes = Vec::new();
    std::fs::File::open(segment)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .expect("reading segment");
    let size = bytes.len() as u64;
    let mut out = Vec::new();
    let mut off = SEGMENT_HEADER;
    while off + RECORD_HEADER <= size {
        let at = off as usize;
        let len = u64::from(u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()));
        if len < RECORD_HEADER || off + len > size {
            break;
        }
        let lsn = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap());
        out.push(Record {
            offset: off,
            len,
            lsn,
        });
        off += len;
    }
    (out, size)
}

fn write_at(path: &Path, offset: u64, data: &[u8]) {
    let mut f = OpenOptions::new()
        .write(true)
        .open(path)
        .expect("opening segment for writing");
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(data).unwrap();
    f.sync_all().unwrap();
}

async fn create_table(c: &tokio_postgres::Client) {
    c.batch_execute("CREATE TABLE t (id integer PRIMARY KEY, v integer NOT NULL)")
        .await
        .unwrap();
}

/// Commits rows `from..to` one autocommit INSERT each.
async fn insert_single(c: &tokio_postgres::Client, from: i32, to: i32) {
    let stmt = c.prepare("INSERT INTO t VALUES ($1, $2)").await.unwrap();
    for id in from..to {
        c.execute(&stmt, &[&id, &(id * 7)]).await.unwrap();
    }
}

/// Commits rows `from..to` in one transaction.
async fn insert_txn(c: &mut tokio_postgres::Client, from: i32, to: i32) {
    let tx = c.transaction().await.unwrap();
    let stmt = tx.prepare("INSERT INTO t VALUES ($1, $2)").await.unwrap();
    for id in from..to {
        tx.execute(&stmt, &[&id, &(id * 7)]).await.unwrap();
    }
    tx.commit().await.unwrap();
}

async fn ids(c: &tokio_postgres::Client) -> BTreeSet<i32> {
    let rows = c.query("SELECT id, v FROM t", &[]).await.unwrap();
    rows.iter()
        .map(|r| {
            let id: i32 = r.get(0);
            let v: i32 = r.get(1);
            assert_eq!(v, id * 7, "row {id} has a wrong value");
            id
        })
        .collect()
}

#[track_caller]
fn assert_has_all(got: &BTreeSet<i32>, from: i32, to: i32, what: &str) {
    let missing: Vec<i32> = (from..to).filter(|i| !got.contains(i)).collect();
    assert!(
        missing.is_empty(),
        "{what}: {} acknowledged rows missing, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

const ACKED: i32 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_tail_is_cut_and_acknowledged_rows_survive() {
    let mut server = TestServer::start(ServerOpts::default().partitions(2));
    {
        let c = server.connect().await;
        create_table(&c).await;
        insert_single(&c, 0, ACKED).await;
    }
    server.kill9();

    let dirs = partition_dirs(&server.data_dir());
    assert_eq!(dirs.len(), 2, "expected two partition logs: {dirs:?}");
    let mut rng = rand::thread_rng();
    for (i, dir) in dirs.iter().enumerate() {
        let seg = newest_segment(dir);
        let (recs, size) = records(&seg);
        let end = recs.last().map_or(SEGMENT_HEADER, |r| r.offset + r.len);
        let mut garbage = vec![0u8; 200];
        rng.fill(&mut garbage[..]);
        if i == 1 {
            // A plausible half-written record: a header for the next LSN
            // whose payload did not make it to disk.
            let next_lsn = recs.last().map_or(1, |r| r.lsn + 1);
            garbage[0..4].copy_from_slice(&150u32.to_le_bytes());
            garbage[8..16].copy_from_slice(&next_lsn.to_le_bytes());
            garbage.truncate(90);
        } else if garbage[0..4] == [0; 4] {
            garbage[0] = 0xAB;
        }
        let n = (garbage.len() as u64).min(size - end) as usize;
        write_at(&seg, end, &garbage[..n]);
    }

    server.restart();
    {
        let c = server.connect().await;
        let got = ids(&c).await;
        assert_has_all(&got, 0, ACKED, "after torn tail");
        assert_eq!(got.len(), ACKED as usize, "unexpected extra rows");
        insert_single(&c, ACKED, ACKED + 50).await;
    }
    server.kill9();
    server.restart();
    let c = server.connect().await;
    let got = ids(&c).await;
    assert_has_all(&got, 0, ACKED + 50, "after second restart");
    assert_eq!(got.len(), (ACKED + 50) as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_last_record_drops_its_whole_transaction() {
    const TXN_FROM: i32 = 10_000;
    const TXN_TO: i32 = 10_040;
    let mut server = TestServer::start(ServerOpts::default().partitions(2));
    let before: Vec<(usize, u64)>;
    {
        let mut c = server.connect().await;
        create_table(&c).await;
        insert_single(&c, 0, ACKED).await;
        let dirs = partition_dirs(&server.data_dir());
        before = dirs
            .iter()
            .map(|d| {
                let seg = newest_segment(d);
                let (recs, _) = records(&seg);
                (recs.len(), recs.last().map_or(0, |r| r.lsn))
            })
            .collect();
        // The last commit: 40 rows, which spread over both partitions.
        insert_txn(&mut c, TXN_FROM, TXN_TO).await;
    }
    server.kill9();

    let dirs = partition_dirs(&server.data_dir());
    assert_eq!(dirs.len(), 2, "expected two partition logs: {dirs:?}");
    // Find the partition whose last record is the multi-row transaction
    // (each participant got exactly one new record).
    let mut target = None;
    for (i, dir) in dirs.iter().enumerate() {
        let seg = newest_segment(dir);
        let (recs, _) = records(&seg);
        let last = *recs.last().expect("partition log has records");
        if last.lsn == before[i].1 + 1 {
            target = Some((seg, last));
        }
    }
    let (seg, last) = target.expect("the last transaction wrote no log record");
    assert!(last.len > RECORD_HEADER, "record without payload: {last:?}");
    // Flip a byte in the middle of the payload.
    let at = last.offset + RECORD_HEADER + (last.len - RECORD_HEADER) / 2;
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .unwrap();
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(at)).unwrap();
    f.read_exact(&mut b).unwrap();
    b[0] ^= 0x5A;
    f.seek(SeekFrom::Start(at)).unwrap();
    f.write_all(&b).unwrap();
    f.sync_all().unwrap();
    drop(f);

    server.restart();
    {
        let c = server.connect().await;
        let got = ids(&c).await;
        assert_has_all(&got, 0, ACKED, "after corrupt last record");
        let partial: Vec<i32> = got
            .iter()
            .copied()
            .filter(|id| (TXN_FROM..TXN_TO).contains(id))
            .collect();
        assert!(
            partial.is_empty(),
            "the damaged transaction is partly present: {} of {} rows, e.g. {:?}",
            partial.len(),
            TXN_TO - TXN_FROM,
            &partial[..partial.len().min(10)]
        );
        assert_eq!(got.len(), ACKED as usize, "unexpected extra rows");
        // New writes, including the ids the dropped transaction used.
        insert_single(&c, ACKED, ACKED + 50).await;
        let mut c = c;
        insert_txn(&mut c, TXN_FROM, TXN_TO).await;
    }
    server.kill9();
    server.restart();
    let c = server.connect().await;
    let got = ids(&c).await;
    assert_has_all(&got, 0, ACKED + 50, "after restart following new writes");
    assert_has_all(&got, TXN_FROM, TXN_TO, "re-inserted transaction");
    assert_eq!(got.len(), (ACKED + 50 + TXN_TO - TXN_FROM) as usize);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_survives_several_clean_restarts() {
    let mut server = TestServer::start(ServerOpts::default().partitions(2));
    {
        let c = server.connect().await;
        create_table(&c).await;
    }
    let per_round = 60;
    for round in 0..4 {
        {
            let mut c = server.connect().await;
            let got = ids(&c).await;
            assert_has_all(&got, 0, round * per_round, "after clean restart");
            assert_eq!(got.len(), (round * per_round) as usize);
            let base = round * per_round;
            insert_single(&c, base, base + per_round / 2).await;
            insert_txn(&mut c, base + per_round / 2, base + per_round).await;
        }
        let status = server.stop();
        assert!(status.success(), "clean stop failed: {status}");
        server.restart();
    }
    let c = server.connect().await;
    let got = ids(&c).await;
    assert_has_all(&got, 0, 4 * per_round, "after last restart");
    assert_eq!(got.len(), (4 * per_round) as usize);
}
