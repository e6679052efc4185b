use super::*;
use crate::page::node::ChildAt;

/// Walks a built tree; collects leaf depths, keys and `(depth, used bytes)`
/// of every node, left to right within each depth.
fn walk(
    c: ChildAt<'_>,
    depth: usize,
    leaf_depths: &mut Vec<usize>,
    keys: &mut Vec<Vec<u8>>,
    sizes: &mut Vec<(usize, usize)>,
) {
    let ChildAt::Mem(n) = c else {
        panic!("built trees are in memory")
    };
    n.check_shape().unwrap();
    sizes.push((depth, n.used_bytes()));
    if n.is_leaf() {
        assert!(!n.is_empty());
        leaf_depths.push(depth);
        keys.extend((0..n.len()).map(|i| n.key(i).to_vec()));
    } else {
        for i in 0..n.len() {
            walk(n.child(i), depth + 1, leaf_depths, keys, sizes);
        }
    }
}

#[test]
fn builds_balanced_trees_of_any_size() {
    for ps in [1024, 4096] {
        for n in [0usize, 1, 2, 3, 17, 100, 1000, 5000] {
            for fill in [0.5, 0.9, 1.0] {
                let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..n)
                    .map(|i| (format!("key{i:08}").into_bytes(), vec![i as u8; i % 90]))
                    .collect();
                let want: Vec<Vec<u8>> = entries.iter().map(|e| e.0.clone()).collect();
                let root = build_sorted(
                    entries
                        .iter()
                        .map(|(k, v)| (k.as_slice(), ValueSrc::Inline(v))),
                    ps,
                    fill,
                );
                let (mut depths, mut keys, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
                if let Some(r) = &root {
                    walk(r.as_at(), 1, &mut depths, &mut keys, &mut sizes);
                }
                assert_eq!(keys, want, "n={n} ps={ps} fill={fill}");
                depths.dedup();
                assert!(depths.len() <= 1, "leaves at different depths");
                // Pages are filled: at every depth, each node but the last
                // two holds more than half the fill target.
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

#[test]
fn separators_are_truncated_and_still_route_every_key() {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = (0..3000u32)
        .map(|i| {
            (
                i.wrapping_mul(2_654_435_761).to_be_bytes().repeat(6),
                vec![1; 20],
            )
        })
        .collect();
    let mut sorted = entries.clone();
    sorted.sort();
    let root = build_sorted(
        sorted
            .iter()
            .map(|(k, v)| (k.as_slice(), ValueSrc::Inline(v))),
        1024,
        1.0,
    )
    .unwrap();
    let Child::Mem(r) = &root else { panic!() };
    assert!(!r.is_leaf());
    // 24-byte random keys: separators of a few bytes.
    let longest = (1..r.len()).map(|i| r.key(i).len()).max().unwrap();
    assert!(longest <= 4, "separator of {longest} bytes");
    let pager = crate::pager::Pager::in_memory(1024);
    let root = Some(root);
    for (k, _) in &entries {
        assert!(crate::btree::get(&pager, &root, None, k).unwrap().is_some());
    }
}
