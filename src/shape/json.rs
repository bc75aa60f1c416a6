//! A JSON secret read from its own text. Members are found by walking the
//! document (serde_json's `RawValue`), never by re-serialising a parsed
//! value, so numbers keep the text the document had (`1e2` stays `1e2`, a
//! 30-digit account number stays whole); and a member given twice in one
//! object makes the document ambiguous, so it is refused, not taken last.

use crate::secret::SecretBytes;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Why a secret cannot be read as the JSON options need it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Not JSON at all.
    Syntax,
    /// An object has a member twice.
    Duplicate,
}

/// A checked JSON document, borrowed from the secret's bytes.
pub(crate) struct Doc<'a>(&'a RawValue);

impl<'a> Doc<'a> {
    /// Checks `bytes` as one JSON document whose objects each name a member
    /// once (serde_json bounds the nesting, so no input can exhaust the stack).
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Doc<'a>, Problem> {
        match serde_json::from_slice::<Checked>(bytes) {
            Ok(Checked { duplicate: false }) => {}
            Ok(Checked { duplicate: true }) => return Err(Problem::Duplicate),
            Err(_) => return Err(Problem::Syntax),
        }
        serde_json::from_slice::<&RawValue>(bytes)
            .map(Doc)
            .map_err(|_| Problem::Syntax)
    }

    /// The member at RFC 6901 `pointer` (empty for the whole document, else
    /// `/`-separated tokens with `~1` for `/` and `~0` for `~`), as the
    /// command gets it; `None` when the pointer names nothing.
    pub(crate) fn pointer(&self, pointer: &str) -> Result<Option<SecretBytes>, Problem> {
        let mut at = self.0;
        for token in pointer.split('/').skip(1) {
            let token = Zeroizing::new(token.replace("~1", "/").replace("~0", "~"));
            let next = match first(at) {
                b'{' => object(at)?
                    .into_iter()
                    .find(|(key, _)| **key == *token)
                    .map(|(_, v)| v),
                b'[' => match index(&token) {
                    Some(i) => array(at)?.get(i).copied(),
                    None => None,
                },
                _ => None,
            };
            match next {
                Some(next) => at = next,
                None => return Ok(None),
            }
        }
        text_of(at).map(Some)
    }

    /// The top-level members in the document's order, each as the command
    /// gets it; `None` when the document is not an object.
    #[allow(clippy::type_complexity)]
    pub(crate) fn members(&self) -> Result<Option<Vec<(String, SecretBytes)>>, Problem> {
        if first(self.0) != b'{' {
            return Ok(None);
        }
        let mut out = Vec::new();
        for (key, value) in object(self.0)? {
            out.push((key.to_string(), text_of(value)?));
        }
        Ok(Some(out))
    }
}

fn first(raw: &RawValue) -> u8 {
    raw.get().trim_start().bytes().next().unwrap_or(0)
}

/// An array index as RFC 6901 writes it: `0`, or digits with no leading zero.
fn index(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    match digits && (token == "0" || !token.starts_with('0')) {
        true => token.parse().ok(),
        false => None,
    }
}

/// A member as the command gets it: a string as its text, anything else as
/// its compact JSON text, numbers exactly as written.
fn text_of(raw: &RawValue) -> Result<SecretBytes, Problem> {
    let text = raw.get().trim();
    if text.starts_with('"') {
        return serde_json::from_str::<String>(text)
            .map(SecretBytes::from_string)
            .map_err(|_| Problem::Syntax);
    }
    let mut out = SecretBytes::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let skip = !in_string && matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        if skip {
            out.push(&bytes[start..i]);
            start = i + 1;
        }
        match (in_string, escaped, b) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (_, false, b'"') => in_string = !in_string,
            _ => {}
        }
    }
    out.push(&bytes[start..]);
    Ok(out)
}

type Members<'a> = Vec<(Zeroizing<String>, &'a RawValue)>;

fn object(raw: &RawValue) -> Result<Members<'_>, Problem> {
    serde_json::from_str::<Object>(raw.get())
        .map(|o| o.0)
        .map_err(|_| Problem::Syntax)
}

fn array(raw: &RawValue) -> Result<Vec<&RawValue>, Problem> {
    serde_json::from_str(raw.get()).map_err(|_| Problem::Syntax)
}

/// An object's members in order, each value left as its text.
struct Object<'a>(Members<'a>);

impl<'de> Deserialize<'de> for Object<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    members.push((Zeroizing::new(key), map.next_value::<&'de RawValue>()?));
                }
                Ok(Object(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// One pass over the whole document: whether any object names a member twice.
struct Checked {
    duplicate: bool,
}

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Checked;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("JSON")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
                let mut seen: HashSet<String> = HashSet::new();
                let mut duplicate = false;
                while let Some(key) = map.next_key::<String>()? {
                    duplicate |= map.next_value::<Checked>()?.duplicate;
                    if let Some(mut again) = seen.replace(key) {
                        again.zeroize();
                        duplicate = true;
                    }
                }
                for mut key in seen.drain() {
                    key.zeroize();
                }
                Ok(Checked { duplicate })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
                let mut duplicate = false;
                while let Some(item) = seq.next_element::<Checked>()? {
                    duplicate |= item.duplicate;
                }
                Ok(Checked { duplicate })
            }
            fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
                Ok(Checked { duplicate: false })
            }
            fn visit_string<E>(self, mut s: String) -> Result<Checked, E> {
                s.zeroize();
                Ok(Checked { duplicate: false })
            }
            fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
                Ok(Checked { duplicate: false })
            }
            fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
                Ok(Checked { duplicate: false })
            }
            fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
                Ok(Checked { duplicate: false })
            }
            fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
                Ok(Checked { duplicate: false })
            }
            fn visit_unit<E>(self) -> Result<Checked, E> {
                Ok(Checked { duplicate: false })
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(doc: &str, pointer: &str) -> Option<String> {
        Doc::parse(doc.as_bytes())
            .unwrap()
            .pointer(pointer)
            .unwrap()
            .map(|v| String::from_utf8(v.expose().to_vec()).unwrap())
    }

    #[test]
    fn numbers_keep_the_documents_text() {
        let doc = r#"{"e": 1e2, "big": 123456789012345678901234567890, "neg": -0.50, "a": [ 1 , 2.0e-3 ]}"#;
        assert_eq!(at(doc, "/e").unwrap(), "1e2");
        assert_eq!(at(doc, "/big").unwrap(), "123456789012345678901234567890");
        assert_eq!(at(doc, "/neg").unwrap(), "-0.50");
        assert_eq!(at(doc, "/a").unwrap(), "[1,2.0e-3]");
        assert_eq!(
            at(doc, "").unwrap(),
            r#"{"e":1e2,"big":123456789012345678901234567890,"neg":-0.50,"a":[1,2.0e-3]}"#
        );
    }

    #[test]
    fn compact_text_keeps_white_space_inside_strings() {
        let doc = "{ \"o\" : { \"k\" : \"a b\\\" c\\\\\" , \"n\" : null } }";
        assert_eq!(at(doc, "/o").unwrap(), r#"{"k":"a b\" c\\","n":null}"#);
        assert_eq!(at(doc, "/o/k").unwrap(), "a b\" c\\");
    }

    #[test]
    fn pointers_follow_rfc_6901() {
        let doc = r#"{"a/b": {"c~d": ["x", "y"]}, "": 1, "01": 2}"#;
        assert_eq!(at(doc, "/a~1b/c~0d/1").unwrap(), "y");
        assert_eq!(at(doc, "/").unwrap(), "1");
        assert_eq!(at(doc, "/01").unwrap(), "2");
        for nothing in [
            "/a~1b/c~0d/01",
            "/a~1b/c~0d/2",
            "/a~1b/c~0d/-",
            "/x",
            "/01/x",
        ] {
            assert_eq!(at(doc, nothing), None, "{nothing}");
        }
    }

    #[test]
    fn a_member_twice_in_any_object_is_refused() {
        for doc in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"x": [{"b": 1, "c": 2, "b": 3}]}"#,
            r#"{"x": {"y": {"z": 1, "z": 1}}}"#,
        ] {
            assert_eq!(
                Doc::parse(doc.as_bytes()).err(),
                Some(Problem::Duplicate),
                "{doc}"
            );
        }
        assert!(Doc::parse(br#"{"a": {"a": 1}, "b": [{"a": 1}, {"a": 2}]}"#).is_ok());
        assert_eq!(Doc::parse(b"{\"a\": 1,}").err(), Some(Problem::Syntax));
        assert_eq!(Doc::parse(b"not json").err(), Some(Problem::Syntax));
    }

    #[test]
    fn members_come_in_the_documents_order() {
        let doc = Doc::parse(br#"{"z": "1", "a": 2e0, "m": {"k": [] }}"#).unwrap();
        let members: Vec<(String, String)> = doc
            .members()
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, String::from_utf8(v.expose().to_vec()).unwrap()))
            .collect();
        assert_eq!(
            members,
            [
                ("z".into(), "1".into()),
                ("a".into(), "2e0".into()),
                ("m".into(), r#"{"k":[]}"#.into())
            ]
        );
        assert!(Doc::parse(b"[1]").unwrap().members().unwrap().is_none());
    }
}
