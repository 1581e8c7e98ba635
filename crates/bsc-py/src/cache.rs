//! `BinarySemanticCache` and `CacheHit`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bsc_core::{
    Cache, CacheConfig, Durability, Hit, IndexMode, PersistOptions, DEFAULT_MAX_ENTRIES,
    DEFAULT_SIMILARITY_THRESHOLD,
};
use parking_lot::RwLock;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::args::{EntryId, FlushInterval, MaxEntries, MinSimilarity, Threshold, TtlSeconds, K};
use crate::arrays;
use crate::encoder::PyBinaryEncoder;
use crate::errors::to_py;
use crate::response;

/// The partition of lookups and puts that name none.
const DEFAULT_PARTITION: &str = "";
/// Rows copied out of numpy per GIL release in batch calls: small enough that the copy stays
/// below the allocator's mmap threshold and leaves no large block behind.
const BATCH_ROWS: usize = 64;
/// Rows of a `get_batch` block: enough groups of queries to keep every core on its own scan.
const LOOKUP_BATCH_ROWS: usize = 1024;

/// One entry found by a lookup.
#[pyclass(module = "binary_semantic_cache._core", name = "CacheHit", frozen)]
pub struct PyCacheHit {
    /// The response as it was given to ``put``.
    #[pyo3(get)]
    response: Py<PyAny>,
    /// Estimated cosine similarity (or the re-scored cosine), 0..1.
    #[pyo3(get)]
    similarity: f64,
    /// The entry's id, for ``delete``.
    #[pyo3(get)]
    id: u64,
    /// Hamming distance between the codes.
    #[pyo3(get)]
    distance: u32,
}

#[pymethods]
impl PyCacheHit {
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "CacheHit(id={}, similarity={:.4}, distance={}, response={})",
            self.id,
            self.similarity,
            self.distance,
            self.response.bind(py).repr()?
        ))
    }
}

fn to_hit(py: Python<'_>, hit: Hit) -> PyResult<PyCacheHit> {
    Ok(PyCacheHit {
        response: response::decode(py, hit.kind, &hit.payload)?,
        similarity: hit.similarity,
        id: hit.id,
        distance: hit.distance,
    })
}

/// A semantic cache: embeddings in, the response stored for the nearest similar embedding out.
///
/// Lookups and puts are thread-safe and release the GIL. A ``partition`` keeps entries apart:
/// a lookup never returns an entry of another partition. With ``path`` the cache lives in that
/// directory: changes are logged and made durable per ``durability`` ("always", "interval"
/// every ``flush_interval_seconds``, or "manual"), ``save()`` writes a snapshot, ``close()``
/// saves and releases the directory. ``read_only=True`` opens it beside the writer, without
/// its lock, and follows it: what the writer flushes, saves or deletes shows up within about
/// 200 ms. ``max_entries=None`` keeps the bound a stored cache was
/// written with (100,000 for a new one).
///
/// Example:
///     >>> cache = BinarySemanticCache(BinaryEncoder(384), max_entries=10_000)
///     >>> cache.put(embedding, "Paris")
///     >>> cache.get(embedding).response
///     'Paris'
///     >>> with BinarySemanticCache(BinaryEncoder(384), path="cache-dir") as durable:
///     ...     durable.put(embedding, "Paris")
#[pyclass(
    module = "binary_semantic_cache._core",
    name = "BinarySemanticCache",
    frozen,
    subclass
)]
pub struct PyBinarySemanticCache {
    /// `None` once closed.
    inner: RwLock<Option<Arc<Cache>>>,
    encoder: Py<PyBinaryEncoder>,
}

fn persist_options(
    durability: &str,
    flush_interval_seconds: f64,
    read_only: bool,
) -> PyResult<PersistOptions> {
    let durability = match durability {
        "always" => Durability::EveryWrite,
        "manual" => Durability::Manual,
        "interval" => {
            if !(flush_interval_seconds.is_finite() && flush_interval_seconds > 0.0) {
                return Err(PyValueError::new_err(format!(
                    "flush_interval_seconds must be a finite number greater than 0, got {flush_interval_seconds}"
                )));
            }
            Durability::Interval(Duration::from_secs_f64(flush_interval_seconds))
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "durability must be 'always', 'interval' or 'manual', got {other:?}"
            )))
        }
    };
    Ok(PersistOptions {
        durability,
        read_only,
        inherit_max_entries: false,
    })
}

fn index_mode(name: &str) -> PyResult<IndexMode> {
    IndexMode::parse(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "index must be 'auto', 'flat', 'mih' or 'approx', got {name:?}"
        ))
    })
}

/// A cache directory is created 0700; one that already exists keeps its mode, so a mode that
/// lets others in is worth a warning (cached answers may hold anything a prompt held).
fn warn_if_others_can_read(py: Python<'_>, path: &std::path::Path) -> PyResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if meta.is_dir() && mode & 0o077 != 0 {
                let message = format!(
                    "the cache directory {} has mode {mode:04o}: other users can read or enter \
                     it; expected 0700 (chmod 700 it)",
                    path.display()
                );
                let category = py.get_type::<pyo3::exceptions::PyUserWarning>();
                PyErr::warn(py, &category, &std::ffi::CString::new(message)?, 1)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (py, path);
    Ok(())
}

#[pymethods]
impl PyBinarySemanticCache {
    #[new]
    #[pyo3(signature = (
        encoder = None,
        max_entries = None,
        similarity_threshold = Threshold(DEFAULT_SIMILARITY_THRESHOLD),
        ttl_seconds = None,
        rescore = false,
        path = None,
        durability = "interval",
        flush_interval_seconds = FlushInterval(1.0),
        read_only = false,
        index = "auto",
    ),
    // The defaults are checked types, which Python would show as "...".
    text_signature = "(encoder=None, max_entries=None, similarity_threshold=..., \
        ttl_seconds=None, rescore=False, path=None, durability='interval', \
        flush_interval_seconds=1.0, read_only=False, index='auto')")]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        encoder: Option<Bound<'_, PyBinaryEncoder>>,
        max_entries: Option<MaxEntries>,
        similarity_threshold: Threshold,
        ttl_seconds: Option<TtlSeconds>,
        rescore: bool,
        path: Option<PathBuf>,
        durability: &str,
        flush_interval_seconds: FlushInterval,
        read_only: bool,
        index: &str,
    ) -> PyResult<Self> {
        let index = index_mode(index)?;
        let config = CacheConfig {
            max_entries: max_entries.as_ref().map_or(DEFAULT_MAX_ENTRIES, |m| m.0),
            similarity_threshold: similarity_threshold.0,
            ttl_seconds: ttl_seconds.map(|t| t.0),
            rescore,
            index,
            ..CacheConfig::default()
        };
        // Checked with or without a path, so a typo is found before the path is added.
        let options = PersistOptions {
            inherit_max_entries: max_entries.is_none(),
            ..persist_options(durability, flush_interval_seconds.0, read_only)?
        };
        let core_encoder = encoder.as_ref().map(|e| (*e.get().inner).clone());
        let cache = match path {
            Some(path) => {
                if !read_only {
                    warn_if_others_can_read(py, &path)?;
                }
                py.detach(|| Cache::open(&path, core_encoder, config, options))
            }
            None => {
                let core_encoder = core_encoder.ok_or_else(|| {
                    PyValueError::new_err(
                        "an encoder is required unless path names an existing cache",
                    )
                })?;
                Cache::new(core_encoder, config)
            }
        }
        .map_err(to_py)?;
        let encoder = match encoder {
            Some(e) => e.unbind(),
            None => Py::new(
                py,
                PyBinaryEncoder {
                    inner: Arc::new(cache.encoder().clone()),
                },
            )?,
        };
        Ok(Self {
            inner: RwLock::new(Some(Arc::new(cache))),
            encoder,
        })
    }

    #[getter]
    fn encoder(&self, py: Python<'_>) -> Py<PyBinaryEncoder> {
        self.encoder.clone_ref(py)
    }

    /// The directory the cache persists to, or ``None`` when it lives in memory only.
    #[getter]
    fn path(&self) -> PyResult<Option<PathBuf>> {
        Ok(self.cache()?.path().map(PathBuf::from))
    }

    /// Makes every change so far durable on disk (no-op without ``path``).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let cache = self.cache()?;
        py.detach(|| cache.flush()).map_err(to_py)
    }

    /// Writes a snapshot so the next open maps it instead of replaying the log.
    fn save(&self, py: Python<'_>) -> PyResult<()> {
        let cache = self.cache()?;
        py.detach(|| cache.save()).map_err(to_py)
    }

    /// Saves (when writable) and releases the directory; later calls raise ``ValueError``.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let Some(cache) = self.inner.write().take() else {
            return Ok(());
        };
        py.detach(|| match cache.path() {
            Some(_) if !cache.is_read_only() => cache.save(),
            _ => Ok(()),
        })
        .map_err(to_py)
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __exit__(
        &self,
        py: Python<'_>,
        _exc_type: &Bound<'_, PyAny>,
        _exc: &Bound<'_, PyAny>,
        _tb: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        self.close(py)
    }

    #[getter]
    fn max_entries(&self) -> PyResult<usize> {
        Ok(self.cache()?.config().max_entries)
    }

    #[getter]
    fn similarity_threshold(&self) -> PyResult<f64> {
        Ok(self.cache()?.config().similarity_threshold)
    }

    #[getter]
    fn ttl_seconds(&self) -> PyResult<Option<f64>> {
        Ok(self.cache()?.config().ttl_seconds)
    }

    #[getter]
    fn rescore(&self) -> PyResult<bool> {
        Ok(self.cache()?.config().rescore)
    }

    /// How partitions are searched: ``'auto'``, ``'flat'`` or ``'mih'``.
    #[getter]
    fn index(&self) -> PyResult<&'static str> {
        Ok(self.cache()?.index_mode().name())
    }

    /// The popcount instruction set the scans use on this CPU.
    #[getter]
    fn kernel(&self) -> PyResult<&'static str> {
        Ok(self.cache()?.kernel().name())
    }

    /// The most similar entry within the threshold, or ``None``. Counted as a hit or a miss.
    #[pyo3(signature = (embedding, partition = None))]
    fn get(
        &self,
        py: Python<'_>,
        embedding: &Bound<'_, PyAny>,
        partition: Option<&str>,
    ) -> PyResult<Option<PyCacheHit>> {
        let vector = arrays::vector(embedding)?;
        let partition = partition.unwrap_or(DEFAULT_PARTITION);
        let cache = &self.cache()?;
        let hit = py.detach(|| cache.get(&vector, partition)).map_err(to_py)?;
        hit.map(|h| to_hit(py, h)).transpose()
    }

    /// ``get`` for each row of a 2-D array.
    #[pyo3(signature = (embeddings, partition = None))]
    fn get_batch(
        &self,
        py: Python<'_>,
        embeddings: &Bound<'_, PyAny>,
        partition: Option<&str>,
    ) -> PyResult<Vec<Option<PyCacheHit>>> {
        let array = arrays::matrix(embeddings)?;
        let dim = self.cache()?.encoder().dim();
        let data = arrays::rows_of(&array, dim)?;
        let partition = partition.unwrap_or(DEFAULT_PARTITION);
        let mut hits = Vec::with_capacity(data.len() / dim);
        // Copied out in blocks so a large batch never doubles its memory; each block is one
        // batched scan.
        for block in data.chunks(LOOKUP_BATCH_ROWS * dim) {
            let block = block.to_vec();
            let cache = &self.cache()?;
            let found = py
                .detach(|| cache.get_batch(&block, partition))
                .map_err(to_py)?;
            hits.extend(found);
        }
        hits.into_iter()
            .map(|h| h.map(|h| to_hit(py, h)).transpose())
            .collect()
    }

    /// Up to ``k`` entries with similarity at least ``min_similarity`` (default: the cache's
    /// threshold), best first. Not counted as hits.
    #[pyo3(
        signature = (embedding, k = K(5), partition = None, min_similarity = None),
        text_signature = "($self, embedding, k=5, partition=None, min_similarity=None)"
    )]
    fn search(
        &self,
        py: Python<'_>,
        embedding: &Bound<'_, PyAny>,
        k: K,
        partition: Option<&str>,
        min_similarity: Option<MinSimilarity>,
    ) -> PyResult<Vec<PyCacheHit>> {
        let vector = arrays::vector(embedding)?;
        let partition = partition.unwrap_or(DEFAULT_PARTITION);
        let cache = &self.cache()?;
        let min_similarity = min_similarity.map(|m| m.0);
        let hits = py
            .detach(|| cache.search(&vector, partition, k.0, min_similarity))
            .map_err(to_py)?;
        hits.into_iter().map(|h| to_hit(py, h)).collect()
    }

    /// Stores ``response`` (str, bytes or any JSON-serialisable value) and returns the entry's id.
    #[pyo3(signature = (embedding, response, partition = None, ttl_seconds = None))]
    fn put(
        &self,
        py: Python<'_>,
        embedding: &Bound<'_, PyAny>,
        response: &Bound<'_, PyAny>,
        partition: Option<&str>,
        ttl_seconds: Option<TtlSeconds>,
    ) -> PyResult<u64> {
        let ttl_seconds = ttl_seconds.map(|t| t.0);
        let vector = arrays::vector(embedding)?;
        let (kind, bytes) = response::encode(response)?;
        let partition = partition.unwrap_or(DEFAULT_PARTITION);
        let cache = &self.cache()?;
        py.detach(|| cache.put(&vector, partition, kind, &bytes, ttl_seconds))
            .map_err(to_py)
    }

    /// ``put`` for each row of a 2-D array with its response; all are checked before any is stored.
    #[pyo3(signature = (embeddings, responses, partition = None, ttl_seconds = None))]
    fn put_batch(
        &self,
        py: Python<'_>,
        embeddings: &Bound<'_, PyAny>,
        responses: &Bound<'_, PyAny>,
        partition: Option<&str>,
        ttl_seconds: Option<TtlSeconds>,
    ) -> PyResult<Vec<u64>> {
        let ttl_seconds = ttl_seconds.map(|t| t.0);
        let array = arrays::matrix(embeddings)?;
        let dim = self.cache()?.encoder().dim();
        let data = arrays::rows_of(&array, dim)?;
        let rows = data.len() / dim;
        let payloads = responses
            .try_iter()?
            .map(|r| response::encode(&r?))
            .collect::<PyResult<Vec<_>>>()?;
        if payloads.len() != rows {
            return Err(PyValueError::new_err(format!(
                "expected one response per embedding ({rows}), got {}",
                payloads.len()
            )));
        }
        // Every row is checked before any is stored, so a bad row stores nothing.
        for row in data.chunks_exact(dim) {
            self.cache()?.encoder().validate(row).map_err(to_py)?;
        }
        let partition = partition.unwrap_or(DEFAULT_PARTITION);
        let mut ids = Vec::with_capacity(rows);
        for (block, block_payloads) in data
            .chunks(BATCH_ROWS * dim)
            .zip(payloads.chunks(BATCH_ROWS))
        {
            let block = block.to_vec();
            let cache = &self.cache()?;
            let stored = py
                .detach(|| {
                    block
                        .chunks_exact(dim)
                        .zip(block_payloads)
                        .map(|(row, (kind, bytes))| {
                            cache.put(row, partition, *kind, bytes, ttl_seconds)
                        })
                        .collect::<bsc_core::Result<Vec<_>>>()
                })
                .map_err(to_py)?;
            ids.extend(stored);
        }
        Ok(ids)
    }

    /// Removes one entry; ``False`` when the id names no live entry.
    fn delete(&self, py: Python<'_>, id: EntryId) -> PyResult<bool> {
        let cache = &self.cache()?;
        py.detach(|| cache.delete(id.0)).map_err(to_py)
    }

    /// Removes every entry, or only those of ``partition``; returns how many were removed.
    #[pyo3(signature = (partition = None))]
    fn clear(&self, py: Python<'_>, partition: Option<&str>) -> PyResult<usize> {
        let cache = &self.cache()?;
        py.detach(|| cache.clear(partition)).map_err(to_py)
    }

    /// Whether ``partition`` holds any entry: lets a caller skip computing an embedding when
    /// there is nothing to search.
    fn has_partition(&self, partition: &str) -> PyResult<bool> {
        Ok(self.cache()?.has_partition(partition))
    }

    /// Removes every partition whose name starts with ``prefix``; returns how many entries.
    fn clear_prefix(&self, py: Python<'_>, prefix: &str) -> PyResult<usize> {
        let cache = &self.cache()?;
        py.detach(|| cache.clear_prefix(prefix)).map_err(to_py)
    }

    /// Counters and sizes: entries, partitions, hits, misses, inserts, evictions, expirations,
    /// deletes, payload_bytes, memory_bytes.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.cache()?.stats();
        let dict = PyDict::new(py);
        for (key, value) in [
            ("entries", s.entries),
            ("partitions", s.partitions),
            ("hits", s.hits),
            ("misses", s.misses),
            ("inserts", s.inserts),
            ("evictions", s.evictions),
            ("expirations", s.expirations),
            ("deletes", s.deletes),
            ("payload_bytes", s.payload_bytes),
            ("memory_bytes", s.memory_bytes),
        ] {
            dict.set_item(key, value)?;
        }
        Ok(dict)
    }

    /// Ids of the held entries, least recently used first.
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let cache = &self.cache()?;
        let ids: Vec<u64> = py.detach(|| cache.entries().into_iter().map(|e| e.id).collect());
        PyList::new(py, ids)
    }

    fn __len__(&self) -> PyResult<usize> {
        Ok(self.cache()?.len())
    }

    fn __repr__(&self) -> String {
        let Ok(cache) = self.cache() else {
            return "BinarySemanticCache(closed)".to_owned();
        };
        let c = cache.config();
        format!(
            "BinarySemanticCache(entries={}, max_entries={}, similarity_threshold={}, \
             ttl_seconds={:?}, rescore={}, code_bits={})",
            cache.len(),
            c.max_entries,
            c.similarity_threshold,
            c.ttl_seconds,
            if c.rescore { "True" } else { "False" },
            cache.encoder().bits()
        )
    }
}

impl PyBinarySemanticCache {
    fn cache(&self) -> PyResult<Arc<Cache>> {
        self.inner
            .read()
            .clone()
            .ok_or_else(|| PyValueError::new_err("the cache is closed"))
    }
}
