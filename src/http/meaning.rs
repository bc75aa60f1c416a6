//! What a failure below HTTP means for one reference, as a status and a hint:
//! one table for every backend, each naming its host and reference in its own
//! words.

use super::TransportFailure;
use crate::dns::DnsReason;
use crate::error::{Failure, Status};

/// Who a failure below HTTP happened to, as the lines name them.
pub(crate) struct About<'a> {
    /// The vault's or store's host name (what DNS was asked).
    pub host: &'a str,
    /// The host with its port, as in "the proxy for myvault.vault.azure.net".
    pub addr: String,
    /// The host as "does not resolve" names it: `myvault.vault.azure.net`, `store x.azconfig.io`.
    pub named: String,
    /// How to check the name when it does not resolve.
    pub check_name: &'static str,
    /// The reference: `secret 'db'`, `key 'k' (no label) in store ...`.
    pub what: String,
}

/// The status and hint for `failure`, which happened fetching `about.what`.
pub(crate) fn meaning(failure: &TransportFailure, about: &About<'_>) -> Failure {
    match failure {
        TransportFailure::Dns(dns)
            if dns.reason == DnsReason::NotFound && dns.name.eq_ignore_ascii_case(about.host) =>
        {
            Failure::new(
                Status::VaultNotFound,
                format!("{} does not resolve", about.named),
            )
            .hint(about.check_name)
        }
        TransportFailure::Dns(dns) if dns.name.eq_ignore_ascii_case(about.host) => {
            Failure::new(Status::OtherReasons, dns.to_string())
                .hint("check /etc/resolv.conf and the network")
        }
        TransportFailure::Dns(dns) => Failure::new(
            Status::OtherReasons,
            format!("{}, the proxy for {}, {}", dns.name, about.addr, dns.reason),
        )
        .hint("check HTTPS_PROXY"),
        TransportFailure::Tls { .. } => Failure::new(Status::OtherReasons, failure.to_string())
            .hint("if a proxy or private CA is in the way, pass its root with --ca-file"),
        TransportFailure::Connect { .. } => Failure::new(Status::OtherReasons, failure.to_string())
            .hint("check the host, port and network (firewall, private endpoint)"),
        TransportFailure::Descriptors { .. } => {
            Failure::new(Status::OtherReasons, failure.to_string())
                .hint("raise the descriptor limit (ulimit -n) or lower --concurrency")
        }
        TransportFailure::Timeout { .. } => Failure::new(
            Status::FetchTimedOut,
            format!("{failure} for {}", about.what),
        ),
        _ => Failure::new(Status::OtherReasons, format!("{failure} ({})", about.what)),
    }
}
