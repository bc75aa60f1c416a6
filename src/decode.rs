//! Text that stands for bytes: base64, base64url and hex, decoded into a
//! buffer that is wiped (`--file VAR=ENCODING`, a PKCS#12 stored as base64).

use crate::secret::SecretBytes;
use base64::Engine;

/// How the stored text becomes the file's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decoding {
    /// The value as it is.
    Raw,
    /// RFC 4648 base64 (`+/`), padding optional, white space ignored.
    Base64,
    /// RFC 4648 base64url (`-_`), padding optional, white space ignored.
    Base64Url,
    /// Hexadecimal digits of either case, white space ignored.
    Hex,
}

impl Decoding {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Decoding::Raw => "none",
            Decoding::Base64 => "base64",
            Decoding::Base64Url => "base64url",
            Decoding::Hex => "hex",
        }
    }

    /// The file's bytes, or `None` when `value` does not decode.
    pub(crate) fn decode(self, value: &[u8]) -> Option<SecretBytes> {
        let compact: zeroize::Zeroizing<Vec<u8>> = zeroize::Zeroizing::new(
            value
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect(),
        );
        let alphabet = match self {
            Decoding::Raw => return Some(SecretBytes::new(value.to_vec())),
            Decoding::Hex => return hex(&compact),
            Decoding::Base64 => &base64::alphabet::STANDARD,
            Decoding::Base64Url => &base64::alphabet::URL_SAFE,
        };
        let engine = base64::engine::GeneralPurpose::new(
            alphabet,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let mut out = vec![0u8; base64::decoded_len_estimate(compact.len())];
        match engine.decode_slice(&compact, &mut out) {
            Ok(n) => {
                // No reallocation: the wipe on drop covers the whole buffer.
                out.truncate(n);
                Some(SecretBytes::new(out))
            }
            Err(_) => {
                zeroize::Zeroize::zeroize(&mut out);
                None
            }
        }
    }
}

fn hex(digits: &[u8]) -> Option<SecretBytes> {
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let nibble = |d: u8| (d as char).to_digit(16).map(|v| v as u8);
    let mut out = SecretBytes::with_capacity(digits.len() / 2);
    for pair in digits.chunks(2) {
        out.push(&[nibble(pair[0])? << 4 | nibble(pair[1])?]);
    }
    Some(out)
}

impl std::str::FromStr for Decoding {
    type Err = ();

    /// An encoding's name as `--file VAR=ENCODING` takes it (any case).
    fn from_str(name: &str) -> Result<Decoding, ()> {
        [Decoding::Base64, Decoding::Base64Url, Decoding::Hex]
            .into_iter()
            .find(|d| d.name().eq_ignore_ascii_case(name))
            .ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_encoding_decodes_byte_for_byte_and_refuses_what_is_not_it() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02X}")).collect();
        for (d, text) in [
            (Decoding::Base64, b64.clone()),
            (Decoding::Base64Url, url),
            (Decoding::Hex, hex),
        ] {
            let wrapped: String = text
                .as_bytes()
                .chunks(60)
                .map(|c| format!("{}\n", String::from_utf8_lossy(c)))
                .collect();
            assert_eq!(
                d.decode(wrapped.as_bytes()).unwrap().expose(),
                &bytes[..],
                "{d:?}"
            );
        }
        assert!(Decoding::Base64.decode(b"not base64!").is_none());
        assert!(
            Decoding::Base64Url.decode(b64.as_bytes()).is_none(),
            "+ and / are not base64url"
        );
        assert!(Decoding::Hex.decode(b"abc").is_none() && Decoding::Hex.decode(b"zz").is_none());
        assert_eq!("BASE64".parse(), Ok(Decoding::Base64));
        assert!("gzip".parse::<Decoding>().is_err() && "none".parse::<Decoding>().is_err());
    }
}
