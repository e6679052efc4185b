//! Fuzz target `open_bytes`: see `vellum_tests::fuzz_targets::run_open_bytes`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vellum_tests::fuzz_targets::run_open_bytes(data);
});
