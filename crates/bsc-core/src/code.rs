//! Binary codes and Hamming-distance scans.
//!
//! Codes are `words` little `u64` words; bit `i` of a code lives in word `i / 64`. A partition keeps
//! its codes bit-sliced ([`Planes`]): plane `w` holds word `w` of every code. A scan reads the first
//! two planes in full (a tight loop the compiler vectorises) and the remaining words only for the few
//! codes still within the bound, so a search reads about half the bytes a row layout would.
//!
//! The popcount instruction set is chosen at run time ([`Kernel::detect`]), so a portable build
//! still uses POPCNT, AVX2 or AVX-512 VPOPCNTDQ where the CPU has them. Every kernel computes
//! the same distances; tests check them against each other.

use std::ops::Range;
use std::sync::OnceLock;

/// A code's number of `u64` words for a bit width (a positive multiple of 64).
pub const fn words_for_bits(bits: usize) -> usize {
    bits / 64
}

/// Hamming distance between two codes of equal width.
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Estimated cosine similarity for a Hamming distance: cos(pi * d / bits).
pub fn estimated_cosine(distance: u32, bits: usize) -> f64 {
    (std::f64::consts::PI * f64::from(distance) / bits as f64).cos()
}

/// The largest distance whose estimated cosine is at least `threshold`.
pub fn max_distance_for(threshold: f64, bits: usize) -> u32 {
    let bits_u32 = u32::try_from(bits).unwrap_or(u32::MAX);
    // acos gives the exact boundary up to rounding; step to the last distance that passes.
    let guess = (threshold.clamp(-1.0, 1.0).acos() / std::f64::consts::PI * bits as f64) as u32;
    let mut d = guess.min(bits_u32);
    while d > 0 && estimated_cosine(d, bits) < threshold {
        d -= 1;
    }
    while d < bits_u32 && estimated_cosine(d + 1, bits) >= threshold {
        d += 1;
    }
    d
}

/// Codes stored bit-sliced, one vector per word position.
#[derive(Debug, Clone, Default)]
pub struct Planes {
    planes: Vec<Vec<u64>>,
}

impl Planes {
    pub fn new(words: usize) -> Self {
        Self {
            planes: vec![Vec::new(); words],
        }
    }

    pub fn words(&self) -> usize {
        self.planes.len()
    }

    pub fn len(&self) -> usize {
        self.planes.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a code of exactly `words()` words.
    pub fn push(&mut self, code: &[u64]) {
        for (plane, &word) in self.planes.iter_mut().zip(code) {
            plane.push(word);
        }
    }

    /// Removes the code at `pos`, moving the last code into its place.
    pub fn swap_remove(&mut self, pos: usize) {
        for plane in &mut self.planes {
            plane.swap_remove(pos);
        }
    }

    pub fn clear(&mut self) {
        for plane in &mut self.planes {
            plane.clear();
            plane.shrink_to_fit();
        }
    }

    /// Word `w` of every code.
    #[inline]
    pub fn plane(&self, w: usize) -> &[u64] {
        &self.planes[w]
    }

    /// The code at `pos`, gathered from the planes.
    pub fn code(&self, pos: usize) -> Vec<u64> {
        self.planes.iter().map(|plane| plane[pos]).collect()
    }

    pub fn heap_bytes(&self) -> usize {
        self.planes.iter().map(|p| p.capacity() * 8).sum()
    }
}

/// Receives the codes of a scan that lie within its current bound.
pub trait Collector {
    /// The largest distance still of interest; it may shrink as candidates arrive.
    fn bound(&self) -> u32;
    /// A code at `pos` with full distance `distance <= bound()`.
    fn offer(&mut self, pos: usize, distance: u32);
}

impl<C: Collector + ?Sized> Collector for &mut C {
    fn bound(&self) -> u32 {
        (**self).bound()
    }
    fn offer(&mut self, pos: usize, distance: u32) {
        (**self).offer(pos, distance);
    }
}

/// A popcount instruction set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    Portable,
    Popcnt,
    Avx2,
    Avx512,
}

impl Kernel {
    /// The fastest kernel this CPU supports (detected once per process).
    pub fn detect() -> Kernel {
        static DETECTED: OnceLock<Kernel> = OnceLock::new();
        *DETECTED.get_or_init(|| {
            Kernel::available()
                .last()
                .copied()
                .unwrap_or(Kernel::Portable)
        })
    }

    /// Every kernel this CPU can run, slowest first.
    pub fn available() -> Vec<Kernel> {
        #[allow(unused_mut)]
        let mut kernels = vec![Kernel::Portable];
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("popcnt") {
                kernels.push(Kernel::Popcnt);
                if std::arch::is_x86_feature_detected!("avx2") {
                    kernels.push(Kernel::Avx2);
                }
                if std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx512vl")
                    && std::arch::is_x86_feature_detected!("avx512vpopcntdq")
                {
                    kernels.push(Kernel::Avx512);
                }
            }
        }
        kernels
    }

    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::Popcnt => "popcnt",
            Kernel::Avx2 => "avx2",
            Kernel::Avx512 => "avx512-vpopcntdq",
        }
    }
}

/// Scans `range` of `planes` for codes within the collector's bound of `query`.
///
/// `kernel` must be one of [`Kernel::available`]; any other falls back to the portable path.
pub fn scan<C: Collector>(
    kernel: Kernel,
    planes: &Planes,
    range: Range<usize>,
    query: &[u64],
    collector: &mut C,
) {
    debug_assert_eq!(query.len(), planes.words());
    scan_many(kernel, planes, range, &mut [(query, collector)]);
}

/// [`scan`] for many queries at once: each block of codes is read from memory once for all of
/// them, so a batch costs the popcounts rather than the memory traffic of one scan per query.
pub fn scan_many<C: Collector>(
    kernel: Kernel,
    planes: &Planes,
    range: Range<usize>,
    queries: &mut [(&[u64], C)],
) {
    debug_assert!(queries.iter().all(|(q, _)| q.len() == planes.words()));
    let range = range.start..range.end.min(planes.len());
    #[cfg(target_arch = "x86_64")]
    {
        let available = Kernel::available();
        if available.contains(&kernel) {
            // SAFETY: each arm runs only when the CPU reported the features the kernel enables.
            match kernel {
                Kernel::Avx512 => unsafe { scan_avx512(planes, range, queries) },
                Kernel::Avx2 => unsafe { scan_avx2(planes, range, queries) },
                Kernel::Popcnt => unsafe { scan_popcnt(planes, range, queries) },
                Kernel::Portable => scan_portable(planes, range, queries),
            }
            return;
        }
    }
    let _ = kernel;
    scan_portable(planes, range, queries);
}

type Queries<'q, 'c, C> = &'q mut [(&'c [u64], C)];

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vpopcntdq,popcnt")]
fn scan_avx512<C: Collector>(planes: &Planes, range: Range<usize>, queries: Queries<'_, '_, C>) {
    scan_blocks(planes, range, queries);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,popcnt")]
fn scan_avx2<C: Collector>(planes: &Planes, range: Range<usize>, queries: Queries<'_, '_, C>) {
    scan_blocks(planes, range, queries);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "popcnt")]
fn scan_popcnt<C: Collector>(planes: &Planes, range: Range<usize>, queries: Queries<'_, '_, C>) {
    scan_blocks(planes, range, queries);
}

fn scan_portable<C: Collector>(planes: &Planes, range: Range<usize>, queries: Queries<'_, '_, C>) {
    scan_blocks(planes, range, queries);
}

/// Codes per block: two planes of a block (8 KiB) stay in L1 while every query reads them.
const BLOCK: usize = 512;

/// The scan itself, inlined into each kernel so it is compiled with that kernel's features.
#[inline(always)]
fn scan_blocks<C: Collector>(planes: &Planes, range: Range<usize>, queries: Queries<'_, '_, C>) {
    let Some(first) = planes.planes.first() else {
        return;
    };
    let second = planes.planes.get(1);
    let rest = planes.planes.get(2..).unwrap_or(&[]);
    let mut partial = [0u32; BLOCK];
    let mut start = range.start;
    while start < range.end {
        let end = (start + BLOCK).min(range.end);
        let partial = &mut partial[..end - start];
        for (query, c) in queries.iter_mut() {
            let q0 = query[0];
            let first = &first[start..end];
            // The block's least partial distance, so a block with no code within the bound
            // (nearly every block of a miss) costs no branch per code.
            let mut least = u32::MAX;
            match (second, query.get(1)) {
                (Some(second), Some(&q1)) => {
                    for ((out, &w0), &w1) in partial.iter_mut().zip(first).zip(&second[start..end])
                    {
                        let d = (w0 ^ q0).count_ones() + (w1 ^ q1).count_ones();
                        *out = d;
                        least = least.min(d);
                    }
                }
                _ => {
                    for (out, &w0) in partial.iter_mut().zip(first) {
                        let d = (w0 ^ q0).count_ones();
                        *out = d;
                        least = least.min(d);
                    }
                }
            }
            let mut bound = c.bound();
            if least > bound {
                continue;
            }
            for (i, &d2) in partial.iter().enumerate() {
                if d2 > bound {
                    continue;
                }
                let pos = start + i;
                let mut distance = d2;
                for (plane, &q) in rest.iter().zip(query.iter().skip(2)) {
                    distance += (plane[pos] ^ q).count_ones();
                }
                if distance <= bound {
                    c.offer(pos, distance);
                    bound = c.bound();
                }
            }
        }
        start = end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct All(Vec<(usize, u32)>);
    impl Collector for All {
        fn bound(&self) -> u32 {
            u32::MAX
        }
        fn offer(&mut self, pos: usize, distance: u32) {
            self.0.push((pos, distance));
        }
    }

    fn pseudo_random_codes(n: usize, words: usize) -> Vec<Vec<u64>> {
        let mut x = 0x9E37_79B9_7F4A_7C15_u64;
        (0..n)
            .map(|_| {
                (0..words)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        x
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_kernel_gives_the_brute_force_distances() {
        for words in [1, 2, 3, 4, 8, 16] {
            let codes = pseudo_random_codes(1500, words);
            let mut planes = Planes::new(words);
            for code in &codes[1..] {
                planes.push(code);
            }
            let query = &codes[0];
            let expected: Vec<(usize, u32)> = codes[1..]
                .iter()
                .enumerate()
                .map(|(i, c)| (i, hamming(c, query)))
                .collect();
            for kernel in Kernel::available() {
                let mut all = All(Vec::new());
                scan(kernel, &planes, 0..planes.len(), query, &mut all);
                assert_eq!(all.0, expected, "kernel {} words {words}", kernel.name());
            }
        }
    }

    #[test]
    fn max_distance_matches_the_estimated_cosine() {
        for bits in [64, 256, 1024] {
            for t in [0.0, 0.5, 0.8, 0.9, 0.95, 1.0] {
                let d = max_distance_for(t, bits);
                assert!(estimated_cosine(d, bits) >= t);
                if (d as usize) < bits {
                    assert!(estimated_cosine(d + 1, bits) < t);
                }
            }
        }
        assert_eq!(max_distance_for(1.0, 256), 0);
    }
}
