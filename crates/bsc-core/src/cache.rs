//! The cache: an encoder, the store behind a read-write lock, and counters.
//!
//! Lookups take the read lock and may run in parallel; they count hits with atomics and queue the
//! LRU touch, which the next writer applies before it changes anything, so the LRU order stays
//! exact. Writers take the write lock for one insert, delete or clear at a time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rayon::prelude::*;

use crate::clock::{Clock, SystemClock};
use crate::code::{estimated_cosine, max_distance_for, scan, scan_many, Collector, Kernel};
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::mih::{IndexMode, Policy, MIH_MIN_ENTRIES};
use crate::payload::Payload;
use crate::persist::log::Removal;
use crate::persist::{self, stat, Durability, Persist, PersistOptions, PersistedStats};
use crate::store::{EntryId, EntryInfo, Partition, Store, NEVER};

/// The similarity threshold used when the caller gives none (estimated cosine, 0..1).
pub const DEFAULT_SIMILARITY_THRESHOLD: f64 = 0.91;
/// The entry bound used when the caller gives none.
pub const DEFAULT_MAX_ENTRIES: usize = 100_000;
/// Hamming candidates re-ranked by their stored vectors when re-scoring is on.
pub const RESCORE_CANDIDATES: usize = 32;
/// Partitions at least this large are scanned by all of rayon's threads.
const PARALLEL_SCAN_MIN: usize = 1 << 17;
/// Queries of a batch that share one scan of the codes (and one rayon task).
const QUERY_GROUP: usize = 64;
/// Queued LRU touches after which a lookup applies them itself.
const TOUCH_FLUSH: usize = 4096;
/// Expired entries reclaimed per write, so no write holds the lock for long.
const RECLAIM_PER_WRITE: usize = 64;

/// How a cache behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct CacheConfig {
    pub max_entries: usize,
    pub similarity_threshold: f64,
    /// Time to live of every entry, unless a put gives its own.
    pub ttl_seconds: Option<f64>,
    /// Keep an int8 copy of each embedding and re-rank Hamming candidates by their cosine.
    pub rescore: bool,
    /// How partitions are searched from the start (an open builds only the index asked for).
    pub index: IndexMode,
    /// The partition size from which `IndexMode::Auto` indexes.
    pub index_min_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            similarity_threshold: DEFAULT_SIMILARITY_THRESHOLD,
            ttl_seconds: None,
            rescore: false,
            index: IndexMode::Auto,
            index_min_entries: MIH_MIN_ENTRIES,
        }
    }
}

impl CacheConfig {
    fn validate(&self) -> Result<()> {
        if self.max_entries == 0 {
            return Err(Error::InvalidMaxEntries(self.max_entries));
        }
        validate_threshold(self.similarity_threshold)?;
        if let Some(ttl) = self.ttl_seconds {
            ttl_ms(ttl)?;
        }
        Ok(())
    }
}

fn validate_threshold(threshold: f64) -> Result<()> {
    if (0.0..=1.0).contains(&threshold) {
        Ok(())
    } else {
        Err(Error::InvalidThreshold(threshold))
    }
}

fn ttl_ms(seconds: f64) -> Result<u64> {
    if seconds.is_finite() && seconds > 0.0 {
        Ok((seconds * 1000.0).ceil().min(NEVER as f64) as u64)
    } else {
        Err(Error::InvalidTtl(seconds))
    }
}

/// One entry returned by a lookup.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub id: EntryId,
    /// Estimated cosine from the Hamming distance, or the re-scored cosine.
    pub similarity: f64,
    pub distance: u32,
    pub kind: u8,
    pub payload: Vec<u8>,
}

/// Counters and sizes, read without stopping lookups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub entries: u64,
    pub partitions: u64,
    pub hits: u64,
    pub misses: u64,
    pub inserts: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub deletes: u64,
    pub payload_bytes: u64,
    pub memory_bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    inserts: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    deletes: AtomicU64,
}

/// A binary semantic cache. `Send + Sync`: share it behind an `Arc`.
#[derive(Debug)]
pub struct Cache {
    encoder: Encoder,
    config: CacheConfig,
    max_distance: u32,
    store: RwLock<Store>,
    touches: Mutex<Vec<(u32, u32)>>,
    counters: Counters,
    clock: Arc<dyn Clock>,
    kernel: Kernel,
    persist: Option<Arc<Persist>>,
}

impl Cache {
    pub fn new(encoder: Encoder, config: CacheConfig) -> Result<Self> {
        Self::with_clock(encoder, config, Arc::new(SystemClock))
    }

    pub fn with_clock(
        encoder: Encoder,
        config: CacheConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        config.validate()?;
        let store = Store::new(encoder.words(), encoder.dim(), config.rescore);
        Ok(Self::assemble(encoder, config, store, [0; 6], clock, None))
    }

    /// Opens (or creates) the cache stored in directory `path`. Without an encoder, the one the
    /// cache was written with is used; with one, it must match.
    pub fn open(
        path: &std::path::Path,
        encoder: Option<Encoder>,
        config: CacheConfig,
        options: PersistOptions,
    ) -> Result<Self> {
        Self::open_with_clock(path, encoder, config, options, Arc::new(SystemClock))
    }

    pub fn open_with_clock(
        path: &std::path::Path,
        encoder: Option<Encoder>,
        config: CacheConfig,
        options: PersistOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Self> {
        config.validate()?;
        let opened = persist::open(path, encoder, config.rescore, config.max_entries, options)?;
        let config = match opened.written_max_entries {
            Some(max_entries) if options.inherit_max_entries && max_entries > 0 => CacheConfig {
                max_entries,
                ..config
            },
            _ => config,
        };
        let cache = Self::assemble(
            opened.encoder,
            config,
            opened.store,
            opened.stats,
            clock,
            Some(opened.persist),
        );
        cache.forget_expired(&mut cache.store.write())?;
        // A smaller max_entries than the cache was written with takes effect at once.
        if !options.read_only {
            let mut store = cache.store.write();
            while store.len() > cache.config.max_entries {
                cache.evict_one(&mut store)?;
            }
        }
        Ok(cache)
    }

    fn assemble(
        encoder: Encoder,
        config: CacheConfig,
        store: Store,
        stats: PersistedStats,
        clock: Arc<dyn Clock>,
        persist: Option<Arc<Persist>>,
    ) -> Self {
        let counters = Counters {
            hits: AtomicU64::new(stats[stat::HITS]),
            misses: AtomicU64::new(stats[stat::MISSES]),
            inserts: AtomicU64::new(stats[stat::INSERTS]),
            evictions: AtomicU64::new(stats[stat::EVICTIONS]),
            expirations: AtomicU64::new(stats[stat::EXPIRATIONS]),
            deletes: AtomicU64::new(stats[stat::DELETES]),
        };
        let mut store = store;
        let max_distance = max_distance_for(config.similarity_threshold, encoder.bits());
        store.set_index(index_policy(
            config.index,
            &config,
            max_distance,
            encoder.bits(),
        ));
        Self {
            max_distance,
            encoder,
            config,
            store: RwLock::new(store),
            touches: Mutex::new(Vec::new()),
            counters,
            clock,
            kernel: Kernel::detect(),
            persist,
        }
    }

    /// Entries whose TTL lapsed while the cache was closed are neither counted nor served; a
    /// writer logs their expiry, a reader only forgets them.
    fn forget_expired(&self, store: &mut Store) -> Result<()> {
        let now = self.clock.now_ms();
        if self.is_read_only() {
            let gone = store.reclaim_expired(now, usize::MAX).len();
            self.counters
                .expirations
                .fetch_add(gone as u64, Ordering::Relaxed);
            return Ok(());
        }
        while store.has_expired(now) {
            self.reclaim(store, now)?;
        }
        Ok(())
    }

    /// A reader follows the writer: once the directory's files changed since they were loaded
    /// (checked at most every 200 ms, on access), it loads them again and serves the new state.
    /// A load that fails keeps the last state until the next check.
    fn follow(&self) {
        let Some(persist) = self.persist.as_deref() else {
            return;
        };
        if !persist.files_changed() {
            return;
        }
        let Ok(opened) = persist::open(
            persist.path(),
            Some(self.encoder.clone()),
            self.config.rescore,
            self.config.max_entries,
            persist.options(),
        ) else {
            return;
        };
        let mut store = opened.store;
        store.set_index(self.store.read().index_policy());
        if self.forget_expired(&mut store).is_ok() {
            *self.store.write() = store;
            persist.loaded_as(&opened.persist);
        }
    }

    /// The directory this cache persists to, if any.
    pub fn path(&self) -> Option<&std::path::Path> {
        self.persist.as_deref().map(Persist::path)
    }

    /// Whether the cache was opened read-only alongside a writer.
    pub fn is_read_only(&self) -> bool {
        self.persist.as_deref().is_some_and(Persist::read_only)
    }

    /// Makes every logged change durable (by a snapshot if a log sync failed earlier).
    pub fn flush(&self) -> Result<()> {
        match self.persist.as_deref() {
            Some(persist) if persist.needs_snapshot() => self.save(),
            Some(persist) => persist.flush(),
            None => Ok(()),
        }
    }

    /// Writes a snapshot (so the next open maps it instead of replaying the log) and starts an
    /// empty log. Lookups go on meanwhile; writers wait.
    pub fn save(&self) -> Result<()> {
        let Some(persist) = &self.persist else {
            return Ok(());
        };
        persist.check_writable()?;
        let mut store = self.store.write();
        self.apply_touches(&mut store);
        let store = parking_lot::RwLockWriteGuard::downgrade(store);
        persist.save(&store, &self.persisted_stats())
    }

    fn persisted_stats(&self) -> PersistedStats {
        let c = &self.counters;
        let mut stats = [0u64; 6];
        stats[stat::HITS] = c.hits.load(Ordering::Relaxed);
        stats[stat::MISSES] = c.misses.load(Ordering::Relaxed);
        stats[stat::INSERTS] = c.inserts.load(Ordering::Relaxed);
        stats[stat::EVICTIONS] = c.evictions.load(Ordering::Relaxed);
        stats[stat::EXPIRATIONS] = c.expirations.load(Ordering::Relaxed);
        stats[stat::DELETES] = c.deletes.load(Ordering::Relaxed);
        stats
    }

    /// After a write: flush when every write must be durable, compact when the log is large.
    fn after_write(&self) -> Result<()> {
        let Some(persist) = &self.persist else {
            return Ok(());
        };
        if persist.durability() == Durability::EveryWrite {
            self.flush()?;
        }
        if persist.snapshot_due() {
            self.save()?;
        }
        Ok(())
    }

    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// Chooses how partitions are searched (the default is [`IndexMode::Auto`]); builds or drops
    /// their indexes at once.
    pub fn set_index(&self, mode: IndexMode) {
        let policy = index_policy(mode, &self.config, self.max_distance, self.encoder.bits());
        self.store.write().set_index(policy);
    }

    pub fn index_mode(&self) -> IndexMode {
        self.store.read().index_policy().mode
    }

    /// The number of hash tables indexing `partition`; 0 when it is scanned flat.
    pub fn index_tables(&self, partition: &str) -> usize {
        self.store
            .read()
            .partition(partition)
            .map_or(0, |p| p.index.tables())
    }

    pub fn len(&self) -> usize {
        self.follow();
        self.store.read().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The best live entry of `partition` within the similarity threshold, counted as a hit or miss.
    pub fn get(&self, embedding: &[f32], partition: &str) -> Result<Option<Hit>> {
        self.follow();
        let code = self.encoder.encode(embedding)?;
        let store = self.store.read();
        let now = self.clock.now_ms();
        let best = self
            .ranked(
                &store,
                partition,
                &code,
                embedding,
                1,
                self.config.similarity_threshold,
                now,
            )
            .into_iter()
            .next();
        let mut flush = false;
        let hit = best.map(|(hit, slot)| {
            flush = self.touch(&store, slot, now);
            hit
        });
        drop(store);
        self.count(u64::from(hit.is_some()), u64::from(hit.is_none()), flush);
        Ok(hit)
    }

    /// [`Cache::get`] for each `dim`-long row of `embeddings`, with the same answers. Queries go in
    /// groups to rayon's threads; in a group, those the index cannot answer share one blocked scan.
    pub fn get_batch(&self, embeddings: &[f32], partition: &str) -> Result<Vec<Option<Hit>>> {
        self.follow();
        let dim = self.encoder.dim();
        let words = self.encoder.words();
        let store = self.store.read();
        let now = self.clock.now_ms();
        let threshold = self.config.similarity_threshold;
        let part = store.partition(partition);
        let groups = embeddings
            .par_chunks(dim * QUERY_GROUP)
            .map(|rows| {
                let codes = self.encoder.encode_batch(rows)?;
                Ok(match part {
                    None => vec![None; rows.len() / dim],
                    Some(_) if self.config.rescore => codes
                        .chunks_exact(words)
                        .zip(rows.chunks_exact(dim))
                        .map(|(code, row)| {
                            let ranked =
                                self.ranked(&store, partition, code, row, 1, threshold, now);
                            ranked.into_iter().next()
                        })
                        .collect(),
                    Some(part) => self
                        .nearest_each(&store, part, &codes, now)
                        .into_iter()
                        .map(|c| c.and_then(|c| hit_at(&store, part, c, self.encoder.bits())))
                        .collect(),
                })
            })
            .collect::<Result<Vec<Vec<_>>>>()?;
        let mut flush = false;
        let hits: Vec<Option<Hit>> = groups
            .into_iter()
            .flatten()
            .map(|found| {
                let (hit, slot) = found?;
                flush |= self.touch(&store, slot, now);
                Some(hit)
            })
            .collect();
        drop(store);
        let found = hits.iter().filter(|h| h.is_some()).count() as u64;
        self.count(found, hits.len() as u64 - found, flush);
        Ok(hits)
    }

    /// Records a hit on `slot` and queues its LRU touch; whether the queue is due to be applied.
    fn touch(&self, store: &Store, slot: u32, now: u64) -> bool {
        store.record_hit(slot, now);
        let mut touches = self.touches.lock();
        touches.push((slot, store.generation(slot)));
        touches.len() >= TOUCH_FLUSH
    }

    /// Counts lookups, then applies the queued touches when due (after the read lock is gone).
    fn count(&self, hits: u64, misses: u64, flush: bool) {
        self.counters.hits.fetch_add(hits, Ordering::Relaxed);
        self.counters.misses.fetch_add(misses, Ordering::Relaxed);
        // Only a hit queues a touch, so a miss takes no lock beyond the read lock.
        if flush {
            let mut store = self.store.write();
            self.apply_touches(&mut store);
        }
    }

    /// Up to `k` live entries of `partition` with similarity at least `min_similarity` (the
    /// cache's threshold when `None`), best first; ties go to the lower id. Not counted as hits.
    pub fn search(
        &self,
        embedding: &[f32],
        partition: &str,
        k: usize,
        min_similarity: Option<f64>,
    ) -> Result<Vec<Hit>> {
        if k == 0 {
            return Err(Error::InvalidK(k));
        }
        let threshold = min_similarity.unwrap_or(self.config.similarity_threshold);
        validate_threshold(threshold)?;
        self.follow();
        let code = self.encoder.encode(embedding)?;
        let store = self.store.read();
        let now = self.clock.now_ms();
        Ok(self
            .ranked(&store, partition, &code, embedding, k, threshold, now)
            .into_iter()
            .map(|(hit, _)| hit)
            .collect())
    }

    /// Stores `payload` under `embedding` in `partition`; evicts the least recently used entry when
    /// full. `ttl_seconds` overrides the cache's TTL for this entry.
    pub fn put(
        &self,
        embedding: &[f32],
        partition: &str,
        kind: u8,
        payload: &[u8],
        ttl_seconds: Option<f64>,
    ) -> Result<EntryId> {
        let code = self.encoder.encode(embedding)?;
        let ttl = match ttl_seconds.or(self.config.ttl_seconds) {
            Some(seconds) => Some(ttl_ms(seconds)?),
            None => None,
        };
        let bytes = payload;
        let payload = Payload::new(kind, bytes)?;
        let vector = self.config.rescore.then_some(embedding);
        if let Some(persist) = &self.persist {
            persist.check_writable()?;
        }
        let id = {
            let mut store = self.store.write();
            let now = self.clock.now_ms();
            let expires = ttl.map_or(NEVER, |t| now.saturating_add(t).min(NEVER));
            self.prepare_write(&mut store, now)?;
            while store.len() >= self.config.max_entries {
                if store.has_expired(now) {
                    self.reclaim(&mut store, now)?;
                } else {
                    self.evict_one(&mut store)?;
                }
            }
            let id = store.insert(partition, &code, vector, payload, now, expires);
            self.counters.inserts.fetch_add(1, Ordering::Relaxed);
            if let Some(persist) = &self.persist {
                persist
                    .log(|log| log.put(id, partition, &code, vector, kind, bytes, now, expires))?;
            }
            id
        };
        self.after_write()?;
        Ok(id)
    }

    fn evict_one(&self, store: &mut Store) -> Result<()> {
        if let Some(id) = store.evict_lru() {
            self.counters.evictions.fetch_add(1, Ordering::Relaxed);
            if let Some(persist) = &self.persist {
                persist.log_removals(&[id], Removal::Evicted)?;
            }
        }
        Ok(())
    }

    /// Removes one entry; false when the id names no live entry.
    pub fn delete(&self, id: EntryId) -> Result<bool> {
        if let Some(persist) = &self.persist {
            persist.check_writable()?;
        }
        let deleted = {
            let mut store = self.store.write();
            self.prepare_write(&mut store, self.clock.now_ms())?;
            let deleted = store.delete(id);
            if deleted {
                self.counters.deletes.fetch_add(1, Ordering::Relaxed);
                if let Some(persist) = &self.persist {
                    persist.log_removals(&[id], Removal::Deleted)?;
                }
            }
            deleted
        };
        self.after_write()?;
        Ok(deleted)
    }

    /// Removes every entry, or those of one partition; returns how many.
    pub fn clear(&self, partition: Option<&str>) -> Result<usize> {
        if let Some(persist) = &self.persist {
            persist.check_writable()?;
        }
        let removed = {
            let mut store = self.store.write();
            self.prepare_write(&mut store, self.clock.now_ms())?;
            let removed = match partition {
                Some(name) => store.clear_partition(name),
                None => store.clear_all(),
            };
            self.counters
                .deletes
                .fetch_add(removed as u64, Ordering::Relaxed);
            if let Some(persist) = &self.persist {
                persist.log(|log| log.clear(partition))?;
            }
            removed
        };
        self.after_write()?;
        Ok(removed)
    }

    /// Whether `partition` holds any entry (expired ones count until reclaimed).
    pub fn has_partition(&self, partition: &str) -> bool {
        self.follow();
        self.store.read().partition(partition).is_some()
    }

    /// Removes every partition whose name starts with `prefix`; returns how many entries.
    pub fn clear_prefix(&self, prefix: &str) -> Result<usize> {
        let names: Vec<String> = self
            .store
            .read()
            .partition_names()
            .into_iter()
            .filter(|n| !n.is_empty() && n.starts_with(prefix))
            .map(str::to_owned)
            .collect();
        let mut removed = 0;
        for name in names {
            removed += self.clear(Some(&name))?;
        }
        Ok(removed)
    }

    pub fn stats(&self) -> Stats {
        self.follow();
        let (entries, partitions, payload_bytes, memory_bytes) = {
            let store = self.store.read();
            (
                store.len(),
                store.partition_count(),
                store.payload_bytes(),
                store.heap_bytes(),
            )
        };
        let c = &self.counters;
        Stats {
            entries: entries as u64,
            partitions: partitions as u64,
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            inserts: c.inserts.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            expirations: c.expirations.load(Ordering::Relaxed),
            deletes: c.deletes.load(Ordering::Relaxed),
            payload_bytes: payload_bytes as u64,
            memory_bytes: memory_bytes as u64,
        }
    }

    /// Every held entry (expired ones included until reclaimed), least recently used first.
    pub fn entries(&self) -> Vec<EntryInfo> {
        self.follow();
        let mut store = self.store.write();
        self.apply_touches(&mut store);
        store.entries_lru_order()
    }

    /// One live entry by id.
    pub fn entry(&self, id: EntryId) -> Option<EntryInfo> {
        self.follow();
        let store = self.store.read();
        let info = store.info_by_id(id)?;
        let now = self.clock.now_ms();
        info.expires_ms.is_none_or(|t| t > now).then_some(info)
    }

    fn prepare_write(&self, store: &mut Store, now: u64) -> Result<()> {
        self.apply_touches(store);
        self.reclaim(store, now)
    }

    fn reclaim(&self, store: &mut Store, now: u64) -> Result<()> {
        let reclaimed = store.reclaim_expired(now, RECLAIM_PER_WRITE);
        self.counters
            .expirations
            .fetch_add(reclaimed.len() as u64, Ordering::Relaxed);
        match &self.persist {
            Some(persist) => persist.log_removals(&reclaimed, Removal::Expired),
            None => Ok(()),
        }
    }

    fn apply_touches(&self, store: &mut Store) {
        let touches = std::mem::take(&mut *self.touches.lock());
        for (slot, generation) in touches {
            store.touch(slot, generation);
        }
    }

    /// The best `k` live entries at or above `threshold`, with their slots.
    #[allow(clippy::too_many_arguments)]
    fn ranked(
        &self,
        store: &Store,
        partition: &str,
        code: &[u64],
        embedding: &[f32],
        k: usize,
        threshold: f64,
        now: u64,
    ) -> Vec<(Hit, u32)> {
        let Some(part) = store.partition(partition) else {
            return Vec::new();
        };
        let bits = self.encoder.bits();
        let mut scored: Vec<(f64, EntryId, usize, u32)> = if self.config.rescore {
            let query_norm = embedding.iter().map(|v| v * v).sum::<f32>().sqrt();
            let limit = u32::try_from(bits).unwrap_or(u32::MAX);
            self.candidates(store, part, code, limit, k.max(RESCORE_CANDIDATES), now)
                .into_iter()
                .map(|c| {
                    let cosine = rescored_cosine(part, c.pos, embedding, query_norm);
                    (cosine, c.id, c.pos, c.distance)
                })
                .filter(|c| c.0 >= threshold)
                .collect()
        } else {
            let limit = if threshold == self.config.similarity_threshold {
                self.max_distance
            } else {
                max_distance_for(threshold, bits)
            };
            self.candidates(store, part, code, limit, k, now)
                .into_iter()
                .map(|c| (estimated_cosine(c.distance, bits), c.id, c.pos, c.distance))
                .collect()
        };
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        scored.truncate(k);
        scored
            .into_iter()
            .filter_map(|(similarity, id, pos, distance)| {
                hit_with(store, part, Candidate { distance, id, pos }, similarity)
            })
            .collect()
    }

    /// The best live candidate within the threshold's radius for each code of `group`: from the
    /// index where it answers, else from one scan shared by the rest of the group.
    fn nearest_each(
        &self,
        store: &Store,
        part: &Partition,
        group: &[u64],
        now: u64,
    ) -> Vec<Option<Candidate>> {
        let words = self.encoder.words();
        let k = 1.min(part.len());
        let codes: Vec<&[u64]> = group.chunks_exact(words).collect();
        let mut tops: Vec<TopK> = codes
            .iter()
            .map(|_| TopK::new(k, self.max_distance, store, part, now))
            .collect();
        let answered: Vec<bool> = codes
            .iter()
            .zip(&mut tops)
            .map(|(code, top)| part.index.search(&part.codes, code, top))
            .collect();
        let mut unanswered: Vec<(&[u64], &mut TopK)> = codes
            .iter()
            .zip(&mut tops)
            .zip(&answered)
            .filter(|(_, &answered)| !answered)
            .map(|((&code, top), _)| (code, top))
            .collect();
        if !unanswered.is_empty() {
            scan_many(self.kernel, &part.codes, 0..part.len(), &mut unanswered);
        }
        tops.into_iter().map(|t| t.items.first().copied()).collect()
    }

    /// The `k` nearest live codes within `limit`, by (distance, id).
    fn candidates(
        &self,
        store: &Store,
        part: &Partition,
        code: &[u64],
        limit: u32,
        k: usize,
        now: u64,
    ) -> Vec<Candidate> {
        let n = part.len();
        // No more can match than the partition holds, so k never sizes an allocation.
        let k = k.min(n);
        let threads = rayon::current_num_threads();
        let mut top = TopK::new(k, limit, store, part, now);
        if part.index.search(&part.codes, code, &mut top) {
            return top.items;
        }
        if n < PARALLEL_SCAN_MIN || threads < 2 {
            scan(self.kernel, &part.codes, 0..n, code, &mut top);
            return top.items;
        }
        let chunk = n.div_ceil(threads);
        let mut merged: Vec<Candidate> = (0..threads)
            .into_par_iter()
            .flat_map_iter(|t| {
                let mut top = TopK::new(k, limit, store, part, now);
                scan(
                    self.kernel,
                    &part.codes,
                    t * chunk..(t + 1) * chunk,
                    code,
                    &mut top,
                );
                top.items
            })
            .collect();
        merged.sort_by_key(|c| (c.distance, c.id));
        merged.truncate(k);
        merged
    }
}

/// The hit for a Hamming candidate, its similarity estimated from the distance.
fn hit_at(store: &Store, part: &Partition, c: Candidate, bits: usize) -> Option<(Hit, u32)> {
    hit_with(store, part, c, estimated_cosine(c.distance, bits))
}

/// The hit for a candidate with its similarity, and its slot; `None` if its payload is gone.
fn hit_with(store: &Store, part: &Partition, c: Candidate, similarity: f64) -> Option<(Hit, u32)> {
    let slot = part.slot_at(c.pos);
    let payload = store.payload(slot)?;
    let hit = Hit {
        id: c.id,
        similarity,
        distance: c.distance,
        kind: payload.kind(),
        payload: payload.bytes().to_vec(),
    };
    Some((hit, slot))
}

/// Re-scoring ranks by vectors beyond the Hamming radius, so `Auto` and `Approx` keep it on the
/// flat scan.
fn index_policy(mode: IndexMode, config: &CacheConfig, radius: u32, bits: usize) -> Policy {
    let mode = match mode {
        IndexMode::Auto | IndexMode::Approx if config.rescore => IndexMode::Flat,
        mode => mode,
    };
    Policy {
        mode,
        radius,
        bits,
        min_entries: config.index_min_entries,
    }
}

fn rescored_cosine(part: &Partition, pos: usize, query: &[f32], query_norm: f32) -> f64 {
    let Some((vector, norm)) = part.vector_at(pos, query.len()) else {
        return 0.0;
    };
    if norm == 0.0 || query_norm == 0.0 {
        return 0.0;
    }
    let dot: f32 = vector
        .iter()
        .zip(query)
        .map(|(&q, &x)| f32::from(q) * x)
        .sum();
    f64::from(dot / (norm * query_norm))
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    distance: u32,
    id: EntryId,
    pos: usize,
}

/// Keeps the `k` best live candidates by (distance, id).
struct TopK<'a> {
    k: usize,
    limit: u32,
    items: Vec<Candidate>,
    store: &'a Store,
    part: &'a Partition,
    now: u64,
}

impl<'a> TopK<'a> {
    fn new(k: usize, limit: u32, store: &'a Store, part: &'a Partition, now: u64) -> Self {
        Self {
            k,
            limit,
            items: Vec::with_capacity(k + 1),
            store,
            part,
            now,
        }
    }
}

impl Collector for TopK<'_> {
    fn bound(&self) -> u32 {
        if self.items.len() < self.k {
            self.limit
        } else {
            self.items.last().map_or(self.limit, |c| c.distance)
        }
    }

    fn offer(&mut self, pos: usize, distance: u32) {
        let Some(id) = self.store.live_id(self.part.slot_at(pos), self.now) else {
            return;
        };
        let at = self
            .items
            .partition_point(|c| (c.distance, c.id) < (distance, id));
        // An index that gives up before a scan may have offered this code already.
        let offered = self.items.get(at).is_some_and(|c| c.id == id);
        if at < self.k && !offered {
            self.items.insert(at, Candidate { distance, id, pos });
            self.items.truncate(self.k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = std::result::Result<(), Box<dyn std::error::Error>>;

    fn open(path: &std::path::Path) -> Result<Cache> {
        let config = CacheConfig {
            max_entries: 100,
            similarity_threshold: 0.95,
            ttl_seconds: None,
            rescore: false,
            ..CacheConfig::default()
        };
        let options = PersistOptions {
            durability: Durability::Manual,
            read_only: false,
            inherit_max_entries: false,
        };
        Cache::open(path, Some(Encoder::new(16, 128, 9)?), config, options)
    }

    fn vector(i: usize) -> Vec<f32> {
        (0..16)
            .map(|d| ((i * 31 + d * 17) % 13) as f32 - 6.0)
            .collect()
    }

    #[test]
    fn after_a_failed_sync_the_next_write_or_flush_writes_a_snapshot() -> TestResult {
        let path = std::env::temp_dir().join(format!("bsc-cache-sync-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        let cache = open(&path)?;
        cache.put(&vector(0), "p", 0, b"zero", None)?;
        cache.flush()?;
        cache.put(&vector(1), "p", 0, b"one", None)?;
        let persist = cache.persist.as_deref().ok_or("no persist")?;
        persist.fail_next_sync();
        assert!(cache.flush().is_err());
        assert!(persist.needs_snapshot());
        cache.put(&vector(2), "p", 0, b"two", None)?; // the write itself saves
        assert!(!persist.needs_snapshot());
        persist.fail_next_sync();
        cache.put(&vector(3), "p", 0, b"three", None)?;
        assert!(cache.flush().is_err());
        cache.flush()?; // a snapshot this time
        drop(cache);
        let mut payloads: Vec<Vec<u8>> = open(&path)?
            .entries()
            .into_iter()
            .map(|e| e.payload)
            .collect();
        payloads.sort();
        assert_eq!(payloads, [&b"one"[..], b"three", b"two", b"zero"]);
        std::fs::remove_dir_all(&path)?;
        Ok(())
    }

    #[test]
    fn search_with_a_huge_k_returns_what_matches() -> TestResult {
        let config = CacheConfig {
            max_entries: 100,
            similarity_threshold: 0.0,
            ttl_seconds: None,
            rescore: true,
            ..CacheConfig::default()
        };
        let cache = Cache::new(Encoder::new(16, 128, 9)?, config)?;
        for payload in [b"a", b"b", b"c"] {
            cache.put(&vector(0), "p", 0, payload, None)?;
        }
        // k sized a buffer before it was capped: usize::MAX aborted the process
        assert_eq!(cache.search(&vector(0), "p", usize::MAX, None)?.len(), 3);
        assert!(cache
            .search(&vector(0), "empty", usize::MAX, None)?
            .is_empty());
        Ok(())
    }
}
