//! The append-only log of changes since the last snapshot.
//!
//! A 52-byte header (magic, version, encoder shape and seed, the snapshot sequence number it
//! follows, max_entries, crc32c) and then records `[len u32][crc32c u32][type u8][seq u64][body]`.
//! Records are buffered in memory and are durable once `flush` returns (write, then fdatasync);
//! past `SPILL_BYTES` the buffer is written out early, unsynced, so memory stays bounded between
//! flushes. On replay a record that runs past the end of the file, or fails its checksum as the
//! file's last record, is a torn tail from a crash: it is dropped. A bad record with data after
//! it is corruption: an error.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{corrupt, crc, read_prelude, write_prelude, Reader, Shape, Writer, LOG_MAGIC};
use crate::error::{Error, Result};
use crate::payload::MAX_PAYLOAD_BYTES;
use crate::store::EntryId;

pub const HEADER_LEN: usize = 52;
const MAX_RECORD: usize = MAX_PAYLOAD_BYTES + (1 << 24);
/// Buffered records past this size go to the file before `flush` (which still syncs them).
const SPILL_BYTES: usize = 1 << 20;
/// The buffer capacity kept after writing out, so one burst does not pin its peak size.
const KEEP_CAPACITY: usize = 64 << 10;

const PUT: u8 = 1;
const DELETE: u8 = 2;
const CLEAR: u8 = 3;

/// Why an entry left the cache, so replay can count it as it was counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    Deleted = 0,
    Evicted = 1,
    Expired = 2,
}

/// The encoder shape and position a log belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogHeader {
    pub shape: Shape,
    pub base_seq: u64,
    pub max_entries: u64,
}

impl LogHeader {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        let mut w = Writer(&mut out);
        write_prelude(&mut w, LOG_MAGIC, &self.shape);
        w.u64(self.base_seq);
        w.u64(self.max_entries);
        let c = crc(&out);
        Writer(&mut out).u32(c);
        out
    }

    pub fn decode(bytes: &[u8], path: &Path) -> Result<Self> {
        let mut r = Reader::new(bytes, 0, path);
        let shape = read_prelude(&mut r, LOG_MAGIC, "log")?;
        let base_seq = r.u64()?;
        let max_entries = r.u64()?;
        let stored = r.u32()?;
        if crc(&bytes[..HEADER_LEN - 4]) != stored {
            return Err(corrupt(path, 0, "log header checksum mismatch"));
        }
        Ok(Self {
            shape,
            base_seq,
            max_entries,
        })
    }
}

/// One replayed change.
pub enum Record<'a> {
    Put {
        id: EntryId,
        partition: &'a str,
        code: Vec<u64>,
        vector: Option<Vec<f32>>,
        kind: u8,
        payload: &'a [u8],
        created_ms: u64,
        expires_ms: u64,
    },
    Delete {
        id: EntryId,
        reason: Removal,
    },
    Clear {
        partition: Option<&'a str>,
    },
}

/// Where a replay stopped.
#[derive(Debug, Clone, Copy)]
pub struct Replayed {
    /// Bytes of whole, valid records (header included): where the next record goes.
    pub valid_len: u64,
    pub last_seq: u64,
    pub torn: bool,
}

/// Replays the records of a log (header already checked) with `seq > after`.
pub fn replay(
    bytes: &[u8],
    header: &LogHeader,
    words: usize,
    after: u64,
    path: &Path,
    mut apply: impl FnMut(Record<'_>) -> Result<()>,
) -> Result<Replayed> {
    let mut pos = HEADER_LEN;
    let mut seq = header.base_seq;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let torn = Replayed {
            valid_len: pos as u64,
            last_seq: seq,
            torn: true,
        };
        if rest.len() < 8 {
            return Ok(torn);
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let stored = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        if !(9..=MAX_RECORD).contains(&len) || 8 + len > rest.len() {
            return Ok(torn);
        }
        let body = &rest[8..8 + len];
        if crc(body) != stored {
            if 8 + len == rest.len() {
                return Ok(torn);
            }
            return Err(corrupt(path, pos as u64, "log record checksum mismatch"));
        }
        let mut r = Reader::new(body, pos as u64 + 8, path);
        let kind = r.u8()?;
        let record_seq = r.u64()?;
        if record_seq != seq + 1 {
            return Err(r.corrupt(format!("log sequence jumps from {seq} to {record_seq}")));
        }
        seq = record_seq;
        let record = match kind {
            PUT => {
                let id = r.u64()?;
                let created_ms = r.u64()?;
                let expires_ms = r.u64()?;
                let payload_kind = r.u8()?;
                let partition = r.str(MAX_RECORD)?;
                let payload = r.blob(MAX_PAYLOAD_BYTES)?;
                let code = (0..words).map(|_| r.u64()).collect::<Result<Vec<_>>>()?;
                let vector = if r.u8()? != 0 {
                    let dim = header.shape.dim;
                    let raw = r.bytes(dim * 4)?;
                    Some(
                        raw.chunks_exact(4)
                            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                            .collect(),
                    )
                } else {
                    None
                };
                Record::Put {
                    id,
                    partition,
                    code,
                    vector,
                    kind: payload_kind,
                    payload,
                    created_ms,
                    expires_ms,
                }
            }
            DELETE => {
                let id = r.u64()?;
                let reason = match r.u8()? {
                    0 => Removal::Deleted,
                    1 => Removal::Evicted,
                    2 => Removal::Expired,
                    other => return Err(r.corrupt(format!("unknown removal reason {other}"))),
                };
                Record::Delete { id, reason }
            }
            CLEAR => {
                let partition = if r.u8()? != 0 {
                    Some(r.str(MAX_RECORD)?)
                } else {
                    None
                };
                Record::Clear { partition }
            }
            other => return Err(r.corrupt(format!("unknown record type {other}"))),
        };
        if r.remaining() != 0 {
            return Err(r.corrupt("log record longer than its contents"));
        }
        if seq > after {
            apply(record)?;
        }
        pos += 8 + len;
    }
    Ok(Replayed {
        valid_len: pos as u64,
        last_seq: seq,
        torn: false,
    })
}

/// Appends records to the log; they are durable once `flush` returns.
#[derive(Debug)]
pub struct LogWriter {
    file: File,
    path: PathBuf,
    buf: Vec<u8>,
    /// Bytes of the file known to hold whole records.
    written: u64,
    /// Bytes of the file made durable by the last successful sync.
    synced: u64,
    /// A sync failed after records had left the buffer: only a snapshot can make them durable.
    needs_snapshot: bool,
    seq: u64,
    #[cfg(test)]
    fail_next_sync: bool,
}

impl LogWriter {
    pub fn new(file: File, path: PathBuf, written: u64, last_seq: u64) -> Self {
        Self {
            file,
            path,
            buf: Vec::new(),
            written,
            synced: written,
            needs_snapshot: false,
            seq: last_seq,
            #[cfg(test)]
            fail_next_sync: false,
        }
    }

    pub fn last_seq(&self) -> u64 {
        self.seq
    }

    /// Bytes in the file plus those waiting to be flushed.
    pub fn len(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    #[allow(clippy::too_many_arguments)]
    pub fn put(
        &mut self,
        id: EntryId,
        partition: &str,
        code: &[u64],
        vector: Option<&[f32]>,
        kind: u8,
        payload: &[u8],
        created_ms: u64,
        expires_ms: u64,
    ) {
        self.record(PUT, |w| {
            w.u64(id);
            w.u64(created_ms);
            w.u64(expires_ms);
            w.u8(kind);
            w.blob(partition.as_bytes());
            w.blob(payload);
            for word in code {
                w.u64(*word);
            }
            match vector {
                Some(v) => {
                    w.u8(1);
                    for x in v {
                        w.bytes(&x.to_le_bytes());
                    }
                }
                None => w.u8(0),
            }
        });
    }

    pub fn delete(&mut self, id: EntryId, reason: Removal) {
        self.record(DELETE, |w| {
            w.u64(id);
            w.u8(reason as u8);
        });
    }

    pub fn clear(&mut self, partition: Option<&str>) {
        self.record(CLEAR, |w| match partition {
            Some(name) => {
                w.u8(1);
                w.blob(name.as_bytes());
            }
            None => w.u8(0),
        });
    }

    fn record(&mut self, kind: u8, body: impl FnOnce(&mut Writer<'_>)) {
        self.seq += 1;
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0u8; 8]);
        let mut w = Writer(&mut self.buf);
        w.u8(kind);
        w.u64(self.seq);
        body(&mut w);
        let len = (self.buf.len() - start - 8) as u32;
        let c = crc(&self.buf[start + 8..]);
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.buf[start + 4..start + 8].copy_from_slice(&c.to_le_bytes());
        if self.buf.len() >= SPILL_BYTES {
            // On failure the records stay buffered and the next `flush` reports the error.
            let _ = self.write_out();
        }
    }

    /// Whether records since the last sync may be lost unless a snapshot is written.
    pub fn needs_snapshot(&self) -> bool {
        self.needs_snapshot
    }

    /// Appends the buffer to the file without syncing; on failure cuts the file back and keeps it.
    fn write_out(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.file.write_all_at(&self.buf, self.written) {
            let _ = self.file.set_len(self.written);
            return Err(e);
        }
        self.written += self.buf.len() as u64;
        self.empty_buffer();
        Ok(())
    }

    #[cfg(test)]
    pub(crate) fn fail_next_sync(&mut self) {
        self.fail_next_sync = true;
    }

    fn sync(&mut self) -> io::Result<()> {
        #[cfg(test)]
        if std::mem::take(&mut self.fail_next_sync) {
            return Err(io::Error::other("injected sync failure"));
        }
        self.file.sync_data()
    }

    fn empty_buffer(&mut self) {
        self.buf.clear();
        self.buf.shrink_to(KEEP_CAPACITY);
    }

    /// Writes the buffered records and makes them durable. If the write fails, the file is cut
    /// back to its last whole record and the records stay buffered for the next attempt. If the
    /// sync fails, the file is cut back to its last synced length: a retried sync can report
    /// success for pages the kernel already dropped, so the records since then are left to the
    /// next snapshot (`needs_snapshot`).
    pub fn flush(&mut self) -> Result<()> {
        let io_error = |path: &Path, source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        if self.needs_snapshot {
            return Err(io_error(
                &self.path,
                io::Error::other("an earlier sync of this log failed; save() writes a snapshot"),
            ));
        }
        self.write_out().map_err(|e| io_error(&self.path, e))?;
        if self.synced == self.written {
            return Ok(());
        }
        if let Err(e) = self.sync() {
            let _ = self.file.set_len(self.synced);
            self.written = self.synced;
            self.needs_snapshot = true;
            return Err(io_error(&self.path, e));
        }
        self.synced = self.written;
        Ok(())
    }

    /// Writes nothing more and drops buffered records (after a snapshot took them in).
    pub fn reset(&mut self, file: File, written: u64) {
        self.file = file;
        self.written = written;
        self.synced = written;
        self.needs_snapshot = false;
        self.empty_buffer();
    }
}

/// Writes a fresh log that follows `header.base_seq`.
pub fn write_new(file: &mut File, header: &LogHeader) -> io::Result<()> {
    file.write_all(&header.encode())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn writer(name: &str) -> io::Result<LogWriter> {
        let path = std::env::temp_dir().join(format!("bsc-log-{}-{name}", std::process::id()));
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)?;
        file.write_all(&[0u8; HEADER_LEN])?;
        Ok(LogWriter::new(file, path, HEADER_LEN as u64, 0))
    }

    fn put_many(w: &mut LogWriter, n: u64) {
        for i in 0..n {
            w.put(i, "p", &[i; 4], None, 0, &[b'x'; 1000], 0, 0);
        }
    }

    fn file_len(w: &LogWriter) -> io::Result<u64> {
        Ok(std::fs::metadata(&w.path)?.len())
    }

    #[test]
    fn the_buffer_stays_bounded_and_shrinks_once_written() -> TestResult {
        let mut w = writer("bounded")?;
        put_many(&mut w, 3000); // about 3 MB of records
        assert!(w.buf.len() < SPILL_BYTES);
        assert!(w.written > SPILL_BYTES as u64);
        assert_eq!(w.synced, HEADER_LEN as u64); // written out early, not synced
        w.flush()?;
        assert!(w.buf.capacity() <= KEEP_CAPACITY);
        assert_eq!(
            (w.synced, w.written, file_len(&w)?),
            (w.len(), w.len(), w.len())
        );
        std::fs::remove_file(&w.path)?;
        Ok(())
    }

    #[test]
    fn a_failed_sync_leaves_the_records_to_a_snapshot() -> TestResult {
        let mut w = writer("failed-sync")?;
        put_many(&mut w, 10);
        w.flush()?;
        let durable = w.len();
        put_many(&mut w, 3000);
        w.fail_next_sync();
        assert!(w.flush().is_err());
        assert!(w.needs_snapshot());
        // Unsynced pages cannot be trusted: the file goes back to what was synced.
        assert_eq!((file_len(&w)?, w.len()), (durable, durable));
        let refused = w.flush().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(refused.contains("save() writes a snapshot"), "{refused}");
        let file = std::fs::OpenOptions::new().append(true).open(&w.path)?;
        w.reset(file, HEADER_LEN as u64);
        assert!(!w.needs_snapshot());
        put_many(&mut w, 1);
        w.flush()?;
        std::fs::remove_file(&w.path)?;
        Ok(())
    }
}
