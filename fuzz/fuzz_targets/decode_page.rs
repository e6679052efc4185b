//! Fuzz target `decode_page`: see `vellum_tests::fuzz_targets::run_decode_page`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    vellum_tests::fuzz_targets::run_decode_page(data);
});
