//! Pure parser for one App Configuration reference, the text between
//! `@Microsoft.AppConfiguration(` and `)`: `Endpoint=https://store.azconfig.io;
//! Key=name[; Label=label]`, with App Service's rules (names case-insensitive,
//! spaces around names, `=` and `;` ignored, a trailing `;` allowed). No I/O.

use super::{HostAddr, RefError};
use std::fmt;

/// A validated reference to one key-value of an App Configuration store.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ConfigRef {
    /// The store's `https://` endpoint, as host and port.
    pub store: HostAddr,
    pub key: String,
    /// `None`: the null label (a key-value without a label), as App Service reads it.
    pub label: Option<String>,
}

impl fmt::Display for ConfigRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key '{}'", self.key)?;
        match &self.label {
            Some(label) => write!(f, " (label '{label}')")?,
            None => f.write_str(" (no label)")?,
        }
        write!(f, " in store {}", self.store)
    }
}

/// Parses the inside of `@Microsoft.AppConfiguration(...)`.
pub(crate) fn parse(body: &str) -> Result<ConfigRef, RefError> {
    let [endpoint, key, label] = super::parameters(
        body,
        ["Endpoint", "Key", "Label"],
        RefError::ConfigIncomplete,
        RefError::UnknownConfigParameter,
    )?;
    let (Some(endpoint), Some(key)) = (endpoint, key) else {
        return Err(RefError::ConfigIncomplete);
    };
    // App Configuration allows neither; `.` and `..` would also be taken as
    // path steps by any URL library (`GET /kv`, the store's list endpoint).
    if key.contains('%') || key == "." || key == ".." {
        return Err(RefError::BadKey);
    }
    if let Some(label) = label {
        if label.contains('*') {
            return Err(RefError::BadLabel);
        }
    }
    Ok(ConfigRef {
        store: store(endpoint)?,
        key: key.to_string(),
        label: label.map(str::to_string),
    })
}

/// `https://host[:port][/]`, nothing else.
fn store(endpoint: &str) -> Result<HostAddr, RefError> {
    let lower = endpoint.to_ascii_lowercase();
    if lower.starts_with("http://") {
        return Err(RefError::EndpointHttp);
    }
    if !lower.starts_with("https://") {
        return Err(RefError::EndpointNotHttps);
    }
    let url = url::Url::parse(endpoint).map_err(|e| RefError::BadUrl(e.to_string()))?;
    let extras = !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || !matches!(url.path(), "" | "/");
    if extras {
        return Err(RefError::EndpointExtras);
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| RefError::BadUrl("no host".into()))?;
    Ok(HostAddr {
        host: host.to_string(),
        port: url.port(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(body: &str) -> ConfigRef {
        parse(body).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    #[test]
    fn app_service_documentation_example() {
        let r = ok("Endpoint=https://mystore.azconfig.io; Key=myAppConfigKey; Label=myKeysLabel");
        assert_eq!(r.store.host, "mystore.azconfig.io");
        assert_eq!(r.key, "myAppConfigKey");
        assert_eq!(r.label.as_deref(), Some("myKeysLabel"));
    }

    #[test]
    fn names_are_case_insensitive_spaces_are_ignored_and_the_label_is_optional() {
        let r = ok("  ENDPOINT = https://s.azconfig.io/ ;key= App:Db/Password ;");
        assert_eq!(r.key, "App:Db/Password");
        assert_eq!(r.label, None);
        let r = ok("Endpoint=https://127.0.0.1:8443;Key=k;Label=prod west");
        assert_eq!(
            (r.store.port, r.label.as_deref()),
            (Some(8443), Some("prod west"))
        );
        assert_eq!(ok("Endpoint=https://s.azconfig.io;Key=ключ").key, "ключ");
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        for (body, error) in [
            ("Key=k", RefError::ConfigIncomplete),
            ("Endpoint=https://s.azconfig.io", RefError::ConfigIncomplete),
            (
                "Endpoint=http://s.azconfig.io;Key=k",
                RefError::EndpointHttp,
            ),
            ("Endpoint=s.azconfig.io;Key=k", RefError::EndpointNotHttps),
            (
                "Endpoint=https://s.azconfig.io/kv;Key=k",
                RefError::EndpointExtras,
            ),
            (
                "Endpoint=https://u@s.azconfig.io;Key=k",
                RefError::EndpointExtras,
            ),
            ("Endpoint=https://s.azconfig.io;Key=50%", RefError::BadKey),
            ("Endpoint=https://s.azconfig.io;Key=.", RefError::BadKey),
            ("Endpoint=https://s.azconfig.io;Key=..", RefError::BadKey),
            (
                "Endpoint=https://s.azconfig.io;Key=k;Label=*",
                RefError::BadLabel,
            ),
            (
                "Endpoint=https://s.azconfig.io;Key=",
                RefError::EmptyValue("Key"),
            ),
            (
                "Endpoint=https://s.azconfig.io;Key=a;Key=b",
                RefError::Duplicate("Key"),
            ),
            (
                "Endpoint=https://s.azconfig.io;Key=a;;",
                RefError::EmptyParameter,
            ),
        ] {
            assert_eq!(parse(body), Err(error), "{body}");
        }
        assert!(matches!(
            parse("Endpoint=https://s.azconfig.io;Key=a;SecretName=x"),
            Err(RefError::UnknownConfigParameter(_))
        ));
    }
}
