//! The bytes of a tree node: a heap buffer, or a frame of the page cache's
//! arena.
//!
//! The arena is one [`Region`] of `frames` pages on huge pages (see
//! [`super::huge`] for why), sized to the cache. A page read from the file
//! is read straight into a free frame; the frame returns to the arena when
//! the last holder of the node drops it (the cache, or a guard that
//! outlived the page's eviction). When every frame is in use the page goes
//! to an ordinary heap buffer instead, so the arena never makes a read
//! fail or wait, except that first it asks the arena's [`Reclaim`] (the
//! page cache) to evict clean pages so that their frames come back.
//! Private copies of pages and the nodes a write transaction builds from
//! them take frames the same way, so a transaction's changed pages count
//! against the cache's memory instead of adding to it (SPEC §5: memory
//! within the cache budget, whatever the transaction's size).
//!
//! Frame safety, the one argument the `unsafe` blocks below rely on: a
//! frame index is, at any time, in exactly one place: the arena's free
//! list, or one [`FrameBuf`]. [`Arena::take`] moves it from the list into a
//! new `FrameBuf`; dropping the `FrameBuf` moves it back. So the bytes of a
//! frame are reached only through its `FrameBuf`, with Rust's borrow rules
//! on that value (shared reads through `&`, writes through `&mut`), exactly
//! as for a `Box<[u8]>`; and the region outlives every frame, since each
//! `FrameBuf` holds the arena.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Weak};

use super::huge::Region;
use crate::sync::Mutex;

/// What an [`Arena`] with no free frame asks to give some back: the page
/// cache, which evicts clean pages.
pub trait Reclaim: Send + Sync {
    /// Evicts pages until a frame of the arena is free, or until it has
    /// tried a bounded number.
    fn reclaim(&self);
}

/// Page frames on huge pages, lent out one at a time.
pub struct Arena {
    region: Region,
    page_size: usize,
    frames: u32,
    free: Mutex<FreeFrames>,
    /// Asked for frames when none is free (weak: the cache owns the arena).
    reclaimer: Option<Weak<dyn Reclaim>>,
}

/// The frames not lent out: those returned (most recent on top, so that a
/// small working set keeps reusing the same memory) and those never lent
/// (`next..frames`), so that creating an arena costs nothing per frame.
struct FreeFrames {
    returned: Vec<u32>,
    next: u32,
}

impl Arena {
    /// An arena of `frames` frames of `page_size` bytes (`None` if there
    /// are none), which asks `reclaimer` for frames when none is free.
    pub fn new(
        frames: usize,
        page_size: usize,
        reclaimer: Option<Weak<dyn Reclaim>>,
    ) -> Option<Arc<Arena>> {
        if frames == 0 {
            return None;
        }
        let frames = u32::try_from(frames).ok()?;
        let region = Region::zeroed(frames as usize * page_size);
        Some(Arc::new(Arena {
            region,
            page_size,
            frames,
            free: Mutex::new(FreeFrames {
                returned: Vec::new(),
                next: 0,
            }),
            reclaimer,
        }))
    }

    /// A free frame, if there is one. Its bytes are whatever the frame
    /// held last: the caller overwrites the whole frame before reading it.
    /// When none is free, the arena's reclaimer is asked to evict pages
    /// first (with no lock of the arena held: an eviction returns frames).
    pub fn take(self: &Arc<Arena>) -> Option<FrameBuf> {
        let idx = match self.take_free() {
            Some(idx) => idx,
            None => {
                let reclaimer = self.reclaimer.as_ref()?.upgrade()?;
                reclaimer.reclaim();
                self.take_free()?
            }
        };
        Some(FrameBuf {
            arena: self.clone(),
            idx,
        })
    }

    fn take_free(&self) -> Option<u32> {
        let mut f = self.free.lock();
        match f.returned.pop() {
            Some(idx) => Some(idx),
            None if f.next < self.frames => {
                f.next += 1;
                Some(f.next - 1)
            }
            None => None,
        }
    }

    /// Frames not lent out.
    pub fn free_frames(&self) -> usize {
        let f = self.free.lock();
        f.returned.len() + (self.frames - f.next) as usize
    }
}

/// One frame of an [`Arena`], owned.
pub struct FrameBuf {
    arena: Arc<Arena>,
    idx: u32,
}

impl FrameBuf {
    fn start(&self) -> *mut u8 {
        let offset = self.idx as usize * self.arena.page_size;
        debug_assert!(offset + self.arena.page_size <= self.arena.region.len());
        // SAFETY: `idx` is below the arena's frame count (`take` hands out
        // returned indices or ones below `frames`, nothing else), so the
        // frame `[offset, offset + page_size)` lies inside the region.
        unsafe { self.arena.region.start().as_ptr().add(offset) }
    }
}

impl Deref for FrameBuf {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: the frame lies inside the region, is initialised (the
        // region starts zeroed; frames only ever hold bytes) and, by the
        // frame-safety argument of the module, is reached only through
        // this `FrameBuf`, which `&self` borrows immutably.
        unsafe { std::slice::from_raw_parts(self.start(), self.arena.page_size) }
    }
}

impl DerefMut for FrameBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` makes this the only
        // borrow of the frame.
        unsafe { std::slice::from_raw_parts_mut(self.start(), self.arena.page_size) }
    }
}

impl Drop for FrameBuf {
    fn drop(&mut self) {
        self.arena.free.lock().returned.push(self.idx);
    }
}

/// A node's page bytes (exactly one page): heap memory (nodes built or
/// changed in memory, and pages read when the arena had no free frame) or a
/// frame of the cache's arena. Either way it is read through one pointer
/// and length, so that every access to a node's bytes costs the same.
pub struct PageBuf {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
    /// The frame the bytes are in; `None` when they are heap memory, which
    /// this buffer owns as a leaked `Box<[u8]>` of `len` bytes at `ptr`.
    frame: Option<FrameBuf>,
}

// SAFETY: a `PageBuf` owns its bytes exclusively (a boxed slice, or a
// frame under the frame-safety argument above), like a `Box<[u8]>`.
unsafe impl Send for PageBuf {}
// SAFETY: as above; `&PageBuf` only gives `&[u8]`.
unsafe impl Sync for PageBuf {}

impl PageBuf {
    /// A page-sized buffer for reading a page into: a frame of `arena` if
    /// one is free, else heap memory.
    pub fn for_read(arena: Option<&Arc<Arena>>, page_size: usize) -> PageBuf {
        match arena.and_then(Arena::take) {
            Some(f) => PageBuf::from(f),
            None => PageBuf::from(vec![0u8; page_size].into_boxed_slice()),
        }
    }

    /// Whether the bytes live in the arena.
    pub fn is_frame(&self) -> bool {
        self.frame.is_some()
    }

    /// A zeroed page-sized buffer for a node built in memory: a frame of
    /// `arena` if one is free (or can be reclaimed), else heap memory.
    pub fn blank(arena: Option<&Arc<Arena>>, page_size: usize) -> PageBuf {
        let mut b = PageBuf::for_read(arena, page_size);
        if b.is_frame() {
            // A frame holds what it held last; heap memory starts zeroed.
            b.fill(0);
        }
        b
    }

    /// A zeroed buffer of the same length, for a node built from this
    /// one's entries: in the same arena if these bytes are in one.
    pub fn blank_like(&self) -> PageBuf {
        PageBuf::blank(self.frame.as_ref().map(|f| &f.arena), self.len)
    }
}

impl Deref for PageBuf {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr`/`len` are the bytes this buffer owns (a leaked box
        // or its frame), alive until `drop`, initialised, and reached only
        // through this value, which `&self` borrows immutably.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for PageBuf {
    #[inline]
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` makes this the only
        // borrow of the bytes.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for PageBuf {
    fn drop(&mut self) {
        if self.frame.is_none() {
            let raw = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len);
            // SAFETY: without a frame, `ptr`/`len` came from
            // `Box::into_raw` of a boxed slice of `len` bytes in
            // `From<Box<[u8]>>`, and are turned back into that box once,
            // here. (A frame returns to its arena when `frame` drops.)
            drop(unsafe { Box::from_raw(raw) });
        }
    }
}

impl Clone for PageBuf {
    /// A private copy: in a free frame of the same arena if the bytes are
    /// in one (a write transaction copying a cached page; frames are
    /// recycled without the general allocator, and the copy counts against
    /// the cache's memory), else on the heap.
    fn clone(&self) -> PageBuf {
        match self.frame.as_ref().and_then(|f| f.arena.take()) {
            Some(mut f) => {
                f.copy_from_slice(self);
                PageBuf::from(f)
            }
            None => PageBuf::from(Box::<[u8]>::from(&**self)),
        }
    }
}

impl From<FrameBuf> for PageBuf {
    fn from(mut f: FrameBuf) -> PageBuf {
        let bytes: &mut [u8] = &mut f;
        let (ptr, len) = (bytes.as_mut_ptr(), bytes.len());
        PageBuf {
            ptr: std::ptr::NonNull::new(ptr).expect("a frame is not null"),
            len,
            frame: Some(f),
        }
    }
}

impl From<Box<[u8]>> for PageBuf {
    fn from(b: Box<[u8]>) -> PageBuf {
        let len = b.len();
        let ptr = Box::into_raw(b) as *mut u8;
        PageBuf {
            ptr: std::ptr::NonNull::new(ptr).expect("a box is not null"),
            len,
            frame: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_lent_once_and_come_back() {
        let a = Arena::new(3, 1024, None).unwrap();
        let mut f: Vec<FrameBuf> = (0..3).map(|_| a.take().unwrap()).collect();
        assert!(a.take().is_none(), "all three are lent out");
        assert_eq!(a.free_frames(), 0);
        for (i, fr) in f.iter_mut().enumerate() {
            fr.fill(i as u8 + 1);
        }
        // Disjoint frames: each kept its own bytes.
        for (i, fr) in f.iter().enumerate() {
            assert!(fr.iter().all(|&b| b == i as u8 + 1));
            assert_eq!(fr.len(), 1024);
        }
        drop(f.pop());
        assert_eq!(a.free_frames(), 1);
        let again = a.take().unwrap();
        assert_eq!(again[0], 3, "the frame returned last is lent first");
        drop(f);
        drop(again);
        assert_eq!(a.free_frames(), 3);
        assert!(Arena::new(0, 1024, None).is_none());
    }

    #[test]
    fn a_buffer_for_reading_falls_back_to_the_heap() {
        let a = Arena::new(1, 1024, None).unwrap();
        let first = PageBuf::for_read(Some(&a), 1024);
        let second = PageBuf::for_read(Some(&a), 1024);
        assert!(first.is_frame() && !second.is_frame());
        assert!(!PageBuf::for_read(None, 1024).is_frame());
        let copy = first.clone();
        assert!(!copy.is_frame(), "no frame free: a copy goes to the heap");
        assert_eq!(&*copy, &*first);
        drop(second);
        let b = Arena::new(2, 1024, None).unwrap();
        let mut framed = PageBuf::for_read(Some(&b), 1024);
        framed[7] = 3;
        let copy = framed.clone();
        assert!(copy.is_frame(), "a frame's copy takes a free frame");
        assert_eq!(&*copy, &*framed);
        assert_eq!(b.free_frames(), 0);
        let heap_copy = copy.clone();
        assert!(!heap_copy.is_frame() && heap_copy[7] == 3);
        drop((copy, framed));
        assert_eq!(b.free_frames(), 2, "both frames came back");
    }

    #[test]
    fn the_arena_outlives_its_cache_while_frames_are_held() {
        let a = Arena::new(2, 1024, None).unwrap();
        let mut f = a.take().unwrap();
        drop(a);
        f[5] = 9;
        assert_eq!(f[5], 9);
    }
}
