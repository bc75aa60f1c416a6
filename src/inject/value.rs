//! Small helpers for building and reading manifest values (JSON, as kubectl
//! reads every manifest).

use serde_json::{Map, Value};

pub(super) fn names_of(list: Option<&Value>) -> Vec<String> {
    list.and_then(Value::as_array)
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
    Value::Array(items.iter().map(|s| key(s)).collect())
}

pub(super) fn mapping(pairs: Vec<(&str, Value)>) -> Value {
    Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The list at `map[list]`, made if absent or null.
pub(super) fn list<'m>(map: &'m mut Map<String, Value>, list: &str) -> Option<&'m mut Vec<Value>> {
    let entry = map
        .entry(list.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if entry.is_null() {
        *entry = Value::Array(Vec::new());
    }
    entry.as_array_mut()
}
