//! Target `crafted_file`: the input bytes choose a hostile file of
//! [`crate::crafted::hostile`] (structurally valid, correct checksums,
//! contents that break one rule of docs/FORMAT.md), which is then opened
//! read-only and read-write, read everywhere, written (puts that split the
//! damaged leaves, deletes, an overflow value, bucket changes, a
//! checkpoint), closed and reopened, as [`super::run_open_bytes`] does.
//!
//! Input layout (missing bytes read as zero): kind index (modulo the number
//! of kinds), page size choice (1024, 2048, 4096), keys of the default
//! bucket (4 + byte), keys per leaf (2 + byte % 30), pick (u16), extra
//! (u16), then a flag byte whose bit 0 skips the writes.

use super::open_bytes::exercise;
use super::ByteReader;
use crate::crafted::hostile::{build, Params, ALL};

/// The parameters the input bytes describe.
pub fn params_of(data: &[u8]) -> (usize, Params, bool) {
    let mut r = ByteReader::new(data);
    let kind = r.u8() as usize % ALL.len();
    let ps = 1024 << (r.u8() % 3);
    let keys = 4 + r.u8() as usize;
    let per_leaf = 2 + r.u8() as usize % 30;
    let pick = usize::from(r.u8()) | usize::from(r.u8()) << 8;
    let extra = usize::from(r.u8()) | usize::from(r.u8()) << 8;
    let write = r.u8() & 1 == 0;
    let p = Params {
        ps,
        keys,
        per_leaf,
        pick,
        extra,
    };
    (kind, p, write)
}

/// Builds the file `data` describes and exercises it.
///
/// # Panics
/// Only where the engine panics (a finding).
pub fn run_crafted_file(data: &[u8]) {
    let (kind, p, write) = params_of(data);
    let image = build(ALL[kind], &p);
    exercise(&image, p.ps, write);
}

/// The input bytes that describe `kind` (an index into
/// [`crate::crafted::hostile::ALL`]) with parameters `p`.
pub fn input_for(kind: usize, p: &Params, write: bool) -> Vec<u8> {
    let ps_code = match p.ps {
        2048 => 1,
        4096 => 2,
        _ => 0,
    };
    vec![
        kind as u8,
        ps_code,
        (p.keys.saturating_sub(4)).min(255) as u8,
        (p.per_leaf.saturating_sub(2) % 30) as u8,
        p.pick as u8,
        (p.pick >> 8) as u8,
        p.extra as u8,
        (p.extra >> 8) as u8,
        u8::from(!write),
    ]
}
