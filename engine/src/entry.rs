//! Borrowed read results: values, keys and entries that point into the
//! page they were found in instead of being copied out of it.
//!
//! A result found in a node of the reader's snapshot is a plain borrow
//! (`'tx`). A result found in a cached page shares the page through an
//! `Arc` (one reference count increment on that leaf, none on the pages
//! above it), so the cache may evict the page and the guard still reads
//! it. A large value stored in an overflow run is read when it is asked
//! for; a walk over keys only ([`crate::Range::keys`]) never reads one.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::btree::cursor::Held;
use crate::page::node::{Node, ValueAt};
use crate::pager::{NodeRef, Pager};
use crate::Result;

/// Where the bytes of a guard are.
#[derive(Clone)]
enum Bytes<'tx> {
    /// Borrowed from the transaction's snapshot.
    Slice(&'tx [u8]),
    /// A span of a page shared with the cache.
    InNode {
        node: Arc<Node>,
        start: u32,
        len: u32,
    },
    /// A large value not yet written to an overflow run, shared with the
    /// transaction's tree.
    Shared(Arc<[u8]>),
    /// A large value read from its overflow run.
    Owned(Box<[u8]>),
}

impl Deref for Bytes<'_> {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Slice(s) => s,
            Bytes::InNode { node, start, len } => {
                &node.bytes()[*start as usize..(*start + *len) as usize]
            }
            Bytes::Shared(v) => v,
            Bytes::Owned(v) => v,
        }
    }
}

/// A node an entry was found in.
#[derive(Clone)]
enum Page<'tx> {
    Ref(&'tx Node),
    Arc(Arc<Node>),
}

impl Page<'_> {
    #[inline]
    fn node(&self) -> &Node {
        match self {
            Page::Ref(n) => n,
            Page::Arc(n) => n,
        }
    }
}

impl<'tx> Page<'tx> {
    fn span(&self, (start, len): (usize, usize)) -> Bytes<'tx> {
        match self {
            Page::Ref(n) => Bytes::Slice(&n.bytes()[start..start + len]),
            Page::Arc(n) => Bytes::InNode {
                node: n.clone(),
                start: start as u32,
                len: len as u32,
            },
        }
    }

    /// The value of entry `i`, keeping the page (moved, not shared again)
    /// when the value lies in it.
    fn into_value(self, pager: &Pager, i: usize) -> Result<Bytes<'tx>> {
        let Some((start, len)) = self.node().inline_value_span(i) else {
            return self.value(pager, i);
        };
        Ok(match self {
            Page::Ref(n) => Bytes::Slice(&n.bytes()[start..start + len]),
            Page::Arc(node) => Bytes::InNode {
                node,
                start: start as u32,
                len: len as u32,
            },
        })
    }

    /// The value of entry `i`: in the page, shared, or read from its
    /// overflow run.
    fn value(&self, pager: &Pager, i: usize) -> Result<Bytes<'tx>> {
        let n = self.node();
        if let Some(span) = n.inline_value_span(i) {
            return Ok(self.span(span));
        }
        match (self, n.value(i)) {
            (_, ValueAt::Overflow { at, len }) => Ok(Bytes::Owned(
                pager.read_overflow(at, len)?.into_boxed_slice(),
            )),
            (Page::Ref(n), ValueAt::Pending(_)) => match n.value(i) {
                ValueAt::Pending(v) => Ok(Bytes::Slice(v)),
                _ => unreachable!("the same entry"),
            },
            (Page::Arc(n), ValueAt::Pending(_)) => Ok(Bytes::Shared(
                n.pending_value(i).expect("a pending value").clone(),
            )),
            (_, ValueAt::Inline(_)) => unreachable!("inline values have a span"),
        }
    }
}

macro_rules! bytes_guard {
    ($name:ident, $what:literal) => {
        impl Deref for $name<'_> {
            type Target = [u8];
            #[inline]
            fn deref(&self) -> &[u8] {
                &self.0
            }
        }

        impl AsRef<[u8]> for $name<'_> {
            fn as_ref(&self) -> &[u8] {
                &self.0
            }
        }

        impl Borrow<[u8]> for $name<'_> {
            fn borrow(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($what, "({:?})"), &*self.0)
            }
        }

        impl PartialEq for $name<'_> {
            fn eq(&self, other: &Self) -> bool {
                *self.0 == *other.0
            }
        }
        impl Eq for $name<'_> {}

        impl PartialEq<[u8]> for $name<'_> {
            fn eq(&self, other: &[u8]) -> bool {
                *self.0 == *other
            }
        }

        impl PartialEq<&[u8]> for $name<'_> {
            fn eq(&self, other: &&[u8]) -> bool {
                *self.0 == **other
            }
        }

        impl<const N: usize> PartialEq<[u8; N]> for $name<'_> {
            fn eq(&self, other: &[u8; N]) -> bool {
                *self.0 == *other
            }
        }

        impl<const N: usize> PartialEq<&[u8; N]> for $name<'_> {
            fn eq(&self, other: &&[u8; N]) -> bool {
                *self.0 == **other
            }
        }

        impl PartialEq<Vec<u8>> for $name<'_> {
            fn eq(&self, other: &Vec<u8>) -> bool {
                *self.0 == **other
            }
        }

        impl From<$name<'_>> for Vec<u8> {
            fn from(g: $name<'_>) -> Vec<u8> {
                g.0.to_vec()
            }
        }
    };
}

/// A value read from the database, without a copy: it dereferences to
/// `[u8]`. Holding it keeps the page it lies in alive (not the cache
/// frame: the cache may reuse that meanwhile).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.put(b"k", b"value")).unwrap();
/// let tx = db.begin_read().unwrap();
/// let v = tx.get(b"k").unwrap().unwrap();
/// assert_eq!(v, b"value");
/// assert_eq!(&v[..2], b"va");
/// let owned: Vec<u8> = v.to_vec();
/// # assert_eq!(owned, b"value");
/// ```
#[derive(Clone)]
pub struct ValueRef<'tx>(Bytes<'tx>);

bytes_guard!(ValueRef, "ValueRef");

/// A key read from the database, without a copy (see [`crate::Range::keys`]).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.put(b"k", b"v")).unwrap();
/// let tx = db.begin_read().unwrap();
/// let k = tx.iter().keys().next().unwrap().unwrap();
/// assert_eq!(k, b"k");
/// ```
#[derive(Clone)]
pub struct KeyRef<'tx>(Bytes<'tx>);

bytes_guard!(KeyRef, "KeyRef");

/// An entry yielded by a [`crate::Range`] or a [`crate::Cursor`]: its key
/// and value, both borrowed from the page they lie in (one reference to
/// the leaf, whatever the length of the walk).
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = vellum::Db::open(dir.path().join("db")).unwrap();
/// db.update(|tx| tx.put(b"apple", b"red")).unwrap();
/// let tx = db.begin_read().unwrap();
/// for e in tx.iter() {
///     let e = e.unwrap();
///     assert_eq!((e.key(), e.value()), (&b"apple"[..], &b"red"[..]));
///     let (k, v): (Vec<u8>, Vec<u8>) = e.into_pair();
///     # assert_eq!(k, b"apple"); assert_eq!(v, b"red");
/// }
/// ```
#[derive(Clone)]
pub struct Entry<'tx> {
    page: Page<'tx>,
    key: (u32, u32),
    value: EntryValue<'tx>,
}

/// Where an entry's value is.
#[derive(Clone)]
enum EntryValue<'tx> {
    /// In the entry's page, at this span.
    InPage(u32, u32),
    /// Elsewhere (an overflow run read, or a pending value).
    Bytes(Bytes<'tx>),
    /// Not read: the entry belongs to a walk over keys only.
    NotRead,
}

impl<'tx> Entry<'tx> {
    /// The entry under a cursor, with its value (read from its overflow run
    /// if it has one) unless `with_value` is false.
    #[inline(always)]
    pub(crate) fn at(
        pager: &Pager,
        held: &Held<'tx>,
        i: usize,
        with_value: bool,
    ) -> Result<Entry<'tx>> {
        let page = match held {
            Held::Ref(n) => Page::Ref(n),
            Held::Pinned(p) => Page::Ref(p.node()),
            Held::Arc(n) => Page::Arc(n.clone()),
            Held::Disk(_) => unreachable!("a cursor stands on a leaf it holds"),
        };
        let ((ks, kl), inline) = page.node().leaf_spans(i);
        let value = match (with_value, inline) {
            (false, _) => EntryValue::NotRead,
            (true, Some((vs, vl))) => EntryValue::InPage(vs as u32, vl as u32),
            (true, None) => EntryValue::Bytes(page.value(pager, i)?),
        };
        Ok(Entry {
            page,
            key: (ks as u32, kl as u32),
            value,
        })
    }

    /// The key.
    #[inline]
    pub fn key(&self) -> &[u8] {
        let (start, len) = (self.key.0 as usize, self.key.1 as usize);
        &self.page.node().bytes()[start..start + len]
    }

    /// The value.
    #[inline]
    pub fn value(&self) -> &[u8] {
        match &self.value {
            EntryValue::InPage(start, len) => {
                &self.page.node().bytes()[*start as usize..(*start + *len) as usize]
            }
            EntryValue::Bytes(b) => b,
            EntryValue::NotRead => unreachable!("entries of a keys-only walk are never handed out"),
        }
    }

    /// The key as a guard of its own.
    pub fn key_ref(&self) -> KeyRef<'tx> {
        KeyRef(self.page.span((self.key.0 as usize, self.key.1 as usize)))
    }

    /// The value as a guard of its own.
    pub fn value_ref(&self) -> ValueRef<'tx> {
        ValueRef(match &self.value {
            EntryValue::InPage(start, len) => self.page.span((*start as usize, *len as usize)),
            EntryValue::Bytes(b) => b.clone(),
            EntryValue::NotRead => unreachable!("entries of a keys-only walk are never handed out"),
        })
    }

    /// Key and value, copied out.
    pub fn into_pair(self) -> (Vec<u8>, Vec<u8>) {
        (self.key().to_vec(), self.value().to_vec())
    }

    pub(crate) fn into_key(self) -> KeyRef<'tx> {
        let span = (self.key.0 as usize, self.key.1 as usize);
        KeyRef(match self.page {
            Page::Ref(n) => Bytes::Slice(&n.bytes()[span.0..span.0 + span.1]),
            Page::Arc(node) => Bytes::InNode {
                node,
                start: span.0 as u32,
                len: span.1 as u32,
            },
        })
    }
}

impl fmt::Debug for Entry<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Entry");
        d.field("key", &self.key());
        if !matches!(self.value, EntryValue::NotRead) {
            d.field("value", &self.value());
        }
        d.finish()
    }
}

impl From<Entry<'_>> for (Vec<u8>, Vec<u8>) {
    fn from(e: Entry<'_>) -> Self {
        e.into_pair()
    }
}

/// The value of entry `i` of the leaf `node` found by a lookup in a tree
/// borrowed for `'tx` (a snapshot's: its in-memory nodes outlive the
/// borrow, so a value in one is borrowed too).
pub(crate) fn value_in_snapshot<'tx>(
    pager: &Pager,
    node: NodeRef<'tx>,
    i: usize,
) -> Result<ValueRef<'tx>> {
    let page = match node {
        NodeRef::Mem(n) => Page::Ref(n),
        NodeRef::Pinned(p) => Page::Ref(p.node()),
        NodeRef::Page(g) => Page::Arc(g.into_arc()),
    };
    Ok(ValueRef(page.into_value(pager, i)?))
}

/// The value of entry `i` of the leaf `node` found by a lookup in a tree
/// the caller owns (a write transaction's view): shared by `Arc`.
pub(crate) fn value_in_owned(
    pager: &Pager,
    node: NodeRef<'_>,
    i: usize,
) -> Result<ValueRef<'static>> {
    let page: Page<'static> = Page::Arc(node.into_arc());
    Ok(ValueRef(page.into_value(pager, i)?))
}
