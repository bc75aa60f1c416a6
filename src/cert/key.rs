//! The private key: made PKCS#8 whatever form it came in (PKCS#8 as is,
//! PKCS#1 `RSA PRIVATE KEY` and SEC1 `EC PRIVATE KEY` wrapped), checked to
//! be RSA or EC on P-256, P-384 or P-521, and its public half read out, so
//! that the certificate holding it is known to be the leaf.

use super::Problem;
use crate::secret::SecretBytes;
use pkcs8::der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use pkcs8::der::Encode;
use pkcs8::{AlgorithmIdentifierRef, PrivateKeyInfoRef};

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const CURVES: [(ObjectIdentifier, &str); 3] = [
    (ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7"), "P-256"),
    (ObjectIdentifier::new_unwrap("1.3.132.0.34"), "P-384"),
    (ObjectIdentifier::new_unwrap("1.3.132.0.35"), "P-521"),
];

/// What identifies a key's public half: RSA's modulus and exponent (without
/// leading zeros), or an EC point as encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Public {
    Rsa(Vec<u8>, Vec<u8>),
    Ec(Vec<u8>),
}

/// A PKCS#8 key kvenv can hand on, and its public half when the key says it.
pub(super) struct Key {
    pub pkcs8: SecretBytes,
    pub public: Option<Public>,
}

/// A PEM key block (`label`, DER body) as PKCS#8.
pub(super) fn from_pem(label: &str, der: &[u8]) -> Result<Key, Problem> {
    match label {
        "PRIVATE KEY" => from_pkcs8(der),
        "RSA PRIVATE KEY" => from_pkcs8(&wrap(RSA, Some(AnyRef::NULL), der)?),
        "EC PRIVATE KEY" => {
            let curve = sec1_curve(der).ok_or_else(|| {
                Problem::NotACertificate("its EC PRIVATE KEY names no curve".into())
            })?;
            let params = AnyRef::from(&curve);
            from_pkcs8(&wrap(EC, Some(params), der)?)
        }
        _ => Err(Problem::NotACertificate(format!(
            "it holds a '{label}' block, which is no key kvenv reads"
        ))),
    }
}

/// A PKCS#8 `PrivateKeyInfo`, checked.
pub(super) fn from_pkcs8(der: &[u8]) -> Result<Key, Problem> {
    let info = PrivateKeyInfoRef::try_from(der)
        .map_err(|_| Problem::NotACertificate("its private key is not PKCS#8".into()))?;
    let inner = info.private_key.as_bytes();
    let unreadable =
        |what: &str| Problem::NotACertificate(format!("its {what} private key cannot be read"));
    let public = match info.algorithm.oid {
        RSA => Some(rsa_public(inner).ok_or_else(|| unreadable("RSA"))?),
        EC => {
            let curve = info
                .algorithm
                .parameters
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            if !CURVES.iter().any(|(oid, _)| Some(*oid) == curve) {
                return Err(Problem::UnsupportedKey(match curve {
                    Some(oid) => format!("an EC key on curve {oid}"),
                    None => "an EC key that names no curve".into(),
                }));
            }
            match sequence(inner).as_deref() {
                Some([(0x02, [1]), (0x04, _), ..]) => {}
                _ => return Err(unreadable("EC")),
            }
            sec1_public(inner).or_else(|| {
                info.public_key
                    .and_then(|b| b.as_bytes())
                    .map(|b| Public::Ec(b.to_vec()))
            })
        }
        other => {
            return Err(Problem::UnsupportedKey(format!(
                "a key of algorithm {other}"
            )))
        }
    };
    Ok(Key {
        pkcs8: SecretBytes::new(der.to_vec()),
        public,
    })
}

/// `inner` wrapped in a `PrivateKeyInfo` for `algorithm`.
fn wrap(
    algorithm: ObjectIdentifier,
    parameters: Option<AnyRef<'_>>,
    inner: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>, Problem> {
    let bad = || Problem::NotACertificate("its private key cannot be read".into());
    let info = PrivateKeyInfoRef::new(
        AlgorithmIdentifierRef {
            oid: algorithm,
            parameters,
        },
        OctetStringRef::new(inner).map_err(|_| bad())?,
    );
    info.to_der()
        .map(zeroize::Zeroizing::new)
        .map_err(|_| bad())
}

/// One DER element: its tag, its content and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81..=0x84 => {
            let n = usize::from(first & 0x7f);
            let (bytes, rest) = (rest.get(..n)?, rest.get(n..)?);
            (
                bytes
                    .iter()
                    .fold(0usize, |acc, b| (acc << 8) | usize::from(*b)),
                rest,
            )
        }
        _ => return None,
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// The elements of a SEQUENCE's content.
fn elements(mut content: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    while let Some((tag, value, rest)) = tlv(content) {
        out.push((tag, value));
        content = rest;
    }
    out
}

fn sequence(der: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    match tlv(der)? {
        (0x30, content, _) => Some(elements(content)),
        _ => None,
    }
}

/// An INTEGER's magnitude without leading zero bytes.
pub(super) fn unsigned(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes[skip..].to_vec()
}

/// PKCS#1 `RSAPrivateKey`: version, modulus, public exponent, ...
fn rsa_public(inner: &[u8]) -> Option<Public> {
    match sequence(inner)?.as_slice() {
        [(0x02, _), (0x02, n), (0x02, e), ..] => Some(Public::Rsa(unsigned(n), unsigned(e))),
        _ => None,
    }
}

/// SEC1 `ECPrivateKey`: version, key, `[0]` curve, `[1]` public key (a BIT STRING).
fn sec1_public(inner: &[u8]) -> Option<Public> {
    let fields = sequence(inner)?;
    let (_, tagged) = fields.iter().find(|(tag, _)| *tag == 0xa1)?;
    match tlv(tagged)? {
        (0x03, [0, point @ ..], _) => Some(Public::Ec(point.to_vec())),
        _ => None,
    }
}

fn sec1_curve(inner: &[u8]) -> Option<ObjectIdentifier> {
    let fields = sequence(inner)?;
    let (_, tagged) = fields.iter().find(|(tag, _)| *tag == 0xa0)?;
    match tlv(tagged)? {
        (0x06, _, _) => ObjectIdentifier::from_der(tagged).ok(),
        _ => None,
    }
}

use pkcs8::der::Decode;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_der_is_refused_without_a_panic() {
        for bad in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"\x30\x80",
            b"\x30\x02\x02",
        ] {
            assert!(from_pkcs8(bad).is_err());
            assert!(rsa_public(bad).is_none() && sec1_public(bad).is_none());
            assert!(from_pem("EC PRIVATE KEY", bad).is_err());
            assert!(from_pem("RSA PRIVATE KEY", bad).is_err());
        }
        assert!(from_pem("DSA PRIVATE KEY", b"").is_err());
    }
}
