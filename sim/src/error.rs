//! The I/O errors the simulated disk returns.
//!
//! Every error is an [`io::Error`] of kind [`io::ErrorKind::Other`] (except
//! the ordinary `NotFound`, `UnexpectedEof`, ... of a real file system)
//! carrying a [`SimIoError`] payload whose message starts with the errno
//! name, e.g. `"ENOSPC: no space left on device (simulated)"`. A runner can
//! recover the payload with [`SimIoError::of`].

use std::fmt;
use std::io;

/// What an error returned by the simulated disk stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimIoError {
    /// An injected media error (EIO), or a latent sector error.
    Eio,
    /// An injected or capacity-caused "no space left on device" (ENOSPC).
    Enospc,
    /// The handle was opened before a [`crate::SimVfs::crash`] and is dead.
    Crashed,
    /// The crash countdown expired: the disk is off until
    /// [`crate::SimVfs::crash`] is called.
    PoweredOff,
    /// A write or `set_len` through a read-only handle (EBADF).
    ReadOnlyHandle,
    /// The file would exceed the simulator's largest file size (EFBIG).
    FileTooLarge,
}

impl SimIoError {
    /// The payload of an error returned by the simulator, if it is one.
    ///
    /// ```
    /// use vellum_sim::SimIoError;
    /// let e = SimIoError::Enospc.to_io();
    /// assert_eq!(SimIoError::of(&e), Some(SimIoError::Enospc));
    /// assert!(e.to_string().starts_with("ENOSPC"));
    /// ```
    pub fn of(err: &io::Error) -> Option<SimIoError> {
        err.get_ref()
            .and_then(|e| e.downcast_ref::<SimIoError>())
            .copied()
    }

    /// This error as an [`io::Error`].
    pub fn to_io(self) -> io::Error {
        io::Error::other(self)
    }

    /// A small stable code, used in the trace hash.
    pub(crate) fn code(self) -> u64 {
        match self {
            SimIoError::Eio => 1,
            SimIoError::Enospc => 2,
            SimIoError::Crashed => 3,
            SimIoError::PoweredOff => 4,
            SimIoError::ReadOnlyHandle => 5,
            SimIoError::FileTooLarge => 6,
        }
    }
}

impl fmt::Display for SimIoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            SimIoError::Eio => "EIO: input/output error (simulated)",
            SimIoError::Enospc => "ENOSPC: no space left on device (simulated)",
            SimIoError::Crashed => "crashed: handle invalidated by a simulated crash",
            SimIoError::PoweredOff => "powered off: simulated crash pending",
            SimIoError::ReadOnlyHandle => "EBADF: file opened read-only (simulated)",
            SimIoError::FileTooLarge => "EFBIG: file too large for the simulator",
        };
        f.write_str(s)
    }
}

impl std::error::Error for SimIoError {}

impl From<SimIoError> for io::Error {
    fn from(e: SimIoError) -> io::Error {
        e.to_io()
    }
}

/// A stable code for any `io::Error` result, used in the trace hash.
pub(crate) fn result_code(err: &io::Error) -> u64 {
    match SimIoError::of(err) {
        Some(e) => e.code(),
        None => match err.kind() {
            io::ErrorKind::NotFound => 100,
            io::ErrorKind::UnexpectedEof => 101,
            io::ErrorKind::AlreadyExists => 102,
            io::ErrorKind::InvalidInput => 103,
            _ => 199,
        },
    }
}
