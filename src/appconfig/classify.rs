//! What an App Configuration failure means: a transport failure or an HTTP
//! status, for one key-value, as a status and a hint (and a chained Key Vault
//! reference's failure, named through the key-value).

use crate::audience::WrongAudience;
use crate::error::{Failure, Status};
use crate::http::TransportFailure;
use crate::reference::{ConfigRef, SecretRef};

pub(super) fn transport(error: &azure_core::Error, r: &ConfigRef) -> Failure {
    if let Some(wrong) = crate::http::find::<WrongAudience>(error) {
        return Failure::new(Status::AccessToKeyVaultDenied, format!("refused: {wrong}"))
            .hint("a store that asks for another audience is not App Configuration");
    }
    let about = || crate::http::About {
        host: &r.store.host,
        addr: r.store.to_string(),
        named: format!("store {}", r.store.host),
        check_name: "check the Endpoint and private DNS",
        what: r.to_string(),
    };
    match crate::http::find::<TransportFailure>(error) {
        Some(failure) => crate::http::meaning(failure, &about()),
        None if matches!(error.kind(), azure_core::error::ErrorKind::Credential) => Failure::new(
            Status::MSINotEnabled,
            format!(
                "no token for store {}: {}",
                r.store,
                crate::error::chain(error)
            ),
        ),
        None => Failure::new(
            Status::OtherReasons,
            format!("cannot get {r}: {}", crate::error::chain(error)),
        ),
    }
}

/// The status and hint for the store's HTTP answer `code`, named as App
/// Service names App Configuration failures (one status set for both kinds).
pub(super) fn http_failure(code: u16, r: &ConfigRef, identity: &str) -> Failure {
    match code {
        404 => Failure::new(
            Status::SecretNotFound,
            format!("{r} was not found (HTTP 404)"),
        )
        .hint("check the Key and the Label (no Label means the key-value without a label)"),
        403 => Failure::new(
            Status::AccessToKeyVaultDenied,
            format!("{identity} may not read {r} (HTTP 403)"),
        )
        .hint("grant it the \"App Configuration Data Reader\" role on the store"),
        401 => Failure::new(
            Status::AccessToKeyVaultDenied,
            format!(
                "store {} rejected the token of {identity} (HTTP 401)",
                r.store
            ),
        )
        .hint("check the tenant (--tenant-id) and the cloud (--cloud)"),
        _ => Failure::new(
            Status::OtherReasons,
            format!(
                "store {} answered HTTP {code} for {r}{}",
                r.store,
                crate::http::Backoff::after_retries(code)
            ),
        ),
    }
}

/// A chained Key Vault reference failed: the variable's failure names the key
/// and the secret, and keeps the secret's status and hint.
pub(crate) fn chained_failure(r: &ConfigRef, secret: &SecretRef, failure: &Failure) -> Failure {
    Failure {
        status: failure.status,
        detail: crate::error::printable(&format!(
            "{r} is a Key Vault reference to secret '{}' in vault {}: {}",
            secret.name, secret.vault, failure.detail
        )),
        hint: failure.hint.clone(),
    }
}
