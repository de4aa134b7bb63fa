//! The run lock: how `open` tells a run whose process died from a run that is still being written.
//!
//! A process that records a run holds an exclusive advisory lock (`flock`) on `<database>.lock` from
//! `begin_run` until `finish_run` (or until it exits). The kernel drops the lock when the process dies,
//! however it dies, so "the lock is free" means "no process is recording a run", and every row still
//! `running` at that moment is an orphan. A stored pid would be weaker: in a Kubernetes CronJob every
//! pod's zoneaudit is pid 1 of its own namespace, and pids are reused.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StoreError;

/// The lock file next to the database.
pub(super) fn lock_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

/// An exclusive hold on the run lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub(super) struct RunLock {
    file: File,
}

impl RunLock {
    /// Takes the lock if it is free within `wait`; `None` when another process holds it.
    pub(super) fn try_acquire(path: &Path, wait: Duration) -> Result<Option<RunLock>, StoreError> {
        let lock_err = |source| StoreError::Lock { path: path.to_path_buf(), source };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(lock_err)?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(Some(RunLock { file })),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(source)) => return Err(lock_err(source)),
            }
        }
    }

    /// Writes our pid into the file, so that a blocked second run can say who holds the lock.
    pub(super) fn note_holder(&mut self) {
        // Only informative: a failure here must not stop the run.
        let _ = self.file.set_len(0).and_then(|()| {
            self.file.seek(SeekFrom::Start(0))?;
            self.file.write_all(std::process::id().to_string().as_bytes())
        });
    }
}

/// The pid written by the holder, for error messages (advisory locks do not stop reading).
pub(super) fn holder(path: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}
