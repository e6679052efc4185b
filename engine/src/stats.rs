//! Cheap runtime statistics (`Db::stats`).

/// A snapshot of counters and sizes; computing it does no I/O.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.put(b"k", b"v")).unwrap();
/// let s = db.stats();
/// assert_eq!(s.last_txn, 1);
/// assert!(s.file_pages >= 3);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Page size in bytes.
    pub page_size: usize,
    /// Pages in the file (as of the last checkpoint's allocation).
    pub file_pages: u64,
    /// Pages free for reuse.
    pub free_pages: u64,
    /// Pages freed but still pinned by live snapshots (or awaiting the next
    /// checkpoint).
    pub pinned_pages: u64,
    /// Named buckets.
    pub buckets: u64,
    /// Keys in the default bucket.
    pub default_bucket_keys: u64,
    /// Id of the last committed transaction.
    pub last_txn: u64,
    /// Id of the last checkpoint.
    pub checkpoint: u64,
    /// Checkpoints run by this handle.
    pub checkpoints_run: u64,
    /// Spills run by this handle's write transactions: a transaction whose
    /// changes outgrew its share of memory wrote its changed pages to free
    /// pages before committing ([`crate::Options::checkpoint_budget`]).
    pub spills: u64,
    /// Log pages in use / extent size.
    pub log_pages_used: u64,
    /// Log extent size in pages.
    pub log_pages: u64,
    /// Page-cache hits and misses since open.
    pub cache_hits: u64,
    /// Page-cache misses since open.
    pub cache_misses: u64,
    /// Bytes held by the page cache.
    pub cache_bytes: u64,
    /// Live read transactions.
    pub live_readers: u64,
    /// The checkpoint the oldest live reader's snapshot is based on.
    pub oldest_reader_checkpoint: Option<u64>,
}
