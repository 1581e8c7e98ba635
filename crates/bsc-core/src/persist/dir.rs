//! The cache directory: created 0700, files 0600, symlinks refused, one writer at a time through
//! an advisory lock on `LOCK`, and atomic file replacement (temp file, fsync, rename, fsync dir).

use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const SNAPSHOT_FILE: &str = "snapshot.bsc";
pub const LOG_FILE: &str = "log.bsc";
const LOCK_FILE: &str = "LOCK";

/// Each data file's inode, length and change time (nanoseconds), `None` when absent: any write
/// or replacement by the writer changes it.
pub type Seen = [Option<(u64, u64, i64, i64)>; 2];

pub fn io_error(path: &Path, source: io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// A cache directory, opened for writing (locked) or for reading.
#[derive(Debug)]
pub struct CacheDir {
    path: PathBuf,
    /// Held for the writer's lifetime; the lock goes with the handle.
    _lock: Option<File>,
}

impl CacheDir {
    /// Opens (creating when writable) the directory; a writer takes the lock.
    pub fn open(path: &Path, writable: bool) -> Result<Self> {
        match fs::symlink_metadata(path) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(io_error(
                    path,
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the cache path is a symbolic link; give the real directory",
                    ),
                ))
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(io_error(
                    path,
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "the cache path is not a directory",
                    ),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound && writable => {
                DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(path)
                    .map_err(|e| io_error(path, e))?;
            }
            Err(e) => return Err(io_error(path, e)),
        }
        let lock = if writable {
            Some(Self::lock(path)?)
        } else {
            None
        };
        Ok(Self {
            path: path.to_path_buf(),
            _lock: lock,
        })
    }

    fn lock(dir: &Path) -> Result<File> {
        let path = dir.join(LOCK_FILE);
        let file = create_options()
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(TryLockError::WouldBlock) => Err(io_error(
                dir,
                io::Error::new(
                    io::ErrorKind::WouldBlock,
                    "the cache is already open for writing (one writer per directory); \
                     open it with read_only=True or close the other writer",
                ),
            )),
            Err(TryLockError::Error(e)) => Err(io_error(&path, e)),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn seen(&self) -> Seen {
        [SNAPSHOT_FILE, LOG_FILE].map(|name| {
            fs::symlink_metadata(self.file(name))
                .ok()
                .map(|m| (m.ino(), m.len(), m.mtime(), m.mtime_nsec()))
        })
    }

    /// Opens an existing file for reading, without following symlinks; `None` when absent.
    pub fn open_read(&self, name: &str) -> Result<Option<File>> {
        let path = self.file(name);
        match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&path)
        {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    /// Opens a file for appending (creating it 0600).
    pub fn open_append(&self, name: &str) -> Result<File> {
        let path = self.file(name);
        create_options()
            .read(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| io_error(&path, e))
    }

    /// Replaces `name` atomically with what `write` produces: a crash leaves the old file or
    /// the new one, never a mix.
    pub fn replace(
        &self,
        name: &str,
        write: impl FnOnce(&mut File) -> io::Result<()>,
    ) -> Result<()> {
        let tmp = self.file(&format!("{name}.tmp"));
        let target = self.file(name);
        let result = (|| {
            let mut file = create_options().write(true).truncate(true).open(&tmp)?;
            write(&mut file)?;
            file.flush()?;
            file.sync_all()?;
            fs::rename(&tmp, &target)?;
            self.sync()
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result.map_err(|e| io_error(&target, e))
    }

    fn sync(&self) -> io::Result<()> {
        File::open(&self.path)?.sync_all()
    }
}

fn create_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .create(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW);
    options
}
