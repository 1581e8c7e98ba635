//! The one mapping from core errors to Python exceptions.

use bsc_core::Error;
use pyo3::exceptions::{PyException, PyOSError, PyPermissionError, PyValueError};
use pyo3::{create_exception, PyErr};

create_exception!(
    binary_semantic_cache._core,
    BSCError,
    PyException,
    "Base class of bsc-cache's own errors."
);
create_exception!(
    binary_semantic_cache._core,
    CorruptCacheError,
    BSCError,
    "A cache file is damaged; the message names the file and offset."
);
create_exception!(
    binary_semantic_cache._core,
    UnsupportedFormatError,
    BSCError,
    "A cache file was written by a newer format version."
);

/// Bad arguments raise `ValueError`, I/O `OSError`, damaged or newer files the `BSCError` subclasses.
pub fn to_py(err: Error) -> PyErr {
    let message = err.to_string();
    match err {
        Error::Io { source, .. } => match source.raw_os_error() {
            Some(errno) => PyOSError::new_err((errno, message)),
            None => PyOSError::new_err(message),
        },
        Error::ReadOnly { .. } => PyPermissionError::new_err(message),
        Error::Corrupt { .. } => CorruptCacheError::new_err(message),
        Error::UnsupportedFormat { .. } => UnsupportedFormatError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}
