//! Cache-line prefetch hints: loads started early so that a miss overlaps
//! other work. Hints only: they never fault and change no state.

/// Starts loading the cache line at `addr`.
#[inline]
pub fn line(addr: usize) {
    #[cfg(all(target_arch = "x86_64", not(loom)))]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: `prefetcht0` is a hint: it does not fault on any
        // address (mapped or not) and has no effect on program state.
        // SSE, which provides it, is part of the x86_64 baseline.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(addr as *const i8) };
    }
    #[cfg(any(not(target_arch = "x86_64"), loom))]
    let _ = addr;
}

/// Starts loading the first two cache lines at `addr` (a page's header
/// and the start of its slot directory).
#[inline]
pub fn page_start(addr: usize) {
    line(addr);
    line(addr.wrapping_add(64));
}

/// Starts loading every cache line of the `len` bytes at `addr`.
#[inline]
pub fn lines(addr: usize, len: usize) {
    let end = addr.saturating_add(len);
    let mut at = addr & !63;
    while at < end {
        line(at);
        at += 64;
    }
}
