//! A fake Azure App Configuration store (key-value GET only) over HTTPS on
//! 127.0.0.1, with the real request and response shapes: `GET /kv/{key}` with
//! `label` (`%00` or absent: no label) and `api-version`, the key-value JSON
//! with `content_type`, 401 without a token, 403 for denied keys, 404 for
//! missing ones, and 429 with `retry-after-ms`. Its log never holds a value.

use crate::http::{Handler, Reply, Request, Server};
use crate::tls::TestCa;
use crate::{random_hex, TokenBook};
use serde_json::json;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

/// The content type of a Key Vault reference held in a store.
pub const KEY_VAULT_REFERENCE: &str =
    "application/vnd.microsoft.appconfig.keyvaultref+json;charset=utf-8";

/// One request the store saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreRequest {
    /// The key, percent-decoded.
    pub key: String,
    /// `None`: the request asked for the key-value without a label.
    pub label: Option<String>,
    /// The `label` parameter exactly as sent (`\0` for the null label), if any.
    pub raw_label: Option<String>,
    pub api_version: Option<String>,
    pub authorized: bool,
    pub status: u16,
}

struct KeyValue {
    value: String,
    content_type: Option<String>,
    etag: String,
}

#[derive(Default)]
struct State {
    kvs: HashMap<(String, Option<String>), KeyValue>,
    denied: HashSet<String>,
    /// Statuses for the next requests of a key, with `retry-after-ms`.
    faults: HashMap<String, VecDeque<(u16, Option<String>)>>,
    /// 401 with a challenge for this resource to every request.
    challenge: Option<String>,
    log: Vec<StoreRequest>,
}

pub struct FakeStore {
    server: Server,
    state: Arc<Mutex<State>>,
}

/// Decodes `%XX` escapes (a path segment: `+` stays `+`).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FakeStore {
    pub fn start(ca: &TestCa, tokens: TokenBook) -> FakeStore {
        let state = Arc::new(Mutex::new(State::default()));
        let handler: Handler = {
            let state = state.clone();
            Arc::new(move |req| handle(&state, &tokens, req))
        };
        let names = [
            "localhost",
            "*.azconfig.io",
            "*.appconfig.azure.com",
            "*.azconfig.azure.us",
            "*.azconfig.azure.cn",
        ];
        let server = Server::start(Some(ca.server_config(&names)), handler);
        FakeStore { server, state }
    }

    /// `127.0.0.1:PORT`, what `--allow-host` takes.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port())
    }

    pub fn port(&self) -> u16 {
        self.server.addr.port()
    }

    /// `https://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.host())
    }

    /// `@Microsoft.AppConfiguration(Endpoint=...; Key=key[; Label=label])`
    pub fn reference(&self, key: &str, label: Option<&str>) -> String {
        let label = label.map(|l| format!("; Label={l}")).unwrap_or_default();
        format!(
            "@Microsoft.AppConfiguration(Endpoint={}; Key={key}{label})",
            self.endpoint()
        )
    }

    /// Stores a plain key-value.
    pub fn set(&self, key: &str, label: Option<&str>, value: &str) {
        self.put(key, label, value, None);
    }

    /// Stores a Key Vault reference to `secret_uri` under `key`.
    pub fn set_key_vault_reference(&self, key: &str, label: Option<&str>, secret_uri: &str) {
        let value = json!({ "uri": secret_uri }).to_string();
        self.put(key, label, &value, Some(KEY_VAULT_REFERENCE));
    }

    fn put(&self, key: &str, label: Option<&str>, value: &str, content_type: Option<&str>) {
        self.state.lock().unwrap().kvs.insert(
            (key.to_string(), label.map(str::to_string)),
            KeyValue {
                value: value.to_string(),
                content_type: content_type.map(str::to_string),
                etag: random_hex(32),
            },
        );
    }

    /// Answers 403 for `key` (the identity lacks the data reader role).
    pub fn deny(&self, key: &str) {
        self.state.lock().unwrap().denied.insert(key.to_string());
    }

    /// Answers `status` (with `retry-after-ms` if given) to the next `times` requests for `key`.
    pub fn fail_next(&self, key: &str, status: u16, times: usize, retry_after_ms: Option<&str>) {
        let mut state = self.state.lock().unwrap();
        let queue = state.faults.entry(key.to_string()).or_default();
        for _ in 0..times {
            queue.push_back((status, retry_after_ms.map(str::to_string)));
        }
    }

    /// Answers every request with 401 and a challenge for `resource`.
    pub fn challenge_for(&self, resource: &str) {
        self.state.lock().unwrap().challenge = Some(resource.to_string());
    }

    pub fn requests(&self) -> Vec<StoreRequest> {
        self.state.lock().unwrap().log.clone()
    }

    /// Every value stored (for leak sweeps).
    pub fn values(&self) -> Vec<String> {
        self.state
            .lock()
            .unwrap()
            .kvs
            .values()
            .map(|kv| kv.value.clone())
            .collect()
    }
}

fn problem(status: u16, kind: &str, title: &str) -> Reply {
    let mut reply = Reply::json(
        status,
        json!({"type": format!("https://azconfig.io/errors/{kind}"), "title": title, "status": status}),
    );
    reply.headers[0].1 = "application/problem+json; charset=utf-8".into();
    reply
}

fn handle(state: &Mutex<State>, tokens: &TokenBook, req: Request) -> Reply {
    let authorized = req
        .header("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .is_some_and(|t| tokens.contains(t));
    let key = req.path.strip_prefix("/kv/").map(percent_decode);
    let raw_label = req.query("label").map(str::to_string);
    let label = raw_label.clone().filter(|l| l != "\0");
    let mut state = state.lock().unwrap();
    let reply = answer(&mut state, authorized, &req, key.as_deref(), &label);
    state.log.push(StoreRequest {
        key: key.unwrap_or_default(),
        label,
        raw_label,
        api_version: req.query("api-version").map(str::to_string),
        authorized,
        status: reply.status,
    });
    reply
}

fn answer(
    state: &mut State,
    authorized: bool,
    req: &Request,
    key: Option<&str>,
    label: &Option<String>,
) -> Reply {
    if let Some(resource) = &state.challenge {
        return problem(401, "unauthorized", "Unauthorized").header(
            "www-authenticate",
            &format!("Bearer authorization=\"https://login.microsoftonline.com/common\", resource=\"{resource}\""),
        );
    }
    if !authorized {
        return problem(401, "unauthorized", "Unauthorized").header(
            "www-authenticate",
            "HMAC-SHA256, Bearer error=\"invalid_token\"",
        );
    }
    let (Some(key), Some(_)) = (key, req.query("api-version")) else {
        return problem(
            400,
            "invalid-argument",
            "only GET /kv/{key}?api-version= is faked",
        );
    };
    if req.method != "GET" {
        return problem(405, "method-not-allowed", "Method not allowed");
    }
    if let Some((status, after)) = state.faults.get_mut(key).and_then(VecDeque::pop_front) {
        let reply = problem(status, "injected", "injected fault");
        return match after {
            Some(ms) => reply.header("retry-after-ms", &ms),
            None => reply,
        };
    }
    if state.denied.contains(key) {
        return problem(403, "forbidden", "Forbidden");
    }
    let Some(kv) = state.kvs.get(&(key.to_string(), label.clone())) else {
        return problem(404, "not-found", "Not Found");
    };
    let mut reply = Reply::json(
        200,
        json!({
            "etag": kv.etag,
            "key": key,
            "label": label,
            "content_type": kv.content_type,
            "value": kv.value,
            "last_modified": "2026-11-01T00:00:00+00:00",
            "locked": false,
            "tags": {}
        }),
    );
    reply.headers[0].1 = "application/vnd.microsoft.appconfig.kv+json; charset=utf-8".into();
    reply.header("etag", &format!("\"{}\"", kv.etag))
}
