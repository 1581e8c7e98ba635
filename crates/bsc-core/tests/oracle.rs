#![allow(clippy::unwrap_used)]
//! Lookups, top-k, LRU eviction and TTL checked against a brute-force model over random sequences
//! of operations, driven by a manual clock.

use std::sync::Arc;

use bsc_core::{estimated_cosine, hamming, Cache, CacheConfig, Encoder, EntryId, ManualClock};
use proptest::prelude::*;

mod common;

const DIM: usize = 8;

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
        4 => (0u8..3, 0usize..12, prop::option::of(1u64..400))
            .prop_map(|(part, vec, ttl_ms)| Op::Put { part, vec, ttl_ms }),
        4 => (0u8..3, 0usize..12).prop_map(|(part, vec)| Op::Get { part, vec }),
        2 => (0u8..3, 0usize..12, 1usize..5).prop_map(|(part, vec, k)| Op::Search { part, vec, k }),
        1 => (0usize..64).prop_map(|pick| Op::Delete { pick }),
        1 => prop::option::of(0u8..3).prop_map(|part| Op::Clear { part }),
        2 => (1u64..300).prop_map(|ms| Op::Advance { ms }),
    ]
}

#[derive(Debug, Clone)]
struct ModelEntry {
    id: EntryId,
    part: String,
    code: Vec<u64>,
    payload: Vec<u8>,
    expires: Option<u64>,
    last_use: u64,
}

/// The cache as a list, searched by brute force.
struct Model {
    entries: Vec<ModelEntry>,
    ever: Vec<EntryId>,
    tick: u64,
    max_entries: usize,
    threshold: f64,
    bits: usize,
}

impl Model {
    fn live(&self, now: u64) -> impl Iterator<Item = &ModelEntry> {
        self.entries
            .iter()
            .filter(move |e| e.expires.is_none_or(|t| t > now))
    }

    fn reclaim(&mut self, now: u64) {
        self.entries.retain(|e| e.expires.is_none_or(|t| t > now));
    }

    fn ranked(&self, part: &str, code: &[u64], k: usize, now: u64) -> Vec<(u32, EntryId)> {
        let mut found: Vec<(u32, EntryId)> = self
            .live(now)
            .filter(|e| e.part == part)
            .map(|e| (hamming(&e.code, code), e.id))
            .filter(|(d, _)| estimated_cosine(*d, self.bits) >= self.threshold)
            .collect();
        found.sort();
        found.truncate(k);
        found
    }
}

/// Four clusters of three nearby vectors each, so lookups hit, miss and tie.
fn vectors(seed: u64) -> Vec<Vec<f32>> {
    common::clustered(seed, 12, DIM, 3, 0.3)
}

fn run(ops: Vec<Op>, bits: usize, max_entries: usize, threshold: f64, seed: u64) {
    let clock = ManualClock::new(1_000_000);
    let encoder = Encoder::new(DIM, bits, seed).unwrap();
    let config = CacheConfig {
        max_entries,
        similarity_threshold: threshold,
        ttl_seconds: None,
        rescore: false,
        ..CacheConfig::default()
    };
    let cache = Cache::with_clock(encoder.clone(), config, Arc::new(clock.clone())).unwrap();
    let vecs = vectors(seed);
    let mut model = Model {
        entries: Vec::new(),
        ever: Vec::new(),
        tick: 0,
        max_entries,
        threshold,
        bits,
    };
    let mut serial = 0u32;
    for op in ops {
        let now = clock.now();
        match op {
            Op::Put { part, vec, ttl_ms } => {
                serial += 1;
                let payload = serial.to_le_bytes().to_vec();
                let part = part.to_string();
                let ttl = ttl_ms.map(|ms| ms as f64 / 1000.0);
                let id = cache.put(&vecs[vec], &part, 0, &payload, ttl).unwrap();
                model.reclaim(now);
                if model.entries.len() >= model.max_entries {
                    let lru = (0..model.entries.len())
                        .min_by_key(|&i| model.entries[i].last_use)
                        .unwrap();
                    model.entries.remove(lru);
                }
                model.tick += 1;
                model.entries.push(ModelEntry {
                    id,
                    part,
                    code: encoder.encode(&vecs[vec]).unwrap(),
                    payload,
                    expires: ttl_ms.map(|ms| now + ms),
                    last_use: model.tick,
                });
                model.ever.push(id);
            }
            Op::Get { part, vec } => {
                let part = part.to_string();
                let code = encoder.encode(&vecs[vec]).unwrap();
                let expected = model.ranked(&part, &code, 1, now).first().copied();
                let got = cache.get(&vecs[vec], &part).unwrap();
                assert_eq!(got.as_ref().map(|h| (h.distance, h.id)), expected);
                if let Some(hit) = got {
                    model.tick += 1;
                    let entry = model.entries.iter_mut().find(|e| e.id == hit.id).unwrap();
                    entry.last_use = model.tick;
                    assert_eq!(hit.payload, entry.payload);
                    assert_eq!(hit.similarity, estimated_cosine(hit.distance, bits));
                }
            }
            Op::Search { part, vec, k } => {
                let part = part.to_string();
                let code = encoder.encode(&vecs[vec]).unwrap();
                let expected = model.ranked(&part, &code, k, now);
                let got: Vec<(u32, EntryId)> = cache
                    .search(&vecs[vec], &part, k, None)
                    .unwrap()
                    .iter()
                    .map(|h| (h.distance, h.id))
                    .collect();
                assert_eq!(got, expected);
            }
            Op::Delete { pick } => {
                if model.ever.is_empty() {
                    continue;
                }
                let id = model.ever[pick % model.ever.len()];
                model.reclaim(now);
                let expected = model.entries.iter().position(|e| e.id == id);
                assert_eq!(cache.delete(id).unwrap(), expected.is_some());
                if let Some(i) = expected {
                    model.entries.remove(i);
                }
            }
            Op::Clear { part } => {
                model.reclaim(now);
                let part = part.map(|p| p.to_string());
                let before = model.entries.len();
                model
                    .entries
                    .retain(|e| part.as_ref().is_some_and(|p| &e.part != p));
                assert_eq!(
                    cache.clear(part.as_deref()).unwrap(),
                    before - model.entries.len()
                );
            }
            Op::Advance { ms } => clock.advance(ms),
        }
        // The live entries, in LRU order, are the model's.
        let now = clock.now();
        let held: Vec<EntryId> = cache
            .entries()
            .into_iter()
            .filter(|e| e.expires_ms.is_none_or(|t| t > now))
            .map(|e| e.id)
            .collect();
        let mut expected: Vec<&ModelEntry> = model.live(now).collect();
        expected.sort_by_key(|e| e.last_use);
        assert_eq!(held, expected.iter().map(|e| e.id).collect::<Vec<_>>());
        assert!(cache.len() <= max_entries);
    }
}

trait Now {
    fn now(&self) -> u64;
}

impl Now for ManualClock {
    fn now(&self) -> u64 {
        bsc_core::Clock::now_ms(self)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn matches_brute_force(
        ops in prop::collection::vec(op(), 0..80),
        bits in prop::sample::select(vec![64usize, 128, 192]),
        max_entries in 1usize..8,
        threshold in prop::sample::select(vec![0.0, 0.5, 0.7, 0.9, 1.0]),
        seed in 0u64..1000,
    ) {
        run(ops, bits, max_entries, threshold, seed);
    }
}

#[test]
fn empty_cache_and_all_expired_return_nothing() {
    let clock = ManualClock::new(0);
    let cache = Cache::with_clock(
        Encoder::new(DIM, 64, 1).unwrap(),
        CacheConfig::default(),
        Arc::new(clock.clone()),
    )
    .unwrap();
    let v = vec![0.5; DIM];
    assert!(cache.get(&v, "").unwrap().is_none());
    assert!(cache.search(&v, "", 3, Some(0.0)).unwrap().is_empty());
    for _ in 0..3 {
        cache.put(&v, "", 0, b"x", Some(1.0)).unwrap();
    }
    clock.advance(1000);
    assert!(cache.get(&v, "").unwrap().is_none());
    assert!(cache.search(&v, "", 3, Some(0.0)).unwrap().is_empty());
    // The next write reclaims the expired slots.
    cache.put(&v, "other", 0, b"y", None).unwrap();
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats().expirations, 3);
}

#[test]
fn many_hits_without_a_write_keep_the_lru_order_exact() {
    // More hits than the touch queue holds: lookups apply the queue themselves.
    let config = CacheConfig {
        max_entries: 3,
        similarity_threshold: 0.99,
        ..CacheConfig::default()
    };
    let cache = Cache::new(Encoder::new(DIM, 64, 1).unwrap(), config).unwrap();
    let vecs = vectors(7);
    let ids: Vec<EntryId> = [0, 3, 6]
        .iter()
        .map(|&i| cache.put(&vecs[i], "", 0, b"x", None).unwrap())
        .collect();
    for _ in 0..10_000 {
        assert!(cache.get(&vecs[0], "").unwrap().is_some());
    }
    assert!(cache.get(&vecs[6], "").unwrap().is_some());
    cache.put(&vecs[9], "", 0, b"new", None).unwrap();
    let held: Vec<EntryId> = cache.entries().iter().map(|e| e.id).collect();
    assert_eq!(
        &held[..2],
        &[ids[0], ids[2]],
        "entry 3 was the least recently used"
    );
    assert_eq!(cache.stats().hits, 10_001);
}
