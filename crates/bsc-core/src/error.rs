//! The one error type of the core. Every message says what was expected and what came.

use std::path::PathBuf;

/// Everything that can go wrong in `bsc-core`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("embedding has {got} dimensions, expected {expected}")]
    DimensionMismatch { expected: usize, got: usize },

    #[error(
        "embedding holds a non-finite value ({value}) at index {index}; expected finite numbers"
    )]
    NonFinite { index: usize, value: f32 },

    #[error("embedding_dim must be from 1 to {max}, got {0}", max = crate::encoder::MAX_DIM)]
    InvalidDimension(usize),

    #[error(
        "code_bits must be a positive multiple of 64 up to {max}, got {0}",
        max = crate::encoder::MAX_BITS
    )]
    InvalidCodeBits(usize),

    #[error("code has {got} words, expected {expected}")]
    CodeWidthMismatch { expected: usize, got: usize },

    #[error("similarity_threshold must be within [0, 1], got {0}")]
    InvalidThreshold(f64),

    #[error("max_entries must be at least 1, got {0}")]
    InvalidMaxEntries(usize),

    #[error("ttl_seconds must be a finite number greater than 0, got {0}")]
    InvalidTtl(f64),

    #[error("k must be at least 1, got {0}")]
    InvalidK(usize),

    #[error("payload is {got} bytes, the limit is {max} bytes")]
    PayloadTooLarge { max: usize, got: usize },

    #[error("payload kind must be below {max}, got {got}")]
    InvalidPayloadKind { max: u8, got: u8 },

    #[error("{path} holds no cache yet; give an encoder to create one")]
    NoCache { path: PathBuf },

    #[error("the cache at {path} was written with {expected}; got {got}")]
    EncoderMismatch {
        path: PathBuf,
        expected: String,
        got: String,
    },

    #[error(
        "the cache at {path} was written without re-scoring vectors; open it with rescore=False"
    )]
    RescoreMismatch { path: PathBuf },

    #[error("the cache at {path} was opened read-only; open it without read_only to write")]
    ReadOnly { path: PathBuf },

    #[error("I/O error on {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("corrupt cache file {path} at offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },

    #[error("{path} is format version {found}; this build reads versions up to {supported}")]
    UnsupportedFormat {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
}

pub type Result<T> = std::result::Result<T, Error>;
