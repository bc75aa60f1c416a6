//! Test certificates as Key Vault holds them: a root, an intermediate and a
//! leaf (RSA or EC), each with subject and authority key identifiers, written
//! as PEM or as a password-less PKCS#12 in any order, with or without the key.

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
use std::net::{IpAddr, Ipv4Addr};

/// A fixed RSA key: ring (rcgen's signer) cannot generate RSA keys.
const RSA_KEY: &str = include_str!("../fixtures/rsa-2048.pk8.pem");

/// The leaf's key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    P256,
    P384,
}

/// One of the three certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Root,
    Intermediate,
    Leaf,
}

/// A root, an intermediate and a leaf for `localhost` and 127.0.0.1.
pub struct TestChain {
    pub root_der: Vec<u8>,
    pub intermediate_der: Vec<u8>,
    pub leaf_der: Vec<u8>,
    /// The leaf's key as PKCS#8 DER.
    pub key_der: Vec<u8>,
    pub root_pem: String,
    pub leaf_pem: String,
    pub intermediate_pem: String,
    pub key_pem: String,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.use_authority_key_identifier_extension = true;
    params
}

impl TestChain {
    /// A chain whose leaf is valid from a year ago for `leaf_days` more days
    /// (negative: already expired).
    pub fn new(kind: KeyKind, leaf_days: i64) -> TestChain {
        let root_key = KeyPair::generate().expect("root key");
        let root_params = ca_params("kvenv test root");
        let root = root_params.self_signed(&root_key).expect("root");
        let root_issuer = Issuer::new(root_params, root_key);
        let mid_key =
            KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("intermediate key");
        let mid_params = ca_params("kvenv test intermediate");
        let mid = mid_params
            .signed_by(&mid_key, &root_issuer)
            .expect("intermediate");
        let mid_issuer = Issuer::new(mid_params, mid_key);
        let leaf_key = match kind {
            KeyKind::Rsa => KeyPair::from_pem(RSA_KEY).expect("RSA key"),
            KeyKind::P256 => {
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("P-256 key")
            }
            KeyKind::P384 => {
                KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).expect("P-384 key")
            }
        };
        let mut leaf_params = CertificateParams::new(vec!["localhost".to_string()]).expect("names");
        leaf_params
            .distinguished_name
            .push(DnType::CommonName, "kvenv test leaf");
        leaf_params
            .subject_alt_names
            .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        leaf_params.use_authority_key_identifier_extension = true;
        let now = time::OffsetDateTime::now_utc();
        leaf_params.not_before = now - time::Duration::days(365);
        leaf_params.not_after = now + time::Duration::days(leaf_days);
        let leaf = leaf_params.signed_by(&leaf_key, &mid_issuer).expect("leaf");
        TestChain {
            root_der: root.der().to_vec(),
            intermediate_der: mid.der().to_vec(),
            leaf_der: leaf.der().to_vec(),
            key_der: leaf_key.serialize_der(),
            root_pem: root.pem(),
            intermediate_pem: mid.pem(),
            leaf_pem: leaf.pem(),
            key_pem: leaf_key.serialize_pem(),
        }
    }

    fn der(&self, which: Which) -> &[u8] {
        match which {
            Which::Root => &self.root_der,
            Which::Intermediate => &self.intermediate_der,
            Which::Leaf => &self.leaf_der,
        }
    }

    fn pem_of(&self, which: Which) -> &str {
        match which {
            Which::Root => &self.root_pem,
            Which::Intermediate => &self.intermediate_pem,
            Which::Leaf => &self.leaf_pem,
        }
    }

    /// PEM text as Key Vault stores it: the key (when `with_key`) first,
    /// then the certificates in `order`.
    pub fn pem(&self, order: &[Which], with_key: bool) -> String {
        let mut text = String::new();
        if with_key {
            text.push_str(&self.key_pem);
        }
        for which in order {
            text.push_str(self.pem_of(*which));
        }
        text
    }

    /// A PKCS#12 with the certificates in `order` and (when `with_key`) the
    /// key, encrypted with `password` ("" for Key Vault's password-less
    /// ones) using `legacy` SHA-1/3DES as Key Vault and Windows write, or
    /// PBES2/AES-256.
    pub fn pfx(&self, order: &[Which], with_key: bool, password: &str, legacy: bool) -> Vec<u8> {
        let certs: Vec<Certificate> = order
            .iter()
            .map(|w| Certificate::from_der(self.der(*w)).expect("certificate"))
            .collect();
        let mut store = KeyStore::new();
        if with_key {
            let key = PrivateKey::from_der(&self.key_der).expect("key");
            let chain = PrivateKeyChain::new(b"leaf".to_vec(), key, certs);
            store.add_entry("leaf", KeyStoreEntry::PrivateKeyChain(chain));
        } else {
            for (i, cert) in certs.into_iter().enumerate() {
                store.add_entry(&format!("cert{i}"), KeyStoreEntry::Certificate(cert));
            }
        }
        let mut writer = store.writer(password);
        if legacy {
            writer = writer
                .encryption_algorithm(
                    p12_keystore::EncryptionAlgorithm::PbeWithShaAnd3KeyTripleDesCbc,
                )
                .mac_algorithm(p12_keystore::MacAlgorithm::HmacSha1);
        }
        writer.write().expect("PKCS#12")
    }
}
