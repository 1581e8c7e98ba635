//! The append-only log of changes since the last snapshot.
//!
//! An 80-byte header (magic, version, encoder shape and seed, the snapshot sequence number it
//! follows, max_entries, the log's generation, crc32c; then the acknowledged-length mark with its
//! own crc32c) and then records `[len u32][body crc32c u32][header crc32c u32][type u8][seq u64]
//! [body]`. Records are buffered in memory and are durable once `flush` returns (write,
//! fdatasync, then the mark is moved past them); past `SPILL_BYTES` the buffer is written out
//! early, unsynced, so memory stays bounded between flushes.
//!
//! On replay only a record past the mark that runs past the end of the file is a torn tail
//! (dropped). A log shorter than its mark, a bad record header, or a bad body is corruption.
//! Version 1 logs (no header checksum, no mark) keep their old rule.

use std::fs::File;
use std::io::{self, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::format::{
    corrupt, crc, read_prelude, write_prelude, Reader, Shape, Writer, LOG_MAGIC, V1,
};
use crate::error::{Error, Result};
use crate::payload::MAX_PAYLOAD_BYTES;
use crate::store::EntryId;

pub const HEADER_LEN: usize = 80;
const V1_HEADER_LEN: usize = 52;
/// Where the acknowledged-length mark sits: a u64, its crc32c, 4 zero bytes.
const MARK_AT: usize = 64;
const RECORD_HEAD: usize = 12;
const V1_RECORD_HEAD: usize = 8;
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
    /// Names this log file; the snapshot before it names the same number (0: no snapshot).
    pub generation: u64,
}

/// A log file's header as read, with where its records start and how much of it was
/// acknowledged by a completed flush.
#[derive(Debug, Clone, Copy)]
pub struct LogFile {
    pub header: LogHeader,
    pub version: u32,
    pub records_start: usize,
    pub acknowledged: usize,
}

fn mark(len: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&len.to_le_bytes());
    let c = crc(&out[..8]);
    out[8..12].copy_from_slice(&c.to_le_bytes());
    out
}

impl LogHeader {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN);
        let mut w = Writer(&mut out);
        write_prelude(&mut w, LOG_MAGIC, &self.shape);
        w.u64(self.base_seq);
        w.u64(self.max_entries);
        w.u64(self.generation);
        let c = crc(&out);
        let mut w = Writer(&mut out);
        w.u32(c);
        w.u32(0);
        w.bytes(&mark(HEADER_LEN as u64));
        out
    }

    pub fn decode(bytes: &[u8], path: &Path) -> Result<LogFile> {
        let mut r = Reader::new(bytes, 0, path);
        let (shape, version) = read_prelude(&mut r, LOG_MAGIC, "log")?;
        let base_seq = r.u64()?;
        let max_entries = r.u64()?;
        let generation = if version == V1 { 0 } else { r.u64()? };
        let crc_at = r.offset() as usize;
        let stored = r.u32()?;
        if crc(&bytes[..crc_at]) != stored {
            return Err(corrupt(path, crc_at as u64, "log header checksum mismatch"));
        }
        let header = LogHeader {
            shape,
            base_seq,
            max_entries,
            generation,
        };
        if version == V1 {
            return Ok(LogFile {
                header,
                version,
                records_start: V1_HEADER_LEN,
                acknowledged: V1_HEADER_LEN,
            });
        }
        if r.u32()? != 0 {
            return Err(corrupt(
                path,
                crc_at as u64 + 4,
                "log header padding is not zero",
            ));
        }
        let raw = r.bytes(16)?;
        let acknowledged = u64::from_le_bytes([
            raw[0], raw[1], raw[2], raw[3], raw[4], raw[5], raw[6], raw[7],
        ]);
        if raw != mark(acknowledged) || acknowledged < HEADER_LEN as u64 {
            return Err(corrupt(
                path,
                MARK_AT as u64,
                "the log's acknowledged-length mark is damaged",
            ));
        }
        Ok(LogFile {
            header,
            version,
            records_start: HEADER_LEN,
            acknowledged: usize::try_from(acknowledged).unwrap_or(usize::MAX),
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

/// What the bytes at one offset of a log hold.
enum Frame {
    Whole {
        body: Range<usize>,
        end: usize,
    },
    /// Runs past the end of the file.
    Torn,
    Bad(&'static str),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn frame(bytes: &[u8], pos: usize, version: u32) -> Frame {
    let rest = &bytes[pos..];
    let head = if version == V1 {
        V1_RECORD_HEAD
    } else {
        RECORD_HEAD
    };
    if rest.len() < head {
        return Frame::Torn;
    }
    let len = u32_at(rest, 0) as usize;
    let body_crc = u32_at(rest, 4);
    if version != V1 && crc(&rest[..8]) != u32_at(rest, 8) {
        return Frame::Bad("record header checksum mismatch");
    }
    if !(9..=MAX_RECORD).contains(&len) {
        // Version 1 cannot tell a damaged length from a torn one.
        return if version == V1 {
            Frame::Torn
        } else {
            Frame::Bad("record length out of range")
        };
    }
    if head + len > rest.len() {
        return Frame::Torn;
    }
    let body = pos + head..pos + head + len;
    if crc(&bytes[body.clone()]) != body_crc {
        if version == V1 && head + len == rest.len() {
            return Frame::Torn;
        }
        return Frame::Bad("record checksum mismatch");
    }
    Frame::Whole {
        end: body.end,
        body,
    }
}

/// Decodes one record body (checksum already checked): its sequence number and change.
fn decode<'a>(
    body: &'a [u8],
    at: u64,
    words: usize,
    dim: usize,
    path: &'a Path,
) -> Result<(u64, Record<'a>)> {
    let mut r = Reader::new(body, at, path);
    let kind = r.u8()?;
    let seq = r.u64()?;
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
    Ok((seq, record))
}

/// Replays the records of a log (header already read) with `seq > after`.
pub fn replay(
    bytes: &[u8],
    file: &LogFile,
    words: usize,
    after: u64,
    path: &Path,
    mut apply: impl FnMut(Record<'_>) -> Result<()>,
) -> Result<Replayed> {
    if bytes.len() < file.acknowledged {
        return Err(corrupt(
            path,
            bytes.len() as u64,
            format!(
                "the log is cut short: it ends at byte {}, but a flush acknowledged {} bytes",
                bytes.len(),
                file.acknowledged
            ),
        ));
    }
    let mut pos = file.records_start;
    let mut seq = file.header.base_seq;
    let mut number = 0u64;
    while pos < bytes.len() {
        number += 1;
        let at = |reason: String| corrupt(path, pos as u64, format!("record {number}: {reason}"));
        let (body, end) = match frame(bytes, pos, file.version) {
            Frame::Whole { body, end } => (body, end),
            Frame::Torn if pos >= file.acknowledged => {
                return Ok(Replayed {
                    valid_len: pos as u64,
                    last_seq: seq,
                    torn: true,
                })
            }
            Frame::Torn => {
                return Err(at(format!(
                    "runs past the end of the file, inside the {} acknowledged bytes",
                    file.acknowledged
                )))
            }
            Frame::Bad(reason) => return Err(at(reason.into())),
        };
        let (record_seq, record) = decode(
            &bytes[body.clone()],
            body.start as u64,
            words,
            file.header.shape.dim,
            path,
        )
        .map_err(|e| match e {
            Error::Corrupt { offset, reason, .. } => {
                corrupt(path, offset, format!("record {number}: {reason}"))
            }
            other => other,
        })?;
        if record_seq != seq + 1 {
            return Err(at(format!("sequence jumps from {seq} to {record_seq}")));
        }
        seq = record_seq;
        if seq > after {
            apply(record)?;
        }
        pos = end;
    }
    Ok(Replayed {
        valid_len: pos as u64,
        last_seq: seq,
        torn: false,
    })
}

/// What a salvaging scan kept and skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Salvaged {
    pub kept: usize,
    /// Byte ranges that held no valid record.
    pub lost: Vec<(u64, u64)>,
    pub last_seq: u64,
}

/// Reads every record whose checksums hold, resyncing past damaged ranges to the next offset
/// where a whole valid record starts. `apply` gets each record's sequence number.
pub fn salvage(
    bytes: &[u8],
    file: &LogFile,
    words: usize,
    path: &Path,
    mut apply: impl FnMut(u64, Record<'_>),
) -> Salvaged {
    let dim = file.header.shape.dim;
    let valid_at = |pos: usize| match frame(bytes, pos, file.version) {
        Frame::Whole { body, end } => {
            decode(&bytes[body.clone()], body.start as u64, words, dim, path)
                .ok()
                .map(|(seq, record)| (seq, record, end))
        }
        _ => None,
    };
    let mut out = Salvaged {
        last_seq: file.header.base_seq,
        ..Salvaged::default()
    };
    let mut pos = file.records_start.min(bytes.len());
    while pos < bytes.len() {
        if let Some((seq, record, end)) = valid_at(pos) {
            apply(seq, record);
            out.kept += 1;
            out.last_seq = out.last_seq.max(seq);
            pos = end;
            continue;
        }
        let next = (pos + 1..bytes.len())
            .find(|&p| valid_at(p).is_some())
            .unwrap_or(bytes.len());
        out.lost.push((pos as u64, next as u64));
        pos = next;
    }
    out
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
        self.buf.extend_from_slice(&[0u8; RECORD_HEAD]);
        let mut w = Writer(&mut self.buf);
        w.u8(kind);
        w.u64(self.seq);
        body(&mut w);
        let len = (self.buf.len() - start - RECORD_HEAD) as u32;
        let c = crc(&self.buf[start + RECORD_HEAD..]);
        self.buf[start..start + 4].copy_from_slice(&len.to_le_bytes());
        self.buf[start + 4..start + 8].copy_from_slice(&c.to_le_bytes());
        let head_crc = crc(&self.buf[start..start + 8]);
        self.buf[start + 8..start + RECORD_HEAD].copy_from_slice(&head_crc.to_le_bytes());
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
        // The mark goes out after the records are durable, so it never claims more than the
        // disk holds; the next sync makes it durable too. A failed write only leaves it behind.
        let _ = self.file.write_all_at(&mark(self.synced), MARK_AT as u64);
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
