#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Persistence: round trips, locking, permissions, encoder checks, and damaged files.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bsc_core::{
    Cache, CacheConfig, Durability, Encoder, EntryInfo, Error, ManualClock, PersistOptions,
};

const DIM: usize = 16;

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bsc-persist-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn vector(i: usize) -> Vec<f32> {
    (0..DIM)
        .map(|d| (((i * 7919 + d * 104_729) % 1000) as f32 / 500.0) - 1.0)
        .collect()
}

fn config(rescore: bool) -> CacheConfig {
    CacheConfig {
        max_entries: 100,
        similarity_threshold: 0.95,
        ttl_seconds: None,
        rescore,
        ..CacheConfig::default()
    }
}

fn manual() -> PersistOptions {
    PersistOptions {
        durability: Durability::Manual,
        read_only: false,
        inherit_max_entries: false,
    }
}

fn read_only() -> PersistOptions {
    PersistOptions {
        durability: Durability::Manual,
        read_only: true,
        inherit_max_entries: false,
    }
}

fn open(path: &Path, clock: &ManualClock, rescore: bool) -> bsc_core::Result<Cache> {
    Cache::open_with_clock(
        path,
        Some(Encoder::new(DIM, 128, 9).unwrap()),
        config(rescore),
        manual(),
        Arc::new(clock.clone()),
    )
}

/// A cache with three partitions, TTLs, hits, a delete and an eviction.
fn fill(cache: &Cache, clock: &ManualClock) {
    for i in 0..30 {
        let ttl = (i % 3 == 0).then_some(1000.0);
        cache
            .put(
                &vector(i),
                &format!("p{}", i % 3),
                (i % 3) as u8,
                format!("payload {i}").as_bytes(),
                ttl,
            )
            .unwrap();
        clock.advance(10);
    }
    for i in [4, 1, 7] {
        assert!(cache
            .get(&vector(i), &format!("p{}", i % 3))
            .unwrap()
            .is_some());
    }
    let victim = cache.entries()[5].id;
    assert!(cache.delete(victim).unwrap());
}

fn snapshot_of(cache: &Cache) -> Vec<EntryInfo> {
    cache.entries()
}

#[test]
fn everything_survives_save_and_reopen() {
    for rescore in [false, true] {
        let path = tempdir(&format!("roundtrip-{rescore}"));
        let clock = ManualClock::new(1_700_000_000_000);
        let (before, stats) = {
            let cache = open(&path, &clock, rescore).unwrap();
            fill(&cache, &clock);
            cache.save().unwrap();
            (snapshot_of(&cache), cache.stats())
        };
        let cache = open(&path, &clock, rescore).unwrap();
        assert_eq!(
            snapshot_of(&cache),
            before,
            "entries, codes, payloads, TTLs, hits, LRU order"
        );
        let after = cache.stats();
        assert_eq!(
            (
                after.hits,
                after.misses,
                after.inserts,
                after.deletes,
                after.entries
            ),
            (
                stats.hits,
                stats.misses,
                stats.inserts,
                stats.deletes,
                stats.entries
            )
        );
        // Lookups work on the reopened cache, rescoring included.
        let hit = cache.get(&vector(2), "p2").unwrap().unwrap();
        assert_eq!(hit.payload, b"payload 2");
        if rescore {
            assert!(hit.similarity > 0.99);
        }
        fs::remove_dir_all(&path).unwrap();
    }
}

#[test]
fn the_log_alone_restores_every_flushed_change() {
    let path = tempdir("log-only");
    let clock = ManualClock::new(1_700_000_000_000);
    let before: Vec<(u64, Vec<u8>)> = {
        let cache = open(&path, &clock, false).unwrap();
        fill(&cache, &clock);
        cache.clear(Some("p1")).unwrap();
        cache.flush().unwrap();
        let mut ids: Vec<_> = cache
            .entries()
            .into_iter()
            .map(|e| (e.id, e.payload))
            .collect();
        ids.sort();
        ids
    };
    let cache = open(&path, &clock, false).unwrap();
    let mut after: Vec<_> = cache
        .entries()
        .into_iter()
        .map(|e| (e.id, e.payload))
        .collect();
    after.sort();
    assert_eq!(after, before);
    // New ids never repeat the ids of earlier entries.
    let id = cache.put(&vector(99), "p1", 0, b"new", None).unwrap();
    assert!(before.iter().all(|(old, _)| *old != id));
    fs::remove_dir_all(&path).unwrap();
}

#[test]
fn ttl_keeps_running_across_a_reopen() {
    let path = tempdir("ttl");
    let clock = ManualClock::new(1_700_000_000_000);
    {
        let cache = open(&path, &clock, false).unwrap();
        cache.put(&vector(1), "", 0, b"short", Some(1.0)).unwrap();
        cache.put(&vector(2), "", 0, b"long", None).unwrap();
        cache.save().unwrap();
    }
    clock.advance(1500);
    let cache = open(&path, &clock, false).unwrap();
    assert!(cache.get(&vector(1), "").unwrap().is_none());
    assert!(cache.get(&vector(2), "").unwrap().is_some());
    fs::remove_dir_all(&path).unwrap();
}

#[test]
fn one_writer_many_readers() {
    let path = tempdir("lock");
    let clock = ManualClock::new(0);
    let writer = open(&path, &clock, false).unwrap();
    writer.put(&vector(1), "", 0, b"x", None).unwrap();
    writer.flush().unwrap();
    match open(&path, &clock, false) {
        Err(Error::Io { source, .. }) => {
            assert_eq!(source.kind(), std::io::ErrorKind::WouldBlock);
            assert!(source.to_string().contains("already open for writing"));
        }
        other => panic!("second writer: {other:?}"),
    }
    let reader = Cache::open(&path, None, config(false), read_only()).unwrap();
    assert_eq!(reader.len(), 1);
    assert!(matches!(
        reader.put(&vector(2), "", 0, b"y", None),
        Err(Error::ReadOnly { .. })
    ));
    drop(writer);
    assert!(
        open(&path, &clock, false).is_ok(),
        "the lock goes with the writer"
    );
    fs::remove_dir_all(&path).unwrap();
}

#[test]
fn files_are_private_and_symlinks_refused() {
    let path = tempdir("perms");
    let clock = ManualClock::new(0);
    let cache = open(&path, &clock, false).unwrap();
    cache.put(&vector(1), "", 0, b"x", None).unwrap();
    cache.save().unwrap();
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for entry in fs::read_dir(&path).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    drop(cache);
    let link = tempdir("perms-link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert!(matches!(open(&link, &clock, false), Err(Error::Io { .. })));
    fs::remove_file(&link).unwrap();
    fs::remove_dir_all(&path).unwrap();
}

#[test]
fn a_different_encoder_is_refused() {
    let path = tempdir("encoder");
    let clock = ManualClock::new(0);
    {
        let cache = open(&path, &clock, false).unwrap();
        cache.put(&vector(1), "", 0, b"x", None).unwrap();
    }
    for (dim, bits, seed) in [(DIM + 1, 128, 9), (DIM, 256, 9), (DIM, 128, 10)] {
        let other = Encoder::new(dim, bits, seed).unwrap();
        match Cache::open(&path, Some(other), config(false), read_only()) {
            Err(e @ Error::EncoderMismatch { .. }) => {
                assert!(e
                    .to_string()
                    .contains("embedding_dim=16, code_bits=128, seed=9"))
            }
            other => panic!("{dim} {bits} {seed}: {other:?}"),
        }
    }
    // Without an encoder the stored one is used.
    let cache = Cache::open(&path, None, config(false), read_only()).unwrap();
    assert_eq!((cache.encoder().dim(), cache.encoder().bits()), (DIM, 128));
    let empty = tempdir("encoder-empty");
    assert!(matches!(
        Cache::open(&empty, None, config(false), manual()),
        Err(Error::NoCache { .. })
    ));
    let _ = fs::remove_dir_all(&empty);
    fs::remove_dir_all(&path).unwrap();
}

/// A small cache directory with a snapshot and a log after it.
fn small_cache(path: &Path) -> (Vec<EntryInfo>, Vec<Vec<EntryInfo>>) {
    let clock = ManualClock::new(1_700_000_000_000);
    let cache = open(path, &clock, false).unwrap();
    for i in 0..4 {
        cache
            .put(&vector(i), "a", 0, format!("snap {i}").as_bytes(), None)
            .unwrap();
    }
    cache.save().unwrap();
    let saved = snapshot_of(&cache);
    // Every prefix of the log is a state the cache was in.
    let mut states = vec![sorted(saved.clone())];
    for i in 4..7 {
        cache
            .put(
                &vector(i),
                "b",
                1,
                format!("log {i}").as_bytes(),
                Some(5000.0),
            )
            .unwrap();
        states.push(sorted(snapshot_of(&cache)));
    }
    cache.flush().unwrap();
    (saved, states)
}

fn sorted(mut entries: Vec<EntryInfo>) -> Vec<EntryInfo> {
    entries.sort_by_key(|e| e.id);
    for e in &mut entries {
        e.hits = 0;
        e.last_access_s = 0;
    }
    entries
}

fn try_open(path: &Path) -> std::thread::Result<bsc_core::Result<Vec<EntryInfo>>> {
    let path = path.to_path_buf();
    std::panic::catch_unwind(move || {
        Cache::open(&path, None, config(false), read_only()).map(|c| sorted(c.entries()))
    })
}

/// Flipping any byte or cutting the file at any offset gives an error or an earlier state,
/// never a panic and never wrong data.
#[test]
fn damage_is_detected_never_served() {
    let path = tempdir("damage");
    let (_, states) = small_cache(&path);
    for file in ["snapshot.bsc", "log.bsc"] {
        let target = path.join(file);
        let original = fs::read(&target).unwrap();
        for offset in 0..original.len() {
            for damage in 0..2 {
                let mut bytes = original.clone();
                if damage == 0 {
                    bytes[offset] ^= 0x5A;
                } else {
                    bytes.truncate(offset);
                }
                fs::write(&target, &bytes).unwrap();
                match try_open(&path) {
                    Err(_) => panic!("{file}: panic at offset {offset} (damage {damage})"),
                    Ok(Err(Error::Corrupt { .. } | Error::UnsupportedFormat { .. })) => {}
                    Ok(Err(e)) => panic!("{file} offset {offset}: unexpected error {e}"),
                    Ok(Ok(entries)) => assert!(
                        states.contains(&entries),
                        "{file} offset {offset} damage {damage}: served a state that never was"
                    ),
                }
            }
        }
        fs::write(&target, &original).unwrap();
    }
    fs::remove_dir_all(&path).unwrap();
}

#[test]
fn a_failed_open_leaves_the_directory_as_it_was() {
    let path = tempdir("untouched");
    small_cache(&path);
    let snapshot = path.join("snapshot.bsc");
    let mut bytes = fs::read(&snapshot).unwrap();
    bytes[100] ^= 1;
    fs::write(&snapshot, &bytes).unwrap();
    let before: Vec<_> = ["snapshot.bsc", "log.bsc"]
        .iter()
        .map(|f| fs::read(path.join(f)).unwrap())
        .collect();
    let clock = ManualClock::new(0);
    assert!(matches!(
        open(&path, &clock, false),
        Err(Error::Corrupt { .. })
    ));
    let after: Vec<_> = ["snapshot.bsc", "log.bsc"]
        .iter()
        .map(|f| fs::read(path.join(f)).unwrap())
        .collect();
    assert_eq!(before, after);
    fs::remove_dir_all(&path).unwrap();
}

#[test]
fn a_newer_format_is_refused_by_name() {
    let path = tempdir("newer");
    small_cache(&path);
    let snapshot = path.join("snapshot.bsc");
    let mut bytes = fs::read(&snapshot).unwrap();
    bytes[8..12].copy_from_slice(&99u32.to_le_bytes());
    fs::write(&snapshot, &bytes).unwrap();
    match Cache::open(&path, None, config(false), read_only()) {
        Err(e @ Error::UnsupportedFormat { found: 99, .. }) => {
            assert!(e.to_string().contains("snapshot.bsc"))
        }
        other => panic!("{other:?}"),
    }
    fs::remove_dir_all(&path).unwrap();
}

#[test]
fn a_torn_log_tail_is_dropped_and_writing_resumes() {
    let path = tempdir("torn");
    let (_, states) = small_cache(&path);
    let log = path.join("log.bsc");
    let acknowledged = fs::read(&log).unwrap();
    let clock = ManualClock::new(1_700_000_001_000);
    {
        let cache = open(&path, &clock, false).unwrap();
        cache.put(&vector(40), "c", 0, b"torn", None).unwrap();
    }
    // A crash while writing that record, before its flush returned: part of it is on disk, and
    // the acknowledged-length mark still ends before it.
    let grown = fs::read(&log).unwrap();
    let mut torn = acknowledged.clone();
    torn.extend_from_slice(&grown[acknowledged.len()..grown.len() - 3]);
    fs::write(&log, &torn).unwrap();
    {
        let cache = open(&path, &clock, false).unwrap();
        assert_eq!(sorted(cache.entries()), states[3]);
        cache
            .put(&vector(50), "c", 0, b"after the tear", None)
            .unwrap();
        cache.flush().unwrap();
    }
    let cache = open(&path, &clock, false).unwrap();
    assert_eq!(cache.len(), states[3].len() + 1);
    assert_eq!(
        cache.get(&vector(50), "c").unwrap().unwrap().payload,
        b"after the tear"
    );
    fs::remove_dir_all(&path).unwrap();
}

#[test]
fn long_runs_of_writes_leave_memory_for_the_log_file_and_all_survive() {
    let path = tempdir("spill");
    let clock = ManualClock::new(1_700_000_000_000);
    let cache = open(&path, &clock, false).unwrap();
    let log_len = || fs::metadata(path.join("log.bsc")).unwrap().len();
    let put_run = |from: usize| {
        for i in from..from + 1500 {
            let payload = format!("{i:>1000}"); // ~1.5 MB of records per run
            cache
                .put(&vector(i), "p", 0, payload.as_bytes(), None)
                .unwrap();
        }
    };
    put_run(0);
    // Manual durability and no flush yet: past 1 MiB the records were written out.
    assert!(log_len() > 1 << 20, "log holds {} bytes", log_len());
    cache.flush().unwrap();
    put_run(1500);
    // A save takes in both the written-out and the buffered records.
    cache.save().unwrap();
    put_run(3000);
    cache.flush().unwrap();
    let before = sorted(snapshot_of(&cache));
    drop(cache);
    let reopened = open(&path, &clock, false).unwrap();
    assert_eq!(sorted(snapshot_of(&reopened)), before);
    assert_eq!(before.len(), 100);
    fs::remove_dir_all(&path).unwrap();
}

/// A record's damaged length, with intact records after it, is corruption naming the file,
/// offset and record, not a torn tail; a writer's open then changes nothing.
#[test]
fn a_damaged_length_in_the_middle_of_the_log_is_refused_by_record() {
    let path = tempdir("mid-log");
    small_cache(&path);
    let log = path.join("log.bsc");
    let mut bytes = fs::read(&log).unwrap();
    let first_len = u32::from_le_bytes(bytes[80..84].try_into().unwrap()) as usize;
    let second = 80 + 12 + first_len;
    bytes[second + 3] ^= 0x01; // the high byte of record 2's length
    fs::write(&log, &bytes).unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    match open(&path, &clock, false) {
        Err(e @ Error::Corrupt { offset, .. }) => {
            assert_eq!(offset, second as u64);
            let message = e.to_string();
            assert!(
                message.contains("log.bsc") && message.contains("record 2"),
                "{message}"
            );
        }
        other => panic!("expected Corrupt, got {:?}", other.map(|c| c.len())),
    }
    assert_eq!(fs::read(&log).unwrap(), bytes);
    fs::remove_dir_all(&path).unwrap();
}

/// The snapshot names the log that follows it: without it, or with another, nothing opens.
#[test]
fn a_missing_or_foreign_log_and_bytes_after_the_snapshot_are_refused() {
    let path = tempdir("link");
    let other = tempdir("link-other");
    small_cache(&path);
    small_cache(&other);
    let clock = ManualClock::new(1_700_000_000_000);
    let log = path.join("log.bsc");
    let original = fs::read(&log).unwrap();
    fs::copy(other.join("log.bsc"), &log).unwrap();
    let foreign = open(&path, &clock, false).map(|c| c.len());
    assert!(
        matches!(&foreign, Err(Error::Corrupt { reason, .. }) if reason.contains("generation")),
        "{foreign:?}"
    );
    fs::remove_file(&log).unwrap();
    let missing = open(&path, &clock, false).map(|c| c.len());
    assert!(
        matches!(&missing, Err(Error::Corrupt { reason, .. }) if reason.contains("missing")),
        "{missing:?}"
    );
    fs::write(&log, &original).unwrap();
    let snapshot = path.join("snapshot.bsc");
    let mut bytes = fs::read(&snapshot).unwrap();
    bytes.extend_from_slice(b"trailing");
    fs::write(&snapshot, &bytes).unwrap();
    assert!(matches!(
        open(&path, &clock, false),
        Err(Error::Corrupt { .. })
    ));
    fs::remove_dir_all(&path).unwrap();
    fs::remove_dir_all(&other).unwrap();
}
