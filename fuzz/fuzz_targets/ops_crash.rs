//! Fuzz target `ops_crash`: see `vellum_tests::fuzz_targets::run_ops_crash`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vellum_tests::fuzz_targets::run_ops_crash(data);
});
