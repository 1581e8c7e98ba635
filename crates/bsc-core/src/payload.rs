//! Payload bytes behind one thin pointer.
//!
//! An entry's payload is a single heap block `[header: u32][bytes]`, where the header packs the
//! length (low 24 bits) and a caller-defined kind (high 8 bits). One pointer per entry instead of a
//! `Box<[u8]>`'s two words keeps the per-entry overhead within the memory budget.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ptr::NonNull;

use crate::error::{Error, Result};

/// The largest payload one entry can hold.
pub const MAX_PAYLOAD_BYTES: usize = (1 << 24) - 1;
const HEADER: usize = 4;

/// Owned payload bytes with a kind tag.
pub struct Payload {
    ptr: NonNull<u8>,
}

// SAFETY: `Payload` owns its block exclusively, like a `Box<[u8]>`.
unsafe impl Send for Payload {}
// SAFETY: shared access only reads the immutable block.
unsafe impl Sync for Payload {}

impl Payload {
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
        let header = (u32::from(kind) << 24) | bytes.len() as u32;
        // SAFETY: the block holds HEADER + len bytes, aligned to 4 for the header.
        unsafe {
            ptr.as_ptr().cast::<u32>().write(header);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), ptr.as_ptr().add(HEADER), bytes.len());
        }
        Ok(Self { ptr })
    }

    fn header(&self) -> u32 {
        // SAFETY: written in `new`, never changed.
        unsafe { self.ptr.as_ptr().cast::<u32>().read() }
    }

    pub fn kind(&self) -> u8 {
        (self.header() >> 24) as u8
    }

    pub fn len(&self) -> usize {
        (self.header() & 0x00FF_FFFF) as usize
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the block holds `len()` initialised bytes after the header.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(HEADER), self.len()) }
    }

    fn layout(len: usize) -> Layout {
        // HEADER + MAX_PAYLOAD_BYTES never overflows isize, so this cannot fail.
        Layout::from_size_align(HEADER + len, 4).unwrap_or(Layout::new::<u32>())
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this same layout.
        unsafe { dealloc(self.ptr.as_ptr(), Self::layout(self.len())) }
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
    fn rejects_oversized_payloads() {
        let big = vec![0u8; MAX_PAYLOAD_BYTES + 1];
        assert!(matches!(
            Payload::new(0, &big),
            Err(Error::PayloadTooLarge { .. })
        ));
    }
}
