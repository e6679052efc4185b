//! Bottom-up construction of a tree from sorted entries.

use std::sync::Arc;

use crate::page::node::{leaf_entry_size, Branch, Child, Leaf, Node, Value, BRANCH_ENTRY_OVERHEAD};
use crate::page::HEADER_LEN;

/// Builds an in-memory tree from entries in strictly increasing key order,
/// filling each page to about `fill` (0.5..=1.0) of its size.
pub fn build_sorted(
    entries: impl IntoIterator<Item = (Vec<u8>, Value)>,
    page_size: usize,
    fill: f64,
) -> Option<Child> {
    let target = ((page_size as f64) * fill.clamp(0.5, 1.0)) as usize;
    let mut level: Vec<(Vec<u8>, Child)> = Vec::new();
    let mut leaf = Leaf::default();
    let mut size = HEADER_LEN;
    let finish = |leaf: &mut Leaf, level: &mut Vec<(Vec<u8>, Child)>| {
        let l = std::mem::take(leaf);
        let first = l.keys[0].clone();
        level.push((first, Child::Mem(Arc::new(Node::Leaf(l)))));
    };
    for (k, v) in entries {
        let s = leaf_entry_size(&k, &v);
        if !leaf.keys.is_empty() && size + s > target {
            finish(&mut leaf, &mut level);
            size = HEADER_LEN;
        }
        debug_assert!(leaf.keys.last().is_none_or(|last| *last < k));
        size += s;
        leaf.keys.push(k);
        leaf.values.push(v);
    }
    if !leaf.keys.is_empty() {
        finish(&mut leaf, &mut level);
    }
    while level.len() > 1 {
        let mut next = Vec::new();
        let mut iter = level.into_iter().peekable();
        while let Some((first, c)) = iter.next() {
            let mut b = Branch {
                keys: Vec::new(),
                children: vec![c],
            };
            let mut size = HEADER_LEN + 16;
            while let Some((k, _)) = iter.peek() {
                let s = BRANCH_ENTRY_OVERHEAD + k.len();
                // Keep at least two children per branch.
                if b.children.len() >= 2 && size + s > target {
                    break;
                }
                let (k, c) = iter.next().expect("peeked");
                size += s;
                b.keys.push(k);
                b.children.push(c);
            }
            next.push((first, b));
        }
        // A trailing branch with a single child borrows from its neighbour.
        if next.len() > 1 && next.last().is_some_and(|(_, b)| b.children.len() == 1) {
            let (lk, lone) = next.pop().expect("len > 1");
            let prev = &mut next.last_mut().expect("len > 1").1;
            prev.keys.push(lk);
            prev.children.extend(lone.children);
            if Node::Branch(prev.clone()).encoded_size() > page_size {
                let moved_child = prev.children.pop().expect("children");
                let moved_key = prev.keys.pop().expect("keys");
                let c2 = prev.children.pop().expect("at least three children");
                let k2 = prev.keys.pop().expect("keys");
                next.push((
                    k2,
                    Branch {
                        keys: vec![moved_key],
                        children: vec![c2, moved_child],
                    },
                ));
            }
        }
        level = next
            .into_iter()
            .map(|(k, b)| (k, Child::Mem(Arc::new(Node::Branch(b)))))
            .collect();
    }
    level.pop().map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::node::Value;

    /// Walks a built tree; `sizes` gets `(depth, encoded size)` of every
    /// node, left to right within each depth.
    fn walk(
        c: &Child,
        depth: usize,
        leaf_depths: &mut Vec<usize>,
        keys: &mut Vec<Vec<u8>>,
        sizes: &mut Vec<(usize, usize)>,
        ps: usize,
    ) {
        let Child::Mem(n) = c else {
            panic!("built trees are in memory")
        };
        n.check_invariants(ps, 0).unwrap();
        sizes.push((depth, n.encoded_size()));
        match &**n {
            Node::Leaf(l) => {
                assert!(!l.keys.is_empty());
                leaf_depths.push(depth);
                keys.extend(l.keys.iter().cloned());
            }
            Node::Branch(b) => {
                for ch in &b.children {
                    walk(ch, depth + 1, leaf_depths, keys, sizes, ps);
                }
            }
        }
    }

    #[test]
    fn builds_balanced_trees_of_any_size() {
        for ps in [1024, 4096] {
            for n in [0usize, 1, 2, 3, 17, 100, 1000, 5000] {
                for fill in [0.5, 0.9, 1.0] {
                    let entries: Vec<(Vec<u8>, Value)> = (0..n)
                        .map(|i| {
                            (
                                format!("key{i:08}").into_bytes(),
                                Value::Inline(vec![i as u8; i % 90]),
                            )
                        })
                        .collect();
                    let want: Vec<Vec<u8>> = entries.iter().map(|e| e.0.clone()).collect();
                    let root = build_sorted(entries, ps, fill);
                    let (mut depths, mut keys, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
                    if let Some(r) = &root {
                        walk(r, 1, &mut depths, &mut keys, &mut sizes, ps);
                    }
                    assert_eq!(keys, want, "n={n} ps={ps} fill={fill}");
                    depths.dedup();
                    assert!(depths.len() <= 1, "leaves at different depths");
                    // Pages are filled: at every depth, each node but the
                    // last two holds more than half the fill target.
                    let target = (ps as f64 * fill) as usize;
                    for d in 1..=depths.first().copied().unwrap_or(0) {
                        let level: Vec<usize> =
                            sizes.iter().filter(|s| s.0 == d).map(|s| s.1).collect();
                        let full = level.len().saturating_sub(2);
                        assert!(
                            level[..full].iter().all(|&s| s > target / 2),
                            "n={n} ps={ps} fill={fill}: underfull nodes at depth {d}: {level:?}"
                        );
                    }
                }
            }
        }
    }
}
