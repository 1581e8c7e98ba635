//! Persistence: a cache directory holding a snapshot and a log of changes since it.
//!
//! Every change is appended to the log in memory and made durable by `flush` (after every write,
//! every N milliseconds from a background thread, or only when asked, per [`Durability`]).
//! `save` writes a new snapshot (temp file, fsync, rename, fsync directory) and starts an empty
//! log after it, so a crash at any moment leaves a snapshot and a log that together hold every
//! flushed change. Opening maps the snapshot, so a large cache is searchable at once, then
//! replays the log. See docs/file-format.md.

pub(crate) mod dir;
mod format;
pub(crate) mod log;
pub mod repair;
pub(crate) mod snapshot;

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::payload::Payload;
use crate::store::{quantise, EntryId, Restored, Store};
use dir::{CacheDir, LOG_FILE, SNAPSHOT_FILE};
pub use format::FORMAT_VERSION;
use format::{Shape, V1};
use log::{LogFile, LogHeader, LogWriter, Record, Removal};
pub use snapshot::PersistedStats;

/// When logged changes reach the disk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Durability {
    /// Before each write returns.
    EveryWrite,
    /// From a background thread at this interval, and on `flush`, `save` and close.
    Interval(Duration),
    /// Only on `flush`, `save` and close.
    Manual,
}

/// How a cache directory is opened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PersistOptions {
    pub durability: Durability,
    /// Open alongside a writer without taking the lock; writes are refused.
    pub read_only: bool,
    /// Use the `max_entries` the cache was written with (when it exists) instead of the config's.
    pub inherit_max_entries: bool,
}

impl Default for PersistOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Interval(Duration::from_secs(1)),
            read_only: false,
            inherit_max_entries: false,
        }
    }
}

/// Stats slots of [`PersistedStats`].
pub(crate) mod stat {
    pub const HITS: usize = 0;
    pub const MISSES: usize = 1;
    pub const INSERTS: usize = 2;
    pub const EVICTIONS: usize = 3;
    pub const EXPIRATIONS: usize = 4;
    pub const DELETES: usize = 5;
}

/// The persistent side of a cache.
#[derive(Debug)]
pub(crate) struct Persist {
    dir: CacheDir,
    options: PersistOptions,
    /// The current log's header; `save` starts a new generation.
    header: Mutex<LogHeader>,
    matrix_crc: u32,
    /// `None` when read-only.
    log: Mutex<Option<LogWriter>>,
    snapshot_len: Mutex<u64>,
    /// When a reader last looked at the files, and what they were when it loaded them.
    seen: Mutex<(Instant, dir::Seen)>,
}

/// How often a reader looks at the files for the writer's changes.
const FOLLOW_EVERY: Duration = Duration::from_millis(200);

/// A cache directory opened and replayed.
pub(crate) struct Opened {
    /// The `max_entries` the cache was written with, if it existed.
    pub written_max_entries: Option<usize>,
    pub store: Store,
    pub stats: PersistedStats,
    pub encoder: Encoder,
    pub persist: Arc<Persist>,
}

/// Logs grow to at least this before `maybe_compact` writes a snapshot.
const MIN_COMPACT_LOG: u64 = 64 << 20;

pub(crate) fn matrix_crc(encoder: &Encoder) -> u32 {
    let mut c = 0u32;
    for bit in 0..encoder.bits() {
        let row: Vec<u8> = encoder
            .hyperplane(bit)
            .iter()
            .flat_map(|x| x.to_le_bytes())
            .collect();
        c = crc32c::crc32c_append(c, &row);
    }
    c
}

fn read_all(file: Option<std::fs::File>, path: &Path) -> Result<Option<Vec<u8>>> {
    let Some(mut file) = file else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| dir::io_error(path, e))?;
    Ok(Some(bytes))
}

/// Opens `path`, loading the snapshot and replaying the log into a new store.
pub(crate) fn open(
    path: &Path,
    encoder: Option<Encoder>,
    rescore: bool,
    max_entries: usize,
    options: PersistOptions,
) -> Result<Opened> {
    let dir = CacheDir::open(path, !options.read_only)?;
    // Taken before reading, so a change made while loading shows up as one later.
    let seen = dir.seen();
    let snapshot_path = dir.file(SNAPSHOT_FILE);
    let log_path = dir.file(LOG_FILE);
    // A reader can race a writer's `save` (new snapshot, then new log); it retries.
    let mut attempt = 0;
    let (loaded, log_bytes, log_file) = loop {
        let loaded = match dir.open_read(SNAPSHOT_FILE)? {
            Some(file) => Some(snapshot::open(&file, &snapshot_path)?),
            None => None,
        };
        let log_bytes = read_all(dir.open_read(LOG_FILE)?, &log_path)?;
        let log_file = match &log_bytes {
            Some(bytes) => Some(LogHeader::decode(bytes, &log_path)?),
            None => None,
        };
        let Some(refusal) = mismatch(loaded.as_ref(), log_file.as_ref()) else {
            break (loaded, log_bytes, log_file);
        };
        attempt += 1;
        if options.read_only && attempt < 5 {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        let (file, why) = refusal;
        return Err(format::corrupt(&dir.file(file), 0, why));
    };
    let log_header = log_file.map(|f| f.header);

    let written = match (&loaded, &log_header, &encoder) {
        (Some(l), _, _) => l.meta.shape,
        (None, Some(h), _) => h.shape,
        (None, None, Some(e)) => Shape {
            dim: e.dim(),
            bits: e.bits(),
            seed: e.seed(),
            rescore,
        },
        (None, None, None) => {
            return Err(Error::NoCache {
                path: path.to_path_buf(),
            })
        }
    };
    let Shape {
        dim,
        bits,
        seed,
        rescore: written_rescore,
    } = written;
    let encoder = match encoder {
        Some(e) if (e.dim(), e.bits(), e.seed()) != (dim, bits, seed) => {
            return Err(Error::EncoderMismatch {
                path: path.to_path_buf(),
                expected: format!("embedding_dim={dim}, code_bits={bits}, seed={seed}"),
                got: format!(
                    "embedding_dim={}, code_bits={}, seed={}",
                    e.dim(),
                    e.bits(),
                    e.seed()
                ),
            });
        }
        Some(e) => e,
        None => Encoder::new(dim, bits, seed)?,
    };
    let crc_now = matrix_crc(&encoder);
    if let Some(l) = &loaded {
        if l.meta.matrix_crc != crc_now {
            return Err(Error::EncoderMismatch {
                path: path.to_path_buf(),
                expected: "the hyperplanes the cache was written with".into(),
                got: "different hyperplanes for the same seed (a changed generator)".into(),
            });
        }
    }
    let has_entries = loaded.is_some()
        || log_bytes
            .as_ref()
            .zip(log_file.as_ref())
            .is_some_and(|(b, f)| b.len() > f.records_start);
    if rescore && !written_rescore && has_entries {
        return Err(Error::RescoreMismatch {
            path: path.to_path_buf(),
        });
    }

    let words = encoder.words();
    let mut store = Store::new(words, dim, rescore);
    store.begin_restore();
    let mut stats = [0u64; 6];
    let mut snapshot_seq = 0;
    let mut snapshot_len = 0;
    let mut generations = Vec::new();
    if let Some(l) = &loaded {
        l.restore_into(&mut store, words, rescore, &snapshot_path)?;
        stats = l.stats;
        snapshot_seq = l.meta.last_seq;
        generations = l.generations(&snapshot_path)?;
        snapshot_len = std::fs::metadata(&snapshot_path).map_or(0, |m| m.len());
    }
    let mut replayed = None;
    if let (Some(bytes), Some(file)) = (&log_bytes, &log_file) {
        let shape = file.header.shape;
        if (shape.dim, shape.bits, shape.seed) != (dim, bits, seed) {
            return Err(format::corrupt(
                &log_path,
                0,
                "the log's encoder differs from the snapshot's",
            ));
        }
        let r = log::replay(bytes, file, words, snapshot_seq, &log_path, |record| {
            apply(&mut store, &mut stats, record, rescore, dim, &log_path)
        })?;
        replayed = Some(r);
    }
    store.finish_restore(&generations);

    let written_max_entries = match (&loaded, &log_header) {
        (Some(l), _) => Some(l.meta.max_entries as usize),
        (None, Some(h)) => Some(h.max_entries as usize),
        (None, None) => None,
    };
    let max_entries = match written_max_entries {
        Some(written) if options.inherit_max_entries && written > 0 => written,
        _ => max_entries,
    };
    let mut header = LogHeader {
        shape: Shape { rescore, ..written },
        base_seq: snapshot_seq,
        max_entries: max_entries as u64,
        generation: loaded.as_ref().map_or(0, |l| l.meta.log_generation),
    };
    let upgrade = loaded.as_ref().is_some_and(|l| l.version == V1)
        || log_file.as_ref().is_some_and(|f| f.version == V1);
    let log = if options.read_only {
        None
    } else if upgrade {
        // A version 1 directory becomes version 2 by a save: snapshot first, then a new log.
        let last_seq = replayed.map_or(snapshot_seq, |r| r.last_seq);
        header = write_snapshot(&dir, header, crc_now, last_seq, &store, &stats)?;
        snapshot_len = std::fs::metadata(&snapshot_path).map_or(0, |m| m.len());
        let file = dir.open_append(LOG_FILE)?;
        Some(LogWriter::new(
            file,
            log_path,
            log::HEADER_LEN as u64,
            last_seq,
        ))
    } else {
        Some(open_writer(&dir, header, log_file.as_ref(), replayed)?)
    };
    let persist = Arc::new(Persist {
        dir,
        options,
        header: Mutex::new(header),
        matrix_crc: crc_now,
        log: Mutex::new(log),
        snapshot_len: Mutex::new(snapshot_len),
        seen: Mutex::new((Instant::now(), seen)),
    });
    if let Durability::Interval(every) = options.durability {
        if !options.read_only {
            spawn_flusher(Arc::downgrade(&persist), every);
        }
    }
    Ok(Opened {
        written_max_entries,
        store,
        stats,
        encoder,
        persist,
    })
}

fn apply(
    store: &mut Store,
    stats: &mut PersistedStats,
    record: Record<'_>,
    rescore: bool,
    dim: usize,
    path: &Path,
) -> Result<()> {
    match record {
        Record::Put {
            id,
            partition,
            code,
            vector,
            kind,
            payload,
            created_ms,
            expires_ms,
        } => {
            let restored = Restored {
                id,
                partition: store.partition_id(partition),
                code: &code,
                vector: if rescore {
                    vector.map(|v| quantise(&v, dim))
                } else {
                    None
                },
                payload: Payload::new(kind, payload)?,
                created_ms,
                expires_ms,
                hits: 0,
                last_access_s: (created_ms / 1000) as u32,
            };
            if !store.restore(restored) {
                return Err(format::corrupt(
                    path,
                    0,
                    format!("the log puts entry {id} twice"),
                ));
            }
            stats[stat::INSERTS] += 1;
        }
        Record::Delete { id, reason } => {
            if !store.delete(id) {
                return Err(format::corrupt(
                    path,
                    0,
                    format!("the log removes entry {id}, which it never put"),
                ));
            }
            stats[match reason {
                Removal::Deleted => stat::DELETES,
                Removal::Evicted => stat::EVICTIONS,
                Removal::Expired => stat::EXPIRATIONS,
            }] += 1;
        }
        Record::Clear { partition } => {
            let removed = match partition {
                Some(name) => store.clear_partition(name),
                None => store.clear_all(),
            };
            stats[stat::DELETES] += removed as u64;
        }
    }
    Ok(())
}

/// Why a snapshot and a log cannot be read together, naming the file to blame; `None` when
/// they can. A snapshot must be followed by the log it names, or (after a crash inside `save`)
/// by the log it replaced.
fn mismatch(
    snapshot: Option<&snapshot::Loaded>,
    log: Option<&LogFile>,
) -> Option<(&'static str, String)> {
    match (snapshot, log) {
        (None, None) => None,
        (Some(s), None) => Some((
            LOG_FILE,
            format!(
                "the log is missing: snapshot.bsc (sequence {}) must be followed by log.bsc",
                s.meta.last_seq
            ),
        )),
        (None, Some(l)) => (l.header.base_seq > 0 || l.header.generation != 0).then(|| {
            (
                SNAPSHOT_FILE,
                format!(
                    "the snapshot is missing: log.bsc follows a snapshot at sequence {}",
                    l.header.base_seq
                ),
            )
        }),
        (Some(s), Some(l)) if s.version == V1 => (l.header.base_seq > s.meta.last_seq).then(|| {
            (
                LOG_FILE,
                "the log follows a snapshot newer than snapshot.bsc".to_string(),
            )
        }),
        (Some(s), Some(l)) => {
            let (g, base) = (l.header.generation, l.header.base_seq);
            let current = g == s.meta.log_generation && base == s.meta.last_seq;
            let replaced = g == s.meta.previous_log_generation && base <= s.meta.last_seq;
            (!current && !replaced).then(|| {
                (
                    LOG_FILE,
                    format!(
                        "log.bsc is generation {g} after sequence {base}, but snapshot.bsc \
                         names generation {} after sequence {}",
                        s.meta.log_generation, s.meta.last_seq
                    ),
                )
            })
        }
    }
}

/// Writes a snapshot of `store` at `last_seq`, then an empty log of a new generation after it
/// (`current` is the log being replaced); returns the new log's header.
fn write_snapshot(
    dir: &CacheDir,
    current: LogHeader,
    matrix_crc: u32,
    last_seq: u64,
    store: &Store,
    stats: &PersistedStats,
) -> Result<LogHeader> {
    let generation = format::new_generation();
    let meta = snapshot::SnapshotMeta {
        shape: current.shape,
        matrix_crc,
        last_seq,
        max_entries: current.max_entries,
        log_generation: generation,
        previous_log_generation: current.generation,
    };
    dir.replace(SNAPSHOT_FILE, |f| snapshot::write(f, &meta, store, stats))?;
    let header = LogHeader {
        base_seq: last_seq,
        generation,
        ..current
    };
    dir.replace(LOG_FILE, |f| log::write_new(f, &header))?;
    Ok(header)
}

/// The log writer positioned after the last whole record; a torn tail is cut off, and a log
/// left behind by an interrupted `save` (or none at all) is replaced by an empty one.
fn open_writer(
    dir: &CacheDir,
    header: LogHeader,
    existing: Option<&LogFile>,
    replayed: Option<log::Replayed>,
) -> Result<LogWriter> {
    let path = dir.file(LOG_FILE);
    match (existing, replayed) {
        (Some(f), Some(r))
            if (f.header.base_seq, f.header.generation) == (header.base_seq, header.generation) =>
        {
            let file = dir.open_append(LOG_FILE)?;
            if r.torn {
                file.set_len(r.valid_len)
                    .and_then(|()| file.sync_all())
                    .map_err(|e| dir::io_error(&path, e))?;
            }
            Ok(LogWriter::new(file, path, r.valid_len, r.last_seq))
        }
        _ => {
            dir.replace(LOG_FILE, |f| log::write_new(f, &header))?;
            let file = dir.open_append(LOG_FILE)?;
            Ok(LogWriter::new(
                file,
                path,
                log::HEADER_LEN as u64,
                header.base_seq,
            ))
        }
    }
}

fn spawn_flusher(persist: Weak<Persist>, every: Duration) {
    let spawned = std::thread::Builder::new()
        .name("bsc-flush".into())
        .spawn(move || loop {
            std::thread::sleep(every);
            let Some(p) = persist.upgrade() else {
                return;
            };
            // A failed background flush keeps the records buffered; `flush` reports the error.
            let _ = p.flush();
        });
    // Without the thread, records still reach the disk at flush, save and close.
    drop(spawned);
}

impl Persist {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn read_only(&self) -> bool {
        self.options.read_only
    }

    pub fn durability(&self) -> Durability {
        self.options.durability
    }

    pub fn options(&self) -> PersistOptions {
        self.options
    }

    /// For a reader, at most every `FOLLOW_EVERY`: whether the writer changed the files since
    /// they were loaded.
    pub fn files_changed(&self) -> bool {
        if !self.options.read_only {
            return false;
        }
        let mut seen = self.seen.lock();
        if seen.0.elapsed() < FOLLOW_EVERY {
            return false;
        }
        seen.0 = Instant::now();
        self.dir.seen() != seen.1
    }

    /// Takes over what `newer` (this directory, opened again) loaded.
    pub fn loaded_as(&self, newer: &Persist) {
        self.seen.lock().1 = newer.seen.lock().1;
        *self.snapshot_len.lock() = *newer.snapshot_len.lock();
    }

    /// Runs `f` on the log writer; refused when read-only.
    pub fn log(&self, f: impl FnOnce(&mut LogWriter)) -> Result<()> {
        match self.log.lock().as_mut() {
            Some(writer) => {
                f(writer);
                Ok(())
            }
            None => Err(Error::ReadOnly {
                path: self.dir.path().to_path_buf(),
            }),
        }
    }

    pub fn check_writable(&self) -> Result<()> {
        self.log(|_| ())
    }

    pub fn flush(&self) -> Result<()> {
        match self.log.lock().as_mut() {
            Some(writer) => writer.flush(),
            None => Ok(()),
        }
    }

    /// Whether only a snapshot can make the latest changes durable (a log sync failed).
    pub fn needs_snapshot(&self) -> bool {
        self.log
            .lock()
            .as_ref()
            .is_some_and(LogWriter::needs_snapshot)
    }

    /// Whether a snapshot is due: the log outgrew the last one enough to be worth compacting,
    /// or a failed sync left changes that only a snapshot can make durable.
    pub fn snapshot_due(&self) -> bool {
        let snapshot = *self.snapshot_len.lock();
        self.log
            .lock()
            .as_ref()
            .is_some_and(|w| w.needs_snapshot() || w.len() > MIN_COMPACT_LOG.max(snapshot))
    }

    #[cfg(test)]
    pub(crate) fn fail_next_sync(&self) {
        if let Some(writer) = self.log.lock().as_mut() {
            writer.fail_next_sync();
        }
    }

    /// Writes a snapshot of `store` and starts an empty log after it. The caller keeps writers out.
    pub fn save(&self, store: &Store, stats: &PersistedStats) -> Result<()> {
        let mut guard = self.log.lock();
        let Some(writer) = guard.as_mut() else {
            return Err(Error::ReadOnly {
                path: self.dir.path().to_path_buf(),
            });
        };
        // No log flush first: the snapshot holds every record, and on failure they stay buffered.
        let mut header = self.header.lock();
        *header = write_snapshot(
            &self.dir,
            *header,
            self.matrix_crc,
            writer.last_seq(),
            store,
            stats,
        )?;
        let file = self.dir.open_append(LOG_FILE)?;
        writer.reset(file, log::HEADER_LEN as u64);
        *self.snapshot_len.lock() =
            std::fs::metadata(self.dir.file(SNAPSHOT_FILE)).map_or(0, |m| m.len());
        Ok(())
    }

    pub fn log_removals(&self, ids: &[EntryId], reason: Removal) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        self.log(|w| {
            for &id in ids {
                w.delete(id, reason);
            }
        })
    }
}

impl Drop for Persist {
    fn drop(&mut self) {
        // Best effort: a close that cannot write leaves the last flushed state on disk.
        let _ = self.flush();
    }
}
