//! B+ tree nodes: the decoded form of leaf and branch pages (FORMAT.md
//! §1.4, §1.5) and their byte codec.
//!
//! A [`Child`] is either a page on disk (its reference, checksum included) or
//! a node changed since the last checkpoint, held in memory. Committed
//! versions share unchanged nodes through `Arc`, so a snapshot is a root.

use std::sync::Arc;

use super::{pad_to, PageHeader, PageKind, PageRef, Reader, HEADER_LEN};
use crate::{Error, Result};

/// A value as stored in a leaf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// Small value, stored in the leaf page.
    Inline(Vec<u8>),
    /// Large value not yet written to an overflow run (in memory until the
    /// next checkpoint).
    Big(Arc<[u8]>),
    /// Large value in an overflow run.
    Overflow {
        /// Where the run is and its checksum.
        at: PageRef,
        /// Value length in bytes.
        len: u32,
    },
}

impl Value {
    /// The value's length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Value::Inline(v) => v.len(),
            Value::Big(v) => v.len(),
            Value::Overflow { len, .. } => *len as usize,
        }
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes this value takes in its leaf page.
    fn encoded_len(&self) -> usize {
        match self {
            Value::Inline(v) => v.len(),
            Value::Big(_) | Value::Overflow { .. } => 16,
        }
    }
}

/// A child of a branch, or the root of a tree.
#[derive(Clone, Debug)]
pub enum Child {
    /// A node on disk.
    Disk(PageRef),
    /// A node changed since the last checkpoint.
    Mem(Arc<Node>),
}

/// A decoded B+ tree node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// Keys with values, in increasing key order.
    Leaf(Leaf),
    /// Separator keys and children (`children.len() == keys.len() + 1`).
    Branch(Branch),
}

/// Leaf node content.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Leaf {
    /// Keys, strictly increasing.
    pub keys: Vec<Vec<u8>>,
    /// Values, parallel to `keys`.
    pub values: Vec<Value>,
}

/// Branch node content.
#[derive(Clone, Debug)]
pub struct Branch {
    /// Separator keys: child `i+1` holds keys `>= keys[i]`.
    pub keys: Vec<Vec<u8>>,
    /// Children, one more than keys.
    pub children: Vec<Child>,
}

impl PartialEq for Branch {
    fn eq(&self, other: &Self) -> bool {
        self.keys == other.keys
            && self.children.len() == other.children.len()
            && self
                .children
                .iter()
                .zip(&other.children)
                .all(|(a, b)| match (a, b) {
                    (Child::Disk(x), Child::Disk(y)) => x == y,
                    (Child::Mem(x), Child::Mem(y)) => x == y,
                    _ => false,
                })
    }
}
impl Eq for Branch {}

/// Per-entry overhead of a leaf entry (key len, kind, value len).
pub const LEAF_ENTRY_OVERHEAD: usize = 7;
/// Per-entry overhead of a branch entry (key len, child ref).
pub const BRANCH_ENTRY_OVERHEAD: usize = 18;

/// Encoded size of one leaf entry.
pub fn leaf_entry_size(key: &[u8], value: &Value) -> usize {
    LEAF_ENTRY_OVERHEAD + key.len() + value.encoded_len()
}

impl Node {
    /// Bytes this node takes when encoded (must be `<=` the page size).
    pub fn encoded_size(&self) -> usize {
        match self {
            Node::Leaf(l) => {
                HEADER_LEN
                    + l.keys
                        .iter()
                        .zip(&l.values)
                        .map(|(k, v)| leaf_entry_size(k, v))
                        .sum::<usize>()
            }
            Node::Branch(b) => {
                HEADER_LEN
                    + 16
                    + b.keys
                        .iter()
                        .map(|k| BRANCH_ENTRY_OVERHEAD + k.len())
                        .sum::<usize>()
            }
        }
    }

    /// Number of entries (keys in a leaf, children in a branch).
    pub fn len(&self) -> usize {
        match self {
            Node::Leaf(l) => l.keys.len(),
            Node::Branch(b) => b.children.len(),
        }
    }

    /// Whether the node has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks the structural invariants that hold for every node: sorted
    /// keys, parallel vectors, and it fits in a page.
    pub fn check_invariants(&self, page_size: usize, page: u64) -> Result<()> {
        let keys = match self {
            Node::Leaf(l) => {
                if l.keys.len() != l.values.len() {
                    return Err(Error::corrupt(
                        page,
                        "leaf keys and values differ in number",
                    ));
                }
                &l.keys
            }
            Node::Branch(b) => {
                if b.children.len() != b.keys.len() + 1 || b.keys.is_empty() {
                    return Err(Error::corrupt(page, "branch with wrong child count"));
                }
                &b.keys
            }
        };
        if keys.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::corrupt(page, "keys out of order"));
        }
        if self.encoded_size() > page_size {
            return Err(Error::corrupt(page, "node larger than a page"));
        }
        Ok(())
    }

    /// Encodes a node whose children and values are all on disk (no
    /// [`Child::Mem`], no [`Value::Big`]) into a full page.
    pub fn encode(&self, page: u64, checkpoint: u64, page_size: usize) -> Vec<u8> {
        debug_assert!(self.check_invariants(page_size, page).is_ok());
        let mut b = Vec::with_capacity(page_size);
        match self {
            Node::Leaf(l) => {
                let count = u16::try_from(l.keys.len()).expect("leaf entry count fits u16");
                PageHeader {
                    kind: PageKind::Leaf,
                    count,
                    page,
                    checkpoint,
                }
                .write(&mut b);
                for (k, v) in l.keys.iter().zip(&l.values) {
                    b.extend_from_slice(&(k.len() as u16).to_le_bytes());
                    match v {
                        Value::Inline(bytes) => {
                            b.push(0);
                            b.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                            b.extend_from_slice(k);
                            b.extend_from_slice(bytes);
                        }
                        Value::Overflow { at, len } => {
                            b.push(1);
                            b.extend_from_slice(&len.to_le_bytes());
                            b.extend_from_slice(k);
                            at.write(&mut b);
                        }
                        Value::Big(_) => panic!("Big value must be flushed before encoding"),
                    }
                }
            }
            Node::Branch(br) => {
                let count = u16::try_from(br.keys.len()).expect("branch key count fits u16");
                PageHeader {
                    kind: PageKind::Branch,
                    count,
                    page,
                    checkpoint,
                }
                .write(&mut b);
                let disk = |c: &Child| match c {
                    Child::Disk(r) => *r,
                    Child::Mem(_) => panic!("in-memory child must be flushed before encoding"),
                };
                disk(&br.children[0]).write(&mut b);
                for (k, c) in br.keys.iter().zip(&br.children[1..]) {
                    b.extend_from_slice(&(k.len() as u16).to_le_bytes());
                    b.extend_from_slice(k);
                    disk(c).write(&mut b);
                }
            }
        }
        pad_to(&mut b, page_size);
        b
    }

    /// Decodes a leaf or branch page, checking its header and invariants.
    pub fn decode(bytes: &[u8], page: u64) -> Result<Node> {
        let h = PageHeader::read(bytes, page, &[PageKind::Leaf, PageKind::Branch])?;
        let mut r = Reader::at(bytes, HEADER_LEN, page);
        let n = h.count as usize;
        let node = match h.kind {
            PageKind::Leaf => {
                let mut keys = Vec::with_capacity(n);
                let mut values = Vec::with_capacity(n);
                for _ in 0..n {
                    let klen = r.u16()? as usize;
                    let kind = r.u8()?;
                    let vlen = r.u32()?;
                    keys.push(r.bytes(klen)?.to_vec());
                    values.push(match kind {
                        0 => Value::Inline(r.bytes(vlen as usize)?.to_vec()),
                        1 if vlen as usize
                            <= crate::Limits::for_page_size(bytes.len()).max_value_len
                            && vlen as usize
                                > crate::Limits::for_page_size(bytes.len())
                                    .max_inline_value_len =>
                        {
                            Value::Overflow {
                                at: PageRef::read(&mut r)?,
                                len: vlen,
                            }
                        }
                        1 => {
                            return Err(Error::corrupt(page, "overflow value length out of range"))
                        }
                        _ => return Err(Error::corrupt(page, "bad value kind")),
                    });
                }
                Node::Leaf(Leaf { keys, values })
            }
            _ => {
                let mut keys = Vec::with_capacity(n);
                let mut children = Vec::with_capacity(n + 1);
                children.push(Child::Disk(PageRef::read(&mut r)?));
                for _ in 0..n {
                    let klen = r.u16()? as usize;
                    keys.push(r.bytes(klen)?.to_vec());
                    children.push(Child::Disk(PageRef::read(&mut r)?));
                }
                Node::Branch(Branch { keys, children })
            }
        };
        if bytes[r.pos()..].iter().any(|&b| b != 0) {
            return Err(Error::corrupt(page, "garbage after the last entry"));
        }
        node.check_invariants(bytes.len(), page)?;
        Ok(node)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_value_has_the_length_of_its_bytes_wherever_they_live() {
        let overflow = |len| Value::Overflow {
            at: PageRef {
                page: 9,
                checksum: 1,
            },
            len,
        };
        for (v, len) in [
            (Value::Inline(vec![]), 0),
            (Value::Inline(vec![1, 2]), 2),
            (Value::Big(Arc::from(vec![5u8; 3000])), 3000),
            (overflow(70_000), 70_000),
        ] {
            assert_eq!(v.len(), len);
            assert_eq!(v.is_empty(), len == 0, "{len}");
        }
    }

    #[test]
    fn in_memory_children_compare_by_content() {
        let leaf = |v: u8| {
            Child::Mem(Arc::new(Node::Leaf(Leaf {
                keys: vec![vec![1]],
                values: vec![Value::Inline(vec![v])],
            })))
        };
        let branch = |last: Child| Branch {
            keys: vec![vec![2]],
            children: vec![leaf(0), last],
        };
        assert_eq!(branch(leaf(1)), branch(leaf(1)));
        assert_ne!(branch(leaf(1)), branch(leaf(2)));
        let disk = Child::Disk(PageRef {
            page: 3,
            checksum: 4,
        });
        assert_eq!(branch(disk.clone()), branch(disk.clone()));
        assert_ne!(branch(disk), branch(leaf(1)));
    }

    fn leaf_strategy() -> impl Strategy<Value = Node> {
        proptest::collection::btree_map(
            proptest::collection::vec(any::<u8>(), 0..40),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..60).prop_map(Value::Inline),
                (any::<u64>(), any::<u64>(), 1025u32..100_000).prop_map(|(p, c, len)| {
                    Value::Overflow {
                        at: PageRef {
                            page: p,
                            checksum: c,
                        },
                        len,
                    }
                }),
            ],
            0..40,
        )
        .prop_map(|m| {
            let (keys, values) = m.into_iter().unzip();
            Node::Leaf(Leaf { keys, values })
        })
    }

    fn branch_strategy() -> impl Strategy<Value = Node> {
        proptest::collection::btree_set(proptest::collection::vec(any::<u8>(), 0..40), 1..40)
            .prop_flat_map(|keys| {
                let n = keys.len() + 1;
                (
                    Just(keys),
                    proptest::collection::vec((any::<u64>(), any::<u64>()), n),
                )
            })
            .prop_map(|(keys, refs)| {
                Node::Branch(Branch {
                    keys: keys.into_iter().collect(),
                    children: refs
                        .into_iter()
                        .map(|(page, checksum)| Child::Disk(PageRef { page, checksum }))
                        .collect(),
                })
            })
    }

    proptest! {
        #[test]
        fn leaf_round_trip(node in leaf_strategy(), page in 3u64..1000) {
            prop_assume!(node.encoded_size() <= 4096);
            let b = node.encode(page, 5, 4096);
            prop_assert_eq!(b.len(), 4096);
            prop_assert_eq!(Node::decode(&b, page).unwrap(), node);
        }

        #[test]
        fn branch_round_trip(node in branch_strategy(), page in 3u64..1000) {
            prop_assume!(node.encoded_size() <= 4096);
            let b = node.encode(page, 5, 4096);
            prop_assert_eq!(Node::decode(&b, page).unwrap(), node);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Node::decode(&bytes, 3);
        }
    }

    #[test]
    fn overflow_lengths_outside_the_limits_are_corruption() {
        let ps = 1024;
        let limits = crate::Limits::for_page_size(ps);
        let leaf = |len: u32| {
            Node::Leaf(Leaf {
                keys: vec![b"k".to_vec()],
                values: vec![Value::Overflow {
                    at: PageRef {
                        page: 9,
                        checksum: 1,
                    },
                    len,
                }],
            })
        };
        let shortest = limits.max_inline_value_len as u32 + 1;
        for ok in [shortest, limits.max_value_len as u32] {
            assert_eq!(
                Node::decode(&leaf(ok).encode(3, 1, ps), 3).unwrap(),
                leaf(ok)
            );
        }
        for bad in [0, shortest - 1, limits.max_value_len as u32 + 1] {
            let r = Node::decode(&leaf(bad).encode(3, 1, ps), 3);
            assert!(r.unwrap_err().is_corruption(), "overflow length {bad}");
        }
    }

    #[test]
    fn misdirected_page_is_rejected() {
        let n = Node::Leaf(Leaf {
            keys: vec![b"a".to_vec()],
            values: vec![Value::Inline(b"1".to_vec())],
        });
        let b = n.encode(10, 1, 1024);
        assert!(Node::decode(&b, 11).unwrap_err().is_corruption());
    }
}
