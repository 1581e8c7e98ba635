#![allow(clippy::unwrap_used)]
//! With re-scoring on, the threshold applies to the cosine of the stored vectors.

use bsc_core::{Cache, CacheConfig, Encoder};

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    f64::from(dot / (na * nb))
}

#[test]
fn rescored_similarity_is_close_to_the_float_cosine_and_decides_the_hit() {
    let dim = 64;
    let base: Vec<f32> = (0..dim)
        .map(|i| ((i * 31 % 17) as f32 - 8.0) / 8.0)
        .collect();
    let near: Vec<f32> = base
        .iter()
        .enumerate()
        .map(|(i, b)| b + 0.25 * ((i % 5) as f32 - 2.0))
        .collect();
    let true_cos = cosine(&base, &near);
    for (threshold, should_hit) in [(true_cos - 0.02, true), (true_cos + 0.02, false)] {
        let config = CacheConfig {
            similarity_threshold: threshold,
            rescore: true,
            ..CacheConfig::default()
        };
        let cache = Cache::new(Encoder::new(dim, 256, 5).unwrap(), config).unwrap();
        cache.put(&base, "", 0, b"stored", None).unwrap();
        let hit = cache.get(&near, "").unwrap();
        assert_eq!(
            hit.is_some(),
            should_hit,
            "threshold {threshold}, cosine {true_cos}"
        );
        if let Some(hit) = hit {
            assert!(
                (hit.similarity - true_cos).abs() < 0.01,
                "{} vs {true_cos}",
                hit.similarity
            );
        }
    }
}
