//! Manifests read as `kubectl apply` reads them: sigs.k8s.io/yaml over
//! go-yaml v2, that is YAML 1.1 scalars turned into JSON. A plain `no`, `on`
//! or `y` is a boolean there, `0755` the octal 493, `~` null; a quoted one is
//! a string; a timestamp stays a string; merge keys (`<<`) are applied; map
//! keys become strings (`on:` is `"true"`). The parser (saphyr) reports each
//! scalar's style, which a YAML 1.2 reader's values would lose.

use super::scalar::scalar;
use saphyr_parser::{Event, Parser, ScalarStyle, Span};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Why a manifest cannot be read, and where (1-based line and column).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unreadable {
    pub line: usize,
    pub column: usize,
    pub what: &'static str,
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.what, self.line, self.column
        )
    }
}

fn at(span: &Span, what: &'static str) -> Unreadable {
    Unreadable {
        line: span.start.line(),
        column: span.start.col() + 1,
        what,
    }
}

/// A collection being read.
enum Open {
    Seq {
        items: Vec<Value>,
        anchor: usize,
    },
    Map {
        entries: Map<String, Value>,
        /// `<<` values, applied at the end (explicit keys win).
        merges: Vec<Value>,
        key: Option<Key>,
        anchor: usize,
        span: Span,
    },
}

/// A mapping key read, waiting for its value.
enum Key {
    Plain(String),
    Merge,
}

/// Every document of `text` as kubectl means it; `max_nodes` bounds the
/// values made, aliases expanded (an alias bomb is refused, not expanded).
pub(crate) fn documents(text: &str, max_nodes: usize) -> Result<Vec<Value>, Unreadable> {
    let mut docs = Vec::new();
    let mut stack: Vec<Open> = Vec::new();
    let mut anchors: HashMap<usize, Value> = HashMap::new();
    let mut nodes = 0usize;
    let mut done: Option<Value> = None;
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| Unreadable {
            line: e.marker().line(),
            column: e.marker().col() + 1,
            what: "not a YAML or JSON manifest",
        })?;
        let value = match event {
            Event::DocumentStart(_) => {
                anchors.clear();
                done = None;
                continue;
            }
            Event::DocumentEnd => {
                docs.push(done.take().unwrap_or(Value::Null));
                continue;
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Open::Seq {
                    items: Vec::new(),
                    anchor,
                });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Open::Map {
                    entries: Map::new(),
                    merges: Vec::new(),
                    key: None,
                    anchor,
                    span,
                });
                continue;
            }
            Event::SequenceEnd => match stack.pop() {
                Some(Open::Seq { items, anchor }) => {
                    remember(&mut anchors, anchor, Value::Array(items))
                }
                _ => return Err(at(&span, "not a YAML or JSON manifest")),
            },
            Event::MappingEnd => match stack.pop() {
                Some(Open::Map {
                    mut entries,
                    merges,
                    anchor,
                    span,
                    ..
                }) => {
                    merge(&mut entries, merges).map_err(|what| at(&span, what))?;
                    remember(&mut anchors, anchor, Value::Object(entries))
                }
                _ => return Err(at(&span, "not a YAML or JSON manifest")),
            },
            Event::Alias(id) => {
                let value = anchors
                    .get(&id)
                    .cloned()
                    .ok_or_else(|| at(&span, "an alias names no anchor"))?;
                nodes = nodes.saturating_add(count(&value));
                value
            }
            Event::Scalar(text, style, anchor, tag) => {
                let tag = tag.map(|t| format!("{}{}", t.handle, t.suffix));
                // A key `<<` (plain, untagged) merges; anything else is a value.
                if let Some(Open::Map {
                    key: key @ None, ..
                }) = stack.last_mut()
                {
                    if style == ScalarStyle::Plain && tag.is_none() && text == "<<" {
                        *key = Some(Key::Merge);
                        continue;
                    }
                }
                remember(&mut anchors, anchor, scalar(&text, style, tag.as_deref()))
            }
            Event::StreamStart | Event::StreamEnd | Event::Nothing => continue,
        };
        nodes += 1;
        if nodes > max_nodes {
            return Err(at(
                &span,
                "more values than a manifest has (aliases expanded)",
            ));
        }
        match stack.last_mut() {
            None => done = Some(value),
            Some(Open::Seq { items, .. }) => items.push(value),
            Some(Open::Map {
                entries,
                merges,
                key,
                ..
            }) => match key.take() {
                None => *key = Some(Key::Plain(key_text(value).map_err(|what| at(&span, what))?)),
                Some(Key::Merge) => merges.push(value),
                Some(Key::Plain(k)) => {
                    if entries.contains_key(&k) {
                        return Err(at(&span, "a mapping has a key twice"));
                    }
                    entries.insert(k, value);
                }
            },
        }
    }
    Ok(docs)
}

fn remember(anchors: &mut HashMap<usize, Value>, anchor: usize, value: Value) -> Value {
    if anchor != 0 {
        anchors.insert(anchor, value.clone());
    }
    value
}

/// Values in `value`, itself included.
fn count(value: &Value) -> usize {
    1 + match value {
        Value::Array(items) => items.iter().map(count).sum(),
        Value::Object(map) => map.values().map(count).sum(),
        _ => 0,
    }
}

/// Applies `<<` as go-yaml does: a mapping, or a list of mappings of which
/// the earlier wins; keys the mapping has itself win over all.
fn merge(entries: &mut Map<String, Value>, merges: Vec<Value>) -> Result<(), &'static str> {
    for merged in merges {
        let sources = match merged {
            Value::Object(map) => vec![map],
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::Object(map) => Ok(map),
                    _ => Err("a merge key (<<) merges something other than mappings"),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err("a merge key (<<) merges something other than mappings"),
        };
        for source in sources {
            for (k, v) in source {
                entries.entry(k).or_insert(v);
            }
        }
    }
    Ok(())
}

/// A key as sigs.k8s.io/yaml makes it a JSON key.
fn key_text(key: Value) -> Result<String, &'static str> {
    match key {
        Value::String(s) => Ok(s),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Number(n) => Ok(n.to_string()),
        _ => Err("a mapping key is not a string, number or boolean"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        documents(text, 1000).unwrap().remove(0)
    }

    #[test]
    fn yaml_1_1_scalars_mean_what_they_mean_to_kubectl() {
        let doc = one(concat!(
            "a: no\nb: \"no\"\nc: on\nd: 'on'\ne: y\nf: 0755\ng: \"0755\"\nh: 0x1F\n",
            "i: 1_000\nj: 1e3\nk: ~\nl: 2024-01-01\nm: \"2024-01-01\"\nnn: 08\no: .5\n",
            "p: -17\nq: !!str 12\nr: |\n  text\ns: 0o17\nt: +12\nu: 12abc\nv: 1.2.3\n"
        ));
        assert_eq!(
            doc,
            json!({"a": false, "b": "no", "c": true, "d": "on", "e": true, "f": 493,
                   "g": "0755", "h": 31, "i": 1000, "j": 1000.0, "k": null,
                   "l": "2024-01-01", "m": "2024-01-01", "nn": 8.0, "o": 0.5, "p": -17,
                   "q": "12", "r": "text\n", "s": 15, "t": 12, "u": "12abc", "v": "1.2.3"})
        );
    }

    #[test]
    fn keys_become_strings_as_sigs_k8s_io_yaml_makes_them() {
        assert_eq!(
            one("on: 1\n1: x\n\"no\": y\n"),
            json!({"true": 1, "1": "x", "no": true})
        );
    }

    #[test]
    fn merge_keys_are_applied_and_own_keys_win() {
        let doc =
            one("base: &b {x: 1, w: 2}\nother: &o {w: 3, z: 4}\nm:\n  <<: [*b, *o]\n  x: 9\n");
        assert_eq!(doc["m"], json!({"x": 9, "w": 2, "z": 4}));
        // `y` is a boolean key to YAML 1.1, as `on` is.
        assert_eq!(one("y: 1\n"), json!({"true": 1}));
        let doc = one("b: &b {x: 1}\nm: {<<: *b, k: v}\n");
        assert_eq!(doc["m"], json!({"x": 1, "k": "v"}));
        assert!(documents("m: {<<: 1}\n", 100).is_err());
        // A quoted `<<` is an ordinary key.
        assert_eq!(one("\"<<\": 1\n"), json!({"<<": 1}));
    }

    #[test]
    fn documents_duplicates_and_alias_bombs() {
        let docs = documents("a: 1\n---\n---\nb: [x]\n", 100).unwrap();
        assert_eq!(docs, [json!({"a": 1}), Value::Null, json!({"b": ["x"]})]);
        let err = documents("a: 1\nb: 2\na: 3\n", 100).unwrap_err();
        assert_eq!((err.line, err.what), (3, "a mapping has a key twice"));
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8u8 {
            let (name, prev) = ((b'a' + i) as char, (b'a' + i - 1) as char);
            bomb.push_str(&format!(
                "{name}: &{name} [{}]\n",
                vec![format!("*{prev}"); 10].join(", ")
            ));
        }
        assert!(documents(&bomb, 1_000_000).is_err());
    }
}
