//! Payload bytes behind one thin pointer.
//!
//! An entry's payload is a single block `[header: u32][bytes]`, where the header packs the length
//! (low 24 bits) and a caller-defined kind (high 8 bits). One pointer per entry instead of a
//! `Box<[u8]>`'s two words keeps the per-entry overhead within the memory budget.
//!
//! A block is either owned (allocated here) or borrowed from a memory-mapped snapshot, which
//! has the same layout; bit 0 of the pointer (blocks are 4-aligned) tells which, so opening a
//! large cache allocates nothing per payload. The store keeps the mapping alive while any
//! borrowed payload exists.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

use crate::error::{Error, Result};

/// The largest payload one entry can hold.
pub const MAX_PAYLOAD_BYTES: usize = (1 << 24) - 1;
pub(crate) const HEADER: usize = 4;
const BORROWED: usize = 1;

/// Owned payload bytes with a kind tag.
pub struct Payload {
    ptr: NonNull<u8>,
}

// SAFETY: `Payload` owns its block exclusively, like a `Box<[u8]>`.
unsafe impl Send for Payload {}
// SAFETY: shared access only reads the immutable block.
unsafe impl Sync for Payload {}

impl Payload {
    pub(crate) fn pack_header(kind: u8, len: usize) -> u32 {
        (u32::from(kind) << 24) | len as u32
    }

    pub fn new(kind: u8, bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_PAYLOAD_BYTES {
            return Err(Error::PayloadTooLarge {
                max: MAX_PAYLOAD_BYTES,
                got: bytes.len(),
            });
        }
        let layout = Self::layout(bytes.len());
        // SAFETY: the layout is at least HEADER bytes, never zero-sized.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        let header = Self::pack_header(kind, bytes.len());
        // SAFETY: the block holds HEADER + len bytes, aligned to 4 for the header.
        unsafe {
            ptr.as_ptr().cast::<u32>().write(header);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr().add(HEADER), bytes.len());
        }
        Ok(Self { ptr })
    }

    /// A payload that points into a mapped block of the same layout.
    ///
    /// # Safety
    /// `block` must be 4-aligned, hold a header whose length is followed by that many bytes, and
    /// stay mapped and unchanged for as long as the returned payload lives.
    pub(crate) unsafe fn borrowed(block: NonNull<u8>) -> Self {
        // SAFETY: tagging bit 0 of a 4-aligned address keeps it non-null.
        let tagged = unsafe { NonNull::new_unchecked(block.as_ptr().map_addr(|a| a | BORROWED)) };
        Self { ptr: tagged }
    }

    fn is_borrowed(&self) -> bool {
        self.ptr.as_ptr().addr() & BORROWED != 0
    }

    fn block(&self) -> *mut u8 {
        self.ptr.as_ptr().map_addr(|a| a & !BORROWED)
    }

    pub(crate) fn header(&self) -> u32 {
        // SAFETY: the block starts with its header (written in `new` or checked by the loader).
        unsafe { self.block().cast::<u32>().read() }
    }

    pub fn kind(&self) -> u8 {
        (self.header() >> 24) as u8
    }

    pub fn len(&self) -> usize {
        (self.header() & 0x00FF_FFFF) as usize
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the block holds `len()` initialised bytes after the header.
        unsafe { std::slice::from_raw_parts(self.block().add(HEADER), self.len()) }
    }

    fn layout(len: usize) -> Layout {
        // HEADER + MAX_PAYLOAD_BYTES never overflows isize, so this cannot fail.
        Layout::from_size_align(HEADER + len, 4).unwrap_or(Layout::new::<u32>())
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        if !self.is_borrowed() {
            // SAFETY: allocated in `new` with this same layout.
            unsafe { dealloc(self.block(), Self::layout(self.len())) }
        }
    }
}

impl std::fmt::Debug for Payload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payload")
            .field("kind", &self.kind())
            .field("len", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_bytes_and_kind() -> Result<()> {
        for len in [0usize, 1, 3, 4, 100, 70_000] {
            let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let p = Payload::new(7, &bytes)?;
            assert_eq!(p.bytes(), &bytes[..]);
            assert_eq!(p.kind(), 7);
            assert_eq!(p.len(), len);
        }
        Ok(())
    }

    #[test]
    fn borrowed_payloads_read_the_block_and_free_nothing() {
        let mut block = vec![0u32; 3];
        block[0] = Payload::pack_header(2, 5);
        let bytes: &mut [u8] = bytemuck_bytes(&mut block);
        bytes[4..9].copy_from_slice(b"hello");
        let ptr = NonNull::new(bytes.as_mut_ptr());
        let p = ptr.map(|p| unsafe { Payload::borrowed(p) });
        assert_eq!(
            p.as_ref().map(|p| (p.kind(), p.bytes().to_vec())),
            Some((2, b"hello".to_vec()))
        );
        drop(p); // must not free `block`
        assert_eq!(block[0], Payload::pack_header(2, 5));
    }

    fn bytemuck_bytes(words: &mut [u32]) -> &mut [u8] {
        // SAFETY: u32 has no padding and any byte pattern is valid.
        unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast(), words.len() * 4) }
    }

    #[test]
    fn rejects_oversized_payloads() {
        let big = vec![0u8; MAX_PAYLOAD_BYTES + 1];
        assert!(matches!(
            Payload::new(0, &big),
            Err(Error::PayloadTooLarge { .. })
        ));
    }
}
