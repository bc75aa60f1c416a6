//! What went wrong below HTTP, as a type: the transport turns every reqwest
//! error into a [`TransportFailure`] by walking its `source()` chain and
//! downcasting (DNS, TLS, OS error kinds), never by reading its text, and puts
//! it inside the `azure_core::Error` it returns. Callers find it again with
//! [`find`], whatever the crates wrapped around it.

use crate::dns::DnsFailure;
use std::error::Error as StdError;

/// A failure to exchange bytes with `host`, classified by type.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub(crate) enum TransportFailure {
    #[error("{0}")]
    Dns(DnsFailure),
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("cannot connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    /// The process ran out of file descriptors (`EMFILE`, or `ENFILE` for the
    /// whole system): back-pressure, tried again within `--timeout`.
    #[error("cannot connect to {host}: out of file descriptors{}", limit.map(|n| format!(" (this process may open {n}: ulimit -n)")).unwrap_or_default())]
    Descriptors { host: String, limit: Option<u64> },
    #[error("{host} reset the connection")]
    Reset { host: String },
    #[error("{host} did not answer in time")]
    Timeout { host: String },
    #[error("the answer from {host} is larger than {} KiB; refused", .cap / 1024)]
    TooLarge { host: String, cap: usize },
    #[error("exchange with {host} failed: {reason}")]
    Other { host: String, reason: String },
}

impl TransportFailure {
    /// Whether trying again could help: a reset or a stall mid-exchange may be
    /// passing; a wrong name, a refused port or a bad certificate is not.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self,
            TransportFailure::Reset { .. }
                | TransportFailure::Descriptors { .. }
                | TransportFailure::Timeout { .. }
                | TransportFailure::Other { .. }
        )
    }

    /// Classifies a reqwest error for a request to `host`.
    pub(crate) fn of(host: &str, error: &reqwest::Error) -> TransportFailure {
        let host = crate::error::printable(host);
        if let Some(dns) = find::<DnsFailure>(error) {
            return TransportFailure::Dns(dns.clone());
        }
        if let Some(tls) = find::<rustls::Error>(error) {
            return TransportFailure::Tls {
                host,
                reason: crate::error::printable(&tls.to_string()),
            };
        }
        if let Some(io) = find::<std::io::Error>(error) {
            use std::io::ErrorKind::*;
            if crate::platform::out_of_descriptors(io) {
                let limit = crate::platform::descriptor_limit();
                return TransportFailure::Descriptors { host, limit };
            }
            match io.kind() {
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof => {
                    return TransportFailure::Reset { host }
                }
                TimedOut => return TransportFailure::Timeout { host },
                ConnectionRefused => {
                    return TransportFailure::Connect {
                        host,
                        reason: "connection refused".into(),
                    }
                }
                _ => {}
            }
        }
        if error.is_timeout() {
            return TransportFailure::Timeout { host };
        }
        let reason = crate::error::printable(&root_cause(error).to_string());
        if error.is_connect() {
            TransportFailure::Connect { host, reason }
        } else {
            TransportFailure::Other { host, reason }
        }
    }
}

/// The first error of type `T` in `error`'s chain, looking inside `io::Error`s
/// too (they hide the error they wrap from `source()`).
pub(crate) fn find<'e, T: StdError + 'static>(
    error: &'e (dyn StdError + 'static),
) -> Option<&'e T> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            if let Some(found) = find::<T>(inner) {
                return Some(found);
            }
        }
        next = e.source();
    }
    None
}

/// The innermost error: the OS's or the TLS library's own words.
fn root_cause<'e>(error: &'e (dyn StdError + 'static)) -> &'e (dyn StdError + 'static) {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn markers_are_found_inside_io_errors() {
        let tls = rustls::Error::General("x".into());
        let wrapped = Outer(std::io::Error::new(std::io::ErrorKind::InvalidData, tls));
        assert!(find::<rustls::Error>(&wrapped).is_some());
        assert!(find::<DnsFailure>(&wrapped).is_none());
    }
}
