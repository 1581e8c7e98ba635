//! Responses as payload bytes: `str` and `bytes` as they are, anything else as JSON. Never pickle.

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::arrays::type_name;

const KIND_STR: u8 = 0;
const KIND_BYTES: u8 = 1;
const KIND_JSON: u8 = 2;

/// A response's payload kind and bytes.
pub fn encode(obj: &Bound<'_, PyAny>) -> PyResult<(u8, Vec<u8>)> {
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok((KIND_STR, s.to_str()?.as_bytes().to_vec()));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok((KIND_BYTES, b.as_bytes().to_vec()));
    }
    let json = obj.py().import("json")?;
    let kwargs = pyo3::types::PyDict::new(obj.py());
    kwargs.set_item("ensure_ascii", false)?;
    kwargs.set_item("allow_nan", false)?;
    kwargs.set_item("separators", (",", ":"))?;
    let text = json
        .call_method("dumps", (obj,), Some(&kwargs))
        .map_err(|err| {
            PyTypeError::new_err(format!(
                "response must be str, bytes or JSON-serialisable, got {}: {err}",
                type_name(obj)
            ))
        })?;
    let text = text.cast::<PyString>()?;
    Ok((KIND_JSON, text.to_str()?.as_bytes().to_vec()))
}

/// The response given to `put`, rebuilt from its payload.
pub fn decode(py: Python<'_>, kind: u8, bytes: &[u8]) -> PyResult<Py<PyAny>> {
    match kind {
        KIND_STR => Ok(PyString::new(py, &String::from_utf8_lossy(bytes))
            .into_any()
            .unbind()),
        KIND_BYTES => Ok(PyBytes::new(py, bytes).into_any().unbind()),
        _ => {
            let json = py.import("json")?;
            Ok(json
                .call_method1("loads", (PyBytes::new(py, bytes),))?
                .unbind())
        }
    }
}
