//! Fuzz target: kvenv's reference parsing never panics on any input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        kvenv::fuzzing::reference(text);
    }
});
