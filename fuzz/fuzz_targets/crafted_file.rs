//! Fuzz target `crafted_file`: see `vellum_tests::fuzz_targets::run_crafted_file`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vellum_tests::fuzz_targets::run_crafted_file(data);
});
