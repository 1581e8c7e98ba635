#![allow(clippy::unwrap_used)]
//! The multi-index-hashing index answers exactly as the flat scan: after random sequences of
//! puts, deletes, LRU evictions, TTL expiry and clears, two caches (one forced onto the index,
//! one flat) return the same best entries, top-k lists and ids.

use std::sync::Arc;

use bsc_core::{Cache, CacheConfig, Encoder, EntryId, Hit, IndexMode, ManualClock};
use proptest::prelude::*;

mod common;

const DIM: usize = 16;
const VECTORS: usize = 48;

#[derive(Debug, Clone)]
enum Op {
    Put {
        part: u8,
        vec: usize,
        ttl_ms: Option<u64>,
    },
    Get {
        part: u8,
        vec: usize,
    },
    Search {
        part: u8,
        vec: usize,
        k: usize,
        min_similarity: Option<f64>,
    },
    Delete {
        pick: usize,
    },
    Clear {
        part: Option<u8>,
    },
    Advance {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..2, 0..VECTORS, prop::option::of(1u64..400))
            .prop_map(|(part, vec, ttl_ms)| Op::Put { part, vec, ttl_ms }),
        4 => (0u8..2, 0..VECTORS).prop_map(|(part, vec)| Op::Get { part, vec }),
        2 => (0u8..2, 0..VECTORS, 1usize..6, prop::option::of(prop::sample::select(vec![0.6, 0.8, 0.95])))
            .prop_map(|(part, vec, k, min_similarity)| Op::Search { part, vec, k, min_similarity }),
        2 => (0usize..256).prop_map(|pick| Op::Delete { pick }),
        1 => prop::option::of(0u8..2).prop_map(|part| Op::Clear { part }),
        2 => (1u64..300).prop_map(|ms| Op::Advance { ms }),
    ]
}

/// Clusters of nearby vectors, so codes share blocks and lie within the radius of each other.
fn vectors(seed: u64, count: usize) -> Vec<Vec<f32>> {
    common::clustered(seed, count, DIM, 4, 0.25)
}

/// A cache searched by `mode` (`Auto` indexes from one entry, so it may give up for the scan)
/// and a flat one, on one clock.
fn pair(
    mode: IndexMode,
    bits: usize,
    max_entries: usize,
    threshold: f64,
    seed: u64,
) -> (Cache, Cache, ManualClock) {
    let clock = ManualClock::new(1_000_000);
    let encoder = Encoder::new(DIM, bits, seed).unwrap();
    let config = CacheConfig {
        max_entries,
        similarity_threshold: threshold,
        ttl_seconds: None,
        rescore: false,
        index_min_entries: 1,
        ..CacheConfig::default()
    };
    let make = |mode| {
        let cache = Cache::with_clock(encoder.clone(), config.clone(), Arc::new(clock.clone()));
        let cache = cache.unwrap();
        cache.set_index(mode);
        cache
    };
    (make(mode), make(IndexMode::Flat), clock)
}

fn key(hits: &[Hit]) -> Vec<(EntryId, u32)> {
    hits.iter().map(|h| (h.id, h.distance)).collect()
}

fn run(ops: Vec<Op>, mode: IndexMode, bits: usize, max_entries: usize, threshold: f64, seed: u64) {
    let (mih, flat, clock) = pair(mode, bits, max_entries, threshold, seed);
    let vecs = vectors(seed, VECTORS);
    let mut ids: Vec<EntryId> = Vec::new();
    for op in ops {
        match op {
            Op::Put { part, vec, ttl_ms } => {
                let ttl = ttl_ms.map(|ms| ms as f64 / 1000.0);
                let part = part.to_string();
                let a = mih.put(&vecs[vec], &part, 0, b"x", ttl).unwrap();
                let b = flat.put(&vecs[vec], &part, 0, b"x", ttl).unwrap();
                assert_eq!(a, b);
                ids.push(a);
            }
            Op::Get { part, vec } => {
                let part = part.to_string();
                let a = mih.get(&vecs[vec], &part).unwrap();
                let b = flat.get(&vecs[vec], &part).unwrap();
                assert_eq!(a, b);
            }
            Op::Search {
                part,
                vec,
                k,
                min_similarity,
            } => {
                let part = part.to_string();
                let a = mih.search(&vecs[vec], &part, k, min_similarity).unwrap();
                let b = flat.search(&vecs[vec], &part, k, min_similarity).unwrap();
                assert_eq!(key(&a), key(&b));
            }
            Op::Delete { pick } => {
                if let Some(&id) = ids.get(pick % ids.len().max(1)) {
                    assert_eq!(mih.delete(id).unwrap(), flat.delete(id).unwrap());
                }
            }
            Op::Clear { part } => {
                let part = part.map(|p| p.to_string());
                assert_eq!(
                    mih.clear(part.as_deref()).unwrap(),
                    flat.clear(part.as_deref()).unwrap()
                );
            }
            Op::Advance { ms } => clock.advance(ms),
        }
        let held = |c: &Cache| c.entries().iter().map(|e| e.id).collect::<Vec<_>>();
        assert_eq!(held(&mih), held(&flat));
        for part in ["0", "1"] {
            assert_eq!(mih.has_partition(part), mih.index_tables(part) > 0);
            assert_eq!(flat.index_tables(part), 0);
        }
    }
    // Every stored vector, as a query, finds the same entries in both.
    for v in &vecs {
        for part in ["0", "1"] {
            let a = mih.search(v, part, 3, Some(0.5)).unwrap();
            assert_eq!(key(&a), key(&flat.search(v, part, 3, Some(0.5)).unwrap()));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn the_index_answers_as_the_flat_scan(
        ops in prop::collection::vec(op(), 0..120),
        mode in prop::sample::select(vec![IndexMode::Mih, IndexMode::Auto]),
        bits in prop::sample::select(vec![64usize, 128, 256]),
        max_entries in 1usize..40,
        threshold in prop::sample::select(vec![0.5, 0.8, 0.91, 0.97]),
        seed in 0u64..1000,
    ) {
        run(ops, mode, bits, max_entries, threshold, seed);
    }
}

#[test]
fn growth_rebuilds_and_shrinking_keep_answers_exact() {
    // Enough entries to outgrow the first tables, spill and rebuild, then evict and delete.
    let (mih, flat, clock) = pair(IndexMode::Mih, 256, 6000, 0.91, 3);
    let vecs = vectors(11, 4000);
    let mut ids = Vec::new();
    for round in 0..3 {
        for (i, v) in vecs.iter().enumerate() {
            let ttl = (i % 7 == 0).then_some(0.5);
            let a = mih.put(v, "p", 0, b"x", ttl).unwrap();
            assert_eq!(a, flat.put(v, "p", 0, b"x", ttl).unwrap());
            ids.push(a);
            if i % 5 == round {
                let id = ids[(i * 7919) % ids.len()];
                assert_eq!(mih.delete(id).unwrap(), flat.delete(id).unwrap());
            }
            if i % 97 == 0 {
                clock.advance(200);
                for q in vecs.iter().step_by(331) {
                    assert_eq!(mih.get(q, "p").unwrap(), flat.get(q, "p").unwrap());
                    let a = mih.search(q, "p", 4, Some(0.7)).unwrap();
                    assert_eq!(key(&a), key(&flat.search(q, "p", 4, Some(0.7)).unwrap()));
                }
            }
        }
        assert!(mih.index_tables("p") > 0);
    }
    assert_eq!(mih.len(), flat.len());
}

#[test]
fn auto_indexes_large_partitions_only_and_flat_none() {
    let encoder = Encoder::new(DIM, 256, 1).unwrap();
    let config = CacheConfig {
        index_min_entries: 4096,
        ..CacheConfig::default()
    };
    let cache = Cache::new(encoder, config).unwrap();
    assert_eq!(cache.index_mode(), IndexMode::Auto);
    let vecs = vectors(5, 4097);
    for v in &vecs[..100] {
        cache.put(v, "small", 0, b"x", None).unwrap();
    }
    for v in &vecs {
        cache.put(v, "large", 0, b"x", None).unwrap();
    }
    assert_eq!(cache.index_tables("small"), 0);
    assert!(cache.index_tables("large") > 0);
    cache.set_index(IndexMode::Flat);
    assert_eq!(cache.index_tables("large"), 0);
    cache.set_index(IndexMode::Mih);
    assert!(cache.index_tables("small") > 0);
}

/// `Approx` against the flat scan on twin caches (lookups only through `search`, which leaves
/// the LRU alone, so the twins hold the same entries): it finds no more than the scan, never a
/// code nearer than the scan's, and every code the pigeonhole guarantees it, those within
/// `2m - 1` bits (one of the `m` blocks then differs by at most one bit).
fn run_approx(ops: Vec<Op>, bits: usize, threshold: f64, seed: u64) -> usize {
    let (approx, flat, clock) = pair(IndexMode::Approx, bits, 40, threshold, seed);
    let vecs = vectors(seed, VECTORS);
    let mut ids: Vec<EntryId> = Vec::new();
    let mut guaranteed = 0;
    for op in ops {
        match op {
            Op::Put { part, vec, ttl_ms } => {
                let ttl = ttl_ms.map(|ms| ms as f64 / 1000.0);
                let part = part.to_string();
                let a = approx.put(&vecs[vec], &part, 0, b"x", ttl).unwrap();
                assert_eq!(a, flat.put(&vecs[vec], &part, 0, b"x", ttl).unwrap());
                ids.push(a);
            }
            Op::Get { part, vec } | Op::Search { part, vec, .. } => {
                let part = part.to_string();
                let (k, min_similarity) = match op {
                    Op::Search {
                        k, min_similarity, ..
                    } => (k, min_similarity),
                    _ => (1, None),
                };
                let a = approx.search(&vecs[vec], &part, k, min_similarity).unwrap();
                let b = flat.search(&vecs[vec], &part, k, min_similarity).unwrap();
                assert!(a.len() <= b.len());
                for (found, nearest) in a.iter().zip(&b) {
                    assert!(found.distance >= nearest.distance);
                }
                let m = approx.index_tables(&part) as u32;
                let near = |hits: &[Hit]| -> Vec<(EntryId, u32)> {
                    hits.iter()
                        .take_while(|h| h.distance < 2 * m)
                        .map(|h| (h.id, h.distance))
                        .collect()
                };
                assert_eq!(near(&a), near(&b));
                guaranteed += near(&b).len();
            }
            Op::Delete { pick } => {
                if let Some(&id) = ids.get(pick % ids.len().max(1)) {
                    assert_eq!(approx.delete(id).unwrap(), flat.delete(id).unwrap());
                }
            }
            Op::Clear { part } => {
                let part = part.map(|p| p.to_string());
                assert_eq!(
                    approx.clear(part.as_deref()).unwrap(),
                    flat.clear(part.as_deref()).unwrap()
                );
            }
            Op::Advance { ms } => clock.advance(ms),
        }
    }
    guaranteed
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn approx_finds_a_part_of_the_scan_and_all_it_guarantees(
        ops in prop::collection::vec(op(), 0..120),
        bits in prop::sample::select(vec![64usize, 128, 256]),
        threshold in prop::sample::select(vec![0.5, 0.8, 0.91, 0.97]),
        seed in 0u64..1000,
    ) {
        run_approx(ops, bits, threshold, seed);
    }
}

#[test]
fn approx_is_tested_on_codes_it_must_find() {
    // The property above would pass vacuously if no lookup met a guaranteed code.
    let ops: Vec<Op> = (0..VECTORS)
        .map(|vec| Op::Put {
            part: 0,
            vec,
            ttl_ms: None,
        })
        .chain((0..VECTORS).map(|vec| Op::Get { part: 0, vec }))
        .collect();
    // 40 of the 48 stay (the twins hold 40), and each finds itself at distance 0.
    assert!(run_approx(ops, 256, 0.91, 7) >= 40);
}
