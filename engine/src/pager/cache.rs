//! A bounded cache of decoded pages, sharded to keep reader threads apart.
//!
//! Entries are keyed by page number *and* checksum: a page that was freed and
//! rewritten has a new checksum in its parent, so a stale entry can never be
//! returned and no invalidation is needed. Eviction is CLOCK (second chance)
//! per shard, bounded by an estimate of each entry's memory.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::page::node::Node;

const SHARDS: usize = 16;

struct Entry {
    checksum: u64,
    node: Arc<Node>,
    cost: usize,
    referenced: bool,
}

#[derive(Default)]
struct Shard {
    map: HashMap<u64, Entry>,
    clock: VecDeque<u64>,
    bytes: usize,
    hits: u64,
    misses: u64,
}

/// The page cache.
pub struct Cache {
    shards: Vec<Mutex<Shard>>,
    shard_budget: usize,
}

/// Estimated memory of a decoded node.
pub fn node_cost(node: &Node) -> usize {
    node.encoded_size() + 56 * node.len() + 96
}

impl Cache {
    /// A cache holding about `budget` bytes of decoded nodes.
    pub fn new(budget: usize) -> Cache {
        Cache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_budget: budget / SHARDS,
        }
    }

    fn shard(&self, page: u64) -> &Mutex<Shard> {
        let h = page.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60;
        &self.shards[h as usize % SHARDS]
    }

    /// The cached node for `page` if its checksum is `checksum`.
    pub fn get(&self, page: u64, checksum: u64) -> Option<Arc<Node>> {
        // Counters live in the shard (under its lock) so that readers on
        // different shards never write a shared cache line.
        let mut guard = self.shard(page).lock();
        let s = &mut *guard;
        match s.map.get_mut(&page) {
            Some(e) if e.checksum == checksum => {
                if !e.referenced {
                    e.referenced = true;
                }
                s.hits += 1;
                Some(e.node.clone())
            }
            _ => {
                s.misses += 1;
                None
            }
        }
    }

    /// Inserts (or replaces) the node for `page`, evicting as needed.
    pub fn insert(&self, page: u64, checksum: u64, node: Arc<Node>) {
        let cost = node_cost(&node);
        if cost > self.shard_budget {
            return;
        }
        let mut guard = self.shard(page).lock();
        let s = &mut *guard;
        if let Some(old) = s.map.insert(
            page,
            Entry {
                checksum,
                node,
                cost,
                referenced: false,
            },
        ) {
            s.bytes -= old.cost;
        } else {
            s.clock.push_back(page);
        }
        s.bytes += cost;
        while s.bytes > self.shard_budget {
            let Some(victim) = s.clock.pop_front() else {
                break;
            };
            match s.map.get_mut(&victim) {
                Some(e) if e.referenced => {
                    e.referenced = false;
                    s.clock.push_back(victim);
                }
                Some(_) => {
                    let e = s.map.remove(&victim).expect("entry present");
                    s.bytes -= e.cost;
                }
                None => {}
            }
        }
    }

    /// Cache hits and misses since creation.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        self.shards.iter().fold((0, 0), |(h, m), s| {
            let s = s.lock();
            (h + s.hits, m + s.misses)
        })
    }

    /// Bytes currently held.
    pub fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().bytes).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::node::{Leaf, Value};

    fn node(n: usize) -> Arc<Node> {
        Arc::new(Node::Leaf(Leaf {
            keys: (0..n).map(|i| vec![i as u8; 8]).collect(),
            values: (0..n).map(|_| Value::Inline(vec![0; 32])).collect(),
        }))
    }

    #[test]
    fn checksum_mismatch_misses_and_budget_is_kept() {
        let c = Cache::new(64 * 1024);
        c.insert(7, 1, node(4));
        assert!(c.get(7, 1).is_some());
        assert!(c.get(7, 2).is_none());
        for p in 0..10_000 {
            c.insert(p, p, node(10));
        }
        assert!(c.bytes() <= 64 * 1024);
    }

    #[test]
    fn a_rewritten_page_replaces_its_entry_and_its_cost() {
        let c = Cache::new(1 << 20);
        let cost = node_cost(&node(10));
        for checksum in 0..100 {
            c.insert(7, checksum, node(10));
            assert_eq!(c.bytes(), cost, "one entry, counted once");
        }
        assert!(c.get(7, 99).is_some());
        assert!(c.get(7, 98).is_none());
    }

    #[test]
    fn node_cost_counts_every_decoded_entry() {
        // Besides its encoded bytes, each decoded entry holds a key `Vec`
        // and a `Value`: the cost must cover them, or a full cache would
        // hold more memory than its budget.
        let per_entry = std::mem::size_of::<Vec<u8>>() + std::mem::size_of::<Value>();
        for n in [1, 10, 100, 250] {
            let nd = node(n);
            assert!(
                node_cost(&nd) >= nd.encoded_size() + n * per_entry,
                "{n} entries: cost {} undercounts",
                node_cost(&nd)
            );
        }
    }
}
