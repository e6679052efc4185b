//! Where a slot is written: FORMAT.md §1.2 (placement by content and write
//! sequence) and, for the mutants that are earlier texts, checkpoint `k` in
//! slot `k mod n`.
//!
//! A session knows, for each slot page, the checkpoint id and write
//! sequence number it holds: the valid slots it read at open, then its own
//! writes ([`super::Mem::slot_view`]). That knowledge may be wrong about
//! the disk (a slot read from the page cache, §4 step 4), which is the
//! point of the rule.

/// `(checkpoint id, write sequence)` of each of the three slot pages
/// (`None`: no valid slot).
pub type SlotView = [Option<(u8, u8)>; 3];

/// Which copy of a checkpoint's slot a rule protects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The copy with the lowest write sequence.
    Earliest,
    /// The copy with the highest write sequence.
    Latest,
}

/// The page holding the `which` copy of checkpoint `id`.
pub fn copy_of(view: &SlotView, id: u8, which: Which) -> Option<usize> {
    let pages = (0..view.len()).filter(|&i| view[i].is_some_and(|(k, _)| k == id));
    let seq = |&i: &usize| view[i].map(|(_, s)| s);
    match which {
        Which::Earliest => pages.min_by_key(seq),
        Which::Latest => pages.max_by_key(seq),
    }
}

/// The newest checkpoint id and the next newest.
pub fn newest_two(view: &SlotView) -> (Option<u8>, Option<u8>) {
    let newest = view.iter().flatten().map(|&(k, _)| k).max();
    let next = newest.and_then(|n| {
        view.iter()
            .flatten()
            .map(|&(k, _)| k)
            .filter(|&k| k < n)
            .max()
    });
    (newest, next)
}

/// The first page not in `keep`, in order of preference: no valid slot
/// first, then the lowest checkpoint id, then (`latest_first`) the highest
/// or the lowest write sequence.
fn choose(view: &SlotView, keep: &[usize], latest_first: bool) -> usize {
    (0..view.len())
        .filter(|i| !keep.contains(i))
        .min_by_key(|&i| match view[i] {
            None => (0, 0, 0),
            Some((k, s)) => (
                1,
                k as i16,
                if latest_first { -(s as i16) } else { s as i16 },
            ),
        })
        .expect("at most two of three pages are protected")
}

/// §4 step 4: the page for the confirmation copy of the newest slot. It
/// protects the earliest copy of the newest checkpoint and the latest copy
/// of the next newest (`newest`, `next`: which copy each rule protects;
/// `None` protects nothing, for the mutants).
pub fn for_copy(view: &SlotView, newest: Option<Which>, next: Option<Which>) -> usize {
    let (n, p) = newest_two(view);
    let keep: Vec<usize> = [
        n.zip(newest).and_then(|(n, c)| copy_of(view, n, c)),
        p.zip(next).and_then(|(p, c)| copy_of(view, p, c)),
    ]
    .into_iter()
    .flatten()
    .collect();
    choose(view, &keep, true)
}

/// §3 C4: the page for a new slot, given the page this session knows holds
/// its current slot durably (its confirmation copy or its last C4).
pub fn for_new(view: &SlotView, durable: usize) -> usize {
    choose(view, &[durable], false)
}

/// The previous §1.2 rule (mutant [`super::Mutant::LastCopyById`]): the
/// confirmation copy goes to a page that holds the last copy of neither the
/// newest nor the next newest id (empty or oldest first), else over the
/// first duplicate.
pub fn for_copy_by_id(view: &SlotView) -> usize {
    let (n, p) = newest_two(view);
    let ids: Vec<Option<u8>> = view.iter().map(|v| v.map(|(k, _)| k)).collect();
    let copies = |id: u8| ids.iter().filter(|&&i| i == Some(id)).count();
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| ids[i].map_or(0, |k| k as u16 + 1));
    order
        .iter()
        .copied()
        .find(|&i| ids[i].is_none_or(|k| Some(k) != n && Some(k) != p))
        .or_else(|| {
            order
                .iter()
                .copied()
                .find(|&i| ids[i].is_some_and(|k| copies(k) >= 2))
        })
        .expect("three pages hold at most two protected ids, one of them twice")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protects_the_earliest_copy_of_the_newest_and_the_latest_of_the_next() {
        let e = Some(Which::Earliest);
        let l = Some(Which::Latest);
        // Ordinary: P=5, N=6, one empty page.
        assert_eq!(for_copy(&[Some((5, 1)), Some((6, 2)), None], e, l), 2);
        // Oldest first.
        assert_eq!(
            for_copy(&[Some((5, 2)), Some((6, 3)), Some((4, 1))], e, l),
            2
        );
        // P=3 and two copies of N=4: the later copy of 4 goes.
        assert_eq!(
            for_copy(&[Some((3, 1)), Some((4, 2)), Some((4, 3))], e, l),
            2
        );
        assert_eq!(
            for_copy(&[Some((3, 1)), Some((4, 3)), Some((4, 2))], e, l),
            1
        );
        // N=5 and two copies of P=4: the earlier copy of 4 goes.
        assert_eq!(
            for_copy(&[Some((4, 2)), Some((4, 3)), Some((5, 4))], e, l),
            0
        );
        // C4: anything but the known durable page; empty, then oldest.
        assert_eq!(for_new(&[Some((1, 1)), None, None], 0), 1);
        assert_eq!(for_new(&[Some((3, 1)), Some((4, 2)), Some((4, 3))], 2), 0);
    }
}
