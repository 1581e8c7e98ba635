//! Helpers shared by the integration tests.

/// `count` vectors of `dim` numbers in clusters of `per_cluster` around random centres, each
/// coordinate moved by up to `spread`: nearby codes, so lookups hit, miss and tie.
pub fn clustered(
    seed: u64,
    count: usize,
    dim: usize,
    per_cluster: usize,
    spread: f32,
) -> Vec<Vec<f32>> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 2001) as f32 / 1000.0 - 1.0
    };
    let mut out = Vec::new();
    while out.len() < count {
        let base: Vec<f32> = (0..dim).map(|_| next()).collect();
        for _ in 0..per_cluster {
            out.push(base.iter().map(|b| b + spread * next()).collect());
        }
    }
    out.truncate(count);
    out
}
