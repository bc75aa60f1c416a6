//! Turning what went wrong into an actionable failure: the vault's HTTP
//! answers by status and Key Vault's error codes (bodies are never echoed),
//! failures below HTTP by their type, never by their text.

use super::Fetched;
use crate::audience::WrongAudience;
use crate::error::{chain, Failure, Status};
use crate::http::TransportFailure;
use crate::reference::SecretRef;
use azure_core::error::ErrorKind;

/// What one answer (status and body) from a vault comes to, without a
/// network: the path `fetch` takes, for the fuzz target.
pub(crate) fn outcome_of_answer(
    status: u16,
    body: &[u8],
    secret: &SecretRef,
) -> Result<Fetched, Failure> {
    use azure_core::http::{headers::Headers, RawResponse, StatusCode};
    let raw = RawResponse::from_bytes(StatusCode::from(status), Headers::new(), body.to_vec());
    if status == 200 {
        return super::answer(raw.into(), secret);
    }
    let error = azure_core::Error::with_message(
        ErrorKind::HttpResponse {
            status: StatusCode::from(status),
            error_code: None,
            raw_response: Some(Box::new(raw)),
        },
        "fuzzed answer",
    );
    Err(classify(&error, secret, "the identity"))
}

/// Turns an SDK error into a status and a one-line hint. Response bodies are
/// never echoed; only Key Vault's error code and inner code are read. Below
/// HTTP, the failure is found by type (see `http::TransportFailure`).
pub(super) fn classify(error: &azure_core::Error, secret: &SecretRef, identity: &str) -> Failure {
    let vault = &secret.vault;
    if let Some(wrong) = crate::http::find::<WrongAudience>(error) {
        return Failure::new(Status::AccessToKeyVaultDenied, format!("refused: {wrong}"))
            .hint("a vault that asks for another audience is not Key Vault");
    }
    if let Some(rejected) = crate::http::find::<crate::audience::ClaimsRejected>(error) {
        return Failure::new(Status::AccessToKeyVaultDenied, rejected.to_string())
            .hint("the identity's access was revoked or restricted by a Conditional Access policy; check its sign-in logs in Entra ID");
    }
    if let Some(failure) = crate::http::find::<TransportFailure>(error) {
        return transport_failure(failure, secret);
    }
    match error.kind() {
        ErrorKind::HttpResponse {
            status,
            raw_response,
            ..
        } => {
            // Only Key Vault's inner error code is read from the body.
            let inner = raw_response
                .as_ref()
                .and_then(|r| serde_json::from_slice::<serde_json::Value>(r.body()).ok())
                .and_then(|v| {
                    v["error"]["innererror"]["code"]
                        .as_str()
                        .map(str::to_string)
                });
            http_failure(u16::from(*status), inner.as_deref(), secret, identity)
        }
        ErrorKind::Credential => Failure::new(
            Status::MSINotEnabled,
            format!(
                "no token for vault {vault} from {identity}: {}",
                chain(error)
            ),
        ),
        _ => Failure::new(
            Status::OtherReasons,
            format!(
                "cannot get secret '{}' from {vault}: {}",
                secret.name,
                chain(error)
            ),
        ),
    }
}

/// The status and hint for the vault's HTTP answer `code`.
fn http_failure(code: u16, inner: Option<&str>, secret: &SecretRef, identity: &str) -> Failure {
    let vault = &secret.vault;
    let name = &secret.name;
    match code {
        404 if secret.version.is_some() => Failure::new(
            Status::SecretVersionNotFound,
            format!(
                "version {} of secret '{name}' was not found in vault {vault} (HTTP 404)",
                secret.version.as_deref().unwrap_or_default()
            ),
        )
        .hint("check SecretVersion"),
        404 => Failure::new(
            Status::SecretNotFound,
            format!("secret '{name}' was not found in vault {vault} (HTTP 404)"),
        )
        .hint("check the name, or whether it was deleted"),
        403 if inner == Some("SecretDisabled") => Failure::new(
            Status::SecretDisabled,
            format!("secret '{name}' in vault {vault} is disabled (HTTP 403)"),
        )
        .hint("enable it or pin an enabled version"),
        403 => Failure::new(
            Status::AccessToKeyVaultDenied,
            format!("{identity} may not read secret '{name}' in vault {vault} (HTTP 403)"),
        )
        .hint("grant it the \"Key Vault Secrets User\" role on the vault, or an access policy with Get on secrets"),
        401 => Failure::new(
            Status::AccessToKeyVaultDenied,
            format!("vault {vault} rejected the token of {identity} (HTTP 401)"),
        )
        .hint("check the tenant (--tenant-id) and the cloud (--cloud)"),
        _ => Failure::new(
            Status::OtherReasons,
            format!(
                "vault {vault} answered HTTP {code} for secret '{name}'{}",
                crate::http::Backoff::after_retries(code)
            ),
        ),
    }
}

/// The status and hint for a failure below HTTP.
fn transport_failure(failure: &TransportFailure, secret: &SecretRef) -> Failure {
    let vault = &secret.vault;
    crate::http::meaning(
        failure,
        &crate::http::About {
            host: &vault.host,
            addr: vault.to_string(),
            named: vault.host.clone(),
            check_name: "check the vault name and private DNS",
            what: format!("secret '{}'", secret.name),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::HostAddr;

    fn failure_for(failure: TransportFailure, name: &str) -> Failure {
        let secret = SecretRef {
            vault: HostAddr::at("myvault.vault.azure.net", None),
            name: name.into(),
            version: None,
        };
        let error = azure_core::Error::new(ErrorKind::Other, failure)
            .with_context("non-transport error occurred which will not be retried");
        classify(&error, &secret, "the identity")
    }

    #[test]
    fn failures_are_classified_by_type_whatever_the_names_say() {
        let host = "myvault.vault.azure.net".to_string();
        let refused = failure_for(
            TransportFailure::Connect {
                host: host.clone(),
                reason: "connection refused".into(),
            },
            "tls-dns-timeout-certificate",
        );
        assert_eq!(refused.status, Status::OtherReasons);
        assert!(
            refused
                .explained()
                .starts_with("cannot connect to myvault.vault.azure.net: connection refused"),
            "{}",
            refused.explained()
        );
        let dns = failure_for(
            TransportFailure::Dns(crate::dns::DnsFailure {
                name: host.clone(),
                reason: crate::dns::DnsReason::NotFound,
            }),
            "connect-tls",
        );
        assert_eq!(dns.status, Status::VaultNotFound);
        assert_eq!(
            dns.explained(),
            "myvault.vault.azure.net does not resolve; check the vault name and private DNS"
        );
        let proxy = failure_for(
            TransportFailure::Dns(crate::dns::DnsFailure {
                name: "proxy.corp".into(),
                reason: crate::dns::DnsReason::NotFound,
            }),
            "s",
        );
        assert!(
            proxy
                .explained()
                .starts_with("proxy.corp, the proxy for myvault.vault.azure.net, does not resolve"),
            "{}",
            proxy.explained()
        );
        let tls = failure_for(
            TransportFailure::Tls {
                host: host.clone(),
                reason: "invalid peer certificate: UnknownIssuer".into(),
            },
            "dns-connect",
        );
        assert!(
            tls.explained()
                .starts_with("TLS with myvault.vault.azure.net failed")
                && tls.explained().contains("--ca-file"),
            "{}",
            tls.explained()
        );
        let timeout = failure_for(TransportFailure::Timeout { host: host.clone() }, "tls");
        assert_eq!(timeout.status, Status::FetchTimedOut);
        let big = failure_for(TransportFailure::TooLarge { host, cap: 1 << 20 }, "timeout");
        assert!(
            big.explained().contains("larger than 1024 KiB"),
            "{}",
            big.explained()
        );
    }
}
