//! Splitting an oversized node into pieces that each fit a page.

use crate::page::node::{leaf_entry_size, Branch, Child, Leaf, Node, BRANCH_ENTRY_OVERHEAD};
use crate::page::HEADER_LEN;

/// Chooses piece boundaries for items of the given sizes so that each piece
/// (plus `fixed` bytes) fits `cap`, as evenly as possible. Returns the start
/// index of every piece after the first.
fn boundaries(sizes: &[usize], fixed: usize, cap: usize, min_items: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    let room = cap - fixed;
    let mut pieces = total.div_ceil(room).max(2);
    loop {
        let target = total.div_ceil(pieces);
        let mut starts = Vec::new();
        let mut acc = 0;
        let mut count = 0;
        let mut ok = true;
        for (i, &s) in sizes.iter().enumerate() {
            let left = sizes.len() - i;
            if count >= min_items
                && acc + s > target
                && starts.len() + 1 < pieces
                && left >= min_items
            {
                starts.push(i);
                acc = 0;
                count = 0;
            }
            acc += s;
            count += 1;
            if acc > room {
                ok = false;
            }
        }
        if ok && count >= min_items {
            return starts;
        }
        pieces += 1;
        assert!(pieces <= sizes.len(), "items too large to split into pages");
    }
}

/// Splits a leaf that does not fit in `page_size` into pieces; `leaf` keeps
/// the first piece and the others are returned with their first keys.
pub fn split_leaf(leaf: &mut Leaf, page_size: usize) -> Vec<(Vec<u8>, Node)> {
    let sizes: Vec<usize> = leaf
        .keys
        .iter()
        .zip(&leaf.values)
        .map(|(k, v)| leaf_entry_size(k, v))
        .collect();
    let starts = boundaries(&sizes, HEADER_LEN, page_size, 1);
    let mut out = Vec::with_capacity(starts.len());
    for &s in starts.iter().rev() {
        let keys = leaf.keys.split_off(s);
        let values = leaf.values.split_off(s);
        out.push((keys[0].clone(), Node::Leaf(Leaf { keys, values })));
    }
    out.reverse();
    out
}

/// Splits a branch that does not fit; `branch` keeps the first piece, the
/// others are returned with the separator key promoted above each.
pub fn split_branch(branch: &mut Branch, page_size: usize) -> Vec<(Vec<u8>, Node)> {
    // Item i is child i with the key in front of it (none for child 0).
    let sizes: Vec<usize> = std::iter::once(16)
        .chain(branch.keys.iter().map(|k| BRANCH_ENTRY_OVERHEAD + k.len()))
        .collect();
    let starts = boundaries(&sizes, HEADER_LEN, page_size, 2);
    let mut out = Vec::with_capacity(starts.len());
    for &s in starts.iter().rev() {
        let children: Vec<Child> = branch.children.split_off(s);
        let mut keys = branch.keys.split_off(s - 1);
        let sep = keys.remove(0);
        out.push((sep, Node::Branch(Branch { keys, children })));
    }
    out.reverse();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes of the pieces `boundaries` makes.
    fn pieces(sizes: &[usize], starts: &[usize]) -> Vec<usize> {
        let mut cuts = vec![0];
        cuts.extend_from_slice(starts);
        cuts.push(sizes.len());
        cuts.windows(2)
            .map(|w| sizes[w[0]..w[1]].iter().sum())
            .collect()
    }

    #[test]
    fn pieces_are_as_few_and_as_even_as_the_items_allow() {
        // 100 items of 50 bytes, 1008 bytes of room: five pieces of 20.
        let sizes = vec![50; 100];
        let starts = boundaries(&sizes, 16, 1024, 1);
        assert_eq!(starts, [20, 40, 60, 80]);
        // 50 items of 60 bytes: three pieces cannot hold them evenly (16,
        // 16 and 18 items, the last too large), so four pieces of 12, 12, 12
        // and 14, not three even pieces and a stub of 2.
        assert_eq!(boundaries(&[60; 50], 16, 1024, 1), [12, 24, 36]);
        // Mixed sizes: every piece fits, the fewest pieces that fit, and no
        // piece is more than one item larger than the average.
        let sizes: Vec<usize> = (0..300).map(|i| 20 + (i * 37) % 90).collect();
        let (fixed, cap) = (16, 4096);
        let starts = boundaries(&sizes, fixed, cap, 1);
        let p = pieces(&sizes, &starts);
        let total: usize = sizes.iter().sum();
        assert_eq!(p.len(), total.div_ceil(cap - fixed), "{p:?}");
        let avg = total / p.len();
        assert!(
            p.iter().all(|&s| s + fixed <= cap && s <= avg + 110),
            "{p:?}"
        );
    }
}
