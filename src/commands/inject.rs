//! `kvenv inject`: Kubernetes manifests in (YAML, several documents, or
//! JSON), the same manifests out on stdout with kvenv added where references
//! are (see `inject.rs`). Nothing is printed unless every document went
//! through; an error is one line, exit 125.

use crate::cli::InjectArgs;
use crate::error::{At, Error};
use crate::inject::{inject, Injection};
use serde::Deserialize;
use std::io::Read;
use std::path::Path;

/// Manifests are configuration, not data: past this they are refused (the
/// largest real bundles, an operator's CRDs or Argo CD's install, are 1 to 2 MiB).
const MANIFEST_MAX: u64 = 4 << 20;

pub(crate) fn run(args: InjectArgs) -> Result<(), Error> {
    let from = args.filename.as_path();
    let text = read(&args.filename)?;
    let how = Injection {
        image: args.image,
        delivery: args.delivery,
        containers: args.container,
    };
    let bad = |e: serde_norway::Error| {
        // The position only: a manifest's text is never echoed.
        let at = e
            .location()
            .map(|l| format!(" at line {} column {}", l.line(), l.column()))
            .unwrap_or_default();
        Error::usage(
            At::file("inject", from),
            format!("not a YAML or JSON manifest{at}"),
        )
    };
    // kubectl reads a file that starts with a byte order mark.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    // Before the parser: its time grows with nesting and its memory with nodes.
    crate::inject::bounds::check(text)
        .map_err(|e| Error::usage(At::file("inject", from), e.to_string()))?;
    let json = text.trim_start().starts_with(['{', '[']);
    let mut docs = Vec::new();
    for document in serde_norway::Deserializer::from_str(text) {
        let mut doc = serde_norway::Value::deserialize(document).map_err(bad)?;
        // Merge keys (`<<: *base`) mean to kubectl what they say: applied here
        // too, so that a command or a reference merged in is seen.
        doc.apply_merge().map_err(|_| {
            Error::usage(
                At::file("inject", from),
                "a merge key (<<) merges something other than mappings; kubectl refuses it too",
            )
        })?;
        if !doc.is_null() {
            docs.push(doc);
        }
    }
    for doc in &mut docs {
        inject(doc, &how).map_err(|e| Error::usage(At::file("inject", from), e.to_string()))?;
    }
    let mut out = String::new();
    if json {
        for doc in &docs {
            let text = serde_json::to_string_pretty(doc).map_err(|e| {
                Error::usage(
                    At::file("inject", from),
                    format!("cannot be written as JSON: {e}"),
                )
            })?;
            out.push_str(&text);
            out.push('\n');
        }
    } else {
        for (i, doc) in docs.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            let text = serde_norway::to_string(doc).map_err(|e| {
                Error::internal(format!("inject {}: writing YAML", from.display()), e)
            })?;
            out.push_str(&text);
        }
    }
    super::print(|stdout| stdout.write_all(out.as_bytes()))
}

/// FILE (a regular file, capped) or, for `-`, standard input (capped).
fn read(path: &Path) -> Result<String, Error> {
    let bytes = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .take(MANIFEST_MAX + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Error::usage(
                    At::file("inject", "-"),
                    format!("reading standard input: {e}"),
                )
            })?;
        if bytes.len() as u64 > MANIFEST_MAX {
            return Err(Error::usage(
                At::file("inject", "-"),
                format!("larger than {} MiB", MANIFEST_MAX >> 20),
            ));
        }
        bytes
    } else {
        crate::files::read_regular(path, MANIFEST_MAX, crate::files::Links::Follow)
            .map_err(|e| Error::usage(At::file("inject", path), e.to_string()))?
    };
    String::from_utf8(bytes).map_err(|_| Error::usage(At::file("inject", path), "not UTF-8 text"))
}
