//! The page cache: verified pages, shared by reader threads without locks.
//!
//! - **What it holds.** Verified tree pages, as [`Node`]s (their raw
//!   bytes), keyed by page number *and* checksum: a page that was freed and
//!   rewritten has a new checksum in its parent, so a stale entry can never
//!   be returned and nothing needs invalidating. A miss publishes a page
//!   only after the pager verified it ([`Cache::get_or_load`]).
//! - **An exact byte budget.** The table has a fixed number of frames,
//!   `budget / frame cost` (a page, its node header and its table slot), so
//!   the cache never holds more than its budget. Pages a guard still holds
//!   after eviction are freed when the guard goes.
//! - **Hits take no lock and write no shared cache line.** The table is
//!   set-associative: a page can only be in one set of [`WAYS`] frames. A
//!   hit reads the set's keys, loads the frame's `Arc` through an
//!   [`ArcCell`] (which records the pointer in a slot of the reading
//!   thread instead of bumping the `Arc`'s count) and checks that the node
//!   is the page asked for, since a frame may change between the two
//!   loads. Its CLOCK bit is written only if it was clear, so the pages
//!   every reader passes (the roots) are never written by a hit. Counters
//!   of hits and misses are striped per thread.
//! - **Misses are single-flight.** Inserts and evictions take the lock of
//!   the set's stripe; a thread that misses a page another thread is
//!   already reading waits for that read instead of repeating it.
//! - **Eviction** is CLOCK within the set: a frame whose bit is set gets a
//!   second chance.
//! - **One pool of memory.** The cache keeps pages only in frames of its
//!   arena, which has one frame per table frame; a write transaction's
//!   private copies and the nodes it builds from them take frames of the
//!   same arena. When the arena has none free it asks the cache
//!   ([`Reclaim`]) to evict clean pages, sweeping the sets in turn with the
//!   same CLOCK bits. So changed pages displace clean ones instead of adding
//!   to the cache's memory. A page read when no frame can be had (every
//!   frame holds a changed page or one a guard still holds) is handed to
//!   its reader on the heap and not cached.

use std::cell::Cell;
use std::ops::Deref;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Weak};

use crate::page::buf::{Arena, PageBuf, Reclaim};
use crate::page::huge;
use crate::page::node::Node;
use crate::page::PageRef;
use crate::prefetch;
use crate::sync::{
    guard_into_inner, guard_of, ArcCell, ArcCellGuard, AtomicU64, AtomicUsize, Condvar, Mutex,
    OnceCell,
};
use crate::Result;

/// Frames per set (a set's keys, nodes and hints fill one 128-byte pair
/// of cache lines).
pub const WAYS: usize = 4;
/// Locks for inserts and evictions (a set belongs to stripe `set % STRIPES`).
const STRIPES: usize = 64;
/// Hit/miss counter stripes (a thread uses stripe `thread number % COUNTERS`).
const COUNTERS: usize = 16;
/// Sets one [`Reclaim::reclaim`] call visits at most before it gives up.
const RECLAIM_SETS: usize = 64;

/// A cached (or just loaded) page, held for as long as the guard lives.
pub struct PageGuard(ArcCellGuard<Node>);

impl Deref for PageGuard {
    type Target = Node;
    #[inline]
    fn deref(&self) -> &Node {
        self.0.as_deref().expect("a page guard holds a page")
    }
}

impl std::fmt::Debug for PageGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageGuard")
            .field("page", &self.page())
            .finish()
    }
}

impl PageGuard {
    /// A guard for a node that is not in the cache.
    pub fn owned(node: Arc<Node>) -> PageGuard {
        PageGuard(guard_of(node))
    }

    /// The page as a shared `Arc`, borrowed from the guard.
    pub fn shared(&self) -> &Arc<Node> {
        self.0.as_ref().expect("a page guard holds a page")
    }

    /// The page as an owned `Arc` (one reference count increment).
    pub fn into_arc(self) -> Arc<Node> {
        guard_into_inner(self.0).expect("a page guard holds a page")
    }
}

/// One set: its first cache line holds the keys and page addresses (all a
/// probe needs before it knows the way), the second the nodes.
#[repr(C, align(128))]
struct Set {
    /// Page number of each frame (0: empty). A hint for finding a page;
    /// the node in the frame says which page it really is.
    keys: [AtomicU64; WAYS],
    /// Address of each frame's page bytes: only ever prefetched, so that
    /// the page's first lines load while the node is being checked (a stale
    /// address costs a useless prefetch, nothing else).
    bytes_at: [AtomicUsize; WAYS],
    nodes: [ArcCell<Node>; WAYS],
    /// CLOCK hand (changed under the stripe lock).
    hand: AtomicUsize,
}

/// A read in progress, which other threads missing the same page wait for.
#[derive(Default)]
struct Flight {
    /// `None` while reading; then the page, or `None` if the read failed.
    done: Mutex<Option<Option<Arc<Node>>>>,
    cv: Condvar,
}

impl Flight {
    fn finish(&self, node: Option<Arc<Node>>) {
        *self.done.lock() = Some(node);
        self.cv.notify_all();
    }

    fn wait(&self) -> Option<Arc<Node>> {
        let mut g = self.done.lock();
        loop {
            if let Some(r) = &*g {
                return r.clone();
            }
            g = self.cv.wait(g);
        }
    }
}

/// Finishes a flight as failed if its reader unwinds, so waiters retry.
struct FlightGuard<'a> {
    cache: &'a Cache,
    at: PageRef,
    flight: Arc<Flight>,
    finished: bool,
}

impl Drop for FlightGuard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.cache.end_flight(self.at);
            self.flight.finish(None);
        }
    }
}

#[derive(Default)]
struct Stripe {
    flights: Vec<(PageRef, Arc<Flight>)>,
}

#[derive(Default)]
#[repr(align(128))]
struct Counter {
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Sets in one chunk of the table: one huge page's worth.
const CHUNK_SETS: usize = huge::HUGE_PAGE / std::mem::size_of::<Set>();

/// The table of sets, on huge pages (page/huge.rs), built one chunk at a
/// time on the first insert into it: opening a database with a large cache
/// costs nothing per frame, and a small database touches little of it.
struct Table {
    len: usize,
    chunks: Box<[OnceCell<huge::Slice<Set>>]>,
}

fn empty_set() -> Set {
    Set {
        keys: Default::default(),
        bytes_at: Default::default(),
        nodes: std::array::from_fn(|_| ArcCell::empty()),
        hand: AtomicUsize::new(0),
    }
}

impl Table {
    fn new(len: usize) -> Table {
        Table {
            len,
            chunks: (0..len.div_ceil(CHUNK_SETS))
                .map(|_| OnceCell::new())
                .collect(),
        }
    }

    /// Set `i`, if its chunk has been built (an unbuilt chunk holds no
    /// page).
    #[inline]
    fn get(&self, i: usize) -> Option<&Set> {
        self.chunks[i / CHUNK_SETS]
            .get()
            .map(|c| &c[i % CHUNK_SETS])
    }

    /// Set `i`, building its chunk first if needed.
    fn get_or_build(&self, i: usize) -> &Set {
        let chunk = i / CHUNK_SETS;
        let sets = CHUNK_SETS.min(self.len - chunk * CHUNK_SETS);
        &self.chunks[chunk].get_or_init(|| huge::Slice::new(sets, |_| empty_set()))[i % CHUNK_SETS]
    }
}

/// The page cache.
pub struct Cache {
    sets: Table,
    /// Memory for the cached pages themselves: one frame per cache frame,
    /// on huge pages; pages are read straight into it.
    arena: Option<Arc<Arena>>,
    ways: usize,
    frame_bytes: usize,
    occupied: AtomicUsize,
    /// The next set [`Reclaim::reclaim`] visits.
    sweep: AtomicUsize,
    stripes: Box<[Mutex<Stripe>]>,
    counters: Box<[Counter]>,
}

/// Bytes one cached page costs: the page, its node and `Arc` header, and
/// its share of the table.
pub fn frame_bytes(page_size: usize) -> usize {
    page_size
        + std::mem::size_of::<Node>()
        + 2 * std::mem::size_of::<usize>()
        + std::mem::size_of::<Set>().div_ceil(WAYS)
}

#[cfg(not(loom))]
fn counter_stripe() -> usize {
    use std::sync::atomic::AtomicUsize as StdAtomicUsize;
    static NEXT: StdAtomicUsize = StdAtomicUsize::new(0);
    thread_local! {
        static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    STRIPE.with(|s| {
        if s.get() == usize::MAX {
            s.set(NEXT.fetch_add(1, Relaxed) % COUNTERS);
        }
        s.get()
    })
}

#[cfg(loom)]
fn counter_stripe() -> usize {
    let _ = Cell::new(0);
    0
}

/// Sets a hit page's CLOCK bit, writing it only if it was clear, so that
/// the pages every reader passes are never written by a hit.
#[inline]
fn mark_used(node: &Node) {
    if !node.referenced().load(Relaxed) {
        node.referenced().store(true, Relaxed);
    }
}

/// Adds one to a counter that (almost always) only this thread writes: a
/// load and a store, not a locked read-modify-write. A rare lost update
/// between two threads sharing a stripe only makes a statistic low.
fn bump(c: &AtomicU64) {
    c.store(c.load(Relaxed) + 1, Relaxed);
}

impl Cache {
    /// A cache of at most `budget` bytes of pages of `page_size` bytes
    /// (shared: its arena asks it to reclaim frames).
    pub fn new(budget: usize, page_size: usize) -> Arc<Cache> {
        let frames = budget / frame_bytes(page_size);
        let ways = frames.min(WAYS);
        let sets = frames.checked_div(ways).unwrap_or(0);
        Arc::new_cyclic(|me: &Weak<Cache>| Cache {
            sets: Table::new(sets),
            arena: Arena::new(
                sets * ways,
                page_size,
                Some(me.clone() as Weak<dyn Reclaim>),
            ),
            ways,
            frame_bytes: frame_bytes(page_size),
            occupied: AtomicUsize::new(0),
            sweep: AtomicUsize::new(0),
            stripes: (0..STRIPES.min(sets.max(1)))
                .map(|_| Mutex::new(Stripe::default()))
                .collect(),
            counters: (0..COUNTERS).map(|_| Counter::default()).collect(),
        })
    }

    /// A buffer to read a page into: a free frame of the cache's memory,
    /// or heap memory when every frame is in use.
    pub fn buffer_for_read(&self, page_size: usize) -> PageBuf {
        PageBuf::for_read(self.arena.as_ref(), page_size)
    }

    /// A zeroed page-sized buffer for a node built in memory: a frame of
    /// the cache's memory (reclaimed from clean pages if none is free), or
    /// heap memory when no frame can be had.
    pub fn blank_page(&self, page_size: usize) -> PageBuf {
        PageBuf::blank(self.arena.as_ref(), page_size)
    }

    /// Frames in the table.
    pub fn frames(&self) -> usize {
        self.sets.len * self.ways
    }

    fn set_of(&self, page: u64) -> usize {
        let h = page.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((h as u128 * self.sets.len as u128) >> 64) as usize
    }

    fn stripe_of(&self, set: usize) -> &Mutex<Stripe> {
        &self.stripes[set % self.stripes.len()]
    }

    /// The cached page `at`, if it is in the table.
    #[inline]
    fn probe(&self, at: PageRef) -> Option<PageGuard> {
        if self.sets.len == 0 {
            return None;
        }
        let set = self.sets.get(self.set_of(at.page))?;
        prefetch::line(&set.nodes as *const _ as usize);
        for w in 0..self.ways {
            if set.keys[w].load(Relaxed) == at.page {
                prefetch::page_start(set.bytes_at[w].load(Relaxed));
                let g = set.nodes[w].load();
                return match g.as_deref() {
                    Some(n) if n.is_page(at) => {
                        mark_used(n);
                        Some(PageGuard(g))
                    }
                    _ => None,
                };
            }
        }
        None
    }

    /// Counts a hit on `node`, a cached page a reader found without the
    /// table (through a hint kept where its parent is pinned), and marks it
    /// recently used as a hit in the table would.
    #[inline]
    pub fn note_hit(&self, node: &Node) {
        mark_used(node);
        bump(&self.counters[counter_stripe()].hits);
    }

    /// The page `at` from the cache, or read by `load` (which must verify
    /// it) and then cached. Concurrent misses of one page call `load` once.
    pub fn get_or_load(
        &self,
        at: PageRef,
        load: impl FnOnce() -> Result<Node>,
    ) -> Result<PageGuard> {
        let counter = &self.counters[counter_stripe()];
        if let Some(g) = self.probe(at) {
            bump(&counter.hits);
            return Ok(g);
        }
        bump(&counter.misses);
        self.miss(at, load, true)
    }

    /// Reads the page `at` after a miss: leads a flight (reads, verifies
    /// through `load`, caches, hands the page to the waiters), or waits for
    /// the flight in progress if `may_wait`. A waiter whose leader failed
    /// tries once more itself without waiting again, so a page is never
    /// left uncached because another thread's read failed.
    fn miss(
        &self,
        at: PageRef,
        load: impl FnOnce() -> Result<Node>,
        may_wait: bool,
    ) -> Result<PageGuard> {
        if self.sets.len == 0 {
            return Ok(PageGuard::owned(Arc::new(load()?)));
        }
        let set = self.set_of(at.page);
        let (flight, lead) = {
            let mut s = self.stripe_of(set).lock();
            if let Some(g) = self.probe(at) {
                return Ok(g);
            }
            match s.flights.iter().find(|(r, _)| *r == at) {
                Some((_, f)) => (f.clone(), false),
                None => {
                    let f = Arc::new(Flight::default());
                    s.flights.push((at, f.clone()));
                    (f, true)
                }
            }
        };
        if !lead {
            if !may_wait {
                // Another flight started after ours failed: read the page
                // ourselves, without waiting and without caching it.
                return Ok(PageGuard::owned(Arc::new(load()?)));
            }
            return match flight.wait() {
                Some(n) => Ok(PageGuard::owned(n)),
                // The leader failed: lead a flight ourselves (reporting our
                // own error, I/O or corruption, if ours fails too).
                None => self.miss(at, load, false),
            };
        }
        let mut guard = FlightGuard {
            cache: self,
            at,
            flight,
            finished: false,
        };
        let loaded = load().map(Arc::new);
        {
            let _s = self.stripe_of(set).lock();
            if let Ok(n) = &loaded {
                debug_assert!(n.is_page(at), "a loaded page is the page asked for");
                if n.in_arena() {
                    self.insert_locked(set, n.clone());
                }
            }
        }
        self.end_flight(at);
        guard.finished = true;
        guard.flight.finish(loaded.as_ref().ok().cloned());
        loaded.map(PageGuard::owned)
    }

    fn end_flight(&self, at: PageRef) {
        let set = self.set_of(at.page);
        self.stripe_of(set).lock().flights.retain(|(r, _)| *r != at);
    }

    /// Caches the page `at` that was just written from `bytes`, which were
    /// checked before the write (a page is its own verified image), if a
    /// frame of the cache's memory is free or can be reclaimed.
    pub fn insert_written(&self, bytes: &[u8], at: PageRef) {
        let Some(mut frame) = self.arena.as_ref().and_then(Arena::take) else {
            return;
        };
        frame.copy_from_slice(bytes);
        self.insert_verified(Arc::new(Node::from_checked_page(frame, at)));
    }

    /// Caches a verified page (one read ahead of need, say) if it is in a
    /// frame of the cache's memory.
    pub fn insert_verified(&self, node: Arc<Node>) {
        if self.sets.len == 0 || !node.in_arena() {
            return;
        }
        let set = self.set_of(node.page());
        let _s = self.stripe_of(set).lock();
        self.insert_locked(set, node);
    }

    /// Whether the page `at` is cached (marking it recently used if so).
    pub fn contains(&self, at: PageRef) -> bool {
        self.probe(at).is_some()
    }

    /// Puts `node` into its set: over an older image of the same page, else
    /// into an empty frame, else over the CLOCK victim.
    fn insert_locked(&self, set: usize, node: Arc<Node>) {
        let page = node.page();
        debug_assert!(
            page >= crate::page::slot::RESERVED_PAGES,
            "only verified pages are cached"
        );
        let s = self.sets.get_or_build(set);
        let bytes_at = node.bytes().as_ptr() as usize;
        for w in 0..self.ways {
            if s.keys[w].load(Relaxed) == page {
                s.bytes_at[w].store(bytes_at, Relaxed);
                s.nodes[w].store(Some(node));
                return;
            }
        }
        for w in 0..self.ways {
            if s.keys[w].load(Relaxed) == 0 {
                s.bytes_at[w].store(bytes_at, Relaxed);
                s.nodes[w].store(Some(node));
                s.keys[w].store(page, Relaxed);
                self.occupied.fetch_add(1, Relaxed);
                return;
            }
        }
        // Every frame is full: turn the hand until a page has had its second
        // chance (readers may set bits again meanwhile, hence the loop).
        let victim = loop {
            if let Some(w) = self.clock_victim(s) {
                break w;
            }
        };
        s.bytes_at[victim].store(bytes_at, Relaxed);
        s.nodes[victim].store(Some(node));
        s.keys[victim].store(page, Relaxed);
    }

    /// Drops the page `at` from the cache if it is there: a write
    /// transaction copied it and the tree it commits no longer uses it, so
    /// only older snapshots may read it again. Its frame returns to the
    /// arena (once no guard holds it) for the next copy, so that a
    /// transaction's changed pages reuse the memory of the pages they
    /// replace instead of touching new memory.
    pub fn forget(&self, at: PageRef) {
        if self.sets.len == 0 {
            return;
        }
        let i = self.set_of(at.page);
        let Some(s) = self.sets.get(i) else {
            return;
        };
        let forgotten = {
            let _s = self.stripe_of(i).lock();
            (0..self.ways)
                .find(|&w| {
                    s.keys[w].load(Relaxed) == at.page
                        && s.nodes[w].load().as_deref().is_some_and(|n| n.is_page(at))
                })
                .map(|w| self.remove_locked(s, w))
        };
        // Dropped outside the stripe's lock, as in `reclaim`.
        drop(forgotten);
    }

    /// Empties frame `w` of set `s` (its stripe locked); returns its page.
    fn remove_locked(&self, s: &Set, w: usize) -> Option<Arc<Node>> {
        let node = s.nodes[w].load().clone();
        s.keys[w].store(0, Relaxed);
        s.bytes_at[w].store(0, Relaxed);
        s.nodes[w].store(None);
        self.occupied.fetch_sub(1, Relaxed);
        node
    }

    /// The CLOCK victim of set `s` (its stripe locked): from the hand, the
    /// first occupied frame whose bit is clear, clearing the bits it passes
    /// over one turn of the hand; `None` if every page in the set had its
    /// bit set (each now has had its second chance).
    fn clock_victim(&self, s: &Set) -> Option<usize> {
        let mut hand = s.hand.load(Relaxed);
        let mut victim = None;
        for _ in 0..self.ways {
            let w = hand % self.ways;
            hand = hand.wrapping_add(1);
            if s.keys[w].load(Relaxed) == 0 {
                continue;
            }
            match s.nodes[w].load().as_deref() {
                Some(n) if n.referenced().load(Relaxed) => n.referenced().store(false, Relaxed),
                _ => {
                    victim = Some(w);
                    break;
                }
            }
        }
        s.hand.store(hand, Relaxed);
        victim
    }

    /// Evicts set `s`'s CLOCK victim (its stripe locked), if it has one.
    fn evict_locked(&self, s: &Set) -> Option<Arc<Node>> {
        self.remove_locked(s, self.clock_victim(s)?)
    }

    /// Cache hits and misses since creation.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        self.counters.iter().fold((0, 0), |(h, m), c| {
            (h + c.hits.load(Relaxed), m + c.misses.load(Relaxed))
        })
    }

    /// Bytes of the frames in use.
    pub fn bytes(&self) -> usize {
        self.occupied.load(Relaxed) * self.frame_bytes
    }
}

impl Reclaim for Cache {
    /// Sweeps the sets from where the last sweep stopped, evicting one
    /// page per set that has one past its second chance, until the arena
    /// has a free frame (an evicted page a guard still holds returns its
    /// frame only when the guard goes) or [`RECLAIM_SETS`] sets were seen.
    fn reclaim(&self) {
        let Some(arena) = &self.arena else {
            return;
        };
        for _ in 0..RECLAIM_SETS {
            if self.occupied.load(Relaxed) == 0 {
                break;
            }
            let i = self.sweep.fetch_add(1, Relaxed) % self.sets.len;
            let Some(s) = self.sets.get(i) else {
                continue;
            };
            let evicted = {
                let _s = self.stripe_of(i).lock();
                self.evict_locked(s)
            };
            // Dropped outside the stripe's lock: the frame goes back to
            // the arena now unless a guard still holds the page.
            drop(evicted);
            if arena.free_frames() > 0 {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
