//! Multi-index hashing: an exact radius search over a partition's codes in sub-linear time.
//!
//! After Norouzi, Punjani and Fleet (CVPR 2012). The code is cut into `m` blocks of at most 24
//! bits and each block keys one table. If a stored code lies within radius `r = s·m + a` of the
//! query, then one of the first `a + 1` blocks differs by at most `s` bits or one of the others by
//! at most `s - 1` (otherwise the distance would be at least `r + 1`). Probing every key within
//! those block radii therefore finds every code within `r`; each candidate is verified by its full
//! distance. Probing goes level by level (block radius 0, 1, ...), and stops as soon as the
//! collector's bound is below `m · level`, which no unfound code can beat: a near-duplicate query
//! is answered after the first level.
//!
//! A table is a bucketed array (counting-sorted positions, one bucket per key, free places at a
//! bucket's end marked [`EMPTY`]); a position that finds its bucket full spills into a small hash
//! map, and the tables are rebuilt once the spill grows or the partition's size leaves the range
//! its block count was chosen for. Positions follow the partition's `swap_remove`.

use std::collections::HashMap;

use rayon::prelude::*;

use crate::code::{Collector, Planes};

/// How a partition is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndexMode {
    /// Multi-index hashing for partitions of at least `CacheConfig::index_min_entries`
    /// ([`MIH_MIN_ENTRIES`] by default), the flat scan below.
    #[default]
    Auto,
    /// Always the flat scan.
    Flat,
    /// Multi-index hashing for every partition.
    Mih,
    /// As `Auto`, but an indexed partition probes each block within [`APPROX_BLOCK_RADIUS`] bits
    /// only and never falls back to the scan: a lookup costs a few hundred probes at any size, and
    /// a stored code within the threshold whose every block differs more is missed (a miss,
    /// never a wrong hit; benchmarks/scale.py measures the recall).
    Approx,
}

impl IndexMode {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "auto" => Some(Self::Auto),
            "flat" => Some(Self::Flat),
            "mih" => Some(Self::Mih),
            "approx" => Some(Self::Approx),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Flat => "flat",
            Self::Mih => "mih",
            Self::Approx => "approx",
        }
    }
}

/// The partition size from which `Auto` indexes by default. Below it a miss scans in about
/// 0.4 ms or less (benchmarks/core.py at 1M), a tenth of an embedding, and the index's tables
/// would more than double the memory per entry; at 10M the scan takes 5 ms and the index pays
/// (benchmarks/scale.py). An index is dropped again below half of the size.
pub const MIH_MIN_ENTRIES: usize = 1 << 21;

/// What a store's indexes are built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Policy {
    pub mode: IndexMode,
    /// The Hamming radius of the cache's threshold, which sizes the tables.
    pub radius: u32,
    pub bits: usize,
    /// The partition size from which `Auto` indexes.
    pub min_entries: usize,
}

impl Policy {
    pub(crate) fn flat() -> Self {
        Self {
            mode: IndexMode::Flat,
            ..Self::default()
        }
    }

    fn keep(&self, n: usize, indexed: bool) -> bool {
        match self.mode {
            IndexMode::Flat => false,
            IndexMode::Mih => n > 0,
            IndexMode::Auto | IndexMode::Approx if indexed => n >= self.min_entries / 2,
            IndexMode::Auto | IndexMode::Approx => n >= self.min_entries,
        }
    }
}

/// A partition's index, if its policy and size call for one.
#[derive(Debug, Default)]
pub(crate) struct Index {
    mih: Option<Mih>,
}

impl Index {
    /// Builds, rebuilds or drops the index for `planes` as `policy` says.
    pub(crate) fn refresh(&mut self, planes: &Planes, policy: Policy) {
        let n = planes.len();
        if !policy.keep(n, self.mih.is_some()) {
            self.mih = None;
            return;
        }
        let stale = self.mih.as_ref().is_none_or(|mih| mih.stale(n, policy));
        if stale {
            self.mih = Some(Mih::build(planes, policy));
        }
    }

    /// After a code was pushed onto `planes`.
    pub(crate) fn pushed(&mut self, planes: &Planes, policy: Policy) {
        let pos = planes.len().saturating_sub(1);
        match &mut self.mih {
            Some(mih) if !mih.stale(planes.len(), policy) => mih.insert(planes, pos),
            _ => self.refresh(planes, policy),
        }
    }

    /// Before the code at `pos` is swap-removed from `planes`.
    pub(crate) fn removing(&mut self, planes: &Planes, pos: usize, policy: Policy) {
        let Some(mih) = &mut self.mih else {
            return;
        };
        mih.remove(planes, pos);
        let n = planes.len().saturating_sub(1);
        if !policy.keep(n, true) {
            self.mih = None;
        }
    }

    /// Offers the collector every code within its bound, as a flat scan of `planes` would; false
    /// when there is no index, or when it gives up because the probes its bound still asks for
    /// would cost more than scanning. The caller then scans, and the collector may be offered a
    /// code it was offered already.
    pub(crate) fn search<C: Collector>(&self, planes: &Planes, query: &[u64], c: &mut C) -> bool {
        self.mih
            .as_ref()
            .is_some_and(|mih| mih.search(planes, query, c))
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.mih.as_ref().map_or(0, Mih::heap_bytes)
    }

    /// The number of tables, 0 without an index.
    pub(crate) fn tables(&self) -> usize {
        self.mih.as_ref().map_or(0, |mih| mih.tables.len())
    }
}

/// A code scanned, in cache misses: the scan reads 16 bytes per code at about 0.3 ns (measured
/// with benchmarks/batch.py), a probe or candidate's miss takes about 90 ns.
const MISSES_PER_SCANNED_CODE: f64 = 1.0 / 300.0;

/// The block radius [`IndexMode::Approx`] probes to: level 0 answers near-duplicates, level 1
/// most paraphrases (a code at distance `d` is found when one of its `m` blocks differs by at
/// most one bit).
pub const APPROX_BLOCK_RADIUS: u32 = 1;

/// A free place at the end of a bucket.
const EMPTY: u32 = u32::MAX;
/// The key bits that group positions in the first pass of a table's build (measured at 10M:
/// 6 to 12 bits do about equally well).
const GROUP_BITS: u32 = 8;
/// The widest block: a table holds `2^width + 1` bucket starts.
const MAX_WIDTH: u32 = 24;

#[derive(Debug)]
struct Mih {
    tables: Vec<Table>,
    /// The size the block count was chosen for; a partition that doubles or quarters rebuilds.
    built_for: usize,
    radius: u32,
    /// Positions in the spill maps, summed over the tables.
    spilled: usize,
    /// The mode it was built for: [`IndexMode::Mih`] probes even where scanning would be
    /// cheaper, [`IndexMode::Approx`] stops at [`APPROX_BLOCK_RADIUS`].
    mode: IndexMode,
}

#[derive(Debug)]
struct Table {
    /// The block: bits `lo .. lo + width` of the code.
    lo: u32,
    width: u32,
    /// Bucket `k` is `items[start[k] .. start[k + 1]]`, live positions first.
    start: Vec<u32>,
    items: Vec<u32>,
    spill: HashMap<u32, Vec<u32>>,
    /// One bit per key that ever spilled since the build, so probes skip the map.
    spilled_keys: Vec<u64>,
}

impl Mih {
    fn build(planes: &Planes, policy: Policy) -> Self {
        let n = planes.len();
        // Sized for the middle of the range the tables serve before the next rebuild.
        let m = block_count(policy.bits, policy.radius, n + n / 2);
        let widths = block_widths(policy.bits, m);
        let blocks: Vec<(u32, u32)> = widths
            .iter()
            .scan(0, |lo, &w| {
                let block = (*lo, w);
                *lo += w;
                Some(block)
            })
            .collect();
        let tables = blocks
            .into_par_iter()
            .map_init(Vec::new, |grouped, (lo, width)| {
                Table::build(planes, lo, width, grouped)
            })
            .collect();
        Self {
            tables,
            built_for: n,
            radius: policy.radius,
            mode: policy.mode,
            spilled: 0,
        }
    }

    fn stale(&self, n: usize, policy: Policy) -> bool {
        policy.radius != self.radius
            || policy.mode != self.mode
            || n >= 2 * self.built_for.max(1024)
            || n < self.built_for / 4
            || self.spilled > (n / 16 + 1024) * self.tables.len()
    }

    fn insert(&mut self, planes: &Planes, pos: usize) {
        for table in &mut self.tables {
            let k = table.key_at(planes, pos);
            if table.insert(k, pos as u32) {
                self.spilled += 1;
            }
        }
    }

    fn remove(&mut self, planes: &Planes, pos: usize) {
        let last = planes.len().saturating_sub(1);
        for table in &mut self.tables {
            let k = table.key_at(planes, pos);
            if table.remove(k, pos as u32) {
                self.spilled = self.spilled.saturating_sub(1);
            }
            if last != pos {
                let k = table.key_at(planes, last);
                table.rename(k, last as u32, pos as u32);
            }
        }
    }

    fn search<C: Collector>(&self, planes: &Planes, query: &[u64], c: &mut C) -> bool {
        let m = self.tables.len() as u32;
        let n = planes.len();
        let limit = c.bound();
        let (s, a) = (limit / m, limit % m);
        let forced = self.mode == IndexMode::Mih;
        let approximate = self.mode == IndexMode::Approx;
        let top = if approximate {
            s.min(APPROX_BLOCK_RADIUS)
        } else {
            s
        };
        // Block j is probed up to radius cap(j); a cap of -1 leaves it out.
        let cap = |j: usize| i64::from(s) - i64::from(j as u32 > a);
        // Probes and candidates of one level across the tables: each is a cache miss.
        let level_cost = |level: u32| -> f64 {
            self.tables
                .iter()
                .enumerate()
                .filter(|&(j, _)| cap(j) >= i64::from(level))
                .map(|(_, t)| {
                    let probes = choose(t.width, level);
                    probes + probes * n as f64 / (1u64 << t.width) as f64
                })
                .sum()
        };
        if forced {
            let cost: f64 = (0..=s).map(level_cost).sum();
            if cost > 64.0 * n as f64 + 65_536.0 {
                return false;
            }
        }
        // What scanning every code would cost, in cache misses (see [`MISSES_PER_SCANNED_CODE`]).
        let scan_cost = n as f64 * MISSES_PER_SCANNED_CODE;
        let keys: Vec<u32> = self.tables.iter().map(|t| t.key_of(query)).collect();
        let (mut ranges, mut found, mut partial) = (Vec::new(), Vec::new(), Vec::new());
        for level in 0..=top {
            if c.bound() < m * level {
                break; // every code not yet found is at least m * level away
            }
            // Level 0 always runs: it is cheap and answers a near-duplicate. After it, give up
            // when the levels the bound still asks for would cost more than a scan.
            let last = s.min(c.bound() / m);
            if level > 0
                && !forced
                && !approximate
                && (level..=last).map(level_cost).sum::<f64>() > scan_cost
            {
                return false;
            }
            for (j, table) in self.tables.iter().enumerate() {
                if cap(j) < i64::from(level) {
                    continue;
                }
                found.clear();
                table.gather(keys[j], level, &mut ranges, &mut found);
                // The candidates' first words in one branch-free pass: the loads are independent,
                // so their cache misses overlap.
                partial.clear();
                partial.extend(
                    found
                        .iter()
                        .map(|&p| prefix_distance(planes, p as usize, query)),
                );
                for (&pos, &prefix) in found.iter().zip(&partial) {
                    let pos = pos as usize;
                    if prefix > c.bound() {
                        continue;
                    }
                    let Some(d) = distance_within(planes, pos, query, c.bound()) else {
                        continue;
                    };
                    if !self.found_before(planes, pos, &keys, j, level) {
                        c.offer(pos, d);
                    }
                }
            }
        }
        true
    }

    /// Whether the code at `pos`, met in table `j` at `level`, was met at an earlier probe (a
    /// lower level, or this level in an earlier table: caps never grow with the table index, so
    /// an earlier table was probed at this level too).
    fn found_before(
        &self,
        planes: &Planes,
        pos: usize,
        keys: &[u32],
        j: usize,
        level: u32,
    ) -> bool {
        self.tables.iter().enumerate().any(|(i, t)| {
            let d = (t.key_at(planes, pos) ^ keys[i]).count_ones();
            d < level || (i < j && d == level)
        })
    }

    fn heap_bytes(&self) -> usize {
        self.tables
            .iter()
            .map(|t| {
                let spill: usize = t.spill.values().map(|v| 32 + v.capacity() * 4).sum();
                (t.start.capacity() + t.items.capacity()) * 4 + spill
            })
            .sum()
    }
}

impl Table {
    /// Counting-sorts the positions by key in two passes: first into groups by the key's top
    /// [`GROUP_BITS`] (`grouped`, scratch space reused across a thread's tables), then group by
    /// group, each of whose counts and buckets span some hundred kilobytes, so both passes stay
    /// in cache where one pass over a whole table (tens of megabytes at 10M entries) missed it at
    /// every position. Positions stay ascending within a bucket.
    fn build(planes: &Planes, lo: u32, width: u32, grouped: &mut Vec<u64>) -> Self {
        let n = planes.len();
        let buckets = 1usize << width;
        let shift = width - width.min(GROUP_BITS);
        let (groups, span) = (buckets >> shift, 1usize << shift);
        let key = |pos: usize| block(|w| planes.plane(w)[pos], lo, width);
        let mut group_start = vec![0usize; groups + 1];
        for pos in 0..n {
            group_start[(key(pos) >> shift) as usize + 1] += 1;
        }
        for g in 1..group_start.len() {
            group_start[g] += group_start[g - 1];
        }
        let mut fill = group_start.clone();
        grouped.resize(n, 0);
        for pos in 0..n {
            let k = key(pos);
            let at = &mut fill[(k >> shift) as usize];
            grouped[*at] = (u64::from(k) << 32) | pos as u64;
            *at += 1;
        }
        let group = |g: usize| &grouped[group_start[g]..group_start[g + 1]];
        // Each bucket gets one free place beyond its codes, so the puts after a build land in
        // their buckets rather than the spill map (a put touches every table).
        let mut start = vec![1u32; buckets + 1];
        start[0] = 0;
        for g in 0..groups {
            let counts = &mut start[g * span + 1..=(g + 1) * span];
            for &entry in group(g) {
                counts[(entry >> 32) as usize - g * span] += 1;
            }
        }
        for k in 1..start.len() {
            start[k] += start[k - 1];
        }
        let mut items = vec![EMPTY; n + buckets];
        let mut cursor = vec![0u32; span];
        for g in 0..groups {
            cursor.copy_from_slice(&start[g * span..(g + 1) * span]);
            for &entry in group(g) {
                let at = &mut cursor[(entry >> 32) as usize - g * span];
                items[*at as usize] = entry as u32;
                *at += 1;
            }
        }
        Self {
            lo,
            width,
            start,
            items,
            spill: HashMap::new(),
            spilled_keys: vec![0; buckets.div_ceil(64)],
        }
    }

    fn key_of(&self, code: &[u64]) -> u32 {
        block(|w| code[w], self.lo, self.width)
    }

    fn key_at(&self, planes: &Planes, pos: usize) -> u32 {
        block(|w| planes.plane(w)[pos], self.lo, self.width)
    }

    fn slots(&self, k: u32) -> std::ops::Range<usize> {
        let k = k as usize;
        self.start[k] as usize..self.start[k + 1] as usize
    }

    /// Appends the positions under every key `ones` bits away from `key`. The bucket bounds are
    /// read first in a loop of independent loads, so their cache misses overlap.
    fn gather(&self, key: u32, ones: u32, ranges: &mut Vec<(u32, u32)>, out: &mut Vec<u32>) {
        ranges.clear();
        ranges.extend(Masks::new(self.width, ones).map(|mask| {
            let k = (key ^ mask) as usize;
            (self.start[k], self.start[k + 1])
        }));
        for &(from, to) in ranges.iter() {
            let bucket = &self.items[from as usize..to as usize];
            out.extend(bucket.iter().filter(|&&p| p != EMPTY));
        }
        for mask in Masks::new(self.width, ones) {
            let k = key ^ mask;
            if self.spilled_keys[k as usize / 64] >> (k % 64) & 1 != 0 {
                out.extend(self.spill.get(&k).into_iter().flatten());
            }
        }
    }

    /// Adds `pos` under key `k`; true when it spilled.
    fn insert(&mut self, k: u32, pos: u32) -> bool {
        let range = self.slots(k);
        if let Some(free) = self.items[range].iter_mut().find(|p| **p == EMPTY) {
            *free = pos;
            return false;
        }
        self.spill.entry(k).or_default().push(pos);
        self.spilled_keys[k as usize / 64] |= 1 << (k % 64);
        true
    }

    /// Removes `pos` from key `k`; true when it was a spilled one.
    fn remove(&mut self, k: u32, pos: u32) -> bool {
        let range = self.slots(k);
        let bucket = &mut self.items[range];
        let live = bucket.iter().take_while(|&&p| p != EMPTY).count();
        if let Some(i) = bucket[..live].iter().position(|&p| p == pos) {
            bucket.swap(i, live - 1);
            bucket[live - 1] = EMPTY;
            return false;
        }
        if let Some(list) = self.spill.get_mut(&k) {
            if let Some(i) = list.iter().position(|&p| p == pos) {
                list.swap_remove(i);
                if list.is_empty() {
                    self.spill.remove(&k);
                }
                return true;
            }
        }
        false
    }

    /// The entry at `from` under key `k` moved to `to`.
    fn rename(&mut self, k: u32, from: u32, to: u32) {
        let range = self.slots(k);
        let spilled = self.spill.get_mut(&k).into_iter().flatten();
        if let Some(p) = self.items[range]
            .iter_mut()
            .chain(spilled)
            .find(|p| **p == from)
        {
            *p = to;
        }
    }
}

/// Bits `lo .. lo + width` (`width <= 32`) of a code given word by word.
#[inline]
fn block(word: impl Fn(usize) -> u64, lo: u32, width: u32) -> u32 {
    let (w, shift) = ((lo / 64) as usize, lo % 64);
    let mut bits = word(w) >> shift;
    if shift + width > 64 {
        bits |= word(w + 1) << (64 - shift);
    }
    (bits & ((1u64 << width) - 1)) as u32
}

/// The distance over the first two words (all, for a one-word code): a lower bound.
#[inline]
fn prefix_distance(planes: &Planes, pos: usize, query: &[u64]) -> u32 {
    query
        .iter()
        .take(2)
        .enumerate()
        .map(|(w, &q)| (planes.plane(w)[pos] ^ q).count_ones())
        .sum()
}

/// The distance of the code at `pos` from `query` if it is at most `bound`.
#[inline]
fn distance_within(planes: &Planes, pos: usize, query: &[u64], bound: u32) -> Option<u32> {
    let mut d = 0;
    for (w, &q) in query.iter().enumerate() {
        d += (planes.plane(w)[pos] ^ q).count_ones();
        if d > bound {
            return None;
        }
    }
    Some(d)
}

/// `width` choose `k`: the number of keys exactly `k` bits from one key of `width` bits.
fn choose(width: u32, k: u32) -> f64 {
    (0..k).fold(1.0, |acc, i| {
        acc * f64::from(width.saturating_sub(i)) / f64::from(i + 1)
    })
}

/// The number of keys within `radius` bits of one key of `width` bits (0 for a negative radius).
fn ball(width: u32, radius: i64) -> f64 {
    let Ok(top) = u32::try_from(radius.min(i64::from(width))) else {
        return 0.0;
    };
    (0..=top).map(|k| choose(width, k)).sum()
}

/// Block widths that split `bits` into `m` near-equal blocks, wider ones first.
fn block_widths(bits: usize, m: usize) -> Vec<u32> {
    let m = m.clamp(1, bits.max(1));
    (0..m)
        .map(|i| (bits / m + usize::from(i < bits % m)) as u32)
        .collect()
}

/// The block count with the fewest probes plus expected candidates for `radius` at size `n`,
/// keeping the bucket starts within 16 bytes per entry.
fn block_count(bits: usize, radius: u32, n: usize) -> usize {
    let n = n.max(4096);
    let widest = MAX_WIDTH as usize;
    let fewest = bits.div_ceil(widest).max(1);
    let mut best = (f64::INFINITY, bits.min(64).max(fewest));
    for m in fewest..=bits.min(256) {
        let widths = block_widths(bits, m);
        let starts: f64 = widths.iter().map(|&w| (1u64 << w) as f64 * 4.0).sum();
        if starts > 16.0 * n as f64 {
            continue;
        }
        let (s, a) = (radius / m as u32, radius % m as u32);
        let cost: f64 = widths
            .iter()
            .enumerate()
            .map(|(j, &w)| {
                let probes = ball(w, i64::from(s) - i64::from(j as u32 > a));
                probes + probes * n as f64 / (1u64 << w) as f64
            })
            .sum();
        if cost < best.0 {
            best = (cost, m);
        }
    }
    best.1
}

/// Every `width`-bit mask with exactly `ones` bits set (Gosper's hack).
struct Masks {
    next: Option<u64>,
    end: u64,
}

impl Masks {
    fn new(width: u32, ones: u32) -> Self {
        let next = (ones <= width).then(|| (1u64 << ones) - 1);
        Self {
            next,
            end: 1u64 << width,
        }
    }
}

impl Iterator for Masks {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let x = self.next?;
        self.next = if x == 0 {
            None
        } else {
            let low = x & x.wrapping_neg();
            let ripple = x + low;
            let next = (((ripple ^ x) >> 2) / low) | ripple;
            (next < self.end).then_some(next)
        };
        Some(x as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one-pass counting sort the grouped build must equal.
    fn reference_table(planes: &Planes, lo: u32, width: u32) -> (Vec<u32>, Vec<u32>) {
        let n = planes.len();
        let keys: Vec<u32> = (0..n)
            .map(|pos| block(|w| planes.plane(w)[pos], lo, width))
            .collect();
        let mut start = vec![1u32; (1usize << width) + 1];
        start[0] = 0;
        for &k in &keys {
            start[k as usize + 1] += 1;
        }
        for k in 1..start.len() {
            start[k] += start[k - 1];
        }
        let mut fill: Vec<u32> = start[..start.len() - 1].to_vec();
        let mut items = vec![EMPTY; n + (1usize << width)];
        for (pos, &k) in keys.iter().enumerate() {
            items[fill[k as usize] as usize] = pos as u32;
            fill[k as usize] += 1;
        }
        (start, items)
    }

    fn random_planes(n: usize, mut x: u64) -> Planes {
        let mut planes = Planes::new(4);
        for _ in 0..n {
            let code: Vec<u64> = (0..4)
                .map(|_| {
                    // xorshift64: any fixed pseudo-random codes do
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x
                })
                .collect();
            planes.push(&code);
        }
        planes
    }

    #[test]
    fn the_grouped_build_equals_one_counting_sort() {
        let mut scratch = Vec::new();
        for (n, lo, width) in [
            (0, 0, 12),
            (1, 3, 5),
            (5000, 60, 8),
            (20_000, 100, 14),
            (3000, 0, 24),
        ] {
            let planes = random_planes(n, 0x9E37_79B9_7F4A_7C15 + n as u64);
            let table = Table::build(&planes, lo, width, &mut scratch);
            let (start, items) = reference_table(&planes, lo, width);
            assert!(
                table.start == start && table.items == items,
                "n {n} width {width}"
            );
        }
    }

    #[test]
    fn masks_enumerate_every_combination_once() {
        for (width, ones, count) in [(5, 0, 1), (5, 1, 5), (5, 2, 10), (21, 2, 210), (4, 4, 1)] {
            let masks: Vec<u32> = Masks::new(width, ones).collect();
            assert_eq!(masks.len(), count, "width {width} ones {ones}");
            assert!(masks
                .iter()
                .all(|m| m.count_ones() == ones && *m < 1 << width));
            let mut unique = masks.clone();
            unique.dedup();
            assert_eq!(unique.len(), count);
        }
        assert_eq!(Masks::new(3, 4).count(), 0);
    }

    #[test]
    fn blocks_cross_word_boundaries() {
        let code = [0xF000_0000_0000_0000_u64, 0x5];
        assert_eq!(block(|w| code[w], 60, 8), 0b0101_1111);
        assert_eq!(block(|w| code[w], 0, 8), 0);
        assert_eq!(block(|w| code[w], 64, 3), 0b101);
    }

    #[test]
    fn block_count_grows_buckets_with_the_partition() {
        assert_eq!(block_widths(256, 12).iter().sum::<u32>(), 256);
        let small = block_count(256, 34, 100_000);
        let large = block_count(256, 34, 10_000_000);
        assert!(large < small, "{large} {small}");
        assert!(block_widths(256, large).iter().all(|&w| w <= MAX_WIDTH));
        assert!(block_count(64, 5, 10) >= 3);
    }
}
