//! The snapshot file: the whole cache at one log sequence number, loaded by mapping it.
//!
//! Layout (little-endian; see docs/file-format.md): a 64-byte header, a table of six sections
//! (tag, crc32c, offset, length) with its own crc32c, then the sections, each 8-aligned:
//! stats, partition names, slot generations, entries (fixed-size records in LRU order),
//! re-scoring vectors, payload blocks (`[u32 kind<<24 | len][bytes]`, 4-aligned), and (from
//! version 2) the link naming the log that must follow. Sections lie back to back with zero
//! padding and the file ends with the last one: any other byte is damage. Payloads are used in
//! place from the mapping, so opening allocates nothing per payload.

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use memmap2::Mmap;

use super::format::{
    corrupt, crc, read_prelude, write_prelude, Reader, Shape, Writer, SNAPSHOT_MAGIC, V1,
};
use crate::error::Result;
use crate::payload::{Payload, HEADER as PAYLOAD_HEADER, MAX_PAYLOAD_BYTES};
use crate::store::{entry_id, Restored, Store};

const HEADER_LEN: usize = 64;
const SECTIONS: usize = 7;
const V1_SECTIONS: usize = 6;
const MAX_NAME: usize = 1 << 20;

fn data_start(sections: usize) -> u64 {
    (HEADER_LEN + sections * 24 + 8) as u64
}
#[derive(Clone, Copy)]
#[repr(u32)]
enum Tag {
    Stats = 1,
    Partitions = 2,
    Generations = 3,
    Entries = 4,
    Vectors = 5,
    Payloads = 6,
    Link = 7,
}

/// What a snapshot says about the cache that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotMeta {
    pub shape: Shape,
    pub matrix_crc: u32,
    pub last_seq: u64,
    pub max_entries: u64,
    /// The generation of the log written right after this snapshot (0 in version 1 files).
    pub log_generation: u64,
    /// The log this snapshot replaced: it may still follow after a crash inside `save`.
    pub previous_log_generation: u64,
}

/// Counters that survive a reopen.
pub type PersistedStats = [u64; 6];

fn entry_len(words: usize) -> usize {
    32 + 16 + words * 8
}

/// Writes the store as a snapshot at `meta.last_seq`.
pub fn write(
    file: &mut File,
    meta: &SnapshotMeta,
    store: &Store,
    stats: &PersistedStats,
) -> io::Result<()> {
    let mut out = SectionWriter::new(file)?;
    let mut buf = Vec::new();

    out.begin(Tag::Stats);
    for v in stats {
        Writer(&mut buf).u64(*v);
    }
    out.write(&mut buf)?;

    out.begin(Tag::Partitions);
    let names = store.partition_names();
    Writer(&mut buf).u32(names.len() as u32);
    for name in &names {
        Writer(&mut buf).blob(name.as_bytes());
    }
    out.write(&mut buf)?;

    out.begin(Tag::Generations);
    let generations = store.generations();
    Writer(&mut buf).u32(generations.len() as u32);
    for g in generations {
        Writer(&mut buf).u32(g);
    }
    out.write(&mut buf)?;

    out.begin(Tag::Entries);
    Writer(&mut buf).u64(store.len() as u64);
    let mut payload_offset = 0u64;
    store.for_each_lru(|e| {
        let mut w = Writer(&mut buf);
        w.u32(e.slot);
        w.u32(e.generation);
        w.u32(e.partition);
        w.u32(e.hits);
        w.u32(e.last_access_s);
        w.u32(e.payload.header());
        w.u64(e.created_ms);
        w.u64(e.expires_ms);
        w.u64(payload_offset);
        for word in &e.code {
            w.u64(*word);
        }
        payload_offset += padded_block(e.payload.len()) as u64;
        out.write_if_large(&mut buf)
    })?;
    out.write(&mut buf)?;

    out.begin(Tag::Vectors);
    if meta.shape.rescore {
        store.for_each_lru(|e| {
            let (vector, norm) = e.vector.unwrap_or((&[], 0.0));
            let mut w = Writer(&mut buf);
            w.u32(norm.to_bits());
            w.bytes(&vector.iter().map(|&v| v as u8).collect::<Vec<u8>>());
            out.write_if_large(&mut buf)
        })?;
    }
    out.write(&mut buf)?;

    out.begin(Tag::Payloads);
    store.for_each_lru(|e| {
        let mut w = Writer(&mut buf);
        w.u32(e.payload.header());
        w.bytes(e.payload.bytes());
        w.pad_to(4);
        out.write_if_large(&mut buf)
    })?;
    out.write(&mut buf)?;

    out.begin(Tag::Link);
    Writer(&mut buf).u64(meta.log_generation);
    Writer(&mut buf).u64(meta.previous_log_generation);
    out.write(&mut buf)?;

    out.finish(meta)
}

fn padded_block(len: usize) -> usize {
    (PAYLOAD_HEADER + len).div_ceil(4) * 4
}

/// Streams sections after a placeholder header, then writes the header and table.
struct SectionWriter<'f> {
    out: BufWriter<&'f mut File>,
    pos: u64,
    table: Vec<(u32, u32, u64, u64)>,
    current: Option<(Tag, u32, u64)>,
}

impl<'f> SectionWriter<'f> {
    fn new(file: &'f mut File) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let start = data_start(SECTIONS);
        out.write_all(&vec![0u8; start as usize])?;
        Ok(Self {
            out,
            pos: start,
            table: Vec::new(),
            current: None,
        })
    }

    fn begin(&mut self, tag: Tag) {
        self.current = Some((tag, 0, self.pos));
    }

    fn write_if_large(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        if buf.len() >= 1 << 16 {
            self.write_chunk(buf)?;
        }
        Ok(())
    }

    fn write_chunk(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        if let Some((_, c, _)) = self.current.as_mut() {
            *c = crc32c::crc32c_append(*c, buf);
        }
        self.out.write_all(buf)?;
        self.pos += buf.len() as u64;
        buf.clear();
        Ok(())
    }

    /// Writes what is left of the current section and closes it, padded to 8.
    fn write(&mut self, buf: &mut Vec<u8>) -> io::Result<()> {
        self.write_chunk(buf)?;
        if let Some((tag, c, start)) = self.current.take() {
            self.table.push((tag as u32, c, start, self.pos - start));
        }
        let pad = (8 - self.pos % 8) % 8;
        self.out.write_all(&[0u8; 8][..pad as usize])?;
        self.pos += pad;
        Ok(())
    }

    fn finish(mut self, meta: &SnapshotMeta) -> io::Result<()> {
        let mut head = Vec::with_capacity(data_start(SECTIONS) as usize);
        let mut w = Writer(&mut head);
        write_prelude(&mut w, SNAPSHOT_MAGIC, &meta.shape);
        w.u32(meta.matrix_crc);
        w.u32(SECTIONS as u32);
        w.u64(meta.last_seq);
        w.u64(meta.max_entries);
        w.u32(0);
        let header_crc = crc(&head);
        Writer(&mut head).u32(header_crc);
        let table_start = head.len();
        for (tag, c, offset, len) in &self.table {
            let mut w = Writer(&mut head);
            w.u32(*tag);
            w.u32(*c);
            w.u64(*offset);
            w.u64(*len);
        }
        let table_crc = crc(&head[table_start..]);
        Writer(&mut head).u32(table_crc);
        Writer(&mut head).u32(0);
        self.out.seek(SeekFrom::Start(0))?;
        self.out.write_all(&head)?;
        self.out.flush()
    }
}

/// A mapped snapshot whose header and sections passed their checks.
pub struct Loaded {
    pub version: u32,
    pub meta: SnapshotMeta,
    pub stats: PersistedStats,
    map: Arc<Mmap>,
    sections: [(usize, usize); SECTIONS],
}

/// Maps and checks a snapshot: magic, version, header and table checksums, the sections' layout
/// and checksums, and that nothing follows the last one. Entries are placed into a store by
/// [`Loaded::restore_into`].
pub fn open(file: &File, path: &Path) -> Result<Loaded> {
    // SAFETY: snapshots are never modified in place (a new one is renamed over the old), so the
    // mapping stays valid and unchanged while it lives.
    // Every page is read right away (checksums), so fault them all in with one call.
    let map = unsafe { memmap2::MmapOptions::new().populate().map(file) }
        .map_err(|e| super::dir::io_error(path, e))?;
    let bytes: &[u8] = &map;
    let mut r = Reader::new(bytes, 0, path);
    let (shape, version) = read_prelude(&mut r, SNAPSHOT_MAGIC, "snapshot")?;
    let matrix_crc = r.u32()?;
    let sections = r.u32()? as usize;
    let last_seq = r.u64()?;
    let max_entries = r.u64()?;
    r.bytes(4)?;
    let header_crc = r.u32()?;
    if crc(&bytes[..60]) != header_crc {
        return Err(corrupt(path, 60, "header checksum mismatch"));
    }
    let expected = if version == V1 { V1_SECTIONS } else { SECTIONS };
    if sections != expected || shape.dim == 0 || shape.bits == 0 || !shape.bits.is_multiple_of(64) {
        return Err(corrupt(path, 8, "implausible header values"));
    }
    let table_start = HEADER_LEN;
    let table = r.bytes(sections * 24)?;
    let table_crc = r.u32()?;
    if crc(table) != table_crc {
        return Err(corrupt(
            path,
            table_start as u64,
            "section table checksum mismatch",
        ));
    }
    let mut t = Reader::new(table, table_start as u64, path);
    let mut found = [(0usize, 0usize); SECTIONS];
    // Sections lie back to back, each 8-aligned, after the table and its 4 zero bytes.
    let mut next = (table_start + table.len() + 4) as u64;
    for (i, slot) in found.iter_mut().enumerate().take(sections) {
        let at = t.offset();
        let tag = t.u32()?;
        let section_crc = t.u32()?;
        let offset = t.u64()?;
        let len = t.u64()?;
        let end = offset.checked_add(len);
        let aligned = next.div_ceil(8) * 8;
        if tag as usize != i + 1 || offset != aligned || end.is_none_or(|e| e > bytes.len() as u64)
        {
            return Err(corrupt(path, at, "section table entry out of bounds"));
        }
        zero_gap(bytes, next as usize, offset as usize, path)?;
        let (offset, len) = (offset as usize, len as usize);
        if crc(&bytes[offset..offset + len]) != section_crc {
            return Err(corrupt(
                path,
                offset as u64,
                format!("section {tag} checksum mismatch"),
            ));
        }
        *slot = (offset, len);
        next = (offset + len) as u64;
    }
    let end = next.div_ceil(8) * 8;
    if bytes.len() as u64 != end {
        return Err(corrupt(
            path,
            end.min(bytes.len() as u64),
            format!(
                "the snapshot should end at byte {end} after its last section, but holds {} bytes",
                bytes.len()
            ),
        ));
    }
    zero_gap(bytes, next as usize, end as usize, path)?;
    let mut s = Reader::new(
        &bytes[found[0].0..found[0].0 + found[0].1],
        found[0].0 as u64,
        path,
    );
    let mut stats = [0u64; 6];
    for v in &mut stats {
        *v = s.u64()?;
    }
    let (mut log_generation, mut previous_log_generation) = (0, 0);
    if version != V1 {
        let (offset, len) = found[Tag::Link as usize - 1];
        let mut l = Reader::new(&bytes[offset..offset + len], offset as u64, path);
        log_generation = l.u64()?;
        previous_log_generation = l.u64()?;
        if l.remaining() != 0 || log_generation == 0 {
            return Err(l.corrupt("implausible log link"));
        }
    }
    let meta = SnapshotMeta {
        shape,
        matrix_crc,
        last_seq,
        max_entries,
        log_generation,
        previous_log_generation,
    };
    Ok(Loaded {
        version,
        meta,
        stats,
        map: Arc::new(map),
        sections: found,
    })
}

/// Padding between sections must be zero: any other byte there is damage.
fn zero_gap(bytes: &[u8], from: usize, to: usize, path: &Path) -> Result<()> {
    match bytes[from..to].iter().position(|&b| b != 0) {
        Some(i) => Err(corrupt(path, (from + i) as u64, "padding is not zero")),
        None => Ok(()),
    }
}

impl Loaded {
    fn section<'a>(&'a self, tag: Tag, path: &'a Path) -> Reader<'a> {
        let (offset, len) = self.sections[tag as usize - 1];
        Reader::new(&self.map[offset..offset + len], offset as u64, path)
    }

    /// Slot generations, for [`Store::finish_restore`].
    pub fn generations(&self, path: &Path) -> Result<Vec<u32>> {
        let mut r = self.section(Tag::Generations, path);
        let n = r.u32()? as usize;
        if n > r.remaining() / 4 {
            return Err(r.corrupt("generation count exceeds the section"));
        }
        (0..n).map(|_| r.u32()).collect()
    }

    /// Places every entry into `store` (which must be restoring), borrowing payloads from the map.
    pub fn restore_into(
        &self,
        store: &mut Store,
        words: usize,
        with_vectors: bool,
        path: &Path,
    ) -> Result<()> {
        let mut names_r = self.section(Tag::Partitions, path);
        let count = names_r.u32()? as usize;
        if count > names_r.remaining() / 4 {
            return Err(names_r.corrupt("partition count exceeds the section"));
        }
        let names: Vec<&str> = (0..count)
            .map(|_| names_r.str(MAX_NAME))
            .collect::<Result<_>>()?;

        let mut entries = self.section(Tag::Entries, path);
        let n = entries.u64()?;
        let record = entry_len(words);
        if n > (entries.remaining() / record) as u64 {
            return Err(entries.corrupt("entry count exceeds the section"));
        }
        let dim = self.meta.shape.dim;
        let mut vectors = self.section(Tag::Vectors, path);
        if with_vectors && vectors.remaining() as u64 != n * (4 + dim as u64) {
            return Err(vectors.corrupt("re-scoring vectors do not match the entries"));
        }
        let (payload_start, payload_len) = self.sections[Tag::Payloads as usize - 1];
        store.reserve(n as usize);
        let mut part_ids: Vec<Option<u32>> = vec![None; names.len()];
        let mut code = vec![0u64; words];
        for _ in 0..n {
            let at = entries.offset();
            // One bounds check per record; the fields are read at fixed offsets.
            let rec = entries.bytes(record)?;
            let u32_at =
                |i: usize| u32::from_le_bytes([rec[i], rec[i + 1], rec[i + 2], rec[i + 3]]);
            let u64_at = |i: usize| u64::from(u32_at(i)) | (u64::from(u32_at(i + 4)) << 32);
            let (slot, generation, partition) = (u32_at(0), u32_at(4), u32_at(8) as usize);
            let (hits, last_access_s, header) = (u32_at(12), u32_at(16), u32_at(20));
            let (created_ms, expires_ms, offset) = (u64_at(24), u64_at(32), u64_at(40));
            for (w, word) in code.iter_mut().enumerate() {
                *word = u64_at(48 + 8 * w);
            }
            let len = (header & 0x00FF_FFFF) as usize;
            let block_end = offset.checked_add((PAYLOAD_HEADER + len) as u64);
            if offset % 4 != 0
                || block_end.is_none_or(|e| e > payload_len as u64)
                || len > MAX_PAYLOAD_BYTES
            {
                return Err(entries.corrupt("payload reference out of bounds"));
            }
            let block = payload_start + offset as usize;
            let stored = u32::from_le_bytes([
                self.map[block],
                self.map[block + 1],
                self.map[block + 2],
                self.map[block + 3],
            ]);
            if stored != header {
                return Err(super::format::corrupt(
                    path,
                    block as u64,
                    "payload header does not match its entry",
                ));
            }
            let Some(name) = names.get(partition) else {
                return Err(entries.corrupt("entry names a partition that does not exist"));
            };
            // Each name is looked up in the store once, not once per entry.
            let part_index = *part_ids[partition].get_or_insert_with(|| store.partition_id(name));
            let vector = if with_vectors {
                let norm = f32::from_bits(vectors.u32()?);
                let v = vectors.bytes(dim)?.iter().map(|&b| b as i8).collect();
                Some((v, norm))
            } else {
                None
            };
            // SAFETY: the block is 4-aligned (the map is page-aligned, the section 8-aligned,
            // the offset checked above), in bounds, and its header matches its length; the
            // store keeps the map alive for as long as the payload lives.
            let payload = unsafe { Payload::borrowed(NonNull::from(&self.map[block])) };
            let restored = Restored {
                id: entry_id(slot, generation),
                partition: part_index,
                code: &code,
                vector,
                payload,
                created_ms,
                expires_ms,
                hits,
                last_access_s,
            };
            if !store.restore(restored) {
                return Err(super::format::corrupt(
                    path,
                    at,
                    "two entries claim the same slot",
                ));
            }
        }
        store.keep_mapping(self.map.clone());
        Ok(())
    }
}
