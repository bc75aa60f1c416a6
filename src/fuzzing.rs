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
    use crate::reference::Reference;
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let version = match selector & 1 {
        1 => "/0123456789abcdef0123456789abcdef",
        _ => "",
    };
    let vars = [(
        std::ffi::OsString::from("VAR"),
        std::ffi::OsString::from(format!(
            "@Microsoft.KeyVault(SecretUri=https://v.vault.azure.net/secrets/db{version})"
        )),
    )];
    let plan = crate::plan::Plan::of(&vars, &[], Cloud::Public);
    let Some(Reference::Secret(secret)) = plan.refs().into_iter().next() else {
        unreachable!("the reference is well formed");
    };
    let status = [200u16, 401, 403, 404, 429, 500, 503, 302][(selector as usize >> 1) % 8];
    let mut resolution = crate::resolve::Resolution::default();
    let reference = Reference::Secret(secret.clone());
    match crate::vault::outcome_of_answer(status, body, &secret) {
        Ok(fetched) => resolution.values.insert(reference, fetched).map(|_| ()),
        Err(failure) => resolution.failures.insert(reference, failure).map(|_| ()),
    };
    // The rows `check` prints, as it makes them.
    let rows = plan.rows(&resolution, &|_| false);
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
