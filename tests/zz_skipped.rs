//! Runs last (test targets run in name order): lists every test that was
//! skipped in this `cargo test` run because the machine lacks something, one
//! line each, so that a green run on a laptop says what it did not cover.

#[test]
fn list_skipped_tests() {
    use std::io::Write;
    let log = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("kvenv-skipped.txt");
    let Ok(text) = std::fs::read_to_string(&log) else {
        return;
    };
    let _ = std::fs::remove_file(&log);
    let mut out = std::io::stderr().lock();
    let _ = writeln!(
        out,
        "\nTests skipped on this machine (KVENV_TEST_STRICT=1 makes these failures):"
    );
    for line in text.lines() {
        let _ = writeln!(out, "  {line}");
    }
}
