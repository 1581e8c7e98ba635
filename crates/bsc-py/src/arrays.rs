//! Embeddings copied out of numpy arrays (or anything numpy accepts) as contiguous `f32`.

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
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

/// A batch of embeddings: a 2-D array, one row each; returns the rows flattened and their count.
pub fn matrix(obj: &Bound<'_, PyAny>) -> PyResult<(Vec<f32>, usize)> {
    if let Ok(array) = obj.cast::<PyArray2<f32>>() {
        let array = array.readonly();
        let rows = array.shape()[0];
        let data = match array.as_slice() {
            Ok(slice) => slice.to_vec(),
            Err(_) => array.as_array().iter().copied().collect(),
        };
        if array.shape()[1] == 0 {
            return Err(PyValueError::new_err(
                "expected a 2-D array with at least one column, got 0 columns",
            ));
        }
        return Ok((data, rows));
    }
    let converted = as_float32(obj)?;
    expect_ndim(&converted, 2, "a 2-D array (one embedding per row)")?;
    matrix(&converted)
}

fn as_float32<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let numpy = obj.py().import("numpy")?;
    numpy
        .call_method1("ascontiguousarray", (obj, "float32"))
        .map_err(|err| {
            PyValueError::new_err(format!(
                "expected an array of numbers, got {}: {err}",
                type_name(obj)
            ))
        })
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
