//! Fuzz target: whatever a vault answers (status and body), the path from
//! the answer to `kvenv check`'s table and JSON never panics and never lets a
//! control or direction character through.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    kvenv::fuzzing::vault_answer(data);
});
