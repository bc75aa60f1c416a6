//! Pure parser for one Key Vault reference, the text between
//! `@Microsoft.KeyVault(` and `)`, in either App Service form:
//! `SecretUri=https://v.vault.azure.net/secrets/name[/version]` or
//! `VaultName=v;SecretName=name[;SecretVersion=version]`. No I/O (`config.rs`: App Configuration's).

pub(crate) mod config;
pub(crate) use config::ConfigRef;

use crate::cloud::Cloud;
use std::fmt;

/// Either kind of reference App Service resolves: what gets fetched once per
/// run and looked up when texts are rendered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Reference {
    Secret(SecretRef),
    Config(ConfigRef),
    /// An Entra token for `--token VAR=RESOURCE` (no reference text holds one).
    Token(crate::token::TokenRef),
}

/// How messages name what was asked for: "secret 'db' from v.vault.azure.net",
/// "key 'k' (no label) in store s.azconfig.io".
pub(crate) trait Named {
    fn named(&self) -> String;
    /// The host it is fetched from, as messages name it (`host[:port]`).
    fn host(&self) -> String;
}

impl Named for SecretRef {
    fn named(&self) -> String {
        format!("secret '{}' from {}", self.name, self.vault)
    }

    fn host(&self) -> String {
        self.vault.to_string()
    }
}

impl Named for crate::token::TokenRef {
    fn named(&self) -> String {
        format!("a token for {}", self.resource)
    }

    fn host(&self) -> String {
        String::new()
    }
}

impl Named for ConfigRef {
    fn named(&self) -> String {
        self.to_string()
    }

    fn host(&self) -> String {
        self.store.to_string()
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Secret(r) => r.fmt(f),
            Reference::Config(r) => r.fmt(f),
            Reference::Token(t) => t.fmt(f),
        }
    }
}

/// Where a vault or an App Configuration store lives: a lower-case host name
/// (or IP literal) and a port if the reference named one other than 443.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct HostAddr {
    pub host: String,
    pub port: Option<u16>,
}

#[cfg(test)]
impl HostAddr {
    /// A vault or store address, for tests.
    pub(crate) fn at(host: &str, port: Option<u16>) -> HostAddr {
        HostAddr {
            host: host.into(),
            port,
        }
    }
}

impl HostAddr {
    /// `https://host[:port]`
    pub(crate) fn url(&self) -> String {
        format!("https://{self}")
    }
}

impl fmt::Display for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host),
            None => f.write_str(&self.host),
        }
    }
}

/// A validated reference to one secret (and maybe one version of it).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SecretRef {
    pub vault: HostAddr,
    pub name: String,
    pub version: Option<String>,
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/secrets/{}", self.vault, self.name)?;
        if let Some(v) = &self.version {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// What is wrong with a reference. Messages name parameters, never echo values
/// beyond the short identifiers that failed validation.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RefError {
    #[error("unterminated reference: no ')' after '@Microsoft.KeyVault('")]
    Unterminated,
    #[error("empty parameter between ';' in the reference")]
    EmptyParameter,
    #[error("parameter {0} has no '=' (expected Name=value)")]
    NoEquals(String),
    #[error(
        "unknown parameter {0} (expected SecretUri, or VaultName, SecretName and SecretVersion)"
    )]
    UnknownParameter(String),
    #[error("parameter {0} is given twice")]
    Duplicate(&'static str),
    #[error("parameter {0} is empty")]
    EmptyValue(&'static str),
    #[error("SecretUri cannot be combined with VaultName, SecretName or SecretVersion")]
    UriAndName,
    #[error("the reference needs SecretUri, or VaultName and SecretName")]
    Incomplete,
    #[error("VaultName needs SecretName")]
    NoSecretName,
    #[error("SecretName needs VaultName")]
    NoVaultName,
    #[error("SecretUri must use https://, not http://")]
    Http,
    #[error("SecretUri is not an https:// URL")]
    NotHttps,
    #[error("SecretUri is not a valid URL: {0}")]
    BadUrl(String),
    #[error("SecretUri must not contain a user name, password, query or fragment")]
    UrlExtras,
    #[error("SecretUri path must be /secrets/NAME[/VERSION][/]")]
    BadPath,
    #[error("secret name must be 1-127 characters of 0-9, a-z, A-Z and '-'")]
    BadSecretName,
    #[error("secret version must be 1-64 characters of 0-9, a-z and A-Z")]
    BadVersion,
    #[error("unknown parameter {0} (expected Endpoint, Key and Label)")]
    UnknownConfigParameter(String),
    #[error("the reference needs Endpoint and Key")]
    ConfigIncomplete,
    #[error("Endpoint must use https://, not http://")]
    EndpointHttp,
    #[error("Endpoint is not an https:// URL")]
    EndpointNotHttps,
    #[error("Endpoint must be https://HOST[:PORT] with no user name, path, query or fragment")]
    EndpointExtras,
    #[error("Key must not contain '%' nor be '.' or '..' (App Configuration allows none of them)")]
    BadKey,
    #[error("Label must name one label ('*' is not one)")]
    BadLabel,
    #[error("Encode must be uri, pgpass or json")]
    BadEncoding,
    #[error("vault name must be 3-24 characters of 0-9, a-z, A-Z and '-', start with a letter and end with a letter or digit, without '--'")]
    BadVaultName,
}

/// Splits `Name=value; Name=value;` into the values of `names`, matched
/// without regard to case, with App Service's rules: spaces around names, `=`
/// and `;` ignored, a trailing `;` allowed, no duplicate, no empty value.
/// `incomplete` is the error for an empty body, `unknown` the one for a name
/// not in `names`.
fn parameters<'b, const N: usize>(
    body: &'b str,
    names: [&'static str; N],
    incomplete: RefError,
    unknown: fn(String) -> RefError,
) -> Result<[Option<&'b str>; N], RefError> {
    let mut values = [None; N];
    let pieces: Vec<&str> = body.split(';').collect();
    for (i, piece) in pieces.iter().enumerate() {
        let piece = piece.trim();
        if piece.is_empty() {
            if i + 1 == pieces.len() && i > 0 {
                continue; // a trailing ';'
            }
            return Err(if pieces.len() == 1 {
                incomplete
            } else {
                RefError::EmptyParameter
            });
        }
        let Some((key, value)) = piece.split_once('=') else {
            return Err(RefError::NoEquals(short(piece)));
        };
        let (key, value) = (key.trim(), value.trim());
        let Some(slot) = names.iter().position(|n| n.eq_ignore_ascii_case(key)) else {
            return Err(unknown(short(key)));
        };
        if values[slot].is_some() {
            return Err(RefError::Duplicate(names[slot]));
        }
        if value.is_empty() {
            return Err(RefError::EmptyValue(names[slot]));
        }
        values[slot] = Some(value);
    }
    Ok(values)
}

/// Parses the inside of `@Microsoft.KeyVault(...)`.
pub(crate) fn parse(body: &str, cloud: Cloud) -> Result<SecretRef, RefError> {
    let [uri, vault, name, version] = parameters(
        body,
        ["SecretUri", "VaultName", "SecretName", "SecretVersion"],
        RefError::Incomplete,
        RefError::UnknownParameter,
    )?;
    match (uri, vault, name, version) {
        (Some(uri), None, None, None) => parse_uri(uri),
        (Some(_), _, _, _) => Err(RefError::UriAndName),
        (None, Some(vault), Some(name), version) => Ok(SecretRef {
            vault: HostAddr {
                host: format!("{}.{}", vault_name(vault)?, cloud.vault_suffix()),
                port: None,
            },
            name: secret_name(name)?,
            version: version.map(secret_version).transpose()?,
        }),
        (None, Some(_), None, _) => Err(RefError::NoSecretName),
        (None, None, Some(_), _) => Err(RefError::NoVaultName),
        (None, None, None, _) => Err(RefError::Incomplete),
    }
}

/// A `SecretUri` (also what an App Configuration Key Vault reference holds).
pub(crate) fn parse_uri(uri: &str) -> Result<SecretRef, RefError> {
    let lower = uri.to_ascii_lowercase();
    if lower.starts_with("http://") {
        return Err(RefError::Http);
    }
    if !lower.starts_with("https://") {
        return Err(RefError::NotHttps);
    }
    let url = url::Url::parse(uri).map_err(|e| RefError::BadUrl(e.to_string()))?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(RefError::UrlExtras);
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| RefError::BadUrl("no host".into()))?;
    let segments: Vec<&str> = url.path().trim_start_matches('/').split('/').collect();
    let (name, version) = match segments.as_slice() {
        ["secrets", name] | ["secrets", name, ""] => (*name, None),
        ["secrets", name, version] | ["secrets", name, version, ""] if !version.is_empty() => {
            (*name, Some(*version))
        }
        _ => return Err(RefError::BadPath),
    };
    Ok(SecretRef {
        vault: HostAddr {
            host: host.to_string(),
            port: url.port(),
        },
        name: secret_name(name)?,
        version: version.map(secret_version).transpose()?,
    })
}

fn secret_name(name: &str) -> Result<String, RefError> {
    let ok = (1..=127).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| name.to_string()).ok_or(RefError::BadSecretName)
}

fn secret_version(version: &str) -> Result<String, RefError> {
    let ok =
        (1..=64).contains(&version.len()) && version.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then(|| version.to_string()).ok_or(RefError::BadVersion)
}

fn vault_name(name: &str) -> Result<String, RefError> {
    let b = name.as_bytes();
    let ok = (3..=24).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        && b[0].is_ascii_alphabetic()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && !name.contains("--");
    ok.then(|| name.to_ascii_lowercase())
        .ok_or(RefError::BadVaultName)
}

/// Keeps an offending token short and printable in an error message.
fn short(text: &str) -> String {
    let clean: String = text.chars().filter(|c| !c.is_control()).take(40).collect();
    format!("'{clean}'")
}

#[cfg(test)]
mod tests;
