//! `kvenv check`'s output: one row per reference as an aligned table or as
//! JSON with stable field names. Never a value.

use crate::error::printable;
use crate::plan::Row;

/// One object of `--output json`: field names and meanings are a contract
/// for scripts (fields are only ever added).
#[derive(serde::Serialize)]
struct JsonRow<'a> {
    location: &'a str,
    vault: Option<String>,
    secret: Option<&'a str>,
    /// `null`: the latest version.
    requested_version: Option<&'a str>,
    /// `null` unless resolved.
    resolved_version: Option<&'a str>,
    status: String,
    /// What happened (empty when resolved without remark).
    detail: &'a str,
    /// What to do about it, when there is something to do.
    hint: Option<&'a str>,
}

pub fn json(rows: &[Row]) -> String {
    let items: Vec<JsonRow> = rows
        .iter()
        .map(|row| {
            let r = row.reference.as_ref();
            JsonRow {
                location: &row.location,
                vault: r.map(|r| r.vault.to_string()),
                secret: r.map(|r| r.name.as_str()),
                requested_version: r.and_then(|r| r.version.as_deref()),
                resolved_version: row.resolved_version.as_deref(),
                status: row.status.to_string(),
                detail: &row.detail,
                hint: row.hint.as_deref(),
            }
        })
        .collect();
    let mut out = serde_json::to_string_pretty(&items).expect("JSON of strings");
    out.push('\n');
    out
}

pub fn table(rows: &[Row]) -> String {
    let header = [
        "LOCATION", "VAULT", "SECRET", "VERSION", "RESOLVED", "STATUS", "DETAIL",
    ];
    let cells: Vec<[String; 7]> = rows
        .iter()
        .map(|row| {
            let r = row.reference.as_ref();
            let dash = || "-".to_string();
            [
                row.location.clone(),
                r.map(|r| r.vault.to_string()).unwrap_or_else(dash),
                r.map(|r| r.name.clone()).unwrap_or_else(dash),
                r.map(|r| r.version.clone().unwrap_or_else(|| "latest".into()))
                    .unwrap_or_else(dash),
                row.resolved_version.clone().unwrap_or_else(dash),
                row.status.to_string(),
                match &row.hint {
                    Some(hint) => format!("{}; {hint}", row.detail),
                    None => row.detail.clone(),
                },
            ]
        })
        .collect();
    // Every cell may hold text from a server or the environment: one line,
    // no control or direction characters, bounded length.
    let cells: Vec<[String; 7]> = cells
        .into_iter()
        .map(|row| row.map(|cell| printable(&cell)))
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: [&str; 7]| {
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
