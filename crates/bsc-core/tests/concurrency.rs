#![allow(clippy::unwrap_used)]
//! Readers and writers at once: no deadlock, no lost counts, the entry bound holds.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bsc_core::{Cache, CacheConfig, Encoder};

#[test]
fn eight_threads_mixed_operations_keep_the_counts() {
    let dim = 32;
    let config = CacheConfig {
        max_entries: 500,
        similarity_threshold: 0.8,
        ttl_seconds: Some(0.5),
        rescore: false,
        ..CacheConfig::default()
    };
    let cache = Arc::new(Cache::new(Encoder::new(dim, 256, 9).unwrap(), config).unwrap());
    let gets = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_millis(1500);
    let handles: Vec<_> = (0..8u64)
        .map(|t| {
            let (cache, gets) = (Arc::clone(&cache), Arc::clone(&gets));
            std::thread::spawn(move || {
                let mut x = t + 1;
                let mut ids = Vec::new();
                while Instant::now() < deadline {
                    x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                    let v: Vec<f32> = (0..dim)
                        .map(|i| (((x >> 33) as usize + i * 7) % 17) as f32 - 8.0)
                        .collect();
                    let partition = ["a", "b"][(x >> 60) as usize % 2];
                    match x % 10 {
                        0..=5 => {
                            cache.get(&v, partition).unwrap();
                            gets.fetch_add(1, Ordering::Relaxed);
                        }
                        6..=8 => ids.push(cache.put(&v, partition, 0, b"payload", None).unwrap()),
                        _ => {
                            if let Some(id) = ids.pop() {
                                cache.delete(id).unwrap();
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = cache.stats();
    assert_eq!(stats.hits + stats.misses, gets.load(Ordering::Relaxed));
    assert!(stats.hits > 0 && stats.misses > 0);
    assert!(stats.entries <= 500);
    assert_eq!(
        stats.inserts,
        stats.entries + stats.evictions + stats.expirations + stats.deletes
    );
}
