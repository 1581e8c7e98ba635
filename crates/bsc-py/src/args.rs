//! Numbers from Python checked into the ranges the core takes, before anything reaches it: no
//! value can overflow a conversion or size an allocation. A value out of range is a
//! `ValueError`, one of another type a `TypeError`; each names the argument, what was expected
//! and what came.

use bsc_core::encoder::{MAX_BITS, MAX_DIM};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBool;

use crate::arrays::type_name;

fn not_bool(name: &str, obj: &Bound<'_, PyAny>, expected: &str) -> PyResult<()> {
    // True is an int to Python, but as a count or a duration it is a mistake.
    if obj.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(format!(
            "{name} must be {expected}, got bool"
        )));
    }
    Ok(())
}

fn int_in(name: &str, obj: &Bound<'_, PyAny>, min: u64, max: u64) -> PyResult<u64> {
    not_bool(name, obj, "an int")?;
    let index = obj
        .py()
        .import("operator")?
        .call_method1("index", (obj,))
        .map_err(|_| {
            PyTypeError::new_err(format!("{name} must be an int, got {}", type_name(obj)))
        })?;
    match index.extract::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(PyValueError::new_err(format!(
            "{name} must be an integer from {min} to {max}, got {index}"
        ))),
    }
}

fn number(name: &str, obj: &Bound<'_, PyAny>, expected: &str) -> PyResult<f64> {
    not_bool(name, obj, expected)?;
    obj.extract::<f64>().map_err(|err| {
        if err.is_instance_of::<PyOverflowError>(obj.py()) {
            PyValueError::new_err(format!("{name} must be {expected}, got {obj}"))
        } else {
            PyTypeError::new_err(format!("{name} must be {expected}, got {}", type_name(obj)))
        }
    })
}

/// An integer argument within `[min, max]`, as `$inner`.
macro_rules! int_arg {
    ($ty:ident, $inner:ty, $name:literal, $min:expr, $max:expr) => {
        pub struct $ty(pub $inner);

        impl<'a, 'py> FromPyObject<'a, 'py> for $ty {
            type Error = PyErr;

            fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
                let n = int_in($name, &obj, $min as u64, $max as u64)?;
                <$inner>::try_from(n).map(Self).map_err(|_| {
                    PyValueError::new_err(format!(
                        "{} must fit this platform's {}, got {n}",
                        $name,
                        stringify!($inner)
                    ))
                })
            }
        }
    };
}

/// A real-number argument; its range is the core's to check, with the same `expected` words.
macro_rules! number_arg {
    ($ty:ident, $name:literal, $expected:literal) => {
        pub struct $ty(pub f64);

        impl<'a, 'py> FromPyObject<'a, 'py> for $ty {
            type Error = PyErr;

            fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
                number($name, &obj, $expected).map(Self)
            }
        }
    };
}

int_arg!(EmbeddingDim, usize, "embedding_dim", 1, MAX_DIM);
int_arg!(CodeBits, usize, "code_bits", 64, MAX_BITS);
int_arg!(Seed, u64, "seed", 0, u64::MAX);
int_arg!(MaxEntries, usize, "max_entries", 1, u64::MAX);
int_arg!(K, usize, "k", 1, u64::MAX);
int_arg!(EntryId, u64, "id", 0, u64::MAX);
number_arg!(Threshold, "similarity_threshold", "a number within [0, 1]");
number_arg!(MinSimilarity, "min_similarity", "a number within [0, 1]");
number_arg!(TtlSeconds, "ttl_seconds", "a finite number greater than 0");
number_arg!(
    FlushInterval,
    "flush_interval_seconds",
    "a finite number greater than 0"
);
