use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::edit::{encode_page, separator, split_point};
use super::layout;
use super::*;
use crate::page::HEADER_LEN;
use crate::Limits;

const PS: usize = 1024;

fn leaf_items<'a>(m: &'a BTreeMap<Vec<u8>, ValueSrc<'static>>) -> Vec<Item<'a>> {
    m.iter()
        .map(|(k, v)| Item::Leaf {
            key: k,
            value: v.clone(),
        })
        .collect()
}

/// A value of one of the three kinds.
fn value_strategy() -> impl Strategy<Value = ValueSrc<'static>> {
    let limits = Limits::for_page_size(PS);
    let inline = limits.max_inline_value_len;
    prop_oneof![
        4 => proptest::collection::vec(any::<u8>(), 0..60)
            .prop_map(|v| ValueSrc::Inline(Box::leak(v.into_boxed_slice()))),
        1 => (4u64..1000, any::<u64>(), inline as u32 + 1..=limits.max_value_len as u32)
            .prop_map(|(page, checksum, len)| ValueSrc::Overflow(PageRef { page, checksum }, len)),
    ]
}

/// Sorted leaf entries that fit in a page.
fn leaf_strategy() -> impl Strategy<Value = BTreeMap<Vec<u8>, ValueSrc<'static>>> {
    proptest::collection::btree_map(
        proptest::collection::vec(any::<u8>(), 0..40),
        value_strategy(),
        1..40,
    )
    .prop_map(|mut m| {
        while HEADER_LEN + leaf_items(&m).iter().map(Item::size).sum::<usize>() > PS {
            let last = m.keys().next_back().cloned().expect("non-empty");
            m.remove(&last);
        }
        m
    })
}

/// Branch entries: separators (the first empty) and disk children.
fn branch_strategy() -> impl Strategy<Value = Vec<(Vec<u8>, PageRef)>> {
    proptest::collection::btree_set(proptest::collection::vec(any::<u8>(), 1..30), 1..30)
        .prop_flat_map(|seps| {
            let n = seps.len() + 1;
            (
                Just(seps),
                proptest::collection::vec((4u64..100_000, any::<u64>()), n),
            )
        })
        .prop_map(|(seps, refs)| {
            let mut keys = vec![Vec::new()];
            keys.extend(seps);
            let mut v: Vec<(Vec<u8>, PageRef)> = keys
                .into_iter()
                .zip(refs)
                .map(|(k, (page, checksum))| (k, PageRef { page, checksum }))
                .collect();
            while HEADER_LEN
                + v.iter()
                    .map(|(k, _)| layout::SLOT_LEN + 18 + k.len())
                    .sum::<usize>()
                > PS
            {
                v.pop();
            }
            v
        })
}

fn branch_items(v: &[(Vec<u8>, PageRef)]) -> Vec<Item<'_>> {
    v.iter()
        .map(|(k, r)| Item::Branch {
            key: k,
            child: Child::Disk(*r),
        })
        .collect()
}

/// A leaf's entries as a map (values as they would be encoded).
fn leaf_map(n: &Node) -> BTreeMap<Vec<u8>, ValueSrc<'static>> {
    (0..n.len())
        .map(|i| {
            let v = match n.value(i) {
                ValueAt::Inline(b) => ValueSrc::Inline(Box::leak(b.to_vec().into_boxed_slice())),
                ValueAt::Overflow { at, len } => ValueSrc::Overflow(at, len),
                ValueAt::Pending(_) => ValueSrc::Pending(n.pending_value(i).unwrap().clone()),
            };
            (n.key(i).to_vec(), v)
        })
        .collect()
}

proptest! {
    #[test]
    fn a_leaf_page_verifies_decodes_and_encodes_to_the_same_bytes(m in leaf_strategy(), page in 4u64..1000) {
        let items = leaf_items(&m);
        let bytes = encode_page(true, &items, PS, page, 7);
        prop_assert_eq!(bytes.len(), PS);
        verify::verify(&bytes, page).unwrap();
        let node = Node::decode(&bytes, page).unwrap();
        prop_assert_eq!(leaf_map(&node), m);
        prop_assert_eq!(&*node.encode(page, 7), &*bytes);
        // Lookups find every key in place.
        for (i, k) in node.items().iter().map(Item::key).enumerate() {
            prop_assert_eq!(node.search(k), Ok(i));
        }
    }

    #[test]
    fn a_branch_page_verifies_and_routes_keys_to_their_children(v in branch_strategy(), page in 4u64..1000, probe in proptest::collection::vec(any::<u8>(), 0..30)) {
        prop_assume!(v.len() >= 2);
        let bytes = encode_page(false, &branch_items(&v), PS, page, 3);
        verify::verify(&bytes, page).unwrap();
        let node = Node::decode(&bytes, page).unwrap();
        prop_assert_eq!(node.len(), v.len());
        for (i, (k, r)) in v.iter().enumerate() {
            prop_assert_eq!(node.key(i), k.as_slice());
            prop_assert!(matches!(node.child(i), ChildAt::Disk(x) if x == *r));
        }
        // child_index: the last child whose separator is <= the key.
        let want = v.iter().rposition(|(k, _)| k.as_slice() <= probe.as_slice()).unwrap();
        prop_assert_eq!(node.child_index(&probe), want);
    }

    #[test]
    fn leaf_edits_match_a_map(ops in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..4), 0usize..200, any::<bool>()), 1..200)) {
        let mut node = Node::build(true, &[], PS);
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for (op, key, vlen, big) in ops {
            let key = [&[op % 4][..], &key].concat();
            let value = vec![op; vlen];
            match (op % 3, node.search(&key)) {
                (0, Ok(i)) => {
                    node.leaf_remove(i);
                    model.remove(&key);
                }
                (_, Ok(i)) => {
                    let v = if big { ValueSrc::Pending(Arc::from(&value[..])) } else { ValueSrc::Inline(&value) };
                    if node.leaf_replace(i, &key, &v).is_some() {
                        model.insert(key, value);
                    }
                }
                (_, Err(i)) => {
                    let v = if big { ValueSrc::Pending(Arc::from(&value[..])) } else { ValueSrc::Inline(&value) };
                    if node.leaf_insert(i, &key, &v) {
                        model.insert(key, value);
                    }
                }
            }
            node.check_shape().unwrap();
            prop_assert!(node.used_bytes() <= PS);
            // A leaf that says its bytes are canonical gives exactly the
            // page its entries encode to (a checkpoint writes it as it is).
            if node.is_packed_leaf() {
                prop_assert_eq!(node.packed_leaf_page(9, 2), node.encode(9, 2));
            }
            let got: BTreeMap<Vec<u8>, Vec<u8>> = (0..node.len())
                .map(|i| {
                    let v = match node.value(i) {
                        ValueAt::Inline(b) | ValueAt::Pending(b) => b.to_vec(),
                        ValueAt::Overflow { .. } => unreachable!(),
                    };
                    (node.key(i).to_vec(), v)
                })
                .collect();
            prop_assert_eq!(&got, &model);
        }
        // Compaction keeps the entries and leaves no garbage.
        let before = leaf_map(&node);
        let used = node.used_bytes();
        node.compact();
        prop_assert_eq!(leaf_map(&node), before);
        // (Whether a value is pending is read from the node: a replace can
        // make a value pending too, which a count of pending inserts missed.)
        if (0..node.len()).all(|i| !matches!(node.value(i), ValueAt::Pending(_))) {
            prop_assert!(node.is_packed_leaf(), "a compacted leaf with nothing pending is canonical");
            prop_assert_eq!(node.packed_leaf_page(9, 2), node.encode(9, 2));
        }
        prop_assert_eq!(node.used_bytes(), used);
        prop_assert_eq!(layout::data_start(node.bytes()), PS - (used - layout::slots_end(node.len())));
    }

    #[test]
    fn branch_edits_match_a_list(ops in proptest::collection::vec((0u8..5, any::<u8>(), any::<bool>()), 1..200)) {
        // The model: (separator, child id); a child is in memory when its
        // id is odd.
        let mem = |id: u64| Arc::new(Node::build(true, &[Item::Leaf { key: &id.to_be_bytes(), value: ValueSrc::Inline(b"") }], PS));
        let child_of = |id: u64| if id % 2 == 1 { Child::Mem(mem(id)) } else { Child::Disk(PageRef { page: 4 + id, checksum: id }) };
        let mut model: Vec<(Vec<u8>, u64)> = vec![(vec![], 0), (vec![128], 2)];
        let items: Vec<Item<'_>> = model.iter().map(|(k, id)| Item::Branch { key: k, child: child_of(*id) }).collect();
        let mut node = Node::build(false, &items, PS);
        drop(items);
        let mut next_id = 3;
        for (op, b, long) in ops {
            let n = model.len();
            let i = 1 + b as usize % (n - 1).max(1);
            match op {
                0 | 1 => {
                    // A new separator between those of i-1 and i.
                    let lo = model[i - 1].0.clone();
                    let mut sep = lo.clone();
                    sep.push(b);
                    if long { sep.extend_from_slice(&[b; 40]); }
                    if i < n && sep >= model[i].0 { continue; }
                    if sep <= lo { continue; }
                    let id = next_id; next_id += 1;
                    if node.branch_insert(i, &sep, child_of(id)).is_ok() {
                        model.insert(i, (sep, id));
                    }
                }
                2 if n > 2 => {
                    let c = node.branch_remove(i);
                    let (_, id) = model.remove(i);
                    prop_assert_eq!(c.disk_page().is_none(), id % 2 == 1);
                }
                3 => {
                    let id = next_id; next_id += 1;
                    let j = b as usize % n;
                    node.set_child(j, child_of(id));
                    model[j].1 = id;
                }
                _ if i < n => {
                    // A different separator in the same gap.
                    let lo = &model[i - 1].0;
                    let mut sep = model[i].0.clone();
                    sep.push(b);
                    if long { sep.extend_from_slice(&[7; 30]); }
                    if sep <= *lo || (i + 1 < n && sep >= model[i + 1].0) { continue; }
                    if node.set_separator(i, &sep) {
                        model[i].0 = sep;
                    }
                }
                _ => {}
            }
            node.check_shape().unwrap();
            prop_assert_eq!(node.len(), model.len());
            for (j, (k, id)) in model.iter().enumerate() {
                prop_assert_eq!(node.key(j), k.as_slice());
                match node.child(j) {
                    ChildAt::Disk(r) => prop_assert_eq!(r.checksum, *id),
                    ChildAt::Mem(m) => prop_assert_eq!(m.key(0), id.to_be_bytes()),
                }
            }
        }
    }

    #[test]
    fn a_split_gives_two_pages_that_fit_and_are_balanced(m in leaf_strategy(), extra in proptest::collection::vec(any::<u8>(), 100..250)) {
        let mut items = leaf_items(&m);
        // Overfill with large entries until the items do not fit a page.
        let keys: Vec<Vec<u8>> = (0..20u8).map(|i| [&[0xffu8; 3][..], &[i]].concat()).collect();
        for k in &keys {
            if HEADER_LEN + items.iter().map(Item::size).sum::<usize>() > PS { break; }
            items.push(Item::Leaf { key: k, value: ValueSrc::Inline(&extra) });
        }
        prop_assume!(HEADER_LEN + items.iter().map(Item::size).sum::<usize>() > PS);
        let k = split_point(&items, PS, true);
        let left: usize = items[..k].iter().map(Item::size).sum();
        let right: usize = items[k..].iter().map(Item::size).sum();
        prop_assert!(fits(left, PS) && fits(right, PS));
        // No other split point is better balanced.
        for j in 1..items.len() {
            let l: usize = items[..j].iter().map(Item::size).sum();
            let r: usize = items[j..].iter().map(Item::size).sum();
            if fits(l, PS) && fits(r, PS) {
                prop_assert!(l.max(r) >= left.max(right));
            }
        }
    }

    #[test]
    fn a_separator_is_the_shortest_prefix_between_two_keys(a in proptest::collection::vec(any::<u8>(), 0..20), b in proptest::collection::vec(any::<u8>(), 1..20)) {
        prop_assume!(a < b);
        let s = separator(&a, &b);
        prop_assert!(a.as_slice() < s && s <= b.as_slice());
        prop_assert!(b.starts_with(s));
        // One byte shorter would not separate them.
        prop_assert!(s.len() == 1 || &s[..s.len() - 1] <= a.as_slice());
    }

    #[test]
    fn keys_compare_as_byte_strings(a in proptest::collection::vec(0u8..4, 0..20), b in proptest::collection::vec(0u8..4, 0..20)) {
        prop_assert_eq!(layout::cmp_keys(&a, &b), a.cmp(&b));
        // Heads preserve order: unequal heads decide the comparison.
        let (ha, hb) = (layout::key_head(&a), layout::key_head(&b));
        prop_assert!(ha == hb || ha.cmp(&hb) == a.cmp(&b), "heads {ha:x} {hb:x}");
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1200)) {
        let _ = Node::decode(&bytes, 3);
    }

    #[test]
    fn decoding_a_damaged_page_never_panics(m in leaf_strategy(), at in 0usize..PS, byte in any::<u8>()) {
        let mut bytes = encode_page(true, &leaf_items(&m), PS, 9, 1).into_vec();
        bytes[at] = byte;
        if let Ok(n) = Node::decode(&bytes, 9) {
            // Whatever passes is canonical: it encodes to the same bytes.
            let checkpoint = u64::from_le_bytes(bytes[16..24].try_into().unwrap());
            prop_assert_eq!(&*n.encode(9, checkpoint), &bytes[..]);
        }
    }
}

/// A valid leaf page of three entries, for damaging by hand.
fn sample() -> Vec<u8> {
    let items = [
        Item::Leaf {
            key: b"a",
            value: ValueSrc::Inline(b"1"),
        },
        Item::Leaf {
            key: b"b",
            value: ValueSrc::Inline(b"22"),
        },
        Item::Leaf {
            key: b"c",
            value: ValueSrc::Overflow(
                PageRef {
                    page: 9,
                    checksum: 5,
                },
                300,
            ),
        },
    ];
    encode_page(true, &items, PS, 5, 1).into_vec()
}

fn rejected(b: &[u8], why: &str) {
    let e = verify::verify(b, 5).expect_err(why);
    assert!(e.is_corruption(), "{why}: {e}");
}

#[test]
fn verify_rejects_each_kind_of_damage() {
    verify::verify(&sample(), 5).unwrap();
    let d = layout::data_start(&sample());
    let mut b = sample();
    b[0] = 3;
    rejected(&b, "overflow kind");
    let mut b = sample();
    b[1] = 1;
    rejected(&b, "reserved byte");
    assert!(verify::verify(&sample(), 6).is_err(), "misdirected");
    let mut b = sample();
    let s1 = layout::slot(&b, 1);
    layout::set_slot(&mut b, 1, s1 + 1, b"b");
    rejected(&b, "slot not at its entry");
    let mut b = sample();
    b[layout::slots_end(3)] = 1;
    rejected(&b, "garbage in the gap");
    let mut b = sample();
    layout::set_data_start(&mut b, d - 2);
    rejected(&b, "data start off");
    let mut b = sample();
    layout::set_count(&mut b, 0);
    rejected(&b, "empty leaf");
    let mut b = sample();
    b[d + 7] = b'b';
    layout::set_slot(&mut b, 0, d, b"b");
    rejected(&b, "keys out of order (a -> b, b)");
    let mut b = sample();
    layout::set_slot(&mut b, 0, d, b"z");
    rejected(&b, "a slot with another key's head");
    let mut b = sample();
    b[d + 2] = layout::VALUE_PENDING;
    rejected(&b, "an in-memory value marker");
    let c = layout::slot(&b, 2);
    let mut b = sample();
    b[c + 3..c + 7].copy_from_slice(&10u32.to_le_bytes());
    rejected(&b, "an overflow value short enough to be inline");
    let mut b = sample();
    let p = layout::leaf_payload_at(&b, c);
    b[p..p + 8].copy_from_slice(&2u64.to_le_bytes());
    rejected(&b, "an overflow run at a reserved page");
    // A key longer than the limit, in an otherwise valid page.
    let long = vec![b'k'; Limits::for_page_size(PS).max_key_len + 2];
    let bytes = encode_page(
        true,
        &[Item::Leaf {
            key: &long,
            value: ValueSrc::Inline(b""),
        }],
        PS,
        5,
        1,
    );
    rejected(&bytes, "a key over the limit");
}

#[test]
fn two_largest_entries_fit_a_page_at_every_page_size() {
    let mut ps = crate::options::MIN_PAGE_SIZE;
    while ps <= crate::options::MAX_PAGE_SIZE {
        let limits = Limits::for_page_size(ps);
        let key = vec![1u8; verify::max_page_key_len(&limits)];
        let value = vec![2u8; limits.max_inline_value_len];
        let item = Item::Leaf {
            key: &key,
            value: ValueSrc::Inline(&value),
        };
        assert!(fits(2 * item.size(), ps), "page size {ps}");
        ps *= 2;
    }
}

#[test]
fn verify_rejects_branches_with_in_memory_children_or_bad_separators() {
    let refs = [
        PageRef {
            page: 10,
            checksum: 1,
        },
        PageRef {
            page: 11,
            checksum: 2,
        },
    ];
    let items = |k0: &'static [u8], k1: &'static [u8], r1: PageRef| {
        vec![
            Item::Branch {
                key: k0,
                child: Child::Disk(refs[0]),
            },
            Item::Branch {
                key: k1,
                child: Child::Disk(r1),
            },
        ]
    };
    let good = encode_page(false, &items(b"", b"m", refs[1]), PS, 5, 1);
    verify::verify(&good, 5).unwrap();
    let mem = PageRef {
        page: layout::MEM_CHILD_PAGE,
        checksum: 0,
    };
    rejected(
        &encode_page(false, &items(b"", b"m", mem), PS, 5, 1),
        "in-memory child marker",
    );
    let mut one = good.to_vec();
    layout::set_count(&mut one, 1);
    rejected(&one, "one child");
}

#[test]
fn a_node_from_a_page_is_a_private_copy_once_cloned() {
    let n = Node::decode(&sample(), 5).unwrap();
    assert!(n.is_page(PageRef {
        page: 5,
        checksum: crate::checksum::checksum(&sample())
    }));
    let mut c = n.clone();
    assert_eq!(c.checksum(), 0, "a copy is no longer the page");
    assert!(c.leaf_insert(3, b"d", &ValueSrc::Inline(b"4")));
    assert_eq!(n.len(), 3, "the original is untouched");
    assert_eq!(c.len(), 4);
}
