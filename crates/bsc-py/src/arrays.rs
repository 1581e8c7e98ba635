//! Embeddings copied out of numpy arrays (or anything numpy accepts) as contiguous `f32`.

use numpy::{
    PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray2, PyUntypedArray, PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;

/// One embedding: a 1-D array of numbers.
pub fn vector(obj: &Bound<'_, PyAny>) -> PyResult<Vec<f32>> {
    if let Ok(array) = obj.cast::<PyArray1<f32>>() {
        let array = array.readonly();
        return Ok(match array.as_slice() {
            Ok(slice) => slice.to_vec(),
            Err(_) => array.as_array().iter().copied().collect(),
        });
    }
    let converted = as_float32(obj)?;
    expect_ndim(&converted, 1, "a 1-D array (one embedding)")?;
    vector(&converted)
}

/// A batch of embeddings: a 2-D array, one row each, as a C-contiguous float32 array.
pub fn matrix<'py>(obj: &Bound<'py, PyAny>) -> PyResult<PyReadonlyArray2<'py, f32>> {
    if let Ok(array) = obj.cast::<PyArray2<f32>>() {
        let array = array.readonly();
        if array.as_slice().is_ok() {
            return Ok(array);
        }
    }
    let converted = as_float32(obj)?;
    expect_ndim(&converted, 2, "a 2-D array (one embedding per row)")?;
    Ok(converted.cast::<PyArray2<f32>>()?.readonly())
}

/// The rows of a batch as one slice, checked to be `rows x dim` with at least one row.
pub fn rows_of<'a>(array: &'a PyReadonlyArray2<'_, f32>, dim: usize) -> PyResult<&'a [f32]> {
    let shape = array.shape();
    if shape[0] == 0 {
        return Err(PyValueError::new_err(format!(
            "expected at least one embedding of {dim} dimensions, got an empty array"
        )));
    }
    if shape[1] != dim {
        return Err(PyValueError::new_err(format!(
            "embeddings have {} dimensions, expected {dim}",
            shape[1]
        )));
    }
    Ok(array.as_slice()?)
}

fn as_float32<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let numpy = obj.py().import("numpy")?;
    let array = numpy.call_method1("asarray", (obj,)).map_err(|err| {
        PyValueError::new_err(format!(
            "expected an array of numbers, got {}: {err}",
            type_name(obj)
        ))
    })?;
    // numpy would cast these too: complex by dropping the imaginary part (with only a
    // warning), strings by parsing them, objects by calling float() on each.
    let kind: String = array.getattr("dtype")?.getattr("kind")?.extract()?;
    if !matches!(kind.as_str(), "b" | "i" | "u" | "f") {
        let dtype = array.getattr("dtype")?.str()?;
        return Err(PyTypeError::new_err(format!(
            "expected an array of real numbers (float, int or bool), got an array of {dtype}"
        )));
    }
    numpy.call_method1("ascontiguousarray", (array, "float32"))
}

fn expect_ndim(obj: &Bound<'_, PyAny>, ndim: usize, what: &str) -> PyResult<()> {
    let array = obj.cast::<PyUntypedArray>()?;
    if array.ndim() == ndim {
        return Ok(());
    }
    let shape: Vec<String> = array.shape().iter().map(usize::to_string).collect();
    Err(PyValueError::new_err(format!(
        "expected {what}, got a {}-D array of shape ({})",
        array.ndim(),
        shape.join(", ")
    )))
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string())
}
