//! Python bindings for bsc-core, built by maturin as `binary_semantic_cache._core`.
//!
//! Core errors become Python exceptions in one place ([`errors`]); inputs are copied out of numpy
//! ([`arrays`]), and numbers checked into range ([`args`]), before the GIL is released around every scan.

use pyo3::prelude::*;

mod args;
mod arrays;
mod cache;
mod encoder;
mod errors;
mod repair;
mod response;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_SEED", bsc_core::DEFAULT_SEED)?;
    m.add(
        "DEFAULT_SIMILARITY_THRESHOLD",
        bsc_core::DEFAULT_SIMILARITY_THRESHOLD,
    )?;
    m.add("DEFAULT_MAX_ENTRIES", bsc_core::DEFAULT_MAX_ENTRIES)?;
    m.add("BSCError", py.get_type::<errors::BSCError>())?;
    m.add(
        "CorruptCacheError",
        py.get_type::<errors::CorruptCacheError>(),
    )?;
    m.add(
        "UnsupportedFormatError",
        py.get_type::<errors::UnsupportedFormatError>(),
    )?;
    m.add_class::<encoder::PyBinaryEncoder>()?;
    m.add_class::<cache::PyBinarySemanticCache>()?;
    m.add_class::<cache::PyCacheHit>()?;
    m.add_class::<repair::PyRepairReport>()?;
    m.add_function(wrap_pyfunction!(repair::repair, m)?)?;
    Ok(())
}
