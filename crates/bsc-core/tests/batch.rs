#![allow(clippy::unwrap_used)]
//! `get_batch` answers as a loop of `get`s: the same hits, counters, LRU order and evictions,
//! on the flat scan, the index and re-scoring, across blocks of codes and groups of queries.

use std::sync::Arc;

use bsc_core::{Cache, CacheConfig, Encoder, EntryId, IndexMode, ManualClock};
use proptest::prelude::*;

mod common;

const DIM: usize = 16;

/// Clusters of nearby vectors, so some queries hit and some miss.
fn vectors(seed: u64, count: usize) -> Vec<Vec<f32>> {
    common::clustered(seed, count, DIM, 3, 0.3)
}

#[derive(Debug, Clone, Copy)]
struct Setup {
    bits: usize,
    mode: IndexMode,
    rescore: bool,
    threshold: f64,
    max_entries: usize,
}

fn cache(setup: Setup, clock: &ManualClock) -> Cache {
    let config = CacheConfig {
        max_entries: setup.max_entries,
        similarity_threshold: setup.threshold,
        ttl_seconds: None,
        rescore: setup.rescore,
        // Auto and Approx index from 64 entries, so their probes (and Auto's give-up) are tested.
        index_min_entries: 64,
        ..CacheConfig::default()
    };
    let encoder = Encoder::new(DIM, setup.bits, 7).unwrap();
    let cache = Cache::with_clock(encoder, config, Arc::new(clock.clone())).unwrap();
    cache.set_index(setup.mode);
    cache
}

/// Fills two identical caches, then looks the queries up in one by `get_batch` and in the other
/// one at a time, and checks they agree on everything a caller or a later eviction can see.
fn check(setup: Setup, stored: usize, queries: usize, seed: u64) {
    let clock = ManualClock::new(5_000_000);
    let (batched, single) = (cache(setup, &clock), cache(setup, &clock));
    let vecs = vectors(seed, stored + queries);
    let mut ids: Vec<EntryId> = Vec::new();
    for (i, v) in vecs[..stored].iter().enumerate() {
        let part = if i % 5 == 0 { "other" } else { "p" };
        let ttl = (i % 7 == 0).then_some(0.2);
        let id = batched.put(v, part, 0, &i.to_le_bytes(), ttl).unwrap();
        assert_eq!(id, single.put(v, part, 0, &i.to_le_bytes(), ttl).unwrap());
        ids.push(id);
        if i % 11 == 3 {
            let gone = ids[(i * 7919) % ids.len()];
            assert_eq!(batched.delete(gone).unwrap(), single.delete(gone).unwrap());
        }
    }
    clock.advance(300); // the TTL entries have expired but are not yet reclaimed
                        // Stored vectors (hits) and new ones (mostly misses), interleaved.
    let asked: Vec<&Vec<f32>> = vecs.iter().step_by(2).take(queries).collect();
    let flat: Vec<f32> = asked.iter().flat_map(|v| v.iter().copied()).collect();
    let got = batched.get_batch(&flat, "p").unwrap();
    let expected: Vec<_> = asked.iter().map(|v| single.get(v, "p").unwrap()).collect();
    assert_eq!(got, expected);
    let (a, b) = (batched.stats(), single.stats());
    assert_eq!((a.hits, a.misses), (b.hits, b.misses));
    // The hits' LRU touches decide what the next puts evict.
    for v in &vecs[stored..] {
        batched.put(v, "p", 1, b"new", None).unwrap();
        single.put(v, "p", 1, b"new", None).unwrap();
    }
    assert_eq!(batched.entries(), single.entries());
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        prop::sample::select(vec![64usize, 128, 256]),
        prop::sample::select(vec![
            IndexMode::Flat,
            IndexMode::Mih,
            IndexMode::Auto,
            IndexMode::Approx,
        ]),
        any::<bool>(),
        prop::sample::select(vec![0.6, 0.85, 0.91]),
        prop::sample::select(vec![50usize, 700, 2000]),
    )
        .prop_map(|(bits, mode, rescore, threshold, max_entries)| Setup {
            bits,
            mode,
            rescore,
            threshold,
            max_entries,
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn a_batch_answers_as_single_gets(
        setup in setup(),
        stored in 0usize..1500,
        queries in 0usize..200,
        seed in 0u64..1000,
    ) {
        check(setup, stored, queries, seed);
    }
}

fn small_cache(bits: usize, mode: IndexMode) -> Cache {
    let setup = Setup {
        bits,
        mode,
        rescore: false,
        threshold: 0.9,
        max_entries: 10,
    };
    cache(setup, &ManualClock::new(0))
}

#[test]
fn a_batch_of_an_unknown_partition_or_no_rows_is_all_misses() {
    let c = small_cache(128, IndexMode::Auto);
    c.put(&vectors(1, 1)[0], "p", 0, b"x", None).unwrap();
    let rows: Vec<f32> = vectors(1, 3).concat();
    assert_eq!(
        c.get_batch(&rows, "nowhere").unwrap(),
        vec![None, None, None]
    );
    assert!(c.get_batch(&[], "p").unwrap().is_empty());
    assert_eq!(c.stats().misses, 3);
}

#[test]
fn a_batch_that_is_not_whole_rows_is_refused_and_counts_nothing() {
    let c = small_cache(64, IndexMode::Flat);
    let err = c.get_batch(&[0.5; DIM + 3], "p").unwrap_err();
    assert!(err.to_string().contains("16"), "{err}");
    let mut rows = vectors(2, 2).concat();
    rows[DIM + 1] = f32::NAN;
    assert!(c.get_batch(&rows, "p").is_err());
    assert_eq!((c.stats().hits, c.stats().misses), (0, 0));
}
