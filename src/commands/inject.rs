//! `kvenv inject`: Kubernetes manifests in (YAML, several documents, or
//! JSON), the same manifests out on stdout with kvenv added where references
//! are (see `inject/`). A document kvenv does not change comes out byte for
//! byte; one it changes is written so that kubectl reads in it exactly what
//! it read before, plus kvenv's additions. Nothing is printed unless every
//! document went through; an error is one line, exit 125.

use crate::cli::InjectArgs;
use crate::error::{At, Error};
use crate::inject::{bounds, container_names, emit, inject, kubectl, InjectError, Injection};
use std::io::Read;
use std::path::Path;

/// Manifests are configuration, not data: past this they are refused (the
/// largest real bundles, an operator's CRDs or Argo CD's install, are 1 to 2 MiB).
const MANIFEST_MAX: u64 = 4 << 20;

pub(crate) fn run(args: InjectArgs) -> Result<(), Error> {
    let from = args.filename.as_path();
    let raw = read(&args.filename)?;
    let bad = |why: String| Error::usage(At::file("inject", from), why);
    // kubectl reads a file that starts with a byte order mark.
    let text = raw.strip_prefix('\u{feff}').unwrap_or(&raw);
    // Before the parser: its time grows with nesting and its memory with nodes.
    bounds::check(text).map_err(|e| bad(e.to_string()))?;
    let mut docs = kubectl::documents(text, bounds::NODES_MAX).map_err(|e| {
        // The position only: a manifest's text is never echoed.
        let helm = match text.contains("{{") {
            true => "; it looks like an unrendered template ({{ ... }}): render it first (helm template)",
            false => "",
        };
        bad(format!("{e}{helm}"))
    })?;
    let how = Injection {
        image: args.image,
        delivery: args.delivery,
        containers: args.container,
    };
    let mut changed = Vec::with_capacity(docs.len());
    for doc in &mut docs {
        changed.push(inject(doc, &how).map_err(|e| bad(e.to_string()))?);
    }
    for wanted in &how.containers {
        if !docs.iter_mut().any(|d| container_names(d).contains(wanted)) {
            return Err(bad(InjectError::NoSuchContainer(wanted.clone()).to_string()));
        }
    }
    let out = if !changed.contains(&true) {
        raw.clone()
    } else if text.trim_start().starts_with(['{', '[']) {
        let mut out = String::new();
        for doc in &docs {
            let json = serde_json::to_string_pretty(doc).map_err(|e| {
                Error::internal(format!("inject {}: writing JSON", from.display()), e)
            })?;
            out.push_str(&json);
            out.push('\n');
        }
        out
    } else {
        yaml_out(text, &docs, &changed)
    };
    super::print(|stdout| stdout.write_all(out.as_bytes()))
}

/// The YAML stream with each changed document written anew and every other
/// one copied as it was, comments and all.
fn yaml_out(text: &str, docs: &[serde_json::Value], changed: &[bool]) -> String {
    let chunks = documents_text(text);
    let mut out = String::with_capacity(text.len() + 1024);
    if chunks.len() != docs.len() {
        // Markers the split does not know (`...`): every document written anew.
        for (i, doc) in docs.iter().enumerate() {
            if i > 0 {
                out.push_str("---\n");
            }
            out.push_str(&emit::yaml(doc));
        }
        return out;
    }
    for ((chunk, doc), changed) in chunks.iter().zip(docs).zip(changed) {
        if !changed {
            out.push_str(chunk);
            continue;
        }
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        // Its leading comments (a licence header, say) and marker stay.
        let lead = leading_comments(chunk);
        if !lead.starts_with("---") && !out.is_empty() {
            out.push_str("---\n");
        }
        out.push_str(lead);
        if !lead.is_empty() && !lead.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&emit::yaml(doc));
    }
    out
}

/// A document's leading lines that hold no content: blank lines, comments,
/// directives, and its `---` marker when nothing but a comment follows it.
fn leading_comments(chunk: &str) -> &str {
    let mut end = 0;
    for line in chunk.split_inclusive('\n') {
        let t = line.trim();
        let marker = t == "---"
            || t.strip_prefix("---")
                .is_some_and(|r| r.trim_start().starts_with('#'));
        if !(t.is_empty() || t.starts_with('#') || t.starts_with('%') || marker) {
            break;
        }
        end += line.len();
    }
    &chunk[..end]
}

/// The text of each document: a split before every `---` line (a document
/// marker wherever it stands in valid YAML); what comes before the first
/// one that holds only comments or directives belongs to it.
fn documents_text(text: &str) -> Vec<&str> {
    let mut starts = vec![0];
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let marker = line
            .strip_prefix("---")
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']));
        if marker && at > 0 {
            starts.push(at);
        }
        at += line.len();
    }
    let prelude = &text[..starts.get(1).copied().unwrap_or(text.len())];
    let only_comments = prelude.lines().all(|l| {
        let l = l.trim();
        l.is_empty() || l.starts_with('#') || l.starts_with('%')
    });
    if only_comments && starts.len() > 1 {
        starts.remove(1);
    }
    starts.push(text.len());
    starts.windows(2).map(|w| &text[w[0]..w[1]]).collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_documents_leading_comments_are_kept() {
        assert_eq!(
            leading_comments("# a\n\n--- # b\n# c\nkind: Pod\n# d\n"),
            "# a\n\n--- # b\n# c\n"
        );
        assert_eq!(leading_comments("--- !tag\nx: 1\n"), "");
        assert_eq!(leading_comments("kind: Pod\n"), "");
    }

    #[test]
    fn documents_split_at_markers_with_a_comment_prelude_kept_with_the_first() {
        assert_eq!(documents_text("a: 1\n"), ["a: 1\n"]);
        assert_eq!(
            documents_text("# licence\n---\na: 1\n---\nb: 2\n"),
            ["# licence\n---\na: 1\n", "---\nb: 2\n"]
        );
        assert_eq!(
            documents_text("a: 1\n--- # c\nb: |\n  ----\n---\n"),
            ["a: 1\n", "--- # c\nb: |\n  ----\n", "---\n"]
        );
    }
}
