use super::*;
use kvenv_testkit::{KeyKind, TestChain, Which};

fn pem_of(part: Part, cert: &Certificate) -> String {
    String::from_utf8(cert.part(part).unwrap().expose().to_vec()).unwrap()
}

#[test]
fn the_leaf_is_found_by_its_key_then_by_what_issued_what() {
    let chain = TestChain::new(KeyKind::P256, 10);
    let order = [Which::Intermediate, Which::Root, Which::Leaf];
    // With the key: the certificate holding it, whatever the order.
    let with_key = read(chain.pem(&order, true).as_bytes(), None).unwrap();
    assert_eq!(
        with_key.chain,
        [
            chain.leaf_der.clone(),
            chain.intermediate_der.clone(),
            chain.root_der.clone()
        ]
    );
    // Without it: the one that issued none of the others.
    let without = read(
        chain.pem(&order, false).as_bytes(),
        Some("application/x-pem-file"),
    )
    .unwrap();
    assert_eq!(without.chain[0], chain.leaf_der);
    assert!(matches!(without.part(Part::Key), Err(Problem::NoKey)));
    assert!(pem_of(Part::Fullchain, &without).starts_with("-----BEGIN CERTIFICATE-----\n"));
    // Only authorities and no key: no leaf.
    let cas = read(
        chain
            .pem(&[Which::Root, Which::Intermediate], false)
            .as_bytes(),
        None,
    );
    assert!(matches!(cas, Err(Problem::NoLeaf(_))));
}

#[test]
fn a_pem_key_in_pkcs1_or_sec1_comes_out_as_pkcs8() {
    for kind in [KeyKind::Rsa, KeyKind::P384] {
        let chain = TestChain::new(kind, 10);
        let info = PrivateKeyInfoDer(&chain.key_der);
        let (label, inner) = info.inner(kind);
        let mut legacy = SecretBytes::with_capacity(pem::len(label, &inner));
        pem::push(&mut legacy, label, &inner);
        let text = format!(
            "{}{}",
            String::from_utf8(legacy.expose().to_vec()).unwrap(),
            chain.leaf_pem
        );
        let cert = read(text.as_bytes(), None).unwrap();
        let key = pem::blocks(cert.part(Part::Key).unwrap().expose()).unwrap();
        assert_eq!(key[0].label, "PRIVATE KEY");
        // The same key: the leaf was found by it.
        assert_eq!(cert.chain, std::slice::from_ref(&chain.leaf_der));
    }
}

/// The inner key of a PKCS#8 document, as PKCS#1 or SEC1 would hold it.
struct PrivateKeyInfoDer<'a>(&'a [u8]);

impl PrivateKeyInfoDer<'_> {
    fn inner(&self, kind: KeyKind) -> (&'static str, Vec<u8>) {
        let info = pkcs8::PrivateKeyInfoRef::try_from(self.0).unwrap();
        let inner = info.private_key.as_bytes().to_vec();
        match kind {
            KeyKind::Rsa => ("RSA PRIVATE KEY", inner),
            // SEC1 with the curve named ([0] OID P-384), as `openssl ec` writes it.
            _ => {
                let header = match inner[1] {
                    n if n < 0x80 => 2,
                    n => 2 + usize::from(n & 0x7f),
                };
                // version, key, then [0] P-384 before [1] the public key.
                let fields = &inner[header..];
                let (version_and_key, public) = fields.split_at(3 + 2 + usize::from(fields[4]));
                let mut content = version_and_key.to_vec();
                content.extend_from_slice(&[0xa0, 0x07, 0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22]);
                content.extend_from_slice(public);
                let mut sec1 = vec![0x30, 0x81, u8::try_from(content.len()).unwrap()];
                sec1.extend(content);
                ("EC PRIVATE KEY", sec1)
            }
        }
    }
}

#[test]
fn what_is_not_a_certificate_is_refused_by_kind() {
    for (value, ct) in [
        (&b"hunter2"[..], None),
        (b"hunter2", Some("application/x-pkcs12")),
        (b"aGVsbG8gd29ybGQ=", None),
        (b"-----BEGIN CERTIFICATE-----\nAAAA\n", None),
        (
            b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
            None,
        ),
    ] {
        assert!(
            matches!(read(value, ct), Err(Problem::NotACertificate(_))),
            "{:?}",
            String::from_utf8_lossy(value)
        );
    }
    assert!(matches!(
        read(
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n",
            None
        ),
        Err(Problem::Encrypted)
    ));
    let chain = TestChain::new(KeyKind::P256, 10);
    let locked = chain.pfx(&[Which::Leaf], true, "pw", false);
    let text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, locked);
    assert!(matches!(
        read(text.as_bytes(), None),
        Err(Problem::Encrypted)
    ));
}

proptest::proptest! {
    #[test]
    fn any_bytes_are_read_or_refused_without_a_panic(
        value in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
        pkcs12 in proptest::bool::ANY,
    ) {
        let ct = if pkcs12 { Some("application/x-pkcs12") } else { None };
        let _ = read(&value, ct);
        let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
        pem.extend(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &value).into_bytes());
        pem.extend(b"\n-----END CERTIFICATE-----\n");
        let _ = read(&pem, None);
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &value);
        let _ = read(b64.as_bytes(), Some("application/x-pkcs12"));
    }
}

#[test]
fn a_damaged_pkcs12_or_pem_is_refused_without_a_panic() {
    let chain = TestChain::new(KeyKind::P256, 10);
    let pfx = chain.pfx(&[Which::Leaf, Which::Root], true, "", true);
    let pem = chain
        .pem(&[Which::Leaf, Which::Intermediate], true)
        .into_bytes();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..300 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut damaged = pfx.clone();
        let at = (seed as usize) % damaged.len();
        damaged[at] ^= (seed >> 32) as u8 | 1;
        damaged.truncate(damaged.len() - (seed as usize >> 40) % 8);
        let text = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &damaged);
        let _ = read(text.as_bytes(), Some("application/x-pkcs12"));
        let mut bad_pem = pem.clone();
        let at = (seed as usize >> 3) % bad_pem.len();
        bad_pem[at] = (seed >> 24) as u8;
        let _ = read(&bad_pem, None);
    }
}
