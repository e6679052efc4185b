//! Large regions of memory advised for transparent huge pages.
//!
//! The page cache's frames and its table are read at random, one cache
//! line here and there across hundreds of megabytes: with 4 KiB pages
//! nearly every such read also misses the TLB, and under virtualisation
//! (nested paging) each miss costs a two-dimensional page walk. Mapping
//! them with 2 MiB pages removes most of those walks (measured: gets 1.12x
//! and scans 1.13x faster with everything on huge pages). The kernel only
//! backs a region with huge pages if it is advised *before* it is touched,
//! which `std::alloc` cannot do (its zeroed aligned allocations write
//! every byte), hence `mmap` and `madvise` here.
//!
//! This is one of the two modules of the engine with `unsafe` code (the
//! other is [`super::buf`]); every block states why it is sound. Where
//! `mmap` is not available (not unix, or under loom) regions come from the
//! ordinary allocator instead, with the same interface.

use std::ptr::NonNull;

/// The huge page size the regions are aligned to.
pub const HUGE_PAGE: usize = 2 << 20;

/// An owned, zero-filled region of at least `len` bytes whose start is
/// aligned to [`HUGE_PAGE`] (when `mmap` is used). Pages are backed lazily:
/// a region costs resident memory only as it is touched.
pub struct Region {
    start: NonNull<u8>,
    len: usize,
    backing: Backing,
}

enum Backing {
    /// An anonymous mapping (its base and length, for `munmap`).
    #[cfg(all(unix, not(loom)))]
    Mapped { base: *mut libc::c_void, len: usize },
    /// Ordinary heap memory.
    Heap(#[allow(dead_code)] Box<[u8]>),
}

// SAFETY: a `Region` exclusively owns its memory, like a `Box<[u8]>`; it
// hands out only the start pointer, and its users ([`super::buf::Arena`],
// [`Slice`]) synchronise the access to what they store there.
unsafe impl Send for Region {}
// SAFETY: as above; `&Region` gives access to nothing but the pointer.
unsafe impl Sync for Region {}

impl Region {
    /// A zero-filled region of `len > 0` bytes.
    pub fn zeroed(len: usize) -> Region {
        assert!(len > 0, "an empty region");
        #[cfg(all(unix, not(loom)))]
        if let Some(r) = Region::mapped(len) {
            return r;
        }
        Region::heap(len)
    }

    fn heap(len: usize) -> Region {
        let mut b = vec![0u8; len].into_boxed_slice();
        let start = NonNull::new(b.as_mut_ptr()).expect("a boxed slice is not null");
        Region {
            start,
            len,
            backing: Backing::Heap(b),
        }
    }

    #[cfg(all(unix, not(loom)))]
    fn mapped(len: usize) -> Option<Region> {
        let map_len = len.checked_add(HUGE_PAGE)?;
        // SAFETY: an anonymous private mapping of `map_len` bytes at an
        // address the kernel chooses: it aliases nothing, and failure is
        // reported as MAP_FAILED, which is checked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        // The mapping is page aligned; start at the first huge-page
        // boundary inside it (at most HUGE_PAGE - 4 KiB further on), so
        // that `len` bytes from there are still inside the mapping.
        let offset = (base as usize).next_multiple_of(HUGE_PAGE) - base as usize;
        // SAFETY: `offset < HUGE_PAGE`, so `base + offset` lies inside the
        // mapping of `len + HUGE_PAGE` bytes.
        let start = unsafe { (base as *mut u8).add(offset) };
        // (Miri, which checks this module's unsafe code, runs the mapping
        // but not the advice.)
        #[cfg(all(target_os = "linux", not(miri)))]
        // SAFETY: advice on pages of our own mapping that nothing has
        // touched yet; it changes neither contents nor permissions. A
        // failure (THP disabled) only leaves 4 KiB pages, so it is ignored.
        unsafe {
            libc::madvise(start as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
        Some(Region {
            start: NonNull::new(start).expect("inside a successful mapping"),
            len,
            backing: Backing::Mapped { base, len: map_len },
        })
    }

    /// The first byte.
    pub fn start(&self) -> NonNull<u8> {
        self.start
    }

    /// The usable length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    #[cfg(any(test, feature = "internals"))]
    /// Whether the region is empty (never: regions have at least a byte).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        match &self.backing {
            #[cfg(all(unix, not(loom)))]
            Backing::Mapped { base, len } => {
                // SAFETY: `base`/`len` are exactly the mapping made in
                // `mapped`, unmapped once, here; whatever was stored in it
                // was dropped by its owner before (`Slice` drops its
                // elements first, `Arena` frames are plain bytes).
                unsafe {
                    libc::munmap(*base, *len);
                }
            }
            Backing::Heap(_) => {}
        }
    }
}

/// A fixed-length slice of `T` (the cache's table of sets): on huge pages
/// where `mmap` is available, otherwise an ordinary `Box<[T]>`.
pub struct Slice<T> {
    inner: SliceInner<T>,
}

enum SliceInner<T> {
    /// `len` elements at the start of a mapped (page-aligned) region.
    #[cfg(all(unix, not(loom)))]
    Mapped {
        region: Region,
        len: usize,
        _owns: std::marker::PhantomData<T>,
    },
    Boxed(Box<[T]>),
}

// SAFETY: a `Slice<T>` owns its `T`s as a `Box<[T]>` would: sending it
// sends them, sharing it shares `&T`s.
unsafe impl<T: Send> Send for Slice<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for Slice<T> {}

impl<T> Slice<T> {
    /// A slice of `len` elements, element `i` being `make(i)`.
    pub fn new(len: usize, mut make: impl FnMut(usize) -> T) -> Slice<T> {
        #[cfg(all(unix, not(loom)))]
        if len > 0 && std::mem::size_of::<T>() > 0 && std::mem::align_of::<T>() <= 4096 {
            let bytes = len
                .checked_mul(std::mem::size_of::<T>())
                .expect("table size overflows");
            if let Some(region) = Region::mapped(bytes) {
                let base = region.start().as_ptr() as *mut T;
                for i in 0..len {
                    // SAFETY: the region is page-aligned (so aligned for
                    // `T`, whose alignment is at most a page) and holds
                    // `len * size_of::<T>()` bytes, so element `i < len`
                    // lies inside it; nothing was stored there yet, so
                    // writing without dropping loses nothing. If `make`
                    // panics, the elements written so far are leaked (the
                    // region is unmapped without dropping them), never
                    // dropped twice.
                    unsafe { base.add(i).write(make(i)) };
                }
                return Slice {
                    inner: SliceInner::Mapped {
                        region,
                        len,
                        _owns: std::marker::PhantomData,
                    },
                };
            }
        }
        Slice {
            inner: SliceInner::Boxed((0..len).map(&mut make).collect()),
        }
    }
}

impl<T> std::ops::Deref for Slice<T> {
    type Target = [T];
    #[inline]
    fn deref(&self) -> &[T] {
        match &self.inner {
            #[cfg(all(unix, not(loom)))]
            SliceInner::Mapped { region, len, .. } => {
                // SAFETY: `new` initialised all `len` elements at this
                // aligned address, and they live until `drop`.
                unsafe { std::slice::from_raw_parts(region.start().as_ptr() as *const T, *len) }
            }
            SliceInner::Boxed(b) => b,
        }
    }
}

impl<T> Drop for Slice<T> {
    fn drop(&mut self) {
        #[cfg(all(unix, not(loom)))]
        if let SliceInner::Mapped { region, len, .. } = &self.inner {
            let base = region.start().as_ptr() as *mut T;
            // SAFETY: the `len` elements were initialised by `new` and are
            // dropped exactly once, here, before the region (dropped
            // after this) is unmapped.
            unsafe { std::ptr::drop_in_place(std::ptr::slice_from_raw_parts_mut(base, *len)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use std::sync::Arc;

    #[test]
    fn a_region_is_zeroed_aligned_and_writable() {
        // (Under Miri, which interprets every byte access, a shorter one.)
        let long = if cfg!(miri) {
            3 * 4096 + 3
        } else {
            HUGE_PAGE + 3
        };
        for len in [1, 4096, long] {
            let r = Region::zeroed(len);
            assert!(r.len() >= len);
            let p = r.start().as_ptr();
            #[cfg(all(unix, not(loom)))]
            assert!((p as usize).is_multiple_of(HUGE_PAGE));
            // SAFETY (test): the region is `len` bytes at `p`, owned here.
            let bytes = unsafe { std::slice::from_raw_parts_mut(p, len) };
            assert!(bytes.iter().all(|&b| b == 0));
            bytes[len - 1] = 7;
            assert_eq!(bytes[len - 1], 7);
        }
    }

    #[test]
    fn a_slice_holds_and_drops_its_elements() {
        let drops = Arc::new(AtomicUsize::new(0));
        struct D(usize, Arc<AtomicUsize>);
        impl Drop for D {
            fn drop(&mut self) {
                self.1.fetch_add(1, SeqCst);
            }
        }
        let s = Slice::new(1000, |i| D(i, drops.clone()));
        assert_eq!(s.len(), 1000);
        assert!(s.iter().enumerate().all(|(i, d)| d.0 == i));
        drop(s);
        assert_eq!(drops.load(SeqCst), 1000);
        let empty: Slice<u64> = Slice::new(0, |_| 0);
        assert!(empty.is_empty());
    }
}
