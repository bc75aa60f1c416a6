//! Small helpers for building and reading generic YAML values.

use serde_norway::{Mapping, Value};

pub(super) fn names_of(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_sequence)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// `base`, or `base-2`, `base-3`, ... : the first not in `taken`.
pub(super) fn unique(base: &str, taken: &[String]) -> String {
    std::iter::once(base.to_string())
        .chain((2..).map(|n| format!("{base}-{n}")))
        .find(|name| !taken.contains(name))
        .expect("an unbounded sequence has a free name")
}

pub(super) fn key(text: &str) -> Value {
    Value::String(text.to_string())
}

pub(super) fn strings(items: &[&str]) -> Value {
    Value::Sequence(items.iter().map(|s| key(s)).collect())
}

pub(super) fn mapping(pairs: Vec<(&str, Value)>) -> Value {
    let mut map = Mapping::new();
    for (k, v) in pairs {
        map.insert(key(k), v);
    }
    Value::Mapping(map)
}

pub(super) fn push(map: &mut Mapping, list: &str, item: Value) {
    let entry = map
        .entry(key(list))
        .or_insert_with(|| Value::Sequence(Vec::new()));
    if entry.is_null() {
        *entry = Value::Sequence(Vec::new());
    }
    if let Some(items) = entry.as_sequence_mut() {
        items.push(item);
    }
}
