//! Entry points for the fuzz targets in `fuzz/` (not a stable API).

use crate::cloud::Cloud;

/// Scans a text for references and renders it with every reference unresolved.
pub fn scan(text: &str) {
    if let Ok(t) = crate::template::scan(text, Cloud::Public) {
        let rendered = t.render(|_| None);
        assert_eq!(
            rendered.expose(),
            text.as_bytes(),
            "unresolved text must come back unchanged"
        );
    }
}

/// Parses the inside of one `@Microsoft.KeyVault(...)`, and of one
/// `@Microsoft.AppConfiguration(...)`.
pub fn reference(body: &str) {
    if let Ok(r) = crate::reference::parse(body, Cloud::Public) {
        assert!(!r.name.is_empty() && r.name.len() <= 127);
        let _ = crate::vault::trust(&r.vault, Cloud::Public, &[]);
    }
    if let Ok(r) = crate::reference::config::parse(body) {
        assert!(!r.key.is_empty() && !r.key.contains('%'));
        let _ =
            crate::vault::trust_host(&r.store, Cloud::Public.appconfig_suffixes(), &[], "store");
    }
}

/// Takes a vault's answer (the first byte picks the status and whether a
/// version was asked for; the rest is the body) through to `check`'s
/// table and JSON. Nothing a vault sends may panic or reach the output as
/// a control or direction character.
pub fn vault_answer(data: &[u8]) {
    use crate::reference::{HostAddr, SecretRef};
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let secret = SecretRef {
        vault: HostAddr {
            host: "v.vault.azure.net".into(),
            port: None,
        },
        name: "db".into(),
        version: (selector & 1 == 1).then(|| "0123456789abcdef0123456789abcdef".into()),
    };
    let status = [200u16, 401, 403, 404, 429, 500, 503, 302][(selector as usize >> 1) % 8];
    let (resolved_version, status, detail, hint) =
        match crate::vault::outcome_of_answer(status, body, &secret) {
            Ok(fetched) => (
                fetched.version,
                crate::error::Status::Resolved,
                fetched.warning.unwrap_or_default(),
                None,
            ),
            Err(failure) => (None, failure.status, failure.detail, failure.hint),
        };
    let rows = [crate::plan::Row {
        location: "VAR".into(),
        reference: Some(crate::reference::Reference::Secret(secret)),
        via: None,
        resolved_version,
        status,
        detail,
        hint,
        expires_on: None,
        optional: false,
    }];
    for text in [crate::report::table(&rows), crate::report::json(&rows)] {
        let clean = text
            .chars()
            .all(|c| c == '\n' || crate::error::printable(&c.to_string()) == c.to_string());
        assert!(clean, "a control or direction character reached the output");
    }
}

/// Parses a dotenv text as `--env-file` does.
pub fn dotenv(text: &str) {
    let _ = crate::sources::parse_dotenv(std::path::Path::new("fuzz.env"), text);
}
