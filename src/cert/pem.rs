//! PEM as servers read it: each block's label, its base64 body in lines of
//! 64, read leniently (any white space, CRLF, text around the blocks) and
//! written strictly (RFC 7468's layout, which nginx, envoy and OpenSSL take).

use crate::secret::SecretBytes;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use zeroize::Zeroizing;

/// One block: its label (`CERTIFICATE`, `PRIVATE KEY`, ...), whether it has
/// RFC 1421 headers (`Proc-Type: 4,ENCRYPTED`: an encrypted legacy key), and
/// its decoded body.
pub(super) struct Block {
    pub label: String,
    pub headers: bool,
    pub der: Zeroizing<Vec<u8>>,
}

/// Whether `text` holds a PEM block at all.
pub(super) fn looks_like_pem(text: &[u8]) -> bool {
    text.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Every block in `text`, in order. `None` when a block does not close or its
/// body is not base64.
pub(super) fn blocks(text: &[u8]) -> Option<Vec<Block>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start + 11..];
        let (label, after) = after.split_once("-----")?;
        let end_marker = format!("-----END {label}-----");
        let end = after.find(&end_marker)?;
        let body = &after[..end];
        let headers = body.lines().any(|l| l.contains(':'));
        let b64: Zeroizing<String> = Zeroizing::new(
            body.lines()
                .filter(|l| !l.contains(':'))
                .flat_map(|l| l.chars())
                .filter(|c| !c.is_ascii_whitespace())
                .collect(),
        );
        let der = Zeroizing::new(STANDARD.decode(b64.as_bytes()).ok()?);
        found.push(Block {
            label: label.trim().to_string(),
            headers,
            der,
        });
        rest = &after[end + end_marker.len()..];
    }
    Some(found)
}

/// The length of `der` written as a PEM block labelled `label`.
pub(super) fn len(label: &str, der: &[u8]) -> usize {
    let text = der.len().div_ceil(3) * 4;
    let frame = "-----BEGIN -----\n".len() + "-----END -----\n".len() + 2 * label.len();
    frame + text + text.div_ceil(64)
}

/// Appends `der` as a PEM block labelled `label`; `out` has the room
/// ([`len`]), so the key never sits in a buffer that grew.
pub(super) fn push(out: &mut SecretBytes, label: &str, der: &[u8]) {
    out.push(format!("-----BEGIN {label}-----\n").as_bytes());
    let mut line = [0u8; 64];
    for chunk in der.chunks(48) {
        let n = STANDARD
            .encode_slice(chunk, &mut line)
            .expect("48 bytes are 64 base64 characters");
        out.push(&line[..n]);
        out.push(b"\n");
    }
    line.iter_mut().for_each(|b| *b = 0);
    out.push(format!("-----END {label}-----\n").as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_read_leniently_and_written_as_rfc_7468_lays_them_out() {
        for size in [0usize, 1, 47, 48, 49, 96, 1000] {
            let der: Vec<u8> = (0..size).map(|i| i as u8).collect();
            let mut out = SecretBytes::with_capacity(len("CERTIFICATE", &der));
            push(&mut out, "CERTIFICATE", &der);
            assert_eq!(out.len(), len("CERTIFICATE", &der), "{size}");
            let text = std::str::from_utf8(out.expose()).unwrap();
            assert!(text.lines().all(|l| l.len() <= 64));
            let crlf = format!("junk\r\n{}", text.replace('\n', "\r\n"));
            let read = blocks(crlf.as_bytes()).unwrap();
            assert_eq!(read.len(), 1);
            assert_eq!(
                (read[0].label.as_str(), &read[0].der[..]),
                ("CERTIFICATE", &der[..])
            );
        }
        assert!(blocks(b"-----BEGIN X-----\nAAAA\n").is_none(), "not closed");
        assert!(blocks(b"-----BEGIN X-----\n!!!!\n-----END X-----\n").is_none());
        let legacy = blocks(b"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n").unwrap();
        assert!(legacy[0].headers);
    }
}
