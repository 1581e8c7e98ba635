//! `BinaryEncoder`: embeddings to binary codes.

use std::sync::Arc;

use bsc_core::{Encoder, DEFAULT_SEED};
use numpy::{PyArray1, PyArray2, PyArrayMethods};
use pyo3::prelude::*;

use crate::args::{CodeBits, EmbeddingDim, Seed};
use crate::arrays;
use crate::errors::to_py;

/// Projects embeddings onto ``code_bits`` random hyperplanes (seeded, the same on every platform).
///
/// Example:
///     >>> enc = BinaryEncoder(embedding_dim=384, code_bits=256, seed=42)
///     >>> enc.encode(vector).shape
///     (4,)
#[pyclass(module = "binary_semantic_cache._core", name = "BinaryEncoder", frozen)]
pub struct PyBinaryEncoder {
    pub inner: Arc<Encoder>,
}

#[pymethods]
impl PyBinaryEncoder {
    #[new]
    // The defaults are checked types, which Python would show as "...".
    #[pyo3(
        signature = (embedding_dim, code_bits = CodeBits(256), seed = Seed(DEFAULT_SEED)),
        text_signature = "(embedding_dim, code_bits=256, seed=...)"
    )]
    fn new(embedding_dim: EmbeddingDim, code_bits: CodeBits, seed: Seed) -> PyResult<Self> {
        let inner = Encoder::new(embedding_dim.0, code_bits.0, seed.0).map_err(to_py)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    #[getter]
    fn embedding_dim(&self) -> usize {
        self.inner.dim()
    }

    #[getter]
    fn code_bits(&self) -> usize {
        self.inner.bits()
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.inner.seed()
    }

    /// The code of one embedding, as ``code_bits / 64`` uint64 words.
    fn encode<'py>(
        &self,
        py: Python<'py>,
        embedding: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<u64>>> {
        let vector = arrays::vector(embedding)?;
        let encoder = &self.inner;
        let code = py.detach(|| encoder.encode(&vector)).map_err(to_py)?;
        Ok(PyArray1::from_vec(py, code))
    }

    /// The codes of a 2-D batch, one row of uint64 words per embedding.
    fn encode_batch<'py>(
        &self,
        py: Python<'py>,
        embeddings: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<u64>>> {
        let array = arrays::matrix(embeddings)?;
        let data = arrays::rows_of(&array, self.inner.dim())?.to_vec();
        let rows = data.len() / self.inner.dim();
        let encoder = &self.inner;
        let codes = py.detach(|| encoder.encode_batch(&data)).map_err(to_py)?;
        let words = self.inner.words();
        let array = PyArray1::from_vec(py, codes);
        array.reshape([rows, words])
    }

    fn __repr__(&self) -> String {
        format!(
            "BinaryEncoder(embedding_dim={}, code_bits={}, seed={})",
            self.inner.dim(),
            self.inner.bits(),
            self.inner.seed()
        )
    }
}
