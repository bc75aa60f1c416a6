//! The certificates: which one is the leaf (the one holding the private
//! key's public half, or else the one that issued none of the others), and
//! the chain from it, each certificate followed by its issuer, matched by
//! authority and subject key identifiers, then by names, and the rest in the
//! order they were stored.

use super::key::{unsigned, Public};
use super::Problem;
use x509_parser::extensions::ParsedExtension;
use x509_parser::public_key::PublicKey;

/// What ordering needs from one certificate.
pub(super) struct Facts {
    subject: Vec<u8>,
    issuer: Vec<u8>,
    ski: Option<Vec<u8>>,
    aki: Option<Vec<u8>>,
    ca: bool,
    public: Option<Public>,
    /// The subject as text (`CN=..., O=...`), for `check`.
    pub subject_text: String,
    /// Validity, in seconds since the epoch.
    pub not_before: i64,
    pub not_after: i64,
}

/// Reads one DER certificate.
pub(super) fn facts(der: &[u8]) -> Result<Facts, Problem> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|_| {
        Problem::NotACertificate("a certificate in it cannot be read as X.509".into())
    })?;
    let (mut ski, mut aki) = (None, None);
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => ski = Some(id.0.to_vec()),
            ParsedExtension::AuthorityKeyIdentifier(a) => {
                aki = a.key_identifier.as_ref().map(|id| id.0.to_vec())
            }
            _ => {}
        }
    }
    let public = match cert.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => Some(Public::Rsa(unsigned(rsa.modulus), unsigned(rsa.exponent))),
        Ok(PublicKey::EC(point)) => Some(Public::Ec(point.data().to_vec())),
        _ => None,
    };
    Ok(Facts {
        subject: cert.subject().as_raw().to_vec(),
        issuer: cert.issuer().as_raw().to_vec(),
        ski,
        aki,
        ca: cert.is_ca(),
        public,
        subject_text: cert.subject().to_string(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// Whether `parent` issued `child`: by key identifiers when both have
/// them, else by names.
fn issued(parent: &Facts, child: &Facts) -> bool {
    match (&child.aki, &parent.ski) {
        (Some(aki), Some(ski)) => aki == ski,
        _ => child.issuer == parent.subject,
    }
}

fn self_issued(c: &Facts) -> bool {
    c.issuer == c.subject && c.aki.as_ref().is_none_or(|aki| Some(aki) == c.ski.as_ref())
}

/// The order to write `certs` in: the leaf first, then each issuer, then
/// whatever is left in the stored order. `key`: the private key's public
/// half, when there is a key and it says it.
pub(super) fn order(
    certs: &[Facts],
    key: Option<&Public>,
    has_key: bool,
) -> Result<Vec<usize>, Problem> {
    if certs.is_empty() {
        return Err(Problem::NoLeaf("it holds no certificate".into()));
    }
    let leaf = match key {
        Some(public) => certs
            .iter()
            .position(|c| c.public.as_ref() == Some(public))
            .ok_or_else(|| {
                Problem::NoLeaf("no certificate in it holds the private key's public key".into())
            })?,
        None => {
            // The certificates that issued none of the others; a CA is a
            // leaf only when the key says so.
            let issues_none = |i: usize| {
                !certs
                    .iter()
                    .enumerate()
                    .any(|(j, other)| j != i && !self_issued(other) && issued(&certs[i], other))
            };
            let candidates: Vec<usize> = (0..certs.len()).filter(|i| issues_none(*i)).collect();
            match candidates.iter().find(|i| !certs[**i].ca) {
                Some(i) => *i,
                None if has_key && candidates.len() == 1 => candidates[0],
                None => {
                    return Err(Problem::NoLeaf(
                        "every certificate in it is a certificate authority's".into(),
                    ))
                }
            }
        }
    };
    let mut chain = vec![leaf];
    let mut current = leaf;
    while !self_issued(&certs[current]) {
        let next =
            (0..certs.len()).find(|j| !chain.contains(j) && issued(&certs[*j], &certs[current]));
        let Some(next) = next else { break };
        chain.push(next);
        current = next;
    }
    chain.extend(
        (0..certs.len())
            .filter(|i| !chain.contains(i))
            .collect::<Vec<_>>(),
    );
    Ok(chain)
}
