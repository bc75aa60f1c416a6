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
struct TokenArg {
    pub var: String,
    pub resource: String,
}

impl std::str::FromStr for TokenArg {
    type Err = String;

    fn from_str(text: &str) -> Result<TokenArg, String> {
        let Some((var, resource)) = text.split_once('=') else {
            return Err("expected VAR=RESOURCE (RESOURCE: oss-rdbms, sql, redis or an https:// resource URI)".into());
        };
        if !crate::vars::is_name(var.as_bytes()) {
            return Err(format!(
                "'{}' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
                printable(var)
            ));
        }
        if resource.is_empty() {
            return Err(format!("{var}: RESOURCE is empty"));
        }
        if resource
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "{var}: RESOURCE holds white space or a control character; give one name or one URI"
            ));
        }
        Ok(TokenArg {
            var: var.to_string(),
            resource: resource.to_string(),
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

/// Domains (each with every host below it) of audiences that no password
/// needs and that are worth far more than one: Azure Resource Manager and
/// Microsoft Graph (and the older Azure AD Graph) in every cloud; Key Vault,
/// Managed HSM and App Configuration (a token for those reads every secret or
/// key-value the identity may read); Exchange, SharePoint, Office 365
/// management and Azure DevOps. Refused even with `--allow-token-audience`.
/// The list cannot be complete, which is why any URI beyond the three names
/// must be allowed by name.
const REFUSED_DOMAINS: &[&str] = &[
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
    "managedhsm.azure.net",
    "managedhsm.azure.cn",
    "managedhsm.usgovcloudapi.net",
    "azconfig.io",
    "appconfig.azure.com",
    "azconfig.azure.cn",
    "appconfig.azure.cn",
    "azconfig.azure.us",
    "appconfig.azure.us",
    "outlook.office365.com",
    "outlook.office.com",
    "outlook.office365.us",
    "ps.outlook.com",
    "sharepoint.com",
    "sharepoint.cn",
    "sharepoint.us",
    "manage.office.com",
    "manage.office365.us",
    "manage.office365.cn",
    "dev.azure.com",
    "visualstudio.com",
    "vssps.dev.azure.com",
];

/// Whether a resource URI's host is (or is under) a refused domain, or the
/// Key Vault suffix of any cloud.
fn refused(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let under = |domain: &str| {
        host == domain
            || host
                .strip_suffix(domain)
                .is_some_and(|rest| rest.ends_with('.'))
    };
    REFUSED_DOMAINS.iter().any(|d| under(d)) || Cloud::ALL.iter().any(|c| under(c.vault_suffix()))
}

/// A resource URI as kvenv asks for it: a plain `https` URI (no user
/// information, query or fragment), rebuilt from its parsed form with no
/// trailing `/`; the scope is this plus `/.default`. `None` if it is not one.
fn plain_https(text: &str) -> Option<String> {
    let url = url::Url::parse(text).ok()?;
    let plain = url.scheme() == "https"
        && url.host_str().is_some_and(|h| !h.is_empty())
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none();
    plain.then(|| url.as_str().trim_end_matches('/').to_string())
}

/// `--allow-token-audience URI` as given: a plain `https` URI.
fn parse_allowed(text: &str) -> Result<String, String> {
    // The value is not shown: user information in it may be a password.
    plain_https(text).ok_or_else(|| {
        "each URI must be a plain https:// resource URI (no user, query or fragment)".to_string()
    })
}

/// Checks every `--token` against `cloud`, before any request: the names,
/// and URIs that are plain `https`, not a refused audience, and named by
/// `--allow-token-audience` (`allowed`); each VAR once.
pub(crate) fn targets(
    given: &[String],
    allowed: &[String],
    cloud: Cloud,
) -> Result<Vec<TokenTarget>, Error> {
    let allowed = allowed
        .iter()
        .map(|a| parse_allowed(a))
        .collect::<Result<Vec<String>, String>>()
        .map_err(|why| Error::usage(At::Arg("--allow-token-audience", None), why))?;
    let mut out: Vec<TokenTarget> = Vec::new();
    for text in given {
        let arg: TokenArg = text
            .parse()
            .map_err(|why: String| Error::usage(At::Arg("--token", None), why))?;
        let arg = &arg;
        let bad = |why: String| Error::usage(At::arg("--token", &arg.var), why);
        if out.iter().any(|t| t.var == arg.var) {
            return Err(bad("given twice; each VAR takes one token".into()));
        }
        let uri = match named(&arg.resource, cloud) {
            Some(Ok(uri)) => uri.to_string(),
            Some(Err(why)) => return Err(bad(why)),
            None => uri_target(&arg.resource, &allowed).map_err(bad)?,
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

/// A resource URI that may be asked for, rebuilt from its parsed form.
fn uri_target(resource: &str, allowed: &[String]) -> Result<String, String> {
    // The value is not shown: user information in it may be a password.
    let uri = plain_https(resource).ok_or_else(|| {
        "RESOURCE is neither oss-rdbms, sql nor redis, nor a plain https:// resource URI (no user, query or fragment)".to_string()
    })?;
    let host = url::Url::parse(&uri)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_default();
    if refused(&host) {
        return Err(format!(
            "{} is a control-plane, secret-store or Microsoft 365 audience; no password needs it and a leaked token would be worth far more, so kvenv never requests it",
            printable(&host)
        ));
    }
    match allowed.iter().any(|a| a.eq_ignore_ascii_case(&uri)) {
        true => Ok(uri),
        false => Err(format!(
            "{uri} is not oss-rdbms, sql or redis; to hand out a token for it, allow it by name with --allow-token-audience {uri}"
        )),
    }
}

#[cfg(test)]
mod tests;
