//! Replays the checked-in fuzz corpora (`fuzz/corpus/<target>/*`) through
//! the same functions the cargo-fuzz targets call, on stable `cargo test`.
//! A crash input added to a corpus (see docs/TESTING.md) fails this test
//! until the engine is fixed.
//!
//! Each input runs on its own thread with a time limit, so an input that
//! makes the engine hang fails instead of stalling the suite, and under an
//! allocator that notes the largest request, so an input that makes the
//! engine ask for gigabytes fails too.
//!
//! `VELLUM_WRITE_CORPUS=1 cargo test -p vellum-tests --test fuzz_corpus
//! write_seed_corpus` regenerates the `seed-*` files.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use vellum_tests::fuzz_targets::{run_target, seeds, TARGETS};

/// Time allowed for one input (debug builds on a shared machine).
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// Largest single allocation one input may ask for. Inputs are at most
/// 128 KiB; the fuzz runs use `-malloc_limit_mb=256` to the same end.
const ALLOC_LIMIT: usize = 256 << 20;

thread_local! {
    /// The largest allocation requested on this thread since the last reset.
    static LARGEST_ALLOC: Cell<usize> = const { Cell::new(0) };
}

/// The system allocator, noting each thread's largest request so that an
/// input asking for gigabytes is reported even where the kernel would
/// hand out untouched zeroed memory lazily.
struct Tracking;

fn note_alloc(size: usize) {
    let _ = LARGEST_ALLOC.try_with(|c| {
        if size > c.get() {
            c.set(size);
        }
    });
}

// SAFETY: every call is forwarded unchanged to `System`.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = corpus_dir(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("corpus directory {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `target` on `data` on a thread; `Err` with the panic message or a
/// timeout.
fn run_isolated(target: &'static str, data: Vec<u8>) -> Result<(), String> {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name(format!("fuzz-{target}"))
        .spawn(move || {
            LARGEST_ALLOC.with(|c| c.set(0));
            let r = std::panic::catch_unwind(|| run_target(target, &data));
            let largest = LARGEST_ALLOC.with(|c| c.get());
            let r = r
                .map_err(|p| {
                    p.downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "non-string panic".into())
                })
                .and_then(|()| {
                    if largest > ALLOC_LIMIT {
                        Err(format!(
                            "unbounded allocation: one request of {largest} bytes"
                        ))
                    } else {
                        Ok(())
                    }
                });
            let _ = tx.send(r);
        })
        .expect("spawn");
    match rx.recv_timeout(TIME_LIMIT) {
        Ok(r) => r,
        Err(_) => Err(format!("did not finish within {TIME_LIMIT:?} (hang?)")),
    }
}

fn replay(target: &'static str) {
    let files = inputs(target);
    assert!(!files.is_empty(), "corpus of {target} is empty");
    let mut failures = Vec::new();
    for f in &files {
        let data = std::fs::read(f).expect("read corpus file");
        if let Err(msg) = run_isolated(target, data) {
            failures.push(format!("{}: {msg}", f.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} {target} corpus inputs failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn replay_ops_crash_corpus() {
    replay("ops_crash");
}

#[test]
fn replay_open_bytes_corpus() {
    replay("open_bytes");
}

#[test]
fn replay_decode_page_corpus() {
    replay("decode_page");
}

#[test]
fn replay_crafted_file_corpus() {
    replay("crafted_file");
}

/// Every seed the generator builds is checked in. (Only names are
/// compared: the database images follow the engine's page layout, which
/// may change; rewrite them when it does.)
#[test]
fn seed_corpus_is_checked_in() {
    let missing: Vec<String> = seeds::corpus()
        .into_iter()
        .map(|(target, name, _)| corpus_dir(target).join(name))
        .filter(|p| !p.is_file())
        .map(|p| p.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "seed files missing (write them with VELLUM_WRITE_CORPUS=1 \
         cargo test -p vellum-tests --test fuzz_corpus write_seed_corpus):\n{}",
        missing.join("\n")
    );
}

/// Writes the seed corpora when `VELLUM_WRITE_CORPUS` is set; a no-op
/// otherwise. Files not named `seed-*` (minimized crash inputs, fuzzer
/// finds worth keeping) are left alone.
#[test]
fn write_seed_corpus() {
    if std::env::var_os("VELLUM_WRITE_CORPUS").is_none() {
        return;
    }
    for t in TARGETS {
        let dir = corpus_dir(t);
        std::fs::create_dir_all(&dir).expect("create corpus dir");
        for e in std::fs::read_dir(&dir).expect("read corpus dir") {
            let p = e.expect("entry").path();
            let is_seed = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seed-"));
            if is_seed {
                std::fs::remove_file(&p).expect("remove old seed");
            }
        }
    }
    for (target, name, bytes) in seeds::corpus() {
        std::fs::write(corpus_dir(target).join(name), bytes).expect("write seed");
    }
}
