//! The one error type of the engine.

use std::fmt;
use std::io;

/// Result alias used throughout vellum.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong, as variants a caller can match on.
///
/// ```
/// use vellum::{Db, Error, Options};
/// let dir = tempfile::tempdir().unwrap();
/// let db = Db::open(dir.path().join("db")).unwrap();
/// let tx = db.begin_write().unwrap();
/// let big = vec![0u8; 64 * 1024];
/// assert!(matches!(tx.put(&big, b"v"), Err(Error::KeyTooLarge { .. })));
/// ```
#[non_exhaustive]
pub enum Error {
    /// The operating system (or the VFS) reported an I/O error.
    Io(io::Error),
    /// A page or record failed verification (checksum, identity or
    /// structure). `page` is the page number where it was detected.
    Corruption {
        /// Page number where the damage was detected.
        page: u64,
        /// What was wrong.
        reason: String,
    },
    /// The file is not a vellum database (bad magic or header).
    NotADatabase,
    /// The file was written by an incompatible format version.
    UnsupportedVersion {
        /// Version found in the header.
        found: u32,
        /// Version this build reads and writes.
        supported: u32,
    },
    /// Another handle (or process) holds a conflicting lock on the file.
    Locked,
    /// A write was attempted through a read-only handle.
    ReadOnly,
    /// A key is longer than [`crate::Limits::max_key_len`].
    KeyTooLarge {
        /// Length of the rejected key.
        len: usize,
        /// Largest accepted key length.
        max: usize,
    },
    /// A value is longer than [`crate::Limits::max_value_len`].
    ValueTooLarge {
        /// Length of the rejected value.
        len: usize,
        /// Largest accepted value length.
        max: usize,
    },
    /// The named bucket does not exist.
    BucketNotFound(Vec<u8>),
    /// A bucket with this name already exists.
    BucketExists(Vec<u8>),
    /// A bucket name is empty or longer than [`crate::Limits::max_key_len`].
    InvalidBucketName,
    /// [`crate::BucketMut::load_sorted`] was given a bucket that holds
    /// keys (named; empty for the default bucket).
    BucketNotEmpty(Vec<u8>),
    /// The entries given to [`crate::BucketMut::load_sorted`] are not in
    /// strictly increasing key order: the key at position `index`
    /// (0-based) is not greater than the one before it. Nothing was loaded.
    NotSorted {
        /// Position of the first key out of order.
        index: u64,
    },
    /// An earlier sync or commit failed in a way that leaves the in-memory
    /// state untrustworthy; reopen the database. The commit that failed
    /// may or may not have landed. A reopen in the same boot reads through
    /// the operating system's page cache, which after a failed sync may
    /// show writes the disk lost or hide ones it holds: call
    /// [`crate::Db::sync`] (or commit) after reopening to make what the
    /// reopened handle shows durable.
    Poisoned,
    /// `try_begin_write` found another write transaction in progress.
    WriterBusy,
    /// The calling thread already holds this database's write transaction
    /// (a `begin_write`, `update` or `checkpoint` inside `update`): waiting
    /// for it would block forever. The check goes by the thread that began
    /// the transaction (a `WriteTxn` is `Send`): a thread that handed its
    /// transaction to another thread gets this error until that transaction
    /// ends, and the thread it was handed to is not recognised (a write
    /// transaction it begins while holding the one handed over waits
    /// forever, as before this check).
    NestedWrite,
    /// [`crate::Db::close`] was called while other clones of the handle or
    /// live transactions keep the database open: the file stays open (and
    /// locked) until they are dropped, and the last one to go checkpoints
    /// and closes it.
    StillOpen {
        /// Other clones and transactions holding the database when
        /// `close` looked.
        others: usize,
    },
    /// A bucket handle was used after its bucket was dropped in the same
    /// transaction (even if a bucket of the same name was created again):
    /// nothing was read or written. Open the bucket again by name.
    BucketDropped(Vec<u8>),
    /// The options are invalid (for example a page size that is not a
    /// power of two).
    InvalidOptions(String),
    /// The database would exceed the largest supported file size.
    FileTooLarge,
    /// Stored bytes do not decode as the type a typed bucket reads them
    /// as (see [`crate::codec`]): for example a key of 3 bytes read as a
    /// `u64`, or a value that is not UTF-8 read as a `String`. Usually the
    /// bytes were written by the untyped API or under another type.
    Decode {
        /// The type the bytes were decoded as.
        type_name: &'static str,
        /// What did not fit.
        reason: String,
    },
    /// A value could not be encoded by its codec (a serde `Serialize`
    /// implementation failed, see [`crate::codec`]). Nothing was written.
    Encode {
        /// The type that failed to encode.
        type_name: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// [`crate::BucketMut::next_id`] found the bucket's sequence at
    /// `u64::MAX`: there is no next id (the sequence never wraps, since an
    /// id may not be handed out twice). Nothing was changed.
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.set_sequence(u64::MAX).unwrap();
    /// assert!(matches!(tx.next_id(), Err(vellum::Error::SequenceExhausted(_))));
    /// assert_eq!(tx.sequence().unwrap(), u64::MAX);
    /// ```
    SequenceExhausted(Vec<u8>),
    /// [`crate::BucketMut::set_sequence`] was asked to lower a bucket's
    /// sequence, which would hand out ids again. Nothing was changed.
    /// (Replaying a log record that does not raise a sequence fails the
    /// open with [`Error::Corruption`] instead, FORMAT.md §2.2.)
    ///
    /// ```
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
    /// let tx = db.begin_write().unwrap();
    /// tx.set_sequence(10).unwrap();
    /// let err = tx.set_sequence(9).unwrap_err();
    /// assert!(matches!(
    ///     err,
    ///     vellum::Error::SequenceLowered { current: 10, requested: 9, .. }
    /// ));
    /// ```
    SequenceLowered {
        /// The bucket (empty for the default bucket).
        bucket: Vec<u8>,
        /// Its sequence.
        current: u64,
        /// The lower value asked for.
        requested: u64,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Corruption { page, reason } => {
                write!(f, "corruption detected at page {page}: {reason}")
            }
            Error::NotADatabase => write!(f, "not a vellum database file"),
            Error::UnsupportedVersion { found, supported } => write!(
                f,
                "unsupported format version {found} (this build supports {supported})"
            ),
            Error::Locked => write!(f, "database file is locked by another handle or process"),
            Error::ReadOnly => write!(f, "database is open read-only"),
            Error::KeyTooLarge { len, max } => {
                write!(f, "key of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::ValueTooLarge { len, max } => {
                write!(f, "value of {len} bytes exceeds the limit of {max} bytes")
            }
            Error::BucketNotFound(n) => {
                write!(f, "bucket {} not found", ShowName(n))
            }
            Error::BucketExists(n) => {
                write!(f, "bucket {} already exists", ShowName(n))
            }
            Error::InvalidBucketName => write!(f, "bucket name is empty or too long"),
            Error::BucketNotEmpty(n) => write!(
                f,
                "a sorted load needs an empty bucket, and bucket {} holds keys",
                ShowName(n)
            ),
            Error::NotSorted { index } => write!(
                f,
                "sorted load: the key at position {index} is not greater than the one before it; nothing was loaded"
            ),
            Error::Poisoned => write!(
                f,
                "database handle is poisoned by an earlier failed sync; reopen it"
            ),
            Error::WriterBusy => write!(f, "another write transaction is in progress"),
            Error::NestedWrite => write!(
                f,
                "this thread already holds the database's write transaction; \
                 a nested write transaction or checkpoint would wait for it forever"
            ),
            Error::StillOpen { others } => write!(
                f,
                "the database stays open: {others} other handle(s) or transaction(s) \
                 still hold it; the last one dropped closes the file"
            ),
            Error::BucketDropped(n) => write!(
                f,
                "bucket {} was dropped in this transaction; this handle is stale \
                 (open the bucket again by name)",
                ShowName(n)
            ),
            Error::InvalidOptions(m) => write!(f, "invalid options: {m}"),
            Error::FileTooLarge => write!(f, "database file would exceed the maximum size"),
            Error::Decode { type_name, reason } => {
                write!(f, "stored bytes do not decode as {type_name}: {reason}")
            }
            Error::Encode { type_name, reason } => {
                write!(f, "a value of type {type_name} could not be encoded: {reason}")
            }
            Error::SequenceExhausted(n) => write!(
                f,
                "the sequence of bucket {} is at u64::MAX: no id is left",
                ShowName(n)
            ),
            Error::SequenceLowered {
                bucket,
                current,
                requested,
            } => write!(
                f,
                "the sequence of bucket {} is {current}: {requested} is not above it, \
                 so ids could be handed out again",
                ShowName(bucket)
            ),
        }
    }
}

/// A bucket name as text: quoted like a string when it is UTF-8, as an
/// escaped byte string (`b"\xff..."`) otherwise. The empty name is the
/// default bucket.
struct ShowName<'a>(&'a [u8]);

impl fmt::Display for ShowName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.0) {
            Ok("") => write!(f, "(default)"),
            Ok(s) => write!(f, "{s:?}"),
            Err(_) => write!(f, "b\"{}\"", self.0.escape_ascii()),
        }
    }
}

impl fmt::Debug for ShowName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Debug for Error {
    /// As derived, except that bucket names print as text (see
    /// [`Error::BucketNotFound`]), not as lists of numbers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => f.debug_tuple("Io").field(e).finish(),
            Error::Corruption { page, reason } => f
                .debug_struct("Corruption")
                .field("page", page)
                .field("reason", reason)
                .finish(),
            Error::NotADatabase => f.write_str("NotADatabase"),
            Error::UnsupportedVersion { found, supported } => f
                .debug_struct("UnsupportedVersion")
                .field("found", found)
                .field("supported", supported)
                .finish(),
            Error::Locked => f.write_str("Locked"),
            Error::ReadOnly => f.write_str("ReadOnly"),
            Error::KeyTooLarge { len, max } => f
                .debug_struct("KeyTooLarge")
                .field("len", len)
                .field("max", max)
                .finish(),
            Error::ValueTooLarge { len, max } => f
                .debug_struct("ValueTooLarge")
                .field("len", len)
                .field("max", max)
                .finish(),
            Error::BucketNotFound(n) => {
                f.debug_tuple("BucketNotFound").field(&ShowName(n)).finish()
            }
            Error::BucketExists(n) => f.debug_tuple("BucketExists").field(&ShowName(n)).finish(),
            Error::InvalidBucketName => f.write_str("InvalidBucketName"),
            Error::BucketNotEmpty(n) => {
                f.debug_tuple("BucketNotEmpty").field(&ShowName(n)).finish()
            }
            Error::NotSorted { index } => {
                f.debug_struct("NotSorted").field("index", index).finish()
            }
            Error::Poisoned => f.write_str("Poisoned"),
            Error::WriterBusy => f.write_str("WriterBusy"),
            Error::NestedWrite => f.write_str("NestedWrite"),
            Error::StillOpen { others } => {
                f.debug_struct("StillOpen").field("others", others).finish()
            }
            Error::BucketDropped(n) => f.debug_tuple("BucketDropped").field(&ShowName(n)).finish(),
            Error::InvalidOptions(m) => f.debug_tuple("InvalidOptions").field(m).finish(),
            Error::FileTooLarge => f.write_str("FileTooLarge"),
            Error::Decode { type_name, reason } => f
                .debug_struct("Decode")
                .field("type_name", type_name)
                .field("reason", reason)
                .finish(),
            Error::Encode { type_name, reason } => f
                .debug_struct("Encode")
                .field("type_name", type_name)
                .field("reason", reason)
                .finish(),
            Error::SequenceExhausted(n) => f
                .debug_tuple("SequenceExhausted")
                .field(&ShowName(n))
                .finish(),
            Error::SequenceLowered {
                bucket,
                current,
                requested,
            } => f
                .debug_struct("SequenceLowered")
                .field("bucket", &ShowName(bucket))
                .field("current", current)
                .field("requested", requested)
                .finish(),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl Error {
    /// Shorthand for a corruption error.
    pub(crate) fn corrupt(page: u64, reason: impl Into<String>) -> Self {
        Error::Corruption {
            page,
            reason: reason.into(),
        }
    }

    /// The operating system's error code behind an [`Error::Io`], also when
    /// [`crate::vfs::StdVfs`] wrapped it in a
    /// [`crate::vfs::FileOpError`] naming the operation and the path.
    ///
    /// ```
    /// let dir = tempfile::tempdir().unwrap();
    /// let missing = dir.path().join("no/such/dir/db");
    /// let err = vellum::Db::open(&missing).unwrap_err();
    /// assert_eq!(err.raw_os_error(), Some(2)); // ENOENT
    /// assert!(err.to_string().contains("no/such/dir"), "{err}");
    /// ```
    pub fn raw_os_error(&self) -> Option<i32> {
        let Error::Io(e) = self else { return None };
        e.raw_os_error().or_else(|| {
            e.get_ref()
                .and_then(|inner| inner.downcast_ref::<crate::vfs::FileOpError>())
                .and_then(|op| op.source.raw_os_error())
        })
    }

    /// Whether this is a [`Error::Corruption`].
    pub fn is_corruption(&self) -> bool {
        matches!(self, Error::Corruption { .. })
    }
}
