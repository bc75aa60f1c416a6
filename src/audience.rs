//! The one audience kvenv's token may have: the cloud's Key Vault scope,
//! fixed by `--cloud`, never taken from a server. A challenge or a request for
//! any other resource (ARM, Graph, Storage, ...) is refused by type.

/// A token for any audience but the cloud's Key Vault one was asked for: by
/// a challenge (refused in the transport before the SDK sees it) or by
/// anything else (refused by [`VaultScopeOnly`]). Never sent, never requested.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{host} asked for a token for '{asked}'; kvenv only ever requests {allowed}")]
pub(crate) struct WrongAudience {
    pub host: String,
    pub asked: String,
    pub allowed: &'static str,
}

/// `https://vault.azure.net/.default`, `https://vault.azure.net/` and
/// `https://vault.azure.net` name the same audience.
pub(crate) fn same_audience(asked: &str, scope: &str) -> bool {
    let norm = |s: &str| {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_suffix("/.default").unwrap_or(&s).to_string();
        s.trim_end_matches('/').to_string()
    };
    norm(asked) == norm(scope)
}

/// The audience a `WWW-Authenticate: Bearer ...` challenge names, read the
/// way the SDK reads it (`scope="..."` as is, `resource="..."` + `/.default`).
pub(crate) fn challenge_audience(challenge: &str) -> Option<String> {
    for (i, _) in challenge.match_indices("=\"") {
        let Some(key) = challenge.get(i.saturating_sub(8)..i) else {
            continue;
        };
        if key.ends_with("scope") || key == "resource" {
            let value = &challenge[i + 2..];
            return Some(value[..value.find('"').unwrap_or(value.len())].to_string());
        }
    }
    None
}

/// Whether a `WWW-Authenticate` challenge is continuous access evaluation's
/// "this token was revoked" (`error="insufficient_claims"`).
pub(crate) fn is_claims_challenge(challenge: &str) -> bool {
    challenge.to_ascii_lowercase().split(',').any(|part| {
        let part = part.trim().trim_start_matches("bearer").trim();
        part.strip_prefix("error")
            .map(str::trim_start)
            .and_then(|rest| rest.strip_prefix('='))
            .is_some_and(|value| value.trim().trim_matches('"') == "insufficient_claims")
    })
}

/// A vault still refused the token after one renewal for a claims challenge;
/// `same`: the credential, asked anew, handed back the revoked token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ClaimsRejected {
    pub host: String,
    pub same: bool,
}

impl std::error::Error for ClaimsRejected {}

impl std::fmt::Display for ClaimsRejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.same {
            false => write!(f, "{} refused a renewed token too (continuous access evaluation: insufficient_claims)", self.host),
            true => write!(f, "{} refused the token (continuous access evaluation: insufficient_claims), and the credential, asked anew, handed back the same token from its own cache", self.host),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_challenges_are_recognised_and_others_are_not() {
        let cae = r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", error="insufficient_claims", claims="eyJhY2Nlc3NfdG9rZW4iOnt9fQ==""#;
        assert!(is_claims_challenge(cae));
        assert!(is_claims_challenge(r#"Bearer error=insufficient_claims"#));
        for other in [
            r#"Bearer authorization="https://login.microsoftonline.com/t", resource="https://vault.azure.net""#,
            r#"Bearer error="invalid_token", error_description="insufficient_claims""#,
            "",
        ] {
            assert!(!is_claims_challenge(other), "{other}");
        }
    }

    #[test]
    fn only_the_vault_audience_is_the_vault_audience() {
        for same in [
            "https://vault.azure.net",
            "https://vault.azure.net/",
            "HTTPS://VAULT.AZURE.NET/.default",
        ] {
            assert!(
                same_audience(same, "https://vault.azure.net/.default"),
                "{same}"
            );
        }
        for other in [
            "https://management.azure.com/.default",
            "https://azure.net/.default",
            "https://vault.azure.net.evil/.default",
            "",
        ] {
            assert!(
                !same_audience(other, "https://vault.azure.net/.default"),
                "{other}"
            );
        }
        assert_eq!(
            challenge_audience(r#"Bearer authorization="https://login.microsoftonline.com/t", resource="https://management.azure.com""#).as_deref(),
            Some("https://management.azure.com")
        );
        assert_eq!(
            challenge_audience(r#"Bearer scope="https://graph.microsoft.com/.default""#).as_deref(),
            Some("https://graph.microsoft.com/.default")
        );
        assert_eq!(challenge_audience("Bearer realm=x"), None);
    }
}
