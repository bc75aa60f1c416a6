//! Name resolution for every connection kvenv makes, without NSS (so a static
//! binary in a `scratch` image works): names listed in `/etc/hosts` are
//! answered from there only, for both address families, as glibc does, so a
//! pin made with Kubernetes `hostAliases` or `docker run --add-host` can never
//! be overridden or delayed by DNS. Other names go to the servers in
//! `/etc/resolv.conf` (hickory); there is no fallback to public resolvers.

use hickory_resolver::config::{LookupIpStrategy, ResolveHosts};
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::TokioResolver;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, OnceLock};

const HOSTS: &str = "/etc/hosts";
/// A hosts file is small; a larger one is not read (and then pins nothing).
const HOSTS_MAX: u64 = 1 << 20;

/// Why a name did not resolve: a typed marker found by walking an error's
/// `source()` chain, so failures are classified without reading error text.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{name} {reason}")]
pub(crate) struct DnsFailure {
    /// The name that was looked up (a vault, an identity endpoint or a proxy).
    pub name: String,
    pub reason: DnsReason,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub(crate) enum DnsReason {
    #[error("does not resolve (no such name)")]
    NotFound,
    #[error("could not be resolved: the DNS server did not answer in time")]
    Timeout,
    #[error("could not be resolved: no DNS configuration (/etc/resolv.conf)")]
    NoConfig,
    #[error("could not be resolved: {0}")]
    Failed(String),
}

/// Addresses for the names in a hosts file, by lower-case name.
pub(crate) type HostsTable = HashMap<String, Vec<IpAddr>>;

/// Parses the hosts(5) format: an address, then names; `#` starts a comment.
pub(crate) fn parse_hosts(text: &str) -> HostsTable {
    let mut table = HostsTable::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        let mut fields = line.split_whitespace();
        let Some(Ok(addr)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        for name in fields {
            let addrs = table
                .entry(name.trim_end_matches('.').to_ascii_lowercase())
                .or_default();
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
    }
    table
}

fn read_hosts(path: &Path) -> HostsTable {
    match crate::files::read_regular(path, HOSTS_MAX, crate::files::Links::Follow) {
        Ok(bytes) => parse_hosts(&String::from_utf8_lossy(&bytes)),
        Err(e) => {
            tracing::debug!(path = %path.display(), error = %e, "hosts file not used");
            HostsTable::new()
        }
    }
}

/// The resolver handed to reqwest. The hosts file is read once per run; the
/// DNS client is built on first use, inside the runtime.
#[derive(Clone, Default)]
pub(crate) struct Resolver {
    hosts: Arc<OnceLock<HostsTable>>,
    dns: Arc<OnceLock<Result<TokioResolver, DnsReason>>>,
}

impl Resolver {
    fn pinned(&self, name: &str) -> Option<Vec<IpAddr>> {
        let hosts = self.hosts.get_or_init(|| read_hosts(Path::new(HOSTS)));
        hosts
            .get(&name.trim_end_matches('.').to_ascii_lowercase())
            .cloned()
    }

    fn dns(&self) -> Result<&TokioResolver, DnsReason> {
        self.dns
            .get_or_init(|| {
                let mut builder = TokioResolver::builder_tokio().map_err(|e| {
                    tracing::debug!(error = %e, "no usable /etc/resolv.conf");
                    DnsReason::NoConfig
                })?;
                // The hosts file was consulted already: DNS must not answer for it.
                builder.options_mut().use_hosts_file = ResolveHosts::Never;
                builder.options_mut().ip_strategy = LookupIpStrategy::Ipv4AndIpv6;
                builder
                    .build()
                    .map_err(|e| DnsReason::Failed(crate::error::printable(&e.to_string())))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    async fn lookup(&self, name: &str) -> Result<Vec<IpAddr>, DnsFailure> {
        let fail = |reason| DnsFailure {
            name: crate::error::printable(name),
            reason,
        };
        if let Some(addrs) = self.pinned(name) {
            tracing::debug!(name, "resolved from /etc/hosts");
            return Ok(addrs);
        }
        // Within the connection's own time limit, so that a DNS server that
        // never answers (no network at all) is named as DNS, once, and not
        // retried as a slow vault until `--timeout`.
        let lookup = tokio::time::timeout(LOOKUP_MAX, self.dns().map_err(fail)?.lookup_ip(name))
            .await
            .map_err(|_| fail(DnsReason::Timeout))?;
        let addrs: Vec<IpAddr> = lookup.map_err(|e| fail(reason_of(&e)))?.iter().collect();
        if addrs.is_empty() {
            return Err(fail(DnsReason::NotFound));
        }
        Ok(addrs)
    }
}

/// How long one name may take to resolve: less than the HTTP client's
/// connect timeout (10 s), which would otherwise cut the lookup off first.
const LOOKUP_MAX: std::time::Duration = std::time::Duration::from_secs(8);

fn reason_of(error: &NetError) -> DnsReason {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(_)) => DnsReason::NotFound,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::NXDomain)) => DnsReason::NotFound,
        NetError::Timeout => DnsReason::Timeout,
        other => DnsReason::Failed(crate::error::printable(&other.to_string())),
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let resolver = self.clone();
        Box::pin(async move {
            let addrs = resolver.lookup(name.as_str()).await?;
            let addrs: reqwest::dns::Addrs =
                Box::new(addrs.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lines_give_every_address_of_a_name() {
        let table = parse_hosts(
            "127.0.0.1 localhost\n# 10.0.0.1 commented.example\n10.1.2.3  Vault.Private.Example kv # pin\n::1 vault.private.example.\nnot-an-ip name\n",
        );
        assert_eq!(
            table["vault.private.example"],
            vec![
                "10.1.2.3".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        assert_eq!(table["kv"], vec!["10.1.2.3".parse::<IpAddr>().unwrap()]);
        assert!(!table.contains_key("commented.example"));
        assert!(!table.contains_key("name"));
    }

    #[tokio::test]
    async fn pinned_names_never_reach_dns() {
        let resolver = Resolver::default();
        resolver
            .hosts
            .set(parse_hosts("127.0.0.9 pinned.example\n"))
            .unwrap();
        // A DNS client that would fail if it were ever asked.
        resolver
            .dns
            .set(Err(DnsReason::Failed("asked".into())))
            .unwrap();
        assert_eq!(
            resolver.lookup("PINNED.example.").await.unwrap(),
            vec!["127.0.0.9".parse::<IpAddr>().unwrap()]
        );
        let other = resolver.lookup("other.example").await.unwrap_err();
        assert_eq!(other.reason, DnsReason::Failed("asked".into()));
        assert_eq!(other.name, "other.example");
    }
}
