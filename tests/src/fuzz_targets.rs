//! The bodies of the cargo-fuzz targets in `fuzz/`, shared with the stable
//! corpus replay test (`tests/tests/fuzz_corpus.rs`).
//!
//! Each `run_*` function takes arbitrary bytes and panics only on a
//! finding (an engine panic, a wrong answer, a lost acknowledged commit);
//! any input that merely makes the engine return a typed error is fine.
//!
//! - [`run_ops_crash`]: an operation sequence (puts, deletes, reads, bucket
//!   changes, commits, aborts, syncs, checkpoints, crashes at chosen points,
//!   clean reopens) on a [`vellum_sim::SimVfs`] with the `"torn"` profile,
//!   checked against [`vellum_model::VersionedModel`] and, after every
//!   crash, [`vellum_model::check_recovered`] and `Db::check`.
//! - [`run_open_bytes`]: the bytes as a database file, opened read-only and
//!   read-write (optionally after recomputing every checksum so the damage
//!   reaches past verification), then every read path walked.
//! - [`run_decode_page`]: every page decoder on the bytes, plus re-encode
//!   round trips of whatever decodes.
//! - [`run_crafted_file`]: a hostile file built from the bytes by
//!   [`crate::crafted::hostile`] (valid checksums, contents that break the
//!   format), opened, read, written, closed and reopened.
//!
//! [`seeds`] builds the checked-in seed corpora (`fuzz/corpus/<target>/`).

mod crafted_file;
mod decode_page;
mod open_bytes;
mod ops_crash;
pub mod seeds;

pub use crafted_file::{input_for, params_of, run_crafted_file};
pub use decode_page::run_decode_page;
pub use open_bytes::{avoid_known_bugs, reseal, run_open_bytes, MAX_FILE_BYTES};
pub use ops_crash::{bucket, key, run_ops_crash, value, FuzzOp, OpsEncoder};

/// The fuzz targets, by the name of their corpus directory.
pub const TARGETS: &[&str] = &["ops_crash", "open_bytes", "decode_page", "crafted_file"];

/// Runs the target called `name` (one of [`TARGETS`]) on `data`.
///
/// # Panics
/// On an unknown name, and wherever the target finds a problem.
pub fn run_target(name: &str, data: &[u8]) {
    match name {
        "ops_crash" => run_ops_crash(data),
        "open_bytes" => run_open_bytes(data),
        "decode_page" => run_decode_page(data),
        "crafted_file" => run_crafted_file(data),
        other => panic!("unknown fuzz target {other:?}"),
    }
}

/// Reads fuzzer bytes as a stream of small numbers; past the end every read
/// returns zero, so every input decodes to something.
#[derive(Clone, Debug)]
pub(crate) struct ByteReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        ByteReader { data, pos: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    pub(crate) fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
}
