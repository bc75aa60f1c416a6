//! `--cert VAR=PART`: a Key Vault certificate's secret (base64 of a
//! password-less PKCS#12, or PEM text), read as `contentType` says (or, when
//! it says nothing kvenv knows, as the content shows), and written as the
//! PART a server reads: the key as PKCS#8, the leaf, the chain leaf first,
//! key and chain in one file, or the PKCS#12 itself.

mod chain;
mod key;
mod pem;
mod problem;

pub(crate) use problem::Problem;

use crate::error::Status;
use crate::secret::SecretBytes;

/// What `--cert` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Part {
    Key,
    Cert,
    Fullchain,
    Bundle,
    Pfx,
}

impl Part {
    const ALL: [(&'static str, Part); 5] = [
        ("key", Part::Key),
        ("cert", Part::Cert),
        ("fullchain", Part::Fullchain),
        ("bundle", Part::Bundle),
        ("pfx", Part::Pfx),
    ];

    /// Whether the part holds the private key.
    fn has_key(self) -> bool {
        matches!(self, Part::Key | Part::Bundle | Part::Pfx)
    }
}

impl std::str::FromStr for Part {
    type Err = ();

    /// A part's name as `--cert VAR=PART` takes it (any case).
    fn from_str(name: &str) -> Result<Part, ()> {
        Part::ALL
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, p)| *p)
            .ok_or(())
    }
}

/// A certificate as read: its key (PKCS#8), its certificates (DER) in the
/// order to write them, and the PKCS#12 it came as.
pub(crate) struct Certificate {
    key: Option<SecretBytes>,
    chain: Vec<Vec<u8>>,
    pfx: Option<SecretBytes>,
    /// The leaf's subject and validity (seconds since the epoch).
    pub subject: String,
    pub not_before: i64,
    pub not_after: i64,
}

/// What `check` shows of a certificate: its leaf's subject, when it
/// expires (RFC 3339) and the whole days left until then.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Summary {
    pub subject: String,
    pub not_after: String,
    pub days_left: i64,
}

const PKCS12: &str = "application/x-pkcs12";
const PEM: &str = "application/x-pem-file";

/// Reads a certificate's secret `value`; `content_type` is what the vault said.
pub(crate) fn read(value: &[u8], content_type: Option<&str>) -> Result<Certificate, Problem> {
    let said = content_type.map(|ct| {
        ct.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase()
    });
    let pkcs12 = match said.as_deref() {
        Some(PKCS12) => true,
        Some(PEM) => false,
        // Absent or another type (an App Service certificate has none): the content decides.
        _ => !pem::looks_like_pem(value),
    };
    if pkcs12 {
        let der = decode_base64(value).ok_or_else(|| {
            Problem::NotACertificate("it is neither PEM nor base64 of a PKCS#12".into())
        })?;
        from_pkcs12(der)
    } else {
        from_pem(value)
    }
}

/// Base64 (standard alphabet) with any white space, into a wiped buffer.
fn decode_base64(value: &[u8]) -> Option<SecretBytes> {
    crate::decode::Decoding::Base64.decode(value)
}

fn from_pkcs12(der: SecretBytes) -> Result<Certificate, Problem> {
    use p12_keystore::error::Error as P12;
    let archive = match p12_keystore::Pkcs12Archive::from_pkcs12(der.expose(), "") {
        Ok(archive) => archive,
        Err(P12::MacError(_) | P12::UnpadError) => return Err(Problem::Encrypted),
        Err(_) => {
            return Err(Problem::NotACertificate(
                "it is base64, but not of a PKCS#12 kvenv can read".into(),
            ))
        }
    };
    let certs: Vec<Vec<u8>> = archive
        .certs
        .iter()
        .map(|c| c.cert.as_der().to_vec())
        .collect();
    let keys = archive
        .keys
        .iter()
        .map(|k| key::from_pkcs8(k.key.as_der()))
        .collect::<Result<Vec<_>, _>>()?;
    assemble(keys, certs, Some(der))
}

fn from_pem(value: &[u8]) -> Result<Certificate, Problem> {
    let blocks = pem::blocks(value).ok_or_else(|| {
        Problem::NotACertificate(
            "its PEM is broken (a block does not close, or is not base64)".into(),
        )
    })?;
    if blocks.is_empty() {
        return Err(Problem::NotACertificate("it holds no PEM block".into()));
    }
    let (mut keys, mut certs) = (Vec::new(), Vec::new());
    for block in blocks {
        match block.label.as_str() {
            "CERTIFICATE" | "TRUSTED CERTIFICATE" | "X509 CERTIFICATE" => {
                certs.push(block.der.to_vec())
            }
            "ENCRYPTED PRIVATE KEY" => return Err(Problem::Encrypted),
            label if label.ends_with("PRIVATE KEY") && block.headers => {
                return Err(Problem::Encrypted)
            }
            label if label.ends_with("PRIVATE KEY") => keys.push(key::from_pem(label, &block.der)?),
            // EC PARAMETERS and the like say nothing kvenv writes.
            _ => {}
        }
    }
    assemble(keys, certs, None)
}

/// Picks the key that belongs to a certificate and orders the chain.
fn assemble(
    keys: Vec<key::Key>,
    certs: Vec<Vec<u8>>,
    pfx: Option<SecretBytes>,
) -> Result<Certificate, Problem> {
    let facts = certs
        .iter()
        .map(|c| chain::facts(c))
        .collect::<Result<Vec<_>, _>>()?;
    let mut keys = keys.into_iter();
    let key = keys.next();
    let order = chain::order(
        &facts,
        key.as_ref().and_then(|k| k.public.as_ref()),
        key.is_some(),
    )?;
    let leaf = &facts[order[0]];
    let (subject, not_before, not_after) =
        (leaf.subject_text.clone(), leaf.not_before, leaf.not_after);
    let mut certs: Vec<Option<Vec<u8>>> = certs.into_iter().map(Some).collect();
    Ok(Certificate {
        key: key.map(|k| k.pkcs8),
        chain: order.iter().filter_map(|i| certs[*i].take()).collect(),
        pfx,
        subject,
        not_before,
        not_after,
    })
}

impl Certificate {
    /// Why the leaf is not valid at `now`, if it is not.
    pub(crate) fn invalid_at(
        &self,
        now: azure_core::time::OffsetDateTime,
    ) -> Option<(Status, String)> {
        let now = now.unix_timestamp();
        if self.not_after < now {
            Some((
                Status::SecretExpired,
                format!("expired {} (notAfter)", rfc3339(self.not_after)),
            ))
        } else if self.not_before > now {
            Some((
                Status::SecretNotYetValid,
                format!(
                    "is not valid before {} (notBefore)",
                    rfc3339(self.not_before)
                ),
            ))
        } else {
            None
        }
    }

    /// The leaf as `check` shows it, with the days left from `now`
    /// (negative once past).
    pub(crate) fn summary(&self, now: azure_core::time::OffsetDateTime) -> Summary {
        Summary {
            subject: crate::error::printable(&self.subject),
            not_after: rfc3339(self.not_after),
            days_left: (self.not_after - now.unix_timestamp()).div_euclid(86_400),
        }
    }

    /// The file `part` is.
    pub(crate) fn part(&self, part: Part) -> Result<SecretBytes, Problem> {
        if part.has_key() && self.key.is_none() {
            return Err(Problem::NoKey);
        }
        let key = self.key.as_ref().map(|k| k.expose()).unwrap_or_default();
        let certs: &[Vec<u8>] = match part {
            Part::Cert => &self.chain[..1],
            _ => &self.chain,
        };
        match part {
            Part::Pfx => return self.pfx(),
            Part::Key => {
                let mut out = SecretBytes::with_capacity(pem::len("PRIVATE KEY", key));
                pem::push(&mut out, "PRIVATE KEY", key);
                return Ok(out);
            }
            _ => {}
        }
        let with_key = part == Part::Bundle;
        let size = certs
            .iter()
            .map(|c| pem::len("CERTIFICATE", c))
            .sum::<usize>()
            + if with_key {
                pem::len("PRIVATE KEY", key)
            } else {
                0
            };
        let mut out = SecretBytes::with_capacity(size);
        if with_key {
            pem::push(&mut out, "PRIVATE KEY", key);
        }
        for c in certs {
            pem::push(&mut out, "CERTIFICATE", c);
        }
        Ok(out)
    }

    /// The PKCS#12 as stored, or one written from PEM: password-less, as
    /// Key Vault's own.
    fn pfx(&self) -> Result<SecretBytes, Problem> {
        if let Some(pfx) = &self.pfx {
            return Ok(SecretBytes::new(pfx.expose().to_vec()));
        }
        let unwritable = || Problem::NotACertificate("it cannot be written as PKCS#12".into());
        let key = p12_keystore::PrivateKey::from_der(
            self.key.as_ref().map(|k| k.expose()).unwrap_or_default(),
        )
        .map_err(|_| unwritable())?;
        let certs = self
            .chain
            .iter()
            .map(|c| p12_keystore::Certificate::from_der(c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| unwritable())?;
        let mut store = p12_keystore::KeyStore::new();
        let chain = p12_keystore::PrivateKeyChain::new(b"kvenv".to_vec(), key, certs);
        store.add_entry("kvenv", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
        store
            .writer("")
            .write()
            .map(SecretBytes::new)
            .map_err(|_| unwritable())
    }
}

/// Seconds since the epoch as RFC 3339.
pub(crate) fn rfc3339(seconds: i64) -> String {
    azure_core::time::OffsetDateTime::from_unix_timestamp(seconds)
        .map(|t| azure_core::time::to_rfc3339(&t))
        .unwrap_or_else(|_| seconds.to_string())
}

#[cfg(test)]
mod tests;
