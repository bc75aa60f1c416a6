//! `kvenv check`'s output: one row per reference as an aligned table or as
//! JSON with stable field names (fields are only ever added). Never a value.

use crate::error::printable;
use crate::plan::Row;
use crate::reference::Reference;

/// One object of `--output json`.
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    /// `KeyVault` or `AppConfiguration`; `null` when the reference did not parse.
    kind: Option<&'static str>,
    location: &'a str,
    /// The vault: asked for, or, for a key-value, the one it refers to.
    vault: Option<String>,
    secret: Option<&'a str>,
    /// `null`: the latest version.
    requested_version: Option<&'a str>,
    /// `null` unless resolved (and unless what came back is not a Key Vault version).
    resolved_version: Option<&'a str>,
    status: String,
    /// What happened (empty when resolved without remark).
    detail: &'a str,
    /// What to do about it, when there is something to do.
    hint: Option<&'a str>,
    /// App Configuration: the store, the key and the label (`null`: no label).
    store: Option<String>,
    key: Option<&'a str>,
    label: Option<&'a str>,
    /// `--token` rows only: the resource as given, and when the token expires (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    resource: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_on: Option<&'a str>,
    /// `--optional` and not found: allowed, does not fail `check`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    optional: bool,
    /// What the vault says about the secret (`null` when it did not answer
    /// with it): its `contentType`, whether it is enabled, and its `nbf` and
    /// `exp` (RFC 3339).
    content_type: Option<&'a str>,
    enabled: Option<bool>,
    not_before: Option<String>,
    expires: Option<String>,
    /// `--cert` rows: the leaf's subject, `notAfter` (RFC 3339) and the days left.
    #[serde(skip_serializing_if = "Option::is_none")]
    certificate: Option<JsonCertificate<'a>>,
}

#[derive(serde::Serialize)]
struct JsonCertificate<'a> {
    subject: &'a str,
    not_after: &'a str,
    days_left: i64,
}

fn rfc3339(t: Option<azure_core::time::OffsetDateTime>) -> Option<String> {
    t.as_ref().map(azure_core::time::to_rfc3339)
}

fn json_row(row: &Row) -> JsonRow<'_> {
    let (kind, secret, config) = match &row.reference {
        Some(Reference::Secret(s)) => (Some("KeyVault"), Some(s), None),
        Some(Reference::Config(c)) => (Some("AppConfiguration"), row.via.as_ref(), Some(c)),
        Some(Reference::Token(_)) => (Some("Token"), None, None),
        None => (None, None, None),
    };
    let resource = match &row.reference {
        Some(Reference::Token(t)) => Some(t.resource.as_str()),
        _ => None,
    };
    let meta = row.meta.as_ref();
    JsonRow {
        kind,
        location: &row.location,
        vault: secret.map(|s| s.vault.to_string()),
        secret: secret.map(|s| s.name.as_str()),
        requested_version: secret.and_then(|s| s.version.as_deref()),
        resolved_version: row.resolved_version.as_deref(),
        status: row.status.to_string(),
        detail: &row.detail,
        hint: row.hint.as_deref(),
        store: config.map(|c| c.store.to_string()),
        key: config.map(|c| c.key.as_str()),
        label: config.and_then(|c| c.label.as_deref()),
        resource,
        expires_on: row.expires_on.as_deref(),
        optional: row.optional,
        content_type: meta.and_then(|m| m.content_type.as_deref()),
        enabled: meta.and_then(|m| m.enabled),
        not_before: meta.and_then(|m| rfc3339(m.not_before)),
        expires: meta.and_then(|m| rfc3339(m.expires)),
        certificate: row.certificate.as_ref().map(|c| JsonCertificate {
            subject: &c.subject,
            not_after: &c.not_after,
            days_left: c.days_left,
        }),
    }
}

pub(crate) fn json(rows: &[Row]) -> String {
    let items: Vec<JsonRow> = rows.iter().map(json_row).collect();
    let mut out = escape_deceptive(&serde_json::to_string_pretty(&items).expect("JSON of strings"));
    out.push('\n');
    out
}

/// JSON with every control, direction and zero-width character written as a
/// `\uXXXX` escape (serde_json escapes only those below U+0020): the text
/// reads back the same, and nothing in it can deceive whoever displays it.
/// Outside strings, JSON is ASCII punctuation and white space, so every such
/// character stands in a string; the pretty-printer's own newlines stay.
fn escape_deceptive(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c != '\n' && crate::error::is_deceptive(c) {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The table's cells for one row. A key-value shows its store, key and label
/// where a secret shows its vault, name and version.
fn cells(row: &Row) -> [String; 11] {
    let dash = || "-".to_string();
    let (source, name, asked) = match &row.reference {
        Some(Reference::Secret(s)) => (
            s.vault.to_string(),
            s.name.clone(),
            s.version.clone().unwrap_or_else(|| "latest".into()),
        ),
        Some(Reference::Config(c)) => (
            c.store.to_string(),
            c.key.clone(),
            c.label
                .as_ref()
                .map_or("(no label)".into(), |l| format!("label {l}")),
        ),
        Some(Reference::Token(t)) => (t.resource.clone(), "(access token)".into(), dash()),
        None => (dash(), dash(), dash()),
    };
    let meta = row.meta.as_ref();
    let mut detail = match &row.hint {
        Some(hint) => format!("{}; {hint}", row.detail),
        None => row.detail.clone(),
    };
    if let Some(c) = &row.certificate {
        let note = format!(
            "certificate {}, notAfter {}, {} days left",
            c.subject, c.not_after, c.days_left
        );
        detail = if detail.is_empty() {
            note
        } else {
            format!("{note}; {detail}")
        };
    }
    if let Some(via) = &row.via {
        let note = format!(
            "Key Vault reference to secret '{}' in vault {}",
            via.name, via.vault
        );
        detail = if detail.is_empty() {
            note
        } else {
            format!("{note}; {detail}")
        };
    }
    [
        row.location.clone(),
        source,
        name,
        asked,
        row.resolved_version.clone().unwrap_or_else(dash),
        meta.and_then(|m| m.content_type.clone())
            .unwrap_or_else(dash),
        meta.and_then(|m| m.enabled)
            .map_or_else(dash, |e| e.to_string()),
        meta.and_then(|m| rfc3339(m.not_before))
            .unwrap_or_else(dash),
        meta.and_then(|m| rfc3339(m.expires)).unwrap_or_else(dash),
        match row.optional {
            true => format!("{} (optional)", row.status),
            false => row.status.to_string(),
        },
        detail,
    ]
}

pub(crate) fn table(rows: &[Row]) -> String {
    let header = [
        "LOCATION",
        "VAULT",
        "SECRET",
        "VERSION",
        "RESOLVED",
        "CONTENT-TYPE",
        "ENABLED",
        "NOT-BEFORE",
        "EXPIRES",
        "STATUS",
        "DETAIL",
    ];
    // Every cell may hold text from a server or the environment: one line,
    // no control or direction characters, bounded length.
    let cells: Vec<[String; 11]> = rows
        .iter()
        .map(|row| cells(row).map(|cell| printable(&cell)))
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 11]| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            text.push_str(cell);
            if i + 1 < cells.len() {
                // Padded by hand: `format!` widths above 65535 panic.
                let pad = widths[i] - cell.chars().count() + 2;
                text.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &cells {
        line(row.each_ref().map(String::as_str));
    }
    out
}
