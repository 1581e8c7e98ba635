//! bsc-core: the engine of the binary semantic cache.
//!
//! Embeddings become binary codes ([`Encoder`]); codes are kept per partition and searched by
//! Hamming distance ([`code`]); the [`Cache`] adds payloads, exact LRU eviction, TTL and counters.
//! No Python here: the bindings live in `bsc-py`.

pub mod cache;
pub mod clock;
pub mod code;
pub mod encoder;
pub mod error;
mod mih;
mod payload;
pub mod persist;
mod store;

pub use cache::{
    Cache, CacheConfig, Hit, Stats, DEFAULT_MAX_ENTRIES, DEFAULT_SIMILARITY_THRESHOLD,
    RESCORE_CANDIDATES,
};
pub use clock::{Clock, ManualClock, SystemClock};
pub use code::{estimated_cosine, hamming, max_distance_for, Kernel};
pub use encoder::{Encoder, DEFAULT_SEED};
pub use error::{Error, Result};
pub use mih::{IndexMode, MIH_MIN_ENTRIES};
pub use payload::MAX_PAYLOAD_BYTES;
pub use persist::repair::{repair, LostRange, RepairReport};
pub use persist::{Durability, PersistOptions, FORMAT_VERSION};
pub use store::{EntryId, EntryInfo};
