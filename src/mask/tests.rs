use super::*;

fn shared(values: &[&str]) -> Shared {
    Arc::new(RwLock::new(Arc::new(Patterns::new(
        values.iter().map(|v| v.as_bytes()),
    ))))
}

/// `input` fed in pieces of `size` bytes, then finished.
fn masked(values: &[&str], input: &[u8], size: usize) -> Vec<u8> {
    let mut stream = Stream::new(shared(values));
    let mut out = Vec::new();
    for piece in input.chunks(size.max(1)) {
        stream.feed(piece, &mut out);
    }
    stream.finish(&mut out);
    out
}

#[test]
fn every_form_is_masked_whatever_the_pieces() {
    let secret = "p@ss w/rd+\"1\"";
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let url = "p%40ss%20w%2Frd%2B%221%22";
    let json = r#"p@ss w/rd+\"1\""#;
    let text = format!(
        "a {secret} b {b64} c {url} d {json} e {} f",
        url.to_lowercase()
    );
    for size in [1, 2, 3, 7, 64, 4096] {
        let out = String::from_utf8(masked(&[secret], text.as_bytes(), size)).unwrap();
        assert_eq!(out, "a *** b *** c *** d *** e *** f", "pieces of {size}");
    }
}

#[test]
fn the_longest_value_wins_and_short_ones_are_left() {
    let out = masked(&["abcd", "abcdefgh"], b"x abcdefgh y abcdz", 1);
    assert_eq!(out, b"x *** y ***z");
    assert_eq!(masked(&["abc"], b"abc abc", 1), b"abc abc", "under 4 bytes");
}

#[test]
fn only_a_tail_that_can_still_match_waits() {
    let mut stream = Stream::new(shared(&["secret-value"]));
    let mut out = Vec::new();
    stream.feed(b"prompt> ", &mut out);
    assert_eq!(
        out, b"prompt> ",
        "nothing held: no pattern starts with any tail"
    );
    out.clear();
    stream.feed(b"say secr", &mut out);
    assert_eq!(out, b"say ", "'secr' could still become the value");
    out.clear();
    stream.feed(b"et", &mut out);
    stream.feed(b"-valuX", &mut out);
    assert_eq!(out, b"secret-valuX");
}

#[test]
fn rotation_adds_values_and_keeps_the_old_ones() {
    let mut m = Masked::new(vec![SecretBytes::new(b"old-value".to_vec())]);
    m.add(vec![SecretBytes::new(b"new-value".to_vec())]);
    let mut stream = Stream::new(m.patterns.clone());
    let mut out = Vec::new();
    stream.feed(b"old-value new-value", &mut out);
    stream.finish(&mut out);
    assert_eq!(out, b"*** ***");
}

#[test]
fn github_lines_escape_and_split() {
    let lines = github_lines([&b"50%\noff!"[..]]);
    let text = String::from_utf8(lines.expose().to_vec()).unwrap();
    assert!(text.contains("::add-mask::off!\n"), "{text}");
    assert!(
        !text.contains("::add-mask::50%\n"),
        "under 4 bytes once split: {text}"
    );
    assert!(text.contains("::add-mask::NTAlCm9mZiE=\n"), "{text}");
    assert!(
        text.contains("::add-mask::50%2525%250Aoff%2521\n"),
        "% escaped: {text}"
    );
}
