//! Explicit repair of a damaged cache directory, keeping every entry whose checksums hold.
//!
//! The original files are hard-linked into `damaged-<unix seconds>/` inside the directory, so
//! they are kept byte for byte, never deleted. What can be read is gathered: the snapshot when
//! it passes its checks (its checksums cover whole sections, so a damaged one is lost whole),
//! and every log record whose checksums hold, resyncing past damaged ranges. A fresh snapshot
//! and an empty log then replace the originals, each atomically.

use std::fs::{self, DirBuilder};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::dir::{io_error, CacheDir, LOG_FILE, SNAPSHOT_FILE};
use super::log::{self, LogHeader};
use super::{read_all, snapshot, write_snapshot, Durability, PersistOptions};
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::store::Store;

/// A byte range of a file that held nothing that could be kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostRange {
    pub file: &'static str,
    pub start: u64,
    pub end: u64,
}

/// What [`repair`] found, kept and lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairReport {
    /// The error that made a repair necessary; `None` when the directory opened cleanly and was
    /// left as it was.
    pub damage: Option<String>,
    /// Entries the directory holds now.
    pub entries: usize,
    /// Entries kept from the snapshot.
    pub snapshot_entries: usize,
    /// Log records kept (puts, deletes and clears).
    pub log_records: usize,
    /// Log records lost, counted from the gaps in their sequence numbers.
    pub lost_records: u64,
    pub lost: Vec<LostRange>,
    /// Where the original files were moved.
    pub moved_to: Option<PathBuf>,
}

/// Repairs the cache directory at `path` (see the module docs). Holds the writer's lock
/// throughout, so it fails while another process writes to the directory.
pub fn repair(path: &Path) -> Result<RepairReport> {
    if !path.is_dir() {
        return Err(Error::NoCache {
            path: path.to_path_buf(),
        });
    }
    let dir = CacheDir::open(path, true)?;
    let reader = PersistOptions {
        durability: Durability::Manual,
        read_only: true,
        inherit_max_entries: false,
    };
    let damage = match super::open(path, None, false, 1, reader) {
        Ok(opened) => {
            return Ok(RepairReport {
                damage: None,
                entries: opened.store.len(),
                snapshot_entries: 0,
                log_records: 0,
                lost_records: 0,
                lost: Vec::new(),
                moved_to: None,
            })
        }
        Err(e @ Error::Corrupt { .. }) => e.to_string(),
        Err(e) => return Err(e),
    };

    let snapshot_path = dir.file(SNAPSHOT_FILE);
    let log_path = dir.file(LOG_FILE);
    let whole = |file: &'static str, len: u64| LostRange {
        file,
        start: 0,
        end: len,
    };
    let mut lost = Vec::new();
    let loaded = match dir.open_read(SNAPSHOT_FILE)? {
        Some(file) => snapshot::open(&file, &snapshot_path)
            .inspect_err(|_| {
                let len = file.metadata().map_or(0, |m| m.len());
                lost.push(whole(SNAPSHOT_FILE, len));
            })
            .ok(),
        None => None,
    };
    let log_bytes = read_all(dir.open_read(LOG_FILE)?, &log_path)?;
    let mut log_file = log_bytes.as_ref().and_then(|b| {
        LogHeader::decode(b, &log_path)
            .inspect_err(|_| lost.push(whole(LOG_FILE, b.len() as u64)))
            .ok()
    });
    let shape =
        match (&loaded, &log_file) {
            (Some(l), _) => l.meta.shape,
            (None, Some(f)) => f.header.shape,
            (None, None) => return Err(Error::Corrupt {
                path: path.to_path_buf(),
                offset: 0,
                reason:
                    "neither the snapshot's header nor the log's can be read: nothing to salvage"
                        .into(),
            }),
        };
    if let (Some(f), Some(bytes)) = (log_file, &log_bytes) {
        let s = f.header.shape;
        if (s.dim, s.bits, s.seed) != (shape.dim, shape.bits, shape.seed) {
            lost.push(whole(LOG_FILE, bytes.len() as u64));
            log_file = None;
        }
    }

    let encoder = Encoder::new(shape.dim, shape.bits, shape.seed)?;
    let (words, dim, rescore) = (encoder.words(), shape.dim, shape.rescore);
    let mut store = Store::new(words, dim, rescore);
    store.begin_restore();
    let mut stats = [0u64; 6];
    let mut generations = Vec::new();
    let mut last_seq = 0;
    if let Some(l) = &loaded {
        l.restore_into(&mut store, words, rescore, &snapshot_path)?;
        stats = l.stats;
        generations = l.generations(&snapshot_path)?;
        last_seq = l.meta.last_seq;
    }
    let snapshot_entries = store.len();
    let (mut log_records, mut lost_records) = (0, 0);
    if let (Some(bytes), Some(file)) = (&log_bytes, &log_file) {
        let after = last_seq;
        let salvaged = log::salvage(bytes, file, words, &log_path, |seq, record| {
            if seq > after {
                // A record that no longer fits (its entry was lost) is skipped, not fatal.
                let _ = super::apply(&mut store, &mut stats, record, rescore, dim, &log_path);
            }
        });
        log_records = salvaged.kept;
        lost_records =
            (salvaged.last_seq - file.header.base_seq).saturating_sub(salvaged.kept as u64);
        lost.extend(salvaged.lost.iter().map(|&(start, end)| LostRange {
            file: LOG_FILE,
            start,
            end,
        }));
        last_seq = last_seq.max(salvaged.last_seq);
    }
    store.finish_restore(&generations);

    let moved_to = move_aside(path)?;
    let current = LogHeader {
        shape,
        base_seq: last_seq,
        max_entries: match (&loaded, &log_file) {
            (Some(l), _) => l.meta.max_entries,
            (None, Some(f)) => f.header.max_entries,
            (None, None) => store.len() as u64,
        },
        // The damaged log is not one the new snapshot may be followed by.
        generation: 0,
    };
    write_snapshot(
        &dir,
        current,
        super::matrix_crc(&encoder),
        last_seq,
        &store,
        &stats,
    )?;
    Ok(RepairReport {
        damage: Some(damage),
        entries: store.len(),
        snapshot_entries,
        log_records,
        lost_records,
        lost,
        moved_to: Some(moved_to),
    })
}

/// Hard-links the directory's data files into a new `damaged-<unix seconds>` directory in it.
fn move_aside(path: &Path) -> Result<PathBuf> {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut aside = path.join(format!("damaged-{secs}"));
    let mut n = 1;
    while aside.exists() {
        n += 1;
        aside = path.join(format!("damaged-{secs}-{n}"));
    }
    DirBuilder::new()
        .mode(0o700)
        .create(&aside)
        .map_err(|e| io_error(&aside, e))?;
    for name in [SNAPSHOT_FILE, LOG_FILE] {
        let from = path.join(name);
        if from.exists() {
            fs::hard_link(&from, aside.join(name)).map_err(|e| io_error(&from, e))?;
        }
    }
    fs::File::open(&aside)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error(&aside, e))?;
    Ok(aside)
}
