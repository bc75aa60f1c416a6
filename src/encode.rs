//! A value encoded for the place it goes in a larger text, asked for by a
//! reference's `Encode=` parameter (kvenv's own; App Service has none):
//! `uri` for a URI's user, password, path or query (`postgresql://app:…@host`),
//! `pgpass` for a field of libpq's password file, `json` for the inside of a
//! JSON string. A value a place cannot hold fails closed, naming what is wrong.

use crate::secret::SecretBytes;

/// Where a value goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Encoding {
    /// RFC 3986 percent-encoding of every byte but the unreserved ones.
    Uri,
    /// `\` and `:` escaped with `\`, as libpq reads `.pgpass`.
    Pgpass,
    /// A JSON string's content, without the quotes.
    Json,
}

impl Encoding {
    /// `Encode=NAME` as written (matched without regard to case).
    pub(crate) fn named(name: &str) -> Option<Encoding> {
        match name.to_ascii_lowercase().as_str() {
            "uri" => Some(Encoding::Uri),
            "pgpass" => Some(Encoding::Pgpass),
            "json" => Some(Encoding::Json),
            _ => None,
        }
    }

    /// Why `value` cannot be written here, if it cannot.
    pub(crate) fn refuses(self, value: &[u8]) -> Option<&'static str> {
        match self {
            Encoding::Uri => None,
            Encoding::Pgpass if value.iter().any(|b| matches!(b, b'\n' | b'\r')) => Some(
                "the secret holds a line break, which a .pgpass field cannot hold (Encode=pgpass)",
            ),
            Encoding::Pgpass => None,
            Encoding::Json if std::str::from_utf8(value).is_err() => {
                Some("the secret is not UTF-8 text, which a JSON string cannot hold (Encode=json)")
            }
            Encoding::Json => None,
        }
    }

    /// How long `value` is once encoded.
    pub(crate) fn len(self, value: &[u8]) -> usize {
        value.iter().map(|&b| self.piece(b).len()).sum()
    }

    /// Appends `value`, encoded, to `out`.
    pub(crate) fn push(self, value: &[u8], out: &mut SecretBytes) {
        for &b in value {
            out.push(self.piece(b).as_bytes());
        }
    }

    /// One byte, encoded (UTF-8 above ASCII passes through for JSON and pgpass).
    fn piece(self, b: u8) -> Piece {
        match self {
            Encoding::Uri
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') =>
            {
                Piece::one(b)
            }
            Encoding::Uri => Piece::hex(b'%', b),
            Encoding::Pgpass if matches!(b, b'\\' | b':') => Piece::two(b'\\', b),
            Encoding::Pgpass => Piece::one(b),
            Encoding::Json => match b {
                b'"' | b'\\' => Piece::two(b'\\', b),
                b'\n' => Piece::two(b'\\', b'n'),
                b'\r' => Piece::two(b'\\', b'r'),
                b'\t' => Piece::two(b'\\', b't'),
                0..=0x1f | 0x7f => Piece::unicode(b),
                _ => Piece::one(b),
            },
        }
    }
}

/// At most six bytes, on the stack.
struct Piece {
    bytes: [u8; 6],
    len: usize,
}

impl Piece {
    fn one(b: u8) -> Piece {
        Piece {
            bytes: [b, 0, 0, 0, 0, 0],
            len: 1,
        }
    }

    fn two(a: u8, b: u8) -> Piece {
        Piece {
            bytes: [a, b, 0, 0, 0, 0],
            len: 2,
        }
    }

    fn hex(prefix: u8, b: u8) -> Piece {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        Piece {
            bytes: [
                prefix,
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
                0,
                0,
                0,
            ],
            len: 3,
        }
    }

    fn unicode(b: u8) -> Piece {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        Piece {
            bytes: [
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ],
            len: 6,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(e: Encoding, value: &str) -> String {
        let mut out = SecretBytes::with_capacity(e.len(value.as_bytes()));
        e.push(value.as_bytes(), &mut out);
        assert_eq!(out.len(), e.len(value.as_bytes()));
        String::from_utf8(out.expose().to_vec()).unwrap()
    }

    #[test]
    fn each_place_gets_its_escapes() {
        let hard = "p@ss:w/rd?x#1%2 \\é\"";
        assert_eq!(
            encoded(Encoding::Uri, hard),
            "p%40ss%3Aw%2Frd%3Fx%231%252%20%5C%C3%A9%22"
        );
        assert_eq!(encoded(Encoding::Pgpass, hard), "p@ss\\:w/rd?x#1%2 \\\\é\"");
        assert_eq!(
            encoded(Encoding::Json, "a\"b\\c\nd\u{1}é"),
            "a\\\"b\\\\c\\nd\\u0001é"
        );
        assert_eq!(Encoding::named("URI"), Some(Encoding::Uri));
        assert_eq!(Encoding::named("base64"), None);
    }

    #[test]
    fn what_a_place_cannot_hold_is_refused() {
        assert!(Encoding::Pgpass.refuses(b"two\nlines").is_some());
        assert!(Encoding::Json.refuses(&[0xff]).is_some());
        assert!(Encoding::Uri.refuses(&[0xff, b'\n']).is_none());
        assert!(Encoding::Pgpass.refuses(b"a:b\\c").is_none());
    }
}
