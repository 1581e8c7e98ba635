//! `repair(path)`: the core's directory repair, with its report as a Python object.

use std::path::PathBuf;

use pyo3::prelude::*;

use crate::errors::to_py;

/// What ``repair`` found, kept and lost.
#[pyclass(module = "binary_semantic_cache._core", name = "RepairReport", frozen)]
pub struct PyRepairReport {
    /// The error that made a repair necessary; ``None`` when the directory was sound and left
    /// as it was.
    #[pyo3(get)]
    damage: Option<String>,
    /// Entries the directory holds now.
    #[pyo3(get)]
    entries: usize,
    /// Entries kept from the snapshot.
    #[pyo3(get)]
    snapshot_entries: usize,
    /// Log records kept (puts, deletes, clears).
    #[pyo3(get)]
    log_records: usize,
    /// Log records lost, counted from the gaps in their sequence numbers.
    #[pyo3(get)]
    lost_records: u64,
    /// ``(file, start, end)`` byte ranges that held nothing that could be kept.
    #[pyo3(get)]
    lost_ranges: Vec<(String, u64, u64)>,
    /// The directory the original files were moved to.
    #[pyo3(get)]
    moved_to: Option<PathBuf>,
}

#[pymethods]
impl PyRepairReport {
    fn __repr__(&self) -> String {
        format!(
            "RepairReport(entries={}, snapshot_entries={}, log_records={}, lost_records={}, \
             lost_ranges={:?}, moved_to={:?})",
            self.entries,
            self.snapshot_entries,
            self.log_records,
            self.lost_records,
            self.lost_ranges,
            self.moved_to
        )
    }
}

/// Repairs the damaged cache directory ``path``: moves its files into ``damaged-<time>/``
/// inside it (never deletes them), keeps every entry whose checksums hold, and writes a fresh
/// snapshot. A sound directory is left as it is (``damage`` is ``None``).
///
/// Example:
///     >>> report = repair("llm-cache")
///     >>> report.entries, report.lost_records, report.moved_to
#[pyfunction]
pub fn repair(py: Python<'_>, path: PathBuf) -> PyResult<PyRepairReport> {
    let report = py.detach(|| bsc_core::repair(&path)).map_err(to_py)?;
    Ok(PyRepairReport {
        damage: report.damage,
        entries: report.entries,
        snapshot_entries: report.snapshot_entries,
        log_records: report.log_records,
        lost_records: report.lost_records,
        lost_ranges: report
            .lost
            .into_iter()
            .map(|r| (r.file.to_string(), r.start, r.end))
            .collect(),
        moved_to: report.moved_to,
    })
}
