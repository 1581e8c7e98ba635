//! Entries, partitions, LRU order and expiry: the state behind the cache's lock.
//!
//! Entries live in a slot table; a freed slot is reused and its generation bumped, so an
//! [`EntryId`] (slot and generation) never names a later entry. Each partition keeps the codes of
//! its entries contiguously ([`Planes`]) with the slot of each position, so a lookup scans only its
//! partition. The LRU order is an intrusive doubly-linked list through the slots.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::code::Planes;
use crate::mih::{Index, Policy};
use crate::payload::Payload;

/// Identifies one entry for as long as it lives: `generation << 32 | slot`.
pub type EntryId = u64;

/// The expiry of an entry that never expires.
pub const NEVER: u64 = (1 << 48) - 1;
const NIL: u32 = u32::MAX;

pub(crate) fn entry_id(slot: u32, generation: u32) -> EntryId {
    (u64::from(generation) << 32) | u64::from(slot)
}

pub(crate) fn split_id(id: EntryId) -> (u32, u32) {
    (id as u32, (id >> 32) as u32)
}

/// Milliseconds in 48 bits (until the year 10889), to keep a slot within 48 bytes.
#[derive(Debug, Clone, Copy, Default)]
struct Millis48([u16; 3]);

impl Millis48 {
    fn new(ms: u64) -> Self {
        let ms = ms.min(NEVER);
        Self([ms as u16, (ms >> 16) as u16, (ms >> 32) as u16])
    }

    fn get(self) -> u64 {
        u64::from(self.0[0]) | (u64::from(self.0[1]) << 16) | (u64::from(self.0[2]) << 32)
    }
}

#[derive(Debug)]
struct Slot {
    payload: Option<Payload>,
    created: Millis48,
    expires: Millis48,
    generation: u32,
    partition: u32,
    pos: u32,
    prev: u32,
    /// The next slot in LRU order, or in the free list while the slot is free.
    next: u32,
    hits: AtomicU32,
    /// Seconds since the Unix epoch (informational; the LRU order is the list).
    last_access_s: AtomicU32,
}

impl Slot {
    fn empty() -> Self {
        Self {
            payload: None,
            created: Millis48::default(),
            expires: Millis48::new(NEVER),
            generation: 0,
            partition: NIL,
            pos: 0,
            prev: NIL,
            next: NIL,
            hits: AtomicU32::new(0),
            last_access_s: AtomicU32::new(0),
        }
    }
}

/// Entries that may answer each other's lookups.
#[derive(Debug)]
pub(crate) struct Partition {
    name: Box<str>,
    pub(crate) codes: Planes,
    slots: Vec<u32>,
    /// int8 re-scoring vectors, `dim` per position, when re-scoring is on.
    vectors: Vec<i8>,
    norms: Vec<f32>,
    pub(crate) index: Index,
}

impl Partition {
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    pub(crate) fn slot_at(&self, pos: usize) -> u32 {
        self.slots[pos]
    }

    /// The int8 vector at `pos` and its Euclidean norm.
    pub(crate) fn vector_at(&self, pos: usize, dim: usize) -> Option<(&[i8], f32)> {
        let v = self.vectors.get(pos * dim..(pos + 1) * dim)?;
        Some((v, *self.norms.get(pos)?))
    }
}

/// What an entry holds, copied out for callers.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryInfo {
    pub id: EntryId,
    pub partition: String,
    pub code: Vec<u64>,
    pub kind: u8,
    pub payload: Vec<u8>,
    pub created_ms: u64,
    /// `None` when the entry never expires.
    pub expires_ms: Option<u64>,
    pub hits: u32,
    pub last_access_s: u32,
}

#[derive(Debug)]
pub(crate) struct Store {
    words: usize,
    dim: usize,
    rescore: bool,
    slots: Vec<Slot>,
    free_head: u32,
    lru_head: u32,
    lru_tail: u32,
    partitions: Vec<Partition>,
    index: Policy,
    by_name: HashMap<Box<str>, u32>,
    free_partitions: Vec<u32>,
    /// (expiry, slot, generation) for entries with a TTL; stale records are skipped when popped.
    expiry: BinaryHeap<Reverse<(u64, u32, u32)>>,
    len: usize,
    payload_bytes: usize,
    /// While a snapshot and log are replayed, slots are placed by id and freed slots are not
    /// listed; `finish_restore` lists them.
    restoring: bool,
    /// Mapped snapshots that borrowed payloads point into; declared last so they outlive the slots.
    mappings: Vec<Arc<dyn Any + Send + Sync>>,
}

/// One entry as a snapshot writes it.
pub(crate) struct EntryView<'a> {
    pub slot: u32,
    pub generation: u32,
    pub partition: u32,
    pub code: Vec<u64>,
    pub vector: Option<(&'a [i8], f32)>,
    pub payload: &'a Payload,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub hits: u32,
    pub last_access_s: u32,
}

/// One entry as a snapshot or log restores it.
pub(crate) struct Restored<'a> {
    pub id: EntryId,
    /// The store's index of the partition, from [`Store::partition_id`].
    pub partition: u32,
    pub code: &'a [u64],
    pub vector: Option<Quantised>,
    pub payload: Payload,
    pub created_ms: u64,
    pub expires_ms: u64,
    pub hits: u32,
    pub last_access_s: u32,
}

/// An int8 re-scoring vector and its norm.
pub(crate) type Quantised = (Vec<i8>, f32);

impl Store {
    pub(crate) fn new(words: usize, dim: usize, rescore: bool) -> Self {
        Self {
            words,
            dim,
            rescore,
            slots: Vec::new(),
            free_head: NIL,
            lru_head: NIL,
            lru_tail: NIL,
            partitions: Vec::new(),
            index: Policy::flat(),
            by_name: HashMap::new(),
            free_partitions: Vec::new(),
            expiry: BinaryHeap::new(),
            len: 0,
            payload_bytes: 0,
            restoring: false,
            mappings: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn payload_bytes(&self) -> usize {
        self.payload_bytes
    }

    pub(crate) fn partition_count(&self) -> usize {
        self.by_name.len()
    }

    pub(crate) fn partition(&self, name: &str) -> Option<&Partition> {
        let index = *self.by_name.get(name)?;
        self.partitions.get(index as usize)
    }

    /// The entry in `slot`, if it is live at `now`.
    pub(crate) fn live_id(&self, slot: u32, now: u64) -> Option<EntryId> {
        let s = &self.slots[slot as usize];
        (s.payload.is_some() && s.expires.get() > now).then(|| entry_id(slot, s.generation))
    }

    pub(crate) fn payload(&self, slot: u32) -> Option<&Payload> {
        self.slots[slot as usize].payload.as_ref()
    }

    /// Counts a hit on `slot`; safe under a shared lock.
    pub(crate) fn record_hit(&self, slot: u32, now_ms: u64) {
        let s = &self.slots[slot as usize];
        s.hits.fetch_add(1, Ordering::Relaxed);
        s.last_access_s.store(seconds(now_ms), Ordering::Relaxed);
    }

    pub(crate) fn insert(
        &mut self,
        partition: &str,
        code: &[u64],
        vector: Option<&[f32]>,
        payload: Payload,
        now_ms: u64,
        expires_ms: u64,
    ) -> EntryId {
        let slot = self.allocate_slot();
        let quantised = self
            .rescore
            .then(|| quantise(vector.unwrap_or(&[]), self.dim));
        let s = &mut self.slots[slot as usize];
        *s.hits.get_mut() = 0;
        *s.last_access_s.get_mut() = seconds(now_ms);
        let part_index = self.partition_id(partition);
        self.place(
            slot, part_index, code, quantised, payload, now_ms, expires_ms,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn place(
        &mut self,
        slot: u32,
        part_index: u32,
        code: &[u64],
        quantised: Option<Quantised>,
        payload: Payload,
        created_ms: u64,
        expires_ms: u64,
    ) -> EntryId {
        let part = &mut self.partitions[part_index as usize];
        let pos = part.slots.len() as u32;
        part.codes.push(code);
        part.index.pushed(&part.codes, self.index);
        part.slots.push(slot);
        if self.rescore {
            let (vector, norm) = quantised.unwrap_or_else(|| (vec![0; self.dim], 0.0));
            part.vectors.extend_from_slice(&vector);
            part.norms.push(norm);
        }
        self.payload_bytes += payload.len();
        let s = &mut self.slots[slot as usize];
        s.payload = Some(payload);
        s.created = Millis48::new(created_ms);
        s.expires = Millis48::new(expires_ms);
        s.partition = part_index;
        s.pos = pos;
        let generation = s.generation;
        if expires_ms < NEVER {
            self.expiry.push(Reverse((expires_ms, slot, generation)));
        }
        self.link_tail(slot);
        self.len += 1;
        entry_id(slot, generation)
    }

    /// Indexes every partition as `policy` says, from now on.
    pub(crate) fn set_index(&mut self, policy: Policy) {
        self.index = policy;
        for part in &mut self.partitions {
            part.index.refresh(&part.codes, policy);
        }
    }

    pub(crate) fn index_policy(&self) -> Policy {
        self.index
    }

    /// Makes room for `additional` more slots at once (a snapshot knows its entry count).
    pub(crate) fn reserve(&mut self, additional: usize) {
        self.slots.reserve(additional);
    }

    /// Starts placing entries by id (snapshot load and log replay).
    pub(crate) fn begin_restore(&mut self) {
        self.restoring = true;
    }

    /// Places one restored entry in its own slot, at the most recently used end. False when the
    /// slot is already taken (a damaged snapshot or log).
    pub(crate) fn restore(&mut self, entry: Restored<'_>) -> bool {
        let (slot, generation) = split_id(entry.id);
        if slot == NIL {
            return false;
        }
        while self.slots.len() <= slot as usize {
            self.slots.push(Slot::empty());
        }
        let s = &mut self.slots[slot as usize];
        if s.payload.is_some() {
            return false;
        }
        s.generation = generation;
        *s.hits.get_mut() = entry.hits;
        *s.last_access_s.get_mut() = entry.last_access_s;
        self.place(
            slot,
            entry.partition,
            entry.code,
            entry.vector,
            entry.payload,
            entry.created_ms,
            entry.expires_ms,
        );
        true
    }

    /// Ends a restore: free slots keep at least their persisted generation and are listed.
    pub(crate) fn finish_restore(&mut self, generations: &[u32]) {
        self.restoring = false;
        while self.slots.len() < generations.len() {
            self.slots.push(Slot::empty());
        }
        self.free_head = NIL;
        for index in (0..self.slots.len()).rev() {
            let s = &mut self.slots[index];
            if s.payload.is_none() {
                if let Some(&g) = generations.get(index) {
                    s.generation = s.generation.max(g);
                }
                s.next = self.free_head;
                self.free_head = index as u32;
            }
        }
    }

    /// Keeps a mapping alive for payloads borrowed from it.
    pub(crate) fn keep_mapping(&mut self, mapping: Arc<dyn Any + Send + Sync>) {
        self.mappings.push(mapping);
    }

    /// Every slot's generation, free slots included, so reopened ids never repeat old ones.
    pub(crate) fn generations(&self) -> Vec<u32> {
        self.slots.iter().map(|s| s.generation).collect()
    }

    /// Partition names by index; freed indexes have empty names and no entries.
    pub(crate) fn partition_names(&self) -> Vec<&str> {
        self.partitions.iter().map(|p| &*p.name).collect()
    }

    /// Calls `f` for every held entry, least recently used first.
    pub(crate) fn for_each_lru<E>(
        &self,
        mut f: impl FnMut(EntryView<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut slot = self.lru_head;
        while slot != NIL {
            if let Some(view) = self.view(slot) {
                f(view)?;
            }
            slot = self.slots[slot as usize].next;
        }
        Ok(())
    }

    /// The live entry in `slot`, borrowed.
    fn view(&self, slot: u32) -> Option<EntryView<'_>> {
        let s = self.slots.get(slot as usize)?;
        let payload = s.payload.as_ref()?;
        let part = self.partitions.get(s.partition as usize)?;
        let pos = s.pos as usize;
        Some(EntryView {
            slot,
            generation: s.generation,
            partition: s.partition,
            code: part.codes.code(pos),
            vector: part.vector_at(pos, self.dim),
            payload,
            created_ms: s.created.get(),
            expires_ms: s.expires.get(),
            hits: s.hits.load(Ordering::Relaxed),
            last_access_s: s.last_access_s.load(Ordering::Relaxed),
        })
    }

    /// Moves a live entry to the most recently used end.
    pub(crate) fn touch(&mut self, slot: u32, generation: u32) {
        let s = &self.slots[slot as usize];
        if s.payload.is_some() && s.generation == generation {
            self.unlink(slot);
            self.link_tail(slot);
        }
    }

    pub(crate) fn generation(&self, slot: u32) -> u32 {
        self.slots[slot as usize].generation
    }

    pub(crate) fn delete(&mut self, id: EntryId) -> bool {
        let (slot, generation) = split_id(id);
        match self.slots.get(slot as usize) {
            Some(s) if s.payload.is_some() && s.generation == generation => {
                self.remove(slot);
                true
            }
            _ => false,
        }
    }

    /// Removes the least recently used entry and returns its id.
    pub(crate) fn evict_lru(&mut self) -> Option<EntryId> {
        if self.lru_head == NIL {
            return None;
        }
        let slot = self.lru_head;
        let id = entry_id(slot, self.slots[slot as usize].generation);
        self.remove(slot);
        Some(id)
    }

    /// Whether any held entry has expired by `now`.
    pub(crate) fn has_expired(&mut self, now_ms: u64) -> bool {
        self.drop_stale_expiry_records();
        self.expiry
            .peek()
            .is_some_and(|Reverse((t, _, _))| *t <= now_ms)
    }

    /// Removes up to `limit` entries expired by `now`, earliest expiry first; returns their ids.
    pub(crate) fn reclaim_expired(&mut self, now_ms: u64, limit: usize) -> Vec<EntryId> {
        let mut reclaimed = Vec::new();
        while reclaimed.len() < limit {
            self.drop_stale_expiry_records();
            match self.expiry.peek() {
                Some(Reverse((t, slot, generation))) if *t <= now_ms => {
                    let (slot, generation) = (*slot, *generation);
                    self.expiry.pop();
                    self.remove(slot);
                    reclaimed.push(entry_id(slot, generation));
                }
                _ => break,
            }
        }
        // Records of entries deleted or evicted early wait until their expiry; rebuild the heap
        // when they outnumber the live entries so it stays proportional to the cache.
        if self.expiry.len() > 2 * self.len + 1024 {
            self.rebuild_expiry();
        }
        reclaimed
    }

    pub(crate) fn clear_all(&mut self) -> usize {
        let removed = self.len;
        self.free_head = NIL;
        for index in (0..self.slots.len()).rev() {
            let s = &mut self.slots[index];
            if s.payload.take().is_some() {
                s.generation = s.generation.wrapping_add(1);
            }
            s.partition = NIL;
            s.prev = NIL;
            s.next = self.free_head;
            self.free_head = index as u32;
        }
        self.partitions.clear();
        self.by_name.clear();
        self.free_partitions.clear();
        self.expiry.clear();
        self.lru_head = NIL;
        self.lru_tail = NIL;
        self.len = 0;
        self.payload_bytes = 0;
        removed
    }

    pub(crate) fn clear_partition(&mut self, name: &str) -> usize {
        let Some(&index) = self.by_name.get(name) else {
            return 0;
        };
        let slots: Vec<u32> = self.partitions[index as usize].slots.clone();
        // Removing from the back keeps every swap_remove a plain pop.
        for &slot in slots.iter().rev() {
            self.remove(slot);
        }
        slots.len()
    }

    /// Every held entry, least recently used first.
    pub(crate) fn entries_lru_order(&self) -> Vec<EntryInfo> {
        let mut out = Vec::with_capacity(self.len);
        let walked: Result<(), std::convert::Infallible> = self.for_each_lru(|view| {
            out.push(self.info_of(&view));
            Ok(())
        });
        let Ok(()) = walked;
        out
    }

    pub(crate) fn info(&self, slot: u32) -> Option<EntryInfo> {
        self.view(slot).map(|view| self.info_of(&view))
    }

    fn info_of(&self, view: &EntryView<'_>) -> EntryInfo {
        EntryInfo {
            id: entry_id(view.slot, view.generation),
            partition: self.partitions[view.partition as usize].name.to_string(),
            code: view.code.clone(),
            kind: view.payload.kind(),
            payload: view.payload.bytes().to_vec(),
            created_ms: view.created_ms,
            expires_ms: (view.expires_ms < NEVER).then_some(view.expires_ms),
            hits: view.hits,
            last_access_s: view.last_access_s,
        }
    }

    pub(crate) fn info_by_id(&self, id: EntryId) -> Option<EntryInfo> {
        let (slot, generation) = split_id(id);
        let info = self.info(slot)?;
        (info.id == entry_id(slot, generation)).then_some(info)
    }

    /// Approximate heap bytes held for entries (slots, codes, vectors, payloads).
    pub(crate) fn heap_bytes(&self) -> usize {
        let slots = self.slots.capacity() * std::mem::size_of::<Slot>();
        let parts: usize = self
            .partitions
            .iter()
            .map(|p| {
                p.codes.heap_bytes()
                    + p.slots.capacity() * 4
                    + p.vectors.capacity()
                    + p.index.heap_bytes()
            })
            .sum();
        slots + parts + self.payload_bytes + self.len * 4
    }

    fn allocate_slot(&mut self) -> u32 {
        if self.free_head != NIL {
            let slot = self.free_head;
            self.free_head = self.slots[slot as usize].next;
            return slot;
        }
        self.slots.push(Slot::empty());
        (self.slots.len() - 1) as u32
    }

    /// The index of the partition named `name`, created if it does not exist yet.
    pub(crate) fn partition_id(&mut self, name: &str) -> u32 {
        if let Some(&index) = self.by_name.get(name) {
            return index;
        }
        let part = Partition {
            name: name.into(),
            codes: Planes::new(self.words),
            slots: Vec::new(),
            vectors: Vec::new(),
            norms: Vec::new(),
            index: Index::default(),
        };
        let index = match self.free_partitions.pop() {
            Some(index) => {
                self.partitions[index as usize] = part;
                index
            }
            None => {
                self.partitions.push(part);
                (self.partitions.len() - 1) as u32
            }
        };
        self.by_name.insert(name.into(), index);
        index
    }

    fn remove(&mut self, slot: u32) {
        self.unlink(slot);
        let s = &mut self.slots[slot as usize];
        let (part_index, pos) = (s.partition, s.pos as usize);
        if let Some(payload) = s.payload.take() {
            self.payload_bytes -= payload.len();
        }
        s.generation = s.generation.wrapping_add(1);
        s.partition = NIL;
        if !self.restoring {
            s.next = self.free_head;
            self.free_head = slot;
        }
        self.len -= 1;

        let dim = self.dim;
        let part = &mut self.partitions[part_index as usize];
        part.index.removing(&part.codes, pos, self.index);
        part.codes.swap_remove(pos);
        part.slots.swap_remove(pos);
        if self.rescore {
            let last = part.norms.len() - 1;
            part.vectors
                .copy_within(last * dim..(last + 1) * dim, pos * dim);
            part.vectors.truncate(last * dim);
            part.norms.swap_remove(pos);
        }
        if let Some(&moved) = part.slots.get(pos) {
            self.slots[moved as usize].pos = pos as u32;
        }
        if part.slots.is_empty() {
            let name = std::mem::take(&mut part.name);
            *part = Partition {
                name: Box::default(),
                codes: Planes::new(0),
                slots: Vec::new(),
                vectors: Vec::new(),
                norms: Vec::new(),
                index: Index::default(),
            };
            self.by_name.remove(&name);
            self.free_partitions.push(part_index);
        }
    }

    fn link_tail(&mut self, slot: u32) {
        let tail = self.lru_tail;
        {
            let s = &mut self.slots[slot as usize];
            s.prev = tail;
            s.next = NIL;
        }
        if tail == NIL {
            self.lru_head = slot;
        } else {
            self.slots[tail as usize].next = slot;
        }
        self.lru_tail = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = {
            let s = &self.slots[slot as usize];
            (s.prev, s.next)
        };
        if prev == NIL {
            self.lru_head = next;
        } else {
            self.slots[prev as usize].next = next;
        }
        if next == NIL {
            self.lru_tail = prev;
        } else {
            self.slots[next as usize].prev = prev;
        }
        let s = &mut self.slots[slot as usize];
        s.prev = NIL;
        s.next = NIL;
    }

    fn drop_stale_expiry_records(&mut self) {
        while let Some(Reverse((_, slot, generation))) = self.expiry.peek() {
            let s = &self.slots[*slot as usize];
            if s.payload.is_some() && s.generation == *generation {
                break;
            }
            self.expiry.pop();
        }
    }

    fn rebuild_expiry(&mut self) {
        self.expiry = self
            .slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.payload.is_some() && s.expires.get() < NEVER)
            .map(|(i, s)| Reverse((s.expires.get(), i as u32, s.generation)))
            .collect();
    }
}

fn seconds(ms: u64) -> u32 {
    u32::try_from(ms / 1000).unwrap_or(u32::MAX)
}

/// Symmetric int8 quantisation; the scale cancels out of the cosine, so only the norm is kept.
pub(crate) fn quantise(vector: &[f32], dim: usize) -> (Vec<i8>, f32) {
    let max = vector.iter().fold(0f32, |m, v| m.max(v.abs()));
    let scale = if max > 0.0 { 127.0 / max } else { 0.0 };
    let mut out: Vec<i8> = vector.iter().map(|v| (v * scale).round() as i8).collect();
    out.resize(dim, 0);
    let norm = out
        .iter()
        .map(|&q| f32::from(q) * f32::from(q))
        .sum::<f32>()
        .sqrt();
    (out, norm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_stays_within_48_bytes() {
        assert!(
            std::mem::size_of::<Slot>() <= 48,
            "{}",
            std::mem::size_of::<Slot>()
        );
    }

    #[test]
    fn millis48_round_trips() {
        for ms in [0, 1, 65_535, 65_536, 1_700_000_000_123, NEVER] {
            assert_eq!(Millis48::new(ms).get(), ms);
        }
    }
}
