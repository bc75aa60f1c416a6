//! Bounds on a manifest, checked in one linear pass before the YAML parser
//! sees it. The parser's cost grows with flow nesting times length (40,000
//! nested `[` took seconds) and its memory with the number of nodes (a 16 MB
//! list of one-letter items took gigabytes), so both are refused here first.
//!
//! The pass knows just enough YAML to skip what cannot open a collection:
//! quoted scalars, comments and block scalars (`|`, `>`). Where it is unsure it
//! counts: a `[` inside a plain scalar counts as nesting, so the nesting it
//! sees is never less than the parser's.

/// Deeper flow nesting than this is refused (the YAML reader's own limit on
/// any nesting is 128; manifests stay far below both).
pub(crate) const DEPTH_MAX: usize = 64;
/// More nodes than this (estimated from above) are refused: several times the
/// largest real-world bundles (an operator's CRDs, Argo CD's install).
pub(crate) const NODES_MAX: usize = 1_000_000;

/// What is over the bounds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OverBounds {
    /// Flow collections nested deeper than [`DEPTH_MAX`], at this line.
    Depth { line: usize },
    /// More than [`NODES_MAX`] nodes.
    Nodes,
}

impl std::fmt::Display for OverBounds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OverBounds::Depth { line } => write!(
                f,
                "collections nested deeper than {DEPTH_MAX} levels at line {line}; no manifest needs that"
            ),
            OverBounds::Nodes => write!(
                f,
                "more than {NODES_MAX} values; split the manifest"
            ),
        }
    }
}

/// Checks `text` against the bounds in time linear in its length.
///
/// The nesting it counts is never less than the parser's. Inside flow
/// collections it knows where a scalar starts (after `[`, `{`, `,`, `:`,
/// `?`), so it skips quoted scalars exactly, across lines too. In block
/// context a quote at the start of a line may be the middle of a plain
/// scalar, so a quoted scalar is skipped only to the end of its line; on the
/// lines it may continue over, brackets open but never close until its
/// quote character comes.
pub(crate) fn check(text: &str) -> Result<(), OverBounds> {
    let bytes = text.as_bytes();
    let mut scan = Scan::default();
    let mut i = 0;
    while i < bytes.len() {
        let end = bytes[i..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(bytes.len(), |p| i + p);
        scan.line(&bytes[i..end])?;
        i = end + 1;
    }
    Ok(())
}

/// What the pass carries from line to line.
#[derive(Default)]
struct Scan {
    depth: usize,
    nodes: usize,
    line: usize,
    /// In a block scalar: lines indented more than this belong to it.
    block: Option<usize>,
    /// In a quoted scalar that began inside a flow collection: its quote.
    quoted: Option<u8>,
    /// A block-context quoted scalar did not end on its line: until this
    /// quote character comes, brackets do not close.
    lingering: Option<u8>,
    /// Inside a flow collection, whether the next character starts a scalar.
    at_scalar_start: bool,
}

impl Scan {
    fn line(&mut self, line: &[u8]) -> Result<(), OverBounds> {
        self.line += 1;
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        let blank = indent == line.len() || line[indent] == b'\r';
        if let Some(parent) = self.block {
            if blank || indent > parent {
                return Ok(());
            }
            self.block = None;
        }
        if !blank {
            self.nodes += 1;
        }
        if self.depth == 0 {
            self.at_scalar_start = true;
        }
        let mut j = indent;
        if let Some(q) = self.quoted {
            match closing(line, 0, q) {
                Some(after) => {
                    self.quoted = None;
                    self.at_scalar_start = false;
                    j = after;
                }
                None => return Ok(()),
            }
        }
        while j < line.len() {
            let b = line[j];
            match b {
                b'#' if j == 0 || matches!(line[j - 1], b' ' | b'\t') => break,
                _ if self.lingering == Some(b) => self.lingering = None,
                b'"' | b'\'' if self.at_scalar_start => match closing(line, j + 1, b) {
                    Some(after) => {
                        j = after;
                        self.at_scalar_start = false;
                        continue;
                    }
                    None if self.depth > 0 => {
                        self.quoted = Some(b);
                        return Ok(());
                    }
                    None => {
                        self.lingering = Some(b);
                        return Ok(());
                    }
                },
                b'|' | b'>' if self.at_scalar_start && self.depth == 0 => {
                    // A block scalar's header: its content is the lines
                    // indented more than this one.
                    self.block = Some(indent);
                    self.at_scalar_start = false;
                }
                b'[' | b'{' => {
                    self.depth += 1;
                    self.nodes += 1;
                    if self.depth > DEPTH_MAX {
                        return Err(OverBounds::Depth { line: self.line });
                    }
                    self.at_scalar_start = true;
                }
                b']' | b'}' => {
                    if self.lingering.is_none() {
                        self.depth = self.depth.saturating_sub(1);
                    }
                    self.at_scalar_start = false;
                }
                b',' => {
                    self.nodes += 1;
                    self.at_scalar_start = true;
                }
                b'-' | b':' | b'?'
                    if matches!(line.get(j + 1), None | Some(b' ' | b'\r' | b'\t')) =>
                {
                    self.nodes += 1;
                    self.at_scalar_start = true;
                }
                b' ' | b'\t' | b'\r' => {}
                // Tags and anchors come before a scalar: it still starts after them.
                b'!' | b'&' if self.at_scalar_start => {
                    while j + 1 < line.len()
                        && !matches!(line[j + 1], b' ' | b'\t' | b',' | b'[' | b'{' | b']' | b'}')
                    {
                        j += 1;
                    }
                }
                _ => self.at_scalar_start = false,
            }
            j += 1;
        }
        match self.nodes > NODES_MAX {
            true => Err(OverBounds::Nodes),
            false => Ok(()),
        }
    }
}

/// Where a quoted scalar that runs from `from` ends (just past its closing
/// quote `q`) on this line, if it does.
fn closing(line: &[u8], from: usize, q: u8) -> Option<usize> {
    let mut j = from;
    while j < line.len() {
        match line[j] {
            b'\\' if q == b'"' => j += 1,
            b'\'' if q == b'\'' && line.get(j + 1) == Some(&b'\'') => j += 1,
            c if c == q => return Some(j + 1),
            _ => {}
        }
        j += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(depth: usize) -> String {
        format!("a: {}{}\n", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn flow_nesting_past_the_limit_is_refused_at_its_line() {
        assert!(check(&nested(DEPTH_MAX)).is_ok());
        assert_eq!(
            check(&nested(DEPTH_MAX + 1)),
            Err(OverBounds::Depth { line: 1 })
        );
        let late = format!("a: 1\nb: 2\n{}", nested(100_000));
        assert_eq!(check(&late), Err(OverBounds::Depth { line: 3 }));
        // Spread over lines and mixed with mappings, too.
        let spread = "x: ".to_string() + &"{a: [\n".repeat(DEPTH_MAX);
        assert!(matches!(check(&spread), Err(OverBounds::Depth { .. })));
    }

    #[test]
    fn brackets_in_quotes_comments_and_block_scalars_are_not_nesting() {
        let deep = "[".repeat(1000);
        for text in [
            format!("a: \"{deep}\"\n"),
            format!("a: '{deep}'\n"),
            format!("a: 'it''s {deep}'\n"),
            format!("a: \"esc \\\" {deep}\"\n"),
            format!("a: 1 # {deep}\n"),
            format!("# {deep}\n"),
            format!("script: |\n  {deep}\n\n  {deep}\nnext: 1\n"),
            format!("- >-\n    {deep}\n- x\n"),
            format!("a: [\"multi\n  line {deep}\n  end\", x]\nb: 1\n"),
            format!("a: {{k: 'it''s\n {deep}'}}\n"),
        ] {
            assert!(check(&text).is_ok(), "{text}");
        }
    }

    #[test]
    fn quotes_the_parser_does_not_see_do_not_hide_nesting() {
        // A quote inside a plain scalar starts nothing: the brackets after it count.
        let text = format!("a: it's {}\n", "[".repeat(DEPTH_MAX + 1));
        assert!(check(&text).is_err());
        let text = format!("a: x\"y {}\n", "{".repeat(DEPTH_MAX + 1));
        assert!(check(&text).is_err());
        // Closers inside what may be a quoted scalar close nothing.
        let text = format!(
            "a: {}\nb: \"x\n{}\n  \" {}\n",
            "[".repeat(40),
            "]".repeat(40),
            "[".repeat(30)
        );
        assert!(check(&text).is_err());
        // In a flow collection a quote inside a plain scalar starts nothing.
        let text = format!("a: [[x\n\"y {} y\"\n", "[".repeat(DEPTH_MAX));
        assert!(check(&text).is_err());
        // A block scalar ends where its indentation does.
        let text = format!("a: |\n  x\nb: {}\n", "[".repeat(DEPTH_MAX + 1));
        assert!(check(&text).is_err());
    }

    #[test]
    fn node_counts_past_the_limit_are_refused() {
        let dense = format!("a: [{}]\n", vec!["a"; NODES_MAX].join(","));
        assert_eq!(check(&dense), Err(OverBounds::Nodes));
        let block = "- a\n".repeat(NODES_MAX / 2 + 1);
        assert_eq!(check(&block), Err(OverBounds::Nodes));
        assert!(check(&"- a\n".repeat(1000)).is_ok());
    }
}
