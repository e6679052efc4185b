//! [`State`]: the whole content of a database at one commit.
//!
//! A state is a default bucket plus any number of named buckets, each an
//! ordered map from byte keys to byte values. It is a persistent data
//! structure ([`imbl::OrdMap`] of `Arc<[u8]>`): cloning is O(1) and a change
//! copies only the O(log n) nodes on its path, so the model can keep the
//! state after every commit.
//!
//! Every state carries an incremental 64-bit [`digest`](State::digest) of its
//! full content, kept up to date by each operation in O(1) extra work, so two
//! states can be compared quickly before a full comparison.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::{Bound, RangeBounds};
use std::sync::Arc;

use imbl::shared_ptr::DefaultSharedPtr;
use imbl::OrdMap;

mod sequence;

/// The name of the default bucket: the empty name.
///
/// Every operation that takes a bucket name takes this for the default
/// bucket, which always exists and can be neither created nor dropped.
pub const DEFAULT_BUCKET: &[u8] = b"";

type Bytes = Arc<[u8]>;

/// Why a model operation was refused: the outcomes the engine must match.
///
/// ```
/// use vellum_model::{ModelError, State};
/// let mut s = State::new();
/// assert_eq!(s.get(b"users", b"k"), Err(ModelError::BucketNotFound(b"users".to_vec())));
/// s.create_bucket(b"users").unwrap();
/// assert_eq!(s.create_bucket(b"users"), Err(ModelError::BucketExists(b"users".to_vec())));
/// assert_eq!(s.create_bucket(b""), Err(ModelError::InvalidBucketName));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ModelError {
    /// The named bucket does not exist.
    BucketNotFound(Vec<u8>),
    /// A bucket with this name already exists.
    BucketExists(Vec<u8>),
    /// The default bucket (empty name) was given to create or drop.
    InvalidBucketName,
    /// `next_id` on a bucket whose sequence is `u64::MAX`.
    SequenceExhausted(Vec<u8>),
    /// `set_sequence` below the bucket's sequence.
    SequenceLowered {
        /// The bucket.
        bucket: Vec<u8>,
        /// Its sequence.
        current: u64,
        /// The lower value asked for.
        requested: u64,
    },
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::BucketNotFound(n) => write!(f, "BucketNotFound({})", ShowBytes(n)),
            ModelError::BucketExists(n) => write!(f, "BucketExists({})", ShowBytes(n)),
            ModelError::InvalidBucketName => write!(f, "InvalidBucketName"),
            ModelError::SequenceExhausted(n) => write!(f, "SequenceExhausted({})", ShowBytes(n)),
            ModelError::SequenceLowered {
                bucket,
                current,
                requested,
            } => write!(
                f,
                "SequenceLowered({}, current {current}, requested {requested})",
                ShowBytes(bucket)
            ),
        }
    }
}

impl std::error::Error for ModelError {}

/// Displays bytes as a Rust byte-string literal (`b"ab\x00"`), cut after
/// 48 bytes with the total length shown. Used in every message of this crate.
///
/// ```
/// use vellum_model::ShowBytes;
/// assert_eq!(ShowBytes(b"a\x00\"").to_string(), r#"b"a\x00\"""#);
/// ```
#[derive(Clone, Copy)]
pub struct ShowBytes<'a>(pub &'a [u8]);

impl fmt::Display for ShowBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 48;
        f.write_str("b\"")?;
        for &b in self.0.iter().take(SHOWN) {
            match b {
                b'"' => f.write_str("\\\"")?,
                b'\\' => f.write_str("\\\\")?,
                0x20..=0x7e => write!(f, "{}", b as char)?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        f.write_str("\"")?;
        if self.0.len() > SHOWN {
            write!(f, "..({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

impl fmt::Debug for ShowBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Names a bucket in messages: `default` or the quoted name.
pub(crate) struct ShowBucket<'a>(pub &'a [u8]);

impl fmt::Display for ShowBucket<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("default")
        } else {
            write!(f, "{}", ShowBytes(self.0))
        }
    }
}

// ---------------------------------------------------------------------------
// Hashing: deterministic across runs and platforms (no random keys), so a
// digest can go into a simulator trace.

const HASH_INIT: u64 = 0x9e37_79b9_7f4a_7c15;
const HASH_MUL: u64 = 0xff51_afd7_ed55_8ccd;

/// splitmix64 finalizer.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Absorbs a length-framed byte string into `h`.
fn absorb(mut h: u64, bytes: &[u8]) -> u64 {
    h = (h ^ bytes.len() as u64)
        .wrapping_mul(HASH_MUL)
        .rotate_left(29);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("chunk of 8"));
        h = (h ^ w).wrapping_mul(HASH_MUL).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    let rest = chunks.remainder();
    tail[..rest.len()].copy_from_slice(rest);
    (h ^ u64::from_le_bytes(tail))
        .wrapping_mul(HASH_MUL)
        .rotate_left(29)
}

fn bucket_seed(name: &[u8]) -> u64 {
    absorb(HASH_INIT, name)
}

fn bucket_marker(seed: u64) -> u64 {
    mix(seed ^ 0x6275_636b_6574_0001)
}

fn entry_hash(seed: u64, key: &[u8], value: &[u8]) -> u64 {
    mix(absorb(absorb(seed, key), value))
}

// ---------------------------------------------------------------------------

/// One bucket: its entries, its sequence (the last id `next_id` handed
/// out), and the sum of their hashes plus its marker.
#[derive(Clone)]
struct Bucket {
    entries: OrdMap<Bytes, Bytes>,
    sequence: u64,
    seed: u64,
    digest: u64,
}

impl Bucket {
    fn new(name: &[u8]) -> Bucket {
        let seed = bucket_seed(name);
        Bucket {
            entries: OrdMap::new(),
            sequence: 0,
            seed,
            digest: bucket_marker(seed),
        }
    }
}

impl PartialEq for Bucket {
    fn eq(&self, other: &Bucket) -> bool {
        self.digest == other.digest
            && self.sequence == other.sequence
            && self.entries == other.entries
    }
}

/// The content of a database at one point: the default bucket and the named
/// buckets, each an ordered map of byte keys to byte values.
///
/// Cloning is O(1) (persistent maps); clones are independent afterwards.
/// Bucket arguments are bucket names, with [`DEFAULT_BUCKET`] (`b""`) for
/// the default bucket. Operations on a missing bucket return
/// [`ModelError::BucketNotFound`], as the engine must.
///
/// ```
/// use vellum_model::{State, DEFAULT_BUCKET as D};
/// let mut s = State::new();
/// s.put(D, b"b", b"2").unwrap();
/// s.put(D, b"a", b"1").unwrap();
/// let before = s.clone();
/// s.delete(D, b"a").unwrap();
///
/// assert_eq!(before.get(D, b"a").unwrap(), Some(&b"1"[..]));
/// assert_eq!(s.get(D, b"a").unwrap(), None);
/// let keys: Vec<&[u8]> = before.iter(D).unwrap().map(|(k, _)| k).collect();
/// assert_eq!(keys, [b"a", b"b"]);
/// assert_ne!(before.digest(), s.digest());
/// assert!(before.diff(&s).unwrap().contains("key b\"a\""));
/// ```
#[derive(Clone)]
pub struct State {
    buckets: OrdMap<Bytes, Bucket>,
    digest: u64,
}

impl Default for State {
    fn default() -> State {
        State::new()
    }
}

impl State {
    /// An empty database: the default bucket, empty, and no named bucket.
    pub fn new() -> State {
        let default = Bucket::new(DEFAULT_BUCKET);
        let digest = default.digest;
        let mut buckets = OrdMap::new();
        buckets.insert(Bytes::from(DEFAULT_BUCKET), default);
        State { buckets, digest }
    }

    fn bucket(&self, name: &[u8]) -> Result<&Bucket, ModelError> {
        self.buckets
            .get(name)
            .ok_or_else(|| ModelError::BucketNotFound(name.to_vec()))
    }

    /// Applies `f` to the bucket, keeping the digests in step: `f` returns
    /// the change to the bucket's hash sum.
    fn with_bucket<T>(
        &mut self,
        name: &[u8],
        f: impl FnOnce(&mut Bucket) -> (T, u64, u64),
    ) -> Result<T, ModelError> {
        let bucket = self
            .buckets
            .get_mut(name)
            .ok_or_else(|| ModelError::BucketNotFound(name.to_vec()))?;
        let (out, added, removed) = f(bucket);
        bucket.digest = bucket.digest.wrapping_add(added).wrapping_sub(removed);
        self.digest = self.digest.wrapping_add(added).wrapping_sub(removed);
        Ok(out)
    }

    /// Whether the bucket exists (the default bucket always does).
    pub fn bucket_exists(&self, bucket: &[u8]) -> bool {
        self.buckets.contains_key(bucket)
    }

    /// The value stored under `key`, if any.
    pub fn get(&self, bucket: &[u8], key: &[u8]) -> Result<Option<&[u8]>, ModelError> {
        Ok(self.bucket(bucket)?.entries.get(key).map(|v| &v[..]))
    }

    /// Whether `key` is present.
    pub fn contains(&self, bucket: &[u8], key: &[u8]) -> Result<bool, ModelError> {
        Ok(self.bucket(bucket)?.entries.contains_key(key))
    }

    /// Stores `value` under `key`; returns the value it replaced.
    pub fn put(
        &mut self,
        bucket: &[u8],
        key: &[u8],
        value: &[u8],
    ) -> Result<Option<Vec<u8>>, ModelError> {
        self.with_bucket(bucket, |b| {
            let added = entry_hash(b.seed, key, value);
            let old = b.entries.insert(Bytes::from(key), Bytes::from(value));
            let removed = old.as_ref().map_or(0, |v| entry_hash(b.seed, key, v));
            (old.map(|v| v.to_vec()), added, removed)
        })
    }

    /// Stores `value` under `key` without copying it: the value is shared
    /// with the caller (a harness that stores the same large value many
    /// times keeps one copy of it). Otherwise as [`State::put`], but the
    /// value replaced is not returned.
    pub fn put_shared(
        &mut self,
        bucket: &[u8],
        key: &[u8],
        value: Arc<[u8]>,
    ) -> Result<(), ModelError> {
        self.with_bucket(bucket, |b| {
            let added = entry_hash(b.seed, key, &value);
            let old = b.entries.insert(Bytes::from(key), value);
            let removed = old.as_ref().map_or(0, |v| entry_hash(b.seed, key, v));
            ((), added, removed)
        })
    }

    /// Removes `key`; returns the value it had.
    pub fn delete(&mut self, bucket: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, ModelError> {
        self.with_bucket(bucket, |b| {
            let old = b.entries.remove(key);
            let removed = old.as_ref().map_or(0, |v| entry_hash(b.seed, key, v));
            (old.map(|v| v.to_vec()), 0, removed)
        })
    }

    /// Stores `value` under `key` only if the key is absent; returns whether
    /// it stored it.
    pub fn insert_if_absent(
        &mut self,
        bucket: &[u8],
        key: &[u8],
        value: &[u8],
    ) -> Result<bool, ModelError> {
        if self.contains(bucket, key)? {
            return Ok(false);
        }
        self.put(bucket, key, value)?;
        Ok(true)
    }

    /// Number of entries in the bucket.
    pub fn len(&self, bucket: &[u8]) -> Result<usize, ModelError> {
        Ok(self.bucket(bucket)?.entries.len())
    }

    /// Whether the bucket has no entries.
    pub fn is_empty(&self, bucket: &[u8]) -> Result<bool, ModelError> {
        Ok(self.len(bucket)? == 0)
    }

    /// Number of entries over all buckets.
    pub fn total_entries(&self) -> usize {
        self.buckets.values().map(|b| b.entries.len()).sum()
    }

    /// All entries of the bucket in key order (reversible).
    pub fn iter(&self, bucket: &[u8]) -> Result<Entries<'_>, ModelError> {
        self.range_bounds(bucket, Bound::Unbounded, Bound::Unbounded)
    }

    /// Entries whose keys fall in `range`, in key order (reversible).
    ///
    /// Takes any Rust range syntax (see [`KeyRange`]) over byte-like keys:
    /// `&[u8]`, `Vec<u8>`, `&[u8; N]`, `&str`. A range whose start is after its end (or that is empty
    /// because both ends exclude the same key) yields nothing.
    ///
    /// ```
    /// use vellum_model::{State, DEFAULT_BUCKET as D};
    /// let mut s = State::new();
    /// for k in [b"a", b"b", b"c", b"d"] { s.put(D, k, b"").unwrap(); }
    /// fn keys<'a>(it: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<Vec<u8>> {
    ///     it.map(|(k, _)| k.to_vec()).collect()
    /// }
    /// assert_eq!(keys(s.range(D, b"b"..b"d").unwrap()), [b"b", b"c"]);
    /// assert_eq!(keys(s.range(D, b"b"..=b"d").unwrap().rev()), [b"d", b"c", b"b"]);
    /// assert_eq!(keys(s.range(D, b"c"..).unwrap()), [b"c", b"d"]);
    /// assert!(keys(s.range(D, b"d"..b"a").unwrap()).is_empty());
    /// ```
    pub fn range(&self, bucket: &[u8], range: impl KeyRange) -> Result<Entries<'_>, ModelError> {
        let (start, end) = range.bounds();
        self.range_bounds(bucket, start, end)
    }

    /// Entries of `range` given as explicit bounds.
    pub fn range_bounds(
        &self,
        bucket: &[u8],
        start: Bound<&[u8]>,
        end: Bound<&[u8]>,
    ) -> Result<Entries<'_>, ModelError> {
        let b = self.bucket(bucket)?;
        let inner = if range_is_empty(start, end) {
            None
        } else {
            Some(b.entries.range::<_, [u8]>((start, end)))
        };
        Ok(Entries { inner })
    }

    /// Entries whose keys start with `prefix`, in key order (reversible).
    /// The empty prefix gives the whole bucket.
    pub fn prefix(&self, bucket: &[u8], prefix: &[u8]) -> Result<Entries<'_>, ModelError> {
        let end = prefix_successor(prefix);
        let end = match &end {
            Some(e) => Bound::Excluded(&e[..]),
            None => Bound::Unbounded,
        };
        self.range_bounds(bucket, Bound::Included(prefix), end)
    }

    /// Creates an empty named bucket.
    ///
    /// Errors: [`ModelError::InvalidBucketName`] for the empty name,
    /// [`ModelError::BucketExists`] if it exists.
    pub fn create_bucket(&mut self, name: &[u8]) -> Result<(), ModelError> {
        if name.is_empty() {
            return Err(ModelError::InvalidBucketName);
        }
        if self.bucket_exists(name) {
            return Err(ModelError::BucketExists(name.to_vec()));
        }
        let bucket = Bucket::new(name);
        self.digest = self.digest.wrapping_add(bucket.digest);
        self.buckets.insert(Bytes::from(name), bucket);
        Ok(())
    }

    /// Drops a named bucket and everything in it.
    ///
    /// Errors: [`ModelError::InvalidBucketName`] for the empty name (the
    /// default bucket cannot be dropped), [`ModelError::BucketNotFound`].
    pub fn drop_bucket(&mut self, name: &[u8]) -> Result<(), ModelError> {
        if name.is_empty() {
            return Err(ModelError::InvalidBucketName);
        }
        let bucket = self
            .buckets
            .remove(name)
            .ok_or_else(|| ModelError::BucketNotFound(name.to_vec()))?;
        self.digest = self.digest.wrapping_sub(bucket.digest);
        Ok(())
    }

    /// Names of the named buckets, sorted (the default bucket is not listed).
    pub fn list_buckets(&self) -> Vec<Vec<u8>> {
        self.buckets
            .keys()
            .filter(|n| !n.is_empty())
            .map(|n| n.to_vec())
            .collect()
    }

    /// A 64-bit hash of the whole content (bucket names, keys and values),
    /// maintained incrementally: O(1). Equal states have equal digests; the
    /// converse holds with overwhelming probability, and `==` confirms it.
    /// Deterministic across runs and platforms.
    pub fn digest(&self) -> u64 {
        self.digest
    }

    /// A description of the first difference between `self` and `other`,
    /// or `None` if they are equal.
    pub fn diff(&self, other: &State) -> Option<String> {
        self.differences(other, 1)
            .first()
            .map(|d| d.describe("this", "other"))
    }

    /// Up to `limit` differences between `self` and `other`, in bucket then
    /// key order. Parts the two states share (a state and its descendants
    /// share all untouched nodes) are skipped without being visited.
    pub fn differences(&self, other: &State, limit: usize) -> Vec<Difference> {
        let mut out = Vec::new();
        if limit == 0 || self.buckets.ptr_eq(&other.buckets) {
            return out;
        }
        for item in self.buckets.diff(&other.buckets) {
            match item {
                imbl::ordmap::DiffItem::Remove(name, _) => {
                    out.push(Difference::BucketOnlyInThis(name.to_vec()))
                }
                imbl::ordmap::DiffItem::Add(name, _) => {
                    out.push(Difference::BucketOnlyInOther(name.to_vec()))
                }
                imbl::ordmap::DiffItem::Update {
                    old: (name, a),
                    new: (_, b),
                } => {
                    if a.sequence != b.sequence {
                        out.push(Difference::Sequence {
                            bucket: name.to_vec(),
                            this: a.sequence,
                            other: b.sequence,
                        });
                    }
                    for e in a.entries.diff(&b.entries) {
                        if out.len() >= limit {
                            break;
                        }
                        let (key, this, other) = match e {
                            imbl::ordmap::DiffItem::Remove(k, v) => (k, Some(v), None),
                            imbl::ordmap::DiffItem::Add(k, v) => (k, None, Some(v)),
                            imbl::ordmap::DiffItem::Update {
                                old: (k, v1),
                                new: (_, v2),
                            } => (k, Some(v1), Some(v2)),
                        };
                        out.push(Difference::Entry {
                            bucket: name.to_vec(),
                            key: key.to_vec(),
                            this: this.map(|v| v.to_vec()),
                            other: other.map(|v| v.to_vec()),
                        });
                    }
                }
            }
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        out
    }
}

impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        self.digest == other.digest && self.buckets == other.buckets
    }
}

impl Eq for State {}

impl Hash for State {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.digest);
    }
}

impl fmt::Debug for State {
    /// Shows every bucket with up to 16 entries each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 16;
        write!(f, "State(digest {:016x}) {{", self.digest)?;
        for (i, (name, bucket)) in self.buckets.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, " {}: {{", ShowBucket(name))?;
            if bucket.sequence != 0 {
                write!(f, " sequence {};", bucket.sequence)?;
            }
            for (j, (k, v)) in bucket.entries.iter().take(SHOWN).enumerate() {
                if j > 0 {
                    f.write_str(",")?;
                }
                write!(f, " {}: {}", ShowBytes(k), ShowBytes(v))?;
            }
            if bucket.entries.len() > SHOWN {
                write!(f, ", ..{} more", bucket.entries.len() - SHOWN)?;
            }
            f.write_str(" }")?;
        }
        f.write_str(" }")
    }
}

/// One difference between two states, as found by [`State::differences`].
/// "This" is the state the method was called on, "other" its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The bucket exists only in this state.
    BucketOnlyInThis(Vec<u8>),
    /// The bucket exists only in the other state.
    BucketOnlyInOther(Vec<u8>),
    /// The key differs within a bucket both states have (`None`: absent).
    Entry {
        /// Bucket name ([`DEFAULT_BUCKET`] for the default bucket).
        bucket: Vec<u8>,
        /// The key.
        key: Vec<u8>,
        /// Its value in this state.
        this: Option<Vec<u8>>,
        /// Its value in the other state.
        other: Option<Vec<u8>>,
    },
    /// The bucket's sequence differs (a bucket both states have).
    Sequence {
        /// Bucket name ([`DEFAULT_BUCKET`] for the default bucket).
        bucket: Vec<u8>,
        /// Its sequence in this state.
        this: u64,
        /// Its sequence in the other state.
        other: u64,
    },
}

impl Difference {
    /// Describes the difference naming the two sides, as in
    /// `describe("model", "recovered")`.
    pub fn describe(&self, this_name: &str, other_name: &str) -> String {
        let show = |v: &Option<Vec<u8>>| match v {
            Some(v) => ShowBytes(v).to_string(),
            None => "nothing".to_string(),
        };
        match self {
            Difference::BucketOnlyInThis(n) => {
                format!("bucket {} exists in {this_name} only", ShowBucket(n))
            }
            Difference::BucketOnlyInOther(n) => {
                format!("bucket {} exists in {other_name} only", ShowBucket(n))
            }
            Difference::Entry {
                bucket,
                key,
                this,
                other,
            } => format!(
                "bucket {}, key {}: {this_name} has {}, {other_name} has {}",
                ShowBucket(bucket),
                ShowBytes(key),
                show(this),
                show(other)
            ),
            Difference::Sequence {
                bucket,
                this,
                other,
            } => format!(
                "bucket {}: the sequence is {this} in {this_name}, {other} in {other_name}",
                ShowBucket(bucket)
            ),
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe("this", "other"))
    }
}

/// Iterator over `(key, value)` entries of a bucket in key order; reverse
/// it with `.rev()`. Returned by [`State::iter`], [`State::range`] and
/// [`State::prefix`].
#[derive(Clone)]
pub struct Entries<'a> {
    inner: Option<imbl::ordmap::RangedIter<'a, Bytes, Bytes, DefaultSharedPtr>>,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.as_mut()?.next().map(|(k, v)| (&k[..], &v[..]))
    }
}

impl DoubleEndedIterator for Entries<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.inner
            .as_mut()?
            .next_back()
            .map(|(k, v)| (&k[..], &v[..]))
    }
}

impl Entries<'_> {
    /// Collects the entries as owned pairs.
    pub fn to_vec(self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.map(|(k, v)| (k.to_vec(), v.to_vec())).collect()
    }
}

fn bound_as_ref<K: AsRef<[u8]>>(b: Bound<&K>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// A range of byte keys in Rust range syntax: `a..b`, `a..=b`, `a..`,
/// `..b`, `..=b`, `..`, or a pair of [`Bound`]s, where the ends are
/// anything byte-like (`&[u8]`, `&[u8; N]`, `Vec<u8>`, `&str`).
///
/// ```
/// use vellum_model::KeyRange;
/// use std::ops::Bound;
/// assert_eq!((b"a"..b"c").bounds(), (Bound::Included(&b"a"[..]), Bound::Excluded(&b"c"[..])));
/// assert_eq!((..).bounds(), (Bound::Unbounded, Bound::Unbounded));
/// ```
pub trait KeyRange {
    /// The two ends as byte-slice bounds.
    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>);
}

macro_rules! key_range_impl {
    ($($t:ty),*) => {$(
        impl<K: AsRef<[u8]>> KeyRange for $t {
            fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
                (bound_as_ref(self.start_bound()), bound_as_ref(self.end_bound()))
            }
        }
    )*};
}

key_range_impl!(
    std::ops::Range<K>,
    std::ops::RangeInclusive<K>,
    std::ops::RangeFrom<K>,
    std::ops::RangeTo<K>,
    std::ops::RangeToInclusive<K>,
    (Bound<K>, Bound<K>)
);

impl KeyRange for std::ops::RangeFull {
    fn bounds(&self) -> (Bound<&[u8]>, Bound<&[u8]>) {
        (Bound::Unbounded, Bound::Unbounded)
    }
}

/// Whether no key can satisfy both bounds.
fn range_is_empty(start: Bound<&[u8]>, end: Bound<&[u8]>) -> bool {
    use Bound::*;
    match (start, end) {
        (Included(s), Included(e)) => s > e,
        (Included(s), Excluded(e)) | (Excluded(s), Included(e)) | (Excluded(s), Excluded(e)) => {
            s >= e
        }
        _ => false,
    }
}

/// The smallest key greater than every key starting with `prefix`, or
/// `None` if there is none (empty prefix, or all bytes 0xff).
pub(crate) fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    const D: &[u8] = DEFAULT_BUCKET;

    fn keys<'a>(e: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<Vec<u8>> {
        e.map(|(k, _)| k.to_vec()).collect()
    }

    #[test]
    fn clones_are_independent() {
        let mut a = State::new();
        a.put(D, b"k", b"1").unwrap();
        let snapshot = a.clone();
        a.put(D, b"k", b"2").unwrap();
        a.create_bucket(b"x").unwrap();
        a.put(b"x", b"y", b"z").unwrap();
        let mut b = snapshot.clone();
        b.delete(D, b"k").unwrap();
        assert_eq!(snapshot.get(D, b"k").unwrap(), Some(&b"1"[..]));
        assert_eq!(a.get(D, b"k").unwrap(), Some(&b"2"[..]));
        assert_eq!(b.get(D, b"k").unwrap(), None);
        assert!(!snapshot.bucket_exists(b"x"));
        assert_eq!(snapshot.list_buckets(), Vec::<Vec<u8>>::new());
        assert_eq!(a.list_buckets(), vec![b"x".to_vec()]);
    }

    #[test]
    fn digest_tracks_content_not_history() {
        let mut a = State::new();
        let mut b = State::new();
        a.put(D, b"1", b"a").unwrap();
        a.put(D, b"2", b"b").unwrap();
        b.put(D, b"2", b"b").unwrap();
        b.put(D, b"3", b"zz").unwrap();
        b.put(D, b"1", b"a").unwrap();
        assert_ne!(a.digest(), b.digest());
        b.delete(D, b"3").unwrap();
        assert_eq!(a.digest(), b.digest());
        assert_eq!(a, b);
        assert_eq!(a.diff(&b), None);

        // Same key and value in different buckets are different content.
        a.create_bucket(b"x").unwrap();
        b.create_bucket(b"y").unwrap();
        assert_ne!(a.digest(), b.digest());
        b.drop_bucket(b"y").unwrap();
        b.create_bucket(b"x").unwrap();
        assert_eq!(a, b);
        a.put(b"x", b"k", b"v").unwrap();
        b.put(D, b"k", b"v").unwrap();
        assert_ne!(a.digest(), b.digest());
        assert_ne!(a, b);

        // Dropping a bucket removes its entries from the digest.
        let empty = State::new();
        let mut c = State::new();
        c.create_bucket(b"t").unwrap();
        c.put(b"t", b"k", b"v").unwrap();
        c.drop_bucket(b"t").unwrap();
        assert_eq!(c.digest(), empty.digest());
        assert_eq!(c, empty);

        // Key/value framing: ("ab","c") differs from ("a","bc").
        let mut d = State::new();
        let mut e = State::new();
        d.put(D, b"ab", b"c").unwrap();
        e.put(D, b"a", b"bc").unwrap();
        assert_ne!(d.digest(), e.digest());
    }

    #[test]
    fn bucket_errors() {
        let mut s = State::new();
        assert_eq!(s.create_bucket(b""), Err(ModelError::InvalidBucketName));
        assert_eq!(s.drop_bucket(b""), Err(ModelError::InvalidBucketName));
        assert_eq!(
            s.drop_bucket(b"a"),
            Err(ModelError::BucketNotFound(b"a".to_vec()))
        );
        assert_eq!(
            s.put(b"a", b"k", b"v"),
            Err(ModelError::BucketNotFound(b"a".to_vec()))
        );
        assert_eq!(s.len(b"a"), Err(ModelError::BucketNotFound(b"a".to_vec())));
        assert!(s.range(b"a", b"x"..b"y").is_err());
        s.create_bucket(b"a").unwrap();
        assert_eq!(
            s.create_bucket(b"a"),
            Err(ModelError::BucketExists(b"a".to_vec()))
        );
        assert_eq!(s.put(b"a", b"k", b"v"), Ok(None));
        assert_eq!(s.put(b"a", b"k", b"w"), Ok(Some(b"v".to_vec())));
        assert_eq!(s.insert_if_absent(b"a", b"k", b"x"), Ok(false));
        assert_eq!(s.insert_if_absent(b"a", b"j", b"x"), Ok(true));
        assert_eq!(s.len(b"a"), Ok(2));
        assert_eq!(s.len(D), Ok(0));
        assert_eq!(s.delete(b"a", b"k"), Ok(Some(b"w".to_vec())));
        assert_eq!(s.delete(b"a", b"k"), Ok(None));
        assert_eq!(s.total_entries(), 1);
    }

    #[test]
    fn ranges_and_prefixes() {
        let mut s = State::new();
        for k in [
            &b"a"[..],
            b"ab",
            b"abc",
            b"ab\xff",
            b"ab\xff\xff",
            b"ac",
            b"b",
            b"\xff",
        ] {
            s.put(D, k, k).unwrap();
        }
        assert_eq!(
            keys(s.prefix(D, b"ab").unwrap()),
            [&b"ab"[..], b"abc", b"ab\xff", b"ab\xff\xff"]
        );
        assert_eq!(
            keys(s.prefix(D, b"ab\xff").unwrap().rev()),
            [&b"ab\xff\xff"[..], b"ab\xff"]
        );
        assert_eq!(keys(s.prefix(D, b"\xff").unwrap()), [b"\xff"]);
        assert_eq!(keys(s.prefix(D, b"").unwrap()).len(), 8);
        assert_eq!(keys(s.prefix(D, b"z").unwrap()).len(), 0);
        assert_eq!(
            keys(s.range(D, b"ab".to_vec()..b"ac".to_vec()).unwrap()).len(),
            4
        );
        assert_eq!(keys(s.range(D, &b"ab"[..]..=&b"ac"[..]).unwrap()).len(), 5);
        assert_eq!(keys(s.range(D, ..b"ab").unwrap()), [b"a"]);
        assert_eq!(keys(s.range(D, b"b"..b"b").unwrap()).len(), 0);
        assert_eq!(keys(s.range(D, b"b"..=b"b").unwrap()), [b"b"]);
        assert_eq!(keys(s.range(D, b"c"..b"a").unwrap()).len(), 0);
        assert_eq!(
            keys(
                s.range_bounds(D, Bound::Excluded(&b"b"[..]), Bound::Excluded(&b"b"[..]))
                    .unwrap()
            )
            .len(),
            0
        );
        assert_eq!(
            keys(
                s.range_bounds(D, Bound::Excluded(&b"ac"[..]), Bound::Unbounded)
                    .unwrap()
            ),
            [&b"b"[..], b"\xff"]
        );
        let mut it = s.iter(D).unwrap();
        assert_eq!(it.next().unwrap().0, b"a");
        assert_eq!(it.next_back().unwrap().0, b"\xff");
        assert_eq!(it.count(), 6);
        assert_eq!(prefix_successor(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_successor(b"\xff\xff"), None);
    }

    #[test]
    fn differences_are_listed_in_order() {
        let mut a = State::new();
        a.put(D, b"k1", b"v").unwrap();
        a.put(D, b"k2", b"v").unwrap();
        a.create_bucket(b"only-a").unwrap();
        let mut b = a.clone();
        b.drop_bucket(b"only-a").unwrap();
        b.create_bucket(b"only-b").unwrap();
        b.put(D, b"k1", b"w").unwrap();
        b.delete(D, b"k2").unwrap();
        b.put(D, b"k3", b"x").unwrap();
        let d = a.differences(&b, 10);
        assert_eq!(d.len(), 5, "{d:?}");
        assert_eq!(
            d[0],
            Difference::Entry {
                bucket: vec![],
                key: b"k1".to_vec(),
                this: Some(b"v".to_vec()),
                other: Some(b"w".to_vec())
            }
        );
        assert!(d.contains(&Difference::BucketOnlyInThis(b"only-a".to_vec())));
        assert!(d.contains(&Difference::BucketOnlyInOther(b"only-b".to_vec())));
        assert_eq!(a.differences(&b, 2).len(), 2);
        assert_eq!(
            a.diff(&b).unwrap(),
            "bucket default, key b\"k1\": this has b\"v\", other has b\"w\""
        );
        let dbg = format!("{b:?}");
        assert!(dbg.contains("b\"k3\": b\"x\""), "{dbg}");
    }

    #[test]
    fn large_values_and_many_versions_are_cheap() {
        // 2,000 versions of a 2,000-key bucket: each keeps its own view.
        let mut versions = vec![State::new()];
        for i in 0..2000u32 {
            let mut s = versions.last().unwrap().clone();
            s.put(D, &(i % 2000).to_be_bytes(), &i.to_le_bytes())
                .unwrap();
            versions.push(s);
        }
        for (i, v) in versions.iter().enumerate() {
            assert_eq!(v.len(D).unwrap(), i);
        }
        assert!(versions[10].diff(&versions[11]).is_some());
    }
}
