//! `--token VAR=RESOURCE`: an Entra access token for a data-plane resource,
//! handed to the command as a password (Azure Database for PostgreSQL and
//! MySQL, Azure SQL, Azure Cache for Redis accept one). RESOURCE is a name,
//! mapped per cloud as the Azure SDKs and CLI map it, or a full `https://`
//! resource URI. Control-plane audiences, whose tokens are worth far more
//! than any password, are refused before any request.

use crate::cloud::Cloud;
use crate::error::{printable, At, Error};

/// `VAR=RESOURCE` as given on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenArg {
    pub var: String,
    pub resource: String,
}

impl std::str::FromStr for TokenArg {
    type Err = String;

    fn from_str(text: &str) -> Result<TokenArg, String> {
        let Some((var, resource)) = text.split_once('=') else {
            return Err("expected VAR=RESOURCE (RESOURCE: oss-rdbms, sql, redis or an https:// resource URI)".into());
        };
        let valid = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "'{}' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
                printable(var)
            ));
        }
        if resource.trim().is_empty() {
            return Err(format!("{var}: RESOURCE is empty"));
        }
        Ok(TokenArg {
            var: var.to_string(),
            resource: resource.trim().to_string(),
        })
    }
}

/// A token to fetch: what the user named, and the scope asked for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TokenRef {
    /// As given: `oss-rdbms`, or the URI.
    pub resource: String,
    /// `{resource URI}/.default`.
    pub scope: String,
}

impl std::fmt::Display for TokenRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "token for {}", self.resource)
    }
}

/// A validated `--token`: the variable and its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenTarget {
    pub var: String,
    pub token: TokenRef,
}

/// The data-plane resources kvenv knows by name, per cloud, as the Azure CLI
/// (`ossrdbms_resource_id` in its cloud table), the Azure SDKs' passwordless
/// extensions (`https://ossrdbms-aad.database.*`, the SQL client's
/// `https://database.*`) and Azure Cache for Redis's documentation (the
/// `https://redis.azure.com` audience, and its application id, which the
/// Redis extensions use in every cloud) name them.
fn named(name: &str, cloud: Cloud) -> Option<Result<&'static str, String>> {
    let uri = match (name, cloud) {
        ("oss-rdbms", Cloud::Public) => "https://ossrdbms-aad.database.windows.net",
        ("oss-rdbms", Cloud::China) => "https://ossrdbms-aad.database.chinacloudapi.cn",
        ("oss-rdbms", Cloud::UsGov) => "https://ossrdbms-aad.database.usgovcloudapi.net",
        ("sql", Cloud::Public) => "https://database.windows.net",
        ("sql", Cloud::China) => "https://database.chinacloudapi.cn",
        ("sql", Cloud::UsGov) => "https://database.usgovcloudapi.net",
        ("redis", Cloud::Public) => "https://redis.azure.com",
        ("redis", Cloud::China | Cloud::UsGov) => "acca5fbb-b7e4-4009-81f1-37e38fd66d78",
        ("oss-rdbms" | "sql" | "redis", Cloud::Bleu | Cloud::Delos) => {
            return Some(Err(format!(
                "the {} cloud's audience for '{name}' is not documented yet; give the resource's https:// URI",
                cloud.name()
            )))
        }
        _ => return None,
    };
    Some(Ok(uri))
}

/// Hosts of audiences that no password needs and that are worth far more than
/// one: Azure Resource Manager, Microsoft Graph (and the older Azure AD Graph)
/// in every cloud, and the Key Vault and App Configuration audiences kvenv
/// itself uses (a token for those would read every secret).
const REFUSED_HOSTS: &[&str] = &[
    "management.azure.com",
    "management.core.windows.net",
    "management.chinacloudapi.cn",
    "management.core.chinacloudapi.cn",
    "management.usgovcloudapi.net",
    "management.core.usgovcloudapi.net",
    "management.sovcloud-api.fr",
    "management.core.sovcloud-api.fr",
    "management.sovcloud-api.de",
    "management.core.sovcloud-api.de",
    "graph.microsoft.com",
    "graph.windows.net",
    "graph.chinacloudapi.cn",
    "microsoftgraph.chinacloudapi.cn",
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
    "graph.microsoftazure.us",
    "graph.svc.sovcloud.fr",
    "graph.svc.sovcloud.de",
];

/// Whether a resource URI's host names a refused audience.
fn refused(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    REFUSED_HOSTS.contains(&host.as_str())
        || Cloud::ALL.iter().any(|c| {
            let vault = c.vault_suffix();
            let own = std::iter::once(vault).chain(c.appconfig_scope().and_then(|s| {
                s.strip_prefix("https://")
                    .and_then(|s| s.strip_suffix("/.default"))
            }));
            own.into_iter().any(|h| h == host)
        })
}

/// Checks every `--token` against `cloud`, before any request: the names and
/// URIs, no control-plane audience, each VAR once.
pub(crate) fn targets(args: &[TokenArg], cloud: Cloud) -> Result<Vec<TokenTarget>, Error> {
    let mut out: Vec<TokenTarget> = Vec::new();
    for arg in args {
        let bad = |why: String| Error::usage(At::arg("--token", &arg.var), why);
        if out.iter().any(|t| t.var == arg.var) {
            return Err(bad("given twice; each VAR takes one token".into()));
        }
        let uri = match named(&arg.resource, cloud) {
            Some(Ok(uri)) => uri.to_string(),
            Some(Err(why)) => return Err(bad(why)),
            None => {
                let url = url::Url::parse(&arg.resource)
                    .ok()
                    .filter(|u| u.scheme() == "https" && u.host_str().is_some())
                    .ok_or_else(|| {
                        bad(format!(
                            "'{}' is neither oss-rdbms, sql nor redis, nor an https:// resource URI",
                            printable(&arg.resource)
                        ))
                    })?;
                let host = url.host_str().unwrap_or_default();
                if refused(host) {
                    return Err(bad(format!(
                        "{} is a control-plane or kvenv's own audience; no password needs it and a leaked token would be worth far more, so kvenv never requests it",
                        printable(host)
                    )));
                }
                arg.resource.trim_end_matches('/').to_string()
            }
        };
        out.push(TokenTarget {
            var: arg.var.clone(),
            token: TokenRef {
                resource: arg.resource.clone(),
                scope: format!("{uri}/.default"),
            },
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str, cloud: Cloud) -> Result<TokenTarget, Error> {
        let arg: TokenArg = text
            .parse()
            .map_err(|why: String| Error::usage(At::Arg("--token", None), why))?;
        targets(&[arg], cloud).map(|mut t| t.remove(0))
    }

    #[test]
    fn names_map_per_cloud_and_uris_are_taken_as_given() {
        for (text, cloud, scope) in [
            (
                "P=oss-rdbms",
                Cloud::Public,
                "https://ossrdbms-aad.database.windows.net/.default",
            ),
            (
                "P=oss-rdbms",
                Cloud::China,
                "https://ossrdbms-aad.database.chinacloudapi.cn/.default",
            ),
            (
                "P=oss-rdbms",
                Cloud::UsGov,
                "https://ossrdbms-aad.database.usgovcloudapi.net/.default",
            ),
            (
                "P=sql",
                Cloud::Public,
                "https://database.windows.net/.default",
            ),
            (
                "P=sql",
                Cloud::UsGov,
                "https://database.usgovcloudapi.net/.default",
            ),
            ("P=redis", Cloud::Public, "https://redis.azure.com/.default"),
            (
                "P=https://myapi.example.com/",
                Cloud::Public,
                "https://myapi.example.com/.default",
            ),
        ] {
            assert_eq!(
                one(text, cloud).unwrap().token.scope,
                scope,
                "{text} {cloud:?}"
            );
        }
    }

    #[test]
    fn control_plane_and_kvenvs_own_audiences_are_refused() {
        for uri in [
            "https://management.azure.com/",
            "https://management.core.windows.net/",
            "https://graph.microsoft.com",
            "https://GRAPH.microsoft.us/",
            "https://management.chinacloudapi.cn",
            "https://vault.azure.net",
            "https://appconfig.azure.com",
        ] {
            let err = one(&format!("T={uri}"), Cloud::Public)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("--token T: "), "{err}");
            assert!(err.contains("never requests it"), "{uri}: {err}");
        }
        for bad in ["T=http://x.example", "T=postgres", "1T=sql", "T=", "T"] {
            assert!(one(bad, Cloud::Public).is_err(), "{bad}");
        }
        assert!(one("T=sql", Cloud::Bleu).is_err());
        let twice = [
            "T=sql".parse::<TokenArg>().unwrap(),
            "T=redis".parse::<TokenArg>().unwrap(),
        ];
        assert!(targets(&twice, Cloud::Public).is_err());
    }
}
