//! Byte-level helpers shared by the snapshot and the log: little-endian writers, and a reader
//! that checks every length against what is left, so nothing read from disk is trusted.

use std::path::Path;

use crate::error::{Error, Result};

/// The newest format this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;
/// Version 1: log records without a header checksum, no acknowledged-length mark, no link
/// between snapshot and log. Still read; a writer upgrades such a directory by saving.
pub const V1: u32 = 1;
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"BSC-SNAP";
pub const LOG_MAGIC: &[u8; 8] = b"BSC-LOG\0";

pub fn crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Appends little-endian values to a buffer.
pub struct Writer<'a>(pub &'a mut Vec<u8>);

impl Writer<'_> {
    pub fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    pub fn bytes(&mut self, v: &[u8]) {
        self.0.extend_from_slice(v);
    }
    /// A u32 length followed by the bytes.
    pub fn blob(&mut self, v: &[u8]) {
        self.u32(v.len() as u32);
        self.bytes(v);
    }
    pub fn pad_to(&mut self, align: usize) {
        while !self.0.len().is_multiple_of(align) {
            self.0.push(0);
        }
    }
}

/// Reads little-endian values from `buf`, reporting file offsets in its errors.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// Offset of `buf[0]` in the file.
    base: u64,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], base: u64, path: &'a Path) -> Self {
        Self {
            buf,
            pos: 0,
            base,
            path,
        }
    }

    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn corrupt(&self, reason: impl Into<String>) -> Error {
        corrupt(self.path, self.offset(), reason)
    }

    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.corrupt(format!(
                "needs {n} more bytes, only {} remain",
                self.remaining()
            )));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub fn u8(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    pub fn u32(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// A u32 length (at most `max`) followed by that many bytes.
    pub fn blob(&mut self, max: usize) -> Result<&'a [u8]> {
        let len = self.u32()? as usize;
        if len > max {
            return Err(self.corrupt(format!("length {len} exceeds the limit {max}")));
        }
        self.bytes(len)
    }

    pub fn str(&mut self, max: usize) -> Result<&'a str> {
        let at = self.offset();
        let bytes = self.blob(max)?;
        std::str::from_utf8(bytes).map_err(|_| corrupt(self.path, at, "a name is not UTF-8"))
    }
}

/// The encoder a file was written for: the fields both file headers start with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub dim: usize,
    pub bits: usize,
    pub seed: u64,
    pub rescore: bool,
}

/// Writes magic, format version and shape: the first 28 bytes of a snapshot or log.
pub fn write_prelude(w: &mut Writer<'_>, magic: &[u8; 8], shape: &Shape) {
    w.bytes(magic);
    w.u32(FORMAT_VERSION);
    w.u32(shape.dim as u32);
    w.u32(shape.bits as u32);
    w.u8(u8::from(shape.rescore));
    w.bytes(&[0; 3]);
    w.u64(shape.seed);
}

/// Reads what [`write_prelude`] wrote, with the file's version; a newer version is
/// `UnsupportedFormat`, not damage.
pub fn read_prelude(r: &mut Reader<'_>, magic: &[u8; 8], what: &str) -> Result<(Shape, u32)> {
    if r.bytes(8).ok() != Some(magic.as_slice()) {
        return Err(r.corrupt(format!("not a bsc-cache {what} (bad magic)")));
    }
    let version = r.u32()?;
    if version > FORMAT_VERSION {
        return Err(Error::UnsupportedFormat {
            path: r.path.to_path_buf(),
            found: version,
            supported: FORMAT_VERSION,
        });
    }
    if version == 0 {
        return Err(r.corrupt("format version 0"));
    }
    let dim = r.u32()? as usize;
    let bits = r.u32()? as usize;
    let rescore = r.u8()? != 0;
    r.bytes(3)?;
    let seed = r.u64()?;
    let shape = Shape {
        dim,
        bits,
        seed,
        rescore,
    };
    Ok((shape, version))
}

/// A number naming one log file, so a snapshot can say which log must follow it. Never 0
/// (0 is the log of a cache that was never saved).
pub fn new_generation() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    RandomState::new().hash_one(nanos) | 1
}

pub fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> Error {
    Error::Corrupt {
        path: path.to_path_buf(),
        offset,
        reason: reason.into(),
    }
}
