//! Bottom-up construction of a tree from sorted entries.

use std::sync::Arc;

use crate::page::node::edit::separator;
use crate::page::node::{Child, Item, Node, ValueSrc};
use crate::page::HEADER_LEN;

/// A node of the level being built, with the separator in front of it.
struct Built {
    sep: Vec<u8>,
    node: Node,
}

/// Builds an in-memory tree from entries in strictly increasing key order,
/// filling each page to about `fill` (0.5..=1.0) of its size.
pub fn build_sorted<'a>(
    entries: impl IntoIterator<Item = (&'a [u8], ValueSrc<'a>)>,
    page_size: usize,
    fill: f64,
) -> Option<Child> {
    let target = ((page_size as f64) * fill.clamp(0.5, 1.0)) as usize;
    let mut level: Vec<Built> = Vec::new();
    let mut leaf: Vec<Item<'a>> = Vec::new();
    let mut size = HEADER_LEN;
    let mut prev_last: Option<&'a [u8]> = None;
    let mut finish = |leaf: &mut Vec<Item<'a>>, prev_last: &mut Option<&'a [u8]>| {
        let first = leaf[0].key();
        let sep = prev_last.map_or_else(Vec::new, |p| separator(p, first).to_vec());
        *prev_last = Some(leaf.last().expect("non-empty").key());
        level.push(Built {
            sep,
            node: Node::build(true, leaf, page_size),
        });
        leaf.clear();
    };
    for (key, value) in entries {
        let it = Item::Leaf { key, value };
        if !leaf.is_empty() && size + it.size() > target {
            finish(&mut leaf, &mut prev_last);
            size = HEADER_LEN;
        }
        debug_assert!(leaf.last().is_none_or(|l| l.key() < key));
        size += it.size();
        leaf.push(it);
    }
    if !leaf.is_empty() {
        finish(&mut leaf, &mut prev_last);
    }
    while level.len() > 1 {
        level = branch_level(level, page_size, target);
    }
    level.pop().map(|b| Child::Mem(Arc::new(b.node)))
}

/// Groups the nodes of one level under branches (at least two children
/// each).
fn branch_level(level: Vec<Built>, page_size: usize, target: usize) -> Vec<Built> {
    // Children of each branch, as (separator, child).
    let mut groups: Vec<Vec<(Vec<u8>, Child)>> = Vec::new();
    let mut size = HEADER_LEN;
    for b in level {
        let child = Child::Mem(Arc::new(b.node));
        let item_size = Item::Branch {
            key: &b.sep,
            child: child.clone(),
        }
        .size();
        let start_new = match groups.last() {
            None => true,
            Some(g) => g.len() >= 2 && size + item_size > target,
        };
        if start_new {
            groups.push(Vec::new());
            size = HEADER_LEN;
        }
        size += item_size;
        groups.last_mut().expect("pushed").push((b.sep, child));
    }
    // A trailing branch with a single child takes one from its neighbour.
    if groups.len() > 1 && groups.last().is_some_and(|g| g.len() == 1) {
        let lone = groups.pop().expect("len > 1");
        let prev = groups.last_mut().expect("len > 1");
        prev.extend(lone);
        if !fits_branch(prev, page_size) {
            let moved = prev.split_off(prev.len() - 2);
            groups.push(moved);
        }
    }
    groups
        .into_iter()
        .map(|g| {
            let items: Vec<Item<'_>> = g
                .iter()
                .enumerate()
                .map(|(i, (sep, c))| Item::Branch {
                    key: if i == 0 { &[] } else { sep },
                    child: c.clone(),
                })
                .collect();
            let node = Node::build(false, &items, page_size);
            drop(items);
            let sep = g.into_iter().next().expect("a branch has children").0;
            Built { sep, node }
        })
        .collect()
}

fn fits_branch(g: &[(Vec<u8>, Child)], page_size: usize) -> bool {
    let total: usize = g
        .iter()
        .enumerate()
        .map(|(i, (sep, c))| {
            Item::Branch {
                key: if i == 0 { &[] } else { sep },
                child: c.clone(),
            }
            .size()
        })
        .sum();
    crate::page::node::fits(total, page_size)
}

#[cfg(test)]
mod tests;
